/* The embedding API (include/dtrain.h), run under mpiexec at 1, 2, 3 and 4
 * ranks.  Everything here goes through the public header only, as a program
 * that embeds dtrain would.
 *
 * The data: N rows of a smooth function, y = sin(2 x0) + x1^2 / 2, with the
 * inputs drawn from the row's global index (no RNG: every rank can make any
 * row), spread unevenly over the ranks (rank r gets a share growing with r,
 * rank 0 possibly none). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>
#include <mpi.h>

#include "dtrain.h"
#include "dtrain/h5io.h" /* to write a data file with class names */
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
/* HDF5 sizes a metadata cache entry from the file before reading it
 * (H5C_protect): damaged bytes (test_model_image) can ask for a terabyte,
 * which malloc refuses in a normal process and HDF5 reports as a failed
 * read; the sanitizer's allocator is to return NULL likewise, not abort
 * (scripts/fuzz.sh sets the same). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

#define N 240 /* rows */
#define D 2   /* features */
#define Q 16  /* query rows predicted */

static int rank, size;

static void make_row(int64_t i, float *x, float *y)
{
    x[0] = (float)(-1.0 + 2.0 * (double)((i * 37) % N) / N);
    x[1] = (float)(-1.0 + 2.0 * (double)((i * 91 + 17) % N) / N);
    *y = (float)(sin(2.0 * x[0]) + 0.5 * x[1] * x[1]);
}

/* Rows [lo, hi) of the uneven split: rank r's share grows as r^2 + r (rank
 * 0's is empty at more than one rank). */
static void uneven(int r, int p, int64_t *lo, int64_t *hi)
{
    int64_t total = 0, before = 0;
    for (int q = 0; q < p; q++) total += (int64_t)q * q + q + (p == 1);
    for (int q = 0; q < r; q++) before += (int64_t)q * q + q + (p == 1);
    *lo = N * before / total;
    *hi = N * (before + (int64_t)r * r + r + (p == 1)) / total;
}

/* This rank's rows [lo, hi) into freshly allocated X, y. */
static void rows(int64_t lo, int64_t hi, float **X, float **y)
{
    *X = malloc((size_t)((hi - lo) * D + 1) * sizeof **X);
    *y = malloc((size_t)(hi - lo + 1) * sizeof **y);
    for (int64_t i = lo; i < hi; i++) make_row(i, *X + (i - lo) * D, *y + (i - lo));
}

static void query(float *Xq)
{
    float y;
    for (int i = 0; i < Q; i++) make_row(i * 13 + 5, Xq + i * D, &y);
}

/* A small regression run: every setting a test does not vary. */
static void configure(dtrain_run *run, const char *epochs)
{
    OK(dtrain_set(run, "layers", "16:tanh"), run);
    OK(dtrain_set(run, "output", "linear"), run);
    OK(dtrain_set(run, "optimizer", "adam"), run);
    OK(dtrain_set(run, "lr", "0.01"), run);
    OK(dtrain_set(run, "batch-size", "16"), run);
    OK(dtrain_set(run, "epochs", epochs), run);
    OK(dtrain_set(run, "seed", "3"), run);
}

/* Train on comm with this rank's rows [lo, hi); predictions of the query
 * rows into out (Q). */
static void train_predict(MPI_Comm comm, int64_t lo, int64_t hi, float *out)
{
    dtrain_run *run;
    OK(dtrain_create(&run, comm), NULL);
    configure(run, "4");
    float *X, *y, Xq[Q * D];
    rows(lo, hi, &X, &y);
    OK(dtrain_set_data(run, X, y, hi - lo, D, 1), run);
    free(X);
    free(y);
    OK(dtrain_train(run), run);
    query(Xq);
    OK(dtrain_predict(run, Xq, Q, out), run);
    dtrain_free(run);
}

/* Rows gathered from an uneven split are the same set as all rows passed by
 * rank 0: the same computation, so the same bits.  Against one rank with
 * every row: only the order of the gradient sums differs, so within 1e-4
 * relative (4 epochs of adam amplify the 1e-7 rounding differences; a row
 * lost or out of order changes the batches and the outputs by far more). */
START_TEST(test_gather_uneven_rows)
{
    int64_t lo, hi;
    float a[Q], b[Q], c[Q];
    uneven(rank, size, &lo, &hi);
    train_predict(MPI_COMM_WORLD, lo, hi, a);
    train_predict(MPI_COMM_WORLD, 0, rank == 0 ? N : 0, b);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "uneven rows differ from rank 0's rows");
    MPI_Comm self;
    MPI_Comm_split(MPI_COMM_WORLD, rank, 0, &self);
    train_predict(self, 0, N, c);
    MPI_Comm_free(&self);
    double dmax = 0, amax = 0;
    for (int i = 0; i < Q; i++) {
        dmax = fmax(dmax, fabs((double)a[i] - c[i]));
        amax = fmax(amax, fabs((double)c[i]));
    }
    ck_assert_msg(dmax <= 1e-4 * amax, "%d ranks vs 1: max difference %g (max |y| %g)", size,
                  dmax, amax);
}
END_TEST

/* Shapes that differ between ranks, or a non-finite value on one rank, are
 * refused on every rank with one message. */
START_TEST(test_gather_checks_agreed)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    float X[4 * 3] = {0}, y[4] = {0};
    if (size > 1) {
        dtrain_status st = dtrain_set_data(run, X, y, 4, rank == size - 1 ? 3 : 2, 1);
        ck_assert_int_eq(st, DTRAIN_EUSAGE);
        ck_assert_msg(strstr(dtrain_errmsg(run), "n_features"), "%s", dtrain_errmsg(run));
    }
    if (rank == size - 1)
        X[5] = NAN;
    ck_assert_int_eq(dtrain_set_data(run, X, y, 4, 2, 1), DTRAIN_EUSAGE);
    char want[64];
    snprintf(want, sizeof want, "X[2][1] of rank %d is not finite", size - 1);
    ck_assert_msg(strstr(dtrain_errmsg(run), want), "%s", dtrain_errmsg(run));
    dtrain_free(run);
}
END_TEST

/* The steps of the first epoch, as the epoch callback sees it. */
static int record_step(void *user, const dtrain_info *info)
{
    *(int64_t *)user = info->step;
    return 1; /* one epoch is enough */
}

/* Two halves of the world (even and odd ranks), each its own run on its own
 * communicator with 10 rows a rank and batches of 10: an epoch is as many
 * steps as the half has ranks.  A run that reached past its communicator
 * (MPI_COMM_WORLD inside) would gather the other half's rows too and count
 * the world's ranks, or hang.  Then each half trains on a bundled HDF5 file
 * with the node-shared data copy and reduction (the defaults), which split
 * the communicator by node. */
