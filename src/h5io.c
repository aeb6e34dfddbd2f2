/* dtrain: HDF5 access: files, writing, attributes and strings.  The HDF5
 * layer is this file with h5io_layout.c and h5io_read.c, sharing
 * h5io_impl.h; they are the only files that include <hdf5.h> (with
 * checkpoint code, later, if clearer there).  Every HDF5 call is checked;
 * HDF5's automatic error printing is disabled so that users see one dtrain
 * message instead of the library's stack dump. */
#include "h5io_impl.h"
#include "dtrain/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static void quiet_hdf5(void)
{
    static int done;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

const char *dt_dtype_name(dt_dtype t)
{
    switch (t) {
    case DT_U8: return "uint8";
    case DT_I32: return "int32";
    case DT_I64: return "int64";
    case DT_F32: return "float32";
    case DT_F64: return "float64";
    }
    return "?";
}

size_t dt_dtype_size(dt_dtype t)
{
    switch (t) {
    case DT_U8: return 1;
    case DT_I32: return 4;
    case DT_I64: return 8;
    case DT_F32: return 4;
    case DT_F64: return 8;
    }
    return 0;
}

/* Portable little-endian file types so files look the same everywhere. */
static hid_t file_type(dt_dtype t)
{
    switch (t) {
    case DT_U8: return H5T_STD_U8LE;
    case DT_I32: return H5T_STD_I32LE;
    case DT_I64: return H5T_STD_I64LE;
    case DT_F32: return H5T_IEEE_F32LE;
    case DT_F64: return H5T_IEEE_F64LE;
    }
    return H5I_INVALID_HID;
}

const char *h5io_path(const h5file *f) { return f->path; }

/* Hand an open HDF5 file id to a new h5file (closing the id on failure). */
static dt_status wrap(hid_t id, const char *path, h5file **out, dt_error *err)
{
    h5file *f = calloc(1, sizeof *f);
    if (!f) {
        H5Fclose(id);
        return dt_fail(err, DT_ENOMEM, "out of memory");
    }
    f->id = id;
    snprintf(f->path, sizeof f->path, "%s", path);
    *out = f;
    return DT_OK;
}

/* The file image h5io_image_attach names, this thread's: read in place of
 * any file of its name. */
static _Thread_local struct {
    const char *name;
    const void *buf;
    size_t len;
} attached;

void h5io_image_attach(const char *name, const void *buf, size_t len)
{
    attached.name = name;
    attached.buf = buf;
    attached.len = len;
}

void h5io_image_detach(void) { attached.name = NULL; }

/* Open the attached image read-only: HDF5's core driver over a copy of its
 * bytes, no backing store.  The driver refuses an image whose name exists as
 * a file, so HDF5 is given a name no file can have (a path through
 * /dev/null); the messages name the image by its own name. */
static dt_status open_image(const char *path, h5file **out, dt_error *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t id = H5I_INVALID_HID;
    if (fapl >= 0 && attached.len > 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)attached.buf, attached.len) >= 0)
        id = H5Fopen("/dev/null/dtrain-file-image", H5F_ACC_RDONLY, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (id < 0)
        return dt_fail(err, DT_EUSAGE, "%s: not an HDF5 file image (%zu bytes: truncated, "
                       "damaged or not a file's bytes)", path, attached.len);
    dt_status st = wrap(id, path, out, err);
    if (!st) {
        (*out)->image = attached.buf;
        (*out)->image_len = attached.len;
    }
    return st;
}

dt_status h5io_open_read(const char *path, h5file **out, dt_error *err)
{
    quiet_hdf5();
    *out = NULL;
    if (attached.name && strcmp(path, attached.name) == 0)
        return open_image(path, out, err);
    if (access(path, F_OK) != 0) {
        /* ENOENT, or ENOTDIR/EACCES for a directory on the way */
        if (errno == ENOTDIR)
            return dt_fail(err, DT_EUSAGE, "%s: no such file (a part of the path is not a "
                           "directory)", path);
        if (errno == EACCES)
            return dt_fail(err, DT_EUSAGE, "%s: cannot be reached (permission denied on a "
                           "directory)", path);
        return dt_fail(err, DT_EUSAGE, "%s: no such file", path);
    }
    if (access(path, R_OK) != 0)
        return dt_fail(err, DT_EUSAGE, "%s: not readable (permission denied)", path);
    /* before HDF5 opens it: a FIFO would block the open forever */
    dt_status st = fs_check_input(path, err);
    if (st)
        return st;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return dt_fail(err, DT_EUSAGE,
                       "%s: not an HDF5 file (or truncated/corrupt); CSV or IDX data becomes "
                       "one with 'dtrain convert --csv FILE --out FILE.h5' (see dtrain convert "
                       "--help)", path);
    hid_t id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0)
        return dt_fail(err, DT_EUSAGE, "%s: cannot open as HDF5 (truncated or corrupt?)",
                       path);
    return wrap(id, path, out, err);
}

