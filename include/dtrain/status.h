/* dtrain: status values and error messages.
 *
 * Library functions return a dt_status and, on failure, fill a dt_error with one
 * human-readable message naming the file, dataset or option concerned.  Only the
 * command-line driver turns an error into an exit code (see src/cli/main.c). */
#ifndef DTRAIN_STATUS_H
#define DTRAIN_STATUS_H

#include <stddef.h>

typedef enum {
    DT_OK = 0,
    DT_EUSAGE = 2,   /* bad option or bad input data: the user can fix it */
    DT_EIO = 3,      /* a file could not be read or written */
    DT_ENOMEM = 4,   /* allocation failed */
    DT_ENUM = 5,     /* numerical failure (NaN/Inf) */
    DT_EBUSY = 6,    /* a call on a run from one of its own callbacks (dtrain.h), refused */
    DT_STOPPED = 7,  /* stopped by a signal with nothing saved (no checkpoint-dir) */
    DT_PREEMPTED = 75, /* stopped on request after writing a checkpoint (EX_TEMPFAIL) */
    DT_EINTERNAL = 70
} dt_status;

#define DT_ERRMSG_LEN 1024

#define DT_OPTKEY_LEN 64

typedef struct {
    dt_status code;
    char msg[DT_ERRMSG_LEN]; /* empty when code == DT_OK */
    /* The option the failure concerns, when it is one option (its value, or
     * its absence): its key ("lr"), whatever dt_opt renders in msg; "" for
     * none.  Set by dt_fail_opt and dt_fail_missing (or by the caller that
     * knows whose value failed: config_set), cleared by dt_fail; it travels
     * with the message (comm_agree) and survives dt_fail_prefix.  A
     * caller acts on the failure by it (dtrain_err_option), never by
     * searching msg. */
    char option[DT_OPTKEY_LEN];
    int missing; /* option is required and was not given */
} dt_error;

/* Reset to DT_OK with an empty message. */
void dt_error_clear(dt_error *err);

/* Set code and a printf-style message; returns code so callers can
 * `return dt_fail(err, DT_EUSAGE, "...")`.  err may be NULL. */
dt_status dt_fail(dt_error *err, dt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* dt_fail for a failure that concerns option key: its value, or how it
 * combines with the others.  The message names it with dt_opt(key) (the
 * caller writes that into fmt); key is kept in err->option. */
dt_status dt_fail_opt(dt_error *err, dt_status code, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* DT_EUSAGE: option key is required and was not given.  The message is
 * "<key> <what> is required" ("--data FILE.h5 is required" as the command
 * line names it); err->option is key and err->missing 1, by which a command
 * line adds where its help is. */
dt_status dt_fail_missing(dt_error *err, const char *key, const char *what);

/* Prefix existing message with context ("while loading X: <old msg>"). */
dt_status dt_fail_prefix(dt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Index of text in names (a NULL-terminated list), -1 if absent: the one
 * look-up behind every name -> enum parse (option choices, names in files). */
int dt_name_index(const char *const *names, const char *text);

/* Levenshtein distance between a and b (99 for names over 63 characters):
 * the "did you mean" of options and subcommands. */
size_t dt_edit_distance(const char *a, const char *b);

/* The "did you mean" of a misspelt name: offer every candidate with
 * dt_nearest_add, then dt_nearest_get gives the closest one if it is close
 * enough to be a slip (at most 3 edits, and fewer than half its length: "xyz"
 * is not a slip of "lr"), else NULL.  Start from (dt_nearest){0}. */
typedef struct {
    const char *best; /* a candidate (the caller's string), NULL before any */
    size_t distance;
} dt_nearest;
void dt_nearest_add(dt_nearest *n, const char *word, const char *candidate);
const char *dt_nearest_get(const dt_nearest *n);

/* How a message names an option: by the key dtrain_set takes ("lr", the
 * library's default, what an embedding program can pass back) or as the
 * command line's flag ("--lr").  Per thread, like the log sink below: each
 * public call installs its run's choice for its duration, so the library's
 * messages are written once, with dt_opt, and read right in both places. */
typedef enum { DT_NAMES_KEYS = 0, DT_NAMES_FLAGS = 1 } dt_names;
/* Install names as this thread's choice; returns the previous one. */
dt_names dt_names_swap(dt_names names);
/* This thread's choice, for a message worded differently beyond a name. */
dt_names dt_names_get(void);
/* Option key as this thread's messages name it: key itself, or "--key".
 * For a format argument: the text lives in one of 8 rotating thread-local
 * buffers, valid for the next 7 calls (keys up to 60 characters). */
const char *dt_opt(const char *key);
/* Short name of a status ("usage error", "I/O error", ...). */
const char *dt_strerror(dt_status code);

/* Logging.  The library prints nothing itself: dt_info and dt_warn format
 * one line (no trailing newline) and hand it to the current sink, which is
 * none until a caller installs one.  The command line installs one that
 * prints on rank 0 (src/cli/main.c); the embedding API (dtrain.h) installs a
 * run's own callback for the duration of each call on that run, so two runs
 * on two communicators log to their own callbacks.  The sink is per thread
 * (_Thread_local): a run is driven from one thread at a time.  Every rank
 * calls the sink; most lines are the same on every rank. */
typedef enum { DT_LOG_INFO = 1, DT_LOG_WARN = 2 } dt_log_level;
typedef void (*dt_log_fn)(void *user, dt_log_level level, const char *line);
typedef struct {
    dt_log_fn fn;         /* NULL: lines are dropped */
    void *user;           /* passed back to fn, borrowed */
    dt_log_level min;     /* lines below this level are dropped */
} dt_log_sink;
/* Install sink as this thread's current sink; returns the previous one (to
 * put back afterwards).  A zeroed dt_log_sink is silence. */
dt_log_sink dt_log_swap(dt_log_sink sink);
/* A line worth telling (progress, what was chosen). */
void dt_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Something works but may surprise; the command line prefixes "dtrain: warning: ". */
void dt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Peak resident memory of this process in MiB (getrusage).  Pages shared
 * with other processes (the node-shared data) count in full. */
double dt_peak_rss_mb(void);
/* Proportional set size now, in MiB (/proc/self/smaps_rollup): shared pages
 * are divided among the processes that map them, so the ranks' values add up
 * to the job's real memory.  0 where the kernel does not provide it. */
double dt_pss_mb(void);

/* Element-wise hot loops are compiled twice, for AVX2+FMA and for the
 * baseline, and the loader picks what the CPU has (GCC function
 * multiversioning): one portable binary that uses the wide vectors. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define DT_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DT_HOT
#endif

#endif
