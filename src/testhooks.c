/* dtrain: the test hooks, all off (testhooks.h). */
#include "dtrain/testhooks.h"

dt_test_hooks dt_hooks = {.nan_step = -1, .corrupt_step = -1, .sleep_step = -1, .crash_step = -1,
                        .setup_sleep_rank = -1};
