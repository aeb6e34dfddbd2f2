#!/usr/bin/env bash
# The number of ranks changes only the speed: epoch losses and metrics printed
# at 1, 2, 3 and 4 ranks agree (to the 4 printed decimals), with shuffling on
# and off, for a global batch not divisible by 3 or 4.
source "$(dirname "$0")/lib.sh"

for shuffle in on off; do
  run 1 120 train --data "$DATA/wine.h5" --layers 12:tanh --optimizer sgd --momentum 0.9 --lr 0.05 --epochs 5 --batch-size 10 --shuffle $shuffle
  ref=$(epoch_lines)
  [[ -n "$ref" ]] || fail "no epoch lines at 1 rank: $err"
  for np in 2 3 4; do
    run $np 120 train --data "$DATA/wine.h5" --layers 12:tanh --optimizer sgd --momentum 0.9 --lr 0.05 --epochs 5 --batch-size 10 --shuffle $shuffle
    if [[ "$(epoch_lines)" == "$ref" ]]; then pass "shuffle $shuffle: $np ranks print what 1 rank prints"
    else fail "shuffle $shuffle: $np ranks differ:"$'\n'"$(epoch_lines)"$'\n'"vs"$'\n'"$ref"; fi
    n=$(grep -c '^epoch' <<<"$out")
    [[ $n -eq 5 ]] && pass "one line per epoch at $np ranks (rank 0 only)" || fail "$n epoch lines at $np ranks"
  done
  eval "lines_$shuffle=\"\$ref\""
done
# --metrics: exact over all ranks, so the same figures at 1 to 4 ranks (the
# metrics are computed from outputs evaluated in blocks aligned to global rows).
mlines() { sed -n 's/^\(epoch.*log_loss [0-9.]*\).*/\1/p' <<<"$out"; }
run 1 120 train --data "$DATA/breast-cancer.h5" --output sigmoid --layers 16:relu --optimizer adam --lr 0.001 --epochs 3 --metrics auc,f1,accuracy,log_loss
ref=$(mlines)
grep -q "test_auc" <<<"$ref" || fail "no metrics on the epoch lines: $out"
for np in 2 3 4; do
  run $np 120 train --data "$DATA/breast-cancer.h5" --output sigmoid --layers 16:relu --optimizer adam --lr 0.001 --epochs 3 --metrics auc,f1,accuracy,log_loss
  [[ "$(mlines)" == "$ref" ]] && pass "--metrics at $np ranks = 1 rank" || fail "--metrics at $np: $(mlines) vs $ref"
done
expect_error 2 2 "--metrics" train --data "$DATA/diabetes.h5" --output linear --metrics auc
[[ "$lines_on" != "$lines_off" ]] && pass "--shuffle off changes the order" || fail "--shuffle off had no effect"
finish
