/* dtrain: checkpoints. */
#include "dtrain/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dtrain/fsutil.h"
#include "dtrain/h5io.h"
#include "dtrain/rng.h"
#include "dtrain/linalg.h"
#include "dtrain/modelio.h"
#include "dtrain/testhooks.h"

#ifndef DTRAIN_VERSION
#define DTRAIN_VERSION "unknown"
#endif

/* ---- progress ------------------------------------------------------------------ */

/* The history's columns are the session's to set (history.h). */
void progress_init(dt_progress *p)
{
    memset(p, 0, sizeof *p);
    history_init(&p->hist);
}

void progress_free(dt_progress *p) { history_free(&p->hist); }

/* ---- checksum and lineage -------------------------------------------------------- */

/* What the checksum leaves out: itself (format 2 hashes everything else). */
static const char *const unhashed[] = {"checksum", NULL};

uint64_t ckpt_new_lineage(void)
{
    uint64_t id = 0;
    FILE *r = fopen("/dev/urandom", "rb");
    if (!r || fread(&id, sizeof id, 1, r) != 1) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t mix[3] = {ts.tv_sec, ts.tv_nsec, getpid()};
        id = rng_fnv1a(RNG_FNV_BASIS, mix, sizeof mix);
    }
    if (r)
        fclose(r);
    return id ? id : 1; /* 0 is "none" */
}

/* The lineage a checkpoint records (0 if none: older than lineages, or unreadable). */
static uint64_t lineage_of(h5file *f)
{
    char text[32];
    unsigned long long id = 0;
    if (h5io_get_attr_str(f, "/", "lineage", text, sizeof text, NULL) ||
        sscanf(text, "%16llx", &id) != 1)
        return 0;
    return id;
}

uint64_t ckpt_lineage(const char *resumed, const char *dir, int searched, uint64_t stored)
{
    char latest[DT_PATH_MAX + 16];
    snprintf(latest, sizeof latest, "%s/latest.h5", dir);
    if (resumed[0] && stored && dir[0] && (searched || fs_same_file(resumed, latest)))
        return stored;
    return ckpt_new_lineage();
}

/* ---- writing ------------------------------------------------------------------- */

static dt_status write_file(h5file *f, const dt_ckpt_parts *parts, const dt_progress *p,
                            const double *rank_loss, int ranks, dt_error *err)
{
    const dt_model *m = parts->model;
    const dt_optim *o = parts->optim;
    dt_status st;
    char created[64], lineage[32];
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(lineage, sizeof lineage, "%016llx", (unsigned long long)p->lineage);
    if ((st = modelio_write(f, m, parts->norm, parts->cfg, err)) ||
        (st = h5io_set_attr_i64(f, "/", "format_version", CKPT_FORMAT_VERSION, err)) ||
        (st = h5io_set_attr_str(f, "/", "dtrain_version", DTRAIN_VERSION, err)) ||
        (st = h5io_set_attr_str(f, "/", "mpi_version", comm_library_version(), err)) ||
        (st = h5io_set_attr_str(f, "/", "hdf5_version", h5io_library_version(), err)) ||
        (st = h5io_set_attr_str(f, "/", "gemm_version", matmul_library_version(), err)) ||
        (st = h5io_set_attr_str(f, "/", "lapack_version", linalg_library_version(), err)) ||
        (st = h5io_set_attr_i64(f, "/", "ranks", ranks, err)) ||
        (st = h5io_set_attr_str(f, "/", "created", created, err)) ||
        (st = h5io_set_attr_str(f, "/", "lineage", lineage, err)))
        return st;
    if ((st = h5io_make_group(f, "/optimizer", err)) ||
        (st = h5io_set_attr_str(f, "/optimizer", "kind", optim_name(o->cfg.kind), err)) ||
        (st = h5io_set_attr_i64(f, "/optimizer", "t", o->t, err)))
        return st;
    size_t len = optim_state_len(o);
    if (len) {
        int64_t d[1] = {(int64_t)len};
        if ((st = h5io_write(f, "/optimizer/state", DT_F32, 1, d, o->state, 0, err)))
            return st;
    }
    const char *g = "/progress";
    int64_t rd[1] = {ranks};
    if ((st = h5io_make_group(f, g, err)) ||
        (st = h5io_set_attr_i64(f, g, "epoch", p->epoch, err)) ||
        (st = h5io_set_attr_i64(f, g, "batch", p->batch, err)) ||
        (st = h5io_set_attr_i64(f, g, "step", p->step, err)) ||
        (st = h5io_set_attr_f64(f, g, "seconds", p->seconds, err)) ||
        (st = h5io_set_attr_i64(f, g, "n_train", parts->n_train, err)) ||
        (st = h5io_set_attr_i64(f, g, "n_features", m->n_in, err)) ||
        (st = h5io_set_attr_i64(f, g, "n_outputs", m->n_out, err)) ||
        (st = h5io_set_attr_i64(f, g, "seed", parts->cfg->train.seed, err)) ||
        (st = h5io_write(f, "/progress/rank_loss", DT_F64, 1, rd, rank_loss, 0, err)) ||
        (st = h5io_set_attr_f64(f, g, "plateau_best", p->plateau.best, err)) ||
        (st = h5io_set_attr_f64(f, g, "plateau_scale", p->plateau.scale, err)) ||
        (st = h5io_set_attr_i64(f, g, "plateau_bad", p->plateau.bad_epochs, err)) ||
        (st = h5io_set_attr_i64(f, g, "plateau_cooldown", p->plateau.cooldown_left, err)) ||
        (st = h5io_set_attr_f64(f, g, "es_best", p->es_best, err)) ||
        (st = h5io_set_attr_i64(f, g, "es_best_epoch", p->es_best_epoch, err)) ||
        (st = h5io_set_attr_i64(f, g, "es_bad", p->es_bad, err)))
        return st;
    int64_t np[1] = {(int64_t)m->n_params};
    if (parts->best &&
        (st = h5io_write(f, "/early_stopping/best", DT_F32, 1, np, parts->best, 0, err)))
        return st;
    if (parts->so) {
        int64_t sl[1] = {(int64_t)so_state_len(parts->so)};
        if ((st = h5io_write(f, "/second_order/state", DT_F64, 1, sl, parts->so->state, 0, err)) ||
            (st = h5io_write(f, "/second_order/x", DT_F64, 1, np, parts->x, 0, err)))
            return st;
    }
    if ((st = history_write_h5(f, &p->hist, err)))
        return st;
    /* last: the checksum covers everything written above */
    uint64_t h;
    char sum[32];
    if ((st = h5io_digest(f, unhashed, &h, err)))
        return st;
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)h);
    return h5io_set_attr_str(f, "/", "checksum", sum, err);
}

