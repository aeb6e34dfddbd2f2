/* dtrain: the options of the public API (include/dtrain.h, "options, the
 * command line and the process"): a command line parsed into a
 * dtrain_options by the one option table (config.c), the run's options read
 * back as text, set typed, and the table's rows described for help and
 * completion.  Nothing here needs MPI: a command line is parsed before
 * MPI_Init. */
#include "dtrain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/config.h"
#include "dtrain/status.h"
#include "dtrain/yamlconf.h"

_Static_assert((int)DTRAIN_OPT_TEXT == OPT_STR && (int)DTRAIN_OPT_TEXT2 == OPT_STR2 &&
                   (int)DTRAIN_OPT_INT == OPT_INT && (int)DTRAIN_OPT_REAL == OPT_REAL &&
                   (int)DTRAIN_OPT_CHOICE == OPT_CHOICE &&
                   (int)DTRAIN_OPT_CHOICES == OPT_CHOICES && (int)DTRAIN_OPT_FLAG == OPT_FLAG &&
                   (int)DTRAIN_OPT_OPTPATH == OPT_OPTPATH && (int)DTRAIN_OPT_EVERY == OPT_EVERY &&
                   (int)DTRAIN_OPT_LAYERS == OPT_LAYERS && (int)DTRAIN_OPT_LIST == OPT_LIST,
               "dtrain_option_type mirrors dt_opt_type");

/* The commands an option table row can belong to, and the option a bare
 * first argument sets ("inspect FILE"), if any. */
