#!/usr/bin/env bash
# The training benchmark (not a test): builds a Release binary, trains the
# standard workload at each rank count, precision and data placement, and
# compares the time per epoch with the floors that `dtrain bench` measures in
# the same run.
#
#   scripts/bench.sh [--ranks 1,2] [--precisions fp32,bf16] [--placements node]
#                    [--modes default,reproducible]
#                    [--model standard|wide|tiny|LAYERS] [--batch-size 128]
#                    [--data FILE.h5] [--epochs 3] [--warmup 1]
#                    [--train-args "MORE TRAIN OPTIONS"]
#                    [--big ROWS] [--rank-limit MB]
#
# Models: standard 256:relu,128:relu; wide 1024:relu,1024:relu; tiny 32:relu; or
# any --layers text.  Every run is softmax + Adam at --lr 0.01 (the workload's
# rate since it was set up; --train-args "--lr X" replaces it).  --precisions: the `train
# --precision` values to run at each rank count (bf16: GEMM inputs rounded to
# bf16, fp32 accumulation; fp32 is train's default and passes no option).
# --placements: the `train --data-placement` values to run at each rank count
# and precision (node, rank, sharded).  --modes: default, and/or reproducible
# (`train --reproducible`, micro-batches of 32 unless --train-args gives
# --micro-batch); a reproducible row also gives its time per epoch over the
# default mode's at the same rank count, precision and placement, measured
# in the same run (vs_default=).  One warm-up epoch, then the timed
# epochs; times are the median over the timed epochs of `train --profile`'s
# per-epoch training time (evaluation excluded).
# Environment: BUILD_DIR (build-release), BUILD_TYPE (Release), MPIRUN_ARGS
# (extra mpirun options), BENCH_TIMEOUT (seconds per mpirun, 1800), NO_BUILD=1
# to use BUILD_DIR as is.
#
# --rank-limit MB: every rank of a training run is started under an
# address-space limit of MB (prlimit --as; Linux enforces no limit on resident
# memory without a cgroup), and a run that fails under it is a result (a row
# with status=failed and its error), not the end of the benchmark.
# --big ROWS: data larger than a rank's limit.  Generates a synthetic data set
# of ROWS x 64 float32 features (4 classes; 5% of the rows in /test) in a
# temporary directory with `dtrain convert`, stored uncompressed (h5repack,
# package hdf5-tools: HDF5 1.10's collective read of a compressed dataset
# holds all of a rank's decompressed chunks besides its rows, twice its
# share), and trains it under a per-rank limit: unless --rank-limit is given,
# the address space a run of the same options on 2000 such rows needed
# (sharded, measured first), plus half-way between a rank's share of the data
# and all of it, (1 + 1/P) / 2 x data: the sharded placement (data / P per
# rank) fits, a whole copy in every rank's address space (node and rank
# placements) does not.  Defaults in this mode: --ranks 2 --precisions fp32
# --placements node,sharded --model tiny --batch-size 1024 --epochs 1 --warmup
# 0 (given options win); ranks >= 2.
# ROWS = 1000000 is 244 MB in memory (MB: 2^20 bytes, as dtrain counts) and
# takes under a minute to generate.
#
# Once, a machine line from the first `dtrain bench`: the CPU's model name,
# the cores, the streaming bandwidth per rank (copy, triad; or "streaming not
# measured" with dtrain bench's reason, and triad_GBps=n/a in the rows), the
# engine's implementations of the step's products, the denormal mode.
# Per rank count it prints what `dtrain bench` measured with all ranks running
# at once: the core's fp32 FMA peak (our kernel; the slowest rank's fastest
# sample), the compute engine's GEMM rate on the step's per-rank shapes in
# fp32 and bf16 and its implementations, the streaming bandwidth, and the
# peak floor, epoch GEMM FLOPs / P / peak.  Then per
# precision and placement: seconds per epoch, samples/s, GEMM FLOP per epoch and the
# achieved GFLOP/s, the ratio of the time per epoch to the peak floor, the
# engine's floor (epoch GEMM FLOPs / P at the engine's fastest sample in that
# precision: an unloaded machine's rate, so that ratio errs against us) and
# the ratio to it, the final test accuracy after the warm-up + timed epochs,
# the share of the step spent communicating (gradient reduction and parameter
# gathering; none of it overlaps compute), the time per step spent fetching
# rows from other ranks (sharded; n/a where the profile reports none),
# parallel efficiency against 1 rank (same precision and placement), the
# update's GB/s (the profile's) and its ratio to the triad, and
# memory: the largest rank's peak resident set, the job's (the sum of the
# ranks' proportional set sizes: node-shared pages counted once) against the
# data set's size in memory (every X group of the file, rows x features x 1
# byte for uint8, else 4); then one line
#   BENCH model=... ranks=P precision=... placement=... status=ok sec_per_epoch=...
#         ratio_to_peak_floor=... ratio_to_engine_floor=... test_accuracy=...
#         fetch_ms_per_step=... mem_rank_mb=... mem_job_mb=... data_mb=...
#         mode=default|reproducible vs_default=... ... update_GBps=...
#         triad_GBps=... update_vs_triad=... denormals=flush|keep
# (mem_rank_mb: largest rank's peak RSS; mem_job_mb: the job's PSS).  A run
# that failed under --rank-limit prints
#   BENCH model=... ranks=P precision=... placement=... status=failed rank_limit_mb=... data_mb=...
# The peak is of fp32 FMAs: bf16 runs on AVX512_BF16 dot products (two
# products per lane) and may come below it (ratio < 1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# empty: the default of the mode (--big or not), set below
ranks="" precisions="" placements="" modes=default model="" batch="" data=datasets/fashion-mnist.h5 epochs=""
warmup="" train_args="" big="" limit_mb=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --precisions) precisions=$2; shift 2 ;;
    --placements) placements=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --batch-size) batch=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --train-args) train_args=$2; shift 2 ;;
    --big) big=$2; shift 2 ;;
    --rank-limit) limit_mb=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -n $big ]]; then
  [[ $big =~ ^[0-9]+$ && $big -ge 1000 ]] || { echo "bench.sh: --big: '$big' is not a number of rows of 1000 or more" >&2; exit 2; }
  : "${ranks:=2}" "${precisions:=fp32}" "${placements:=node,sharded}" "${model:=tiny}"
  : "${batch:=1024}" "${epochs:=1}" "${warmup:=0}"
