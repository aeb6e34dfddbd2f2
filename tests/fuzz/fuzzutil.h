/* Shared helpers of the libFuzzer harnesses. */
#ifndef DTRAIN_FUZZUTIL_H
#define DTRAIN_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A directory private to this process, created on first use and removed at
 * exit.  Pointer into static storage. */
const char *fz_dir(void);
/* fz_dir()/name into a static buffer of its own per call site's `buf`. */
void fz_path(char *buf, size_t len, const char *name);
/* Write data (size bytes) to path, replacing it; aborts on failure (that is
 * the harness's fault, not the code under test's). */
void fz_write(const char *path, const uint8_t *data, size_t size);

#endif
