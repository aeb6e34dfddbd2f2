/* dtrain predict: per-sample outputs of a saved model, in input order, to
 * HDF5 or CSV (chosen by the extension of --out), with each predicted class's
 * name when the model has them (/classes: text or renumbered labels).  Each rank computes a
 * contiguous share of the rows; rank 0 gathers them and writes the file
 * through a temporary name renamed into place. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dtrain/trainer.h"
#include "dtrain/csvio.h"
#include "dtrain/fsutil.h"
#include "dtrain/h5io.h"
#include "dtrain/modelio.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int32_t predicted_class(dt_head h, const float *p, int K)
{
    if (h == HEAD_SIGMOID)
        return p[0] > 0.5f;
    int arg = 0;
    for (int k = 1; k < K; k++)
        if (p[k] > p[arg]) arg = k;
    return arg;
}

/* The name of each predicted class (NULL when the model has no /classes):
 * names[cls[i]], an array of n pointers the caller frees (not the texts). */
static const char **class_names(const dt_data_extras *ex, const int32_t *cls, int64_t n)
{
    if (!ex->classes || !cls)
        return NULL;
    const char **names = malloc((size_t)n * sizeof *names + 1);
    for (int64_t i = 0; names && i < n; i++)
        names[i] = cls[i] < ex->n_classes ? ex->classes[cls[i]] : "";
    return names;
}

static dt_status write_h5(const char *path, dt_head h, const float *out, const int32_t *cls,
                          const char *const *names, int64_t n, int K, dt_error *err)
{
    char tmp[DT_PATH_MAX + 64];
    fs_temp_name(path, tmp, sizeof tmp);
    h5file *f;
    dt_status st = h5io_create(tmp, &f, err);
    if (st)
        return st;
    int64_t d2[2] = {n, K}, d1[1] = {n};
    const char *what = h == HEAD_LINEAR ? "values" : h == HEAD_SIGMOID ? "P(class 1)"
                                                                       : "class probabilities";
    if (!(st = h5io_write(f, "/predictions", DT_F32, 2, d2, out, 1, err)) &&
        !(st = h5io_set_attr_str(f, "/predictions", "meaning", what, err)) &&
        !(st = h5io_set_attr_str(f, "/", "output", head_name(h), err)) && cls)
        st = h5io_write(f, "/class", DT_I32, 1, d1, cls, 1, err);
    if (!st && names)
        st = h5io_write_strs(f, "/class_name", n, names, err);
    return h5io_finish(f, path, st, err);
}

/* The CSV header's name of output column k: y_k for values; p_<class name>
 * for probabilities (the sigmoid's one column is class 1's), the name made a
 * plain column name (letters, digits, '_', '-', '.' and non-ASCII bytes kept,
 * anything else '_', at most 64 bytes) and, if that makes it equal to an
 * earlier column's, followed by _<class number>; p_<class number> without
 * names. */
static void column_name(dt_head h, const dt_data_extras *ex, int k, char *col, size_t len,
                        char (*done)[80])
{
    const int c = h == HEAD_SIGMOID ? 1 : k;
    if (h == HEAD_LINEAR || !ex->classes || c >= ex->n_classes || !ex->classes[c][0]) {
        snprintf(col, len, "%s_%d", h == HEAD_LINEAR ? "y" : "p", c);
        return;
    }
    size_t j = (size_t)snprintf(col, len, "p_");
    for (const unsigned char *s = (const unsigned char *)ex->classes[c]; *s && j < 66 && j + 1 < len;
         s++)
        col[j++] = (isalnum(*s) || *s == '_' || *s == '-' || *s == '.' || *s >= 0x80) ? (char)*s
                                                                                       : '_';
    col[j] = 0;
    for (int i = 0; i < k; i++)
        if (!strcmp(done[i], col)) {
            snprintf(col + j, len - j, "_%d", c);
            return;
        }
}

