#!/usr/bin/env bash
# `npm run dev`: serves the worker at http://127.0.0.1:8787 with local KV and D1.
# Arguments after `--` go to `wrangler dev` (e.g. `npm run dev -- --var NAME:VALUE`).
# The port: `-- --port N` (or `--port=N`) if given, else $PORT, else 8787.
# Written for bash 3.2 too (macOS): no expansion of a possibly empty array
# under `set -u` except as ${a[@]+"${a[@]}"}.
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
ensure_build_tools
ensure_dev_vars
cd "$ROOT"
# DEV_PERSIST_TO keeps local KV and D1 somewhere other than .wrangler/state.
persist=()
[ -n "${DEV_PERSIST_TO:-}" ] && persist=(--persist-to "$DEV_PERSIST_TO")
# wrangler refuses a second --port ("expects a single value"), so ours goes
# only when the caller did not name one.
port=(--port "${PORT:-8787}")
for arg in ${1+"$@"}; do
  case "$arg" in
    --port | --port=*) port=() ;;
  esac
done
log "applying D1 migrations to the local database"
CI=true wrangler d1 migrations apply DB --local ${persist[@]+"${persist[@]}"} >&2
# wrangler runs scripts/build.sh itself ([build] in wrangler.toml) and rebuilds on change.
exec wrangler dev --ip 127.0.0.1 ${port[@]+"${port[@]}"} ${persist[@]+"${persist[@]}"} ${1+"$@"}
