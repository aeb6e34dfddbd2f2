/* dtrain: the compute engine, the only interface to oneDNN.
 *
 * The rest of dtrain sees "multiply these": a plan is one matrix product of a
 * fixed shape, created once (oneDNN generates and tunes its kernel then) and
 * run any number of times on different buffers without allocating.
 *
 *     C (m,n) = [C +] op(A) (m,k) * op(B) (k,n) [+ bias (n) on every row], then act
 *
 * All matrices are row-major as stored; op(X) is X or X^T, and the strides
 * describe the stored matrix, so a transposed operand is read where it lies
 * (no copy).  A and B are fp32 or bf16 (PREC_BF16: inputs rounded to bf16,
 * products accumulated in fp32); C and the bias are always fp32.
 *
 * Plans run on one rank's threads (matmul_set_threads) and are deterministic
 * for a given shape, precision and thread count. */
#ifndef DTRAIN_MATMUL_H
#define DTRAIN_MATMUL_H

#include <stddef.h>
#include <stdint.h>
#include "dtrain/activation.h"
#include "dtrain/bf16.h"
#include "dtrain/status.h"

typedef enum { PREC_FP32, PREC_BF16 } dt_precision;

/* "fp32" / "bf16" <-> dt_precision. */
/* The precisions' names, indexed by dt_precision, NULL-terminated. */
extern const char *const precision_names[];
dt_status matmul_precision_parse(const char *text, dt_precision *out, dt_error *err);
const char *matmul_precision_name(dt_precision p);

typedef struct {
    int m, n, k;
    int trans_a, trans_b;  /* 1: the operand is stored transposed: A as (k,m), B as (n,k) */
    int lda, ldb, ldc;     /* row strides (elements) of A, B and C as stored */
    dt_precision prec;     /* element type of A and B */
    int bias;              /* add a bias row (n floats) to every row of C */
    int accumulate;        /* C += product (else C is overwritten and not read) */
    dt_act act;            /* applied last; must satisfy matmul_fuses (identity = none) */
} matmul_shape;

/* 1 if act can be fused into a plan (identity, relu, leaky_relu, tanh,
 * sigmoid); the others (step) are applied by the caller afterwards. */
int matmul_fuses(dt_act act);

typedef struct matmul_plan matmul_plan;

/* Create the plan for shape s (m, n, k >= 1).  Free with matmul_free. */
dt_status matmul_create(matmul_plan **out, const matmul_shape *s, dt_error *err);
/* C as the shape says; A, B are float or dt_bf16 per s->prec; bias is read
 * only if s->bias.  No allocation.  0, or oneDNN's status if it failed (a
 * defect: the plan was made for this shape; C is then undefined). */
int matmul_run(matmul_plan *p, const void *A, const void *B, const float *bias, float *C);
void matmul_free(matmul_plan *p);
/* The engine's name for the implementation it chose for p (oneDNN's
 * implementation string, e.g. "brg:avx512_core"; "?" if it gave none).
 * Owned by p. */
const char *matmul_impl(const matmul_plan *p);

/* Rounding of n contiguous floats to bf16, as a plan of its own: bf16.h's
 * rule where the CPU has the instruction, else oneDNN's reorder. */
typedef struct matmul_cvt matmul_cvt;
dt_status matmul_cvt_create(matmul_cvt **out, size_t n, dt_error *err);
/* 0, or oneDNN's status if the conversion failed (a defect, as matmul_run). */
int matmul_cvt_run(const matmul_cvt *c, dt_bf16 *dst, const float *src);
void matmul_cvt_free(matmul_cvt *c);

/* Whether this CPU computes bf16 products natively (AVX512_BF16 or AMX: 2),
 * through oneDNN's emulation on AVX-512 (1; correct, slower), or not at all
 * (0).  DNNL_MAX_CPU_ISA, oneDNN's own variable, lowers what it uses. */
int matmul_bf16_support(void);
/* DT_OK if prec can run here; a PREC_BF16 that runs emulated sets *warning
 * to a one-line explanation (this thread's static text, until the next
 * call), else NULL.  DT_EUSAGE if not. */
dt_status matmul_check_precision(dt_precision prec, const char **warning, dt_error *err);

/* Threads oneDNN may use in this process (its OpenMP runtime: the calling
 * thread's count); dtrain uses 1 per rank by default.  matmul_threads: the
 * count now. */
void matmul_set_threads(int n);
int matmul_threads(void);

/* "oneDNN 2.6.3 (avx512_core_bf16)": the library and the instruction set its
 * kernels use on this CPU.  Static storage. */
const char *matmul_library_version(void);

/* Bytes of scratch memory the plans and conversions alive share (0 once the
 * last is freed). */
size_t matmul_scratch_bytes(void);

/* --- the floating-point environment of the threads that compute ---
 *
 * dtrain sets it rather than inheriting its caller's: on x86, MXCSR is
 * 0x1F80 (every exception masked, round to nearest) plus, with
 * DENORMALS_FLUSH, FTZ (a subnormal result becomes 0) and DAZ (a subnormal
 * input is read as 0).  Subnormal floats appear as Adam's moments and the
 * gradients decay; some CPUs take a microcode assist on each, and FTZ|DAZ
 * avoids it.  DENORMALS_KEEP computes IEEE subnormals whatever the caller
 * had set.  A scope covers one library call: matmul_fpenv_enter sets the
 * calling thread, and the OpenMP threads oneDNN runs on are set before the
 * first product or conversion that uses them (matmul_run, matmul_cvt_run:
 * the team of matmul_threads() threads then); matmul_fpenv_leave puts back
 * every thread's own value as the scope found it (libgomp keeps a thread
 * number's worker from one parallel region to the next).  Scopes nest (a
 * callback of one run computing with another) and end in reverse order on
 * the thread that began them.  On other CPUs the calls do nothing: the
 * environment is the caller's. */
typedef enum { DENORMALS_FLUSH, DENORMALS_KEEP } dt_denormals;
/* "flush", "keep", indexed by dt_denormals, NULL-terminated. */
extern const char *const denormals_names[];

/* The most OpenMP threads whose environment a scope sets (--threads' maximum);
 * a larger team computes with its further threads as they are. */
#define MATMUL_FPENV_TEAM 1024
typedef struct matmul_fpenv {
    struct matmul_fpenv *outer; /* the scope this one is inside, or NULL */
    unsigned csr;               /* the value set */
    unsigned caller;            /* the calling thread's value before */
    int team;                   /* threads 0..team-1 of the OpenMP team are set */
    unsigned saved[MATMUL_FPENV_TEAM]; /* thread i's value before (1 <= i < team) */
} matmul_fpenv;

/* Begin a scope in *e (the caller's storage until matmul_fpenv_leave). */
void matmul_fpenv_enter(matmul_fpenv *e, dt_denormals mode);
/* End the innermost scope, e: every thread it set gets its value back. */
void matmul_fpenv_leave(matmul_fpenv *e);
/* Around a callback into the caller's code inside a scope: the calling
 * thread's own value while it runs (pause), the scope's again after
 * (resume).  No-ops outside a scope. */
void matmul_fpenv_pause(void);
void matmul_fpenv_resume(void);
/* The calling thread's MXCSR (0 where there is none): for tests. */
unsigned matmul_fpenv_csr(void);

#endif
