/* dtrain.h: data-parallel training of multilayer perceptrons, embedded in a
 * program that already runs MPI.
 *
 * The whole public interface of libdtrain.  A run lives on a communicator
 * the program passes in (MPI_COMM_WORLD or any other); every rank of it
 * holds the same model, computes gradients on its slice of each global
 * mini-batch, and the ranks sum them, so the result does not depend on the
 * number of ranks.  The use it is designed for is in-situ training: a
 * simulation whose ranks each produce rows of data trains a surrogate model
 * on them as it runs, then predicts with it.
 *
 *     dtrain_run *run;
 *     dtrain_create(&run, comm);                          // collective
 *     dtrain_set(run, "layers", "32:tanh,32:tanh");       // the command line's options
 *     dtrain_set(run, "output", "linear");
 *     dtrain_set(run, "epochs", "50");
 *     dtrain_set_data(run, X, y, my_rows, n_features, 1); // each rank its own rows
 *     dtrain_on_epoch(run, my_epoch_callback, &state);    // logging, stopping early
 *     if (dtrain_train(run) != DTRAIN_OK)                 // collective
 *         fprintf(stderr, "%s\n", dtrain_errmsg(run));
 *     dtrain_predict(run, Xq, n_query, out);              // local
 *     dtrain_save(run, "surrogate.h5");                   // collective
 *     dtrain_free(run);                                   // collective
 *
 * Conventions.
 * - Every function returns a dtrain_status; on failure dtrain_errmsg(run)
 *   gives one line naming the option, file or argument concerned.  Nothing
 *   calls exit() or MPI_Abort; MPI is initialised and finalised by the
 *   program, never here.
 * - Collective functions must be called by every rank of the run's
 *   communicator, in the same order, with the same settings; their failures
 *   are agreed, so every rank returns the same status and message.  The
 *   others are local.
 * - The library prints nothing.  Log lines (the command line's epoch lines,
 *   warnings) go to the callback given to dtrain_on_log, if any.
 * - It installs no signal handler and starts no thread of its own unless
 *   asked (dtrain_allow).  The "threads" option (default 1) sets the
 *   OpenMP and OpenBLAS thread counts of the process, which the compute
 *   kernels use.
 * - A run is used from one thread at a time.  Two runs (on two
 *   communicators, say) are independent.
 * - A call given a NULL run returns DTRAIN_EUSAGE and dtrain_errmsg(NULL)
 *   names the call (dtrain_n_inputs and dtrain_n_outputs return 0,
 *   dtrain_free does nothing).  A call on a run from inside one of that
 *   run's callbacks (step, epoch, tick, log) is refused with DTRAIN_EBUSY
 *   and changes nothing: the call that made the callback is still using the
 *   run.  Both refusals are local (nothing is agreed or sent).
 * - Arrays are row-major float: X is (rows, n_features), y (rows, n_targets).
 *   The library copies what it is given; the caller keeps ownership of its
 *   arrays and may free them when a call returns.
 */
#ifndef DTRAIN_PUBLIC_H
#define DTRAIN_PUBLIC_H

#include <mpi.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: only these names are
 * exported from libdtrain.so. */
#if defined(__GNUC__)
#define DTRAIN_API __attribute__((visibility("default")))
#else
#define DTRAIN_API
#endif

/* The library's version, "MAJOR.MINOR.PATCH" (static storage). */
DTRAIN_API const char *dtrain_version(void);

/* What a call returns.  The values are the command line's exit causes
 * (but DTRAIN_EBUSY, which the command line never meets, and DTRAIN_STOPPED,
 * for which it exits with 128 + the signal's number). */
