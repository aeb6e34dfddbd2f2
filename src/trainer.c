/* dtrain: data-parallel training. */
#include "dtrain/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/rng.h"

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
    int lb = trainer_local_batch(opts->batch_size, comm_size(comm));
    if (lb > model->max_batch)
        return dt_fail(err, DT_EINTERNAL, "model workspace smaller than the local batch");
    t->perm = malloc((size_t)train->n * sizeof *t->perm);
    t->xb = malloc((size_t)lb * (size_t)train->d * sizeof *t->xb);
    if (train->labels)
        t->lb = malloc((size_t)lb * sizeof *t->lb);
    else
        t->tb = malloc((size_t)lb * (size_t)train->k * sizeof *t->tb);
    if (!t->perm || !t->xb || (!t->lb && !t->tb)) {
        trainer_free(t);
        return dt_fail(err, DT_ENOMEM, "out of memory for the training buffers");
    }
    return DT_OK;
}

void trainer_free(dt_trainer *t)
{
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
    if (t->opts.shuffle) {
        dt_rng r;
        rng_seed(&r, t->opts.seed, RNG_STREAM_EPOCH, (uint64_t)epoch);
        rng_permutation(&r, t->perm, t->train->n);
    } else {
        for (int64_t i = 0; i < t->train->n; i++)
            t->perm[i] = i;
    }
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

    double t0 = comm_wtime();
    dataset_gather(t->train, t->perm + start + lo, nb, t->xb, t->lb, t->tb);
    double t1 = comm_wtime();
    memset(m->grads, 0, m->n_params * sizeof *m->grads);
    double loss = model_loss_grad(m, t->xb, t->lb, t->tb, nb);
    double t2 = comm_wtime();

    /* Sum over ranks, then divide by the global count: an exact mean even
     * when the slices differ in size. */
    comm_allreduce_sum_f32(t->comm, m->grads, m->n_params);
    double t3 = comm_wtime();
    const float inv = 1.0f / (float)b;
    for (size_t i = 0; i < m->n_params; i++)
        m->grads[i] *= inv;
    optim_step(t->optim, m->params, m->grads, t->opts.lr);
    t->step++;
    double t4 = comm_wtime();
    t->time.data += t1 - t0;
    t->time.compute += t2 - t1;
    t->time.reduce += t3 - t2;
    t->time.update += t4 - t3;
    return loss;
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
