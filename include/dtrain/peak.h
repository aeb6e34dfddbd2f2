/* dtrain: the core's fp32 multiply-add peak, measured with a kernel of ours.
 *
 * The kernel is PEAK_CHAINS independent chains, each a vector of lanes floats:
 *
 *     acc_c <- acc_c * mul + add        c = 0 .. PEAK_CHAINS - 1, every iteration
 *
 * one fused multiply-add instruction per chain (2 FLOP per lane).  With more
 * chains than the FMA latency times the FMA units, the loop is bound by the
 * FMA units' throughput alone: the highest fp32 rate one core can reach, the
 * ceiling any GEMM is measured against.
 *
 * The instruction set is chosen at run time (the binary is built for the
 * baseline x86-64): AVX-512F (16 lanes) where the CPU and the OS have it, else
 * AVX2 + FMA (8 lanes), else none.  PEAK_ISA_SCALAR is plain C, as the
 * compiler makes it (one multiply and one add per chain): a reference for the
 * tests, not a peak. */
#ifndef DTRAIN_PEAK_H
#define DTRAIN_PEAK_H

#include <stdint.h>

#include "dtrain/status.h"

#define PEAK_CHAINS 12

typedef enum { PEAK_ISA_NONE, PEAK_ISA_SCALAR, PEAK_ISA_AVX2_FMA, PEAK_ISA_AVX512F } peak_isa;

/* "none", "scalar", "avx2_fma", "avx512f". */
const char *peak_isa_name(peak_isa isa);
/* 1 if this CPU can run isa's kernel (scalar: always; none: never). */
int peak_isa_supported(peak_isa isa);
/* The widest supported vector ISA: AVX512F, else AVX2_FMA, else NONE. */
peak_isa peak_best_isa(void);

/* Run the kernel iters times, the lanes of chain c starting at start + c
 * (distinct chains: identical ones would let the compiler merge them into
 * one).  Returns the sum over chains and lanes of the final accumulators (in
 * double, so the work is consumed and cannot be optimised away) and sets
 * *flop to the FLOPs done: 2 * iters * PEAK_CHAINS * lanes.  With mul 1 and
 * add 1, every lane of chain c ends at start + c + iters (exact while below
 * 2^24).  isa must be supported (else returns 0 with *flop 0). */
double peak_kernel(peak_isa isa, int64_t iters, float start, float mul, float add,
                   double *flop);

typedef struct {
    peak_isa isa;
    double gflops;      /* fastest sample: GFLOP/s (1e9 FLOP/s) on this core */
    double median_gflops;
    int samples;
    double sample_s;    /* seconds each sample lasted, about */
} peak_result;

/* Time isa's kernel: samples samples (1 .. 1000) of about sample_s seconds
 * (1e-4 .. 10) each, after a warm-up that lets the clock settle.  Other work
 * on the core can only slow a sample down, so the fastest one is the peak.
 * DT_EUSAGE if isa is not supported here or the arguments are out of range. */
dt_status peak_measure(peak_isa isa, int samples, double sample_s, peak_result *out,
                       dt_error *err);

#endif