fi
: "${ranks:=1,2}" "${precisions:=fp32,bf16}" "${placements:=node}" "${model:=standard}"
: "${batch:=128}" "${epochs:=3}" "${warmup:=1}"
case $model in
  standard) layers=256:relu,128:relu ;;
  wide) layers=1024:relu,1024:relu ;;
  tiny) layers=32:relu ;;
  *) layers=$model ;;
esac
[[ -n $big || -f $data ]] || { echo "bench.sh: no $data (datasets/fashion-mnist.sh builds it)" >&2; exit 2; }
IFS=, read -ra prec_list <<<"$precisions"
for prec in "${prec_list[@]}"; do
  [[ $prec == fp32 || $prec == bf16 ]] ||
    { echo "bench.sh: --precisions: '$prec' is not fp32 or bf16" >&2; exit 2; }
done
IFS=, read -ra place_list <<<"$placements"
for pl in "${place_list[@]}"; do
  [[ $pl == node || $pl == rank || $pl == sharded ]] ||
    { echo "bench.sh: --placements: '$pl' is not node, rank or sharded" >&2; exit 2; }
done
IFS=, read -ra mode_list <<<"$modes"
for md in "${mode_list[@]}"; do
  [[ $md == default || $md == reproducible ]] ||
    { echo "bench.sh: --modes: '$md' is not default or reproducible" >&2; exit 2; }
done
IFS=, read -ra rank_list <<<"$ranks"
if [[ -n $big ]]; then
  for P in "${rank_list[@]}"; do
    [[ $P -ge 2 ]] || { echo "bench.sh: --big needs --ranks of 2 or more (at 1 rank a shard is all the data)" >&2; exit 2; }
  done
fi
[[ -z $big ]] || command -v h5repack >/dev/null ||
  { echo "bench.sh: --big needs h5repack (Debian package hdf5-tools, scripts/install-deps.sh)" >&2; exit 2; }
[[ -z $limit_mb || $limit_mb =~ ^[0-9]+$ ]] || { echo "bench.sh: --rank-limit: '$limit_mb' is not a number of MB" >&2; exit 2; }

