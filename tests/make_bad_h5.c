/* make_bad_h5: writes the malformed HDF5 files that the bad-input tests feed
 * to dtrain -- element types, ranks and values that dtrain itself never
 * writes (so it talks to HDF5 directly instead of through h5io).
 *
 *   make_bad_h5 FILE SPEC...        create FILE with one object per SPEC:
 *       /grp:group                  an empty group
 *       /grp/name:TYPE:DIMS[:VALUES]
 *           TYPE    u8 i16 i32 i64 f32 f64 str (fixed-length strings of 8 bytes),
 *                   optionally +gzip (chunked, deflate) or +lzf (chunked, filter
 *                   32000 as h5py's LZF writes it; a stand-in registered in this
 *                   tool only, so to dtrain it is a filter the library lacks),
 *                   and/or +rowsN (chunks of up to N rows, e.g. f32+gzip+rows10)
 *           DIMS    "3x2", "4", "2x2x2" or "0x3"
 *           VALUES  comma-separated, "nan", "inf" and "-inf" allowed; missing
 *                   values continue the pattern 0, 1, 2, 0, 1, 2, ...; "unwritten"
 *                   writes nothing (HDF5 then reads fill values: any shape is cheap);
 *                   "allocated" writes nothing either, but allocates the storage
 *                   when the dataset is created, filled with zeros (a file
 *                   indistinguishable from written zeros); "half" writes the
 *                   pattern into the first half of the rows only
 *   make_bad_h5 --set-attr FILE OBJ NAME INTEGER
 *   make_bad_h5 --set-attr-str FILE OBJ NAME TEXT
 *                                   overwrite (or add) an int64 or a string attribute
 *   make_bad_h5 --delete FILE OBJ  remove a group or dataset (its link)
 *   make_bad_h5 --delete-attr FILE OBJ NAME
 *                                   remove an attribute (a file of an older dtrain)
 *   make_bad_h5 --set-value FILE DSET INDEX VALUE
 *                                   overwrite element INDEX (flat) of a dataset;
 *                                   VALUE as in SPEC ("nan", "inf" allowed)
 *   make_bad_h5 --replace FILE SPEC...
 *                                   in an existing file, write each SPEC's object
 *                                   in place of what is there (if anything)
 *   make_bad_h5 --zero-chunk-dim FILE DSET
 *                                   set the first chunk dimension in the layout
 *                                   message of DSET to 0, in place (a file with
 *                                   version 1 object headers, which have no
 *                                   checksum: one dtrain wrote)
 *   make_bad_h5 --garbage-chunk FILE DSET
 *                                   replace the first chunk of a compressed dataset
 *                                   with bytes that do not decompress
 *
 * Files use the newest format (compact: a few hundred bytes each). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "make_bad_h5: %s: %s\n", what, arg);
    exit(1);
}

static hid_t type_of(const char *t)
{
    if (!strcmp(t, "u8")) return H5T_STD_U8LE;
    if (!strcmp(t, "i16")) return H5T_STD_I16LE;
    if (!strcmp(t, "i32")) return H5T_STD_I32LE;
    if (!strcmp(t, "i64")) return H5T_STD_I64LE;
    if (!strcmp(t, "f32")) return H5T_IEEE_F32LE;
    if (!strcmp(t, "f64")) return H5T_IEEE_F64LE;
    return H5I_INVALID_HID;
}

/* Filter 32000 is LZF (h5py's registration); this stand-in copies bytes. */
enum { LZF_FILTER = 32000 };

static size_t copy_filter(unsigned flags, size_t nelmts, const unsigned cd[], size_t nbytes,
                          size_t *buf_size, void **buf)
{
    (void)flags, (void)nelmts, (void)cd, (void)buf_size, (void)buf;
    return nbytes;
}

/* Creation properties for STORAGE, a '+'-separated list: NULL (contiguous),
 * "gzip" or "lzf" (chunks of up to 1024 rows, whole in the other dimensions),
 * "rowsN" (chunks of up to N rows; unfiltered unless gzip or lzf is named too). */
static hid_t storage_dcpl(char *storage, int nd, const hsize_t *dims)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!storage)
        return dcpl;
    hsize_t chunk[8];
    for (int i = 0; i < nd; i++)
        chunk[i] = dims[i] ? dims[i] : 1;
    long long rows = 1024;
    for (char *s = strtok(storage, "+"); s; s = strtok(NULL, "+")) {
        if (!strncmp(s, "rows", 4)) {
            if ((rows = atoll(s + 4)) < 1)
                die("bad chunk rows", s);
        } else if (!strcmp(s, "gzip")) {
            H5Pset_deflate(dcpl, 6);
        } else if (!strcmp(s, "lzf")) {
            const H5Z_class2_t lzf = {H5Z_CLASS_T_VERS, LZF_FILTER, 1, 1, "lzf", NULL, NULL,
                                      copy_filter};
            if (H5Zregister(&lzf) < 0 ||
                H5Pset_filter(dcpl, LZF_FILTER, H5Z_FLAG_MANDATORY, 0, NULL) < 0)
                die("cannot set up the stand-in filter", s);
        } else {
            die("unknown storage", s);
        }
    }
    if (nd > 0 && chunk[0] > (hsize_t)rows)
        chunk[0] = (hsize_t)rows;
    H5Pset_chunk(dcpl, nd, chunk);
    return dcpl;
}

