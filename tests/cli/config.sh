#!/usr/bin/env bash
# --config FILE.yaml: options from a YAML file, the command line on top; errors
# name the file, line and key; relative names in it are read against its
# directory; inspect --config writes a model's configuration as such a file,
# with absolute names and its outputs commented out, and training from it
# gives the same configuration, and the same model, back.
source "$(dirname "$0")/lib.sh"
IRIS=$DATA/iris.h5

cat >"$TMP/run.yaml" <<EOF
# a comment
data: $IRIS
layers: 16:relu,8:tanh
optimizer: adam
lr: 0.005
epochs: 3
drop-last: true
seed: 4
EOF
# The same run from the file and from the command line: the same epoch lines.
run 2 60 train --config "$TMP/run.yaml" --save "$TMP/a.h5"
a=$(epoch_lines)
run 2 60 train --data "$IRIS" --layers 16:relu,8:tanh --optimizer adam --lr 0.005 --epochs 3 \
  --drop-last --seed 4 --save "$TMP/b.h5"
[[ -n $a && $a == "$(epoch_lines)" ]] && pass "the file trains as the same command line does" \
  || fail "file vs command line: '$a' vs '$(epoch_lines)' $err"
# The command line overrides the file.
run 2 60 train --config "$TMP/run.yaml" --epochs 1
[[ $status -eq 0 && $(grep -c '^epoch' <<<"$out") -eq 1 ]] && pass "--epochs 1 on the command line overrides epochs: 3" \
  || fail "override: $status $out $err"

# inspect --config: a file that --config reads, with the options that differ
# from their defaults; training from it writes the same configuration.
run 1 60 inspect --config "$TMP/a.h5"
printf '%s\n' "$out" >"$TMP/back.yaml"
grep -qx "layers: 16:relu,8:tanh" "$TMP/back.yaml" && grep -qx "drop-last: true" "$TMP/back.yaml" \
  && ! grep -q "momentum" "$TMP/back.yaml" && pass "inspect --config: $(tr '\n' ' ' <"$TMP/back.yaml")" \
  || fail "inspect --config: $out $err"
run 2 60 train --config "$TMP/back.yaml" --save "$TMP/c.h5"
run 1 60 inspect "$TMP/c.h5" --config
[[ $status -eq 0 ]] && diff <(grep -v '^# save:' "$TMP/back.yaml") <(grep -v '^# save:' <<<"$out") >/dev/null \
  && pass "round trip: the retrained model's configuration is the same (save aside)" \
  || fail "round trip: $(diff "$TMP/back.yaml" <(printf '%s\n' "$out"))"
# ... also from a checkpoint, and the listing prints flags as flags
run 2 60 train --config "$TMP/run.yaml" --checkpoint-dir "$TMP/ck"
run 1 60 inspect --config "$TMP/ck/latest.h5"
grep -qx "# checkpoint-dir: $TMP/ck" <<<"$out" && ! grep -q '^checkpoint-dir' <<<"$out" \
  && pass "inspect --config of a checkpoint (checkpoint-dir commented out)" || fail "checkpoint config: $out $err"
run 1 60 inspect "$TMP/a.h5"
grep -q -- "^    --drop-last$" <<<"$out" && ! grep -q -- "^    --[a-z-]* 0$" <<<"$out" | grep -q -- "--centered" \
  && ! grep -q -- "--centered" <<<"$out" && pass "inspect lists a flag as --drop-last, an unset one not at all" \
  || fail "inspect flags: $out"

# Config files travel.  A run started in A with relative names; its printed
# configuration, kept in B and run from C, names A's data absolutely, leaves
# the outputs (save, log, checkpoint-dir) as comments saying why, and trains
# the same model bit for bit without touching A's files.
mkdir -p "$TMP/A" "$TMP/B" "$TMP/C" "$TMP/D"
cp "$IRIS" "$TMP/A/iris.h5"
cp "$IRIS" "$TMP/D/iris.h5"
A=(train --data iris.h5 --layers 8:relu --epochs 3 --seed 5 --save m.h5 --log log.csv --checkpoint-dir ck)
cd "$TMP/A" && run 2 60 "${A[@]}"; cd "$SRC"
[[ $status -eq 0 && -s $TMP/A/m.h5 ]] || fail "the run in A: $status $err"
run 1 60 inspect --config "$TMP/A/m.h5"
printf '%s\n' "$out" >"$TMP/B/again.yaml"
grep -qx "data: $TMP/A/iris.h5" "$TMP/B/again.yaml" && grep -qx "# save: $TMP/A/m.h5" "$TMP/B/again.yaml" \
  && grep -qx "# log: $TMP/A/log.csv" "$TMP/B/again.yaml" && grep -qx "# checkpoint-dir: $TMP/A/ck" "$TMP/B/again.yaml" \
  && grep -q "^# .*running this file" "$TMP/B/again.yaml" && ! grep -q '^\(save\|log\|checkpoint-dir\):' "$TMP/B/again.yaml" \
  && pass "inspect --config: absolute data, outputs commented out: $(tr '\n' ' ' <"$TMP/B/again.yaml")" \
  || fail "inspect --config of the run in A: $out $err"
