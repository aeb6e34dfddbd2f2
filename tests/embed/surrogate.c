/* In-situ training of a surrogate model with libdtrain.
 *
 * Each MPI rank "simulates" its own samples of a field, y = sin(3 x0) cos(2 x1)
 * + x0 / 2 at points x in [-1, 1]^2 (a different number of points on each
 * rank, as a real decomposition would give), hands its own rows to dtrain,
 * and the ranks train one small network together.  A callback prints each
 * epoch (rank 0) and stops once the validation error is small enough.  Then
 * every rank predicts at its own points, the model is saved, loaded into a
 * second run and checked to predict the same.
 *
 *     mpirun -np 2 ./surrogate [MODEL.h5]
 *
 * Exit status 0 if the training loss fell to under a quarter of the first
 * epoch's and the reloaded model agrees; 1 otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <dtrain.h>

static int rank;

/* The "simulation": n points from a per-rank random sequence. */
static void simulate(int n, unsigned seed, float *X, float *y)
{
    unsigned s = seed * 2654435761u + 1u;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 2; j++) {
            s = s * 1664525u + 1013904223u; /* a linear congruential sequence */
            X[2 * i + j] = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
        }
        y[i] = sinf(3.0f * X[2 * i]) * cosf(2.0f * X[2 * i + 1]) + 0.5f * X[2 * i];
    }
}

/* dtrain's own log lines (setup warnings and the like), once. */
static void log_line(void *user, dtrain_log_level level, const char *line)
{
    (void)user;
    if (rank == 0)
        fprintf(level == DTRAIN_LOG_WARN ? stderr : stdout, "dtrain: %s\n", line);
}

typedef struct {
    double first, last; /* training loss of the first and the last epoch */
} losses;

/* After each epoch: print on rank 0, keep the losses; stop when the
 * validation RMSE is below 0.05 (the same value on every rank). */
static int on_epoch(void *user, const dtrain_info *info)
{
    losses *l = user;
    if (info->epoch == 1)
        l->first = info->train_loss;
    l->last = info->train_loss;
    if (rank == 0)
        printf("epoch %3lld  train_loss %.5f  valid_loss %.5f  valid_rmse %.4f  lr %.3g\n",
               (long long)info->epoch, info->train_loss, info->eval_loss, info->eval_metric,
               info->lr);
    return info->eval_metric < 0.05;
}

/* Print the failed call's message on rank 0 and leave. */
static int failed(dtrain_run *run, const char *what)
{
    if (rank == 0)
        fprintf(stderr, "surrogate: %s: %s\n", what, dtrain_errmsg(run));
    dtrain_free(run);
    MPI_Finalize();
    return 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *path = argc > 1 ? argv[1] : "surrogate.h5";

    /* this rank's part of the simulation */
    const int n = 300 + 100 * rank;
    float *X = malloc((size_t)n * 2 * sizeof *X), *y = malloc((size_t)n * sizeof *y);
    float *pred = malloc((size_t)n * sizeof *pred);
    if (!X || !y || !pred)
        return 1;
    simulate(n, (unsigned)rank + 1u, X, y);

    dtrain_run *run;
    if (dtrain_create(&run, MPI_COMM_WORLD) != DTRAIN_OK)
        return failed(NULL, "dtrain_create");
    dtrain_on_log(run, log_line, NULL, DTRAIN_LOG_WARN);
    const char *options[][2] = {
        {"layers", "32:tanh,32:tanh"}, {"output", "linear"}, {"optimizer", "adam"},
        {"lr", "0.01"}, {"batch-size", "32"}, {"epochs", "60"}, {"valid-split", "0.2"},
        {"seed", "1"},
    };
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (dtrain_set(run, options[i][0], options[i][1]) != DTRAIN_OK)
            return failed(run, "dtrain_set");
    losses l = {NAN, NAN};
    dtrain_on_epoch(run, on_epoch, &l);
    if (dtrain_set_data(run, X, y, n, 2, 1) != DTRAIN_OK)
        return failed(run, "dtrain_set_data");
    if (dtrain_train(run) != DTRAIN_OK)
        return failed(run, "dtrain_train");

    /* the surrogate at this rank's own points */
    if (dtrain_predict(run, X, n, pred) != DTRAIN_OK)
        return failed(run, "dtrain_predict");
    double se = 0;
    for (int i = 0; i < n; i++) se += (pred[i] - y[i]) * (double)(pred[i] - y[i]);
    printf("rank %d: %d points, surrogate RMSE %.4f\n", rank, n, sqrt(se / n));

    if (dtrain_save(run, path) != DTRAIN_OK)
        return failed(run, "dtrain_save");
    dtrain_run *again;
    if (dtrain_create(&again, MPI_COMM_WORLD) != DTRAIN_OK)
        return failed(run, "dtrain_create");
    float *pred2 = malloc((size_t)n * sizeof *pred2);
    if (!pred2 || dtrain_load(again, path) != DTRAIN_OK ||
        dtrain_predict(again, X, n, pred2) != DTRAIN_OK) {
        dtrain_free(run);
        return failed(again, "reloading the model");
    }
    const int same = memcmp(pred, pred2, (size_t)n * sizeof *pred) == 0;
    const int fell = l.last < 0.25 * l.first;
    if (rank == 0)
        printf("%s: saved %s; training loss %.5f -> %.5f (%s); reloaded model %s\n",
               fell && same ? "ok" : "FAILED", path, l.first, l.last,
               fell ? "fell" : "did not fall enough", same ? "agrees" : "differs");
    free(pred2);
    dtrain_free(again);
    dtrain_free(run);
    free(X);
    free(y);
    free(pred);
    MPI_Finalize();
    return fell && same ? 0 : 1;
}
