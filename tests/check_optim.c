/* Optimizer tests: three hand-computed steps per method, the notes' warm-up
 * problem solved by each method, and checkpoint round trips of the state.
 *
 * Reference values are worked out by hand (in double) in each test's comment,
 * following torch.optim's update rules as written in optim.h; the optimizers
 * run in float, so the tolerance is 2e-6 on values of order 1. */
#include <math.h>
#include <string.h>

#include "dtrain/optim.h"
#include "testutil.h"

/* Run three steps of cfg from w0 on gradients g[0..3) at rate lr and compare
 * each iterate with want[]. */
static void three_steps(const dt_optim_config *cfg, double lr, float w0, const float g[3],
                        const double want[3])
{
    dt_optim o;
    dt_error err;
    ck_assert_int_eq(optim_init(&o, cfg, 1, &err), DT_OK);
    float w = w0;
    for (int t = 0; t < 3; t++) {
        float gt = g[t];
        optim_step(&o, &w, &gt, lr);
        ck_assert_msg(fabs(w - want[t]) < 2e-6, "%s step %d: w = %.9g, want %.9g",
                      optim_name(cfg->kind), t + 1, (double)w, want[t]);
    }
    ck_assert_int_eq(o.t, 3);
    optim_free(&o);
}

START_TEST(test_sgd_momentum_by_hand)
{
    /* torch.optim.SGD, momentum 0.9, lr 0.1, w0 = 1, gradients 1, 2, -1:
     *   V1 = 1                  w1 = 1    - 0.1*1    = 0.9
     *   V2 = 0.9*1 + 2 = 2.9    w2 = 0.9  - 0.1*2.9  = 0.61
     *   V3 = 0.9*2.9 - 1 = 1.61 w3 = 0.61 - 0.1*1.61 = 0.449
     * The same with the default config of kind "momentum" (momentum 0.9). */
    const float g[3] = {1.0f, 2.0f, -1.0f};
    const double want[3] = {0.9, 0.61, 0.449};
    dt_optim_config c = {.kind = OPTIM_SGD, .momentum = 0.9};
    three_steps(&c, 0.1, 1.0f, g, want);
    c = optim_config_default(OPTIM_MOMENTUM);
    ck_assert_double_eq(c.momentum, 0.9);
    three_steps(&c, 0.1, 1.0f, g, want);
}
END_TEST

START_TEST(test_sgd_dampening_by_hand)
{
    /* momentum 0.9, dampening 0.5, lr 0.1, w0 = 1, gradients 1, 2, -1.  torch
     * skips dampening on the first step (V1 = g1):
     *   V1 = 1                        w1 = 1    - 0.1   = 0.9
     *   V2 = 0.9*1    + 0.5*2  = 1.9  w2 = 0.9  - 0.19  = 0.71
     *   V3 = 0.9*1.9  + 0.5*-1 = 1.21 w3 = 0.71 - 0.121 = 0.589 */
    const float g[3] = {1.0f, 2.0f, -1.0f};
    const double want[3] = {0.9, 0.71, 0.589};
    dt_optim_config c = {.kind = OPTIM_SGD, .momentum = 0.9, .dampening = 0.5};
    three_steps(&c, 0.1, 1.0f, g, want);
}
END_TEST

START_TEST(test_nesterov_by_hand)
{
    /* torch.optim.SGD(nesterov=True), momentum 0.9, lr 0.1, w0 = 1, g = 1, 2, -1;
     * the step uses d = g + 0.9 V:
     *   V1 = 1     d1 = 1  + 0.9*1    = 1.9    w1 = 1     - 0.19   = 0.81
     *   V2 = 2.9   d2 = 2  + 0.9*2.9  = 4.61   w2 = 0.81  - 0.461  = 0.349
     *   V3 = 1.61  d3 = -1 + 0.9*1.61 = 0.449  w3 = 0.349 - 0.0449 = 0.3041 */
    const float g[3] = {1.0f, 2.0f, -1.0f};
    const double want[3] = {0.81, 0.349, 0.3041};
    dt_optim_config c = optim_config_default(OPTIM_NESTEROV);
    three_steps(&c, 0.1, 1.0f, g, want);
    c = (dt_optim_config){.kind = OPTIM_SGD, .momentum = 0.9, .nesterov = 1};
    three_steps(&c, 0.1, 1.0f, g, want);
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
    ck_assert_uint_eq(optim_state_len(&o), 0);
    float w = 2.0f, g = 1.0f;
    optim_step(&o, &w, &g, 0.1);
    ck_assert_float_eq_tol(w, 1.8f, 1e-6f);
    optim_step(&o, &w, &g, 0.1);
    ck_assert_float_eq_tol(w, 1.61f, 1e-6f);
    optim_free(&o);
}
END_TEST

