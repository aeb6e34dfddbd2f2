/* dtrain: MLP forward and backward. */
#include "dtrain/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/rng.h"

/* The plans of one batch size nb.  For layer l (n_in, n_out), as products
 * C (m,n) = op(A) (m,k) op(B) (k,n):
 *   fwd   A_l (nb, n_out) = act(in (nb, n_in) W^T + b)     W (n_out, n_in) read transposed
 *   dw    dW (n_out, n_in) [+]= dZ^T (n_out, nb) in         dZ (nb, n_out) read transposed
 *   dx    dIn (nb, n_in) = dZ (nb, n_out) W                 l > 0
 * and, in bf16, the conversions of the input rows and of each layer's
 * outputs and output gradients (nb * n_out values). */
struct model_plans {
    int nb;
    int backward;          /* the backward plans exist */
    unsigned used;         /* plan_clock at the last use */
    matmul_plan *fwd[DT_MAX_LAYERS], *dw[2][DT_MAX_LAYERS], *dx[DT_MAX_LAYERS];
    matmul_cvt *cvt_x, *cvt[DT_MAX_LAYERS];
    int parts_of;          /* the part size parts_exact was checked for (0: none) */
    int parts_exact;       /* its answer */
};

dt_status model_parse_layers_dropout(const char *text, float default_dropout,
                                     dt_layer_spec *out, int max, int *n, dt_error *err)
{
    *n = 0;
    if (!strcmp(text, "none"))
        return DT_OK; /* the inputs feed the output layer */
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (len == 0 || len >= sizeof item)
            return dt_fail(err, DT_EUSAGE,
                           "%s: empty or overlong item in '%s' (expected "
                           "WIDTH:ACTIVATION[:DROPOUT],...)",
                           dt_opt("layers"), text);
        memcpy(item, p, len);
        item[len] = '\0';
        if (*n >= max)
            return dt_fail(err, DT_EUSAGE, "%s: more than %d hidden layers",
                           dt_opt("layers"), max);
        char *colon = strchr(item, ':');
        if (!colon)
            return dt_fail(err, DT_EUSAGE,
                           "%s: '%s' should be WIDTH:ACTIVATION (e.g. 128:relu)",
                           dt_opt("layers"), item);
        *colon = '\0';
        char *end;
        long w = strtol(item, &end, 10);
        if (end == item || *end || w < 1 || w > 1000000)
            return dt_fail(err, DT_EUSAGE,
                           "%s: width '%s' should be an integer in [1, 1000000]",
                           dt_opt("layers"), item);
        out[*n].width = (int)w;
        out[*n].dropout = default_dropout;
        char *rate = strchr(colon + 1, ':');
        if (rate) {
            *rate++ = '\0';
            double r = strtod(rate, &end);
            if (end == rate || *end || !(r >= 0 && r < 1))
                return dt_fail(err, DT_EUSAGE,
                               "%s: dropout '%s' of layer %d should be a number in [0, 1)",
                               dt_opt("layers"), rate, *n + 1);
            out[*n].dropout = (float)r;
        }
        dt_status st = act_parse(colon + 1, &out[*n].act, err);
        if (st)
            return dt_fail_prefix(err, "%s", dt_opt("layers"));
        (*n)++;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p)
                return dt_fail(err, DT_EUSAGE, "%s: trailing comma in '%s'",
                               dt_opt("layers"), text);
        }
    }
    return DT_OK;
}

void model_format_layers(const dt_layers *l, char *buf, size_t len)
{
    size_t used = 0;
    /* "none", not "": an empty value reads as "not given" (the default layers)
     * in config files and saved configurations */
    snprintf(buf, len, "%s", l->n ? "" : "none");
    for (int i = 0; i < l->n && used < len; i++) {
        char act[48], rate[24] = "";
        act_format(l->spec[i].act, act, sizeof act);
        const float p = l->spec[i].dropout;
        /* the shortest text that reads back as the same float rate */
        for (int prec = 6; p >= 0 && prec <= 9; prec++) {
            snprintf(rate, sizeof rate, ":%.*g", prec, (double)p);
            if ((float)strtod(rate + 1, NULL) == p)
                break;
        }
        used += (size_t)snprintf(buf + used, len - used, "%s%d:%s%s", i ? "," : "",
                                 l->spec[i].width, act, rate);
    }
}

dt_status model_parse_layers(const char *text, dt_layer_spec *out, int max, int *n,
                             dt_error *err)
{
    return model_parse_layers_dropout(text, 0.0f, out, max, n, err);
}

