/* dtrain: setting up a training run. */
#include "dtrain/session.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dtrain/fsutil.h"
#include "dtrain/h5io.h"
#include "dtrain/signals.h"
#include "dtrain/linalg.h"
#include "dtrain/modelio.h"

/* 1 if group exists in the HDF5 file at path (0 if not, or unreadable). */
static int has_group(const char *path, const char *group)
{
    h5file *f;
    if (h5io_open_read(path, &f, NULL))
        return 0;
    int e = h5io_exists(f, group);
    h5io_close(f, NULL);
    return e;
}

/* The evaluation set fits the training set; class count and labels. */
static dt_status check_data(dt_session *s, dt_head head, const char *eg, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const char *src = cfg->data[0] ? cfg->data : "data";
    if (s->eval.n && s->eval.d != s->train.d)
        return dt_fail(err, DT_EUSAGE, "%s: %s/X has %lld features but %s/X has %lld", src, eg,
                       (long long)s->eval.d, cfg->train_group, (long long)s->train.d);
    if (s->eval.n && !head_is_classifier(head) && s->eval.k != s->train.k)
        return dt_fail(err, DT_EUSAGE, "%s: %s/y has %lld targets per sample but %s/y has %lld",
                       src, eg, (long long)s->eval.k, cfg->train_group, (long long)s->train.k);
    if (head == HEAD_SOFTMAX) {
        s->n_classes = s->train.max_label + 1;
        if (s->n_classes < 2)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y has a single class (%d); --output softmax needs at least 2",
                           src, cfg->train_group, s->train.max_label);
    } else if (head == HEAD_SIGMOID) {
        s->n_classes = 2;
    }
    if (head_is_classifier(head)) {
        const int binary = head == HEAD_SIGMOID;
        dt_status st;
        if ((st = dataset_check_labels(&s->train, src, cfg->train_group, s->n_classes, binary,
                                       err)))
            return st;
        if (s->eval.n &&
            (st = dataset_check_labels(&s->eval, src, eg, s->n_classes, binary, err)))
            return st;
    }
    return DT_OK;
}

/* Everything up to the model: data, labels, normalisation.  Local checks only;
 * the caller agrees on the result. */
static dt_status load_data(dt_session *s, dt_head head, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const int classify = head_is_classifier(head);
    dt_status st = dataset_load(cfg->data, cfg->train_group, classify, &s->train, err);
    if (st)
        return st;
    const char *eg = NULL;
    if (has_group(cfg->data, cfg->valid_group)) {
        eg = cfg->valid_group;
        s->eval_name = "valid";
    } else if (config_given(cfg, "valid-group")) {
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (--valid-group)", cfg->data,
                       cfg->valid_group);
    } else if (has_group(cfg->data, cfg->test_group)) {
        eg = cfg->test_group;
        s->eval_name = "test";
    } else if (config_given(cfg, "test-group")) {
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (--test-group)", cfg->data,
                       cfg->test_group);
    }
    if (eg && (st = dataset_load(cfg->data, eg, classify, &s->eval, err)))
        return st;
    return check_data(s, head, eg ? eg : "", err);
}

dt_status session_setup(dt_session *s, const dt_config *cfg, dt_comm *comm, dt_error *err)
{
    return session_setup_with(s, cfg, comm, NULL, NULL, err);
}

