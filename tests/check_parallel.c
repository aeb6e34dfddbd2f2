/* Data-parallel consistency, run under mpiexec at 1, 2, 3 and 4 ranks.
 *
 * With W world ranks, for every P = 1..W the first P ranks train 30 steps on
 * the bundled iris set (120 training samples) with the same seed and a batch
 * size not divisible by 3 or 4.  Reference: the P = 1 run.  The final weights
 * must agree within 1e-5 relative (max |w_P - w_1| / max |w_1|: only the order
 * of floating-point sums differs), and within each run every rank's weights
 * must be bitwise identical to its rank 0's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/comm.h"
#include "dtrain/dataset.h"
#include "dtrain/h5io.h"
#include "dtrain/matmul.h"
#include "dtrain/session.h"
#include "dtrain/testhooks.h"
#include "testutil.h"

static char iris[1100], digits[1100];

/* Train `steps` global steps with options `extra` on the first P ranks of the
 * world; returns (on world rank 0) a malloc'd copy of the final parameters. */
static float *train_steps(int P, const char *extra, int steps, size_t *n_params)
{
    dt_comm *world = comm_world();
    int rank = comm_rank(world);
    dt_comm *c = comm_split(world, rank < P ? 0 : 1, rank);
    float *out = NULL;
    if (rank < P) {
        static dt_config cfg;
        char line[4096];
        /* defaults for what `extra` does not set (an option may be given once) */
        int len = snprintf(line, sizeof line, "--seed 7 %s", extra);
        if (!strstr(extra, "--data "))
            len += snprintf(line + len, sizeof line - (size_t)len, " --data %s", iris);
        if (!strstr(extra, "--batch-size "))
            snprintf(line + len, sizeof line - (size_t)len, " --batch-size 10");
        dt_error err;
        ck_assert_int_eq(tu_parse(&cfg, CMD_TRAIN, line, &err), DT_OK);
        dt_session s;
        ck_assert_msg(session_setup(&s, &cfg, c, &err) == DT_OK, "%s", err.msg);
        if (s.so.on) {
            /* full batch: `steps` iterations through the session's own loop */
            ck_assert_int_eq(session_train(&s, &err), DT_OK);
        } else {
            int64_t done = 0;
            for (int64_t epoch = 0; done < steps; epoch++) {
                trainer_begin_epoch(&s.opt.trainer, epoch);
                for (int64_t k = 0; k < s.opt.trainer.steps_per_epoch && done < steps; k++, done++)
                    trainer_step(&s.opt.trainer, k);
            }
        }
        ck_assert_int_eq(s.opt.trainer.step, s.so.on ? cfg.train.epochs : steps);
        /* Bitwise identity of the replicas inside this run. */
        size_t n = s.net.model.n_params;
        float *mine = malloc(n * sizeof *mine);
        memcpy(mine, s.net.model.params, n * sizeof *mine);
        comm_bcast(c, mine, n * sizeof *mine, 0);
        int64_t differ = memcmp(mine, s.net.model.params, n * sizeof *mine) != 0;
        comm_allreduce_max_i64(c, &differ, 1);
        ck_assert_msg(differ == 0, "P=%d: a rank's weights differ from rank 0's", P);
        *n_params = n;
        if (rank == 0)
            out = mine;
        else
            free(mine);
        session_free(&s);
    }
    comm_free(c);
    return out;
}

static void compare_rank_counts(const char *extra)
{
    int W = comm_size(comm_world()), rank = comm_rank(comm_world());
    size_t n = 0;
    float *ref = train_steps(1, extra, 30, &n);
    for (int P = 2; P <= W; P++) {
        float *w = train_steps(P, extra, 30, &n);
        if (rank == 0) {
            double maxw = 0, maxd = 0;
            for (size_t i = 0; i < n; i++) {
                maxw = fmax(maxw, fabs(ref[i]));
                maxd = fmax(maxd, fabs((double)w[i] - ref[i]));
            }
            ck_assert_msg(maxd <= 1e-5 * maxw, "%s: P=%d differs from P=1 by %g (max |w| %g)",
                          extra, P, maxd, maxw);
            printf("check_parallel: %s: P=%d vs P=1 max difference %.3g (relative %.3g)\n", extra,
                   P, maxd, maxd / maxw);
            free(w);
        }
    }
    float *init = strstr(extra, "lbfgs") ? NULL : train_steps(1, extra, 0, &n);
    if (rank == 0 && init) {
        double moved = 0;
        for (size_t i = 0; i < n; i++) moved = fmax(moved, fabs((double)init[i] - ref[i]));
        ck_assert_msg(moved > 1e-3, "30 steps did not change the weights");
    }
    free(init);
    free(ref);
}

