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
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "dtrain/config.h"
#include "dtrain/csvio.h"
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
    free(t->miss);
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
    if (!g) /* an input that cannot be read is the user's to fix: exit status 2 */
        return dt_fail(err, errno ? DT_EUSAGE : DT_ENOMEM, "cannot open %s: %s", path,
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
    /* damaged input, not a failing disk: the user's to fix (exit status 2) */
    if (code == Z_BUF_ERROR)
        return dt_fail(err, DT_EUSAGE,
                       "cannot read %s: the gzip data ends early (truncated file?)", path);
    return dt_fail(err, code == Z_MEM_ERROR ? DT_ENOMEM : DT_EUSAGE, "cannot read %s: %s", path,
                   msg);
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

const char *const convert_missing_names[] = {
    [MISSING_ERROR] = "error", [MISSING_MEAN] = "mean", [MISSING_DROP] = "drop", NULL};

void convert_meta_free(convert_meta *m)
{
    if (!m)
        return;
    free(m->classes);
    free(m->features);
    free(m->label_name);
    free(m->fill);
    memset(m, 0, sizeof *m);
}

typedef struct {
    gzFile g;
    const char *path;
    char *buf;      /* the current line, without its line end; NUL-terminated, and it
                       may hold NUL bytes of its own (len counts them) */
    size_t cap, len;
    int64_t lineno; /* 1-based number of the current line */
} line_reader;

/* Next physical line into lr->buf (lr->len bytes); *have = 0 at end of file.
 * Byte by byte (gzgetc is a macro on zlib's buffer): a NUL byte is part of
 * the line, for the CSV reader to name, not its end. */
static dt_status next_line(line_reader *lr, int *have, dt_error *err)
{
    size_t len = 0;
    int ch = -1;
    *have = 0;
    while ((ch = gzgetc(lr->g)) != -1) {
        if (lr->cap - len < 2) {
            size_t ncap = lr->cap ? 2 * lr->cap : 4096;
            char *nb = realloc(lr->buf, ncap);
            if (!nb)
                return dt_fail(err, DT_ENOMEM, "%s: cannot allocate %zu bytes for line %lld",
                               lr->path, ncap, (long long)lr->lineno + 1);
            lr->buf = nb;
            lr->cap = ncap;
        }
        lr->buf[len++] = (char)ch;
        if (ch == '\n')
            break;
    }
    if (ch == -1) {
        dt_status st = gz_check(lr->g, lr->path, err);
        if (st)
            return st;
        if (len == 0)
            return DT_OK; /* else the last line, without a line end */
    }
    while (len > 0 && (lr->buf[len - 1] == '\n' || lr->buf[len - 1] == '\r'))
        len--;
    lr->buf[len] = '\0';
    lr->len = len;
    lr->lineno++;
    *have = 1;
    return DT_OK;
}

/* Offset of the first byte of s (len bytes) that is not part of valid UTF-8
 * (no overlong forms, surrogates or code points past U+10FFFF), or len. */
static size_t utf8_bad_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        const unsigned c = u[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return i;
        }
        if (len - i <= n || u[i + 1] < lo || u[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((u[i + k] & 0xC0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* Texts dtrain stores as strings (header names, class labels) must be UTF-8:
 * HDF5 marks them so, and h5py, JSON and terminals decode them. */
static dt_status check_utf8(const char *text, const char *path, int64_t line, const char *col,
                            const char *what, dt_error *err)
{
    const size_t len = strlen(text), at = utf8_bad_at(text, len);
    if (at == len)
        return DT_OK;
    return dt_fail(err, DT_EUSAGE,
                   "%s, line %lld, column %s: %s is not UTF-8 text (byte 0x%02X at byte %zu of "
                   "the field); dtrain stores names as UTF-8: convert the file first (e.g. "
                   "iconv -f latin1 -t utf-8)",
                   path, (long long)line, col, what, (unsigned)(unsigned char)text[at], at + 1);
}

/* Only blanks (a NUL byte is not one). */
static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

/* An empty field or a token spreadsheets and R write for "no value". */
static int is_missing(const char *s)
{
    static const char *const tokens[] = {"NA", "N/A", "NaN", "null", "?"};
    if (*s == '\0')
        return 1;
    for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++)
        if (strcasecmp(s, tokens[i]) == 0)
            return 1;
    return 0;
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
                           "%s float64)",
                           path, (long long)line, (long long)col, tok, dt_opt("x-dtype"));
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
                       "%s %s requires",
                       path, (long long)line, (long long)col, tok, lo, hi, dt_opt("x-dtype"),
                       dt_dtype_name(t));
    if (t == DT_U8)
        ((uint8_t *)x)[i] = (uint8_t)v;
    else
        ((int32_t *)x)[i] = (int32_t)v;
    return DT_OK;
}

/* Element i of a buffer of type t, as a double. */
static double value_at(const void *x, dt_dtype t, size_t i)
{
    switch (t) {
    case DT_U8: return ((const uint8_t *)x)[i];
    case DT_I32: return ((const int32_t *)x)[i];
    case DT_I64: return (double)((const int64_t *)x)[i];
    case DT_F32: return ((const float *)x)[i];
    case DT_F64: return ((const double *)x)[i];
    }
    return 0;
}

/* Element i of a buffer of type t set to v (rounded for integer types; v is
 * a mean of values of that type, so it is in range). */
static void value_set(void *x, dt_dtype t, size_t i, double v)
{
    switch (t) {
    case DT_U8: ((uint8_t *)x)[i] = (uint8_t)lround(v); break;
    case DT_I32: ((int32_t *)x)[i] = (int32_t)lround(v); break;
    case DT_I64: ((int64_t *)x)[i] = llround(v); break;
    case DT_F32: ((float *)x)[i] = (float)v; break;
    case DT_F64: ((double *)x)[i] = v; break;
    }
}

/* ---- class labels: distinct texts, then 0..K-1 in sorted order ---- */

typedef struct {
    char *text;          /* the distinct labels, NUL-terminated, back to back */
    size_t len, cap;
    size_t *off;         /* id -> offset in text */
    int64_t n, cap_ids;
    int32_t *slot;       /* open addressing: id + 1, 0 = empty */
    int64_t nslots;
} label_set;

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void label_set_free(label_set *ls)
{
    free(ls->text);
    free(ls->off);
    free(ls->slot);
    memset(ls, 0, sizeof *ls);
}

/* The table of slots at twice the ids' room, every id placed again. */
static int rehash(label_set *ls)
{
    int64_t ns = ls->nslots ? 2 * ls->nslots : 1024;
    int32_t *slot = calloc((size_t)ns, sizeof *slot);
    if (!slot)
        return -1;
    for (int64_t id = 0; id < ls->n; id++) {
        uint64_t h = hash_text(ls->text + ls->off[id]) & (uint64_t)(ns - 1);
        while (slot[h])
            h = (h + 1) & (uint64_t)(ns - 1);
        slot[h] = (int32_t)(id + 1);
    }
    free(ls->slot);
    ls->slot = slot;
    ls->nslots = ns;
    return 0;
}

/* s's id, a new one if s was not seen before; -1 if out of memory. */
static int64_t label_intern(label_set *ls, const char *s)
{
    if (2 * (ls->n + 1) > ls->nslots && (ls->n >= INT32_MAX - 1 || rehash(ls)))
        return -1;
    uint64_t h = hash_text(s) & (uint64_t)(ls->nslots - 1);
    for (; ls->slot[h]; h = (h + 1) & (uint64_t)(ls->nslots - 1))
        if (strcmp(ls->text + ls->off[ls->slot[h] - 1], s) == 0)
            return ls->slot[h] - 1;
    size_t len = strlen(s) + 1;
    if (ls->n == ls->cap_ids) {
        int64_t nc = ls->cap_ids ? 2 * ls->cap_ids : 64;
        size_t *no = realloc(ls->off, (size_t)nc * sizeof *no);
        if (!no)
            return -1;
        ls->off = no;
        ls->cap_ids = nc;
    }
    if (ls->cap - ls->len < len) {
        size_t nc = ls->cap ? 2 * ls->cap : 4096;
        while (nc - ls->len < len)
            nc *= 2;
        char *nt = realloc(ls->text, nc);
        if (!nt)
            return -1;
        ls->text = nt;
        ls->cap = nc;
    }
    memcpy(ls->text + ls->len, s, len);
    ls->off[ls->n] = ls->len;
    ls->len += len;
    ls->slot[h] = (int32_t)(ls->n + 1);
    return ls->n++;
}

/* texts[0..n) copied into one allocation: n pointers, then the texts. */
static char **pack_texts(const char *const *texts, int64_t n)
{
    size_t total = (size_t)n * sizeof(char *);
    for (int64_t i = 0; i < n; i++)
        total += strlen(texts[i]) + 1;
    char **out = malloc(total ? total : 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (int64_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]) + 1;
        memcpy(p, texts[i], len);
        out[i] = p;
        p += len;
    }
    return out;
}

/* Sorting ids by their label: numerically (val) or in byte order (text). */
typedef struct {
    const label_set *ls;
    const double *val;
} label_order;
static label_order sort_by; /* qsort has no context argument */

static int cmp_label(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (sort_by.val)
        return (sort_by.val[i] > sort_by.val[j]) - (sort_by.val[i] < sort_by.val[j]);
    return strcmp(sort_by.ls->text + sort_by.ls->off[i], sort_by.ls->text + sort_by.ls->off[j]);
}

/* rank[id] = the class of label id: its place among the sorted distinct
 * labels (equal numbers, e.g. "1" and "01", share one); *k the classes and
 * *identity whether every label already was its class number.  names[r]
 * receives class r's name (order[] scratch). */
static void rank_labels(const label_set *ls, const double *val, int64_t *order, int32_t *rank,
                        const char **names, char (*num)[32], int64_t *k, int *identity)
{
    for (int64_t i = 0; i < ls->n; i++)
        order[i] = i;
    sort_by = (label_order){ls, val};
    qsort(order, (size_t)ls->n, sizeof *order, cmp_label);
    int64_t r = -1;
    *identity = val != NULL;
    for (int64_t i = 0; i < ls->n; i++) {
        const int64_t id = order[i];
        if (i == 0 || cmp_label(&order[i - 1], &order[i]) != 0) {
            r++;
            if (val) {
                snprintf(num[r], sizeof num[r], "%.0f", val[id]);
                names[r] = num[r];
                *identity &= val[id] == (double)r;
            } else {
                names[r] = ls->text + ls->off[id];
            }
        }
        rank[id] = (int32_t)r;
    }
    *k = r + 1;
}

/* ---- labels or quantities ---- */

convert_label_type convert_label_rule(int64_t n, int64_t distinct, int index_like, int *doubt,
                                      char *why, size_t len)
{
    const double per = (double)n / (double)(distinct > 0 ? distinct : 1);
    const int many = distinct > 100 || (distinct > 10 && per < 5);
    const int plentiful = index_like && per >= 20;
    char say[160];
    snprintf(say, sizeof say, "%lld distinct integers in %lld rows (%.1f rows per value%s)",
             (long long)distinct, (long long)n, per, index_like ? ", values 0..K-1 or 1..K" : "");
    if (doubt)
        *doubt = 0;
    if (distinct > 2 && many && !plentiful) {
        if (why)
            snprintf(why, len, "auto: %s: many values, each rare: a quantity", say);
        return CONVERT_LABEL_FLOAT;
    }
    const int sure = distinct <= 2 || index_like || per >= 20;
    if (doubt)
        *doubt = !sure;
    if (why)
        snprintf(why, len, "auto: %s: %s", say, sure ? "class labels" : "classes, by a close call");
    return CONVERT_LABEL_CLASS;
}

/* ---- one CSV read ---- */

typedef struct {
    const convert_csv_opts *opts;
    const char *path;
    convert_meta *meta;
    int64_t ncols;       /* columns of every record; -1 before the first */
    int64_t label;       /* the label's column, from 0; -1 without labels */
    int64_t first_line;  /* the first data record's line, which set ncols */
    int header_done;
    char **header;       /* the header's names (one allocation), until the first data record */
    int64_t header_n, header_line;
    int64_t n, cap_rows, d; /* rows kept; rows x, y (and miss) have room for; features */
    int64_t line;        /* the current record's first line */
    int ragged;          /* the read stopped at a record of another column count */
    void *x, *y;         /* x: n x d as opts->x_type; y: label ids (int32) or float32 */
    unsigned char *miss; /* n x d, allocated at the first missing value (mean) */
    label_set labels;
    int any_text;        /* some label is not a number */
    int64_t frac_line;   /* the first label that is a number but no integer (0: none) */
    char frac_tok[48];
} csv_read;

static dt_status check_csv_opts(const convert_csv_opts *opts, dt_error *err)
{
    const dt_dtype xt = opts->x_type;
    if (xt != DT_F32 && xt != DT_F64 && xt != DT_U8 && xt != DT_I32)
        return dt_fail(err, DT_EUSAGE, "CSV features cannot be stored as %s",
                       dt_dtype_name(xt));
    if (opts->label_col < -1)
        return dt_fail_opt(err, DT_EUSAGE, "label-column", "%s %lld: must be >= 0 (the last "
                           "column is the default)", dt_opt("label-column"),
                           (long long)opts->label_col);
    if (opts->label_name && !opts->header)
        return dt_fail_opt(err, DT_EUSAGE, "label-column", "%s %s names a column: give %s "
                           "(the names are on the CSV's first line), or the column's 0-based "
                           "index", dt_opt("label-column"), opts->label_name,
                           dt_opt("header"));
    if (opts->no_labels && opts->missing == MISSING_MEAN && (xt == DT_U8 || xt == DT_I32))
        return dt_fail(err, DT_EUSAGE, "%s %s mean keeps missing values as NaN for predict "
                       "to fill: it needs %s float32 or float64", dt_opt("no-labels"),
                       dt_opt("missing"), dt_opt("x-dtype"));
    return DT_OK;
}

/* The label's column among the header's names (nf of them). */
static dt_status find_label_name(const csv_read *c, int64_t nf, char *const *names,
                                 int64_t *col, dt_error *err)
{
    for (int64_t j = 0; j < nf; j++)
        if (strcmp(names[j], c->opts->label_name) == 0) {
            *col = j;
            return DT_OK;
        }
    char list[512] = "";
    for (int64_t j = 0, used = 0; j < nf && used < (int64_t)sizeof list - 1; j++)
        used += snprintf(list + used, sizeof list - (size_t)used, "%s'%s'", j ? ", " : "",
                         names[j]);
    return dt_fail_opt(err, DT_EUSAGE, "label-column", "%s %s: %s's header (line %lld) has no "
                       "column of that name; its columns are %s", dt_opt("label-column"),
                       c->opts->label_name, c->path, (long long)c->header_line, list);
}

/* The first record (nf fields, the header's if names != NULL) sets the column
 * count and the label's column. */
static dt_status set_columns(csv_read *c, int64_t nf, char *const *names, dt_error *err)
{
    const convert_csv_opts *o = c->opts;
    int64_t label = o->no_labels ? -1 : o->label_col < 0 ? nf - 1 : o->label_col;
    if (nf < (o->no_labels ? 1 : 2))
        return dt_fail(err, DT_EUSAGE,
                       "%s, line %lld: %lld column%s; need at least a feature%s (separate "
                       "fields by commas, semicolons, tabs or spaces; see %s)",
                       c->path, (long long)c->line, (long long)nf, nf == 1 ? "" : "s",
                       o->no_labels ? "" : " and a label", dt_opt("delimiter"));
    dt_status st;
    if (!o->no_labels && o->label_name && (st = find_label_name(c, nf, names, &label, err)))
        return st;
    if (label >= nf)
        return dt_fail_opt(err, DT_EUSAGE, "label-column",
                           "%s %lld is past the last column: %s, line %lld has "
                           "%lld columns (numbered from 0)", dt_opt("label-column"),
                           (long long)label, c->path, (long long)c->line, (long long)nf);
    c->ncols = nf;
    c->d = nf - (label >= 0);
    c->label = label;
    c->first_line = c->line;
    if (!names)
        return DT_OK;
    for (int64_t j = 0; j < nf; j++) {
        char col[32];
        snprintf(col, sizeof col, "%lld", (long long)j + 1);
        if ((st = check_utf8(names[j], c->path, c->header_line, col, "the name", err)))
            return st;
    }
    c->meta->d = c->d;
    const char **feat = malloc((size_t)nf * sizeof *feat);
    if (!feat)
        return dt_fail(err, DT_ENOMEM, "%s: out of memory for the header", c->path);
    for (int64_t j = 0, k = 0; j < nf; j++)
        if (j != label)
            feat[k++] = names[j];
    c->meta->features = pack_texts(feat, c->d);
    free(feat);
    if (label >= 0)
        c->meta->label_name = strdup(names[label]);
    if (!c->meta->features || (label >= 0 && !c->meta->label_name))
        return dt_fail(err, DT_ENOMEM, "%s: out of memory for the header", c->path);
    return DT_OK;
}

/* The first data record sets the column count (the header's names are the
 * columns' when they are as many: some headers, like scikit-learn's, hold
 * other facts); every later one must have as many. */
static dt_status check_columns(csv_read *c, int64_t nf, dt_error *err)
{
    if (c->ncols < 0 && c->opts->label_name && c->header_n != nf)
        return dt_fail_opt(err, DT_EUSAGE, "label-column", "%s %s: %s's header (line %lld) "
                           "has %lld names but line %lld has %lld columns",
                           dt_opt("label-column"), c->opts->label_name, c->path,
                       (long long)c->header_line, (long long)c->header_n, (long long)c->line,
                       (long long)nf);
    if (c->ncols < 0)
        return set_columns(c, nf, c->header_n == nf ? c->header : NULL, err);
    if (nf == c->ncols)
        return DT_OK;
    c->ragged = 1;
    return dt_fail(err, DT_EUSAGE, "%s, line %lld: %lld columns, but line %lld (the first data "
                   "line) has %lld", c->path, (long long)c->line, (long long)nf,
                   (long long)c->first_line, (long long)c->ncols);
}

/* Room for row c->n in x, y and miss, doubling. */
static dt_status grow_rows(csv_read *c, dt_error *err)
{
    if (c->n < c->cap_rows)
        return DT_OK;
    const size_t xsize = dt_dtype_size(c->opts->x_type), d = (size_t)c->d;
    int64_t ncap = c->cap_rows ? 2 * c->cap_rows : 1024;
    void *nx = realloc(c->x, (size_t)ncap * d * xsize + 1);
    if (nx)
        c->x = nx;
    void *ny = nx && c->label >= 0 ? realloc(c->y, (size_t)ncap * 4) : NULL; /* int32/float32 */
    if (ny)
        c->y = ny;
    unsigned char *nm = nx && c->miss ? realloc(c->miss, (size_t)ncap * d) : NULL;
    if (nm) {
        memset(nm + (size_t)c->cap_rows * d, 0, (size_t)(ncap - c->cap_rows) * d);
        c->miss = nm;
    }
    if (!nx || (c->label >= 0 && !ny) || (c->miss && !nm))
        return dt_fail(err, DT_ENOMEM, "%s: out of memory after %lld rows", c->path,
                       (long long)c->n);
    c->cap_rows = ncap;
    return DT_OK;
}

/* Column j (from 0) for a message: "3" or "3 (alcohol)" (counted from 1). */
static const char *column_name(const csv_read *c, int64_t j, char *buf, size_t len)
{
    const char *name = j == c->label                ? c->meta->label_name
                       : c->meta->features          ? c->meta->features[j - (c->label >= 0 && j > c->label)]
                                                    : NULL;
    if (name)
        snprintf(buf, len, "%lld (%.60s)", (long long)j + 1, name);
    else
        snprintf(buf, len, "%lld", (long long)j + 1);
    return buf;
}

/* A missing feature at column j, feature k, of row c->n. */
static dt_status take_missing(csv_read *c, int64_t j, int64_t k, const char *tok, dt_error *err)
{
    char col[96];
    const size_t cell = (size_t)(c->n * c->d + k);
    if (c->opts->missing != MISSING_MEAN)
        return dt_fail(err, DT_EUSAGE, "%s, line %lld, column %s: missing value%s%.20s%s; give "
                       "%s mean or %s drop to accept missing values",
                       c->path, (long long)c->line, column_name(c, j, col, sizeof col),
                       *tok ? " ('" : " (an empty field)", tok, *tok ? "')" : "",
                       dt_opt("missing"), dt_opt("missing"));
    if (c->label < 0) { /* predict fills it with the model's /train means */
        if (c->opts->x_type == DT_F64)
            ((double *)c->x)[cell] = NAN;
        else
            ((float *)c->x)[cell] = NAN;
        return DT_OK;
    }
    if (!c->miss && !(c->miss = calloc((size_t)c->cap_rows * (size_t)c->d, 1)))
        return dt_fail(err, DT_ENOMEM, "%s: out of memory for the missing values", c->path);
    c->miss[cell] = 1;
    return store_feature(c->x, cell, c->opts->x_type, 0, tok, c->path, c->line, j + 1, err);
}

/* The label of row c->n: a float target, or the id of its text. */
static dt_status take_label(csv_read *c, int64_t j, const char *tok, dt_error *err)
{
    char col[96];
    if (is_missing(tok))
        return dt_fail(err, DT_EUSAGE, "%s, line %lld, column %s: the label is missing; give "
                       "%s drop to leave out such rows",
                       c->path, (long long)c->line, column_name(c, j, col, sizeof col),
                       dt_opt("missing"));
    double v = 0;
    if (c->opts->label_type == CONVERT_LABEL_FLOAT) {
        dt_status st = parse_field(tok, c->path, c->line, j + 1, &v, err);
        if (!st && fabs(v) > FLT_MAX)
            st = dt_fail(err, DT_EUSAGE, "%s, line %lld, column %lld: target %.40s does not "
                         "fit float32", c->path, (long long)c->line, (long long)j + 1, tok);
        if (!st)
            ((float *)c->y)[c->n] = (float)v;
        return st;
    }
    dt_status st = check_utf8(tok, c->path, c->line, column_name(c, j, col, sizeof col),
                              "the label", err);
    if (st)
        return st;
    char *end;
    v = strtod(tok, &end);
    if (end == tok || *end != '\0' || !isfinite(v))
        c->any_text = 1;
    else if ((v != floor(v) || fabs(v) > 9.0e15) && !c->frac_line) {
        c->frac_line = c->line;
        snprintf(c->frac_tok, sizeof c->frac_tok, "%.40s", tok);
    }
    int64_t id = label_intern(&c->labels, tok);
    if (id < 0)
        return dt_fail(err, DT_ENOMEM, "%s, line %lld: out of memory for the labels", c->path,
                       (long long)c->line);
    ((int32_t *)c->y)[c->n] = (int32_t)id;
    return DT_OK;
}

/* The fields of a data record into row c->n (not kept: --missing drop and a
 * missing value). */
static dt_status store_row(csv_read *c, char *const *f, int *kept, dt_error *err)
{
    *kept = 0;
    if (c->opts->missing == MISSING_DROP)
        for (int64_t j = 0; j < c->ncols; j++)
            if (is_missing(f[j])) {
                c->meta->dropped++;
                return DT_OK;
            }
    dt_status st = DT_OK;
    for (int64_t j = 0, k = 0; j < c->ncols && !st; j++) {
        if (j == c->label) {
            st = take_label(c, j, f[j], err);
            continue;
        }
        double v = 0;
        if (is_missing(f[j]))
            st = take_missing(c, j, k, f[j], err);
        else if (!(st = parse_field(f[j], c->path, c->line, j + 1, &v, err)))
            st = store_feature(c->x, (size_t)(c->n * c->d + k), c->opts->x_type, v, f[j],
                               c->path, c->line, j + 1, err);
        k++;
    }
    *kept = !st;
    return st;
}

/* csvio's callback: the header, or one data record. */
static dt_status on_record(void *user, int64_t line, int64_t nf, char *const *f, dt_error *err)
{
    csv_read *c = user;
    c->line = line;
    if (c->opts->header && !c->header_done) {
        c->header_done = 1;
        c->header_n = nf;
        c->header_line = line;
        c->header = pack_texts((const char *const *)f, nf);
        return c->header ? DT_OK : dt_fail(err, DT_ENOMEM, "%s: out of memory", c->path);
    }
    int kept = 0;
    dt_status st;
    if ((st = check_columns(c, nf, err)) || (st = grow_rows(c, err)) ||
        (st = store_row(c, f, &kept, err)))
        return st;
    c->n += kept;
    return DT_OK;
}

/* The label ids of c's rows replaced by their values as float32 targets
 * (val: each id's number). */
static dt_status to_targets(csv_read *c, const double *val, dt_error *err)
{
    for (int64_t id = 0; id < c->labels.n; id++)
        if (fabs(val[id]) > FLT_MAX)
            return dt_fail(err, DT_EUSAGE, "%s, column %lld: target %.40s does not fit float32",
                           c->path, (long long)c->label + 1, c->labels.text + c->labels.off[id]);
    int32_t *ids = c->y;
    float *y = c->y; /* the same 4 bytes a row, overwritten in place */
    for (int64_t i = 0; i < c->n; i++)
        y[i] = (float)val[ids[i]];
    c->meta->label_float = 1;
    return DT_OK;
}

/* The label ids of c's rows replaced by their class numbers 0..K-1 (sorted
 * order), and the names into meta->classes unless they are those numbers. */
static dt_status map_labels(csv_read *c, dt_error *err)
{
    const label_set *ls = &c->labels;
    const int auto_type = c->opts->label_type == CONVERT_LABEL_AUTO;
    if (!c->any_text && c->frac_line && !auto_type)
        return dt_fail(err, DT_EUSAGE, "%s, line %lld, column %lld: label %s is a number but "
                       "not an integer; give %s float (or auto) for regression "
                       "targets, or %s for a file of features only",
                       c->path, (long long)c->frac_line, (long long)c->label + 1, c->frac_tok,
                       dt_opt("label-type"), dt_opt("no-labels"));
    int64_t *order = malloc((size_t)ls->n * sizeof *order + 1);
    int32_t *rank = malloc((size_t)ls->n * sizeof *rank + 1);
    const char **names = malloc((size_t)ls->n * sizeof *names + 1);
    double *val = c->any_text ? NULL : malloc((size_t)ls->n * sizeof *val + 1);
    char(*num)[32] = c->any_text ? NULL : malloc((size_t)ls->n * sizeof *num + 1);
    dt_status st = DT_OK;
    if (!order || !rank || !names || (!c->any_text && (!val || !num))) {
        st = dt_fail(err, DT_ENOMEM, "%s: out of memory for %lld labels", c->path,
                     (long long)ls->n);
        goto out;
    }
    for (int64_t i = 0; val && i < ls->n; i++)
        val[i] = strtod(ls->text + ls->off[i], NULL);
    if (c->any_text) {
        snprintf(c->meta->label_rule, sizeof c->meta->label_rule, "%s",
                 auto_type ? "auto: text labels: classes" : "--label-type class");
    } else if (c->frac_line) { /* auto: numbers that are not all integers */
        snprintf(c->meta->label_rule, sizeof c->meta->label_rule,
                 "auto: numbers that are not all integers (line %lld: %s): float targets",
                 (long long)c->frac_line, c->frac_tok);
        st = to_targets(c, val, err);
        goto out;
    }
    int64_t k;
    int identity;
    rank_labels(ls, val, order, rank, names, num, &k, &identity);
    if (val && auto_type) {
        double lo = val[0], hi = val[0];
        for (int64_t i = 1; i < ls->n; i++) {
            lo = fmin(lo, val[i]);
            hi = fmax(hi, val[i]);
        }
        const int index_like = (lo == 0 || lo == 1) && hi == lo + (double)(k - 1);
        if (convert_label_rule(c->n, k, index_like, &c->meta->label_doubt,
                               c->meta->label_rule, sizeof c->meta->label_rule) ==
            CONVERT_LABEL_FLOAT) {
            st = to_targets(c, val, err);
            goto out;
        }
    } else if (val) {
        snprintf(c->meta->label_rule, sizeof c->meta->label_rule, "--label-type class");
    }
    int32_t *y = c->y;
    for (int64_t i = 0; i < c->n; i++)
        y[i] = rank[y[i]];
    if (!identity) {
        c->meta->n_classes = k;
        if (!(c->meta->classes = pack_texts(names, k)))
            st = dt_fail(err, DT_ENOMEM, "%s: out of memory for the class names", c->path);
    }
out:
    free(order);
    free(rank);
    free(names);
    free(val);
    free(num);
    return st;
}

/* Every line of the file fed to a csvio reader made once the first non-blank
 * line shows the delimiter. */
static dt_status read_records(csv_read *c, gzFile g, dt_error *err)
{
    line_reader lr = {.g = g, .path = c->path};
    csvio_reader *r = NULL;
    dt_status st = DT_OK;
    for (;;) {
        int have;
        if ((st = next_line(&lr, &have, err)) || !have)
            break;
        char *l = lr.buf;
        size_t len = lr.len;
        if (lr.lineno == 1 && len >= 3 && (unsigned char)l[0] == 0xEF &&
            (unsigned char)l[1] == 0xBB && (unsigned char)l[2] == 0xBF) {
            l += 3; /* UTF-8 byte order mark written by some spreadsheets */
            len -= 3;
        }
        if (!r && is_blank(l, len))
            continue;
        if (!r && (st = csvio_open(c->opts->delimiter ? c->opts->delimiter
                                                       : csvio_guess_delimiter(l),
                                   c->path, on_record, c, &r, err)))
            break;
        if ((st = csvio_feed(r, l, len, lr.lineno, err)) ||
            (st = csvio_feed(r, "\n", 1, lr.lineno, err)))
            break;
    }
    if (!st && r)
        st = csvio_finish(r, err);
    csvio_close(r);
    free(lr.buf);
    return st;
}

/* A first line that will not parse, or a second line that disagrees with
 * the first, is most often an unflagged header: say so after the message. */
static void hint_header(const csv_read *c, dt_status st, dt_error *err)
{
    if (st == DT_EUSAGE && !c->opts->header && err && c->first_line == 1 &&
        (c->n == 0 || (c->n == 1 && c->ragged))) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len,
                 " (if line 1 is a header, give %s)", dt_opt("header"));
    }
}

