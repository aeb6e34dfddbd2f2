#!/usr/bin/env bash
# Bringing your own CSV: text class labels, ';' found without being named, a
# header, missing values (refused, filled with the /train means, or dropped),
# the label column by name or index, integer labels that are not 0..K-1, a file
# without labels; then train, eval and predict speak in the file's class names
# and fill new data's missing values with the training data's means.
source "$(dirname "$0")/lib.sh"

# 24 wines, 3 cultivars told apart by alcohol (the first feature; malic is
# the same for all three); one missing malic value (line 12), fields with ';'.
W=$TMP/wine.csv
{
  echo "alcohol;malic;cultivar"
  for i in $(seq 0 7); do
    m=$((i * 3 % 8))
    echo "14.$i;1.$m;barolo"
    [[ $i == 3 ]] && echo "12.$i;;grignolino" || echo "12.$i;1.$m;grignolino"
    echo "13.$i;1.$m;barbera"
  done
} >"$W"

# missing values are refused unless asked for, naming the line and column
expect_error 1 2 "wine.csv, line 12, column 2 (malic): missing value" \
  convert --csv "$W" --header --out "$TMP/w.h5"

run 1 60 convert --csv "$W" --header --missing mean --test-fraction 0.25 --out "$TMP/w.h5"
if [[ $status -eq 0 ]] && grep -q "^wrote /train: 18 x 2 float32, 3 classes" <<<"$out" &&
   grep -q "classes 0..2 are barbera, barolo, grignolino" <<<"$out"; then
  pass "text labels with ';' and a header: 3 classes named in sorted order"
else
  fail "convert wine: status $status: $out $err"
fi
h5dump -d /classes "$TMP/w.h5" | grep -q '"barbera", "barolo", "grignolino"' &&
  pass "/classes holds the names" || fail "/classes: $(h5dump -d /classes "$TMP/w.h5" 2>&1)"
run 1 60 inspect "$TMP/w.h5"
grep -q "^  classes          0 barbera, 1 barolo, 2 grignolino$" <<<"$out" &&
  grep -q "/train: .*label counts: barbera:6 barolo:5 grignolino:7$" <<<"$out" &&
  pass "inspect names the classes and counts labels by name" || fail "inspect: $out $err"
h5dump -d /features "$TMP/w.h5" | grep -q '"alcohol", "malic"' &&
  pass "/features holds the header's names" || fail "/features"
h5dump -d /missing_fill "$TMP/w.h5" >/dev/null 2>&1 && pass "/missing_fill stored" ||
  fail "no /missing_fill"

# label column by name and by index: the same file
run 1 60 convert --csv "$W" --header --missing mean --label-column cultivar --out "$TMP/byname.h5"
s1=$status
run 1 60 convert --csv "$W" --header --missing mean --label-column 2 --out "$TMP/byindex.h5"
if [[ $s1 -eq 0 && $status -eq 0 ]] && cmp -s <(h5dump -d /train/X -d /train/y -d /classes "$TMP/byname.h5" | tail -n +2) \
          <(h5dump -d /train/X -d /train/y -d /classes "$TMP/byindex.h5" | tail -n +2); then
  pass "--label-column cultivar and --label-column 2 give the same data"
else
  fail "--label-column by name and by index differ"
fi
run 1 60 convert --csv "$W" --header --delimiter ';' --missing drop --test-fraction 0 --out "$TMP/drop.h5"
grep -q "wrote /train: 23 x 2 float32, 3 classes" <<<"$out" &&
  grep -q "left out 1 row with missing values" <<<"$out" &&
  pass "--delimiter ';' --missing drop: 23 of 24 rows" || fail "drop: $out $err"
# the label column's name must be one of the header's
expect_error 1 2 "--label-column cultivr: " \
  convert --csv "$W" --header --missing mean --label-column cultivr --out "$TMP/x.h5"

# train (checkpointing), then the model and its checkpoints keep the names
M=$TMP/wine-model.h5
run 2 120 train --data "$TMP/w.h5" --layers 16:tanh --epochs 60 --lr 0.05 --optimizer adam \
  --batch-size 8 --save "$M" --checkpoint-dir "$TMP/ckpt" --checkpoint-every-epoch
[[ $status -eq 0 ]] && pass "trained on the converted CSV" || fail "train: $err"
h5dump -d /classes "$M" | grep -q '"barbera", "barolo", "grignolino"' &&
  pass "the model keeps /classes" || fail "model has no /classes"