/* step-NNNNNNNN.h5, or step-NNNNNNNN-LLLLLLLLLLLLLLLL.h5 (the checkpoint of
 * lineage L at a step for which another lineage's file has the plain name:
 * pick_name) -> N; -1 for any other name. */
static int64_t step_of(const char *name)
{
    long long s;
    unsigned long long id;
    char canon[64];
    if (sscanf(name, "step-%lld", &s) != 1 || s < 0)
        return -1;
    snprintf(canon, sizeof canon, "step-%08lld.h5", s);
    if (strcmp(canon, name) == 0)
        return s;
    if (sscanf(name, "step-%lld-%16llx", &s, &id) != 2)
        return -1;
    snprintf(canon, sizeof canon, "step-%08lld-%016llx.h5", s, id);
    return strcmp(canon, name) == 0 ? s : -1;
}

int ckpt_owns_name(const char *base)
{
    char real[64];
    if (fs_temp_base(base, real, sizeof real))
        base = real;
    return !strcmp(base, "latest.h5") || !strcmp(base, "dtrain.lock") || step_of(base) >= 0;
}

fs_owned_dir ckpt_owned_dir(const char *dir)
{
    return (fs_owned_dir){"--checkpoint-dir", dir,
                          "its step-NNNNNNNN[-LINEAGE].h5 checkpoints, latest.h5 and dtrain.lock",
                          ckpt_owns_name};
}

/* A checkpoint file of a directory. */
typedef struct {
    int64_t step;
    char name[48]; /* step-NNNNNNNN[-LINEAGE].h5 */
} ckpt_entry;

/* Newest step first; of one step, the plain name (the shortest) first. */
static int cmp_entry(const void *a, const void *b)
{
    const ckpt_entry *x = a, *y = b;
    const size_t lx = strlen(x->name), ly = strlen(y->name);
    return x->step < y->step   ? 1
           : x->step > y->step ? -1
           : lx != ly          ? (lx < ly ? -1 : 1)
                               : strcmp(x->name, y->name);
}

/* The checkpoints in dir, newest first; caller frees (NULL if none). */
static ckpt_entry *list_ckpts(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 16;
    ckpt_entry *v = malloc(cap * sizeof *v);
    struct dirent *e;
    while (v && (e = readdir(d))) {
        int64_t s = step_of(e->d_name);
        if (s < 0)
            continue;
        if (*n == cap) {
            ckpt_entry *t = realloc(v, 2 * cap * sizeof *t);
            if (!t)
                break;
            v = t;
            cap *= 2;
        }
        v[*n].step = s;
        snprintf(v[*n].name, sizeof v[*n].name, "%.47s", e->d_name); /* canonical: <= 44 */
        (*n)++;
    }
    closedir(d);
    if (v)
        qsort(v, *n, sizeof *v, cmp_entry);
    return v;
}

/* The lineage of the checkpoint at path, whose file name is name; 0 if
 * unknown: the one its name carries (step-NNNNNNNN-LINEAGE.h5), else its
 * lineage attribute, read even from a file that fails its checksum (a
 * damaged one names a run no other file has). */
static uint64_t lineage_at(const char *path, const char *name)
{
    long long s;
    unsigned long long id;
    if (step_of(name) >= 0 && sscanf(name, "step-%lld-%16llx", &s, &id) == 2)
        return id;
    h5file *f;
    if (h5io_open_read(path, &f, NULL))
        return 0;
    id = lineage_of(f);
    h5io_close(f, NULL);
    return id;
}

/* 1 if path is there and not a checkpoint of lineage (another run's, an
 * older dtrain's, unreadable, or not a regular file): never to be replaced. */
static int taken_by_other(const char *path, uint64_t lineage)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno != ENOENT;
    const char *base = strrchr(path, '/');
    return !S_ISREG(sb.st_mode) || lineage_at(path, base ? base + 1 : path) != lineage;
}

/* Where this run's checkpoint of p->step goes: DIR/step-NNNNNNNN.h5, or, when
 * that name is taken by another lineage (a branch reaching a step the run it
 * branched from has a checkpoint of), DIR/step-NNNNNNNN-LINEAGE.h5: another
 * run's checkpoint is never replaced. */
static dt_status pick_name(const char *dir, const dt_progress *p, char *out, size_t len,
                           dt_error *err)
{
    char plain[DT_PATH_MAX + 32];
    snprintf(plain, sizeof plain, "%s/step-%08lld.h5", dir, (long long)p->step);
    snprintf(out, len, "%s", plain);
    if (!taken_by_other(out, p->lineage))
        return DT_OK;
    snprintf(out, len, "%s/step-%08lld-%016llx.h5", dir, (long long)p->step,
             (unsigned long long)p->lineage);
    if (!taken_by_other(out, p->lineage))
        return DT_OK;
    return dt_fail(err, DT_EUSAGE, "%s and %s exist and are not this run's (another lineage, "
                   "or unreadable); neither is replaced", plain, out);
}

/* --keep: of this run's lineage, keep the newest `keep` checkpoints (the one
 * just written among them) and delete the older ones.  Not counted, never
 * deleted: the file just written and the one latest.h5 names; files of another
 * lineage (another start, or a resume from an earlier checkpoint than the
 * newest) or of none (older dtrain, unreadable); and files of this lineage
 * with a later step (left by a process killed before it moved latest.h5). */
