/* Cross-validation, conversion and the benchmark through the public calls
 * (include/dtrain.h), run under mpiexec at 1, 2, 3 and 4 ranks.
 *
 * The reference is the command line: tests/api_reference.sh ran `dtrain cv`
 * and `dtrain convert` at one rank with the same options before this test
 * (ctest fixture api_reference) and kept what they printed and wrote in
 * API_REFERENCE_DIR.  A search's table is the same at any rank count (the
 * options are those of tests/cli/cv.sh, checked to agree to the 4 printed
 * decimals at 1-4 ranks), so every rank count compares with it byte for
 * byte; the figures behind the table are checked against each other (a
 * mean is the mean of its folds, the best is the best mean). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <mpi.h>

#include "dtrain.h"
#include "dtrain/testhooks.h"
#include "testutil.h"

static int rank, size;

/* A file of the reference directory, or of the bundled data sets. */
static const char *ref(const char *name)
{
    static char buf[4][1024];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 1024, "%s/%s", API_REFERENCE_DIR, name);
    return b;
}

static const char *dataset(const char *name)
{
    static char buf[4][1024];
    static int next;
    char *b = buf[next++ % 4];
    const char *src = getenv("DTRAIN_SOURCE_DIR");
    snprintf(b, 1024, "%s/datasets/%s", src ? src : ".", name);
    return b;
}

/* A path in rank 0's temporary directory, the same text on every rank (the
 * options must be the same everywhere; rank 0 writes).  Collective. */
static const char *shared_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    if (rank == 0)
        snprintf(b, 512, "%s", tu_path(name));
    MPI_Bcast(b, 512, MPI_CHAR, 0, MPI_COMM_WORLD);
    return b;
}

/* The whole file (NUL-terminated), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2)
            s = realloc(s, cap *= 2);
    }
    fclose(f);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* A result's printed table (csv 0) or CSV (csv 1). */
static char *printed(const dtrain_cv_result *res, int csv)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    ck_assert_int_eq(dtrain_cv_print(res, f, csv), DTRAIN_OK);
    fclose(f);
    return s;
}

/* A run with the options of words ("key value" pairs, ';'-separated), as
 * tests/api_reference.sh gives them to dtrain cv. */
static dtrain_run *run_with(const char *const *kv)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    for (int i = 0; kv[i]; i += 2)
        OK(dtrain_set(run, kv[i], kv[i + 1]), run);
    return run;
}

/* The table as the command line printed it: its stdout holds the log lines,
 * a blank line, then exactly this table. */
static void check_table_is_clis(const dtrain_cv_result *res, const char *cli_stdout)
{
    if (rank != 0)
        return;
    char *table = printed(res, 0), *cli = slurp(ref(cli_stdout), NULL);
    ck_assert_msg(cli, "no reference %s (tests/api_reference.sh runs first)", ref(cli_stdout));
    const char *at = strstr(cli, table);
    ck_assert_msg(table[0] && at && at > cli + 1 && at[-1] == '\n' && at[-2] == '\n',
                  "the table differs from the command line's:\n%s\nvs\n%s", table, cli);
    free(table);
    free(cli);
}

/* The figures behind the table agree with each other: a mean is its folds'
 * mean and std their population deviation (to 1e-12 relative: the same sums
 * in another order), failed configurations have NaN, the ranking is by mean
 * in the metric's direction. */
