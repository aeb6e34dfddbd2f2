/* The option, command-line and process calls of the public API
 * (include/dtrain.h, "options, the command line and the process"), run
 * under mpiexec at 1 to 4 ranks through the public header only, as a
 * program embedding dtrain (or the command line) would.
 *
 * References: the values typed into the command lines and files here (what
 * an option must read back as), dtrain_set's text path (what the typed
 * calls must equal), and the help text printed for a command (what the
 * option descriptions must list). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <mpi.h>

#include "dtrain.h"
#include "testutil.h"

static int rank, size;

/* call fails with status st, and msg (the run's, or NULL's) holds needle */
#define FAILS(call, st, run, needle)                                                    \
    do {                                                                                \
        dtrain_status st_ = (call);                                                     \
        ck_assert_msg(st_ == (st), "%s: status %d, expected %d: %s", #call, (int)st_,   \
                      (int)(st), dtrain_errmsg(run));                                   \
        ck_assert_msg(strstr(dtrain_errmsg(run), needle), "%s: '%s' lacks '%s'", #call, \
                      dtrain_errmsg(run), needle);                                      \
    } while (0)

/* Parse the words of line (split on spaces) as options of command. */
static dtrain_status parse_line(dtrain_options **o, const char *command, const char *line)
{
    static char buf[4096];
    char *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 64; t = strtok(NULL, " "))
        argv[argc++] = t;
    return dtrain_options_parse(o, command, argc, argv);
}

static void expect_opt(const dtrain_options *o, const char *key, const char *value,
                       int given)
{
    char v[256];
    int g = -1;
    OK(dtrain_options_get(o, key, v, sizeof v, &g), NULL);
    ck_assert_msg(!strcmp(v, value), "%s: '%s', expected '%s'", key, v, value);
    ck_assert_msg(g == given, "%s: given %d, expected %d", key, g, given);
}

