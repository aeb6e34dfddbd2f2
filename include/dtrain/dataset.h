/* dtrain: data sets in memory, normalisation, and the split of each global
 * batch across ranks.
 *
 * File layout (datasets/README.md): a group holds X (N, D) of uint8, int32,
 * int64, float32 or float64 and y, either N integer class labels or N / (N, K)
 * float targets.  X stored as uint8 (images) stays uint8 in memory, a quarter
 * of the float size; its rows are converted to float, and normalised, as
 * they are read (dataset_gather, dataset_rows).  Other types are converted to
 * float32 on load. */
#ifndef DTRAIN_DATASET_H
#define DTRAIN_DATASET_H

#include <stdint.h>
#include "dtrain/bf16.h"
#include "dtrain/comm.h"
#include "dtrain/h5io.h"
#include "dtrain/status.h"

typedef struct {
    int64_t n, d;        /* samples, features */
    float *X;            /* owned, (n, d) row-major; NULL when X8 holds the rows */
    uint8_t *X8;         /* owned, (n, d) row-major: X as stored, when uint8; else NULL */
    float *norm8;        /* owned with X8, (2, d): the shift, then the scale, applied to
                            X8's rows once norm_apply attached them (normed8) */
    int normed8;
    int keep_nan;        /* loaded with DS_KEEP_NAN: NaN features await dataset_fill_missing */
    int32_t *labels;     /* owned, (n); classifiers only, else NULL */
    float *targets;      /* owned, (n, k); regression only, else NULL */
    int64_t k;           /* targets per sample (regression), 1 for labels */
    int32_t max_label;   /* largest label (classifiers), -1 otherwise */
    dt_shm *shm;         /* X lives in memory shared by the node's ranks (or NULL) */
    /* --data-placement sharded: X (or X8) holds only rows [lo, lo + held) of
     * the n, this rank's block_slice(n, block, rank, size); labels and
     * targets, small beside X, are held whole.  block 0: X holds every row
     * (lo 0, held n). */
    int64_t lo, held, block;
    dt_comm *comm;       /* borrowed, sharded sets only: the ranks holding the other rows */
} dt_dataset;

/* Where a run keeps its data (--data-placement): one copy per node
 * (dataset_load_shared), one per rank (dataset_load), or each rank a block of
 * the rows (dataset_load_sharded).  Names indexed by the enum, NULL-terminated. */
typedef enum { PLACE_NODE, PLACE_RANK, PLACE_SHARDED } dt_placement;
extern const char *const placement_names[];

/* What dataset_load reads as y.  DS_KEEP_NAN, or'ed into it, lets NaN
 * features through for dataset_fill_missing (dataset_load only);
 * DS_SHARDED, or'ed into dataset_probe's, leaves out the check that X fits
 * in memory (a sharded load checks its own share). */
enum { DS_TARGETS = 0, DS_LABELS = 1, DS_NO_Y = 2, DS_KEEP_NAN = 16, DS_SHARDED = 32 };

/* What a group holds, from its metadata alone (dataset_probe). */
typedef struct {
    int64_t n, d; /* rows and features of X */
    int64_t k;    /* columns of y (1 for labels), 0 when y is not read (DS_NO_Y) */
    int x_u8;     /* X is stored as uint8 and is kept so in memory */
} dt_dataset_info;

/* Every check of group's X and y (unless DS_NO_Y) that needs no data: the
 * group and both datasets exist, their ranks, shapes, element types and
 * filters, y's rows match X's, labels are one column, X would fit in this
 * machine's physical memory (unless DS_SHARDED), and both were written whole
 * (h5io_check_stored).  Every load (dataset_load, _shared, _sharded) makes
 * the same checks, agreed across ranks, before it reads; a command that reads
 * several groups probes them all first. */
dt_status dataset_probe(const char *path, const char *group, int y, dt_dataset_info *info,
                        dt_error *err);

