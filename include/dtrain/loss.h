/* dtrain: output heads fused with their losses, computed stably.
 *
 *   softmax + cross-entropy:  loss = logsumexp(z) - z_y
 *   sigmoid + binary CE:      loss = max(z,0) - z*y + log1p(exp(-|z|))   (one output)
 *   linear  + MSE:            loss = (1/K) sum_k (z_k - y_k)^2
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

/* Per-block sums that evaluation accumulates (then reduces across ranks). */
typedef struct {
    double loss;    /* sum of per-sample losses */
    double correct; /* classifiers: samples whose predicted class is the label */
    double sqerr;   /* linear: sum of squared errors over all K outputs */
    double count;   /* samples */
} dt_loss_sums;

/* Sum of the per-sample losses of the block.  If dZ is not NULL it receives
 * d(sum of losses)/dZ, (nb, K).  labels (nb) for classifiers, targets (nb, K)
 * for linear; the other may be NULL.  If sums is not NULL it is accumulated. */
double loss_eval(dt_head h, const float *Z, const int32_t *labels, const float *targets,
                 int nb, int K, float *dZ, dt_loss_sums *sums);

/* Turn logits into what the head predicts, in place: probabilities for
 * softmax and sigmoid, values for linear. */
void head_output(dt_head h, float *Z, int nb, int K);

#endif
