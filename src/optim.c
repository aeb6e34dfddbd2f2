/* dtrain: first-order optimizers (update rules in optim.h). */
#include "dtrain/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const optim_names[] = {
    [OPTIM_SGD] = "sgd",         [OPTIM_MOMENTUM] = "momentum", [OPTIM_NESTEROV] = "nesterov",
    [OPTIM_ADAGRAD] = "adagrad", [OPTIM_RMSPROP] = "rmsprop",   [OPTIM_ADAM] = "adam",
    [OPTIM_ADAMW] = "adamw",     [OPTIM_N_KINDS] = NULL};

dt_status optim_parse(const char *name, dt_optim_kind *out, dt_error *err)
{
    int i = dt_name_index(optim_names, name);
    if (i >= 0) {
        *out = (dt_optim_kind)i;
        return DT_OK;
    }
    return dt_fail_opt(err, DT_EUSAGE, "optimizer",
                       "unknown %s '%s' (expected sgd, momentum, nesterov, adagrad, "
                       "rmsprop, adam or adamw)",
                       dt_opt("optimizer"), name);
}

const char *optim_name(dt_optim_kind k)
{
    return (int)k >= 0 && k < OPTIM_N_KINDS ? optim_names[k] : NULL;
}

dt_optim_config optim_config_default(dt_optim_kind kind)
{
    dt_optim_config c = {.kind = kind};
    switch (kind) {
    case OPTIM_SGD: break;
    case OPTIM_MOMENTUM: c.momentum = 0.9; break;
    case OPTIM_NESTEROV: c.momentum = 0.9; c.nesterov = 1; break;
    case OPTIM_ADAGRAD: c.eps = 1e-10; break;
    case OPTIM_RMSPROP: c.alpha = 0.99; c.eps = 1e-8; break;
    case OPTIM_ADAM: c.beta1 = 0.9; c.beta2 = 0.999; c.eps = 1e-8; break;
    case OPTIM_ADAMW:
        c.beta1 = 0.9; c.beta2 = 0.999; c.eps = 1e-8; c.weight_decay = 0.01;
        break;
    }
    return c;
}

double optim_default_lr(dt_optim_kind kind)
{
    return kind == OPTIM_ADAM || kind == OPTIM_ADAMW ? 1e-3 : 1e-2;
}

static int is_sgd_family(dt_optim_kind k)
{
    return k == OPTIM_SGD || k == OPTIM_MOMENTUM || k == OPTIM_NESTEROV;
}

/* Which of the views m, v, a a config needs (see the table in optim.h). */
static void views_needed(const dt_optim_config *c, int *m, int *v, int *a)
{
    *m = *v = *a = 0;
    if (is_sgd_family(c->kind)) {
        *m = c->momentum != 0.0;
    } else if (c->kind == OPTIM_ADAGRAD) {
        *v = 1;
    } else if (c->kind == OPTIM_RMSPROP) {
        *m = c->momentum > 0.0;
        *v = 1;
        *a = c->centered != 0;
    } else { /* adam, adamw */
        *m = *v = 1;
    }
}

