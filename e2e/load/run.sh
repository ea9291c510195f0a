#!/usr/bin/env bash
# Load run, end to end, on this machine: build, seed the demo data, start
# one server, then wrk on GET /v1/outings/{id} (as the participant, and as a
# coordinator) and GET /v1/volunteers/me/offers (as a volunteer), sampling
# the server's RSS; once per engine in ENGINES (sqlite: the default store;
# ferretdb: the same binary with MONGODB_URI pointing at a FerretDB started
# by e2e/load/ferret, the MongoDB engine as the tests run it). Then the
# same reads without HTTP as Go benchmarks (e2e/store_bench_test.go), and
# the API/store ratios, and with two engines the SQLite/FerretDB ratio;
# last, a bare Fiber server under the same wrk (the HTTP floor, which
# bounds the ratios; SKIP_FLOOR=1 leaves it out).
# Needs wrk, curl, jq, python3 and go. See docs/operations.md, "Load run".
#
#   e2e/load/run.sh                       # SQLite, 30 s, 64 connections, 2 threads
#   ENGINES="sqlite ferretdb" LOADS=outing_participant SKIP_BENCH=1 e2e/load/run.sh
#   DURATION=10s CONNECTIONS=16 e2e/load/run.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
duration=${DURATION:-30s}
conns=${CONNECTIONS:-64}
threads=${THREADS:-2}
port=${LOAD_PORT:-18080}
benchtime=${BENCHTIME:-2s}
count=${COUNT:-5}
engines=${ENGINES:-sqlite}
loads=${LOADS:-outing_participant offers_volunteer outing_coordinator}
out=${OUT:-$(mktemp -d /tmp/clavis-load.XXXXXX)}
mkdir -p "$out"
for tool in wrk curl jq python3 go; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done
if curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
  echo "run.sh: port $port is taken; set LOAD_PORT" >&2; exit 1
fi

echo "== results in $out"
echo "== machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"

echo "== build"
(cd "$root" && go build -o "$out/clavis" .)
case " $engines " in *" ferretdb "*) (cd "$root" && go build -o "$out/ferret" ./e2e/load/ferret) ;; esac

server=""
ferret=""
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$ferret" ]; then kill -TERM "$ferret" 2>/dev/null || true; wait "$ferret" 2>/dev/null || true; fi
  server="" ferret=""
}
trap cleanup EXIT

# run_engine ENGINE: seed, serve and load one engine; files are $out/ENGINE.*.
run_engine() {
local engine=$1
unset MONGODB_URI CLAVIS_EMBEDDED_DB_ADDR CLAVIS_FCM_ENDPOINT GOOGLE_APPLICATION_CREDENTIALS
export CLAVIS_DATA_DIR="$out/$engine-data"
mkdir -p "$CLAVIS_DATA_DIR"
if [ "$engine" = ferretdb ]; then
  "$out/ferret" -dir "$out/ferretdb-files" >"$out/ferret.uri" 2>"$out/ferret.log" &
  ferret=$!
  for _ in $(seq 100); do [ -s "$out/ferret.uri" ] && break; sleep 0.1; done
  export MONGODB_URI; MONGODB_URI=$(head -1 "$out/ferret.uri")
  [ -n "$MONGODB_URI" ] || { echo "run.sh: FerretDB did not start"; cat "$out/ferret.log"; exit 1; }
  echo "== FerretDB at $MONGODB_URI (pid $ferret)"
fi
echo "== $engine: seed"
"$out/clavis" seed | tee "$out/$engine.seed.txt"
outing=$(grep -o 'cafe-open [0-9a-f]*' "$out/$engine.seed.txt" | cut -d' ' -f2)
[ -n "$outing" ] || { echo "run.sh: no cafe-open outing in the seed output" >&2; exit 1; }

echo "== $engine: start server on :$port (LOG_LEVEL=${LOG_LEVEL:-info}, access log to $out/$engine.server.log)"
PORT=$port "$out/clavis" 2>"$out/$engine.server.log" &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "server not ready"; cat "$out/$engine.server.log"; exit 1; }

login() {
  curl -sf -X POST "http://127.0.0.1:$port/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$1@demo.clavis.app\",\"password\":\"clavis-demo-2026\"}" | jq -r .access_token
}

rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$server/status"; }
heap_mib() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^go_memstats_heap_inuse_bytes/{printf "%.1f", $2/1048576}'; }

echo "server RSS when ready: $(rss_kib) KiB"
# Log everyone in first: each login hashes with Argon2id (64 MiB), memory the
# Go runtime hands back to the OS only gradually, so logging in just before
# a run would put those 64 MiB into that run's RSS. Tokens last 15 minutes.
tok_pia=$(login pia)
tok_vera=$(login vera)
tok_coordinator=$(login coordinator)
echo "server RSS after 3 logins: $(rss_kib) KiB"
# A short unmeasured warm-up: connections, caches, and the first garbage
# collections (which release the logins' Argon2 memory) happen here.
TOKEN=$tok_pia wrk -t"$threads" -c"$conns" -d5s -s "$here/auth.lua" "http://127.0.0.1:$port/v1/outings/$outing" >/dev/null
echo "server RSS after a 5 s warm-up: $(rss_kib) KiB"

# load NAME TOKEN PATH: one wrk run with the server's RSS sampled every 200 ms.
load() {
  local name=$engine.$1 token=$2 path=$3 check
  case " $loads " in *" $1 "*) ;; *) return 0 ;; esac
  check=$(curl -s -o "$out/$name.sample.json" -w '%{http_code} %{size_download}' \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path")
  echo "== $name: GET $path (one request first: status and bytes $check)"
  [ "${check%% *}" = 200 ] || { cat "$out/$name.sample.json"; exit 1; }
  # Other work on this machine skews every figure: show what else ran.
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); busiest other processes:" | tee "$out/$name.machine"
  top -b -n 2 -d 0.5 -w 120 | awk '/^top -/{n++} n==2' | awk 'f && $9+0 >= 5; /PID/{f=1}' | head -5 | tee -a "$out/$name.machine"
  echo "rss_before_kib $(rss_kib)" >"$out/$name.rss"
  ( while kill -0 "$server" 2>/dev/null; do
      echo "rss_kib $(rss_kib || echo 0)"
      sleep 0.2
    done ) >>"$out/$name.rss" &
  local sampler=$!
  TOKEN=$token wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$here/auth.lua" \
    "http://127.0.0.1:$port$path" | tee "$out/$name.wrk"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/$name.machine"
  echo "rss_after_kib $(rss_kib)" >>"$out/$name.rss"
  echo "heap_inuse_mib $(heap_mib)" >>"$out/$name.rss"
  if grep -q 'Non-2xx' "$out/$name.wrk"; then echo "run.sh: $name had non-2xx answers" >&2; exit 1; fi
  awk '$1=="rss_kib" && $2>m {m=$2} END {printf "server RSS during the run: max %d KiB (%d samples)\n", m, NR-1}' "$out/$name.rss"
}

load outing_participant "$tok_pia" "/v1/outings/$outing"
load offers_volunteer "$tok_vera" "/v1/volunteers/me/offers"
load outing_coordinator "$tok_coordinator" "/v1/outings/$outing"
grep '^VmHWM' "/proc/$server/status" | tee "$out/$engine.server.hwm"
echo "requests served, from /metrics:"
curl -s "http://127.0.0.1:$port/metrics" | grep '^clavis_http_requests_total' | tee "$out/$engine.metrics.txt"

echo "== $engine: stop server"
cleanup
grep -c '"msg":"request"' "$out/$engine.server.log" | sed 's/^/access-log lines: /'
}

for engine in $engines; do run_engine "$engine"; done

# The floor: bare Fiber (e2e/load/floor) under the same wrk settings. No
# endpoint can beat it on this machine, so a read whose store work alone
# runs at R/s keeps at most floor/(floor+R) of it through HTTP.
if [ -z "${SKIP_FLOOR:-}" ]; then
  floor_port=$((port + 10))
  (cd "$root" && go build -o "$out/floor" ./e2e/load/floor)
  "$out/floor" -addr "127.0.0.1:$floor_port" 2>"$out/floor.log" &
  server=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$floor_port/healthz" && break; sleep 0.05; done
  wrk -t"$threads" -c"$conns" -d5s "http://127.0.0.1:$floor_port/healthz" >/dev/null
  echo "== floor: bare Fiber GET /healthz (no middleware, no store)"
  wrk -t"$threads" -c"$conns" -d"$duration" --latency "http://127.0.0.1:$floor_port/healthz" | tee "$out/floor.wrk"
  cleanup
