/* dtrain: the step watchdog (--step-timeout).
 *
 * A thread per rank watches how long the current phase of a training step has
 * lasted; past the timeout it prints which rank, step and phase, and ends the
 * process with status 4, which makes mpirun end the whole job: a step stuck in
 * a collective or a hung rank cannot burn the allocation.  The training loop
 * marks phases with plain atomic stores (no locks, no allocation). */
#ifndef DTRAIN_WATCHDOG_H
#define DTRAIN_WATCHDOG_H

#include <stdint.h>
#include "dtrain/status.h"

typedef enum {
    WD_IDLE = 0,   /* not in a step: not watched */
    WD_DATA,       /* gathering the batch */
    WD_COMPUTE,    /* forward and backward */
    WD_REDUCTION,  /* gradient allreduce */
    WD_UPDATE,     /* optimizer update */
    WD_CHECKPOINT  /* writing a checkpoint */
} dt_wd_phase;

#define WATCHDOG_EXIT 4

/* Start watching with the given timeout in seconds (> 0). */
dt_status watchdog_start(double timeout, int rank, dt_error *err);
/* Enter a phase (WD_IDLE pauses the watch). */
void watchdog_phase(dt_wd_phase phase, int64_t step);
void watchdog_stop(void);
const char *watchdog_phase_name(dt_wd_phase p);

#endif
