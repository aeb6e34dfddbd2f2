/* dtrain: first-order optimizers over flat buffers.
 *
 * One interface for every method: optim_step(o, params, grads, lr) updates all
 * n parameters from the mean gradient G.  Update rules follow PyTorch's
 * torch.optim (v2.x, non-fused, maximize=False, amsgrad=False), so the same
 * settings give the same trajectories.  Element-wise, with t the step number
 * counted from 1 and wd the weight decay:
 *
 *   sgd       g <- G + wd W
 *             momentum = 0:  W <- W - lr g
 *             momentum > 0:  V <- g at t = 1, else V <- mu V + (1 - dampening) g
 *                            d <- nesterov ? g + mu V : V;   W <- W - lr d
 *   momentum  sgd with momentum 0.9 by default
 *   nesterov  sgd with nesterov = 1 and momentum 0.9 by default (dampening must be 0)
 *   adagrad   g <- G + wd W;  r <- r + g^2  (r starts at initial_accumulator_value)
 *             W <- W - lr / (1 + (t-1) lr_decay) * g / (sqrt(r) + eps)
 *   rmsprop   g <- G + wd W;  r <- alpha r + (1-alpha) g^2
 *             centered: a <- alpha a + (1-alpha) g;  s <- sqrt(r - a^2) + eps
 *             else:                                  s <- sqrt(r) + eps
 *             momentum > 0: B <- mu B + g / s;  W <- W - lr B   (B starts at 0)
 *             else:         W <- W - lr g / s
 *   adam      g <- G + wd W;  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
 *             W <- W - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *   adamw     W <- W (1 - lr wd)  (decoupled decay), then adam with wd = 0
 *
 * The notes' momentum form  V' <- gamma V' + alpha G;  W <- W - V'  is the same
 * trajectory as sgd with momentum = gamma, dampening = 0: with a constant rate
 * alpha, V' = alpha V at every step (V'_1 = alpha G_1 = alpha V_1, and
 * gamma alpha V + alpha G = alpha (gamma V + G)).  When the rate changes the two
 * differ: torch's form applies the new rate to the whole velocity at once.
 * The notes' AdaGrad is adagrad with eps = 0 and lr_decay = 0; the notes' Adam
 * omits bias correction and eps.
 *
 * State: every per-parameter quantity is a view into ONE float allocation
 * `state` of optim_state_len(o) floats, views in the order m, v, a (each n long,
 * only those present).  The only other state is the step counter t.  A
 * checkpoint that saves state[0 .. optim_state_len(o)) and t, and restores both
 * into an optimizer initialised with the same config and n, continues the run
 * bit for bit.
 *
 *   kind                 m              v               a
 *   sgd/momentum/nesterov velocity V     -               -       (m only if momentum != 0)
 *   adagrad              -              sum r           -
 *   rmsprop              momentum B     mean r of g^2   mean a of g (centered only)
 *   adam/adamw           first moment   second moment   -
 */
#ifndef DTRAIN_OPTIM_H
#define DTRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>
#include "dtrain/status.h"

typedef enum {
    OPTIM_SGD,
    OPTIM_MOMENTUM,
    OPTIM_NESTEROV,
    OPTIM_ADAGRAD,
    OPTIM_RMSPROP,
    OPTIM_ADAM,
    OPTIM_ADAMW
} dt_optim_kind;
#define OPTIM_N_KINDS (OPTIM_ADAMW + 1)

/* Hyperparameters.  optim_config_default(kind) gives torch's defaults (shown
 * below); a zero-initialised config is valid for sgd and means "all off", which
 * is what older callers that set fields one by one rely on. */
typedef struct {
    dt_optim_kind kind;
    double momentum;     /* sgd 0, momentum/nesterov 0.9, rmsprop 0 */
    double dampening;    /* sgd family: 0; must be 0 with nesterov */
    int nesterov;        /* sgd family: 0; 1 for kind nesterov whatever this says */
    double beta1, beta2; /* adam/adamw: 0.9, 0.999 */
    double eps;          /* adam/adamw/rmsprop 1e-8, adagrad 1e-10 */
    double weight_decay; /* all: 0, except adamw 0.01.  L2 term wd W added to
                            the gradient; adamw: decoupled W <- W (1 - lr wd) */
    double lr_decay;     /* adagrad: 0; rate lr / (1 + (t-1) lr_decay) */
    double initial_accumulator_value; /* adagrad: 0, starting value of r */
    double alpha;        /* rmsprop: 0.99, smoothing constant (not the rate) */
    int centered;        /* rmsprop: 0; 1 divides by the estimated std of g */
} dt_optim_config;

typedef struct {
    dt_optim_config cfg;
    size_t n;
    int64_t t;    /* steps taken (the only scalar state) */
    float *m;     /* view: velocity / first moment (see table); NULL if unused */
    float *v;     /* view: second moment / accumulator; NULL if unused */
    float *a;     /* view: rmsprop centered mean of g; NULL if unused */
    float *state; /* owned: the single allocation m, v and a point into */
} dt_optim;

/* Names: sgd momentum nesterov adagrad rmsprop adam adamw. */
/* The kinds' names, indexed by dt_optim_kind, NULL-terminated. */
extern const char *const optim_names[];
dt_status optim_parse(const char *name, dt_optim_kind *out, dt_error *err);
const char *optim_name(dt_optim_kind k);

/* torch.optim's defaults for kind (table above). */
dt_optim_config optim_config_default(dt_optim_kind kind);
/* The learning rate used when none is given: 1e-3 for adam and adamw
 * (torch.optim's and scikit-learn's), 1e-2 for the others. */
double optim_default_lr(dt_optim_kind kind);

/* Check cfg (ranges as torch checks them: momentum, dampening, weight_decay,
 * lr_decay, initial_accumulator_value, eps >= 0; betas and alpha in [0, 1);
 * nesterov needs momentum > 0 and dampening 0), then allocate and initialise
 * state for n parameters.  Free with optim_free.  On failure nothing is
 * allocated and *o is zeroed. */
dt_status optim_init(dt_optim *o, const dt_optim_config *cfg, size_t n, dt_error *err);
void optim_free(dt_optim *o);

/* Number of floats in o->state (0 when the method keeps none). */
size_t optim_state_len(const dt_optim *o);

/* One update of params (n) from the mean gradient grads (n) with rate lr.
 * No allocation; the same inputs give the same bits on every rank. */
void optim_step(dt_optim *o, float *params, const float *grads, double lr);

/* The same update restricted to parameters [lo, hi) (the sharded update:
 * each rank updates its shard): params and the state are indexed as for the
 * whole model, grads holds the gradient of the range only, grads[0 .. hi-lo).
 * Counts one step (o->t), as optim_step does.  Elements outside the range,
 * of params and of the state, are not touched; the update of each element is
 * the same bits as optim_step's.
 *
 * The gradient used is g_i = (grads_i * s1) * s2, each product rounded to
 * float: the bits the caller would get by scaling grads by s1, then by s2,
 * in passes of its own (a product by 1 is exact), without the memory
 * traffic of those passes (the trainer's mean over the batch, 1/b, and its
 * norm clip). */
void optim_step_range(dt_optim *o, float *params, const float *grads, float s1, float s2,
                      double lr, size_t lo, size_t hi);

/* Floats read or written per parameter by one step: the parameter (2), the
 * gradient (1) and each state array (2 each): 3 for sgd, 5 momentum, 7 adam. */
int optim_floats_per_param(const dt_optim *o);

#endif
