/* dtrain: CSV records through libcsv.  The only file that includes <csv.h>. */
#include "dtrain/csvio.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

struct csvio_reader {
    struct csv_parser p;
    char delim;
    const char *path;
    csvio_record_fn fn;
    void *user;
    dt_status st;     /* the first failure: later input is ignored */
    dt_error *err;    /* where the callbacks report it (the current call's) */
    char *text;       /* the current record's fields, each NUL-terminated */
    size_t text_len, text_cap;
    size_t *offs;     /* start of field i in text */
    char **fields;    /* built from offs when the record is complete */
    int64_t nf, cap;
    int64_t line, start; /* the line being fed; the current record's first */
    char *blanks;     /* ' ' mode: the line with its tabs made spaces */
    size_t blank_cap;
};

/* Blanks around unquoted fields: a tab is one only when it does not
 * separate fields. */
static int space_only(unsigned char c) { return c == ' '; }
static int space_or_tab(unsigned char c) { return c == ' ' || c == '\t'; }

static void fail(csvio_reader *r, dt_status st, const char *what)
{
    if (!r->st)
        r->st = dt_fail(r->err, st, "%s, line %lld: %s", r->path, (long long)r->line, what);
}

/* libcsv's field callback: s is NULL for an empty unquoted field
 * (CSV_EMPTY_IS_NULL), which separates nothing in ' ' mode. */
static void on_field(void *s, size_t len, void *data)
{
    csvio_reader *r = data;
    if (r->st || (!s && r->delim == ' '))
        return;
    if (s && memchr(s, '\0', len)) {
        if (!r->st)
            r->st = dt_fail(r->err, DT_EUSAGE, "%s, line %lld, column %lld: a NUL byte (not a "
                            "text file?)", r->path, (long long)r->line, (long long)r->nf + 1);
        return;
    }
    if (r->nf == r->cap || r->text_cap - r->text_len < len + 1) {
        int64_t ncap = r->nf == r->cap ? (r->cap ? 2 * r->cap : 64) : r->cap;
        size_t tcap = r->text_cap;
        while (tcap - r->text_len < len + 1)
            tcap = tcap ? 2 * tcap : 4096;
        size_t *no = realloc(r->offs, (size_t)ncap * sizeof *no);
        if (no)
            r->offs = no;
        char *nt = no ? realloc(r->text, tcap) : NULL;
        if (!nt) {
            fail(r, DT_ENOMEM, "out of memory for a record");
            return;
        }
        r->text = nt;
        r->cap = ncap;
        r->text_cap = tcap;
    }
    r->offs[r->nf++] = r->text_len;
    if (len)
        memcpy(r->text + r->text_len, s, len);
    r->text_len += len;
    r->text[r->text_len++] = '\0';
}

/* libcsv's record callback: hand the fields on. */
static void on_record(int c, void *data)
{
    (void)c;
    csvio_reader *r = data;
    if (!r->st && r->nf > 0) {
        char **nf = realloc(r->fields, (size_t)r->nf * sizeof *nf);
        if (nf) {
            r->fields = nf;
            for (int64_t i = 0; i < r->nf; i++)
                r->fields[i] = r->text + r->offs[i];
            r->st = r->fn(r->user, r->start, r->nf, r->fields, r->err);
        } else {
            fail(r, DT_ENOMEM, "out of memory for a record");
        }
    }
    r->nf = 0;
    r->text_len = 0;
}

dt_status csvio_open(char delim, const char *path, csvio_record_fn fn, void *user,
                     csvio_reader **out, dt_error *err)
{
    *out = NULL;
    if (delim == '"' || delim == '\n' || delim == '\r' || delim == '\0')
        return dt_fail(err, DT_EUSAGE, "a quote or a line end cannot separate CSV fields");
    csvio_reader *r = calloc(1, sizeof *r);
    if (!r || csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
        free(r);
        return dt_fail(err, DT_ENOMEM, "out of memory for the CSV reader");
    }
    csv_set_delim(&r->p, (unsigned char)delim);
    csv_set_space_func(&r->p, delim == '\t' || delim == ' ' ? space_only : space_or_tab);
    r->delim = delim;
    r->path = path;
    r->fn = fn;
    r->user = user;
    *out = r;
    return DT_OK;
}

dt_status csvio_feed(csvio_reader *r, const char *buf, size_t len, int64_t line,
                     dt_error *err)
{
    if (r->st)
        return r->st;
    r->err = err;
    r->line = line;
    if (r->nf == 0 && r->p.entry_pos == 0 && r->p.quoted == 0)
        r->start = line; /* between records: the next one starts here */
    if (r->delim == ' ' && memchr(buf, '\t', len)) {
        /* runs of blanks separate: a tab is a space (libcsv has one delimiter) */
        if (len > r->blank_cap) {
            char *nb = realloc(r->blanks, len);
            if (!nb)
                return r->st = dt_fail(err, DT_ENOMEM, "%s: out of memory", r->path);
            r->blanks = nb;
            r->blank_cap = len;
        }
        for (size_t i = 0; i < len; i++)
            r->blanks[i] = buf[i] == '\t' ? ' ' : buf[i];
        buf = r->blanks;
    }
    if (csv_parse(&r->p, buf, len, on_field, on_record, r) != len && !r->st)
        fail(r, csv_error(&r->p) == CSV_EPARSE ? DT_EUSAGE : DT_ENOMEM,
             csv_error(&r->p) == CSV_EPARSE
                 ? "misplaced quote (a quoted field must start and end with '\"', and a "
                   "quote inside it is written '\"\"')"
                 : "out of memory for a field");
    return r->st;
}

dt_status csvio_finish(csvio_reader *r, dt_error *err)
{
    if (r->st)
        return r->st;
    r->err = err;
    if (csv_fini(&r->p, on_field, on_record, r) != 0 && !r->st)
        r->st = dt_fail(err, DT_EUSAGE, "%s, line %lld: a quoted field is not closed by the "
                        "end of the file", r->path, (long long)r->start);
    return r->st;
}

void csvio_close(csvio_reader *r)
{
    if (!r)
        return;
    csv_free(&r->p);
    free(r->text);
    free(r->offs);
    free(r->fields);
    free(r->blanks);
    free(r);
}

char csvio_guess_delimiter(const char *line)
{
    int comma = 0, semi = 0, tab = 0, quoted = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && *p == ',')
            comma++;
        else if (!quoted && *p == ';')
            semi++;
        else if (!quoted && *p == '\t')
            tab++;
    }
    if (!comma && !semi && !tab)
        return ' ';
    if (semi >= tab && semi >= comma)
        return ';';
    return tab >= comma ? '\t' : ',';
}

int csvio_write_field(FILE *f, const char *s)
{
    size_t len = strlen(s);
    int plain = len == 0 || (s[0] != ' ' && s[len - 1] != ' ' && !strpbrk(s, ",;\"\r\n\t"));
    if (plain)
        return fputs(s, f) < 0 ? -1 : 0;
    return csv_fwrite(f, s, len) == 0 ? 0 : -1;
}