export BUILD_DIR=${BUILD_DIR:-build-release} BUILD_TYPE=${BUILD_TYPE:-Release}
if [[ ${NO_BUILD:-0} != 1 ]]; then
  scripts/build.sh -DDTRAIN_TESTS=OFF >/dev/null
fi
DTRAIN=$BUILD_DIR/dtrain
source scripts/env.sh
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

# run P LOGFILE COMMAND...: COMMAND under mpirun with a timeout; with
# $limit_mb set, every rank under that address-space limit.  Its status.
run() {
  local np=$1 log=$2; shift 2
  local bind=() wrap=()
  [[ $np -gt $(nproc) ]] && bind=(--bind-to none) # oversubscribed: no core binding
  [[ -n ${limit_mb:-} ]] && wrap=(prlimit --as=$((limit_mb * 1024 * 1024)))
  # shellcheck disable=SC2086
  timeout -k 10 "${BENCH_TIMEOUT:-1800}" mpirun -np "$np" "${bind[@]}" ${MPIRUN_ARGS:-} \
    "${wrap[@]}" "$@" >"$log" 2>&1
}
# failed P LOGFILE COMMAND...: the end of the benchmark, COMMAND having failed
failed() {
  echo "bench.sh: failed: mpirun -np $1 ${*:3}" >&2
  tail -20 "$2" >&2
  exit 1
}
# must P LOGFILE COMMAND...: run, and the end of the benchmark if it fails
must() { run "$@" || failed "$@"; }

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# key=value from a BENCH_ line
field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }
# data_mb FILE: the X groups of FILE in memory, MB (a byte per uint8 element,
# 4 for the rest, which dtrain holds as float32)
data_mb() {
  "$DTRAIN" inspect "$1" |
    awk '$2 == "X" && $4 == "x" { s += $3 * $5 * ($6 ~ /^uint8/ ? 1 : 4) } END { printf "%.1f", s / 1048576 }'
}
# synth ROWS FILE: ROWS samples of 64 features (integers, float32) in 4
# classes, the class readable from the first 8 features; 5% of them in /test.
# The other 56 are noise, one of 4096 rows drawn at random (drawing each
# number would take awk several times as long).  Stored uncompressed (see
# --help).
synth() {
  awk -v n="$1" 'BEGIN { srand(1)
      for (t = 0; t < 4096; t++) for (j = 0; j < 56; j++) noise[t] = noise[t] "," int(rand() * 10)
      for (i = 0; i < n; i++) { c = int(rand() * 4); row = 2 * c + int(rand() * 3)
        for (j = 1; j < 8; j++) row = row "," 2 * c + int(rand() * 3)
        print row noise[int(rand() * 4096)] "," c } }' >"$2.csv"
  "$DTRAIN" convert --csv "$2.csv" --out "$2.z" --test-fraction 0.05 >/dev/null
  h5repack -f NONE "$2.z" "$2"
  rm -f "$2.csv" "$2.z"
}
# Run by every rank of a calibration run: the command, then its peak address
# space (VmPeak, which only grows, so the last sample before the exit is it).
# shellcheck disable=SC2016 # expanded by the rank's shell
vm_probe='"$@" & p=$!; m=0
while kill -0 "$p" 2>/dev/null; do
  v=$(sed -n "s/^VmPeak:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$p/status" 2>/dev/null)
  [[ ${v:-0} -gt $m ]] && m=$v; sleep 0.02
done
wait "$p"; s=$?; echo "vm_peak_kb $m"; exit $s'

# The workload's learning rate, unless the extra train options give one.
lr_arg=(--lr 0.01)
[[ " $train_args" =~ \ --lr([ =]|$) ]] && lr_arg=()
# The denormal mode of every run (train's default, flush, unless the extra
# train options give --denormals), given to `dtrain bench` too.
denormals=flush
[[ " $train_args" =~ \ --denormals[\ =]([a-z]+) ]] && denormals=${BASH_REMATCH[1]}
# the training options of every run, but the data, precision and placement
train_opts=(--layers "$layers" --output softmax --optimizer adam "${lr_arg[@]}" --batch-size "$batch"
            --epochs $((warmup + epochs)) --profile)

# the machine line, printed once the first `dtrain bench` has named and measured it
machine_done=""
if [[ -n $big ]]; then
  data=$LOG/big.h5
  t0=$(date +%s)
  synth "$big" "$data"
  synth 2000 "$LOG/small.h5"
