/* dtrain: the command line (cli_main).  Parses the subcommand and its options
 * (from the one option table), runs it, agrees on the outcome across ranks and
 * turns a failure into one message from rank 0 and one exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dtrain/h5io.h"
#include "dtrain/linalg.h"
#include "dtrain/matmul.h"
#include "dtrain/signals.h"
#include "dtrain/watchdog.h"
#include "dtrain/yamlconf.h"

#ifndef DTRAIN_VERSION
#define DTRAIN_VERSION "unknown"
#endif

typedef struct {
    const char *name;
    unsigned cmd;
    dt_status (*run)(const dt_config *, dt_comm *, dt_error *);
    const char *summary;
    const char *positional; /* option that a bare first argument sets, or NULL */
} command;

static const command commands[] = {
    {"train", CMD_TRAIN, cli_train, "train an MLP data-parallel over MPI on an HDF5 data set",
     NULL},
    {"eval", CMD_EVAL, cli_eval, "loss and metrics of a saved model or checkpoint on a data group",
     NULL},
    {"cv", CMD_CV, cli_cv, "k-fold cross-validation and grid search over train options", NULL},
    {"predict", CMD_PREDICT, cli_predict, "per-sample outputs of a model, to .h5 or .csv", NULL},
    {"inspect", CMD_INSPECT, cli_inspect, "describe a checkpoint, model or data file", "file"},
    {"bench", CMD_BENCH, cli_bench, "time the GEMMs and the allreduce of a training step",
     NULL},
    {"convert", CMD_CONVERT, cli_convert, "convert IDX or CSV files to dtrain's HDF5 layout",
     NULL},
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
        config_print_help(stdout, commands[i].cmd);
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
    unsigned cmds[N_COMMANDS];
    for (size_t i = 0; i < N_COMMANDS; i++) {
        names[i] = commands[i].name;
        cmds[i] = commands[i].cmd;
    }
    (argv[2][0] == 'b' ? cli_completion_bash : cli_completion_zsh)(stdout, names, cmds,
                                                                   N_COMMANDS);
    return 0;
}

/* The index of the bare argument in args that is the command's positional
 * one ("inspect [--config] FILE"): the first that follows no option taking a
 * value; -1 if none. */
static int positional_at(unsigned cmd, int n, char **args)
{
    for (int i = 0; i < n; i++) {
        if (strncmp(args[i], "--", 2) != 0)
            return i;
        const dt_option *o = strchr(args[i], '=') ? NULL : config_find(args[i] + 2, cmd);
        if (o && o->type != OPT_FLAG)
            return -1; /* its value comes next: leave the rest to the parser */
    }
    return -1;
}

/* --config FILE: the file's options, then the command line's on top (a
 * repeatable option gets both).  cfg holds the command line on entry. */
static dt_status with_config_file(dt_config *cfg, unsigned cmd, int argc, char **argv,
                                  dt_error *err)
{
    static dt_config merged; /* large: keep it off the stack */
    config_defaults(&merged);
    int help;
    dt_status st = yamlconf_read(cfg->config_file, cmd, &merged, err);
    if (!st)
        st = config_parse(&merged, cmd, argc, argv, &help, err);
    if (!st)
        *cfg = merged;
    return st;
}

void cli_print_line(void *user, dt_log_level level, const char *line)
{
    if (*(const int *)user != 0)
        return;
    if (level == DT_LOG_WARN) {
        fprintf(stderr, "dtrain: warning: %s\n", line);
        return;
    }
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Exit status: 0 success, 2 usage or input error, 1 anything else. */
static int exit_code(dt_status st) { return st == DT_OK ? 0 : st == DT_EUSAGE ? 2 : 1; }

/* The options of command c (argv[2..]): the positional argument, if the
 * command has one, becomes its option ("dtrain inspect FILE" is "dtrain
 * inspect --file FILE"): one argv, parsed once, so that "inspect A --file B"
 * is a repeated option like any other; then --config's file under them. */
static dt_status parse_command(const command *c, int argc, char **argv, dt_config *cfg,
                               int *want_help, dt_error *err)
{
    int n = argc - 2;
    char **args = argv + 2;
    char opt[64], **with_positional = NULL;
    int at = c->positional ? positional_at(c->cmd, n, args) : -1;
    if (at >= 0) {
        snprintf(opt, sizeof opt, "--%s", c->positional);
        with_positional = malloc((size_t)argc * sizeof *with_positional);
        if (!with_positional)
            return dt_fail(err, DT_ENOMEM, "out of memory parsing the command line");
        for (int i = 0, j = 0; i < argc - 2; i++) {
            if (i == at)
                with_positional[j++] = opt;
            with_positional[j++] = argv[2 + i];
        }
        n = argc - 1;
        args = with_positional;
    }
    config_defaults(cfg);
    dt_status st = config_parse(cfg, c->cmd, n, args, want_help, err);
    if (!st && !*want_help && cfg->config_file[0])
        st = with_config_file(cfg, c->cmd, n, args, err);
    free(with_positional);
    return st;
}

static void print_help(const command *c, int rank)
{
    if (rank != 0)
        return;
    printf("Usage: dtrain %s [OPTIONS]\n  or:  mpirun -np P dtrain %s [OPTIONS]\n%s\n\n"
           "Options:\n", c->name, c->name, c->summary);
    config_print_help(stdout, c->cmd);
}

/* The command called name; else NULL, and rank 0 says so (with the command
 * it most likely meant) and lists the commands. */
static const command *find_command(const char *name, int rank)
{
    dt_nearest near = {0};
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (!strcmp(name, commands[i].name))
            return &commands[i];
        dt_nearest_add(&near, name, commands[i].name);
    }
    dt_nearest_add(&near, name, "plot"); /* run before MPI, not in the table */
    if (rank != 0)
        return NULL;
    if (dt_nearest_get(&near))
        fprintf(stderr, "dtrain: error: unknown command '%s' (did you mean '%s'?)\n", name,
                dt_nearest_get(&near));
    else
        fprintf(stderr, "dtrain: error: unknown command '%s'\n", name);
    usage(stderr);
    return NULL;
}

