#!/usr/bin/env bash
# The Python package's cost (not a test): the same training run through
# `dtrain train` and through dtrain.MLPClassifier.fit, side by side, at 1 rank.
#
#   scripts/bench-python.sh [--epochs 5] [--data FILE.h5] [--repeats 1]
#
# Workload: Fashion-MNIST (datasets/fashion-mnist.sh builds it, run here when
# missing), --layers 256:relu,128:relu --output softmax --optimizer adam --lr
# 1e-3 --batch-size 128 --seed 1, on the file's /train group alone (copied to
# a temporary file with h5copy, so that neither side evaluates a test set
# inside its epochs).  The command's time per epoch is its --log's
# epoch_time; the estimator's is history_["epoch_time"] (the same clock in the
# library); both are the median over the epochs after the first.  The
# estimator's whole fit is also timed from Python (wall clock, the arrays'
# hand-over and the set-up included), against the sum of its epoch times, and
# both programs' whole runs under mpirun.  Time per epoch is only comparable
# on an otherwise idle machine.
# --repeats N runs the pair N times, alternately, and prints each.  Ends with
#   BENCH_PYTHON cli_sec_per_epoch=... python_sec_per_epoch=... ratio=...
# (the medians over the repeats; ratio: the median of each repeat's ratio of
# the estimator's time per epoch to the command's, the two run one after the
# other under much the same load).
# Environment: BUILD_DIR (build-release), BUILD_TYPE (Release), NO_BUILD=1 to
# use BUILD_DIR as is, DTRAIN_PYTHON (/usr/bin/python3), BENCH_TIMEOUT (s, 1800).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

epochs=5 data=datasets/fashion-mnist.h5 repeats=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-python.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $epochs =~ ^[0-9]+$ && $epochs -ge 2 ]] ||
  { echo "bench-python.sh: --epochs: '$epochs' is not a number of 2 or more (the first is not timed)" >&2; exit 2; }
[[ $repeats =~ ^[0-9]+$ && $repeats -ge 1 ]] ||
  { echo "bench-python.sh: --repeats: '$repeats' is not a positive number" >&2; exit 2; }
PY=${DTRAIN_PYTHON:-/usr/bin/python3}
"$PY" -c 'import numpy, mpi4py, sklearn, h5py' 2>/dev/null ||
  { echo "bench-python.sh: $PY lacks numpy, mpi4py, sklearn or h5py (scripts/install-deps.sh installs them)" >&2; exit 2; }
command -v h5copy >/dev/null ||
  { echo "bench-python.sh: needs h5copy (Debian package hdf5-tools, scripts/install-deps.sh)" >&2; exit 2; }

export BUILD_DIR=${BUILD_DIR:-build-release} BUILD_TYPE=${BUILD_TYPE:-Release}
if [[ ${NO_BUILD:-0} != 1 ]]; then
  scripts/build.sh -DDTRAIN_TESTS=OFF >/dev/null
fi
BUILD_ABS=$(cd "$BUILD_DIR" && pwd)
DTRAIN=$BUILD_ABS/dtrain
if [[ $data == datasets/fashion-mnist.h5 && ! -f $data ]]; then
  DTRAIN=$DTRAIN datasets/fashion-mnist.sh
fi
[[ -f $data ]] || { echo "bench-python.sh: no $data" >&2; exit 2; }
source scripts/env.sh
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT
# (without /classes: the labels stay the numbers the command trains on)
h5copy -i "$data" -o "$TMPD/train.h5" -s /train -d /train
cat >"$TMPD/fit.py" <<'EOF'
import sys, time
import dtrain
X, y = dtrain.read_data(sys.argv[1])
est = dtrain.MLPClassifier(hidden_layers=(256, 128), activation="relu", optimizer="adam",
                           lr=1e-3, batch_size=128, epochs=int(sys.argv[2]), seed=1)
