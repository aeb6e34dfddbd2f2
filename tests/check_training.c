/* Training techniques through the library's own session code: clipping, L1,
 * dropout at evaluation, early stopping, second-order methods.  Run under
 * mpiexec at 1 to 4 ranks; every rank builds the same data in memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/comm.h"
#include "dtrain/rng.h"
#include "dtrain/session.h"
#include "testutil.h"

static dt_config cfg;

static void configure(const char *line)
{
    dt_error err;
    ck_assert_msg(tu_parse(&cfg, CMD_TRAIN, line, &err) == DT_OK, "%s", err.msg);
}

/* Regression data: y = 2 x0 - 3 x1 + 0.5 + noise(0.01); x2..x9 irrelevant. */
static void make_regression(dt_dataset *ds, int64_t n, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->d = 10;
    ds->k = 1;
    ds->max_label = -1;
    ds->X = malloc((size_t)(n * 10) * sizeof(float));
    ds->targets = malloc((size_t)n * sizeof(float));
    dt_rng r;
    rng_seed(&r, seed, 77, 0);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < 10; j++) ds->X[i * 10 + j] = (float)rng_normal(&r);
        ds->targets[i] =
            (float)(2.0 * ds->X[i * 10] - 3.0 * ds->X[i * 10 + 1] + 0.5 + 0.01 * rng_normal(&r));
    }
}

/* Two Gaussian classes in 5 dimensions, means +-0.5 on every axis. */
static void make_classes(dt_dataset *ds, int64_t n, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->d = 5;
    ds->k = 1;
    ds->X = malloc((size_t)(n * 5) * sizeof(float));
    ds->labels = malloc((size_t)n * sizeof(int32_t));
    dt_rng r;
    rng_seed(&r, seed, 78, 0);
    ds->max_label = 1;
    for (int64_t i = 0; i < n; i++) {
        int y = (int)(i % 2);
        ds->labels[i] = y;
        for (int j = 0; j < 5; j++) ds->X[i * 5 + j] = (float)(rng_normal(&r) + (y ? 0.5 : -0.5));
    }
}

static void setup(dt_session *s, dt_dataset *tr, dt_dataset *va)
{
    dt_error err;
    ck_assert_msg(session_setup_with(s, &cfg, comm_world(), tr, va, &err) == DT_OK, "%s",
                  err.msg);
}

START_TEST(test_l1_zeroes_irrelevant_weights)
{
    /* Linear model, MSE + L1 (lambda 0.05): the subgradient pushes the 8
     * irrelevant weights to (near) zero while the relevant ones stay near
     * 2 - lambda-shrinkage and -3 (+ shrinkage).  Without L1 the irrelevant ones
     * are fitted to noise, |w| ~ 1e-3 ... 1e-2; we require < 2e-3 with L1 and the
     * relevant ones within 0.1 of the truth. */
    configure("--output linear --layers none --optimizer sgd --lr 0.01 --batch-size 32 --epochs 40 "
              "--normalize none --normalize-targets off --l1 0.05 --init xavier");
    dt_dataset tr;
    make_regression(&tr, 400, 1);
    dt_session s;
    setup(&s, &tr, NULL);
    ck_assert_int_eq(session_train(&s, NULL), DT_OK);
    const float *w = s.net.model.layers[0].W;
    ck_assert_msg(fabs(w[0] - 2.0) < 0.1 && fabs(w[1] + 3.0) < 0.1, "w0 %g w1 %g", w[0], w[1]);
    for (int j = 2; j < 10; j++)
        ck_assert_msg(fabsf(w[j]) < 2e-3f, "irrelevant w%d = %g", j, w[j]);
    session_free(&s);
}
END_TEST

