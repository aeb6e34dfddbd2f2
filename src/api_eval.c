/* dtrain: results (dtrain_result), evaluation of the run's model on a data
 * file's group or on arrays, the final metrics of a training and its
 * per-epoch history (include/dtrain.h).
 *
 * An evaluation predicts each rank's contiguous share of the rows and hands
 * the outputs to the metrics module, which is exact over all ranks: the same
 * figures, to the bit, at any rank count.  A result keeps its figures by
 * name and, for an evaluation, the renderings `dtrain eval` prints. */
#include "dtrain.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api_eval.h"
#include "dtrain/h5io.h"
#include "dtrain/history.h"
#include "dtrain/matmul.h"
#include "dtrain/metrics.h"
#include "dtrain/trainer.h"

#define RES_NAME_LEN 48

struct dtrain_result {
    int n, cap;
    char (*name)[RES_NAME_LEN];
    double *value;
    char *json, *text; /* an evaluation's renderings; NULL: the generic ones */
};

/* ---- the result object ---------------------------------------------------- */

static dtrain_result *result_new(void) { return calloc(1, sizeof(dtrain_result)); }

void dtrain_result_free(dtrain_result *res)
{
    if (!res)
        return;
    free(res->name);
    free(res->value);
    free(res->json);
    free(res->text);
    free(res);
}