const char *const init_names[] = {[INIT_UNIFORM] = "uniform", [INIT_XAVIER] = "xavier",
                                  [INIT_HE] = "he", NULL};

dt_status init_parse(const char *text, dt_init *out, dt_error *err)
{
    int i = dt_name_index(init_names, text);
    if (i < 0)
        return dt_fail_opt(err, DT_EUSAGE, "init", "unknown %s '%s' (expected uniform, xavier "
                           "or he)", dt_opt("init"), text);
    *out = (dt_init)i;
    return DT_OK;
}

dt_status model_create(dt_model *m, int n_in, const dt_layer_spec *hidden, int n_hidden,
                       int n_out, dt_head head, int max_batch, dt_error *err)
{
    memset(m, 0, sizeof *m);
    if (n_hidden + 1 > DT_MAX_LAYERS)
        return dt_fail(err, DT_EUSAGE, "too many layers (at most %d hidden)", DT_MAX_LAYERS - 1);
    if (n_in < 1 || n_out < 1 || max_batch < 1)
        return dt_fail(err, DT_EINTERNAL, "model_create: bad sizes");
    m->n_layers = n_hidden + 1;
    m->head = head;
    m->n_in = n_in;
    m->n_out = n_out;
    m->max_batch = max_batch;

    size_t n_params = 0, n_act = 0, widest = (size_t)n_out;
    int in = n_in;
    for (int l = 0; l < m->n_layers; l++) {
        dt_layer *L = &m->layers[l];
        L->n_in = in;
        L->n_out = l < n_hidden ? hidden[l].width : n_out;
        L->act = l < n_hidden ? hidden[l].act : (dt_act){ACT_IDENTITY, 0.0f};
        L->offset = n_params;
        L->dropout = l < n_hidden ? hidden[l].dropout : 0.0f;
        n_params += (size_t)L->n_out * L->n_in + L->n_out;
        n_act += (size_t)max_batch * L->n_out * (L->dropout > 0 ? 3 : 1);
        if ((size_t)L->n_out > widest) widest = (size_t)L->n_out;
        in = L->n_out;
    }
    m->n_params = n_params;
    size_t n_work = n_act + 2 * (size_t)max_batch * widest;
    m->params = calloc(n_params, sizeof(float));
    m->grads = m->own_grads = calloc(n_params, sizeof(float));
    m->work = calloc(n_work, sizeof(float));
    m->xin = malloc((size_t)max_batch * (size_t)n_in * sizeof(float));
    if (!m->params || !m->grads || !m->work || !m->xin) {
        model_free(m);
        return dt_fail(err, DT_ENOMEM,
                       "out of memory for a model of %zu parameters and batch %d", n_params,
                       max_batch);
    }
    float *a = m->work;
    model_use_grads(m, NULL);
    for (int l = 0; l < m->n_layers; l++) {
        dt_layer *L = &m->layers[l];
        L->W = m->params + L->offset;
        L->b = L->W + (size_t)L->n_out * L->n_in;
        L->A = a;
        a += (size_t)max_batch * L->n_out;
        if (L->dropout > 0) {
            L->mask = a;
            L->D = a + (size_t)max_batch * L->n_out;
            a += 2 * (size_t)max_batch * L->n_out;
        }
    }
    m->delta[0] = a;
    m->delta[1] = a + (size_t)max_batch * widest;
    m->prec = PREC_FP32;
    return DT_OK;
}

static void plans_free(model_plans *p)
{
    if (!p)
        return;
    for (int l = 0; l < DT_MAX_LAYERS; l++) {
        matmul_free(p->fwd[l]);
        matmul_free(p->dw[0][l]);
        matmul_free(p->dw[1][l]);
        matmul_free(p->dx[l]);
        matmul_cvt_free(p->cvt[l]);
    }
    matmul_cvt_free(p->cvt_x);
    free(p);
}

/* Drop every plan and the bf16 buffers. */
static void model_drop_plans(dt_model *m)
{
    for (int i = 0; i < DT_MODEL_SHAPES; i++) {
        plans_free(m->plans[i]);
        m->plans[i] = NULL;
    }
    matmul_cvt_free(m->cvt_params);
    m->cvt_params = NULL;
    free(m->params16);
    free(m->x16);
    free(m->dz16);
    m->params16 = m->x16 = m->dz16 = NULL;
    m->in16 = NULL;
    for (int l = 0; l < m->n_layers; l++) {
        free(m->layers[l].out16);
        m->layers[l].out16 = NULL;
    }
}

