/* Metrics across ranks, run under mpiexec at 1, 2, 3 and 4 ranks.
 *
 * Every rank generates the same data from a seed (1007 rows: not a multiple
 * of 2, 3 or 4) and passes its contiguous share (batch_slice).  Reference:
 * the same call on world rank 0 alone over all rows, through a communicator
 * of size 1.  Tolerance: none, every field must be bitwise identical to the
 * reference, and identical on every rank.  Sanity checks against serial
 * computations keep the comparison from passing on garbage (NaN == NaN
 * bitwise). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/comm.h"
#include "dtrain/dataset.h"
#include "dtrain/metrics.h"
#include "dtrain/rng.h"
#include "testutil.h"

enum { N = 1007 };

/* ---- flattening the results into bytes, field by field ---------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const void *v, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = 2 * (b->len + n);
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, v, n);
    b->len += n;
}

static bytes pack_class(const dt_class_metrics *m)
{
    bytes b = {0};
    size_t K = (size_t)m->K;
    put(&b, &m->n, sizeof m->n);
    put(&b, &m->K, sizeof m->K);
    put(&b, &m->accuracy, sizeof m->accuracy);
    put(&b, &m->log_loss, sizeof m->log_loss);
    put(&b, &m->auc, sizeof m->auc);
    put(&b, &m->macro, sizeof m->macro);
    put(&b, &m->weighted, sizeof m->weighted);
    put(&b, &m->micro, sizeof m->micro);
    put(&b, m->auc_k, K * sizeof *m->auc_k);
    put(&b, m->precision, K * sizeof *m->precision);
    put(&b, m->recall, K * sizeof *m->recall);
    put(&b, m->f1, K * sizeof *m->f1);
    put(&b, m->support, K * sizeof *m->support);
    put(&b, m->predicted, K * sizeof *m->predicted);
    put(&b, m->confusion, K * K * sizeof *m->confusion);
    return b;
}

static bytes pack_reg(const dt_reg_metrics *m)
{
    bytes b = {0};
    size_t K = (size_t)m->K;
    put(&b, &m->n, sizeof m->n);
    put(&b, &m->K, sizeof m->K);
    put(&b, &m->rmse, sizeof m->rmse);
    put(&b, &m->mae, sizeof m->mae);
    put(&b, &m->r2, sizeof m->r2);
    put(&b, &m->rmse_pooled, sizeof m->rmse_pooled);
    put(&b, m->rmse_k, K * sizeof *m->rmse_k);
    put(&b, m->mae_k, K * sizeof *m->mae_k);
    put(&b, m->r2_k, K * sizeof *m->r2_k);
    return b;
}

/* 1 on every rank if `mine` differs from world rank 0's bytes on any rank. */
static int64_t differs_from_rank0(const bytes *mine)
{
    dt_comm *w = comm_world();
    int64_t len = (int64_t)mine->len;
    comm_bcast(w, &len, sizeof len, 0);
    int64_t bad = len != (int64_t)mine->len;
    if (!bad) {
        unsigned char *r0 = malloc(mine->len);
        memcpy(r0, mine->p, mine->len);
        comm_bcast(w, r0, mine->len, 0);
        bad = memcmp(r0, mine->p, mine->len) != 0;
        free(r0);
    } else {
        unsigned char *dummy = malloc((size_t)len);
        comm_bcast(w, dummy, (size_t)len, 0);
        free(dummy);
    }
    comm_allreduce_max_i64(w, &bad, 1);
    return bad;
}

/* ---- the data sets --------------------------------------------------------------- */

/* Round to a multiple of 1/q so that many scores tie. */
static float quantize(double p, double q) { return (float)(round(p * q) / q); }

/* n rows of K-class softmax probabilities (K_out == K) or, with K_out == 1,
 * sigmoid P(class 1) for 2 classes; labels correlated with the scores. */
static void make_class_data(uint64_t seed, int64_t n, int K, int K_out, float *prob,
                            int32_t *lab)
{
    dt_rng r;
    rng_seed(&r, seed, 200, 0);
    for (int64_t i = 0; i < n; i++) {
        lab[i] = (int32_t)rng_below(&r, (uint64_t)K);
        if (K_out == 1) {
            double z = rng_normal(&r) + (lab[i] ? 1.0 : -1.0);
            prob[i] = quantize(1.0 / (1.0 + exp(-z)), 16);
            continue;
        }
        double z[8], m = -INFINITY, s = 0;
        for (int k = 0; k < K; k++) {
            z[k] = rng_normal(&r) + (k == lab[i] ? 1.5 : 0.0);
            m = fmax(m, z[k]);
        }
        for (int k = 0; k < K; k++) s += exp(z[k] - m);
        for (int k = 0; k < K; k++) prob[i * K + k] = quantize(exp(z[k] - m) / s, 32);
    }
}

