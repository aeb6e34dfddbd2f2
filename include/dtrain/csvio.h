/* dtrain: CSV records, through libcsv (src/csvio.c, the only file that
 * includes <csv.h>).
 *
 * The caller reads the bytes (convert.c owns zlib) and feeds them one
 * physical line at a time; every complete record is handed to a callback as
 * NUL-terminated fields, leading and trailing blanks of unquoted fields
 * removed, quotes resolved ("a ""b""" is a "b"), and a quoted field may span
 * lines.  Blank lines are no records.  A NUL byte in a field is an error
 * naming its line and column. */
#ifndef DTRAIN_CSVIO_H
#define DTRAIN_CSVIO_H

#include <stdint.h>
#include <stdio.h>
#include "dtrain/status.h"

typedef struct csvio_reader csvio_reader;

/* One record of nf fields (valid during the call only) that began on physical
 * line `line` (counted from 1).  A non-DT_OK return stops the reading: every
 * later csvio_feed/csvio_finish returns it. */
typedef dt_status (*csvio_record_fn)(void *user, int64_t line, int64_t nf, char *const *fields,
                                     dt_error *err);

/* delim: the field separator (',', ';', '\t', any other byte but a quote or
 * a line end), or ' ' for runs of spaces (empty fields are then not fields).
 * path names the input in messages.  Free with csvio_close. */
dt_status csvio_open(char delim, const char *path, csvio_record_fn fn, void *user,
                     csvio_reader **out, dt_error *err);
/* Bytes of physical line `line`, with its line end if it has one. */
dt_status csvio_feed(csvio_reader *r, const char *buf, size_t len, int64_t line,
                     dt_error *err);
/* End of input: the last record if it had no line end; a quote left open is
 * an error. */
dt_status csvio_finish(csvio_reader *r, dt_error *err);
void csvio_close(csvio_reader *r);

/* The separator a first line suggests: the most frequent of ',', ';' and tab
 * outside quotes (a tie goes to ';', then tab: decimal commas are common in
 * ';' files), or ' ' if the line has none of them. */
char csvio_guess_delimiter(const char *line);

/* Write s as one CSV field, quoted only when it must be (it holds a comma, a
 * quote, a line end or outer blanks).  Returns 0, or -1 on a write error. */
int csvio_write_field(FILE *f, const char *s);

#endif
