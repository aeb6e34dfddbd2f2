/* Compute-engine tests: every kind of plan the model uses (operands stored
 * plain or transposed, with a row stride wider than the matrix, bias,
 * accumulation, each fused activation) against a triple loop in double
 * written here, in fp32 and bf16; the bf16 rounding against values worked
 * out by hand.  ctest also runs this under DNNL_MAX_CPU_ISA=AVX512_CORE,
 * where bf16 is emulated and the rounding goes through oneDNN's reorder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/matmul.h"
#include "testutil.h"

/* Round-to-nearest-even to bf16, the reference: keep the upper 16 bits of
 * the float, adding half an ulp of bf16 (0x7fff, +1 when the kept part is
 * odd, so that ties go to even). */
static float ref_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof u);
    return x;
}

static float bf16_value(dt_bf16 h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static int have_bf16(const char *test)
{
    if (matmul_bf16_support())
        return 1;
    fprintf(stderr, "check_matmul: no bf16 on this CPU, %s skipped\n", test);
    return 0;
}

START_TEST(test_bf16_rounding_by_hand)
{
    if (!have_bf16("test_bf16_rounding_by_hand"))
        return;
    /* by hand: 1/3 = 0x3EAAAAAB -> 0x3EAB (the dropped 0xAAAB > half);
     * 1 + 2^-8 = 0x3F808000 is a tie -> even 0x3F80; 1 + 3*2^-8 = 0x3F818000
     * is a tie -> even 0x3F82; -2.5 = 0xC0200000 exact; 65504 = 0x477FE000
     * -> 0x4780 (65536, up); 1e-3 = 0x3A83126F -> 0x3A83 */
    const float x[6] = {1.0f / 3.0f, 1.00390625f, 1.01171875f, -2.5f, 65504.0f, 1e-3f};
    const dt_bf16 want[6] = {0x3EAB, 0x3F80, 0x3F82, 0xC020, 0x4780, 0x3A83};
    /* 70 values: two full blocks of 32 and a tail of 6 */
    float src[70];
    dt_bf16 dst[70];
    for (int i = 0; i < 70; i++) src[i] = x[i % 6];
    matmul_cvt *c;
    dt_error err;
    ck_assert_int_eq(matmul_cvt_create(&c, 70, &err), DT_OK);
    matmul_cvt_run(c, dst, src);
    for (int i = 0; i < 70; i++)
        ck_assert_msg(dst[i] == want[i % 6], "value %d (%.9g): 0x%04X, want 0x%04X", i,
                      (double)src[i], dst[i], want[i % 6]);
    matmul_cvt_free(c);
}
END_TEST

/* NaN stays NaN and infinities stay infinite wherever a value falls: in a
 * block of 32 or in the tail (a NaN's bits plus the rounding increment would
 * carry into the exponent: 0x7f800001 -> +Inf, 0x7fffffff -> -0). */
START_TEST(test_bf16_rounding_special)
{
    if (!have_bf16("test_bf16_rounding_special"))
        return;
    const uint32_t bits[5] = {0x7f800001u, 0x7fffffffu, 0xffffffffu, 0x7f800000u, 0xff800000u};
    float src[37];
    dt_bf16 dst[37];
    for (int i = 0; i < 37; i++) {
        uint32_t u = bits[i % 5];
        memcpy(&src[i], &u, sizeof u);
    }
    matmul_cvt *c;
    dt_error err;
    ck_assert_int_eq(matmul_cvt_create(&c, 37, &err), DT_OK);
    matmul_cvt_run(c, dst, src);
    for (int i = 0; i < 37; i++) {
        float v = bf16_value(dst[i]);
        if (i % 5 < 3)
            ck_assert_msg(isnan(v), "NaN 0x%08X at %d became 0x%04X", bits[i % 5], i, dst[i]);
        else
            ck_assert_msg(isinf(v) && (v > 0) == (i % 5 == 3), "Inf at %d became 0x%04X", i,
                          dst[i]);
        /* the tail (32..36) gives what the block gave for the same input */
        if (i >= 32)
            ck_assert_msg(dst[i] == dst[i - 5 * 6], "position %d: 0x%04X, block 0x%04X", i,
                          dst[i], dst[i - 30]);
    }
    matmul_cvt_free(c);
}
END_TEST

START_TEST(test_bf16_rounding_many)
{
    if (!have_bf16("test_bf16_rounding_many"))
        return;
    enum { N = 1000 };
    float src[N];
    dt_bf16 dst[N];
    for (int i = 0; i < N; i++) src[i] = (float)(sin(0.37 * i) * pow(10.0, i % 9 - 4));
    matmul_cvt *c;
    dt_error err;
    ck_assert_int_eq(matmul_cvt_create(&c, N, &err), DT_OK);
    matmul_cvt_run(c, dst, src);
    for (int i = 0; i < N; i++)
        ck_assert_msg(bf16_value(dst[i]) == ref_bf16(src[i]), "%.9g -> %.9g, want %.9g",
                      (double)src[i], (double)bf16_value(dst[i]), (double)ref_bf16(src[i]));
    matmul_cvt_free(c);
}
END_TEST

/* One rule wherever a value lies: every length 0..70 (blocks of 32, masked
 * vectors of 16 and fewer) with subnormals, NaNs, ties and ordinary values
 * at every position, through bf16_round and through a conversion plan;
 * nothing written past n.  Only where the CPU rounds natively (elsewhere
 * the plan is oneDNN's reorder, and bf16_round is never called). */
START_TEST(test_bf16_round_one_rule)
{
    if (matmul_bf16_support() != 2) {
        fprintf(stderr, "check_matmul: no native bf16, test_bf16_round_one_rule skipped\n");
        return;
    }
    /* smallest and largest subnormal, both signs; a NaN whose rounding
     * increment would carry; ties to even up and down; ordinary values */
    const uint32_t bits[9] = {0x00000001u, 0x807fffffu, 0x00400000u, 0x7fffffffu, 0x3F808000u,
                              0x3F818000u, 0x3EAAAAABu, 0xC0200000u, 0x00800000u};
    enum { MAX = 70 };
    float src[MAX];
    dt_bf16 a[MAX + 1], b[MAX + 1];
    for (int i = 0; i < MAX; i++) {
        const uint32_t u = bits[(i * 5 + i / 9) % 9];
        memcpy(&src[i], &u, sizeof u);
    }
    for (size_t n = 0; n <= MAX; n++) {
        for (int i = 0; i <= MAX; i++) a[i] = b[i] = 0xBEEF;
        bf16_round(a, src, n);
        matmul_cvt *c;
        dt_error err;
        ck_assert_int_eq(matmul_cvt_create(&c, n, &err), DT_OK);
        ck_assert_int_eq(matmul_cvt_run(c, b, src), 0);
        matmul_cvt_free(c);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(a[i] == tu_bf16_rule(src[i]), "n %zu, value %zu (0x%08X): 0x%04X, want 0x%04X",
                          n, i, bits[(i * 5 + i / 9) % 9], a[i], tu_bf16_rule(src[i]));
            ck_assert_msg(b[i] == a[i], "n %zu, value %zu: plan 0x%04X, bf16_round 0x%04X", n, i,
                          b[i], a[i]);
        }
        ck_assert_msg(a[n] == 0xBEEF && b[n] == 0xBEEF, "n %zu: written past the end", n);
    }
}
END_TEST

