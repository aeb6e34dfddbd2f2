/* dtrain: the limits of the machine the run is on, measured with kernels of
 * ours: the core's fp32 multiply-add peak, its streaming bandwidth to
 * memory, and the CPU's name.
 *
 * The kernel is PEAK_CHAINS independent chains, each a vector of lanes floats:
 *
 *     acc_c <- acc_c * mul + add        c = 0 .. PEAK_CHAINS - 1, every iteration
 *
 * one fused multiply-add instruction per chain (2 FLOP per lane).  With more
 * chains than the FMA latency times the FMA units, the loop is bound by the
 * FMA units' throughput alone: the highest fp32 rate one core can reach, the
 * ceiling any GEMM is measured against.
 *
 * The instruction set is chosen at run time (the binary is built for the
 * baseline x86-64): AVX-512F (16 lanes) where the CPU and the OS have it, else
 * AVX2 + FMA (8 lanes), else none.  PEAK_ISA_SCALAR is plain C, as the
 * compiler makes it (one multiply and one add per chain): a reference for the
 * tests, not a peak. */
#ifndef DTRAIN_PEAK_H
#define DTRAIN_PEAK_H

#include <stdint.h>

#include "dtrain/status.h"

#define PEAK_CHAINS 12

typedef enum { PEAK_ISA_NONE, PEAK_ISA_SCALAR, PEAK_ISA_AVX2_FMA, PEAK_ISA_AVX512F } peak_isa;

/* "none", "scalar", "avx2_fma", "avx512f". */
const char *peak_isa_name(peak_isa isa);
/* 1 if this CPU can run isa's kernel (scalar: always; none: never). */
int peak_isa_supported(peak_isa isa);
/* The widest supported vector ISA: AVX512F, else AVX2_FMA, else NONE. */
peak_isa peak_best_isa(void);

/* Run the kernel iters times, the lanes of chain c starting at start + c
 * (distinct chains: identical ones would let the compiler merge them into
 * one).  Returns the sum over chains and lanes of the final accumulators (in
 * double, so the work is consumed and cannot be optimised away) and sets
 * *flop to the FLOPs done: 2 * iters * PEAK_CHAINS * lanes.  With mul 1 and
 * add 1, every lane of chain c ends at start + c + iters (exact while below
 * 2^24).  isa must be supported (else returns 0 with *flop 0). */
double peak_kernel(peak_isa isa, int64_t iters, float start, float mul, float add,
                   double *flop);

typedef struct {
    peak_isa isa;
    double gflops;      /* fastest sample: GFLOP/s (1e9 FLOP/s) on this core */
    double median_gflops;
    int samples;
    double sample_s;    /* seconds each sample lasted, about */
} peak_result;

/* Time isa's kernel: samples samples (1 .. 1000) of about sample_s seconds
 * (1e-4 .. 10) each, after a warm-up that lets the clock settle.  Other work
 * on the core can only slow a sample down, so the fastest one is the peak.
 * DT_EUSAGE if isa is not supported here or the arguments are out of range. */
dt_status peak_measure(peak_isa isa, int samples, double sample_s, peak_result *out,
                       dt_error *err);

/* ---- streaming bandwidth ----
 *
 * Two loops over float arrays a, b, c of n elements each (STREAM's copy and
 * triad, as plain C compiled like the optimizer's loops: DT_HOT):
 *
 *     copy    a[i] = b[i]               8 bytes per element
 *     triad   a[i] = b[i] + s * c[i]    12 bytes per element
 *
 * The bytes are counted as STREAM counts them, each array once: a CPU that
 * reads a's lines before it writes them (write-allocate) moves 4 bytes per
 * element more, not counted.  With arrays well beyond the last-level cache
 * the rate is that of memory. */
typedef enum { PEAK_COPY, PEAK_TRIAD } peak_stream;

/* An array's default size per rank lies in PEAK_STREAM_MIN_BYTES ..
 * PEAK_STREAM_MAX_BYTES unless the node's memory caps it (see
 * peak_stream_array_bytes).  The floor is 8 times the largest private L2 of
 * a server core (2 MiB), so that a rank's arrays never sit in its own
 * caches, and 4 times a 32 MiB L3 shared by 8 ranks (one AMD CCD, which the
 * OS reports as the last-level cache while the node has several). */
#define PEAK_STREAM_MIN_BYTES ((size_t)16 << 20)
#define PEAK_STREAM_MAX_BYTES ((size_t)128 << 20)
/* The last-level cache assumed where the OS reports none: 32 MiB arrays at
 * one rank, as before the size depended on the ranks. */
