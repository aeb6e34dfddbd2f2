/* Optimizer tests: hand-computed steps and the notes' warm-up problem. */
#include <math.h>

#include "dtrain/optim.h"
#include "testutil.h"

START_TEST(test_sgd_momentum_by_hand)
{
    /* torch.optim.SGD, momentum 0.9, lr 0.1, w0 = 1, gradients 1, 2, -1:
     *   V1 = 1                  w1 = 1    - 0.1*1    = 0.9
     *   V2 = 0.9*1 + 2 = 2.9    w2 = 0.9  - 0.1*2.9  = 0.61
     *   V3 = 0.9*2.9 - 1 = 1.61 w3 = 0.61 - 0.1*1.61 = 0.449 */
    dt_optim o;
    dt_optim_config c = {.kind = OPTIM_SGD, .momentum = 0.9};
    dt_error err;
    ck_assert_int_eq(optim_init(&o, &c, 1, &err), DT_OK);
    float w = 1.0f, g[3] = {1.0f, 2.0f, -1.0f}, want[3] = {0.9f, 0.61f, 0.449f};
    for (int t = 0; t < 3; t++) {
        optim_step(&o, &w, &g[t], 0.1);
        ck_assert_float_eq_tol(w, want[t], 1e-6f);
    }
    optim_free(&o);
}
END_TEST

START_TEST(test_sgd_weight_decay_by_hand)
{
    /* plain SGD with weight_decay 0.5, lr 0.1, w0 = 2, G = 1:
     *   g = 1 + 0.5*2 = 2, w1 = 2 - 0.2 = 1.8;  g = 1 + 0.9 = 1.9, w2 = 1.8 - 0.19 = 1.61 */
    dt_optim o;
    dt_optim_config c = {.kind = OPTIM_SGD, .weight_decay = 0.5};
    dt_error err;
    ck_assert_int_eq(optim_init(&o, &c, 1, &err), DT_OK);
    float w = 2.0f, g = 1.0f;
    optim_step(&o, &w, &g, 0.1);
    ck_assert_float_eq_tol(w, 1.8f, 1e-6f);
    optim_step(&o, &w, &g, 0.1);
    ck_assert_float_eq_tol(w, 1.61f, 1e-6f);
    optim_free(&o);
}
END_TEST

START_TEST(test_adam_by_hand)
{
    /* torch.optim.Adam, lr 0.1, betas (0.9, 0.999), eps 1e-8, w0 = 1, g = 0.5, -1, 0.25:
     * t=1: m = 0.05, v = 0.00025, m^ = 0.05/0.1 = 0.5, v^ = 0.00025/0.001 = 0.25
     *      w = 1 - 0.1*0.5/(0.5 + 1e-8) = 0.900000002
     * t=2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975
     *      m^ = -0.055/0.19 = -0.28947368, v^ = 0.00124975/0.001999 = 0.62518759
     *      w = 0.9 + 0.1*0.28947368/0.79068805 = 0.93661035
     * t=3: m = -0.0495 + 0.025 = -0.0245, v = 0.00124850025 + 0.0000625 = 0.00131100025
     *      m^ = -0.0245/0.271 = -0.09040590, v^ = 0.00131100025/0.002997001 = 0.43743737
     *      w = 0.93661035 + 0.1*0.09040590/0.66138973 = 0.95027942 */
    dt_optim o;
    dt_optim_config c = {.kind = OPTIM_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    dt_error err;
    ck_assert_int_eq(optim_init(&o, &c, 1, &err), DT_OK);
    float w = 1.0f, g[3] = {0.5f, -1.0f, 0.25f};
    float want[3] = {0.900000002f, 0.93661035f, 0.95027942f};
    for (int t = 0; t < 3; t++) {
        optim_step(&o, &w, &g[t], 0.1);
        ck_assert_float_eq_tol(w, want[t], 2e-6f);
    }
    optim_free(&o);
}
END_TEST

/* The notes' warm-up: maximise f(x) = -(x-2)^2 + 3 by gradient ascent, i.e.
 * descend on -f whose gradient is 2(x - 2).  Answer by hand: x = 2, f = 3. */
static float ascend(dt_optim_kind kind, double lr, int steps)
{
    dt_optim o;
    dt_optim_config c = {.kind = kind, .momentum = 0.5, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    dt_error err;
    ck_assert_int_eq(optim_init(&o, &c, 1, &err), DT_OK);
    float x = -3.0f;
    for (int i = 0; i < steps; i++) {
        float g = 2.0f * (x - 2.0f); /* gradient of -f */
        optim_step(&o, &x, &g, lr);
    }
    optim_free(&o);
    return x;
}

START_TEST(test_warmup_maximum)
{
    float x = ascend(OPTIM_SGD, 0.1, 200);
    ck_assert_float_eq_tol(x, 2.0f, 1e-4f);
    ck_assert_double_eq_tol(-(x - 2.0) * (x - 2.0) + 3.0, 3.0, 1e-8);
    x = ascend(OPTIM_ADAM, 0.05, 3000);
    ck_assert_float_eq_tol(x, 2.0f, 1e-4f);
}
END_TEST

START_TEST(test_parse)
{
    dt_optim_kind k;
    dt_error err;
    ck_assert_int_eq(optim_parse("adam", &k, &err), DT_OK);
    ck_assert_int_eq(k, OPTIM_ADAM);
    ck_assert_int_eq(optim_parse("adamx", &k, &err), DT_EUSAGE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("updates");
    tcase_add_test(tc, test_sgd_momentum_by_hand);
    tcase_add_test(tc, test_sgd_weight_decay_by_hand);
    tcase_add_test(tc, test_adam_by_hand);
    tcase_add_test(tc, test_warmup_maximum);
    tcase_add_test(tc, test_parse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
