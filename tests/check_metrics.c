/* Metrics tests (one rank): values worked out by hand in the comments, and a
 * second, naive implementation in this file for the random cases.  Tolerances
 * are stated per test; "exact" means the module and the reference perform the
 * same single rounding of the same rational number. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/comm.h"
#include "dtrain/metrics.h"
#include "dtrain/rng.h"
#include "testutil.h"

/* Rows of K probabilities putting 0.8 on pred[i] and the rest evenly on the
 * others: the predicted class of row i is pred[i].  prob (n, K). */
static void one_hot_prob(float *prob, const int *pred, int n, int K)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++) prob[i * K + k] = k == pred[i] ? 0.8f : 0.2f / (K - 1);
}

static void classify(const float *prob, int K_out, const int32_t *labels, int64_t n, int K,
                     dt_class_metrics *m)
{
    dt_error err;
    dt_status st = metrics_classification(comm_world(), prob, K_out, labels, n, K, m, &err);
    ck_assert_msg(st == DT_OK, "%s", err.msg);
}

#define TOL 1e-12

/* ---- AUC ------------------------------------------------------------------ */

START_TEST(test_auc_by_hand)
{
    /* positives 0.35, 0.8; negatives 0.1, 0.4: 0.35 beats 0.1 only, 0.8 beats
     * both -> 3 of 4 pairs = 0.75 (exact). */
    float s1[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    int32_t y1[4] = {0, 0, 1, 1};
    ck_assert(metrics_auc_binary(s1, y1, 4) == 0.75);

    /* positives 0.5, 0.9; negatives 0.5, 0.2: the 0.5/0.5 pair ties (1/2), the
     * other three pairs are won -> 3.5 / 4 = 0.875.  As the trapezoid over the
     * ROC points (0,0) (0,.5) (.5,1) (1,1): .5 * (.5 + 1) / 2 + .5 = 0.875. */
    float s2[4] = {0.5f, 0.5f, 0.2f, 0.9f};
    int32_t y2[4] = {1, 0, 0, 1};
    ck_assert(metrics_auc_binary(s2, y2, 4) == 0.875);

    /* all scores tied: every pair counts 1/2 -> 0.5; one class only -> NAN. */
    float s3[3] = {0.3f, 0.3f, 0.3f};
    int32_t y3[3] = {1, 0, 1}, y4[3] = {1, 1, 1};
    ck_assert(metrics_auc_binary(s3, y3, 3) == 0.5);
    ck_assert(isnan(metrics_auc_binary(s3, y4, 3)));
    ck_assert(isnan(metrics_auc_binary(s3, y3, 0)));
}
END_TEST

/* Reference: every (positive, negative) pair, win 1, tie 1/2. */
static double naive_auc(const float *s, const int32_t *y, int64_t n)
{
    double u = 0, P = 0, N = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y[i])
            P++;
        else
            N++;
        if (!y[i])
            continue;
        for (int64_t j = 0; j < n; j++)
            if (!y[j])
                u += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
    return P > 0 && N > 0 ? u / (P * N) : NAN;
}

START_TEST(test_auc_matches_pairwise)
{
    /* Scores rounded to one decimal (11 values over 500 rows: many ties).
     * Exact: u and P*N are exact in double, so both sides round u/(PN) once. */
    enum { n = 500 };
    float s[n];
    int32_t y[n];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        dt_rng r;
        rng_seed(&r, seed, 100, 0);
        for (int i = 0; i < n; i++) {
            y[i] = rng_uniform(&r) < 0.3 + 0.1 * (double)seed;
            /* positives drawn higher so the AUC is far from 0.5 */
            double v = fmin(1.0, rng_uniform(&r) * 0.8 + 0.2 * y[i]);
            s[i] = (float)(round(v * 10) / 10);
        }
        double want = naive_auc(s, y, n), got = metrics_auc_binary(s, y, n);
        ck_assert_msg(got == want, "seed %d: AUC %.17g, pairwise %.17g", (int)seed, got, want);
        ck_assert(want > 0.55 && want < 1.0);
    }
}
END_TEST

