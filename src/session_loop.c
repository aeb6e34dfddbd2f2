/* dtrain: the training loop: epochs, steps, their safe points (checkpoints,
 * signals, callbacks) and the end of each epoch. */
#include "dtrain/session_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dtrain/rng.h"
#include "dtrain/signals.h"
#include "dtrain/watchdog.h"

/* Compare a checksum of the parameters across ranks (FNV-1a of the bytes);
 * the error names every rank that differs from rank 0. */
static dt_status check_replicas(dt_session *s, dt_error *err)
{
    const int size = comm_size(s->comm);
    uint64_t all[64];
    uint64_t h =
        rng_fnv1a(RNG_FNV_BASIS, s->net.model.params, s->net.model.n_params * sizeof(float));
    if (size > 64) /* a checksum per rank fits the stack up to here; beyond, compare maxima */
        return DT_OK;
    (void)comm_allgatherv_bytes(s->comm, &h, sizeof h, all); /* 8 bytes a rank: fits */
    char bad[512] = "";
    size_t used = 0;
    for (int r = 1; r < size; r++)
        if (all[r] != all[0] && used < sizeof bad)
            used += (size_t)snprintf(bad + used, sizeof bad - used, " %d", r);
    if (bad[0])
        return dt_fail(err, DT_EINTERNAL,
                       "replica check at step %lld: the parameters of rank(s)%s differ from "
                       "rank 0's",
                       (long long)s->opt.trainer.step, bad);
    return DT_OK;
}

/* final: the run ends after this checkpoint (a stop), so from the start of the
 * write on, a repeated signal cannot end the process before it reports it. */
static dt_status checkpoint(dt_session *s, char *written, size_t len, int final, dt_error *err)
{
    /* never save diverged replicas: check them first */
    dt_status st = check_replicas(s, err);
    if (st)
        return st;
    watchdog_phase(WD_CHECKPOINT, s->opt.trainer.step);
    signals_protect(1);
    if (!s->so.on)
        trainer_sync_state(&s->opt.trainer);
    dt_ckpt_parts parts = session_parts(s);
    st = ckpt_save(s->comm, s->cfg->train.checkpoint_dir, s->cfg->train.keep, &parts, &s->state.progress,
                   written, len, err);
    signals_protect(final && !st);
    watchdog_phase(WD_BETWEEN, s->opt.trainer.step);
    return st;
}

/* The mean gradient norm of each layer since the last call, then reset. */
static void print_grad_norms(dt_session *s, const char *unit, int64_t at)
{
    dt_trainer *t = &s->opt.trainer;
    char line[1024];
    int n = snprintf(line, sizeof line, "grad_norms %s %lld:", unit, (long long)at);
    for (int l = 0; l < s->net.model.n_layers && n < (int)sizeof line; l++)
        n += snprintf(line + n, sizeof line - (size_t)n, "  layer%d %.3e", l,
                      t->norm_steps ? t->norm_sum[l] / (double)t->norm_steps : 0.0);
    dt_info("%s", line);
    memset(t->norm_sum, 0, (size_t)s->net.model.n_layers * sizeof *t->norm_sum);
    t->norm_steps = 0;
}

/* The value --monitor watches, from the last evaluation (train loss without one). */
static double monitor_value(const dt_session *s, double train_loss)
{
    if (!s->data.eval.n)
        return train_loss;
    switch (s->cfg->train.monitor) {
    case MONITOR_VAL_ACCURACY: return s->metrics.last_eval.accuracy;
    case MONITOR_VAL_RMSE: return s->metrics.last_eval.rmse;
    case MONITOR_VAL_LOSS: break;
    }
    return s->metrics.last_eval.loss;
}

/* Whether v, a value of --monitor, beats the best so far. */
static int es_improves(const dt_session *s, double v)
{
    return s->cfg->train.monitor == MONITOR_VAL_ACCURACY ? v > s->state.progress.es_best
                                                   : v < s->state.progress.es_best;
}