static void prune(const char *dir, int64_t keep, const char *written, const char *link,
                  const dt_progress *p)
{
    size_t n;
    ckpt_entry *v = list_ckpts(dir, &n);
    int64_t kept = 1; /* the one just written */
    for (size_t i = 0; v && i < n; i++) {
        char old[DT_PATH_MAX + 64];
        snprintf(old, sizeof old, "%s/%s", dir, v[i].name);
        if (v[i].step >= p->step || fs_same_file(old, written) || fs_same_file(old, link))
            continue;
        if (lineage_at(old, v[i].name) != p->lineage || ++kept <= keep)
            continue;
        unlink(old);
    }
    free(v);
}

static dt_status write_rank0(const char *dir, int64_t keep, const dt_ckpt_parts *parts,
                             const dt_progress *p, const double *rank_loss, int ranks,
                             char *written, size_t len, dt_error *err)
{
    dt_status st = fs_mkdirs(dir, err);
    if (st)
        return dt_fail_prefix(err, "--checkpoint-dir");
    if ((st = pick_name(dir, p, written, len, err)))
        return dt_fail_prefix(err, "checkpoint not written (the previous one is intact)");
    char tmp[DT_PATH_MAX + 64];
    fs_temp_name(written, tmp, sizeof tmp);
    h5file *f;
    if ((st = h5io_create(tmp, &f, err)))
        return st;
    st = write_file(f, parts, p, rank_loss, ranks, err);
    dt_status cst = h5io_close(f, st ? NULL : err);
    if (!st)
        st = cst;
    /* Test hook: die between writing and renaming, as a crash or kill -9 would. */
    if (!st && dt_hooks.crash_step == p->step) {
        fprintf(stderr, "dtrain: test hook: crashing inside the checkpoint write\n");
        fflush(stderr);
        abort();
    }
    if (!st)
        st = fs_commit(tmp, written, err);
    if (st) {
        unlink(tmp);
        return dt_fail_prefix(err, "checkpoint not written (the previous one is intact)");
    }
    char link[DT_PATH_MAX + 16];
    snprintf(link, sizeof link, "%s/latest.h5", dir);
    const char *base = strrchr(written, '/');
    if ((st = fs_symlink_replace(base ? base + 1 : written, link, err)))
        return st;
    if (keep > 0)
        prune(dir, keep, written, link, p);
    return DT_OK;
}

/* Delete the temporaries of killed writes in dir: names fs_temp_name gives a
 * checkpoint or the latest.h5 link, and nothing else.  Safe only while this
 * run holds the directory's lock (no other writer can be mid-write). */
static void remove_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    int n = 0;
    double bytes = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char base[64], path[DT_PATH_MAX + 300];
        if (!fs_temp_base(e->d_name, base, sizeof base) ||
            (strcmp(base, "latest.h5") != 0 && step_of(base) < 0))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)) ||
            unlink(path) != 0)
            continue;
        n++;
        bytes += S_ISREG(sb.st_mode) ? (double)sb.st_size : 0;
    }
    closedir(d);
    if (n)
        dt_info("dtrain: removed %d temporary file%s of interrupted checkpoint writes from %s "
                "(%.1f MB)",
                n, n == 1 ? "" : "s", dir, bytes / 1e6);
}

dt_status ckpt_claim_dir(const char *dir, fs_dir_lock *lock, dt_error *err)
{
    dt_status st = fs_mkdirs(dir, err);
    if (st)
        return dt_fail_prefix(err, "--checkpoint-dir");
    char host[256] = "?", when[32] = "?", holder[400], file[DT_PATH_MAX + 16];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(holder, sizeof holder, "dtrain PID %ld on host %s, started %s", (long)getpid(),
             host, when);
    snprintf(file, sizeof file, "%s/dtrain.lock", dir);
    st = fs_lock_dir(dir, "dtrain.lock", holder, lock, err);
    if (st == DT_EUSAGE) {
        char other[DT_ERRMSG_LEN];
        snprintf(other, sizeof other, "%s", err->msg);
        return dt_fail(err, DT_EUSAGE,
                       "--checkpoint-dir %s is in use by another run: %s holds %s; give each "
                       "run a directory of its own, or wait for that run to end",
                       dir, other, file);
    }
    if (st)
        return dt_fail_prefix(err, "--checkpoint-dir");
    if (!lock->held)
        dt_warn("--checkpoint-dir %s: this file system does not support locks, so dtrain cannot "
                "tell whether another run uses the directory; give each run one of its own",
                dir);
    remove_temporaries(dir);
    return DT_OK;
}

void ckpt_release_dir(fs_dir_lock *lock) { fs_unlock_dir(lock); }

dt_status ckpt_save(dt_comm *c, const char *dir, int64_t keep, const dt_ckpt_parts *parts,
                    const dt_progress *p, char *written, size_t len, dt_error *err)
{
    int ranks = comm_size(c), rank = comm_rank(c);
    double *rank_loss = calloc((size_t)ranks, sizeof *rank_loss);
    dt_status st = DT_OK;
    if (!rank_loss)
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    /* every rank's partial epoch loss, so a resumed epoch line is the same */
    if (rank_loss) {
        rank_loss[rank] = p->local_loss;
        comm_allreduce_sum_f64(c, rank_loss, (size_t)ranks);
    }
    if (!st && rank == 0)
        st = write_rank0(dir, keep, parts, p, rank_loss, ranks, written, len, err);
    free(rank_loss);
    st = comm_agree(c, st, err);
    comm_bcast(c, written, len, 0);
    return st;
}

/* ---- reading ------------------------------------------------------------------- */

