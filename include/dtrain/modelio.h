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

#include "dtrain/config.h"
#include "dtrain/dataset.h"
#include "dtrain/h5io.h"
#include "dtrain/history.h"
#include "dtrain/model.h"
#include "dtrain/status.h"

/* Write the layout above into an open file (checkpoints reuse it). */
/* Option o's value as saved in f's /config (under its name, or its former
 * name when the file is older than the rename) into v (len bytes), in
 * today's spelling (config_current_spelling): DT_OK, or an error if the file
 * has neither. */
dt_status modelio_saved_option(h5file *f, const dt_option *o, char *v, size_t len,
                               dt_error *err);

dt_status modelio_write(h5file *f, const dt_model *m, const dt_norm *norm,
                        const dt_config *cfg, dt_error *err);

/* Write the model to `path` through a temporary file in the same directory
 * renamed into place, so an existing file is replaced only by a complete one.
 * norm, cfg and hist (the training run's epochs, as /history) may be NULL. */
dt_status modelio_save(const char *path, const dt_model *m, const dt_norm *norm,
                       const dt_config *cfg, const dt_history *hist, dt_error *err);

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
