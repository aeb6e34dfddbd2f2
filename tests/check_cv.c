/* Cross-validation tests (one rank, no MPI communication): grid parsing and
 * expansion, the folds and the subsets built from them, metric choice, the
 * ranking and the table.  Expected values are worked out by hand in the
 * comments; sums of a few exactly representable numbers are compared to
 * 1e-12. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/cv.h"
#include "testutil.h"

/* cfg = defaults plus a cv command line (space separated). */
static dt_status parse_cv(dt_config *cfg, const char *line, dt_error *err)
{
    return tu_parse(cfg, CMD_CV, line, err);
}

static dt_config base, cfg; /* large: off the stack */
static cv_grid grid;

/* ---- grid ------------------------------------------------------------------ */

START_TEST(test_grid_product_order)
{
    dt_error err;
    ck_assert_int_eq(parse_cv(&base,
                              "--data d.h5 --lr 0.5 --grid lr=0.1|0.01|0.001 "
                              "--grid layers=32:relu|64:relu,32:relu --grid drop-last=0|1",
                              &err),
                     DT_OK);
    ck_assert_int_eq(cv_grid_parse(base.cv.grid, &base, &grid, &err), DT_OK);
    ck_assert_int_eq(grid.n_axes, 3);
    ck_assert_int_eq(grid.n_configs, 12); /* 3 x 2 x 2 */
    /* itertools.product order: the last axis varies fastest; configuration 7 =
     * (1 * 2 + 1) * 2 + 1 -> lr 0.01, layers 64:relu,32:relu, drop-last 1 */
    ck_assert_int_eq(cv_grid_value(&grid, 7, 0), 1);
    ck_assert_int_eq(cv_grid_value(&grid, 7, 1), 1);
    ck_assert_int_eq(cv_grid_value(&grid, 7, 2), 1);
    ck_assert_int_eq(cv_grid_value(&grid, 4, 0), 1);
    ck_assert_int_eq(cv_grid_value(&grid, 4, 1), 0);
    ck_assert_int_eq(cv_grid_value(&grid, 4, 2), 0);
    char desc[256];
    cv_grid_describe(&grid, 7, desc, sizeof desc);
    ck_assert_str_eq(desc, "lr=0.01 layers=64:relu,32:relu drop-last=1");
    cv_grid_config(&grid, &base, 7, &cfg);
    ck_assert_double_eq(cfg.train.lr, 0.01);
    ck_assert_int_eq(cfg.train.layers.n, 2);
    ck_assert_int_eq(cfg.train.layers.spec[0].width, 64);
    ck_assert_int_eq(cfg.train.layers.spec[1].width, 32);
    ck_assert_int_eq(cfg.train.drop_last, 1);
    ck_assert_str_eq(cfg.train.data, "d.h5"); /* the command line's options are kept */
    ck_assert(CONFIG_GIVEN(&cfg, train.drop_last));
    cv_grid_config(&grid, &base, 0, &cfg);
    ck_assert_double_eq(cfg.train.lr, 0.1); /* the grid overrides --lr 0.5 */
    ck_assert_int_eq(cfg.train.drop_last, 0);
    cv_grid_config(&grid, &base, 11, &cfg);
    ck_assert_double_eq(cfg.train.lr, 0.001);
}
END_TEST

START_TEST(test_grid_empty)
{
    dt_error err;
    ck_assert_int_eq(parse_cv(&base, "--data d.h5 --lr 0.5", &err), DT_OK);
    ck_assert_int_eq(cv_grid_parse(base.cv.grid, &base, &grid, &err), DT_OK);
    ck_assert_int_eq(grid.n_axes, 0);
    ck_assert_int_eq(grid.n_configs, 1);
    cv_grid_config(&grid, &base, 0, &cfg);
    ck_assert_double_eq(cfg.train.lr, 0.5);
    char desc[64];
    cv_grid_describe(&grid, 0, desc, sizeof desc);
    ck_assert_str_eq(desc, "command line");
}
END_TEST