/* Early stopping after an epoch: remember the best weights; 1 = stop now. */
static int early_stop(dt_session *s, int64_t epoch)
{
    dt_progress *p = &s->state.progress;
    const double v = s->watch.value;
    if (es_improves(s, v)) {
        p->es_best = v;
        p->es_best_epoch = epoch + 1;
        p->es_bad = 0;
        memcpy(s->watch.best, s->net.model.params, s->net.model.n_params * sizeof *s->watch.best);
        return 0;
    }
    if (++p->es_bad < s->cfg->train.early_stopping)
        return 0;
    dt_info("early stopping: %s has not improved for %lld epochs (best %.4f at epoch %lld)",
            config_monitor_name(s->cfg->train.monitor), (long long)p->es_bad, p->es_best, (long long)p->es_best_epoch);
    return 1;
}

/* The full-batch objective of the second-order methods: x (double) ->
 * parameters (float), one pass over all ranks' rows, mean loss and gradient. */
typedef struct {
    dt_session *s;
} full_batch_ctx;

static double full_batch_fg(void *vctx, const double *x, double *grad)
{
    dt_session *s = ((full_batch_ctx *)vctx)->s;
    dt_model *m = &s->net.model;
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)x[i];
    double f = trainer_full_batch(s->comm, m, &s->data.train, s->cfg->train.l2, s->cfg->train.l1);
    for (size_t i = 0; i < m->n_params; i++) grad[i] = m->grads[i];
    return f;
}


/* Figures into their columns of a history row. */
static void put_figures(const dt_history *h, double *row, const session_figures *fg)
{
    for (int i = 0; i < fg->n; i++) {
        const int c = history_col(h, fg->name[i]);
        if (c >= 0)
            row[c] = fg->v[i];
    }
}

static void put(const dt_history *h, double *row, const char *name, double v)
{
    const int c = history_col(h, name);
    if (c >= 0)
        row[c] = v;
}

/* The samples an epoch trains on (all, or the full batches with --drop-last). */
static int64_t epoch_samples(const dt_session *s)
{
    int64_t used = s->opt.trainer.steps_per_epoch * s->opt.trainer.opts.batch_size;
    return used < s->data.train.n ? used : s->data.train.n;
}

/* End of an epoch: reduce the loss, evaluate, print, record. */
/* The epoch's mean training loss over all ranks; DT_ENUM if it diverged. */
static dt_status epoch_train_loss(dt_session *s, int64_t epoch, double *train_loss,
                                  dt_error *err)
{
    dt_status st = comm_agree(s->comm, model_fault(&s->net.model, err), err);
    if (st)
        return st;
    double loss = s->state.progress.local_loss;
    comm_allreduce_sum_f64(s->comm, &loss, 1);
    *train_loss = loss / (double)epoch_samples(s);
    if (!isfinite(*train_loss))
        return dt_fail(err, DT_ENUM,
                       "training diverged in epoch %lld (train loss %g); try a smaller %s",
                       (long long)epoch + 1, *train_loss, dt_opt("lr"));
    return DT_OK;
}

/* The evaluated sets' figures after an epoch (s->metrics.last_eval: the watched
 * set's) into the row and onto the epoch line's text. */
static dt_status evaluate_epoch(dt_session *s, double *row, char *text, size_t len,
                                dt_error *err)
{
    const dt_dataset *sets[2] = {&s->data.eval, &s->data.test};
    const char *names[2] = {s->data.eval_name, "test"};
    int n = 0;
    text[0] = '\0';
    for (int i = 0; i < 2; i++) {
        if (!sets[i]->n)
            continue;
        session_figures fg;
        dt_eval ev;
        dt_status st = session_evaluate_set(s, sets[i], names[i], &ev, &fg, err);
        if (st)
            return st;
        if (i == 0)
            s->metrics.last_eval = ev;
        put_figures(&s->state.progress.hist, row, &fg);
        session_format_figures(&fg, text, len, &n);
    }
    return DT_OK;
}

/* --profile: the slowest rank's time in each phase (what the epoch waited
 * for) into the row and a line; t_train is the epoch up to its evaluation,
 * t_all the whole.  A sharded training set's fetch is part of time_data (the
 * rows of the step reaching the rank, by whatever way: the history's columns
 * stay those of every placement, also across a resume that changes it); the
 * line gives it apart, per step.  The update's rate: the largest rank's
 * bytes (trainer.time.update_bytes) over the slowest rank's seconds. */
