/* dtrain: setting up a training run. */
#include "dtrain/session.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtrain/convert.h"
#include "dtrain/fsutil.h"
#include "dtrain/rng.h"
#include "dtrain/metrics.h"
#include "dtrain/h5io.h"
#include "dtrain/signals.h"
#include "dtrain/testhooks.h"
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
static dt_status check_fit(const dt_train_config *cfg, const char *group, int64_t d, int64_t k,
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

/* The sets evaluated with the model trained on the training set fit it;
 * class count and labels. */
static dt_status check_data(dt_session *s, dt_head head, const char *eg, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    const char *src = cfg->data[0] ? cfg->data : "data";
    const int classify = head_is_classifier(head), binary = head == HEAD_SIGMOID;
    dt_status st;
    if (s->eval.n && (st = check_fit(cfg, eg, s->eval.d, s->eval.k, s->train.d, s->train.k,
                                     classify, err)))
        return st;
    if (head == HEAD_SOFTMAX) {
        s->n_classes = s->train.max_label + 1;
        if (s->n_classes < 2)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y has a single class (%d); --output softmax needs at least 2",
                           src, cfg->train_group, s->train.max_label);
    } else if (binary) {
        s->n_classes = 2;
    }
    if (!classify)
        return DT_OK;
    if ((st = dataset_check_labels(&s->train, src, cfg->train_group, s->n_classes, binary, err)))
        return st;
    if (s->eval.n && (st = dataset_check_labels(&s->eval, src, eg, s->n_classes, binary, err)))
        return st;
    if (s->test.n &&
        (st = dataset_check_labels(&s->test, src, cfg->test_group, s->n_classes, binary, err)))
        return st;
    return DT_OK;
}

/* Early stopping and the plateau schedule choose by what they watch: a
 * validation set, never the test set. */
static int needs_validation(const dt_train_config *cfg)
{
    return cfg->early_stopping > 0 || cfg->schedule == SCHED_PLATEAU;
}

static const char *watcher(const dt_train_config *cfg)
{
    return cfg->early_stopping > 0 ? "--early-stopping" : "--schedule plateau";
}

/* The share of the training split to hold out as the validation set when
 * there is no other (0: none): --valid-split, or 10% when something watches
 * a validation set and the user did not say. */
static double holdout(const dt_config *cfg)
{
    if (cfg->train.valid_split > 0)
        return cfg->train.valid_split;
    return needs_validation(&cfg->train) && !CONFIG_GIVEN(cfg, train.valid_split) ? 0.1 : 0.0;
}

/* The group the epochs are evaluated on (*eg, NULL for none or a split of
 * the training set), *split (the share held out, 0 if none) and s->eval_name. */
static dt_status pick_eval_group(dt_session *s, const char **eg, double *split, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    *eg = NULL;
    *split = 0.0;
    if (has_group(cfg->train.data, cfg->train.valid_group)) {
        *eg = cfg->train.valid_group;
        s->validating = 1;
    } else if (CONFIG_GIVEN(cfg, train.valid_group)) {
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (--valid-group)", cfg->train.data,
                       cfg->train.valid_group);
    } else if ((*split = holdout(cfg)) > 0) {
        s->validating = 1;
        if (!CONFIG_GIVEN(cfg, train.valid_split))
            dt_info("dtrain: %s watches a validation set and %s has no %s: holding out 10%% "
                    "of %s for it (--valid-split F sets the share)",
                    watcher(&cfg->train), cfg->train.data, cfg->train.valid_group, cfg->train.train_group);
    } else if (needs_validation(&cfg->train)) {
        return dt_fail(err, DT_EUSAGE,
                       "%s watches a validation set, but %s has no %s and --valid-split 0 "
                       "holds none out (the test set is never used to choose): give "
                       "--valid-split F, e.g. 0.1, or a %s group",
                       watcher(&cfg->train), cfg->train.data, cfg->train.valid_group, cfg->train.valid_group);
    } else if (has_group(cfg->train.data, cfg->train.test_group)) {
        *eg = cfg->train.test_group;
    } else if (CONFIG_GIVEN(cfg, train.test_group)) {
        return dt_fail(err, DT_EUSAGE, "%s: no group '%s' (--test-group)", cfg->train.data,
                       cfg->train.test_group);
    }
    s->eval_name = s->validating ? "valid" : "test";
    if (*eg)
        snprintf(s->eval_src, sizeof s->eval_src, "%s", *eg);
    return DT_OK;
}

/* The test group of a run that validates: reported, never watched. */
static const char *test_group(const dt_session *s)
{
    const dt_train_config *cfg = &s->cfg->train;
    return s->validating && has_group(cfg->data, cfg->test_group) ? cfg->test_group : NULL;
}

/* The metadata of every group the run reads -- the training group, the one
 * the epochs are evaluated on, and the test group of a run that validates --
 * before any of them is read: a missing y or a wrong type costs no read of a
 * large X.  *n_train: the training group's rows. */
static dt_status probe_groups(const dt_session *s, int classify, const char *eg,
                              int64_t *n_train, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    const char *groups[] = {eg, test_group(s)};
    const int y = classify | (cfg->data_placement == PLACE_SHARDED ? DS_SHARDED : 0);
    dt_dataset_info tr, other;
    dt_status st = dataset_probe(cfg->data, cfg->train_group, y, &tr, err);
    *n_train = st ? 0 : tr.n;
    for (int i = 0; i < 2 && !st; i++)
        if (groups[i] && !(st = dataset_probe(cfg->data, groups[i], y, &other, err)))
            st = check_fit(cfg, groups[i], other.d, other.k, tr.d, tr.k, classify, err);
    return st;
}

/* The model's max_batch for n_train training rows: room for the rows one
 * forward pass takes -- this rank's slice of a global batch (--batch-size, at
 * most n_train), or with --reproducible a micro-batch, which does not depend
 * on the rank count (nor then do the evaluation blocks) -- and evaluation
 * blocks of at least 256 rows.  Sharded sets are split in blocks of it, so
 * that every rank evaluates rows it holds: it is known before they are read. */
static int eval_block(const dt_session *s, int64_t n_train)
{
    const dt_train_config *cfg = &s->cfg->train;
    const int64_t batch = cfg->batch_size < n_train ? cfg->batch_size : n_train;
    const int64_t mb = cfg->reproducible ? cfg->micro_batch : 0;
    const int local = mb > 0 ? (int)(mb < batch ? mb : batch)
                             : trainer_local_batch(batch, comm_size(s->comm), 0);
    return local > 256 ? local : 256;
}

