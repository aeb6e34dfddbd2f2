/* dtrain: the step watchdog.
 *
 * Every rank publishes where it is (step, phase, since when) in a slot of a
 * block of memory shared by the ranks of its host, and its watchdog thread
 * stamps a heartbeat there every round.  A rank that times out reads its
 * host's slots with plain loads and names the ranks that are behind it or
 * whose heartbeat stopped: the ones that did not arrive.  No MPI call is
 * made from the watchdog thread: MPI runs single-threaded here, and a call
 * that needs a stopped peer to take part (one-sided gets over TCP need the
 * target's progress) would hang the very thread that is meant to end the job. */
#include "dtrain/watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the slots are shared between processes: their atomics must be lock-free");

/* One rank's published state.  Written by its own rank only (where and since
 * by the training loop, beat by the watchdog thread), read by the watchdogs
 * of its host.  One cache line each: a rank's per-phase stores do not evict
 * its neighbours' lines. */
typedef struct {
    _Alignas(64) atomic_llong where; /* step * 8 + phase */
    atomic_llong since;              /* CLOCK_MONOTONIC us at which `where` began */
    atomic_llong beat;               /* us of the watchdog thread's last round; 0: not running */
    atomic_int world_rank;
} wd_slot;

/* The shared block: this header, then one slot per rank of the host. */
typedef struct {
    _Alignas(64) atomic_int reported; /* 1 once a rank of the host has claimed the report */
} wd_head;

/* A round every 50 ms; a heartbeat older than STALE_US means the rank's
 * threads do not run (stopped, or the process hangs as a whole); a running
 * rank that is behind gets GRACE_US to report itself (its phase began
 * earlier, so it times out first, and can say it is running). */
#define NAP_NS 50000000L
#define STALE_US 1000000LL
#define GRACE_US 500000LL
#define LIST_MAX 8 /* late ranks described in the message; more are counted */

/* What a rank sees of its host.  The watchdog thread may run before the
 * ranks have joined (watchdog_arm, before MPI starts): it then reads the
 * process's own view, and watchdog_start swaps in the host's with one atomic
 * store of a view filled beforehand. */
typedef struct {
    wd_slot *me;     /* where watchdog_phase publishes */
    wd_slot *slots;  /* n_local of them */
    wd_head *head;
    int n_local, n_hosts, world_size; /* n_hosts 0: unknown */
    int joined;      /* every rank of the job has reached watchdog_start */
    int shared;      /* slots are the host's shared block */
} wd_host;

static wd_slot own;          /* before start, after stop, or with no shared block */
static wd_head own_head;
static wd_host alone = {&own, &own, &own_head, 1, 1, 1, 0, 0};
static wd_host joined_view;  /* after watchdog_start */
static _Atomic(wd_host *) host = &alone;
static dt_shm *shm;
static atomic_int running;
static double limit;
static pthread_t thread;
/* the line's start and the option's name, set while no thread runs */
static char voice_prefix[64] = "dtrain: error: ";
static char voice_opt[DT_OPTKEY_LEN + 2] = "step-timeout";
static int voiced; /* watchdog_voice chose the option's name */

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* one clock for all processes of a host */
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

const char *watchdog_phase_name(dt_wd_phase p)
{
    static const char *const names[] = {"idle",   "data",       "compute",       "reduction",
                                        "update", "checkpoint", "between steps", "set-up"};
    return p >= WD_IDLE && p <= WD_SETUP ? names[p] : "?";
}

void watchdog_phase(dt_wd_phase p, int64_t step)
{
    wd_slot *me = atomic_load_explicit(&host, memory_order_acquire)->me;
    /* since before where: a reader that sees the new phase sees its start */
    atomic_store_explicit(&me->since, now_us(), memory_order_relaxed);
    atomic_store_explicit(&me->where, (long long)step * 8 + p, memory_order_release);
}

/* What a slot says, as of `now`. */
typedef struct {
    int rank;          /* world rank */
    dt_wd_phase phase;
    long long step;
    double in_phase;   /* seconds */
    double silent;     /* seconds since the heartbeat; 0 if its watchdog is not running */
} wd_view;

static wd_view look(wd_slot *s, long long now)
{
    long long w, since;
    int tries = 0;
    do { /* a consistent (where, since) pair, unless the rank keeps moving */
        w = atomic_load_explicit(&s->where, memory_order_acquire);
        since = atomic_load_explicit(&s->since, memory_order_acquire);
    } while (w != atomic_load_explicit(&s->where, memory_order_acquire) && ++tries < 100);
    long long beat = atomic_load_explicit(&s->beat, memory_order_acquire);
    wd_view v = {atomic_load_explicit(&s->world_rank, memory_order_relaxed),
                 (dt_wd_phase)(w & 7), w >> 3, (double)(now - since) / 1e6,
                 beat ? (double)(now - beat) / 1e6 : 0.0};
    return v;
}

