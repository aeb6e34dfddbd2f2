/* dtrain: the fp32 multiply-add peak of one core, the streaming bandwidth
 * and the CPU's name (see peak.h).
 *
 * Each vector kernel is compiled for its instruction set alone (a target
 * attribute, not -march), and called only after __builtin_cpu_supports says
 * the CPU and the OS have it, so the binary stays portable. */
#include "dtrain/peak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dtrain/testhooks.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define PEAK_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define PEAK_X86 0
#endif

/* The same statement for each chain; S(c) names its accumulator a##c. */
#define PEAK_EACH(S) S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)
_Static_assert(PEAK_CHAINS == 12, "PEAK_EACH lists the chains one by one");

const char *peak_isa_name(peak_isa isa)
{
    switch (isa) {
    case PEAK_ISA_NONE: return "none";
    case PEAK_ISA_SCALAR: return "scalar";
    case PEAK_ISA_AVX2_FMA: return "avx2_fma";
    case PEAK_ISA_AVX512F: return "avx512f";
    }
    return "?";
}

int peak_isa_supported(peak_isa isa)
{
    switch (isa) {
    case PEAK_ISA_SCALAR: return 1;
#if PEAK_X86
    /* libgcc's and compiler-rt's checks include the OS saving the wide
     * registers (XCR0), not only the CPUID bits */
    case PEAK_ISA_AVX2_FMA: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PEAK_ISA_AVX512F: return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

peak_isa peak_best_isa(void)
{
    if (peak_isa_supported(PEAK_ISA_AVX512F))
        return PEAK_ISA_AVX512F;
    if (peak_isa_supported(PEAK_ISA_AVX2_FMA))
        return PEAK_ISA_AVX2_FMA;
    return PEAK_ISA_NONE;
}

/* Plain C: a multiply and an add per chain (2 FLOP), in whatever instructions
 * the baseline target gives them. */
static double kernel_scalar(int64_t iters, float start, float mul, float add)
{
#define DECL(c) float a##c = start + (float)(c);
#define STEP(c) a##c = a##c * mul + add;
#define SUM(c) sum += a##c;
    PEAK_EACH(DECL)
    for (int64_t i = 0; i < iters; i++) {
        PEAK_EACH(STEP)
    }
    double sum = 0.0;
    PEAK_EACH(SUM)
    return sum;
#undef DECL
#undef STEP
#undef SUM
}

#if PEAK_X86
/* 12 chains x 16 lanes, one vfmadd per chain per iteration. */
__attribute__((target("avx512f"))) static double kernel_avx512(int64_t iters, float start,
                                                                float mul, float add)
{
    const __m512 m = _mm512_set1_ps(mul), d = _mm512_set1_ps(add);
    float lane[16];
#define DECL(c) __m512 a##c = _mm512_set1_ps(start + (float)(c));
#define STEP(c) a##c = _mm512_fmadd_ps(a##c, m, d);
#define SUM(c)                                                                                 \
    _mm512_storeu_ps(lane, a##c);                                                              \
    for (int j = 0; j < 16; j++)                                                               \
        sum += lane[j];
    PEAK_EACH(DECL)
    for (int64_t i = 0; i < iters; i++) {
        PEAK_EACH(STEP)
    }
    double sum = 0.0;
    PEAK_EACH(SUM)
    return sum;
#undef DECL
#undef STEP
#undef SUM
}

/* 12 chains x 8 lanes. */
__attribute__((target("avx2,fma"))) static double kernel_avx2(int64_t iters, float start,
                                                               float mul, float add)
{
    const __m256 m = _mm256_set1_ps(mul), d = _mm256_set1_ps(add);
    float lane[8];
#define DECL(c) __m256 a##c = _mm256_set1_ps(start + (float)(c));
#define STEP(c) a##c = _mm256_fmadd_ps(a##c, m, d);
#define SUM(c)                                                                                 \
    _mm256_storeu_ps(lane, a##c);                                                              \
    for (int j = 0; j < 8; j++)                                                                \
        sum += lane[j];
    PEAK_EACH(DECL)
    for (int64_t i = 0; i < iters; i++) {
        PEAK_EACH(STEP)
    }
    double sum = 0.0;
    PEAK_EACH(SUM)
    return sum;
#undef DECL
#undef STEP
#undef SUM
}
#endif

double peak_kernel(peak_isa isa, int64_t iters, float start, float mul, float add,
                   double *flop)
{
    int lanes = 0;
    double sum = 0.0;
    if (iters > 0 && peak_isa_supported(isa)) {
        switch (isa) {
        case PEAK_ISA_SCALAR:
            lanes = 1;
            sum = kernel_scalar(iters, start, mul, add);
            break;
#if PEAK_X86
        case PEAK_ISA_AVX2_FMA:
            lanes = 8;
            sum = kernel_avx2(iters, start, mul, add);
            break;
        case PEAK_ISA_AVX512F:
            lanes = 16;
            sum = kernel_avx512(iters, start, mul, add);
            break;
#endif
        default: break;
        }
    }
    *flop = 2.0 * (double)iters * PEAK_CHAINS * lanes;
    return sum;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed run of iters iterations: its seconds, or -1 if the kernel's
 * result is wrong.  With mul 1 and add 0 every lane of chain c stays at
 * exactly start + c, so the sum is known: checking it consumes the result (the
 * loop cannot be optimised away) and catches a broken kernel.  (The FMA units
 * take as long for these values as for any others but subnormals.) */
static double timed_run(peak_isa isa, int64_t iters, double *flop)
{
    /* read at run time: the compiler cannot know the values */
    static volatile float v_start = 1.0f, v_mul = 1.0f, v_add = 0.0f;
    float start = v_start, mul = v_mul, add = v_add;
    double t0 = now_s();
    double sum = peak_kernel(isa, iters, start, mul, add, flop);
    double t = now_s() - t0;
    /* chains x lanes values, averaging start + (PEAK_CHAINS - 1) / 2 */
    double expect = *flop / (2.0 * (double)iters) * (start + (PEAK_CHAINS - 1) / 2.0);
    return sum == expect ? t : -1.0;
}

dt_status peak_measure(peak_isa isa, int samples, double sample_s, peak_result *out,
                       dt_error *err)
{
    if (!peak_isa_supported(isa))
        return dt_fail(err, DT_EUSAGE, "peak: the %s kernel cannot run on this CPU",
                       peak_isa_name(isa));
    if (samples < 1 || samples > 1000 || !(sample_s >= 1e-4 && sample_s <= 10))
        return dt_fail(err, DT_EUSAGE,
                       "peak: %d samples of %g s (expected 1 .. 1000 samples of 1e-4 .. 10 s)",
                       samples, sample_s);
    /* Calibrate: double the iterations until a run lasts a quarter sample
     * (these runs also bring the core out of its idle clock), then one
     * sample-long warm-up at the final count. */
    int64_t iters = 256;
    double t, flop;
    for (;;) {
        if ((t = timed_run(isa, iters, &flop)) < 0)
            return dt_fail(err, DT_EINTERNAL, "peak: the %s kernel computed a wrong sum",
                           peak_isa_name(isa));
        if (t >= sample_s / 4 || iters >= ((int64_t)1 << 40))
            break;
        iters *= 2;
    }
    iters = (int64_t)((double)iters * sample_s / (t > 0 ? t : sample_s)) + 1;
    double *rate = malloc((size_t)samples * sizeof *rate);
    if (!rate)
        return dt_fail(err, DT_ENOMEM, "peak: out of memory");
    dt_status st = DT_OK;
    for (int i = -1; i < samples && !st; i++) { /* i = -1: the warm-up */
        if ((t = timed_run(isa, iters, &flop)) < 0)
            st = dt_fail(err, DT_EINTERNAL, "peak: the %s kernel computed a wrong sum",
                         peak_isa_name(isa));
        else if (i >= 0)
            rate[i] = t > 0 ? flop / t * 1e-9 : 0.0;
    }
    if (!st) {
        qsort(rate, (size_t)samples, sizeof *rate, cmp_double);
        out->isa = isa;
        out->gflops = rate[samples - 1];
        out->median_gflops = samples % 2 ? rate[samples / 2]
                                         : 0.5 * (rate[samples / 2 - 1] + rate[samples / 2]);
        out->samples = samples;
        out->sample_s = sample_s;
    }
    free(rate);
    return st;
}

/* ---- streaming bandwidth ---- */

const char *peak_stream_name(peak_stream k) { return k == PEAK_COPY ? "copy" : "triad"; }

int peak_stream_bytes(peak_stream k) { return k == PEAK_COPY ? 8 : 12; }

DT_HOT static void stream_copy(float *restrict a, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = b[i];
}

DT_HOT static void stream_triad(float *restrict a, const float *restrict b,
                                const float *restrict c, float s, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}

void peak_stream_kernel(peak_stream k, float *a, const float *b, const float *c, float s,
                        size_t n)
{
    if (k == PEAK_COPY)
        stream_copy(a, b, n);
    else
        stream_triad(a, b, c, s, n);
}

size_t peak_stream_array_bytes(size_t llc_bytes, int ranks_on_node, size_t avail_bytes)
{
    const size_t ranks = ranks_on_node > 1 ? (size_t)ranks_on_node : 1;
    const size_t llc = llc_bytes > 0 ? llc_bytes : PEAK_STREAM_LLC_GUESS;
    const size_t share = llc / ranks; /* of the cache; 4 x share cannot overflow below */
    size_t bytes = share > PEAK_STREAM_MAX_BYTES / 4 ? PEAK_STREAM_MAX_BYTES : 4 * share;
    if (bytes < PEAK_STREAM_MIN_BYTES)
        bytes = PEAK_STREAM_MIN_BYTES;
    /* MemAvailable is what the whole node can still have without swapping:
     * other jobs' processes, this job's other buffers and MPI's shared
     * segments need it as much as the arrays do, and the rate is the same for
     * any size well past the caches, so the arrays take a small share. */
    if (avail_bytes > 0) {
        const size_t cap = avail_bytes / PEAK_STREAM_MEM_SHARE / (3 * ranks);
        if (bytes > cap)
            bytes = cap;
    }
    bytes = bytes / 64 * 64;
    return bytes > 64 ? bytes : 64;
}

size_t peak_llc_bytes(void)
{
    long llc = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0)
        llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return llc > 0 ? (size_t)llc : 0;
}

size_t peak_avail_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kib;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
                fclose(f);
                return kib <= SIZE_MAX / 1024 ? (size_t)kib * 1024 : SIZE_MAX;
            }
        fclose(f);
    }
    long pages = -1, page = sysconf(_SC_PAGE_SIZE);
#ifdef _SC_AVPHYS_PAGES
    pages = sysconf(_SC_AVPHYS_PAGES);
#endif
    if (pages <= 0 || page <= 0)
        return 0;
    return (size_t)pages <= SIZE_MAX / (size_t)page ? (size_t)pages * (size_t)page : SIZE_MAX;
}

dt_status peak_arrays_oom(size_t n, dt_error *err)
{
    return dt_fail(err, DT_ENOMEM, "stream: out of memory for 3 arrays of %.4g MiB",
                   (double)n * sizeof(float) / 1048576.0);
}

dt_status peak_arrays_alloc(peak_arrays *x, size_t n, dt_error *err)
{
    memset(x, 0, sizeof *x);
    if (n == 0 || n > ((size_t)1 << 40))
        return dt_fail(err, DT_EUSAGE, "stream: arrays of %zu floats (expected 1 .. 2^40)", n);
    /* each array starts on a 64-byte line: n rounded up to 16 floats */
    const size_t stride = (n + 15) / 16 * 16;
    void *p = NULL;
    if (posix_memalign(&p, 64, 3 * stride * sizeof(float)) != 0)
        return peak_arrays_oom(n, err);
    x->n = n;
    x->a = p;
    x->b = x->a + stride;
    x->c = x->b + stride;
    for (size_t i = 0; i < n; i++) {
        x->a[i] = 0.0f;
        x->b[i] = 1.0f;
        x->c[i] = 2.0f;
    }
    return DT_OK;
}

void peak_arrays_free(peak_arrays *x)
{
    free(x->a);
    memset(x, 0, sizeof *x);
}

/* a[] after a pass of k on peak_arrays_alloc's b and c, with s = 3. */
static float stream_expect(peak_stream k) { return k == PEAK_COPY ? 1.0f : 7.0f; }

/* One pass of k on x, timed; -1 if its output is wrong.  s is read at run
 * time, so the compiler cannot fold the triad into a constant store. */
static double stream_pass(peak_stream k, peak_arrays *x)
{
    static volatile float v_s = 3.0f;
    const float s = v_s;
    const size_t n = x->n;
    double t0 = now_s();
    peak_stream_kernel(k, x->a, x->b, x->c, s, n);
    double t = now_s() - t0;
    const float want = stream_expect(k);
    return x->a[0] == want && x->a[n / 2] == want && x->a[n - 1] == want ? t : -1.0;
}

dt_status peak_stream_time(peak_arrays *x, int samples, void (*sync)(void *), void *ctx,
                           double *t_copy, double *t_triad, dt_error *err)
{
    if (!x->a || samples < 1 || samples > 1000)
        return dt_fail(err, DT_EUSAGE, "stream: %d samples (expected 1 .. 1000) on arrays of "
                       "%zu floats", samples, x->n);
    dt_status st = DT_OK;
    for (int i = -1; i < samples; i++) { /* i = -1: untimed */
        for (int k = PEAK_COPY; k <= PEAK_TRIAD; k++) {
            if (sync)
                sync(ctx);
            double t = stream_pass((peak_stream)k, x);
            if (t < 0 && !st)
                st = dt_fail(err, DT_EINTERNAL, "stream: the %s kernel wrote a wrong value",
                             peak_stream_name((peak_stream)k));
            if (i >= 0)
                *(k == PEAK_COPY ? &t_copy[i] : &t_triad[i]) = t;
        }
    }
    return st;
}

/* ---- the CPU's name ---- */

/* s without the spaces at its ends, moved to the start of s. */
static void trim(char *s)
{
    size_t start = strspn(s, " \t"), len = strlen(s + start);
    while (len > 0 && (s[start + len - 1] == ' ' || s[start + len - 1] == '\t' ||
                       s[start + len - 1] == '\n'))
        len--;
    memmove(s, s + start, len);
    s[len] = '\0';
}

const char *peak_cpu_brand(char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
#if PEAK_X86
    /* CPUID 0x80000002 .. 0x80000004: 48 bytes of brand string */
    unsigned r[12];
    /* unsigned in GCC's cpuid.h, int in clang's */
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) < 0x80000004u)
        return buf;
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char brand[49];
    memcpy(brand, r, 48);
    brand[48] = '\0';
    snprintf(buf, size, "%s", brand);
    trim(buf);
#endif
    return buf;
}

/* /proc/cpuinfo's first "model name"; 0 without. */
static int cpuinfo_model(char *buf, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon && !strncmp(line, "model name", 10)) {
            snprintf(buf, size, "%s", colon + 1);
            trim(buf);
            found = buf[0] != '\0';
        }
    }
    fclose(f);
    return found;
}

const char *peak_cpu_model(char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (dt_hooks.cpu_model) {
        snprintf(buf, size, "%s", dt_hooks.cpu_model);
        return buf;
    }
    if (!cpuinfo_model(buf, size) && !peak_cpu_brand(buf, size)[0])
        snprintf(buf, size, "unknown");
    return buf;
}
