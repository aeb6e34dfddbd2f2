/* Option table tests: parsing, validation, help and defaults all come from one table. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/config.h"
#include "testutil.h"

static dt_status parse(dt_config *c, unsigned cmd, const char *line, dt_error *err)
{
    return tu_parse(c, cmd, line, err);
}

/* --lr's default depends on --optimizer: not given it is NaN, written back as
 * "auto" (a model's /config, inspect --config, cv), and "auto" reads back as
 * NaN again.  Before, it was written as "", which no parse accepts, so a
 * configuration printed from a run without --lr did not parse back (found by
 * fuzz_config; its input is in the corpus).  An empty value stays an error. */
START_TEST(test_dependent_default_round_trip)
{
    dt_config c, d;
    dt_error err;
    ck_assert_int_eq(parse(&c, CMD_TRAIN, "--data d.h5 --optimizer adam", &err), DT_OK);
    ck_assert(isnan(c.train.lr));
    const dt_option *lr = config_option("lr");
    ck_assert_ptr_nonnull(lr);
    char v[64];
    config_value_str(&c, lr, v, sizeof v);
    ck_assert_str_eq(v, "auto");
    ck_assert_int_eq(parse(&d, CMD_TRAIN, "--data d.h5 --optimizer adam --lr=auto", &err), DT_OK);
    ck_assert(isnan(d.train.lr));
    ck_assert_int_eq(parse(&d, CMD_TRAIN, "--lr=", &err), DT_EUSAGE);
    ck_assert_int_eq(parse(&d, CMD_TRAIN, "--lr=0.5", &err), DT_OK);
    ck_assert(d.train.lr == 0.5);
    /* an option with a table default still needs a number */
    ck_assert_int_eq(parse(&d, CMD_TRAIN, "--momentum=", &err), DT_EUSAGE);
}
END_TEST

START_TEST(test_defaults_and_values)
{
    dt_config c;
    dt_error err;
    ck_assert_int_eq(parse(&c, CMD_TRAIN,
                           "--data d.h5 --layers 256:relu,128:relu --optimizer adam --lr=1e-3 "
                           "--batch-size 128 --epochs 10 --seed 1 --drop-last",
                           &err),
                     DT_OK);
    ck_assert_str_eq(c.train.data, "d.h5");
    ck_assert_int_eq(c.train.layers.n, 2);
    ck_assert_int_eq(c.train.layers.spec[0].width, 256);
    ck_assert_int_eq(c.train.layers.spec[1].act.kind, ACT_RELU);
    ck_assert(c.train.layers.spec[1].dropout < 0); /* no rate of its own: --dropout's */
    ck_assert_int_eq(c.train.optimizer, OPTIM_ADAM);
    ck_assert_double_eq(c.train.lr, 1e-3);
    ck_assert_int_eq(c.train.batch_size, 128);
    ck_assert_int_eq(c.train.drop_last, 1);
    ck_assert_int_eq(c.train.normalize, NORM_ZSCORE); /* default from the table */
    ck_assert_str_eq(c.train.train_group, "/train");
    ck_assert(CONFIG_GIVEN(&c, train.lr));
    ck_assert(!CONFIG_GIVEN(&c, train.momentum));
    ck_assert_int_eq(parse(&c, CMD_CONVERT, "--idx a b --idx-test c d --out o.h5", &err), DT_OK);
    ck_assert_str_eq(c.convert.idx[0], "a");
    ck_assert_str_eq(c.convert.idx[1], "b");
    ck_assert_str_eq(c.convert.idx_test[1], "d");
}
END_TEST

/* A command line of cmd that fails with DT_EUSAGE, and text its message has. */
typedef struct {
    unsigned cmd;
    const char *line, *expect;
} error_case;

static void check_errors(const error_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dt_config c;
        dt_error err;
        dt_error_clear(&err);
        ck_assert_msg(parse(&c, cases[i].cmd, cases[i].line, &err) == DT_EUSAGE,
                      "'%s' should fail", cases[i].line);
        ck_assert_msg(strstr(err.msg, cases[i].expect) != NULL, "'%s': message '%s' lacks '%s'",
                      cases[i].line, err.msg, cases[i].expect);
    }
}

