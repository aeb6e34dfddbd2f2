/* dtrain: data-parallel training. */
#include "dtrain/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dtrain/rng.h"
#include "dtrain/testhooks.h"
#include "dtrain/watchdog.h"

int trainer_local_batch(int64_t b, int size, int64_t mb)
{
    if (mb <= 0)
        return (int)((b + size - 1) / size);
    const int64_t micro = (b + mb - 1) / mb, rows = (micro + size - 1) / size * mb;
    return (int)(rows < b ? rows : b);
}

int64_t trainer_micro_group(int max_batch, int64_t mb)
{
    return (max_batch >= mb ? max_batch / mb : 1) * mb;
}

/* The per-step sums reduced in one small allreduce: whether any gradient
 * element was not finite, the penalty, the squared norm for --clip-norm,
 * then each layer's squared gradient norm. */
enum { STAT_BAD, STAT_PENALTY, STAT_CLIP, STAT_LAYER0 };

/* Reproducible mode: the parameters in blocks of this many, the unit of the
 * agreed exponents, of the per-block sums and of the shards, so that every
 * sum over parameters is made of the same block sums at any rank count. */
enum { REPRO_BLOCK = 2048 };

/* The micro-batch tree is added in chunks of this many floats (16 KB): a
 * chunk's node sums stay in the first-level cache from the leaves to the
 * root, so each leaf is read once and each result written once, instead of
 * one pass over n_params floats per addition.  Every element still gets the
 * same additions in the same order, so the bits do not depend on it. */
enum { TREE_CHUNK = 4096 };

static size_t repro_blocks(const dt_model *m) { return (m->n_params + REPRO_BLOCK - 1) / REPRO_BLOCK; }

static int n_stats(const dt_trainer *t)
{
    return STAT_LAYER0 + (t->opts.grad_norms ? t->model->n_layers : 0);
}

/* The buffers of reproducible mode; 0 if one is missing. */
static int repro_alloc(dt_trainer *t)
{
    const dt_model *m = t->model;
    const int64_t mb = t->opts.micro_batch, B = t->opts.batch_size;
    const int64_t local = trainer_local_batch(B, comm_size(t->comm), mb);
    const size_t nblk = repro_blocks(m), micro = (size_t)((B + mb - 1) / mb);
    const size_t slots = (size_t)((local + mb - 1) / mb);
    t->mgrads = malloc(slots * m->n_params * sizeof *t->mgrads);
    t->tsend = malloc(slots * m->n_params * sizeof *t->tsend);
    t->trecv = malloc((micro * (t->hi - t->lo) + 1) * sizeof *t->trecv);
    t->tcounts = malloc(4 * (size_t)comm_size(t->comm) * sizeof *t->tcounts);
    t->tnodes = malloc(2 * micro * sizeof *t->tnodes);
    t->tdata = malloc(micro * sizeof *t->tdata);
    t->rsums = malloc((nblk * (size_t)n_stats(t) + micro) * sizeof *t->rsums);
    t->lnodes = malloc(2 * slots * sizeof *t->lnodes);
    t->ldata = malloc(slots * sizeof *t->ldata);
    int height = 0; /* of the tree: at most ceil(log2(micro)) additions deep */
    while (((size_t)1 << height) < micro) height++;
    t->tscratch = malloc(((size_t)height + 1) * TREE_CHUNK * sizeof *t->tscratch);
    /* the exchange counts floats in ints */
    return t->mgrads && t->tsend && t->trecv && t->tcounts && t->tnodes && t->tdata && t->rsums &&
           t->lnodes && t->ldata && t->tscratch &&
           (double)slots * (double)m->n_params < 2147483647.0;
}

/* The partition of the parameters for the sharded update.  Reproducible
 * mode needs one shard per rank, in whole blocks (the tree's nodes go to
 * their shard's one owner): node-shared memory then serves only when all the
 * ranks share one node, where it gathers the parameters.  Collective. */
static dt_shards *make_shards(dt_comm *comm, size_t n, int node, int repro)
{
    dt_shards *s = comm_shards_create(comm, n, node, dt_hooks.ranks_per_node);
    if (s && repro && comm_shards_count(s) != comm_size(comm)) { /* the same on every rank */
        comm_shards_free(s);
        s = comm_shards_create(comm, n, 0, dt_hooks.ranks_per_node);
    }
    if (s && repro)
        comm_shards_align(s, REPRO_BLOCK);
    return s;
}

