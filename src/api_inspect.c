/* dtrain: a readable summary of a checkpoint, a saved model or a data file,
 * and a model's training options as YAML: dtrain_inspect (include/dtrain.h).
 * Local: the file is read on the calling rank alone, and the rendering goes
 * into a string for the caller. */
#include "dtrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/checkpoint.h"
#include "dtrain/h5io.h"
#include "dtrain/history.h"
#include "dtrain/cfgsave.h"
#include "dtrain/modelio.h"
#include "dtrain/yamlconf.h"

static void attr_line(FILE *out, h5file *f, const char *obj, const char *name, const char *label)
{
    char s[512];
    int64_t v;
    if (!h5io_has_attr(f, obj, name))
        return;
    if (!h5io_get_attr_str(f, obj, name, s, sizeof s, NULL))
        fprintf(out, "  %-16s %s\n", label, s);
    else if (!h5io_get_attr_i64(f, obj, name, &v, NULL))
        fprintf(out, "  %-16s %lld\n", label, (long long)v);
}

/* 1 if /config holds a value for train option o: into v (len bytes), as
 * train --config would set it. */
static int saved_value(h5file *f, const dt_option *o, char *v, size_t len)
{
    return (o->cmds & CMD_TRAIN) && !cfgsave_option(f, o, v, len, NULL) &&
           v[0];
}

/* The model: its output, layers, parameter count and normalisation. */
static void print_model(FILE *out, const dt_model *m, const dt_norm *nm)
{
    fprintf(out, "  %-16s %s\n", "output", head_name(m->head));
    fprintf(out, "  %-16s %d inputs\n", "architecture", m->n_in);
    for (int l = 0; l < m->n_layers; l++) {
        char act[64];
        act_format(m->layers[l].act, act, sizeof act);
        fprintf(out, "  %-16s %d x %d, %s\n", l == m->n_layers - 1 ? "  output layer" : "  hidden layer",
               m->layers[l].n_out, m->layers[l].n_in, l == m->n_layers - 1 ? "logits" : act);
    }
    fprintf(out, "  %-16s %zu\n", "parameters", m->n_params);
    fprintf(out, "  %-16s %s\n", "normalization", norm_name(nm->kind));
    if (m->head == HEAD_LINEAR)
        fprintf(out, "  %-16s %s\n", "targets",
               m->target_stats ? "standardised (/target_normalization)" : "as they are");
}

/* The class names (/classes), numbered, if there are any. */
static void print_classes(FILE *out, const dt_data_extras *ex)
{
    if (!ex->classes)
        return;
    fprintf(out, "  %-16s", "classes");
    for (int64_t k = 0; k < ex->n_classes; k++)
        fprintf(out, "%s %lld %s", k ? "," : "", (long long)k, ex->classes[k]);
    fprintf(out, "\n");
}

/* A checkpoint's progress, provenance and checksum. */
static void print_checkpoint(FILE *out, const char *path, h5file *f)
{
    attr_line(out, f, "/optimizer", "kind", "optimizer");
    attr_line(out, f, "/optimizer", "t", "updates");
    attr_line(out, f, "/progress", "step", "step");
    int64_t e = 0, b = 0;
    h5io_get_attr_i64(f, "/progress", "epoch", &e, NULL);
    h5io_get_attr_i64(f, "/progress", "batch", &b, NULL);
    fprintf(out, "  %-16s %lld (and %lld batches of the next)\n", "epochs done", (long long)e,
           (long long)b);
    attr_line(out, f, "/", "ranks", "written by ranks");
    attr_line(out, f, "/", "created", "created");
    attr_line(out, f, "/", "lineage", "lineage");
    attr_line(out, f, "/", "format_version", "format version");
    attr_line(out, f, "/", "dtrain_version", "dtrain");
    attr_line(out, f, "/", "mpi_version", "MPI");
    attr_line(out, f, "/", "hdf5_version", "HDF5");
    attr_line(out, f, "/", "gemm_version", "GEMM");
    attr_line(out, f, "/", "lapack_version", "LAPACK");
    attr_line(out, f, "/", "blas_version", "BLAS"); /* checkpoints of dtrain before oneDNN */
    dt_error e2;
    fprintf(out, "  %-16s %s\n", "checksum", ckpt_verify(path, &e2) ? e2.msg : "ok");
}

/* The table of epochs of a checkpoint or a saved model, if it has one: its
 * columns as the epoch lines and --log name them. */