/* ---- precision / recall / F1 ------------------------------------------------ */

START_TEST(test_f1_class_never_predicted)
{
    /* labels 0 0 1 1 2 2, predicted 0 0 1 0 1 1; class 3 exists (K = 4) but is
     * neither a label nor predicted.
     *   confusion rows true: [2 0 0 0] [1 1 0 0] [0 2 0 0] [0 0 0 0]
     *   class 0: TP 2 FP 1 FN 0 -> P 2/3, R 1,   F1 4/5
     *   class 1: TP 1 FP 2 FN 1 -> P 1/3, R 1/2, F1 2/5
     *   class 2: never predicted -> P 0 (zero_division 0), R 0, F1 0
     *   accuracy 3/6; macro over classes 0..2: P 1/3, R 1/2, F1 2/5;
     *   weighted (supports 2, 2, 2) equal to macro; micro = accuracy = 1/2. */
    int pred[6] = {0, 0, 1, 0, 1, 1};
    int32_t lab[6] = {0, 0, 1, 1, 2, 2};
    float prob[6 * 4];
    one_hot_prob(prob, pred, 6, 4);
    dt_class_metrics m;
    classify(prob, 4, lab, 6, 4, &m);
    int64_t conf[16] = {2, 0, 0, 0, 1, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0};
    ck_assert_mem_eq(m.confusion, conf, sizeof conf);
    ck_assert_int_eq(m.n, 6);
    ck_assert_double_eq_tol(m.accuracy, 0.5, TOL);
    double P[4] = {2.0 / 3, 1.0 / 3, 0, 0}, R[4] = {1, 0.5, 0, 0}, F[4] = {0.8, 0.4, 0, 0};
    for (int k = 0; k < 4; k++) {
        ck_assert_double_eq_tol(m.precision[k], P[k], TOL);
        ck_assert_double_eq_tol(m.recall[k], R[k], TOL);
        ck_assert_double_eq_tol(m.f1[k], F[k], TOL);
    }
    ck_assert_double_eq_tol(m.macro.precision, 1.0 / 3, TOL);
    ck_assert_double_eq_tol(m.macro.recall, 0.5, TOL);
    ck_assert_double_eq_tol(m.macro.f1, 0.4, TOL);
    ck_assert_double_eq_tol(m.weighted.precision, 1.0 / 3, TOL);
    ck_assert_double_eq_tol(m.weighted.f1, 0.4, TOL);
    ck_assert_double_eq_tol(m.micro.precision, 0.5, TOL);
    ck_assert_double_eq_tol(m.micro.recall, 0.5, TOL);
    ck_assert_double_eq_tol(m.micro.f1, 0.5, TOL);
    metrics_class_free(&m);
}
END_TEST

