/* dtrain: first-order optimizers. */
#include "dtrain/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dt_status optim_parse(const char *name, dt_optim_kind *out, dt_error *err)
{
    if (!strcmp(name, "sgd")) *out = OPTIM_SGD;
    else if (!strcmp(name, "adam")) *out = OPTIM_ADAM;
    else
        return dt_fail(err, DT_EUSAGE, "unknown --optimizer '%s' (expected sgd or adam)", name);
    return DT_OK;
}

const char *optim_name(dt_optim_kind k) { return k == OPTIM_SGD ? "sgd" : "adam"; }

dt_status optim_init(dt_optim *o, const dt_optim_config *cfg, size_t n, dt_error *err)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    size_t buffers = cfg->kind == OPTIM_ADAM ? 2 : cfg->momentum != 0.0 ? 1 : 0;
    if (buffers) {
        o->state = calloc(buffers * n, sizeof(float));
        if (!o->state)
            return dt_fail(err, DT_ENOMEM, "out of memory for optimizer state (%zu floats)",
                           buffers * n);
        o->m = o->state;
        o->v = buffers == 2 ? o->state + n : NULL;
    }
    return DT_OK;
}

void optim_free(dt_optim *o)
{
    free(o->state);
    memset(o, 0, sizeof *o);
}

static void sgd_step(dt_optim *o, float *w, const float *G, double lr)
{
    const float wd = (float)o->cfg.weight_decay, mu = (float)o->cfg.momentum, a = (float)lr;
    float *V = o->m;
    for (size_t i = 0; i < o->n; i++) {
        float g = G[i] + wd * w[i];
        if (V) {
            V[i] = o->t == 0 ? g : mu * V[i] + g;
            g = V[i];
        }
        w[i] -= a * g;
    }
}

static void adam_step(dt_optim *o, float *w, const float *G, double lr)
{
    const double t = (double)(o->t + 1);
    const float b1 = (float)o->cfg.beta1, b2 = (float)o->cfg.beta2;
    const float wd = (float)o->cfg.weight_decay, eps = (float)o->cfg.eps;
    /* Bias corrections as torch.optim.Adam: step = lr / bc1, denom = sqrt(v)/sqrt(bc2) + eps. */
    const float bc1 = (float)(1.0 - pow(o->cfg.beta1, t));
    const float sqrt_bc2 = (float)sqrt(1.0 - pow(o->cfg.beta2, t));
    const float step = (float)lr / bc1;
    float *m = o->m, *v = o->v;
    for (size_t i = 0; i < o->n; i++) {
        float g = G[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        w[i] -= step * m[i] / (sqrtf(v[i]) / sqrt_bc2 + eps);
    }
}

void optim_step(dt_optim *o, float *params, const float *grads, double lr)
{
    if (o->cfg.kind == OPTIM_SGD)
        sgd_step(o, params, grads, lr);
    else
        adam_step(o, params, grads, lr);
    o->t++;
}