START_TEST(test_errors)
{
    static const error_case cases[] = {
        {CMD_TRAIN, "--optimiser adam", "did you mean --optimizer"},
        {CMD_TRAIN, "--lr -0.1", "--lr"},
        {CMD_TRAIN, "--lr abc", "expected a number"},
        {CMD_TRAIN, "--epochs 0", "--epochs: 0 is out of range"},
        {CMD_TRAIN, "--batch-size 0", "--batch-size"},
        {CMD_TRAIN, "--batch-size 1.5", "expected an integer"},
        {CMD_TRAIN, "--output softmaxx", "not one of softmax|sigmoid|linear"},
        {CMD_TRAIN, "--epochs", "needs a value"},
        {CMD_TRAIN, "--drop-last=1", "takes no value"},
        {CMD_TRAIN, "stray", "unexpected argument"},
        {CMD_TRAIN, "--idx a b", "unknown option --idx"}, /* convert-only option */
        {CMD_CONVERT, "--idx a", "needs two values"},
        {CMD_TRAIN, "--lr nan", "expected a number"},
        /* a repeated option is refused, not silently the last value */
        {CMD_TRAIN, "--data a.h5 --data b.h5", "--data given twice"},
        {CMD_TRAIN, "--save m.h5 --epochs 2 --save=n.h5", "--save given twice"},
        {CMD_TRAIN, "--drop-last --drop-last", "--drop-last given twice"},
        {CMD_CONVERT, "--idx a b --idx c d", "--idx given twice"},
    };
    check_errors(cases, sizeof cases / sizeof cases[0]);
}
END_TEST

START_TEST(test_help_lists_every_option)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f, CMD_TRAIN);
    fclose(f);
    size_t n;
    const dt_option *o = config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char want[80];
        snprintf(want, sizeof want, "--%s", o[i].name);
        if (o[i].cmds & CMD_TRAIN)
            ck_assert_msg(strstr(text, want) != NULL, "help lacks %s", want);
        ck_assert_msg(o[i].help && o[i].help[0], "%s has no help text", o[i].name);
    }
    ck_assert_ptr_nonnull(strstr(text, "[default: adam]") ? text : strstr(text, "[default: sgd]"));
    /* a default the help text states is not repeated from the table */
    ck_assert_ptr_nonnull(strstr(text, "0.01 for adamw]"));
    ck_assert_ptr_null(strstr(text, "0.01 for adamw] [default"));
    ck_assert_ptr_null(strstr(text, "nesterov] [default"));
    free(text);
}
END_TEST

/* What `dtrain train --data FILE.h5` runs when given nothing else, and the
 * help that says so (its text with line breaks and indents as single spaces). */
START_TEST(test_run_defaults)
{
    dt_config c;
    config_defaults(&c);
    ck_assert_int_eq(c.train.optimizer, OPTIM_ADAM);
    ck_assert(isnan(c.train.lr)); /* not given: the optimizer's own rate */
    for (int k = 0; k < OPTIM_N_KINDS; k++)
        ck_assert_double_eq(optim_default_lr((dt_optim_kind)k),
                            k == OPTIM_ADAM || k == OPTIM_ADAMW ? 1e-3 : 1e-2);
    ck_assert_int_eq(c.train.epochs, 50);
    ck_assert_int_eq(c.train.normalize, NORM_ZSCORE);
    ck_assert_int_eq(c.train.normalize_targets, SWITCH_ON);
    /* one hidden ReLU layer of 100 (--dropout's rate: no rate of its own) */
    ck_assert_int_eq(c.train.layers.n, 1);
    ck_assert_int_eq(c.train.layers.spec[0].width, 100);
    ck_assert_int_eq(c.train.layers.spec[0].act.kind, ACT_RELU);
    ck_assert(c.train.layers.spec[0].dropout < 0);
    ck_assert_int_eq(c.train.batch_size, 32);
    /* --lr not given is saved (and compared on resume) as "auto" */
    char v[64];
    config_value_str(&c, config_option("lr"), v, sizeof v);
    ck_assert_str_eq(v, "auto");
    dt_error err;
    ck_assert_int_eq(tu_parse(&c, CMD_TRAIN, "--optimizer sgd --normalize-targets off", &err),
                     DT_OK);
    ck_assert_int_eq(c.train.normalize_targets, SWITCH_OFF);
    ck_assert(isnan(c.train.lr));

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f, CMD_TRAIN);
    fclose(f);
    size_t w = 0;
    for (size_t r = 0; text[r]; r++)
        if (!isspace((unsigned char)text[r]) || (w > 0 && text[w - 1] != ' '))
            text[w++] = isspace((unsigned char)text[r]) ? ' ' : text[r];
    text[w] = '\0';
    const char *want[] = {
        "--optimizer sgd|momentum|nesterov|adagrad|rmsprop|adam|adamw|lbfgs|bfgs|newton",
        "[default: adam]",
        "[default: auto: 0.001 for adam and adamw, 0.01 for the others]",
        "--epochs N passes over the training set;",
        "has not converged (README, Convergence) [default: 50]",
        "none (or empty) = no hidden layer",
        "one ReLU layer of 100 as scikit-learn's MLP, fits every bundled set within the "
        "default --epochs [default: 100:relu]",
        "--normalize-targets on|off",
        "times std_k^2",
        "off: the targets as they are [default: on]"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(text, want[i]) != NULL, "help lacks '%s'", want[i]);
    ck_assert_ptr_null(strstr(text, "the others] [default"));
    free(text);
}
END_TEST

