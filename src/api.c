/* dtrain: the embedding API (include/dtrain.h) over the session.
 *
 * A run is a configuration (the option table, set by name), data gathered
 * from the ranks' arrays or named by the "data" option, callbacks, and after
 * dtrain_train the session that trained (its model and normalisation), or a
 * model loaded from a file.  Each entry point installs the run's log sink
 * for its duration (status.h), so two runs log to their own callbacks.
 *
 * dtrain.h includes <mpi.h> for the MPI_Comm type of dtrain_create; this
 * file makes no MPI call (comm.c stays the only user of MPI).
 *
 * Every entry point but the local read-only ones begins with api_usable(): a
 * NULL run, or a call from inside one of the run's own callbacks (the
 * trampolines count them in in_callback), is refused before anything is
 * touched. */
#include "dtrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/checkpoint.h"
#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/convert.h"
#include "dtrain/dataset.h"
#include "dtrain/loss.h"
#include "dtrain/modelio.h"
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

/* Every entry point: the run's log sink in, the error cleared; `leave`
 * puts the caller's sink back. */
dt_log_sink api_enter(dtrain_run *run)
{
    dt_error_clear(&run->err);
    return dt_log_swap(run->log);
}

dtrain_status api_leave(dt_log_sink prev, dt_status st)
{
    dt_log_swap(prev);
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

static void rows_free(rows *r)
{
    free(r->X);
    free(r->y);
    memset(r, 0, sizeof *r);
}

/* The model the run holds (trained or loaded), or NULL; its normalisation. */
dt_model *api_model_of(dtrain_run *run, dt_norm **norm)
{
    if (run->session) {
        *norm = &run->session->norm;
        return &run->session->model;
    }
    if (run->have_loaded) {
        *norm = &run->loaded_norm;
        return &run->loaded;
    }
    return NULL;
}

static void drop_model(dtrain_run *run)
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
    drop_model(run);
    rows_free(&run->train);
    rows_free(&run->eval);
    comm_free(run->comm);
    dt_log_swap(prev);
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
    const dt_option *o = key ? config_find(key, CMD_TRAIN) : NULL;
    if (!key || !value)
        st = dt_fail(&run->err, DT_EUSAGE, "dtrain_set: key and value must not be NULL");
    else if (!next)
        st = dt_fail(&run->err, DT_ENOMEM, "dtrain_set: out of memory");
    else if (o && o->offset == offsetof(dt_config, config_file))
        st = yamlconf_read(value, CMD_TRAIN, next, &run->err);
    else if ((st = config_set(next, CMD_TRAIN, key, value, &run->err)) &&
             !strstr(run->err.msg, key))
        dt_fail_prefix(&run->err, "%s", key); /* every message names the key */
    if (!st)
        run->cfg = *next;
    free(next);
    return api_leave(prev, st);
}

/* Local checks of one rank's arrays: shapes, pointers, finite values. */
static dt_status check_rows(const char *fn, const float *X, const float *y, int64_t n,
                            int64_t d, int64_t k, int rank, dt_error *err)
{
    if (n < 0 || d < 1 || k < 1)
        return dt_fail(err, DT_EUSAGE, "%s: n_rows %lld, n_features %lld, n_targets %lld: "
                       "need n_rows >= 0 and the others >= 1", fn, (long long)n,
                       (long long)d, (long long)k);
    if (n > 0 && (!X || !y))
        return dt_fail(err, DT_EUSAGE, "%s: X and y must not be NULL with %lld rows", fn,
                       (long long)n);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return dt_fail(err, DT_EUSAGE, "%s: X[%lld][%lld] of rank %d is not finite",
                               fn, (long long)i, (long long)j, rank);
        for (int64_t j = 0; j < k; j++)
            if (!isfinite(y[i * k + j]))
                return dt_fail(err, DT_EUSAGE, "%s: y[%lld][%lld] of rank %d is not finite",
                               fn, (long long)i, (long long)j, rank);
    }
    return DT_OK;
}