/* Create the parent groups of an absolute path. */
static void parents(hid_t f, const char *obj)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", obj);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) {
            hid_t g = H5Gcreate2(f, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) die("cannot create group", buf);
            H5Gclose(g);
        }
        *p = '/';
    }
}

static void write_dataset(hid_t f, char *spec)
{
    char *name = strtok(spec, ":");
    char *type = strtok(NULL, ":");
    if (!name || !type) die("bad spec", spec);
    parents(f, name);
    if (!strcmp(type, "group")) {
        hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) die("cannot create group", name);
        H5Gclose(g);
        return;
    }
    char *dims_text = strtok(NULL, ":");
    char *values = strtok(NULL, "");
    if (!dims_text) die("no dimensions in", name);
    char *storage = strchr(type, '+');
    if (storage)
        *storage++ = '\0';
    hsize_t dims[8];
    int nd = 0;
    size_t total = 1;
    for (char *d = strtok(dims_text, "x"); d && nd < 8; d = strtok(NULL, "x")) {
        dims[nd] = strtoull(d, NULL, 10);
        total *= dims[nd++];
    }
    hid_t dcpl = storage_dcpl(storage, nd, dims);
    if (values && !strcmp(values, "allocated"))
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    if (values && (!strcmp(values, "unwritten") || !strcmp(values, "allocated"))) {
        hid_t sp = H5Screate_simple(nd, dims, NULL);
        hid_t d = H5Dcreate2(f, name, type_of(type), sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (d < 0) die("cannot create", name);
        H5Dclose(d);
        H5Sclose(sp);
        H5Pclose(dcpl);
        return;
    }
    /* "half": the first half of the rows, as a writer stopped half-way would */
    const int half = values && !strcmp(values, "half");
    if (half)
        values = NULL;
    double *v = calloc(total ? total : 1, sizeof *v);
    size_t given = 0;
    for (char *t = values ? strtok(values, ",") : NULL; t && given < total; t = strtok(NULL, ","))
        v[given++] = strtod(t, NULL); /* strtod reads nan, inf and -inf */
    for (size_t i = given; i < total; i++)
        v[i] = (double)(i % 3);
    hid_t space = H5Screate_simple(nd, dims, NULL);
    hid_t d, ft;
    herr_t e;
    if (half) {
        hsize_t start[8] = {0}, count[8];
        for (int i = 0; i < nd; i++)
            count[i] = dims[i];
        count[0] = dims[0] / 2;
        d = H5Dcreate2(f, name, type_of(type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        hid_t ms = H5Screate_simple(nd, count, NULL);
        e = d >= 0 && ms >= 0 ? H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) : -1;
        if (e >= 0)
            e = H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, space, H5P_DEFAULT, v);
        if (ms >= 0) H5Sclose(ms);
    } else if (!strcmp(type, "str")) {
        ft = H5Tcopy(H5T_C_S1);
        H5Tset_size(ft, 8);
        char *s = calloc(total ? total : 1, 8);
        for (size_t i = 0; i < total; i++) snprintf(s + 8 * i, 8, "%d", (int)v[i] % 1000);
        d = H5Dcreate2(f, name, ft, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        e = d >= 0 && total ? H5Dwrite(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) : 0;
        free(s);
        H5Tclose(ft);
    } else {
        ft = type_of(type);
        if (ft < 0) die("unknown type", type);
        d = H5Dcreate2(f, name, ft, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        /* HDF5 converts the doubles, including NaN and Inf for float types. */
        e = d >= 0 && total ? H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
    }
    if (d < 0 || e < 0) die("cannot write", name);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    free(v);
}

/* Overwrite the first chunk with as many bytes as it holds, none of them a
 * valid deflate stream, keeping the filter mask: "these bytes went through
 * the filters". */
static int garbage_chunk(const char *file, const char *dset)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) die("cannot open", file);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    if (d < 0) die("no dataset", dset);
    hsize_t offset[8] = {0}, size = 0;
    if (H5Dget_chunk_storage_size(d, offset, &size) < 0 || size == 0)
        die("no first chunk in", dset);
    unsigned char *junk = malloc(size);
    for (hsize_t i = 0; i < size; i++)
        junk[i] = (unsigned char)(0xA5 ^ i);
    if (H5Dwrite_chunk(d, H5P_DEFAULT, 0, offset, size, junk) < 0)
        die("cannot write the chunk of", dset);
    free(junk);
    H5Dclose(d);
    return H5Fclose(f) < 0;
}

/* The version 3 chunked layout message in the first block of DSET's version 1
 * object header: its first chunk dimension (after version, class, rank and
 * the 8-byte index address) becomes 0. */
