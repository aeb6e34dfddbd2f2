#!/usr/bin/env bash
# The training benchmark (not a test): builds a Release binary, trains the
# standard workload at each rank count and compares the time per epoch with
# the GEMM floor that `dtrain bench` measures in the same run.
#
#   scripts/bench.sh [--ranks 1,2] [--model standard|wide|tiny|LAYERS]
#                    [--batch-size 128] [--data FILE.h5] [--epochs 3] [--warmup 1]
#                    [--train-args "MORE TRAIN OPTIONS"]
#
# Models: standard 256:relu,128:relu; wide 1024:relu,1024:relu; tiny 32:relu; or
# any --layers text.  Every run is softmax + Adam.  One warm-up epoch, then the
# timed epochs; times are the median over the timed epochs of `train --profile`'s
# per-epoch training time (evaluation excluded).  Environment: BUILD_DIR
# (build-release), BUILD_TYPE (Release), MPIRUN_ARGS (extra mpirun options),
# BENCH_TIMEOUT (seconds per mpirun, 1800), NO_BUILD=1 to use BUILD_DIR as is.
#
# Per run it prints seconds per epoch, samples/s, GEMM FLOP per epoch, achieved
# GFLOP/s against the sgemm rate on the same shapes, the floor (epoch GEMM FLOPs
# / P at the fastest sgemm sample of the local batch B/P: an unloaded machine's
# rate, so the ratio errs against us) and the ratio to it, the share of the
# step spent communicating (gradient reduction and parameter gathering; none
# of it overlaps compute), parallel efficiency against 1 rank, peak memory;
# then one line
#   BENCH model=... ranks=P batch=B sec_per_epoch=... ratio_to_floor=... ...
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ranks=1,2 model=standard batch=128 data=datasets/fashion-mnist.h5 epochs=3 warmup=1 train_args=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --batch-size) batch=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --train-args) train_args=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $model in
  standard) layers=256:relu,128:relu ;;
  wide) layers=1024:relu,1024:relu ;;
  tiny) layers=32:relu ;;
  *) layers=$model ;;
esac
[[ -f $data ]] || { echo "bench.sh: no $data (datasets/fashion-mnist.sh builds it)" >&2; exit 2; }

export BUILD_DIR=${BUILD_DIR:-build-release} BUILD_TYPE=${BUILD_TYPE:-Release}
if [[ ${NO_BUILD:-0} != 1 ]]; then
  scripts/build.sh -DDTRAIN_TESTS=OFF >/dev/null
fi
DTRAIN=$BUILD_DIR/dtrain
source scripts/env.sh
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

# run P LOGFILE ARGS...: dtrain under mpirun with a timeout.
run() {
  local np=$1 log=$2; shift 2
  local bind=()
  [[ $np -gt $(nproc) ]] && bind=(--bind-to none) # oversubscribed: no core binding
  # shellcheck disable=SC2086
  if ! timeout -k 10 "${BENCH_TIMEOUT:-1800}" mpirun -np "$np" "${bind[@]}" ${MPIRUN_ARGS:-} \
      "$DTRAIN" "$@" >"$log" 2>&1; then
    echo "bench.sh: failed: mpirun -np $np dtrain $*" >&2
    tail -20 "$log" >&2
    exit 1
  fi
}

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# key=value from a BENCH_ line
field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $($DTRAIN --version | sed -n 's/^BLAS: //p' | cut -d' ' -f1-2)"
echo "workload: $data, --layers $layers --output softmax --optimizer adam --batch-size $batch${train_args:+ $train_args}, $warmup warm-up + $epochs timed epochs"