static void print_history(FILE *out, h5file *f, const char *path)
{
    dt_history h;
    history_init(&h);
    /* at most one row per epoch: of the checkpoint's progress, else of the
     * saved --epochs */
    int64_t max_rows = 1000000000;
    char text[64];
    if (!h5io_get_attr_i64(f, "/progress", "epoch", &max_rows, NULL))
        max_rows = max_rows < 0 ? 0 : max_rows + 1;
    else if (!h5io_get_attr_str(f, "/config", "epochs", text, sizeof text, NULL))
        max_rows = atoll(text);
    dt_error e;
    if (h5io_exists(f, "/history/epochs") && history_read_h5(f, path, max_rows, &h, &e))
        fprintf(out, "  %-16s %s\n", "history", e.msg);
    else if (h.n_rows) {
        fprintf(out, "  history:\n   ");
        for (int c = 0; c < h.n_cols; c++) fprintf(out, " %12s", h.name[c]);
        fprintf(out, "\n");
        for (int64_t i = 0; i < h.n_rows; i++) {
            fprintf(out, "   ");
            for (int c = 0; c < h.n_cols; c++) fprintf(out, " %12.6g", h.rows[i * h.n_cols + c]);
            fprintf(out, "\n");
        }
    }
    history_free(&h);
}

/* The training options saved in /config, as the command line takes them: a
 * flag alone, and only when set. */
static void print_options(FILE *out, h5file *f)
{
    fprintf(out, "  configuration:\n");
    size_t n;
    const dt_option *o = config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char v[512];
        if (!saved_value(f, &o[i], v, sizeof v))
            continue;
        if (o[i].type != OPT_FLAG)
            fprintf(out, "    --%s %s\n", o[i].name, v);
        else if (v[0] == '1')
            fprintf(out, "    --%s\n", o[i].name);
    }
}

static dt_status inspect_model(FILE *out, const char *path, h5file *f, dt_error *err)
{
    dt_model m;
    dt_norm nm;
    dt_status st = modelio_load(path, 1, &m, &nm, err);
    if (st)
        return st;
    int ckpt = h5io_has_attr(f, "/", "format_version");
    fprintf(out, "%s: dtrain %s\n", path, ckpt ? "checkpoint" : "model");
    print_model(out, &m, &nm);
    dt_data_extras ex;
    dt_error ignored;
    if (!dataset_read_extras(path, &ex, &ignored)) {
        print_classes(out, &ex);
        dataset_extras_free(&ex);
    }
    model_free(&m);
    norm_free(&nm);
    if (ckpt)
        print_checkpoint(out, path, f);
    print_history(out, f, path);
    if (h5io_exists(f, "/config"))
        print_options(out, f);
    return DT_OK;
}

typedef struct {
    FILE *out;
    h5file *f;
    int found;
    dt_status st; /* the first X or y that is there but cannot be read */
    dt_error *err;
    dt_data_extras ex; /* the file's class names, for the label counts */
} data_ctx;

/* ", range [lo, hi]" of float targets, else ", label counts: ..." of the m
 * values v (class names from the file's /classes). */
static void describe_values(const data_ctx *c, const double *v, int64_t m, dt_dtype t)
{
    FILE *out = c->out;
    if (t == DT_F32 || t == DT_F64) {
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < m; i++) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
        fprintf(out, ", range [%g, %g]", lo, hi);
        return;
    }
    int64_t counts[64] = {0}, other = 0;
    for (int64_t i = 0; i < m; i++) {
        if (v[i] >= 0 && v[i] < 64) counts[(int)v[i]]++;
        else other++;
    }
    fprintf(out, ", label counts:");
    for (int k = 0; k < 64; k++) {
        if (!counts[k])
            continue;
        if (c->ex.classes && k < c->ex.n_classes)
            fprintf(out, " %s:%lld", c->ex.classes[k], (long long)counts[k]);
        else
            fprintf(out, " %d:%lld", k, (long long)counts[k]);
    }
    if (other) fprintf(out, " other:%lld", (long long)other);
}

/* "  /name: X n x d type" of the group's X (n_rows: its n); 1 if it cannot
 * be read (c->st says why). */
static int describe_x(data_ctx *c, const char *name, const char *x, int64_t *n_rows)
{
    int nd;
    int64_t dims[8];
    dt_dtype t;
    if ((c->st = h5io_info(c->f, x, &nd, dims, &t, c->err)) ||
        (c->st = h5io_check_stored(c->f, x, c->err)))
        return 1;
    c->found++;
    fprintf(c->out, "  /%s: X %lld x %lld %s", name, (long long)dims[0], (long long)(nd > 1 ? dims[1] : 1),
           dt_dtype_name(t));
    *n_rows = dims[0];
    return 0;
}

/* ", y n[ x k] type[ (k targets)]", its values' summary and the end of the
 * line (X's n rows: flagged if y's differ); 1 if y cannot be read. */