/* Append the figure named by the format; 0, or -1 out of memory. */
static int result_add(dtrain_result *res, double v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int result_add(dtrain_result *res, double v, const char *fmt, ...)
{
    if (res->n == res->cap) {
        const int cap = res->cap ? 2 * res->cap : 32;
        char(*name)[RES_NAME_LEN] = realloc(res->name, (size_t)cap * sizeof *name);
        if (name)
            res->name = name;
        double *value = name ? realloc(res->value, (size_t)cap * sizeof *value) : NULL;
        if (!value)
            return -1;
        res->value = value;
        res->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->name[res->n], RES_NAME_LEN, fmt, ap);
    va_end(ap);
    res->value[res->n++] = v;
    return 0;
}

int dtrain_result_count(const dtrain_result *res) { return res ? res->n : 0; }

const char *dtrain_result_name(const dtrain_result *res, int i)
{
    return res && i >= 0 && i < res->n ? res->name[i] : NULL;
}

dtrain_status dtrain_result_get(const dtrain_result *res, const char *name, double *value)
{
    if (value)
        *value = NAN;
    if (!res || !name || !value)
        return DTRAIN_EUSAGE;
    for (int i = 0; i < res->n; i++)
        if (!strcmp(res->name[i], name)) {
            *value = res->value[i];
            return DTRAIN_OK;
        }
    return DTRAIN_EUSAGE;
}

/* A copy of s, or of the generic rendering of res when s is NULL. */
static dtrain_status render(const dtrain_result *res, const char *s, int json, char **out)
{
    if (!out)
        return DTRAIN_EUSAGE;
    *out = NULL;
    if (!res)
        return DTRAIN_EUSAGE;
    if (s)
        return (*out = strdup(s)) ? DTRAIN_OK : DTRAIN_ENOMEM;
    size_t len;
    FILE *f = open_memstream(out, &len);
    if (!f)
        return DTRAIN_ENOMEM;
    for (int i = 0; i < res->n; i++) {
        const double v = res->value[i];
        if (json) {
            fprintf(f, "%s\"%s\": ", i ? ", " : "{", res->name[i]);
            if (isfinite(v))
                fprintf(f, "%.17g", v);
            else
                fputs("null", f);
        } else {
            fprintf(f, "%s %.17g\n", res->name[i], v);
        }
    }
    if (json)
        fputs(res->n ? "}" : "{}", f);
    if (fclose(f)) {
        free(*out);
        *out = NULL;
        return DTRAIN_ENOMEM;
    }
    return DTRAIN_OK;
}

dtrain_status dtrain_result_json(const dtrain_result *res, char **out)
{
    return render(res, res ? res->json : NULL, 1, out);
}

dtrain_status dtrain_result_text(const dtrain_result *res, char **out)
{
    return render(res, res ? res->text : NULL, 0, out);
}

/* ---- an evaluation's figures and renderings --------------------------------- */

/* What an evaluation reports on. */
typedef struct {
    const char *model, *data, *group; /* for the renderings */
    dt_head head;
    const dt_data_extras *names; /* the model's class names (classes NULL: none) */
} eval_about;

/* s as a JSON string. */
static void put_json_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ', "classes": [...]' for JSON; for people, "  classes: 0 barbera, 1 barolo,
 * ..." when the model has names (the numbers predict writes beside them). */
static void put_classes(FILE *f, const char *const *names, int K, int has_names, int json)
{
    if (!json && !has_names)
        return;
    fputs(json ? ", \"classes\": [" : "  classes:", f);
    for (int k = 0; k < K; k++) {
        if (json) {
            fputs(k ? ", " : "", f);
            put_json_text(f, names[k]);
        } else {
            fprintf(f, "%s %d %s", k ? "," : "", k, names[k]);
        }
    }
    fputs(json ? "]" : "\n", f);
}

/* The figures for people (json 0) or as one line of JSON without its
 * newline; cm NULL for a regression (rm).  names: K labels. */
static void put_report(FILE *f, const eval_about *a, long long n, double loss,
                       const dt_class_metrics *cm, const dt_reg_metrics *rm,
                       const char *const *names, int json)
{
    const int K = cm ? cm->K : 0, has_names = a->names->classes != NULL;
    if (json) {
        fputs("{\"model\": ", f);
        put_json_text(f, a->model);
        fputs(", \"data\": ", f);
        put_json_text(f, a->data);
        fputs(", \"group\": ", f);
        put_json_text(f, a->group);
        fprintf(f, ", \"output\": \"%s\", \"samples\": %lld, \"loss\": %.17g, \"metrics\": ",
                head_name(a->head), n, loss);
        if (cm)
            metrics_class_print_json(f, cm);
        else
            metrics_reg_print_json(f, rm);
        if (cm)
            put_classes(f, names, K, has_names, 1);
        fputs("}", f);
        return;
    }
    fprintf(f, "%s on %s %s: %lld samples, %s output\n  loss %.6f\n", a->model, a->data,
            a->group, n, head_name(a->head), loss);
    if (cm) {
        put_classes(f, names, K, has_names, 0);
        metrics_class_print_table(f, cm, names);
    } else {
        metrics_reg_print_table(f, rm);
    }
}

/* The rendering into a new string, NULL out of memory. */
static char *report_string(const eval_about *a, long long n, double loss,
                           const dt_class_metrics *cm, const dt_reg_metrics *rm,
                           const char *const *names, int json)
{
    char *s = NULL;
    size_t len;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return NULL;
    put_report(f, a, n, loss, cm, rm, names, json);
    if (fclose(f)) {
        free(s);
        return NULL;
    }
    return s;
}

/* Every figure of cm (or rm), each name after prefix; -1 out of memory. */
static int add_metrics(dtrain_result *r, const char *p, const dt_class_metrics *cm,
                       const dt_reg_metrics *rm)
{
    int bad = 0;
    if (!cm) {
        bad |= result_add(r, rm->rmse, "%srmse", p) | result_add(r, rm->mae, "%smae", p) |
               result_add(r, rm->r2, "%sr2", p) |
               result_add(r, rm->rmse_pooled, "%srmse_pooled", p);
        for (int k = 0; k < rm->K; k++)
            bad |= result_add(r, rm->rmse_k[k], "%srmse_%d", p, k) |
                   result_add(r, rm->mae_k[k], "%smae_%d", p, k) |
                   result_add(r, rm->r2_k[k], "%sr2_%d", p, k);
        return bad;
    }
    bad |= result_add(r, cm->accuracy, "%saccuracy", p) |
           result_add(r, cm->log_loss, "%slog_loss", p) | result_add(r, cm->auc, "%sauc", p) |
           result_add(r, metrics_of_class(METRIC_F1, cm), "%sf1", p);
    const char *avg_names[3] = {"macro", "weighted", "micro"};
    const dt_prf avg[3] = {cm->macro, cm->weighted, cm->micro};
    for (int a = 0; a < 3; a++)
        bad |= result_add(r, avg[a].precision, "%s%s_precision", p, avg_names[a]) |
               result_add(r, avg[a].recall, "%s%s_recall", p, avg_names[a]) |
               result_add(r, avg[a].f1, "%s%s_f1", p, avg_names[a]);
    const int K = cm->K;
    for (int k = 0; k < K; k++)
        bad |= result_add(r, cm->precision[k], "%sprecision_%d", p, k) |
               result_add(r, cm->recall[k], "%srecall_%d", p, k) |
               result_add(r, cm->f1[k], "%sf1_%d", p, k) |
               result_add(r, cm->auc_k[k], "%sauc_%d", p, k) |
               result_add(r, (double)cm->support[k], "%ssupport_%d", p, k);
    for (int t = 0; t < K; t++)
        for (int q = 0; q < K; q++)
            bad |= result_add(r, (double)cm->confusion[(int64_t)t * K + q], "%sconfusion_%d_%d",
                              p, t, q);
    return bad;
}

/* The evaluation's result: its figures and both renderings. */
static dt_status eval_result(const eval_about *a, long long n, double loss,
                             const dt_class_metrics *cm, const dt_reg_metrics *rm,
                             dtrain_result **out, dt_error *err)
{
    const int K = cm ? cm->K : 0;
    const char **names = calloc((size_t)K + 1, sizeof *names);
    char(*numbers)[16] = calloc((size_t)K + 1, sizeof *numbers);
    dtrain_result *r = result_new();
    dt_status st = DT_OK;
    for (int k = 0; names && numbers && k < K; k++) {
        snprintf(numbers[k], sizeof numbers[k], "%d", k);
        names[k] = a->names->classes && k < a->names->n_classes ? a->names->classes[k]
                                                                : numbers[k];
    }
    if (!names || !numbers || !r || result_add(r, (double)n, "samples") ||
        result_add(r, loss, "loss") || add_metrics(r, "", cm, rm) ||
        !(r->json = report_string(a, n, loss, cm, rm, names, 1)) ||
        !(r->text = report_string(a, n, loss, cm, rm, names, 0)))
        st = dt_fail(err, DT_ENOMEM, "out of memory for the figures of %lld samples", n);
    free(names);
    free(numbers);
    if (st)
        dtrain_result_free(r);
    else
        *out = r;
    return st;
}

/* Score this rank's outputs out (n_local, n_out) against its labels or
 * targets: the metrics over all ranks (collective, agreed). */
static dt_status score(dtrain_run *run, const eval_about *a, const dt_model *m,
                       const float *out, const int32_t *labels, const float *targets,
                       int64_t n_local, dtrain_result **res, dt_error *err)
{
    const int cls = head_is_classifier(m->head), K = m->n_out;
    dt_class_metrics cm = {0};
    dt_reg_metrics rm = {0};
    dt_status st = cls ? metrics_classification(run->comm, out, K, labels, n_local,
                                                m->head == HEAD_SOFTMAX ? K : 2, &cm, err)
                       : metrics_regression(run->comm, out, targets, n_local, K, &rm, err);
    /* The loss from the gathered outputs, summed in row order: the same bits at
     * any rank count (cross-entropy from the probabilities, clipped as the
     * metrics module documents; mean squared error for regression). */
    if (!st) {
        const double loss = cls ? cm.log_loss : rm.rmse_pooled * rm.rmse_pooled;
        const long long n = cls ? (long long)cm.n : (long long)rm.n;
        st = comm_agree(run->comm, eval_result(a, n, loss, cls ? &cm : NULL, &rm, res, err),
                        err);
    }
    metrics_class_free(&cm);
    metrics_reg_free(&rm);
    return st;
}

const char *api_model_label(const dtrain_run *run)
{
    if (run->have_loaded)
        return run->loaded_from[0] ? run->loaded_from : "(model image)";
    if (run->session && run->trained_cfg.train.save[0])
        return run->trained_cfg.train.save;
    return "of the run";
}

/* ---- a data file's group against the model --------------------------------- */

/* The data has the model's inputs and, for regression, its outputs. */
static dt_status check_fit(const dtrain_run *run, const dt_model *m, const char *path,
                           const char *group, int y, const dt_dataset_info *info,
                           dt_error *err)
{
    if (info->d != m->n_in)
        return dt_fail(err, DT_EUSAGE, "%s: %s/X has %lld features but the model %s takes %d",
                       path, group, (long long)info->d, api_model_label(run), m->n_in);
    if (y == DS_TARGETS && info->k != m->n_out)
        return dt_fail(err, DT_EUSAGE, "%s: %s/y has %lld targets per sample, the model %d",
                       path, group, (long long)info->k, m->n_out);
    return DT_OK;
}

/* 1 if this thread's messages name options as the command line's flags. */
static int names_are_flags(void)
{
    const dt_names n = dt_names_swap(DT_NAMES_KEYS);
    dt_names_swap(n);
    return n == DT_NAMES_FLAGS;
}

/* group is in the file (else the message names the groups it has), and
 * without want_y whether it has a y: used only if present. */
static dt_status check_group(const dtrain_run *run, const char *path, const char *group,
                             int want_y, int *y, dt_error *err)
{
    char yname[DT_PATH_MAX + 4];
    snprintf(yname, sizeof yname, "%s/y", group);
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    int has_group = h5io_exists(f, group), has_y = h5io_exists(f, yname);
    if (!want_y && !has_y)
        *y = DS_NO_Y;
    h5io_close(f, NULL);
    if (has_group && want_y && !has_y)
        return names_are_flags()
                   ? dt_fail(err, DT_EUSAGE,
                             "%s: %s has no labels (no %s): eval scores a model against "
                             "them; for the model's outputs alone use dtrain predict --model "
                             "%s --data %s --out FILE.csv",
                             path, group, yname, api_model_label(run), path)
                   : dt_fail(err, DT_EUSAGE,
                             "%s: %s has no labels (no %s): an evaluation scores a model "
                             "against them; for the model's outputs alone use "
                             "dtrain_predict_file",
                             path, group, yname);
    if (has_group)
        return DT_OK;
    if ((st = dataset_check_not_model(path, group, err)))
        return st;
    char groups[512];
    dataset_groups(path, groups, sizeof groups);
    const int given = CONFIG_GIVEN(&run->cfg, eval.group) && !strcmp(run->cfg.eval.group, group);
    return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (%s %s); groups with an X: %s", path,
                   group, given ? "given as" : "the default of", dt_opt("group"), groups);
}

