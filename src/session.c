/* dtrain: setting up a training run. */
#include "dtrain/session.h"

#include <string.h>

#include "dtrain/h5io.h"
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

static dt_status check_labels(const dt_dataset *ds, const char *path, const char *group,
                              dt_head head, int n_classes, dt_error *err)
{
    for (int64_t i = 0; i < ds->n; i++) {
        int y = ds->labels[i];
        if (head == HEAD_SIGMOID && y > 1)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y row %lld is %d; --output sigmoid needs labels 0 or 1", path,
                           group, (long long)i, y);
        if (y >= n_classes)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y row %lld is %d but the training labels have %d classes",
                           path, group, (long long)i, y, n_classes);
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
    if (eg) {
        if ((st = dataset_load(cfg->data, eg, classify, &s->eval, err)))
            return st;
        if (s->eval.d != s->train.d)
            return dt_fail(err, DT_EUSAGE, "%s: %s/X has %lld features but %s/X has %lld",
                           cfg->data, eg, (long long)s->eval.d, cfg->train_group,
                           (long long)s->train.d);
        if (!classify && s->eval.k != s->train.k)
            return dt_fail(err, DT_EUSAGE, "%s: %s/y has %lld targets per sample but %s/y has %lld",
                           cfg->data, eg, (long long)s->eval.k, cfg->train_group,
                           (long long)s->train.k);
    }
    if (head == HEAD_SOFTMAX) {
        s->n_classes = s->train.max_label + 1;
        if (s->n_classes < 2)
            return dt_fail(err, DT_EUSAGE,
                           "%s: %s/y has a single class (%d); --output softmax needs at least 2",
                           cfg->data, cfg->train_group, s->train.max_label);
    } else if (head == HEAD_SIGMOID) {
        s->n_classes = 2;
    }
    if (classify) {
        if ((st = check_labels(&s->train, cfg->data, cfg->train_group, head, s->n_classes, err)))
            return st;
        if (eg && (st = check_labels(&s->eval, cfg->data, eg, head, s->n_classes, err)))
            return st;
    }
    return DT_OK;
}

dt_status session_setup(dt_session *s, const dt_config *cfg, dt_comm *comm, dt_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->comm = comm;
    s->eval_name = "test";
    const int rank = comm_rank(comm), size = comm_size(comm);

    /* Option checks: the same on every rank, no agreement needed. */
    dt_head head;
    dt_init init;
    dt_norm_kind nk;
    dt_optim_config oc = {0};
    dt_layer_spec hidden[DT_MAX_LAYERS];
    int n_hidden = 0;
    dt_status st;
    if (!cfg->data[0])
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

    st = load_data(s, head, err);
    if ((st = comm_agree(comm, st, err)))
        return st;

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

    if ((st = norm_fit(comm, tr, nk, &s->norm, err)))
        return st;
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
    return comm_agree(comm, st, err);
}

void session_free(dt_session *s)
{
    trainer_free(&s->trainer);
    optim_free(&s->optim);
    model_free(&s->model);
    norm_free(&s->norm);
    dataset_free(&s->train);
    dataset_free(&s->eval);
}