/* "/train, /test": the top-level groups of the file at path that hold an X
 * ("none" if none, "" if it cannot be read), for messages that name a missing
 * group. */
void dataset_groups(const char *path, char *buf, size_t len);
/* DT_EUSAGE, saying where such a file goes, if path is a saved model or
 * checkpoint given as data (it has a model and no group `group`); DT_OK
 * otherwise (a file that cannot be read included: its reader says why). */
dt_status dataset_check_not_model(const char *path, const char *group, dt_error *err);

/* Load group `group` ("/train") of an HDF5 file.  y is DS_LABELS: integer
 * class labels (rejecting negative or fractional values); DS_TARGETS: float
 * targets; DS_NO_Y: not read (prediction).  Metadata first (dataset_probe),
 * then X, then y.  X and regression targets must be finite; the error names
 * the first bad row and column. */
dt_status dataset_load(const char *path, const char *group, int y, dt_dataset *ds,
                       dt_error *err);

/* The distinct values among v[0..n) (n > 0; v is sorted in place) and
 * whether they are exactly 0..distinct-1 or 1..distinct: what
 * convert_label_rule judges a column of whole numbers by. */
void dataset_count_values(double *v, int64_t n, int64_t *distinct, int *index_like);

/* The rows of a float y that decide its head: the first 2^20. */
#define DT_Y_SAMPLE ((int64_t)1 << 20)

/* What a group's y is for, from the file (dataset_y_kind): class labels
 * when stored as an integer type or when the file names its classes
 * (/classes), float targets otherwise.  For float y of one column the values
 * are read too: whether each is a class label (a whole number >= 0) and how
 * many distinct ones there are, which the head chosen from the data and the
 * refusals of a contradicting one use. */
typedef struct {
    int known;          /* 0: y could not be read (dataset_load will say why) */
    int labels;         /* 1: class labels; 0: float targets */
    int named;          /* the file has /classes */
    dt_dtype type;      /* y's element type in the file */
    int64_t n, k;       /* rows, columns */
    int64_t not_label;  /* float y, one column: the first row that is not a whole
                           number >= 0, -1 if none (also -1 for other y) */
    double bad;         /* that row's value */
    int64_t distinct;   /* float y of class-label values: distinct values (else 0) */
    int index_like;     /* those values are exactly 0..distinct-1 or 1..distinct */
} dt_y_kind;

/* Fill kind for `group`'s y of the file at path; never fails (known 0 when
 * the file, group or y cannot be read).  Local; reads y when it is float. */
void dataset_y_kind(const char *path, const char *group, dt_y_kind *kind);

/* What a data file (dtrain convert) says beside X and y, kept by the models
 * trained on it (same layout in both files, readable by h5py and h5dump):
 *   /classes       K strings: class i's name; absent when the labels are
 *                  their own names 0..K-1
 *   /missing_fill  float64 (D): the value a missing feature takes (its mean
 *                  over the training rows) */
typedef struct {
    int64_t n_classes;
    char **classes; /* one allocation (pointers, then the texts), or NULL */
    int64_t d;
    double *fill;   /* (d), or NULL */
} dt_data_extras;

/* Read them from `path` (a data or model file); absent ones stay NULL. */
dt_status dataset_read_extras(const char *path, dt_data_extras *ex, dt_error *err);
/* Write those present into an open file. */
dt_status dataset_write_extras(h5file *f, const dt_data_extras *ex, dt_error *err);
void dataset_extras_free(dt_data_extras *ex);

/* Replace every NaN feature of ds (loaded with DS_KEEP_NAN) by fill[column]. */
void dataset_fill_missing(dt_dataset *ds, const double *fill);

/* Hold out round(frac * count) rows of every class (of all rows when ds has
 * no labels), chosen from (seed, RNG_STREAM_VALID, class): `held` gets them,
 * `keep` the rest, each in the original order.  Caller frees both. */
dt_status dataset_split(const dt_dataset *ds, double frac, uint64_t seed, dt_dataset *keep,
                        dt_dataset *held, dt_error *err);

