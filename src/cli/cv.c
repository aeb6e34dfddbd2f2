/* dtrain cv: k-fold cross-validation of every configuration of a grid, over
 * the public calls dtrain_cv, dtrain_cv_print, dtrain_cv_save and
 * dtrain_cv_refit (the scheduling is the library's: src/cv_search.c).
 * Rank 0 prints the table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dtrain.h"
#include "dtrain/api.h"

/* The search, its table, --out and --refit on a run whose options are set;
 * the failure's message into msg (the search's outlives the --out write). */
static dtrain_status cv_run(dtrain_run *run, int rank, char *msg, size_t len)
{
    dtrain_cv_result *res = NULL;
    dtrain_status st = dtrain_allow(run, DTRAIN_ALLOW_WATCHDOG); /* --step-timeout, as train */
    if (!st)
        st = dtrain_cv(run, &res);
    snprintf(msg, len, "%s", dtrain_errmsg(run));
    if (res) { /* also when every configuration failed: the table says how */
        if (rank == 0) {
            printf("\n");
            dtrain_cv_print(res, stdout, 0);
            fflush(stdout);
        }
        dtrain_status s2 = dtrain_cv_save(run, res);
        if (!st && (st = s2))
            snprintf(msg, len, "%s", dtrain_errmsg(run));
    }
    if (!st && (st = dtrain_cv_refit(run, res)))
        snprintf(msg, len, "%s", dtrain_errmsg(run));
    dtrain_cv_result_free(res);
    return st;
}

static void print_log_line(void *user, dtrain_log_level level, const char *line)
{
    cli_print_line(user, (dt_log_level)level, line);
}

dt_status cli_cv(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    static int rank;
    rank = comm_rank(world);
    if (!cfg->data[0]) /* the library names the key; the command line its help */
        return dt_fail(err, DT_EUSAGE, "--data FILE.h5 is required (see dtrain cv --help)");
    dtrain_run *run;
    dt_names names = dt_names_swap(DT_NAMES_FLAGS);
    dtrain_status st = dtrain_create(&run, MPI_COMM_WORLD);
    if (st) {
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(NULL));
    } else {
        run->cfg = *cfg; /* interim: the options object of the command line sets them */
        dtrain_on_log(run, print_log_line, &rank, DTRAIN_LOG_INFO);
        char msg[DT_ERRMSG_LEN];
        if ((st = cv_run(run, rank, msg, sizeof msg)))
            dt_fail(err, (dt_status)st, "%s", msg);
        dtrain_free(run);
    }
    dt_names_swap(names);
    return (dt_status)st;
}
