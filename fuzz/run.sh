#!/usr/bin/env bash
# Runs the cargo-fuzz targets: `fuzz/run.sh [SECONDS] [TARGET...]` (default 600 s each, all
# targets). Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). Seeds come from the examples (`cargo run --example fuzz_seeds`);
# a crashing input lands in fuzz/artifacts/<target>/: minimise it (`cargo +nightly fuzz tmin`),
# fix the bug, and keep the input in fuzz/regressions/<target>/, which tests/fuzz_smoke.rs
# replays on every test run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decide_request load_policies lint_workflow verify_approvals audit_log wasm_abi)
fi
cargo run --quiet --example fuzz_seeds -- fuzz/corpus
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t"
    echo "==> $t for ${seconds}s"
    # Deep inputs are refused by the limits long before libFuzzer's default stack would matter;
    # -rss_limit_mb leaves room for the reference pack and the module's guest.
    cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=262144 -timeout=30 -print_final_stats=1
done
