/* dtrain: the scheduling of a cross-validated grid search (cvsearch.h). */
#include "dtrain/cvsearch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/fsutil.h"
#include "dtrain/history.h"
#include "dtrain/metrics.h"
#include "dtrain/cfgsave.h"
#include "dtrain/modelio.h"
#include "dtrain/session.h"
#include "dtrain/trainer.h"

/* A failed trial's message on its way to the other ranks. */
typedef struct {
    int64_t trial;
    char msg[CV_MSG_LEN];
} failure_rec;

/* Predict the session's validation rows (already normalised by the session),
 * each rank of the group a block-aligned share, and compute the metric over
 * the group. */
static dt_status validate(dt_session *s, dt_metric metric, double *value, dt_error *err)
{
    dt_comm *g = s->comm;
    const dt_dataset *va = &s->data.eval;
    const int K = s->net.model.n_out;
    int64_t lo, hi;
    block_slice(va->n, s->net.model.max_batch, comm_rank(g), comm_size(g), &lo, &hi);
    float *out = malloc((size_t)((hi - lo) * K + 1) * sizeof *out);
    dt_status st = out ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory");
    if ((st = comm_agree(g, st, err))) {
        free(out);
        return st;
    }
    trainer_predict(&s->net.model, va, lo, hi, out);
    if (metrics_is_classification(metric)) {
        dt_class_metrics cm = {0};
        st = metrics_classification(g, out, K, va->labels + lo, hi - lo, s->data.n_classes, &cm,
                                    err);
        *value = st ? NAN : metrics_of_class(metric, &cm);
        metrics_class_free(&cm);
    } else {
        dt_reg_metrics rm = {0};
        st = metrics_regression(g, out, va->targets + lo * K, hi - lo, K, &rm, err);
        *value = st ? NAN : metrics_of_reg(metric, &rm);
        metrics_reg_free(&rm);
    }
    free(out);
    if (!st && isnan(*value))
        st = dt_fail(err, DT_ENUM, "%s is undefined on this fold's validation rows%s",
                     metrics_name(metric),
                     metric == METRIC_AUC ? " (a single class)" : "");
    return st;
}

/* Set up a session on tr (and va, may be NULL) and train it; the session
 * takes the datasets.  watchdog: "step-timeout" may start the watchdog, as
 * dtrain_train allows it.  s is safe to session_free afterwards. */
static dt_status train_session(dt_session *s, dt_config *cfg, dt_comm *g, dt_dataset *tr,
                               dt_dataset *va, int watchdog, dt_error *err)
{
    memset(s, 0, sizeof *s);
    dt_status st = session_setup_with(s, cfg, g, tr, va, err);
    s->allow.watchdog = watchdog;
    return st ? st : session_train(s, err);
}

/* One (configuration, fold) trial on group g.  Collective over g; every rank
 * of g returns the same status. */
static dt_status run_trial(dt_config *cfg, dt_comm *g, const dt_dataset *all,
                           const int32_t *fold_of_row, int fold, dt_metric metric, int watchdog,
                           double *value, dt_error *err)
{
    dt_dataset tr, va;
    dt_status st = cv_fold_split(all, fold_of_row, fold, &tr, &va, err);
    if ((st = comm_agree(g, st, err)))
        return st;
    dt_session s;
    st = train_session(&s, cfg, g, &tr, &va, watchdog, err);
    if (!st)
        st = validate(&s, metric, value, err);
    session_free(&s);
    dataset_free(&tr); /* already taken by the session unless setup failed early */
    dataset_free(&va);
    return st;
}