dt_status convert_read_csv(const char *path, const convert_csv_opts *opts, convert_table *t,
                           convert_meta *meta, dt_error *err)
{
    memset(t, 0, sizeof *t);
    memset(meta, 0, sizeof *meta);
    dt_status st = check_csv_opts(opts, err);
    if (st)
        return st;
    gzFile g = NULL; /* set by gz_open (initialised: GCC -O3 cannot see that) */
    if ((st = gz_open(path, &g, err)))
        return dt_fail_prefix(err, "%s", dt_opt("csv"));
    csv_read c = {.opts = opts, .path = path, .meta = meta, .ncols = -1};
    st = read_records(&c, g, err);
    hint_header(&c, st, err);
    gzclose(g);
    free(c.header);
    if (!st && c.n == 0)
        st = dt_fail(err, DT_EUSAGE, "%s has no data rows%s%s%s", path,
                     meta->dropped ? " left: " : "", meta->dropped ? dt_opt("missing") : "",
                     meta->dropped ? " drop left out every one" : "");
    if (!st && c.label >= 0 && opts->label_type != CONVERT_LABEL_FLOAT)
        st = map_labels(&c, err);
    if (!st && c.label >= 0 && opts->label_type == CONVERT_LABEL_FLOAT) {
        meta->label_float = 1;
        snprintf(meta->label_rule, sizeof meta->label_rule, "--label-type float");
    }
    label_set_free(&c.labels);
    t->n = c.n;
    t->d = c.d;
    t->x_type = opts->x_type;
    t->y_type = meta->label_float ? DT_F32 : DT_I32;
    t->x = c.x;
    t->y = c.y;
    t->miss = c.miss;
    if (st) {
        convert_table_free(t);
        convert_meta_free(meta);
    }
    return st;
}