static dt_status write_csv(const char *path, dt_head h, const float *out, const int32_t *cls,
                           const dt_data_extras *ex, const char *const *names, int64_t n, int K,
                           dt_error *err)
{
    char (*cols)[80] = calloc((size_t)K, sizeof *cols);
    if (!cols)
        return dt_fail(err, DT_ENOMEM, "out of memory for %d column names", K);
    for (int k = 0; k < K; k++)
        column_name(h, ex, k, cols[k], sizeof cols[k], cols);
    char tmp[DT_PATH_MAX + 64];
    fs_temp_name(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(cols);
        return dt_fail(err, DT_EIO, "cannot create %s", tmp);
    }
    if (cls)
        fputs(names ? "class,class_name" : "class", f);
    for (int k = 0; k < K; k++)
        fprintf(f, "%s%s", cls || k ? "," : "", cols[k]);
    free(cols);
    fputc('\n', f);
    for (int64_t i = 0; i < n; i++) {
        if (cls)
            fprintf(f, "%d", cls[i]);
        if (names) {
            fputc(',', f);
            csvio_write_field(f, names[i]);
        }
        for (int k = 0; k < K; k++)
            fprintf(f, "%s%.9g", cls || k ? "," : "", (double)out[i * K + k]);
        fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    dt_status st = bad ? dt_fail(err, DT_EIO, "error writing %s (disk full?)", tmp) : DT_OK;
    if (!st)
        st = fs_commit(tmp, path, err);
    if (st)
        unlink(tmp);
    return st;
}

/* --out as CSV or HDF5, with the class names the model has (/classes). */
static dt_status write_out(const dt_config *cfg, dt_head h, const float *all,
                           const int32_t *cls, int64_t n, int K, int csv, dt_error *err)
{
    dt_data_extras ex;
    const char **names = NULL;
    dt_status st = dataset_read_extras(cfg->eval.model, &ex, err);
    if (!st && ex.classes && cls && !(names = class_names(&ex, cls, n)))
        st = dt_fail(err, DT_ENOMEM, "out of memory for %lld class names", (long long)n);
    if (!st)
        st = csv ? write_csv(cfg->out, h, all, cls, &ex, names, n, K, err)
                 : write_h5(cfg->out, h, all, cls, names, n, K, err);
    free(names);
    dataset_extras_free(&ex);
    return st;
}

dt_status cli_predict(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    const int rank = comm_rank(world);
    dt_status st = DT_OK;
    if (!cfg->out[0])
        return dt_fail(err, DT_EUSAGE, "--out FILE (.h5 or .csv) is required");
    int csv = ends_with(cfg->out, ".csv");
    if (!csv && !ends_with(cfg->out, ".h5") && !ends_with(cfg->out, ".hdf5"))
        return dt_fail(err, DT_EUSAGE, "--out %s: the extension must be .h5 or .csv", cfg->out);
    const fs_file files[] = {
        {"--model", cfg->eval.model, FS_INPUT},
        {"--data", cfg->train.data, FS_INPUT},
        {"--config", cfg->config_file, FS_INPUT},
        {"--out", cfg->out, FS_OUTPUT},
    };
    if (rank == 0)
        st = fs_check_files(files, sizeof files / sizeof files[0], NULL, err);
    if ((st = comm_agree(world, st, err)))
        return st;

    dt_model m;
    dt_dataset ds;
    if ((st = cli_load_model_data(cfg, world, 0, &m, &ds, err)))
        return st;
    const int K = m.n_out;
    int64_t lo, hi;
    block_slice(ds.n, m.max_batch, rank, comm_size(world), &lo, &hi);
    float *mine = malloc((size_t)((hi - lo) * K + 1) * sizeof *mine);
    float *all = rank == 0 ? malloc((size_t)(ds.n * K) * sizeof *all) : NULL;
    int32_t *cls = rank == 0 && head_is_classifier(m.head) ? malloc((size_t)ds.n * sizeof *cls)
                                                            : NULL;
    st = !mine || (rank == 0 && (!all || (head_is_classifier(m.head) && !cls)))
             ? dt_fail(err, DT_ENOMEM, "out of memory for %lld predictions", (long long)ds.n)
             : DT_OK;
    if (!st)
        st = trainer_prepare_blocks(world, &m, ds.n, 0, err);
    if ((st = comm_agree(world, st, err)))
        goto out;
    trainer_predict(&m, &ds, lo, hi, mine);
    if ((st = comm_agree(world, model_fault(&m, err), err)))
        goto out;
    if (comm_gatherv_bytes(world, mine, (size_t)(hi - lo) * K * sizeof *mine, all, 0)) {
        st = dt_fail(err, DT_EUSAGE, "%lld predictions are too many to gather on rank 0 "
                     "(2 GiB)", (long long)ds.n);
        goto out;
    }
    if (rank == 0) {
        for (int64_t i = 0; cls && i < ds.n; i++)
            cls[i] = predicted_class(m.head, all + i * K, K);
        st = write_out(cfg, m.head, all, cls, ds.n, K, csv, err);
        if (!st && cls && ds.labels) {
            int64_t right = 0;
            for (int64_t i = 0; i < ds.n; i++) right += cls[i] == ds.labels[i];
            printf("wrote %lld predictions to %s (accuracy against %s/y: %.6f)\n",
                   (long long)ds.n, cfg->out, cfg->eval.group, (double)right / (double)ds.n);
        } else if (!st) {
            printf("wrote %lld predictions to %s\n", (long long)ds.n, cfg->out);
        }
        fflush(stdout);
    }
    st = comm_agree(world, st, err);
out:
    free(mine);
    free(all);
    free(cls);
    model_free(&m);
    dataset_free(&ds);
    return st;
}
