/* dtrain cv: k-fold cross-validation of every configuration of a grid.
 *
 * Scheduling.  The world is split into groups of --ranks-per-trial ranks
 * (ranks left over when the world size is not a multiple stay idle).  Trial t
 * = (configuration t / K, fold t % K) is run by group t % ngroups, so groups
 * work side by side and each runs its trials one after another; a group never
 * waits for another until the search is over.  Each trial is an ordinary
 * training run on the group's communicator (session_setup_with on the fold's
 * rows), followed by an exact evaluation of the fold's validation rows.
 *
 * Combining.  Every rank holds the (configurations x K) array of metric
 * values, zero except where it is the first rank of the group that ran the
 * trial; a failed trial is NAN.  One sum-allreduce over the world then gives
 * every rank the whole table (x + 0 = x exactly, NAN stays NAN), so all ranks
 * rank the configurations identically; the failed trials' messages are
 * gathered to rank 0, which alone prints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtrain/trainer.h"
#include "dtrain/cv.h"
#include "dtrain/fsutil.h"
#include "dtrain/metrics.h"
#include "dtrain/modelio.h"
#include "dtrain/session.h"

/* A failed trial's message on its way to rank 0. */
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
    const dt_dataset *va = &s->eval;
    const int K = s->model.n_out;
    int64_t lo, hi;
    block_slice(va->n, s->model.max_batch, comm_rank(g), comm_size(g), &lo, &hi);
    float *out = malloc((size_t)((hi - lo) * K + 1) * sizeof *out);
    dt_status st = out ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory");
    if ((st = comm_agree(g, st, err))) {
        free(out);
        return st;
    }
    trainer_predict(&s->model, va, lo, hi, out);
    if (metrics_is_classification(metric)) {
        dt_class_metrics cm = {0};
        st = metrics_classification(g, out, K, va->labels + lo, hi - lo, s->n_classes, &cm, err);
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

/* One (configuration, fold) trial on group g.  Collective over g; every rank
 * of g returns the same status. */
static dt_status run_trial(dt_config *cfg, dt_comm *g, const dt_dataset *all,
                           const int32_t *fold_of_row, int fold, dt_metric metric, double *value,
                           dt_error *err)
{
    dt_dataset tr, va;
    dt_status st = cv_fold_split(all, fold_of_row, fold, &tr, &va, err);
    if ((st = comm_agree(g, st, err)))
        return st;
    dt_session s;
    st = session_setup_with(&s, cfg, g, &tr, &va, err);
    s.watchdog = 1; /* --step-timeout, as train allows it */
    if (!st)
        st = session_train(&s, err);
    if (!st)
        st = validate(&s, metric, value, err);
    session_free(&s);
    dataset_free(&tr); /* already taken by the session unless setup failed early */
    dataset_free(&va);
    return st;
}

/* Write the CSV under a temporary name and rename it into place. */
static dt_status write_csv(const char *path, const cv_results *r, const cv_summary *sorted,
                           dt_error *err)
{
    char tmp[DT_PATH_MAX + 32];
    fs_temp_name(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dt_fail(err, DT_EIO, "--out %s: cannot create %s", path, tmp);
    cv_print_csv(f, r, sorted);
    if (ferror(f) | fclose(f)) {
        remove(tmp);
        return dt_fail(err, DT_EIO, "--out %s: write failed", path);
    }
    return fs_commit(tmp, path, err);
}

/* Train configuration `best` on the whole training split on every world rank
 * and save it.  Takes ownership of *all. */
static dt_status refit(const dt_config *base, const cv_grid *grid, int64_t best,
                       dt_dataset *all, dt_comm *world, dt_error *err)
{
    const int rank = comm_rank(world), P = comm_size(world);
    dt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        dataset_free(all);
        return comm_agree(world, dt_fail(err, DT_ENOMEM, "out of memory"), err);
    }
    cv_grid_config(grid, base, best, cfg);
    char desc[DT_PATH_MAX];
    cv_grid_describe(grid, best, desc, sizeof desc);
    const long long n = (long long)all->n;
    dt_info("refit: training %s on all %lld training samples at %d rank%s", desc, n, P,
            P == 1 ? "" : "s");
    dt_session s;
    memset(&s, 0, sizeof s); /* session_free below is safe even if setup never ran */
    dt_log_sink shown = dt_log_swap((dt_log_sink){0}); /* the epoch lines stay quiet */
    dt_status st = session_setup_with(&s, cfg, world, all, NULL, err);
    s.watchdog = 1; /* --step-timeout, as train allows it */
    if (!st)
        st = session_train(&s, err);
    dt_log_swap(shown);
    if (!st) {
        if (rank == 0)
            st = modelio_save(base->cv.refit, &s.model, &s.norm, cfg, &s.progress.hist, err);
        st = comm_agree(world, st, err);
    }
    if (!st) {
        const dt_progress *p = &s.progress;
        dt_info("refit: saved %s (train_loss %.4f after %lld epochs)", base->cv.refit,
                history_get(&p->hist, p->hist.n_rows - 1, "train_loss"),
                (long long)p->epoch);
    } else {
        dt_fail_prefix(err, "--refit");
    }
    session_free(&s);
    dataset_free(all);
    free(cfg);
    return st;
}

/* Checks that need no data: options, grid, metric, rank layout, output paths. */
static dt_status check_setup(const dt_config *cfg, dt_comm *world, cv_grid *grid,
                             dt_metric *metric, dt_error *err)
{
    dt_status st;
    if ((st = cv_check_options(cfg, err)))
        return st;
    if (!cfg->train.data[0])
        return dt_fail(err, DT_EUSAGE, "--data FILE.h5 is required (see dtrain cv --help)");
    /* --metric, or the head's own */
    *metric = cfg->cv.metric < 0 ? metrics_default(cfg->train.output) : (dt_metric)cfg->cv.metric;
    if ((st = cv_grid_parse(cfg->cv.grid, cfg, grid, err)) ||
        (st = metrics_check(*metric, cfg->train.output, err)))
        return st;
    const int P = comm_size(world);
    if (cfg->cv.ranks_per_trial > P)
        return dt_fail(err, DT_EUSAGE, "--ranks-per-trial %lld is more than the %d rank%s",
                       (long long)cfg->cv.ranks_per_trial, P, P == 1 ? "" : "s");
    const fs_file files[] = {
        {"--data", cfg->train.data, FS_INPUT},   {"--config", cfg->config_file, FS_INPUT},
        {"--out", cfg->out, FS_OUTPUT},    {"--refit", cfg->cv.refit, FS_OUTPUT},
    };
    st = comm_rank(world) == 0 ? fs_check_files(files, sizeof files / sizeof files[0], NULL, err)
                               : DT_OK;
    return comm_agree(world, st, err);
}

/* A search's state, shared by its steps. */
typedef struct {
    const dt_config *cfg;
    dt_comm *world;
    dt_comm *g; /* this rank's group: the trials' communicator */
    cv_grid *grid;
    dt_metric metric;
    dt_dataset all; /* the training split, whole */
    int K;          /* folds */
    int64_t C, T;   /* configurations, trials (C x K) */
    int32_t *fold_of_row;
    double *value;          /* (C x K) the metric of each trial, NAN if it failed */
    failure_rec *fails;     /* this rank's failed trials */
    int64_t n_fail;
    char (*msg)[CV_MSG_LEN]; /* rank 0: each trial's failure message */
    cv_summary *sorted;
    dt_config *tcfg;        /* the trial's configuration */
} search;

/* The training split, once, and the folds from --seed (the same on every rank). */
static dt_status load_folds(search *s, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_status st = dataset_load(cfg->train.data, cfg->train.train_group, head_is_classifier(cfg->train.output),
                                &s->all, err);
    if ((st = comm_agree(s->world, st, err)))
        return st;
    s->K = (int)cfg->cv.folds;
    s->C = s->grid->n_configs;
    s->T = s->C * s->K;
    s->fold_of_row = malloc((size_t)(s->all.n + 1) * sizeof *s->fold_of_row);
    s->value = calloc((size_t)s->T, sizeof *s->value);
    s->fails = calloc((size_t)s->T, sizeof *s->fails);
    s->sorted = calloc((size_t)s->C, sizeof *s->sorted);
    s->tcfg = malloc(sizeof *s->tcfg);
    if (!s->fold_of_row || !s->value || !s->fails || !s->sorted || !s->tcfg)
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st)
        st = cv_folds(&s->all, s->K, (uint64_t)cfg->train.seed, s->fold_of_row, err);
    return comm_agree(s->world, st, err);
}

