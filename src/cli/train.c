/* dtrain train: a user of the public API (dtrain.h) like any other program.
 * The options the command line was given are handed to the run by name, the
 * run logs through the command line's printer, and the command allows what
 * a program may opt into: the preemption signals (installed at start-up by
 * cli_main) and the --step-timeout watchdog. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dtrain.h"

/* dtrain.h's log levels are dt_log_level's values. */
static void print(void *user, dtrain_log_level level, const char *line)
{
    cli_print_line(user, (dt_log_level)level, line);
}

/* Every train option the command line (or its --config file, already
 * merged into cfg) gave, as text the run reads back to the same value. */
static dtrain_status set_options(dtrain_run *run, const dt_config *cfg)
{
    size_t n;
    const dt_option *o = config_options(&n);
    dtrain_status st = DTRAIN_OK;
    for (size_t i = 0; i < n && !st; i++) {
        if (!(o[i].cmds & CMD_TRAIN) || !cfg->given[i] ||
            o[i].offset == offsetof(dt_config, config_file))
            continue;
        char v[2 * DT_PATH_MAX + 2];
        config_value_str(cfg, &o[i], v, sizeof v);
        st = dtrain_set(run, o[i].name, v);
    }
    return st;
}

dt_status cli_train(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    int rank = comm_rank(world);
    dtrain_run *run;
    dtrain_status st = dtrain_create(&run, MPI_COMM_WORLD);
    if (st)
        return dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(NULL));
    dtrain_on_log(run, print, &rank, DTRAIN_LOG_INFO);
    st = dtrain_allow(run, DTRAIN_ALLOW_SIGNALS | DTRAIN_ALLOW_WATCHDOG);
    if (!st)
        st = set_options(run, cfg);
    if (!st)
        st = dtrain_train(run);
    if (st)
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(run));
    dtrain_free(run);
    return (dt_status)st;
}
