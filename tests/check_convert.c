/* Tests of the converter (src/convert.c): CSV and IDX inputs, plain and gzip,
 * written to HDF5 and read back through h5io.  Reference values are the
 * numbers typed into the fixtures below; comparisons are exact (every fixture
 * value is representable in float32). */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dtrain/convert.h"
#include "dtrain/h5io.h"
#include "testutil.h"

/* ---- fixtures ---------------------------------------------------------------- */

static void write_plain(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile g = gzopen(path, "wb");
    ck_assert_msg(g != NULL, "cannot create %s", path);
    ck_assert_int_eq(gzwrite(g, data, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(g), Z_OK);
    /* Guard: the file really is gzip (magic 1f 8b), so the gz tests cannot
     * pass by reading plain text. */
    FILE *f = fopen(path, "rb");
    unsigned char m[2] = {0, 0};
    ck_assert(f != NULL);
    ck_assert_uint_eq(fread(m, 1, 2, f), 2);
    fclose(f);
    ck_assert(m[0] == 0x1f && m[1] == 0x8b);
}

static void write_file(const char *path, const void *data, size_t len, int gz)
{
    if (gz)
        write_gz(path, data, len);
    else
        write_plain(path, data, len);
}

/* An IDX file: big-endian magic and dims, then the uint8 data. */
static void write_idx(const char *path, uint32_t magic, int ndims, const uint32_t *dims,
                      const unsigned char *data, size_t len, int gz)
{
    unsigned char buf[4096];
    size_t k = 0;
    const uint32_t words[4] = {magic, dims[0], ndims > 1 ? dims[1] : 0,
                               ndims > 2 ? dims[2] : 0};
    for (int w = 0; w <= ndims; w++)
        for (int b = 3; b >= 0; b--)
            buf[k++] = (unsigned char)(words[w] >> (8 * b));
    ck_assert(k + len <= sizeof buf);
    memcpy(buf + k, data, len);
    write_file(path, buf, k + len, gz);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert(b != NULL);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Number of entries in the test directory whose name contains ".tmp.". */
static int count_temporaries(void)
{
    DIR *d = opendir(tu_tmpdir());
    ck_assert(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* Read a whole dataset as memtype; checks its rank and reports its shape and
 * stored type.  Caller frees. */
static void *read_dset(h5file *f, const char *dset, dt_dtype mem, int want_ndims, int64_t *n,
                       int64_t *d, dt_dtype *stored)
{
    int nd = 0;
    int64_t dims[8];
    dt_error err;
    dt_error_clear(&err);
    ck_assert_msg(h5io_info(f, dset, &nd, dims, stored, &err) == DT_OK, "%s", err.msg);
    ck_assert_int_eq(nd, want_ndims);
    *n = dims[0];
    *d = nd > 1 ? dims[1] : 1;
    void *buf = malloc((size_t)(*n * *d) * dt_dtype_size(mem) + 1);
    ck_assert(buf != NULL);
    ck_assert_msg(h5io_read_rows(f, dset, mem, 0, *n, buf, &err) == DT_OK, "%s", err.msg);
    return buf;
}

static h5file *open_out(const char *path)
{
    h5file *f = NULL;
    dt_error err;
    dt_error_clear(&err);
    ck_assert_msg(h5io_open_read(path, &f, &err) == DT_OK, "%s", err.msg);
    return f;
}

static const convert_csv_opts default_opts = {
    .header = 0, .label_col = -1, .label_type = CONVERT_LABEL_CLASS, .x_type = DT_F32};

/* ---- CSV -------------------------------------------------------------------- */

/* A header, spaces after commas, an exponent, a blank line, a CRLF line end
 * and a last line without a line end. */
static const char small_csv[] = "150,2,setosa,versicolor\n"
                                "1.5, 2, 0\n"
                                "-3.25,4e1,2\n"
                                "\n"
                                "0.125,7,1\r\n"
                                "8,9,2";
static const float small_x[] = {1.5f, 2, -3.25f, 40, 0.125f, 7, 8, 9};
static const int32_t small_y[] = {0, 2, 1, 2};

static void check_small_csv(int gz)
{
    const char *csv = tu_path(gz ? "small.csv.gz" : "small.csv");
    const char *out = tu_path(gz ? "small-gz.h5" : "small.h5");
    write_file(csv, small_csv, strlen(small_csv), gz);

    convert_csv_opts o = default_opts;
    o.header = 1;
    convert_summary sum;
    dt_error err;
    dt_error_clear(&err);
    ck_assert_msg(convert_csv(out, csv, &o, 0.0, 1, &sum, &err) == DT_OK, "%s", err.msg);
    ck_assert_int_eq(sum.n_groups, 1);
    ck_assert_str_eq(sum.g[0].group, "/train");
    ck_assert_int_eq(sum.g[0].n, 4);
    ck_assert_int_eq(sum.g[0].d, 2);
    ck_assert_int_eq(sum.g[0].n_classes, 3);
    ck_assert_int_eq(sum.g[0].n_present, 3);

    h5file *f = open_out(out);
    int64_t n, d;
    dt_dtype stored;
    float *x = read_dset(f, "/train/X", DT_F32, 2, &n, &d, &stored);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(d, 2);
    ck_assert_int_eq(stored, DT_F32);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(x[i] == small_x[i], "X[%d] = %g, expected %g", i, x[i], small_x[i]);
    int32_t *y = read_dset(f, "/train/y", DT_I32, 1, &n, &d, &stored);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(stored, DT_I32);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(y[i], small_y[i]);
    ck_assert(!h5io_exists(f, "/test"));

    char attr[2048];
    ck_assert(h5io_get_attr_str(f, "/", "dtrain_format", attr, sizeof attr, &err) == DT_OK);
    ck_assert_str_eq(attr, "1");
    ck_assert(h5io_get_attr_str(f, "/", "source", attr, sizeof attr, &err) == DT_OK);
    ck_assert_msg(strstr(attr, csv) != NULL, "source '%s' does not name %s", attr, csv);
    h5io_close(f, &err);
    free(x);
    free(y);
    ck_assert_int_eq(count_temporaries(), 0);
}

START_TEST(csv_round_trip_plain) { check_small_csv(0); }
END_TEST

START_TEST(csv_round_trip_gzip) { check_small_csv(1); }
END_TEST

/* Whitespace separators (spaces and tabs), the label in column 0 as a float
 * target, features kept as float64. */
START_TEST(csv_whitespace_float_targets)
{
    static const char text[] = "2.5 1 2\n\t-1.5  3   4 \n";
    const char *csv = tu_path("ws.csv"), *out = tu_path("ws.h5");
    write_plain(csv, text, strlen(text));
    convert_csv_opts o = default_opts;
    o.label_col = 0;
    o.label_type = CONVERT_LABEL_FLOAT;
    o.x_type = DT_F64;
    dt_error err;
    dt_error_clear(&err);
    ck_assert_msg(convert_csv(out, csv, &o, 0.0, 1, NULL, &err) == DT_OK, "%s", err.msg);

    h5file *f = open_out(out);
    int64_t n, d;
    dt_dtype stored;
    double *x = read_dset(f, "/train/X", DT_F64, 2, &n, &d, &stored);
    ck_assert_int_eq(stored, DT_F64);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(d, 2);
    const double want_x[] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++)
        ck_assert(x[i] == want_x[i]);
    float *y = read_dset(f, "/train/y", DT_F32, 1, &n, &d, &stored);
    ck_assert_int_eq(stored, DT_F32);
    ck_assert(y[0] == 2.5f && y[1] == -1.5f);
    h5io_close(f, &err);
    free(x);
    free(y);
}
END_TEST

START_TEST(csv_uint8_features)
{
    static const char good[] = "0,255,1\n17,3,0\n";
    static const char bad[] = "0,255,1\n17,256,0\n";
    const char *csv = tu_path("u8.csv"), *out = tu_path("u8.h5");
    convert_csv_opts o = default_opts;
    o.x_type = DT_U8;
    dt_error err;
    dt_error_clear(&err);
    write_plain(csv, good, strlen(good));
    ck_assert_msg(convert_csv(out, csv, &o, 0.0, 1, NULL, &err) == DT_OK, "%s", err.msg);
    h5file *f = open_out(out);
    int64_t n, d;
    dt_dtype stored;
    uint8_t *x = read_dset(f, "/train/X", DT_U8, 2, &n, &d, &stored);
    ck_assert_int_eq(stored, DT_U8);
    ck_assert(x[0] == 0 && x[1] == 255 && x[2] == 17 && x[3] == 3);
    h5io_close(f, &err);
    free(x);

    write_plain(csv, bad, strlen(bad));
    ck_assert_int_eq(convert_csv(out, csv, &o, 0.0, 1, NULL, &err), DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, "line 2, column 2") && strstr(err.msg, csv), "message: %s",
                  err.msg);
}
END_TEST

/* The test rows of a 20-row file split with fraction 0.25 and seed `seed`:
 * ids[] receives the first column of /test (5 values).  Also checks that
 * train and test partition the rows, keep file order and keep each row whole. */
static void split_ids(uint64_t seed, int gz, int ids[5])
{
    char text[1024];
    size_t k = 0;
    for (int i = 0; i < 20; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%d,%d,%d\n", i, 10 * i, i % 3);
    const char *csv = tu_path(gz ? "split.csv.gz" : "split.csv");
    const char *out = tu_path("split.h5");
    write_file(csv, text, k, gz);
    dt_error err;
    dt_error_clear(&err);
    convert_summary sum;
    ck_assert_msg(convert_csv(out, csv, &default_opts, 0.25, seed, &sum, &err) == DT_OK, "%s",
                  err.msg);
    ck_assert_int_eq(sum.n_groups, 2);
    ck_assert_int_eq(sum.g[0].n, 15);
    ck_assert_int_eq(sum.g[1].n, 5);
    ck_assert_str_eq(sum.g[1].group, "/test");

    h5file *f = open_out(out);
    int seen[20] = {0};
    const char *groups[2] = {"/train", "/test"};
    const int64_t want_n[2] = {15, 5};
    for (int g = 0; g < 2; g++) {
        char xs[32], ys[32];
        snprintf(xs, sizeof xs, "%s/X", groups[g]);
        snprintf(ys, sizeof ys, "%s/y", groups[g]);
        int64_t n, d;
        dt_dtype stored;
        float *x = read_dset(f, xs, DT_F32, 2, &n, &d, &stored);
        ck_assert_int_eq(n, want_n[g]);
        ck_assert_int_eq(d, 2);
        int32_t *y = read_dset(f, ys, DT_I32, 1, &n, &d, &stored);
        int prev = -1;
        for (int64_t r = 0; r < n; r++) {
            int id = (int)x[2 * r];
            ck_assert(id >= 0 && id < 20 && (float)id == x[2 * r]);
            ck_assert_msg(id > prev, "%s is not in file order", groups[g]);
            prev = id;
            seen[id]++;
            ck_assert(x[2 * r + 1] == 10.0f * id);
            ck_assert_int_eq(y[r], id % 3);
            if (g == 1)
                ids[r] = id;
        }
        free(x);
        free(y);
    }
    for (int i = 0; i < 20; i++)
        ck_assert_msg(seen[i] == 1, "row %d appears %d times", i, seen[i]);
    h5io_close(f, &err);
}

START_TEST(csv_split_partitions_rows)
{
    int a[5], b[5], c[5];
    split_ids(7, 0, a);
    split_ids(7, 1, b); /* same seed (and a gzip input): the same split */
    ck_assert_mem_eq(a, b, sizeof a);
    split_ids(8, 0, c); /* another seed: another split */
    ck_assert_msg(memcmp(a, c, sizeof a) != 0, "seeds 7 and 8 gave the same split");
    /* Not simply the last rows of the file. */
    const int tail[5] = {15, 16, 17, 18, 19};
    ck_assert(memcmp(a, tail, sizeof a) != 0);
}
END_TEST

START_TEST(csv_ragged_row_names_line)
{
    static const char text[] = "a,b,label\n1,2,0\n3,4,1\n5,6\n7,8,0\n";
    const char *csv = tu_path("ragged.csv"), *out = tu_path("ragged.h5");
    write_plain(csv, text, strlen(text));
    convert_csv_opts o = default_opts;
    o.header = 1;
    dt_error err;
    dt_error_clear(&err);
    ck_assert_int_eq(convert_csv(out, csv, &o, 0.0, 1, NULL, &err), DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, csv) && strstr(err.msg, "line 4:"), "message: %s", err.msg);
    ck_assert_msg(!strstr(err.msg, "give header"), "message: %s", err.msg);
    ck_assert(access(out, F_OK) != 0);
    ck_assert_int_eq(count_temporaries(), 0);
}
END_TEST

START_TEST(csv_fractional_label_rejected)
{
    static const char text[] = "1,2,1\n3,4,0.5\n";
    const char *csv = tu_path("frac.csv"), *out = tu_path("frac.h5");
    write_plain(csv, text, strlen(text));
    dt_error err;
    dt_error_clear(&err);
    ck_assert_int_eq(convert_csv(out, csv, &default_opts, 0.0, 1, NULL, &err), DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, csv) && strstr(err.msg, "line 2, column 3"), "message: %s",
                  err.msg);
    /* The same file is fine as regression targets. */
    convert_csv_opts o = default_opts;
    o.label_type = CONVERT_LABEL_FLOAT;
    ck_assert_msg(convert_csv(out, csv, &o, 0.0, 1, NULL, &err) == DT_OK, "%s", err.msg);
}
END_TEST

START_TEST(csv_not_a_number)
{
    static const char text[] = "1,2,1\n3,x4,0\n";
    const char *csv = tu_path("nan.csv"), *out = tu_path("nan.h5");
    write_plain(csv, text, strlen(text));
    dt_error err;
    dt_error_clear(&err);
    ck_assert_int_eq(convert_csv(out, csv, &default_opts, 0.0, 1, NULL, &err), DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, "line 2, column 2") && strstr(err.msg, "'x4'"),
                  "message: %s", err.msg);
    ck_assert_msg(!strstr(err.msg, "give header"), "message: %s", err.msg);
    /* A header given without --header: the message suggests the flag. */
    write_plain(csv, small_csv, strlen(small_csv));
    ck_assert_int_eq(convert_csv(out, csv, &default_opts, 0.0, 1, NULL, &err), DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, "line 1, column 3") && strstr(err.msg, "give header"),
                  "message: %s", err.msg);
}
END_TEST

