/* dtrain: configuration files (libyaml). */
#include "dtrain/yamlconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "dtrain/fsutil.h"

/* YAML 1.1's words for true and false, for flags: 1, 0, or -1 if neither. */
static int yaml_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "y", "1"};
    static const char *const no[] = {"false", "no", "off", "n", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcasecmp(v, yes[i]))
            return 1;
        if (!strcasecmp(v, no[i]))
            return 0;
    }
    return -1;
}

typedef struct {
    yaml_parser_t parser;
    yaml_event_t event; /* the current event (deleted by next()) */
    const char *path;
    unsigned cmd;
    dt_config *cfg;
} reader;

static dt_status next(reader *r, dt_error *err)
{
    yaml_event_delete(&r->event);
    if (!yaml_parser_parse(&r->parser, &r->event)) {
        memset(&r->event, 0, sizeof r->event); /* nothing to delete */
        return dt_fail(err, DT_EUSAGE, "%s:%zu:%zu: not valid YAML: %s", r->path,
                       r->parser.problem_mark.line + 1, r->parser.problem_mark.column + 1,
                       r->parser.problem ? r->parser.problem : "parse error");
    }
    return DT_OK;
}

static size_t line_of(const reader *r) { return r->event.start_mark.line + 1; }

/* One scalar value of option o (key at line). */
static dt_status set_scalar(reader *r, const dt_option *o, const char *v, size_t line,
                            dt_error *err)
{
    if (o->type == OPT_FLAG) {
        int b = yaml_bool(v);
        if (b < 0)
            return dt_fail(err, DT_EUSAGE, "%s:%zu: %s is a flag: true or false, not '%s'",
                           r->path, line, o->name, v);
        v = b ? "1" : "0";
    } else if (!v[0] && (o->type == OPT_OPTPATH || o->type == OPT_EVERY)) {
        v = o->choices; /* "resume:" alone is --resume */
    } else if (!v[0]) {
        return dt_fail(err, DT_EUSAGE, "%s:%zu: %s has no value", r->path, line, o->name);
    }
    /* a relative name is the file's: the same file works from any directory */
    char joined[2 * DT_PATH_MAX];
    if ((o->facts & OPTF_PATH) && !(o->choices && !strcmp(v, o->choices))) {
        char dir[DT_PATH_MAX];
        fs_dirname(r->path, dir, sizeof dir);
        if (fs_join(dir, v, joined, sizeof joined))
            return dt_fail(err, DT_EUSAGE, "%s:%zu: %s: '%s' read against %s is longer than "
                           "%d bytes", r->path, line, o->name, v, dir, DT_PATH_MAX - 1);
        v = joined;
    }
    dt_status st = config_set(r->cfg, r->cmd, o->name, v, err);
    return st ? dt_fail_prefix(err, "%s:%zu", r->path, line) : DT_OK;
}

/* The value of the key just read: a scalar, or a list of them for a
 * repeatable option. */
static dt_status read_value(reader *r, const dt_option *o, size_t line, dt_error *err)
{
    dt_status st = next(r, err);
    if (st)
        return st;
    if (r->event.type == YAML_SCALAR_EVENT)
        return set_scalar(r, o, (const char *)r->event.data.scalar.value, line, err);
    if (r->event.type != YAML_SEQUENCE_START_EVENT || o->type != OPT_LIST)
        return dt_fail(err, DT_EUSAGE, "%s:%zu: %s takes one value, not a %s", r->path, line,
                       o->name, r->event.type == YAML_SEQUENCE_START_EVENT ? "list" : "mapping");
    while (!(st = next(r, err)) && r->event.type == YAML_SCALAR_EVENT)
        if ((st = set_scalar(r, o, (const char *)r->event.data.scalar.value, line_of(r), err)))
            return st;
    if (!st && r->event.type != YAML_SEQUENCE_END_EVENT)
        st = dt_fail(err, DT_EUSAGE, "%s:%zu: %s: a list of single values expected", r->path,
                     line_of(r), o->name);
    return st;
}

