/* dtrain inspect FILE: a readable summary of a checkpoint, a saved model or a
 * data file, or (--config) a model's options as YAML: dtrain_inspect, on
 * rank 0 only. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dtrain.h"

dt_status cli_inspect(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    if (comm_rank(world) != 0)
        return DT_OK;
    if (!cfg->file[0])
        return dt_fail(err, DT_EUSAGE, "usage: dtrain inspect FILE.h5");
    dtrain_run *run = cli_run_for(cfg, 1, err);
    if (!run)
        return err->code;
    char *text = NULL;
    dtrain_status st = dtrain_inspect(run, cfg->file,
                                      cfg->print_config ? DTRAIN_INSPECT_CONFIG
                                                        : DTRAIN_INSPECT_SUMMARY,
                                      &text);
    if (text) /* what was made before a failure too, as it was printed */
        fputs(text, stdout);
    fflush(stdout);
    free(text);
    if (st)
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(run));
    dtrain_free(run);
    return (dt_status)st;
}
