/* dtrain: the ceilings a training run is measured against (bench.h;
 * `dtrain bench`, scripts/bench.sh).
 *
 *  1. Peak: the core's fp32 multiply-add rate, our own kernel (peak.h), run by
 *     every rank at once as in training, so it is what each of P ranks
 *     sharing this machine can reach; the slowest rank's fastest sample.
 *     Beside it the streaming bandwidth: copy and triad over arrays beyond the
 *     last-level cache (peak.h), every rank at once, each pass started
 *     together (a barrier), per pass the slowest rank, the fastest pass: the
 *     memory rate each of P ranks gets, which the optimizer's update, a pass
 *     over the parameters, the gradient and the optimizer's state, is
 *     measured against.  The arrays are sized for the node, whose ranks
 *     share its last-level cache and its memory (peak_stream_array_bytes);
 *     where they cannot be allocated on some rank, the bandwidth is reported
 *     as not measured and the benchmark goes on.
 *  2. GEMM: the matrix products of one training step of the MLP --inputs,
 *     --layers, --outputs at a local batch b, run as the engine's plans with
 *     the shapes and flags of src/model.c, for layer l (n_in n, n_out m):
 *         forward      C (b,m)  = act(A (b,n) * W (m,n)^T + bias)  2bnm FLOP
 *         weight grad  dW (m,n) = dZ (b,m)^T * X (b,n)             2bnm FLOP
 *         input grad   dX (b,n) = dZ (b,m) * W (m,n)               2bnm FLOP, not layer 0
 *     (act: the layer's, where the engine fuses it; identity for the output
 *     layer), in fp32 and, where the engine has it, bf16 (operands rounded to
 *     bf16, fp32 accumulation: the products of `train --precision bf16`, not
 *     its conversions).  Every rank times its own products at the same time;
 *     the slowest rank's median is reported, and its fastest sample.
 *     The floor of an epoch is its GEMM FLOPs / P / peak: no engine can beat
 *     it in fp32 (bf16 dot-product instructions, 2 products per lane, can).
 *  3. Allreduce: comm_allreduce_sum_f32 at 1 KB .. 16 MB, fitted to
 *         t(n) = 2 log2(P) alpha + 2 (P-1)/P n beta     (n bytes)
 *     (reduce-scatter + allgather: the bandwidth term of a ring, the latency
 *     term of recursive halving/doubling, which MPI libraries use at large P).
 *  4. Projection of the epoch time to 8, 64 and 512 ranks at 10 and 100 Gbit/s
 *     from the fp32 GEMM times and the allreduce: compute is the GEMM time
 *     only, so these are upper bounds on the efficiency.
 *
 * The log receives readable lines and, for scripts, lines starting "BENCH_";
 * the same figures are kept in a bench_figures. */
#include "dtrain/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/comm.h"
#include "dtrain/matmul.h"
#include "dtrain/model.h"
#include "dtrain/peak.h"
#include "dtrain/testhooks.h"

#define N_SAMPLES 15         /* timed samples per measurement; the median is kept */
#define MIN_SAMPLE_S 4e-3    /* repeat the operation until one sample lasts this long */
#define N_SIZES 8            /* allreduce message sizes: 1 KB * 4^i */
#define AR_MAX ((size_t)256 << (2 * (N_SIZES - 1))) /* floats in the largest: 16 MB */
/* The peak kernel: many short samples per rank, the fastest being the likeliest
 * to have found the core unshared. */
#define PEAK_SAMPLES 30
#define PEAK_SAMPLE_S 5e-3   /* seconds per sample */
#define STREAM_SAMPLES 10    /* passes of each streaming kernel */

/* The layers and the operands of their products.  The operands are shared by
 * all layers, sized for the largest layer at the largest local batch: the
 * timing depends on the shapes, not on the values (nothing is fed back). */
typedef struct {
    int n_layers; /* including the output layer */
    int n_in[DT_MAX_LAYERS], n_out[DT_MAX_LAYERS];
    dt_act act[DT_MAX_LAYERS]; /* fused into the forward; identity for the output layer */
    /* the GEMM inputs X (b, n_in) | dZ (b, n_out) | W (n_out, n_in), one block
     * in fp32 and the same block rounded to bf16 (NULL without bf16) */
    float *in;
    dt_bf16 *in16;
    size_t x_at, dz_at, w_at, n_in_all;
    float *C, *dW, *dX, *bias; /* outputs (fp32 in both precisions) and the bias */
} gemm_model;

/* The projections' rank counts (the first is the one-rank baseline). */
static const int proj_P[] = {1, 8, 64, 512};
enum { N_PROJ = sizeof proj_P / sizeof proj_P[0] };
_Static_assert(BENCH_N_PROJ == 2 * (N_PROJ - 1), "two link speeds times the projected rank counts");

/* One step's plans at local batch b in one precision; see src/model.c. */
typedef struct {
    dt_precision prec;
    matmul_plan *fwd[DT_MAX_LAYERS], *dw[DT_MAX_LAYERS], *dx[DT_MAX_LAYERS];
} step_plans;

/* GEMM FLOPs of one training step per sample (see the header comment). */
static double flop_per_sample(const gemm_model *g)
{
    double f = 0;
    for (int l = 0; l < g->n_layers; l++)
        f += (l == 0 ? 4.0 : 6.0) * g->n_in[l] * g->n_out[l];
    return f;
}

