/* dtrain: MPI.  The only file that includes <mpi.h>. */
#include "dtrain/comm.h"

#include <mpi.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct dt_comm {
    MPI_Comm comm;
    int rank, size;
    int owned; /* 1 if we must MPI_Comm_free it and free the struct */
    int *cd;   /* (2 size): the v-collectives' counts and displacements, made with
                  the communicator so that a gather never has to allocate */
};

static dt_comm world;

/* The counts buffer of c; 0 if it could not be allocated. */
static int make_counts(dt_comm *c)
{
    c->cd = malloc(2 * (size_t)c->size * sizeof *c->cd);
    return c->cd != NULL;
}

int comm_init(int *argc, char ***argv)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS)
        return -1;
    world.comm = MPI_COMM_WORLD;
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    world.owned = 0;
    return make_counts(&world) ? 0 : -1;
}

void comm_finalize(void)
{
    free(world.cd);
    world.cd = NULL;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

dt_comm *comm_world(void) { return &world; }

/* A dt_comm owning the new communicator m (collective over m): NULL on
 * every rank, with m freed, if any rank could not allocate. */
static dt_comm *adopt(MPI_Comm m)
{
    dt_comm *n = calloc(1, sizeof *n);
    int ok = n != NULL, all = 0;
    if (n) {
        n->comm = m;
        n->owned = 1;
        MPI_Comm_rank(m, &n->rank);
        MPI_Comm_size(m, &n->size);
        ok = make_counts(n);
    }
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, m);
    if (!all) {
        if (n)
            free(n->cd);
        free(n);
        MPI_Comm_free(&m);
        return NULL;
    }
    return n;
}

dt_comm *comm_split(dt_comm *c, int color, int key)
{
    MPI_Comm m;
    if (MPI_Comm_split(c->comm, color, key, &m) != MPI_SUCCESS)
        return NULL;
    return adopt(m);
}

/* DT_OK if MPI is running (initialised, not finalised): a handle may be used. */
static dt_status mpi_running(dt_error *err)
{
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited)
        return dt_fail(err, DT_EUSAGE, "MPI is not initialised (call MPI_Init first)");
    if (finalized)
        return dt_fail(err, DT_EUSAGE, "MPI is already finalised");
    return DT_OK;
}

dt_status comm_from_mpi(const void *mpi_comm, dt_comm **out, dt_error *err)
{
    *out = NULL;
    dt_status st = mpi_running(err);
    if (st)
        return st;
    /* an MPI call on MPI_COMM_NULL goes to the fatal error handler (the job
     * ends), so it is refused before any */
    if (!mpi_comm || *(const MPI_Comm *)mpi_comm == MPI_COMM_NULL)
        return dt_fail(err, DT_EUSAGE, "the communicator is MPI_COMM_NULL");
    MPI_Comm m;
    if (MPI_Comm_dup(*(const MPI_Comm *)mpi_comm, &m) != MPI_SUCCESS ||
        !(*out = adopt(m)))
        return dt_fail(err, DT_ENOMEM, "out of memory duplicating the communicator");
    return DT_OK;
}

dt_status comm_from_fortran(const void *fortran, void *mpi_comm, dt_error *err)
{
    dt_status st = mpi_running(err);
    if (!st)
        *(MPI_Comm *)mpi_comm = MPI_Comm_f2c(*(const MPI_Fint *)fortran);
    return st;
}

const void *comm_mpi(const dt_comm *c) { return &c->comm; }

void comm_free(dt_comm *c)
{
    if (c && c->owned) {
        MPI_Comm_free(&c->comm);
        free(c->cd);
        free(c);
    }
}

int comm_rank(const dt_comm *c) { return c->rank; }
int comm_size(const dt_comm *c) { return c->size; }

