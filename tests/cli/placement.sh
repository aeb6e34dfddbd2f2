#!/usr/bin/env bash
# --data-placement node (one copy per node, the default), rank (a copy per
# rank) and sharded (each rank reads a block of the rows; the rows of its
# batch slice that other ranks hold are fetched at every step).
#
# Reference: the node placement at the same rank count.  The global order and
# the slices do not depend on where the rows live, so the trained model must
# be the same bits (h5diff without -p: exact) at 1 to 4 ranks, for float32 and
# uint8 data, a batch that does not divide the set, a held-out validation
# split, regression, L-BFGS (the full-batch gradient over each rank's rows),
# and a run resumed at another rank count; with --reproducible, sharded at 2-4
# ranks against node at 1.  Sharded memory: with 4 ranks each
# holds a quarter of X, so its peak resident memory is below node's (where
# every rank maps the whole shared copy) by most of 3/4 of X.
source "$(dirname "$0")/lib.sh"

# model NAME: h5diff's exact verdict on the two saved models' weights and
# normalisation (0: the same bits).

# against_node LABEL NP ARGS...: train with node and with sharded placement
# (or PLACE, if set) and compare the saved models.
against_node() {
  local label=$1 np=$2; shift 2
  local other=${PLACE:-sharded} p
  for p in node "$other"; do
    run "$np" 180 train "$@" --data-placement "$p" --progress off --save "$TMP/$label-$p.h5"
    [[ $status -eq 0 ]] || { fail "$label np=$np $p: exit $status: $err"; return; }
  done
  if same_model "$TMP/$label-node.h5" "$TMP/$label-$other.h5"; then
    pass "$label np=$np: $other's model is node's, bit for bit"
  else
    fail "$label np=$np: $other's model differs from node's"
  fi
}

# a uint8 data set (kept uint8 in memory): 1500 rows of 48 bytes, 4 classes
awk 'BEGIN { srand(7); for (i = 0; i < 1500; i++) { c = int(rand() * 4); s = "";
       for (j = 0; j < 48; j++) s = s (int(rand() * 200) + (j % 4 == c ? 55 : 0)) ",";
       print s c } }' >"$TMP/u8.csv"
"$DTRAIN" convert --csv "$TMP/u8.csv" --x-dtype uint8 --out "$TMP/u8.h5" >/dev/null ||
  fail "convert of the uint8 set"

for np in 1 2 3 4; do
  # 1438 rows in batches of 100: the last batch is 38; 100 splits unevenly over 3
  against_node digits $np --data "$DATA/digits.h5" --layers 16:relu --epochs 2 --batch-size 100
  against_node uint8 $np --data "$TMP/u8.h5" --layers 16:relu --epochs 2 --batch-size 77
done
against_node valid-split 3 --data "$DATA/digits.h5" --layers 16:relu --epochs 3 --batch-size 64 \
  --valid-split 0.2 --early-stopping 5
against_node regression 2 --data "$DATA/diabetes.h5" --output linear --layers 8:tanh --epochs 3 \
  --batch-size 50 --metrics rmse,r2
against_node lbfgs 3 --data "$DATA/wine.h5" --optimizer lbfgs --epochs 3
against_node minmax 4 --data "$DATA/iris.h5" --normalize minmax --epochs 3 --batch-size 7 \
  --metrics accuracy,f1
PLACE=rank against_node rank 2 --data "$DATA/wine.h5" --epochs 2 --batch-size 16

# --reproducible: the same bits at any rank count and placement, so sharded
# at 2-4 ranks gives node's model at 1 rank
run 1 120 train --data "$DATA/digits.h5" --layers 16:relu --epochs 2 --batch-size 100 --reproducible \
  --progress off --save "$TMP/repro-1.h5"
for np in 2 3 4; do
  run $np 120 train --data "$DATA/digits.h5" --layers 16:relu --epochs 2 --batch-size 100 --reproducible \
    --data-placement sharded --progress off --save "$TMP/repro-$np.h5"
  same_model "$TMP/repro-1.h5" "$TMP/repro-$np.h5" &&
    pass "--reproducible: sharded at $np ranks is node at 1 rank, bit for bit" ||
    fail "--reproducible: sharded at $np ranks differs from 1 rank: $err"
done

# h5diff can tell models apart (the comparisons above can fail)
run 2 120 train --data "$DATA/digits.h5" --layers 16:relu --epochs 2 --batch-size 100 --seed 2 \
  --data-placement sharded --progress off --save "$TMP/seed2.h5"
same_model "$TMP/digits-node.h5" "$TMP/seed2.h5" && fail "another seed gave the same model" ||
  pass "another seed gives another model"

# --shared-data on|off, the option's former spelling, is still read
run 2 120 train --data "$DATA/wine.h5" --epochs 2 --batch-size 16 --shared-data off --progress off \
  --save "$TMP/old.h5"
[[ $status -eq 0 ]] && same_model "$TMP/old.h5" "$TMP/rank-rank.h5" &&
  [[ "$(h5dump -a /config/data-placement "$TMP/old.h5" 2>/dev/null | grep -c '"rank"')" == 1 ]] &&
  pass "--shared-data off reads as --data-placement rank (and is saved so)" ||
  fail "--shared-data off: exit $status $err"