typedef enum {
    DTRAIN_OK = 0,         /* success */
    DTRAIN_EUSAGE = 2,     /* a bad option, argument or data: the caller can fix it */
    DTRAIN_EIO = 3,        /* a file could not be read or written */
    DTRAIN_ENOMEM = 4,     /* out of memory */
    DTRAIN_ENUM = 5,       /* the training diverged (NaN or Inf) */
    DTRAIN_EBUSY = 6,      /* called from a callback of the same run: refused, nothing
                              changed; call it after the call in progress returns */
    DTRAIN_STOPPED = 7,    /* stopped by a signal (DTRAIN_ALLOW_SIGNALS) at a step boundary
                              without "checkpoint-dir": nothing was saved, the run holds
                              no model; the command line exits with 128 + the signal's
                              number */
    DTRAIN_EINTERNAL = 70, /* a defect in dtrain or a library under it */
    DTRAIN_PREEMPTED = 75  /* stopped by a signal or "stop-at-step" after writing a
                              checkpoint ("checkpoint-dir"); "resume" continues */
} dtrain_status;

/* One training run and the model it holds: opaque, created by dtrain_create,
 * freed by dtrain_free. */
typedef struct dtrain_run dtrain_run;

/* Create a run on comm (duplicated: the run's messages never mix with the
 * program's; the program may free comm afterwards).  MPI must be
 * initialised.  Collective over comm.  On success *run is a new run the
 * caller frees with dtrain_free; on failure *run is set to NULL (unless
 * run is NULL itself) and the status says why: DTRAIN_ENOMEM, or
 * DTRAIN_EUSAGE for run NULL (on any rank: agreed), MPI not initialised or
 * already finalised, or comm MPI_COMM_NULL (refused before any MPI call on
 * it, so a rank left out of an MPI_Comm_split gets the status, and the
 * ranks of the new communicator are not involved). */
DTRAIN_API dtrain_status dtrain_create(dtrain_run **run, MPI_Comm comm);

/* Free the run, its data and its model.  Collective.  NULL is allowed.
 * From inside one of the run's own callbacks it does nothing (the run is
 * in use; it has no status to refuse with). */
DTRAIN_API void dtrain_free(dtrain_run *run);

/* The message of the last failed call on run ("" if none).  For run NULL,
 * the message of this thread's last failed dtrain_create or call given a
 * NULL run (static storage).  Valid until the next call on run.  Local. */
DTRAIN_API const char *dtrain_errmsg(const dtrain_run *run);

/* Set option key to value, as `dtrain train --key value` or a YAML config
 * file would: the same names, values and ranges (`dtrain train --help` lists
 * them; a flag takes "1" or "0").  For example "layers" "64:relu,32:relu",
 * "output" "softmax|sigmoid|linear", "optimizer" "adam", "lr" "1e-3",
 * "batch-size" "64", "epochs" "20", "seed" "1", "valid-split" "0.2",
 * "early-stopping" "5", "data" "file.h5" (train on an HDF5 file instead of
 * arrays), "checkpoint-dir" "DIR".  key "config" reads a YAML file of such
 * options now (later calls override it).  "save" "FILE.h5" makes dtrain_train
 * save the model at its end (its path checked before training), as
 * dtrain_save would.  DTRAIN_EUSAGE, with a message naming the key, for an
 * unknown key (with a suggestion) or a bad value (for "config", any bad
 * entry of the file); a failed set changes no option, so "layers"
 * "16:relu,8:bogus" keeps the layers set before.  Local: every rank must
 * make the same settings before dtrain_train. */
DTRAIN_API dtrain_status dtrain_set(dtrain_run *run, const char *key, const char *value);