static void plans_free(step_plans *sp)
{
    for (int l = 0; l < DT_MAX_LAYERS; l++) {
        matmul_free(sp->fwd[l]);
        matmul_free(sp->dw[l]);
        matmul_free(sp->dx[l]);
    }
    memset(sp, 0, sizeof *sp);
}

/* The plans of model.c's layer_plans at b rows (the weight gradient
 * overwriting, as in the first batch of a step). */
static dt_status plans_create(const gemm_model *g, dt_precision prec, int b, step_plans *sp,
                              dt_error *err)
{
    memset(sp, 0, sizeof *sp);
    sp->prec = prec;
    const dt_act id = {ACT_IDENTITY, 0.0f};
    dt_status st = DT_OK;
    for (int l = 0; l < g->n_layers && !st; l++) {
        const int n_in = g->n_in[l], n_out = g->n_out[l];
        matmul_shape f = {.m = b, .n = n_out, .k = n_in, .trans_b = 1, .lda = n_in,
                          .ldb = n_in, .ldc = n_out, .prec = prec, .bias = 1, .act = g->act[l]};
        matmul_shape w = {.m = n_out, .n = n_in, .k = b, .trans_a = 1, .lda = n_out,
                          .ldb = n_in, .ldc = n_in, .prec = prec, .act = id};
        matmul_shape x = {.m = b, .n = n_in, .k = n_out, .lda = n_out, .ldb = n_in,
                          .ldc = n_in, .prec = prec, .act = id};
        if (!(st = matmul_create(&sp->fwd[l], &f, err)) &&
            !(st = matmul_create(&sp->dw[l], &w, err)) && l > 0)
            st = matmul_create(&sp->dx[l], &x, err);
    }
    if (st)
        plans_free(sp);
    return st;
}

/* The engine's implementations of the plans, in the step's order, each
 * once, joined by "," (rank 0's: every rank runs the same binary on the
 * same CPU model). */
static void plans_impl(const gemm_model *g, const step_plans *sp, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int l = 0; l < g->n_layers; l++) {
        const matmul_plan *p[3] = {sp->fwd[l], sp->dw[l], sp->dx[l]};
        for (int i = 0; i < 3; i++) {
            if (!p[i])
                continue;
            const char *name = matmul_impl(p[i]);
            const char *seen = strstr(out, name);
            const size_t k = strlen(name);
            if (seen && (seen == out || seen[-1] == ',') && (seen[k] == ',' || !seen[k]))
                continue;
            if (len + 1 >= size)
                return;
            const int w = snprintf(out + len, size - len, "%s%s", len ? "," : "", name);
            len += (size_t)w < size - len ? (size_t)w : size - len - 1;
        }
    }
}

/* The GEMM input at offset `at` of the operand block, in the plans' precision. */
static const void *operand(const gemm_model *g, const step_plans *sp, size_t at)
{
    return sp->prec == PREC_BF16 ? (const void *)(g->in16 + at) : (const void *)(g->in + at);
}

/* One step's products, in model.c's order. */
static void gemm_step(gemm_model *g, const step_plans *sp)
{
    const void *X = operand(g, sp, g->x_at), *dZ = operand(g, sp, g->dz_at),
               *W = operand(g, sp, g->w_at);
    for (int l = 0; l < g->n_layers; l++)
        matmul_run(sp->fwd[l], X, W, g->bias, g->C);
    for (int l = g->n_layers - 1; l >= 0; l--) {
        matmul_run(sp->dw[l], dZ, X, NULL, g->dW);
        if (l > 0)
            matmul_run(sp->dx[l], dZ, W, NULL, g->dX);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* How often to repeat an operation that took `once` seconds so that one
 * timed sample lasts MIN_SAMPLE_S. */
static int reps_for(double once)
{
    return once >= MIN_SAMPLE_S ? 1 : (int)(MIN_SAMPLE_S / (once > 1e-7 ? once : 1e-7)) + 1;
}

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

/* Seconds per step at local batch b in precision prec (collective): median of
 * N_SAMPLES, each long enough to time; the slowest rank's median.  *best: the
 * slowest rank's fastest sample (the rate of an unloaded machine, when others
 * share it). */
static dt_status time_gemm(dt_comm *c, gemm_model *g, dt_precision prec, int b, double *med,
                           double *best, char *impl, size_t impl_size, dt_error *err)
{
    step_plans sp;
    dt_status st = comm_agree(c, plans_create(g, prec, b, &sp, err), err);
    if (st) {
        plans_free(&sp); /* a rank whose plans were made, when another's failed */
        return st;
    }
    if (impl)
        plans_impl(g, &sp, impl, impl_size);
    gemm_step(g, &sp); /* warm caches and the engine's scratch */
    double t0 = comm_wtime();
    gemm_step(g, &sp);
    double once = comm_wtime() - t0;
    const int reps = reps_for(once);
    double s[N_SAMPLES];
    comm_barrier(c);
    for (int i = 0; i < N_SAMPLES; i++) {
        t0 = comm_wtime();
        for (int r = 0; r < reps; r++)
            gemm_step(g, &sp);
        s[i] = (comm_wtime() - t0) / reps;
    }
    const double med_s = median(s, N_SAMPLES); /* sorts s */
    double t[2] = {med_s, s[0]};
    comm_allreduce_max_f64(c, t, 2);
    *med = t[0];
    if (best)
        *best = t[1];
    plans_free(&sp);
    return DT_OK;
}

/* The FMA peak of the widest ISA every rank has, all ranks measuring at once
 * (collective): the slowest rank's fastest sample and its median in r.
 * r->isa is PEAK_ISA_NONE (gflops 0) where no rank has a vector kernel. */
static dt_status measure_peak(dt_comm *c, peak_result *r, dt_error *err)
{
    int64_t isa = -(int64_t)peak_best_isa(); /* max of the negated: the narrowest */
    comm_allreduce_max_i64(c, &isa, 1);
    memset(r, 0, sizeof *r);
    r->isa = (peak_isa)-isa;
    if (r->isa == PEAK_ISA_NONE)
        return DT_OK;
    comm_barrier(c);
    dt_status st = comm_agree(c, peak_measure(r->isa, PEAK_SAMPLES, PEAK_SAMPLE_S, r, err), err);
    if (st)
        return st;
    double v[2] = {r->gflops, r->median_gflops};
    comm_allreduce_min_f64(c, v, 2);
    r->gflops = v[0];
    r->median_gflops = v[1];
    return DT_OK;
}

/* A text as one token for a BENCH_ line, spaces as '_', without
 * parentheses: "oneDNN 2.7.3 (avx512_core_bf16)" ->
 * "oneDNN_2.7.3_avx512_core_bf16"; "" -> "none". */
static void to_token(char *out, size_t size, const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < size; p++)
        if (*p != '(' && *p != ')')
            out[n++] = *p == ' ' ? '_' : *p;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "none");
}

