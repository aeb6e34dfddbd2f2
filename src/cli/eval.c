/* dtrain eval: a saved model's (or a checkpoint's) loss and every metric of
 * its task on a group of a data file, for people or as one line of JSON:
 * dtrain_load and dtrain_evaluate_file, printed by rank 0. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dtrain.h"

dt_status cli_eval(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    if (!cfg->model[0])
        return dt_fail(err, DT_EUSAGE, "--model FILE.h5 is required");
    if (!cfg->data[0])
        return dt_fail(err, DT_EUSAGE, "--data FILE.h5 is required");
    dtrain_run *run = cli_run_for(cfg, 0, err);
    if (!run)
        return err->code;
    dtrain_result *res = NULL;
    dtrain_status st = dtrain_load(run, cfg->model);
    if (!st)
        st = dtrain_evaluate_file(run, cfg->data, cfg->group, &res);
    if (st)
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(run));
    char *text = NULL;
    if (!st && comm_rank(world) == 0) {
        st = cfg->json ? dtrain_result_json(res, &text) : dtrain_result_text(res, &text);
        if (st)
            dt_fail(err, (dt_status)st, "out of memory for the report");
        else
            printf(cfg->json ? "%s\n" : "%s", text);
        fflush(stdout);
    }
    free(text);
    dtrain_result_free(res);
    dtrain_free(run);
    return (dt_status)st;
}
