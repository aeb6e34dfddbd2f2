/* dtrain: the step watchdog (--step-timeout).
 *
 * A thread per rank watches how long the current phase of a training step has
 * lasted; past the timeout it prints one line and ends the process with
 * status 4, which makes mpirun end the whole job: a step stuck in a
 * collective or a hung rank cannot burn the allocation.  The line names the
 * rank(s) that did not arrive, with their phase and step, and whether they
 * still run: each rank publishes its phase in memory shared with the ranks of
 * its host, so a rank that waits can read where the others are without
 * asking them (a stopped rank cannot answer).  Ranks on other hosts cannot
 * be seen; the ranks on the stalled rank's host name it.  The training loop
 * marks phases with plain atomic stores (no locks, no allocation, no MPI).
 * Set-up is watched too (WD_SETUP): the command line arms the thread before
 * MPI starts, and the run joins the ranks (watchdog_start) before set-up.
 * There is one watchdog per process (its thread, its slot and the phase the
 * loop marks are the process's): dtrain_train lets no other run of the
 * process train while it runs (api.c). */
#ifndef DTRAIN_WATCHDOG_H
#define DTRAIN_WATCHDOG_H

#include <stdint.h>
#include "dtrain/comm.h"
#include "dtrain/status.h"

typedef enum {
    WD_IDLE = 0,   /* not in a step: not watched */
    WD_DATA,       /* gathering the batch */
    WD_COMPUTE,    /* forward and backward */
    WD_REDUCTION,  /* gradient allreduce */
    WD_UPDATE,     /* optimizer update */
    WD_CHECKPOINT, /* writing a checkpoint */
    WD_BETWEEN,    /* between steps: the epoch's evaluation and metrics, agreeing on a
                      stop, replica checks (collective work, so watched too) */
    WD_SETUP       /* from watchdog_arm (or start) to the first step: MPI start-up, the
                      data load.  Until every rank has joined (watchdog_start) it is
                      watched as any phase; after, its own work may take long, and only
                      a rank of the host that has not responded for the timeout
                      ends it */
} dt_wd_phase;

#define WATCHDOG_EXIT 4

/* What the watchdog's line begins with: prefix (what the program calls
 * itself and the kind of line: "dtrain train: error: "), copied, and how it
 * names its option (names).  Without it the line begins "dtrain: error: "
 * and names the option as the messages of the thread that arms the watchdog
 * do (dt_opt, at watchdog_arm or the arming watchdog_start).  Process-wide
 * and local; call it before arming: while the watchdog runs (its thread
 * reads the text without a lock) it is ignored. */
void watchdog_voice(const char *prefix, dt_names names);

/* Start the thread before the ranks can see each other (before MPI starts,
 * say), in phase WD_SETUP, with the given timeout in seconds (> 0).  Local;
 * nothing if the watchdog runs already. */
dt_status watchdog_arm(double timeout, dt_error *err);
/* Start watching (arming first if watchdog_arm was not called), and join the
 * ranks: collective over c (sets up the host's shared block; agrees on
 * failure, after which nothing is left running or allocated).  Nothing if
 * it has started already. */
dt_status watchdog_start(double timeout, dt_comm *c, dt_error *err);
/* Whether watchdog_start has started it (and watchdog_stop not stopped it). */
int watchdog_active(void);
/* Enter a phase (WD_IDLE pauses the watch).  Local; callable whether or not
 * the watchdog runs. */
void watchdog_phase(dt_wd_phase phase, int64_t step);
/* Stop watching and free the shared block: collective over the c given to
 * watchdog_start (local if only armed). */
void watchdog_stop(void);
const char *watchdog_phase_name(dt_wd_phase p);

#endif