START_TEST(test_grid_errors)
{
    struct {
        const char *line, *expect;
    } cases[] = {
        {"--grid lrr=0.1|0.2", "did you mean --lr"},
        {"--grid lr=0.1|abc", "--grid 'lr=0.1|abc': --lr: expected a number, got 'abc'"},
        {"--grid lr=0.1|-1", "out of range"},
        {"--grid lr0.1", "--grid 'lr0.1': expected KEY=V1|V2|..."},
        {"--grid =0.1", "expected KEY=V1|V2|..."},
        {"--grid optimizer=adam|adan", "'adan' is not one of"},
        {"--grid lr=0.1 --grid lr=0.2", "--grid lr given twice"},
        {"--grid data=a.h5|b.h5", "--data is the same for the whole search"},
        {"--grid output=linear", "--output is the same for the whole search"},
        {"--grid save=m.h5", "use --refit"},
        {"--grid folds=3|5", "--folds is not a train option"},
        {"--grid drop-last=yes", "--drop-last is a flag: its values are 0 and 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dt_error err;
        char line[256];
        snprintf(line, sizeof line, "--data d.h5 %s", cases[i].line);
        ck_assert_int_eq(parse_cv(&base, line, &err), DT_OK);
        dt_error_clear(&err);
        ck_assert_int_eq(cv_grid_parse(base.cv.grid, &base, &grid, &err), DT_EUSAGE);
        ck_assert_msg(strstr(err.msg, cases[i].expect), "%s: got '%s', expected '%s'",
                      cases[i].line, err.msg, cases[i].expect);
    }
}
END_TEST

START_TEST(test_rejected_options)
{
    dt_error err;
    ck_assert_int_eq(parse_cv(&base, "--data d.h5 --save m.h5", &err), DT_OK);
    ck_assert_int_eq(cv_check_options(&base, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "--save does not apply to cv"));
    ck_assert_int_eq(parse_cv(&base, "--data d.h5 --valid-group /v", &err), DT_OK);
    ck_assert_int_eq(cv_check_options(&base, &err), DT_EUSAGE);
    ck_assert_int_eq(parse_cv(&base, "--data d.h5 --optimizer adam --epochs 3", &err), DT_OK);
    ck_assert_int_eq(cv_check_options(&base, &err), DT_OK);
}
END_TEST

/* ---- folds ----------------------------------------------------------------- */

/* n rows, X (n, 2) = (i, -i), labels with class c holding counts[c] rows,
 * interleaved so that no class sits in one block. */
static void make_set(dt_dataset *ds, int64_t n, const int *counts, int n_classes)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->d = 2;
    ds->k = 1;
    ds->X = malloc((size_t)n * 2 * sizeof(float));
    ds->labels = malloc((size_t)n * sizeof(int32_t));
    int left[8];
    memcpy(left, counts, (size_t)n_classes * sizeof(int));
    for (int64_t i = 0, c = 0; i < n; i++) {
        while (!left[c % n_classes]) c++;
        ds->labels[i] = (int32_t)(c % n_classes);
        left[c % n_classes]--;
        c++;
        ds->X[2 * i] = (float)i;
        ds->X[2 * i + 1] = (float)-i;
    }
    ds->max_label = (int32_t)(n_classes - 1);
}

