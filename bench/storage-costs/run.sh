#!/usr/bin/env bash
# What each kind of storage work costs workerd's CPU under `wrangler dev`
# (local simulators included): a bare worker loaded with wrk, path by path,
# CPU per request read from /proc. Then the same worker with static assets,
# under three `run_worker_first` settings. Figures: docs/performance.md.
# Usage: bash bench/storage-costs/run.sh   (needs wrk and the repo's npm packages)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
wrangler="$root/node_modules/.bin/wrangler"
# A port nothing listens on now, unless PORT names one.
port="${PORT:-$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')}"
scratch="$(mktemp -d)"
leader=""
trap '[ -n "$leader" ] && kill -- "-$leader" 2>/dev/null; rm -rf "$scratch"' EXIT
cp "$here/worker.js" "$scratch/" && cp -r "$here/assets" "$scratch/"

# measure CONFIG PATH...: serves the worker with CONFIG and prints, per path,
# req/s and workerd CPU ms per request over 8 s (after a 2 s warm-up).
measure() {
  local config="$1"; shift
  cp "$config" "$scratch/wrangler.toml"
  # Its own session (no fork: a background job is not a group leader), so
  # its workerd processes are found, and stopped, through its process group.
  cd "$scratch"
  setsid "$wrangler" dev --port "$port" --ip 127.0.0.1 >"$scratch/wrangler.log" 2>&1 &
  leader=$!
  for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/none" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:$port/none" >/dev/null || { tail -20 "$scratch/wrangler.log" >&2; exit 1; }
  sleep 3
  local pids
  pids=$(ps -eo pid,pgid,comm | awk -v g="$leader" '$2 == g && $3 ~ /workerd/ { print $1 }')
  # utime + stime of each (a process that has exited no longer counts).
  ticks() { local t=0 p; for p in $pids; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
  for path in "$@"; do
    wrk -t2 -c16 -d2s "http://127.0.0.1:$port$path" >/dev/null
    local before after requests
    before=$(ticks)
    requests=$(wrk -t2 -c16 -d8s "http://127.0.0.1:$port$path" | awk '/requests in/ { print $1 }')
    after=$(ticks)
    # /proc counts clock ticks of 10 ms.
    awk -v p="$path" -v n="$requests" -v t=$((after - before)) \
      'BEGIN { printf "  %-12s %6.0f req/s  %6.3f ms workerd CPU/request\n", p, n / 8, t * 10 / n }'
  done
  kill -- "-$leader" 2>/dev/null || true
  wait "$leader" 2>/dev/null || true
  leader=""
}

echo "storage work (no static assets):"
measure "$here/wrangler.toml" /none /kv /limiter /d1/1 /d1/2 /d1/4 /d1/7 /read/1 /read/7
for first in '["/api/*"]' '["/*", "!/docs", "!/docs/*"]' 'true'; do
  echo "with static assets, run_worker_first = $first:"
  { cat "$here/wrangler.toml"; printf '\n[assets]\ndirectory = "./assets"\nrun_worker_first = %s\n' "$first"; } >"$scratch/with-assets.toml"
  measure "$scratch/with-assets.toml" /none /api/none
done