/* --shared-data on|off was renamed --data-placement node|rank: the old name
 * and values are still read (config files, checkpoints, models written with
 * them), the new ones written and shown; --help lists the new option only. */
START_TEST(test_renamed_option)
{
    dt_config c;
    dt_error err;
    ck_assert_int_eq(parse(&c, CMD_TRAIN, "--shared-data off", &err), DT_OK);
    ck_assert_int_eq(c.train.data_placement, PLACE_RANK);
    ck_assert(CONFIG_GIVEN(&c, train.data_placement));
    ck_assert_int_eq(parse(&c, CMD_TRAIN, "--shared-data on", &err), DT_OK);
    ck_assert_int_eq(c.train.data_placement, PLACE_NODE);
    ck_assert_int_eq(parse(&c, CMD_TRAIN, "--data-placement sharded", &err), DT_OK);
    ck_assert_int_eq(c.train.data_placement, PLACE_SHARDED);
    char v[64];
    config_value_str(&c, config_option("shared-data"), v, sizeof v);
    ck_assert_str_eq(v, "sharded");
    ck_assert_str_eq(config_option("shared-data")->name, "data-placement");
    ck_assert_int_eq(config_set(&c, CMD_TRAIN, "shared-data", "off", &err), DT_OK);
    ck_assert_int_eq(c.train.data_placement, PLACE_RANK);
    ck_assert_int_eq(parse(&c, CMD_TRAIN, "--data-placement everywhere", &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "node|rank|sharded"));
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    config_print_help(f, CMD_TRAIN);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "--data-placement node|rank|sharded"));
    ck_assert_ptr_null(strstr(buf, "shared-data"));
    free(buf);
}
END_TEST

/* Every option is typed once, when parsed: choices as their module's enum,
 * lists as indices, the optional-value options as numbers and a switch plus
 * a path.  The text saved in models and checkpoints reads back to the same
 * typed configuration (config_same). */
