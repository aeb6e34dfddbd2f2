/* dtrain: reading a CSV file for convert (convert.h): one sample per
 * record, through csvio, from a plain or gzip-compressed file (gzio). */
#include "dtrain/convert.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dtrain/convert_labels.h"
#include "dtrain/csvio.h"
#include "dtrain/gzio.h"

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

/* Texts dtrain stores as strings (header names, class labels) must be UTF-8:
 * HDF5 marks them so, and h5py, JSON and terminals decode them. */
static dt_status check_utf8(const char *text, const char *path, int64_t line, const char *col,
                            const char *what, dt_error *err)
{
    const size_t len = strlen(text), at = convert_utf8_bad_at(text, len);
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
    c->meta->features = convert_pack_texts(feat, c->d);
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
    int64_t id = label_set_intern(&c->labels, tok);
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
        c->header = convert_pack_texts((const char *const *)f, nf);
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

/* --label-type auto on integer labels: convert_label_rule on their k
 * distinct values val (the rule and any doubt into c->meta). */
static convert_label_type auto_rule(csv_read *c, const double *val, int64_t k)
{
    const label_set *ls = &c->labels;
    double lo = val[0], hi = val[0];
    for (int64_t i = 1; i < ls->n; i++) {
        lo = fmin(lo, val[i]);
        hi = fmax(hi, val[i]);
    }
    const int index_like = (lo == 0 || lo == 1) && hi == lo + (double)(k - 1);
    return convert_label_rule(c->n, k, index_like, &c->meta->label_doubt, c->meta->label_rule,
                              sizeof c->meta->label_rule);
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
    label_set_rank(ls, val, order, rank, names, num, &k, &identity);
    if (val && auto_type && auto_rule(c, val, k) == CONVERT_LABEL_FLOAT) {
        st = to_targets(c, val, err);
        goto out;
    } else if (val && !auto_type) {
        snprintf(c->meta->label_rule, sizeof c->meta->label_rule, "--label-type class");
    }
    int32_t *y = c->y;
    for (int64_t i = 0; i < c->n; i++)
        y[i] = rank[y[i]];
    if (!identity) {
        c->meta->n_classes = k;
        if (!(c->meta->classes = convert_pack_texts(names, k)))
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
static dt_status read_records(csv_read *c, gzio *g, dt_error *err)
{
    csvio_reader *r = NULL;
    dt_status st = DT_OK;
    for (;;) {
        int have;
        char *l;
        size_t len;
        int64_t lineno;
        if ((st = gzio_next_line(g, &l, &len, &lineno, &have, err)) || !have)
            break;
        if (lineno == 1 && len >= 3 && (unsigned char)l[0] == 0xEF &&
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
        if ((st = csvio_feed(r, l, len, lineno, err)) ||
            (st = csvio_feed(r, "\n", 1, lineno, err)))
            break;
    }
    if (!st && r)
        st = csvio_finish(r, err);
    csvio_close(r);
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
    gzio *g = NULL;
    if ((st = gzio_open(path, &g, err)))
        return dt_fail_prefix(err, "%s", dt_opt("csv"));
    csv_read c = {.opts = opts, .path = path, .meta = meta, .ncols = -1};
    st = read_records(&c, g, err);
    hint_header(&c, st, err);
    gzio_close(g);
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
