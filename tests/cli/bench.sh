#!/usr/bin/env bash
# dtrain bench and scripts/bench.sh: the figures are consistent with the
# model's shapes (FLOPs worked out by hand), the floors follow from the
# measured rates, and the benchmark script runs end to end on a small data
# set at 1 and 2 ranks in both precisions and two data placements, and its
# --big mode once.  No timing is judged: the machine is shared.
source "$(dirname "$0")/lib.sh"

# field LINE KEY: the value of KEY=... on a BENCH_ line
field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }
# approx A B REL: |A - B| <= REL |B|
approx() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(d <= r * m) }'; }

for np in 1 2; do
  run $np 120 bench --layers 32:relu --batch-size 64 --inputs 20 --outputs 3 --samples 1000
  [[ $status -eq 0 ]] || fail "np=$np bench: $err"
  g=$(grep '^BENCH_GEMM' <<<"$out")
  # by hand, model 20-32-3: layer 0 forward + weight gradient 2 * 2*20*32 = 2560,
  # layer 1 forward + weight + input gradient 3 * 2*32*3 = 576: 3136 per sample
  [[ $(field "$g" flop_per_sample) == 3136 ]] && pass "np=$np: 3136 GEMM FLOP per sample" || fail "np=$np flop_per_sample: $g"
  approx "$(field "$g" epoch_flop)" 3136000 1e-6 && pass "np=$np: epoch FLOPs 3136 x 1000" || fail "np=$np epoch_flop: $g"
  [[ $(field "$g" local_batch) == $((64 / np)) ]] && pass "np=$np: local batch $((64 / np))" || fail "np=$np local batch: $g"
  peak=$(field "$g" peak_gflops)
  if [[ $(field "$g" peak_isa) == none ]]; then
    echo "skipped: np=$np peak checks (no AVX2 or AVX-512 here)"
  else
    awk -v p="$peak" 'BEGIN { exit !(p > 0 && p < 1e5) }' && pass "np=$np: FMA peak $peak GFLOP/s" || fail "np=$np peak: $g"
    # the floor is the epoch's FLOPs over P ranks at the peak
    want=$(awk -v f=3136000 -v p="$peak" -v n=$np 'BEGIN { print f / n / (p * 1e9) }')
    approx "$(field "$g" floor_peak_s)" "$want" 1e-3 && pass "np=$np: peak floor = FLOPs / P / peak" || fail "np=$np floor_peak_s $(field "$g" floor_peak_s) vs $want"
    # fp32 products cannot beat the fp32 FMA peak (their fastest sample, a small slack for timer noise)
    awk -v b="$(field "$g" best_gflops)" -v p="$peak" 'BEGIN { exit !(b > 0 && b <= 1.2 * p) }' && pass "np=$np: fp32 GEMM rate within the peak" || fail "np=$np fp32 rate above the peak: $g"
  fi
  if [[ $np -eq 2 ]]; then
    grep -q '^BENCH_COLLECTIVES ranks=2' <<<"$out" && pass "np=2: step collectives timed" || fail "np=2: no BENCH_COLLECTIVES: $out"
  fi
  # streaming: real rates (positive, under 100 TB/s), copy and triad on the
  # line that names them, arrays of at most 128 MiB (16 MiB at least, unless
  # capped by the memory available), the np ranks of this machine one node
  c=$(field "$g" copy_GBps) tr=$(field "$g" triad_GBps) ab=$(field "$g" stream_array_bytes)
  awk -v c="$c" -v t="$tr" -v b="$ab" 'BEGIN { exit !(c > 0 && c < 1e5 && t > 0 && t < 1e5 && b >= 64 && b <= 134217728) }' &&
    grep -Eq "^bench stream: copy [0-9.]+ GB/s, triad [0-9.]+ GB/s per rank \(3 arrays of [0-9.]+ MiB per rank, $np ranks? per node(, capped by the node's available memory)?; .* all $np rank" <<<"$out" &&
    { [[ $ab -ge 16777216 ]] || grep -q "capped by the node's available memory" <<<"$out"; } &&
    pass "np=$np: streaming copy $c, triad $tr GB/s" || fail "np=$np streaming: $g"
  # the implementations of the step's products: named, bf16 where timed
  [[ $(field "$g" fp32_impl) =~ ^[a-z0-9_:,]+$ && $(field "$g" fp32_impl) != none ]] &&
    { [[ $(field "$g" bf16_support) == 0 ]] || [[ $(field "$g" bf16_impl) =~ ^[a-z0-9_:,]+$ && $(field "$g" bf16_impl) != none ]]; } &&
    grep -q "^bench gemm fp32: .*; implementation $(field "$g" fp32_impl)$" <<<"$out" &&
    pass "np=$np: implementations fp32 $(field "$g" fp32_impl), bf16 $(field "$g" bf16_impl)" || fail "np=$np implementations: $g"