/* ---- IDX -------------------------------------------------------------------- */

static void check_idx(int gz)
{
    /* train: 3 images of 2 x 2; test: 2 images of 2 x 2. */
    unsigned char pix[12], tpix[8];
    for (int i = 0; i < 12; i++)
        pix[i] = (unsigned char)(20 * i + 1);
    for (int i = 0; i < 8; i++)
        tpix[i] = (unsigned char)(255 - i);
    const unsigned char lab[3] = {3, 0, 9}, tlab[2] = {1, 2};
    const uint32_t idims[3] = {3, 2, 2}, ldims[1] = {3};
    const uint32_t tidims[3] = {2, 2, 2}, tldims[1] = {2};
    const char *img = tu_path(gz ? "img.gz" : "img"), *lbl = tu_path(gz ? "lbl.gz" : "lbl");
    const char *timg = tu_path(gz ? "timg.gz" : "timg"), *tlbl = tu_path(gz ? "tlbl.gz" : "tlbl");
    const char *out = tu_path(gz ? "idx-gz.h5" : "idx.h5");
    write_idx(img, 0x803, 3, idims, pix, sizeof pix, gz);
    write_idx(lbl, 0x801, 1, ldims, lab, sizeof lab, gz);
    write_idx(timg, 0x803, 3, tidims, tpix, sizeof tpix, gz);
    write_idx(tlbl, 0x801, 1, tldims, tlab, sizeof tlab, gz);

    convert_summary sum;
    dt_error err;
    dt_error_clear(&err);
    ck_assert_msg(convert_idx(out, img, lbl, timg, tlbl, &sum, &err) == DT_OK, "%s", err.msg);
    ck_assert_int_eq(sum.n_groups, 2);
    ck_assert_int_eq(sum.g[0].n_classes, 10);
    ck_assert_int_eq(sum.g[0].n_present, 3);

    h5file *f = open_out(out);
    int64_t n, d;
    dt_dtype stored;
    uint8_t *x = read_dset(f, "/train/X", DT_U8, 2, &n, &d, &stored);
    ck_assert_int_eq(stored, DT_U8);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(d, 4);
    ck_assert_mem_eq(x, pix, sizeof pix);
    int32_t *y = read_dset(f, "/train/y", DT_I32, 1, &n, &d, &stored);
    ck_assert_int_eq(stored, DT_I32);
    ck_assert(y[0] == 3 && y[1] == 0 && y[2] == 9);
    free(x);
    free(y);
    x = read_dset(f, "/test/X", DT_U8, 2, &n, &d, &stored);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(d, 4);
    ck_assert_mem_eq(x, tpix, sizeof tpix);
    y = read_dset(f, "/test/y", DT_I32, 1, &n, &d, &stored);
    ck_assert(y[0] == 1 && y[1] == 2);
    free(x);
    free(y);
    h5io_close(f, &err);

    /* Without a test set only /train is written. */
    ck_assert_msg(convert_idx(out, img, lbl, NULL, NULL, &sum, &err) == DT_OK, "%s", err.msg);
    ck_assert_int_eq(sum.n_groups, 1);
    f = open_out(out);
    ck_assert(h5io_exists(f, "/train/X") && !h5io_exists(f, "/test"));
    h5io_close(f, &err);
}