dt_status trainer_init(dt_trainer *t, dt_comm *comm, dt_model *model, dt_optim *optim,
                       const dt_dataset *train, const dt_train_opts *opts, dt_error *err)
{
    memset(t, 0, sizeof *t);
    t->comm = comm;
    t->model = model;
    t->optim = optim;
    t->train = train;
    t->opts = *opts;
    t->steps_per_epoch = batch_count(train->n, opts->batch_size, opts->drop_last);
    const int repro = opts->micro_batch > 0;
    int lb = trainer_local_batch(opts->batch_size, comm_size(comm), opts->micro_batch);
    if ((repro ? opts->micro_batch : lb) > model->max_batch)
        return dt_fail(err, DT_EINTERNAL, "model workspace smaller than the local batch");
    t->perm = malloc((size_t)train->n * sizeof *t->perm);
    /* in bf16, rows rounded as they are gathered where the CPU rounds with
     * the instruction (the model's own rounding otherwise: oneDNN's reorder) */
    if (model->prec == PREC_BF16 && matmul_bf16_support() == 2)
        t->xb16 = malloc((size_t)lb * (size_t)train->d * sizeof *t->xb16);
    else
        t->xb = malloc((size_t)lb * (size_t)train->d * sizeof *t->xb);
    if (opts->grad_norms)
        t->norm_sum = calloc((size_t)model->n_layers, sizeof *t->norm_sum);
    t->shards = make_shards(comm, model->n_params, opts->node_reduce, repro);
    if (t->shards && opts->node_reduce && !repro && comm_size(comm) > 1 &&
        !comm_shards_node_mode(t->shards))
        dt_warn("%s node: one rank per node, not the same number of ranks on every "
                "node, or no room for a shared window (/dev/shm, ulimit -f); gradients are "
                "summed with MPI_Reduce_scatter instead", dt_opt("reduction"));
    if (t->shards) {
        comm_shards_range(t->shards, &t->lo, &t->hi);
        if (comm_shards_grads(t->shards) && !repro)
            model_use_grads(model, comm_shards_grads(t->shards));
    }
    t->gshard = comm_size(comm) > 1 ? malloc((t->hi - t->lo + 1) * sizeof *t->gshard)
                                    : model->grads;
    t->stats = malloc((size_t)(STAT_LAYER0 + model->n_layers) * sizeof *t->stats);
    if (train->labels)
        t->lb = malloc((size_t)lb * sizeof *t->lb);
    else
        t->tb = malloc((size_t)lb * (size_t)train->k * sizeof *t->tb);
    t->pending[1] = -1;
    if (train->block) {
        t->want = malloc((size_t)(opts->batch_size + comm_size(comm)) * sizeof *t->want);
        t->fetch = dataset_fetch_create(train, lb, opts->batch_size); /* collective */
    }
    dt_status st = DT_OK;
    if (!t->perm || (!t->xb && !t->xb16) || (!t->lb && !t->tb) || (opts->grad_norms && !t->norm_sum) ||
        !t->shards || !t->gshard || !t->stats || (repro && !repro_alloc(t)) ||
        (train->block && (!t->want || !t->fetch)))
        st = dt_fail(err, DT_ENOMEM, "out of memory for the training buffers");
    /* all ranks fail together: releasing the reduction's window is collective */
    if ((st = comm_agree(comm, st, err)))
        trainer_free(t);
    return st;
}

void trainer_free(dt_trainer *t)
{
    free(t->norm_sum);
    t->norm_sum = NULL;
    if (t->model && t->gshard != t->model->grads)
        free(t->gshard);
    t->gshard = NULL;
    if (t->model && t->shards && comm_shards_grads(t->shards))
        model_use_grads(t->model, NULL);
    comm_shards_free(t->shards);
    t->shards = NULL;
    free(t->stats);
    t->stats = NULL;
    dataset_fetch_free(t->fetch); /* collective: completes a fetch in flight */
    t->fetch = NULL;
    free(t->want);
    t->want = NULL;
    free(t->mgrads);
    free(t->tsend);
    free(t->trecv);
    free(t->tcounts);
    free(t->tnodes);
    free(t->tdata);
    free(t->rsums);
    free(t->lnodes);
    free(t->ldata);
    free(t->tscratch);
    t->mgrads = t->tsend = t->trecv = t->tscratch = NULL;
    t->lnodes = NULL;
    t->ldata = NULL;
    t->tcounts = NULL;
    t->tnodes = NULL;
    t->tdata = NULL;
    t->rsums = NULL;
    free(t->perm);
    free(t->xb);
    free(t->xb16);
    free(t->lb);
    free(t->tb);
    t->perm = NULL;
    t->xb = t->tb = NULL;
    t->xb16 = NULL;
    t->lb = NULL;
}

void trainer_begin_epoch(dt_trainer *t, int64_t epoch)
{
    t->epoch = epoch;
    if (t->opts.shuffle) {
        dt_rng r;
        rng_seed(&r, t->opts.seed, RNG_STREAM_EPOCH, (uint64_t)epoch);
        rng_permutation(&r, t->perm, t->train->n);
    } else {
        for (int64_t i = 0; i < t->train->n; i++)
            t->perm[i] = i;
    }
}

/* 1 if the float's exponent bits are all ones: NaN or Inf. */
static inline uint32_t is_nonfinite(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return (bits & 0x7f800000u) == 0x7f800000u;
}

/* g *= scale; returns 1 if any element is NaN or Inf.  The test is on the
 * exponent bits, OR-reduced as integers, so the loop vectorises. */
DT_HOT static int scale_and_check(float *g, size_t n, float scale)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        g[i] *= scale;
        bad |= is_nonfinite(g[i]);
    }
    return bad != 0;
}

/* 1 if any of g (n) is NaN or Inf; g is only read. */
DT_HOT static int any_nonfinite(const float *g, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) bad |= is_nonfinite(g[i]);
    return bad != 0;
}

/* *sum2 += the squares of g (n) * scale (each product rounded to float, as
 * scale_and_check stores it), in index order.  A pass of its own: the sum
 * is a chain of dependent additions, and the finite test inside this loop
 * made it slower than the two loops apart (measured). */
