/* dtrain: preemption signals.
 *
 * `dtrain train` installs the handlers first thing, before MPI starts, so a
 * signal is never lost or fatal during start-up.  SIGTERM, SIGINT, SIGUSR1 and
 * SIGUSR2 only record that a stop was asked for; the run checks at its safe
 * points (once before training begins, then at each step boundary with one
 * small allreduce), writes a checkpoint and exits with status 75.
 *
 * A repeated signal does not interrupt a stop under way: within
 * SIGNALS_GRACE_MS of the first, or while a checkpoint is being written, or
 * once the stop's checkpoint exists, it is ignored.  Only a repeated signal
 * after the grace period with no write in progress (a run stuck before its
 * next safe point) ends the process at once, with status 128 + signal number
 * and nothing new written.  So status 75 always means "stopped, and the same
 * command with --resume continues without losing a step", and 128 + N means
 * work since the last checkpoint was lost.  Without a checkpoint directory
 * the run still stops at a step boundary (one small allreduce per step),
 * says so, and the command line exits with 128 + N (DT_STOPPED).
 *
 * The handlers and the signal received are the process's: the first signal
 * stays pending for every later safe point of every run (dtrain.h), unless
 * the handlers were installed for one training's scope, whose end puts the
 * program's back and takes the signal. */
#ifndef DTRAIN_SIGNALS_H
#define DTRAIN_SIGNALS_H

#define SIGNALS_GRACE_MS 5000

void signals_install(void);
/* Back to the default actions (a run with nothing to save: a signal ends it);
 * inside a scope, to the program's actions the scope replaced. */
void signals_default(void);
/* A scope of one training (DTRAIN_ALLOW_SIGNALS_SCOPED): the handlers
 * installed, the actions they replace kept; a scope inside another (a run
 * training in another's callback) changes nothing. */
void signals_scope_begin(void);
/* The end of a scope: the kept actions back, then the signal received in it
 * (0 if none) returned and forgotten, so the next training starts clean.
 * An inner scope's end returns 0 and changes nothing. */
int signals_scope_end(void);
/* on != 0: a repeated signal never ends the process (a checkpoint is being
 * written, or the stop's checkpoint is written and the run is ending). */
void signals_protect(int on);
/* Ignore SIGXFSZ so that writes past a file-size limit fail with an error. */
void signals_ignore_file_size(void);
/* The first signal received (0 if none). */
int signals_pending(void);
const char *signals_name(int sig);

#endif
