#!/usr/bin/env bash
# Two hosts for real: two Linux network namespaces on this machine, each with
# its own hostname, joined by a veth pair (10.77.0.1 and 10.77.0.2, the only
# addresses any of this talks to); Open MPI starts its daemon on the second
# "host" through a launch agent (instead of ssh) that enters that namespace.
# Ranks on different hosts talk over TCP, ranks of one host over shared
# memory, and MPI_COMM_TYPE_SHARED groups them by host, as on a cluster.
#
# What must hold, each against a single-host reference (h5diff without -p or
# -d: exact):
#  - 2 hosts x 2 ranks, --reduction node (the default), saves the same weights
#    as 1 host x 4 ranks with every 2 ranks treated as a node
#    (DTRAIN_TEST_RANKS_PER_NODE=2): both form (g0 + g1) + (g2 + g3), the
#    node sums in local rank order and a 2-rank allreduce across the nodes,
#    whose sum of two terms does not depend on the transport or the order.
#  - and not those of 1 host x 4 ranks as one node: that sums
#    ((g0 + g1) + g2) + g3, which rounds differently on this run, so the
#    comparisons above can fail (the grouping is what --reduction node's
#    results depend on).
#  - With --reduction mpi, 2 hosts x 2 ranks save the weights of 1 host x 4
#    ranks: Open MPI's tuned collectives pick their algorithm from the rank
#    count and the message size, not the placement or the transport
#    (tests/cli/transport.sh checks TCP against shared memory on one host).
#  - 2 hosts x 1 rank (one rank per node: node mode falls back to
#    MPI_Reduce_scatter, with a warning) saves the same weights as 1 host x 2
#    ranks with --reduction mpi, for the same reason.
#  - --reproducible: 2 hosts x 2 ranks and 2 hosts x 1 rank save the weights
#    of 1 rank (what docs/reproducible.md promises).
#  - A rank on the second host killed with SIGKILL mid-run: mpirun ends within
#    10 s (the other ranks wait in a collective; only Open MPI's daemons can
#    end them), the last checkpoint is intact, and --resume from it finishes
#    with weights identical to the uninterrupted run's (same ranks, same
#    placement: checkpoint.sh's bit-exact resume).
#
# Needs root, `ip netns` (iproute2) and `unshare` (util-linux); without them,
# or where namespaces cannot be made (an unprivileged container), it says why
# and exits 77, which ctest reports as skipped.  The namespaces, the lock on
# them and the teardown on every exit are tests/cli/twohosts.sh's; the
# hostfile names the hosts by address.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/twohosts.sh"
two_hosts dtrain-h1 dtrain-h2

# The launch agent: Open MPI calls it as `agent HOST COMMAND...` to start its
# daemon on HOST.  Each host's hostname must differ: with one hostname Open
# MPI 4.1.4 takes both for the same node and the job dies with status 139.
cat >"$TMP/agent" <<EOF
#!/bin/sh
host=\$1; shift
case \$host in
  $A1) ns=$H1 ;;
  $A2) ns=$H2 ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$ns; \$*"
EOF
chmod +x "$TMP/agent"
printf '%s slots=2\n%s slots=2\n' $A1 $A2 >"$TMP/hosts2"
printf '%s slots=1\n%s slots=1\n' $A1 $A2 >"$TMP/hosts1"

# on2 HOSTFILE NP LIMIT ARGS...: mpirun from the first host, output in
# $TMP/out and $TMP/err, status in $status.  pml ob1 makes Open MPI use the
# btl list (the ucx pml would ignore it).  Waiting ranks yield the core:
# this machine's 2 cores carry 4 ranks that Open MPI, counting the slots,
# does not see as oversubscribed.
on2() {
  local hosts=$1 np=$2 limit=$3; shift 3
  timeout -k 5 "$limit" ip netns exec $H1 unshare --uts sh -c "hostname $H1; exec \"\$@\"" sh \
    mpirun --hostfile "$TMP/$hosts" -np "$np" --mca plm_rsh_agent "$TMP/agent" \
    --mca pml ob1 --mca btl tcp,vader,self --mca btl_tcp_if_include $NET --mca oob_tcp_if_include $NET \
    --mca mpi_yield_when_idle 1 --bind-to none -x OPENBLAS_NUM_THREADS \
    ${DTRAIN_TEST_SLEEP:+-x DTRAIN_TEST_SLEEP} "$@" >"$TMP/out" 2>"$TMP/err"
  status=$?
  return $status
}

