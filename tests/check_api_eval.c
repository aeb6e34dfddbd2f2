/* Evaluation, prediction to a file, inspection and a training's results
 * through the public API (include/dtrain.h), run under mpiexec at 1 and 2
 * ranks, against the command line's own output for the same models and
 * files: `dtrain eval --json` and `eval`, the files `dtrain predict`
 * writes, `dtrain inspect`, and the --log file and "final:" lines of
 * `dtrain train` at the same rank count.  tests/api_eval_fixture.sh makes
 * them (a ctest fixture) in $DTRAIN_API_EVAL_DIR.
 *
 * Tolerances: every comparison with the command line's output is exact
 * (the same text, the same bytes, or the same number as printed), since
 * both go through the same computations; only the evaluation of arrays
 * split over the ranks differently from the file's blocks is compared with
 * a tolerance (1e-6 relative on the loss, exact on the counts). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <mpi.h>

#include "dtrain.h"
#include "dtrain/dataset.h" /* to read a group's rows for dtrain_evaluate */
#include "testutil.h"

static int rank, size;
static const char *fixture, *data_dir;

/* DIR/name (rotating static buffers). */
static const char *in_dir(const char *dir, const char *name)
{
    static char buf[4][4096];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}
#define FIX(name) in_dir(fixture, name)
#define DATA(name) in_dir(data_dir, name)

/* The whole file, malloc'd and NUL-terminated; fails the test if missing. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot read %s (made by tests/api_eval_fixture.sh)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert(s && fread(s, 1, (size_t)n, f) == (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return s;
}

/* The number after "key": in a JSON text (the first occurrence). */
static double json_number(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    ck_assert_msg(p, "no %s in %s", pat, json);
    p += strlen(pat);
    while (*p == ' ') p++;
    return strtod(p, NULL);
}

static dtrain_run *new_run(void)
{
    dtrain_run *run;
    ck_assert_int_eq(dtrain_create(&run, MPI_COMM_WORLD), DTRAIN_OK);
    return run;
}

static void load(dtrain_run *run, const char *path)
{
    ck_assert_msg(dtrain_load(run, path) == DTRAIN_OK, "%s", dtrain_errmsg(run));
}

/* res's JSON and text renderings equal the command line's eval --json line
 * and eval report (files of the fixture; the JSON line ends in a newline). */
static void same_as_cli(const dtrain_result *res, const char *json_file, const char *text_file)
{
    char *json, *text, *want = slurp(FIX(json_file), NULL);
    ck_assert_int_eq(dtrain_result_json(res, &json), DTRAIN_OK);
    ck_assert_int_eq(dtrain_result_text(res, &text), DTRAIN_OK);
    ck_assert_uint_gt(strlen(want), 1);
    want[strlen(want) - 1] = '\0';
    ck_assert_str_eq(json, want);
    if (text_file) {
        char *want_text = slurp(FIX(text_file), NULL);
        ck_assert_str_eq(text, want_text);
        free(want_text);
    }
    free(json);
    free(text);
    free(want);
}

/* Every number a getter gives equals the one the command line printed. */
static void figures_as_cli(const dtrain_result *res, const char *json_file, int classifier)
{
    char *want = slurp(FIX(json_file), NULL);
    const char *cls[] = {"accuracy", "log_loss", "auc", NULL};
    const char *reg[] = {"rmse", "mae", "r2", "rmse_pooled", NULL};
    double v;
    ck_assert_int_eq(dtrain_result_get(res, "loss", &v), DTRAIN_OK);
    ck_assert(v == json_number(want, "loss"));
    ck_assert_int_eq(dtrain_result_get(res, "samples", &v), DTRAIN_OK);
    ck_assert(v == json_number(want, "samples"));
    for (const char **k = classifier ? cls : reg; *k; k++) {
        ck_assert_int_eq(dtrain_result_get(res, *k, &v), DTRAIN_OK);
        ck_assert_msg(v == json_number(want, *k), "%s: %.17g, the command line %.17g", *k, v,
                      json_number(want, *k));
    }
    if (classifier) { /* macro F1: the "macro" object's f1 */
        const char *macro = strstr(want, "\"macro\":");
        ck_assert(macro);
        ck_assert_int_eq(dtrain_result_get(res, "macro_f1", &v), DTRAIN_OK);
        ck_assert(v == json_number(macro, "f1"));
        ck_assert_int_eq(dtrain_result_get(res, "f1", &v), DTRAIN_OK);
        ck_assert(v == json_number(macro, "f1"));
    }
    /* the names listed are the names found */
    ck_assert_int_gt(dtrain_result_count(res), 4);
    for (int i = 0; i < dtrain_result_count(res); i++)
        ck_assert_int_eq(dtrain_result_get(res, dtrain_result_name(res, i), &v), DTRAIN_OK);
    ck_assert_ptr_null(dtrain_result_name(res, dtrain_result_count(res)));
    ck_assert_int_eq(dtrain_result_get(res, "no such figure", &v), DTRAIN_EUSAGE);
    ck_assert(isnan(v));
    free(want);
}