static void profile_epoch(dt_session *s, int64_t epoch, double t_train, double t_all,
                          double *row)
{
    const dt_trainer *t = &s->opt.trainer;
    double ph[8] = {t->time.data,   t->time.compute, t->time.reduce, t->time.update,
                    t_train,        t->time.fetch,   t->time.fetches, t->time.update_bytes};
    comm_allreduce_max_f64(s->comm, ph, 8);
    const double train = ph[4];
    ph[4] = t_all - t_train; /* the evaluation */
    for (int i = 0; i < 5; i++) put(&s->state.progress.hist, row, session_profile_cols[i], ph[i]);
    char fetch[96] = "";
    if (s->opt.trainer.fetch)
        snprintf(fetch, sizeof fetch, " (fetch %.4f, %.3f ms per step)", ph[5],
                 ph[6] > 0 ? 1e3 * ph[5] / ph[6] : 0.0);
    dt_info("profile epoch %lld: train %.4f s  data %.4f%s  compute %.4f  comm %.4f  "
            "update %.4f (%.1f GB/s)  eval %.4f  (max over ranks)",
            (long long)epoch + 1, train, ph[0], fetch, ph[1], ph[2], ph[3],
            ph[3] > 0 ? ph[7] / ph[3] * 1e-9 : 0.0, ph[4]);
    memset(&s->opt.trainer.time, 0, sizeof s->opt.trainer.time);
}

/* The epoch into the history and the metrics log; --monitor observed. */
static dt_status record_epoch(dt_session *s, int64_t epoch, double *row, double train_loss,
                              dt_error *err)
{
    dt_progress *p = &s->state.progress;
    s->watch.value = monitor_value(s, train_loss);
    if (s->cfg->train.early_stopping) /* the epoch early_stop() will keep, this one included */
        put(&p->hist, row, "best_epoch",
            es_improves(s, s->watch.value) ? (double)(epoch + 1) : (double)p->es_best_epoch);
    dt_status st = history_append(&p->hist, row, err);
    if (st)
        return st;
    if (history_log_append(&s->files.log, &p->hist, err)) {
        dt_warn("%s; the log stops here (checkpoints and %s keep every epoch)", err->msg,
                dt_opt("save"));
        history_log_close(&s->files.log);
    }
    if (sched_observe(&s->opt.sched, s->watch.value))
        dt_info("plateau: %s has not improved for %lld epochs; learning rate now %.3g",
                config_monitor_name(s->cfg->train.monitor), (long long)s->cfg->train.plateau_patience,
                sched_lr(&s->opt.sched, p->step, epoch + 1, s->opt.trainer.steps_per_epoch));
    p->plateau = s->opt.sched.plateau;
    p->epoch = epoch + 1;
    p->batch = 0;
    p->local_loss = 0.0;
    return DT_OK;
}

/* The learning rate of the epoch's last step. */
static double current_lr(const dt_session *s)
{
    return s->so.on ? s->opt.trainer.opts.lr : s->opt.trainer.last_lr;
}

static dt_status finish_epoch(dt_session *s, int64_t epoch, double t_epoch, int64_t done,
                              double base, double t_start, dt_error *err)
{
    const double t_train = comm_wtime() - t_epoch; /* before the evaluation */
    const dt_train_config *cfg = &s->cfg->train;
    double train_loss, row[HIST_MAX_COLS];
    char evtext[512];
    for (int c = 0; c < HIST_MAX_COLS; c++) row[c] = NAN;
    dt_status st = epoch_train_loss(s, epoch, &train_loss, err);
    if (st || (st = evaluate_epoch(s, row, evtext, sizeof evtext, err)))
        return st;
    const double now = comm_wtime(), seconds = base + (now - t_start);
    s->state.progress.seconds = seconds;
    const double fixed[] = {(double)(epoch + 1), (double)s->opt.trainer.step,
                            (double)((epoch + 1) * epoch_samples(s)), now - t_epoch, seconds,
                            current_lr(s), train_loss};
    for (int c = 0; c < (int)(sizeof fixed / sizeof *fixed); c++) row[c] = fixed[c];
    char lrtext[48] = "";
    if (!s->so.on && (s->opt.sched.cfg.kind != SCHED_CONSTANT || s->opt.sched.cfg.warmup_steps))
        snprintf(lrtext, sizeof lrtext, "  lr %.3g", s->opt.trainer.last_lr);
    dt_info("epoch %3lld/%lld  train_loss %.4f%s%s  %.0f samples/s  epoch_time %.2f s  "
            "time %.2f s",
            (long long)epoch + 1, (long long)cfg->epochs, train_loss, evtext, lrtext,
            done > 0 ? (double)done / (now - t_epoch) : 0.0, now - t_epoch, seconds);
    if (s->opt.trainer.norm_sum && cfg->log_grad_norms < 0) /* once per epoch */
        print_grad_norms(s, "epoch", epoch + 1);
    if (cfg->profile)
        profile_epoch(s, epoch, t_train, now - t_epoch, row);
    return record_epoch(s, epoch, row, train_loss, err);
}

