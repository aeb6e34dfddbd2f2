/* dtrain: data sets in memory: loading them (whole, shared on a node, or
 * sharded) and their extras.  Subsets, splits and rows: dataset_rows.c;
 * normalisation: dataset_norm.c (sharing dataset_impl.h). */
#include "dataset_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtrain/h5io.h"

const char *const placement_names[] = {[PLACE_NODE] = "node", [PLACE_RANK] = "rank",
                                       [PLACE_SHARDED] = "sharded", NULL};

void dataset_free(dt_dataset *ds)
{
    if (ds->shm) {
        comm_shm_free(ds->shm);
    } else {
        free(ds->X);
        free(ds->X8);
    }
    free(ds->norm8);
    free(ds->labels);
    free(ds->targets);
    memset(ds, 0, sizeof *ds);
}

/* y's shape from its metadata: N rows like X, one column for labels. */
static dt_status probe_y(h5file *f, const char *yname, int labels, dt_dataset_info *info,
                         dt_error *err)
{
    const char *path = h5io_path(f);
    int nd;
    int64_t dims[8];
    dt_dtype t;
    dt_status st = h5io_info(f, yname, &nd, dims, &t, err);
    if (st)
        return st;
    if (nd < 1 || nd > 2)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' must be N or N x K, but has %d dimensions",
                       path, yname, nd);
    if (dims[0] != info->n)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' has %lld rows but X has %lld", path, yname,
                       (long long)dims[0], (long long)info->n);
    int64_t k = nd == 2 ? dims[1] : 1;
    if (labels && k != 1)
        return dt_fail(err, DT_EUSAGE,
                       "%s: '%s' is N x %lld; class labels must be one column (N or N x 1)",
                       path, yname, (long long)k);
    if (k < 1)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' has no columns", path, yname);
    if (k > INT64_MAX / 8 / info->n)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is too large (%lld x %lld)", path, yname,
                       (long long)info->n, (long long)k);
    info->k = k;
    return DT_OK;
}

/* Read y (its shape checked by probe_y, ds->k set) as labels or targets. */
static dt_status load_y(h5file *f, const char *yname, int labels, dt_dataset *ds,
                        dt_error *err)
{
    const char *path = h5io_path(f);
    const int64_t k = ds->k;
    double *y = malloc((size_t)(ds->n * k) * sizeof *y);
    if (!y && ds->n)
        return dt_fail(err, DT_ENOMEM, "out of memory reading %s", yname);
    dt_status st = h5io_read_rows(f, yname, DT_F64, 0, ds->n, y, err);
    if (st) {
        free(y);
        return st;
    }
    if (labels) {
        ds->labels = malloc((size_t)(ds->n ? ds->n : 1) * sizeof *ds->labels);
        ds->max_label = -1;
        for (int64_t i = 0; ds->labels && i < ds->n; i++) {
            double v = y[i];
            if (!(v >= 0) || v != floor(v) || v > 1e6) {
                free(y);
                if (v > 1e6 && v == floor(v))
                    return dt_fail(err, DT_EUSAGE,
                                   "%s: %s row %lld is %.0f; class labels above 1000000 are not "
                                   "supported (use %s linear for regression targets)",
                                   path, yname, (long long)i, v, dt_opt("output"));
                return dt_fail(err, DT_EUSAGE,
                               "%s: %s row %lld is %g; class labels must be integers >= 0 "
                               "(use %s linear for regression targets)",
                               path, yname, (long long)i, v, dt_opt("output"));
            }
            ds->labels[i] = (int32_t)v;
            if (ds->labels[i] > ds->max_label) ds->max_label = ds->labels[i];
        }
    } else {
        ds->max_label = -1;
        ds->targets = malloc((size_t)(ds->n * k > 0 ? ds->n * k : 1) * sizeof *ds->targets);
        for (int64_t i = 0; ds->targets && i < ds->n * k; i++) {
            /* checked as the float32 dtrain trains on: 1e300 is finite in
             * the file and infinite after the conversion */
            ds->targets[i] = (float)y[i];
            if (!isfinite(y[i]) || !isfinite(ds->targets[i])) {
                dt_fail(err, DT_EUSAGE, "%s: %s row %lld column %lld is %g (%s)", path, yname,
                        (long long)(i / k), (long long)(i % k), y[i],
                        isfinite(y[i]) ? "beyond float32's range, about 3.4e38" : "not finite");
                free(y);
                return DT_EUSAGE;
            }
        }
    }
    free(y);
    if ((labels && !ds->labels) || (!labels && !ds->targets))
        return dt_fail(err, DT_ENOMEM, "out of memory reading %s", yname);
    return DT_OK;
}

