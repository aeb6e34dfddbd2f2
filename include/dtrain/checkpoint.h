/* dtrain: checkpoints -- everything needed to continue a run bit for bit.
 *
 * One HDF5 file per checkpoint, DIR/step-NNNNNNNN.h5 (DIR/step-NNNNNNNN-LINEAGE.h5
 * when another lineage's file has that name: never replaced), written by rank 0 (the
 * replicas are identical) to a temporary name, fsync'd, renamed into place and
 * the directory fsync'd; then DIR/latest.h5, a symbolic link, is pointed at it
 * and, with keep > 0, the run's older checkpoints are deleted.  A crash at any moment
 * leaves the previous checkpoint complete.  Layout:
 *
 *   /                attrs: format_version, dtrain_version, mpi_version, hdf5_version,
 *                           gemm_version, lapack_version, ranks, created,
 *                           lineage (16 hex digits: the run's id, ckpt_lineage),
 *                           checksum (h5io_digest of everything else in the file;
 *                           format 1: FNV-1a 64 of the parameter bytes, the optimizer
 *                           state bytes and its step count)
 *   /model, /normalization, /config     as a saved model (modelio.h)
 *   /optimizer       attrs: kind, t (updates taken); dataset state (float32) if any
 *   /progress        attrs: epoch (in progress, 0-based), batch (next batch index in it),
 *                           step (global updates), seconds (training time so far),
 *                           n_train, n_features, n_outputs (data shape), seed;
 *                    dataset rank_loss (float64, one per rank: loss sums of the epoch so far)
 *                    attrs plateau_best, plateau_scale, plateau_bad, plateau_cooldown,
 *                           es_best, es_best_epoch, es_bad (schedule, early stopping)
 *   /early_stopping/best   float32 (n_params): the best epoch's parameters, if enabled
 *   /second_order    state, x (float64): the lbfgs/bfgs/newton state and parameters
 *   /history         dataset epochs (float64, epochs x columns), attr columns: every
 *                    figure of every epoch so far, named as in history.h
 *
 * Random numbers: dtrain draws them from counters (seed, stream, index), never
 * from a running generator, so the seed alone restores every random state. */
#ifndef DTRAIN_CHECKPOINT_H
#define DTRAIN_CHECKPOINT_H

#include <stdint.h>
#include "dtrain/comm.h"
#include "dtrain/dataset.h"
#include "dtrain/fsutil.h"
#include "dtrain/history.h"
#include "dtrain/modelio.h"
#include "dtrain/model.h"
#include "dtrain/optim.h"
#include "dtrain/schedule.h"
#include "dtrain/secondorder.h"

/* 2: the checksum covers the whole file (h5io_digest); 1: only the
 * parameters, the optimizer state and its step count (still read). */
#define CKPT_FORMAT_VERSION 2

/* Where a run stands; what a checkpoint saves beyond model and optimizer. */
typedef struct {
    int64_t epoch;       /* epoch in progress, 0-based */
    int64_t batch;       /* next batch index within it */
    int64_t step;        /* global updates taken */
    double local_loss;   /* this rank's loss sum over the epoch's batches so far */
    double seconds;      /* training time before the current process started */
    dt_history hist;     /* every epoch's figures (its columns set before a load) */
    dt_plateau_state plateau; /* the plateau schedule's state */
    double es_best;      /* early stopping: best --monitor value so far */
    int64_t es_best_epoch, es_bad; /* its epoch (1-based, 0 = none yet), epochs since */
    uint64_t lineage;    /* the run's id (ckpt_lineage): --keep deletes only its files */
} dt_progress;

/* A fresh progress: the start of a run, its history without columns. */
void progress_init(dt_progress *p);
void progress_free(dt_progress *p);

/* Everything a checkpoint holds besides the progress. */
typedef struct {
    dt_saved_opts opts; /* the run's options (cfgsave_opts): /config, and a resume's check */
    dt_model *model;
    dt_optim *optim;
    dt_norm *norm;
    int64_t n_train;
    float *best;   /* early stopping's best parameters (n_params), or NULL */
    dt_so *so;     /* second-order state, or NULL */
    double *x;     /* second order: parameters in double (n_params), or NULL */
    int64_t steps_per_epoch; /* batches of an epoch: bounds a loaded position */
} dt_ckpt_parts;