t0 = time.perf_counter()
est.fit(X, y)
wall = time.perf_counter() - t0
et = est.history_["epoch_time"]
print("epochs", " ".join("%.4f" % t for t in et))
print("wall %.4f sum %.4f loss %.4f" % (wall, sum(et), est.loss_curve_[-1]))
EOF

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg) (timings are only comparable on an idle machine)"
echo "workload: $data /train, 256:relu,128:relu softmax, adam lr 1e-3, batch 128, $epochs epochs (the first not timed), 1 rank"

cli_all=() py_all=() ratio_all=()
for ((r = 1; r <= repeats; r++)); do
  # the command
  t0=$(date +%s.%N)
  timeout -k 10 "${BENCH_TIMEOUT:-1800}" mpirun -np 1 "$DTRAIN" train --data "$TMPD/train.h5" \
    --layers 256:relu,128:relu --output softmax --optimizer adam --lr 1e-3 --batch-size 128 \
    --epochs "$epochs" --seed 1 --log "$TMPD/cli.jsonl" >"$TMPD/cli.out" 2>&1 ||
    { echo "bench-python.sh: dtrain train failed:" >&2; tail -20 "$TMPD/cli.out" >&2; exit 1; }
  cli_wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  cli_epochs=$("$PY" -c 'import json, sys
print(" ".join("%.4f" % json.loads(l)["epoch_time"] for l in open(sys.argv[1]) if l.strip()))' "$TMPD/cli.jsonl")
  cli_med=$(tr ' ' '\n' <<<"$cli_epochs" | tail -n +2 | median)
  cli_loss=$(tail -1 "$TMPD/cli.jsonl" | sed -n 's/.*"train_loss": \([0-9.]*\).*/\1/p')

  # the estimator, in a program of its own started the same way
  t0=$(date +%s.%N)
  PYTHONPATH=$BUILD_ABS/python timeout -k 10 "${BENCH_TIMEOUT:-1800}" mpirun -np 1 "$PY" \
    "$TMPD/fit.py" "$TMPD/train.h5" "$epochs" >"$TMPD/py.out" 2>&1 </dev/null ||
    { echo "bench-python.sh: the estimator's fit failed:" >&2; tail -20 "$TMPD/py.out" >&2; exit 1; }
  py_whole=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  py_epochs=$(sed -n 's/^epochs //p' "$TMPD/py.out")
  py_med=$(tr ' ' '\n' <<<"$py_epochs" | tail -n +2 | median)
  read -r py_wall py_sum py_loss < <(sed -n 's/^wall \([^ ]*\) sum \([^ ]*\) loss \([^ ]*\)$/\1 \2 \3/p' "$TMPD/py.out")

  echo "run $r/$repeats:"
  echo "  dtrain train:       epoch_time $cli_epochs s  (median after the first $cli_med s; final train_loss $cli_loss)"
  echo "  MLPClassifier.fit:  epoch_time $py_epochs s  (median after the first $py_med s; final train_loss $py_loss)"
  echo "  fit's wall time $py_wall s = epochs $py_sum s + $(awk -v w="$py_wall" -v s="$py_sum" 'BEGIN { printf "%.4f", w - s }') s hand-over and set-up"
  echo "  whole runs under mpirun: dtrain train $cli_wall s (reading the file, set-up, final figures), the script $py_whole s (imports, read_data, fit)"
  ratio=$(awk -v p="$py_med" -v c="$cli_med" 'BEGIN { printf "%.3f", p / c }')
  echo "  ratio fit / train per epoch: $ratio"
  cli_all+=("$cli_med") py_all+=("$py_med") ratio_all+=("$ratio")
done
cli=$(printf '%s\n' "${cli_all[@]}" | median)
py=$(printf '%s\n' "${py_all[@]}" | median)
ratio=$(printf '%s\n' "${ratio_all[@]}" | median)
echo "BENCH_PYTHON cli_sec_per_epoch=$cli python_sec_per_epoch=$py ratio=$ratio"
