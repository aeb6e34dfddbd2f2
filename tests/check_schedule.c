/* Learning-rate schedule tests: each schedule's rate at chosen steps against
 * its formula (values worked out by hand in the comments, tolerance 1e-12
 * relative to rates of order 0.1), warmup, and plateau on a hand-made metric
 * sequence. */
#include <math.h>
#include <string.h>

#include "dtrain/schedule.h"
#include "testutil.h"

#define TOL 1e-12

static dt_sched make(const dt_sched_config *c)
{
    dt_sched s;
    dt_error err;
    ck_assert_msg(sched_init(&s, c, &err) == DT_OK, "%s", err.msg);
    return s;
}

START_TEST(test_constant)
{
    dt_sched_config c = sched_config_default(SCHED_CONSTANT, 0.1);
    dt_sched s = make(&c);
    ck_assert_double_eq_tol(sched_lr(&s, 0, 0, 10), 0.1, TOL);
    ck_assert_double_eq_tol(sched_lr(&s, 12345, 99, 10), 0.1, TOL);
}
END_TEST

START_TEST(test_linear)
{
    /* alpha_0 = 0.1, alpha_tau = 0.01, tau = 100:
     *   k = 0:   0.1
     *   k = 50:  0.5*0.1 + 0.5*0.01           = 0.055
     *   k = 99:  0.01*0.1 + 0.99*0.01         = 0.0109
     *   k >= 100: 0.01 */
    dt_sched_config c = sched_config_default(SCHED_LINEAR, 0.1);
    c.lr_min = 0.01;
    c.decay_steps = 100;
    dt_sched s = make(&c);
    const int64_t k[] = {0, 50, 99, 100, 500};
    const double want[] = {0.1, 0.055, 0.0109, 0.01, 0.01};
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq_tol(sched_lr(&s, k[i], 0, 10), want[i], TOL);
    /* decay_steps = 0: tau = epochs * steps_per_epoch = 10 * 10, the same line */
    c.decay_steps = 0;
    c.epochs = 10;
    s = make(&c);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq_tol(sched_lr(&s, k[i], 0, 10), want[i], TOL);
}
END_TEST

START_TEST(test_step_and_exponential)
{
    /* step: 0.1 * 0.5^floor(e/3): e = 0, 2 -> 0.1; 3 -> 0.05; 8 -> 0.025; 9 -> 0.0125 */
    dt_sched_config c = sched_config_default(SCHED_STEP, 0.1);
    c.gamma = 0.5;
    c.step_epochs = 3;
    dt_sched s = make(&c);
    const int64_t e[] = {0, 2, 3, 8, 9};
    const double want[] = {0.1, 0.1, 0.05, 0.025, 0.0125};
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq_tol(sched_lr(&s, 1000 * e[i], e[i], 1000), want[i], TOL);
    /* exponential: 0.1 * 0.9^e: e = 0 -> 0.1; 2 -> 0.081; 10 -> 0.034867844 */
    c = sched_config_default(SCHED_EXPONENTIAL, 0.1);
    c.gamma = 0.9;
    s = make(&c);
    ck_assert_double_eq_tol(sched_lr(&s, 0, 0, 10), 0.1, TOL);
    ck_assert_double_eq_tol(sched_lr(&s, 25, 2, 10), 0.081, TOL);
    ck_assert_double_eq_tol(sched_lr(&s, 105, 10, 10), 0.03486784401, TOL);
}
END_TEST

START_TEST(test_cosine)
{
    /* alpha_0 = 0.1, eta_min = 0.001, T = 100: s = 0.001 + 0.099 (1 + cos(pi k/100))/2
     *   k = 0 -> 0.1;  25 -> 0.001 + 0.099*0.85355339 = 0.08550179;
     *   30 -> 0.001 + 0.099*(1 + 0.58778525)/2 = 0.07959537;  50 -> 0.0505;
     *   100, 150 -> 0.001 */
    dt_sched_config c = sched_config_default(SCHED_COSINE, 0.1);
    c.lr_min = 0.001;
    c.decay_steps = 100;
    dt_sched s = make(&c);
    const int64_t k[] = {0, 25, 30, 50, 100, 150};
    const double want[] = {0.1, 0.0855017856687341, 0.07959536998847742, 0.0505, 0.001, 0.001};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(sched_lr(&s, k[i], 0, 10), want[i], TOL);
}
END_TEST

