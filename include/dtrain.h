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
 *   asked (dtrain_allow).
 * - A run is used from one thread at a time.  Two runs are independent, one
 *   after the other in a process or at once on disjoint communicators (each
 *   process in one of them): each trains as it would alone, bit for bit,
 *   with its own options, data, model and callbacks.  Within one process,
 *   runs take turns: the library is called from one thread at a time (HDF5,
 *   built for MPI, is not thread-safe, and the compute kernels share one
 *   scratch memory), and dtrain_train refuses with DTRAIN_EBUSY (agreed)
 *   while another thread's dtrain_train is in progress.  A run may train
 *   from a callback of another run's dtrain_train on the same thread (every
 *   rank of its communicator calling it there), except when either run has
 *   "step-timeout" (DTRAIN_EBUSY, agreed: the watchdog, below).
 * - What belongs to the process, not to a run:
 *   - Signals.  DTRAIN_ALLOW_SIGNALS installs the process's handlers, which
 *     replace the program's and stay after dtrain_free.  A signal is the
 *     process's: once one has arrived, every run that allowed signals (and
 *     any with "checkpoint-dir") stops at its next safe point, and a later
 *     dtrain_train of a run that allowed them stops before its first step.
 *     DTRAIN_ALLOW_SIGNALS_SCOPED installs them for one dtrain_train at a
 *     time, whose return puts the program's back and takes the signal.
 *   - The watchdog.  "step-timeout" (DTRAIN_ALLOW_WATCHDOG) runs one thread
 *     in the process during dtrain_train, which ends the whole process with
 *     exit status 4 when a step stalls.  So no other run of the process
 *     trains while it watches, and it does not start under another run's
 *     training: dtrain_train refuses either with DTRAIN_EBUSY.
 *   - Thread counts.  The "threads" option (default 1) sets the OpenMP
 *     (the calling thread's) and OpenBLAS (the process's) thread counts
 *     when dtrain_train sets up; they stay so after it returns, for the
 *     compute of every later call (dtrain_predict, ...).  A dtrain_train
 *     inside another's callback puts back the other's counts as it returns.
 *   - The floating-point environment (x86's MXCSR) is set, not inherited:
 *     dtrain_train, dtrain_cv, dtrain_cv_refit and dtrain_bench compute
 *     with the run's "denormals" option (flush: FTZ and DAZ; keep: IEEE
 *     subnormals), dtrain_predict, dtrain_predict_file, dtrain_evaluate
 *     and dtrain_evaluate_file with the one the model was trained with (a
 *     file without it: flush), on the calling thread and the OpenMP threads
 *     that compute; each such call puts back every one of those threads'
 *     own setting as it returns, and the calling thread's during the run's
 *     callbacks.  Elsewhere than x86 the environment is the caller's.
 *   - HDF5's automatic printing of its error stack is turned off for the
 *     process when the library first opens a file (the library's messages
 *     say what failed).
 *   - oneDNN's engine and stream (handles to the CPU, no memory of a run's)
 *     are made once and kept; the compute kernels' scratch memory is shared
 *     by the process's models and freed with the last of them.
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
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* What a call returns.  The values are the library's own and stable; they
 * are not the command line's exit statuses.  `dtrain` exits with 0 for
 * DTRAIN_OK, 2 for DTRAIN_EUSAGE, 75 for DTRAIN_PREEMPTED (its value),
 * 128 + the signal's number for DTRAIN_STOPPED, and 1 for every other
 * status (README "Failure behaviour"); it never meets DTRAIN_EBUSY.  Its exit
 * status 4 is the step-timeout watchdog ending the process (as it does in
 * any program that allows it: DTRAIN_ALLOW_WATCHDOG), not DTRAIN_ENOMEM,
 * whose value is 4 too: a status is returned, never an exit status. */
