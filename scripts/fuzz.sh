#!/usr/bin/env bash
# Fuzz dtrain's input parsers with libFuzzer: build tests/fuzz with clang
# (-DDTRAIN_FUZZ=ON: library and harnesses under ASan + UBSan, into
# build-fuzz/ or $FUZZ_BUILD_DIR), then run each harness for SECONDS (default
# 20) starting from its seed corpus tests/fuzz/corpus/HARNESS/.  First each
# harness replays tests/fuzz/regressions/HARNESS/: inputs that once failed
# (kept out of the seed corpus because some are slow to run, e.g. an HDF5 file
# of 262145 one-row chunks).  New interesting inputs go to a scratch
# directory, never into the repository.
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
EACH=${1:-20}
shift || true
HARNESSES=("$@")
[[ ${#HARNESSES[@]} -gt 0 ]] || HARNESSES=(fuzz_config fuzz_layers fuzz_csv fuzz_idx fuzz_h5load)
B=${FUZZ_BUILD_DIR:-build-fuzz}

cmake -S . -B "$B" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDTRAIN_FUZZ=ON -DDTRAIN_TESTS=OFF >/dev/null
cmake --build "$B" -j "$(nproc)" --target "${HARNESSES[@]}" >/dev/null

# A data file may claim any shape; allocations beyond 1 GiB fail (malloc
# returns NULL, which dtrain must report) instead of counting as a crash.
# Leaks inside the outside libraries are suppressed as in scripts/sanitize.sh.
export ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=1024:detect_leaks=1
export LSAN_OPTIONS=suppressions=$SRC/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ART=$B/fuzz-artifacts
mkdir -p "$ART"

failed=()
for h in "${HARNESSES[@]}"; do
  mkdir -p "$WORK/$h"
  log=$B/$h.log
  reg=("$SRC/tests/fuzz/regressions/$h"/*)
  if [[ -e ${reg[0]} ]] && ! FUZZ_H5_MAX_ELEMENTS=1e7 "$B/tests/fuzz/$h" -timeout=60 -rss_limit_mb=2048 "${reg[@]}" >"$log" 2>&1; then
    echo "fuzz: $h: FAILED on a regression input (log $log)"
    grep -E -A 25 'ERROR: |runtime error|deadly signal|Running: ' "$log" | head -60
    failed+=("$h")
    continue
  fi
  if "$B/tests/fuzz/$h" -max_total_time="$EACH" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$ART/$h-" \
      "$WORK/$h" "$SRC/tests/fuzz/corpus/$h" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $h: ${EACH} s, ${execs:-?} inputs, no crash"
  else
    echo "fuzz: $h: FAILED (log $log, crashing input in $ART/)"
    grep -E -A 25 'ERROR: |runtime error|deadly signal|Test unit written' "$log" | head -60
    failed+=("$h")
  fi
done
if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz: ${#failed[@]} harness(es) failed: ${failed[*]}"
  exit 1
fi
