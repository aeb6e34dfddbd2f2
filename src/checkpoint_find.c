/* dtrain: checkpoints: the one a resume takes (a named file, or the newest
 * usable one of a directory's run).  Part of the checkpoint module
 * (checkpoint.c, checkpoint_impl.h). */
#include "checkpoint_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --resume FILE names no file (--keep may have deleted it) or a directory:
 * the checkpoints that FILE's directory (or the directory; else
 * --checkpoint-dir) does hold, newest first, and how to take the newest. */
static dt_status no_checkpoint_at(const char *spec, int is_dir, const char *ckpt_dir,
                                  dt_error *err)
{
    char dir[DT_PATH_MAX];
    const char *slash = strrchr(spec, '/');
    if (is_dir)
        snprintf(dir, sizeof dir, "%s", spec);
    else
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - spec) : 1, slash ? spec : ".");
    size_t n;
    ckpt_entry *v = ckpt_list(dir, &n);
    if (!n && ckpt_dir[0]) {
        free(v);
        snprintf(dir, sizeof dir, "%s", ckpt_dir);
        v = ckpt_list(dir, &n);
    }
    char have[DT_ERRMSG_LEN / 2] = "";
    size_t used = 0;
    for (size_t i = 0; v && i < n && i < 8; i++)
        APPEND(have, used, "%s%s", i ? ", " : "", v[i].name);
    if (n > 8)
        APPEND(have, used, ", ... (%zu in all)", n);
    free(v);
    const char *what = is_dir ? "a directory, not a checkpoint" : "no such file";
    if (!n)
        return dt_fail_opt(err, DT_EUSAGE, "resume", "%s %s: %s, and no checkpoint "
                           "(step-NNNNNNNN.h5) in %s", dt_opt("resume"), spec, what, dir);
    return dt_fail_opt(err, DT_EUSAGE, "resume",
                       "%s %s: %s; %s holds %s (newest first); '%s %s %s' (no FILE) takes "
                       "the newest good one",
                       dt_opt("resume"), spec, what, dir, have, dt_opt("checkpoint-dir"), dir,
                       dt_opt("resume"));
}

/* A run's newest usable checkpoint in a directory: v[entry]. */
typedef struct {
    uint64_t lineage;
    size_t entry;
} ckpt_head;

/* The usable checkpoints of dir belong to other runs than latest.h5's (want),
 * or, want unknown (0), to several: the user names the one to continue. */
static dt_status choose_run(const char *dir, int have_latest, uint64_t want,
                            const ckpt_entry *v, const ckpt_head *heads, size_t n_heads,
                            dt_error *err)
{
    char list[DT_ERRMSG_LEN / 2] = "";
    size_t used = 0;
    for (size_t h = 0; h < n_heads && h < 8; h++) {
        char id[48] = "no lineage: an older dtrain's";
        if (heads[h].lineage)
            snprintf(id, sizeof id, "lineage %016llx", (unsigned long long)heads[h].lineage);
        APPEND(list, used, "\n  %s/%s (%s)", dir, v[heads[h].entry].name, id);
    }
    if (n_heads > 8)
        APPEND(list, used, "\n  ... (%zu runs in all)", n_heads);
    if (want)
        return dt_fail_opt(err, DT_EUSAGE, "resume",
                           "%s: %s/latest.h5 cannot be used and no other checkpoint of its "
                           "run (lineage %016llx) can; those left are other runs', the newest "
                           "of each:%s\nto continue one of them, name it with '%s FILE'",
                           dt_opt("resume"), dir, (unsigned long long)want, list,
                           dt_opt("resume"));
    return dt_fail_opt(err, DT_EUSAGE, "resume",
                       "%s: %s/latest.h5 %s and the usable checkpoints in %s belong to %zu "
                       "runs (lineages); dtrain does not guess which to continue. The newest "
                       "of each:%s\nname the one to continue with '%s FILE'",
                       dt_opt("resume"), dir,
                       have_latest ? "cannot be used (its run unknown)" : "does not exist,",
                       dir, n_heads, list, dt_opt("resume"));
}

/* --resume FILE: the file, verified; or, where none is, what is there. */
static dt_status find_named(const char *spec, const char *dir, char *path, size_t len,
                            dt_error *err)
{
    struct stat sb;
    int found = stat(spec, &sb) == 0;
    if ((!found && errno == ENOENT) || (found && S_ISDIR(sb.st_mode)))
        return no_checkpoint_at(spec, found, dir, err);
    dt_status st = ckpt_verify(spec, err);
    if (!st)
        snprintf(path, len, "%s", spec);
    return st;
}

/* What was wrong with each checkpoint tried, for the error if none is usable. */
typedef struct {
    char faults[DT_ERRMSG_LEN];
    size_t used;
    int tried;
} ckpt_tries;

/* latest (DIR/latest.h5) into path if it is there and verifies.  Whether it
 * exists into *have_latest, the name a link gives into target (left as is
 * otherwise); DT_EUSAGE if the link names a file that is not there. */
