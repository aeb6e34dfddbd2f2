/* dtrain: HDF5 access.  The only file that includes <hdf5.h> (with checkpoint
 * code, later, if clearer there).  Every HDF5 call is checked; HDF5's automatic
 * error printing is disabled so that users see one dtrain message instead of
 * the library's stack dump. */
#include "dtrain/h5io.h"
#include "dtrain/fsutil.h"
#include "dtrain/rng.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

struct h5file {
    hid_t id;
    int in_memory; /* created: built in memory, written out by h5io_close */
    int all;       /* opened over a communicator (MPI-IO): reads of X are collective */
    char path[4096];
};

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

static hid_t native_type(dt_dtype t)
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

dt_status h5io_open_read(const char *path, h5file **out, dt_error *err)
{
    quiet_hdf5();
    *out = NULL;
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

static dt_status write_image(h5file *f, dt_error *err)
{
    if (H5Fflush(f->id, H5F_SCOPE_GLOBAL) < 0)
        return dt_fail(err, DT_EIO, "%s: cannot finish the file", f->path);
    ssize_t size = H5Fget_file_image(f->id, NULL, 0);
    if (size < 0)
        return dt_fail(err, DT_EIO, "%s: cannot finish the file", f->path);
    char *buf = malloc((size_t)size + 1);
    if (!buf)
        return dt_fail(err, DT_ENOMEM, "%s: out of memory for a %zd-byte file", f->path, size);
    dt_status st = DT_OK;
    if (H5Fget_file_image(f->id, buf, (size_t)size) != size) {
        st = dt_fail(err, DT_EIO, "%s: cannot finish the file", f->path);
    } else {
        int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        size_t done = 0;
        while (fd >= 0 && done < (size_t)size) {
            ssize_t w = write(fd, buf + done, (size_t)size - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        int e = errno;
        if (fd < 0 || done < (size_t)size)
            st = dt_fail(err, DT_EIO, "%s: write failed after %zu of %zd bytes: %s", f->path,
                         done, size, strerror(e));
        if (fd >= 0 && close(fd) != 0 && !st)
            st = dt_fail(err, DT_EIO, "%s: %s", f->path, strerror(errno));
    }
    free(buf);
    return st;
}

dt_status h5io_close(h5file *f, dt_error *err)
{
    if (!f)
        return DT_OK;
    dt_status st = f->in_memory ? write_image(f, err) : DT_OK;
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

static int classify_type(hid_t t, dt_dtype *out)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (cls == H5T_FLOAT) {
        if (sz == 4) { *out = DT_F32; return 1; }
        if (sz == 8) { *out = DT_F64; return 1; }
        return 0;
    }
    if (cls == H5T_INTEGER) {
        H5T_sign_t sg = H5Tget_sign(t);
        if (sz == 1 && sg == H5T_SGN_NONE) { *out = DT_U8; return 1; }
        if (sz == 4 && sg == H5T_SGN_2) { *out = DT_I32; return 1; }
        if (sz == 8 && sg == H5T_SGN_2) { *out = DT_I64; return 1; }
        return 0;
    }
    return 0;
}

static const char *class_name(hid_t t)
{
    switch (H5Tget_class(t)) {
    case H5T_INTEGER: return H5Tget_sign(t) == H5T_SGN_NONE ? "unsigned integer" : "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    default: return "other";
    }
}

/* Name of filter `id`: as the file records it, else from the registry of
 * HDF5 filter ids, for the ones seen in the wild. */
static const char *filter_name(H5Z_filter_t id, const char *stored)
{
    static const struct { int id; const char *name; } known[] = {
        {H5Z_FILTER_DEFLATE, "gzip"}, {H5Z_FILTER_SZIP, "szip"}, {307, "bzip2"},
        {32000, "lzf"}, {32001, "blosc"}, {32004, "lz4"}, {32008, "bitshuffle"},
        {32015, "zstd"}, {32026, "blosc2"}};
    if (stored[0])
        return stored;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].id == id)
            return known[i].name;
    return "unregistered";
}

/* Every filter dataset d was written through must be one this library has:
 * checked from the creation properties, before any data is read. */
static dt_status check_filters(h5file *f, hid_t d, const char *dset, dt_error *err)
{
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return dt_fail(err, DT_EUSAGE, "%s: cannot read how '%s' is stored (damaged file?)",
                       f->path, dset);
    dt_status st = DT_OK;
    int n = H5Pget_nfilters(dcpl);
    for (int i = 0; i < n && !st; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof name, name,
                                         NULL);
        if (id < 0 || H5Zfilter_avail(id) <= 0)
            st = dt_fail(err, DT_EUSAGE,
                         "%s: '%s' is compressed with filter %d (%s), which this HDF5 library "
                         "lacks; re-save it with gzip or no compression where that filter is "
                         "installed (h5repack -f NONE, or h5py)",
                         f->path, dset, (int)id, filter_name(id, name));
    }
    H5Pclose(dcpl);
    return st;
}