START_TEST(test_typed_values)
{
    dt_config c, d;
    dt_error err;
    ck_assert_int_eq(parse(&c, CMD_TRAIN,
                           "--optimizer newton --output linear --monitor val_rmse "
                           "--metrics rmse,r2,mae --log-grad-norms 25 --resume "
                           "--shuffle off --reduction mpi --precision bf16 --on-nan skip "
                           "--schedule cosine --init he --normalize minmax "
                           "--layers 64:leaky_relu=0.1111111111:0.3,8:tanh",
                           &err),
                     DT_OK);
    ck_assert_int_eq(c.train.optimizer, OPTIMIZER_SECOND_ORDER + SO_NEWTON);
    ck_assert_str_eq(config_optimizer_name(c.train.optimizer), "newton");
    ck_assert_int_eq(c.train.output, HEAD_LINEAR);
    ck_assert_int_eq(c.train.monitor, MONITOR_VAL_RMSE); /* the old spelling, read */
    ck_assert_str_eq(config_monitor_name(c.train.monitor), "valid_rmse"); /* the figure's name */
    ck_assert_int_eq(c.train.metrics.n, 3);
    ck_assert_int_eq(c.train.metrics.v[0], METRIC_RMSE);
    ck_assert_int_eq(c.train.metrics.v[1], METRIC_R2);
    ck_assert_int_eq(c.train.metrics.v[2], METRIC_MAE);
    ck_assert_int_eq(c.train.log_grad_norms, 25);
    ck_assert(c.train.resume.on);
    ck_assert_str_eq(c.train.resume.path, ""); /* alone: the newest checkpoint */
    ck_assert_int_eq(c.train.shuffle, SWITCH_OFF);
    ck_assert_int_eq(c.train.reduction, REDUCE_MPI);
    ck_assert_int_eq(c.train.precision, PREC_BF16);
    ck_assert_int_eq(c.train.on_nan, ON_NAN_SKIP);
    ck_assert_int_eq(c.train.schedule, SCHED_COSINE);
    ck_assert_int_eq(c.train.init, INIT_HE);
    ck_assert_int_eq(c.train.normalize, NORM_MINMAX);
    ck_assert_int_eq(c.train.layers.n, 2);
    ck_assert_float_eq(c.train.layers.spec[0].act.slope, 0.1111111111f);
    ck_assert_float_eq(c.train.layers.spec[0].dropout, 0.3f);
    ck_assert_float_eq(c.train.layers.spec[1].dropout, -1.0f);
    char text[256];
    model_format_layers(&c.train.layers, text, sizeof text);
    ck_assert_str_eq(text, "64:leaky_relu=0.11111111:0.3,8:tanh");
    ck_assert_int_eq(parse(&d, CMD_TRAIN, "--optimizer adamw --log-grad-norms --resume ck/a.h5",
                           &err),
                     DT_OK);
    ck_assert_int_eq(d.train.optimizer, OPTIM_ADAMW);
    ck_assert_int_eq(d.train.log_grad_norms, -1); /* alone: once per epoch */
    ck_assert(d.train.resume.on);
    ck_assert_str_eq(d.train.resume.path, "ck/a.h5");
    ck_assert_int_eq(d.train.metrics.n, 0);

    /* text and back: every train option of c, through config_set into defaults */
    dt_config b;
    config_defaults(&b);
    size_t n;
    const dt_option *o = config_options(&n);
    for (size_t i = 0; i < n; i++) {
        if (!(o[i].cmds & CMD_TRAIN) || o[i].type == OPT_STR2)
            continue;
        char v[2100];
        config_value_str(&c, &o[i], v, sizeof v);
        if (v[0])
            ck_assert_msg(config_set(&b, CMD_TRAIN, o[i].name, v, &err) == DT_OK, "%s=%s: %s",
                          o[i].name, v, err.msg);
        ck_assert_msg(config_same(&b, &c, &o[i]), "--%s '%s' did not read back", o[i].name, v);
    }
    ck_assert_int_eq(b.train.optimizer, c.train.optimizer);
    ck_assert_int_eq(b.train.metrics.n, 3);
    ck_assert_int_eq(b.train.log_grad_norms, 25);
    ck_assert_mem_eq(&b.train.layers, &c.train.layers, sizeof b.train.layers); /* the exact slope and rate */
    ck_assert(b.train.resume.on && !b.train.resume.path[0]);

    /* a grid point's typed value stored into a copy */
    dt_value v;
    const dt_option *opt = config_find("metrics", CMD_TRAIN);
    config_get_value(&c, opt, &v);
    config_put_value(&d, opt, &v);
    ck_assert_int_eq(d.train.metrics.n, 3);
    ck_assert(CONFIG_GIVEN(&d, train.metrics));

    /* values that are not of the option's type */
    const char *bad[][2] = {{"--metrics accuracy,precision", "'precision' is not one of auc|"},
                            {"--metrics accuracy,,f1", "empty name"},
                            {"--log-grad-norms=0", "should be a step count >= 1"},
                            {"--log-grad-norms=x", "should be a step count >= 1"},
                            {"--optimizer lbfgs2", "not one of sgd|momentum|"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(&d, CMD_TRAIN, bad[i][0], &err) == DT_EUSAGE, "%s", bad[i][0]);
        ck_assert_msg(strstr(err.msg, bad[i][1]), "%s: '%s'", bad[i][0], err.msg);
    }
}
END_TEST

