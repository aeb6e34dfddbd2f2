/* dtrain: the only interface to HDF5 (src/h5io.c, h5io_layout.c, h5io_read.c).
 *
 * A thin, checked layer over the HDF5 C API: open/create files, read and write
 * whole datasets or row ranges with type conversion, and string/number
 * attributes.  HDF5's own error stack printing is switched off; every failure
 * comes back as a dt_error naming the file and object. */
#ifndef DTRAIN_H5IO_H
#define DTRAIN_H5IO_H

#include <stdint.h>
#include "dtrain/status.h"

/* Element types dtrain reads and writes. */
typedef enum { DT_U8, DT_I32, DT_I64, DT_F32, DT_F64 } dt_dtype;

const char *dt_dtype_name(dt_dtype t);
size_t dt_dtype_size(dt_dtype t);

typedef struct h5file h5file; /* opaque; closed with h5io_close */

/* Open an existing file read-only.  Fails with a message if the file is missing
 * or not HDF5. */
dt_status h5io_open_read(const char *path, h5file **out, dt_error *err);
/* Open an existing file read-only over the ranks of a communicator with
 * MPI-IO (parallel HDF5): mpi_comm points at an MPI_Comm (comm_mpi).
 * Collective: every rank of it calls this, after h5io_open_read succeeded on
 * every one (the file exists and is HDF5; checks that are local are not
 * repeated here, where a rank that gave up would leave the others waiting).
 * A file system or MPI without MPI-IO fails with DT_EUSAGE, naming the file;
 * the caller agrees on the outcome.  Close with h5io_close (collective). */
dt_status h5io_open_read_all(const char *path, const void *mpi_comm, h5file **out,
                             dt_error *err);

/* Create (truncate) a file for writing. */
dt_status h5io_create(const char *path, h5file **out, dt_error *err);
/* Close; for files being written this flushes.  Always frees f. */
dt_status h5io_close(h5file *f, dt_error *err);
const char *h5io_path(const h5file *f);

/* Create a file in memory only, for its bytes (h5io_finish_image): the
 * bytes h5io_create's file would hold after the same writes.  name is what
 * messages call it. */
dt_status h5io_create_image(const char *name, h5file **out, dt_error *err);
/* For a file from h5io_create_image: if st is DT_OK, its bytes into *image
 * (malloc'd, *len bytes, the caller frees them); always closes and frees f.
 * On failure *image is NULL and *len 0.  Returns the outcome. */
dt_status h5io_finish_image(h5file *f, dt_status st, void **image, size_t *len,
                            dt_error *err);

/* Until h5io_image_detach, h5io_open_read(name) opens the HDF5 file image
 * buf (len bytes: a whole file's, as h5io_finish_image gives them) instead of
 * any file of that name, so every reader that takes a path reads the image
 * through its usual checks; bytes that are no HDF5 file are DT_EUSAGE naming
 * name.  This thread only, one image at a time; buf stays the caller's and
 * must stay unchanged until detached (HDF5 reads a copy of it per open). */
void h5io_image_attach(const char *name, const void *buf, size_t len);
void h5io_image_detach(void);

/* For a file created under a temporary name (fs_temp_name): if st is DT_OK,
 * close it and move it durably to final_path (fs_commit); otherwise, or if
 * that fails, close it and remove the temporary.  Returns the outcome. */
dt_status h5io_finish(h5file *f, const char *final_path, dt_status st, dt_error *err);

/* 1 if an object (group or dataset) exists at the absolute path, else 0.
 * Intermediate groups are checked, so "/a/b/c" with no "/a" is simply 0. */
int h5io_exists(h5file *f, const char *obj);

/* Shape and stored element type of a dataset.  *ndims receives the rank;
 * dims must hold 8 entries.  Fails (DT_EUSAGE) for a missing dataset, a
 * chunked layout HDF5 cannot open (a chunk dimension of 0: checked in the
 * object header before HDF5 opens the dataset, which would divide by it), a
 * stored type that is not one of dt_dtype, or a filter (compression) this
 * HDF5 library lacks; the message names the file, the dataset and the fault.  Reads
 * metadata only: check every dataset a command needs with this before
 * reading any of them. */
dt_status h5io_info(h5file *f, const char *dset, int *ndims, int64_t dims[8],
                    dt_dtype *stored, dt_error *err);

/* Every element of a dataset is stored in the file: all of its chunks were
 * written, or (contiguous) its storage is allocated.  HDF5 reads what was
 * never written as the fill value; such a dataset is a damaged or unfinished
 * file: DT_EUSAGE naming the file and dataset.  Storage allocated when the
 * dataset was created (allocation time "early") and then left unwritten, or a
 * contiguous dataset written in part, cannot be told from written data: it is
 * read as it stands.  Metadata only (the chunk index), local; h5io_read_rows
 * and h5io_read_strs make it themselves, h5io_read_rows_all does not (its
 * caller checks first, and agrees). */
