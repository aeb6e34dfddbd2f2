/* dtrain command line: one file per subcommand, dispatched from main.c, each
 * a client of the public API (dtrain.h) like any other program.
 *
 * main.c parses the command's options (dtrain_options_parse), creates the
 * run on MPI_COMM_WORLD, applies the options to it (dtrain_set_options) and
 * calls the command, which makes public calls and returns their status (or
 * cli_fail's, for a failure of the command line itself).  main.c agrees on
 * the status across ranks (dtrain_agree), rank 0 prints the one message
 * ("dtrain NAME: error: MSG"), and the status becomes the exit code. */
#ifndef DTRAIN_CLI_H
#define DTRAIN_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "dtrain.h"

/* The whole `dtrain` command: MPI start to finish, returns the exit status.
 * src/cli/dtrain.c's main() calls it, and so does the test-only entry point
 * tests/dtrain_test.c after it sets the test hooks. */
int cli_main(int argc, char **argv);

/* The command line's log sink (a dtrain_log_fn): rank 0 prints,
 * informational lines on stdout (flushed, so they interleave with mpirun's
 * output in order) and warnings on stderr as "dtrain: warning: ...".  user
 * points at this process's rank (an int). */
void cli_print_line(void *user, dtrain_log_level level, const char *line);

/* This process's rank in MPI_COMM_WORLD (0 before MPI starts). */
int cli_rank(void);

/* A failure of the command line itself (not of a library call): keeps the
 * message (printf-style, one line, no "error:" prefix) for main.c to agree
 * on and print, and returns DTRAIN_EUSAGE (exit status 2).  cli_fail_as
 * returns st instead. */
dtrain_status cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
dtrain_status cli_fail_as(dtrain_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The message of the last cli_fail on this process ("" if none); cleared
 * by cli_fail_clear.  main.c's. */
const char *cli_fail_message(void);
void cli_fail_clear(void);

/* The subcommands: run has been created on MPI_COMM_WORLD and given o's
 * options; each returns the status of the public call that failed (the
 * run's message says why) or cli_fail's. */
dtrain_status cli_train(dtrain_run *run, const dtrain_options *o);
/* Rank 0 converts; the others wait for its outcome. */
dtrain_status cli_convert(dtrain_run *run, const dtrain_options *o);
dtrain_status cli_eval(dtrain_run *run, const dtrain_options *o);
dtrain_status cli_predict(dtrain_run *run, const dtrain_options *o);
/* k-fold cross-validation and grid search over train options. */
dtrain_status cli_cv(dtrain_run *run, const dtrain_options *o);
/* GEMM and allreduce ceilings and a scaling projection (collective). */
dtrain_status cli_bench(dtrain_run *run, const dtrain_options *o);
/* Rank 0 only. */
dtrain_status cli_inspect(dtrain_run *run, const dtrain_options *o);

/* dtrain plot ARGS: runs the plotter (scripts/plot.py, installed as
 * dtrain-plot) on ARGS (argv[2..]), before and without MPI; returns only if
 * it cannot (the exit status, after a message naming what to install). */
int cli_plot(int argc, char **argv);
/* The plotter's options, for the completions; ends with a NULL name.  An
 * option with a file_metavar takes a file name, the others nothing. */
typedef struct {
    const char *name, *file_metavar, *help;
} cli_plot_option;
extern const cli_plot_option cli_plot_options[];

/* Print a bash completion script for the n commands names[i], from their
 * options (dtrain_option_at). */
void cli_completion_bash(FILE *out, const char *const *names, size_t n);
/* The same as a zsh completion function (the file _dtrain). */
void cli_completion_zsh(FILE *out, const char *const *names, size_t n);

#endif