dt_status model_set_precision(dt_model *m, dt_precision prec, dt_error *err)
{
    const char *warning;
    dt_status st = matmul_check_precision(prec, &warning, err);
    if (st)
        return st;
    model_drop_plans(m);
    m->prec = prec;
    if (prec == PREC_FP32)
        return DT_OK;
    const size_t nb = (size_t)m->max_batch;
    size_t widest = 0;
    int ok = 1;
    for (int l = 0; l < m->n_layers; l++) {
        dt_layer *L = &m->layers[l];
        widest = (size_t)L->n_out > widest ? (size_t)L->n_out : widest;
        if (l < m->n_layers - 1)
            ok &= (L->out16 = malloc(nb * (size_t)L->n_out * sizeof(dt_bf16))) != NULL;
    }
    m->params16 = malloc(m->n_params * sizeof(dt_bf16));
    m->x16 = malloc(nb * (size_t)m->n_in * sizeof(dt_bf16));
    m->dz16 = malloc(nb * widest * sizeof(dt_bf16));
    if (!ok || !m->params16 || !m->x16 || !m->dz16) {
        model_drop_plans(m);
        m->prec = PREC_FP32;
        return dt_fail(err, DT_ENOMEM, "out of memory for the bf16 copies of the model");
    }
    if ((st = matmul_cvt_create(&m->cvt_params, m->n_params, err))) {
        model_drop_plans(m);
        m->prec = PREC_FP32;
    }
    return st;
}

/* The plans of one layer's products at nb rows; see struct model_plans. */
static dt_status layer_plans(const dt_model *m, int l, model_plans *p, int backward,
                             dt_error *err)
{
    const dt_layer *L = &m->layers[l];
    const int nb = p->nb, n_in = L->n_in, n_out = L->n_out;
    const dt_precision pr = m->prec;
    const dt_act id = {ACT_IDENTITY, 0.0f};
    dt_status st = DT_OK;
    if (!p->fwd[l]) {
        matmul_shape f = {.m = nb, .n = n_out, .k = n_in, .trans_b = 1, .lda = n_in,
                          .ldb = n_in, .ldc = n_out, .prec = pr, .bias = 1,
                          .act = matmul_fuses(L->act) ? L->act : id};
        st = matmul_create(&p->fwd[l], &f, err);
        if (!st && pr == PREC_BF16)
            st = matmul_cvt_create(&p->cvt[l], (size_t)nb * n_out, err);
    }
    for (int acc = 0; backward && !st && acc < 2; acc++) {
        matmul_shape w = {.m = n_out, .n = n_in, .k = nb, .trans_a = 1, .lda = n_out,
                          .ldb = n_in, .ldc = n_in, .prec = pr, .accumulate = acc, .act = id};
        if (!p->dw[acc][l])
            st = matmul_create(&p->dw[acc][l], &w, err);
    }
    if (backward && !st && l > 0 && !p->dx[l]) {
        matmul_shape x = {.m = nb, .n = n_in, .k = n_out, .lda = n_out, .ldb = n_in,
                          .ldc = n_in, .prec = pr, .act = id};
        st = matmul_create(&p->dx[l], &x, err);
    }
    return st;
}

dt_status model_prepare(dt_model *m, int nb, int backward, dt_error *err)
{
    if (nb < 1 || nb > m->max_batch)
        return dt_fail(err, DT_EINTERNAL, "model_prepare: %d rows (at most %d)", nb,
                       m->max_batch);
    model_plans *p = NULL;
    int slot = 0;
    for (int i = 0; i < DT_MODEL_SHAPES; i++) {
        if (m->plans[i] && m->plans[i]->nb == nb) {
            p = m->plans[i];
            slot = i;
            break;
        }
        /* else an empty slot, or the one used longest ago */
        if (!m->plans[i] || (m->plans[slot] && m->plans[i]->used < m->plans[slot]->used))
            slot = i;
    }
    if (!p) {
        if (!(p = calloc(1, sizeof *p)))
            return dt_fail(err, DT_ENOMEM, "out of memory for the plans of a batch");
        p->nb = nb;
        plans_free(m->plans[slot]);
        m->plans[slot] = p;
    }
    p->used = ++m->plan_clock;
    if (p->backward >= backward && p->fwd[0])
        return DT_OK;
    dt_status st = DT_OK;
    if (m->prec == PREC_BF16 && !p->cvt_x)
        st = matmul_cvt_create(&p->cvt_x, (size_t)nb * m->n_in, err);
    for (int l = 0; !st && l < m->n_layers; l++)
        st = layer_plans(m, l, p, backward, err);
    if (st) {
        plans_free(p);
        m->plans[slot] = NULL;
        return st;
    }
    p->backward |= backward;
    return DT_OK;
}