START_TEST(test_folds_partition_and_stratify)
{
    /* 103 rows: classes of 61, 30 and 12 rows over 5 folds */
    const int counts[3] = {61, 30, 12}, k = 5;
    const int64_t n = 103;
    dt_dataset all;
    make_set(&all, n, counts, 3);
    int32_t fold_of_row[103];
    dt_error err;
    ck_assert_int_eq(cv_folds(&all, k, 7, fold_of_row, &err), DT_OK);
    int seen[103] = {0};
    int64_t per_fold_class[5][3] = {{0}};
    for (int f = 0; f < k; f++) {
        dt_dataset tr, va;
        ck_assert_int_eq(cv_fold_split(&all, fold_of_row, f, &tr, &va, &err), DT_OK);
        ck_assert_int_eq(tr.n + va.n, n);
        ck_assert_int_eq(tr.d, 2);
        ck_assert_int_eq(va.max_label, 2);
        ck_assert_int_eq(tr.max_label, 2);
        ck_assert_ptr_null(va.targets);
        /* the rows are copies of the right rows, in file order */
        for (int64_t i = 0; i < va.n; i++) {
            int64_t r = (int64_t)va.X[2 * i];
            ck_assert_int_eq(fold_of_row[r], f);
            ck_assert_float_eq(va.X[2 * i + 1], (float)-r);
            ck_assert_int_eq(va.labels[i], all.labels[r]);
            ck_assert(i == 0 || va.X[2 * i] > va.X[2 * (i - 1)]);
            seen[r]++;
            per_fold_class[f][va.labels[i]]++;
        }
        for (int64_t i = 0; i < tr.n; i++) {
            int64_t r = (int64_t)tr.X[2 * i];
            ck_assert_int_ne(fold_of_row[r], f);
            ck_assert_int_eq(tr.labels[i], all.labels[r]);
            ck_assert(i == 0 || tr.X[2 * i] > tr.X[2 * (i - 1)]);
        }
        dataset_free(&tr);
        dataset_free(&va);
    }
    /* each sample is in exactly one validation fold */
    for (int64_t r = 0; r < n; r++) ck_assert_int_eq(seen[r], 1);
    /* stratified: per class, the fold counts differ by at most one (61 rows
     * over 5 folds: 12 or 13; 30: 6 each; 12: 2 or 3) */
    for (int c = 0; c < 3; c++) {
        int64_t lo = n, hi = 0;
        for (int f = 0; f < k; f++) {
            lo = per_fold_class[f][c] < lo ? per_fold_class[f][c] : lo;
            hi = per_fold_class[f][c] > hi ? per_fold_class[f][c] : hi;
        }
        ck_assert_int_le(hi - lo, 1);
        ck_assert_int_eq(lo, counts[c] / k);
    }
    /* deterministic in the seed, different for another seed */
    int32_t again[103], other[103];
    ck_assert_int_eq(cv_folds(&all, k, 7, again, &err), DT_OK);
    ck_assert_int_eq(cv_folds(&all, k, 8, other, &err), DT_OK);
    ck_assert_int_eq(memcmp(again, fold_of_row, sizeof again), 0);
    ck_assert_int_ne(memcmp(other, fold_of_row, sizeof other), 0);
    ck_assert_int_eq(cv_folds(&all, 104, 7, again, &err), DT_EUSAGE);
    dataset_free(&all);
}
END_TEST

START_TEST(test_folds_regression)
{
    /* 10 rows with (10, 2) targets, 3 folds of 4, 3, 3 rows */
    dt_dataset all = {0};
    all.n = 10;
    all.d = 1;
    all.k = 2;
    all.max_label = -1;
    all.X = malloc(10 * sizeof(float));
    all.targets = malloc(20 * sizeof(float));
    for (int i = 0; i < 10; i++) {
        all.X[i] = (float)i;
        all.targets[2 * i] = (float)(100 + i);
        all.targets[2 * i + 1] = (float)(200 + i);
    }
    int32_t fold_of_row[10];
    dt_error err;
    ck_assert_int_eq(cv_folds(&all, 3, 1, fold_of_row, &err), DT_OK);
    int64_t total = 0;
    for (int f = 0; f < 3; f++) {
        dt_dataset tr, va;
        ck_assert_int_eq(cv_fold_split(&all, fold_of_row, f, &tr, &va, &err), DT_OK);
        ck_assert(va.n == 3 || va.n == 4);
        ck_assert_ptr_null(va.labels);
        for (int64_t i = 0; i < va.n; i++) {
            int r = (int)va.X[i];
            ck_assert_float_eq(va.targets[2 * i], (float)(100 + r));
            ck_assert_float_eq(va.targets[2 * i + 1], (float)(200 + r));
        }
        total += va.n;
        dataset_free(&tr);
        dataset_free(&va);
    }
    ck_assert_int_eq(total, 10);
    dataset_free(&all);
}
END_TEST