/* Gather every rank's rows into out, in rank order (collective, agreed). */
static dt_status gather_rows(dtrain_run *run, const char *fn, const float *X, const float *y,
                             int64_t n, int64_t d, int64_t k, rows *out)
{
    dt_comm *c = run->comm;
    dt_error *err = &run->err;
    dt_status st = comm_agree(c, check_rows(fn, X, y, n, d, k, comm_rank(c), err), err);
    if (st)
        return st;
    /* the same widths everywhere: max of (d, k, -d, -k) */
    int64_t v[4] = {d, k, -d, -k}, total = n;
    comm_allreduce_max_i64(c, v, 4);
    comm_allreduce_sum_i64(c, &total, 1);
    if (v[0] != -v[2] || v[1] != -v[3])
        return dt_fail(err, DT_EUSAGE, "%s: the ranks pass different n_features (%lld to "
                       "%lld) or n_targets (%lld to %lld)", fn, (long long)-v[2],
                       (long long)v[0], (long long)-v[3], (long long)v[1]);
    rows r = {malloc((size_t)(total * d + 1) * sizeof(float)),
              malloc((size_t)(total * k + 1) * sizeof(float)), total, d, k};
    st = r.X && r.y ? DT_OK : dt_fail(err, DT_ENOMEM, "%s: out of memory for %lld rows", fn,
                                      (long long)total);
    if (!(st = comm_agree(c, st, err)) &&
        (comm_allgatherv_bytes(c, X, (size_t)(n * d) * sizeof *X, r.X) ||
         comm_allgatherv_bytes(c, y, (size_t)(n * k) * sizeof *y, r.y)))
        st = dt_fail(err, DT_EUSAGE, "%s: %lld rows of %lld features are more than one "
                     "gather moves (2 GiB); use an HDF5 file (option \"data\")", fn,
                     (long long)total, (long long)d);
    if (st) {
        rows_free(&r);
        return st;
    }
    rows_free(out);
    *out = r;
    return DT_OK;
}

dtrain_status dtrain_set_data(dtrain_run *run, const float *X, const float *y, int64_t n_rows,
                              int64_t n_features, int64_t n_targets)
{
    dt_status st = api_usable(run, "dtrain_set_data");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    st = gather_rows(run, "dtrain_set_data", X, y, n_rows, n_features, n_targets,
                               &run->train);
    if (!st)
        run->have_train = 1;
    return api_leave(prev, st);
}

dtrain_status dtrain_set_eval_data(dtrain_run *run, const float *X, const float *y,
                                   int64_t n_rows, int64_t n_features, int64_t n_targets)
{
    dt_status st = api_usable(run, "dtrain_set_eval_data");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    st = gather_rows(run, "dtrain_set_eval_data", X, y, n_rows, n_features,
                               n_targets, &run->eval);
    if (!st)
        run->have_eval = run->eval.n > 0;
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
    run->log_fn(run->log_user, (dtrain_log_level)level, line);
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
    if (flags & ~(unsigned)(DTRAIN_ALLOW_SIGNALS | DTRAIN_ALLOW_WATCHDOG))
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_allow: unknown flags 0x%x",
                                      flags);
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
    const int stop = run->on_step(run->step_user, &pub);
    run->in_callback--;
    return stop;
}

static void tick_trampoline(void *user, const dt_tick *t)
{
    dtrain_run *run = user;
    dtrain_tick pub = {t->epoch,   t->epochs,  t->batch, t->batches, t->samples,
                       t->n_samples, t->seconds, t->rate,  t->loss,    t->lr};
    run->in_callback++;
    run->on_tick(run->tick_user, &pub);
    run->in_callback--;
}

static int epoch_trampoline(void *user, const dt_run_info *info)
{
    dtrain_run *run = user;
    dtrain_info pub = public_info(info);
    run->in_callback++;
    const int stop = run->on_epoch(run->epoch_user, &pub);
    run->in_callback--;
    return stop;
}

/* The training or evaluation set from gathered rows, for the head the
 * options name: class labels (one column of non-negative whole numbers) for
 * a classifier, targets for regression.  Copies; the caller frees ds. */