/* The training data, from arrays: this rank's n_rows rows of X (n_rows,
 * n_features) and y (n_rows, n_targets).  Every rank passes its own rows
 * (any number, 0 included) and the run gathers them, in rank order, so that
 * every rank holds the whole set, as training needs (each rank takes its
 * slice of each global batch).  For a classifier ("output" softmax or
 * sigmoid) y is one column of class labels 0, 1, ... stored as float; for
 * "output" linear, n_targets values per row.  Values must be finite.
 * Without "output" the values choose the head when dtrain_train starts, by
 * dtrain convert --label-type auto's rule (README "Model"): one column of
 * whole numbers >= 0 that looks like class labels gives softmax, anything
 * else linear; the choice is logged in one line.  (With option "data", the
 * file's y type chooses: integer labels softmax, float targets linear.)
 * Replaces earlier data and overrides the "data" option.  Collective; the
 * arrays are copied, and the run keeps the gathered rows (all of them, on
 * every rank) for later dtrain_train calls until the next dtrain_set_data
 * or dtrain_free.  At most 2 GiB of X in all (one gather); a larger set
 * belongs in an HDF5 file (option "data"), which the ranks of a node share. */
DTRAIN_API dtrain_status dtrain_set_data(dtrain_run *run, const float *X, const float *y,
                                         int64_t n_rows, int64_t n_features, int64_t n_targets);

/* The evaluation data the epochs report on (and "early-stopping" watches),
 * from arrays, gathered as dtrain_set_data's; the same shapes.  Without it,
 * a "valid-split" fraction of the training rows is held out, or nothing is
 * evaluated.  n_rows 0 on every rank removes it.  Collective. */
DTRAIN_API dtrain_status dtrain_set_eval_data(dtrain_run *run, const float *X,
                                              const float *y, int64_t n_rows,
                                              int64_t n_features, int64_t n_targets);

/* Where a run stands, passed to the step and epoch callbacks.  The same
 * values on every rank. */
typedef struct {
    int64_t epoch;      /* 1-based: the epoch the step is in, or the epoch just ended */
    int64_t step;       /* optimizer steps taken so far */
    double train_loss;  /* a step: the mean loss over its global batch; an epoch: the
                           epoch's mean training loss (both with any L1/L2 penalty) */
    double eval_loss;   /* the evaluation set's mean loss after the epoch; NaN on a step
                           or without evaluation data */
    double eval_metric; /* its accuracy (classifier) or RMSE (linear); NaN likewise */
    double lr;          /* the learning rate of the last step */
    double seconds;     /* training time so far; 0 on a step */
} dtrain_info;

/* A callback after each step or epoch.  user is what was registered with
 * it.  Return 0 to go on, nonzero to stop training now: the decision is
 * agreed, so if any rank asks, every rank stops after this step or epoch and
 * dtrain_train returns DTRAIN_OK with the model as it is then. */
typedef int (*dtrain_progress_fn)(void *user, const dtrain_info *info);

/* Call fn after every optimizer step (NULL: no longer).  It costs two small
 * allreduces per step (the batch's loss and the stop decision).  Only the
 * first-order optimizers have steps; the second-order ones (lbfgs, bfgs,
 * newton) call the epoch callback only.  Local, but set it on every rank. */
DTRAIN_API dtrain_status dtrain_on_step(dtrain_run *run, dtrain_progress_fn fn, void *user);

/* Call fn after every epoch, after its evaluation (NULL: no longer).  Local,
 * but set it on every rank. */
DTRAIN_API dtrain_status dtrain_on_epoch(dtrain_run *run, dtrain_progress_fn fn, void *user);

/* Where an epoch stands, for a progress display: the view of the run's rank
 * 0, which spends no communication on it. */
typedef struct {
    int64_t epoch, epochs;      /* 1-based epoch in progress, of the epochs option */
    int64_t batch, batches;     /* global batches done in it, of all its batches */
    int64_t samples, n_samples; /* training samples done in it, of all its samples */
    double seconds;             /* since the epoch (or this process's part of it) began */
    double rate;                /* training samples per second over those seconds */
    double loss;                /* mean training loss so far in the epoch over rank 0's
                                   share of the batches: an estimate, NaN before a step */
    double lr;                  /* the learning rate of the last step */
} dtrain_tick;

typedef void (*dtrain_tick_fn)(void *user, const dtrain_tick *tick);

