/* Helpers shared by the Check tests. */
#ifndef DTRAIN_TESTUTIL_H
#define DTRAIN_TESTUTIL_H

#include <check.h>

/* A fresh temporary directory (removed at exit); returns its path. */
const char *tu_tmpdir(void);
/* Join tu_tmpdir() and name into a static rotating buffer. */
const char *tu_path(const char *name);
/* Run a suite (no fork, so it also works under MPI); returns the failure count. */
int tu_run(Suite *s);

#endif
