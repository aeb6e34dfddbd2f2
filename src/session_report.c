/* dtrain: what a run reports: a set's figures, the lines describing the
 * run set up, and the final metrics. */
#include "dtrain/session_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dtrain/metrics.h"
#include "dtrain/status.h"

static void add_figure(session_figures *fg, const char *set, const char *what, double v)
{
    snprintf(fg->name[fg->n], HIST_NAME_LEN, "%s_%s", set, what);
    fg->v[fg->n++] = v;
}

/* The loss and the metrics of one set, exact over all ranks (the metrics
 * module gathers what it needs); ev receives trainer_evaluate's figures. */
dt_status session_evaluate_set(dt_session *s, const dt_dataset *set, const char *name,
                               dt_eval *ev, session_figures *fg, dt_error *err)
{
    dt_status st = trainer_evaluate(s->comm, &s->net.model, set, ev, err);
    if (st || (st = comm_agree(s->comm, model_fault(&s->net.model, err), err)))
        return st;
    fg->n = 0;
    add_figure(fg, name, "loss", ev->loss);
    if (!s->metrics.n) { /* the default metric is trainer_evaluate's */
        add_figure(fg, name, s->data.n_classes ? "accuracy" : "rmse",
                   s->data.n_classes ? ev->accuracy : ev->rmse);
        return DT_OK;
    }
    const int K = s->net.model.n_out;
    int64_t lo, hi;
    block_slice(set->n, s->net.model.max_batch, comm_rank(s->comm), comm_size(s->comm), &lo, &hi);
    trainer_predict(&s->net.model, set, lo, hi, s->metrics.pred);
    dt_class_metrics cm = {0};
    dt_reg_metrics rm = {0};
    st = s->data.n_classes ? metrics_classification(s->comm, s->metrics.pred, K, set->labels + lo,
                                                    hi - lo, s->data.n_classes, &cm, err)
                           : metrics_regression(s->comm, s->metrics.pred, set->targets + lo * K,
                                                hi - lo, K, &rm, err);
    for (int i = 0; !st && i < s->metrics.n; i++) {
        dt_metric m = (dt_metric)s->metrics.which[i];
        add_figure(fg, name, metrics_name(m),
                   s->data.n_classes ? metrics_of_class(m, &cm) : metrics_of_reg(m, &rm));
    }
    metrics_class_free(&cm);
    metrics_reg_free(&rm);
    return st;
}

/* "  NAME VALUE" for each figure, appended to text[*n..len). */
void session_format_figures(const session_figures *fg, char *text, size_t len, int *n)
{
    for (int i = 0; i < fg->n && *n < (int)len; i++)
        *n += snprintf(text + *n, len - (size_t)*n, "  %s %.4f", fg->name[i], fg->v[i]);
}

/* --- the run described and its results reported (log lines) --- */

/* The line about the data: the training set and the sets evaluated. */
static void describe_data(const dt_session *s)
{
    const dt_train_config *cfg = &s->cfg->train;
    char evdesc[128] = "no valid or test group: final metrics are on the training set";
    if (s->data.eval.n)
        snprintf(evdesc, sizeof evdesc, "%s %lld samples", s->data.eval_name,
                 (long long)s->data.eval.n);
    if (s->data.test.n)
        snprintf(evdesc + strlen(evdesc), sizeof evdesc - strlen(evdesc), ", test %lld samples",
                 (long long)s->data.test.n);
    char source[2 * DT_PATH_MAX + 2] = "the caller's arrays";
    if (cfg->data[0])
        snprintf(source, sizeof source, "%s %s", cfg->data, cfg->train_group);
    dt_info("dtrain: %s: %lld samples x %lld features%s; %s", source, (long long)s->data.train.n,
            (long long)s->data.train.d, s->data.n_classes ? "" : " (regression)", evdesc);
}

