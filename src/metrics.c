/* dtrain: evaluation metrics, exact across ranks.
 *
 * Counts are reduced with an int64 allreduce; everything that sums floating
 * point values or ranks scores works on all rows gathered on every rank in
 * global row order, so every rank runs the same serial code on the same data
 * and the result does not depend on the rank count. */
#include "dtrain/metrics.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/loss.h"
#include "dtrain/rng.h"

/* ---- ROC AUC --------------------------------------------------------------- */

typedef struct {
    float s;    /* score */
    int32_t y;  /* 1 positive, 0 negative */
} scored;

/* Total order (score, then label) so the sorted array is unique; -0 and +0
 * compare equal and fall in one tie group, as they should. */
static int scored_cmp(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->s < b->s)
        return -1;
    if (a->s > b->s)
        return 1;
    return (a->y > b->y) - (a->y < b->y);
}

/* AUC of p (n) pairs, sorted in place.  Mann-Whitney: over the groups of
 * equal score in increasing order, a positive beats every negative of a lower
 * group and ties with the negatives of its own group, so
 *   2U = sum_groups pos_g * (2 * neg_below + neg_g),   AUC = 2U / (2 P N),
 * which is the trapezoidal area under the ROC curve.  2U is an exact integer
 * (at most n^2 / 2), so only the final division rounds. */
static double auc_of_pairs(scored *p, int64_t n)
{
    qsort(p, (size_t)n, sizeof *p, scored_cmp);
    int64_t neg_below = 0, pos_total = 0, two_u = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, pos = 0, neg = 0;
        for (; j < n && p[j].s == p[i].s; j++) {
            if (p[j].y)
                pos++;
            else
                neg++;
        }
        two_u += pos * (2 * neg_below + neg);
        neg_below += neg;
        pos_total += pos;
        i = j;
    }
    if (pos_total == 0 || neg_below == 0)
        return NAN;
    return (double)two_u / (2.0 * (double)pos_total * (double)neg_below);
}

double metrics_auc_binary(const float *score, const int32_t *label, int64_t n)
{
    if (n <= 0)
        return NAN;
    scored *p = malloc((size_t)n * sizeof *p);
    if (!p)
        return NAN;
    for (int64_t i = 0; i < n; i++) {
        p[i].s = score[i];
        p[i].y = label[i] != 0;
    }
    double a = auc_of_pairs(p, n);
    free(p);
    return a;
}

/* ---- classification -------------------------------------------------------- */

void metrics_class_free(dt_class_metrics *m)
{
    if (!m)
        return;
    free(m->auc_k);
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->support);
    free(m->predicted);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

/* Predicted class of one row: prob (K_out).  Ties go to the first maximum,
 * as in the softmax loss's accuracy count. */
static int predict_row(const float *prob, int K_out)
{
    if (K_out == 1)
        return prob[0] > 0.5f;
    int arg = 0;
    for (int k = 1; k < K_out; k++)
        if (prob[k] > prob[arg])
            arg = k;
    return arg;
}

/* Probability of class k in one row, in double. */
static double prob_of(const float *prob, int K_out, int k)
{
    if (K_out == 1)
        return k == 1 ? (double)prob[0] : 1.0 - (double)prob[0];
    return prob[k];
}

/* This rank's rows are acceptable; fills err otherwise. */
static dt_status check_class_rows(const float *prob, int K_out, const int32_t *labels,
                                  int64_t n, int K, dt_error *err)
{
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= K)
            return dt_fail(err, DT_EUSAGE, "metrics: label %d of local row %lld is outside [0, %d)",
                           (int)labels[i], (long long)i, K);
        for (int k = 0; k < K_out; k++) {
            float p = prob[i * K_out + k];
            if (!(p >= 0.0f && p <= 1.0f))
                return dt_fail(err, DT_EUSAGE,
                               "metrics: probability %g at local row %lld, column %d "
                               "is not in [0, 1]",
                               (double)p, (long long)i, k);
        }
    }
    return DT_OK;
}

