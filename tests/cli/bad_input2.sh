#!/usr/bin/env bash
# More bad input (beyond bad_input.sh): malformed data files of every kind,
# bad labels and values, option errors, damaged and foreign checkpoints and
# unwritable outputs.  Each case: exit status 2, one error line from rank 0
# containing the expected text, within 30 s, at 1 and 2 ranks (data checks,
# which ranks agree on, also at 3), and no file that existed before is changed.
# Also two inputs that look wrong but work: fewer samples than ranks, and a
# batch larger than the data set.  Cases run a few at a time (each failing
# mpirun spends ~2 s in its abort handling).
source "$(dirname "$0")/lib.sh"

MAKE_BAD_H5=${MAKE_BAD_H5:-$(dirname "$DTRAIN")/tests/make_bad_h5}
IRIS=$DATA/iris.h5
F=$TMP/fix # fixtures: every file here must be unchanged at the end
FIXTURES=$F # where mk writes
mkdir -p "$F" "$TMP/res"
[[ -x $MAKE_BAD_H5 ]] || { echo "FAIL: $MAKE_BAD_H5 not built"; exit 1; }

mk nox.h5 /train/y:i32:4
mk noy.h5 /train/X:f32:4x2
mk xgroup.h5 /train/X:group /train/y:i32:4
mk x1d.h5 /train/X:f32:4 /train/y:i32:4
mk x3d.h5 /train/X:f32:4x2x2 /train/y:i32:4
mk yrows.h5 /train/X:f32:4x2 /train/y:i32:3
mk empty.h5 /train/X:f32:0x2 /train/y:i32:0
mk nofeat.h5 /train/X:f32:4x0 /train/y:i32:4
mk i16.h5 /train/X:i16:4x2 /train/y:i32:4
mk strx.h5 /train/X:str:4x2 /train/y:i32:4
mk stry.h5 /train/X:f32:4x2 /train/y:str:4
mk neg.h5 /train/X:f32:4x2 /train/y:i32:4:0,1,-1,1
mk frac.h5 /train/X:f32:4x2 /train/y:f32:4:0,1,0.5,1
mk huge.h5 /train/X:f32:4x2 /train/y:i64:4:0,1,5000000,1
mk beyond.h5 /train/X:f32:4x2 /train/y:i32:4:0,1,2,1 /test/X:f32:2x2 /test/y:i32:2:0,7
mk nanx.h5 /train/X:f32:4x3:1,2,3,4,5,6,7,nan,9 /train/y:i32:4:0,1,0,1
mk infx.h5 /train/X:f64:4x3:1,2,3,4,5,6,7,8,9,10,-inf,1 /train/y:i32:4:0,1,0,1
mk nantest.h5 /train/X:f32:4x2 /train/y:i32:4:0,1,0,1 /test/X:f32:2x2:1,2,nan,4 /test/y:i32:2
# for eval with the iris checkpoint: its 4 features (with 2 the fit to the
# model, metadata, is refused before the NaN is read)
mk nantest4.h5 /test/X:f32:2x4:1,2,3,4,nan,6,7,8 /test/y:i32:2
mk nany.h5 /train/X:f32:4x2 /train/y:f32:4:0.5,1,nan,2
mk infy.h5 /train/X:f32:4x2 /train/y:f64:4x2:1,2,3,4,5,inf,7,8
mk hugey.h5 /train/X:f32:4x2 /train/y:f64:4x1:1,2,1e300,4
mk tiny.h5 /train/X:f32:2x2:1,2,3,4 /train/y:i32:2:0,1
# found by fuzz_h5load: /train/y's layout has no chunk dimensions, which HDF5
# 1.10 divides by when it opens the dataset (SIGFPE)
cp "$SRC/tests/fuzz/corpus/fuzz_h5load/chunk-dims-none.h5" "$F/"
# a file dtrain wrote (version 1 object headers) with X's first chunk
# dimension set to 0 (HDF5 1.10.8 refuses this one itself, as "not a dataset")
cp "$SRC/tests/fuzz/corpus/fuzz_h5load/deflate.h5" "$F/chunk-dim0.h5" && chmod u+w "$F/chunk-dim0.h5" &&
  "$MAKE_BAD_H5" --zero-chunk-dim "$F/chunk-dim0.h5" /train/X || fail "could not write chunk-dim0.h5"
echo "not a directory" >"$F/afile"
printf '1,2,0\n3,4,1\n5,6,0\n' >"$F/ok.csv"
echo "precious bytes" >"$F/existing.h5"