sps1=""
mem1=""
IFS=, read -ra rank_list <<<"$ranks"
for P in "${rank_list[@]}"; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  run "$P" "$LOG/train$P" train --data "$data" --layers "$layers" --output softmax \
    --optimizer adam --batch-size "$batch" --epochs $((warmup + epochs)) --profile $train_args
  tl=$LOG/train$P
  arch=$(sed -n 's/.*: model \([0-9-]*\) .*/\1/p' "$tl" | head -1)
  n=$(sed -n 's/.*: \([0-9]*\) samples x [0-9]* features.*/\1/p' "$tl" | head -1)
  d=${arch%%-*}
  k=${arch##*-}
  # profile epoch lines after the warm-up: fields train T, data, compute, comm, update
  prof=$(awk -v w="$warmup" '/^profile epoch/ { e = $3 + 0; if (e > w) print $5, $8, $10, $12, $14 }' "$tl")
  [[ -n $prof ]] || { echo "bench.sh: no profile lines in the training log" >&2; cat "$tl" >&2; exit 1; }
  sec=$(awk '{ print $1 }' <<<"$prof" | median)
  t_data=$(awk '{ print $2 }' <<<"$prof" | median)
  t_comp=$(awk '{ print $3 }' <<<"$prof" | median)
  t_red=$(awk '{ print $4 }' <<<"$prof" | median)
  t_upd=$(awk '{ print $5 }' <<<"$prof" | median)
  red_share=$(awk '{ print $4 / $1 }' <<<"$prof" | median)
  # peak RSS of the largest rank; the job's memory as the sum of the ranks'
  # proportional set sizes (the node-shared data counted once, not per rank)
  mem_rank=$(sed -n 's/^profile memory: peak resident \([0-9.]*\) MB on the largest rank.*/\1/p' "$tl")
  mem_all=$(sed -n 's/^profile memory: .*proportional set size at the end \([0-9.]*\) MB in all.*/\1/p' "$tl")

  run "$P" "$LOG/bench$P" bench --layers "$layers" --batch-size "$batch" --inputs "$d" \
    --outputs "$k" --samples "$n"
  bl=$LOG/bench$P
  gemm=$(grep '^BENCH_GEMM' "$bl")
  flop=$(field "$gemm" epoch_flop)
  ceil=$(field "$gemm" gflops)
  best=$(field "$gemm" best_gflops)
  floor_med=$(field "$gemm" floor_s)
  lb=$(field "$gemm" local_batch)
  # the floor at the fastest sample: noise only slows sgemm down, so this is
  # the machine's rate, and the ratio errs against us rather than for us
  floor=$(awk -v f="$flop" -v p="$P" -v g="$best" 'BEGIN { printf "%.6g", f / p / (g * 1e9) }')

  sps=$(awk -v n="$n" -v s="$sec" 'BEGIN { printf "%.0f", n / s }')
  gflops=$(awk -v f="$flop" -v s="$sec" 'BEGIN { printf "%.2f", f / s * 1e-9 }')
  ratio=$(awk -v f="$floor" -v s="$sec" 'BEGIN { printf "%.3f", s / f }')
  if [[ $P -eq 1 ]]; then
    sps1=$sps mem1=$mem_all
  fi
  eff=n/a memx=n/a
  [[ -n $sps1 ]] && eff=$(awk -v a="$sps" -v b="$sps1" -v p="$P" 'BEGIN { printf "%.3f", a / (p * b) }')
  [[ -n $mem1 ]] && memx=$(awk -v a="$mem_all" -v b="$mem1" 'BEGIN { printf "%.2f", a / b }')

  echo
  echo "== $P rank(s): model $arch, global batch $batch (local $lb), $n samples per epoch (load average before: $load)"
  printf '  time per epoch     %.4f s (median of %d; data %.4f  compute %.4f  comm %.4f  update %.4f)\n' \
    "$sec" "$epochs" "$t_data" "$t_comp" "$t_red" "$t_upd"
  printf '  samples/s          %s\n' "$sps"
  printf '  GEMM per epoch     %.2f GFLOP; achieved %s GFLOP/s; sgemm on the same shapes %s GFLOP/s per rank (x %d ranks; median; fastest sample %s)\n' \
    "$(awk -v f="$flop" 'BEGIN { print f * 1e-9 }')" "$gflops" "$ceil" "$P" "$best"
  printf '  floor              %.4f s per epoch (epoch GEMM FLOPs / %d / fastest sgemm sample at batch %s; at the median rate %.4f s)\n' "$floor" "$P" "$lb" "$floor_med"
  printf '  ratio to floor     %sx (fraction of the BLAS floor %.3f)\n' "$ratio" "$(awk -v r="$ratio" 'BEGIN { print 1 / r }')"
  printf '  comm share         %.1f%% of the step (gradient reduction + parameter gathering, not overlapped with compute)\n' "$(awk -v x="$red_share" 'BEGIN { print 100 * x }')"
  printf '  efficiency vs 1    %s\n' "$eff"
  printf '  memory             peak resident %s MB on the largest rank; job %s MB (sum of proportional set sizes, x%s of 1 rank)\n' "$mem_rank" "$mem_all" "$memx"
  if [[ $P -gt 1 ]]; then
    sed -n 's/^bench allreduce fit: /  allreduce fit      /p' "$bl"
    sed -n 's/^bench step collectives /  step collectives   /p' "$bl"
  fi
  if [[ $P -eq ${rank_list[0]} ]]; then
    # from the first rank count's GEMM timings (1 rank: one rank per host, alone)
    echo "  projection (GEMM times of this run; network as stated):"
    grep '^bench projection' "$bl" | sed 's/^bench projection: /    /'
  fi
  echo "BENCH model=$model layers=$layers ranks=$P batch=$batch local_batch=$lb sec_per_epoch=$sec samples_per_s=$sps gemm_flop_per_epoch=$flop gflops=$gflops sgemm_gflops_per_rank=$ceil floor_s=$floor ratio_to_floor=$ratio comm_share=$red_share efficiency=$eff mem_rank_mb=$mem_rank mem_job_mb=$mem_all mem_vs_1rank=$memx"
done
