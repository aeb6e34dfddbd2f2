/* dtrain: error values and the log sink. */
#include "dtrain/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static _Thread_local dt_log_sink sink; /* none: the library is quiet */

static _Thread_local dt_names opt_names; /* keys: the library's own spelling */

dt_names dt_names_swap(dt_names next)
{
    dt_names prev = opt_names;
    opt_names = next;
    return prev;
}

dt_names dt_names_get(void) { return opt_names; }

const char *dt_opt(const char *key)
{
    static _Thread_local char buf[8][64];
    static _Thread_local unsigned next;
    if (opt_names == DT_NAMES_KEYS)
        return key;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "--%s", key);
    return b;
}

dt_log_sink dt_log_swap(dt_log_sink next)
{
    dt_log_sink prev = sink;
    sink = next;
    return prev;
}

/* Format one line and hand it to the sink (longer lines than the buffer
 * are formatted again into memory of their size). */
__attribute__((format(printf, 2, 0))) static void emit(dt_log_level level, const char *fmt,
                                                       va_list ap)
{
    if (!sink.fn || level < sink.min)
        return;
    char buf[2048], *line = buf;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n >= (int)sizeof buf && (line = malloc((size_t)n + 1)))
        vsnprintf(line, (size_t)n + 1, fmt, again);
    va_end(again);
    sink.fn(sink.user, level, line ? line : buf);
    if (line != buf)
        free(line);
}

void dt_error_clear(dt_error *err)
{
    if (err) {
        err->code = DT_OK;
        err->msg[0] = '\0';
        err->option[0] = '\0';
        err->missing = 0;
    }
}

/* A new failure: code and message; the option it concerns is the caller's
 * to add (dt_fail_opt, dt_fail_missing). */
__attribute__((format(printf, 3, 0))) static dt_status fail_v(dt_error *err, dt_status code,
                                                              const char *fmt, va_list ap)
{
    if (err) {
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        err->code = code;
        err->option[0] = '\0';
        err->missing = 0;
    }
    return code;
}

dt_status dt_fail(dt_error *err, dt_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, code, fmt, ap);
    va_end(ap);
    return code;
}

dt_status dt_fail_opt(dt_error *err, dt_status code, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, code, fmt, ap);
    va_end(ap);
    if (err)
        snprintf(err->option, sizeof err->option, "%s", key);
    return code;
}

dt_status dt_fail_missing(dt_error *err, const char *key, const char *what)
{
    dt_fail_opt(err, DT_EUSAGE, key, "%s %s is required", dt_opt(key), what);
    if (err)
        err->missing = 1;
    return DT_EUSAGE;
}

dt_status dt_fail_prefix(dt_error *err, const char *fmt, ...)
{
    if (!err)
        return DT_EINTERNAL;
    char old[DT_ERRMSG_LEN];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* append ": <old message>", truncating if needed */
    size_t used = n < 0 ? 0 : (size_t)n < sizeof err->msg ? (size_t)n : sizeof err->msg - 1;
    size_t room = sizeof err->msg - 1 - used;
    size_t olen = strlen(old);
    if (room >= 2) {
        memcpy(err->msg + used, ": ", 2);
        used += 2;
        room -= 2;
        if (olen > room)
            olen = room;
        memcpy(err->msg + used, old, olen);
        used += olen;
    }
    err->msg[used] = '\0';
    return err->code;
}

size_t dt_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t s = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = s < del ? (s < ins ? s : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

void dt_nearest_add(dt_nearest *n, const char *word, const char *candidate)
{
    size_t d = dt_edit_distance(word, candidate);
    if (!n->best || d < n->distance) {
        n->best = candidate;
        n->distance = d;
    }
}

const char *dt_nearest_get(const dt_nearest *n)
{
    if (!n->best || n->distance > 3 || 2 * n->distance >= strlen(n->best) + 1)
        return NULL;
    return n->best;
}

int dt_name_index(const char *const *names, const char *text)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], text))
            return i;
    return -1;
}

const char *dt_strerror(dt_status code)
{
    switch (code) {
    case DT_OK: return "success";
    case DT_EUSAGE: return "usage or input error";
    case DT_EIO: return "I/O error";
    case DT_ENOMEM: return "out of memory";
    case DT_ENUM: return "numerical error";
    case DT_EBUSY: return "run busy (a call from its own callback)";
    case DT_PREEMPTED: return "stopped for a later resume";
    case DT_STOPPED: return "stopped by a signal, nothing saved";
    case DT_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

void dt_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(DT_LOG_WARN, fmt, ap);
    va_end(ap);
}

void dt_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(DT_LOG_INFO, fmt, ap);
    va_end(ap);
}

double dt_peak_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

double dt_pss_mb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return 0.0;
    char line[256];
    double kb = 0.0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Pss: %lf kB", &kb) == 1)
            break;
    fclose(f);
    return kb / 1024.0;
}