START_TEST(test_value_round_trip)
{
    /* Every option's saved text parses back to the same configuration. */
    dt_config a, b;
    dt_error err;
    ck_assert_int_eq(parse(&a, CMD_TRAIN, "--data x.h5 --lr 0.125 --layers 3:tanh --seed 9", &err),
                     DT_OK);
    size_t n;
    const dt_option *o = config_options(&n);
    config_defaults(&b);
    for (size_t i = 0; i < n; i++) {
        if (!(o[i].cmds & CMD_TRAIN) || o[i].type == OPT_FLAG)
            continue;
        char v[2100], arg[2200];
        config_value_str(&a, &o[i], v, sizeof v);
        snprintf(arg, sizeof arg, "--%s=%s", o[i].name, v);
        char *argv[1] = {arg};
        int help;
        if (!v[0])
            continue;
        ck_assert_msg(config_parse(&b, CMD_TRAIN, 1, argv, &help, &err) == DT_OK, "%s: %s", arg,
                      err.msg);
    }
    ck_assert_str_eq(b.train.data, "x.h5");
    ck_assert_double_eq(b.train.lr, 0.125);
    ck_assert_int_eq(b.train.layers.n, 1);
    ck_assert_int_eq(b.train.layers.spec[0].width, 3);
    ck_assert_int_eq(b.train.layers.spec[0].act.kind, ACT_TANH);
    ck_assert_int_eq(b.train.seed, 9);
    /* no hidden layer is written "none" (an empty value would read as not
     * given, the default layer), and "none" and "" both read back as none */
    ck_assert_int_eq(parse(&a, CMD_TRAIN, "--layers none", &err), DT_OK);
    ck_assert_int_eq(a.train.layers.n, 0);
    char v[64];
    config_value_str(&a, config_option("layers"), v, sizeof v);
    ck_assert_str_eq(v, "none");
    ck_assert_int_eq(config_set(&a, CMD_TRAIN, "layers", "8:relu", &err), DT_OK);
    ck_assert_int_eq(config_set(&a, CMD_TRAIN, "layers", "", &err), DT_OK);
    ck_assert_int_eq(a.train.layers.n, 0);
}
END_TEST

START_TEST(test_list_option)
{
    /* --grid (OPT_LIST) appends each occurrence, '\n' between them; cv also
     * takes every train option, train does not take cv's. */
    dt_config c;
    dt_error err;
    ck_assert_int_eq(parse(&c, CMD_CV,
                           "--grid lr=0.1|0.01 --lr 0.5 --grid=layers=8:relu,4:relu --folds 3",
                           &err),
                     DT_OK);
    ck_assert_str_eq(c.cv.grid, "lr=0.1|0.01\nlayers=8:relu,4:relu");
    ck_assert_double_eq(c.train.lr, 0.5);
    ck_assert_int_eq(c.cv.folds, 3);
    ck_assert_int_eq(c.cv.ranks_per_trial, 1); /* default */
    ck_assert(CONFIG_GIVEN(&c, cv.grid));
    ck_assert_int_eq(parse(&c, CMD_CV, "--folds 5", &err), DT_OK);
    ck_assert_str_eq(c.cv.grid, ""); /* no --grid: empty list */
    ck_assert_int_eq(parse(&c, CMD_TRAIN, "--grid lr=1", &err), DT_EUSAGE);
    ck_assert_int_eq(parse(&c, CMD_CV, "--folds 1", &err), DT_EUSAGE);
    ck_assert_int_eq(parse(&c, CMD_CV, "--metric auk", &err), DT_EUSAGE);
    /* the list as a whole is bounded by DT_PATH_MAX: two 502-character
     * values fit (1005 with the '\n'), a third does not */
    char value[503], opt[] = "--grid";
    memset(value, 'a', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    char *argv[6] = {opt, value, opt, value, opt, value};
    int help;
    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, CMD_CV, 4, argv, &help, &err), DT_OK);
    ck_assert_uint_eq(strlen(c.cv.grid), 1005);
    config_defaults(&c);
    ck_assert_int_eq(config_parse(&c, CMD_CV, 6, argv, &help, &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "--grid: values longer than"));
}
END_TEST