START_TEST(test_evaluate_file_as_eval)
{
    dtrain_run *run = new_run();
    dtrain_result *res = NULL;
    /* no model yet: refused, on every rank alike */
    ck_assert_int_eq(dtrain_evaluate_file(run, DATA("iris.h5"), "/test", &res), DTRAIN_EUSAGE);
    ck_assert_ptr_null(res);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "no model"));

    load(run, FIX("iris-np1.h5"));
    ck_assert_msg(dtrain_evaluate_file(run, DATA("iris.h5"), "/test", &res) == DTRAIN_OK, "%s",
                  dtrain_errmsg(run));
    /* the command line named the model by the path it was given */
    char *json;
    ck_assert_int_eq(dtrain_result_json(res, &json), DTRAIN_OK);
    ck_assert_ptr_nonnull(strstr(json, "iris-np1.h5"));
    free(json);
    figures_as_cli(res, "eval-iris.json", 1);
    dtrain_result_free(res);

    /* the JSON byte for byte: the command line's paths are relative to the
     * fixture, so the run loads the model by the same name from there */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(fixture), 0);
    load(run, "iris-np1.h5");
    ck_assert_int_eq(dtrain_evaluate_file(run, DATA("iris.h5"), "/test", &res), DTRAIN_OK);
    same_as_cli(res, "eval-iris.json", "eval-iris.txt");
    dtrain_result_free(res);
    ck_assert_int_eq(dtrain_evaluate_file(run, DATA("iris.h5"), "/train", &res), DTRAIN_OK);
    same_as_cli(res, "eval-iris-train.json", NULL);
    dtrain_result_free(res);

    load(run, "dia.h5"); /* regression */
    ck_assert_int_eq(dtrain_evaluate_file(run, DATA("diabetes.h5"), "/test", &res), DTRAIN_OK);
    same_as_cli(res, "eval-dia.json", "eval-dia.txt");
    figures_as_cli(res, "eval-dia.json", 0);
    dtrain_result_free(res);

    load(run, "ck/latest.h5"); /* a checkpoint, as eval takes it */
    ck_assert_int_eq(dtrain_evaluate_file(run, DATA("iris.h5"), "/test", &res), DTRAIN_OK);
    same_as_cli(res, "eval-ckpt.json", NULL);
    dtrain_result_free(res);
    ck_assert_int_eq(chdir(cwd), 0);

    /* a group the file lacks: the message lists those it has */
    ck_assert_int_eq(dtrain_evaluate_file(run, DATA("iris.h5"), "/nothere", &res),
                     DTRAIN_EUSAGE);
    ck_assert_ptr_null(res);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "no group '/nothere'"));
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "/test, /train"));
    /* data that does not fit the model */
    ck_assert_int_eq(dtrain_evaluate_file(run, DATA("diabetes.h5"), "/test", &res),
                     DTRAIN_EUSAGE);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "features but the model"));
    dtrain_free(run);
}
END_TEST

/* The group's rows [lo, hi) of this rank: an even split, unlike the file's
 * blocks. */
static void my_rows(const dt_dataset *ds, int64_t *lo, int64_t *hi)
{
    *lo = ds->n * rank / size;
    *hi = ds->n * (rank + 1) / size;
}

