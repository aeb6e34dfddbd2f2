/* dtrain: IDX and CSV to dtrain's HDF5 layout: the tables' missing values,
 * split, writing and the whole conversions (convert.h).  Reading is in
 * convert_idx.c and convert_csv.c; HDF5 is reached only through h5io. */
#include "dtrain/convert.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtrain/dataset.h"
#include "dtrain/fsutil.h"
#include "dtrain/rng.h"

void convert_table_free(convert_table *t)
{
    if (!t)
        return;
    free(t->x);
    free(t->y);
    free(t->miss);
    memset(t, 0, sizeof *t);
}

/* Element i of a buffer of type t, as a double. */
static double value_at(const void *x, dt_dtype t, size_t i)
{
    switch (t) {
    case DT_U8: return ((const uint8_t *)x)[i];
    case DT_I32: return ((const int32_t *)x)[i];
    case DT_I64: return (double)((const int64_t *)x)[i];
    case DT_F32: return ((const float *)x)[i];
    case DT_F64: return ((const double *)x)[i];
    }
    return 0;
}

/* Element i of a buffer of type t set to v (rounded for integer types; v is
 * a mean of values of that type, so it is in range). */
static void value_set(void *x, dt_dtype t, size_t i, double v)
{
    switch (t) {
    case DT_U8: ((uint8_t *)x)[i] = (uint8_t)lround(v); break;
    case DT_I32: ((int32_t *)x)[i] = (int32_t)lround(v); break;
    case DT_I64: ((int64_t *)x)[i] = llround(v); break;
    case DT_F32: ((float *)x)[i] = (float)v; break;
    case DT_F64: ((double *)x)[i] = v; break;
    }
}

dt_status convert_fill_mean(convert_table *train, convert_table *test, convert_meta *meta,
                            dt_error *err)
{
    const int64_t d = train->d;
    double *sum = calloc((size_t)d + 1, sizeof *sum);
    int64_t *cnt = calloc((size_t)d + 1, sizeof *cnt);
    dt_status st = sum && cnt ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory for the means");
    for (int64_t i = 0; !st && i < train->n; i++)
        for (int64_t j = 0; j < d; j++)
            if (!train->miss || !train->miss[i * d + j]) {
                sum[j] += value_at(train->x, train->x_type, (size_t)(i * d + j));
                cnt[j]++;
            }
    for (int64_t j = 0; !st && j < d; j++) {
        if (!cnt[j]) {
            const char *name = meta->features ? meta->features[j] : NULL;
            st = dt_fail(err, DT_EUSAGE, "feature %lld%s%s%s has no value in the /train rows "
                         "to take the mean of (%s mean); drop the column or use "
                         "%s drop", (long long)j + 1, name ? " (" : "",
                         name ? name : "", name ? ")" : "", dt_opt("missing"),
                         dt_opt("missing"));
        }
        sum[j] /= (double)(cnt[j] ? cnt[j] : 1);
    }
    free(cnt);
    if (st) {
        free(sum);
        return st;
    }
    convert_table *parts[2] = {train, test};
    for (int p = 0; p < 2; p++)
        for (int64_t i = 0; parts[p] && parts[p]->miss && i < parts[p]->n * d; i++)
            if (parts[p]->miss[i])
                value_set(parts[p]->x, parts[p]->x_type, (size_t)i, sum[i % d]);
    free(meta->fill);
    meta->fill = sum;
    meta->d = d;
    return DT_OK;
}

/* ---- train/test split -------------------------------------------------------------- */

