/* dtrain: the serial parts of k-fold cross-validation and grid search.
 *
 * A grid is the cartesian product of a few train options' values
 * (--grid KEY=V1|V2|..., repeatable).  Configuration c of the product is
 * numbered like a mixed-radix number whose last axis varies fastest
 * (itertools.product order): for axes of sizes n_0 .. n_{A-1},
 *   c = ((v_0 * n_1 + v_1) * n_2 + v_2) ...
 * Trial t of a search is (configuration t / k, fold t % k).
 *
 * Nothing here communicates: src/cv_search.c schedules the trials over ranks. */
#ifndef DTRAIN_CV_H
#define DTRAIN_CV_H

#include <stdint.h>
#include <stdio.h>
#include "dtrain/config.h"
#include "dtrain/dataset.h"
#include "dtrain/metrics.h"
#include "dtrain/status.h"

#define CV_MAX_AXES 16
#define CV_MAX_VALUES 64
#define CV_MAX_CONFIGS 100000
#define CV_MSG_LEN 256 /* a failed trial's message as kept in the results */

typedef struct {
    const dt_option *opt; /* the train option varied (points into the option table) */
    int n_values;
    const char *values[CV_MAX_VALUES]; /* views into cv_grid.text, as typed */
    dt_value value[CV_MAX_VALUES];     /* the same, parsed once */
} cv_axis;

/* Holds views into its own text: do not copy a cv_grid by value. */
typedef struct {
    int n_axes;
    cv_axis axes[CV_MAX_AXES];
    int64_t n_configs; /* product of the axes' sizes; 1 when there is no axis */
    dt_str text;       /* the --grid list, split in place */
} cv_grid;

/* Parse the --grid list (entries separated by '\n', as OPT_LIST stores them)
 * into typed values, each read by config_set as --KEY=VALUE would be, so the
 * option table's types and ranges hold.  A key must be
 * a train option that cv does not fix itself (not data, train-group, output
 * nor any option cv_check_options rejects), given once.  Errors are DT_EUSAGE
 * and quote the entry. */
dt_status cv_grid_parse(const char *list, const dt_config *base, cv_grid *g, dt_error *err);

/* Index of axis a's value in configuration c. */
int cv_grid_value(const cv_grid *g, int64_t c, int a);

/* cfg = base with configuration c's typed values stored (cfg->given marks them). */
void cv_grid_config(const cv_grid *g, const dt_config *base, int64_t c, dt_config *cfg);

/* "lr=0.1 layers=32:relu" ("command line" when there is no axis). */
void cv_grid_describe(const cv_grid *g, int64_t c, char *buf, size_t len);

/* Train options that make no sense for a search (output files, checkpoints,
 * validation groups: the folds are the validation sets) are a usage error. */
dt_status cv_check_options(const dt_config *cfg, dt_error *err);

/* fold_of_row (ds->n) receives each row's validation fold 0..k-1, from
 * metrics_kfold: stratified by class when ds has labels. */
dt_status cv_folds(const dt_dataset *ds, int k, uint64_t seed, int32_t *fold_of_row,
                   dt_error *err);

/* Copy fold `fold`'s rows into valid and all the others into train, each in
 * file order.  Both keep all->max_label, so every fold's model has the same
 * classes even if a fold's training rows miss the largest one.  On success
 * the caller frees both with dataset_free; on failure both are zeroed. */
dt_status cv_fold_split(const dt_dataset *all, const int32_t *fold_of_row, int fold,
                        dt_dataset *train, dt_dataset *valid, dt_error *err);

/* A search's outcome: value[c * k + f] is configuration c's metric on fold f,
 * NAN for a failed trial, whose message is msg[c * k + f] (msg may be NULL). */
typedef struct {
    const cv_grid *grid;
    dt_metric metric;
    int k;
    const double *value;
    const char (*msg)[CV_MSG_LEN];
} cv_results;

/* One configuration's summary. */
typedef struct {
    int64_t config;
    double mean, std; /* over the k folds, std with divisor k (numpy's default);
                         NAN if any fold failed */
    int failed_fold;  /* first failed fold, -1 if none */
} cv_summary;

/* Summaries of all configurations, best first (out has n_configs entries).
 * Configurations are compared by their means as printed (4 decimals), ties
 * by configuration number, so the order is as stable as the printed table
 * across rank counts; failed configurations come last in configuration
 * order.  Returns the number that did not fail, -1 if out of memory. */
int64_t cv_rank(const cv_results *r, cv_summary *out);

/* The ranked table for people (a header row, one row per configuration, and
 * a "best:" line), or the same as CSV (metric values with 4 decimals, a
 * metric column naming the metric, a status column "ok" or "failed:
 * <message>").  sorted is cv_rank's output. */
void cv_print_table(FILE *f, const cv_results *r, const cv_summary *sorted);
void cv_print_csv(FILE *f, const cv_results *r, const cv_summary *sorted);

#endif
