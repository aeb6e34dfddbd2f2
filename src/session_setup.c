/* dtrain: setting up a training run, as a list of named stages (failures
 * agreed after each), and taking it down. */
#include "dtrain/session_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtrain/fsutil.h"
#include "dtrain/linalg.h"
#include "dtrain/metrics.h"
#include "dtrain/cfgsave.h"
#include "dtrain/modelio.h"
#include "dtrain/testhooks.h"

dt_status session_setup(dt_session *s, dt_config *cfg, dt_comm *comm, dt_error *err)
{
    return session_setup_with(s, cfg, comm, NULL, NULL, err);
}

/* --precision: the model's arithmetic; a CPU that only emulates bf16 is
 * named once. */
static dt_status set_precision(dt_session *s, dt_error *err)
{
    const dt_precision prec = s->cfg->train.precision;
    const char *warning;
    dt_status st = matmul_check_precision(prec, &warning, err);
    if (!st && warning)
        dt_warn("%s", warning);
    return st ? st : model_set_precision(&s->net.model, prec, err);
}

/* Make the compute plans of every batch size this rank will run, so that no
 * step generates code: its slice of a full global batch of b and of the last,
 * shorter one (forward and backward), the blocks of the full-batch gradient
 * of the second-order methods (the same), and the evaluation blocks of the
 * sets the epochs report on (forward). */
static dt_status prepare_plans(dt_session *s, int64_t b, dt_error *err)
{
    dt_model *m = &s->net.model;
    const int rank = comm_rank(s->comm), size = comm_size(s->comm);
    const int64_t n = s->data.train.n, last = s->cfg->train.drop_last ? 0 : n % b;
    const int64_t global[2] = {b, last}, mb = s->cfg->train.reproducible ? s->cfg->train.micro_batch : 0;
    dt_status st = DT_OK;
    for (int i = 0; i < 2 && !st; i++) {
        int64_t lo, hi;
        if (mb > 0) { /* whole micro-batches, and the batch's shorter last one */
            if (global[i] > 0)
                st = model_prepare(m, (int)(global[i] < mb ? global[i] : mb), 1, err);
            if (!st && global[i] > mb && global[i] % mb)
                st = model_prepare(m, (int)(global[i] % mb), 1, err);
            /* and this rank's groups of them, each one forward pass */
            const int64_t group = trainer_micro_group(m->max_batch, mb);
            block_slice(global[i], mb, rank, size, &lo, &hi);
            for (int64_t at = lo; at < hi && !st; at += group) {
                const int len = (int)(hi - at < group ? hi - at : group);
                if (!(st = model_prepare(m, len, 1, err)))
                    (void)model_parts_exact(m, len, (int)mb);
            }
            continue;
        }
        batch_slice(global[i], rank, size, &lo, &hi);
        if (hi > lo)
            st = model_prepare(m, (int)(hi - lo), 1, err);
    }
    if (!st && s->so.on)
        st = trainer_prepare_blocks(s->comm, m, s->data.train.n, 1, err);
    if (!st)
        st = trainer_prepare_blocks(s->comm, m, s->data.eval.n ? s->data.eval.n : s->data.train.n,
                                    0, err);
    if (!st && s->data.test.n)
        st = trainer_prepare_blocks(s->comm, m, s->data.test.n, 0, err);
    return st;
}

/* What the options say, parsed and checked once: the same on every rank, so
 * no agreement is needed until a step reads a file. */
typedef struct {
    dt_head head;
    dt_init init;
    dt_norm_kind nk;
    dt_optim_config oc; /* the first-order optimizer (an inert sgd for second order) */
    double lr;          /* --lr, or the optimizer's default rate */
    dt_layer_spec hidden[DT_MAX_LAYERS];
    int n_hidden;
    int64_t batch; /* the global batch: --batch-size, at most the training set */
} setup_plan;

