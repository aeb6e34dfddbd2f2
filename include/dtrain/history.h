/* dtrain: the per-epoch record of a run, under one naming scheme.
 *
 * A history is a table: one row per epoch, one named column per figure.  The
 * names are those of the epoch lines, of the metrics log (--log) and of the
 * /history dataset of checkpoints and saved models:
 *
 *   epoch        1-based
 *   step         optimizer steps taken so far
 *   samples      training samples seen so far
 *   epoch_time   seconds this epoch took (training and evaluation)
 *   time         training seconds so far, runs before a resume included
 *   lr           the learning rate of the epoch's last step
 *   train_loss   the epoch's mean training loss
 *   SET_loss, SET_METRIC    for each set evaluated after every epoch (SET is
 *                "valid" or "test"), its loss and each selected metric
 *                (metrics_name: accuracy, f1, auc, rmse, ...)
 *   best_epoch   with early stopping: the epoch whose weights it keeps so
 *                far (the best --monitor up to this epoch); the last row's
 *                is the epoch of the weights the run ends with
 *   time_data, time_compute, time_comm, time_update, time_eval
 *                with --profile: the epoch's seconds per phase, the slowest
 *                rank's; time_data is the rows of each step reaching the
 *                rank, the rows another rank holds included
 *                (--data-placement sharded)
 *
 * A figure a row does not have is NaN (null in JSON, an empty CSV field).
 *
 * The metrics log is JSON Lines (one object per line, keys in column order)
 * or, for a name ending in ".csv", CSV with a header row. */
#ifndef DTRAIN_HISTORY_H
#define DTRAIN_HISTORY_H

#include <stdint.h>
#include "dtrain/h5io.h"
#include "dtrain/status.h"

#define HIST_MAX_COLS 48
#define HIST_NAME_LEN 32

typedef struct {
    int n_cols;
    char name[HIST_MAX_COLS][HIST_NAME_LEN];
    int64_t n_rows, cap; /* rows used and allocated */
    double *rows;        /* owned, (cap, n_cols) */
} dt_history;

/* An empty table with no columns (zero-initialised is the same). */
void history_init(dt_history *h);
void history_free(dt_history *h);

/* Append a column named by the format; its index, or -1 if the table has
 * HIST_MAX_COLS already or has rows.  Columns come before rows. */
int history_add_col(dt_history *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The index of column name, -1 if none. */
int history_col(const dt_history *h, const char *name);

/* Row i's value of column name; NaN if there is no such column or row. */
double history_get(const dt_history *h, int64_t i, const char *name);

/* Append a row of n_cols values (copied).  Between epochs only: it may
 * allocate. */
dt_status history_append(dt_history *h, const double *row, dt_error *err);

/* The last row, NULL if none. */
const double *history_last(const dt_history *h);

/* The trend of column name at the end of the table: *before and *last receive
 * its means over the w rows before the last w and over the last w rows.
 * 1 if both windows are there and hold finite values, else 0. */
int history_trend(const dt_history *h, const char *name, int64_t w, double *before,
                  double *last);

/* Drop the rows of epochs after `epoch` (a resumed run goes back to its
 * checkpoint). */
void history_truncate(dt_history *h, int64_t epoch);

/* /history/epochs (float64, rows x columns) with attribute "columns", the
 * names joined by commas. */
dt_status history_write_h5(h5file *f, const dt_history *h, dt_error *err);

/* Read /history/epochs of f (path names it in messages) into h, whose
 * columns are already set: each stored column goes to the column of its name,
 * the others are NaN.  A table without columns takes the stored ones.  A
 * file without /history leaves h empty.  A table of more than max_rows rows
 * (the epochs the file can have), or declared larger than the file stores,
 * is refused before it is read (DT_EUSAGE). */
dt_status history_read_h5(h5file *f, const char *path, int64_t max_rows, dt_history *h,
                          dt_error *err);

/* The metrics log (rank 0's): open for the whole run, so that whatever
 * happens to its name meanwhile (a FIFO put in its place, say) no later
 * record waits on it or goes elsewhere. */
typedef struct {
    int fd;           /* open for appending while path is set */
    int csv;          /* CSV (a ".csv" name), else JSON Lines */
    const char *path; /* borrowed: the caller's, for messages; NULL: closed */
} dt_histlog;

/* Closed (zero-initialised is closed too). */
void history_log_init(dt_histlog *log);

/* Write the log at path (JSON Lines, or CSV for a ".csv" name) whole, every
 * row of h, and keep it open in log for history_log_append.  It is a new
 * file of ours, written under a temporary name and renamed into place: a
 * crash leaves the old file or the new one.  path is borrowed for as long as
 * log is open. */
dt_status history_log_open(dt_histlog *log, const char *path, const dt_history *h,
                           dt_error *err);

/* Append h's last row to the open log, with one write; a write cut short (a
 * full disk, a file-size limit) is cut back to the previous end, so the log
 * holds whole lines only, and the error gives its cause.  A closed log: no-op. */
dt_status history_log_append(dt_histlog *log, const dt_history *h, dt_error *err);

/* Close (a closed log too), leaving it as history_log_init does. */
void history_log_close(dt_histlog *log);

#endif