done
# the CPU: named, and /proc/cpuinfo's model name where it has one (the token:
# spaces as _, no parentheses)
cpu=$(field "$g" cpu)
want_cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1 | sed 's/[[:space:]]*$//')
if [[ -n $want_cpu ]]; then
  [[ $cpu == "$(tr ' ' _ <<<"$want_cpu" | tr -d '()')" ]] && grep -qF "bench cpu: $want_cpu" <<<"$out" &&
    pass "BENCH_GEMM cpu=$cpu, /proc/cpuinfo's model name" || fail "cpu=$cpu, /proc/cpuinfo: '$want_cpu': $out"
else
  [[ -n $cpu && $cpu != none ]] && pass "BENCH_GEMM cpu=$cpu (no /proc/cpuinfo model name)" || fail "no cpu: $g"
fi
expect_error 1 2 "--layers" bench --layers 32:swish --batch-size 64
# the denormal mode it measured in, named in the lines (default flush)
[[ $(field "$g" denormals) == flush ]] && pass "BENCH_GEMM names denormals=flush" || fail "no denormals=flush: $g"
run 1 120 bench --layers 32:relu --batch-size 64 --inputs 20 --outputs 3 --samples 1000 --denormals keep
[[ $(field "$(grep '^BENCH_GEMM' <<<"$out")" denormals) == keep ]] && grep -q '^bench: model .*, denormals keep$' <<<"$out" &&
  pass "bench --denormals keep: named in BENCH_GEMM and the model line" || fail "bench --denormals keep: $out"

# The streaming arrays cannot be allocated on rank 1 (the test hook fails
# them as out of memory; each rank taken as a node): every rank goes on
# without the streaming figures, which are n/a, with the reason once, and
# the other figures are all there.
DTRAIN_TEST_STREAM_OOM=1 DTRAIN_TEST_RANKS_PER_NODE=1 DTRAIN=$DTRAIN_TEST_BIN \
  run 2 120 bench --layers 32:relu --batch-size 64 --inputs 20 --outputs 3 --samples 1000
g=$(grep '^BENCH_GEMM' <<<"$out")
[[ $status -eq 0 && $(field "$g" copy_GBps) == n/a && $(field "$g" triad_GBps) == n/a &&
   $(field "$g" flop_per_sample) == 3136 && $(field "$g" stream_array_bytes) -ge 64 ]] &&
  [[ $(grep -c "bench stream: the streaming bandwidth was not measured (stream: out of memory for 3 arrays of [0-9.]* MiB on at least one rank, 1 rank per node); the other figures do not need it" <<<"$err") -eq 1 ]] &&
  ! grep -q '^bench stream: copy' <<<"$out" && grep -q '^BENCH_COLLECTIVES ranks=2' <<<"$out" &&
  [[ $(grep -c '^BENCH_PROJ ' <<<"$out") -eq 6 ]] &&
  pass "bench, out of memory for the streaming arrays on rank 1: n/a with the reason, the rest measured" ||
  fail "bench with the streaming arrays out of memory on rank 1: status $status: $err $out"

