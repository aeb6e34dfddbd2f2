/* dtrain: data-parallel training. */
#include "dtrain/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dtrain/rng.h"
#include "dtrain/watchdog.h"

int trainer_local_batch(int64_t b, int size) { return (int)((b + size - 1) / size); }

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
    /* Test-only fault injection: NaN in the gradient at a step; a rank whose
     * parameters drift at a step; a rank that stalls in compute at a step. */
    const char *e;
    t->inject.nan_step = t->inject.corrupt_step = t->inject.sleep_step = -1;
    if ((e = getenv("DTRAIN_TEST_NAN_STEP")))
        t->inject.nan_step = atoll(e);
    long long st_ = -1;
    if ((e = getenv("DTRAIN_TEST_CORRUPT")) && sscanf(e, "%d:%lld", &t->inject.corrupt_rank, &st_) == 2)
        t->inject.corrupt_step = st_;
    if ((e = getenv("DTRAIN_TEST_SLEEP")) &&
        sscanf(e, "%d:%lld:%lf", &t->inject.sleep_rank, &st_, &t->inject.sleep_seconds) == 3)
        t->inject.sleep_step = st_;
    int lb = trainer_local_batch(opts->batch_size, comm_size(comm));
    if (lb > model->max_batch)
        return dt_fail(err, DT_EINTERNAL, "model workspace smaller than the local batch");
    t->perm = malloc((size_t)train->n * sizeof *t->perm);
    t->xb = malloc((size_t)lb * (size_t)train->d * sizeof *t->xb);
    if (opts->grad_norms)
        t->norm_sum = calloc((size_t)model->n_layers, sizeof *t->norm_sum);
    if (train->labels)
        t->lb = malloc((size_t)lb * sizeof *t->lb);
    else
        t->tb = malloc((size_t)lb * (size_t)train->k * sizeof *t->tb);
    if (!t->perm || !t->xb || (!t->lb && !t->tb) || (opts->grad_norms && !t->norm_sum)) {
        trainer_free(t);
        return dt_fail(err, DT_ENOMEM, "out of memory for the training buffers");
    }
    return DT_OK;
}