# A checkpoint of iris, and damaged copies of it.
run 1 60 train --data "$IRIS" --layers 8:relu --epochs 2 --checkpoint-dir "$TMP/ck"
[[ $status -eq 0 ]] || fail "could not make the fixture checkpoint: $err"
CK=$TMP/ck/$(readlink "$TMP/ck/latest.h5")
cp "$CK" "$F/ckpt.h5"
cp "$CK" "$F/newer.h5" && "$MAKE_BAD_H5" --set-attr "$F/newer.h5" / format_version 99
cp "$CK" "$F/badsum.h5" && "$MAKE_BAD_H5" --set-attr-str "$F/badsum.h5" / checksum 0123456789abcdef
head -c 3000 "$CK" >"$F/trunc-ckpt.h5"

before=$(cd "$F" && sha256sum *)

# case NP NEEDLE ARGS...: one error case, run in the background; the result
# goes to $TMP/res/<n>.
n=0
case_bg() {
  local np=$1 needle=$2; shift 2
  n=$((n + 1))
  (
    local o=$TMP/res/$n.out e=$TMP/res/$n.err t0=$SECONDS
    timeout -k 5 60 mpirun -np "$np" "$DTRAIN" "$@" >"$o" 2>"$e"
    local st=$? dt=$((SECONDS - t0))
    local msg
    msg=$(grep -v -e '^--------' -e '^$' -e 'mpirun\|mpiexec\|Primary job\|non-zero exit\|Per user-direction\|Process name\|Exit code\|process returned\|job has been aborted\|first process to do so' "$e")
    local lines
    lines=$(grep -c 'error:' <<<"$msg")
    if [[ $st -eq 124 || $st -eq 137 ]]; then
      echo "FAIL: np=$np $*: timed out (hang)"
    elif [[ $st -ne 2 ]]; then
      echo "FAIL: np=$np $*: exit $st, expected 2; stderr: $msg"
    elif ! grep -qF -- "$needle" <<<"$msg"; then
      echo "FAIL: np=$np $*: stderr lacks '$needle': $msg"
    elif [[ $lines -ne 1 ]]; then
      echo "FAIL: np=$np $*: expected one error line, got $lines: $msg"
    elif [[ $dt -gt 30 ]]; then
      echo "FAIL: np=$np $*: took $dt s"
    elif grep -q '^epoch' "$o"; then
      echo "FAIL: np=$np $*: trained before failing"
    else
      echo "ok: np=$np ${dt}s: $(grep 'error:' <<<"$msg")"
    fi
  ) >"$TMP/res/$n" 2>&1 &
  # at most 3 cases at a time
  while [[ $(jobs -rp | wc -l) -ge 3 ]]; do wait -n; done
}

