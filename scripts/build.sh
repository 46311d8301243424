#!/usr/bin/env bash
# Builds the release worker into build/ (wrangler's [build] command runs this).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
ensure_build_tools
cd "$ROOT"
# WORKER_FEATURES=fault-injection builds the test worker (scripts/test.sh);
# anything deployed is built without it, so it has no fault routes.
features=()
[ -n "${WORKER_FEATURES:-}" ] && features=(--features "$WORKER_FEATURES")
log "building the worker ($(cargo --version))${WORKER_FEATURES:+ with features: $WORKER_FEATURES}"
worker-build --release ${features[@]+"${features[@]}"} >&2

# Size pass: -Oz, and no names section (panics are still logged with their
# message and source location by the panic hook). The features are those
# worker-build enables, so nothing newer than workerd supports is emitted.
# WASM_NAMES=1 keeps the function names, for CPU profiles and twiggy (never deployed).
strip=(--strip-debug)
[ -n "${WASM_NAMES:-}" ] && strip=(-g)
log "optimising the wasm for size${WASM_NAMES:+ (function names kept)}"
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.wasm -Oz ${strip[@]+"${strip[@]}"} --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling

# The docs page (/docs): our page and Swagger UI from npm, as static assets.
log "assembling the static assets (docs page, OpenAPI document)"
rm -rf build/assets && mkdir -p build/assets/docs/vendor
cp web/docs/* build/assets/docs/
# The assets' headers (the docs page's CSP and no framing, the OpenAPI
# document's caching): read by Workers static assets.
cp web/_headers build/assets/_headers
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
  build/assets/docs/vendor/
# The OpenAPI document, served as committed from the assets rather than from
# the Wasm (src/http/handlers/openapi.rs).
mkdir -p build/assets/api/v1
cp api/openapi.json build/assets/api/v1/openapi.json
