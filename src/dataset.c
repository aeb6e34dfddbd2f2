/* dtrain: data sets in memory. */
#include "dtrain/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtrain/exsum.h"
#include "dtrain/h5io.h"
#include "dtrain/rng.h"

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

/* The rows X holds: all n, or a sharded set's share. */
static int64_t held_rows(const dt_dataset *ds) { return ds->block ? ds->held : ds->n; }

/* Float X is finite (or NaN, kept for dataset_fill_missing); the error names
 * the first bad row (its number in the file) and column. */
static dt_status check_finite(const dt_dataset *ds, const char *path, const char *xname,
                              dt_error *err)
{
    for (int64_t i = 0; ds->X && i < held_rows(ds) * ds->d; i++)
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

/* A sharded set's X for its rows (ds->lo, ds->held set), and norm8 for
 * uint8: allocated after a check that the share fits in memory. */
static dt_status alloc_share(dt_dataset *ds, const char *path, const char *xname,
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

/* The sharded load's setting: c, block, and this rank's share of ds->n. */
static void set_share(dt_dataset *ds, dt_comm *c, int64_t block)
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
        set_share(ds, c, block);
        st = comm_agree(c, alloc_share(ds, path, xname, &info, err), err);
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

dt_status dataset_subset(const dt_dataset *ds, const unsigned char *pick, int want, dt_dataset *out,
                        dt_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t n = 0;
    for (int64_t i = 0; i < ds->n; i++) n += pick[i] == want;
    out->n = n;
    out->d = ds->d;
    out->k = ds->k;
    out->max_label = -1;
    if (ds->X8) {
        out->X8 = malloc((size_t)(n * ds->d + 1));
        out->norm8 = malloc(2 * (size_t)ds->d * sizeof *out->norm8);
    } else {
        out->X = malloc((size_t)(n * ds->d + 1) * sizeof *out->X);
    }
    if (ds->labels)
        out->labels = malloc((size_t)(n + 1) * sizeof *out->labels);
    else
        out->targets = malloc((size_t)(n * ds->k + 1) * sizeof *out->targets);
    if ((!out->X && !(out->X8 && out->norm8)) || (ds->labels && !out->labels) ||
        (!ds->labels && !out->targets)) {
        dataset_free(out);
        return dt_fail(err, DT_ENOMEM, "out of memory for a split of %lld rows", (long long)n);
    }
    if (ds->X8 && (out->normed8 = ds->normed8))
        memcpy(out->norm8, ds->norm8, 2 * (size_t)ds->d * sizeof *out->norm8);
    int64_t r = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (pick[i] != want)
            continue;
        if (ds->X8)
            memcpy(out->X8 + r * ds->d, ds->X8 + i * ds->d, (size_t)ds->d);
        else
            memcpy(out->X + r * ds->d, ds->X + i * ds->d, (size_t)ds->d * sizeof *out->X);
        if (ds->labels) {
            out->labels[r] = ds->labels[i];
            if (out->labels[r] > out->max_label) out->max_label = out->labels[r];
        } else {
            memcpy(out->targets + r * ds->k, ds->targets + i * ds->k,
                   (size_t)ds->k * sizeof *out->targets);
        }
        r++;
    }
    return DT_OK;
}

/* Rows held out of a class (or a set without labels) of m rows. */
static int64_t held_of(double frac, int64_t m) { return (int64_t)floor(frac * (double)m + 0.5); }

int64_t dataset_split_kept(const dt_dataset *ds, double frac)
{
    if (!ds->labels)
        return ds->n - held_of(frac, ds->n);
    int64_t kept = ds->n, *count = calloc((size_t)ds->max_label + 1, sizeof *count);
    if (!count)
        return -1;
    for (int64_t i = 0; i < ds->n; i++) count[ds->labels[i]]++;
    for (int32_t c = 0; c <= ds->max_label; c++) kept -= held_of(frac, count[c]);
    free(count);
    return kept;
}

/* The validation split's choice: pick[i] = 1 for the rows held out,
 * round(frac * count) of every class (of all rows when ds has no labels),
 * drawn from (seed, RNG_STREAM_VALID, class).  Needs the labels only.
 * Caller frees *pick. */
static dt_status split_pick(const dt_dataset *ds, double frac, uint64_t seed,
                            unsigned char **pick_out, dt_error *err)
{
    const int64_t n = ds->n;
    const int32_t classes = ds->labels ? ds->max_label + 1 : 1;
    unsigned char *pick = calloc((size_t)n + 1, 1);
    int64_t *rows = malloc((size_t)(n + 1) * sizeof *rows);
    *pick_out = pick;
    if (!pick || !rows) {
        free(rows);
        return dt_fail(err, DT_ENOMEM, "out of memory for the validation split");
    }
    for (int32_t c = 0; c < classes; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (!ds->labels || ds->labels[i] == c) rows[m++] = i;
        /* Fisher-Yates on this class's rows, then hold out the first share */
        dt_rng r;
        rng_seed(&r, seed, RNG_STREAM_VALID, (uint64_t)c);
        for (int64_t i = m - 1; i > 0; i--) {
            int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1), t = rows[i];
            rows[i] = rows[j];
            rows[j] = t;
        }
        for (int64_t i = 0; i < held_of(frac, m); i++) pick[rows[i]] = 1;
    }
    free(rows);
    return DT_OK;
}