/* How far a rank has got: later steps, and within a step later phases, are
 * further.  The work between steps comes before a checkpoint, which comes
 * before the next step's data (step counts the steps taken). */
static long long progress(const wd_view *v)
{
    static const int order[] = {[WD_SETUP] = 0,      [WD_IDLE] = 0,    [WD_BETWEEN] = 1,
                                [WD_CHECKPOINT] = 2, [WD_DATA] = 3,    [WD_COMPUTE] = 4,
                                [WD_REDUCTION] = 5,  [WD_UPDATE] = 6};
    return v->step * 8 + order[v->phase];
}

/* Phases that wait for the other ranks (the others are local work). */
static int collective(dt_wd_phase p)
{
    return p == WD_REDUCTION || p == WD_UPDATE || p == WD_CHECKPOINT || p == WD_BETWEEN ||
           p == WD_SETUP;
}

/* This rank's host, seen from it at one moment. */
typedef struct {
    wd_view self;
    wd_view late[LIST_MAX]; /* behind this rank, or not responding */
    int n_late;             /* all of them, also those beyond LIST_MAX */
    double silent;          /* the longest any of them has not responded, seconds */
    int live_late;          /* one of them runs in a watched phase: it will report itself */
    int ahead[LIST_MAX];    /* world ranks further on than this one */
    int n_ahead;
    double paused;          /* seconds of this phase in which this process did not run */
} wd_survey;

static void survey(wd_survey *sv, long long now, const wd_host *h)
{
    *sv = (wd_survey){.self = look(h->me, now)};
    const long long mine = progress(&sv->self);
    for (int i = 0; i < h->n_local; i++) {
        if (&h->slots[i] == h->me)
            continue;
        wd_view v = look(&h->slots[i], now);
        const int stopped = v.silent * 1e6 > (double)STALE_US;
        if (progress(&v) < mine || stopped) {
            if (sv->n_late < LIST_MAX)
                sv->late[sv->n_late] = v;
            sv->n_late++;
            sv->silent = v.silent > sv->silent ? v.silent : sv->silent;
            sv->live_late |= !stopped && v.silent > 0 && v.phase != WD_IDLE;
        } else if (progress(&v) > mine) {
            if (sv->n_ahead < LIST_MAX)
                sv->ahead[sv->n_ahead] = v.rank;
            sv->n_ahead++;
        }
    }
}

/* Append to line[*n..len) as snprintf would, keeping *n <= len. */
#define PUT(...)                                                                     \
    do {                                                                             \
        int k_ = snprintf(line + *n, len - *n, __VA_ARGS__);                         \
        *n = k_ < 0 ? *n : *n + (size_t)k_ >= len ? len - 1 : *n + (size_t)k_;       \
    } while (0)

/* " for rank 1 (in phase 'compute' of step 12 for 2.0 s, not responding for 2.0 s)" */
static void put_late(char *line, size_t len, size_t *n, const wd_survey *sv)
{
    const int shown = sv->n_late < LIST_MAX ? sv->n_late : LIST_MAX;
    PUT(", for rank%s", sv->n_late > 1 ? "s" : "");
    for (int i = 0; i < shown; i++) {
        const wd_view *v = &sv->late[i];
        if (v->phase == WD_SETUP)
            PUT("%s %d (in set-up for %.1f s", i ? "," : "", v->rank, v->in_phase);
        else
            PUT("%s %d (in phase '%s' of step %lld for %.1f s", i ? "," : "", v->rank,
                watchdog_phase_name(v->phase), v->step, v->in_phase);
        if (v->silent * 1e6 > (double)STALE_US)
            PUT(", not responding for %.1f s", v->silent);
        else if (v->silent == 0)
            PUT(", it has left the training loop");
        PUT(")");
    }
    if (sv->n_late > shown)
        PUT(" and %d more", sv->n_late - shown);
}

/* What else the host shows, when no rank is late for this one. */
static void put_context(char *line, size_t len, size_t *n, const wd_survey *sv,
                        const wd_host *h)
{
    if (sv->n_ahead > 0) {
        const int shown = sv->n_ahead < LIST_MAX ? sv->n_ahead : LIST_MAX;
        PUT("; rank%s", sv->n_ahead > 1 ? "s" : "");
        for (int i = 0; i < shown; i++) PUT("%s %d", i ? "," : "", sv->ahead[i]);
        if (sv->n_ahead > shown)
            PUT(" and %d more", sv->n_ahead - shown);
        PUT(" %s further on, waiting for it", sv->n_ahead > 1 ? "are" : "is");
    } else if (sv->paused > 0) {
        /* it is the one that did not arrive; where the others are adds nothing */
    } else if (h->world_size > 1 && h->n_local == 1 && !h->shared) {
        PUT("; the other ranks' phases cannot be seen (no node-shared memory)");
    } else if (h->n_hosts > 1) {
        /* every host's ranks time out; the stalled rank's neighbours name it */
        PUT("; no rank on this host is behind it, so the rank that did not arrive runs on "
            "another host");
    } else if (h->world_size > 1) {
        PUT("; every rank is at this point and running");
    }
}

