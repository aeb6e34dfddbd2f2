#!/usr/bin/env bash
# A run you can watch, keep and trust: progress on a terminal and on a pipe,
# the metrics log against the epoch lines, the history in checkpoints and
# saved models, a resumed run's log, and selection that never uses /test.
source "$(dirname "$0")/lib.sh"
D=$DATA/digits.h5
BASE=(--data "$D" --layers 32:relu --optimizer adam --lr 0.001 --seed 3)

# --- progress -----------------------------------------------------------------------
# On a pseudo-terminal (script(1) gives the command one): the bar is redrawn in
# place (carriage return, erase to the end of the line) and each epoch's line
# replaces it.
# (a large net and small batches: epochs of several tenths of a second, and
# the bar is redrawn every 0.1 s)
with "${BASE[@]}" -- --layers 512:relu,512:relu --epochs 2 --batch-size 4
script -qec "timeout -k 5 120 mpirun -np 2 $DTRAIN train ${W[*]}" \
  /dev/null >"$TMP/pty" 2>&1
tr -d '\r' <"$TMP/pty" >"$TMP/pty.plain"
grep -q $'\r''epoch 1/2 \[' "$TMP/pty" && grep -q $'\033\[K' "$TMP/pty" \
  && pass "terminal: a bar redrawn in place" || fail "terminal: no bar: $(od -c "$TMP/pty" | head)"
grep -q '%  [0-9]* samples/s  ETA [0-9:]*.*  loss [0-9.]*'$'\033' "$TMP/pty" \
  && pass "terminal: samples/s, ETA and running loss" || fail "terminal: bar text: $(head -c 600 "$TMP/pty")"
# the epoch line starts after the bar is erased: "\r\033[K" then "epoch   1/2  train_loss"
grep -q $'\033\[Kepoch   1/2  train_loss' "$TMP/pty.plain" \
  && pass "terminal: the epoch line replaces the bar" || fail "terminal: epoch line: $(head -c 600 "$TMP/pty")"

# On a pipe: plain lines, no control characters; --progress-every 0 reports
# after every step.
run 2 120 train "${BASE[@]}" --epochs 2 --batch-size 256 --progress-every 0
n=$(grep -c '^epoch 2/2  *[0-9]*%  [0-9]*/1438  [0-9]* samples/s  ETA' <<<"$out")
! grep -q $'[\r\033]' "$TMP/out" && [[ $n -eq 6 ]] \
  && pass "pipe: plain progress lines, one per step (6 for 1438 samples / 256)" \
  || fail "pipe: $n progress lines of epoch 2: $out"
# auto on a pipe, default interval (10 s): a 2-epoch digits run is shorter, so
# only the epoch lines appear; off never shows progress
for mode in auto off; do
  run 2 120 train "${BASE[@]}" --epochs 2 --progress $mode
  [[ $(grep -c '^epoch' <<<"$out") -eq 2 ]] && ! grep -q $'[\r\033]' "$TMP/out" \
    && pass "--progress $mode on a pipe: the epoch lines only" || fail "--progress $mode: $out"
done
with "${BASE[@]}" -- --layers 512:relu,512:relu --epochs 1 --batch-size 4 --progress bar
run 2 120 train "${W[@]}"
grep -q $'\r''epoch 1/1 \[' "$TMP/out" && pass "--progress bar draws on a pipe too" \
  || fail "--progress bar: $out"
expect_error 2 2 "--progress: 'sometimes' is not one of auto|bar|lines|off" \
  train "${BASE[@]}" --progress sometimes

