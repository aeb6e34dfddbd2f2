/* dtrain inspect FILE: a readable summary of a checkpoint, a saved model or a
 * data file.  Rank 0 only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtrain/yamlconf.h"
#include "dtrain/checkpoint.h"
#include "dtrain/h5io.h"
#include "dtrain/modelio.h"

static void attr_line(h5file *f, const char *obj, const char *name, const char *label)
{
    char s[512];
    int64_t v;
    if (!h5io_has_attr(f, obj, name))
        return;
    if (!h5io_get_attr_str(f, obj, name, s, sizeof s, NULL))
        printf("  %-16s %s\n", label, s);
    else if (!h5io_get_attr_i64(f, obj, name, &v, NULL))
        printf("  %-16s %lld\n", label, (long long)v);
}

/* 1 if /config holds a value for train option o: into v (len bytes), as
 * train --config would set it. */
static int saved_value(h5file *f, const dt_option *o, char *v, size_t len)
{
    return (o->cmds & CMD_TRAIN) && !modelio_saved_option(f, o, v, len, NULL) &&
           v[0];
}

/* The model: its output, layers, parameter count and normalisation. */
static void print_model(const dt_model *m, const dt_norm *nm)
{
    printf("  %-16s %s\n", "output", head_name(m->head));
    printf("  %-16s %d inputs\n", "architecture", m->n_in);
    for (int l = 0; l < m->n_layers; l++) {
        char act[64];
        act_format(m->layers[l].act, act, sizeof act);
        printf("  %-16s %d x %d, %s\n", l == m->n_layers - 1 ? "  output layer" : "  hidden layer",
               m->layers[l].n_out, m->layers[l].n_in, l == m->n_layers - 1 ? "logits" : act);
    }
    printf("  %-16s %zu\n", "parameters", m->n_params);
    printf("  %-16s %s\n", "normalization", norm_name(nm->kind));
    if (m->head == HEAD_LINEAR)
        printf("  %-16s %s\n", "targets",
               m->target_stats ? "standardised (/target_normalization)" : "as they are");
}

/* The class names (/classes), numbered, if there are any. */
static void print_classes(const dt_data_extras *ex)
{
    if (!ex->classes)
        return;
    printf("  %-16s", "classes");
    for (int64_t k = 0; k < ex->n_classes; k++)
        printf("%s %lld %s", k ? "," : "", (long long)k, ex->classes[k]);
    printf("\n");
}

/* A checkpoint's progress, provenance and checksum. */
static void print_checkpoint(const char *path, h5file *f)
{
    attr_line(f, "/optimizer", "kind", "optimizer");
    attr_line(f, "/optimizer", "t", "updates");
    attr_line(f, "/progress", "step", "step");
    int64_t e = 0, b = 0;
    h5io_get_attr_i64(f, "/progress", "epoch", &e, NULL);
    h5io_get_attr_i64(f, "/progress", "batch", &b, NULL);
    printf("  %-16s %lld (and %lld batches of the next)\n", "epochs done", (long long)e,
           (long long)b);
    attr_line(f, "/", "ranks", "written by ranks");
    attr_line(f, "/", "created", "created");
    attr_line(f, "/", "lineage", "lineage");
    attr_line(f, "/", "format_version", "format version");
    attr_line(f, "/", "dtrain_version", "dtrain");
    attr_line(f, "/", "mpi_version", "MPI");
    attr_line(f, "/", "hdf5_version", "HDF5");
    attr_line(f, "/", "gemm_version", "GEMM");
    attr_line(f, "/", "lapack_version", "LAPACK");
    attr_line(f, "/", "blas_version", "BLAS"); /* checkpoints of dtrain before oneDNN */
    dt_error e2;
    printf("  %-16s %s\n", "checksum", ckpt_verify(path, &e2) ? e2.msg : "ok");
}

/* The table of epochs of a checkpoint or a saved model, if it has one: its
 * columns as the epoch lines and --log name them. */