START_TEST(test_sub_communicators)
{
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    int hsize;
    MPI_Comm_size(half, &hsize);
    dtrain_run *run;
    OK(dtrain_create(&run, half), NULL);
    configure(run, "3");
    OK(dtrain_set(run, "batch-size", "10"), run);
    OK(dtrain_set(run, "shuffle", "off"), run);
    float *X, *y;
    rows(rank * 10, rank * 10 + 10, &X, &y);
    OK(dtrain_set_data(run, X, y, 10, D, 1), run);
    free(X);
    free(y);
    int64_t steps = -1;
    OK(dtrain_on_epoch(run, record_step, &steps), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(steps, hsize);

    char data[1024];
    const char *src = getenv("DTRAIN_SOURCE_DIR");
    snprintf(data, sizeof data, "%s/datasets/iris.h5", src ? src : ".");
    dtrain_run *file;
    OK(dtrain_create(&file, half), NULL);
    OK(dtrain_set(file, "data", data), file);
    OK(dtrain_set(file, "output", "softmax"), file);
    OK(dtrain_set(file, "epochs", "2"), file);
    OK(dtrain_train(file), file);
    ck_assert_int_eq(dtrain_n_inputs(file), 4);
    ck_assert_int_eq(dtrain_n_outputs(file), 3);
    ck_assert_str_eq(dtrain_output(file), "softmax");
    dtrain_free(file);
    dtrain_free(run);
    MPI_Comm_free(&half);
}
END_TEST

#ifdef __SSE__
#include <xmmintrin.h>

#define CSR_FLAGS 0x3Fu /* the sticky exception flags, set by any arithmetic */

/* An epoch callback: the calling thread's MXCSR while it runs. */
static int csr_seen(void *user, const dtrain_info *info)
{
    (void)info;
    *(unsigned *)user = _mm_getcsr() & ~CSR_FLAGS;
    return 0;
}

/* The floating-point environment is the library's own while it computes and
 * the caller's again when each call returns.  A caller with FTZ and DAZ set
 * and rounding toward zero (0x7FC0, everything masked) trains and predicts
 * the same bits as one with the default environment (0x1F80), with the
 * default "denormals" (flush) and with keep, at 1 to 4 ranks; its own MXCSR
 * is back after dtrain_train and dtrain_predict, and in the epoch
 * callback. */
START_TEST(test_caller_fp_environment)
{
    const unsigned caller = 0x1F80u | 0x8040u | 0x6000u;
    int64_t lo, hi;
    uneven(rank, size, &lo, &hi);
    for (int keep = 0; keep < 2; keep++) {
        float ref[Q], out[Q], Xq[Q * D], *X, *y;
        query(Xq);
        rows(lo, hi, &X, &y);
        for (int env = 0; env < 2; env++) {
            const unsigned mine = env ? caller : 0x1F80u;
            dtrain_run *run;
            unsigned in_callback = 0;
            OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
            configure(run, "3");
            OK(dtrain_set(run, "denormals", keep ? "keep" : "flush"), run);
            OK(dtrain_set_data(run, X, y, hi - lo, D, 1), run);
            OK(dtrain_on_epoch(run, csr_seen, &in_callback), run);
            _mm_setcsr(mine);
            OK(dtrain_train(run), run);
            ck_assert_uint_eq(_mm_getcsr() & ~CSR_FLAGS, mine);
            ck_assert_uint_eq(in_callback, mine);
            OK(dtrain_predict(run, Xq, Q, env ? out : ref), run);
            ck_assert_uint_eq(_mm_getcsr() & ~CSR_FLAGS, mine);
            _mm_setcsr(0x1F80u);
            dtrain_free(run);
        }
        ck_assert_msg(memcmp(ref, out, sizeof ref) == 0, "denormals %s: the caller's "
                      "environment changed the predictions", keep ? "keep" : "flush");
        free(X);
        free(y);
    }
}
END_TEST
#endif

typedef struct {
    int epochs, steps;
    int stop_epoch, stop_step, asker; /* which rank asks to stop, when */
} counter;

static int count_epoch(void *user, const dtrain_info *info)
{
    counter *c = user;
    c->epochs++;
    ck_assert_int_eq(info->epoch, c->epochs);
    ck_assert(isfinite(info->train_loss) && isfinite(info->lr));
    ck_assert(isnan(info->eval_loss)); /* no evaluation data */
    return rank == c->asker && info->epoch == c->stop_epoch;
}

static int count_step(void *user, const dtrain_info *info)
{
    counter *c = user;
    c->steps++;
    ck_assert_int_eq(info->step, c->steps);
    ck_assert(isfinite(info->train_loss));
    return rank == c->asker && info->step == c->stop_step;
}

/* A run on MPI_COMM_WORLD as configure(epochs) sets it, each rank giving its
 * uneven share of the rows (copied by dtrain_set_data). */
static dtrain_run *uneven_run(const char *epochs)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    configure(run, epochs);
    int64_t lo, hi;
    float *X, *y;
    uneven(rank, size, &lo, &hi);
    rows(lo, hi, &X, &y);
    OK(dtrain_set_data(run, X, y, hi - lo, D, 1), run);
    free(X);
    free(y);
    return run;
}

/* One rank asks to stop: after 3 of 10 epochs, then at step 5, every rank
 * stops there (the decision is agreed; without it the others would train on
 * and wait for that rank forever). */
START_TEST(test_callbacks_stop_early)
{
    dtrain_run *run = uneven_run("10");
    counter c = {.stop_epoch = 3, .stop_step = -1, .asker = size - 1};
    OK(dtrain_on_epoch(run, count_epoch, &c), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(c.epochs, 3);
    c = (counter){.stop_epoch = -1, .stop_step = 5, .asker = size / 2};
    OK(dtrain_on_step(run, count_step, &c), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(c.steps, 5);
    ck_assert_int_eq(c.epochs, 0); /* N / 16 = 15 steps an epoch: none ended */
    dtrain_free(run);
}
END_TEST

typedef struct {
    int64_t calls, epoch, batch, batches, n_samples;
} ticks;

static void count_tick(void *user, const dtrain_tick *t)
{
    ticks *k = user;
    if (t->epoch != k->epoch) { /* a new epoch starts at its first batch */
        ck_assert_int_eq(t->epoch, k->epoch + 1);
        k->epoch = t->epoch;
        k->batch = 0;
    }
    ck_assert_int_eq(t->batch, k->batch + 1);
    k->batch = t->batch;
    k->batches = t->batches;
    k->n_samples = t->n_samples;
    /* batches of 16: the samples done are 16 a batch, the last one short */
    ck_assert_int_eq(t->samples, t->batch * 16 < t->n_samples ? t->batch * 16 : t->n_samples);
    ck_assert_int_eq(t->batches, (t->n_samples + 15) / 16);
    ck_assert_int_eq(t->epochs, 3);
    ck_assert(t->rate > 0 && t->seconds > 0 && isfinite(t->loss) && fabs(t->lr - 0.01) < 1e-9);
    k->calls++;
}

/* The progress callback with no interval: on rank 0 after every step of every
 * epoch, never on another rank. */
START_TEST(test_tick)
{
    dtrain_run *run = uneven_run("3");
    ticks k = {0};
    ck_assert_int_eq(dtrain_on_tick(run, count_tick, &k, -1), DTRAIN_EUSAGE);
    OK(dtrain_on_tick(run, count_tick, &k, 0), run);
    OK(dtrain_train(run), run);
    if (rank == 0) {
        ck_assert_int_eq(k.epoch, 3);
        ck_assert_int_eq(k.calls, 3 * k.batches);
        ck_assert_int_eq(k.batch, k.batches);
    } else {
        ck_assert_int_eq(k.calls, 0);
    }
    dtrain_free(run);
}
END_TEST

typedef struct {
    int info, warn, epoch_lines;
    char first_warning[256], last_warning[512];
} log_record;

static void collect(void *user, dtrain_log_level level, const char *line)
{
    log_record *r = user;
    if (level == DTRAIN_LOG_WARN) {
        if (!r->warn++)
            snprintf(r->first_warning, sizeof r->first_warning, "%s", line);
        snprintf(r->last_warning, sizeof r->last_warning, "%s", line);
    } else {
        r->info++;
        r->epoch_lines += strncmp(line, "epoch ", 6) == 0;
    }
}

/* Run fn with this process's stdout and stderr going to a file; the number
 * of bytes written to them. */
static long captured(void (*fn)(void *), void *arg)
{
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path("captured"));
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), errfd = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert(out >= 0 && errfd >= 0 && fd >= 0);
    dup2(fd, 1);
    dup2(fd, 2);
    fn(arg);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    close(fd);
    struct stat st;
    ck_assert(stat(path, &st) == 0);
    return (long)st.st_size;
}

/* Three epochs with a batch larger than the training set, which warns. */
static void train_warned(void *log)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    configure(run, "3");
    OK(dtrain_set(run, "batch-size", "1000"), run);
    if (log)
        OK(dtrain_on_log(run, collect, log, DTRAIN_LOG_INFO), run);
    int64_t lo, hi;
    float *X, *y;
    uneven(rank, size, &lo, &hi);
    rows(lo, hi, &X, &y);
    OK(dtrain_set_data(run, X, y, hi - lo, D, 1), run);
    OK(dtrain_train(run), run);
    free(X);
    free(y);
    dtrain_free(run);
}

