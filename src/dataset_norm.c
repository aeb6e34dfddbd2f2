/* dtrain: data sets in memory: normalisation of features (fit over the
 * ranks, apply) and of regression targets.  Part of the data set module
 * (dataset.c, dataset_impl.h). */
#include "dataset_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/exsum.h"

const char *const norm_names[] = {[NORM_NONE] = "none", [NORM_ZSCORE] = "zscore",
                                  [NORM_MINMAX] = "minmax", NULL};

dt_status norm_parse(const char *text, dt_norm_kind *out, dt_error *err)
{
    int i = dt_name_index(norm_names, text);
    if (i < 0)
        return dt_fail_opt(err, DT_EUSAGE, "normalize", "unknown %s '%s' (expected zscore, "
                           "minmax or none)", dt_opt("normalize"), text);
    *out = (dt_norm_kind)i;
    return DT_OK;
}

const char *norm_name(dt_norm_kind k) { return norm_names[k]; }

/* The shifted sums acc (2, d) of rows [lo, hi) of ds, row 0 ref as the shift
 * (x a row's scratch), reduced over the ranks exactly (exsum.h): the bits do
 * not depend on which rank summed which rows.  0, or -1 without memory (on
 * every rank). */
static int exact_zscore_sums(dt_comm *c, const dt_dataset *ds, int64_t lo, int64_t hi,
                             const float *ref, float *x, double *acc)
{
    const size_t d = (size_t)ds->d;
    int64_t *code = calloc(2 * d, sizeof *code), *sum = calloc(2 * d, sizeof *sum);
    int *shift = malloc(2 * d * sizeof *shift);
    int64_t missing = !(code && sum && shift);
    comm_allreduce_max_i64(c, &missing, 1);
    for (int pass = 0; !missing && pass < 2; pass++) {
        for (int64_t i = lo; i < hi; i++) {
            dataset_copy_row(ds, i, x);
            for (size_t j = 0; j < d; j++) {
                acc[j] = (double)x[j] - ref[j];
                acc[d + j] = acc[j] * acc[j];
            }
            if (pass == 0)
                exsum_exp_each(acc, 2 * d, code);
            else
                exsum_add_each(sum, acc, shift, 2 * d);
        }
        if (pass == 0) {
            comm_allreduce_max_i64(c, code, 2 * d);
            for (size_t j = 0; j < 2 * d; j++) shift[j] = exsum_shift(code[j], ds->n);
        }
    }
    if (!missing) {
        comm_allreduce_sum_i64(c, sum, 2 * d);
        for (size_t j = 0; j < 2 * d; j++)
            acc[j] = code[j] == EXSUM_NONFINITE ? NAN : exsum_value(sum[j], shift[j]);
    }
    free(code);
    free(sum);
    free(shift);
    return missing ? -1 : 0;
}

/* The z-score statistics of rows [lo, hi) here, every rank's together, into
 * out: each feature's mean (shift) and 1 / its standard deviation (scale;
 * 1 for a constant feature).  acc (2, d) zeroed; ref, x (d each) scratch.
 * 0, or -1 without memory (on every rank). */
static int fit_zscore(dt_comm *c, const dt_dataset *ds, int64_t lo, int64_t hi, int exact,
                      double *acc, float *ref, float *x, dt_norm *out)
{
    const int64_t d = ds->d;
    /* Shifted sums (by row 0, known to every rank) keep the variance accurate
     * for features with a large mean. */
    const int owner = ds->block ? block_owner(ds->n, ds->block, 0, comm_size(c)) : 0;
    if (!ds->block || owner == comm_rank(c))
        dataset_copy_row(ds, 0, ref);
    if (ds->block)
        comm_bcast(c, ref, (size_t)d * sizeof *ref, owner);
    double *s = acc, *s2 = acc + d;
    if (exact && exact_zscore_sums(c, ds, lo, hi, ref, x, acc))
        return -1;
    for (int64_t i = lo; !exact && i < hi; i++) {
        dataset_copy_row(ds, i, x);
        for (int64_t j = 0; j < d; j++) {
            double v = (double)x[j] - ref[j];
            s[j] += v;
            s2[j] += v * v;
        }
    }
    if (!exact)
        comm_allreduce_sum_f64(c, acc, 2 * (size_t)d);
    double n = (double)ds->n;
    for (int64_t j = 0; j < d; j++) {
        double mean = s[j] / n;
        double var = s2[j] / n - mean * mean;
        double sd = var > 0 ? sqrt(var) : 0.0;
        out->shift[j] = (float)(ref[j] + mean);
        out->scale[j] = sd > 1e-12 * (1.0 + fabs(ref[j] + mean)) ? (float)(1.0 / sd) : 1.0f;
    }
    return 0;
}