void trainer_free(dt_trainer *t)
{
    free(t->norm_sum);
    t->norm_sum = NULL;
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

int64_t trainer_batch_size(const dt_trainer *t, int64_t k)
{
    const int64_t B = t->opts.batch_size, start = k * B;
    return start + B <= t->train->n ? B : t->train->n - start;
}

double trainer_step(dt_trainer *t, int64_t k)
{
    dt_model *m = t->model;
    const int64_t start = k * t->opts.batch_size;
    const int64_t b = trainer_batch_size(t, k); /* global size */
    int64_t lo, hi;
    batch_slice(b, comm_rank(t->comm), comm_size(t->comm), &lo, &hi);
    const int nb = (int)(hi - lo);

    const int rank = comm_rank(t->comm);
    double t0 = comm_wtime();
    watchdog_phase(WD_DATA, t->step);
    const int64_t *rows = t->perm + start + lo;
    dataset_gather(t->train, rows, nb, t->xb, t->lb, t->tb);
    double t1 = comm_wtime();
    watchdog_phase(WD_COMPUTE, t->step);
    memset(m->grads, 0, m->n_params * sizeof *m->grads);
    model_train_mode(m, t->opts.seed, t->step, rows);
    double loss = model_loss_grad(m, t->xb, t->lb, t->tb, nb);
    model_eval_mode(m);
    if (t->step == t->inject.nan_step && rank == 0)
        m->grads[0] = NAN;
    if (t->step == t->inject.sleep_step && rank == t->inject.sleep_rank) {
        struct timespec nap = {(time_t)t->inject.sleep_seconds, 0};
        nanosleep(&nap, NULL);
    }
    double t2 = comm_wtime();

    /* Sum over ranks, then divide by the global count: an exact mean even
     * when the slices differ in size. */
    watchdog_phase(WD_REDUCTION, t->step);
    comm_allreduce_sum_f32(t->comm, m->grads, m->n_params);
    double t3 = comm_wtime();
    watchdog_phase(WD_UPDATE, t->step);
    t->nonfinite = scale_and_check(m->grads, m->n_params, 1.0f / (float)b);
    if (t->nonfinite) {
        /* every rank sees the same reduced gradient, so all skip together */
        t->step++;
        watchdog_phase(WD_IDLE, t->step);
        return 0.0;
    }
    /* From here every rank holds the same gradient, so what follows needs no
     * communication and stays identical across ranks. */
    if (t->norm_sum) {
        for (int l = 0; l < m->n_layers; l++) {
            const dt_layer *L = &m->layers[l];
            double s2 = 0.0;
            for (size_t i = 0; i < (size_t)L->n_out * (L->n_in + 1); i++)
                s2 += (double)L->dW[i] * L->dW[i];
            t->norm_sum[l] += sqrt(s2);
        }
        t->norm_steps++;
    }
    double penalty = 0.0;
    if (t->opts.l2 > 0 || t->opts.l1 > 0)
        penalty = trainer_penalty(m, t->opts.l2, t->opts.l1);
    if (t->opts.clip_value > 0) {
        const float v = (float)t->opts.clip_value;
        for (size_t i = 0; i < m->n_params; i++)
            m->grads[i] = m->grads[i] > v ? v : m->grads[i] < -v ? -v : m->grads[i];
    }
    if (t->opts.clip_norm > 0) {
        double s2 = 0.0;
        for (size_t i = 0; i < m->n_params; i++) s2 += (double)m->grads[i] * m->grads[i];
        double norm = sqrt(s2);
        if (norm > t->opts.clip_norm) {
            const float scale = (float)(t->opts.clip_norm / norm);
            for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= scale;
        }
    }
    t->last_lr = t->sched ? sched_lr(t->sched, t->step, t->epoch, t->steps_per_epoch)
                          : t->opts.lr;
    optim_step(t->optim, m->params, m->grads, t->last_lr);
    if (t->step == t->inject.corrupt_step && rank == t->inject.corrupt_rank)
        m->params[0] += 1e-3f;
    t->step++;
    watchdog_phase(WD_IDLE, t->step);
    if (penalty > 0 && rank == 0)
        loss += penalty * (double)b;
    double t4 = comm_wtime();
    t->time.data += t1 - t0;
    t->time.compute += t2 - t1;
    t->time.reduce += t3 - t2;
    t->time.update += t4 - t3;
    return loss;
}

double trainer_penalty(dt_model *m, double l2, double l1)
{
    double pen = 0.0;
    const float a2 = (float)l2, a1 = (float)l1;
    for (int l = 0; l < m->n_layers; l++) {
        dt_layer *L = &m->layers[l];
        const size_t nw = (size_t)L->n_out * L->n_in;
        for (size_t i = 0; i < nw; i++) {
            const float w = L->W[i];
            pen += 0.5 * l2 * (double)w * w + l1 * fabs((double)w);
            L->dW[i] += a2 * w + (w > 0 ? a1 : w < 0 ? -a1 : 0.0f);
        }
    }
    return pen;
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
        loss += model_loss_grad(m, ds->X + i * ds->d, ds->labels ? ds->labels + i : NULL,
                                ds->targets ? ds->targets + i * ds->k : NULL, nb);
    }
    comm_allreduce_sum_f32(comm, m->grads, m->n_params);
    comm_allreduce_sum_f64(comm, &loss, 1);
    const float inv = 1.0f / (float)ds->n;
    for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= inv;
    double pen = (l2 > 0 || l1 > 0) ? trainer_penalty(m, l2, l1) : 0.0;
    return loss / (double)ds->n + pen;
}

void trainer_evaluate(dt_comm *comm, dt_model *model, const dt_dataset *ds, dt_eval *out)
{
    int64_t lo, hi;
    block_slice(ds->n, model->max_batch, comm_rank(comm), comm_size(comm), &lo, &hi);
    dt_loss_sums s = {0};
    const int64_t chunk = model->max_batch;
    for (int64_t i = lo; i < hi; i += chunk) {
        int nb = (int)(hi - i < chunk ? hi - i : chunk);
        const float *Z = model_forward(model, ds->X + i * ds->d, nb);
        loss_eval(model->head, Z, ds->labels ? ds->labels + i : NULL,
                  ds->targets ? ds->targets + i * ds->k : NULL, nb, model->n_out, NULL, &s);
    }
    double v[4] = {s.loss, s.correct, s.sqerr, s.count};
    comm_allreduce_sum_f64(comm, v, 4);
    out->n = (int64_t)v[3];
    double n = v[3] > 0 ? v[3] : 1.0;
    out->loss = v[0] / n;
    out->accuracy = v[1] / n;
    out->rmse = sqrt(v[2] / (n * model->n_out));
}
