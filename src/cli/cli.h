/* dtrain command line: one file per subcommand, dispatched from main.c.
 * Each subcommand receives the parsed configuration and the world communicator,
 * returns a status and fills err; main.c agrees on the status across ranks and
 * rank 0 prints the one message. */
#ifndef DTRAIN_CLI_H
#define DTRAIN_CLI_H

#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/status.h"

/* The whole `dtrain` command: MPI start to finish, returns the exit status.
 * src/cli/dtrain.c's main() calls it, and so does the test-only entry point
 * tests/dtrain_test.c after it sets the test hooks. */
int cli_main(int argc, char **argv);

/* The command line's log sink: rank 0 prints, informational lines on
 * stdout (flushed, so they interleave with mpirun's output in order) and
 * warnings on stderr as "dtrain: warning: ...".  user points at this
 * process's rank. */
void cli_print_line(void *user, dt_log_level level, const char *line);

/* Through the public API (dtrain.h), as any program would train. */
dt_status cli_train(const dt_config *cfg, dt_comm *world, dt_error *err);
/* Runs on rank 0 only (the others return DT_OK at once). */
dt_status cli_convert(const dt_config *cfg, dt_comm *world, dt_error *err);
dt_status cli_eval(const dt_config *cfg, dt_comm *world, dt_error *err);
dt_status cli_predict(const dt_config *cfg, dt_comm *world, dt_error *err);
/* k-fold cross-validation and grid search over train options. */
dt_status cli_cv(const dt_config *cfg, dt_comm *world, dt_error *err);
/* GEMM and allreduce ceilings and a scaling projection (collective). */
dt_status cli_bench(const dt_config *cfg, dt_comm *world, dt_error *err);
/* Rank 0 only. */
dt_status cli_inspect(const dt_config *cfg, dt_comm *world, dt_error *err);

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

/* Print a bash completion script for the n commands names[i], whose options
 * are those of cmds[i] (CMD_*), from the option table. */
void cli_completion_bash(FILE *out, const char *const *names, const unsigned *cmds, size_t n);
/* The same as a zsh completion function (the file _dtrain). */
void cli_completion_zsh(FILE *out, const char *const *names, const unsigned *cmds, size_t n);

/* eval, predict, inspect: a run on MPI_COMM_WORLD (self: MPI_COMM_SELF) with
 * the command's options (collective); NULL, with err filled, if it cannot be made. */
#include "dtrain.h"
dtrain_run *cli_run_for(const dt_config *cfg, int self, dt_error *err);

#endif