typedef enum {
    DTRAIN_OK = 0,         /* success */
    DTRAIN_EUSAGE = 2,     /* a bad option, argument or data: the caller can fix it */
    DTRAIN_EIO = 3,        /* a file could not be read or written */
    DTRAIN_ENOMEM = 4,     /* out of memory */
    DTRAIN_ENUM = 5,       /* the training diverged (NaN or Inf) */
    DTRAIN_EBUSY = 6,      /* called from a callback of the same run: refused, nothing
                              changed; call it after the call in progress returns */
    DTRAIN_STOPPED = 7,    /* stopped by a signal (DTRAIN_ALLOW_SIGNALS or its _SCOPED
                              form) at a step boundary without "checkpoint-dir": nothing
                              was saved, the run holds no model; the command line exits
                              with 128 + the signal's number */
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
 * the message of this thread's last failed dtrain_create, call given a
 * NULL run, or call that takes no run (the options and process calls below;
 * static storage).  Valid until the next call on run.  Local. */
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
 * dtrain convert --label-type auto's rule (docs/training.md#model): one column of
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
    DTRAIN_ALLOW_WATCHDOG = 1u << 1,
    /* DTRAIN_ALLOW_SIGNALS for the duration of each dtrain_train only, for a
     * program with handlers of its own (Python's Ctrl-C): dtrain_train
     * installs the handlers as it begins and, as it returns (on every path),
     * puts back exactly the actions they replaced (sigaction's) and takes
     * the signal that arrived in the call, so the process's flag is clear
     * and a later dtrain_train starts clean.  Inside the call a signal stops
     * training as DTRAIN_ALLOW_SIGNALS says (a second-order optimizer
     * without "checkpoint-dir" puts the program's actions back instead);
     * afterwards dtrain_stop_signal gives the signal the call took, whatever
     * its status (one that came after the last step does not change the
     * status: the program may act on it then).  Excludes
     * DTRAIN_ALLOW_SIGNALS (DTRAIN_EUSAGE). */
    DTRAIN_ALLOW_SIGNALS_SCOPED = 1u << 2
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
/* The run's model's output: "softmax", "sigmoid" or "linear" (the "output"
 * option's names; a static string, not to be freed); NULL when it has no
 * model, and for run NULL.  Local. */
DTRAIN_API const char *dtrain_output(const dtrain_run *run);

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
 * labels and for integer labels other than 0..K-1), of the file (or image)
 * dtrain_load read, or those dtrain_set_class_names set.  On DTRAIN_OK
 * *names is an array of *n NUL-terminated UTF-8 strings, class k's name at
 * [k] (the class whose probability is column k of dtrain_predict's softmax
 * output; a sigmoid's column is class 1's); owned by the run, valid until
 * the next dtrain_train, dtrain_load, dtrain_load_image,
 * dtrain_set_class_names or dtrain_free; not to be freed.  A model without
 * names (trained on arrays, or on labels that are their own numbers, or a
 * regression) gives *names NULL and *n 0.  DTRAIN_EUSAGE if names or n is NULL or the run has no model.
 * Local. */
DTRAIN_API dtrain_status dtrain_class_names(dtrain_run *run, const char *const **names,
                                            int64_t *n);

/* Name the classes of the run's model: names[k] is class k's name (the
 * class of column k of dtrain_predict's softmax output; for a sigmoid, 2
 * names: class 0's, then class 1's), n the model's outputs (2 for a
 * sigmoid), or 0 to remove the names.  Each name is a non-empty UTF-8 text,
 * none twice.  The names are copied; dtrain_class_names then gives them, and
 * dtrain_save and dtrain_model_image write them where `dtrain convert`
 * writes a data file's (/classes), so `dtrain predict` and `dtrain eval`
 * print them and dtrain_load reads them back.  Until the next dtrain_train,
 * dtrain_load or dtrain_free.  DTRAIN_EUSAGE, changing nothing, if the run
 * has no model, its model is a regression ("output" linear), n is not the
 * number of classes, or names (or one of them) is NULL, empty, not UTF-8 or
 * repeated.  Local: set the same names on every rank before dtrain_save. */
DTRAIN_API dtrain_status dtrain_set_class_names(dtrain_run *run, const char *const *names,
                                                int64_t n);

/* Save the run's model (layers, weights, normalisation, options, class
 * names) to the HDF5 file path, the layout `dtrain predict` and `dtrain
 * eval` read; rank 0 writes through a temporary file renamed into place.  Collective.
 * DTRAIN_EUSAGE, nothing written, where `dtrain train --save` would refuse
 * path: anything but a regular file (a FIFO, a device, a symbolic link), a
 * file the model came from (the "data", "init-from" and "config" files, the
 * checkpoint resumed from, dtrain_load's file; by device and inode), the
 * run's "log", or a file of its "checkpoint-dir". */
DTRAIN_API dtrain_status dtrain_save(dtrain_run *run, const char *path);

/* Load a model saved by dtrain_save or `dtrain train --save` into the run,
 * for dtrain_predict, replacing any model it held once the file is read on
 * every rank (both are in memory for that moment); on failure the run keeps
 * the model it held.  A checkpoint (of "checkpoint-dir") is taken too, as
 * `dtrain eval` takes it: its format version and checksum are checked
 * first (DTRAIN_EUSAGE for a damaged one).  Collective. */
DTRAIN_API dtrain_status dtrain_load(dtrain_run *run, const char *path);

/* The bytes of the HDF5 file dtrain_save would write for the run's model
 * (the same content: layers, weights, normalisation, class names, and for a
 * trained model its options and epochs), in memory: for a program that
 * keeps or sends a model without a file (Python's pickle).  On DTRAIN_OK
 * *image is malloc'd, *len bytes, and the caller frees it with free(); on
 * failure *image is NULL and *len 0.  DTRAIN_EUSAGE if image or len is NULL
 * or the run has no model; DTRAIN_ENOMEM.  Local: no rank waits for
 * another, so any one rank may call it. */
DTRAIN_API dtrain_status dtrain_model_image(dtrain_run *run, void **image, size_t *len);

/* dtrain_load from len bytes at image (dtrain_model_image's, or a saved
 * model's or checkpoint's file read into memory), read through every check
 * a file is: bytes that are not such a file (truncated, damaged, anything
 * else) are DTRAIN_EUSAGE with a message, and the run keeps the model it
 * held.  The bytes stay the caller's (copied while read).  DTRAIN_EUSAGE
 * for image NULL or len 0.  Local: it loads the model on this rank alone
 * (dtrain_save of it is then collective as ever). */