dt_status h5io_open_read_all(const char *path, const void *mpi_comm, h5file **out,
                             dt_error *err)
{
    quiet_hdf5();
    *out = NULL;
    /* MPI-IO's hints (none) and the communicator; the file is opened by all its ranks */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t id = H5I_INVALID_HID;
    if (fapl >= 0 && H5Pset_fapl_mpio(fapl, *(const MPI_Comm *)mpi_comm, MPI_INFO_NULL) >= 0)
        id = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (id < 0)
        return dt_fail(err, DT_EUSAGE,
                       "%s: cannot be opened with MPI-IO (parallel HDF5), which "
                       "%s sharded reads it with: the file system may not "
                       "support MPI-IO, or no MPI-IO component is available; use "
                       "%s node or rank",
                       path, dt_opt("data-placement"), dt_opt("data-placement"));
    dt_status st = wrap(id, path, out, err);
    if (!st)
        (*out)->all = 1;
    return st;
}

/* Files dtrain writes are built in memory (HDF5's core driver, no backing
 * store) and written out by h5io_close with plain write(2) calls.  A full disk
 * or a file-size limit then fails in our code, with errno, while HDF5's state
 * stays clean (HDF5 1.10 crashes at exit after a failed close of a real file). */
dt_status h5io_create(const char *path, h5file **out, dt_error *err)
{
    quiet_hdf5();
    *out = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        /* a missing or unwritable directory is the user's to fix: usage error */
        return dt_fail(err,
                       errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == EROFS
                           ? DT_EUSAGE
                           : DT_EIO,
                       "%s: cannot create file for writing: %s", path, strerror(errno));
    close(fd);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    hid_t id = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (id < 0) {
        unlink(path);
        return dt_fail(err, DT_EIO, "%s: cannot create file for writing", path);
    }
    dt_status st = wrap(id, path, out, err);
    if (!st)
        (*out)->in_memory = 1;
    return st;
}