START_TEST(test_prf_averages_by_hand)
{
    /* labels 0 0 0 0 1 1 2 (supports 4 2 1), predicted 0 0 0 1 1 2 0
     *   confusion: [3 1 0] [0 1 1] [1 0 0]
     *   class 0: TP 3 FP 1 FN 1 -> P 3/4 R 3/4 F1 6/8
     *   class 1: TP 1 FP 1 FN 1 -> P 1/2 R 1/2 F1 2/4
     *   class 2: TP 0 FP 1 FN 1 -> P 0   R 0   F1 0
     *   macro: P = R = F1 = (3/4 + 1/2) / 3 = 5/12
     *   weighted: (4 * 3/4 + 2 * 1/2 + 0) / 7 = 4/7 for P, R and F1
     *   micro = accuracy = 4/7 */
    int pred[7] = {0, 0, 0, 1, 1, 2, 0};
    int32_t lab[7] = {0, 0, 0, 0, 1, 1, 2};
    float prob[7 * 3];
    one_hot_prob(prob, pred, 7, 3);
    dt_class_metrics m;
    classify(prob, 3, lab, 7, 3, &m);
    int64_t conf[9] = {3, 1, 0, 0, 1, 1, 1, 0, 0};
    ck_assert_mem_eq(m.confusion, conf, sizeof conf);
    ck_assert_int_eq(m.support[0], 4);
    ck_assert_int_eq(m.predicted[0], 4);
    ck_assert_double_eq_tol(m.accuracy, 4.0 / 7, TOL);
    ck_assert_double_eq_tol(m.macro.precision, 5.0 / 12, TOL);
    ck_assert_double_eq_tol(m.macro.recall, 5.0 / 12, TOL);
    ck_assert_double_eq_tol(m.macro.f1, 5.0 / 12, TOL);
    ck_assert_double_eq_tol(m.weighted.precision, 4.0 / 7, TOL);
    ck_assert_double_eq_tol(m.weighted.recall, 4.0 / 7, TOL);
    ck_assert_double_eq_tol(m.weighted.f1, 4.0 / 7, TOL);
    ck_assert_double_eq_tol(m.micro.f1, 4.0 / 7, TOL);
    ck_assert_double_eq_tol(m.f1[0], 0.75, TOL);
    ck_assert_double_eq_tol(m.f1[1], 0.5, TOL);
    metrics_class_free(&m);
}
END_TEST

/* Reference for the random comparison: counts by direct loops over the rows
 * per class, F1 as 2PR/(P+R) (the module uses 2TP/(2TP+FP+FN); equal in exact
 * arithmetic, so tolerance 1e-12). */
START_TEST(test_prf_auc_match_naive)
{
    enum { n = 400, K = 5 };
    static float prob[n * K];
    static int32_t lab[n];
    static float col[n];
    static int32_t is_k[n];
    dt_rng r;
    rng_seed(&r, 42, 101, 0);
    int pred[n];
    for (int i = 0; i < n; i++) {
        lab[i] = (int32_t)rng_below(&r, 4); /* class 4 never a label, sometimes predicted */
        double sum = 0;
        for (int k = 0; k < K; k++) {
            double v = rng_uniform(&r) + (k == lab[i] ? 0.7 : 0.0);
            prob[i * K + k] = (float)v;
            sum += v;
        }
        for (int k = 0; k < K; k++)
            prob[i * K + k] = (float)(round(prob[i * K + k] / sum * 10) / 10);
        pred[i] = 0;
        for (int k = 1; k < K; k++)
            if (prob[i * K + k] > prob[i * K + pred[i]]) pred[i] = k;
    }
    dt_class_metrics m;
    classify(prob, K, lab, n, K, &m);

    double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0, auc = 0;
    int present = 0, auc_defined = 0, correct = 0;
    for (int k = 0; k < K; k++) {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < n; i++) {
            tp += pred[i] == k && lab[i] == k;
            fp += pred[i] == k && lab[i] != k;
            fn += pred[i] != k && lab[i] == k;
        }
        double P = tp + fp ? (double)tp / (tp + fp) : 0, R = tp + fn ? (double)tp / (tp + fn) : 0;
        double F = P + R > 0 ? 2 * P * R / (P + R) : 0;
        ck_assert_double_eq_tol(m.precision[k], P, TOL);
        ck_assert_double_eq_tol(m.recall[k], R, TOL);
        ck_assert_double_eq_tol(m.f1[k], F, TOL);
        ck_assert_int_eq(m.support[k], tp + fn);
        if (tp + fp + fn) {
            present++;
            mp += P, mr += R, mf += F;
        }
        wp += (tp + fn) * P, wr += (tp + fn) * R, wf += (tp + fn) * F;
        correct += tp;
        for (int i = 0; i < n; i++) col[i] = prob[i * K + k], is_k[i] = lab[i] == k;
        double a = naive_auc(col, is_k, n);
        if (isnan(a)) {
            ck_assert(isnan(m.auc_k[k]));
        } else {
            ck_assert(m.auc_k[k] == a); /* exact, as in test_auc_matches_pairwise */
            auc += a;
            auc_defined++;
        }
    }
    ck_assert_int_eq(present, 5); /* class 4 is predicted at least once */
    ck_assert_int_eq(auc_defined, 4);
    ck_assert(m.precision[4] == 0.0 && m.recall[4] == 0.0); /* zero_division = 0 */
    ck_assert_double_eq_tol(m.accuracy, (double)correct / n, TOL);
    ck_assert_double_eq_tol(m.macro.precision, mp / present, TOL);
    ck_assert_double_eq_tol(m.macro.recall, mr / present, TOL);
    ck_assert_double_eq_tol(m.macro.f1, mf / present, TOL);
    ck_assert_double_eq_tol(m.weighted.precision, wp / n, TOL);
    ck_assert_double_eq_tol(m.weighted.recall, wr / n, TOL);
    ck_assert_double_eq_tol(m.weighted.f1, wf / n, TOL);
    ck_assert_double_eq_tol(m.micro.f1, (double)correct / n, TOL);
    ck_assert_double_eq_tol(m.auc, auc / auc_defined, TOL);
    ck_assert(m.accuracy > 0.3 && m.accuracy < 1.0);
    metrics_class_free(&m);
}
END_TEST

