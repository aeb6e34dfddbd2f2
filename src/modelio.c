/* dtrain: saved models. */
#include "dtrain/modelio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtrain/fsutil.h"
#include "dtrain/h5io.h"

#ifndef DTRAIN_VERSION
#define DTRAIN_VERSION "unknown"
#endif

/* group/shift and group/scale (n each), attr kind: a normalisation
 * x' = (x - shift) * scale. */
static dt_status write_scaling(h5file *f, const char *group, int64_t n, const float *shift,
                               const float *scale, const char *kind, dt_error *err)
{
    char name[64];
    int64_t d[1] = {n};
    dt_status st;
    snprintf(name, sizeof name, "%s/shift", group);
    if ((st = h5io_write(f, name, DT_F32, 1, d, shift, 0, err)))
        return st;
    snprintf(name, sizeof name, "%s/scale", group);
    if ((st = h5io_write(f, name, DT_F32, 1, d, scale, 0, err)))
        return st;
    return h5io_set_attr_str(f, group, "kind", kind, err);
}

/* The training data's class names and missing-value fill (dt_data_extras),
 * kept with the model so that eval and predict name classes and fill new data
 * as the training data was. */
static dt_status copy_data_extras(h5file *f, const char *data, dt_error *err)
{
    dt_data_extras ex;
    dt_status st = dataset_read_extras(data, &ex, err);
    if (!st)
        st = dataset_write_extras(f, &ex, err);
    dataset_extras_free(&ex);
    return st;
}

/* The layout of modelio.h but the data's extras. */
static dt_status write_model(h5file *f, const dt_model *m, const dt_norm *norm,
                             const dt_saved_opts *opts, dt_error *err)
{
    dt_status st;
    if ((st = h5io_make_group(f, "/model", err)) ||
        (st = h5io_set_attr_str(f, "/model", "output", head_name(m->head), err)) ||
        (st = h5io_set_attr_i64(f, "/model", "n_layers", m->n_layers, err)) ||
        (st = h5io_set_attr_str(f, "/model", "dtrain_version", DTRAIN_VERSION, err)))
        return st;
    for (int l = 0; l < m->n_layers; l++) {
        const dt_layer *L = &m->layers[l];
        char g[64], name[96], act[64];
        snprintf(g, sizeof g, "/model/layer%d", l);
        int64_t wd[2] = {L->n_out, L->n_in}, bd[1] = {L->n_out};
        act_format(L->act, act, sizeof act);
        snprintf(name, sizeof name, "%s/weight", g);
        if ((st = h5io_write(f, name, DT_F32, 2, wd, L->W, 0, err)))
            return st;
        snprintf(name, sizeof name, "%s/bias", g);
        if ((st = h5io_write(f, name, DT_F32, 1, bd, L->b, 0, err)) ||
            (st = h5io_set_attr_str(f, g, "activation", act, err)))
            return st;
    }
    if (norm && norm->shift &&
        (st = write_scaling(f, "/normalization", norm->d, norm->shift, norm->scale,
                            norm_name(norm->kind), err)))
        return st;
    if (m->target_stats &&
        (st = write_scaling(f, "/target_normalization", m->n_out, m->target_stats,
                            m->target_stats + m->n_out, norm_name(NORM_ZSCORE), err)))
        return st;
    if (opts) {
        if ((st = h5io_make_group(f, "/config", err)))
            return st;
        char v[2 * DT_PATH_MAX + 2];
        const char *key;
        for (size_t i = 0; opts->get(opts, i, &key, v, sizeof v); i++)
            if (key && (st = h5io_set_attr_str(f, "/config", key, v, err)))
                return st;
    }
    return DT_OK;
}

dt_status modelio_write(h5file *f, const dt_model *m, const dt_norm *norm,
                        const dt_saved_opts *opts, dt_error *err)
{
    dt_status st = write_model(f, m, norm, opts, err);
    return !st && opts && opts->data[0] ? copy_data_extras(f, opts->data, err) : st;
}

/* A saved model's whole content (modelio_save's, modelio_image's) into f. */
static dt_status write_saved(h5file *f, const dt_model *m, const dt_norm *norm,
                             const dt_saved_opts *opts, const dt_data_extras *extras,
                             const dt_history *hist, dt_error *err)
{
    dt_status st = extras ? write_model(f, m, norm, opts, err)
                          : modelio_write(f, m, norm, opts, err);
    if (!st && extras)
        st = dataset_write_extras(f, extras, err);
    if (!st && hist && hist->n_rows)
        st = history_write_h5(f, hist, err);
    return st;
}