/* Seconds per allreduce of n floats: per sample the slowest rank, then the
 * median over samples.  The repeat count is agreed so that every rank makes
 * the same calls. */
static double time_allreduce(dt_comm *c, float *buf, size_t n)
{
    for (int i = 0; i < 3; i++)
        comm_allreduce_sum_f32(c, buf, n);
    comm_barrier(c);
    double t0 = comm_wtime();
    comm_allreduce_sum_f32(c, buf, n);
    double once = comm_wtime() - t0;
    comm_allreduce_max_f64(c, &once, 1);
    const int reps = reps_for(once);
    double s[N_SAMPLES];
    for (int i = 0; i < N_SAMPLES; i++) {
        comm_barrier(c);
        t0 = comm_wtime();
        for (int r = 0; r < reps; r++)
            comm_allreduce_sum_f32(c, buf, n);
        s[i] = (comm_wtime() - t0) / reps;
    }
    comm_allreduce_max_f64(c, s, N_SAMPLES);
    return median(s, N_SAMPLES);
}

/* Seconds per step of the sharded update's collectives on n floats
 * (reduce-scatter of the gradient, allgather of the parameters), by
 * --reduction node (node_shared) or mpi: per sample the slowest rank, then
 * the median over samples.  -1 if the collectives could not be set up. */
static double time_sharded(dt_comm *c, size_t n, int node_shared)
{
    dt_shards *s = comm_shards_create(c, n, node_shared, 0);
    if (!s)
        return -1.0;
    size_t lo, hi;
    comm_shards_range(s, &lo, &hi);
    float *grads = comm_shards_grads(s), *own = NULL;
    if (!grads)
        grads = own = calloc(n ? n : 1, sizeof *grads);
    float *params = calloc(n ? n : 1, sizeof *params), *mine = calloc(hi - lo + 1, sizeof *mine);
    double med = -1.0;
    int64_t bad = !grads || !params || !mine; /* agreed: the loop is collective */
    comm_allreduce_max_i64(c, &bad, 1);
    if (node_shared && !comm_shards_node_mode(s))
        bad = 1; /* fell back to mpi: not what was asked to be timed */
    if (!bad) {
        memset(grads, 0, n * sizeof *grads); /* the window's memory is not zeroed */
        double s_[N_SAMPLES];
        for (int i = 0; i < N_SAMPLES; i++) {
            comm_barrier(c);
            double t0 = comm_wtime();
            for (int r = 0; r < 10; r++) {
                comm_reduce_scatter_sum_f32(s, grads, mine);
                comm_allgather_shards_f32(s, params);
            }
            s_[i] = (comm_wtime() - t0) / 10;
        }
        comm_allreduce_max_f64(c, s_, N_SAMPLES);
        med = median(s_, N_SAMPLES);
    }
    free(own);
    free(params);
    free(mine);
    comm_shards_free(s);
    return med;
}

/* Weighted least squares for t = a + c n with weights 1/t^2 (relative errors,
 * so the small messages fix the latency and the large ones the bandwidth). */
static void fit_line(const double *n, const double *t, int k, double *a, double *c)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < k; i++) {
        double w = 1.0 / (t[i] * t[i]);
        sw += w;
        sx += w * n[i];
        sy += w * t[i];
        sxx += w * n[i] * n[i];
        sxy += w * n[i] * t[i];
    }
    double det = sw * sxx - sx * sx;
    *c = (sw * sxy - sx * sy) / det;
    *a = (sy - *c * sx) / sw;
}

