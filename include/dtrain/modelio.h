/* dtrain: saved models in HDF5.
 *
 * Layout (readable by h5py and h5dump):
 *   /model                attrs: output (softmax|sigmoid|linear), n_layers, dtrain_version
 *   /model/layer{i}       attr: activation (identity for the last layer)
 *   /model/layer{i}/weight  float32 (out, in)   -- torch.nn.Linear.weight orientation
 *   /model/layer{i}/bias    float32 (out)
 *   /normalization/shift, /normalization/scale  float32 (D), attr kind; x' = (x - shift) * scale
 *   /target_normalization/shift, /target_normalization/scale  float32 (K), attr kind zscore:
 *                         a linear head trained on y' = (y - shift) * scale (the training
 *                         split's mean and 1/std); outputs are y = y' / scale + shift.
 *                         Absent: the targets were used as they are (and older files)
 *   /config               one string attribute per `train` option, as it would be typed
 *   /classes, /missing_fill  copied from the training data (--data), when it has them
 *                         (dt_data_extras: class names, the fill of missing features) */
#ifndef DTRAIN_MODELIO_H
#define DTRAIN_MODELIO_H

#include <stddef.h>
#include <stdint.h>
#include "dtrain/dataset.h"
#include "dtrain/h5io.h"
#include "dtrain/history.h"
#include "dtrain/model.h"
#include "dtrain/status.h"

/* A run's training options as /config keeps them, and the values beside
 * them that the files record.  modelio and checkpoint know nothing of the
 * option table: they write and compare the options through these calls,
 * which the configuration module provides (cfgsave_opts, cfgsave.h). */
typedef struct dt_saved_opts dt_saved_opts;
struct dt_saved_opts {
    /* Option i of the table: 0 past the last one; else 1, with *key its name
     * and v (len bytes) its text as /config keeps it (names made absolute),
     * or *key NULL for an option not saved. */
    int (*get)(const dt_saved_opts *o, size_t i, const char **key, char *v, size_t len);
    /* Checkpoint f's /config against these options: appends to diff (size
     * bytes, *used written so far, which may pass size as snprintf counts)
     * "\n  --NAME: checkpoint 'WAS', now 'NOW'" for each difference that
     * forbids a resume, and says each that may change (dt_info).  0, or -1
     * without memory. */
    int (*compare)(const dt_saved_opts *o, h5file *f, char *diff, size_t size, size_t *used);
    const void *cfg;  /* what get and compare read (the configuration) */
    const char *data; /* the training data file ("" none): its extras go with the model */
    int64_t seed;     /* the run's seed (a checkpoint's /progress records it) */
};

/* Write the layout above into an open file (checkpoints reuse it); opts
 * NULL: no /config. */
dt_status modelio_write(h5file *f, const dt_model *m, const dt_norm *norm,
                        const dt_saved_opts *opts, dt_error *err);

/* Write the model to `path` through a temporary file in the same directory
 * renamed into place, so an existing file is replaced only by a complete one.
 * norm, opts and hist (the training run's epochs, as /history) may be NULL.
 * extras (the model's class names and missing-value fill) are written as
 * given; NULL: those of the training data file opts names, if any. */
dt_status modelio_save(const char *path, const dt_model *m, const dt_norm *norm,
                       const dt_saved_opts *opts, const dt_data_extras *extras,
                       const dt_history *hist, dt_error *err);

/* The bytes modelio_save would write, as an HDF5 file image: *image
 * malloc'd (*len bytes), for the caller to free; NULL on failure.  name is
 * what messages call it. */
dt_status modelio_image(const char *name, const dt_model *m, const dt_norm *norm,
                        const dt_saved_opts *opts, const dt_data_extras *extras,
                        const dt_history *hist, void **image, size_t *len, dt_error *err);

/* Replace m's parameters with those stored in `path`.  The number of layers and
 * every shape must match; otherwise the error lists each difference. */
dt_status modelio_load_weights(const char *path, dt_model *m, dt_error *err);

/* Build a model from the architecture stored in `path` (layer shapes, the
 * activation attributes, the output attribute), with workspace for max_batch
 * rows, and load its parameters, its target scaling and, if norm is not NULL,
 * its normalisation (kind none if the file has none).  Every layer's weight
 * and bias must be stored in full (h5io_check_stored) before the model is
 * allocated: a small damaged file declaring gigabytes fails with DT_EUSAGE.
 * Caller frees with model_free/norm_free. */
dt_status modelio_load(const char *path, int max_batch, dt_model *m, dt_norm *norm,
                       dt_error *err);

/* The file's /target_normalization into m (model_set_target_scaling), or
 * none if the file has none. */
dt_status modelio_load_target_scaling(const char *path, dt_model *m, dt_error *err);

#endif
