/* dtrain: IDX and CSV to dtrain's HDF5 layout.
 *
 * The only file that uses zlib: gzopen/gzread/gzgets read gzip-compressed and
 * plain files alike, so every input may be either.  HDF5 is reached only
 * through h5io. */
#include "dtrain/convert.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dtrain/config.h"
#include "dtrain/fsutil.h"
#include "dtrain/rng.h"

enum {
    IDX_MAGIC_U8_VECTOR = 0x00000801, /* uint8 labels: N */
    IDX_MAGIC_U8_IMAGES = 0x00000803  /* uint8 images: N x rows x cols */
};

void convert_table_free(convert_table *t)
{
    if (!t)
        return;
    free(t->x);
    free(t->y);
    memset(t, 0, sizeof *t);
}

/* ---- reading through zlib --------------------------------------------------- */

static dt_status gz_open(const char *path, gzFile *out, dt_error *err)
{
    dt_status st = fs_check_input(path, err);
    if (st)
        return st;
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return dt_fail(err, DT_EIO, "cannot open %s: %s", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(g, 1u << 17);
    *out = g;
    return DT_OK;
}

/* After a read came back short or failed: an error, or DT_OK for a clean end
 * of file.  A gzip stream that stops mid-way shows up as Z_BUF_ERROR. */
static dt_status gz_check(gzFile g, const char *path, dt_error *err)
{
    int code = Z_OK;
    const char *msg = gzerror(g, &code);
    if (code == Z_OK || code == Z_STREAM_END)
        return DT_OK;
    if (code == Z_ERRNO)
        return dt_fail(err, DT_EIO, "cannot read %s: %s", path, strerror(errno));
    if (code == Z_BUF_ERROR)
        return dt_fail(err, DT_EIO, "cannot read %s: the gzip data ends early (truncated file?)",
                       path);
    return dt_fail(err, DT_EIO, "cannot read %s: %s", path, msg);
}

/* Read up to len bytes; *got is less than len only at end of file. */
static dt_status gz_read_full(gzFile g, const char *path, void *buf, size_t len, size_t *got,
                              dt_error *err)
{
    size_t done = 0;
    while (done < len) {
        size_t want = len - done;
        if (want > (1u << 30)) /* gzread counts in int */
            want = 1u << 30;
        int r = gzread(g, (char *)buf + done, (unsigned)want);
        if (r < 0)
            return gz_check(g, path, err);
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return done < len ? gz_check(g, path, err) : DT_OK;
}

/* ---- IDX ------------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The header of an IDX file of uint8 data whose magic must be `magic`
 * (ndims = its low byte): dims[0..ndims) and *total, their product in bytes. */
static dt_status idx_header(gzFile g, const char *path, uint32_t magic, uint32_t dims[3],
                            size_t *total, dt_error *err)
{
    const int ndims = (int)(magic & 0xff);
    const char *what = ndims == 3 ? "uint8 images (N x rows x cols)" : "uint8 labels (N)";
    const size_t header = 4 + 4 * (size_t)ndims;
    unsigned char head[16];
    size_t got = 0;
    dt_status st = gz_read_full(g, path, head, header, &got, err);
    if (st)
        return st;
    if (got >= 4 && be32(head) != magic) {
        uint32_t m = be32(head);
        const char *hint = m == IDX_MAGIC_U8_VECTOR   ? " (that is a label file)"
                           : m == IDX_MAGIC_U8_IMAGES ? " (that is an image file)"
                                                      : "";
        return dt_fail(err, DT_EUSAGE, "%s: IDX magic number is 0x%08x%s, expected 0x%08x for %s",
                       path, (unsigned)m, hint, (unsigned)magic, what);
    }
    if (got < header)
        return dt_fail(err, DT_EUSAGE,
                       "%s is too short for an IDX header: %zu bytes, expected %zu for %s", path,
                       got, header, what);
    /* Total bytes; the check keeps the product within size_t and int64. */
    *total = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(head + 4 + 4 * i);
        if (dims[i] == 0)
            return dt_fail(err, DT_EUSAGE, "%s: IDX dimension %d is 0; nothing to convert", path,
                           i + 1);
        if (*total > (size_t)INT64_MAX / dims[i])
            return dt_fail(err, DT_EUSAGE, "%s: IDX dimensions are too large", path);
        *total *= dims[i];
    }
    return DT_OK;
}

/* The total bytes of data the header of ndims dims promised, into data, and
 * nothing after them. */
static dt_status idx_body(gzFile g, const char *path, int ndims, const uint32_t dims[3],
                          size_t total, unsigned char *data, dt_error *err)
{
    const size_t header = 4 + 4 * (size_t)ndims;
    size_t got = 0;
    dt_status st = gz_read_full(g, path, data, total, &got, err);
    if (st)
        return st;
    if (got < total && ndims == 3)
        return dt_fail(err, DT_EUSAGE,
                       "%s is truncated: its header promises %u x %u x %u = %zu bytes of "
                       "image data after the %zu-byte header, the file has %zu",
                       path, (unsigned)dims[0], (unsigned)dims[1], (unsigned)dims[2], total,
                       header, got);
    if (got < total)
        return dt_fail(err, DT_EUSAGE,
                       "%s is truncated: its header promises %u labels after the %zu-byte "
                       "header, the file has %zu",
                       path, (unsigned)dims[0], header, got);
    /* Bytes beyond what the header describes mean a wrong header or a
     * different format: refuse rather than silently drop them. */
    unsigned char extra;
    st = gz_read_full(g, path, &extra, 1, &got, err);
    if (!st && got != 0)
        st = dt_fail(err, DT_EUSAGE,
                     "%s is longer than its IDX header says (%zu data bytes expected); wrong "
                     "header or not an IDX file",
                     path, total);
    return st;
}

/* Read an IDX file of uint8 data whose magic must be `magic` (ndims = its low
 * byte) into a new buffer: dims[0..ndims) receive the sizes, *data the
 * elements in file order (caller frees). */
static dt_status idx_read(const char *path, uint32_t magic, uint32_t dims[3],
                          unsigned char **data, dt_error *err)
{
    gzFile g = NULL;
    size_t total = 0;
    *data = NULL;
    dt_status st = gz_open(path, &g, err);
    if (st)
        return st;
    if (!(st = idx_header(g, path, magic, dims, &total, err))) {
        if (!(*data = malloc(total)))
            st = dt_fail(err, DT_ENOMEM, "%s: cannot allocate %zu bytes", path, total);
        else
            st = idx_body(g, path, (int)(magic & 0xff), dims, total, *data, err);
    }
    gzclose(g);
    if (st) {
        free(*data);
        *data = NULL;
    }
    return st;
}

dt_status convert_read_idx(const char *images, const char *labels, convert_table *t,
                           dt_error *err)
{
    uint32_t idim[3], ldim[3];
    unsigned char *pix = NULL, *lab = NULL;
    memset(t, 0, sizeof *t);
    dt_status st = idx_read(images, IDX_MAGIC_U8_IMAGES, idim, &pix, err);
    if (st)
        return st;
    st = idx_read(labels, IDX_MAGIC_U8_VECTOR, ldim, &lab, err);
    if (st) {
        free(pix);
        return st;
    }
    if (idim[0] != ldim[0]) {
        free(pix);
        free(lab);
        return dt_fail(err, DT_EUSAGE, "%s holds %u images but %s holds %u labels", images,
                       (unsigned)idim[0], labels, (unsigned)ldim[0]);
    }
    int32_t *y = malloc(ldim[0] * sizeof *y);
    if (!y) {
        free(pix);
        free(lab);
        return dt_fail(err, DT_ENOMEM, "%s: cannot allocate %u labels", labels,
                       (unsigned)ldim[0]);
    }
    for (uint32_t i = 0; i < ldim[0]; i++)
        y[i] = lab[i];
    free(lab);
    t->n = idim[0];
    t->d = (int64_t)idim[1] * idim[2];
    t->x_type = DT_U8;
    t->y_type = DT_I32;
    t->x = pix; /* N x rows x cols row-major is already N x (rows*cols) */
    t->y = y;
    return DT_OK;
}

/* ---- CSV ------------------------------------------------------------------------- */

typedef struct {
    gzFile g;
    const char *path;
    char *buf;      /* the current line, without its line end */
    size_t cap;
    int64_t lineno; /* 1-based number of the current line */
} line_reader;

/* Next physical line into lr->buf; *have = 0 at end of file. */
static dt_status next_line(line_reader *lr, int *have, dt_error *err)
{
    size_t len = 0;
    *have = 0;
    for (;;) {
        if (lr->cap - len < 2) {
            size_t ncap = lr->cap ? 2 * lr->cap : 4096;
            char *nb = realloc(lr->buf, ncap);
            if (!nb)
                return dt_fail(err, DT_ENOMEM, "%s: cannot allocate %zu bytes for line %lld",
                               lr->path, ncap, (long long)lr->lineno + 1);
            lr->buf = nb;
            lr->cap = ncap;
        }
        size_t room = lr->cap - len;
        if (room > INT_MAX)
            room = INT_MAX;
        if (!gzgets(lr->g, lr->buf + len, (int)room)) {
            dt_status st = gz_check(lr->g, lr->path, err);
            if (st)
                return st;
            if (len == 0)
                return DT_OK;
            break; /* last line without a line end */
        }
        len += strlen(lr->buf + len);
        if (len > 0 && lr->buf[len - 1] == '\n')
            break;
    }
    while (len > 0 && (lr->buf[len - 1] == '\n' || lr->buf[len - 1] == '\r'))
        lr->buf[--len] = '\0';
    lr->lineno++;
    *have = 1;
    return DT_OK;
}

static int is_blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* Split line in place into fields (pointers into line, trimmed).  comma != 0:
 * separated by commas, so empty fields are kept (and later rejected);
 * otherwise by runs of whitespace.  Returns the count, or -1 if out of memory. */
static int64_t split_fields(char *line, int comma, char ***fields, size_t *cap)
{
    int64_t n = 0;
    char *p = line;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!comma && *p == '\0')
            break;
        if ((size_t)n == *cap) {
            size_t ncap = *cap ? 2 * *cap : 64;
            char **nf = realloc(*fields, ncap * sizeof *nf);
            if (!nf)
                return -1;
            *fields = nf;
            *cap = ncap;
        }
        (*fields)[n++] = p;
        if (comma) {
            char *end = strchr(p, ',');
            char *stop = end ? end : p + strlen(p);
            char *q = stop;
            while (q > p && isspace((unsigned char)q[-1]))
                q--;
            *q = '\0';
            if (!end)
                break;
            p = end + 1;
        } else {
            while (*p && !isspace((unsigned char)*p))
                p++;
            if (*p == '\0')
                break;
            *p++ = '\0';
        }
    }
    return n;
}

