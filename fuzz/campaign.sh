#!/usr/bin/env bash
# The long fuzzing campaign: every target for FUZZ_SECONDS (default 1800) one after another, most important
# first, from corpus-grown/TARGET (new inputs go there) and the committed seeds in corpus/TARGET; crashes go
# to artifacts/TARGET/. Runs the binaries of an earlier `cargo fuzz build` (copied to target/campaign-bin first, so a rebuild during
# the campaign changes nothing) and writes, per target, LOG_DIR/TARGET.log and a line of LOG_DIR/summary.txt
# with libFuzzer's total executions (stat::number_of_executed_units) and the result.
#   RUSTC_BOOTSTRAP=1 cargo fuzz build --sanitizer address
#   LOG_DIR=/some/dir nohup setsid nice -n 15 bash fuzz/campaign.sh &
set -uo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-1800}"
log_dir="${LOG_DIR:-target/campaign-logs}"
targets=(radius_request radius_decode web_forms config_parse import_accounts import_seeds)
built="target/x86_64-unknown-linux-gnu/release"
bin="target/campaign-bin"
mkdir -p "$log_dir" "$bin"
for target in "${targets[@]}"; do
    cp "$built/$target" "$bin/$target"
done
summary="$log_dir/summary.txt"
echo "# target, seconds, executions, result (started $(date -u +%FT%TZ), ${seconds}s each)" >"$summary"
for target in "${targets[@]}"; do
    mkdir -p "corpus-grown/$target" "artifacts/$target"
    log="$log_dir/$target.log"
    started=$(date +%s)
    "$bin/$target" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" "corpus-grown/$target" "corpus/$target" >"$log" 2>&1
    status=$?
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    if ((status == 0)); then result="ok"; else result="FAILED (exit $status, see $target.log and artifacts/$target/)"; fi
    echo "$target $(($(date +%s) - started)) ${executions:-?} $result" >>"$summary"
done
echo "# finished $(date -u +%FT%TZ)" >>"$summary"
