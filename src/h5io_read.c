/* dtrain: HDF5 access: reading datasets (shape, type, filters, storage,
 * rows) and a file's digest.  Part of the HDF5 layer (h5io.c,
 * h5io_impl.h), which alone includes <hdf5.h>. */
#include "h5io_impl.h"
#include "dtrain/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Every chunk of an unfiltered chunked dataset d (nd dims, chunk shape cd)
 * is stored whole: HDF5 copies a chunk's full size out of what the file
 * holds for it, and reads past a shorter one. */
static dt_status check_chunk_sizes(h5file *f, const char *dset, hid_t d, int nd,
                                   const hsize_t *dims, const hsize_t *cd, dt_error *err)
{
    hid_t t = H5Dget_type(d);
    double want = t >= 0 ? (double)H5Tget_size(t) : 0;
    if (t >= 0)
        H5Tclose(t);
    for (int i = 0; i < nd; i++) want *= (double)cd[i];
    hsize_t at[H5S_MAX_RANK] = {0};
    for (;;) {
        unsigned mask;
        haddr_t addr;
        hsize_t size = 0;
        if (H5Dget_chunk_info_by_coord(d, at, &mask, &addr, &size) < 0 || (double)size != want)
            return dt_fail(err, DT_EUSAGE, "%s: '%s' is damaged: its chunk at row %llu holds "
                           "%llu bytes, where a chunk is %.0f", f->path, dset,
                           (unsigned long long)at[0], (unsigned long long)size, want);
        int i = nd - 1; /* the next chunk, the last dimension fastest */
        while (i >= 0 && (at[i] += cd[i]) >= dims[i]) at[i--] = 0;
        if (i < 0)
            return DT_OK;
    }
}

dt_status h5io_check_stored(h5file *f, const char *dset, dt_error *err)
{
    hid_t d;
    dt_status st = h5io_open_dataset(f, dset, &d, err);
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
        else if (H5Pget_nfilters(dcpl) == 0)
            st = check_chunk_sizes(f, dset, d, nd, dims, cd, err);
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
    dt_status st = h5io_open_dataset(f, dset, &d, err);
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

/* Rows of dataset d (nd dims, shape dims) read by one H5Dread of a read of
 * nrows: blocks of at most ~4096 chunks.  HDF5 keeps several KiB of
 * bookkeeping per chunk touched by one read, so a (small, crafted) file with
 * 10^5 tiny chunks would otherwise cost gigabytes. */
static hsize_t rows_per_read(hid_t d, int nd, const int64_t dims[8], hsize_t nrows)
{
    hsize_t block = nrows;
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
    return block;
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
    const hsize_t block = rows_per_read(d, nd, dims, (hsize_t)nrows);
    herr_t e = 0;
    hid_t ms = 0;
    int pipeline = 0;
    for (hsize_t done = 0; done < (hsize_t)nrows && e >= 0 && ms >= 0; done += block) {
        start[0] = (hsize_t)row0 + done;
        count[0] = (hsize_t)nrows - done < block ? (hsize_t)nrows - done : block;
        e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        ms = H5Screate_simple(nd, count, NULL);
        if (e >= 0 && ms >= 0)
            e = H5Dread(d, h5io_native_type(memtype), ms, fs, H5P_DEFAULT,
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
    if (dxpl < 0 ||
        H5Pset_dxpl_mpio(dxpl, f->all ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT) < 0)
        e = -1;
    /* every rank calls H5Dread once, whatever failed before: it is collective */
    herr_t r = H5Dread(d, h5io_native_type(memtype), ms, fs,
                       f->all && dxpl >= 0 ? dxpl : H5P_DEFAULT, buf);
    int pipeline = r < 0 && pipeline_failed();
    if (dxpl >= 0) H5Pclose(dxpl);
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    return e < 0 || r < 0 || ms < 0 ? unreadable(f, dset, (unsigned long long)row0, pipeline, err)
                                    : DT_OK;
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
    dt_status st = h5io_open_dataset(f, dset, &d, err);
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
