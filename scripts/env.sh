# Sourced by every script: picks the Rust toolchain and the way the wasm is built, and sets up the
# environment for both. Prints nothing; changes nothing on disk.
#
# Two ways to get a wasm32 standard library:
#  - rustup with the wasm32-unknown-unknown target installed: the standard path.
#  - otherwise (Debian 12 machines that cannot reach static.rust-lang.org): Debian's `rustc-web`
#    toolchain (Rust 1.96 with std sources in `rust-web-src`) builds std for wasm from source
#    (`-Zbuild-std`), linked by `wasm-ld-22` from `lld-22`. The whole workspace then uses
#    Debian's cargo, so server and wasm share one compiler (and one set of host artifacts).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

if command -v rustup >/dev/null 2>&1 \
  && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  BATON_TOOLCHAIN=rustup
  WASM_CARGO_FLAGS=()
else
  BATON_TOOLCHAIN=debian
  # Debian's cargo, rustc, clippy and rustfmt before rustup's proxies.
  export PATH="/usr/bin:$PATH"
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22
  WASM_CARGO_FLAGS=(-Zbuild-std=std,panic_abort)
fi
export BATON_TOOLCHAIN
# cargo install puts tools here; make sure they are found whichever cargo is first on PATH.
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

# The wasm-bindgen CLI must be the exact version of the crate the wasm was built with.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