static void sum2_scaled(const float *g, size_t n, float scale, double *sum2)
{
    double s = *sum2;
    for (size_t i = 0; i < n; i++) {
        const float x = g[i] * scale;
        s += (double)x * x;
    }
    *sum2 = s;
}

/* The part of [a, b) inside [lo, hi), as [*x, *y) (empty: *x == *y). */
static void intersect(size_t a, size_t b, size_t lo, size_t hi, size_t *x, size_t *y)
{
    *x = a > lo ? a : lo;
    *y = b < hi ? b : hi;
    if (*y < *x)
        *y = *x;
}

/* Squared norm of each layer's gradient (weights and biases) over the
 * parameters [lo, hi), whose gradient is g (hi - lo), into s2 (n_layers). */
static void layer_norms2(const dt_model *m, const float *g, size_t lo, size_t hi, double *s2)
{
    for (int l = 0; l < m->n_layers; l++) {
        const dt_layer *L = &m->layers[l];
        size_t x, y;
        intersect(L->offset, L->offset + (size_t)L->n_out * (L->n_in + 1), lo, hi, &x, &y);
        double s = 0.0;
        for (size_t i = x; i < y; i++) s += (double)g[i - lo] * g[i - lo];
        s2[l] = s;
    }
}

double trainer_penalty_range(const dt_model *m, float *g, size_t lo, size_t hi, double l2,
                             double l1)
{
    double pen = 0.0;
    const float a2 = (float)l2, a1 = (float)l1;
    for (int l = 0; l < m->n_layers; l++) {
        const dt_layer *L = &m->layers[l];
        size_t x, y;
        intersect(L->offset, L->offset + (size_t)L->n_out * L->n_in, lo, hi, &x, &y);
        for (size_t i = x; i < y; i++) {
            const float w = m->params[i];
            pen += 0.5 * l2 * (double)w * w + l1 * fabs((double)w);
            if (g)
                g[i - lo] += a2 * w + (w > 0 ? a1 : w < 0 ? -a1 : 0.0f);
        }
    }
    return pen;
}

double trainer_penalty(dt_model *m, double l2, double l1)
{
    return trainer_penalty_range(m, m->grads, 0, m->n_params, l2, l1);
}

void trainer_sync_state(dt_trainer *t)
{
    dt_optim *o = t->optim;
    float *views[3] = {o->m, o->v, o->a};
    for (int i = 0; i < 3; i++)
        if (views[i])
            comm_allgather_shards_f32(t->shards, views[i]);
}

int64_t trainer_batch_size(const dt_trainer *t, int64_t k)
{
    const int64_t B = t->opts.batch_size, start = k * B;
    return start + B <= t->train->n ? B : t->train->n - start;
}

void trainer_slice(const dt_trainer *t, int64_t k, int r, int64_t *lo, int64_t *hi)
{
    const int64_t b = trainer_batch_size(t, k);
    if (t->opts.micro_batch > 0)
        block_slice(b, t->opts.micro_batch, r, comm_size(t->comm), lo, hi);
    else
        batch_slice(b, r, comm_size(t->comm), lo, hi);
}

int64_t trainer_loss_rows(const dt_trainer *t, int64_t k)
{
    const int rank = comm_rank(t->comm);
    if (t->opts.micro_batch > 0)
        return rank == 0 ? trainer_batch_size(t, k) : 0;
    int64_t lo, hi;
    trainer_slice(t, k, rank, &lo, &hi);
    return hi - lo;
}

/* Test faults after the backward pass (tests only; dt_hooks): a NaN in the
 * gradient g, or a rank that stalls. */
static void backward_faults(dt_trainer *t, int rank, float *g)
{
    if (t->step == dt_hooks.nan_step && rank == 0)
        g[0] = NAN;
    if (t->step == dt_hooks.sleep_step && rank == dt_hooks.sleep_rank) {
        /* through signals, as a rank stuck in a computation would be */
        struct timespec nap = {(time_t)dt_hooks.sleep_seconds, 0};
        while (nanosleep(&nap, &nap) == -1 && errno == EINTR)
            ;
    }
}

/* A sharded training set: start moving every rank's rows of batch k
 * (trainer_slice, which any rank can ask about any rank) to it. */
static void fetch_start(dt_trainer *t, int64_t k)
{
    const int size = comm_size(t->comm);
    int64_t *counts = t->want + t->opts.batch_size, n = 0;
    for (int r = 0; r < size; r++) {
        int64_t lo, hi;
        trainer_slice(t, k, r, &lo, &hi);
        memcpy(t->want + n, t->perm + k * t->opts.batch_size + lo,
               (size_t)(hi - lo) * sizeof *t->want);
        counts[r] = hi - lo;
        n += hi - lo;
    }
    dataset_fetch_start(t->fetch, t->want, counts);
    t->pending[0] = t->epoch;
    t->pending[1] = k;
}

/* Complete the fetch in flight into xb (or xb16), lb, tb. */
static void fetch_finish(dt_trainer *t)
{
    if (t->xb16)
        dataset_fetch_finish_bf16(t->fetch, t->xb16, t->lb, t->tb);
    else
        dataset_fetch_finish(t->fetch, t->xb, t->lb, t->tb);
}

