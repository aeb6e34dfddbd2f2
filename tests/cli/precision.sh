#!/usr/bin/env bash
# --threads sets the compute engine's threads (oneDNN reports them); at these
# shapes oneDNN splits a product across threads by rows and columns, not
# along its sums, so the weights are the same at 1 and 2 threads.  Then --precision bf16: trains to fp32's accuracy, resumes bit for bit, keeps
# models and checkpoints fp32, records the precision in checkpoints and may
# change it on resume (printed); a CPU without AVX-512 refuses it with exit 2
# and one without native bf16 runs oneDNN's emulation with a warning
# (DNNL_MAX_CPU_ISA, oneDNN's own variable, plays the older CPUs).
source "$(dirname "$0")/lib.sh"

D=$DATA/digits.h5
ARGS=(--data "$D" --layers 32:relu,16:tanh --optimizer adam --lr 0.002 --batch-size 50 --epochs 4 --seed 3)
# 1438 training samples, batch 50: 29 steps per epoch, 116 in all.

for t in 1 2; do
  DNNL_VERBOSE=1 run 1 120 train --data "$D" --layers 32:relu --optimizer sgd --lr 0.01 --epochs 2 --seed 1 --threads $t \
    --save "$TMP/threads$t.h5"
  [[ $status -eq 0 ]] && grep -q "nthr:$t\b" <<<"$out" && pass "--threads $t: oneDNN runs $t thread(s)" || fail "--threads $t: $(grep nthr <<<"$out") $err"
done
h5diff -q "$TMP/threads1.h5" "$TMP/threads2.h5" /model /model >/dev/null && pass "the same weights at 1 and 2 threads" || fail "threads change the weights"

isa=$("$DTRAIN" --version | sed -n 's/.*oneDNN [0-9.]* (\(.*\)).*/\1/p')
echo "oneDNN ISA on this CPU: ${isa:-unknown}"
if [[ $isa != avx512_core* ]]; then
  # no AVX-512: bf16 cannot run here at all
  expect_error 1 2 "--precision bf16 needs AVX-512" train "${ARGS[@]}" --precision bf16
  echo "skipped: the bf16 runs (this CPU has no AVX-512)"
  finish
  exit 0
fi

# bf16 trains: same accuracy as fp32 within 0.03 on digits, but not the same
# weights (the products did round).
run 2 120 train "${ARGS[@]}" --save "$TMP/fp32.h5"
[[ $status -eq 0 ]] || fail "fp32 run: $err"
acc32=$(final_metric test_accuracy)
run 2 120 train "${ARGS[@]}" --precision bf16 --save "$TMP/bf16.h5"
[[ $status -eq 0 ]] || fail "bf16 run: $err"
acc16=$(final_metric test_accuracy)
at_least "$acc16" 0.85 "bf16 test accuracy on digits"
close=$(awk -v a="$acc32" -v b="$acc16" 'BEGIN { d = a - b; print (d < 0 ? -d : d) <= 0.03 }')
[[ $close == 1 ]] && pass "bf16 accuracy $acc16 within 0.03 of fp32's $acc32" || fail "bf16 $acc16 vs fp32 $acc32"
if h5diff -q "$TMP/fp32.h5" "$TMP/bf16.h5" /model /model >/dev/null 2>&1; then
  fail "bf16 and fp32 gave identical weights: bf16 was not used"
else
  pass "bf16 weights differ from fp32's"
fi
# the saved model is fp32 and records the precision it was trained at
h5dump -H -d /model/layer0/weight "$TMP/bf16.h5" | grep -q H5T_IEEE_F32LE && pass "bf16 model saved as fp32" || fail "model weight type: $(h5dump -H -d /model/layer0/weight "$TMP/bf16.h5")"
h5dump -a /config/precision "$TMP/bf16.h5" | grep -q '"bf16"' && pass "model records precision bf16" || fail "no /config precision in the model"
# and loads for eval like any other
run 1 60 eval --model "$TMP/bf16.h5" --data "$D"
[[ $status -eq 0 ]] && pass "eval of a bf16-trained model" || fail "eval: $err"