/* Precision, recall, F1 and their averages from the reduced confusion matrix. */
static void prf_from_confusion(dt_class_metrics *m)
{
    int K = m->K;
    int64_t tp_all = 0, present = 0;
    dt_prf sum = {0, 0, 0}, wsum = {0, 0, 0};
    for (int k = 0; k < K; k++) {
        int64_t tp = m->confusion[(int64_t)k * K + k];
        int64_t fn = m->support[k] - tp, fp = m->predicted[k] - tp;
        m->precision[k] = m->predicted[k] ? (double)tp / (double)m->predicted[k] : 0.0;
        m->recall[k] = m->support[k] ? (double)tp / (double)m->support[k] : 0.0;
        int64_t den = 2 * tp + fp + fn;
        m->f1[k] = den ? 2.0 * (double)tp / (double)den : 0.0;
        tp_all += tp;
        if (m->support[k] || m->predicted[k]) {
            present++;
            sum.precision += m->precision[k];
            sum.recall += m->recall[k];
            sum.f1 += m->f1[k];
        }
        double w = (double)m->support[k];
        wsum.precision += w * m->precision[k];
        wsum.recall += w * m->recall[k];
        wsum.f1 += w * m->f1[k];
    }
    double n = (double)m->n;
    m->accuracy = (double)tp_all / n;
    m->macro = (dt_prf){sum.precision / (double)present, sum.recall / (double)present,
                        sum.f1 / (double)present};
    m->weighted = (dt_prf){wsum.precision / n, wsum.recall / n, wsum.f1 / n};
    /* Single-label rows: pooled FP = pooled FN = n - TP, so P = R = F1 = TP / n. */
    int64_t fp_all = m->n - tp_all, fn_all = m->n - tp_all;
    double mp = (double)tp_all / (double)(tp_all + fp_all);
    double mr = (double)tp_all / (double)(tp_all + fn_all);
    int64_t mden = 2 * tp_all + fp_all + fn_all;
    m->micro = (dt_prf){mp, mr, mden ? 2.0 * (double)tp_all / (double)mden : 0.0};
}

/* Log loss and AUCs from all rows: prob (n, K_out), labels (n), in global row
 * order.  scratch holds n pairs. */
static void scores_from_rows(dt_class_metrics *m, const float *prob, int K_out,
                             const int32_t *labels, scored *scratch)
{
    int64_t n = m->n;
    int K = m->K;
    double ll = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double p = prob_of(prob + i * K_out, K_out, labels[i]);
        p = fmin(fmax(p, METRICS_LOG_EPS), 1.0 - METRICS_LOG_EPS);
        ll -= log(p);
    }
    m->log_loss = ll / (double)n;

    double auc_sum = 0.0;
    int defined = 0;
    for (int k = 0; k < K; k++) {
        for (int64_t i = 0; i < n; i++) {
            /* Sigmoid: ranking class 0 by -P(class 1) is ranking it by 1 - P
             * without the rounding of the subtraction. */
            scratch[i].s = K_out == 1 ? (k == 1 ? prob[i] : -prob[i]) : prob[i * K_out + k];
            scratch[i].y = labels[i] == k;
        }
        m->auc_k[k] = auc_of_pairs(scratch, n);
        if (!isnan(m->auc_k[k])) {
            auc_sum += m->auc_k[k];
            defined++;
        }
    }
    if (K == 2)
        m->auc = m->auc_k[1];
    else
        m->auc = defined ? auc_sum / defined : NAN;
}

/* The arguments describe a classification: K >= 2 classes, K_out = K
 * probability columns (or 1 for 2 classes), and this rank's n_local rows are
 * valid. */
static dt_status check_class_args(const float *prob, int K_out, const int32_t *labels,
                                  int64_t n_local, int K, dt_error *err)
{
    if (K < 2)
        return dt_fail(err, DT_EUSAGE, "metrics: need at least 2 classes, got %d", K);
    if (!(K_out == K || (K_out == 1 && K == 2)))
        return dt_fail(err, DT_EUSAGE,
                       "metrics: %d probability columns for %d classes (want %d, or 1 for 2 classes)",
                       K_out, K, K);
    if (n_local < 0)
        return dt_fail(err, DT_EUSAGE, "metrics: negative row count %lld", (long long)n_local);
    return check_class_rows(prob, K_out, labels, n_local, K, err);
}