START_TEST(test_clip_norm_bounds_update)
{
    /* Plain sgd with lr 1: the update equals the clipped gradient, so the
     * parameter change of one step has L2 norm <= C (here 0.01, far below the
     * unclipped gradient norm of this badly scaled problem). */
    configure("--output linear --layers 8:tanh --optimizer sgd --lr 1 --batch-size 50 --epochs 1 "
              "--normalize none --normalize-targets off --clip-norm 0.01");
    dt_dataset tr;
    make_regression(&tr, 50, 2);
    for (int64_t i = 0; i < 50; i++) tr.targets[i] *= 100.0f;
    dt_session s;
    setup(&s, &tr, NULL);
    size_t n = s.net.model.n_params;
    float *before = malloc(n * sizeof *before);
    memcpy(before, s.net.model.params, n * sizeof *before);
    trainer_begin_epoch(&s.opt.trainer, 0);
    trainer_step(&s.opt.trainer, 0);
    double d2 = 0;
    for (size_t i = 0; i < n; i++) d2 += pow((double)s.net.model.params[i] - before[i], 2);
    ck_assert_msg(sqrt(d2) <= 0.01 * (1 + 1e-5) && sqrt(d2) > 0.005, "update norm %g", sqrt(d2));
    free(before);
    session_free(&s);
}
END_TEST

/* Train `line` (plus extra) on 200 rows of two classes for 10 steps by
 * trainer_step; a malloc'd copy of the parameters (*n_params), the bytes
 * the update counted in *bytes and this rank's shard size in *ns. */
static float *ten_steps(const char *line, const char *extra, double *bytes, size_t *ns,
                        size_t *n_params)
{
    char full[512];
    snprintf(full, sizeof full, "%s %s", line, extra);
    configure(full);
    dt_dataset tr;
    make_classes(&tr, 200, 5);
    dt_session s;
    setup(&s, &tr, NULL);
    dt_trainer *t = &s.opt.trainer;
    trainer_begin_epoch(t, 0);
    for (int64_t k = 0; k < 10; k++) trainer_step(t, k);
    const size_t n = s.net.model.n_params;
    float *p = malloc(n * sizeof *p);
    memcpy(p, s.net.model.params, n * sizeof *p);
    *bytes = t->time.update_bytes;
    *ns = t->hi - t->lo;
    *n_params = n;
    session_free(&s);
    return p;
}

START_TEST(test_scale_in_update_same_bits)
{
    /* Without a penalty, --clip-value or layer norms the optimizer divides
     * the gradient sum by the batch as it reads it; --clip-value 1e30 clamps
     * nothing but takes the path that writes the mean first: the parameters
     * must be the same bits, with and without a norm clip that bites (0.05),
     * in both modes, for the optimizers of three update loops.  The bytes
     * counted per step: the read-only check (1 float per parameter of the
     * shard) + --clip-norm's squares (1) + the step (adam 7, momentum 5,
     * rmsprop 5), against the scale (2) + clamp (2) + the squares + the
     * step. */
    const char *opt[] = {"adam", "sgd --momentum 0.9", "rmsprop"};
    const int step_floats[] = {7, 5, 5};
    const char *more[] = {"", "--clip-norm 0.05", "--reproducible --micro-batch 4",
                          "--reproducible --micro-batch 4 --clip-norm 0.05"};
    for (int o = 0; o < 3; o++)
        for (int m = 0; m < 4; m++) {
            char line[256];
            snprintf(line, sizeof line, "--layers 16:relu,8:tanh --optimizer %s --lr 0.05 "
                     "--batch-size 20 --epochs 1 %s", opt[o], more[m]);
            double b_fused, b_passes;
            size_t ns, n;
            float *fused = ten_steps(line, "", &b_fused, &ns, &n);
            float *passes = ten_steps(line, "--clip-value 1e30", &b_passes, &ns, &n);
            ck_assert_msg(!memcmp(fused, passes, n * sizeof *fused), "%s", line);
            const int clip = m % 2;
            ck_assert_double_eq(b_fused, 10.0 * 4 * (double)ns * (1 + clip + step_floats[o]));
            ck_assert_double_eq(b_passes,
                                10.0 * 4 * (double)ns * (2 + 2 + clip + step_floats[o]));
            free(fused);
            free(passes);
        }
}
END_TEST