static dt_status train_loop(dt_session *s, dt_error *err);

/* Whether any rank asks to stop (ask: this rank's answer). */
static int agree_stop(dt_session *s, int ask)
{
    int64_t stop = ask != 0;
    comm_allreduce_max_i64(s->comm, &stop, 1);
    s->hooks.stopped |= stop != 0;
    return stop != 0;
}

/* The step callback after global batch k: its mean loss over all ranks. */
static int step_hook(dt_session *s, int64_t epoch, int64_t k, double local_loss)
{
    double loss = local_loss;
    comm_allreduce_sum_f64(s->comm, &loss, 1);
    const int64_t b = trainer_batch_size(&s->opt.trainer, k);
    dt_run_info info = {.epoch = epoch + 1, .step = s->opt.trainer.step,
                        .train_loss = b > 0 ? loss / (double)b : NAN, .eval_loss = NAN,
                        .eval_metric = NAN, .lr = s->opt.trainer.last_lr};
    return agree_stop(s, s->hooks.on_step(s->hooks.user, &info));
}

/* The epoch callback, from the history row the epoch just added. */
static int epoch_hook(dt_session *s)
{
    const dt_progress *p = &s->state.progress;
    const int64_t last = p->hist.n_rows - 1;
    const int ev = s->data.eval.n > 0;
    const dt_eval *e = &s->metrics.last_eval;
    dt_run_info info = {.epoch = p->epoch, .step = p->step,
                        .train_loss = history_get(&p->hist, last, "train_loss"),
                        .eval_loss = ev ? e->loss : NAN,
                        .eval_metric = !ev                ? NAN
                                       : s->data.n_classes ? e->accuracy
                                                           : e->rmse,
                        .lr = current_lr(s), .seconds = history_get(&p->hist, last, "time")};
    return agree_stop(s, s->hooks.on_epoch(s->hooks.user, &info));
}

/* The first safe point: a signal during set-up (data loading can take long)
 * ends the run here, before a step is taken, with nothing to save. */
static dt_status stop_before_training(dt_session *s, dt_error *err)
{
    if (!s->allow.signals)
        return DT_OK; /* the process's signals are the caller's */
    if (!s->cfg->train.checkpoint_dir[0] && s->so.on)
        signals_default(); /* no steps, so no safe points: a signal ends the run */
    int64_t sig = signals_pending();
    comm_allreduce_max_i64(s->comm, &sig, 1);
    if (!sig)
        return DT_OK;
    if (s->state.resumed_from[0])
        return dt_fail(err, DT_PREEMPTED,
                       "stopped by %s before training began; %s, the checkpoint it resumed "
                       "from, is unchanged: to continue, run the same command with %s",
                       signals_name((int)sig), s->state.resumed_from, dt_opt("resume"));
    return dt_fail(err, DT_PREEMPTED,
                   "stopped by %s before training began; no step was taken, so nothing "
                   "needed saving: run the same command to start again",
                   signals_name((int)sig));
}

dt_status session_train(dt_session *s, dt_error *err)
{
    if (s->state.complete)
        return DT_OK;
    dt_status st = stop_before_training(s, err);
    if (st)
        return st;
    /* started here unless the caller's watch covers set-up too (watchdog.h) */
    const int watch = s->allow.watchdog && s->cfg->train.step_timeout > 0 && !watchdog_active();
    if (watch && (st = watchdog_start(s->cfg->train.step_timeout, s->comm, err)))
        return st;
    st = train_loop(s, err);
    history_log_close(&s->files.log); /* every epoch is in it */
    watchdog_phase(WD_IDLE, s->opt.trainer.step);
    if (watch)
        watchdog_stop();
    return st;
}

