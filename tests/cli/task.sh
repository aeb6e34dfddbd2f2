#!/usr/bin/env bash
# The task read from the data.  Without --output, train and cv choose the head
# from /train/y's type and say so in one line (float targets: linear; integer
# class labels: softmax); a given --output that contradicts y is refused with
# exit 2 and a message naming both.  convert --label-type auto tells labels
# from quantities by a documented rule (convert_label_rule), prints and
# stores its decision; --label-type class|float overrides it.
source "$(dirname "$0")/lib.sh"

MAKE_BAD_H5=${MAKE_BAD_H5:-$(dirname "$DTRAIN")/tests/make_bad_h5}
[[ -x $MAKE_BAD_H5 ]] || { echo "FAIL: $MAKE_BAD_H5 not built"; exit 1; }
# attr FILE NAME: a string attribute of "/" (h5dump prints it quoted)
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)"$/\1/p'; }

# --- head inference -----------------------------------------------------------
run 2 120 train --data "$DATA/diabetes.h5" --epochs 2
[[ $status -eq 0 ]] && grep -q "diabetes.h5 /train/y holds float32 targets: linear output (regression), chosen from the data" <<<"$out" \
  && grep -q "model 10-100-1 (linear output" <<<"$out" && grep -q "test_rmse" <<<"$out" \
  && pass "diabetes.h5 without --output: linear head, said in one line" \
  || fail "diabetes without --output: $status $out $err"

run 2 120 train --data "$DATA/iris.h5" --epochs 2
[[ $status -eq 0 ]] && grep -q "iris.h5 /train/y holds int32 class labels: softmax output, chosen from the data" <<<"$out" \
  && grep -q "model 4-100-3 (softmax output" <<<"$out" \
  && pass "iris.h5 without --output: softmax head, said in one line" \
  || fail "iris without --output: $status $out $err"

# cv chooses the same way (diabetes: the metric is rmse, not accuracy)
run 2 120 cv --data "$DATA/diabetes.h5" --folds 2 --epochs 2
[[ $status -eq 0 ]] && grep -q "linear output (regression), chosen from the data" <<<"$out" \
  && grep -qi "rmse" <<<"$out" && pass "cv without --output on diabetes: linear, ranked by rmse" \
  || fail "cv diabetes without --output: $status $out $err"

# the chosen head is what the model records: inspect --config names it
run 2 120 train --data "$DATA/diabetes.h5" --epochs 1 --save "$TMP/d.h5"
run 1 60 inspect --config "$TMP/d.h5"
grep -q "^output: linear" <<<"$out" && pass "the saved configuration records output: linear" \
  || fail "inspect --config of an inferred head: $out $err"

# float targets of whole numbers that look like class labels: linear, with a hint
"$MAKE_BAD_H5" "$TMP/f01.h5" /train/X:f32:8x2:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 \
  /train/y:f32:8:0,1,0,1,0,1,0,1 || fail "fixture f01.h5"
run 1 60 train --data "$TMP/f01.h5" --epochs 1
[[ $status -eq 0 ]] && grep -q "linear output (regression), chosen from the data; its values are 2 distinct whole numbers: if they are class labels, give --output softmax" <<<"$out" \
  && pass "float y of 0/1: linear, with the hint to give --output softmax" \
  || fail "float 0/1 targets: $status $out $err"

# --- refusals: exit 2, one message naming the head and the data ----------------
"$MAKE_BAD_H5" "$TMP/frac.h5" /train/X:f32:4x2 /train/y:f32:4:0,1,0.5,1 || fail "fixture frac.h5"
for head in softmax sigmoid; do
  for np in 1 2; do
    expect_error $np 2 "--output $head needs class labels (whole numbers >= 0), but $TMP/frac.h5 /train/y holds float32 targets (row 2 is 0.5)" \
      train --data "$TMP/frac.h5" --output $head
  done
done
for np in 1 2; do
  expect_error $np 2 "--output linear on class labels: $DATA/iris.h5 /train/y holds int32 class labels" \
    train --data "$DATA/iris.h5" --output linear
done
expect_error 2 2 "--output linear on class labels" cv --data "$DATA/iris.h5" --output linear --folds 2
# a file naming its classes: linear is refused whatever y's type
printf 'a,b,label\n1,2,cat\n2,3,dog\n3,1,cat\n4,4,dog\n5,2,cat\n6,1,dog\n' >"$TMP/pets.csv"
run 1 60 convert --csv "$TMP/pets.csv" --header --test-fraction 0 --out "$TMP/pets.h5"
expect_error 1 2 "/train/y holds int32 class labels named in /classes" \
  train --data "$TMP/pets.h5" --output linear
# and the float file: linear trains
run 1 60 train --data "$TMP/frac.h5" --output linear --epochs 1
[[ $status -eq 0 ]] && pass "--output linear on float targets trains" || fail "frac linear: $status $err"

# --- convert: labels or quantities ---------------------------------------------
# diabetes as a CSV: the target column holds integers (25..346), 214 distinct
# values in 442 rows: a quantity -> float targets
for g in train test; do
  paste -d, <(h5_values "$DATA/diabetes.h5" /$g/X | paste -d, - - - - - - - - - -) \
    <(h5_values "$DATA/diabetes.h5" /$g/y)