static dt_status class_alloc(dt_class_metrics *m, int K, dt_error *err)
{
    m->K = K;
    m->auc_k = calloc((size_t)K, sizeof *m->auc_k);
    m->precision = calloc((size_t)K, sizeof *m->precision);
    m->recall = calloc((size_t)K, sizeof *m->recall);
    m->f1 = calloc((size_t)K, sizeof *m->f1);
    m->support = calloc((size_t)K, sizeof *m->support);
    m->predicted = calloc((size_t)K, sizeof *m->predicted);
    m->confusion = calloc((size_t)K * (size_t)K, sizeof *m->confusion);
    if (!m->auc_k || !m->precision || !m->recall || !m->f1 || !m->support || !m->predicted ||
        !m->confusion)
        return dt_fail(err, DT_ENOMEM, "metrics: out of memory for %d classes", K);
    return DT_OK;
}

/* m->confusion (K x K, true class by predicted) and m->n over all ranks, in
 * one exact reduction (collective); m->support and m->predicted, its row and
 * column sums. */
static dt_status reduce_confusion(dt_comm *c, const float *prob, int K_out,
                                  const int32_t *labels, int64_t n_local, dt_class_metrics *m,
                                  dt_error *err)
{
    const int K = m->K;
    const size_t kk = (size_t)K * K;
    int64_t *counts = calloc(kk + 1, sizeof *counts); /* the matrix, then the row count */
    dt_status st = DT_OK;
    if (counts) {
        for (int64_t i = 0; i < n_local; i++)
            counts[(int64_t)labels[i] * K + predict_row(prob + i * K_out, K_out)]++;
        counts[kk] = n_local;
    } else {
        st = dt_fail(err, DT_ENOMEM, "metrics: out of memory for the confusion matrix");
    }
    if ((st = comm_agree(c, st, err)) == DT_OK) {
        comm_allreduce_sum_i64(c, counts, kk + 1);
        memcpy(m->confusion, counts, kk * sizeof *counts);
        m->n = counts[kk];
        for (int t = 0; t < K; t++)
            for (int p = 0; p < K; p++) {
                m->support[t] += m->confusion[(int64_t)t * K + p];
                m->predicted[p] += m->confusion[(int64_t)t * K + p];
            }
    }
    free(counts);
    return st;
}

/* n rows of cols values (the same on every rank) are something to evaluate
 * and few enough for one gather of floats; what: "columns" or "targets". */
static dt_status check_row_count(int64_t n, int cols, const char *what, dt_error *err)
{
    if (n == 0)
        return dt_fail(err, DT_EUSAGE, "metrics: no rows to evaluate");
    if ((double)n * cols * sizeof(float) > INT_MAX)
        return dt_fail(err, DT_EUSAGE, "metrics: %lld rows x %d %s are too many to gather",
                       (long long)n, cols, what);
    return DT_OK;
}

/* Two arrays of rows gathered on every rank, and scratch for the caller. */
typedef struct {
    void *a, *b, *scratch;
} gathered;

static void gathered_free(gathered *g)
{
    free(g->a);
    free(g->b);
    free(g->scratch);
}

/* All n rows of a (row_a bytes each) and of b (row_b bytes) on every rank,
 * blocks in rank order = global row order, from this rank's n_local; and
 * scratch bytes (collective; a gather is limited to 2 GiB).  Nothing to free
 * on failure. */
static dt_status gather_rows(dt_comm *c, int64_t n, int64_t n_local, const void *a, size_t row_a,
                             const void *b, size_t row_b, size_t scratch, gathered *g,
                             dt_error *err)
{
    g->a = malloc((size_t)n * row_a);
    g->b = malloc((size_t)n * row_b);
    g->scratch = malloc(scratch);
    dt_status st = g->a && g->b && g->scratch
                       ? DT_OK
                       : dt_fail(err, DT_ENOMEM, "metrics: out of memory gathering %lld rows",
                                 (long long)n);
    if ((st = comm_agree(c, st, err)) == DT_OK &&
        (comm_allgatherv_bytes(c, a, (size_t)n_local * row_a, g->a) ||
         comm_allgatherv_bytes(c, b, (size_t)n_local * row_b, g->b)))
        st = dt_fail(err, DT_EUSAGE, "metrics: %lld rows are too many to gather (2 GiB)",
                     (long long)n);
    if (st)
        gathered_free(g);
    return st;
}

