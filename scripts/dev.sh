#!/usr/bin/env bash
# `npm run dev`: serves the worker at http://127.0.0.1:8787 with local KV and D1.
# Arguments after `--` go to `wrangler dev` (e.g. `npm run dev -- --var NAME:VALUE`).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
ensure_build_tools
ensure_dev_vars
cd "$ROOT"
# DEV_PERSIST_TO keeps local KV and D1 somewhere other than .wrangler/state.
persist=()
[ -n "${DEV_PERSIST_TO:-}" ] && persist=(--persist-to "$DEV_PERSIST_TO")
log "applying D1 migrations to the local database"
CI=true wrangler d1 migrations apply DB --local "${persist[@]}" >&2
# wrangler runs scripts/build.sh itself ([build] in wrangler.toml) and rebuilds on change.
exec wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" "${persist[@]}" "$@"