static dt_status rows_dataset(const rows *r, int classify, const char *what, dt_dataset *ds,
                              dt_error *err)
{
    memset(ds, 0, sizeof *ds);
    ds->n = r->n;
    ds->d = r->d;
    ds->k = classify ? 1 : r->k;
    ds->max_label = -1;
    if (classify && r->k != 1)
        return dt_fail(err, DT_EUSAGE, "%s: a classifier's y is one column of class labels; "
                       "n_targets is %lld", what, (long long)r->k);
    ds->X = malloc((size_t)(r->n * r->d + 1) * sizeof *ds->X);
    if (classify)
        ds->labels = malloc((size_t)(r->n + 1) * sizeof *ds->labels);
    else
        ds->targets = malloc((size_t)(r->n * r->k + 1) * sizeof *ds->targets);
    if (!ds->X || (classify ? !ds->labels : !ds->targets)) {
        dataset_free(ds);
        return dt_fail(err, DT_ENOMEM, "%s: out of memory", what);
    }
    memcpy(ds->X, r->X, (size_t)(r->n * r->d) * sizeof *ds->X);
    if (!classify) {
        memcpy(ds->targets, r->y, (size_t)(r->n * r->k) * sizeof *ds->targets);
        return DT_OK;
    }
    for (int64_t i = 0; i < r->n; i++) {
        const float v = r->y[i];
        if (v < 0 || v != floorf(v) || v > 2147483647.0f) {
            dataset_free(ds);
            return dt_fail(err, DT_EUSAGE, "%s: y[%lld] = %g is not a class label (0, 1, ...)",
                           what, (long long)i, (double)v);
        }
        ds->labels[i] = (int32_t)v;
        if (ds->labels[i] > ds->max_label)
            ds->max_label = ds->labels[i];
    }
    return DT_OK;
}

/* "output" not set, data from arrays: y has no element type to tell labels
 * from quantities, so its values decide, by convert --label-type auto's rule
 * (convert_label_rule): one column of whole numbers >= 0 that look like class
 * labels -> softmax; anything else -> linear.  Said in one line. */
static dt_status array_head(const rows *r, dt_head *h, dt_error *err)
{
    int whole = r->k == 1 && r->n > 0;
    for (int64_t i = 0; whole && i < r->n; i++)
        whole = r->y[i] >= 0 && r->y[i] == floorf(r->y[i]);
    if (!whole) {
        dt_info("dtrain_set_data: y holds %s: linear output (regression), chosen from the "
                "data (\"output\" sets the head)",
                r->k > 1 ? "several targets per row" : "values that are not class labels");
        *h = HEAD_LINEAR;
        return DT_OK;
    }
    /* the same decision on every rank, or their models would differ: out of
     * memory here is a failure the caller agrees on */
    double *v = malloc((size_t)r->n * sizeof *v);
    if (!v)
        return dt_fail(err, DT_ENOMEM, "dtrain_set_data: out of memory for %lld labels",
                       (long long)r->n);
    for (int64_t i = 0; i < r->n; i++)
        v[i] = r->y[i];
    int64_t distinct;
    int index_like;
    dataset_count_values(v, r->n, &distinct, &index_like);
    free(v);
    char why[160];
    *h = convert_label_rule(r->n, distinct, index_like, NULL, why, sizeof why) ==
                 CONVERT_LABEL_CLASS
             ? HEAD_SOFTMAX
             : HEAD_LINEAR;
    dt_info("dtrain_set_data: y holds %s (%s): %s output, chosen from the data (\"output\" "
            "sets the head)", *h == HEAD_SOFTMAX ? "class labels" : "targets", why,
            head_name(*h));
    return DT_OK;
}

/* The sets session_setup_with takes, from the run's arrays (every rank
 * holds the same rows, so every rank makes the same sets). */
static dt_status array_sets(dtrain_run *run, dt_dataset *tr, dt_dataset *va, dt_error *err)
{
    const dt_train_config *cfg = &run->trained_cfg.train;
    const int classify = head_is_classifier(cfg->output);
    dt_status st;
    if (run->train.n == 0)
        return dt_fail(err, DT_EUSAGE, "dtrain_set_data: no training rows (n_rows was 0 on "
                       "every rank)");
    if ((st = rows_dataset(&run->train, classify, "dtrain_set_data", tr, err)))
        return st;
    if (run->have_eval) {
        if (run->eval.d != run->train.d || run->eval.k != run->train.k)
            return dt_fail(err, DT_EUSAGE, "dtrain_set_eval_data: %lld features and %lld "
                           "targets, the training data %lld and %lld", (long long)run->eval.d,
                           (long long)run->eval.k, (long long)run->train.d,
                           (long long)run->train.k);
        return rows_dataset(&run->eval, classify, "dtrain_set_eval_data", va, err);
    }
    if (cfg->valid_split > 0) { /* held out of the training rows, as for a file */
        dt_dataset all = *tr;
        st = dataset_split(&all, cfg->valid_split, (uint64_t)cfg->seed, tr, va, err);
        dataset_free(&all);
    }
    return st;
}