dt_status metrics_classification(dt_comm *c, const float *prob, int K_out,
                                 const int32_t *labels, int64_t n_local, int n_classes,
                                 dt_class_metrics *out, dt_error *err)
{
    dt_error own_err; /* comm_agree needs somewhere to put the message */
    if (!err)
        err = &own_err;
    memset(out, 0, sizeof *out);
    dt_error_clear(err);
    dt_status st = check_class_args(prob, K_out, labels, n_local, n_classes, err);
    if (st == DT_OK)
        st = class_alloc(out, n_classes, err);
    gathered g;
    if (!(st = comm_agree(c, st, err)) &&
        !(st = reduce_confusion(c, prob, K_out, labels, n_local, out, err)) &&
        !(st = check_row_count(out->n, K_out, "columns", err))) {
        prf_from_confusion(out);
        if (!(st = gather_rows(c, out->n, n_local, prob, (size_t)K_out * sizeof *prob, labels,
                               sizeof *labels, (size_t)out->n * sizeof(scored), &g, err))) {
            scores_from_rows(out, g.a, K_out, g.b, g.scratch);
            gathered_free(&g);
        }
    }
    if (st)
        metrics_class_free(out);
    return st;
}

/* ---- regression ------------------------------------------------------------ */

void metrics_reg_free(dt_reg_metrics *m)
{
    if (!m)
        return;
    free(m->rmse_k);
    free(m->mae_k);
    free(m->r2_k);
    memset(m, 0, sizeof *m);
}

/* All metrics from all rows: pred, target (n, K) in global row order.
 * acc (3K) is scratch.  R^2 takes two passes (mean, then squares about it)
 * so a target with a large mean keeps its accuracy. */
static void regression_from_rows(dt_reg_metrics *m, const float *pred, const float *target,
                                 double *acc)
{
    int64_t n = m->n;
    int K = m->K;
    double *sse = acc, *sae = acc + K, *sy = acc + 2 * K;
    memset(acc, 0, 3 * (size_t)K * sizeof *acc);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            double y = target[i * K + k], e = (double)pred[i * K + k] - y;
            sse[k] += e * e;
            sae[k] += fabs(e);
            sy[k] += y;
        }
    double rmse = 0, mae = 0, r2 = 0, sse_all = 0;
    for (int k = 0; k < K; k++) {
        double mean = sy[k] / (double)n, sst = 0.0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)target[i * K + k] - mean;
            sst += d * d;
        }
        m->rmse_k[k] = sqrt(sse[k] / (double)n);
        m->mae_k[k] = sae[k] / (double)n;
        m->r2_k[k] = sst > 0 ? 1.0 - sse[k] / sst : (sse[k] == 0 ? 1.0 : 0.0);
        rmse += m->rmse_k[k];
        mae += m->mae_k[k];
        r2 += m->r2_k[k];
        sse_all += sse[k];
    }
    m->rmse = rmse / K;
    m->mae = mae / K;
    m->r2 = r2 / K;
    m->rmse_pooled = sqrt(sse_all / ((double)n * K));
}

/* K >= 1 targets, and this rank's n_local rows (n_local x K) all finite. */
static dt_status check_reg_args(const float *pred, const float *target, int64_t n_local, int K,
                                dt_error *err)
{
    if (K < 1)
        return dt_fail(err, DT_EUSAGE, "metrics: need at least 1 target, got %d", K);
    if (n_local < 0)
        return dt_fail(err, DT_EUSAGE, "metrics: negative row count %lld", (long long)n_local);
    for (int64_t i = 0; i < n_local * K; i++)
        if (!isfinite(pred[i]) || !isfinite(target[i]))
            return dt_fail(err, DT_EUSAGE,
                           "metrics: non-finite %s at local row %lld, target %d",
                           isfinite(pred[i]) ? "target" : "prediction", (long long)(i / K),
                           (int)(i % K));
    return DT_OK;
}