/* MPI counts are int: reduce large buffers in pieces. */
static void allreduce(dt_comm *c, void *buf, size_t n, size_t elsize, MPI_Datatype t,
                      MPI_Op op)
{
    if (c->size == 1)
        return;
    char *p = buf;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)n;
        MPI_Allreduce(MPI_IN_PLACE, p, chunk, t, op, c->comm);
        p += (size_t)chunk * elsize;
        n -= (size_t)chunk;
    }
}

void comm_allreduce_sum_f32(dt_comm *c, float *buf, size_t n)
{
    allreduce(c, buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM);
}
void comm_allreduce_sum_f64(dt_comm *c, double *buf, size_t n)
{
    allreduce(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM);
}
void comm_allreduce_sum_i64(dt_comm *c, int64_t *buf, size_t n)
{
    allreduce(c, buf, n, sizeof *buf, MPI_INT64_T, MPI_SUM);
}
void comm_allreduce_min_f64(dt_comm *c, double *buf, size_t n)
{
    allreduce(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_MIN);
}
void comm_allreduce_max_f64(dt_comm *c, double *buf, size_t n)
{
    allreduce(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_MAX);
}
void comm_allreduce_max_i64(dt_comm *c, int64_t *buf, size_t n)
{
    allreduce(c, buf, n, sizeof *buf, MPI_INT64_T, MPI_MAX);
}

/* The sharded update's collectives.  Two ways, chosen at creation:
 *
 * node: the ranks of each node sum their gradients through node-shared
 *   memory.  Each rank's gradient lives in its own segment of one MPI-3
 *   shared window; local rank l sums shard l of every segment of its node,
 *   in local rank order, then (with several nodes) allreduces that shard
 *   with the ranks of the same local rank on the other nodes (`cross`).
 *   Every node's rank l then holds the same summed shard and makes the same
 *   update, so the parameters only need gathering inside the node: each rank
 *   writes its shard to a node-shared exchange buffer and copies the rest.
 *   Loads and stores instead of messages: no protocol, no intermediate copies.
 *   Needs the same number of ranks on every node.
 * mpi: MPI_Reduce_scatter and MPI_Allgatherv over all ranks.
 */
struct dt_shards {
    dt_comm *c;
    size_t n;
    int parts, part;      /* shards: ranks per node (node) or all ranks (mpi); ours */
    int *counts, *displs; /* (parts) each, in floats */
    int node_mode;
    MPI_Comm node, cross; /* node mode: this rank's node; same local rank elsewhere */
    MPI_Win win;
    float **seg;          /* node mode: (parts) gradient segments of the node's ranks */
    float *xchg;          /* node mode: (n) node-shared exchange buffer */
};

/* Partition n floats into `parts` shards of whole units of `unit` floats. */
static void partition(dt_shards *s, size_t unit)
{
    const size_t units = (s->n + unit - 1) / unit;
    for (int r = 0; r < s->parts; r++) {
        size_t lo = units * (size_t)r / (size_t)s->parts * unit;
        size_t hi = units * (size_t)(r + 1) / (size_t)s->parts * unit;
        lo = lo < s->n ? lo : s->n;
        hi = hi < s->n ? hi : s->n;
        s->displs[r] = (int)lo;
        s->counts[r] = (int)(hi - lo);
    }
}

/* Whether every rank of c has the same local flag set (collective). */
static int all_true(dt_comm *c, int mine)
{
    int all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, c->comm);
    return all;
}

