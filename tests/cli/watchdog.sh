#!/usr/bin/env bash
# --step-timeout when a rank stops (SIGSTOP at a random moment of training): the
# job ends with status 4 within seconds, and its one error line names the rank
# that did not arrive and its last phase, not the rank that waited for it.
# (faults.sh covers a rank that is slow but running.)
source "$(dirname "$0")/lib.sh"
# A training split only, 1500 rows, 30 steps per epoch (a rank stopped
# between steps is covered below, with an evaluation set).
awk 'BEGIN { srand(1); for (i = 0; i < 1500; i++) { for (j = 0; j < 16; j++) printf "%.3f,", rand(); print i % 3 } }' >"$TMP/d.csv"
run 1 60 convert --csv "$TMP/d.csv" --test-fraction 0 --out "$TMP/d.h5"
[[ $status -eq 0 ]] || fail "convert: $err"
A=(--data "$TMP/d.h5" --layers 32:relu --optimizer adam --lr 0.001 --batch-size 50
   --epochs 100000 --step-timeout 2)

stopped=""
cleanup() {
  for p in $stopped; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# stop_rank VICTIM MPIRUN-ARGS...: run mpirun with these arguments, SIGSTOP
# world rank VICTIM once training runs; sets $status, $took (seconds from the
# SIGSTOP to the job's end) and $err (its error lines).  AFTER (a regular
# expression, default training's second epoch) is what the job prints
# (stdout or stderr) before the rank is stopped, "" for nothing: then PAUSE
# seconds after the rank's process exists (default: a random point of a step).
stop_rank() {
  local victim=$1 mp="" v="" i after=${AFTER-'^epoch *2/'} pause=${PAUSE:-0.$((RANDOM % 10))}
  shift
  timeout -k 5 120 mpirun "$@" >"$TMP/out" 2>"$TMP/err" &
  local tpid=$!
  for i in $(seq 3000); do
    if [[ -z $after ]] || cat "$TMP/out" "$TMP/err" 2>/dev/null | grep -q "$after"; then
      mp=$(pgrep -P $tpid -x mpirun)
      [[ -n $mp ]] && v=$(rank_pid "$mp" "$victim")
      [[ -n $v || -n $after ]] && break
    fi
    sleep 0.02
  done
  if [[ -z $v ]]; then
    kill -- $tpid 2>/dev/null
    wait $tpid
    status=-1 took=-1 err="world rank $victim not found (mpirun ${mp:-missing}): $(cat "$TMP/err")"
    return
  fi
  sleep "$pause"
  kill -STOP "$v"
  stopped="$stopped $v"
  local start=$(date +%s.%N)
  wait $tpid
  status=$?
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  err=$(grep 'error:' "$TMP/err" || true)
}

# ended_quickly LABEL LINES REGEX: status 4 within 10 s of the SIGSTOP, LINES
# error lines, one of them matching REGEX.
ended_quickly() {
  local lines
  lines=$(grep -c 'error:' <<<"$err")
  if [[ $status -eq 4 ]] && awk -v t="$took" 'BEGIN { exit !(t < 10) }' && [[ $lines -eq $2 ]] \
    && grep -Eq "$3" <<<"$err"; then
    pass "$1: exit 4 after ${took} s: $(head -1 <<<"${err#*error: }")"
  else
    fail "$1: status $status after ${took} s, $lines error line(s): $err"
  fi
}

for np in 2 3; do
  stop_rank 1 -np $np "$DTRAIN" train "${A[@]}"
  # one line for the host: the waiting rank's phase, then the stalled one's:
  # its phase, step and time in it, and that its watchdog thread does not run
  # either
  ended_quickly "np=$np, rank 1 stopped" 1 "rank [02]: step [0-9]+ waited [0-9.]+ s in phase '(reduction|update|between steps)', more than --step-timeout 2 s, for rank 1 \(in phase '(data|compute|reduction|update|between steps)' of step [0-9]+ for [0-9.]+ s, not responding for [0-9.]+ s\); ending the job$"
done

# Between steps: a rank stopped during the epoch's evaluation left the others
# waiting there, unwatched, for ever.  One step of 18 rows per epoch and
# 1782 rows to evaluate: nearly all the time is spent between steps.
awk 'BEGIN { srand(2); for (i = 0; i < 1800; i++) { for (j = 0; j < 16; j++) printf "%.3f,", rand(); print i % 3 } }' >"$TMP/e.csv"
run 1 60 convert --csv "$TMP/e.csv" --test-fraction 0.99 --out "$TMP/e.h5"
[[ $status -eq 0 ]] || fail "convert: $err"
with "${A[@]}" -- --data "$TMP/e.h5" --batch-size 18 --layers 1024:relu,1024:relu
# Rank 0 is stopped (it evaluates and prints; rank 1 mostly waits for it),
# most likely inside the evaluation (1782 rows through 1024-wide layers), so
# rank 1 waits in the evaluation's reduction: the case that used to hang.
for trial in 1 2 3; do
  stop_rank 0 -np 2 "$DTRAIN" train "${W[@]}"
  ended_quickly "evaluation set, rank 0 stopped (trial $trial)" 1 "rank 1: step [0-9]+ waited [0-9.]+ s in phase '(reduction|update|between steps)', more than --step-timeout 2 s, for rank 0 \(in phase '(data|compute|reduction|update|between steps)' of step [0-9]+ for [0-9.]+ s, not responding for [0-9.]+ s\); ending the job$"
done

# Set-up is watched too.  A rank stopped 0.2 s after it started (inside MPI's
# start-up, where the others wait for every rank, or soon after) ends the job:
# before the ranks have joined, the start-up as a whole counts against
# --step-timeout; after, a rank of the host that stops responding in set-up;
# and where set-up took less than 0.2 s (a fast machine: seen in CI), a rank
# stopped in the first steps, as above.
for trial in 1 2; do
  AFTER="" PAUSE=0.2 stop_rank 1 -np 2 "$DTRAIN" train "${A[@]}"
  ended_quickly "rank 1 stopped 0.2 s after launch (trial $trial)" 1 "(start-up took [0-9.]+ s, more than --step-timeout 2 s, and not every rank has joined the job \(one stopped or hung, or its host cannot be reached\)|rank 0: waited [0-9.]+ s in set-up, more than --step-timeout 2 s, for rank 1 \(in set-up for [0-9.]+ s, not responding for [0-9.]+ s\)|rank 0: step [0-9]+ waited [0-9.]+ s in phase '(reduction|update|between steps)', more than --step-timeout 2 s, for rank 1 \(in phase '(data|compute|reduction|update|between steps)' of step [0-9]+ for [0-9.]+ s, not responding for [0-9.]+ s\)); ending the job$"
done
# After the join, set-up's own work may take longer than --step-timeout (a
# large data load; here rank 1 sleeps 6 s after reading the data, running):
# the job waits for it and trains.
with "${A[@]}" -- --epochs 2
timeout -k 5 120 mpirun -np 2 env DTRAIN_TEST_SETUP_SLEEP=1:6 "$DTRAIN_TEST_BIN" train "${W[@]}" >"$TMP/out" 2>"$TMP/err"
st=$?
[[ $st -eq 0 ]] && grep -q "sleeps 6 s in set-up" "$TMP/err" && grep -q "^final:" "$TMP/out" \
  && pass "a rank 6 s slow in set-up (running) is waited for: --step-timeout 2 s does not end the job" \
  || fail "slow set-up: status $st $(cat "$TMP/err")"
# The same rank stopped in that sleep: its neighbour names it.
AFTER="sleeps 8 s in set-up" PAUSE=1 stop_rank 1 -np 2 env DTRAIN_TEST_SETUP_SLEEP=1:8 "$DTRAIN_TEST_BIN" train "${A[@]}"
ended_quickly "rank 1 stopped in set-up" 1 "rank 0: waited [0-9.]+ s in set-up, more than --step-timeout 2 s, for rank 1 \(in set-up for [0-9.]+ s, not responding for [0-9.]+ s\); ending the job$"

# No room for the shared block (a file-size limit, which the window's backing
# file must fit below; TCP transport, as in faults.sh): the job still ends,
# the waiting rank saying it cannot see the others.  Without the block there
# is no one-report-per-host flag: rank 1, resumed by mpirun (SIGCONT) before
# it is killed, may time out too, and then says it was stopped itself.
stop_rank 1 --mca btl self,tcp -np 2 bash -c "ulimit -f 20; exec '$DTRAIN' train $(printf '%q ' "${A[@]}")"
rank1=$(grep "error: rank 1:" <<<"$err")
if [[ -z $rank1 ]] || grep -Eq "rank 1: step [0-9]+ spent [0-9.]+ s in phase '[a-z ]+', more than --step-timeout 2 s; this rank was stopped for [0-9.]+ s of it \(its threads did not run\)" <<<"$rank1"; then
  err=$(grep -v "error: rank 1:" <<<"$err")
  ended_quickly "no shared memory" 1 "rank 0: step [0-9]+ spent [0-9.]+ s in phase '[a-z ]+', more than --step-timeout 2 s; the other ranks' phases cannot be seen \(no node-shared memory\); ending the job$"
else
  fail "no shared memory: rank 1's line does not say it was stopped: $rank1"
fi
finish