dt_status dataset_check_labels(const dt_dataset *ds, const char *path, const char *group,
                               int n_classes, int binary, dt_error *err)
{
    for (int64_t i = 0; i < ds->n; i++) {
        int y = ds->labels[i];
        if (binary && y > 1)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y row %lld is %d; %s sigmoid needs labels 0 or 1", path,
                           group, (long long)i, y, dt_opt("output"));
        if (y >= n_classes)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y row %lld is %d but the model has %d classes", path, group,
                           (long long)i, y, n_classes);
    }
    return DT_OK;
}

/* X's shape from its metadata: 2-D, not empty, countable in bytes. */
static dt_status probe_x(h5file *f, const char *xname, dt_dataset_info *info, dt_error *err)
{
    const char *path = h5io_path(f);
    int nd;
    int64_t dims[8];
    dt_dtype t;
    dt_status st = h5io_info(f, xname, &nd, dims, &t, err);
    if (st)
        return st;
    if (nd != 2)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' must be 2-D (N x D) but has %d dimensions",
                       path, xname, nd);
    if (dims[0] < 1 || dims[1] < 1)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is empty (%lld x %lld)", path, xname,
                       (long long)dims[0], (long long)dims[1]);
    if (dims[1] > INT64_MAX / 8 / dims[0])
        /* a file can declare any shape (HDF5 stores unwritten data as fill
         * values); keep n * d * sizeof(double) within range */
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is too large (%lld x %lld)", path, xname,
                       (long long)dims[0], (long long)dims[1]);
    info->n = dims[0];
    info->d = dims[1];
    info->x_u8 = t == DT_U8;
    return DT_OK;
}

/* A file can declare an X of any size in a few bytes; one that cannot fit in
 * this machine's physical memory even once is refused before a read that
 * would end in swapping or the OOM killer.  Anything smaller is tried (other
 * processes, or a copy per rank, may still make it fail: then malloc says so).
 * rows: those this process would hold (all n, or a sharded load's share). */
static dt_status probe_memory(const char *path, const char *xname, const dt_dataset_info *info,
                              int64_t rows, dt_error *err)
{
    const double gib = 1024.0 * 1024.0 * 1024.0;
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const double bytes = (double)rows * (double)info->d * (info->x_u8 ? 1 : sizeof(float));
    if (pages <= 0 || page <= 0 || bytes <= (double)pages * (double)page)
        return DT_OK;
    return dt_fail(err, DT_EUSAGE,
                   "%s: '%s' is %lld x %lld %s = %.1f GiB in memory%s%s%s, more than this "
                   "machine's %.1f GiB of physical memory",
                   path, xname, (long long)rows, (long long)info->d,
                   info->x_u8 ? "uint8" : "float32", bytes / gib,
                   rows < info->n ? " (this rank's share, " : "",
                   rows < info->n ? dt_opt("data-placement") : "",
                   rows < info->n ? " sharded; more ranks make it smaller)" : "",
                   (double)pages * (double)page / gib);
}

typedef struct {
    h5file *f;
    char *buf;
    size_t len, used;
} groups_ctx;

static int add_group(const char *name, void *ctx)
{
    groups_ctx *g = ctx;
    char x[300];
    snprintf(x, sizeof x, "/%s/X", name);
    if (h5io_exists(g->f, x) && g->used < g->len)
        g->used += (size_t)snprintf(g->buf + g->used, g->len - g->used, "%s/%s",
                                    g->used ? ", " : "", name);
    return 0;
}

