/* dtrain: the command line (cli_main).  Parses the subcommand and its options
 * (dtrain_options_parse, before MPI starts), creates the run on
 * MPI_COMM_WORLD, applies the options, runs the command, agrees on the
 * outcome across ranks and turns a failure into one message from rank 0 and
 * one exit status.  A client of dtrain.h like any other program: MPI is
 * initialised and finalised here, and nothing more of it is used. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    const char *name;
    dtrain_status (*run)(dtrain_run *, const dtrain_options *);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cli_train, "train an MLP data-parallel over MPI on an HDF5 data set"},
    {"eval", cli_eval, "loss and metrics of a saved model or checkpoint on a data group"},
    {"cv", cli_cv, "k-fold cross-validation and grid search over train options"},
    {"predict", cli_predict, "per-sample outputs of a model, to .h5 or .csv"},
    {"inspect", cli_inspect, "describe a checkpoint, model or data file"},
    {"bench", cli_bench,
     "the CPU's FMA peak and memory bandwidth, the GEMMs and allreduce of a training step"},
    {"convert", cli_convert, "convert IDX or CSV files to dtrain's HDF5 layout"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* The shape help2man reads (the man page is made from --help-all): "Usage:"
 * lines, a description, then sections of "  NAME  text" entries. */
static void usage(FILE *out)
{
    fprintf(out, "Usage: dtrain COMMAND [OPTIONS]\n"
                 "  or:  mpirun -np P dtrain COMMAND [OPTIONS]\n"
                 "Train multilayer perceptrons data-parallel over MPI on HDF5 data; evaluate,\n"
                 "predict, cross-validate, benchmark, convert data.\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-9s %s\n", "plot",
            "draw a training log (--log) or cv results (--out) as a PNG, SVG or PDF");
    fprintf(out, "\n`dtrain COMMAND --help` (or `dtrain help COMMAND`) lists a command's "
                 "options,\n`dtrain --help-all` those of every command; `dtrain completion "
                 "bash` (or zsh)\nprints a completion script; `dtrain --version` prints "
                 "versions.\n");
}

/* --help-all: the usage, then every command's options (the man page). */
static void help_all(void)
{
    usage(stdout);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        printf("\nOptions of dtrain %s:\n", commands[i].name);
        dtrain_print_options(stdout, commands[i].name);
    }
}

/* dtrain completion bash|zsh: printed before MPI starts (a shell may run it
 * at every start-up). */
static int completion(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "bash") && strcmp(argv[2], "zsh"))) {
        fprintf(stderr, "dtrain: error: usage: dtrain completion bash|zsh\n");
        return 2;
    }
    const char *names[N_COMMANDS];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    (argv[2][0] == 'b' ? cli_completion_bash : cli_completion_zsh)(stdout, names, N_COMMANDS);
    return 0;
}

void cli_print_line(void *user, dtrain_log_level level, const char *line)
{
    if (*(const int *)user != 0)
        return;
    if (level == DTRAIN_LOG_WARN) {
        fprintf(stderr, "dtrain: warning: %s\n", line);
        return;
    }
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static int world_rank; /* cli_rank's, and the log sink's user pointer */

int cli_rank(void) { return world_rank; }

/* cli_fail's message: one per process (the command line runs one command) */
static char fail_msg[1024];

static dtrain_status fail_v(dtrain_status st, const char *fmt, va_list ap)
{
    vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
    return st;
}

dtrain_status cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const dtrain_status st = fail_v(DTRAIN_EUSAGE, fmt, ap);
    va_end(ap);
    return st;
}

dtrain_status cli_fail_as(dtrain_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(st, fmt, ap);
    va_end(ap);
    return st;
}

const char *cli_fail_message(void) { return fail_msg; }

void cli_fail_clear(void) { fail_msg[0] = '\0'; }

/* Exit status: 0 success, 2 usage or input error, 1 anything else. */
static int exit_code(dtrain_status st)
{
    return st == DTRAIN_OK ? 0 : st == DTRAIN_EUSAGE ? 2 : 1;
}

static void print_help(const command *c, int rank)
{
    if (rank != 0)
        return;
    printf("Usage: dtrain %s [OPTIONS]\n  or:  mpirun -np P dtrain %s [OPTIONS]\n%s\n\n"
           "Options:\n", c->name, c->name, c->summary);
    dtrain_print_options(stdout, c->name);
}

