#!/usr/bin/env bash
# Preemption: SIGUSR1 to mpirun (forwarded to the ranks) and SIGTERM sent to
# the ranks themselves each end the run at a step boundary with a checkpoint and
# exit status 75; --resume then continues.
source "$(dirname "$0")/lib.sh"

ARGS=(--data "$DATA/digits.h5" --layers 64:relu --optimizer adam --lr 0.001 --batch-size 16 --epochs 100000 --seed 5)

# start_training DIR: mpirun in the background; waits for the second epoch line.
start_training() {
  mpirun -np 2 "$DTRAIN" train "${ARGS[@]}" --checkpoint-dir "$1" >"$TMP/out" 2>"$TMP/err" &
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

# A second signal ends the process at once, without waiting for the step
# boundary: rank 0 stalls in step 30 for 60 s (DTRAIN_TEST_SLEEP, asleep through
# signals, as a rank stuck in a computation would be); the first SIGTERM only
# asks for a stop at the next boundary, so the rank is still there a second
# later; the second SIGTERM ends it with status 128 + 15, and nothing is
# written.
mkdir -p "$TMP/twice"
DTRAIN_TEST_SLEEP=0:30:60 mpirun -np 1 "$DTRAIN" train "${ARGS[@]}" --checkpoint-dir "$TMP/twice" \
  >"$TMP/out" 2>"$TMP/err" &
pid=$!
rank=""
for _ in $(seq 100); do
  rank=$(pgrep -P $pid -f 'dtrain train' | head -1)
  [[ -n $rank ]] && break
  sleep 0.1
done
sleep 3 # start-up, then 30 steps of a few milliseconds: the rank is in its stall
if [[ -z $rank ]]; then
  fail "second signal: no rank process under mpirun"; kill -9 $pid
else
  kill -TERM "$rank"
  sleep 1
  if kill -0 "$rank" 2>/dev/null; then
    pass "second signal: the first one waits for the step boundary"
  else
    fail "second signal: the rank ended on the first signal: $(cat "$TMP/err")"
  fi
  t0=$(date +%s)
  kill -TERM "$rank"
  for _ in $(seq 100); do kill -0 "$rank" 2>/dev/null || break; sleep 0.1; done
  took=$(( $(date +%s) - t0 ))
  if kill -0 "$rank" 2>/dev/null; then
    fail "second signal: the rank still runs 10 s later"; kill -9 "$rank" $pid
  else
    pass "second signal: the rank ended within ${took} s (the stall had 55 s to go)"
  fi
  wait $pid; st=$?
  [[ $st -ne 0 ]] && pass "second signal: mpirun exit status $st" || fail "second signal: exit status 0"
  [[ ! -e $TMP/twice/latest.h5 ]] && pass "second signal: no checkpoint written" \
    || fail "second signal: a checkpoint was written: $(ls "$TMP/twice")"
fi

if start_training "$TMP/usr1"; then
  kill -USR1 $pid
  finish_and_resume "SIGUSR1 to mpirun" "$TMP/usr1" SIGUSR1
fi

if start_training "$TMP/term"; then
  ranks=$(pgrep -P $pid -f 'dtrain train' | tr '\n' ' ')
  [[ -n "$ranks" ]] || fail "no rank processes under mpirun"
  kill -TERM $ranks
  finish_and_resume "SIGTERM to the ranks" "$TMP/term" SIGTERM
fi
finish
