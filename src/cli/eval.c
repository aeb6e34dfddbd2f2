/* dtrain eval: a saved model's loss and every metric of its task on a group of
 * a data file, computed over all ranks exactly (each rank a contiguous share of
 * the rows, every sample counted once): the same figures at any rank count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dtrain/trainer.h"
#include "dtrain/metrics.h"

/* s as a JSON string. */
static void print_json_text(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* The K class labels: the model's class names (/classes) where it has them,
 * else the class numbers; *ex owns the names (dataset_extras_free). */
static void class_labels(const char *model, int K, dt_data_extras *ex, const char **names,
                         char (*numbers)[16])
{
    dt_error ignored;
    if (dataset_read_extras(model, ex, &ignored) != DT_OK)
        memset(ex, 0, sizeof *ex);
    for (int k = 0; k < K; k++) {
        snprintf(numbers[k], sizeof numbers[k], "%d", k);
        names[k] = ex->classes && k < ex->n_classes ? ex->classes[k] : numbers[k];
    }
}

/* ', "classes": [...]' for JSON; for people, "  classes: 0 barbera, 1 barolo,
 * ..." when the model has names (the numbers predict writes beside them). */
static void print_classes(const char *const *names, int K, int has_names, int json)
{
    if (!json && !has_names)
        return;
    fputs(json ? ", \"classes\": [" : "  classes:", stdout);
    for (int k = 0; k < K; k++) {
        if (json) {
            fputs(k ? ", " : "", stdout);
            print_json_text(names[k]);
        } else {
            printf("%s %d %s", k ? "," : "", k, names[k]);
        }
    }
    fputs(json ? "]" : "\n", stdout);
}

/* Rank 0: the figures, for people or as one line of JSON; cm NULL for a
 * regression (rm). */
static dt_status print_report(const dt_config *cfg, const dt_model *m, long long n, double loss,
                              const dt_class_metrics *cm, const dt_reg_metrics *rm,
                              dt_error *err)
{
    const int K = cm ? cm->K : 0;
    const char **names = calloc((size_t)K + 1, sizeof *names);
    char (*numbers)[16] = calloc((size_t)K + 1, sizeof *numbers);
    dt_data_extras ex = {0};
    dt_status st = names && numbers ? DT_OK
                                    : dt_fail(err, DT_ENOMEM, "out of memory for %d class names", K);
    if (!st && cm)
        class_labels(cfg->eval.model, K, &ex, names, numbers);
    if (!st && cfg->eval.json) {
        fputs("{\"model\": ", stdout);
        print_json_text(cfg->eval.model);
        fputs(", \"data\": ", stdout);
        print_json_text(cfg->train.data);
        fputs(", \"group\": ", stdout);
        print_json_text(cfg->eval.group);
        printf(", \"output\": \"%s\", \"samples\": %lld, \"loss\": %.17g, \"metrics\": ",
               head_name(m->head), n, loss);
        if (cm)
            metrics_class_print_json(stdout, cm);
        else
            metrics_reg_print_json(stdout, rm);
        if (cm)
            print_classes(names, K, ex.classes != NULL, 1);
        printf("}\n");
    } else if (!st) {
        printf("%s on %s %s: %lld samples, %s output\n  loss %.6f\n", cfg->eval.model, cfg->train.data,
               cfg->eval.group, n, head_name(m->head), loss);
        if (cm) {
            print_classes(names, K, ex.classes != NULL, 0);
            metrics_class_print_table(stdout, cm, names);
        } else {
            metrics_reg_print_table(stdout, rm);
        }
    }
    fflush(stdout);
    dataset_extras_free(&ex);
    free(names);
    free(numbers);
    return st;
}

dt_status cli_eval(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    dt_model m;
    dt_dataset ds;
    dt_status st = cli_load_model_data(cfg, world, 1, &m, &ds, err);
    if (st)
        return st;
    const int rank = comm_rank(world), K = m.n_out, cls = head_is_classifier(m.head);
    int64_t lo, hi;
    block_slice(ds.n, m.max_batch, rank, comm_size(world), &lo, &hi);
    float *out = malloc((size_t)((hi - lo) * K + 1) * sizeof *out);
    st = out ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st)
        st = trainer_prepare_blocks(world, &m, ds.n, 0, err);
    if ((st = comm_agree(world, st, err)))
        goto done;
    trainer_predict(&m, &ds, lo, hi, out);
    if ((st = comm_agree(world, model_fault(&m, err), err)))
        goto done;
    dt_class_metrics cm = {0};
    dt_reg_metrics rm = {0};
    if (cls)
        st = metrics_classification(world, out, K, ds.labels + lo, hi - lo,
                                    m.head == HEAD_SOFTMAX ? K : 2, &cm, err);
    else
        st = metrics_regression(world, out, ds.targets + lo * K, hi - lo, K, &rm, err);
    /* The loss from the gathered outputs, summed in row order: the same bits at
     * any rank count (cross-entropy from the probabilities, clipped as the
     * metrics module documents; mean squared error for regression). */
    const double loss = cls ? cm.log_loss : rm.rmse_pooled * rm.rmse_pooled;
    const long long n = cls ? (long long)cm.n : (long long)rm.n;
    if (!st && rank == 0)
        st = print_report(cfg, &m, n, loss, cls ? &cm : NULL, &rm, err);
    metrics_class_free(&cm);
    metrics_reg_free(&rm);
done:
    free(out);
    model_free(&m);
    dataset_free(&ds);
    return st;
}