/* The first NaN feature of ds, refused: the model has no values to fill it
 * with. */
static dt_status refuse_missing(const dtrain_run *run, const char *path, const char *group,
                                const dt_dataset *ds, dt_error *err)
{
    for (int64_t i = 0; ds->X && i < ds->n * ds->d; i++)
        if (isnan(ds->X[i]))
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/X row %lld column %lld is missing (NaN), and the model %s "
                           "has no /missing_fill to fill it with (its training data was not "
                           "converted with %s mean): fill the value in, or leave the "
                           "row out (dtrain convert %s drop), or train on data "
                           "converted with %s mean",
                           path, group, (long long)(ds->lo + i / ds->d),
                           (long long)(i % ds->d), api_model_label(run), dt_opt("missing"),
                           dt_opt("missing"), dt_opt("missing"));
    return DT_OK;
}

/* Missing features (NaN, from convert --no-labels --missing mean) take the
 * values the model's training data was filled with; a model without them
 * refuses them, saying so. */
static dt_status load_filled(const dtrain_run *run, const dt_model *m, const char *path,
                             const char *group, int y, dt_dataset *ds, dt_error *err)
{
    const dt_data_extras *ex = &run->names;
    dt_status st = DT_OK;
    if (ex->fill && ex->d != m->n_in)
        st = dt_fail(err, DT_EUSAGE, "%s: /missing_fill has %lld values, the model takes %d "
                     "features", api_model_label(run), (long long)ex->d, m->n_in);
    if (!st)
        st = dataset_load(path, group, y | DS_KEEP_NAN, ds, err);
    if (!st && ex->fill)
        dataset_fill_missing(ds, ex->fill);
    else if (!st)
        st = refuse_missing(run, path, group, ds, err);
    return st;
}

