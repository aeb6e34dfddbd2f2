/* dtrain: MLP forward and backward. */
#include "dtrain/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/linalg.h"
#include "dtrain/rng.h"

dt_status model_parse_layers_dropout(const char *text, float default_dropout,
                                     dt_layer_spec *out, int max, int *n, dt_error *err)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (len == 0 || len >= sizeof item)
            return dt_fail(err, DT_EUSAGE,
                           "--layers: empty or overlong item in '%s' (expected "
                           "WIDTH:ACTIVATION[:DROPOUT],...)",
                           text);
        memcpy(item, p, len);
        item[len] = '\0';
        if (*n >= max)
            return dt_fail(err, DT_EUSAGE, "--layers: more than %d hidden layers", max);
        char *colon = strchr(item, ':');
        if (!colon)
            return dt_fail(err, DT_EUSAGE,
                           "--layers: '%s' should be WIDTH:ACTIVATION (e.g. 128:relu)", item);
        *colon = '\0';
        char *end;
        long w = strtol(item, &end, 10);
        if (end == item || *end || w < 1 || w > 1000000)
            return dt_fail(err, DT_EUSAGE,
                           "--layers: width '%s' should be an integer in [1, 1000000]", item);
        out[*n].width = (int)w;
        out[*n].dropout = default_dropout;
        char *rate = strchr(colon + 1, ':');
        if (rate) {
            *rate++ = '\0';
            double r = strtod(rate, &end);
            if (end == rate || *end || !(r >= 0 && r < 1))
                return dt_fail(err, DT_EUSAGE,
                               "--layers: dropout '%s' of layer %d should be a number in [0, 1)",
                               rate, *n + 1);
            out[*n].dropout = (float)r;
        }
        dt_status st = act_parse(colon + 1, &out[*n].act, err);
        if (st)
            return dt_fail_prefix(err, "--layers");
        (*n)++;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p)
                return dt_fail(err, DT_EUSAGE, "--layers: trailing comma in '%s'", text);
        }
    }
    return DT_OK;
}

dt_status model_parse_layers(const char *text, dt_layer_spec *out, int max, int *n,
                             dt_error *err)
{
    return model_parse_layers_dropout(text, 0.0f, out, max, n, err);
}

dt_status init_parse(const char *text, dt_init *out, dt_error *err)
{
    if (!strcmp(text, "uniform")) *out = INIT_UNIFORM;
    else if (!strcmp(text, "xavier")) *out = INIT_XAVIER;
    else if (!strcmp(text, "he")) *out = INIT_HE;
    else
        return dt_fail(err, DT_EUSAGE, "unknown --init '%s' (expected uniform, xavier or he)",
                       text);
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
    return DT_OK;
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
    free(m->params);
    free(m->own_grads);
    free(m->work);
    free(m->xin);
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

/* out (nb, n_out) = f(in (nb, n_in) W^T + b): the bias is broadcast into out
 * first so one GEMM with beta = 1 adds the product. */
static void dense_forward(float *out, const float *in, const float *W, const float *b,
                          dt_act act, int nb, int n_in, int n_out)
{
    for (int i = 0; i < nb; i++)
        memcpy(out + (size_t)i * n_out, b, (size_t)n_out * sizeof(float));
    /* out += in (nb, n_in) * W^T (n_in, n_out) */
    linalg_sgemm(0, 1, nb, n_out, n_in, 1.0f, in, n_in, W, n_in, 1.0f, out, n_out);
    act_forward(act, out, (size_t)nb * n_out);
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

const float *model_forward(dt_model *m, const float *X, int nb)
{
    const float *in = X;
    for (int l = 0; l < m->n_layers; l++) {
        dt_layer *L = &m->layers[l];
        dense_forward(L->A, in, L->W, L->b, L->act, nb, L->n_in, L->n_out);
        if (m->training && L->dropout > 0)
            dropout_forward(m, l, L, nb);
        in = layer_output(m, L);
    }
    return in;
}

float *model_dlogits(dt_model *m) { return m->delta[0]; }

/* Given dZ (nb, n_out) for this layer's pre-activation, nb >= 1:
 *   dW (n_out, n_in) = beta dW + dZ^T (n_out, nb) * in (nb, n_in)
 *   db (n_out)       = beta db + column sums of dZ
 *   dIn (nb, n_in)    = dZ (nb, n_out) * W (n_out, n_in)      (if dIn != NULL)
 * beta is 1 (accumulate) or 0 (overwrite: dW and db are not read). */
static void dense_backward(float *dIn, float *dW, float *db, const float *dZ,
                           const float *in, const float *W, int nb, int n_in, int n_out,
                           float beta)
{
    linalg_sgemm(1, 0, n_out, n_in, nb, 1.0f, dZ, n_out, in, n_in, beta, dW, n_in);
    if (beta == 0.0f)
        memcpy(db, dZ, (size_t)n_out * sizeof *db);
    for (int i = beta == 0.0f; i < nb; i++) {
        const float *row = dZ + (size_t)i * n_out;
        for (int j = 0; j < n_out; j++) db[j] += row[j];
    }
    if (dIn)
        linalg_sgemm(0, 0, nb, n_in, n_out, 1.0f, dZ, n_out, W, n_in, 0.0f, dIn, n_in);
}

void model_zero_grad(dt_model *m) { m->grads_stale = 1; }

void model_backward(dt_model *m, const float *X, const float *dZ, int nb)
{
    if (nb == 0) {
        if (m->grads_stale)
            memset(m->grads, 0, m->n_params * sizeof *m->grads);
        m->grads_stale = 0;
        return;
    }
    const float beta = m->grads_stale ? 0.0f : 1.0f;
    m->grads_stale = 0;
    int cur = dZ == m->delta[0] ? 0 : 1;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        dt_layer *L = &m->layers[l];
        const float *in = l > 0 ? layer_output(m, &m->layers[l - 1]) : X;
        float *dIn = l > 0 ? m->delta[1 - cur] : NULL;
        dense_backward(dIn, L->dW, L->db, dZ, in, L->W, nb, L->n_in, L->n_out, beta);
        if (l > 0) {
            /* through the previous layer's activation: dZ_{l-1} = dA_{l-1} * f'(A_{l-1}) */
            dt_layer *P = &m->layers[l - 1];
            const size_t np = (size_t)nb * P->n_out;
            if (m->training && P->dropout > 0)
                for (size_t i = 0; i < np; i++) dIn[i] *= P->mask[i];
            act_backward(P->act, P->A, dIn, np);
            dZ = dIn;
            cur = 1 - cur;
        }
    }
}

void model_predict(dt_model *m, const float *X, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i += m->max_batch) {
        int nb = (int)(n - i < m->max_batch ? n - i : m->max_batch);
        const float *Z = model_forward(m, X + i * m->n_in, nb);
        float *dst = out + i * m->n_out;
        memcpy(dst, Z, (size_t)nb * m->n_out * sizeof *dst);
        head_output(m->head, dst, nb, m->n_out);
    }
}

double model_loss_grad(dt_model *m, const float *X, const int32_t *labels,
                       const float *targets, int nb)
{
    if (nb == 0) {
        model_backward(m, X, NULL, 0);
        return 0.0;
    }
    const float *Z = model_forward(m, X, nb);
    float *dZ = model_dlogits(m);
    double loss = loss_eval(m->head, Z, labels, targets, nb, m->n_out, dZ, NULL);
    model_backward(m, X, dZ, nb);
    return loss;
}