/* ---- A dataset's layout, checked before HDF5 opens it ----
 *
 * HDF5 1.10 (1.10.8 included) divides by every chunk dimension of a dataset's
 * layout message when H5Dopen2 opens it, without checking them: a file whose
 * layout declares a chunk dimension of 0, or fewer chunk dimensions than the
 * dataspace has (the missing ones read as 0), ends the process with SIGFPE in
 * H5D__chunk_set_info.  So before every H5Dopen2 of a file dtrain reads, the
 * object header of the dataset is read here, as the HDF5 File Format
 * Specification lays it out (object header versions 1 and 2 with their
 * continuation blocks, dataspace message versions 1 and 2, layout message
 * versions 1 to 4), and its chunked layout is checked against its rank.
 * Everything else in the header is left to HDF5, which checks it. */

/* Bounds on what a header may make us read: a real header is a few hundred
 * bytes in one or a few blocks. */
enum { OH_MAX_BLOCKS = 1024, OH_MAX_BLOCK = 1 << 24 };

typedef struct {
    int fd;
    uint64_t base;  /* file offset of address 0: the superblock's */
    unsigned sa, ss;/* bytes of an address and of a length in this file */
    int v2;         /* object header version 2 ("OHDR") */
    int crt_order;  /* version 2: every message carries a 2-byte creation index */
    uint64_t next[OH_MAX_BLOCKS][2]; /* continuation blocks (address, length) */
    int n_next;
    int rank;       /* the dataspace's, -1 until seen (or stored elsewhere, shared) */
    int chunked;    /* a chunked layout message was seen */
    unsigned ndims; /* its chunk dimensions, the element size last */
    uint64_t dims[33];
    int broken;     /* the header does not parse: HDF5 would not open it either */
} oh_scan;