/* Without a log callback nothing reaches stdout or stderr; with one, the
 * epoch lines and the warning reach it, and still nothing is printed. */
START_TEST(test_log_callback_and_quiet)
{
    ck_assert_int_eq(captured(train_warned, NULL), 0);
    log_record r = {0};
    ck_assert_int_eq(captured(train_warned, &r), 0);
    ck_assert_int_eq(r.epoch_lines, 3);
    /* the batch's, and that three epochs had not converged (session_setup.c,
     * session_report.c) */
    ck_assert_int_eq(r.warn, 2);
    ck_assert_msg(strstr(r.first_warning, "batch-size 1000 is larger than"), "%s",
                  r.first_warning);
    ck_assert_msg(strstr(r.last_warning, "not converged: train_loss was still improving"),
                  "%s", r.last_warning);
}
END_TEST

/* A misspelt key, an out-of-range or unknown value: DTRAIN_EUSAGE and a
 * message naming the key; the setting is left as it was. */
START_TEST(test_bad_options)
{
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    const char *cases[][3] = {
        {"optimzer", "adam", "did you mean 'optimizer'"},
        {"epochs", "-3", "epochs"},
        {"epochs", "many", "epochs"},
        {"optimizer", "adamx", "optimizer"},
        {"output", "logits", "output"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(dtrain_set(run, cases[i][0], cases[i][1]), DTRAIN_EUSAGE);
        ck_assert_msg(strstr(dtrain_errmsg(run), cases[i][2]), "%s=%s: '%s' lacks '%s'",
                      cases[i][0], cases[i][1], dtrain_errmsg(run), cases[i][2]);
    }
    OK(dtrain_set(run, "epochs", "2"), run);
    ck_assert_str_eq(dtrain_errmsg(run), "");
    /* an option that needs another is refused when training, on every rank */
    OK(dtrain_set(run, "keep", "2"), run);
    float X[2] = {0, 1}, y[1] = {1};
    OK(dtrain_set_data(run, X, y, 1, 2, 1), run);
    ck_assert_int_eq(dtrain_train(run), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "need checkpoint-dir DIR"), "%s",
                  dtrain_errmsg(run));
    ck_assert_int_eq(dtrain_predict(run, X, 1, y), DTRAIN_EUSAGE); /* no model */
    /* the watchdog only when allowed */
    OK(dtrain_set(run, "keep", "0"), run);
    OK(dtrain_set(run, "step-timeout", "30"), run);
    ck_assert_int_eq(dtrain_train(run), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "step-timeout"), "%s", dtrain_errmsg(run));
    dtrain_free(run);
}
END_TEST

/* Save, load into another run, predict: the same bits (the weights and the
 * normalisation are stored as float32, as they are held).  A classifier
 * too (probabilities), from evaluation arrays. */
START_TEST(test_save_load_predict)
{
    char path[1024];
    if (rank == 0)
        snprintf(path, sizeof path, "%s", tu_path("model.h5"));
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    for (int classify = 0; classify < 2; classify++) {
        dtrain_run *run, *again;
        OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
        configure(run, "3");
        int64_t lo, hi;
        float *X, *y, Xq[Q * D], a[Q * 2], b[Q * 2];
        uneven(rank, size, &lo, &hi);
        rows(lo, hi, &X, &y);
        if (classify) {
            OK(dtrain_set(run, "output", "softmax"), run);
            for (int64_t i = 0; i < hi - lo; i++) y[i] = y[i] > 0.3f;
        }
        OK(dtrain_set_data(run, X, y, hi - lo, D, 1), run);
        OK(dtrain_set_eval_data(run, X, y, hi - lo, D, 1), run);
        if (rank == 0)
            remove(path);
        if (classify) /* the "save" option: dtrain_train saves at its end */
            OK(dtrain_set(run, "save", path), run);
        OK(dtrain_train(run), run);
        const int K = classify ? 2 : 1;
        ck_assert_int_eq(dtrain_n_outputs(run), K);
        query(Xq);
        OK(dtrain_predict(run, Xq, Q, a), run);
        if (!classify)
            OK(dtrain_save(run, path), run);
        OK(dtrain_create(&again, MPI_COMM_WORLD), NULL);
        ck_assert_int_eq(dtrain_n_inputs(again), 0);
        OK(dtrain_load(again, path), again);
        ck_assert_int_eq(dtrain_n_inputs(again), D);
        OK(dtrain_predict(again, Xq, Q, b), again);
        ck_assert_msg(memcmp(a, b, (size_t)Q * K * sizeof *a) == 0, "loaded model differs");
        for (int i = 0; classify && i < Q; i++)
            ck_assert(fabsf(b[2 * i] + b[2 * i + 1] - 1.0f) < 1e-5f);
        ck_assert_int_eq(dtrain_load(again, "/nonexistent/model.h5"), DTRAIN_EUSAGE);
        ck_assert_msg(strstr(dtrain_errmsg(again), "/nonexistent/model.h5"), "%s",
                      dtrain_errmsg(again));
        ck_assert_int_eq(dtrain_n_inputs(again), D); /* a failed load keeps the model */
        free(X);
        free(y);
        dtrain_free(again);
        dtrain_free(run);
    }
}
END_TEST

static char *slurp(const char *path, long *n);

/* dtrain_set_class_names refuses (DTRAIN_EUSAGE, its message containing
 * why) and changes nothing: the run still has the names `kept` (NULL none). */
static void names_refused(dtrain_run *run, const char *const *names, int64_t n, const char *why,
                          const char *kept)
{
    ck_assert_int_eq(dtrain_set_class_names(run, names, n), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), why), "'%s' lacks '%s'", dtrain_errmsg(run), why);
    const char *const *got;
    int64_t k;
    if (dtrain_n_inputs(run) == 0)
        return;
    OK(dtrain_class_names(run, &got, &k), run);
    if (kept)
        ck_assert_str_eq(got[0], kept);
    else
        ck_assert_ptr_null(got);
}

/* A data file at path: /train 6 rows of 2 features, classes 0 1 2 twice,
 * and /classes names (3) unless NULL.  Rank 0 alone. */
static void write_six_rows(const char *path, const char *const *names)
{
    float X[12] = {0, 1, 1, 0, 2, 2, 0, 1.5f, 1, 0.5f, 2, 2.5f};
    int32_t y[6] = {0, 1, 2, 0, 1, 2};
    int64_t dx[2] = {6, 2}, dy[1] = {6};
    h5file *f;
    dt_error err;
    ck_assert_int_eq(h5io_create(path, &f, &err), DT_OK);
    ck_assert_int_eq(h5io_write(f, "/train/X", DT_F32, 2, dx, X, 0, &err), DT_OK);
    ck_assert_int_eq(h5io_write(f, "/train/y", DT_I32, 1, dy, y, 0, &err), DT_OK);
    if (names)
        ck_assert_int_eq(h5io_write_strs(f, "/classes", 3, names, &err), DT_OK);
    ck_assert_int_eq(h5io_close(f, &err), DT_OK);
}

/* dtrain_set_class_names: names for a model trained on a data file without
 * /classes are given back by dtrain_class_names (copies), written by
 * dtrain_save and dtrain_model_image where dtrain convert writes them, so
 * dtrain_load and dtrain_load_image read them back and dtrain_predict_file
 * writes them beside each row's class; n 0 removes them; a sigmoid takes 2.
 * Refused, changing nothing: no model, a regression, the wrong number, a
 * NULL, empty, non-UTF-8 or repeated name. */
