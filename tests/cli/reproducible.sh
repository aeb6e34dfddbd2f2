#!/usr/bin/env bash
# train --reproducible: the same result, bit for bit, whatever the number of
# ranks, their placement on nodes, the reduction, the transport, and a resume
# at another rank count.
#
# Reference: the same command at 1 rank (one process sums every micro-batch
# of a batch itself).  Tolerance: none.  The saved models are compared with
# h5diff without -d/-p (exact equality of every value of /model and
# /normalization), the checkpoints' /optimizer the same way, the printed epoch
# and final lines as text with only the timing fields (samples/s, epoch_time,
# time) removed, and the model's /history (every epoch's train_loss, losses
# and metrics in full double precision, without its two clock columns) as
# %.17g text.
#
# The check can fail: --micro-batch 16 and 8 group the sums differently, and
# the same comparison must tell the two models apart (the negative control).
# The default mode (no --reproducible) is only observed, not asserted: its
# sums follow the ranks, so its weights usually differ from 1 to 3 ranks.
source "$(dirname "$0")/lib.sh"

D=$DATA/digits.h5
I=$DATA/iris.h5
R16=(--reproducible --micro-batch 16)
# digits: 1438 training rows, batch 50: 29 steps per epoch, 58 in all; a
# batch is 4 micro-batches of 16, 16, 16 and 2 rows, the last batch (38 rows)
# 3 of 16, 16 and 6: uneven at 3 ranks, one rank idle at 4 for the last one.
# The L2 penalty, the clipping norm and the layers' gradient norms are sums
# over the parameters' shards (and over nodes), so every case forms them.
PLAIN=(--data "$D" --layers 32:relu,16:tanh --optimizer adam --lr 0.005 --epochs 2
       --batch-size 50 --seed 3 --l2 1e-4 --clip-norm 0.4 --log-grad-norms 10)
BASE=("${PLAIN[@]}" "${R16[@]}")
# iris: 120 training rows; the optimizer runs hold out 24 for valid figures.
SMALL=(--data "$I" --layers 16:tanh,8:relu --epochs 3 --batch-size 50 --seed 4 "${R16[@]}")

cases_failed=()
CASE=""
# begin NAME: the checks that follow belong to case NAME.
begin() { end_case; CASE=$1; case_failures=$failures; case_start=$SECONDS; echo "== $CASE"; }
# end_case: one PASS or FAIL line for the case that is open.
end_case() {
  [[ -n $CASE ]] || return 0
  local took=$((SECONDS - case_start))
  if [[ $failures -eq $case_failures ]]; then echo "PASS $CASE (${took} s)"
  else echo "FAIL $CASE (${took} s)"; cases_failed+=("$CASE"); fi
  CASE=""
}

