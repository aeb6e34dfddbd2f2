/* dtrain: saved models. */
#include "dtrain/modelio.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
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

dt_status modelio_write(h5file *f, const dt_model *m, const dt_norm *norm,
                             const dt_config *cfg, dt_error *err)
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
    if (norm && norm->shift) {
        int64_t d[1] = {norm->d};
        if ((st = h5io_write(f, "/normalization/shift", DT_F32, 1, d, norm->shift, 0, err)) ||
            (st = h5io_write(f, "/normalization/scale", DT_F32, 1, d, norm->scale, 0, err)) ||
            (st = h5io_set_attr_str(f, "/normalization", "kind", norm_name(norm->kind), err)))
            return st;
    }
    if (cfg) {
        if ((st = h5io_make_group(f, "/config", err)))
            return st;
        size_t n;
        const dt_option *opts = config_options(&n);
        for (size_t i = 0; i < n; i++) {
            if (!(opts[i].cmds & CMD_TRAIN))
                continue;
            char v[2 * DT_PATH_MAX + 2];
            config_value_str(cfg, &opts[i], v, sizeof v);
            if ((st = h5io_set_attr_str(f, "/config", opts[i].name, v, err)))
                return st;
        }
    }
    return DT_OK;
}

dt_status modelio_save(const char *path, const dt_model *m, const dt_norm *norm,
                       const dt_config *cfg, dt_error *err)
{
    char tmp[DT_PATH_MAX + 64];
    fs_temp_name(path, tmp, sizeof tmp);
    h5file *f;
    dt_status st = h5io_create(tmp, &f, err);
    if (st)
        return st;
    return h5io_finish(f, path, modelio_write(f, m, norm, cfg, err), err);
}

dt_status modelio_check_writable(const char *path, const char *option,
                                 const char *const *inputs, dt_error *err)
{
    dt_status st = fs_check_output(path, option, inputs, err);
    if (st)
        return st;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return dt_fail(err, DT_EUSAGE, "--%s %s: is a directory", option, path);
    char dir[DT_PATH_MAX];
    fs_dirname(path, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0)
        return dt_fail(err, DT_EUSAGE, "--%s %s: directory '%s' is missing or not writable",
                       option, path, dir);
    /* Probe with the temporary name the real write will use: the same
     * directory, permissions and file system, and nothing existing touched. */
    char tmp[DT_PATH_MAX + 64];
    fs_temp_name(path, tmp, sizeof tmp);
    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0)
        return dt_fail(err, DT_EUSAGE, "--%s %s: cannot write there: %s", option, path,
                       strerror(errno));
    close(fd);
    unlink(tmp);
    if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
        return dt_fail(err, DT_EUSAGE, "--%s %s: file exists and is not writable", option, path);
    return DT_OK;
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
        return st;
    char shape[128] = "";
    for (int i = 0, used = 0; i < nd && used < (int)sizeof shape; i++)
        used += snprintf(shape + used, sizeof shape - (size_t)used, "%s%lld", i ? " x " : "",
                         (long long)dims[i]);
    return dt_fail(err, DT_EUSAGE, "%s: %s has shape (%s); expected (%d), one entry per model "
                   "input", h5io_path(f), name, shape, n);
}

