/* dtrain: cross-validation and grid search as public calls (dtrain.h),
 * over the search of src/cv_search.c. */
#include "dtrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/cvsearch.h"
#include "dtrain/jsonout.h"

dtrain_status dtrain_cv(dtrain_run *run, dtrain_cv_result **result)
{
    dt_status st = api_usable(run, "dtrain_cv");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dtrain_cv_result *r = api_result_new(run, "dtrain_cv", result, sizeof *r, &st);
    if (!st && run->cfg.train.step_timeout > 0 && !(run->allowed & DTRAIN_ALLOW_WATCHDOG))
        st = dt_fail(err, DT_EUSAGE, "%s: the watchdog thread it needs is not allowed "
                     "(dtrain_allow(run, DTRAIN_ALLOW_WATCHDOG))", dt_opt("step-timeout"));
    if (!st && run->have_train)
        st = dt_fail(err, DT_EUSAGE, "dtrain_cv: searches the %s file; dtrain_set_data's "
                     "arrays are not supported", dt_opt("data"));
    if ((st = comm_agree(run->comm, st, err))) {
        free(r);
        return api_leave(prev, st);
    }
    matmul_fpenv fp; /* every trial's: --grid may not vary it (OPTF_CV_FIXED) */
    matmul_fpenv_enter(&fp, run->cfg.train.denormals);
    st = cv_search(&run->cfg, run->comm, (run->allowed & DTRAIN_ALLOW_WATCHDOG) != 0, r, err);
    matmul_fpenv_leave(&fp);
    if (st && st != DT_ENUM) {
        cv_search_free(r);
        free(r);
        r = NULL;
    }
    *result = r;
    return api_leave(prev, st);
}

void dtrain_cv_result_free(dtrain_cv_result *r)
{
    if (!r)
        return;
    cv_search_free(r);
    free(r);
}

dtrain_status dtrain_cv_save(dtrain_run *run, const dtrain_cv_result *r)
{
    dt_status st = api_usable(run, "dtrain_cv_save");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    if (!r)
        return api_leave(prev, dt_fail(&run->err, DT_EUSAGE, "dtrain_cv_save: result is NULL"));
    if (!r->cfg->out[0])
        return api_leave(prev, DT_OK);
    return api_leave(prev, cv_search_save(r, run->comm, r->cfg->out, &run->err));
}

dtrain_status dtrain_cv_refit(dtrain_run *run, dtrain_cv_result *r)
{
    dt_status st = api_usable(run, "dtrain_cv_refit");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    if (!r)
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "dtrain_cv_refit: result is NULL"));
    if (!r->cfg->cv.refit[0])
        return api_leave(prev, DT_OK);
    if (r->good <= 0)
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "dtrain_cv_refit: no configuration "
                                       "succeeded"));
    if (!r->all.X && !r->all.n)
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "dtrain_cv_refit: this result's "
                                       "training rows were taken by an earlier refit"));
    matmul_fpenv fp;
    matmul_fpenv_enter(&fp, r->cfg->train.denormals);
    st = cv_search_refit(r, run->comm, err);
    matmul_fpenv_leave(&fp);
    return api_leave(prev, st);
}

int64_t dtrain_cv_n_configs(const dtrain_cv_result *r) { return r ? r->C : 0; }

int dtrain_cv_n_folds(const dtrain_cv_result *r) { return r ? r->k : 0; }

const char *dtrain_cv_metric(const dtrain_cv_result *r)
{
    return r ? metrics_name(r->metric) : "";
}

int dtrain_cv_higher_is_better(const dtrain_cv_result *r)
{
    return r ? metrics_higher_is_better(r->metric) : 0;
}

int dtrain_cv_n_keys(const dtrain_cv_result *r) { return r ? r->grid.n_axes : 0; }

const char *dtrain_cv_key(const dtrain_cv_result *r, int a)
{
    return r && a >= 0 && a < r->grid.n_axes ? r->grid.axes[a].opt->name : NULL;
}

static int config_ok(const dtrain_cv_result *r, int64_t c) { return r && c >= 0 && c < r->C; }

