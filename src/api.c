/* dtrain: the embedding API (include/dtrain.h) over the session.
 *
 * A run is a configuration (the option table, set by name), data gathered
 * from the ranks' arrays or named by the "data" option, callbacks, and after
 * dtrain_train the session that trained (its model and normalisation), or a
 * model loaded from a file.  Each entry point installs the run's log sink
 * for its duration (status.h), so two runs log to their own callbacks.
 *
 * dtrain.h includes <mpi.h> for the MPI_Comm type of dtrain_create; this
 * file calls no MPI function itself: comm.c stays the only user of MPI
 * (comm_from_mpi asks MPI_Initialized and MPI_Finalized before duplicating
 * the caller's communicator).
 *
 * What a run cannot keep to itself is the process's (dtrain.h, "Process-wide
 * state"): the trainings in progress are counted here, so that a run's
 * step-timeout watchdog, which watches and ends the whole process, never
 * runs while another run trains, and two threads never train at once.
 *
 * Every entry point but the local read-only ones begins with api_usable(): a
 * NULL run, or a call from inside one of the run's own callbacks (the
 * trampolines count them in in_callback), is refused before anything is
 * touched. */
#include "dtrain.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/api_eval.h"
#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/dataset.h"
#include "dtrain/linalg.h"
#include "dtrain/loss.h"
#include "dtrain/matmul.h"
#include "dtrain/session.h"
#include "dtrain/signals.h"
#include "dtrain/status.h"
#include "dtrain/watchdog.h"
#include "dtrain/yamlconf.h"

#ifndef DTRAIN_VERSION
#define DTRAIN_VERSION "unknown"
#endif

_Static_assert((int)DTRAIN_OK == DT_OK && (int)DTRAIN_EUSAGE == DT_EUSAGE &&
                   (int)DTRAIN_EIO == DT_EIO && (int)DTRAIN_ENOMEM == DT_ENOMEM &&
                   (int)DTRAIN_ENUM == DT_ENUM && (int)DTRAIN_EINTERNAL == DT_EINTERNAL &&
                   (int)DTRAIN_PREEMPTED == DT_PREEMPTED && (int)DTRAIN_EBUSY == DT_EBUSY &&
                   (int)DTRAIN_STOPPED == DT_STOPPED,
               "dtrain_status mirrors dt_status");
_Static_assert((int)DTRAIN_LOG_INFO == DT_LOG_INFO && (int)DTRAIN_LOG_WARN == DT_LOG_WARN,
               "dtrain_log_level mirrors dt_log_level");

/* dtrain_errmsg(NULL): a failed dtrain_create's message, or a NULL run's */
static _Thread_local char null_msg[DT_ERRMSG_LEN];

void api_fail_null(const dt_error *e) { memcpy(null_msg, e->msg, sizeof null_msg); }

const char *dtrain_version(void) { return DTRAIN_VERSION; }

const char *dtrain_errmsg(const dtrain_run *run) { return run ? run->err.msg : null_msg; }

/* DT_OK if fn may go on with run: not NULL, and not called from one of its
 * callbacks (the call that made it is in the middle of using the run: a
 * dtrain_train inside it would replace the session under it).  Local. */
dt_status api_usable(dtrain_run *run, const char *fn)
{
    if (!run) {
        dt_error e;
        dt_status st = dt_fail(&e, DT_EUSAGE, "%s: run is NULL (dtrain_create gives one)", fn);
        memcpy(null_msg, e.msg, sizeof null_msg);
        return st;
    }
    if (run->in_callback)
        return dt_fail(&run->err, DT_EBUSY, "%s: called from a callback of the same run, "
                       "which is in use until the call that made the callback returns", fn);
    return DT_OK;
}

/* The callers' option naming, innermost last: api_enter pushes, api_leave
 * pops (nested when a callback of one run calls another run; deeper than
 * the stack holds, the innermost calls leave the naming as they found it
 * only up to the stack's depth, which no real program reaches). */
#define NAMES_DEPTH 32
static _Thread_local dt_names caller_names[NAMES_DEPTH];
static _Thread_local unsigned names_depth;

/* Every entry point: the run's log sink and option naming in, the error
 * cleared; `leave` puts the caller's back. */
dt_log_sink api_enter(dtrain_run *run)
{
    dt_error_clear(&run->err);
    const dt_names prev = dt_names_swap(run->opt_names);
    if (names_depth < NAMES_DEPTH)
        caller_names[names_depth] = prev;
    names_depth++;
    return dt_log_swap(run->log);
}

