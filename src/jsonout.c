/* dtrain: JSON into a growing buffer (jsonout.h). */
#include "dtrain/jsonout.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_buf *j) { memset(j, 0, sizeof *j); }

static void put(json_buf *j, const char *text, size_t n)
{
    if (j->failed)
        return;
    if (j->cap - j->len <= n) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap - j->len <= n)
            cap *= 2;
        char *s = realloc(j->s, cap);
        if (!s) {
            j->failed = 1;
            return;
        }
        j->s = s;
        j->cap = cap;
    }
    memcpy(j->s + j->len, text, n);
    j->len += n;
    j->s[j->len] = '\0';
}

/* One number (a few dozen characters at most: a longer text is cut). */
__attribute__((format(printf, 2, 3))) static void putf(json_buf *j, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(j, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A value or a member begins: the comma before it, unless it is the first. */
static void element(json_buf *j)
{
    if (j->need_comma)
        put(j, ",", 1);
    j->need_comma = 1;
}

void json_begin_object(json_buf *j)
{
    element(j);
    put(j, "{", 1);
    j->need_comma = 0;
}

void json_end_object(json_buf *j)
{
    put(j, "}", 1);
    j->need_comma = 1;
}

void json_begin_array(json_buf *j)
{
    element(j);
    put(j, "[", 1);
    j->need_comma = 0;
}

void json_end_array(json_buf *j)
{
    put(j, "]", 1);
    j->need_comma = 1;
}

static void quoted(json_buf *j, const char *s)
{
    put(j, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            put(j, e, 2);
        } else if (*p < 0x20) {
            putf(j, "\\u%04x", *p);
        } else {
            put(j, (const char *)p, 1);
        }
    }
    put(j, "\"", 1);
}

void json_key(json_buf *j, const char *key)
{
    element(j);
    quoted(j, key);
    put(j, ":", 1);
    j->need_comma = 0; /* the value follows without one */
}

void json_string(json_buf *j, const char *s)
{
    element(j);
    quoted(j, s ? s : "");
}

void json_number(json_buf *j, double v)
{
    element(j);
    if (isfinite(v))
        putf(j, "%.17g", v);
    else
        put(j, "null", 4);
}

void json_int(json_buf *j, int64_t v)
{
    element(j);
    putf(j, "%lld", (long long)v);
}

void json_bool(json_buf *j, int v)
{
    element(j);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

void json_null(json_buf *j)
{
    element(j);
    put(j, "null", 4);
}

dt_status json_finish(json_buf *j, char **out)
{
    put(j, "\n", 1);
    if (j->failed) {
        free(j->s);
        *out = NULL;
        return DT_ENOMEM;
    }
    *out = j->s;
    return DT_OK;
}

dt_status json_render(char **out, const void *obj, void (*body)(json_buf *j, const void *obj))
{
    if (out)
        *out = NULL;
    if (!out || !obj)
        return DT_EUSAGE;
    json_buf j;
    json_init(&j);
    json_begin_object(&j);
    body(&j, obj);
    json_end_object(&j);
    return json_finish(&j, out);
}