# --- the metrics log ------------------------------------------------------------------
# JSON Lines: one record per epoch, the epoch lines' names and values (to the
# 4 decimals they print), the counts exact (1293 training samples after the
# 10% held out of 1438; 41 steps of 32 per epoch).
LOGCHECK=$(cat <<'EOF'
import json, re, sys
lines = [l for l in open(sys.argv[2]) if l.startswith("epoch ")]
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == len(lines) == int(sys.argv[3]), (len(recs), len(lines))
keys = list(recs[0])
want = sys.argv[4].split(",")
assert keys == want, keys
for i, (r, line) in enumerate(zip(recs, lines)):
    assert r["epoch"] == i + 1 and r["step"] == 41 * (i + 1) and r["samples"] == 1293 * (i + 1), r
    shown = dict(re.findall(r"  ([a-z_0-9]+) (-?[0-9.]+)(?= |$)", line))
    for k, v in shown.items():  # equal to the digits printed
        if k in r:
            places = len(v.split(".")[1]) if "." in v else 0
            assert abs(r[k] - float(v)) <= 0.5 * 10 ** -places + 1e-9, (k, r[k], v)
    for k in ("train_loss", "valid_loss", "valid_accuracy", "valid_f1", "test_loss"):
        assert k in shown, (k, line)
    assert r["time"] >= r["epoch_time"] > 0 and abs(r["lr"] - 0.001) < 1e-12
print("ok")
EOF
)
# (best_epoch: with --early-stopping, the epoch whose weights it keeps so far)
COLS=epoch,step,samples,epoch_time,time,lr,train_loss,valid_loss,valid_accuracy,valid_f1,test_loss,test_accuracy,test_f1,best_epoch
run 2 120 train "${BASE[@]}" --epochs 4 --early-stopping 5 --metrics accuracy,f1 \
  --log "$TMP/run.jsonl" --save "$TMP/m.h5"
printf '%s\n' "$out" >"$TMP/lines"
r=$(/usr/bin/python3 -c "$LOGCHECK" "$TMP/run.jsonl" "$TMP/lines" 4 "$COLS" 2>&1)
[[ $status -eq 0 && $r == ok ]] && pass "--log JSON Lines: 4 records, the epoch lines' names and values" \
  || fail "--log JSON Lines: $status $r $err"