/* This process's address space in bytes (0 if unknown). */
static double vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    double pages = 0;
    if (f) {
        if (fscanf(f, "%lf", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (double)sysconf(_SC_PAGE_SIZE);
}

/* Whether a shared window of `bytes` can be created here.  Open MPI backs
 * shared windows with a file in /dev/shm, and a failure to size or map it is
 * fatal to the job (with MPI_ERRORS_RETURN the other ranks were left
 * waiting), so look first: the free space of /dev/shm (containers often give
 * it 64 MB), the file-size limit (ulimit -f), which the file must fit under,
 * and the address-space limit (ulimit -v, prlimit --as), under which every
 * rank of the node maps the whole window. */
static int shm_room(size_t bytes)
{
    const double need = (double)bytes + (1 << 20); /* and a margin for the bookkeeping */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_FSIZE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
        (double)rl.rlim_cur < need)
        return 0;
    if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY &&
        (double)rl.rlim_cur - vm_size() < need)
        return 0;
    struct statvfs fs;
    if (!statvfs("/dev/shm", &fs) && (double)fs.f_bavail * (double)fs.f_frsize < need)
        return 0;
    return 1; /* no /dev/shm: the library picks another place; let it try */
}

/* The ranks of c on this rank's node, as a communicator *node (collective;
 * the caller frees it): every ranks_per_node consecutive ranks when > 0,
 * else those that can share memory. */
static void split_node(dt_comm *c, int ranks_per_node, MPI_Comm *node)
{
    if (ranks_per_node > 0)
        MPI_Comm_split(c->comm, c->rank / ranks_per_node, c->rank, node);
    else
        MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, node);
}

int comm_node_size(dt_comm *c, int ranks_per_node)
{
    if (c->size == 1)
        return 1;
    MPI_Comm node;
    split_node(c, ranks_per_node, &node);
    int n = 1;
    MPI_Comm_size(node, &n);
    MPI_Comm_free(&node);
    return n;
}

/* Set up node mode; 0 (nothing allocated, on every rank) if it cannot be. */
static int node_setup(dt_shards *s, int ranks_per_node)
{
    dt_comm *c = s->c;
    split_node(c, ranks_per_node, &s->node);
    int L, l;
    MPI_Comm_size(s->node, &L);
    MPI_Comm_rank(s->node, &l);
    int range[2] = {-L, L};
    MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT, MPI_MAX, c->comm);
    s->seg = calloc((size_t)L, sizeof *s->seg);
    /* segment of local rank 0 = the exchange buffer, then its gradient;
     * each segment a multiple of 64 bytes */
    const size_t bytes = (s->n * sizeof(float) + 63) / 64 * 64;
    /* the same ranks per node everywhere, and more than one (with one rank per
     * node nothing is shared, and mpi shards the update over all ranks), and
     * room for the window */
    int ok = -range[0] == range[1] && range[1] > 1 && s->seg &&
             shm_room((size_t)(L + 1) * bytes);
    if (!all_true(c, ok)) {
        free(s->seg);
        s->seg = NULL;
        MPI_Comm_free(&s->node);
        return 0;
    }
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");
    /* Errors stay fatal (the communicator's default), so there is no return
     * code to check: with MPI_ERRORS_RETURN a failure on the node's first
     * rank (ftruncate of the shared file over a file-size limit, say) left
     * the other ranks waiting inside the allocation.  shm_room above keeps
     * the foreseeable failures from happening. */
    void *base = NULL;
    MPI_Win_allocate_shared((MPI_Aint)(l == 0 ? 2 * bytes : bytes), 64, info, s->node, &base,
                            &s->win);
    MPI_Info_free(&info);
    for (int q = 0; q < L; q++) {
        MPI_Aint size;
        int disp;
        void *p;
        MPI_Win_shared_query(s->win, q, &size, &disp, &p);
        s->seg[q] = q == 0 ? (float *)((char *)p + bytes) : p;
        if (q == 0)
            s->xchg = p;
    }
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    MPI_Comm_split(c->comm, l, c->rank, &s->cross);
    s->parts = L;
    s->part = l;
    s->node_mode = 1;
    return 1;
}