START_TEST(test_sgd_momentum)
{
    compare_rank_counts("--layers 16:tanh,8:relu --optimizer sgd --momentum 0.9 --lr 0.05");
}
END_TEST

START_TEST(test_reduction_paths)
{
    /* The same training through the mpi reduction, and through node-shared
     * memory with every 2 ranks taken as a node (at 4 ranks: 2 "nodes", the
     * several-node path; at 3, unequal nodes, the mpi fallback). */
    compare_rank_counts("--layers 16:tanh --optimizer adam --lr 0.01 --reduction mpi");
    dt_hooks.ranks_per_node = 2;
    compare_rank_counts("--layers 16:tanh --optimizer rmsprop --lr 0.01 --l2 1e-3 --clip-norm 0.5");
    dt_hooks.ranks_per_node = 0;
}
END_TEST

START_TEST(test_adam)
{
    compare_rank_counts("--layers 16:sigmoid --optimizer adam --lr 0.01 --init xavier");
}
END_TEST

START_TEST(test_dropout_masks)
{
    /* Masks come from (seed, step, sample index): if any rank count drew other
     * masks, its weights would differ far beyond rounding. */
    compare_rank_counts("--layers 32:relu:0.5,8:tanh --optimizer sgd --momentum 0.9 --lr 0.05");
}
END_TEST

START_TEST(test_lbfgs)
{
    /* 15 full-batch L-BFGS iterations (one per epoch) of L2-regularised
     * softmax regression on digits (1438 rows, so every rank holds blocks of
     * the full batch): a strictly convex problem, so the iterates of
     * different rank counts, whose gradients differ only in the order of
     * float sums, stay within rounding of each other.  (On a non-convex net
     * the line searches amplify that rounding step by step.) */
    char extra[1200];
    snprintf(extra, sizeof extra, "--optimizer lbfgs --epochs 15 --l2 1e-3 --data %s", digits);
    compare_rank_counts(extra);
}
END_TEST

START_TEST(test_more_ranks_than_batch)
{
    /* batch 2 at up to 4 ranks: some ranks get empty slices and still agree. */
    compare_rank_counts("--layers 8:relu --optimizer sgd --lr 0.1 --batch-size 2");
}
END_TEST

START_TEST(test_shards)
{
    /* The partition of the sharded update and its collectives at the world's
     * rank count, for each way of reducing (_i): 0 mpi; 1 node-shared (all
     * ranks of this machine form one node); 2 node-shared with every 2
     * consecutive ranks taken as a node, so 4 ranks run the several-node path
     * (and 3 ranks, unequal nodes, fall back to mpi).  Values are small
     * integers, so float sums are exact: rank r contributes (r + 1) + i at
     * element i, and the sum over P ranks is P (P + 1) / 2 + P i. */
    const int mode = _i;
    dt_comm *c = comm_world();
    const int P = comm_size(c), rank = comm_rank(c);
    const size_t sizes[] = {1, 15, 16, 17, 100, 1000, 4097};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        dt_shards *sh = comm_shards_create(c, n, mode > 0, mode == 2 ? 2 : 0);
        ck_assert_ptr_nonnull(sh);
        const int node = comm_shards_node_mode(sh);
        ck_assert_int_eq(node, mode > 0 && P > 1 && !(mode == 2 && P % 2));
        ck_assert_int_eq(comm_shards_grads(sh) != NULL, node);
        /* the shards of a node (all ranks in mpi mode) tile [0, n) in rank
         * order, lengths within 16 of each other, starting on 16 floats */
        const int G = node && mode == 2 ? 2 : P;
        size_t lo, hi;
        comm_shards_range(sh, &lo, &hi);
        ck_assert_msg(lo % 16 == 0 || lo == n, "n %zu: shard starts at %zu", n, lo);
        int64_t bounds[2] = {(int64_t)lo, (int64_t)hi}, all[2 * 8];
        ck_assert_int_le(P, 8);
        comm_allgatherv_bytes(c, bounds, sizeof bounds, all);
        for (int g0 = 0; g0 < P; g0 += G) {
            int64_t shortest = INT64_MAX, longest = 0;
            for (int r = g0; r < g0 + G; r++) {
                const int64_t len = all[2 * r + 1] - all[2 * r];
                ck_assert_int_eq(all[2 * r], r == g0 ? 0 : all[2 * r - 1]);
                shortest = len < shortest ? len : shortest;
                longest = len > longest ? len : longest;
            }
            ck_assert_int_eq(all[2 * (g0 + G) - 1], (int64_t)n);
            ck_assert_int_le(longest - shortest, 16);
        }
        /* one holder of each shard: the shard lengths sum to n */
        double len = (double)(hi - lo);
        comm_shards_sum_f64(sh, &len, 1);
        ck_assert_int_eq((int64_t)len, (int64_t)n);

        float *buf = node ? comm_shards_grads(sh) : malloc(n * sizeof *buf);
        float *mine = malloc((hi - lo + 1) * sizeof *mine);
        for (size_t i = 0; i < n; i++) buf[i] = (float)(rank + 1) + (float)i;
        comm_reduce_scatter_sum_f32(sh, buf, mine);
        for (size_t i = lo; i < hi; i++)
            ck_assert_msg(mine[i - lo] == (float)(P * (P + 1) / 2) + (float)P * (float)i,
                          "mode %d n %zu: element %zu summed to %g", mode, n, i, (double)mine[i - lo]);
        for (size_t i = 0; i < n; i++) /* buf is left as it was */
            ck_assert_float_eq(buf[i], (float)(rank + 1) + (float)i);
        /* allgather: each rank fills only its shard, with -i; the rest is junk */
        float *params = malloc(n * sizeof *params);
        for (size_t i = 0; i < n; i++) params[i] = i >= lo && i < hi ? -(float)i : 1e9f;
        comm_allgather_shards_f32(sh, params);
        for (size_t i = 0; i < n; i++) ck_assert_float_eq(params[i], -(float)i);
        /* twice in a row: the exchange buffer is reused safely */
        for (size_t i = 0; i < n; i++) params[i] = i >= lo && i < hi ? (float)i : 1e9f;
        comm_allgather_shards_f32(sh, params);
        for (size_t i = 0; i < n; i++) ck_assert_float_eq(params[i], (float)i);
        if (!node)
            free(buf);
        free(params);
        free(mine);
        comm_shards_free(sh);
    }
}
END_TEST