static uint64_t le_uint(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* len bytes at address addr of the file, or NULL (beyond its end, or no memory). */
static uint8_t *oh_read(const oh_scan *s, uint64_t addr, uint64_t len)
{
    if (len == 0 || len > OH_MAX_BLOCK || addr > UINT64_MAX - s->base - len)
        return NULL;
    uint8_t *buf = malloc(len);
    if (buf && pread(s->fd, buf, len, (off_t)(s->base + addr)) != (ssize_t)len) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* Dataspace message: its rank (version 1 and 2 alike in the second byte). */
static void scan_dataspace(oh_scan *s, const uint8_t *d, size_t n)
{
    if (s->rank >= 0)
        return; /* HDF5 uses the first */
    if (n < 4 || (d[0] != 1 && d[0] != 2))
        return; /* HDF5 refuses it itself */
    /* version 2 marks scalar (0) and null (2) spaces in the fourth byte */
    s->rank = d[0] == 2 && d[3] != 1 ? 0 : d[1];
}

/* Layout message: for a chunked layout, its dimensions (uint32 each before
 * version 4, `width` bytes each in version 4). */
static void scan_layout(oh_scan *s, const uint8_t *d, size_t n)
{
    if (s->chunked || n < 3)
        return; /* HDF5 uses the first; a short one HDF5 refuses itself */
    unsigned ndims, width = 4;
    size_t at;
    if (d[0] == 1 || d[0] == 2) { /* version, ndims, class, 5 reserved, address, dims */
        if (d[2] != 2)
            return;
        ndims = d[1];
        at = 8 + s->sa;
    } else if (d[0] == 3) { /* version, class, ndims, address, dims */
        if (d[1] != 2)
            return;
        ndims = d[2];
        at = 3 + (size_t)s->sa;
    } else if (d[0] == 4) { /* version, class, flags, ndims, width, dims, index */
        if (d[1] != 2 || n < 5 || d[4] < 1 || d[4] > 8)
            return;
        ndims = d[3];
        width = d[4];
        at = 5;
    } else {
        return;
    }
    s->chunked = 1;
    s->ndims = ndims;
    if (ndims > 33 || at + (size_t)ndims * width > n) {
        s->broken = 1;
        return;
    }
    for (unsigned i = 0; i < ndims; i++)
        s->dims[i] = le_uint(d + at + (size_t)i * width, width);
}

/* The messages of one block of the header, [p, end). */
static void scan_messages(oh_scan *s, const uint8_t *p, const uint8_t *end)
{
    const size_t head = s->v2 ? 4 + (s->crt_order ? 2 : 0) : 8;
    while ((size_t)(end - p) >= head && !s->broken) {
        const unsigned type = s->v2 ? p[0] : (unsigned)le_uint(p, 2);
        const size_t size = (size_t)le_uint(p + (s->v2 ? 1 : 2), 2);
        const unsigned flags = p[s->v2 ? 3 : 4];
        p += head;
        if (size > (size_t)(end - p)) {
            s->broken = 1;
            return;
        }
        if (flags & 0x02) {
            /* shared: the message is elsewhere (a dataspace, at most) */
        } else if (type == 0x01) {
            scan_dataspace(s, p, size);
        } else if (type == 0x08) {
            scan_layout(s, p, size);
        } else if (type == 0x10) { /* continuation: address, length */
            if (size < (size_t)s->sa + s->ss || s->n_next == OH_MAX_BLOCKS) {
                s->broken = 1;
                return;
            }
            s->next[s->n_next][0] = le_uint(p, s->sa);
            s->next[s->n_next][1] = le_uint(p + s->sa, s->ss);
            s->n_next++;
        }
        p += size;
    }
}

/* The object header at addr: its first block, then its continuation blocks
 * in the order they are named (HDF5's order). */
static void scan_header(oh_scan *s, uint64_t addr)
{
    uint8_t *pre = oh_read(s, addr, 16);
    if (!pre) {
        s->broken = 1;
        return;
    }
    uint64_t at, len;
    if (pre[0] == 1) { /* version, reserved, count, refs, size, 4 reserved */
        at = addr + 16;
        len = le_uint(pre + 8, 4);
    } else if (!memcmp(pre, "OHDR", 4) && pre[4] == 2) {
        /* signature, version, flags, [4 times], [2 attribute limits], chunk 0's size */
        const unsigned flags = pre[5], width = 1u << (flags & 3);
        const size_t p = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
        free(pre);
        if (!(pre = oh_read(s, addr, p + width))) {
            s->broken = 1;
            return;
        }
        s->v2 = 1;
        s->crt_order = (flags & 0x04) != 0;
        len = le_uint(pre + p, width);
        at = addr + p + width;
    } else {
        free(pre);
        s->broken = 1;
        return;
    }
    free(pre);
    for (int b = -1; b < s->n_next && !s->broken; b++) {
        if (b >= 0) { /* a continuation block; version 2: "OCHK", messages, checksum */
            at = s->next[b][0];
            len = s->next[b][1];
        }
        uint8_t *blk = oh_read(s, at, len);
        if (!blk || (b >= 0 && s->v2 && (len < 8 || memcmp(blk, "OCHK", 4)))) {
            free(blk);
            s->broken = 1;
            return;
        }
        const size_t skip = b >= 0 && s->v2 ? 4 : 0, tail = b >= 0 && s->v2 ? 4 : 0;
        scan_messages(s, blk + skip, blk + len - tail);
        free(blk);
    }
}

/* What a scanned header says: DT_OK, or why HDF5 must not open dset. */
static dt_status layout_verdict(const h5file *f, const char *dset, const oh_scan *s,
                                dt_error *err)
{
    if (s->broken)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is damaged: its object header cannot be read",
                       f->path, dset);
    if (!s->chunked)
        return DT_OK;
    int bad = s->ndims < 2 || (s->rank >= 0 && s->ndims != (unsigned)s->rank + 1);
    for (unsigned i = 0; i < s->ndims; i++)
        bad |= s->dims[i] == 0;
    if (!bad)
        return DT_OK;
    char shape[256] = "none", want[96] = "";
    size_t used = 0;
    for (unsigned i = 0; i + 1 < s->ndims && used < sizeof shape; i++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%llu", i ? " x " : "",
                                 (unsigned long long)s->dims[i]);
    if (s->rank >= 0)
        snprintf(want, sizeof want, " for a %d-dimensional dataset; expected %d", s->rank,
                 s->rank);
    else
        snprintf(want, sizeof want, "; expected");
    return dt_fail(err, DT_EUSAGE,
                   "%s: '%s' is damaged: its chunked layout lists chunk dimensions (%s)%s%s, "
                   "each at least 1",
                   f->path, dset, shape,
                   s->ndims >= 1 && s->dims[s->ndims - 1] == 0 ? " and element size 0" : "",
                   want);
}

/* dset's chunked layout (if it has one) is one HDF5 can open: one chunk
 * dimension per dimension of its dataspace, and the element size, none 0.
 * Local; reads the header with its own descriptor. */
static dt_status check_layout(h5file *f, const char *dset, dt_error *err)
{
    if (f->in_memory)
        return DT_OK; /* being built here, by HDF5 */
    H5O_info_t oi;
    if (H5Oget_info_by_name2(f->id, dset, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is not a dataset", f->path, dset);
    /* addresses are relative to the superblock, which follows the user block */
    hsize_t ub = 0;
    size_t sa = 0, ss = 0;
    hid_t fcpl = H5Fget_create_plist(f->id);
    const int sizes = fcpl >= 0 && H5Pget_sizes(fcpl, &sa, &ss) >= 0 &&
                      H5Pget_userblock(fcpl, &ub) >= 0 && sa >= 2 && sa <= 8 && ss >= 2 &&
                      ss <= 8;
    if (fcpl >= 0)
        H5Pclose(fcpl);
    oh_scan *s = calloc(1, sizeof *s); /* 16 KiB of continuation addresses */
    if (!s)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    s->rank = -1;
    s->base = ub;
    s->sa = (unsigned)sa;
    s->ss = (unsigned)ss;
    s->fd = sizes ? open(f->path, O_RDONLY) : -1;
    dt_status st;
    if (s->fd < 0) {
        st = dt_fail(err, DT_EUSAGE, "%s: cannot read how '%s' is stored", f->path, dset);
    } else {
        scan_header(s, oi.addr);
        close(s->fd);
        st = layout_verdict(f, dset, s, err);
    }
    free(s);
    return st;
}

/* H5Dopen2, after check_layout. */
static dt_status open_dataset(h5file *f, const char *dset, hid_t *d, dt_error *err)
{
    *d = H5I_INVALID_HID;
    if (!h5io_exists(f, dset))
        return dt_fail(err, DT_EUSAGE, "%s: no dataset '%s'", f->path, dset);
    dt_status st = check_layout(f, dset, err);
    if (st)
        return st;
    if ((*d = H5Dopen2(f->id, dset, H5P_DEFAULT)) < 0)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is not a dataset", f->path, dset);
    return DT_OK;
}

/* Chunks of a chunked dataset of nd dims (chunk shape cd, each > 0, as
 * check_layout made sure), saturating at HSIZE_UNDEF. */
static hsize_t chunk_count(int nd, const hsize_t *dims, const hsize_t *cd)
{
    hsize_t n = 1;
    for (int i = 0; i < nd; i++) {
        const hsize_t c = dims[i] / cd[i] + (dims[i] % cd[i] != 0);
        if (c && n > HSIZE_UNDEF / c)
            return HSIZE_UNDEF;
        n *= c;
    }
    return n;
}

dt_status h5io_check_stored(h5file *f, const char *dset, dt_error *err)
{
    hid_t d;
    dt_status st = open_dataset(f, dset, &d, err);
    if (st)
        return st;
    hid_t sp = H5Dget_space(d), dcpl = H5Dget_create_plist(d);
    const int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    const hssize_t npoints = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    hsize_t dims[H5S_MAX_RANK], cd[H5S_MAX_RANK], stored = 0;
    H5D_space_status_t space = H5D_SPACE_STATUS_ERROR;
    const char *unfinished = "(HDF5 would read the fill value there): the file is damaged or "
                             "unfinished";
    if (dcpl < 0 || nd < 0 || nd > H5S_MAX_RANK || npoints < 0 ||
        H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        st = dt_fail(err, DT_EUSAGE, "%s: cannot read how '%s' is stored", f->path, dset);
    } else if (npoints == 0 || H5Pget_external_count(dcpl) > 0) {
        /* nothing to store, or stored in files of its own (HDF5 reads them) */
    } else if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t chunks = 0;
        if (H5Pget_chunk(dcpl, nd, cd) != nd || H5Dget_num_chunks(d, sp, &stored) < 0)
            st = dt_fail(err, DT_EUSAGE, "%s: cannot count the chunks of '%s'", f->path, dset);
        else if (stored == 0)
            st = dt_fail(err, DT_EUSAGE, "%s: '%s' was never written: none of its chunks is "
                         "stored %s", f->path, dset, unfinished);
        else if (stored < (chunks = chunk_count(nd, dims, cd)))
            st = dt_fail(err, DT_EUSAGE,
                         "%s: '%s' is incomplete: %llu of its %llu chunks were never written %s",
                         f->path, dset, (unsigned long long)(chunks - stored),
                         (unsigned long long)chunks, unfinished);
    } else if (H5Pget_layout(dcpl) == H5D_CONTIGUOUS) {
        if (H5Dget_space_status(d, &space) < 0 || space != H5D_SPACE_STATUS_ALLOCATED)
            st = dt_fail(err, DT_EUSAGE, "%s: '%s' was never written: no storage is allocated "
                         "for it %s", f->path, dset, unfinished);
    }
    /* compact data lives in the object header; a virtual dataset's in its sources */
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return st;
}

dt_status h5io_info(h5file *f, const char *dset, int *ndims, int64_t dims[8],
                    dt_dtype *stored, dt_error *err)
{
    hid_t d;
    dt_status st = open_dataset(f, dset, &d, err);
    if (st)
        return st;
    hid_t s = H5Dget_space(d);
    hid_t t = H5Dget_type(d);
    if (s < 0 || t < 0) {
        st = dt_fail(err, DT_EIO, "%s: cannot read the shape of '%s'", f->path, dset);
        goto out;
    }
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd < 0 || nd > 8) {
        st = dt_fail(err, DT_EUSAGE, "%s: '%s' has unsupported rank", f->path, dset);
        goto out;
    }
    hsize_t hd[8] = {0};
    H5Sget_simple_extent_dims(s, hd, NULL);
    *ndims = nd;
    for (int i = 0; i < 8; i++)
        dims[i] = i < nd ? (int64_t)hd[i] : 0;
    if (!classify_type(t, stored)) {
        st = dt_fail(err, DT_EUSAGE,
                     "%s: '%s' has unsupported element type (%s, %zu bytes); expected "
                     "uint8, int32, int64, float32 or float64",
                     f->path, dset, class_name(t), H5Tget_size(t));
        goto out;
    }
    st = check_filters(f, d, dset, err);
out:
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return st;
}

static herr_t find_pipeline(unsigned n, const H5E_error2_t *e, void *found)
{
    (void)n;
    if (e->maj_num == H5E_PLINE)
        *(int *)found = 1;
    return 0;
}

/* 1 if the error HDF5 just reported came from the filter pipeline (a chunk
 * that does not decompress, or fails its checksum). */
static int pipeline_failed(void)
{
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_pipeline, &found);
    return found;
}

