/* dtrain: the benchmark of `dtrain bench` (src/bench.c): the CPU's name,
 * the core's FMA peak and streaming bandwidth, the GEMMs of one training
 * step of an MLP, the allreduce fitted to a latency-bandwidth model, and a
 * projection of the epoch time to more ranks.
 * The formulas are in src/bench.c's opening comment. */
#ifndef DTRAIN_BENCH_H
#define DTRAIN_BENCH_H

#include <stdint.h>

#include "dtrain/comm.h"
#include "dtrain/matmul.h"
#include "dtrain/model.h"
#include "dtrain/status.h"

/* What to measure. */
typedef struct {
    int64_t inputs, outputs;      /* the model's widths in and out */
    const dt_layer_spec *layers;  /* n_layers hidden layers (width, activation) */
    int n_layers;
    int64_t batch_size;           /* the global batch B */
    int64_t samples;              /* per epoch, N */
    int64_t threads;              /* engine threads per rank */
    double latency_us;            /* the projection's allreduce latency alpha */
    dt_denormals denormals;       /* the floating-point environment measured in (named in
                                     the lines; the caller sets it: matmul_fpenv_enter) */
} bench_options;

#define BENCH_N_PROJ 6 /* projections: {10, 100} Gbit/s x {8, 64, 512} ranks */

/* One projected configuration (a BENCH_PROJ line). */
typedef struct {
    double gbit;            /* link speed, Gbit/s */
    int ranks, local_batch;
    double allreduce_s, epoch_s;
    double efficiency;      /* T(1) / (P T(P)) */
    double weak_efficiency; /* at local batch B on each rank */
} bench_projection;

/* The figures of the BENCH_ lines, the same on every rank.  Times in
 * seconds per step (per allreduce), rates in GFLOP/s; NaN where not
 * measured (the allreduce at 1 rank, bf16 where the engine lacks it, the
 * streaming bandwidth where its arrays could not be allocated). */
typedef struct {
    int ranks, local_batch;
    int64_t n_params;
    double flop_per_sample, epoch_flop;
    double peak_gflops;     /* 0 without a vector FMA kernel */
    char peak_isa[32];
    double floor_peak_s;    /* an epoch's GEMM FLOPs / P / peak; 0 without a peak */
    double step_s, gflops, best_gflops, floor_s; /* fp32 GEMM */
    int bf16_support;       /* matmul_bf16_support(): 0 none, 1 emulated, 2 native */
    double bf16_step_s, bf16_gflops, bf16_best_gflops;
    char engine[128];
    char fp32_impl[128], bf16_impl[128]; /* the engine's implementations of the step's
                                            products (matmul_impl), distinct ones joined by
                                            ","; bf16: "" where not timed */
    char cpu[128];          /* peak_cpu_model */
    double copy_GBps, triad_GBps; /* streaming bandwidth per rank (1e9 B/s), all ranks at
                                     once: the slowest rank's fastest pass (peak.h); NaN
                                     if its arrays could not be allocated */
    double stream_array_bytes;    /* the size of each of a rank's three arrays (tried, when
                                     not measured): peak_stream_array_bytes for the node */
    char denormals[8];      /* "flush" or "keep" (bench_options.denormals) */
    double alpha_us, bw_GBps, grad_bytes, grad_allreduce_s; /* the allreduce fit */
    double node_s, mpi_s;   /* the sharded update's collectives; -1 if unavailable */
    bench_projection proj[BENCH_N_PROJ];
} bench_figures;

/* Measure on every rank of comm and log the lines of `dtrain bench`
 * (dt_info, dt_warn) into f.  Collective; agreed. */
dt_status bench_measure(const bench_options *o, dt_comm *comm, bench_figures *f,
                        dt_error *err);

#endif
