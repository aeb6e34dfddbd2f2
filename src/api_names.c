/* dtrain: how a run's messages name options, and the option its last
 * failure concerns (include/dtrain.h, "how messages name options").
 *
 * The library writes every message that names an option once, with dt_opt
 * (status.h); api_enter installs the run's choice for the duration of each
 * call.  The option a failure concerns travels in the dt_error beside the
 * message (dt_fail_opt, dt_fail_missing), so a caller acts on it without
 * reading the message's text. */
#include "dtrain.h"

#include "dtrain/api.h"
#include "dtrain/status.h"
#include "dtrain/watchdog.h"

_Static_assert((int)DTRAIN_NAMES_KEYS == DT_NAMES_KEYS &&
                   (int)DTRAIN_NAMES_FLAGS == DT_NAMES_FLAGS,
               "dtrain_names mirrors dt_names");

dtrain_status dtrain_name_options(dtrain_run *run, dtrain_names names)
{
    dt_status st = api_usable(run, "dtrain_name_options");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    if (names != DTRAIN_NAMES_KEYS && names != DTRAIN_NAMES_FLAGS)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE,
                                      "dtrain_name_options: names %d is neither "
                                      "DTRAIN_NAMES_KEYS nor DTRAIN_NAMES_FLAGS", (int)names);
    run->opt_names = (dt_names)names;
    return DTRAIN_OK;
}

dtrain_status dtrain_watchdog_voice(const char *prefix, dtrain_names names)
{
    if (!prefix || (names != DTRAIN_NAMES_KEYS && names != DTRAIN_NAMES_FLAGS))
        return DTRAIN_EUSAGE;
    watchdog_voice(prefix, (dt_names)names);
    return DTRAIN_OK;
}

const char *dtrain_err_option(const dtrain_run *run, int *missing)
{
    const int failed = run && run->err.code != DT_OK && run->err.option[0];
    if (missing)
        *missing = failed && run->err.missing;
    return failed ? run->err.option : NULL;
}