START_TEST(test_adagrad_by_hand)
{
    /* torch.optim.Adagrad, lr 1, lr_decay 1, initial_accumulator_value 16,
     * eps 1 (large so that it shows), w0 = 0, gradients 3, 12, 84 (chosen so
     * that r stays a perfect square):
     *   t=1: r = 16 + 9    = 25,   clr = 1/(1+0) = 1    w1 = 0 - 3/(5+1)          = -0.5
     *   t=2: r = 25 + 144  = 169,  clr = 1/(1+1) = 1/2  w2 = -0.5 - 0.5*12/(13+1) = -0.92857143
     *   t=3: r = 169+7056  = 7225, clr = 1/(1+2) = 1/3  w3 = w2 - (1/3)*84/(85+1) = -1.25415282 */
    const float g[3] = {3.0f, 12.0f, 84.0f};
    const double want[3] = {-0.5, -0.92857143, -1.25415282};
    dt_optim_config c = optim_config_default(OPTIM_ADAGRAD);
    ck_assert_double_eq(c.eps, 1e-10);
    c.lr_decay = 1.0;
    c.initial_accumulator_value = 16.0;
    c.eps = 1.0;
    three_steps(&c, 1.0, 0.0f, g, want);
}
END_TEST

START_TEST(test_rmsprop_by_hand)
{
    /* torch.optim.RMSprop defaults (alpha 0.99, eps 1e-8), lr 0.01, w0 = 0, g = 1, -2, 4:
     *   r1 = 0.01                     w1 = -0.01*1/(0.1 + 1e-8)     = -0.09999999
     *   r2 = 0.0099 + 0.04 = 0.0499   sqrt = 0.22338308
     *                                 w2 = w1 + 0.01*2/0.22338308   = -0.01046770
     *   r3 = 0.049401 + 0.16 = 0.209401, sqrt = 0.45760354
     *                                 w3 = w2 - 0.01*4/0.45760354   = -0.09787961 */
    const float g[3] = {1.0f, -2.0f, 4.0f};
    const double want[3] = {-0.09999999, -0.01046770, -0.09787961};
    dt_optim_config c = optim_config_default(OPTIM_RMSPROP);
    three_steps(&c, 0.01, 0.0f, g, want);
}
END_TEST

