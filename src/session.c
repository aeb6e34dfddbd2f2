/* dtrain: setting up a training run. */
#include "dtrain/session.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/fsutil.h"
#include "dtrain/rng.h"
#include "dtrain/metrics.h"
#include "dtrain/h5io.h"
#include "dtrain/signals.h"
#include "dtrain/watchdog.h"
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

/* A set that is evaluated with the model trained on another fits it: as
 * many features and, for regression, as many targets per sample. */
static dt_status check_fit(const dt_config *cfg, const char *group, int64_t d, int64_t k,
                           int64_t train_d, int64_t train_k, int classify, dt_error *err)
{
    const char *src = cfg->data[0] ? cfg->data : "data";
    if (d != train_d)
        return dt_fail(err, DT_EUSAGE, "%s: %s/X has %lld features but %s/X has %lld", src,
                       group, (long long)d, cfg->train_group, (long long)train_d);
    if (!classify && k != train_k)
        return dt_fail(err, DT_EUSAGE, "%s: %s/y has %lld targets per sample but %s/y has %lld",
                       src, group, (long long)k, cfg->train_group, (long long)train_k);
    return DT_OK;
}

/* The evaluation set fits the training set; class count and labels. */
static dt_status check_data(dt_session *s, dt_head head, const char *eg, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const char *src = cfg->data[0] ? cfg->data : "data";
    dt_status st;
    if (s->eval.n && (st = check_fit(cfg, eg, s->eval.d, s->eval.k, s->train.d, s->train.k,
                                     head_is_classifier(head), err)))
        return st;
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
        if ((st = dataset_check_labels(&s->train, src, cfg->train_group, s->n_classes, binary,
                                       err)))
            return st;
        if (s->eval.n &&
            (st = dataset_check_labels(&s->eval, src, eg, s->n_classes, binary, err)))
            return st;
    }
    return DT_OK;
}

/* The group the epochs are evaluated on (*eg, NULL for none or a split of
 * the training set) and s->eval_name. */
static dt_status pick_eval_group(dt_session *s, const char **eg, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    *eg = NULL;
    if (has_group(cfg->data, cfg->valid_group)) {
        *eg = cfg->valid_group;
        s->eval_name = "valid";
        s->validating = 1;
    } else if (CONFIG_GIVEN(cfg, valid_group)) {
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (--valid-group)", cfg->data,
                       cfg->valid_group);
    } else if (cfg->valid_split > 0) {
        s->eval_name = "valid";
        s->validating = 1;
    } else if (has_group(cfg->data, cfg->test_group)) {
        *eg = cfg->test_group;
        s->eval_name = "test";
    } else if (CONFIG_GIVEN(cfg, test_group)) {
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (--test-group)", cfg->data,
                       cfg->test_group);
    }
    return DT_OK;
}

/* The metadata of every group the run reads -- the training group, the one
 * the epochs are evaluated on, and the test group reported at the end of a
 * run that validates (cli_train) -- before any of them is read: a missing y
 * or a wrong type costs no read of a large X. */
static dt_status probe_groups(const dt_session *s, int classify, const char *eg, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const char *final = s->validating && has_group(cfg->data, cfg->test_group)
                            ? cfg->test_group
                            : NULL;
    const char *groups[] = {eg, final};
    dt_dataset_info tr, other;
    dt_status st = dataset_probe(cfg->data, cfg->train_group, classify, &tr, err);
    for (int i = 0; i < 2 && !st; i++)
        if (groups[i] && !(st = dataset_probe(cfg->data, groups[i], classify, &other, err)))
            st = check_fit(cfg, groups[i], other.d, other.k, tr.d, tr.k, classify, err);
    return st;
}

/* Everything up to the model: data, labels, normalisation.  The metadata is
 * checked and agreed first; the reads after it are local checks only, and
 * the caller agrees on their result. */