static dt_status try_latest(const char *latest, char *target, size_t target_len,
                            int *have_latest, char *path, size_t len, ckpt_tries *t,
                            dt_error *err)
{
    struct stat lb;
    ssize_t tl = -1;
    dt_error e2;
    *have_latest = lstat(latest, &lb) == 0;
    if (*have_latest && S_ISLNK(lb.st_mode))
        tl = readlink(latest, target, target_len - 1);
    if (tl >= 0)
        target[tl] = '\0';
    if (*have_latest && S_ISLNK(lb.st_mode) && access(latest, F_OK) != 0 && tl >= 0) {
        /* its checkpoint was deleted or moved: taking the newest step file
         * instead could continue another run's checkpoints */
        return dt_fail_opt(err, DT_EUSAGE, "resume",
                           "%s: %s names %s, which does not exist (deleted or moved); "
                           "resume from a checkpoint file of your choice with '%s FILE'",
                           dt_opt("resume"), latest, target, dt_opt("resume"));
    }
    if (access(latest, F_OK) == 0) {
        if (!ckpt_verify(latest, &e2)) {
            snprintf(path, len, "%s", latest);
            return DT_OK;
        }
        dt_warn("%s; trying older checkpoints", e2.msg);
        /* a link (ours) names a step file, which is listed below on its own */
        struct stat sb;
        if (lstat(latest, &sb) == 0 && !S_ISLNK(sb.st_mode)) {
            t->tried++;
            APPEND(t->faults, t->used, "\n  %s", e2.msg);
        }
    }
    return DT_OK;
}

/* The step files of dir: into path the newest usable one of run `want`, or,
 * want unknown (0), of the one run all usable ones belong to; DT_EUSAGE
 * listing the runs if that is not one; path left "" if none is usable.
 * Only the newest usable checkpoint of each lineage is verified. */
static dt_status find_in_dir(const char *dir, int have_latest, uint64_t want, char *path,
                             size_t len, ckpt_tries *t, dt_error *err)
{
    char cand[DT_PATH_MAX + 32];
    dt_error e2;
    size_t n, n_heads = 0;
    ckpt_entry *v = ckpt_list(dir, &n);
    ckpt_head *heads = calloc(n ? n : 1, sizeof *heads);
    if (!heads) {
        free(v);
        return dt_fail(err, DT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; v && i < n && !path[0]; i++) {
        snprintf(cand, sizeof cand, "%s/%s", dir, v[i].name);
        const uint64_t id = ckpt_lineage_at(cand, v[i].name);
        size_t h = 0;
        while (h < n_heads && heads[h].lineage != id) h++;
        if (h < n_heads)
            continue; /* an older file of a run already found */
        if (ckpt_verify(cand, &e2)) {
            dt_warn("skipping %s", e2.msg);
            t->tried++;
            APPEND(t->faults, t->used, "\n  %s", e2.msg);
            continue;
        }
        heads[n_heads++] = (ckpt_head){id, i};
        if (want && id == want)
            snprintf(path, len, "%s", cand);
    }
    if (!path[0] && !want && n_heads == 1)
        snprintf(path, len, "%s/%s", dir, v[heads[0].entry].name);
    dt_status st = DT_OK;
    if (!path[0] && n_heads)
        st = choose_run(dir, have_latest, want, v, heads, n_heads, err);
    free(heads);
    free(v);
    return st;
}

dt_status ckpt_find(const char *spec, const char *dir, char *path, size_t len, dt_error *err)
{
    path[0] = '\0';
    if (spec[0])
        return find_named(spec, dir, path, len, err);
    if (!dir[0])
        return dt_fail_opt(err, DT_EUSAGE, "resume", "%s without a file needs %s",
                           dt_opt("resume"), dt_opt("checkpoint-dir"));
    char latest[DT_PATH_MAX + 32];
    char target[DT_PATH_MAX] = "latest.h5";
    int have_latest;
    ckpt_tries t = {.faults = ""};
    snprintf(latest, sizeof latest, "%s/latest.h5", dir);
    dt_status st = try_latest(latest, target, sizeof target, &have_latest, path, len, &t, err);
    if (st || path[0])
        return st;
    /* The fallback continues latest.h5's run (its lineage, when known), or,
     * not knowing it, the one run all usable checkpoints belong to: the
     * newest file may be another run's (a branch's, another seed's). */
    const char *base = strrchr(target, '/');
    const uint64_t want = have_latest ? ckpt_lineage_at(latest, base ? base + 1 : target) : 0;
    if ((st = find_in_dir(dir, have_latest, want, path, len, &t, err)))
        return st;
    /* Starting fresh would overwrite the damaged ones: only when there are none. */
    if (!path[0] && t.tried)
        return dt_fail_opt(err, DT_EUSAGE, "resume",
                           "%s: no usable checkpoint in %s, %d damaged:%s\n(move them away, "
                           "or give a %s of its own, to start fresh)",
                           dt_opt("resume"), dir, t.tried, t.faults, dt_opt("checkpoint-dir"));
    return DT_OK;
}