# the log draws: scripts/plot.py gives loss, accuracy and f1 panels (3 of
# 600 x 400, two to a row), each with its curves
/usr/bin/python3 "$SRC/scripts/plot.py" "$TMP/run.jsonl" --out "$TMP/run.png" --describe >"$TMP/plot.txt" 2>&1
size=$(/usr/bin/python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print(*struct.unpack(">II", d[16:24]))' "$TMP/run.png" 2>/dev/null)
[[ $size == "1200 800" && $(stat -c %s "$TMP/run.png") -gt 40000 ]] && grep -q "^figure 1200x800 3 panels" "$TMP/plot.txt" && grep -q "^panel 'f1'" "$TMP/plot.txt" \
  && pass "the log plots: $size pixels, $(stat -c %s "$TMP/run.png") bytes" || fail "plot of the log: '$size' $(cat "$TMP/plot.txt")"
# the epoch early stopping kept (the last record's best_epoch: the epoch of
# the best valid_loss) is marked in each of the 3 panels
kept=$(/usr/bin/python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
best = min(r, key=lambda x: x["valid_loss"])["epoch"]
assert all(x["best_epoch"] == min(r[: i + 1], key=lambda y: y["valid_loss"])["epoch"] for i, x in enumerate(r)), r
assert r[-1]["best_epoch"] == best
print(best)' "$TMP/run.jsonl" 2>&1)
[[ $(grep -c "^  mark 'kept epoch' at $kept\$" "$TMP/plot.txt") -eq 3 ]] \
  && pass "best_epoch: the best valid_loss so far; the plot marks epoch $kept in every panel" \
  || fail "kept epoch: '$kept' $(grep mark "$TMP/plot.txt")"
# CSV by extension: a header of the same names, the same numbers
run 2 120 train "${BASE[@]}" --epochs 4 --early-stopping 5 --metrics accuracy,f1 --log "$TMP/run.csv"
r=$(/usr/bin/python3 -c 'import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
recs = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == len(recs) == 4 and list(rows[0]) == list(recs[0])
for a, b in zip(rows, recs):
    for k in b:
        if k not in ("time", "epoch_time"):  # clocks differ between the two runs
            assert float(a[k]) == b[k], (k, a[k], b[k])
print("ok")' "$TMP/run.csv" "$TMP/run.jsonl" 2>&1)
[[ $r == ok ]] && pass "--log FILE.csv: a header of the same names, the same figures" \
  || fail "--log csv: $r $(cat "$TMP/run.csv")"
# --profile adds the phases
run 1 120 train "${BASE[@]}" --epochs 1 --profile --log "$TMP/p.jsonl"
grep -q '"time_data": [0-9.e-]*, "time_compute": [0-9.e-]*, "time_comm": [0-9.e-]*, "time_update": [0-9.e-]*, "time_eval": [0-9.e-]*}$' "$TMP/p.jsonl" \
  && pass "--log with --profile: the phase times" || fail "--log --profile: $(cat "$TMP/p.jsonl")"
# the saved model keeps every epoch and every metric
cols=$(h5dump -a /history/columns "$TMP/m.h5" | sed -n 's/.*(0): "\(.*\)"/\1/p')
[[ $cols == "$COLS" ]] && h5dump -H -d /history/epochs "$TMP/m.h5" | grep -q 'DATASPACE  SIMPLE { ( 4, 14 )' \
  && pass "--save keeps the history: 4 epochs x 14 named figures" || fail "--save history: '$cols'"
"$DTRAIN" inspect "$TMP/m.h5" | grep -q 'valid_f1' && pass "inspect shows the history's columns" \
  || fail "inspect: $("$DTRAIN" inspect "$TMP/m.h5")"
# not a regular file of ours: refused before training, nothing touched
mkfifo "$TMP/fifo"
expect_error 2 2 "--log $TMP/fifo" train "${BASE[@]}" --log "$TMP/fifo"
expect_error 1 2 "is also --save's file" train "${BASE[@]}" --log "$TMP/x.h5" --save "$TMP/x.h5"

# The log is open for the whole run: its name moved aside and a FIFO put in
# its place after the first epoch (no reader: opening it would block) changes
# nothing; every later record goes to the file the run opened, now at the
# other name.  (Epochs of a few tenths of a second.)
with "${BASE[@]}" -- --layers 256:relu,256:relu --batch-size 8 --epochs 6 --log "$TMP/swap.jsonl"
timeout -k 5 120 mpirun -np 2 "$DTRAIN" train "${W[@]}" >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 600); do grep -q '^epoch *1/' "$TMP/out" 2>/dev/null && break; sleep 0.1; done
mv "$TMP/swap.jsonl" "$TMP/swap.old" && mkfifo "$TMP/swap.jsonl"
early=$(grep -c '^epoch' "$TMP/out")
wait $pid
st=$?
if [[ $early -ge 6 ]]; then
  fail "log swapped for a FIFO: the run had ended before the swap (epochs too short)"
elif [[ $st -eq 0 && -p $TMP/swap.jsonl && $(grep -c '^{"epoch": [1-6], .*}$' "$TMP/swap.old") -eq 6 ]]; then
  pass "log swapped for a FIFO after epoch $early: the run ends (status 0), its 6 records in the file it opened"
else
  fail "log swapped for a FIFO: status $st, $(cat "$TMP/err") $(ls -l "$TMP/swap.jsonl") $(cat "$TMP/swap.old")"
fi

# A full disk (a file-size limit of 1 KiB here, the ranks' own transport so
# that nothing else is limited): the record that does not fit is cut back,
# the log keeps whole lines only and says why it stops, and the run goes on.
with "${BASE[@]}" -- --epochs 8 --metrics accuracy,f1 --log "$TMP/full.jsonl"
timeout -k 5 120 mpirun --mca btl self,tcp -np 2 bash -c "ulimit -f 1; exec '$DTRAIN' train $(printf '%q ' "${W[@]}")" >"$TMP/out" 2>"$TMP/err"
st=$?
n=$(wc -l <"$TMP/full.jsonl")
if [[ $st -eq 0 && $n -ge 1 && $n -lt 8 && $(tail -c 1 "$TMP/full.jsonl" | od -An -c | tr -d ' ') == '\n' ]] \
  && /usr/bin/python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$TMP/full.jsonl" \
  && grep -q "warning: --log $TMP/full.jsonl: cannot append epoch $((n + 1))'s record: File too large; the log stops here" "$TMP/err" \
  && grep -q '^epoch   8/8' "$TMP/out"; then
  pass "log on a full disk: $n whole lines, the cause given, the run completes"
else
  fail "log on a full disk: status $st, $n lines: $(cat -A "$TMP/full.jsonl" | tail -c 300) $(cat "$TMP/err")"
fi
"$SRC/scripts/plot.py" "$TMP/full.jsonl" --out "$TMP/full.png" 2>"$TMP/plot.err" && [[ ! -s $TMP/plot.err ]] \
  && pass "the cut log plots, without a warning" || fail "plot of the cut log: $(cat "$TMP/plot.err")"

# A run stopped at step 100 (in epoch 3) and resumed writes the same log as an
# uninterrupted one: epochs 1-4 once each, the same figures (not the clocks).
C=$TMP/ck
log_without_times() { /usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); r.pop("time"); r.pop("epoch_time"); print(json.dumps(r))' "$1"; }
run 2 120 train "${BASE[@]}" --epochs 4 --log "$TMP/full.jsonl"
run 2 120 train "${BASE[@]}" --epochs 4 --log "$TMP/cut.jsonl" --checkpoint-dir "$C" --stop-at-step 100
[[ $status -ne 0 && $(wc -l <"$TMP/cut.jsonl") -eq 2 ]] || fail "stop at step 100: $status $(cat "$TMP/cut.jsonl")"
echo '{"epoch": 3, "note": "an epoch the checkpoint does not have"}' >>"$TMP/cut.jsonl"
run 2 120 train "${BASE[@]}" --epochs 4 --log "$TMP/cut.jsonl" --checkpoint-dir "$C" --resume
[[ $status -eq 0 ]] && diff <(log_without_times "$TMP/full.jsonl") <(log_without_times "$TMP/cut.jsonl") >/dev/null \
  && pass "resumed: the log holds epochs 1-4 once, as an uninterrupted run's" \
  || fail "resumed log: $status $err $(cat "$TMP/cut.jsonl")"

# --- no selection on the test set -----------------------------------------------------
# digits.h5 has /train and /test only.  Early stopping holds 10% of /train out
# and watches it; /test is reported, never used: a file whose /test is other
# data (here the training set) gives bit-identical weights.
h5copy -i "$D" -o "$TMP/other.h5" -s /train -d /train
h5copy -i "$D" -o "$TMP/other.h5" -s /train -d /test
for f in "$D" "$TMP/other.h5"; do
  run 2 120 train --data "$f" --layers 32:relu --optimizer sgd --lr 0.3 --seed 3 --epochs 40 \
    --early-stopping 2 --save "$TMP/es-$(basename "$f")"
  printf '%s\n' "$out" >"$TMP/es-$(basename "$f").out"
done
out=$(cat "$TMP/es-digits.h5.out")
grep -q "^dtrain: --early-stopping watches a validation set and $D has no /valid: holding out 10% of /train for it" <<<"$out" \
  && pass "early stopping without /valid says it holds 10% out" || fail "no hold-out line: $out"
grep -q '^final: valid_loss [0-9.]*  valid_accuracy [0-9.]*  (145 samples: 10% of /train held out)$' <<<"$out" \
  && grep -q '^final: test_loss [0-9.]*  test_accuracy [0-9.]*  (359 samples: /test)$' <<<"$out" \
  && pass "the final lines name each figure's set" || fail "final lines: $out"
grep -q '^early stopping: .*has not improved' <<<"$out" || fail "early stopping did not stop: $out"
h5diff -q "$TMP/es-digits.h5" "$TMP/es-other.h5" /model /model \
  && pass "early stopping: the same weights whatever /test holds (it is never watched)" \
  || fail "early stopping looked at /test: the weights differ"
# the plateau schedule likewise; --valid-split 0 given says why it cannot
run 2 120 train "${BASE[@]}" --epochs 1 --schedule plateau
grep -q "^dtrain: --schedule plateau watches a validation set" <<<"$out" && pass "plateau holds 10% out" \
  || fail "plateau: $out"
expect_error 2 2 "--early-stopping watches a validation set, but $D has no /valid and --valid-split 0 holds none out" \
  train "${BASE[@]}" --early-stopping 3 --valid-split 0

finish
