/* session_impl.h: what the files of a training run (src/session_*.c) share
 * beyond session.h.  Not installed; nothing outside src/session_*.c uses it.
 *
 *   session_data.c    the head chosen from the data, the groups read and checked
 *   session_setup.c   session_setup_with's stages, session_parts, session_free
 *   session_loop.c    session_train: epochs, steps and their safe points
 *   session_report.c  a set's figures, session_describe, session_report */
#ifndef DTRAIN_SESSION_IMPL_H
#define DTRAIN_SESSION_IMPL_H

#include "dtrain/history.h"
#include "dtrain/session.h"

/* --- session_data.c: set-up's data stages --- */

/* The output head: cfg->output when given (checked against the training y),
 * else chosen from it; train: sets given as arrays, which decide by their
 * kind.  Local except for rank 0's read of y, broadcast; the caller agrees. */
dt_status session_pick_head(dt_config *cfg, dt_comm *comm, const dt_dataset *train,
                            dt_error *err);

/* The share of the training split held out as the validation set when there
 * is no other (0: none). */
double session_holdout(const dt_config *cfg);

/* Hold out `split` of s->train (stratified for classes, drawn from --seed)
 * as s->eval. */
dt_status session_hold_out(dt_session *s, double split, dt_error *err);

/* The sets read from cfg->data: the training group, the evaluated one, the
 * test group of a run that validates; then checked (session_check_data). */
dt_status session_load_data(dt_session *s, dt_head head, dt_error *err);

/* The evaluated sets fit the training set; class count and labels (eg: the
 * evaluated group's name, for messages). */
dt_status session_check_data(dt_session *s, dt_head head, const char *eg, dt_error *err);

/* The model's max_batch (rows of one forward pass) for n_train training rows. */
int session_eval_block(const dt_session *s, int64_t n_train);

/* --- session_setup.c --- */

/* The history's columns of --profile's phases, in the order profile_epoch fills them. */
extern const char *const session_profile_cols[5];

/* --- session_report.c: a set's figures --- */

/* A set's figures after an epoch or at the end: "SET_loss" and "SET_METRIC"
 * for each metric reported, in the order of the history's columns. */
typedef struct {
    int n;
    char name[1 + 8][HIST_NAME_LEN];
    double v[1 + 8];
} session_figures;

/* The loss and the metrics of one set, exact over all ranks (collective);
 * ev receives trainer_evaluate's figures. */
dt_status session_evaluate_set(dt_session *s, const dt_dataset *set, const char *name,
                               dt_eval *ev, session_figures *fg, dt_error *err);

/* "  NAME VALUE" for each figure, appended to text[*n..len). */
void session_format_figures(const session_figures *fg, char *text, size_t len, int *n);

#endif
