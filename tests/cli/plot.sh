#!/usr/bin/env bash
# scripts/plot.py (installed as dtrain-plot), run as docs/monitoring.md#plots says: the
# curves of hand-written training logs (JSON Lines and CSV) and the grid of a
# dtrain cv search.  The reference for what is drawn is the fixtures' own
# numbers: --describe reads the series back from the figure, so an empty or
# wrong plot fails; the PNG's IHDR gives the figure size from the layout rule
# (each panel 6 x 4 inches at 100 dpi, two panels to a row).  Bad input: exit
# 2, one message naming the file, nothing that is not a regular file replaced.
source "$(dirname "$0")/lib.sh"
PLOT=$SRC/scripts/plot.py

# python3-matplotlib is a dependency (scripts/install-deps.sh): its absence
# is a failure, not a reason to skip.
if ! /usr/bin/python3 -c 'import matplotlib' 2>"$TMP/imp"; then
  fail "python3-matplotlib is not installed (scripts/install-deps.sh): $(tail -1 "$TMP/imp")"
  finish
fi

# png_info FILE: "W H" from the IHDR chunk (bytes 16-23, big-endian), or
# nothing if FILE does not start with the PNG signature and an IHDR chunk.
png_info() {
  local sig b
  sig=$(head -c 16 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')
  [[ $sig == 89504e470d0a1a0a0000000d49484452 ]] || return 0
  b=($(od -An -tu1 -j16 -N8 "$1"))
  echo "$(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] )) $(( (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7] ))"
}

# plot ARGS...: sets $status, $out, $err
plot() {
  timeout -k 5 120 "$PLOT" "$@" >"$TMP/out" 2>"$TMP/err"
  status=$?
  out=$(cat "$TMP/out")
  err=$(cat "$TMP/err")
}

# check_png LABEL FILE "W H" MIN_BYTES
check_png() {
  local info size
  info=$(png_info "$2")
  size=$(stat -c %s "$2" 2>/dev/null || echo 0)
  if [[ $info == "$3" && $size -gt $4 ]]; then
    pass "$1: a PNG of $info pixels, $size bytes"
  else
    fail "$1: expected a PNG of $3 pixels over $4 bytes, got '$info', $size bytes"
  fi
}

# --- a training log with valid and test sets and 2 metrics -------------------
# Epoch 4 has no validation figures (null), and epoch 2 is written twice: the
# later record (train_loss 0.8) wins, as after a resumed run.
cat >"$TMP/run.jsonl" <<'EOF'
{"epoch": 1, "step": 10, "samples": 320, "epoch_time": 0.5, "time": 0.5, "lr": 0.01, "train_loss": 1.2, "valid_loss": 1.1, "valid_accuracy": 0.5, "valid_f1": 0.4, "test_loss": 1.15, "test_accuracy": 0.48, "test_f1": 0.38}
{"epoch": 2, "step": 20, "samples": 640, "epoch_time": 0.5, "time": 1.0, "lr": 0.01, "train_loss": 9.9, "valid_loss": 9.9, "valid_accuracy": 0.1, "valid_f1": 0.1, "test_loss": 9.9, "test_accuracy": 0.1, "test_f1": 0.1}

{"epoch": 2, "step": 20, "samples": 640, "epoch_time": 0.5, "time": 1.0, "lr": 0.01, "train_loss": 0.8, "valid_loss": 0.85, "valid_accuracy": 0.7, "valid_f1": 0.65, "test_loss": 0.9, "test_accuracy": 0.68, "test_f1": 0.6}
{"epoch": 3, "step": 30, "samples": 960, "epoch_time": 0.5, "time": 1.5, "lr": 0.01, "train_loss": 0.5, "valid_loss": 0.6, "valid_accuracy": 0.82, "valid_f1": 0.8, "test_loss": 0.65, "test_accuracy": 0.8, "test_f1": 0.77}
{"epoch": 4, "step": 40, "samples": 1280, "epoch_time": 0.5, "time": 2.0, "lr": 0.005, "train_loss": 0.35, "valid_loss": null, "valid_accuracy": null, "valid_f1": null, "test_loss": 0.55, "test_accuracy": 0.85, "test_f1": 0.82}
EOF
# the same run as CSV (no repeated epoch; empty fields where JSON has null)
cat >"$TMP/run.csv" <<'EOF'
epoch,step,samples,epoch_time,time,lr,train_loss,valid_loss,valid_accuracy,valid_f1,test_loss,test_accuracy,test_f1
1,10,320,0.5,0.5,0.01,1.2,1.1,0.5,0.4,1.15,0.48,0.38
2,20,640,0.5,1.0,0.01,0.8,0.85,0.7,0.65,0.9,0.68,0.6
3,30,960,0.5,1.5,0.01,0.5,0.6,0.82,0.8,0.65,0.8,0.77
4,40,1280,0.5,2.0,0.005,0.35,,,,0.55,0.85,0.82
EOF
# What must be drawn: the fixture's values, by hand.  3 panels (loss,
# accuracy, f1) -> 2 x 2 panels of 600 x 400 = 1200 x 800 pixels.  Each set
# keeps its colour in every panel (train blue, valid orange, test green), so
# valid is orange in the metric panels too, where it is the first curve.
want_run="figure 1200x800 3 panels
title 'run.EXT'
panel 'loss' x 'epoch' y 'loss'
  series 'train' 4 points: 1,1.2 2,0.8 3,0.5 4,0.35 colour #1f77b4
  series 'valid' 3 points: 1,1.1 2,0.85 3,0.6 colour #ff7f0e
  series 'test' 4 points: 1,1.15 2,0.9 3,0.65 4,0.55 colour #2ca02c
panel 'accuracy' x 'epoch' y 'accuracy'
  series 'valid' 3 points: 1,0.5 2,0.7 3,0.82 colour #ff7f0e
  series 'test' 4 points: 1,0.48 2,0.68 3,0.8 4,0.85 colour #2ca02c
panel 'f1' x 'epoch' y 'f1'
  series 'valid' 3 points: 1,0.4 2,0.65 3,0.8 colour #ff7f0e
  series 'test' 4 points: 1,0.38 2,0.6 3,0.77 4,0.82 colour #2ca02c"
for ext in jsonl csv; do
  plot "$TMP/run.$ext" --out "$TMP/run_$ext.png" --describe
  if [[ $status -ne 0 ]]; then
    fail "$ext log: exit $status: $err"
    continue
  fi
  [[ $out == "${want_run/EXT/$ext}" ]] && pass "$ext log: the 3 panels hold the fixture's values (later epoch 2 wins, null left out)" \
    || fail "$ext log: drew"$'\n'"$out"$'\n'"expected"$'\n'"${want_run/EXT/$ext}"
  # 3 empty panels of this size make a PNG of 24 KB; drawn, about 90 KB
  check_png "$ext log" "$TMP/run_$ext.png" "1200 800" 40000
done

# `dtrain plot` runs the same plotter (found beside the binary, in the source
# tree or the install prefix): the same figure, its messages under its name,
# and under mpirun one rank draws.
"$DTRAIN" plot "$TMP/run.jsonl" --out "$TMP/cmd.png" --describe >"$TMP/cmd.out" 2>"$TMP/cmd.err"
st=$?
[[ $st -eq 0 && $(cat "$TMP/cmd.out") == "${want_run/EXT/jsonl}" ]] \
  && pass "dtrain plot LOG --out PNG: the figure of scripts/plot.py" \
  || fail "dtrain plot: exit $st: $(cat "$TMP/cmd.err") $(cat "$TMP/cmd.out")"
check_png "dtrain plot" "$TMP/cmd.png" "1200 800" 40000
"$DTRAIN" plot "$TMP/run.jsonl" >"$TMP/cmd.out" 2>"$TMP/cmd.err"
st=$?
[[ $st -eq 2 && $(cat "$TMP/cmd.err") == "dtrain plot: error: the following arguments are required: --out (see dtrain plot --help)" ]] \
  && pass "dtrain plot without --out: exit 2, '$(cat "$TMP/cmd.err")'" || fail "dtrain plot without --out: $st $(cat "$TMP/cmd.err")"
"$DTRAIN" help plot >"$TMP/cmd.out" 2>&1 && grep -q '^usage: dtrain plot .*--out IMAGE' "$TMP/cmd.out" \
  && "$DTRAIN" --help | grep -q '^  plot  ' && pass "dtrain help plot: the plotter's usage; dtrain --help lists plot" \
  || fail "help plot: $(cat "$TMP/cmd.out")"
# without matplotlib (an import that fails stands in for the missing
# package): what to install, not a traceback
mkdir -p "$TMP/nompl/matplotlib"
echo 'raise ImportError("No module named matplotlib")' >"$TMP/nompl/matplotlib/__init__.py"
PYTHONPATH=$TMP/nompl "$DTRAIN" plot "$TMP/run.jsonl" --out "$TMP/nompl.png" >"$TMP/cmd.out" 2>"$TMP/cmd.err"
st=$?
[[ $st -eq 1 && $(wc -l <"$TMP/cmd.err") -eq 1 && $(cat "$TMP/cmd.err") == "dtrain plot: error: matplotlib is missing (Debian: apt-get install python3-matplotlib;"* && ! -e $TMP/nompl.png ]] \
  && pass "dtrain plot without matplotlib: exit 1, '$(cat "$TMP/cmd.err")'" || fail "no matplotlib: $st $(cat "$TMP/cmd.err")"
timeout -k 5 60 mpirun --oversubscribe -np 2 "$DTRAIN" plot "$TMP/run.csv" --out "$TMP/mpi.png" --describe >"$TMP/cmd.out" 2>"$TMP/cmd.err"
st=$?
[[ $st -eq 0 && $(grep -c '^figure' "$TMP/cmd.out") -eq 1 ]] && pass "mpirun -np 2 dtrain plot: drawn once" \
  || fail "mpirun dtrain plot: $st $(cat "$TMP/cmd.err") $(cat "$TMP/cmd.out")"

# A log with no metric and no test set: the loss panel alone, 600 x 400.
printf '%s\n' '{"epoch": 1, "train_loss": 0.9, "valid_loss": 1.0}' \
  '{"epoch": 2, "train_loss": 0.5, "valid_loss": 0.7}' >"$TMP/loss.jsonl"
plot "$TMP/loss.jsonl" --out "$TMP/loss.png" --describe
[[ $status -eq 0 && $(head -1 <<<"$out") == "figure 600x400 1 panel" && $(grep -c "series" <<<"$out") -eq 2 ]] \
  && pass "a log without metrics: one loss panel, train and valid" || fail "loss only: $status $err $out"
check_png "loss-only log" "$TMP/loss.png" "600 400" 10000

# A run with --early-stopping records best_epoch, the epoch whose weights it
# keeps so far: the last record's (2) is marked in every panel, and
# best_epoch is no curve of its own.
printf '%s\n' '{"epoch": 1, "train_loss": 0.9, "valid_loss": 1.0, "valid_accuracy": 0.5, "best_epoch": 1}' \
  '{"epoch": 2, "train_loss": 0.5, "valid_loss": 0.7, "valid_accuracy": 0.8, "best_epoch": 2}' \
  '{"epoch": 3, "train_loss": 0.4, "valid_loss": 0.8, "valid_accuracy": 0.7, "best_epoch": 2}' >"$TMP/es.jsonl"
plot "$TMP/es.jsonl" --out "$TMP/es.png" --describe
[[ $status -eq 0 && $(grep -c "^  mark 'kept epoch' at 2$" <<<"$out") -eq 2 && $(grep -c '^panel' <<<"$out") -eq 2 \
   && $out != *"series 'best"* ]] \
  && pass "early stopping's kept epoch (2) marked in both panels" || fail "kept epoch: $status $err $out"
printf '%s\n' '{"epoch": 1, "train_loss": 0.9, "best_epoch": 7}' >"$TMP/es7.jsonl"
bad_kept=$(timeout 60 "$PLOT" "$TMP/es7.jsonl" --out "$TMP/es7.png" 2>&1)
[[ $? -eq 2 && $bad_kept == *"es7.jsonl: best_epoch 7 is not one of the log's epochs"* ]] \
  && pass "a best_epoch past the log's epochs: exit 2, named" || fail "best_epoch 7: $bad_kept"

# --profile's phases: a 'time per epoch' panel beside the loss.
printf '%s\n' '{"epoch": 1, "epoch_time": 1.0, "train_loss": 0.9, "time_data": 0.1, "time_compute": 0.6, "time_comm": 0.2, "time_update": 0.05, "time_eval": 0.05}' \
  '{"epoch": 2, "epoch_time": 0.9, "train_loss": 0.5, "time_data": 0.1, "time_compute": 0.5, "time_comm": 0.2, "time_update": 0.05, "time_eval": 0.05}' >"$TMP/prof.jsonl"
plot "$TMP/prof.jsonl" --out "$TMP/prof.svg" --describe
[[ $status -eq 0 ]] && grep -q "^panel 'time per epoch' x 'epoch' y 'seconds'" <<<"$out" \
  && grep -q "series 'time_comm' 2 points: 1,0.2 2,0.2" <<<"$out" && head -c 200 "$TMP/prof.svg" | grep -q '<svg' \
  && pass "--profile's phases get a panel; .svg written as SVG" || fail "profile: $status $err $out"

# What a full disk leaves (a last line cut short, no newline at its end) is
# skipped with a warning; a byte order mark before the first line is read past.
{ head -2 "$TMP/run.jsonl"; printf '%s' '{"epoch": 3, "step": 30, "samples": 960, "epoch_ti'; } >"$TMP/cut.jsonl"
plot "$TMP/cut.jsonl" --out "$TMP/cut.png" --describe
[[ $status -eq 0 && $err == *"warning: $TMP/cut.jsonl: line 3 is incomplete"* && $(wc -l <<<"$err") -eq 1 ]] \
  && grep -q "series 'train' 2 points: 1,1.2 2,9.9" <<<"$out" \
  && pass "a truncated last line: skipped with one warning, epochs 1-2 drawn" || fail "truncated last line: $status $err $out"
{ printf '\xef\xbb\xbf'; cat "$TMP/run.jsonl"; } >"$TMP/bom.jsonl"
{ printf '\xef\xbb\xbf'; cat "$TMP/run.csv"; } >"$TMP/bom.csv"
for ext in jsonl csv; do
  plot "$TMP/bom.$ext" --out "$TMP/bom_$ext.png" --describe
  [[ $status -eq 0 && $out == "${want_run/run.EXT/bom.$ext}" ]] \
    && pass "a byte order mark before the $ext log: read past, the same figure" || fail "BOM $ext: $status $err $out"
done

# An existing image is replaced (atomically: no temporary left).
echo old >"$TMP/old.png"
plot "$TMP/loss.jsonl" --out "$TMP/old.png"
[[ $status -eq 0 && -n $(png_info "$TMP/old.png") && -z $(ls "$TMP" | grep '\.tmp\.') ]] \
  && pass "an existing image is replaced, no temporary left" || fail "replace: $status $err $(ls "$TMP")"

# --- bad input: exit 2, one line naming the file, no traceback ---------------
# bad LABEL NEEDLE ARGS...
bad() {
  local label=$1 needle=$2; shift 2
  plot "$@"
  if [[ $status -ne 2 ]]; then
    fail "$label: exit $status, expected 2: $err"
  elif [[ $(wc -l <<<"$err") -ne 1 || $err != *error:* ]]; then
    fail "$label: expected one error line: $err"
  elif [[ $err != *"$needle"* ]]; then
    fail "$label: message lacks '$needle': $err"
  else
    pass "$label: $err"
  fi
}
: >"$TMP/empty.jsonl"
printf 'epoch,train_loss\n' >"$TMP/header.csv"
printf '{"loss": 1}\n' >"$TMP/noepoch.jsonl"
printf '{"epoch": 1, "train_loss": "low"}\n' >"$TMP/text.jsonl"
printf 'epoch,train_loss\n1,0.5,7\n' >"$TMP/fields.csv"
bad "missing log" "$TMP/none.jsonl: cannot read" "$TMP/none.jsonl" --out "$TMP/x.png"
bad "an HDF5 file" "$DATA/iris.h5: not a text file" "$DATA/iris.h5" --out "$TMP/x.png"
bad "empty log" "$TMP/empty.jsonl: no epochs" "$TMP/empty.jsonl" --out "$TMP/x.png"
bad "CSV header only" "$TMP/header.csv: no epochs" "$TMP/header.csv" --out "$TMP/x.png"
bad "JSON without epoch" "$TMP/noepoch.jsonl: line 1 has no 'epoch'" "$TMP/noepoch.jsonl" --out "$TMP/x.png"
bad "a value that is text" "$TMP/text.jsonl: line 1: 'train_loss' is 'low'" "$TMP/text.jsonl" --out "$TMP/x.png"
bad "a CSV row too long" "$TMP/fields.csv: line 2 has 3 fields" "$TMP/fields.csv" --out "$TMP/x.png"
cp "$TMP/run.csv" "$TMP/csv.jsonl"
bad "a CSV named .jsonl" "$TMP/csv.jsonl: line 1 is not JSON" "$TMP/csv.jsonl" --out "$TMP/x.png"
printf '{"epoch": 1, "train_loss": 0.5}\n{"epoch": 2, "train_loss": 0.4}\n{"epoch": 3, "train_lo\n' >"$TMP/badmid.jsonl"
bad "a bad last line that ends in a newline (not cut short)" "$TMP/badmid.jsonl: line 3 is not JSON" "$TMP/badmid.jsonl" --out "$TMP/x.png"
/usr/bin/python3 -c 'print("[" * 100000 + "]" * 100000)' >"$TMP/deep.jsonl"
bad "JSON nested 100000 deep" "$TMP/deep.jsonl: line 1 is nested too deeply" "$TMP/deep.jsonl" --out "$TMP/x.png"
printf '{"epoch": 1, "train_loss": 1%0400d}\n' 0 >"$TMP/huge.jsonl"
bad "an integer beyond float" "$TMP/huge.jsonl: line 1: 'train_loss' is 10000" "$TMP/huge.jsonl" --out "$TMP/x.png"
bad "the cv CSV reader given a log" "$TMP/run.csv: the header lacks" --cv "$TMP/run.csv" --out "$TMP/x.png"
printf 'rank,lr,fold1,fold2,mean,std,metric,status\n1,1e6,,,,,rmse,failed: diverged (fold 1)\n' >"$TMP/allfailed.csv"
bad "a cv file where every configuration failed" "$TMP/allfailed.csv: no configuration with a mean" --cv "$TMP/allfailed.csv" --out "$TMP/x.png"
bad "no --out" "--out" "$TMP/run.jsonl"
bad "log and --cv" "either a training log or --cv" "$TMP/run.jsonl" --cv "$TMP/run.csv" --out "$TMP/x.png"
bad "unknown image type" "--out $TMP/x.gif: unknown image type" "$TMP/run.jsonl" --out "$TMP/x.gif"
bad "--out in a missing directory" "--out $TMP/no/x.png: cannot create" "$TMP/run.jsonl" --out "$TMP/no/x.png"
bad "--out under a file" "--out $TMP/run.csv/x.png: cannot create" "$TMP/run.jsonl" --out "$TMP/run.csv/x.png"
bad "--out is the input" "the same file as the input" "$TMP/old.png" --out "$TMP/old.png"
[[ -z $(ls "$TMP" | grep '\.tmp\.\|^x\.') ]] && pass "no image or temporary left by a refused run" || fail "left: $(ls "$TMP")"
# outputs that are not regular files are refused and left as they are
mkdir "$TMP/dir.png"
mkfifo "$TMP/fifo.png"
echo target >"$TMP/target.png"
ln -s target.png "$TMP/link.png"
bad "--out a directory" "--out $TMP/dir.png: a directory" "$TMP/run.jsonl" --out "$TMP/dir.png"
bad "--out a FIFO" "--out $TMP/fifo.png: not a regular file" "$TMP/run.jsonl" --out "$TMP/fifo.png"
bad "--out a symbolic link" "--out $TMP/link.png: a symbolic link" "$TMP/run.jsonl" --out "$TMP/link.png"
bad "a FIFO as the log (not waited on)" "$TMP/fifo.png: not a regular file" "$TMP/fifo.png" --out "$TMP/x.png"
bad "a directory as the log" "$TMP/dir.png: not a regular file" "$TMP/dir.png" --out "$TMP/x.png"
if [[ $(id -u) -ne 0 ]]; then  # root writes anyway
  mkdir "$TMP/ro" && chmod 555 "$TMP/ro"
  bad "--out in a read-only directory" "--out $TMP/ro/x.png: cannot create" "$TMP/run.jsonl" --out "$TMP/ro/x.png"
fi
[[ -d $TMP/dir.png && -p $TMP/fifo.png && -L $TMP/link.png && $(cat "$TMP/target.png") == target ]] \
  && pass "the directory, FIFO, link and its target are as they were" || fail "changed: $(ls -l "$TMP")"

# --- dtrain cv --out and its grid plot ----------------------------------------
# iris, 2 x 2 configurations x 3 folds, a few epochs: the CSV must hold the
# figures of the printed table, row by row.
run 2 180 cv --data "$DATA/iris.h5" --folds 3 --grid 'lr=0.1|0.001' --grid 'layers=8:relu|16:relu' \
  --epochs 3 --out "$TMP/cv.csv"
if [[ $status -ne 0 ]]; then
  fail "cv: status $status: $err"
else
  table=$(awk '/^rank/ { on = 1; next } /^best:/ { on = 0 } on { print $1, $2, $3, $4, $5, $6, $7, $8 }' <<<"$out")
  csv=$(awk -F, 'NR > 1 { print $1, $2, $3, $4, $5, $6, $7, $8 }' "$TMP/cv.csv")
  [[ $(wc -l <<<"$table") -eq 4 && $table == "$csv" ]] && pass "cv --out: the 4 rows of the printed table, field by field" \
    || fail "cv CSV rows differ from the table:"$'\n'"$csv"$'\n'"vs"$'\n'"$table"
  [[ $(head -1 "$TMP/cv.csv") == rank,lr,layers,fold1,fold2,fold3,mean,std,metric,status && \
     $(awk -F, 'NR > 1 && $9 == "accuracy" && $10 == "ok"' "$TMP/cv.csv" | wc -l) -eq 4 ]] \
    && pass "cv --out: header and metric column (accuracy, softmax's default)" || fail "cv CSV: $(cat "$TMP/cv.csv")"
  plot --cv "$TMP/cv.csv" --out "$TMP/grid.png" --describe
  if [[ $status -ne 0 ]]; then
    fail "cv plot: exit $status: $err"
  else
    check_png "cv grid plot" "$TMP/grid.png" "1200 400" 20000
    # every configuration is a point mean+-std in the lr panel (series of its
    # layers) and in the layers panel (series of its lr)
    missing=0
    while IFS=, read -r rank lr layers f1 f2 f3 mean std rest; do
      p=$(awk -v m="$mean" -v s="$std" 'BEGIN { printf "%g+-%g", m, s }')
      grep -q "series 'layers=$layers' 2 points:.* $lr,$p\b" <<<"$out" || missing=1
      grep -q "series 'lr=$lr' 2 points:.* $layers,$p\b" <<<"$out" || missing=1
    done < <(tail -n +2 "$TMP/cv.csv")
    [[ $missing -eq 0 && $(grep -c '^panel' <<<"$out") -eq 2 ]] \
      && pass "cv plot: a panel per option, each configuration's mean +- std in both" \
      || fail "cv plot drew"$'\n'"$out"$'\n'"for"$'\n'"$(cat "$TMP/cv.csv")"
    # the best configuration (rank 1) is starred in both panels, at its mean
    IFS=, read -r rank lr layers f1 f2 f3 mean rest < <(sed -n 2p "$TMP/cv.csv")
    m=$(awk -v m="$mean" 'BEGIN { printf "%g", m }')
    [[ $rank == 1 && $(grep -c "^  mark 'best' at $lr,$m$" <<<"$out") -eq 1 \
       && $(grep -c "^  mark 'best' at $layers,$m$" <<<"$out") -eq 1 && $(grep -c "^  mark" <<<"$out") -eq 2 ]] \
      && pass "cv plot: the best configuration (lr $lr, layers $layers) starred in both panels" \
      || fail "cv best mark: $(grep mark <<<"$out") for $(sed -n 2p "$TMP/cv.csv")"
  fi
fi
# A failed configuration has no mean: left out of the plot, and said so.
run 2 120 cv --data "$DATA/diabetes.h5" --output linear --folds 2 --grid 'lr=0.01|1e6' --optimizer sgd \
  --epochs 2 --out "$TMP/di.csv"
plot --cv "$TMP/di.csv" --out "$TMP/di.png" --describe
[[ $status -eq 0 && $(grep -c "series 'mean' 1 point: 0.01," <<<"$out") -eq 1 && \
   $out == *"y 'validation rmse, mean ± std over 2 folds'"* && $out == *"1 failed configuration not shown"* ]] \
  && pass "cv plot: the diverged lr=1e6 is left out; rmse on the y axis" || fail "failed config: $status $err $out $(cat "$TMP/di.csv")"
finish