START_TEST(test_rmsprop_centered_momentum_by_hand)
{
    /* centered, momentum 0.5, alpha 0.5, eps 1e-8, lr 0.1, w0 = 1, g = 2, -2, 2:
     *   t=1: r = 2,   a = 1,     s = sqrt(2 - 1)       = 1
     *        B = 2/1 = 2                                  w1 = 1 - 0.2            = 0.8
     *   t=2: r = 1 + 2 = 3,  a = 0.5 - 1 = -0.5,  s = sqrt(3 - 0.25) = 1.65831240
     *        B = 0.5*2 - 2/1.65831240 = 1 - 1.20604538 = -0.20604538
     *                                                     w2 = 0.8 + 0.020604538  = 0.82060454
     *   t=3: r = 1.5 + 2 = 3.5,  a = -0.25 + 1 = 0.75,  s = sqrt(3.5 - 0.5625) = 1.71391365
     *        B = -0.10302269 + 2/1.71391365 = -0.10302269 + 1.16691993 = 1.06389724
     *                                                     w3 = w2 - 0.106389724   = 0.71421482 */
    const float g[3] = {2.0f, -2.0f, 2.0f};
    const double want[3] = {0.8, 0.82060454, 0.71421482};
    dt_optim_config c = optim_config_default(OPTIM_RMSPROP);
    c.alpha = 0.5;
    c.centered = 1;
    c.momentum = 0.5;
    three_steps(&c, 0.1, 1.0f, g, want);
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
    const float g[3] = {0.5f, -1.0f, 0.25f};
    const double want[3] = {0.900000002, 0.93661035, 0.95027942};
    dt_optim_config c = {.kind = OPTIM_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    three_steps(&c, 0.1, 1.0f, g, want);
}
END_TEST

START_TEST(test_adamw_by_hand)
{
    /* torch.optim.AdamW defaults (weight_decay 0.01, betas (0.9, 0.999), eps 1e-8),
     * lr 0.1, w0 = 1, g = 0.5, -1, 0.25.  The moments are those of the adam test
     * (decay does not enter the gradient); each step first shrinks w by
     * (1 - 0.1*0.01) = 0.999:
     *   t=1: w = 0.999      - 0.1*0.5/(0.5 + 1e-8)          = 0.899000002
     *   t=2: w = 0.89810100 + 0.1*0.28947368/0.79068805     = 0.89810100 + 0.03661035 = 0.93471135
     *   t=3: w = 0.93377664 + 0.1*0.09040590/0.66139049     = 0.93377664 + 0.01366907 = 0.94744571
     * Plain adam with the same gradients ends at 0.95027942, so the decay is visible. */
    const float g[3] = {0.5f, -1.0f, 0.25f};
    const double want[3] = {0.899000002, 0.93471135, 0.94744571};
    dt_optim_config c = optim_config_default(OPTIM_ADAMW);
    ck_assert_double_eq(c.weight_decay, 0.01);
    three_steps(&c, 0.1, 1.0f, g, want);
}
END_TEST

START_TEST(test_adam_l2_by_hand)
{
    /* torch.optim.Adam with weight_decay 0.5 (L2: g = G + 0.5 w), lr 0.1, w0 = 1,
     * G = 0.5, -1, 0.25:
     *   t=1: g = 1,  m = 0.1, v = 0.001, m^ = 1, v^ = 1   w = 1 - 0.1/(1+1e-8)  = 0.900000001
     *   t=2: g = -1 + 0.45 = -0.55, m = 0.09 - 0.055 = 0.035, v = 0.000999 + 0.0003025 = 0.0013015
     *        m^ = 0.035/0.19 = 0.18421053, v^ = 0.0013015/0.001999 = 0.65107554
     *        w = 0.9 - 0.1*0.18421053/0.80689252 = 0.87717038
     *   t=3: g = 0.25 + 0.43858519 = 0.68858519, m = 0.0315 + 0.06885852 = 0.10035852
     *        v = 0.00130020 + 0.00047415 = 0.00177435, m^ = 0.37032664, v^ = 0.59204120
     *        w = 0.87717038 - 0.1*0.37032664/0.76944213 = 0.82904114 */
    const float g[3] = {0.5f, -1.0f, 0.25f};
    const double want[3] = {0.900000001, 0.87717038, 0.82904114};
    dt_optim_config c = optim_config_default(OPTIM_ADAM);
    c.weight_decay = 0.5;
    three_steps(&c, 0.1, 1.0f, g, want);
}
END_TEST

/* The notes' warm-up: maximise f(x) = -(x-2)^2 + 3 by gradient ascent, i.e.
 * descend on -f whose gradient is 2(x - 2).  Answer by hand: x = 2, f = 3. */
static float ascend(const dt_optim_config *c, double lr, int steps)
{
    dt_optim o;
    dt_error err;
    ck_assert_int_eq(optim_init(&o, c, 1, &err), DT_OK);
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
    /* Each method from x0 = -3 (f = -22); tolerance 1e-4 on x, so f within 1e-8 of 3.
     * adamw's decay pulls x towards 0 by lr*0.01*x per step; adam's normalised
     * step can only cancel that once v has forgotten the large early gradients
     * (time constant 1/(1-b2) = 1000 steps), hence the longer run. */
    static const struct {
        dt_optim_kind kind;
        double lr;
        int steps;
    } runs[] = {
        {OPTIM_SGD, 0.1, 200},       {OPTIM_MOMENTUM, 0.05, 400}, {OPTIM_NESTEROV, 0.05, 400},
        {OPTIM_ADAGRAD, 1.0, 2000},  {OPTIM_RMSPROP, 0.01, 3000}, {OPTIM_ADAM, 0.05, 3000},
        {OPTIM_ADAMW, 0.05, 20000},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        dt_optim_config c = optim_config_default(runs[i].kind);
        float x = ascend(&c, runs[i].lr, runs[i].steps);
        ck_assert_msg(fabsf(x - 2.0f) < 1e-4f, "%s: x = %.7g, want 2", optim_name(runs[i].kind),
                      (double)x);
        ck_assert_double_eq_tol(-(x - 2.0) * (x - 2.0) + 3.0, 3.0, 1e-8);
    }
    /* sgd with the notes' momentum 0.5 */
    dt_optim_config c = {.kind = OPTIM_SGD, .momentum = 0.5};
    ck_assert_float_eq_tol(ascend(&c, 0.1, 200), 2.0f, 1e-4f);
}
END_TEST

/* A checkpoint saves state[0..optim_state_len) and t; restoring them into a
 * fresh optimizer must continue bit for bit.  Reference: the uninterrupted run. */
START_TEST(test_state_round_trip)
{
    enum { N = 5, STEPS = 7, CUT = 3 };
    static const size_t want_len[] = {
        [OPTIM_SGD] = 0 * N,     [OPTIM_MOMENTUM] = 1 * N, [OPTIM_NESTEROV] = 1 * N,
        [OPTIM_ADAGRAD] = 1 * N, [OPTIM_RMSPROP] = 3 * N,  [OPTIM_ADAM] = 2 * N,
        [OPTIM_ADAMW] = 2 * N,
    };
    for (int k = OPTIM_SGD; k <= OPTIM_ADAMW; k++) {
        dt_optim_config c = optim_config_default((dt_optim_kind)k);
        if (k == OPTIM_RMSPROP) {
            c.centered = 1;
            c.momentum = 0.3;
        }
        if (k == OPTIM_ADAGRAD)
            c.lr_decay = 0.1; /* the rate depends on t, so t must be restored too */
        dt_optim a, b;
        dt_error err;
        ck_assert_int_eq(optim_init(&a, &c, N, &err), DT_OK);
        ck_assert_int_eq(optim_init(&b, &c, N, &err), DT_OK);
        ck_assert_uint_eq(optim_state_len(&a), want_len[k]);
        float wa[N], wb[N], g[N];
        for (int i = 0; i < N; i++)
            wa[i] = 0.1f * (float)(i + 1);
        for (int s = 0; s < STEPS; s++) {
            if (s == CUT) { /* "save" a, "load" into b */
                memcpy(wb, wa, sizeof wa);
                if (optim_state_len(&a))
                    memcpy(b.state, a.state, optim_state_len(&a) * sizeof(float));
                b.t = a.t;
            }
            for (int i = 0; i < N; i++)
                g[i] = sinf((float)(3 * s + i)) + 0.5f * wa[i];
            optim_step(&a, wa, g, 0.05);
            if (s >= CUT) {
                for (int i = 0; i < N; i++)
                    g[i] = sinf((float)(3 * s + i)) + 0.5f * wb[i];
                optim_step(&b, wb, g, 0.05);
            }
        }
        ck_assert_msg(memcmp(wa, wb, sizeof wa) == 0, "%s: restored run differs", optim_name(c.kind));
        ck_assert_msg(wa[0] != 0.1f, "%s: parameters did not move", optim_name(c.kind));
        optim_free(&a);
        optim_free(&b);
    }
}
END_TEST

START_TEST(test_parse)
{
    dt_optim_kind k;
    dt_error err;
    const char *names[] = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ck_assert_int_eq(optim_parse(names[i], &k, &err), DT_OK);
        ck_assert_str_eq(optim_name(k), names[i]);
    }
    ck_assert_int_eq(optim_parse("adamx", &k, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "adamx"));
}
END_TEST