/* "/train, /test": the top-level groups of f that hold an X ("none" if none). */
static void list_groups(h5file *f, char *buf, size_t len)
{
    groups_ctx g = {f, buf, len, 0};
    buf[0] = '\0';
    h5io_list(f, "/", add_group, &g, NULL);
    if (!buf[0])
        snprintf(buf, len, "none");
}

void dataset_groups(const char *path, char *buf, size_t len)
{
    h5file *f;
    buf[0] = '\0';
    if (h5io_open_read(path, &f, NULL) == DT_OK) {
        list_groups(f, buf, len);
        h5io_close(f, NULL);
    }
}

/* DT_EUSAGE if f is a saved model or checkpoint (its layers, no data group
 * `group`): the message says where such a file goes. */
static dt_status not_a_model(h5file *f, const char *group, dt_error *err)
{
    if (h5io_exists(f, group) || !h5io_exists(f, "/model/layer0"))
        return DT_OK;
    return dt_fail(err, DT_EUSAGE,
                   "%s is a saved dtrain model, not a data file (it has no group '%s'): give "
                   "it as --model to dtrain eval or predict (or as %s to start "
                   "training from it); %s takes a data file (dtrain convert makes one)",
                   h5io_path(f), group, dt_opt("init-from"), dt_opt("data"));
}

dt_status dataset_check_not_model(const char *path, const char *group, dt_error *err)
{
    h5file *f;
    if (h5io_open_read(path, &f, NULL))
        return DT_OK; /* the reader names the fault */
    dt_status st = not_a_model(f, group, err);
    h5io_close(f, NULL);
    return st;
}

/* dataset_probe on an open file: the group, X, y, X's size in memory, then
 * whether X and y were written whole (last: the cheap checks name their
 * faults first, even beside a huge X that was never written). */
static dt_status probe(h5file *f, const char *group, int y, dt_dataset_info *info,
                       dt_error *err)
{
    memset(info, 0, sizeof *info);
    char xname[1100], yname[1100];
    snprintf(xname, sizeof xname, "%s/X", group);
    snprintf(yname, sizeof yname, "%s/y", group);
    dt_status st = not_a_model(f, group, err);
    if (st)
        return st;
    if (!h5io_exists(f, group)) {
        char groups[512];
        list_groups(f, groups, sizeof groups);
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (groups with an X: %s)",
                       h5io_path(f), group, groups);
    }
    const int sharded = (y & DS_SHARDED) != 0;
    y &= ~DS_SHARDED;
    st = probe_x(f, xname, info, err);
    if (!st && y != DS_NO_Y)
        st = probe_y(f, yname, y == DS_LABELS, info, err);
    if (!st && !sharded)
        st = probe_memory(h5io_path(f), xname, info, info->n, err);
    if (!st)
        st = h5io_check_stored(f, xname, err);
    if (!st && y != DS_NO_Y)
        st = h5io_check_stored(f, yname, err);
    /* the file's extras (dataset_read_extras), read after training when a
     * model is saved: a damaged one is named now, not after the run */
    for (int i = 0; !st && i < 2; i++) {
        const char *extra = i ? "/classes" : "/missing_fill";
        if (h5io_exists(f, extra) &&
            !(st = h5io_check_size(f, extra, err)))
            st = h5io_check_stored(f, extra, err);
    }
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void dataset_count_values(double *v, int64_t n, int64_t *distinct, int *index_like)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *distinct = 1;
    for (int64_t i = 1; i < n; i++)
        *distinct += v[i] != v[i - 1];
    *index_like = (v[0] == 0 || v[0] == 1) && v[n - 1] == v[0] + (double)(*distinct - 1);
}

/* Float y of one column: the first value that is no class label, else the
 * number of distinct values -- of its first DT_Y_SAMPLE rows, so that rank 0
 * never holds a y of a data set bigger than a node (the loaders check every
 * row's label later).  A y declared larger than the file stores is left to the
 * data step to name. */
