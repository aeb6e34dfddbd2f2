/* Model tests: layer parsing and a gradient check of every activation x every
 * output head against central finite differences of an independent
 * double-precision forward pass written here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/model.h"
#include "dtrain/rng.h"
#include "testutil.h"

/* ---- independent reference: forward pass and loss in double ---------------- */

static double ref_act(dt_act a, double x)
{
    switch (a.kind) {
    case ACT_IDENTITY: return x;
    case ACT_STEP: return x > 0 ? 1.0 : 0.0;
    case ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case ACT_TANH: return 2.0 / (1.0 + exp(-2.0 * x)) - 1.0; /* the notes' 2 sigma(2x) - 1 */
    case ACT_RELU: return x > 0 ? x : 0.0;
    case ACT_LEAKY_RELU: return x > 0 ? x : a.slope * x;
    }
    return NAN;
}

/* Sum over samples of the loss, with parameters p laid out as the model's. */
static double ref_loss(const dt_model *m, const double *p, const float *X, const int32_t *lab,
                       const float *tgt, int nb)
{
    double total = 0.0;
    double a[64], z[64];
    for (int i = 0; i < nb; i++) {
        int n_in = m->n_in;
        for (int j = 0; j < n_in; j++) a[j] = X[i * n_in + j];
        for (int l = 0; l < m->n_layers; l++) {
            const dt_layer *L = &m->layers[l];
            const double *W = p + L->offset, *b = W + L->n_out * L->n_in;
            for (int o = 0; o < L->n_out; o++) {
                double s = b[o];
                for (int j = 0; j < L->n_in; j++) s += W[o * L->n_in + j] * a[j];
                z[o] = l == m->n_layers - 1 ? s : ref_act(L->act, s);
            }
            memcpy(a, z, sizeof(double) * L->n_out);
        }
        int K = m->n_out;
        if (m->head == HEAD_SOFTMAX) {
            double s = 0.0;
            for (int k = 0; k < K; k++) s += exp(a[k]);
            total += -log(exp(a[lab[i]]) / s); /* -log p_y, written naively */
        } else if (m->head == HEAD_SIGMOID) {
            double pr = 1.0 / (1.0 + exp(-a[0]));
            total += -(lab[i] * log(pr) + (1 - lab[i]) * log(1 - pr));
        } else {
            double se = 0.0;
            for (int k = 0; k < K; k++) se += (a[k] - tgt[i * K + k]) * (a[k] - tgt[i * K + k]);
            total += se / K;
        }
    }
    return total;
}

/* Gradient check for one activation and head at a precision.  Reference:
 * central differences with h = 1e-6 on the double-precision forward above.
 * Tolerance per parameter |g - g_fd| <= abs_tol + rel_tol |g_fd|: fp32
 * computes in float (2e-4 + 2e-3 |g_fd|); bf16 rounds every GEMM input to 8
 * significant bits (relative error 2^-9 each, compounded over three layers
 * and both passes: 2e-2 of the largest gradient + 3e-2 |g_fd|).  The check
 * also fails if the library's gradient is all zeros. */