/* dset's shape (h5io_info) into *nd and dims, and [row0, row0 + nrows)
 * inside its rows. */
static dt_status row_range(h5file *f, const char *dset, int64_t row0, int64_t nrows, int *nd,
                           int64_t dims[8], dt_error *err)
{
    dt_dtype stored;
    dt_status st = h5io_info(f, dset, nd, dims, &stored, err);
    if (st)
        return st;
    if (*nd < 1 || row0 < 0 || nrows < 0 || row0 + nrows > dims[0])
        return dt_fail(err, DT_EINTERNAL, "%s: row range %lld+%lld outside '%s'",
                       f->path, (long long)row0, (long long)nrows, dset);
    return DT_OK;
}

/* A read that failed although the shape, type and filters were fine
 * (h5io_info): the bytes are not. */
static dt_status unreadable(const h5file *f, const char *dset, unsigned long long row,
                            int pipeline, dt_error *err)
{
    return dt_fail(err, DT_EUSAGE, "%s: '%s' cannot be read from row %llu: %s", f->path, dset,
                   row,
                   pipeline ? "a compressed chunk does not decompress (damaged file)"
                            : "the file is truncated or damaged");
}

dt_status h5io_read_rows(h5file *f, const char *dset, dt_dtype memtype,
                         int64_t row0, int64_t nrows, void *buf, dt_error *err)
{
    int nd;
    int64_t dims[8];
    dt_status st = row_range(f, dset, row0, nrows, &nd, dims, err);
    if (!st)
        st = h5io_check_stored(f, dset, err);
    if (st)
        return st;
    if (nrows == 0)
        return DT_OK;
    hid_t d = H5Dopen2(f->id, dset, H5P_DEFAULT); /* its layout checked by row_range */
    hid_t fs = H5Dget_space(d);
    hsize_t start[8] = {0}, count[8];
    size_t row_bytes = dt_dtype_size(memtype);
    for (int i = 0; i < nd; i++) {
        count[i] = (hsize_t)dims[i];
        if (i > 0)
            row_bytes *= (size_t)dims[i];
    }
    /* Read in blocks of at most ~4096 chunks: HDF5 keeps several KiB of
     * bookkeeping per chunk touched by one read, so a (small, crafted) file
     * with 10^5 tiny chunks would otherwise cost gigabytes. */
    hsize_t block = (hsize_t)nrows;
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t cd[8];
        if (H5Pget_chunk(dcpl, 8, cd) == nd) {
            hsize_t across = 1; /* chunks spanned by one row */
            for (int i = 1; i < nd; i++)
                across *= cd[i] ? ((hsize_t)dims[i] + cd[i] - 1) / cd[i] : 1;
            hsize_t layers = across < 4096 ? 4096 / across : 1;
            if (cd[0] && layers * cd[0] < block)
                block = layers * cd[0];
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    herr_t e = 0;
    hid_t ms = 0;
    int pipeline = 0;
    for (hsize_t done = 0; done < (hsize_t)nrows && e >= 0 && ms >= 0; done += block) {
        start[0] = (hsize_t)row0 + done;
        count[0] = (hsize_t)nrows - done < block ? (hsize_t)nrows - done : block;
        e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        ms = H5Screate_simple(nd, count, NULL);
        if (e >= 0 && ms >= 0)
            e = H5Dread(d, native_type(memtype), ms, fs, H5P_DEFAULT,
                        (char *)buf + (size_t)done * row_bytes);
        if (e < 0)
            pipeline = pipeline_failed(); /* before the next call clears the stack */
        if (ms >= 0) H5Sclose(ms);
    }
    H5Sclose(fs);
    H5Dclose(d);
    return e < 0 || ms < 0 ? unreadable(f, dset, (unsigned long long)start[0], pipeline, err)
                           : DT_OK;
}

dt_status h5io_read_rows_all(h5file *f, const char *dset, dt_dtype memtype, int64_t row0,
                             int64_t nrows, void *buf, dt_error *err)
{
    int nd;
    int64_t dims[8];
    dt_status st = row_range(f, dset, row0, nrows, &nd, dims, err);
    if (st)
        return st;
    hid_t d = H5Dopen2(f->id, dset, H5P_DEFAULT); /* its layout checked by row_range */
    hid_t fs = H5Dget_space(d);
    hsize_t start[8] = {0}, count[8];
    for (int i = 0; i < nd; i++) count[i] = (hsize_t)dims[i];
    start[0] = (hsize_t)row0;
    count[0] = (hsize_t)nrows;
    /* a rank with no rows still takes part, selecting nothing */
    herr_t e = nrows ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL)
                     : H5Sselect_none(fs);
    hid_t ms = H5Screate_simple(nd, count, NULL);
    if (ms >= 0 && !nrows)
        H5Sselect_none(ms);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl < 0 || H5Pset_dxpl_mpio(dxpl, f->all ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT) < 0)
        e = -1;
    /* every rank calls H5Dread once, whatever failed before: it is collective */
    herr_t r = H5Dread(d, native_type(memtype), ms, fs, f->all && dxpl >= 0 ? dxpl : H5P_DEFAULT,
                       buf);
    int pipeline = r < 0 && pipeline_failed();
    if (dxpl >= 0) H5Pclose(dxpl);
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    return e < 0 || r < 0 || ms < 0 ? unreadable(f, dset, (unsigned long long)row0, pipeline, err)
                                    : DT_OK;
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
        e = total ? H5Dwrite(d, native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
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
    dt_status st = open_dataset(f, dset, &d, err);
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

/* ---- checking what a file declares, and its digest -------------------------------- */

/* A file whose every byte is what it declares: contiguous and compact data
 * occupy their full size, and no filter dtrain can read shrinks data more than
 * deflate can (about 1032:1 on zeros).  A dataset declared larger than that
 * was never written: HDF5 would hand back fill values, allocated first. */
#define H5IO_MAX_RATIO 1100

dt_status h5io_check_size(h5file *f, const char *dset, dt_error *err)
{
    hid_t d;
    dt_status st = open_dataset(f, dset, &d, err);
    if (st)
        return st;
    hid_t s = H5Dget_space(d), t = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    size_t esize = t >= 0 ? H5Tget_size(t) : 0;
    if (n < 0 || esize == 0 || dcpl < 0) {
        st = dt_fail(err, DT_EUSAGE, "%s: cannot read the shape of '%s' (damaged file)",
                     f->path, dset);
    } else {
        /* variable-length strings store a heap reference per element */
        double declared = (double)n * (double)esize;
        double stored = (double)H5Dget_storage_size(d);
        double ratio = H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_nfilters(dcpl) > 0
                           ? H5IO_MAX_RATIO
                           : 1;
        if (declared > stored * ratio)
            st = dt_fail(err, DT_EUSAGE,
                         "%s: '%s' declares %lld values (%.1f MB) but the file stores %.0f "
                         "bytes of it: damaged, refused before reading",
                         f->path, dset, (long long)n, declared / 1e6, stored);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return st;
}

typedef struct {
    h5file *f;
    const char *const *skip; /* root attributes left out */
    int hash;                /* 0: only check that every dataset is stored */
    uint64_t h;
    dt_status st;
    dt_error *err;
    char path[1024];
} digest_ctx;

static void mix(digest_ctx *c, const void *p, size_t n) { c->h = rng_fnv1a(c->h, p, n); }
static void mix_str(digest_ctx *c, const char *s) { mix(c, s, strlen(s) + 1); }

/* The values of attribute a or dataset d (is_attr says which) of n
 * elements, type t: numbers as native values, strings as their text. */
static int mix_values(digest_ctx *c, hid_t obj, int is_attr, hid_t t, hssize_t n)
{
    H5T_class_t cls = H5Tget_class(t);
    int64_t cl = cls;
    mix(c, &cl, sizeof cl);
    mix(c, &n, sizeof n);
    if (n == 0)
        return 0;
    hid_t mt;
    int vlen = 0;
    if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        mt = H5Tget_native_type(t, H5T_DIR_ASCEND);
    } else if (cls == H5T_STRING) {
        mt = H5Tcopy(t);
        vlen = H5Tis_variable_str(t) > 0;
    } else {
        return -1; /* dtrain writes numbers and strings only */
    }
    size_t esize = vlen ? sizeof(char *) : H5Tget_size(mt);
    char *buf = mt >= 0 ? calloc((size_t)n, esize + (vlen ? 0 : 1)) : NULL;
    herr_t e = -1;
    if (buf)
        e = is_attr ? H5Aread(obj, mt, buf) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (e >= 0 && cls == H5T_STRING) {
        for (hssize_t i = 0; i < n; i++) {
            const char *s = vlen ? ((char **)buf)[i] : buf + (size_t)i * esize;
            size_t len = s ? (vlen ? strlen(s) : strnlen(s, esize)) : 0;
            mix(c, &len, sizeof len);
            mix(c, s ? s : "", len);
        }
        if (vlen) {
            hid_t sp = H5Screate_simple(1, (hsize_t[]){(hsize_t)n}, NULL);
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
            H5Sclose(sp);
        }
    } else if (e >= 0) {
        mix(c, buf, (size_t)n * esize);
    }
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    return e < 0 ? -1 : 0;
}

static herr_t digest_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    digest_ctx *c = data;
    if (!strcmp(c->path, "/"))
        for (const char *const *s = c->skip; s && *s; s++)
            if (!strcmp(*s, name))
                return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    mix_str(c, name);
    int bad = a < 0 || t < 0 || n < 0 || mix_values(c, a, 1, t, n) < 0;
    if (bad)
        c->st = dt_fail(c->err, DT_EUSAGE, "%s: attribute '%s' of '%s' cannot be read "
                        "(damaged file)", c->f->path, name, c->path);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return bad ? -1 : 0;
}

