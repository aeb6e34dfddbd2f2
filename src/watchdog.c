/* dtrain: the step watchdog. */
#include "dtrain/watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>


static atomic_int phase;
static atomic_llong phase_start_us, phase_step;
static atomic_int running;
static double limit;
static int my_rank;
static pthread_t thread;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

const char *watchdog_phase_name(dt_wd_phase p)
{
    static const char *const names[] = {"idle", "data", "compute", "reduction", "update",
                                        "checkpoint"};
    return p >= WD_IDLE && p <= WD_CHECKPOINT ? names[p] : "?";
}

static void *watch(void *arg)
{
    (void)arg;
    while (atomic_load(&running)) {
        struct timespec nap = {0, 50000000};
        nanosleep(&nap, NULL);
        int ph = atomic_load(&phase);
        if (ph == WD_IDLE)
            continue;
        double waited = (double)(now_us() - atomic_load(&phase_start_us)) / 1e6;
        if (atomic_load(&phase) == ph && waited > limit) {
            fprintf(stderr,
                    "dtrain train: error: rank %d: step %lld spent %.1f s in phase '%s', more "
                    "than --step-timeout %g s; ending the job\n",
                    my_rank, (long long)atomic_load(&phase_step), waited,
                    watchdog_phase_name((dt_wd_phase)ph), limit);
            fflush(stderr);
            _exit(WATCHDOG_EXIT);
        }
    }
    return NULL;
}

dt_status watchdog_start(double timeout, int rank, dt_error *err)
{
    limit = timeout;
    my_rank = rank;
    atomic_store(&phase, WD_IDLE);
    atomic_store(&running, 1);
    if (pthread_create(&thread, NULL, watch, NULL) != 0) {
        atomic_store(&running, 0);
        return dt_fail(err, DT_EINTERNAL, "cannot start the --step-timeout watchdog thread");
    }
    return DT_OK;
}

void watchdog_phase(dt_wd_phase p, int64_t step)
{
    atomic_store(&phase_start_us, now_us());
    atomic_store(&phase_step, step);
    atomic_store(&phase, (int)p);
}

void watchdog_stop(void)
{
    if (atomic_exchange(&running, 0))
        pthread_join(thread, NULL);
}