static dt_status load_local(dtrain_run *run, const dt_model *m, const dt_norm *nm,
                            const char *path, const char *group, int want_y, dt_dataset *ds,
                            dt_error *err)
{
    if (!path || !path[0])
        return dt_fail(err, DT_EUSAGE, "%s FILE.h5 is required", dt_opt("data"));
    if (!group || !group[0])
        return dt_fail(err, DT_EUSAGE, "%s: no group named (%s)", path, dt_opt("group"));
    int y = head_is_classifier(m->head) ? DS_LABELS : DS_TARGETS;
    dt_status st = check_group(run, path, group, want_y, &y, err);
    if (st)
        return st;
    /* the data's metadata, and its fit to the model, before any of it is read */
    dt_dataset_info info;
    if ((st = dataset_probe(path, group, y, &info, err)) ||
        (st = check_fit(run, m, path, group, y, &info, err)) ||
        (st = load_filled(run, m, path, group, y, ds, err)))
        return st;
    if (y == DS_LABELS) {
        int k = m->head == HEAD_SOFTMAX ? m->n_out : 2;
        if ((st = dataset_check_labels(ds, path, group, k, m->head == HEAD_SIGMOID, err)))
            return st;
    }
    norm_apply(nm, ds);
    return DT_OK;
}

dt_status api_load_data(dtrain_run *run, dt_model *m, const dt_norm *nm, const char *path,
                        const char *group, int want_y, dt_dataset *ds, dt_error *err)
{
    memset(ds, 0, sizeof *ds);
    matmul_set_threads((int)run->cfg.train.threads);
    dt_status st = comm_agree(run->comm, load_local(run, m, nm, path, group, want_y, ds, err),
                              err);
    if (st)
        dataset_free(ds);
    return st;
}