/* The whole field must be a finite number. */
static dt_status parse_field(const char *s, const char *path, int64_t line, int64_t col,
                             double *v, dt_error *err)
{
    char *end;
    if (*s == '\0')
        return dt_fail(err, DT_EUSAGE, "%s, line %lld, column %lld: empty field", path,
                       (long long)line, (long long)col);
    *v = strtod(s, &end);
    if (end == s || *end != '\0')
        return dt_fail(err, DT_EUSAGE, "%s, line %lld, column %lld: '%.40s' is not a number",
                       path, (long long)line, (long long)col, s);
    if (!isfinite(*v))
        return dt_fail(err, DT_EUSAGE,
                       "%s, line %lld, column %lld: '%.40s' is not a finite number", path,
                       (long long)line, (long long)col, s);
    return DT_OK;
}

/* Store feature v at x[i] as type t; integer types take only integral values
 * in range. */
static dt_status store_feature(void *x, size_t i, dt_dtype t, double v, const char *tok,
                               const char *path, int64_t line, int64_t col, dt_error *err)
{
    double lo = 0, hi = 0;
    switch (t) {
    case DT_F64:
        ((double *)x)[i] = v;
        return DT_OK;
    case DT_F32:
        if (fabs(v) > FLT_MAX)
            return dt_fail(err, DT_EUSAGE,
                           "%s, line %lld, column %lld: %.40s does not fit float32 (use "
                           "--x-dtype float64)",
                           path, (long long)line, (long long)col, tok);
        ((float *)x)[i] = (float)v;
        return DT_OK;
    case DT_U8:
        lo = 0;
        hi = 255;
        break;
    case DT_I32:
        lo = INT32_MIN;
        hi = INT32_MAX;
        break;
    case DT_I64:
        break;
    }
    if (t != DT_U8 && t != DT_I32)
        return dt_fail(err, DT_EINTERNAL, "CSV features cannot be stored as %s",
                       dt_dtype_name(t));
    if (v != floor(v) || v < lo || v > hi)
        return dt_fail(err, DT_EUSAGE,
                       "%s, line %lld, column %lld: %.40s is not an integer in [%.0f, %.0f] as "
                       "--x-dtype %s requires",
                       path, (long long)line, (long long)col, tok, lo, hi, dt_dtype_name(t));
    if (t == DT_U8)
        ((uint8_t *)x)[i] = (uint8_t)v;
    else
        ((int32_t *)x)[i] = (int32_t)v;
    return DT_OK;
}