/* 1 if base (a file name without its directory) is one a checkpoint
 * directory holds for the run: step-NNNNNNNN.h5, latest.h5, dtrain.lock, or
 * a temporary of one of them.  The run replaces and deletes those. */
int ckpt_owns_name(const char *base);
/* dir as fs_check_files's owned directory (dir "" : none). */
fs_owned_dir ckpt_owned_dir(const char *dir);

/* Local (rank 0, before anything reads or writes dir): make dir one run's
 * own.  Creates it if missing, takes the advisory locks on DIR and
 * DIR/dtrain.lock for the life of the process (fs_lock_dir; none where the
 * file system has no locks, with a warning), then deletes the temporaries that killed writes left behind
 * (step-NNNNNNNN.h5.tmp.PID, latest.h5.tmp.PID), saying how many.  DT_EUSAGE
 * naming the holder's host and PID if another run holds the lock. */
dt_status ckpt_claim_dir(const char *dir, fs_dir_lock *lock, dt_error *err);
/* Release what ckpt_claim_dir took (a zeroed lock: nothing). */
void ckpt_release_dir(fs_dir_lock *lock);

/* Collective: gather the ranks' partial losses, rank 0 writes
 * DIR/step-NNNNNNNN[-LINEAGE].h5 and updates latest.h5; with keep > 0 it then deletes
 * the older checkpoints of p->lineage beyond the newest `keep` (never the one
 * written, nor latest.h5's target, nor another lineage's); every rank
 * returns the same status.  written receives the path. */
dt_status ckpt_save(dt_comm *c, const char *dir, int64_t keep, const dt_ckpt_parts *parts,
                    const dt_progress *p, char *written, size_t len, dt_error *err);

/* Local: the checkpoint to resume from.  `spec` is a file, or "" to
 * search `dir`: latest.h5 first, then step-*.h5 newest first, skipping (with a
 * warning naming it) any that is unreadable or fails its checksum, and any of
 * another run than latest.h5's (its lineage: the file's name or attribute, read
 * even from a damaged file); latest.h5's run unknown (unreadable, or no
 * latest.h5), only when all usable checkpoints are of one run.  Otherwise
 * DT_EUSAGE listing the newest usable checkpoint of each run.  path gets
 * "" when there is no checkpoint at all.  A latest.h5 whose target is missing
 * is an error naming both (DT_EUSAGE). */
dt_status ckpt_find(const char *spec, const char *dir, char *path, size_t len, dt_error *err);

/* A new lineage id (random, never 0). */
uint64_t ckpt_new_lineage(void);
/* Local: the lineage of a run that resumed from `resumed` ("" for a fresh
 * start), whose checkpoint recorded `stored` (0: none): the same when it is the
 * checkpoint dir/latest.h5 names, or `searched` (ckpt_find chose it in dir:
 * latest.h5's run, or the one run there) -- a requeue continues its run; else
 * a new one (a fresh start, or a branch from an earlier checkpoint, whose
 * later checkpoints are another run's). */
uint64_t ckpt_lineage(const char *resumed, const char *dir, int searched, uint64_t stored);

/* Local: open path, check format version, that every group a resume reads is
 * there, every attribute in range and every array's declared size against
 * the file's model and progress (all before any array is read; errors say
 * "damaged checkpoint" and name the field), then the checksum. */
dt_status ckpt_verify(const char *path, dt_error *err);

/* Local: the normalisation saved in a checkpoint. */
dt_status ckpt_load_norm(const char *path, dt_norm *norm, dt_error *err);

/* Local: restore parameters, optimizer state and progress into an already
 * built model/optimizer after checking that the checkpoint fits: every
 * difference in architecture, output, optimizer or data shape, or in an
 * option that may not change, is listed in one error.  Options that may
 * change (epochs, lr, checkpoint cadence, ...) are reported with dt_info.
 * ranks is this run's rank count, rank this rank (for the partial losses). */
dt_status ckpt_load(const char *path, const dt_ckpt_parts *parts, int rank, int ranks,
                    dt_progress *p, dt_error *err);

#endif
