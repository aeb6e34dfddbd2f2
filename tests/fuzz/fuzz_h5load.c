/* Fuzz the data loader on arbitrary files: the input is written to a file and
 * loaded as /train with class labels, /test with regression targets and /train
 * without y.  Every outcome must be a loaded data set or a message.
 *
 * Inputs declaring a data set of more than 2^16 elements (or
 * $FUZZ_H5_MAX_ELEMENTS: scripts/fuzz.sh raises it to replay the regressions)
 * are skipped: a small
 * HDF5 file may legitimately declare a huge shape (chunks allocated when the
 * dataset was created hold the fill value, compressed to a few bytes) split
 * into millions of tiny chunks, and reading it costs time
 * and HDF5 bookkeeping memory (a few KiB per chunk) in proportion -- slow, not
 * unsafe, and it would drown the search for memory errors in timeouts.  h5io
 * reads in blocks of at most ~4096 chunks of rows, which bounds the memory
 * for row-chunked files (tests/fuzz/regressions/fuzz_h5load). */
#include <stdlib.h>
#include <string.h>

#include "dtrain/dataset.h"
#include "dtrain/h5io.h"
#include "fuzzutil.h"

/* 1 if every dataset the loads below may read is small enough to try. */
static int small_enough(const char *path)
{
    const char *env = getenv("FUZZ_H5_MAX_ELEMENTS");
    const double limit = env ? atof(env) : 65536;
    static const char *const names[] = {"/train/X", "/train/y", "/test/X", "/test/y"};
    h5file *f;
    if (h5io_open_read(path, &f, NULL) != DT_OK)
        return 1; /* let dataset_load report it */
    int ok = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && ok; i++) {
        int nd;
        int64_t dims[8];
        dt_dtype t;
        if (h5io_info(f, names[i], &nd, dims, &t, NULL) != DT_OK)
            continue;
        double n = 1;
        for (int k = 0; k < nd; k++)
            n *= (double)dims[k];
        ok = n <= limit;
    }
    h5io_close(f, NULL);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const char *path, const char *group, int y)
{
    dt_dataset ds;
    dt_error err;
    dt_error_clear(&err);
    if (dataset_load(path, group, y, &ds, &err) == DT_OK) {
        /* rows as float (uint8 X stays uint8 in X8) */
        if (ds.n < 1 || ds.d < 1 || !(ds.X || ds.X8))
            __builtin_trap();
        float *row = malloc((size_t)ds.d * sizeof *row);
        if (row) {
            const float *x = dataset_rows(&ds, ds.n - 1, 1, row);
            volatile float sink = x[ds.d - 1];
            (void)sink;
            free(row);
        }
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
    if (!small_enough(path))
        return 0;
    load(path, "/train", DS_LABELS);
    load(path, "/test", DS_TARGETS);
    load(path, "/train", DS_NO_Y);
    return 0;
}