# The placement: ranks 0, 1 on the first host and 2, 3 on the second (the
# ranks print in any order, each its rank and hostname).
placement() { sort -n "$TMP/out" | tr '\n' ' '; }
on2 hosts2 4 30 sh -c 'echo $OMPI_COMM_WORLD_RANK $(hostname)'
[[ $status -eq 0 && "$(placement)" == "0 $H1 1 $H1 2 $H2 3 $H2 " ]] &&
  pass "mpirun across 2 hosts: ranks and hosts $(placement)" ||
  { fail "mpirun across the namespaces: status $status: $(cat "$TMP/out" "$TMP/err")"; finish; }
on2 hosts1 2 30 sh -c 'echo $OMPI_COMM_WORLD_RANK $(hostname)'
[[ $status -eq 0 && "$(placement)" == "0 $H1 1 $H2 " ]] &&
  pass "one rank per host: $(placement)" || fail "hosts1 placement: $(cat "$TMP/out" "$TMP/err")"

# digits: 1438 training samples, batch 100: 15 steps per epoch, 45 in all;
# the checkpointed runs write one every epoch.
ARGS=(--data "$DATA/digits.h5" --layers 32:relu,16:tanh --optimizer adam --lr 0.002
      --batch-size 100 --epochs 3 --seed 3)
differences() { h5diff -r "$1" "$2" /model /model | grep -c '^\[' ; }

on2 hosts2 4 90 "$DTRAIN" train "${ARGS[@]}" --checkpoint-every 15 --checkpoint-dir "$TMP/c22" --save "$TMP/m22.h5"
[[ $status -eq 0 && -f $TMP/m22.h5 ]] && pass "2 hosts x 2 ranks trained" || fail "2x2: status $status: $(tail -5 "$TMP/err")"
# (3 epochs end before convergence: that warning is expected, any other is not)
grep 'warning' "$TMP/err" | grep -qv 'not converged' && fail "2x2 warned: $(cat "$TMP/err")"
DTRAIN=$DTRAIN_TEST_BIN DTRAIN_TEST_RANKS_PER_NODE=2 run 4 90 train "${ARGS[@]}" --save "$TMP/m14n2.h5"
same_model "$TMP/m22.h5" "$TMP/m14n2.h5" &&
  pass "2 hosts x 2 ranks = 1 host x 4 ranks as 2 nodes of 2 (--reduction node), bit for bit" ||
  fail "2x2 and 1x4 as 2 nodes differ in $(differences "$TMP/m22.h5" "$TMP/m14n2.h5") values"
run 4 90 train "${ARGS[@]}" --save "$TMP/m14.h5"
[[ -f $TMP/m14.h5 ]] && ! same_model "$TMP/m22.h5" "$TMP/m14.h5" &&
  pass "1 host x 4 ranks as one node differs ($(differences "$TMP/m22.h5" "$TMP/m14.h5") values): the grouping shows" ||
  fail "1x4 as one node: no difference from 2x2 seen ($err)"

on2 hosts2 4 90 "$DTRAIN" train "${ARGS[@]}" --reduction mpi --save "$TMP/m22mpi.h5"
run 4 90 train "${ARGS[@]}" --reduction mpi --save "$TMP/m14mpi.h5"
[[ -f $TMP/m22mpi.h5 ]] && same_model "$TMP/m22mpi.h5" "$TMP/m14mpi.h5" &&
  pass "2 hosts x 2 ranks = 1 host x 4 ranks with --reduction mpi, bit for bit" ||
  fail "--reduction mpi: 2x2 and 1x4 differ: $(tail -3 "$TMP/err")"

on2 hosts1 2 90 "$DTRAIN" train "${ARGS[@]}" --save "$TMP/m21.h5"
[[ $status -eq 0 && -f $TMP/m21.h5 ]] && pass "2 hosts x 1 rank trained" || fail "2x1: status $status: $(tail -5 "$TMP/err")"
grep -q -- "--reduction node: one rank per node" "$TMP/err" &&
  pass "2x1: warns that node mode falls back to MPI_Reduce_scatter" || fail "2x1: no fallback warning: $(cat "$TMP/err")"