/* Keep the first failure of a forward or backward (see dt_model.fault). */
static void record_fault(dt_model *m, int dnnl_status, const dt_error *err)
{
    if (m->fault.code)
        return;
    if (err)
        m->fault = *err;
    else
        dt_fail(&m->fault, DT_EINTERNAL, "oneDNN failed (status %d) running a planned product",
                dnnl_status);
}

dt_status model_fault(const dt_model *m, dt_error *err)
{
    if (m->fault.code && err)
        *err = m->fault;
    return m->fault.code;
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

/* The plans for nb rows, made now if setup did not (see model_prepare; the
 * drivers prepare every size they use, so this is a fallback).  NULL, with
 * the failure recorded, if they cannot be made. */
static model_plans *plans_for(dt_model *m, int nb, int backward)
{
    for (int i = 0; i < DT_MODEL_SHAPES; i++) {
        model_plans *p = m->plans[i];
        if (p && p->nb == nb && p->backward >= backward) {
            p->used = ++m->plan_clock;
            return p;
        }
    }
    dt_error err;
    dt_error_clear(&err);
    if (model_prepare(m, nb, backward, &err)) {
        record_fault(m, 0, &err);
        return NULL;
    }
    return plans_for(m, nb, backward);
}

void model_use_grads(dt_model *m, float *buf)
{
    m->grads = buf ? buf : m->own_grads;
    for (int l = 0; l < m->n_layers; l++) {
        dt_layer *L = &m->layers[l];
        L->dW = m->grads + L->offset;
        L->db = L->dW + (size_t)L->n_out * L->n_in;
    }
}

void model_free(dt_model *m)
{
    model_drop_plans(m);
    free(m->params);
    free(m->own_grads);
    free(m->work);
    free(m->xin);
    free(m->target_stats);
    memset(m, 0, sizeof *m);
}

void model_init(dt_model *m, dt_init kind, uint64_t seed)
{
    dt_rng r;
    rng_seed(&r, seed, RNG_STREAM_INIT, 0);
    for (int l = 0; l < m->n_layers; l++) {
        dt_layer *L = &m->layers[l];
        size_t nw = (size_t)L->n_out * L->n_in;
        double fan_in = L->n_in, fan_out = L->n_out;
        switch (kind) {
        case INIT_UNIFORM: {
            /* The notes' rule, for weights and biases: U(-1/sqrt(n), 1/sqrt(n)). */
            double a = 1.0 / sqrt(fan_in);
            for (size_t i = 0; i < nw; i++) L->W[i] = (float)(a * (2.0 * rng_uniform(&r) - 1.0));
            for (int i = 0; i < L->n_out; i++) L->b[i] = (float)(a * (2.0 * rng_uniform(&r) - 1.0));
            break;
        }
        case INIT_XAVIER: {
            double a = sqrt(6.0 / (fan_in + fan_out));
            for (size_t i = 0; i < nw; i++) L->W[i] = (float)(a * (2.0 * rng_uniform(&r) - 1.0));
            memset(L->b, 0, (size_t)L->n_out * sizeof(float));
            break;
        }
        case INIT_HE: {
            double s = sqrt(2.0 / fan_in);
            for (size_t i = 0; i < nw; i++) L->W[i] = (float)(s * rng_normal(&r));
            memset(L->b, 0, (size_t)L->n_out * sizeof(float));
            break;
        }
        }
    }
}

void model_train_mode(dt_model *m, uint64_t seed, int64_t step, const int64_t *rows)
{
    m->training = 1;
    m->drop_seed = seed;
    m->drop_step = step;
    m->drop_rows = rows;
}

void model_eval_mode(dt_model *m)
{
    m->training = 0;
    m->drop_rows = NULL;
}

/* Inverted dropout of layer l's outputs A (nb, n) into D = A * mask, where
 * mask is 0 with probability p and 1/(1-p) otherwise, drawn from
 * (seed, step, sample index, layer, unit). */
static void dropout_forward(const dt_model *m, int l, dt_layer *L, int nb)
{
    const int n = L->n_out;
    const float keep = 1.0f / (1.0f - L->dropout);
    const uint64_t key = rng_hash(m->drop_seed, RNG_STREAM_DROPOUT, (uint64_t)m->drop_step,
                                  (uint64_t)l);
    const double p = L->dropout;
    for (int i = 0; i < nb; i++) {
        const uint64_t row = (uint64_t)m->drop_rows[i];
        float *mk = L->mask + (size_t)i * n, *d = L->D + (size_t)i * n;
        const float *a = L->A + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double u = (double)(rng_hash(key, row, (uint64_t)j, 0) >> 11) * 0x1.0p-53;
            mk[j] = u < p ? 0.0f : keep;
            d[j] = a[j] * mk[j];
        }
    }
}

