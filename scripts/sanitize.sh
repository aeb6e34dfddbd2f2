#!/usr/bin/env bash
# Sanitizer run: build with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DDTRAIN_SANITIZE=ON, Debug, into build-asan/ or $SAN_BUILD_DIR), then run
# the Check unit tests and a small 2-rank session under it: train with
# checkpoints, stop, resume, save; eval, predict, inspect, convert; and two
# runs that fail on bad input (error paths must not leak either).
#
# Leaks are detected.  Open MPI, HDF5 and the libraries they load keep memory
# from MPI_Init/H5open until exit; tests/lsan.supp suppresses leaks whose
# allocation stack passes through those libraries only, never dtrain's code.
# Usage: scripts/sanitize.sh   (scripts/install-deps.sh has run)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
source scripts/env.sh
B=${SAN_BUILD_DIR:-build-asan}

cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DDTRAIN_SANITIZE=ON >/dev/null
cmake --build "$B" -j "$(nproc)" >/dev/null

# fast_unwind_on_malloc=0: full allocation stacks through the MPI libraries
# (built without frame pointers), so the suppressions can see them.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0:exitcode=86
export LSAN_OPTIONS=suppressions=$SRC/tests/lsan.supp:print_suppressions=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86

echo "sanitize: unit tests"
(cd "$B" && ctest -R '^check_' --output-on-failure --timeout 300 -j "$(nproc)")

DTRAIN=$B/dtrain
D=$SRC/datasets/iris.h5
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0

# step NAME EXPECTED_STATUS ARGS...: run under mpirun (2 ranks unless NP is
# set), require the status and no sanitizer report.
step() {
  local name=$1 want=$2; shift 2
  local status=0
  timeout -k 5 300 mpirun -np "${NP:-2}" "$DTRAIN" "$@" >"$T/$name.log" 2>&1 || status=$?
  if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/$name.log"; then
    echo "sanitize: FAIL $name: sanitizer report"
    grep -A 30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/$name.log" | head -60
    failures=$((failures + 1))
  elif [[ $status -ne $want ]]; then
    echo "sanitize: FAIL $name: exit $status, expected $want"
    tail -20 "$T/$name.log"
    failures=$((failures + 1))
  else
    echo "sanitize: ok $name (exit $status)"
  fi
}

ARGS=(--data "$D" --layers 8:relu,6:tanh --optimizer adam --lr 0.01 --batch-size 16 --epochs 6)
step train-stop 75 train "${ARGS[@]}" --checkpoint-dir "$T/ck" --checkpoint-every 5 --keep 2 --stop-at-step 20
step train-resume 0 train "${ARGS[@]}" --checkpoint-dir "$T/ck" --resume --save "$T/model.h5"
step eval 0 eval --model "$T/ck/latest.h5" --data "$D" --json
step predict-csv 0 predict --model "$T/model.h5" --data "$D" --out "$T/pred.csv"
step predict-h5 0 predict --model "$T/model.h5" --data "$D" --out "$T/pred.h5"
NP=1 step inspect 0 inspect "$T/ck/latest.h5"
printf '1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,1\n' >"$T/small.csv"
NP=1 step convert 0 convert --csv "$T/small.csv" --test-fraction 0.4 --out "$T/small.h5"
step train-linear 0 train --data "$SRC/datasets/diabetes.h5" --output linear --layers 4:relu --epochs 2 --optimizer adam --lr 0.01
printf 'not hdf5\n' >"$T/text.h5"
step bad-data 2 train --data "$T/text.h5"
step bad-layers 2 train --data "$D" --layers 8relu

if [[ $failures -ne 0 ]]; then
  echo "sanitize: $failures failure(s)"
  exit 1
fi
echo "sanitize: all clean"