/* --data names no file: one message naming the option, and for the one data
 * set the repository does not hold (too large), the script that builds it. */
static dt_status check_data(const dt_config *cfg, const command *c, dt_error *err)
{
    const dt_option *o = config_find("data", c->cmd);
    if (!o || !cfg->train.data[0] || access(cfg->train.data, F_OK) == 0 || errno != ENOENT)
        return DT_OK; /* other faults: the file's reader names them */
    const char *base = strrchr(cfg->train.data, '/');
    base = base ? base + 1 : cfg->train.data;
    if (!strcmp(base, "fashion-mnist.h5"))
        return dt_fail(err, DT_EUSAGE,
                       "--data %s: no such file; datasets/fashion-mnist.sh builds "
                       "datasets/fashion-mnist.h5 (from the Debian package "
                       "dataset-fashion-mnist)", cfg->train.data);
    return dt_fail(err, DT_EUSAGE, "--data %s: no such file", cfg->train.data);
}

/* Parse and run command c on every rank, agree on the outcome, and return
 * the exit status (rank 0 prints the one message). */
static int run_command(const command *c, int argc, char **argv, dt_comm *world)
{
    static dt_config cfg; /* large: keep it off the stack */
    const int rank = comm_rank(world);
    dt_error err;
    dt_error_clear(&err);
    int want_help = 0;
    dt_status st = parse_command(c, argc, argv, &cfg, &want_help, &err);
    if (!st && want_help) {
        print_help(c, rank);
        return 0;
    }
    if (!st)
        st = check_data(&cfg, c, &err);
    if (!st)
        st = c->run(&cfg, world, &err);
    st = comm_agree(world, st, &err);
    if (st == DT_STOPPED) { /* 128 + N, as a process ended by signal N: nothing to resume */
        int64_t sig = signals_pending();
        comm_allreduce_max_i64(world, &sig, 1);
        if (rank == 0)
            fprintf(stderr, "dtrain %s: %s\n", c->name, err.msg);
        return 128 + (int)sig;
    }
    if (st == DT_PREEMPTED) {
        if (rank == 0)
            fprintf(stderr, "dtrain %s: %s\n", c->name, err.msg);
        return DT_PREEMPTED;
    }
    if (st && rank == 0)
        fprintf(stderr, "dtrain %s: error: %s\n", c->name, err.msg);
    return exit_code(st);
}

/* train --step-timeout: the watchdog thread from before MPI starts, so that
 * a rank stopped in MPI's start-up (which waits for every rank) cannot hang
 * the others (watchdog.h).  A command line that does not parse arms nothing:
 * its error is reported once MPI runs. */
static void arm_watchdog(int argc, char **argv)
{
    static dt_config cfg; /* large: keep it off the stack */
    const command *c = find_command("train", 1);
    dt_error err;
    dt_error_clear(&err);
    int want_help = 0;
    if (c && !parse_command(c, argc, argv, &cfg, &want_help, &err) && !want_help &&
        cfg.train.step_timeout > 0)
        (void)watchdog_arm(cfg.train.step_timeout, &err); /* a failure is met again, and agreed,
                                                       when training starts it */
}

int cli_main(int argc, char **argv)
{
    /* First thing, before MPI: a preemption signal during start-up is kept
     * for the first safe point, not lost and not fatal (signals.h). */
    if (argc > 1 && strcmp(argv[1], "train") == 0) {
        signals_install();
        arm_watchdog(argc, argv);
    }
    if (argc > 1 && strcmp(argv[1], "completion") == 0)
        return completion(argc, argv);
    /* the plotter is a script of its own, on one process (plot.c) */
    if (argc > 1 && strcmp(argv[1], "plot") == 0)
        return cli_plot(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "help") && !strcmp(argv[2], "plot")) {
        static char help_opt[] = "--help";
        char *help[] = {argv[0], argv[2], help_opt, NULL};
        return cli_plot(3, help);
    }
    if (comm_init(&argc, &argv) != 0) {
        fprintf(stderr, "dtrain: error: MPI could not be initialised\n");
        return 1;
    }
    dt_comm *world = comm_world();
    static int rank; /* the log sink's user pointer */
    rank = comm_rank(world);
    signals_ignore_file_size();
    dt_log_swap((dt_log_sink){cli_print_line, &rank, DT_LOG_INFO});
    int code = 0;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        if (rank == 0)
            usage(argc < 2 ? stderr : stdout);
        code = argc < 2 ? 2 : 0;
        goto done;
    }
    if (!strcmp(argv[1], "--help-all")) {
        if (rank == 0)
            help_all();
        goto done;
    }
    if (!strcmp(argv[1], "--version")) {
        if (rank == 0)
            printf("dtrain %s\nMPI: %s\nHDF5: %s\nGEMM: %s\nLAPACK: %s\n", DTRAIN_VERSION,
                   comm_library_version(), h5io_library_version(), matmul_library_version(),
                   linalg_library_version());
        goto done;
    }
    /* "dtrain help COMMAND" is "dtrain COMMAND --help" */
    const int help = !strcmp(argv[1], "help");
    const command *c = find_command(argv[1 + help], rank);
    if (!c)
        code = 2;
    else if (help)
        print_help(c, rank);
    else
        code = run_command(c, argc, argv, world);
done:
    watchdog_stop(); /* armed and never started: local */
    fflush(stdout);
    comm_finalize();
    return code;
}
