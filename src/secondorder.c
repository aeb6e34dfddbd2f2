/* dtrain: L-BFGS, BFGS and damped Newton over an f-and-gradient callback
 * (methods, state layout and references in secondorder.h). */
#include "dtrain/secondorder.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/linalg.h"

/* Header slots of the state array (secondorder.h). */
enum { H_ITER, H_NFEV, H_HAVE, H_F, H_LAMBDA, H_PAIRS, H_RES6, H_RES7, HDR };

const char *const so_names[] = {[SO_LBFGS] = "lbfgs", [SO_BFGS] = "bfgs",
                                [SO_NEWTON] = "newton", NULL};

dt_status so_parse(const char *name, dt_so_kind *out, dt_error *err)
{
    int k = dt_name_index(so_names, name);
    if (k >= 0) {
        *out = (dt_so_kind)k;
        return DT_OK;
    }
    return dt_fail(err, DT_EUSAGE,
                   "unknown second-order method '%s' (expected lbfgs, bfgs or newton)", name);
}

const char *so_name(dt_so_kind k) { return (int)k >= 0 && (int)k < 3 ? so_names[k] : NULL; }

dt_so_config so_config_default(void)
{
    dt_so_config c = {
        .history = 10,
        .c1 = 1e-4,
        .c2 = 0.9,
        .max_evals = 25,
        .gtol = 1e-5,
        .fd_step = 6.0554544523933395e-06, /* cbrt(DBL_EPSILON): balances O(h^2) truncation
                                              against O(eps/h) round-off */
        .lambda0 = 0.0,
        .hess = NULL,
    };
    return c;
}

/* Views into state and work; computed, not stored, so the struct has no
 * pointers to keep in sync after a restore. */
typedef struct {
    double *xe, *g;           /* state: x_eval, g (n) */
    double *S, *Y, *rho;      /* lbfgs: (m, n), (m, n), (m) */
    double *H;                /* bfgs: (n, n) inverse Hessian */
    double *d, *xt, *gt, *gs; /* work: direction, trial point, its gradient, saved gradient */
    double *aux;              /* work: lbfgs alpha (m); bfgs H y (n); newton gradient at x - h e_j (n) */
    double *Hn, *A;           /* work, newton: Hessian, factorised copy (n, n) */
} views;

static size_t state_len(dt_so_kind kind, size_t n, size_t m)
{
    size_t len = HDR + 2 * n;
    if (kind == SO_LBFGS)
        len += 2 * m * n + m;
    else if (kind == SO_BFGS)
        len += n * n;
    return len;
}

static size_t work_len(dt_so_kind kind, size_t n, size_t m)
{
    size_t len = 4 * n;
    if (kind == SO_LBFGS)
        len += m;
    else if (kind == SO_BFGS)
        len += n;
    else
        len += n + 2 * n * n;
    return len;
}

static views get_views(const dt_so *s)
{
    const size_t n = s->n, m = (size_t)s->cfg.history;
    views v = {0};
    v.xe = s->state + HDR;
    v.g = v.xe + n;
    if (s->kind == SO_LBFGS) {
        v.S = v.g + n;
        v.Y = v.S + m * n;
        v.rho = v.Y + m * n;
    } else if (s->kind == SO_BFGS) {
        v.H = v.g + n;
    }
    v.d = s->work;
    v.xt = v.d + n;
    v.gt = v.xt + n;
    v.gs = v.gt + n;
    v.aux = v.gs + n;
    if (s->kind == SO_NEWTON) {
        v.Hn = v.aux + n;
        v.A = v.Hn + n * n;
    }
    return v;
}

