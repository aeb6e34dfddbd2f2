/* dtrain predict: per-sample outputs of a saved model, in input order, to
 * HDF5 or CSV (chosen by the extension of --out): dtrain_load and
 * dtrain_predict_file, and a line from rank 0 saying what was written. */
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "dtrain.h"

dt_status cli_predict(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    if (!cfg->out[0])
        return dt_fail(err, DT_EUSAGE, "--out FILE (.h5 or .csv) is required");
    if (!cfg->model[0])
        return dt_fail(err, DT_EUSAGE, "--model FILE.h5 is required");
    if (!cfg->data[0])
        return dt_fail(err, DT_EUSAGE, "--data FILE.h5 is required");
    dtrain_run *run = cli_run_for(cfg, 0, err);
    if (!run)
        return err->code;
    int64_t n = 0;
    double accuracy = NAN;
    dtrain_status st = dtrain_load(run, cfg->model);
    if (!st)
        st = dtrain_predict_file(run, cfg->data, cfg->group, cfg->out, &n, &accuracy);
    if (st) {
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(run));
    } else if (comm_rank(world) == 0) {
        if (!isnan(accuracy))
            printf("wrote %lld predictions to %s (accuracy against %s/y: %.6f)\n",
                   (long long)n, cfg->out, cfg->group, accuracy);
        else
            printf("wrote %lld predictions to %s\n", (long long)n, cfg->out);
        fflush(stdout);
    }
    dtrain_free(run);
    return (dt_status)st;
}