dt_status modelio_save(const char *path, const dt_model *m, const dt_norm *norm,
                       const dt_saved_opts *opts, const dt_data_extras *extras,
                       const dt_history *hist, dt_error *err)
{
    char tmp[DT_PATH_MAX + 64];
    fs_temp_name(path, tmp, sizeof tmp);
    h5file *f;
    dt_status st = h5io_create(tmp, &f, err);
    if (st)
        return st;
    st = write_saved(f, m, norm, opts, extras, hist, err);
    return h5io_finish(f, path, st, err);
}

dt_status modelio_image(const char *name, const dt_model *m, const dt_norm *norm,
                        const dt_saved_opts *opts, const dt_data_extras *extras,
                        const dt_history *hist, void **image, size_t *len, dt_error *err)
{
    *image = NULL;
    *len = 0;
    h5file *f;
    dt_status st = h5io_create_image(name, &f, err);
    if (st)
        return st;
    st = write_saved(f, m, norm, opts, extras, hist, err);
    return h5io_finish_image(f, st, image, len, err);
}

/* Shape of /model/layer{l}/weight; name receives its path. */
static dt_status weight_shape(h5file *f, int l, char *name, size_t len, int *nd,
                              int64_t dims[8], dt_error *err)
{
    dt_dtype t;
    snprintf(name, len, "/model/layer%d/weight", l);
    return h5io_info(f, name, nd, dims, &t, err);
}

static int count_layers(h5file *f)
{
    int n = 0;
    for (;;) {
        char g[64];
        snprintf(g, sizeof g, "/model/layer%d", n);
        if (!h5io_exists(f, g))
            return n;
        n++;
    }
}

/* A model's numbers must be finite: a NaN weight would train or predict
 * nothing but NaN, and a NaN scale makes every input the same. */
static dt_status check_finite(const char *path, const char *dset, const float *v, size_t n,
                              dt_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return dt_fail(err, DT_EUSAGE, "%s: %s[%zu] is %s: not a usable model (a damaged "
                           "file, or saved from a run that diverged)",
                           path, dset, i, isnan(v[i]) ? "NaN" : "infinite");
    return DT_OK;
}

/* A vector with one entry per model input (the normalisation's shift or
 * scale) must be exactly that long: it is read into an n-entry buffer. */
static dt_status check_input_vector(h5file *f, const char *name, int n, dt_error *err)
{
    int nd;
    int64_t dims[8];
    dt_dtype t;
    dt_status st = h5io_info(f, name, &nd, dims, &t, err);
    if (st || (nd == 1 && dims[0] == n))
        return st ? st : h5io_check_size(f, name, err);
    char shape[128] = "";
    for (int i = 0, used = 0; i < nd && used < (int)sizeof shape; i++)
        used += snprintf(shape + used, sizeof shape - (size_t)used, "%s%lld", i ? " x " : "",
                         (long long)dims[i]);
    return dt_fail(err, DT_EUSAGE, "%s: %s has shape (%s); expected (%d), one entry per model "
                   "input", h5io_path(f), name, shape, n);
}

/* The file's first n layers (of stored_layers) against the model's: each
 * difference appended to diff (size cap), "" if there is none. */
static dt_status compare_shapes(h5file *f, const dt_model *m, int stored_layers, int n,
                                char *diff, size_t cap, dt_error *err)
{
    size_t used = 0;
#define DIFF(...)                                                                          \
    do {                                                                                   \
        if (used < cap)                                                                    \
            used += (size_t)snprintf(diff + used, cap - used, __VA_ARGS__);                \
    } while (0)
    diff[0] = '\0';
    if (stored_layers != m->n_layers)
        DIFF("; %d layers in the file, %d in the model", stored_layers, m->n_layers);
    for (int l = 0; l < n; l++) {
        const dt_layer *L = &m->layers[l];
        char name[96];
        int nd;
        int64_t dims[8];
        dt_dtype t;
        dt_status st = weight_shape(f, l, name, sizeof name, &nd, dims, err);
        if (st)
            return st;
        if (nd != 2 || dims[0] != L->n_out || dims[1] != L->n_in)
            DIFF("; layer%d/weight is %lld x %lld in the file, %d x %d in the model", l,
                 (long long)dims[0], (long long)(nd == 2 ? dims[1] : 0), L->n_out, L->n_in);
        snprintf(name, sizeof name, "/model/layer%d/bias", l);
        if ((st = h5io_info(f, name, &nd, dims, &t, err)))
            return st;
        if (nd != 1 || dims[0] != L->n_out)
            DIFF("; layer%d/bias has %lld entries in the file, %d in the model", l,
                 (long long)dims[0], L->n_out);
    }
#undef DIFF
    return DT_OK;
}