static const struct {
    const char *name;
    unsigned cmd;
    const char *positional;
} commands[] = {
    {"train", CMD_TRAIN, NULL},     {"eval", CMD_EVAL, NULL},
    {"cv", CMD_CV, NULL},           {"predict", CMD_PREDICT, NULL},
    {"inspect", CMD_INSPECT, "file"}, {"bench", CMD_BENCH, NULL},
    {"convert", CMD_CONVERT, NULL},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* The entry of command name, or -1 (dtrain_errmsg(NULL) says so, with a
 * suggestion). */
static int command_at(const char *name)
{
    dt_nearest near = {0};
    for (size_t i = 0; name && i < N_COMMANDS; i++) {
        if (!strcmp(name, commands[i].name))
            return (int)i;
        dt_nearest_add(&near, name, commands[i].name);
    }
    dt_error e;
    if (!name)
        dt_fail(&e, DT_EUSAGE, "the command is NULL");
    else if (dt_nearest_get(&near))
        dt_fail(&e, DT_EUSAGE, "unknown command '%s' (did you mean '%s'?)", name,
                dt_nearest_get(&near));
    else
        dt_fail(&e, DT_EUSAGE, "unknown command '%s'", name);
    api_fail_null(&e);
    return -1;
}

/* A failure of a call without a run: dtrain_errmsg(NULL) gives msg. */
static dtrain_status fail_null(dt_status code, const char *msg)
{
    dt_error e;
    dt_fail(&e, code, "%s", msg);
    api_fail_null(&e);
    return (dtrain_status)code;
}

/* The index of the bare argument in args that is the command's positional
 * one ("inspect [--config] FILE"): the first that follows no option taking a
 * value; -1 if none. */
static int positional_at(unsigned cmd, int n, char **args)
{
    for (int i = 0; i < n; i++) {
        if (strncmp(args[i], "--", 2) != 0)
            return i;
        const dt_option *o = strchr(args[i], '=') ? NULL : config_find(args[i] + 2, cmd);
        if (o && o->type != OPT_FLAG)
            return -1; /* its value comes next: leave the rest to the parser */
    }
    return -1;
}

/* --config FILE: the file's options, then the command line's on top (a
 * repeatable option gets both).  cfg holds the command line on entry. */
static dt_status with_config_file(dt_config *cfg, unsigned cmd, int argc, char **argv,
                                  dt_error *err)
{
    dt_config *merged = malloc(sizeof *merged); /* large: off the stack */
    if (!merged)
        return dt_fail(err, DT_ENOMEM, "out of memory reading %s", cfg->config_file);
    config_defaults(merged);
    int help;
    dt_status st = yamlconf_read(cfg->config_file, cmd, merged, err);
    if (!st)
        st = config_parse(merged, cmd, argc, argv, &help, err);
    if (!st)
        *cfg = *merged;
    free(merged);
    return st;
}

/* The options of command c: the positional argument, if the command has
 * one, becomes its option ("dtrain inspect FILE" is "dtrain inspect --file
 * FILE"): one argv, parsed once, so that "inspect A --file B" is a repeated
 * option like any other; then --config's file under them. */
static dt_status parse(dtrain_options *o, const char *positional, int argc, char **argv,
                       dt_error *err)
{
    char opt[64], **with_positional = NULL;
    int at = positional ? positional_at(o->cmd, argc, argv) : -1;
    if (at >= 0) {
        snprintf(opt, sizeof opt, "--%s", positional);
        with_positional = malloc((size_t)(argc + 1) * sizeof *with_positional);
        if (!with_positional)
            return dt_fail(err, DT_ENOMEM, "out of memory parsing the command line");
        for (int i = 0, j = 0; i < argc; i++) {
            if (i == at)
                with_positional[j++] = opt;
            with_positional[j++] = argv[i];
        }
        argc++;
        argv = with_positional;
    }
    config_defaults(&o->cfg);
    dt_status st = config_parse(&o->cfg, o->cmd, argc, argv, &o->want_help, err);
    if (!st && !o->want_help && o->cfg.config_file[0])
        st = with_config_file(&o->cfg, o->cmd, argc, argv, err);
    free(with_positional);
    return st;
}

dtrain_status dtrain_options_parse(dtrain_options **opts, const char *command, int argc,
                                   char **argv)
{
    dt_error e;
    dt_error_clear(&e);
    if (opts)
        *opts = NULL;
    if (!opts || argc < 0 || (argc > 0 && !argv))
        return fail_null(DT_EUSAGE, "dtrain_options_parse: opts NULL, or argv NULL or "
                                    "argc < 0");
    const int c = command_at(command);
    if (c < 0)
        return DTRAIN_EUSAGE;
    dtrain_options *o = calloc(1, sizeof *o);
    if (!o)
        return fail_null(DT_ENOMEM, "dtrain_options_parse: out of memory");
    o->cmd = commands[c].cmd;
    o->command = commands[c].name;
    /* a command line's messages name its flags, those of the --config file
     * merged under it too (its keys are the flags' names: "file.yaml:1: --lr") */
    const dt_names prev = dt_names_swap(DT_NAMES_FLAGS);
    const dt_status st = parse(o, commands[c].positional, argc, argv, &e);
    dt_names_swap(prev);
    if (st) {
        api_fail_null(&e);
        free(o);
        return (dtrain_status)st;
    }
    *opts = o;
    return DTRAIN_OK;
}

void dtrain_options_free(dtrain_options *opts) { free(opts); }

int dtrain_options_help(const dtrain_options *opts) { return opts ? opts->want_help : 0; }

const char *dtrain_options_command(const dtrain_options *opts)
{
    return opts ? opts->command : "";
}

/* The value of row o in cfg as text into buf (len bytes): DT_EUSAGE, buf
 * "", if it does not fit. */
static dt_status value_text(const dt_config *cfg, const dt_option *o, char *buf, size_t len,
                            dt_error *err)
{
    char v[2 * DT_PATH_MAX + 2];
    config_value_str(cfg, o, v, sizeof v);
    const size_t n = strlen(v);
    if (n < len) {
        memcpy(buf, v, n + 1);
        return DT_OK;
    }
    if (len)
        buf[0] = '\0';
    return dt_fail(err, DT_EUSAGE, "%s: its value takes %zu bytes with the NUL, len is %zu",
                   dt_opt(o->name), n + 1, len);
}

dtrain_status dtrain_options_get(const dtrain_options *opts, const char *key, char *buf,
                                 size_t len, int *given)
{
    if (!opts || !key || !buf)
        return fail_null(DT_EUSAGE, "dtrain_options_get: opts, key or buf is NULL");
    const dt_option *o = config_find(key, opts->cmd);
    if (!o) {
        dt_error e;
        dt_fail(&e, DT_EUSAGE, "dtrain_options_get: %s takes no option %s", opts->command,
                dt_opt(key));
        api_fail_null(&e);
        return DTRAIN_EUSAGE;
    }
    size_t n;
    const dt_option *table = config_options(&n);
    if (given)
        *given = opts->cfg.given[o - table] != 0;
    dt_error e;
    const dt_status st = value_text(&opts->cfg, o, buf, len, &e);
    if (st)
        api_fail_null(&e);
    return (dtrain_status)st;
}

/* dst's option o <- src's, marked given (typed: every type, two texts
 * included). */
static void copy_option(dt_config *dst, const dt_config *src, const dt_option *o, size_t row)
{
    if (o->type == OPT_STR2) {
        memcpy((char *)dst + o->offset, (const char *)src + o->offset, 2 * sizeof(dt_str));
        dst->given[row] = 1;
        return;
    }
    dt_value v;
    config_get_value(src, o, &v);
    config_put_value(dst, o, &v);
}

dtrain_status dtrain_set_options(dtrain_run *run, const dtrain_options *opts)
{
    dt_status st = api_usable(run, "dtrain_set_options");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    if (!opts)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_set_options: opts is NULL");
    size_t n;
    const dt_option *table = config_options(&n);
    /* only rows of opts' command can be given in it; a field may have a row
     * per command, and the given row is the one to copy */
    for (size_t i = 0; i < n; i++)
        if (opts->cfg.given[i])
            copy_option(&run->cfg, &opts->cfg, &table[i], i);
    return DTRAIN_OK;
}

dtrain_status dtrain_get(dtrain_run *run, const char *key, char *buf, size_t len)
{
    dt_status st = api_usable(run, "dtrain_get");
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    if (!key || !buf)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "dtrain_get: key or buf is NULL");
    const dt_option *o = config_find(key, CMD_TRAIN);
    if (!o) { /* config_set's message for an unknown key (it changes nothing): with
               * its suggestion */
        st = config_set(&run->cfg, CMD_TRAIN, key, "", &run->err);
        dt_fail_prefix(&run->err, "dtrain_get");
        return (dtrain_status)st;
    }
    return (dtrain_status)value_text(&run->cfg, o, buf, len, &run->err);
}