# bf16 resumes bit for bit at the same rank count.
run 2 120 train "${ARGS[@]}" --precision bf16 --checkpoint-dir "$TMP/full"
[[ $status -eq 0 ]] || fail "bf16 uninterrupted: $err"
run 2 120 train "${ARGS[@]}" --precision bf16 --checkpoint-dir "$TMP/part" --stop-at-step 45
run 2 120 train "${ARGS[@]}" --precision bf16 --checkpoint-dir "$TMP/part" --resume
ok=1
for g in /model /optimizer; do
  h5diff -q "$TMP/full/step-00000116.h5" "$TMP/part/step-00000116.h5" $g $g >/dev/null || ok=0
done
[[ $status -eq 0 && $ok -eq 1 ]] && pass "bf16 resume bit-identical (/model, /optimizer)" || fail "bf16 resume: $err"
h5dump -H -d /optimizer/state "$TMP/part/step-00000116.h5" 2>/dev/null | grep -q H5T_IEEE_F32LE && pass "bf16 checkpoint keeps fp32 optimizer state" || fail "optimizer state type: $(h5dump -H -g /optimizer "$TMP/part/step-00000116.h5" | head -20)"

# The precision may change on resume, and the change is printed.
mkdir -p "$TMP/switch" && cp "$TMP/part/step-00000045.h5" "$TMP/switch/"
run 2 120 train "${ARGS[@]}" --precision fp32 --checkpoint-dir "$TMP/switch" --resume
[[ $status -eq 0 ]] && grep -q "resume: --precision fp32 (the checkpoint had bf16)" <<<"$out" && pass "bf16 checkpoint resumed at fp32, change printed" || fail "switch: $out $err"
acc=$(final_metric test_accuracy)
at_least "$acc" 0.85 "accuracy after switching precision on resume"

# A checkpoint of a dtrain older than --precision ran at fp32: resumed in
# bf16, the change is said all the same.
# (The checkpoint's checksum covers /config, so the older file is written
# without the option by the test binary, not edited afterwards.)
DTRAIN_TEST_UNSAVED_OPTION=precision DTRAIN=$DTRAIN_TEST_BIN \
  run 2 120 train "${ARGS[@]}" --checkpoint-dir "$TMP/old" --stop-at-step 45
[[ $status -eq 75 ]] && ! h5dump -A -g /config "$TMP/old/step-00000045.h5" | grep -q '"precision"' \
  || fail "could not write a checkpoint without /config precision: $status $err"
run 2 120 train "${ARGS[@]}" --precision bf16 --checkpoint-dir "$TMP/old" --resume
[[ $status -eq 0 ]] && grep -q "resume: --precision bf16 (the checkpoint had fp32)" <<<"$out" && pass "older checkpoint resumed in bf16, change printed" || fail "older checkpoint: $out $err"
grep -q "parameters, bf16)" <<<"$out" && pass "the model line names the precision" || fail "model line: $out"

# An older CPU: AVX-512 without AVX512_BF16 runs emulated with one warning;
# AVX2 only refuses.
with "${ARGS[@]}" -- --precision bf16 --epochs 1
DNNL_MAX_CPU_ISA=AVX512_CORE run 1 120 train "${W[@]}"
[[ $status -eq 0 ]] && grep -q "no native bf16" <<<"$err" && pass "emulated bf16 runs with a warning" || fail "emulated bf16: status $status: $err"
DNNL_MAX_CPU_ISA=AVX2 expect_error 2 2 "--precision bf16 needs AVX-512" train "${ARGS[@]}" --precision bf16
with "${ARGS[@]}" -- --epochs 1
DNNL_MAX_CPU_ISA=AVX2 run 1 120 train "${W[@]}"
[[ $status -eq 0 ]] && pass "fp32 runs on an AVX2-only oneDNN" || fail "fp32 on AVX2: $err"
expect_error 1 2 "precision" train "${ARGS[@]}" --precision fp16

finish