/* Call fn on rank 0 of the run's communicator between steps, at most every
 * `every` seconds within an epoch (NULL: no longer).  No rank waits for it
 * and it cannot stop the run (dtrain_on_step can).  Set it on every rank;
 * only rank 0 calls it. */
DTRAIN_API dtrain_status dtrain_on_tick(dtrain_run *run, dtrain_tick_fn fn, void *user,
                                        double every);

/* How much a log line matters. */
typedef enum {
    DTRAIN_LOG_INFO = 1, /* progress and what was chosen: the command line's stdout lines */
    DTRAIN_LOG_WARN = 2  /* something works but may surprise */
} dtrain_log_level;

/* A log line: one line of text without its newline, valid during the call. */
typedef void (*dtrain_log_fn)(void *user, dtrain_log_level level, const char *line);

/* Receive the run's log lines at min_level and above, on every rank that
 * produces them (most are the same on every rank: print rank 0's for one
 * copy).  fn NULL: silence, the default.  Local. */
DTRAIN_API dtrain_status dtrain_on_log(dtrain_run *run, dtrain_log_fn fn, void *user,
                                       dtrain_log_level min_level);

/* What the run may do to the process; nothing unless allowed. */
enum {
    /* Install handlers for SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 now (they
     * replace the program's): a signal then stops training at the next step
     * with a checkpoint, if "checkpoint-dir" is set, and dtrain_train returns
     * DTRAIN_PREEMPTED; a second signal while stuck ends the process.
     * Without "checkpoint-dir" the run stops at the next step with nothing
     * saved and dtrain_train returns DTRAIN_STOPPED (a second-order
     * optimizer, which has no steps, puts the default actions back when
     * training begins instead). */
    DTRAIN_ALLOW_SIGNALS = 1u << 0,
    /* Let "step-timeout" start a watchdog thread per rank that ends the
     * process (status 4, a line on stderr) when a step stalls longer: a hung
     * rank cannot hold the job.  It runs from the start of dtrain_train's
     * set-up, where it ends the job only for a rank of the host that has
     * not responded for that long.  Without this, "step-timeout" is refused. */
    DTRAIN_ALLOW_WATCHDOG = 1u << 1
};

/* Allow what the flags (DTRAIN_ALLOW_*, or-ed) name.  Local; allow the same
 * on every rank. */
DTRAIN_API dtrain_status dtrain_allow(dtrain_run *run, unsigned flags);

/* Train a new model from the options and the data (arrays, or the "data"
 * file): normalise (statistics of the training rows), build, train for
 * "epochs" epochs or until a callback or "early-stopping" stops it, report
 * the final metrics (and the file's test group when the epochs watched a
 * validation set), and save it if "save" was set.  The log callback
 * receives what `dtrain train` prints: the data and model, one line per
 * epoch, the final metrics.  The run then holds the model for dtrain_predict
 * and dtrain_save (replacing any model trained or loaded before).
 * DTRAIN_EUSAGE, naming dtrain_set_data, when the arrays hold no training
 * row on any rank.  Collective. */
DTRAIN_API dtrain_status dtrain_train(dtrain_run *run);

/* Number of input features and of outputs per row of the run's model; 0
 * when it has none, and for run NULL.  Local. */
DTRAIN_API int64_t dtrain_n_inputs(const dtrain_run *run);
DTRAIN_API int64_t dtrain_n_outputs(const dtrain_run *run);

/* The model's outputs for n rows X (n, dtrain_n_inputs) into out (n,
 * dtrain_n_outputs): class probabilities (softmax), P(class 1) (sigmoid) or
 * values (linear, in the targets' units whether or not the model learnt them
 * standardised: "normalize-targets"), with the training normalisation applied
 * to X first.
 * Local: each rank predicts its own rows.  DTRAIN_EUSAGE if the run has no
 * model. */
DTRAIN_API dtrain_status dtrain_predict(dtrain_run *run, const float *X, int64_t n, float *out);