static const char *write_file(const char *name, const char *text)
{
    const char *path = tu_path(name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A command line with a config file under it: the command line wins, the
 * file gives what it alone names, the rest are defaults (not given). */
START_TEST(test_parse_config_merge)
{
    const char *yaml = write_file("opts.yaml", "epochs: 7\nbatch-size: 8\nlayers: 8:relu\n");
    char line[2048];
    snprintf(line, sizeof line, "--epochs 3 --lr=0.01 --config %s --data d.h5", yaml);
    dtrain_options *o;
    OK(parse_line(&o, "train", line), NULL);
    ck_assert_str_eq(dtrain_options_command(o), "train");
    ck_assert_int_eq(dtrain_options_help(o), 0);
    expect_opt(o, "epochs", "3", 1);
    expect_opt(o, "lr", "0.01", 1);
    expect_opt(o, "batch-size", "8", 1);
    expect_opt(o, "layers", "8:relu", 1);
    expect_opt(o, "data", "d.h5", 1);
    expect_opt(o, "config", yaml, 1);
    expect_opt(o, "seed", "1", 0);
    expect_opt(o, "progress", "auto", 0);
    /* a key of another command, a buffer too small: refused, buf "" */
    char v[4];
    FAILS(dtrain_options_get(o, "model", v, sizeof v, NULL), DTRAIN_EUSAGE, NULL,
          "train takes no option model");
    FAILS(dtrain_options_get(o, "data", v, sizeof v, NULL), DTRAIN_EUSAGE, NULL, "data");
    ck_assert_str_eq(v, "");
    dtrain_options_free(o);

    OK(parse_line(&o, "eval", "--model m.h5 --json -h"), NULL);
    ck_assert_int_eq(dtrain_options_help(o), 1);
    expect_opt(o, "model", "m.h5", 1);
    expect_opt(o, "json", "1", 1);
    dtrain_options_free(o);
    dtrain_options_free(NULL);
    ck_assert_int_eq(dtrain_options_help(NULL), 0);
}
END_TEST

/* inspect's bare argument is its --file; given twice, refused. */
START_TEST(test_parse_positional)
{
    dtrain_options *o;
    OK(parse_line(&o, "inspect", "--config a.h5"), NULL); /* a flag: a.h5 is bare */
    expect_opt(o, "file", "a.h5", 1);
    expect_opt(o, "config", "1", 1);
    dtrain_options_free(o);
    o = (dtrain_options *)&o;
    FAILS(parse_line(&o, "inspect", "a.h5 --file b.h5"), DTRAIN_EUSAGE, NULL, "given twice");
    ck_assert_ptr_null(o);
    /* train has no positional argument */
    FAILS(parse_line(&o, "train", "a.h5"), DTRAIN_EUSAGE, NULL, "unexpected argument 'a.h5'");
}
END_TEST

/* Every failure: a status, *opts NULL, a message naming the cause. */
START_TEST(test_parse_failures)
{
    dtrain_options *o = (dtrain_options *)&o;
    FAILS(parse_line(&o, "trian", "--epochs 2"), DTRAIN_EUSAGE, NULL,
          "unknown command 'trian' (did you mean 'train'?)");
    ck_assert_ptr_null(o);
    FAILS(parse_line(&o, "train", "--learning-rate 0.1"), DTRAIN_EUSAGE, NULL,
          "did you mean --lr?");
    FAILS(parse_line(&o, "train", "--epochs -1"), DTRAIN_EUSAGE, NULL, "epochs");
    FAILS(parse_line(&o, "train", "--epochs"), DTRAIN_EUSAGE, NULL, "--epochs needs a value");
    const char *bad = write_file("bad.yaml", "epochs: 2\nlrr: 0.1\n");
    char line[2048];
    snprintf(line, sizeof line, "--config %s", bad);
    FAILS(parse_line(&o, "train", line), DTRAIN_EUSAGE, NULL,
          "unknown option 'lrr' (did you mean 'lr'?)");
    snprintf(line, sizeof line, "--config %s", tu_path("none.yaml"));
    FAILS(parse_line(&o, "train", line), DTRAIN_EUSAGE, NULL, "none.yaml");
    FAILS(dtrain_options_parse(NULL, "train", 0, NULL), DTRAIN_EUSAGE, NULL,
          "dtrain_options_parse");
    FAILS(dtrain_options_parse(&o, NULL, 0, NULL), DTRAIN_EUSAGE, NULL, "command");
}
END_TEST

/* A run given a command line's options by dtrain_set_options reads them
 * back as dtrain_set of the same text would have set them (a second run
 * set by text is the reference), keeps what the command line does not
 * name, and knows the config file as an input. */
START_TEST(test_set_options_typed)
{
    const char *yaml = write_file("run.yaml", "batch-size: 8\noptimizer: sgd\n");
    char line[2048];
    snprintf(line, sizeof line,
             "--layers 6:tanh,4:relu --lr 0.125 --epochs 2 --output linear "
             "--valid-split 0.25 --shuffle off --drop-last --config %s",
             yaml);
    dtrain_options *o;
    OK(parse_line(&o, "train", line), NULL);
    dtrain_run *typed, *text;
    OK(dtrain_create(&typed, MPI_COMM_WORLD), NULL);
    OK(dtrain_create(&text, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(typed, "seed", "9"), typed); /* not in o: stays */
    OK(dtrain_set_options(typed, o), typed);
    const char *set[][2] = {{"config", yaml},         {"layers", "6:tanh,4:relu"},
                            {"lr", "0.125"},          {"epochs", "2"},
                            {"output", "linear"},     {"valid-split", "0.25"},
                            {"shuffle", "off"},       {"drop-last", "1"},
                            {"seed", "9"}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        OK(dtrain_set(text, set[i][0], set[i][1]), text);
    dtrain_option_info info;
    for (size_t i = 0; dtrain_option_at("train", i, &info) == DTRAIN_OK; i++) {
        char a[2100], b[2100];
        OK(dtrain_get(typed, info.name, a, sizeof a), typed);
        OK(dtrain_get(text, info.name, b, sizeof b), text);
        ck_assert_msg(!strcmp(a, b), "%s: typed '%s', by text '%s'", info.name, a, b);
    }
    char v[64];
    OK(dtrain_get(typed, "batch-size", v, sizeof v), typed);
    ck_assert_str_eq(v, "8"); /* from the file */

    /* trained, the run refuses to save over its config file (an input) */
    float X[16 * 2], y[16];
    for (int i = 0; i < 16; i++) {
        X[2 * i] = (float)i / 16;
        X[2 * i + 1] = (float)(i % 3);
        y[i] = X[2 * i] - X[2 * i + 1];
    }
    OK(dtrain_set_data(typed, X, y, 16, 2, 1), typed);
    OK(dtrain_train(typed), typed);
    FAILS(dtrain_save(typed, yaml), DTRAIN_EUSAGE, typed, "config");
    FAILS(dtrain_set_options(typed, NULL), DTRAIN_EUSAGE, typed, "opts is NULL");
    FAILS(dtrain_set_options(NULL, o), DTRAIN_EUSAGE, NULL, "dtrain_set_options");
    dtrain_free(typed);
    dtrain_free(text);
    dtrain_options_free(o);
}
END_TEST

/* dtrain_get gives the text dtrain_set reads back to the same value, for
 * every train option at its default and after a set. */
START_TEST(test_get_round_trip)
{
    dtrain_run *run, *copy;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    OK(dtrain_create(&copy, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(run, "lr", "0.1"), run);
    OK(dtrain_set(run, "layers", "5:relu:0.25,3:tanh"), run);
    OK(dtrain_set(run, "log-grad-norms", "7"), run);
    dtrain_option_info info;
    size_t n = 0;
    for (size_t i = 0; dtrain_option_at("train", i, &info) == DTRAIN_OK; i++, n++) {
        char a[2100], b[2100];
        OK(dtrain_get(run, info.name, a, sizeof a), run);
        if (!strcmp(info.name, "config")) /* reads a file: "" is none */
            continue;
        if (a[0] || info.type != DTRAIN_OPT_TEXT) /* "" for text: unset, as it is */
            OK(dtrain_set(copy, info.name, a), copy);
        OK(dtrain_get(copy, info.name, b, sizeof b), copy);
        ck_assert_msg(!strcmp(a, b), "%s: '%s' read back as '%s'", info.name, a, b);
    }
    ck_assert_int_gt(n, 50);
    char v[8];
    OK(dtrain_get(run, "lr", v, sizeof v), run);
    ck_assert_str_eq(v, "0.1");
    FAILS(dtrain_get(run, "layers", v, sizeof v), DTRAIN_EUSAGE, run, "layers");
    ck_assert_str_eq(v, "");
    FAILS(dtrain_get(run, "optimzer", v, sizeof v), DTRAIN_EUSAGE, run,
          "did you mean 'optimizer'");
    FAILS(dtrain_get(run, "lr", NULL, 4), DTRAIN_EUSAGE, run, "NULL");
    FAILS(dtrain_get(NULL, "lr", v, sizeof v), DTRAIN_EUSAGE, NULL, "dtrain_get");
    dtrain_free(run);
    dtrain_free(copy);
}
END_TEST

/* The typed setters equal dtrain_set of the text, refuse another type and
 * a bad value without changing anything. */
START_TEST(test_typed_setters)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    char v[64];
    OK(dtrain_set_int(run, "epochs", 12), run);
    OK(dtrain_get(run, "epochs", v, sizeof v), run);
    ck_assert_str_eq(v, "12");
    OK(dtrain_set_int(run, "batch-size", 4096), run);
    OK(dtrain_get(run, "batch-size", v, sizeof v), run);
    ck_assert_str_eq(v, "4096");
    OK(dtrain_set_int(run, "drop-last", 1), run); /* a flag */
    OK(dtrain_get(run, "drop-last", v, sizeof v), run);
    ck_assert_str_eq(v, "1");
    OK(dtrain_set_double(run, "lr", 0.1), run);
    OK(dtrain_get(run, "lr", v, sizeof v), run);
    ck_assert_double_eq(strtod(v, NULL), 0.1); /* the same double back */
    OK(dtrain_set_double(run, "valid-split", 1.0 / 3.0), run);
    OK(dtrain_get(run, "valid-split", v, sizeof v), run);
    ck_assert_double_eq(strtod(v, NULL), 1.0 / 3.0);

    FAILS(dtrain_set_int(run, "lr", 1), DTRAIN_EUSAGE, run, "lr is not a whole number");
    FAILS(dtrain_set_double(run, "epochs", 2.5), DTRAIN_EUSAGE, run,
          "epochs is not a real number");
    FAILS(dtrain_set_int(run, "layers", 3), DTRAIN_EUSAGE, run, "layers");
    FAILS(dtrain_set_int(run, "epochs", -4), DTRAIN_EUSAGE, run, "epochs");
    FAILS(dtrain_set_double(run, "lr", -1), DTRAIN_EUSAGE, run, "lr");
    FAILS(dtrain_set_double(run, "lr", NAN), DTRAIN_EUSAGE, run, "lr");
    FAILS(dtrain_set_int(run, "epoch", 3), DTRAIN_EUSAGE, run, "did you mean 'epochs'");
    FAILS(dtrain_set_int(run, NULL, 3), DTRAIN_EUSAGE, run, "key is NULL");
    FAILS(dtrain_set_double(NULL, "lr", 1), DTRAIN_EUSAGE, NULL, "dtrain_set_double");
    OK(dtrain_get(run, "epochs", v, sizeof v), run);
    ck_assert_str_eq(v, "12");
    OK(dtrain_get(run, "lr", v, sizeof v), run);
    ck_assert_double_eq(strtod(v, NULL), 0.1);
    dtrain_free(run);
}
END_TEST

/* The descriptions list what the help text lists, in its order. */
START_TEST(test_option_descriptions)
{
    const char *path = tu_path("help.txt");
    FILE *f = fopen(path, "w+");
    ck_assert_ptr_nonnull(f);
    OK(dtrain_print_options(f, "cv"), NULL);
    rewind(f);
    char line[4096];
    size_t i = 0;
    dtrain_option_info info;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "  --", 4) != 0)
            continue; /* a continuation of the help text */
        OK(dtrain_option_at("cv", i, &info), NULL);
        const size_t n = strlen(info.name);
        ck_assert_msg(!strncmp(line + 4, info.name, n) && (line[4 + n] == ' ' ||
                                                            line[4 + n] == '\n'),
                      "option %zu is %s, help lists: %s", i, info.name, line);
        i++;
    }
    fclose(f);
    ck_assert_int_gt(i, 20);
    FAILS(dtrain_option_at("cv", i, &info), DTRAIN_EUSAGE, NULL, "options");
    FAILS(dtrain_option_at("cvx", 0, &info), DTRAIN_EUSAGE, NULL, "did you mean 'cv'");
    FAILS(dtrain_option_at("cv", 0, NULL), DTRAIN_EUSAGE, NULL, "info is NULL");
    FAILS(dtrain_print_options(stdout, "tran"), DTRAIN_EUSAGE, NULL, "did you mean 'train'");
    FAILS(dtrain_print_options(NULL, "train"), DTRAIN_EUSAGE, NULL, "out is NULL");

    int seen = 0;
    for (size_t k = 0; dtrain_option_at("train", k, &info) == DTRAIN_OK; k++) {
        if (!strcmp(info.name, "optimizer")) {
            seen++;
            ck_assert_int_eq(info.type, DTRAIN_OPT_CHOICE);
            ck_assert_msg(strstr(info.choices, "adam") && strstr(info.choices, "lbfgs"),
                          "%s", info.choices);
        } else if (!strcmp(info.name, "lr")) {
            seen++;
            ck_assert_int_eq(info.type, DTRAIN_OPT_REAL);
            ck_assert_str_eq(info.choices, "");
            ck_assert_ptr_nonnull(info.help);
        } else if (!strcmp(info.name, "epochs")) {
            seen++;
            ck_assert_int_eq(info.type, DTRAIN_OPT_INT);
        }
    }
    ck_assert_int_eq(seen, 3);
}
END_TEST

/* Versions, the nearest word, SIGXFSZ, the start-up guard: local calls. */
START_TEST(test_process_calls)
{
    const char *path = tu_path("versions.txt");
    FILE *f = fopen(path, "w+");
    ck_assert_ptr_nonnull(f);
    dtrain_print_versions(f);
    dtrain_print_versions(NULL);
    rewind(f);
    const char *want[] = {"MPI: ", "HDF5: ", "GEMM: ", "LAPACK: "};
    char line[1024];
    for (size_t i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
        ck_assert_msg(!strncmp(line, want[i], strlen(want[i])) && strlen(line) > strlen(want[i]) + 1,
                      "line %zu: %s", i, line);
    }
    ck_assert_ptr_null(fgets(line, sizeof line, f));
    fclose(f);

    const char *words[] = {"train", "eval", "plot"};
    ck_assert_str_eq(dtrain_nearest("polt", words, 3), "plot");
    ck_assert_str_eq(dtrain_nearest("trian", words, 3), "train");
    ck_assert_ptr_null(dtrain_nearest("xyz", words, 3));
    ck_assert_ptr_null(dtrain_nearest("train", NULL, 3));

    struct sigaction sa;
    dtrain_ignore_file_size_signal();
    sigaction(SIGXFSZ, NULL, &sa);
    ck_assert_ptr_eq((void *)sa.sa_handler, (void *)SIG_IGN);

    FAILS(dtrain_process_allow(1u << 7, 0), DTRAIN_EUSAGE, NULL, "unknown flags");
    FAILS(dtrain_process_allow(DTRAIN_ALLOW_WATCHDOG, -1), DTRAIN_EUSAGE, NULL, "step_timeout");
    FAILS(dtrain_process_allow(DTRAIN_ALLOW_WATCHDOG, NAN), DTRAIN_EUSAGE, NULL, "step_timeout");
    OK(dtrain_process_allow(DTRAIN_ALLOW_WATCHDOG, 0), NULL); /* 0: nothing armed */
    OK(dtrain_process_allow(DTRAIN_ALLOW_WATCHDOG, 600), NULL);
    dtrain_process_end();
    dtrain_process_end(); /* nothing armed: nothing to do */
}
END_TEST

/* A run on a Fortran handle: the world's, a split's, none. */
START_TEST(test_create_fortran)
{
    dtrain_run *run;
    OK(dtrain_create_f(&run, MPI_Comm_c2f(MPI_COMM_WORLD)), NULL);
    /* collective on it: an agreement with every rank */
    ck_assert_int_eq(dtrain_agree(run, DTRAIN_OK, NULL), DTRAIN_OK);
    dtrain_free(run);

    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    int hsize;
    MPI_Comm_size(half, &hsize);
    OK(dtrain_create_f(&run, MPI_Comm_c2f(half)), NULL);
    /* the worst over the half only: its last rank fails */
    int hrank;
    MPI_Comm_rank(half, &hrank);
    char msg[64];
    snprintf(msg, sizeof msg, "half %d failed", rank % 2);
    dtrain_status st = dtrain_agree(run, hrank == hsize - 1 ? DTRAIN_EIO : DTRAIN_OK, msg);
    ck_assert_int_eq(st, DTRAIN_EIO);
    ck_assert_str_eq(dtrain_errmsg(run), msg);
    dtrain_free(run);
    MPI_Comm_free(&half);

    run = (dtrain_run *)&run;
    FAILS(dtrain_create_f(&run, MPI_Comm_c2f(MPI_COMM_NULL)), DTRAIN_EUSAGE, NULL,
          "MPI_COMM_NULL");
    ck_assert_ptr_null(run);
}
END_TEST

/* dtrain_agree: the status and message of the lowest failing rank on every
 * rank; nothing failed, DTRAIN_OK and no message; the signal number. */
START_TEST(test_agree_and_stop_signal)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    char msg[64];
    snprintf(msg, sizeof msg, "rank %d says no", rank);
    /* the last rank fails with EIO, the one before (if any) with EUSAGE */
    dtrain_status mine = rank == size - 1 ? DTRAIN_EIO
                         : rank == size - 2 ? DTRAIN_EUSAGE
                                            : DTRAIN_OK;
    dtrain_status want = size > 1 ? DTRAIN_EUSAGE : DTRAIN_EIO;
    char want_msg[64];
    snprintf(want_msg, sizeof want_msg, "rank %d says no", size > 1 ? size - 2 : 0);
    ck_assert_int_eq(dtrain_agree(run, mine, msg), want);
    ck_assert_str_eq(dtrain_errmsg(run), want_msg);
    /* NULL message: the run's own (the failed set's) */
    if (rank == 0)
        ck_assert_int_eq(dtrain_set(run, "epochs", "x"), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_agree(run, rank == 0 ? DTRAIN_EUSAGE : DTRAIN_OK, NULL),
                     DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "epochs"), "%s", dtrain_errmsg(run));
    ck_assert_int_eq(dtrain_agree(run, DTRAIN_OK, "ignored"), DTRAIN_OK);
    ck_assert_str_eq(dtrain_errmsg(run), "");
    ck_assert_int_eq(dtrain_stop_signal(run), 0); /* none received */
    FAILS(dtrain_agree(NULL, DTRAIN_OK, NULL), DTRAIN_EUSAGE, NULL, "dtrain_agree");
    dtrain_free(run);
}
END_TEST

/* rank and size, once MPI runs (tu_run_mpi starts it before the tests) */
static void whoami(void)
{
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
}

int main(int argc, char **argv)
{
    Suite *s = suite_create("api_options");
    TCase *tc = tcase_create("api_options");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, whoami, NULL);
    tcase_add_test(tc, test_parse_config_merge);
    tcase_add_test(tc, test_parse_positional);
    tcase_add_test(tc, test_parse_failures);
    tcase_add_test(tc, test_set_options_typed);
    tcase_add_test(tc, test_get_round_trip);
    tcase_add_test(tc, test_typed_setters);
    tcase_add_test(tc, test_option_descriptions);
    tcase_add_test(tc, test_process_calls);
    tcase_add_test(tc, test_create_fortran);
    tcase_add_test(tc, test_agree_and_stop_signal);
    suite_add_tcase(s, tc);
    return tu_run_mpi(s, &argc, &argv);
}
