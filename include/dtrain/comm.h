/* dtrain: the only interface to MPI.  Everything outside src/comm.c sees a plain
 * opaque communicator, ranks and sizes.  All functions are collective over the
 * communicator unless noted. */
#ifndef DTRAIN_COMM_H
#define DTRAIN_COMM_H

#include <stddef.h>
#include <stdint.h>
#include "dtrain/status.h"

typedef struct dt_comm dt_comm;

/* MPI_Init / MPI_Finalize.  comm_world() returns a borrowed handle (do not
 * free): the process's one, for a program that owns MPI (the command line,
 * the tests); the library's calls use only the communicators they are given. */
int comm_init(int *argc, char ***argv);
void comm_finalize(void);
dt_comm *comm_world(void);

/* A communicator of the caller's own: mpi_comm points at an MPI_Comm (a
 * void pointer so that this header needs no <mpi.h>), which is duplicated
 * (MPI_Comm_dup), so dtrain's messages never mix with the caller's.  MPI
 * must be initialised by the caller, who also finalises it; nothing here
 * calls MPI_Init or MPI_Finalize.  Collective over that communicator.
 * On success the caller owns *out (comm_free).  Refused before any MPI call
 * on it, DT_EUSAGE with *out NULL: MPI not initialised or already
 * finalised, mpi_comm NULL or MPI_COMM_NULL (a rank outside the group of
 * an MPI_Comm_split, say).  DT_ENOMEM on every rank if any rank could not
 * allocate. */
dt_status comm_from_mpi(const void *mpi_comm, dt_comm **out, dt_error *err);

/* *(MPI_Comm *)mpi_comm <- the communicator of the Fortran handle at
 * *(const MPI_Fint *)fortran (MPI_Comm_f2c; void pointers as above).  Local.
 * DT_EUSAGE when MPI is not initialised or already finalised (the
 * conversion needs it running). */
dt_status comm_from_fortran(const void *fortran, void *mpi_comm, dt_error *err);

/* The MPI_Comm behind c, as a pointer to it (void, as comm_from_mpi takes
 * one, so that this header needs no <mpi.h>): for parallel HDF5, which opens
 * a file collectively over it (h5io_open_read_all).  Borrowed, valid while c
 * is; nothing but comm.c and h5io.c looks inside.  Local. */
const void *comm_mpi(const dt_comm *c);

/* Split c into groups by color (same color, same group); key orders ranks.
 * Caller owns the result and frees it with comm_free.  NULL on every rank
 * of a group if the split failed (out of memory). */
dt_comm *comm_split(dt_comm *c, int color, int key);
void comm_free(dt_comm *c);

int comm_rank(const dt_comm *c); /* local, not collective */
int comm_size(const dt_comm *c); /* local, not collective */

/* The number of ranks of c on this rank's node (itself included): every
 * ranks_per_node consecutive ranks when > 0 (as comm_shards_create takes it),
 * else those that can share memory.  Collective; nodes may differ. */
int comm_node_size(dt_comm *c, int ranks_per_node);

/* In-place sums over all ranks of c. */
void comm_allreduce_sum_f32(dt_comm *c, float *buf, size_t n);
void comm_allreduce_sum_f64(dt_comm *c, double *buf, size_t n);
void comm_allreduce_sum_i64(dt_comm *c, int64_t *buf, size_t n);
void comm_allreduce_min_f64(dt_comm *c, double *buf, size_t n);
void comm_allreduce_max_f64(dt_comm *c, double *buf, size_t n);
void comm_allreduce_max_i64(dt_comm *c, int64_t *buf, size_t n);

/* The sharded update's partition of n floats and its two collectives.
 * Shards start at multiples of 16 floats (64 bytes) and differ in
 * length by at most 16 floats; with more ranks than 16-float units some are
 * empty.  With node_shared (and more than one rank), the ranks of a node
 * reduce through node-shared memory: shards are per local rank (the same
 * shard for local rank l on every node), and the gradient to reduce must be
 * in the buffer comm_shards_grads returns.  This needs the same number of
 * ranks on every node, more than one, and room for a shared window (as
 * comm_shm_alloc checks it); otherwise every rank falls back to MPI_Reduce_scatter / MPI_Allgatherv (shards per rank).
 * ranks_per_node > 0 groups consecutive ranks as if they were nodes (tests
 * of the several-node path on one machine); 0 means the real nodes.
 * Collective; the caller owns the result and frees it with comm_shards_free
 * (collective).  NULL on every rank if out of memory or if a shard would
 * exceed MPI's int counts. */
typedef struct dt_shards dt_shards;
dt_shards *comm_shards_create(dt_comm *c, size_t n, int node_shared, int ranks_per_node);
void comm_shards_free(dt_shards *s);
/* Cut the shards at multiples of `unit` floats instead of 16 (every rank the
 * same unit; local).  Before the first collective on s. */
void comm_shards_align(dt_shards *s, size_t unit);
/* 1 if the node-shared path was set up.  Local. */
int comm_shards_node_mode(const dt_shards *s);
/* The number of shards: the ranks of a node in node mode, else all ranks.
 * Local; the same on every rank. */
int comm_shards_count(const dt_shards *s);
/* Sum n doubles over one holder of each shard (the node in node mode, where
 * every node holds the same shards; else all ranks): for sums of per-shard
 * quantities.  Collective over all ranks of s. */