/* The weights and biases of the first n layers, each stored in full (not
 * fill values of a declared-only dataset) and checked finite. */
static dt_status read_weights(h5file *f, const char *path, dt_model *m, int n, dt_error *err)
{
    dt_status st = DT_OK;
    for (int l = 0; l < n && !st; l++) {
        dt_layer *L = &m->layers[l];
        char name[96];
        snprintf(name, sizeof name, "/model/layer%d/weight", l);
        if ((st = h5io_check_size(f, name, err)) ||
            (st = h5io_read_rows(f, name, DT_F32, 0, L->n_out, L->W, err)) ||
            (st = check_finite(path, name, L->W, (size_t)L->n_out * L->n_in, err)))
            break;
        snprintf(name, sizeof name, "/model/layer%d/bias", l);
        if (!(st = h5io_check_size(f, name, err)) &&
            !(st = h5io_read_rows(f, name, DT_F32, 0, L->n_out, L->b, err)))
            st = check_finite(path, name, L->b, (size_t)L->n_out, err);
    }
    return st;
}

dt_status modelio_load_weights(const char *path, dt_model *m, dt_error *err)
{
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    int stored_layers = count_layers(f);
    int n = stored_layers < m->n_layers ? stored_layers : m->n_layers;
    char diff[DT_ERRMSG_LEN];
    if (stored_layers == 0)
        st = dt_fail(err, DT_EUSAGE, "%s: no /model/layer0 (not a dtrain model file)", path);
    else if (!(st = compare_shapes(f, m, stored_layers, n, diff, sizeof diff, err)))
        st = diff[0] ? dt_fail(err, DT_EUSAGE, "%s: architecture differs%s", path, diff)
                     : read_weights(f, path, m, n, err);
    h5io_close(f, NULL);
    return st;
}

/* The architecture a model file describes: what model_create takes. */
typedef struct {
    dt_head head;
    dt_layer_spec hidden[DT_MAX_LAYERS];
    int n_layers, n_in, n_out;
} stored_arch;

/* Layer l's weight shape, which must chain on from the layer before, and
 * for a hidden layer its width and activation.  The shapes size the model
 * (model_create allocates them, and activations of a batch by each width):
 * weight and bias must be stored in full, not merely declared, before any of
 * that is allocated. */
static dt_status read_layer(h5file *f, const char *path, int l, stored_arch *a, dt_error *err)
{
    char name[96], bias[96], text[256];
    int nd, nb;
    int64_t dims[8], bdims[8];
    dt_dtype t;
    dt_status st = weight_shape(f, l, name, sizeof name, &nd, dims, err);
    if (st)
        return st;
    snprintf(bias, sizeof bias, "/model/layer%d/bias", l);
    if ((st = h5io_info(f, bias, &nb, bdims, &t, err)))
        return st;
    if (nd != 2 || dims[0] < 1 || dims[1] < 1 || dims[0] > INT32_MAX || dims[1] > INT32_MAX ||
        (l > 0 && dims[1] != a->hidden[l - 1].width))
        return dt_fail(err, DT_EUSAGE, "%s: %s has an inconsistent shape", path, name);
    if (nb != 1 || bdims[0] != dims[0])
        return dt_fail(err, DT_EUSAGE, "%s: %s is not a vector of %lld entries (one per row "
                       "of %s)", path, bias, (long long)dims[0], name);
    if ((st = h5io_check_size(f, name, err)) || (st = h5io_check_size(f, bias, err)))
        return st;
    if (l == 0)
        a->n_in = (int)dims[1];
    if (l == a->n_layers - 1) {
        a->n_out = (int)dims[0];
        return DT_OK;
    }
    a->hidden[l].width = (int)dims[0];
    snprintf(name, sizeof name, "/model/layer%d", l);
    if ((st = h5io_get_attr_str(f, name, "activation", text, sizeof text, err)) ||
        (st = act_parse(text, &a->hidden[l].act, err)))
        dt_fail_prefix(err, "%s: %s", path, name);
    return st;
}

