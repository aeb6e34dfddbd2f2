/* Data set tests: loading each X dtype, input checks, normalisation and the
 * split of a global batch across ranks. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dtrain/comm.h"
#include "dtrain/dataset.h"
#include "dtrain/h5io.h"
#include "dtrain/matmul.h"
#include "testutil.h"

/* Write a file with /train/X (3 x 2) of the given type holding 1..6 and
 * /train/y = y (3 doubles, stored as ytype). */
static const char *write_file(const char *name, dt_dtype xt, const double y[3], dt_dtype yt)
{
    const char *path = tu_path(name);
    h5file *f;
    dt_error err;
    ck_assert_int_eq(h5io_create(path, &f, &err), DT_OK);
    unsigned char buf[6 * 8];
    double yb[3];
    for (int i = 0; i < 6; i++) {
        double v = i + 1;
        switch (xt) {
        case DT_U8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
        case DT_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
        case DT_I64: ((int64_t *)buf)[i] = (int64_t)v; break;
        case DT_F32: ((float *)buf)[i] = (float)v; break;
        case DT_F64: ((double *)buf)[i] = v; break;
        }
    }
    int64_t dx[2] = {3, 2}, dy[1] = {3};
    ck_assert_int_eq(h5io_write(f, "/train/X", xt, 2, dx, buf, 0, &err), DT_OK);
    unsigned char ybuf[3 * 8];
    for (int i = 0; i < 3; i++) {
        yb[i] = y[i];
        if (yt == DT_I32) ((int32_t *)ybuf)[i] = (int32_t)y[i];
        else if (yt == DT_F32) ((float *)ybuf)[i] = (float)y[i];
        else ((double *)ybuf)[i] = yb[i];
    }
    ck_assert_int_eq(h5io_write(f, "/train/y", yt, 1, dy, ybuf, 1, &err), DT_OK);
    ck_assert_int_eq(h5io_close(f, &err), DT_OK);
    return path;
}

START_TEST(test_each_x_dtype)
{
    dt_dtype types[] = {DT_U8, DT_I32, DT_I64, DT_F32, DT_F64};
    const double y[3] = {0, 2, 1};
    dt_dtype t = types[_i];
    char name[32];
    snprintf(name, sizeof name, "x_%s.h5", dt_dtype_name(t));
    const char *p = write_file(name, t, y, DT_I32);
    dt_dataset ds;
    dt_error err;
    ck_assert_msg(dataset_load(p, "/train", 1, &ds, &err) == DT_OK, "%s", err.msg);
    ck_assert_int_eq(ds.n, 3);
    ck_assert_int_eq(ds.d, 2);
    /* uint8 stays uint8 in memory; every other type becomes float */
    ck_assert_int_eq(ds.X8 != NULL, t == DT_U8);
    ck_assert_int_eq(ds.X != NULL, t != DT_U8);
    float buf[6];
    const float *x = dataset_rows(&ds, 0, 3, buf);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(x[i], (float)(i + 1));
    ck_assert_int_eq(ds.labels[1], 2);
    ck_assert_int_eq(ds.max_label, 2);
    dataset_free(&ds);
    /* the same file as regression targets */
    ck_assert_int_eq(dataset_load(p, "/train", 0, &ds, &err), DT_OK);
    ck_assert_float_eq(ds.targets[1], 2.0f);
    ck_assert_int_eq(ds.k, 1);
    dataset_free(&ds);
}
END_TEST