static void print_history(h5file *f, const char *path)
{
    dt_history h;
    history_init(&h);
    /* at most one row per epoch: of the checkpoint's progress, else of the
     * saved --epochs */
    int64_t rows = 1000000000;
    char text[64];
    if (!h5io_get_attr_i64(f, "/progress", "epoch", &rows, NULL))
        rows = rows < 0 ? 0 : rows + 1;
    else if (!h5io_get_attr_str(f, "/config", "epochs", text, sizeof text, NULL))
        rows = atoll(text);
    dt_error e;
    if (h5io_exists(f, "/history/epochs") && history_read_h5(f, path, rows, &h, &e))
        printf("  %-16s %s\n", "history", e.msg);
    else if (h.n_rows) {
        printf("  history:\n   ");
        for (int c = 0; c < h.n_cols; c++) printf(" %12s", h.name[c]);
        printf("\n");
        for (int64_t i = 0; i < h.n_rows; i++) {
            printf("   ");
            for (int c = 0; c < h.n_cols; c++) printf(" %12.6g", h.rows[i * h.n_cols + c]);
            printf("\n");
        }
    }
    history_free(&h);
}

/* The training options saved in /config, as the command line takes them: a
 * flag alone, and only when set. */
static void print_options(h5file *f)
{
    printf("  configuration:\n");
    size_t n;
    const dt_option *o = config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char v[512];
        if (!saved_value(f, &o[i], v, sizeof v))
            continue;
        if (o[i].type != OPT_FLAG)
            printf("    --%s %s\n", o[i].name, v);
        else if (v[0] == '1')
            printf("    --%s\n", o[i].name);
    }
}

static dt_status inspect_model(const char *path, h5file *f, dt_error *err)
{
    dt_model m;
    dt_norm nm;
    dt_status st = modelio_load(path, 1, &m, &nm, err);
    if (st)
        return st;
    int ckpt = h5io_has_attr(f, "/", "format_version");
    printf("%s: dtrain %s\n", path, ckpt ? "checkpoint" : "model");
    print_model(&m, &nm);
    dt_data_extras ex;
    dt_error ignored;
    if (!dataset_read_extras(path, &ex, &ignored)) {
        print_classes(&ex);
        dataset_extras_free(&ex);
    }
    model_free(&m);
    norm_free(&nm);
    if (ckpt)
        print_checkpoint(path, f);
    print_history(f, path);
    if (h5io_exists(f, "/config"))
        print_options(f);
    return DT_OK;
}

typedef struct {
    h5file *f;
    int found;
    dt_status st; /* the first X or y that is there but cannot be read */
    dt_error *err;
    dt_data_extras ex; /* the file's class names, for the label counts */
} data_ctx;

/* One line per group with an X; a damaged X or y (or one of a type dtrain
 * does not read) stops the listing with its error. */