/* The optimizer: torch.optim's defaults for the method, then what the user gave. */
static dt_status parse_optimizer(dt_session *s, setup_plan *p, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    /* --optimizer lists the first-order kinds, then the second-order ones */
    s->so.on = cfg->train.optimizer >= OPTIMIZER_SECOND_ORDER;
    s->so.kind = s->so.on ? (dt_so_kind)(cfg->train.optimizer - OPTIMIZER_SECOND_ORDER) : SO_LBFGS;
    const dt_optim_kind okind = s->so.on ? OPTIM_SGD : (dt_optim_kind)cfg->train.optimizer;
    if (CONFIG_GIVEN(cfg, train.momentum) && okind != OPTIM_SGD && okind != OPTIM_MOMENTUM &&
        okind != OPTIM_NESTEROV && okind != OPTIM_RMSPROP)
        return dt_fail_opt(err, DT_EUSAGE, "momentum", "%s applies to %s sgd, momentum, "
                           "nesterov and rmsprop only", dt_opt("momentum"), dt_opt("optimizer"));
    dt_optim_config oc = optim_config_default(okind);
    if (CONFIG_GIVEN(cfg, train.momentum)) oc.momentum = cfg->train.momentum;
    if (CONFIG_GIVEN(cfg, train.dampening)) oc.dampening = cfg->train.dampening;
    if (CONFIG_GIVEN(cfg, train.beta1)) oc.beta1 = cfg->train.beta1;
    if (CONFIG_GIVEN(cfg, train.beta2)) oc.beta2 = cfg->train.beta2;
    if (CONFIG_GIVEN(cfg, train.eps)) oc.eps = cfg->train.eps;
    if (CONFIG_GIVEN(cfg, train.weight_decay)) oc.weight_decay = cfg->train.weight_decay;
    if (CONFIG_GIVEN(cfg, train.rmsprop_alpha)) oc.alpha = cfg->train.rmsprop_alpha;
    if (CONFIG_GIVEN(cfg, train.centered)) oc.centered = cfg->train.centered;
    if (CONFIG_GIVEN(cfg, train.lr_decay)) oc.lr_decay = cfg->train.lr_decay;
    if (CONFIG_GIVEN(cfg, train.initial_accumulator)) oc.initial_accumulator_value = cfg->train.initial_accumulator;
    /* second order: the first-order optimizer stays an inert plain sgd the checkpoint can save */
    p->oc = s->so.on ? optim_config_default(OPTIM_SGD) : oc;
    p->lr = isnan(cfg->train.lr) ? optim_default_lr(okind) : cfg->train.lr; /* NaN: not given */
    return DT_OK;
}

/* The learning-rate schedule (first order) from the base rate lr. */
static dt_status parse_schedule(dt_session *s, double lr, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const dt_sched_kind sk = cfg->train.schedule;
    dt_status st;
    dt_sched_config sc = sched_config_default(sk, lr);
    sc.lr_min = cfg->train.lr_min;
    sc.decay_steps = cfg->train.decay_steps;
    sc.epochs = cfg->train.epochs;
    sc.step_epochs = cfg->train.step_epochs;
    if (CONFIG_GIVEN(cfg, train.gamma) || sk == SCHED_STEP) sc.gamma = cfg->train.gamma;
    sc.warmup_steps = cfg->train.warmup_steps;
    sc.factor = cfg->train.plateau_factor;
    sc.patience = cfg->train.plateau_patience;
    sc.maximize = cfg->train.monitor == MONITOR_VAL_ACCURACY;
    if ((st = sched_init(&s->opt.sched, &sc, err)))
        return dt_fail_prefix(err, "%s %s", dt_opt("schedule"), sched_name(sk));
    return DT_OK;
}

/* --metrics: each must suit the head. */
static dt_status check_metrics(dt_session *s, dt_head head, dt_error *err)
{
    const dt_choices *m = &s->cfg->train.metrics;
    for (int i = 0; i < m->n; i++) {
        if (metrics_check((dt_metric)m->v[i], head, err))
            return dt_fail_prefix(err, "%s", dt_opt("metrics"));
        s->metrics.which[s->metrics.n++] = m->v[i];
    }
    return DT_OK;
}

