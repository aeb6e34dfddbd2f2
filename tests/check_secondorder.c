/* Second-order method tests: the notes' warm-up problem, the 2-D Rosenbrock
 * function, a linear least-squares problem solved by hand, damping on an
 * indefinite Hessian, checkpoint round trips, size limits, and the LAPACK
 * solves behind newton.  References and tolerances are stated per test. */
#include <math.h>
#include <string.h>

#include "dtrain/linalg.h"
#include "dtrain/secondorder.h"
#include "testutil.h"

/* --- objectives ------------------------------------------------------------ */

/* The notes' warm-up, maximise f(x) = -(x-2)^2 + 3: we minimise
 * -f(x) = (x-2)^2 - 3, gradient 2(x-2), Hessian 2; minimum -3 at x = 2. */
static double neg_warmup(void *ctx, const double *x, double *g)
{
    (void)ctx;
    g[0] = 2.0 * (x[0] - 2.0);
    return (x[0] - 2.0) * (x[0] - 2.0) - 3.0;
}

/* Rosenbrock f = 100 (y - x^2)^2 + (1 - x)^2, minimum 0 at (1, 1). */
static double rosenbrock(void *ctx, const double *x, double *g)
{
    (void)ctx;
    const double a = x[1] - x[0] * x[0], b = 1.0 - x[0];
    g[0] = -400.0 * a * x[0] - 2.0 * b;
    g[1] = 200.0 * a;
    return 100.0 * a * a + b * b;
}

/* Least squares line fit y ~ w0 + w1 t at (t, y) = (0,1) (1,3) (2,2) (3,5):
 * f(w) = sum_i (w0 + w1 t_i - y_i)^2,  grad = 2 A^T (A w - y),  H = 2 A^T A.
 * Normal equations A^T A w = A^T y by hand:
 *   A^T A = [[4, 6], [6, 14]],  A^T y = [1+3+2+5, 0+3+4+15] = [11, 22]
 *   det = 4*14 - 6*6 = 20
 *   w0 = (14*11 - 6*22)/20 = 22/20 = 1.1,  w1 = (4*22 - 6*11)/20 = 22/20 = 1.1 */
static const double ls_t[4] = {0, 1, 2, 3}, ls_y[4] = {1, 3, 2, 5};

static double least_squares(void *ctx, const double *w, double *g)
{
    (void)ctx;
    double f = 0.0;
    g[0] = g[1] = 0.0;
    for (int i = 0; i < 4; i++) {
        const double r = w[0] + w[1] * ls_t[i] - ls_y[i];
        f += r * r;
        g[0] += 2.0 * r;
        g[1] += 2.0 * r * ls_t[i];
    }
    return f;
}

static void least_squares_hess(void *ctx, const double *w, double *H)
{
    (void)ctx;
    (void)w;
    H[0] = 8.0; /* 2 A^T A */
    H[1] = H[2] = 12.0;
    H[3] = 28.0;
}

/* Double well in x, bowl in y: f = x^4/4 - x^2/2 + y^2, minima (+-1, 0);
 * H = diag(3x^2 - 1, 2) is indefinite for |x| < 1/sqrt(3). */
static double double_well(void *ctx, const double *x, double *g)
{
    (void)ctx;
    g[0] = x[0] * x[0] * x[0] - x[0];
    g[1] = 2.0 * x[1];
    return 0.25 * pow(x[0], 4) - 0.5 * x[0] * x[0] + x[1] * x[1];
}

/* Run until the method stops; returns the number of so_step calls. */
static int run(dt_so *s, double *x, dt_so_fg fg, double *f, int max_steps)
{
    dt_error err;
    int k = 0;
    do {
        ck_assert_msg(so_step(s, x, fg, NULL, f, &err) == DT_OK, "%s", err.msg);
        k++;
    } while (s->stop == SO_RUNNING && k < max_steps);
    return k;
}

