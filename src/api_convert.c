/* dtrain: conversion of IDX and CSV files to dtrain's HDF5 layout as a
 * public call (dtrain.h), over the converter (convert.h).  The options come
 * from the run; rank 0 converts, and every rank gets the status and the
 * summary. */
#include "dtrain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/convert.h"
#include "dtrain/fsutil.h"
#include "dtrain/jsonout.h"

struct dtrain_convert_result {
    convert_summary sum;
    dt_names names; /* the run's naming of options, for the printed summary's hints */
};

/* What a conversion needs, from the run's options. */
typedef struct {
    const char *out;
    const char *images, *labels, *test_images, *test_labels; /* IDX; test NULL: none */
    const char *csv;
    convert_csv_opts opts;
    double test_fraction;
    uint64_t seed;
} convert_request;

/* The first option given that means something for CSV input only, or NULL. */
static const char *csv_only_given(const dt_config *cfg)
{
    size_t n;
    const dt_option *opts = config_options(&n);
    for (size_t i = 0; i < n; i++)
        if ((opts[i].facts & OPTF_CSV_ONLY) && cfg->given[i])
            return opts[i].name;
    return NULL;
}

/* label-column NAME|INDEX: an index when it reads as a whole number. */
static void parse_label_column(const char *text, convert_csv_opts *o)
{
    char *end;
    long long v = text[0] ? strtoll(text, &end, 10) : 0;
    if (text[0] && *end == '\0') {
        o->label_col = v < -1 ? -2 : v; /* below -1: refused by convert_read_csv */
        return;
    }
    o->label_name = text;
}

/* delimiter: auto (0), or the separator itself, or its name. */
static dt_status parse_delimiter(const char *text, char *out, dt_error *err)
{
    static const struct { const char *name; char c; } names[] = {
        {"auto", 0}, {"comma", ','}, {"semicolon", ';'}, {"tab", '\t'}, {"\\t", '\t'},
        {"space", ' '}, {"whitespace", ' '}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].c;
            return DT_OK;
        }
    if (strlen(text) == 1 && text[0] != '"' && text[0] != '\n' && text[0] != '\r') {
        *out = text[0];
        return DT_OK;
    }
    return dt_fail(err, DT_EUSAGE, "%s '%s': expected one character (',' ';' '|'), "
                   "tab, space or auto", dt_opt("delimiter"), text);
}

/* x-dtype's choices as the file's element types. */
static const dt_dtype x_types[] = {[XTYPE_FLOAT32] = DT_F32, [XTYPE_FLOAT64] = DT_F64,
                                   [XTYPE_UINT8] = DT_U8, [XTYPE_INT32] = DT_I32};

_Static_assert((int)LABEL_CLASS == (int)CONVERT_LABEL_CLASS &&
                   (int)LABEL_FLOAT == (int)CONVERT_LABEL_FLOAT &&
                   (int)LABEL_AUTO == (int)CONVERT_LABEL_AUTO,
               "label-type's choices are convert_label_type's");

/* The CSV options as the converter takes them. */
static dt_status csv_options(const dt_config *cfg, convert_csv_opts *opts, dt_error *err)
{
    if (cfg->convert.no_labels && (CONFIG_GIVEN(cfg, convert.test_fraction) || CONFIG_GIVEN(cfg, convert.label_column) ||
                           CONFIG_GIVEN(cfg, convert.label_type)))
        return dt_fail(err, DT_EUSAGE, "%s writes every row to /test as features: "
                       "%s, %s and %s do not apply", dt_opt("no-labels"),
                       dt_opt("test-fraction"), dt_opt("label-column"), dt_opt("label-type"));
    *opts = (convert_csv_opts){
        .header = cfg->convert.header,
        .label_col = -1,
        .no_labels = cfg->convert.no_labels,
        .label_type = (convert_label_type)cfg->convert.label_type,
        .x_type = x_types[cfg->convert.x_dtype],
        .missing = cfg->convert.missing,
    };
    if (CONFIG_GIVEN(cfg, convert.label_column))
        parse_label_column(cfg->convert.label_column, opts);
    return parse_delimiter(cfg->convert.delimiter, &opts->delimiter, err);
}