/* "PATH: damaged checkpoint: ..." (DT_EUSAGE). */
static dt_status damaged(dt_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static dt_status damaged(dt_error *err, const char *path, const char *fmt, ...)
{
    char what[DT_ERRMSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return dt_fail(err, DT_EUSAGE, "%s: damaged checkpoint: %s", path, what);
}

/* Integer attribute obj/name into *v, which must lie in [lo, hi] (why: what
 * bounds it). */
static dt_status int_in(h5file *f, const char *path, const char *obj, const char *name,
                        int64_t lo, int64_t hi, const char *why, int64_t *v, dt_error *err)
{
    double d;
    if (h5io_get_attr_f64(f, obj, name, &d, NULL))
        return damaged(err, path, "no number %s attribute '%s'", obj, name);
    /* read as double first: a float 1e300 or NaN would not convert to int64 */
    if (!(d >= (double)lo && d <= (double)hi) || h5io_get_attr_i64(f, obj, name, v, NULL) ||
        *v < lo || *v > hi)
        return damaged(err, path, "%s attribute %s is %.17g; expected %lld to %lld (%s)", obj,
                       name, d, (long long)lo, (long long)hi, why);
    return DT_OK;
}

/* Real attribute obj/name into *v: not NaN; finite unless inf_ok; in [lo, hi]. */
static dt_status real_in(h5file *f, const char *path, const char *obj, const char *name,
                         double lo, double hi, int inf_ok, double *v, dt_error *err)
{
    if (h5io_get_attr_f64(f, obj, name, v, NULL))
        return damaged(err, path, "no number %s attribute '%s'", obj, name);
    if (isnan(*v) || (!inf_ok && isinf(*v)) || (isfinite(*v) && (*v < lo || *v > hi)))
        return damaged(err, path, "%s attribute %s is %g; expected %s%g to %g", obj, name, *v,
                       inf_ok ? "+-infinity or " : "", lo, hi);
    return DT_OK;
}

/* Largest counts a checkpoint can hold: one rank per process of a job, one
 * training sample per row of an HDF5 dataset dtrain reads. */
#define CKPT_MAX_RANKS (1 << 24)
#define CKPT_MAX_SAMPLES ((int64_t)1 << 48)

/* The facts a checkpoint states about itself, each checked for range
 * against the others and against the options it was written with. */
typedef struct {
    int64_t version, ranks, n_train, epoch, batch, step, t, n_params;
} ckpt_facts;

/* The layers' shapes (metadata): n_params, or a damaged-checkpoint error. */
static dt_status count_params(h5file *f, const char *path, int64_t *n_params, dt_error *err)
{
    *n_params = 0;
    int l = 0;
    for (;; l++) {
        char g[64], w[96], b[96];
        snprintf(g, sizeof g, "/model/layer%d", l);
        if (!h5io_exists(f, g))
            break;
        snprintf(w, sizeof w, "%s/weight", g);
        snprintf(b, sizeof b, "%s/bias", g);
        int nw, nb;
        int64_t dw[8], db[8];
        dt_dtype t;
        if (l >= DT_MAX_LAYERS || h5io_info(f, w, &nw, dw, &t, NULL) ||
            h5io_info(f, b, &nb, db, &t, NULL) || nw != 2 || nb != 1 || dw[0] < 1 ||
            dw[1] < 1 || dw[0] > INT32_MAX || dw[1] > INT32_MAX || db[0] != dw[0])
            return damaged(err, path, "%s is not a layer (weight out x in, bias out)", g);
        /* each term below 2^62 (both dims < 2^31); their sum kept below 2^48,
         * more parameters than any model dtrain can hold, so that 3 x the
         * count (the optimizer state) cannot overflow either */
        *n_params += dw[0] * dw[1] + db[0];
        if (*n_params > CKPT_MAX_SAMPLES)
            return damaged(err, path, "/model declares more than 2^48 parameters");
    }
    if (l == 0)
        return damaged(err, path, "no /model/layer0");
    return DT_OK;
}

/* Dataset dset must be a vector of n values (lo..hi with lo < hi). */
static dt_status vector_of(h5file *f, const char *path, const char *dset, int64_t lo,
                           int64_t hi, const char *why, dt_error *err)
{
    int nd;
    int64_t dims[8];
    dt_dtype t;
    if (h5io_info(f, dset, &nd, dims, &t, NULL))
        return damaged(err, path, "no readable dataset %s", dset);
    if (nd == 1 && dims[0] >= lo && dims[0] <= hi)
        return DT_OK;
    char want[64];
    if (lo == hi)
        snprintf(want, sizeof want, "%lld", (long long)lo);
    else
        snprintf(want, sizeof want, "%lld to %lld", (long long)lo, (long long)hi);
    if (nd != 1)
        return damaged(err, path, "%s has %d dimensions; expected a vector of %s values (%s); "
                       "refused before reading", dset, nd, want, why);
    return damaged(err, path, "%s has %lld values; expected %s (%s); refused before reading",
                   dset, (long long)dims[0], want, why);
}

/* Everything a resume reads, checked for presence, range and size against
 * the file's own model and options, before any array is read.  Metadata and
 * attributes only. */
static dt_status check_file(h5file *f, const char *path, ckpt_facts *k, dt_error *err)
{
    static const char *const groups[] = {"/model", "/normalization", "/config",
                                         "/optimizer", "/progress", "/history"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (!h5io_exists(f, groups[i]))
            return damaged(err, path, "no %s", groups[i]);
    const char *g = "/progress";
    char text[64];
    int64_t epochs = 1000000000, v;
    double x;
    if (!h5io_get_attr_str(f, "/config", "epochs", text, sizeof text, NULL) &&
        (sscanf(text, "%lld", (long long *)&epochs) != 1 || epochs < 1 || epochs > 1000000000))
        return damaged(err, path, "/config attribute epochs is '%s'; expected 1 to 1e9", text);
    dt_status st;
    if ((st = count_params(f, path, &k->n_params, err)) ||
        (st = int_in(f, path, "/", "format_version", 1, CKPT_FORMAT_VERSION,
                     "the formats this dtrain reads", &k->version, err)) ||
        (st = int_in(f, path, "/", "ranks", 1, CKPT_MAX_RANKS, "ranks of a job", &k->ranks,
                     err)) ||
        (st = int_in(f, path, g, "n_train", 1, CKPT_MAX_SAMPLES, "training samples",
                     &k->n_train, err)) ||
        (st = int_in(f, path, g, "n_features", 1, INT32_MAX, "features", &v, err)) ||
        (st = int_in(f, path, g, "n_outputs", 1, INT32_MAX, "outputs", &v, err)) ||
        (st = int_in(f, path, g, "epoch", 0, epochs, "epochs done, at most the saved --epochs",
                     &k->epoch, err)) ||
        (st = int_in(f, path, g, "batch", 0, k->n_train,
                     "batches done of the epoch, at most one per training sample", &k->batch,
                     err)) ||
        (st = int_in(f, path, g, "step", 0,
                     k->n_train > INT64_MAX / (k->epoch + 1) ? INT64_MAX
                                                              : (k->epoch + 1) * k->n_train,
                     "updates, at most one per sample of the epochs so far", &k->step, err)) ||
        (st = int_in(f, path, "/optimizer", "t", 0, k->step, "updates, at most the steps",
                     &k->t, err)) ||
        (st = real_in(f, path, g, "seconds", 0, 1e12, 0, &x, err)) ||
        (st = real_in(f, path, g, "plateau_best", -DBL_MAX, DBL_MAX, 1, &x, err)) ||
        (st = real_in(f, path, g, "plateau_scale", 0, 1, 0, &x, err)) ||
        (st = int_in(f, path, g, "plateau_bad", 0, k->epoch, "epochs done", &v, err)) ||
        (st = int_in(f, path, g, "plateau_cooldown", 0, 1000000000, "epochs", &v, err)) ||
        (st = real_in(f, path, g, "es_best", -DBL_MAX, DBL_MAX, 1, &x, err)) ||
        (st = int_in(f, path, g, "es_best_epoch", 0, k->epoch, "epochs done", &v, err)) ||
        (st = int_in(f, path, g, "es_bad", 0, k->epoch, "epochs done", &v, err)))
        return st;
    /* the arrays' shapes, from what the model and the progress imply */
    if ((st = vector_of(f, path, "/progress/rank_loss", k->ranks, k->ranks,
                        "one per rank that wrote it", err)))
        return st;
    if (h5io_exists(f, "/optimizer/state")) {
        int nd;
        int64_t dims[8];
        dt_dtype t;
        if ((st = vector_of(f, path, "/optimizer/state", 1, 3 * k->n_params,
                            "up to 3 per parameter", err)))
            return st;
        h5io_info(f, "/optimizer/state", &nd, dims, &t, NULL);
        if (dims[0] % k->n_params)
            return damaged(err, path, "/optimizer/state has %lld values; expected 1, 2 or 3 "
                           "per parameter (%lld)", (long long)dims[0], (long long)k->n_params);
    }
    if (h5io_exists(f, "/early_stopping/best") &&
        (st = vector_of(f, path, "/early_stopping/best", k->n_params, k->n_params,
                        "one per parameter", err)))
        return st;
    if (h5io_exists(f, "/second_order/x") &&
        (st = vector_of(f, path, "/second_order/x", k->n_params, k->n_params,
                        "one per parameter", err)))
        return st;
    if (h5io_exists(f, "/history/epochs")) {
        int nd;
        int64_t dims[8];
        dt_dtype t;
        if (h5io_info(f, "/history/epochs", &nd, dims, &t, NULL) || nd != 2 ||
            dims[0] > k->epoch + 1 || dims[1] > HIST_MAX_COLS)
            return damaged(err, path, "/history/epochs is %lld x %lld; expected at most %lld "
                           "rows (one per epoch done) of at most %d columns; refused before "
                           "reading",
                           (long long)dims[0], (long long)(nd > 1 ? dims[1] : 0),
                           (long long)k->epoch + 1, HIST_MAX_COLS);
    }
    /* whatever else is in the file: no more declared than stored */
    return h5io_check_all_stored(f, err);
}

/* Format 1: the checksum covers the parameters, the optimizer state and its
 * step count, read after check_file bounded their sizes. */
static dt_status checksum_v1(const char *path, uint64_t *h, dt_error *err)
{
    dt_model m;
    dt_status st = modelio_load(path, 1, &m, NULL, err);
    if (st)
        return st;
    h5file *f;
    float *state = NULL;
    int64_t t = 0;
    size_t len = 0;
    if ((st = h5io_open_read(path, &f, err)))
        goto out;
    int nd;
    int64_t dims[8] = {0};
    dt_dtype type;
    if (!(st = h5io_get_attr_i64(f, "/optimizer", "t", &t, err)) &&
        h5io_exists(f, "/optimizer/state") &&
        !(st = h5io_info(f, "/optimizer/state", &nd, dims, &type, err))) {
        len = (size_t)dims[0];
        if (!(state = malloc(len * sizeof *state)))
            st = dt_fail(err, DT_ENOMEM, "out of memory");
        else
            st = h5io_read_rows(f, "/optimizer/state", DT_F32, 0, dims[0], state, err);
    }
    h5io_close(f, NULL);
    if (!st) {
        *h = rng_fnv1a(RNG_FNV_BASIS, m.params, m.n_params * sizeof(float));
        if (len)
            *h = rng_fnv1a(*h, state, len * sizeof(float));
        *h = rng_fnv1a(*h, &t, sizeof t);
    }
out:
    free(state);
    model_free(&m);
    return st;
}

dt_status ckpt_verify(const char *path, dt_error *err)
{
    h5file *f;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    char sum[64];
    ckpt_facts k;
    uint64_t h = 0;
    if (!h5io_has_attr(f, "/", "format_version") ||
        h5io_get_attr_str(f, "/", "checksum", sum, sizeof sum, NULL)) {
        st = dt_fail(err, DT_EUSAGE, "%s: not a dtrain checkpoint (no format_version/checksum)",
                     path);
    } else if (!h5io_get_attr_i64(f, "/", "format_version", &k.version, NULL) &&
               k.version > CKPT_FORMAT_VERSION) {
        st = dt_fail(err, DT_EUSAGE,
                     "%s: checkpoint format version %lld is newer than this dtrain reads (%d)",
                     path, (long long)k.version, CKPT_FORMAT_VERSION);
    } else if (!(st = check_file(f, path, &k, err)) && k.version >= 2) {
        st = h5io_digest(f, unhashed, &h, err);
    }
    h5io_close(f, NULL);
    if (!st && k.version < 2)
        st = checksum_v1(path, &h, err);
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)h);
    if (!st && strcmp(want, sum) != 0)
        st = dt_fail(err, DT_EUSAGE,
                     "%s: checksum mismatch (stored %s, computed %s): the file is damaged", path,
                     sum, want);
    return st;
}

#define APPEND(buf, used, ...)                                                             \
    do {                                                                                   \
        if (used < sizeof buf)                                                             \
            used += (size_t)snprintf(buf + used, sizeof buf - used, __VA_ARGS__);          \
    } while (0)

/* --resume FILE names no file (--keep may have deleted it) or a directory:
 * the checkpoints that FILE's directory (or the directory; else
 * --checkpoint-dir) does hold, newest first, and how to take the newest. */
static dt_status no_checkpoint_at(const char *spec, int is_dir, const char *ckpt_dir,
                                  dt_error *err)
{
    char dir[DT_PATH_MAX];
    const char *slash = strrchr(spec, '/');
    if (is_dir)
        snprintf(dir, sizeof dir, "%s", spec);
    else
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - spec) : 1, slash ? spec : ".");
    size_t n;
    ckpt_entry *v = list_ckpts(dir, &n);
    if (!n && ckpt_dir[0]) {
        free(v);
        snprintf(dir, sizeof dir, "%s", ckpt_dir);
        v = list_ckpts(dir, &n);
    }
    char have[DT_ERRMSG_LEN / 2] = "";
    size_t used = 0;
    for (size_t i = 0; v && i < n && i < 8; i++)
        APPEND(have, used, "%s%s", i ? ", " : "", v[i].name);
    if (n > 8)
        APPEND(have, used, ", ... (%zu in all)", n);
    free(v);
    const char *what = is_dir ? "a directory, not a checkpoint" : "no such file";
    if (!n)
        return dt_fail(err, DT_EUSAGE, "--resume %s: %s, and no checkpoint "
                       "(step-NNNNNNNN.h5) in %s", spec, what, dir);
    return dt_fail(err, DT_EUSAGE,
                   "--resume %s: %s; %s holds %s (newest first); '--checkpoint-dir %s "
                   "--resume' (no FILE) takes the newest good one",
                   spec, what, dir, have, dir);
}