static void y_values(h5file *f, const char *yname, dt_y_kind *kind)
{
    if (h5io_check_size(f, yname, NULL))
        return;
    if (kind->n > DT_Y_SAMPLE)
        kind->n = DT_Y_SAMPLE;
    double *v = malloc((size_t)kind->n * sizeof *v + 1);
    if (!v || h5io_read_rows(f, yname, DT_F64, 0, kind->n, v, NULL)) {
        free(v);
        return;
    }
    for (int64_t i = 0; i < kind->n && kind->not_label < 0; i++)
        if (!(v[i] >= 0) || v[i] != floor(v[i])) {
            kind->not_label = i;
            kind->bad = v[i];
        }
    if (kind->not_label < 0 && kind->n > 0)
        dataset_count_values(v, kind->n, &kind->distinct, &kind->index_like);
    free(v);
}

void dataset_y_kind(const char *path, const char *group, dt_y_kind *kind)
{
    memset(kind, 0, sizeof *kind);
    kind->not_label = -1;
    h5file *f;
    if (h5io_open_read(path, &f, NULL))
        return;
    char yname[1100];
    snprintf(yname, sizeof yname, "%s/y", group);
    int nd;
    int64_t dims[8];
    if (!h5io_info(f, yname, &nd, dims, &kind->type, NULL) && nd >= 1 && nd <= 2 &&
        dims[0] >= 0 && dims[0] <= INT64_MAX / 16) {
        kind->known = 1;
        kind->n = dims[0];
        kind->k = nd == 2 ? dims[1] : 1;
        kind->named = h5io_exists(f, "/classes");
        kind->labels = kind->type == DT_U8 || kind->type == DT_I32 || kind->type == DT_I64 ||
                       kind->named;
        if (!kind->labels && kind->k == 1)
            y_values(f, yname, kind);
    }
    h5io_close(f, NULL);
}

dt_status dataset_probe(const char *path, const char *group, int y, dt_dataset_info *info,
                        dt_error *err)
{
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    st = probe(f, group, y, info, err);
    h5io_close(f, NULL);
    return st;
}

static dt_status read_group(dt_comm *shm_c, h5file *f, const char *group, int y,
                            const dt_dataset_info *info, dt_dataset *ds, dt_error *err);

/* Float X is finite (or NaN, kept for dataset_fill_missing); the error names
 * the first bad row (its number in the file) and column. */
static dt_status check_finite(const dt_dataset *ds, const char *path, const char *xname,
                              dt_error *err)
{
    for (int64_t i = 0; ds->X && i < dataset_held_rows(ds) * ds->d; i++)
        if (!isfinite(ds->X[i]) && !(ds->keep_nan && isnan(ds->X[i])))
            return dt_fail(err, DT_EUSAGE, "%s: %s row %lld column %lld is %g (not finite)%s",
                           path, xname, (long long)(ds->lo + i / ds->d),
                           (long long)(i % ds->d), (double)ds->X[i],
                           isnan(ds->X[i]) ? "; if it is a missing value, dtrain convert "
                                             "--missing mean fills such values and --missing "
                                             "drop leaves their rows out"
                                           : "");
    return DT_OK;
}

dt_status dataset_load(const char *path, const char *group, int y, dt_dataset *ds,
                       dt_error *err)
{
    memset(ds, 0, sizeof *ds);
    ds->keep_nan = (y & DS_KEEP_NAN) != 0;
    y &= ~DS_KEEP_NAN;
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    dt_dataset_info info;
    if (!(st = probe(f, group, y, &info, err)))
        st = read_group(NULL, f, group, y, &info, ds, err);
    h5io_close(f, NULL);
    return st;
}

dt_status dataset_load_shared(dt_comm *c, const char *path, const char *group, int y,
                              dt_dataset *ds, dt_error *err)
{
    /* Every rank checks the metadata first, so that the shared allocation
     * (collective) is reached by all ranks or by none. */
    memset(ds, 0, sizeof *ds);
    h5file *f;
    dt_dataset_info info;
    dt_status st = h5io_open_read(path, &f, err);
    if (!st)
        st = probe(f, group, y, &info, err);
    if (!(st = comm_agree(c, st, err)))
        st = comm_agree(c, read_group(c, f, group, y, &info, ds, err), err);
    h5io_close(f, NULL);
    /* every rank reached the shared allocation, or none did: free together */
    if (st)
        dataset_free(ds);
    return st;
}

