/* dtrain convert: IDX or CSV input to dtrain's HDF5 layout (see convert.h).
 * The conversion is serial; rank 0 does it and the other ranks return at once. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/convert.h"
#include "dtrain/fsutil.h"

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

/* --label-column NAME|INDEX: an index when it reads as a whole number. */
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

/* --delimiter: auto (0), or the separator itself, or its name. */
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
    return dt_fail(err, DT_EUSAGE, "--delimiter '%s': expected one character (',' ';' '|'), "
                   "tab, space or auto", text);
}

/* --x-dtype's choices as the file's element types. */
static const dt_dtype x_types[] = {[XTYPE_FLOAT32] = DT_F32, [XTYPE_FLOAT64] = DT_F64,
                                   [XTYPE_UINT8] = DT_U8, [XTYPE_INT32] = DT_I32};

static void print_group(const convert_group_info *g)
{
    if (!g->has_y) {
        printf("wrote %s: %lld x %lld %s, no labels\n", g->group, (long long)g->n,
               (long long)g->d, dt_dtype_name(g->x_type));
    } else if (g->y_type == DT_F32) {
        printf("wrote %s: %lld x %lld %s, float targets in [%g, %g]\n", g->group,
               (long long)g->n, (long long)g->d, dt_dtype_name(g->x_type), g->y_min, g->y_max);
    } else if (g->n_present == g->n_classes) {
        printf("wrote %s: %lld x %lld %s, %lld classes\n", g->group, (long long)g->n,
               (long long)g->d, dt_dtype_name(g->x_type), (long long)g->n_classes);
    } else {
        printf("wrote %s: %lld x %lld %s, %lld classes (%lld of them present)\n", g->group,
               (long long)g->n, (long long)g->d, dt_dtype_name(g->x_type),
               (long long)g->n_classes, (long long)g->n_present);
    }
}

_Static_assert((int)LABEL_CLASS == (int)CONVERT_LABEL_CLASS &&
                   (int)LABEL_FLOAT == (int)CONVERT_LABEL_FLOAT &&
                   (int)LABEL_AUTO == (int)CONVERT_LABEL_AUTO,
               "--label-type's choices are convert_label_type's");

/* The CSV options of the command line as the converter takes them. */
static dt_status csv_options(const dt_config *cfg, convert_csv_opts *opts, dt_error *err)
{
    if (cfg->convert.no_labels && (CONFIG_GIVEN(cfg, convert.test_fraction) || CONFIG_GIVEN(cfg, convert.label_column) ||
                           CONFIG_GIVEN(cfg, convert.label_type)))
        return dt_fail(err, DT_EUSAGE, "--no-labels writes every row to /test as features: "
                       "--test-fraction, --label-column and --label-type do not apply");
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

static void print_summary(const convert_summary *sum)
{
    if (sum->label_rule[0])
        printf("labels: %s (%s)\n", sum->label_float ? "float targets" : "classes",
               sum->label_rule);
    fflush(stdout);
    if (sum->label_doubt)
        fprintf(stderr, "dtrain: warning: the label column's integers were stored as classes "
                "by a close call; if they are quantities (counts, scores), convert again "
                "with --label-type float\n");
    for (int i = 0; i < sum->n_groups; i++)
        print_group(&sum->g[i]);
    if (sum->n_classes)
        printf("classes 0..%lld are %s (names in /classes)\n", (long long)sum->n_classes - 1,
               sum->class_list);
    if (sum->dropped)
        printf("left out %lld row%s with missing values (--missing drop)\n",
               (long long)sum->dropped, sum->dropped == 1 ? "" : "s");
    if (sum->filled)
        printf("filled missing values with the /train means (stored in /missing_fill)\n");
    for (int i = 0; i < sum->n_groups; i++)
        if (!sum->g[i].has_y && sum->g[i].n_missing)
            printf("kept %lld missing value%s as NaN in %s/X: predict and eval fill them "
                   "with the model's /missing_fill (a model trained on data converted with "
                   "--missing mean); a model without one refuses them\n",
                   (long long)sum->g[i].n_missing, sum->g[i].n_missing == 1 ? "" : "s",
                   sum->g[i].group);
    fflush(stdout);
}

dt_status cli_convert(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    if (comm_rank(world) != 0)
        return DT_OK;

    const int idx = CONFIG_GIVEN(cfg, convert.idx);
    const int csv = CONFIG_GIVEN(cfg, convert.csv);
    if (idx == csv)
        return dt_fail(err, DT_EUSAGE,
                       "convert needs exactly one input: --idx IMAGES LABELS or --csv FILE");
    if (!cfg->out[0])
        return dt_fail(err, DT_EUSAGE, "convert needs --out FILE.h5");
    if (CONFIG_GIVEN(cfg, convert.idx_test) && !idx)
        return dt_fail(err, DT_EUSAGE,
                       "--idx-test goes with --idx; for CSV input use --test-fraction");
    const char *csv_only = idx ? csv_only_given(cfg) : NULL;
    if (csv_only)
        return dt_fail(err, DT_EUSAGE,
                       "--%s applies to --csv input only (IDX files hold uint8 images "
                       "and class labels; give a test set with --idx-test)",
                       csv_only);

    const fs_file files[] = {
        {"--csv", cfg->convert.csv, FS_INPUT},           {"--idx", cfg->convert.idx[0], FS_INPUT},
        {"--idx", cfg->convert.idx[1], FS_INPUT},        {"--idx-test", cfg->convert.idx_test[0], FS_INPUT},
        {"--idx-test", cfg->convert.idx_test[1], FS_INPUT}, {"--out", cfg->out, FS_OUTPUT},
    };
    dt_status st = fs_check_files(files, sizeof files / sizeof files[0], NULL, err);
    if (st)
        return st;
    convert_summary sum;
    if (idx) {
        const int with_test = CONFIG_GIVEN(cfg, convert.idx_test);
        st = convert_idx(cfg->out, cfg->convert.idx[0], cfg->convert.idx[1],
                         with_test ? cfg->convert.idx_test[0] : NULL,
                         with_test ? cfg->convert.idx_test[1] : NULL, &sum, err);
    } else {
        convert_csv_opts opts;
        if (!(st = csv_options(cfg, &opts, err)))
            st = convert_csv(cfg->out, cfg->convert.csv, &opts, cfg->convert.test_fraction,
                             (uint64_t)cfg->train.seed, &sum, err);
    }
    if (st)
        return st;
    print_summary(&sum);
    return DT_OK;
}