/* The names of the model's classes, when it has them: the "/classes" of the
 * "data" file it was trained on (`dtrain convert` writes them for text
 * labels and for integer labels other than 0..K-1) or of the file
 * dtrain_load read.  On DTRAIN_OK *names is an array of *n NUL-terminated
 * UTF-8 strings, class k's name at [k] (the class whose probability is
 * column k of dtrain_predict's softmax output; a sigmoid's column is class
 * 1's); owned by the run, valid until the next dtrain_train, dtrain_load or
 * dtrain_free; not to be freed.  A model without names (trained on arrays, or
 * on labels that are their own numbers, or a regression) gives *names NULL
 * and *n 0.  DTRAIN_EUSAGE if names or n is NULL or the run has no model.
 * Local. */
DTRAIN_API dtrain_status dtrain_class_names(dtrain_run *run, const char *const **names,
                                            int64_t *n);

/* Save the run's model (layers, weights, normalisation, options) to the
 * HDF5 file path, the layout `dtrain predict` and `dtrain eval` read; rank 0
 * writes through a temporary file renamed into place.  Collective.
 * DTRAIN_EUSAGE, nothing written, where `dtrain train --save` would refuse
 * path: anything but a regular file (a FIFO, a device, a symbolic link), a
 * file the model came from (the "data", "init-from" and "config" files, the
 * checkpoint resumed from, dtrain_load's file; by device and inode), the
 * run's "log", or a file of its "checkpoint-dir". */
DTRAIN_API dtrain_status dtrain_save(dtrain_run *run, const char *path);

/* Load a model saved by dtrain_save or `dtrain train --save` into the run,
 * for dtrain_predict, replacing any model it held once the file is read on
 * every rank (both are in memory for that moment); on failure the run keeps
 * the model it held.  Collective. */
DTRAIN_API dtrain_status dtrain_load(dtrain_run *run, const char *path);

/* ---- how messages name options ---- */

/* How a run's messages (dtrain_errmsg, the log lines) name an option. */
typedef enum {
    DTRAIN_NAMES_KEYS = 0, /* by the key dtrain_set takes: "lr: -1 is out of range ..."
                              (the default) */
    DTRAIN_NAMES_FLAGS = 1 /* as a command line's flag: "--lr: -1 is out of range ...",
                              for a program whose users type flags (dtrain's own) */
} dtrain_names;

/* Name options in the run's messages from now on as names says.  Local;
 * DTRAIN_EUSAGE for a value that is not a dtrain_names. */
DTRAIN_API dtrain_status dtrain_name_options(dtrain_run *run, dtrain_names names);

/* The option the run's last failure concerns, when it concerns one option
 * (a value dtrain_set refuses, a value that does not fit the data or the
 * other options, a required option not set): its key, as dtrain_set takes
 * it whatever dtrain_name_options chose; NULL when the failure concerns no
 * one option, when the last call succeeded, and for run NULL.  *missing (if
 * missing is not NULL) is 1 when that option is required and was not set
 * (a command line points its user at its help), else 0.  The text belongs
 * to the run, valid until its next call.  Local. */
DTRAIN_API const char *dtrain_err_option(const dtrain_run *run, int *missing);

/* The one line the "step-timeout" watchdog prints before it ends the process
 * (to stderr, from its own thread: it cannot go through a log callback)
 * begins with prefix (what the program calls itself: "dtrain train: error: "
 * for the command line; copied, up to 63 bytes) and names the option as
 * names says.  Without this call it begins "dtrain: error: " and names the
 * option as the run that starts the watchdog names options.  Process-wide
 * and local; call it before the watchdog starts (DTRAIN_ALLOW_WATCHDOG):
 * while it runs the call changes nothing.  DTRAIN_EUSAGE for prefix NULL or
 * a names that is not a dtrain_names. */
DTRAIN_API dtrain_status dtrain_watchdog_voice(const char *prefix, dtrain_names names);

#ifdef __cplusplus
}
#endif

#endif