/* ---- evaluation ------------------------------------------------------------- */

/* The start of an evaluation: *res NULL, the model the run holds, or a
 * failure naming fn (local: the same on every rank, since every rank holds
 * the same model or none). */
static dt_model *eval_begin(dtrain_run *run, const char *fn, dtrain_result **res,
                            dt_norm **nm, dt_status *st)
{
    if (res)
        *res = NULL;
    dt_model *m = api_model_of(run, nm);
    *st = !m    ? dt_fail(&run->err, DT_EUSAGE, "%s: the run has no model (dtrain_train or "
                          "dtrain_load first)", fn)
          : !res ? dt_fail(&run->err, DT_EUSAGE, "%s: res is NULL", fn)
                 : DT_OK;
    return m;
}

static dtrain_status evaluate_file(dtrain_run *run, const char *path, const char *group,
                                  dtrain_result **res)
{
    dt_status st = api_usable(run, "dtrain_evaluate_file");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dt_norm *nm;
    dt_model *m = eval_begin(run, "dtrain_evaluate_file", res, &nm, &st);
    dt_dataset ds = {0};
    if (st || (st = api_load_data(run, m, nm, path, group, 1, &ds, err)))
        return api_leave(prev, st);
    const int K = m->n_out;
    int64_t lo, hi;
    block_slice(ds.n, m->max_batch, comm_rank(run->comm), comm_size(run->comm), &lo, &hi);
    float *out = malloc((size_t)((hi - lo) * K + 1) * sizeof *out);
    st = out ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st)
        st = trainer_prepare_blocks(run->comm, m, ds.n, 0, err);
    if (!(st = comm_agree(run->comm, st, err))) {
        trainer_predict(m, &ds, lo, hi, out);
        st = comm_agree(run->comm, model_fault(m, err), err);
    }
    const eval_about a = {api_model_label(run), path, group, m->head, &run->names};
    if (!st)
        st = score(run, &a, m, out, ds.labels ? ds.labels + lo : NULL,
                   ds.targets ? ds.targets + lo * K : NULL, hi - lo, res, err);
    free(out);
    dataset_free(&ds);
    return api_leave(prev, st);
}

/* In the model's floating-point environment (api_model_denormals), the
 * caller's back on return. */