static dt_status store_label(void *y, size_t i, int label_float, double v, const char *tok,
                             const char *path, int64_t line, int64_t col, dt_error *err)
{
    if (label_float) {
        if (fabs(v) > FLT_MAX)
            return dt_fail(err, DT_EUSAGE,
                           "%s, line %lld, column %lld: target %.40s does not fit float32",
                           path, (long long)line, (long long)col, tok);
        ((float *)y)[i] = (float)v;
        return DT_OK;
    }
    if (v != floor(v) || v < 0 || v > INT32_MAX)
        return dt_fail(err, DT_EUSAGE,
                       "%s, line %lld, column %lld: label %.40s is not a class number (an "
                       "integer >= 0); use --label-type float for regression targets",
                       path, (long long)line, (long long)col, tok);
    ((int32_t *)y)[i] = (int32_t)v;
    return DT_OK;
}

/* One CSV read: the rows so far and the shape its first data line set. */
typedef struct {
    const convert_csv_opts *opts;
    line_reader lr;
    char **fields; /* the current line's, pointing into lr.buf */
    size_t fcap;
    int64_t ncols;      /* columns of every data line; -1 before the first */
    int64_t label;      /* the label's column, from 0 */
    int64_t first_line; /* the first data line's number */
    int64_t n, cap_rows; /* rows read; rows x and y have room for */
    int comma;  /* fields separated by commas, else by whitespace (the first data line's) */
    int ragged; /* the read stopped at a line of another column count */
    void *x, *y; /* x: n x (ncols - 1) features as opts->x_type; y: n int32 or float32 */
} csv_read;