/* Copy the rows i with pick[i] == want, in order, into out (allocated here,
 * free with dataset_free): X in its stored type (with its normalisation, if
 * one is attached), labels or targets; out->max_label is the largest label
 * copied.  On failure out is zeroed. */
dt_status dataset_subset(const dt_dataset *ds, const unsigned char *pick, int want,
                         dt_dataset *out, dt_error *err);

/* Labels must be < n_classes (and 0/1 when binary); the error names the row. */
dt_status dataset_check_labels(const dt_dataset *ds, const char *path, const char *group,
                               int n_classes, int binary, dt_error *err);
void dataset_free(dt_dataset *ds); /* collective if ds->shm */

/* dataset_load with X in one copy per node, shared by its ranks: the node's
 * first rank reads X, the others map the same memory.  Collective over c;
 * errors are agreed.  Read-only for all but the node's first rank: modify X
 * only through dataset_normalize. */
dt_status dataset_load_shared(dt_comm *c, const char *path, const char *group, int y,
                              dt_dataset *ds, dt_error *err);

/* dataset_load for --data-placement sharded: each rank of c reads only its
 * rows of X, block_slice(n, block, rank, size), in one collective MPI-IO
 * read (parallel HDF5); y is read whole by every rank.  block is the rows
 * per evaluation block (the model's max_batch), so that evaluation, the
 * full-batch gradient and the metrics, which split sets the same way, find
 * their rows local.  Collective; errors are agreed (a file system without
 * MPI-IO is one). */
dt_status dataset_load_sharded(dt_comm *c, const char *path, const char *group, int y,
                               int64_t block, dt_dataset *ds, dt_error *err);

/* The rows dataset_split(ds, frac, ...) keeps for training, from the labels
 * alone; -1 if out of memory. */
int64_t dataset_split_kept(const dt_dataset *ds, double frac);

/* dataset_split of a sharded ds: the same rows held out (the labels, held
 * whole, decide), and both parts sharded again with `block` (the rows they
 * need moved between ranks once).  Collective over ds->comm. */
dt_status dataset_split_sharded(const dt_dataset *ds, double frac, uint64_t seed, int64_t block,
                                dt_dataset *keep, dt_dataset *held, dt_error *err);

/* The rank of `size` whose block_slice(n, block, rank, size) holds row
 * (0 <= row < n): block_slice's inverse. */
int block_owner(int64_t n, int64_t block, int64_t row, int size);

/* Moving rows of a sharded data set to the ranks that ask for them (the
 * rows of each rank's slice of a batch, at every step).  Every rank knows
 * what every rank asks for (the batch's order is the same everywhere), so
 * each sends the rows it holds to the ranks that want them, in one
 * all-to-all (comm_exchange), without a request round. */
typedef struct dt_fetch dt_fetch;
/* For requests of at most max_rows rows per rank and max_total rows in all
 * (the batch).  Collective over ds->comm; NULL on every rank if out of
 * memory.  ds must outlive the fetch. */
dt_fetch *dataset_fetch_create(const dt_dataset *ds, int64_t max_rows, int64_t max_total);
/* Start moving the rows asked for: rank r's are want[sum of counts[0..r)
 * ..][0..counts[r]) (global row numbers), the same arrays on every rank;
 * no row asked for twice (a batch's rows, a split's: each rank sends at most
 * the rows it holds, which sizes its buffer).  Nonblocking; collective.  The
 * previous fetch must be finished. */
void dataset_fetch_start(dt_fetch *f, const int64_t *want, const int64_t *counts);
/* Wait for this rank's rows and write them as dataset_gather does: X (nb,
 * d) as float, normalised, labels (nb) or targets (nb, k), in the order
 * asked.  Returns nb. */
