#!/usr/bin/env bash
# Builds the release worker into build/ (wrangler's [build] command runs this).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
ensure_build_tools
cd "$ROOT"
log "building the worker ($(cargo --version))"
worker-build --release >&2