dt_status so_init(dt_so *s, dt_so_kind kind, size_t n, const dt_so_config *cfg, dt_error *err)
{
    memset(s, 0, sizeof *s);
    dt_so_config c = cfg ? *cfg : so_config_default();
    const char *name = so_name(kind);
    if (!name)
        return dt_fail(err, DT_EUSAGE, "unknown second-order method kind %d", (int)kind);
    if (n == 0)
        return dt_fail(err, DT_EUSAGE, "%s: nothing to optimise (0 parameters)", name);
    if (kind == SO_BFGS && n > SO_BFGS_MAX_N)
        return dt_fail(err, DT_EUSAGE,
                       "bfgs keeps a dense %zu x %zu inverse Hessian (%.1f GB on every rank); "
                       "it is limited to %d parameters: use lbfgs for this model",
                       n, n, (double)n * (double)n * 8.0 / 1e9, SO_BFGS_MAX_N);
    if (kind == SO_NEWTON && n > SO_NEWTON_MAX_N)
        return dt_fail(err, DT_EUSAGE,
                       "newton needs a %zu x %zu Hessian (%zu gradient evaluations per "
                       "iteration by finite differences, O(n^3) to factor); it is limited to "
                       "%d parameters: use lbfgs for this model",
                       n, n, 2 * n, SO_NEWTON_MAX_N);
    if (!(c.c1 > 0.0 && c.c1 < c.c2 && c.c2 < 1.0))
        return dt_fail(err, DT_EUSAGE, "%s: Wolfe constants need 0 < c1 < c2 < 1 (got %g, %g)",
                       name, c.c1, c.c2);
    if (c.max_evals < 1 || !(c.gtol >= 0.0) || !(c.fd_step > 0.0) || !(c.lambda0 >= 0.0))
        return dt_fail(err, DT_EUSAGE,
                       "%s: need max_evals >= 1, gtol >= 0, fd_step > 0, lambda0 >= 0", name);
    if (kind == SO_LBFGS && c.history < 1)
        return dt_fail(err, DT_EUSAGE, "lbfgs: history must be >= 1 (got %d)", c.history);
    if (kind != SO_LBFGS)
        c.history = 0;
    const size_t m = (size_t)c.history;
    const size_t sl = state_len(kind, n, m), wl = work_len(kind, n, m);
    s->state = calloc(sl, sizeof(double));
    s->work = calloc(wl, sizeof(double));
    if (!s->state || !s->work) {
        free(s->state);
        free(s->work);
        memset(s, 0, sizeof *s);
        return dt_fail(err, DT_ENOMEM, "%s: out of memory (%zu doubles)", name, sl + wl);
    }
    s->kind = kind;
    s->cfg = c;
    s->n = n;
    s->state[H_LAMBDA] = kind == SO_NEWTON ? c.lambda0 : 0.0;
    if (kind == SO_BFGS) {
        views v = get_views(s);
        for (size_t i = 0; i < n; i++)
            v.H[i * n + i] = 1.0;
    }
    s->stop = SO_RUNNING;
    return DT_OK;
}

void so_free(dt_so *s)
{
    free(s->state);
    free(s->work);
    memset(s, 0, sizeof *s);
}

size_t so_state_len(const dt_so *s) { return state_len(s->kind, s->n, (size_t)s->cfg.history); }
int64_t so_iterations(const dt_so *s) { return (int64_t)s->state[H_ITER]; }
int64_t so_evaluations(const dt_so *s) { return (int64_t)s->state[H_NFEV]; }

/* --- small dense helpers (fixed loop order: identical bits on every rank) --- */

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static int all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return 0;
    return 1;
}

static double eval(dt_so *s, dt_so_fg fg, void *ctx, const double *x, double *g)
{
    s->state[H_NFEV] += 1.0;
    double f = fg(ctx, x, g);
    return isfinite(f) && all_finite(g, s->n) ? f : INFINITY;
}

/* --- strong-Wolfe line search (Nocedal & Wright alg. 3.5 / 3.6) ----------- */

/* Minimiser of the cubic through (a1, f1, d1) and (a2, f2, d2) (N&W 3.59);
 * NaN when it has none or the data are not finite. */