dtrain_status dtrain_evaluate_file(dtrain_run *run, const char *path, const char *group,
                                   dtrain_result **res)
{
    matmul_fpenv fp;
    matmul_fpenv_enter(&fp, run ? api_model_denormals(run) : DENORMALS_FLUSH);
    const dtrain_status st = evaluate_file(run, path, group, res);
    matmul_fpenv_leave(&fp);
    return st;
}

/* This rank's rows as the model takes them: labels for a classifier (whole
 * numbers >= 0 in one column), targets (n_out columns) for regression. */
static dt_status check_arrays(const dt_model *m, const float *X, const float *y, int64_t n,
                              int64_t d, int64_t k, int rank, dt_error *err)
{
    const int cls = head_is_classifier(m->head);
    if (n < 0 || (n > 0 && (!X || !y)))
        return dt_fail(err, DT_EUSAGE, "dtrain_evaluate: %lld rows with X or y NULL",
                       (long long)n);
    if (d != m->n_in || k != (cls ? 1 : m->n_out))
        return dt_fail(err, DT_EUSAGE, "dtrain_evaluate: %lld features and %lld targets; "
                       "the model takes %d features and its y has %d column%s",
                       (long long)d, (long long)k, m->n_in, cls ? 1 : m->n_out,
                       (cls ? 1 : m->n_out) == 1 ? "" : "s");
    for (int64_t i = 0; i < n * d; i++)
        if (!isfinite(X[i]))
            return dt_fail(err, DT_EUSAGE, "dtrain_evaluate: X[%lld][%lld] of rank %d is not "
                           "finite", (long long)(i / d), (long long)(i % d), rank);
    for (int64_t i = 0; i < n * k; i++)
        if (!isfinite(y[i]) || (cls && (y[i] < 0 || y[i] != floorf(y[i]) || y[i] > 1e9f)))
            return dt_fail(err, DT_EUSAGE, "dtrain_evaluate: y[%lld] of rank %d = %g is not %s",
                           (long long)i, rank, (double)y[i],
                           cls ? "a class label (0, 1, ...)" : "finite");
    return DT_OK;
}

static dtrain_status evaluate_arrays(dtrain_run *run, const float *X, const float *y,
                                     int64_t n_rows, int64_t n_features, int64_t n_targets,
                                     dtrain_result **res)
{
    dt_status st = api_usable(run, "dtrain_evaluate");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dt_norm *nm;
    dt_model *m = eval_begin(run, "dtrain_evaluate", res, &nm, &st);
    if (!st)
        st = check_arrays(m, X, y, n_rows, n_features, n_targets, comm_rank(run->comm), err);
    if ((st = comm_agree(run->comm, st, err)))
        return api_leave(prev, st);
    /* a normalised copy of the rows (the caller's are const), predicted as
     * dtrain_predict does */
    const int cls = head_is_classifier(m->head), K = m->n_out;
    dt_dataset ds = {.n = n_rows, .d = n_features, .k = cls ? 1 : K, .max_label = -1,
                     .held = n_rows};
    ds.X = malloc((size_t)(n_rows * n_features + 1) * sizeof *ds.X);
    if (cls)
        ds.labels = malloc((size_t)(n_rows + 1) * sizeof *ds.labels);
    float *out = malloc((size_t)(n_rows * K + 1) * sizeof *out);
    st = ds.X && out && (!cls || ds.labels)
             ? DT_OK
             : dt_fail(err, DT_ENOMEM, "dtrain_evaluate: out of memory for %lld rows",
                       (long long)n_rows);
    if (!st) {
        memcpy(ds.X, X, (size_t)(n_rows * n_features) * sizeof *ds.X);
        for (int64_t i = 0; cls && i < n_rows; i++)
            ds.labels[i] = (int32_t)y[i];
        norm_apply(nm, &ds);
    }
    /* this rank's rows alone, in blocks of max_batch (the plans made on
     * demand, as dtrain_predict's) */
    if (!(st = comm_agree(run->comm, st, err))) {
        trainer_predict(m, &ds, 0, n_rows, out);
        st = comm_agree(run->comm, model_fault(m, err), err);
    }
    const eval_about a = {api_model_label(run), "", "", m->head, &run->names};
    if (!st)
        st = score(run, &a, m, out, ds.labels, cls ? NULL : y, n_rows, res, err);
    free(out);
    dataset_free(&ds);
    return api_leave(prev, st);
}

