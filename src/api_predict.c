/* dtrain: per-sample outputs of the run's model on a data file's group, to
 * HDF5 or CSV (chosen by the extension of the output), with each predicted
 * class's name when the model has them (/classes: text or renumbered
 * labels): dtrain_predict_file (include/dtrain.h).  Each rank computes a
 * contiguous share of the rows; rank 0 gathers them and writes the file
 * through a temporary name renamed into place. */
#include "dtrain.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtrain/api_eval.h"
#include "dtrain/checkpoint.h"
#include "dtrain/csvio.h"
#include "dtrain/fsutil.h"
#include "dtrain/h5io.h"
#include "dtrain/trainer.h"

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

/* The output as CSV or HDF5, with the class names the model has. */
static dt_status write_out(const dt_data_extras *ex, const char *path, dt_head h,
                           const float *all, const int32_t *cls, int64_t n, int K, int csv,
                           dt_error *err)
{
    const char **names = NULL;
    dt_status st = DT_OK;
    if (ex->classes && cls && !(names = class_names(ex, cls, n)))
        st = dt_fail(err, DT_ENOMEM, "out of memory for %lld class names", (long long)n);
    if (!st)
        st = csv ? write_csv(path, h, all, cls, ex, names, n, K, err)
                 : write_h5(path, h, all, cls, names, n, K, err);
    free(names);
    return st;
}

/* out against the rule for outputs (fs_check_files): not the model's file,
 * the data, nor the run's "config"; a regular file or none.  Rank 0's. */
static dt_status check_out(const dtrain_run *run, const char *path, const char *out,
                           dt_error *err)
{
    const dt_train_config *tc = &run->trained_cfg.train;
    const int trained = run->session != NULL;
    const fs_file files[] = {
        {dt_opt("model"), run->have_loaded ? run->loaded_from : "", FS_INPUT},
        {dt_opt("data"), path, FS_INPUT},
        {dt_opt("config"), run->cfg.config_file, FS_INPUT},
        {"the training data", trained ? tc->data : "", FS_INPUT},
        {dt_opt("init-from"), trained ? tc->init_from : "", FS_INPUT},
        {"the checkpoint resumed from", trained ? run->session->state.resumed_from : "", FS_OWNED},
        {dt_opt("out"), out, FS_OUTPUT},
    };
    return fs_check_files(files, sizeof files / sizeof files[0], NULL, err);
}

/* Rank 0: the gathered outputs all (n, K) to out, with the classes they
 * predict. */
static dt_status write_rank0(dtrain_run *run, const dt_model *m, const char *out,
                             const float *all, int64_t n, int csv, dt_error *err)
{
    const int cls = head_is_classifier(m->head), K = m->n_out;
    int32_t *c = cls ? malloc((size_t)(n + 1) * sizeof *c) : NULL;
    if (cls && !c)
        return dt_fail(err, DT_ENOMEM, "out of memory for %lld predictions", (long long)n);
    for (int64_t i = 0; c && i < n; i++)
        c[i] = predicted_class(m->head, all + i * K, K);
    dt_status st = write_out(&run->names, out, m->head, all, c, n, K, csv, err);
    free(c);
    return st;
}

/* What dtrain_predict_file is asked, checked: an output of a known
 * extension, a model, and (rank 0) an output that harms no input.  Local. */
static dt_status check_request(const dtrain_run *run, const dt_model *m, const char *path,
                               const char *out, dt_error *err)
{
    if (!out || !out[0])
        return dt_fail(err, DT_EUSAGE, "%s FILE (.h5 or .csv) is required", dt_opt("out"));
    if (!ends_with(out, ".csv") && !ends_with(out, ".h5") && !ends_with(out, ".hdf5"))
        return dt_fail(err, DT_EUSAGE, "%s %s: the extension must be .h5 or .csv",
                       dt_opt("out"), out);
    if (!m)
        return dt_fail(err, DT_EUSAGE, "dtrain_predict_file: the run has no model "
                       "(dtrain_train or dtrain_load first)");
    return comm_rank(run->comm) == 0 ? check_out(run, path ? path : "", out, err) : DT_OK;
}