dt_shards *comm_shards_create(dt_comm *c, size_t n, int node_shared, int ranks_per_node)
{
    dt_shards *s = calloc(1, sizeof *s);
    int ok = s && n <= (size_t)INT_MAX;
    if (!all_true(c, ok)) {
        free(s);
        return NULL;
    }
    s->c = c;
    s->n = n;
    s->parts = c->size;
    s->part = c->rank;
    if (c->size > 1 && node_shared)
        node_setup(s, ranks_per_node);
    s->counts = malloc(2 * (size_t)s->parts * sizeof *s->counts);
    if (!all_true(c, s->counts != NULL)) {
        comm_shards_free(s);
        return NULL;
    }
    s->displs = s->counts + s->parts;
    partition(s, 16);
    return s;
}

void comm_shards_align(dt_shards *s, size_t unit) { partition(s, unit); }

void comm_shards_free(dt_shards *s)
{
    if (!s)
        return;
    if (s->node_mode) {
        MPI_Win_unlock_all(s->win);
        MPI_Win_free(&s->win);
        MPI_Comm_free(&s->cross);
        MPI_Comm_free(&s->node);
    }
    free(s->seg);
    free(s->counts);
    free(s);
}

int comm_shards_node_mode(const dt_shards *s) { return s->node_mode; }

int comm_shards_count(const dt_shards *s) { return s->parts; }

void comm_shards_sum_f64(dt_shards *s, double *buf, size_t n)
{
    if (s->c->size == 1)
        return;
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM,
                  s->node_mode ? s->node : s->c->comm);
}

float *comm_shards_grads(dt_shards *s) { return s->node_mode ? s->seg[s->part] : NULL; }

void comm_shards_range(const dt_shards *s, size_t *lo, size_t *hi)
{
    comm_shards_range_of(s, s->part, lo, hi);
}

void comm_shards_range_of(const dt_shards *s, int q, size_t *lo, size_t *hi)
{
    *lo = (size_t)s->displs[q];
    *hi = *lo + (size_t)s->counts[q];
}

/* The node's ranks meet; stores before it are seen by loads after it. */
static void node_sync(dt_shards *s)
{
    MPI_Win_sync(s->win);
    MPI_Barrier(s->node);
    MPI_Win_sync(s->win);
}

/* mine (n) = seg[0][lo..] + seg[1][lo..] + ... in segment order. */
DT_HOT static void sum_segments(float *restrict mine, float *const *seg, int parts, size_t lo,
                                size_t n)
{
    memcpy(mine, seg[0] + lo, n * sizeof *mine);
    for (int q = 1; q < parts; q++) {
        const float *restrict g = seg[q] + lo;
        for (size_t i = 0; i < n; i++) mine[i] += g[i];
    }
}

void comm_reduce_scatter_sum_f32(dt_shards *s, const float *buf, float *mine)
{
    if (s->c->size == 1) {
        if (mine != buf)
            memcpy(mine, buf, s->n * sizeof *buf);
        return;
    }
    if (!s->node_mode) {
        MPI_Reduce_scatter(buf, mine, s->counts, MPI_FLOAT, MPI_SUM, s->c->comm);
        return;
    }
    if (buf != s->seg[s->part]) /* the contract is the gradient in comm_shards_grads */
        memcpy(s->seg[s->part], buf, s->n * sizeof *buf);
    size_t lo, hi;
    comm_shards_range(s, &lo, &hi);
    node_sync(s);
    sum_segments(mine, s->seg, s->parts, lo, hi - lo);
    MPI_Win_sync(s->win); /* the loads above complete before what follows */
    int nodes;
    MPI_Comm_size(s->cross, &nodes);
    if (nodes > 1)
        MPI_Allreduce(MPI_IN_PLACE, mine, (int)(hi - lo), MPI_FLOAT, MPI_SUM, s->cross);
}

