/* Peak tests: the kernels do the FLOPs they count, the measured peak is a
 * real rate (positive, finite, below what any core could reach), and plain
 * scalar code does not beat it; the streaming kernels write exactly what
 * they should and nothing else, and are timed, on arrays sized for the
 * node's cache and memory; the CPU's name is the one
 * /proc/cpuinfo gives.  No test compares two timings closely:
 * other work on the machine only slows a sample down, and the bounds below
 * leave a factor of at least 2 (physical limit) or the vector width (scalar)
 * to spare. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Copy and triad on 1003 elements (not a multiple of any vector width, so
 * the loops' tails run) at an offset of one float (unaligned): every element
 * as computed by hand, in integers and halves exact in fp32 (b + s c with
 * b = i, c = i % 7 - 3, s = 0.5), and the guard elements on either side
 * untouched.  The bytes per element by STREAM's rule: 2 arrays x 4 (copy),
 * 3 x 4 (triad). */
START_TEST(test_stream_kernels_exact)
{
    enum { N = 1003, GUARD = 5 };
    static float a[N + 2 * GUARD], b[N + 1], c[N + 1];
    for (int i = 0; i < N; i++) {
        b[i + 1] = (float)i;
        c[i + 1] = (float)(i % 7 - 3);
    }
    for (int k = PEAK_COPY; k <= PEAK_TRIAD; k++) {
        for (int i = 0; i < N + 2 * GUARD; i++) a[i] = -99.0f;
        peak_stream_kernel((peak_stream)k, a + GUARD, b + 1, c + 1, 0.5f, N);
        for (int i = 0; i < N; i++) {
            const double want = k == PEAK_COPY ? i : i + 0.5 * (i % 7 - 3);
            ck_assert_msg(a[GUARD + i] == want, "%s: a[%d] = %g, want %g",
                          peak_stream_name((peak_stream)k), i, a[GUARD + i], want);
        }
        for (int i = 0; i < GUARD; i++) {
            ck_assert_float_eq(a[i], -99.0f);
            ck_assert_float_eq(a[GUARD + N + i], -99.0f);
        }
    }
    ck_assert_int_eq(peak_stream_bytes(PEAK_COPY), 2 * 4);
    ck_assert_int_eq(peak_stream_bytes(PEAK_TRIAD), 3 * 4);
    ck_assert_str_eq(peak_stream_name(PEAK_COPY), "copy");
    ck_assert_str_eq(peak_stream_name(PEAK_TRIAD), "triad");
}
END_TEST

static int syncs;
static void count_sync(void *ctx)
{
    ck_assert_ptr_eq(ctx, &syncs);
    syncs++;
}

/* The arrays as documented (aligned, filled), a timing of every pass with
 * the hook before each (one untimed pass of each kernel first), rates that
 * are real (positive, finite, under 100 TB/s: 16 MB at that rate would take
 * 0.16 us, a loop removed or cut short), the default size in its bounds,
 * and bad arguments refused. */
