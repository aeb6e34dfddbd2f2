/* Sums whose bits do not depend on their grouping (exsum.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/exsum.h"
#include "dtrain/rng.h"
#include "testutil.h"

enum { N = 1000 };

/* N terms with magnitudes from 2^-40 to 2^20 and both signs. */
static void make_terms(double *v)
{
    dt_rng r;
    rng_seed(&r, 5, 1, 0);
    for (int i = 0; i < N; i++)
        v[i] = ldexp(rng_uniform(&r) + 0.5, (int)(rng_uniform(&r) * 60) - 40) *
               (rng_uniform(&r) < 0.5 ? -1 : 1);
}

START_TEST(test_grouping_does_not_matter)
{
    /* The N terms summed one after the other into one column, and summed in
     * 7 uneven groups of columns added in reverse: the same integer, so the
     * same double; within N grid units (each truncation loses < 1) of the
     * sum in long double. */
    double v[N];
    make_terms(v);
    int64_t code = 0;
    for (int i = 0; i < N; i++) exsum_exp_each(v + i, 1, &code);
    const int s = exsum_shift(code, N);
    int64_t one = 0, part[7] = {0};
    for (int i = 0; i < N; i++) exsum_add_each(&one, v + i, &s, 1);
    const int cut[8] = {0, 3, 100, 101, 500, 777, 900, N};
    for (int g = 0; g < 7; g++)
        for (int i = cut[g]; i < cut[g + 1]; i++) exsum_add_each(&part[g], v + i, &s, 1);
    int64_t grouped = 0;
    for (int g = 6; g >= 0; g--) grouped += part[g];
    ck_assert(one == grouped);
    long double ref = 0;
    for (int i = 0; i < N; i++) ref += v[i];
    ck_assert_msg(fabsl(ref - exsum_value(one, s)) <= N * ldexp(1.0, -s), "%Lg vs %g", ref,
                  exsum_value(one, s));
    /* the plain double sums of the two groupings differ: the test can fail */
    double plain = 0, pg = 0, pp[7] = {0};
    for (int i = 0; i < N; i++) plain += v[i];
    for (int g = 0; g < 7; g++)
        for (int i = cut[g]; i < cut[g + 1]; i++) pp[g] += v[i];
    for (int g = 6; g >= 0; g--) pg += pp[g];
    ck_assert(plain != pg);
}
END_TEST

START_TEST(test_codes_and_limits)
{
    /* 1.5 = 1.1b x 2^0: field 1023, so |x| < 2^1; zeros 0; NaN and Inf flagged */
    double v[4] = {1.5, 0.0, NAN, INFINITY};
    int64_t c[4] = {0, 0, 0, 0};
    exsum_exp_each(v, 4, c);
    ck_assert_int_eq(c[0], 1023);
    ck_assert_int_eq(c[1], 0);
    ck_assert_int_eq(c[2], EXSUM_NONFINITE);
    ck_assert_int_eq(c[3], EXSUM_NONFINITE);
    /* 1024 terms just below 2^1 (code 1023) fit without overflow: s = 62 -
     * 10 - 1 = 51; each term is truncated to the grid 2^-51, 2 - 2^-51, and
     * the sum is 1024 times that */
    const double big = 2.0 - ldexp(1.0, -52);
    int64_t code = 0;
    exsum_exp_each(&big, 1, &code);
    const int s = exsum_shift(code, 1024);
    ck_assert_int_eq(s, 51);
    int64_t acc = 0;
    for (int i = 0; i < 1024; i++) exsum_add_each(&acc, &big, &s, 1);
    ck_assert(exsum_value(acc, s) == 1024 * 2.0 - 1024 * ldexp(1.0, -51));
    /* tiny terms (subnormal range) keep working: 3 x 2^-1060 */
    const double tiny = ldexp(1.0, -1060);
    code = 0;
    exsum_exp_each(&tiny, 1, &code);
    const int st = exsum_shift(code, 3);
    acc = 0;
    for (int i = 0; i < 3; i++) exsum_add_each(&acc, &tiny, &st, 1);
    ck_assert(exsum_value(acc, st) == 3 * tiny);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exsum");
    TCase *tc = tcase_create("exsum");
    tcase_add_test(tc, test_grouping_does_not_matter);
    tcase_add_test(tc, test_codes_and_limits);
    suite_add_tcase(s, tc);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