dt_status session_setup_with(dt_session *s, const dt_config *cfg, dt_comm *comm,
                             dt_dataset *train, dt_dataset *valid, dt_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->comm = comm;
    s->eval_name = "test";
    if (train) {
        /* take ownership of the caller's sets */
        s->train = *train;
        memset(train, 0, sizeof *train);
        if (valid) {
            s->eval = *valid;
            memset(valid, 0, sizeof *valid);
        }
        s->eval_name = "valid";
    }
    const int rank = comm_rank(comm), size = comm_size(comm);

    /* Option checks: the same on every rank, no agreement needed. */
    dt_head head;
    dt_init init;
    dt_norm_kind nk;
    dt_optim_config oc = {0};
    dt_layer_spec hidden[DT_MAX_LAYERS];
    int n_hidden = 0;
    dt_status st;
    if (!train && !cfg->data[0])
        return dt_fail(err, DT_EUSAGE, "--data FILE.h5 is required (see dtrain train --help)");
    if ((st = head_parse(cfg->output, &head, err)) || (st = init_parse(cfg->init, &init, err)) ||
        (st = norm_parse(cfg->normalize, &nk, err)) ||
        (st = optim_parse(cfg->optimizer, &oc.kind, err)) ||
        (st = model_parse_layers(cfg->layers, hidden, DT_MAX_LAYERS - 1, &n_hidden, err)))
        return st;
    if (oc.kind != OPTIM_SGD && config_given(cfg, "momentum"))
        return dt_fail(err, DT_EUSAGE, "--momentum applies to --optimizer sgd only");
    oc.momentum = cfg->momentum;
    oc.beta1 = cfg->beta1;
    oc.beta2 = cfg->beta2;
    oc.eps = cfg->eps;
    oc.weight_decay = cfg->weight_decay;
    linalg_set_threads((int)cfg->threads);

    /* Output path first: a typo should not cost a whole training run. */
    st = DT_OK;
    if (cfg->save[0] && rank == 0)
        st = modelio_check_writable(cfg->save, "save", err);
    if ((st = comm_agree(comm, st, err)))
        return st;

    st = DT_OK;
    if (rank == 0 && cfg->checkpoint_dir[0])
        st = fs_mkdirs(cfg->checkpoint_dir, err);
    if ((st = comm_agree(comm, st, err)))
        return dt_fail_prefix(err, "--checkpoint-dir");
    if (!cfg->checkpoint_dir[0] &&
        (cfg->checkpoint_every || cfg->checkpoint_every_epoch || cfg->checkpoint_every_seconds > 0 ||
         cfg->keep))
        return dt_fail(err, DT_EUSAGE,
                       "--checkpoint-every, --checkpoint-every-epoch, --checkpoint-every-seconds "
                       "and --keep need --checkpoint-dir DIR");

    st = train ? check_data(s, head, "valid", err) : load_data(s, head, err);
    if ((st = comm_agree(comm, st, err)))
        return st;

    /* Rank 0 chooses the checkpoint (checking checksums, falling back past
     * damaged ones) and tells the others. */
    if (cfg->resume[0]) {
        st = DT_OK;
        if (rank == 0)
            st = ckpt_find(cfg->resume, cfg->checkpoint_dir, s->resumed_from,
                           sizeof s->resumed_from, err);
        if ((st = comm_agree(comm, st, err)))
            return st;
        comm_bcast(comm, s->resumed_from, sizeof s->resumed_from, 0);
        if (!s->resumed_from[0])
            dt_info("dtrain: no checkpoint in %s yet: starting fresh", cfg->checkpoint_dir);
    }

    const dt_dataset *tr = &s->train;
    if (cfg->drop_last && cfg->batch_size > tr->n)
        return dt_fail(err, DT_EUSAGE,
                       "--batch-size %lld with --drop-last leaves no batch: %s has %lld "
                       "training samples",
                       (long long)cfg->batch_size, cfg->train_group, (long long)tr->n);
    if (cfg->batch_size > tr->n)
        dt_warn("--batch-size %lld is larger than the %lld training samples: each epoch is "
                "one batch of %lld",
                (long long)cfg->batch_size, (long long)tr->n, (long long)tr->n);
    if (cfg->batch_size < size)
        dt_warn("--batch-size %lld is smaller than the %d ranks: some ranks get no samples "
                "(the result is the same, only slower)",
                (long long)cfg->batch_size, size);
    for (int l = 0; l < n_hidden; l++)
        if (hidden[l].act.kind == ACT_STEP) {
            dt_warn("layer %d uses the step activation: its derivative is 0, so no layer "
                    "before or at it receives a gradient (only later layers train)",
                    l + 1);
            break;
        }

    if (s->resumed_from[0]) {
        /* the statistics the run started with, whatever the rank count now */
        st = ckpt_load_norm(s->resumed_from, &s->norm, err);
        if (!st && s->norm.d != tr->d)
            st = dt_fail(err, DT_EUSAGE, "%s: normalisation for %lld features, data has %lld",
                         s->resumed_from, (long long)s->norm.d, (long long)tr->d);
        if ((st = comm_agree(comm, st, err)))
            return st;
    } else if ((st = norm_fit(comm, tr, nk, &s->norm, err))) {
        return st;
    }
    norm_apply(&s->norm, &s->train);
    if (s->eval.n)
        norm_apply(&s->norm, &s->eval);

    int n_out = head == HEAD_SOFTMAX ? s->n_classes : head == HEAD_SIGMOID ? 1 : (int)tr->k;
    int64_t b = cfg->batch_size < tr->n ? cfg->batch_size : tr->n;
    int local = trainer_local_batch(b, size);
    /* Evaluation reuses the workspace in blocks; give it room for at least 256 rows. */
    int max_batch = local > 256 ? local : 256;
    st = model_create(&s->model, (int)tr->d, hidden, n_hidden, n_out, head, max_batch, err);
    if ((st = comm_agree(comm, st, err)))
        return st;
    if (cfg->init_from[0])
        st = modelio_load_weights(cfg->init_from, &s->model, err);
    else
        model_init(&s->model, init, (uint64_t)cfg->seed);
    if ((st = comm_agree(comm, st, err)))
        return st;
    /* Every rank starts from rank 0's weights. */
    comm_bcast(comm, s->model.params, s->model.n_params * sizeof(float), 0);

    st = optim_init(&s->optim, &oc, s->model.n_params, err);
    dt_train_opts to = {.batch_size = b,
                        .drop_last = cfg->drop_last,
                        .shuffle = strcmp(cfg->shuffle, "on") == 0,
                        .seed = (uint64_t)cfg->seed,
                        .lr = cfg->lr};
    if (!st)
        st = trainer_init(&s->trainer, comm, &s->model, &s->optim, &s->train, &to, err);
    if (!st)
        st = progress_init(&s->progress, cfg->epochs, err);
    if ((st = comm_agree(comm, st, err)))
        return st;
    snprintf(s->progress.eval_name, sizeof s->progress.eval_name, "%s",
             s->eval.n ? s->eval_name : "train");
    snprintf(s->progress.metric, sizeof s->progress.metric, "%s",
             s->n_classes ? "accuracy" : "rmse");
    if (s->resumed_from[0]) {
        dt_ckpt_parts parts = session_parts(s);
        st = ckpt_load(s->resumed_from, &parts, rank, size, &s->progress, err);
        if ((st = comm_agree(comm, st, err)))
            return st;
        s->trainer.step = s->progress.step;
        dt_info("dtrain: resuming from %s at epoch %lld, step %lld", s->resumed_from,
                (long long)s->progress.epoch + 1, (long long)s->progress.step);
    }
    return DT_OK;
}