/* Checks that need no data: options, grid, metric, rank layout, output paths. */
static dt_status check_setup(const dt_config *cfg, dt_comm *comm, cv_grid *grid,
                             dt_metric *metric, dt_error *err)
{
    dt_status st;
    if ((st = cv_check_options(cfg, err)))
        return st;
    if (!cfg->train.data[0])
        return dt_fail(err, DT_EUSAGE, "%s FILE.h5 is required", dt_opt("data"));
    /* the metric option, or the head's own */
    *metric = cfg->cv.metric < 0 ? metrics_default(cfg->train.output) : (dt_metric)cfg->cv.metric;
    if ((st = cv_grid_parse(cfg->cv.grid, cfg, grid, err)) ||
        (st = metrics_check(*metric, cfg->train.output, err)))
        return st;
    const int P = comm_size(comm);
    if (cfg->cv.ranks_per_trial > P)
        return dt_fail(err, DT_EUSAGE, "%s %lld is more than the %d rank%s",
                       dt_opt("ranks-per-trial"), (long long)cfg->cv.ranks_per_trial, P,
                       P == 1 ? "" : "s");
    const fs_file files[] = {
        {dt_opt("data"), cfg->train.data, FS_INPUT},   {dt_opt("config"), cfg->config_file, FS_INPUT},
        {dt_opt("out"), cfg->out, FS_OUTPUT},    {dt_opt("refit"), cfg->cv.refit, FS_OUTPUT},
    };
    st = comm_rank(comm) == 0 ? fs_check_files(files, sizeof files / sizeof files[0], NULL, err)
                              : DT_OK;
    return comm_agree(comm, st, err);
}

/* A search's working state, shared by its steps. */
typedef struct {
    dtrain_cv_result *r;
    dt_comm *comm;
    dt_comm *g;             /* this rank's group: the trials' communicator */
    int64_t T;              /* trials (C x K) */
    int32_t *fold_of_row;
    failure_rec *fails;     /* this rank's failed trials */
    int64_t n_fail;
    dt_config *tcfg;        /* the trial's configuration */
} search;

/* The training split, once, and the folds from the seed (the same on every rank). */
static dt_status load_folds(search *s, dt_error *err)
{
    dtrain_cv_result *r = s->r;
    const dt_config *cfg = r->cfg;
    dt_status st = dataset_load(cfg->train.data, cfg->train.train_group, head_is_classifier(cfg->train.output),
                                &r->all, err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    r->k = (int)cfg->cv.folds;
    r->C = r->grid.n_configs;
    s->T = r->C * r->k;
    s->fold_of_row = malloc((size_t)(r->all.n + 1) * sizeof *s->fold_of_row);
    r->value = calloc((size_t)s->T, sizeof *r->value);
    r->msg = calloc((size_t)s->T, sizeof *r->msg);
    s->fails = calloc((size_t)s->T, sizeof *s->fails);
    r->sorted = calloc((size_t)r->C, sizeof *r->sorted);
    s->tcfg = malloc(sizeof *s->tcfg);
    if (!s->fold_of_row || !r->value || !r->msg || !s->fails || !r->sorted || !s->tcfg)
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st)
        st = cv_folds(&r->all, r->k, (uint64_t)cfg->train.seed, s->fold_of_row, err);
    return comm_agree(s->comm, st, err);
}

static void describe_search(const search *s, int ngroups, int R)
{
    const dtrain_cv_result *r = s->r;
    const dt_train_config *cfg = &r->cfg->train;
    const int P = comm_size(s->comm), idle = P - ngroups * R;
    dt_info("cv: %s %s: %lld samples x %lld features, %d %sfolds (seed %lld)", cfg->data,
            cfg->train_group, (long long)r->all.n, (long long)r->all.d, r->k,
            r->all.labels ? "stratified " : "", (long long)cfg->seed);
    dt_info("cv: %lld configuration%s x %d folds = %lld trials on %d group%s of %d rank%s",
            (long long)r->C, r->C == 1 ? "" : "s", r->k, (long long)s->T, ngroups,
            ngroups == 1 ? "" : "s", R, R == 1 ? "" : "s");
    if (idle)
        dt_info("cv: %d rank%s idle: the world size %d is not a multiple of %s %d", idle,
                idle == 1 ? "" : "s", P, dt_opt("ranks-per-trial"), R);
}