dtrain_status api_leave(dt_log_sink prev, dt_status st)
{
    dt_log_swap(prev);
    if (names_depth > 0 && --names_depth < NAMES_DEPTH)
        dt_names_swap(caller_names[names_depth]);
    return (dtrain_status)st;
}

dtrain_status dtrain_create(dtrain_run **out, MPI_Comm comm)
{
    if (out)
        *out = NULL;
    null_msg[0] = '\0';
    dt_error e;
    dt_comm *c;
    /* the local refusals (MPI_COMM_NULL, MPI not initialised) come before
     * any collective; out NULL comes after the duplication and is agreed,
     * since the ranks that have a place for the run are in it */
    dt_status st = comm_from_mpi(&comm, &c, &e);
    if (st) {
        dt_fail_prefix(&e, "dtrain_create");
        memcpy(null_msg, e.msg, sizeof null_msg);
        return (dtrain_status)st;
    }
    dtrain_run *run = out ? calloc(1, sizeof *run) : NULL;
    st = !out  ? dt_fail(&e, DT_EUSAGE, "dtrain_create: run (where to store the new run) "
                                        "is NULL")
         : run ? DT_OK
               : dt_fail(&e, DT_ENOMEM, "dtrain_create: out of memory");
    if ((st = comm_agree(c, st, &e))) {
        memcpy(null_msg, e.msg, sizeof null_msg);
        free(run);
        comm_free(c);
        return (dtrain_status)st;
    }
    run->comm = c;
    config_defaults(&run->cfg);
    *out = run;
    return DTRAIN_OK;
}

/* The model the run holds (trained or loaded), or NULL; its normalisation. */
dt_model *api_model_of(dtrain_run *run, dt_norm **norm)
{
    if (run->session) {
        *norm = &run->session->net.norm;
        return &run->session->net.model;
    }
    if (run->have_loaded) {
        *norm = &run->loaded_norm;
        return &run->loaded;
    }
    return NULL;
}

dt_denormals api_model_denormals(const dtrain_run *run)
{
    return run->session ? run->trained_cfg.train.denormals : run->loaded_denormals;
}

void api_drop_model(dtrain_run *run)
{
    if (run->session) {
        session_free(run->session);
        free(run->session);
        run->session = NULL;
    }
    if (run->have_loaded) {
        model_free(&run->loaded);
        norm_free(&run->loaded_norm);
        run->have_loaded = 0;
    }
    dtrain_result_free(run->final);
    run->final = NULL;
    dataset_extras_free(&run->names);
}

/* The class names of the model just trained, from its data file path ("":
 * none): read on every rank, agreed. */
static dt_status read_names(dtrain_run *run, const char *path, dt_error *err)
{
    dataset_extras_free(&run->names);
    dt_status st = path[0] ? dataset_read_extras(path, &run->names, err) : DT_OK;
    return comm_agree(run->comm, st, err);
}

void dtrain_free(dtrain_run *run)
{
    if (!run || run->in_callback)
        return;
    dt_log_sink prev = api_enter(run);
    api_drop_model(run);
    api_rows_free(&run->train);
    api_rows_free(&run->eval);
    comm_free(run->comm);
    api_leave(prev, DT_OK);
    free(run);
}

dtrain_status dtrain_set(dtrain_run *run, const char *key, const char *value)
{
    dt_status st = api_usable(run, "dtrain_set");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    /* into a copy, kept only if every value of it parsed: a failed set (a
     * layer list wrong in its second item, a config file in its tenth key)
     * changes nothing */
    dt_config *next = malloc(sizeof *next);
    if (next)
        *next = run->cfg;
    const dt_option *o = key ? config_find(key, API_COMMANDS) : NULL;
    if (!key || !value)
        st = dt_fail(&run->err, DT_EUSAGE, "dtrain_set: key and value must not be NULL");
    else if (!next)
        st = dt_fail(&run->err, DT_ENOMEM, "dtrain_set: out of memory");
    else if (o && o->offset == offsetof(dt_config, config_file))
        st = yamlconf_read(value, CMD_TRAIN, next, &run->err);
    else
        st = config_set(next, API_COMMANDS, key, value, &run->err); /* its messages name key */
    if (!st)
        run->cfg = *next;
    free(next);
    return api_leave(prev, st);
}

