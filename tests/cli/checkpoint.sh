#!/usr/bin/env bash
# Checkpoint and resume: bit-exact at the same rank count, within rounding at
# another, safe against a crash inside the write, preemption by signal, damaged
# and mismatched checkpoints; eval, predict and inspect of a checkpoint.
source "$(dirname "$0")/lib.sh"

D=$DATA/digits.h5
ARGS=(--data "$D" --layers 32:relu,16:tanh --optimizer adam --lr 0.002 --batch-size 50 --epochs 4 --seed 3)
# 1438 training samples, batch 50: 29 steps per epoch, 116 in all.
epoch_lines() { sed -n 's/^\(epoch.*_accuracy [0-9.]*\).*/\1/p' <<<"$out"; }

same_state() { # same_state A B LABEL: parameters, optimizer and progress identical
  local ok=1
  for g in /model /optimizer /normalization; do
    h5diff -q "$1" "$2" $g $g >/dev/null || ok=0
  done
  for a in epoch batch step; do
    [[ "$(h5dump -a /progress/$a "$1" | grep '(0)')" == "$(h5dump -a /progress/$a "$2" | grep '(0)')" ]] || ok=0
  done
  # the history's counts, rate, losses and metrics (epoch step samples
  # epoch_time time lr train_loss test_loss test_accuracy: not the clock's)
  for c in 0 1 2 5 6 7 8; do
    [[ "$(h5dump -d "/history/epochs[0,$c;;4,1]" "$1" | grep '(0')" == "$(h5dump -d "/history/epochs[0,$c;;4,1]" "$2" | grep '(0')" ]] || ok=0
  done
  [[ $ok -eq 1 ]] && pass "$3" || fail "$3"
}

for np in 1 2; do
  C=$TMP/np$np
  run $np 120 train "${ARGS[@]}" --checkpoint-dir "$C/full"
  [[ $status -eq 0 ]] || fail "uninterrupted run at $np ranks: $err"
  full_lines=$(epoch_lines)
  run $np 120 train "${ARGS[@]}" --checkpoint-dir "$C/part" --stop-at-step 45
  [[ $status -eq 75 && -f $C/part/step-00000045.h5 ]] && pass "np=$np: stop at step 45 wrote a checkpoint, exit 75" || fail "np=$np stop: status $status $err"
  grep -q "run the same command with --resume" <<<"$err" && pass "np=$np: says how to resume" || fail "no resume hint: $err"
  run $np 120 train "${ARGS[@]}" --checkpoint-dir "$C/part" --resume
  [[ $status -eq 0 ]] || fail "resume at $np ranks: $err"
  # epochs 2..4 print the same lines as the uninterrupted run
  [[ "$(epoch_lines)" == "$(tail -n 3 <<<"$full_lines")" ]] && pass "np=$np: resumed epoch lines identical" || fail "np=$np: epoch lines differ: $(epoch_lines) vs $full_lines"
  same_state "$C/full/step-00000116.h5" "$C/part/step-00000116.h5" "np=$np: resumed run bit-identical to the uninterrupted one"
done

# The state of schedules, early stopping, dropout and second-order methods is
# checkpointed too: stopped and resumed, each run ends bit-identical.
i=0
for extra in "--schedule plateau --plateau-patience 0 --monitor val_accuracy --early-stopping 2 --valid-split 0.2 --layers 32:relu:0.3" \
             "--schedule cosine --warmup-steps 20 --optimizer rmsprop --centered --clip-norm 1 --l2 1e-3" \
             "--optimizer lbfgs --epochs 6 --layers 16:tanh"; do
  i=$((i + 1))
  with "${ARGS[@]}" -- $extra --checkpoint-dir "$TMP/s$i/full"
  run 2 120 train "${W[@]}"
  [[ $status -eq 0 ]] || fail "state $i uninterrupted: $err"
  stop=45; [[ "$extra" == *lbfgs* ]] && stop=3
  with "${ARGS[@]}" -- $extra --checkpoint-dir "$TMP/s$i/part" --stop-at-step $stop
  run 2 120 train "${W[@]}"
  with "${ARGS[@]}" -- $extra --checkpoint-dir "$TMP/s$i/part" --resume
  run 2 120 train "${W[@]}"
  a=$(readlink -f "$TMP/s$i/full/latest.h5"); b=$(readlink -f "$TMP/s$i/part/latest.h5")
  ok=1; compared=""
  for g in /model /optimizer /early_stopping /second_order; do
    h5dump -H -g $g "$a" >/dev/null 2>&1 || continue
    compared+="$g "
    h5diff -q "$a" "$b" $g $g >/dev/null || ok=0
  done
  [[ $ok -eq 1 && $status -eq 0 && "$compared" == /model* ]] && pass "resume bit-identical ($compared) with $extra" || fail "resume with $extra ($compared): $err"
