/* Fuzz the IDX converter.  Input: one flags byte (bit 0: use the same pair as
 * the test set too), two bytes giving the length L of the image file (big
 * endian), L bytes of image file, the rest the label file.  A converted file
 * must load back with the shape the converter reported. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dtrain/convert.h"
#include "dtrain/dataset.h"
#include "fuzzutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const int with_test = data[0] & 1;
    size_t li = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if (li > size)
        li = size;
    char img[300], lab[300], out[300];
    fz_path(img, sizeof img, "images-idx3-ubyte");
    fz_path(lab, sizeof lab, "labels-idx1-ubyte");
    fz_path(out, sizeof out, "out.h5");
    fz_write(img, data, li);
    fz_write(lab, data + li, size - li);
    convert_summary sum;
    dt_error err;
    if (convert_idx(out, img, lab, with_test ? img : NULL, with_test ? lab : NULL, &sum,
                    &err) == DT_OK) {
        dt_dataset ds;
        if (dataset_load(out, with_test ? "/test" : "/train", DS_LABELS, &ds, &err) != DT_OK)
            __builtin_trap(); /* uint8 pixels and labels always load */
        if (ds.n != sum.g[0].n || ds.d != sum.g[0].d)
            __builtin_trap();
        dataset_free(&ds);
        unlink(out);
    } else if (err.msg[0] == '\0') {
        __builtin_trap();
    }
    return 0;
}
