/* dtrain: the run's model as a file (include/dtrain.h): dtrain_save,
 * dtrain_load, their in-memory forms dtrain_model_image and
 * dtrain_load_image, and the model's class names.
 *
 * A file image is the saved file's bytes, built by the same writer
 * (modelio_image beside modelio_save) and read by the same readers: the
 * image is attached to the HDF5 layer under a name (h5io_image_attach) that
 * every path-taking reader then opens, so it passes every check a file
 * does. */
#include "dtrain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/cfgsave.h"
#include "dtrain/checkpoint.h"
#include "dtrain/comm.h"
#include "dtrain/convert_labels.h"
#include "dtrain/fsutil.h"
#include "dtrain/h5io.h"
#include "dtrain/loss.h"
#include "dtrain/modelio.h"

/* What messages call an image being read or written. */
#define IMAGE_READ "dtrain_load_image"
#define IMAGE_WRITTEN "dtrain_model_image"

/* The model of session s (NULL: the run's loaded one) as a saved file holds
 * it, into path, or (path NULL) as the bytes of that file into *image and
 * *len: its normalisation, the run's class names and, for a trained model,
 * its options and epochs; for a loaded one, the options that say how it
 * computes.  Local. */
static dt_status write_model(dtrain_run *run, const dt_session *s, const char *path,
                             void **image, size_t *len)
{
    /* a loaded model keeps what says how it computes (its "denormals") */
    dt_config *loaded = s ? NULL : malloc(sizeof *loaded);
    if (!s && !loaded)
        return dt_fail(&run->err, DT_ENOMEM, "%s: out of memory", path ? path : IMAGE_WRITTEN);
    if (loaded) {
        config_defaults(loaded);
        loaded->train.denormals = run->loaded_denormals;
    }
    const dt_saved_opts opts = s ? cfgsave_opts(&run->trained_cfg) : cfgsave_model_opts(loaded);
    const dt_model *m = s ? &s->net.model : &run->loaded;
    const dt_norm *nm = s ? &s->net.norm : &run->loaded_norm;
    const dt_history *hist = s ? &s->state.progress.hist : NULL;
    const dt_status st =
        path ? modelio_save(path, m, nm, &opts, &run->names, hist, &run->err)
             : modelio_image(IMAGE_WRITTEN, m, nm, &opts, &run->names, hist, image, len,
                             &run->err);
    free(loaded);
    return st;
}

dt_status api_save_model(dtrain_run *run, const dt_session *s, const char *path)
{
    dt_error *err = &run->err;
    dt_status st = DT_OK;
    if (comm_rank(run->comm) == 0)
        st = write_model(run, s, path, NULL, NULL);
    if (!(st = comm_agree(run->comm, st, err)))
        dt_info("saved model to %s", path);
    return st;
}

/* dtrain_save's path against the command line's rule for outputs
 * (fs_check_files): not the files the model came from, nor the trained
 * run's --log or checkpoints.  Local (rank 0). */
static dt_status check_save_path(const dtrain_run *run, const char *path, dt_error *err)
{
    const dt_config *cfg = &run->trained_cfg;
    const dt_session *s = run->session;
    /* five names from dt_opt's eight buffers, and ckpt_owned_dir's own */
    const fs_file files[] = {
        {dt_opt("data"), s ? cfg->train.data : "", FS_INPUT},
        {dt_opt("init-from"), s ? cfg->train.init_from : "", FS_INPUT},
        {dt_opt("config"), s ? cfg->config_file : "", FS_INPUT},
        {dt_opt("resume"), s ? s->state.resumed_from : "", FS_OWNED},
        {"dtrain_load", s ? "" : run->loaded_from, FS_INPUT},
        {dt_opt("log"), s ? cfg->train.log : "", FS_WRITTEN},
        {"dtrain_save", path, FS_OUTPUT},
    };
    const fs_owned_dir dir = ckpt_owned_dir(s ? cfg->train.checkpoint_dir : "");
    return fs_check_files(files, sizeof files / sizeof files[0], &dir, err);
}

/* The run holds a model (trained or loaded), or fn's message says it has
 * none.  Local. */
static dt_status has_model(dtrain_run *run, const char *fn)
{
    dt_norm *nm;
    return api_model_of(run, &nm) ? DT_OK
                                  : dt_fail(&run->err, DT_EUSAGE, "%s: the run has no model "
                                            "(dtrain_train or dtrain_load first)", fn);
}

