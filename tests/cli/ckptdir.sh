#!/usr/bin/env bash
# A checkpoint directory has one owner: a second run on it exits 2 naming the
# first (host and PID) and touches nothing, even after dtrain.lock is deleted; a killed run's lock does not block
# its resume; the temporaries of killed writes are removed by the next run and
# counted by nothing, through a crash loop of random SIGKILLs; --keep counts
# and deletes only the run's own checkpoints, a branch never replaces another
# run's checkpoint, and --resume falls back only within one run.
source "$(dirname "$0")/lib.sh"
MAKE_BAD_H5=${MAKE_BAD_H5:-$(dirname "$DTRAIN")/tests/make_bad_h5}
D=$DATA/digits.h5
A=(--data "$D" --layers 32:relu --optimizer adam --lr 0.001 --batch-size 50 --seed 3)

# wait_for FILE_GLOB_TEST: poll (60 s at most) until the command succeeds.
wait_for() {
  for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done
  return 1
}

# ---- two jobs, one directory ------------------------------------------------
C=$TMP/shared
mpirun -np 2 "$DTRAIN" train "${A[@]}" --epochs 100000 --checkpoint-dir "$C" --checkpoint-every 20 \
  --keep 2 >"$TMP/a.out" 2>"$TMP/a.err" &
first=$!
if ! wait_for grep -q '^epoch *2/' "$TMP/a.out"; then
  fail "the first job did not start: $(cat "$TMP/a.err")"
else
  holder=$(rank_pid $first 0)
  for np in 1 2; do
    before=$(ls "$C" | tr '\n' ' ')
    expect_error $np 2 "is in use by another run: dtrain PID $holder on host $(hostname)" \
      train "${A[@]}" --epochs 1 --checkpoint-dir "$C" --resume
    grep -q "holds $C/dtrain.lock; give each run a directory of its own" <<<"$err" \
      && pass "np=$np: the message names the lock file and what to do" || fail "np=$np: $err"
    expect_error $np 2 "is in use by another run" train "${A[@]}" --epochs 1 --checkpoint-dir "$C" \
      --keep 1
  done
  # Deleting dtrain.lock under the live job does not let a second one in:
  # the directory itself is locked too.
  rm -f "$C/dtrain.lock"
  for np in 1 2; do
    expect_error $np 2 "--checkpoint-dir $C is in use by another run" \
      train "${A[@]}" --epochs 1 --checkpoint-dir "$C" --resume
  done
  kill -0 $first 2>/dev/null && pass "the first job runs on" || fail "the first job ended: $(cat "$TMP/a.err")"
  # The first job's files are its own: its latest.h5 resolves, --keep 2 holds.
  sleep 1
  [[ -f $C/latest.h5 && $(ls "$C" | grep -c '^step-') -le 3 ]] \
    && pass "the first job's checkpoints are intact ($(ls "$C" | tr '\n' ' '))" \
    || fail "first job's directory: $(ls -l "$C")"
  # A killed job leaves its lock file, but not the lock: the kernel drops it
  # with the process, and the resume goes ahead.
  pkill -9 -P $first -f 'dtrain train'
  wait $first 2>/dev/null
  epoch=$(sed -n 's/^epoch *\([0-9]*\)\/.*/\1/p' "$TMP/a.out" | tail -1)
  run 2 120 train "${A[@]}" --epochs $((epoch + 2)) --checkpoint-dir "$C" --resume
  [[ $status -eq 0 && -f $C/dtrain.lock ]] && grep -q "resuming from $C/latest.h5" <<<"$out" \
    && grep -q '^final:' <<<"$out" && pass "after a SIGKILL, the stale lock file does not block --resume" \
    || fail "resume after kill: $status $err"
fi
kill -9 $first 2>/dev/null

# ---- --keep counts only this run's checkpoints -----------------------------------
# A run of 160 steps (iris: 4 per epoch), then a second run that resumes the
# first one's step 20 into the same directory with --keep 2: it keeps its own
# two newest, deletes neither the file it has just written nor the first run's
# later steps, and latest.h5 names its last checkpoint.  Its step 60 does not
# replace the first run's step-00000060.h5: it is step-00000060-LINEAGE.h5.
C=$TMP/lineage
I=(--data "$DATA/iris.h5" --layers 8:relu --seed 3 --epochs 40 --checkpoint-dir "$C")
# the steps of the files in $C, a branch's file at a taken step as STEP-LINEAGE
steps() { (cd "$C" && ls step-*.h5 | sed 's/step-0*\([0-9][0-9a-f-]*\).h5/\1/' | sort -n | paste -sd' '); }
run 1 60 train "${I[@]}" --checkpoint-every 20
[[ $status -eq 0 && -f $C/step-00000160.h5 ]] || fail "the first run: $status $err"
first60=$(cksum <"$C/step-00000060.h5")
run 2 60 train "${I[@]}" --checkpoint-every 7 --keep 2 --resume "$C/step-00000020.h5" --stop-at-step 60
have=$(steps)
branch60=$(cd "$C" && ls step-00000060-*.h5 2>/dev/null)
[[ $status -eq 75 && $branch60 =~ ^step-00000060-[0-9a-f]{16}\.h5$ ]] && grep -q "checkpoint $C/$branch60 written" <<<"$out$err" \
  && pass "the branch stops at step 60 with its checkpoint written as $branch60" || fail "the branch: $status $out $err"
