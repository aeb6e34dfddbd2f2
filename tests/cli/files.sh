#!/usr/bin/env bash
# dtrain reads and replaces regular files only.  An input that is a FIFO, a
# device or a directory is refused with exit 2 at once (a FIFO is never
# opened, so nothing waits on it); an output that exists and is not a regular
# file (a FIFO, a device, a symbolic link), that is one of the run's inputs
# (same device and inode, whatever the name; the --config file included),
# another output (under any spelling), or one of the checkpoint directory's
# own files is refused with exit 2 before any work, and left as it was.
source "$(dirname "$0")/lib.sh"

IRIS=$DATA/iris.h5
mkfifo "$TMP/fifo.h5"
mkdir -p "$TMP/dir.h5"
printf 'a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n' >"$TMP/t.csv"

# --- inputs ---
for np in 1 2; do
  expect_error $np 2 "is a FIFO, not a regular file" train --data "$TMP/fifo.h5" --epochs 1
  expect_error $np 2 "is a directory, not a regular file" train --data "$TMP/dir.h5" --epochs 1
  expect_error $np 2 "is a FIFO, not a regular file" train --data "$IRIS" --epochs 1 --init-from "$TMP/fifo.h5"
  expect_error $np 2 "is a FIFO, not a regular file" eval --model "$TMP/fifo.h5" --data "$IRIS"
  expect_error $np 2 "is a FIFO, not a regular file" predict --model "$TMP/fifo.h5" --data "$IRIS" --out "$TMP/p.csv"
done
expect_error 1 2 "is a FIFO, not a regular file" inspect "$TMP/fifo.h5"
mkfifo "$TMP/fifo.csv"
expect_error 1 2 "is a FIFO, not a regular file" convert --csv "$TMP/fifo.csv" --out "$TMP/c.h5"
# a missing CSV is the user's to fix: exit 2 like every other missing input
expect_error 1 2 "No such file" convert --csv "$TMP/missing.csv" --out "$TMP/c.h5"

# --- outputs that are not regular files ---
run 1 60 train --data "$IRIS" --epochs 1 --save "$TMP/model.h5"
[[ $status -eq 0 ]] || fail "training a model to predict with: $err"
for np in 1 2; do
  expect_error $np 2 "--save $TMP/fifo.h5: is a FIFO; dtrain writes only regular files" train --data "$IRIS" --epochs 1 --save "$TMP/fifo.h5"
  [[ -p $TMP/fifo.h5 ]] && pass "np=$np: the FIFO is still a FIFO" || fail "np=$np: the FIFO was replaced"
  ln -sf "$TMP/elsewhere.h5" "$TMP/link.h5"
  expect_error $np 2 "is a symbolic link" train --data "$IRIS" --epochs 1 --save "$TMP/link.h5"
  [[ -L $TMP/link.h5 && ! -e $TMP/elsewhere.h5 ]] && pass "np=$np: the link is untouched" || fail "np=$np: the link was replaced or followed"
  expect_error $np 2 "is a FIFO" predict --model "$TMP/model.h5" --data "$IRIS" --out "$TMP/fifo.h5"
done
if mknod "$TMP/null" c 1 3 2>/dev/null; then
  expect_error 1 2 "is a character device" train --data "$IRIS" --epochs 1 --save "$TMP/null"
  [[ -c $TMP/null ]] && pass "the character device is still one" || fail "the device was replaced by a file"
  expect_error 1 2 "is a character device" convert --csv "$TMP/t.csv" --header --out "$TMP/null"
  [[ -c $TMP/null ]] && pass "convert left the device alone" || fail "convert replaced the device"
else
  echo "skipped: mknod is not allowed here (the character-device output cases)"
fi

# --- an output that is an input ---
cp "$IRIS" "$TMP/data.h5"
sum=$(cksum <"$TMP/data.h5")
for np in 1 2; do
  expect_error $np 2 "is the input $TMP/data.h5" train --data "$TMP/data.h5" --epochs 1 --save "$TMP/data.h5"
  # the same file under another name (a hard link) is still the input
  ln -f "$TMP/data.h5" "$TMP/alias.h5"
  expect_error $np 2 "is the input $TMP/data.h5" train --data "$TMP/data.h5" --epochs 1 --save "$TMP/alias.h5"
done
[[ $(cksum <"$TMP/data.h5") == "$sum" ]] && pass "the data file is intact" || fail "the data file changed"
msum=$(cksum <"$TMP/model.h5")
expect_error 2 2 "is the input $TMP/model.h5" predict --model "$TMP/model.h5" --data "$IRIS" --out "$TMP/model.h5"
expect_error 1 2 "is the input $TMP/model.h5" train --data "$IRIS" --epochs 1 --init-from "$TMP/model.h5" --save "$TMP/model.h5"
[[ $(cksum <"$TMP/model.h5") == "$msum" ]] && pass "the model file is intact" || fail "the model file changed"
expect_error 1 2 "is the input $TMP/t.csv" convert --csv "$TMP/t.csv" --header --out "$TMP/t.csv"
# and a regular file that is not an input is replaced as before
echo "an old file" >"$TMP/old.h5"
run 1 60 train --data "$IRIS" --epochs 1 --save "$TMP/old.h5"
[[ $status -eq 0 ]] && h5dump -H "$TMP/old.h5" >/dev/null 2>&1 && pass "an ordinary --save file is replaced" || fail "replacing a regular file: $err"