/* The command called name; else NULL, and rank 0 says so (with the command
 * it most likely meant) and lists the commands. */
static const command *lookup(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return &commands[i];
    return NULL;
}

static const command *find_command(const char *name, int rank)
{
    const command *c = lookup(name);
    if (c || rank != 0)
        return c;
    const char *names[N_COMMANDS + 1];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    names[N_COMMANDS] = "plot"; /* run before MPI, not in the table */
    const char *near = dtrain_nearest(name, names, N_COMMANDS + 1);
    if (near)
        fprintf(stderr, "dtrain: error: unknown command '%s' (did you mean '%s'?)\n", name,
                near);
    else
        fprintf(stderr, "dtrain: error: unknown command '%s'\n", name);
    usage(stderr);
    return NULL;
}

/* --data names no file: one message naming the option, and for the one data
 * set the repository does not hold (too large), the script that builds it. */
static dtrain_status check_data(const dtrain_options *o)
{
    char data[4096];
    if (dtrain_options_get(o, "data", data, sizeof data, NULL) != DTRAIN_OK || !data[0] ||
        access(data, F_OK) == 0 || errno != ENOENT)
        return DTRAIN_OK; /* other faults: the file's reader names them */
    const char *base = strrchr(data, '/');
    base = base ? base + 1 : data;
    if (!strcmp(base, "fashion-mnist.h5"))
        return cli_fail("--data %s: no such file; datasets/fashion-mnist.sh builds "
                        "datasets/fashion-mnist.h5 (from the Debian package "
                        "dataset-fashion-mnist)", data);
    return cli_fail("--data %s: no such file", data);
}

/* The command's outcome, agreed on run's ranks, as the exit status (rank 0
 * prints the one message). */
static int outcome(const command *c, dtrain_run *run, dtrain_status st, int rank)
{
    const char *own = cli_fail_message();
    st = dtrain_agree(run, st, own[0] ? own : NULL);
    if (st == DTRAIN_STOPPED) { /* 128 + N, as a process ended by signal N: nothing to resume */
        const int sig = dtrain_stop_signal(run);
        if (rank == 0)
            fprintf(stderr, "dtrain %s: %s\n", c->name, dtrain_errmsg(run));
        return 128 + sig;
    }
    if (st == DTRAIN_PREEMPTED) {
        if (rank == 0)
            fprintf(stderr, "dtrain %s: %s\n", c->name, dtrain_errmsg(run));
        return DTRAIN_PREEMPTED;
    }
    int missing = 0;
    if (st && rank == 0) {
        if (dtrain_err_option(run, &missing) && missing) /* a required option not given */
            fprintf(stderr, "dtrain %s: error: %s (see dtrain %s --help)\n", c->name,
                    dtrain_errmsg(run), c->name);
        else
            fprintf(stderr, "dtrain %s: error: %s\n", c->name, dtrain_errmsg(run));
    }
    return exit_code(st);
}

/* Run command c with the options o parsed before MPI started (parsed: how
 * that went, msg its message) on every rank; returns the exit status. */
static int run_command(const command *c, const dtrain_options *o, dtrain_status parsed,
                       const char *msg, int rank)
{
    if (!parsed && dtrain_options_help(o)) {
        print_help(c, rank);
        return 0;
    }
    dtrain_run *run;
    dtrain_status st = dtrain_create(&run, MPI_COMM_WORLD);
    if (st) {
        if (rank == 0)
            fprintf(stderr, "dtrain %s: error: %s\n", c->name, dtrain_errmsg(NULL));
        return exit_code(st);
    }
    dtrain_name_options(run, DTRAIN_NAMES_FLAGS); /* "--lr", as the user typed it */
    dtrain_on_log(run, cli_print_line, &world_rank, DTRAIN_LOG_INFO);
    cli_fail_clear();
    st = parsed ? cli_fail_as(parsed, "%s", msg) : dtrain_set_options(run, o);
    if (!st)
        st = check_data(o);
    if (!st)
        st = c->run(run, o);
    const int code = outcome(c, run, st, rank);
    dtrain_free(run);
    return code;
}

