/* dtrain eval: a saved model's loss and every metric of its task on a group of
 * a data file, computed over all ranks exactly (each rank a contiguous share of
 * the rows, every sample counted once): the same figures at any rank count. */
#include <stdio.h>
#include <stdlib.h>

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

/* The model's class names (/classes), so that the class numbers can be read:
 * "  classes: 0 barbera, 1 barolo, ..." or, json != 0, ', "classes": [...]';
 * nothing if it has none. */
static void print_classes(const char *model, int json)
{
    dt_data_extras ex;
    dt_error ignored;
    if (dataset_read_extras(model, &ex, &ignored) != DT_OK || !ex.classes)
        return;
    fputs(json ? ", \"classes\": [" : "  classes:", stdout);
    for (int64_t k = 0; k < ex.n_classes; k++) {
        if (json) {
            fputs(k ? ", " : "", stdout);
            print_json_text(ex.classes[k]);
        } else {
            printf("%s %lld %s", k ? "," : "", (long long)k, ex.classes[k]);
        }
    }
    fputs(json ? "]" : "\n", stdout);
    dataset_extras_free(&ex);
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
    if (!st && rank == 0) {
        if (cfg->json) {
            printf("{\"model\": \"%s\", \"data\": \"%s\", \"group\": \"%s\", \"output\": \"%s\", "
                   "\"samples\": %lld, \"loss\": %.17g, \"metrics\": ",
                   cfg->model, cfg->data, cfg->group, head_name(m.head), n, loss);
            if (cls)
                metrics_class_print_json(stdout, &cm);
            else
                metrics_reg_print_json(stdout, &rm);
            print_classes(cfg->model, 1);
            printf("}\n");
        } else {
            printf("%s on %s %s: %lld samples, %s output\n  loss %.6f\n", cfg->model, cfg->data,
                   cfg->group, n, head_name(m.head), loss);
            print_classes(cfg->model, 0);
            if (cls)
                metrics_class_print_table(stdout, &cm);
            else
                metrics_reg_print_table(stdout, &rm);
        }
        fflush(stdout);
    }
    metrics_class_free(&cm);
    metrics_reg_free(&rm);
done:
    free(out);
    model_free(&m);
    dataset_free(&ds);
    return st;
}
