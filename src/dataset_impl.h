/* dtrain: what the files of the data set module share: dataset.c (loading,
 * extras), dataset_rows.c (subsets, splits, rows, fetching rows from other
 * ranks) and dataset_norm.c (normalisation).  Not for other modules. */
#ifndef DTRAIN_DATASET_IMPL_H
#define DTRAIN_DATASET_IMPL_H

#include "dtrain/dataset.h"

/* The rows X holds: all n, or a sharded set's share. */
static inline int64_t dataset_held_rows(const dt_dataset *ds)
{
    return ds->block ? ds->held : ds->n;
}

/* Row r (its number in the data set: a sharded set holds it at r - lo) into
 * out (d floats; uint8 rows converted).  dataset_rows.c. */
void dataset_copy_row(const dt_dataset *ds, int64_t r, float *out);

/* The sharded load's setting: c, block, and this rank's share of ds->n.
 * dataset.c. */
void dataset_set_share(dt_dataset *ds, dt_comm *c, int64_t block);
/* A sharded set's X for its rows (ds->lo, ds->held set), and norm8 for
 * uint8: allocated after a check that the share fits in memory.  dataset.c. */
dt_status dataset_alloc_share(dt_dataset *ds, const char *path, const char *xname,
                              const dt_dataset_info *info, dt_error *err);

#endif
