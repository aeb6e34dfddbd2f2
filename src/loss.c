/* dtrain: output heads and losses. */
#include "dtrain/loss.h"

#include <math.h>
#include <string.h>

const char *const head_names[] = {[HEAD_SOFTMAX] = "softmax", [HEAD_SIGMOID] = "sigmoid",
                                  [HEAD_LINEAR] = "linear", NULL};

dt_status head_parse(const char *text, dt_head *out, dt_error *err)
{
    int i = dt_name_index(head_names, text);
    if (i < 0)
        return dt_fail(err, DT_EUSAGE, "unknown output '%s' (expected softmax, sigmoid or linear)",
                       text);
    *out = (dt_head)i;
    return DT_OK;
}

const char *head_name(dt_head h) { return head_names[h]; }

int head_is_classifier(dt_head h) { return h != HEAD_LINEAR; }

/* Softmax cross-entropy of one row z (K logits) against class y: its loss
 * (log-sum-exp of z minus z_y); *hit: whether the largest logit is y's; into
 * dz (K, when not NULL) its gradient. */
static double softmax_row(const float *z, int K, int y, int *hit, float *dz)
{
    int arg = 0;
    float m = z[0];
    for (int k = 1; k < K; k++)
        if (z[k] > m) { m = z[k]; arg = k; }
    double s = 0.0;
    for (int k = 0; k < K; k++) s += exp((double)z[k] - m);
    double lse = m + log(s);
    *hit = arg == y;
    if (dz) {
        /* d/dz_k = p_k - [k == y] */
        for (int k = 0; k < K; k++) dz[k] = (float)exp((double)z[k] - lse);
        dz[y] -= 1.0f;
    }
    return lse - z[y];
}

/* Logistic loss of one logit x against label y (0 or 1), in a form that
 * neither overflows nor loses precision for large |x|; into dz (when not
 * NULL) its gradient sigmoid(x) - y. */
static double sigmoid_row(double x, double y, float *dz)
{
    if (dz) {
        double e = exp(-fabs(x));
        double p = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        dz[0] = (float)(p - y);
    }
    return (x > 0 ? x : 0) - x * y + log1p(exp(-fabs(x)));
}

/* Squared error of one row z (K outputs) against targets t (standardised by
 * ts when not NULL): its sum in the model's units into *se, in the targets'
 * units into *se_units (0 without ts); into dz (when not NULL) the gradient of
 * the mean, 2 d / K. */
static void linear_row(const float *z, const float *t, int K, const dt_target_scaling *ts,
                       float *dz, double *se, double *se_units)
{
    *se = *se_units = 0.0;
    for (int k = 0; k < K; k++) {
        double d = (double)z[k] - (ts ? target_standardise(ts, t[k], k) : t[k]);
        *se += d * d;
        if (ts) /* the same error in the targets' units: d / scale */
            *se_units += (d / ts->scale[k]) * (d / ts->scale[k]);
        if (dz) dz[k] = (float)(2.0 * d / K);
    }
}

double loss_eval(dt_head h, const float *Z, const int32_t *labels, const float *targets,
                 int nb, int K, const dt_target_scaling *ts, float *dZ, dt_loss_sums *sums)
{
    double total = 0.0, correct = 0.0, sqerr = 0.0, units = 0.0;
    for (int i = 0; i < nb; i++) {
        const float *z = Z + (size_t)i * K;
        float *dz = dZ ? dZ + (size_t)i * K : NULL;
        if (h == HEAD_SOFTMAX) {
            int hit;
            total += softmax_row(z, K, labels[i], &hit, dz);
            correct += hit;
        } else if (h == HEAD_SIGMOID) {
            total += sigmoid_row(z[0], labels[i], dz);
            correct += (z[0] > 0) == (labels[i] == 1);
        } else if (h == HEAD_LINEAR) {
            double se, se_units;
            linear_row(z, targets + (size_t)i * K, K, ts, dz, &se, &se_units);
            total += se / K;
            units += se_units / K;
            sqerr += ts ? se_units : se;
        }
    }
    if (sums) {
        sums->loss += ts && h == HEAD_LINEAR ? units : total;
        sums->correct += correct;
        sums->sqerr += sqerr;
        sums->count += nb;
    }
    return total;
}

float target_standardise(const dt_target_scaling *ts, float t, int k)
{
    return (t - ts->shift[k]) * ts->scale[k];
}

void head_output(dt_head h, const dt_target_scaling *ts, float *Z, int nb, int K)
{
    for (int i = 0; i < nb; i++) {
        float *z = Z + (size_t)i * K;
        if (h == HEAD_SOFTMAX) {
            float m = z[0];
            for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
            double s = 0.0;
            for (int k = 0; k < K; k++) s += exp((double)z[k] - m);
            for (int k = 0; k < K; k++) z[k] = (float)(exp((double)z[k] - m) / s);
        } else if (h == HEAD_SIGMOID) {
            double e = exp(-fabs((double)z[0]));
            z[0] = (float)(z[0] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
        } else if (ts) { /* back from standardised units: t = t' / scale + shift */
            for (int k = 0; k < K; k++) z[k] = z[k] / ts->scale[k] + ts->shift[k];
        }
    }
}