before=$(cd "$TMP/A" && find . -type f -exec md5sum {} + | sort)
cd "$TMP/C" && run 2 60 train --config ../B/again.yaml --save new.h5; cd "$SRC"
[[ $status -eq 0 ]] && h5diff -q "$TMP/A/m.h5" "$TMP/C/new.h5" /model /model \
  && pass "the printed configuration, run from another directory: the same model bit for bit" \
  || fail "re-run from C: $status $err $(h5diff "$TMP/A/m.h5" "$TMP/C/new.h5" /model /model | head -3)"
[[ "$before" == "$(cd "$TMP/A" && find . -type f -exec md5sum {} + | sort)" ]] \
  && pass "the original model, log and checkpoints are untouched" || fail "files in A changed"
# A hand-written file's relative names are read against its own directory.
printf 'data: iris.h5\nlayers: 8:relu\nepochs: 2\nsave: out.h5\n' >"$TMP/D/rel.yaml"
cd "$TMP/C" && run 2 60 train --config ../D/rel.yaml; cd "$SRC"
[[ $status -eq 0 && -s $TMP/D/out.h5 && ! -e $TMP/C/out.h5 ]] && grep -q "^dtrain: ../D/iris.h5 /train" <<<"$out" \
  && pass "relative names in a config file are the file's: $(head -1 <<<"$out")" || fail "relative names: $status $out $err"

# eval and predict read it too; cv takes a list for --grid.
printf 'model: %s\ndata: %s\n' "$TMP/a.h5" "$IRIS" >"$TMP/eval.yaml"
run 2 60 eval --config "$TMP/eval.yaml" --json
[[ $status -eq 0 ]] && grep -q '"accuracy"' <<<"$out" && pass "eval --config" || fail "eval --config: $err"
printf 'model: %s\ndata: %s\nout: %s\n' "$TMP/a.h5" "$IRIS" "$TMP/p.csv" >"$TMP/pred.yaml"
run 2 60 predict --config "$TMP/pred.yaml"
[[ $status -eq 0 && -s $TMP/p.csv ]] && pass "predict --config" || fail "predict --config: $err"
printf 'data: %s\nlayers: 8:relu\nepochs: 2\nfolds: 2\ngrid:\n  - lr=0.1|0.01\n  - optimizer=sgd|adam\n' "$IRIS" >"$TMP/cv.yaml"
run 2 120 cv --config "$TMP/cv.yaml"
[[ $status -eq 0 && $(grep -c 'optimizer' <<<"$out") -ge 1 ]] && grep -q "4 configurations\|4 trials\| 4 " <<<"$out" \
  && pass "cv --config with a grid list" || fail "cv --config: $status $out $err"

# Errors: exit 2, one line naming the file and line (and a suggestion).
bad() { printf "$2" >"$TMP/$1"; }
bad unknown.yaml 'data: x.h5\nlrr: 0.1\n'
bad type.yaml 'lr: fast\n'
bad flag.yaml 'drop-last: maybe\n'
bad twice.yaml 'lr: 0.1\nepochs: 2\nlr: 0.2\n'
bad list.yaml 'layers:\n  - 8:relu\n'
bad syntax.yaml 'epochs: 2\nlr: "0.1\n'
bad nested.yaml 'config: other.yaml\n'
bad scalar.yaml 'just text\n'
bad other.yaml 'idx: a\n'
# (every rank reads the file and fails alike: 2 ranks for two cases, 1 for the rest)
expect_error 2 2 "unknown.yaml:2: unknown option 'lrr' (did you mean 'lr'?)" train --config "$TMP/unknown.yaml"
expect_error 2 2 "syntax.yaml:3:1: not valid YAML" train --config "$TMP/syntax.yaml"
for np in 1; do
  expect_error $np 2 "unknown.yaml:2: unknown option 'lrr' (did you mean 'lr'?)" train --config "$TMP/unknown.yaml"
  expect_error $np 2 "type.yaml:1: --lr: expected a number" train --config "$TMP/type.yaml"
  expect_error $np 2 "flag.yaml:1: drop-last is a flag: true or false, not 'maybe'" train --config "$TMP/flag.yaml"
  expect_error $np 2 "twice.yaml:3: lr given twice" train --config "$TMP/twice.yaml"
  expect_error $np 2 "list.yaml:1: layers takes one value, not a list" train --config "$TMP/list.yaml"
  expect_error $np 2 "syntax.yaml:3:1: not valid YAML" train --config "$TMP/syntax.yaml"
  expect_error $np 2 "nested.yaml:1: a config file cannot name another" train --config "$TMP/nested.yaml"
  expect_error $np 2 "scalar.yaml:1: expected 'option: value' keys" train --config "$TMP/scalar.yaml"
  expect_error $np 2 "other.yaml:1: unknown option 'idx'" train --config "$TMP/other.yaml"
  expect_error $np 2 "--config: $TMP/none.yaml: No such file or directory" train --config "$TMP/none.yaml"
done
mkfifo "$TMP/fifo.yaml"
expect_error 2 2 "fifo.yaml: is a FIFO, not a regular file" train --config "$TMP/fifo.yaml"
finish
