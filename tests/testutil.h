/* Helpers shared by the Check tests. */
#ifndef DTRAIN_TESTUTIL_H
#define DTRAIN_TESTUTIL_H

#include <check.h>

#include "dtrain/bf16.h"
#include "dtrain/config.h"

/* A fresh temporary directory (removed at exit); returns its path. */
const char *tu_tmpdir(void);
/* Join tu_tmpdir() and name into a static rotating buffer. */
const char *tu_path(const char *name);
/* Run a suite (no fork, so it also works under MPI); returns the failure count. */
int tu_run(Suite *s);
/* main() of an MPI test: start MPI, run the suite (the library logs nothing), and return
 * 1 on every rank if it failed on any. */
int tu_run_mpi(Suite *s, int *argc, char ***argv);
/* cfg = the defaults plus `line`, options split on spaces, as command cmd
 * would parse them. */
dt_status tu_parse(dt_config *cfg, unsigned cmd, const char *line, dt_error *err);

/* x rounded to bf16 by bf16.h's rule, worked out in integers: NaN quieted,
 * a subnormal read as a zero of its sign, else round to nearest even
 * (check_matmul.c checks the kernels against it; the rule was checked
 * against VCVTNEPS2BF16 on all 2^32 inputs once, on an AMD EPYC). */
dt_bf16 tu_bf16_rule(float x);

/* The public call `call` succeeds, or the test fails with its status and
 * run's message (run NULL: the message of the last call given none).  For
 * the tests of include/dtrain.h, which they include before this file. */
#define OK(call, run)                                                                   \
    do {                                                                                \
        dtrain_status st_ = (call);                                                     \
        ck_assert_msg(st_ == DTRAIN_OK, "%s: status %d: %s", #call, (int)st_,           \
                      dtrain_errmsg(run));                                              \
    } while (0)

#endif
