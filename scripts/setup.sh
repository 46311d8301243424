#!/usr/bin/env bash
# `npm run setup -- --env NAME`: scripts/setup.mjs, with this project's
# wrangler first on PATH (as deploy.sh has it).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
ensure_node_modules
cd "$ROOT"
exec node scripts/setup.mjs "$@"