START_TEST(test_bad_config)
{
    dt_optim o;
    dt_error err;
    dt_optim_config c = optim_config_default(OPTIM_NESTEROV);
    c.dampening = 0.1;
    ck_assert_int_eq(optim_init(&o, &c, 4, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "nesterov"));
    ck_assert_ptr_null(o.state);
    c = optim_config_default(OPTIM_MOMENTUM);
    c.momentum = 0.0;
    ck_assert_int_eq(optim_init(&o, &c, 4, &err), DT_EUSAGE);
    c = optim_config_default(OPTIM_ADAM);
    c.beta2 = 1.0;
    ck_assert_int_eq(optim_init(&o, &c, 4, &err), DT_EUSAGE);
    c = optim_config_default(OPTIM_RMSPROP);
    c.eps = -1.0;
    ck_assert_int_eq(optim_init(&o, &c, 4, &err), DT_EUSAGE);
}
END_TEST

/* Every optimizer with its defaults, centered rmsprop with momentum, and
 * adam with an L2 weight decay, into cfgs (9); returns their number. */
static int every_config(dt_optim_config *cfgs)
{
    int nc = 0;
    for (int k = OPTIM_SGD; k <= OPTIM_ADAMW; k++) cfgs[nc++] = optim_config_default((dt_optim_kind)k);
    cfgs[nc] = optim_config_default(OPTIM_RMSPROP);
    cfgs[nc].centered = 1;
    cfgs[nc++].momentum = 0.5;
    cfgs[nc] = optim_config_default(OPTIM_ADAM);
    cfgs[nc++].weight_decay = 0.1;
    return nc;
}

