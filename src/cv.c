/* dtrain: grid expansion, folds and the results table of a cross-validated search. */
#include "dtrain/cv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/loss.h"

/* Which train options a search refuses (and why), and which a --grid may not
 * vary, are the cv_rejected and OPTF_CV_FIXED columns of the option table. */
dt_status cv_check_options(const dt_config *cfg, dt_error *err)
{
    size_t n;
    const dt_option *opts = config_options(&n);
    for (size_t i = 0; i < n; i++)
        if (opts[i].cv_rejected && cfg->given[i])
            return dt_fail_opt(err, DT_EUSAGE, opts[i].name, "%s does not apply to cv: %s",
                               dt_opt(opts[i].name), opts[i].cv_rejected);
    return DT_OK;
}

/* Why option o (named key in the entry `quoted`) may not be a grid's key:
 * fixed for the whole search, refused by cv, or not a train option. */
static dt_status check_key(const dt_option *o, const char *key, const char *quoted,
                           dt_error *err)
{
    if (o->facts & OPTF_CV_FIXED)
        return dt_fail_opt(err, DT_EUSAGE, "grid", "%s: %s is the same for the whole search",
                           quoted, dt_opt(key));
    if (o->cv_rejected)
        return dt_fail_opt(err, DT_EUSAGE, "grid", "%s: %s does not apply to cv: %s", quoted,
                           dt_opt(key), o->cv_rejected);
    if (!(o->cmds & CMD_TRAIN))
        return dt_fail_opt(err, DT_EUSAGE, "grid", "%s: %s is not a train option", quoted,
                           dt_opt(key));
    return DT_OK;
}

/* The failure of a key no option has, after `quoted`. */
static dt_status unknown_key(const char *key, const char *quoted, const dt_config *base,
                             dt_config *scratch, dt_error *err)
{
    /* the "unknown option (did you mean ...)" message as the options are
     * named: config_parse words it as flags, config_set as keys */
    char arg[DT_PATH_MAX + 8];
    snprintf(arg, sizeof arg, "--%s", key);
    char *argv[1] = {arg};
    int help = 0;
    *scratch = *base;
    if ((dt_names_get() == DT_NAMES_FLAGS
             ? config_parse(scratch, CMD_TRAIN, 1, argv, &help, err)
             : config_set(scratch, CMD_TRAIN, key, "", err)) == DT_OK || help)
        dt_fail(err, DT_EUSAGE, "unknown option %s", dt_opt(key));
    const dt_status st = dt_fail_prefix(err, "%s", quoted);
    if (err)
        snprintf(err->option, sizeof err->option, "grid");
    return st;
}

/* ax's values from v ("V1|V2|...", split in place), each parsed as its
 * option on a copy of base. */
static dt_status parse_values(cv_axis *ax, char *v, const char *quoted, const dt_config *base,
                              dt_config *scratch, dt_error *err)
{
    const dt_option *o = ax->opt;
    ax->n_values = 0;
    for (;;) {
        char *bar = strchr(v, '|');
        if (bar)
            *bar = '\0';
        if (ax->n_values == CV_MAX_VALUES)
            return dt_fail(err, DT_EUSAGE, "%s: at most %d values per key", quoted,
                           CV_MAX_VALUES);
        *scratch = *base;
        if (config_set(scratch, CMD_TRAIN, o->name, v, err))
            return dt_fail_prefix(err, "%s", quoted);
        config_get_value(scratch, o, &ax->value[ax->n_values]);
        ax->values[ax->n_values++] = v;
        if (!bar)
            return DT_OK;
        v = bar + 1;
    }
}