static int ceil_div(int64_t a, int64_t b) { return (int)((a + b - 1) / b); }

/* Allreduce time of `bytes` at P ranks, latency alpha (s), bandwidth bw (bytes/s). */
static double t_allreduce(int P, double bytes, double alpha, double bw)
{
    return P <= 1 ? 0.0 : 2.0 * log2((double)P) * alpha + 2.0 * (P - 1) / P * bytes / bw;
}

/* The layers' shapes and fused activations into g, from --inputs, --layers
 * (spec, nh hidden) and --outputs; the parameter count and the largest
 * weight matrix, input and output width, which size the scratch buffers. */
static void model_shapes(gemm_model *g, const bench_options *cfg, const dt_layer_spec *spec,
                         int nh, size_t *n_params, size_t *most_w, size_t *most_in,
                         size_t *most_out)
{
    const dt_act id = {ACT_IDENTITY, 0.0f};
    *n_params = *most_w = *most_in = *most_out = 0;
    for (int l = 0; l <= nh; l++) {
        g->n_in[l] = l == 0 ? (int)cfg->inputs : spec[l - 1].width;
        g->n_out[l] = l == nh ? (int)cfg->outputs : spec[l].width;
        g->act[l] = l < nh && matmul_fuses(spec[l].act) ? spec[l].act : id;
        size_t w = (size_t)g->n_in[l] * (size_t)g->n_out[l];
        *n_params += w + (size_t)g->n_out[l];
        *most_w = w > *most_w ? w : *most_w;
        *most_in = (size_t)g->n_in[l] > *most_in ? (size_t)g->n_in[l] : *most_in;
        *most_out = (size_t)g->n_out[l] > *most_out ? (size_t)g->n_out[l] : *most_out;
    }
    g->n_layers = nh + 1;
}

/* Time comm_allreduce_sum_f32 from 1 KB to 16 MB (buf holds 16 MB), fit the
 * model of the header comment, and time the sharded update's own collectives
 * on an n_params gradient both ways.  P > 1; collective. */
static void bench_allreduce(dt_comm *world, float *buf, size_t n_params, bench_figures *fig)
{
    const int P = comm_size(world);
    const double grad_bytes = 4.0 * (double)n_params;
    double nb[N_SIZES], tm[N_SIZES];
    for (int i = 0; i < N_SIZES; i++) {
        size_t n = (size_t)256 << (2 * i);
        nb[i] = 4.0 * (double)n;
        tm[i] = time_allreduce(world, buf, n);
        dt_info("bench allreduce: %9.0f bytes  %10.2f us  %8.3f GB/s algorithmic", nb[i],
                tm[i] * 1e6, nb[i] / tm[i] * 1e-9);
    }
    double a, c;
    fit_line(nb, tm, N_SIZES, &a, &c);
    /* noise can push a sub-microsecond latency below zero */
    double fit_alpha = a > 0 ? a / (2.0 * log2((double)P)) : 0.0;
    double fit_beta = c * P / (2.0 * (P - 1));
    double pred = a + c * grad_bytes;
    dt_info("bench allreduce fit: t(n) = 2 log2(P) alpha + 2(P-1)/P n beta, weights "
            "1/t^2: alpha %.2f us, 1/beta %.3f GB/s; the %.0f-byte gradient: %.1f us",
            fit_alpha * 1e6, 1e-9 / fit_beta, grad_bytes, pred * 1e6);
    fig->alpha_us = fit_alpha * 1e6;
    fig->bw_GBps = 1e-9 / fit_beta;
    fig->grad_allreduce_s = pred;
    dt_info("BENCH_ALLREDUCE ranks=%d alpha_us=%.4f bw_GBps=%.4f grad_bytes=%.0f "
            "grad_allreduce_s=%.6g",
            P, fit_alpha * 1e6, 1e-9 / fit_beta, grad_bytes, pred);
    /* what a training step actually runs: the sharded update's collectives */
    double t_node = time_sharded(world, n_params, 1), t_mpi = time_sharded(world, n_params, 0);
    char node_txt[64] = "not available", mpi_txt[64] = "not available";
    if (t_node >= 0)
        snprintf(node_txt, sizeof node_txt, "%.1f us", t_node * 1e6);
    if (t_mpi >= 0)
        snprintf(mpi_txt, sizeof mpi_txt, "%.1f us", t_mpi * 1e6);
    dt_info("bench step collectives (reduce-scatter of the %.0f-byte gradient + allgather "
            "of the parameters): --reduction node %s, --reduction mpi %s per step",
            grad_bytes, node_txt, mpi_txt);
    dt_info("BENCH_COLLECTIVES ranks=%d node_s=%.6g mpi_s=%.6g", P, t_node, t_mpi);
    fig->node_s = t_node;
    fig->mpi_s = t_mpi;
}

/* Project the epoch of N samples at global batch B to proj_P[1..] ranks at 10
 * and 100 Gbit/s from the GEMM times t_proj[i] at local batches b_proj[i]
 * (proj_P[0] = 1) and the allreduce model (latency alpha s). */
