#!/usr/bin/env bash
# Faults during training: NaN/Inf, replicas that drift apart, a stalled rank,
# a rank killed with SIGKILL, a write error while checkpointing.  Each ends
# (or goes on) as documented, quickly, with the checkpoints intact.
# The DTRAIN_TEST_* variables are test-only fault injection, read only by
# tests/dtrain-test (tests/dtrain_test.c), never by the release binary.
source "$(dirname "$0")/lib.sh"
D=$DATA/digits.h5
A=(--data "$D" --layers 32:relu --optimizer adam --lr 0.001 --batch-size 50 --epochs 3)
# 29 steps per epoch, 87 in all

# The release binary has no test hooks: it reads no DTRAIN_TEST_* variable.
DTRAIN_TEST_NAN_STEP=40 DTRAIN_TEST_CRASH_IN_CHECKPOINT=29 run 2 60 train "${A[@]}" \
  --checkpoint-dir "$TMP/plain" --checkpoint-every 29
[[ $status -eq 0 ]] && ! grep -q "NaN\|test hook" <<<"$err$out" && [[ -z $(strings "$DTRAIN" | grep DTRAIN_TEST_) ]] \
  && pass "dtrain ignores DTRAIN_TEST_* (the strings are not in the binary)" || fail "release binary hooks: $status $err"

for np in 1 2; do
  C=$TMP/nan$np
  DTRAIN_TEST_NAN_STEP=40 DTRAIN=$DTRAIN_TEST_BIN run $np 60 train "${A[@]}" --checkpoint-dir "$C" --checkpoint-every 29
  [[ $status -eq 1 ]] && grep -q "NaN or Inf in the gradient at step 41 (epoch 2); no checkpoint was written from this state; the last good checkpoint is $C/step-00000029.h5" <<<"$err" \
    && pass "np=$np --on-nan stop names the step and the last good checkpoint" || fail "nan stop: $status $err"
  [[ "$(ls "$C" | grep -v '^dtrain.lock$')" == "$(printf 'latest.h5\nstep-00000029.h5')" ]] && pass "np=$np: no checkpoint from the bad state" || fail "nan: $(ls "$C")"
  DTRAIN_TEST_NAN_STEP=40 DTRAIN=$DTRAIN_TEST_BIN run $np 60 train "${A[@]}" --on-nan skip
  [[ $status -eq 0 ]] && grep -q "update skipped (1 of --max-skips 10)" <<<"$err" && grep -q "^final:" <<<"$out" \
    && pass "np=$np --on-nan skip drops the update and goes on" || fail "nan skip: $status $err"
  DTRAIN_TEST_NAN_STEP=40 DTRAIN=$DTRAIN_TEST_BIN run $np 60 train "${A[@]}" --on-nan skip --max-skips 1
  [[ $status -eq 1 ]] && grep -q "after --max-skips skipped updates" <<<"$err" && pass "np=$np --max-skips 1 stops" || fail "max-skips: $err"
done

# A rank whose parameters drift is named (at 3 ranks: rank 1 drifts in step
# 14, the step before the check).  The sharded update's allgather rewrites
# every parameter outside a rank's own shard each step, so a drift there is
# visible until the next step: the fault is injected just before the check.
DTRAIN_TEST_CORRUPT=1:14 DTRAIN=$DTRAIN_TEST_BIN run 3 60 train "${A[@]}" --check-replicas 5
[[ $status -eq 1 ]] && grep -q "replica check at step 15: the parameters of rank(s) 1 differ from rank 0's" <<<"$err" \
  && pass "--check-replicas names rank 1" || fail "replicas: $status $err"
# ... and always before a checkpoint, so none is written from diverged replicas.
DTRAIN_TEST_CORRUPT=2:28 DTRAIN=$DTRAIN_TEST_BIN run 3 60 train "${A[@]}" --checkpoint-dir "$TMP/rep" --checkpoint-every 29
[[ $status -eq 1 ]] && grep -q "rank(s) 2 differ" <<<"$err" && [[ ! -e $TMP/rep/latest.h5 ]] \
  && pass "replica check before the checkpoint" || fail "replicas before checkpoint: $status $err $(ls "$TMP/rep")"

# A rank stalled for 60 s in compute: the watchdog ends the job within seconds.
start=$(date +%s)
DTRAIN_TEST_SLEEP=1:10:60 DTRAIN=$DTRAIN_TEST_BIN run 2 50 train "${A[@]}" --step-timeout 2
took=$(( $(date +%s) - start ))
[[ $status -eq 4 && $took -lt 30 ]] && grep -q "rank 1: step 10 spent .* in phase 'compute', more than --step-timeout 2 s" <<<"$err" \
  && pass "watchdog: exit 4 after ${took}s naming rank 1 and phase compute" || fail "watchdog: status $status after ${took}s: $err"

