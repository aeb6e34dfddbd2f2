/* dtrain: data sets in memory: subsets and splits, reading rows, fetching
 * rows from other ranks, and how rows are sliced among ranks.  Part of the
 * data set module (dataset.c, dataset_impl.h). */
#include "dataset_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/bf16.h"
#include "dtrain/rng.h"

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

/* Row r of the data set, as stored (d floats or d bytes), from the rows
 * this rank holds. */
static const char *stored_row(const dt_dataset *ds, int64_t r)
{
    const size_t at = (size_t)(r - ds->lo) * (size_t)ds->d;
    return ds->X8 ? (const char *)(ds->X8 + at) : (const char *)(ds->X + at);
}

/* A row as stored (row) into out (d) as float and normalised, or into out16
 * (d) rounded to bf16 when out16 is not NULL (bf16.h: the same bits as
 * rounding out, without writing it). */
static void put_row(const dt_dataset *ds, const char *row, float *out, dt_bf16 *out16)
{
    const size_t d = (size_t)ds->d;
    const float *norm = ds->normed8 ? ds->norm8 : NULL;
    if (out16 && ds->X8)
        bf16_round_u8(out16, (const uint8_t *)row, norm, d);
    else if (out16)
        bf16_round(out16, (const float *)row, d);
    else if (ds->X8)
        convert_row(out, (const uint8_t *)row, norm, d);
    else
        memcpy(out, row, d * sizeof *out);
}

void dataset_copy_row(const dt_dataset *ds, int64_t r, float *out)
{
    put_row(ds, stored_row(ds, r), out, NULL);
}

const float *dataset_rows(const dt_dataset *ds, int64_t lo, int64_t nb, float *buf)
{
    if (ds->X)
        return ds->X + (lo - ds->lo) * ds->d;
    for (int64_t i = 0; i < nb; i++) dataset_copy_row(ds, lo + i, buf + i * ds->d);
    return buf;
}

/* Ask for row r's cache lines ahead of use: the rows of a batch are random,
 * so the hardware prefetcher cannot guess them, and each row would otherwise
 * wait on memory one line after another. */
static void prefetch_row(const dt_dataset *ds, int64_t r)
{
    const size_t bytes = (size_t)ds->d * (ds->X8 ? 1 : sizeof(float));
    const char *p = stored_row(ds, r);
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
}

/* dataset_gather into X, or into X16 (bf16) when it is not NULL. */
static void gather_rows(const dt_dataset *ds, const int64_t *rows, int64_t nb, float *X,
                        dt_bf16 *X16, int32_t *labels, float *targets)
{
    const size_t d = (size_t)ds->d, k = (size_t)ds->k;
    enum { AHEAD = 4 };
    for (int64_t i = 0; i < nb && i < AHEAD; i++) prefetch_row(ds, rows[i]);
    for (int64_t i = 0; i < nb; i++) {
        int64_t r = rows[i];
        if (i + AHEAD < nb)
            prefetch_row(ds, rows[i + AHEAD]);
        put_row(ds, stored_row(ds, r), X16 ? NULL : X + (size_t)i * d,
                X16 ? X16 + (size_t)i * d : NULL);
        if (labels)
            labels[i] = ds->labels[r];
        if (targets)
            memcpy(targets + (size_t)i * k, ds->targets + (size_t)r * k, k * sizeof(float));
    }
}

void dataset_gather(const dt_dataset *ds, const int64_t *rows, int64_t nb, float *X,
                    int32_t *labels, float *targets)
{
    gather_rows(ds, rows, nb, X, NULL, labels, targets);
}

void dataset_gather_bf16(const dt_dataset *ds, const int64_t *rows, int64_t nb, dt_bf16 *X16,
                         int32_t *labels, float *targets)
{
    gather_rows(ds, rows, nb, NULL, X16, labels, targets);
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

/* dataset_fetch_finish into X, or into X16 (bf16) when it is not NULL. */
static int64_t fetch_finish(dt_fetch *f, float *X, dt_bf16 *X16, int32_t *labels,
                            float *targets)
{
    const dt_dataset *ds = f->ds;
    const size_t d = (size_t)ds->d, k = (size_t)ds->k;
    comm_exchange_wait(f->x);
    for (int64_t i = 0; i < f->nb; i++) {
        put_row(ds, f->recv + (size_t)f->pos[i] * f->row_bytes, X16 ? NULL : X + (size_t)i * d,
                X16 ? X16 + (size_t)i * d : NULL);
        const int64_t r = f->mine[i];
        if (labels)
            labels[i] = ds->labels[r];
        if (targets)
            memcpy(targets + (size_t)i * k, ds->targets + (size_t)r * k, k * sizeof(float));
    }
    return f->nb;
}

int64_t dataset_fetch_finish(dt_fetch *f, float *X, int32_t *labels, float *targets)
{
    return fetch_finish(f, X, NULL, labels, targets);
}

int64_t dataset_fetch_finish_bf16(dt_fetch *f, dt_bf16 *X16, int32_t *labels, float *targets)
{
    return fetch_finish(f, NULL, X16, labels, targets);
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
    dataset_set_share(out, c, block);
    const dt_dataset_info info = {.n = n, .d = ds->d, .k = ds->k, .x_u8 = ds->X8 != NULL};
    dt_status st = dataset_alloc_share(out, dt_opt("valid-split"), "X", &info, err);
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