dt_status modelio_load_weights(const char *path, dt_model *m, dt_error *err)
{
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    char diff[DT_ERRMSG_LEN] = "";
    size_t used = 0;
#define DIFF(...)                                                                          \
    do {                                                                                   \
        if (used < sizeof diff)                                                            \
            used += (size_t)snprintf(diff + used, sizeof diff - used, __VA_ARGS__);        \
    } while (0)
    int stored_layers = count_layers(f);
    if (stored_layers == 0) {
        h5io_close(f, NULL);
        return dt_fail(err, DT_EUSAGE, "%s: no /model/layer0 (not a dtrain model file)", path);
    }
    if (stored_layers != m->n_layers)
        DIFF("; %d layers in the file, %d in the model", stored_layers, m->n_layers);
    int n = stored_layers < m->n_layers ? stored_layers : m->n_layers;
    for (int l = 0; l < n; l++) {
        const dt_layer *L = &m->layers[l];
        char name[96];
        int nd;
        int64_t dims[8];
        if ((st = weight_shape(f, l, name, sizeof name, &nd, dims, err)))
            goto out;
        if (nd != 2 || dims[0] != L->n_out || dims[1] != L->n_in)
            DIFF("; layer%d/weight is %lld x %lld in the file, %d x %d in the model", l,
                 (long long)dims[0], (long long)(nd == 2 ? dims[1] : 0), L->n_out, L->n_in);
        dt_dtype t;
        snprintf(name, sizeof name, "/model/layer%d/bias", l);
        if ((st = h5io_info(f, name, &nd, dims, &t, err)))
            goto out;
        if (nd != 1 || dims[0] != L->n_out)
            DIFF("; layer%d/bias has %lld entries in the file, %d in the model", l,
                 (long long)dims[0], L->n_out);
    }
    if (diff[0]) {
        st = dt_fail(err, DT_EUSAGE, "%s: architecture differs%s", path, diff);
        goto out;
    }
    for (int l = 0; l < n; l++) {
        dt_layer *L = &m->layers[l];
        char name[96];
        snprintf(name, sizeof name, "/model/layer%d/weight", l);
        if ((st = h5io_read_rows(f, name, DT_F32, 0, L->n_out, L->W, err)) ||
            (st = check_finite(path, name, L->W, (size_t)L->n_out * L->n_in, err)))
            goto out;
        snprintf(name, sizeof name, "/model/layer%d/bias", l);
        if ((st = h5io_read_rows(f, name, DT_F32, 0, L->n_out, L->b, err)) ||
            (st = check_finite(path, name, L->b, (size_t)L->n_out, err)))
            goto out;
    }
out:
#undef DIFF
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
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    int nl = count_layers(f);
    char text[256];
    dt_head head;
    dt_layer_spec hidden[DT_MAX_LAYERS];
    int n_in = 0, n_out = 0;
    if (nl == 0 || nl > DT_MAX_LAYERS) {
        st = dt_fail(err, DT_EUSAGE, "%s: no /model/layer0 (not a dtrain model or checkpoint)",
                     path);
        goto out;
    }
    if ((st = h5io_get_attr_str(f, "/model", "output", text, sizeof text, err)) ||
        (st = head_parse(text, &head, err)))
        goto out;
    int prev_out = -1;
    for (int l = 0; l < nl; l++) {
        char name[96];
        int nd;
        int64_t dims[8];
        if ((st = weight_shape(f, l, name, sizeof name, &nd, dims, err)))
            goto out;
        if (nd != 2 || dims[0] < 1 || dims[1] < 1 || (prev_out >= 0 && dims[1] != prev_out)) {
            st = dt_fail(err, DT_EUSAGE, "%s: %s has an inconsistent shape", path, name);
            goto out;
        }
        if (l == 0)
            n_in = (int)dims[1];
        prev_out = (int)dims[0];
        if (l < nl - 1) {
            hidden[l].width = (int)dims[0];
            snprintf(name, sizeof name, "/model/layer%d", l);
            if ((st = h5io_get_attr_str(f, name, "activation", text, sizeof text, err)) ||
                (st = act_parse(text, &hidden[l].act, err))) {
                dt_fail_prefix(err, "%s: %s", path, name);
                goto out;
            }
        } else {
            n_out = (int)dims[0];
        }
    }
    if ((st = model_create(m, n_in, hidden, nl - 1, n_out, head, max_batch, err)))
        goto out;
    h5io_close(f, NULL);
    f = NULL;
    if ((st = modelio_load_weights(path, m, err)))
        goto out;
    if (norm) {
        if ((st = h5io_open_read(path, &f, err)))
            goto out;
        norm->kind = NORM_NONE;
        norm->d = n_in;
        norm->shift = calloc((size_t)n_in, sizeof(float));
        norm->scale = malloc((size_t)n_in * sizeof(float));
        if (!norm->shift || !norm->scale) {
            st = dt_fail(err, DT_ENOMEM, "out of memory");
            goto out;
        }
        for (int j = 0; j < n_in; j++) norm->scale[j] = 1.0f;
        if (h5io_exists(f, "/normalization/shift")) {
            if ((st = check_input_vector(f, "/normalization/shift", n_in, err)) ||
                (st = check_input_vector(f, "/normalization/scale", n_in, err)) ||
                (st = h5io_read_rows(f, "/normalization/shift", DT_F32, 0, n_in, norm->shift,
                                     err)) ||
                (st = h5io_read_rows(f, "/normalization/scale", DT_F32, 0, n_in, norm->scale,
                                     err)) ||
                (st = check_finite(path, "/normalization/shift", norm->shift, (size_t)n_in,
                                   err)) ||
                (st = check_finite(path, "/normalization/scale", norm->scale, (size_t)n_in,
                                   err)) ||
                (st = h5io_get_attr_str(f, "/normalization", "kind", text, sizeof text, err)) ||
                (st = norm_parse(text, &norm->kind, err)))
                goto out;
        }
    }
out:
    if (f)
        h5io_close(f, NULL);
    if (st) {
        model_free(m);
        if (norm)
            norm_free(norm);
    }
    return st;
}
