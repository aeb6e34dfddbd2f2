/* dtrain: a run's data: the output head chosen from it, the groups read,
 * checked and held out (set-up's first stages). */
#include "dtrain/session_impl.h"

#include <stdio.h>

#include "dtrain/convert.h"
#include "dtrain/h5io.h"

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
dt_status session_check_data(dt_session *s, dt_head head, const char *eg, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    const char *src = cfg->data[0] ? cfg->data : "data";
    const int classify = head_is_classifier(head), binary = head == HEAD_SIGMOID;
    dt_status st;
    if (s->data.eval.n && (st = check_fit(cfg, eg, s->data.eval.d, s->data.eval.k, s->data.train.d,
                                          s->data.train.k, classify, err)))
        return st;
    if (head == HEAD_SOFTMAX) {
        s->data.n_classes = s->data.train.max_label + 1;
        if (s->data.n_classes < 2)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y has a single class (%d); %s softmax needs at least 2",
                           src, cfg->train_group, s->data.train.max_label, dt_opt("output"));
    } else if (binary) {
        s->data.n_classes = 2;
    }
    if (!classify)
        return DT_OK;
    if ((st = dataset_check_labels(&s->data.train, src, cfg->train_group, s->data.n_classes, binary,
                                   err)))
        return st;
    if (s->data.eval.n &&
        (st = dataset_check_labels(&s->data.eval, src, eg, s->data.n_classes, binary, err)))
        return st;
    if (s->data.test.n && (st = dataset_check_labels(&s->data.test, src, cfg->test_group,
                                                     s->data.n_classes, binary, err)))
        return st;
    return DT_OK;
}

/* Early stopping and the plateau schedule choose by what they watch: a
 * validation set, never the test set. */
static int needs_validation(const dt_train_config *cfg)
{
    return cfg->early_stopping > 0 || cfg->schedule == SCHED_PLATEAU;
}

/* "early-stopping" or "schedule plateau", as dt_opt names them; this
 * thread's text until the next call. */
static const char *watcher(const dt_train_config *cfg)
{
    static _Thread_local char text[DT_OPTKEY_LEN + 16];
    if (cfg->early_stopping > 0)
        snprintf(text, sizeof text, "%s", dt_opt("early-stopping"));
    else
        snprintf(text, sizeof text, "%s plateau", dt_opt("schedule"));
    return text;
}

/* The share of the training split to hold out as the validation set when
 * there is no other (0: none): --valid-split, or 10% when something watches
 * a validation set and the user did not say. */
double session_holdout(const dt_config *cfg)
{
    if (cfg->train.valid_split > 0)
        return cfg->train.valid_split;
    return needs_validation(&cfg->train) && !CONFIG_GIVEN(cfg, train.valid_split) ? 0.1 : 0.0;
}

/* The group the epochs are evaluated on (*eg, NULL for none or a split of
 * the training set), *split (the share held out, 0 if none) and s->data.eval_name. */
static dt_status pick_eval_group(dt_session *s, const char **eg, double *split, dt_error *err)
{
    const dt_config *cfg = s->cfg;
    *eg = NULL;
    *split = 0.0;
    if (has_group(cfg->train.data, cfg->train.valid_group)) {
        *eg = cfg->train.valid_group;
        s->data.validating = 1;
    } else if (CONFIG_GIVEN(cfg, train.valid_group)) {
        return dt_fail_opt(err, DT_EUSAGE, "valid-group", "%s: no group '%s' (%s)", cfg->train.data,
                           cfg->train.valid_group, dt_opt("valid-group"));
    } else if ((*split = session_holdout(cfg)) > 0) {
        s->data.validating = 1;
        if (!CONFIG_GIVEN(cfg, train.valid_split))
            dt_info("dtrain: %s watches a validation set and %s has no %s: holding out 10%% "
                    "of %s for it (%s F sets the share)",
                    watcher(&cfg->train), cfg->train.data, cfg->train.valid_group, cfg->train.train_group,
                    dt_opt("valid-split"));
    } else if (needs_validation(&cfg->train)) {
        return dt_fail(err, DT_EUSAGE,
                       "%s watches a validation set, but %s has no %s and %s 0 "
                       "holds none out (the test set is never used to choose): give "
                       "%s F, e.g. 0.1, or a %s group",
                       watcher(&cfg->train), cfg->train.data, cfg->train.valid_group, dt_opt("valid-split"),
                       dt_opt("valid-split"), cfg->train.valid_group);
    } else if (has_group(cfg->train.data, cfg->train.test_group)) {
        *eg = cfg->train.test_group;
    } else if (CONFIG_GIVEN(cfg, train.test_group)) {
        return dt_fail_opt(err, DT_EUSAGE, "test-group", "%s: no group '%s' (%s)", cfg->train.data,
                           cfg->train.test_group, dt_opt("test-group"));
    }
    s->data.eval_name = s->data.validating ? "valid" : "test";
    if (*eg)
        snprintf(s->data.eval_src, sizeof s->data.eval_src, "%s", *eg);
    return DT_OK;
}