ck=$(ls "$TMP"/ckpt/*.h5 2>/dev/null | head -1)
[[ -n $ck ]] && h5dump -d /classes "$ck" | grep -q '"barbera", "barolo", "grignolino"' &&
  pass "checkpoints keep /classes" || fail "checkpoint $ck has no /classes"
mf=$(h5dump -d /missing_fill "$M" 2>/dev/null | grep -A3 DATA)
if [[ -n $mf && $mf == "$(h5dump -d /missing_fill "$TMP/w.h5" | grep -A3 DATA)" ]]; then
  pass "the model keeps the data's /missing_fill"
else
  fail "model /missing_fill differs from the data's"
fi
run 1 60 eval --model "$M" --data "$TMP/w.h5"
grep -q "classes: 0 barbera, 1 barolo, 2 grignolino" <<<"$out" &&
  pass "eval lists the class names" || fail "eval: $out $err"
# the per-class rows and the confusion matrix by name (test rows: 2 barbera,
# 3 barolo, 1 grignolino, each column as wide as "grignolino")
grep -q "^   barbera   [0-9.]*   [0-9.]*   [0-9.]*          2 " <<<"$out" &&
  grep -q "^grignolino   [0-9.]*   [0-9.]*   [0-9.]*          1 " <<<"$out" &&
  grep -q "^              barbera     barolo grignolino$" <<<"$out" &&
  grep -qE "^    barolo +[0-9]+ +[0-9]+ +[0-9]+$" <<<"$out" &&
  pass "eval's per-class table and confusion matrix name the classes" || fail "eval table: $out"
run 1 60 eval --model "$M" --data "$TMP/w.h5" --json
# one JSON object on one line, its "classes" the names
if [[ $(wc -l <<<"$out") -eq 1 ]] && python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["classes"] == ["barbera", "barolo", "grignolino"], r["classes"]
assert len(r["metrics"]["confusion"]) == 3' "$out"; then
  pass "eval --json: one line, with the class names as \"classes\""
else
  fail "eval --json: $out $err"
fi

# new samples without labels, one with a missing value; predict names the
# classes, and fills the missing value as the training data was filled: the
# row with 'NA' gets the same outputs as the row with the stored mean typed in
fill=$(h5dump -y -d /missing_fill -m %.17g "$M" | sed -n '/DATA {/,/}/p' | tr -d ' ,' |
  grep -E '^[0-9.e+-]+$' | sed -n 2p)
N=$TMP/new.csv
printf 'alcohol;malic\n14.5;NA\n14.5;%s\n12.2;1.2\n14.5;-30\n' "$fill" >"$N"
run 1 60 convert --csv "$N" --header --no-labels --missing mean --out "$TMP/new.h5"
grep -q "wrote /test: 4 x 2 float32, no labels" <<<"$out" &&
  pass "--no-labels: all rows to /test" || fail "no-labels convert: $out $err"
run 2 60 predict --model "$M" --data "$TMP/new.h5" --out "$TMP/pred.csv"
if [[ $status -eq 0 ]] && [[ $(head -1 "$TMP/pred.csv") == class,class_name,p_barbera,p_barolo,p_grignolino ]]; then
  pass "predict on a file without labels writes class, class_name and p_<name>"
else
  fail "predict: $status $err $(cat "$TMP/pred.csv" 2>/dev/null)"
fi
r1=$(sed -n 2p "$TMP/pred.csv"); r2=$(sed -n 3p "$TMP/pred.csv")
r4=$(sed -n 5p "$TMP/pred.csv") # malic moves the outputs: the comparison can fail
[[ -n $fill && -n $r1 && $r1 == "$r2" && $r1 != "$r4" ]] &&
  pass "a missing value is filled with the model's mean ($fill)" ||
  fail "fill: '$r1' vs '$r2', '$r4' (fill '$fill')"
awk -F, 'NR > 1 { n++; if (!(($1 == 0 && $2 == "barbera") || ($1 == 1 && $2 == "barolo") || ($1 == 2 && $2 == "grignolino"))) bad++ }
         END { exit !(n == 4 && !bad) }' "$TMP/pred.csv" &&
  pass "class_name is the name of class" || fail "class names: $(cat "$TMP/pred.csv")"
# alcohol 14.5 is a barolo, 12.2 a grignolino (the training data's rule)
[[ $(cut -d, -f2 "$TMP/pred.csv" | sed -n 2,4p | tr '\n' ' ') == "barolo barolo grignolino " ]] &&
  pass "predicted names: barolo barolo grignolino" || fail "predicted: $(cat "$TMP/pred.csv")"
run 1 60 predict --model "$M" --data "$TMP/new.h5" --out "$TMP/pred.h5"
h5dump -d /class_name "$TMP/pred.h5" | grep -q '"barolo", "barolo", "grignolino",' &&
  pass "predict .h5 writes /class_name" || fail "/class_name: $(h5dump -d /class_name "$TMP/pred.h5" 2>&1 | tail -3)"

# integer labels 1/2: two classes, and predict writes 1/2 back
B=$TMP/binary.csv
for i in $(seq 0 9); do echo "0.$i,1"; echo "5.$i,2"; done >"$B"
run 1 60 convert --csv "$B" --test-fraction 0 --out "$TMP/b.h5"
grep -q "wrote /train: 20 x 1 float32, 2 classes$" <<<"$out" && grep -q "classes 0..1 are 1, 2" <<<"$out" &&
  pass "labels 1/2 give 2 classes" || fail "labels 1/2: $out $err"
run 1 120 train --data "$TMP/b.h5" --test-group /train --epochs 80 --lr 0.1 --optimizer adam \
  --batch-size 4 --save "$TMP/b-model.h5"
run 1 60 predict --model "$TMP/b-model.h5" --data "$TMP/b.h5" --group /train --out "$TMP/b.csv"
paste -d, <(tail -n +2 "$TMP/b.csv" | cut -d, -f1,2) <(cut -d, -f2 "$B") |
  awk -F, '{ n++; if ($2 != $1 + 1) bad++; if ($2 == $3) right++ } END { exit !(n == 20 && !bad && right == 20) }' &&
  pass "predict writes back the original labels 1/2 (all 20 right)" || fail "1/2 predictions: $(head -5 "$TMP/b.csv")"
# the probability columns are named after the classes (here 1 and 2), not numbered
[[ $(head -1 "$TMP/b.csv") == class,class_name,p_1,p_2 ]] &&
  pass "predict's columns p_1,p_2 are the labels' names" || fail "header: $(head -1 "$TMP/b.csv")"

# names that are no plain column names: blanks, commas and quotes become '_',
# UTF-8 stays, and two names made equal keep apart by their class number
printf '0.1,"a,b"\n0.2,a b\n0.3,ros\xc3\xa9\n0.4,"say ""hi"""\n' >"$TMP/odd.csv"
run 1 60 convert --csv "$TMP/odd.csv" --test-fraction 0 --out "$TMP/odd.h5"
run 1 60 train --data "$TMP/odd.h5" --epochs 1 --save "$TMP/odd-model.h5"
run 1 60 predict --model "$TMP/odd-model.h5" --data "$TMP/odd.h5" --group /train --out "$TMP/odd.csv"
[[ $status -eq 0 && $(head -1 "$TMP/odd.csv") == "class,class_name,p_a_b,p_a_b_1,p_ros$(printf '\xc3\xa9'),p_say__hi_" ]] &&
  pass "odd class names make safe, distinct column names" || fail "odd names: $status $err $(head -1 "$TMP/odd.csv")"

# a file of features only, converted as if its last column were class labels,
# is refused with a pointer to --no-labels (it used to become 1481 "classes");
# --label-type auto (the default) reads such a column as float targets
printf '0.1,0.25,0.3\n0.4,0.5,0.61\n' >"$TMP/features.csv"
expect_error 1 2 "line 1, column 3: label 0.3 is a number but not an integer; give --label-type float (or auto) for regression targets, or --no-labels" \
  convert --csv "$TMP/features.csv" --label-type class --out "$TMP/x.h5"

# a model without fill values refuses data with missing values, naming it
printf '0.5\nNA\n' >"$TMP/new1.csv"
# (convert says that it kept the missing value as NaN, and what fills it)
run 1 60 convert --csv "$TMP/new1.csv" --no-labels --missing mean --out "$TMP/new1.h5"
grep -q "^kept 1 missing value as NaN in /test/X: predict and eval fill them with the model's /missing_fill" <<<"$out" &&
  pass "convert --no-labels --missing mean says it kept NaN" || fail "convert NaN note: $out $err"
expect_error 1 2 "new1.h5: /test/X row 1 column 0 is missing (NaN), and the model $TMP/b-model.h5 has no /missing_fill to fill it with (its training data was not converted with --missing mean): fill the value in, or leave the row out (dtrain convert --missing drop)" \
  predict --model "$TMP/b-model.h5" --data "$TMP/new1.h5" --out "$TMP/x.csv"

# a missing input: exit 2, one message naming it, and no output written
echo keep >"$TMP/keep.h5"
expect_error 1 2 "missing.csv: No such file or directory" convert --csv "$TMP/missing.csv" --out "$TMP/keep.h5"
[[ $(cat "$TMP/keep.h5") == keep ]] && pass "existing output untouched" || fail "output damaged"

finish
