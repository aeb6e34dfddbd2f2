/* dtrain command line: one file per subcommand, dispatched from main.c.
 * Each subcommand receives the parsed configuration and the world communicator,
 * returns a status and fills err; main.c agrees on the status across ranks and
 * rank 0 prints the one message. */
#ifndef DTRAIN_CLI_H
#define DTRAIN_CLI_H

#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/status.h"

dt_status cli_train(const dt_config *cfg, dt_comm *world, dt_error *err);
/* Runs on rank 0 only (the others return DT_OK at once). */
dt_status cli_convert(const dt_config *cfg, dt_comm *world, dt_error *err);

#endif
