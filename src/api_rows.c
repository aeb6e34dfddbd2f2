/* dtrain: a run's data from the ranks' arrays (dtrain_set_data,
 * dtrain_set_eval_data): gathered into rows every rank holds, then made into
 * the sets the session trains on. */
#include "dtrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/convert.h"
#include "dtrain/dataset.h"
#include "dtrain/loss.h"
#include "dtrain/session.h"
#include "dtrain/status.h"

void api_rows_free(rows *r)
{
    free(r->X);
    free(r->y);
    memset(r, 0, sizeof *r);
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
        api_rows_free(&r);
        return st;
    }
    api_rows_free(out);
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

dt_status api_setup(dtrain_run *run, dt_session *s)
{
    dt_error *err = &run->err;
    if (!run->have_train)
        return session_setup(s, &run->trained_cfg, run->comm, err);
    run->trained_cfg.train.data[0] = '\0'; /* the arrays, not a file */
    dt_dataset tr = {0}, va = {0};
    memset(s, 0, sizeof *s); /* session_free is safe on it if setup does not run */
    dt_status st = DT_OK;
    /* the same rows on every rank */
    if ((int)run->trained_cfg.train.output < 0 && run->train.n > 0)
        st = array_head(&run->train, &run->trained_cfg.train.output, err);
    st = comm_agree(run->comm, st ? st : array_sets(run, &tr, &va, err), err);
    if (!st)
        st = session_setup_with(s, &run->trained_cfg, run->comm, &tr, &va, err);
    dataset_free(&tr); /* taken by the session (zeroed) unless it failed early */
    dataset_free(&va);
    return st;
}