/* The inputs and output: exactly one input kind, its options, the files'
 * roles (no output replacing an input). */
static dt_status check_inputs(const dt_config *cfg, dt_error *err)
{
    const int idx = CONFIG_GIVEN(cfg, convert.idx), csv = CONFIG_GIVEN(cfg, convert.csv);
    if (idx == csv)
        return dt_fail(err, DT_EUSAGE, "convert needs exactly one input: %s IMAGES LABELS or "
                       "%s FILE", dt_opt("idx"), dt_opt("csv"));
    if (!cfg->out[0])
        return dt_fail(err, DT_EUSAGE, "convert needs %s FILE.h5", dt_opt("out"));
    if (CONFIG_GIVEN(cfg, convert.idx_test) && !idx)
        return dt_fail(err, DT_EUSAGE, "%s goes with %s; for CSV input use %s",
                       dt_opt("idx-test"), dt_opt("idx"), dt_opt("test-fraction"));
    const char *csv_only = idx ? csv_only_given(cfg) : NULL;
    if (csv_only)
        return dt_fail(err, DT_EUSAGE, "%s applies to %s input only (IDX files hold uint8 "
                       "images and class labels; give a test set with %s)",
                       dt_opt(csv_only), dt_opt("csv"), dt_opt("idx-test"));
    const fs_file files[] = {
        {dt_opt("csv"), cfg->convert.csv, FS_INPUT},           {dt_opt("idx"), cfg->convert.idx[0], FS_INPUT},
        {dt_opt("idx"), cfg->convert.idx[1], FS_INPUT},        {dt_opt("idx-test"), cfg->convert.idx_test[0], FS_INPUT},
        {dt_opt("idx-test"), cfg->convert.idx_test[1], FS_INPUT}, {dt_opt("out"), cfg->out, FS_OUTPUT},
    };
    return fs_check_files(files, sizeof files / sizeof files[0], NULL, err);
}

/* The run's options as a request, checked. */
static dt_status request_of(const dt_config *cfg, convert_request *q, dt_error *err)
{
    memset(q, 0, sizeof *q);
    dt_status st = check_inputs(cfg, err);
    if (st)
        return st;
    q->out = cfg->out;
    q->test_fraction = cfg->convert.test_fraction;
    q->seed = (uint64_t)cfg->train.seed;
    if (CONFIG_GIVEN(cfg, convert.idx)) {
        const int with_test = CONFIG_GIVEN(cfg, convert.idx_test);
        q->images = cfg->convert.idx[0];
        q->labels = cfg->convert.idx[1];
        q->test_images = with_test ? cfg->convert.idx_test[0] : NULL;
        q->test_labels = with_test ? cfg->convert.idx_test[1] : NULL;
        return DT_OK;
    }
    q->csv = cfg->convert.csv;
    return csv_options(cfg, &q->opts, err);
}

/* Rank 0's part: the whole conversion. */
static dt_status convert_on_root(const dt_config *cfg, convert_summary *sum, dt_error *err)
{
    convert_request q;
    dt_status st = request_of(cfg, &q, err);
    if (st)
        return st;
    if (q.images)
        return convert_idx(q.out, q.images, q.labels, q.test_images, q.test_labels, sum, err);
    return convert_csv(q.out, q.csv, &q.opts, q.test_fraction, q.seed, sum, err);
}

dtrain_status dtrain_convert(dtrain_run *run, dtrain_convert_result **result)
{
    dt_status st = api_usable(run, "dtrain_convert");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dtrain_convert_result *r = api_result_new(run, "dtrain_convert", result, sizeof *r, &st);
    if (!st && comm_rank(run->comm) == 0)
        st = convert_on_root(&run->cfg, &r->sum, err);
    if ((st = comm_agree(run->comm, st, err))) {
        free(r);
        return api_leave(prev, st);
    }
    comm_bcast(run->comm, &r->sum, sizeof r->sum, 0); /* plain data: no pointers */
    r->names = run->opt_names;
    *result = r;
    return api_leave(prev, DT_OK);
}