/* Group `color` runs trials color, color + ngroups, ...; its first rank
 * records each value and each failure's message. */
static void run_trials(search *s, int color, int ngroups)
{
    dtrain_cv_result *r = s->r;
    dt_log_sink shown = dt_log_swap((dt_log_sink){0}); /* the trials' lines stay quiet */
    for (int64_t t = color; color < ngroups && t < s->T; t += ngroups) {
        dt_error terr;
        dt_error_clear(&terr);
        double v = NAN;
        cv_grid_config(&r->grid, r->cfg, t / r->k, s->tcfg);
        dt_status ts = run_trial(s->tcfg, s->g, &r->all, s->fold_of_row, (int)(t % r->k),
                                 r->metric, r->watchdog, &v, &terr);
        if (comm_rank(s->g) != 0)
            continue;
        r->value[t] = ts ? NAN : v;
        if (ts) {
            /* kept whole up to CV_MSG_LEN - 1 characters */
            size_t len = strnlen(terr.msg, CV_MSG_LEN - 1);
            s->fails[s->n_fail].trial = t;
            memcpy(s->fails[s->n_fail].msg, terr.msg, len);
            s->fails[s->n_fail++].msg[len] = '\0';
        }
    }
    dt_log_swap(shown);
}

/* Combine: the values and the failures' messages on every rank. */
static void gather_results(search *s)
{
    dtrain_cv_result *r = s->r;
    comm_allreduce_sum_f64(s->comm, r->value, (size_t)s->T);
    int64_t total_fail = s->n_fail;
    comm_allreduce_sum_i64(s->comm, &total_fail, 1);
    failure_rec *all_fails = calloc((size_t)total_fail + 1, sizeof *all_fails);
    int64_t bad = !all_fails; /* agreed: the gather is collective */
    comm_allreduce_max_i64(s->comm, &bad, 1);
    if (bad || comm_allgatherv_bytes(s->comm, s->fails, (size_t)s->n_fail * sizeof *s->fails,
                                     all_fails))
        total_fail = 0; /* no memory, or over 2 GiB of messages: the table shows none */
    for (int64_t i = 0; i < total_fail; i++)
        memcpy(r->msg[all_fails[i].trial], all_fails[i].msg, CV_MSG_LEN);
    free(all_fails);
}

static void search_free(search *s)
{
    if (s->g)
        comm_free(s->g);
    free(s->fold_of_row);
    free(s->fails);
    free(s->tcfg);
}

/* The groups' trials, their results combined and ranked (collective). */
static dt_status run_search(search *s, dt_error *err)
{
    dtrain_cv_result *r = s->r;
    const int rank = comm_rank(s->comm), R = (int)r->cfg->cv.ranks_per_trial;
    const int ngroups = comm_size(s->comm) / R;
    const int color = rank < ngroups * R ? rank / R : ngroups; /* ngroups: idle */
    describe_search(s, ngroups, R);
    s->g = comm_split(s->comm, color, rank);
    dt_status st = s->g ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory splitting the ranks "
                                                          "into groups");
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    run_trials(s, color, ngroups);
    gather_results(s);
    cv_results res = cv_search_results(r);
    r->good = cv_rank(&res, r->sorted);
    st = r->good < 0 ? dt_fail(err, DT_ENOMEM, "out of memory") : DT_OK;
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    if (r->good == 0)
        st = dt_fail(err, DT_ENUM, "every configuration failed (see the table)");
    return st;
}

dt_status cv_search(const dt_config *cfg, dt_comm *comm, int watchdog, dtrain_cv_result *r,
                    dt_error *err)
{
    r->metric = METRIC_ACCURACY;
    r->watchdog = watchdog;
    r->cfg = malloc(sizeof *r->cfg);
    dt_status st = comm_agree(comm, r->cfg ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory"),
                              err);
    if (st)
        return st;
    *r->cfg = *cfg; /* with the head chosen from the data (output not given) */
    search s = {.r = r, .comm = comm};
    if (r->cfg->train.data[0])
        st = session_choose_head(r->cfg, comm, err);
    if (!st)
        st = check_setup(r->cfg, comm, &r->grid, &r->metric, err);
    if (!st)
        st = load_folds(&s, err);
    if (!st)
        st = run_search(&s, err);
    search_free(&s);
    return st;
}