dt_status convert_fill_mean(convert_table *train, convert_table *test, convert_meta *meta,
                            dt_error *err)
{
    const int64_t d = train->d;
    double *sum = calloc((size_t)d + 1, sizeof *sum);
    int64_t *cnt = calloc((size_t)d + 1, sizeof *cnt);
    dt_status st = sum && cnt ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory for the means");
    for (int64_t i = 0; !st && i < train->n; i++)
        for (int64_t j = 0; j < d; j++)
            if (!train->miss || !train->miss[i * d + j]) {
                sum[j] += value_at(train->x, train->x_type, (size_t)(i * d + j));
                cnt[j]++;
            }
    for (int64_t j = 0; !st && j < d; j++) {
        if (!cnt[j]) {
            const char *name = meta->features ? meta->features[j] : NULL;
            st = dt_fail(err, DT_EUSAGE, "feature %lld%s%s%s has no value in the /train rows "
                         "to take the mean of (%s mean); drop the column or use "
                         "%s drop", (long long)j + 1, name ? " (" : "",
                         name ? name : "", name ? ")" : "", dt_opt("missing"),
                         dt_opt("missing"));
        }
        sum[j] /= (double)(cnt[j] ? cnt[j] : 1);
    }
    free(cnt);
    if (st) {
        free(sum);
        return st;
    }
    convert_table *parts[2] = {train, test};
    for (int p = 0; p < 2; p++)
        for (int64_t i = 0; parts[p] && parts[p]->miss && i < parts[p]->n * d; i++)
            if (parts[p]->miss[i])
                value_set(parts[p]->x, parts[p]->x_type, (size_t)i, sum[i % d]);
    free(meta->fill);
    meta->fill = sum;
    meta->d = d;
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
    const size_t mrow = (size_t)src->d; /* miss: a byte per feature */
    dst->x = malloc((size_t)count * xrow);
    dst->y = malloc((size_t)count * ysz);
    dst->miss = src->miss ? malloc((size_t)count * mrow + 1) : NULL;
    if (!dst->x || !dst->y || (src->miss && !dst->miss)) {
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
        if (src->miss)
            memcpy(dst->miss + (size_t)k * mrow, src->miss + (size_t)i * mrow, mrow);
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
        return dt_fail_opt(err, DT_EUSAGE, "test-fraction", "%s %g: must be in (0, 1) to split",
                           dt_opt("test-fraction"), test_fraction);
    const int64_t n_test = llround(test_fraction * (double)all->n);
    if (n_test < 1 || n_test > all->n - 1)
        return dt_fail_opt(err, DT_EUSAGE, "test-fraction",
                       "%s %g of %lld rows leaves %lld test and %lld training rows; "
                       "each needs at least one",
                       dt_opt("test-fraction"), test_fraction, (long long)all->n, (long long)n_test,
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
    return t->y ? h5io_write(f, name, t->y_type, 1, &t->n, t->y, 1, err) : DT_OK;
}

/* What the CSV said beside the numbers: class names and fill values (the
 * layout a model keeps, dataset_write_extras), the header's names. */
static dt_status write_meta(h5file *f, const convert_meta *meta, dt_error *err)
{
    dt_data_extras ex = {.n_classes = meta->n_classes, .classes = meta->classes,
                         .d = meta->d, .fill = meta->fill};
    dt_status st = dataset_write_extras(f, &ex, err);
    if (!st && meta->features)
        st = h5io_write_strs(f, "/features", meta->d, (const char *const *)meta->features, err);
    if (!st && meta->label_name)
        st = h5io_set_attr_str(f, "/", "label_column", meta->label_name, err);
    if (!st && meta->label_rule[0])
        st = h5io_set_attr_str(f, "/", "label_type", meta->label_float ? "float" : "class", err);
    if (!st && meta->label_rule[0])
        st = h5io_set_attr_str(f, "/", "label_rule", meta->label_rule, err);
    return st;
}

dt_status convert_write(const char *out, const convert_table *train,
                        const convert_table *test, const convert_meta *meta,
                        const char *source, dt_error *err)
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
    if (!st && train)
        st = write_group(f, "/train", train, err);
    if (!st && test)
        st = write_group(f, "/test", test, err);
    if (!st && meta)
        st = write_meta(f, meta, err);
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
        return dt_fail_opt(err, DT_EUSAGE, "out", "%s %s: directory '%s' is missing or not "
                           "writable", dt_opt("out"), out, dir);
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
    info->has_y = t->y != NULL;
    for (int64_t i = 0; i < t->n * t->d; i++) /* marked, or NaN in a table without labels */
        info->n_missing += t->miss               ? t->miss[i] != 0
                           : t->x_type == DT_F32 ? isnan(((const float *)t->x)[i]) != 0
                           : t->x_type == DT_F64 ? isnan(((const double *)t->x)[i]) != 0
                                                 : 0;
    if (t->n == 0 || !t->y)
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

/* train and/or test (NULL: none) written to out with meta (may be NULL) and
 * the provenance source, and described in sum (if not NULL). */
static dt_status write_tables(const char *out, const convert_table *train,
                              const convert_table *test, const convert_meta *meta,
                              const char *source, convert_summary *sum, dt_error *err)
{
    dt_status st = convert_write(out, train, test, meta, source, err);
    if (st || !sum)
        return st;
    memset(sum, 0, sizeof *sum);
    if (train)
        convert_describe(train, "/train", &sum->g[sum->n_groups++]);
    if (test)
        convert_describe(test, "/test", &sum->g[sum->n_groups++]);
    if (meta && meta->classes) {
        sum->n_classes = meta->n_classes;
        for (int i = 0; i < sum->n_groups; i++)
            sum->g[i].n_classes = meta->n_classes; /* names, not the largest label + 1 */
        size_t used = 0, cap = sizeof sum->class_list;
        for (int64_t k = 0; k < meta->n_classes && used < cap; k++)
            used += (size_t)snprintf(sum->class_list + used, cap - used, "%s%s", k ? ", " : "",
                                     meta->classes[k]);
        if (used >= cap)
            memcpy(sum->class_list + cap - 4, "...", 4);
    }
    if (meta) {
        sum->label_float = meta->label_float;
        sum->label_doubt = meta->label_doubt;
        snprintf(sum->label_rule, sizeof sum->label_rule, "%s", meta->label_rule);
        sum->dropped = meta->dropped;
        sum->filled = meta->fill != NULL;
    }
    return DT_OK;
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
        st = write_tables(out, &train, with_test ? &test : NULL, NULL, source, sum, err);
    }
    convert_table_free(&train);
    convert_table_free(&test);
    return st;
}

/* The provenance of a CSV conversion, as stored in the file. */
static void csv_source(char *source, size_t size, const char *path, const convert_csv_opts *opts,
                       const convert_meta *meta, int split, double test_fraction, uint64_t seed)
{
    char label_col[300];
    if (opts->no_labels)
        snprintf(label_col, sizeof label_col, "none");
    else if (opts->label_name)
        snprintf(label_col, sizeof label_col, "'%.256s'", opts->label_name);
    else if (opts->label_col < 0)
        snprintf(label_col, sizeof label_col, "last");
    else
        snprintf(label_col, sizeof label_col, "%lld", (long long)opts->label_col);
    int k = snprintf(source, size, "CSV %s (%s; label column %s, %s; features %s; missing "
                     "values: %s)", path, opts->header ? "header line" : "no header", label_col,
                     meta->label_float ? "float targets" : "class labels",
                     dt_dtype_name(opts->x_type), convert_missing_names[opts->missing]);
    if (split && k > 0 && (size_t)k < size)
        snprintf(source + k, size - (size_t)k, "; test fraction %g drawn with seed %llu",
                 test_fraction, (unsigned long long)seed);
}

/* The read table into train (and test, when split), missing values filled. */
static dt_status split_and_fill(convert_table *all, const convert_csv_opts *opts,
                                double test_fraction, uint64_t seed, convert_table *train,
                                convert_table *test, convert_meta *meta, dt_error *err)
{
    dt_status st = DT_OK;
    if (test_fraction > 0) {
        st = convert_split(all, test_fraction, seed, train, test, err);
        convert_table_free(all);
    } else {
        *train = *all;
        memset(all, 0, sizeof *all);
    }
    if (!st && opts->missing == MISSING_MEAN)
        st = convert_fill_mean(train, test_fraction > 0 ? test : NULL, meta, err);
    return st;
}

dt_status convert_csv(const char *out, const char *path, const convert_csv_opts *opts,
                      double test_fraction, uint64_t seed, convert_summary *sum,
                      dt_error *err)
{
    convert_table all, train, test;
    convert_meta meta;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    if (!(test_fraction >= 0 && test_fraction < 1))
        return dt_fail_opt(err, DT_EUSAGE, "test-fraction", "%s %g: must be in [0, 1)",
                           dt_opt("test-fraction"), test_fraction);
    dt_status st = check_out_dir(out, err);
    if (st)
        return st;
    st = convert_read_csv(path, opts, &all, &meta, err);
    if (st)
        return st;
    const int split = !opts->no_labels && test_fraction > 0;
    if (opts->no_labels)
        test = all; /* new samples: the group predict reads */
    else if ((st = split_and_fill(&all, opts, split ? test_fraction : 0, seed, &train, &test,
                                  &meta, err)))
        dt_fail_prefix(err, "%s", path);
    if (!st) {
        char source[8192];
        csv_source(source, sizeof source, path, opts, &meta, split, test_fraction, seed);
        st = write_tables(out, opts->no_labels ? NULL : &train,
                          opts->no_labels || split ? &test : NULL, &meta, source, sum, err);
    }
    convert_table_free(&train);
    convert_table_free(&test);
    convert_meta_free(&meta);
    return st;
}