static dt_status check_csv_opts(const convert_csv_opts *opts, dt_error *err)
{
    const dt_dtype xt = opts->x_type;
    if (xt != DT_F32 && xt != DT_F64 && xt != DT_U8 && xt != DT_I32)
        return dt_fail(err, DT_EUSAGE, "CSV features cannot be stored as %s",
                       dt_dtype_name(xt));
    if (opts->label_col < -1)
        return dt_fail(err, DT_EUSAGE, "--label-col %lld: must be >= 0, or -1 for the last",
                       (long long)opts->label_col);
    return DT_OK;
}

/* The next line that holds data (not the header, not blank); *line = NULL at
 * end of file. */
static dt_status next_data_line(csv_read *c, char **line, dt_error *err)
{
    *line = NULL;
    for (;;) {
        int have;
        dt_status st = next_line(&c->lr, &have, err);
        if (st || !have)
            return st;
        char *l = c->lr.buf;
        if (c->lr.lineno == 1 && (unsigned char)l[0] == 0xEF && (unsigned char)l[1] == 0xBB &&
            (unsigned char)l[2] == 0xBF)
            l += 3; /* UTF-8 byte order mark written by some spreadsheets */
        if ((c->opts->header && c->lr.lineno == 1) || is_blank(l))
            continue;
        *line = l;
        return DT_OK;
    }
}