/* The min-max statistics of rows [lo, hi) here, every rank's together, into
 * out: each feature's minimum (shift) and 1 / its range (scale; 1 for a
 * constant feature).  acc (2, d) and x (d) scratch. */
static void fit_minmax(dt_comm *c, const dt_dataset *ds, int64_t lo, int64_t hi, double *acc,
                       float *x, dt_norm *out)
{
    const int64_t d = ds->d;
    double *mn = acc, *mx = acc + d;
    for (int64_t j = 0; j < d; j++) {
        mn[j] = HUGE_VAL;
        mx[j] = -HUGE_VAL;
    }
    for (int64_t i = lo; i < hi; i++) {
        dataset_copy_row(ds, i, x);
        for (int64_t j = 0; j < d; j++) {
            if (x[j] < mn[j]) mn[j] = x[j];
            if (x[j] > mx[j]) mx[j] = x[j];
        }
    }
    comm_allreduce_min_f64(c, mn, (size_t)d);
    comm_allreduce_max_f64(c, mx, (size_t)d);
    for (int64_t j = 0; j < d; j++) {
        out->shift[j] = (float)mn[j];
        double range = mx[j] - mn[j];
        out->scale[j] = range > 0 ? (float)(1.0 / range) : 1.0f;
    }
}

dt_status norm_fit(dt_comm *c, const dt_dataset *ds, dt_norm_kind kind, int exact, dt_norm *out,
                   dt_error *err)
{
    const int64_t d = ds->d;
    out->kind = kind;
    out->d = d;
    out->shift = calloc((size_t)d, sizeof(float));
    out->scale = malloc((size_t)d * sizeof(float));
    double *acc = calloc(2 * (size_t)d, sizeof(double));
    /* row 0 and the current row, as float (uint8 rows are converted) */
    float *ref = malloc(2 * (size_t)d * sizeof *ref);
    int missing = !out->shift || !out->scale || !acc || !ref;
    if (!missing) {
        for (int64_t j = 0; j < d; j++)
            out->scale[j] = 1.0f;
        int64_t lo = ds->lo, hi = ds->lo + ds->held;
        if (!ds->block) /* every rank holds every row: each sums its share */
            batch_slice(ds->n, comm_rank(c), comm_size(c), &lo, &hi);
        if (kind == NORM_ZSCORE)
            missing = fit_zscore(c, ds, lo, hi, exact, acc, ref, ref + d, out) < 0;
        else if (kind == NORM_MINMAX)
            fit_minmax(c, ds, lo, hi, acc, ref + d, out);
    }
    free(acc);
    free(ref);
    if (missing) {
        norm_free(out);
        return dt_fail(err, DT_ENOMEM, "out of memory for normalisation statistics");
    }
    return DT_OK;
}

void norm_apply(const dt_norm *nm, dt_dataset *ds)
{
    if (nm->kind == NORM_NONE)
        return;
    const int64_t d = ds->d;
    if (ds->X8) {
        memcpy(ds->norm8, nm->shift, (size_t)d * sizeof *ds->norm8);
        memcpy(ds->norm8 + d, nm->scale, (size_t)d * sizeof *ds->norm8);
        ds->normed8 = 1;
        return;
    }
    for (int64_t i = 0; i < dataset_held_rows(ds); i++) {
        float *x = ds->X + i * d;
        for (int64_t j = 0; j < d; j++)
            x[j] = (x[j] - nm->shift[j]) * nm->scale[j];
    }
}

void dataset_target_stats(const dt_dataset *ds, float *shift, float *scale)
{
    const int64_t n = ds->n, k = ds->k;
    for (int64_t j = 0; j < k; j++) {
        /* two passes in double: the mean, then the spread about it */
        double mean = 0.0, ss = 0.0;
        for (int64_t i = 0; i < n; i++) mean += ds->targets[i * k + j];
        mean = n ? mean / (double)n : 0.0;
        for (int64_t i = 0; i < n; i++) {
            const double d = ds->targets[i * k + j] - mean;
            ss += d * d;
        }
        const double sd = n ? sqrt(ss / (double)n) : 0.0;
        shift[j] = (float)mean;
        /* a constant target is only shifted, as a constant feature is */
        scale[j] = sd > 1e-12 * (1.0 + fabs(mean)) ? (float)(1.0 / sd) : 1.0f;
    }
}

void norm_free(dt_norm *nm)
{
    free(nm->shift);
    free(nm->scale);
    nm->shift = nm->scale = NULL;
}