dt_status h5io_create_image(const char *name, h5file **out, dt_error *err)
{
    quiet_hdf5();
    *out = NULL;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    hid_t id = H5Fcreate("/dev/null/dtrain-file-image", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (id < 0)
        return dt_fail(err, DT_EIO, "%s: cannot create a file in memory", name);
    dt_status st = wrap(id, name, out, err);
    if (!st)
        (*out)->in_memory = 2;
    return st;
}

/* The bytes of f, built in memory, into *buf (malloc'd, *size bytes). */
static dt_status take_image(h5file *f, char **buf, size_t *size, dt_error *err)
{
    *buf = NULL;
    if (H5Fflush(f->id, H5F_SCOPE_GLOBAL) < 0)
        return dt_fail(err, DT_EIO, "%s: cannot finish the file", f->path);
    ssize_t n = H5Fget_file_image(f->id, NULL, 0);
    if (n < 0)
        return dt_fail(err, DT_EIO, "%s: cannot finish the file", f->path);
    if (!(*buf = malloc((size_t)n + 1)))
        return dt_fail(err, DT_ENOMEM, "%s: out of memory for a %zd-byte file", f->path, n);
    if (H5Fget_file_image(f->id, *buf, (size_t)n) != n) {
        free(*buf);
        *buf = NULL;
        return dt_fail(err, DT_EIO, "%s: cannot finish the file", f->path);
    }
    *size = (size_t)n;
    return DT_OK;
}

dt_status h5io_finish_image(h5file *f, dt_status st, void **image, size_t *len, dt_error *err)
{
    char *buf = NULL;
    size_t size = 0;
    if (!st)
        st = take_image(f, &buf, &size, err);
    if (H5Fclose(f->id) < 0 && !st)
        st = dt_fail(err, DT_EIO, "%s: error while closing", f->path);
    free(f);
    if (st) {
        free(buf);
        buf = NULL;
        size = 0;
    }
    *image = buf;
    *len = size;
    return st;
}

static dt_status write_image(h5file *f, dt_error *err)
{
    char *buf;
    size_t size;
    dt_status st = take_image(f, &buf, &size, err);
    if (st)
        return st;
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < size) {
        ssize_t w = write(fd, buf + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int e = errno;
    if (fd < 0 || done < size)
        st = dt_fail(err, DT_EIO, "%s: write failed after %zu of %zu bytes: %s", f->path, done,
                     size, strerror(e));
    if (fd >= 0 && close(fd) != 0 && !st)
        st = dt_fail(err, DT_EIO, "%s: %s", f->path, strerror(errno));
    free(buf);
    return st;
}

dt_status h5io_close(h5file *f, dt_error *err)
{
    if (!f)
        return DT_OK;
    dt_status st = f->in_memory == 1 ? write_image(f, err) : DT_OK;
    if (H5Fclose(f->id) < 0 && !st)
        st = dt_fail(err, DT_EIO, "%s: error while closing", f->path);
    free(f);
    return st;
}

dt_status h5io_finish(h5file *f, const char *final_path, dt_status st, dt_error *err)
{
    char tmp[sizeof f->path];
    memcpy(tmp, f->path, sizeof tmp);
    dt_status cst = h5io_close(f, st ? NULL : err);
    if (!st)
        st = cst;
    if (!st)
        st = fs_commit(tmp, final_path, err);
    if (st)
        unlink(tmp);
    return st;
}

int h5io_exists(h5file *f, const char *obj)
{
    if (strcmp(obj, "/") == 0)
        return 1;
    /* H5Lexists requires every intermediate link to exist, so walk the path. */
    char buf[1024];
    size_t len = strlen(obj);
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, obj, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            htri_t e = H5Lexists(f->id, buf, H5P_DEFAULT);
            if (e <= 0)
                return 0;
            if (H5Oexists_by_name(f->id, buf, H5P_DEFAULT) <= 0)
                return 0;
            buf[i] = c;
        }
    }
    return 1;
}
/* Create parent groups of an absolute object path. */
static dt_status make_parents(h5file *f, const char *obj, dt_error *err)
{
    char buf[1024];
    size_t len = strlen(obj);
    if (len >= sizeof buf)
        return dt_fail(err, DT_EUSAGE, "object path too long: %s", obj);
    memcpy(buf, obj, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        if (H5Lexists(f->id, buf, H5P_DEFAULT) <= 0) {
            hid_t g = H5Gcreate2(f->id, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0)
                return dt_fail(err, DT_EIO, "%s: cannot create group '%s'", f->path, buf);
            H5Gclose(g);
        }
        buf[i] = '/';
    }
    return DT_OK;
}

