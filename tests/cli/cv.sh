#!/usr/bin/env bash
# dtrain cv: the same table at any rank count and --ranks-per-trial, failing
# trials reported without stopping the search, the CSV, the refit model, and
# bad --grid options rejected with one message.  (That the folds partition the
# samples and keep class proportions is checked in tests/check_cv.c.)
source "$(dirname "$0")/lib.sh"

BC=$DATA/breast-cancer.h5
# Two configurations x 3 folds; small and few epochs so that the metrics agree
# to the 4 printed decimals at every rank count (checked for seeds 1-5 at
# 1-4 ranks with 1 and 2 ranks per trial).
ARGS=(cv --data "$BC" --output sigmoid --folds 3 --grid 'optimizer=adam|sgd' --lr 0.01
      --layers 16:relu --epochs 5)
table() { sed -n '/^validation/,/^best:/p' <<<"$out"; }

run 1 120 "${ARGS[@]}" --out "$TMP/np1.csv"
[[ $status -eq 0 ]] || fail "np=1: status $status: $err"
ref=$(table)
[[ $(grep -c '^ *[0-9] ' <<<"$ref") -eq 2 ]] && pass "np=1: a table of 2 configurations" || fail "table: $out"
grep -q '^validation auc per fold (higher is better)' <<<"$ref" && pass "auc is the sigmoid default, higher is better" || fail "metric line: $ref"
grep -q '455 samples x 30 features, 3 stratified folds' <<<"$out" && pass "3 stratified folds of the 455 training samples" || fail "header: $out"
for spec in "2 1" "2 2" "3 2" "4 1" "4 2"; do
  set -- $spec
  run "$1" 180 "${ARGS[@]}" --ranks-per-trial "$2" --out "$TMP/np$1r$2.csv"
  if [[ $status -ne 0 ]]; then
    fail "np=$1 --ranks-per-trial $2: status $status: $err"
  elif [[ "$(table)" == "$ref" ]]; then
    pass "np=$1 --ranks-per-trial $2: same table as at 1 rank"
  else
    fail "np=$1 --ranks-per-trial $2: table differs:"$'\n'"$(table)"$'\n'"vs"$'\n'"$ref"
  fi
  cmp -s "$TMP/np1.csv" "$TMP/np$1r$2.csv" && pass "np=$1 --ranks-per-trial $2: same CSV" || fail "np=$1 r=$2: CSV differs"
  # nothing printed twice, no epoch lines of the trials
  [[ $(grep -c '^best:' <<<"$out") -eq 1 && $(grep -c '^epoch' <<<"$out") -eq 0 ]] || fail "np=$1 r=$2: repeated or trial lines: $out"
  if [[ $1 -eq 3 && $2 -eq 2 ]]; then
    [[ $(grep -c 'rank idle' <<<"$out") -eq 1 ]] && pass "np=3 --ranks-per-trial 2: the idle rank is mentioned once" || fail "idle: $out"
  fi
done

# The CSV: a header, one row per configuration, the same values as the table.
csv=$(cat "$TMP/np1.csv")
[[ "$(head -1 <<<"$csv")" == "rank,optimizer,fold1,fold2,fold3,mean,std,metric,status" ]] && pass "CSV header" || fail "CSV header: $csv"
[[ $(wc -l <<<"$csv") -eq 3 && $(grep -c ',auc,ok$' <<<"$csv") -eq 2 ]] && pass "CSV has 2 rows, both ok" || fail "CSV rows: $csv"
best_csv=$(sed -n '2p' <<<"$csv" | cut -d, -f2,6)
best_tab=$(awk '$1 == 1 { print $2 "," $6 }' <<<"$ref")
[[ -n "$best_csv" && "$best_csv" == "$best_tab" ]] && pass "CSV row 1 matches the table's best ($best_csv)" || fail "CSV '$best_csv' vs table '$best_tab'"
[[ -z $(ls "$TMP" | grep '\.tmp\.') ]] && pass "no temporary file left" || fail "temporaries: $(ls "$TMP")"
# A layer list holds commas: quoted in the CSV.
run 2 120 cv --data "$DATA/iris.h5" --folds 2 --grid 'layers=8:relu|8:relu,4:tanh' --epochs 2 --metric f1 --out "$TMP/iris.csv"
[[ $status -eq 0 ]] && grep -q '"8:relu,4:tanh"' "$TMP/iris.csv" && pass "softmax f1 search; layer list quoted in the CSV" || fail "iris: $status $err $(cat "$TMP/iris.csv" 2>/dev/null)"

