/* eval, predict and inspect: a run on MPI_COMM_WORLD holding the command's
 * options, until the command line hands a parsed command to the library by
 * the public API. */
#include "cli.h"
#include "dtrain.h"
#include "dtrain/api.h"

dtrain_run *cli_run_for(const dt_config *cfg, int self, dt_error *err)
{
    dtrain_run *run;
    dtrain_status st = dtrain_create(&run, self ? MPI_COMM_SELF : MPI_COMM_WORLD);
    if (st) {
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(NULL));
        return NULL;
    }
    run->cfg = *cfg;
    dt_names_swap(DT_NAMES_FLAGS); /* the library's messages name --flags */
    return run;
}