dt_ckpt_parts session_parts(dt_session *s)
{
    dt_ckpt_parts p = {s->cfg, &s->model, &s->optim, &s->norm, s->train.n};
    return p;
}

static dt_status checkpoint(dt_session *s, char *written, size_t len, dt_error *err)
{
    dt_ckpt_parts parts = session_parts(s);
    return ckpt_save(s->comm, s->cfg->checkpoint_dir, s->cfg->keep, &parts, &s->progress,
                     written, len, err);
}

/* End of an epoch: reduce the loss, evaluate, print, record. */
static dt_status finish_epoch(dt_session *s, int64_t epoch, double t_epoch, int64_t done,
                              double base, double t_start, dt_error *err)
{
    const double t_train = comm_wtime() - t_epoch; /* before the evaluation */
    const dt_config *cfg = s->cfg;
    dt_progress *p = &s->progress;
    double loss = p->local_loss;
    comm_allreduce_sum_f64(s->comm, &loss, 1);
    int64_t used = s->trainer.steps_per_epoch * s->trainer.opts.batch_size;
    if (used > s->train.n)
        used = s->train.n;
    double train_loss = loss / (double)used;
    if (!isfinite(train_loss))
        return dt_fail(err, DT_ENUM,
                       "training diverged in epoch %lld (train loss %g); try a smaller --lr",
                       (long long)epoch + 1, train_loss);
    const dt_dataset *ev = s->eval.n ? &s->eval : NULL;
    char evtext[160] = "";
    if (ev) {
        trainer_evaluate(s->comm, &s->model, ev, &s->last_eval);
        if (s->n_classes)
            snprintf(evtext, sizeof evtext, "  %s_loss %.4f  %s_acc %.4f", s->eval_name,
                     s->last_eval.loss, s->eval_name, s->last_eval.accuracy);
        else
            snprintf(evtext, sizeof evtext, "  %s_loss %.4f  %s_rmse %.4f", s->eval_name,
                     s->last_eval.loss, s->eval_name, s->last_eval.rmse);
    }
    double now = comm_wtime();
    double seconds = base + (now - t_start);
    p->seconds = seconds;
    dt_info("epoch %3lld/%lld  train_loss %.4f%s  %.0f samples/s  %.2f s", (long long)epoch + 1,
            (long long)cfg->epochs, train_loss, evtext,
            done > 0 ? (double)done / (now - t_epoch) : 0.0, seconds);
    if (cfg->profile) {
        /* the slowest rank's time in each phase (what the epoch waited for) */
        double ph[5] = {s->trainer.time.data, s->trainer.time.compute, s->trainer.time.reduce,
                        s->trainer.time.update, t_train};
        comm_allreduce_max_f64(s->comm, ph, 5);
        dt_info("profile epoch %lld: train %.4f s  data %.4f  compute %.4f  allreduce %.4f  "
                "update %.4f  eval %.4f  (max over ranks)",
                (long long)epoch + 1, ph[4], ph[0], ph[1], ph[2], ph[3], now - t_epoch - t_train);
        memset(&s->trainer.time, 0, sizeof s->trainer.time);
    }
    double row[CKPT_HIST_COLS] = {
        (double)(epoch + 1), train_loss, ev ? s->last_eval.loss : NAN,
        ev ? (s->n_classes ? s->last_eval.accuracy : s->last_eval.rmse) : NAN, seconds};
    progress_add(p, row);
    p->epoch = epoch + 1;
    p->batch = 0;
    p->local_loss = 0.0;
    return DT_OK;
}