static void expect_error(const char *path, const char *group, int labels, const char *needle)
{
    dt_dataset ds;
    dt_error err;
    dt_error_clear(&err);
    ck_assert_msg(dataset_load(path, group, labels, &ds, &err) != DT_OK, "%s %s should fail",
                  path, group);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

START_TEST(test_bad_inputs)
{
    const double neg[3] = {0, -1, 1}, frac[3] = {0, 1.5, 1}, ok[3] = {0, 1, 1};
    const double inf[3] = {0, INFINITY, 1};
    expect_error(write_file("neg.h5", DT_F32, neg, DT_F64), "/train", 1, "row 1 is -1");
    expect_error(write_file("frac.h5", DT_F32, frac, DT_F64), "/train", 1, "row 1 is 1.5");
    expect_error(write_file("inf.h5", DT_F32, inf, DT_F64), "/train", 0, "row 1 column 0 is inf");
    const char *good = write_file("good.h5", DT_F32, ok, DT_I32);
    expect_error(good, "/nothere", 1, "no group '/nothere'");
    expect_error(tu_path("missing.h5"), "/train", 1, "no such file");

    /* not HDF5 */
    FILE *f = fopen(tu_path("text.h5"), "w");
    fputs("hello\n", f);
    fclose(f);
    expect_error(tu_path("text.h5"), "/train", 1, "not an HDF5 file");

    /* X 1-D, y with the wrong row count, NaN in X */
    h5file *h;
    dt_error err;
    ck_assert_int_eq(h5io_create(tu_path("shape.h5"), &h, &err), DT_OK);
    float x1[4] = {1, 2, 3, 4}, xn[4] = {1, 2, NAN, 4};
    int32_t y4[4] = {0, 1, 0, 1};
    int64_t d1[1] = {4}, d2[2] = {2, 2}, d3[1] = {3};
    h5io_write(h, "/a/X", DT_F32, 1, d1, x1, 0, &err);
    h5io_write(h, "/a/y", DT_I32, 1, d1, y4, 0, &err);
    h5io_write(h, "/b/X", DT_F32, 2, d2, x1, 0, &err);
    h5io_write(h, "/b/y", DT_I32, 1, d3, y4, 0, &err);
    h5io_write(h, "/c/X", DT_F32, 2, d2, xn, 0, &err);
    h5io_write(h, "/c/y", DT_I32, 1, d2, y4, 0, &err);
    h5io_write(h, "/d/X", DT_F32, 2, d2, x1, 0, &err);
    h5io_close(h, &err);
    expect_error(tu_path("shape.h5"), "/a", 1, "must be 2-D");
    expect_error(tu_path("shape.h5"), "/b", 1, "has 3 rows but X has 2");
    expect_error(tu_path("shape.h5"), "/c", 1, "row 1 column 0 is nan");
    expect_error(tu_path("shape.h5"), "/d", 1, "no dataset '/d/y'");
}
END_TEST

START_TEST(test_zscore_minmax)
{
    /* X column 0 = 1,3,5 (mean 3, population sd sqrt(8/3)); column 1 = 2,4,6.
     * zscore of 5: (5-3)/sqrt(8/3) = 1.2247449; minmax of 3: (3-1)/(5-1) = 0.5 */
    const double y[3] = {0, 1, 0};
    const char *p = write_file("norm.h5", DT_F64, y, DT_I32);
    dt_dataset ds;
    dt_norm nm;
    dt_error err;
    ck_assert_int_eq(dataset_load(p, "/train", 1, &ds, &err), DT_OK);
    ck_assert_int_eq(norm_fit(comm_world(), &ds, NORM_ZSCORE, 0, &nm, &err), DT_OK);
    norm_apply(&nm, &ds);
    ck_assert_float_eq_tol(ds.X[4], 1.2247449f, 1e-6f);
    ck_assert_float_eq_tol(ds.X[2], 0.0f, 1e-6f);
    norm_free(&nm);
    dataset_free(&ds);
    ck_assert_int_eq(dataset_load(p, "/train", 1, &ds, &err), DT_OK);
    ck_assert_int_eq(norm_fit(comm_world(), &ds, NORM_MINMAX, 0, &nm, &err), DT_OK);
    norm_apply(&nm, &ds);
    ck_assert_float_eq_tol(ds.X[2], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(ds.X[5], 1.0f, 1e-7f);
    norm_free(&nm);
    dataset_free(&ds);
}
END_TEST

/* Write /train/X (N x D) holding x as type xt, and /train/y = i % 3. */
enum { N8 = 37, D8 = 5 };
static const char *write_bytes_file(const char *name, dt_dtype xt, const uint8_t *x)
{
    const char *path = tu_path(name);
    h5file *f;
    dt_error err;
    float xf[N8 * D8];
    int32_t y[N8];
    for (int i = 0; i < N8 * D8; i++) xf[i] = x[i];
    for (int i = 0; i < N8; i++) y[i] = i % 3;
    int64_t dx[2] = {N8, D8}, dy[1] = {N8};
    ck_assert_int_eq(h5io_create(path, &f, &err), DT_OK);
    ck_assert_int_eq(h5io_write(f, "/train/X", xt, 2, dx, xt == DT_U8 ? (const void *)x : xf, 0, &err), DT_OK);
    ck_assert_int_eq(h5io_write(f, "/train/y", DT_I32, 1, dy, y, 1, &err), DT_OK);
    ck_assert_int_eq(h5io_close(f, &err), DT_OK);
    return path;
}

START_TEST(test_uint8_rows_match_float)
{
    /* The same values stored as uint8 and as float32.  With each
     * normalisation, rows read from the uint8 copy (converted and normalised
     * as they are gathered) must be the same bits as rows of the float copy
     * normalised in place, through gather, dataset_rows and a validation
     * split; the statistics must agree bitwise too.  Column 3 is constant
     * (scale 1 by rule), column 4 spans 0..255. */
    uint8_t x[N8 * D8];
    for (int i = 0; i < N8; i++) {
        x[i * D8 + 0] = (uint8_t)(i * 7 % 256);
        x[i * D8 + 1] = (uint8_t)(200 + i % 50);
        x[i * D8 + 2] = (uint8_t)(i % 2);
        x[i * D8 + 3] = 42;
        x[i * D8 + 4] = (uint8_t)(i == 0 ? 0 : i == 1 ? 255 : i * 13 % 256);
    }
    const char *p8 = write_bytes_file("rows_u8.h5", DT_U8, x);
    const char *pf = write_bytes_file("rows_f32.h5", DT_F32, x);
    const dt_norm_kind kinds[] = {NORM_NONE, NORM_ZSCORE, NORM_MINMAX};
    const int64_t rows[] = {36, 0, 5, 5, 17, 1, 30};
    const int nr = (int)(sizeof rows / sizeof rows[0]);
    for (int k = 0; k < 3; k++) {
        dt_dataset a, b;
        dt_norm na, nb;
        dt_error err;
        ck_assert_int_eq(dataset_load_shared(comm_world(), p8, "/train", 1, &a, &err), DT_OK);
        ck_assert_int_eq(dataset_load(pf, "/train", 1, &b, &err), DT_OK);
        ck_assert(a.X8 && !a.X && b.X && !b.X8);
        ck_assert_int_eq(norm_fit(comm_world(), &a, kinds[k], 0, &na, &err), DT_OK);
        ck_assert_int_eq(norm_fit(comm_world(), &b, kinds[k], 0, &nb, &err), DT_OK);
        ck_assert(!memcmp(na.shift, nb.shift, D8 * sizeof(float)));
        ck_assert(!memcmp(na.scale, nb.scale, D8 * sizeof(float)));
        dataset_normalize(&na, &a);
        dataset_normalize(&nb, &b);
        float ga[7 * D8], gb[7 * D8], buf[N8 * D8];
        int32_t la[7], lb[7];
        dataset_gather(&a, rows, nr, ga, la, NULL);
        dataset_gather(&b, rows, nr, gb, lb, NULL);
        ck_assert_msg(!memcmp(ga, gb, sizeof ga), "%s: gathered rows differ", norm_name(kinds[k]));
        ck_assert(!memcmp(la, lb, sizeof la));
        if (kinds[k] == NORM_MINMAX) /* row 1 holds the max of column 4: (255 - 0) / 255 */
            ck_assert_float_eq(ga[5 * D8 + 4], 1.0f);
        ck_assert(!memcmp(dataset_rows(&a, 0, N8, buf), b.X, sizeof buf));
        /* a validation split keeps the stored type and the normalisation */
        dt_dataset ak, ah, bk, bh;
        ck_assert_int_eq(dataset_split(&a, 0.3, 5, &ak, &ah, &err), DT_OK);
        ck_assert_int_eq(dataset_split(&b, 0.3, 5, &bk, &bh, &err), DT_OK);
        ck_assert(ah.X8 && ah.n == bh.n && ah.n > 0);
        ck_assert(!memcmp(dataset_rows(&ah, 0, ah.n, buf), bh.X, (size_t)(bh.n * D8) * sizeof(float)));
        dataset_free(&ak);
        dataset_free(&ah);
        dataset_free(&bk);
        dataset_free(&bh);
        norm_free(&na);
        norm_free(&nb);
        dataset_free(&a);
        dataset_free(&b);
    }
}
END_TEST

/* Rows gathered straight to bf16 are the rule applied to the rows
 * dataset_gather writes, bit for bit: uint8 rows normalised (_i 0) and as
 * they are (_i 1), float rows (_i 2); every row length from 1 to 40 and 784
 * (vectors of 16 with partial ones at each row's end), rows repeated and out
 * of order; shifts and scales arbitrary, one scale small enough that the
 * fp32 value is subnormal (rounded to zero), float rows with NaNs and
 * subnormals; nothing written past the batch. */
START_TEST(test_gather_bf16_rounds_gathered_rows)
{
    if (matmul_bf16_support() != 2) {
        fprintf(stderr, "check_dataset: no native bf16, test_gather_bf16_rounds_gathered_rows skipped\n");
        return;
    }
    enum { N = 13, MAXD = 784, NB = 9 };
    const int64_t rows[NB] = {12, 0, 5, 5, 7, 1, 11, 3, 12};
    static uint8_t x8[N * MAXD];
    static float xf[N * MAXD], norm[2 * MAXD], X[NB * MAXD];
    static dt_bf16 got[NB * MAXD + 1];
    int32_t labels[N], lg[NB], lw[NB];
    for (int i = 0; i < N; i++) labels[i] = i % 4;
    for (int i = 0; i < N * MAXD; i++) {
        x8[i] = (uint8_t)(i * 37 % 256);
        const uint32_t odd[3] = {0x00000003u, 0x7fc00001u, 0x807f0000u}; /* subnormals, a NaN */
        xf[i] = (float)sin(0.1 * i) * 100.0f;
        if (i % 29 == 0)
            memcpy(&xf[i], &odd[i % 3], sizeof xf[i]);
    }
    for (int j = 0; j < MAXD; j++) {
        norm[j] = (float)(j % 7) * 17.3f;
        norm[MAXD + j] = j % 11 == 5 ? 1e-40f : 1.0f / (float)(3 + j % 5);
    }
    for (int t = 0; t <= 40; t++) {
        const int d = t < 40 ? t + 1 : MAXD;
        dt_dataset ds;
        memset(&ds, 0, sizeof ds);
        ds.n = ds.held = N;
        ds.d = d;
        ds.k = 1;
        ds.labels = labels;
        ds.max_label = 3;
        float nd[2 * MAXD]; /* norm8 is (2, d) */
        memcpy(nd, norm, (size_t)d * sizeof *nd);
        memcpy(nd + d, norm + MAXD, (size_t)d * sizeof *nd);
        if (_i < 2) {
            ds.X8 = x8;
            ds.norm8 = nd;
            ds.normed8 = _i == 0;
        } else {
            ds.X = xf;
        }
        dataset_gather(&ds, rows, NB, X, lw, NULL);
        for (int i = 0; i <= NB * d; i++) got[i] = 0xBEEF;
        dataset_gather_bf16(&ds, rows, NB, got, lg, NULL);
        for (int i = 0; i < NB * d; i++)
            ck_assert_msg(got[i] == tu_bf16_rule(X[i]), "kind %d, d %d, value %d (%.9g): 0x%04X, want 0x%04X",
                          _i, d, i, (double)X[i], got[i], tu_bf16_rule(X[i]));
        ck_assert_msg(got[NB * d] == 0xBEEF, "kind %d, d %d: written past the batch", _i, d);
        ck_assert(!memcmp(lg, lw, sizeof lg));
    }
}
END_TEST

START_TEST(test_batch_slices_cover)
{
    /* For P = 1..8 and batch sizes 1..40 (most not divisible by P): the slices are
     * contiguous, in rank order, cover [0, b) exactly once and differ by <= 1. */
    for (int P = 1; P <= 8; P++)
        for (int64_t b = 1; b <= 40; b++) {
            int64_t next = 0, mn = b, mx = 0;
            for (int r = 0; r < P; r++) {
                int64_t lo, hi;
                batch_slice(b, r, P, &lo, &hi);
                ck_assert_int_eq(lo, next);
                ck_assert_int_ge(hi, lo);
                next = hi;
                if (hi - lo < mn) mn = hi - lo;
                if (hi - lo > mx) mx = hi - lo;
            }
            ck_assert_int_eq(next, b);
            ck_assert_int_le(mx - mn, 1);
        }
    ck_assert_int_eq(batch_count(10, 3, 0), 4);
    ck_assert_int_eq(batch_count(10, 3, 1), 3);
}
END_TEST

START_TEST(test_block_owner_inverts_block_slice)
{
    /* Reference: block_slice itself.  For n = 1..60 rows, blocks of 1..9 and
     * P = 1..9 ranks (more ranks than blocks included): every row's owner is
     * the one rank whose block_slice holds it. */
    for (int P = 1; P <= 9; P++)
        for (int64_t block = 1; block <= 9; block++)
            for (int64_t n = 1; n <= 60; n++)
                for (int r = 0; r < P; r++) {
                    int64_t lo, hi;
                    block_slice(n, block, r, P, &lo, &hi);
                    for (int64_t row = lo; row < hi; row++)
                        ck_assert_msg(block_owner(n, block, row, P) == r,
                                      "n %lld block %lld P %d row %lld: owner %d, not %d",
                                      (long long)n, (long long)block, P, (long long)row,
                                      block_owner(n, block, row, P), r);
                }
}
END_TEST

START_TEST(test_split_kept_counts)
{
    /* dataset_split_kept, from the labels alone, against the split itself:
     * 40 rows of 3 classes (14, 13, 13) and of none, for several shares. */
    float X[40];
    int32_t y[40];
    for (int i = 0; i < 40; i++) {
        X[i] = (float)i;
        y[i] = i % 3;
    }
    dt_dataset ds = {.n = 40, .d = 1, .k = 1, .X = X, .labels = y, .max_label = 2};
    dt_dataset nolab = {.n = 40, .d = 1, .k = 1, .X = X, .targets = X, .max_label = -1};
    const double fracs[] = {0.1, 0.25, 0.5, 0.77};
    for (int i = 0; i < 4; i++) {
        dt_dataset *sets[2] = {&ds, &nolab};
        for (int j = 0; j < 2; j++) {
            dt_dataset keep, held;
            dt_error err;
            ck_assert_int_eq(dataset_split(sets[j], fracs[i], 9, &keep, &held, &err), DT_OK);
            ck_assert_int_eq(dataset_split_kept(sets[j], fracs[i]), keep.n);
            dataset_free(&keep);
            dataset_free(&held);
        }
    }
    /* by hand: round(0.1 * 14) + 2 round(0.1 * 13) = 1 + 1 + 1 held, 37 kept */
    ck_assert_int_eq(dataset_split_kept(&ds, 0.1), 37);
}
END_TEST

START_TEST(test_target_stats)
{
    /* Targets (4, 2): column 0 is 1, 2, 3, 6 (mean 3, population variance
     * (4 + 1 + 0 + 9) / 4 = 3.5); column 1 is constant 7 (only shifted:
     * scale 1). */
    float t[8] = {1, 7, 2, 7, 3, 7, 6, 7};
    dt_dataset ds = {.n = 4, .d = 1, .k = 2, .targets = t, .max_label = -1};
    float shift[2], scale[2];
    dataset_target_stats(&ds, shift, scale);
    ck_assert_float_eq(shift[0], 3.0f);
    ck_assert_float_eq_tol(scale[0], (float)(1.0 / sqrt(3.5)), 1e-7f);
    ck_assert_float_eq(shift[1], 7.0f);
    ck_assert_float_eq(scale[1], 1.0f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("load");
    tcase_add_loop_test(tc, test_each_x_dtype, 0, 5);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_zscore_minmax);
    tcase_add_test(tc, test_target_stats);
    tcase_add_test(tc, test_uint8_rows_match_float);
    tcase_add_loop_test(tc, test_gather_bf16_rounds_gathered_rows, 0, 3);
    suite_add_tcase(s, tc);
    tc = tcase_create("batches");
    tcase_add_test(tc, test_batch_slices_cover);
    tcase_add_test(tc, test_block_owner_inverts_block_slice);
    tcase_add_test(tc, test_split_kept_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    return tu_run_mpi(suite(), &argc, &argv);
}