START_TEST(test_warmup)
{
    /* W = 4 on constant 0.1: factor (k+1)/4 -> 0.025, 0.05, 0.075, then 0.1 */
    dt_sched_config c = sched_config_default(SCHED_CONSTANT, 0.1);
    c.warmup_steps = 4;
    dt_sched s = make(&c);
    const double want[] = {0.025, 0.05, 0.075, 0.1, 0.1, 0.1};
    for (int k = 0; k < 6; k++)
        ck_assert_double_eq_tol(sched_lr(&s, k, 0, 100), want[k], TOL);
    /* On cosine (T = 100, eta_min 0.001) the schedule keeps its clock:
     * k = 1: (2/4) * s(1), s(1) = 0.001 + 0.099 (1 + cos(pi/100))/2 = 0.0999755747
     * k = 30 (after warmup): s(30) = 0.07959537 as without warmup */
    c = sched_config_default(SCHED_COSINE, 0.1);
    c.lr_min = 0.001;
    c.decay_steps = 100;
    c.warmup_steps = 4;
    s = make(&c);
    ck_assert_double_eq_tol(sched_lr(&s, 1, 0, 10),
                            0.5 * (0.001 + 0.099 * 0.5 * (1.0 + cos(M_PI / 100.0))), TOL);
    ck_assert_double_eq_tol(sched_lr(&s, 1, 0, 10), 0.5 * 0.0999755747, 1e-10);
    ck_assert_double_eq_tol(sched_lr(&s, 30, 3, 10), 0.07959536998847742, TOL);
}
END_TEST

START_TEST(test_plateau_min)
{
    /* mode min, rel threshold 0.1, patience 2, cooldown 1, factor 0.5, lr 1, min lr 0.2.
     * epoch metric  improved?(< best*0.9)  bad  cooldown  scale  cut
     *   0    10     yes (best 10)           0    0         1
     *   1    9.5    no  (needs < 9)         1    0         1
     *   2    8.9    yes (best 8.9)          0    0         1
     *   3    8.5    no  (needs < 8.01)      1    0         1
     *   4    8.5    no                      2    0         1
     *   5    8.5    no  -> 3 > 2            0    1         0.5    yes
     *   6    8.5    no, cooldown -> bad 0   0    0         0.5
     *   7,8  8.5    no                      1,2  0         0.5
     *   9    8.5    no  -> 3 > 2            0    1         0.25   yes
     *   10   8.5    cooldown                0    0         0.25
     *   11,12                               1,2
     *   13   8.5    -> cut to max(0.125, 0.2)                0.2    yes
     *   14   8.5    cooldown                0    0         0.2
     *   15,16                               1,2
     *   17   8.5    -> max(0.1, 0.2) = 0.2, no change           0.2    no
     *               (bad epochs reset and cooldown restarted all the same, as torch) */
    dt_sched_config c = sched_config_default(SCHED_PLATEAU, 1.0);
    c.threshold = 0.1;
    c.patience = 2;
    c.cooldown = 1;
    c.factor = 0.5;
    c.lr_min = 0.2;
    dt_sched s = make(&c);
    const double metric[18] = {10, 9.5, 8.9, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5,
                               8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5};
    const double scale[18] = {1,    1,    1,    1,    1,    0.5,  0.5, 0.5, 0.5,
                              0.25, 0.25, 0.25, 0.25, 0.2,  0.2,  0.2, 0.2, 0.2};
    const int cut[18] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    for (int e = 0; e < 18; e++) {
        int r = sched_observe(&s, metric[e]);
        ck_assert_msg(r == cut[e], "epoch %d: cut %d, want %d", e, r, cut[e]);
        ck_assert_msg(fabs(s.plateau.scale - scale[e]) < TOL, "epoch %d: scale %g, want %g", e,
                      s.plateau.scale, scale[e]);
        ck_assert_double_eq_tol(sched_lr(&s, 10 * (e + 1), e + 1, 10), scale[e], TOL);
    }
    ck_assert_double_eq(s.plateau.best, 8.9);
    ck_assert_int_eq(s.plateau.bad_epochs, 0);
    ck_assert_int_eq(s.plateau.cooldown_left, 1);
}
END_TEST