/* The one line: the rank that did not arrive, and where it is. */
static size_t report(char *line, size_t len, const wd_survey *sv, const wd_host *h)
{
    size_t used = 0, *n = &used;
    const wd_view *s = &sv->self;
    const int waiting = collective(s->phase) && sv->n_late > 0 && sv->paused == 0;
    if (!h->joined) { /* this rank's number is not known yet, nor anything of the others */
        PUT("%sstart-up took %.1f s, more than %s %g s, and "
            "not every rank has joined the job (one stopped or hung, or its host cannot be "
            "reached); ending the job\n",
            voice_prefix, s->in_phase, voice_opt, limit);
        return used;
    }
    PUT("%srank %d: ", voice_prefix, s->rank);
    if (s->phase == WD_SETUP)
        PUT("%s %.1f s in set-up, more than %s %g s", waiting ? "waited" : "spent",
            s->in_phase, voice_opt, limit);
    else
        PUT("step %lld %s %.1f s in phase '%s', more than %s %g s", s->step,
            waiting ? "waited" : "spent", s->in_phase, watchdog_phase_name(s->phase), voice_opt,
            limit);
    if (waiting) {
        put_late(line, len, n, sv);
    } else {
        if (sv->paused > 0)
            PUT("; this rank was stopped for %.1f s of it (its threads did not run)",
                sv->paused);
        put_context(line, len, n, sv, h);
    }
    PUT("; ending the job\n");
    return used;
}

/* One report per host: the ranks that time out together (all that wait for
 * the same one) would otherwise print a line each. */
static void end_job(const wd_survey *sv, const wd_host *h)
{
    int zero = 0;
    if (atomic_compare_exchange_strong(&h->head->reported, &zero, 1)) {
        char line[2048];
        size_t n = report(line, sizeof line, sv, h);
        ssize_t w = write(STDERR_FILENO, line, n); /* one write: one unbroken line */
        (void)w;
        _exit(WATCHDOG_EXIT);
    }
    /* a rank of this host is printing: let it finish before mpirun sees an exit */
    struct timespec wait = {2, 0};
    nanosleep(&wait, NULL);
    _exit(WATCHDOG_EXIT);
}

/* This thread's rounds.  A gap longer than STALE_US between two means the
 * process did not run (SIGSTOP, say); the last such gap is kept. */
typedef struct {
    long long prev, resumed, paused; /* us */
} wd_rounds;

static void rounds_tick(wd_rounds *r, long long now)
{
    if (now - r->prev > STALE_US) {
        r->resumed = now;
        r->paused = now - r->prev;
    }
    r->prev = now;
}

/* Whether to report now: a running rank that is late gets GRACE_US to
 * report itself, which it can do better (it knows it runs). */
static int due(const wd_survey *sv, long long now, long long *deferred)
{
    if (!sv->live_late || !collective(sv->self.phase) || sv->paused > 0)
        return 1;
    if (!*deferred)
        *deferred = now;
    return now - *deferred >= GRACE_US;
}

static void *watch(void *arg)
{
    (void)arg;
    long long deferred = 0; /* when a running late rank was first left to report */
    wd_rounds rounds = {.prev = now_us()};
    while (atomic_load(&running)) {
        struct timespec nap = {0, NAP_NS};
        nanosleep(&nap, NULL);
        const long long now = now_us();
        const wd_host *h = atomic_load_explicit(&host, memory_order_acquire);
        atomic_store_explicit(&h->me->beat, now, memory_order_release);
        rounds_tick(&rounds, now);
        wd_view self = look(h->me, now);
        /* Before the join, a rank that was stopped itself counts from when it
         * ran again: the others, waiting for it, report it. */
        if (!h->joined && rounds.resumed && (double)(now - rounds.resumed) < self.in_phase * 1e6)
            self.in_phase = (double)(now - rounds.resumed) / 1e6;
        if (self.phase == WD_IDLE || self.in_phase <= limit) {
            deferred = 0;
            continue;
        }
        wd_survey sv;
        survey(&sv, now, h);
        if (self.phase == WD_SETUP && h->joined && sv.silent <= limit) {
            /* set-up's own work (a large data load) may take long: once every
             * rank has joined, only a rank that has not responded for the
             * timeout ends it */
            deferred = 0;
            continue;
        }
        if (rounds.resumed && (double)(now - rounds.resumed) < self.in_phase * 1e6)
            sv.paused = (double)rounds.paused / 1e6; /* it is the one that did not arrive */
        if (due(&sv, now, &deferred))
            end_job(&sv, h);
    }
    return NULL;
}

