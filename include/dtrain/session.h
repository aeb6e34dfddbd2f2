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

/* The sets a run trains and evaluates on, and where they come from.  Owned;
 * filled by set-up's data stages (session_data.c: read and checked, the
 * validation set held out; session_setup.c: normalised), read-only after. */
typedef struct {
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
    int n_classes;        /* classifiers: softmax K, sigmoid 2; 0 for linear */
} dt_session_data;

/* The model and the normalisation of its inputs.  Owned; built by set-up
 * (normalise, build_model, scale_targets); the loop updates the parameters. */
typedef struct {
    dt_norm norm;
    dt_model model;
} dt_session_net;

/* How a step is made: the first-order optimizer (an inert sgd for second
 * order, which the checkpoint still saves), its learning-rate schedule, and
 * the trainer (batches, reduction, step count, also for second order).
 * Owned; built by set-up (build_trainer), driven by the loop. */
typedef struct {
    dt_optim optim;
    dt_sched sched;       /* learning-rate schedule (first order) */
    dt_trainer trainer;
} dt_session_opt;

/* Second-order methods (--optimizer lbfgs, bfgs or newton): one full-batch
 * iteration per epoch on the parameters in double.  Owned when on; built by
 * set-up (build_second_order), stepped by the loop. */
typedef struct {
    int on;               /* --optimizer is second order: the rest is in use */
    dt_so_kind kind;
    dt_so state;
    double *x;            /* the parameters in double (owned) */
} dt_session_so;

/* What --monitor watches, for early stopping and the plateau schedule.
 * Written by the loop after every epoch. */
typedef struct {
    double value;         /* the last epoch's --monitor value */
    float *best;          /* owned if --early-stopping: the best epoch's parameters */
} dt_session_watch;

/* --metrics, and the buffers and results of evaluating the sets.  Chosen by
 * set-up (check_metrics); written by the loop and the report. */
typedef struct {
    int n;                /* --metrics: how many, which (dt_metric values) */
    int which[8];
    float *pred;          /* owned if --metrics: this rank's evaluation outputs */
    dt_eval last_eval;    /* the last epoch's evaluation of the watched set */
} dt_session_metrics;

/* Where the run stands.  Set by set-up (a resumed run from its checkpoint),
 * advanced by the loop, read by the report and by checkpoints. */
typedef struct {
    dt_progress progress; /* where the run stands (restored by --resume) */
    char resumed_from[DT_PATH_MAX]; /* checkpoint resumed from, "" if fresh */
    int complete;          /* resumed from a checkpoint that had reached --epochs:
                              nothing to train, save or write */
    int ran_out;           /* training ended at --epochs, not stopped early: whether it
                              had converged is reported (session_report) */
} dt_session_state;

/* What rank 0 holds open for the run's outputs.  Set up by set-up
 * (claim_outputs, start_log), closed by the loop (the log) and session_free. */
typedef struct {
    dt_histlog log;        /* rank 0: --log, open while it is written (a failed write
                              closes it) */
    fs_dir_lock dir_lock;  /* rank 0: --checkpoint-dir's locks (ckpt_claim_dir); zeroed: none */
} dt_session_files;

/* What the caller allows the run to do to its process (0 after setup; set
 * before session_train).  The command line sets both. */
typedef struct {
    int signals;  /* the caller installed signals_install's handlers: a stop signal ends
                     the run at a safe point, and with no --checkpoint-dir the handlers
                     are put back to the default actions when training begins */
    int watchdog; /* --step-timeout may start the watchdog thread (watchdog.h), which ends
                     the process when a step stalls; without this --step-timeout is unused */
} dt_session_allow;

/* The caller's callbacks (NULL: none; set before session_train), called on
 * every rank.  A stop asked for on any rank is agreed: the run ends on every
 * rank after that step (its checkpoint, if --checkpoint-dir, written) or
 * epoch, as early stopping would end it; session_train returns DT_OK and
 * sets stopped.  on_step costs two small allreduces per step (the batch's
 * loss, the decision); first-order optimizers only (a second-order iteration
 * is its epoch). */
typedef struct {
    dt_run_hook on_step, on_epoch;
    void *user;
    /* Rank 0 only, between steps, at most every tick_every seconds within an
     * epoch (NULL: none); never collective, so it cannot stop the run. */
    dt_tick_hook on_tick;
    void *tick_user;
    double tick_every;
    int stopped;  /* set by session_train: a callback asked the run to stop */
} dt_session_hooks;

/* A training run: each part says who fills it and who reads it. */
typedef struct {
    const dt_config *cfg; /* borrowed */
    dt_comm *comm;        /* borrowed */
    dt_session_data data;
    dt_session_net net;
    dt_session_opt opt;
    dt_session_so so;
    dt_session_watch watch;
    dt_session_metrics metrics;
    dt_session_state state;
    dt_session_files files;
    dt_session_allow allow;   /* the caller's: set before session_train */
    dt_session_hooks hooks;   /* the caller's: set before session_train */
} dt_session;

/* With cfg->resume set, the checkpoint chosen by rank 0 (ckpt_find) supplies
 * the normalisation, parameters, optimizer state and progress.  cfg->output
 * not given (< 0) is set to the head chosen from the training y (class
 * labels: softmax; float targets: linear; README "Model"), and a given one
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
