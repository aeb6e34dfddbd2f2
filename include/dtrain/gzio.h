/* dtrain: reading files that may be gzip-compressed (src/gzio.c, the only
 * user of zlib): gzopen/gzread read compressed and plain files alike, so
 * every input of convert may be either. */
#ifndef DTRAIN_GZIO_H
#define DTRAIN_GZIO_H

#include <stddef.h>
#include <stdint.h>

#include "dtrain/status.h"

typedef struct gzio gzio;

/* Open path for reading (fs_check_input first: a regular file, not a
 * directory or FIFO; path must stay valid until gzio_close).  An input
 * that cannot be opened is DT_EUSAGE naming it.  The caller closes *out
 * with gzio_close. */
dt_status gzio_open(const char *path, gzio **out, dt_error *err);

/* Read up to len bytes; *got is less than len only at end of file.  A
 * gzip stream that stops mid-way is DT_EUSAGE ("truncated file?"). */
dt_status gzio_read_full(gzio *g, void *buf, size_t len, size_t *got, dt_error *err);

/* The next physical line, without its line end, into the reader's buffer;
 * *have = 0 at end of file.  A NUL byte is part of the line (*len counts
 * it), for the CSV reader to name.  *line is NUL-terminated and valid until
 * the next call; *lineno is its 1-based number. */
dt_status gzio_next_line(gzio *g, char **line, size_t *len, int64_t *lineno, int *have,
                         dt_error *err);

/* NULL allowed. */
void gzio_close(gzio *g);

#endif