# A rank killed with SIGKILL: the job ends within seconds, non-zero; the
# checkpoints are intact and --resume finishes the run.
C=$TMP/kill
with "${A[@]}" -- --epochs 100000 --checkpoint-dir "$C" --checkpoint-every-epoch
mpirun -np 2 "$DTRAIN" train "${W[@]}" >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 600); do grep -q '^epoch *3/' "$TMP/out" 2>/dev/null && break; sleep 0.1; done
victim=$(rank_pids $pid | tail -1)
kill -9 "$victim"
start=$(date +%s)
for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then fail "SIGKILL: job still running 30 s later"; kill -9 $pid; fi
wait $pid; st=$?
took=$(( $(date +%s) - start ))
[[ $st -ne 0 && $took -lt 30 ]] && pass "SIGKILL of a rank: job ended in ${took}s with status $st" || fail "SIGKILL: status $st after ${took}s"
run 1 60 inspect "$C/latest.h5"
grep -q "checksum *ok" <<<"$out" && pass "checkpoint intact after SIGKILL" || fail "after SIGKILL: $out $err"
e=$(sed -n 's/.*epochs done *\([0-9]*\).*/\1/p' <<<"$out")
with "${A[@]}" -- --epochs $((e + 2)) --checkpoint-dir "$C" --resume
run 2 120 train "${W[@]}"
[[ $status -eq 0 ]] && grep -q "resuming from" <<<"$out" && pass "--resume after SIGKILL" || fail "resume after kill: $err"

# Shared windows that would not fit (here under a file-size limit, which the
# window's backing file must fit below) are not attempted: the data stays
# private and the reduction falls back to mpi, each with a warning, and the
# run completes.  (TCP transport: Open MPI's own shared-memory transport would
# hit the limit first.)
with "${A[@]}" -- --epochs 1
timeout 60 mpirun --mca btl self,tcp -np 2 bash -c "ulimit -f 20; exec '$DTRAIN' train $(printf '%q ' "${W[@]}")" >"$TMP/out" 2>"$TMP/err"
st=$?
[[ $st -eq 0 ]] && grep -q "node-shared memory for .* is not available" "$TMP/err" \
  && grep -q "gradients are summed with MPI_Reduce_scatter instead" "$TMP/err" && grep -q "^final:" "$TMP/out" \
  && pass "no room for shared windows: private copies and the mpi reduction, with warnings" \
  || fail "no room for shared windows: status $st $(cat "$TMP/err")"

# Under an address-space limit (ulimit -v) every rank maps the whole shared
# window, so one that would not fit is not attempted either: the data goes
# private, and a copy larger than the limit ends the run with one error,
# status 1, where the window's allocation used to abort the job inside MPI.
# 4 GiB of X declared (zeros allocated in compressed chunks: a small file), 3 GiB
# of address space per rank.
# (A sanitizer's shadow memory would not start under that limit.)
if strings "$DTRAIN" | grep -q __asan_init; then
  echo "skipped: address-space limit (sanitizer build)"
else
  "$(dirname "$DTRAIN")/tests/make_bad_h5" "$TMP/huge.h5" /train/X:f32+gzip:1048576x1024:allocated \
    /train/y:i32:1048576:allocated || fail "could not write huge.h5"
  timeout 60 mpirun -np 2 bash -c "ulimit -v 3145728; exec '$DTRAIN' train --data '$TMP/huge.h5' --epochs 1" >"$TMP/out" 2>"$TMP/err"
  st=$?
  [[ $st -eq 1 ]] && grep -q "node-shared memory for .* is not available" "$TMP/err" \
    && grep -q "^dtrain train: error: out of memory for /train/X (1048576 x 1024)" "$TMP/err" && ! grep -q MPI_ERRORS_ARE_FATAL "$TMP/err" \
    && pass "window beyond the address-space limit: not attempted, one out-of-memory error, status 1" \
    || fail "address-space limit: status $st $(cat "$TMP/err")"
fi

# Write error while checkpointing (file-size limit, ulimit -f, on the ranks only;
# TCP transport, private data copies and the mpi reduction, so that no
# shared-memory file is limited).
C=$TMP/full
run 2 60 train "${A[@]}" --checkpoint-dir "$C" --stop-at-step 20
before=$(sha256sum "$C/step-00000020.h5")
timeout 60 mpirun --mca btl self,tcp -np 2 bash -c "ulimit -f 20; exec '$DTRAIN' train $(printf '%q ' "${A[@]}") --checkpoint-dir '$C' --resume --checkpoint-every 29 --shared-data off --reduction mpi" >"$TMP/out" 2>"$TMP/err"
st=$?
[[ $st -eq 1 ]] && grep -q "checkpoint not written (the previous one is intact): .*write failed after 20480 of .* bytes: File too large" "$TMP/err" \
  && pass "file-size limit: one clear error, status 1" || fail "disk full: status $st $(cat "$TMP/err")"
[[ "$(sha256sum "$C/step-00000020.h5")" == "$before" && "$(readlink "$C/latest.h5")" == step-00000020.h5 ]] \
  && pass "previous checkpoint intact" || fail "previous checkpoint changed"
[[ -z "$(ls "$C" | grep -v -e '^latest.h5$' -e '^step-00000020.h5$' -e '^dtrain.lock$')" ]] && pass "no half-written file left" || fail "left: $(ls "$C")"
finish