static dt_status check_config(const dt_optim_config *c, dt_error *err)
{
    const char *name = optim_name(c->kind);
    if (!name)
        return dt_fail(err, DT_EUSAGE, "unknown optimizer kind %d", (int)c->kind);
    /* !(x >= 0) also catches NaN. */
    if (!(c->momentum >= 0.0) || !(c->dampening >= 0.0) || !(c->weight_decay >= 0.0) ||
        !(c->eps >= 0.0) || !(c->lr_decay >= 0.0) || !(c->initial_accumulator_value >= 0.0))
        return dt_fail(err, DT_EUSAGE,
                       "%s: momentum, dampening, weight decay, eps, lr_decay and "
                       "initial_accumulator_value must be >= 0",
                       name);
    if ((c->kind == OPTIM_ADAM || c->kind == OPTIM_ADAMW) &&
        (!(c->beta1 >= 0.0 && c->beta1 < 1.0) || !(c->beta2 >= 0.0 && c->beta2 < 1.0)))
        return dt_fail(err, DT_EUSAGE, "%s: betas must be in [0, 1) (got %g, %g)", name,
                       c->beta1, c->beta2);
    if (c->kind == OPTIM_RMSPROP && !(c->alpha >= 0.0 && c->alpha < 1.0))
        return dt_fail(err, DT_EUSAGE, "rmsprop: alpha must be in [0, 1) (got %g)", c->alpha);
    if ((c->kind == OPTIM_MOMENTUM || c->kind == OPTIM_NESTEROV) && !(c->momentum > 0.0))
        return dt_fail(err, DT_EUSAGE, "%s needs momentum > 0 (torch-style default 0.9)", name);
    if (is_sgd_family(c->kind) && (c->nesterov || c->kind == OPTIM_NESTEROV) &&
        (!(c->momentum > 0.0) || c->dampening != 0.0))
        return dt_fail(err, DT_EUSAGE, "nesterov momentum requires momentum > 0 and dampening 0");
    return DT_OK;
}

dt_status optim_init(dt_optim *o, const dt_optim_config *cfg, size_t n, dt_error *err)
{
    memset(o, 0, sizeof *o);
    dt_status st = check_config(cfg, err);
    if (st)
        return st;
    o->cfg = *cfg;
    if (cfg->kind == OPTIM_NESTEROV)
        o->cfg.nesterov = 1;
    o->n = n;
    int hm, hv, ha;
    views_needed(&o->cfg, &hm, &hv, &ha);
    size_t buffers = (size_t)(hm + hv + ha);
    if (buffers) {
        size_t len = buffers * n;
        o->state = calloc(len ? len : 1, sizeof(float));
        if (!o->state) {
            memset(o, 0, sizeof *o);
            return dt_fail(err, DT_ENOMEM, "out of memory for optimizer state (%zu floats)",
                           buffers * n);
        }
        float *p = o->state;
        if (hm) { o->m = p; p += n; }
        if (hv) { o->v = p; p += n; }
        if (ha) { o->a = p; }
    }
    if (cfg->kind == OPTIM_ADAGRAD) {
        const float r0 = (float)cfg->initial_accumulator_value;
        for (size_t i = 0; i < n; i++)
            o->v[i] = r0;
    }
    return DT_OK;
}

void optim_free(dt_optim *o)
{
    free(o->state);
    memset(o, 0, sizeof *o);
}

size_t optim_state_len(const dt_optim *o)
{
    return ((o->m != NULL) + (o->v != NULL) + (o->a != NULL)) * o->n;
}

/* The state views of the range [lo, lo + n) of the parameters. */
typedef struct {
    float *m, *v, *a;
} views;

static views views_at(const dt_optim *o, size_t lo)
{
    views s = {o->m ? o->m + lo : NULL, o->v ? o->v + lo : NULL, o->a ? o->a + lo : NULL};
    return s;
}

/* Every step below reads the gradient as G[i] * s1 * s2 (optim_step_range;
 * C's left-to-right order: (G[i] * s1) * s2).
 *
 * w, G, V are (n).  torch.optim.SGD; V starts as g so dampening skips step 1. */
DT_HOT static void sgd_step(const dt_optim *o, views s, float *w, const float *G, size_t n,
                            float s1, float s2, double lr)
{
    const float wd = (float)o->cfg.weight_decay, mu = (float)o->cfg.momentum, a = (float)lr;
    const float keep = (float)(1.0 - o->cfg.dampening);
    const int nesterov = o->cfg.nesterov, first = o->t == 0;
    float *V = s.m;
    for (size_t i = 0; i < n; i++) {
        float g = G[i] * s1 * s2 + wd * w[i];
        if (V) {
            V[i] = first ? g : mu * V[i] + keep * g;
            g = nesterov ? g + mu * V[i] : V[i];
        }
        w[i] -= a * g;
    }
}

