/* dtrain: a run's configuration as model and checkpoint files keep it.
 *
 * /config holds one string attribute per `train` option, as it would be typed
 * (modelio.h).  modelio and checkpoint take the options as a dt_saved_opts and
 * know nothing of the option table; this module, which does, renders a
 * dt_config into one (the texts, and a checkpoint's options compared with a
 * run's) and reads an option back from a file. */
#ifndef DTRAIN_CFGSAVE_H
#define DTRAIN_CFGSAVE_H

#include "dtrain/config.h"
#include "dtrain/h5io.h"
#include "dtrain/modelio.h"

/* cfg's training options, to save or compare (cfg must outlive the result;
 * nothing is allocated).  cfg NULL: no options (get yields none). */
dt_saved_opts cfgsave_opts(const dt_config *cfg);
/* The same for a model that was loaded, not trained: only the options of
 * cfg that say how the model computes (OPTF_MODEL), no data file. */
dt_saved_opts cfgsave_model_opts(const dt_config *cfg);

/* Option o's value as saved in f's /config (under its name, or its former
 * name when the file is older than the rename) into v (len bytes), in
 * today's spelling (config_current_spelling): DT_OK, or an error if the file
 * has neither. */
dt_status cfgsave_option(h5file *f, const dt_option *o, char *v, size_t len, dt_error *err);

#endif
