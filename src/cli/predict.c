/* dtrain predict: per-sample outputs of a saved model, in input order, to
 * HDF5 or CSV (chosen by the extension of --out): dtrain_load and
 * dtrain_predict_file, and a line from rank 0 saying what was written. */
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "dtrain.h"

dtrain_status cli_predict(dtrain_run *run, const dtrain_options *o)
{
    char model[4096], data[4096], group[4096], out[4096];
    if (dtrain_options_get(o, "model", model, sizeof model, NULL) ||
        dtrain_options_get(o, "data", data, sizeof data, NULL) ||
        dtrain_options_get(o, "group", group, sizeof group, NULL) ||
        dtrain_options_get(o, "out", out, sizeof out, NULL))
        return cli_fail("%s", dtrain_errmsg(NULL));
    if (!out[0])
        return cli_fail("--out FILE (.h5 or .csv) is required");
    if (!model[0])
        return cli_fail("--model FILE.h5 is required");
    if (!data[0])
        return cli_fail("--data FILE.h5 is required");
    int64_t n = 0;
    double accuracy = NAN;
    dtrain_status st = dtrain_load(run, model);
    if (!st)
        st = dtrain_predict_file(run, data, group, out, &n, &accuracy);
    if (!st && cli_rank() == 0) {
        if (!isnan(accuracy))
            printf("wrote %lld predictions to %s (accuracy against %s/y: %.6f)\n",
                   (long long)n, out, group, accuracy);
        else
            printf("wrote %lld predictions to %s\n", (long long)n, out);
        fflush(stdout);
    }
    return st;
}