/* The top-level mapping, key by key. */
static dt_status read_mapping(reader *r, dt_error *err)
{
    unsigned char seen[256] = {0};
    size_t n_opts;
    const dt_option *table = config_options(&n_opts);
    dt_status st;
    while (!(st = next(r, err)) && r->event.type == YAML_SCALAR_EVENT) {
        const char *key = (const char *)r->event.data.scalar.value;
        const size_t line = line_of(r);
        const dt_option *o = config_find(key, r->cmd);
        if (!o) /* config_set words "unknown option (did you mean ...)" */
            return config_set(r->cfg, r->cmd, key, "", err),
                   dt_fail_prefix(err, "%s:%zu", r->path, line);
        if (o->offset == offsetof(dt_config, config_file))
            return dt_fail(err, DT_EUSAGE, "%s:%zu: a config file cannot name another", r->path,
                           line);
        if ((size_t)(o - table) < sizeof seen && seen[o - table]++)
            return dt_fail(err, DT_EUSAGE, "%s:%zu: %s given twice", r->path, line, key);
        if ((st = read_value(r, o, line, err)))
            return st;
    }
    if (!st && r->event.type != YAML_MAPPING_END_EVENT)
        st = dt_fail(err, DT_EUSAGE, "%s:%zu: expected 'option: value' keys", r->path,
                     line_of(r));
    return st;
}

dt_status yamlconf_read(const char *path, unsigned cmd, dt_config *cfg, dt_error *err)
{
    dt_status st = fs_check_input(path, err);
    if (st)
        return dt_fail_prefix(err, "%s", dt_opt("config"));
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dt_fail_opt(err, DT_EUSAGE, "config", "%s %s: cannot open", dt_opt("config"),
                           path);
    reader r = {.path = path, .cmd = cmd, .cfg = cfg};
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_file(&r.parser, fp);
    /* stream start, then one document holding a mapping (an empty file sets nothing) */
    if (!(st = next(&r, err)) && !(st = next(&r, err)) && r.event.type == YAML_DOCUMENT_START_EVENT) {
        if (!(st = next(&r, err))) {
            if (r.event.type == YAML_MAPPING_START_EVENT)
                st = read_mapping(&r, err);
            else if (!(r.event.type == YAML_SCALAR_EVENT && !r.event.data.scalar.value[0]))
                st = dt_fail(err, DT_EUSAGE, "%s:%zu: expected 'option: value' keys", path,
                             line_of(&r));
        }
        if (!st && !(st = next(&r, err)) && !(st = next(&r, err)) &&
            r.event.type == YAML_DOCUMENT_START_EVENT)
            st = dt_fail(err, DT_EUSAGE, "%s:%zu: one document expected, found a second",
                         path, line_of(&r));
    }
    yaml_event_delete(&r.event);
    yaml_parser_delete(&r.parser);
    fclose(fp);
    /* the file is one of the run's inputs: no output may replace it */
    return st ? st : config_set(cfg, cmd, "config", path, err);
}

/* ---- writing ------------------------------------------------------------------- */

static int emit_scalar(yaml_emitter_t *e, const char *v, int quoted)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)v, (int)strlen(v), 1, 1,
                                 quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                        : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(e, &ev);
}

static int emit_plain(yaml_emitter_t *e, yaml_event_type_t t)
{
    yaml_event_t ev;
    switch (t) {
    case YAML_STREAM_START_EVENT: yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING); break;
    case YAML_STREAM_END_EVENT: yaml_stream_end_event_initialize(&ev); break;
    case YAML_DOCUMENT_START_EVENT: yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1); break;
    case YAML_DOCUMENT_END_EVENT: yaml_document_end_event_initialize(&ev, 1); break;
    case YAML_MAPPING_START_EVENT:
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        break;
    default: yaml_mapping_end_event_initialize(&ev); break;
    }
    return yaml_emitter_emit(e, &ev);
}

