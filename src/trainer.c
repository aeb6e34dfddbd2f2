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

int trainer_local_batch(int64_t b, int size) { return (int)((b + size - 1) / size); }

/* The per-step sums reduced in one small allreduce: whether any gradient
 * element was not finite, the penalty, the squared norm for --clip-norm,
 * then each layer's squared gradient norm. */
enum { STAT_BAD, STAT_PENALTY, STAT_CLIP, STAT_LAYER0 };

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
    int lb = trainer_local_batch(opts->batch_size, comm_size(comm));
    if (lb > model->max_batch)
        return dt_fail(err, DT_EINTERNAL, "model workspace smaller than the local batch");
    t->perm = malloc((size_t)train->n * sizeof *t->perm);
    t->xb = malloc((size_t)lb * (size_t)train->d * sizeof *t->xb);
    if (opts->grad_norms)
        t->norm_sum = calloc((size_t)model->n_layers, sizeof *t->norm_sum);
    t->shards = comm_shards_create(comm, model->n_params, opts->node_reduce,
                                   dt_hooks.ranks_per_node);
    if (t->shards && opts->node_reduce && comm_size(comm) > 1 &&
        !comm_shards_node_mode(t->shards))
        dt_warn("--reduction node: one rank per node, not the same number of ranks on every "
                "node, or no room for a shared window (/dev/shm, ulimit -f); gradients are "
                "summed with MPI_Reduce_scatter instead");
    if (t->shards) {
        comm_shards_range(t->shards, &t->lo, &t->hi);
        if (comm_shards_grads(t->shards))
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
    if (!t->perm || !t->xb || (!t->lb && !t->tb) || (opts->grad_norms && !t->norm_sum) ||
        !t->shards || !t->gshard || !t->stats || (train->block && (!t->want || !t->fetch)))
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
    free(t->perm);
    free(t->xb);
    free(t->lb);
    free(t->tb);
    t->perm = NULL;
    t->xb = t->tb = NULL;
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

/* g *= scale; returns 1 if any element is NaN or Inf.  The test is on the
 * exponent bits, OR-reduced as integers, so the loop vectorises. */
DT_HOT static int scale_and_check(float *g, size_t n, float scale)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        g[i] *= scale;
        uint32_t bits;
        memcpy(&bits, &g[i], sizeof bits);
        bad |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    return bad != 0;
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
    batch_slice(trainer_batch_size(t, k), r, comm_size(t->comm), lo, hi);
}

/* Test faults after the backward pass (tests only; dt_hooks): a NaN in the
 * gradient, or a rank that stalls. */
