/* dtrain: the allocation every result-returning public call begins with (api.h). */
#include <stdlib.h>

#include "dtrain/api.h"

void *api_result_new(dtrain_run *run, const char *fn, void *result, size_t size, dt_status *st)
{
    void **out = result;
    if (!out) {
        *st = dt_fail(&run->err, DT_EUSAGE, "%s: result is NULL", fn);
        return NULL;
    }
    *out = NULL;
    void *r = calloc(1, size);
    *st = r ? DT_OK : dt_fail(&run->err, DT_ENOMEM, "%s: out of memory", fn);
    return r;
}
