#!/usr/bin/env bash
# Bad input to `dtrain train` and `dtrain convert`: one clear message from rank 0,
# exit status 2, no hang, and existing files left untouched -- at 1 and 2 ranks.
source "$(dirname "$0")/lib.sh"

IRIS=$DATA/iris.h5
BC=$DATA/breast-cancer.h5
printf 'not hdf5\n' >"$TMP/text.h5"
head -c 2000 "$IRIS" >"$TMP/truncated.h5"
mkdir -p "$TMP/ro" && echo precious >"$TMP/ro/keep.h5"
# a model of another architecture, for --init-from
run 1 60 train --data "$IRIS" --layers 4:relu --epochs 1 --save "$TMP/other.h5"
[[ $status -eq 0 ]] || fail "could not make the fixture model: $err"
# a pre-existing output that a failing run must not touch
echo "precious bytes" >"$TMP/existing.h5"
before=$(sha256sum "$TMP/existing.h5")

for np in 1 2; do
  expect_error $np 2 "--data FILE.h5 is required (see dtrain train --help)" train --layers 4:relu
  expect_error $np 2 "no such file" train --data "$TMP/nope.h5"
  # a CSV given as data is pointed at the converter
  expect_error $np 2 "text.h5: not an HDF5 file (or truncated/corrupt); CSV or IDX data becomes one with 'dtrain convert --csv FILE --out FILE.h5'" train --data "$TMP/text.h5"
  expect_error $np 2 "truncated.h5" train --data "$TMP/truncated.h5"
  expect_error $np 2 "did you mean --epochs" train --data "$IRIS" --epoch 3
  # a repeated option is refused (it used to take the last value silently)
  expect_error $np 2 "--data given twice" train --data "$IRIS" --data "$TMP/nope.h5"
  expect_error $np 2 "--save given twice" train --data "$IRIS" --save "$TMP/a.h5" --save "$TMP/b.h5"
  expect_error $np 2 "--file given twice" inspect "$IRIS" --file "$IRIS"
  expect_error $np 2 "--lr: -1 is out of range" train --data "$IRIS" --lr -1
  expect_error $np 2 "--epochs: 0 is out of range" train --data "$IRIS" --epochs 0
  expect_error $np 2 "--batch-size: 0 is out of range" train --data "$IRIS" --batch-size 0
  expect_error $np 2 "--layers: '64relu' should be WIDTH:ACTIVATION" train --data "$IRIS" --layers 64relu
  expect_error $np 2 "unknown activation 'swish'" train --data "$IRIS" --layers 8:swish
  expect_error $np 2 "needs a value" train --data "$IRIS" --lr
  expect_error $np 2 "not one of softmax|sigmoid|linear" train --data "$IRIS" --output logistic
  expect_error $np 2 "no group '/nothere'" train --data "$IRIS" --train-group /nothere
  expect_error $np 2 "--output sigmoid needs labels 0 or 1" train --data "$IRIS" --output sigmoid
  expect_error $np 2 "--momentum applies to --optimizer sgd, momentum, nesterov and rmsprop only" train --data "$IRIS" --optimizer adam --momentum 0.9
  expect_error $np 2 "with --drop-last leaves no batch" train --data "$IRIS" --batch-size 1000 --drop-last
  expect_error $np 2 "architecture differs" train --data "$IRIS" --layers 8:relu --init-from "$TMP/other.h5"
  expect_error $np 2 "not writable" train --data "$IRIS" --save "$TMP/missing-dir/model.h5"
  expect_error $np 2 "unknown command 'trian' (did you mean 'train'?)" trian --data "$IRIS"
  # a failure after --save was accepted must leave the existing file as it was
  expect_error $np 2 "--output sigmoid needs labels 0 or 1" train --data "$IRIS" --output sigmoid --save "$TMP/existing.h5"
  expect_error $np 2 "convert needs exactly one input" convert --out "$TMP/existing.h5"
done
[[ "$(sha256sum "$TMP/existing.h5")" == "$before" ]] && pass "existing file unchanged" || fail "existing file was modified"

# softmax needs two classes: a data set whose labels are all 0
printf '1,2,0\n3,4,0\n5,6,0\n' >"$TMP/oneclass.csv"
run 1 60 convert --csv "$TMP/oneclass.csv" --test-fraction 0 --out "$TMP/oneclass.h5"
for np in 1 2; do
  expect_error $np 2 "--output softmax needs at least 2" train --data "$TMP/oneclass.h5"
done
finish
