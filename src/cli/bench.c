/* dtrain bench: the ceilings a training run is measured against (scripts/bench.sh).
 *
 *  1. GEMM: the matrix products of one training step of the MLP --inputs,
 *     --layers, --outputs at a local batch b, timed with linalg_sgemm alone on
 *     the shapes of src/model.c, for layer l (n_in n, n_out m):
 *         forward      C (b,m)  = A (b,n) * W (m,n)^T        2bnm FLOP
 *         weight grad  dW (m,n) += dZ (b,m)^T * X (b,n)      2bnm FLOP
 *         input grad   dX (b,n) = dZ (b,m) * W (m,n)         2bnm FLOP, not layer 0
 *     Every rank times its own products at the same time (as in training), so
 *     the rate is the one P ranks sharing this machine can reach; the slowest
 *     rank's median is reported.
 *  2. Allreduce: comm_allreduce_sum_f32 at 1 KB .. 16 MB, fitted to
 *         t(n) = 2 log2(P) alpha + 2 (P-1)/P n beta     (n bytes)
 *     (reduce-scatter + allgather: the bandwidth term of a ring, the latency
 *     term of recursive halving/doubling, which MPI libraries use at large P).
 *  3. Projection of the epoch time to 8, 64 and 512 ranks at 10 and 100 Gbit/s
 *     from the two: compute is the GEMM floor only, so these are upper bounds
 *     on the efficiency.
 *
 * Rank 0 prints readable lines and, for scripts, lines starting "BENCH_". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtrain/linalg.h"
#include "dtrain/model.h"

#define N_SAMPLES 15         /* timed samples per measurement; the median is kept */
#define MIN_SAMPLE_S 4e-3    /* repeat the operation until one sample lasts this long */
#define N_SIZES 8            /* allreduce message sizes: 1 KB * 4^i */

typedef struct {
    int n_layers; /* including the output layer */
    int n_in[DT_MAX_LAYERS], n_out[DT_MAX_LAYERS];
    float *X, *W, *C, *dZ, *dW, *dX; /* scratch, sized for the largest layer */
} gemm_model;

/* GEMM FLOPs of one training step per sample (see the header comment). */
static double flop_per_sample(const gemm_model *g)
{
    double f = 0;
    for (int l = 0; l < g->n_layers; l++)
        f += (l == 0 ? 4.0 : 6.0) * g->n_in[l] * g->n_out[l];
    return f;
}

/* One step's products at local batch b.  The operands are scratch (shared by
 * all layers): the timing depends on the shapes, not on the values. */