static dt_status parse_entry(char *entry, const dt_config *base, dt_config *scratch, cv_grid *g,
                             dt_error *err)
{
    char quoted[DT_PATH_MAX + 16];
    snprintf(quoted, sizeof quoted, "%s '%s'", dt_opt("grid"), entry);
    char *eq = strchr(entry, '=');
    if (!eq || eq == entry)
        return dt_fail(err, DT_EUSAGE, "%s: expected KEY=V1|V2|... (KEY a train option)",
                       quoted);
    *eq = '\0';
    const char *key = entry;
    const dt_option *o = config_option(key);
    dt_status st;
    if (!o)
        return unknown_key(key, quoted, base, scratch, err);
    if ((st = check_key(o, key, quoted, err)))
        return st;
    for (int a = 0; a < g->n_axes; a++)
        if (g->axes[a].opt == o)
            return dt_fail_opt(err, DT_EUSAGE, "grid", "%s: %s %s given twice", quoted,
                               dt_opt("grid"), key);
    if (g->n_axes == CV_MAX_AXES)
        return dt_fail_opt(err, DT_EUSAGE, "grid", "%s: at most %d %s options", quoted,
                           CV_MAX_AXES, dt_opt("grid"));
    cv_axis *ax = &g->axes[g->n_axes];
    ax->opt = o;
    if ((st = parse_values(ax, eq + 1, quoted, base, scratch, err)))
        return st;
    if (g->n_configs > CV_MAX_CONFIGS / ax->n_values)
        return dt_fail(err, DT_EUSAGE, "%s: more than %d configurations", quoted,
                       CV_MAX_CONFIGS);
    g->n_configs *= ax->n_values;
    g->n_axes++;
    return DT_OK;
}

dt_status cv_grid_parse(const char *list, const dt_config *base, cv_grid *g, dt_error *err)
{
    memset(g, 0, sizeof *g);
    g->n_configs = 1;
    snprintf(g->text, sizeof g->text, "%s", list);
    dt_config *scratch = malloc(sizeof *scratch);
    if (!scratch)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    dt_status st = DT_OK;
    char *entry = g->text;
    while (!st && *entry) {
        char *nl = strchr(entry, '\n');
        if (nl)
            *nl = '\0';
        st = parse_entry(entry, base, scratch, g, err);
        entry = nl ? nl + 1 : entry + strlen(entry);
    }
    free(scratch);
    if (st) {
        memset(g, 0, sizeof *g);
        g->n_configs = 1;
    }
    return st;
}

int cv_grid_value(const cv_grid *g, int64_t c, int a)
{
    for (int b = g->n_axes - 1; b > a; b--)
        c /= g->axes[b].n_values;
    return (int)(c % g->axes[a].n_values);
}

void cv_grid_config(const cv_grid *g, const dt_config *base, int64_t c, dt_config *cfg)
{
    *cfg = *base;
    for (int a = 0; a < g->n_axes; a++) {
        const cv_axis *ax = &g->axes[a];
        config_put_value(cfg, ax->opt, &ax->value[cv_grid_value(g, c, a)]);
    }
}

/* A value as shown in the table: "" stays visible. */
static const char *shown(const char *v) { return v[0] ? v : "\"\""; }

void cv_grid_describe(const cv_grid *g, int64_t c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (!g->n_axes)
        snprintf(buf, len, "command line");
    for (int a = 0; a < g->n_axes && used < len; a++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", a ? " " : "",
                                 g->axes[a].opt->name,
                                 shown(g->axes[a].values[cv_grid_value(g, c, a)]));
}

dt_status cv_folds(const dt_dataset *ds, int k, uint64_t seed, int32_t *fold_of_row,
                   dt_error *err)
{
    if (k > ds->n)
        return dt_fail_opt(err, DT_EUSAGE, "folds", "%s %d: the training split has only %lld "
                           "samples", dt_opt("folds"), k, (long long)ds->n);
    return metrics_kfold(ds->labels, ds->n, k, seed, fold_of_row, err);
}