fi
dmb=$(data_mb "$data")
[[ -z $big ]] || echo "data: $big synthetic rows x 64 float32 features, $dmb MB in memory, generated in $(($(date +%s) - t0)) s (temporary)"
echo "workload: $data, --layers $layers --output softmax --optimizer adam ${lr_arg[*]:+${lr_arg[*]} }--batch-size $batch${train_args:+ $train_args}, $warmup warm-up + $epochs timed epochs; precisions $precisions; placements $placements; modes $modes"

# per precision and placement: samples/s and job memory at 1 rank
declare -A sps1 mem1 sec_of
# every precision with every placement, precision/placement
cells=()
for prec in "${prec_list[@]}"; do
  for pl in "${place_list[@]}"; do
    for md in "${mode_list[@]}"; do cells+=("$prec/$pl/$md"); done
  done
done
auto_limit=""
[[ -n $big && -z $limit_mb ]] && auto_limit=1
for P in "${rank_list[@]}"; do
  bl=""
  if [[ -n $auto_limit ]]; then
    # the limit at P ranks: what the program needs with a few rows (its
    # libraries, buffers, MPI), plus half-way between a rank's share of the
    # data and all of it
    # shellcheck disable=SC2086
    limit_mb="" must "$P" "$LOG/vm$P" bash -c "$vm_probe" probe "$DTRAIN" train --data "$LOG/small.h5" \
      "${train_opts[@]}" --data-placement sharded $train_args
    base=$(awk '$1 == "vm_peak_kb" && $2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$LOG/vm$P")
    limit_mb=$(awk -v b="$base" -v d="$dmb" -v p="$P" 'BEGIN { printf "%.0f", b + d * (1 + 1 / p) / 2 }')
    echo
    echo "limit at $P ranks: $limit_mb MB of address space per rank = $base MB (a sharded run on 2000 rows) + (1 + 1/$P) / 2 x $dmb MB of data"
  fi
  for cell in "${cells[@]}"; do
    IFS=/ read -r prec pl md <<<"$cell"
    load=$(cut -d' ' -f1 /proc/loadavg)
    tl=$LOG/train$P-$prec-$pl-$md
    prec_arg=()
    [[ $prec == fp32 ]] || prec_arg=(--precision "$prec")
    [[ $md == default ]] || prec_arg+=(--reproducible)
    # shellcheck disable=SC2206
    train=("$DTRAIN" train --data "$data" "${train_opts[@]}" "${prec_arg[@]}" --data-placement "$pl"
           $train_args)
    if ! run "$P" "$tl" "${train[@]}"; then
      # a precision this CPU has no kernels for (bf16 without AVX-512): a
      # row that says so, and the other precisions go on
      if grep -q '^dtrain train: error: --precision [a-z0-9]* needs ' "$tl"; then
        echo "  -- $prec, placement $pl: not run: $(grep -m1 '^dtrain train: error' "$tl" | sed 's/^dtrain train: error: //')"
        echo "BENCH model=$model layers=$layers ranks=$P precision=$prec placement=$pl mode=$md status=unsupported denormals=$denormals"
        continue
      fi
      [[ -n $limit_mb ]] || failed "$P" "$tl" "${train[@]}"
      echo "  -- $prec, placement $pl: failed under the $limit_mb MB limit per rank: $(grep -m1 '^dtrain.*error' "$tl" || tail -1 "$tl")"
      echo "BENCH model=$model layers=$layers ranks=$P precision=$prec placement=$pl mode=$md status=failed rank_limit_mb=$limit_mb data_mb=$dmb denormals=$denormals"
      continue
    fi
    arch=$(sed -n 's/.*: model \([0-9-]*\) .*/\1/p' "$tl" | head -1)
    n=$(sed -n 's/.*: \([0-9]*\) samples x [0-9]* features.*/\1/p' "$tl" | head -1)
    d=${arch%%-*}
    k=${arch##*-}
    # profile epoch lines after the warm-up: fields train T, data, compute,
    # comm, update, the fetch's ms per step ("(fetch S, MS ms per step)"
    # after data in a sharded run, n/a in the others) and the update's GB/s
    # ("update S (R GB/s)")
    prof=$(awk -v w="$warmup" '/^profile epoch/ && $3 + 0 > w { f = "n/a"; u = "n/a"; split("", v)
        for (i = 4; i < NF; i++) { v[$i] = $(i + 1); if ($i == "(fetch") f = $(i + 2)
          if ($i == "update") { u = $(i + 2); sub(/^\(/, "", u) } }
        print v["train"], v["data"], v["compute"], v["comm"], v["update"], f, u }' "$tl")
    [[ -n $prof ]] || { echo "bench.sh: no profile lines in the training log" >&2; cat "$tl" >&2; exit 1; }
    sec=$(awk '{ print $1 }' <<<"$prof" | median)
    t_data=$(awk '{ print $2 }' <<<"$prof" | median)
    t_comp=$(awk '{ print $3 }' <<<"$prof" | median)
    t_red=$(awk '{ print $4 }' <<<"$prof" | median)
    t_upd=$(awk '{ print $5 }' <<<"$prof" | median)
    upd_gbps=$(awk '{ print $7 }' <<<"$prof" | median)
    red_share=$(awk '{ print $4 / $1 }' <<<"$prof" | median)
    # the held-out accuracy after all warmup + epochs epochs (n/a without a test group)
    acc=$(sed -n 's/^final: test_loss [^ ]*  test_accuracy \([0-9.]*\).*/\1/p' "$tl" | head -1)
    acc=${acc:-n/a}
    # peak RSS of the largest rank; the job's memory as the sum of the ranks'
    # proportional set sizes (the node-shared data counted once, not per rank)
    mem_rank=$(sed -n 's/^profile memory: peak resident \([0-9.]*\) MB on the largest rank.*/\1/p' "$tl")
    mem_all=$(sed -n 's/^profile memory: .*proportional set size at the end \([0-9.]*\) MB in all.*/\1/p' "$tl")
    mem_mean=$(sed -n 's/^profile memory: peak resident [0-9.]* MB on the largest rank, \([0-9.]*\) MB in all.*/\1/p' "$tl")
    mem_mean=$(awk -v s="$mem_mean" -v p="$P" 'BEGIN { printf "%.1f", s / p }')
    fetch_ms=n/a
    [[ $(awk '{ print $6 }' <<<"$prof" | head -1) == n/a ]] || fetch_ms=$(awk '{ print $6 }' <<<"$prof" | median)

    if [[ -z $bl ]]; then
      # the ceilings at this rank count, once for all precisions, on the
      # shapes the first training run reported
      bl=$LOG/bench$P
      limit_mb="" must "$P" "$bl" "$DTRAIN" bench --layers "$layers" --batch-size "$batch" --inputs "$d" \
        --outputs "$k" --samples "$n" --denormals "$denormals"
      gemm=$(grep '^BENCH_GEMM' "$bl")
      flop=$(field "$gemm" epoch_flop)
      lb=$(field "$gemm" local_batch)
      peak=$(field "$gemm" peak_gflops)
      peak_isa=$(field "$gemm" peak_isa)
      bf16_support=$(field "$gemm" bf16_support)
      triad=$(field "$gemm" triad_GBps)
      # the streaming rates, or dtrain bench's reason for n/a (its arrays
      # could not be allocated on some rank)
      if [[ $triad == n/a ]]; then
        stream_txt="streaming not measured ($(sed -n 's/.*bench stream: the streaming bandwidth was not measured (\(.*\)); .*/\1/p' "$bl" | head -n 1))"
      else
        stream_txt=$(printf 'copy %.2f and triad %.2f GB/s per rank' "$(field "$gemm" copy_GBps)" "$triad")
      fi
      declare -A impl=([fp32]=$(field "$gemm" fp32_impl) [bf16]=$(field "$gemm" bf16_impl))
      # engine rates per rank: median and fastest sample, per precision
      declare -A eng_med eng_best
      eng_med[fp32]=$(field "$gemm" gflops) eng_best[fp32]=$(field "$gemm" best_gflops)
      eng_med[bf16]=$(field "$gemm" bf16_gflops) eng_best[bf16]=$(field "$gemm" bf16_best_gflops)
      floor_peak=$(awk -v f="$flop" -v p="$P" -v g="$peak" 'BEGIN { if (g > 0) printf "%.4f", f / p / (g * 1e9); else print "n/a" }')
      bf16_txt="bf16 not supported by the engine here"
      if [[ $bf16_support -gt 0 ]]; then
        bf16_txt=$(printf 'bf16 %.2f GFLOP/s (fastest sample %.2f)' "${eng_med[bf16]}" "${eng_best[bf16]}")
        [[ $bf16_support -eq 1 ]] && bf16_txt+=" emulated, no AVX512_BF16"
      fi

      if [[ -z $machine_done ]]; then
        machine_done=1
        bf16_impl=""
        [[ ${impl[bf16]} == none ]] || bf16_impl=" and bf16 ${impl[bf16]}"
        # the CPU as dtrain bench names it, from its human line (the BENCH_GEMM
        # token has no spaces or parentheses: "Intel(R) Xeon(R)" would not survive)
        cpu_name=$(sed -n 's/^bench cpu: //p' "$bl" | sed 's/ (CPUID brand string: .*)$//' | head -n 1)
        printf 'machine: %s, %d cores, %s (%d at once), GEMM fp32 %s%s, denormals %s\n' \
          "$cpu_name" "$(nproc)" "$stream_txt" "$P" "${impl[fp32]}" "$bf16_impl" "$denormals"
      fi
      echo
      echo "== $P rank(s): model $arch, global batch $batch (local $lb), $n samples per epoch, GEMM $(field "$gemm" engine)"
      if [[ $floor_peak == n/a ]]; then
        echo "  FMA peak           none: no AVX2+FMA or AVX-512F kernel for this CPU, no peak floor"
      else
        printf '  FMA peak           %.2f GFLOP/s per rank (%s, fp32; the slowest rank'"'"'s fastest sample, all %d rank(s) at once)\n' "$peak" "$peak_isa" "$P"
        printf '  peak floor         %.4f s per epoch (%.2f GFLOP of GEMM / %d / peak)\n' \
          "$floor_peak" "$(awk -v f="$flop" 'BEGIN { print f * 1e-9 }')" "$P"
      fi
      printf '  engine GEMM rate   per rank at local batch %s: fp32 %.2f GFLOP/s (fastest sample %.2f); %s\n' \
        "$lb" "${eng_med[fp32]}" "${eng_best[fp32]}" "$bf16_txt"
      printf '  implementations    fp32 %s; bf16 %s (oneDNN'"'"'s, of the step'"'"'s products)\n' "${impl[fp32]}" "${impl[bf16]}"
      printf '  streaming          %s (all %d rank(s) at once)\n' "${stream_txt#streaming }" "$P"
      if [[ $P -gt 1 ]]; then
        sed -n 's/^bench allreduce fit: /  allreduce fit      /p' "$bl"
        sed -n 's/^bench step collectives /  step collectives   /p' "$bl"
      fi
      if [[ $P -eq ${rank_list[0]} ]]; then
        # from the first rank count's GEMM timings (1 rank: one rank per host, alone)
        echo "  projection (fp32 GEMM times of this run; network as stated):"
        grep '^bench projection' "$bl" | sed 's/^bench projection: /    /'
      fi
    fi

    # the engine's floor at its fastest sample in this precision: noise only
    # slows the engine down, so this is the machine's rate, and the ratio errs
    # against us rather than for us
    best=${eng_best[$prec]}
    floor=$(awk -v f="$flop" -v p="$P" -v g="$best" 'BEGIN { if (g > 0) printf "%.4f", f / p / (g * 1e9); else print "n/a" }')
    sps=$(awk -v n="$n" -v s="$sec" 'BEGIN { printf "%.0f", n / s }')
    gflops=$(awk -v f="$flop" -v s="$sec" 'BEGIN { printf "%.2f", f / s * 1e-9 }')
    ratio=$(awk -v f="$floor" -v s="$sec" 'BEGIN { if (f > 0) printf "%.3f", s / f; else print "n/a" }')
    ratio_peak=$(awk -v f="$floor_peak" -v s="$sec" 'BEGIN { if (f > 0) printf "%.3f", s / f; else print "n/a" }')
    if [[ $P -eq 1 ]]; then
      sps1[$cell]=$sps mem1[$cell]=$mem_all
    fi
    eff=n/a memx=n/a
    [[ -n ${sps1[$cell]:-} ]] && eff=$(awk -v a="$sps" -v b="${sps1[$cell]}" -v p="$P" 'BEGIN { printf "%.3f", a / (p * b) }')
    [[ -n ${mem1[$cell]:-} ]] && memx=$(awk -v a="$mem_all" -v b="${mem1[$cell]}" 'BEGIN { printf "%.2f", a / b }')
    job_data=$(awk -v a="$mem_all" -v b="$dmb" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    # the reproducible mode's time over the default mode's, same P, precision, placement
    sec_of[$P/$prec/$pl/$md]=$sec
    vs_default=n/a
    [[ $md != default && -n ${sec_of[$P/$prec/$pl/default]:-} ]] &&
      vs_default=$(awk -v a="$sec" -v b="${sec_of[$P/$prec/$pl/default]}" 'BEGIN { printf "%.3f", a / b }')

    echo "  -- $prec, placement $pl, $md mode (load average before: $load)"
    printf '  time per epoch     %.4f s (median of %d; data %.4f  compute %.4f  comm %.4f  update %.4f)\n' \
      "$sec" "$epochs" "$t_data" "$t_comp" "$t_red" "$t_upd"
    printf '  samples/s          %s\n' "$sps"
    printf '  GEMM per epoch     %.2f GFLOP; achieved %s GFLOP/s over the whole epoch (x %d ranks)\n' \
      "$(awk -v f="$flop" 'BEGIN { print f * 1e-9 }')" "$gflops" "$P"
    printf '  ratio to peak floor    %sx (time per epoch / peak floor)\n' "$ratio_peak"
    printf '  engine floor       %s s per epoch (epoch GEMM FLOPs / %d / fastest %s engine sample at batch %s)\n' "$floor" "$P" "$prec" "$lb"
    printf '  ratio to engine floor  %sx\n' "$ratio"
    printf '  test accuracy      %s after %d epochs\n' "$acc" $((warmup + epochs))
    printf '  comm share         %.1f%% of the step (gradient reduction + parameter gathering, not overlapped with compute)\n' "$(awk -v x="$red_share" 'BEGIN { print 100 * x }')"
    printf '  fetch              %s ms per step (the step'"'"'s rows from the ranks holding them; part of data)\n' "$fetch_ms"
    printf '  efficiency vs 1    %s\n' "$eff"
    [[ $md == default ]] || printf '  vs default mode    %sx the time per epoch\n' "$vs_default"
    upd_triad=$(awk -v u="$upd_gbps" -v t="$triad" 'BEGIN { if (u + 0 > 0 && t + 0 > 0) printf "%.2f", u / t; else print "n/a" }')
    printf '  update             %s GB/s per rank (bytes its passes read and write / its time), %sx the triad\n' "$upd_gbps" "$upd_triad"
    printf '  memory             peak resident %s MB on the largest rank (mean %s); job %s MB (sum of proportional set sizes, x%s of 1 rank, x%s of the data)\n' "$mem_rank" "$mem_mean" "$mem_all" "$memx" "$job_data"
    printf '  data               %s MB in memory%s\n' "$dmb" "${limit_mb:+; limit $limit_mb MB of address space per rank}"
    echo "BENCH model=$model layers=$layers ranks=$P precision=$prec placement=$pl mode=$md vs_default=$vs_default status=ok batch=$batch local_batch=$lb sec_per_epoch=$sec samples_per_s=$sps gemm_flop_per_epoch=$flop gflops=$gflops peak_gflops=$peak peak_isa=$peak_isa peak_floor_s=$floor_peak ratio_to_peak_floor=$ratio_peak engine_gflops_per_rank=${eng_med[$prec]} engine_best_gflops_per_rank=$best engine_floor_s=$floor ratio_to_engine_floor=$ratio test_accuracy=$acc epochs=$((warmup + epochs)) comm_share=$red_share efficiency=$eff mem_rank_mb=$mem_rank mem_job_mb=$mem_all mem_vs_1rank=$memx fetch_ms_per_step=$fetch_ms mem_rank_mean_mb=$mem_mean data_mb=$dmb job_vs_data=$job_data rank_limit_mb=${limit_mb:-none} update_s=$t_upd update_GBps=$upd_gbps triad_GBps=$triad update_vs_triad=$upd_triad denormals=$denormals"
  done
done
[[ -n $machine_done ]] || echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, not measured (no dtrain bench ran); denormals $denormals"
