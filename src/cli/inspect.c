/* dtrain inspect FILE: a readable summary of a checkpoint, a saved model or a
 * data file, or (--config) a model's options as YAML: dtrain_inspect, on
 * rank 0 only. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dtrain.h"

dtrain_status cli_inspect(dtrain_run *run, const dtrain_options *o)
{
    if (cli_rank() != 0)
        return DTRAIN_OK;
    char file[4096], config[8];
    if (dtrain_options_get(o, "file", file, sizeof file, NULL) ||
        dtrain_options_get(o, "config", config, sizeof config, NULL))
        return cli_fail("%s", dtrain_errmsg(NULL));
    if (!file[0])
        return cli_fail("usage: dtrain inspect FILE.h5");
    char *text = NULL;
    dtrain_status st = dtrain_inspect(run, file,
                                      config[0] == '1' ? DTRAIN_INSPECT_CONFIG
                                                       : DTRAIN_INSPECT_SUMMARY,
                                      &text);
    if (text) /* what was made before a failure too, as it was printed */
        fputs(text, stdout);
    fflush(stdout);
    free(text);
    return st;
}
