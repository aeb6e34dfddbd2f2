/* dtrain: the option table's mechanics: values parsed, printed, compared and
 * found by name, the help.  The rows are in config_table.c. */
#include "dtrain/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values renamed after files were written with them: the old spelling is
 * still read (a checkpoint's or a model's /config, a config file, a command
 * line), the new one written.  --monitor's values are the names of the
 * figures they watch (history.h); --shared-data on|off became
 * --data-placement node|rank; --label-type int became class. */
static const struct {
    const char *option, *old, *now;
} renamed_values[] = {{"monitor", "val_loss", "valid_loss"},
                      {"monitor", "val_accuracy", "valid_accuracy"},
                      {"monitor", "val_rmse", "valid_rmse"},
                      {"data-placement", "on", "node"},
                      {"data-placement", "off", "rank"},
                      {"label-type", "int", "class"}};

static const char *current_spelling(const char *option, const char *v)
{
    for (size_t i = 0; i < sizeof renamed_values / sizeof *renamed_values; i++)
        if (!strcmp(renamed_values[i].option, option) && !strcmp(renamed_values[i].old, v))
            return renamed_values[i].now;
    return v;
}

const char *config_current_spelling(const dt_option *o, const char *v)
{
    return current_spelling(o->name, v);
}

/* The name of value i of an OPT_CHOICE(S) row, NULL if out of range. */
static const char *config_choice_name(const dt_option *o, int i)
{
    for (int l = 0; l < 2 && o->names[l] && i >= 0; l++) {
        int n = 0;
        while (o->names[l][n]) n++;
        if (i < n)
            return o->names[l][i];
        i -= n;
    }
    return NULL;
}

/* The index of name `v` among o's choices, -1 if none. */
static int choice_index(const dt_option *o, const char *v)
{
    for (int i = 0;; i++) {
        const char *name = config_choice_name(o, i);
        if (!name)
            return -1;
        if (!strcmp(name, v))
            return i;
    }
}

void config_choice_list(const dt_option *o, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; config_choice_name(o, i) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "|" : "",
                                 config_choice_name(o, i));
}

static dt_status bad_choice(const dt_option *o, const char *v, dt_error *err)
{
    char list[256];
    config_choice_list(o, list, sizeof list);
    return dt_fail(err, DT_EUSAGE, "%s: '%s' is not one of %s", dt_opt(o->name), v, list);
}

static dt_status check_length(const dt_option *o, const char *v, dt_error *err)
{
    if (strlen(v) > DT_VALUE_MAX)
        return dt_fail(err, DT_EUSAGE,
                       "%s: value of %zu characters; at most %d are accepted (for a "
                       "path, a shorter one: a symbolic link to the directory, or cd to "
                       "it)",
                       dt_opt(o->name), strlen(v), DT_VALUE_MAX);
    return DT_OK;
}

/* OPT_LIST: v appended to the values before it, '\n' between them. */
static dt_status append_line(const dt_option *o, char *base, const char *v, dt_error *err)
{
    size_t used = strlen(base);
    if (strchr(v, '\n'))
        return dt_fail(err, DT_EUSAGE, "%s: value contains a line break", dt_opt(o->name));
    if (used + (used > 0) + strlen(v) >= DT_PATH_MAX)
        return dt_fail(err, DT_EUSAGE, "%s: values longer than %d characters in all",
                       dt_opt(o->name), DT_PATH_MAX - 1);
    if (used)
        base[used++] = '\n';
    memcpy(base + used, v, strlen(v) + 1);
    return DT_OK;
}

/* OPT_CHOICES: "a,b,c" (the empty text: none). */
static dt_status set_choices(const dt_option *o, dt_choices *out, const char *v, dt_error *err)
{
    dt_choices c = {0};
    for (const char *p = v; *p;) {
        const char *comma = strchr(p, ',');
        char name[64];
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
        if (c.n == DT_MAX_CHOICES)
            return dt_fail(err, DT_EUSAGE, "%s: at most %d names", dt_opt(o->name),
                           DT_MAX_CHOICES);
        if (!name[0])
            return dt_fail(err, DT_EUSAGE, "%s: empty name in '%s'", dt_opt(o->name), v);
        if ((c.v[c.n++] = choice_index(o, name)) < 0)
            return bad_choice(o, name, err);
        p += len + (comma ? 1 : 0);
    }
    *out = c;
    return DT_OK;
}