# --- the --config file is an input too, whether the output that would
# replace it is named in the file or on the command line ---
printf 'data: %s\nepochs: 1\nsave: %s\n' "$IRIS" "$TMP/run.yaml" >"$TMP/run.yaml"
printf 'data: %s\nepochs: 1\n' "$IRIS" >"$TMP/plain.yaml"
printf 'model: %s\ndata: %s\nout: %s\n' "$TMP/model.h5" "$IRIS" "$TMP/p.csv" >"$TMP/p.csv"
printf 'data: %s\nfolds: 2\nepochs: 1\nout: %s\n' "$IRIS" "$TMP/c.csv" >"$TMP/c.csv"
printf 'data: %s\nfolds: 2\nepochs: 1\nrefit: %s\n' "$IRIS" "$TMP/r.h5" >"$TMP/r.h5"
conf_sum() { cat "$TMP/run.yaml" "$TMP/plain.yaml" "$TMP/p.csv" "$TMP/c.csv" "$TMP/r.h5" | cksum; }
csum=$(conf_sum)
for np in 1 2; do
  expect_error $np 2 "--save $TMP/run.yaml: is the input $TMP/run.yaml (--config)" train --config "$TMP/run.yaml"
  expect_error $np 2 "--save $TMP/plain.yaml: is the input $TMP/plain.yaml (--config)" train --config "$TMP/plain.yaml" --save "$TMP/plain.yaml"
  expect_error $np 2 "--log $TMP/./plain.yaml: is the input $TMP/plain.yaml (--config)" train --config "$TMP/plain.yaml" --log "$TMP/./plain.yaml"
  expect_error $np 2 "--out $TMP/p.csv: is the input $TMP/p.csv (--config)" predict --config "$TMP/p.csv"
  expect_error $np 2 "--out $TMP/c.csv: is the input $TMP/c.csv (--config)" cv --config "$TMP/c.csv"
  expect_error $np 2 "--refit $TMP/r.h5: is the input $TMP/r.h5 (--config)" cv --config "$TMP/r.h5"
done
[[ $(conf_sum) == "$csum" ]] && pass "the --config files are intact" || fail "a --config file was replaced"

# --- two outputs that are one file, under two spellings (before it exists,
# by resolved path; after, by device and inode) ---
for np in 1 2; do
  expect_error $np 2 "--log $TMP/./two.h5: is also --save's file $TMP/two.h5" train --data "$IRIS" --epochs 1 --save "$TMP/two.h5" --log "$TMP/./two.h5"
  [[ ! -e $TMP/two.h5 ]] && pass "np=$np: nothing written" || fail "np=$np: wrote $TMP/two.h5"
  expect_error $np 2 "--refit $TMP/./x.csv: is also --out's file $TMP/x.csv" cv --data "$IRIS" --folds 2 --epochs 1 --out "$TMP/x.csv" --refit "$TMP/./x.csv"
done
msum=$(cksum <"$TMP/model.h5")
mkdir -p "$TMP/sub"
expect_error 2 2 "is also --save's file $TMP/model.h5" train --data "$IRIS" --epochs 1 --save "$TMP/model.h5" --log "$TMP/sub/../model.h5"
ln -f "$TMP/model.h5" "$TMP/model-link.h5"
expect_error 1 2 "is also --save's file $TMP/model.h5" train --data "$IRIS" --epochs 1 --save "$TMP/model.h5" --log "$TMP/model-link.h5"
[[ $(cksum <"$TMP/model.h5") == "$msum" ]] && pass "the existing --save file is intact" || fail "model.h5 changed"

# --- the checkpoint directory's own files (its checkpoints, latest.h5,
# dtrain.lock) are neither an output nor an input (but --resume's) ---
CK=$TMP/ckM
run 2 60 train --data "$IRIS" --epochs 3 --checkpoint-dir "$CK" --checkpoint-every 4
last=$(readlink "$CK/latest.h5")
ksum=$(cksum <"$CK/$last")
ln -sfn "$CK" "$TMP/ckL"
for np in 1 2; do
  # the log over the very checkpoint --resume (latest) opens
  expect_error $np 2 "--log $CK/$last: is one of the files of --checkpoint-dir $CK" train --data "$IRIS" --epochs 4 --checkpoint-dir "$CK" --resume --log "$CK/$last"
  expect_error $np 2 "--log $CK/step-00000099.h5: is one of the files of --checkpoint-dir $TMP/ckL" train --data "$IRIS" --epochs 4 --checkpoint-dir "$TMP/ckL" --resume --log "$CK/step-00000099.h5"
  expect_error $np 2 "--save $CK/dtrain.lock: is one of the files of --checkpoint-dir" train --data "$IRIS" --epochs 4 --checkpoint-dir "$CK" --resume --save "$CK/dtrain.lock"
  expect_error $np 2 "--init-from $CK/step-00000004.h5: is one of the files of --checkpoint-dir $CK" train --data "$IRIS" --epochs 1 --checkpoint-dir "$CK" --init-from "$CK/step-00000004.h5"
  cp "$CK/$last" "$TMP/ext.h5"
  expect_error $np 2 "--log $TMP/ext.h5: is the input $TMP/ext.h5 (--resume)" train --data "$IRIS" --epochs 4 --checkpoint-dir "$CK" --resume "$TMP/ext.h5" --log "$TMP/ext.h5"