dt_status h5io_make_group(h5file *f, const char *group, dt_error *err)
{
    if (h5io_exists(f, group))
        return DT_OK;
    dt_status st = make_parents(f, group, err);
    if (st)
        return st;
    hid_t g = H5Gcreate2(f->id, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return dt_fail(err, DT_EIO, "%s: cannot create group '%s'", f->path, group);
    H5Gclose(g);
    return DT_OK;
}

dt_status h5io_write(h5file *f, const char *dset, dt_dtype type, int ndims,
                     const int64_t *dims, const void *buf, int compress,
                     dt_error *err)
{
    dt_status st = make_parents(f, dset, err);
    if (st)
        return st;
    hsize_t hd[8];
    hsize_t total = 1;
    for (int i = 0; i < ndims; i++) {
        hd[i] = (hsize_t)dims[i];
        total *= hd[i];
    }
    hid_t space = H5Screate_simple(ndims, hd, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    /* No modification times: the same data gives the same bytes. */
    H5Pset_obj_track_times(dcpl, 0);
    if (compress && total > 0 && ndims >= 1) {
        /* Chunks of whole rows, about 256 KiB each. */
        hsize_t chunk[8];
        hsize_t row = dt_dtype_size(type);
        for (int i = 1; i < ndims; i++) {
            chunk[i] = hd[i];
            row *= hd[i];
        }
        hsize_t rows = row ? (256 * 1024) / row : 1;
        if (rows < 1) rows = 1;
        if (rows > hd[0]) rows = hd[0];
        chunk[0] = rows;
        H5Pset_chunk(dcpl, ndims, chunk);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 6);
    }
    hid_t d = H5Dcreate2(f->id, dset, file_type(type), space, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    herr_t e = -1;
    if (d >= 0) {
        e = total ? H5Dwrite(d, h5io_native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    if (d < 0)
        return dt_fail(err, DT_EIO, "%s: cannot create dataset '%s'", f->path, dset);
    if (e < 0)
        return dt_fail(err, DT_EIO, "%s: error writing '%s' (disk full?)", f->path, dset);
    return DT_OK;
}

static dt_status set_attr(h5file *f, const char *obj, const char *name, hid_t ftype,
                          hid_t mtype, const void *value, dt_error *err)
{
    hid_t o = H5Oopen(f->id, obj, H5P_DEFAULT);
    if (o < 0)
        return dt_fail(err, DT_EIO, "%s: no object '%s' for attribute '%s'", f->path, obj,
                       name);
    if (H5Aexists(o, name) > 0)
        H5Adelete(o, name);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, mtype, value) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Oclose(o);
    if (e < 0)
        return dt_fail(err, DT_EIO, "%s: cannot write attribute '%s' on '%s'", f->path,
                       name, obj);
    return DT_OK;
}

dt_status h5io_set_attr_str(h5file *f, const char *obj, const char *name,
                            const char *value, dt_error *err)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    size_t n = strlen(value);
    H5Tset_size(t, n ? n : 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    dt_status st = set_attr(f, obj, name, t, t, n ? value : "", err);
    H5Tclose(t);
    return st;
}

dt_status h5io_set_attr_f64(h5file *f, const char *obj, const char *name, double value,
                            dt_error *err)
{
    return set_attr(f, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, err);
}

dt_status h5io_set_attr_i64(h5file *f, const char *obj, const char *name, int64_t value,
                            dt_error *err)
{
    return set_attr(f, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, err);
}

int h5io_has_attr(h5file *f, const char *obj, const char *name)
{
    if (!h5io_exists(f, obj))
        return 0;
    return H5Aexists_by_name(f->id, obj, name, H5P_DEFAULT) > 0;
}

dt_status h5io_get_attr_str(h5file *f, const char *obj, const char *name, char *buf,
                            size_t len, dt_error *err)
{
    if (!h5io_has_attr(f, obj, name))
        return dt_fail(err, DT_EUSAGE, "%s: '%s' has no attribute '%s'", f->path, obj, name);
    hid_t a = H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    dt_status st = DT_OK;
    if (a < 0 || t < 0 || H5Tget_class(t) != H5T_STRING) {
        st = dt_fail(err, DT_EUSAGE, "%s: attribute '%s' of '%s' is not a string", f->path,
                     name, obj);
        goto out;
    }
    if (H5Tis_variable_str(t) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        char *s = NULL;
        if (H5Aread(a, mt, &s) < 0 || !s) {
            st = dt_fail(err, DT_EIO, "%s: cannot read attribute '%s'", f->path, name);
        } else {
            snprintf(buf, len, "%s", s);
            H5free_memory(s);
        }
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(t);
        char *tmp = calloc(sz + 1, 1);
        hid_t mt = H5Tcopy(t);
        if (!tmp || H5Aread(a, mt, tmp) < 0)
            st = dt_fail(err, DT_EIO, "%s: cannot read attribute '%s'", f->path, name);
        else
            snprintf(buf, len, "%s", tmp);
        H5Tclose(mt);
        free(tmp);
    }
out:
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return st;
}

static dt_status get_attr_num(h5file *f, const char *obj, const char *name, hid_t mtype,
                              void *value, dt_error *err)
{
    if (!h5io_has_attr(f, obj, name))
        return dt_fail(err, DT_EUSAGE, "%s: '%s' has no attribute '%s'", f->path, obj, name);
    hid_t a = H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    dt_status st = DT_OK;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (a < 0 || (cls != H5T_INTEGER && cls != H5T_FLOAT) ||
        H5Sget_simple_extent_npoints(sp) != 1 || H5Aread(a, mtype, value) < 0)
        st = dt_fail(err, DT_EUSAGE, "%s: attribute '%s' of '%s' is not a number", f->path,
                     name, obj);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return st;
}

dt_status h5io_get_attr_i64(h5file *f, const char *obj, const char *name, int64_t *value,
                            dt_error *err)
{
    return get_attr_num(f, obj, name, H5T_NATIVE_INT64, value, err);
}

dt_status h5io_get_attr_f64(h5file *f, const char *obj, const char *name, double *value,
                            dt_error *err)
{
    return get_attr_num(f, obj, name, H5T_NATIVE_DOUBLE, value, err);
}

typedef struct {
    int (*visit)(const char *, void *);
    void *ctx;
} list_ctx;

static herr_t list_one(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    list_ctx *lc = data;
    return lc->visit(name, lc->ctx) ? 1 : 0;
}

dt_status h5io_list(h5file *f, const char *group, int (*visit)(const char *name, void *ctx),
                    void *ctx, dt_error *err)
{
    if (!h5io_exists(f, group))
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s'", f->path, group);
    hid_t g = H5Gopen2(f->id, group, H5P_DEFAULT);
    if (g < 0)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is not a group", f->path, group);
    list_ctx lc = {visit, ctx};
    herr_t e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_one, &lc);
    H5Gclose(g);
    if (e < 0)
        return dt_fail(err, DT_EIO, "%s: cannot list '%s'", f->path, group);
    return DT_OK;
}

const char *h5io_library_version(void)
{
    static char v[32];
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    snprintf(v, sizeof v, "%u.%u.%u", maj, min, rel);
    return v;
}

dt_status h5io_write_strs(h5file *f, const char *dset, int64_t n, const char *const *strs,
                          dt_error *err)
{
    dt_status st = make_parents(f, dset, err);
    if (st)
        return st;
    hsize_t hd[1] = {(hsize_t)n};
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t space = H5Screate_simple(1, hd, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0); /* the same data gives the same bytes */
    hid_t d = H5Dcreate2(f->id, dset, t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    herr_t e = -1;
    if (d >= 0) {
        e = n ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strs) : 0;
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(t);
    if (d < 0 || e < 0)
        return dt_fail(err, DT_EIO, "%s: cannot write '%s'", f->path, dset);
    return DT_OK;
}

/* Text i of what H5Dread gave: fixed-length strings `fixed` bytes apart, or
 * (fixed == 0) pointers to variable-length ones; *len its length. */
static const char *str_at(const char *raw, size_t fixed, hsize_t i, size_t *len)
{
    const char *s = fixed ? raw + i * fixed : ((char *const *)(const void *)raw)[i];
    if (!s)
        s = "";
    *len = fixed ? strnlen(s, fixed) : strlen(s);
    return s;
}

/* The n texts packed behind an array of n pointers, in one allocation. */
static char **pack_strs(hsize_t n, const char *raw, size_t fixed)
{
    size_t total = n * sizeof(char *), len;
    for (hsize_t i = 0; i < n; i++) {
        str_at(raw, fixed, i, &len);
        total += len + 1;
    }
    char **out = malloc(total ? total : 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (hsize_t i = 0; i < n; i++) {
        const char *s = str_at(raw, fixed, i, &len);
        memcpy(p, s, len);
        p[len] = '\0';
        out[i] = p;
        p += len + 1;
    }
    return out;
}

dt_status h5io_read_strs(h5file *f, const char *dset, int64_t *n, char ***strs, dt_error *err)
{
    *strs = NULL;
    *n = 0;
    hid_t d;
    dt_status st = h5io_open_dataset(f, dset, &d, err);
    if (st || (st = h5io_check_stored(f, dset, err)) || (st = h5io_check_size(f, dset, err))) {
        if (d >= 0) H5Dclose(d);
        return st;
    }
    hid_t t = H5Dget_type(d);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1] = {0};
    if (t < 0 || sp < 0 || H5Tget_class(t) != H5T_STRING ||
        H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        st = dt_fail(err, DT_EUSAGE, "%s: '%s' is not a 1-D dataset of strings", f->path, dset);
        goto out;
    }
    const int var = H5Tis_variable_str(t) > 0;
    const size_t fixed = var ? 0 : H5Tget_size(t);
    if (var && (st = h5io_check_vlen_strs(f, d, dset, dims[0], err)))
        goto out;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, var ? H5T_VARIABLE : fixed);
    H5Tset_cset(mt, H5Tget_cset(t));
    char *raw = calloc(dims[0] ? dims[0] : 1, var ? sizeof(char *) : fixed);
    if (!raw || (dims[0] && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0))
        st = dt_fail(err, raw ? DT_EUSAGE : DT_ENOMEM, "%s: cannot read '%s'", f->path, dset);
    else if (!(*strs = pack_strs(dims[0], raw, fixed)))
        st = dt_fail(err, DT_ENOMEM, "%s: out of memory reading '%s'", f->path, dset);
    if (!st)
        *n = (int64_t)dims[0];
    if (raw && var && dims[0])
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
    free(raw);
    H5Tclose(mt);
out:
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    return st;
}