/* dst gets the rows i of src with pick[i] == want, in order. */
static dt_status gather(const convert_table *src, const unsigned char *pick, int want,
                        int64_t count, convert_table *dst, dt_error *err)
{
    const size_t xrow = (size_t)src->d * dt_dtype_size(src->x_type);
    const size_t ysz = dt_dtype_size(src->y_type);
    memset(dst, 0, sizeof *dst);
    const size_t mrow = (size_t)src->d; /* miss: a byte per feature */
    dst->x = malloc((size_t)count * xrow);
    dst->y = malloc((size_t)count * ysz);
    dst->miss = src->miss ? malloc((size_t)count * mrow + 1) : NULL;
    if (!dst->x || !dst->y || (src->miss && !dst->miss)) {
        convert_table_free(dst);
        return dt_fail(err, DT_ENOMEM, "cannot allocate %lld rows for the split",
                       (long long)count);
    }
    int64_t k = 0;
    for (int64_t i = 0; i < src->n; i++) {
        if (pick[i] != want)
            continue;
        memcpy((char *)dst->x + (size_t)k * xrow, (const char *)src->x + (size_t)i * xrow, xrow);
        memcpy((char *)dst->y + (size_t)k * ysz, (const char *)src->y + (size_t)i * ysz, ysz);
        if (src->miss)
            memcpy(dst->miss + (size_t)k * mrow, src->miss + (size_t)i * mrow, mrow);
        k++;
    }
    dst->n = count;
    dst->d = src->d;
    dst->x_type = src->x_type;
    dst->y_type = src->y_type;
    return DT_OK;
}

dt_status convert_split(const convert_table *all, double test_fraction, uint64_t seed,
                        convert_table *train, convert_table *test, dt_error *err)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!(test_fraction > 0 && test_fraction < 1))
        return dt_fail_opt(err, DT_EUSAGE, "test-fraction", "%s %g: must be in (0, 1) to split",
                           dt_opt("test-fraction"), test_fraction);
    const int64_t n_test = llround(test_fraction * (double)all->n);
    if (n_test < 1 || n_test > all->n - 1)
        return dt_fail_opt(err, DT_EUSAGE, "test-fraction",
                       "%s %g of %lld rows leaves %lld test and %lld training rows; "
                       "each needs at least one",
                       dt_opt("test-fraction"), test_fraction, (long long)all->n, (long long)n_test,
                       (long long)(all->n - n_test));

    int64_t *perm = malloc((size_t)all->n * sizeof *perm);
    unsigned char *is_test = calloc((size_t)all->n, 1);
    if (!perm || !is_test) {
        free(perm);
        free(is_test);
        return dt_fail(err, DT_ENOMEM, "cannot allocate the split of %lld rows",
                       (long long)all->n);
    }
    /* A permutation drawn from (seed, RNG_STREAM_SPLIT); its first n_test
     * entries are a uniformly random n_test-subset of the rows. */
    dt_rng r;
    rng_seed(&r, seed, RNG_STREAM_SPLIT, 0);
    rng_permutation(&r, perm, all->n);
    for (int64_t i = 0; i < n_test; i++)
        is_test[perm[i]] = 1;
    free(perm);

    dt_status st = gather(all, is_test, 0, all->n - n_test, train, err);
    if (!st)
        st = gather(all, is_test, 1, n_test, test, err);
    free(is_test);
    if (st) {
        convert_table_free(train);
        convert_table_free(test);
    }
    return st;
}

/* ---- writing ------------------------------------------------------------------------ */

static dt_status write_group(h5file *f, const char *group, const convert_table *t,
                             dt_error *err)
{
    char name[64];
    int64_t xdims[2] = {t->n, t->d};
    snprintf(name, sizeof name, "%s/X", group);
    dt_status st = h5io_write(f, name, t->x_type, 2, xdims, t->x, 1, err);
    if (st)
        return st;
    snprintf(name, sizeof name, "%s/y", group);
    return t->y ? h5io_write(f, name, t->y_type, 1, &t->n, t->y, 1, err) : DT_OK;
}

/* What the CSV said beside the numbers: class names and fill values (the
 * layout a model keeps, dataset_write_extras), the header's names. */
static dt_status write_meta(h5file *f, const convert_meta *meta, dt_error *err)
{
    dt_data_extras ex = {.n_classes = meta->n_classes, .classes = meta->classes,
                         .d = meta->d, .fill = meta->fill};
    dt_status st = dataset_write_extras(f, &ex, err);
    if (!st && meta->features)
        st = h5io_write_strs(f, "/features", meta->d, (const char *const *)meta->features, err);
    if (!st && meta->label_name)
        st = h5io_set_attr_str(f, "/", "label_column", meta->label_name, err);
    if (!st && meta->label_rule[0])
        st = h5io_set_attr_str(f, "/", "label_type", meta->label_float ? "float" : "class", err);
    if (!st && meta->label_rule[0])
        st = h5io_set_attr_str(f, "/", "label_rule", meta->label_rule, err);
    return st;
}