static dt_status split_sizes(double frac, int64_t n, int64_t kept, int64_t held, dt_error *err)
{
    if (kept > 0 && held > 0)
        return DT_OK;
    return dt_fail_opt(err, DT_EUSAGE, "valid-split",
                       "%s %g of %lld rows leaves %lld for training and %lld for "
                       "validation; each needs at least one", dt_opt("valid-split"),
                       frac, (long long)n, (long long)kept, (long long)held);
}

dt_status dataset_split(const dt_dataset *ds, double frac, uint64_t seed, dt_dataset *keep,
                        dt_dataset *held, dt_error *err)
{
    memset(keep, 0, sizeof *keep);
    memset(held, 0, sizeof *held);
    unsigned char *pick;
    dt_status st = split_pick(ds, frac, seed, &pick, err);
    if (!st)
        st = dataset_subset(ds, pick, 0, keep, err);
    if (!st)
        st = dataset_subset(ds, pick, 1, held, err);
    free(pick);
    if (!st)
        st = split_sizes(frac, ds->n, keep->n, held->n, err);
    if (st) {
        dataset_free(keep);
        dataset_free(held);
    }
    return st;
}

/* out (d) = in (d) as float, then (x - shift) * scale when norm (2, d) is
 * given: the arithmetic of norm_apply on float rows, so the bits agree. */
DT_HOT static void convert_row(float *restrict out, const uint8_t *restrict in,
                               const float *restrict norm, size_t d)
{
    if (norm) {
        const float *shift = norm, *scale = norm + d;
        for (size_t j = 0; j < d; j++) out[j] = ((float)in[j] - shift[j]) * scale[j];
    } else {
        for (size_t j = 0; j < d; j++) out[j] = (float)in[j];
    }
}

/* Row r (its number in the data set: a sharded set holds it at r - lo). */
static void copy_row(const dt_dataset *ds, int64_t r, float *out)
{
    const size_t d = (size_t)ds->d;
    r -= ds->lo;
    if (ds->X8)
        convert_row(out, ds->X8 + (size_t)r * d, ds->normed8 ? ds->norm8 : NULL, d);
    else
        memcpy(out, ds->X + (size_t)r * d, d * sizeof *out);
}

const float *dataset_rows(const dt_dataset *ds, int64_t lo, int64_t nb, float *buf)
{
    if (ds->X)
        return ds->X + (lo - ds->lo) * ds->d;
    for (int64_t i = 0; i < nb; i++) copy_row(ds, lo + i, buf + i * ds->d);
    return buf;
}