/* The test group of a run that validates: reported, never watched. */
static const char *test_group(const dt_session *s)
{
    const dt_train_config *cfg = &s->cfg->train;
    return s->data.validating && has_group(cfg->data, cfg->test_group) ? cfg->test_group : NULL;
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
int session_eval_block(const dt_session *s, int64_t n_train)
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
dt_status session_hold_out(dt_session *s, double split, dt_error *err)
{
    dt_dataset all = s->data.train;
    const uint64_t seed = (uint64_t)s->cfg->train.seed;
    dt_status st;
    if (all.block) {
        const int64_t kept = dataset_split_kept(&all, split);
        st = comm_agree(s->comm, kept < 0 ? dt_fail(err, DT_ENOMEM, "out of memory") : DT_OK,
                        err);
        if (!st)
            st = dataset_split_sharded(&all, split, seed, session_eval_block(s, kept),
                                       &s->data.train, &s->data.eval, err);
    } else {
        st = dataset_split(&all, split, seed, &s->data.train, &s->data.eval, err);
    }
    dataset_free(&all);
    s->data.eval_name = "valid";
    s->data.validating = 1;
    snprintf(s->data.eval_src, sizeof s->data.eval_src, "%g%% of %s held out", 100.0 * split,
             s->cfg->train.data[0] ? s->cfg->train.train_group : "the training data");
    return st;
}

/* One group of the data file, where --data-placement puts it (sharded: in
 * blocks of session_eval_block(n_train) rows). */
static dt_status load_group(dt_session *s, const char *group, int classify, int64_t n_train,
                            dt_dataset *out, dt_error *err)
{
    const dt_train_config *cfg = &s->cfg->train;
    switch (cfg->data_placement) {
    case PLACE_NODE: return dataset_load_shared(s->comm, cfg->data, group, classify, out, err);
    case PLACE_SHARDED:
        return dataset_load_sharded(s->comm, cfg->data, group, classify, session_eval_block(s, n_train),
                                    out, err);
    case PLACE_RANK: break;
    }
    return dataset_load(cfg->data, group, classify, out, err);
}

/* Everything up to the model: data, labels, normalisation.  The metadata is
 * checked and agreed first; the reads after it are local checks only, and
 * the caller agrees on their result. */
dt_status session_load_data(dt_session *s, dt_head head, dt_error *err)
{
    const int classify = head_is_classifier(head);
    const char *eg, *tg;
    double split;
    int64_t n = 0;
    dt_status st = pick_eval_group(s, &eg, &split, err);
    if (!st)
        st = probe_groups(s, classify, eg, &n, err);
    if ((st = comm_agree(s->comm, st, err)) ||
        (st = load_group(s, s->cfg->train.train_group, classify, n, &s->data.train, err)))
        return st;
    if (split > 0)
        st = session_hold_out(s, split, err);
    else if (eg)
        st = load_group(s, eg, classify, n, &s->data.eval, err);
    if (!st && (tg = test_group(s))) {
        snprintf(s->data.test_src, sizeof s->data.test_src, "%s", tg);
        st = load_group(s, tg, classify, s->data.train.n, &s->data.test, err);
    }
    return st ? st : session_check_data(s, head, eg ? eg : "valid split", err);
}

/* The head chosen from what /train/y is for, said in one line. */
static dt_head head_from_data(const dt_train_config *cfg, const dt_y_kind *y)
{
    const char *src = cfg->data, *g = cfg->train_group;
    if (y->labels) {
        dt_info("dtrain: %s %s/y holds %s class labels%s: softmax output, chosen from the data "
                "(%s sets the head)", src, g, dt_dtype_name(y->type),
                y->named ? " named in /classes" : "", dt_opt("output"));
        return HEAD_SOFTMAX;
    }
    if (y->k == 1 && y->distinct &&
        convert_label_rule(y->n, y->distinct, y->index_like, NULL, NULL, 0) == CONVERT_LABEL_CLASS)
        dt_info("dtrain: %s %s/y holds %s targets: linear output (regression), chosen from the "
                "data; its values are %lld distinct whole numbers: if they are class labels, "
                "give %s softmax", src, g, dt_dtype_name(y->type), (long long)y->distinct,
                dt_opt("output"));
    else
        dt_info("dtrain: %s %s/y holds %s targets: linear output (regression), chosen from the "
                "data (%s sets the head)", src, g, dt_dtype_name(y->type), dt_opt("output"));
    return HEAD_LINEAR;
}

/* --output given: refused on a y it does not fit (a class head on values that
 * are not class labels, a linear head on class labels), warned about when y
 * looks like a quantity.  y: the training y as rank 0 read it. */
static dt_status check_given_head(const dt_train_config *cfg, const dt_y_kind *y, dt_error *err)
{
    const char *src = cfg->data, *g = cfg->train_group;
    const char *head = head_name(cfg->output);
    if (head_is_classifier(cfg->output) && y->not_label >= 0)
        return dt_fail_opt(err, DT_EUSAGE, "output",
                           "%s %s needs class labels (whole numbers >= 0), but %s %s/y holds "
                           "%s targets (row %lld is %g); for regression give %s linear, or "
                           "leave %s out to choose the head from the data",
                           dt_opt("output"), head, src, g, dt_dtype_name(y->type),
                           (long long)y->not_label, y->bad, dt_opt("output"), dt_opt("output"));
    if (head_is_classifier(cfg->output) && y->distinct &&
        convert_label_rule(y->n, y->distinct, y->index_like, NULL, NULL, 0) == CONVERT_LABEL_FLOAT)
        dt_warn("%s %s on %s %s/y: %s targets of %lld distinct whole values in %s%lld "
                "rows, which look like a quantity, not classes (%s linear regresses them)",
                dt_opt("output"), head, src, g, dt_dtype_name(y->type), (long long)y->distinct,
                y->n == DT_Y_SAMPLE ? "its first " : "", (long long)y->n, dt_opt("output"));
    if (cfg->output == HEAD_LINEAR && y->labels)
        return dt_fail_opt(err, DT_EUSAGE, "output",
                           "%s linear on class labels: %s %s/y holds %s class labels%s, and a "
                           "linear head would regress the class numbers; give %s softmax "
                           "(or sigmoid for labels 0/1), or leave %s out; if the values are "
                           "quantities, store y as float (dtrain convert --label-type float, "
                           "or a float32 %s/y)",
                           dt_opt("output"), src, g, dt_dtype_name(y->type),
                           y->named ? " named in /classes" : "", dt_opt("output"),
                           dt_opt("output"), g);
    return DT_OK;
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
dt_status session_pick_head(dt_config *cfg, dt_comm *comm, const dt_dataset *train,
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
    if (!y.known) { /* the data step says what is wrong with the file */
        if ((int)cfg->train.output < 0)
            cfg->train.output = HEAD_SOFTMAX;
        return DT_OK;
    }
    if ((int)cfg->train.output < 0) {
        cfg->train.output = head_from_data(&cfg->train, &y);
        return DT_OK;
    }
    return check_given_head(&cfg->train, &y, err);
}

dt_status session_choose_head(dt_config *cfg, dt_comm *comm, dt_error *err)
{
    return comm_agree(comm, session_pick_head(cfg, comm, NULL, err), err);
}