void comm_allgather_shards_f32(dt_shards *s, float *buf)
{
    if (s->c->size == 1)
        return;
    if (!s->node_mode) {
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, s->counts, s->displs, MPI_FLOAT,
                       s->c->comm);
        return;
    }
    /* Every node's rank l holds the same shard l, so gathering inside the node
     * is enough.  The first meeting makes sure no rank still reads the
     * exchange buffer from the last call. */
    size_t lo, hi;
    comm_shards_range(s, &lo, &hi);
    node_sync(s);
    memcpy(s->xchg + lo, buf + lo, (hi - lo) * sizeof *buf);
    node_sync(s);
    memcpy(buf, s->xchg, lo * sizeof *buf);
    memcpy(buf + hi, s->xchg + hi, (s->n - hi) * sizeof *buf);
}

void comm_alltoallv_f32(dt_comm *c, const float *send, const int *scounts, const int *sdispls,
                        float *recv, const int *rcounts, const int *rdispls)
{
    MPI_Alltoallv(send, scounts, sdispls, MPI_FLOAT, recv, rcounts, rdispls, MPI_FLOAT, c->comm);
}

void comm_bcast(dt_comm *c, void *buf, size_t nbytes, int root)
{
    if (c->size == 1)
        return;
    char *p = buf;
    while (nbytes > 0) {
        int chunk = nbytes > (size_t)INT_MAX ? INT_MAX : (int)nbytes;
        MPI_Bcast(p, chunk, MPI_BYTE, root, c->comm);
        p += chunk;
        nbytes -= (size_t)chunk;
    }
}

/* Per-rank byte counts and displacements for the v-collectives (int, as MPI
 * wants), in c->cd.  DT_EUSAGE on every rank if a block or the whole
 * exceeds MPI's int counts (a block is sent as -1 then). */
static dt_status counts_displs(dt_comm *c, size_t bytes)
{
    int *cd = c->cd;
    int mine = bytes > (size_t)INT_MAX ? -1 : (int)bytes;
    MPI_Allgather(&mine, 1, MPI_INT, cd, 1, MPI_INT, c->comm);
    long long off = 0;
    int bad = 0;
    for (int r = 0; r < c->size; r++) {
        cd[c->size + r] = (int)off;
        bad |= cd[r] < 0;
        off += cd[r] < 0 ? 0 : cd[r];
    }
    return bad || off > INT_MAX ? DT_EUSAGE : DT_OK;
}

dt_status comm_allgatherv_bytes(dt_comm *c, const void *send, size_t bytes, void *recv)
{
    if (c->size == 1) {
        if (bytes)
            memmove(recv, send, bytes);
        return DT_OK;
    }
    dt_status st = counts_displs(c, bytes);
    if (!st)
        MPI_Allgatherv(send, (int)bytes, MPI_BYTE, recv, c->cd, c->cd + c->size, MPI_BYTE,
                       c->comm);
    return st;
}

dt_status comm_gatherv_bytes(dt_comm *c, const void *send, size_t bytes, void *recv, int root)
{
    if (c->size == 1) {
        if (bytes)
            memmove(recv, send, bytes);
        return DT_OK;
    }
    dt_status st = counts_displs(c, bytes);
    if (!st)
        MPI_Gatherv(send, (int)bytes, MPI_BYTE, recv, c->cd, c->cd + c->size, MPI_BYTE, root,
                    c->comm);
    return st;
}

struct dt_exchange {
    dt_comm *c;
    MPI_Datatype row;
    MPI_Request req;
    int *counts; /* (4 size): send counts, send displacements, receive counts, receive
                    displacements, in rows */
};

dt_exchange *comm_exchange_create(dt_comm *c, size_t row_bytes)
{
    dt_exchange *x = calloc(1, sizeof *x);
    int ok = x && (x->counts = malloc(4 * (size_t)c->size * sizeof *x->counts)) &&
             row_bytes <= INT_MAX, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, c->comm);
    if (!all) {
        if (x)
            free(x->counts);
        free(x);
        return NULL;
    }
    x->c = c;
    x->req = MPI_REQUEST_NULL;
    MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &x->row);
    MPI_Type_commit(&x->row);
    return x;
}