/* torch.optim.Adagrad: r (n) accumulates g^2; the rate decays with t. */
DT_HOT static void adagrad_step(const dt_optim *o, views s, float *w, const float *G, size_t n,
                                float s1, float s2, double lr)
{
    const float wd = (float)o->cfg.weight_decay, eps = (float)o->cfg.eps;
    const float clr = (float)(lr / (1.0 + (double)o->t * o->cfg.lr_decay));
    float *r = s.v;
    for (size_t i = 0; i < n; i++) {
        float g = G[i] * s1 * s2 + wd * w[i];
        r[i] += g * g;
        w[i] -= clr * g / (sqrtf(r[i]) + eps);
    }
}

/* torch.optim.RMSprop: r, a, B (n) as in optim.h. */
DT_HOT static void rmsprop_step(const dt_optim *o, views s, float *w, const float *G, size_t n,
                                float s1, float s2, double lr)
{
    const float wd = (float)o->cfg.weight_decay, eps = (float)o->cfg.eps;
    const float al = (float)o->cfg.alpha, mu = (float)o->cfg.momentum, step = (float)lr;
    float *r = s.v, *avg = s.a, *B = s.m;
    for (size_t i = 0; i < n; i++) {
        float g = G[i] * s1 * s2 + wd * w[i];
        r[i] = al * r[i] + (1.0f - al) * g * g;
        float d;
        if (avg) {
            avg[i] = al * avg[i] + (1.0f - al) * g;
            d = sqrtf(r[i] - avg[i] * avg[i]) + eps;
        } else {
            d = sqrtf(r[i]) + eps;
        }
        if (B) {
            B[i] = mu * B[i] + g / d;
            w[i] -= step * B[i];
        } else {
            w[i] -= step * g / d;
        }
    }
}

/* torch.optim.Adam / AdamW: m, v (n). */
DT_HOT static void adam_step(const dt_optim *o, views s, float *w, const float *G, size_t n,
                             float s1, float s2, double lr)
{
    const double t = (double)(o->t + 1);
    const float b1 = (float)o->cfg.beta1, b2 = (float)o->cfg.beta2;
    const int decoupled = o->cfg.kind == OPTIM_ADAMW;
    const float wd = decoupled ? 0.0f : (float)o->cfg.weight_decay, eps = (float)o->cfg.eps;
    const float shrink = decoupled ? (float)(1.0 - lr * o->cfg.weight_decay) : 1.0f;
    /* Bias corrections as torch.optim.Adam: step = lr / bc1, denom = sqrt(v)/sqrt(bc2) + eps. */
    const float bc1 = (float)(1.0 - pow(o->cfg.beta1, t));
    const float sqrt_bc2 = (float)sqrt(1.0 - pow(o->cfg.beta2, t));
    const float step = (float)lr / bc1;
    float *m = s.m, *v = s.v;
    for (size_t i = 0; i < n; i++) {
        float g = G[i] * s1 * s2 + wd * w[i];
        if (decoupled)
            w[i] *= shrink;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        w[i] -= step * m[i] / (sqrtf(v[i]) / sqrt_bc2 + eps);
    }
}

void optim_step_range(dt_optim *o, float *params, const float *grads, float s1, float s2,
                      double lr, size_t lo, size_t hi)
{
    const views s = views_at(o, lo);
    float *w = params + lo;
    const size_t n = hi - lo;
    switch (o->cfg.kind) {
    case OPTIM_SGD:
    case OPTIM_MOMENTUM:
    case OPTIM_NESTEROV: sgd_step(o, s, w, grads, n, s1, s2, lr); break;
    case OPTIM_ADAGRAD: adagrad_step(o, s, w, grads, n, s1, s2, lr); break;
    case OPTIM_RMSPROP: rmsprop_step(o, s, w, grads, n, s1, s2, lr); break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: adam_step(o, s, w, grads, n, s1, s2, lr); break;
    }
    o->t++;
}

void optim_step(dt_optim *o, float *params, const float *grads, double lr)
{
    optim_step_range(o, params, grads, 1.0f, 1.0f, lr, 0, o->n);
}

int optim_floats_per_param(const dt_optim *o)
{
    return 3 + 2 * ((o->m != NULL) + (o->v != NULL) + (o->a != NULL));
}