/* Options that only make sense together. */
static dt_status check_combinations(const dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    for (int l = 0; s->so.on && l < p->n_hidden; l++)
        if (p->hidden[l].dropout > 0)
            return dt_fail(err, DT_EUSAGE, "dropout needs a first-order optimizer (the "
                                           "full-batch %s objective must be deterministic)",
                           config_optimizer_name(cfg->train.optimizer));
    if (CONFIG_GIVEN(cfg, train.micro_batch) && !cfg->train.reproducible)
        return dt_fail_opt(err, DT_EUSAGE, "micro-batch", "%s applies to %s runs only",
                           dt_opt("micro-batch"), dt_opt("reproducible"));
    if (cfg->train.reproducible && s->so.on)
        return dt_fail_opt(err, DT_EUSAGE, "reproducible", "%s needs a first-order optimizer "
                           "(%s sums the full-batch gradient in rank-count-dependent order)",
                           dt_opt("reproducible"), config_optimizer_name(cfg->train.optimizer));
    if (cfg->train.reproducible && cfg->train.threads > 1)
        return dt_fail_opt(err, DT_EUSAGE, "reproducible", "%s computes with one thread per "
                           "rank (%s 1): a GEMM split over threads may add in another order",
                           dt_opt("reproducible"), dt_opt("threads"));
    if (cfg->train.early_stopping && cfg->train.monitor == MONITOR_VAL_ACCURACY && cfg->train.output == HEAD_LINEAR)
        return dt_fail_opt(err, DT_EUSAGE, "monitor", "%s valid_accuracy needs a classifier "
                           "output", dt_opt("monitor"));
    if (cfg->train.monitor == MONITOR_VAL_RMSE && cfg->train.output != HEAD_LINEAR)
        return dt_fail_opt(err, DT_EUSAGE, "monitor", "%s valid_rmse needs %s linear",
                           dt_opt("monitor"), dt_opt("output"));
    if (!cfg->train.checkpoint_dir[0] &&
        (cfg->train.checkpoint_every || cfg->train.checkpoint_every_epoch || cfg->train.checkpoint_every_seconds > 0 ||
         cfg->train.keep))
        return dt_fail_opt(err, DT_EUSAGE, "checkpoint-dir",
                           "%s, %s, %s and %s need %s DIR", dt_opt("checkpoint-every"),
                           dt_opt("checkpoint-every-epoch"), dt_opt("checkpoint-every-seconds"),
                           dt_opt("keep"), dt_opt("checkpoint-dir"));
    return DT_OK;
}

/* Step 1, local: every option parsed and checked. */
static dt_status parse_options(dt_session *s, int have_data, setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    if (!have_data && !cfg->data[0])
        return dt_fail_missing(err, "data", "FILE.h5"); /* a command line adds its help */
    dt_status st;
    p->head = cfg->output;
    p->init = cfg->init;
    p->nk = cfg->normalize;
    p->n_hidden = cfg->layers.n;
    for (int l = 0; l < p->n_hidden; l++) {
        p->hidden[l] = cfg->layers.spec[l];
        if (p->hidden[l].dropout < 0) /* no rate of its own */
            p->hidden[l].dropout = (float)cfg->dropout;
    }
    if ((st = parse_optimizer(s, p, err)) || (st = parse_schedule(s, p->lr, err)) || (st = check_metrics(s, p->head, err)) ||
        (st = check_combinations(s, p, err)))
        return st;
    linalg_set_threads((int)cfg->threads); /* LAPACK (second-order methods) */
    matmul_set_threads((int)cfg->threads);
    return DT_OK;
}

/* The run's files against fs_check_files's rule (rank 0; agreed):
 * --save and --log against the inputs, each other and the checkpoint
 * directory's own files; `resumed` (a checkpoint, or "") is an input too. */
static dt_status check_files(const dt_session *s, const char *resumed, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_status st = DT_OK;
    /* six names from dt_opt's eight buffers, and ckpt_owned_dir's own: all
     * alive until fs_check_files has used them */
    const fs_file files[] = {
        {dt_opt("data"), cfg->train.data, FS_INPUT},
        {dt_opt("init-from"), cfg->train.init_from, FS_INPUT},
        {dt_opt("config"), cfg->config_file, FS_INPUT},
        {dt_opt("resume"), resumed, FS_OWNED},
        {dt_opt("save"), cfg->train.save, FS_OUTPUT},
        {dt_opt("log"), cfg->train.log, FS_OUTPUT},
    };
    const fs_owned_dir dir = ckpt_owned_dir(cfg->train.checkpoint_dir);
    if (comm_rank(s->comm) == 0)
        st = fs_check_files(files, sizeof files / sizeof files[0], &dir, err);
    return comm_agree(s->comm, st, err);
}

/* Step 2: the outputs, before any work (a typo should not cost a whole
 * training run), and the checkpoint directory made this run's own. */
static dt_status claim_outputs(dt_session *s, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_status st = check_files(s, cfg->resume.on ? cfg->resume.path : "", err);
    if (st)
        return st;
    if (comm_rank(s->comm) == 0 && cfg->checkpoint_dir[0])
        st = ckpt_claim_dir(cfg->checkpoint_dir, &s->files.dir_lock, err);
    return comm_agree(s->comm, st, err);
}