/* The host's shared block (collective) into v: its head and slots, or v
 * left on this process's own slot if there is none. */
static void shared_block(dt_comm *c, wd_host *v)
{
    /* one slot per rank of the job bounds the host's: the host's count is
     * known only once the block's node communicator exists */
    const size_t line = _Alignof(wd_slot);
    const size_t bytes = line + sizeof(wd_head) + (size_t)v->world_size * sizeof(wd_slot);
    shm = v->world_size > 1 ? comm_shm_alloc(c, bytes) : NULL;
    if (!shm)
        return;
    /* The block need not start on a cache line (Open MPI puts its own
     * bookkeeping first), so round up.  Each process maps it at a page
     * boundary, which gives every rank the same offset; check that it does,
     * since a rank that rounded differently would read the wrong slots. */
    const uintptr_t base = (uintptr_t)comm_shm_base(shm);
    const uintptr_t at = (base + line - 1) / line * line;
    int64_t off[2] = {(int64_t)(at - base), -(int64_t)(at - base)};
    comm_allreduce_max_i64(c, off, 2);
    if (off[0] != -off[1]) {
        comm_shm_free(shm);
        shm = NULL;
        return;
    }
    v->head = (wd_head *)at;
    v->slots = (wd_slot *)(v->head + 1);
    v->n_local = comm_shm_size(shm);
    v->shared = 1;
    if (comm_shm_leader(shm))
        atomic_store(&v->head->reported, 0);
}

/* Publish in the host's shared block if there is one (collective); else in
 * this process's own slot, and the report says the others cannot be seen.
 * The running thread moves to the new view at once. */
static void publish_setup(dt_comm *c)
{
    wd_host *v = &joined_view;
    *v = alone;
    v->world_size = comm_size(c);
    shared_block(c, v);
    wd_slot *mine = shm ? &v->slots[comm_shm_rank(shm)] : &own;
    atomic_store(&mine->where, atomic_load(&own.where));
    atomic_store(&mine->since, atomic_load(&own.since));
    atomic_store(&mine->beat, now_us());
    atomic_store(&mine->world_rank, comm_rank(c));
    v->me = mine;
    int64_t leaders = shm ? comm_shm_leader(shm) : 0;
    comm_allreduce_sum_i64(c, &leaders, 1);
    v->n_hosts = shm ? (int)leaders : 0; /* 0: unknown */
    v->joined = 1;
    if (shm)
        comm_shm_barrier(shm); /* every slot filled before any watchdog reads it */
    atomic_store_explicit(&host, v, memory_order_release);
}

void watchdog_voice(const char *prefix, dt_names names)
{
    if (atomic_load(&running))
        return;
    snprintf(voice_prefix, sizeof voice_prefix, "%s", prefix);
    const dt_names prev = dt_names_swap(names);
    snprintf(voice_opt, sizeof voice_opt, "%s", dt_opt("step-timeout"));
    dt_names_swap(prev);
    voiced = 1;
}

dt_status watchdog_arm(double timeout, dt_error *err)
{
    if (atomic_load(&running))
        return DT_OK;
    limit = timeout;
    if (!voiced)
        snprintf(voice_opt, sizeof voice_opt, "%s", dt_opt("step-timeout"));
    watchdog_phase(WD_SETUP, 0);
    atomic_store(&own.beat, now_us());
    atomic_store(&running, 1);
    if (pthread_create(&thread, NULL, watch, NULL) != 0) {
        atomic_store(&running, 0);
        atomic_store(&own.beat, 0);
        return dt_fail_opt(err, DT_EINTERNAL, "step-timeout", "cannot start the %s watchdog "
                           "thread", dt_opt("step-timeout"));
    }
    return DT_OK;
}

int watchdog_active(void)
{
    return atomic_load(&running) && atomic_load(&host)->joined;
}

dt_status watchdog_start(double timeout, dt_comm *c, dt_error *err)
{
    if (watchdog_active())
        return DT_OK;
    /* the thread first: the collective calls below wait for every rank */
    dt_status st = comm_agree(c, watchdog_arm(timeout, err), err);
    if (st) {
        watchdog_stop();
        return st;
    }
    publish_setup(c);
    return DT_OK;
}

void watchdog_stop(void)
{
    if (atomic_exchange(&running, 0))
        pthread_join(thread, NULL);
    wd_host *h = atomic_load(&host);
    atomic_store(&own.where, atomic_load(&h->me->where));
    atomic_store(&own.since, atomic_load(&h->me->since));
    atomic_store(&h->me->beat, 0);
    atomic_store(&host, &alone);
    if (shm) {
        comm_shm_free(shm);
        shm = NULL;
    }
}