/* Hold out `split` of the training set (stratified for classes, drawn from
 * --seed) as the validation set. */
static dt_status hold_out(dt_session *s, double split, dt_error *err)
{
    dt_dataset all = s->train;
    const uint64_t seed = (uint64_t)s->cfg->train.seed;
    dt_status st;
    if (all.block) {
        const int64_t kept = dataset_split_kept(&all, split);
        st = comm_agree(s->comm, kept < 0 ? dt_fail(err, DT_ENOMEM, "out of memory") : DT_OK,
                        err);
        if (!st)
            st = dataset_split_sharded(&all, split, seed, eval_block(s, kept), &s->train,
                                       &s->eval, err);
    } else {
        st = dataset_split(&all, split, seed, &s->train, &s->eval, err);
    }
    dataset_free(&all);
    s->eval_name = "valid";
    s->validating = 1;
    snprintf(s->eval_src, sizeof s->eval_src, "%g%% of %s held out", 100.0 * split,
             s->cfg->train.data[0] ? s->cfg->train.train_group : "the training data");
    return st;
}

/* One group of the data file, where --data-placement puts it (sharded: in
 * blocks of eval_block(n_train) rows). */
static dt_status load_group(dt_session *s, const char *group, int classify, int64_t n_train,
                            dt_dataset *out, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    switch (cfg->data_placement) {
    case PLACE_NODE: return dataset_load_shared(s->comm, cfg->data, group, classify, out, err);
    case PLACE_SHARDED:
        return dataset_load_sharded(s->comm, cfg->data, group, classify, eval_block(s, n_train),
                                    out, err);
    case PLACE_RANK: break;
    }
    return dataset_load(cfg->data, group, classify, out, err);
}

/* Everything up to the model: data, labels, normalisation.  The metadata is
 * checked and agreed first; the reads after it are local checks only, and
 * the caller agrees on their result. */
static dt_status load_data(dt_session *s, dt_head head, dt_error *err)
{
    const int classify = head_is_classifier(head);
    const char *eg, *tg;
    double split;
    int64_t n = 0;
    dt_status st = pick_eval_group(s, &eg, &split, err);
    if (!st)
        st = probe_groups(s, classify, eg, &n, err);
    if ((st = comm_agree(s->comm, st, err)) ||
        (st = load_group(s, s->cfg->train.train_group, classify, n, &s->train, err)))
        return st;
    if (split > 0)
        st = hold_out(s, split, err);
    else if (eg)
        st = load_group(s, eg, classify, n, &s->eval, err);
    if (!st && (tg = test_group(s))) {
        snprintf(s->test_src, sizeof s->test_src, "%s", tg);
        st = load_group(s, tg, classify, s->train.n, &s->test, err);
    }
    return st ? st : check_data(s, head, eg ? eg : "valid split", err);
}

/* The head chosen from what /train/y is for, said in one line. */
static dt_head head_from_data(const dt_train_config *cfg, const dt_y_kind *y)
{
    const char *src = cfg->data, *g = cfg->train_group;
    if (y->labels) {
        dt_info("dtrain: %s %s/y holds %s class labels%s: softmax output, chosen from the data "
                "(--output sets the head)", src, g, dt_dtype_name(y->type),
                y->named ? " named in /classes" : "");
        return HEAD_SOFTMAX;
    }
    if (y->k == 1 && y->distinct &&
        convert_label_rule(y->n, y->distinct, y->index_like, NULL, NULL, 0) == CONVERT_LABEL_CLASS)
        dt_info("dtrain: %s %s/y holds %s targets: linear output (regression), chosen from the "
                "data; its values are %lld distinct whole numbers: if they are class labels, "
                "give --output softmax", src, g, dt_dtype_name(y->type), (long long)y->distinct);
    else
        dt_info("dtrain: %s %s/y holds %s targets: linear output (regression), chosen from the "
                "data (--output sets the head)", src, g, dt_dtype_name(y->type));
    return HEAD_LINEAR;
}

/* Step 0: the output head.  --output when given, refused when /train/y says
 * otherwise: a class head on values that are not class labels (whole numbers
 * >= 0), a linear head on class labels (an integer y or a file with
 * /classes: regressing class numbers is never meant; quantities are stored
 * as float).  Else chosen from y: class labels -> softmax (sigmoid only when
 * asked: over two classes it is the same model), float targets -> linear.
 * Rank 0 reads y and tells the others.  cfg->output is set to the head, so
 * that models, checkpoints and inspect --config record it.  Sets given as
 * arrays (train) decide by their kind. */
static dt_status choose_head(dt_config *cfg, dt_comm *comm, const dt_dataset *train,
                             dt_error *err)
{
    if (train || !cfg->train.data[0]) {
        if ((int)cfg->train.output < 0)
            cfg->train.output = train && !train->labels ? HEAD_LINEAR : HEAD_SOFTMAX;
        return DT_OK;
    }
    dt_y_kind y;
    if (comm_rank(comm) == 0)
        dataset_y_kind(cfg->train.data, cfg->train.train_group, &y);
    comm_bcast(comm, &y, sizeof y, 0);
    const char *src = cfg->train.data, *g = cfg->train.train_group;
    if (!y.known) { /* the data step says what is wrong with the file */
        if ((int)cfg->train.output < 0)
            cfg->train.output = HEAD_SOFTMAX;
        return DT_OK;
    }
    if ((int)cfg->train.output < 0) {
        cfg->train.output = head_from_data(&cfg->train, &y);
        return DT_OK;
    }
    const char *head = head_name(cfg->train.output);
    if (head_is_classifier(cfg->train.output) && y.not_label >= 0)
        return dt_fail(err, DT_EUSAGE,
                       "--output %s needs class labels (whole numbers >= 0), but %s %s/y holds "
                       "%s targets (row %lld is %g); for regression give --output linear, or "
                       "leave --output out to choose the head from the data",
                       head, src, g, dt_dtype_name(y.type), (long long)y.not_label, y.bad);
    if (head_is_classifier(cfg->train.output) && y.distinct &&
        convert_label_rule(y.n, y.distinct, y.index_like, NULL, NULL, 0) == CONVERT_LABEL_FLOAT)
        dt_warn("--output %s on %s %s/y: %s targets of %lld distinct whole values in %s%lld "
                "rows, which look like a quantity, not classes (--output linear regresses them)",
                head, src, g, dt_dtype_name(y.type), (long long)y.distinct,
                y.n == DT_Y_SAMPLE ? "its first " : "", (long long)y.n);
    if (cfg->train.output == HEAD_LINEAR && y.labels)
        return dt_fail(err, DT_EUSAGE,
                       "--output linear on class labels: %s %s/y holds %s class labels%s, and a "
                       "linear head would regress the class numbers; give --output softmax "
                       "(or sigmoid for labels 0/1), or leave --output out; if the values are "
                       "quantities, store y as float (dtrain convert --label-type float, or a "
                       "float32 %s/y)",
                       src, g, dt_dtype_name(y.type), y.named ? " named in /classes" : "", g);
    return DT_OK;
}

