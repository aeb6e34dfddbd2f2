# Shared helpers for the command-line tests (sourced).  ctest sets DTRAIN (the
# binary) and DTRAIN_SOURCE_DIR; both have fallbacks for running by hand.
set -uo pipefail
SRC=${DTRAIN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DTRAIN=${DTRAIN:-$SRC/build/dtrain}
# the same command with test hooks settable from DTRAIN_TEST_* (tests/dtrain_test.c)
DTRAIN_TEST_BIN=${DTRAIN_TEST_BIN:-$(dirname "$DTRAIN")/tests/dtrain-test}
DATA=$SRC/datasets
source "$SRC/scripts/env.sh"
TMP=$(mktemp -d) && [[ -d $TMP ]] || { echo "FAIL: mktemp -d: no temporary directory"; exit 1; }
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# run NP TIMEOUT ARGS...: run dtrain under mpirun; sets $status, $out, $err.
# mpirun waits odls_base_sigkill_timeout (1 s) twice after a rank's non-zero
# exit before it ends, even when every rank has already exited; dtrain's ranks
# leave through MPI_Finalize, which waits for all of them, so nothing is left
# to kill gently and the wait is dropped (nobody signals these runs).
run() {
  local np=$1 limit=$2; shift 2
  OMPI_MCA_odls_base_sigkill_timeout=0 \
    timeout -k 5 "$limit" mpirun -np "$np" "$DTRAIN" "$@" >"$TMP/out" 2>"$TMP/err"
  status=$?
  out=$(cat "$TMP/out")
  err=$(grep -v -e '^--------' -e '^$' -e 'mpirun\|mpiexec\|Primary job\|non-zero exit\|Per user-direction\|Process name\|Exit code\|process returned\|job has been aborted\|first process to do so' "$TMP/err" || true)
}

# expect_error NP EXIT_CODE NEEDLE ARGS...: the command fails with EXIT_CODE,
# within 60 s, printing NEEDLE in exactly one error line.
expect_error() {
  local np=$1 code=$2 needle=$3; shift 3
  run "$np" 60 "$@"
  local lines
  lines=$(printf '%s\n' "$err" | grep -c 'error:' || true)
  if [[ $status -eq 124 || $status -eq 137 ]]; then
    fail "np=$np $*: timed out (hang)"
  elif [[ $status -ne $code ]]; then
    fail "np=$np $*: exit $status, expected $code; stderr: $err"
  elif ! grep -qF -- "$needle" <<<"$err"; then
    fail "np=$np $*: stderr lacks '$needle': $err"
  elif [[ $lines -ne 1 ]]; then
    fail "np=$np $*: expected one error line, got $lines: $err"
  else
    pass "np=$np exit $code: $(grep 'error:' <<<"$err" | head -1)"
  fi
}

# final_metric NAME: the value of NAME on the "final:" line of $out.
final_metric() { sed -n "s/^final:.*$1 \([0-9.]*\).*/\1/p" <<<"$out"; }

# at_least VALUE MIN LABEL
at_least() {
  if [[ -n "$1" ]] && awk -v v="$1" -v m="$2" 'BEGIN { exit !(v >= m) }'; then
    pass "$3: $1 >= $2"
  else
    fail "$3: '$1' is not >= $2"
  fi
}
at_most() {
  if [[ -n "$1" ]] && awk -v v="$1" -v m="$2" 'BEGIN { exit !(v <= m) }'; then
    pass "$3: $1 <= $2"
  else
    fail "$3: '$1' is not <= $2"
  fi
}

finish() {
  if [[ $failures -ne 0 ]]; then
    echo "$failures failure(s)"
    exit 1
  fi
  echo "all passed"
}

# with BASE... -- MORE...: sets the array W to BASE without the options that
# MORE gives again (each with its value, if it has one), then MORE.  dtrain
# refuses a repeated option, so a test that varies a base command says so.
with() {
  local base=() more=() after=0 a
  for a in "$@"; do
    if [[ $after == 0 && $a == -- ]]; then after=1
    elif [[ $after == 1 ]]; then more+=("$a")
    else base+=("$a"); fi
  done
  local names=" "
  for a in "${more[@]}"; do [[ $a == --* ]] && names+="${a%%=*} "; done
  W=()
  local i=0 n=${#base[@]} drop
  while (( i < n )); do
    a=${base[i]}; i=$((i + 1)); drop=0
    [[ $a == --* && $names == *" ${a%%=*} "* ]] && drop=1
    [[ $drop == 1 ]] || W+=("$a")
    if [[ $a == --* && $a != *=* ]] && (( i < n )) && [[ ${base[i]} != --* ]]; then
      [[ $drop == 1 ]] || W+=("${base[i]}")
      i=$((i + 1))
    fi
  done
  W+=("${more[@]}")
}

# epoch_lines: the epoch lines of $out up to their last accuracy figure (the
# part that must not depend on the number of ranks; times are dropped).
epoch_lines() { sed -n 's/^\(epoch.*_accuracy [0-9.]*\).*/\1/p' <<<"$out"; }

# mk FILE SPECS...: write an HDF5 fixture with tests/make_bad_h5.c
# (MAKE_BAD_H5, set by ctest); FILE is relative to $FIXTURES (default $TMP).
mk() { "$MAKE_BAD_H5" "${FIXTURES:-$TMP}/$1" "${@:2}" || fail "could not write fixture $1"; }

# h5_values FILE DATASET: the dataset's values, one per line (h5dump).
h5_values() {
  local f
  f=$(mktemp "$TMP/values.XXXXXX")
  h5dump -d "$2" -y -w 0 -o "$f" "$1" >/dev/null && tr ', ' '\n\n' <"$f" | grep .
}

# same_model A B: the two saved models have the same weights and the same
# normalisation, bit for bit.
same_model() {
  h5diff -q "$1" "$2" /model /model >/dev/null 2>&1 &&
    h5diff -q "$1" "$2" /normalization /normalization >/dev/null 2>&1
}

# rank_pids MPIRUN_PID [PATTERN]: the PIDs of the rank processes mpirun
# started on this host (its children), those whose command line matches
# PATTERN if given.
rank_pids() {
  if [[ $# -gt 1 ]]; then pgrep -P "$1" -f "$2"; else pgrep -P "$1"; fi
}

# rank_pid MPIRUN_PID RANK: the PID of world rank RANK among them.
rank_pid() {
  local p
  for p in $(rank_pids "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return
    fi
  done
}