START_TEST(idx_round_trip_plain) { check_idx(0); }
END_TEST

START_TEST(idx_round_trip_gzip) { check_idx(1); }
END_TEST

START_TEST(idx_bad_magic)
{
    const unsigned char pix[4] = {1, 2, 3, 4}, lab[1] = {0};
    const uint32_t idims[3] = {1, 2, 2}, ldims[1] = {1};
    const char *img = tu_path("magic-img"), *lbl = tu_path("magic-lbl");
    write_idx(img, 0x803, 3, idims, pix, sizeof pix, 0);
    write_idx(lbl, 0x801, 1, ldims, lab, sizeof lab, 0);
    dt_error err;
    dt_error_clear(&err);
    /* Image and label files given the wrong way round. */
    ck_assert_int_eq(convert_idx(tu_path("magic.h5"), lbl, img, NULL, NULL, NULL, &err),
                     DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, lbl) && strstr(err.msg, "magic"), "message: %s", err.msg);
    /* A file that is not IDX at all. */
    write_plain(img, "hello, world\n", 13);
    ck_assert_int_eq(convert_idx(tu_path("magic.h5"), img, lbl, NULL, NULL, NULL, &err),
                     DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, img) && strstr(err.msg, "0x00000803"), "message: %s",
                  err.msg);
}
END_TEST