/* ---- sigmoid head, log loss ------------------------------------------------- */

START_TEST(test_sigmoid_head_by_hand)
{
    /* P(class 1) = 0.2 0.7 0.5 0.6, labels 0 1 1 0.
     *   predicted (P > 0.5): 0 1 0 1 -> confusion [1 1] [1 1], accuracy 1/2
     *   log loss = -(log .8 + log .7 + log .5 + log .4) / 4 = 0.54731410
     *   AUC: positives .7 .5, negatives .2 .6: .7 wins twice, .5 beats .2 -> 3/4
     * Tolerance 1e-7 on the log loss: the inputs are floats (relative 3e-8). */
    float p[4] = {0.2f, 0.7f, 0.5f, 0.6f};
    int32_t lab[4] = {0, 1, 1, 0};
    dt_class_metrics m;
    classify(p, 1, lab, 4, 2, &m);
    int64_t conf[4] = {1, 1, 1, 1};
    ck_assert_mem_eq(m.confusion, conf, sizeof conf);
    ck_assert_double_eq_tol(m.accuracy, 0.5, TOL);
    ck_assert_double_eq_tol(m.log_loss, -(log(0.8) + log(0.7) + log(0.5) + log(0.4)) / 4, 1e-7);
    ck_assert_double_eq_tol(m.log_loss, 0.54731410, 1e-7);
    ck_assert(m.auc == 0.75);
    ck_assert(m.auc_k[0] == 0.75); /* class 0 ranked by 1 - P: the same pairs */
    metrics_class_free(&m);
}
END_TEST

START_TEST(test_log_loss_by_hand)
{
    /* rows [.7 .2 .1] label 0, [.1 .6 .3] label 2:
     *   -(log .7 + log .3) / 2 = (0.35667494 + 1.20397280) / 2 = 0.78032387 */
    float p[6] = {0.7f, 0.2f, 0.1f, 0.1f, 0.6f, 0.3f};
    int32_t lab[2] = {0, 2};
    dt_class_metrics m;
    classify(p, 3, lab, 2, 3, &m);
    ck_assert_double_eq_tol(m.log_loss, 0.78032387, 1e-7);
    ck_assert(isnan(m.auc_k[1])); /* class 1 never a label */
    metrics_class_free(&m);

    /* Clipping: P(true) = 0 costs -log(1e-15) = 34.538776394910684, P(true) = 1
     * costs -log(1 - 1e-15) ~ 1.1e-15; mean 17.269388197455343 (tol 1e-12). */
    float q[4] = {1.0f, 0.0f, 0.0f, 1.0f};
    int32_t lab2[2] = {1, 1};
    classify(q, 2, lab2, 2, 2, &m);
    ck_assert_double_eq_tol(m.log_loss, 17.269388197455343, 1e-12);
    ck_assert(isnan(m.auc)); /* one class only */
    metrics_class_free(&m);
}
END_TEST