static void gemm_step(gemm_model *g, int b)
{
    for (int l = 0; l < g->n_layers; l++) {
        int n = g->n_in[l], m = g->n_out[l];
        linalg_sgemm(0, 1, b, m, n, 1.0f, g->X, n, g->W, n, 1.0f, g->C, m);
    }
    for (int l = g->n_layers - 1; l >= 0; l--) {
        int n = g->n_in[l], m = g->n_out[l];
        linalg_sgemm(1, 0, m, n, b, 1.0f, g->dZ, m, g->X, n, 1.0f, g->dW, n);
        if (l > 0)
            linalg_sgemm(0, 0, b, n, m, 1.0f, g->dZ, m, g->W, n, 0.0f, g->dX, n);
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

/* Seconds per step at local batch b: median of N_SAMPLES, each long enough to
 * time; the slowest rank's median.  *best: the slowest rank's fastest sample
 * (the rate of an unloaded machine, when others share it). */
static double time_gemm(dt_comm *c, gemm_model *g, int b, double *best)
{
    gemm_step(g, b); /* warm caches and BLAS buffers */
    double t0 = comm_wtime();
    gemm_step(g, b);
    double once = comm_wtime() - t0;
    int reps = once >= MIN_SAMPLE_S ? 1 : (int)(MIN_SAMPLE_S / (once > 1e-7 ? once : 1e-7)) + 1;
    double s[N_SAMPLES];
    comm_barrier(c);
    for (int i = 0; i < N_SAMPLES; i++) {
        t0 = comm_wtime();
        for (int r = 0; r < reps; r++)
            gemm_step(g, b);
        s[i] = (comm_wtime() - t0) / reps;
    }
    double t[2] = {median(s, N_SAMPLES), s[0]}; /* s is sorted now */
    comm_allreduce_max_f64(c, t, 2);
    if (best)
        *best = t[1];
    return t[0];
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
    int reps = once >= MIN_SAMPLE_S ? 1 : (int)(MIN_SAMPLE_S / (once > 1e-7 ? once : 1e-7)) + 1;
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

dt_status cli_bench(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    const int P = comm_size(world);
    const int64_t B = cfg->batch_size, N = cfg->samples;
    linalg_set_threads((int)cfg->threads); /* LAPACK (second-order methods) */
    matmul_set_threads((int)cfg->threads);

    dt_layer_spec spec[DT_MAX_LAYERS];
    int nh = 0;
    dt_status st = model_parse_layers(cfg->layers, spec, DT_MAX_LAYERS - 1, &nh, err);
    if (st)
        return st;
    gemm_model g = {0};
    size_t n_params = 0, most_w = 0, most_in = 0, most_out = 0;
    for (int l = 0; l <= nh; l++) {
        g.n_in[l] = l == 0 ? (int)cfg->inputs : spec[l - 1].width;
        g.n_out[l] = l == nh ? (int)cfg->outputs : spec[l].width;
        size_t w = (size_t)g.n_in[l] * (size_t)g.n_out[l];
        n_params += w + (size_t)g.n_out[l];
        most_w = w > most_w ? w : most_w;
        most_in = (size_t)g.n_in[l] > most_in ? (size_t)g.n_in[l] : most_in;
        most_out = (size_t)g.n_out[l] > most_out ? (size_t)g.n_out[l] : most_out;
    }
    g.n_layers = nh + 1;

    /* Local batches: this run's (B over P ranks) and the projections' (B over
     * 1, 8, 64, 512 ranks, at least one sample). */
    static const int proj_P[] = {1, 8, 64, 512};
    enum { N_PROJ = sizeof proj_P / sizeof proj_P[0] };
    const int b_run = ceil_div(B, P);
    int b_max = b_run > (int)B ? b_run : (int)B;
    size_t bmax = (size_t)b_max;
    g.X = malloc(bmax * most_in * sizeof(float));
    g.dX = malloc(bmax * most_in * sizeof(float));
    g.C = malloc(bmax * most_out * sizeof(float));
    g.dZ = malloc(bmax * most_out * sizeof(float));
    g.W = malloc(most_w * sizeof(float));
    g.dW = malloc(most_w * sizeof(float));
    size_t ar_max = (size_t)256 << (2 * (N_SIZES - 1)); /* floats: 16 MB */
    float *buf = malloc(ar_max * sizeof(float));
    int ok = g.X && g.dX && g.C && g.dZ && g.W && g.dW && buf;
    st = comm_agree(world, ok ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory for the "
                                                "benchmark buffers"), err);
    if (!st) {
        /* Small values keep the sums far from overflow however often they repeat. */
        for (size_t i = 0; i < bmax * most_in; i++) g.X[i] = g.dX[i] = (float)(i % 7) * 1e-3f;
        for (size_t i = 0; i < bmax * most_out; i++) g.C[i] = g.dZ[i] = (float)(i % 5) * 1e-3f;
        for (size_t i = 0; i < most_w; i++) g.W[i] = g.dW[i] = (float)(i % 3) * 1e-3f;
        for (size_t i = 0; i < ar_max; i++) buf[i] = 0.0f;
    }
    if (st)
        goto out;

    char arch[512];
    int len = snprintf(arch, sizeof arch, "%d", g.n_in[0]);
    for (int l = 0; l < g.n_layers && len < (int)sizeof arch; l++)
        len += snprintf(arch + len, sizeof arch - (size_t)len, "-%d", g.n_out[l]);
    const double fps = flop_per_sample(&g), epoch_flop = fps * (double)N;
    const int64_t steps = (N + B - 1) / B;
    dt_info("bench: model %s (%zu parameters), %.4g MFLOP of GEMM per sample per step, "
            "%.4g GFLOP per epoch of %lld samples; %d rank%s, BLAS threads %lld",
            arch, n_params, fps * 1e-6, epoch_flop * 1e-9, (long long)N, P, P == 1 ? "" : "s",
            (long long)cfg->threads);

    /* --- 1. GEMM at this run's local batch and at the projections' --- */
    double t_best;
    double t_run = time_gemm(world, &g, b_run, &t_best);
    double rate_run = fps * b_run / t_run;
    /* The floor: the epoch's GEMM FLOPs divided over P ranks at this rate. */
    double floor_s = epoch_flop / P / rate_run;
    dt_info("bench gemm: local batch %d (global %lld over %d rank%s): %.4f ms per step, "
            "%.2f GFLOP/s (slowest rank, median of %d; fastest sample %.2f GFLOP/s)",
            b_run, (long long)B, P, P == 1 ? "" : "s", t_run * 1e3, rate_run * 1e-9, N_SAMPLES,
            fps * b_run / t_best * 1e-9);
    dt_info("bench floor: %.4f s per epoch = %.4g GFLOP / %d rank%s / %.2f GFLOP/s",
            floor_s, epoch_flop * 1e-9, P, P == 1 ? "" : "s", rate_run * 1e-9);
    dt_info("BENCH_GEMM ranks=%d local_batch=%d flop_per_sample=%.0f epoch_flop=%.6g "
            "step_s=%.6g gflops=%.4f floor_s=%.6g best_gflops=%.4f",
            P, b_run, fps, epoch_flop, t_run, rate_run * 1e-9, floor_s,
            fps * b_run / t_best * 1e-9);

    double t_proj[N_PROJ];
    int b_proj[N_PROJ];
    for (int i = 0; i < N_PROJ; i++) {
        b_proj[i] = ceil_div(B, proj_P[i]);
        t_proj[i] = b_proj[i] == b_run ? t_run : time_gemm(world, &g, b_proj[i], NULL);
        dt_info("bench gemm: local batch %4d: %.4f ms per step, %.2f GFLOP/s", b_proj[i],
                t_proj[i] * 1e3, fps * b_proj[i] / t_proj[i] * 1e-9);
    }

    /* --- 2. allreduce --- */
    const double grad_bytes = 4.0 * (double)n_params;
    double alpha = cfg->latency_us * 1e-6;
    if (P > 1) {
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
    } else {
        dt_info("bench allreduce: 1 rank, nothing to time (run under mpirun -np 2 or more)");
    }

    /* --- 3. projection --- */
    dt_info("bench projection: epoch of %lld samples, global batch %lld (%lld steps); "
            "T(P) = steps * (T_gemm(ceil(B/P)) + T_allreduce(P)), "
            "T_allreduce(P) = 2 log2(P) alpha + 2(P-1)/P * %.0f bytes / bw, alpha %.1f us "
            "(--latency-us); efficiency E(P) = T(1) / (P T(P)); T_gemm measured above "
            "(the floor: update, activations and data excluded, so E is an upper bound; "
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
            dt_info("BENCH_PROJ gbit=%.0f ranks=%d local_batch=%d allreduce_s=%.6g "
                    "epoch_s=%.6g efficiency=%.4f weak_efficiency=%.4f",
                    gbit[k], p, b_proj[i], tar, T, E, Ew);
        }
    }
out:
    free(g.X);
    free(g.dX);
    free(g.C);
    free(g.dZ);
    free(g.W);
    free(g.dW);
    free(buf);
    return st;
}
