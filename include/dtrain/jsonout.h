/* dtrain: writing JSON into a growing buffer, for the result objects' JSON
 * renderings (dtrain_cv_json, dtrain_convert_json, dtrain_bench_json).
 * Commas between members and elements are placed by the writer; a number
 * that is not finite is written as null (JSON has no NaN).  An allocation
 * failure is remembered and reported by json_finish. */
#ifndef DTRAIN_JSONOUT_H
#define DTRAIN_JSONOUT_H

#include <stddef.h>
#include <stdint.h>

#include "dtrain/status.h"

typedef struct {
    char *s;
    size_t len, cap;
    int failed;    /* an allocation failed: json_finish returns DT_ENOMEM */
    int need_comma;
} json_buf;

void json_init(json_buf *j);
void json_begin_object(json_buf *j);
void json_end_object(json_buf *j);
void json_begin_array(json_buf *j);
void json_end_array(json_buf *j);
void json_key(json_buf *j, const char *key);
void json_string(json_buf *j, const char *s);
void json_number(json_buf *j, double v); /* %.17g: read back bit for bit */
void json_int(json_buf *j, int64_t v);
void json_bool(json_buf *j, int v);
void json_null(json_buf *j);
/* *out = the text (malloc'd, the caller frees), or NULL and DT_ENOMEM. */
dt_status json_finish(json_buf *j, char **out);
/* A result's rendering: *out = the object body writes (the braces are
 * added), as json_finish; DT_EUSAGE, *out NULL (out may be NULL), when out
 * or obj is NULL. */
dt_status json_render(char **out, const void *obj, void (*body)(json_buf *j, const void *obj));

#endif