/* Set up the session for the run's data (collective, agreed). */
static dt_status setup(dtrain_run *run, dt_session *s)
{
    dt_error *err = &run->err;
    if (!run->have_train)
        return session_setup(s, &run->trained_cfg, run->comm, err);
    run->trained_cfg.train.data[0] = '\0'; /* the arrays, not a file */
    dt_dataset tr = {0}, va = {0};
    memset(s, 0, sizeof *s); /* session_free is safe on it if setup does not run */
    dt_status st = DT_OK;
    if ((int)run->trained_cfg.train.output < 0 && run->train.n > 0) /* the same rows on every rank */
        st = array_head(&run->train, &run->trained_cfg.train.output, err);
    st = comm_agree(run->comm, st ? st : array_sets(run, &tr, &va, err), err);
    if (!st)
        st = session_setup_with(s, &run->trained_cfg, run->comm, &tr, &va, err);
    dataset_free(&tr); /* taken by the session (zeroed) unless it failed early */
    dataset_free(&va);
    return st;
}

/* path <- the model, its configuration cfg and its training's epochs hist
 * (NULL: none); rank 0 writes, collective, agreed. */
static dt_status save_model(dtrain_run *run, const dt_model *m, const dt_norm *nm,
                            const dt_config *cfg, const dt_history *hist, const char *path)
{
    dt_error *err = &run->err;
    dt_status st = DT_OK;
    if (comm_rank(run->comm) == 0)
        st = modelio_save(path, m, nm, cfg, hist, err);
    if (!(st = comm_agree(run->comm, st, err)))
        dt_info("saved model to %s", path);
    return st;
}

dtrain_status dtrain_train(dtrain_run *run)
{
    dt_status st = api_usable(run, "dtrain_train");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    drop_model(run);
    if (run->cfg.train.step_timeout > 0 && !(run->allowed & DTRAIN_ALLOW_WATCHDOG))
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "step-timeout: the watchdog thread it needs "
                                                   "is not allowed (dtrain_allow(run, "
                                                   "DTRAIN_ALLOW_WATCHDOG))"));
    dt_session *s = malloc(sizeof *s);
    st = comm_agree(run->comm, s ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory"), err);
    if (st) {
        free(s);
        return api_leave(prev, st);
    }
    run->trained_cfg = run->cfg;
    /* the watch begins before set-up: a rank that stops there (or, armed by
     * the caller, in MPI's start-up) would leave the others waiting */
    const int watch = run->cfg.train.step_timeout > 0;
    if (watch && (st = watchdog_start(run->cfg.train.step_timeout, run->comm, err))) {
        free(s);
        return api_leave(prev, st);
    }
    st = setup(run, s);
    if (!st) {
        session_describe(s);
        s->signals = (run->allowed & DTRAIN_ALLOW_SIGNALS) != 0;
        s->watchdog = (run->allowed & DTRAIN_ALLOW_WATCHDOG) != 0;
        s->on_step = run->on_step ? step_trampoline : NULL;
        s->on_epoch = run->on_epoch ? epoch_trampoline : NULL;
        s->hook_user = run;
        s->on_tick = run->on_tick ? tick_trampoline : NULL;
        s->tick_user = run;
        s->tick_every = run->tick_every;
        st = session_train(s, err);
    }
    if (watch)
        watchdog_stop();
    if (!st)
        st = session_report(s, err);
    if (!st) /* the names come with the data file; arrays have none */
        st = read_names(run, run->trained_cfg.train.data, err);
    if (!st && run->trained_cfg.train.save[0] && !s->complete) /* complete: nothing rewritten */
        st = save_model(run, &s->model, &s->norm, &run->trained_cfg, &s->progress.hist,
                        run->trained_cfg.train.save);
    if (st) {
        session_free(s);
        free(s);
    } else {
        /* only the model and its normalisation are used from here on; the
         * session's copies of the data go (collective if node-shared) */
        dataset_free(&s->train);
        dataset_free(&s->eval);
        dataset_free(&s->test);
        run->session = s;
    }
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
    /* blocks of max_batch rows, normalised in the model's input scratch */
    for (int64_t i = 0; i < n; i += m->max_batch) {
        const int nb = (int)(n - i < m->max_batch ? n - i : m->max_batch);
        memcpy(m->xin, X + i * m->n_in, (size_t)nb * m->n_in * sizeof *m->xin);
        dt_dataset block = {.n = nb, .d = m->n_in, .X = m->xin};
        norm_apply(nm, &block);
        model_predict(m, m->xin, nb, out + i * m->n_out);
    }
    return api_leave(prev, model_fault(m, err));
}

