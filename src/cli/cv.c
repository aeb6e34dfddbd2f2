/* dtrain cv: k-fold cross-validation of every configuration of a grid, over
 * the public calls dtrain_cv, dtrain_cv_print, dtrain_cv_save and
 * dtrain_cv_refit (the trials' scheduling is the library's).  Rank 0 prints
 * the table. */
#include "cli.h"

#include <stdio.h>

dtrain_status cli_cv(dtrain_run *run, const dtrain_options *o)
{
    static char data[4096];
    if (dtrain_options_get(o, "data", data, sizeof data, NULL) == DTRAIN_OK && !data[0])
        /* the library names the key; the command line adds where its help is */
        return cli_fail("--data FILE.h5 is required (see dtrain cv --help)");
    dtrain_cv_result *res = NULL;
    dtrain_status st = dtrain_allow(run, DTRAIN_ALLOW_WATCHDOG); /* --step-timeout, as train */
    if (!st)
        st = dtrain_cv(run, &res);
    /* the search's message, which the --out write's call would clear */
    static char msg[1024];
    snprintf(msg, sizeof msg, "%s", dtrain_errmsg(run));
    if (res) { /* also when every configuration failed: the table says how */
        if (cli_rank() == 0) {
            printf("\n");
            dtrain_cv_print(res, stdout, 0);
            fflush(stdout);
        }
        dtrain_status saved = dtrain_cv_save(run, res);
        if (!st && saved)
            st = saved;
        else if (st)
            st = cli_fail_as(st, "%s", msg);
    }
    if (!st)
        st = dtrain_cv_refit(run, res);
    dtrain_cv_result_free(res);
    return st;
}