/* In the model's floating-point environment (api_model_denormals), the
 * caller's back on return. */
dtrain_status dtrain_evaluate(dtrain_run *run, const float *X, const float *y, int64_t n_rows,
                              int64_t n_features, int64_t n_targets, dtrain_result **res)
{
    matmul_fpenv fp;
    matmul_fpenv_enter(&fp, run ? api_model_denormals(run) : DENORMALS_FLUSH);
    const dtrain_status st = evaluate_arrays(run, X, y, n_rows, n_features, n_targets, res);
    matmul_fpenv_leave(&fp);
    return st;
}

/* ---- the final metrics and the history of a training ------------------------ */

/* The figures of one set, each name after "SET_": the loss and the accuracy
 * (RMSE) as the report's final line computes them (trainer_evaluate), then
 * every metric (collective, agreed). */
static dt_status final_set(dt_session *s, const dt_dataset *set, const char *name,
                           dtrain_result *r, dt_error *err)
{
    dt_model *m = &s->net.model;
    dt_eval ev;
    dt_status st = trainer_evaluate(s->comm, m, set, &ev, err);
    if (st || (st = comm_agree(s->comm, model_fault(m, err), err)))
        return st;
    char p[32];
    snprintf(p, sizeof p, "%s_", name);
    /* the report's own figures first: valid_accuracy is the final line's */
    int oom = result_add(r, (double)set->n, "%ssamples", p) |
              result_add(r, ev.loss, "%sloss", p) |
              (s->data.n_classes ? result_add(r, ev.accuracy, "%saccuracy", p)
                            : result_add(r, ev.rmse, "%srmse", p));
    /* then every metric, when what the metrics module gathers on every rank
     * (n * (K + 1) floats, n * K doubles for regression) stays well within
     * its 2 GiB: training never fails for want of them (the same decision
     * on every rank: it depends on the set's size alone) */
    const int K = m->n_out;
    const double bytes = (double)set->n * (s->data.n_classes ? 4.0 * (K + 1) : 8.0 * K);
    if (bytes > 1e9)
        return comm_agree(s->comm, oom ? dt_fail(err, DT_ENOMEM, "out of memory for the "
                                                 "final metrics") : DT_OK, err);
    int64_t lo, hi;
    block_slice(set->n, m->max_batch, comm_rank(s->comm), comm_size(s->comm), &lo, &hi);
    float *out = malloc((size_t)((hi - lo) * K + 1) * sizeof *out);
    st = comm_agree(s->comm, out ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory"), err);
    dt_class_metrics cm = {0};
    dt_reg_metrics rm = {0};
    if (!st) {
        trainer_predict(m, set, lo, hi, out);
        st = s->data.n_classes
                 ? metrics_classification(s->comm, out, K, set->labels + lo, hi - lo,
                                          s->data.n_classes, &cm, err)
                 : metrics_regression(s->comm, out, set->targets + lo * K, hi - lo, K, &rm, err);
    }
    /* the rest, without repeating the figure given above */
    dtrain_result *more = st ? NULL : result_new();
    if (!st)
        oom |= !more || add_metrics(more, p, s->data.n_classes ? &cm : NULL, &rm);
    char given[RES_NAME_LEN] = ""; /* a copy: adding may move the names */
    if (r->n)
        snprintf(given, sizeof given, "%s", r->name[r->n - 1]);
    for (int i = 0; more && i < more->n; i++)
        if (strcmp(more->name[i], given))
            oom |= result_add(r, more->value[i], "%s", more->name[i]);
    dtrain_result_free(more);
    if (!st && oom)
        st = dt_fail(err, DT_ENOMEM, "out of memory for the final metrics");
    st = comm_agree(s->comm, st, err);
    metrics_class_free(&cm);
    metrics_reg_free(&rm);
    free(out);
    return st;
}

/* A complete run (resumed at its end): its last history row's figures of
 * the sets the report names. */
static dt_status final_complete(const dt_session *s, dtrain_result *r, dt_error *err)
{
    const dt_history *h = &s->state.progress.hist;
    const double *row = history_last(h);
    const char *sets[2] = {s->data.eval.n ? s->data.eval_name : "train",
                           s->data.test.n ? "test" : NULL};
    for (int i = 0; row && i < 2 && sets[i]; i++) {
        char prefix[16];
        const int len = snprintf(prefix, sizeof prefix, "%s_", sets[i]);
        for (int c = 0; c < h->n_cols; c++)
            if (!strncmp(h->name[c], prefix, (size_t)len) && !isnan(row[c]) &&
                result_add(r, row[c], "%s", h->name[c]))
                return dt_fail(err, DT_ENOMEM, "out of memory for the final metrics");
    }
    return DT_OK;
}

dt_status api_final_compute(dtrain_run *run, dt_session *s, dt_error *err)
{
    dtrain_result_free(run->final);
    run->final = NULL;
    dtrain_result *r = result_new();
    dt_status st = comm_agree(run->comm, r ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory"),
                              err);
    if (st)
        return st;
    if (s->state.complete)
        st = comm_agree(run->comm, final_complete(s, r, err), err);
    else if (s->data.eval.n)
        st = final_set(s, &s->data.eval, s->data.eval_name, r, err);
    else
        st = final_set(s, &s->data.train, "train", r, err);
    if (!st && !s->state.complete && s->data.test.n)
        st = final_set(s, &s->data.test, "test", r, err);
    if (st)
        dtrain_result_free(r);
    else
        run->final = r;
    return st;
}

dtrain_status dtrain_final(dtrain_run *run, dtrain_result **res)
{
    dt_status st = api_usable(run, "dtrain_final");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    if (res)
        *res = NULL;
    if (!res)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_final: res is NULL");
    if (!run->session || !run->final)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_final: the run holds no "
                                      "trained model (dtrain_train first)");
    dtrain_result *r = result_new();
    for (int i = 0; r && i < run->final->n; i++)
        if (result_add(r, run->final->value[i], "%s", run->final->name[i])) {
            dtrain_result_free(r);
            r = NULL;
        }
    if (!r)
        return (dtrain_status)dt_fail(&run->err, DT_ENOMEM, "dtrain_final: out of memory");
    *res = r;
    return DTRAIN_OK;
}