/* Rank 0 writes /train of 29 rows x 3 (uint8 or float32 per _i): X[i][j] =
 * (7 i + 3 j) mod 251, y = i mod 4; every rank gets its path. */
static void write_rows(int u8, char *path, size_t len)
{
    dt_comm *c = comm_world();
    if (comm_rank(c) == 0) {
        enum { N = 29, D = 3 };
        uint8_t x8[N * D];
        float xf[N * D];
        int32_t y[N];
        for (int i = 0; i < N * D; i++) xf[i] = x8[i] = (uint8_t)((7 * (i / D) + 3 * (i % D)) % 251);
        for (int i = 0; i < N; i++) y[i] = i % 4;
        snprintf(path, len, "%s", tu_path(u8 ? "rows8.h5" : "rowsf.h5"));
        h5file *f;
        dt_error err;
        int64_t dx[2] = {N, D}, dy[1] = {N};
        ck_assert_int_eq(h5io_create(path, &f, &err), DT_OK);
        ck_assert_int_eq(h5io_write(f, "/train/X", u8 ? DT_U8 : DT_F32, 2, dx,
                                    u8 ? (const void *)x8 : xf, 0, &err), DT_OK);
        ck_assert_int_eq(h5io_write(f, "/train/y", DT_I32, 1, dy, y, 0, &err), DT_OK);
        ck_assert_int_eq(h5io_close(f, &err), DT_OK);
    }
    comm_bcast(c, path, len, 0);
}