DTRAIN_API dtrain_status dtrain_load_image(dtrain_run *run, const void *image, size_t len);

/* ---- options, the command line and the process ---- */

/* A parsed command line of one command: "--key value" arguments checked
 * against the option table that `dtrain COMMAND --help` prints, with a
 * "--config FILE.yaml" merged under them (the file's options, then the
 * command line's on top).  Opaque; dtrain_options_parse makes one and
 * dtrain_options_free frees it.  Every call on it is local and makes no MPI
 * call: a program may parse before MPI_Init (the command line does, to arm
 * the watchdog before MPI's start-up). */
typedef struct dtrain_options dtrain_options;

/* Parse argv[0..argc) (the arguments after the command's name) as options of
 * command ("train", "eval", "predict", "cv", "inspect", "convert",
 * "bench").  A command with a positional argument takes it bare ("inspect
 * FILE" is "inspect --file FILE").  "--help" or "-h" anywhere is recorded
 * (dtrain_options_help), not an error.  On DTRAIN_OK *opts is a new object
 * the caller frees with dtrain_options_free; on failure *opts is NULL and
 * dtrain_errmsg(NULL) names the option, argument or config file entry:
 * DTRAIN_EUSAGE for an unknown command or option (with a suggestion), a
 * missing or bad value, an option given twice, a config file that cannot
 * be read or holds a bad entry (its path and line); DTRAIN_ENOMEM.  Local. */
DTRAIN_API dtrain_status dtrain_options_parse(dtrain_options **opts, const char *command,
                                              int argc, char **argv);

/* Free opts (NULL allowed).  Local. */
DTRAIN_API void dtrain_options_free(dtrain_options *opts);

/* 1 if the command line asked for help (--help or -h), else 0 (and for
 * NULL).  Local. */
DTRAIN_API int dtrain_options_help(const dtrain_options *opts);

/* The command opts were parsed for ("train", ...): static storage.  Local. */
DTRAIN_API const char *dtrain_options_command(const dtrain_options *opts);

/* The value of option key of opts' command as text, the form the command
 * line takes (a flag "1" or "0", a value not given its default, "" for an
 * unset one), into buf of len bytes (NUL-terminated).  given, if not NULL,
 * receives 1 if the command line or its config file gave it.  DTRAIN_EUSAGE
 * (dtrain_errmsg(NULL) says why) for a key the command does not take, NULL
 * arguments, or a value longer than len - 1 (buf then holds "").  Local. */
DTRAIN_API dtrain_status dtrain_options_get(const dtrain_options *opts, const char *key,
                                            char *buf, size_t len, int *given);

/* Give run every option opts holds a value for (given on the command line or
 * in its config file), as dtrain_set of each would, but typed (no text
 * round trip); the run keeps the config file's name as an input that
 * dtrain_save refuses to replace.  Options of other commands than train
 * (eval's "model", say) are kept for the calls that read them.  Options
 * set before and not in opts stay.  DTRAIN_EUSAGE for opts NULL.  Local:
 * every rank must apply the same options. */
DTRAIN_API dtrain_status dtrain_set_options(dtrain_run *run, const dtrain_options *opts);

/* The value of the run's option key as text, the form dtrain_set reads back
 * to the same value (the options as set so far: defaults, dtrain_set,
 * dtrain_set_options), into buf of len bytes.  DTRAIN_EUSAGE for an unknown
 * key (with a suggestion), buf NULL, or a value longer than len - 1 (buf
 * then holds "").  Local. */
DTRAIN_API dtrain_status dtrain_get(dtrain_run *run, const char *key, char *buf, size_t len);

/* Typed dtrain_set for numeric options: dtrain_set_int for a whole-number
 * option ("epochs", "batch-size", "seed", ...) or a flag (0 or 1);
 * dtrain_set_double for a real one ("lr", "valid-split", ...).  The same
 * ranges as dtrain_set; DTRAIN_EUSAGE, naming the key and its type, for a
 * key of another type ("layers" is text: dtrain_set).  A failed set changes
 * nothing.  Local. */
DTRAIN_API dtrain_status dtrain_set_int(dtrain_run *run, const char *key, int64_t value);
DTRAIN_API dtrain_status dtrain_set_double(dtrain_run *run, const char *key, double value);

/* dtrain_create on a communicator given as its Fortran handle (what
 * MPI_Comm_c2f, Fortran's integer communicators and mpi4py's
 * Comm.py2f() give), for a language binding that cannot pass an MPI_Comm.
 * The same statuses; a handle that names no communicator is refused as
 * MPI_COMM_NULL is.  Collective. */
DTRAIN_API dtrain_status dtrain_create_f(dtrain_run **run, MPI_Fint comm);

/* An option of a command, for help and completion: pointers into static
 * storage, but choices, which is valid until the next dtrain_option_at
 * call in this thread. */