static void report_projection(int64_t N, int64_t B, double grad_bytes, double alpha,
                              const int *b_proj, const double *t_proj, bench_projection *row)
{
    const int64_t steps = (N + B - 1) / B;
    dt_info("bench projection: epoch of %lld samples, global batch %lld (%lld steps); "
            "T(P) = steps * (T_gemm(ceil(B/P)) + T_allreduce(P)), "
            "T_allreduce(P) = 2 log2(P) alpha + 2(P-1)/P * %.0f bytes / bw, alpha %.1f us "
            "(--latency-us); efficiency E(P) = T(1) / (P T(P)); T_gemm the fp32 "
            "GEMM time measured above (update, activations and data excluded, so E is an upper bound; "
            "above P = B ranks sit idle)",
            (long long)N, (long long)B, (long long)steps, grad_bytes, alpha * 1e6);
    static const double gbit[] = {10, 100};
    const double T1 = (double)steps * t_proj[0];
    for (size_t k = 0; k < sizeof gbit / sizeof gbit[0]; k++) {
        double bw = gbit[k] * 1e9 / 8;
        for (int i = 1; i < N_PROJ; i++) {
            int p = proj_P[i];
            double tar = t_allreduce(p, grad_bytes, alpha, bw);
            double T = (double)steps * (t_proj[i] + tar);
            double E = T1 / (p * T);
            /* the same ranks at local batch B each (global batch B*P): */
            double Ew = t_proj[0] / (t_proj[0] + tar);
            dt_info("bench projection: %3.0f Gbit/s  P %3d  local batch %3d  allreduce %8.1f "
                    "us  epoch %8.4f s  efficiency %5.1f%%  (at local batch %lld: %5.1f%%)",
                    gbit[k], p, b_proj[i], tar * 1e6, T, 100 * E, (long long)B, 100 * Ew);
            *row++ = (bench_projection){gbit[k], p, b_proj[i], tar, T, E, Ew};
            dt_info("BENCH_PROJ gbit=%.0f ranks=%d local_batch=%d allreduce_s=%.6g "
                    "epoch_s=%.6g efficiency=%.4f weak_efficiency=%.4f",
                    gbit[k], p, b_proj[i], tar, T, E, Ew);
        }
    }
}

/* What the steps of one benchmark share. */
typedef struct {
    const bench_options *cfg;
    bench_figures *fig;
    dt_comm *world;
    int P;
    int64_t B, N; /* the global batch and the samples per epoch */
    gemm_model g;
    size_t n_params, most_w, most_in, most_out; /* see model_shapes */
    float *buf;   /* the allreduce's message: 16 MB */
    int bf16;     /* every rank can time bf16 */
    int b_run;    /* this run's local batch: B over P ranks */
    double fps, epoch_flop;  /* GEMM FLOPs per sample per step, and per epoch */
    peak_result pk;
    double floor_peak;       /* s per epoch at the peak; 0 without one */
    double copy_GBps, triad_GBps, stream_bytes; /* see bench_figures; NaN rates: not
                                                   measured */
    char cpu[128];
    char impl[2][128];       /* per precision: see bench_figures */
    double t_run;            /* fp32 s per step at b_run */
    int b_proj[N_PROJ];      /* the projections' local batches: B over proj_P ranks */
    double t_proj[N_PROJ];   /* and their fp32 s per step */
} bench_run;

/* The operands, sized for the largest local batch timed (this run's or the
 * one-rank projection's, B), and the allreduce's message (collective). */
static dt_status alloc_operands(bench_run *r, dt_error *err)
{
    gemm_model *g = &r->g;
    const size_t bmax = (size_t)(r->b_run > (int)r->B ? r->b_run : (int)r->B);
    g->x_at = 0;
    g->dz_at = bmax * r->most_in;
    g->w_at = g->dz_at + bmax * r->most_out;
    g->n_in_all = g->w_at + r->most_w;
    g->in = malloc(g->n_in_all * sizeof(float));
    g->in16 = r->bf16 ? malloc(g->n_in_all * sizeof(dt_bf16)) : NULL;
    g->C = malloc(bmax * r->most_out * sizeof(float));
    g->dX = malloc(bmax * r->most_in * sizeof(float));
    g->dW = malloc(r->most_w * sizeof(float));
    g->bias = malloc(r->most_out * sizeof(float));
    r->buf = malloc(AR_MAX * sizeof(float));
    int ok = g->in && (g->in16 || !r->bf16) && g->C && g->dX && g->dW && g->bias && r->buf;
    dt_status st = comm_agree(r->world, ok ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory for the "
                                                "benchmark buffers"), err);
    if (st)
        return st;
    /* Small values keep the products far from overflow. */
    for (size_t i = 0; i < g->n_in_all; i++) g->in[i] = (float)(i % 7) * 1e-3f;
    for (size_t i = 0; i < r->most_out; i++) g->bias[i] = (float)(i % 5) * 1e-3f;
    for (size_t i = 0; i < AR_MAX; i++) r->buf[i] = 0.0f;
    return DT_OK;
}

/* With bf16: the operands rounded to it, and the engine's word on it
 * (collective). */
static dt_status operands_to_bf16(bench_run *r, dt_error *err)
{
    if (!r->bf16)
        return DT_OK;
    matmul_cvt *cvt = NULL;
    dt_status cs = matmul_cvt_create(&cvt, r->g.n_in_all, err);
    if (!cs)
        matmul_cvt_run(cvt, r->g.in16, r->g.in);
    matmul_cvt_free(cvt);
    dt_status st;
    const char *warning;
    if ((st = comm_agree(r->world, cs, err)) ||
        (st = comm_agree(r->world, matmul_check_precision(PREC_BF16, &warning, err), err)))
        return st;
    if (warning)
        dt_warn("bench: %s", warning);
    return DT_OK;
}

