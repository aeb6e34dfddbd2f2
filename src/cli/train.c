/* dtrain train: the epoch loop, its log lines and the saved model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dtrain/modelio.h"
#include "dtrain/session.h"

static void describe(const dt_session *s)
{
    const dt_model *m = &s->model;
    char arch[512];
    int n = snprintf(arch, sizeof arch, "%d", m->n_in);
    for (int l = 0; l < m->n_layers && n < (int)sizeof arch; l++)
        n += snprintf(arch + n, sizeof arch - (size_t)n, "-%d", m->layers[l].n_out);
    int P = comm_size(s->comm);
    const dt_train_opts *o = &s->trainer.opts;
    char evdesc[128] = "no valid or test group: final metrics are on the training set";
    if (s->eval.n)
        snprintf(evdesc, sizeof evdesc, "%s %lld samples", s->eval_name, (long long)s->eval.n);
    dt_info("dtrain: %s %s: %lld samples x %lld features%s; %s", s->cfg->data,
            s->cfg->train_group, (long long)s->train.n, (long long)s->train.d,
            s->n_classes ? "" : " (regression)", evdesc);
    dt_info("dtrain: model %s (%s output, %zu parameters); %s lr %g; %d rank%s, global batch "
            "%lld (%d per rank at most), %lld steps per epoch",
            arch, head_name(m->head), m->n_params, optim_name(s->optim.cfg.kind), o->lr, P,
            P == 1 ? "" : "s", (long long)o->batch_size,
            trainer_local_batch(o->batch_size, P), (long long)s->trainer.steps_per_epoch);
}

dt_status cli_train(const dt_config *cfg, dt_comm *world, dt_error *err)
{
    dt_session s;
    dt_status st = session_setup(&s, cfg, world, err);
    if (st) {
        session_free(&s);
        return st;
    }
    describe(&s);
    const int classify = s.n_classes > 0;
    double t_start = comm_wtime();
    dt_eval ev = {0};
    for (int64_t epoch = 0; epoch < cfg->epochs; epoch++) {
        double t0 = comm_wtime();
        trainer_begin_epoch(&s.trainer, epoch);
        double loss = 0.0;
        for (int64_t k = 0; k < s.trainer.steps_per_epoch; k++)
            loss += trainer_step(&s.trainer, k);
        double seen[2] = {loss, 0.0};
        int64_t used = s.trainer.steps_per_epoch * s.trainer.opts.batch_size;
        if (used > s.train.n)
            used = s.train.n;
        comm_allreduce_sum_f64(world, seen, 1);
        double train_loss = seen[0] / (double)used;
        double t_train = comm_wtime() - t0;
        if (!isfinite(train_loss)) {
            st = dt_fail(err, DT_ENUM,
                         "training diverged in epoch %lld (train loss %g); try a smaller --lr",
                         (long long)epoch + 1, train_loss);
            break;
        }
        char evtext[160] = "";
        if (s.eval.n) {
            trainer_evaluate(world, &s.model, &s.eval, &ev);
            if (classify)
                snprintf(evtext, sizeof evtext, "  %s_loss %.4f  %s_acc %.4f", s.eval_name,
                         ev.loss, s.eval_name, ev.accuracy);
            else
                snprintf(evtext, sizeof evtext, "  %s_loss %.4f  %s_rmse %.4f", s.eval_name,
                         ev.loss, s.eval_name, ev.rmse);
        }
        dt_info("epoch %3lld/%lld  train_loss %.4f%s  %.0f samples/s  %.2f s",
                (long long)epoch + 1, (long long)cfg->epochs, train_loss, evtext,
                (double)used / t_train, comm_wtime() - t_start);
    }
    if (!st && !s.eval.n) {
        /* No valid or test group: report the fit on the training set. */
        s.eval_name = "train";
        trainer_evaluate(world, &s.model, &s.train, &ev);
    }
    if (!st) {
        if (classify)
            dt_info("final: %s_loss %.4f  %s_accuracy %.4f  (%lld samples)", s.eval_name,
                    ev.loss, s.eval_name, ev.accuracy, (long long)ev.n);
        else
            dt_info("final: %s_loss %.4f  %s_rmse %.4f  (%lld samples)", s.eval_name, ev.loss,
                    s.eval_name, ev.rmse, (long long)ev.n);
    }
    if (!st && cfg->save[0]) {
        if (comm_rank(world) == 0)
            st = modelio_save(cfg->save, &s.model, &s.norm, cfg, err);
        st = comm_agree(world, st, err);
        if (!st)
            dt_info("saved model to %s", cfg->save);
    }
    session_free(&s);
    return st;
}
