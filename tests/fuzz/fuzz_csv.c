/* Fuzz the CSV converter: byte 0 chooses the options (with its bit 7 set,
 * byte 1 chooses more: delimiter, missing values, no labels), the rest is the
 * file.  A file that converts must load back (when dataset_load accepts its
 * values) with the shape the converter reported. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dtrain/convert.h"
#include "dtrain/dataset.h"
#include "fuzzutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const dt_dtype xtypes[] = {DT_F32, DT_F64, DT_U8, DT_I32};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const unsigned o = data[0];
    convert_csv_opts opts = {
        .header = o & 1,
        .label_type = (o >> 1) & 1 ? CONVERT_LABEL_FLOAT : CONVERT_LABEL_AUTO,
        .x_type = xtypes[(o >> 2) & 3],
        .label_col = (int64_t)((o >> 5) & 3) - 1, /* -1 (last), 0, 1, 2 */
    };
    const double fraction = (o & 0x10) ? 0.3 : 0;
    size_t skip = 1;
    if ((o & 0x80) && size >= 2) {
        static const char delims[] = {0, ',', ';', ' '};
        const unsigned o2 = data[1];
        opts.delimiter = delims[o2 & 3];
        opts.missing = (convert_missing)(((o2 >> 2) & 3) % 3);
        opts.no_labels = (o2 >> 4) & 1;
        skip = 2;
    }
    char in[300], out[300];
    fz_path(in, sizeof in, "in.csv");
    fz_path(out, sizeof out, "out.h5");
    fz_write(in, data + skip, size - skip);
    convert_summary sum;
    dt_error err;
    if (convert_csv(out, in, &opts, fraction, 7, &sum, &err) == DT_OK) {
        dt_dataset ds;
        const int y = opts.no_labels ? DS_NO_Y | DS_KEEP_NAN
                                     : sum.label_float ? DS_TARGETS : DS_LABELS;
        if (dataset_load(out, opts.no_labels ? "/test" : "/train", y, &ds, &err) == DT_OK) {
            if (ds.n != sum.g[0].n || ds.d != sum.g[0].d)
                __builtin_trap();
            dataset_free(&ds);
        }
        unlink(out);
    } else if (err.msg[0] == '\0') {
        __builtin_trap();
    }
    return 0;
}