# A diverging trial is reported and the search goes on (exit 0).  lr 1e6 with
# plain sgd on the raw diabetes targets overflows in the first epoch (lr 0.01
# trains, without a hidden layer).
DI=(cv --data "$DATA/diabetes.h5" --output linear --layers none --normalize-targets off --folds 3 --grid 'lr=0.01|1e6'
    --optimizer sgd --epochs 3)
for np in 1 2; do
  run $np 120 "${DI[@]}" --out "$TMP/di$np.csv"
  if [[ $status -ne 0 ]]; then
    fail "np=$np diverging trial: status $status: $err"
  else
    grep -q '^ *2  1e6 .*failed: training diverged' <<<"$out" && pass "np=$np: the diverging configuration is ranked last, 'failed: training diverged'" || fail "np=$np: $out"
    grep -q '^best: lr=0.01: rmse ' <<<"$out" && pass "np=$np: best is lr=0.01 (rmse, lower is better)" || fail "np=$np best: $out"
    grep -q '^2,1e6,,,,,,rmse,"\?failed: training diverged' "$TMP/di$np.csv" && pass "np=$np: CSV status of the failed row" || fail "CSV: $(cat "$TMP/di$np.csv")"
  fi
done
# Every configuration failing is an error (exit 1) after the table.
run 2 120 cv --data "$DATA/diabetes.h5" --output linear --normalize-targets off --folds 2 --grid 'lr=1e5|1e6' \
  --optimizer sgd --epochs 2
[[ $status -eq 1 ]] && grep -q 'every configuration failed' <<<"$err" && grep -q '^best: none' <<<"$out" && pass "all failed: table, then exit 1" || fail "all failed: $status $out $err"

# --refit: the best configuration trained on all of /train at every rank, and
# a model dtrain eval accepts.
run 3 180 "${ARGS[@]}" --refit "$TMP/best.h5"
if [[ $status -eq 0 && -f $TMP/best.h5 ]]; then
  pass "--refit wrote $(basename "$TMP/best.h5")"
  best_opt=$(sed -n 's/^best: optimizer=\([a-z]*\):.*/\1/p' <<<"$out")
  grep -q "refit: training optimizer=$best_opt on all 455 training samples at 3 ranks" <<<"$out" && pass "refit uses the best configuration ($best_opt)" || fail "refit line: $out"
  h5dump -a /config/optimizer "$TMP/best.h5" 2>/dev/null | grep -q "\"$best_opt\"" && pass "the saved configuration says optimizer $best_opt" || fail "saved config: $(h5dump -a /config/optimizer "$TMP/best.h5" 2>&1 | tail -3)"
  run 2 60 eval --model "$TMP/best.h5" --data "$BC"
  acc=$(sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  [[ $status -eq 0 ]] && at_least "$acc" 0.9 "dtrain eval of the refit model: test accuracy" || fail "eval of refit model: $status $err"
else
  fail "--refit: status $status: $err"
fi

# Bad options: one message, exit 2, before any training, at 1 and 2 ranks.
for np in 1 2; do
  expect_error $np 2 "--grid 'lrr=0.1|0.01': unknown option --lrr (did you mean --lr?)" cv --data "$BC" --grid 'lrr=0.1|0.01'
  expect_error $np 2 "--grid 'lr=0.1|fast': --lr: expected a number, got 'fast'" cv --data "$BC" --grid 'lr=0.1|fast'
  expect_error $np 2 "--grid 'lr0.1': expected KEY=V1|V2|..." cv --data "$BC" --grid 'lr0.1'
  # a layer list is read when the grid is, like every other value
  expect_error $np 2 "--grid 'layers=8:relu|8:relux': --layers: unknown activation 'relux'" cv --data "$BC" --grid 'layers=8:relu|8:relux'
  expect_error $np 2 "--metric rmse does not apply to --output sigmoid" cv --data "$BC" --output sigmoid --metric rmse
  expect_error $np 2 "--save does not apply to cv" cv --data "$BC" --save "$TMP/x.h5"
done
expect_error 2 2 "--ranks-per-trial 3 is more than the 2 ranks" cv --data "$BC" --ranks-per-trial 3
expect_error 1 2 "--folds 500: the training split has only 455 samples" cv --data "$BC" --folds 500
expect_error 2 2 "--refit $TMP/no/such/dir/m.h5: directory" cv --data "$BC" --refit "$TMP/no/such/dir/m.h5"

finish
