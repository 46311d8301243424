#!/usr/bin/env bash
# `npm run deploy -- --env development|production [wrangler deploy options]`:
#   1. the pre-deploy check: every required secret is set on Cloudflare and
#      wrangler.toml has real binding ids (scripts/predeploy-check.mjs);
#   2. the D1 migrations applied to the environment's remote database;
#   3. `wrangler deploy --env <env>` (which builds the worker first).
# Stops at the first step that fails, so code never runs on an older schema
# or without its secrets. Written for bash 3.2 too (see dev.sh).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
ensure_node_modules
cd "$ROOT"

env=""
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env | -e)
      [ $# -ge 2 ] || die "--env needs a value"
      env="$2"
      shift 2
      ;;
    --env=*) env="${1#--env=}"; shift ;;
    --dry-run)
      # Step 2 would already have changed the remote database.
      die "npm run deploy migrates the remote database first; for a dry run: npx wrangler deploy --dry-run --env <env>"
      ;;
    *) rest+=("$1"); shift ;;
  esac
done
case "$env" in
  development | production) ;;
  *) die "usage: npm run deploy -- --env development|production [wrangler deploy options]" ;;
esac

log "pre-deploy check ($env)"
secrets="$(mktemp)"
trap 'rm -f "$secrets"' EXIT
if ! wrangler secret list --env "$env" --format json > "$secrets"; then
  die "could not list the secrets of $env (see wrangler's message above). Logged in? (npx wrangler login)
A Worker that was never deployed has no secrets yet: \`npx wrangler secret put NAME --env $env\` creates it."
fi
node scripts/predeploy-check.mjs --env "$env" "$secrets"

log "applying D1 migrations to $env's remote database"
wrangler d1 migrations apply DB --remote --env "$env"

log "deploying $env"
wrangler deploy --env "$env" ${rest[@]+"${rest[@]}"}
