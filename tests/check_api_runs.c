/* Runs side by side (include/dtrain.h, "Two runs are independent" and
 * "What belongs to the process"), under mpiexec at 1, 2, 3 and 4 ranks,
 * through the public header only.
 *
 * Two runs of different models, A and B, each the same in every test: the
 * reference is each trained alone, and every other arrangement (one after
 * the other in a process, at once on the two halves of the world, one from
 * a callback of the other) must give the same predictions, bit for bit.
 * What cannot be shared is refused: a second thread's dtrain_train, and a
 * training under or over a step-timeout watchdog (DTRAIN_EBUSY).
 *
 * The data: N rows of y = sin(2 x0) + x1^2 / 2, the inputs drawn from the
 * row's global index, split evenly over the ranks of the run's
 * communicator. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <mpi.h>

#include "dtrain.h"
#include "testutil.h"

/* The thread counts "threads" sets (libgomp's and OpenBLAS's, which the
 * library links), to see which run's are in force. */
int omp_get_max_threads(void);
int openblas_get_num_threads(void);

#define N 240 /* rows */
#define D 2   /* features */
#define Q 16  /* query rows predicted */

static int rank, thread_multiple;

static void make_row(int64_t i, float *x, float *y)
{
    x[0] = (float)(-1.0 + 2.0 * (double)((i * 37) % N) / N);
    x[1] = (float)(-1.0 + 2.0 * (double)((i * 91 + 17) % N) / N);
    *y = (float)(sin(2.0 * x[0]) + 0.5 * x[1] * x[1]);
}

/* A run's options: two different models, two thread counts; `watch` adds
 * a step-timeout watchdog (allowed), which never fires here. */
typedef struct {
    const char *layers, *lr, *batch, *seed, *threads;
    int watch;
} spec;

static const spec A = {"16:tanh", "0.01", "16", "3", "2", 0};
static const spec B = {"12:relu,6:relu", "0.02", "8", "7", "1", 0};

/* A run of sp on comm with its share of the rows (not trained yet). */
static dtrain_run *make_run(MPI_Comm comm, const spec *sp)
{
    dtrain_run *run;
    OK(dtrain_create(&run, comm), NULL);
    OK(dtrain_set(run, "layers", sp->layers), run);
    OK(dtrain_set(run, "output", "linear"), run);
    OK(dtrain_set(run, "lr", sp->lr), run);
    OK(dtrain_set(run, "batch-size", sp->batch), run);
    OK(dtrain_set(run, "epochs", "3"), run);
    OK(dtrain_set(run, "seed", sp->seed), run);
    OK(dtrain_set(run, "threads", sp->threads), run);
    if (sp->watch) {
        OK(dtrain_allow(run, DTRAIN_ALLOW_WATCHDOG), run);
        OK(dtrain_set(run, "step-timeout", "120"), run);
    }
    int r, p;
    MPI_Comm_rank(comm, &r);
    MPI_Comm_size(comm, &p);
    const int64_t lo = N * r / p, hi = N * (r + 1) / p;
    float *X = malloc((size_t)((hi - lo) * D + 1) * sizeof *X);
    float *y = malloc((size_t)(hi - lo + 1) * sizeof *y);
    for (int64_t i = lo; i < hi; i++) make_row(i, X + (i - lo) * D, y + (i - lo));
    OK(dtrain_set_data(run, X, y, hi - lo, D, 1), run);
    free(X);
    free(y);
    return run;
}

/* The trained run's predictions of the query rows into out (Q); frees it. */
static void predict_free(dtrain_run *run, float *out)
{
    float Xq[Q * D], y;
    for (int i = 0; i < Q; i++) make_row(i * 13 + 5, Xq + i * D, &y);
    OK(dtrain_predict(run, Xq, Q, out), run);
    dtrain_free(run);
}

/* Train sp alone on comm: its predictions into out (Q). */
static void train_alone(MPI_Comm comm, const spec *sp, float *out)
{
    dtrain_run *run = make_run(comm, sp);
    OK(dtrain_train(run), run);
    predict_free(run, out);
}

static void assert_same(const float *got, const float *want, const char *what)
{
    for (int i = 0; i < Q; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof *got) == 0,
                      "%s: query row %d: %.9g, alone %.9g", what, i, got[i], want[i]);
}