# A CPU name with parentheses and spaces ("Intel(R) Xeon(R) ...") survives
# into bench.sh's machine line whole (the BENCH_GEMM token cannot carry it):
# the binary with test hooks, as BUILD_DIR's dtrain, told the name.  In the
# same run, oneDNN held to AVX2 (DNNL_MAX_CPU_ISA, as on an AVX2-only CPU):
# bf16 cannot run, which is a row that says so, not the end of the benchmark;
# and the streaming arrays fail to allocate (the test hook), which the
# machine line and the rows say too.
mkdir -p "$TMP/hooked" && ln -sf "$DTRAIN_TEST_BIN" "$TMP/hooked/dtrain"
intel="Intel(R) Xeon(R) Platinum 8480+"
log=$TMP/bench-intel.log
if DTRAIN_TEST_CPU_MODEL=$intel DTRAIN_TEST_STREAM_OOM=0 DNNL_MAX_CPU_ISA=AVX2 NO_BUILD=1 BUILD_DIR=$TMP/hooked BENCH_TIMEOUT=120 \
    timeout -k 5 300 bash "$SRC/scripts/bench.sh" --data "$DATA/digits.h5" --model tiny --ranks 1 \
    --precisions fp32,bf16 --epochs 1 --warmup 0 >"$log" 2>&1; then
  grep -qF "machine: $intel, $(nproc) cores, " "$log" &&
    pass "bench.sh: the machine line names '$intel' as given" || fail "bench.sh with '$intel': $(grep '^machine' "$log")"
  grep -q '^BENCH .* precision=fp32 .* status=ok ' "$log" &&
    grep -q '^BENCH .* precision=bf16 .* status=unsupported ' "$log" &&
    grep -q '^  -- bf16, placement node: not run: --precision bf16 needs AVX-512' "$log" &&
    pass "bench.sh on AVX2: fp32 measured, bf16 a row 'not run' with dtrain's reason" ||
    fail "bench.sh on AVX2: $(grep -E '^BENCH |^  -- ' "$log")"
  grep -q "^machine: .*, streaming not measured (stream: out of memory for 3 arrays of [0-9.]* MiB on at least one rank, 1 rank per node) (1 at once), GEMM fp32 " "$log" &&
    grep -q '^  streaming          not measured (stream: out of memory' "$log" &&
    n_ok=$(grep -c '^BENCH .* status=ok ' "$log") && [[ $n_ok -ge 1 ]] &&
    [[ $(grep '^BENCH .* status=ok ' "$log" | grep -c ' triad_GBps=n/a update_vs_triad=n/a ') -eq $n_ok ]] &&
    pass "bench.sh without the streaming figures: not measured, with dtrain bench's reason; rows n/a" ||
    fail "bench.sh without the streaming figures: $(grep -E '^machine|^  streaming|^BENCH ' "$log")"
else
  fail "bench.sh with DTRAIN_TEST_CPU_MODEL and DNNL_MAX_CPU_ISA=AVX2: $(tail -n 5 "$log")"
fi

