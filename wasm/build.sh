#!/usr/bin/env bash
# Builds tollgate's WebAssembly module and prints its path:
#   $CARGO_TARGET_DIR/wasm/tollgate.wasm (target/wasm/tollgate.wasm by default).
#
# Release build for wasm32-unknown-unknown with the `wasm` profile (Cargo.toml: LTO, one codegen
# unit, no debug info). Shrunk with wasm-opt when it is installed (binaryen); without it the
# module is used as rustc wrote it. Extra arguments go to cargo (e.g. --locked).
#
# Cargo works in a target directory of its own ($target/wasm-build), so this can run while
# another cargo command holds the main one: the tests run it from inside `cargo test`.
#
# Exit status 3: the wasm32-unknown-unknown target is not installed (tests skip on it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cargo="${CARGO:-cargo}"

sysroot="$(rustc --print sysroot)"
if [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
    echo "the wasm32-unknown-unknown target is not installed: rustup target add wasm32-unknown-unknown" >&2
    exit 3
fi

cd "$root"
# The module is built on its own, so tollgate-engine is built without its `fs` feature.
"$cargo" build --quiet --profile wasm --target wasm32-unknown-unknown -p tollgate-wasm \
    --target-dir "$target/wasm-build" "$@" >&2
built="$target/wasm-build/wasm32-unknown-unknown/wasm/tollgate_wasm.wasm"

mkdir -p "$target/wasm"
out="$target/wasm/tollgate.wasm"
# wasm-opt takes minutes: skip it (and the copy) when cargo's output and the tool are unchanged.
source_copy="$target/wasm/.tollgate.source.wasm"
mode="plain"
command -v wasm-opt >/dev/null 2>&1 && mode="wasm-opt $(wasm-opt --version)"
if [ -f "$out" ] && cmp -s "$built" "$source_copy" \
    && [ "$(cat "$target/wasm/.tollgate.mode" 2>/dev/null)" = "$mode" ]; then
    echo "$out"
    exit 0
fi
tmp="$(mktemp "$target/wasm/.tollgate.wasm.XXXXXX")"
chmod 644 "$tmp"
trap 'rm -f "$tmp"' EXIT
if [ "$mode" != plain ]; then
    # The features rustc enables by default for wasm32 must stay enabled for wasm-opt to read
    # the module; -O3 optimises for speed (decisions are the hot path).
    wasm-opt -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
        "$built" -o "$tmp" >&2
else
    cp "$built" "$tmp"
fi
# Rename into place, so that a concurrent reader never sees half a module.
mv -f "$tmp" "$out"
trap - EXIT
cp "$built" "$source_copy"
echo "$mode" > "$target/wasm/.tollgate.mode"
echo "$out"
