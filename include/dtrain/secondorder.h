/* dtrain: full-batch second-order (and quasi-Newton) minimisers.
 *
 * The objective is a callback  f = fg(ctx, x, grad)  returning f(x) and
 * filling grad (n).  The trainer implements it as one full pass over the data
 * on all ranks followed by an allreduce, so every rank sees the same numbers;
 * this code is serial and deterministic (no threads, no randomness, fixed
 * loop orders), hence every rank takes bit-identical steps.  Everything is in
 * double precision.  To maximise g, minimise -g.
 *
 *   lbfgs   limited-memory BFGS (Nocedal & Wright alg. 7.4, two-loop
 *           recursion, H0 = (s'y / y'y) I from the newest pair), `history`
 *           pairs (s, y).  Memory 2 m n doubles.  Any n.
 *   bfgs    dense inverse-Hessian BFGS (N&W alg. 6.1, update 6.17, H0 scaled
 *           by 6.20 before the first update).  Memory n^2 doubles per rank,
 *           so n <= SO_BFGS_MAX_N.
 *   newton  Newton with Levenberg damping: H from central differences of the
 *           gradient (2n extra evaluations per iteration: H[:,j] =
 *           (g(x + h_j e_j) - g(x - h_j e_j)) / (2 h_j), h_j = fd_step
 *           max(1, |x_j|), then symmetrised) or from cfg.hess; solve
 *           (H + lambda I) d = -g by Cholesky (linalg_dposv); if H + lambda I
 *           is not positive definite or f(x + d) >= f(x), lambda grows
 *           (0 -> 1e-3 max(1, max|H_ii|), then x10) and the solve is
 *           retried; after an accepted step lambda /= 10 for the next
 *           iteration.  O(n^3) per iteration, so n <= SO_NEWTON_MAX_N.
 *
 * lbfgs and bfgs take steps along d with a line search satisfying the strong
 * Wolfe conditions (N&W alg. 3.5 bracketing, 3.6 zoom, cubic interpolation
 * (3.59) safeguarded by bisection):
 *     f(x + a d) <= f(x) + c1 a g'd   and   |g(x + a d)'d| <= c2 |g'd|.
 * The first trial is a = 1, except on the first iteration (and after a reset)
 * where d = -g and a = min(1, 1/||g||_2).  If d is not a descent direction or
 * the search fails, the history is dropped and steepest descent is tried once.
 *
 * State and checkpoints.  Everything one iteration hands to the next lives in
 * ONE double array `state` of so_state_len(s) doubles:
 *
 *   [0]             iterations taken (accepted steps)
 *   [1]             objective evaluations so far (fg calls, incl. finite differences)
 *   [2]             1 if [3], x_eval and g below are valid, else 0
 *   [3]             f(x_eval)
 *   [4]             newton: damping lambda for the next iteration; else 0
 *   [5]             lbfgs: pairs stored (0..history); bfgs: 1 once H was scaled; newton 0
 *   [6], [7]        reserved, 0
 *   [8, 8+n)        x_eval: the point at which f and g were last evaluated
 *   [8+n, 8+2n)     g = grad f(x_eval)
 *   lbfgs:  S (history x n, row-major, rows oldest first, rows [0, pairs) valid),
 *           then Y (history x n, same order), then rho (history): rho_i = 1 / (y_i's_i)
 *   bfgs:   H (n x n, row-major): the inverse-Hessian approximation
 *   newton: nothing more
 *
 * A checkpoint saves state[0 .. so_state_len(s)) and the parameters x;
 * restoring both into an so initialised with the same kind, n and config
 * continues bit for bit.  so_step re-evaluates f and g whenever the x it is
 * given differs (bitwise) from x_eval, so a caller that changes x between
 * steps gets a correct step at the cost of one evaluation; keep x in double
 * between steps to avoid that cost. */
#ifndef DTRAIN_SECONDORDER_H
#define DTRAIN_SECONDORDER_H

#include <stddef.h>
#include <stdint.h>
#include "dtrain/status.h"

/* Limits: bfgs holds n^2 doubles (10,000 -> 800 MB on every rank); newton
 * factors an n x n matrix (O(n^3)) and needs 2n full passes per iteration for
 * the finite-difference Hessian (2,000 -> 4,000 passes). */
#define SO_BFGS_MAX_N 10000
#define SO_NEWTON_MAX_N 2000

typedef enum { SO_LBFGS, SO_BFGS, SO_NEWTON } dt_so_kind;

/* f(x) and grad f(x) (n).  A non-finite f marks x as unusable: the line
 * search backs off; at the current iterate it is an error (DT_ENUM). */
typedef double (*dt_so_fg)(void *ctx, const double *x, double *grad);
/* Optional exact Hessian for newton: H (n x n, row-major) at x; same ctx. */
typedef void (*dt_so_hess)(void *ctx, const double *x, double *H);

/* so_config_default() gives the values in the comments. */
typedef struct {
    int history;      /* lbfgs m: 10 */
    double c1, c2;    /* strong Wolfe constants: 1e-4, 0.9 (0 < c1 < c2 < 1) */
    int max_evals;    /* per iteration: line-search evaluations, or newton damping trials: 25 */
    double gtol;      /* converged when max_i |g_i| <= gtol: 1e-5 */
    double fd_step;   /* newton: relative central-difference step: 6.0555e-6 = cbrt(DBL_EPSILON) */
    double lambda0;   /* newton: damping of the first iteration: 0 (pure Newton first) */
    dt_so_hess hess;  /* newton: exact Hessian, or NULL for finite differences */
} dt_so_config;

/* Why so_step returned. */
typedef enum {
    SO_RUNNING,   /* took a step; call again */
    SO_CONVERGED, /* max |g_i| <= gtol at the returned x (reached by this step or before) */
    SO_STALLED    /* no step decreased f (round-off level reached): x unchanged */
} dt_so_stop;

typedef struct {
    dt_so_kind kind;
    dt_so_config cfg;
    size_t n;
    double *state;   /* owned: so_state_len(s) doubles, layout above */
    double *work;    /* owned scratch, not state */
    /* outputs of the last so_step (not state: recomputed by the next step) */
    dt_so_stop stop;
    double gnorm;    /* max |g_i| at the returned x */
} dt_so;

/* The methods' names, indexed by dt_so_kind, NULL-terminated. */
extern const char *const so_names[];
dt_status so_parse(const char *name, dt_so_kind *out, dt_error *err); /* lbfgs bfgs newton */
const char *so_name(dt_so_kind k);
dt_so_config so_config_default(void);

/* Check cfg and n (DT_EUSAGE, with the reason, for n = 0, bfgs above
 * SO_BFGS_MAX_N, newton above SO_NEWTON_MAX_N or bad constants) and allocate
 * zeroed state.  cfg NULL means the defaults.  Free with so_free. */
dt_status so_init(dt_so *s, dt_so_kind kind, size_t n, const dt_so_config *cfg, dt_error *err);
void so_free(dt_so *s);

/* Number of doubles in s->state (see the layout above). */
size_t so_state_len(const dt_so *s);
/* Accessors into the state: iterations taken and fg evaluations so far. */
int64_t so_iterations(const dt_so *s);
int64_t so_evaluations(const dt_so *s);

/* One outer iteration from x (n), updated in place.  *f_out = f at the
 * returned x; s->stop and s->gnorm tell whether to go on.  Errors: DT_ENUM
 * when f or g is not finite at x itself (or the Hessian is not finite). */
dt_status so_step(dt_so *s, double *x, dt_so_fg fg, void *ctx, double *f_out, dt_error *err);

#endif