static int describe_group(const char *name, void *ctx)
{
    data_ctx *c = ctx;
    char x[300], y[300];
    snprintf(x, sizeof x, "/%s/X", name);
    snprintf(y, sizeof y, "/%s/y", name);
    int nd;
    int64_t dims[8];
    dt_dtype t;
    if (!h5io_exists(c->f, x))
        return 0;
    if ((c->st = h5io_info(c->f, x, &nd, dims, &t, c->err)) ||
        (c->st = h5io_check_stored(c->f, x, c->err)))
        return 1;
    c->found++;
    printf("  /%s: X %lld x %lld %s", name, (long long)dims[0], (long long)(nd > 1 ? dims[1] : 1),
           dt_dtype_name(t));
    int64_t n = dims[0];
    if (!h5io_exists(c->f, y)) {
        printf(", no y\n");
        return 0;
    }
    if ((c->st = h5io_info(c->f, y, &nd, dims, &t, c->err))) {
        printf("\n");
        return 1;
    }
    printf(", y %lld%s%s %s", (long long)dims[0], nd > 1 ? " x " : "", "", dt_dtype_name(t));
    if (nd > 1)
        printf(" (%lld targets)", (long long)dims[1]);
    double *v = malloc((size_t)(dims[0] * (nd > 1 ? dims[1] : 1) + 1) * sizeof *v);
    if (v && (c->st = h5io_read_rows(c->f, y, DT_F64, 0, dims[0], v, c->err))) {
        free(v);
        printf("\n");
        return 1;
    }
    if (v) {
        int64_t m = dims[0] * (nd > 1 ? dims[1] : 1);
        if (t == DT_F32 || t == DT_F64) {
            double lo = INFINITY, hi = -INFINITY;
            for (int64_t i = 0; i < m; i++) {
                lo = fmin(lo, v[i]);
                hi = fmax(hi, v[i]);
            }
            printf(", range [%g, %g]", lo, hi);
        } else {
            int64_t counts[64] = {0}, other = 0;
            for (int64_t i = 0; i < m; i++) {
                if (v[i] >= 0 && v[i] < 64) counts[(int)v[i]]++;
                else other++;
            }
            printf(", label counts:");
            for (int k = 0; k < 64; k++) {
                if (!counts[k])
                    continue;
                if (c->ex.classes && k < c->ex.n_classes)
                    printf(" %s:%lld", c->ex.classes[k], (long long)counts[k]);
                else
                    printf(" %d:%lld", k, (long long)counts[k]);
            }
            if (other) printf(" other:%lld", (long long)other);
        }
    }
    free(v);
    printf("%s\n", n != dims[0] ? "  (row counts differ!)" : "");
    return 0;
}

/* inspect --config: /config as a YAML file that train --config reads. */
static dt_status print_config(const char *path, h5file *f, dt_error *err)
{
    if (!h5io_exists(f, "/config"))
        return dt_fail(err, DT_EUSAGE, "%s: no /config (not a dtrain model or checkpoint)", path);
    static dt_config c; /* large: keep it off the stack */
    config_defaults(&c);
    size_t n;
    const dt_option *o = config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char v[2 * DT_PATH_MAX + 2];
        if (!strcmp(o[i].name, "config") || !saved_value(f, &o[i], v, sizeof v))
            continue;
        if (config_set(&c, CMD_TRAIN, o[i].name, v, err))
            return dt_fail_prefix(err, "%s: /config", path);
    }
    return yamlconf_write(stdout, &c, err);
}

dt_status cli_inspect(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    if (comm_rank(world) != 0)
        return DT_OK;
    if (!cfg->inspect.file[0])
        return dt_fail(err, DT_EUSAGE, "usage: dtrain inspect FILE.h5");
    h5file *f;
    dt_status st = h5io_open_read(cfg->inspect.file, &f, err);
    if (st)
        return st;
    if (cfg->inspect.print_config) {
        st = print_config(cfg->inspect.file, f, err);
    } else if (h5io_exists(f, "/model/layer0")) {
        st = inspect_model(cfg->inspect.file, f, err);
    } else {
        printf("%s: data file\n", cfg->inspect.file);
        attr_line(f, "/", "source", "source");
        data_ctx c = {f, 0, DT_OK, err, {0}};
        dt_error ignored; /* a file without readable names shows the numbers */
        if (dataset_read_extras(cfg->inspect.file, &c.ex, &ignored))
            memset(&c.ex, 0, sizeof c.ex);
        print_classes(&c.ex);
        st = h5io_list(f, "/", describe_group, &c, err);
        dataset_extras_free(&c.ex);
        if (!st)
            st = c.st;
        if (!st && !c.found)
            st = dt_fail(err, DT_EUSAGE,
                         "%s: neither a dtrain model/checkpoint nor a data file (no group with X)",
                         cfg->inspect.file);
    }
    h5io_close(f, NULL);
    fflush(stdout);
    return st;
}