/* The first data line (nf fields) sets the column count and the label's
 * column; every later one must have as many. */
static dt_status check_columns(csv_read *c, int64_t nf, dt_error *err)
{
    const char *path = c->lr.path;
    const int64_t lineno = c->lr.lineno, label_col = c->opts->label_col;
    if (c->ncols >= 0) {
        if (nf == c->ncols)
            return DT_OK;
        c->ragged = 1;
        return dt_fail(err, DT_EUSAGE,
                       "%s, line %lld: %lld columns, but line %lld (the first data line) "
                       "has %lld",
                       path, (long long)lineno, (long long)nf, (long long)c->first_line,
                       (long long)c->ncols);
    }
    if (nf < 2)
        return dt_fail(err, DT_EUSAGE,
                       "%s, line %lld: %lld column%s; need at least a feature and a "
                       "label (separate fields by commas or whitespace)",
                       path, (long long)lineno, (long long)nf, nf == 1 ? "" : "s");
    if (label_col >= nf)
        return dt_fail(err, DT_EUSAGE,
                       "--label-col %lld is past the last column: %s, line %lld has "
                       "%lld columns (numbered from 0)",
                       (long long)label_col, path, (long long)lineno, (long long)nf);
    c->ncols = nf;
    c->label = label_col < 0 ? nf - 1 : label_col;
    c->first_line = lineno;
    return DT_OK;
}

/* Room for row c->n in x and y, doubling. */
static dt_status grow_rows(csv_read *c, dt_error *err)
{
    if (c->n < c->cap_rows)
        return DT_OK;
    const size_t xsize = dt_dtype_size(c->opts->x_type), ysize = 4; /* int32 or float32 */
    int64_t ncap = c->cap_rows ? 2 * c->cap_rows : 1024;
    void *nx = realloc(c->x, (size_t)ncap * (size_t)(c->ncols - 1) * xsize);
    if (nx)
        c->x = nx;
    void *ny = nx ? realloc(c->y, (size_t)ncap * ysize) : NULL;
    if (!nx || !ny)
        return dt_fail(err, DT_ENOMEM, "%s: out of memory after %lld rows", c->lr.path,
                       (long long)c->n);
    c->y = ny;
    c->cap_rows = ncap;
    return DT_OK;
}

/* The current line's fields into row c->n: the label into y, the rest into x. */
static dt_status store_row(csv_read *c, dt_error *err)
{
    const char *path = c->lr.path;
    const int64_t n = c->n, ncols = c->ncols, label = c->label, lineno = c->lr.lineno;
    dt_status st = DT_OK;
    for (int64_t j = 0; j < ncols && !st; j++) {
        double v = 0; /* set by parse_field on success */
        st = parse_field(c->fields[j], path, lineno, j + 1, &v, err);
        if (st)
            break;
        if (j == label)
            st = store_label(c->y, (size_t)n, c->opts->label_float, v, c->fields[j], path,
                             lineno, j + 1, err);
        else
            st = store_feature(c->x, (size_t)(n * (ncols - 1) + (j < label ? j : j - 1)),
                               c->opts->x_type, v, c->fields[j], path, lineno, j + 1, err);
    }
    return st;
}

/* One data line: split, checked against the first, stored as row c->n. */
static dt_status read_row(csv_read *c, char *line, dt_error *err)
{
    if (c->ncols < 0)
        c->comma = strchr(line, ',') != NULL;
    int64_t nf = split_fields(line, c->comma, &c->fields, &c->fcap);
    if (nf < 0)
        return dt_fail(err, DT_ENOMEM, "%s, line %lld: out of memory", c->lr.path,
                       (long long)c->lr.lineno);
    dt_status st;
    if ((st = check_columns(c, nf, err)) || (st = grow_rows(c, err)) ||
        (st = store_row(c, err)))
        return st;
    c->n++;
    return DT_OK;
}