/* Ask for row r's cache lines ahead of use: the rows of a batch are random,
 * so the hardware prefetcher cannot guess them, and each row would otherwise
 * wait on memory one line after another. */
static void prefetch_row(const dt_dataset *ds, int64_t r)
{
    const size_t bytes = (size_t)ds->d * (ds->X8 ? 1 : sizeof(float));
    const char *p = ds->X8 ? (const char *)(ds->X8 + (size_t)r * (size_t)ds->d)
                           : (const char *)(ds->X + (size_t)r * (size_t)ds->d);
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
}

void dataset_gather(const dt_dataset *ds, const int64_t *rows, int64_t nb, float *X,
                    int32_t *labels, float *targets)
{
    const size_t d = (size_t)ds->d, k = (size_t)ds->k;
    enum { AHEAD = 4 };
    for (int64_t i = 0; i < nb && i < AHEAD; i++) prefetch_row(ds, rows[i]);
    for (int64_t i = 0; i < nb; i++) {
        int64_t r = rows[i];
        if (i + AHEAD < nb)
            prefetch_row(ds, rows[i + AHEAD]);
        copy_row(ds, r, X + (size_t)i * d);
        if (labels)
            labels[i] = ds->labels[r];
        if (targets)
            memcpy(targets + (size_t)i * k, ds->targets + (size_t)r * k, k * sizeof(float));
    }
}

struct dt_fetch {
    const dt_dataset *ds;
    dt_exchange *x;
    size_t row_bytes;   /* a row as stored: d floats or d bytes */
    char *send, *recv;  /* (rows this rank sends, row_bytes), (max_rows, row_bytes) */
    int64_t *counts;    /* (3 size): rows sent to each rank, received from each, and
                           where the next from each goes in recv */
    int64_t *mine, *pos; /* (max_rows): the rows this rank asked for, where each lands */
    int64_t nb;         /* rows asked for by this rank */
};

dt_fetch *dataset_fetch_create(const dt_dataset *ds, int64_t max_rows, int64_t max_total)
{
    dt_comm *c = ds->comm;
    const size_t size = (size_t)comm_size(c);
    dt_fetch *f = calloc(1, sizeof *f);
    /* each row is sent to one rank at most: no more than this rank holds */
    const int64_t sends = max_total < ds->held ? max_total : ds->held;
    if (f) {
        f->ds = ds;
        f->row_bytes = (size_t)ds->d * (ds->X8 ? 1 : sizeof(float));
        f->send = malloc((size_t)sends * f->row_bytes + 1);
        f->recv = malloc((size_t)max_rows * f->row_bytes + 1);
        f->counts = malloc(3 * size * sizeof *f->counts);
        f->mine = malloc(2 * ((size_t)max_rows + 1) * sizeof *f->mine);
        f->pos = f->mine ? f->mine + max_rows + 1 : NULL;
    }
    int ok = f && f->send && f->recv && f->counts && f->mine;
    int64_t bad = !ok;
    comm_allreduce_max_i64(c, &bad, 1);
    /* collective: made by every rank or by none */
    if (f && !bad)
        f->x = comm_exchange_create(c, f->row_bytes);
    if (f && !f->x) {
        dataset_fetch_free(f);
        return NULL;
    }
    return f;
}

/* Row r of the data set, as stored, from a sharded set's share. */
static const char *stored_row(const dt_dataset *ds, int64_t r)
{
    const size_t at = (size_t)(r - ds->lo) * (size_t)ds->d;
    return ds->X8 ? (const char *)(ds->X8 + at) : (const char *)(ds->X + at);
}

/* The send side: the rows this rank holds of each rank's request, packed in
 * rank order; and this rank's own request kept. */