START_TEST(test_dropout_off_at_evaluation)
{
    /* A model trained with dropout 0.5 evaluates deterministically (twice the
     * same bits) and exactly as the same weights without dropout would: a
     * forward pass outside training applies no mask. */
    configure("--layers 16:relu:0.5,8:tanh --optimizer adam --lr 0.01 --batch-size 20 --epochs 3");
    dt_dataset tr, va;
    make_classes(&tr, 200, 3);
    make_classes(&va, 60, 4);
    dt_session s;
    setup(&s, &tr, &va);
    ck_assert_int_eq(session_train(&s, NULL), DT_OK);
    dt_eval a, b;
    ck_assert_int_eq(trainer_evaluate(comm_world(), &s.net.model, &s.data.eval, &a, NULL), DT_OK);
    ck_assert_int_eq(trainer_evaluate(comm_world(), &s.net.model, &s.data.eval, &b, NULL), DT_OK);
    ck_assert(a.loss == b.loss && a.accuracy == b.accuracy);
    /* the same weights in a model without dropout */
    dt_layer_spec h[2] = {{16, {ACT_RELU, 0}, 0.0f}, {8, {ACT_TANH, 0}, 0.0f}};
    dt_model plain;
    dt_error err;
    ck_assert_int_eq(model_create(&plain, 5, h, 2, 2, HEAD_SOFTMAX, s.net.model.max_batch, &err),
                     DT_OK);
    memcpy(plain.params, s.net.model.params, plain.n_params * sizeof(float));
    dt_eval c;
    ck_assert_int_eq(trainer_evaluate(comm_world(), &plain, &s.data.eval, &c, NULL), DT_OK);
    ck_assert(a.loss == c.loss && a.accuracy == c.accuracy);
    /* and training did apply masks: one training-mode forward differs */
    int64_t rows[4] = {0, 1, 2, 3};
    model_train_mode(&s.net.model, 1, 0, rows);
    float z1[8];
    memcpy(z1, model_forward(&s.net.model, s.data.eval.X, 4), sizeof z1);
    model_eval_mode(&s.net.model);
    const float *z0 = model_forward(&s.net.model, s.data.eval.X, 4);
    ck_assert(memcmp(z1, z0, sizeof z1) != 0);
    model_free(&plain);
    session_free(&s);
}
END_TEST

START_TEST(test_early_stopping_keeps_best)
{
    /* 20 training samples of noisy classes and a large net overfit quickly:
     * the validation loss turns up, training stops within patience 3 of the
     * best epoch, and the kept weights give exactly the best epoch's
     * validation loss (recorded in the history). */
    configure("--layers 64:relu --optimizer adam --lr 0.05 --batch-size 5 --epochs 200 "
              "--early-stopping 3 --monitor val_loss");
    dt_dataset tr, va;
    make_classes(&tr, 20, 5);
    make_classes(&va, 200, 6);
    dt_session s;
    setup(&s, &tr, &va);
    ck_assert_int_eq(session_train(&s, NULL), DT_OK);
    const dt_progress *p = &s.state.progress;
    ck_assert_msg(p->hist.n_rows < 200, "did not stop early");
    ck_assert_int_eq(p->hist.n_rows, p->es_best_epoch + 3);
    double best = INFINITY;
    for (int64_t i = 0; i < p->hist.n_rows; i++)
        best = fmin(best, history_get(&p->hist, i, "valid_loss"));
    dt_eval e;
    ck_assert_int_eq(trainer_evaluate(comm_world(), &s.net.model, &s.data.eval, &e, NULL), DT_OK);
    ck_assert_msg(e.loss == best, "kept weights give %.9g, best epoch %.9g", e.loss, best);
    session_free(&s);
}
END_TEST