START_TEST(test_bad_input)
{
    float p[4] = {0.2f, 0.8f, NAN, 0.5f};
    int32_t lab[2] = {0, 2};
    dt_class_metrics m;
    dt_error err;
    ck_assert_int_eq(metrics_classification(comm_world(), p, 2, lab, 1, 2, &m, &err), DT_OK);
    metrics_class_free(&m);
    /* label 2 of 2 classes */
    ck_assert_int_eq(metrics_classification(comm_world(), p, 2, lab, 2, 2, &m, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "label 2"));
    ck_assert_ptr_null(m.confusion);
    lab[1] = 1; /* now the NaN probability is the problem */
    ck_assert_int_eq(metrics_classification(comm_world(), p, 2, lab, 2, 2, &m, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "probability"));
    /* 3 columns for 2 classes; no rows at all */
    ck_assert_int_eq(metrics_classification(comm_world(), p, 3, lab, 1, 2, &m, &err), DT_EUSAGE);
    ck_assert_int_eq(metrics_classification(comm_world(), p, 2, lab, 0, 2, &m, &err), DT_EUSAGE);
    dt_reg_metrics rm;
    float t[2] = {1.0f, INFINITY};
    ck_assert_int_eq(metrics_regression(comm_world(), t, t, 2, 1, &rm, &err), DT_EUSAGE);
    ck_assert_ptr_null(rm.r2_k);
}
END_TEST

/* ---- regression -------------------------------------------------------------- */

START_TEST(test_r2_mean_prediction_is_zero)
{
    /* targets 1 2 3 4, prediction = their mean 2.5 everywhere:
     * SS_res = SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5 -> R^2 = 0 (exact: every
     * term is exact in double).  RMSE = sqrt(5/4), MAE = (1.5+.5+.5+1.5)/4 = 1. */
    float y[4] = {1, 2, 3, 4}, p[4] = {2.5f, 2.5f, 2.5f, 2.5f};
    dt_reg_metrics m;
    dt_error err;
    ck_assert_int_eq(metrics_regression(comm_world(), p, y, 4, 1, &m, &err), DT_OK);
    ck_assert(m.r2 == 0.0);
    ck_assert_double_eq_tol(m.rmse, sqrt(1.25), TOL);
    ck_assert_double_eq_tol(m.mae, 1.0, TOL);
    metrics_reg_free(&m);
}
END_TEST

START_TEST(test_regression_multi_target_by_hand)
{
    /* Three targets over four rows (columns):
     *   t0: y 1 2 3 4, p 1.5 2 2 6: errors .5 0 -1 2
     *       MAE 3.5/4 = .875, MSE 5.25/4 -> RMSE 1.14564392, SS_tot 5 -> R^2 -0.05
     *   t1: y 0 0 0 0, p 0 0 0 0: constant and perfect -> R^2 1, RMSE 0, MAE 0
     *   t2: y 5 5 5 5, p 5 5 5 6: constant, not perfect -> R^2 0, RMSE .5, MAE .25
     * averages: RMSE (1.14564392 + .5)/3, MAE 1.125/3 = .375, R^2 .95/3;
     * pooled RMSE sqrt((5.25 + 1) / 12).  Tolerance 1e-12 (all inputs exact). */
    float y[12] = {1, 0, 5, 2, 0, 5, 3, 0, 5, 4, 0, 5};
    float p[12] = {1.5f, 0, 5, 2, 0, 5, 2, 0, 5, 6, 0, 6};
    dt_reg_metrics m;
    dt_error err;
    ck_assert_int_eq(metrics_regression(comm_world(), p, y, 4, 3, &m, &err), DT_OK);
    ck_assert_int_eq(m.n, 4);
    ck_assert_double_eq_tol(m.rmse_k[0], sqrt(5.25 / 4), TOL);
    ck_assert_double_eq_tol(m.mae_k[0], 0.875, TOL);
    ck_assert_double_eq_tol(m.r2_k[0], -0.05, TOL);
    ck_assert(m.r2_k[1] == 1.0 && m.rmse_k[1] == 0.0 && m.mae_k[1] == 0.0);
    ck_assert(m.r2_k[2] == 0.0);
    ck_assert_double_eq_tol(m.rmse_k[2], 0.5, TOL);
    ck_assert_double_eq_tol(m.mae_k[2], 0.25, TOL);
    ck_assert_double_eq_tol(m.rmse, (sqrt(5.25 / 4) + 0.5) / 3, TOL);
    ck_assert_double_eq_tol(m.mae, 0.375, TOL);
    ck_assert_double_eq_tol(m.r2, 0.95 / 3, TOL);
    ck_assert_double_eq_tol(m.rmse_pooled, sqrt(6.25 / 12), TOL);
    metrics_reg_free(&m);
}
END_TEST