static void pack_sends(dt_fetch *f, const int64_t *want, const int64_t *counts)
{
    const dt_dataset *ds = f->ds;
    const int size = comm_size(ds->comm), me = comm_rank(ds->comm);
    int64_t *sends = f->counts, at = 0, off = 0;
    for (int r = 0; r < size; r++) {
        sends[r] = 0;
        for (int64_t i = off; i < off + counts[r]; i++) {
            if (want[i] < ds->lo || want[i] >= ds->lo + ds->held)
                continue;
            memcpy(f->send + (size_t)at++ * f->row_bytes, stored_row(ds, want[i]), f->row_bytes);
            sends[r]++;
        }
        if (r == me) {
            memcpy(f->mine, want + off, (size_t)counts[r] * sizeof *f->mine);
            f->nb = counts[r];
        }
        off += counts[r];
    }
}

void dataset_fetch_start(dt_fetch *f, const int64_t *want, const int64_t *counts)
{
    const dt_dataset *ds = f->ds;
    const int size = comm_size(ds->comm);
    int64_t *recvs = f->counts + size, *next = f->counts + 2 * size;
    pack_sends(f, want, counts);
    /* the receive side: rows arrive grouped by the rank holding them */
    memset(recvs, 0, (size_t)size * sizeof *recvs);
    for (int64_t i = 0; i < f->nb; i++) recvs[block_owner(ds->n, ds->block, f->mine[i], size)]++;
    for (int r = 0, off = 0; r < size; off += (int)recvs[r], r++) next[r] = off;
    for (int64_t i = 0; i < f->nb; i++)
        f->pos[i] = next[block_owner(ds->n, ds->block, f->mine[i], size)]++;
    comm_exchange_start(f->x, f->send, f->counts, f->recv, recvs);
}

int64_t dataset_fetch_finish(dt_fetch *f, float *X, int32_t *labels, float *targets)
{
    const dt_dataset *ds = f->ds;
    const size_t d = (size_t)ds->d, k = (size_t)ds->k;
    comm_exchange_wait(f->x);
    for (int64_t i = 0; i < f->nb; i++) {
        const char *row = f->recv + (size_t)f->pos[i] * f->row_bytes;
        if (ds->X8)
            convert_row(X + (size_t)i * d, (const uint8_t *)row, ds->normed8 ? ds->norm8 : NULL, d);
        else
            memcpy(X + (size_t)i * d, row, f->row_bytes);
        const int64_t r = f->mine[i];
        if (labels)
            labels[i] = ds->labels[r];
        if (targets)
            memcpy(targets + (size_t)i * k, ds->targets + (size_t)r * k, k * sizeof(float));
    }
    return f->nb;
}

void dataset_fetch_free(dt_fetch *f)
{
    if (!f)
        return;
    comm_exchange_free(f->x);
    free(f->send);
    free(f->recv);
    free(f->counts);
    free(f->mine);
    free(f);
}

/* out: rows[0..n) of the sharded ds, in that order, sharded again with
 * block: y copied locally (held whole), X's rows moved to their new ranks.
 * Collective over ds->comm. */