START_TEST(idx_count_mismatch)
{
    const unsigned char pix[12] = {0}, lab[2] = {0, 1};
    const uint32_t idims[3] = {3, 2, 2}, ldims[1] = {2};
    const char *img = tu_path("mis-img"), *lbl = tu_path("mis-lbl.gz");
    write_idx(img, 0x803, 3, idims, pix, sizeof pix, 0);
    write_idx(lbl, 0x801, 1, ldims, lab, sizeof lab, 1);
    dt_error err;
    dt_error_clear(&err);
    ck_assert_int_eq(convert_idx(tu_path("mis.h5"), img, lbl, NULL, NULL, NULL, &err),
                     DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, "3 images") && strstr(err.msg, "2 labels"), "message: %s",
                  err.msg);
}
END_TEST

START_TEST(idx_truncated)
{
    const unsigned char pix[8] = {0}, lab[3] = {0, 1, 2};
    const uint32_t idims[3] = {3, 2, 2}, ldims[1] = {3}; /* header says 12 bytes, 8 follow */
    const char *img = tu_path("trunc-img"), *lbl = tu_path("trunc-lbl");
    write_idx(img, 0x803, 3, idims, pix, sizeof pix, 0);
    write_idx(lbl, 0x801, 1, ldims, lab, sizeof lab, 0);
    dt_error err;
    dt_error_clear(&err);
    ck_assert_int_eq(convert_idx(tu_path("trunc.h5"), img, lbl, NULL, NULL, NULL, &err),
                     DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, img) && strstr(err.msg, "truncated") &&
                      strstr(err.msg, "12 bytes"),
                  "message: %s", err.msg);
    /* More data than the header describes is refused too. */
    const unsigned char long_lab[4] = {0, 1, 2, 3};
    write_idx(lbl, 0x801, 1, ldims, long_lab, sizeof long_lab, 0);
    write_idx(img, 0x803, 3, idims, (const unsigned char[12]){0}, 12, 0);
    ck_assert_int_eq(convert_idx(tu_path("trunc.h5"), img, lbl, NULL, NULL, NULL, &err),
                     DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, lbl) && strstr(err.msg, "longer"), "message: %s", err.msg);
}
END_TEST

/* A gzip file cut short must be an error, not a silently shorter data set;
 * damaged input is the user's to fix, so DT_EUSAGE (exit status 2). */
