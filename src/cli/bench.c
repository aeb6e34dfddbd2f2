/* dtrain bench: GEMM and allreduce ceilings and a scaling projection, over
 * the public call dtrain_bench, whose log lines rank 0 prints (the run's log
 * callback). */
#include "cli.h"

dtrain_status cli_bench(dtrain_run *run, const dtrain_options *o)
{
    (void)o; /* the run has its options */
    dtrain_bench_result *res = NULL;
    dtrain_status st = dtrain_bench(run, &res);
    dtrain_bench_result_free(res);
    return st;
}