/* A typed set: key must be an option of one of the types in `types` (a bit
 * per dt_opt_type); text is its value as dtrain_set takes it. */
static dtrain_status set_typed(dtrain_run *run, const char *fn, const char *key,
                               unsigned types, const char *type_name, const char *text)
{
    dt_status st = api_usable(run, fn);
    if (st)
        return (dtrain_status)st;
    dt_error_clear(&run->err);
    const dt_option *o = key ? config_find(key, CMD_TRAIN) : NULL;
    if (!key)
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE, "%s: key is NULL", fn);
    if (!o)
        return dtrain_set(run, key, text); /* its message: unknown, with a suggestion */
    if (!(types & (1u << o->type)))
        return (dtrain_status)dt_fail(&run->err, DT_EUSAGE,
                                      "%s: %s is not %s (dtrain_set takes its value as text)",
                                      fn, dt_opt(key), type_name);
    return dtrain_set(run, key, text);
}

dtrain_status dtrain_set_int(dtrain_run *run, const char *key, int64_t value)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)value);
    return set_typed(run, "dtrain_set_int", key, 1u << OPT_INT | 1u << OPT_FLAG,
                     "a whole number or a flag", v);
}

dtrain_status dtrain_set_double(dtrain_run *run, const char *key, double value)
{
    char v[40];
    snprintf(v, sizeof v, "%.17g", value); /* reads back to the same double */
    return set_typed(run, "dtrain_set_double", key, 1u << OPT_REAL, "a real number", v);
}

dtrain_status dtrain_option_at(const char *command, size_t i, dtrain_option_info *info)
{
    static _Thread_local char choices[512];
    const int c = command_at(command);
    if (c < 0)
        return DTRAIN_EUSAGE;
    if (!info)
        return fail_null(DT_EUSAGE, "dtrain_option_at: info is NULL");
    size_t n, k = 0;
    const dt_option *table = config_options(&n);
    for (size_t r = 0; r < n; r++) {
        if (config_find(table[r].name, commands[c].cmd) != &table[r] || k++ != i)
            continue;
        const dt_option *o = &table[r];
        config_choice_list(o, choices, sizeof choices);
        *info = (dtrain_option_info){o->name, (dtrain_option_type)o->type, o->metavar,
                                     o->help, o->def, choices};
        return DTRAIN_OK;
    }
    dt_error e;
    dt_fail(&e, DT_EUSAGE, "dtrain_option_at: %s has %zu options; i is %zu", command, k, i);
    api_fail_null(&e);
    return DTRAIN_EUSAGE;
}

dtrain_status dtrain_print_options(FILE *out, const char *command)
{
    const int c = command_at(command);
    if (c < 0)
        return DTRAIN_EUSAGE;
    if (!out)
        return fail_null(DT_EUSAGE, "dtrain_print_options: out is NULL");
    config_print_help(out, commands[c].cmd);
    return DTRAIN_OK;
}

const char *dtrain_nearest(const char *word, const char *const *candidates, size_t n)
{
    dt_nearest near = {0};
    for (size_t i = 0; word && candidates && i < n; i++)
        if (candidates[i])
            dt_nearest_add(&near, word, candidates[i]);
    return dt_nearest_get(&near);
}