static int write_fp(void *data, unsigned char *buf, size_t n)
{
    return fwrite(buf, 1, n, (FILE *)data) == n;
}

/* Words that another YAML reader (YAML 1.1) would take for a boolean or null. */
static int yaml_word(const char *v)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "y", "n",
                                        "null", "~"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(v, words[i]))
            return 1;
    return 0;
}

/* One YAML document of the train options of cfg that differ from def, those
 * with OPTF_OUTPUT or the others (outputs), through emitter e. */
static int emit_options(yaml_emitter_t *e, const dt_config *cfg, const dt_config *def,
                        int outputs)
{
    int ok = emit_plain(e, YAML_STREAM_START_EVENT) && emit_plain(e, YAML_DOCUMENT_START_EVENT) &&
             emit_plain(e, YAML_MAPPING_START_EVENT);
    size_t n;
    const dt_option *o = config_options(&n);
    for (size_t i = 0; ok && i < n; i++) {
        if (!(o[i].cmds & CMD_TRAIN) || o[i].type == OPT_STR2 ||
            o[i].offset == offsetof(dt_config, config_file) ||
            !(o[i].facts & OPTF_OUTPUT) != !outputs)
            continue;
        char v[2 * DT_PATH_MAX + 2];
        config_value_str(cfg, &o[i], v, sizeof v);
        if (!v[0] || config_same(cfg, def, &o[i]))
            continue; /* defaults stay out: an option given is checked as given */
        const char *text = o[i].type == OPT_FLAG ? (v[0] == '1' ? "true" : "false") : v;
        const int quoted = o[i].type != OPT_FLAG && yaml_word(text);
        ok = emit_scalar(e, o[i].name, 0) && emit_scalar(e, text, quoted);
    }
    return ok && emit_plain(e, YAML_MAPPING_END_EVENT) &&
           emit_plain(e, YAML_DOCUMENT_END_EVENT) && emit_plain(e, YAML_STREAM_END_EVENT) &&
           yaml_emitter_flush(e);
}

dt_status yamlconf_write(FILE *out, const dt_config *cfg, dt_error *err)
{
    dt_config *def = malloc(sizeof *def); /* large: off the stack, and no static */
    if (!def)
        return dt_fail(err, DT_ENOMEM, "out of memory writing the configuration");
    config_defaults(def);
    yaml_emitter_t e;
    yaml_emitter_initialize(&e);
    yaml_emitter_set_output(&e, write_fp, out);
    yaml_emitter_set_width(&e, -1); /* long values on one line */
    int ok = emit_options(&e, cfg, def, 0);
    char problem[256];
    snprintf(problem, sizeof problem, "%s", e.problem ? e.problem : "write error");
    yaml_emitter_delete(&e);
    /* the outputs as comments: running the file again must not replace the
     * files of the run it describes, nor continue that run */
    unsigned char buf[16 * DT_PATH_MAX];
    size_t len = 0;
    if (ok) {
        yaml_emitter_initialize(&e);
        yaml_emitter_set_output_string(&e, buf, sizeof buf - 1, &len);
        yaml_emitter_set_width(&e, -1);
        ok = emit_options(&e, cfg, def, 1);
        snprintf(problem, sizeof problem, "%s", e.problem ? e.problem : "write error");
        yaml_emitter_delete(&e);
        buf[len] = '\0';
    }
    if (ok && len && strcmp((const char *)buf, "{}\n")) {
        fputs("# The outputs of the run this came from, left out so that running this file\n"
              "# again cannot replace them (give new ones on the command line):\n", out);
        for (const char *line = (const char *)buf; *line;) {
            const size_t n = strcspn(line, "\n");
            fprintf(out, "# %.*s\n", (int)n, line);
            line += n + (line[n] == '\n');
        }
    }
    free(def);
    if (ok && (fflush(out) || ferror(out)))
        ok = 0;
    return ok ? DT_OK : dt_fail(err, DT_EIO, "cannot write the configuration: %s", problem);
}
