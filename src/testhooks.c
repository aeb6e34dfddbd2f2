/* dtrain: the test hooks, all off (testhooks.h); in the test build only. */
#include "dtrain/testhooks.h"

#ifdef DTRAIN_TEST_HOOKS
dt_test_hooks dt_hooks = DT_TEST_HOOKS_OFF;
#endif