/* ---- metrics and ranking --------------------------------------------------- */

START_TEST(test_metric_choice)
{
    dt_error err;
    dt_metric m;
    ck_assert_int_eq(metrics_parse("", HEAD_SIGMOID, &m, &err), DT_OK);
    ck_assert_int_eq(m, METRIC_AUC);
    ck_assert_int_eq(metrics_parse("", HEAD_SOFTMAX, &m, &err), DT_OK);
    ck_assert_int_eq(m, METRIC_ACCURACY);
    ck_assert_int_eq(metrics_parse("", HEAD_LINEAR, &m, &err), DT_OK);
    ck_assert_int_eq(m, METRIC_RMSE);
    ck_assert_int_eq(metrics_parse("r2", HEAD_LINEAR, &m, &err), DT_OK);
    ck_assert_int_eq(m, METRIC_R2);
    ck_assert_int_eq(metrics_parse("rmse", HEAD_SOFTMAX, &m, &err), DT_EUSAGE);
    ck_assert_int_eq(metrics_parse("auc", HEAD_LINEAR, &m, &err), DT_EUSAGE);
    const dt_metric higher[] = {METRIC_AUC, METRIC_ACCURACY, METRIC_F1, METRIC_R2};
    const dt_metric lower[] = {METRIC_LOG_LOSS, METRIC_RMSE, METRIC_MAE};
    for (int i = 0; i < 4; i++) ck_assert(metrics_higher_is_better(higher[i]));
    for (int i = 0; i < 3; i++) ck_assert(!metrics_higher_is_better(lower[i]));
}
END_TEST

/* Four configurations (lr = a|b|c|d), two folds:
 *   0: 0.5, 0.75 -> mean 0.625, std 0.125
 *   1: 0.9, failed
 *   2: 0.25, 1.0 -> mean 0.625 (a tie with 0), std 0.375
 *   3: 0.75, 0.75 -> mean 0.75, std 0 */
static const double four[8] = {0.5, 0.75, 0.9, NAN, 0.25, 1.0, 0.75, 0.75};

static void four_configs(cv_results *r, dt_metric m)
{
    dt_error err;
    ck_assert_int_eq(parse_cv(&base, "--grid lr=1|2|3|4", &err), DT_OK);
    ck_assert_int_eq(cv_grid_parse(base.cv.grid, &base, &grid, &err), DT_OK);
    static char msg[8][CV_MSG_LEN];
    snprintf(msg[3], CV_MSG_LEN, "training diverged");
    *r = (cv_results){&grid, m, 2, four, (const char(*)[CV_MSG_LEN])msg};
}

START_TEST(test_rank)
{
    cv_results r;
    cv_summary s[4];
    four_configs(&r, METRIC_ACCURACY); /* higher is better: 3, then the tie 0 and 2, then 1 */
    ck_assert_int_eq(cv_rank(&r, s), 3);
    const int64_t want_hi[4] = {3, 0, 2, 1};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(s[i].config, want_hi[i]);
    ck_assert_double_eq_tol(s[0].mean, 0.75, 1e-12);
    ck_assert_double_eq_tol(s[0].std, 0.0, 1e-12);
    ck_assert_double_eq_tol(s[1].mean, 0.625, 1e-12);
    ck_assert_double_eq_tol(s[1].std, 0.125, 1e-12);
    ck_assert_double_eq_tol(s[2].std, 0.375, 1e-12);
    ck_assert_int_eq(s[1].failed_fold, -1);
    ck_assert_int_eq(s[3].failed_fold, 1);
    ck_assert(isnan(s[3].mean));
    four_configs(&r, METRIC_LOG_LOSS); /* lower is better: the tie first, in config order */
    ck_assert_int_eq(cv_rank(&r, s), 3);
    const int64_t want_lo[4] = {0, 2, 3, 1};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(s[i].config, want_lo[i]);
}
END_TEST