START_TEST(test_evaluate_arrays)
{
    dtrain_run *run = new_run();
    load(run, FIX("iris-np1.h5"));
    dt_dataset ds;
    dt_error err;
    ck_assert_int_eq(dataset_load(DATA("iris.h5"), "/test", DS_LABELS, &ds, &err), DT_OK);
    int64_t lo, hi;
    my_rows(&ds, &lo, &hi);
    float *y = malloc((size_t)(hi - lo + 1) * sizeof *y);
    for (int64_t i = lo; i < hi; i++) y[i - lo] = (float)ds.labels[i];
    dtrain_result *res = NULL;
    ck_assert_msg(dtrain_evaluate(run, ds.X + lo * ds.d, y, hi - lo, ds.d, 1, &res) ==
                      DTRAIN_OK, "%s", dtrain_errmsg(run));
    char *want = slurp(FIX("eval-iris.json"), NULL);
    double v;
    ck_assert_int_eq(dtrain_result_get(res, "samples", &v), DTRAIN_OK);
    ck_assert(v == 30);
    ck_assert_int_eq(dtrain_result_get(res, "accuracy", &v), DTRAIN_OK);
    ck_assert(v == json_number(want, "accuracy"));
    ck_assert_int_eq(dtrain_result_get(res, "loss", &v), DTRAIN_OK);
    ck_assert(fabs(v - json_number(want, "loss")) <= 1e-6 * fabs(json_number(want, "loss")));
    /* the confusion matrix, counts: exact */
    const char *conf = strstr(want, "\"confusion\":[[");
    ck_assert(conf);
    conf += strlen("\"confusion\":[[");
    for (int t = 0; t < 3; t++)
        for (int p = 0; p < 3; p++) {
            char name[32];
            snprintf(name, sizeof name, "confusion_%d_%d", t, p);
            ck_assert_int_eq(dtrain_result_get(res, name, &v), DTRAIN_OK);
            char *end;
            ck_assert(v == strtod(conf, &end));
            conf = end + strspn(end, ",[]");
        }
    dtrain_result_free(res);
    free(want);

    /* a bad label on one rank is refused on every rank */
    if (hi > lo && rank == size - 1)
        y[0] = 1.5f;
    ck_assert_int_eq(dtrain_evaluate(run, ds.X + lo * ds.d, y, hi - lo, ds.d, 1, &res),
                     DTRAIN_EUSAGE);
    ck_assert_ptr_null(res);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "is not a class label"));
    /* the wrong width */
    ck_assert_int_eq(dtrain_evaluate(run, ds.X + lo * ds.d, y, hi - lo, 3, 1, &res),
                     DTRAIN_EUSAGE);
    free(y);
    dataset_free(&ds);
    dtrain_free(run);
}
END_TEST

START_TEST(test_predict_file_as_predict)
{
    dtrain_run *run = new_run();
    load(run, FIX("iris-np1.h5"));
    const char *out_csv = tu_path("p.csv"), *out_h5 = tu_path("p.h5");
    /* every rank's temporary directory differs: rank 0's name is the one */
    char csv[4096], h5[4096];
    snprintf(csv, sizeof csv, "%s", out_csv);
    snprintf(h5, sizeof h5, "%s", out_h5);
    MPI_Bcast(csv, sizeof csv, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(h5, sizeof h5, MPI_CHAR, 0, MPI_COMM_WORLD);
    int64_t n = 0;
    double acc = 0;
    ck_assert_msg(dtrain_predict_file(run, DATA("iris.h5"), "/test", csv, &n, &acc) ==
                      DTRAIN_OK, "%s", dtrain_errmsg(run));
    ck_assert_int_eq(n, 30);
    /* the line the command line printed: "... (accuracy against /test/y: A)" */
    char *line = slurp(FIX("pred-iris.out"), NULL), text[64];
    snprintf(text, sizeof text, "%.6f)", acc);
    ck_assert_msg(strstr(line, text), "accuracy %s not in %s", text, line);
    free(line);
    ck_assert_int_eq(dtrain_predict_file(run, DATA("iris.h5"), "/test", h5, NULL, NULL),
                     DTRAIN_OK);
    if (rank == 0) {
        size_t a, b;
        char *mine = slurp(csv, &a), *cli = slurp(FIX("pred-iris.csv"), &b);
        ck_assert(a == b && !memcmp(mine, cli, a));
        free(mine);
        free(cli);
        mine = slurp(h5, &a);
        cli = slurp(FIX("pred-iris.h5"), &b);
        ck_assert_msg(a == b && !memcmp(mine, cli, a), "%s differs from the command line's",
                      h5);
        free(mine);
        free(cli);
    }
    /* regression: no accuracy */
    load(run, FIX("dia.h5"));
    ck_assert_int_eq(dtrain_predict_file(run, DATA("diabetes.h5"), "/test", csv, &n, &acc),
                     DTRAIN_OK);
    ck_assert(isnan(acc));
    if (rank == 0) {
        size_t a, b;
        char *mine = slurp(csv, &a), *cli = slurp(FIX("pred-dia.csv"), &b);
        ck_assert(a == b && !memcmp(mine, cli, a));
        free(mine);
        free(cli);
    }
    /* outputs refused, nothing written: the model, the data, an extension */
    ck_assert_int_eq(dtrain_predict_file(run, DATA("diabetes.h5"), "/test", FIX("dia.h5"), &n,
                                         &acc), DTRAIN_EUSAGE);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "is the input"));
    ck_assert_int_eq(dtrain_predict_file(run, DATA("diabetes.h5"), "/test", "p.txt", &n, &acc),
                     DTRAIN_EUSAGE);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "out p.txt: the extension"));
    dtrain_free(run);
}
END_TEST