/* The model's outputs for ds's rows, each rank its share, gathered and
 * written to out by rank 0; *right: the rows predicted right (classifiers
 * with labels), counted where they were predicted and summed: exact.
 * Collective, agreed. */
static dt_status predict_rows(dtrain_run *run, dt_model *m, const dt_dataset *ds,
                              const char *out, int64_t *right, dt_error *err)
{
    const int rank = comm_rank(run->comm), K = m->n_out;
    int64_t lo, hi;
    block_slice(ds->n, m->max_batch, rank, comm_size(run->comm), &lo, &hi);
    float *mine = malloc((size_t)((hi - lo) * K + 1) * sizeof *mine);
    float *all = rank == 0 ? malloc((size_t)(ds->n * K + 1) * sizeof *all) : NULL;
    dt_status st = !mine || (rank == 0 && !all)
                       ? dt_fail(err, DT_ENOMEM, "out of memory for %lld predictions",
                                 (long long)ds->n)
                       : DT_OK;
    if (!st)
        st = trainer_prepare_blocks(run->comm, m, ds->n, 0, err);
    if (!(st = comm_agree(run->comm, st, err))) {
        trainer_predict(m, ds, lo, hi, mine);
        st = comm_agree(run->comm, model_fault(m, err), err);
    }
    *right = 0;
    for (int64_t i = lo; !st && ds->labels && i < hi; i++)
        *right += predicted_class(m->head, mine + (i - lo) * K, K) == ds->labels[i];
    if (!st) {
        comm_allreduce_sum_i64(run->comm, right, 1);
        if (comm_gatherv_bytes(run->comm, mine, (size_t)(hi - lo) * K * sizeof *mine, all, 0))
            st = dt_fail(err, DT_EUSAGE, "%lld predictions are too many to gather on rank 0 "
                         "(2 GiB)", (long long)ds->n);
        else if (rank == 0)
            st = write_rank0(run, m, out, all, ds->n, ends_with(out, ".csv"), err);
        st = comm_agree(run->comm, st, err);
    }
    free(mine);
    free(all);
    return st;
}

static dtrain_status predict_file(dtrain_run *run, const char *path, const char *group,
                                 const char *out, int64_t *n_rows, double *accuracy)
{
    dt_status st = api_usable(run, "dtrain_predict_file");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    if (n_rows)
        *n_rows = 0;
    if (accuracy)
        *accuracy = NAN;
    dt_norm *nm;
    dt_model *m = api_model_of(run, &nm);
    dt_dataset ds = {0};
    int64_t right;
    if ((st = comm_agree(run->comm, check_request(run, m, path, out, err), err)) ||
        (st = api_load_data(run, m, nm, path, group, 0, &ds, err)))
        return api_leave(prev, st);
    if (!(st = predict_rows(run, m, &ds, out, &right, err))) {
        if (n_rows)
            *n_rows = ds.n;
        if (accuracy && ds.labels && head_is_classifier(m->head))
            *accuracy = (double)right / (double)ds.n;
    }
    dataset_free(&ds);
    return api_leave(prev, st);
}

/* In the model's floating-point environment (api_model_denormals), the
 * caller's back on return. */
dtrain_status dtrain_predict_file(dtrain_run *run, const char *path, const char *group,
                                  const char *out, int64_t *n_rows, double *accuracy)
{
    matmul_fpenv fp;
    matmul_fpenv_enter(&fp, run ? api_model_denormals(run) : DENORMALS_FLUSH);
    const dtrain_status st = predict_file(run, path, group, out, n_rows, accuracy);
    matmul_fpenv_leave(&fp);
    return st;
}