# Data files: missing pieces, wrong shapes and types, bad values.  Every run
# also names an existing --save target, which must survive.
S=(--save "$F/existing.h5")
for np in 1 2 3; do
  case_bg $np "no dataset '/train/X'" train --data "$F/nox.h5" "${S[@]}"
  case_bg $np "no dataset '/train/y'" train --data "$F/noy.h5" "${S[@]}"
  case_bg $np "'/train/X' is not a dataset" train --data "$F/xgroup.h5"
  case_bg $np "'/train/X' must be 2-D (N x D) but has 1 dimensions" train --data "$F/x1d.h5"
  case_bg $np "'/train/X' must be 2-D (N x D) but has 3 dimensions" train --data "$F/x3d.h5"
  case_bg $np "'/train/y' has 3 rows but X has 4" train --data "$F/yrows.h5" "${S[@]}"
  case_bg $np "'/train/X' is empty (0 x 2)" train --data "$F/empty.h5"
  case_bg $np "'/train/X' is empty (4 x 0)" train --data "$F/nofeat.h5"
  case_bg $np "'/train/X' has unsupported element type (integer, 2 bytes)" train --data "$F/i16.h5"
  case_bg $np "'/train/X' has unsupported element type (string" train --data "$F/strx.h5"
  case_bg $np "'/train/y' has unsupported element type (string" train --data "$F/stry.h5"
  case_bg $np "/train/y row 2 is -1; class labels must be integers >= 0" train --data "$F/neg.h5" "${S[@]}"
  case_bg $np "--output softmax needs class labels (whole numbers >= 0), but $F/frac.h5 /train/y holds float32 targets (row 2 is 0.5)" train --data "$F/frac.h5" --output softmax
  case_bg $np "/train/y row 2 is 5000000; class labels above 1000000 are not supported" train --data "$F/huge.h5"
  case_bg $np "/test/y row 1 is 7 but the model has 3 classes" train --data "$F/beyond.h5" "${S[@]}"
  case_bg $np "/train/y row 2 is 2; --output sigmoid needs labels 0 or 1" train --data "$F/beyond.h5" --output sigmoid
  case_bg $np "/train/X row 2 column 1 is nan (not finite)" train --data "$F/nanx.h5" "${S[@]}"
  case_bg $np "/train/X row 3 column 1 is -inf (not finite)" train --data "$F/infx.h5"
  case_bg $np "/test/X row 1 column 0 is nan (not finite)" train --data "$F/nantest.h5"
  case_bg $np "/train/y row 2 column 0 is nan (not finite)" train --data "$F/nany.h5" --output linear "${S[@]}"
  case_bg $np "/train/y row 2 column 1 is inf (not finite)" train --data "$F/infy.h5" --output linear
  case_bg $np "/train/y row 2 column 0 is 1e+300 (beyond float32's range" train --data "$F/hugey.h5" --output linear
  case_bg $np "/test/X row 1 column 0 is missing (NaN), and the model $F/ckpt.h5 has no /missing_fill" eval --model "$F/ckpt.h5" --data "$F/nantest4.h5"
  DIMS0="chunk-dims-none.h5: '/train/y' is damaged: its chunked layout lists chunk dimensions (none)"
  case_bg $np "$DIMS0" train --data "$F/chunk-dims-none.h5"
  case_bg $np "$DIMS0" train --data "$F/chunk-dims-none.h5" --data-placement sharded
  case_bg $np "$DIMS0" inspect "$F/chunk-dims-none.h5"
  case_bg $np "chunk-dim0.h5: '/train/X' is damaged: its chunked layout lists chunk dimensions (0 x 2) for a 2-dimensional dataset" \
    train --data "$F/chunk-dim0.h5"
done

for np in 1 2; do
  # paths
  case_bg $np "no such file (a part of the path is not a directory)" train --data "$F/afile/x.h5"
  case_bg $np "no group '/nothere' (--valid-group)" train --data "$IRIS" --valid-group /nothere
  # option values
  case_bg $np "--lr: expected a number, got 'abc'" train --data "$IRIS" --lr abc
  case_bg $np "--lr: expected a number, got ''" train --data "$IRIS" --lr=
  case_bg $np "--epochs: expected an integer, got '1.5'" train --data "$IRIS" --epochs 1.5
  case_bg $np "--batch-size: expected an integer, got '10x'" train --data "$IRIS" --batch-size 10x
  case_bg $np "--seed: -1 is out of range" train --data "$IRIS" --seed -1
  case_bg $np "--momentum: 1.5 is out of range: it must be >= 0 and <= 1" train --data "$IRIS" --momentum 1.5
  case_bg $np "--drop-last takes no value" train --data "$IRIS" --drop-last=1
  case_bg $np "unknown option --help-me (see --help)" train --data "$IRIS" --help-me
  case_bg $np "unexpected argument 'extra'" train --data "$IRIS" extra
  case_bg $np "--model FILE.h5 is required" eval --data "$IRIS"
  # --layers
  case_bg $np "--layers: width '0' should be an integer in [1, 1000000]" train --data "$IRIS" --layers 0:relu
  case_bg $np "--layers: trailing comma in '8:relu,'" train --data "$IRIS" --layers 8:relu,
  case_bg $np "--layers: empty or overlong item in ',8:relu'" train --data "$IRIS" --layers ,8:relu
  case_bg $np "leaky_relu slope must be a number in [0, 1], got '2'" train --data "$IRIS" --layers 8:leaky_relu=2
  case_bg $np "activation 'relu' takes no parameter" train --data "$IRIS" --layers 8:relu=0.1
  # conflicting options
  case_bg $np "need --checkpoint-dir DIR" train --data "$IRIS" --checkpoint-every 5
  case_bg $np "need --checkpoint-dir DIR" train --data "$IRIS" --keep 2
  case_bg $np "--resume without a file needs --checkpoint-dir" train --data "$IRIS" --resume
  # checkpoints: another architecture, a newer format, truncated, damaged
  case_bg $np "does not fit this run" train --data "$IRIS" --layers 4:relu --epochs 3 --resume "$F/ckpt.h5"
  case_bg $np "checkpoint format version 99 is newer than this dtrain reads (2)" train --data "$IRIS" --layers 8:relu --epochs 3 --resume "$F/newer.h5"
  case_bg $np "trunc-ckpt.h5: cannot open as HDF5 (truncated or corrupt?)" train --data "$IRIS" --layers 8:relu --epochs 3 --resume "$F/trunc-ckpt.h5"
  case_bg $np "checksum mismatch (stored 0123456789abcdef" train --data "$IRIS" --layers 8:relu --epochs 3 --resume "$F/badsum.h5"
  case_bg $np "trunc-ckpt.h5: cannot open as HDF5" eval --model "$F/trunc-ckpt.h5" --data "$IRIS"
  # outputs that cannot be written, refused before training
  case_bg $np "--save $F/afile/m.h5: directory '$F/afile' is missing or not writable" train --data "$IRIS" --save "$F/afile/m.h5"
  case_bg $np "--checkpoint-dir: cannot create directory $F/afile/ck" train --data "$IRIS" --checkpoint-dir "$F/afile/ck"
  case_bg $np "--out $F/afile/p.csv: directory '$F/afile' is missing or not writable" predict --model "$F/ckpt.h5" --data "$IRIS" --out "$F/afile/p.csv"