START_TEST(test_inspect_as_inspect)
{
    dtrain_run *run = new_run();
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(fixture), 0); /* the command line's relative paths */
    struct {
        const char *file, *want;
        int what;
    } cases[] = {{"iris-np1.h5", "inspect-model.txt", DTRAIN_INSPECT_SUMMARY},
                 {"ck/latest.h5", "inspect-ckpt.txt", DTRAIN_INSPECT_SUMMARY},
                 {DATA("iris.h5"), "inspect-data.txt", DTRAIN_INSPECT_SUMMARY},
                 {"iris-np1.h5", "inspect-config.yaml", DTRAIN_INSPECT_CONFIG}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL, *want = slurp(cases[i].want, NULL);
        ck_assert_msg(dtrain_inspect(run, cases[i].file, cases[i].what, &text) == DTRAIN_OK,
                      "%s: %s", cases[i].file, dtrain_errmsg(run));
        ck_assert_str_eq(text, want);
        free(text);
        free(want);
    }
    /* a data file has no options to give */
    char *text = NULL;
    ck_assert_int_eq(dtrain_inspect(run, DATA("iris.h5"), DTRAIN_INSPECT_CONFIG, &text),
                     DTRAIN_EUSAGE);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "no /config"));
    free(text);
    ck_assert_int_eq(dtrain_inspect(run, "iris-np1.h5", 7, &text), DTRAIN_EUSAGE);
    ck_assert_int_eq(chdir(cwd), 0);
    dtrain_free(run);
}
END_TEST

/* The CSV log's field c of row r (0-based, after the header). */
static const char *csv_field(char *const *lines, int r, int c, char *buf, size_t len)
{
    const char *p = lines[r + 1];
    for (int i = 0; i < c; i++) p = strchr(p, ',') + 1;
    size_t n = strcspn(p, ",\n");
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
    return buf;
}

/* A value as the log prints it (history.c's put_value). */
static void as_logged(const char *name, double v, char *buf, size_t len)
{
    if (!isfinite(v))
        snprintf(buf, len, "%s", "");
    else if (!strcmp(name, "epoch") || !strcmp(name, "step") || !strcmp(name, "samples"))
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.10g", v);
}