static void check_figures(const dtrain_cv_result *res)
{
    const int k = dtrain_cv_n_folds(res), up = dtrain_cv_higher_is_better(res);
    const int64_t C = dtrain_cv_n_configs(res);
    for (int64_t c = 0; c < C; c++) {
        double sum = 0, sq = 0;
        int failed = 0;
        for (int f = 0; f < k; f++) {
            double v = dtrain_cv_fold_metric(res, c, f);
            failed |= isnan(v);
            ck_assert_msg(isnan(v) == (dtrain_cv_fold_error(res, c, f)[0] != '\0'),
                          "config %lld fold %d: NaN iff an error", (long long)c, f);
            sum += v;
        }
        const double mean = sum / k;
        for (int f = 0; f < k; f++)
            sq += (dtrain_cv_fold_metric(res, c, f) - mean) * (dtrain_cv_fold_metric(res, c, f) - mean);
        if (failed) {
            ck_assert(isnan(dtrain_cv_mean(res, c)) && isnan(dtrain_cv_std(res, c)));
            continue;
        }
        ck_assert_msg(fabs(dtrain_cv_mean(res, c) - mean) <= 1e-12 * fabs(mean), "mean");
        ck_assert_msg(fabs(dtrain_cv_std(res, c) - sqrt(sq / k)) <= 1e-12 + 1e-12 * mean, "std");
    }
    const int64_t best = dtrain_cv_best(res);
    ck_assert_int_eq(best, dtrain_cv_ranked(res, 0));
    for (int64_t c = 0; c < C; c++)
        if (!isnan(dtrain_cv_mean(res, c)))
            ck_assert(up ? dtrain_cv_mean(res, best) >= dtrain_cv_mean(res, c) - 5e-5
                         : dtrain_cv_mean(res, best) <= dtrain_cv_mean(res, c) + 5e-5);
    ck_assert_int_eq(dtrain_cv_ranked(res, C), -1);
}

static const char *const cv_ok[] = {"data", NULL, "output", "sigmoid", "folds", "3",
                                    "grid", "optimizer=adam|sgd", "lr", "0.01",
                                    "layers", "16:relu", "epochs", "5", NULL};

/* Every trial succeeds: the table and the CSV are the command line's; the
 * getters give the grid; the refit model loads and predicts. */
START_TEST(test_cv_equals_cli)
{
    const char *kv[sizeof cv_ok / sizeof *cv_ok];
    memcpy(kv, cv_ok, sizeof kv);
    kv[1] = dataset("breast-cancer.h5");
    char csv[512], refit[512];
    snprintf(csv, sizeof csv, "%s", shared_path("cv.csv"));
    snprintf(refit, sizeof refit, "%s", shared_path("refit.h5"));
    dtrain_run *run = run_with(kv);
    OK(dtrain_set(run, "out", csv), run);
    OK(dtrain_set(run, "refit", refit), run);
    dtrain_cv_result *res = NULL;
    OK(dtrain_cv(run, &res), run);
    check_table_is_clis(res, "cv_ok.txt");
    OK(dtrain_cv_save(run, res), run);
    if (rank == 0)
        ck_assert_msg(same_file(csv, ref("cv_ok.csv")),
                      "the CSV differs from dtrain cv --out's");
    ck_assert_int_eq(dtrain_cv_n_configs(res), 2);
    ck_assert_int_eq(dtrain_cv_n_folds(res), 3);
    ck_assert_str_eq(dtrain_cv_metric(res), "auc");
    ck_assert_int_eq(dtrain_cv_n_keys(res), 1);
    ck_assert_str_eq(dtrain_cv_key(res, 0), "optimizer");
    ck_assert_str_eq(dtrain_cv_value(res, 0, 0), "adam");
    ck_assert_str_eq(dtrain_cv_value(res, 1, 0), "sgd");
    ck_assert_ptr_null(dtrain_cv_value(res, 2, 0));
    check_figures(res);
    char *json = NULL;
    OK(dtrain_cv_json(res, &json), run);
    ck_assert_msg(strstr(json, "\"metric\":\"auc\"") && strstr(json, "\"options\":{\"optimizer\":"),
                  "%s", json);
    free(json);
    OK(dtrain_cv_refit(run, res), run);
    ck_assert_int_eq(dtrain_cv_refit(run, res), DTRAIN_EUSAGE); /* the rows are taken */
    OK(dtrain_load(run, refit), run);
    ck_assert_int_eq(dtrain_n_inputs(run), 30);
    dtrain_cv_result_free(res);
    dtrain_free(run);
}
END_TEST

/* A configuration that diverges: ranked last with its message, as the
 * command line prints it. */