dt_status session_train(dt_session *s, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_progress *p = &s->progress;
    const int ckpt = cfg->checkpoint_dir[0] != 0;
    const int rank = comm_rank(s->comm);
    if (ckpt)
        signals_install();
    const double t_start = comm_wtime(), base = p->seconds; /* training time of earlier runs */
    double last_ckpt = t_start;
    /* (step, epoch) of the newest checkpoint: a checkpoint taken inside the last
     * batch of an epoch precedes that epoch's evaluation, so both count. */
    int64_t saved_step = s->resumed_from[0] ? p->step : -1, saved_epoch = p->epoch;
    char written[DT_PATH_MAX + 32] = "";
    dt_status st;

    for (int64_t epoch = p->epoch; epoch < cfg->epochs; epoch++) {
        const double t_epoch = comm_wtime();
        int64_t done = 0;
        trainer_begin_epoch(&s->trainer, epoch);
        for (int64_t k = p->batch; k < s->trainer.steps_per_epoch; k++) {
            p->local_loss += trainer_step(&s->trainer, k);
            done += trainer_batch_size(&s->trainer, k);
            p->step = s->trainer.step;
            p->batch = k + 1;
            int stop = cfg->stop_at_step > 0 && p->step >= cfg->stop_at_step;
            if (!ckpt) {
                if (stop)
                    return dt_fail(err, DT_PREEMPTED,
                                   "stopped at step %lld (--stop-at-step); no --checkpoint-dir, "
                                   "so nothing was saved",
                                   (long long)p->step);
                continue;
            }
            /* One small allreduce: a signal seen by any rank, and rank 0's clock. */
            int64_t flags[2] = {signals_pending(),
                                rank == 0 && cfg->checkpoint_every_seconds > 0 &&
                                    comm_wtime() - last_ckpt >= cfg->checkpoint_every_seconds};
            comm_allreduce_max_i64(s->comm, flags, 2);
            int due = flags[1] || (cfg->checkpoint_every > 0 && p->step % cfg->checkpoint_every == 0);
            if (!(stop || flags[0] || due))
                continue;
            last_ckpt = comm_wtime();
            p->seconds = base + (last_ckpt - t_start);
            if ((st = checkpoint(s, written, sizeof written, err)))
                return st;
            saved_step = p->step;
            saved_epoch = p->epoch;
            if (stop || flags[0]) {
                const char *why = flags[0] ? signals_name((int)flags[0]) : "--stop-at-step";
                return dt_fail(err, DT_PREEMPTED,
                               "stopped by %s at step %lld (epoch %lld); checkpoint %s written; "
                               "to continue, run the same command with --resume",
                               why, (long long)p->step, (long long)epoch + 1, written);
            }
        }
        if ((st = finish_epoch(s, epoch, t_epoch, done, base, t_start, err)))
            return st;
        if (ckpt && cfg->checkpoint_every_epoch) {
            if ((st = checkpoint(s, written, sizeof written, err)))
                return st;
            saved_step = p->step;
            saved_epoch = p->epoch;
        }
    }
    if (ckpt && (saved_step != p->step || saved_epoch != p->epoch)) {
        if ((st = checkpoint(s, written, sizeof written, err)))
            return st;
        dt_info("checkpoint %s", written);
    }
    return DT_OK;
}

void session_free(dt_session *s)
{
    progress_free(&s->progress);
    trainer_free(&s->trainer);
    optim_free(&s->optim);
    model_free(&s->model);
    norm_free(&s->norm);
    dataset_free(&s->train);
    dataset_free(&s->eval);
}