static void bench_free(bench_run *r)
{
    free(r->g.in);
    free(r->g.in16);
    free(r->g.C);
    free(r->g.dX);
    free(r->g.dW);
    free(r->g.bias);
    free(r->buf);
}

/* The model ("20-32-3"), its FLOPs and the run's ranks and threads. */
static void report_model(const bench_run *r)
{
    const gemm_model *g = &r->g;
    char arch[512];
    int len = snprintf(arch, sizeof arch, "%d", g->n_in[0]);
    for (int l = 0; l < g->n_layers && len < (int)sizeof arch; l++)
        len += snprintf(arch + len, sizeof arch - (size_t)len, "-%d", g->n_out[l]);
    dt_info("bench: model %s (%zu parameters), %.4g MFLOP of GEMM per sample per step, "
            "%.4g GFLOP per epoch of %lld samples; %d rank%s, %lld engine thread%s per rank "
            "(%s), denormals %s",
            arch, r->n_params, r->fps * 1e-6, r->epoch_flop * 1e-9, (long long)r->N, r->P,
            plural(r->P), (long long)r->cfg->threads, plural(r->cfg->threads),
            matmul_library_version(), denormals_names[r->cfg->denormals]);
    char brand[64];
    peak_cpu_brand(brand, sizeof brand);
    if (brand[0] && strcmp(brand, r->cpu))
        dt_info("bench cpu: %s (CPUID brand string: %s)", r->cpu, brand);
    else
        dt_info("bench cpu: %s", r->cpu);
}

/* 1. The core's FMA peak, and the floor it sets: the epoch's GEMM FLOPs
 * divided over P ranks at the peak (collective). */
static dt_status bench_peak(bench_run *r, dt_error *err)
{
    const peak_result *pk = &r->pk;
    dt_status st = measure_peak(r->world, &r->pk, err);
    if (st)
        return st;
    r->floor_peak = pk->gflops > 0 ? r->epoch_flop / r->P / (pk->gflops * 1e9) : 0.0;
    if (pk->isa == PEAK_ISA_NONE)
        dt_info("bench peak: no vector FMA kernel for this CPU (needs AVX2+FMA or AVX-512F); "
                "no peak floor");
    else
        dt_info("bench peak: %.2f GFLOP/s per rank, %s FMA, %d chains (the slowest rank's "
                "fastest of %d samples of %g s, all %d rank%s at once; its median %.2f)",
                pk->gflops, peak_isa_name(pk->isa), PEAK_CHAINS, PEAK_SAMPLES, PEAK_SAMPLE_S,
                r->P, plural(r->P), pk->median_gflops);
    return DT_OK;
}

static void barrier(void *c) { comm_barrier(c); }

/* The size of each streaming array in bytes, one for all ranks (collective):
 * the smallest any rank works out for its node, so that no node exceeds its
 * memory cap.  *per_node: the most ranks on one node; *capped: 1 if the cap
 * made the arrays smaller than the caches alone would.  Every rank reads the
 * available memory before any allocates (the allreduce orders them). */
static size_t stream_array_bytes(dt_comm *c, int *per_node, int *capped)
{
    const int R = comm_node_size(c, dt_hooks.ranks_per_node);
    const size_t llc = peak_llc_bytes();
    int64_t v[3] = {-(int64_t)peak_stream_array_bytes(llc, R, peak_avail_bytes()),
                    -(int64_t)peak_stream_array_bytes(llc, R, 0), R};
    comm_allreduce_max_i64(c, v, 3); /* the smallest sizes, the most ranks */
    *per_node = (int)v[2];
    *capped = v[0] > v[1];
    return (size_t)-v[0];
}

/* peak_arrays_alloc, which fails as out of memory on the rank the test hook
 * names. */
static dt_status stream_alloc(dt_comm *c, peak_arrays *x, size_t n, dt_error *err)
{
    if (dt_hooks.stream_oom_rank != comm_rank(c))
        return peak_arrays_alloc(x, n, err);
    memset(x, 0, sizeof *x);
    return peak_arrays_oom(n, err);
}

/* 1b. Copy and triad, all ranks at once (collective): per pass the slowest
 * rank's time, then the fastest pass, as GB/s per rank.  Out of memory on
 * any rank: the rates are NaN (not measured) on every rank, and DT_OK. */