static int describe_y(data_ctx *c, const char *y, int64_t n)
{
    FILE *out = c->out;
    int nd;
    int64_t dims[8];
    dt_dtype t;
    if ((c->st = h5io_info(c->f, y, &nd, dims, &t, c->err))) {
        fprintf(out, "\n");
        return 1;
    }
    fprintf(out, ", y %lld%s%s %s", (long long)dims[0], nd > 1 ? " x " : "", "", dt_dtype_name(t));
    if (nd > 1)
        fprintf(out, " (%lld targets)", (long long)dims[1]);
    double *v = malloc((size_t)(dims[0] * (nd > 1 ? dims[1] : 1) + 1) * sizeof *v);
    if (v && (c->st = h5io_read_rows(c->f, y, DT_F64, 0, dims[0], v, c->err))) {
        free(v);
        fprintf(out, "\n");
        return 1;
    }
    if (v)
        describe_values(c, v, dims[0] * (nd > 1 ? dims[1] : 1), t);
    free(v);
    fprintf(out, "%s\n", n != dims[0] ? "  (row counts differ!)" : "");
    return 0;
}

/* One line per group with an X; a damaged X or y (or one of a type dtrain
 * does not read) stops the listing with its error. */
static int describe_group(const char *name, void *ctx)
{
    data_ctx *c = ctx;
    char x[300], y[300];
    snprintf(x, sizeof x, "/%s/X", name);
    snprintf(y, sizeof y, "/%s/y", name);
    int64_t n;
    if (!h5io_exists(c->f, x))
        return 0;
    if (describe_x(c, name, x, &n))
        return 1;
    if (!h5io_exists(c->f, y)) {
        fprintf(c->out, ", no y\n");
        return 0;
    }
    return describe_y(c, y, n);
}

/* inspect --config: /config as a YAML file that train --config reads. */
static dt_status print_config(FILE *out, const char *path, h5file *f, dt_error *err)
{
    if (!h5io_exists(f, "/config"))
        return dt_fail(err, DT_EUSAGE, "%s: no /config (not a dtrain model or checkpoint)", path);
    dt_config *c = malloc(sizeof *c); /* large: kept off the stack */
    if (!c)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    config_defaults(c);
    size_t n;
    const dt_option *o = config_options(&n);
    dt_status st = DT_OK;
    for (size_t i = 0; !st && i < n; i++) {
        char v[2 * DT_PATH_MAX + 2];
        if (!strcmp(o[i].name, "config") || !saved_value(f, &o[i], v, sizeof v))
            continue;
        if ((st = config_set(c, CMD_TRAIN, o[i].name, v, err)))
            dt_fail_prefix(err, "%s: /config", path);
    }
    if (!st)
        st = yamlconf_write(out, c, err);
    free(c);
    return st;
}

static dt_status inspect_data(FILE *out, const char *path, h5file *f, dt_error *err)
{
    fprintf(out, "%s: data file\n", path);
    attr_line(out, f, "/", "source", "source");
    data_ctx c = {out, f, 0, DT_OK, err, {0}};
    dt_error ignored; /* a file without readable names shows the numbers */
    if (dataset_read_extras(path, &c.ex, &ignored))
        memset(&c.ex, 0, sizeof c.ex);
    print_classes(out, &c.ex);
    dt_status st = h5io_list(f, "/", describe_group, &c, err);
    dataset_extras_free(&c.ex);
    if (!st)
        st = c.st;
    if (!st && !c.found)
        st = dt_fail(err, DT_EUSAGE,
                     "%s: neither a dtrain model/checkpoint nor a data file (no group with X)",
                     path);
    return st;
}

dtrain_status dtrain_inspect(dtrain_run *run, const char *path, int what, char **text)
{
    dt_status st = api_usable(run, "dtrain_inspect");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    if (!text)
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "dtrain_inspect: text is NULL"));
    *text = NULL;
    if (what != DTRAIN_INSPECT_SUMMARY && what != DTRAIN_INSPECT_CONFIG)
        return api_leave(prev, dt_fail(err, DT_EUSAGE, "dtrain_inspect: what is %d: "
                                       "DTRAIN_INSPECT_SUMMARY or DTRAIN_INSPECT_CONFIG", what));
    size_t len;
    FILE *out = open_memstream(text, &len);
    if (!out)
        return api_leave(prev, dt_fail(err, DT_ENOMEM, "dtrain_inspect: out of memory"));
    h5file *f = NULL;
    if (!path || !path[0])
        st = dt_fail(err, DT_EUSAGE, "dtrain_inspect: no file");
    else
        st = h5io_open_read(path, &f, err);
    if (st)
        ;
    else if (what == DTRAIN_INSPECT_CONFIG)
        st = print_config(out, path, f, err);
    else if (h5io_exists(f, "/model/layer0"))
        st = inspect_model(out, path, f, err);
    else
        st = inspect_data(out, path, f, err);
    if (f)
        h5io_close(f, NULL);
    if (fclose(out) && !st)
        st = dt_fail(err, DT_ENOMEM, "dtrain_inspect: out of memory");
    return api_leave(prev, st);
}