/* One after the other in one process, with and without the watchdog, the
 * thread counts switching between them: each as the first time.  The
 * counts a run sets stay after it returns (the header's rule). */
START_TEST(test_one_after_another)
{
    float a1[Q], b1[Q], a2[Q], b2[Q];
    spec aw = A;
    aw.watch = 1;
    train_alone(MPI_COMM_WORLD, &A, a1);
    ck_assert_int_eq(omp_get_max_threads(), 2);
    ck_assert_int_eq(openblas_get_num_threads(), 2);
    train_alone(MPI_COMM_WORLD, &B, b1);
    ck_assert_int_eq(omp_get_max_threads(), 1);
    ck_assert_int_eq(openblas_get_num_threads(), 1);
    ck_assert_msg(memcmp(a1, b1, sizeof a1) != 0, "A and B predict alike: not two models");
    train_alone(MPI_COMM_WORLD, &aw, a2);
    train_alone(MPI_COMM_WORLD, &B, b2);
    assert_same(a2, a1, "A (with a watchdog) after A and B");
    assert_same(b2, b1, "B after A's watchdog");
    train_alone(MPI_COMM_WORLD, &A, a2);
    assert_same(a2, a1, "A again");
}
END_TEST

/* Two runs at once on disjoint communicators: the even and the odd ranks
 * (2 + 2 at 4 ranks), A on one half and B on the other, each with its
 * step-timeout watchdog (a block of memory shared by its host's ranks: two
 * at once on this host).  Each half first trains alone while the other
 * waits at a barrier, then both at once: the same bits. */
START_TEST(test_two_at_once)
{
    const int color = rank % 2;
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, color, rank, &half);
    spec mine = color ? B : A;
    mine.watch = 1;
    float alone[Q], at_once[Q];
    for (int turn = 0; turn < 2; turn++) {
        if (turn == color)
            train_alone(half, &mine, alone);
        MPI_Barrier(MPI_COMM_WORLD);
    }
    train_alone(half, &mine, at_once);
    assert_same(at_once, alone, color ? "B at once with A" : "A at once with B");
    MPI_Comm_free(&half);
}
END_TEST

/* What an epoch callback of the outer run does: train the inner run (once,
 * after the first epoch), and note the status, message and thread counts
 * it leaves. */
typedef struct {
    dtrain_run *inner;
    dtrain_status st;
    char msg[512];
    int omp, blas, calls;
} nested;

static int train_inner(void *user, const dtrain_info *info)
{
    nested *n = user;
    if (info->epoch != 1)
        return 0;
    n->calls++;
    n->st = dtrain_train(n->inner);
    snprintf(n->msg, sizeof n->msg, "%s", dtrain_errmsg(n->inner));
    n->omp = omp_get_max_threads();
    n->blas = openblas_get_num_threads();
    return 0;
}

/* outer (on the world) trains; its epoch callback trains inner (on the
 * world too).  Their predictions into po and pi (pi untouched if the inner
 * training failed); the callback's record into n. */
static void train_nested(const spec *outer, const spec *inner, float *po, float *pi,
                         nested *n)
{
    dtrain_run *o = make_run(MPI_COMM_WORLD, outer);
    *n = (nested){.inner = make_run(MPI_COMM_WORLD, inner)};
    OK(dtrain_on_epoch(o, train_inner, n), o);
    OK(dtrain_train(o), o);
    ck_assert_int_eq(n->calls, 1);
    if (n->st == DTRAIN_OK)
        predict_free(n->inner, pi);
    else
        dtrain_free(n->inner);
    predict_free(o, po);
}

/* B trained from A's epoch callback: both as alone, and A's thread counts
 * (2) are back in force when B returns (B set 1 for itself). */
START_TEST(test_one_inside_another)
{
    float a[Q], b[Q], ao[Q], bi[Q];
    train_alone(MPI_COMM_WORLD, &A, a);
    train_alone(MPI_COMM_WORLD, &B, b);
    nested n;
    train_nested(&A, &B, ao, bi, &n);
    ck_assert_msg(n.st == DTRAIN_OK, "inner: status %d: %s", (int)n.st, n.msg);
    ck_assert_int_eq(n.omp, 2);
    ck_assert_int_eq(n.blas, 2);
    assert_same(bi, b, "B inside A's callback");
    assert_same(ao, a, "A around B");
}
END_TEST

