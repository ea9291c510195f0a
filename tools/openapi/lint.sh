#!/usr/bin/env bash
# Lints the API's OpenAPI document with Redocly CLI's recommended rules:
# prints the document without a server (go run ./tools/openapi), installs
# the pinned linter from package-lock.json (npm ci) and fails on any error;
# warnings are printed and allowed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/tools/openapi"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
(cd "$root" && go run ./tools/openapi >"$out/openapi.json")
if [ ! -x "$tools/node_modules/.bin/redocly" ]; then
	(cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	"$tools/node_modules/.bin/redocly" lint --extends recommended --format stylish "$out/openapi.json"