/* A run's newest usable checkpoint in a directory: v[entry]. */
typedef struct {
    uint64_t lineage;
    size_t entry;
} ckpt_head;

/* The usable checkpoints of dir belong to other runs than latest.h5's (want),
 * or, want unknown (0), to several: the user names the one to continue. */
static dt_status choose_run(const char *dir, int have_latest, uint64_t want,
                            const ckpt_entry *v, const ckpt_head *heads, size_t n_heads,
                            dt_error *err)
{
    char list[DT_ERRMSG_LEN / 2] = "";
    size_t used = 0;
    for (size_t h = 0; h < n_heads && h < 8; h++) {
        char id[48] = "no lineage: an older dtrain's";
        if (heads[h].lineage)
            snprintf(id, sizeof id, "lineage %016llx", (unsigned long long)heads[h].lineage);
        APPEND(list, used, "\n  %s/%s (%s)", dir, v[heads[h].entry].name, id);
    }
    if (n_heads > 8)
        APPEND(list, used, "\n  ... (%zu runs in all)", n_heads);
    if (want)
        return dt_fail(err, DT_EUSAGE,
                       "--resume: %s/latest.h5 cannot be used and no other checkpoint of its "
                       "run (lineage %016llx) can; those left are other runs', the newest of "
                       "each:%s\nto continue one of them, name it with '--resume FILE'",
                       dir, (unsigned long long)want, list);
    return dt_fail(err, DT_EUSAGE,
                   "--resume: %s/latest.h5 %s and the usable checkpoints in %s belong to %zu "
                   "runs (lineages); dtrain does not guess which to continue. The newest of "
                   "each:%s\nname the one to continue with '--resume FILE'",
                   dir, have_latest ? "cannot be used (its run unknown)" : "does not exist,",
                   dir, n_heads, list);
}