START_TEST(test_cv_failed_trials_equal_cli)
{
    char csv[512];
    snprintf(csv, sizeof csv, "%s", shared_path("fail.csv"));
    const char *kv[] = {"data", dataset("diabetes.h5"), "output", "linear", "layers", "none",
                        "normalize-targets", "off", "folds", "3", "grid", "lr=0.01|1e6",
                        "optimizer", "sgd", "epochs", "3", "out", csv, NULL};
    dtrain_run *run = run_with(kv);
    dtrain_cv_result *res = NULL;
    OK(dtrain_cv(run, &res), run);
    check_table_is_clis(res, "cv_fail.txt");
    OK(dtrain_cv_save(run, res), run);
    if (rank == 0)
        ck_assert_msg(same_file(csv, ref("cv_fail.csv")),
                      "the CSV differs from dtrain cv --out's");
    ck_assert_str_eq(dtrain_cv_metric(res), "rmse");
    ck_assert_int_eq(dtrain_cv_best(res), 0);
    ck_assert_int_eq(dtrain_cv_ranked(res, 1), 1);
    ck_assert(isnan(dtrain_cv_fold_metric(res, 1, 0)));
    ck_assert_msg(strstr(dtrain_cv_fold_error(res, 1, 0), "diverged"), "%s",
                  dtrain_cv_fold_error(res, 1, 0));
    check_figures(res);
    dtrain_cv_result_free(res);
    dtrain_free(run);
}
END_TEST

/* Every configuration failing is DTRAIN_ENUM with the result (for the
 * table); bad settings are refused with the key named and no result. */
START_TEST(test_cv_refusals)
{
    const char *kv[] = {"data", dataset("diabetes.h5"), "output", "linear",
                        "normalize-targets", "off", "folds", "2", "grid", "lr=1e5|1e6",
                        "optimizer", "sgd", "epochs", "2", NULL};
    dtrain_run *run = run_with(kv);
    OK(dtrain_set(run, "refit", shared_path("never.h5")), run);
    dtrain_cv_result *res = NULL;
    ck_assert_int_eq(dtrain_cv(run, &res), DTRAIN_ENUM);
    ck_assert_msg(strstr(dtrain_errmsg(run), "every configuration failed"), "%s",
                  dtrain_errmsg(run));
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(dtrain_cv_best(res), -1);
    ck_assert_int_eq(dtrain_cv_refit(run, res), DTRAIN_EUSAGE);
    dtrain_cv_result_free(res);

    OK(dtrain_set(run, "grid", "lrr=0.1"), run); /* a second axis, unknown */
    res = (dtrain_cv_result *)&res;
    ck_assert_int_eq(dtrain_cv(run, &res), DTRAIN_EUSAGE);
    ck_assert_ptr_null(res);
    ck_assert_msg(strstr(dtrain_errmsg(run), "lrr"), "%s", dtrain_errmsg(run));
    dtrain_free(run);

    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(run, "data", dataset("iris.h5")), run);
    OK(dtrain_set(run, "step-timeout", "60"), run);
    ck_assert_int_eq(dtrain_cv(run, &res), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "step-timeout"), "%s", dtrain_errmsg(run));
    OK(dtrain_set(run, "step-timeout", "0"), run);
    float X[2] = {0, 1}, y[2] = {0, 1};
    OK(dtrain_set_data(run, X, y, rank == 0 ? 2 : 0, 1, 1), run);
    ck_assert_int_eq(dtrain_cv(run, &res), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_cv(run, NULL), DTRAIN_EUSAGE);
    dtrain_free(run);
    ck_assert_int_eq(dtrain_cv(NULL, &res), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_cv_n_configs(NULL), 0);
}
END_TEST

/* The summary printed and the file written are the command line's, byte for
 * byte; every rank gets the summary; an output that is the input is refused
 * before anything is written. */
