#!/usr/bin/env bash
# The command line's own outputs that check_api_eval compares the public
# calls with, made into DIR ($1): models trained by `dtrain train` at 1 and 2
# ranks with their --log and stdout, `eval --json` and `eval` reports,
# `predict` files and `inspect` summaries.  ctest runs it first (a fixture).
set -euo pipefail
DIR=$1
SRC=${DTRAIN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DTRAIN=${DTRAIN:-$SRC/build/dtrain}
DATA=$SRC/datasets
source "$SRC/scripts/env.sh"
rm -rf "$DIR"
mkdir -p "$DIR"
cd "$DIR"
dt() { timeout -k 5 120 mpirun --oversubscribe -np "$1" "$DTRAIN" "${@:2}"; }

# the options check_api_eval gives dtrain_set for the same training
IRIS_OPTS=(--data "$DATA/iris.h5" --layers 8:relu --epochs 4 --seed 3 --valid-split 0.2)
for np in 1 2; do
  dt $np train "${IRIS_OPTS[@]}" --save iris-np$np.h5 --log iris-np$np.csv >train-np$np.out
done
dt 1 train --data "$DATA/diabetes.h5" --layers 8:relu --epochs 3 --save dia.h5 >/dev/null
dt 1 train --data "$DATA/iris.h5" --layers 8:relu --epochs 2 --checkpoint-dir ck >/dev/null

dt 1 eval --model iris-np1.h5 --data "$DATA/iris.h5" --json >eval-iris.json
dt 1 eval --model iris-np1.h5 --data "$DATA/iris.h5" >eval-iris.txt
dt 1 eval --model iris-np1.h5 --data "$DATA/iris.h5" --group /train --json >eval-iris-train.json
dt 1 eval --model dia.h5 --data "$DATA/diabetes.h5" --json >eval-dia.json
dt 1 eval --model dia.h5 --data "$DATA/diabetes.h5" >eval-dia.txt
dt 1 eval --model ck/latest.h5 --data "$DATA/iris.h5" --json >eval-ckpt.json

dt 1 predict --model iris-np1.h5 --data "$DATA/iris.h5" --out pred-iris.csv >pred-iris.out
dt 1 predict --model iris-np1.h5 --data "$DATA/iris.h5" --out pred-iris.h5 >/dev/null
dt 1 predict --model dia.h5 --data "$DATA/diabetes.h5" --out pred-dia.csv >pred-dia.out

dt 1 inspect iris-np1.h5 >inspect-model.txt
dt 1 inspect ck/latest.h5 >inspect-ckpt.txt
dt 1 inspect "$DATA/iris.h5" >inspect-data.txt
dt 1 inspect --config iris-np1.h5 >inspect-config.yaml
echo "fixture made in $DIR"