done

# Another rank count: 2-rank checkpoint resumed at 1 and at 4 ranks agrees within rounding.
for np in 1 4; do
  mkdir -p "$TMP/x$np" && cp "$TMP/np2/part/step-00000045.h5" "$TMP/x$np/"
  run $np 180 train "${ARGS[@]}" --checkpoint-dir "$TMP/x$np" --resume
  [[ $status -eq 0 ]] || fail "2 -> $np ranks: $err"
  if h5diff -q --relative=1e-3 "$TMP/np2/full/step-00000116.h5" "$TMP/x$np/step-00000116.h5" /model /model >/dev/null; then
    pass "checkpoint of 2 ranks resumed at $np: weights within 1e-3 relative of the uninterrupted run"
  else
    fail "2 -> $np ranks differ: $(h5diff --relative=1e-3 "$TMP/np2/full/step-00000116.h5" "$TMP/x$np/step-00000116.h5" /model /model | tail -3)"
  fi
done

# A crash inside the write of the step-58 checkpoint leaves step 29 loadable.
C=$TMP/crash
DTRAIN_TEST_CRASH_IN_CHECKPOINT=58 DTRAIN=$DTRAIN_TEST_BIN run 2 120 train "${ARGS[@]}" --checkpoint-dir "$C" --checkpoint-every 29
[[ $status -ne 0 && $status -ne 75 ]] && pass "crash in the checkpoint write ends the job (status $status)" || fail "crash hook: status $status"
[[ "$(readlink "$C/latest.h5")" == step-00000029.h5 && ! -e $C/step-00000058.h5 ]] && pass "latest still points at step 29, no step-58 under its final name" || fail "after crash: $(ls -l "$C")"
run 1 60 inspect "$C/latest.h5"
grep -q "checksum *ok" <<<"$out" && pass "previous checkpoint intact" || fail "inspect after crash: $out $err"
run 2 120 train "${ARGS[@]}" --checkpoint-dir "$C" --checkpoint-every 29 --resume
[[ $status -eq 0 ]] && same_state "$TMP/np2/full/step-00000116.h5" "$C/step-00000116.h5" "resume after the crash is bit-identical" || fail "resume after crash: $err"

# --keep 2: only the two newest checkpoints remain.
run 2 120 train "${ARGS[@]}" --checkpoint-dir "$TMP/keep" --checkpoint-every 10 --keep 2
n=$(ls "$TMP/keep" | grep -c '^step-')
[[ $status -eq 0 && $n -eq 2 && -e $TMP/keep/step-00000116.h5 ]] && pass "--keep 2 keeps two" || fail "--keep: $(ls "$TMP/keep")"

# Every checkpoint damaged: --resume refuses (exit 2) and lists each one
# with its fault rather than starting over on top of them; they are left as
# they were.
A=$TMP/alldamaged && mkdir -p "$A"
for st in 29 58; do head -c 3000 "$TMP/np2/full/step-00000116.h5" >"$A/step-000000$st.h5"; done
ln -sf step-00000058.h5 "$A/latest.h5"
before=$(cksum "$A"/step-*.h5)
expect_error 2 2 "no usable checkpoint in $A, 2 damaged" train "${ARGS[@]}" --checkpoint-dir "$A" --resume
grep -q "step-00000029.h5" <<<"$err" && grep -q "step-00000058.h5" <<<"$err" && pass "each damaged checkpoint is named" || fail "damaged list: $err"
[[ $(cksum "$A"/step-*.h5) == "$before" ]] && pass "the damaged checkpoints are left as they were" || fail "damaged checkpoints changed"

# --resume with no checkpoint yet starts fresh.
with "${ARGS[@]}" -- --epochs 1 --checkpoint-dir "$TMP/fresh" --resume
run 2 120 train "${W[@]}"
[[ $status -eq 0 ]] && grep -q "starting fresh" <<<"$out" && pass "--resume with an empty directory starts fresh" || fail "fresh: $out $err"