dt_status cv_fold_split(const dt_dataset *all, const int32_t *fold_of_row, int fold,
                        dt_dataset *train, dt_dataset *valid, dt_error *err)
{
    memset(train, 0, sizeof *train);
    memset(valid, 0, sizeof *valid);
    unsigned char *in_fold = malloc((size_t)all->n + 1);
    if (!in_fold)
        return dt_fail(err, DT_ENOMEM, "out of memory building fold %d", fold + 1);
    for (int64_t i = 0; i < all->n; i++) in_fold[i] = fold_of_row[i] == fold;
    dt_status st = dataset_subset(all, in_fold, 0, train, err);
    if (!st)
        st = dataset_subset(all, in_fold, 1, valid, err);
    free(in_fold);
    if (st) {
        dataset_free(train);
        dataset_free(valid);
        return dt_fail_prefix(err, "fold %d", fold + 1);
    }
    /* every fold's model has all the classes, even if its rows miss one */
    train->max_label = valid->max_label = all->max_label;
    return DT_OK;
}

typedef struct {
    double key; /* the printed mean, negated when higher is better: smaller is better */
    int64_t config;
} sort_key;

static int by_key(const void *pa, const void *pb)
{
    const sort_key *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->config > b->config) - (a->config < b->config);
}

/* x as the table prints it (4 decimals), read back. */
static double printed(double x)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.4f", x);
    return strtod(buf, NULL);
}

int64_t cv_rank(const cv_results *r, cv_summary *out)
{
    const int64_t nc = r->grid->n_configs;
    const int k = r->k;
    cv_summary *all = malloc((size_t)nc * sizeof *all);
    sort_key *keys = malloc((size_t)nc * sizeof *keys);
    int64_t good = 0;
    if (!all || !keys) {
        free(all);
        free(keys);
        return -1;
    }
    for (int64_t c = 0; c < nc; c++) {
        cv_summary *s = &all[c];
        const double *v = r->value + c * k;
        *s = (cv_summary){c, 0.0, 0.0, -1};
        for (int f = 0; f < k; f++) {
            if (isnan(v[f]) && s->failed_fold < 0)
                s->failed_fold = f;
            s->mean += v[f];
        }
        s->mean /= k;
        for (int f = 0; f < k; f++) s->std += (v[f] - s->mean) * (v[f] - s->mean);
        s->std = sqrt(s->std / k);
        if (s->failed_fold >= 0) {
            s->mean = s->std = NAN;
            continue;
        }
        double p = printed(s->mean);
        keys[good++] = (sort_key){metrics_higher_is_better(r->metric) ? -p : p, c};
    }
    qsort(keys, (size_t)good, sizeof *keys, by_key);
    int64_t n = 0;
    for (int64_t i = 0; i < good; i++) out[n++] = all[keys[i].config];
    for (int64_t c = 0; c < nc; c++)
        if (all[c].failed_fold >= 0)
            out[n++] = all[c];
    free(all);
    free(keys);
    return good;
}

/* The text of one cell of a configuration's row: column col is an axis value
 * (col < n_axes, or the single "configuration" column with no axis), then the
 * k folds, the mean and the standard deviation. */
static void cell(const cv_results *r, const cv_summary *s, int col, char *buf, size_t len)
{
    const cv_grid *g = r->grid;
    const int nk = g->n_axes ? g->n_axes : 1;
    if (col < nk) {
        if (!g->n_axes)
            snprintf(buf, len, "command line");
        else
            snprintf(buf, len, "%s", shown(g->axes[col].values[cv_grid_value(g, s->config, col)]));
        return;
    }
    col -= nk;
    double v = col < r->k ? r->value[s->config * r->k + col] : col == r->k ? s->mean : s->std;
    if (isnan(v))
        snprintf(buf, len, "%s", col < r->k ? "failed" : "-");
    else
        snprintf(buf, len, "%.4f", v);
}

static void header(const cv_results *r, int col, char *buf, size_t len)
{
    const int nk = r->grid->n_axes ? r->grid->n_axes : 1;
    if (col < nk)
        snprintf(buf, len, "%s", r->grid->n_axes ? r->grid->axes[col].opt->name : "configuration");
    else if (col - nk < r->k)
        snprintf(buf, len, "fold%d", col - nk + 1);
    else
        snprintf(buf, len, "%s", col - nk == r->k ? "mean" : "std");
}

static const char *failure(const cv_results *r, const cv_summary *s)
{
    if (!r->msg || s->failed_fold < 0)
        return "";
    return r->msg[s->config * r->k + s->failed_fold];
}

