#!/usr/bin/env bash
# First README command: install what is missing, build, prepare Fashion-MNIST and
# train a 784-256-128-10 MLP on 2 ranks (10% of the training set held out for
# validation), showing progress, one line per epoch and the final metrics; the
# metrics log and its plot are kept.  Usage: scripts/demo.sh [RANKS] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}
epochs=${2:-10}
scripts/install-deps.sh
source scripts/env.sh
scripts/build.sh
DTRAIN=build/dtrain datasets/fashion-mnist.sh
set -x
mpirun -np "$ranks" build/dtrain train --data datasets/fashion-mnist.h5 \
  --layers 256:relu,128:relu --output softmax \
  --optimizer adam --lr 1e-3 --batch-size 128 --epochs "$epochs" --seed 1 \
  --valid-split 0.1 --save fashion-mnist-model.h5 --log fashion-mnist-log.jsonl
scripts/plot.py fashion-mnist-log.jsonl --out fashion-mnist-curves.png
