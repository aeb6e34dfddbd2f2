/* dtrain: the data-parallel training step and evaluation.
 *
 * Data flows one way: dataset -> this rank's slice of the global batch ->
 * model forward/backward (gradient sums) -> one allreduce over the flat
 * gradient buffer -> divide by the batch's global size -> identical optimizer
 * update on every rank. */
#ifndef DTRAIN_TRAINER_H
#define DTRAIN_TRAINER_H

#include <stdint.h>
#include "dtrain/comm.h"
#include "dtrain/dataset.h"
#include "dtrain/model.h"
#include "dtrain/optim.h"

typedef struct {
    int64_t batch_size; /* global */
    int drop_last;
    int shuffle;
    uint64_t seed;
    double lr;
} dt_train_opts;

typedef struct {
    dt_comm *comm;        /* borrowed */
    dt_model *model;      /* borrowed */
    dt_optim *optim;      /* borrowed */
    const dt_dataset *train; /* borrowed, already normalised */
    dt_train_opts opts;
    int64_t steps_per_epoch;
    int64_t step;         /* global steps taken */
    int64_t *perm;        /* owned, (n): this epoch's order */
    float *xb;            /* owned, (local max batch, d) */
    int32_t *lb;          /* owned, (local max batch) or NULL */
    float *tb;            /* owned, (local max batch, k) or NULL */
    /* Seconds this rank spent in each phase of trainer_step since the last
     * reset (the caller zeroes it): gathering the batch, forward and backward,
     * the gradient allreduce (including waiting for slower ranks), the update. */
    struct {
        double data, compute, reduce, update;
    } time;
} dt_trainer;

/* The largest slice any rank gets of a global batch of b: ceil(b / size). */
int trainer_local_batch(int64_t b, int size);

/* Everything the step needs is allocated here, nothing later. */
dt_status trainer_init(dt_trainer *t, dt_comm *comm, dt_model *model, dt_optim *optim,
                       const dt_dataset *train, const dt_train_opts *opts, dt_error *err);
void trainer_free(dt_trainer *t);

/* Draw epoch `epoch`'s order (0-based) from (seed, epoch); identical on every rank. */
void trainer_begin_epoch(dt_trainer *t, int64_t epoch);

/* Number of samples in global batch k (the last one may be partial). */
int64_t trainer_batch_size(const dt_trainer *t, int64_t k);

/* Global batch k of the current epoch: this rank's slice, gradient, allreduce,
 * update.  Returns this rank's sum of sample losses (reduce it for the epoch). */
double trainer_step(dt_trainer *t, int64_t k);

/* Loss and accuracy/RMSE of the model on ds, each rank evaluating a contiguous
 * share of the rows, reduced exactly (every sample counted once). */
typedef struct {
    double loss;     /* mean per-sample loss */
    double accuracy; /* classifiers */
    double rmse;     /* linear head: sqrt(mean squared error over all outputs) */
    int64_t n;
} dt_eval;

void trainer_evaluate(dt_comm *comm, dt_model *model, const dt_dataset *ds, dt_eval *out);

#endif
