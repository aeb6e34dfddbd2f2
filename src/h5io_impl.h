/* dtrain: what the files of the HDF5 layer share: h5io.c (files, writing,
 * attributes, strings), h5io_layout.c (a dataset's layout, checked before
 * HDF5 opens it) and h5io_read.c (a dataset's shape, storage and rows, a
 * file's digest).  They are the only files that include <hdf5.h> (with this
 * header); no other module includes it. */
#ifndef DTRAIN_H5IO_IMPL_H
#define DTRAIN_H5IO_IMPL_H

#include <hdf5.h>

#include "dtrain/h5io.h"

struct h5file {
    hid_t id;
    int in_memory; /* created: built in memory; 1: written out to path by h5io_close,
                      2: an image only (h5io_create_image) */
    const void *image; /* opened from a file image (h5io_image_attach): its bytes */
    size_t image_len;
    int all;       /* opened over a communicator (MPI-IO): reads of X are collective */
    char path[4096];
};

static inline hid_t h5io_native_type(dt_dtype t)
{
    switch (t) {
    case DT_U8: return H5T_NATIVE_UINT8;
    case DT_I32: return H5T_NATIVE_INT32;
    case DT_I64: return H5T_NATIVE_INT64;
    case DT_F32: return H5T_NATIVE_FLOAT;
    case DT_F64: return H5T_NATIVE_DOUBLE;
    }
    return H5I_INVALID_HID;
}

/* H5Dopen2 of dset into *d, after its layout is checked (h5io_layout.c):
 * DT_EUSAGE naming the file if there is no such dataset, or HDF5 must not
 * open it.  *d is H5I_INVALID_HID on failure. */
dt_status h5io_open_dataset(h5file *f, const char *dset, hid_t *d, dt_error *err);

/* Every one of the n variable-length strings of dataset dset (open as d) is
 * stored whole where its reference says (h5io_layout.c): HDF5 1.10 trusts
 * the references, and a damaged one makes it read outside its memory.
 * DT_EUSAGE naming the file and dataset otherwise, or when they are not
 * stored contiguously (then they cannot be checked). */
dt_status h5io_check_vlen_strs(h5file *f, hid_t d, const char *dset, uint64_t n,
                               dt_error *err);

#endif
