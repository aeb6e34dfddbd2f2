/* dtrain: preemption signals.
 *
 * SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 only set a flag; the training loop
 * checks it at each step boundary (all ranks agree with one small allreduce),
 * writes a checkpoint and exits with status 75.  A second signal exits at once
 * with status 128 + signal number. */
#ifndef DTRAIN_SIGNALS_H
#define DTRAIN_SIGNALS_H

void signals_install(void);
/* Ignore SIGXFSZ so that writes past a file-size limit fail with an error. */
void signals_ignore_file_size(void);
/* The first signal received (0 if none). */
int signals_pending(void);
const char *signals_name(int sig);

#endif