static dt_status bench_stream(bench_run *r, dt_error *err)
{
    dt_comm *c = r->world;
    int per_node, capped;
    const size_t n = stream_array_bytes(c, &per_node, &capped) / sizeof(float);
    char node[96], layout[160];
    snprintf(node, sizeof node, "%d rank%s per node%s", per_node, plural(per_node),
             capped ? ", capped by the node's available memory" : "");
    snprintf(layout, sizeof layout, "3 arrays of %.4g MiB per rank, %s",
             (double)n * sizeof(float) / 1048576.0, node);
    r->stream_bytes = (double)n * sizeof(float);
    peak_arrays x;
    dt_status st = comm_agree(c, stream_alloc(c, &x, n, err), err);
    if (st) {
        peak_arrays_free(&x);
        if (st != DT_ENOMEM)
            return st;
        r->copy_GBps = r->triad_GBps = NAN;
        dt_warn("bench stream: the streaming bandwidth was not measured (%s on at least one "
                "rank, %s); the other figures do not need it",
                err->msg, node);
        return DT_OK;
    }
    double t[2 * STREAM_SAMPLES];
    st = comm_agree(c, peak_stream_time(&x, STREAM_SAMPLES, barrier, c, t, t + STREAM_SAMPLES,
                                        err), err);
    peak_arrays_free(&x);
    if (st)
        return st;
    comm_allreduce_max_f64(c, t, 2 * STREAM_SAMPLES);
    double med[2], *rate[2] = {&r->copy_GBps, &r->triad_GBps};
    for (int k = PEAK_COPY; k <= PEAK_TRIAD; k++) {
        const double bytes = (double)peak_stream_bytes((peak_stream)k) * (double)n;
        double *tk = t + k * STREAM_SAMPLES;
        med[k] = bytes / median(tk, STREAM_SAMPLES) * 1e-9; /* sorts tk */
        *rate[k] = bytes / tk[0] * 1e-9;
    }
    dt_info("bench stream: copy %.2f GB/s, triad %.2f GB/s per rank (%s; "
            "the fastest of %d passes, each the slowest rank's, all %d rank%s at once; "
            "medians %.2f, %.2f)",
            r->copy_GBps, r->triad_GBps, layout, STREAM_SAMPLES, r->P, plural(r->P), med[0],
            med[1]);
    return DT_OK;
}

/* A rate for a BENCH_ line: "%.4f", or "n/a" where not measured (NaN). */
static const char *rate_token(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "n/a");
    else
        snprintf(buf, size, "%.4f", v);
    return buf;
}

/* The lines of step 2 at this run's local batch: fp32 time t_run (fastest
 * sample t_best), bf16 t16 (t16_best; 0 without bf16), in s per step. */
static void report_gemm(const bench_run *r, double t_best, double t16, double t16_best)
{
    const int P = r->P, b = r->b_run;
    const double fps = r->fps, epoch_flop = r->epoch_flop, t_run = r->t_run;
    const double rate_run = fps * b / t_run, rate_best = fps * b / t_best;
    const double rate16 = r->bf16 ? fps * b / t16 : 0, rate16_best = r->bf16 ? fps * b / t16_best : 0;
    /* The engine's floor: the epoch's GEMM FLOPs over P ranks at its median rate. */
    const double floor_s = epoch_flop / P / rate_run;
    dt_info("bench gemm fp32: local batch %d (global %lld over %d rank%s): %.4f ms per step, "
            "%.2f GFLOP/s (slowest rank, median of %d; fastest sample %.2f GFLOP/s); "
            "implementation %s",
            b, (long long)r->B, P, plural(P), t_run * 1e3, rate_run * 1e-9, N_SAMPLES,
            rate_best * 1e-9, r->impl[PREC_FP32]);
    if (r->bf16)
        dt_info("bench gemm bf16: local batch %d: %.4f ms per step, %.2f GFLOP/s (median; "
                "fastest sample %.2f GFLOP/s)%s; implementation %s",
                b, t16 * 1e3, rate16 * 1e-9, rate16_best * 1e-9,
                matmul_bf16_support() == 1 ? " (emulated: no AVX512_BF16)" : "",
                r->impl[PREC_BF16]);
    else
        dt_info("bench gemm bf16: not supported by the engine on this CPU");
    if (r->pk.gflops > 0)
        dt_info("bench floor: %.4f s per epoch = %.4g GFLOP / %d rank%s / %.2f GFLOP/s peak; "
                "the engine's (fp32, median): %.4f s",
                r->floor_peak, epoch_flop * 1e-9, P, plural(P), r->pk.gflops, floor_s);
    else
        dt_info("bench floor: the engine's (fp32, median): %.4f s per epoch = %.4g GFLOP / %d "
                "rank%s / %.2f GFLOP/s",
                floor_s, epoch_flop * 1e-9, P, plural(P), rate_run * 1e-9);
    char engine[128], cpu[128], impl[2][128];
    to_token(engine, sizeof engine, matmul_library_version());
    to_token(cpu, sizeof cpu, r->cpu);
    for (int i = 0; i < 2; i++) to_token(impl[i], sizeof impl[i], r->impl[i]);
    char copy[32], triad[32];
    bench_figures *f = r->fig;
    *f = (bench_figures){.ranks = P, .local_batch = b, .n_params = (int64_t)r->n_params,
                         .flop_per_sample = fps, .epoch_flop = epoch_flop,
                         .peak_gflops = r->pk.gflops, .floor_peak_s = r->floor_peak,
                         .step_s = t_run, .gflops = rate_run * 1e-9,
                         .best_gflops = rate_best * 1e-9, .floor_s = floor_s,
                         .bf16_support = matmul_bf16_support(), .bf16_step_s = t16,
                         .bf16_gflops = rate16 * 1e-9, .bf16_best_gflops = rate16_best * 1e-9,
                         .alpha_us = NAN, .bw_GBps = NAN, .grad_allreduce_s = NAN,
                         .grad_bytes = 4.0 * (double)r->n_params, .node_s = NAN, .mpi_s = NAN,
                         .copy_GBps = r->copy_GBps, .triad_GBps = r->triad_GBps,
                         .stream_array_bytes = r->stream_bytes};
    snprintf(f->peak_isa, sizeof f->peak_isa, "%s", peak_isa_name(r->pk.isa));
    snprintf(f->engine, sizeof f->engine, "%s", engine);
    snprintf(f->cpu, sizeof f->cpu, "%s", r->cpu);
    snprintf(f->fp32_impl, sizeof f->fp32_impl, "%s", r->impl[PREC_FP32]);
    snprintf(f->bf16_impl, sizeof f->bf16_impl, "%s", r->impl[PREC_BF16]);
    snprintf(f->denormals, sizeof f->denormals, "%s", denormals_names[r->cfg->denormals]);
    dt_info("BENCH_GEMM ranks=%d local_batch=%d flop_per_sample=%.0f epoch_flop=%.6g "
            "step_s=%.6g gflops=%.4f floor_s=%.6g best_gflops=%.4f bf16_support=%d "
            "bf16_step_s=%.6g bf16_gflops=%.4f bf16_best_gflops=%.4f peak_gflops=%.4f "
            "peak_isa=%s floor_peak_s=%.6g engine=%s copy_GBps=%s triad_GBps=%s "
            "stream_array_bytes=%.0f cpu=%s fp32_impl=%s bf16_impl=%s denormals=%s",
            P, b, fps, epoch_flop, t_run, rate_run * 1e-9, floor_s, rate_best * 1e-9,
            matmul_bf16_support(), t16, rate16 * 1e-9, rate16_best * 1e-9, r->pk.gflops,
            peak_isa_name(r->pk.isa), r->floor_peak, engine,
            rate_token(copy, sizeof copy, r->copy_GBps),
            rate_token(triad, sizeof triad, r->triad_GBps),
            r->stream_bytes, cpu, impl[PREC_FP32], impl[PREC_BF16], f->denormals);
}

