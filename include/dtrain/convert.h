/* dtrain: converting IDX and CSV data into dtrain's HDF5 layout (src/convert.c).
 *
 * Output layout (datasets/README.md describes it for users):
 *   /train/X  N x D   features, element type uint8 (IDX) or the chosen x dtype (CSV)
 *   /train/y  N       int32 class labels, or float32 regression targets
 *   /test/X, /test/y  the same, when a test set is given or split off
 *   /classes  K strings: class i's name, when the labels were not already
 *             0..K-1 (text labels, or integers such as 1/2 or 3,7,9)
 *   /features D strings: the feature columns' names, from a CSV header line
 *   /missing_fill  float64 (D): the /train mean of each feature, which filled
 *             its missing values (--missing mean)
 *   attributes on "/": source (text naming the inputs), dtrain_format ("1"),
 *             label_column (the label's header name, with a header),
 *             label_type ("class" or "float") and label_rule (why), CSV with labels
 *
 * The output is written to a temporary file beside it and renamed into place
 * only when complete, so a failed conversion never damages an existing file.
 * Inputs may be plain or gzip-compressed (detected from the content).
 * These functions never print but convert_print_summary, into the caller's
 * streams. */
#ifndef DTRAIN_CONVERT_H
#define DTRAIN_CONVERT_H

#include <stdint.h>
#include <stdio.h>
#include "dtrain/h5io.h"
#include "dtrain/status.h"

/* A table of samples held in memory.  x is n x d (row-major) of x_type;
 * y is n of y_type (DT_I32 labels or DT_F32 targets), NULL for a table
 * without labels; miss is n x d, 1 where a feature was missing (x holds 0
 * there until filled), or NULL when none was.  All are owned by the table and
 * freed by convert_table_free. */
typedef struct {
    int64_t n, d;
    dt_dtype x_type, y_type;
    void *x;
    void *y;
    unsigned char *miss;
} convert_table;

/* Free x, y and miss and zero the table (safe on a zeroed or freed table). */
void convert_table_free(convert_table *t);

/* What a CSV file says beside its numbers.  classes and features are each
 * one allocation (an array of pointers followed by the texts), NULL when
 * absent; fill is (d), NULL unless --missing mean filled values.  Freed by
 * convert_meta_free. */
typedef struct {
    int64_t n_classes;
    char **classes;   /* class i's name; NULL when labels are their own numbers 0..K-1 */
    int64_t d;
    char **features;  /* the header's names of the feature columns, in X's order */
    char *label_name; /* the header's name of the label column, or NULL */
    double *fill;     /* (d) the /train mean of each feature */
    int64_t dropped;  /* rows left out by --missing drop */
    /* What the label column became and why (convert_label_rule), stored in
     * the file as the attributes label_type ("class" or "float") and
     * label_rule on "/"; label_rule[0] == 0 without labels. */
    int label_float;      /* 1: float32 targets; 0: int32 class labels */
    int label_doubt;      /* classes chosen by auto without the evidence of class
                             labels (a warning names --label-type float) */
    char label_rule[160];
} convert_meta;

void convert_meta_free(convert_meta *m);

/* What to do with a missing feature: an empty field or one of the tokens NA,
 * N/A, NaN, null, ? (any case). */
typedef enum { MISSING_ERROR, MISSING_MEAN, MISSING_DROP } convert_missing;
/* Their names, indexed by convert_missing, NULL-terminated. */
extern const char *const convert_missing_names[];

/* What a label column is read as: class labels, float targets, or chosen by
 * convert_label_rule (texts are classes, non-integers float targets). */
typedef enum { CONVERT_LABEL_CLASS, CONVERT_LABEL_FLOAT, CONVERT_LABEL_AUTO } convert_label_type;

/* The rule for a column of integers: n rows, `distinct` distinct values,
 * index_like: those are exactly 0..distinct-1 or 1..distinct.  Float targets
 * (a quantity) when the values are many and each is rare: more than 100
 * distinct, or more than 10 with fewer than 5 rows per value, unless they
 * are index-like with 20 or more rows each.  Otherwise classes, and *doubt
 * (may be NULL) is set when nothing speaks for classes either: more than 2
 * values, not index-like, fewer than 20 rows per value.  why (may be NULL)
 * receives the reason in words. */
convert_label_type convert_label_rule(int64_t n, int64_t distinct, int index_like, int *doubt,
                                      char *why, size_t len);

