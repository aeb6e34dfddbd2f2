/* dtrain: everything a training run holds, set up from a configuration.
 *
 * session_setup reads and checks the data, fits and applies the normalisation,
 * builds the model (rank 0's initial weights broadcast to all), the optimizer
 * and the trainer.  It is collective: a failure on any rank is agreed, so every
 * rank returns the same error and none is left waiting. */
#ifndef DTRAIN_SESSION_H
#define DTRAIN_SESSION_H

#include "dtrain/checkpoint.h"
#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/dataset.h"
#include "dtrain/model.h"
#include "dtrain/optim.h"
#include "dtrain/schedule.h"
#include "dtrain/secondorder.h"
#include "dtrain/trainer.h"

/* Where a run stands, for the step and epoch callbacks (the same values on
 * every rank). */
typedef struct {
    int64_t epoch;      /* 1-based: the epoch the step belongs to, or the epoch just ended */
    int64_t step;       /* steps taken since the start of the run (a resumed run counts on) */
    double train_loss;  /* on a step: the mean loss of its global batch (with the L1/L2
                           penalty); at an epoch: the epoch's mean, as its line shows */
    double eval_loss;   /* the epoch's evaluation set (valid or test): loss, and accuracy for */
    double eval_metric; /* a classifier or RMSE for regression; NaN on steps and without one */
    double lr;          /* the learning rate of the last step */
    double seconds;     /* training time so far (epochs only; 0 on steps) */
} dt_run_info;

/* A callback after a step or an epoch; nonzero asks the run to stop. */
typedef int (*dt_run_hook)(void *user, const dt_run_info *info);

/* Where an epoch stands, for a progress display on rank 0 (rank 0's view:
 * no communication is spent on it). */
typedef struct {
    int64_t epoch, epochs;      /* 1-based epoch in progress, of --epochs */
    int64_t batch, batches;     /* global batches done in it, of all its batches */
    int64_t samples, n_samples; /* training samples done in it, of all its samples */
    double seconds;             /* since the epoch (or this process's part of it) began */
    double rate;                /* training samples per second over those seconds */
    double loss;                /* mean training loss so far in the epoch over rank 0's
                                   slices: an estimate of the epoch's, NaN before a step */
    double lr;                  /* the learning rate of the last step */
} dt_tick;

typedef void (*dt_tick_hook)(void *user, const dt_tick *tick);