dt_status ckpt_find(const char *spec, const char *dir, char *path, size_t len, dt_error *err)
{
    path[0] = '\0';
    if (spec[0]) {
        struct stat sb;
        int found = stat(spec, &sb) == 0;
        if ((!found && errno == ENOENT) || (found && S_ISDIR(sb.st_mode)))
            return no_checkpoint_at(spec, found, dir, err);
        dt_status st = ckpt_verify(spec, err);
        if (!st)
            snprintf(path, len, "%s", spec);
        return st;
    }
    if (!dir[0])
        return dt_fail(err, DT_EUSAGE, "--resume without a file needs --checkpoint-dir");
    char cand[DT_PATH_MAX + 32];
    dt_error e2;
    /* what was wrong with each checkpoint tried, for the error if none is usable */
    char faults[DT_ERRMSG_LEN] = "";
    size_t used = 0;
    int tried = 0;
    snprintf(cand, sizeof cand, "%s/latest.h5", dir);
    struct stat lb;
    char target[DT_PATH_MAX] = "latest.h5";
    ssize_t tl = -1;
    const int have_latest = lstat(cand, &lb) == 0;
    if (have_latest && S_ISLNK(lb.st_mode))
        tl = readlink(cand, target, sizeof target - 1);
    if (tl >= 0)
        target[tl] = '\0';
    if (have_latest && S_ISLNK(lb.st_mode) && access(cand, F_OK) != 0 && tl >= 0) {
        /* its checkpoint was deleted or moved: taking the newest step file
         * instead could continue another run's checkpoints */
        return dt_fail(err, DT_EUSAGE,
                       "--resume: %s names %s, which does not exist (deleted or moved); "
                       "resume from a checkpoint file of your choice with '--resume FILE'",
                       cand, target);
    }
    if (access(cand, F_OK) == 0) {
        if (!ckpt_verify(cand, &e2)) {
            snprintf(path, len, "%s", cand);
            return DT_OK;
        }
        dt_warn("%s; trying older checkpoints", e2.msg);
        /* a link (ours) names a step file, which is listed below on its own */
        struct stat sb;
        if (lstat(cand, &sb) == 0 && !S_ISLNK(sb.st_mode)) {
            tried++;
            APPEND(faults, used, "\n  %s", e2.msg);
        }
    }
    /* The fallback continues latest.h5's run (its lineage, when known), or,
     * not knowing it, the one run all usable checkpoints belong to: the
     * newest file may be another run's (a branch's, another seed's).  Only
     * the newest usable checkpoint of each lineage is verified. */
    const char *base = strrchr(target, '/');
    const uint64_t want = have_latest ? lineage_at(cand, base ? base + 1 : target) : 0;
    size_t n, n_heads = 0;
    ckpt_entry *v = list_ckpts(dir, &n);
    ckpt_head *heads = calloc(n ? n : 1, sizeof *heads);
    if (!heads) {
        free(v);
        return dt_fail(err, DT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; v && i < n && !path[0]; i++) {
        snprintf(cand, sizeof cand, "%s/%s", dir, v[i].name);
        const uint64_t id = lineage_at(cand, v[i].name);
        size_t h = 0;
        while (h < n_heads && heads[h].lineage != id) h++;
        if (h < n_heads)
            continue; /* an older file of a run already found */
        if (ckpt_verify(cand, &e2)) {
            dt_warn("skipping %s", e2.msg);
            tried++;
            APPEND(faults, used, "\n  %s", e2.msg);
            continue;
        }
        heads[n_heads++] = (ckpt_head){id, i};
        if (want && id == want)
            snprintf(path, len, "%s", cand);
    }
    if (!path[0] && !want && n_heads == 1)
        snprintf(path, len, "%s/%s", dir, v[heads[0].entry].name);
    dt_status st = DT_OK;
    if (!path[0] && n_heads)
        st = choose_run(dir, have_latest, want, v, heads, n_heads, err);
    free(heads);
    free(v);
    if (st)
        return st;
    /* Starting fresh would overwrite the damaged ones: only when there are none. */
    if (!path[0] && tried)
        return dt_fail(err, DT_EUSAGE,
                       "--resume: no usable checkpoint in %s, %d damaged:%s\n(move them away, "
                       "or give a --checkpoint-dir of its own, to start fresh)",
                       dir, tried, faults);
    return DT_OK;
}

dt_status ckpt_load_norm(const char *path, dt_norm *norm, dt_error *err)
{
    dt_model m;
    dt_status st = modelio_load(path, 1, &m, norm, err);
    model_free(&m);
    return st;
}

/* 1 if the checkpoint's text `was` of option o is cfg's value: the same
 * text (also "", a value not given: the method's default), or read as the
 * option would be (into the scratch configuration `old`). */
static int same_value(dt_config *old, const dt_config *cfg, const dt_option *o, const char *was)
{
    char now[2 * DT_PATH_MAX + 2], abs[2 * DT_PATH_MAX + 2];
    config_value_str(cfg, o, now, sizeof now);
    /* names are saved as absolute ones (modelio_write) */
    if ((o->facts & OPTF_PATH) && now[0] && !fs_absolute(now, abs, sizeof abs) &&
        !strcmp(abs, was))
        return 1;
    return !strcmp(now, was) ||
           (config_set(old, CMD_TRAIN, o->name, was, NULL) == DT_OK && config_same(old, cfg, o));
}

static dt_status compare(h5file *f, const char *path, const dt_ckpt_parts *parts, dt_error *err)
{
    char diff[DT_ERRMSG_LEN] = "";
    size_t used = 0;
    size_t n;
    const dt_option *opts = config_options(&n);
    dt_config *old = malloc(sizeof *old);
    if (!old)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    config_defaults(old);
    for (size_t i = 0; i < n; i++) {
        const unsigned facts = opts[i].facts;
        if (!(opts[i].cmds & CMD_TRAIN) || (facts & OPTF_RESUME_QUIET))
            continue; /* RESUME_QUIET: differs on every resume; nothing to report */
        char was[2 * DT_PATH_MAX + 2], now[2 * DT_PATH_MAX + 2];
        if (modelio_saved_option(f, &opts[i], was, sizeof was, NULL)) {
            /* a checkpoint older than the option: it ran at the default, and
             * a change of what may change is still said */
            if (!(facts & OPTF_MAY_CHANGE))
                continue;
            snprintf(was, sizeof was, "%s", opts[i].def ? opts[i].def : "");
        }
        if (same_value(old, parts->cfg, &opts[i], was))
            continue;
        config_value_str(parts->cfg, &opts[i], now, sizeof now);
        if (facts & OPTF_MAY_CHANGE)
            dt_info("resume: --%s %s (the checkpoint had %s)", opts[i].name, now[0] ? now : "''",
                    was[0] ? was : "''");
        else
            APPEND(diff, used, "\n  --%s: checkpoint '%s', now '%s'", opts[i].name, was, now);
    }
    int64_t v;
    const dt_model *m = parts->model;
    if (!h5io_get_attr_i64(f, "/progress", "n_train", &v, NULL) && v != parts->n_train)
        APPEND(diff, used, "\n  training samples: checkpoint %lld, now %lld", (long long)v,
               (long long)parts->n_train);
    if (!h5io_get_attr_i64(f, "/progress", "n_features", &v, NULL) && v != m->n_in)
        APPEND(diff, used, "\n  features: checkpoint %lld, now %d", (long long)v, m->n_in);
    if (!h5io_get_attr_i64(f, "/progress", "n_outputs", &v, NULL) && v != m->n_out)
        APPEND(diff, used, "\n  outputs (classes or targets): checkpoint %lld, now %d",
               (long long)v, m->n_out);
    free(old);
    /* the optimizer's own record, for a checkpoint whose configuration does
     * not name it (a difference in --optimizer is listed above, once) */
    char kind[32];
    dt_optim_kind k;
    if (!h5io_has_attr(f, "/config", "optimizer") &&
        !h5io_get_attr_str(f, "/optimizer", "kind", kind, sizeof kind, NULL) &&
        (optim_parse(kind, &k, NULL) || k != parts->optim->cfg.kind))
        APPEND(diff, used, "\n  optimizer: checkpoint %s, now %s", kind,
               optim_name(parts->optim->cfg.kind));
    if (diff[0])
        return dt_fail(err, DT_EUSAGE, "%s does not fit this run:%s", path, diff);
    return DT_OK;
}

/* Read dataset dset of the checkpoint at path into buf: it must be a vector
 * of exactly n values (a crafted or foreign file with another shape would
 * otherwise overrun buf). */
static dt_status read_vector(h5file *f, const char *path, const char *dset, dt_dtype type,
                             size_t n, void *buf, dt_error *err)
{
    int nd;
    int64_t dims[8];
    dt_dtype stored;
    dt_status st = h5io_info(f, dset, &nd, dims, &stored, err);
    if (st)
        return st;
    if (nd != 1)
        return dt_fail(err, DT_EUSAGE, "%s: %s has %d dimensions, expected a vector of %zu "
                       "values", path, dset, nd, n);
    if ((size_t)dims[0] != n)
        return dt_fail(err, DT_EUSAGE, "%s: %s has %lld values, expected %zu", path, dset,
                       (long long)dims[0], n);
    return h5io_read_rows(f, dset, type, 0, (int64_t)n, buf, err);
}

static dt_status load_optimizer(h5file *f, const char *path, dt_optim *o, dt_error *err)
{
    dt_status st = h5io_get_attr_i64(f, "/optimizer", "t", &o->t, err); /* range: check_file */
    size_t len = optim_state_len(o);
    if (!st && len)
        st = read_vector(f, path, "/optimizer/state", DT_F32, len, o->state, err);
    return st;
}

static dt_status load_progress_attrs(h5file *f, dt_progress *p, dt_error *err)
{
    const char *g = "/progress";
    dt_status st;
    if ((st = h5io_get_attr_i64(f, g, "epoch", &p->epoch, err)) ||
        (st = h5io_get_attr_i64(f, g, "batch", &p->batch, err)) ||
        (st = h5io_get_attr_i64(f, g, "step", &p->step, err)) ||
        (st = h5io_get_attr_f64(f, g, "seconds", &p->seconds, err)) ||
        (st = h5io_get_attr_f64(f, g, "plateau_best", &p->plateau.best, err)) ||
        (st = h5io_get_attr_f64(f, g, "plateau_scale", &p->plateau.scale, err)) ||
        (st = h5io_get_attr_i64(f, g, "plateau_bad", &p->plateau.bad_epochs, err)) ||
        (st = h5io_get_attr_i64(f, g, "plateau_cooldown", &p->plateau.cooldown_left, err)) ||
        (st = h5io_get_attr_f64(f, g, "es_best", &p->es_best, err)) ||
        (st = h5io_get_attr_i64(f, g, "es_best_epoch", &p->es_best_epoch, err)) ||
        (st = h5io_get_attr_i64(f, g, "es_bad", &p->es_bad, err)))
        return st;
    return DT_OK;
}

/* The early-stopping and second-order state, when the run has them. */
static dt_status load_extras(h5file *f, const char *path, const dt_ckpt_parts *parts,
                             dt_error *err)
{
    const size_t np = parts->model->n_params;
    dt_status st;
    if (parts->best) {
        if (!h5io_exists(f, "/early_stopping/best"))
            return dt_fail(err, DT_EUSAGE, "%s has no early-stopping state (written without "
                           "--early-stopping)", path);
        if ((st = read_vector(f, path, "/early_stopping/best", DT_F32, np, parts->best, err)))
            return st;
    }
    if (parts->so &&
        ((st = read_vector(f, path, "/second_order/state", DT_F64, so_state_len(parts->so),
                           parts->so->state, err)) ||
         (st = read_vector(f, path, "/second_order/x", DT_F64, np, parts->x, err))))
        return st;
    return DT_OK;
}

/* This rank's partial loss of the epoch in progress.  Same rank count: each
 * rank continues its own sum (bit-identical epoch lines); otherwise rank 0
 * carries the total. */
static dt_status load_rank_loss(h5file *f, const char *path, const ckpt_facts *k,
                                dt_progress *p, int rank, int ranks, dt_error *err)
{
    /* its length is the writer's rank count (check_file) */
    double *rl = malloc((size_t)k->ranks * sizeof *rl);
    if (!rl)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    dt_status st = h5io_read_rows(f, "/progress/rank_loss", DT_F64, 0, k->ranks, rl, err);
    p->local_loss = 0.0;
    for (int64_t i = 0; !st && i < k->ranks; i++)
        if (!isfinite(rl[i]) || rl[i] < 0)
            st = damaged(err, path, "/progress/rank_loss[%lld] is %g; expected a finite loss "
                         "sum >= 0", (long long)i, rl[i]);
    if (!st && k->ranks == ranks)
        p->local_loss = rl[rank];
    else if (!st && rank == 0)
        for (int64_t i = 0; i < k->ranks; i++) p->local_loss += rl[i];
    free(rl);
    return st;
}

/* What check_file could not know: the position against this run's batches. */
static dt_status check_position(const char *path, const ckpt_facts *k, int64_t steps_per_epoch,
                                dt_error *err)
{
    /* batch == steps_per_epoch: written after the last batch, before the epoch's end */
    if (k->batch > steps_per_epoch)
        return damaged(err, path, "/progress attribute batch is %lld; expected 0 to %lld (the "
                       "batches of an epoch)", (long long)k->batch,
                       (long long)steps_per_epoch);
    const int64_t most = k->epoch > (INT64_MAX - k->batch) / steps_per_epoch
                             ? INT64_MAX
                             : k->epoch * steps_per_epoch + k->batch;
    if (k->step > most)
        return damaged(err, path, "/progress attribute step is %lld; expected 0 to %lld (one "
                       "update per batch of epoch %lld and batch %lld)", (long long)k->step,
                       (long long)most, (long long)k->epoch, (long long)k->batch);
    return DT_OK;
}

dt_status ckpt_load(const char *path, const dt_ckpt_parts *parts, int rank, int ranks,
                    dt_progress *p, dt_error *err)
{
    h5file *f;
    ckpt_facts k;
    dt_status st = h5io_open_read(path, &f, err);
    if (st)
        return st;
    if (!(st = check_file(f, path, &k, err)) &&
        !(st = check_position(path, &k, parts->steps_per_epoch, err)))
        st = compare(f, path, parts, err);
    p->lineage = lineage_of(f);
    h5io_close(f, NULL);
    if (st || (st = modelio_load_weights(path, parts->model, err)) ||
        (st = h5io_open_read(path, &f, err)))
        return st;
    if (!(st = load_optimizer(f, path, parts->optim, err)) &&
        !(st = load_progress_attrs(f, p, err)) && !(st = load_extras(f, path, parts, err)) &&
        !(st = load_rank_loss(f, path, &k, p, rank, ranks, err)))
        st = history_read_h5(f, path, k.epoch + 1, &p->hist, err);
    h5io_close(f, NULL);
    return st;
}