/* OPT_EVERY: "" off (0), `choices` ("epoch") -1, else a step count >= 1. */
static dt_status set_every(const dt_option *o, int64_t *out, const char *v, dt_error *err)
{
    if (!v[0] || !strcmp(v, o->choices)) {
        *out = v[0] ? -1 : 0;
        return DT_OK;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 1)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' should be a step count >= 1 "
                       "(or no value: once per epoch)", dt_opt(o->name), v);
    *out = n;
    return DT_OK;
}

/* x in the fewest digits that read back as x ("0.99999999", not "1"). */
static void shortest(double x, char *buf, size_t len)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* "lr: -0.1 is out of range: it must be > 0 and <= 1e+06", the bounds as
 * the table has them (integers in full). */
static dt_status out_of_range(const dt_option *o, const char *v, dt_error *err)
{
    char lo[32], hi[32];
    if (o->type == OPT_INT) {
        snprintf(lo, sizeof lo, "%.0f", o->min);
        snprintf(hi, sizeof hi, "%.0f", o->max);
    } else {
        shortest(o->min, lo, sizeof lo);
        shortest(o->max, hi, sizeof hi);
    }
    return dt_fail(err, DT_EUSAGE, "%s: %s is out of range: it must be %s %s and <= %s",
                   dt_opt(o->name), v, (o->facts & OPTF_ABOVE_MIN) ? ">" : ">=", lo, hi);
}

static dt_status set_number(const dt_option *o, char *base, const char *v, dt_error *err)
{
    char *end;
    errno = 0;
    if (o->type == OPT_INT) {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            return dt_fail(err, DT_EUSAGE, "%s: expected an integer, got '%s'",
                           dt_opt(o->name), v);
        if ((double)x < o->min || (double)x > o->max ||
            ((o->facts & OPTF_ABOVE_MIN) && (double)x <= o->min))
            return out_of_range(o, v, err);
        *(int64_t *)base = x;
        return DT_OK;
    }
    if (!o->def && !strcmp(v, "auto")) { /* the default that depends on another option
                                            (--lr: the optimizer's), as it is written back */
        *(double *)base = NAN;
        return DT_OK;
    }
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return dt_fail(err, DT_EUSAGE, "%s: expected a number, got '%s'", dt_opt(o->name),
                       v);
    if (x < o->min || x > o->max || ((o->facts & OPTF_ABOVE_MIN) && x <= o->min))
        return out_of_range(o, v, err);
    *(double *)base = x;
    return DT_OK;
}

/* The one place where the text of an option becomes its typed value.  Its
 * messages name the option (dt_opt); set_value marks the failure as o's. */
static dt_status parse_value(dt_config *cfg, const dt_option *o, const char *v,
                             dt_error *err)
{
    char *base = (char *)cfg + o->offset;
    dt_status st;
    switch (o->type) {
    case OPT_LIST: return append_line(o, base, v, err);
    case OPT_STR:
    case OPT_STR2:
        if ((st = check_length(o, v, err)))
            return st;
        snprintf(base, DT_PATH_MAX, "%s", v);
        return DT_OK;
    case OPT_OPTPATH: {
        dt_optpath *op = (dt_optpath *)base;
        if ((st = check_length(o, v, err)))
            return st;
        op->on = v[0] != '\0';
        snprintf(op->path, DT_PATH_MAX, "%s", strcmp(v, o->choices) ? v : "");
        return DT_OK;
    }
    case OPT_CHOICE: {
        if (!v[0] && !o->def) { /* a choice with no default (output: from the data) is
                                   printed empty while unset, and reads back so */
            *(int *)base = -1;
            return DT_OK;
        }
        int i = choice_index(o, current_spelling(o->name, v));
        if (i < 0)
            return bad_choice(o, v, err);
        *(int *)base = i;
        return DT_OK;
    }
    case OPT_CHOICES: return set_choices(o, (dt_choices *)base, v, err);
    case OPT_EVERY: return set_every(o, (int64_t *)base, v, err);
    case OPT_LAYERS: {
        dt_layers *l = (dt_layers *)base;
        return model_parse_layers_dropout(v, -1.0f, l->spec, DT_MAX_LAYERS - 1, &l->n, err);
    }
    case OPT_INT:
    case OPT_REAL: return set_number(o, base, v, err);
    case OPT_FLAG:
        if (strcmp(v, "1") && strcmp(v, "0"))
            return dt_fail(err, DT_EUSAGE, "%s is a flag: its values are 0 and 1, not '%s'",
                           dt_opt(o->name), v);
        *(int *)base = v[0] == '1';
        return DT_OK;
    }
    return DT_EINTERNAL;
}