/* This rank's rows of batch k into xb (or xb16), lb, tb from the ranks holding them:
 * the exchange started during the previous step (or now), then the next
 * batch's started, to move while this one computes. */
static void fetch_batch(dt_trainer *t, int64_t k)
{
    const double t0 = comm_wtime();
    if (t->pending[0] != t->epoch || t->pending[1] != k) {
        if (t->pending[1] >= 0) /* another batch's: complete it, unused */
            fetch_finish(t);
        fetch_start(t, k);
    }
    fetch_finish(t);
    t->pending[1] = -1;
    if (k + 1 < t->steps_per_epoch)
        fetch_start(t, k + 1);
    t->time.fetch += comm_wtime() - t0;
    t->time.fetches++;
}

/* Gather this rank's rows of batch k (trainer_slice) into t->xb (or
 * t->xb16), t->lb or t->tb; returns them as indices, their positions in *lo,
 * *hi. */
static const int64_t *gather_slice(dt_trainer *t, int64_t k, int rank, int64_t *lo,
                                   int64_t *hi)
{
    trainer_slice(t, k, rank, lo, hi);
    watchdog_phase(WD_DATA, t->step);
    const int64_t *rows = t->perm + k * t->opts.batch_size + *lo;
    if (t->fetch)
        fetch_batch(t, k);
    else if (t->xb16)
        dataset_gather_bf16(t->train, rows, *hi - *lo, t->xb16, t->lb, t->tb);
    else
        dataset_gather(t->train, rows, *hi - *lo, t->xb, t->lb, t->tb);
    return rows;
}

/* Forward and backward over rows i .. i + nb of the gathered slice:
 * m->grads receives their gradient sum; returns their loss sum. */
static double rows_gradient(dt_trainer *t, const int64_t *rows, int64_t i, int nb)
{
    dt_model *m = t->model;
    model_zero_grad(m);
    model_train_mode(m, t->opts.seed, t->step, rows + i);
    /* the loss in the targets' units (what the run reports), whatever the
     * model minimises */
    dt_loss_sums sums = {0};
    const int32_t *labels = t->lb ? t->lb + i : NULL;
    const float *targets = t->tb ? t->tb + i * t->train->k : NULL;
    if (t->xb16)
        model_loss_grad_sums_bf16(m, t->xb16 + i * t->train->d, labels, targets, nb, &sums);
    else
        model_loss_grad_sums(m, t->xb + i * t->train->d, labels, targets, nb, &sums);
    model_eval_mode(m);
    return sums.loss;
}

/* Forward and backward over this rank's slice of batch k (trainer_slice):
 * m->grads holds the slice's gradient sum; returns its loss sum.  tick[1]
 * and tick[2] mark the end of the gather and of the computation. */
static double slice_gradient(dt_trainer *t, int64_t k, int rank, double *tick)
{
    int64_t lo, hi;
    const int64_t *rows = gather_slice(t, k, rank, &lo, &hi);
    tick[1] = comm_wtime();
    watchdog_phase(WD_COMPUTE, t->step);
    const double loss = rows_gradient(t, rows, 0, (int)(hi - lo));
    backward_faults(t, rank, t->model->grads);
    tick[2] = comm_wtime();
    return loss;
}

/* Whether the step leaves the mean's 1/b to the optimizer's pass
 * (optim_step_range's s1) instead of writing the scaled gradient first: when
 * nothing between the two needs the mean itself in memory (a penalty adds
 * to it, --clip-value clamps it, the layers' norms are taken of it).  The
 * finite test is then on the sum: with 1/b <= 1 the product is NaN or Inf
 * exactly when the sum is, and --clip-norm's squares are taken of the
 * products as they are rounded.  Same bits, one pass less: the gradient is
 * read once before the update instead of read and written. */
static int scale_in_update(const dt_trainer *t)
{
    return !t->norm_sum && !(t->opts.l2 > 0 || t->opts.l1 > 0) && !(t->opts.clip_value > 0);
}

/* Weights (not biases) of the model among the parameters [lo, hi). */
static size_t weights_in(const dt_model *m, size_t lo, size_t hi)
{
    size_t n = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const dt_layer *L = &m->layers[l];
        size_t x, y;
        intersect(L->offset, L->offset + (size_t)L->n_out * L->n_in, lo, hi, &x, &y);
        n += y - x;
    }
    return n;
}

/* The update's sums over the parameters [lo, hi), whose summed gradient is
 * g (hi - lo), into v (n_stats): g is made the mean over the b rows
 * (whether it is finite), penalised (the penalty), clipped by value, and
 * its squared norms taken (--clip-norm's, each layer's).  Element by element
 * but for the sums, which run in index order.  Where scale_in_update, g is
 * only read and stays the sum.  Counts the bytes its passes move. */