/* --reproducible: how each batch is cut into micro-batches (P ranks). */
static void describe_micro_batches(const dt_train_opts *o, int P)
{
    const int64_t micro = (o->batch_size + o->micro_batch - 1) / o->micro_batch;
    const int idle = micro < P; /* ranks beyond the micro-batches */
    dt_info("dtrain: %s: each batch in %lld micro-batch%s of up to %lld rows, "
            "added in a fixed tree%s%s%s%s%s",
            dt_opt("reproducible"), (long long)micro, micro == 1 ? "" : "es",
            (long long)o->micro_batch, idle ? "; the ranks beyond them wait (a larger " : "",
            idle ? dt_opt("batch-size") : "", idle ? " or a smaller " : "",
            idle ? dt_opt("micro-batch") : "", idle ? " gives them work)" : "");
}

void session_describe(const dt_session *s)
{
    const dt_model *m = &s->net.model;
    char arch[512];
    int n = snprintf(arch, sizeof arch, "%d", m->n_in);
    for (int l = 0; l < m->n_layers && n < (int)sizeof arch; l++)
        n += snprintf(arch + n, sizeof arch - (size_t)n, "-%d", m->layers[l].n_out);
    int P = comm_size(s->comm);
    const dt_train_opts *o = &s->opt.trainer.opts;
    describe_data(s);
    if (s->so.on)
        dt_info("dtrain: model %s (%s output, %zu parameters, %s); %s, full batch, one "
                "iteration per epoch; %d rank%s",
                arch, head_name(m->head), m->n_params, matmul_precision_name(m->prec),
                so_name(s->so.kind), P, P == 1 ? "" : "s");
    else
        dt_info("dtrain: model %s (%s output, %zu parameters, %s); %s lr %g (%s schedule); %d "
                "rank%s, global batch %lld (%d per rank at most), %lld step%s per epoch",
                arch, head_name(m->head), m->n_params, matmul_precision_name(m->prec),
                optim_name(s->opt.optim.cfg.kind), o->lr,
                sched_name(s->opt.sched.cfg.kind), P, P == 1 ? "" : "s", (long long)o->batch_size,
                trainer_local_batch(o->batch_size, P, o->micro_batch),
                (long long)s->opt.trainer.steps_per_epoch,
                s->opt.trainer.steps_per_epoch == 1 ? "" : "s");
    if (o->micro_batch > 0)
        describe_micro_batches(o, P);
}

/* A set's final figures, evaluated now, with where the set comes from. */
static dt_status report_set(dt_session *s, const dt_dataset *set, const char *name,
                            const char *src, dt_error *err)
{
    session_figures fg;
    dt_eval ev;
    dt_status st = session_evaluate_set(s, set, name, &ev, &fg, err);
    if (st)
        return st;
    char text[512];
    int n = 0;
    session_format_figures(&fg, text, sizeof text, &n);
    dt_info("final: %s  (%lld samples: %s)", text + 2, (long long)set->n, src);
    return DT_OK;
}
static void report_memory(const dt_session *s)
{
    double rss = dt_peak_rss_mb(), v[3] = {rss, rss, dt_pss_mb()};
    comm_allreduce_max_f64(s->comm, v, 1);
    comm_allreduce_sum_f64(s->comm, v + 1, 2);
    dt_info("profile memory: peak resident %.1f MB on the largest rank, %.1f MB in all "
            "(node-shared data counted in every rank); proportional set size at the end "
            "%.1f MB in all",
            v[0], v[1], v[2]);
}

/* A complete run's final figures: its checkpoint's last history row, a line
 * per set as a run that trains prints them (the training loss without one). */
static void report_complete(const dt_session *s)
{
    const dt_history *h = &s->state.progress.hist;
    const double *row = history_last(h);
    const char *sets[2] = {s->data.eval.n ? s->data.eval_name : "train",
                           s->data.test.n ? "test" : NULL};
    for (int i = 0; row && i < 2 && sets[i]; i++) {
        char text[512] = "", prefix[16];
        int n = 0, len = snprintf(prefix, sizeof prefix, "%s_", sets[i]);
        for (int c = 0; c < h->n_cols && n < (int)sizeof text; c++)
            if (!strncmp(h->name[c], prefix, (size_t)len) && !isnan(row[c]))
                n += snprintf(text + n, sizeof text - (size_t)n, "  %s %.4f", h->name[c],
                              row[c]);
        if (n)
            dt_info("final: %s  (epoch %.0f, from the checkpoint)", text + 2, row[0]);
    }
}