dt_status h5io_check_stored(h5file *f, const char *dset, dt_error *err);

/* Read rows [row0, row0 + nrows) of a dataset (the first dimension; all of
 * the others) into buf, converting to memtype.  buf holds nrows whole rows of
 * the stored shape: the caller checks the shape first (h5io_info).  Bytes
 * that do not read back (a chunk that does not decompress, a truncated file)
 * are damaged input: DT_EUSAGE naming the file, dataset and row. */
dt_status h5io_read_rows(h5file *f, const char *dset, dt_dtype memtype,
                         int64_t row0, int64_t nrows, void *buf, dt_error *err);

/* h5io_read_rows on a file from h5io_open_read_all: every rank of its
 * communicator calls it once, each with its own rows (possibly none), and
 * HDF5 reads them in one collective MPI-IO operation (H5FD_MPIO_COLLECTIVE).
 * One read, not h5io_read_rows' blocks, so that every rank makes the same
 * number of collective calls.  The caller checks the dataset first
 * (h5io_info, h5io_check_stored) and agrees on that, then on the outcome. */
dt_status h5io_read_rows_all(h5file *f, const char *dset, dt_dtype memtype, int64_t row0,
                             int64_t nrows, void *buf, dt_error *err);

/* Write a whole dataset of the given rank and dims, element type `type` in
 * memory and in the file.  Missing parent groups are created.  compress != 0
 * stores it chunked with deflate (h5py/h5dump read it transparently). */
dt_status h5io_write(h5file *f, const char *dset, dt_dtype type, int ndims,
                     const int64_t *dims, const void *buf, int compress,
                     dt_error *err);

/* A 1-D dataset of n variable-length UTF-8 strings (h5py reads it as bytes,
 * .asstr() as str; h5dump prints it).  Missing parent groups are created. */
dt_status h5io_write_strs(h5file *f, const char *dset, int64_t n, const char *const *strs,
                          dt_error *err);
/* Read a 1-D dataset of strings (variable or fixed length) into one
 * allocation: *strs is an array of *n pointers followed by the texts, freed
 * with a single free(). */
dt_status h5io_read_strs(h5file *f, const char *dset, int64_t *n, char ***strs, dt_error *err);

/* Create a group (and its parents) if it does not exist. */
dt_status h5io_make_group(h5file *f, const char *group, dt_error *err);

/* Attributes on a group or dataset.  Strings are stored as fixed-length
 * null-terminated ASCII (readable by h5py as bytes/str). */
dt_status h5io_set_attr_str(h5file *f, const char *obj, const char *name,
                            const char *value, dt_error *err);
dt_status h5io_set_attr_f64(h5file *f, const char *obj, const char *name,
                            double value, dt_error *err);
dt_status h5io_set_attr_i64(h5file *f, const char *obj, const char *name,
                            int64_t value, dt_error *err);
/* Read a string attribute into buf (len bytes, always terminated).  Accepts
 * fixed- and variable-length strings (h5py writes variable-length). */
dt_status h5io_get_attr_str(h5file *f, const char *obj, const char *name,
                            char *buf, size_t len, dt_error *err);
int h5io_has_attr(h5file *f, const char *obj, const char *name);
/* Numeric scalar attributes (any stored integer or float type is converted). */
dt_status h5io_get_attr_i64(h5file *f, const char *obj, const char *name, int64_t *value,
                            dt_error *err);
dt_status h5io_get_attr_f64(h5file *f, const char *obj, const char *name, double *value,
                            dt_error *err);

/* Names of the members of a group, in name order, one call per member:
 * visit(name, ctx) returns nonzero to stop.  Fails if group is missing. */
dt_status h5io_list(h5file *f, const char *group, int (*visit)(const char *name, void *ctx),
                    void *ctx, dt_error *err);

/* Refuse a dataset declared larger than the bytes the file stores for it
 * (DT_EUSAGE naming the file and dataset, "refused before reading"):
 * uncompressed data occupies its full size, and compressed data is never more
 * than about 1100 times its stored bytes.  Metadata only: a small damaged file
 * that declares gigabytes is caught before anything is allocated for it. */
dt_status h5io_check_size(h5file *f, const char *dset, dt_error *err);
/* h5io_check_size and h5io_check_stored on every dataset of the file. */
dt_status h5io_check_all_stored(h5file *f, dt_error *err);
/* FNV-1a 64 of the whole file: the path and kind of every group and dataset
 * (in name order), every attribute's name and value, every dataset's shape
 * and values (numbers as native values, strings as their text) -- except the
 * root's attributes named in skip (NULL-terminated; may be NULL).  Every
 * dataset passes h5io_check_size and h5io_check_stored before any is read.
 * Fails (DT_EUSAGE) on what dtrain never writes: links, types other than
 * numbers and strings. */
dt_status h5io_digest(h5file *f, const char *const *skip, uint64_t *hash, dt_error *err);

/* HDF5 library version, e.g. "1.10.8". */
const char *h5io_library_version(void);

#endif