static void range_stats(dt_trainer *t, float *g, size_t lo, size_t hi, int64_t b, double *v)
{
    dt_model *m = t->model;
    const size_t ns = hi - lo;
    const float scale = 1.0f / (float)b;
    if (scale_in_update(t)) {
        v[STAT_BAD] = any_nonfinite(g, ns);
        if (t->opts.clip_norm > 0)
            sum2_scaled(g, ns, scale, &v[STAT_CLIP]);
        t->time.update_bytes += 4.0 * (double)ns * (t->opts.clip_norm > 0 ? 2 : 1);
        return;
    }
    v[STAT_BAD] = scale_and_check(g, ns, scale);
    double floats = 2.0 * (double)ns; /* read and written */
    if (t->norm_sum) {
        layer_norms2(m, g, lo, hi, v + STAT_LAYER0);
        floats += (double)ns;
    }
    if (t->opts.l2 > 0 || t->opts.l1 > 0) {
        v[STAT_PENALTY] = trainer_penalty_range(m, g, lo, hi, t->opts.l2, t->opts.l1);
        floats += 3.0 * (double)weights_in(m, lo, hi); /* w read, g read and written */
    }
    if (t->opts.clip_value > 0) {
        const float c = (float)t->opts.clip_value;
        for (size_t i = 0; i < ns; i++) g[i] = g[i] > c ? c : g[i] < -c ? -c : g[i];
        floats += 2.0 * (double)ns;
    }
    if (t->opts.clip_norm > 0) {
        for (size_t i = 0; i < ns; i++) v[STAT_CLIP] += (double)g[i] * g[i];
        floats += (double)ns;
    }
    t->time.update_bytes += 4.0 * floats;
}

/* With the sums v reduced over the ranks: the layers' norms kept for the
 * log, --clip-norm, and the optimizer's step on this rank's shard of the
 * gradient of b rows, t->g: the mean (or the sum where scale_in_update; the
 * optimizer's pass divides it), then the norm clip's scale, both applied
 * by the optimizer as it reads the gradient, the bits of a pass of their
 * own each.  Counts the bytes the step moves. */
static void update_shard(dt_trainer *t, const double *v, int64_t b)
{
    dt_model *m = t->model;
    const size_t ns = t->hi - t->lo;
    if (t->norm_sum) {
        for (int l = 0; l < m->n_layers; l++) t->norm_sum[l] += sqrt(v[STAT_LAYER0 + l]);
        t->norm_steps++;
    }
    const float mean = scale_in_update(t) ? 1.0f / (float)b : 1.0f;
    float clip = 1.0f;
    if (t->opts.clip_norm > 0) {
        double norm = sqrt(v[STAT_CLIP]);
        if (norm > t->opts.clip_norm)
            clip = (float)(t->opts.clip_norm / norm);
    }
    t->last_lr = t->sched ? sched_lr(t->sched, t->step, t->epoch, t->steps_per_epoch)
                          : t->opts.lr;
    optim_step_range(t->optim, m->params, t->g, mean, clip, t->last_lr, t->lo, t->hi);
    t->time.update_bytes += 4.0 * optim_floats_per_param(t->optim) * (double)ns;
}

/* The phases' seconds from the marks tick[0..7] (start, gathered, computed,
 * reduce-scattered, stats summed locally, stats reduced, updated, done). */
static void add_times(dt_trainer *t, const double *tick)
{
    t->time.data += tick[1] - tick[0];
    t->time.compute += tick[2] - tick[1];
    t->time.reduce += (tick[3] - tick[2]) + (tick[5] - tick[4]) + (tick[7] - tick[6]);
    t->time.update += (tick[4] - tick[3]) + (tick[6] - tick[5]);
}

/* The default mode's gradient: this rank's slice, then a reduce-scatter
 * gives this rank the sum over ranks of its shard [lo, hi) of the gradient,
 * and its sums (range_stats) are added over the ranks into t->stats.
 * Returns the slice's loss sum. */
static double sliced_reduce(dt_trainer *t, int64_t k, int64_t b, int rank, double *tick)
{
    dt_model *m = t->model;
    const double loss = slice_gradient(t, k, rank, tick);
    watchdog_phase(WD_REDUCTION, t->step);
    comm_reduce_scatter_sum_f32(t->shards, m->grads, t->gshard);
    t->g = t->gshard;
    tick[3] = comm_wtime();
    watchdog_phase(WD_UPDATE, t->step);
    const int nstat = n_stats(t);
    memset(t->stats, 0, (size_t)nstat * sizeof *t->stats);
    range_stats(t, t->g, t->lo, t->hi, b, t->stats);
    tick[4] = comm_wtime();
    comm_shards_sum_f64(t->shards, t->stats, (size_t)nstat);
    tick[5] = comm_wtime();
    return loss;
}

/* Reproducible mode, computation: each of this rank's micro-batches of
 * batch k (whole ones: trainer_slice) forward and backward as if on its
 * own (model_loss_grad_parts, in groups of as many as the model's max_batch
 * holds), its gradient sum into its row of t->mgrads and its loss sum at
 * its place in losses (one per micro-batch of the batch). */
static void micro_gradients(dt_trainer *t, int64_t k, int rank, double *losses, double *tick)
{
    dt_model *m = t->model;
    const int64_t mb = t->opts.micro_batch;
    const int64_t group = trainer_micro_group(m->max_batch, mb);
    int64_t lo, hi;
    const int64_t *rows = gather_slice(t, k, rank, &lo, &hi);
    tick[1] = comm_wtime();
    watchdog_phase(WD_COMPUTE, t->step);
    for (int64_t at = lo; at < hi; at += group) {
        const int nb = (int)(hi - at < group ? hi - at : group);
        const int64_t i = at - lo;
        model_train_mode(m, t->opts.seed, t->step, rows + i);
        model_loss_grad_parts(m, t->xb16 ? NULL : t->xb + i * t->train->d,
                              t->xb16 ? t->xb16 + i * t->train->d : NULL, t->lb ? t->lb + i : NULL,
                              t->tb ? t->tb + i * t->train->k : NULL, nb, (int)mb,
                              t->mgrads + (size_t)(i / mb) * m->n_params, losses + at / mb);
        model_eval_mode(m);
    }
    if (hi > lo)
        backward_faults(t, rank, t->mgrads);
    tick[2] = comm_wtime();
}