typedef struct {
    const dt_config *cfg; /* borrowed */
    dt_comm *comm;        /* borrowed */
    dt_dataset train;
    dt_dataset eval;      /* the set --monitor watches and every epoch reports: /valid,
                             a share of the training split held out (--valid-split, or
                             10% when early stopping or the plateau schedule needs one),
                             else /test; empty (eval.n == 0) if none */
    const char *eval_name; /* "valid" or "test" */
    int validating;        /* eval is a validation set ("valid"), not the test set */
    dt_dataset test;      /* with a validation set: the file's test group, if any,
                             reported after every epoch and at the end, never watched */
    char eval_src[DT_PATH_MAX + 64], test_src[DT_PATH_MAX + 64]; /* where each set comes from, for the final lines */
    dt_histlog log;        /* rank 0: --log, open while it is written (a failed write
                              closes it) */
    int complete;          /* resumed from a checkpoint that had reached --epochs:
                              nothing to train, save or write */
    dt_norm norm;
    dt_model model;
    dt_optim optim;
    dt_trainer trainer;
    int n_classes;        /* classifiers: softmax K, sigmoid 2; 0 for linear */
    dt_progress progress; /* where the run stands (restored by --resume) */
    char resumed_from[DT_PATH_MAX]; /* checkpoint resumed from, "" if fresh */
    fs_dir_lock dir_lock; /* rank 0: --checkpoint-dir's locks (ckpt_claim_dir); zeroed: none */
    dt_eval last_eval;    /* the last epoch's evaluation */
    dt_sched sched;       /* learning-rate schedule (first order) */
    int second_order;     /* --optimizer lbfgs, bfgs or newton */
    dt_so_kind so_kind;
    dt_so so;             /* second-order state */
    double *x;            /* owned if second order: the parameters in double */
    float *best;          /* owned if --early-stopping: the best epoch's parameters */
    double monitor;       /* the last epoch's --monitor value */
    int ran_out;          /* training ended at --epochs, not stopped early: whether it
                             had converged is reported (session_report) */
    int n_metrics;        /* --metrics: how many, which (dt_metric values) */
    int metrics[8];
    float *pred;          /* owned if --metrics: this rank's evaluation outputs */
    /* What the caller allows the run to do to its process (0 after setup;
     * set before session_train).  The command line sets both. */
    int signals;  /* the caller installed signals_install's handlers: a stop signal ends
                     the run at a safe point, and with no --checkpoint-dir the handlers
                     are put back to the default actions when training begins */
    int watchdog; /* --step-timeout may start the watchdog thread (watchdog.h), which ends
                     the process when a step stalls; without this --step-timeout is unused */
    /* Callbacks (NULL: none; set before session_train), called on every rank.
     * A stop asked for on any rank is agreed: the run ends on every rank after
     * that step (its checkpoint, if --checkpoint-dir, written) or epoch, as
     * early stopping would end it; session_train returns DT_OK and sets
     * stopped_by_hook.  on_step costs two small allreduces per step (the
     * batch's loss, the decision); first-order optimizers only (a
     * second-order iteration is its epoch). */
    dt_run_hook on_step, on_epoch;
    void *hook_user;
    /* Rank 0 only, between steps, at most every tick_every seconds within an
     * epoch (NULL: none); never collective, so it cannot stop the run. */
    dt_tick_hook on_tick;
    void *tick_user;
    double tick_every;
    int stopped_by_hook;
} dt_session;

/* With cfg->resume set, the checkpoint chosen by rank 0 (ckpt_find) supplies
 * the normalisation, parameters, optimizer state and progress.  cfg->output
 * not given (< 0) is set to the head chosen from the training y (class
 * labels: softmax; float targets: linear; docs/training.md#model), and a given one
 * that contradicts y is refused (DT_EUSAGE); cfg is otherwise unchanged and
 * must outlive the session. */
dt_status session_setup(dt_session *s, dt_config *cfg, dt_comm *comm, dt_error *err);

/* session_setup's first step alone, for a caller that needs the head
 * before (cv): cfg->output chosen from cfg->data's training y, or the given
 * one checked against it.  Collective; agreed. */
dt_status session_choose_head(dt_config *cfg, dt_comm *comm, dt_error *err);

/* The same with data already in memory (cross-validation folds): the session
 * takes ownership of *train and *valid (both zeroed on return; valid may be
 * NULL or empty) instead of reading cfg->data.  Every rank passes the same sets;
 * cfg->output not given follows their kind (labels: softmax, else linear). */
dt_status session_setup_with(dt_session *s, dt_config *cfg, dt_comm *comm,
                             dt_dataset *train, dt_dataset *valid, dt_error *err);

/* Train from the current progress to cfg->epochs, logging one line per epoch
 * (dt_info) and writing checkpoints as configured.  Returns DT_PREEMPTED, with
 * err saying how to resume, when a signal or --stop-at-step ended the run
 * early after a checkpoint. */
dt_status session_train(dt_session *s, dt_error *err);

/* Log lines (dt_info) describing the run set up: the data, the model, the
 * optimizer and the batches. */
void session_describe(const dt_session *s);

/* After session_train: the final metrics of the evaluation set (or of the
 * training set without one), the file's test group when the epochs watched a
 * validation set, and with --profile the memory used.  Collective. */
dt_status session_report(dt_session *s, dt_error *err);

/* The parts a checkpoint holds, as views into s. */
dt_ckpt_parts session_parts(dt_session *s);

void session_free(dt_session *s);

#endif
