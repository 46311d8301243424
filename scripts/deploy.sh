#!/usr/bin/env bash
# `npm run deploy -- --env NAME [wrangler deploy options]`, NAME any
# environment wrangler.toml defines ([env.NAME]):
#   1. builds the bundle that will ship, once (`wrangler deploy --dry-run
#      --outdir`: build.sh, then wrangler's bundling; nothing remote), and
#      refuses a test build (WORKER_FEATURES set, or the /__faults routes in it);
#   2. the pre-deploy check (scripts/predeploy-check.mjs): every required
#      secret set on Cloudflare, real binding ids, the queues there, JWT_ISSUER
#      on a host this worker is served on;
#   3. the D1 migrations applied to the environment's remote database;
#   4. uploads the bundle from step 1 (`wrangler deploy --no-bundle`, with a
#      copy of wrangler.toml without the [build] command: nothing is rebuilt).
# Stops at the first step that fails. Everything that can fail without
# touching Cloudflare (the build: cargo, maybe a first toolchain install) or
# by reading it only (the check) comes before the migration, so a failed
# deploy never leaves the database ahead of the code; and what ships is what
# was inspected. Written for bash 3.2 too (see dev.sh).
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
      # Step 3 would already have changed the remote database.
      die "npm run deploy migrates the remote database; for a dry run: npx wrangler deploy --dry-run --env <env>"
      ;;
    --config | -c | --config=* | --no-bundle | --outdir | --outdir=*)
      # The upload's own: wrangler.toml is the config, the bundle step 1's.
      die "npm run deploy sets $1 itself; it deploys wrangler.toml's environments"
      ;;
    *) rest+=("$1"); shift ;;
  esac
done
known="$(node scripts/predeploy-check.mjs --environments)" || die "could not read wrangler.toml's environments"
[ -n "$env" ] || die "usage: npm run deploy -- --env NAME [wrangler deploy options]; NAME one of: $(echo $known)"
printf '%s\n' "$known" | grep -qxF -- "$env" \
  || die "no environment \"$env\" in wrangler.toml; known: $(echo $known). Add an [env.$env] section to deploy it."

secrets="$(mktemp)"
bundle="$(mktemp -d)"
# Beside wrangler.toml, so its relative paths (assets, migrations) mean the same.
upload_config="$ROOT/.wrangler-upload.$$.toml"
trap 'rm -rf "$secrets" "$bundle" "$upload_config"' EXIT

# 1. The bundle as wrangler builds it (its [build] command, then the
# bundling), inspected before anything remote happens: whatever set the
# features, a bundle with the fault routes is a test build. An empty bundle
# proves nothing.
log "building the bundle that will ship ($env)"
wrangler deploy --dry-run --env "$env" --outdir "$bundle" >&2 \
  || die "could not build the bundle for $env; nothing was deployed"
ls "$bundle"/*.wasm >/dev/null 2>&1 || die "the bundle for $env has no .wasm; nothing was deployed"
if grep -rlaF "__faults" "$bundle" >&2; then
  die "the bundle for $env is a test build (it has the /__faults routes); nothing was deployed"
fi
# The entry wrangler wrote (worker/entry.mjs bundled: entry.js); its modules
# (the .wasm) sit beside it, where --no-bundle finds them.
entries=("$bundle"/*.js)
[ "${#entries[@]}" -eq 1 ] && [ -f "${entries[0]}" ] \
  || die "expected one entry script in the bundle for $env, found: $(ls "$bundle"); nothing was deployed"

# 2. Reads Cloudflare, changes nothing.
log "pre-deploy check ($env)"
if ! wrangler secret list --env "$env" --format json > "$secrets"; then
  die "could not list the secrets of $env (see wrangler's message above). Logged in? (npx wrangler login)
A Worker that was never deployed has no secrets yet: \`npx wrangler secret put NAME --env $env\` creates it."
fi
node scripts/predeploy-check.mjs --env "$env" "$secrets" || die "nothing was deployed"

# 3. The first change to Cloudflare.
log "applying D1 migrations to $env's remote database"
wrangler d1 migrations apply DB --remote --env "$env"

# 4. wrangler runs a [build] command before every deploy, --no-bundle or not:
# the upload reads a copy of wrangler.toml without it, so step 1's bundle is
# uploaded as inspected (the [assets] it names were built in step 1 too).
awk '
  /^\[/ { in_build = ($0 == "[build]") }
  !(in_build && /^command[[:space:]]*=/)
' wrangler.toml > "$upload_config"
log "uploading $env's bundle (built in step 1, not rebuilt)"
wrangler deploy --no-bundle --config "$upload_config" --env "$env" "${entries[0]}" ${rest[@]+"${rest[@]}"}