dtrain_status dtrain_on_step(dtrain_run *run, dtrain_progress_fn fn, void *user)
{
    dt_status st = api_usable(run, "dtrain_on_step");
    if (st)
        return (dtrain_status)st;
    run->on_step = fn;
    run->step_user = user;
    return DTRAIN_OK;
}

dtrain_status dtrain_on_epoch(dtrain_run *run, dtrain_progress_fn fn, void *user)
{
    dt_status st = api_usable(run, "dtrain_on_epoch");
    if (st)
        return (dtrain_status)st;
    run->on_epoch = fn;
    run->epoch_user = user;
    return DTRAIN_OK;
}

dtrain_status dtrain_on_tick(dtrain_run *run, dtrain_tick_fn fn, void *user, double every)
{
    dt_status st = api_usable(run, "dtrain_on_tick");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    if (!(every >= 0))
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE,
                                      "dtrain_on_tick: every must be >= 0 seconds (got %g)",
                                      every);
    run->on_tick = fn;
    run->tick_user = user;
    run->tick_every = every;
    return DTRAIN_OK;
}

static void log_trampoline(void *user, dt_log_level level, const char *line)
{
    dtrain_run *run = user;
    run->in_callback++;
    matmul_fpenv_pause(); /* the caller's code, in the caller's environment */
    run->log_fn(run->log_user, (dtrain_log_level)level, line);
    matmul_fpenv_resume();
    run->in_callback--;
}

dtrain_status dtrain_on_log(dtrain_run *run, dtrain_log_fn fn, void *user,
                            dtrain_log_level min_level)
{
    dt_status st = api_usable(run, "dtrain_on_log");
    if (st)
        return (dtrain_status)st;
    run->log_fn = fn;
    run->log_user = user;
    run->log = fn ? (dt_log_sink){log_trampoline, run, (dt_log_level)min_level}
                  : (dt_log_sink){0};
    return DTRAIN_OK;
}

dtrain_status dtrain_allow(dtrain_run *run, unsigned flags)
{
    dt_status st = api_usable(run, "dtrain_allow");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    const unsigned both = DTRAIN_ALLOW_SIGNALS | DTRAIN_ALLOW_SIGNALS_SCOPED;
    if (flags & ~(unsigned)(both | DTRAIN_ALLOW_WATCHDOG))
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_allow: unknown flags 0x%x",
                                      flags);
    if (((flags | run->allowed) & both) == both)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_allow: "
                                      "DTRAIN_ALLOW_SIGNALS (the handlers for good) and "
                                      "DTRAIN_ALLOW_SIGNALS_SCOPED (for each dtrain_train) "
                                      "exclude each other");
    if ((flags & DTRAIN_ALLOW_SIGNALS) && !(run->allowed & DTRAIN_ALLOW_SIGNALS))
        signals_install();
    run->allowed |= flags;
    return DTRAIN_OK;
}

static dtrain_info public_info(const dt_run_info *i)
{
    return (dtrain_info){i->epoch, i->step, i->train_loss, i->eval_loss, i->eval_metric,
                         i->lr, i->seconds};
}

static int step_trampoline(void *user, const dt_run_info *info)
{
    dtrain_run *run = user;
    dtrain_info pub = public_info(info);
    run->in_callback++;
    matmul_fpenv_pause();
    const int stop = run->on_step(run->step_user, &pub);
    matmul_fpenv_resume();
    run->in_callback--;
    return stop;
}

static void tick_trampoline(void *user, const dt_tick *t)
{
    dtrain_run *run = user;
    dtrain_tick pub = {t->epoch,   t->epochs,  t->batch, t->batches, t->samples,
                       t->n_samples, t->seconds, t->rate,  t->loss,    t->lr};
    run->in_callback++;
    matmul_fpenv_pause();
    run->on_tick(run->tick_user, &pub);
    matmul_fpenv_resume();
    run->in_callback--;
}

static int epoch_trampoline(void *user, const dt_run_info *info)
{
    dtrain_run *run = user;
    dtrain_info pub = public_info(info);
    run->in_callback++;
    matmul_fpenv_pause();
    const int stop = run->on_epoch(run->epoch_user, &pub);
    matmul_fpenv_resume();
    run->in_callback--;
    return stop;
}