START_TEST(test_convert_equals_cli)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(run, "csv", ref("in.csv")), run);
    OK(dtrain_set(run, "header", "1"), run);
    OK(dtrain_set(run, "test-fraction", "0.25"), run);
    OK(dtrain_set(run, "seed", "2"), run);
    char h5[512];
    snprintf(h5, sizeof h5, "%s", shared_path("conv.h5"));
    OK(dtrain_set(run, "out", h5), run);
    dtrain_convert_result *res = NULL;
    OK(dtrain_convert(run, &res), run);
    if (rank == 0) {
        char *out = NULL, *warn = NULL;
        size_t lo, lw;
        FILE *fo = open_memstream(&out, &lo), *fw = open_memstream(&warn, &lw);
        OK(dtrain_convert_print(res, fo, fw), run);
        fclose(fo);
        fclose(fw);
        char *cli = slurp(ref("convert.txt"), NULL), *cli_err = slurp(ref("convert.err"), NULL);
        ck_assert_msg(cli && !strcmp(out, cli), "summary:\n%s\nvs dtrain convert's:\n%s", out,
                      cli ? cli : "(none)");
        ck_assert_msg(cli_err && !strcmp(warn, cli_err), "warnings differ");
        ck_assert_msg(same_file(h5, ref("convert.h5")),
                      "the file differs from dtrain convert's");
        free(out);
        free(warn);
        free(cli);
        free(cli_err);
    }
    /* 40 rows, a quarter of them to /test (tests/api_reference.sh) */
    ck_assert_int_eq(dtrain_convert_n_groups(res), 2);
    ck_assert_str_eq(dtrain_convert_group(res, 0), "/train");
    ck_assert_str_eq(dtrain_convert_group(res, 1), "/test");
    ck_assert_int_eq(dtrain_convert_rows(res, 0), 30);
    ck_assert_int_eq(dtrain_convert_rows(res, 1), 10);
    ck_assert_int_eq(dtrain_convert_features(res, 0), 3);
    ck_assert_int_eq(dtrain_convert_rows(res, 2), -1);
    ck_assert_str_eq(dtrain_convert_label_type(res), "class");
    ck_assert_int_eq(dtrain_convert_n_classes(res), 3);
    char *json = NULL;
    OK(dtrain_convert_json(res, &json), run);
    ck_assert_msg(strstr(json, "\"group\":\"/test\",\"rows\":10,"), "%s", json);
    free(json);
    dtrain_convert_result_free(res);

    size_t before_len;
    char *before = slurp(ref("in.csv"), &before_len);
    OK(dtrain_set(run, "out", ref("in.csv")), run);
    res = (dtrain_convert_result *)&res;
    ck_assert_int_eq(dtrain_convert(run, &res), DTRAIN_EUSAGE);
    ck_assert_ptr_null(res);
    ck_assert_msg(strstr(dtrain_errmsg(run), "out"), "%s", dtrain_errmsg(run));
    size_t after_len;
    char *after = slurp(ref("in.csv"), &after_len);
    ck_assert(before_len == after_len && !memcmp(before, after, before_len));
    free(before);
    free(after);
    dtrain_free(run);

    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    ck_assert_int_eq(dtrain_convert(run, &res), DTRAIN_EUSAGE); /* no input */
    ck_assert_msg(strstr(dtrain_errmsg(run), "csv"), "%s", dtrain_errmsg(run));
    dtrain_free(run);
}
END_TEST

/* Log lines kept by the bench test. */
typedef struct {
    char gemm[2048];
} bench_log;

static void keep_bench_line(void *user, dtrain_log_level level, const char *line)
{
    (void)level;
    bench_log *b = user;
    if (!strncmp(line, "BENCH_GEMM ", 11))
        snprintf(b->gemm, sizeof b->gemm, "%s", line);
}

/* The benchmark's options in both tests below: a model 8-16-2. */
static const char *const bench_opts[] = {"inputs", "8", "layers", "16:relu", "outputs", "2",
                                         "batch-size", "32", "samples", "256", "threads", "1",
                                         NULL};

/* The result holds the figures of the lines it logs.  The model 8-16-2
 * does 4 * 8 * 16 + 6 * 16 * 2 = 704 GEMM FLOPs per sample per step (the
 * first layer has no input gradient). */