done
[[ $(cksum <"$CK/$last") == "$ksum" && -f $CK/dtrain.lock ]] && pass "the checkpoint resumed from is intact" || fail "$CK/$last changed"
run 2 60 train --data "$IRIS" --epochs 4 --checkpoint-dir "$CK" --resume --log "$CK/notes.jsonl"
[[ $status -eq 0 && -s $CK/notes.jsonl ]] && pass "a file of another name in the directory is a fine --log" || fail "--log in the directory: $status $err"

# --- numbers in a model file must be finite (eval, predict, --init-from) ---
MAKE_BAD_H5=${MAKE_BAD_H5:-$(dirname "$DTRAIN")/tests/make_bad_h5}
run 1 60 train --data "$IRIS" --layers 8:relu --epochs 1 --save "$TMP/good.h5"
cp "$TMP/good.h5" "$TMP/nanw.h5" && "$MAKE_BAD_H5" --set-value "$TMP/nanw.h5" /model/layer0/weight 5 nan
cp "$TMP/good.h5" "$TMP/infb.h5" && "$MAKE_BAD_H5" --set-value "$TMP/infb.h5" /model/layer1/bias 2 inf
cp "$TMP/good.h5" "$TMP/nans.h5" && "$MAKE_BAD_H5" --set-value "$TMP/nans.h5" /normalization/scale 1 nan
for np in 1 2; do
  expect_error $np 2 "/model/layer0/weight[5] is NaN" train --data "$IRIS" --layers 8:relu --epochs 1 --init-from "$TMP/nanw.h5"
  expect_error $np 2 "/model/layer1/bias[2] is infinite" predict --model "$TMP/infb.h5" --data "$IRIS" --out "$TMP/p.csv"
  expect_error $np 2 "/model/layer1/bias[2] is infinite" eval --model "$TMP/infb.h5" --data "$IRIS"
  expect_error $np 2 "/normalization/scale[1] is NaN" predict --model "$TMP/nans.h5" --data "$IRIS" --out "$TMP/p.csv"
done
run 1 60 eval --model "$TMP/good.h5" --data "$IRIS"
[[ $status -eq 0 ]] && pass "the undamaged model still evaluates" || fail "good model: $err"

# --- a FIFO where --resume looks for latest.h5 does not hang the job, and
# is not taken for an empty directory either ---
mkdir -p "$TMP/ck" && mkfifo "$TMP/ck/latest.h5"
expect_error 2 2 "is a FIFO, not a regular file" train --data "$IRIS" --epochs 1 --checkpoint-dir "$TMP/ck" --resume

# --- long paths: an option value is at most 960 characters (DT_VALUE_MAX), so
# every path dtrain derives from it fits; longer is refused before any work,
# and so is a name longer than the file system allows ---
# long_path LEN: a path of exactly LEN characters under $TMP, in components
# of at most 200 (a file system allows 255).
long_path() {
  local p=$TMP/long
  while (( ${#p} < $1 )); do
    local n=$(( $1 - ${#p} - 1 )); (( n > 200 )) && n=200
    (( n < 1 )) && n=1
    p=$p/$(printf '%*s' $n '' | tr ' ' d)
  done
  printf '%s' "${p:0:$1}"
}
over=$(long_path 1014) # was accepted and written, then --resume cut it at .../latest.h
expect_error 2 2 "--checkpoint-dir: value of 1014 characters; at most 960 are accepted" \
  train --data "$IRIS" --epochs 1 --checkpoint-dir "$over"
[[ ! -e $over ]] && pass "the too-long directory was not created" || fail "created $over"
at=$(long_path 960)
run 2 60 train --data "$IRIS" --epochs 2 --checkpoint-dir "$at" --checkpoint-every-epoch --stop-at-step 5
run 2 60 train --data "$IRIS" --epochs 2 --checkpoint-dir "$at" --resume
[[ $status -eq 0 ]] && grep -qF "resuming from $at/latest.h5" <<<"$out" \
  && pass "a 960-character --checkpoint-dir is written and resumed from, its path whole" \
  || fail "960-character directory: $status $err"
name=$TMP/$(printf '%*s' 300 '' | tr ' ' m).h5
expect_error 2 2 "File name too long" train --data "$IRIS" --epochs 1 --save "$name"
grep -q '^epoch' <<<"$out" && fail "a 300-character file name was found out after training" \
  || pass "a 300-character --save name is refused before training"

finish