/* Step 4: rank 0 chooses the checkpoint to resume from (checking checksums,
 * falling back past damaged ones) and tells the others; no output may be
 * the file chosen. */
static dt_status choose_checkpoint(dt_session *s, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    if (!cfg->resume.on)
        return DT_OK;
    dt_status st = DT_OK;
    if (comm_rank(s->comm) == 0)
        st = ckpt_find(cfg->resume.path, cfg->checkpoint_dir, s->state.resumed_from,
                       sizeof s->state.resumed_from, err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    comm_bcast(s->comm, s->state.resumed_from, sizeof s->state.resumed_from, 0);
    if (!s->state.resumed_from[0])
        dt_info("dtrain: no checkpoint in %s yet: starting fresh", cfg->checkpoint_dir);
    return s->state.resumed_from[0] ? check_files(s, s->state.resumed_from, err) : DT_OK;
}

/* Step 5, local: the batch against the data (p->batch), with warnings for
 * what works but may surprise. */
static dt_status size_batches(const dt_session *s, setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    const dt_dataset *tr = &s->data.train;
    if (cfg->drop_last && cfg->batch_size > tr->n)
        return dt_fail_opt(err, DT_EUSAGE, "batch-size",
                           "%s %lld with %s leaves no batch: %s has %lld training samples",
                           dt_opt("batch-size"), (long long)cfg->batch_size,
                           dt_opt("drop-last"), cfg->train_group, (long long)tr->n);
    if (cfg->batch_size > tr->n)
        dt_warn("%s %lld is larger than the %lld training samples: each epoch is "
                "one batch of %lld",
                dt_opt("batch-size"), (long long)cfg->batch_size, (long long)tr->n, (long long)tr->n);
    if (cfg->batch_size < comm_size(s->comm))
        dt_warn("%s %lld is smaller than the %d ranks: some ranks get no samples "
                "(the result is the same, only slower)",
                dt_opt("batch-size"), (long long)cfg->batch_size, comm_size(s->comm));
    for (int l = 0; l < p->n_hidden; l++)
        if (p->hidden[l].act.kind == ACT_STEP) {
            dt_warn("layer %d uses the step activation: its derivative is 0, so no layer "
                    "before or at it receives a gradient (only later layers train)",
                    l + 1);
            break;
        }
    p->batch = cfg->batch_size < tr->n ? cfg->batch_size : tr->n;
    return DT_OK;
}

/* Step 6: the normalisation (the checkpoint's when resuming, whatever the
 * rank count now; else fitted on the training set), applied to the sets. */
static dt_status normalise(dt_session *s, dt_norm_kind nk, dt_error *err)
{
    const dt_dataset *tr = &s->data.train;
    dt_status st;
    if (s->state.resumed_from[0]) {
        st = ckpt_load_norm(s->state.resumed_from, &s->net.norm, err);
        if (!st && s->net.norm.d != tr->d)
            st = dt_fail(err, DT_EUSAGE, "%s: normalisation for %lld features, data has %lld",
                         s->state.resumed_from, (long long)s->net.norm.d, (long long)tr->d);
        if ((st = comm_agree(s->comm, st, err)))
            return st;
    } else if ((st = norm_fit(s->comm, tr, nk, s->cfg->train.reproducible, &s->net.norm, err))) {
        return st;
    }
    dataset_normalize(&s->net.norm, &s->data.train);
    if (s->data.eval.n)
        dataset_normalize(&s->net.norm, &s->data.eval);
    if (s->data.test.n)
        dataset_normalize(&s->net.norm, &s->data.test);
    return DT_OK;
}

/* Step 7: the model, its GEMM plans and its first weights (rank 0's, or
 * --init-from's, on every rank). */
static dt_status build_model(dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    const dt_dataset *tr = &s->data.train;
    int n_out = p->head == HEAD_SOFTMAX   ? s->data.n_classes
                : p->head == HEAD_SIGMOID ? 1
                                          : (int)tr->k;
    const int max_batch = session_eval_block(s, tr->n);
    /* sharded sets were split in blocks of it (load_group) */
    if (tr->block && tr->block != max_batch)
        return dt_fail(err, DT_EINTERNAL, "sharded in blocks of %lld rows, not %d",
                       (long long)tr->block, max_batch);
    dt_status st = model_create(&s->net.model, (int)tr->d, p->hidden, p->n_hidden, n_out, p->head,
                                max_batch, err);
    if (!st)
        st = set_precision(s, err);
    if (!st)
        st = prepare_plans(s, p->batch, err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    if (cfg->init_from[0])
        st = modelio_load_weights(cfg->init_from, &s->net.model, err);
    else
        model_init(&s->net.model, p->init, (uint64_t)cfg->seed);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    comm_bcast(s->comm, s->net.model.params, s->net.model.n_params * sizeof(float), 0);
    return DT_OK;
}

/* Step 7b: --normalize-targets: a linear head learns standardised targets
 * (loss.h), with the statistics of the training split (every rank holds
 * all its targets: the same bits at any rank count), or when resuming the
 * checkpoint's, if it has any (a checkpoint written without them trained on
 * the targets as they are). */
static dt_status scale_targets(dt_session *s, dt_error *err)
{
    dt_model *m = &s->net.model;
    dt_status st = DT_OK;
    if (s->state.resumed_from[0]) {
        st = modelio_load_target_scaling(s->state.resumed_from, m, err);
    } else if (m->head == HEAD_LINEAR && s->cfg->train.normalize_targets == SWITCH_ON) {
        float *stats = malloc(2 * (size_t)m->n_out * sizeof *stats);
        st = stats ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory");
        if (!st) {
            dataset_target_stats(&s->data.train, stats, stats + m->n_out);
            st = model_set_target_scaling(m, stats, stats + m->n_out, err);
        }
        free(stats);
    }
    return comm_agree(s->comm, st, err);
}

/* Second-order methods: their state and the parameters in double. */
static dt_status build_second_order(dt_session *s, dt_error *err)
{
    dt_so_config soc = so_config_default();
    soc.history = (int)s->cfg->train.lbfgs_history;
    /* The gradient is computed in float32: a central-difference step near
     * cbrt(FLT_EPSILON) balances its rounding against truncation. */
    soc.fd_step = 5e-3;
    dt_status st = so_init(&s->so.state, s->so.kind, s->net.model.n_params, &soc, err);
    if (!st && !(s->so.x = malloc(s->net.model.n_params * sizeof *s->so.x)))
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    for (size_t i = 0; !st && i < s->net.model.n_params; i++)
        s->so.x[i] = s->net.model.params[i];
    if (st && !s->so.x)
        so_free(&s->so.state);
    return st;
}

/* The outputs --metrics needs of this rank's part of the largest set it
 * evaluates (metrics_* take the model's outputs). */
static size_t pred_len(const dt_session *s)
{
    const dt_dataset *sets[] = {&s->data.eval, &s->data.test, &s->data.train};
    int64_t most = 0, lo, hi;
    for (int i = 0; i < 3; i++) {
        block_slice(sets[i]->n, s->net.model.max_batch, comm_rank(s->comm), comm_size(s->comm), &lo,
                    &hi);
        most = hi - lo > most ? hi - lo : most;
    }
    return (size_t)(most * s->net.model.n_out + 1);
}

/* The metrics reported for each set: --metrics, or the head's default. */
static int report_metrics(const dt_session *s, dt_metric *out)
{
    for (int i = 0; i < s->metrics.n; i++) out[i] = (dt_metric)s->metrics.which[i];
    if (s->metrics.n)
        return s->metrics.n;
    out[0] = s->data.n_classes ? METRIC_ACCURACY : METRIC_RMSE;
    return 1;
}

const char *const session_profile_cols[5] = {"time_data", "time_compute", "time_comm",
                                           "time_update", "time_eval"};

/* The columns of the run's history (history.h): its naming scheme. */
static dt_status define_history(dt_session *s, dt_error *err)
{
    dt_history *h = &s->state.progress.hist;
    static const char *const fixed[] = {"epoch", "step", "samples", "epoch_time",
                                        "time",  "lr",   "train_loss"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) history_add_col(h, "%s", fixed[i]);
    dt_metric m[8];
    const int nm = report_metrics(s, m);
    const dt_dataset *sets[2] = {&s->data.eval, &s->data.test};
    const char *names[2] = {s->data.eval_name, "test"};
    for (int i = 0; i < 2; i++) {
        if (!sets[i]->n)
            continue;
        history_add_col(h, "%s_loss", names[i]);
        for (int j = 0; j < nm; j++) history_add_col(h, "%s_%s", names[i], metrics_name(m[j]));
    }
    if (s->cfg->train.early_stopping)
        history_add_col(h, "best_epoch");
    for (int i = 0; s->cfg->train.profile && i < 5; i++) history_add_col(h, "%s", session_profile_cols[i]);
    if (h->n_cols == HIST_MAX_COLS)
        return dt_fail(err, DT_EUSAGE, "too many figures per epoch for the history");
    return DT_OK;
}

/* Step 8: optimizer, trainer and the buffers a run needs. */
static dt_status build_trainer(dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_status st = DT_OK;
    if (s->so.on && (st = comm_agree(s->comm, build_second_order(s, err), err)))
        return st;
    st = optim_init(&s->opt.optim, &p->oc, s->net.model.n_params, err);
    /* trainer_init is collective (the reduction's shared window) */
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    /* a micro-batch longer than the batch is the whole batch (one micro-batch,
     * the same sums), and no more rows than the model's workspace holds */
    const int64_t mb = cfg->micro_batch < p->batch ? cfg->micro_batch : p->batch;
    dt_train_opts to = {.batch_size = p->batch,
                        .drop_last = cfg->drop_last,
                        .shuffle = cfg->shuffle == SWITCH_ON,
                        .seed = (uint64_t)cfg->seed,
                        .lr = p->lr,
                        .l2 = cfg->l2,
                        .l1 = cfg->l1,
                        .clip_norm = cfg->clip_norm,
                        .clip_value = cfg->clip_value,
                        .grad_norms = cfg->log_grad_norms != 0,
                        .node_reduce = cfg->reduction == REDUCE_NODE,
                        .micro_batch = cfg->reproducible ? mb : 0};
    st = trainer_init(&s->opt.trainer, s->comm, &s->net.model, &s->opt.optim, &s->data.train, &to,
                      err);
    if (!st)
        s->opt.trainer.sched = &s->opt.sched;
    if (!st && cfg->early_stopping &&
        !(s->watch.best = malloc(s->net.model.n_params * sizeof *s->watch.best)))
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st && s->metrics.n && !(s->metrics.pred = malloc(pred_len(s) * sizeof *s->metrics.pred)))
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    progress_init(&s->state.progress);
    if (!st)
        st = define_history(s, err);
    return comm_agree(s->comm, st, err);
}

/* Step 9: where the run stands: the start, or the checkpoint's state. */
static dt_status restore_progress(dt_session *s, dt_error *err)
{
    dt_progress *pr = &s->state.progress;
    pr->plateau = s->opt.sched.plateau;
    pr->es_best = s->cfg->train.monitor == MONITOR_VAL_ACCURACY ? -INFINITY : INFINITY;
    dt_status st = DT_OK;
    if (s->state.resumed_from[0]) {
        dt_ckpt_parts parts = session_parts(s);
        st = ckpt_load(s->state.resumed_from, &parts, comm_rank(s->comm), comm_size(s->comm), pr,
                       err);
    }
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    /* rank 0 writes the checkpoints: its choice is the run's */
    pr->lineage = ckpt_lineage(s->state.resumed_from, s->cfg->train.checkpoint_dir,
                               !s->cfg->train.resume.path[0], pr->lineage);
    comm_bcast(s->comm, &pr->lineage, sizeof pr->lineage, 0);
    if (!s->state.resumed_from[0])
        return DT_OK;
    history_truncate(&pr->hist, pr->epoch); /* epochs after it are to be trained again */
    s->opt.trainer.step = pr->step;
    s->opt.sched.plateau = pr->plateau;
    if (pr->batch > 0 && !s->so.on) /* the epoch's line and record need its rate */
        s->opt.trainer.last_lr =
            sched_lr(&s->opt.sched, pr->step - 1, pr->epoch, s->opt.trainer.steps_per_epoch);
    if (s->so.on) /* the float parameters are the double ones rounded */
        for (size_t i = 0; i < s->net.model.n_params; i++)
            s->net.model.params[i] = (float)s->so.x[i];
    s->state.complete = pr->epoch >= s->cfg->train.epochs && pr->batch == 0;
    if (s->state.complete) /* a requeued job that had finished */
        dt_info("dtrain: %s is the end of this run (%lld of %s %lld done, step %lld): "
                "nothing to train or write; raise %s to continue it",
                s->state.resumed_from, (long long)pr->epoch, dt_opt("epochs"),
                (long long)s->cfg->train.epochs, (long long)pr->step, dt_opt("epochs"));
    else
        dt_info("dtrain: resuming from %s at epoch %lld, step %lld", s->state.resumed_from,
                (long long)pr->epoch + 1, (long long)pr->step);
    return DT_OK;
}

/* Step 10, rank 0: --log begins with the epochs the run already has (a
 * resumed run's, from its checkpoint), so no epoch is written twice, and
 * stays open until training ends (history.h).  A complete run writes
 * nothing. */
static dt_status start_log(dt_session *s, dt_error *err)
{
    dt_status st = DT_OK;
    if (s->cfg->train.log[0] && !s->state.complete && comm_rank(s->comm) == 0)
        st = history_log_open(&s->files.log, s->cfg->train.log, &s->state.progress.hist, err);
    return comm_agree(s->comm, st, err);
}

/* A test fault (testhooks.h): a rank slow in set-up, as a large data load
 * makes it, and sleeping through signals.  It says so on stderr, which only
 * a test reads, so that the test knows when the rank is in set-up. */
static void setup_faults(const dt_session *s)
{
    if (comm_rank(s->comm) != dt_hooks.setup_sleep_rank)
        return;
    fprintf(stderr, "test hook: rank %d sleeps %g s in set-up\n", comm_rank(s->comm),
            dt_hooks.setup_sleep_seconds);
    struct timespec nap = {(time_t)dt_hooks.setup_sleep_seconds, 0};
    while (nanosleep(&nap, &nap) == -1 && errno == EINTR)
        ;
}

dt_status session_setup_with(dt_session *s, dt_config *cfg, dt_comm *comm,
                             dt_dataset *train, dt_dataset *valid, dt_error *err)
{
    memset(s, 0, sizeof *s);
    history_log_init(&s->files.log);
    s->cfg = cfg;
    s->comm = comm;
    s->data.eval_name = "test";
    if (train) {
        /* take ownership of the caller's sets */
        s->data.train = *train;
        memset(train, 0, sizeof *train);
        if (valid) {
            s->data.eval = *valid;
            memset(valid, 0, sizeof *valid);
        }
        s->data.eval_name = "valid";
        s->data.validating = 1;
        snprintf(s->data.eval_src, sizeof s->data.eval_src, "the evaluation data");
    }
    setup_plan p;
    dt_status st;
    if ((st = session_pick_head(cfg, comm, train ? &s->data.train : NULL, err)) ||
        (st = parse_options(s, train != NULL, &p, err)) || (st = claim_outputs(s, err)))
        return st;
    /* step 3: the data (metadata of every group first, then the reads) */
    if (train && !s->data.eval.n && session_holdout(cfg) > 0)
        st = session_hold_out(s, session_holdout(cfg), err);
    if (!st)
        st = train ? session_check_data(s, p.head, "valid", err) : session_load_data(s, p.head, err);
    if ((st = comm_agree(comm, st, err)))
        return st;
    setup_faults(s);
    if ((st = choose_checkpoint(s, err)) || (st = size_batches(s, &p, err)) || (st = normalise(s, p.nk, err)) ||
        (st = build_model(s, &p, err)) || (st = scale_targets(s, err)) ||
        (st = build_trainer(s, &p, err)) || (st = restore_progress(s, err)))
        return st;
    return start_log(s, err);
}

dt_ckpt_parts session_parts(dt_session *s)
{
    dt_ckpt_parts p = {cfgsave_opts(s->cfg),
                       &s->net.model,
                       &s->opt.optim,
                       &s->net.norm,
                       s->data.train.n,
                       s->watch.best,
                       s->so.on ? &s->so.state : NULL,
                       s->so.x,
                       s->opt.trainer.steps_per_epoch};
    return p;
}

void session_free(dt_session *s)
{
    ckpt_release_dir(&s->files.dir_lock);
    history_log_close(&s->files.log);
    progress_free(&s->state.progress);
    free(s->watch.best);
    free(s->so.x);
    free(s->metrics.pred);
    if (s->so.on)
        so_free(&s->so.state);
    trainer_free(&s->opt.trainer);
    optim_free(&s->opt.optim);
    model_free(&s->net.model);
    norm_free(&s->net.norm);
    dataset_free(&s->data.train);
    dataset_free(&s->data.eval);
    dataset_free(&s->data.test);
}