START_TEST(test_set_class_names)
{
    char data[1024], model[1024], out[1024];
    if (rank == 0) {
        snprintf(data, sizeof data, "%s", tu_path("unnamed.h5"));
        snprintf(model, sizeof model, "%s", tu_path("renamed-model.h5"));
        snprintf(out, sizeof out, "%s", tu_path("renamed.csv"));
        write_six_rows(data, NULL);
    }
    MPI_Bcast(data, sizeof data, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(model, sizeof model, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(out, sizeof out, MPI_CHAR, 0, MPI_COMM_WORLD);
    char first[16] = "cat";
    const char *three[3] = {first, "dog", "\xc3\xa9meu"}; /* "émeu" */
    dtrain_run *run, *again;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    names_refused(run, three, 3, "has no model", NULL);
    OK(dtrain_set(run, "data", data), run);
    OK(dtrain_set(run, "output", "softmax"), run);
    OK(dtrain_set(run, "epochs", "1"), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(dtrain_n_outputs(run), 3);
    const char *const *got;
    int64_t n;
    OK(dtrain_class_names(run, &got, &n), run);
    ck_assert_ptr_null(got);

    names_refused(run, three, 2, "2 names for the model's 3 classes", NULL);
    names_refused(run, three, -1, "-1 names", NULL);
    names_refused(run, NULL, 3, "names is NULL", NULL);
    const char *with_null[3] = {"a", NULL, "c"}, *with_empty[3] = {"a", "b", ""};
    const char *twice[3] = {"a", "b", "a"}, *latin1[3] = {"a", "\xe9meu", "c"};
    names_refused(run, with_null, 3, "name 1 is NULL", NULL);
    names_refused(run, with_empty, 3, "name 2 is empty", NULL);
    names_refused(run, twice, 3, "names 0 and 2 are both 'a'", NULL);
    names_refused(run, latin1, 3, "name 1 is not UTF-8", NULL);

    OK(dtrain_set_class_names(run, three, 3), run);
    strcpy(first, "changed"); /* copied: the run's names stay */
    OK(dtrain_class_names(run, &got, &n), run);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(got[0], "cat");
    ck_assert_str_eq(got[2], "\xc3\xa9meu");
    names_refused(run, twice, 3, "both 'a'", "cat");
    if (rank == 0)
        remove(model);
    OK(dtrain_save(run, model), run);

    /* read back from the file, and from its image; predict names them */
    OK(dtrain_create(&again, MPI_COMM_WORLD), NULL);
    OK(dtrain_load(again, model), again);
    OK(dtrain_class_names(again, &got, &n), again);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(got[1], "dog");
    ck_assert_str_eq(got[2], "\xc3\xa9meu");
    OK(dtrain_predict_file(again, data, "train", out, NULL, NULL), again);
    if (rank == 0) {
        long len;
        char *csv = slurp(out, &len);
        ck_assert_ptr_nonnull(csv);
        ck_assert_msg(strstr(csv, ",dog,") || strstr(csv, ",cat,") || strstr(csv, ",\xc3\xa9meu,"),
                      "no class name in the predictions:\n%s", csv);
        free(csv);
    }
    void *image;
    size_t len;
    OK(dtrain_model_image(run, &image, &len), run);
    OK(dtrain_set_class_names(run, NULL, 0), run); /* 0 removes them */
    OK(dtrain_class_names(run, &got, &n), run);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(n, 0);
    OK(dtrain_load_image(run, image, len), run);
    OK(dtrain_class_names(run, &got, &n), run);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(got[0], "cat");
    /* the names' texts live in a global heap collection ("GCOL"); its first
     * object renumbered, a reference points at nothing: refused (HDF5 would
     * give back other bytes), from the image and from a file */
    unsigned char *heap = image;
    while (heap + 4 <= (unsigned char *)image + len && memcmp(heap, "GCOL", 4) != 0)
        heap++;
    ck_assert_msg(heap + 24 <= (unsigned char *)image + len, "no global heap in the image");
    heap[16] ^= 0x40; /* the first object's index: after "GCOL", version, size */
    ck_assert_int_eq(dtrain_load_image(run, image, len), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "'/classes': string") &&
                      strstr(dtrain_errmsg(run), "is damaged"), "%s", dtrain_errmsg(run));
    if (rank == 0) {
        FILE *f = fopen(model, "wb");
        ck_assert_int_eq(fwrite(image, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
    }
    ck_assert_int_eq(dtrain_load(run, model), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "is damaged"), "%s", dtrain_errmsg(run));
    /* the heap whole again, and a reference's object index made 0xff0000
     * larger (its address is the heap's, 8 bytes little-endian, the index
     * the 4 bytes after): HDF5 would index past its table (a segfault) */
    heap[16] ^= 0x40;
    const uint64_t heap_at = (uint64_t)(heap - (unsigned char *)image);
    unsigned char *ref = image;
    for (; ref + 12 <= (unsigned char *)image + len; ref++) {
        uint64_t v = 0;
        for (int b = 7; b >= 0; b--) v = v << 8 | ref[b];
        if (v == heap_at)
            break;
    }
    ck_assert_msg(ref + 12 <= (unsigned char *)image + len, "no reference to the heap");
    ref[10] = 0xff;
    ck_assert_int_eq(dtrain_load_image(run, image, len), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "is damaged"), "%s", dtrain_errmsg(run));
    ref[10] = 0;
    /* the strings' datatype (version 1, class 9 variable-length; string,
     * UTF-8; 16 bytes) with characters of 0xff000001 bytes, not 1: HDF5 would
     * take gigabytes per string */
    const unsigned char vlen_utf8[8] = {0x19, 0x01, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00};
    unsigned char *type = image;
    while (type + 16 <= (unsigned char *)image + len && memcmp(type, vlen_utf8, 8) != 0)
        type++;
    ck_assert_msg(type + 16 <= (unsigned char *)image + len, "no string type in the image");
    ck_assert_int_eq(type[12], 1); /* the base type's size */
    type[15] = 0xff;
    ck_assert_int_eq(dtrain_load_image(run, image, len), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "characters are declared 4278190081 bytes each"),
                  "%s", dtrain_errmsg(run));
    free(image);
    OK(dtrain_class_names(run, &got, &n), run); /* the model held stays */
    ck_assert_int_eq(n, 3);
    dtrain_free(again);
    dtrain_free(run);

    /* a sigmoid names its two classes; a regression has none to name */
    float Xs[8] = {0, 1, 1, 0, 0, 0.5f, 1, 0.5f}, ys[4] = {0, 1, 0, 1};
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(run, "output", "sigmoid"), run);
    OK(dtrain_set(run, "epochs", "1"), run);
    OK(dtrain_set_data(run, Xs, ys, rank == 0 ? 4 : 0, 2, 1), run);
    ck_assert_ptr_null(dtrain_output(run)); /* no model yet */
    OK(dtrain_train(run), run);
    ck_assert_int_eq(dtrain_n_outputs(run), 1);
    ck_assert_str_eq(dtrain_output(run), "sigmoid");
    names_refused(run, three, 1, "1 names for the model's 2 classes (output sigmoid", NULL);
    OK(dtrain_set_class_names(run, three + 1, 2), run);
    OK(dtrain_class_names(run, &got, &n), run);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got[1], "\xc3\xa9meu");
    dtrain_free(run);
    run = uneven_run("1");
    OK(dtrain_train(run), run);
    ck_assert_str_eq(dtrain_output(run), "linear");
    names_refused(run, three, 1, "regression", NULL);
    names_refused(run, NULL, 0, "regression", NULL);
    ck_assert_int_eq(dtrain_set_class_names(NULL, three, 3), DTRAIN_EUSAGE);
    dtrain_free(run);
}
END_TEST

/* dtrain_class_names: the names of the training file's /classes, kept
 * through dtrain_save and dtrain_load; none for a model trained on arrays;
 * refused without a model or a place to put them. */