START_TEST(truncated_gzip_rejected)
{
    char text[4096];
    size_t k = 0;
    for (int i = 0; i < 200; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%d,%d,%d\n", i, 7 * i, i % 2);
    const char *csv = tu_path("cut.csv.gz");
    write_gz(csv, text, k);
    size_t len;
    unsigned char *whole = slurp(csv, &len);
    write_plain(csv, whole, len - 40); /* drops the trailer and some data */
    dt_error err;
    dt_error_clear(&err);
    ck_assert_int_eq(convert_csv(tu_path("cut.h5"), csv, &default_opts, 0.0, 1, NULL, &err),
                     DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, csv) && strstr(err.msg, "ends early"), "message: %s",
                  err.msg);

    /* The same for IDX: 4 images of 1 x 1000 whose gzip stream is cut. */
    unsigned char pix[4000];
    for (int i = 0; i < 4000; i++)
        pix[i] = (unsigned char)(i * 7919 >> 3);
    const unsigned char lab[4] = {0, 1, 2, 3};
    const uint32_t idims[3] = {4, 1, 1000}, ldims[1] = {4};
    const char *img = tu_path("cut-img.gz"), *lbl = tu_path("cut-lbl");
    write_idx(img, 0x803, 3, idims, pix, 3000, 1); /* only 3000 of 4000 bytes ... */
    free(whole);
    whole = slurp(img, &len);
    write_plain(img, whole, len - 8); /* ... and no gzip trailer */
    free(whole);
    write_idx(lbl, 0x801, 1, ldims, lab, sizeof lab, 0);
    ck_assert_int_ne(convert_idx(tu_path("cut.h5"), img, lbl, NULL, NULL, NULL, &err), DT_OK);
    ck_assert_msg(strstr(err.msg, img) && (strstr(err.msg, "ends early") ||
                                           strstr(err.msg, "truncated")),
                  "message: %s", err.msg);
}
END_TEST

/* ---- the output file --------------------------------------------------------- */