typedef enum {
    DTRAIN_OPT_TEXT,    /* free text (a path, a group) */
    DTRAIN_OPT_TEXT2,   /* two texts (--idx IMAGES LABELS) */
    DTRAIN_OPT_INT,     /* a whole number */
    DTRAIN_OPT_REAL,    /* a real number */
    DTRAIN_OPT_CHOICE,  /* one of choices */
    DTRAIN_OPT_CHOICES, /* a comma-separated list of choices */
    DTRAIN_OPT_FLAG,    /* no value */
    DTRAIN_OPT_OPTPATH, /* a flag with an optional path after it */
    DTRAIN_OPT_EVERY,   /* a flag with an optional number after it */
    DTRAIN_OPT_LAYERS,  /* a layer list "W:ACT,..." */
    DTRAIN_OPT_LIST     /* repeatable text */
} dtrain_option_type;

typedef struct {
    const char *name;    /* without the leading "--" */
    dtrain_option_type type;
    const char *metavar; /* the value's placeholder in --help ("FILE.h5"); NULL if none */
    const char *help;    /* one paragraph */
    const char *def;     /* the default as typed; NULL if none */
    const char *choices; /* "a|b|c" for a choice option, "" for the others */
} dtrain_option_info;

/* The i-th option (0-based, in --help's order) of command into *info.
 * DTRAIN_EUSAGE for an unknown command, info NULL, or i past the last
 * option (so a loop ends at the first failure).  Local, no MPI. */
DTRAIN_API dtrain_status dtrain_option_at(const char *command, size_t i,
                                            dtrain_option_info *info);

/* Print the options of command, with their defaults and help text wrapped
 * at 78 columns, into out: the "Options:" part of `dtrain COMMAND --help`.
 * DTRAIN_EUSAGE for an unknown command or out NULL.  Local, no MPI. */
DTRAIN_API dtrain_status dtrain_print_options(FILE *out, const char *command);

/* Print the versions of the libraries under dtrain into out, one line each:
 * "MPI: ...", "HDF5: ...", "GEMM: ...", "LAPACK: ...".  Local; MPI need
 * not be initialised. */
DTRAIN_API void dtrain_print_versions(FILE *out);

/* The candidate word is most likely a slip of (the rule of the library's
 * own "did you mean"), or NULL if none is close.  Local. */
DTRAIN_API const char *dtrain_nearest(const char *word, const char *const *candidates,
                                      size_t n);

/* Process-wide, for a program that is the whole job (the command line):
 * call it first thing in main, before MPI_Init.  DTRAIN_ALLOW_SIGNALS
 * installs the handlers dtrain_allow installs, so a preemption signal during
 * MPI's start-up is kept for the first step instead of ending the process;
 * DTRAIN_ALLOW_WATCHDOG with step_timeout > 0 seconds arms the watchdog of
 * "step-timeout" now, so that a rank stopped in MPI's start-up (which waits
 * for every rank) cannot hang the others: the run's dtrain_train (allowed
 * DTRAIN_ALLOW_WATCHDOG, same step-timeout) takes it over.  Call
 * dtrain_process_end before MPI_Finalize.  DTRAIN_EUSAGE for unknown flags
 * or a step_timeout not >= 0; DTRAIN_ENOMEM if the thread cannot start.
 * Local. */
DTRAIN_API dtrain_status dtrain_process_allow(unsigned flags, double step_timeout);

/* Stop the watchdog armed by dtrain_process_allow if no run took it over
 * (nothing otherwise).  Local; before MPI_Finalize. */
DTRAIN_API void dtrain_process_end(void);

/* Ignore SIGXFSZ for the whole process: a write past the file size limit
 * then fails with a message naming the file instead of ending the process.
 * Local. */
DTRAIN_API void dtrain_ignore_file_size_signal(void);

/* After DTRAIN_STOPPED: the number of the signal that stopped the run (the
 * largest over its ranks; the command line exits with 128 + it), 0 if
 * none is known.  With DTRAIN_ALLOW_SIGNALS_SCOPED: the signal the run's
 * last dtrain_train took (the largest over its ranks), after any status, 0
 * if none arrived.  Collective. */
DTRAIN_API int dtrain_stop_signal(dtrain_run *run);

/* Agree on an outcome the program reached on its own: every rank passes its
 * status st and, when st is not DTRAIN_OK, msg (NULL: the run's current
 * message); every rank returns the status of the lowest-numbered rank
 * that failed (DTRAIN_OK if none did) and dtrain_errmsg(run) gives its
 * message.  Collective. */
DTRAIN_API dtrain_status dtrain_agree(dtrain_run *run, dtrain_status st, const char *msg);

/* ---- evaluation, prediction, inspection and results ---- */

/* Figures computed by a call (an evaluation, the final metrics of a
 * training): opaque, each figure a double found by its name.  Created by the
 * call that computes it, freed by the caller with dtrain_result_free; it
 * does not refer to the run, which may be freed first.  The getters are
 * local and make no MPI call. */
typedef struct dtrain_result dtrain_result;

/* Free res (NULL allowed).  Local. */
DTRAIN_API void dtrain_result_free(dtrain_result *res);