START_TEST(test_warmup_maximum)
{
    /* Every method from x0 = -3 finds the maximum x = 2, f = 3 (tolerance 1e-8
     * on x).  Newton: the quadratic's Hessian is exact from central differences
     * (the gradient is linear), so one step lands on x = 2. */
    for (int k = SO_LBFGS; k <= SO_NEWTON; k++) {
        dt_so s;
        dt_error err;
        ck_assert_int_eq(so_init(&s, (dt_so_kind)k, 1, NULL, &err), DT_OK);
        double x = -3.0, f = 0.0;
        int steps = run(&s, &x, neg_warmup, &f, 50);
        ck_assert_msg(s.stop == SO_CONVERGED, "%s: stop %d", so_name(s.kind), (int)s.stop);
        ck_assert_msg(fabs(x - 2.0) < 1e-8, "%s: x = %.12g", so_name(s.kind), x);
        ck_assert_double_eq_tol(-f, 3.0, 1e-12);
        if (k == SO_NEWTON) {
            ck_assert_int_eq(steps, 1);
            ck_assert_int_eq(so_iterations(&s), 1);
        }
        so_free(&s);
    }
}
END_TEST

START_TEST(test_rosenbrock)
{
    /* From (-1.2, 1) to (1, 1) within 1e-6.  gtol 1e-9: near the minimum
     * |x - x*| <= |g| / lambda_min(H) with lambda_min(H(1,1)) ~ 0.4. */
    for (int k = SO_LBFGS; k <= SO_NEWTON; k++) {
        dt_so s;
        dt_error err;
        dt_so_config c = so_config_default();
        c.gtol = 1e-9;
        ck_assert_int_eq(so_init(&s, (dt_so_kind)k, 2, &c, &err), DT_OK);
        double x[2] = {-1.2, 1.0}, f = 0.0;
        int steps = run(&s, x, rosenbrock, &f, 500);
        ck_assert_msg(fabs(x[0] - 1.0) < 1e-6 && fabs(x[1] - 1.0) < 1e-6,
                      "%s: x = (%.12g, %.12g) after %d steps, stop %d", so_name(s.kind), x[0],
                      x[1], steps, (int)s.stop);
        ck_assert_double_eq_tol(f, 0.0, 1e-12);
        ck_assert_int_eq(s.stop, SO_CONVERGED);
        ck_assert_int_gt(steps, 5); /* the valley is not solved by luck in one step */
        so_free(&s);
    }
}
END_TEST

START_TEST(test_newton_least_squares_one_step)
{
    /* From (0, 0) one Newton step lands on the normal-equations solution
     * (1.1, 1.1) worked out in least_squares' comment: within 1e-7 with the
     * finite-difference Hessian (step ~6e-6, round-off ~1e-10 relative), and
     * within 1e-12 with the exact Hessian. */
    for (int exact = 0; exact <= 1; exact++) {
        dt_so s;
        dt_error err;
        dt_so_config c = so_config_default();
        c.hess = exact ? least_squares_hess : NULL;
        ck_assert_int_eq(so_init(&s, SO_NEWTON, 2, &c, &err), DT_OK);
        double w[2] = {0.0, 0.0}, f = 0.0;
        ck_assert_int_eq(so_step(&s, w, least_squares, NULL, &f, &err), DT_OK);
        const double tol = exact ? 1e-12 : 1e-7;
        ck_assert_double_eq_tol(w[0], 1.1, tol);
        ck_assert_double_eq_tol(w[1], 1.1, tol);
        /* residuals at (1.1, 1.1): -0.1, -0.8, 1.3, -0.6 -> f = 0.01+0.64+1.69+0.36 = 2.7 */
        ck_assert_double_eq_tol(f, 2.7, 1e-9);
        ck_assert_int_eq(so_iterations(&s), 1);
        /* 1 evaluation at x0, 2n = 4 for the Hessian unless exact, 1 for the step */
        ck_assert_int_eq(so_evaluations(&s), exact ? 2 : 6);
        so_free(&s);
    }
}
END_TEST

