#!/usr/bin/env bash
# `npm test`: the whole suite. Native unit tests of the pure core, then the
# release worker built and exercised end to end in workerd with local KV and D1.
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
cd "$ROOT"
ensure_node_modules
ensure_chromium

log "unit tests (native cargo test)"
cargo test --locked --quiet
cargo test --locked --quiet --features fault-injection --lib platform
# The test build refuses to run outside ENVIRONMENT=local (config::test_build_problem).
cargo test --locked --quiet --features fault-injection --lib config::

# build.sh picks the WASM toolchain in its own process, leaving this shell's
# cargo untouched for the native tests above. The tests run the test build,
# with fault injection, also where a test starts `npm run dev` (wrangler then
# rebuilds with this environment); a deployed bundle never has it (.ci/run checks).
export WORKER_FEATURES=fault-injection
bash scripts/build.sh

log "end-to-end tests (workerd via Miniflare and wrangler dev)"
node --test --test-concurrency=1 tests/e2e/

log "client package (client/): built, then run against the worker"
node client/scripts/build.mjs
node --test --test-concurrency=1 client/test/*.test.mjs
