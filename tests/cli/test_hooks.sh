#!/usr/bin/env bash
# The test hooks (include/dtrain/testhooks.h) exist only in the test build of
# the library: no dt_hooks symbol in the installed libraries (libdtrain.so,
# libdtrain.a) nor in the dtrain command; the test binary has it (else this
# test could not fail).  And a hook set in the environment changes nothing in
# the release command: DTRAIN_TEST_NAN_STEP makes dtrain-test's training
# diverge (exit 1), not dtrain's.
source "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$DTRAIN")

# has_hooks FILE: nm lists a dt_hooks symbol (static, dynamic or local)
has_hooks() { nm -a "$1" 2>/dev/null | grep -w 'dt_hooks' >/dev/null; }  # not -q: nm's SIGPIPE would fail the pipe

for f in "$BUILD/libdtrain.so" "$BUILD/libdtrain.a" "$DTRAIN"; do
  if [[ ! -f $f ]]; then fail "$f: not built"
  elif has_hooks "$f"; then fail "$f has a dt_hooks symbol: $(nm -a "$f" | grep -w dt_hooks)"
  else pass "$(basename "$f"): no test hook"; fi
done
for f in "$BUILD/libdtrain-test.a" "$DTRAIN_TEST_BIN"; do
  if has_hooks "$f"; then pass "$(basename "$f"): has the hooks"
  else fail "$f has no dt_hooks symbol: this test would not see them"; fi
done

args=(train --data "$DATA/iris.h5" --epochs 2 --layers 8:relu --seed 1)
DTRAIN_TEST_NAN_STEP=1 run 1 60 "${args[@]}"
[[ $status -eq 0 ]] && pass "dtrain ignores DTRAIN_TEST_NAN_STEP" \
  || fail "dtrain with DTRAIN_TEST_NAN_STEP=1: exit $status: $err"
DTRAIN_TEST_NAN_STEP=1 timeout -k 5 60 mpirun -np 1 "$DTRAIN_TEST_BIN" "${args[@]}" \
  >"$TMP/out" 2>&1
status=$?
[[ $status -eq 1 ]] && pass "dtrain-test diverges at DTRAIN_TEST_NAN_STEP=1" \
  || fail "dtrain-test with DTRAIN_TEST_NAN_STEP=1: exit $status, expected 1: $(cat "$TMP/out")"

finish