START_TEST(test_newton_damping)
{
    /* From (0.1, 1) the Hessian diag(3*0.01 - 1, 2) is indefinite, so the
     * undamped Cholesky fails and lambda must grow; the damped steps descend
     * (f decreases at every step) into the well at (1, 0) (tolerance 1e-8,
     * gtol 1e-12 with H(1, 0) = diag(2, 2)). */
    dt_so s;
    dt_error err;
    dt_so_config c = so_config_default();
    c.gtol = 1e-12;
    ck_assert_int_eq(so_init(&s, SO_NEWTON, 2, &c, &err), DT_OK);
    double x[2] = {0.1, 1.0}, g[2], f = 0.0, f_prev = double_well(NULL, x, g);
    for (int k = 0; k < 100 && s.stop == SO_RUNNING; k++) {
        ck_assert_int_eq(so_step(&s, x, double_well, NULL, &f, &err), DT_OK);
        if (k == 0)
            ck_assert_double_gt(s.state[4], 0.0); /* state[4] = lambda (secondorder.h) */
        ck_assert_double_le(f, f_prev);
        f_prev = f;
    }
    ck_assert_int_eq(s.stop, SO_CONVERGED);
    ck_assert_double_eq_tol(x[0], 1.0, 1e-8);
    ck_assert_double_eq_tol(x[1], 0.0, 1e-8);
    so_free(&s);
}
END_TEST

START_TEST(test_state_round_trip)
{
    /* A checkpoint saves state[0..so_state_len) and x.  Restoring them after 4
     * steps into a fresh so continues bit for bit (reference: the uninterrupted
     * run), including the L-BFGS history and the BFGS matrix. */
    for (int k = SO_LBFGS; k <= SO_NEWTON; k++) {
        dt_so a, b;
        dt_error err;
        dt_so_config c = so_config_default();
        c.history = 3; /* so the history wraps within the run */
        ck_assert_int_eq(so_init(&a, (dt_so_kind)k, 2, &c, &err), DT_OK);
        ck_assert_int_eq(so_init(&b, (dt_so_kind)k, 2, &c, &err), DT_OK);
        const size_t want_len = k == SO_LBFGS ? 8 + 4 + 2 * 3 * 2 + 3 : k == SO_BFGS ? 8 + 4 + 4 : 8 + 4;
        ck_assert_uint_eq(so_state_len(&a), want_len);
        double xa[2] = {-1.2, 1.0}, xb[2], f;
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(so_step(&a, xa, rosenbrock, NULL, &f, &err), DT_OK);
        memcpy(b.state, a.state, so_state_len(&a) * sizeof(double));
        memcpy(xb, xa, sizeof xa);
        for (int i = 0; i < 6; i++) {
            double fb;
            ck_assert_int_eq(so_step(&a, xa, rosenbrock, NULL, &f, &err), DT_OK);
            ck_assert_int_eq(so_step(&b, xb, rosenbrock, NULL, &fb, &err), DT_OK);
            ck_assert_msg(memcmp(xa, xb, sizeof xa) == 0 && f == fb, "%s: step %d differs",
                          so_name(a.kind), i);
        }
        ck_assert_int_eq(so_evaluations(&a), so_evaluations(&b));
        ck_assert_int_eq(so_iterations(&a), 10);
        ck_assert_msg(xa[0] != -1.2, "%s did not move", so_name(a.kind));
        if (k == SO_LBFGS)
            ck_assert_double_eq(a.state[5], 3.0); /* history full */
        so_free(&a);
        so_free(&b);
    }
}
END_TEST

START_TEST(test_moved_x_is_reevaluated)
{
    /* If the caller changes x between steps, the cached f and g are stale:
     * so_step must evaluate again (one extra call) and still step correctly. */
    dt_so s;
    dt_error err;
    ck_assert_int_eq(so_init(&s, SO_NEWTON, 1, NULL, &err), DT_OK);
    double x = -3.0, f;
    ck_assert_int_eq(so_step(&s, &x, neg_warmup, NULL, &f, &err), DT_OK);
    const int64_t ev = so_evaluations(&s);
    x = 7.0;
    ck_assert_int_eq(so_step(&s, &x, neg_warmup, NULL, &f, &err), DT_OK);
    ck_assert_int_eq(so_evaluations(&s), ev + 1 + 2 + 1); /* x, Hessian, step */
    ck_assert_double_eq_tol(x, 2.0, 1e-8);
    so_free(&s);
}
END_TEST

static double nan_objective(void *ctx, const double *x, double *g)
{
    (void)ctx;
    g[0] = x[0];
    return NAN;
}