/* The process's dtrain_train calls in progress: more than one only when a
 * run trains from inside a callback of another's, on the thread of the
 * outer one.  watched: the outer one runs the step-timeout watchdog. */
static pthread_mutex_t training_lock = PTHREAD_MUTEX_INITIALIZER;
static int training_depth, training_watched;
static pthread_t training_thread;

/* Count a dtrain_train in, or refuse it (DT_EBUSY, local): another thread
 * trains, or one of the two would run the watchdog under the other.  *outer:
 * the thread counts to put back after a training inside another's
 * (-1: none). */
static dt_status training_enter(int watch, int outer[2], dt_error *err)
{
    dt_status st = DT_OK;
    outer[0] = outer[1] = -1;
    pthread_mutex_lock(&training_lock);
    if (training_depth > 0 && !pthread_equal(training_thread, pthread_self()))
        st = dt_fail(err, DT_EBUSY, "dtrain_train: another thread of this process is "
                     "training a run; the runs of a process train one at a time (or one "
                     "from a callback of another)");
    else if (training_depth > 0 && (training_watched || watch))
        st = dt_fail(err, DT_EBUSY, "dtrain_train: called while another run of this "
                     "process trains (from one of its callbacks), and %s has a %s watchdog, "
                     "which watches and ends the whole process: train this run after the "
                     "other returns", training_watched ? "that run" : "this one",
                     dt_opt("step-timeout"));
    if (!st) {
        if (training_depth++ == 0) {
            training_thread = pthread_self();
            training_watched = watch;
        } else {
            outer[0] = matmul_threads();
            outer[1] = linalg_threads();
        }
    }
    pthread_mutex_unlock(&training_lock);
    return st;
}

/* Count it out; the outer training's thread counts back. */
static void training_leave(const int outer[2])
{
    if (outer[0] > 0) {
        matmul_set_threads(outer[0]);
        linalg_set_threads(outer[1]);
    }
    pthread_mutex_lock(&training_lock);
    if (--training_depth == 0)
        training_watched = 0;
    pthread_mutex_unlock(&training_lock);
}

/* What the caller allowed the run and its callbacks, given to the session. */
static void hand_to_session(dtrain_run *run, dt_session *s)
{
    s->allow.signals = (run->allowed & (DTRAIN_ALLOW_SIGNALS | DTRAIN_ALLOW_SIGNALS_SCOPED)) != 0;
    s->allow.watchdog = (run->allowed & DTRAIN_ALLOW_WATCHDOG) != 0;
    s->hooks.on_step = run->on_step ? step_trampoline : NULL;
    s->hooks.on_epoch = run->on_epoch ? epoch_trampoline : NULL;
    s->hooks.user = run;
    s->hooks.on_tick = run->on_tick ? tick_trampoline : NULL;
    s->hooks.tick_user = run;
    s->hooks.tick_every = run->tick_every;
}

/* Admit a training: its watchdog allowed, counted in (training_enter) and
 * its session allocated into *s, agreed across the ranks; on failure
 * nothing is left to undo. */
static dt_status training_begin(dtrain_run *run, int watch, int outer[2], dt_session **s)
{
    dt_error *err = &run->err;
    *s = NULL;
    if (watch && !(run->allowed & DTRAIN_ALLOW_WATCHDOG))
        return dt_fail_opt(err, DT_EUSAGE, "step-timeout", "%s: the watchdog "
                           "thread it needs is not allowed (dtrain_allow(run, "
                           "DTRAIN_ALLOW_WATCHDOG))", dt_opt("step-timeout"));
    dt_status st = training_enter(watch, outer, err);
    const int entered = !st;
    *s = entered ? malloc(sizeof **s) : NULL;
    if (entered && !*s)
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    if ((st = comm_agree(run->comm, st, err))) {
        free(*s);
        *s = NULL;
        if (entered)
            training_leave(outer);
    }
    return st;
}

/* Set up, train and report s under the watchdog (if watch), then the run's
 * final metrics, class names and saved model (collective, agreed). */
static dt_status training_run(dtrain_run *run, int watch, dt_session *s)
{
    dt_error *err = &run->err;
    dt_status st = api_setup(run, s);
    if (!st) {
        session_describe(s);
        hand_to_session(run, s);
        st = session_train(s, err);
    }
    if (watch)
        watchdog_stop();
    if (!st)
        st = session_report(s, err);
    if (!st)
        st = api_final_compute(run, s, err);
    if (!st) /* the names come with the data file; arrays have none */
        st = read_names(run, run->trained_cfg.train.data, err);
    /* complete: nothing rewritten */
    if (!st && run->trained_cfg.train.save[0] && !s->state.complete)
        st = api_save_model(run, s, run->trained_cfg.train.save);
    return st;
}