run 2 90 train "${ARGS[@]}" --reduction mpi --save "$TMP/m12.h5"
same_model "$TMP/m21.h5" "$TMP/m12.h5" &&
  pass "2 hosts x 1 rank = 1 host x 2 ranks with --reduction mpi, bit for bit" ||
  fail "2x1 and 1x2 mpi differ in $(differences "$TMP/m21.h5" "$TMP/m12.h5") values"

# --reproducible: the same weights at any rank count and placement, so 2
# hosts x 2 ranks and 2 hosts x 1 rank save those of 1 rank.
run 1 90 train "${ARGS[@]}" --reproducible --save "$TMP/r11.h5"
for h in 2 1; do
  on2 hosts$h $((2 * h)) 90 "$DTRAIN" train "${ARGS[@]}" --reproducible --save "$TMP/r2$h.h5"
  [[ -f $TMP/r2$h.h5 && -f $TMP/r11.h5 ]] && same_model "$TMP/r2$h.h5" "$TMP/r11.h5" &&
    pass "--reproducible: 2 hosts x $h rank(s) = 1 rank, bit for bit" ||
    fail "--reproducible: 2 hosts x $h differs from 1 rank: $(tail -3 "$TMP/err")"
done

# Kill rank 2 (on the second host) with SIGKILL between the checkpoints of
# steps 15 and 30: rank 3 sleeps 60 s at step 22 (a test hook), so the job
# stands still there until the kill, whenever the kill comes.
C=$TMP/ckill
DTRAIN_TEST_SLEEP=3:22:60 on2 hosts2 4 90 "$DTRAIN_TEST_BIN" train "${ARGS[@]}" --checkpoint-every 15 --checkpoint-dir "$C" --save "$TMP/mkill.h5" &
job=$!
for _ in $(seq 300); do [[ -L $C/latest.h5 ]] && break; sleep 0.1; done
sleep 1
victim=""
for p in $(procs_in $H2 dtrain-test); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=2 && victim=$p
done
if [[ -z $victim ]]; then
  fail "no rank 2 found in $H2 (latest: $(readlink "$C/latest.h5"))"
  wait $job
else
  kill_and_wait $job "$victim"
  echo "killed rank 2 (pid $victim in $H2) after checkpoint $(readlink "$C/latest.h5"); mpirun ended $secs s later, status $status"
  if [[ $status -eq 0 ]]; then
    fail "after the kill: mpirun exited 0 in $secs s: $(tail -5 "$TMP/err")"
  else
    at_most "$secs" 10 "seconds from the kill to mpirun's end"
  fi
fi
[[ "$(readlink "$C/latest.h5")" == step-00000015.h5 && ! -e $C/step-00000030.h5 && ! -e $TMP/mkill.h5 ]] &&
  pass "the killed run left the step-15 checkpoint as its latest, no later one, no model" ||
  fail "after the kill: $(ls "$C" "$TMP/mkill.h5" 2>&1)"
run 1 60 inspect "$C/latest.h5"
grep -q "checksum *ok" <<<"$out" && pass "the step-15 checkpoint is intact (checksum ok)" || fail "inspect: $out $err"
on2 hosts2 4 90 "$DTRAIN" train "${ARGS[@]}" --checkpoint-every 15 --checkpoint-dir "$C" --resume --save "$TMP/mkill.h5"
grep -q "resuming from $C/latest.h5 at epoch 1, step 15" "$TMP/out" && [[ $status -eq 0 && -f $TMP/mkill.h5 ]] &&
  pass "--resume on 2 hosts continued from step 15 and saved the model" ||
  fail "resume: status $status: $(cat "$TMP/out") $(tail -5 "$TMP/err")"
same_model "$TMP/m22.h5" "$TMP/mkill.h5" && same_model "$TMP/c22/step-00000045.h5" "$C/step-00000045.h5" &&
  pass "killed and resumed = uninterrupted (model and last checkpoint), bit for bit" ||
  fail "resumed run differs from the uninterrupted one"
finish
