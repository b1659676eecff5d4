#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and keeps whatever crashes.
#
# Usage: fuzz/run-all.sh [SECONDS_PER_TARGET]   (default 30)
#
# New inputs libFuzzer discovers go to fuzz/target/fuzz-corpus/<target>/
# (ignored by git), so the committed seeds in fuzz/corpus/ stay small.
# A failing input found in fuzz/artifacts/<target>/ is copied to
# fuzz/regressions/<target>/, to be committed; the script then exits non-zero.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]  (a positive whole number, default 30)" >&2
    exit 2
fi

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir"

# cargo-fuzz needs nightly flags (-Zsanitizer); this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"

mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "cargo fuzz list found no targets" >&2
    exit 1
fi

cargo fuzz build

failed=()
for target in "${targets[@]}"; do
    scratch="$fuzz_dir/target/fuzz-corpus/$target"
    mkdir -p "$scratch" "$fuzz_dir/corpus/$target"
    inputs=("$scratch" "$fuzz_dir/corpus/$target")
    if [ -d "$fuzz_dir/regressions/$target" ]; then
        inputs+=("$fuzz_dir/regressions/$target")
    fi

    echo "=== $target: ${seconds}s"
    if cargo fuzz run "$target" "${inputs[@]}" -- -max_total_time="$seconds" -print_final_stats=1; then
        continue
    fi

    failed+=("$target")
    shopt -s nullglob
    crashes=("$fuzz_dir/artifacts/$target"/crash-* "$fuzz_dir/artifacts/$target"/oom-* \
        "$fuzz_dir/artifacts/$target"/timeout-* "$fuzz_dir/artifacts/$target"/leak-*)
    shopt -u nullglob
    if [ "${#crashes[@]}" -gt 0 ]; then
        mkdir -p "$fuzz_dir/regressions/$target"
        cp -- "${crashes[@]}" "$fuzz_dir/regressions/$target/"
        echo "=== $target failed; copied ${#crashes[@]} input(s) to fuzz/regressions/$target/ (commit them)" >&2
    else
        echo "=== $target failed without leaving an input in fuzz/artifacts/$target/" >&2
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "failing targets: ${failed[*]}" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran ${seconds}s each without a failure"
