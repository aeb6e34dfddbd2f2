/* dtrain convert: IDX or CSV input to dtrain's HDF5 layout, over the public
 * call dtrain_convert; rank 0 prints the summary. */
#include "cli.h"

#include <stdio.h>

#include "dtrain.h"
#include "dtrain/api.h"

/* The conversion of a run whose options are set; rank 0 prints what it wrote. */
static dtrain_status convert_run(dtrain_run *run, int rank)
{
    dtrain_convert_result *res = NULL;
    dtrain_status st = dtrain_convert(run, &res);
    if (!st && rank == 0)
        dtrain_convert_print(res, stdout, stderr);
    dtrain_convert_result_free(res);
    return st;
}

dt_status cli_convert(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    dtrain_run *run;
    dt_names names = dt_names_swap(DT_NAMES_FLAGS);
    dtrain_status st = dtrain_create(&run, MPI_COMM_WORLD);
    if (st) {
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(NULL));
    } else {
        run->cfg = *cfg; /* interim: the options object of the command line sets them */
        if ((st = convert_run(run, comm_rank(world))))
            dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(run));
        dtrain_free(run);
    }
    dt_names_swap(names);
    return (dt_status)st;
}