static void backward_faults(dt_trainer *t, int rank)
{
    if (t->step == dt_hooks.nan_step && rank == 0)
        t->model->grads[0] = NAN;
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

/* This rank's rows of batch k into xb, lb, tb from the ranks holding them:
 * the exchange started during the previous step (or now), then the next
 * batch's started, to move while this one computes. */
static void fetch_batch(dt_trainer *t, int64_t k)
{
    const double t0 = comm_wtime();
    if (t->pending[0] != t->epoch || t->pending[1] != k) {
        if (t->pending[1] >= 0) /* another batch's: complete it, unused */
            dataset_fetch_finish(t->fetch, t->xb, t->lb, t->tb);
        fetch_start(t, k);
    }
    dataset_fetch_finish(t->fetch, t->xb, t->lb, t->tb);
    t->pending[1] = -1;
    if (k + 1 < t->steps_per_epoch)
        fetch_start(t, k + 1);
    t->time.fetch += comm_wtime() - t0;
    t->time.fetches++;
}

/* Forward and backward over this rank's slice of batch k (trainer_slice):
 * m->grads holds the slice's gradient sum; returns its loss sum.  tick[1]
 * and tick[2] mark the end of the gather and of the computation. */
static double slice_gradient(dt_trainer *t, int64_t k, int rank, double *tick)
{
    dt_model *m = t->model;
    int64_t lo, hi;
    trainer_slice(t, k, rank, &lo, &hi);
    const int nb = (int)(hi - lo);
    watchdog_phase(WD_DATA, t->step);
    const int64_t *rows = t->perm + k * t->opts.batch_size + lo;
    if (t->fetch)
        fetch_batch(t, k);
    else
        dataset_gather(t->train, rows, nb, t->xb, t->lb, t->tb);
    tick[1] = comm_wtime();
    watchdog_phase(WD_COMPUTE, t->step);
    model_zero_grad(m);
    model_train_mode(m, t->opts.seed, t->step, rows);
    /* the loss in the targets' units (what the run reports), whatever the
     * model minimises */
    dt_loss_sums sums = {0};
    model_loss_grad_sums(m, t->xb, t->lb, t->tb, nb, &sums);
    model_eval_mode(m);
    backward_faults(t, rank);
    tick[2] = comm_wtime();
    return sums.loss;
}

/* This rank's shard g (ns) of the summed gradient made the mean over the b
 * rows, penalised and clipped by value, and its sums into t->stats: whether
 * it is finite, the penalty, the squared norms (--clip-norm, each layer's).
 * Returns the number of sums. */
static int shard_stats(dt_trainer *t, int64_t b)
{
    dt_model *m = t->model;
    const size_t lo = t->lo, hi = t->hi, ns = hi - lo;
    float *g = t->gshard;
    double *v = t->stats;
    const int nstat = STAT_LAYER0 + (t->norm_sum ? m->n_layers : 0);
    memset(v, 0, (size_t)nstat * sizeof *v);
    v[STAT_BAD] = scale_and_check(g, ns, 1.0f / (float)b);
    if (t->norm_sum)
        layer_norms2(m, g, lo, hi, v + STAT_LAYER0);
    if (t->opts.l2 > 0 || t->opts.l1 > 0)
        v[STAT_PENALTY] = trainer_penalty_range(m, g, lo, hi, t->opts.l2, t->opts.l1);
    if (t->opts.clip_value > 0) {
        const float c = (float)t->opts.clip_value;
        for (size_t i = 0; i < ns; i++) g[i] = g[i] > c ? c : g[i] < -c ? -c : g[i];
    }
    if (t->opts.clip_norm > 0)
        for (size_t i = 0; i < ns; i++) v[STAT_CLIP] += (double)g[i] * g[i];
    return nstat;
}

/* With the sums v reduced over the ranks: the layers' norms kept for the
 * log, --clip-norm, and the optimizer's step on this rank's shard. */
static void update_shard(dt_trainer *t, const double *v)
{
    dt_model *m = t->model;
    float *g = t->gshard;
    const size_t ns = t->hi - t->lo;
    if (t->norm_sum) {
        for (int l = 0; l < m->n_layers; l++) t->norm_sum[l] += sqrt(v[STAT_LAYER0 + l]);
        t->norm_steps++;
    }
    if (t->opts.clip_norm > 0) {
        double norm = sqrt(v[STAT_CLIP]);
        if (norm > t->opts.clip_norm) {
            const float scale = (float)(t->opts.clip_norm / norm);
            for (size_t i = 0; i < ns; i++) g[i] *= scale;
        }
    }
    t->last_lr = t->sched ? sched_lr(t->sched, t->step, t->epoch, t->steps_per_epoch)
                          : t->opts.lr;
    optim_step_range(t->optim, m->params, g, t->last_lr, t->lo, t->hi);
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

double trainer_step(dt_trainer *t, int64_t k)
{
    dt_model *m = t->model;
    const int64_t b = trainer_batch_size(t, k); /* global size */
    const int rank = comm_rank(t->comm);
    double tick[8];
    tick[0] = comm_wtime();
    double loss = slice_gradient(t, k, rank, tick);

    /* The sharded update.  A reduce-scatter gives this rank the sum over
     * ranks of its shard [lo, hi) of the gradient; it divides by the global
     * count (an exact mean even when the slices differ in size), updates that
     * shard of the parameters and of the optimizer state, and an allgather
     * gives every rank every parameter.  The same bytes move as in one
     * allreduce, but the update's cost divides by the number of ranks.  Each
     * parameter is computed by one rank only, so the replicas stay identical. */
    watchdog_phase(WD_REDUCTION, t->step);
    comm_reduce_scatter_sum_f32(t->shards, m->grads, t->gshard);
    tick[3] = comm_wtime();
    watchdog_phase(WD_UPDATE, t->step);
    const int nstat = shard_stats(t, b);
    tick[4] = comm_wtime();
    comm_shards_sum_f64(t->shards, t->stats, (size_t)nstat);
    tick[5] = comm_wtime();
    t->nonfinite = t->stats[STAT_BAD] > 0;
    if (t->nonfinite) {
        /* every rank sees the same reduced flag, so all skip together */
        t->step++;
        watchdog_phase(WD_BETWEEN, t->step);
        return 0.0;
    }
    update_shard(t, t->stats);
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

void trainer_evaluate(dt_comm *comm, dt_model *model, const dt_dataset *ds, dt_eval *out)
{
    int64_t lo, hi;
    block_slice(ds->n, model->max_batch, comm_rank(comm), comm_size(comm), &lo, &hi);
    dt_loss_sums s = {0};
    dt_target_scaling buf;
    const dt_target_scaling *ts = model_target_scaling(model, &buf);
    const int64_t chunk = model->max_batch;
    for (int64_t i = lo; i < hi; i += chunk) {
        int nb = (int)(hi - i < chunk ? hi - i : chunk);
        const float *Z = model_forward(model, dataset_rows(ds, i, nb, model->xin), nb);
        loss_eval(model->head, Z, ds->labels ? ds->labels + i : NULL,
                  ds->targets ? ds->targets + i * ds->k : NULL, nb, model->n_out, ts, NULL, &s);
    }
    double v[4] = {s.loss, s.correct, s.sqerr, s.count};
    comm_allreduce_sum_f64(comm, v, 4);
    out->n = (int64_t)v[3];
    double n = v[3] > 0 ? v[3] : 1.0;
    out->loss = v[0] / n;
    out->accuracy = v[1] / n;
    out->rmse = sqrt(v[2] / (n * model->n_out));
}

void trainer_predict(dt_model *m, const dt_dataset *ds, int64_t lo, int64_t hi, float *out)
{
    for (int64_t i = lo; i < hi; i += m->max_batch) {
        int nb = (int)(hi - i < m->max_batch ? hi - i : m->max_batch);
        model_predict(m, dataset_rows(ds, i, nb, m->xin), nb, out + (i - lo) * m->n_out);
    }
}