/* How many figures res holds, and the name of figure i (0 <= i < count;
 * NULL outside), owned by res.  Local. */
DTRAIN_API int dtrain_result_count(const dtrain_result *res);
DTRAIN_API const char *dtrain_result_name(const dtrain_result *res, int i);

/* The figure called name into *value: DTRAIN_OK, or DTRAIN_EUSAGE (and
 * *value NaN) when res has no figure of that name.  A figure that is not
 * defined (an AUC of one class) is NaN.  Local.
 *
 * An evaluation (dtrain_evaluate, dtrain_evaluate_file) names its figures:
 *   samples, loss (classifier: mean -log p of the true class, p clipped to
 *     [1e-15, 1 - 1e-15]; regression: mean squared error, in the targets'
 *     units),
 *   a classifier's accuracy, log_loss, auc (binary, or macro one-vs-rest),
 *     f1 (macro), macro_precision, macro_recall, macro_f1 and the same with
 *     weighted_ and micro_, and per class k = 0, 1, ...: precision_k,
 *     recall_k, f1_k, auc_k, support_k, and confusion_t_p (rows of class t
 *     predicted p),
 *   a regression's rmse, mae, r2 (averages over the targets), rmse_pooled
 *     (over every output), and per target k: rmse_k, mae_k, r2_k.
 * The final metrics of a training (dtrain_final) name those of each set
 * reported after the last epoch with the set's name before them: valid_ or
 * test_ (or train_ without an evaluation set), e.g. valid_loss,
 * valid_accuracy, test_rmse; valid_loss and valid_accuracy (valid_rmse) are
 * the figures of the "final:" log line. */
DTRAIN_API dtrain_status dtrain_result_get(const dtrain_result *res, const char *name,
                                           double *value);

/* res rendered for a program or for people, into a NUL-terminated string
 * malloc'd for the caller, who frees it (*out NULL on failure: DTRAIN_ENOMEM,
 * or DTRAIN_EUSAGE for res or out NULL).  JSON: an evaluation's is the line
 * `dtrain eval --json` prints (without the newline): model, data, group,
 * output, samples, loss, the metrics object, the class names; other results
 * are one object of every figure by name, in order, non-finite values null.
 * Text: an evaluation's is what `dtrain eval` prints, every line ending in a
 * newline; other results one "name value" line per figure.  Local. */
DTRAIN_API dtrain_status dtrain_result_json(const dtrain_result *res, char **out);
DTRAIN_API dtrain_status dtrain_result_text(const dtrain_result *res, char **out);

/* The run's model (trained, or loaded with dtrain_load, which takes a saved
 * model or a checkpoint) evaluated on the rows of group (e.g. "test") of the
 * HDF5 data file path, as `dtrain eval --model MODEL --data path --group
 * group` does: the data is checked against the model (features, targets,
 * labels in range), normalised as the model's training data was, its missing
 * features filled with the model's /missing_fill (refused without one), and
 * each rank predicts its share of the rows; the figures are exact over all
 * ranks, the same bits at any rank count.  On DTRAIN_OK *res is a new result
 * the caller frees; on failure *res is NULL.  DTRAIN_EUSAGE for no model, a
 * group the file lacks (the message lists the groups it has), a group
 * without y, data that does not fit the model; DTRAIN_EIO for a file that
 * cannot be read.  Collective. */
DTRAIN_API dtrain_status dtrain_evaluate_file(dtrain_run *run, const char *path,
                                              const char *group, dtrain_result **res);

/* The same on arrays: this rank's n_rows rows of X (n_rows, n_features) and y
 * (n_rows, n_targets) as dtrain_set_data takes them (class labels 0, 1, ...
 * for a classifier); every rank passes its own rows (any number, 0 included;
 * the figures are over all of them).  Not gathered: each rank's rows stay
 * where they are (the exact figures gather the outputs and labels, n * (K+1)
 * floats, on every rank).  Collective. */
DTRAIN_API dtrain_status dtrain_evaluate(dtrain_run *run, const float *X, const float *y,
                                         int64_t n_rows, int64_t n_features,
                                         int64_t n_targets, dtrain_result **res);

/* The model's outputs for the rows of group of the HDF5 data file path,
 * written to out as `dtrain predict` writes it: ".csv" (a header, then per row
 * the class, its name when the model has class names, and the outputs) or
 * ".h5"/".hdf5" (/predictions (n, n_outputs), /class and /class_name for a
 * classifier), in input order, through a temporary file renamed into place.
 * The group's y is used only if present.  out must be a regular file or not
 * exist, and none of the model's files, path, nor the "config" file (by
 * device and inode): DTRAIN_EUSAGE otherwise, nothing written.  On DTRAIN_OK
 * *n_rows (may be NULL) receives the rows written, and *accuracy (may be
 * NULL) the fraction predicted right for a classifier whose group has
 * labels, NaN otherwise.  Collective; rank 0 writes. */
DTRAIN_API dtrain_status dtrain_predict_file(dtrain_run *run, const char *path,
                                             const char *group, const char *out,
                                             int64_t *n_rows, double *accuracy);