static dt_status set_value(dt_config *cfg, const dt_option *o, const char *v,
                           dt_error *err)
{
    dt_status st = parse_value(cfg, o, v, err);
    if (st && err)
        snprintf(err->option, sizeof err->option, "%s", o->name);
    return st;
}

/* Option o's row number in the table: its place in dt_config.given. */
static size_t row_of(const dt_option *o)
{
    size_t n;
    return (size_t)(o - config_options(&n));
}

void config_defaults(dt_config *cfg)
{
    size_t n_options;
    const dt_option *options = config_options(&n_options);
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < n_options; i++) {
        const dt_option *o = &options[i];
        if (o->type == OPT_CHOICE && !o->def)
            *(int *)((char *)cfg + o->offset) = -1; /* no default: decided later */
        if (o->type == OPT_REAL && !o->def)
            *(double *)((char *)cfg + o->offset) = NAN; /* the method's own default */
        if (o->def && set_value(cfg, o, o->def, NULL) != DT_OK)
            abort(); /* a bad default in the table is a programming error */
    }
}


/* The options a command accepts: cv takes every train option as well (they
 * configure its trials). */
static unsigned cmd_mask(unsigned cmd) { return cmd & CMD_CV ? cmd | CMD_TRAIN : cmd; }

static const dt_option *find(const char *name, size_t len, unsigned cmd)
{
    cmd = cmd_mask(cmd);
    size_t n_options;
    const dt_option *options = config_options(&n_options);
    for (size_t i = 0; i < n_options; i++)
        if ((options[i].cmds & cmd) && strlen(options[i].name) == len &&
            strncmp(options[i].name, name, len) == 0)
            return &options[i];
    for (size_t i = 0; i < n_options; i++)
        if ((options[i].cmds & cmd) && options[i].was_named &&
            strlen(options[i].was_named) == len && strncmp(options[i].was_named, name, len) == 0)
            return &options[i];
    return NULL;
}

/* 1 if word is one of the '|'-separated names in list. */
static int in_list(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, word, len))
            return 1;
        p = bar ? bar + 1 : p + n;
    }
    return 0;
}

/* 1 if word is option name with words before or after it: num-epochs,
 * hidden-layers, batch-size-per-rank. */
static int wraps(const char *word, const char *name)
{
    size_t lw = strlen(word), ln = strlen(name);
    if (lw <= ln + 1 || ln < 3)
        return 0;
    return (!strncmp(word, name, ln) && word[ln] == '-') ||
           (!strcmp(word + lw - ln, name) && word[lw - ln - 1] == '-');
}

/* The option of cmd an unknown name most likely meant, or NULL: another
 * tool's name for it (known_as), then the name inside a longer one, then a
 * near spelling.  '_' reads as '-' (--learning_rate, --batch_size). */
static const char *nearest(const char *name, unsigned cmd)
{
    cmd = cmd_mask(cmd);
    size_t n_options;
    const dt_option *options = config_options(&n_options);
    char w[128];
    snprintf(w, sizeof w, "%s", name);
    for (char *p = w; *p; p++)
        if (*p == '_')
            *p = '-';
    dt_nearest near = {0};
    const char *wrapped = NULL;
    for (size_t i = 0; i < n_options; i++) {
        if (!(options[i].cmds & cmd))
            continue;
        if (in_list(options[i].known_as, w) || !strcmp(options[i].name, w))
            return options[i].name;
        if (!wrapped && wraps(w, options[i].name))
            wrapped = options[i].name;
        dt_nearest_add(&near, w, options[i].name);
    }
    return wrapped ? wrapped : dt_nearest_get(&near);
}

const dt_option *config_find(const char *name, unsigned cmd)
{
    return find(name, strlen(name), cmd);
}

dt_status config_set(dt_config *cfg, unsigned cmd, const char *name, const char *value,
                     dt_error *err)
{
    const dt_option *o = config_find(name, cmd);
    if (!o) {
        const char *near = nearest(name, cmd);
        if (near)
            return dt_fail(err, DT_EUSAGE, "unknown option '%s' (did you mean '%s'?)", name,
                           near);
        /* the help is a command line's; a program has the option table */
        return dt_fail(err, DT_EUSAGE, "unknown option '%s'%s", name,
                       dt_names_get() == DT_NAMES_FLAGS ? " (see --help)" : "");
    }
    if (o->type == OPT_STR2)
        return dt_fail_opt(err, DT_EUSAGE, o->name,
                           "%s takes two values: give it on the command line", dt_opt(o->name));
    dt_status st = set_value(cfg, o, value, err);
    if (!st)
        cfg->given[row_of(o)] = 1;
    return st;
}