START_TEST(test_plateau_max_abs)
{
    /* mode max, absolute threshold 0.01, patience 0, factor 0.1, lr 0.1:
     *   e0 0.5   best 0.5
     *   e1 0.505 not > 0.51 -> bad 1 > 0 -> lr 0.01
     *   e2 0.6   improves -> bad 0, lr stays 0.01
     *   e3 NaN   no improvement -> lr 0.001
     * Then a checkpoint copy of the plateau state continues identically. */
    dt_sched_config c = sched_config_default(SCHED_PLATEAU, 0.1);
    c.maximize = 1;
    c.threshold_abs = 1;
    c.threshold = 0.01;
    c.patience = 0;
    dt_sched s = make(&c);
    ck_assert_int_eq(sched_observe(&s, 0.5), 0);
    ck_assert_int_eq(sched_observe(&s, 0.505), 1);
    ck_assert_double_eq_tol(sched_lr(&s, 0, 2, 1), 0.01, TOL);
    ck_assert_int_eq(sched_observe(&s, 0.6), 0);
    ck_assert_double_eq_tol(sched_lr(&s, 0, 3, 1), 0.01, TOL);
    ck_assert_int_eq(sched_observe(&s, NAN), 1);
    ck_assert_double_eq_tol(sched_lr(&s, 0, 4, 1), 0.001, TOL);
    ck_assert_double_eq(s.plateau.best, 0.6);

    dt_sched r = make(&c);
    r.plateau = s.plateau; /* what a checkpoint restores */
    ck_assert_int_eq(sched_observe(&s, 0.55), sched_observe(&r, 0.55));
    ck_assert_double_eq(sched_lr(&s, 0, 5, 1), sched_lr(&r, 0, 5, 1));
    ck_assert_double_eq_tol(sched_lr(&r, 0, 5, 1), 0.0001, TOL);
    /* other kinds ignore the metric */
    dt_sched_config k = sched_config_default(SCHED_CONSTANT, 0.1);
    dt_sched q = make(&k);
    ck_assert_int_eq(sched_observe(&q, 1.0), 0);
    ck_assert_int_eq(sched_observe(&q, 2.0), 0);
    ck_assert_double_eq(sched_lr(&q, 0, 2, 1), 0.1);
}
END_TEST

START_TEST(test_parse_and_checks)
{
    dt_sched_kind k;
    dt_error err;
    const char *names[] = {"constant", "linear", "step", "exponential", "cosine", "plateau"};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(sched_parse(names[i], &k, &err), DT_OK);
        ck_assert_str_eq(sched_name(k), names[i]);
    }
    ck_assert_int_eq(sched_parse("cosin", &k, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "cosin"));

    dt_sched s;
    dt_sched_config c = sched_config_default(SCHED_COSINE, 0.1); /* no decay length */
    ck_assert_int_eq(sched_init(&s, &c, &err), DT_EUSAGE);
    c = sched_config_default(SCHED_LINEAR, 0.1);
    c.decay_steps = 10;
    c.lr_min = 0.5; /* above lr */
    ck_assert_int_eq(sched_init(&s, &c, &err), DT_EUSAGE);
    c = sched_config_default(SCHED_PLATEAU, 0.1);
    c.factor = 1.0;
    ck_assert_int_eq(sched_init(&s, &c, &err), DT_EUSAGE);
    c = sched_config_default(SCHED_CONSTANT, 0.0);
    ck_assert_int_eq(sched_init(&s, &c, &err), DT_EUSAGE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("formulas");
    tcase_add_test(tc, test_constant);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_step_and_exponential);
    tcase_add_test(tc, test_cosine);
    tcase_add_test(tc, test_warmup);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("plateau");
    tcase_add_test(tp, test_plateau_min);
    tcase_add_test(tp, test_plateau_max_abs);
    suite_add_tcase(s, tp);
    TCase *to = tcase_create("options");
    tcase_add_test(to, test_parse_and_checks);
    suite_add_tcase(s, to);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