static double cubic_min(double a1, double f1, double d1, double a2, double f2, double d2)
{
    if (!isfinite(f1) || !isfinite(f2) || a1 == a2)
        return NAN;
    const double e1 = d1 + d2 - 3.0 * (f1 - f2) / (a1 - a2);
    const double sq = e1 * e1 - d1 * d2;
    if (!(sq >= 0.0))
        return NAN;
    const double e2 = copysign(sqrt(sq), a2 - a1);
    const double den = d2 - d1 + 2.0 * e2;
    if (den == 0.0)
        return NAN;
    return a2 - (a2 - a1) * (d2 + e2 - e1) / den;
}

typedef struct {
    const double *x, *d;
    double f0, dphi0;
    int evals;
} ls_ctx;

/* phi(a) = f(x + a d) into *f, phi'(a) = g'd into *dphi; gradient in v->gt. */
static void ls_eval(dt_so *s, const views *v, ls_ctx *c, dt_so_fg fg, void *ctx, double a,
                    double *f, double *dphi)
{
    for (size_t i = 0; i < s->n; i++)
        v->xt[i] = c->x[i] + a * c->d[i];
    *f = eval(s, fg, ctx, v->xt, v->gt);
    *dphi = isfinite(*f) ? dot(v->gt, c->d, s->n) : NAN;
    c->evals++;
}

/* Alg. 3.6.  lo satisfies sufficient decrease with f_lo the lowest value seen
 * so far; its gradient is in v->gs (unless a_lo = 0).  Returns the accepted
 * step, its gradient in v->gs, or 0 on failure. */
static double zoom(dt_so *s, const views *v, ls_ctx *c, dt_so_fg fg, void *ctx, double lo,
                   double f_lo, double d_lo, double hi, double f_hi, double d_hi, double *f_out)
{
    const double c1 = s->cfg.c1, c2 = s->cfg.c2;
    while (c->evals < s->cfg.max_evals) {
        const double a_min = fmin(lo, hi), a_max = fmax(lo, hi), w = a_max - a_min;
        if (w <= DBL_EPSILON * a_max)
            break;
        double a = cubic_min(lo, f_lo, d_lo, hi, f_hi, d_hi);
        /* Safeguard: stay 10% of the interval away from its ends, else bisect. */
        if (!isfinite(a) || a < a_min + 0.1 * w || a > a_max - 0.1 * w)
            a = 0.5 * (lo + hi);
        double f, dphi;
        ls_eval(s, v, c, fg, ctx, a, &f, &dphi);
        if (!isfinite(f) || f > c->f0 + c1 * a * c->dphi0 || f >= f_lo) {
            hi = a;
            f_hi = f;
            d_hi = dphi;
        } else {
            if (fabs(dphi) <= -c2 * c->dphi0) {
                memcpy(v->gs, v->gt, s->n * sizeof(double));
                *f_out = f;
                return a;
            }
            if (dphi * (hi - lo) >= 0.0) {
                hi = lo;
                f_hi = f_lo;
                d_hi = d_lo;
            }
            lo = a;
            f_lo = f;
            d_lo = dphi;
            memcpy(v->gs, v->gt, s->n * sizeof(double));
        }
    }
    /* Out of evaluations or interval: settle for lo if it is a real step (it
     * has sufficient decrease, only the curvature condition is missing). */
    *f_out = f_lo;
    return lo;
}

/* Alg. 3.5 from x along the descent direction d (dphi0 = g'd < 0), first
 * trial a1.  On success returns a > 0 with f in *f_out and the gradient at
 * x + a d in v->gs; returns 0 when no acceptable step was found. */