# a checkpoint of a dtrain older than the rename (/config/shared-data off, no
# data-placement) reads as rank: in inspect --config, and said on a resume
MAKE_BAD_H5=${MAKE_BAD_H5:-$(dirname "$DTRAIN")/tests/make_bad_h5}
O=(--data "$DATA/iris.h5" --checkpoint-dir "$TMP/ck-old" --checkpoint-every-epoch --progress off)
run 2 60 train "${O[@]}" --epochs 2 --data-placement rank
old=$(readlink -f "$TMP/ck-old/latest.h5")
"$MAKE_BAD_H5" --delete-attr "$old" /config data-placement &&
  "$MAKE_BAD_H5" --set-attr-str "$old" /config shared-data off || fail "could not age $old"
grep -qx "data-placement: rank" <<<"$("$DTRAIN" inspect "$old" --config)" &&
  pass "inspect --config: shared-data off reads as data-placement: rank" ||
  fail "inspect --config of an older checkpoint: $("$DTRAIN" inspect "$old" --config 2>&1)"
run 2 60 train "${O[@]}" --epochs 3 --data-placement sharded --resume
grep -qF "resume: --data-placement sharded (the checkpoint had rank)" <<<"$out$err" &&
  pass "resume of an older checkpoint names its placement rank" ||
  fail "resume of an older checkpoint: $out $err"

# a checkpoint resumed at another rank count: the shard follows the rank count
for p in node sharded; do
  A=(--data "$DATA/digits.h5" --layers 16:relu --epochs 3 --batch-size 100 --checkpoint-dir "$TMP/ck-$p"
     --checkpoint-every 7 --data-placement $p --progress off)
  run 2 120 train "${A[@]}" --stop-at-step 21
  run 3 120 train "${A[@]}" --resume --save "$TMP/resumed-$p.h5"
  grep -q "resuming from .* step 21" <<<"$out$err" || fail "$p: no resume at step 21: $out $err"
done
same_model "$TMP/resumed-node.h5" "$TMP/resumed-sharded.h5" &&
  pass "stopped at 2 ranks, resumed at 3: sharded's model is node's" ||
  fail "resumed at another rank count: sharded differs from node"

# memory: 24000 x 256 float32 (23.4 MiB of X) at 4 ranks
awk 'BEGIN { srand(11); for (i = 0; i < 24000; i++) { c = int(rand() * 4); s = "";
       for (j = 0; j < 256; j++) s = s sprintf("%.2f,", rand() + (j % 4 == c ? 0.5 : 0));
       print s c } }' >"$TMP/big.csv"
"$DTRAIN" convert --csv "$TMP/big.csv" --out "$TMP/big.h5" --test-fraction 0.05 >/dev/null ||
  fail "convert of the large set"
rm -f "$TMP/big.csv"
peak() { sed -n 's/^profile memory: peak resident \([0-9.]*\) MB on the largest rank.*/\1/p' <<<"$out"; }
for p in node sharded; do
  run 4 240 train --data "$TMP/big.h5" --layers 16:relu --epochs 1 --batch-size 256 --profile \
    --progress off --data-placement $p
  eval "peak_$p=\$(peak)"
  [[ -n "$(peak)" ]] || fail "$p: no profile memory line: $out $err"
  [[ $p == sharded ]] && fetch=$(grep -o 'fetch [0-9.]*, [0-9.]* ms per step' <<<"$out")
  [[ $p == node ]] && ! grep -q 'fetch' <<<"$out" && pass "node: no fetch on the profile line"
done
echo "peak resident memory of the largest rank, 4 ranks, 23.4 MiB of X: node $peak_node MB, sharded $peak_sharded MB; $fetch"
# sharded holds 5.9 of the 23.4 MiB; half of the 17.6 saved is demanded
at_most "$peak_sharded" "$(awk -v n="$peak_node" 'BEGIN { print n - 8.8 }')" \
  "sharded's peak resident memory (MB) against node's less 8.8"
[[ -n "$fetch" ]] && pass "the profile line gives the fetch: $fetch" || fail "no fetch on the profile line"

# no MPI-IO: one message, exit 2, at every rank count, no hang
for np in 1 2 3; do
  OMPI_MCA_io='^ompio,romio321' expect_error $np 2 "cannot be opened with MPI-IO" \
    train --data "$DATA/iris.h5" --epochs 1 --data-placement sharded
done
# bad data where only some ranks read it: every rank stops with the one message
# 600 rows in blocks of 256: row 590 is the last rank's at 3 ranks
"$MAKE_BAD_H5" "$TMP/nan.h5" /train/X:f32:600x2 /train/y:i32:600 &&
  "$MAKE_BAD_H5" --set-value "$TMP/nan.h5" /train/X 1181 nan || fail "fixture nan.h5"
"$MAKE_BAD_H5" "$TMP/gz.h5" /train/X:f32+gzip:600x2 /train/y:i32:600 &&
  "$MAKE_BAD_H5" --garbage-chunk "$TMP/gz.h5" /train/X || fail "fixture gz.h5"
for np in 1 2 3; do
  expect_error $np 2 "/train/X row 590 column 1 is nan (not finite)" \
    train --data "$TMP/nan.h5" --epochs 1 --data-placement sharded
  expect_error $np 2 "a compressed chunk does not decompress" \
    train --data "$TMP/gz.h5" --epochs 1 --data-placement sharded
done
expect_error 2 2 "'everywhere' is not one of node|rank|sharded" \
  train --data "$DATA/iris.h5" --data-placement everywhere
finish
