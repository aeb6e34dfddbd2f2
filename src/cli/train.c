/* dtrain train: set up, train (epoch lines, checkpoints), report, save. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dtrain/h5io.h"
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
    if (s->second_order)
        dt_info("dtrain: model %s (%s output, %zu parameters, %s); %s, full batch, one "
                "iteration per epoch; %d rank%s",
                arch, head_name(m->head), m->n_params, matmul_precision_name(m->prec),
                so_name(s->so_kind), P, P == 1 ? "" : "s");
    else
        dt_info("dtrain: model %s (%s output, %zu parameters, %s); %s lr %g (%s schedule); %d "
                "rank%s, global batch %lld (%d per rank at most), %lld steps per epoch",
                arch, head_name(m->head), m->n_params, matmul_precision_name(m->prec),
                optim_name(s->optim.cfg.kind), o->lr,
                sched_name(s->sched.cfg.kind), P, P == 1 ? "" : "s", (long long)o->batch_size,
                trainer_local_batch(o->batch_size, P), (long long)s->trainer.steps_per_epoch);
}

static void report(const dt_session *s, const char *name, const dt_eval *ev)
{
    if (s->n_classes)
        dt_info("final: %s_loss %.4f  %s_accuracy %.4f  (%lld samples)", name, ev->loss, name,
                ev->accuracy, (long long)ev->n);
    else
        dt_info("final: %s_loss %.4f  %s_rmse %.4f  (%lld samples)", name, ev->loss, name,
                ev->rmse, (long long)ev->n);
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
    s.signals = 1; /* cli_main installed the handlers */
    s.watchdog = 1;
    st = session_train(&s, err);
    if (!st) {
        dt_eval ev = s.last_eval;
        const char *name = s.eval_name;
        if (!s.eval.n || s.progress.n_hist == 0) {
            /* No valid or test group (or nothing left to train): report on what we have. */
            name = s.eval.n ? s.eval_name : "train";
            trainer_evaluate(world, &s.model, s.eval.n ? &s.eval : &s.train, &ev);
        }
        report(&s, name, &ev);
        /* The epochs watched a validation set: the test group, if any, is
         * reported once at the end, with the same normalisation. */
        if (s.validating) {
            dt_dataset test;
            dt_status tst = DT_OK;
            h5file *f;
            int has = 0;
            if (!h5io_open_read(cfg->data, &f, NULL)) {
                has = h5io_exists(f, cfg->test_group);
                h5io_close(f, NULL);
            }
            if (has) {
                tst = dataset_load(cfg->data, cfg->test_group,
                                   s.n_classes ? DS_LABELS : DS_TARGETS, &test, err);
                if (!tst && test.d != s.train.d)
                    tst = dt_fail(err, DT_EUSAGE, "%s: %s/X has %lld features, %s/X %lld",
                                  cfg->data, cfg->test_group, (long long)test.d,
                                  cfg->train_group, (long long)s.train.d);
                if (!tst && s.n_classes)
                    tst = dataset_check_labels(&test, cfg->data, cfg->test_group, s.n_classes,
                                               s.model.head == HEAD_SIGMOID, err);
                if (!tst)
                    tst = trainer_prepare_blocks(world, &s.model, test.n, 0, err);
                if ((st = comm_agree(world, tst, err))) {
                    dataset_free(&test);
                    session_free(&s);
                    return st;
                }
                norm_apply(&s.norm, &test);
                trainer_evaluate(world, &s.model, &test, &ev);
                report(&s, "test", &ev);
                dataset_free(&test);
            }
        }
    }
    if (!st && cfg->profile) {
        double rss = dt_peak_rss_mb(), v[3] = {rss, rss, dt_pss_mb()};
        comm_allreduce_max_f64(world, v, 1);
        comm_allreduce_sum_f64(world, v + 1, 2);
        dt_info("profile memory: peak resident %.1f MB on the largest rank, %.1f MB in all "
                "(node-shared data counted in every rank); proportional set size at the end "
                "%.1f MB in all",
                v[0], v[1], v[2]);
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
