#!/usr/bin/env bash
# Build the small data sets bundled with dtrain (datasets/*.h5) from the copies
# that scikit-learn ships (Debian package python3-sklearn).  Every set is split
# the same way: 20% of the rows to /test, chosen from seed 1.  See README.md for
# shapes, provenance and licenses.
#
#   DTRAIN=path/to/dtrain datasets/bundle.sh      (default: build/dtrain)
#   SKLEARN_DATA=dir                              (default: Debian's location)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
dtrain=${DTRAIN:-$root/build/dtrain}
src=${SKLEARN_DATA:-/usr/lib/python3/dist-packages/sklearn/datasets/data}

die() { echo "bundle.sh: $*" >&2; exit 1; }

[[ -x $dtrain ]] || die "no dtrain binary at $dtrain; build it (cmake -S . -B build && cmake --build build) or set DTRAIN"
dtrain=$(cd "$(dirname "$dtrain")" && pwd)/$(basename "$dtrain")
for f in iris.csv wine_data.csv breast_cancer.csv digits.csv.gz \
         diabetes_data_raw.csv.gz diabetes_target.csv.gz; do
    [[ -r $src/$f ]] || die "$src/$f not found: apt-get install python3-sklearn (or set SKLEARN_DATA)"
done

split=(--test-fraction 0.2 --seed 1)
convert() {
    local out=$1
    shift
    echo "$out:"
    "$dtrain" convert "$@" "${split[@]}" --out "$here/$out"
}

# The first line of these three is a summary ("150,4,setosa,versicolor,virginica"),
# not data; the class label is the last column.
convert iris.h5 --csv "$src/iris.csv" --header
convert wine.h5 --csv "$src/wine_data.csv" --header
convert breast-cancer.h5 --csv "$src/breast_cancer.csv" --header
# 8x8 images with pixel counts 0..16, digit last; no header.
convert digits.h5 --csv "$src/digits.csv.gz" --x-dtype uint8

# Diabetes: 10 whitespace-separated features in one file, the target (disease
# progression after one year) in another; join them line by line.  The joined
# file is converted from inside a temporary directory so that the `source`
# attribute records its descriptive name rather than a random path.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
joined=sklearn-diabetes_data_raw+diabetes_target.txt
nx=$(zcat "$src/diabetes_data_raw.csv.gz" | wc -l)
ny=$(zcat "$src/diabetes_target.csv.gz" | wc -l)
[[ $nx -eq $ny ]] || die "diabetes: $nx feature rows but $ny targets"
paste -d ' ' <(zcat "$src/diabetes_data_raw.csv.gz") <(zcat "$src/diabetes_target.csv.gz") \
    > "$tmp/$joined"
(cd "$tmp" && convert diabetes.h5 --csv "$joined" --label-type float)

for f in iris wine breast-cancer digits diabetes; do
    size=$(stat -c %s "$here/$f.h5")
    (( size < 1048576 )) || die "$f.h5 is $size bytes; bundled sets must stay under 1 MB"
done