/* The facts columns, pinned against the hand-kept lists they replaced
 * (checkpoint.c's may_change, cv.c's rejected and fixed, cli/convert.c's
 * csv_only, as of commit e210e03): every name listed there must keep its fact,
 * so a dropped flag fails here.  Options that gain a fact later need no edit
 * here; the invariants below hold for every row. */
static unsigned facts_of(const char *name)
{
    const dt_option *o = config_option(name);
    ck_assert_msg(o != NULL, "no option --%s", name);
    return o->facts;
}

static void assert_cv_rejected(const char *name, const char *why)
{
    const dt_option *o = config_option(name);
    ck_assert_msg(o != NULL && o->cv_rejected != NULL, "--%s is not rejected by cv", name);
    ck_assert_str_eq(o->cv_rejected, why);
}

START_TEST(test_option_facts)
{
    static const char *const may_change[] = {
        "epochs", "lr", "checkpoint-dir", "checkpoint-every", "checkpoint-every-epoch",
        "checkpoint-every-seconds", "keep", "resume", "stop-at-step", "save", "threads",
        "data", "init-from", "data-placement", "reduction", "profile", "precision",
        "step-timeout", "check-replicas", "on-nan", "max-skips", "log-grad-norms", "metrics"};
    for (size_t i = 0; i < sizeof may_change / sizeof *may_change; i++)
        ck_assert_msg(facts_of(may_change[i]) & OPTF_MAY_CHANGE, "--%s", may_change[i]);
    static const char *const must_match[] = {"layers", "output", "optimizer", "batch-size",
                                             "seed", "normalize", "schedule", "dropout"};
    for (size_t i = 0; i < sizeof must_match / sizeof *must_match; i++)
        ck_assert_msg(!(facts_of(must_match[i]) & OPTF_MAY_CHANGE), "--%s", must_match[i]);
    ck_assert(facts_of("resume") & OPTF_RESUME_QUIET);
    ck_assert(facts_of("stop-at-step") & OPTF_RESUME_QUIET);
    ck_assert(!(facts_of("epochs") & OPTF_RESUME_QUIET));

    const char *const no_ckpt = "trials are not checkpointed";
    const char *const folds = "each fold is the validation set of its trials";
    assert_cv_rejected("save", "use --refit FILE.h5 to save the best configuration");
    assert_cv_rejected("checkpoint-dir", no_ckpt);
    assert_cv_rejected("checkpoint-every", no_ckpt);
    assert_cv_rejected("checkpoint-every-epoch", no_ckpt);
    assert_cv_rejected("checkpoint-every-seconds", no_ckpt);
    assert_cv_rejected("keep", no_ckpt);
    assert_cv_rejected("resume", no_ckpt);
    assert_cv_rejected("stop-at-step", no_ckpt);
    assert_cv_rejected("valid-group", folds);
    assert_cv_rejected("test-group", folds);
    assert_cv_rejected("valid-split", folds);
    ck_assert_ptr_null(config_option("lr")->cv_rejected);
    ck_assert_ptr_null(config_option("layers")->cv_rejected);

    static const char *const fixed[] = {"data", "train-group", "output"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        ck_assert_msg(facts_of(fixed[i]) & OPTF_CV_FIXED, "--%s", fixed[i]);
    ck_assert(!(facts_of("lr") & OPTF_CV_FIXED));

    static const char *const csv_only[] = {"label-column", "label-type", "x-dtype", "header",
                                           "test-fraction", "no-labels", "delimiter",
                                           "missing"};
    for (size_t i = 0; i < sizeof csv_only / sizeof *csv_only; i++)
        ck_assert_msg(facts_of(csv_only[i]) & OPTF_CSV_ONLY, "--%s", csv_only[i]);
    ck_assert(!(facts_of("seed") & OPTF_CSV_ONLY));
    ck_assert(!(facts_of("out") & OPTF_CSV_ONLY));

    ck_assert_ptr_null(config_option("no-such-option"));

    /* invariants of every row: names are unique within a command (looked up
     * for its own commands, a row is found); the facts belong to the commands
     * that ask about them */
    size_t n;
    const dt_option *opts = config_options(&n);
    for (size_t i = 0; i < n; i++) {
        const dt_option *o = &opts[i];
        ck_assert_ptr_eq(config_find(o->name, o->cmds), o);
        if (o->facts & (OPTF_MAY_CHANGE | OPTF_RESUME_QUIET | OPTF_CV_FIXED) || o->cv_rejected)
            ck_assert_msg(o->cmds & CMD_TRAIN, "--%s is not a train option", o->name);
        if (o->facts & OPTF_RESUME_QUIET)
            ck_assert_msg(o->facts & OPTF_MAY_CHANGE, "--%s", o->name);
        ck_assert_msg(!(o->cv_rejected && (o->facts & OPTF_CV_FIXED)), "--%s", o->name);
        if (o->facts & OPTF_CSV_ONLY)
            ck_assert_msg(o->cmds == CMD_CONVERT, "--%s", o->name);
    }
}
END_TEST

/* The text config_print_help shows for cmd (caller frees). */
static char *help_of(unsigned cmd)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f, cmd);
    fclose(f);
    /* a copy: GCC 12 takes pointers into text for pointers to the local */
    char *copy = strdup(text);
    free(text);
    return copy;
}