/* Where a training run stands between steps, beyond s->state.progress. */
typedef struct {
    double t_start, base;  /* this run's start; training seconds of earlier runs */
    double last_ckpt;      /* when the newest checkpoint was written */
    /* (step, epoch) of the newest checkpoint: a checkpoint taken inside the last
     * batch of an epoch precedes that epoch's evaluation, so both count. */
    int64_t saved_step, saved_epoch;
    char written[DT_PATH_MAX + 32]; /* its path, "" if none yet */
    long long skips;       /* --on-nan skip: updates skipped so far */
    long long norm_every;  /* --log-grad-norms N: every N steps (0: per epoch or never) */
    double last_tick;      /* rank 0: when the progress display was last called */
    int64_t mine;          /* with a progress display: this rank's samples of the epoch so
                              far, whose loss sum is progress.local_loss */
} run_state;

/* A checkpoint of where the run stands now (final: the run ends after it). */
static dt_status save(dt_session *s, run_state *r, int final, dt_error *err)
{
    dt_status st = checkpoint(s, r->written, sizeof r->written, final, err);
    if (!st) {
        r->saved_step = s->state.progress.step;
        r->saved_epoch = s->state.progress.epoch;
    }
    return st;
}

/* A step whose gradient had NaN or Inf (its update was not made): skipped
 * under --on-nan skip while --max-skips allows, else the run ends.  A
 * failure inside the model's computation (model_fault) shows as NaN too, and
 * ends the run with its own message. */
static dt_status nonfinite_step(dt_session *s, run_state *r, int64_t epoch, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_status st = comm_agree(s->comm, model_fault(&s->net.model, err), err);
    if (st)
        return st;
    if (cfg->on_nan == ON_NAN_SKIP && ++r->skips < cfg->max_skips) {
        dt_warn("NaN or Inf in the gradient at step %lld: update skipped (%lld of "
                "%s %lld)",
                (long long)s->opt.trainer.step, r->skips, dt_opt("max-skips"),
                (long long)cfg->max_skips);
        return DT_OK;
    }
    return dt_fail(err, DT_ENUM,
                   "training diverged: NaN or Inf in the gradient at step %lld (epoch %lld)%s%s%s; "
                   "no checkpoint was written from this state; the last good checkpoint is %s",
                   (long long)s->opt.trainer.step, (long long)epoch + 1,
                   r->skips ? " after " : "", r->skips ? dt_opt("max-skips") : "",
                   r->skips ? " skipped updates" : "",
                   r->written[0]       ? r->written
                   : s->state.resumed_from[0] ? s->state.resumed_from
                                        : "none (no checkpoint written yet)");
}

/* Without a checkpoint directory, a signal (seen by any rank: one small
 * allreduce per step, only when the handlers are ours) stops the run here
 * with nothing to save: DT_STOPPED, the same on every rank. */
static dt_status stop_unsaved(dt_session *s, int64_t epoch, dt_error *err)
{
    if (!s->allow.signals)
        return DT_OK;
    int64_t sig = signals_pending();
    comm_allreduce_max_i64(s->comm, &sig, 1);
    if (!sig)
        return DT_OK;
    signals_protect(1); /* the stop is under way: a repeated signal changes nothing */
    return dt_fail(err, DT_STOPPED,
                   "stopped by %s at step %lld (epoch %lld); nothing saved: no "
                   "%s (with one, the run writes a checkpoint here and %s "
                   "continues from it)",
                   signals_name((int)sig), (long long)s->state.progress.step, (long long)epoch + 1,
                   dt_opt("checkpoint-dir"), dt_opt("resume"));
}

/* After step k of the epoch: replica check, gradient norms, and whether to
 * checkpoint or stop (DT_PREEMPTED: a signal or --stop-at-step). */
