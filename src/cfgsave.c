/* dtrain: a run's configuration as model and checkpoint files keep it. */
#include "dtrain/cfgsave.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/fsutil.h"
#include "dtrain/testhooks.h"

/* Option i as /config keeps it (dt_saved_opts.get). */
static int get_option(const dt_saved_opts *so, size_t i, const char **key, char *v,
                      size_t len);

/* get_option, of the options that say how the model computes alone. */
static int get_model_option(const dt_saved_opts *so, size_t i, const char **key, char *v,
                            size_t len)
{
    size_t n;
    const dt_option *opts = config_options(&n);
    const int more = get_option(so, i, key, v, len);
    if (more && *key && !(opts[i].facts & OPTF_MODEL))
        *key = NULL;
    return more;
}

static int get_option(const dt_saved_opts *so, size_t i, const char **key, char *v,
                      size_t len)
{
    size_t n;
    const dt_option *opts = config_options(&n);
    if (!so->cfg || i >= n)
        return 0;
    const dt_option *o = &opts[i];
    *key = NULL;
    if (!(o->cmds & CMD_TRAIN) ||
        (dt_hooks.unsaved_option && !strcmp(o->name, dt_hooks.unsaved_option)))
        return 1;
    char abs[2 * DT_PATH_MAX + 2];
    config_value_str(so->cfg, o, v, len);
    /* names as the run's directory read them, so that the saved
     * configuration (inspect --config) works from any directory */
    if ((o->facts & OPTF_PATH) && v[0] && !(o->choices && !strcmp(v, o->choices)) &&
        !fs_absolute(v, abs, sizeof abs) && strlen(abs) < DT_PATH_MAX)
        snprintf(v, len, "%s", abs);
    *key = o->name;
    return 1;
}

dt_status cfgsave_option(h5file *f, const dt_option *o, char *v, size_t len, dt_error *err)
{
    const char *key = o->was_named && !h5io_has_attr(f, "/config", o->name) &&
                              h5io_has_attr(f, "/config", o->was_named)
                          ? o->was_named
                          : o->name;
    dt_status st = h5io_get_attr_str(f, "/config", key, v, len, err);
    const char *now = st ? v : config_current_spelling(o, v);
    if (now != v)
        snprintf(v, len, "%s", now);
    /* files written when no hidden layer was spelt "" (the default then) */
    if (!st && o->type == OPT_LAYERS && !v[0])
        snprintf(v, len, "none");
    return st;
}

/* 1 if the checkpoint's text `was` of option o is cfg's value: the same
 * text (also "", a value not given: the method's default), or read as the
 * option would be (into the scratch configuration `old`). */
static int same_value(dt_config *old, const dt_config *cfg, const dt_option *o, const char *was)
{
    char now[2 * DT_PATH_MAX + 2], abs[2 * DT_PATH_MAX + 2];
    config_value_str(cfg, o, now, sizeof now);
    /* names are saved as absolute ones (get_option) */
    if ((o->facts & OPTF_PATH) && now[0] && !fs_absolute(now, abs, sizeof abs) &&
        !strcmp(abs, was))
        return 1;
    return !strcmp(now, was) ||
           (config_set(old, CMD_TRAIN, o->name, was, NULL) == DT_OK && config_same(old, cfg, o));
}

/* printf into buf (size bytes) after its first *used, never past its end. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    *used += (size_t)vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
}

/* A checkpoint's options against the run's (dt_saved_opts.compare). */
static int compare_options(const dt_saved_opts *so, h5file *f, char *diff, size_t size,
                           size_t *used)
{
    const dt_config *cfg = so->cfg;
    size_t n;
    const dt_option *opts = config_options(&n);
    dt_config *old = malloc(sizeof *old);
    if (!old)
        return -1;
    config_defaults(old);
    for (size_t i = 0; cfg && i < n; i++) {
        const unsigned facts = opts[i].facts;
        if (!(opts[i].cmds & CMD_TRAIN) || (facts & OPTF_RESUME_QUIET))
            continue; /* RESUME_QUIET: differs on every resume; nothing to report */
        char was[2 * DT_PATH_MAX + 2], now[2 * DT_PATH_MAX + 2];
        if (cfgsave_option(f, &opts[i], was, sizeof was, NULL)) {
            /* a checkpoint older than the option: it ran at the default, and
             * a change of what may change is still said */
            if (!(facts & OPTF_MAY_CHANGE))
                continue;
            snprintf(was, sizeof was, "%s", opts[i].def ? opts[i].def : "");
        }
        if (same_value(old, cfg, &opts[i], was))
            continue;
        config_value_str(cfg, &opts[i], now, sizeof now);
        if (facts & OPTF_MAY_CHANGE)
            dt_info("resume: %s %s (the checkpoint had %s)", dt_opt(opts[i].name),
                    now[0] ? now : "''", was[0] ? was : "''");
        else
            append(diff, size, used, "\n  %s: checkpoint '%s', now '%s'", dt_opt(opts[i].name),
                   was, now);
    }
    free(old);
    return 0;
}

dt_saved_opts cfgsave_opts(const dt_config *cfg)
{
    return (dt_saved_opts){.get = get_option,
                           .compare = compare_options,
                           .cfg = cfg,
                           .data = cfg ? cfg->train.data : "",
                           .seed = cfg ? cfg->train.seed : 0};
}

dt_saved_opts cfgsave_model_opts(const dt_config *cfg)
{
    return (dt_saved_opts){.get = get_model_option, .cfg = cfg, .data = ""};
}
