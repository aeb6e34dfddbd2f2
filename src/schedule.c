/* dtrain: learning-rate schedules (formulas in schedule.h). */
#include "dtrain/schedule.h"

#include <math.h>
#include <string.h>

const char *const sched_names[] = {
    [SCHED_CONSTANT] = "constant", [SCHED_LINEAR] = "linear", [SCHED_STEP] = "step",
    [SCHED_EXPONENTIAL] = "exponential", [SCHED_COSINE] = "cosine", [SCHED_PLATEAU] = "plateau",
    NULL};
#define N_KINDS ((int)(sizeof sched_names / sizeof sched_names[0]) - 1)

dt_status sched_parse(const char *name, dt_sched_kind *out, dt_error *err)
{
    int k = dt_name_index(sched_names, name);
    if (k >= 0) {
        *out = (dt_sched_kind)k;
        return DT_OK;
    }
    return dt_fail(err, DT_EUSAGE,
                   "unknown learning-rate schedule '%s' (expected constant, linear, step, "
                   "exponential, cosine or plateau)",
                   name);
}

const char *sched_name(dt_sched_kind k)
{
    return (int)k >= 0 && (int)k < N_KINDS ? sched_names[k] : NULL;
}

dt_sched_config sched_config_default(dt_sched_kind kind, double lr)
{
    dt_sched_config c = {
        .kind = kind,
        .lr = lr,
        .step_epochs = 30,
        .gamma = kind == SCHED_EXPONENTIAL ? 0.95 : 0.1,
        .factor = 0.1,
        .patience = 10,
        .threshold = 1e-4,
        .plateau_eps = 1e-8,
    };
    return c;
}

static void plateau_reset(dt_sched *s)
{
    s->plateau.best = s->cfg.maximize ? -INFINITY : INFINITY;
    s->plateau.scale = 1.0;
    s->plateau.bad_epochs = 0;
    s->plateau.cooldown_left = 0;
}

dt_status sched_init(dt_sched *s, const dt_sched_config *cfg, dt_error *err)
{
    memset(s, 0, sizeof *s);
    const dt_sched_config *c = cfg;
    const char *name = sched_name(c->kind);
    if (!name)
        return dt_fail(err, DT_EUSAGE, "unknown schedule kind %d", (int)c->kind);
    if (!(c->lr > 0.0) || !isfinite(c->lr))
        return dt_fail(err, DT_EUSAGE, "learning rate must be > 0 (got %g)", c->lr);
    if (c->warmup_steps < 0)
        return dt_fail(err, DT_EUSAGE, "warmup steps must be >= 0");
    const int uses_min =
        c->kind == SCHED_LINEAR || c->kind == SCHED_COSINE || c->kind == SCHED_PLATEAU;
    if (uses_min && !(c->lr_min >= 0.0 && c->lr_min <= c->lr))
        return dt_fail(err, DT_EUSAGE, "%s schedule: minimum rate %g must be in [0, lr = %g]",
                       name, c->lr_min, c->lr);
    if ((c->kind == SCHED_LINEAR || c->kind == SCHED_COSINE) && c->decay_steps <= 0 &&
        c->epochs <= 0)
        return dt_fail(err, DT_EUSAGE,
                       "%s schedule needs a decay length: decay steps > 0 or the run's epochs",
                       name);
    if (c->kind == SCHED_STEP && c->step_epochs <= 0)
        return dt_fail(err, DT_EUSAGE, "step schedule: epochs per step must be > 0");
    if ((c->kind == SCHED_STEP || c->kind == SCHED_EXPONENTIAL) && !(c->gamma > 0.0))
        return dt_fail(err, DT_EUSAGE, "%s schedule: gamma must be > 0 (got %g)", name,
                       c->gamma);
    if (c->kind == SCHED_PLATEAU &&
        (!(c->factor > 0.0 && c->factor < 1.0) || c->patience < 0 || c->cooldown < 0 ||
         !(c->threshold >= 0.0) || !(c->plateau_eps >= 0.0)))
        return dt_fail(err, DT_EUSAGE,
                       "plateau schedule: factor must be in (0, 1) and patience, cooldown, "
                       "threshold, eps >= 0");
    s->cfg = *c;
    plateau_reset(s);
    return DT_OK;
}

/* Decay length tau / T in steps, at least 1. */
static double decay_len(const dt_sched_config *c, int64_t steps_per_epoch)
{
    int64_t len = c->decay_steps > 0 ? c->decay_steps : c->epochs * steps_per_epoch;
    return len > 0 ? (double)len : 1.0;
}

double sched_lr(const dt_sched *s, int64_t step, int64_t epoch, int64_t steps_per_epoch)
{
    const dt_sched_config *c = &s->cfg;
    const double a0 = c->lr, amin = c->lr_min, k = (double)(step > 0 ? step : 0);
    const double e = (double)(epoch > 0 ? epoch : 0);
    double lr = a0;
    switch (c->kind) {
    case SCHED_CONSTANT: break;
    case SCHED_LINEAR: {
        const double tau = decay_len(c, steps_per_epoch);
        lr = k < tau ? (1.0 - k / tau) * a0 + (k / tau) * amin : amin;
        break;
    }
    case SCHED_STEP: lr = a0 * pow(c->gamma, floor(e / (double)c->step_epochs)); break;
    case SCHED_EXPONENTIAL: lr = a0 * pow(c->gamma, e); break;
    case SCHED_COSINE: {
        const double T = decay_len(c, steps_per_epoch), kk = k < T ? k : T;
        lr = amin + (a0 - amin) * 0.5 * (1.0 + cos(M_PI * kk / T));
        break;
    }
    case SCHED_PLATEAU: lr = a0 * s->plateau.scale; break;
    }
    if (step < c->warmup_steps)
        lr *= (k + 1.0) / (double)c->warmup_steps;
    return lr;
}

static int improved(const dt_sched_config *c, double metric, double best)
{
    if (c->maximize)
        return c->threshold_abs ? metric > best + c->threshold
                                : metric > best * (1.0 + c->threshold);
    return c->threshold_abs ? metric < best - c->threshold : metric < best * (1.0 - c->threshold);
}

int sched_observe(dt_sched *s, double metric)
{
    if (s->cfg.kind != SCHED_PLATEAU)
        return 0;
    dt_plateau_state *p = &s->plateau;
    const dt_sched_config *c = &s->cfg;
    /* The first finite metric always improves on +-inf; NaN never compares true. */
    if (improved(c, metric, p->best)) {
        p->best = metric;
        p->bad_epochs = 0;
    } else {
        p->bad_epochs++;
    }
    if (p->cooldown_left > 0) {
        p->cooldown_left--;
        p->bad_epochs = 0;
    }
    if (p->bad_epochs > c->patience) {
        p->cooldown_left = c->cooldown;
        p->bad_epochs = 0;
        /* torch: new_lr = max(old_lr * factor, min_lr), applied only if the cut exceeds eps. */
        const double old_lr = c->lr * p->scale;
        const double new_lr = fmax(old_lr * c->factor, c->lr_min);
        if (old_lr - new_lr > c->plateau_eps) {
            p->scale = new_lr / c->lr;
            return 1;
        }
    }
    return 0;
}