static int zero_chunk_dim(const char *file, const char *dset)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5O_info_t oi;
    if (f < 0 || H5Oget_info_by_name2(f, dset, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        die("no dataset", dset);
    H5Fclose(f);
    FILE *fp = fopen(file, "r+b");
    unsigned char h[4096];
    size_t n = fp && fseek(fp, (long)oi.addr, SEEK_SET) == 0 ? fread(h, 1, sizeof h, fp) : 0;
    if (n < 16 || h[0] != 1)
        die("not a version 1 object header", dset);
    /* messages: type (2 bytes), size (2), flags, 3 reserved, then the data */
    for (size_t i = 16; i + 8 + 3 + 8 + 4 <= n; i += 8 + (size_t)(h[i + 2] | h[i + 3] << 8)) {
        if ((h[i] | h[i + 1] << 8) != 8 || h[i + 8] != 3 || h[i + 9] != 2)
            continue;
        static const unsigned char zero[4];
        if (fseek(fp, (long)(oi.addr + i + 8 + 3 + 8), SEEK_SET) != 0 ||
            fwrite(zero, 1, 4, fp) != 4 || fclose(fp) != 0)
            die("cannot write", file);
        return 0;
    }
    die("no version 3 chunked layout in", dset);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--zero-chunk-dim"))
        return zero_chunk_dim(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "--garbage-chunk"))
        return garbage_chunk(argv[2], argv[3]);
    if (argc == 6 && !strcmp(argv[1], "--set-value")) {
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) die("cannot open", argv[2]);
        hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
        if (d < 0) die("no dataset", argv[3]);
        hid_t space = H5Dget_space(d);
        int nd = H5Sget_simple_extent_ndims(space);
        hsize_t dims[8], start[8] = {0}, one[8];
        H5Sget_simple_extent_dims(space, dims, NULL);
        unsigned long long at = strtoull(argv[4], NULL, 10);
        for (int k = nd - 1; k >= 0; k--) { /* flat index -> coordinates */
            start[k] = at % dims[k];
            at /= dims[k];
            one[k] = 1;
        }
        double v = !strcmp(argv[5], "nan") ? NAN : !strcmp(argv[5], "inf") ? INFINITY
                                                                        : strtod(argv[5], NULL);
        hid_t mem = H5Screate(H5S_SCALAR);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, NULL);
        if (H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, &v) < 0)
            die("cannot write", argv[3]);
        H5Sclose(mem);
        H5Sclose(space);
        H5Dclose(d);
        return H5Fclose(f) < 0;
    }
    if (argc == 4 && !strcmp(argv[1], "--delete")) {
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) die("cannot open", argv[2]);
        if (H5Ldelete(f, argv[3], H5P_DEFAULT) < 0)
            die("cannot delete", argv[3]);
        return H5Fclose(f) < 0;
    }
    if (argc == 5 && !strcmp(argv[1], "--delete-attr")) {
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) die("cannot open", argv[2]);
        if (H5Adelete_by_name(f, argv[3], argv[4], H5P_DEFAULT) < 0)
            die("cannot delete attribute", argv[4]);
        return H5Fclose(f) < 0;
    }
    if (argc == 6 && (!strcmp(argv[1], "--set-attr") || !strcmp(argv[1], "--set-attr-str"))) {
        const int text = !strcmp(argv[1], "--set-attr-str");
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) die("cannot open", argv[2]);
        hid_t o = H5Oopen(f, argv[3], H5P_DEFAULT);
        if (o < 0) die("no object", argv[3]);
        if (H5Aexists(o, argv[4]) > 0)
            H5Adelete(o, argv[4]);
        long long value = strtoll(argv[5], NULL, 10);
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, strlen(argv[5]) + 1);
        hid_t ft = text ? st : H5T_STD_I64LE, mt = text ? st : H5T_NATIVE_LLONG;
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(o, argv[4], ft, s, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, mt, text ? (const void *)argv[5] : (const void *)&value) < 0)
            die("cannot write attribute", argv[4]);
        H5Tclose(st);
        H5Aclose(a);
        H5Sclose(s);
        H5Oclose(o);
        return H5Fclose(f) < 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "--replace")) {
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) die("cannot open", argv[2]);
        for (int i = 3; i < argc; i++) {
            char *colon = strchr(argv[i], ':');
            if (colon) *colon = '\0';
            if (H5Lexists(f, argv[i], H5P_DEFAULT) > 0 && H5Ldelete(f, argv[i], H5P_DEFAULT) < 0)
                die("cannot remove", argv[i]);
            if (colon) *colon = ':';
            write_dataset(f, argv[i]);
        }
        return H5Fclose(f) < 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: make_bad_h5 FILE SPEC... | make_bad_h5 --set-attr FILE OBJ NAME INT\n");
        return 2;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) die("cannot create", argv[1]);
    for (int i = 2; i < argc; i++)
        write_dataset(f, argv[i]);
    H5Pclose(fapl);
    return H5Fclose(f) < 0;
}