/* Compare the distributed result with rank 0 alone; returns the world result
 * in *out (caller frees). */
static void class_case(const char *what, const float *prob, int K_out, const int32_t *lab,
                       int64_t n, int K, dt_class_metrics *out)
{
    dt_comm *w = comm_world();
    int rank = comm_rank(w), size = comm_size(w);
    int64_t lo, hi;
    batch_slice(n, rank, size, &lo, &hi);
    dt_error err;
    dt_status st = metrics_classification(w, prob + lo * K_out, K_out, lab + lo, hi - lo, K,
                                          out, &err);
    ck_assert_msg(st == DT_OK, "%s: %s", what, err.msg); /* agreed: the same on every rank */
    bytes mine = pack_class(out);
    ck_assert_msg(!differs_from_rank0(&mine), "%s: ranks disagree", what);

    dt_comm *solo = comm_split(w, rank == 0 ? 0 : 1, rank);
    int64_t bad = 0;
    if (rank == 0) {
        dt_class_metrics ref;
        st = metrics_classification(solo, prob, K_out, lab, n, K, &ref, &err);
        if (st == DT_OK) {
            bytes rb = pack_class(&ref);
            bad = rb.len != mine.len || memcmp(rb.p, mine.p, mine.len) != 0;
            if (bad)
                printf("%s: P=%d accuracy %.17g/%.17g log loss %.17g/%.17g auc %.17g/%.17g\n",
                       what, size, out->accuracy, ref.accuracy, out->log_loss, ref.log_loss,
                       out->auc, ref.auc);
            free(rb.p);
            metrics_class_free(&ref);
        } else {
            bad = 2;
        }
    }
    comm_free(solo);
    comm_allreduce_max_i64(w, &bad, 1);
    ck_assert_msg(bad == 0, "%s: %d ranks differ from one rank (%s)", what, size,
                  bad == 2 ? "reference failed" : "values");
    free(mine.p);
}

/* Serial facts about the world result that the one-rank comparison cannot
 * check: the row count, the accuracy by direct count (exact: the same
 * division), and for two classes the AUC of metrics_auc_binary (exact). */
static void class_sanity(const dt_class_metrics *m, const float *prob, int K_out,
                         const int32_t *lab, int64_t n)
{
    ck_assert_int_eq(m->n, n);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        int pred = 0;
        if (K_out == 1)
            pred = prob[i] > 0.5f;
        else
            for (int k = 1; k < K_out; k++)
                if (prob[i * K_out + k] > prob[i * K_out + pred]) pred = k;
        correct += pred == lab[i];
    }
    ck_assert(m->accuracy == (double)correct / (double)n);
    ck_assert(isfinite(m->log_loss) && m->log_loss > 0);
    ck_assert(m->auc > 0.6 && m->auc < 1.0);
    if (m->K == 2) {
        float *score = malloc((size_t)n * sizeof *score);
        for (int64_t i = 0; i < n; i++) score[i] = K_out == 1 ? prob[i] : prob[i * 2 + 1];
        ck_assert(m->auc == metrics_auc_binary(score, lab, n));
        free(score);
    }
}

START_TEST(test_multiclass)
{
    enum { K = 4 };
    static float prob[N * K];
    static int32_t lab[N];
    make_class_data(11, N, K, K, prob, lab);
    dt_class_metrics m;
    class_case("softmax K=4", prob, K, lab, N, K, &m);
    class_sanity(&m, prob, K, lab, N);
    metrics_class_free(&m);
}
END_TEST

START_TEST(test_binary_sigmoid_and_softmax)
{
    static float p1[N], p2[N * 2];
    static int32_t lab[N];
    make_class_data(12, N, 2, 1, p1, lab);
    dt_class_metrics m;
    class_case("sigmoid", p1, 1, lab, N, 2, &m);
    class_sanity(&m, p1, 1, lab, N);
    metrics_class_free(&m);
    /* The same scores as a two-column softmax output (1 - p is exact for
     * multiples of 1/16). */
    for (int i = 0; i < N; i++) p2[2 * i] = 1.0f - p1[i], p2[2 * i + 1] = p1[i];
    class_case("softmax K=2", p2, 2, lab, N, 2, &m);
    class_sanity(&m, p2, 2, lab, N);
    metrics_class_free(&m);
}
END_TEST

