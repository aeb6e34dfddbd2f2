/* dtrain: a cross-validated grid search over the ranks of a communicator
 * (src/cv_search.c), the library side of dtrain_cv (src/api_cv.c).
 *
 * Scheduling.  The communicator is split into groups of ranks-per-trial
 * ranks (ranks left over when its size is not a multiple stay idle).  Trial
 * t = (configuration t / K, fold t % K) is run by group t % ngroups, so
 * groups work side by side and each runs its trials one after another; a
 * group never waits for another until the search is over.  Each trial is an
 * ordinary training run on the group's communicator on the fold's rows,
 * followed by an exact evaluation of the fold's validation rows.
 *
 * Combining.  Every rank holds the (configurations x K) array of metric
 * values, zero except where it is the first rank of the group that ran the
 * trial; a failed trial is NAN.  One sum-allreduce then gives every rank the
 * whole table (x + 0 = x exactly, NAN stays NAN), so all ranks rank the
 * configurations identically; the failed trials' messages are gathered to
 * every rank. */
#ifndef DTRAIN_CVSEARCH_H
#define DTRAIN_CVSEARCH_H

#include "dtrain.h"

#include "dtrain/comm.h"
#include "dtrain/config.h"
#include "dtrain/cv.h"
#include "dtrain/dataset.h"
#include "dtrain/status.h"

/* A search's outcome, the same on every rank (dtrain_cv_result of dtrain.h). */
struct dtrain_cv_result {
    cv_grid grid;            /* the configurations (views into its own text) */
    dt_metric metric;
    int k;                   /* folds */
    int64_t C;               /* configurations */
    double *value;           /* (C x k) each trial's metric, NAN if it failed */
    char (*msg)[CV_MSG_LEN]; /* (C x k) each failed trial's message, "" otherwise */
    cv_summary *sorted;      /* (C) best first (cv_rank) */
    int64_t good;            /* configurations without a failed trial */
    dt_config *cfg;          /* the search's options, the head chosen from the data */
    dt_dataset all;          /* the training split, kept for the refit (then taken) */
    int watchdog;            /* the trials' sessions may start the step watchdog */
};

/* Run the search of cfg's options (data, train-group, folds, grid, metric,
 * ranks-per-trial, seed, out and refit checked; cfg->output chosen from the
 * data if unset) on comm into r, which the caller zeroed and frees with
 * cv_search_free (also after a failure).  The log receives the search's
 * description; the trials' own lines stay quiet.  Collective; agreed.
 * DT_ENUM, with r complete, when every configuration failed. */
dt_status cv_search(const dt_config *cfg, dt_comm *comm, int watchdog, dtrain_cv_result *r,
                    dt_error *err);

/* The results as the CSV of cv_print_csv at path, through a temporary file
 * renamed into place (rank 0 writes); "wrote PATH" logged.  Collective. */
dt_status cv_search_save(const dtrain_cv_result *r, dt_comm *comm, const char *path,
                         dt_error *err);

/* Train the best configuration on all of r's training rows on every rank of
 * comm and save it to r->cfg->refit.  Takes r->all.  Collective; agreed. */
dt_status cv_search_refit(dtrain_cv_result *r, dt_comm *comm, dt_error *err);

/* cv_results over r, for cv_print_table and cv_print_csv. */
cv_results cv_search_results(const dtrain_cv_result *r);

void cv_search_free(dtrain_cv_result *r);

#endif