dt_status session_choose_head(dt_config *cfg, dt_comm *comm, dt_error *err)
{
    return comm_agree(comm, choose_head(cfg, comm, NULL, err), err);
}

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
    return st ? st : model_set_precision(&s->model, prec, err);
}

/* Make the compute plans of every batch size this rank will run, so that no
 * step generates code: its slice of a full global batch of b and of the last,
 * shorter one (forward and backward), the blocks of the full-batch gradient
 * of the second-order methods (the same), and the evaluation blocks of the
 * sets the epochs report on (forward). */
static dt_status prepare_plans(dt_session *s, int64_t b, dt_error *err)
{
    dt_model *m = &s->model;
    const int rank = comm_rank(s->comm), size = comm_size(s->comm);
    const int64_t n = s->train.n, last = s->cfg->train.drop_last ? 0 : n % b;
    const int64_t global[2] = {b, last}, mb = s->cfg->train.reproducible ? s->cfg->train.micro_batch : 0;
    dt_status st = DT_OK;
    for (int i = 0; i < 2 && !st; i++) {
        int64_t lo, hi;
        if (mb > 0) { /* whole micro-batches, and the batch's shorter last one */
            if (global[i] > 0)
                st = model_prepare(m, (int)(global[i] < mb ? global[i] : mb), 1, err);
            if (!st && global[i] > mb && global[i] % mb)
                st = model_prepare(m, (int)(global[i] % mb), 1, err);
            continue;
        }
        batch_slice(global[i], rank, size, &lo, &hi);
        if (hi > lo)
            st = model_prepare(m, (int)(hi - lo), 1, err);
    }
    if (!st && s->second_order)
        st = trainer_prepare_blocks(s->comm, m, s->train.n, 1, err);
    if (!st)
        st = trainer_prepare_blocks(s->comm, m, s->eval.n ? s->eval.n : s->train.n, 0, err);
    if (!st && s->test.n)
        st = trainer_prepare_blocks(s->comm, m, s->test.n, 0, err);
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
    s->second_order = cfg->train.optimizer >= OPTIMIZER_SECOND_ORDER;
    s->so_kind = s->second_order ? (dt_so_kind)(cfg->train.optimizer - OPTIMIZER_SECOND_ORDER) : SO_LBFGS;
    const dt_optim_kind okind = s->second_order ? OPTIM_SGD : (dt_optim_kind)cfg->train.optimizer;
    if (CONFIG_GIVEN(cfg, train.momentum) && okind != OPTIM_SGD && okind != OPTIM_MOMENTUM &&
        okind != OPTIM_NESTEROV && okind != OPTIM_RMSPROP)
        return dt_fail(err, DT_EUSAGE, "--momentum applies to --optimizer sgd, momentum, "
                                       "nesterov and rmsprop only");
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
    p->oc = s->second_order ? optim_config_default(OPTIM_SGD) : oc;
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
    if ((st = sched_init(&s->sched, &sc, err)))
        return dt_fail_prefix(err, "--schedule %s", sched_name(sk));
    return DT_OK;
}

/* --metrics: each must suit the head. */
static dt_status check_metrics(dt_session *s, dt_head head, dt_error *err)
{
    const dt_choices *m = &s->cfg->train.metrics;
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
                           config_optimizer_name(cfg->train.optimizer));
    if (CONFIG_GIVEN(cfg, train.micro_batch) && !cfg->train.reproducible)
        return dt_fail(err, DT_EUSAGE, "--micro-batch applies to --reproducible runs only");
    if (cfg->train.reproducible && s->second_order)
        return dt_fail(err, DT_EUSAGE, "--reproducible needs a first-order optimizer (%s sums "
                                       "the full-batch gradient in rank-count-dependent order)",
                       config_optimizer_name(cfg->train.optimizer));
    if (cfg->train.reproducible && cfg->train.threads > 1)
        return dt_fail(err, DT_EUSAGE, "--reproducible computes with one thread per rank "
                                       "(--threads 1): a GEMM split over threads may add in "
                                       "another order");
    if (cfg->train.early_stopping && cfg->train.monitor == MONITOR_VAL_ACCURACY && cfg->train.output == HEAD_LINEAR)
        return dt_fail(err, DT_EUSAGE, "--monitor valid_accuracy needs a classifier output");
    if (cfg->train.monitor == MONITOR_VAL_RMSE && cfg->train.output != HEAD_LINEAR)
        return dt_fail(err, DT_EUSAGE, "--monitor valid_rmse needs --output linear");
    if (!cfg->train.checkpoint_dir[0] &&
        (cfg->train.checkpoint_every || cfg->train.checkpoint_every_epoch || cfg->train.checkpoint_every_seconds > 0 ||
         cfg->train.keep))
        return dt_fail(err, DT_EUSAGE,
                       "--checkpoint-every, --checkpoint-every-epoch, --checkpoint-every-seconds "
                       "and --keep need --checkpoint-dir DIR");
    return DT_OK;
}

