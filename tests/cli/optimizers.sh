#!/usr/bin/env bash
# Every optimizer, schedule and regulariser is selectable from `dtrain train`:
# accuracies on the bundled digits set, learning rates against their formulas,
# vanishing gradients made visible, limits of the second-order methods.
source "$(dirname "$0")/lib.sh"
D=$DATA/digits.h5

# First order, recommended settings (docs/training.md#optimizers): measured 0.980-0.992 test accuracy.
for o in "sgd --lr 0.1" "momentum --lr 0.05" "nesterov --lr 0.05" "adagrad --lr 0.05" \
         "rmsprop --lr 0.001" "rmsprop --lr 0.001 --centered --momentum 0.5" "adam --lr 0.001" "adamw --lr 0.001"; do
  run 2 180 train --data "$D" --layers 64:relu --optimizer $o --epochs 30 --batch-size 32 --seed 1
  at_least "$(final_metric test_accuracy)" 0.96 "digits, --optimizer $o"
done
# Second order, full batch (measured: lbfgs 0.969, bfgs 0.969, newton 0.969).
run 2 180 train --data "$D" --layers 32:relu --optimizer lbfgs --epochs 100
at_least "$(final_metric test_accuracy)" 0.94 "digits, --optimizer lbfgs"
run 2 180 train --data "$D" --layers 16:relu --optimizer bfgs --epochs 60
at_least "$(final_metric test_accuracy)" 0.90 "digits, --optimizer bfgs"
run 2 180 train --data "$D" --layers none --optimizer newton --epochs 5 --l2 1e-3
at_least "$(final_metric test_accuracy)" 0.94 "digits (softmax regression), --optimizer newton"
expect_error 2 2 "it is limited to 2000 parameters" train --data "$D" --layers 200:relu --optimizer newton
expect_error 2 2 "it is limited to 10000 parameters" train --data "$D" --layers 200:relu,100:relu --optimizer bfgs
expect_error 2 2 "dropout needs a first-order optimizer" train --data "$D" --layers 16:relu:0.5 --optimizer lbfgs

# Schedules: the lr printed is the rate of the epoch's last step (k = 7, 15, 23, 31
# with 8 steps per epoch on iris at batch 16).
lrs() { run 2 60 train --data "$DATA/iris.h5" --layers 8:relu --optimizer sgd --lr 0.1 --epochs 4 --batch-size 16 --schedule "$@"; sed -n 's/.*  lr \([0-9.e-]*\).*/\1/p' <<<"$out" | tr '\n' ' '; }
check_lrs() { local got; got=$(lrs "${@:2}"); [[ "$got" == "$1" ]] && pass "--schedule ${*:2}: lr $got" || fail "--schedule ${*:2}: lr '$got', expected '$1'"; }
check_lrs "0.1 0.05 0.025 0.0125 " step --gamma 0.5 --step-epochs 1             # 0.1 * 0.5^e
check_lrs "0.1 0.05 0.025 0.0125 " exponential --gamma 0.5                     # 0.1 * 0.5^e
check_lrs "0.0783 0.0536 0.0288 0.00409 " linear --lr-min 0.001                # (1-k/32) 0.1 + (k/32) 0.001
check_lrs "0.0887 0.0549 0.0183 0.000241 " cosine                              # 0.05 (1 + cos(pi k/32))
check_lrs "0.008 0.016 0.024 0.032 " constant --warmup-steps 100               # 0.1 (k+1)/100
check_lrs "0.05 0.1 0.1 0.1 " cosine --decay-steps 1000000 --warmup-steps 16   # warmup then ~0.1
# (--monitor val_accuracy: the older spelling of valid_accuracy, still read)
run 2 60 train --data "$DATA/iris.h5" --layers 8:relu --optimizer sgd --lr 0.5 --epochs 12 --batch-size 16 --schedule plateau --plateau-patience 0 --plateau-factor 0.5 --monitor val_accuracy
grep -q "^plateau: valid_accuracy has not improved" <<<"$out" && pass "plateau cuts the rate" || fail "plateau: $out"

# Vanishing gradients: a deep sigmoid net's first layer gets a far smaller
# gradient than its last; with ReLU the first layer's stays comparable.
norms() { run 2 120 train --data "$D" --layers "$1" --optimizer sgd --lr 0.01 --epochs 1 --log-grad-norms; grep '^grad_norms' <<<"$out" | head -1; }
sig=$(norms 32:sigmoid,32:sigmoid,32:sigmoid,32:sigmoid,32:sigmoid,32:sigmoid)
rel=$(norms 32:relu,32:relu,32:relu,32:relu,32:relu,32:relu)
ratio() { awk '{ for (i = 1; i <= NF; i++) if ($i == "layer0") f = $(i+1); else if ($i ~ /^layer/) l = $(i+1); print f / l }' <<<"$1"; }
rs=$(ratio "$sig"); rr=$(ratio "$rel")
awk -v s="$rs" -v r="$rr" 'BEGIN { exit !(s < 1e-3 && r > 0.01) }' && pass "vanishing gradients: first/last layer norm sigmoid $rs, relu $rr" || fail "grad norms: sigmoid $rs ($sig) relu $rr ($rel)"
run 2 60 train --data "$DATA/iris.h5" --layers 8:relu --epochs 1 --batch-size 16 --log-grad-norms 4
[[ $(grep -c '^grad_norms step' <<<"$out") -eq 2 ]] && pass "--log-grad-norms 4 prints every 4 steps" || fail "grad norms every 4: $out"

# Regularisers and clipping run at 1 and 3 ranks and print the same lines.
REG=(--data "$DATA/wine.h5" --layers 32:relu --optimizer adam --lr 0.01 --epochs 5 --batch-size 10)
for opts in "--l2 0.01" "--l1 0.001" "--dropout 0.3" "--layers 32:relu:0.5,16:tanh:0.2" "--clip-norm 0.5" "--clip-value 0.01"; do
  with "${REG[@]}" -- $opts
  run 1 60 train "${W[@]}"
  a=$(epoch_lines); acc1=$(final_metric test_accuracy)
  run 3 60 train "${W[@]}"
  [[ -n "$a" && "$(epoch_lines)" == "$a" ]] && pass "$opts: 3 ranks print what 1 rank prints (accuracy $acc1)" || fail "$opts: differs at 3 ranks"
done

# Early stopping on a carved validation split keeps the best epoch.
run 2 120 train --data "$D" --layers 64:relu --optimizer adam --lr 0.01 --epochs 200 --batch-size 32 --valid-split 0.2 --early-stopping 3
grep -q "valid 287 samples" <<<"$out" && pass "--valid-split 0.2: 287 of 1438 rows, stratified by class" || fail "valid split: $out"
best=$(sed -n 's/^early stopping: keeping the weights of epoch \([0-9]*\) (valid_loss \([0-9.]*\)).*/\2/p' <<<"$out")
last=$(grep -c '^epoch' <<<"$out")
[[ -n "$best" && $last -lt 200 ]] && grep -q "^final: valid_loss $best " <<<"$out" \
  && pass "early stopping after $last epochs, final = best epoch's valid_loss $best" || fail "early stopping: $out"
grep -q "^final: test_loss [0-9.]*  test_accuracy [0-9.]*  (359 samples: /test)" <<<"$out" \
  && pass "the test group is reported once at the end" || fail "no final test line: $out"
expect_error 2 2 "--monitor valid_rmse needs --output linear" train --data "$D" --monitor valid_rmse
finish