dt_status dataset_alloc_share(dt_dataset *ds, const char *path, const char *xname,
                              const dt_dataset_info *info, dt_error *err)
{
    dt_status st = probe_memory(path, xname, info, ds->held, err);
    if (st)
        return st;
    const size_t count = (size_t)(ds->held * ds->d) + 1;
    if (info->x_u8) {
        ds->X8 = malloc(count);
        ds->norm8 = malloc(2 * (size_t)ds->d * sizeof *ds->norm8);
    } else {
        ds->X = malloc(count * sizeof *ds->X);
    }
    if (!ds->X && !(ds->X8 && ds->norm8))
        return dt_fail(err, DT_ENOMEM, "out of memory for %s (%lld of its %lld x %lld)", xname,
                       (long long)ds->held, (long long)ds->n, (long long)ds->d);
    return DT_OK;
}

void dataset_set_share(dt_dataset *ds, dt_comm *c, int64_t block)
{
    int64_t lo, hi;
    block_slice(ds->n, block, comm_rank(c), comm_size(c), &lo, &hi);
    ds->comm = c;
    ds->block = block;
    ds->lo = lo;
    ds->held = hi - lo;
}

/* Metadata and y through the ordinary driver, on every rank alone. */
static dt_status load_meta_y(const char *path, const char *group, int y, dt_dataset_info *info,
                             dt_dataset *ds, dt_error *err)
{
    h5file *f;
    char yname[1100];
    snprintf(yname, sizeof yname, "%s/y", group);
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    if (!(st = probe(f, group, y | DS_SHARDED, info, err))) {
        ds->n = info->n;
        ds->d = info->d;
        ds->k = info->k;
        ds->max_label = -1;
        if (y != DS_NO_Y)
            st = load_y(f, yname, y == DS_LABELS, ds, err);
    }
    h5io_close(f, NULL);
    return st;
}

dt_status dataset_load_sharded(dt_comm *c, const char *path, const char *group, int y,
                               int64_t block, dt_dataset *ds, dt_error *err)
{
    memset(ds, 0, sizeof *ds);
    char xname[1100];
    snprintf(xname, sizeof xname, "%s/X", group);
    dt_dataset_info info;
    dt_status st = comm_agree(c, load_meta_y(path, group, y, &info, ds, err), err);
    if (!st) {
        dataset_set_share(ds, c, block);
        st = comm_agree(c, dataset_alloc_share(ds, path, xname, &info, err), err);
    }
    h5file *f = NULL;
    if (!st)
        st = comm_agree(c, h5io_open_read_all(path, comm_mpi(c), &f, err), err);
    if (!st) {
        void *x = info.x_u8 ? (void *)ds->X8 : (void *)ds->X;
        st = h5io_read_rows_all(f, xname, info.x_u8 ? DT_U8 : DT_F32, ds->lo, ds->held, x, err);
        st = comm_agree(c, st, err);
    }
    if (f)
        h5io_close(f, NULL); /* collective, as the open */
    if (!st)
        st = comm_agree(c, check_finite(ds, path, xname, err), err);
    if (st)
        dataset_free(ds);
    return st;
}

void dataset_normalize(const dt_norm *nm, dt_dataset *ds)
{
    if (ds->X8) { /* private statistics, shared rows untouched */
        norm_apply(nm, ds);
        return;
    }
    if (!ds->shm || comm_shm_leader(ds->shm))
        norm_apply(nm, ds);
    if (ds->shm)
        comm_shm_barrier(ds->shm);
}

/* Read the X and y of group from f, their metadata checked (probe): X as
 * uint8 or float32, once per node when shm_c is given (collective over it). */