START_TEST(test_class_names)
{
    char data[1024], model[1024];
    if (rank == 0) {
        snprintf(data, sizeof data, "%s", tu_path("named.h5"));
        snprintf(model, sizeof model, "%s", tu_path("named-model.h5"));
        /* the names as convert writes them for text labels */
        const char *names[3] = {"setosa", "versi color", "virginica"};
        write_six_rows(data, names);
        remove(model);
    }
    MPI_Bcast(data, sizeof data, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(model, sizeof model, MPI_CHAR, 0, MPI_COMM_WORLD);

    const char *const *names = (const char *const *)data; /* overwritten by each call */
    int64_t n = -1;
    dtrain_run *run, *again;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    ck_assert_int_eq(dtrain_class_names(run, &names, &n), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "has no model"), "%s", dtrain_errmsg(run));
    ck_assert_ptr_null(names);
    ck_assert_int_eq(n, 0);
    OK(dtrain_set(run, "data", data), run);
    OK(dtrain_set(run, "output", "softmax"), run);
    OK(dtrain_set(run, "epochs", "1"), run);
    OK(dtrain_set(run, "save", model), run);
    OK(dtrain_train(run), run);
    OK(dtrain_class_names(run, &names, &n), run);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(dtrain_n_outputs(run), 3);
    ck_assert_str_eq(names[0], "setosa");
    ck_assert_str_eq(names[1], "versi color");
    ck_assert_str_eq(names[2], "virginica");
    ck_assert_int_eq(dtrain_class_names(run, NULL, &n), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_class_names(run, &names, NULL), DTRAIN_EUSAGE);

    OK(dtrain_create(&again, MPI_COMM_WORLD), NULL);
    OK(dtrain_load(again, model), again);
    OK(dtrain_class_names(again, &names, &n), again);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(names[1], "versi color");
    ck_assert_int_eq(dtrain_class_names(NULL, &names, &n), DTRAIN_EUSAGE);
    dtrain_free(again);

    /* trained on arrays: a model, no names */
    float X[8] = {0, 1, 1, 0, 0, 0.5f, 1, 0.5f}, y[4] = {0, 1, 0, 1};
    dtrain_run *arrays;
    OK(dtrain_create(&arrays, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(arrays, "output", "softmax"), arrays);
    OK(dtrain_set(arrays, "epochs", "1"), arrays);
    OK(dtrain_set_data(arrays, X, y, rank == 0 ? 4 : 0, 2, 1), arrays);
    OK(dtrain_train(arrays), arrays);
    names = (const char *const *)data;
    OK(dtrain_class_names(arrays, &names, &n), arrays);
    ck_assert_ptr_null(names);
    ck_assert_int_eq(n, 0);
    dtrain_free(arrays);
    dtrain_free(run);
}
END_TEST

/* The whole of the file at path (NUL-terminated), *n its size; NULL if
 * unreadable.  Caller frees. */
static char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    if (f && fseek(f, 0, SEEK_END) == 0 && (*n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)*n + 1)) && fread(b, 1, (size_t)*n, f) == (size_t)*n)
        b[*n] = '\0';
    else {
        free(b);
        b = NULL;
    }
    if (f)
        fclose(f);
    return b;
}

/* dtrain_load_image refuses bytes: DTRAIN_EUSAGE with a message naming the
 * call, and the run keeps the model it held (D inputs). */
static void image_refused(dtrain_run *run, const void *image, size_t len, const char *what)
{
    ck_assert_msg(dtrain_load_image(run, image, len) == DTRAIN_EUSAGE, "%s: loaded", what);
    ck_assert_msg(strncmp(dtrain_errmsg(run), "dtrain_load_image", 17) == 0, "%s: '%s'", what,
                  dtrain_errmsg(run));
    ck_assert_int_eq(dtrain_n_inputs(run), D);
}

/* dtrain_model_image: the bytes of the file dtrain_save writes (the same
 * bytes, compared whole, on rank 0 which wrote the file: the history's times
 * are each rank's own); dtrain_load_image of them, on one rank alone (no
 * collective: a run on MPI_COMM_SELF of rank 0, while the others wait at
 * the barrier), predicts bit for bit as the trained run, and an
 * image of the loaded model loads again to the same bits.  Bytes that are no
 * whole model image are refused, never a crash: NULL, none, truncated at
 * every 1/64 of the length, a wrong signature, garbage; and a sweep of
 * one-byte changes either loads (a changed weight is still a model) or is
 * refused, leaving the model held. */
START_TEST(test_model_image)
{
    char path[1024];
    if (rank == 0)
        snprintf(path, sizeof path, "%s", tu_path("imaged.h5"));
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    dtrain_run *run = uneven_run("3");
    void *image = (void *)path;
    size_t len = 7;
    ck_assert_int_eq(dtrain_model_image(run, &image, &len), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "has no model"), "%s", dtrain_errmsg(run));
    ck_assert_ptr_null(image);
    ck_assert_int_eq(len, 0);
    ck_assert_int_eq(dtrain_model_image(run, NULL, &len), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_model_image(run, &image, NULL), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_model_image(NULL, &image, &len), DTRAIN_EUSAGE);
    OK(dtrain_train(run), run);
    OK(dtrain_save(run, path), run);
    float Xq[Q * D], a[Q], b[Q];
    query(Xq);
    OK(dtrain_predict(run, Xq, Q, a), run);
    if (rank == 0) {
        OK(dtrain_model_image(run, &image, &len), run);
        long n = 0;
        char *file = slurp(path, &n);
        ck_assert_ptr_nonnull(file);
        ck_assert_int_eq((long)len, n);
        ck_assert_msg(memcmp(image, file, len) == 0, "the image is not the saved file's bytes");
        free(file);

        dtrain_run *self;
        OK(dtrain_create(&self, MPI_COMM_SELF), NULL);
        OK(dtrain_load_image(self, image, len), self);
        ck_assert_int_eq(dtrain_n_inputs(self), D);
        OK(dtrain_predict(self, Xq, Q, b), self);
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "the image's model predicts otherwise");
        /* the loaded model's image loads to the same bits */
        void *again;
        size_t again_len;
        OK(dtrain_model_image(self, &again, &again_len), self);
        OK(dtrain_load_image(self, again, again_len), self);
        OK(dtrain_predict(self, Xq, Q, b), self);
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "an image of a loaded model differs");
        free(again);

        image_refused(self, NULL, len, "NULL");
        image_refused(self, image, 0, "0 bytes");
        for (size_t cut = 1; cut < 64; cut++)
            image_refused(self, image, len * cut / 64, "truncated");
        image_refused(self, image, len - 1, "one byte short");
        ((unsigned char *)image)[0] ^= 1; /* the signature's first byte */
        image_refused(self, image, len, "no signature");
        ((unsigned char *)image)[0] ^= 1;
        char *garbage = malloc(len);
        for (size_t i = 0; i < len; i++) garbage[i] = (char)(i * 131 + 7);
        image_refused(self, garbage, len, "garbage");
        for (size_t at = 0; at < len; at += len / 97 + 1) {
            memcpy(garbage, image, len);
            garbage[at] = (char)~garbage[at];
            const dtrain_status st = dtrain_load_image(self, garbage, len);
            ck_assert_msg(st == DTRAIN_OK || st == DTRAIN_EUSAGE, "byte %zu changed: status %d: %s",
                          at, (int)st, dtrain_errmsg(self));
            ck_assert_int_eq(dtrain_n_inputs(self), D);
        }
        free(garbage);
        dtrain_free(self);
        free(image);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    dtrain_free(run);
}
END_TEST

/* dtrain_save refuses, on every rank, what the command line refuses: the
 * message names the path and the reason (`why`), and the file is as it was. */
static void save_refused(dtrain_run *run, const char *path, const char *why)
{
    ck_assert_int_eq(dtrain_save(run, path), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), path) && strstr(dtrain_errmsg(run), why),
                  "dtrain_save %s: '%s' lacks '%s'", path, dtrain_errmsg(run), why);
}