/* The watchdog watches the whole process: a run does not train under
 * another's, nor start one under another's training.  Both refusals are
 * agreed DTRAIN_EBUSY with a message naming step-timeout; the outer run
 * trains on as alone, and the refused run trains afterwards. */
START_TEST(test_watchdog_one_training)
{
    float a[Q], ao[Q], unused[Q];
    train_alone(MPI_COMM_WORLD, &A, a);
    spec aw = A, bw = B;
    aw.watch = bw.watch = 1;
    const spec *pairs[2][2] = {{&aw, &B}, {&A, &bw}};
    const char *whose[2] = {"that run has a step-timeout", "this one has a step-timeout"};
    for (int i = 0; i < 2; i++) {
        nested n;
        train_nested(pairs[i][0], pairs[i][1], ao, unused, &n);
        ck_assert_msg(n.st == DTRAIN_EBUSY, "pair %d: status %d: %s", i, (int)n.st, n.msg);
        ck_assert_msg(strstr(n.msg, whose[i]), "pair %d: %s", i, n.msg);
        assert_same(ao, a, "the outer run");
    }
    dtrain_run *b = make_run(MPI_COMM_WORLD, &bw);
    OK(dtrain_train(b), b); /* nothing left counted */
    dtrain_free(b);
}
END_TEST

/* A second thread's dtrain_train while the main thread's is in progress
 * (held in its epoch callback until the other has its answer): refused,
 * agreed over the second run's communicator (MPI_THREAD_MULTIPLE). */
typedef struct {
    dtrain_run *run;
    dtrain_status st;
    char msg[512];
    pthread_t thread;
} other;

static void *other_train(void *arg)
{
    other *t = arg;
    t->st = dtrain_train(t->run);
    snprintf(t->msg, sizeof t->msg, "%s", dtrain_errmsg(t->run));
    return NULL;
}

static int start_other(void *user, const dtrain_info *info)
{
    other *t = user;
    if (info->epoch == 1) {
        ck_assert_int_eq(pthread_create(&t->thread, NULL, other_train, t), 0);
        pthread_join(t->thread, NULL); /* this training is in progress all the while */
    }
    return 0;
}

START_TEST(test_second_thread_refused)
{
    if (!thread_multiple) {
        if (rank == 0)
            printf("test_second_thread_refused: skipped: MPI gives no MPI_THREAD_MULTIPLE\n");
        return;
    }
    float a[Q], ao[Q];
    train_alone(MPI_COMM_WORLD, &A, a);
    other t = {.run = make_run(MPI_COMM_WORLD, &B)};
    dtrain_run *o = make_run(MPI_COMM_WORLD, &A);
    OK(dtrain_on_epoch(o, start_other, &t), o);
    OK(dtrain_train(o), o);
    ck_assert_msg(t.st == DTRAIN_EBUSY, "status %d: %s", (int)t.st, t.msg);
    ck_assert_msg(strstr(t.msg, "another thread of this process is training"), "%s", t.msg);
    predict_free(o, ao);
    assert_same(ao, a, "the run the other thread waited on");
    OK(dtrain_train(t.run), t.run); /* after it: its turn */
    dtrain_free(t.run);
}
END_TEST

/* The program's own SIGINT handler, which dtrain_train's scope must put
 * back: counts what reaches it. */
static volatile sig_atomic_t program_got;
static void program_handler(int sig) { program_got = sig; }

/* SIGINT raised from an epoch callback on rank 0 alone, at epoch `at`. */
static int interrupt_at(void *user, const dtrain_info *info)
{
    if (rank == 0 && info->epoch == *(const int64_t *)user)
        raise(SIGINT);
    return 0;
}

static int count_epochs(void *user, const dtrain_info *info)
{
    *(int64_t *)user = info->epoch;
    return 0;
}

static void (*handler_now(int sig))(int)
{
    struct sigaction now;
    sigaction(sig, NULL, &now);
    return now.sa_handler;
}