static dt_status reg_alloc(dt_reg_metrics *m, int K, dt_error *err)
{
    m->K = K;
    m->rmse_k = calloc((size_t)K, sizeof *m->rmse_k);
    m->mae_k = calloc((size_t)K, sizeof *m->mae_k);
    m->r2_k = calloc((size_t)K, sizeof *m->r2_k);
    if (!m->rmse_k || !m->mae_k || !m->r2_k)
        return dt_fail(err, DT_ENOMEM, "metrics: out of memory for %d targets", K);
    return DT_OK;
}

dt_status metrics_regression(dt_comm *c, const float *pred, const float *target,
                             int64_t n_local, int K, dt_reg_metrics *out, dt_error *err)
{
    dt_error own_err; /* comm_agree needs somewhere to put the message */
    if (!err)
        err = &own_err;
    memset(out, 0, sizeof *out);
    dt_error_clear(err);
    dt_status st = check_reg_args(pred, target, n_local, K, err);
    if (st == DT_OK)
        st = reg_alloc(out, K, err);
    if ((st = comm_agree(c, st, err)) == DT_OK) {
        int64_t n = n_local;
        comm_allreduce_sum_i64(c, &n, 1);
        out->n = n;
        const size_t row = (size_t)K * sizeof(float);
        gathered g;
        if (!(st = check_row_count(n, K, "targets", err)) &&
            !(st = gather_rows(c, n, n_local, pred, row, target, row,
                               3 * (size_t)K * sizeof(double), &g, err))) {
            regression_from_rows(out, g.a, g.b, g.scratch); /* scratch: 3K sums */
            gathered_free(&g);
        }
    }
    if (st)
        metrics_reg_free(out);
    return st;
}

/* ---- printing -------------------------------------------------------------- */

/* A JSON number: 17 significant digits round-trip a double; JSON has no NaN. */
static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_array(FILE *f, const char *name, const double *v, int K)
{
    fprintf(f, "\"%s\":[", name);
    for (int k = 0; k < K; k++) {
        if (k)
            fputc(',', f);
        json_num(f, v[k]);
    }
    fputc(']', f);
}

static void json_prf(FILE *f, const char *name, dt_prf a)
{
    fprintf(f, "\"%s\":{\"precision\":", name);
    json_num(f, a.precision);
    fputs(",\"recall\":", f);
    json_num(f, a.recall);
    fputs(",\"f1\":", f);
    json_num(f, a.f1);
    fputc('}', f);
}

/* Class k's label: its name, or its number when there are no names. */
static const char *class_label(const char *const *names, int k, char *buf, size_t len)
{
    if (names && names[k])
        return names[k];
    snprintf(buf, len, "%d", k);
    return buf;
}

void metrics_class_print_json(FILE *f, const dt_class_metrics *m)
{
    int K = m->K;
    fprintf(f, "{\"task\":\"classification\",\"n\":%lld,\"classes\":%d,\"accuracy\":",
            (long long)m->n, K);
    json_num(f, m->accuracy);
    fputs(",\"log_loss\":", f);
    json_num(f, m->log_loss);
    fputs(",\"auc\":", f);
    json_num(f, m->auc);
    fputs(",\"per_class\":{", f);
    json_array(f, "precision", m->precision, K);
    fputc(',', f);
    json_array(f, "recall", m->recall, K);
    fputc(',', f);
    json_array(f, "f1", m->f1, K);
    fputc(',', f);
    json_array(f, "auc", m->auc_k, K);
    fputs(",\"support\":[", f);
    for (int k = 0; k < K; k++) fprintf(f, "%s%lld", k ? "," : "", (long long)m->support[k]);
    fputs("]},", f);
    json_prf(f, "macro", m->macro);
    fputc(',', f);
    json_prf(f, "weighted", m->weighted);
    fputc(',', f);
    json_prf(f, "micro", m->micro);
    fputs(",\"confusion\":[", f);
    for (int t = 0; t < K; t++) {
        fputs(t ? ",[" : "[", f);
        for (int p = 0; p < K; p++)
            fprintf(f, "%s%lld", p ? "," : "", (long long)m->confusion[(int64_t)t * K + p]);
        fputc(']', f);
    }
    fputs("]}", f);
}