START_TEST(failed_conversion_keeps_existing_file)
{
    const char *csv = tu_path("keep.csv"), *out = tu_path("keep.h5");
    write_plain(csv, small_csv, strlen(small_csv));
    convert_csv_opts o = default_opts;
    o.header = 1;
    dt_error err;
    dt_error_clear(&err);
    ck_assert_msg(convert_csv(out, csv, &o, 0.0, 1, NULL, &err) == DT_OK, "%s", err.msg);
    size_t len0, len1;
    unsigned char *before = slurp(out, &len0);

    static const char ragged[] = "1,2,0\n3,0\n";
    const char *bad = tu_path("keep-bad.csv");
    write_plain(bad, ragged, strlen(ragged));
    ck_assert_int_eq(convert_csv(out, bad, &default_opts, 0.0, 1, NULL, &err), DT_EUSAGE);
    unsigned char *after = slurp(out, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert_mem_eq(before, after, len0);
    free(after);
    ck_assert_int_eq(count_temporaries(), 0);

    /* A failure in the middle of writing: a table whose labels have no
     * element type h5io knows, so /train/X is already in the temporary when
     * /train/y fails.  Writing straight into `out` would have truncated it. */
    convert_table broken = {.n = 2, .d = 1, .x_type = DT_F32, .y_type = (dt_dtype)99};
    float bx[2] = {1, 2}, by[2] = {0, 1};
    broken.x = bx;
    broken.y = by;
    ck_assert_int_ne(convert_write(out, &broken, NULL, NULL, "test", &err), DT_OK);
    ck_assert_msg(strstr(err.msg, out) != NULL, "message: %s", err.msg);
    after = slurp(out, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert_mem_eq(before, after, len0);
    free(after);
    ck_assert_int_eq(count_temporaries(), 0);

    /* A failure after the temporary is complete (the destination is a
     * directory, so rename fails) also removes the temporary. */
    const char *dir = tu_path("keep-dir.h5");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(convert_csv(dir, csv, &o, 0.0, 1, NULL, &err), DT_EIO);
    ck_assert_msg(strstr(err.msg, dir) != NULL, "message: %s", err.msg);
    ck_assert_int_eq(count_temporaries(), 0);

    /* A successful conversion does replace the file. */
    static const char other[] = "1,2,0\n3,4,1\n";
    write_plain(bad, other, strlen(other));
    ck_assert_msg(convert_csv(out, bad, &default_opts, 0.0, 1, NULL, &err) == DT_OK, "%s",
                  err.msg);
    after = slurp(out, &len1);
    ck_assert(len0 != len1 || memcmp(before, after, len0) != 0);
    free(before);
    free(after);
}
END_TEST

/* ---- your own data: names, delimiters, missing values ------------------------------ */

/* Convert `text` (written to name.csv) with o, split off test_fraction with
 * seed 3; the output file's name, or NULL with err set if it failed. */
static const char *convert_text(const char *name, const char *text, const convert_csv_opts *o,
                                double test_fraction, convert_summary *sum, dt_error *err)
{
    char csv[64], out[64];
    snprintf(csv, sizeof csv, "%s.csv", name);
    snprintf(out, sizeof out, "%s.h5", name);
    write_plain(tu_path(csv), text, strlen(text));
    dt_error_clear(err);
    static char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(out));
    return convert_csv(path, tu_path(csv), o, test_fraction, 3, sum, err) == DT_OK ? path : NULL;
}

/* The strings of a 1-D string dataset, checked against want[0..n). */
static void assert_strs(h5file *f, const char *dset, const char *const *want, int64_t n)
{
    int64_t got_n = -1;
    char **got = NULL;
    dt_error err;
    ck_assert_msg(h5io_read_strs(f, dset, &got_n, &got, &err) == DT_OK, "%s", err.msg);
    ck_assert_int_eq(got_n, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_str_eq(got[i], want[i]);
    free(got);
}

/* Text labels, a ';' found without being named, a header's names: classes
 * are numbered in byte order (barbera 0, barolo 1, "pinot; noir" 2, quoted
 * because it holds the delimiter). */
START_TEST(csv_text_labels_semicolon)
{
    static const char text[] = "alcohol;malic;cultivar\n"
                               "14.2;1.5;barolo\n"
                               "13.1;2.5;\"pinot; noir\"\n"
                               "12.4;3.5;barbera\n"
                               "13.7;4.5;barolo\n";
    convert_csv_opts o = default_opts;
    o.header = 1;
    convert_summary sum;
    dt_error err;
    const char *out = convert_text("names", text, &o, 0.0, &sum, &err);
    ck_assert_msg(out != NULL, "%s", err.msg);
    ck_assert_int_eq(sum.g[0].n_classes, 3);
    ck_assert_int_eq(sum.n_classes, 3);
    h5file *f = open_out(out);
    int64_t n, d;
    dt_dtype stored;
    int32_t *y = read_dset(f, "/train/y", DT_I32, 1, &n, &d, &stored);
    const int32_t want_y[] = {1, 2, 0, 1};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(y[i], want_y[i]);
    float *x = read_dset(f, "/train/X", DT_F32, 2, &n, &d, &stored);
    ck_assert_int_eq(d, 2);
    ck_assert(x[0] == 14.2f && x[1] == 1.5f && x[6] == 13.7f && x[7] == 4.5f);
    assert_strs(f, "/classes", (const char *const[]){"barbera", "barolo", "pinot; noir"}, 3);
    assert_strs(f, "/features", (const char *const[]){"alcohol", "malic"}, 2);
    char attr[64];
    ck_assert(h5io_get_attr_str(f, "/", "label_column", attr, sizeof attr, &err) == DT_OK);
    ck_assert_str_eq(attr, "cultivar");
    h5io_close(f, &err);
    free(x);
    free(y);
}
END_TEST

/* Integer labels that are not 0..K-1 become 0..K-1 in numeric order (10
 * after 9, though "10" < "9" in byte order); the originals are kept as names.
 * Labels already 0..K-1 stay as they are, with no /classes. */
START_TEST(csv_integer_labels_renumbered)
{
    static const struct {
        const char *text;
        int32_t y[4];
        int k;
        const char *names[3];
    } cases[] = {
        {"0.5,2\n1.5,1\n2.5,2\n3.5,1\n", {1, 0, 1, 0}, 2, {"1", "2"}},
        {"0.5,10\n1.5,9\n2.5,-3\n3.5,9\n", {2, 1, 0, 1}, 3, {"-3", "9", "10"}},
        {"0.5,2\n1.5,0\n2.5,1\n3.5,0\n", {2, 0, 1, 0}, 0, {NULL}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        convert_summary sum;
        dt_error err;
        const char *out = convert_text("ints", cases[c].text, &default_opts, 0.0, &sum, &err);
        ck_assert_msg(out != NULL, "%s", err.msg);
        ck_assert_int_eq(sum.g[0].n_classes, cases[c].k ? cases[c].k : 3);
        h5file *f = open_out(out);
        int64_t n, d;
        dt_dtype stored;
        int32_t *y = read_dset(f, "/train/y", DT_I32, 1, &n, &d, &stored);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(y[i] == cases[c].y[i], "case %zu: y[%d] = %d", c, i, y[i]);
        if (cases[c].k)
            assert_strs(f, "/classes", cases[c].names, cases[c].k);
        else
            ck_assert(!h5io_exists(f, "/classes"));
        h5io_close(f, &err);
        free(y);
    }
}
END_TEST

/* The label column by header name and by 0-based index: the same file. */
START_TEST(csv_label_column_name_or_index)
{
    static const char text[] = "kind,a,b\nx,1,2\ny,3,4\n";
    convert_csv_opts o = default_opts;
    o.header = 1;
    o.label_name = "kind";
    dt_error err;
    const char *out = convert_text("byname", text, &o, 0.0, NULL, &err);
    ck_assert_msg(out != NULL, "%s", err.msg);
    h5file *f = open_out(out);
    int64_t n, d;
    dt_dtype stored;
    float *x1 = read_dset(f, "/train/X", DT_F32, 2, &n, &d, &stored);
    h5io_close(f, &err);
    o.label_name = NULL;
    o.label_col = 0;
    ck_assert_msg((out = convert_text("byindex", text, &o, 0.0, NULL, &err)) != NULL, "%s",
                  err.msg);
    f = open_out(out);
    float *x2 = read_dset(f, "/train/X", DT_F32, 2, &n, &d, &stored);
    assert_strs(f, "/classes", (const char *const[]){"x", "y"}, 2);
    h5io_close(f, &err);
    const float want[] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++)
        ck_assert(x1[i] == want[i] && x2[i] == want[i]);
    free(x1);
    free(x2);
    o.label_name = "knid"; /* a misspelt name is refused, naming the columns */
    o.label_col = -1;
    ck_assert(convert_text("badname", text, &o, 0.0, NULL, &err) == NULL);
    ck_assert_msg(strstr(err.msg, "knid") && strstr(err.msg, "'kind', 'a', 'b'"), "%s",
                  err.msg);
}
END_TEST

/* Without labels every column is a feature, all rows go to /test (the group
 * predict reads) and there is no y. */
START_TEST(csv_no_labels)
{
    static const char text[] = "1\t2\t3\n4\t5\t6\n";
    convert_csv_opts o = default_opts;
    o.no_labels = 1;
    convert_summary sum;
    dt_error err;
    const char *out = convert_text("nolabels", text, &o, 0.0, &sum, &err);
    ck_assert_msg(out != NULL, "%s", err.msg);
    ck_assert_int_eq(sum.n_groups, 1);
    ck_assert_str_eq(sum.g[0].group, "/test");
    ck_assert_int_eq(sum.g[0].d, 3);
    h5file *f = open_out(out);
    ck_assert(!h5io_exists(f, "/train") && !h5io_exists(f, "/test/y"));
    int64_t n, d;
    dt_dtype stored;
    float *x = read_dset(f, "/test/X", DT_F32, 2, &n, &d, &stored);
    ck_assert(n == 2 && d == 3 && x[0] == 1 && x[5] == 6);
    h5io_close(f, &err);
    free(x);
}
END_TEST

/* Every missing token, refused by default with the line and column named. */
START_TEST(csv_missing_error)
{
    static const char *const tokens[] = {"", "NA", "n/a", "NaN", "null", "?"};
    for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++) {
        char text[64];
        snprintf(text, sizeof text, "1,2,0\n3,%s,1\n", tokens[i]);
        dt_error err;
        ck_assert(convert_text("miss", text, &default_opts, 0.0, NULL, &err) == NULL);
        ck_assert_msg(strstr(err.msg, "line 2, column 2") && strstr(err.msg, "missing"),
                      "token '%s': %s", tokens[i], err.msg);
    }
}
END_TEST

/* --missing drop leaves out the rows with a missing feature or label. */
START_TEST(csv_missing_drop)
{
    static const char text[] = "1,2,a\n3,NA,b\n5,6,\n7,8,b\n";
    convert_csv_opts o = default_opts;
    o.missing = MISSING_DROP;
    convert_summary sum;
    dt_error err;
    const char *out = convert_text("drop", text, &o, 0.0, &sum, &err);
    ck_assert_msg(out != NULL, "%s", err.msg);
    ck_assert_int_eq(sum.dropped, 2);
    h5file *f = open_out(out);
    int64_t n, d;
    dt_dtype stored;
    float *x = read_dset(f, "/train/X", DT_F32, 2, &n, &d, &stored);
    ck_assert(n == 2 && x[0] == 1 && x[2] == 7);
    assert_strs(f, "/classes", (const char *const[]){"a", "b"}, 2);
    h5io_close(f, &err);
    free(x);
}
END_TEST

/* --missing mean: the fill is the mean over the /train rows only.  Column 1
 * is the row's id (never missing), column 2 is 10 * id, missing in rows 3
 * and 7, except in rows 8..9, which hold 1000: the /train mean of column 2
 * is taken by hand from the ids that landed in /train, and it differs from
 * the mean over all rows whatever the split. */
START_TEST(csv_missing_mean_train_only)
{
    char text[1024];
    size_t k = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 3 || i == 7)
            k += (size_t)snprintf(text + k, sizeof text - k, "%d,NA,%d\n", i, i % 2);
        else
            k += (size_t)snprintf(text + k, sizeof text - k, "%d,%d,%d\n", i,
                                  i >= 8 ? 1000 : 10 * i, i % 2);
    }
    convert_csv_opts o = default_opts;
    o.missing = MISSING_MEAN;
    convert_summary sum;
    dt_error err;
    const char *out = convert_text("mean", text, &o, 0.3, &sum, &err);
    ck_assert_msg(out != NULL, "%s", err.msg);
    ck_assert(sum.filled);
    h5file *f = open_out(out);
    int64_t ntr, nte, d;
    dt_dtype stored;
    float *tr = read_dset(f, "/train/X", DT_F32, 2, &ntr, &d, &stored);
    float *te = read_dset(f, "/test/X", DT_F32, 2, &nte, &d, &stored);
    double want0 = 0, want1 = 0;
    int present = 0;
    for (int64_t i = 0; i < ntr; i++) {
        int id = (int)tr[2 * i];
        want0 += id;
        if (id != 3 && id != 7) {
            want1 += id >= 8 ? 1000 : 10 * id;
            present++;
        }
    }
    want0 /= (double)ntr;
    want1 /= present;
    int64_t nfill, one;
    double *fill = read_dset(f, "/missing_fill", DT_F64, 1, &nfill, &one, &stored);
    ck_assert_int_eq(nfill, 2);
    ck_assert_msg(fabs(fill[0] - want0) < 1e-12 && fabs(fill[1] - want1) < 1e-12,
                  "fill %g %g, expected %g %g", fill[0], fill[1], want0, want1);
    /* the missing cells hold the fill, in /train and in /test alike */
    int filled = 0;
    for (int64_t i = 0; i < ntr + nte; i++) {
        const float *row = i < ntr ? tr + 2 * i : te + 2 * (i - ntr);
        if (row[0] == 3 || row[0] == 7) {
            ck_assert(row[1] == (float)want1);
            filled++;
        }
    }
    ck_assert_int_eq(filled, 2);
    h5io_close(f, &err);
    free(tr);
    free(te);
    free(fill);
}
END_TEST