static herr_t digest_member(hid_t g, const char *name, const H5L_info_t *info, void *data);

/* Object obj at c->path: its attributes, then its members or values. */
static int digest_object(digest_ctx *c, hid_t obj)
{
    H5I_type_t kind = H5Iget_type(obj);
    int64_t k = kind;
    mix_str(c, c->path);
    mix(c, &k, sizeof k);
    if (c->hash && H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, digest_attr, c) < 0)
        return -1;
    if (kind == H5I_GROUP)
        return H5Literate(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, digest_member, c) < 0 ? -1 : 0;
    if (kind != H5I_DATASET)
        return -1;
    if ((c->st = h5io_check_size(c->f, c->path, c->err)) ||
        (c->st = h5io_check_stored(c->f, c->path, c->err)))
        return -1;
    if (!c->hash)
        return 0;
    hid_t t = H5Dget_type(obj), sp = H5Dget_space(obj);
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[H5S_MAX_RANK] = {0};
    if (nd > 0)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    mix(c, dims, sizeof dims[0] * (size_t)(nd > 0 ? nd : 0));
    int bad = t < 0 || nd < 0 ||
              mix_values(c, obj, 0, t, H5Sget_simple_extent_npoints(sp)) < 0;
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (bad)
        c->st = dt_fail(c->err, DT_EUSAGE, "%s: '%s' cannot be read (damaged file)",
                        c->f->path, c->path);
    return bad ? -1 : 0;
}