/* The micro-batch tree of a batch of M micro-batches: node [a, b) of more
 * than one is the sum left + right, element by element, split at a + the
 * largest power of two below b - a.  Its shape depends on M only; a rank
 * adds the nodes inside its micro-batches, the shards' owners the rest, and
 * every node is the same float additions wherever it is computed. */
static int64_t tree_mid(int64_t a, int64_t b)
{
    int64_t h = 1;
    while (2 * h < b - a) h *= 2;
    return a + h;
}

/* The largest nodes under [a, b) inside [lo, hi), in order, as pairs into
 * out; returns their number (at most two per level). */
static int tree_cover(int64_t a, int64_t b, int64_t lo, int64_t hi, int64_t *out)
{
    if (b <= lo || a >= hi)
        return 0;
    if (lo <= a && b <= hi) {
        out[0] = a;
        out[1] = b;
        return 1;
    }
    const int64_t mid = tree_mid(a, b);
    const int n = tree_cover(a, mid, lo, hi, out);
    return n + tree_cover(mid, b, lo, hi, out + 2 * n);
}

/* The listed nodes of a tree sum: node i ([a, b) = node[2i], node[2i + 1])
 * is already summed, at data[i] (indexed from the start of the parameter
 * range being added); scratch holds one chunk per level of the tree. */
typedef struct {
    float *const *data;
    const int64_t *node;
    int count;
    float *scratch;
} tree_leaves;

