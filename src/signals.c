/* dtrain: preemption signals (POSIX sigaction). */
#include "dtrain/signals.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Everything the handler touches is lock-free atomic or sig_atomic_t. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the handler needs a lock-free 64-bit atomic");
static volatile sig_atomic_t pending, protect;
static atomic_llong first_ms; /* CLOCK_MONOTONIC of the first signal */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    if (!pending) {
        atomic_store(&first_ms, now_ms());
        pending = sig;
        return;
    }
    if (protect || now_ms() - atomic_load(&first_ms) < SIGNALS_GRACE_MS)
        return; /* the stop is under way */
    _exit(128 + sig); /* stuck before a safe point: the user means it */
}

static const int stop_signals[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
#define N_STOP (sizeof stop_signals / sizeof stop_signals[0])

void signals_ignore_file_size(void)
{
    /* Past a file-size limit (ulimit -f) write() should fail with EFBIG, which
     * dtrain reports cleanly, instead of SIGXFSZ killing the process. */
    signal(SIGXFSZ, SIG_IGN);
}

static void set_all(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_STOP; i++)
        sigaction(stop_signals[i], &sa, NULL);
}

/* A scope (signals_scope_begin): how deep, and the program's actions it
 * replaced, put back at its end.  Scopes open and close on the one thread
 * that trains (dtrain.h: the process's trainings take turns). */
static int scope_depth;
static struct sigaction program[N_STOP];

void signals_install(void) { set_all(on_signal); }

void signals_default(void)
{
    if (scope_depth == 0) {
        set_all(SIG_DFL);
        return;
    }
    for (size_t i = 0; i < N_STOP; i++)
        sigaction(stop_signals[i], &program[i], NULL);
}

void signals_scope_begin(void)
{
    if (scope_depth++ > 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_STOP; i++)
        sigaction(stop_signals[i], &sa, &program[i]);
}

int signals_scope_end(void)
{
    if (scope_depth == 0 || --scope_depth > 0)
        return 0;
    for (size_t i = 0; i < N_STOP; i++)
        sigaction(stop_signals[i], &program[i], NULL);
    /* from here a new signal is the program's; one that came before is taken */
    const int sig = pending;
    pending = 0;
    protect = 0;
    return sig;
}

void signals_protect(int on) { protect = on; }
int signals_pending(void) { return pending; }

const char *signals_name(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    }
    return "a signal";
}
