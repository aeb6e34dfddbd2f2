/* dtrain eval/predict: a saved model and the data it is applied to. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dtrain/checkpoint.h"
#include "dtrain/h5io.h"
#include "dtrain/matmul.h"
#include "dtrain/modelio.h"

/* The data has the model's inputs and, for regression, its outputs. */
static dt_status check_fit(const dt_config *cfg, const dt_model *m, int y,
                           const dt_dataset_info *info, dt_error *err)
{
    if (info->d != m->n_in)
        return dt_fail(err, DT_EUSAGE, "%s: %s/X has %lld features but the model %s takes %d",
                       cfg->train.data, cfg->eval.group, (long long)info->d, cfg->eval.model, m->n_in);
    if (y == DS_TARGETS && info->k != m->n_out)
        return dt_fail(err, DT_EUSAGE, "%s: %s/y has %lld targets per sample, the model %d",
                       cfg->train.data, cfg->eval.group, (long long)info->k, m->n_out);
    return DT_OK;
}

/* The model (small: read before the data's metadata is looked at); a
 * checkpoint is checked (format version, checksum) before it is trusted. */
static dt_status load_model(const dt_config *cfg, dt_model *m, dt_norm *norm, dt_error *err)
{
    h5file *mf;
    dt_status st = h5io_open_read(cfg->eval.model, &mf, err);
    if (st)
        return st;
    int is_ckpt = h5io_has_attr(mf, "/", "format_version");
    h5io_close(mf, NULL);
    if (is_ckpt && (st = ckpt_verify(cfg->eval.model, err)))
        return st;
    return modelio_load(cfg->eval.model, 256, m, norm, err);
}

/* --group is in the file (else the message names the groups it has), and
 * for predict (!want_y) whether it has a y: used only if present. */
static dt_status check_group(const dt_config *cfg, int want_y, int *y, dt_error *err)
{
    char yname[DT_PATH_MAX + 4];
    snprintf(yname, sizeof yname, "%s/y", cfg->eval.group);
    h5file *f;
    dt_status st = h5io_open_read(cfg->train.data, &f, err);
    if (st)
        return st;
    int has_group = h5io_exists(f, cfg->eval.group), has_y = h5io_exists(f, yname);
    if (!want_y && !has_y)
        *y = DS_NO_Y;
    h5io_close(f, NULL);
    if (has_group && want_y && !has_y)
        return dt_fail(err, DT_EUSAGE,
                       "%s: %s has no labels (no %s): eval scores a model against them; "
                       "for the model's outputs alone use dtrain predict --model %s --data %s "
                       "--out FILE.csv", cfg->train.data, cfg->eval.group, yname, cfg->eval.model, cfg->train.data);
    if (has_group)
        return DT_OK;
    if ((st = dataset_check_not_model(cfg->train.data, cfg->eval.group, err)))
        return st;
    char groups[512];
    dataset_groups(cfg->train.data, groups, sizeof groups);
    return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (%s --group); groups with an X: %s",
                   cfg->train.data, cfg->eval.group,
                   CONFIG_GIVEN(cfg, eval.group) ? "given as" : "the default of", groups);
}

/* The first NaN feature of ds, refused: the model has no values to fill it
 * with. */
static dt_status refuse_missing(const dt_config *cfg, const dt_dataset *ds, dt_error *err)
{
    for (int64_t i = 0; ds->X && i < ds->n * ds->d; i++)
        if (isnan(ds->X[i]))
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/X row %lld column %lld is missing (NaN), and the model %s "
                           "has no /missing_fill to fill it with (its training data was not "
                           "converted with --missing mean): fill the value in, or leave the "
                           "row out (dtrain convert --missing drop), or train on data "
                           "converted with --missing mean",
                           cfg->train.data, cfg->eval.group, (long long)(ds->lo + i / ds->d),
                           (long long)(i % ds->d), cfg->eval.model);
    return DT_OK;
}

/* Missing features (NaN, from convert --no-labels --missing mean) take the
 * values the model's training data was filled with; a model without them
 * refuses them, saying so. */
static dt_status load_filled(const dt_config *cfg, const dt_model *m, int y, dt_dataset *ds,
                             dt_error *err)
{
    dt_data_extras ex;
    dt_status st = dataset_read_extras(cfg->eval.model, &ex, err);
    if (!st && ex.fill && ex.d != m->n_in)
        st = dt_fail(err, DT_EUSAGE, "%s: /missing_fill has %lld values, the model takes %d "
                     "features", cfg->eval.model, (long long)ex.d, m->n_in);
    if (!st)
        st = dataset_load(cfg->train.data, cfg->eval.group, y | DS_KEEP_NAN, ds, err);
    if (!st && ex.fill)
        dataset_fill_missing(ds, ex.fill);
    else if (!st)
        st = refuse_missing(cfg, ds, err);
    dataset_extras_free(&ex);
    return st;
}

static dt_status load_local(const dt_config *cfg, int want_y, dt_model *m, dt_norm *norm,
                            dt_dataset *ds, dt_error *err)
{
    if (!cfg->eval.model[0])
        return dt_fail(err, DT_EUSAGE, "--model FILE.h5 is required");
    if (!cfg->train.data[0])
        return dt_fail(err, DT_EUSAGE, "--data FILE.h5 is required");
    dt_status st = load_model(cfg, m, norm, err);
    if (st)
        return st;
    int y = head_is_classifier(m->head) ? DS_LABELS : DS_TARGETS;
    if ((st = check_group(cfg, want_y, &y, err)))
        return st;
    /* the data's metadata, and its fit to the model, before any of it is read */
    dt_dataset_info info;
    if ((st = dataset_probe(cfg->train.data, cfg->eval.group, y, &info, err)) ||
        (st = check_fit(cfg, m, y, &info, err)) ||
        (st = load_filled(cfg, m, y, ds, err)))
        return st;
    if (y == DS_LABELS) {
        int k = m->head == HEAD_SOFTMAX ? m->n_out : 2;
        if ((st = dataset_check_labels(ds, cfg->train.data, cfg->eval.group, k, m->head == HEAD_SIGMOID, err)))
            return st;
    }
    norm_apply(norm, ds);
    return DT_OK;
}

dt_status cli_load_model_data(const dt_config *cfg, dt_comm *world, int want_y, dt_model *m,
                              dt_dataset *ds, dt_error *err)
{
    dt_norm norm;
    memset(&norm, 0, sizeof norm);
    memset(ds, 0, sizeof *ds);
    memset(m, 0, sizeof *m);
    matmul_set_threads((int)cfg->train.threads);
    dt_status st = load_local(cfg, want_y, m, &norm, ds, err);
    norm_free(&norm);
    st = comm_agree(world, st, err);
    if (st) {
        model_free(m);
        dataset_free(ds);
    }
    return st;
}