/* ---- printing ------------------------------------------------------------------ */

START_TEST(test_json_output)
{
    /* Every label 0, predicted 0 0 1 0 1 1: confusion [[3 3 0] [0 0 0] [0 0 0]],
     * accuracy 3/6; one class only, so the AUC is undefined and printed null. */
    int pred[6] = {0, 0, 1, 0, 1, 1};
    int32_t lab[6] = {0, 0, 0, 0, 0, 0};
    float prob[6 * 3];
    one_hot_prob(prob, pred, 6, 3);
    dt_class_metrics m;
    classify(prob, 3, lab, 6, 3, &m);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    metrics_class_print_json(f, &m);
    metrics_class_print_table(f, &m, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\"confusion\":[[3,3,0],[0,0,0],[0,0,0]]"));
    ck_assert_ptr_nonnull(strstr(buf, "\"auc\":null")); /* one class only */
    ck_assert_ptr_nonnull(strstr(buf, "\"accuracy\":0.5,"));
    ck_assert_ptr_nonnull(strstr(buf, "]]}rows 6 ")); /* the JSON object ends without a newline */
    /* without names the table's rows and the matrix are labelled by number */
    ck_assert_ptr_nonnull(strstr(buf, "\n         0        3        3        0\n"));
    free(buf);

    /* with names: the per-class rows and the confusion matrix's rows and
     * columns, each column as wide as the longest name ("grignolino", 10) */
    const char *names[3] = {"barbera", "barolo", "grignolino"};
    buf = NULL;
    f = open_memstream(&buf, &len);
    metrics_class_print_table(f, &m, names);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\n   barbera   1.000000   0.500000   0.666667          6"));
    ck_assert_ptr_nonnull(strstr(buf, "\n              barbera     barolo grignolino\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\n   barbera          3          3          0\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\ngrignolino          0          0          0\n"));
    free(buf);
    metrics_class_free(&m);

    float y[2] = {1, 3}, p[2] = {1, 2};
    dt_reg_metrics rm;
    dt_error err;
    ck_assert_int_eq(metrics_regression(comm_world(), p, y, 2, 1, &rm, &err), DT_OK);
    buf = NULL;
    f = open_memstream(&buf, &len);
    metrics_reg_print_json(f, &rm);
    metrics_reg_print_table(f, &rm);
    fclose(f);
    /* errors 0, -1: MAE 0.5, R^2 = 1 - 1/2 = 0.5 */
    ck_assert_ptr_nonnull(strstr(buf, "\"mae\":0.5,\"r2\":0.5,"));
    free(buf);
    metrics_reg_free(&rm);
}
END_TEST

/* ---- k-fold ---------------------------------------------------------------------- */