static void describe_search(const search *s, int ngroups, int R)
{
    const dt_config *cfg = s->cfg;
    const int P = comm_size(s->world), idle = P - ngroups * R;
    dt_info("cv: %s %s: %lld samples x %lld features, %d %sfolds (seed %lld)", cfg->train.data,
            cfg->train.train_group, (long long)s->all.n, (long long)s->all.d, s->K,
            s->all.labels ? "stratified " : "", (long long)cfg->train.seed);
    dt_info("cv: %lld configuration%s x %d folds = %lld trials on %d group%s of %d rank%s",
            (long long)s->C, s->C == 1 ? "" : "s", s->K, (long long)s->T, ngroups,
            ngroups == 1 ? "" : "s", R, R == 1 ? "" : "s");
    if (idle)
        dt_info("cv: %d rank%s idle: the world size %d is not a multiple of --ranks-per-trial %d",
                idle, idle == 1 ? "" : "s", P, R);
}

/* Group `color` runs trials color, color + ngroups, ...; its first rank
 * records each value and each failure's message. */
static void run_trials(search *s, int color, int ngroups)
{
    dt_log_sink shown = dt_log_swap((dt_log_sink){0}); /* the trials' lines stay quiet */
    for (int64_t t = color; color < ngroups && t < s->T; t += ngroups) {
        dt_error terr;
        dt_error_clear(&terr);
        double v = NAN;
        cv_grid_config(s->grid, s->cfg, t / s->K, s->tcfg);
        dt_status ts = run_trial(s->tcfg, s->g, &s->all, s->fold_of_row, (int)(t % s->K),
                                 s->metric, &v, &terr);
        if (comm_rank(s->g) != 0)
            continue;
        s->value[t] = ts ? NAN : v;
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

/* Combine: values everywhere, failure messages on rank 0. */
static void gather_results(search *s)
{
    const int rank = comm_rank(s->world);
    comm_allreduce_sum_f64(s->world, s->value, (size_t)s->T);
    int64_t total_fail = s->n_fail;
    comm_allreduce_sum_i64(s->world, &total_fail, 1);
    failure_rec *all_fails = rank == 0 ? calloc((size_t)total_fail + 1, sizeof *all_fails) : NULL;
    if (comm_gatherv_bytes(s->world, s->fails, (size_t)s->n_fail * sizeof *s->fails, all_fails,
                           0))
        total_fail = 0; /* over 2 GiB of messages: the table shows none */
    if (rank == 0) {
        s->msg = calloc((size_t)s->T, sizeof *s->msg);
        for (int64_t i = 0; s->msg && i < total_fail; i++)
            memcpy(s->msg[all_fails[i].trial], all_fails[i].msg, CV_MSG_LEN);
    }
    free(all_fails);
}

/* The configurations ranked, the table printed and --out written (rank 0);
 * *good: how many configurations had no failed trial. */
static dt_status report(search *s, int64_t *good, dt_error *err)
{
    cv_results res = {s->grid, s->metric, s->K, s->value, (const char(*)[CV_MSG_LEN])s->msg};
    *good = cv_rank(&res, s->sorted);
    dt_status st = *good < 0 ? dt_fail(err, DT_ENOMEM, "out of memory") : DT_OK;
    if ((st = comm_agree(s->world, st, err)))
        return st;
    if (comm_rank(s->world) == 0) {
        printf("\n");
        cv_print_table(stdout, &res, s->sorted);
        fflush(stdout);
        if (s->cfg->out[0] && !(st = write_csv(s->cfg->out, &res, s->sorted, err)))
            dt_info("wrote %s", s->cfg->out);
    }
    return comm_agree(s->world, st, err);
}

static void search_free(search *s)
{
    if (s->g)
        comm_free(s->g);
    dataset_free(&s->all);
    free(s->fold_of_row);
    free(s->value);
    free(s->fails);
    free(s->msg);
    free(s->sorted);
    free(s->tcfg);
}

dt_status cli_cv(const dt_config *given, dt_comm *world, dt_error *err)
{
    static cv_grid grid; /* large: keep it off the stack */
    static dt_config cfg_copy; /* with the head chosen from the data (--output not given) */
    dt_config *cfg = &cfg_copy;
    *cfg = *given;
    search s = {.cfg = cfg, .world = world, .grid = &grid, .metric = METRIC_ACCURACY};
    const int rank = comm_rank(world), R = (int)cfg->cv.ranks_per_trial;
    const int ngroups = comm_size(world) / R;
    const int color = rank < ngroups * R ? rank / R : ngroups; /* ngroups: idle */
    int64_t good = 0;
    dt_status st = cfg->train.data[0] ? session_choose_head(cfg, world, err) : DT_OK;
    if (!st)
        st = check_setup(cfg, world, &grid, &s.metric, err);
    if (!st)
        st = load_folds(&s, err);
    if (!st) {
        describe_search(&s, ngroups, R);
        s.g = comm_split(world, color, rank);
        st = s.g ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory splitting the ranks into groups");
        st = comm_agree(world, st, err);
    }
    if (!st) {
        run_trials(&s, color, ngroups);
        gather_results(&s);
        st = report(&s, &good, err);
    }
    if (!st && good == 0)
        st = dt_fail(err, DT_ENUM, "every configuration failed (see the table)");
    if (!st && cfg->cv.refit[0])
        st = refit(cfg, &grid, s.sorted[0].config, &s.all, world, err);
    search_free(&s);
    return st;
}