/* Train cfg on fresh copies of the same data over comm; the parameters and
 * the history (epoch rows: losses, metrics, norms; the clocks zeroed) into
 * params (n) and hist (rows x cols), allocated; returns n. */
static size_t train_on(dt_comm *comm, int classes, float **params, double **hist, size_t *nh)
{
    dt_dataset tr, va;
    if (classes) {
        make_classes(&tr, 203, 11);
        make_classes(&va, 61, 12);
    } else {
        make_regression(&tr, 203, 11);
        make_regression(&va, 61, 12);
    }
    dt_session s;
    dt_error err;
    ck_assert_msg(session_setup_with(&s, &cfg, comm, &tr, &va, &err) == DT_OK, "%s", err.msg);
    ck_assert_int_eq(session_train(&s, NULL), DT_OK);
    const size_t n = s.net.model.n_params;
    *params = malloc(n * sizeof **params);
    memcpy(*params, s.net.model.params, n * sizeof **params);
    const dt_history *h = &s.state.progress.hist;
    *nh = (size_t)(h->n_rows * h->n_cols);
    *hist = malloc(*nh * sizeof **hist + 1);
    for (int64_t r = 0; r < h->n_rows; r++)
        for (int c = 0; c < h->n_cols; c++) {
            const int clock = strstr(h->name[c], "time") != NULL;
            (*hist)[r * h->n_cols + c] = clock ? 0.0 : h->rows[r * h->n_cols + c];
        }
    session_free(&s);
    return n;
}

/* 1 if training at all ranks gives the bits that one rank alone gives (each
 * rank trains alone too, on a communicator of its own). */
static int same_as_one_rank(int classes)
{
    float *pw, *p1;
    double *hw, *h1;
    size_t nhw, nh1;
    dt_comm *self = comm_split(comm_world(), comm_rank(comm_world()), 0);
    const size_t n = train_on(comm_world(), classes, &pw, &hw, &nhw);
    train_on(self, classes, &p1, &h1, &nh1);
    comm_free(self);
    int same = nhw == nh1 && !memcmp(pw, p1, n * sizeof *pw) && !memcmp(hw, h1, nhw * sizeof *hw);
    free(pw);
    free(p1);
    free(hw);
    free(h1);
    return same;
}

START_TEST(test_reproducible_at_any_rank_count)
{
    /* --reproducible: parameters and every figure of the history are the
     * same bits at this rank count as at one rank, for each first-order
     * optimizer, with dropout, L1/L2, both clippings and the layer norms on;
     * 203 rows in batches of 37 (a short last batch) cut into micro-batches
     * of 8 (the last of each batch 5 rows, of the last batch 18 = 8+8+2).
     * Without --reproducible this fails at 3 ranks (checked). */
    const char *opts[] = {"sgd --momentum 0.9", "nesterov", "adagrad", "rmsprop --centered",
                          "adam", "adamw"};
    for (int i = 0; i < 6; i++) {
        char line[512];
        snprintf(line, sizeof line,
                 "--reproducible --micro-batch 8 --layers 12:relu:0.2,6:tanh --batch-size 37 "
                 "--epochs 3 --optimizer %s --lr 0.05 --l2 1e-3 --l1 1e-4 --clip-norm 0.5 "
                 "--clip-value 0.3 --log-grad-norms",
                 opts[i]);
        configure(line);
        ck_assert_msg(same_as_one_rank(1), "--optimizer %s", opts[i]);
    }
    /* a model of over 10 000 parameters: the tree is added in several chunks of
     * the parameters, the last one partial */
    configure("--reproducible --micro-batch 8 --layers 1500:relu --batch-size 37 --epochs 1");
    ck_assert(same_as_one_rank(1));
    /* a regression head on standardised targets, zscore inputs (exact sums) */
    configure("--reproducible --micro-batch 16 --layers 8:relu --output linear --batch-size 50 "
              "--epochs 2 --drop-last");
    ck_assert(same_as_one_rank(0));
}
END_TEST