/* The message for --NAME (its first len bytes) that no option of cmd has. */
static dt_status unknown_flag(const char *name, size_t len, unsigned cmd, dt_error *err)
{
    char n[128];
    snprintf(n, sizeof n, "%.*s", (int)(len < 100 ? len : 100), name);
    const char *near = nearest(n, cmd);
    if (near)
        return dt_fail(err, DT_EUSAGE, "unknown option --%s (did you mean --%s?)", n, near);
    return dt_fail(err, DT_EUSAGE, "unknown option --%s (see --help)", n);
}

/* Set option o from argv[*i] ("--name" or "--name=value", `eq` then points at
 * its '='), taking the value(s) that follow it; *i is left on the last word
 * used. */
static dt_status take_flag(dt_config *cfg, const dt_option *o, const char *eq, int argc,
                           char **argv, int *i, dt_error *err)
{
    if (o->type == OPT_FLAG) {
        if (eq)
            return dt_fail(err, DT_EUSAGE, "--%s takes no value", o->name);
        return set_value(cfg, o, "1", err);
    }
    if (o->type == OPT_OPTPATH || o->type == OPT_EVERY) { /* the value may be left out */
        const char *v = o->choices;
        if (eq)
            v = eq + 1;
        else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
            v = argv[++*i];
        return set_value(cfg, o, v, err);
    }
    if (o->type == OPT_STR2) {
        if (eq || *i + 2 >= argc)
            return dt_fail(err, DT_EUSAGE, "--%s needs two values: %s", o->name, o->metavar);
        dt_option second = *o;
        second.offset += sizeof(dt_str);
        *i += 2;
        dt_status st = set_value(cfg, o, argv[*i - 1], err);
        return st ? st : set_value(cfg, &second, argv[*i], err);
    }
    if (eq)
        return set_value(cfg, o, eq + 1, err);
    if (*i + 1 >= argc)
        return dt_fail(err, DT_EUSAGE, "--%s needs a value (%s)", o->name,
                       o->metavar ? o->metavar : "");
    return set_value(cfg, o, argv[++*i], err);
}

static dt_status parse_argv(dt_config *cfg, unsigned cmd, int argc, char **argv,
                           int *want_help, dt_error *err)
{
    *want_help = 0;
    unsigned char seen[sizeof cfg->given] = {0}; /* in this argv: a repeat is a mistake */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *want_help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return dt_fail(err, DT_EUSAGE, "unexpected argument '%s' (options start with --)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const dt_option *o = find(name, len, cmd);
        if (!o)
            return unknown_flag(name, len, cmd, err);
        if (seen[row_of(o)]++ && o->type != OPT_LIST)
            return dt_fail(err, DT_EUSAGE,
                           "--%s given twice; give it once (--help marks the options that may be repeated)",
                           o->name);
        dt_status st = take_flag(cfg, o, eq, argc, argv, &i, err);
        if (st)
            return st;
        cfg->given[row_of(o)] = 1;
    }
    return DT_OK;
}

/* A command line's messages name its options as its flags ("--lr: ..."),
 * whatever the caller's messages do. */
dt_status config_parse(dt_config *cfg, unsigned cmd, int argc, char **argv,
                       int *want_help, dt_error *err)
{
    const dt_names prev = dt_names_swap(DT_NAMES_FLAGS);
    const dt_status st = parse_argv(cfg, cmd, argc, argv, want_help, err);
    dt_names_swap(prev);
    return st;
}