/* Option name's entry in the --help of cmd, its lines joined by single
 * spaces (caller frees); NULL if there is none. */
static char *entry_of(unsigned cmd, const char *name)
{
    char *text = help_of(cmd), head[96], *out = NULL;
    char *help = malloc(strlen(text) + 2); /* a line break before the first entry too */
    sprintf(help, "\n%s", text);
    free(text);
    snprintf(head, sizeof head, "\n  --%s", name);
    for (char *e = strstr(help, head); e; e = strstr(e + 1, head)) {
        char after = e[strlen(head)];
        if (after != ' ' && after != '\n')
            continue; /* --log in front of --log-grad-norms */
        char *next = strstr(e + 1, "\n  --"), *w;
        if (next)
            *next = '\0';
        out = w = malloc(strlen(e) + 1);
        for (const char *r = e + 1; *r; r++)
            if (!(*r == ' ' || *r == '\n') || (w > out && w[-1] != ' '))
                *w++ = *r == '\n' ? ' ' : *r;
        *w = '\0';
        break;
    }
    free(help);
    return out;
}

/* Every choice option of the table, whatever rows it gains: a wrong value is
 * refused with a message that names the option and every valid value, and
 * --help shows every value in the option's entry. */
START_TEST(test_choices_name_their_values)
{
    size_t n;
    const dt_option *o = config_options(&n);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (o[i].type != OPT_CHOICE && o[i].type != OPT_CHOICES)
            continue;
        unsigned cmd = o[i].cmds & -o[i].cmds; /* one command that takes it */
        ck_assert_ptr_eq(config_find(o[i].name, cmd), &o[i]);
        dt_config c;
        dt_error err;
        config_defaults(&c);
        dt_error_clear(&err);
        ck_assert_int_eq(config_set(&c, cmd, o[i].name, "no-such-value", &err), DT_EUSAGE);
        char opt[80];
        snprintf(opt, sizeof opt, "--%s", o[i].name);
        ck_assert_msg(strstr(err.msg, opt), "'%s' does not name %s", err.msg, opt);
        char *entry = entry_of(cmd, o[i].name);
        ck_assert_ptr_nonnull(entry);
        for (int l = 0; l < 2 && o[i].names[l]; l++)
            for (int k = 0; o[i].names[l][k]; k++) {
                ck_assert_msg(strstr(err.msg, o[i].names[l][k]), "%s: '%s' lacks '%s'", opt,
                              err.msg, o[i].names[l][k]);
                ck_assert_msg(strstr(entry, o[i].names[l][k]), "--help of %s lacks '%s'", opt,
                              o[i].names[l][k]);
            }
        free(entry);
        seen++;
    }
    ck_assert_int_ge(seen, 14); /* the table had 14 choice rows when this was written */
}
END_TEST