void comm_shards_sum_f64(dt_shards *s, double *buf, size_t n);
/* Node mode: this rank's gradient buffer (n floats, node-shared, owned by s;
 * its contents are this rank's to write between collectives).  Else NULL. */
float *comm_shards_grads(dt_shards *s);
/* This rank's shard [*lo, *hi) of the n floats.  Local. */
void comm_shards_range(const dt_shards *s, size_t *lo, size_t *hi);
/* Shard q's (0 <= q < the number of shards: the ranks, outside node mode). */
void comm_shards_range_of(const dt_shards *s, int q, size_t *lo, size_t *hi);
/* Sum buf (n) over the ranks; this rank's shard of the sum, buf[lo..hi)
 * summed, goes to mine (hi - lo).  buf is left as it was.  In node mode buf
 * must be comm_shards_grads(s), and the other ranks of the node read it
 * after this returns: write it again only after a collective that every rank
 * of the node enters after its own reduce-scatter and that none leaves
 * before all entered (comm_shards_sum_f64, comm_allgather_shards_f32, an
 * allreduce or a barrier; not a broadcast, which may return early at its
 * root). */
void comm_reduce_scatter_sum_f32(dt_shards *s, const float *buf, float *mine);
/* Every rank contributes buf[lo..hi) of its own shard; afterwards buf (n)
 * holds every shard, on every rank. */
void comm_allgather_shards_f32(dt_shards *s, float *buf);

/* MPI_Alltoallv of floats: rank r's send[sdispls[q] ..] (scounts[q]) to
 * rank q's recv[rdispls[r] ..] (rcounts[r]).  Collective. */
void comm_alltoallv_f32(dt_comm *c, const float *send, const int *scounts, const int *sdispls,
                        float *recv, const int *rcounts, const int *rdispls);

/* Gather variable-sized byte blocks: rank r contributes `bytes` bytes from
 * `send`; on every rank (allgather) `recv` receives the blocks in rank order
 * (the caller sizes recv for the sum over ranks, e.g. via an allreduce).
 * DT_EUSAGE on every rank, with nothing moved, if a block or the total
 * exceeds MPI's int counts (2 GiB); no allocation. */
dt_status comm_allgatherv_bytes(dt_comm *c, const void *send, size_t bytes, void *recv);
/* The same, delivered to `root` only (recv is ignored elsewhere). */
dt_status comm_gatherv_bytes(dt_comm *c, const void *send, size_t bytes, void *recv, int root);

/* A nonblocking all-to-all of whole rows of row_bytes bytes (MPI_Ialltoallv
 * over a contiguous row type, so counts are rows and a batch never meets
 * MPI's int limit on bytes): --data-placement sharded moves each step's rows
 * to the ranks that compute them with it.  Collective over c to create and
 * free; NULL on every rank if any rank could not allocate.  The exchange
 * keeps a borrowed c. */
typedef struct dt_exchange dt_exchange;
dt_exchange *comm_exchange_create(dt_comm *c, size_t row_bytes);
/* Start sending send_rows[r] rows to each rank r, in rank order from send,
 * and receiving recv_rows[r] rows from each rank r, in rank order into recv
 * (each rank's receive counts are the other ranks' send counts to it).
 * Collective; the buffers must stay untouched until comm_exchange_wait.  At
 * most one exchange is in flight. */
void comm_exchange_start(dt_exchange *x, const void *send, const int64_t *send_rows, void *recv,
                         const int64_t *recv_rows);
/* Complete the exchange in flight (none: returns at once).  Local. */
void comm_exchange_wait(dt_exchange *x);
/* Completes an exchange in flight first.  Collective. */
void comm_exchange_free(dt_exchange *x);

/* Broadcast n bytes from root. */
void comm_bcast(dt_comm *c, void *buf, size_t nbytes, int root);
void comm_barrier(dt_comm *c);

/* Collective error agreement: every rank passes its local status.  If any rank
 * failed, the error of the lowest failing rank is copied into err on every
 * rank and its code is returned everywhere; otherwise DT_OK.  This is how a
 * check that only one rank can see stops all ranks with one message. */
dt_status comm_agree(dt_comm *c, dt_status local, dt_error *err);

/* Memory shared by the ranks of c on one node (MPI-3 shared window on a
 * node communicator): the node's first rank allocates `bytes`, every rank of
 * the node gets the same base pointer.  Collective over c.  Free with
 * comm_shm_free (collective).  NULL if the allocation failed on any rank, or
 * if any rank sees too little room for it (free space of /dev/shm, the
 * file-size limit): the library's own failure would end the job. */
typedef struct dt_shm dt_shm;
dt_shm *comm_shm_alloc(dt_comm *c, size_t bytes);
void *comm_shm_base(const dt_shm *s);
int comm_shm_leader(const dt_shm *s); /* 1 on the node's first rank */
int comm_shm_rank(const dt_shm *s);   /* this rank's index among the node's ranks; local */
int comm_shm_size(const dt_shm *s);   /* the number of ranks on the node; local */
void comm_shm_barrier(dt_shm *s);     /* all ranks of the node; orders the memory */
void comm_shm_free(dt_shm *s);

/* Wall-clock seconds (MPI_Wtime). Local. */
double comm_wtime(void);

/* Library version strings (MPI); local. */
const char *comm_library_version(void);

#endif
