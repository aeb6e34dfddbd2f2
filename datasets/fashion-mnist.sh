#!/usr/bin/env bash
# Build datasets/fashion-mnist.h5 (60000 training and 10000 test images of
# 28 x 28 uint8 pixels, 10 classes) from the IDX files of the Debian package
# dataset-fashion-mnist.  Too large to commit; run this once instead.  Does
# nothing if the .h5 file exists and is newer than its inputs.
#
#   DTRAIN=path/to/dtrain datasets/fashion-mnist.sh   (default: build/dtrain)
#   FASHION_MNIST_DIR=dir                            (default: Debian's location)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
dtrain=${DTRAIN:-$root/build/dtrain}
src=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
out=$here/fashion-mnist.h5

die() { echo "fashion-mnist.sh: $*" >&2; exit 1; }

inputs=("$src/train-images-idx3-ubyte.gz" "$src/train-labels-idx1-ubyte.gz"
        "$src/t10k-images-idx3-ubyte.gz" "$src/t10k-labels-idx1-ubyte.gz")
for f in "${inputs[@]}"; do
    [[ -r $f ]] || die "$f not found: apt-get install dataset-fashion-mnist, or run scripts/install-deps.sh"
done

if [[ -f $out ]]; then
    stale=0
    for f in "${inputs[@]}"; do
        [[ $f -nt $out ]] && stale=1
    done
    if (( stale == 0 )); then
        echo "$out is up to date"
        exit 0
    fi
fi

[[ -x $dtrain ]] || die "no dtrain binary at $dtrain; build it (cmake -S . -B build && cmake --build build) or set DTRAIN"
"$dtrain" convert --idx "${inputs[0]}" "${inputs[1]}" \
    --idx-test "${inputs[2]}" "${inputs[3]}" --out "$out"
