#!/usr/bin/env bash
# Builds tollgate's WebAssembly module and prints its path:
#   $CARGO_TARGET_DIR/wasm/tollgate.wasm (target/wasm/tollgate.wasm by default).
#
# Release build for wasm32-unknown-unknown with the `wasm` profile (Cargo.toml: opt-level 3, fat
# LTO, one codegen unit, panic=abort, no debug info), then `wasm-opt -O3` (binaryen) with the
# function names and producers sections stripped. The shipped module is that one: wasm-opt takes
# a fifth off its size (7.7 MB to 6.1 MB) and keeps decisions as fast; it takes minutes.
# docs/performance.md ("WebAssembly") has the table of builds tried. Without wasm-opt the module
# is used as rustc wrote it, and the script says so. Extra arguments go to cargo (e.g. --locked).
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
# The flags are part of the mode, so that changing them rebuilds the module.
opt_flags=(-O3 --strip-debug --strip-producers)
command -v wasm-opt >/dev/null 2>&1 && mode="wasm-opt $(wasm-opt --version) ${opt_flags[*]}"
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
    # the module. -O3 optimises for speed (decisions are the hot path): -Oz saves 2% more and
    # decides slower; --strip-debug drops the names section (0.9 MB), which nothing reads.
    echo "wasm-opt ${opt_flags[*]} (takes minutes)" >&2
    wasm-opt "${opt_flags[@]}" --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
        "$built" -o "$tmp" >&2
else
    echo "wasm-opt (binaryen) is not installed: the module is as rustc wrote it, about a quarter larger than the shipped one" >&2
    cp "$built" "$tmp"
fi
# Rename into place, so that a concurrent reader never sees half a module.
mv -f "$tmp" "$out"
trap - EXIT
cp "$built" "$source_copy"
echo "$mode" > "$target/wasm/.tollgate.mode"
echo "$out"