dt_status convert_write(const char *out, const convert_table *train,
                        const convert_table *test, const convert_meta *meta,
                        const char *source, dt_error *err)
{
    /* A temporary in the same directory, so rename() is atomic (same file
     * system) and an existing `out` stays intact until the new file is whole. */
    size_t len = strlen(out) + 32;
    char *tmp = malloc(len);
    if (!tmp)
        return dt_fail(err, DT_ENOMEM, "cannot allocate a file name");
    snprintf(tmp, len, "%s.tmp.%ld", out, (long)getpid());

    h5file *f = NULL;
    dt_status st = h5io_create(tmp, &f, err);
    if (!st && train)
        st = write_group(f, "/train", train, err);
    if (!st && test)
        st = write_group(f, "/test", test, err);
    if (!st && meta)
        st = write_meta(f, meta, err);
    if (!st)
        st = h5io_set_attr_str(f, "/", "source", source, err);
    if (!st)
        st = h5io_set_attr_str(f, "/", "dtrain_format", "1", err);
    if (f) {
        dt_error cerr;
        dt_status cst = h5io_close(f, &cerr);
        if (!st && cst) {
            *err = cerr;
            st = cst;
        }
    }
    if (!st && rename(tmp, out) != 0)
        st = dt_fail(err, DT_EIO, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
    if (st) {
        unlink(tmp);
        dt_fail_prefix(err, "writing %s", out);
    }
    free(tmp);
    return st;
}

/* ---- summaries and the whole conversions --------------------------------------------- */

/* The output's directory must exist and be writable: checked before reading
 * the inputs, which may take a while. */
static dt_status check_out_dir(const char *out, dt_error *err)
{
    const size_t size = strlen(out) + 2; /* "." and its NUL at least */
    char *dir = malloc(size);
    if (!dir)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    fs_dirname(out, dir, size);
    dt_status st = DT_OK;
    if (access(dir, W_OK | X_OK) != 0)
        st = dt_fail_opt(err, DT_EUSAGE, "out", "%s %s: directory '%s' is missing or not "
                         "writable", dt_opt("out"), out, dir);
    free(dir);
    return st;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void convert_describe(const convert_table *t, const char *group, convert_group_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->group, sizeof info->group, "%s", group);
    info->n = t->n;
    info->d = t->d;
    info->x_type = t->x_type;
    info->y_type = t->y_type;
    info->has_y = t->y != NULL;
    for (int64_t i = 0; i < t->n * t->d; i++) /* marked, or NaN in a table without labels */
        info->n_missing += t->miss               ? t->miss[i] != 0
                           : t->x_type == DT_F32 ? isnan(((const float *)t->x)[i]) != 0
                           : t->x_type == DT_F64 ? isnan(((const double *)t->x)[i]) != 0
                                                 : 0;
    if (t->n == 0 || !t->y)
        return;
    if (t->y_type == DT_F32) {
        const float *y = t->y;
        info->y_min = info->y_max = y[0];
        for (int64_t i = 1; i < t->n; i++) {
            info->y_min = fmin(info->y_min, y[i]);
            info->y_max = fmax(info->y_max, y[i]);
        }
        return;
    }
    /* Sorted copy: the extremes and the number of distinct labels. */
    int32_t *s = malloc((size_t)t->n * sizeof *s);
    if (!s)
        return; /* the summary is informational; leave it empty */
    memcpy(s, t->y, (size_t)t->n * sizeof *s);
    qsort(s, (size_t)t->n, sizeof *s, cmp_i32);
    info->y_min = s[0];
    info->y_max = s[t->n - 1];
    info->n_classes = (int64_t)s[t->n - 1] + 1;
    info->n_present = 1;
    for (int64_t i = 1; i < t->n; i++)
        info->n_present += s[i] != s[i - 1];
    free(s);
}

/* train and/or test (NULL: none) written to out with meta (may be NULL) and
 * the provenance source, and described in sum (if not NULL). */
static dt_status write_tables(const char *out, const convert_table *train,
                              const convert_table *test, const convert_meta *meta,
                              const char *source, convert_summary *sum, dt_error *err)
{
    dt_status st = convert_write(out, train, test, meta, source, err);
    if (st || !sum)
        return st;
    memset(sum, 0, sizeof *sum);
    if (train)
        convert_describe(train, "/train", &sum->g[sum->n_groups++]);
    if (test)
        convert_describe(test, "/test", &sum->g[sum->n_groups++]);
    if (meta && meta->classes) {
        sum->n_classes = meta->n_classes;
        for (int i = 0; i < sum->n_groups; i++)
            sum->g[i].n_classes = meta->n_classes; /* names, not the largest label + 1 */
        size_t used = 0, cap = sizeof sum->class_list;
        for (int64_t k = 0; k < meta->n_classes && used < cap; k++)
            used += (size_t)snprintf(sum->class_list + used, cap - used, "%s%s", k ? ", " : "",
                                     meta->classes[k]);
        if (used >= cap)
            memcpy(sum->class_list + cap - 4, "...", 4);
    }
    if (meta) {
        sum->label_float = meta->label_float;
        sum->label_doubt = meta->label_doubt;
        snprintf(sum->label_rule, sizeof sum->label_rule, "%s", meta->label_rule);
        sum->dropped = meta->dropped;
        sum->filled = meta->fill != NULL;
    }
    return DT_OK;
}

dt_status convert_idx(const char *out, const char *images, const char *labels,
                      const char *test_images, const char *test_labels,
                      convert_summary *sum, dt_error *err)
{
    convert_table train, test;
    const int with_test = test_images && test_labels;
    memset(&test, 0, sizeof test);
    dt_status st = check_out_dir(out, err);
    if (st)
        return st;
    st = convert_read_idx(images, labels, &train, err);
    if (st)
        return st;
    if (with_test) {
        st = convert_read_idx(test_images, test_labels, &test, err);
        if (!st && test.d != train.d)
            st = dt_fail(err, DT_EUSAGE,
                         "test images in %s have %lld pixels each, training images in %s "
                         "have %lld",
                         test_images, (long long)test.d, images, (long long)train.d);
    }
    if (!st) {
        char source[8192];
        if (with_test)
            snprintf(source, sizeof source, "IDX train: %s %s; test: %s %s", images, labels,
                     test_images, test_labels);
        else
            snprintf(source, sizeof source, "IDX train: %s %s", images, labels);
        st = write_tables(out, &train, with_test ? &test : NULL, NULL, source, sum, err);
    }
    convert_table_free(&train);
    convert_table_free(&test);
    return st;
}

/* The provenance of a CSV conversion, as stored in the file. */
static void csv_source(char *source, size_t size, const char *path, const convert_csv_opts *opts,
                       const convert_meta *meta, int split, double test_fraction, uint64_t seed)
{
    char label_col[300];
    if (opts->no_labels)
        snprintf(label_col, sizeof label_col, "none");
    else if (opts->label_name)
        snprintf(label_col, sizeof label_col, "'%.256s'", opts->label_name);
    else if (opts->label_col < 0)
        snprintf(label_col, sizeof label_col, "last");
    else
        snprintf(label_col, sizeof label_col, "%lld", (long long)opts->label_col);
    int k = snprintf(source, size, "CSV %s (%s; label column %s, %s; features %s; missing "
                     "values: %s)", path, opts->header ? "header line" : "no header", label_col,
                     meta->label_float ? "float targets" : "class labels",
                     dt_dtype_name(opts->x_type), convert_missing_names[opts->missing]);
    if (split && k > 0 && (size_t)k < size)
        snprintf(source + k, size - (size_t)k, "; test fraction %g drawn with seed %llu",
                 test_fraction, (unsigned long long)seed);
}

/* The read table into train (and test, when split), missing values filled. */
static dt_status split_and_fill(convert_table *all, const convert_csv_opts *opts,
                                double test_fraction, uint64_t seed, convert_table *train,
                                convert_table *test, convert_meta *meta, dt_error *err)
{
    dt_status st = DT_OK;
    if (test_fraction > 0) {
        st = convert_split(all, test_fraction, seed, train, test, err);
        convert_table_free(all);
    } else {
        *train = *all;
        memset(all, 0, sizeof *all);
    }
    if (!st && opts->missing == MISSING_MEAN)
        st = convert_fill_mean(train, test_fraction > 0 ? test : NULL, meta, err);
    return st;
}

dt_status convert_csv(const char *out, const char *path, const convert_csv_opts *opts,
                      double test_fraction, uint64_t seed, convert_summary *sum,
                      dt_error *err)
{
    convert_table all, train, test;
    convert_meta meta;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    if (!(test_fraction >= 0 && test_fraction < 1))
        return dt_fail_opt(err, DT_EUSAGE, "test-fraction", "%s %g: must be in [0, 1)",
                           dt_opt("test-fraction"), test_fraction);
    dt_status st = check_out_dir(out, err);
    if (st)
        return st;
    st = convert_read_csv(path, opts, &all, &meta, err);
    if (st)
        return st;
    const int split = !opts->no_labels && test_fraction > 0;
    if (opts->no_labels)
        test = all; /* new samples: the group predict reads */
    else if ((st = split_and_fill(&all, opts, split ? test_fraction : 0, seed, &train, &test,
                                  &meta, err)))
        dt_fail_prefix(err, "%s", path);
    if (!st) {
        char source[8192];
        csv_source(source, sizeof source, path, opts, &meta, split, test_fraction, seed);
        st = write_tables(out, opts->no_labels ? NULL : &train,
                          opts->no_labels || split ? &test : NULL, &meta, source, sum, err);
    }
    convert_table_free(&train);
    convert_table_free(&test);
    convert_meta_free(&meta);
    return st;
}


/* One group's line of the summary. */
static void print_group(FILE *out, const convert_group_info *g)
{
    if (!g->has_y) {
        fprintf(out, "wrote %s: %lld x %lld %s, no labels\n", g->group, (long long)g->n,
                (long long)g->d, dt_dtype_name(g->x_type));
    } else if (g->y_type == DT_F32) {
        fprintf(out, "wrote %s: %lld x %lld %s, float targets in [%g, %g]\n", g->group,
                (long long)g->n, (long long)g->d, dt_dtype_name(g->x_type), g->y_min, g->y_max);
    } else if (g->n_present == g->n_classes) {
        fprintf(out, "wrote %s: %lld x %lld %s, %lld classes\n", g->group, (long long)g->n,
                (long long)g->d, dt_dtype_name(g->x_type), (long long)g->n_classes);
    } else {
        fprintf(out, "wrote %s: %lld x %lld %s, %lld classes (%lld of them present)\n", g->group,
                (long long)g->n, (long long)g->d, dt_dtype_name(g->x_type),
                (long long)g->n_classes, (long long)g->n_present);
    }
}

void convert_print_summary(FILE *out, FILE *warn, const convert_summary *sum)
{
    if (sum->label_rule[0])
        fprintf(out, "labels: %s (%s)\n", sum->label_float ? "float targets" : "classes",
                sum->label_rule);
    fflush(out);
    if (sum->label_doubt && warn)
        fprintf(warn, "dtrain: warning: the label column's integers were stored as classes "
                "by a close call; if they are quantities (counts, scores), convert again "
                "with %s float\n", dt_opt("label-type"));
    for (int i = 0; i < sum->n_groups; i++)
        print_group(out, &sum->g[i]);
    if (sum->n_classes)
        fprintf(out, "classes 0..%lld are %s (names in /classes)\n",
                (long long)sum->n_classes - 1, sum->class_list);
    if (sum->dropped)
        fprintf(out, "left out %lld row%s with missing values (%s drop)\n",
                (long long)sum->dropped, sum->dropped == 1 ? "" : "s", dt_opt("missing"));
    if (sum->filled)
        fprintf(out, "filled missing values with the /train means (stored in /missing_fill)\n");
    for (int i = 0; i < sum->n_groups; i++)
        if (!sum->g[i].has_y && sum->g[i].n_missing)
            fprintf(out, "kept %lld missing value%s as NaN in %s/X: predict and eval fill them "
                    "with the model's /missing_fill (a model trained on data converted with "
                    "%s mean); a model without one refuses them\n",
                    (long long)sum->g[i].n_missing, sum->g[i].n_missing == 1 ? "" : "s",
                    sum->g[i].group, dt_opt("missing"));
    fflush(out);
}