static double line_search(dt_so *s, const views *v, const double *x, const double *d,
                          double f0, double dphi0, double a1, dt_so_fg fg, void *ctx,
                          double *f_out)
{
    const double c1 = s->cfg.c1, c2 = s->cfg.c2;
    ls_ctx c = {x, d, f0, dphi0, 0};
    double a_prev = 0.0, f_prev = f0, d_prev = dphi0, a = a1;
    for (int i = 1;; i++) {
        double f, dphi;
        ls_eval(s, v, &c, fg, ctx, a, &f, &dphi);
        if (!isfinite(f) || f > f0 + c1 * a * dphi0 || (i > 1 && f >= f_prev))
            return zoom(s, v, &c, fg, ctx, a_prev, f_prev, d_prev, a, f, dphi, f_out);
        if (fabs(dphi) <= -c2 * dphi0) {
            memcpy(v->gs, v->gt, s->n * sizeof(double));
            *f_out = f;
            return a;
        }
        if (dphi >= 0.0) {
            memcpy(v->gs, v->gt, s->n * sizeof(double)); /* lo = a */
            return zoom(s, v, &c, fg, ctx, a, f, dphi, a_prev, f_prev, d_prev, f_out);
        }
        /* a has sufficient decrease and phi still falls: a becomes lo. */
        memcpy(v->gs, v->gt, s->n * sizeof(double));
        if (c.evals >= s->cfg.max_evals) {
            *f_out = f;
            return a;
        }
        /* Extrapolate by the cubic, kept within [a + 0.01 (a - a_prev), 10 a]. */
        const double lo_b = a + 0.01 * (a - a_prev), hi_b = 10.0 * a;
        double next = cubic_min(a_prev, f_prev, d_prev, a, f, dphi);
        if (!isfinite(next))
            next = hi_b;
        next = fmin(fmax(next, lo_b), hi_b);
        a_prev = a;
        f_prev = f;
        d_prev = dphi;
        a = next;
    }
}

/* --- directions ------------------------------------------------------------ */

/* L-BFGS two-loop recursion (N&W alg. 7.4): d = -H_k g with pairs oldest
 * first in S, Y (pairs x n). */
static void lbfgs_direction(dt_so *s, const views *v)
{
    const size_t n = s->n, k = (size_t)s->state[H_PAIRS];
    double *q = v->d, *al = v->aux;
    memcpy(q, v->g, n * sizeof(double));
    for (size_t j = k; j-- > 0;) {
        al[j] = v->rho[j] * dot(v->S + j * n, q, n);
        const double *y = v->Y + j * n;
        for (size_t i = 0; i < n; i++)
            q[i] -= al[j] * y[i];
    }
    if (k > 0) {
        const double *s_new = v->S + (k - 1) * n, *y_new = v->Y + (k - 1) * n;
        const double gamma = dot(s_new, y_new, n) / dot(y_new, y_new, n);
        for (size_t i = 0; i < n; i++)
            q[i] *= gamma;
    }
    for (size_t j = 0; j < k; j++) {
        const double b = v->rho[j] * dot(v->Y + j * n, q, n);
        const double *sj = v->S + j * n;
        for (size_t i = 0; i < n; i++)
            q[i] += sj[i] * (al[j] - b);
    }
    for (size_t i = 0; i < n; i++)
        q[i] = -q[i];
}

/* d = -H g, H (n, n) symmetric. */
static void bfgs_direction(dt_so *s, const views *v)
{
    const size_t n = s->n;
    for (size_t i = 0; i < n; i++)
        v->d[i] = -dot(v->H + i * n, v->g, n);
}