static dt_status step_boundary(dt_session *s, run_state *r, int64_t epoch, int64_t k,
                               dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_progress *p = &s->state.progress;
    dt_status st;
    if (cfg->check_replicas > 0 && s->opt.trainer.step % cfg->check_replicas == 0 &&
        (st = check_replicas(s, err)))
        return st;
    p->step = s->opt.trainer.step;
    p->batch = k + 1;
    if (r->norm_every > 0 && p->step % r->norm_every == 0)
        print_grad_norms(s, "step", p->step);
    const int stop = cfg->stop_at_step > 0 && p->step >= cfg->stop_at_step;
    if (!cfg->checkpoint_dir[0] && stop)
        return dt_fail(err, DT_PREEMPTED,
                       "stopped at step %lld (%s); no %s, so nothing "
                       "was saved",
                       (long long)p->step, dt_opt("stop-at-step"), dt_opt("checkpoint-dir"));
    if (!cfg->checkpoint_dir[0])
        return stop_unsaved(s, epoch, err);
    /* One small allreduce: a signal seen by any rank, and rank 0's clock. */
    int64_t flags[2] = {signals_pending(), comm_rank(s->comm) == 0 &&
                                               cfg->checkpoint_every_seconds > 0 &&
                                               comm_wtime() - r->last_ckpt >=
                                                   cfg->checkpoint_every_seconds};
    comm_allreduce_max_i64(s->comm, flags, 2);
    const int due = flags[1] || (cfg->checkpoint_every > 0 && p->step % cfg->checkpoint_every == 0);
    if (!(stop || flags[0] || due))
        return DT_OK;
    r->last_ckpt = comm_wtime();
    p->seconds = r->base + (r->last_ckpt - r->t_start);
    if ((st = save(s, r, stop || flags[0], err)) || !(stop || flags[0]))
        return st;
    return dt_fail(err, DT_PREEMPTED,
                   "stopped by %s at step %lld (epoch %lld); checkpoint %s written; to continue, "
                   "run the same command with %s",
                   flags[0] ? signals_name((int)flags[0]) : dt_opt("stop-at-step"),
                   (long long)p->step, (long long)epoch + 1, r->written, dt_opt("resume"));
}

/* Second order: one full-batch iteration per epoch; its loss is the epoch's. */
static dt_status second_order_epoch(dt_session *s, int64_t *done, dt_error *err)
{
    dt_progress *p = &s->state.progress;
    double f;
    full_batch_ctx ctx = {s};
    watchdog_phase(WD_COMPUTE, s->opt.trainer.step); /* the whole iteration */
    dt_status st = so_step(&s->so.state, s->so.x, full_batch_fg, &ctx, &f, err);
    watchdog_phase(WD_BETWEEN, s->opt.trainer.step + 1);
    dt_status fault = comm_agree(s->comm, model_fault(&s->net.model, err), err);
    if (fault)
        return fault;
    if (st)
        return dt_fail_prefix(err, "%s", so_name(s->so.kind));
    for (size_t i = 0; i < s->net.model.n_params; i++) s->net.model.params[i] = (float)s->so.x[i];
    if (s->net.model.target_stats) {
        /* f is of the standardised targets: the epoch's loss in the targets'
         * units is that of the new parameters, with the same penalty */
        dt_eval ev;
        if ((st = trainer_evaluate(s->comm, &s->net.model, &s->data.train, &ev, err)))
            return st;
        f = ev.loss + trainer_penalty_range(&s->net.model, NULL, 0, s->net.model.n_params,
                                            s->cfg->train.l2, s->cfg->train.l1);
    }
    p->local_loss = comm_rank(s->comm) == 0 ? f * (double)s->data.train.n : 0.0;
    p->step = ++s->opt.trainer.step;
    p->batch = s->opt.trainer.steps_per_epoch;
    *done = s->data.train.n;
    return DT_OK;
}

/* The samples of the epoch's batch k whose losses this rank adds up. */
static int64_t local_slice(const dt_session *s, int64_t k)
{
    return trainer_loss_rows(&s->opt.trainer, k);
}

/* This rank's samples of the epoch's batches [0, k): where a resumed epoch's
 * count starts. */
static int64_t local_samples(const dt_session *s, int64_t k)
{
    int64_t n = 0;
    for (int64_t j = 0; j < k; j++) n += local_slice(s, j);
    return n;
}

/* The progress display's view after batch k of the epoch (rank 0, at most
 * every tick_every seconds): nothing is communicated. */
static void tick(dt_session *s, run_state *r, int64_t epoch, int64_t k, int64_t done,
                 double t_epoch)
{
    const double now = comm_wtime();
    if (comm_rank(s->comm) != 0 || now - r->last_tick < s->hooks.tick_every)
        return;
    r->last_tick = now;
    const int64_t mine = r->mine;
    const int64_t n = epoch_samples(s), upto = (k + 1) * s->opt.trainer.opts.batch_size;
    dt_tick t = {.epoch = epoch + 1, .epochs = s->cfg->train.epochs, .batch = k + 1,
                 .batches = s->opt.trainer.steps_per_epoch, .samples = upto < n ? upto : n,
                 .n_samples = n, .seconds = now - t_epoch,
                 .rate = now > t_epoch ? (double)done / (now - t_epoch) : 0.0,
                 .loss = mine ? s->state.progress.local_loss / (double)mine : NAN,
                 .lr = current_lr(s)};
    s->hooks.on_tick(s->hooks.tick_user, &t);
}