void metrics_class_print_table(FILE *f, const dt_class_metrics *m, const char *const *names)
{
    int K = m->K;
    char buf[16];
    /* columns wide enough for the longest name (bytes: ASCII names line up) */
    int w = 10, cw = 8;
    for (int k = 0; k < K; k++) {
        int len = (int)strlen(class_label(names, k, buf, sizeof buf));
        w = len > w ? len : w;
        cw = len > cw ? len : cw;
    }
    fprintf(f, "rows %lld  classes %d  accuracy %.6f  log loss %.6f  AUC %.6f\n",
            (long long)m->n, K, m->accuracy, m->log_loss, m->auc);
    fprintf(f, "%*s %10s %10s %10s %10s %10s\n", w, "class", "precision", "recall", "f1",
            "support", "auc");
    for (int k = 0; k < K; k++)
        fprintf(f, "%*s %10.6f %10.6f %10.6f %10lld %10.6f\n", w,
                class_label(names, k, buf, sizeof buf), m->precision[k], m->recall[k], m->f1[k],
                (long long)m->support[k], m->auc_k[k]);
    const char *avg_names[3] = {"macro", "weighted", "micro"};
    const dt_prf avg[3] = {m->macro, m->weighted, m->micro};
    for (int a = 0; a < 3; a++)
        fprintf(f, "%*s %10.6f %10.6f %10.6f %10lld\n", w, avg_names[a], avg[a].precision,
                avg[a].recall, avg[a].f1, (long long)m->n);
    fprintf(f, "confusion (rows true, columns predicted):\n%*s", w, "");
    for (int p = 0; p < K; p++) fprintf(f, " %*s", cw, class_label(names, p, buf, sizeof buf));
    fputc('\n', f);
    for (int t = 0; t < K; t++) {
        fprintf(f, "%*s", w, class_label(names, t, buf, sizeof buf));
        for (int p = 0; p < K; p++)
            fprintf(f, " %*lld", cw, (long long)m->confusion[(int64_t)t * K + p]);
        fputc('\n', f);
    }
}

void metrics_reg_print_json(FILE *f, const dt_reg_metrics *m)
{
    fprintf(f, "{\"task\":\"regression\",\"n\":%lld,\"targets\":%d,\"rmse\":", (long long)m->n,
            m->K);
    json_num(f, m->rmse);
    fputs(",\"mae\":", f);
    json_num(f, m->mae);
    fputs(",\"r2\":", f);
    json_num(f, m->r2);
    fputs(",\"rmse_pooled\":", f);
    json_num(f, m->rmse_pooled);
    fputs(",\"per_target\":{", f);
    json_array(f, "rmse", m->rmse_k, m->K);
    fputc(',', f);
    json_array(f, "mae", m->mae_k, m->K);
    fputc(',', f);
    json_array(f, "r2", m->r2_k, m->K);
    fputs("}}", f);
}

void metrics_reg_print_table(FILE *f, const dt_reg_metrics *m)
{
    fprintf(f, "rows %lld  targets %d  (pooled RMSE %.6g)\n", (long long)m->n, m->K,
            m->rmse_pooled);
    fprintf(f, "%10s %14s %14s %14s\n", "target", "rmse", "mae", "r2");
    for (int k = 0; k < m->K; k++)
        fprintf(f, "%10d %14.6g %14.6g %14.6f\n", k, m->rmse_k[k], m->mae_k[k], m->r2_k[k]);
    fprintf(f, "%10s %14.6g %14.6g %14.6f\n", "average", m->rmse, m->mae, m->r2);
}

/* ---- stratified k-fold ----------------------------------------------------- */

typedef struct {
    int32_t label;
    int64_t row;
} labelled_row;

/* (label, row): groups the rows of each class, each group in row order. */
static int labelled_cmp(const void *pa, const void *pb)
{
    const labelled_row *a = pa, *b = pb;
    if (a->label != b->label)
        return (a->label > b->label) - (a->label < b->label);
    return (a->row > b->row) - (a->row < b->row);
}