START_TEST(test_rank_ties_as_printed)
{
    /* 0.70004 and 0.69996 both print as 0.7000: a tie, so configuration 0
     * stays first although its mean is smaller (higher is better). */
    dt_error err;
    ck_assert_int_eq(parse_cv(&base, "--grid lr=1|2", &err), DT_OK);
    ck_assert_int_eq(cv_grid_parse(base.cv.grid, &base, &grid, &err), DT_OK);
    const double v[4] = {0.69996, 0.69996, 0.70004, 0.70004};
    cv_results r = {&grid, METRIC_AUC, 2, v, NULL};
    cv_summary s[2];
    ck_assert_int_eq(cv_rank(&r, s), 2);
    ck_assert_int_eq(s[0].config, 0);
}
END_TEST

START_TEST(test_table_and_csv)
{
    dt_error err;
    cv_results r;
    four_configs(&r, METRIC_ACCURACY); /* the values; the grid is replaced next */
    ck_assert_int_eq(parse_cv(&base, "--grid layers=32:relu|64:relu,32:relu --grid lr=1|2", &err),
                     DT_OK);
    ck_assert_int_eq(cv_grid_parse(base.cv.grid, &base, &grid, &err), DT_OK);
    /* configurations: 0 (32:relu, 1), 1 (32:relu, 2), 2 (64:relu,32:relu, 1), 3 (.., 2) */
    cv_summary s[4];
    ck_assert_int_eq(cv_rank(&r, s), 3);
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    cv_print_csv(f, &r, s);
    fclose(f);
    ck_assert_str_eq(text,
                     "rank,layers,lr,fold1,fold2,mean,std,metric,status\n"
                     "1,\"64:relu,32:relu\",2,0.7500,0.7500,0.7500,0.0000,accuracy,ok\n"
                     "2,32:relu,1,0.5000,0.7500,0.6250,0.1250,accuracy,ok\n"
                     "3,\"64:relu,32:relu\",1,0.2500,1.0000,0.6250,0.3750,accuracy,ok\n"
                     "4,32:relu,2,0.9000,,,,accuracy,failed: training diverged (fold 2)\n");
    free(text);
    f = open_memstream(&text, &len);
    cv_print_table(f, &r, s);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "validation accuracy per fold (higher is better)"));
    ck_assert_ptr_nonnull(strstr(text, "rank  layers           lr   fold1   fold2    mean     std\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "   4  32:relu          2   0.9000  failed       -       -  failed: "
                     "training diverged (fold 2)\n"));
    ck_assert_ptr_nonnull(strstr(text, "best: layers=64:relu,32:relu lr=2: accuracy 0.7500 +- 0.0000\n"));
    free(text);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cv");
    TCase *g = tcase_create("grid");
    tcase_add_test(g, test_grid_product_order);
    tcase_add_test(g, test_grid_empty);
    tcase_add_test(g, test_grid_errors);
    tcase_add_test(g, test_rejected_options);
    suite_add_tcase(s, g);
    TCase *f = tcase_create("folds");
    tcase_add_test(f, test_folds_partition_and_stratify);
    tcase_add_test(f, test_folds_regression);
    suite_add_tcase(s, f);
    TCase *r = tcase_create("ranking");
    tcase_add_test(r, test_metric_choice);
    tcase_add_test(r, test_rank);
    tcase_add_test(r, test_rank_ties_as_printed);
    tcase_add_test(r, test_table_and_csv);
    suite_add_tcase(s, r);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
