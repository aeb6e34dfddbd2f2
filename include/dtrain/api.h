/* api.h: the run behind include/dtrain.h, for the files that implement the
 * public calls (src/api*.c).  Not installed; nothing outside src/api*.c uses it.
 *
 * A public call begins with api_usable() (a NULL run, or a call from inside
 * one of the run's own callbacks, is refused before anything is touched),
 * then api_enter() (the run's log sink and its way of naming options in, its
 * error cleared) and ends with api_leave(), which puts the caller's back. */
#ifndef DTRAIN_API_INTERNAL_H
#define DTRAIN_API_INTERNAL_H

#include "dtrain.h"

#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/dataset.h"
#include "dtrain/model.h"
#include "dtrain/session.h"
#include "dtrain/status.h"

/* The commands whose options a run takes (dtrain_set): train, and the
 * search, conversion and benchmark calls, which read theirs from the run. */
#define API_COMMANDS (CMD_TRAIN | CMD_CV | CMD_CONVERT | CMD_BENCH)

/* Rows gathered from every rank: X (n, d) and y (n, k), owned. */
typedef struct {
    float *X, *y;
    int64_t n, d, k;
} rows;

/* Free r's arrays and zero it (api_rows.c). */
void api_rows_free(rows *r);

struct dtrain_run {
    dt_comm *comm;          /* owned: the caller's communicator, duplicated */
    dt_config cfg;          /* the options as set so far */
    dt_config trained_cfg;  /* the options of the model trained (the session's) */
    dt_error err;           /* the last failure */
    dt_log_sink log;        /* log_trampoline with this run, or silence */
    dt_names opt_names;     /* how its messages name options (dtrain_name_options) */
    dtrain_log_fn log_fn;   /* dtrain_on_log's */
    void *log_user;
    dtrain_progress_fn on_step, on_epoch;
    void *step_user, *epoch_user;
    dtrain_tick_fn on_tick;
    void *tick_user;
    double tick_every;
    unsigned allowed;       /* DTRAIN_ALLOW_* */
    int stop_signal;        /* the signal the last dtrain_train's signal scope took
                               (DTRAIN_ALLOW_SIGNALS_SCOPED), 0 if none */
    rows train, eval;       /* from arrays; train.n == 0 and !have_train: use "data" */
    int have_train, have_eval;
    dt_session *session;    /* owned, after a successful dtrain_train */
    dt_model loaded;        /* after dtrain_load */
    dt_norm loaded_norm;
    dt_denormals loaded_denormals; /* its "denormals" option (the file's /config) */
    int have_loaded;
    char loaded_from[DT_PATH_MAX]; /* dtrain_load's path: an input dtrain_save keeps */
    dt_data_extras names;   /* the model's class names (/classes of its data or file) */
    dtrain_result *final;   /* owned: the final metrics of the session (dtrain_final) */
    int in_callback;        /* > 0 while one of the caller's callbacks runs */
};

/* A parsed command line (dtrain_options_parse): the command's bit (CMD_*)
 * and the options, defaults under what was given. */
struct dtrain_options {
    unsigned cmd;
    const char *command; /* its name, static */
    int want_help;
    dt_config cfg;
};

/* dtrain_errmsg(NULL) <- e's message: the failure of a call that has no run
 * (dtrain_create, the options and process-wide calls).  Local. */
void api_fail_null(const dt_error *e);

/* DT_OK if fn may go on with run: not NULL, and not called from one of its
 * callbacks.  Local.  For run NULL, dtrain_errmsg(NULL) names fn. */
dt_status api_usable(dtrain_run *run, const char *fn);
/* The run's log sink and option naming (dt_names_swap) in, its error
 * cleared; returns the caller's sink.  Pair every api_enter with one
 * api_leave on the same thread: the caller's naming is kept on a per-thread
 * stack (a callback of one run may call another run). */
dt_log_sink api_enter(dtrain_run *run);
/* The caller's sink and option naming back; st as the public status. */
dtrain_status api_leave(dt_log_sink prev, dt_status st);
/* The model the run holds (trained or loaded) and its normalisation, or
 * NULL when it holds none.  Pointers into the run: not to be freed. */
dt_model *api_model_of(dtrain_run *run, dt_norm **norm);

/* The floating-point environment the run's model computes in: the
 * "denormals" option it was trained with (matmul.h), so that its
 * predictions and evaluations are the same bits from every caller. */
dt_denormals api_model_denormals(const dtrain_run *run);
/* Drop the model the run holds (trained or loaded), its final metrics and
 * class names.  Local. */
void api_drop_model(dtrain_run *run);
/* Save the model of session s (NULL: the run's loaded model) to path with
 * the run's class names, as dtrain_save does once path is checked: rank 0
 * writes, collective, agreed (api_model.c). */
dt_status api_save_model(dtrain_run *run, const dt_session *s, const char *path);

/* Set up the session s for the run's data, its arrays (api_rows.c) or the
 * file "data" names, with the options trained_cfg (collective, agreed). */
dt_status api_setup(dtrain_run *run, dt_session *s);

/* A new zeroed result object of size bytes for a call fn that returns one
 * through result: *result set to NULL first; NULL and *st DT_EUSAGE (result
 * NULL) or DT_ENOMEM, with the run's message naming fn.  Local: the caller
 * agrees on *st. */
void *api_result_new(dtrain_run *run, const char *fn, void *result, size_t size, dt_status *st);

#endif
