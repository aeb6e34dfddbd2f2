/* dtrain: fault injection and topology emulation, for the tests only.
 *
 * The library checks these values at a few points (a step, a checkpoint
 * write, the shards' node layout).  Only the test build of the library has
 * them: its object files that read a hook are compiled a second time with
 * DTRAIN_TEST_HOOKS into libdtrain-test.a (CMakeLists.txt), where dt_hooks
 * is a variable, all off by default (testhooks.c).  Unit tests set dt_hooks
 * directly; the command-line tests run tests/dtrain-test, the same command
 * linked with that library and an entry point (tests/dtrain_test.c, not
 * installed) that fills dt_hooks from DTRAIN_TEST_* variables.  In
 * libdtrain.a, libdtrain.so and the dtrain command, dt_hooks is the constant
 * "all off", which the compiler folds away: they hold no hook (the
 * no_test_hooks test checks their symbols). */
#ifndef DTRAIN_TESTHOOKS_H
#define DTRAIN_TESTHOOKS_H

#include <stdint.h>

typedef struct {
    int64_t nan_step;            /* rank 0's gradient gets a NaN at this step (-1: off) */
    int64_t corrupt_step;        /* corrupt_rank's parameters drift at this step (-1: off) */
    int corrupt_rank;
    int64_t sleep_step;          /* sleep_rank sleeps sleep_seconds in compute (-1: off), */
    int sleep_rank;              /* through signals, as a rank stuck in a computation */
    double sleep_seconds;
    int64_t crash_step;          /* abort() between writing and renaming this step's
                                    checkpoint, as a kill -9 would (-1: off) */
    int ranks_per_node;          /* take every k consecutive ranks as a node (0: real nodes) */
    int setup_sleep_rank;        /* this rank sleeps setup_sleep_seconds in set-up, after
                                    the data are read, as a slow load would (-1: off) */
    double setup_sleep_seconds;
    const char *unsaved_option;  /* saved models and checkpoints leave this option out of
                                    /config, as a dtrain that predates it wrote them
                                    (NULL: off) */
    const char *cpu_model;       /* the CPU's model name, as /proc/cpuinfo would give it
                                    (NULL: the machine's) */
    int stream_oom_rank;         /* `dtrain bench`'s streaming arrays fail to allocate on
                                    this rank, as out of memory (-1: off) */
} dt_test_hooks;

/* All off. */
#define DT_TEST_HOOKS_OFF                                                                \
    {.nan_step = -1, .corrupt_step = -1, .sleep_step = -1, .crash_step = -1,             \
     .setup_sleep_rank = -1, .stream_oom_rank = -1}

#ifdef DTRAIN_TEST_HOOKS
extern dt_test_hooks dt_hooks;
#else
static inline dt_test_hooks dt_hooks_off(void) { return (dt_test_hooks)DT_TEST_HOOKS_OFF; }
#define dt_hooks (dt_hooks_off())
#endif

#endif