# trained NAME NP [MPIRUN OPTIONS...] -- TRAIN OPTIONS...: trains under mpirun
# into $TMP/NAME (m.h5 the model, ck/ the checkpoints, out and err what was
# printed, lines the printed figures); the exit status must be $EXPECT (0).
# BIN (default $DTRAIN) is the command run.
trained() {
  local name=$1 np=$2 mpiopts=() st
  shift 2
  while [[ $# -gt 0 && $1 != -- ]]; do mpiopts+=("$1"); shift; done
  shift
  local dir=$TMP/$name
  mkdir -p "$dir"
  timeout -k 5 120 mpirun -np "$np" "${mpiopts[@]}" "${BIN:-$DTRAIN}" train "$@" \
    --save "$dir/m.h5" --checkpoint-dir "$dir/ck" >"$dir/out" 2>"$dir/err"
  st=$?
  figures <"$dir/out" >"$dir/lines"
  if [[ $st -ne ${EXPECT:-0} ]]; then
    fail "$name: np=$np exit $st, expected ${EXPECT:-0}: mpirun -np $np ${mpiopts[*]} train $*: $(grep -m 3 'error:' "$dir/err" || tail -n 4 "$dir/err")"
    return 1
  fi
  return 0
}

# figures: the epoch, final and --log-grad-norms lines of a run on stdin,
# timing fields removed.
figures() { grep -E '^(epoch|final:|grad_norms)' | sed -E 's/ +[^ ]+ samples\/s.*$//'; }

# history FILE: the saved model's /history/epochs, one value a line at full
# precision ("epoch E column C: V"), without columns 3 and 4 (epoch_time and
# time: the clock's).  Columns: epoch step samples epoch_time time lr
# train_loss, then each set's loss and metrics.
history() {
  local cols
  cols=$(h5ls "$1/history/epochs" | sed -n 's/.*{[0-9]*, \([0-9]*\)}.*/\1/p')
  h5dump -d /history/epochs -m '%.17g' -y -w 1 "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' |
    tr -d ' ,' |
    awk -v c="$cols" '{ k = (NR - 1) % c } k != 3 && k != 4 { print "epoch " int((NR - 1) / c) + 1 " column " k ": " $0 }'
}

# differs A B GROUP: h5diff's report of the values of GROUP that differ
# between files A and B (each differing dataset or attribute with its first
# three differences and their count), empty when every value is equal.
differs() {
  local rep
  rep=$(h5diff -r "$1" "$2" "$3" "$3" 2>&1) && return 0
  awk '/^(attribute|dataset):/ { n = 0 }
       /^[0-9]+ differences? found/ { if ($1 > 0) { for (i = 0; i < n; i++) print b[i]; print } next }
       n < 7 { b[n++] = $0 }' <<<"$rep" | head -n 24
  grep -q 'differences\? found' <<<"$rep" || echo "h5diff $3: $rep"
}

# same A B LABEL [SKIP]: runs A and B (names given to trained) agree bit for
# bit: the model's weights and normalisation, the final checkpoint's optimizer
# state, the full-precision history, and the printed figures (A's without the
# lines matching SKIP: the epochs before a resume).
same() {
  local a=$TMP/$1 b=$TMP/$2 label=$3 skip=${4:-^$} ok=1 g d
  for g in /model /normalization; do
    d=$(differs "$a/m.h5" "$b/m.h5" $g)
    [[ -z $d ]] || { ok=0; fail "$label: $g differs:"$'\n'"$d"; }
  done
  d=$(differs "$a/ck/latest.h5" "$b/ck/latest.h5" /optimizer)
  [[ -z $d ]] || { ok=0; fail "$label: checkpoint /optimizer differs:"$'\n'"$d"; }
  if [[ "$(history "$a/m.h5")" != "$(history "$b/m.h5")" ]]; then
    ok=0
    fail "$label: /history differs:"$'\n'"$(diff <(history "$a/m.h5") <(history "$b/m.h5") | head -n 6)"
  fi
  if [[ ! -s $a/lines ]] || ! cmp -s <(grep -v -- "$skip" "$a/lines") "$b/lines"; then
    ok=0
    fail "$label: printed figures differ:"$'\n'"$(diff <(grep -v -- "$skip" "$a/lines") "$b/lines" | head -n 8)"
  fi
  [[ $ok -eq 0 ]] || pass "$label: identical weights, optimizer state, history and printed figures"
}

# --- the number of ranks -------------------------------------------------
begin "ranks 1-4, batch 50, micro-batch 16"
for np in 1 2 3 4; do trained base$np $np -- "${BASE[@]}"; done
for np in 2 3 4; do same base1 base$np "$np ranks = 1 rank"; done
grep -q 'reduction node' "$TMP/base4/err" && fail "4 ranks: no node reduction: $(cat "$TMP/base4/err")"

begin "ranks 1 and 3 with --drop-last"
for np in 1 3; do trained drop$np $np -- "${BASE[@]}" --drop-last; done
same drop1 drop3 "--drop-last: 3 ranks = 1 rank"
# 28 steps an epoch instead of 29: the option did act
steps=$(history "$TMP/drop1/m.h5" | sed -n 's/^epoch 1 column 1: //p')
[[ $steps == 28 ]] && pass "--drop-last: 28 steps an epoch" || fail "--drop-last: $steps steps in epoch 1"

# batch 20 of micro-batch 16: two micro-batches (16 and 4 rows) for 4 ranks.
begin "more ranks than micro-batches (batch 20, micro-batch 16, 4 ranks)"
with "${SMALL[@]}" -- --batch-size 20
for np in 1 4; do trained few$np $np -- "${W[@]}"; done
same few1 few4 "batch 20 / micro-batch 16: 4 ranks = 1 rank"

# batch 3 of micro-batch 2: 3 rows (micro-batches of 2 and 1) for 4 ranks.
begin "more ranks than samples in a batch (batch 3, micro-batch 2, 4 ranks)"
with "${SMALL[@]}" -- --batch-size 3 --micro-batch 2 --epochs 1
for np in 1 4; do trained tiny$np $np -- "${W[@]}"; done
same tiny1 tiny4 "batch 3 / micro-batch 2: 4 ranks = 1 rank"

# micro-batch 300 over batch 32: the batch is one micro-batch, the same cut
# as micro-batch 32 (300 also exceeds the 256 rows of the model's evaluation
# workspace, which it once had to fit).
begin "micro-batch larger than the batch (batch 32, micro-batch 300)"
with "${SMALL[@]}" -- --batch-size 32 --micro-batch 32
trained whole1 1 -- "${W[@]}"
with "${SMALL[@]}" -- --batch-size 32 --micro-batch 300
for np in 1 2; do trained over$np $np -- "${W[@]}"; done
same whole1 over1 "micro-batch 300 = micro-batch 32 (the batch) at 1 rank"
same whole1 over2 "micro-batch 300 at 2 ranks = micro-batch 32 at 1 rank"

# --- reduction, nodes, transport --------------------------------------------
begin "--reduction mpi"
trained mpi3 3 -- "${BASE[@]}" --reduction mpi
same base1 mpi3 "--reduction mpi at 3 ranks = 1 rank"

# DTRAIN_TEST_RANKS_PER_NODE=2: ranks 0-1 and 2-3 are two nodes, so the node
# reduction sums within each node through shared memory, then across the two.
begin "several nodes: 4 ranks as 2 nodes x 2"
for red in node mpi; do
  BIN=$DTRAIN_TEST_BIN trained nodes$red 4 -x DTRAIN_TEST_RANKS_PER_NODE=2 -- "${BASE[@]}" --reduction $red
  same base1 nodes$red "2 nodes x 2 ranks, --reduction $red = 1 rank"
done
grep -q 'reduction node' "$TMP/nodesnode/err" &&
  fail "2 x 2: the node reduction was not used: $(cat "$TMP/nodesnode/err")"
# Nodes of 3 and 1 ranks, the same.
BIN=$DTRAIN_TEST_BIN trained nodes31 4 -x DTRAIN_TEST_RANKS_PER_NODE=3 -- "${BASE[@]}"
same base1 nodes31 "nodes of 3 and 1 ranks = 1 rank"
# The hook reaches the ranks: without --reproducible, nodes of 3 and 1 make
# the node reduction fall back to MPI with a warning.
BIN=$DTRAIN_TEST_BIN trained hook 4 -x DTRAIN_TEST_RANKS_PER_NODE=3 -- --data "$I" --epochs 1
grep -q 'reduction node' "$TMP/hook/err" && pass "the ranks-per-node hook acts (default mode's warning)" ||
  fail "3 + 1 ranks per node: no warning, the hook did not act: $(cat "$TMP/hook/err")"

# pml ob1 with btl self,tcp: ranks reach each other only over TCP (see
# transport.sh; --reduction mpi, since node-shared memory is no btl's).
begin "transport: TCP instead of shared memory"
trained tcp3 3 --mca pml ob1 --mca btl self,tcp -- "${BASE[@]}" --reduction mpi
same base1 tcp3 "btl self,tcp at 3 ranks = shared memory at 1 rank"

# --- resume at another rank count ------------------------------------------
# Stopped at step 40 (mid-epoch 2) at 2 ranks, resumed at 3, against the
# uninterrupted run at 1 rank (base1): the running train_loss of epoch 2 is
# carried over the change of rank count too.
begin "stopped at 2 ranks, resumed at 3 = uninterrupted at 1"
EXPECT=75 trained resume 2 -- "${BASE[@]}" --stop-at-step 40
[[ -f $TMP/resume/ck/step-00000040.h5 ]] && pass "2 ranks stopped at step 40 with a checkpoint" ||
  fail "no step-40 checkpoint: $(ls "$TMP/resume/ck" 2>&1)"
if trained resume 3 -- "${BASE[@]}" --resume; then
  grep -q "resuming from .* at epoch 2, step 40" "$TMP/resume/out" && pass "resumed from step 40" ||
    fail "not resumed from step 40: $(head -n 5 "$TMP/resume/out")"
  # the resumed run prints from step 41 on: the reference's lines without
  # epoch 1 and the gradient norms of steps 1-40
  same base1 resume "stopped at 2 ranks, resumed at 3 = 1 rank uninterrupted" \
    '^epoch *1/\|^grad_norms step [1-4]0:'
  d=$(differs "$TMP/base1/ck/step-00000058.h5" "$TMP/resume/ck/step-00000058.h5" /model)
  [[ -z $d ]] && pass "the step-58 checkpoints' parameters are equal" || fail "step-58 checkpoints: $d"
fi

# --- the floating-point environment ------------------------------------------
# --denormals keep (IEEE subnormals) is as reproducible as the default, flush
# (every case above): across rank counts and across a resume at another rank
# count.  The checkpoint records the mode, and a resume in the other one is
# refused (its bits would not be the uninterrupted run's).
begin "--denormals keep: 1 vs 3 ranks, stopped at 3 and resumed at 2"
for np in 1 3; do trained keep$np $np -- "${BASE[@]}" --denormals keep; done
same keep1 keep3 "--denormals keep: 3 ranks = 1 rank"
EXPECT=75 trained keepres 3 -- "${BASE[@]}" --denormals keep --stop-at-step 40
EXPECT=2 trained keepres 2 -- "${BASE[@]}" --resume &&
  grep -q "denormals: checkpoint 'keep', now 'flush'" "$TMP/keepres/err" &&
  pass "a resume in the other mode is refused, naming --denormals" ||
  fail "resume with flush of a keep checkpoint: $(tail -n 4 "$TMP/keepres/err")"
trained keepres 2 -- "${BASE[@]}" --denormals keep --resume &&
  same keep1 keepres "--denormals keep: stopped at 3 ranks, resumed at 2 = 1 rank uninterrupted" \
    '^epoch *1/\|^grad_norms step [1-4]0:'
c=$(timeout 60 mpirun -np 1 "$DTRAIN" inspect --config "$TMP/keep1/m.h5" 2>&1)
grep -qx 'denormals: keep' <<<"$c" && pass "the model records denormals: keep" ||
  fail "keep1/m.h5: the configuration lacks denormals: keep: $c"
n=$(h5diff "$TMP/base1/m.h5" "$TMP/keep1/m.h5" /model /model 2>&1 | sed -n 's/^\([0-9]*\) differences found/\1/p' | awk '{ s += $1 } END { print s + 0 }')
echo "note: flush vs keep at 1 rank: $n values of /model differ"

# --- optimizers and regularisation -------------------------------------------
# Every first-order optimizer, with dropout, L1, L2 and both clippings spread
# over them; each at 1 and 3 ranks, printing the layers' gradient norms and
# every metric of the validation and test sets.
begin "optimizers, dropout, L1/L2, clipping: 1 vs 3 ranks"
i=0
for extra in "--optimizer sgd --lr 0.1 --l2 1e-3 --clip-value 0.05" \
             "--optimizer momentum --dropout 0.2 --clip-norm 0.5" \
             "--optimizer nesterov --l1 1e-3 --dropout 0.1" \
             "--optimizer adagrad --lr 0.05 --clip-value 0.02 --l2 1e-2" \
             "--optimizer rmsprop --centered --momentum 0.5 --clip-norm 0.3 --l1 1e-4" \
             "--optimizer adam --dropout 0.3 --l2 1e-3 --clip-norm 1" \
             "--optimizer adamw --l1 1e-3 --clip-value 0.1 --dropout 0.2"; do
  i=$((i + 1))
  for np in 1 3; do
    trained opt$i-$np $np -- "${SMALL[@]}" --valid-split 0.2 --log-grad-norms 2 \
      --metrics auc,f1,accuracy,log_loss $extra
  done
  same opt$i-1 opt$i-3 "${extra% --*}..., 3 ranks = 1 rank ($extra)"
done

# oneDNN capped at AVX2: its products may give a row of a group of
# micro-batches other bits than the micro-batch's own product, and the
# micro-batches then run one by one (with their own rows' dropout masks).
begin "oneDNN capped at AVX2, dropout: 1 vs 3 ranks"
for np in 1 3; do
  DNNL_MAX_CPU_ISA=AVX2 trained avx2-$np $np -- --data "$D" --layers 64:relu:0.2,32:tanh --epochs 2 \
    --batch-size 96 --seed 5 --reproducible
done
same avx2-1 avx2-3 "DNNL_MAX_CPU_ISA=AVX2, dropout 0.2: 3 ranks = 1 rank"

# --- normalisation and regression ---------------------------------------------
begin "regression (--output linear, normalised targets), zscore: 1 vs 3 ranks"
REG=(--data "$DATA/diabetes.h5" --output linear --layers 16:relu --epochs 3 --batch-size 50
     --seed 2 --metrics rmse,mae,r2 "${R16[@]}")
for np in 1 3; do trained reg$np $np -- "${REG[@]}"; done
same reg1 reg3 "regression: 3 ranks = 1 rank"

begin "--normalize minmax: 1 vs 4 ranks"
for np in 1 4; do trained minmax$np $np -- "${SMALL[@]}" --normalize minmax; done
same minmax1 minmax4 "--normalize minmax: 4 ranks = 1 rank"

# --- eval of the saved models --------------------------------------------------
# The model trained at 1 rank evaluated at 1 rank and the one trained at 4
# ranks evaluated at 4: the same JSON (full precision), but for its path.
begin "eval of the models trained at 1 and 4 ranks"
ev() {
  timeout -k 5 60 mpirun -np "$1" "$DTRAIN" eval --model "$2" --data "$D" --json 2>"$TMP/eval.err" |
    sed 's/"model": "[^"]*"//'
}
e1=$(ev 1 "$TMP/base1/m.h5"); e4=$(ev 4 "$TMP/base4/m.h5")
if [[ "$e1" == *'"accuracy"'* && "$e1" == "$e4" ]]; then pass "eval: identical output"
else fail "eval output differs:"$'\n'"$e1"$'\n'"vs"$'\n'"$e4"; fi

# --- the options in a config file, and what the model records -----------------
begin "config file and the recorded configuration"
printf 'reproducible: true\nmicro-batch: 16\n' >"$TMP/r.yaml"
trained conf 2 -- "${PLAIN[@]}" --config "$TMP/r.yaml"
same base1 conf "--reproducible and --micro-batch from a config file at 2 ranks = command line at 1"
for f in "$TMP/base4/m.h5" "$TMP/base4/ck/latest.h5"; do
  c=$(timeout 60 mpirun -np 1 "$DTRAIN" inspect --config "$f" 2>&1)
  grep -qx 'reproducible: true' <<<"$c" && grep -qx 'micro-batch: 16' <<<"$c" &&
    pass "${f#$TMP/}: records reproducible and micro-batch 16" || fail "${f#$TMP/}: configuration lacks them: $c"
done

# cv: each trial and the refit are training runs, so the folds' figures and
# the refit model are the same at 1 rank and on a group of 3 ranks.  Plain
# sgd at a high rate: its weights carry the gradients' last bits (Adam at
# 0.001 on iris absorbs a changed order of the micro-batches' sums, seen).
begin "cv --reproducible: 1 rank vs a group of 3"
for np in 1 3; do
  timeout -k 5 120 mpirun -np $np "$DTRAIN" cv --data "$I" --folds 2 --grid 'lr=0.1|0.03' --optimizer sgd \
    --layers 16:tanh,8:relu --epochs 3 --batch-size 50 --metric log_loss "${R16[@]}" --ranks-per-trial $np \
    --out "$TMP/cv$np.csv" --refit "$TMP/cv$np.h5" >"$TMP/cv$np.out" 2>&1 ||
    fail "cv at $np ranks: $(tail -n 4 "$TMP/cv$np.out")"
done
if [[ -s $TMP/cv1.csv ]] && cmp -s "$TMP/cv1.csv" "$TMP/cv3.csv"; then pass "cv: the same table"
else fail "cv tables differ: $(diff "$TMP/cv1.csv" "$TMP/cv3.csv")"; fi
d=$(differs "$TMP/cv1.h5" "$TMP/cv3.h5" /model)
[[ -z $d ]] && pass "cv: the same refit model" || fail "cv refit models differ:"$'\n'"$d"

# --- the check can fail ----------------------------------------------------------
begin "negative control: --micro-batch 8 differs from 16"
with "${BASE[@]}" -- --micro-batch 8
trained mb8 1 -- "${W[@]}"
d=$(differs "$TMP/base1/m.h5" "$TMP/mb8/m.h5" /model)
[[ -n $d ]] && pass "micro-batch 8 vs 16: h5diff finds differences" ||
  fail "micro-batch 8 and 16 give the same weights: the comparison cannot fail"

# The default mode computes the same mean gradients with other roundings:
# at 1 rank its weights are within 1e-4 (absolute, h5diff -d; the weights are
# of order 0.1) of the reproducible run's after the 58 steps, so
# --reproducible is not reproducibly wrong.  That the default mode's sums
# follow the ranks is only observed, not asserted.
begin "the default mode: near the reproducible run; 1 vs 3 ranks observed"
for np in 1 3; do trained dflt$np $np -- "${PLAIN[@]}"; done
if h5diff -q -d 1e-4 "$TMP/dflt1/m.h5" "$TMP/base1/m.h5" /model /model >/dev/null 2>&1; then
  pass "default and --reproducible at 1 rank agree within 1e-4"
else
  fail "default and --reproducible at 1 rank differ beyond 1e-4: $(h5diff -d 1e-4 -r "$TMP/dflt1/m.h5" "$TMP/base1/m.h5" /model /model 2>&1 | grep found)"
fi
n=$(h5diff "$TMP/dflt1/m.h5" "$TMP/dflt3/m.h5" /model /model 2>&1 | sed -n 's/^\([0-9]*\) differences found/\1/p' | awk '{ s += $1 } END { print s + 0 }')
echo "note: default mode, 1 vs 3 ranks: $n values of /model differ"

# --- bad input ----------------------------------------------------------------------
begin "bad input"
expect_error 1 2 "--micro-batch" train --data "$I" --epochs 1 --micro-batch 16
expect_error 3 2 "--micro-batch" train --data "$I" --epochs 1 --micro-batch 16
expect_error 1 2 "--micro-batch" train --data "$I" --epochs 1 --reproducible --micro-batch 0
for so in lbfgs newton; do
  expect_error 1 2 "--reproducible" train --data "$I" --epochs 1 --reproducible --optimizer $so
done
expect_error 3 2 "--reproducible" train --data "$I" --epochs 1 --reproducible --optimizer lbfgs
# a GEMM split over threads may add in another order
expect_error 1 2 "--threads" train --data "$I" --epochs 1 --reproducible --threads 2
printf 'micro-batch: 16\n' >"$TMP/mb.yaml"
expect_error 1 2 "micro-batch" train --data "$I" --epochs 1 --config "$TMP/mb.yaml"

end_case
[[ ${#cases_failed[@]} -eq 0 ]] || printf 'failed case: %s\n' "${cases_failed[@]}"
finish