/* What layer l passes on: its dropped-out outputs while training, else A. */
static const float *layer_output(const dt_model *m, const dt_layer *L)
{
    return m->training && L->dropout > 0 ? L->D : L->A;
}

/* The GEMM operand of a layer's weights: W itself, or its bf16 copy. */
static const void *weights_of(const dt_model *m, const dt_layer *L)
{
    return m->prec == PREC_BF16 ? (const void *)(m->params16 + L->offset) : (const void *)L->W;
}

/* What layer l-1 passes to layer l as a GEMM operand (X for layer 0). */
static const void *input_of(const dt_model *m, int l, const float *X)
{
    if (m->prec == PREC_BF16)
        return l == 0 ? (const void *)m->in16 : (const void *)m->layers[l - 1].out16;
    return l == 0 ? (const void *)X : (const void *)layer_output(m, &m->layers[l - 1]);
}

/* model_forward of X, or in bf16 of X16 when it is not NULL (X is then not
 * read). */
static const float *forward(dt_model *m, const float *X, const dt_bf16 *X16, int nb)
{
    float *out = m->layers[m->n_layers - 1].A;
    if (nb == 0)
        return out;
    model_plans *p = m->fault.code ? NULL : plans_for(m, nb, 0);
    int bad = !p;
    if (p && m->prec == PREC_BF16) {
        bad = bad || matmul_cvt_run(m->cvt_params, m->params16, m->params);
        m->in16 = X16 ? X16 : m->x16;
        bad = bad || (!X16 && matmul_cvt_run(p->cvt_x, m->x16, X));
    }
    for (int l = 0; l < m->n_layers && !bad; l++) {
        dt_layer *L = &m->layers[l];
        /* A_l (nb, n_out) = act(in (nb, n_in) W^T + b), the bias and the
         * activation fused into the product where the engine has it */
        int rc = matmul_run(p->fwd[l], input_of(m, l, X), weights_of(m, L), L->b, L->A);
        if (rc) {
            record_fault(m, rc, NULL);
            break;
        }
        if (!matmul_fuses(L->act))
            act_forward(L->act, L->A, (size_t)nb * L->n_out);
        if (m->training && L->dropout > 0)
            dropout_forward(m, l, L, nb);
        if (m->prec == PREC_BF16 && l < m->n_layers - 1 &&
            (rc = matmul_cvt_run(p->cvt[l], L->out16, layer_output(m, L))))
            record_fault(m, rc, NULL);
        bad = m->fault.code != DT_OK;
    }
    if (m->fault.code)
        fill_nan(out, (size_t)nb * m->n_out);
    return out;
}

const float *model_forward(dt_model *m, const float *X, int nb) { return forward(m, X, NULL, nb); }

const float *model_forward_bf16(dt_model *m, const dt_bf16 *X16, int nb)
{
    return forward(m, NULL, X16, nb);
}

float *model_dlogits(dt_model *m) { return m->delta[0]; }

void model_zero_grad(dt_model *m) { m->grads_stale = 1; }

/* The output layer's bias gradient: [db +] the column sums of dZ (nb, n_out). */
static void top_bias_grad(dt_model *m, const float *dZ, int nb, int acc)
{
    dt_layer *top = &m->layers[m->n_layers - 1];
    if (!acc)
        memset(top->db, 0, (size_t)top->n_out * sizeof *top->db);
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < top->n_out; j++) top->db[j] += dZ[(size_t)i * top->n_out + j];
}

/* A GEMM operand of nb rows of width n, from row r on: fp32 or bf16. */
static const void *rows_at(const void *x, int bf16, int r, int n)
{
    return bf16 ? (const void *)((const dt_bf16 *)x + (size_t)r * n)
                : (const void *)((const float *)x + (size_t)r * n);
}

/* The backward pass of nb rows in parts of `part` rows (model_backward:
 * one part): part j's weight and bias gradients into grads + j * n_params
 * (added to them with acc, else written), the input gradients over all nb
 * rows at once (p's plans; q's for the parts of `part` rows, r's for the
 * last, shorter one).  dZ (nb, n_out) is the output layer's. */