START_TEST(test_kfold_stratified)
{
    /* 103 rows, classes 0, 1, 2 in proportion 4:2:1 and a sparse label 9;
     * 5 folds.  Every row gets one fold in [0, 5); per class and overall the
     * fold counts differ by at most one; the same seed gives the same folds,
     * another seed others (the shuffle is not the identity). */
    enum { n = 103, k = 5 };
    int32_t lab[n], f1[n], f2[n], f3[n];
    for (int i = 0; i < n; i++) lab[i] = i % 7 < 4 ? 0 : i % 7 < 6 ? 1 : 2;
    lab[50] = lab[80] = 9;
    dt_error err;
    ck_assert_int_eq(metrics_kfold(lab, n, k, 7, f1, &err), DT_OK);
    ck_assert_int_eq(metrics_kfold(lab, n, k, 7, f2, &err), DT_OK);
    ck_assert_int_eq(metrics_kfold(lab, n, k, 8, f3, &err), DT_OK);
    ck_assert_mem_eq(f1, f2, sizeof f1);
    ck_assert(memcmp(f1, f3, sizeof f1) != 0);
    int cnt[10][k], size[k];
    memset(cnt, 0, sizeof cnt);
    memset(size, 0, sizeof size);
    for (int i = 0; i < n; i++) {
        ck_assert(f1[i] >= 0 && f1[i] < k);
        cnt[lab[i]][f1[i]]++;
        size[f1[i]]++;
    }
    int total = 0;
    for (int c = 0; c < 10; c++) {
        int lo = n, hi = 0;
        for (int j = 0; j < k; j++) {
            lo = cnt[c][j] < lo ? cnt[c][j] : lo;
            hi = cnt[c][j] > hi ? cnt[c][j] : hi;
        }
        ck_assert_msg(hi - lo <= 1, "class %d: fold counts from %d to %d", c, lo, hi);
    }
    for (int j = 0; j < k; j++) {
        ck_assert(size[j] == n / k || size[j] == n / k + 1);
        total += size[j];
    }
    ck_assert_int_eq(total, n);

    /* Regression: all rows one class. */
    ck_assert_int_eq(metrics_kfold(NULL, n, k, 7, f1, &err), DT_OK);
    memset(size, 0, sizeof size);
    for (int i = 0; i < n; i++) size[f1[i]]++;
    for (int j = 0; j < k; j++) ck_assert(size[j] == n / k || size[j] == n / k + 1);

    ck_assert_int_eq(metrics_kfold(lab, n, 1, 7, f1, &err), DT_EUSAGE);
    ck_assert_int_eq(metrics_kfold(lab, 3, 4, 7, f1, &err), DT_EUSAGE);
    lab[0] = -1;
    ck_assert_int_eq(metrics_kfold(lab, n, k, 7, f1, &err), DT_EUSAGE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *auc = tcase_create("auc");
    tcase_add_test(auc, test_auc_by_hand);
    tcase_add_test(auc, test_auc_matches_pairwise);
    suite_add_tcase(s, auc);
    TCase *cls = tcase_create("classification");
    tcase_add_test(cls, test_f1_class_never_predicted);
    tcase_add_test(cls, test_prf_averages_by_hand);
    tcase_add_test(cls, test_prf_auc_match_naive);
    tcase_add_test(cls, test_sigmoid_head_by_hand);
    tcase_add_test(cls, test_log_loss_by_hand);
    tcase_add_test(cls, test_bad_input);
    tcase_add_test(cls, test_json_output);
    suite_add_tcase(s, cls);
    TCase *reg = tcase_create("regression");
    tcase_add_test(reg, test_r2_mean_prediction_is_zero);
    tcase_add_test(reg, test_regression_multi_target_by_hand);
    suite_add_tcase(s, reg);
    TCase *kf = tcase_create("kfold");
    tcase_add_test(kf, test_kfold_stratified);
    suite_add_tcase(s, kf);
    return s;
}

int main(int argc, char **argv)
{
    return tu_run_mpi(suite(), &argc, &argv);
}