/* A missing input is a usage error (exit status 2) naming it. */
START_TEST(csv_missing_file)
{
    dt_error err;
    dt_error_clear(&err);
    const char *csv = tu_path("no-such.csv");
    ck_assert_int_eq(convert_csv(tu_path("none.h5"), csv, &default_opts, 0.0, 1, NULL, &err),
                     DT_EUSAGE);
    ck_assert_msg(strstr(err.msg, csv) != NULL, "%s", err.msg);
    ck_assert_int_eq(access(tu_path("none.h5"), F_OK), -1);
}
END_TEST

/* Names are stored as UTF-8 strings: a label or header name in another
 * encoding (Latin-1's "caf\xe9"), an overlong form or a surrogate is refused
 * naming line and column; UTF-8 of 2, 3 and 4 bytes is kept as it is. */
START_TEST(csv_names_must_be_utf8)
{
    static const struct {
        const char *text;
        int header;
        const char *where;
    } bad[] = {
        {"a,b,label\n1,2,tea\n3,4,caf\xe9\n", 1, "line 3, column 3 (label): the label"},
        {"a,b\xff,label\n1,2,x\n3,4,y\n", 1, "line 1, column 2: the name"},
        {"1,2,x\n3,4,\xc0\xaf\n", 0, "line 2, column 3: the label"},       /* overlong '/' */
        {"1,2,x\n3,4,\xed\xa0\x80\n", 0, "line 2, column 3: the label"},   /* a surrogate */
        {"1,2,x\n3,4,\xe2\x82\n", 0, "line 2, column 3: the label"},       /* cut short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        convert_csv_opts o = default_opts;
        o.header = bad[i].header;
        dt_error err;
        ck_assert(convert_text("latin1", bad[i].text, &o, 0.0, NULL, &err) == NULL);
        ck_assert_msg(strstr(err.msg, bad[i].where) && strstr(err.msg, "is not UTF-8 text"),
                      "case %zu: %s", i, err.msg);
    }
    static const char good[] = "caf\xc3\xa9,label\n1,caf\xc3\xa9\n2,\xe2\x82\xac\n"
                               "3,\xf0\x9f\x8d\xb7\n";
    convert_csv_opts o = default_opts;
    o.header = 1;
    dt_error err;
    const char *out = convert_text("utf8", good, &o, 0.0, NULL, &err);
    ck_assert_msg(out != NULL, "%s", err.msg);
    h5file *f = open_out(out);
    assert_strs(f, "/classes",
                (const char *const[]){"caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8d\xb7"}, 3);
    assert_strs(f, "/features", (const char *const[]){"caf\xc3\xa9"}, 1);
    h5io_close(f, &err);
}
END_TEST

/* A NUL byte is an error naming its line and column, plain or gzip: a line
 * of NULs was dropped as blank, and a NUL inside a field cut the line there. */
START_TEST(csv_nul_byte_refused)
{
    static const struct {
        const char text[24];
        size_t len;
        const char *where;
    } cases[] = {
        {"1,2,0\n\0\0\0\0\n3,4,1\n", 17, "line 2, column 1: a NUL byte"},
        {"1,2,0\n3,4\0 5,1\n6,7,1\n", 21, "line 2, column 2: a NUL byte"},
        {"1,2,0\n3,4,1\n5,6,\0", 17, "line 3, column 3: a NUL byte"},
    };
    const char *csv = tu_path("nul.csv"), *out = tu_path("nul.h5");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int gz = 0; gz < 2; gz++) {
            write_file(csv, cases[i].text, cases[i].len, gz);
            dt_error err;
            dt_error_clear(&err);
            ck_assert_int_eq(convert_csv(out, csv, &default_opts, 0.0, 1, NULL, &err), DT_EUSAGE);
            ck_assert_msg(strstr(err.msg, csv) && strstr(err.msg, cases[i].where),
                          "case %zu gz %d: %s", i, gz, err.msg);
            ck_assert(access(out, F_OK) != 0);
        }
}
END_TEST

static Suite *convert_suite(void)
{
    Suite *s = suite_create("convert");
    TCase *csv = tcase_create("csv");
    tcase_add_test(csv, csv_round_trip_plain);
    tcase_add_test(csv, csv_round_trip_gzip);
    tcase_add_test(csv, csv_whitespace_float_targets);
    tcase_add_test(csv, csv_uint8_features);
    tcase_add_test(csv, csv_split_partitions_rows);
    tcase_add_test(csv, csv_ragged_row_names_line);
    tcase_add_test(csv, csv_fractional_label_rejected);
    tcase_add_test(csv, csv_not_a_number);
    tcase_add_test(csv, csv_text_labels_semicolon);
    tcase_add_test(csv, csv_integer_labels_renumbered);
    tcase_add_test(csv, csv_label_column_name_or_index);
    tcase_add_test(csv, csv_no_labels);
    tcase_add_test(csv, csv_missing_error);
    tcase_add_test(csv, csv_missing_drop);
    tcase_add_test(csv, csv_missing_mean_train_only);
    tcase_add_test(csv, csv_missing_file);
    tcase_add_test(csv, csv_names_must_be_utf8);
    tcase_add_test(csv, csv_nul_byte_refused);
    suite_add_tcase(s, csv);
    TCase *idx = tcase_create("idx");
    tcase_add_test(idx, idx_round_trip_plain);
    tcase_add_test(idx, idx_round_trip_gzip);
    tcase_add_test(idx, idx_bad_magic);
    tcase_add_test(idx, idx_count_mismatch);
    tcase_add_test(idx, idx_truncated);
    tcase_add_test(idx, truncated_gzip_rejected);
    suite_add_tcase(s, idx);
    TCase *out = tcase_create("output");
    tcase_add_test(out, failed_conversion_keeps_existing_file);
    suite_add_tcase(s, out);
    return s;
}

int main(void)
{
    return tu_run(convert_suite()) != 0;
}
