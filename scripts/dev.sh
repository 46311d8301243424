#!/usr/bin/env bash
# `npm run dev`: serves the worker at http://127.0.0.1:8787 with local KV and D1.
# Arguments after `--` go to `wrangler dev` (e.g. `npm run dev -- --var NAME:VALUE`).
# The port: `-- --port N` (or `--port=N`) if given, else $PORT, else 8787; the
# local issuer (JWT_ISSUER) follows it unless set by the caller.
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
port_number="${PORT:-8787}"
# The issuer names where tokens and metadata come from (`iss`, `jwks_uri`,
# `token_endpoint`), and discovery clients check it against the URL they
# fetched; wrangler.toml's local one says 8787, so another port gets its own.
# Not when the caller chose an issuer (`--var JWT_ISSUER:…`, .dev.vars) or
# another environment's settings (`--env`).
own_issuer=false
previous=""
for arg in ${1+"$@"}; do
  [ "$previous" = "--port" ] && port_number="$arg"
  case "$arg" in
    --port) port=() ;;
    --port=*) port=(); port_number="${arg#--port=}" ;;
    JWT_ISSUER:* | --var=JWT_ISSUER:* | --env | --env=* | -e) own_issuer=true ;;
  esac
  previous="$arg"
done
DEFAULT_LOCAL_ISSUER="http://127.0.0.1:8787"
# JWT_ISSUER of the top-level [vars] table (the local settings), not an [env.*] one.
local_issuer="$(awk -F'"' '/^\[/ { in_vars = ($0 == "[vars]") } in_vars && /^JWT_ISSUER *=/ { print $2; exit }' "$ROOT/wrangler.toml")"
grep -q '^JWT_ISSUER *=' "$ROOT/.dev.vars" 2>/dev/null && own_issuer=true
issuer=()
if [ "$own_issuer" = false ] && [ "$local_issuer" = "$DEFAULT_LOCAL_ISSUER" ]; then
  issuer=(--var "JWT_ISSUER:http://127.0.0.1:$port_number")
fi
log "applying D1 migrations to the local database"
CI=true wrangler d1 migrations apply DB --local ${persist[@]+"${persist[@]}"} >&2
# wrangler runs scripts/build.sh itself ([build] in wrangler.toml) and rebuilds on change.
exec wrangler dev --ip 127.0.0.1 ${port[@]+"${port[@]}"} ${persist[@]+"${persist[@]}"} ${issuer[@]+"${issuer[@]}"} ${1+"$@"}
