/* dtrain: reading plain or gzip-compressed files (gzio.h).
 *
 * The only file that uses zlib. */
#include "dtrain/gzio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dtrain/fsutil.h"

struct gzio {
    gzFile g;
    const char *path;
    char *buf;      /* the current line, without its line end; NUL-terminated, and it
                       may hold NUL bytes of its own (len counts them) */
    size_t cap, len;
    int64_t lineno; /* 1-based number of the current line */
};

dt_status gzio_open(const char *path, gzio **out, dt_error *err)
{
    *out = NULL;
    dt_status st = fs_check_input(path, err);
    if (st)
        return st;
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g) /* an input that cannot be read is the user's to fix: exit status 2 */
        return dt_fail(err, errno ? DT_EUSAGE : DT_ENOMEM, "cannot open %s: %s", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(g, 1u << 17);
    gzio *r = calloc(1, sizeof *r);
    if (!r) {
        gzclose(g);
        return dt_fail(err, DT_ENOMEM, "cannot open %s: out of memory", path);
    }
    r->g = g;
    r->path = path;
    *out = r;
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

dt_status gzio_read_full(gzio *in, void *buf, size_t len, size_t *got, dt_error *err)
{
    gzFile g = in->g;
    const char *path = in->path;
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

/* Next physical line into lr->buf (lr->len bytes); *have = 0 at end of file.
 * Byte by byte (gzgetc is a macro on zlib's buffer): a NUL byte is part of
 * the line, for the CSV reader to name, not its end. */
static dt_status next_line(gzio *lr, int *have, dt_error *err)
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

dt_status gzio_next_line(gzio *g, char **line, size_t *len, int64_t *lineno, int *have,
                         dt_error *err)
{
    dt_status st = next_line(g, have, err);
    *line = g->buf;
    *len = g->len;
    *lineno = g->lineno;
    return st;
}

void gzio_close(gzio *g)
{
    if (!g)
        return;
    gzclose(g->g);
    free(g->buf);
    free(g);
}
