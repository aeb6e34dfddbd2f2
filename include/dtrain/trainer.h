/* dtrain: the data-parallel training step and evaluation.
 *
 * Data flows one way: dataset -> this rank's slice of the global batch ->
 * model forward/backward (gradient sums) -> reduce-scatter of the flat
 * gradient buffer -> each rank divides its shard by the batch's global size
 * and updates that shard of the parameters and optimizer state -> allgather
 * of the parameters, so every rank holds the same model. */
#ifndef DTRAIN_TRAINER_H
#define DTRAIN_TRAINER_H

#include <stdint.h>
#include "dtrain/comm.h"
#include "dtrain/dataset.h"
#include "dtrain/model.h"
#include "dtrain/optim.h"
#include "dtrain/schedule.h"

typedef struct {
    int64_t batch_size; /* global */
    int drop_last;
    int shuffle;
    uint64_t seed;
    double lr;          /* used when sched is NULL */
    double l2, l1;      /* penalties on weight matrices (not biases) */
    double clip_norm;   /* global L2 norm bound of the averaged gradient; 0 = off */
    double clip_value;  /* per-component bound; 0 = off */
    int grad_norms;     /* accumulate per-layer gradient norms (trainer.norm_sum) */
    int node_reduce;    /* sum gradients through node-shared memory (comm_shards_create) */
    /* Reproducible mode when > 0: every global batch is cut into micro-batches
     * of this many rows (the last may be shorter), each rank computes whole
     * micro-batches (trainer_slice), each micro-batch's gradient apart, and
     * they are added in a tree whose shape depends on the batch only
     * (trainer.c), so that the step's result does not depend on the number of
     * ranks or on how they are placed. */
    int64_t micro_batch;
} dt_train_opts;

typedef struct {
    dt_comm *comm;        /* borrowed */
    dt_model *model;      /* borrowed */
    dt_optim *optim;      /* borrowed */
    const dt_sched *sched; /* borrowed; NULL = constant opts.lr */
    int64_t epoch;        /* current epoch (0-based), for the schedule */
    double last_lr;       /* rate of the last step */
    int nonfinite;        /* 1 if the last step's gradient had NaN/Inf (no update made) */
    double *norm_sum;     /* owned if opts.grad_norms: per layer, sum of gradient norms */
    int64_t norm_steps;   /* steps summed in norm_sum (the caller resets both) */
    const dt_dataset *train; /* borrowed, already normalised */
    dt_train_opts opts;
    int64_t steps_per_epoch;
    dt_shards *shards;    /* owned: the partition of the parameters for the sharded update */
    size_t lo, hi;        /* this rank's shard [lo, hi) of the parameters */
    float *gshard;        /* owned, (hi - lo): the reduced gradient of the shard, the
                             mean, or the sum where the optimizer's pass divides it
                             (trainer.c); the model's grads itself at one rank */
    float *g;             /* the step's gradient of the shard: gshard, or in
                             reproducible mode a node of the micro-batch tree */
    double *stats;        /* owned: the per-step sums reduced together (trainer.c) */
    int64_t step;         /* global steps taken */
    int64_t *perm;        /* owned, (n): this epoch's order */
    float *xb;            /* owned, (local max batch, d); NULL when xb16 is used */
    dt_bf16 *xb16;        /* owned in bf16 where the CPU rounds natively: the rows
                             rounded as gathered, (local max batch, d); else NULL */
    int32_t *lb;          /* owned, (local max batch) or NULL */
    float *tb;            /* owned, (local max batch, k) or NULL */
    /* A sharded training set (train->block): the rows of each slice are
     * fetched from the ranks that hold them, the next batch's while this one
     * computes (dataset_fetch). */
    dt_fetch *fetch;      /* owned, or NULL */
    int64_t *want;        /* owned, (batch + size): every rank's rows, their counts */
    int64_t pending[2];   /* the (epoch, batch) of the fetch in flight; batch -1: none */
    /* Reproducible mode (opts.micro_batch > 0), all owned: */
    float *mgrads;        /* (local max micro-batches, n_params): each one's gradient sum,
                             then the sums of this rank's nodes of the micro-batch tree */
    float *tsend;         /* (local max micro-batches, n_params): the nodes packed by shard */
    float *trecv;         /* (micro-batches, hi - lo): every rank's nodes, this shard */
    int *tcounts;         /* (4, ranks): the exchange's send and receive counts, displs */
    int64_t *tnodes;      /* (2 * micro-batches): every rank's tree nodes, [a, b) pairs */
    float **tdata;        /* (micro-batches): where each node's shard is, here */
    double *rsums;        /* (blocks * stats + micro-batches): sums placed by block
                             and by micro-batch, each written by one rank only */
    int64_t *lnodes;      /* (2 * local max micro-batches): this rank's micro-batches
                             as tree nodes [j, j + 1) */
    float **ldata;        /* (local max micro-batches): their rows of mgrads */
    float *tscratch;      /* (tree height + 1, chunk): the tree's partial sums */
    /* Seconds this rank spent in each phase of trainer_step since the last
     * reset (the caller zeroes it): gathering the batch, forward and backward,
     * communication (the gradient reduce-scatter, the small allreduce of the
     * step's sums and the parameter allgather, including waiting for slower
     * ranks), and the update of this rank's shard.  fetch: the part of data
     * spent moving rows between ranks (a sharded set), over `fetches` steps.
     * update_bytes: what the update's passes read and wrote, in bytes (each
     * array a pass touches counted once per pass, as STREAM counts). */
    struct {
        double data, compute, reduce, update, fetch, fetches, update_bytes;
    } time;
} dt_trainer;