#define PEAK_STREAM_LLC_GUESS ((size_t)8 << 20)
/* The share of the node's available memory that the arrays of all its ranks
 * may take together: 1/PEAK_STREAM_MEM_SHARE (see peak_stream_array_bytes). */
#define PEAK_STREAM_MEM_SHARE 8

/* "copy", "triad". */
const char *peak_stream_name(peak_stream k);
/* Bytes counted per element: 8 (copy), 12 (triad). */
int peak_stream_bytes(peak_stream k);
/* One pass of k over n elements (c and s unused by copy).  The arrays must
 * not overlap. */
void peak_stream_kernel(peak_stream k, float *a, const float *b, const float *c, float s,
                        size_t n);

/* The arrays of a measurement (n floats each, 64-byte aligned; a, b, c in
 * one allocation of 3n floats).  Owned by the struct: peak_arrays_free. */
typedef struct {
    size_t n;
    float *a, *b, *c;
} peak_arrays;

/* The size of each array of one rank, in bytes (a multiple of 64), when
 * ranks_on_node ranks (at least 1) stream at once on a node whose
 * last-level cache is llc_bytes (0: unknown, PEAK_STREAM_LLC_GUESS) and
 * which has avail_bytes of memory available (0: unknown, no cap):
 *
 *     per rank   4 llc / ranks_on_node, within PEAK_STREAM_MIN_BYTES .. _MAX_
 *     node cap   3 arrays x ranks_on_node x size <= avail / PEAK_STREAM_MEM_SHARE
 *
 * The ranks of a node share its last-level cache and run the kernels at
 * once, so together they still stream 4 times the cache through it; the
 * maximum holds a virtual machine that reports a whole chip's L3 as one
 * core's.  The cap wins over the floor (a measurement of the caches is
 * better than the OOM killer), down to 64 bytes.  A pure function. */
size_t peak_stream_array_bytes(size_t llc_bytes, int ranks_on_node, size_t avail_bytes);
/* The last-level cache the OS reports (sysconf: L3, else L2), bytes; 0 if
 * it reports none. */
size_t peak_llc_bytes(void);
/* The memory this machine has available for new allocations, bytes:
 * /proc/meminfo's MemAvailable (free memory plus the page cache that can be
 * reclaimed), else sysconf's free pages; 0 if neither is known.  Limits of a
 * cgroup or of RLIMIT_AS are not seen. */
size_t peak_avail_bytes(void);
/* Allocate and fill (every page touched, so no sample pays for the first
 * touch): b[i] = 1, c[i] = 2, a[i] = 0.  DT_EUSAGE for n 0, DT_ENOMEM (the
 * message gives the size in MiB). */
dt_status peak_arrays_alloc(peak_arrays *x, size_t n, dt_error *err);
/* peak_arrays_alloc's DT_ENOMEM for arrays of n floats: "stream: out of
 * memory for 3 arrays of N MiB" (also for a caller that refuses the size). */
dt_status peak_arrays_oom(size_t n, dt_error *err);
/* NULL members allowed; zeroes *x. */
void peak_arrays_free(peak_arrays *x);

/* samples (1 .. 1000) passes of copy and of triad on x, alternately, each
 * timed alone, with sync(ctx) (when not NULL: e.g. a barrier, so that every
 * rank streams at once) before each; one untimed pass of each first.
 * Seconds per pass into t_copy[i], t_triad[i].  Each pass's output is
 * checked at its first, middle and last element (copy: 1, triad with s = 3:
 * 7, exact), which also keeps the stores from being optimised away:
 * DT_EINTERNAL if wrong, DT_EUSAGE for bad arguments. */
dt_status peak_stream_time(peak_arrays *x, int samples, void (*sync)(void *), void *ctx,
                           double *t_copy, double *t_triad, dt_error *err);

/* ---- the CPU's name ---- */

/* The CPU's model name into buf (size bytes, NUL-terminated, spaces at the
 * ends removed): /proc/cpuinfo's first "model name" (what lscpu shows),
 * else the CPUID brand string, else "unknown".  Returns buf. */
const char *peak_cpu_model(char *buf, size_t size);
/* The CPUID brand string (x86), spaces at the ends removed; "" elsewhere.
 * Usually the same text as the model name, but a hypervisor can show the
 * kernel another (a virtual machine here: "AMD EPYC" in /proc/cpuinfo,
 * "Oxide Virtual Turin-like Processor" from CPUID).  Returns buf. */
const char *peak_cpu_brand(char *buf, size_t size);

#endif