dtrain_status dtrain_save(dtrain_run *run, const char *path)
{
    const dt_status refused = api_usable(run, "dtrain_save");
    if (refused)
        return (dtrain_status)refused;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dt_status st = has_model(run, "dtrain_save");
    if (!st && (!path || !path[0]))
        st = dt_fail(err, DT_EUSAGE, "dtrain_save: no path");
    else if (!st && comm_rank(run->comm) == 0)
        st = check_save_path(run, path, err);
    if (!(st = comm_agree(run->comm, st, err)))
        st = api_save_model(run, run->session, path);
    return api_leave(prev, st);
}

dtrain_status dtrain_model_image(dtrain_run *run, void **image, size_t *len)
{
    dt_status st = api_usable(run, IMAGE_WRITTEN);
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    if (!image || !len)
        return api_leave(prev, dt_fail(&run->err, DT_EUSAGE,
                                       IMAGE_WRITTEN ": image or len is NULL"));
    *image = NULL;
    *len = 0;
    if (!(st = has_model(run, IMAGE_WRITTEN)))
        st = write_model(run, run->session, NULL, image, len);
    return api_leave(prev, st);
}

/* A checkpoint (it has /format_version) is checked (format version,
 * checksum) before it is trusted; a saved model has no checksum.  Local. */
static dt_status verify_if_checkpoint(const char *path, dt_error *err)
{
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    const int is_ckpt = h5io_has_attr(f, "/", "format_version");
    h5io_close(f, NULL);
    return is_ckpt ? ckpt_verify(path, err) : DT_OK;
}

/* The "denormals" option the model at path was trained with (its
 * /config, which a loaded model saved again keeps), or the option's default
 * for a file that has none (written before the option).  Local. */
static dt_status read_denormals(const char *path, dt_denormals *mode, dt_error *err)
{
    *mode = DENORMALS_FLUSH;
    h5file *f;
    char v[64];
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    if (h5io_has_attr(f, "/config", "denormals") &&
        !(st = h5io_get_attr_str(f, "/config", "denormals", v, sizeof v, err))) {
        const int i = dt_name_index(denormals_names, v);
        if (i < 0)
            st = dt_fail(err, DT_EIO, "%s: /config attribute denormals is '%.40s' (expected "
                         "flush or keep)", path, v);
        else
            *mode = (dt_denormals)i;
    }
    h5io_close(f, NULL);
    return st;
}

/* A model, its normalisation, its class names and its floating-point mode
 * from the saved model or checkpoint path, every check made; on failure
 * nothing is left to free.  Local. */
static dt_status read_model(const char *path, dt_model *m, dt_norm *nm, dt_data_extras *names,
                            dt_denormals *mode, dt_error *err)
{
    memset(names, 0, sizeof *names);
    dt_status st = verify_if_checkpoint(path, err);
    if (st || (st = read_denormals(path, mode, err)) ||
        (st = modelio_load(path, 256, m, nm, err)))
        return st;
    if ((st = dataset_read_extras(path, names, err))) {
        model_free(m);
        norm_free(nm);
    }
    return st;
}

/* The run's model <- m, nm and names (taken over), read from path ("": an
 * image). */
static void hold_model(dtrain_run *run, dt_model *m, dt_norm *nm, dt_data_extras *names,
                       dt_denormals mode, const char *path)
{
    api_drop_model(run);
    run->loaded = *m;
    run->loaded_norm = *nm;
    run->loaded_denormals = mode;
    run->have_loaded = 1;
    run->names = *names;
    snprintf(run->loaded_from, sizeof run->loaded_from, "%s", path);
}

dtrain_status dtrain_load(dtrain_run *run, const char *path)
{
    dt_status st = api_usable(run, "dtrain_load");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    /* read beside the model held, which goes only when every rank has the
     * new one: a failed load keeps it */
    dt_model m;
    dt_norm nm;
    dt_data_extras names;
    dt_denormals mode;
    st = path && path[0] ? read_model(path, &m, &nm, &names, &mode, err)
                         : dt_fail(err, DT_EUSAGE, "dtrain_load: no path");
    const int read = !st;
    if ((st = comm_agree(run->comm, st, err))) {
        if (read) {
            model_free(&m);
            norm_free(&nm);
            dataset_extras_free(&names);
        }
        return api_leave(prev, st);
    }
    hold_model(run, &m, &nm, &names, mode, path);
    return api_leave(prev, st);
}

