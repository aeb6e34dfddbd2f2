#!/usr/bin/env bash
# What dtrain says when it is used wrongly, beyond bad_input*.sh: each message
# names the option to change and what would be right (the groups a file has,
# the checkpoints a directory holds, the command or option that was meant, the
# script that builds a missing data set), once, with exit status 2.
source "$(dirname "$0")/lib.sh"
IRIS=$DATA/iris.h5

# --- predict/eval on a file without the default group --------------------------
h5copy -i "$IRIS" -o "$TMP/trainonly.h5" -s /train -d /train || fail "h5copy"
run 1 120 train --data "$IRIS" --epochs 1 --optimizer sgd --save "$TMP/m.h5"
[[ $status -eq 0 ]] || fail "training the model: $err"
for np in 1 2; do
  expect_error $np 2 "no group '/test' (the default of --group); groups with an X: /train" \
    predict --model "$TMP/m.h5" --data "$TMP/trainonly.h5" --out "$TMP/p.csv"
done
expect_error 1 2 "no group '/x' (given as --group); groups with an X: /test, /train" \
  eval --model "$TMP/m.h5" --data "$IRIS" --group /x
[[ ! -e $TMP/p.csv ]] && pass "no prediction file written" || fail "$TMP/p.csv written"

# --- eval on a file without labels; a model given as --data ---------------------
printf '5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n' >"$TMP/nolabels.csv"
run 1 60 convert --csv "$TMP/nolabels.csv" --no-labels --out "$TMP/nolabels.h5"
for np in 1 2; do
  expect_error $np 2 "nolabels.h5: /test has no labels (no /test/y): eval scores a model against them; for the model's outputs alone use dtrain predict --model $TMP/m.h5 --data $TMP/nolabels.h5 --out FILE.csv" \
    eval --model "$TMP/m.h5" --data "$TMP/nolabels.h5"
done
for cmd in "train" "eval --model $TMP/m.h5" "predict --out $TMP/p.csv --model $TMP/m.h5"; do
  expect_error 2 2 "m.h5 is a saved dtrain model, not a data file (it has no group '/t" \
    $cmd --data "$TMP/m.h5"
  grep -qF -- "give it as --model to dtrain eval or predict" <<<"$err" ||
    fail "$cmd --data MODEL does not point to --model: $err"
done

# --- option ranges in words: > for a bound that is excluded, bounds exact --------
expect_error 1 2 "--lr: -0.1 is out of range: it must be > 0 and <= 1e+06" \
  train --data "$IRIS" --lr -0.1
expect_error 1 2 "--gamma: 0 is out of range: it must be > 0 and <= 1" train --data "$IRIS" --gamma 0
expect_error 1 2 "--beta2: 1 is out of range: it must be >= 0 and <= 0.99999999" \
  train --data "$IRIS" --beta2 1
expect_error 1 2 "--epochs: 0 is out of range: it must be >= 1 and <= 1000000000" \
  train --data "$IRIS" --epochs 0
run 1 60 train --data "$IRIS" --epochs 1 --lr 1e-30 --optimizer sgd
[[ $status -eq 0 ]] && pass "--lr 1e-30 (> 0) is accepted" || fail "--lr 1e-30: $status $err"

# --- --resume FILE that --keep removed ------------------------------------------
# iris: 120 training samples, batch 32: 4 steps per epoch; with --keep 1 only
# the last epoch's checkpoint (step 12) is left
run 1 120 train --data "$IRIS" --epochs 3 --optimizer sgd --checkpoint-dir "$TMP/ck" --keep 1 \
  --checkpoint-every-epoch
[[ $status -eq 0 ]] || fail "training with checkpoints: $err"
have=$(cd "$TMP/ck" && ls step-*.h5 | paste -sd' ')
[[ $have == step-00000012.h5 ]] && pass "--keep 1 left $have" || fail "checkpoints left: $have"
expect_error 1 2 "no such file; $TMP/ck holds step-00000012.h5 (newest first); '--checkpoint-dir $TMP/ck --resume' (no FILE) takes the newest good one" \
  train --data "$IRIS" --epochs 4 --optimizer sgd --checkpoint-dir "$TMP/ck" \
  --resume "$TMP/ck/step-00000004.h5"