static dt_status reshard(const dt_dataset *ds, const int64_t *rows, int64_t n, int64_t block,
                         dt_dataset *out, dt_error *err)
{
    dt_comm *c = ds->comm;
    const int size = comm_size(c);
    memset(out, 0, sizeof *out);
    *out = (dt_dataset){.n = n, .d = ds->d, .k = ds->k, .max_label = -1};
    set_share(out, c, block);
    const dt_dataset_info info = {.n = n, .d = ds->d, .k = ds->k, .x_u8 = ds->X8 != NULL};
    dt_status st = alloc_share(out, dt_opt("valid-split"), "X", &info, err);
    int64_t *counts = malloc((size_t)size * sizeof *counts);
    if (ds->labels)
        out->labels = malloc((size_t)(n + 1) * sizeof *out->labels);
    else
        out->targets = malloc((size_t)(n * ds->k + 1) * sizeof *out->targets);
    dt_fetch *f = NULL;
    if (!st && (!counts || (!out->labels && !out->targets)))
        st = dt_fail(err, DT_ENOMEM, "out of memory for a split of %lld rows", (long long)n);
    if (!(st = comm_agree(c, st, err)) &&
        !(f = dataset_fetch_create(ds, out->held, n)))
        st = dt_fail(err, DT_ENOMEM, "out of memory moving the rows of a split");
    if (!st) {
        for (int r = 0; r < size; r++) {
            int64_t lo, hi;
            block_slice(n, block, r, size, &lo, &hi);
            counts[r] = hi - lo;
        }
        dataset_fetch_start(f, rows, counts);
        comm_exchange_wait(f->x);
        for (int64_t i = 0; i < f->nb; i++)
            memcpy((out->X8 ? (char *)out->X8 : (char *)out->X) + (size_t)i * f->row_bytes,
                   f->recv + (size_t)f->pos[i] * f->row_bytes, f->row_bytes);
        if (out->X8 && (out->normed8 = ds->normed8))
            memcpy(out->norm8, ds->norm8, 2 * (size_t)ds->d * sizeof *out->norm8);
        for (int64_t i = 0; i < n; i++) {
            if (ds->labels) {
                out->labels[i] = ds->labels[rows[i]];
                if (out->labels[i] > out->max_label) out->max_label = out->labels[i];
            } else {
                memcpy(out->targets + i * ds->k, ds->targets + rows[i] * ds->k,
                       (size_t)ds->k * sizeof *out->targets);
            }
        }
    }
    dataset_fetch_free(f);
    free(counts);
    if (st)
        dataset_free(out);
    return st;
}

dt_status dataset_split_sharded(const dt_dataset *ds, double frac, uint64_t seed, int64_t block,
                                dt_dataset *keep, dt_dataset *held, dt_error *err)
{
    memset(keep, 0, sizeof *keep);
    memset(held, 0, sizeof *held);
    unsigned char *pick;
    int64_t *rows = malloc((size_t)(ds->n + 1) * sizeof *rows), nk = 0, nh = 0;
    dt_status st = split_pick(ds, frac, seed, &pick, err);
    if (!st && !rows)
        st = dt_fail(err, DT_ENOMEM, "out of memory for the validation split");
    /* the kept rows in order, then the held-out ones */
    for (int64_t i = 0; !st && i < ds->n; i++) nh += pick[i];
    nk = ds->n - nh;
    for (int64_t i = 0, a = 0, b = nk; !st && i < ds->n; i++) rows[pick[i] ? b++ : a++] = i;
    if (!st)
        st = split_sizes(frac, ds->n, nk, nh, err);
    if (!(st = comm_agree(ds->comm, st, err)) && !(st = reshard(ds, rows, nk, block, keep, err)))
        st = reshard(ds, rows + nk, nh, block, held, err);
    free(pick);
    free(rows);
    if (st) {
        dataset_free(keep);
        dataset_free(held);
    }
    return st;
}

const char *const norm_names[] = {[NORM_NONE] = "none", [NORM_ZSCORE] = "zscore",
                                  [NORM_MINMAX] = "minmax", NULL};

dt_status norm_parse(const char *text, dt_norm_kind *out, dt_error *err)
{
    int i = dt_name_index(norm_names, text);
    if (i < 0)
        return dt_fail_opt(err, DT_EUSAGE, "normalize", "unknown %s '%s' (expected zscore, "
                           "minmax or none)", dt_opt("normalize"), text);
    *out = (dt_norm_kind)i;
    return DT_OK;
}

const char *norm_name(dt_norm_kind k) { return norm_names[k]; }

/* The shifted sums acc (2, d) of rows [lo, hi) of ds, row 0 ref as the shift
 * (x a row's scratch), reduced over the ranks exactly (exsum.h): the bits do
 * not depend on which rank summed which rows.  0, or -1 without memory (on
 * every rank). */