dtrain_status dtrain_load_image(dtrain_run *run, const void *image, size_t len)
{
    dt_status st = api_usable(run, IMAGE_READ);
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    if (!image || len == 0)
        return api_leave(prev, dt_fail(&run->err, DT_EUSAGE, IMAGE_READ ": no image (%s)",
                                       image ? "0 bytes" : "NULL"));
    dt_model m;
    dt_norm nm;
    dt_data_extras names;
    dt_denormals mode;
    h5io_image_attach(IMAGE_READ, image, len);
    st = read_model(IMAGE_READ, &m, &nm, &names, &mode, &run->err);
    h5io_image_detach();
    if (!st)
        hold_model(run, &m, &nm, &names, mode, "");
    return api_leave(prev, st);
}

dtrain_status dtrain_class_names(dtrain_run *run, const char *const **names, int64_t *n)
{
    dt_status st = api_usable(run, "dtrain_class_names");
    if (st)
        return (dtrain_status)st;
    if (!names || !n)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE,
                                      "dtrain_class_names: names or n is NULL");
    *names = NULL;
    *n = 0;
    if ((st = has_model(run, "dtrain_class_names")))
        return (dtrain_status)st;
    if (run->names.classes) {
        *names = (const char *const *)run->names.classes;
        *n = run->names.n_classes;
    }
    return DTRAIN_OK;
}

/* names[0..n) as a model's class names, as dtrain convert stores them: each
 * a non-empty UTF-8 text, no two the same.  Local. */
static dt_status check_names(const char *const *names, int64_t n, dt_error *err)
{
    label_set seen = {0}; /* finds a repeat */
    dt_status st = DT_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        const char *s = names[i];
        const size_t len = s ? strlen(s) : 0, bad = s ? convert_utf8_bad_at(s, len) : 0;
        int64_t id;
        if (!len)
            st = dt_fail(err, DT_EUSAGE, "dtrain_set_class_names: name %lld is %s (every class "
                         "needs a name)", (long long)i, s ? "empty" : "NULL");
        else if (bad < len)
            st = dt_fail(err, DT_EUSAGE, "dtrain_set_class_names: name %lld is not UTF-8 text "
                         "(byte 0x%02X at byte %zu)", (long long)i, (unsigned char)s[bad], bad);
        else if ((id = label_set_intern(&seen, s)) < 0)
            st = dt_fail(err, DT_ENOMEM, "dtrain_set_class_names: out of memory");
        else if (id < i)
            st = dt_fail(err, DT_EUSAGE, "dtrain_set_class_names: names %lld and %lld are both "
                         "'%s' (each class needs its own)", (long long)id, (long long)i, s);
    }
    label_set_free(&seen);
    return st;
}

dtrain_status dtrain_set_class_names(dtrain_run *run, const char *const *names, int64_t n)
{
    dt_status st = api_usable(run, "dtrain_set_class_names");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dt_norm *nm;
    const dt_model *m = api_model_of(run, &nm);
    /* a sigmoid's one output is P(class 1) of two classes */
    const int64_t k = !m ? 0 : m->head == HEAD_SIGMOID ? 2 : m->n_out;
    char **packed = NULL;
    if ((st = has_model(run, "dtrain_set_class_names")))
        ;
    else if (m->head == HEAD_LINEAR)
        st = dt_fail(err, DT_EUSAGE, "dtrain_set_class_names: the model is a regression "
                     "(output linear): it has no classes to name");
    else if (n != 0 && n != k)
        st = dt_fail(err, DT_EUSAGE, "dtrain_set_class_names: %lld names for the model's %lld "
                     "classes (output %s; 0 names removes them)", (long long)n, (long long)k,
                     head_name(m->head));
    else if (n > 0 && !names)
        st = dt_fail(err, DT_EUSAGE, "dtrain_set_class_names: names is NULL");
    else if (!(st = check_names(names, n, err)) && n > 0 &&
             !(packed = convert_pack_texts(names, n)))
        st = dt_fail(err, DT_ENOMEM, "dtrain_set_class_names: out of memory");
    if (!st) {
        free(run->names.classes);
        run->names.classes = packed;
        run->names.n_classes = n;
    }
    return api_leave(prev, st);
}