/* DTRAIN_ALLOW_SIGNALS_SCOPED: SIGINT raised on rank 0 in epoch 1's callback
 * stops every rank at the next step (DTRAIN_STOPPED, agreed), the signal
 * never reaches the program's handler, dtrain_stop_signal gives SIGINT on
 * every rank, and the program's actions are back (its SIGINT handler, the
 * default SIGTERM); the next dtrain_train starts clean and trains its 3
 * epochs.  A SIGINT after the last step (the last epoch's callback) leaves
 * the status DTRAIN_OK and is still reported.  The permanent form and the
 * scoped one exclude each other. */
START_TEST(test_signals_scoped)
{
    struct sigaction mine, before;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = program_handler;
    sigemptyset(&mine.sa_mask);
    ck_assert_int_eq(sigaction(SIGINT, &mine, &before), 0);
    program_got = 0;
    void (*term)(int) = handler_now(SIGTERM);

    dtrain_run *run = make_run(MPI_COMM_WORLD, &A);
    ck_assert_int_eq(dtrain_allow(run, DTRAIN_ALLOW_SIGNALS | DTRAIN_ALLOW_SIGNALS_SCOPED),
                     DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "exclude each other"), "%s", dtrain_errmsg(run));
    OK(dtrain_allow(run, DTRAIN_ALLOW_SIGNALS_SCOPED), run);
    ck_assert_ptr_eq(handler_now(SIGINT), program_handler); /* nothing installed yet */
    int64_t at = 1;
    OK(dtrain_on_epoch(run, interrupt_at, &at), run);
    ck_assert_int_eq(dtrain_train(run), DTRAIN_STOPPED);
    ck_assert_msg(strstr(dtrain_errmsg(run), "stopped by SIGINT"), "%s", dtrain_errmsg(run));
    ck_assert_int_eq(dtrain_stop_signal(run), SIGINT);
    ck_assert_ptr_eq(handler_now(SIGINT), program_handler);
    ck_assert_ptr_eq(handler_now(SIGTERM), term);
    ck_assert_int_eq(program_got, 0);
    ck_assert_int_eq(dtrain_n_inputs(run), 0);

    int64_t epochs = 0;
    OK(dtrain_on_epoch(run, count_epochs, &epochs), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(epochs, 3);
    ck_assert_int_eq(dtrain_stop_signal(run), 0);
    ck_assert_ptr_eq(handler_now(SIGINT), program_handler);

    at = 3; /* the last epoch: no step comes after it */
    OK(dtrain_on_epoch(run, interrupt_at, &at), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(dtrain_stop_signal(run), SIGINT);
    ck_assert_ptr_eq(handler_now(SIGINT), program_handler);
    ck_assert_int_eq(program_got, 0);
    dtrain_free(run);
    ck_assert_int_eq(sigaction(SIGINT, &before, NULL), 0);
}
END_TEST

/* A run that trained holds its model, not its "checkpoint-dir": a second
 * run may train on the directory while the first is still alive (a Python
 * estimator keeps its run as long as the object lives). */
START_TEST(test_checkpoint_dir_released)
{
    char dir[64] = "";
    if (rank == 0)
        ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/dtrain-runs-XXXXXX")));
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    dtrain_run *first = make_run(MPI_COMM_WORLD, &A);
    OK(dtrain_set(first, "checkpoint-dir", dir), first);
    OK(dtrain_train(first), first);
    dtrain_run *second = make_run(MPI_COMM_WORLD, &A);
    OK(dtrain_set(second, "checkpoint-dir", dir), second);
    OK(dtrain_set(second, "resume", "latest"), second); /* the newest checkpoint */
    OK(dtrain_train(second), second); /* refused ("is in use") while first held it */
    float a[Q], b[Q];
    predict_free(first, a);
    predict_free(second, b);
    assert_same(b, a, "resumed from the finished run");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s = suite_create("api_runs");
    TCase *tc = tcase_create("runs");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_one_after_another);
    tcase_add_test(tc, test_two_at_once);
    tcase_add_test(tc, test_one_inside_another);
    tcase_add_test(tc, test_watchdog_one_training);
    tcase_add_test(tc, test_second_thread_refused);
    tcase_add_test(tc, test_signals_scoped);
    tcase_add_test(tc, test_checkpoint_dir_released);
    suite_add_tcase(s, tc);
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    thread_multiple = provided == MPI_THREAD_MULTIPLE;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int failed = tu_run(s), any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