static dt_status read_arch(h5file *f, const char *path, stored_arch *a, dt_error *err)
{
    char text[256];
    a->n_layers = count_layers(f);
    if (a->n_layers == 0 || a->n_layers > DT_MAX_LAYERS)
        return dt_fail(err, DT_EUSAGE, "%s: no /model/layer0 (not a dtrain model or checkpoint)",
                       path);
    dt_status st;
    if ((st = h5io_get_attr_str(f, "/model", "output", text, sizeof text, err)) ||
        (st = head_parse(text, &a->head, err)))
        return st;
    for (int l = 0; l < a->n_layers && !st; l++)
        st = read_layer(f, path, l, a, err);
    return st;
}

/* The file's group/shift and group/scale (a normalisation written by
 * write_scaling), n entries each, checked finite; kind receives its kind. */
static dt_status read_scaling(h5file *f, const char *path, const char *group, int n,
                              float *shift, float *scale, dt_norm_kind *kind, dt_error *err)
{
    char text[256], sname[64], cname[64];
    dt_status st;
    snprintf(sname, sizeof sname, "%s/shift", group);
    snprintf(cname, sizeof cname, "%s/scale", group);
    if ((st = check_input_vector(f, sname, n, err)) ||
        (st = check_input_vector(f, cname, n, err)) ||
        (st = h5io_read_rows(f, sname, DT_F32, 0, n, shift, err)) ||
        (st = h5io_read_rows(f, cname, DT_F32, 0, n, scale, err)) ||
        (st = check_finite(path, sname, shift, (size_t)n, err)) ||
        (st = check_finite(path, cname, scale, (size_t)n, err)) ||
        (st = h5io_get_attr_str(f, group, "kind", text, sizeof text, err)))
        return st;
    return norm_parse(text, kind, err);
}

/* The file's /normalization, checked against a model of n_in inputs. */
static dt_status read_saved_norm(h5file *f, const char *path, int n_in, dt_norm *norm,
                                 dt_error *err)
{
    return read_scaling(f, path, "/normalization", n_in, norm->shift, norm->scale, &norm->kind,
                        err);
}

/* The file's /target_normalization (one entry per output) into m; none if the
 * file has none (saved before --normalize-targets, or trained without). */
static dt_status read_target_scaling(h5file *f, const char *path, dt_model *m, dt_error *err)
{
    if (!h5io_exists(f, "/target_normalization/shift"))
        return model_set_target_scaling(m, NULL, NULL, err);
    const int k = m->n_out;
    float *stats = malloc(2 * (size_t)k * sizeof *stats);
    dt_norm_kind kind;
    dt_status st = stats ? read_scaling(f, path, "/target_normalization", k, stats, stats + k,
                                        &kind, err)
                         : dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st && kind != NORM_ZSCORE)
        st = dt_fail(err, DT_EUSAGE, "%s: /target_normalization has kind %s; expected zscore",
                     path, norm_name(kind));
    if (!st)
        st = model_set_target_scaling(m, stats, stats + k, err);
    free(stats);
    return st;
}

dt_status modelio_load_target_scaling(const char *path, dt_model *m, dt_error *err)
{
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    st = read_target_scaling(f, path, m, err);
    h5io_close(f, NULL);
    return st;
}

/* The normalisation saved with a model of n_in inputs; none (shift 0,
 * scale 1) if the file has none. */
static dt_status load_norm(const char *path, int n_in, dt_norm *norm, dt_error *err)
{
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    norm->kind = NORM_NONE;
    norm->d = n_in;
    norm->shift = calloc((size_t)n_in, sizeof(float));
    norm->scale = malloc((size_t)n_in * sizeof(float));
    if (!norm->shift || !norm->scale)
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    for (int j = 0; !st && j < n_in; j++) norm->scale[j] = 1.0f;
    if (!st && h5io_exists(f, "/normalization/shift"))
        st = read_saved_norm(f, path, n_in, norm, err);
    h5io_close(f, NULL);
    return st;
}

dt_status modelio_load(const char *path, int max_batch, dt_model *m, dt_norm *norm,
                       dt_error *err)
{
    memset(m, 0, sizeof *m);
    if (norm)
        memset(norm, 0, sizeof *norm);
    h5file *f;
    stored_arch a;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    st = read_arch(f, path, &a, err);
    h5io_close(f, NULL);
    if (!st)
        st = model_create(m, a.n_in, a.hidden, a.n_layers - 1, a.n_out, a.head, max_batch, err);
    if (!st)
        st = modelio_load_weights(path, m, err);
    if (!st && norm)
        st = load_norm(path, a.n_in, norm, err);
    if (!st)
        st = modelio_load_target_scaling(path, m, err);
    if (st) {
        model_free(m);
        if (norm)
            norm_free(norm);
    }
    return st;
}
