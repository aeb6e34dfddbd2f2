/* dtrain eval: a saved model's (or a checkpoint's) loss and every metric of
 * its task on a group of a data file, for people or as one line of JSON:
 * dtrain_load and dtrain_evaluate_file, printed by rank 0. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dtrain.h"

dtrain_status cli_eval(dtrain_run *run, const dtrain_options *o)
{
    char model[4096], data[4096], group[4096], json[8];
    if (dtrain_options_get(o, "model", model, sizeof model, NULL) ||
        dtrain_options_get(o, "data", data, sizeof data, NULL) ||
        dtrain_options_get(o, "group", group, sizeof group, NULL) ||
        dtrain_options_get(o, "json", json, sizeof json, NULL))
        return cli_fail("%s", dtrain_errmsg(NULL));
    if (!model[0])
        return cli_fail("--model FILE.h5 is required");
    if (!data[0])
        return cli_fail("--data FILE.h5 is required");
    dtrain_result *res = NULL;
    dtrain_status st = dtrain_load(run, model);
    if (!st)
        st = dtrain_evaluate_file(run, data, group, &res);
    if (!st && cli_rank() == 0) {
        char *text = NULL;
        const int as_json = json[0] == '1';
        if ((as_json ? dtrain_result_json(res, &text) : dtrain_result_text(res, &text)))
            st = cli_fail_as(DTRAIN_ENOMEM, "out of memory for the report");
        else
            printf(as_json ? "%s\n" : "%s", text);
        fflush(stdout);
        free(text);
    }
    dtrain_result_free(res);
    return st;
}
