/* dtrain: matrix products on oneDNN.  The only file that includes oneDNN's
 * headers or talks to its OpenMP runtime. */
#include "dtrain/matmul.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

/* OpenMP's C API (GNU libgomp, the runtime oneDNN is built on), declared
 * here because clang's <omp.h> belongs to another runtime. */
void omp_set_num_threads(int n);
int omp_get_max_threads(void);
int omp_get_thread_num(void);
/* What GCC compiles `#pragma omp parallel num_threads(n)` into (libgomp's
 * ABI): fn(data) on each of the team's n threads, the caller as thread 0. */
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

struct matmul_plan {
    matmul_shape s;
    dnnl_primitive_t prim;
    /* memory objects bound to the shape; matmul_run points them at the
     * caller's buffers (dnnl_memory_set_data_handle: no allocation) */
    dnnl_memory_t src, wei, dst, bias;
    char impl[64]; /* oneDNN's implementation string (matmul_impl) */
};

/* Rounding to bf16: the CPU's own instruction where it has one, else
 * oneDNN's reorder.  (oneDNN 2.6's reorder of a plain vector takes 115-150
 * us for the standard model's 235 146 parameters here, VCVTNE2PS2BF16 26-47
 * us, the same bits; the copy of the weights is made before every forward.) */
struct matmul_cvt {
    size_t n;
    dnnl_primitive_t prim; /* NULL: bf16_round */
    dnnl_memory_t src, dst;
};

/* One engine and stream per process (handles to the CPU, no memory of a
 * run's), made by the first plan and kept. */
static dnnl_engine_t engine;
static dnnl_stream_t stream;
/* Scratch memory every plan shares (plans run one at a time in a process:
 * dtrain.h's runs do not overlap in two threads): grown when a plan that
 * needs more is created, never while one runs, and freed with the last plan
 * or conversion, so that nothing of a run's size outlives its models. */
static void *scratch;
static size_t scratch_bytes;
static dnnl_memory_t scratch_mem; /* over scratch, remade with it */
static size_t n_plans;            /* plans and conversions alive */

static void plans_added(void) { n_plans++; }

static void plans_removed(void)
{
    if (--n_plans > 0)
        return;
    if (scratch_mem)
        dnnl_memory_destroy(scratch_mem);
    free(scratch);
    scratch_mem = NULL;
    scratch = NULL;
    scratch_bytes = 0;
}

static dt_status dnnl_fail(dt_error *err, dnnl_status_t s, const char *what)
{
    if (s == dnnl_unimplemented)
        return dt_fail(err, DT_EUSAGE, "oneDNN has no kernel for %s on this CPU (%s)", what,
                       matmul_library_version());
    if (s == dnnl_out_of_memory)
        return dt_fail(err, DT_ENOMEM, "out of memory in oneDNN (%s)", what);
    return dt_fail(err, DT_EINTERNAL, "oneDNN failed (status %d) creating %s", (int)s, what);
}

static dt_status engine_init(dt_error *err)
{
    if (engine)
        return DT_OK;
    dnnl_status_t s = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (s == dnnl_success && (s = dnnl_stream_create(&stream, engine,
                                                     dnnl_stream_default_flags)) != dnnl_success) {
        dnnl_engine_destroy(engine);
        engine = NULL;
    }
    return s == dnnl_success ? DT_OK : dnnl_fail(err, s, "the CPU engine");
}

/* Make the shared scratch at least n bytes (when a plan is created, never
 * while one runs). */