static dt_status load_data(dt_session *s, dt_head head, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const int classify = head_is_classifier(head);
    const char *eg;
    dt_status st = pick_eval_group(s, &eg, err);
    if (!st)
        st = probe_groups(s, classify, eg, err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    /* one copy per node unless --shared-data off */
    dt_comm *node = cfg->shared_data == SWITCH_ON ? s->comm : NULL;
    st = node ? dataset_load_shared(node, cfg->data, cfg->train_group, classify, &s->train, err)
              : dataset_load(cfg->data, cfg->train_group, classify, &s->train, err);
    if (st)
        return st;
    if (!eg && cfg->valid_split > 0) {
        /* carve the validation set out of the training split */
        dt_dataset all = s->train;
        st = dataset_split(&all, cfg->valid_split, (uint64_t)cfg->seed, &s->train, &s->eval, err);
        dataset_free(&all);
        return st ? st : check_data(s, head, "valid split", err);
    }
    if (eg && (st = node ? dataset_load_shared(node, cfg->data, eg, classify, &s->eval, err)
                         : dataset_load(cfg->data, eg, classify, &s->eval, err)))
        return st;
    return check_data(s, head, eg ? eg : "", err);
}

dt_status session_setup(dt_session *s, const dt_config *cfg, dt_comm *comm, dt_error *err)
{
    return session_setup_with(s, cfg, comm, NULL, NULL, err);
}

/* --precision: the model's arithmetic; a CPU that only emulates bf16 is
 * named once. */
static dt_status set_precision(dt_session *s, dt_error *err)
{
    const dt_precision prec = s->cfg->precision;
    const char *warning;
    dt_status st = matmul_check_precision(prec, &warning, err);
    if (!st && warning)
        dt_warn("%s", warning);
    return st ? st : model_set_precision(&s->model, prec, err);
}

/* Make the compute plans of every batch size this rank will run, so that no
 * step generates code: its slice of a full global batch of b and of the last,
 * shorter one (forward and backward), the blocks of the full-batch gradient
 * of the second-order methods (the same), and the evaluation blocks of the
 * set the epochs report on (forward). */
static dt_status prepare_plans(dt_session *s, int64_t b, dt_error *err)
{
    dt_model *m = &s->model;
    const int rank = comm_rank(s->comm), size = comm_size(s->comm);
    const int64_t n = s->train.n, last = s->cfg->drop_last ? 0 : n % b;
    const int64_t global[2] = {b, last};
    dt_status st = DT_OK;
    for (int i = 0; i < 2 && !st; i++) {
        int64_t lo, hi;
        batch_slice(global[i], rank, size, &lo, &hi);
        if (hi > lo)
            st = model_prepare(m, (int)(hi - lo), 1, err);
    }
    if (!st && s->second_order)
        st = trainer_prepare_blocks(s->comm, m, s->train.n, 1, err);
    if (!st)
        st = trainer_prepare_blocks(s->comm, m, s->eval.n ? s->eval.n : s->train.n, 0, err);
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
    s->second_order = cfg->optimizer >= OPTIMIZER_SECOND_ORDER;
    s->so_kind = s->second_order ? (dt_so_kind)(cfg->optimizer - OPTIMIZER_SECOND_ORDER) : SO_LBFGS;
    const dt_optim_kind okind = s->second_order ? OPTIM_SGD : (dt_optim_kind)cfg->optimizer;
    if (CONFIG_GIVEN(cfg, momentum) && okind != OPTIM_SGD && okind != OPTIM_MOMENTUM &&
        okind != OPTIM_NESTEROV && okind != OPTIM_RMSPROP)
        return dt_fail(err, DT_EUSAGE, "--momentum applies to --optimizer sgd, momentum, "
                                       "nesterov and rmsprop only");
    dt_optim_config oc = optim_config_default(okind);
    if (CONFIG_GIVEN(cfg, momentum)) oc.momentum = cfg->momentum;
    if (CONFIG_GIVEN(cfg, dampening)) oc.dampening = cfg->dampening;
    if (CONFIG_GIVEN(cfg, beta1)) oc.beta1 = cfg->beta1;
    if (CONFIG_GIVEN(cfg, beta2)) oc.beta2 = cfg->beta2;
    if (CONFIG_GIVEN(cfg, eps)) oc.eps = cfg->eps;
    if (CONFIG_GIVEN(cfg, weight_decay)) oc.weight_decay = cfg->weight_decay;
    if (CONFIG_GIVEN(cfg, rmsprop_alpha)) oc.alpha = cfg->rmsprop_alpha;
    if (CONFIG_GIVEN(cfg, centered)) oc.centered = cfg->centered;
    if (CONFIG_GIVEN(cfg, lr_decay)) oc.lr_decay = cfg->lr_decay;
    if (CONFIG_GIVEN(cfg, initial_accumulator)) oc.initial_accumulator_value = cfg->initial_accumulator;
    /* second order: the first-order optimizer stays an inert plain sgd the checkpoint can save */
    p->oc = s->second_order ? optim_config_default(OPTIM_SGD) : oc;
    p->lr = isnan(cfg->lr) ? optim_default_lr(okind) : cfg->lr; /* NaN: not given */
    return DT_OK;
}

/* The learning-rate schedule (first order) from the base rate lr. */
static dt_status parse_schedule(dt_session *s, double lr, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const dt_sched_kind sk = cfg->schedule;
    dt_status st;
    dt_sched_config sc = sched_config_default(sk, lr);
    sc.lr_min = cfg->lr_min;
    sc.decay_steps = cfg->decay_steps;
    sc.epochs = cfg->epochs;
    sc.step_epochs = cfg->step_epochs;
    if (CONFIG_GIVEN(cfg, gamma) || sk == SCHED_STEP) sc.gamma = cfg->gamma;
    sc.warmup_steps = cfg->warmup_steps;
    sc.factor = cfg->plateau_factor;
    sc.patience = cfg->plateau_patience;
    sc.maximize = cfg->monitor == MONITOR_VAL_ACCURACY;
    if ((st = sched_init(&s->sched, &sc, err)))
        return dt_fail_prefix(err, "--schedule %s", sched_name(sk));
    return DT_OK;
}

/* --metrics: each must suit the head. */
static dt_status check_metrics(dt_session *s, dt_head head, dt_error *err)
{
    const dt_choices *m = &s->cfg->metrics;
    for (int i = 0; i < m->n; i++) {
        if (metrics_check((dt_metric)m->v[i], head, err))
            return dt_fail_prefix(err, "--metrics");
        s->metrics[s->n_metrics++] = m->v[i];
    }
    return DT_OK;
}

/* Options that only make sense together. */
static dt_status check_combinations(const dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    for (int l = 0; s->second_order && l < p->n_hidden; l++)
        if (p->hidden[l].dropout > 0)
            return dt_fail(err, DT_EUSAGE, "dropout needs a first-order optimizer (the "
                                           "full-batch %s objective must be deterministic)",
                           config_optimizer_name(cfg->optimizer));
    if (cfg->early_stopping && cfg->monitor == MONITOR_VAL_ACCURACY && cfg->output == HEAD_LINEAR)
        return dt_fail(err, DT_EUSAGE, "--monitor val_accuracy needs a classifier output");
    if (cfg->monitor == MONITOR_VAL_RMSE && cfg->output != HEAD_LINEAR)
        return dt_fail(err, DT_EUSAGE, "--monitor val_rmse needs --output linear");
    if (!cfg->checkpoint_dir[0] &&
        (cfg->checkpoint_every || cfg->checkpoint_every_epoch || cfg->checkpoint_every_seconds > 0 ||
         cfg->keep))
        return dt_fail(err, DT_EUSAGE,
                       "--checkpoint-every, --checkpoint-every-epoch, --checkpoint-every-seconds "
                       "and --keep need --checkpoint-dir DIR");
    return DT_OK;
}

/* Step 1, local: every option parsed and checked. */
static dt_status parse_options(dt_session *s, int have_data, setup_plan *p, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    if (!have_data && !cfg->data[0])
        return dt_fail(err, DT_EUSAGE, "--data FILE.h5 is required (see dtrain train --help)");
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

/* Step 2: the outputs, before any work (a typo should not cost a whole
 * training run), and the checkpoint directory made this run's own. */
static dt_status claim_outputs(dt_session *s, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const int rank0 = comm_rank(s->comm) == 0;
    dt_status st = DT_OK;
    if (cfg->save[0] && rank0)
        st = modelio_check_writable(cfg->save, "save",
                                    (const char *const[]){cfg->data, cfg->init_from,
                                                          cfg->resume.path, NULL},
                                    err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    if (rank0 && cfg->checkpoint_dir[0])
        st = ckpt_claim_dir(cfg->checkpoint_dir, &s->dir_lock, err);
    return comm_agree(s->comm, st, err);
}

/* Step 4: rank 0 chooses the checkpoint to resume from (checking checksums,
 * falling back past damaged ones) and tells the others. */
static dt_status choose_checkpoint(dt_session *s, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    if (!cfg->resume.on)
        return DT_OK;
    dt_status st = DT_OK;
    if (comm_rank(s->comm) == 0)
        st = ckpt_find(cfg->resume.path, cfg->checkpoint_dir, s->resumed_from,
                       sizeof s->resumed_from, err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    comm_bcast(s->comm, s->resumed_from, sizeof s->resumed_from, 0);
    if (!s->resumed_from[0])
        dt_info("dtrain: no checkpoint in %s yet: starting fresh", cfg->checkpoint_dir);
    return DT_OK;
}

/* Step 5, local: the batch against the data (p->batch), with warnings for
 * what works but may surprise. */
static dt_status size_batches(const dt_session *s, setup_plan *p, dt_error *err)
{
    const dt_config *cfg = s->cfg;
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
    if (cfg->batch_size < comm_size(s->comm))
        dt_warn("--batch-size %lld is smaller than the %d ranks: some ranks get no samples "
                "(the result is the same, only slower)",
                (long long)cfg->batch_size, comm_size(s->comm));
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
    const dt_dataset *tr = &s->train;
    dt_status st;
    if (s->resumed_from[0]) {
        st = ckpt_load_norm(s->resumed_from, &s->norm, err);
        if (!st && s->norm.d != tr->d)
            st = dt_fail(err, DT_EUSAGE, "%s: normalisation for %lld features, data has %lld",
                         s->resumed_from, (long long)s->norm.d, (long long)tr->d);
        if ((st = comm_agree(s->comm, st, err)))
            return st;
    } else if ((st = norm_fit(s->comm, tr, nk, &s->norm, err))) {
        return st;
    }
    dataset_normalize(&s->norm, &s->train);
    if (s->eval.n)
        dataset_normalize(&s->norm, &s->eval);
    return DT_OK;
}

/* Step 7: the model, its GEMM plans and its first weights (rank 0's, or
 * --init-from's, on every rank). */
static dt_status build_model(dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    const dt_dataset *tr = &s->train;
    int n_out = p->head == HEAD_SOFTMAX ? s->n_classes : p->head == HEAD_SIGMOID ? 1 : (int)tr->k;
    int local = trainer_local_batch(p->batch, comm_size(s->comm));
    /* Evaluation reuses the workspace in blocks; give it room for at least 256 rows. */
    int max_batch = local > 256 ? local : 256;
    dt_status st = model_create(&s->model, (int)tr->d, p->hidden, p->n_hidden, n_out, p->head,
                                max_batch, err);
    if (!st)
        st = set_precision(s, err);
    if (!st)
        st = prepare_plans(s, p->batch, err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    if (cfg->init_from[0])
        st = modelio_load_weights(cfg->init_from, &s->model, err);
    else
        model_init(&s->model, p->init, (uint64_t)cfg->seed);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    comm_bcast(s->comm, s->model.params, s->model.n_params * sizeof(float), 0);
    return DT_OK;
}

/* Step 7b: --normalize-targets: a linear head learns standardised targets
 * (loss.h), with the statistics of the training split (every rank holds
 * all its targets: the same bits at any rank count), or when resuming the
 * checkpoint's, if it has any (a checkpoint written without them trained on
 * the targets as they are). */
static dt_status scale_targets(dt_session *s, dt_error *err)
{
    dt_model *m = &s->model;
    dt_status st = DT_OK;
    if (s->resumed_from[0]) {
        st = modelio_load_target_scaling(s->resumed_from, m, err);
    } else if (m->head == HEAD_LINEAR && s->cfg->normalize_targets == SWITCH_ON) {
        float *stats = malloc(2 * (size_t)m->n_out * sizeof *stats);
        st = stats ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory");
        if (!st) {
            dataset_target_stats(&s->train, stats, stats + m->n_out);
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
    soc.history = (int)s->cfg->lbfgs_history;
    /* The gradient is computed in float32: a central-difference step near
     * cbrt(FLT_EPSILON) balances its rounding against truncation. */
    soc.fd_step = 5e-3;
    dt_status st = so_init(&s->so, s->so_kind, s->model.n_params, &soc, err);
    if (!st && !(s->x = malloc(s->model.n_params * sizeof *s->x)))
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    for (size_t i = 0; !st && i < s->model.n_params; i++)
        s->x[i] = s->model.params[i];
    if (st && !s->x)
        so_free(&s->so);
    return st;
}

/* Step 8: optimizer, trainer and the buffers a run needs. */
static dt_status build_trainer(dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_status st = DT_OK;
    if (s->second_order && (st = comm_agree(s->comm, build_second_order(s, err), err)))
        return st;
    st = optim_init(&s->optim, &p->oc, s->model.n_params, err);
    /* trainer_init is collective (the reduction's shared window) */
    if ((st = comm_agree(s->comm, st, err)))
        return st;
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
                        .node_reduce = cfg->reduction == REDUCE_NODE};
    st = trainer_init(&s->trainer, s->comm, &s->model, &s->optim, &s->train, &to, err);
    if (!st)
        s->trainer.sched = &s->sched;
    if (!st && cfg->early_stopping && !(s->best = malloc(s->model.n_params * sizeof *s->best)))
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st && s->n_metrics && s->eval.n) {
        int64_t lo, hi;
        block_slice(s->eval.n, s->model.max_batch, comm_rank(s->comm), comm_size(s->comm), &lo,
                    &hi);
        if (!(s->pred = malloc((size_t)((hi - lo) * s->model.n_out + 1) * sizeof *s->pred)))
            st = dt_fail(err, DT_ENOMEM, "out of memory");
    }
    if (!st)
        st = progress_init(&s->progress, cfg->epochs, err);
    return comm_agree(s->comm, st, err);
}

/* Step 9: where the run stands: the start, or the checkpoint's state. */
static dt_status restore_progress(dt_session *s, dt_error *err)
{
    dt_progress *pr = &s->progress;
    snprintf(pr->eval_name, sizeof pr->eval_name, "%s", s->eval.n ? s->eval_name : "train");
    snprintf(pr->metric, sizeof pr->metric, "%s", s->n_classes ? "accuracy" : "rmse");
    pr->plateau = s->sched.plateau;
    pr->es_best = s->cfg->monitor == MONITOR_VAL_ACCURACY ? -INFINITY : INFINITY;
    if (!s->resumed_from[0])
        return DT_OK;
    dt_ckpt_parts parts = session_parts(s);
    dt_status st = ckpt_load(s->resumed_from, &parts, comm_rank(s->comm), comm_size(s->comm), pr,
                             err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    s->trainer.step = pr->step;
    s->sched.plateau = pr->plateau;
    if (s->second_order) /* the float parameters are the double ones rounded */
        for (size_t i = 0; i < s->model.n_params; i++) s->model.params[i] = (float)s->x[i];
    s->complete = pr->epoch >= s->cfg->epochs && pr->batch == 0;
    if (s->complete) /* a requeued job that had finished */
        dt_info("dtrain: %s is the end of this run (%lld of --epochs %lld done, step %lld): "
                "nothing to train or write; raise --epochs to continue it",
                s->resumed_from, (long long)pr->epoch, (long long)s->cfg->epochs,
                (long long)pr->step);
    else
        dt_info("dtrain: resuming from %s at epoch %lld, step %lld", s->resumed_from,
                (long long)pr->epoch + 1, (long long)pr->step);
    return DT_OK;
}

dt_status session_setup_with(dt_session *s, const dt_config *cfg, dt_comm *comm,
                             dt_dataset *train, dt_dataset *valid, dt_error *err)
{
    memset(s, 0, sizeof *s);
    s->dir_lock = -1;
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
        s->validating = 1;
    }
    setup_plan p;
    dt_status st;
    if ((st = parse_options(s, train != NULL, &p, err)) || (st = claim_outputs(s, err)))
        return st;
    /* step 3: the data (metadata of every group first, then the reads) */
    st = train ? check_data(s, p.head, "valid", err) : load_data(s, p.head, err);
    if ((st = comm_agree(comm, st, err)) || (st = choose_checkpoint(s, err)) ||
        (st = size_batches(s, &p, err)) || (st = normalise(s, p.nk, err)) ||
        (st = build_model(s, &p, err)) || (st = scale_targets(s, err)) ||
        (st = build_trainer(s, &p, err)))
        return st;
    return restore_progress(s, err);
}

dt_ckpt_parts session_parts(dt_session *s)
{
    dt_ckpt_parts p = {s->cfg, &s->model, &s->optim, &s->norm, s->train.n, s->best,
                       s->second_order ? &s->so : NULL, s->x};
    return p;
}

/* Compare a checksum of the parameters across ranks (FNV-1a of the bytes);
 * the error names every rank that differs from rank 0. */
static dt_status check_replicas(dt_session *s, dt_error *err)
{
    const int size = comm_size(s->comm);
    uint64_t all[64];
    uint64_t h = rng_fnv1a(RNG_FNV_BASIS, s->model.params, s->model.n_params * sizeof(float));
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
                       (long long)s->trainer.step, bad);
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
    watchdog_phase(WD_CHECKPOINT, s->trainer.step);
    signals_protect(1);
    if (!s->second_order)
        trainer_sync_state(&s->trainer);
    dt_ckpt_parts parts = session_parts(s);
    st = ckpt_save(s->comm, s->cfg->checkpoint_dir, s->cfg->keep, &parts, &s->progress, written,
                   len, err);
    signals_protect(final && !st);
    watchdog_phase(WD_BETWEEN, s->trainer.step);
    return st;
}

/* The mean gradient norm of each layer since the last call, then reset. */
static void print_grad_norms(dt_session *s, const char *unit, int64_t at)
{
    dt_trainer *t = &s->trainer;
    char line[1024];
    int n = snprintf(line, sizeof line, "grad_norms %s %lld:", unit, (long long)at);
    for (int l = 0; l < s->model.n_layers && n < (int)sizeof line; l++)
        n += snprintf(line + n, sizeof line - (size_t)n, "  layer%d %.3e", l,
                      t->norm_steps ? t->norm_sum[l] / (double)t->norm_steps : 0.0);
    dt_info("%s", line);
    memset(t->norm_sum, 0, (size_t)s->model.n_layers * sizeof *t->norm_sum);
    t->norm_steps = 0;
}

/* The value --monitor watches, from the last evaluation (train loss without one). */
static double monitor_value(const dt_session *s, double train_loss)
{
    if (!s->eval.n)
        return train_loss;
    switch (s->cfg->monitor) {
    case MONITOR_VAL_ACCURACY: return s->last_eval.accuracy;
    case MONITOR_VAL_RMSE: return s->last_eval.rmse;
    case MONITOR_VAL_LOSS: break;
    }
    return s->last_eval.loss;
}

/* Early stopping after an epoch: remember the best weights; 1 = stop now. */
static int early_stop(dt_session *s, int64_t epoch)
{
    dt_progress *p = &s->progress;
    const int maximize = s->cfg->monitor == MONITOR_VAL_ACCURACY;
    const double v = s->monitor;
    if (maximize ? v > p->es_best : v < p->es_best) {
        p->es_best = v;
        p->es_best_epoch = epoch + 1;
        p->es_bad = 0;
        memcpy(s->best, s->model.params, s->model.n_params * sizeof *s->best);
        return 0;
    }
    if (++p->es_bad < s->cfg->early_stopping)
        return 0;
    dt_info("early stopping: %s has not improved for %lld epochs (best %.4f at epoch %lld)",
            config_monitor_name(s->cfg->monitor), (long long)p->es_bad, p->es_best, (long long)p->es_best_epoch);
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
    dt_model *m = &s->model;
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)x[i];
    double f = trainer_full_batch(s->comm, m, &s->train, s->cfg->l2, s->cfg->l1);
    for (size_t i = 0; i < m->n_params; i++) grad[i] = m->grads[i];
    return f;
}

/* --metrics: the loss and the chosen metrics of the evaluation set, exact over
 * all ranks (the metrics module gathers what it needs). */
static dt_status epoch_metrics(dt_session *s, char *text, size_t len, dt_error *err)
{
    const dt_dataset *ev = &s->eval;
    const int K = s->model.n_out;
    int64_t lo, hi;
    block_slice(ev->n, s->model.max_batch, comm_rank(s->comm), comm_size(s->comm), &lo, &hi);
    trainer_predict(&s->model, ev, lo, hi, s->pred);
    dt_class_metrics cm = {0};
    dt_reg_metrics rm = {0};
    dt_status st = s->n_classes
                       ? metrics_classification(s->comm, s->pred, K, ev->labels + lo, hi - lo,
                                                s->n_classes, &cm, err)
                       : metrics_regression(s->comm, s->pred, ev->targets + lo * K, hi - lo, K,
                                            &rm, err);
    if (!st) {
        int n = snprintf(text, len, "  %s_loss %.4f", s->eval_name, s->last_eval.loss);
        for (int i = 0; i < s->n_metrics && n < (int)len; i++) {
            dt_metric m = (dt_metric)s->metrics[i];
            double v = s->n_classes ? metrics_of_class(m, &cm) : metrics_of_reg(m, &rm);
            n += snprintf(text + n, len - (size_t)n, "  %s_%s %.4f", s->eval_name,
                          metrics_name(m), v);
        }
    }
    metrics_class_free(&cm);
    metrics_reg_free(&rm);
    return st;
}

/* End of an epoch: reduce the loss, evaluate, print, record. */
/* The epoch's mean training loss over all ranks; DT_ENUM if it diverged. */
static dt_status epoch_train_loss(dt_session *s, int64_t epoch, double *train_loss,
                                  dt_error *err)
{
    dt_status st = comm_agree(s->comm, model_fault(&s->model, err), err);
    if (st)
        return st;
    double loss = s->progress.local_loss;
    comm_allreduce_sum_f64(s->comm, &loss, 1);
    int64_t used = s->trainer.steps_per_epoch * s->trainer.opts.batch_size;
    if (used > s->train.n)
        used = s->train.n;
    *train_loss = loss / (double)used;
    if (!isfinite(*train_loss))
        return dt_fail(err, DT_ENUM,
                       "training diverged in epoch %lld (train loss %g); try a smaller --lr",
                       (long long)epoch + 1, *train_loss);
    return DT_OK;
}

/* The evaluation set's figures after an epoch (s->last_eval) and their text
 * on the epoch line. */
static dt_status evaluate_epoch(dt_session *s, char *text, size_t len, dt_error *err)
{
    text[0] = '\0';
    if (!s->eval.n)
        return DT_OK;
    trainer_evaluate(s->comm, &s->model, &s->eval, &s->last_eval);
    dt_status st = comm_agree(s->comm, model_fault(&s->model, err), err);
    if (st)
        return st;
    if (s->n_metrics)
        return epoch_metrics(s, text, len, err);
    if (s->n_classes)
        snprintf(text, len, "  %s_loss %.4f  %s_acc %.4f", s->eval_name, s->last_eval.loss,
                 s->eval_name, s->last_eval.accuracy);
    else
        snprintf(text, len, "  %s_loss %.4f  %s_rmse %.4f", s->eval_name, s->last_eval.loss,
                 s->eval_name, s->last_eval.rmse);
    return DT_OK;
}

/* --profile: the slowest rank's time in each phase (what the epoch waited
 * for); t_train is the epoch up to its evaluation, t_all the whole. */
static void print_profile(dt_session *s, int64_t epoch, double t_train, double t_all)
{
    double ph[5] = {s->trainer.time.data, s->trainer.time.compute, s->trainer.time.reduce,
                    s->trainer.time.update, t_train};
    comm_allreduce_max_f64(s->comm, ph, 5);
    dt_info("profile epoch %lld: train %.4f s  data %.4f  compute %.4f  comm %.4f  "
            "update %.4f  eval %.4f  (max over ranks)",
            (long long)epoch + 1, ph[4], ph[0], ph[1], ph[2], ph[3], t_all - t_train);
    memset(&s->trainer.time, 0, sizeof s->trainer.time);
}

/* The epoch into the history and the progress; --monitor observed. */
static void record_epoch(dt_session *s, int64_t epoch, double train_loss, double seconds)
{
    dt_progress *p = &s->progress;
    const int ev = s->eval.n > 0;
    double row[CKPT_HIST_COLS] = {
        (double)(epoch + 1), train_loss, ev ? s->last_eval.loss : NAN,
        ev ? (s->n_classes ? s->last_eval.accuracy : s->last_eval.rmse) : NAN, seconds};
    progress_add(p, row);
    s->monitor = monitor_value(s, train_loss);
    if (sched_observe(&s->sched, s->monitor))
        dt_info("plateau: %s has not improved for %lld epochs; learning rate now %.3g",
                config_monitor_name(s->cfg->monitor), (long long)s->cfg->plateau_patience,
                sched_lr(&s->sched, p->step, epoch + 1, s->trainer.steps_per_epoch));
    p->plateau = s->sched.plateau;
    p->epoch = epoch + 1;
    p->batch = 0;
    p->local_loss = 0.0;
}

static dt_status finish_epoch(dt_session *s, int64_t epoch, double t_epoch, int64_t done,
                              double base, double t_start, dt_error *err)
{
    const double t_train = comm_wtime() - t_epoch; /* before the evaluation */
    const dt_config *cfg = s->cfg;
    double train_loss;
    char evtext[160];
    dt_status st = epoch_train_loss(s, epoch, &train_loss, err);
    if (st || (st = evaluate_epoch(s, evtext, sizeof evtext, err)))
        return st;
    const double now = comm_wtime(), seconds = base + (now - t_start);
    s->progress.seconds = seconds;
    char lrtext[48] = "";
    if (!s->second_order && (s->sched.cfg.kind != SCHED_CONSTANT || s->sched.cfg.warmup_steps))
        snprintf(lrtext, sizeof lrtext, "  lr %.3g", s->trainer.last_lr);
    dt_info("epoch %3lld/%lld  train_loss %.4f%s%s  %.0f samples/s  %.2f s", (long long)epoch + 1,
            (long long)cfg->epochs, train_loss, evtext, lrtext,
            done > 0 ? (double)done / (now - t_epoch) : 0.0, seconds);
    if (s->trainer.norm_sum && cfg->log_grad_norms < 0) /* once per epoch */
        print_grad_norms(s, "epoch", epoch + 1);
    if (cfg->profile)
        print_profile(s, epoch, t_train, now - t_epoch);
    record_epoch(s, epoch, train_loss, seconds);
    return DT_OK;
}

static dt_status train_loop(dt_session *s, dt_error *err);

/* Whether any rank asks to stop (ask: this rank's answer). */
static int agree_stop(dt_session *s, int ask)
{
    int64_t stop = ask != 0;
    comm_allreduce_max_i64(s->comm, &stop, 1);
    s->stopped_by_hook |= stop != 0;
    return stop != 0;
}

/* The step callback after global batch k: its mean loss over all ranks. */
static int step_hook(dt_session *s, int64_t epoch, int64_t k, double local_loss)
{
    double loss = local_loss;
    comm_allreduce_sum_f64(s->comm, &loss, 1);
    const int64_t b = trainer_batch_size(&s->trainer, k);
    dt_run_info info = {.epoch = epoch + 1, .step = s->trainer.step,
                        .train_loss = b > 0 ? loss / (double)b : NAN, .eval_loss = NAN,
                        .eval_metric = NAN, .lr = s->trainer.last_lr};
    return agree_stop(s, s->on_step(s->hook_user, &info));
}

/* The epoch callback, from the history row the epoch just added. */
static int epoch_hook(dt_session *s)
{
    const dt_progress *p = &s->progress;
    const double *row = p->hist + (size_t)(p->n_hist - 1) * CKPT_HIST_COLS;
    dt_run_info info = {.epoch = p->epoch, .step = p->step, .train_loss = row[1],
                        .eval_loss = row[2], .eval_metric = row[3],
                        .lr = s->second_order ? s->trainer.opts.lr : s->trainer.last_lr,
                        .seconds = row[4]};
    return agree_stop(s, s->on_epoch(s->hook_user, &info));
}

/* The first safe point: a signal during set-up (data loading can take long)
 * ends the run here, before a step is taken, with nothing to save. */
static dt_status stop_before_training(dt_session *s, dt_error *err)
{
    if (!s->signals)
        return DT_OK; /* the process's signals are the caller's */
    if (!s->cfg->checkpoint_dir[0])
        signals_default(); /* no safe points from here on: a signal ends the run */
    int64_t sig = signals_pending();
    comm_allreduce_max_i64(s->comm, &sig, 1);
    if (!sig)
        return DT_OK;
    if (s->resumed_from[0])
        return dt_fail(err, DT_PREEMPTED,
                       "stopped by %s before training began; %s, the checkpoint it resumed "
                       "from, is unchanged: to continue, run the same command with --resume",
                       signals_name((int)sig), s->resumed_from);
    return dt_fail(err, DT_PREEMPTED,
                   "stopped by %s before training began; no step was taken, so nothing "
                   "needed saving: run the same command to start again",
                   signals_name((int)sig));
}

dt_status session_train(dt_session *s, dt_error *err)
{
    if (s->complete)
        return DT_OK;
    dt_status st = stop_before_training(s, err);
    if (st)
        return st;
    const int watch = s->watchdog && s->cfg->step_timeout > 0;
    if (watch && (st = watchdog_start(s->cfg->step_timeout, s->comm, err)))
        return st;
    st = train_loop(s, err);
    watchdog_phase(WD_IDLE, s->trainer.step);
    if (watch)
        watchdog_stop();
    return st;
}

/* Where a training run stands between steps, beyond s->progress. */
typedef struct {
    double t_start, base;  /* this run's start; training seconds of earlier runs */
    double last_ckpt;      /* when the newest checkpoint was written */
    /* (step, epoch) of the newest checkpoint: a checkpoint taken inside the last
     * batch of an epoch precedes that epoch's evaluation, so both count. */
    int64_t saved_step, saved_epoch;
    char written[DT_PATH_MAX + 32]; /* its path, "" if none yet */
    long long skips;       /* --on-nan skip: updates skipped so far */
    long long norm_every;  /* --log-grad-norms N: every N steps (0: per epoch or never) */
} run_state;

/* A checkpoint of where the run stands now (final: the run ends after it). */
static dt_status save(dt_session *s, run_state *r, int final, dt_error *err)
{
    dt_status st = checkpoint(s, r->written, sizeof r->written, final, err);
    if (!st) {
        r->saved_step = s->progress.step;
        r->saved_epoch = s->progress.epoch;
    }
    return st;
}

/* A step whose gradient had NaN or Inf (its update was not made): skipped
 * under --on-nan skip while --max-skips allows, else the run ends.  A
 * failure inside the model's computation (model_fault) shows as NaN too, and
 * ends the run with its own message. */
static dt_status nonfinite_step(dt_session *s, run_state *r, int64_t epoch, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_status st = comm_agree(s->comm, model_fault(&s->model, err), err);
    if (st)
        return st;
    if (cfg->on_nan == ON_NAN_SKIP && ++r->skips < cfg->max_skips) {
        dt_warn("NaN or Inf in the gradient at step %lld: update skipped (%lld of "
                "--max-skips %lld)",
                (long long)s->trainer.step, r->skips, (long long)cfg->max_skips);
        return DT_OK;
    }
    return dt_fail(err, DT_ENUM,
                   "training diverged: NaN or Inf in the gradient at step %lld (epoch %lld)%s; "
                   "no checkpoint was written from this state; the last good checkpoint is %s",
                   (long long)s->trainer.step, (long long)epoch + 1,
                   r->skips ? " after --max-skips skipped updates" : "",
                   r->written[0]       ? r->written
                   : s->resumed_from[0] ? s->resumed_from
                                        : "none (no checkpoint written yet)");
}

/* After step k of the epoch: replica check, gradient norms, and whether to
 * checkpoint or stop (DT_PREEMPTED: a signal or --stop-at-step). */
static dt_status step_boundary(dt_session *s, run_state *r, int64_t epoch, int64_t k,
                               dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_progress *p = &s->progress;
    dt_status st;
    if (cfg->check_replicas > 0 && s->trainer.step % cfg->check_replicas == 0 &&
        (st = check_replicas(s, err)))
        return st;
    p->step = s->trainer.step;
    p->batch = k + 1;
    if (r->norm_every > 0 && p->step % r->norm_every == 0)
        print_grad_norms(s, "step", p->step);
    const int stop = cfg->stop_at_step > 0 && p->step >= cfg->stop_at_step;
    if (!cfg->checkpoint_dir[0])
        return stop ? dt_fail(err, DT_PREEMPTED,
                              "stopped at step %lld (--stop-at-step); no --checkpoint-dir, so "
                              "nothing was saved",
                              (long long)p->step)
                    : DT_OK;
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
                   "run the same command with --resume",
                   flags[0] ? signals_name((int)flags[0]) : "--stop-at-step", (long long)p->step,
                   (long long)epoch + 1, r->written);
}

/* Second order: one full-batch iteration per epoch; its loss is the epoch's. */
static dt_status second_order_epoch(dt_session *s, int64_t *done, dt_error *err)
{
    dt_progress *p = &s->progress;
    double f;
    full_batch_ctx ctx = {s};
    watchdog_phase(WD_COMPUTE, s->trainer.step); /* the whole iteration */
    dt_status st = so_step(&s->so, s->x, full_batch_fg, &ctx, &f, err);
    watchdog_phase(WD_BETWEEN, s->trainer.step + 1);
    dt_status fault = comm_agree(s->comm, model_fault(&s->model, err), err);
    if (fault)
        return fault;
    if (st)
        return dt_fail_prefix(err, "%s", so_name(s->so_kind));
    for (size_t i = 0; i < s->model.n_params; i++) s->model.params[i] = (float)s->x[i];
    if (s->model.target_stats) {
        /* f is of the standardised targets: the epoch's loss in the targets'
         * units is that of the new parameters, with the same penalty */
        dt_eval ev;
        trainer_evaluate(s->comm, &s->model, &s->train, &ev);
        f = ev.loss + trainer_penalty_range(&s->model, NULL, 0, s->model.n_params, s->cfg->l2,
                                            s->cfg->l1);
    }
    p->local_loss = comm_rank(s->comm) == 0 ? f * (double)s->train.n : 0.0;
    p->step = ++s->trainer.step;
    p->batch = s->trainer.steps_per_epoch;
    *done = s->train.n;
    return DT_OK;
}

/* One epoch, from where the progress stands; *last: training is over. */
static dt_status run_epoch(dt_session *s, run_state *r, int64_t epoch, int *last, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_progress *p = &s->progress;
    const double t_epoch = comm_wtime();
    int64_t done = 0;
    dt_status st;
    trainer_begin_epoch(&s->trainer, epoch);
    if (s->second_order && (st = second_order_epoch(s, &done, err)))
        return st;
    for (int64_t k = p->batch; k < s->trainer.steps_per_epoch; k++) {
        const double loss = trainer_step(&s->trainer, k);
        p->local_loss += loss;
        done += trainer_batch_size(&s->trainer, k);
        if ((s->trainer.nonfinite && (st = nonfinite_step(s, r, epoch, err))) ||
            (st = step_boundary(s, r, epoch, k, err)))
            return st;
        if (s->on_step && step_hook(s, epoch, k, loss)) {
            *last = 1; /* the epoch is left unfinished: no evaluation, no line */
            return DT_OK;
        }
    }
    if ((st = finish_epoch(s, epoch, t_epoch, done, r->base, r->t_start, err)))
        return st;
    const int patience_out = cfg->early_stopping && early_stop(s, epoch); /* keeps the best */
    const int asked = s->on_epoch && epoch_hook(s);
    *last = patience_out || asked;
    if (!*last && s->second_order && s->so.stop != SO_RUNNING) {
        /* another iteration would not move */
        if (epoch + 1 < cfg->epochs)
            dt_info("%s: %s after %lld iterations (max |gradient| %.3g)", so_name(s->so_kind),
                    s->so.stop == SO_CONVERGED ? "converged" : "stalled",
                    (long long)so_iterations(&s->so), s->so.gnorm);
        *last = 1;
    }
    if (!*last && cfg->checkpoint_dir[0] && cfg->checkpoint_every_epoch)
        return save(s, r, 0, err);
    return DT_OK;
}

static dt_status train_loop(dt_session *s, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_progress *p = &s->progress;
    run_state r = {.t_start = comm_wtime(), .base = p->seconds,
                   .saved_step = s->resumed_from[0] ? p->step : -1, .saved_epoch = p->epoch,
                   .norm_every = cfg->log_grad_norms > 0 ? cfg->log_grad_norms : 0};
    r.last_ckpt = r.t_start;
    dt_status st;
    int last = 0;
    for (int64_t epoch = p->epoch; epoch < cfg->epochs && !last; epoch++)
        if ((st = run_epoch(s, &r, epoch, &last, err)))
            return st;
    if (cfg->early_stopping && p->es_best_epoch > 0) {
        /* the best epoch's weights are the ones kept and saved */
        memcpy(s->model.params, s->best, s->model.n_params * sizeof *s->best);
        dt_info("early stopping: keeping the weights of epoch %lld (%s %.4f)",
                (long long)p->es_best_epoch, config_monitor_name(cfg->monitor), p->es_best);
        if (s->eval.n)
            trainer_evaluate(s->comm, &s->model, &s->eval, &s->last_eval);
    }
    if (cfg->checkpoint_dir[0] && (r.saved_step != p->step || r.saved_epoch != p->epoch)) {
        if ((st = save(s, &r, 0, err)))
            return st;
        dt_info("checkpoint %s", r.written);
    }
    return DT_OK;
}

void session_free(dt_session *s)
{
    ckpt_release_dir(s->dir_lock);
    s->dir_lock = -1;
    progress_free(&s->progress);
    free(s->best);
    free(s->x);
    free(s->pred);
    if (s->second_order)
        so_free(&s->so);
    trainer_free(&s->trainer);
    optim_free(&s->optim);
    model_free(&s->model);
    norm_free(&s->norm);
    dataset_free(&s->train);
    dataset_free(&s->eval);
}

/* --- the run described and its results reported (log lines) --- */

void session_describe(const dt_session *s)
{
    const dt_model *m = &s->model;
    const dt_config *cfg = s->cfg;
    char arch[512];
    int n = snprintf(arch, sizeof arch, "%d", m->n_in);
    for (int l = 0; l < m->n_layers && n < (int)sizeof arch; l++)
        n += snprintf(arch + n, sizeof arch - (size_t)n, "-%d", m->layers[l].n_out);
    int P = comm_size(s->comm);
    const dt_train_opts *o = &s->trainer.opts;
    char evdesc[128] = "no valid or test group: final metrics are on the training set";
    if (s->eval.n)
        snprintf(evdesc, sizeof evdesc, "%s %lld samples", s->eval_name, (long long)s->eval.n);
    char source[2 * DT_PATH_MAX + 2] = "the caller's arrays";
    if (cfg->data[0])
        snprintf(source, sizeof source, "%s %s", cfg->data, cfg->train_group);
    dt_info("dtrain: %s: %lld samples x %lld features%s; %s", source, (long long)s->train.n,
            (long long)s->train.d, s->n_classes ? "" : " (regression)", evdesc);
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

static void report_eval(const dt_session *s, const char *name, const dt_eval *ev)
{
    if (s->n_classes)
        dt_info("final: %s_loss %.4f  %s_accuracy %.4f  (%lld samples)", name, ev->loss, name,
                ev->accuracy, (long long)ev->n);
    else
        dt_info("final: %s_loss %.4f  %s_rmse %.4f  (%lld samples)", name, ev->loss, name,
                ev->rmse, (long long)ev->n);
}

/* The epochs watched a validation set: the file's test group, if any, is
 * reported once at the end, with the same normalisation. */
static dt_status report_test(dt_session *s, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    if (!s->validating || !cfg->data[0] || !has_group(cfg->data, cfg->test_group))
        return DT_OK;
    dt_dataset test;
    dt_eval ev;
    dt_status st = dataset_load(cfg->data, cfg->test_group, s->n_classes ? DS_LABELS : DS_TARGETS,
                                &test, err);
    if (!st && test.d != s->train.d)
        st = dt_fail(err, DT_EUSAGE, "%s: %s/X has %lld features, %s/X %lld", cfg->data,
                     cfg->test_group, (long long)test.d, cfg->train_group, (long long)s->train.d);
    if (!st && s->n_classes)
        st = dataset_check_labels(&test, cfg->data, cfg->test_group, s->n_classes,
                                  s->model.head == HEAD_SIGMOID, err);
    if (!st)
        st = trainer_prepare_blocks(s->comm, &s->model, test.n, 0, err);
    if (!(st = comm_agree(s->comm, st, err))) {
        norm_apply(&s->norm, &test);
        trainer_evaluate(s->comm, &s->model, &test, &ev);
        report_eval(s, "test", &ev);
    }
    dataset_free(&test);
    return st;
}

static void report_memory(const dt_session *s)
{
    double rss = dt_peak_rss_mb(), v[3] = {rss, rss, dt_pss_mb()};
    comm_allreduce_max_f64(s->comm, v, 1);
    comm_allreduce_sum_f64(s->comm, v + 1, 2);
    dt_info("profile memory: peak resident %.1f MB on the largest rank, %.1f MB in all "
            "(node-shared data counted in every rank); proportional set size at the end "
            "%.1f MB in all",
            v[0], v[1], v[2]);
}

/* A complete run's final figures: its checkpoint's last history row. */
static void report_complete(const dt_session *s)
{
    const dt_progress *p = &s->progress;
    if (!p->n_hist)
        return;
    const double *row = p->hist + (p->n_hist - 1) * CKPT_HIST_COLS; /* epoch, train, eval, metric */
    if (isnan(row[2]))
        dt_info("final: train_loss %.4f  (epoch %.0f, from the checkpoint)", row[1], row[0]);
    else
        dt_info("final: %s_loss %.4f  %s_%s %.4f  (epoch %.0f, from the checkpoint)",
                p->eval_name, row[2], p->eval_name, p->metric, row[3], row[0]);
}

dt_status session_report(dt_session *s, dt_error *err)
{
    if (s->complete) {
        report_complete(s);
        return DT_OK;
    }
    dt_eval ev = s->last_eval;
    const char *name = s->eval_name;
    if (!s->eval.n || s->progress.n_hist == 0) {
        /* no valid or test group (or nothing left to train): what we have */
        name = s->eval.n ? s->eval_name : "train";
        trainer_evaluate(s->comm, &s->model, s->eval.n ? &s->eval : &s->train, &ev);
    }
    report_eval(s, name, &ev);
    dt_status st = report_test(s, err);
    if (!st && s->cfg->profile)
        report_memory(s);
    return st;
}