/* Step 1, local: every option parsed and checked. */
static dt_status parse_options(dt_session *s, int have_data, setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
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

/* The run's files against fs_check_files's rule (rank 0; agreed):
 * --save and --log against the inputs, each other and the checkpoint
 * directory's own files; `resumed` (a checkpoint, or "") is an input too. */
static dt_status check_files(const dt_session *s, const char *resumed, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    dt_status st = DT_OK;
    const fs_file files[] = {
        {"--data", cfg->train.data, FS_INPUT},         {"--init-from", cfg->train.init_from, FS_INPUT},
        {"--config", cfg->config_file, FS_INPUT}, {"--resume", resumed, FS_OWNED},
        {"--save", cfg->train.save, FS_OUTPUT},        {"--log", cfg->train.log, FS_OUTPUT},
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
        st = ckpt_claim_dir(cfg->checkpoint_dir, &s->dir_lock, err);
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
        st = ckpt_find(cfg->resume.path, cfg->checkpoint_dir, s->resumed_from,
                       sizeof s->resumed_from, err);
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    comm_bcast(s->comm, s->resumed_from, sizeof s->resumed_from, 0);
    if (!s->resumed_from[0])
        dt_info("dtrain: no checkpoint in %s yet: starting fresh", cfg->checkpoint_dir);
    return s->resumed_from[0] ? check_files(s, s->resumed_from, err) : DT_OK;
}

/* Step 5, local: the batch against the data (p->batch), with warnings for
 * what works but may surprise. */
static dt_status size_batches(const dt_session *s, setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
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
    } else if ((st = norm_fit(s->comm, tr, nk, s->cfg->train.reproducible, &s->norm, err))) {
        return st;
    }
    dataset_normalize(&s->norm, &s->train);
    if (s->eval.n)
        dataset_normalize(&s->norm, &s->eval);
    if (s->test.n)
        dataset_normalize(&s->norm, &s->test);
    return DT_OK;
}

/* Step 7: the model, its GEMM plans and its first weights (rank 0's, or
 * --init-from's, on every rank). */
static dt_status build_model(dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    const dt_dataset *tr = &s->train;
    int n_out = p->head == HEAD_SOFTMAX ? s->n_classes : p->head == HEAD_SIGMOID ? 1 : (int)tr->k;
    const int max_batch = eval_block(s, tr->n);
    /* sharded sets were split in blocks of it (load_group) */
    if (tr->block && tr->block != max_batch)
        return dt_fail(err, DT_EINTERNAL, "sharded in blocks of %lld rows, not %d",
                       (long long)tr->block, max_batch);
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
    } else if (m->head == HEAD_LINEAR && s->cfg->train.normalize_targets == SWITCH_ON) {
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
    soc.history = (int)s->cfg->train.lbfgs_history;
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

/* The outputs --metrics needs of this rank's part of the largest set it
 * evaluates (metrics_* take the model's outputs). */
static size_t pred_len(const dt_session *s)
{
    const dt_dataset *sets[] = {&s->eval, &s->test, &s->train};
    int64_t most = 0, lo, hi;
    for (int i = 0; i < 3; i++) {
        block_slice(sets[i]->n, s->model.max_batch, comm_rank(s->comm), comm_size(s->comm), &lo,
                    &hi);
        most = hi - lo > most ? hi - lo : most;
    }
    return (size_t)(most * s->model.n_out + 1);
}

/* The metrics reported for each set: --metrics, or the head's default. */
static int report_metrics(const dt_session *s, dt_metric *out)
{
    for (int i = 0; i < s->n_metrics; i++) out[i] = (dt_metric)s->metrics[i];
    if (s->n_metrics)
        return s->n_metrics;
    out[0] = s->n_classes ? METRIC_ACCURACY : METRIC_RMSE;
    return 1;
}

static const char *const profile_cols[] = {"time_data", "time_compute", "time_comm",
                                           "time_update", "time_eval"};

/* The columns of the run's history (history.h): its naming scheme. */
static dt_status define_history(dt_session *s, dt_error *err)
{
    dt_history *h = &s->progress.hist;
    static const char *const fixed[] = {"epoch", "step", "samples", "epoch_time",
                                        "time",  "lr",   "train_loss"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) history_add_col(h, "%s", fixed[i]);
    dt_metric m[8];
    const int nm = report_metrics(s, m);
    const dt_dataset *sets[2] = {&s->eval, &s->test};
    const char *names[2] = {s->eval_name, "test"};
    for (int i = 0; i < 2; i++) {
        if (!sets[i]->n)
            continue;
        history_add_col(h, "%s_loss", names[i]);
        for (int j = 0; j < nm; j++) history_add_col(h, "%s_%s", names[i], metrics_name(m[j]));
    }
    if (s->cfg->train.early_stopping)
        history_add_col(h, "best_epoch");
    for (int i = 0; s->cfg->train.profile && i < 5; i++) history_add_col(h, "%s", profile_cols[i]);
    if (h->n_cols == HIST_MAX_COLS)
        return dt_fail(err, DT_EUSAGE, "too many figures per epoch for the history");
    return DT_OK;
}

/* Step 8: optimizer, trainer and the buffers a run needs. */
static dt_status build_trainer(dt_session *s, const setup_plan *p, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_status st = DT_OK;
    if (s->second_order && (st = comm_agree(s->comm, build_second_order(s, err), err)))
        return st;
    st = optim_init(&s->optim, &p->oc, s->model.n_params, err);
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
    st = trainer_init(&s->trainer, s->comm, &s->model, &s->optim, &s->train, &to, err);
    if (!st)
        s->trainer.sched = &s->sched;
    if (!st && cfg->early_stopping && !(s->best = malloc(s->model.n_params * sizeof *s->best)))
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    if (!st && s->n_metrics && !(s->pred = malloc(pred_len(s) * sizeof *s->pred)))
        st = dt_fail(err, DT_ENOMEM, "out of memory");
    progress_init(&s->progress);
    if (!st)
        st = define_history(s, err);
    return comm_agree(s->comm, st, err);
}

/* Step 9: where the run stands: the start, or the checkpoint's state. */
static dt_status restore_progress(dt_session *s, dt_error *err)
{
    dt_progress *pr = &s->progress;
    pr->plateau = s->sched.plateau;
    pr->es_best = s->cfg->train.monitor == MONITOR_VAL_ACCURACY ? -INFINITY : INFINITY;
    dt_status st = DT_OK;
    if (s->resumed_from[0]) {
        dt_ckpt_parts parts = session_parts(s);
        st = ckpt_load(s->resumed_from, &parts, comm_rank(s->comm), comm_size(s->comm), pr, err);
    }
    if ((st = comm_agree(s->comm, st, err)))
        return st;
    /* rank 0 writes the checkpoints: its choice is the run's */
    pr->lineage = ckpt_lineage(s->resumed_from, s->cfg->train.checkpoint_dir,
                               !s->cfg->train.resume.path[0], pr->lineage);
    comm_bcast(s->comm, &pr->lineage, sizeof pr->lineage, 0);
    if (!s->resumed_from[0])
        return DT_OK;
    history_truncate(&pr->hist, pr->epoch); /* epochs after it are to be trained again */
    s->trainer.step = pr->step;
    s->sched.plateau = pr->plateau;
    if (pr->batch > 0 && !s->second_order) /* the epoch's line and record need its rate */
        s->trainer.last_lr = sched_lr(&s->sched, pr->step - 1, pr->epoch, s->trainer.steps_per_epoch);
    if (s->second_order) /* the float parameters are the double ones rounded */
        for (size_t i = 0; i < s->model.n_params; i++) s->model.params[i] = (float)s->x[i];
    s->complete = pr->epoch >= s->cfg->train.epochs && pr->batch == 0;
    if (s->complete) /* a requeued job that had finished */
        dt_info("dtrain: %s is the end of this run (%lld of --epochs %lld done, step %lld): "
                "nothing to train or write; raise --epochs to continue it",
                s->resumed_from, (long long)pr->epoch, (long long)s->cfg->train.epochs,
                (long long)pr->step);
    else
        dt_info("dtrain: resuming from %s at epoch %lld, step %lld", s->resumed_from,
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
    if (s->cfg->train.log[0] && !s->complete && comm_rank(s->comm) == 0)
        st = history_log_open(&s->log, s->cfg->train.log, &s->progress.hist, err);
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
    history_log_init(&s->log);
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
        snprintf(s->eval_src, sizeof s->eval_src, "the evaluation data");
    }
    setup_plan p;
    dt_status st;
    if ((st = choose_head(cfg, comm, train ? &s->train : NULL, err)) ||
        (st = parse_options(s, train != NULL, &p, err)) || (st = claim_outputs(s, err)))
        return st;
    /* step 3: the data (metadata of every group first, then the reads) */
    if (train && !s->eval.n && holdout(cfg) > 0)
        st = hold_out(s, holdout(cfg), err);
    if (!st)
        st = train ? check_data(s, p.head, "valid", err) : load_data(s, p.head, err);
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
    dt_ckpt_parts p = {s->cfg, &s->model, &s->optim, &s->norm, s->train.n, s->best,
                       s->second_order ? &s->so : NULL, s->x, s->trainer.steps_per_epoch};
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
    st = ckpt_save(s->comm, s->cfg->train.checkpoint_dir, s->cfg->train.keep, &parts, &s->progress, written,
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
    switch (s->cfg->train.monitor) {
    case MONITOR_VAL_ACCURACY: return s->last_eval.accuracy;
    case MONITOR_VAL_RMSE: return s->last_eval.rmse;
    case MONITOR_VAL_LOSS: break;
    }
    return s->last_eval.loss;
}

/* Whether v, a value of --monitor, beats the best so far. */
static int es_improves(const dt_session *s, double v)
{
    return s->cfg->train.monitor == MONITOR_VAL_ACCURACY ? v > s->progress.es_best
                                                   : v < s->progress.es_best;
}

/* Early stopping after an epoch: remember the best weights; 1 = stop now. */
static int early_stop(dt_session *s, int64_t epoch)
{
    dt_progress *p = &s->progress;
    const double v = s->monitor;
    if (es_improves(s, v)) {
        p->es_best = v;
        p->es_best_epoch = epoch + 1;
        p->es_bad = 0;
        memcpy(s->best, s->model.params, s->model.n_params * sizeof *s->best);
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
    dt_model *m = &s->model;
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)x[i];
    double f = trainer_full_batch(s->comm, m, &s->train, s->cfg->train.l2, s->cfg->train.l1);
    for (size_t i = 0; i < m->n_params; i++) grad[i] = m->grads[i];
    return f;
}

/* A set's figures after an epoch or at the end: "SET_loss" and "SET_METRIC"
 * for each metric reported, in the order of the history's columns. */
typedef struct {
    int n;
    char name[1 + 8][HIST_NAME_LEN];
    double v[1 + 8];
} figures;

static void add_figure(figures *fg, const char *set, const char *what, double v)
{
    snprintf(fg->name[fg->n], HIST_NAME_LEN, "%s_%s", set, what);
    fg->v[fg->n++] = v;
}

/* The loss and the metrics of one set, exact over all ranks (the metrics
 * module gathers what it needs); ev receives trainer_evaluate's figures. */
static dt_status evaluate_set(dt_session *s, const dt_dataset *set, const char *name,
                              dt_eval *ev, figures *fg, dt_error *err)
{
    dt_status st = trainer_evaluate(s->comm, &s->model, set, ev, err);
    if (st || (st = comm_agree(s->comm, model_fault(&s->model, err), err)))
        return st;
    fg->n = 0;
    add_figure(fg, name, "loss", ev->loss);
    if (!s->n_metrics) { /* the default metric is trainer_evaluate's */
        add_figure(fg, name, s->n_classes ? "accuracy" : "rmse",
                   s->n_classes ? ev->accuracy : ev->rmse);
        return DT_OK;
    }
    const int K = s->model.n_out;
    int64_t lo, hi;
    block_slice(set->n, s->model.max_batch, comm_rank(s->comm), comm_size(s->comm), &lo, &hi);
    trainer_predict(&s->model, set, lo, hi, s->pred);
    dt_class_metrics cm = {0};
    dt_reg_metrics rm = {0};
    st = s->n_classes ? metrics_classification(s->comm, s->pred, K, set->labels + lo, hi - lo,
                                               s->n_classes, &cm, err)
                      : metrics_regression(s->comm, s->pred, set->targets + lo * K, hi - lo, K,
                                           &rm, err);
    for (int i = 0; !st && i < s->n_metrics; i++) {
        dt_metric m = (dt_metric)s->metrics[i];
        add_figure(fg, name, metrics_name(m),
                   s->n_classes ? metrics_of_class(m, &cm) : metrics_of_reg(m, &rm));
    }
    metrics_class_free(&cm);
    metrics_reg_free(&rm);
    return st;
}

/* "  NAME VALUE" for each figure, appended to text[*n..len). */
static void format_figures(const figures *fg, char *text, size_t len, int *n)
{
    for (int i = 0; i < fg->n && *n < (int)len; i++)
        *n += snprintf(text + *n, len - (size_t)*n, "  %s %.4f", fg->name[i], fg->v[i]);
}

/* Figures into their columns of a history row. */
static void put_figures(const dt_history *h, double *row, const figures *fg)
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
    int64_t used = s->trainer.steps_per_epoch * s->trainer.opts.batch_size;
    return used < s->train.n ? used : s->train.n;
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
    *train_loss = loss / (double)epoch_samples(s);
    if (!isfinite(*train_loss))
        return dt_fail(err, DT_ENUM,
                       "training diverged in epoch %lld (train loss %g); try a smaller --lr",
                       (long long)epoch + 1, *train_loss);
    return DT_OK;
}

/* The evaluated sets' figures after an epoch (s->last_eval: the watched
 * set's) into the row and onto the epoch line's text. */
static dt_status evaluate_epoch(dt_session *s, double *row, char *text, size_t len,
                                dt_error *err)
{
    const dt_dataset *sets[2] = {&s->eval, &s->test};
    const char *names[2] = {s->eval_name, "test"};
    int n = 0;
    text[0] = '\0';
    for (int i = 0; i < 2; i++) {
        if (!sets[i]->n)
            continue;
        figures fg;
        dt_eval ev;
        dt_status st = evaluate_set(s, sets[i], names[i], &ev, &fg, err);
        if (st)
            return st;
        if (i == 0)
            s->last_eval = ev;
        put_figures(&s->progress.hist, row, &fg);
        format_figures(&fg, text, len, &n);
    }
    return DT_OK;
}

/* --profile: the slowest rank's time in each phase (what the epoch waited
 * for) into the row and a line; t_train is the epoch up to its evaluation,
 * t_all the whole.  A sharded training set's fetch is part of time_data (the
 * rows of the step reaching the rank, by whatever way: the history's columns
 * stay those of every placement, also across a resume that changes it); the
 * line gives it apart, per step. */
static void profile_epoch(dt_session *s, int64_t epoch, double t_train, double t_all,
                          double *row)
{
    double ph[7] = {s->trainer.time.data,   s->trainer.time.compute, s->trainer.time.reduce,
                    s->trainer.time.update, t_train, s->trainer.time.fetch,
                    s->trainer.time.fetches};
    comm_allreduce_max_f64(s->comm, ph, 7);
    const double train = ph[4];
    ph[4] = t_all - t_train; /* the evaluation */
    for (int i = 0; i < 5; i++) put(&s->progress.hist, row, profile_cols[i], ph[i]);
    char fetch[96] = "";
    if (s->trainer.fetch)
        snprintf(fetch, sizeof fetch, " (fetch %.4f, %.3f ms per step)", ph[5],
                 ph[6] > 0 ? 1e3 * ph[5] / ph[6] : 0.0);
    dt_info("profile epoch %lld: train %.4f s  data %.4f%s  compute %.4f  comm %.4f  "
            "update %.4f  eval %.4f  (max over ranks)",
            (long long)epoch + 1, train, ph[0], fetch, ph[1], ph[2], ph[3], ph[4]);
    memset(&s->trainer.time, 0, sizeof s->trainer.time);
}

/* The epoch into the history and the metrics log; --monitor observed. */
static dt_status record_epoch(dt_session *s, int64_t epoch, double *row, double train_loss,
                              dt_error *err)
{
    dt_progress *p = &s->progress;
    s->monitor = monitor_value(s, train_loss);
    if (s->cfg->train.early_stopping) /* the epoch early_stop() will keep, this one included */
        put(&p->hist, row, "best_epoch",
            es_improves(s, s->monitor) ? (double)(epoch + 1) : (double)p->es_best_epoch);
    dt_status st = history_append(&p->hist, row, err);
    if (st)
        return st;
    if (history_log_append(&s->log, &p->hist, err)) {
        dt_warn("%s; the log stops here (checkpoints and --save keep every epoch)", err->msg);
        history_log_close(&s->log);
    }
    if (sched_observe(&s->sched, s->monitor))
        dt_info("plateau: %s has not improved for %lld epochs; learning rate now %.3g",
                config_monitor_name(s->cfg->train.monitor), (long long)s->cfg->train.plateau_patience,
                sched_lr(&s->sched, p->step, epoch + 1, s->trainer.steps_per_epoch));
    p->plateau = s->sched.plateau;
    p->epoch = epoch + 1;
    p->batch = 0;
    p->local_loss = 0.0;
    return DT_OK;
}

/* The learning rate of the epoch's last step. */
static double current_lr(const dt_session *s)
{
    return s->second_order ? s->trainer.opts.lr : s->trainer.last_lr;
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
    s->progress.seconds = seconds;
    const double fixed[] = {(double)(epoch + 1), (double)s->trainer.step,
                            (double)((epoch + 1) * epoch_samples(s)), now - t_epoch, seconds,
                            current_lr(s), train_loss};
    for (int c = 0; c < (int)(sizeof fixed / sizeof *fixed); c++) row[c] = fixed[c];
    char lrtext[48] = "";
    if (!s->second_order && (s->sched.cfg.kind != SCHED_CONSTANT || s->sched.cfg.warmup_steps))
        snprintf(lrtext, sizeof lrtext, "  lr %.3g", s->trainer.last_lr);
    dt_info("epoch %3lld/%lld  train_loss %.4f%s%s  %.0f samples/s  epoch_time %.2f s  "
            "time %.2f s",
            (long long)epoch + 1, (long long)cfg->epochs, train_loss, evtext, lrtext,
            done > 0 ? (double)done / (now - t_epoch) : 0.0, now - t_epoch, seconds);
    if (s->trainer.norm_sum && cfg->log_grad_norms < 0) /* once per epoch */
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
    const int64_t last = p->hist.n_rows - 1;
    const int ev = s->eval.n > 0;
    dt_run_info info = {.epoch = p->epoch, .step = p->step,
                        .train_loss = history_get(&p->hist, last, "train_loss"),
                        .eval_loss = ev ? s->last_eval.loss : NAN,
                        .eval_metric = !ev           ? NAN
                                       : s->n_classes ? s->last_eval.accuracy
                                                      : s->last_eval.rmse,
                        .lr = current_lr(s), .seconds = history_get(&p->hist, last, "time")};
    return agree_stop(s, s->on_epoch(s->hook_user, &info));
}

/* The first safe point: a signal during set-up (data loading can take long)
 * ends the run here, before a step is taken, with nothing to save. */
static dt_status stop_before_training(dt_session *s, dt_error *err)
{
    if (!s->signals)
        return DT_OK; /* the process's signals are the caller's */
    if (!s->cfg->train.checkpoint_dir[0] && s->second_order)
        signals_default(); /* no steps, so no safe points: a signal ends the run */
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
    /* started here unless the caller's watch covers set-up too (watchdog.h) */
    const int watch = s->watchdog && s->cfg->train.step_timeout > 0 && !watchdog_active();
    if (watch && (st = watchdog_start(s->cfg->train.step_timeout, s->comm, err)))
        return st;
    st = train_loop(s, err);
    history_log_close(&s->log); /* every epoch is in it */
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
    double last_tick;      /* rank 0: when the progress display was last called */
    int64_t mine;          /* with a progress display: this rank's samples of the epoch so
                              far, whose loss sum is progress.local_loss */
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
    const dt_train_config *cfg = &s->cfg->train;
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

/* Without a checkpoint directory, a signal (seen by any rank: one small
 * allreduce per step, only when the handlers are ours) stops the run here
 * with nothing to save: DT_STOPPED, the same on every rank. */
static dt_status stop_unsaved(dt_session *s, int64_t epoch, dt_error *err)
{
    if (!s->signals)
        return DT_OK;
    int64_t sig = signals_pending();
    comm_allreduce_max_i64(s->comm, &sig, 1);
    if (!sig)
        return DT_OK;
    signals_protect(1); /* the stop is under way: a repeated signal changes nothing */
    return dt_fail(err, DT_STOPPED,
                   "stopped by %s at step %lld (epoch %lld); nothing saved: no "
                   "--checkpoint-dir (with one, the run writes a checkpoint here and --resume "
                   "continues from it)",
                   signals_name((int)sig), (long long)s->progress.step, (long long)epoch + 1);
}

/* After step k of the epoch: replica check, gradient norms, and whether to
 * checkpoint or stop (DT_PREEMPTED: a signal or --stop-at-step). */
static dt_status step_boundary(dt_session *s, run_state *r, int64_t epoch, int64_t k,
                               dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
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
    if (!cfg->checkpoint_dir[0] && stop)
        return dt_fail(err, DT_PREEMPTED,
                       "stopped at step %lld (--stop-at-step); no --checkpoint-dir, so nothing "
                       "was saved",
                       (long long)p->step);
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
        if ((st = trainer_evaluate(s->comm, &s->model, &s->train, &ev, err)))
            return st;
        f = ev.loss + trainer_penalty_range(&s->model, NULL, 0, s->model.n_params, s->cfg->train.l2,
                                            s->cfg->train.l1);
    }
    p->local_loss = comm_rank(s->comm) == 0 ? f * (double)s->train.n : 0.0;
    p->step = ++s->trainer.step;
    p->batch = s->trainer.steps_per_epoch;
    *done = s->train.n;
    return DT_OK;
}

/* The samples of the epoch's batch k whose losses this rank adds up. */
static int64_t local_slice(const dt_session *s, int64_t k)
{
    return trainer_loss_rows(&s->trainer, k);
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
    if (comm_rank(s->comm) != 0 || now - r->last_tick < s->tick_every)
        return;
    r->last_tick = now;
    const int64_t mine = r->mine;
    const int64_t n = epoch_samples(s), upto = (k + 1) * s->trainer.opts.batch_size;
    dt_tick t = {.epoch = epoch + 1, .epochs = s->cfg->train.epochs, .batch = k + 1,
                 .batches = s->trainer.steps_per_epoch, .samples = upto < n ? upto : n,
                 .n_samples = n, .seconds = now - t_epoch,
                 .rate = now > t_epoch ? (double)done / (now - t_epoch) : 0.0,
                 .loss = mine ? s->progress.local_loss / (double)mine : NAN,
                 .lr = current_lr(s)};
    s->on_tick(s->tick_user, &t);
}

/* One epoch, from where the progress stands; *last: training is over. */
static dt_status run_epoch(dt_session *s, run_state *r, int64_t epoch, int *last, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    dt_progress *p = &s->progress;
    const double t_epoch = comm_wtime();
    int64_t done = 0;
    dt_status st;
    trainer_begin_epoch(&s->trainer, epoch);
    r->mine = s->on_tick ? local_samples(s, p->batch) : 0;
    if (s->second_order && (st = second_order_epoch(s, &done, err)))
        return st;
    for (int64_t k = p->batch; k < s->trainer.steps_per_epoch; k++) {
        const double loss = trainer_step(&s->trainer, k);
        p->local_loss += loss;
        done += trainer_batch_size(&s->trainer, k);
        if ((s->trainer.nonfinite && (st = nonfinite_step(s, r, epoch, err))) ||
            (st = step_boundary(s, r, epoch, k, err)))
            return st;
        if (s->on_tick) {
            r->mine += local_slice(s, k);
            tick(s, r, epoch, k, done, t_epoch);
        }
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
    const dt_train_config *cfg = &s->cfg->train;
    dt_progress *p = &s->progress;
    const double t0 = comm_wtime();
    run_state r = {.t_start = t0, .base = p->seconds, .last_tick = t0,
                   .saved_step = s->resumed_from[0] ? p->step : -1, .saved_epoch = p->epoch,
                   .norm_every = cfg->log_grad_norms > 0 ? cfg->log_grad_norms : 0};
    r.last_ckpt = r.t_start;
    dt_status st;
    int last = 0;
    for (int64_t epoch = p->epoch; epoch < cfg->epochs && !last; epoch++)
        if ((st = run_epoch(s, &r, epoch, &last, err)))
            return st;
    s->ran_out = !last && p->epoch == cfg->epochs;
    if (cfg->early_stopping && p->es_best_epoch > 0) {
        /* the best epoch's weights are the ones kept and saved */
        memcpy(s->model.params, s->best, s->model.n_params * sizeof *s->best);
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

void session_free(dt_session *s)
{
    ckpt_release_dir(&s->dir_lock);
    history_log_close(&s->log);
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
    dataset_free(&s->test);
}

/* --- the run described and its results reported (log lines) --- */

void session_describe(const dt_session *s)
{
    const dt_model *m = &s->model;
    const dt_train_config *cfg = &s->cfg->train;
    char arch[512];
    int n = snprintf(arch, sizeof arch, "%d", m->n_in);
    for (int l = 0; l < m->n_layers && n < (int)sizeof arch; l++)
        n += snprintf(arch + n, sizeof arch - (size_t)n, "-%d", m->layers[l].n_out);
    int P = comm_size(s->comm);
    const dt_train_opts *o = &s->trainer.opts;
    char evdesc[128] = "no valid or test group: final metrics are on the training set";
    if (s->eval.n)
        snprintf(evdesc, sizeof evdesc, "%s %lld samples", s->eval_name, (long long)s->eval.n);
    if (s->test.n)
        snprintf(evdesc + strlen(evdesc), sizeof evdesc - strlen(evdesc), ", test %lld samples",
                 (long long)s->test.n);
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
                "rank%s, global batch %lld (%d per rank at most), %lld step%s per epoch",
                arch, head_name(m->head), m->n_params, matmul_precision_name(m->prec),
                optim_name(s->optim.cfg.kind), o->lr,
                sched_name(s->sched.cfg.kind), P, P == 1 ? "" : "s", (long long)o->batch_size,
                trainer_local_batch(o->batch_size, P, o->micro_batch),
                (long long)s->trainer.steps_per_epoch,
                s->trainer.steps_per_epoch == 1 ? "" : "s");
    if (o->micro_batch > 0) {
        const int64_t micro = (o->batch_size + o->micro_batch - 1) / o->micro_batch;
        dt_info("dtrain: --reproducible: each batch in %lld micro-batch%s of up to %lld rows, "
                "added in a fixed tree%s",
                (long long)micro, micro == 1 ? "" : "es", (long long)o->micro_batch,
                micro < P ? "; the ranks beyond them wait (a larger --batch-size or a smaller "
                            "--micro-batch gives them work)"
                          : "");
    }
}

/* A set's final figures, evaluated now, with where the set comes from. */
static dt_status report_set(dt_session *s, const dt_dataset *set, const char *name,
                            const char *src, dt_error *err)
{
    figures fg;
    dt_eval ev;
    dt_status st = evaluate_set(s, set, name, &ev, &fg, err);
    if (st)
        return st;
    char text[512];
    int n = 0;
    format_figures(&fg, text, sizeof text, &n);
    dt_info("final: %s  (%lld samples: %s)", text + 2, (long long)set->n, src);
    return DT_OK;
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

/* A complete run's final figures: its checkpoint's last history row, a line
 * per set as a run that trains prints them (the training loss without one). */
static void report_complete(const dt_session *s)
{
    const dt_history *h = &s->progress.hist;
    const double *row = history_last(h);
    const char *sets[2] = {s->eval.n ? s->eval_name : "train", s->test.n ? "test" : NULL};
    for (int i = 0; row && i < 2 && sets[i]; i++) {
        char text[512] = "", prefix[16];
        int n = 0, len = snprintf(prefix, sizeof prefix, "%s_", sets[i]);
        for (int c = 0; c < h->n_cols && n < (int)sizeof text; c++)
            if (!strncmp(h->name[c], prefix, (size_t)len) && !isnan(row[c]))
                n += snprintf(text + n, sizeof text - (size_t)n, "  %s %.4f", h->name[c],
                              row[c]);
        if (n)
            dt_info("final: %s  (epoch %.0f, from the checkpoint)", text + 2, row[0]);
    }
}

/* Convergence, judged as scikit-learn's ConvergenceWarning (tol 1e-4 over
 * n_iter_no_change = 10 epochs) but on means of windows, which the noise of
 * mini-batches moves less than single epochs: the figure --monitor watches
 * (the evaluated set's loss by default; the training loss without an
 * evaluated set) over the last CONVERGE_WINDOW epochs, against the
 * CONVERGE_WINDOW before them (half the run each, for a shorter run).  Still
 * improving by more than CONVERGE_REL_TOL of its value and more than
 * CONVERGE_ABS_TOL: not converged, said in one warning. */
#define CONVERGE_WINDOW 10
#define CONVERGE_REL_TOL 0.01
#define CONVERGE_ABS_TOL 1e-3

/* The history column of the figure --monitor watches: the evaluated set's
 * metric when the epochs record it, else its loss, else the training loss.
 * *maximize: larger is better. */
static void watched_column(const dt_session *s, char *col, size_t len, int *maximize)
{
    const dt_history *h = &s->progress.hist;
    const char *what = s->cfg->train.monitor == MONITOR_VAL_ACCURACY ? "accuracy"
                       : s->cfg->train.monitor == MONITOR_VAL_RMSE   ? "rmse"
                                                               : "loss";
    *maximize = 0;
    if (!s->eval.n) {
        snprintf(col, len, "train_loss");
        return;
    }
    snprintf(col, len, "%s_%s", s->eval_name, what);
    if (history_col(h, col) >= 0) {
        *maximize = s->cfg->train.monitor == MONITOR_VAL_ACCURACY;
        return;
    }
    snprintf(col, len, "%s_loss", s->eval_name);
}

static void report_convergence(const dt_session *s)
{
    const dt_history *h = &s->progress.hist;
    int64_t w = h->n_rows / 2 < CONVERGE_WINDOW ? h->n_rows / 2 : CONVERGE_WINDOW;
    char col[HIST_NAME_LEN + 16];
    int maximize;
    double before, last;
    watched_column(s, col, sizeof col, &maximize);
    if (!s->ran_out || !history_trend(h, col, w, &before, &last))
        return;
    const double gain = maximize ? last - before : before - last;
    if (!(gain > CONVERGE_REL_TOL * fabs(before) && gain > CONVERGE_ABS_TOL))
        return;
    const int64_t n = h->n_rows;
    char lr[64] = "";
    if (!s->second_order)
        snprintf(lr, sizeof lr, " or lr (%g)", s->trainer.opts.lr);
    dt_warn("not converged: %s was still improving at the end (mean %.4g over epochs "
            "%lld-%lld, %.4g over the %lld before: %.1f%% better, more than the %g%% "
            "tolerated); raise epochs (%lld)%s",
            col, last, (long long)(n - w + 1), (long long)n, before, (long long)w,
            before ? 100.0 * gain / fabs(before) : 100.0, 100.0 * CONVERGE_REL_TOL,
            (long long)s->cfg->train.epochs, lr);
}

dt_status session_report(dt_session *s, dt_error *err)
{
    if (s->complete) {
        report_complete(s);
        return DT_OK;
    }
    const char *train_src = s->cfg->train.data[0] ? s->cfg->train.train_group : "the training data";
    char src[DT_PATH_MAX + 64];
    snprintf(src, sizeof src, "%s, the training set itself", train_src);
    dt_status st = s->eval.n ? report_set(s, &s->eval, s->eval_name, s->eval_src, err)
                             : report_set(s, &s->train, "train", src, err);
    if (!st && s->test.n)
        st = report_set(s, &s->test, "test", s->test_src, err);
    if (!st && s->cfg->train.profile)
        report_memory(s);
    if (!st)
        report_convergence(s);
    return st;
}
