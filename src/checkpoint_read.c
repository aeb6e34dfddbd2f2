/* dtrain: checkpoints: checking one before anything of it is used,
 * verifying its checksum, and loading it.  Part of the checkpoint module
 * (checkpoint.c, checkpoint_impl.h). */
#include "checkpoint_impl.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/modelio.h"
#include "dtrain/rng.h"

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

/* The groups a checkpoint has, and the --epochs it was written with into
 * *epochs (1e9, the most, if /config does not say). */
static dt_status check_groups(h5file *f, const char *path, int64_t *epochs, dt_error *err)
{
    static const char *const groups[] = {"/model", "/normalization", "/config",
                                         "/optimizer", "/progress", "/history"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (!h5io_exists(f, groups[i]))
            return damaged(err, path, "no %s", groups[i]);
    char text[64];
    *epochs = 1000000000;
    if (!h5io_get_attr_str(f, "/config", "epochs", text, sizeof text, NULL) &&
        (sscanf(text, "%lld", (long long *)epochs) != 1 || *epochs < 1 || *epochs > 1000000000))
        return damaged(err, path, "/config attribute epochs is '%s'; expected 1 to 1e9", text);
    return DT_OK;
}

/* The model's size and the counts and position of /progress and /optimizer
 * into k, each bounded by the ones before it (the epochs by `epochs`). */
static dt_status check_counts(h5file *f, const char *path, int64_t epochs, ckpt_facts *k,
                              dt_error *err)
{
    const char *g = "/progress";
    int64_t v;
    double x;
    char epochs_done[96];
    snprintf(epochs_done, sizeof epochs_done, "epochs done, at most the saved %s",
             dt_opt("epochs"));
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
        (st = int_in(f, path, g, "epoch", 0, epochs, epochs_done, &k->epoch,
                     err)) ||
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
    return DT_OK;
}

/* The arrays' shapes, from what the model and the progress (k) imply. */
static dt_status check_arrays(h5file *f, const char *path, const ckpt_facts *k, dt_error *err)
{
    int nd;
    int64_t dims[8];
    dt_dtype t;
    dt_status st;
    if ((st = vector_of(f, path, "/progress/rank_loss", k->ranks, k->ranks,
                        "one per rank that wrote it", err)))
        return st;
    if (h5io_exists(f, "/optimizer/state")) {
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
    if (h5io_exists(f, "/history/epochs") &&
        (h5io_info(f, "/history/epochs", &nd, dims, &t, NULL) || nd != 2 ||
         dims[0] > k->epoch + 1 || dims[1] > HIST_MAX_COLS))
        return damaged(err, path, "/history/epochs is %lld x %lld; expected at most %lld "
                       "rows (one per epoch done) of at most %d columns; refused before "
                       "reading",
                       (long long)dims[0], (long long)(nd > 1 ? dims[1] : 0),
                       (long long)k->epoch + 1, HIST_MAX_COLS);
    return DT_OK;
}

/* Everything a resume reads, checked for presence, range and size against
 * the file's own model and options, before any array is read.  Metadata and
 * attributes only. */
static dt_status check_file(h5file *f, const char *path, ckpt_facts *k, dt_error *err)
{
    int64_t epochs;
    dt_status st;
    if ((st = check_groups(f, path, &epochs, err)) ||
        (st = check_counts(f, path, epochs, k, err)) || (st = check_arrays(f, path, k, err)))
        return st;
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
        st = h5io_digest(f, ckpt_unhashed, &h, err);
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

dt_status ckpt_load_norm(const char *path, dt_norm *norm, dt_error *err)
{
    dt_model m;
    dt_status st = modelio_load(path, 1, &m, norm, err);
    model_free(&m);
    return st;
}

static dt_status compare(h5file *f, const char *path, const dt_ckpt_parts *parts, dt_error *err)
{
    char diff[DT_ERRMSG_LEN] = "";
    size_t used = 0;
    if (parts->opts.compare(&parts->opts, f, diff, sizeof diff, &used) < 0)
        return dt_fail(err, DT_ENOMEM, "out of memory");
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
                           "%s)", path, dt_opt("early-stopping"));
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
    p->lineage = ckpt_lineage_of(f);
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
