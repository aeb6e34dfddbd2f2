#!/usr/bin/env bash
# The transport does not change the result: training over TCP (as between
# hosts) saves the same weights, bit for bit, as over shared memory.
#
# Reference: the shared-memory run.  Tolerance: none (h5diff without -d/-p
# compares exactly).  Why exact: which allreduce algorithm Open MPI's tuned
# collectives pick depends on the rank count and the message size, not on the
# byte transfer layer (btl), so the same sums are formed in the same order.
# pml ob1 is forced so that the btl list is what carries the messages (the ucx
# pml would ignore it); with `self,tcp` and no vader, ranks can only reach each
# other over TCP.  These runs use --reduction mpi: the default (node) sums
# gradients through node-shared memory, which no btl carries.
#
# Then the node-shared reduction against the mpi one: at 2 ranks both form
# g0 + g1, so the weights are the same bits; at 3 ranks the order of the sums
# may differ, so within 1e-3 relative (h5diff -p) after 20 epochs.
source "$(dirname "$0")/lib.sh"

# train_with NP BTL OUT [ARGS...]: a short Adam run on iris, saved to OUT.
train_with() {
  local np=$1 btl=$2 save=$3; shift 3
  timeout -k 5 120 mpirun -np "$np" --mca pml ob1 --mca btl "$btl" "$DTRAIN" train \
    --data "$DATA/iris.h5" --layers 16:tanh,8:relu --optimizer adam --lr 0.01 --epochs 20 \
    --batch-size 16 --save "$save" "$@" >"$TMP/out" 2>"$TMP/err"
  status=$?
  if [[ $status -ne 0 || ! -f $save ]]; then
    fail "np=$np btl $btl: exit $status: $(tail -5 "$TMP/err")"
    return 1
  fi
  pass "np=$np btl $btl: trained and saved"
}

# same_weights A B: /model (weights, biases, attributes) and /normalization equal.
same_weights() {
  h5diff -q "$1" "$2" /model /model && h5diff -q "$1" "$2" /normalization /normalization
}

for np in 2 3; do
  mkdir -p "$TMP/vader$np" "$TMP/tcp$np"
  train_with "$np" self,vader "$TMP/vader$np/m.h5" --reduction mpi || continue
  train_with "$np" self,tcp "$TMP/tcp$np/m.h5" --reduction mpi || continue
  if same_weights "$TMP/vader$np/m.h5" "$TMP/tcp$np/m.h5"; then
    pass "np=$np: tcp and vader give identical weights"
  else
    fail "np=$np: weights differ between tcp and vader: $(h5diff -r "$TMP/vader$np/m.h5" "$TMP/tcp$np/m.h5" /model /model | grep -v '^0 differences' | head -5)"
  fi
done

for np in 2 3; do
  mkdir -p "$TMP/node$np"
  train_with "$np" self,vader "$TMP/node$np/m.h5" --reduction node || continue
  if [[ $np -eq 2 ]]; then
    same_weights "$TMP/node2/m.h5" "$TMP/vader2/m.h5" \
      && pass "np=2: node-shared and mpi reductions give identical weights" \
      || fail "np=2: node-shared and mpi reductions differ: $(h5diff -r "$TMP/node2/m.h5" "$TMP/vader2/m.h5" /model /model | head -5)"
  else
    h5diff -q -p 1e-3 "$TMP/node$np/m.h5" "$TMP/vader$np/m.h5" /model /model \
      && pass "np=$np: node-shared and mpi reductions agree within 1e-3" \
      || fail "np=$np: node-shared and mpi reductions differ: $(h5diff -p 1e-3 -r "$TMP/node$np/m.h5" "$TMP/vader$np/m.h5" /model /model | head -5)"
  fi
done

# The comparison can fail: another seed gives other weights.
mkdir -p "$TMP/seed2"
if train_with 2 self,vader "$TMP/seed2/m.h5" --seed 2; then
  if same_weights "$TMP/vader2/m.h5" "$TMP/seed2/m.h5"; then
    fail "h5diff sees no change of seed"
  else
    pass "h5diff tells another seed's weights apart"
  fi
fi
finish