/* 2. GEMM at this run's local batch, fp32 and bf16, and at the projections'
 * (collective). */
static dt_status bench_gemm(bench_run *r, dt_error *err)
{
    double t_best, t16 = 0, t16_best = 0;
    dt_status st;
    if ((st = time_gemm(r->world, &r->g, PREC_FP32, r->b_run, &r->t_run, &t_best,
                        r->impl[PREC_FP32], sizeof r->impl[PREC_FP32], err)) ||
        (r->bf16 && (st = time_gemm(r->world, &r->g, PREC_BF16, r->b_run, &t16, &t16_best,
                                    r->impl[PREC_BF16], sizeof r->impl[PREC_BF16], err))))
        return st;
    report_gemm(r, t_best, t16, t16_best);
    for (int i = 0; i < N_PROJ; i++) {
        r->b_proj[i] = ceil_div(r->B, proj_P[i]);
        if (r->b_proj[i] == r->b_run)
            r->t_proj[i] = r->t_run;
        else if ((st = time_gemm(r->world, &r->g, PREC_FP32, r->b_proj[i], &r->t_proj[i], NULL,
                                 NULL, 0, err)))
            return st;
        dt_info("bench gemm fp32: local batch %4d: %.4f ms per step, %.2f GFLOP/s", r->b_proj[i],
                r->t_proj[i] * 1e3, r->fps * r->b_proj[i] / r->t_proj[i] * 1e-9);
    }
    return DT_OK;
}

dt_status bench_measure(const bench_options *cfg, dt_comm *world, bench_figures *fig,
                        dt_error *err)
{
    bench_run r = {.cfg = cfg, .fig = fig, .world = world, .P = comm_size(world),
                   .B = cfg->batch_size, .N = cfg->samples};
    matmul_set_threads((int)cfg->threads);
    dt_status st;
    model_shapes(&r.g, cfg, cfg->layers, cfg->n_layers, &r.n_params, &r.most_w, &r.most_in,
                 &r.most_out);
    r.b_run = ceil_div(r.B, r.P);
    r.fps = flop_per_sample(&r.g);
    r.epoch_flop = r.fps * (double)r.N;
    /* bf16 is timed only if every rank can run it: the timing is collective */
    int64_t no_bf16 = matmul_bf16_support() == 0;
    comm_allreduce_max_i64(world, &no_bf16, 1);
    r.bf16 = !no_bf16;
    peak_cpu_model(r.cpu, sizeof r.cpu);
    if (!(st = alloc_operands(&r, err)) && !(st = operands_to_bf16(&r, err))) {
        report_model(&r);
        if (!(st = bench_peak(&r, err)) && !(st = bench_stream(&r, err)) &&
            !(st = bench_gemm(&r, err))) {
            /* 3. allreduce, and the step's own collectives */
            if (r.P > 1)
                bench_allreduce(world, r.buf, r.n_params, fig);
            else
                dt_info("bench allreduce: 1 rank, nothing to time (run under mpirun -np 2 or "
                        "more)");
            /* 4. projection */
            report_projection(r.N, r.B, 4.0 * (double)r.n_params, cfg->latency_us * 1e-6,
                              r.b_proj, r.t_proj, fig->proj);
        }
    }
    bench_free(&r);
    return st;
}