static void backward_parts(dt_model *m, model_plans *p, model_plans *q, model_plans *r,
                           const float *X, const float *dZ, int nb, int part, float *grads,
                           int acc)
{
    const int bf16 = m->prec == PREC_BF16;
    int cur = dZ == m->delta[0] ? 0 : 1;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        dt_layer *L = &m->layers[l];
        const void *dz = dZ;
        int rc = 0;
        if (bf16) {
            rc = matmul_cvt_run(p->cvt[l], m->dz16, dZ);
            dz = m->dz16;
        }
        const void *in = input_of(m, l, X);
        for (int at = 0, j = 0; at < nb && !rc; at += part, j++) {
            const int len = nb - at < part ? nb - at : part;
            model_use_grads(m, grads + (size_t)j * m->n_params);
            if (l == m->n_layers - 1)
                top_bias_grad(m, dZ + (size_t)at * L->n_out, len, acc);
            /* dW (n_out, n_in) [+]= dZ^T (n_out, len) in (len, n_in), this part's rows */
            rc = matmul_run((len < part ? r : q)->dw[acc][l], rows_at(dz, bf16, at, L->n_out),
                            rows_at(in, bf16, at, L->n_in), NULL, L->dW);
        }
        if (rc) {
            record_fault(m, rc, NULL);
            break;
        }
        if (l == 0)
            break;
        /* dIn (nb, n_in) = dZ (nb, n_out) W (n_out, n_in), then part by part
         * through the previous layer's dropout and activation in one pass that
         * also sums its bias gradient: dZ_{l-1} = dIn * mask * f'(A_{l-1}) */
        float *dIn = m->delta[1 - cur];
        if ((rc = matmul_run(p->dx[l], dz, weights_of(m, L), NULL, dIn))) {
            record_fault(m, rc, NULL);
            break;
        }
        dt_layer *P = &m->layers[l - 1];
        const float *mask = m->training && P->dropout > 0 ? P->mask : NULL;
        for (int at = 0, j = 0; at < nb; at += part, j++) {
            const size_t len = (size_t)(nb - at < part ? nb - at : part), o = (size_t)at * P->n_out;
            float *db = grads + (size_t)j * m->n_params + P->offset + (size_t)P->n_out * P->n_in;
            act_backward_rows(P->act, P->A + o, mask ? mask + o : NULL, dIn + o, db, acc, len,
                              (size_t)P->n_out);
        }
        dZ = dIn;
        cur = 1 - cur;
    }
}

void model_backward(dt_model *m, const float *X, const float *dZ, int nb)
{
    if (nb == 0) {
        if (m->grads_stale)
            memset(m->grads, 0, m->n_params * sizeof *m->grads);
        m->grads_stale = 0;
        return;
    }
    model_plans *p = m->fault.code ? NULL : plans_for(m, nb, 1);
    if (!p) {
        fill_nan(m->grads, m->n_params);
        m->grads_stale = 0;
        return;
    }
    const int acc = !m->grads_stale; /* add to grads, or overwrite them */
    m->grads_stale = 0;
    backward_parts(m, p, p, p, X, dZ, nb, nb, m->grads, acc);
    if (m->fault.code)
        fill_nan(m->grads, m->n_params);
}

dt_status model_set_target_scaling(dt_model *m, const float *shift, const float *scale,
                                   dt_error *err)
{
    free(m->target_stats);
    m->target_stats = NULL;
    if (!shift)
        return DT_OK;
    const size_t k = (size_t)m->n_out;
    if (!(m->target_stats = malloc(2 * k * sizeof *m->target_stats)))
        return dt_fail(err, DT_ENOMEM, "out of memory");
    memcpy(m->target_stats, shift, k * sizeof *shift);
    memcpy(m->target_stats + k, scale, k * sizeof *scale);
    return DT_OK;
}

const dt_target_scaling *model_target_scaling(const dt_model *m, dt_target_scaling *buf)
{
    if (!m->target_stats || m->head != HEAD_LINEAR)
        return NULL;
    buf->shift = m->target_stats;
    buf->scale = m->target_stats + m->n_out;
    return buf;
}

void model_predict(dt_model *m, const float *X, int64_t n, float *out)
{
    dt_target_scaling buf;
    const dt_target_scaling *ts = model_target_scaling(m, &buf);
    for (int64_t i = 0; i < n; i += m->max_batch) {
        int nb = (int)(n - i < m->max_batch ? n - i : m->max_batch);
        const float *Z = model_forward(m, X + i * m->n_in, nb);
        float *dst = out + i * m->n_out;
        memcpy(dst, Z, (size_t)nb * m->n_out * sizeof *dst);
        head_output(m->head, ts, dst, nb, m->n_out);
    }
}