static double ref_act(dt_act a, double x)
{
    switch (a.kind) {
    case ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case ACT_TANH: return tanh(x);
    case ACT_RELU: return x > 0 ? x : 0.0;
    case ACT_LEAKY_RELU: return x > 0 ? x : a.slope * x;
    default: return x;
    }
}

/* One plan of shape s against the double loop; operands hold values in
 * [-1, 1), and in bf16 the reference multiplies the bf16-rounded values, so
 * only the fp32 accumulation differs: tolerance 1e-5 relative to the sum of
 * |terms| (k terms of fp32 rounding 6e-8 each, and the activations of
 * oneDNN's post-ops, accurate to a few ulps). */
static void check_plan(const matmul_shape *s)
{
    const int M = s->m, N = s->n, K = s->k;
    /* stored matrices: A (M,K) or (K,M) transposed, row stride lda */
    const int a_rows = s->trans_a ? K : M, b_rows = s->trans_b ? N : K;
    float *A = malloc(sizeof(float) * (size_t)a_rows * s->lda);
    float *B = malloc(sizeof(float) * (size_t)b_rows * s->ldb);
    float *C = malloc(sizeof(float) * (size_t)M * s->ldc), bias[64];
    dt_bf16 *A16 = malloc(sizeof(dt_bf16) * (size_t)a_rows * s->lda);
    dt_bf16 *B16 = malloc(sizeof(dt_bf16) * (size_t)b_rows * s->ldb);
    for (int i = 0; i < a_rows * s->lda; i++) A[i] = (float)sin(1.1 * i + 0.3);
    for (int i = 0; i < b_rows * s->ldb; i++) B[i] = (float)cos(0.7 * i);
    for (int i = 0; i < M * s->ldc; i++) C[i] = 0.25f * (float)(i % 5) - 0.5f;
    for (int j = 0; j < N; j++) bias[j] = 0.1f * (float)j - 0.3f;
    const int bf16 = s->prec == PREC_BF16;
    if (bf16) {
        for (int i = 0; i < a_rows * s->lda; i++) A[i] = ref_bf16(A[i]);
        for (int i = 0; i < b_rows * s->ldb; i++) B[i] = ref_bf16(B[i]);
        /* the exact bf16 of each (already rounded) value: its upper half */
        for (int i = 0; i < a_rows * s->lda; i++) {
            uint32_t u;
            memcpy(&u, &A[i], 4);
            A16[i] = (dt_bf16)(u >> 16);
        }
        for (int i = 0; i < b_rows * s->ldb; i++) {
            uint32_t u;
            memcpy(&u, &B[i], 4);
            B16[i] = (dt_bf16)(u >> 16);
        }
    }
    double *want = malloc(sizeof(double) * (size_t)M * N), *mag = malloc(sizeof(double) * (size_t)M * N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = s->accumulate ? C[i * s->ldc + j] : 0.0, m = fabs(sum);
            for (int p = 0; p < K; p++) {
                double a = s->trans_a ? A[p * s->lda + i] : A[i * s->lda + p];
                double b = s->trans_b ? B[j * s->ldb + p] : B[p * s->ldb + j];
                sum += a * b;
                m += fabs(a * b);
            }
            if (s->bias) {
                sum += bias[j];
                m += fabs(bias[j]);
            }
            want[i * N + j] = ref_act(s->act, sum);
            mag[i * N + j] = m;
        }
    matmul_plan *p;
    dt_error err;
    ck_assert_int_eq(matmul_create(&p, s, &err), DT_OK);
    const float pad = 12345.0f; /* the columns between n and ldc are not touched */
    for (int i = 0; i < M; i++)
        for (int j = N; j < s->ldc; j++) C[i * s->ldc + j] = pad;
    matmul_run(p, bf16 ? (const void *)A16 : A, bf16 ? (const void *)B16 : B, bias, C);
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double got = C[i * s->ldc + j], w = want[i * N + j];
            ck_assert_msg(fabs(got - w) <= 1e-5 * (1.0 + mag[i * N + j]),
                          "%s %dx%dx%d trans %d%d acc %d bias %d act %d: C[%d][%d] = %.8g, "
                          "want %.8g",
                          matmul_precision_name(s->prec), M, N, K, s->trans_a, s->trans_b,
                          s->accumulate, s->bias, s->act.kind, i, j, got, w);
        }
        for (int j = N; j < s->ldc; j++) ck_assert_float_eq(C[i * s->ldc + j], pad);
    }
    matmul_free(p);
    free(A);
    free(B);
    free(C);
    free(A16);
    free(B16);
    free(want);
    free(mag);
}