done
# --dropout is newer than this test: check its range only when it exists.
if run 1 30 train --help && grep -q -- '--dropout' <<<"$out"; then
  for np in 1 2; do
    case_bg $np "--dropout: 1 is out of range" train --data "$IRIS" --dropout 1
  done
else
  echo "skip: --dropout does not exist"
fi
# A directory that cannot be read: root reads anything, so only as a user.
if [[ $(id -u) -ne 0 ]]; then
  mkdir -p "$TMP/locked" && cp "$DATA/iris.h5" "$TMP/locked/" && chmod 000 "$TMP/locked"
  for np in 1 2; do
    case_bg $np "permission denied" train --data "$TMP/locked/iris.h5"
  done
else
  echo "skip: unreadable directory (running as root, which bypasses permission checks)"
fi
# convert: an output below a file
for np in 1 2; do
  case_bg $np "--out $F/afile/o.h5: directory '$F/afile' is missing or not writable" convert --csv "$F/ok.csv" --out "$F/afile/o.h5"
done
wait
for ((i = 1; i <= n; i++)); do
  cat "$TMP/res/$i"
  grep -q '^FAIL' "$TMP/res/$i" && failures=$((failures + 1))
done
echo "$n error cases"
[[ "$(cd "$F" && sha256sum *)" == "$before" ]] && pass "no existing file changed" || fail "an existing file was modified"
leftover=$(cd "$F" && ls | grep -c '\.tmp\.' || true)
[[ $leftover -eq 0 ]] && pass "no temporary files left" || fail "temporary files left: $(ls "$F")"

# Inputs that look wrong but are fine.
# Two training samples on three ranks: one rank holds no sample, training works.
run 3 60 train --data "$F/tiny.h5" --layers 4:relu --epochs 3 --batch-size 2
[[ $status -eq 0 ]] && grep -q '^final: train_loss' <<<"$out" && pass "2 samples on 3 ranks trains" || fail "2 samples on 3 ranks: $status $out $err"
# A batch larger than the data: one batch per epoch, with a warning.
run 2 60 train --data "$IRIS" --layers 4:relu --epochs 2 --batch-size 1000
[[ $status -eq 0 ]] && grep -q "batch-size 1000 is larger than the 120 training samples" <<<"$err" && grep -q ', 1 step per epoch$' <<<"$out" \
  && pass "--batch-size 1000 > 120 samples: one batch per epoch, warned" || fail "large batch: $status $out $err"
# Tiny chunks (1 x 1: 92000 of them): read in blocks, with the same result.
if h5repack -l CHUNK=1x1 -i "$DATA/digits.h5" -o "$TMP/digits-1x1.h5"; then
  lines=()
  for f in "$DATA/digits.h5" "$TMP/digits-1x1.h5"; do
    run 2 120 train --data "$f" --layers 8:relu --epochs 1
    lines+=("$(sed -n 's/^\(epoch.*test_accuracy [0-9.]*\).*/\1/p' <<<"$out")")
  done
  [[ -n ${lines[0]} && ${lines[0]} == "${lines[1]}" ]] && pass "1x1 chunks train identically" \
    || fail "1x1 chunks: '${lines[1]}' vs '${lines[0]}'"
else
  fail "h5repack failed"
fi
finish