START_TEST(test_range_matches_whole)
{
    /* The sharded update: three "ranks", each with its own optimizer and
     * parameter copy, update shards [0,16), [16,32), [32,37) of 37
     * parameters for 4 steps; the assembled shards must be the same bits as
     * one optimizer updating all 37.  A wrong state offset (every shard using
     * the state of [0, n)) fails at the second step, where the state is read. */
    enum { N = 37, STEPS = 4 };
    const size_t cut[4] = {0, 16, 32, N};
    dt_optim_config cfgs[9];
    const int nc = every_config(cfgs);
    for (int c = 0; c < nc; c++) {
        dt_optim whole, part[3];
        dt_error err;
        float w[N], wp[3][N], g[N];
        ck_assert_int_eq(optim_init(&whole, &cfgs[c], N, &err), DT_OK);
        for (int r = 0; r < 3; r++) ck_assert_int_eq(optim_init(&part[r], &cfgs[c], N, &err), DT_OK);
        for (int i = 0; i < N; i++) w[i] = wp[0][i] = wp[1][i] = wp[2][i] = 0.1f * (float)(i % 7) - 0.3f;
        for (int t = 0; t < STEPS; t++) {
            for (int i = 0; i < N; i++) g[i] = 0.05f * (float)((i * 5 + t * 3) % 11) - 0.25f;
            optim_step(&whole, w, g, 0.01);
            for (int r = 0; r < 3; r++)
                optim_step_range(&part[r], wp[r], g + cut[r], 1.0f, 1.0f, 0.01, cut[r], cut[r + 1]);
        }
        for (int r = 0; r < 3; r++) {
            ck_assert_int_eq(part[r].t, STEPS);
            for (size_t i = cut[r]; i < cut[r + 1]; i++)
                ck_assert_msg(!memcmp(&w[i], &wp[r][i], sizeof w[i]),
                              "%s config %d: parameter %zu is %.9g sharded, %.9g whole",
                              optim_name(cfgs[c].kind), c, i, (double)wp[r][i], (double)w[i]);
            /* ... and the shard's state sits where the whole state has it, which
             * is what gathering the shards for a checkpoint relies on */
            const float *vw[3] = {whole.m, whole.v, whole.a}, *vp[3] = {part[r].m, part[r].v, part[r].a};
            for (int v = 0; v < 3; v++) {
                ck_assert((vw[v] == NULL) == (vp[v] == NULL));
                if (vw[v])
                    ck_assert_msg(!memcmp(vw[v] + cut[r], vp[v] + cut[r], (cut[r + 1] - cut[r]) * sizeof(float)),
                                  "%s config %d: state view %d of shard %d differs", optim_name(cfgs[c].kind), c, v, r);
            }
        }
        optim_free(&whole);
        for (int r = 0; r < 3; r++) optim_free(&part[r]);
    }
}
END_TEST

/* The gradient's scales s1, s2 (the trainer's 1/b and norm clip) applied by
 * the step are the bits of two passes of the caller's: g *= s1, then
 * g *= s2, then the step on g.  Sums of gradients (integers up to 1000) by
 * 1/3 and 1/128 round; the clip scales 1 (no clip), 0.7310586 and 3e-3
 * round again.  A step that multiplied by s1 * s2 once, or in the other
 * order, or skipped s2, differs here (checked by hand: (7 * (1/3)) * 0.731
 * and 7 * ((1/3) * 0.731) are different floats). */
