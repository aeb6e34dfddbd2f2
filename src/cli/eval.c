/* dtrain eval: a saved model's loss and metrics on a group of a data file,
 * computed over all ranks exactly (every sample counted once). */
#include <stdio.h>

#include "cli.h"
#include "dtrain/trainer.h"

dt_status cli_eval(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    dt_model m;
    dt_dataset ds;
    dt_status st = cli_load_model_data(cfg, world, 1, &m, &ds, err);
    if (st)
        return st;
    dt_eval ev;
    trainer_evaluate(world, &m, &ds, &ev);
    if (comm_rank(world) == 0) {
        int cls = head_is_classifier(m.head);
        if (cfg->json)
            printf("{\"model\": \"%s\", \"data\": \"%s\", \"group\": \"%s\", \"samples\": %lld, "
                   "\"loss\": %.17g, \"%s\": %.17g}\n",
                   cfg->model, cfg->data, cfg->group, (long long)ev.n, ev.loss,
                   cls ? "accuracy" : "rmse", cls ? ev.accuracy : ev.rmse);
        else
            printf("%s on %s %s (%lld samples)\n  loss      %.6f\n  %-9s %.6f\n", cfg->model,
                   cfg->data, cfg->group, (long long)ev.n, ev.loss, cls ? "accuracy" : "rmse",
                   cls ? ev.accuracy : ev.rmse);
        fflush(stdout);
    }
    model_free(&m);
    dataset_free(&ds);
    return DT_OK;
}
