#!/usr/bin/env bash
# --step-timeout when a rank stops (SIGSTOP at a random moment of training): the
# job ends with status 4 within seconds, and its one error line names the rank
# that did not arrive and its last phase, not the rank that waited for it.
# (faults.sh covers a rank that is slow but running.)
source "$(dirname "$0")/lib.sh"
# No evaluation set (the watchdog does not watch the time between steps, and
# a rank stopped during an epoch's evaluation would leave the others waiting
# there unwatched; without one that gap is a tiny fraction of the time): a
# training split only, 1500 rows, 30 steps per epoch.
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

# rank_pid PARENT RANK: the PID of PARENT's child (a process of mpirun) that is
# world rank RANK.
rank_pid() {
  local p
  for p in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return
    fi
  done
}

# stop_rank NP VICTIM: run NP ranks, SIGSTOP world rank VICTIM once training
# runs; sets $status, $took (seconds from the SIGSTOP to the job's end), $err.
stop_rank() {
  local np=$1 victim=$2 mp="" v="" i
  timeout -k 5 120 mpirun -np "$np" "$DTRAIN" train "${A[@]}" >"$TMP/out" 2>"$TMP/err" &
  local tpid=$!
  for i in $(seq 600); do grep -q '^epoch *2/' "$TMP/out" 2>/dev/null && break; sleep 0.1; done
  mp=$(pgrep -P $tpid -x mpirun)
  [[ -n $mp ]] && v=$(rank_pid "$mp" "$victim")
  if [[ -z $v ]]; then
    fail "np=$np: world rank $victim not found (mpirun ${mp:-missing})"
    kill -- $tpid 2>/dev/null
    wait $tpid
    status=-1 took=-1 err=$(cat "$TMP/err")
    return
  fi
  sleep "0.$((RANDOM % 10))" # a random point of a step
  kill -STOP "$v"
  stopped="$stopped $v"
  local start=$(date +%s.%N)
  wait $tpid
  status=$?
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  err=$(grep 'error:' "$TMP/err" || true)
}

for np in 2 3; do
  stop_rank $np 1
  lines=$(grep -c 'error:' <<<"$err")
  # the waiting rank's phase, then the stalled one's: its phase, step and how
  # long it has been in it, and that its watchdog thread is not running either
  re="rank [02]: step [0-9]+ waited [0-9.]+ s in phase '(data|compute|reduction|update)', more than --step-timeout 2 s, for rank 1 \(in phase '(idle|data|compute|reduction|update)' of step [0-9]+ for [0-9.]+ s, not responding for [0-9.]+ s\); ending the job$"
  if [[ $status -eq 4 ]] && awk -v t="$took" 'BEGIN { exit !(t < 10) }' && [[ $lines -eq 1 ]] \
    && grep -Eq "$re" <<<"$err"; then
    pass "np=$np, rank 1 stopped: exit 4 after ${took} s: ${err#*error: }"
  else
    fail "np=$np, rank 1 stopped: status $status after ${took} s, $lines error line(s): $err"
  fi
done
finish