/* After a finished epoch: whether it is the last one before --epochs --
 * early stopping's patience ran out (the best weights kept), a callback
 * asked to stop, or a second-order method can no longer move. */
static int last_epoch(dt_session *s, int64_t epoch)
{
    const dt_so *so = &s->so.state;
    const int patience_out = s->cfg->train.early_stopping && early_stop(s, epoch); /* keeps the best */
    const int asked = s->hooks.on_epoch && epoch_hook(s);
    if (patience_out || asked)
        return 1;
    if (!s->so.on || so->stop == SO_RUNNING)
        return 0;
    /* another iteration would not move */
    if (epoch + 1 < s->cfg->train.epochs)
        dt_info("%s: %s after %lld iterations (max |gradient| %.3g)", so_name(s->so.kind),
                so->stop == SO_CONVERGED ? "converged" : "stalled",
                (long long)so_iterations(so), so->gnorm);
    return 1;
}

/* One epoch, from where the progress stands; *last: training is over. */
static dt_status run_epoch(dt_session *s, run_state *r, int64_t epoch, int *last, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_progress *p = &s->state.progress;
    const double t_epoch = comm_wtime();
    int64_t done = 0;
    dt_status st;
    trainer_begin_epoch(&s->opt.trainer, epoch);
    r->mine = s->hooks.on_tick ? local_samples(s, p->batch) : 0;
    if (s->so.on && (st = second_order_epoch(s, &done, err)))
        return st;
    for (int64_t k = p->batch; k < s->opt.trainer.steps_per_epoch; k++) {
        const double loss = trainer_step(&s->opt.trainer, k);
        p->local_loss += loss;
        done += trainer_batch_size(&s->opt.trainer, k);
        if ((s->opt.trainer.nonfinite && (st = nonfinite_step(s, r, epoch, err))) ||
            (st = step_boundary(s, r, epoch, k, err)))
            return st;
        if (s->hooks.on_tick) {
            r->mine += local_slice(s, k);
            tick(s, r, epoch, k, done, t_epoch);
        }
        if (s->hooks.on_step && step_hook(s, epoch, k, loss)) {
            *last = 1; /* the epoch is left unfinished: no evaluation, no line */
            return DT_OK;
        }
    }
    if ((st = finish_epoch(s, epoch, t_epoch, done, r->base, r->t_start, err)))
        return st;
    *last = last_epoch(s, epoch);
    if (!*last && cfg->checkpoint_dir[0] && cfg->checkpoint_every_epoch)
        return save(s, r, 0, err);
    return DT_OK;
}

static dt_status train_loop(dt_session *s, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_progress *p = &s->state.progress;
    const double t0 = comm_wtime();
    run_state r = {.t_start = t0, .base = p->seconds, .last_tick = t0,
                   .saved_step = s->state.resumed_from[0] ? p->step : -1, .saved_epoch = p->epoch,
                   .norm_every = cfg->log_grad_norms > 0 ? cfg->log_grad_norms : 0};
    r.last_ckpt = r.t_start;
    dt_status st;
    int last = 0;
    for (int64_t epoch = p->epoch; epoch < cfg->epochs && !last; epoch++)
        if ((st = run_epoch(s, &r, epoch, &last, err)))
            return st;
    s->state.ran_out = !last && p->epoch == cfg->epochs;
    if (cfg->early_stopping && p->es_best_epoch > 0) {
        /* the best epoch's weights are the ones kept and saved */
        memcpy(s->net.model.params, s->watch.best, s->net.model.n_params * sizeof *s->watch.best);
        dt_info("early stopping: keeping the weights of epoch %lld (%s %.4f)",
                (long long)p->es_best_epoch, config_monitor_name(cfg->monitor), p->es_best);
    }
    if (cfg->checkpoint_dir[0] && (r.saved_step != p->step || r.saved_epoch != p->epoch)) {
        if ((st = save(s, &r, 0, err)))
            return st;
        dt_info("checkpoint %s", r.written);
    }
    return DT_OK;
}