/* Names users of Keras, PyTorch or scikit-learn type first are answered with
 * dtrain's own (never accepted: one name per option). */
START_TEST(test_other_tools_names)
{
    static const error_case cases[] = {
        {CMD_TRAIN, "--learning-rate 0.1", "unknown option --learning-rate (did you mean --lr?)"},
        {CMD_TRAIN, "--learning_rate=0.1", "did you mean --lr?"},
        {CMD_TRAIN, "--num-epochs 3", "did you mean --epochs?"},
        {CMD_TRAIN, "--n_epochs 3", "did you mean --epochs?"},
        {CMD_TRAIN, "--epoch 3", "did you mean --epochs?"},
        {CMD_TRAIN, "--total-epochs 3", "did you mean --epochs?"}, /* a name inside */
        {CMD_TRAIN, "--hidden-layers 64:relu", "did you mean --layers?"},
        {CMD_TRAIN, "--batch 8", "did you mean --batch-size?"},
        {CMD_TRAIN, "--batch_size 8", "did you mean --batch-size?"},
        {CMD_TRAIN, "--validation_split 0.1", "did you mean --valid-split?"},
        {CMD_CV, "--solver adam", "did you mean --optimizer?"},
        {CMD_CONVERT, "--random-state 3", "did you mean --seed?"},
        {CMD_TRAIN, "--xyz 1", "unknown option --xyz (see --help)"}, /* not a slip of --lr */
    };
    check_errors(cases, sizeof cases / sizeof cases[0]);
    /* a config file's key gets the same answer */
    dt_config c;
    dt_error err;
    config_defaults(&c);
    ck_assert_int_eq(config_set(&c, CMD_TRAIN, "learning_rate", "0.1", &err), DT_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'lr'?"));

    /* known_as names are spelt with '-' and are no command's option */
    size_t n;
    const dt_option *o = config_options(&n);
    for (size_t i = 0; i < n; i++) {
        if (!o[i].known_as)
            continue;
        ck_assert_msg(!strchr(o[i].known_as, '_'), "--%s: known_as uses '_'", o[i].name);
        char list[512], *save = NULL;
        snprintf(list, sizeof list, "%s", o[i].known_as);
        for (char *w = strtok_r(list, "|", &save); w; w = strtok_r(NULL, "|", &save))
            ck_assert_msg(!config_option(w), "--%s: known_as '%s' is an option", o[i].name, w);
    }
}
END_TEST

/* --seed has a row per command (what it draws differs); either one marks the
 * field given. */
START_TEST(test_seed_per_command)
{
    dt_config c;
    dt_error err;
    ck_assert_int_eq(parse(&c, CMD_CONVERT, "--csv a.csv --seed 5", &err), DT_OK);
    ck_assert_int_eq(c.train.seed, 5);
    ck_assert(CONFIG_GIVEN(&c, train.seed));
    ck_assert_int_eq(parse(&c, CMD_TRAIN, "--seed 6", &err), DT_OK);
    ck_assert(CONFIG_GIVEN(&c, train.seed));
    ck_assert_int_eq(parse(&c, CMD_CONVERT, "--csv a.csv", &err), DT_OK);
    ck_assert(!CONFIG_GIVEN(&c, train.seed));
    char *convert = entry_of(CMD_CONVERT, "seed"), *train = entry_of(CMD_TRAIN, "seed");
    ck_assert_ptr_nonnull(strstr(convert, "/train and /test"));
    ck_assert_ptr_null(strstr(convert, "weights")); /* training words stay in train's */
    ck_assert_ptr_nonnull(strstr(train, "weights"));
    free(convert);
    free(train);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_defaults_and_values);
    tcase_add_test(tc, test_dependent_default_round_trip);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_renamed_option);
    tcase_add_test(tc, test_help_lists_every_option);
    tcase_add_test(tc, test_run_defaults);
    tcase_add_test(tc, test_typed_values);
    tcase_add_test(tc, test_value_round_trip);
    tcase_add_test(tc, test_list_option);
    tcase_add_test(tc, test_option_facts);
    tcase_add_test(tc, test_choices_name_their_values);
    tcase_add_test(tc, test_other_tools_names);
    tcase_add_test(tc, test_seed_per_command);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
