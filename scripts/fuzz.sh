#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) with libFuzzer through cargo-fuzz for a bounded
# time each, starting from the committed seeds (fuzz/seeds/<target>/) and a working corpus
# in $WORK/corpus/<target>/ (WORK defaults to target/fuzz) that grows across runs. Prints one
# line per target with its executions, coverage and corpus size, and writes them to
# $WORK/fuzz-report.tsv; a crash leaves its input in $WORK/logs/.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60; CI runs a short pass)
#        TARGETS="record arn" scripts/fuzz.sh 600
#        JOBS=2 scripts/fuzz.sh 600             (targets run two at a time)
#
# cargo-fuzz (pinned, installed into target/tools) builds with -Z sanitizer flags; on a
# stable toolchain RUSTC_BOOTSTRAP=1 allows them (stable's std ships the ASan runtime).
# Limits: -rss_limit_mb=1024 and -malloc_limit_mb=512 make unbounded allocation a failure;
# -timeout=20 makes a hang one.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
TARGETS=${TARGETS:-"record log_reader trigger arn profiles ledger"}
JOBS=${JOBS:-1}
# Working corpus, logs, crash artifacts and the report go under WORK.
WORK=${WORK:-target/fuzz}
REPORT=$WORK/fuzz-report.tsv
CARGO_FUZZ_VERSION=0.13.2
TOOLS=$PWD/target/tools
if [[ "$("$TOOLS/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked --root "$TOOLS" --quiet
fi
export PATH="$TOOLS/bin:$PATH" RUSTC_BOOTSTRAP=1
cargo fuzz build -O --fuzz-dir fuzz 2>&1 | grep -v '^\s*Compiling' || true
test -x fuzz/target/x86_64-unknown-linux-gnu/release/record

run_target() {
  local t=$1 corpus=$WORK/corpus/$1 log=$WORK/logs/$1.log
  mkdir -p "$corpus" "$WORK/logs"
  if fuzz/target/x86_64-unknown-linux-gnu/release/"$t" "$corpus" "fuzz/seeds/$t" \
      -max_total_time="$SECS" -rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=20 \
      -max_len=1048576 -print_final_stats=1 -artifact_prefix="$WORK/logs/$t-" \
      >"$log" 2>&1; then
    local execs cov
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$')
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$SECS" "$execs" "${cov:-?}" "$(ls "$corpus" | wc -l)"
  else
    echo "FUZZ FAILURE in $t; the last lines of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

mkdir -p "$WORK"
printf 'target\tseconds\texecutions\tcoverage\tcorpus\n' > "$REPORT"
status=0
if [[ "$JOBS" -gt 1 ]]; then
  pids=()
  for t in $TARGETS; do
    run_target "$t" > "$WORK/$t.row" & pids+=($!)
    while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do sleep 1; done
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  for t in $TARGETS; do cat "$WORK/$t.row" >> "$REPORT"; rm -f "$WORK/$t.row"; done
else
  for t in $TARGETS; do run_target "$t" >> "$REPORT" || status=1; done
fi
column -t -s $'\t' "$REPORT"
exit $status