START_TEST(test_sharded_rows)
{
    /* --data-placement sharded against a whole copy (reference: dataset_load,
     * normalised with the same statistics) at the world's rank count, X
     * stored as float32 (_i 0) and uint8 (_i 1), blocks of 4 rows (29 rows:
     * the last block short, and at 4 ranks two blocks or one per rank):
     * each rank holds block_slice's rows; the rows of a batch fetched by
     * each rank's slice, and both parts of a validation split, are the same
     * bits as the whole copy's. */
    dt_comm *c = comm_world();
    const int P = comm_size(c), rank = comm_rank(c);
    char path[512];
    write_rows(_i, path, sizeof path);
    dt_dataset sh, all;
    dt_norm nm;
    dt_error err;
    ck_assert_int_eq(dataset_load_sharded(c, path, "/train", DS_LABELS, 4, &sh, &err), DT_OK);
    ck_assert_int_eq(dataset_load(path, "/train", DS_LABELS, &all, &err), DT_OK);
    int64_t lo, hi;
    block_slice(29, 4, rank, P, &lo, &hi);
    ck_assert_int_eq(sh.lo, lo);
    ck_assert_int_eq(sh.held, hi - lo);
    ck_assert_int_eq(sh.max_label, 3);
    ck_assert_int_eq(norm_fit(c, &all, NORM_MINMAX, 0, &nm, &err), DT_OK);
    dataset_normalize(&nm, &sh);
    dataset_normalize(&nm, &all);
    float a[29 * 3], b[29 * 3];
    if (hi > lo)
        ck_assert(!memcmp(dataset_rows(&sh, lo, hi - lo, a), dataset_rows(&all, lo, hi - lo, b),
                          (size_t)(hi - lo) * 3 * sizeof(float)));
    /* a batch of 11 rows in a scrambled order, cut as batch_slice cuts it */
    const int64_t want[11] = {28, 3, 17, 0, 9, 22, 4, 27, 13, 8, 1};
    int64_t counts[8];
    ck_assert_int_le(P, 8);
    for (int r = 0; r < P; r++) {
        batch_slice(11, r, P, &lo, &hi);
        counts[r] = hi - lo;
    }
    batch_slice(11, rank, P, &lo, &hi);
    dt_fetch *f = dataset_fetch_create(&sh, hi - lo, 11);
    ck_assert_ptr_nonnull(f);
    int32_t la[11], lb[11];
    for (int twice = 0; twice < 2; twice++) { /* the buffers are reused */
        dataset_fetch_start(f, want, counts);
        ck_assert_int_eq(dataset_fetch_finish(f, a, la, NULL), hi - lo);
        dataset_gather(&all, want + lo, hi - lo, b, lb, NULL);
        ck_assert(!memcmp(a, b, (size_t)(hi - lo) * 3 * sizeof(float)));
        ck_assert(!memcmp(la, lb, (size_t)(hi - lo) * sizeof *la));
        /* and rounded to bf16 on the way: the same bits as rounding them
         * (rows of 3: each ends in a partial vector) */
        if (matmul_bf16_support() == 2) {
            dt_bf16 a16[29 * 3], b16[29 * 3];
            dataset_fetch_start(f, want, counts);
            ck_assert_int_eq(dataset_fetch_finish_bf16(f, a16, la, NULL), hi - lo);
            bf16_round(b16, b, (size_t)(hi - lo) * 3);
            ck_assert(!memcmp(a16, b16, (size_t)(hi - lo) * 3 * sizeof *a16));
            ck_assert(!memcmp(la, lb, (size_t)(hi - lo) * sizeof *la));
        }
    }
    dataset_fetch_free(f);
    /* a validation split: the same rows held out, and moved to their ranks */
    dt_dataset sk, shd, ak, ahd;
    ck_assert_int_eq(dataset_split_sharded(&sh, 0.3, 5, 4, &sk, &shd, &err), DT_OK);
    ck_assert_int_eq(dataset_split(&all, 0.3, 5, &ak, &ahd, &err), DT_OK);
    const dt_dataset *parts[2][2] = {{&sk, &ak}, {&shd, &ahd}};
    for (int p = 0; p < 2; p++) {
        const dt_dataset *x = parts[p][0], *y = parts[p][1];
        ck_assert_int_eq(x->n, y->n);
        ck_assert(!memcmp(x->labels, y->labels, (size_t)y->n * sizeof *y->labels));
        block_slice(x->n, 4, rank, P, &lo, &hi);
        ck_assert_int_eq(x->lo, lo);
        if (hi > lo)
            ck_assert(!memcmp(dataset_rows(x, lo, hi - lo, a), dataset_rows(y, lo, hi - lo, b),
                              (size_t)(hi - lo) * 3 * sizeof(float)));
    }
    dataset_free(&sk);
    dataset_free(&shd);
    dataset_free(&ak);
    dataset_free(&ahd);
    norm_free(&nm);
    dataset_free(&sh);
    dataset_free(&all);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("rank_counts");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, test_shards, 0, 3);
    tcase_add_test(tc, test_sgd_momentum);
    tcase_add_test(tc, test_adam);
    tcase_add_test(tc, test_reduction_paths);
    tcase_add_test(tc, test_more_ranks_than_batch);
    tcase_add_test(tc, test_dropout_masks);
    tcase_add_test(tc, test_lbfgs);
    tcase_add_loop_test(tc, test_sharded_rows, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    const char *src = getenv("DTRAIN_SOURCE_DIR");
    snprintf(iris, sizeof iris, "%s/datasets/iris.h5", src ? src : ".");
    snprintf(digits, sizeof digits, "%s/datasets/digits.h5", src ? src : ".");
    return tu_run_mpi(suite(), &argc, &argv);
}