/* The model's three products (forward with bias and activation, weight
 * gradient reading dZ transposed, input gradient) at a few shapes, both
 * precisions, plus strides wider than the matrices. */
START_TEST(test_plans_against_reference)
{
    const dt_act acts[] = {{ACT_IDENTITY, 0}, {ACT_SIGMOID, 0}, {ACT_TANH, 0},
                           {ACT_RELU, 0},     {ACT_LEAKY_RELU, 0.2f}};
    const dt_act id = {ACT_IDENTITY, 0};
    const int shapes[][3] = {{7, 5, 3}, {1, 10, 33}, {40, 17, 64}};
    for (int pr = 0; pr < 2; pr++) {
        const dt_precision prec = pr ? PREC_BF16 : PREC_FP32;
        if (prec == PREC_BF16 && !have_bf16("bf16 plans"))
            continue;
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            const int nb = shapes[sh][0], n_out = shapes[sh][1], n_in = shapes[sh][2];
            for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
                matmul_shape f = {.m = nb, .n = n_out, .k = n_in, .trans_b = 1, .lda = n_in,
                                  .ldb = n_in, .ldc = n_out, .prec = prec, .bias = 1,
                                  .act = acts[a]};
                check_plan(&f);
            }
            for (int acc = 0; acc < 2; acc++) {
                matmul_shape w = {.m = n_out, .n = n_in, .k = nb, .trans_a = 1, .lda = n_out,
                                  .ldb = n_in, .ldc = n_in, .prec = prec, .accumulate = acc,
                                  .act = id};
                check_plan(&w);
            }
            matmul_shape x = {.m = nb, .n = n_in, .k = n_out, .lda = n_out, .ldb = n_in,
                              .ldc = n_in, .prec = prec, .act = id};
            check_plan(&x);
            /* wider row strides than the matrices, both operands transposed */
            matmul_shape t = {.m = nb, .n = n_out, .k = n_in, .trans_a = 1, .trans_b = 1,
                              .lda = nb + 3, .ldb = n_in + 2, .ldc = n_out + 5, .prec = prec,
                              .bias = 1, .accumulate = 1, .act = acts[3]};
            check_plan(&t);
        }
    }
}
END_TEST