void cv_print_table(FILE *f, const cv_results *r, const cv_summary *sorted)
{
    const int64_t nc = r->grid->n_configs;
    const int nk = r->grid->n_axes ? r->grid->n_axes : 1, ncol = nk + r->k + 2;
    char buf[DT_PATH_MAX];
    int width[CV_MAX_AXES + 1024];
    if (ncol > (int)(sizeof width / sizeof width[0]))
        return;
    for (int col = 0; col < ncol; col++) {
        header(r, col, buf, sizeof buf);
        width[col] = (int)strlen(buf);
        for (int64_t i = 0; i < nc; i++) {
            cell(r, &sorted[i], col, buf, sizeof buf);
            if ((int)strlen(buf) > width[col])
                width[col] = (int)strlen(buf);
        }
    }
    fprintf(f, "validation %s per fold (%s is better); mean and standard deviation over the "
               "%d folds\n",
            metrics_name(r->metric), metrics_higher_is_better(r->metric) ? "higher" : "lower",
            r->k);
    fprintf(f, "rank");
    for (int col = 0; col < ncol; col++) {
        header(r, col, buf, sizeof buf);
        /* text columns left-aligned, numbers right-aligned */
        fprintf(f, "  %*s", col < nk ? -width[col] : width[col], buf);
    }
    fputc('\n', f);
    for (int64_t i = 0; i < nc; i++) {
        fprintf(f, "%4lld", (long long)i + 1);
        for (int col = 0; col < ncol; col++) {
            cell(r, &sorted[i], col, buf, sizeof buf);
            fprintf(f, "  %*s", col < nk ? -width[col] : width[col], buf);
        }
        if (sorted[i].failed_fold >= 0)
            fprintf(f, "  failed: %s (fold %d)", failure(r, &sorted[i]),
                    sorted[i].failed_fold + 1);
        fputc('\n', f);
    }
    if (nc && sorted[0].failed_fold < 0) {
        cv_grid_describe(r->grid, sorted[0].config, buf, sizeof buf);
        fprintf(f, "best: %s: %s %.4f +- %.4f\n", buf, metrics_name(r->metric), sorted[0].mean,
                sorted[0].std);
    } else {
        fprintf(f, "best: none, every configuration failed\n");
    }
}

/* One CSV field, quoted when it holds a separator, a quote or a line break. */
static void csv_field(FILE *f, const char *s, int first)
{
    if (!first)
        fputc(',', f);
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cv_print_csv(FILE *f, const cv_results *r, const cv_summary *sorted)
{
    const int nk = r->grid->n_axes ? r->grid->n_axes : 1, ncol = nk + r->k + 2;
    char buf[DT_PATH_MAX + 64];
    csv_field(f, "rank", 1);
    for (int col = 0; col < ncol; col++) {
        header(r, col, buf, sizeof buf);
        csv_field(f, buf, 0);
    }
    csv_field(f, "metric", 0); /* what mean and std are of, for readers of the file alone */
    csv_field(f, "status", 0);
    fputc('\n', f);
    for (int64_t i = 0; i < r->grid->n_configs; i++) {
        const cv_summary *s = &sorted[i];
        fprintf(f, "%lld", (long long)i + 1);
        for (int col = 0; col < ncol; col++) {
            if (col < nk) {
                /* the value as typed ("" stays empty) */
                csv_field(f,
                          r->grid->n_axes
                              ? r->grid->axes[col].values[cv_grid_value(r->grid, s->config, col)]
                              : "command line",
                          0);
                continue;
            }
            cell(r, s, col, buf, sizeof buf);
            csv_field(f, strcmp(buf, "failed") && strcmp(buf, "-") ? buf : "", 0);
        }
        csv_field(f, metrics_name(r->metric), 0);
        if (s->failed_fold >= 0) {
            snprintf(buf, sizeof buf, "failed: %s (fold %d)", failure(r, s), s->failed_fold + 1);
            csv_field(f, buf, 0);
        } else {
            csv_field(f, "ok", 0);
        }
        fputc('\n', f);
    }
}