/* A first line that will not parse, or a second line that disagrees with
 * the first, is most often an unflagged header: say so after the message. */
static void hint_header(const csv_read *c, dt_status st, dt_error *err)
{
    if (st == DT_EUSAGE && !c->opts->header && err && c->first_line == 1 &&
        (c->n == 0 || (c->n == 1 && c->ragged))) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len,
                 " (if line 1 is a header, give --header)");
    }
}

dt_status convert_read_csv(const char *path, const convert_csv_opts *opts, convert_table *t,
                           dt_error *err)
{
    memset(t, 0, sizeof *t);
    dt_status st = check_csv_opts(opts, err);
    if (st)
        return st;
    csv_read c = {.opts = opts, .lr = {.path = path}, .ncols = -1};
    if ((st = gz_open(path, &c.lr.g, err)))
        return st;
    for (;;) {
        char *line;
        if ((st = next_data_line(&c, &line, err)) || !line || (st = read_row(&c, line, err)))
            break;
    }
    hint_header(&c, st, err);
    gzclose(c.lr.g);
    free(c.lr.buf);
    free(c.fields);
    if (!st && c.n == 0)
        st = dt_fail(err, DT_EUSAGE, "%s has no data rows", path);
    if (st) {
        free(c.x);
        free(c.y);
        return st;
    }
    t->n = c.n;
    t->d = c.ncols - 1;
    t->x_type = opts->x_type;
    t->y_type = opts->label_float ? DT_F32 : DT_I32;
    t->x = c.x;
    t->y = c.y;
    return DT_OK;
}

/* ---- train/test split -------------------------------------------------------------- */

/* dst gets the rows i of src with pick[i] == want, in order. */
static dt_status gather(const convert_table *src, const unsigned char *pick, int want,
                        int64_t count, convert_table *dst, dt_error *err)
{
    const size_t xrow = (size_t)src->d * dt_dtype_size(src->x_type);
    const size_t ysz = dt_dtype_size(src->y_type);
    memset(dst, 0, sizeof *dst);
    dst->x = malloc((size_t)count * xrow);
    dst->y = malloc((size_t)count * ysz);
    if (!dst->x || !dst->y) {
        convert_table_free(dst);
        return dt_fail(err, DT_ENOMEM, "cannot allocate %lld rows for the split",
                       (long long)count);
    }
    int64_t k = 0;
    for (int64_t i = 0; i < src->n; i++) {
        if (pick[i] != want)
            continue;
        memcpy((char *)dst->x + (size_t)k * xrow, (const char *)src->x + (size_t)i * xrow, xrow);
        memcpy((char *)dst->y + (size_t)k * ysz, (const char *)src->y + (size_t)i * ysz, ysz);
        k++;
    }
    dst->n = count;
    dst->d = src->d;
    dst->x_type = src->x_type;
    dst->y_type = src->y_type;
    return DT_OK;
}

dt_status convert_split(const convert_table *all, double test_fraction, uint64_t seed,
                        convert_table *train, convert_table *test, dt_error *err)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!(test_fraction > 0 && test_fraction < 1))
        return dt_fail(err, DT_EUSAGE, "--test-fraction %g: must be in (0, 1) to split",
                       test_fraction);
    const int64_t n_test = llround(test_fraction * (double)all->n);
    if (n_test < 1 || n_test > all->n - 1)
        return dt_fail(err, DT_EUSAGE,
                       "--test-fraction %g of %lld rows leaves %lld test and %lld training rows; "
                       "each needs at least one",
                       test_fraction, (long long)all->n, (long long)n_test,
                       (long long)(all->n - n_test));

    int64_t *perm = malloc((size_t)all->n * sizeof *perm);
    unsigned char *is_test = calloc((size_t)all->n, 1);
    if (!perm || !is_test) {
        free(perm);
        free(is_test);
        return dt_fail(err, DT_ENOMEM, "cannot allocate the split of %lld rows",
                       (long long)all->n);
    }
    /* A permutation drawn from (seed, RNG_STREAM_SPLIT); its first n_test
     * entries are a uniformly random n_test-subset of the rows. */
    dt_rng r;
    rng_seed(&r, seed, RNG_STREAM_SPLIT, 0);
    rng_permutation(&r, perm, all->n);
    for (int64_t i = 0; i < n_test; i++)
        is_test[perm[i]] = 1;
    free(perm);

    dt_status st = gather(all, is_test, 0, all->n - n_test, train, err);
    if (!st)
        st = gather(all, is_test, 1, n_test, test, err);
    free(is_test);
    if (st) {
        convert_table_free(train);
        convert_table_free(test);
    }
    return st;
}