/* The trained session kept in the run (st DT_OK) or freed. */
static void training_keep(dtrain_run *run, dt_session *s, dt_status st)
{
    if (st) {
        session_free(s);
        free(s);
        return;
    }
    /* only the model and its normalisation are used from here on; the
     * session's copies of the data go (collective if node-shared) */
    dataset_free(&s->data.train);
    dataset_free(&s->data.eval);
    dataset_free(&s->data.test);
    /* nor its checkpoint directory: another run may use it now */
    ckpt_release_dir(&s->files.dir_lock);
    run->session = s;
}

/* dtrain_train's work, between its signal scope's begin and end. */
static dt_status train(dtrain_run *run)
{
    dt_status st;
    const int watch = run->cfg.train.step_timeout > 0;
    int outer[2] = {0, 0}; /* training_begin fills it when it succeeds */
    dt_session *s;
    if ((st = training_begin(run, watch, outer, &s)))
        return st;
    run->trained_cfg = run->cfg;
    /* the watch begins before set-up: a rank that stops there (or, armed by
     * the caller, in MPI's start-up) would leave the others waiting */
    if (watch && (st = watchdog_start(run->cfg.train.step_timeout, run->comm, &run->err)))
        free(s);
    else {
        st = training_run(run, watch, s);
        training_keep(run, s, st);
    }
    training_leave(outer);
    return st;
}

dtrain_status dtrain_train(dtrain_run *run)
{
    dt_status st = api_usable(run, "dtrain_train");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    api_drop_model(run);
    const int scoped = (run->allowed & DTRAIN_ALLOW_SIGNALS_SCOPED) != 0;
    run->stop_signal = 0;
    if (scoped)
        signals_scope_begin();
    /* the run's floating-point environment from set-up on, the caller's back
     * when it returns */
    matmul_fpenv fp;
    matmul_fpenv_enter(&fp, run->cfg.train.denormals);
    st = train(run);
    matmul_fpenv_leave(&fp);
    if (scoped)
        run->stop_signal = signals_scope_end();
    return api_leave(prev, st);
}

int64_t dtrain_n_inputs(const dtrain_run *run)
{
    dt_norm *nm;
    const dt_model *m = run ? api_model_of((dtrain_run *)run, &nm) : NULL;
    return m ? m->n_in : 0;
}

int64_t dtrain_n_outputs(const dtrain_run *run)
{
    dt_norm *nm;
    const dt_model *m = run ? api_model_of((dtrain_run *)run, &nm) : NULL;
    return m ? m->n_out : 0;
}

const char *dtrain_output(const dtrain_run *run)
{
    dt_norm *nm;
    const dt_model *m = run ? api_model_of((dtrain_run *)run, &nm) : NULL;
    return m ? head_name(m->head) : NULL;
}

dtrain_status dtrain_predict(dtrain_run *run, const float *X, int64_t n, float *out)
{
    dt_status st = api_usable(run, "dtrain_predict");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dt_norm *nm;
    dt_model *m = api_model_of(run, &nm);
    if (!m)
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "dtrain_predict: the run has no model "
                                                   "(dtrain_train or dtrain_load first)"));
    if (n < 0 || (n > 0 && (!X || !out)))
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "dtrain_predict: %lld rows with X or out "
                                                   "NULL", (long long)n));
    /* blocks of max_batch rows, normalised in the model's input scratch,
     * computed in the model's floating-point environment */
    matmul_fpenv fp;
    matmul_fpenv_enter(&fp, api_model_denormals(run));
    for (int64_t i = 0; i < n; i += m->max_batch) {
        const int nb = (int)(n - i < m->max_batch ? n - i : m->max_batch);
        memcpy(m->xin, X + i * m->n_in, (size_t)nb * m->n_in * sizeof *m->xin);
        dt_dataset block = {.n = nb, .d = m->n_in, .X = m->xin};
        norm_apply(nm, &block);
        model_predict(m, m->xin, nb, out + i * m->n_out);
    }
    matmul_fpenv_leave(&fp);
    return api_leave(prev, model_fault(m, err));
}