static dt_status scratch_reserve(size_t n, dt_error *err)
{
    if (n <= scratch_bytes)
        return DT_OK;
    void *p = NULL;
    dnnl_memory_t mem = NULL;
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {(dnnl_dim_t)n};
    dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_u8, dnnl_a);
    if (posix_memalign(&p, 64, n) != 0)
        return dt_fail(err, DT_ENOMEM, "out of memory for %zu bytes of GEMM scratch", n);
    dnnl_status_t st = dnnl_memory_create(&mem, &md, engine, p);
    if (st != dnnl_success) {
        free(p);
        return dnnl_fail(err, st, "the GEMM scratch");
    }
    if (scratch_mem)
        dnnl_memory_destroy(scratch_mem);
    free(scratch);
    scratch = p;
    scratch_mem = mem;
    scratch_bytes = n;
    return DT_OK;
}

const char *const precision_names[] = {[PREC_FP32] = "fp32", [PREC_BF16] = "bf16", NULL};

dt_status matmul_precision_parse(const char *text, dt_precision *out, dt_error *err)
{
    int i = dt_name_index(precision_names, text);
    if (i < 0)
        return dt_fail_opt(err, DT_EUSAGE, "precision", "unknown %s '%s' (expected fp32 or "
                           "bf16)", dt_opt("precision"), text);
    *out = (dt_precision)i;
    return DT_OK;
}

const char *matmul_precision_name(dt_precision p) { return precision_names[p]; }

int matmul_fuses(dt_act act) { return act.kind != ACT_STEP; }

/* (rows, cols) stored row-major with row stride ld, read as op(X): the
 * transpose is the same memory with the strides swapped. */
static void matrix_md(dnnl_memory_desc_t *md, int rows, int cols, int trans, int ld,
                      dnnl_data_type_t t)
{
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, t, strides);
}

static dt_status plan_attr(dnnl_primitive_attr_t *attr, const matmul_shape *s, dt_error *err)
{
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && (s->accumulate || s->act.kind != ACT_IDENTITY))
        st = dnnl_post_ops_create(&po);
    /* C = act(C_old + A B + bias): the sum post-op adds the old C, then the
     * activation applies to the total. */
    if (st == dnnl_success && s->accumulate)
        st = dnnl_post_ops_append_sum(po, 1.0f);
    if (st == dnnl_success && s->act.kind != ACT_IDENTITY) {
        dnnl_alg_kind_t alg = dnnl_eltwise_relu;
        float alpha = 0.0f;
        switch (s->act.kind) {
        case ACT_RELU: break;
        case ACT_LEAKY_RELU: alpha = s->act.slope; break; /* relu's negative slope */
        case ACT_TANH: alg = dnnl_eltwise_tanh; break;
        case ACT_SIGMOID: alg = dnnl_eltwise_logistic; break;
        default: st = dnnl_invalid_arguments; break;
        }
        if (st == dnnl_success)
            st = dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, 0.0f);
    }
    if (st == dnnl_success && po)
        st = dnnl_primitive_attr_set_post_ops(*attr, po);
    if (po)
        dnnl_post_ops_destroy(po);
    return st == dnnl_success ? DT_OK : dnnl_fail(err, st, "a matrix product's epilogue");
}

