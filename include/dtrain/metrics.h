/* dtrain: evaluation metrics computed exactly over rows spread across ranks.
 *
 * Every rank passes its own rows (disjoint across ranks, no padding).  The
 * result is that of the whole data set, identical on every rank, and bitwise
 * identical at any rank count provided the ranks hold consecutive blocks of
 * the global rows in rank order (as batch_slice gives them):
 *   - confusion counts are reduced as int64 (exact, order-free);
 *   - whatever needs a floating-point sum or a ranking (log loss, AUC, the
 *     regression errors) is computed from all rows gathered on every rank and
 *     summed in global row order, so the order of the additions never depends
 *     on the rank count.  This costs n * (K_out + 1) * 4 bytes per rank for
 *     classification and n * K * 8 for regression, and the gathered block
 *     must stay below 2 GiB (the gather counts bytes in an int).
 *
 * Definitions follow scikit-learn (noted per field).  All distributed
 * functions are collective over c and agree on errors: when one rank sees a
 * bad label or probability, every rank returns the same status and message.
 *
 * Ownership: a dt_class_metrics / dt_reg_metrics owns its arrays; release them
 * with metrics_class_free / metrics_reg_free (safe on a zeroed struct and
 * after a failed call). */
#ifndef DTRAIN_METRICS_H
#define DTRAIN_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include "dtrain/comm.h"
#include "dtrain/loss.h"
#include "dtrain/status.h"

/* Log-loss clipping: each probability of the true class is clipped to
 * [METRICS_LOG_EPS, 1 - METRICS_LOG_EPS] before the log (sklearn's former
 * fixed eps), so a confident wrong row costs at most -log(1e-15) = 34.54. */
#define METRICS_LOG_EPS 1e-15

typedef struct {
    double precision, recall, f1;
} dt_prf;

typedef struct {
    int64_t n;  /* rows over all ranks */
    int K;      /* classes */
    double accuracy; /* fraction of rows whose predicted class is the label */
    /* Mean over rows of -log(clip(p of the true class)), natural log; the
     * probabilities are not renormalised (unlike sklearn's log_loss). */
    double log_loss;
    /* ROC AUC with ties counted 1/2 (the trapezoidal area under the ROC
     * curve).  K == 2: the AUC of the score of class 1 (sklearn's binary
     * roc_auc_score).  K > 2: the macro one-vs-rest average of auc_k over the
     * classes whose auc_k is defined.  NAN if none is (one class only). */
    double auc;
    double *auc_k; /* (K) one-vs-rest AUC of class k's score; NAN if the labels
                      do not contain both class k and another class */
    /* Per class, sklearn conventions with zero_division = 0: precision is 0
     * for a class never predicted, recall 0 for a class never present, and
     * f1 = 2 TP / (2 TP + FP + FN), 0 when that denominator is 0. */
    double *precision, *recall, *f1; /* (K) each */
    int64_t *support;                /* (K) rows whose label is k */
    int64_t *predicted;              /* (K) rows predicted as k */
    /* Averages over the classes present in the labels or the predictions
     * (sklearn's default labels = unique(y_true, y_pred)); a class absent
     * from both has no effect.  weighted: by support.  micro: from the
     * pooled TP/FP/FN, equal to the accuracy for single-label data. */
    dt_prf macro, weighted, micro;
    int64_t *confusion; /* (K, K) row-major: [t * K + p] = rows with label t predicted p */
} dt_class_metrics;

/* Classification metrics of this rank's n_local rows.
 *   prob:   (n_local, K_out) row-major probabilities in [0, 1]; rows need not
 *           sum to exactly 1.
 *           Softmax head: K_out == n_classes, predicted class = the first
 *           argmax of the row.
 *           Sigmoid head: K_out == 1 holding P(class 1), n_classes == 2,
 *           predicted class 1 iff P(class 1) > 0.5; class 0's score is -P.
 *   labels: (n_local) in [0, n_classes); n_classes >= 2.
 * Fails (DT_EUSAGE) on a bad label, a probability outside [0, 1] or NaN, or
 * no rows at all; out is then left zeroed.  On success the caller frees out
 * with metrics_class_free. */
