/* dtrain: MPI.  The only file that includes <mpi.h>. */
#include "dtrain/comm.h"

#include <mpi.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct dt_comm {
    MPI_Comm comm;
    int rank, size;
    int owned; /* 1 if we must MPI_Comm_free it */
};

static dt_comm world;

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
    return 0;
}

void comm_finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

dt_comm *comm_world(void) { return &world; }

dt_comm *comm_split(dt_comm *c, int color, int key)
{
    dt_comm *n = calloc(1, sizeof *n);
    if (!n)
        comm_abort(4);
    MPI_Comm_split(c->comm, color, key, &n->comm);
    MPI_Comm_rank(n->comm, &n->rank);
    MPI_Comm_size(n->comm, &n->size);
    n->owned = 1;
    return n;
}

void comm_free(dt_comm *c)
{
    if (c && c->owned) {
        MPI_Comm_free(&c->comm);
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

struct dt_shards {
    dt_comm *c;
    size_t n;
    int *counts, *displs; /* (size) each, in floats */
};

dt_shards *comm_shards_create(dt_comm *c, size_t n)
{
    const size_t unit = 16, units = (n + unit - 1) / unit;
    dt_shards *s = calloc(1, sizeof *s);
    int *cd = malloc(2 * (size_t)c->size * sizeof *cd);
    if (!s || !cd || n > (size_t)INT_MAX) {
        free(s);
        free(cd);
        return NULL;
    }
    s->c = c;
    s->n = n;
    s->counts = cd;
    s->displs = cd + c->size;
    for (int r = 0; r < c->size; r++) {
        size_t lo = units * (size_t)r / (size_t)c->size * unit;
        size_t hi = units * (size_t)(r + 1) / (size_t)c->size * unit;
        lo = lo < n ? lo : n;
        hi = hi < n ? hi : n;
        s->displs[r] = (int)lo;
        s->counts[r] = (int)(hi - lo);
    }
    return s;
}

void comm_shards_free(dt_shards *s)
{
    if (s)
        free(s->counts);
    free(s);
}

void comm_shards_range(const dt_shards *s, size_t *lo, size_t *hi)
{
    *lo = (size_t)s->displs[s->c->rank];
    *hi = *lo + (size_t)s->counts[s->c->rank];
}

void comm_reduce_scatter_sum_f32(dt_shards *s, const float *buf, float *mine)
{
    if (s->c->size == 1) {
        if (mine != buf)
            memcpy(mine, buf, s->n * sizeof *buf);
        return;
    }
    MPI_Reduce_scatter(buf, mine, s->counts, MPI_FLOAT, MPI_SUM, s->c->comm);
}

void comm_allgather_shards_f32(dt_shards *s, float *buf)
{
    if (s->c->size == 1)
        return;
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, s->counts, s->displs, MPI_FLOAT,
                   s->c->comm);
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
 * wants; blocks beyond 2 GiB are refused). */
static int *counts_displs(dt_comm *c, size_t bytes)
{
    int *cd = malloc(2 * (size_t)c->size * sizeof *cd);
    if (!cd || bytes > (size_t)INT_MAX)
        comm_abort(4);
    int mine = (int)bytes;
    MPI_Allgather(&mine, 1, MPI_INT, cd, 1, MPI_INT, c->comm);
    long long off = 0;
    for (int r = 0; r < c->size; r++) {
        cd[c->size + r] = (int)off;
        off += cd[r];
    }
    if (off > INT_MAX)
        comm_abort(4);
    return cd;
}

void comm_allgatherv_bytes(dt_comm *c, const void *send, size_t bytes, void *recv)
{
    if (c->size == 1) {
        if (bytes)
            memmove(recv, send, bytes);
        return;
    }
    int *cd = counts_displs(c, bytes);
    MPI_Allgatherv(send, (int)bytes, MPI_BYTE, recv, cd, cd + c->size, MPI_BYTE, c->comm);
    free(cd);
}

void comm_gatherv_bytes(dt_comm *c, const void *send, size_t bytes, void *recv, int root)
{
    if (c->size == 1) {
        if (bytes)
            memmove(recv, send, bytes);
        return;
    }
    int *cd = counts_displs(c, bytes);
    MPI_Gatherv(send, (int)bytes, MPI_BYTE, recv, cd, cd + c->size, MPI_BYTE, root, c->comm);
    free(cd);
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
    int leader;
};

dt_shm *comm_shm_alloc(dt_comm *c, size_t bytes)
{
    dt_shm *s = calloc(1, sizeof *s);
    int ok = s != NULL, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->comm);
    if (!all_ok) {
        free(s);
        return NULL;
    }
    MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &s->node);
    int nrank;
    MPI_Comm_rank(s->node, &nrank);
    s->leader = nrank == 0;
    void *mine = NULL;
    /* Errors stay fatal: a failure seen by the allocating rank only (e.g.
     * /dev/shm full) would otherwise leave the other ranks of the node waiting.
     * --shared-data off avoids the window altogether. */
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

void comm_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

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
