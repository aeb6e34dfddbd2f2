/* Peak tests: the kernels do the FLOPs they count, the measured peak is a
 * real rate (positive, finite, below what any core could reach), and plain
 * scalar code does not beat it.  No test compares two timings closely:
 * other work on the machine only slows a sample down, and the bounds below
 * leave a factor of at least 2 (physical limit) or the vector width (scalar)
 * to spare. */
#include <math.h>

#include "dtrain/peak.h"
#include "testutil.h"

static const peak_isa vector_isas[] = {PEAK_ISA_AVX2_FMA, PEAK_ISA_AVX512F};

/* Lanes of each kernel, by hand: AVX2 ymm 8 floats, AVX-512 zmm 16. */
static int lanes_of(peak_isa isa)
{
    return isa == PEAK_ISA_AVX512F ? 16 : isa == PEAK_ISA_AVX2_FMA ? 8 : isa == PEAK_ISA_SCALAR;
}

/* With mul 1 and add 1 every lane counts its iterations from start + c
 * (chain c), so the sum is the number of multiply-adds done plus the starts
 * (exact in fp32 below 2^24): a kernel that drops a chain or a lane, stops
 * early, ignores its start, or miscounts its FLOPs fails here. */
START_TEST(test_kernel_does_the_flops_it_counts)
{
    const peak_isa isas[] = {PEAK_ISA_SCALAR, PEAK_ISA_AVX2_FMA, PEAK_ISA_AVX512F};
    const peak_isa isa = isas[_i];
    if (!peak_isa_supported(isa))
        return;
    ck_assert_int_eq(PEAK_CHAINS, 12); /* the sums below are by hand for 12 */
    const int64_t iters = 1000;
    const double lanes = lanes_of(isa);
    double flop = -1.0;
    double sum = peak_kernel(isa, iters, 0.0f, 1.0f, 1.0f, &flop);
    ck_assert_double_eq(flop, 2.0 * iters * 12 * lanes);
    /* sum over c = 0 .. 11 of (c + 1000), per lane: 66 + 12000 */
    ck_assert_double_eq(sum, lanes * (66 + 12 * 1000));
    ck_assert_double_eq(sum, flop / 2 + lanes * 66);
    /* start 3: 12 * 3 more per lane */
    sum = peak_kernel(isa, iters, 3.0f, 1.0f, 1.0f, &flop);
    ck_assert_double_eq(sum, lanes * (36 + 66 + 12 * 1000));
}
END_TEST

START_TEST(test_unsupported_is_refused)
{
    double flop = -1.0;
    ck_assert_double_eq(peak_kernel(PEAK_ISA_NONE, 100, 0.0f, 1.0f, 1.0f, &flop), 0.0);
    ck_assert_double_eq(flop, 0.0);
    peak_result r;
    dt_error err;
    ck_assert_int_eq(peak_measure(PEAK_ISA_NONE, 3, 1e-3, &r, &err), DT_EUSAGE);
    ck_assert_int_eq(peak_measure(PEAK_ISA_SCALAR, 0, 1e-3, &r, &err), DT_EUSAGE);
    ck_assert_int_eq(peak_measure(PEAK_ISA_SCALAR, 3, 0.0, &r, &err), DT_EUSAGE);
    ck_assert_int_eq(peak_measure(PEAK_ISA_SCALAR, 3, NAN, &r, &err), DT_EUSAGE);
    /* the best ISA is one that runs, and the widest */
    peak_isa best = peak_best_isa();
    ck_assert(best == PEAK_ISA_NONE || peak_isa_supported(best));
    if (peak_isa_supported(PEAK_ISA_AVX512F))
        ck_assert_int_eq(best, PEAK_ISA_AVX512F);
    else if (peak_isa_supported(PEAK_ISA_AVX2_FMA))
        ck_assert_int_eq(best, PEAK_ISA_AVX2_FMA);
    else
        ck_assert_int_eq(best, PEAK_ISA_NONE);
}
END_TEST

/* Each supported vector ISA: a positive, finite rate, best >= median, and
 * below 8 GHz x 4 FMA units x lanes x 2 FLOP, at least twice what any x86
 * core has (2 FMA units, under 6 GHz).  A loop the compiler removed or
 * shortened would time as nearly nothing and blow through that bound. */
START_TEST(test_peak_is_a_real_rate)
{
    const peak_isa isa = vector_isas[_i];
    if (!peak_isa_supported(isa))
        return;
    peak_result r;
    dt_error err;
    ck_assert_int_eq(peak_measure(isa, 5, 0.02, &r, &err), DT_OK);
    ck_assert_int_eq(r.isa, isa);
    ck_assert_int_eq(r.samples, 5);
    ck_assert(isfinite(r.gflops));
    ck_assert_double_gt(r.median_gflops, 0.0);
    ck_assert_double_ge(r.gflops, r.median_gflops);
    ck_assert_double_lt(r.gflops, 8.0 * 4 * lanes_of(isa) * 2);
}
END_TEST

/* Plain scalar code, timed the same way, is not faster than the peak: it does
 * at most one float per operation where the kernel does 8 or 16, so noise
 * would have to slow every vector sample down by that factor to break this. */
START_TEST(test_scalar_not_above_peak)
{
    peak_isa best = peak_best_isa();
    if (best == PEAK_ISA_NONE)
        return;
    peak_result vec, scalar;
    dt_error err;
    ck_assert_int_eq(peak_measure(best, 5, 0.02, &vec, &err), DT_OK);
    ck_assert_int_eq(peak_measure(PEAK_ISA_SCALAR, 5, 0.02, &scalar, &err), DT_OK);
    ck_assert_double_gt(scalar.gflops, 0.0);
    ck_assert_double_le(scalar.gflops, vec.gflops);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("peak");
    TCase *tc = tcase_create("kernel");
    tcase_add_loop_test(tc, test_kernel_does_the_flops_it_counts, 0, 3);
    tcase_add_test(tc, test_unsupported_is_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("measure");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_peak_is_a_real_rate, 0, 2);
    tcase_add_test(tc, test_scalar_not_above_peak);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