/* Convergence, judged as scikit-learn's ConvergenceWarning (tol 1e-4 over
 * n_iter_no_change = 10 epochs) but on means of windows, which the noise of
 * mini-batches moves less than single epochs: the figure --monitor watches
 * (the evaluated set's loss by default; the training loss without an
 * evaluated set) over the last CONVERGE_WINDOW epochs, against the
 * CONVERGE_WINDOW before them (half the run each, for a shorter run).  Still
 * improving by more than CONVERGE_REL_TOL of its value and more than
 * CONVERGE_ABS_TOL: not converged, said in one warning. */
#define CONVERGE_WINDOW 10
#define CONVERGE_REL_TOL 0.01
#define CONVERGE_ABS_TOL 1e-3

/* The history column of the figure --monitor watches: the evaluated set's
 * metric when the epochs record it, else its loss, else the training loss.
 * *maximize: larger is better. */
static void watched_column(const dt_session *s, char *col, size_t len, int *maximize)
{
    const dt_history *h = &s->state.progress.hist;
    const char *what = s->cfg->train.monitor == MONITOR_VAL_ACCURACY ? "accuracy"
                       : s->cfg->train.monitor == MONITOR_VAL_RMSE   ? "rmse"
                                                               : "loss";
    *maximize = 0;
    if (!s->data.eval.n) {
        snprintf(col, len, "train_loss");
        return;
    }
    snprintf(col, len, "%s_%s", s->data.eval_name, what);
    if (history_col(h, col) >= 0) {
        *maximize = s->cfg->train.monitor == MONITOR_VAL_ACCURACY;
        return;
    }
    snprintf(col, len, "%s_loss", s->data.eval_name);
}

static void report_convergence(const dt_session *s)
{
    const dt_history *h = &s->state.progress.hist;
    int64_t w = h->n_rows / 2 < CONVERGE_WINDOW ? h->n_rows / 2 : CONVERGE_WINDOW;
    char col[HIST_NAME_LEN + 16];
    int maximize;
    double before, last;
    watched_column(s, col, sizeof col, &maximize);
    if (!s->state.ran_out || !history_trend(h, col, w, &before, &last))
        return;
    const double gain = maximize ? last - before : before - last;
    if (!(gain > CONVERGE_REL_TOL * fabs(before) && gain > CONVERGE_ABS_TOL))
        return;
    const int64_t n = h->n_rows;
    char lr[64] = "";
    if (!s->so.on)
        snprintf(lr, sizeof lr, " or lr (%g)", s->opt.trainer.opts.lr);
    dt_warn("not converged: %s was still improving at the end (mean %.4g over epochs "
            "%lld-%lld, %.4g over the %lld before: %.1f%% better, more than the %g%% "
            "tolerated); raise epochs (%lld)%s",
            col, last, (long long)(n - w + 1), (long long)n, before, (long long)w,
            before ? 100.0 * gain / fabs(before) : 100.0, 100.0 * CONVERGE_REL_TOL,
            (long long)s->cfg->train.epochs, lr);
}

dt_status session_report(dt_session *s, dt_error *err)
{
    if (s->state.complete) {
        report_complete(s);
        return DT_OK;
    }
    const char *train_src = s->cfg->train.data[0] ? s->cfg->train.train_group : "the training data";
    char src[DT_PATH_MAX + 64];
    snprintf(src, sizeof src, "%s, the training set itself", train_src);
    dt_status st = s->data.eval.n
                       ? report_set(s, &s->data.eval, s->data.eval_name, s->data.eval_src, err)
                       : report_set(s, &s->data.train, "train", src, err);
    if (!st && s->data.test.n)
        st = report_set(s, &s->data.test, "test", s->data.test_src, err);
    if (!st && s->cfg->train.profile)
        report_memory(s);
    if (!st)
        report_convergence(s);
    return st;
}