/* model_loss_grad_sums of X, or in bf16 of X16 when it is not NULL. */
static double loss_grad(dt_model *m, const float *X, const dt_bf16 *X16, const int32_t *labels,
                        const float *targets, int nb, dt_loss_sums *sums)
{
    if (nb == 0) {
        model_backward(m, X, NULL, 0);
        return 0.0;
    }
    dt_target_scaling buf;
    const float *Z = forward(m, X, X16, nb);
    float *dZ = model_dlogits(m);
    double loss = loss_eval(m->head, Z, labels, targets, nb, m->n_out,
                            model_target_scaling(m, &buf), dZ, sums);
    model_backward(m, X, dZ, nb);
    return loss;
}

double model_loss_grad_sums(dt_model *m, const float *X, const int32_t *labels,
                            const float *targets, int nb, dt_loss_sums *sums)
{
    return loss_grad(m, X, NULL, labels, targets, nb, sums);
}

double model_loss_grad_sums_bf16(dt_model *m, const dt_bf16 *X16, const int32_t *labels,
                                 const float *targets, int nb, dt_loss_sums *sums)
{
    return loss_grad(m, NULL, X16, labels, targets, nb, sums);
}

double model_loss_grad(dt_model *m, const float *X, const int32_t *labels,
                       const float *targets, int nb)
{
    return model_loss_grad_sums(m, X, labels, targets, nb, NULL);
}

/* Pseudo-random operands in [-1, 1) for parts_exact (fp32, or bf16 by
 * truncation: any values serve). */
static void probe_fill(void *x, size_t n, int bf16, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        const float v = (float)(seed >> 8) * 0x1.0p-23f - 1.0f;
        if (bf16) {
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            ((dt_bf16 *)x)[i] = (dt_bf16)(bits >> 16);
        } else {
            ((float *)x)[i] = v;
        }
    }
}

/* Probe operands for parts_exact, as large as the widest layer needs: a
 * (nb, wide) and w (n_out, n_in) in the model's precision, bias, and the
 * results c1, c2 (nb, wide). */
typedef struct {
    void *a, *w;
    float *bias, *c1, *c2;
} probe_bufs;

static int probe_alloc(const dt_model *m, int nb, probe_bufs *b)
{
    const size_t esz = m->prec == PREC_BF16 ? sizeof(dt_bf16) : sizeof(float);
    size_t wide = 0, weights = 0, outs = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const dt_layer *L = &m->layers[l];
        const size_t w = (size_t)(L->n_in > L->n_out ? L->n_in : L->n_out);
        wide = w > wide ? w : wide;
        weights = (size_t)L->n_out * L->n_in > weights ? (size_t)L->n_out * L->n_in : weights;
        outs = (size_t)L->n_out > outs ? (size_t)L->n_out : outs;
    }
    b->a = malloc((size_t)nb * wide * esz);
    b->w = malloc(weights * esz);
    b->bias = malloc(outs * sizeof *b->bias);
    b->c1 = malloc((size_t)nb * wide * sizeof *b->c1);
    b->c2 = malloc((size_t)nb * wide * sizeof *b->c2);
    return b->a && b->w && b->bias && b->c1 && b->c2;
}

static void probe_free(probe_bufs *b)
{
    free(b->a);
    free(b->w);
    free(b->bias);
    free(b->c1);
    free(b->c2);
}

/* Whether product `all` over nb rows of a (nb, n_a) gives the bits that
 * `one` gives part by part (parts of `part` rows; `last` for the shorter
 * last one): c (nb, n_c) compared bit for bit. */
static int rows_exact(const dt_model *m, const probe_bufs *b, matmul_plan *all, matmul_plan *one,
                      matmul_plan *last, int nb, int part, int n_a, int n_c)
{
    const int bf16 = m->prec == PREC_BF16;
    if (matmul_run(all, b->a, b->w, b->bias, b->c1))
        return 0;
    for (int at = 0; at < nb; at += part)
        if (matmul_run(nb - at < part ? last : one, rows_at(b->a, bf16, at, n_a), b->w, b->bias,
                       b->c2 + (size_t)at * n_c))
            return 0;
    return !memcmp(b->c1, b->c2, (size_t)nb * n_c * sizeof *b->c1);
}

/* Whether the products that run over all nb rows of p at once in
 * model_loss_grad_parts (the forward, bias and fused activation included,
 * and the input gradients) give every row the bits the plans of its part
 * give it (parts of `part` rows, the last nb % part): the engine computes a
 * row from that row alone, in an order that does not depend on the number
 * of rows.  The same shapes on the same operands, compared bit for bit;
 * the order of a product's additions does not depend on the values, so
 * equal bits on these operands are equal bits on any.  0 if not, or if a
 * buffer or plan is missing (the parts then run one by one).  Kept in p. */