/* ---- writing ------------------------------------------------------------------------ */

static dt_status write_group(h5file *f, const char *group, const convert_table *t,
                             dt_error *err)
{
    char name[64];
    int64_t xdims[2] = {t->n, t->d};
    snprintf(name, sizeof name, "%s/X", group);
    dt_status st = h5io_write(f, name, t->x_type, 2, xdims, t->x, 1, err);
    if (st)
        return st;
    snprintf(name, sizeof name, "%s/y", group);
    return h5io_write(f, name, t->y_type, 1, &t->n, t->y, 1, err);
}

dt_status convert_write(const char *out, const convert_table *train,
                        const convert_table *test, const char *source, dt_error *err)
{
    /* A temporary in the same directory, so rename() is atomic (same file
     * system) and an existing `out` stays intact until the new file is whole. */
    size_t len = strlen(out) + 32;
    char *tmp = malloc(len);
    if (!tmp)
        return dt_fail(err, DT_ENOMEM, "cannot allocate a file name");
    snprintf(tmp, len, "%s.tmp.%ld", out, (long)getpid());

    h5file *f = NULL;
    dt_status st = h5io_create(tmp, &f, err);
    if (!st)
        st = write_group(f, "/train", train, err);
    if (!st && test)
        st = write_group(f, "/test", test, err);
    if (!st)
        st = h5io_set_attr_str(f, "/", "source", source, err);
    if (!st)
        st = h5io_set_attr_str(f, "/", "dtrain_format", "1", err);
    if (f) {
        dt_error cerr;
        dt_status cst = h5io_close(f, &cerr);
        if (!st && cst) {
            *err = cerr;
            st = cst;
        }
    }
    if (!st && rename(tmp, out) != 0)
        st = dt_fail(err, DT_EIO, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
    if (st) {
        unlink(tmp);
        dt_fail_prefix(err, "writing %s", out);
    }
    free(tmp);
    return st;
}

/* ---- summaries and the whole conversions --------------------------------------------- */

/* The output's directory must exist and be writable: checked before reading
 * the inputs, which may take a while. */
static dt_status check_out_dir(const char *out, dt_error *err)
{
    char dir[DT_PATH_MAX];
    fs_dirname(out, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0)
        return dt_fail(err, DT_EUSAGE, "--out %s: directory '%s' is missing or not writable",
                       out, dir);
    return DT_OK;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void convert_describe(const convert_table *t, const char *group, convert_group_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->group, sizeof info->group, "%s", group);
    info->n = t->n;
    info->d = t->d;
    info->x_type = t->x_type;
    info->y_type = t->y_type;
    if (t->n == 0)
        return;
    if (t->y_type == DT_F32) {
        const float *y = t->y;
        info->y_min = info->y_max = y[0];
        for (int64_t i = 1; i < t->n; i++) {
            info->y_min = fmin(info->y_min, y[i]);
            info->y_max = fmax(info->y_max, y[i]);
        }
        return;
    }
    /* Sorted copy: the extremes and the number of distinct labels. */
    int32_t *s = malloc((size_t)t->n * sizeof *s);
    if (!s)
        return; /* the summary is informational; leave it empty */
    memcpy(s, t->y, (size_t)t->n * sizeof *s);
    qsort(s, (size_t)t->n, sizeof *s, cmp_i32);
    info->y_min = s[0];
    info->y_max = s[t->n - 1];
    info->n_classes = (int64_t)s[t->n - 1] + 1;
    info->n_present = 1;
    for (int64_t i = 1; i < t->n; i++)
        info->n_present += s[i] != s[i - 1];
    free(s);
}

/* train and, unless test is NULL, test written to out with the provenance
 * source, and described in sum (if not NULL). */
static dt_status write_tables(const char *out, const convert_table *train,
                              const convert_table *test, const char *source,
                              convert_summary *sum, dt_error *err)
{
    dt_status st = convert_write(out, train, test, source, err);
    if (!st && sum) {
        sum->n_groups = test ? 2 : 1;
        convert_describe(train, "/train", &sum->g[0]);
        if (test)
            convert_describe(test, "/test", &sum->g[1]);
    }
    return st;
}

dt_status convert_idx(const char *out, const char *images, const char *labels,
                      const char *test_images, const char *test_labels,
                      convert_summary *sum, dt_error *err)
{
    convert_table train, test;
    const int with_test = test_images && test_labels;
    memset(&test, 0, sizeof test);
    dt_status st = check_out_dir(out, err);
    if (st)
        return st;
    st = convert_read_idx(images, labels, &train, err);
    if (st)
        return st;
    if (with_test) {
        st = convert_read_idx(test_images, test_labels, &test, err);
        if (!st && test.d != train.d)
            st = dt_fail(err, DT_EUSAGE,
                         "test images in %s have %lld pixels each, training images in %s "
                         "have %lld",
                         test_images, (long long)test.d, images, (long long)train.d);
    }
    if (!st) {
        char source[8192];
        if (with_test)
            snprintf(source, sizeof source, "IDX train: %s %s; test: %s %s", images, labels,
                     test_images, test_labels);
        else
            snprintf(source, sizeof source, "IDX train: %s %s", images, labels);
        st = write_tables(out, &train, with_test ? &test : NULL, source, sum, err);
    }
    convert_table_free(&train);
    convert_table_free(&test);
    return st;
}

/* The provenance of a CSV conversion, as stored in the file. */
static void csv_source(char *source, size_t size, const char *path, const convert_csv_opts *opts,
                       int split, double test_fraction, uint64_t seed)
{
    char label_col[32];
    if (opts->label_col < 0)
        snprintf(label_col, sizeof label_col, "last");
    else
        snprintf(label_col, sizeof label_col, "%lld", (long long)opts->label_col);
    int k = snprintf(source, size, "CSV %s (%s; label column %s, %s; features %s)", path,
                     opts->header ? "header line skipped" : "no header", label_col,
                     opts->label_float ? "float targets" : "integer labels",
                     dt_dtype_name(opts->x_type));
    if (split && k > 0 && (size_t)k < size)
        snprintf(source + k, size - (size_t)k, "; test fraction %g drawn with seed %llu",
                 test_fraction, (unsigned long long)seed);
}

dt_status convert_csv(const char *out, const char *path, const convert_csv_opts *opts,
                      double test_fraction, uint64_t seed, convert_summary *sum,
                      dt_error *err)
{
    convert_table all, train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    if (!(test_fraction >= 0 && test_fraction < 1))
        return dt_fail(err, DT_EUSAGE, "--test-fraction %g: must be in [0, 1)", test_fraction);
    dt_status st = check_out_dir(out, err);
    if (st)
        return st;
    st = convert_read_csv(path, opts, &all, err);
    if (st)
        return st;
    const int split = test_fraction > 0;
    if (split) {
        st = convert_split(&all, test_fraction, seed, &train, &test, err);
        convert_table_free(&all);
        if (st)
            return dt_fail_prefix(err, "%s", path);
    } else {
        train = all;
    }

    char source[8192];
    csv_source(source, sizeof source, path, opts, split, test_fraction, seed);
    st = write_tables(out, &train, split ? &test : NULL, source, sum, err);
    convert_table_free(&train);
    convert_table_free(&test);
    return st;
}
