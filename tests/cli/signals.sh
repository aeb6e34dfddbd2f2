#!/usr/bin/env bash
# Preemption: SIGUSR1 to mpirun (forwarded to the ranks) and SIGTERM sent to
# the ranks themselves each end the run at a step boundary with a checkpoint and
# exit status 75; --resume then continues.
source "$(dirname "$0")/lib.sh"

ARGS=(--data "$DATA/digits.h5" --layers 64:relu --optimizer adam --lr 0.001 --batch-size 16 --seed 5)
LONG=(--epochs 100000) # the runs that a signal stops

# start_training DIR: mpirun in the background; waits for the second epoch line.
# DIR "": no --checkpoint-dir.
start_training() {
  mpirun -np 2 "$DTRAIN" train "${ARGS[@]}" "${LONG[@]}" ${1:+--checkpoint-dir "$1"} >"$TMP/out" 2>"$TMP/err" &
  pid=$!
  for _ in $(seq 600); do
    grep -q '^epoch *2/' "$TMP/out" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "training did not start: $(cat "$TMP/err")"
  kill -9 $pid
  return 1
}

# finish LABEL DIR: wait (60 s at most) and check status 75, the checkpoint, and a resume.
finish_and_resume() {
  local label=$1 dir=$2 st
  for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $pid 2>/dev/null; then
    fail "$label: still running 60 s after the signal"; kill -9 $pid; return
  fi
  wait $pid; st=$?
  [[ $st -eq 75 ]] && pass "$label: exit status 75" || fail "$label: exit status $st: $(cat "$TMP/err")"
  grep -q "stopped by $3" "$TMP/err" && pass "$label: says it was stopped by $3" || fail "$label: $(cat "$TMP/err")"
  local epoch
  epoch=$(sed -n 's/.*(epoch \([0-9]*\)).*/\1/p' "$TMP/err")
  [[ -L $dir/latest.h5 ]] && pass "$label: checkpoint written" || fail "$label: no checkpoint in $dir"
  run 2 120 train "${ARGS[@]}" --checkpoint-dir "$dir" --resume --epochs $((epoch + 1))
  [[ $status -eq 0 ]] && grep -q "resuming from" <<<"$out" && grep -q "^final:" <<<"$out" \
    && pass "$label: --resume continued to the end (epoch $((epoch + 1)))" || fail "$label: resume: $err"
}

# A repeated signal does not cut short a stop under way, but ends a stuck run:
# rank 0 stalls in step 30 for 60 s (DTRAIN_TEST_SLEEP, asleep through signals,
# as a rank stuck in a computation would be).  The first SIGTERM only asks for a
# stop at the next boundary, so the rank is still there a second later; a second
# SIGTERM within the grace period (SIGNALS_GRACE_MS, 5 s) is ignored; one after
# it ends the rank at once with status 128 + 15, and nothing is written.
mkdir -p "$TMP/twice"
DTRAIN_TEST_SLEEP=0:30:60 mpirun -np 1 "$DTRAIN_TEST_BIN" train "${ARGS[@]}" "${LONG[@]}" --checkpoint-dir "$TMP/twice" \
  >"$TMP/out" 2>"$TMP/err" &
pid=$!
rank=""
for _ in $(seq 100); do
  rank=$(rank_pids $pid 'dtrain-test train' | head -1)
  [[ -n $rank ]] && break
  sleep 0.1
done
sleep 3 # start-up, then 30 steps of a few milliseconds: the rank is in its stall
if [[ -z $rank ]]; then
  fail "second signal: no rank process under mpirun"; kill -9 $pid
else
  kill -TERM "$rank"
  sleep 1
  kill -0 "$rank" 2>/dev/null && pass "second signal: the first one waits for the step boundary" \
    || fail "second signal: the rank ended on the first signal: $(cat "$TMP/err")"
  kill -TERM "$rank"
  sleep 1
  kill -0 "$rank" 2>/dev/null && pass "second signal 1 s after the first: ignored (the stop is under way)" \
    || fail "second signal: a repeat within the grace period ended the rank: $(cat "$TMP/err")"
  sleep 4
  t0=$(date +%s)
  kill -TERM "$rank"
  for _ in $(seq 100); do kill -0 "$rank" 2>/dev/null || break; sleep 0.1; done
  took=$(( $(date +%s) - t0 ))
  if kill -0 "$rank" 2>/dev/null; then
    fail "second signal: the rank still runs 10 s later"; kill -9 "$rank" $pid
  else
    pass "signal 6 s after the first: the stuck rank ended within ${took} s (the stall had 54 s to go)"
  fi
  wait $pid; st=$?
  [[ $st -ne 0 && $st -ne 75 ]] && pass "stuck rank: mpirun exit status $st (not 75: nothing saved)" \
    || fail "stuck rank: exit status $st"
  [[ ! -e $TMP/twice/latest.h5 ]] && pass "stuck rank: no checkpoint written" \
    || fail "stuck rank: a checkpoint was written: $(ls "$TMP/twice")"