static void reset_curvature(dt_so *s, const views *v)
{
    const size_t n = s->n;
    s->state[H_PAIRS] = 0.0;
    if (s->kind == SO_BFGS) {
        memset(v->H, 0, n * n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            v->H[i * n + i] = 1.0;
    }
}

/* Store the pair s = x1 - x0, y = g1 - g0 (x0 = v->xe, g0 = v->g still hold
 * the old point; x1 = x, g1 = v->gs).  Skipped unless y's > eps y'y, which
 * keeps H positive definite; strong Wolfe guarantees y's > 0 in exact arithmetic. */
static void update_curvature(dt_so *s, const views *v, const double *x1)
{
    const size_t n = s->n;
    double *sv = v->xt, *yv = v->gt; /* reuse work: both free after the search */
    for (size_t i = 0; i < n; i++) {
        sv[i] = x1[i] - v->xe[i];
        yv[i] = v->gs[i] - v->g[i];
    }
    const double sy = dot(sv, yv, n), yy = dot(yv, yv, n);
    if (!(sy > DBL_EPSILON * yy) || !(yy > 0.0))
        return;
    if (s->kind == SO_LBFGS) {
        const size_t m = (size_t)s->cfg.history;
        size_t k = (size_t)s->state[H_PAIRS];
        if (k == m) { /* drop the oldest pair */
            memmove(v->S, v->S + n, (m - 1) * n * sizeof(double));
            memmove(v->Y, v->Y + n, (m - 1) * n * sizeof(double));
            memmove(v->rho, v->rho + 1, (m - 1) * sizeof(double));
            k--;
        }
        memcpy(v->S + k * n, sv, n * sizeof(double));
        memcpy(v->Y + k * n, yv, n * sizeof(double));
        v->rho[k] = 1.0 / sy;
        s->state[H_PAIRS] = (double)(k + 1);
    } else {
        double *H = v->H, *Hy = v->aux;
        if (s->state[H_PAIRS] == 0.0) { /* N&W 6.20: H0 = (y's / y'y) I before the first update */
            const double scale = sy / yy;
            for (size_t i = 0; i < n; i++)
                H[i * n + i] = scale;
            s->state[H_PAIRS] = 1.0;
        }
        /* N&W 6.17 expanded for symmetric H, rho = 1/y's:
         * H <- H - rho (Hy s' + s y'H) + (rho^2 y'Hy + rho) s s' */
        for (size_t i = 0; i < n; i++)
            Hy[i] = dot(H + i * n, yv, n);
        const double rho = 1.0 / sy, yHy = dot(yv, Hy, n), c = rho * rho * yHy + rho;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                H[i * n + j] += -rho * (Hy[i] * sv[j] + sv[i] * Hy[j]) + c * sv[i] * sv[j];
    }
}

/* One lbfgs/bfgs iteration from x (= v->xe, with f, g valid). */
static void quasi_newton_iter(dt_so *s, const views *v, double *x, dt_so_fg fg, void *ctx)
{
    const size_t n = s->n;
    const double f0 = s->state[H_F];
    for (int attempt = 0; attempt < 2; attempt++) {
        const int fresh = s->state[H_PAIRS] == 0.0;
        if (s->kind == SO_LBFGS)
            lbfgs_direction(s, v);
        else
            bfgs_direction(s, v);
        double dphi0 = dot(v->g, v->d, n);
        if (!(dphi0 < 0.0) || !all_finite(v->d, n)) { /* not a descent direction */
            if (fresh)
                break;
            reset_curvature(s, v);
            continue;
        }
        const double a1 = fresh ? fmin(1.0, 1.0 / sqrt(dot(v->g, v->g, n))) : 1.0;
        double f1 = f0;
        const double a = line_search(s, v, x, v->d, f0, dphi0, a1, fg, ctx, &f1);
        if (a > 0.0 && f1 < f0) {
            for (size_t i = 0; i < n; i++)
                x[i] += a * v->d[i]; /* the same expression ls_eval used: same bits */
            update_curvature(s, v, x);
            memcpy(v->xe, x, n * sizeof(double));
            memcpy(v->g, v->gs, n * sizeof(double));
            s->state[H_F] = f1;
            s->state[H_ITER] += 1.0;
            s->stop = SO_RUNNING;
            return;
        }
        if (fresh)
            break;
        reset_curvature(s, v); /* the model misled the search: try steepest descent */
    }
    s->stop = SO_STALLED;
}

/* H (n, n) by central differences of the gradient at x, symmetrised. */
static dt_status fd_hessian(dt_so *s, const views *v, const double *x, dt_so_fg fg, void *ctx,
                            dt_error *err)
{
    const size_t n = s->n;
    double *xp = v->xt, *gp = v->gt, *gm = v->aux, *H = v->Hn;
    memcpy(xp, x, n * sizeof(double));
    for (size_t j = 0; j < n; j++) {
        const double h0 = s->cfg.fd_step * fmax(1.0, fabs(x[j]));
        xp[j] = x[j] + h0;
        const double hp = xp[j] - x[j]; /* the step actually taken, exactly representable */
        const double fp = eval(s, fg, ctx, xp, gp);
        xp[j] = x[j] - hp;
        const double fm = eval(s, fg, ctx, xp, gm);
        xp[j] = x[j];
        if (!isfinite(fp) || !isfinite(fm))
            return dt_fail(err, DT_ENUM,
                           "newton: objective not finite within %g of the current point "
                           "(finite-difference Hessian, coordinate %zu)",
                           hp, j);
        for (size_t i = 0; i < n; i++)
            H[i * n + j] = (gp[i] - gm[i]) / (2.0 * hp);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const double m = 0.5 * (H[i * n + j] + H[j * n + i]);
            H[i * n + j] = H[j * n + i] = m;
        }
    return DT_OK;
}

static dt_status newton_iter(dt_so *s, const views *v, double *x, dt_so_fg fg, void *ctx,
                             dt_error *err)
{
    const size_t n = s->n;
    double *H = v->Hn, *A = v->A, *d = v->d;
    if (s->cfg.hess) {
        s->cfg.hess(ctx, x, H);
        if (!all_finite(H, n * n))
            return dt_fail(err, DT_ENUM, "newton: the Hessian callback returned non-finite values");
    } else {
        dt_status st = fd_hessian(s, v, x, fg, ctx, err);
        if (st)
            return st;
    }
    double diag = 1.0;
    for (size_t i = 0; i < n; i++)
        diag = fmax(diag, fabs(H[i * n + i]));
    double lambda = s->state[H_LAMBDA];
    const double f0 = s->state[H_F];
    for (int trial = 0; trial < s->cfg.max_evals; trial++) {
        memcpy(A, H, n * n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            A[i * n + i] += lambda;
            d[i] = -v->g[i];
        }
        /* (H + lambda I) d = -g; info != 0: not positive definite, damp more. */
        if (linalg_dposv((int)n, 1, A, d) == 0 && all_finite(d, n)) {
            for (size_t i = 0; i < n; i++)
                v->xt[i] = x[i] + d[i];
            const double f1 = eval(s, fg, ctx, v->xt, v->gt);
            if (f1 < f0) {
                memcpy(x, v->xt, n * sizeof(double));
                memcpy(v->xe, x, n * sizeof(double));
                memcpy(v->g, v->gt, n * sizeof(double));
                s->state[H_F] = f1;
                s->state[H_LAMBDA] = lambda / 10.0;
                s->state[H_ITER] += 1.0;
                s->stop = SO_RUNNING;
                return DT_OK;
            }
        }
        lambda = lambda > 0.0 ? 10.0 * lambda : 1e-3 * diag;
    }
    s->state[H_LAMBDA] = lambda;
    s->stop = SO_STALLED;
    return DT_OK;
}

dt_status so_step(dt_so *s, double *x, dt_so_fg fg, void *ctx, double *f_out, dt_error *err)
{
    const size_t n = s->n;
    views v = get_views(s);
    if (s->state[H_HAVE] == 0.0 || memcmp(x, v.xe, n * sizeof(double)) != 0) {
        memcpy(v.xe, x, n * sizeof(double));
        const double f = eval(s, fg, ctx, x, v.g);
        if (!isfinite(f)) {
            s->state[H_HAVE] = 0.0;
            return dt_fail(err, DT_ENUM,
                           "%s: objective or gradient not finite at the current point",
                           so_name(s->kind));
        }
        s->state[H_F] = f;
        s->state[H_HAVE] = 1.0;
    }
    dt_status st = DT_OK;
    s->gnorm = max_abs(v.g, n);
    if (s->gnorm <= s->cfg.gtol) {
        s->stop = SO_CONVERGED;
    } else if (s->kind == SO_NEWTON) {
        st = newton_iter(s, &v, x, fg, ctx, err);
    } else {
        quasi_newton_iter(s, &v, x, fg, ctx);
    }
    s->gnorm = max_abs(v.g, n);
    if (!st && s->stop == SO_RUNNING && s->gnorm <= s->cfg.gtol)
        s->stop = SO_CONVERGED;
    *f_out = s->state[H_F];
    return st;
}