START_TEST(test_refusals)
{
    matmul_plan *p;
    dt_error err;
    matmul_shape bad = {.m = 0, .n = 2, .k = 2, .lda = 2, .ldb = 2, .ldc = 2};
    ck_assert_int_eq(matmul_create(&p, &bad, &err), DT_EINTERNAL);
    ck_assert_ptr_null(p);
    matmul_shape step = {.m = 2, .n = 2, .k = 2, .lda = 2, .ldb = 2, .ldc = 2,
                         .act = {ACT_STEP, 0}};
    ck_assert_int_eq(matmul_fuses(step.act), 0);
    ck_assert_int_eq(matmul_create(&p, &step, &err), DT_EINTERNAL);
    dt_precision prec;
    ck_assert_int_eq(matmul_precision_parse("bf16", &prec, &err), DT_OK);
    ck_assert_int_eq(prec, PREC_BF16);
    ck_assert_int_eq(matmul_precision_parse("fp16", &prec, &err), DT_EUSAGE);
    ck_assert_str_eq(err.msg, "unknown precision 'fp16' (expected fp32 or bf16)");
    ck_assert_str_eq(err.option, "precision");
    const char *warning;
    dt_status st = matmul_check_precision(PREC_BF16, &warning, &err);
    /* consistent with what the CPU offers: refused, warned or silent */
    switch (matmul_bf16_support()) {
    case 0: ck_assert_int_eq(st, DT_EUSAGE); break;
    case 1: ck_assert_int_eq(st, DT_OK); ck_assert_ptr_nonnull(warning); break;
    default: ck_assert_int_eq(st, DT_OK); ck_assert_ptr_null(warning); break;
    }
    ck_assert_int_eq(matmul_check_precision(PREC_FP32, &warning, &err), DT_OK);
}
END_TEST