START_TEST(test_bench)
{
    dtrain_run *run = run_with(bench_opts);
    static bench_log log;
    memset(&log, 0, sizeof log);
    OK(dtrain_on_log(run, keep_bench_line, &log, DTRAIN_LOG_INFO), run);
    dtrain_bench_result *res = NULL;
    OK(dtrain_bench(run, &res), run);
    ck_assert_int_eq((int)dtrain_bench_value(res, "ranks"), size);
    ck_assert_int_eq((int)dtrain_bench_value(res, "local_batch"), (32 + size - 1) / size);
    ck_assert_double_eq(dtrain_bench_value(res, "flop_per_sample"), 704);
    ck_assert_int_eq((int)dtrain_bench_value(res, "parameters"), 8 * 16 + 16 + 16 * 2 + 2);
    ck_assert(dtrain_bench_value(res, "step_s") > 0);
    ck_assert(dtrain_bench_value(res, "triad_GBps") > 0 && dtrain_bench_value(res, "copy_GBps") > 0);
    ck_assert(isnan(dtrain_bench_value(res, "no_such_figure")));
    ck_assert(size == 1 ? isnan(dtrain_bench_value(res, "alpha_us"))
                        : isfinite(dtrain_bench_value(res, "alpha_us")));
    char want[256];
    snprintf(want, sizeof want, "BENCH_GEMM ranks=%d local_batch=%d flop_per_sample=704 "
             "epoch_flop=%.6g step_s=%.6g gflops=%.4f ", size, (32 + size - 1) / size,
             dtrain_bench_value(res, "epoch_flop"), dtrain_bench_value(res, "step_s"),
             dtrain_bench_value(res, "gflops"));
    ck_assert_msg(!strncmp(log.gemm, want, strlen(want)), "%s\nvs\n%s", log.gemm, want);
    ck_assert_int_eq(dtrain_bench_n_projections(res), 6);
    dtrain_bench_proj p;
    OK(dtrain_bench_projection(res, 5, &p), run);
    ck_assert(p.gbit == 100 && p.ranks == 512 && p.local_batch == 1 && p.epoch_s > 0);
    ck_assert_int_eq(dtrain_bench_projection(res, 6, &p), DTRAIN_EUSAGE);
    char *json = NULL;
    OK(dtrain_bench_json(res, &json), run);
    ck_assert_msg(strstr(json, "\"flop_per_sample\":704,") && strstr(json, "\"projections\":[") &&
                      strstr(json, "\"triad_GBps\":") && strstr(json, "\"fp32_impl\":\"") &&
                      !strstr(json, "\"cpu\":\"\""),
                  "%s", json);
    free(json);
    dtrain_bench_result_free(res);
    dtrain_free(run);
}
END_TEST

/* The streaming arrays out of memory on the last rank (the test hook): the
 * benchmark succeeds on every rank, the streaming rates NaN and null in the
 * JSON, the size tried still given, the other figures measured. */
START_TEST(test_bench_stream_oom)
{
    dtrain_run *run = run_with(bench_opts);
    dt_hooks.stream_oom_rank = size - 1;
    dtrain_bench_result *res = NULL;
    const dtrain_status st = dtrain_bench(run, &res);
    dt_hooks.stream_oom_rank = -1;
    OK(st, run);
    ck_assert(isnan(dtrain_bench_value(res, "copy_GBps")));
    ck_assert(isnan(dtrain_bench_value(res, "triad_GBps")));
    ck_assert(dtrain_bench_value(res, "stream_array_bytes") >= 64);
    ck_assert_double_eq(dtrain_bench_value(res, "flop_per_sample"), 704);
    ck_assert(dtrain_bench_value(res, "step_s") > 0);
    char *json = NULL;
    OK(dtrain_bench_json(res, &json), run);
    ck_assert_msg(strstr(json, "\"copy_GBps\":null,\"triad_GBps\":null,\"stream_array_bytes\":"),
                  "%s", json);
    free(json);
    dtrain_bench_result_free(res);
    dtrain_free(run);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s = suite_create("api_cv");
    TCase *tc = tcase_create("api_cv");
    tcase_set_timeout(tc, 280);
    tcase_add_test(tc, test_cv_equals_cli);
    tcase_add_test(tc, test_cv_failed_trials_equal_cli);
    tcase_add_test(tc, test_cv_refusals);
    tcase_add_test(tc, test_convert_equals_cli);
    tcase_add_test(tc, test_bench);
    suite_add_tcase(s, tc);
    tc = tcase_create("bench_stream_oom");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bench_stream_oom);
    suite_add_tcase(s, tc);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int failed = tu_run(s), any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