/* What dtrain_inspect renders. */
enum {
    /* A summary for people, what `dtrain inspect FILE` prints: for a model or
     * checkpoint its output, layers, parameters, normalisation, class names,
     * (a checkpoint's) progress, provenance and checksum, its epochs and the
     * options it was trained with; for a data file its groups, shapes, label
     * counts or target ranges. */
    DTRAIN_INSPECT_SUMMARY = 0,
    /* A model's or checkpoint's training options as a YAML file that
     * dtrain_set(run, "config", FILE) and `dtrain train --config` read:
     * `dtrain inspect --config FILE`. */
    DTRAIN_INSPECT_CONFIG = 1
};

/* Describe the HDF5 file path (a saved model, a checkpoint or a data file)
 * as what says (DTRAIN_INSPECT_*).  *text receives the rendering, malloc'd,
 * NUL-terminated, for the caller to free: on failure too, what was rendered
 * before the failure (NULL only if nothing could be allocated).
 * DTRAIN_EUSAGE for a file that is none of the three, or (CONFIG) has no
 * /config; DTRAIN_EIO if it cannot be read.  Local: it reads the file on
 * this rank alone, and needs no model in the run. */
DTRAIN_API dtrain_status dtrain_inspect(dtrain_run *run, const char *path, int what,
                                        char **text);

/* The final metrics of the last successful dtrain_train (see
 * dtrain_result_get for the names): a new result the caller frees.  A run
 * resumed from a checkpoint that had already reached "epochs" gives the
 * figures its last epoch recorded (loss and the metrics the epochs logged).
 * DTRAIN_EUSAGE if the run holds no trained model (none yet, a failed
 * training, or a model from dtrain_load).  Local. */
DTRAIN_API dtrain_status dtrain_final(dtrain_run *run, dtrain_result **res);

/* The per-epoch history of the last successful dtrain_train (resumed runs:
 * from the first epoch), the table the "log" option writes: one row per
 * epoch, one named column per figure (epoch, step, samples, epoch_time,
 * time, lr, train_loss, valid_loss, valid_accuracy ..., best_epoch, the
 * profile's times; the README's "log" lists them).  *n_rows and *n_cols
 * receive its size (0 and 0 when the run holds no trained model).  Local. */
DTRAIN_API dtrain_status dtrain_history_size(dtrain_run *run, int64_t *n_rows, int *n_cols);

/* The name of column c (0 <= c < n_cols), owned by the run, valid until the
 * next dtrain_train, dtrain_load or dtrain_free; NULL outside.  Local. */
DTRAIN_API const char *dtrain_history_name(const dtrain_run *run, int c);

/* Column name of the history into out (n rows; n <= n_rows, from the first
 * epoch): a figure an epoch does not have is NaN.  DTRAIN_EUSAGE for an
 * unknown column (the message lists them), out NULL with n > 0, or n outside
 * [0, n_rows].  Local. */
DTRAIN_API dtrain_status dtrain_history_column(dtrain_run *run, const char *name, double *out,
                                               int64_t n);

/* ---- cross-validation and grid search ---- */

/* The outcome of a search: opaque, from dtrain_cv, freed by
 * dtrain_cv_result_free.  The same on every rank of the run. */
typedef struct dtrain_cv_result dtrain_cv_result;

/* k-fold cross-validation of every configuration of a grid over the run's
 * training options, as `dtrain cv`: the options set on the run (dtrain_set)
 * are the trials' training options, and these choose the search:
 * "data" (required: the HDF5 file whose "train-group" is split into folds;
 * arrays are refused), "folds" (K, default 5), "grid" ("KEY=V1|V2|...", one
 * axis per dtrain_set call: each call adds one), "metric" (default the head's:
 * accuracy, auc or rmse), "ranks-per-trial" (R, default 1), "seed" (the
 * folds), "out" and "refit" (files for dtrain_cv_save and dtrain_cv_refit,
 * checked before the search).  The run's communicator is split into groups of
 * R ranks that run the (configuration, fold) trials side by side; ranks left
 * over stay idle.  The log callback receives the search's description; the
 * trials' epoch lines are not passed on.  The result is the same at any rank
 * count and R.  Collective.  On DTRAIN_OK *result is a new result the caller
 * frees; on DTRAIN_ENUM (every configuration failed) too, holding the
 * failures; on any other status *result is NULL.  DTRAIN_EUSAGE for a bad
 * option, grid entry or metric, "step-timeout" without DTRAIN_ALLOW_WATCHDOG,
 * or arrays instead of "data".  The run's model is not changed. */
DTRAIN_API dtrain_status dtrain_cv(dtrain_run *run, dtrain_cv_result **result);

/* Free a result (NULL allowed).  Local. */
DTRAIN_API void dtrain_cv_result_free(dtrain_cv_result *result);

/* Write the result as CSV (dtrain_cv_print's csv form) to the file of the
 * "out" option, through a temporary file renamed into place by rank 0, and
 * log "wrote PATH"; nothing without "out".  Collective. */
DTRAIN_API dtrain_status dtrain_cv_save(dtrain_run *run, const dtrain_cv_result *result);