/* dtrain_save's path against the command line's rule for outputs
 * (fs_check_files): not the files the model came from, nor the trained
 * run's --log or checkpoints.  Local (rank 0). */
static dt_status check_save_path(const dtrain_run *run, const char *path, dt_error *err)
{
    const dt_config *cfg = &run->trained_cfg;
    const dt_session *s = run->session;
    const fs_file files[] = {
        {"data", s ? cfg->train.data : "", FS_INPUT},
        {"init-from", s ? cfg->train.init_from : "", FS_INPUT},
        {"config", s ? cfg->config_file : "", FS_INPUT},
        {"resume", s ? s->resumed_from : "", FS_OWNED},
        {"dtrain_load", s ? "" : run->loaded_from, FS_INPUT},
        {"log", s ? cfg->train.log : "", FS_WRITTEN},
        {"dtrain_save", path, FS_OUTPUT},
    };
    const fs_owned_dir dir = ckpt_owned_dir(s ? cfg->train.checkpoint_dir : "");
    return fs_check_files(files, sizeof files / sizeof files[0], &dir, err);
}

dtrain_status dtrain_save(dtrain_run *run, const char *path)
{
    const dt_status refused = api_usable(run, "dtrain_save");
    if (refused)
        return (dtrain_status)refused;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dt_norm *nm = NULL;
    dt_model *m = api_model_of(run, &nm);
    dt_status st = DT_OK;
    if (!m)
        st = dt_fail(err, DT_EUSAGE, "dtrain_save: the run has no model (dtrain_train or "
                                     "dtrain_load first)");
    else if (!path || !path[0])
        st = dt_fail(err, DT_EUSAGE, "dtrain_save: no path");
    else if (comm_rank(run->comm) == 0)
        st = check_save_path(run, path, err);
    if (!(st = comm_agree(run->comm, st, err)))
        st = save_model(run, m, nm, run->session ? &run->trained_cfg : NULL,
                        run->session ? &run->session->progress.hist : NULL, path);
    return api_leave(prev, st);
}

dtrain_status dtrain_load(dtrain_run *run, const char *path)
{
    dt_status st = api_usable(run, "dtrain_load");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    /* read beside the model held, which goes only when every rank has the
     * new one: a failed load keeps it */
    dt_model m;
    dt_norm nm;
    dt_data_extras names = {0};
    st = path && path[0] ? modelio_load(path, 256, &m, &nm, err)
                         : dt_fail(err, DT_EUSAGE, "dtrain_load: no path");
    const int read = !st;
    if (!st)
        st = dataset_read_extras(path, &names, err);
    if ((st = comm_agree(run->comm, st, err))) {
        if (read) {
            model_free(&m);
            norm_free(&nm);
        }
        dataset_extras_free(&names);
        return api_leave(prev, st);
    }
    drop_model(run);
    run->loaded = m;
    run->loaded_norm = nm;
    run->have_loaded = 1;
    run->names = names;
    snprintf(run->loaded_from, sizeof run->loaded_from, "%s", path);
    return api_leave(prev, st);
}

dtrain_status dtrain_class_names(dtrain_run *run, const char *const **names, int64_t *n)
{
    dt_status st = api_usable(run, "dtrain_class_names");
    if (st)
        return (dtrain_status)st;
    dt_norm *nm;
    if (!names || !n)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE,
                                      "dtrain_class_names: names or n is NULL");
    *names = NULL;
    *n = 0;
    if (!api_model_of(run, &nm))
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE,
                                      "dtrain_class_names: the run has no model (dtrain_train "
                                      "or dtrain_load first)");
    if (run->names.classes) {
        *names = (const char *const *)run->names.classes;
        *n = run->names.n_classes;
    }
    return DTRAIN_OK;
}
