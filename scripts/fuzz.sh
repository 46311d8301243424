#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a bounded time each, starting from the
# committed corpus in fuzz/corpus/. FUZZ_SECONDS sets the time per target.
# Needs a nightly toolchain (rustup) for the sanitizer build.
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
cd "$ROOT"
seconds="${FUZZ_SECONDS:-20}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  log "installing the nightly toolchain for cargo fuzz"
  rustup toolchain install nightly --profile minimal >&2 || die "cargo fuzz needs a nightly toolchain"
fi
command -v cargo-fuzz >/dev/null 2>&1 || ensure_cargo_bin cargo-fuzz cargo-fuzz 0.13.2 --locked

for target in request_parsing token_parsing; do
  log "fuzzing $target for ${seconds}s"
  # Findings go to a scratch copy; the committed corpus stays as it is.
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$target/." "$work/"
  cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$seconds" -max_len=4096 >&2
  rm -rf "$work"
done
log "fuzzing found nothing"