/* The scratch memory the plans share lives as long as they do: a plan keeps
 * it, the last one's matmul_free releases it (a process that has freed its
 * runs' models holds none of it), and a plan made after that has its own
 * again and computes as before. */
START_TEST(test_scratch_freed_with_last_plan)
{
    const dt_act id = {ACT_IDENTITY, 0};
    matmul_shape s = {.m = 40, .n = 17, .k = 64, .trans_b = 1, .lda = 64, .ldb = 64,
                      .ldc = 17, .prec = PREC_FP32, .bias = 1, .act = id};
    matmul_plan *p, *q;
    dt_error err;
    ck_assert_uint_eq(matmul_scratch_bytes(), 0); /* the other tests freed theirs */
    ck_assert_int_eq(matmul_create(&p, &s, &err), DT_OK);
    ck_assert_int_eq(matmul_create(&q, &s, &err), DT_OK);
    ck_assert_uint_gt(matmul_scratch_bytes(), 0);
    matmul_free(p);
    ck_assert_uint_gt(matmul_scratch_bytes(), 0); /* q still uses it */
    matmul_free(q);
    ck_assert_uint_eq(matmul_scratch_bytes(), 0);
    check_plan(&s);
    ck_assert_uint_eq(matmul_scratch_bytes(), 0);
}
END_TEST

#ifdef __SSE__
#include <xmmintrin.h>

/* libgomp's ABI (what `#pragma omp parallel` compiles to), to look at the
 * MXCSR of the OpenMP threads oneDNN computes on. */
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
int omp_get_thread_num(void);

#define CSR_FLAGS 0x3Fu /* the sticky exception flags, set by any arithmetic */
#define TEAM 2

static void read_csr(void *arg) { ((unsigned *)arg)[omp_get_thread_num()] = _mm_getcsr(); }
static void write_csr(void *arg) { _mm_setcsr(*(const unsigned *)arg); }

/* Every thread's MXCSR in a team of TEAM, flags left out. */
static void team_csr(unsigned v[TEAM])
{
    GOMP_parallel(read_csr, v, TEAM, 0);
    for (int i = 0; i < TEAM; i++) v[i] &= ~CSR_FLAGS;
}

/* C (m,64) = A (m,64) B (64,64), every A = a and every B = b; C's largest
 * and smallest |entry|. */
static void product(float a, float b, float *lo, float *hi)
{
    enum { M = 256, K = 64 };
    const matmul_shape s = {.m = M, .n = K, .k = K, .lda = K, .ldb = K, .ldc = K,
                            .prec = PREC_FP32, .act = {ACT_IDENTITY, 0}};
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * K),
          *C = malloc(sizeof(float) * M * K);
    for (int i = 0; i < M * K; i++) A[i] = a; /* stores only: no arithmetic reads them */
    for (int i = 0; i < K * K; i++) B[i] = b;
    matmul_plan *p;
    dt_error err;
    ck_assert_int_eq(matmul_create(&p, &s, &err), DT_OK);
    ck_assert_int_eq(matmul_run(p, A, B, NULL, C), 0);
    *lo = INFINITY;
    *hi = 0;
    for (int i = 0; i < M * K; i++) {
        *lo = fminf(*lo, fabsf(C[i]));
        *hi = fmaxf(*hi, fabsf(C[i]));
    }
    matmul_free(p);
    free(A);
    free(B);
    free(C);
}