dt_status matmul_create(matmul_plan **out, const matmul_shape *s, dt_error *err)
{
    *out = NULL;
    if (s->m < 1 || s->n < 1 || s->k < 1 || !matmul_fuses(s->act))
        return dt_fail(err, DT_EINTERNAL, "matmul_create: bad shape %dx%dx%d", s->m, s->n, s->k);
    dt_status rc = engine_init(err);
    if (rc)
        return rc;
    matmul_plan *p = calloc(1, sizeof *p);
    if (!p)
        return dt_fail(err, DT_ENOMEM, "out of memory for a matrix product plan");
    plans_added(); /* matmul_free counts it out, on failure too */
    p->s = *s;
    const dnnl_data_type_t t = s->prec == PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    matrix_md(&a_md, s->m, s->k, s->trans_a, s->lda, t);
    matrix_md(&b_md, s->k, s->n, s->trans_b, s->ldb, t);
    matrix_md(&c_md, s->m, s->n, 0, s->ldc, dnnl_f32);
    matrix_md(&bias_md, 1, s->n, 0, s->n, dnnl_f32);

    char what[128];
    snprintf(what, sizeof what, "a %s matrix product %dx%dx%d", matmul_precision_name(s->prec), s->m,
             s->n, s->k);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;
    dnnl_status_t st = dnnl_matmul_desc_init(&desc, &a_md, &b_md, s->bias ? &bias_md : NULL,
                                             &c_md);
    rc = st == dnnl_success ? plan_attr(&attr, s, err) : dnnl_fail(err, st, what);
    if (!rc && (st = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL)) != dnnl_success)
        rc = dnnl_fail(err, st, what);
    if (!rc) {
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
            !impl)
            impl = "?";
        snprintf(p->impl, sizeof p->impl, "%s", impl);
        const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        size_t need = sp ? dnnl_memory_desc_get_size(sp) : 0;
        rc = scratch_reserve(need > 64 ? need : 64, err);
    }
    if (!rc && ((st = dnnl_primitive_create(&p->prim, pd)) != dnnl_success ||
                (st = dnnl_memory_create(&p->src, &a_md, engine, DNNL_MEMORY_NONE)) ||
                (st = dnnl_memory_create(&p->wei, &b_md, engine, DNNL_MEMORY_NONE)) ||
                (st = dnnl_memory_create(&p->dst, &c_md, engine, DNNL_MEMORY_NONE)) ||
                (st = dnnl_memory_create(&p->bias, &bias_md, engine, DNNL_MEMORY_NONE))))
        rc = dnnl_fail(err, st, what);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (rc) {
        matmul_free(p);
        return rc;
    }
    *out = p;
    return DT_OK;
}

/* A failure here is a defect (the plan was made for these arguments): the
 * oneDNN status goes back to the caller, which records it (model.c). */
static int run(dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args)
{
    dnnl_status_t st = dnnl_primitive_execute(prim, stream, nargs, args);
    if (st == dnnl_success)
        st = dnnl_stream_wait(stream);
    return st == dnnl_success ? 0 : (int)st;
}

static void fpenv_team(void);

int matmul_run(matmul_plan *p, const void *A, const void *B, const float *bias, float *C)
{
    dnnl_memory_set_data_handle(p->src, (void *)A);
    dnnl_memory_set_data_handle(p->wei, (void *)B);
    dnnl_memory_set_data_handle(p->dst, C);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, p->src},
                               {DNNL_ARG_WEIGHTS, p->wei},
                               {DNNL_ARG_DST, p->dst},
                               {DNNL_ARG_SCRATCHPAD, scratch_mem},
                               {DNNL_ARG_BIAS, p->bias}};
    int nargs = 4;
    fpenv_team();
    if (p->s.bias) {
        dnnl_memory_set_data_handle(p->bias, (void *)bias);
        nargs = 5;
    }
    return run(p->prim, nargs, args);
}

const char *matmul_impl(const matmul_plan *p) { return p->impl; }

void matmul_free(matmul_plan *p)
{
    if (!p)
        return;
    dnnl_memory_t *mem[] = {&p->src, &p->wei, &p->dst, &p->bias};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
        if (*mem[i])
            dnnl_memory_destroy(*mem[i]);
    if (p->prim)
        dnnl_primitive_destroy(p->prim);
    free(p);
    plans_removed();
}

static int isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t level);

