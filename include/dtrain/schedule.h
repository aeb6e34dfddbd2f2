/* dtrain: learning-rate schedules.
 *
 * The rate is a pure function of the global step k (optimizer steps taken
 * before this one, 0-based: optim.t), the epoch e (0-based) and the steps per
 * epoch, plus, for plateau only, a few scalars updated once per epoch by
 * sched_observe.  With alpha_0 = lr and alpha_min = lr_min:
 *
 *   constant     s(k) = alpha_0
 *   linear       the notes' decay over tau = decay steps:
 *                s(k) = (1 - k/tau) alpha_0 + (k/tau) alpha_min   for k < tau
 *                s(k) = alpha_min                                 for k >= tau
 *   step         s(e) = alpha_0 gamma^floor(e / step_epochs)   (torch StepLR)
 *   exponential  s(e) = alpha_0 gamma^e                        (torch ExponentialLR)
 *   cosine       s(k) = alpha_min + (alpha_0 - alpha_min) (1 + cos(pi min(k,T)/T)) / 2
 *                over T = decay steps (torch CosineAnnealingLR without restarts,
 *                evaluated per step; stays at alpha_min after T)
 *   plateau      s = alpha_0 * scale, scale cut by `factor` when the monitored
 *                metric stalls (torch ReduceLROnPlateau, see sched_observe)
 *
 * The decay length tau / T is decay_steps, or, when that is 0, the whole run:
 * epochs * steps_per_epoch.
 *
 * Warmup (any kind): lr(k) = min(1, (k+1)/W) * s(k), a line from 0 (before the
 * first step) to the schedule's own value, reached at step W-1.  The schedule
 * keeps its clock during warmup (no shift), so a cosine over the whole run
 * still ends at alpha_min.
 *
 * Checkpoint: everything but plateau is a function of (k, e), so only the
 * trainer's own step and epoch counters need saving.  Plateau's state is the
 * four scalars of dt_plateau_state; save and restore the struct's fields. */
#ifndef DTRAIN_SCHEDULE_H
#define DTRAIN_SCHEDULE_H

#include <stdint.h>
#include "dtrain/status.h"

typedef enum {
    SCHED_CONSTANT,
    SCHED_LINEAR,
    SCHED_STEP,
    SCHED_EXPONENTIAL,
    SCHED_COSINE,
    SCHED_PLATEAU
} dt_sched_kind;

/* Defaults from sched_config_default (torch's where torch has one). */
typedef struct {
    dt_sched_kind kind;
    double lr;             /* alpha_0, the base rate (required, > 0) */
    double lr_min;         /* linear: alpha_tau; cosine: eta_min; plateau: min_lr.  0 */
    int64_t warmup_steps;  /* W, 0 = no warmup */
    int64_t decay_steps;   /* linear tau, cosine T; 0 = epochs * steps_per_epoch */
    int64_t epochs;        /* total epochs of the run, used only when decay_steps = 0 */
    int64_t step_epochs;   /* step: N, multiply by gamma every N epochs.  30 (StepLR has none) */
    double gamma;          /* step: 0.1, exponential: 0.95 (torch has no default) */
    /* plateau (torch ReduceLROnPlateau defaults) */
    int maximize;          /* 0: mode "min" (a loss), 1: mode "max" (accuracy, AUC) */
    double factor;         /* 0.1, in (0, 1) */
    int64_t patience;      /* 10 epochs without improvement are tolerated */
    double threshold;      /* 1e-4, "significant" improvement */
    int threshold_abs;     /* 0: relative threshold (best*(1 -/+ thr)), 1: absolute */
    int64_t cooldown;      /* 0 epochs after a cut during which bad epochs are not counted */
    double plateau_eps;    /* 1e-8: a cut smaller than this in lr is skipped */
} dt_sched_config;

/* Plateau state: what a checkpoint saves and restores (all four fields). */
typedef struct {
    double best;           /* best metric seen; +inf (min) or -inf (max) before the first */
    double scale;          /* current factor on lr, 1 at the start */
    int64_t bad_epochs;    /* consecutive epochs without significant improvement */
    int64_t cooldown_left; /* epochs of cooldown still to run */
} dt_plateau_state;

typedef struct {
    dt_sched_config cfg;
    dt_plateau_state plateau; /* used by SCHED_PLATEAU only */
} dt_sched;

/* Names: constant linear step exponential cosine plateau. */
/* The schedules' names, indexed by dt_sched_kind, NULL-terminated. */
extern const char *const sched_names[];
dt_status sched_parse(const char *name, dt_sched_kind *out, dt_error *err);
const char *sched_name(dt_sched_kind k);

/* Defaults above, with the given kind and base rate. */
dt_sched_config sched_config_default(dt_sched_kind kind, double lr);

/* Check cfg and reset the plateau state.  Needs (as DT_EUSAGE otherwise):
 * lr > 0, 0 <= lr_min <= lr for linear/cosine/plateau, warmup_steps >= 0,
 * linear/cosine: decay_steps > 0 or epochs > 0, step: step_epochs > 0,
 * step/exponential: gamma > 0, plateau: 0 < factor < 1, patience, cooldown,
 * threshold >= 0.  Nothing to free. */
dt_status sched_init(dt_sched *s, const dt_sched_config *cfg, dt_error *err);

/* Rate for the step taken after `step` earlier steps, in epoch `epoch`
 * (both 0-based), with steps_per_epoch optimizer steps per epoch (used only
 * for the decay length when decay_steps is 0; must then be > 0). */
double sched_lr(const dt_sched *s, int64_t step, int64_t epoch, int64_t steps_per_epoch);

/* Plateau: call once at the end of each epoch with the monitored metric.
 * As torch: improvement means metric < best (1 - thr) in min mode with a
 * relative threshold (> best (1 + thr) in max mode; best -/+ thr if absolute);
 * an improvement resets bad_epochs, otherwise bad_epochs grows; during cooldown
 * bad epochs are not counted; when bad_epochs > patience the scale is cut to
 * max(scale * factor, lr_min / lr) and cooldown starts.  A NaN metric counts as
 * no improvement.  Returns 1 when the rate was cut, else 0; other kinds: no-op, 0. */
int sched_observe(dt_sched *s, double metric);

#endif