/* The history of the last training, NULL without one. */
static const dt_history *history_of(const dtrain_run *run)
{
    return run && run->session ? &run->session->state.progress.hist : NULL;
}

dtrain_status dtrain_history_size(dtrain_run *run, int64_t *n_rows, int *n_cols)
{
    dt_status st = api_usable(run, "dtrain_history_size");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    if (!n_rows || !n_cols)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE,
                                      "dtrain_history_size: n_rows or n_cols is NULL");
    const dt_history *h = history_of(run);
    *n_rows = h ? h->n_rows : 0;
    *n_cols = h ? h->n_cols : 0;
    return DTRAIN_OK;
}

const char *dtrain_history_name(const dtrain_run *run, int c)
{
    const dt_history *h = history_of(run);
    return h && c >= 0 && c < h->n_cols ? h->name[c] : NULL;
}

dtrain_status dtrain_history_column(dtrain_run *run, const char *name, double *out, int64_t n)
{
    dt_status st = api_usable(run, "dtrain_history_column");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    const dt_history *h = history_of(run);
    const int64_t n_rows = h ? h->n_rows : 0;
    const int c = h && name ? history_col(h, name) : -1;
    if (n < 0 || n > n_rows || (n > 0 && !out))
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_history_column: %lld rows "
                                      "into %s: the history has %lld", (long long)n,
                                      out ? "out" : "out NULL", (long long)n_rows);
    if (c < 0) {
        char cols[HIST_MAX_COLS * (HIST_NAME_LEN + 2)] = "";
        size_t used = 0;
        for (int i = 0; h && i < h->n_cols; i++)
            used += (size_t)snprintf(cols + used, sizeof cols - used, "%s%s", i ? ", " : "",
                                     h->name[i]);
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_history_column: no column "
                                      "'%s'; the history has: %s", name ? name : "(NULL)",
                                      h && h->n_cols ? cols : "none (dtrain_train first)");
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = h->rows[i * h->n_cols + c];
    return DTRAIN_OK;
}
