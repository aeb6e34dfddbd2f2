/* dtrain: optimizers over flat buffers.
 *
 * One interface for every method: optim_step(o, params, grads, lr) updates all
 * n parameters from the mean gradient.  State (momentum, moments) is one flat
 * buffer per quantity, the same layout as params.  Update rules follow
 * PyTorch's torch.optim, so the same settings give the same trajectories:
 *
 *   sgd:  g <- G + wd W;  V <- momentum V + g (V = g at the first step);
 *         W <- W - lr V          (momentum = 0: W <- W - lr g)
 *   adam: g <- G + wd W;  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
 *         W <- W - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *
 * The notes' momentum form V' <- gamma V' + alpha G; W <- W - V' is the same
 * trajectory with V' = alpha V when alpha is constant. */
#ifndef DTRAIN_OPTIM_H
#define DTRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>
#include "dtrain/status.h"

typedef enum { OPTIM_SGD, OPTIM_ADAM } dt_optim_kind;

typedef struct {
    dt_optim_kind kind;
    double momentum;     /* sgd */
    double beta1, beta2; /* adam */
    double eps;          /* adam */
    double weight_decay; /* both: L2 term added to the gradient */
} dt_optim_config;

typedef struct {
    dt_optim_config cfg;
    size_t n;
    int64_t t;    /* steps taken */
    float *m;     /* sgd momentum buffer or adam first moment; NULL if unused */
    float *v;     /* adam second moment; NULL if unused */
    float *state; /* owned: the single allocation m and v point into */
} dt_optim;

dt_status optim_parse(const char *name, dt_optim_kind *out, dt_error *err);
const char *optim_name(dt_optim_kind k);

/* Allocate state for n parameters (zeroed).  Free with optim_free. */
dt_status optim_init(dt_optim *o, const dt_optim_config *cfg, size_t n, dt_error *err);
void optim_free(dt_optim *o);

/* One update of params (n) from the mean gradient grads (n) with rate lr. */
void optim_step(dt_optim *o, float *params, const float *grads, double lr);

#endif