int64_t dataset_fetch_finish(dt_fetch *f, float *X, int32_t *labels, float *targets);
/* The same with X rounded to bf16 into X16 (nb, d), as dataset_gather_bf16. */
int64_t dataset_fetch_finish_bf16(dt_fetch *f, dt_bf16 *X16, int32_t *labels, float *targets);
/* Finishes a fetch in flight first (collective). */
void dataset_fetch_free(dt_fetch *f);

/* Copy rows rows[0..nb) into X (nb, d) and labels (nb) or targets (nb, k),
 * as float and normalised (uint8 rows are converted on the way). */
void dataset_gather(const dt_dataset *ds, const int64_t *rows, int64_t nb, float *X,
                    int32_t *labels, float *targets);
/* The same with X rounded to bf16 into X16 (nb, d): bf16_round of what
 * dataset_gather writes to X, bit for bit, without the float rows (uint8
 * rows go straight to bf16: bf16_round_u8).  Only where the CPU has the
 * instruction (bf16.h). */
void dataset_gather_bf16(const dt_dataset *ds, const int64_t *rows, int64_t nb, dt_bf16 *X16,
                         int32_t *labels, float *targets);

/* Rows [lo, lo + nb) as float and normalised: a pointer into ds->X when the
 * rows are stored as float, else the rows converted into buf (nb, d), which
 * is returned. */
const float *dataset_rows(const dt_dataset *ds, int64_t lo, int64_t nb, float *buf);

/* Normalisation x' = (x - shift) * scale per feature. */
typedef enum { NORM_NONE, NORM_ZSCORE, NORM_MINMAX } dt_norm_kind;
typedef struct {
    dt_norm_kind kind;
    int64_t d;
    float *shift, *scale; /* owned, (d) each */
} dt_norm;

/* The normalisations' names, indexed by dt_norm_kind, NULL-terminated. */
extern const char *const norm_names[];
dt_status norm_parse(const char *text, dt_norm_kind *out, dt_error *err);
const char *norm_name(dt_norm_kind k);
/* Statistics of ds computed across the ranks of c: each rank sums its
 * contiguous share of the rows (a sharded set: the rows it holds), then one
 * allreduce.  With exact != 0 the zscore sums are exact integer sums
 * (exsum.h; two passes over the rows), so the statistics are the same bits at
 * any rank count.  Constant features get
 * scale 1 (zscore) so they map to 0. */
dt_status norm_fit(dt_comm *c, const dt_dataset *ds, dt_norm_kind kind, int exact, dt_norm *out,
                   dt_error *err);
/* x' = (x - shift) * scale on every row: in place for float rows; for uint8
 * rows the statistics are attached to ds and applied as rows are read, with
 * the same float arithmetic, so both give the same bits. */
void norm_apply(const dt_norm *nm, dt_dataset *ds);
/* norm_apply for a dataset that may be shared: only one rank per node
 * writes, then the node synchronises.  Collective if ds->shm. */
void dataset_normalize(const dt_norm *nm, dt_dataset *ds);
void norm_free(dt_norm *nm);

/* --normalize-targets: the statistics of ds's regression targets (n, k),
 * computed locally over all its rows: shift (k) their mean, scale (k) 1/std
 * (population std; 1 for a constant target), as loss.h's dt_target_scaling
 * applies them. */
void dataset_target_stats(const dt_dataset *ds, float *shift, float *scale);

/* The contiguous share [*lo, *hi) of n items owned by `rank` of `size`;
 * shares differ by at most one item and cover 0..n exactly once. */
void batch_slice(int64_t n, int rank, int size, int64_t *lo, int64_t *hi);

/* The share of n rows that `rank` of `size` evaluates, in whole blocks of
 * `block` rows aligned to global row 0 (only the data set's last block is
 * short).  Each block is then multiplied with the same shapes and the same
 * data at any rank count, so outputs are the same bits, not merely close. */
void block_slice(int64_t n, int64_t block, int rank, int size, int64_t *lo, int64_t *hi);

/* Number of batches of size b in an epoch of n samples. */
int64_t batch_count(int64_t n, int64_t b, int drop_last);

#endif
