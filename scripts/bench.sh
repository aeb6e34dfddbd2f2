#!/usr/bin/env bash
# The training benchmark (not a test): builds a Release binary, trains the
# standard workload at each rank count and precision, and compares the time per
# epoch with the floors that `dtrain bench` measures in the same run.
#
#   scripts/bench.sh [--ranks 1,2] [--precisions fp32,bf16]
#                    [--model standard|wide|tiny|LAYERS] [--batch-size 128]
#                    [--data FILE.h5] [--epochs 3] [--warmup 1]
#                    [--train-args "MORE TRAIN OPTIONS"]
#
# Models: standard 256:relu,128:relu; wide 1024:relu,1024:relu; tiny 32:relu; or
# any --layers text.  Every run is softmax + Adam at --lr 0.01 (the workload's
# rate since it was set up; --train-args "--lr X" replaces it).  --precisions: the `train
# --precision` values to run at each rank count (bf16: GEMM inputs rounded to
# bf16, fp32 accumulation; fp32 is train's default and passes no option).  One
# warm-up epoch, then the timed epochs; times are the median over the timed
# epochs of `train --profile`'s per-epoch training time (evaluation excluded).
# Environment: BUILD_DIR (build-release), BUILD_TYPE (Release), MPIRUN_ARGS
# (extra mpirun options), BENCH_TIMEOUT (seconds per mpirun, 1800), NO_BUILD=1
# to use BUILD_DIR as is.
#
# Per rank count it prints what `dtrain bench` measured with all ranks running
# at once: the core's fp32 FMA peak (our kernel; the slowest rank's fastest
# sample), the compute engine's GEMM rate on the step's per-rank shapes in
# fp32 and bf16, and the peak floor, epoch GEMM FLOPs / P / peak.  Then per
# precision: seconds per epoch, samples/s, GEMM FLOP per epoch and the
# achieved GFLOP/s, the ratio of the time per epoch to the peak floor, the
# engine's floor (epoch GEMM FLOPs / P at the engine's fastest sample in that
# precision: an unloaded machine's rate, so that ratio errs against us) and
# the ratio to it, the final test accuracy after the warm-up + timed epochs,
# the share of the step spent communicating (gradient reduction and parameter
# gathering; none of it overlaps compute), parallel efficiency against 1 rank
# (same precision), peak memory; then one line
#   BENCH model=... ranks=P precision=... sec_per_epoch=... ratio_to_peak_floor=...
#         ratio_to_engine_floor=... test_accuracy=... ...
# The peak is of fp32 FMAs: bf16 runs on AVX512_BF16 dot products (two
# products per lane) and may come below it (ratio < 1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ranks=1,2 precisions=fp32,bf16 model=standard batch=128 data=datasets/fashion-mnist.h5 epochs=3
warmup=1 train_args=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --precisions) precisions=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --batch-size) batch=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --train-args) train_args=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
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
IFS=, read -ra prec_list <<<"$precisions"
for prec in "${prec_list[@]}"; do
  [[ $prec == fp32 || $prec == bf16 ]] ||
    { echo "bench.sh: --precisions: '$prec' is not fp32 or bf16" >&2; exit 2; }
done

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

# The workload's learning rate, unless the extra train options give one.
lr_arg=(--lr 0.01)
[[ " $train_args" =~ \ --lr([ =]|$) ]] && lr_arg=()

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "workload: $data, --layers $layers --output softmax --optimizer adam ${lr_arg[*]:+${lr_arg[*]} }--batch-size $batch${train_args:+ $train_args}, $warmup warm-up + $epochs timed epochs; precisions $precisions"

# per precision: samples/s and job memory at 1 rank
declare -A sps1 mem1
IFS=, read -ra rank_list <<<"$ranks"
for P in "${rank_list[@]}"; do
  bl=""
  for prec in "${prec_list[@]}"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    tl=$LOG/train$P-$prec
    prec_arg=()
    [[ $prec == fp32 ]] || prec_arg=(--precision "$prec")
    # shellcheck disable=SC2086
    run "$P" "$tl" train --data "$data" --layers "$layers" --output softmax \
      --optimizer adam "${lr_arg[@]}" --batch-size "$batch" --epochs $((warmup + epochs)) --profile \
      "${prec_arg[@]}" $train_args
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
    # the held-out accuracy after all warmup + epochs epochs (n/a without a test group)
    acc=$(sed -n 's/^final: test_loss [^ ]*  test_accuracy \([0-9.]*\).*/\1/p' "$tl" | head -1)
    acc=${acc:-n/a}
    # peak RSS of the largest rank; the job's memory as the sum of the ranks'
    # proportional set sizes (the node-shared data counted once, not per rank)
    mem_rank=$(sed -n 's/^profile memory: peak resident \([0-9.]*\) MB on the largest rank.*/\1/p' "$tl")
    mem_all=$(sed -n 's/^profile memory: .*proportional set size at the end \([0-9.]*\) MB in all.*/\1/p' "$tl")

    if [[ -z $bl ]]; then
      # the ceilings at this rank count, once for all precisions, on the
      # shapes the first training run reported
      bl=$LOG/bench$P
      run "$P" "$bl" bench --layers "$layers" --batch-size "$batch" --inputs "$d" \
        --outputs "$k" --samples "$n"
      gemm=$(grep '^BENCH_GEMM' "$bl")
      flop=$(field "$gemm" epoch_flop)
      lb=$(field "$gemm" local_batch)
      peak=$(field "$gemm" peak_gflops)
      peak_isa=$(field "$gemm" peak_isa)
      bf16_support=$(field "$gemm" bf16_support)
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
      sps1[$prec]=$sps mem1[$prec]=$mem_all
    fi
    eff=n/a memx=n/a
    [[ -n ${sps1[$prec]:-} ]] && eff=$(awk -v a="$sps" -v b="${sps1[$prec]}" -v p="$P" 'BEGIN { printf "%.3f", a / (p * b) }')
    [[ -n ${mem1[$prec]:-} ]] && memx=$(awk -v a="$mem_all" -v b="${mem1[$prec]}" 'BEGIN { printf "%.2f", a / b }')

    echo "  -- $prec (load average before: $load)"
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
    printf '  efficiency vs 1    %s\n' "$eff"
    printf '  memory             peak resident %s MB on the largest rank; job %s MB (sum of proportional set sizes, x%s of 1 rank)\n' "$mem_rank" "$mem_all" "$memx"
    echo "BENCH model=$model layers=$layers ranks=$P precision=$prec batch=$batch local_batch=$lb sec_per_epoch=$sec samples_per_s=$sps gemm_flop_per_epoch=$flop gflops=$gflops peak_gflops=$peak peak_isa=$peak_isa peak_floor_s=$floor_peak ratio_to_peak_floor=$ratio_peak engine_gflops_per_rank=${eng_med[$prec]} engine_best_gflops_per_rank=$best engine_floor_s=$floor ratio_to_engine_floor=$ratio test_accuracy=$acc epochs=$((warmup + epochs)) comm_share=$red_share efficiency=$eff mem_rank_mb=$mem_rank mem_job_mb=$mem_all mem_vs_1rank=$memx"
  done
done