fi

# Two SIGUSR1 10 ms apart: the second arrives during the stop (the rest of the
# step, or the checkpoint write) and changes nothing: status 75, a checkpoint,
# and the resume continues.
if start_training "$TMP/usr1x2"; then
  kill -USR1 $pid; sleep 0.01; kill -USR1 $pid
  finish_and_resume "two SIGUSR1 10 ms apart" "$TMP/usr1x2" SIGUSR1
fi

# A signal during start-up (handlers are installed before MPI starts) ends the
# run at the first safe point, before any step, with status 75.  The moment is
# when the ranks exist and have their handlers (their SigCgt has SIGUSR1):
# earlier, mpirun has no rank to forward it to (Open MPI drops it), or a rank
# still being loaded would die of it (the few milliseconds before main()).
rm -rf "$TMP/early"
mpirun -np 2 "$DTRAIN" train "${ARGS[@]}" "${LONG[@]}" --checkpoint-dir "$TMP/early" >"$TMP/out" 2>"$TMP/err" &
pid=$!
t0=$(date +%s%N)
armed=0
for _ in $(seq 2000); do
  ranks=$(rank_pids $pid 'dtrain train')
  armed=0
  for r in $ranks; do
    mask=$(sed -n 's/^SigCgt:\s*//p' /proc/$r/status 2>/dev/null)
    [[ -n $mask ]] && (( (16#$mask >> 9) & 1 )) && armed=$((armed + 1))
  done
  [[ $armed -eq 2 ]] && break
  sleep 0.005
done
kill -USR1 $pid
at=$(( ($(date +%s%N) - t0) / 1000000 ))
for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { fail "start-up signal: still running 60 s later"; kill -9 $pid; }
wait $pid; st=$?
if [[ $armed -ne 2 ]]; then
  fail "start-up signal: the ranks never had a SIGUSR1 handler"
elif [[ $st -eq 75 ]] && grep -q "stopped by SIGUSR1 before training began" "$TMP/err" \
    && ! grep -q '^epoch' "$TMP/out"; then
  pass "SIGUSR1 ${at} ms after start: status 75 before the first step ($(grep -o 'stopped by.*began' "$TMP/err"))"
else
  fail "start-up signal at ${at} ms: status $st: $(cat "$TMP/err") $(head -3 "$TMP/out")"
fi
ls "$TMP/early"/step-* >/dev/null 2>&1 && fail "start-up signal: a checkpoint was written" \
  || pass "start-up signal: no checkpoint (no step was taken)"
# ... and the same command starts it again
run 2 120 train "${ARGS[@]}" --checkpoint-dir "$TMP/early" --resume --epochs 1
[[ $status -eq 0 ]] && grep -q "no checkpoint in .* yet: starting fresh" <<<"$out" \
  && pass "after a start-up stop, --resume starts fresh" || fail "rerun after start-up stop: $status $err"

if start_training "$TMP/usr1"; then
  kill -USR1 $pid
  finish_and_resume "SIGUSR1 to mpirun" "$TMP/usr1" SIGUSR1
fi

# Without --checkpoint-dir there is nothing to save: the run still stops at a
# step boundary, says so in its own line, and exits with 128 + 10 (SIGUSR1),
# as a process ended by the signal: not 75, which would invite a resume.
if start_training ""; then
  kill -USR1 $pid
  for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  kill -0 $pid 2>/dev/null && { fail "no --checkpoint-dir: still running 60 s after SIGUSR1"; kill -9 $pid; }
  wait $pid; st=$?
  lines=$(grep -c '^dtrain train: stopped by' "$TMP/err")
  [[ $st -eq 138 && $lines -eq 1 ]] &&
    grep -qE '^dtrain train: stopped by SIGUSR1 at step [0-9]+ \(epoch [0-9]+\); nothing saved: no --checkpoint-dir' "$TMP/err" &&
    pass "SIGUSR1 without --checkpoint-dir: status 138 and $(grep -o 'stopped by.*checkpoint-dir' "$TMP/err" | head -1)" ||
    fail "SIGUSR1 without --checkpoint-dir: status $st, $lines lines: $(cat "$TMP/err")"
fi
if start_training "$TMP/term"; then
  ranks=$(rank_pids $pid 'dtrain train' | tr '\n' ' ')
  [[ -n "$ranks" ]] || fail "no rank processes under mpirun"
  kill -TERM $ranks
  finish_and_resume "SIGTERM to the ranks" "$TMP/term" SIGTERM
fi
finish