const char *dtrain_cv_value(const dtrain_cv_result *r, int64_t c, int a)
{
    if (!config_ok(r, c) || a < 0 || a >= r->grid.n_axes)
        return NULL;
    return r->grid.axes[a].values[cv_grid_value(&r->grid, c, a)];
}

double dtrain_cv_fold_metric(const dtrain_cv_result *r, int64_t c, int fold)
{
    return config_ok(r, c) && fold >= 0 && fold < r->k ? r->value[c * r->k + fold] : NAN;
}

const char *dtrain_cv_fold_error(const dtrain_cv_result *r, int64_t c, int fold)
{
    return config_ok(r, c) && fold >= 0 && fold < r->k ? r->msg[c * r->k + fold] : NULL;
}

/* Configuration c's summary (sorted holds each configuration once). */
static const cv_summary *summary_of(const dtrain_cv_result *r, int64_t c)
{
    for (int64_t i = 0; i < r->C; i++)
        if (r->sorted[i].config == c)
            return &r->sorted[i];
    return NULL;
}

double dtrain_cv_mean(const dtrain_cv_result *r, int64_t c)
{
    const cv_summary *s = config_ok(r, c) ? summary_of(r, c) : NULL;
    return s ? s->mean : NAN;
}

double dtrain_cv_std(const dtrain_cv_result *r, int64_t c)
{
    const cv_summary *s = config_ok(r, c) ? summary_of(r, c) : NULL;
    return s ? s->std : NAN;
}

int64_t dtrain_cv_ranked(const dtrain_cv_result *r, int64_t i)
{
    return config_ok(r, i) ? r->sorted[i].config : -1;
}

int64_t dtrain_cv_best(const dtrain_cv_result *r)
{
    return r && r->good > 0 ? r->sorted[0].config : -1;
}

dtrain_status dtrain_cv_print(const dtrain_cv_result *r, FILE *out, int csv)
{
    if (!r || !out)
        return DTRAIN_EUSAGE;
    cv_results res = cv_search_results(r);
    (csv ? cv_print_csv : cv_print_table)(out, &res, r->sorted);
    return ferror(out) ? DTRAIN_EIO : DTRAIN_OK;
}

/* One configuration as a JSON object. */
static void json_config(json_buf *j, const dtrain_cv_result *r, int64_t c)
{
    json_begin_object(j);
    json_key(j, "config");
    json_int(j, c);
    json_key(j, "options");
    json_begin_object(j);
    for (int a = 0; a < r->grid.n_axes; a++) {
        json_key(j, dtrain_cv_key(r, a));
        json_string(j, dtrain_cv_value(r, c, a));
    }
    json_end_object(j);
    json_key(j, "folds");
    json_begin_array(j);
    for (int f = 0; f < r->k; f++)
        json_number(j, r->value[c * r->k + f]);
    json_end_array(j);
    json_key(j, "mean");
    json_number(j, dtrain_cv_mean(r, c));
    json_key(j, "std");
    json_number(j, dtrain_cv_std(r, c));
    const cv_summary *s = summary_of(r, c);
    json_key(j, "error");
    if (s && s->failed_fold >= 0)
        json_string(j, r->msg[c * r->k + s->failed_fold]);
    else
        json_null(j);
    json_end_object(j);
}

/* The result's JSON members (json_render adds the braces). */
static void json_body(json_buf *j, const void *obj)
{
    const dtrain_cv_result *r = obj;
    json_key(j, "metric");
    json_string(j, metrics_name(r->metric));
    json_key(j, "higher_is_better");
    json_bool(j, metrics_higher_is_better(r->metric));
    json_key(j, "folds");
    json_int(j, r->k);
    json_key(j, "best");
    json_int(j, dtrain_cv_best(r));
    json_key(j, "ranked");
    json_begin_array(j);
    for (int64_t i = 0; i < r->C; i++)
        json_config(j, r, r->sorted[i].config);
    json_end_array(j);
}

dtrain_status dtrain_cv_json(const dtrain_cv_result *r, char **json)
{
    return (dtrain_status)json_render(json, r, json_body);
}
