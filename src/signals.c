/* dtrain: preemption signals (POSIX sigaction). */
#include "dtrain/signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t pending;

static void on_signal(int sig)
{
    if (pending)
        _exit(128 + sig); /* second signal: the user means it */
    pending = sig;
}

void signals_ignore_file_size(void)
{
    /* Past a file-size limit (ulimit -f) write() should fail with EFBIG, which
     * dtrain reports cleanly, instead of SIGXFSZ killing the process. */
    signal(SIGXFSZ, SIG_IGN);
}

void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

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