static void gradcheck_at(dt_act act, dt_head head, dt_precision prec)
{
    enum { NIN = 4, NB = 7 };
    int K = head == HEAD_SOFTMAX ? 3 : head == HEAD_SIGMOID ? 1 : 2;
    dt_layer_spec hidden[2] = {{5, act, 0.0f}, {4, act, 0.0f}};
    dt_model m;
    dt_error err;
    ck_assert_int_eq(model_create(&m, NIN, hidden, 2, K, head, NB, &err), DT_OK);
    ck_assert_int_eq(model_set_precision(&m, prec, &err), DT_OK);
    model_init(&m, INIT_UNIFORM, 42);
    /* Larger weights than the default so every activation is well away from linear. */
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 2.0f;

    dt_rng r;
    rng_seed(&r, 3, 99, (uint64_t)act.kind * 7 + head);
    float X[NB * NIN], tgt[NB * 2];
    int32_t lab[NB];
    for (int i = 0; i < NB * NIN; i++) X[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    for (int i = 0; i < NB * 2; i++) tgt[i] = (float)(rng_uniform(&r) * 2.0 - 1.0);
    for (int i = 0; i < NB; i++) lab[i] = (int32_t)rng_below(&r, (uint64_t)(head == HEAD_SOFTMAX ? 3 : 2));

    /* NaN in grads: after model_zero_grad the backward must not read them */
    for (size_t i = 0; i < m.n_params; i++) m.grads[i] = NAN;
    model_zero_grad(&m);
    double loss = model_loss_grad(&m, X, lab, tgt, NB);

    double *p = malloc(m.n_params * sizeof *p), *fd = malloc(m.n_params * sizeof *fd);
    for (size_t i = 0; i < m.n_params; i++) p[i] = m.params[i];
    double ref = ref_loss(&m, p, X, lab, tgt, NB);
    const double loss_tol = prec == PREC_BF16 ? 2e-2 : 1e-4;
    ck_assert_msg(fabs(loss - ref) <= loss_tol * (1.0 + fabs(ref)), "loss %g vs reference %g",
                  loss, ref);

    const double h = 1e-6;
    double fd_max = 0.0;
    for (size_t i = 0; i < m.n_params; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = ref_loss(&m, p, X, lab, tgt, NB);
        p[i] = keep - h;
        double down = ref_loss(&m, p, X, lab, tgt, NB);
        p[i] = keep;
        fd[i] = (up - down) / (2 * h);
        fd_max = fmax(fd_max, fabs(fd[i]));
    }
    const double abs_tol = prec == PREC_BF16 ? 2e-2 * fd_max : 2e-4;
    const double rel_tol = prec == PREC_BF16 ? 3e-2 : 2e-3;
    double gnorm = 0.0;
    for (size_t i = 0; i < m.n_params; i++) {
        double g = m.grads[i];
        gnorm += g * g;
        ck_assert_msg(fabs(g - fd[i]) <= abs_tol + rel_tol * fabs(fd[i]),
                      "%s act %d head %d param %zu: analytic %.8g vs finite difference %.8g",
                      matmul_precision_name(prec), act.kind, head, i, g, fd[i]);
    }
    ck_assert_msg(gnorm > 1e-6, "gradient is all zeros (act %d head %d)", act.kind, head);
    free(p);
    free(fd);
    model_free(&m);
}

static void gradcheck(dt_act act, dt_head head) { gradcheck_at(act, head, PREC_FP32); }

static const dt_act all_acts[] = {{ACT_IDENTITY, 0}, {ACT_STEP, 0}, {ACT_SIGMOID, 0},
                                  {ACT_TANH, 0},     {ACT_RELU, 0}, {ACT_LEAKY_RELU, 0.2f}};

START_TEST(test_gradcheck_all)
{
    /* _i runs over activations x heads */
    dt_head heads[] = {HEAD_SOFTMAX, HEAD_SIGMOID, HEAD_LINEAR};
    gradcheck(all_acts[_i / 3], heads[_i % 3]);
}
END_TEST

START_TEST(test_zero_grad_then_accumulate)
{
    /* Two blocks after model_zero_grad (the first overwrites, the second
     * adds) give the same bits as two blocks added to a cleared buffer; an
     * empty block after model_zero_grad leaves zeros. */
    dt_layer_spec hidden[1] = {{6, {ACT_TANH, 0.0f}, 0.0f}};
    dt_model m;
    dt_error err;
    ck_assert_int_eq(model_create(&m, 3, hidden, 1, 3, HEAD_SOFTMAX, 4, &err), DT_OK);
    model_init(&m, INIT_XAVIER, 5);
    float X[8 * 3];
    int32_t y[8];
    for (int i = 0; i < 24; i++) X[i] = 0.1f * (float)(i % 9) - 0.4f;
    for (int i = 0; i < 8; i++) y[i] = i % 3;
    float *ref = malloc(m.n_params * sizeof *ref);
    memset(m.grads, 0, m.n_params * sizeof(float));
    model_loss_grad(&m, X, y, NULL, 4);
    model_loss_grad(&m, X + 12, y + 4, NULL, 4);
    memcpy(ref, m.grads, m.n_params * sizeof *ref);
    for (size_t i = 0; i < m.n_params; i++) m.grads[i] = NAN;
    model_zero_grad(&m);
    model_loss_grad(&m, X, y, NULL, 4);
    model_loss_grad(&m, X + 12, y + 4, NULL, 4);
    ck_assert(!memcmp(ref, m.grads, m.n_params * sizeof *ref));
    double s = 0;
    for (size_t i = 0; i < m.n_params; i++) s += fabs(ref[i]);
    ck_assert(s > 0);
    for (size_t i = 0; i < m.n_params; i++) m.grads[i] = NAN;
    model_zero_grad(&m);
    model_loss_grad(&m, X, y, NULL, 0);
    for (size_t i = 0; i < m.n_params; i++) ck_assert_float_eq(m.grads[i], 0.0f);
    free(ref);
    model_free(&m);
}
END_TEST

START_TEST(test_step_trains_only_after)
{
    /* step: derivative 0, so the first layer's gradient is exactly zero while the
     * output layer's is not. */
    dt_layer_spec hidden[1] = {{3, {ACT_STEP, 0}, 0.0f}};
    dt_model m;
    dt_error err;
    ck_assert_int_eq(model_create(&m, 2, hidden, 1, 2, HEAD_SOFTMAX, 4, &err), DT_OK);
    model_init(&m, INIT_UNIFORM, 1);
    float X[8] = {0.5f, -1, 1, 2, -0.3f, 0.7f, 0.1f, 0.1f};
    int32_t y[4] = {0, 1, 1, 0};
    memset(m.grads, 0, m.n_params * sizeof(float));
    model_loss_grad(&m, X, y, NULL, 4);
    const dt_layer *L0 = &m.layers[0], *L1 = &m.layers[1];
    for (int i = 0; i < L0->n_out * (L0->n_in + 1); i++) ck_assert_float_eq(L0->dW[i], 0.0f);
    double s = 0;
    for (int i = 0; i < L1->n_out * (L1->n_in + 1); i++) s += fabs(L1->dW[i]);
    ck_assert_double_gt(s, 0.0);
    model_free(&m);
}
END_TEST

START_TEST(test_softmax_stable)
{
    /* Logits of +-1e4: a naive softmax overflows; ours must stay finite.
     * Hand value: z = (1e4, -1e4), y = 1: loss = logsumexp(z) - z_1 = 1e4 + 1e4 = 2e4. */
    float z[2] = {1e4f, -1e4f}, dz[2];
    int32_t y = 1;
    double l = loss_eval(HEAD_SOFTMAX, z, &y, NULL, 1, 2, NULL, dz, NULL);
    ck_assert_double_eq_tol(l, 2e4, 1e-6);
    ck_assert_float_eq_tol(dz[0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(dz[1], -1.0f, 1e-6f);
    /* sigmoid BCE at z = -800, y = 1: loss = 800 (log(1 + e^800) - 0 would overflow) */
    float s = -800.0f;
    l = loss_eval(HEAD_SIGMOID, &s, &y, NULL, 1, 1, NULL, dz, NULL);
    ck_assert_double_eq_tol(l, 800.0, 1e-9);
    ck_assert_float_eq_tol(dz[0], -1.0f, 1e-6f);
}
END_TEST

START_TEST(test_linear_target_scaling)
{
    /* Two outputs standardised with shift (10, -4) and scale (0.5, 2), i.e.
     * std (2, 0.5).  Both samples have t = (12, -3), so t' = (1, 2).
     * Sample 1: z = (1.5, 1), d = z - t' = (0.5, -1); sample 2: z = (1.5, 2),
     * d = (0.5, 0).  Minimised (returned): sum of (1/K) sum_k d_k^2 = 0.625 +
     * 0.125; dZ = 2 d / K = d.  Reported (sums, the targets' units): the
     * errors std_k d_k = (1, -0.5) and (1, 0), so losses 0.625 and 0.5,
     * squared errors 1.25 and 1.  Outputs back: z / scale + shift = (13, -3.5)
     * and (13, -3). */
    const float shift[2] = {10.0f, -4.0f}, scale[2] = {0.5f, 2.0f};
    const dt_target_scaling ts = {shift, scale};
    float z[4] = {1.5f, 1.0f, 1.5f, 2.0f}, t[4] = {12.0f, -3.0f, 12.0f, -3.0f}, dz[4];
    dt_loss_sums sums = {0};
    double l = loss_eval(HEAD_LINEAR, z, NULL, t, 2, 2, &ts, dz, &sums);
    ck_assert_double_eq_tol(l, 0.625 + 0.125, 1e-12);
    ck_assert_float_eq_tol(dz[0], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(dz[1], -1.0f, 1e-7f);
    ck_assert_float_eq_tol(dz[2], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(dz[3], 0.0f, 1e-7f);
    ck_assert_double_eq_tol(sums.loss, 0.625 + 0.5, 1e-12);
    ck_assert_double_eq_tol(sums.sqerr, 1.25 + 1.0, 1e-12);
    /* the outputs back in the targets' units: z / scale + shift */
    head_output(HEAD_LINEAR, &ts, z, 2, 2);
    ck_assert_float_eq(z[0], 13.0f);
    ck_assert_float_eq(z[1], -3.5f);
    ck_assert_float_eq(z[3], -3.0f);
    /* without a scaling the same call is plain MSE on the targets */
    float z2[2] = {11.0f, -3.0f};
    dt_loss_sums plain = {0};
    l = loss_eval(HEAD_LINEAR, z2, NULL, t, 1, 2, NULL, NULL, &plain);
    ck_assert_double_eq(l, 0.5); /* (1^2 + 0^2) / 2 */
    ck_assert_double_eq(plain.loss, 0.5);
}
END_TEST

/* bf16 mixed precision: the same check with its looser tolerance, where the
 * CPU can run it (else the test says so and checks nothing). */
START_TEST(test_gradcheck_bf16)
{
    if (matmul_bf16_support() == 0) {
        fprintf(stderr, "check_model: no bf16 on this CPU, test_gradcheck_bf16 skipped\n");
        return;
    }
    dt_head heads[] = {HEAD_SOFTMAX, HEAD_SIGMOID, HEAD_LINEAR};
    gradcheck_at(all_acts[_i / 3], heads[_i % 3], PREC_BF16);
}
END_TEST

/* bf16 rounds the GEMM inputs and nothing else.  A linear model (no hidden
 * layer) X (2,3) W^T + b: with every x and w a multiple of 1/16 in [-2, 2]
 * (exact in bf16) the products and their fp32 sums are exact, so bf16 and
 * fp32 logits are equal bit for bit.  With x = 1/3 (not exact: bf16 keeps 8
 * significant bits, error <= 2^-9 relative) the logit moves, by at most
 * sum_j |w_j x_j| 2^-9 (w exact), so this also shows that bf16 was used. */
START_TEST(test_bf16_rounds_inputs_only)
{
    if (matmul_bf16_support() == 0) {
        fprintf(stderr, "check_model: no bf16 on this CPU, test_bf16_rounds_inputs_only skipped\n");
        return;
    }
    dt_model a, b;
    dt_error err;
    ck_assert_int_eq(model_create(&a, 3, NULL, 0, 2, HEAD_LINEAR, 2, &err), DT_OK);
    ck_assert_int_eq(model_create(&b, 3, NULL, 0, 2, HEAD_LINEAR, 2, &err), DT_OK);
    ck_assert_int_eq(model_set_precision(&b, PREC_BF16, &err), DT_OK);
    const float W[8] = {0.5f, -1.25f, 0.0625f, 2.0f, -0.75f, 1.5f, /* b: */ 0.1f, -0.3f};
    memcpy(a.params, W, sizeof W);
    memcpy(b.params, W, sizeof W);
    float X[6] = {1.0f, 0.5f, -2.0f, 0.1875f, -1.0f, 0.25f};
    float za[4], zb[4];
    memcpy(za, model_forward(&a, X, 2), sizeof za);
    memcpy(zb, model_forward(&b, X, 2), sizeof zb);
    ck_assert_mem_eq(za, zb, sizeof za);
    /* hand value, row 0 output 0: 0.5*1 - 1.25*0.5 + 0.0625*-2 + 0.1 = -0.15 */
    ck_assert_float_eq_tol(za[0], -0.15f, 1e-7f);

    X[0] = 1.0f / 3.0f; /* bf16: 0x3EAB = 0.333984375 */
    memcpy(za, model_forward(&a, X, 2), sizeof za);
    memcpy(zb, model_forward(&b, X, 2), sizeof zb);
    for (int o = 0; o < 2; o++) {
        double bound = 0.0;
        for (int j = 0; j < 3; j++) bound += fabs((double)W[o * 3 + j] * X[j]);
        bound *= 0x1p-9;
        double d = fabs((double)zb[o] - za[o]);
        ck_assert_msg(d <= bound + 1e-7, "output %d moved by %g > %g", o, d, bound);
    }
    /* output 0: 0.5 * (0.333984375 - 1/3) = 3.26e-4 */
    ck_assert_float_eq_tol(zb[0] - za[0], 0.5f * (0.333984375f - 1.0f / 3.0f), 1e-6f);
    model_free(&a);
    model_free(&b);
}
END_TEST

/* A model keeps the plans of DT_MODEL_SHAPES batch sizes and makes others on
 * demand, replacing the oldest.  Every size from 1 to 12 and back (more
 * sizes than slots, so plans are replaced and made again) gives the loss of
 * the double reference, and the same bits the second time as the first. */
START_TEST(test_plans_for_many_batch_sizes)
{
    enum { NB = 12, NIN = 5 };
    dt_layer_spec hidden[2] = {{7, {ACT_TANH, 0}, 0.0f}, {6, {ACT_RELU, 0}, 0.0f}};
    dt_model m;
    dt_error err;
    ck_assert_int_eq(model_create(&m, NIN, hidden, 2, 3, HEAD_SOFTMAX, NB, &err), DT_OK);
    model_init(&m, INIT_XAVIER, 8);
    ck_assert_int_eq(model_prepare(&m, NB, 1, &err), DT_OK);
    ck_assert_int_eq(model_prepare(&m, NB + 1, 1, &err), DT_EINTERNAL);
    float X[NB * NIN];
    int32_t y[NB];
    for (int i = 0; i < NB * NIN; i++) X[i] = (float)sin(0.7 * i);
    for (int i = 0; i < NB; i++) y[i] = i % 3;
    double *p = malloc(m.n_params * sizeof *p);
    for (size_t i = 0; i < m.n_params; i++) p[i] = m.params[i];
    double first[NB + 1];
    float *g1 = malloc(NB * m.n_params * sizeof *g1);
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < NB; k++) {
            int nb = pass == 0 ? k + 1 : NB - k;
            model_zero_grad(&m);
            double loss = model_loss_grad(&m, X, y, NULL, nb);
            double ref = ref_loss(&m, p, X, y, NULL, nb);
            ck_assert_msg(fabs(loss - ref) <= 1e-4 * (1 + fabs(ref)), "nb %d: %g vs %g", nb,
                          loss, ref);
            if (pass == 0) {
                first[nb] = loss;
                memcpy(g1 + (size_t)(nb - 1) * m.n_params, m.grads, m.n_params * sizeof *g1);
            } else {
                ck_assert_msg(loss == first[nb], "nb %d: loss changed on a new plan", nb);
                ck_assert_mem_eq(g1 + (size_t)(nb - 1) * m.n_params, m.grads,
                                 m.n_params * sizeof *g1);
            }
        }
    free(g1);
    free(p);
    model_free(&m);
}
END_TEST

/* Two models of the same shape with the same initial parameters. */
static void twin_models(dt_model *a, dt_model *b, int n_in, const dt_layer_spec *hidden, int nh,
                        int n_out, dt_head head, dt_init init, uint64_t seed)
{
    dt_error err;
    ck_assert_int_eq(model_create(a, n_in, hidden, nh, n_out, head, 8, &err), DT_OK);
    ck_assert_int_eq(model_create(b, n_in, hidden, nh, n_out, head, 8, &err), DT_OK);
    model_init(a, init, seed);
    model_init(b, init, seed);
}

/* Back to fp32 after bf16 gives exactly what a model that never left fp32
 * gives. */
START_TEST(test_precision_switch_back)
{
    if (matmul_bf16_support() == 0)
        return;
    dt_layer_spec hidden[1] = {{6, {ACT_SIGMOID, 0}, 0.0f}};
    dt_model a, b;
    dt_error err;
    twin_models(&a, &b, 4, hidden, 1, 2, HEAD_SIGMOID, INIT_UNIFORM, 2);
    float X[16];
    int32_t y[4] = {0, 1, 1, 0};
    for (int i = 0; i < 16; i++) X[i] = (float)cos(1.3 * i);
    ck_assert_int_eq(model_set_precision(&b, PREC_BF16, &err), DT_OK);
    model_zero_grad(&b);
    double lb = model_loss_grad(&b, X, y, NULL, 4);
    ck_assert_int_eq(model_set_precision(&b, PREC_FP32, &err), DT_OK);
    model_zero_grad(&a);
    model_zero_grad(&b);
    double la = model_loss_grad(&a, X, y, NULL, 4), lf = model_loss_grad(&b, X, y, NULL, 4);
    ck_assert(la == lf);
    ck_assert(lb != la); /* the bf16 pass did round */
    ck_assert_mem_eq(a.grads, b.grads, a.n_params * sizeof(float));
    model_free(&a);
    model_free(&b);
}
END_TEST

/* Rows given already rounded (model_forward_bf16, model_loss_grad_sums_bf16)
 * give the same bits as the fp32 rows they round: logits, loss and every
 * gradient, 5 rows of 13 inputs (partial vectors).  The model given the
 * rounded rows first works on other rows, so that its own bf16 input
 * buffer holds something else: results taken from it would differ. */
START_TEST(test_bf16_rows_given_rounded)
{
    if (matmul_bf16_support() != 2) {
        fprintf(stderr, "check_model: no native bf16, test_bf16_rows_given_rounded skipped\n");
        return;
    }
    dt_layer_spec hidden[2] = {{9, {ACT_TANH, 0}, 0.0f}, {6, {ACT_RELU, 0}, 0.0f}};
    dt_model a, b;
    dt_error err;
    twin_models(&a, &b, 13, hidden, 2, 3, HEAD_SOFTMAX, INIT_XAVIER, 4);
    ck_assert_int_eq(model_set_precision(&a, PREC_BF16, &err), DT_OK);
    ck_assert_int_eq(model_set_precision(&b, PREC_BF16, &err), DT_OK);
    float X[5 * 13], other[5 * 13], za[5 * 3];
    dt_bf16 X16[5 * 13];
    int32_t y[5] = {0, 2, 1, 1, 0};
    for (int i = 0; i < 5 * 13; i++) {
        X[i] = (float)sin(0.7 * i);
        other[i] = (float)cos(1.9 * i);
    }
    bf16_round(X16, X, 5 * 13);
    model_forward(&b, other, 5);
    memcpy(za, model_forward(&a, X, 5), sizeof za);
    ck_assert_mem_eq(model_forward_bf16(&b, X16, 5), za, sizeof za);
    model_forward(&b, other, 5);
    dt_loss_sums sa = {0}, sb = {0};
    model_zero_grad(&a);
    model_zero_grad(&b);
    const double la = model_loss_grad_sums(&a, X, y, NULL, 5, &sa);
    const double lb = model_loss_grad_sums_bf16(&b, X16, y, NULL, 5, &sb);
    ck_assert(la == lb && sa.loss == sb.loss && sa.correct == sb.correct);
    ck_assert_mem_eq(a.grads, b.grads, a.n_params * sizeof(float));
    model_free(&a);
    model_free(&b);
}
END_TEST

/* model_loss_grad_parts gives each part the bits of model_loss_grad_sums on
 * that part alone (its gradient written, its loss), dropout on (the masks
 * follow the rows' indices), 45 rows in parts of 16 (the last 13), in fp32
 * and, with native bf16, on rows given rounded, the parts run at once and
 * one by one (where the engine's rows would differ); and the parts'
 * gradients differ from one another (a copy of one part would fail). */
START_TEST(test_loss_grad_parts_same_bits)
{
    enum { NB = 45, PART = 16, NIN = 30, K = 5, PARTS = 3 };
    dt_layer_spec hidden[2] = {{40, {ACT_RELU, 0}, 0.3f}, {24, {ACT_TANH, 0}, 0.0f}};
    static float X[NB * NIN];
    static dt_bf16 X16[NB * NIN];
    int32_t y[NB];
    int64_t rows[NB];
    for (int i = 0; i < NB * NIN; i++) X[i] = (float)sin(0.37 * i);
    bf16_round(X16, X, NB * NIN);
    for (int i = 0; i < NB; i++) {
        y[i] = (i * 7) % K;
        rows[i] = 1000 + 3 * i;
    }
    for (int mode = 0; mode < 4; mode++) {
        /* bf16 or fp32, the parts at once or one by one */
        const int bf16 = mode & 1, one_by_one = mode >> 1;
        if (bf16 && matmul_bf16_support() != 2)
            continue;
        dt_model a, b;
        dt_error err;
        ck_assert_int_eq(model_create(&a, NIN, hidden, 2, K, HEAD_SOFTMAX, 64, &err), DT_OK);
        ck_assert_int_eq(model_create(&b, NIN, hidden, 2, K, HEAD_SOFTMAX, 64, &err), DT_OK);
        model_init(&a, INIT_XAVIER, 5);
        model_init(&b, INIT_XAVIER, 5);
        ck_assert_int_eq(model_set_precision(&a, bf16 ? PREC_BF16 : PREC_FP32, &err), DT_OK);
        ck_assert_int_eq(model_set_precision(&b, bf16 ? PREC_BF16 : PREC_FP32, &err), DT_OK);
        const size_t n = a.n_params;
        float *g = malloc(PARTS * n * sizeof *g);
        double losses[PARTS];
        a.parts_one_by_one = one_by_one;
        model_train_mode(&a, 9, 4, rows);
        model_loss_grad_parts(&a, bf16 ? NULL : X, bf16 ? X16 : NULL, y, NULL, NB, PART, g,
                              losses);
        ck_assert_int_eq(model_fault(&a, &err), DT_OK);
        ck_assert(a.grads == a.own_grads && a.drop_rows == rows);
        for (int j = 0; j < PARTS; j++) {
            const int at = j * PART, len = NB - at < PART ? NB - at : PART;
            dt_loss_sums sums = {0};
            model_train_mode(&b, 9, 4, rows + at);
            model_zero_grad(&b);
            if (bf16)
                model_loss_grad_sums_bf16(&b, X16 + at * NIN, y + at, NULL, len, &sums);
            else
                model_loss_grad_sums(&b, X + at * NIN, y + at, NULL, len, &sums);
            ck_assert_msg(losses[j] == sums.loss, "%s%s part %d: loss %.17g vs %.17g",
                          bf16 ? "bf16" : "fp32", one_by_one ? " one by one" : "", j, losses[j],
                          sums.loss);
            ck_assert_msg(!memcmp(g + j * n, b.grads, n * sizeof *g), "%s%s part %d: gradients",
                          bf16 ? "bf16" : "fp32", one_by_one ? " one by one" : "", j);
            if (j > 0)
                ck_assert(memcmp(g + j * n, g + (j - 1) * n, n * sizeof *g) != 0);
        }
        free(g);
        model_free(&a);
        model_free(&b);
    }
}
END_TEST

START_TEST(test_parse_layers)
{
    dt_layer_spec s[8];
    int n;
    dt_error err;
    ck_assert_int_eq(model_parse_layers("256:relu,128:leaky_relu=0.2,4:step", s, 8, &n, &err),
                     DT_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(s[0].width, 256);
    ck_assert_int_eq(s[0].act.kind, ACT_RELU);
    ck_assert_int_eq(s[1].act.kind, ACT_LEAKY_RELU);
    ck_assert_float_eq(s[1].act.slope, 0.2f);
    ck_assert_int_eq(s[2].act.kind, ACT_STEP);
    ck_assert_int_eq(model_parse_layers("", s, 8, &n, &err), DT_OK);
    ck_assert_int_eq(n, 0);
    const char *bad[] = {"256", "0:relu", "abc:relu", "10:swish", "10:relu,", "10:relu=2",
                         "10:leaky_relu=-1", ",10:relu"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(model_parse_layers(bad[i], s, 8, &n, &err) == DT_EUSAGE,
                      "'%s' should be refused", bad[i]);
    ck_assert_ptr_nonnull(strstr(err.msg, "layers: "));
}
END_TEST

START_TEST(test_leaky_default_slope)
{
    dt_act a;
    dt_error err;
    ck_assert_int_eq(act_parse("leaky_relu", &a, &err), DT_OK);
    ck_assert_float_eq(a.slope, 0.01f);
    float x[2] = {-2.0f, 3.0f};
    act_forward(a, x, 2);
    ck_assert_float_eq_tol(x[0], -0.02f, 1e-7f);
    ck_assert_float_eq(x[1], 3.0f);
}
END_TEST

/* A saved model records its activations with act_format; the slope must come
 * back as the same float (found by tests/fuzz/fuzz_layers: %g lost digits). */
START_TEST(test_leaky_slope_round_trip)
{
    const char *texts[] = {"leaky_relu=0.1111111111", "leaky_relu=0.2", "leaky_relu=1e-7",
                           "leaky_relu=0.333333343"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        dt_act a, b;
        dt_error err;
        char buf[64];
        ck_assert_int_eq(act_parse(texts[i], &a, &err), DT_OK);
        act_format(a, buf, sizeof buf);
        ck_assert_int_eq(act_parse(buf, &b, &err), DT_OK);
        ck_assert_msg(a.slope == b.slope, "%s printed as %s", texts[i], buf);
    }
}
END_TEST

START_TEST(test_init_same_seed)
{
    dt_layer_spec h[1] = {{8, {ACT_RELU, 0}, 0.0f}};
    dt_model a, b;
    dt_error err;
    model_create(&a, 5, h, 1, 3, HEAD_SOFTMAX, 2, &err);
    model_create(&b, 5, h, 1, 3, HEAD_SOFTMAX, 2, &err);
    model_init(&a, INIT_UNIFORM, 11);
    model_init(&b, INIT_UNIFORM, 11);
    ck_assert_mem_eq(a.params, b.params, a.n_params * sizeof(float));
    /* U(-1/sqrt(5), 1/sqrt(5)) for layer 0 */
    for (int i = 0; i < 8 * 5 + 8; i++) ck_assert_float_le(fabsf(a.params[i]), 1.0f / sqrtf(5.0f));
    model_init(&b, INIT_UNIFORM, 12);
    ck_assert(memcmp(a.params, b.params, a.n_params * sizeof(float)) != 0);
    model_free(&a);
    model_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("gradients");
    tcase_add_loop_test(tc, test_gradcheck_all, 0, 18);
    tcase_add_test(tc, test_step_trains_only_after);
    tcase_add_test(tc, test_zero_grad_then_accumulate);
    tcase_add_test(tc, test_softmax_stable);
    tcase_add_test(tc, test_linear_target_scaling);
    suite_add_tcase(s, tc);
    tc = tcase_create("engine");
    tcase_add_loop_test(tc, test_gradcheck_bf16, 0, 18);
    tcase_add_test(tc, test_bf16_rounds_inputs_only);
    tcase_add_test(tc, test_plans_for_many_batch_sizes);
    tcase_add_test(tc, test_precision_switch_back);
    tcase_add_test(tc, test_bf16_rows_given_rounded);
    tcase_add_test(tc, test_loss_grad_parts_same_bits);
    suite_add_tcase(s, tc);
    tc = tcase_create("construction");
    tcase_add_test(tc, test_parse_layers);
    tcase_add_test(tc, test_leaky_default_slope);
    tcase_add_test(tc, test_leaky_slope_round_trip);
    tcase_add_test(tc, test_init_same_seed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
