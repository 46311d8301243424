#!/usr/bin/env bash
# `npm run deploy -- --env development|production [wrangler deploy options]`:
#   0. refuses a test build: WORKER_FEATURES set, or a bundle (built with
#      `wrangler deploy --dry-run`, nothing remote) that has the fault routes;
#   1. the pre-deploy check: every required secret is set on Cloudflare and
#      wrangler.toml has real binding ids (scripts/predeploy-check.mjs);
#   2. the D1 migrations applied to the environment's remote database;
#   3. `wrangler deploy --env <env>` (which builds the worker first).
# Stops at the first step that fails, so code never runs on an older schema
# or without its secrets. Written for bash 3.2 too (see dev.sh).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"

# A test build (--features fault-injection) serves /__faults and takes its
# clock from the client (X-Test-Now-Ms); build.sh builds whatever
# WORKER_FEATURES this shell holds, so such a shell never deploys. First,
# before anything is built or anything remote happens.
if [ -n "${WORKER_FEATURES:-}" ]; then
  die "WORKER_FEATURES=$WORKER_FEATURES builds a test worker, which is never deployed; nothing was deployed. Unset it: env -u WORKER_FEATURES npm run deploy -- ..."
fi

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

secrets="$(mktemp)"
bundle="$(mktemp -d)"
trap 'rm -rf "$secrets" "$bundle"' EXIT

# The bundle as wrangler builds it (its [build] command, then the bundling),
# inspected before anything remote happens: whatever set the features, a
# bundle with the fault routes is a test build. An empty bundle proves nothing.
log "building and inspecting the bundle ($env)"
wrangler deploy --dry-run --env "$env" --outdir "$bundle" >&2 \
  || die "could not build the bundle for $env; nothing was deployed"
ls "$bundle"/*.wasm >/dev/null 2>&1 || die "the bundle for $env has no .wasm; nothing was deployed"
if grep -rlaF "__faults" "$bundle" >&2; then
  die "the bundle for $env is a test build (it has the /__faults routes); nothing was deployed"
fi

log "pre-deploy check ($env)"
if ! wrangler secret list --env "$env" --format json > "$secrets"; then
  die "could not list the secrets of $env (see wrangler's message above). Logged in? (npx wrangler login)
A Worker that was never deployed has no secrets yet: \`npx wrangler secret put NAME --env $env\` creates it."
fi
node scripts/predeploy-check.mjs --env "$env" "$secrets"

log "applying D1 migrations to $env's remote database"
wrangler d1 migrations apply DB --remote --env "$env"

log "deploying $env"
wrangler deploy --env "$env" ${rest[@]+"${rest[@]}"}