START_TEST(test_micro_batch_changes_the_bits)
{
    /* The comparison above can fail: micro-batches of 8 and of 16 group the
     * additions differently, and the weights differ (in their last bits). */
    float *a, *b;
    double *ha, *hb;
    size_t na, nb;
    configure("--reproducible --micro-batch 8 --layers 12:relu --batch-size 37 --epochs 2");
    const size_t n = train_on(comm_world(), 1, &a, &ha, &na);
    configure("--reproducible --micro-batch 16 --layers 12:relu --batch-size 37 --epochs 2");
    train_on(comm_world(), 1, &b, &hb, &nb);
    ck_assert(memcmp(a, b, n * sizeof *a) != 0);
    free(a);
    free(b);
    free(ha);
    free(hb);
}
END_TEST

START_TEST(test_newton_least_squares_one_step)
{
    /* Linear model + MSE is quadratic: one (undamped) Newton step from any
     * start lands on the least-squares solution, where the full-batch gradient
     * vanishes.  Reference: the gradient at the start is O(1); after the step
     * every component must be below 1e-3 (float parameters, finite-difference
     * Hessian in double). */
    configure("--output linear --layers none --optimizer newton --epochs 1 --normalize none "
              "--normalize-targets off");
    dt_dataset tr;
    make_regression(&tr, 300, 7);
    dt_session s;
    setup(&s, &tr, NULL);
    trainer_full_batch(comm_world(), &s.net.model, &s.data.train, 0, 0);
    double g0 = 0;
    for (size_t i = 0; i < s.net.model.n_params; i++) g0 = fmax(g0, fabs(s.net.model.grads[i]));
    ck_assert_double_gt(g0, 0.1);
    ck_assert_int_eq(session_train(&s, NULL), DT_OK);
    trainer_full_batch(comm_world(), &s.net.model, &s.data.train, 0, 0);
    for (size_t i = 0; i < s.net.model.n_params; i++)
        ck_assert_msg(fabs(s.net.model.grads[i]) < 1e-3, "gradient %zu = %g", i,
                      s.net.model.grads[i]);
    ck_assert(fabs(s.net.model.layers[0].W[0] - 2.0) < 0.01);
    session_free(&s);
}
END_TEST

START_TEST(test_lbfgs_and_bfgs_fit)
{
    /* Full-batch quasi-Newton on the same quadratic: 30 iterations reach the
     * solution (w0 = 2, w1 = -3 within 0.01). */
    const char *opt[] = {"lbfgs", "bfgs"};
    for (int i = 0; i < 2; i++) {
        char line[256];
        snprintf(line, sizeof line, "--output linear --layers none --optimizer %s --epochs 30 --normalize none "
                 "--normalize-targets off",
                 opt[i]);
        configure(line);
        dt_dataset tr;
        make_regression(&tr, 300, 8);
        dt_session s;
        setup(&s, &tr, NULL);
        ck_assert_int_eq(session_train(&s, NULL), DT_OK);
        const float *w = s.net.model.layers[0].W;
        ck_assert_msg(fabs(w[0] - 2.0) < 0.01 && fabs(w[1] + 3.0) < 0.01, "%s: %g %g", opt[i],
                      w[0], w[1]);
        session_free(&s);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("training");
    TCase *tc = tcase_create("techniques");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_l1_zeroes_irrelevant_weights);
    tcase_add_test(tc, test_clip_norm_bounds_update);
    tcase_add_test(tc, test_scale_in_update_same_bits);
    tcase_add_test(tc, test_dropout_off_at_evaluation);
    tcase_add_test(tc, test_early_stopping_keeps_best);
    tcase_add_test(tc, test_reproducible_at_any_rank_count);
    tcase_add_test(tc, test_micro_batch_changes_the_bits);
    tcase_add_test(tc, test_newton_least_squares_one_step);
    tcase_add_test(tc, test_lbfgs_and_bfgs_fit);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    return tu_run_mpi(suite(), &argc, &argv);
}