/* How to read a CSV file. */
typedef struct {
    int header;         /* nonzero: the first record holds the column names */
    int64_t label_col;  /* 0-based column of the label; -1 = the last column */
    const char *label_name; /* not NULL: the label column by its header name */
    int no_labels;      /* every column is a feature; no y */
    convert_label_type label_type; /* class labels (int32), float32 targets, or auto */
    dt_dtype x_type;    /* DT_F32, DT_F64, DT_U8 or DT_I32 */
    char delimiter;     /* ',' ';' '\t' or ' ' (runs of spaces); 0: csvio_guess_delimiter
                           on the first line */
    convert_missing missing; /* for a table without labels, mean keeps NaN in x (float
                                types only) for predict to fill with a model's means */
} convert_csv_opts;

/* Read an IDX image file (magic 0x00000803, uint8, N x rows x cols) and its
 * label file (magic 0x00000801, uint8, N) into t: x is N x (rows*cols) uint8,
 * y is N int32.  Checks magic numbers, dimensions, file lengths and that both
 * files hold the same N; the message names the offending file. */
dt_status convert_read_idx(const char *images, const char *labels, convert_table *t,
                           dt_error *err);

/* Read a CSV with one sample per row.  Every row must have the same number
 * of fields (at least 2, or 1 without labels); messages name the file and
 * 1-based line and column.  Blank lines are skipped.  Class labels that are
 * not exactly 0..K-1 (texts, or integers such as 1/2) become 0..K-1 in sorted
 * order (numeric when every label is an integer, else byte order) and their
 * names go to meta->classes.  Missing features are refused, dropped with
 * their row, or marked in t->miss (convert_fill_mean fills them). */
dt_status convert_read_csv(const char *path, const convert_csv_opts *opts, convert_table *t,
                           convert_meta *meta, dt_error *err);

/* --missing mean: meta->fill[j] = mean of feature j over train's rows where it
 * is present; then every missing value of train and test (may be NULL) is set
 * to it (rounded for integer types).  A feature with no value in train is an
 * error naming it. */
dt_status convert_fill_mean(convert_table *train, convert_table *test, convert_meta *meta,
                            dt_error *err);

/* Split `all` into train and test: round(test_fraction * n) rows chosen by a
 * random permutation drawn from seed go to test, the rest to train; each part
 * keeps the rows in their original order.  The same (n, test_fraction, seed)
 * always gives the same split.  test_fraction must be in (0, 1) and leave at
 * least one row on each side.  The outputs are new tables the caller frees. */
dt_status convert_split(const convert_table *all, double test_fraction, uint64_t seed,
                        convert_table *train, convert_table *test, dt_error *err);

/* Write train (and test, if not NULL) to `out` in the layout above, with
 * `source` as the root attribute and meta (may be NULL), via a temporary file
 * and rename().  train may be NULL (a table without labels goes to /test). */
dt_status convert_write(const char *out, const convert_table *train,
                        const convert_table *test, const convert_meta *meta,
                        const char *source, dt_error *err);

/* What was written, for the command line's summary. */
typedef struct {
    char group[16];         /* "/train" or "/test" */
    int64_t n, d;
    dt_dtype x_type, y_type;
    int has_y;              /* 0: a table without labels */
    int64_t n_classes;      /* int labels: largest label + 1; 0 for float targets */
    int64_t n_present;      /* int labels: distinct labels occurring in the group */
    double y_min, y_max;    /* range of the labels or targets */
    int64_t n_missing;      /* features that were missing (filled; NaN without labels) */
} convert_group_info;

typedef struct {
    int n_groups;           /* 1 (train or test only) or 2 (train and test) */
    convert_group_info g[2];
    int64_t n_classes;      /* names in /classes, 0 if none */
    int label_float, label_doubt; /* as convert_meta's */
    char label_rule[160];   /* "" without labels */
    char class_list[256];   /* the names, comma-separated ("..." when cut) */
    int64_t dropped;        /* rows left out by --missing drop */
    int filled;             /* --missing mean stored /missing_fill */
} convert_summary;

/* Describe a table for the summary (group is copied, truncated to fit). */
void convert_describe(const convert_table *t, const char *group, convert_group_info *info);

/* The summary for people, as `dtrain convert` prints it: lines on out, and
 * on warn (may be NULL) a warning when the labels were classes by a close
 * call (out is flushed before it, so the two interleave in order). */
void convert_print_summary(FILE *out, FILE *warn, const convert_summary *sum);

/* The whole IDX conversion: train from (images, labels), test from
 * (test_images, test_labels) when both are not NULL.  sum may be NULL. */
dt_status convert_idx(const char *out, const char *images, const char *labels,
                      const char *test_images, const char *test_labels,
                      convert_summary *sum, dt_error *err);

/* The whole CSV conversion; test_fraction == 0 writes /train only (a table
 * without labels always goes to /test alone).  sum may be NULL. */
dt_status convert_csv(const char *out, const char *path, const convert_csv_opts *opts,
                      double test_fraction, uint64_t seed, convert_summary *sum,
                      dt_error *err);

#endif
