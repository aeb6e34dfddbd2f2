/* TEMPORARY SHIM: delete this file, the DTRAIN_CLI_LEGACY block of cli.h and
 * the legacy block of CMakeLists.txt when eval, predict and inspect are
 * clients of dtrain.h (each converted command takes its
 * wrapper out of here and its file out of the CMake list).
 *
 * Each wrapper hands the old command the configuration its command line
 * parsed into (the dtrain_options' dt_config) and the run's communicator,
 * with the run's log sink installed; a failure becomes the run's message. */
#define DTRAIN_CLI_LEGACY 1
#include "cli.h"

#include "dtrain/api.h"

typedef dt_status (*legacy_fn)(const dt_config *, dt_comm *, dt_error *);

static dtrain_status call_legacy(legacy_fn fn, dtrain_run *run, const dtrain_options *o)
{
    dt_status st = api_usable(run, "cli shim");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    st = fn(&o->cfg, run->comm, &run->err);
    return api_leave(prev, st);
}

dtrain_status cli_eval(dtrain_run *run, const dtrain_options *o)
{
    return call_legacy(cli_eval_legacy, run, o);
}
dtrain_status cli_predict(dtrain_run *run, const dtrain_options *o)
{
    return call_legacy(cli_predict_legacy, run, o);
}
dtrain_status cli_inspect(dtrain_run *run, const dtrain_options *o)
{
    return call_legacy(cli_inspect_legacy, run, o);
}
