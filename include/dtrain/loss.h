/* dtrain: output heads fused with their losses, computed stably.
 *
 *   softmax + cross-entropy:  loss = logsumexp(z) - z_y
 *   sigmoid + binary CE:      loss = max(z,0) - z*y + log1p(exp(-|z|))   (one output)
 *   linear  + MSE:            loss = (1/K) sum_k (z_k - y_k)^2
 *
 * A linear head may be trained on standardised targets (--normalize-targets):
 * y'_k = (y_k - shift_k) * scale_k with the training split's mean and 1/std,
 * so the outputs z are in standardised units, the loss and its gradient are
 * those of y', and what is reported is in the targets' units: the outputs
 * z_k / scale_k + shift_k, and the squared error (z_k - y'_k)^2 / scale_k^2,
 * i.e. output k's standardised squared error times std_k^2.
 *
 * All functions work on a block of nb samples: Z is (nb, K) row-major logits. */
#ifndef DTRAIN_LOSS_H
#define DTRAIN_LOSS_H

#include <stdint.h>
#include "dtrain/status.h"

typedef enum { HEAD_SOFTMAX, HEAD_SIGMOID, HEAD_LINEAR } dt_head;

/* The heads' names, indexed by dt_head, NULL-terminated. */
extern const char *const head_names[];
dt_status head_parse(const char *text, dt_head *out, dt_error *err);
const char *head_name(dt_head h);
/* 1 for the heads that take integer class labels. */
int head_is_classifier(dt_head h);

/* Standardised regression targets: shift and scale (K) each, borrowed; a
 * NULL dt_target_scaling * means the targets are used as they are. */
typedef struct {
    const float *shift, *scale;
} dt_target_scaling;

/* y' = (y - shift_k) * scale_k: the one place a target is standardised. */
float target_standardise(const dt_target_scaling *ts, float y, int k);

/* Per-block sums that evaluation accumulates (then reduces across ranks). */
typedef struct {
    double loss;    /* sum of per-sample losses (in the targets' units with ts) */
    double correct; /* classifiers: samples whose predicted class is the label */
    double sqerr;   /* linear: sum of squared errors over all K outputs (targets' units) */
    double count;   /* samples */
} dt_loss_sums;

/* Sum of the per-sample losses of the block: the loss that is minimised
 * (of standardised targets with ts).  If dZ is not NULL it receives
 * d(sum of losses)/dZ, (nb, K).  labels (nb) for classifiers, targets (nb, K)
 * for linear, in the targets' units; the other may be NULL.  ts (linear only)
 * or NULL.  If sums is not NULL it is accumulated (in the targets' units). */
double loss_eval(dt_head h, const float *Z, const int32_t *labels, const float *targets,
                 int nb, int K, const dt_target_scaling *ts, float *dZ, dt_loss_sums *sums);

/* Turn logits into what the head predicts, in place: probabilities for
 * softmax and sigmoid, values for linear (in the targets' units with ts,
 * which may be NULL). */
void head_output(dt_head h, const dt_target_scaling *ts, float *Z, int nb, int K);

#endif