void config_value_str(const dt_config *cfg, const dt_option *o, char *buf, size_t len)
{
    const char *base = (const char *)cfg + o->offset;
    switch (o->type) {
    case OPT_STR:
    case OPT_LIST: snprintf(buf, len, "%s", base); break;
    case OPT_STR2: snprintf(buf, len, "%s %s", base, base + sizeof(dt_str)); break;
    case OPT_OPTPATH: {
        const dt_optpath *op = (const dt_optpath *)base;
        snprintf(buf, len, "%s", !op->on ? "" : op->path[0] ? op->path : o->choices);
        break;
    }
    case OPT_CHOICE: {
        const char *name = config_choice_name(o, *(const int *)base);
        snprintf(buf, len, "%s", name ? name : "");
        break;
    }
    case OPT_CHOICES: {
        const dt_choices *c = (const dt_choices *)base;
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < c->n && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                     config_choice_name(o, c->v[i]));
        break;
    }
    case OPT_EVERY: {
        int64_t e = *(const int64_t *)base;
        if (e <= 0)
            snprintf(buf, len, "%s", e ? o->choices : "");
        else
            snprintf(buf, len, "%lld", (long long)e);
        break;
    }
    case OPT_LAYERS: model_format_layers((const dt_layers *)base, buf, len); break;
    case OPT_INT: snprintf(buf, len, "%lld", (long long)*(const int64_t *)base); break;
    case OPT_REAL: {
        /* the shortest text that reads back as the same double; NaN (not
         * given, the method's own default) is "auto" */
        double v = *(const double *)base;
        snprintf(buf, len, "%s", isnan(v) ? "auto" : "");
        for (int prec = 6; prec <= 17 && !isnan(v); prec++) {
            snprintf(buf, len, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        break;
    }
    case OPT_FLAG: snprintf(buf, len, "%d", *(const int *)base); break;
    }
}

/* The bytes option o occupies in dt_config. */
static size_t field_size(const dt_option *o)
{
    switch (o->type) {
    case OPT_STR:
    case OPT_LIST: return sizeof(dt_str);
    case OPT_STR2: return 2 * sizeof(dt_str);
    case OPT_OPTPATH: return sizeof(dt_optpath);
    case OPT_CHOICE:
    case OPT_FLAG: return sizeof(int);
    case OPT_CHOICES: return sizeof(dt_choices);
    case OPT_LAYERS: return sizeof(dt_layers);
    case OPT_EVERY:
    case OPT_INT: return sizeof(int64_t);
    case OPT_REAL: return sizeof(double);
    }
    return 0;
}

void config_get_value(const dt_config *c, const dt_option *o, dt_value *v)
{
    if (field_size(o) > sizeof *v)
        abort(); /* OPT_STR2: not a dt_value (a programming error) */
    memcpy(v, (const char *)c + o->offset, field_size(o));
}

void config_put_value(dt_config *c, const dt_option *o, const dt_value *v)
{
    if (field_size(o) > sizeof *v)
        abort();
    memcpy((char *)c + o->offset, v, field_size(o));
    c->given[row_of(o)] = 1;
}

int config_same(const dt_config *a, const dt_config *b, const dt_option *o)
{
    /* through the text: strings compare up to their end, a real by value */
    char va[2 * DT_PATH_MAX + 2], vb[2 * DT_PATH_MAX + 2];
    config_value_str(a, o, va, sizeof va);
    config_value_str(b, o, vb, sizeof vb);
    return strcmp(va, vb) == 0;
}

const dt_option *config_option(const char *name) { return config_find(name, ~0u); }

int config_given_at(const dt_config *cfg, size_t offset)
{
    size_t n_options;
    const dt_option *options = config_options(&n_options);
    /* a field may have a row per command (--seed): given by any of them */
    for (size_t i = 0; i < n_options; i++)
        if (options[i].offset == offset && cfg->given[i])
            return 1;
    return 0;
}

/* Print text wrapped at width 78, continuation lines indented by `indent`. */
static void wrap(FILE *out, const char *text, int indent, int col)
{
    const char *p = text;
    int first = 1;
    while (*p) {
        while (*p == ' ') p++;
        const char *sp = p;
        while (*sp && *sp != ' ') sp++;
        int wl = (int)(sp - p);
        if (!wl)
            break;
        if (!first && col + 1 + wl > 78) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", wl, p);
        col += wl;
        first = 0;
        p = sp;
    }
    fputc('\n', out);
}

void config_print_help(FILE *out, unsigned cmd)
{
    size_t n_options;
    const dt_option *options = config_options(&n_options);
    cmd = cmd_mask(cmd);
    for (size_t i = 0; i < n_options; i++) {
        const dt_option *o = &options[i];
        if (!(o->cmds & cmd))
            continue;
        char head[160];
        if (o->type == OPT_CHOICE) {
            char list[128];
            config_choice_list(o, list, sizeof list);
            snprintf(head, sizeof head, "  --%s %s", o->name, list);
        }
        else
            snprintf(head, sizeof head, "  --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        fprintf(out, "%s\n", head);
        char text[1024];
        /* a help text that states its defaults itself ("[default: 0; 0.9 for
         * momentum]") is not given the table's once more */
        if (o->def && o->def[0] && o->type != OPT_FLAG && !strstr(o->help, "[default:"))
            snprintf(text, sizeof text, "%s [default: %s]", o->help, o->def);
        else
            snprintf(text, sizeof text, "%s", o->help);
        fprintf(out, "      ");
        wrap(out, text, 6, 6);
    }
}
