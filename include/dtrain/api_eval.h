/* api_eval.h: what the evaluation, prediction and results calls
 * (src/api_eval.c, src/api_predict.c, src/api_inspect.c) share.  Not
 * installed. */
#ifndef DTRAIN_API_EVAL_H
#define DTRAIN_API_EVAL_H

#include "dtrain/api.h"

/* The file the run's model came from, for messages: dtrain_load's path, the
 * "save" path of a trained one, else a description. */
const char *api_model_label(const dtrain_run *run);

/* Group `group` of the data file `path`, checked against the run's model m
 * (its inputs; for regression its outputs; class labels in range),
 * missing features filled from the model's /missing_fill, normalised as
 * the model's training data (nm).  y: the model's labels or targets; with
 * want_y 0 the group's y is read only if it has one (DS_NO_Y otherwise).
 * Every rank reads every row.  Collective, agreed; on failure ds is empty. */
dt_status api_load_data(dtrain_run *run, dt_model *m, const dt_norm *nm, const char *path,
                        const char *group, int want_y, dt_dataset *ds, dt_error *err);

/* The final metrics of the session just trained, into run->final (replacing
 * any); called by dtrain_train after the report, before the session's sets
 * are freed.  Collective, agreed. */
dt_status api_final_compute(dtrain_run *run, dt_session *s, dt_error *err);

#endif