START_TEST(test_stream_timed)
{
    peak_arrays x;
    dt_error err;
    ck_assert_int_eq(peak_arrays_alloc(&x, 0, &err), DT_EUSAGE);
    const size_t n = (size_t)1 << 20; /* 4 MB per array */
    ck_assert_int_eq(peak_arrays_alloc(&x, n, &err), DT_OK);
    ck_assert_uint_eq(x.n, n);
    ck_assert_uint_eq((uintptr_t)x.a % 64, 0);
    ck_assert_uint_eq((uintptr_t)x.b % 64, 0);
    ck_assert_uint_eq((uintptr_t)x.c % 64, 0);
    ck_assert(x.b >= x.a + n && x.c >= x.b + n);
    ck_assert(x.a[n - 1] == 0.0f && x.b[n - 1] == 1.0f && x.c[n - 1] == 2.0f);
    double tc[4], tt[4];
    syncs = 0;
    ck_assert_int_eq(peak_stream_time(&x, 4, count_sync, &syncs, tc, tt, &err), DT_OK);
    ck_assert_int_eq(syncs, 2 * (4 + 1));
    for (int i = 0; i < 4; i++) {
        ck_assert(isfinite(tc[i]) && tc[i] > 0 && isfinite(tt[i]) && tt[i] > 0);
        ck_assert_double_lt(8.0 * n / tc[i], 1e14);
        ck_assert_double_lt(12.0 * n / tt[i], 1e14);
    }
    /* the last pass was a triad: b + 3 c = 7 everywhere */
    for (size_t i = 0; i < n; i++)
        if (x.a[i] != 7.0f)
            ck_abort_msg("a[%zu] = %g after the triad, want 7", i, x.a[i]);
    ck_assert_int_eq(peak_stream_time(&x, 0, NULL, NULL, tc, tt, &err), DT_EUSAGE);
    peak_arrays_free(&x);
    ck_assert_ptr_null(x.a);
    ck_assert_int_eq(peak_stream_time(&x, 1, NULL, NULL, tc, tt, &err), DT_EUSAGE);
}
END_TEST

/* The arrays' size per rank as a function of (last-level cache, ranks on
 * the node, available memory), every expectation worked out by hand: 4 LLC
 * shared by the node's ranks, within 16 .. 128 MiB, and the node's 3 arrays
 * x ranks at most 1/8 of its available memory, rounded down to 64 bytes. */
START_TEST(test_stream_size)
{
    const size_t MiB = (size_t)1 << 20, GiB = (size_t)1 << 30;
    ck_assert_uint_eq(PEAK_STREAM_MIN_BYTES, 16 * MiB);
    ck_assert_uint_eq(PEAK_STREAM_MAX_BYTES, 128 * MiB);
    ck_assert_int_eq(PEAK_STREAM_MEM_SHARE, 8);
    /* one rank: 4 x 32 MiB; four share it: 4 x 32 / 4 */
    ck_assert_uint_eq(peak_stream_array_bytes(32 * MiB, 1, 0), 128 * MiB);
    ck_assert_uint_eq(peak_stream_array_bytes(32 * MiB, 4, 0), 32 * MiB);
    /* 64 ranks: 4 x 32 / 64 = 2 MiB, raised to the floor */
    ck_assert_uint_eq(peak_stream_array_bytes(32 * MiB, 64, 0), 16 * MiB);
    /* a VM's whole-chip L3 of 508 MiB: 2 ranks 1016 MiB, held to the
     * maximum; 64 ranks 532676608 / 64 = 8323072 x 4 = 33292288 (31.75 MiB),
     * 64 x 3 x 31.75 MiB = 5.95 GiB for the node, where each rank held
     * 3 x 128 MiB (24 GiB) before the ranks were counted */
    ck_assert_uint_eq(peak_stream_array_bytes(532676608, 2, 0), 128 * MiB);
    ck_assert_uint_eq(peak_stream_array_bytes(532676608, 64, 0), 33292288);
    /* ... and with 24 GiB available: 24 GiB / 8 / (3 x 64) = 16 MiB, the cap */
    ck_assert_uint_eq(peak_stream_array_bytes(532676608, 64, 24 * GiB), 16 * MiB);
    /* memory to spare: no cap (64 GiB / 8 / 3 = 2.67 GiB > 128 MiB) */
    ck_assert_uint_eq(peak_stream_array_bytes(32 * MiB, 1, 64 * GiB), 128 * MiB);
    /* the cap wins over the floor: 256 MiB / 8 / (3 x 2) = 5592405 bytes,
     * down to a multiple of 64: 87381 x 64 = 5592384 */
    ck_assert_uint_eq(peak_stream_array_bytes(32 * MiB, 2, 256 * MiB), 5592384);
    /* no memory to speak of: 1000 / 8 / 3 = 41 bytes, at least 64 */
    ck_assert_uint_eq(peak_stream_array_bytes(32 * MiB, 1, 1000), 64);
    /* an unknown cache is taken as 8 MiB: 32 MiB at one rank, the floor at 4 */
    ck_assert_uint_eq(peak_stream_array_bytes(0, 1, 0), 32 * MiB);
    ck_assert_uint_eq(peak_stream_array_bytes(0, 4, 0), 16 * MiB);
    /* no rank count is one rank; a cache of SIZE_MAX does not overflow */
    ck_assert_uint_eq(peak_stream_array_bytes(32 * MiB, 0, 0), 128 * MiB);
    ck_assert_uint_eq(peak_stream_array_bytes(SIZE_MAX, 1, 0), 128 * MiB);
    /* swept: never above the node's share of its memory (while that is at
     * least 64 bytes a rank), never below the floor without the cap, and
     * never fewer bytes for fewer ranks */
    for (int R = 1; R <= 256; R++)
        for (size_t avail = 64 * MiB; avail <= 512 * GiB; avail *= 2) {
            const size_t b = peak_stream_array_bytes(48 * MiB, R, avail);
            ck_assert_uint_eq(b % 64, 0);
            ck_assert_uint_le(3 * (size_t)R * b, avail / 8);
            ck_assert(b == (avail / 8 / (3 * (size_t)R)) / 64 * 64 || b >= 16 * MiB);
            if (R > 1)
                ck_assert_uint_ge(peak_stream_array_bytes(48 * MiB, R - 1, avail), b);
        }
    /* this machine's figures are plausible: memory available, at most 1 PiB */
    const size_t avail = peak_avail_bytes();
    ck_assert_uint_gt(avail, 0);
    ck_assert_uint_le(avail / GiB, 1 << 20);
    ck_assert_uint_le(peak_llc_bytes() / GiB, 64);
}
END_TEST