/* Train the best configuration on all the training rows on every rank of
 * the run and save it to the file of the "refit" option (nothing without
 * it), logging what it trains and saves.  Once per result: it takes the
 * rows the search kept.  DTRAIN_EUSAGE when no configuration succeeded.
 * Collective. */
DTRAIN_API dtrain_status dtrain_cv_refit(dtrain_run *run, dtrain_cv_result *result);

/* The search's shape: configurations, folds, the metric's name ("accuracy",
 * "auc", "rmse", ...) and its direction.  Local; 0 or "" for NULL. */
DTRAIN_API int64_t dtrain_cv_n_configs(const dtrain_cv_result *result);
DTRAIN_API int dtrain_cv_n_folds(const dtrain_cv_result *result);
DTRAIN_API const char *dtrain_cv_metric(const dtrain_cv_result *result);
DTRAIN_API int dtrain_cv_higher_is_better(const dtrain_cv_result *result);

/* The options a configuration sets: n_keys grid keys, key a's name, and its
 * value (as given in the grid) in configuration c (0 .. n_configs - 1, the
 * grid's product with the last key varying fastest).  Owned by the result;
 * NULL when out of range.  Local. */
DTRAIN_API int dtrain_cv_n_keys(const dtrain_cv_result *result);
DTRAIN_API const char *dtrain_cv_key(const dtrain_cv_result *result, int a);
DTRAIN_API const char *dtrain_cv_value(const dtrain_cv_result *result, int64_t c, int a);

/* Configuration c's metric on fold f (0-based), NaN for a failed trial,
 * whose message dtrain_cv_fold_error gives ("" if it did not fail; NULL out
 * of range).  Its mean over the folds and standard deviation (divisor k);
 * NaN if any fold failed.  Local. */
DTRAIN_API double dtrain_cv_fold_metric(const dtrain_cv_result *result, int64_t c, int f);
DTRAIN_API const char *dtrain_cv_fold_error(const dtrain_cv_result *result, int64_t c, int f);
DTRAIN_API double dtrain_cv_mean(const dtrain_cv_result *result, int64_t c);
DTRAIN_API double dtrain_cv_std(const dtrain_cv_result *result, int64_t c);

/* The configuration ranked i-th (0: the best): by mean as printed (4
 * decimals), ties by number, failed ones last; -1 out of range.  The best
 * configuration, -1 if all failed.  Local. */
DTRAIN_API int64_t dtrain_cv_ranked(const dtrain_cv_result *result, int64_t i);
DTRAIN_API int64_t dtrain_cv_best(const dtrain_cv_result *result);

/* Print the ranked table as `dtrain cv` does (csv 0: a header row, one row
 * per configuration, a "best:" line) or the CSV it writes with "out" (csv
 * 1).  Local.  DTRAIN_EUSAGE for NULL, DTRAIN_EIO if out reports an error. */
DTRAIN_API dtrain_status dtrain_cv_print(const dtrain_cv_result *result, FILE *out, int csv);

/* The result as JSON: {"metric", "higher_is_better", "folds", "best",
 * "ranked": [{"config", "options": {key: value}, "folds": [...], "mean",
 * "std", "error"}] best first}, NaN as null.  *json is malloc'd, the caller
 * frees it; DTRAIN_ENOMEM leaves it NULL.  Local. */
DTRAIN_API dtrain_status dtrain_cv_json(const dtrain_cv_result *result, char **json);

/* ---- conversion ---- */

/* What a conversion wrote: opaque, from dtrain_convert, freed by
 * dtrain_convert_result_free. */
typedef struct dtrain_convert_result dtrain_convert_result;

/* Convert IDX or CSV input into dtrain's HDF5 layout (README "Data"), as
 * `dtrain convert`, from the run's options: the input, "csv" FILE (plain or
 * gzip; with "header", "label-column", "delimiter", "no-labels",
 * "label-type", "x-dtype", "missing", "test-fraction" and "seed") or "idx"
 * IMAGES LABELS (and "idx-test"; two values each, so they come with the
 * command line's options, not dtrain_set), and the output "out" FILE.h5,
 * written through a temporary file renamed into place, so a failure leaves
 * any existing file as it was; an output that is one of the inputs, or not
 * a regular file, is refused before anything is read.  Rank 0 reads and
 * writes; the others wait.  Collective: every rank returns the same status
 * and, on DTRAIN_OK, a new *result the caller frees (NULL otherwise).
 * DTRAIN_EUSAGE for bad options or input (the message names the file, line
 * and column), DTRAIN_EIO when the output cannot be written. */
DTRAIN_API dtrain_status dtrain_convert(dtrain_run *run, dtrain_convert_result **result);

/* NULL allowed.  Local. */
DTRAIN_API void dtrain_convert_result_free(dtrain_convert_result *result);

/* Print the summary as `dtrain convert` does: its lines on out, and on warn
 * (may be NULL) a "dtrain: warning: ..." line when integer labels were
 * stored as classes by a close call (out is flushed first).  Options are
 * named as the run that converted named them (dtrain_name_options).  Local.
 * DTRAIN_EUSAGE for NULL, DTRAIN_EIO if a stream reports an error. */