static int parts_exact(dt_model *m, model_plans *p, int part)
{
    if (p->parts_of == part)
        return p->parts_exact;
    const int nb = p->nb, bf16 = m->prec == PREC_BF16, tail = nb % part;
    model_plans *q = plans_for(m, part, 1), *r = tail ? plans_for(m, tail, 1) : q;
    p = plans_for(m, nb, 1); /* still there (plans_for evicts the oldest) */
    probe_bufs b = {0};
    int same = p && q && r && probe_alloc(m, nb, &b);
    for (int l = 0; l < m->n_layers && same; l++) {
        const dt_layer *L = &m->layers[l];
        const size_t wide = (size_t)(L->n_in > L->n_out ? L->n_in : L->n_out);
        probe_fill(b.a, (size_t)nb * wide, bf16, 1u + (uint32_t)l);
        probe_fill(b.w, (size_t)L->n_out * L->n_in, bf16, 101u + (uint32_t)l);
        probe_fill(b.bias, (size_t)L->n_out, 0, 201u + (uint32_t)l);
        /* in (nb, n_in) W^T + b, then dZ (nb, n_out) W (none for layer 0) */
        same = rows_exact(m, &b, p->fwd[l], q->fwd[l], r->fwd[l], nb, part, L->n_in, L->n_out) &&
               (l == 0 ||
                rows_exact(m, &b, p->dx[l], q->dx[l], r->dx[l], nb, part, L->n_out, L->n_in));
    }
    probe_free(&b);
    if (p) {
        p->parts_of = part;
        p->parts_exact = same;
    }
    return same;
}

int model_parts_exact(dt_model *m, int nb, int part)
{
    model_plans *p = nb > part && !m->fault.code ? plans_for(m, nb, 1) : NULL;
    return p && parts_exact(m, p, part);
}

/* model_loss_grad_parts one part at a time: its forward (its rows'
 * dropout), loss and backward alone. */
static void parts_one_by_one(dt_model *m, const float *X, const dt_bf16 *X16,
                             const int32_t *labels, const float *targets, int nb, int part,
                             float *grads, double *losses)
{
    const int64_t *rows = m->drop_rows;
    for (int at = 0, j = 0; at < nb; at += part, j++) {
        const int len = nb - at < part ? nb - at : part;
        dt_loss_sums sums = {0};
        m->drop_rows = rows ? rows + at : NULL;
        model_use_grads(m, grads + (size_t)j * m->n_params);
        model_zero_grad(m);
        loss_grad(m, X ? X + (size_t)at * m->n_in : NULL, X16 ? X16 + (size_t)at * m->n_in : NULL,
                  labels ? labels + at : NULL, targets ? targets + (size_t)at * m->n_out : NULL,
                  len, &sums);
        losses[j] = sums.loss;
    }
    m->drop_rows = rows;
}

void model_loss_grad_parts(dt_model *m, const float *X, const dt_bf16 *X16,
                           const int32_t *labels, const float *targets, int nb, int part,
                           float *grads, double *losses)
{
    float *const was = m->grads == m->own_grads ? NULL : m->grads;
    const int parts = (nb + part - 1) / part, tail = nb % part;
    model_plans *p = nb > part && !m->fault.code ? plans_for(m, nb, 1) : NULL;
    if (!p || m->parts_one_by_one || !parts_exact(m, p, part)) {
        parts_one_by_one(m, X, X16, labels, targets, nb, part, grads, losses);
        model_use_grads(m, was);
        return;
    }
    model_plans *q = plans_for(m, part, 1), *r = tail ? plans_for(m, tail, 1) : q;
    dt_target_scaling buf;
    const dt_target_scaling *ts = model_target_scaling(m, &buf);
    const float *Z = q && r ? forward(m, X, X16, nb) : NULL;
    float *dZ = model_dlogits(m);
    if (Z && !m->fault.code) {
        for (int at = 0, j = 0; at < nb; at += part, j++) {
            const int len = nb - at < part ? nb - at : part;
            const size_t o = (size_t)at * m->n_out;
            dt_loss_sums sums = {0};
            loss_eval(m->head, Z + o, labels ? labels + at : NULL, targets ? targets + o : NULL,
                      len, m->n_out, ts, dZ + o, &sums);
            losses[j] = sums.loss;
        }
        backward_parts(m, p, q, r, X, dZ, nb, part, grads, 0);
    } else if (!m->fault.code) {
        record_fault(m, 0, NULL);
    }
    m->grads_stale = 0;
    if (m->fault.code) {
        fill_nan(grads, (size_t)parts * m->n_params);
        for (int j = 0; j < parts; j++) losses[j] = NAN;
    }
    model_use_grads(m, was);
}
