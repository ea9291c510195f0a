#!/usr/bin/env bash
# Start to ready: how long the clavis binary takes from exec to the first
# 200 of /readyz on an existing data directory, and the startup_ms it logs.
# Make a data directory holding 100 000 outings with
#
#   CLAVIS_FIGURES_DATA_DIR=/tmp/fig-data CLAVIS_FIGURES_ENGINES=sqlite \
#     go test ./e2e -run '^$' -bench BenchmarkFigures -benchtime 1x -timeout 60m
#
# then: e2e/load/startup.sh /tmp/fig-data   (RUNS=5 by default)
set -euo pipefail
data=${1:?usage: startup.sh DATA_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${LOAD_PORT:-18081}
runs=${RUNS:-5}
bin=$(mktemp -d /tmp/clavis-startup.XXXXXX)
(cd "$root" && go build -o "$bin/clavis" .)
echo "data: $data ($(du -sh "$data" | cut -f1)); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
unset MONGODB_URI
for i in $(seq "$runs"); do
  t0=$(date +%s%N)
  CLAVIS_DATA_DIR=$data PORT=$port "$bin/clavis" 2>"$bin/server.$i.log" &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do
    kill -0 "$pid" 2>/dev/null || { cat "$bin/server.$i.log"; exit 1; }
    sleep 0.005
  done
  t1=$(date +%s%N)
  rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  ms=$(grep -o '"startup_ms":[0-9]*' "$bin/server.$i.log" | cut -d: -f2)
  echo "run $i: exec to first /readyz 200: $(( (t1 - t0) / 1000000 )) ms; startup_ms logged: $ms; RSS when ready: $rss KiB"
done