static int exact_zscore_sums(dt_comm *c, const dt_dataset *ds, int64_t lo, int64_t hi,
                             const float *ref, float *x, double *acc)
{
    const size_t d = (size_t)ds->d;
    int64_t *code = calloc(2 * d, sizeof *code), *sum = calloc(2 * d, sizeof *sum);
    int *shift = malloc(2 * d * sizeof *shift);
    int64_t missing = !(code && sum && shift);
    comm_allreduce_max_i64(c, &missing, 1);
    for (int pass = 0; !missing && pass < 2; pass++) {
        for (int64_t i = lo; i < hi; i++) {
            copy_row(ds, i, x);
            for (size_t j = 0; j < d; j++) {
                acc[j] = (double)x[j] - ref[j];
                acc[d + j] = acc[j] * acc[j];
            }
            if (pass == 0)
                exsum_exp_each(acc, 2 * d, code);
            else
                exsum_add_each(sum, acc, shift, 2 * d);
        }
        if (pass == 0) {
            comm_allreduce_max_i64(c, code, 2 * d);
            for (size_t j = 0; j < 2 * d; j++) shift[j] = exsum_shift(code[j], ds->n);
        }
    }
    if (!missing) {
        comm_allreduce_sum_i64(c, sum, 2 * d);
        for (size_t j = 0; j < 2 * d; j++)
            acc[j] = code[j] == EXSUM_NONFINITE ? NAN : exsum_value(sum[j], shift[j]);
    }
    free(code);
    free(sum);
    free(shift);
    return missing ? -1 : 0;
}

dt_status norm_fit(dt_comm *c, const dt_dataset *ds, dt_norm_kind kind, int exact, dt_norm *out,
                   dt_error *err)
{
    const int64_t d = ds->d;
    out->kind = kind;
    out->d = d;
    out->shift = calloc((size_t)d, sizeof(float));
    out->scale = malloc((size_t)d * sizeof(float));
    double *acc = calloc(2 * (size_t)d, sizeof(double));
    /* row 0 and the current row, as float (uint8 rows are converted) */
    float *ref = malloc(2 * (size_t)d * sizeof *ref);
    if (!out->shift || !out->scale || !acc || !ref) {
        free(acc);
        free(ref);
        norm_free(out);
        return dt_fail(err, DT_ENOMEM, "out of memory for normalisation statistics");
    }
    float *x = ref + d;
    for (int64_t j = 0; j < d; j++)
        out->scale[j] = 1.0f;
    int64_t lo = ds->lo, hi = ds->lo + ds->held;
    if (!ds->block) /* every rank holds every row: each sums its share */
        batch_slice(ds->n, comm_rank(c), comm_size(c), &lo, &hi);
    if (kind == NORM_ZSCORE) {
        /* Shifted sums (by row 0, known to every rank) keep the variance accurate
         * for features with a large mean. */
        const int owner = ds->block ? block_owner(ds->n, ds->block, 0, comm_size(c)) : 0;
        if (!ds->block || owner == comm_rank(c))
            copy_row(ds, 0, ref);
        if (ds->block)
            comm_bcast(c, ref, (size_t)d * sizeof *ref, owner);
        double *s = acc, *s2 = acc + d;
        if (exact && exact_zscore_sums(c, ds, lo, hi, ref, x, acc)) {
            free(acc);
            free(ref);
            norm_free(out);
            return dt_fail(err, DT_ENOMEM, "out of memory for normalisation statistics");
        }
        for (int64_t i = lo; !exact && i < hi; i++) {
            copy_row(ds, i, x);
            for (int64_t j = 0; j < d; j++) {
                double v = (double)x[j] - ref[j];
                s[j] += v;
                s2[j] += v * v;
            }
        }
        if (!exact)
            comm_allreduce_sum_f64(c, acc, 2 * (size_t)d);
        double n = (double)ds->n;
        for (int64_t j = 0; j < d; j++) {
            double mean = s[j] / n;
            double var = s2[j] / n - mean * mean;
            double sd = var > 0 ? sqrt(var) : 0.0;
            out->shift[j] = (float)(ref[j] + mean);
            out->scale[j] = sd > 1e-12 * (1.0 + fabs(ref[j] + mean)) ? (float)(1.0 / sd) : 1.0f;
        }
    } else if (kind == NORM_MINMAX) {
        double *mn = acc, *mx = acc + d;
        for (int64_t j = 0; j < d; j++) {
            mn[j] = HUGE_VAL;
            mx[j] = -HUGE_VAL;
        }
        for (int64_t i = lo; i < hi; i++) {
            copy_row(ds, i, x);
            for (int64_t j = 0; j < d; j++) {
                if (x[j] < mn[j]) mn[j] = x[j];
                if (x[j] > mx[j]) mx[j] = x[j];
            }
        }
        comm_allreduce_min_f64(c, mn, (size_t)d);
        comm_allreduce_max_f64(c, mx, (size_t)d);
        for (int64_t j = 0; j < d; j++) {
            out->shift[j] = (float)mn[j];
            double range = mx[j] - mn[j];
            out->scale[j] = range > 0 ? (float)(1.0 / range) : 1.0f;
        }
    }
    free(acc);
    free(ref);
    return DT_OK;
}

