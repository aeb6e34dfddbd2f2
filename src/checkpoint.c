/* dtrain: checkpoints: lineage, names, writing one, and the directory's
 * lock.  Checking and loading one: checkpoint_read.c; which one a resume
 * takes: checkpoint_find.c (sharing checkpoint_impl.h). */
#include "checkpoint_impl.h"

#include <dirent.h>
#include <errno.h>
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

const char *const ckpt_unhashed[] = {"checksum", NULL};

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

uint64_t ckpt_lineage_of(h5file *f)
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

/* The root's attributes beside the model and the options (modelio): the
 * format, the libraries that wrote it, the ranks, the time, the lineage. */
static dt_status write_header(h5file *f, const dt_ckpt_parts *parts, const dt_progress *p,
                              int ranks, dt_error *err)
{
    dt_status st;
    char created[64], lineage[32];
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(lineage, sizeof lineage, "%016llx", (unsigned long long)p->lineage);
    if ((st = modelio_write(f, parts->model, parts->norm, &parts->opts, err)) ||
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
    return DT_OK;
}

/* /optimizer: its kind, step count and state (none for plain SGD). */
static dt_status write_optimizer(h5file *f, const dt_optim *o, dt_error *err)
{
    dt_status st;
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
    return DT_OK;
}

/* /progress: where the run stands, the sizes it was trained at, the ranks'
 * partial losses (ranks of them) and the schedules' states. */
static dt_status write_progress(h5file *f, const dt_ckpt_parts *parts, const dt_progress *p,
                                const double *rank_loss, int ranks, dt_error *err)
{
    const dt_model *m = parts->model;
    const char *g = "/progress";
    int64_t rd[1] = {ranks};
    dt_status st;
    if ((st = h5io_make_group(f, g, err)) ||
        (st = h5io_set_attr_i64(f, g, "epoch", p->epoch, err)) ||
        (st = h5io_set_attr_i64(f, g, "batch", p->batch, err)) ||
        (st = h5io_set_attr_i64(f, g, "step", p->step, err)) ||
        (st = h5io_set_attr_f64(f, g, "seconds", p->seconds, err)) ||
        (st = h5io_set_attr_i64(f, g, "n_train", parts->n_train, err)) ||
        (st = h5io_set_attr_i64(f, g, "n_features", m->n_in, err)) ||
        (st = h5io_set_attr_i64(f, g, "n_outputs", m->n_out, err)) ||
        (st = h5io_set_attr_i64(f, g, "seed", parts->opts.seed, err)) ||
        (st = h5io_write(f, "/progress/rank_loss", DT_F64, 1, rd, rank_loss, 0, err)) ||
        (st = h5io_set_attr_f64(f, g, "plateau_best", p->plateau.best, err)) ||
        (st = h5io_set_attr_f64(f, g, "plateau_scale", p->plateau.scale, err)) ||
        (st = h5io_set_attr_i64(f, g, "plateau_bad", p->plateau.bad_epochs, err)) ||
        (st = h5io_set_attr_i64(f, g, "plateau_cooldown", p->plateau.cooldown_left, err)) ||
        (st = h5io_set_attr_f64(f, g, "es_best", p->es_best, err)) ||
        (st = h5io_set_attr_i64(f, g, "es_best_epoch", p->es_best_epoch, err)) ||
        (st = h5io_set_attr_i64(f, g, "es_bad", p->es_bad, err)))
        return st;
    return DT_OK;
}

/* The early-stopping and second-order state, when the run has them. */
static dt_status write_extras(h5file *f, const dt_ckpt_parts *parts, dt_error *err)
{
    dt_status st;
    int64_t np[1] = {(int64_t)parts->model->n_params};
    if (parts->best &&
        (st = h5io_write(f, "/early_stopping/best", DT_F32, 1, np, parts->best, 0, err)))
        return st;
    if (parts->so) {
        int64_t sl[1] = {(int64_t)so_state_len(parts->so)};
        if ((st = h5io_write(f, "/second_order/state", DT_F64, 1, sl, parts->so->state, 0, err)) ||
            (st = h5io_write(f, "/second_order/x", DT_F64, 1, np, parts->x, 0, err)))
            return st;
    }
    return DT_OK;
}

static dt_status write_file(h5file *f, const dt_ckpt_parts *parts, const dt_progress *p,
                            const double *rank_loss, int ranks, dt_error *err)
{
    dt_status st;
    if ((st = write_header(f, parts, p, ranks, err)) ||
        (st = write_optimizer(f, parts->optim, err)) ||
        (st = write_progress(f, parts, p, rank_loss, ranks, err)) ||
        (st = write_extras(f, parts, err)) || (st = history_write_h5(f, &p->hist, err)))
        return st;
    /* last: the checksum covers everything written above */
    uint64_t h;
    char sum[32];
    if ((st = h5io_digest(f, ckpt_unhashed, &h, err)))
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
    /* the name outlives dt_opt's rotating buffers: the caller keeps the
     * struct while it names other options */
    static _Thread_local char name[DT_OPTKEY_LEN + 2];
    snprintf(name, sizeof name, "%s", dt_opt("checkpoint-dir"));
    return (fs_owned_dir){name, dir,
                          "its step-NNNNNNNN[-LINEAGE].h5 checkpoints, latest.h5 and dtrain.lock",
                          ckpt_owns_name};
}

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

ckpt_entry *ckpt_list(const char *dir, size_t *n)
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

uint64_t ckpt_lineage_at(const char *path, const char *name)
{
    long long s;
    unsigned long long id;
    if (step_of(name) >= 0 && sscanf(name, "step-%lld-%16llx", &s, &id) == 2)
        return id;
    h5file *f;
    if (h5io_open_read(path, &f, NULL))
        return 0;
    id = ckpt_lineage_of(f);
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
    return !S_ISREG(sb.st_mode) || ckpt_lineage_at(path, base ? base + 1 : path) != lineage;
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
    ckpt_entry *v = ckpt_list(dir, &n);
    int64_t kept = 1; /* the one just written */
    for (size_t i = 0; v && i < n; i++) {
        char old[DT_PATH_MAX + 64];
        snprintf(old, sizeof old, "%s/%s", dir, v[i].name);
        if (v[i].step >= p->step || fs_same_file(old, written) || fs_same_file(old, link))
            continue;
        if (ckpt_lineage_at(old, v[i].name) != p->lineage || ++kept <= keep)
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
        return dt_fail_prefix(err, "%s", dt_opt("checkpoint-dir"));
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
        return dt_fail_prefix(err, "%s", dt_opt("checkpoint-dir"));
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
                       "%s %s is in use by another run: %s holds %s; give each "
                       "run a directory of its own, or wait for that run to end",
                       dt_opt("checkpoint-dir"), dir, other, file);
    }
    if (st)
        return dt_fail_prefix(err, "%s", dt_opt("checkpoint-dir"));
    if (!lock->held)
        dt_warn("%s %s: this file system does not support locks, so dtrain cannot "
                "tell whether another run uses the directory; give each run one of its own",
                dt_opt("checkpoint-dir"), dir);
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