expect_error 1 2 "--resume $TMP/ck: a directory, not a checkpoint; $TMP/ck holds step-00000012.h5" \
  train --data "$IRIS" --epochs 4 --optimizer sgd --resume "$TMP/ck"
expect_error 1 2 "no checkpoint (step-NNNNNNNN.h5) in $TMP/nothing" \
  train --data "$IRIS" --epochs 4 --resume "$TMP/nothing/step-00000004.h5"

# --- a changed optimizer on resume: listed once ---------------------------------
expect_error 1 2 "--optimizer: checkpoint 'sgd', now 'adam'" \
  train --data "$IRIS" --epochs 4 --optimizer adam --checkpoint-dir "$TMP/ck" --resume
n=$(grep -c -i 'optimizer' <<<"$err")
[[ $n -eq 1 ]] && pass "the optimizer's difference is listed once" \
  || fail "the optimizer's difference is listed $n times: $err"

# --- a missing --data file -----------------------------------------------------
# from a directory without the data set, as a fresh clone is
mkdir -p "$TMP/fresh/datasets"
cd "$TMP/fresh" || fail "cd"
expect_error 1 2 "--data datasets/fashion-mnist.h5: no such file; datasets/fashion-mnist.sh builds" \
  train --data datasets/fashion-mnist.h5 --epochs 1
cd - >/dev/null || fail "cd -"
for cmd in train cv; do
  expect_error 1 2 "--data $TMP/none.h5: no such file" $cmd --data "$TMP/none.h5"
done
expect_error 1 2 "--data $TMP/none.h5: no such file" eval --data "$TMP/none.h5" --model "$TMP/m.h5"
expect_error 1 2 "--data $TMP/none.h5: no such file" predict --data "$TMP/none.h5" \
  --model "$TMP/m.h5" --out "$TMP/p.csv"

# --- commands: every one, misspelt, gets a suggestion ---------------------------
commands=$("$DTRAIN" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
[[ $(wc -w <<<"$commands") -ge 7 ]] || fail "commands from --help: '$commands'"
for c in $commands; do
  typo=${c:0:1}${c:2:1}${c:1:1}${c:3} # the 2nd and 3rd letters swapped
  [[ ${#c} -le 2 ]] && typo=${c}x    # cv -> cvx
  expect_error 1 2 "unknown command '$typo' (did you mean '$c'?)" $typo
  expect_error 1 2 "unknown command '$typo' (did you mean '$c'?)" help $typo
  if cmp -s <("$DTRAIN" help "$c") <("$DTRAIN" "$c" --help); then
    pass "dtrain help $c is dtrain $c --help"
  else
    fail "dtrain help $c differs from dtrain $c --help"
  fi
done
expect_error 1 2 "unknown command 'xyz'" xyz

# --- options other tools spell differently ---------------------------------------
expect_error 1 2 "unknown option --learning-rate (did you mean --lr?)" \
  train --data "$IRIS" --learning-rate 0.1
expect_error 1 2 "unknown option --num-epochs (did you mean --epochs?)" \
  train --data "$IRIS" --num-epochs 3
expect_error 1 2 "unknown option --hidden-layers (did you mean --layers?)" \
  train --data "$IRIS" --hidden-layers 64:relu
expect_error 1 2 "unknown option --batch (did you mean --batch-size?)" train --batch 8

# --- convert's --seed says what it seeds -----------------------------------------
seed=$("$DTRAIN" convert --help | sed -n '/^  --seed/,/^  --[a-z]/p' | head -n -1)
if grep -q '/train' <<<"$seed" && ! grep -q 'weights' <<<"$seed"; then
  pass "convert --help: --seed is the split's"
else
  fail "convert --help: --seed reads '$seed'"
fi
finish
