/* dtrain: hidden-layer activation functions, element-wise.
 *
 * Derivatives are computed from the activation's output A (not its input), so a
 * layer keeps only A: sigmoid' = A(1-A), tanh' = 1-A^2, relu' = [A>0],
 * leaky_relu' = A>0 ? 1 : slope (slope >= 0), step' = 0, identity' = 1. */
#ifndef DTRAIN_ACTIVATION_H
#define DTRAIN_ACTIVATION_H

#include <stddef.h>
#include "dtrain/status.h"

typedef enum {
    ACT_IDENTITY,
    ACT_STEP,
    ACT_SIGMOID,
    ACT_TANH,
    ACT_RELU,
    ACT_LEAKY_RELU
} dt_act_kind;

typedef struct {
    dt_act_kind kind;
    float slope; /* leaky_relu only: output for x <= 0 is slope * x; in [0, 1] */
} dt_act;

/* Parse "relu", "leaky_relu", "leaky_relu=0.2", ... */
dt_status act_parse(const char *text, dt_act *out, dt_error *err);
/* The text act_parse accepts for a (e.g. "leaky_relu=0.2"). */
void act_format(dt_act a, char *buf, size_t len);

/* x (n) <- f(x), in place. */
void act_forward(dt_act a, float *x, size_t n);
/* One pass over a layer's output gradient, row by row: g (rows, n) <- g *
 * mask * f'(x) given y = f(x) (rows, n) and mask (rows, n, NULL = none), and
 * db (n) <- [db +] the column sums of the new g (accumulate 0 overwrites db):
 * the bias gradient in the same pass. */
void act_backward_rows(dt_act a, const float *y, const float *mask, float *g, float *db,
                       int accumulate, size_t rows, size_t n);

#endif
