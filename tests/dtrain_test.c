/* dtrain-test: the dtrain command with its test hooks settable from the
 * environment (testhooks.h).  Built with the tests, never installed: the
 * release binary reads no DTRAIN_TEST_* variable.
 *   DTRAIN_TEST_NAN_STEP=S              NaN in rank 0's gradient at step S
 *   DTRAIN_TEST_CORRUPT=RANK:S          RANK's parameters drift at step S
 *   DTRAIN_TEST_SLEEP=RANK:S:SECONDS    RANK sleeps in compute at step S
 *   DTRAIN_TEST_CRASH_IN_CHECKPOINT=S   abort() inside step S's checkpoint write
 *   DTRAIN_TEST_RANKS_PER_NODE=K        every K consecutive ranks are a node
 *   DTRAIN_TEST_SETUP_SLEEP=RANK:SECONDS  RANK sleeps in set-up after reading the data
 *   DTRAIN_TEST_UNSAVED_OPTION=NAME     models and checkpoints are written without
 *                                       /config NAME, as an older dtrain wrote them
 *   DTRAIN_TEST_CPU_MODEL=TEXT          the CPU's model name, as /proc/cpuinfo would give it
 *   DTRAIN_TEST_STREAM_OOM=RANK         bench's streaming arrays fail to allocate on RANK */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dtrain/testhooks.h"

int main(int argc, char **argv)
{
    const char *e;
    long long s;
    if ((e = getenv("DTRAIN_TEST_NAN_STEP")))
        dt_hooks.nan_step = atoll(e);
    if ((e = getenv("DTRAIN_TEST_CORRUPT")) && sscanf(e, "%d:%lld", &dt_hooks.corrupt_rank, &s) == 2)
        dt_hooks.corrupt_step = s;
    if ((e = getenv("DTRAIN_TEST_SLEEP")) &&
        sscanf(e, "%d:%lld:%lf", &dt_hooks.sleep_rank, &s, &dt_hooks.sleep_seconds) == 3)
        dt_hooks.sleep_step = s;
    if ((e = getenv("DTRAIN_TEST_CRASH_IN_CHECKPOINT")))
        dt_hooks.crash_step = atoll(e);
    if ((e = getenv("DTRAIN_TEST_RANKS_PER_NODE")))
        dt_hooks.ranks_per_node = atoi(e);
    if ((e = getenv("DTRAIN_TEST_SETUP_SLEEP")))
        sscanf(e, "%d:%lf", &dt_hooks.setup_sleep_rank, &dt_hooks.setup_sleep_seconds);
    dt_hooks.unsaved_option = getenv("DTRAIN_TEST_UNSAVED_OPTION");
    dt_hooks.cpu_model = getenv("DTRAIN_TEST_CPU_MODEL");
    if ((e = getenv("DTRAIN_TEST_STREAM_OOM")))
        dt_hooks.stream_oom_rank = atoi(e);
    return cli_main(argc, argv);
}