/* x[i] += y[i]: left + right, in left's place. */
DT_HOT static void add_into(float *restrict x, const float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* dst[i] = x[i] + y[i]: left + right elsewhere (three distinct arrays, so
 * that the loop vectorises without an overlap test). */
DT_HOT static void add_to(float *restrict dst, const float *restrict x, const float *restrict y,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = x[i] + y[i];
}

/* Elements [off, off + len) of node [a, b): a listed node's own values, or
 * left + right written to dst (the right subtree's in scr, its own scratch
 * beyond).  dst may be where the node's leftmost leaf is: it is then added
 * to in place. */
static const float *tree_chunk(const tree_leaves *L, int64_t a, int64_t b, size_t off,
                               size_t len, float *dst, float *scr)
{
    for (int i = 0; i < L->count; i++)
        if (L->node[2 * i] == a && L->node[2 * i + 1] == b)
            return L->data[i] + off;
    const int64_t mid = tree_mid(a, b);
    const float *left = tree_chunk(L, a, mid, off, len, dst, scr);
    const float *right = tree_chunk(L, mid, b, off, len, scr, scr + TREE_CHUNK);
    if (left == dst)
        add_into(dst, right, len);
    else
        add_to(dst, left, right, len);
    return dst;
}

/* dst (n) = elements [off, off + n) of node [a, b), chunk by chunk. */
static void tree_sum_range(const tree_leaves *L, int64_t a, int64_t b, size_t off, size_t n,
                           float *dst)
{
    for (size_t c = 0; c < n; c += TREE_CHUNK) {
        const size_t len = n - c < TREE_CHUNK ? n - c : TREE_CHUNK;
        const float *sum = tree_chunk(L, a, b, off + c, len, dst + c, L->scratch);
        if (sum != dst + c)
            memcpy(dst + c, sum, len * sizeof *dst);
    }
}

/* Rank r's micro-batches of batch k, [*lo, *hi) in micro-batch numbers. */
static void micro_range(const dt_trainer *t, int64_t k, int r, int64_t *lo, int64_t *hi)
{
    trainer_slice(t, k, r, lo, hi);
    const int64_t mb = t->opts.micro_batch;
    *lo /= mb;
    *hi = (*hi + mb - 1) / mb;
}

/* Reproducible mode, the sum of batch k's M micro-batch gradients over the
 * tree, over this rank's shard (the sum; range_stats makes it the mean):
 * every rank's cover of its micro-batches (t->tnodes, rank by rank); this
 * rank's nodes summed from its rows of t->mgrads, its own shard's part in
 * place in the node's first row, each other shard's part straight into the
 * message to the shard's owner (one alltoallv); then the nodes above added
 * by the owner.  Returns where the shard's sum is (scratch until the next
 * step). */
static float *micro_sum(dt_trainer *t, int64_t k, int rank, int64_t M)
{
    const size_t n = t->model->n_params, ns = t->hi - t->lo;
    const int P = comm_size(t->comm);
    int *sc = t->tcounts, *sd = sc + P, *rc = sd + P, *rd = rc + P;
    int64_t *node = t->tnodes, j0 = 0, j1 = 0;
    int nall = 0, first = 0, nmine = 0;
    size_t got_floats = 0;
    for (int q = 0; q < P; q++) {
        int64_t r0, r1;
        micro_range(t, k, q, &r0, &r1);
        const int got = tree_cover(0, M, r0, r1, node + 2 * nall);
        if (q == rank)
            j0 = r0, j1 = r1, first = nall, nmine = got;
        for (int i = nall; i < nall + got; i++)
            t->tdata[i] = q == rank ? t->mgrads + (size_t)(node[2 * i] - j0) * n + t->lo
                                    : t->trecv + got_floats + (size_t)(i - nall) * ns;
        rd[q] = (int)got_floats;
        rc[q] = q == rank ? 0 : (int)((size_t)got * ns); /* its own: read where they are */
        got_floats += (size_t)rc[q];
        nall += got;
    }
    /* this rank's micro-batches, the leaves of its nodes */
    for (int64_t j = j0; j < j1; j++) {
        t->lnodes[2 * (j - j0)] = j;
        t->lnodes[2 * (j - j0) + 1] = j + 1;
        t->ldata[j - j0] = t->mgrads + (size_t)(j - j0) * n;
    }
    const tree_leaves rows = {t->ldata, t->lnodes, (int)(j1 - j0), t->tscratch};
    const int64_t *mine = node + 2 * first;
    float *out = t->tsend;
    for (int q = 0; q < P; q++) {
        size_t lo, hi;
        comm_shards_range_of(t->shards, q, &lo, &hi);
        sd[q] = (int)(out - t->tsend);
        for (int i = 0; i < nmine; i++) {
            float *dst = q == rank ? t->mgrads + (size_t)(mine[2 * i] - j0) * n + lo : out;
            tree_sum_range(&rows, mine[2 * i], mine[2 * i + 1], lo, hi - lo, dst);
            if (q != rank)
                out += hi - lo;
        }
        sc[q] = (int)(out - t->tsend) - sd[q];
    }
    if (P > 1)
        comm_alltoallv_f32(t->comm, t->tsend, sc, sd, t->trecv, rc, rd);
    if (ns == 0)
        return t->gshard;
    /* the root, in the buffer of the node that starts the batch (rank 0's) */
    const tree_leaves shard = {t->tdata, node, nall, t->tscratch};
    int root = 0;
    while (node[2 * root] != 0) root++;
    tree_sum_range(&shard, 0, M, 0, ns, t->tdata[root]);
    return t->tdata[root];
}

/* The sum of v[0 .. n) in index order. */
static double ordered_sum(const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s;
}

/* Reproducible mode's gradient: micro_gradients, micro_sum, then the sums
 * of range_stats per block of this rank's shard and the micro-batches'
 * losses placed in t->rsums, each entry written by one rank only, so that
 * the allreduce adds zeros to it (exact), and every sum is then added in
 * block or micro-batch order.  Returns the batch's loss sum on rank 0, 0
 * elsewhere (trainer_loss_rows). */
static double micro_reduce(dt_trainer *t, int64_t k, int64_t b, int rank, double *tick)
{
    const int nstat = n_stats(t);
    const int64_t mb = t->opts.micro_batch, terms = (b + mb - 1) / mb;
    const size_t nblk = repro_blocks(t->model), nv = nblk * (size_t)nstat;
    double *v = t->rsums, *losses = v + nv;
    memset(v, 0, (nv + (size_t)terms) * sizeof *v);
    micro_gradients(t, k, rank, losses, tick);
    watchdog_phase(WD_REDUCTION, t->step);
    t->g = micro_sum(t, k, rank, terms);
    tick[3] = comm_wtime();
    watchdog_phase(WD_UPDATE, t->step);
    memset(t->stats, 0, (size_t)nstat * sizeof *t->stats);
    for (size_t lo = t->lo; lo < t->hi; lo += REPRO_BLOCK) {
        const size_t hi = t->hi - lo < REPRO_BLOCK ? t->hi : lo + REPRO_BLOCK;
        range_stats(t, t->g + (lo - t->lo), lo, hi, b, v + lo / REPRO_BLOCK * nstat);
    }
    tick[4] = comm_wtime();
    comm_allreduce_sum_f64(t->comm, v, nv + (size_t)terms);
    tick[5] = comm_wtime();
    for (size_t q = 0; q < nblk; q++)
        for (int i = 0; i < nstat; i++) t->stats[i] += v[q * nstat + i];
    return rank == 0 ? ordered_sum(losses, (size_t)terms) : 0.0;
}

double trainer_step(dt_trainer *t, int64_t k)
{
    dt_model *m = t->model;
    const int64_t b = trainer_batch_size(t, k); /* global size */
    const int rank = comm_rank(t->comm);
    double tick[8];
    const double bytes0 = t->time.update_bytes; /* a skipped step's are not counted */
    tick[0] = comm_wtime();
    /* The sharded update.  Each rank receives the sum over the batch of its
     * shard [lo, hi) of the gradient; it divides by the global count (an
     * exact mean even when the slices differ in size), updates that shard of
     * the parameters and of the optimizer state, and an allgather gives
     * every rank every parameter.  The same bytes move as in one allreduce,
     * but the update's cost divides by the number of ranks.  Each parameter
     * is computed by one rank only, so the replicas stay identical. */
    double loss = t->opts.micro_batch > 0 ? micro_reduce(t, k, b, rank, tick)
                                          : sliced_reduce(t, k, b, rank, tick);
    t->nonfinite = t->stats[STAT_BAD] > 0;
    if (t->nonfinite) {
        /* every rank sees the same reduced flag, so all skip together */
        t->time.update_bytes = bytes0;
        t->step++;
        watchdog_phase(WD_BETWEEN, t->step);
        return 0.0;
    }
    update_shard(t, t->stats, b);
    tick[6] = comm_wtime();
    comm_allgather_shards_f32(t->shards, m->params);
    if (t->step == dt_hooks.corrupt_step && rank == dt_hooks.corrupt_rank)
        m->params[0] += 1e-3f; /* a test fault: replicas that differ */
    t->step++;
    watchdog_phase(WD_BETWEEN, t->step);
    if (t->stats[STAT_PENALTY] > 0 && rank == 0)
        loss += t->stats[STAT_PENALTY] * (double)b;
    tick[7] = comm_wtime();
    add_times(t, tick);
    return loss;
}

double trainer_full_batch(dt_comm *comm, dt_model *m, const dt_dataset *ds, double l2,
                          double l1)
{
    int64_t lo, hi;
    block_slice(ds->n, m->max_batch, comm_rank(comm), comm_size(comm), &lo, &hi);
    memset(m->grads, 0, m->n_params * sizeof *m->grads);
    double loss = 0.0;
    for (int64_t i = lo; i < hi; i += m->max_batch) {
        int nb = (int)(hi - i < m->max_batch ? hi - i : m->max_batch);
        loss += model_loss_grad(m, dataset_rows(ds, i, nb, m->xin), ds->labels ? ds->labels + i : NULL,
                                ds->targets ? ds->targets + i * ds->k : NULL, nb);
    }
    comm_allreduce_sum_f32(comm, m->grads, m->n_params);
    comm_allreduce_sum_f64(comm, &loss, 1);
    const float inv = 1.0f / (float)ds->n;
    for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= inv;
    double pen = (l2 > 0 || l1 > 0) ? trainer_penalty(m, l2, l1) : 0.0;
    return loss / (double)ds->n + pen;
}

dt_status trainer_prepare_blocks(dt_comm *comm, dt_model *m, int64_t n, int backward,
                                 dt_error *err)
{
    int64_t lo, hi;
    block_slice(n, m->max_batch, comm_rank(comm), comm_size(comm), &lo, &hi);
    const int64_t full = hi - lo < m->max_batch ? hi - lo : m->max_batch;
    const int64_t rest = (hi - lo) % m->max_batch;
    dt_status st = full > 0 ? model_prepare(m, (int)full, backward, err) : DT_OK;
    if (!st && rest > 0)
        st = model_prepare(m, (int)rest, backward, err);
    return st;
}

dt_status trainer_evaluate(dt_comm *comm, dt_model *model, const dt_dataset *ds, dt_eval *out,
                           dt_error *err)
{
    dt_error own_err; /* comm_agree needs somewhere to put the message */
    if (!err)
        err = &own_err;
    const int64_t chunk = model->max_batch, blocks = (ds->n + chunk - 1) / chunk;
    /* per block: the loss, correct, squared error and count sums, each block
     * this rank's or zeros, so that the allreduce adds zeros to it */
    double *v = calloc(4 * (size_t)blocks + 1, sizeof *v);
    dt_status st = v ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory for evaluation sums");
    if ((st = comm_agree(comm, st, err))) {
        free(v);
        return st;
    }
    int64_t lo, hi;
    block_slice(ds->n, chunk, comm_rank(comm), comm_size(comm), &lo, &hi);
    dt_target_scaling buf;
    const dt_target_scaling *ts = model_target_scaling(model, &buf);
    for (int64_t i = lo; i < hi; i += chunk) {
        int nb = (int)(hi - i < chunk ? hi - i : chunk);
        const float *Z = model_forward(model, dataset_rows(ds, i, nb, model->xin), nb);
        dt_loss_sums s = {0};
        loss_eval(model->head, Z, ds->labels ? ds->labels + i : NULL,
                  ds->targets ? ds->targets + i * ds->k : NULL, nb, model->n_out, ts, NULL, &s);
        double *w = v + 4 * (i / chunk);
        w[0] = s.loss;
        w[1] = s.correct;
        w[2] = s.sqerr;
        w[3] = s.count;
    }
    comm_allreduce_sum_f64(comm, v, 4 * (size_t)blocks);
    double t[4] = {0};
    for (int64_t q = 0; q < blocks; q++)
        for (int j = 0; j < 4; j++) t[j] += v[4 * q + j];
    free(v);
    out->n = (int64_t)t[3];
    double n = t[3] > 0 ? t[3] : 1.0;
    out->loss = t[0] / n;
    out->accuracy = t[1] / n;
    out->rmse = sqrt(t[2] / (n * model->n_out));
    return DT_OK;
}

void trainer_predict(dt_model *m, const dt_dataset *ds, int64_t lo, int64_t hi, float *out)
{
    for (int64_t i = lo; i < hi; i += m->max_batch) {
        int nb = (int)(hi - i < m->max_batch ? hi - i : m->max_batch);
        model_predict(m, dataset_rows(ds, i, nb, m->xin), nb, out + (i - lo) * m->n_out);
    }
}