START_TEST(test_scaled_step_is_two_passes)
{
    enum { N = 29, STEPS = 5 };
    const float s1s[2] = {1.0f / 3.0f, 1.0f / 128.0f}, s2s[3] = {1.0f, 0.7310586f, 3e-3f};
    dt_optim_config cfgs[9];
    const int nc = every_config(cfgs);
    for (int c = 0; c < nc; c++)
        for (int k = 0; k < 2; k++) {
            dt_optim fused, passes;
            dt_error err;
            float wf[N], wp[N], G[N], g[N];
            ck_assert_int_eq(optim_init(&fused, &cfgs[c], N, &err), DT_OK);
            ck_assert_int_eq(optim_init(&passes, &cfgs[c], N, &err), DT_OK);
            for (int i = 0; i < N; i++) wf[i] = wp[i] = 0.1f * (float)(i % 7) - 0.3f;
            for (int t = 0; t < STEPS; t++) {
                const float s1 = s1s[k], s2 = s2s[(t + c) % 3];
                for (int i = 0; i < N; i++) G[i] = (float)((i * 37 + t * 11) % 1001 - 500);
                for (int i = 0; i < N; i++) g[i] = G[i] * s1;
                for (int i = 0; i < N; i++) g[i] *= s2;
                optim_step_range(&fused, wf, G, s1, s2, 0.01, 0, N);
                optim_step(&passes, wp, g, 0.01);
                for (int i = 0; i < N; i++)
                    ck_assert_msg(!memcmp(&wf[i], &wp[i], sizeof wf[i]),
                                  "%s config %d step %d: parameter %d is %.9g scaled in the "
                                  "step, %.9g by passes", optim_name(cfgs[c].kind), c, t, i,
                                  (double)wf[i], (double)wp[i]);
            }
            /* plain SGD has no state (NULL), and memcmp may not be given NULL */
            ck_assert(optim_state_len(&fused) == 0 ||
                      !memcmp(fused.state, passes.state, optim_state_len(&fused) * sizeof(float)));
            optim_free(&fused);
            optim_free(&passes);
        }
    /* the by-hand claim above */
    volatile float a = 7.0f, x = 1.0f / 3.0f, y = 0.7310586f;
    ck_assert_float_ne((a * x) * y, a * (x * y));
}
END_TEST

/* Floats per parameter moved by a step: the parameter read and written,
 * the gradient read, each state array read and written. */
START_TEST(test_floats_per_param)
{
    const struct {
        dt_optim_kind kind;
        int floats;
    } want[] = {{OPTIM_SGD, 3},     {OPTIM_MOMENTUM, 5}, {OPTIM_NESTEROV, 5}, {OPTIM_ADAGRAD, 5},
                {OPTIM_RMSPROP, 5}, {OPTIM_ADAM, 7},     {OPTIM_ADAMW, 7}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        dt_optim o;
        dt_error err;
        dt_optim_config c = optim_config_default(want[i].kind);
        ck_assert_int_eq(optim_init(&o, &c, 4, &err), DT_OK);
        ck_assert_int_eq(optim_floats_per_param(&o), want[i].floats);
        optim_free(&o);
    }
    /* centered rmsprop with momentum: r, a and the momentum buffer */
    dt_optim o;
    dt_error err;
    dt_optim_config c = optim_config_default(OPTIM_RMSPROP);
    c.centered = 1;
    c.momentum = 0.5;
    ck_assert_int_eq(optim_init(&o, &c, 4, &err), DT_OK);
    ck_assert_int_eq(optim_floats_per_param(&o), 9);
    optim_free(&o);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("updates");
    tcase_add_test(tc, test_sgd_momentum_by_hand);
    tcase_add_test(tc, test_sgd_dampening_by_hand);
    tcase_add_test(tc, test_nesterov_by_hand);
    tcase_add_test(tc, test_sgd_weight_decay_by_hand);
    tcase_add_test(tc, test_adagrad_by_hand);
    tcase_add_test(tc, test_rmsprop_by_hand);
    tcase_add_test(tc, test_rmsprop_centered_momentum_by_hand);
    tcase_add_test(tc, test_adam_by_hand);
    tcase_add_test(tc, test_adamw_by_hand);
    tcase_add_test(tc, test_adam_l2_by_hand);
    tcase_add_test(tc, test_range_matches_whole);
    tcase_add_test(tc, test_scaled_step_is_two_passes);
    tcase_add_test(tc, test_floats_per_param);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("warmup_problem");
    tcase_add_test(tw, test_warmup_maximum);
    suite_add_tcase(s, tw);
    TCase *tk = tcase_create("checkpoint_and_options");
    tcase_add_test(tk, test_state_round_trip);
    tcase_add_test(tk, test_parse);
    tcase_add_test(tk, test_bad_config);
    suite_add_tcase(s, tk);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