# A flipped byte in the parameters is caught by the checksum; --resume falls
# back to the run's previous checkpoint (both of the stopped and resumed run:
# one lineage).
B=$TMP/bad && mkdir -p "$B" && cp "$TMP/np2/part/step-00000045.h5" "$TMP/np2/part/step-00000116.h5" "$B/"
ln -sf step-00000116.h5 "$B/latest.h5"
off=$(h5dump -p -H -d /model/layer0/weight "$B/step-00000116.h5" | sed -n 's/.*OFFSET \([0-9]*\).*/\1/p')
if [[ -n "$off" ]]; then
  byte=$(dd if="$B/step-00000116.h5" bs=1 skip=$((off + 100)) count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(( (byte + 1) % 256 )))" | dd of="$B/step-00000116.h5" bs=1 seek=$((off + 100)) conv=notrunc 2>/dev/null
  for np in 1 2; do
    expect_error $np 2 "checksum mismatch" train "${ARGS[@]}" --resume "$B/step-00000116.h5"
  done
  with "${ARGS[@]}" -- --checkpoint-dir "$B" --resume --epochs 2
  run 2 120 train "${W[@]}"
  grep -q "step-00000116.h5: checksum mismatch" <<<"$err" && grep -q "resuming from $B/step-00000045.h5" <<<"$out" \
    && pass "damaged latest: warned and fell back to step 45" || fail "fallback: $out $err"
else
  fail "could not locate /model/layer0/weight in the file"
fi

# A checkpoint of another architecture or optimizer is refused, listing each difference.
for np in 1 2; do
  expect_error $np 2 "--layers: checkpoint '32:relu,16:tanh', now '64:relu'" train "${ARGS[@]/32:relu,16:tanh/64:relu}" --resume "$TMP/np2/part/step-00000045.h5"
done
with "${ARGS[@]/adam/sgd}" -- --layers 8:relu --resume "$TMP/np2/part/step-00000045.h5"
run 2 60 train "${W[@]}"
# each difference once: the optimizer in the configuration's words, not again
# in the optimizer state's
grep -q -- "--optimizer: checkpoint 'adam', now 'sgd'" <<<"$err" && grep -q -- "--layers" <<<"$err" &&
  [[ $(grep -ci optimizer <<<"$err") -eq 1 ]] && pass "every difference listed once" || fail "differences: $err"
# Options that may change are accepted and reported.
with "${ARGS[@]}" -- --epochs 5 --lr 0.001 --checkpoint-dir "$TMP/np2/part" --resume
run 2 120 train "${W[@]}"
[[ $status -eq 0 ]] && grep -q "resume: --epochs 5 (the checkpoint had 4)" <<<"$out" && grep -q "resume: --lr 0.001" <<<"$out" && pass "changed epochs and lr accepted and printed" || fail "changes: $out $err"

# eval gives the same figures at 1, 2 and 3 ranks; predict agrees with eval.
M=$TMP/np2/full/latest.h5
run 1 60 eval --model "$M" --data "$D" --json; ref=$out
for np in 2 3; do
  run $np 60 eval --model "$M" --data "$D" --json
  [[ "$out" == "$ref" && -n "$ref" ]] && pass "eval at $np ranks = eval at 1" || fail "eval $np: $out vs $ref"
done
acc=$(sed -n 's/.*"accuracy": *\([0-9.e-]*\).*/\1/p' <<<"$ref")
for ext in csv h5; do
  run 3 60 predict --model "$M" --data "$D" --out "$TMP/pred.$ext"
  pacc=$(sed -n 's/.*accuracy against \/test\/y: \([0-9.]*\)).*/\1/p' <<<"$out")
  awk -v a="$acc" -v b="$pacc" 'BEGIN { exit !(a - b < 1e-6 && b - a < 1e-6) }' && pass "predict .$ext accuracy $pacc = eval $acc" || fail "predict .$ext: '$pacc' vs '$acc'"
done
[[ $(wc -l <"$TMP/pred.csv") -eq 360 ]] && head -1 "$TMP/pred.csv" | grep -q '^class,p_0' && pass "csv: header + 359 rows" || fail "csv shape"
# the csv's predicted classes match the file's labels as often as eval says
right=$(paste -d, <(tail -n +2 "$TMP/pred.csv" | cut -d, -f1) <(h5dump -d /test/y -y -w 1 "$D" | sed -n '/DATA {/,/}/p' | grep -o '[0-9]\+') | awk -F, '$1 == $2' | wc -l)
awk -v r="$right" -v a="$acc" 'BEGIN { exit !(r / 359 - a < 1e-6 && a - r / 359 < 1e-6) }' && pass "csv classes reproduce the accuracy ($right/359)" || fail "csv classes: $right right"