static dt_status read_group(dt_comm *shm_c, h5file *f, const char *group, int y,
                            const dt_dataset_info *info, dt_dataset *ds, dt_error *err)
{
    const char *path = h5io_path(f);
    char xname[1100], yname[1100];
    snprintf(xname, sizeof xname, "%s/X", group);
    snprintf(yname, sizeof yname, "%s/y", group);
    ds->n = info->n;
    ds->d = info->d;
    ds->k = info->k;
    dt_status st = DT_OK;
    /* uint8 stays uint8 (a quarter of the memory); rows become float as read */
    const int bytes = info->x_u8;
    const size_t elsize = bytes ? 1 : sizeof(float), count = (size_t)(ds->n * ds->d);
    void *x = NULL;
    if (shm_c) {
        /* one copy per node; the node's first rank reads it (below) */
        ds->shm = comm_shm_alloc(shm_c, count * elsize);
        x = ds->shm ? comm_shm_base(ds->shm) : NULL;
        if (!ds->shm)
            dt_warn("node-shared memory for %s %s is not available (no room in /dev/shm, the "
                    "file-size limit or the address-space limit); every rank keeps its own copy",
                    path, group);
    }
    if (!x)
        x = malloc(count * elsize);
    if (bytes)
        ds->X8 = x;
    else
        ds->X = x;
    if (!x) { /* never in the shared case: every rank has the window's base */
        st = dt_fail(err, DT_ENOMEM, "out of memory for %s (%lld x %lld)", xname,
                     (long long)ds->n, (long long)ds->d);
        goto out;
    }
    if (!ds->shm || comm_shm_leader(ds->shm))
        st = h5io_read_rows(f, xname, bytes ? DT_U8 : DT_F32, 0, ds->n, x, err);
    if (ds->shm)
        comm_shm_barrier(ds->shm);
    if (st)
        goto out;
    /* private, so allocated after the node's barrier: a failure here is this
     * rank's alone and must not keep it from the barrier */
    if (bytes && !(ds->norm8 = malloc(2 * (size_t)ds->d * sizeof *ds->norm8))) {
        st = dt_fail(err, DT_ENOMEM, "out of memory for %s's normalisation", xname);
        goto out;
    }
    if ((st = check_finite(ds, path, xname, err)))
        goto out;
    if (y != DS_NO_Y)
        st = load_y(f, yname, y == DS_LABELS, ds, err);
    else
        ds->max_label = -1;
out:
    if (st && !ds->shm) /* shared memory is freed collectively by the caller */
        dataset_free(ds);
    return st;
}

dt_status dataset_read_extras(const char *path, dt_data_extras *ex, dt_error *err)
{
    memset(ex, 0, sizeof *ex);
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    if (h5io_exists(f, "/classes"))
        st = h5io_read_strs(f, "/classes", &ex->n_classes, &ex->classes, err);
    if (!st && h5io_exists(f, "/missing_fill")) {
        int nd;
        int64_t dims[8];
        dt_dtype t;
        if (!(st = h5io_info(f, "/missing_fill", &nd, dims, &t, err)) && nd != 1)
            st = dt_fail(err, DT_EUSAGE, "%s: /missing_fill is not one value per feature",
                         path);
        if (!st)
            st = h5io_check_size(f, "/missing_fill", err); /* before its size is allocated */
        if (!st && !(ex->fill = malloc((size_t)dims[0] * sizeof *ex->fill + 1)))
            st = dt_fail(err, DT_ENOMEM, "%s: out of memory for /missing_fill", path);
        if (!st && !(st = h5io_read_rows(f, "/missing_fill", DT_F64, 0, dims[0], ex->fill,
                                         err)))
            ex->d = dims[0];
    }
    h5io_close(f, NULL);
    if (st)
        dataset_extras_free(ex);
    return st;
}

dt_status dataset_write_extras(h5file *f, const dt_data_extras *ex, dt_error *err)
{
    dt_status st = DT_OK;
    if (ex->classes)
        st = h5io_write_strs(f, "/classes", ex->n_classes, (const char *const *)ex->classes,
                             err);
    if (!st && ex->fill)
        st = h5io_write(f, "/missing_fill", DT_F64, 1, &ex->d, ex->fill, 0, err);
    return st;
}

void dataset_extras_free(dt_data_extras *ex)
{
    free(ex->classes);
    free(ex->fill);
    memset(ex, 0, sizeof *ex);
}

void dataset_fill_missing(dt_dataset *ds, const double *fill)
{
    for (int64_t i = 0; ds->X && i < ds->n * ds->d; i++)
        if (isnan(ds->X[i]))
            ds->X[i] = (float)fill[i % ds->d];
}