fi

if [ -z "${SKIP_BENCH:-}" ]; then
  echo "== Go benchmarks, same reads without HTTP (benchtime $benchtime, count $count)"
  (cd "$root" && go test ./e2e -short -run '^$' -bench 'Store|Service' -benchtime "$benchtime" -count "$count" -v) | tee "$out/bench.txt" \
    | grep -E '^(Benchmark|    store_bench_test)' || true
else
  : >"$out/bench.txt"
fi

echo "== summary"
python3 - "$out" "$engines" <<'PY'
import re, statistics, sys, os
out = sys.argv[1]
def wrk(name):
    t = open(os.path.join(out, name + ".wrk")).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    def pct(p):
        v, u = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M).groups()
        return float(v) * {"us": 1e-3, "ms": 1, "s": 1e3}[u]
    rss = [l.split() for l in open(os.path.join(out, name + ".rss"))]
    mx = max(int(v) for k, v in rss if k == "rss_kib" and v.isdigit())
    return rps, pct(50), pct(99), mx / 1024
bench = {}
for line in open(os.path.join(out, "bench.txt")):
    m = re.match(r"^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        bench.setdefault(m.group(1), []).append(float(m.group(2)))
med = {k: statistics.median(v) for k, v in bench.items()}
ops = lambda k: 1e9 / med[k]
rows = [("outing_participant", "GET /v1/outings/{id} as participant"),
        ("offers_volunteer", "GET /v1/volunteers/me/offers as volunteer"),
        ("outing_coordinator", "GET /v1/outings/{id} as coordinator (+2 audit inserts)")]
api = {}
for engine in sys.argv[2].split():
    hwm = open(os.path.join(out, engine + ".server.hwm")).read().split()[1:]
    print(f"HTTP, wrk, {engine} (server VmHWM at the end: {' '.join(hwm)}):")
    for name, label in rows:
        if not os.path.exists(os.path.join(out, f"{engine}.{name}.wrk")):
            continue
        rps, p50, p99, rss = wrk(f"{engine}.{name}")
        api[(engine, name)] = rps
        print(f"  {label:55s} {rps:9.1f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  RSS max {rss:6.1f} MiB")
for name, label in rows:
    if ("sqlite", name) in api and ("ferretdb", name) in api:
        print(f"SQLite/FerretDB req/s, {label}: {api[('sqlite', name)] / api[('ferretdb', name)]:.1f}")
if med:
    print("Go benchmarks, median of %d (ops/s = 1e9 / ns/op):" % len(next(iter(bench.values()))))
    for k in sorted(med):
        print(f"  {k:40s} {med[k]/1e3:10.1f} µs/op  {ops(k):9.1f} ops/s")
    print("API / in-process, 64 concurrent, SQLite (the share of the store-level throughput the API keeps):")
    for name, drv in [("outing_participant", "BenchmarkStoreOutingRequest/c64"),
                      ("outing_participant", "BenchmarkServiceOuting/c64"),
                      ("offers_volunteer", "BenchmarkServiceOffers/c64")]:
        if drv in med and ("sqlite", name) in api:
            a = api[("sqlite", name)]
            print(f"  {name:20s} vs {drv:36s} in process {ops(drv):8.1f}/s  API {a:8.1f}/s  ratio = {a/ops(drv):.2f}")
    floor_wrk = os.path.join(out, "floor.wrk")
    if os.path.exists(floor_wrk):
        f = float(re.search(r"Requests/sec:\s+([\d.]+)", open(floor_wrk).read()).group(1))
        print(f"HTTP floor on this machine (bare Fiber, same wrk): {f:.1f} req/s; the best ratio any server could keep:")
        for drv in ["BenchmarkStoreOutingRequest/c64", "BenchmarkServiceOffers/c64"]:
            if drv in med:
                print(f"  vs {drv:36s} floor/(floor + {ops(drv):.1f}) = {f / (f + ops(drv)):.2f}")
PY