dt_status metrics_classification(dt_comm *c, const float *prob, int K_out,
                                 const int32_t *labels, int64_t n_local, int n_classes,
                                 dt_class_metrics *out, dt_error *err);
void metrics_class_free(dt_class_metrics *m);

typedef struct {
    int64_t n; /* rows over all ranks */
    int K;     /* targets per row */
    /* Uniform averages over the K targets of the per-target values
     * (sklearn multioutput = 'uniform_average'). */
    double rmse, mae, r2;
    /* sqrt of the mean squared error over all n * K outputs; equals rmse when
     * K == 1 and is what dt_eval.rmse reports. */
    double rmse_pooled;
    /* (K) each.  r2_k = 1 - SS_res / SS_tot; for a constant target column
     * (SS_tot == 0) it is 1 if the predictions are perfect (SS_res == 0) and
     * 0 otherwise, like sklearn with force_finite = True. */
    double *rmse_k, *mae_k, *r2_k;
} dt_reg_metrics;

/* Regression metrics of this rank's rows: pred and target are (n_local, K)
 * row-major.  Fails (DT_EUSAGE) if a value is not finite or there are no rows
 * at all.  On success the caller frees out with metrics_reg_free. */
dt_status metrics_regression(dt_comm *c, const float *pred, const float *target,
                             int64_t n_local, int K, dt_reg_metrics *out, dt_error *err);
void metrics_reg_free(dt_reg_metrics *m);

/* Printing (local; call on one rank).  The table is for people: names, the
 * K class names (borrowed), label its rows and the confusion matrix's rows
 * and columns; NULL labels them with the class numbers.  The JSON is one
 * object without a newline, to be embedded (numbers with 17 significant
 * digits, NAN as null), the classification one including the confusion
 * matrix; its arrays are indexed by class number. */
void metrics_class_print_table(FILE *f, const dt_class_metrics *m, const char *const *names);
void metrics_class_print_json(FILE *f, const dt_class_metrics *m);
void metrics_reg_print_table(FILE *f, const dt_reg_metrics *m);
void metrics_reg_print_json(FILE *f, const dt_reg_metrics *m);

/* Serial helpers (no communication, no hidden state). */

/* ROC AUC of score against label (0 = negative, any other value positive),
 * n rows; ties between a positive and a negative count 1/2.  NAN if both
 * classes are not present or the scratch allocation fails. */
double metrics_auc_binary(const float *score, const int32_t *label, int64_t n);

/* Assign each of n rows to one of k folds: fold_of_row (n) receives 0..k-1.
 * Classification (labels != NULL, labels >= 0): the rows of each class are
 * shuffled and dealt round robin, continuing where the previous class
 * stopped, so each class's count per fold differs by at most one across
 * folds, and so does each fold's size.  Regression (labels == NULL): all
 * rows are one class.  Deterministic in (labels, n, k, seed).  Needs
 * 2 <= k <= n (DT_EUSAGE otherwise). */
dt_status metrics_kfold(const int32_t *labels, int64_t n, int k, uint64_t seed,
                        int32_t *fold_of_row, dt_error *err);

/* The figures a search can rank by and `train --metrics` can show. */
typedef enum { METRIC_AUC, METRIC_ACCURACY, METRIC_F1, METRIC_LOG_LOSS, METRIC_RMSE, METRIC_MAE, METRIC_R2 } dt_metric;

/* The metrics' names, indexed by dt_metric, NULL-terminated. */
extern const char *const metric_names[];
/* The head's own metric: auc for sigmoid, accuracy for softmax, rmse for linear. */
dt_metric metrics_default(dt_head head);
/* DT_EUSAGE if m does not apply to head (a classification metric with a
 * linear head or the reverse). */
dt_status metrics_check(dt_metric m, dt_head head, dt_error *err);
/* name "" picks metrics_default(head); then metrics_check. */
dt_status metrics_parse(const char *name, dt_head head, dt_metric *m, dt_error *err);
const char *metrics_name(dt_metric m);
int metrics_higher_is_better(dt_metric m);
int metrics_is_classification(dt_metric m);
/* The metric's value from the metrics module's results (f1 is the macro F1). */
double metrics_of_class(dt_metric m, const dt_class_metrics *cm);
double metrics_of_reg(dt_metric m, const dt_reg_metrics *rm);

#endif
