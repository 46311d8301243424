# shellcheck shell=bash
# Sourced by the other scripts: installs, idempotently, what building and running
# the worker needs. Each step is a no-op when its tool is already in place.
#
# The WASM toolchain comes from one of two paths (see docs/operations.md, "Toolchain"):
#   rustup  - `rustup target add wasm32-unknown-unknown` (a normal laptop)
#   debian  - Debian's rustc-web + rust-web-src, std built from source (machines
#             where rustup cannot download the wasm32 std)
# WASM_TOOLCHAIN=rustup|debian|auto (default auto) picks one.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKER_BUILD_VERSION=0.8.7
DEBIAN_LLD=/usr/lib/llvm-22/bin/wasm-ld

log() { printf '\033[1;34m[allmine]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[allmine]\033[0m %s\n' "$*" >&2; exit 1; }

# npm packages (wrangler, workerd, esbuild, wasm-opt): installed when the lock changed.
ensure_node_modules() {
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$ROOT/package-lock.json" -nt "$stamp" ]; then
    log "installing npm packages"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  fi
  export PATH="$ROOT/node_modules/.bin:$PATH"
}

# The exact version of a crate in Cargo.lock.
lock_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Installs a cargo binary at an exact version unless that version is already there.
ensure_cargo_bin() {
  local bin="$1" crate="$2" version="$3"; shift 3
  if command -v "$bin" >/dev/null 2>&1 && "$bin" --version 2>/dev/null | grep -qF "$version"; then
    return
  fi
  log "installing $crate $version (a few minutes, once)"
  cargo install "$crate" --version "$version" "$@" >&2 || die "cargo install $crate failed"
}

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: $*"
  $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}

use_rustup_wasm() {
  command -v rustup >/dev/null 2>&1 || return 1
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown && return 0
  log "adding the wasm32-unknown-unknown target with rustup"
  # Its errors stay visible: on machines where rustup cannot download, they say why
  # the Debian path is taken instead.
  timeout 300 rustup target add wasm32-unknown-unknown >&2
}

use_debian_wasm() {
  if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust ] || [ ! -x "$DEBIAN_LLD" ]; then
    command -v apt-get >/dev/null 2>&1 || return 1
    apt_install rustc-web cargo-web rust-web-src lld-22
  fi
  # Debian's cargo and rustc must win over rustup's proxies for the wasm build.
  export PATH="/usr/bin:$PATH"
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$DEBIAN_LLD"
  # Separate artifacts: a different rustc would otherwise invalidate rustup's.
  export CARGO_TARGET_DIR="$ROOT/target/debian"
  # worker-build checks that the target's libdir exists; std is built from source.
  local libdir
  libdir="$(/usr/bin/rustc --target wasm32-unknown-unknown --print target-libdir 2>/dev/null)" || return 1
  [ -d "$libdir" ] || mkdir -p "$libdir" 2>/dev/null || sudo mkdir -p "$libdir"
}

ensure_wasm_toolchain() {
  case "${WASM_TOOLCHAIN:-auto}" in
    rustup) use_rustup_wasm || die "rustup could not add the wasm32-unknown-unknown target" ;;
    debian) use_debian_wasm || die "Debian's rustc-web toolchain is not available" ;;
    auto) use_rustup_wasm || use_debian_wasm \
      || die "no WASM toolchain: install rustup (https://rustup.rs) or Debian's rustc-web" ;;
    *) die "WASM_TOOLCHAIN must be rustup, debian or auto" ;;
  esac
}

# Everything worker-build needs, pointed at local binaries so it downloads nothing.
ensure_build_tools() {
  ensure_node_modules
  ensure_wasm_toolchain
  command -v cargo >/dev/null 2>&1 || die "cargo is required (install Rust with rustup)"
  ensure_cargo_bin wasm-bindgen wasm-bindgen-cli "$(lock_version wasm-bindgen)"
  ensure_cargo_bin worker-build worker-build "$WORKER_BUILD_VERSION" --locked
  export WASM_BINDGEN_BIN ESBUILD_BIN WASM_OPT_BIN
  WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
  ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
  WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
}

# Debian's Chromium, for the docs page test (Playwright drives it; it never
# downloads a browser of its own).
ensure_chromium() {
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] && return
  command -v apt-get >/dev/null 2>&1 || die "the docs test needs Chromium: set CHROMIUM_PATH"
  apt_install chromium
}

# Local secrets for `wrangler dev`, generated once and never committed.
ensure_dev_vars() {
  if [ -f "$ROOT/.dev.vars" ]; then
    # A .dev.vars from before ES256 lacks its key: added, so
    # `npm run dev -- --var JWT_ALGORITHM:ES256` works; nothing else is touched.
    if ! grep -q '^JWT_ES256_PRIVATE_KEY=' "$ROOT/.dev.vars"; then
      log "adding a local JWT_ES256_PRIVATE_KEY to .dev.vars (for JWT_ALGORITHM=ES256)"
      local line
      line="$(node "$ROOT/scripts/dev-secrets.mjs" JWT_ES256_PRIVATE_KEY)" \
        || die "could not generate JWT_ES256_PRIVATE_KEY (scripts/dev-secrets.mjs failed)"
      # The file may not end in a newline.
      [ -z "$(tail -c1 "$ROOT/.dev.vars")" ] || echo >> "$ROOT/.dev.vars"
      echo "$line" >> "$ROOT/.dev.vars"
    fi
    return
  fi
  log "generating local secrets into .dev.vars"
  # Written beside it and renamed only when complete: a failing generator must
  # not leave an empty .dev.vars that later runs would accept.
  local tmp="$ROOT/.dev.vars.tmp.$$"
  if node "$ROOT/scripts/dev-secrets.mjs" > "$tmp" && [ -s "$tmp" ]; then
    mv "$tmp" "$ROOT/.dev.vars"
  else
    rm -f "$tmp"
    die "could not generate .dev.vars (scripts/dev-secrets.mjs failed)"
  fi
}