void dtrain_convert_result_free(dtrain_convert_result *r) { free(r); }

dtrain_status dtrain_convert_print(const dtrain_convert_result *r, FILE *out, FILE *warn)
{
    if (!r || !out)
        return DTRAIN_EUSAGE;
    const dt_names prev = dt_names_swap(r->names);
    convert_print_summary(out, warn, &r->sum);
    dt_names_swap(prev);
    return ferror(out) || (warn && ferror(warn)) ? DTRAIN_EIO : DTRAIN_OK;
}

int dtrain_convert_n_groups(const dtrain_convert_result *r) { return r ? r->sum.n_groups : 0; }

static const convert_group_info *group_of(const dtrain_convert_result *r, int i)
{
    return r && i >= 0 && i < r->sum.n_groups ? &r->sum.g[i] : NULL;
}

const char *dtrain_convert_group(const dtrain_convert_result *r, int i)
{
    const convert_group_info *g = group_of(r, i);
    return g ? g->group : NULL;
}

int64_t dtrain_convert_rows(const dtrain_convert_result *r, int i)
{
    const convert_group_info *g = group_of(r, i);
    return g ? g->n : -1;
}

int64_t dtrain_convert_features(const dtrain_convert_result *r, int i)
{
    const convert_group_info *g = group_of(r, i);
    return g ? g->d : -1;
}

const char *dtrain_convert_label_type(const dtrain_convert_result *r)
{
    if (!r || !r->sum.g[0].has_y)
        return "";
    return r->sum.g[0].y_type == DT_F32 ? "float" : "class";
}

int64_t dtrain_convert_n_classes(const dtrain_convert_result *r)
{
    if (!r || !r->sum.n_groups || !r->sum.g[0].has_y || r->sum.g[0].y_type == DT_F32)
        return 0;
    int64_t k = 0;
    for (int i = 0; i < r->sum.n_groups; i++)
        k = r->sum.g[i].n_classes > k ? r->sum.g[i].n_classes : k;
    return k;
}

/* One group as a JSON object. */
static void json_group(json_buf *j, const convert_group_info *g)
{
    json_begin_object(j);
    json_key(j, "group");
    json_string(j, g->group);
    json_key(j, "rows");
    json_int(j, g->n);
    json_key(j, "features");
    json_int(j, g->d);
    json_key(j, "x_type");
    json_string(j, dt_dtype_name(g->x_type));
    json_key(j, "labels");
    json_string(j, !g->has_y ? "none" : g->y_type == DT_F32 ? "float" : "class");
    if (g->has_y && g->y_type != DT_F32) {
        json_key(j, "classes");
        json_int(j, g->n_classes);
        json_key(j, "classes_present");
        json_int(j, g->n_present);
    }
    if (g->has_y) {
        json_key(j, "y_min");
        json_number(j, g->y_min);
        json_key(j, "y_max");
        json_number(j, g->y_max);
    }
    json_key(j, "missing");
    json_int(j, g->n_missing);
    json_end_object(j);
}

/* The result's JSON members (json_render adds the braces). */
static void json_body(json_buf *j, const void *obj)
{
    const dtrain_convert_result *r = obj;
    json_key(j, "groups");
    json_begin_array(j);
    for (int i = 0; i < r->sum.n_groups; i++)
        json_group(j, &r->sum.g[i]);
    json_end_array(j);
    json_key(j, "label_rule");
    json_string(j, r->sum.label_rule);
    json_key(j, "class_names");
    json_int(j, r->sum.n_classes);
    json_key(j, "dropped");
    json_int(j, r->sum.dropped);
    json_key(j, "filled");
    json_bool(j, r->sum.filled);
}

dtrain_status dtrain_convert_json(const dtrain_convert_result *r, char **json)
{
    return (dtrain_status)json_render(json, r, json_body);
}
