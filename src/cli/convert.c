/* dtrain convert: IDX or CSV input to dtrain's HDF5 layout, over the public
 * call dtrain_convert (rank 0 converts); rank 0 prints the summary. */
#include "cli.h"

#include <stdio.h>

dtrain_status cli_convert(dtrain_run *run, const dtrain_options *o)
{
    (void)o; /* the run has its options */
    dtrain_convert_result *res = NULL;
    dtrain_status st = dtrain_convert(run, &res);
    if (!st && cli_rank() == 0)
        dtrain_convert_print(res, stdout, stderr);
    dtrain_convert_result_free(res);
    return st;
}