START_TEST(test_fewer_rows_than_ranks)
{
    /* 3 rows: at 4 ranks one rank passes none. */
    float p[3] = {0.25f, 0.75f, 0.5f};
    int32_t lab[3] = {0, 1, 1};
    dt_class_metrics m;
    class_case("3 rows", p, 1, lab, 3, 2, &m);
    /* by hand: positives .75, .5 beat the negative .25 -> AUC 1; predicted 0 1 0 */
    ck_assert(m.auc == 1.0);
    ck_assert(m.accuracy == 2.0 / 3.0);
    metrics_class_free(&m);
}
END_TEST

START_TEST(test_regression)
{
    /* Three targets at very different scales (offset 1000 on the last) so that
     * the order of the double sums would show in the last bits. */
    enum { K = 3 };
    static float y[N * K], p[N * K];
    dt_rng r;
    rng_seed(&r, 13, 200, 1);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) {
            double t = rng_normal(&r) * (k + 1) + (k == 2 ? 1000.0 : 0.0);
            y[i * K + k] = (float)t;
            p[i * K + k] = (float)(t + 0.3 * rng_normal(&r));
        }
    dt_comm *w = comm_world();
    int rank = comm_rank(w), size = comm_size(w);
    int64_t lo, hi;
    batch_slice(N, rank, size, &lo, &hi);
    dt_reg_metrics m;
    dt_error err;
    ck_assert_int_eq(metrics_regression(w, p + lo * K, y + lo * K, hi - lo, K, &m, &err), DT_OK);
    bytes mine = pack_reg(&m);
    ck_assert_msg(!differs_from_rank0(&mine), "regression: ranks disagree");

    dt_comm *solo = comm_split(w, rank == 0 ? 0 : 1, rank);
    int64_t bad = 0;
    if (rank == 0) {
        dt_reg_metrics ref;
        if (metrics_regression(solo, p, y, N, K, &ref, &err) == DT_OK) {
            bytes rb = pack_reg(&ref);
            bad = rb.len != mine.len || memcmp(rb.p, mine.p, mine.len) != 0;
            if (bad)
                printf("regression: P=%d rmse %.17g/%.17g r2 %.17g/%.17g\n", size, m.rmse,
                       ref.rmse, m.r2, ref.r2);
            free(rb.p);
            metrics_reg_free(&ref);
        } else {
            bad = 2;
        }
    }
    comm_free(solo);
    comm_allreduce_max_i64(w, &bad, 1);
    ck_assert_msg(bad == 0, "regression: %d ranks differ from one rank", size);
    /* Sanity: noise 0.3 on every target -> RMSE near 0.3 (5 sigma of its
     * sampling spread is < 0.05), R^2 well above 0.9. */
    ck_assert_int_eq(m.n, N);
    for (int k = 0; k < K; k++) ck_assert(fabs(m.rmse_k[k] - 0.3) < 0.05 && m.r2_k[k] > 0.9);
    free(mine.p);
    metrics_reg_free(&m);
}
END_TEST

START_TEST(test_error_agreement)
{
    /* The last rank's last row has label 7 of 4 classes: every rank must
     * return the same usage error with the same message. */
    enum { K = 4 };
    static float prob[N * K];
    static int32_t lab[N];
    make_class_data(11, N, K, K, prob, lab);
    dt_comm *w = comm_world();
    int rank = comm_rank(w), size = comm_size(w);
    int64_t lo, hi;
    batch_slice(N, rank, size, &lo, &hi);
    if (rank == size - 1)
        lab[hi - 1] = 7;
    dt_class_metrics m;
    dt_error err;
    dt_status st = metrics_classification(w, prob + lo * K, K, lab + lo, hi - lo, K, &m, &err);
    ck_assert_int_eq(st, DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "label 7"));
    ck_assert_ptr_null(m.confusion);
    bytes msg = {0};
    put(&msg, err.msg, strlen(err.msg) + 1);
    ck_assert_msg(!differs_from_rank0(&msg), "ranks report different errors");
    free(msg.p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_mpi");
    TCase *tc = tcase_create("rank_counts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_multiclass);
    tcase_add_test(tc, test_binary_sigmoid_and_softmax);
    tcase_add_test(tc, test_fewer_rows_than_ranks);
    tcase_add_test(tc, test_regression);
    tcase_add_test(tc, test_error_agreement);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    return tu_run_mpi(suite(), &argc, &argv);
}