/* train, before MPI starts: the preemption signals are kept for the first
 * safe point, not lost and not fatal, and --step-timeout's watchdog thread
 * runs, so that a rank stopped in MPI's start-up (which waits for every
 * rank) cannot hang the others.  A command line that does not parse arms
 * nothing: its error is reported once MPI runs. */
static void guard_start_up(const dtrain_options *o)
{
    char v[64];
    if (o && !dtrain_options_help(o) &&
        dtrain_options_get(o, "step-timeout", v, sizeof v, NULL) == DTRAIN_OK &&
        strtod(v, NULL) > 0)
        (void)dtrain_process_allow(DTRAIN_ALLOW_WATCHDOG, strtod(v, NULL));
    /* a failure is met again, and agreed, when training starts it */
}

/* completion and plot: before and without MPI.  1 if argv is one of them
 * (*code: its exit status), else 0. */
static int without_mpi(int argc, char **argv, int *code)
{
    if (argc > 1 && strcmp(argv[1], "completion") == 0)
        *code = completion(argc, argv);
    /* the plotter is a script of its own, on one process (plot.c) */
    else if (argc > 1 && strcmp(argv[1], "plot") == 0)
        *code = cli_plot(argc, argv);
    else if (argc == 3 && !strcmp(argv[1], "help") && !strcmp(argv[2], "plot")) {
        static char help_opt[] = "--help";
        char *help[] = {argv[0], argv[2], help_opt, NULL};
        *code = cli_plot(3, help);
    } else
        return 0;
    return 1;
}

/* What rank 0 prints, MPI running: the usage, every command's options, the
 * versions, a command's help.  1 if argv asks for one of them or names no
 * command (*code: the exit status), else 0. */
static int informational(int argc, char **argv, int rank, int *code)
{
    *code = 0;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        if (rank == 0)
            usage(argc < 2 ? stderr : stdout);
        *code = argc < 2 ? 2 : 0;
    } else if (!strcmp(argv[1], "--help-all")) {
        if (rank == 0)
            help_all();
    } else if (!strcmp(argv[1], "--version")) {
        if (rank == 0) {
            printf("dtrain %s\n", dtrain_version());
            dtrain_print_versions(stdout);
        }
    } else {
        /* "dtrain help COMMAND" is "dtrain COMMAND --help" */
        const int help = !strcmp(argv[1], "help");
        const command *c = find_command(argv[1 + help], rank);
        if (!c)
            *code = 2;
        else if (help)
            print_help(c, rank);
        else
            return 0;
    }
    return 1;
}

int cli_main(int argc, char **argv)
{
    /* First thing, before MPI: a preemption signal during start-up is kept
     * for the first safe point (dtrain_process_allow). */
    const int train = argc > 1 && strcmp(argv[1], "train") == 0;
    if (train)
        (void)dtrain_process_allow(DTRAIN_ALLOW_SIGNALS, 0);
    /* the options, parsed once, before MPI (local) */
    const command *c = argc > 1 ? lookup(argv[1]) : NULL;
    if (c) { /* a watchdog's one line starts as the command's other errors do */
        char voice[64];
        snprintf(voice, sizeof voice, "dtrain %s: error: ", c->name);
        (void)dtrain_watchdog_voice(voice, DTRAIN_NAMES_FLAGS);
    }
    dtrain_options *opts = NULL;
    dtrain_status parsed = DTRAIN_OK;
    static char parse_msg[1024];
    if (c && (parsed = dtrain_options_parse(&opts, c->name, argc - 2, argv + 2)))
        snprintf(parse_msg, sizeof parse_msg, "%s", dtrain_errmsg(NULL));
    if (train)
        guard_start_up(opts);
    int code = 0;
    if (!without_mpi(argc, argv, &code)) {
        if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
            fprintf(stderr, "dtrain: error: MPI could not be initialised\n");
            code = 1;
        } else {
            MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
            dtrain_ignore_file_size_signal();
            if (!informational(argc, argv, world_rank, &code))
                code = run_command(c, opts, parsed, parse_msg, world_rank);
            dtrain_process_end(); /* armed and never started: local */
            fflush(stdout);
            MPI_Finalize();
        }
    }
    dtrain_options_free(opts);
    dtrain_process_end();
    return code;
}