dt_status matmul_cvt_create(matmul_cvt **out, size_t n, dt_error *err)
{
    *out = NULL;
    dt_status rc = engine_init(err);
    if (rc)
        return rc;
    matmul_cvt *c = calloc(1, sizeof *c);
    if (!c)
        return dt_fail(err, DT_ENOMEM, "out of memory for a conversion plan");
    plans_added(); /* matmul_cvt_free counts it out, on failure too */
    c->n = n;
    if (isa_has(dnnl_get_effective_cpu_isa(), dnnl_cpu_isa_avx512_core_bf16)) {
        *out = c;
        return DT_OK;
    }
    dnnl_dims_t d = {(dnnl_dim_t)(n ? n : 1)};
    dnnl_memory_desc_t f_md, b_md;
    dnnl_memory_desc_init_by_tag(&f_md, 1, d, dnnl_f32, dnnl_a);
    dnnl_memory_desc_init_by_tag(&b_md, 1, d, dnnl_bf16, dnnl_a);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, &f_md, engine, &b_md, engine, NULL);
    if (st == dnnl_success)
        st = dnnl_primitive_create(&c->prim, pd);
    if (st == dnnl_success)
        st = dnnl_memory_create(&c->src, &f_md, engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success)
        st = dnnl_memory_create(&c->dst, &b_md, engine, DNNL_MEMORY_NONE);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        matmul_cvt_free(c);
        return dnnl_fail(err, st, "an fp32 to bf16 conversion");
    }
    *out = c;
    return DT_OK;
}

int matmul_cvt_run(const matmul_cvt *c, dt_bf16 *dst, const float *src)
{
    if (!c->prim) {
        bf16_round(dst, src, c->n);
        return 0;
    }
    fpenv_team();
    dnnl_memory_set_data_handle(c->src, (void *)src);
    dnnl_memory_set_data_handle(c->dst, dst);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, c->src}, {DNNL_ARG_TO, c->dst}};
    return run(c->prim, 2, args);
}

void matmul_cvt_free(matmul_cvt *c)
{
    if (!c)
        return;
    if (c->src)
        dnnl_memory_destroy(c->src);
    if (c->dst)
        dnnl_memory_destroy(c->dst);
    if (c->prim)
        dnnl_primitive_destroy(c->prim);
    free(c);
    plans_removed();
}

/* dnnl_cpu_isa_t values are bit masks of the features each level adds. */
static int isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t level) { return (isa & level) == level; }

int matmul_bf16_support(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (isa_has(isa, dnnl_cpu_isa_avx512_core_bf16))
        return 2;
    return isa_has(isa, dnnl_cpu_isa_avx512_core) ? 1 : 0;
}

dt_status matmul_check_precision(dt_precision prec, const char **warning, dt_error *err)
{
    *warning = NULL;
    if (prec != PREC_BF16)
        return DT_OK;
    switch (matmul_bf16_support()) {
    case 2: return DT_OK;
    case 1: {
        static _Thread_local char text[256];
        snprintf(text, sizeof text, "%s bf16: this CPU has no native bf16 instructions "
                 "(AVX512_BF16); oneDNN emulates them with AVX-512: the same results, slower "
                 "than fp32", dt_opt("precision"));
        *warning = text;
        return DT_OK;
    }
    default:
        return dt_fail_opt(err, DT_EUSAGE, "precision",
                           "%s bf16 needs AVX-512 (native AVX512_BF16, or oneDNN's "
                           "emulation on AVX-512); this CPU offers %s: use %s fp32",
                           dt_opt("precision"), matmul_library_version(), dt_opt("precision"));
    }
}

void matmul_set_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }
int matmul_threads(void) { return omp_get_max_threads(); }

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    if (isa_has(isa, dnnl_cpu_isa_avx512_core_amx)) return "avx512_core_amx";
    if (isa_has(isa, dnnl_cpu_isa_avx512_core_bf16)) return "avx512_core_bf16";
    if (isa_has(isa, dnnl_cpu_isa_avx512_core_vnni)) return "avx512_core_vnni";
    if (isa_has(isa, dnnl_cpu_isa_avx512_core)) return "avx512_core";
    if (isa_has(isa, dnnl_cpu_isa_avx2_vnni)) return "avx2_vnni";
    if (isa_has(isa, dnnl_cpu_isa_avx2)) return "avx2";
    if (isa_has(isa, dnnl_cpu_isa_avx)) return "avx";
    if (isa_has(isa, dnnl_cpu_isa_sse41)) return "sse41";
    return "no vector ISA";
}