[[ $(cksum <"$C/step-00000060.h5") == "$first60" ]] \
  && pass "the first run's step-00000060.h5 is untouched" || fail "the branch replaced the first run's step 60"
[[ $(readlink "$C/latest.h5") == "$branch60" && -f $C/$branch60 ]] \
  && pass "latest.h5 names the branch's step 60, which exists" || fail "latest.h5 -> $(readlink "$C/latest.h5"); have $have"
run 1 60 inspect "$C/$branch60"
lineage=${branch60#step-00000060-}; lineage=${lineage%.h5}
grep -q "lineage  *$lineage" <<<"$out" && pass "inspect shows the lineage its name carries" \
  || fail "inspect $branch60: $out"
# the branch wrote 21, 28, ..., 56 and 60: 56 and 60 stay
[[ $have == "20 40 56 60 60-$lineage 80 100 120 140 160" ]] \
  && pass "--keep 2 kept the branch's two newest and all of the first run's: $have" \
  || fail "after the branch's --keep 2: $have"
# --resume FILE naming a deleted checkpoint lists the names as they are
expect_error 1 2 "step-00000021.h5: no such file; $C holds step-00000160.h5, step-00000140.h5, step-00000120.h5, step-00000100.h5, step-00000080.h5, step-00000060.h5, step-00000060-$lineage.h5, step-00000056.h5, ... (10 in all)" \
  train "${I[@]}" --resume "$C/step-00000021.h5"
# --resume with a damaged latest.h5 falls back only within its run: never to
# another run's newer file.  On copies of the directory as it is now.
cp -a "$C" "$C-a" && "$MAKE_BAD_H5" --set-value "$C-a/$branch60" /model/layer0/weight 0 1e6 \
  || fail "could not damage $C-a/$branch60"
with "${I[@]}" -- --checkpoint-dir "$C-a" --resume --stop-at-step 58
run 1 60 train "${W[@]}"
[[ $status -eq 75 ]] && grep -q "resuming from $C-a/step-00000056.h5 at epoch 14, step 56" <<<"$out" \
  && pass "latest.h5 (the branch's step 60) damaged: the fallback is the branch's step 56, not the first run's step 160" \
  || fail "fallback from the branch's damaged step 60: $status $out $err"
run 1 60 inspect "$C-a/step-00000058.h5"
grep -q "lineage  *$lineage" <<<"$out" && pass "... and continues the branch's lineage" \
  || fail "the fallback's step 58 is not of the branch's lineage $lineage: $out"
# its run's only checkpoint damaged: the others are another run's, so none is taken
rm "$C-a/step-00000056.h5" "$C-a/step-00000058.h5" && ln -sfn "$branch60" "$C-a/latest.h5"
with "${I[@]}" -- --checkpoint-dir "$C-a" --resume
expect_error 1 2 "latest.h5 cannot be used and no other checkpoint of its run (lineage $lineage) can; those left are other runs', the newest of each:" \
  train "${W[@]}"
grep -q "^  $C-a/step-00000160.h5 (lineage " <<<"$err" && pass "... and it names the other run's newest" \
  || fail "no list of the other runs: $err"
# latest.h5 unreadable (its run unknown) and two runs' checkpoints: none is taken
cp -a "$C" "$C-b" && ln -sfn step-00000160.h5 "$C-b/latest.h5" && truncate -s 1000 "$C-b/step-00000160.h5"
with "${I[@]}" -- --checkpoint-dir "$C-b" --resume
expect_error 1 2 "latest.h5 cannot be used (its run unknown) and the usable checkpoints in $C-b belong to 2 runs (lineages)" \
  train "${W[@]}"
grep -q "^  $C-b/step-00000140.h5 (lineage " <<<"$err" && grep -q "^  $C-b/$branch60 (lineage $lineage)" <<<"$err" \
  && pass "... and it names each run's newest usable checkpoint" || fail "no list of the runs: $err"
rm -rf "$C-a" "$C-b"
run 1 60 train "${I[@]}" --checkpoint-every 7 --keep 2 --resume --stop-at-step 70
have=$(steps)
[[ $status -eq 75 ]] && grep -q "resuming from $C/latest.h5 at epoch 15, step 60" <<<"$out" \
  && pass "--resume continues the branch at step 60" || fail "resume of the branch: $status $out $err"
[[ $have == "20 40 60 63 70 80 100 120 140 160" ]] && pass "the branch's --keep 2 goes on: $have" \
  || fail "after the second resume: $have"
# another seed is another run: its --keep 1 leaves the others' files alone
with "${I[@]}" -- --seed 4 --epochs 2 --checkpoint-every 3 --keep 1
run 1 60 train "${W[@]}"
have2=$(steps)
[[ $status -eq 0 && $have2 == "8 20 40 60 63 70 80 100 120 140 160" ]] \
  && pass "a run with another seed keeps its own one: $have2" || fail "another seed: $status $have2 $err"
# latest.h5 naming a missing file is an error, not a resume from the newest
# step file (which is another run's)
rm "$C/step-00000008.h5"
with "${I[@]}" -- --seed 4 --epochs 3 --resume
expect_error 1 2 "--resume: $C/latest.h5 names step-00000008.h5, which does not exist" train "${W[@]}"

# ---- temporaries of killed writes --------------------------------------------
# A crash between writing and renaming (the test hook aborts there) leaves
# step-N.h5.tmp.PID; the next run that owns the directory removes it, and
# --keep counts only complete checkpoints.
C=$TMP/crash
DTRAIN_TEST_CRASH_IN_CHECKPOINT=40 DTRAIN=$DTRAIN_TEST_BIN run 2 120 train "${A[@]}" --epochs 3 --checkpoint-dir "$C" \
  --checkpoint-every 20 --keep 1
left=$(ls "$C" | grep -c '\.tmp\.' || true)
[[ $status -ne 0 && $left -ge 1 ]] && pass "a crash inside the write leaves $left temporary file(s)" \
  || fail "crash hook: status $status, $(ls "$C")"
run 2 120 train "${A[@]}" --epochs 3 --checkpoint-dir "$C" --checkpoint-every 20 --keep 1 --resume
[[ $status -eq 0 ]] && grep -q "removed $left temporary file.* of interrupted checkpoint writes from $C" <<<"$out" \
  && pass "the next run removes them and says so" || fail "removal: $status $out $err"
[[ $(ls "$C" | grep -c '\.tmp\.') -eq 0 && $(ls "$C" | grep -c '^step-') -eq 1 ]] \
  && pass "--keep 1 holds with no temporaries: $(ls "$C" | tr '\n' ' ')" || fail "after removal: $(ls "$C")"
# Someone else's file with a similar name is not ours to delete.
touch "$C/notes.tmp.1" "$C/step-1.h5.tmp.2"
run 1 120 train "${A[@]}" --epochs 3 --checkpoint-dir "$C" --checkpoint-every 20 --keep 1 --resume
[[ -e $C/notes.tmp.1 && -e $C/step-1.h5.tmp.2 ]] && pass "files that are not dtrain's temporaries stay" \
  || fail "removed a file not ours: $(ls "$C")"

# A crash loop: 10 SIGKILLs at random moments of a run that checkpoints every
# step (a 1.1 M-parameter model: the writes take most of the time, so kills
# land inside them).  Every resume must go through, and once a run owns the
# directory no temporary is left.
C=$TMP/loop
B=(--data "$D" --layers 1024:relu,1024:relu --optimizer adam --lr 0.0005 --batch-size 64 --seed 4
   --epochs 1000 --checkpoint-dir "$C" --checkpoint-every 1 --keep 2 --resume)
seen=0
for i in $(seq 10); do
  mpirun -np 2 "$DTRAIN" train "${B[@]}" >"$TMP/l.out" 2>"$TMP/l.err" &
  pid=$!
  before=$(readlink "$C/latest.h5" 2>/dev/null)
  # wait for this run's first checkpoint, then kill a rank 0-300 ms later
  wait_for eval '[[ -L $C/latest.h5 && $(readlink "$C/latest.h5") != "$before" ]]' \
    || fail "kill $i: no checkpoint within 60 s: $(cat "$TMP/l.err")"
  sleep "0.$(printf '%03d' $((RANDOM % 300)))"
  victim=$(rank_pids $pid | shuf -n 1)
  [[ -n $victim ]] && kill -9 "$victim"
  wait $pid 2>/dev/null
  n=$(ls "$C" | grep -c '\.tmp\.' || true)
  seen=$((seen + n))
  if grep -q 'error:' "$TMP/l.err"; then
    fail "kill $i: the resume failed: $(grep 'error:' "$TMP/l.err")"
  fi
  if [[ $i -gt 1 ]] && ! grep -q "resuming from $C" "$TMP/l.out"; then
    fail "kill $i: did not resume: $(head -3 "$TMP/l.out")"
  fi
done
[[ $seen -ge 1 ]] && pass "10 kills left $seen temporary file(s) in all" \
  || fail "no kill landed inside a write (the loop did not exercise the removal)"
run 2 120 train "${B[@]}" --stop-at-step $(( $(readlink "$C/latest.h5" | sed 's/step-0*\([0-9]*\).h5/\1/') + 2 ))
[[ $status -eq 75 ]] && grep -q "resuming from $C" <<<"$out" && pass "the resume after the crash loop goes through" \
  || fail "final resume: $status $err"
[[ $(ls "$C" | grep -c '\.tmp\.') -eq 0 ]] && pass "no temporary left: $(ls "$C" | tr '\n' ' ')" \
  || fail "temporaries left: $(ls "$C")"
[[ $(ls "$C" | grep -c '^step-') -le 2 && -f $C/latest.h5 ]] && pass "--keep 2 and latest.h5 hold" \
  || fail "after the loop: $(ls -l "$C")"
finish