DTRAIN_API dtrain_status dtrain_convert_print(const dtrain_convert_result *result, FILE *out,
                                              FILE *warn);

/* The groups written (1 or 2): group i's name ("/train" or "/test"), rows
 * and features (NULL or -1 out of range); the labels' kind ("class",
 * "float", or "" without labels) and the number of classes (0 unless
 * "class").  Local. */
DTRAIN_API int dtrain_convert_n_groups(const dtrain_convert_result *result);
DTRAIN_API const char *dtrain_convert_group(const dtrain_convert_result *result, int i);
DTRAIN_API int64_t dtrain_convert_rows(const dtrain_convert_result *result, int i);
DTRAIN_API int64_t dtrain_convert_features(const dtrain_convert_result *result, int i);
DTRAIN_API const char *dtrain_convert_label_type(const dtrain_convert_result *result);
DTRAIN_API int64_t dtrain_convert_n_classes(const dtrain_convert_result *result);

/* The summary as JSON: {"groups": [{"group", "rows", "features", "x_type",
 * "labels", "classes", "classes_present", "y_min", "y_max", "missing"}],
 * "label_rule", "class_names", "dropped", "filled"}.  *json is malloc'd,
 * the caller frees it.  Local. */
DTRAIN_API dtrain_status dtrain_convert_json(const dtrain_convert_result *result, char **json);

/* ---- benchmark ---- */

/* The ceilings a training run is measured against: opaque, from
 * dtrain_bench, freed by dtrain_bench_result_free. */
typedef struct dtrain_bench_result dtrain_bench_result;

/* Measure what `dtrain bench` measures, on every rank of the run at once,
 * for the MLP of the run's options "inputs", "layers", "outputs" at global
 * batch "batch-size", an epoch of "samples" rows, "threads" engine threads
 * per rank and the projection's "latency-us": the CPU's name, the core's
 * FMA peak and streaming bandwidth (copy, triad), the GEMMs of one training step (fp32, and bf16 where the engine has it), the
 * allreduce at 1 KB .. 16 MB fitted to a latency-bandwidth model (2 ranks
 * or more), and the epoch time projected to 8, 64 and 512 ranks at 10 and
 * 100 Gbit/s.  The log callback receives the command's lines, the readable
 * ones and the "BENCH_" ones for scripts.  Sets the process's engine thread
 * count.  Collective; on DTRAIN_OK *result is a new result the caller frees
 * (NULL otherwise), the same on every rank.  Takes seconds. */
DTRAIN_API dtrain_status dtrain_bench(dtrain_run *run, dtrain_bench_result **result);

/* NULL allowed.  Local. */
DTRAIN_API void dtrain_bench_result_free(dtrain_bench_result *result);

/* A figure by the name of its "BENCH_" key: "ranks", "local_batch",
 * "parameters", "flop_per_sample", "epoch_flop", "peak_gflops",
 * "floor_peak_s", "step_s", "gflops", "best_gflops", "floor_s" (fp32
 * GEMM), "bf16_support" (0 none, 1 emulated, 2 native), "bf16_step_s",
 * "bf16_gflops", "bf16_best_gflops", "alpha_us", "bw_GBps", "grad_bytes",
 * "grad_allreduce_s", "node_s", "mpi_s" (-1: not available), "copy_GBps",
 * "triad_GBps" (streaming bandwidth per rank, 1e9 bytes/s),
 * "stream_array_bytes" (each array of one rank).  Seconds per step, GFLOP/s;
 * NaN for an unknown name or a figure not measured (the allreduce at 1 rank,
 * the streaming bandwidth where its arrays could not be allocated).  Local. */
DTRAIN_API double dtrain_bench_value(const dtrain_bench_result *result, const char *name);

/* One projected configuration (a "BENCH_PROJ" line). */
typedef struct {
    double gbit;            /* link speed, Gbit/s */
    int ranks, local_batch;
    double allreduce_s;     /* the modelled allreduce of the gradient */
    double epoch_s;         /* the projected epoch */
    double efficiency;      /* T(1) / (P T(P)) at the same global batch */
    double weak_efficiency; /* with the one-rank batch on every rank */
} dtrain_bench_proj;

/* The projections (6: each link speed with 8, 64 and 512 ranks), and the
 * i-th into *out.  Local; DTRAIN_EUSAGE for NULL or i out of range. */
DTRAIN_API int dtrain_bench_n_projections(const dtrain_bench_result *result);
DTRAIN_API dtrain_status dtrain_bench_projection(const dtrain_bench_result *result, int i,
                                                 dtrain_bench_proj *out);

/* The result as JSON (every figure by its name, "peak_isa", "engine", "denormals",
 * "cpu", "fp32_impl", "bf16_impl" (the engine's implementations of the
 * step's products, "" for bf16 where not timed), "projections"), NaN as null.  *json is malloc'd, the caller frees it.
 * Local. */
DTRAIN_API dtrain_status dtrain_bench_json(const dtrain_bench_result *result, char **json);

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