done >"$TMP/diab.csv"
[[ $(wc -l <"$TMP/diab.csv") -eq 442 ]] || fail "diab.csv has $(wc -l <"$TMP/diab.csv") rows"
run 1 60 convert --csv "$TMP/diab.csv" --out "$TMP/diab.h5"
[[ $status -eq 0 ]] && grep -q "^labels: float targets (auto: 214 distinct integers in 442 rows (2.1 rows per value): many values, each rare: a quantity)" <<<"$out" \
  && grep -q "float targets in \[" <<<"$out" \
  && pass "convert: diabetes' integer target column becomes float targets" \
  || fail "convert diabetes CSV: $status $out $err"
[[ $(attr "$TMP/diab.h5" label_type) == float ]] && attr "$TMP/diab.h5" label_rule | grep -q "^auto: 214 distinct integers" \
  && pass "the decision is stored (label_type float, label_rule)" \
  || fail "attributes: '$(attr "$TMP/diab.h5" label_type)' '$(attr "$TMP/diab.h5" label_rule)'"
h5dump -H -d /train/y "$TMP/diab.h5" | grep -q "H5T_IEEE_F32LE" && pass "diab.h5 /train/y is float32" \
  || fail "diab.h5 /train/y type"
run 2 120 train --data "$TMP/diab.h5" --epochs 2
[[ $status -eq 0 ]] && grep -q "model 10-100-1 (linear output" <<<"$out" \
  && pass "train on the converted diabetes: linear, no 214-class model" || fail "train diab.h5: $status $out $err"

# iris-like: three integers 0..2, many rows each -> classes, quietly
awk 'BEGIN { for (i = 0; i < 60; i++) print i % 7 "," (i * 3) % 11 "," i % 3 }' >"$TMP/cls.csv"
run 1 60 convert --csv "$TMP/cls.csv" --out "$TMP/cls.h5"
[[ $status -eq 0 ]] && grep -q "^labels: classes (auto: 3 distinct integers in 60 rows (20.0 rows per value, values 0..K-1 or 1..K): class labels)" <<<"$out" \
  && ! grep -q warning <<<"$err" && [[ $(attr "$TMP/cls.h5" label_type) == class ]] \
  && pass "convert: few distinct integers 0..2 become classes, no warning" \
  || fail "convert class labels: $status $out $err"

# a close call: 12 values 3..14, 6 rows each -> classes with a warning naming --label-type float
awk 'BEGIN { for (i = 0; i < 72; i++) print i "," 3 + i % 12 }' >"$TMP/close.csv"
run 1 60 convert --csv "$TMP/close.csv" --out "$TMP/close.h5"
[[ $status -eq 0 ]] && grep -q "classes, by a close call" <<<"$out" \
  && grep -q "warning: .*--label-type float" <<<"$err" \
  && pass "convert: a close call is classes with a warning naming --label-type float" \
  || fail "convert close call: $status $out $err"

# non-integers: float targets; text: classes
printf '1,0.5\n2,1.5\n3,2\n4,0.25\n' >"$TMP/frac.csv"
run 1 60 convert --csv "$TMP/frac.csv" --test-fraction 0 --out "$TMP/fracc.h5"
[[ $status -eq 0 ]] && grep -q "^labels: float targets (auto: numbers that are not all integers (line 1: 0.5): float targets)" <<<"$out" \
  && pass "convert: non-integer labels become float targets" || fail "convert non-integers: $status $out $err"
grep -q "^labels: classes (auto: text labels: classes)" <<<"$(run 1 60 convert --csv "$TMP/pets.csv" --header --test-fraction 0 --out "$TMP/pets2.h5"; echo "$out")" \
  && pass "convert: text labels become classes" || fail "convert text labels"

# --label-type overrides the rule both ways
run 1 60 convert --csv "$TMP/diab.csv" --label-type class --out "$TMP/diabc.h5"
[[ $status -eq 0 ]] && grep -q "^labels: classes (--label-type class)" <<<"$out" \
  && [[ $(attr "$TMP/diabc.h5" label_type) == class ]] \
  && pass "--label-type class keeps diabetes' integers as classes" || fail "--label-type class: $status $out $err"
expect_error 1 2 "--output linear on class labels" train --data "$TMP/diabc.h5" --output linear
run 1 60 convert --csv "$TMP/cls.csv" --label-type float --out "$TMP/clsf.h5"
[[ $status -eq 0 ]] && grep -q "^labels: float targets (--label-type float)" <<<"$out" \
  && [[ $(attr "$TMP/clsf.h5" label_type) == float ]] \
  && pass "--label-type float makes class-like integers targets" || fail "--label-type float: $status $out $err"
run 1 60 convert --csv "$TMP/cls.csv" --label-type int --out "$TMP/clsi.h5"
[[ $status -eq 0 ]] && grep -q "^labels: classes (--label-type class)" <<<"$out" \
  && pass "--label-type int is still read (as class)" || fail "--label-type int: $status $out $err"
expect_error 1 2 "label 0.5 is a number but not an integer" \
  convert --csv "$TMP/frac.csv" --label-type class --test-fraction 0 --out "$TMP/x.h5"

finish
