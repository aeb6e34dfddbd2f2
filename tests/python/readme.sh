#!/usr/bin/env bash
# The README's Python example, as printed there, from the build tree (ctest's
# PYTHONPATH): it runs, predicts, and reaches the accuracy docs/python.md shows
# (0.97 or more), at 1 rank and under mpirun at 2.
set -uo pipefail
SRC=${DTRAIN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${DTRAIN_PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
sed -n '/^```python$/,/^```$/p' "$SRC/README.md" | sed '1d;$d' >"$TMP/example.py"
[[ -s $TMP/example.py ]] || { echo "FAIL: README.md has no python block"; exit 1; }
status=0
# check LABEL RANKS COMMAND...: every rank's output (mpirun keeps each rank's
# in a file of its own: interleaved on one pipe, lines may be cut) has the
# predictions and an accuracy of 0.97 or more
check() {
  local label=$1 ranks=$2; shift 2
  rm -rf "$TMP/o"
  if (cd "$TMP" && timeout -k 5 120 "$@" example.py) >"$TMP/out" 2>"$TMP/err"; then
    local n=0 f
    if [[ ! -d $TMP/o ]]; then # not under mpirun
      mkdir -p "$TMP/o/1/rank.0" && cp "$TMP/out" "$TMP/o/1/rank.0/stdout"
    fi
    for f in "$TMP"/o/1/rank.*/stdout; do
      awk '/^test accuracy / { n++; if ($3 < 0.97) bad = 1 } /^predicted \[/ { p++ }
           END { exit !(n == 1 && p == 1 && !bad) }' "$f" && n=$((n + 1))
    done
    if [[ $n -eq $ranks ]]; then
      echo "ok: $label: $(tr '\n' ' ' <"$TMP/o/1/rank.0/stdout")"
      return
    fi
  fi
  echo "FAIL: $label: $(cat "$TMP"/o/1/rank.*/std* "$TMP/out" "$TMP/err" 2>/dev/null | tail -8)"; status=1
}
check "1 rank" 1 "$PY"
check "mpirun -np 2" 2 mpirun --oversubscribe --output-filename "$TMP/o" -np 2 "$PY"
exit $status
