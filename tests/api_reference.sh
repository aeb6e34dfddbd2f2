#!/usr/bin/env bash
# The command line's outputs that tests/check_api_cv.c compares the public
# calls with, for the same options: dtrain cv's printed table and --out CSV
# (a search where every trial succeeds, and one where a configuration
# diverges), and dtrain convert's summary and file.  Run by ctest before
# check_api_cv (the fixture api_reference).  Usage: api_reference.sh DIR MPIEXEC
set -euo pipefail
out=$1
mpiexec=$2
mkdir -p "$out"
rm -f "$out"/*
D=$DTRAIN_SOURCE_DIR/datasets
dtrain() { timeout 250 "$mpiexec" --oversubscribe -n 1 "$DTRAIN" "$@"; }

dtrain cv --data "$D/breast-cancer.h5" --output sigmoid --folds 3 --grid 'optimizer=adam|sgd' \
  --lr 0.01 --layers 16:relu --epochs 5 --out "$out/cv_ok.csv" >"$out/cv_ok.txt"
dtrain cv --data "$D/diabetes.h5" --output linear --layers none --normalize-targets off --folds 3 \
  --grid 'lr=0.01|1e6' --optimizer sgd --epochs 3 --out "$out/cv_fail.csv" >"$out/cv_fail.txt"

# 40 rows: three features and a text label, some of each class
{
  echo "a,b,c,kind"
  for i in $(seq 0 39); do
    kinds=(red green blue)
    echo "0.$(( (i * 37) % 100 )),$(( i % 10 )),-$(( i % 7 )).$(( i % 3 ))5,${kinds[$(( (i * 7) % 3 ))]}"
  done
} >"$out/in.csv"
dtrain convert --csv "$out/in.csv" --header --test-fraction 0.25 --seed 2 \
  --out "$out/convert.h5" >"$out/convert.txt" 2>"$out/convert.err"