/* Subnormal results and inputs, on the calling thread and in oneDNN's
 * products at 1 and 2 threads, by hand (FLT_MIN = 1.18e-38):
 *   FTZ: 1e-20 * 1e-20 = 1e-40, subnormal; a row of 64 of them sums to
 *        6.4e-39, still subnormal: 0 with flush, 6.4e-39 (within 1e-3:
 *        each product is rounded to a multiple of 2^-149 = 1.4e-45) with keep;
 *   DAZ: 1e-40 (a subnormal input) * 1e30 = 1e-10, normal: 0 with flush,
 *        6.4e-9 for a row of 64 with keep (within 1e-4 relative: 1e-40 is
 *        stored as 71362 x 2^-149 = 9.99995e-41).
 * The caller's own MXCSR (FTZ and DAZ set, rounding toward zero, so that
 * inheriting it would show in keep's results), set on the calling thread
 * and the OpenMP worker, is each one's again after the scope, and inside it
 * every thread of the team has the scope's. */
START_TEST(test_denormals_flush_and_keep)
{
    const unsigned caller = 0x1F80u | 0x8040u | 0x6000u; /* masked, FTZ|DAZ, toward zero */
    const unsigned want[2] = {[DENORMALS_FLUSH] = 0x1F80u | 0x8040u,
                              [DENORMALS_KEEP] = 0x1F80u};
    for (int threads = 1; threads <= TEAM; threads++)
        for (int mode = DENORMALS_FLUSH; mode <= DENORMALS_KEEP; mode++) {
            matmul_set_threads(threads);
            unsigned caller_copy = caller, before[TEAM], inside[TEAM], after[TEAM];
            GOMP_parallel(write_csr, &caller_copy, TEAM, 0); /* the caller's, on every thread */
            team_csr(before);
            for (int i = 0; i < TEAM; i++) ck_assert_uint_eq(before[i], caller);
            matmul_fpenv fp;
            matmul_fpenv_enter(&fp, (dt_denormals)mode);
            volatile float tiny = 1e-20f, sub = 1e-40f, big = 1e30f;
            const float ftz = tiny * tiny, daz = sub * big;
            float ftz_lo, ftz_hi, daz_lo, daz_hi;
            product(1e-20f, 1e-20f, &ftz_lo, &ftz_hi);
            product(1e-40f, 1e30f, &daz_lo, &daz_hi);
            ck_assert_uint_eq(matmul_fpenv_csr() & ~CSR_FLAGS, want[mode]);
            if (threads == TEAM) {
                team_csr(inside);
                for (int i = 0; i < TEAM; i++) ck_assert_uint_eq(inside[i], want[mode]);
            }
            matmul_fpenv_leave(&fp);
            ck_assert_uint_eq(_mm_getcsr() & ~CSR_FLAGS, caller);
            team_csr(after);
            for (int i = 0; i < TEAM; i++) ck_assert_uint_eq(after[i], caller);
            _mm_setcsr(0x1F80u);
            if (mode == DENORMALS_FLUSH) {
                ck_assert(ftz == 0.0f && daz == 0.0f);
                ck_assert(ftz_hi == 0.0f && daz_hi == 0.0f);
            } else {
                ck_assert_float_eq_tol(ftz, 1e-40f, 1e-44f);
                ck_assert_float_eq_tol(daz, 1e-10f, 1e-14f);
                ck_assert_float_eq_tol(ftz_lo, 6.4e-39f, 6.4e-42f);
                ck_assert_float_eq_tol(ftz_hi, 6.4e-39f, 6.4e-42f);
                ck_assert_float_eq_tol(daz_lo, 6.4e-9f, 6.4e-12f);
                ck_assert_float_eq_tol(daz_hi, 6.4e-9f, 6.4e-12f);
            }
        }
    matmul_set_threads(1);
}
END_TEST
#endif

static Suite *suite(void)
{
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bf16_rounding_by_hand);
    tcase_add_test(tc, test_bf16_rounding_many);
    tcase_add_test(tc, test_bf16_round_one_rule);
    tcase_add_test(tc, test_bf16_rounding_special);
    tcase_add_test(tc, test_plans_against_reference);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_scratch_freed_with_last_plan);
#ifdef __SSE__
    tcase_add_test(tc, test_denormals_flush_and_keep);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fprintf(stderr, "check_matmul: %s, bf16 support %d\n", matmul_library_version(),
            matmul_bf16_support());
    return tu_run(suite()) ? 1 : 0;
}