/* dtrain_save applies the command line's rules for outputs: not the data
 * file trained on (by any name: a hard link is the file), not the run's
 * --log, not a model loaded from the file, nothing but a regular file (a
 * FIFO, a character device, a symbolic link are left alone); a new name is
 * written. */
START_TEST(test_save_output_rules)
{
    char dir[1024], data[1100], alias[1100], fifo[1100], link_[1100], log[1100], model[1100];
    if (rank == 0)
        snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(data, sizeof data, "%s/F.h5", dir);
    snprintf(alias, sizeof alias, "%s/alias.h5", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo.h5", dir);
    snprintf(link_, sizeof link_, "%s/link.h5", dir);
    snprintf(log, sizeof log, "%s/run.jsonl", dir);
    snprintf(model, sizeof model, "%s/m.h5", dir);
    char iris[1024];
    const char *src = getenv("DTRAIN_SOURCE_DIR");
    snprintf(iris, sizeof iris, "%s/datasets/iris.h5", src ? src : ".");
    long n_iris = 0, n = 0;
    char *orig = slurp(iris, &n_iris);
    ck_assert(orig);
    if (rank == 0) {
        FILE *f = fopen(data, "wb");
        ck_assert(f && fwrite(orig, 1, (size_t)n_iris, f) == (size_t)n_iris && fclose(f) == 0);
        ck_assert(link(data, alias) == 0 && mkfifo(fifo, 0644) == 0);
        char target[1200];
        snprintf(target, sizeof target, "%s/elsewhere.h5", dir);
        ck_assert(symlink(target, link_) == 0);
    }
    MPI_Barrier(MPI_COMM_WORLD);

    dtrain_run *run, *again;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(run, "data", data), run);
    OK(dtrain_set(run, "output", "softmax"), run);
    OK(dtrain_set(run, "epochs", "1"), run);
    OK(dtrain_set(run, "log", log), run);
    OK(dtrain_train(run), run);
    save_refused(run, data, "is the input");
    save_refused(run, alias, "is the input");
    save_refused(run, log, "is also log's file");
    save_refused(run, fifo, "is a FIFO");
    save_refused(run, link_, "is a symbolic link");
    save_refused(run, "/dev/null", "is a character device");
    if (rank == 0) {
        char *now = slurp(data, &n);
        ck_assert_msg(now && n == n_iris && !memcmp(now, orig, (size_t)n), "%s changed", data);
        free(now);
        struct stat sb;
        ck_assert(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
        ck_assert(lstat(link_, &sb) == 0 && S_ISLNK(sb.st_mode) && stat(link_, &sb) != 0);
        char *text = slurp(log, &n);
        ck_assert_msg(text && n > 0 && text[0] == '{', "the log is no longer the log");
        free(text);
    }
    OK(dtrain_save(run, model), run);
    OK(dtrain_create(&again, MPI_COMM_WORLD), NULL);
    OK(dtrain_load(again, model), again);
    save_refused(again, model, "is the input");
    dtrain_free(again);
    dtrain_free(run);
    free(orig);
}
END_TEST

/* The status and message of a call given a NULL run. */
#define REFUSED_NULL(call, name)                                                        \
    do {                                                                                \
        ck_assert_int_eq((call), DTRAIN_EUSAGE);                                        \
        ck_assert_msg(strstr(dtrain_errmsg(NULL), name ": run is NULL"), "%s: '%s'",   \
                      #call, dtrain_errmsg(NULL));                                      \
    } while (0)

static int never(void *user, const dtrain_info *info)
{
    (void)user;
    (void)info;
    return 0;
}

/* A NULL run, a NULL place for the new run and MPI_COMM_NULL are refused
 * with a status and a message, not a crash or an abort of the job by MPI's
 * error handler.  The ranks left out of a split (MPI_UNDEFINED: they get
 * MPI_COMM_NULL) are refused alone while the others create a run on the
 * new communicator. */
START_TEST(test_bad_handles)
{
    dtrain_run *run = (dtrain_run *)&run; /* not NULL: must become NULL */
    ck_assert_int_eq(dtrain_create(&run, MPI_COMM_NULL), DTRAIN_EUSAGE);
    ck_assert_ptr_null(run);
    ck_assert_msg(strstr(dtrain_errmsg(NULL), "MPI_COMM_NULL"), "%s", dtrain_errmsg(NULL));
    /* NULL on the last rank only: every rank fails (agreed), none hangs */
    run = (dtrain_run *)&run;
    ck_assert_int_eq(dtrain_create(rank == size - 1 ? NULL : &run, MPI_COMM_WORLD),
                     DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(NULL), "dtrain_create: run"), "%s", dtrain_errmsg(NULL));
    if (rank != size - 1)
        ck_assert_ptr_null(run);

    MPI_Comm part;
    MPI_Comm_split(MPI_COMM_WORLD, rank == 0 && size > 1 ? MPI_UNDEFINED : 0, rank, &part);
    dtrain_status st = dtrain_create(&run, part);
    if (part == MPI_COMM_NULL) {
        ck_assert_int_eq(st, DTRAIN_EUSAGE);
        ck_assert_ptr_null(run);
    } else {
        OK(st, NULL);
        dtrain_free(run);
        MPI_Comm_free(&part);
    }

    float X[2] = {0, 1}, y[1] = {0}, out[1];
    REFUSED_NULL(dtrain_set(NULL, "epochs", "2"), "dtrain_set");
    REFUSED_NULL(dtrain_set_data(NULL, X, y, 1, 2, 1), "dtrain_set_data");
    REFUSED_NULL(dtrain_set_eval_data(NULL, X, y, 1, 2, 1), "dtrain_set_eval_data");
    REFUSED_NULL(dtrain_on_step(NULL, never, NULL), "dtrain_on_step");
    REFUSED_NULL(dtrain_on_epoch(NULL, never, NULL), "dtrain_on_epoch");
    REFUSED_NULL(dtrain_on_tick(NULL, NULL, NULL, 1), "dtrain_on_tick");
    REFUSED_NULL(dtrain_on_log(NULL, NULL, NULL, DTRAIN_LOG_INFO), "dtrain_on_log");
    REFUSED_NULL(dtrain_allow(NULL, 0), "dtrain_allow");
    REFUSED_NULL(dtrain_train(NULL), "dtrain_train");
    REFUSED_NULL(dtrain_predict(NULL, X, 1, out), "dtrain_predict");
    REFUSED_NULL(dtrain_save(NULL, tu_path("null.h5")), "dtrain_save");
    REFUSED_NULL(dtrain_load(NULL, tu_path("null.h5")), "dtrain_load");
    ck_assert_int_eq(dtrain_n_inputs(NULL), 0);
    ck_assert_int_eq(dtrain_n_outputs(NULL), 0);
    ck_assert_ptr_null(dtrain_output(NULL));
    dtrain_free(NULL);
}
END_TEST

typedef struct {
    int model_lines, epoch_lines;
    char model[256];
} arch_record;

static void arch_lines(void *user, dtrain_log_level level, const char *line)
{
    arch_record *r = user;
    if (level != DTRAIN_LOG_INFO)
        return;
    if (!strncmp(line, "dtrain: model ", 14)) {
        r->model_lines++;
        snprintf(r->model, sizeof r->model, "%s", line);
    }
    r->epoch_lines += strncmp(line, "epoch ", 6) == 0;
}

/* A failed dtrain_set changes nothing: a layer list bad in its second item
 * or its width, a config file bad in its second key.  What training then
 * prints shows the settings (the model line names the layer widths, one
 * line per epoch): 2 inputs, 16 hidden, 1 output, 2 epochs. */
START_TEST(test_failed_set_changes_nothing)
{
    dtrain_run *run = uneven_run("2");
    OK(dtrain_set(run, "layers", "16:relu"), run);
    ck_assert_int_eq(dtrain_set(run, "layers", "16:relu,8:bogus"), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "bogus"), "%s", dtrain_errmsg(run));
    ck_assert_int_eq(dtrain_set(run, "layers", "2000000000:relu"), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_set(run, "layers", "4:relu,"), DTRAIN_EUSAGE);
    char yaml[1024];
    if (rank == 0)
        snprintf(yaml, sizeof yaml, "%s", tu_path("half-bad.yaml"));
    MPI_Bcast(yaml, sizeof yaml, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        FILE *f = fopen(yaml, "w");
        ck_assert_ptr_nonnull(f);
        fputs("epochs: 5\nlayers: 8:tanh\nlr: -1\n", f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    ck_assert_int_eq(dtrain_set(run, "config", yaml), DTRAIN_EUSAGE);
    ck_assert_msg(strstr(dtrain_errmsg(run), "lr"), "%s", dtrain_errmsg(run));
    arch_record r = {0};
    OK(dtrain_on_log(run, arch_lines, &r, DTRAIN_LOG_INFO), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(r.model_lines, 1);
    ck_assert_msg(strstr(r.model, "model 2-16-1 "), "%s", r.model);
    ck_assert_int_eq(r.epoch_lines, 2);
    dtrain_free(run);
}
END_TEST

/* A failed dtrain_load keeps the model the run held: the same predictions,
 * bit for bit, before and after. */
START_TEST(test_failed_load_keeps_model)
{
    dtrain_run *run = uneven_run("2");
    OK(dtrain_train(run), run);
    float Xq[Q * D], a[Q], b[Q];
    query(Xq);
    OK(dtrain_predict(run, Xq, Q, a), run);
    ck_assert_int_eq(dtrain_load(run, "/nonexistent/model.h5"), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_load(run, ""), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_n_inputs(run), D);
    ck_assert_int_eq(dtrain_n_outputs(run), 1);
    OK(dtrain_predict(run, Xq, Q, b), run);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "the model changed with a failed load");
    dtrain_free(run);
}
END_TEST

typedef struct {
    dtrain_run *run;
    int calls, logged;
    dtrain_status train, set, data, load, predict, save, on_epoch, free_then_set;
    char msg[512];
} reentry;

/* Every call back into the run from its epoch callback: refused (its
 * dtrain_free does nothing, as the next call shows). */
static int call_back(void *user, const dtrain_info *info)
{
    (void)info;
    reentry *e = user;
    float X[D] = {0}, y[1] = {0}, out[1];
    e->calls++;
    e->train = dtrain_train(e->run);
    snprintf(e->msg, sizeof e->msg, "%s", dtrain_errmsg(e->run));
    e->set = dtrain_set(e->run, "epochs", "9");
    e->data = dtrain_set_data(e->run, X, y, 1, D, 1);
    e->load = dtrain_load(e->run, tu_path("none.h5"));
    e->predict = dtrain_predict(e->run, X, 1, out);
    e->save = dtrain_save(e->run, tu_path("inside.h5"));
    e->on_epoch = dtrain_on_epoch(e->run, NULL, NULL);
    dtrain_free(e->run);
    e->free_then_set = dtrain_set(e->run, "epochs", "9");
    return 0;
}

static void log_back(void *user, dtrain_log_level level, const char *line)
{
    (void)level;
    (void)line;
    reentry *e = user;
    if (dtrain_set(e->run, "epochs", "9") == DTRAIN_EBUSY)
        e->logged++;
}

/* A dtrain_train inside the run's own epoch callback would replace the
 * session under the training that called it (the inner session was lost:
 * leaked); it and every other call on the run are refused with DTRAIN_EBUSY
 * and change nothing: the outer training runs its 3 epochs, and the run is
 * usable afterwards.  The log callback the same. */
START_TEST(test_reentry_refused)
{
    dtrain_run *run = uneven_run("3");
    reentry e = {.run = run};
    OK(dtrain_on_epoch(run, call_back, &e), run);
    OK(dtrain_on_log(run, log_back, &e, DTRAIN_LOG_INFO), run);
    OK(dtrain_train(run), run);
    ck_assert_int_eq(e.calls, 3);
    ck_assert_int_eq(e.train, DTRAIN_EBUSY);
    ck_assert_msg(strstr(e.msg, "dtrain_train: called from a callback of the same run"), "%s",
                  e.msg);
    ck_assert_int_eq(e.set, DTRAIN_EBUSY);
    ck_assert_int_eq(e.data, DTRAIN_EBUSY);
    ck_assert_int_eq(e.load, DTRAIN_EBUSY);
    ck_assert_int_eq(e.predict, DTRAIN_EBUSY);
    ck_assert_int_eq(e.save, DTRAIN_EBUSY);
    ck_assert_int_eq(e.on_epoch, DTRAIN_EBUSY);
    ck_assert_int_eq(e.free_then_set, DTRAIN_EBUSY);
    ck_assert_int_gt(e.logged, 3); /* the data and model lines, an epoch line each */
    ck_assert_int_eq(dtrain_n_inputs(run), D);
    OK(dtrain_on_epoch(run, NULL, NULL), run);
    OK(dtrain_on_log(run, NULL, NULL, DTRAIN_LOG_INFO), run);
    OK(dtrain_train(run), run); /* not busy any more */
    dtrain_free(run);
}
END_TEST

/* No training row on any rank: a message naming the arrays' call, not "a
 * single class (-1)". */
START_TEST(test_no_training_rows)
{
    const char *outputs[] = {"softmax", "linear"};
    for (int i = 0; i < 2; i++) {
        dtrain_run *run;
        OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
        configure(run, "1");
        OK(dtrain_set(run, "output", outputs[i]), run);
        float X[D] = {0}, y[1] = {0};
        OK(dtrain_set_data(run, X, y, 0, D, 1), run);
        ck_assert_int_eq(dtrain_train(run), DTRAIN_EUSAGE);
        ck_assert_msg(strstr(dtrain_errmsg(run), "dtrain_set_data: no training rows"),
                      "%s: %s", outputs[i], dtrain_errmsg(run));
        dtrain_free(run);
    }
}
END_TEST

/* Outputs of a model trained on 60 rows of 2 features whose y is label(i),
 * "output" not set: the head is chosen from y's values (convert_label_rule). */
static int64_t outputs_for(float (*label)(int))
{
    enum { R = 60 };
    float X[R * 2], y[R];
    for (int i = 0; i < R; i++) {
        X[2 * i] = (float)(i % 7);
        X[2 * i + 1] = (float)(i % 5);
        y[i] = label(i);
    }
    dtrain_run *run;
    OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
    OK(dtrain_set(run, "epochs", "1"), run);
    OK(dtrain_set_data(run, X, y, rank == 0 ? R : 0, 2, 1), run);
    OK(dtrain_train(run), run);
    const int64_t k = dtrain_n_outputs(run);
    dtrain_free(run);
    return k;
}
static float three_classes(int i) { return (float)(i % 3); }   /* 0..2, 20 rows each */
static float not_whole(int i) { return 0.5f * (float)i + 0.25f; }
static float many_integers(int i) { return (float)(25 + 3 * i); } /* 60 values, 1 row each */

/* Without "output" the data choose the head: arrays by their values, a file
 * by y's type; a file's class labels refuse "output" linear. */
static void failed_as(dtrain_run *run, const char *start, const char *key, int missing);

START_TEST(test_head_from_data)
{
    ck_assert_int_eq(outputs_for(three_classes), 3);  /* softmax over 3 classes */
    ck_assert_int_eq(outputs_for(not_whole), 1);      /* linear */
    ck_assert_int_eq(outputs_for(many_integers), 1);  /* a quantity: linear */

    const char *src = getenv("DTRAIN_SOURCE_DIR");
    const char *names[] = {"iris", "diabetes"};
    const int64_t want[] = {3, 1};
    for (int i = 0; i < 2; i++) {
        char data[1024];
        snprintf(data, sizeof data, "%s/datasets/%s.h5", src ? src : ".", names[i]);
        dtrain_run *run;
        OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
        OK(dtrain_set(run, "data", data), run);
        OK(dtrain_set(run, "epochs", "1"), run);
        OK(dtrain_train(run), run);
        ck_assert_int_eq(dtrain_n_outputs(run), want[i]);
        if (i == 0) {
            OK(dtrain_set(run, "output", "linear"), run);
            ck_assert_int_eq(dtrain_train(run), DTRAIN_EUSAGE);
            failed_as(run, "output linear on class labels", "output", 0);
        }
        dtrain_free(run);
    }
}
END_TEST

/* How messages name options.  An embedding program reads keys it can pass
 * back to dtrain_set, and the option a failure concerns beside the message
 * (dtrain_err_option), whether dtrain_set or dtrain_train finds the fault; a
 * command line asks for its flags.  The naming is each run's: a run called
 * from another run's callback uses its own, and the caller's comes back. */
typedef struct {
    dtrain_run *other;
    char msg[256];
    int calls;
} nested;

static int set_other(void *user, const dtrain_info *info)
{
    (void)info;
    nested *n = user;
    if (n->calls++ == 0) {
        ck_assert_int_eq(dtrain_set(n->other, "lr", "-1"), DTRAIN_EUSAGE);
        snprintf(n->msg, sizeof n->msg, "%s", dtrain_errmsg(n->other));
    }
    return 0;
}

/* The run's last failure: its message starts with `start`, and concerns
 * option `key` (NULL: none), missing or not. */
static void failed_as(dtrain_run *run, const char *start, const char *key, int missing)
{
    int m = -1;
    const char *k = dtrain_err_option(run, &m);
    ck_assert_msg(!strncmp(dtrain_errmsg(run), start, strlen(start)), "'%s' does not start '%s'",
                  dtrain_errmsg(run), start);
    if (key)
        ck_assert_msg(k && !strcmp(k, key), "%s: option %s, expected %s", dtrain_errmsg(run),
                      k ? k : "NULL", key);
    else
        ck_assert_ptr_null(k);
    ck_assert_int_eq(m, missing);
}

START_TEST(test_messages_name_options)
{
    float X[2 * D] = {0, 1, 1, 0}, y[2] = {0, 1};
    for (int flags = 0; flags <= 1; flags++) {
        const char *dash = flags ? "--" : "";
        char want[128];
        dtrain_run *run;
        OK(dtrain_create(&run, MPI_COMM_WORLD), NULL);
        if (flags)
            OK(dtrain_name_options(run, DTRAIN_NAMES_FLAGS), run);
        ck_assert_ptr_null(dtrain_err_option(run, NULL));
        /* nothing set: the data is required (dtrain_train finds it) */
        ck_assert_int_eq(dtrain_train(run), DTRAIN_EUSAGE);
        snprintf(want, sizeof want, "%sdata FILE.h5 is required", dash);
        ck_assert_str_eq(dtrain_errmsg(run), want);
        failed_as(run, want, "data", 1);
        /* a value dtrain_set refuses */
        ck_assert_int_eq(dtrain_set(run, "lr", "-1"), DTRAIN_EUSAGE);
        snprintf(want, sizeof want, "%slr: -1 is out of range", dash);
        failed_as(run, want, "lr", 0);
        ck_assert_int_eq(dtrain_set(run, "layers", "8:swish"), DTRAIN_EUSAGE);
        snprintf(want, sizeof want, "%slayers: unknown activation 'swish'", dash);
        failed_as(run, want, "layers", 0);
        /* options that do not go together, found when training */
        OK(dtrain_set_data(run, X, y, rank == 0 ? 2 : 0, D, 1), run);
        OK(dtrain_set(run, "optimizer", "adam"), run);
        OK(dtrain_set(run, "momentum", "0.9"), run);
        ck_assert_ptr_null(dtrain_err_option(run, NULL)); /* the last call succeeded */
        ck_assert_int_eq(dtrain_train(run), DTRAIN_EUSAGE);
        snprintf(want, sizeof want, "%smomentum applies to %soptimizer sgd, momentum, nesterov "
                 "and rmsprop only", dash, dash);
        ck_assert_str_eq(dtrain_errmsg(run), want);
        failed_as(run, want, "momentum", 0);
        OK(dtrain_set(run, "optimizer", "sgd"), run);
        OK(dtrain_set(run, "keep", "2"), run);
        ck_assert_int_eq(dtrain_train(run), DTRAIN_EUSAGE);
        snprintf(want, sizeof want, "%scheckpoint-every, %scheckpoint-every-epoch, "
                 "%scheckpoint-every-seconds and %skeep need %scheckpoint-dir DIR", dash, dash,
                 dash, dash, dash);
        failed_as(run, want, "checkpoint-dir", 0);
        /* a failure that concerns no one option */
        ck_assert_int_eq(dtrain_predict(run, X, 1, y), DTRAIN_EUSAGE);
        failed_as(run, "dtrain_predict: the run has no model", NULL, 0);
        dtrain_free(run);
    }
    dtrain_run *a, *b;
    OK(dtrain_create(&a, MPI_COMM_WORLD), NULL);
    OK(dtrain_create(&b, MPI_COMM_WORLD), NULL);
    ck_assert_int_eq(dtrain_name_options(a, (dtrain_names)7), DTRAIN_EUSAGE);
    /* the watchdog's line (its text is checked by the command line's tests,
     * tests/cli/watchdog.sh and faults.sh, whose dtrain sets it so) */
    ck_assert_int_eq(dtrain_watchdog_voice(NULL, DTRAIN_NAMES_KEYS), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_watchdog_voice("check_api: ", (dtrain_names)7), DTRAIN_EUSAGE);
    ck_assert_int_eq(dtrain_watchdog_voice("check_api: ", DTRAIN_NAMES_KEYS), DTRAIN_OK);
    OK(dtrain_name_options(a, DTRAIN_NAMES_FLAGS), a);
    configure(a, "1");
    float *Xa, *ya;
    rows(0, rank == 0 ? N : 0, &Xa, &ya);
    OK(dtrain_set_data(a, Xa, ya, rank == 0 ? N : 0, D, 1), a);
    free(Xa);
    free(ya);
    nested n = {.other = b};
    OK(dtrain_on_epoch(a, set_other, &n), a);
    OK(dtrain_train(a), a);
    ck_assert_int_eq(n.calls, 1);
    ck_assert_msg(!strncmp(n.msg, "lr: ", 4), "b, inside a's callback: %s", n.msg);
    ck_assert_int_eq(dtrain_set(a, "lr", "-1"), DTRAIN_EUSAGE);
    failed_as(a, "--lr: -1", "lr", 0);
    ck_assert_int_eq(dtrain_set(b, "lr", "-1"), DTRAIN_EUSAGE);
    failed_as(b, "lr: -1", "lr", 0);
    dtrain_free(a);
    dtrain_free(b);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_gather_checks_agreed);
    tcase_add_test(tc, test_gather_uneven_rows);
    tcase_add_test(tc, test_sub_communicators);
    tcase_add_test(tc, test_callbacks_stop_early);
    tcase_add_test(tc, test_tick);
    tcase_add_test(tc, test_log_callback_and_quiet);
    tcase_add_test(tc, test_save_load_predict);
    tcase_add_test(tc, test_save_output_rules);
    tcase_add_test(tc, test_bad_handles);
    tcase_add_test(tc, test_failed_set_changes_nothing);
    tcase_add_test(tc, test_failed_load_keeps_model);
    tcase_add_test(tc, test_class_names);
    tcase_add_test(tc, test_model_image);
    tcase_add_test(tc, test_set_class_names);
    tcase_add_test(tc, test_reentry_refused);
    tcase_add_test(tc, test_no_training_rows);
    tcase_add_test(tc, test_head_from_data);
    tcase_add_test(tc, test_messages_name_options);
#ifdef __SSE__
    tcase_add_test(tc, test_caller_fp_environment);
#endif
    suite_add_tcase(s, tc);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int failed = tu_run(s), any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
