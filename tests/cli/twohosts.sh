# Two hosts played by two Linux network namespaces on this machine, joined by a
# veth pair (10.77.0.1 and 10.77.0.2, the only addresses any of this talks
# to), for multihost.sh and slurm.sh (sourced after lib.sh).  Nothing is added
# to the root namespace's network and /etc/hosts is not touched: each host's
# hostname is set inside its own UTS namespace (unshare --uts) by whoever
# enters it.
#
# two_hosts H1 H2 [COMMAND...]: make the namespaces H1 and H2 (also the hosts'
# names) and set H1 H2 A1 A2 NET.  Needs root, `ip netns` (iproute2),
# `unshare` and `flock` (util-linux) and each COMMAND; without them, or where
# namespaces cannot be made (an unprivileged container), it says why and exits
# 77, which ctest reports as skipped.  One instance per pair of names at a
# time (a lock on the names); namespaces left by an earlier run that was
# killed are removed first, and hosts_teardown runs on exit, whatever happens.
# A test that starts daemons defines before_teardown to stop them first.

skip() { echo "skipped: $*"; rm -rf "$TMP"; exit 77; }

# procs_in NS NAME: the PIDs of the processes named NAME (their comm) in NS.
procs_in() {
  local p
  for p in $(ip netns pids "$1" 2>/dev/null); do
    [[ $(cat /proc/$p/comm 2>/dev/null) == "$2" ]] && echo $p
  done
}

# elapsed T0: seconds since T0 (date +%s.%N), to 0.1 s.
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# kill_and_wait JOB PID...: SIGKILL to each PID (a host's ranks lost), then
# wait for the background job JOB (the launcher); sets $status (JOB's) and
# $secs (from the kill to JOB's end).
kill_and_wait() {
  local job=$1 t0
  shift
  t0=$(date +%s.%N)
  kill -KILL "$@"
  wait $job
  status=$?
  secs=$(elapsed "$t0")
}

# hosts_teardown: end every process left in the namespaces (a run's own
# mpirun, orted, daemons and ranks, or those of an earlier run that was
# killed: before_teardown first, for daemons by their PIDs), wait until they
# are gone (5 s at most: daemons' children, reparented, are reaped by init),
# then delete the namespaces.
hosts_teardown() {
  local ns p left pids=() end=$((SECONDS + 5))
  for ns in $H1 $H2; do pids+=($(ip netns pids $ns 2>/dev/null)); done
  declare -F before_teardown >/dev/null && before_teardown
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  while (( SECONDS < end )); do
    left=0
    for p in "${pids[@]}"; do [[ -e /proc/$p ]] && left=1; done
    [[ $left == 0 ]] && break
    sleep 0.1
  done
  for ns in $H1 $H2; do
    for p in $(ip netns pids $ns 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done   # started since
    ip netns del $ns 2>/dev/null
  done
}

two_hosts() {
  H1=$1 H2=$2 A1=10.77.0.1 A2=10.77.0.2 NET=10.77.0.0/24
  shift 2
  [[ $(id -u) -eq 0 ]] || skip "needs root to make network namespaces (running as uid $(id -u))"
  local c
  for c in ip unshare flock "$@"; do
    command -v $c >/dev/null || skip "no '$c' command (ip: Debian package iproute2; unshare, flock: util-linux)"
  done
  exec 9>"${TMPDIR:-/tmp}/dtrain-netns-$H1-$H2.lock"
  flock -w 120 9 || skip "another instance of this test held its lock for 120 s"
  trap 'hosts_teardown; rm -rf "$TMP"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  hosts_teardown

  # One veth pair joins the two namespaces directly (two hosts need no
  # bridge); it is created inside H1 with its peer placed in H2, so it never
  # appears in the root namespace.
  ip netns add $H1 2>"$TMP/nserr" && ip netns add $H2 2>>"$TMP/nserr" ||
    skip "cannot create network namespaces: $(tr '\n' ' ' <"$TMP/nserr")"
  ip -n $H1 link add eth0 type veth peer name eth0 netns $H2 2>"$TMP/nserr" ||
    skip "cannot create a veth pair between namespaces: $(tr '\n' ' ' <"$TMP/nserr")"
  unshare --uts true 2>"$TMP/nserr" || skip "unshare --uts fails: $(tr '\n' ' ' <"$TMP/nserr")"
  if ! { ip -n $H1 addr add $A1/24 dev eth0 && ip -n $H2 addr add $A2/24 dev eth0 &&
         ip -n $H1 link set lo up && ip -n $H1 link set eth0 up &&
         ip -n $H2 link set lo up && ip -n $H2 link set eth0 up; }; then
    fail "could not configure the namespaces' links"
    finish
  fi
}