/* The out-of-memory failure names the size the arrays would have had. */
START_TEST(test_stream_oom_message)
{
    dt_error err;
    ck_assert_int_eq(peak_arrays_oom((size_t)32 << 20, &err), DT_ENOMEM);
    ck_assert_str_eq(err.msg, "stream: out of memory for 3 arrays of 128 MiB");
}
END_TEST

/* The model name: not empty, no spaces at its ends, and /proc/cpuinfo's
 * first "model name" where there is one (read here by sscanf, another
 * parser than peak.c's). */
START_TEST(test_cpu_model)
{
    char got[128], brand[64];
    ck_assert_ptr_eq(peak_cpu_model(got, sizeof got), got);
    const size_t len = strlen(got);
    ck_assert_uint_gt(len, 0);
    ck_assert(got[0] != ' ' && got[len - 1] != ' ' && got[len - 1] != '\n');
    peak_cpu_brand(brand, sizeof brand);
    ck_assert(!brand[0] || (brand[0] != ' ' && brand[strlen(brand) - 1] != ' '));
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512], want[256] = "";
    while (!want[0] && fgets(line, sizeof line, f))
        if (sscanf(line, "model name : %255[^\n]", want) != 1)
            want[0] = '\0';
    fclose(f);
    for (size_t k = strlen(want); k > 0 && want[k - 1] == ' '; k--) want[k - 1] = '\0';
    if (want[0])
        ck_assert_str_eq(got, want);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("peak");
    TCase *tc = tcase_create("kernel");
    tcase_add_loop_test(tc, test_kernel_does_the_flops_it_counts, 0, 3);
    tcase_add_test(tc, test_unsupported_is_refused);
    tcase_add_test(tc, test_stream_kernels_exact);
    tcase_add_test(tc, test_cpu_model);
    tcase_add_test(tc, test_stream_size);
    tcase_add_test(tc, test_stream_oom_message);
    suite_add_tcase(s, tc);
    tc = tcase_create("measure");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_peak_is_a_real_rate, 0, 2);
    tcase_add_test(tc, test_scalar_not_above_peak);
    tcase_add_test(tc, test_stream_timed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