run 1 60 inspect "$M"
for want in "dtrain checkpoint" "parameters" "optimizer        adam" "written by ranks 2" "checksum         ok" "history:"; do
  grep -qF "$want" <<<"$out" && pass "inspect shows '$want'" || fail "inspect lacks '$want': $out"
done
run 2 60 inspect "$D"
grep -q "/train: X 1438 x 64 uint8" <<<"$out" && pass "inspect of a data file" || fail "inspect data: $out"

# Every array is shape-checked before it is read (before the checksum, which
# reads them): an /early_stopping/best of 67 x 4 was read into a 67-value buffer.
MAKE_BAD_H5=${MAKE_BAD_H5:-$(dirname "$DTRAIN")/tests/make_bad_h5}
ES=(--data "$DATA/iris.h5" --layers 8:relu --early-stopping 5 --valid-split 0.2 --epochs 4)
run 2 60 train "${ES[@]}" --checkpoint-dir "$TMP/es" --stop-at-step 5
cp "$TMP/es/step-00000005.h5" "$TMP/es-bad.h5"
"$MAKE_BAD_H5" --replace "$TMP/es-bad.h5" /early_stopping/best:f32:67x4 || fail "could not replace /early_stopping/best"
for np in 1 2; do
  expect_error $np 2 "es-bad.h5: damaged checkpoint: /early_stopping/best has 2 dimensions; expected a vector of 67 values" \
    train "${ES[@]}" --resume "$TMP/es-bad.h5"
done

# A finished run resumed (a requeued job): says it is complete, with the
# checkpoint's final figures, exits 0, and trains and writes nothing; a
# larger --epochs continues it.
DONE=(--data "$DATA/iris.h5" --layers 8:relu --seed 2 --checkpoint-dir "$TMP/done" --save "$TMP/done.h5")
for np in 1 2; do
  rm -rf "$TMP/done" "$TMP/done.h5"
  run $np 60 train "${DONE[@]}" --epochs 3
  [[ $status -eq 0 ]] || fail "np=$np: the first run: $err"
  last=$(grep '^epoch   3/3' <<<"$out" | sed 's/.*test_loss \([0-9.]*\)  test_accuracy \([0-9.]*\).*/\1 \2/')
  before=$(cd "$TMP/done" && ls -l --time-style=full-iso step-* latest.h5 && md5sum step-* latest.h5 ../done.h5)
  run $np 60 train "${DONE[@]}" --epochs 3 --resume
  [[ $status -eq 0 ]] && pass "np=$np: a finished run resumed exits 0" || fail "np=$np: status $status $err"
  grep -q "is the end of this run (3 of --epochs 3 done, step 12): nothing to train or write; raise --epochs to continue it" <<<"$out" \
    && pass "np=$np: says the run is complete" || fail "np=$np: no completion line: $out"
  ! grep -q '^epoch ' <<<"$out" && pass "np=$np: no epoch trained" || fail "np=$np: trained again: $out"
  grep -q "^final: test_loss ${last% *}  test_accuracy ${last#* }  (epoch 3, from the checkpoint)" <<<"$out" \
    && pass "np=$np: the checkpoint's final figures ($last)" || fail "np=$np: final line: $out (want $last)"
  after=$(cd "$TMP/done" && ls -l --time-style=full-iso step-* latest.h5 && md5sum step-* latest.h5 ../done.h5)
  [[ "$before" == "$after" ]] && ! grep -q "saved model" <<<"$out" \
    && pass "np=$np: no checkpoint or model rewritten" || fail "np=$np: files changed: $before / $after"
  run $np 60 train "${DONE[@]}" --epochs 4 --resume
  [[ $status -eq 0 ]] && grep -q "resuming from .* at epoch 4, step 12" <<<"$out" && grep -q '^epoch   4/4' <<<"$out" \
    && grep -q "saved model" <<<"$out" && pass "np=$np: --epochs 4 continues it" || fail "np=$np: continue: $status $out $err"
done
finish