START_TEST(test_refusals)
{
    dt_so s;
    dt_error err;
    ck_assert_int_eq(so_init(&s, SO_BFGS, SO_BFGS_MAX_N + 1, NULL, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "limited to 10000 parameters"));
    ck_assert_ptr_nonnull(strstr(err.msg, "use lbfgs"));
    ck_assert_ptr_null(s.state);
    ck_assert_int_eq(so_init(&s, SO_NEWTON, SO_NEWTON_MAX_N + 1, NULL, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "limited to 2000 parameters"));
    ck_assert_int_eq(so_init(&s, SO_LBFGS, 0, NULL, &err), DT_EUSAGE);
    dt_so_config c = so_config_default();
    c.c2 = c.c1 / 2;
    ck_assert_int_eq(so_init(&s, SO_LBFGS, 3, &c, &err), DT_EUSAGE);
    /* lbfgs has no size limit: a large n only costs 2 m n doubles */
    ck_assert_int_eq(so_init(&s, SO_LBFGS, SO_BFGS_MAX_N + 1, NULL, &err), DT_OK);
    so_free(&s);
    /* a non-finite objective at x is an error, not a silent step */
    ck_assert_int_eq(so_init(&s, SO_LBFGS, 1, NULL, &err), DT_OK);
    double x = 1.0, f;
    ck_assert_int_eq(so_step(&s, &x, nan_objective, NULL, &f, &err), DT_ENUM);
    ck_assert_double_eq(x, 1.0);
    so_free(&s);

    dt_so_kind k;
    ck_assert_int_eq(so_parse("lbfgs", &k, &err), DT_OK);
    ck_assert_int_eq(k, SO_LBFGS);
    ck_assert_int_eq(so_parse("newton", &k, &err), DT_OK);
    ck_assert_str_eq(so_name(k), "newton");
    ck_assert_int_eq(so_parse("bfgs", &k, &err), DT_OK);
    ck_assert_int_eq(so_parse("l-bfgs", &k, &err), DT_EUSAGE);
}
END_TEST

START_TEST(test_linalg_solves)
{
    /* SPD: [[4, 2], [2, 3]] x = [10, 7] -> x = (2, 1)  (4*2 + 2*1 = 10, 2*2 + 3*1 = 7). */
    double A[4] = {4, 2, 2, 3}, b[2] = {10, 7};
    ck_assert_int_eq(linalg_dposv(2, 1, A, b), 0);
    ck_assert_double_eq_tol(b[0], 2.0, 1e-14);
    ck_assert_double_eq_tol(b[1], 1.0, 1e-14);
    /* Not positive definite: [[1, 2], [2, 1]] (eigenvalues 3, -1) -> info 2. */
    double N[4] = {1, 2, 2, 1}, c[2] = {1, 1};
    ck_assert_int_eq(linalg_dposv(2, 1, N, c), 2);
    /* General, not symmetric, row-major: [[2,1,0],[0,3,1],[1,0,4]] x = b with
     * x = (1, 2, 3): b = (2+2, 6+3, 1+12) = (4, 9, 13).  A transposed solve
     * would give a different x, so this checks the row-major handling; two
     * right-hand sides: the second is 2b -> 2x. */
    double G[9] = {2, 1, 0, 0, 3, 1, 1, 0, 4}, B[6] = {4, 9, 13, 8, 18, 26};
    int ipiv[3];
    ck_assert_int_eq(linalg_dgesv(3, 2, G, ipiv, B), 0);
    const double want[6] = {1, 2, 3, 2, 4, 6};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(B[i], want[i], 1e-13);
    double Z[4] = {1, 2, 2, 4}, z[2] = {1, 1}; /* singular */
    ck_assert_int_gt(linalg_dgesv(2, 1, Z, ipiv, z), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("secondorder");
    TCase *tm = tcase_create("minimise");
    tcase_add_test(tm, test_warmup_maximum);
    tcase_add_test(tm, test_rosenbrock);
    tcase_add_test(tm, test_newton_least_squares_one_step);
    tcase_add_test(tm, test_newton_damping);
    suite_add_tcase(s, tm);
    TCase *tc = tcase_create("state_and_limits");
    tcase_add_test(tc, test_state_round_trip);
    tcase_add_test(tc, test_moved_x_is_reevaluated);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("linalg");
    tcase_add_test(tl, test_linalg_solves);
    suite_add_tcase(s, tl);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