static herr_t digest_member(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    digest_ctx *c = data;
    size_t len = strlen(c->path);
    if (info->type != H5L_TYPE_HARD ||
        len + strlen(name) + 2 > sizeof c->path) {
        c->st = dt_fail(c->err, DT_EUSAGE, "%s: '%s%s%s' is a link or too deep a path "
                        "(dtrain writes neither)", c->f->path, c->path,
                        len > 1 ? "/" : "", name);
        return -1;
    }
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        c->st = dt_fail(c->err, DT_EUSAGE, "%s: '%s' in '%s' cannot be opened (damaged file)",
                        c->f->path, name, c->path);
        return -1;
    }
    snprintf(c->path + len, sizeof c->path - len, "%s%s", len > 1 ? "/" : "", name);
    int r = digest_object(c, o);
    c->path[len] = '\0';
    H5Oclose(o);
    return r < 0 ? -1 : 0;
}

static dt_status walk(h5file *f, const char *const *skip, int hash, uint64_t *out,
                      dt_error *err)
{
    digest_ctx c = {.f = f, .skip = skip, .hash = hash, .h = RNG_FNV_BASIS, .err = err,
                    .path = "/"};
    hid_t root = H5Gopen2(f->id, "/", H5P_DEFAULT);
    int r = root >= 0 ? digest_object(&c, root) : -1;
    if (root >= 0)
        H5Gclose(root);
    if (r < 0 && !c.st)
        c.st = dt_fail(err, DT_EUSAGE, "%s: cannot walk its contents (damaged file)",
                       f->path);
    if (out)
        *out = c.h;
    return c.st;
}

dt_status h5io_check_all_stored(h5file *f, dt_error *err)
{
    return walk(f, NULL, 0, NULL, err);
}

dt_status h5io_digest(h5file *f, const char *const *skip, uint64_t *hash, dt_error *err)
{
    dt_status st = walk(f, skip, 0, NULL, err);
    return st ? st : walk(f, skip, 1, hash, err);
}