void norm_apply(const dt_norm *nm, dt_dataset *ds)
{
    if (nm->kind == NORM_NONE)
        return;
    const int64_t d = ds->d;
    if (ds->X8) {
        memcpy(ds->norm8, nm->shift, (size_t)d * sizeof *ds->norm8);
        memcpy(ds->norm8 + d, nm->scale, (size_t)d * sizeof *ds->norm8);
        ds->normed8 = 1;
        return;
    }
    for (int64_t i = 0; i < held_rows(ds); i++) {
        float *x = ds->X + i * d;
        for (int64_t j = 0; j < d; j++)
            x[j] = (x[j] - nm->shift[j]) * nm->scale[j];
    }
}

void dataset_target_stats(const dt_dataset *ds, float *shift, float *scale)
{
    const int64_t n = ds->n, k = ds->k;
    for (int64_t j = 0; j < k; j++) {
        /* two passes in double: the mean, then the spread about it */
        double mean = 0.0, ss = 0.0;
        for (int64_t i = 0; i < n; i++) mean += ds->targets[i * k + j];
        mean = n ? mean / (double)n : 0.0;
        for (int64_t i = 0; i < n; i++) {
            const double d = ds->targets[i * k + j] - mean;
            ss += d * d;
        }
        const double sd = n ? sqrt(ss / (double)n) : 0.0;
        shift[j] = (float)mean;
        /* a constant target is only shifted, as a constant feature is */
        scale[j] = sd > 1e-12 * (1.0 + fabs(mean)) ? (float)(1.0 / sd) : 1.0f;
    }
}

void norm_free(dt_norm *nm)
{
    free(nm->shift);
    free(nm->scale);
    nm->shift = nm->scale = NULL;
}

void batch_slice(int64_t n, int rank, int size, int64_t *lo, int64_t *hi)
{
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}

void block_slice(int64_t n, int64_t block, int rank, int size, int64_t *lo, int64_t *hi)
{
    int64_t blo, bhi;
    batch_slice((n + block - 1) / block, rank, size, &blo, &bhi);
    *lo = blo * block < n ? blo * block : n;
    *hi = bhi * block < n ? bhi * block : n;
}

int block_owner(int64_t n, int64_t block, int64_t row, int size)
{
    /* block_slice gives rank r blocks [floor(nb r / size), floor(nb (r+1) / size));
     * the last r with floor(nb r / size) <= b is floor(((b + 1) size - 1) / nb) */
    const int64_t nb = (n + block - 1) / block, b = row / block;
    return (int)(((b + 1) * size - 1) / nb);
}

int64_t batch_count(int64_t n, int64_t b, int drop_last)
{
    return drop_last ? n / b : (n + b - 1) / b;
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
