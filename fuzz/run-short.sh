#!/usr/bin/env bash
# CI smoke run of every fuzz target: builds them (stable toolchain; RUSTC_BOOTSTRAP=1 unlocks the nightly flags
# cargo-fuzz passes) and runs each for FUZZ_SECONDS (default 15) from its committed seeds. A crash or a failed
# invariant fails the run and leaves the input in fuzz/artifacts/TARGET/. Needs cargo-fuzz
# (`cargo install cargo-fuzz --locked`).
# FUZZ_BUILD (default "--dev --sanitizer none"): the smoke run looks for panics and broken invariants, and an
# optimised AddressSanitizer build of motpd and its dependencies costs CI far more time than it saves; the
# campaign (fuzz/campaign.sh) uses the optimised AddressSanitizer build, "--sanitizer address".
# `run-short.sh build` only builds, `run-short.sh run` only runs (CI builds at idle priority while the fault
# suite runs, and runs the targets after the tests); no argument does both.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-15}"
read -r -a build <<<"${FUZZ_BUILD:---dev --sanitizer none}"
export RUSTC_BOOTSTRAP=1
targets=(radius_request radius_decode web_forms config_parse import_accounts import_seeds)
what="${1:-all}"
case "$what" in
    build | run | all) ;;
    *) echo "usage: run-short.sh [build|run]" >&2; exit 2 ;;
esac
if [[ "$what" != run ]]; then
    cargo fuzz build "${build[@]}"
fi
[[ "$what" != build ]] || exit 0
# Inputs found during the run go to a scratch directory, removed at the end: never into the committed seeds,
# and every run starts from the seeds alone.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    grown="$scratch/$target"
    mkdir -p "$grown"
    echo "== fuzz $target (${seconds}s)"
    cargo fuzz run "${build[@]}" "$target" "$grown" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1
done