const char *matmul_library_version(void)
{
    static char buf[96];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch,
             isa_name(dnnl_get_effective_cpu_isa()));
    return buf;
}

size_t matmul_scratch_bytes(void) { return scratch_bytes; }

/* --- the floating-point environment (matmul.h) --- */

const char *const denormals_names[] = {[DENORMALS_FLUSH] = "flush", [DENORMALS_KEEP] = "keep",
                                       NULL};

#ifdef __SSE__
#include <xmmintrin.h>
/* MXCSR: 0x1F80 masks the six exceptions, rounding bits 0 = to nearest;
 * FTZ is bit 15, DAZ bit 6. */
#define CSR_IEEE 0x1F80u
#define CSR_FTZ_DAZ 0x8040u
static unsigned csr_get(void) { return _mm_getcsr(); }
static void csr_set(unsigned v) { _mm_setcsr(v); }
#else
/* No MXCSR: the environment stays the caller's (documented in matmul.h). */
#define CSR_IEEE 0u
#define CSR_FTZ_DAZ 0u
static unsigned csr_get(void) { return 0; }
static void csr_set(unsigned v) { (void)v; }
#endif

/* The calling thread's innermost scope, NULL outside one. */
static _Thread_local matmul_fpenv *scope;

void matmul_fpenv_enter(matmul_fpenv *e, dt_denormals mode)
{
    e->outer = scope;
    e->csr = CSR_IEEE | (mode == DENORMALS_FLUSH ? CSR_FTZ_DAZ : 0u);
    e->caller = csr_get();
    e->team = 1; /* thread 0 is the caller */
    csr_set(e->csr);
    scope = e;
}

/* Thread i of the team (fpenv_team's region): its value before, if the
 * scope has not yet seen it, then the scope's. */
static void team_set(void *arg)
{
    matmul_fpenv *e = arg;
    const int i = omp_get_thread_num();
    if (i >= e->team && i < MATMUL_FPENV_TEAM)
        e->saved[i] = csr_get();
    if (i < MATMUL_FPENV_TEAM)
        csr_set(e->csr);
}

/* Before oneDNN computes: the team it will use (matmul_threads()) set, once
 * per scope and team size.  One thread needs nothing more (oneDNN then
 * runs on the caller). */
static void fpenv_team(void)
{
    matmul_fpenv *e = scope;
    if (!e || CSR_IEEE == 0u)
        return;
    int n = omp_get_max_threads();
    if (n > MATMUL_FPENV_TEAM)
        n = MATMUL_FPENV_TEAM;
    if (n <= e->team)
        return;
    /* a thread libgomp does not start (OMP_DYNAMIC, a thread limit) is put
     * back to the caller's value if it ever appears */
    for (int i = e->team; i < n; i++)
        e->saved[i] = e->caller;
    /* a worker libgomp starts now inherits the caller's own value, which is
     * what it would have had without dtrain and what leave puts back */
    csr_set(e->caller);
    GOMP_parallel(team_set, e, (unsigned)n, 0);
    csr_set(e->csr);
    e->team = n;
}

static void team_restore(void *arg)
{
    const matmul_fpenv *e = arg;
    const int i = omp_get_thread_num();
    if (i > 0 && i < e->team)
        csr_set(e->saved[i]);
}

void matmul_fpenv_leave(matmul_fpenv *e)
{
    if (e->team > 1)
        GOMP_parallel(team_restore, e, (unsigned)e->team, 0);
    csr_set(e->caller);
    scope = e->outer;
}

void matmul_fpenv_pause(void)
{
    if (scope)
        csr_set(scope->caller);
}

void matmul_fpenv_resume(void)
{
    if (scope)
        csr_set(scope->csr);
}

unsigned matmul_fpenv_csr(void) { return csr_get(); }