cv_results cv_search_results(const dtrain_cv_result *r)
{
    return (cv_results){&r->grid, r->metric, r->k, r->value,
                        (const char(*)[CV_MSG_LEN])r->msg};
}

dt_status cv_search_save(const dtrain_cv_result *r, dt_comm *comm, const char *path,
                         dt_error *err)
{
    dt_status st = DT_OK;
    if (comm_rank(comm) == 0) {
        char tmp[DT_PATH_MAX + 32];
        fs_temp_name(path, tmp, sizeof tmp);
        FILE *f = fopen(tmp, "w");
        if (!f)
            st = dt_fail(err, DT_EIO, "%s %s: cannot create %s", dt_opt("out"), path, tmp);
        if (f) {
            cv_results res = cv_search_results(r);
            cv_print_csv(f, &res, r->sorted);
            if (ferror(f) | fclose(f)) {
                remove(tmp);
                st = dt_fail(err, DT_EIO, "%s %s: write failed", dt_opt("out"), path);
            } else {
                st = fs_commit(tmp, path, err);
            }
        }
    }
    if (!(st = comm_agree(comm, st, err)))
        dt_info("wrote %s", path);
    return st;
}

/* Save the refit model and say so (rank 0 writes; agreed). */
static dt_status save_refit(const dtrain_cv_result *r, dt_comm *comm, dt_session *s,
                            const dt_config *cfg, dt_error *err)
{
    dt_status st = DT_OK;
    const dt_saved_opts opts = cfgsave_opts(cfg);
    if (comm_rank(comm) == 0)
        st = modelio_save(r->cfg->cv.refit, &s->net.model, &s->net.norm, &opts,
                          NULL, &s->state.progress.hist, err);
    if ((st = comm_agree(comm, st, err)))
        return st;
    const dt_progress *p = &s->state.progress;
    dt_info("refit: saved %s (train_loss %.4f after %lld epochs)", r->cfg->cv.refit,
            history_get(&p->hist, p->hist.n_rows - 1, "train_loss"), (long long)p->epoch);
    return DT_OK;
}

dt_status cv_search_refit(dtrain_cv_result *r, dt_comm *comm, dt_error *err)
{
    const int P = comm_size(comm);
    const int64_t best = r->sorted[0].config;
    dt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        dataset_free(&r->all);
        return comm_agree(comm, dt_fail(err, DT_ENOMEM, "out of memory"), err);
    }
    cv_grid_config(&r->grid, r->cfg, best, cfg);
    char desc[DT_PATH_MAX];
    cv_grid_describe(&r->grid, best, desc, sizeof desc);
    dt_info("refit: training %s on all %lld training samples at %d rank%s", desc,
            (long long)r->all.n, P, P == 1 ? "" : "s");
    dt_session s;
    dt_log_sink shown = dt_log_swap((dt_log_sink){0}); /* the epoch lines stay quiet */
    dt_status st = train_session(&s, cfg, comm, &r->all, NULL, r->watchdog, err);
    dt_log_swap(shown);
    if (!st)
        st = save_refit(r, comm, &s, cfg, err);
    if (st)
        dt_fail_prefix(err, "%s", dt_opt("refit"));
    session_free(&s);
    dataset_free(&r->all);
    free(cfg);
    return st;
}

void cv_search_free(dtrain_cv_result *r)
{
    dataset_free(&r->all);
    free(r->value);
    free(r->msg);
    free(r->sorted);
    free(r->cfg);
    memset(r, 0, sizeof *r);
}
