/* Fuzz the data loader on arbitrary files: the input is written to a file and
 * loaded as /train with class labels, /test with regression targets and /train
 * without y.  Every outcome must be a loaded data set or a message. */
#include <string.h>

#include "dtrain/dataset.h"
#include "fuzzutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const char *path, const char *group, int y)
{
    dt_dataset ds;
    dt_error err;
    dt_error_clear(&err);
    if (dataset_load(path, group, y, &ds, &err) == DT_OK) {
        if (ds.n < 1 || ds.d < 1 || !ds.X)
            __builtin_trap();
        dataset_free(&ds);
    } else if (err.msg[0] == '\0') {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    fz_path(path, sizeof path, "in.h5");
    fz_write(path, data, size);
    load(path, "/train", DS_LABELS);
    load(path, "/test", DS_TARGETS);
    load(path, "/train", DS_NO_Y);
    return 0;
}
