/* dtrain: converting IDX and CSV data into dtrain's HDF5 layout (src/convert.c).
 *
 * Output layout (datasets/README.md describes it for users):
 *   /train/X  N x D   features, element type uint8 (IDX) or the chosen x dtype (CSV)
 *   /train/y  N       int32 class labels, or float32 regression targets
 *   /test/X, /test/y  the same, when a test set is given or split off
 *   attributes on "/": source (text naming the inputs), dtrain_format ("1")
 *
 * The output is written to a temporary file beside it and renamed into place
 * only when complete, so a failed conversion never damages an existing file.
 * Inputs may be plain or gzip-compressed (detected from the content).
 * These functions never print; the command line reports the summary. */
#ifndef DTRAIN_CONVERT_H
#define DTRAIN_CONVERT_H

#include <stdint.h>
#include "dtrain/h5io.h"
#include "dtrain/status.h"

/* A table of samples held in memory.  x is n x d (row-major) of x_type;
 * y is n of y_type (DT_I32 labels or DT_F32 targets).  Both are owned by the
 * table and freed by convert_table_free. */
typedef struct {
    int64_t n, d;
    dt_dtype x_type, y_type;
    void *x;
    void *y;
} convert_table;

/* Free x and y and zero the table (safe on a zeroed or already freed table). */
void convert_table_free(convert_table *t);

/* How to read a CSV file. */
typedef struct {
    int header;         /* nonzero: line 1 is not data and is skipped */
    int64_t label_col;  /* 0-based column of the label; -1 = the last column */
    int label_float;    /* 0: integral class labels >= 0 (int32); 1: float32 targets */
    dt_dtype x_type;    /* DT_F32, DT_F64, DT_U8 or DT_I32 */
} convert_csv_opts;

/* Read an IDX image file (magic 0x00000803, uint8, N x rows x cols) and its
 * label file (magic 0x00000801, uint8, N) into t: x is N x (rows*cols) uint8,
 * y is N int32.  Checks magic numbers, dimensions, file lengths and that both
 * files hold the same N; the message names the offending file. */
dt_status convert_read_idx(const char *images, const char *labels, convert_table *t,
                           dt_error *err);

/* Read a CSV with one sample per row, fields separated by commas or by
 * whitespace (decided by the first data line).  Every row must have the same
 * number of fields (at least 2); messages name the file and 1-based line and
 * column.  Blank lines are skipped. */
dt_status convert_read_csv(const char *path, const convert_csv_opts *opts, convert_table *t,
                           dt_error *err);

/* Split `all` into train and test: round(test_fraction * n) rows chosen by a
 * random permutation drawn from seed go to test, the rest to train; each part
 * keeps the rows in their original order.  The same (n, test_fraction, seed)
 * always gives the same split.  test_fraction must be in (0, 1) and leave at
 * least one row on each side.  The outputs are new tables the caller frees. */
dt_status convert_split(const convert_table *all, double test_fraction, uint64_t seed,
                        convert_table *train, convert_table *test, dt_error *err);

/* Write train (and test, if not NULL) to `out` in the layout above, with
 * `source` as the root attribute, via a temporary file and rename(). */
dt_status convert_write(const char *out, const convert_table *train,
                        const convert_table *test, const char *source, dt_error *err);

/* What was written, for the command line's summary. */
typedef struct {
    char group[16];         /* "/train" or "/test" */
    int64_t n, d;
    dt_dtype x_type, y_type;
    int64_t n_classes;      /* int labels: largest label + 1; 0 for float targets */
    int64_t n_present;      /* int labels: distinct labels occurring in the group */
    double y_min, y_max;    /* range of the labels or targets */
} convert_group_info;

typedef struct {
    int n_groups;           /* 1 (train only) or 2 (train and test) */
    convert_group_info g[2];
} convert_summary;

/* Describe a table for the summary (group is copied, truncated to fit). */
void convert_describe(const convert_table *t, const char *group, convert_group_info *info);

/* The whole IDX conversion: train from (images, labels), test from
 * (test_images, test_labels) when both are not NULL.  sum may be NULL. */
dt_status convert_idx(const char *out, const char *images, const char *labels,
                      const char *test_images, const char *test_labels,
                      convert_summary *sum, dt_error *err);

/* The whole CSV conversion; test_fraction == 0 writes /train only.  sum may be
 * NULL. */
dt_status convert_csv(const char *out, const char *path, const convert_csv_opts *opts,
                      double test_fraction, uint64_t seed, convert_summary *sum,
                      dt_error *err);

#endif
