/* dtrain train: a user of the public API (dtrain.h) like any other program.
 * The options the command line was given are handed to the run by name, the
 * run logs through the command line's printer, and the command allows what
 * a program may opt into: the preemption signals (installed at start-up by
 * cli_main) and the --step-timeout watchdog. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "dtrain.h"

/* The progress display of rank 0 (--progress). */
typedef struct {
    int rank;
    int bar;   /* a line redrawn in place (1) or plain lines (0) */
    int shown; /* a bar is on the terminal's current line */
} display;

/* Log lines replace a bar on the terminal.  dtrain.h's log levels are
 * dt_log_level's values. */
static void print(void *user, dtrain_log_level level, const char *line)
{
    display *d = user;
    if (d->shown) {
        fputs("\r\033[K", stdout);
        d->shown = 0;
    }
    cli_print_line(&d->rank, (dt_log_level)level, line);
}

/* Seconds as m:ss or h:mm:ss; "?" when unknown. */
static void duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, len, "?");
        return;
    }
    const long t = lround(s);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static int terminal_width(void)
{
    struct winsize w;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col >= 40 ? w.ws_col : 80;
}

/* One progress report: "epoch 3/10 [=====>    ] 45% ..." redrawn in place, or
 * a plain line.  The ETA of the run counts the epochs left at this epoch's
 * rate (evaluation not included).  A bar never reaches the terminal's last
 * column: a wrapped line could not be redrawn. */
static void show(void *user, const dtrain_tick *t)
{
    display *d = user;
    const double frac = t->n_samples ? (double)t->samples / (double)t->n_samples : 0.0;
    const double left = t->rate > 0 ? (double)(t->n_samples - t->samples) / t->rate : NAN;
    const double epoch_s = t->rate > 0 ? (double)t->n_samples / t->rate : NAN;
    char eta[24], run_eta[24], head[48], tail[192];
    duration(left, eta, sizeof eta);
    duration(left + (double)(t->epochs - t->epoch) * epoch_s, run_eta, sizeof run_eta);
    const int n = snprintf(head, sizeof head, "epoch %lld/%lld", (long long)t->epoch,
                           (long long)t->epochs);
    int m = snprintf(tail, sizeof tail, "%3.0f%%  %lld/%lld  %.0f samples/s  ETA %s (run %s)  loss %.4f",
                     100.0 * frac, (long long)t->samples, (long long)t->n_samples, t->rate, eta,
                     run_eta, t->loss);
    if (!d->bar) {
        printf("%s  %s\n", head, tail);
        fflush(stdout);
        return;
    }
    const int cols = terminal_width() - 1;
    if (n + m + 14 > cols) /* narrow: the essentials */
        m = snprintf(tail, sizeof tail, "%3.0f%%  %.0f samples/s  ETA %s  loss %.4f",
                     100.0 * frac, t->rate, eta, t->loss);
    int w = cols - n - m - 4; /* "head [bar] tail" */
    w = w > 30 ? 30 : w < 0 ? 0 : w;
    char bar[32];
    const int full = (int)(frac * w);
    for (int i = 0; i < w; i++) bar[i] = i < full ? '=' : i == full ? '>' : ' ';
    bar[w] = '\0';
    char line[320];
    snprintf(line, sizeof line, "%s [%s] %s", head, bar, tail);
    line[cols < (int)sizeof line ? cols : (int)sizeof line - 1] = '\0';
    printf("\r%s\033[K", line);
    fflush(stdout);
    d->shown = 1;
}

/* Whether what rank 0 prints reaches a terminal.  Under mpirun a rank's
 * stdout is a pseudo-terminal of the launcher's even when the launcher's own
 * stdout is a file, so there the launcher's (the parent process's: mpirun
 * forks the ranks of its host) decides; a rank started by a remote daemon
 * or another launcher sees no terminal there, and gets lines. */
static int on_terminal(void)
{
    const char *term = getenv("TERM");
    if (!isatty(STDOUT_FILENO) || !term || !strcmp(term, "dumb"))
        return 0;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return 1;
    char fd[64], target[256];
    snprintf(fd, sizeof fd, "/proc/%ld/fd/%d", (long)getppid(), STDOUT_FILENO);
    const ssize_t n = readlink(fd, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return !strncmp(target, "/dev/pts/", 9) || !strncmp(target, "/dev/tty", 8);
}

/* --progress: what rank 0 shows within an epoch.  auto is a bar on a
 * terminal that can redraw a line, plain lines anywhere else. */
static void set_progress(dtrain_run *run, const dt_config *cfg, display *d)
{
    if (d->rank != 0 || cfg->display.progress == PROGRESS_OFF)
        return;
    d->bar = cfg->display.progress == PROGRESS_BAR || (cfg->display.progress == PROGRESS_AUTO && on_terminal());
    dtrain_on_tick(run, show, d, d->bar ? 0.1 : cfg->display.progress_every);
}

/* Every train option the command line (or its --config file, already
 * merged into cfg) gave, as text the run reads back to the same value.  The
 * --config file goes first, so that the run knows it for an input; the
 * options after it set again what it gave, and what the command line gave
 * on top. */
static dtrain_status set_options(dtrain_run *run, const dt_config *cfg)
{
    size_t n;
    const dt_option *o = config_options(&n);
    dtrain_status st = cfg->config_file[0] ? dtrain_set(run, "config", cfg->config_file)
                                           : DTRAIN_OK;
    for (size_t i = 0; i < n && !st; i++) {
        if (!(o[i].cmds & CMD_TRAIN) || !cfg->given[i] ||
            o[i].offset == offsetof(dt_config, config_file))
            continue;
        char v[2 * DT_PATH_MAX + 2];
        config_value_str(cfg, &o[i], v, sizeof v);
        st = dtrain_set(run, o[i].name, v);
    }
    return st;
}

dt_status cli_train(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    display d = {.rank = comm_rank(world)};
    dtrain_run *run;
    dtrain_status st = dtrain_create(&run, MPI_COMM_WORLD);
    if (st)
        return dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(NULL));
    dtrain_on_log(run, print, &d, DTRAIN_LOG_INFO);
    set_progress(run, cfg, &d);
    st = dtrain_allow(run, DTRAIN_ALLOW_SIGNALS | DTRAIN_ALLOW_WATCHDOG);
    if (!st)
        st = set_options(run, cfg);
    if (!st)
        st = dtrain_train(run);
    if (d.shown) /* a stop within an epoch: the message goes below the bar */
        fputs("\n", stdout);
    if (st)
        dt_fail(err, (dt_status)st, "%s", dtrain_errmsg(run));
    dtrain_free(run);
    return (dt_status)st;
}