/* The largest slice any rank gets of a global batch of b: ceil(b / size),
 * or, with micro-batches of mb rows (mb > 0), that many whole micro-batches. */
int trainer_local_batch(int64_t b, int size, int64_t mb);

/* Reproducible mode: the rows one forward pass of the step takes, as many
 * whole micro-batches of mb rows as max_batch holds (at least one). */
int64_t trainer_micro_group(int max_batch, int64_t mb);

/* Everything the step needs is allocated here, nothing later.  Collective
 * over comm (the reduction may share a window between the ranks of a node),
 * and so is trainer_free; a failure is agreed, so every rank returns it. */
dt_status trainer_init(dt_trainer *t, dt_comm *comm, dt_model *model, dt_optim *optim,
                       const dt_dataset *train, const dt_train_opts *opts, dt_error *err);
void trainer_free(dt_trainer *t);

/* Draw epoch `epoch`'s order (0-based) from (seed, epoch); identical on every rank. */
void trainer_begin_epoch(dt_trainer *t, int64_t epoch);

/* Number of samples in global batch k (the last one may be partial). */
int64_t trainer_batch_size(const dt_trainer *t, int64_t k);

/* The part of global batch k that rank r computes: positions [*lo, *hi) of
 * the batch, whose rows are t->perm[k * batch_size + lo ...].  Any rank may
 * ask for any rank's part (what a rank must receive or send is known to all). */
void trainer_slice(const dt_trainer *t, int64_t k, int r, int64_t *lo, int64_t *hi);

/* The number of rows of batch k whose losses this rank's trainer_step
 * returns: its slice, or in reproducible mode the whole batch on rank 0 (it
 * adds the micro-batches' losses in their order) and none elsewhere. */
int64_t trainer_loss_rows(const dt_trainer *t, int64_t k);

/* Global batch k of the current epoch: this rank's slice, gradient, allreduce,
 * the mean, L1/L2 terms, clipping, update with the schedule's rate.  Returns
 * this rank's sum of sample losses (rank 0 adds the batch's penalty once per
 * sample), to be reduced for the epoch. */
double trainer_step(dt_trainer *t, int64_t k);

/* Loss and accuracy/RMSE of the model on ds, each rank evaluating a contiguous
 * share of the rows in blocks of max_batch (block_slice); the blocks' sums
 * are added in block order, so the figures are the same bits at any rank
 * count.  Collective; DT_ENOMEM on every rank if the blocks' sums found no
 * memory. */
typedef struct {
    double loss;     /* mean per-sample loss */
    double accuracy; /* classifiers */
    double rmse;     /* linear head: sqrt(mean squared error over all outputs) */
    int64_t n;
} dt_eval;

dt_status trainer_evaluate(dt_comm *comm, dt_model *model, const dt_dataset *ds, dt_eval *out,
                           dt_error *err);

/* Make the model's forward plans (with backward != 0 the backward ones too)
 * for the blocks this rank runs over n rows split as trainer_evaluate,
 * trainer_predict and the full-batch gradient split them: max_batch rows
 * and the rest.  Local: the caller agrees on the status across ranks. */
dt_status trainer_prepare_blocks(dt_comm *comm, dt_model *m, int64_t n, int backward,
                                 dt_error *err);

/* The model's outputs (head applied) for rows [lo, hi) of ds into out
 * (hi - lo, n_out), in blocks of the model's max_batch aligned to lo.  Local. */
void trainer_predict(dt_model *m, const dt_dataset *ds, int64_t lo, int64_t hi, float *out);

/* Add the L2/L1 terms of the weight matrices to grads; returns the penalty
 * lambda2/2 ||W||^2 + lambda1 ||W||_1. */
double trainer_penalty(dt_model *m, double l2, double l1);
/* The same over parameters [lo, hi) only, whose gradient is g (hi - lo; NULL:
 * the penalty only): returns the penalty of the weights in the range. */
double trainer_penalty_range(const dt_model *m, float *g, size_t lo, size_t hi, double l2,
                             double l1);

/* After trainer_step each rank's optimizer state is current on its own shard
 * only; this gathers every shard so that every rank holds the whole state
 * (before a checkpoint is written).  Collective over the trainer's ranks. */
void trainer_sync_state(dt_trainer *t);

/* Full-batch loss and mean gradient over all ranks (each rank a block of the
 * rows): grads receives the mean gradient including the penalty terms,
 * identical on every rank; returns the mean loss plus the penalty. */
double trainer_full_batch(dt_comm *comm, dt_model *m, const dt_dataset *ds, double l2,
                          double l1);

#endif