# scripts/bench.sh with the binary under test, on digits: one BENCH line per
# rank count, precision and placement, each with a test accuracy, and the
# data set's size in memory: digits' 1797 x 64 uint8 = 0.11 MB, printed to
# 0.1.
precisions=fp32,bf16
[[ $("$DTRAIN" --version) == *avx512_core* ]] || precisions=fp32
log=$TMP/bench.log
if NO_BUILD=1 BUILD_DIR=$(dirname "$DTRAIN") BENCH_TIMEOUT=120 timeout -k 5 300 \
    bash "$SRC/scripts/bench.sh" --data "$DATA/digits.h5" --model tiny --ranks 1,2 \
    --precisions $precisions --placements node,sharded --epochs 1 --warmup 1 >"$log" 2>&1; then
  n=$(grep -c '^BENCH model=tiny' "$log")
  want=$((4 * $(tr ',' '\n' <<<"$precisions" | wc -l)))
  [[ $n -eq $want ]] && pass "bench.sh: $n BENCH lines ($precisions x node,sharded at 1 and 2 ranks)" || fail "bench.sh: $n BENCH lines, want $want: $(cat "$log")"
  grep -q '^machine: .*, denormals flush$' "$log" && [[ $(grep '^BENCH model=tiny' "$log" | grep -c ' denormals=flush$') -eq $want ]] &&
    pass "bench.sh: the machine line and every row name denormals flush" || fail "bench.sh: denormals not named: $(cat "$log")"
  # the machine line names the CPU, the streaming rates and the implementations
  [[ $(grep -c '^machine: ' "$log") -eq 1 ]] &&
    grep -q "^machine: .*, $(nproc) cores, copy [0-9.]* and triad [0-9.]* GB/s per rank (1 at once), GEMM fp32 [a-z0-9_:,]*" "$log" &&
    { [[ -z $want_cpu ]] || grep -qF "machine: $want_cpu, " "$log"; } &&
    pass "bench.sh: one machine line with the CPU, streaming and implementations" || fail "bench.sh machine line: $(grep '^machine' "$log")"
  # every row: the update's GB/s (the profile's) and its ratio to the triad
  # of the same rank count, which the row also gives
  bad=$(grep '^BENCH model=tiny' "$log" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (!(v["update_GBps"] > 0 && v["triad_GBps"] > 0 && v["update_vs_triad"] > 0)) { print; next }
      r = v["update_GBps"] / v["triad_GBps"]; d = r - v["update_vs_triad"]
      if (d > 0.006 || d < -0.006) print }')
  [[ -z $bad && $(grep -c '^  update             [0-9.]* GB/s per rank .*, [0-9.]*x the triad$' "$log") -eq $want ]] &&
    pass "bench.sh: every row has the update's GB/s and its ratio to the triad" || fail "bench.sh update rows: $bad $(grep '^  update ' "$log")"
  bad=$(grep '^BENCH model=tiny' "$log" | grep -v 'test_accuracy=0\.[0-9]' || true)
  [[ -z $bad ]] && pass "bench.sh: every row has a test accuracy" || fail "bench.sh rows without accuracy: $bad"
  for pl in node sharded; do
    n=$(grep '^BENCH model=tiny' "$log" | grep -c " placement=$pl mode=default vs_default=n/a status=ok .* data_mb=0.1 ")
    [[ $n -eq $((want / 2)) ]] && pass "bench.sh: $n rows of placement $pl, data 0.1 MB" || fail "bench.sh: $n rows of $pl: $(cat "$log")"
  done
else
  fail "bench.sh failed: $(tail -20 "$log")"
fi

# --modes: a reproducible row beside the default one, with its time over the
# default mode's measured in the same run
log=$TMP/bench-modes.log
if NO_BUILD=1 BUILD_DIR=$(dirname "$DTRAIN") BENCH_TIMEOUT=120 timeout -k 5 300 \
    bash "$SRC/scripts/bench.sh" --data "$DATA/digits.h5" --model tiny --ranks 2 \
    --precisions fp32 --modes default,reproducible --epochs 1 --warmup 0 >"$log" 2>&1; then
  grep -q '^BENCH model=tiny .* mode=default vs_default=n/a status=ok' "$log" &&
    grep -q '^BENCH model=tiny .* mode=reproducible vs_default=[0-9.]* status=ok' "$log" &&
    grep -q '^  vs default mode    [0-9.]*x the time per epoch' "$log" &&
    pass "bench.sh --modes: a reproducible row with its ratio to the default mode" ||
    fail "bench.sh --modes: $(cat "$log")"
else
  fail "bench.sh --modes failed: $(tail -20 "$log")"
fi

# --big: a generated data set trained under a per-rank address-space limit.
# At 20000 rows (4.9 MB) the limit's margins are within the noise of the
# address space, so only the rows' presence is checked, not which fit.
log=$TMP/big.log
if NO_BUILD=1 BUILD_DIR=$(dirname "$DTRAIN") BENCH_TIMEOUT=120 timeout -k 5 300 \
    bash "$SRC/scripts/bench.sh" --big 20000 >"$log" 2>&1; then
  grep -q '^data: 20000 synthetic rows x 64 float32 features, 4.9 MB in memory' "$log" \
    && grep -q '^limit at 2 ranks: [0-9]* MB of address space per rank' "$log" \
    && [[ $(grep -c '^BENCH model=tiny .*ranks=2 precision=fp32 placement=\(node\|sharded\) mode=default \(vs_default=n/a \)\?status=\(ok\|failed\) .*rank_limit_mb=[0-9]' "$log") -eq 2 ]] \
    && pass "bench.sh --big: the data set, the limit and a row per placement" || fail "bench.sh --big: $(cat "$log")"
else
  fail "bench.sh --big failed: $(tail -20 "$log")"
fi

finish