START_TEST(test_history_and_final_as_train)
{
    dtrain_run *run = new_run();
    dtrain_result *res = NULL;
    int64_t rows = -1;
    int cols = -1;
    /* nothing trained: an empty history and no final metrics */
    ck_assert_int_eq(dtrain_history_size(run, &rows, &cols), DTRAIN_OK);
    ck_assert(rows == 0 && cols == 0);
    ck_assert_int_eq(dtrain_final(run, &res), DTRAIN_EUSAGE);

    /* the command line's training of the fixture, by dtrain_set */
    const char *opts[][2] = {{"data", DATA("iris.h5")}, {"layers", "8:relu"}, {"epochs", "4"},
                             {"seed", "3"}, {"valid-split", "0.2"}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_int_eq(dtrain_set(run, opts[i][0], opts[i][1]), DTRAIN_OK);
    ck_assert_msg(dtrain_train(run) == DTRAIN_OK, "%s", dtrain_errmsg(run));

    char name[64];
    snprintf(name, sizeof name, "iris-np%d.csv", size);
    char *log = slurp(FIX(name), NULL), *lines[64];
    int n_lines = 0;
    for (char *s = strtok(log, "\n"); s && n_lines < 64; s = strtok(NULL, "\n"))
        lines[n_lines++] = s;
    ck_assert_int_eq(dtrain_history_size(run, &rows, &cols), DTRAIN_OK);
    ck_assert_int_eq(rows, n_lines - 1);
    ck_assert_int_eq(rows, 4);
    /* the header, column by column */
    char header[1024] = "";
    for (int c = 0; c < cols; c++) {
        strcat(header, c ? "," : "");
        strcat(header, dtrain_history_name(run, c));
    }
    ck_assert_str_eq(header, lines[0]);
    ck_assert_ptr_null(dtrain_history_name(run, cols));
    /* every value as the log printed it, but the seconds (not repeatable) */
    double v[64];
    for (int c = 0; c < cols; c++) {
        const char *col = dtrain_history_name(run, c);
        ck_assert_int_eq(dtrain_history_column(run, col, v, rows), DTRAIN_OK);
        if (!strcmp(col, "time") || !strcmp(col, "epoch_time"))
            continue;
        for (int64_t r = 0; r < rows; r++) {
            char got[64], want[64];
            as_logged(col, v[r], got, sizeof got);
            csv_field(lines, (int)r, c, want, sizeof want);
            ck_assert_msg(!strcmp(got, want), "%s row %lld: %s, the log %s", col, (long long)r,
                          got, want);
        }
    }
    ck_assert_int_eq(dtrain_history_column(run, "nonesuch", v, rows), DTRAIN_EUSAGE);
    ck_assert_ptr_nonnull(strstr(dtrain_errmsg(run), "train_loss"));
    ck_assert_int_eq(dtrain_history_column(run, "epoch", v, rows + 1), DTRAIN_EUSAGE);
    free(log);

    /* the final metrics: each "final:" figure as the command line printed it */
    ck_assert_int_eq(dtrain_final(run, &res), DTRAIN_OK);
    snprintf(name, sizeof name, "train-np%d.out", size);
    char *out = slurp(FIX(name), NULL);
    int seen = 0;
    for (char *s = strstr(out, "final: "); s; s = strstr(s, "final: ")) {
        s += strlen("final: ");
        char key[64], val[64];
        while (sscanf(s, "%63s %63s", key, val) == 2 && key[0] != '(') {
            double got;
            ck_assert_msg(dtrain_result_get(res, key, &got) == DTRAIN_OK, "no %s", key);
            char text[64];
            snprintf(text, sizeof text, "%.4f", got);
            ck_assert_msg(!strcmp(text, val), "%s: %s, the command line %s", key, text, val);
            seen++;
            s = strstr(s, val) + strlen(val);
            s += strspn(s, " ");
        }
    }
    ck_assert_int_eq(seen, 4); /* valid_loss valid_accuracy test_loss test_accuracy */
    double f;
    ck_assert_int_eq(dtrain_result_get(res, "test_samples", &f), DTRAIN_OK);
    ck_assert(f == 30);
    ck_assert_int_eq(dtrain_result_get(res, "valid_macro_f1", &f), DTRAIN_OK);
    char *json;
    ck_assert_int_eq(dtrain_result_json(res, &json), DTRAIN_OK);
    ck_assert_ptr_nonnull(strstr(json, "\"valid_loss\": "));
    free(json);
    dtrain_result_free(res);
    free(out);

    /* a loaded model has neither */
    load(run, FIX("iris-np1.h5"));
    ck_assert_int_eq(dtrain_final(run, &res), DTRAIN_EUSAGE);
    ck_assert_ptr_null(res);
    ck_assert_int_eq(dtrain_history_size(run, &rows, &cols), DTRAIN_OK);
    ck_assert(rows == 0 && cols == 0);
    dtrain_free(run);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s = suite_create("api_eval");
    TCase *tc = tcase_create("results");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_evaluate_file_as_eval);
    tcase_add_test(tc, test_evaluate_arrays);
    tcase_add_test(tc, test_predict_file_as_predict);
    tcase_add_test(tc, test_inspect_as_inspect);
    tcase_add_test(tc, test_history_and_final_as_train);
    suite_add_tcase(s, tc);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    fixture = getenv("DTRAIN_API_EVAL_DIR");
    const char *src = getenv("DTRAIN_SOURCE_DIR");
    static char datasets[4096];
    snprintf(datasets, sizeof datasets, "%s/datasets", src ? src : "..");
    data_dir = datasets;
    if (!fixture) {
        if (rank == 0)
            fprintf(stderr, "DTRAIN_API_EVAL_DIR is not set (ctest sets it)\n");
        MPI_Finalize();
        return 1;
    }
    int failed = tu_run(s), any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