dt_status metrics_kfold(const int32_t *labels, int64_t n, int k, uint64_t seed,
                        int32_t *fold_of_row, dt_error *err)
{
    if (k < 2 || (int64_t)k > n)
        return dt_fail(err, DT_EUSAGE, "metrics: %d folds need 2 <= folds <= rows (%lld)", k,
                       (long long)n);
    for (int64_t i = 0; labels && i < n; i++)
        if (labels[i] < 0)
            return dt_fail(err, DT_EUSAGE, "metrics: negative label %d at row %lld",
                           (int)labels[i], (long long)i);
    labelled_row *rows = malloc((size_t)n * sizeof *rows);
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!rows || !perm) {
        free(rows);
        free(perm);
        return dt_fail(err, DT_ENOMEM, "metrics: out of memory for %lld rows", (long long)n);
    }
    for (int64_t i = 0; i < n; i++)
        rows[i] = (labelled_row){labels ? labels[i] : 0, i};
    if (labels)
        qsort(rows, (size_t)n, sizeof *rows, labelled_cmp);
    /* Deal each class's shuffled rows round robin, starting at the fold after
     * the previous class's last row: per class and overall, fold counts differ
     * by at most one.  The shuffle of class c depends only on (seed, c), never
     * on which other classes exist.  Stream 4 is the folds' stream, kept apart
     * from RNG_STREAM_INIT/EPOCH/SPLIT (1, 2, 3) in rng.h. */
    int64_t next = 0;
    for (int64_t lo = 0; lo < n;) {
        int64_t hi = lo;
        while (hi < n && rows[hi].label == rows[lo].label) hi++;
        dt_rng r;
        rng_seed(&r, seed, 4 /* folds stream */, (uint64_t)rows[lo].label);
        rng_permutation(&r, perm, hi - lo);
        for (int64_t j = 0; j < hi - lo; j++, next++)
            fold_of_row[rows[lo + perm[j]].row] = (int32_t)(next % k);
        lo = hi;
    }
    free(rows);
    free(perm);
    return DT_OK;
}

const char *const metric_names[] = {[METRIC_AUC] = "auc",   [METRIC_ACCURACY] = "accuracy",
                                    [METRIC_F1] = "f1",     [METRIC_LOG_LOSS] = "log_loss",
                                    [METRIC_RMSE] = "rmse", [METRIC_MAE] = "mae",
                                    [METRIC_R2] = "r2",     NULL};

const char *metrics_name(dt_metric m) { return metric_names[m]; }

int metrics_higher_is_better(dt_metric m)
{
    return m == METRIC_AUC || m == METRIC_ACCURACY || m == METRIC_F1 || m == METRIC_R2;
}

int metrics_is_classification(dt_metric m) { return m <= METRIC_LOG_LOSS; }

dt_metric metrics_default(dt_head head)
{
    return head == HEAD_SIGMOID ? METRIC_AUC : head == HEAD_SOFTMAX ? METRIC_ACCURACY : METRIC_RMSE;
}

dt_status metrics_check(dt_metric m, dt_head head, dt_error *err)
{
    if (metrics_is_classification(m) != head_is_classifier(head))
        return dt_fail_opt(err, DT_EUSAGE, "metric", "%s %s does not apply to %s %s (%s)",
                           dt_opt("metric"), metric_names[m], dt_opt("output"), head_name(head),
                       head_is_classifier(head) ? "auc, accuracy, f1 or log_loss"
                                                : "rmse, mae or r2");
    return DT_OK;
}

dt_status metrics_parse(const char *name, dt_head head, dt_metric *m, dt_error *err)
{
    if (!name[0]) {
        *m = metrics_default(head);
        return DT_OK;
    }
    int i = dt_name_index(metric_names, name);
    if (i < 0)
        return dt_fail_opt(err, DT_EUSAGE, "metric", "unknown %s '%s'", dt_opt("metric"),
                           name);
    *m = (dt_metric)i;
    return metrics_check(*m, head, err);
}

double metrics_of_class(dt_metric m, const dt_class_metrics *cm)
{
    switch (m) {
    case METRIC_AUC: return cm->auc;
    case METRIC_ACCURACY: return cm->accuracy;
    case METRIC_F1: return cm->macro.f1;
    case METRIC_LOG_LOSS: return cm->log_loss;
    default: return NAN;
    }
}

double metrics_of_reg(dt_metric m, const dt_reg_metrics *rm)
{
    switch (m) {
    case METRIC_RMSE: return rm->rmse;
    case METRIC_MAE: return rm->mae;
    case METRIC_R2: return rm->r2;
    default: return NAN;
    }
}