/* counts (size) as ints into out, their displacements into out + size. */
static void rows_displs(const int64_t *rows, int size, int *out)
{
    int off = 0;
    for (int r = 0; r < size; r++) {
        out[r] = (int)rows[r];
        out[size + r] = off;
        off += out[r];
    }
}

void comm_exchange_start(dt_exchange *x, const void *send, const int64_t *send_rows, void *recv,
                         const int64_t *recv_rows)
{
    const int size = x->c->size;
    int *sc = x->counts, *rc = x->counts + 2 * size;
    rows_displs(send_rows, size, sc);
    rows_displs(recv_rows, size, rc);
    MPI_Ialltoallv(send, sc, sc + size, x->row, recv, rc, rc + size, x->row, x->c->comm,
                   &x->req);
}

void comm_exchange_wait(dt_exchange *x) { MPI_Wait(&x->req, MPI_STATUS_IGNORE); }

void comm_exchange_free(dt_exchange *x)
{
    if (!x)
        return;
    comm_exchange_wait(x);
    MPI_Type_free(&x->row);
    free(x->counts);
    free(x);
}

void comm_barrier(dt_comm *c) { MPI_Barrier(c->comm); }

dt_status comm_agree(dt_comm *c, dt_status local, dt_error *err)
{
    if (c->size == 1)
        return local;
    int mine = local != DT_OK ? c->rank : c->size, first = c->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->comm);
    if (first == c->size)
        return DT_OK;
    dt_error tmp;
    if (c->rank == first)
        tmp = *err;
    MPI_Bcast(&tmp, (int)sizeof tmp, MPI_BYTE, first, c->comm);
    *err = tmp;
    return err->code;
}

struct dt_shm {
    MPI_Comm node;
    MPI_Win win;
    void *base;
    int leader, rank, size; /* in node */
};

dt_shm *comm_shm_alloc(dt_comm *c, size_t bytes)
{
    dt_shm *s = calloc(1, sizeof *s);
    int ok = s != NULL && shm_room(bytes), all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->comm);
    if (!all_ok) {
        free(s);
        return NULL;
    }
    MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &s->node);
    MPI_Comm_rank(s->node, &s->rank);
    MPI_Comm_size(s->node, &s->size);
    s->leader = s->rank == 0;
    void *mine = NULL;
    /* Errors stay fatal: a failure seen by the allocating rank only (e.g.
     * /dev/shm full) would otherwise leave the other ranks of the node waiting.
     * --data-placement rank avoids the window altogether. */
    int rc = MPI_Win_allocate_shared(s->leader ? (MPI_Aint)(bytes ? bytes : 1) : 0, 1,
                                     MPI_INFO_NULL, s->node, &mine, &s->win);
    ok = rc == MPI_SUCCESS;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->comm);
    if (!all_ok) {
        if (ok)
            MPI_Win_free(&s->win);
        MPI_Comm_free(&s->node);
        free(s);
        return NULL;
    }
    MPI_Aint size;
    int disp;
    MPI_Win_shared_query(s->win, 0, &size, &disp, &s->base);
    return s;
}

void *comm_shm_base(const dt_shm *s) { return s->base; }
int comm_shm_leader(const dt_shm *s) { return s->leader; }
int comm_shm_rank(const dt_shm *s) { return s->rank; }
int comm_shm_size(const dt_shm *s) { return s->size; }

void comm_shm_barrier(dt_shm *s)
{
    /* a barrier plus a memory fence: the leader's writes are seen after it */
    MPI_Win_fence(0, s->win);
    MPI_Barrier(s->node);
}

void comm_shm_free(dt_shm *s)
{
    if (!s)
        return;
    MPI_Win_free(&s->win);
    MPI_Comm_free(&s->node);
    free(s);
}

double comm_wtime(void) { return MPI_Wtime(); }

const char *comm_library_version(void)
{
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    char *nl = strchr(v, ',');
    if (nl)
        *nl = '\0';
    return v;
}
