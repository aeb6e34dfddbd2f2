/* dtrain bench: GEMM and allreduce ceilings and a scaling projection, over
 * the public call dtrain_bench, whose log lines rank 0 prints. */
#include "cli.h"

#include "dtrain.h"
#include "dtrain/api.h"

static void print_log_line(void *user, dtrain_log_level level, const char *line)
{
    cli_print_line(user, (dt_log_level)level, line);
}

dt_status cli_bench(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    static int rank;
    rank = comm_rank(world);
    dtrain_run *run;
    dt_names names = dt_names_swap(DT_NAMES_FLAGS);
    dtrain_status st = dtrain_create(&run, MPI_COMM_WORLD);
    if (st) {
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(NULL));
    } else {
        run->cfg = *cfg; /* interim: the options object of the command line sets them */
        dtrain_on_log(run, print_log_line, &rank, DTRAIN_LOG_INFO);
        dtrain_bench_result *res = NULL;
        if ((st = dtrain_bench(run, &res)))
            dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(run));
        dtrain_bench_result_free(res);
        dtrain_free(run);
    }
    dt_names_swap(names);
    return (dt_status)st;
}
