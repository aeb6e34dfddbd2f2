/* dtrain: the process-wide calls of the public API (include/dtrain.h,
 * "options, the command line and the process"): what a program that is the
 * whole job does before MPI_Init (signal handlers, the start-up watchdog)
 * and after a run stopped, the versions of the libraries under dtrain, a
 * run on a Fortran communicator handle, and agreement on an outcome the
 * program reached on its own. */
#include "dtrain.h"

#include <stdio.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/comm.h"
#include "dtrain/h5io.h"
#include "dtrain/linalg.h"
#include "dtrain/matmul.h"
#include "dtrain/signals.h"
#include "dtrain/status.h"
#include "dtrain/watchdog.h"

dtrain_status dtrain_process_allow(unsigned flags, double step_timeout)
{
    dt_error e;
    dt_error_clear(&e);
    dt_status st = DT_OK;
    if (flags & ~(unsigned)(DTRAIN_ALLOW_SIGNALS | DTRAIN_ALLOW_WATCHDOG))
        st = dt_fail(&e, DT_EUSAGE, "dtrain_process_allow: unknown flags 0x%x", flags);
    else if (!(step_timeout >= 0))
        st = dt_fail(&e, DT_EUSAGE, "dtrain_process_allow: step_timeout must be >= 0 "
                                    "seconds (got %g)", step_timeout);
    if (!st && (flags & DTRAIN_ALLOW_SIGNALS))
        signals_install();
    if (!st && (flags & DTRAIN_ALLOW_WATCHDOG) && step_timeout > 0)
        st = watchdog_arm(step_timeout, &e);
    if (st)
        api_fail_null(&e);
    return (dtrain_status)st;
}

void dtrain_process_end(void) { watchdog_stop(); }

void dtrain_ignore_file_size_signal(void) { signals_ignore_file_size(); }

int dtrain_stop_signal(dtrain_run *run)
{
    if (api_usable(run, "dtrain_stop_signal"))
        return 0;
    /* the process's pending signal, or the one the run's last signal scope took */
    int64_t sig = signals_pending() > run->stop_signal ? signals_pending() : run->stop_signal;
    comm_allreduce_max_i64(run->comm, &sig, 1);
    return (int)sig;
}

dtrain_status dtrain_agree(dtrain_run *run, dtrain_status st, const char *msg)
{
    dt_status refused = api_usable(run, "dtrain_agree");
    if (refused)
        return (dtrain_status)refused;
    dt_error e;
    dt_error_clear(&e);
    if (st != DTRAIN_OK && !msg) { /* the run's own failure: its option travels with it */
        e = run->err;
        e.code = (dt_status)st;
    } else if (st != DTRAIN_OK)
        dt_fail(&e, (dt_status)st, "%s", msg);
    const dt_status agreed = comm_agree(run->comm, (dt_status)st, &e);
    run->err = e;
    if (!agreed)
        dt_error_clear(&run->err);
    return (dtrain_status)agreed;
}

void dtrain_print_versions(FILE *out)
{
    if (out)
        fprintf(out, "MPI: %s\nHDF5: %s\nGEMM: %s\nLAPACK: %s\n", comm_library_version(),
                h5io_library_version(), matmul_library_version(), linalg_library_version());
}

dtrain_status dtrain_create_f(dtrain_run **run, MPI_Fint comm)
{
    MPI_Comm c;
    dt_error e;
    if (run)
        *run = NULL;
    const dt_status st = comm_from_fortran(&comm, &c, &e);
    if (st) {
        dt_fail_prefix(&e, "dtrain_create_f");
        api_fail_null(&e);
        return (dtrain_status)st;
    }
    return dtrain_create(run, c);
}
