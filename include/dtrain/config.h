/* dtrain: every command-line option, declared once.
 *
 * The table in src/config.c (name, type, default, range, help, commands, and
 * the facts other modules ask about: may change on resume, refused or fixed by
 * cv, CSV only) is the single source from which parsing, validation, --help,
 * the configuration saved with a model and those modules' checks are all
 * derived.  Adding an option means adding one field to its command's struct
 * in dt_config and one row to the table. */
#ifndef DTRAIN_CONFIG_H
#define DTRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "dtrain/convert.h"
#include "dtrain/dataset.h"
#include "dtrain/fsutil.h"
#include "dtrain/loss.h"
#include "dtrain/matmul.h"
#include "dtrain/metrics.h"
#include "dtrain/model.h"
#include "dtrain/optim.h"
#include "dtrain/schedule.h"
#include "dtrain/secondorder.h"
#include "dtrain/status.h"

typedef char dt_str[DT_PATH_MAX];
/* The longest option text accepted (longer is refused when parsed).  The
 * margin is room for every name dtrain appends to a path it was given
 * ("/step-<19 digits>.h5.tmp.<pid>" is 40), so a path derived from an option
 * always fits a buffer of DT_PATH_MAX + 64 and is never cut short. */
#define DT_VALUE_MAX (DT_PATH_MAX - 64)

/* Subcommands an option belongs to (bit mask). */
enum {
    CMD_TRAIN = 1u << 0,
    CMD_CONVERT = 1u << 1,
    CMD_EVAL = 1u << 2,
    CMD_PREDICT = 1u << 3,
    CMD_INSPECT = 1u << 4,
    CMD_CV = 1u << 5, /* also accepts every CMD_TRAIN option (the trials' settings) */
    CMD_BENCH = 1u << 6
};

typedef enum {
    OPT_STR,     /* free text (paths, layer lists) */
    OPT_STR2,    /* two texts, e.g. --idx IMAGES LABELS (two consecutive dt_str) */
    OPT_INT,     /* int64 within [min, max] */
    OPT_REAL,    /* double within [min, max]; a row without a default stores NAN: "not
                    given, the method's own default" (--lr), written as the empty text */
    OPT_CHOICE,  /* one of the row's names, stored as its index (an int or an enum of
                    the module that owns the names); -1 when the row has no default */
    OPT_CHOICES, /* comma-separated names of the row's list, stored as dt_choices */
    OPT_FLAG,    /* present or not, stored as int 0/1 */
    OPT_OPTPATH, /* a flag with an optional path, stored as dt_optpath: "--x" alone
                    is on with path "" (spelt `choices` in text, e.g. "latest") */
    OPT_EVERY,   /* "--x" alone: every epoch (-1); "--x N": every N steps; 0 = off */
    OPT_LAYERS,  /* a layer list "W:ACT[:P],..." (model_parse_layers), stored as
                    dt_layers; a layer without :P has dropout -1 (the --dropout rate) */
    OPT_LIST     /* repeatable text: each occurrence appended, '\n' between values */
} dt_opt_type;

/* The value of an OPT_CHOICES option: n indices into the row's names. */
#define DT_MAX_CHOICES 8
typedef struct {
    int n;
    int v[DT_MAX_CHOICES];
} dt_choices;

/* The value of an OPT_OPTPATH option. */
typedef struct {
    int on;
    dt_str path; /* "" with on: the default place (--resume: the newest checkpoint) */
} dt_optpath;

/* The choices that no module owns: their names are the rows' lists in
 * src/config.c, in the order of these enums. */
typedef enum { MONITOR_VAL_LOSS, MONITOR_VAL_ACCURACY, MONITOR_VAL_RMSE } dt_monitor;
typedef enum { SWITCH_ON, SWITCH_OFF } dt_switch;
typedef enum { REDUCE_NODE, REDUCE_MPI } dt_reduce;
typedef enum { ON_NAN_STOP, ON_NAN_SKIP } dt_on_nan;
/* convert --label-type, in convert_label_type's order */
typedef enum { LABEL_CLASS, LABEL_FLOAT, LABEL_AUTO } dt_label_type;
typedef enum { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_LINES, PROGRESS_OFF } dt_progress_mode;
typedef enum { XTYPE_FLOAT32, XTYPE_FLOAT64, XTYPE_UINT8, XTYPE_INT32 } dt_x_type;
/* --optimizer: the first-order kinds (dt_optim_kind) then the second-order
 * ones (dt_so_kind), in the order of optim_names and so_names. */
typedef int dt_optimizer;
#define OPTIMIZER_SECOND_ORDER OPTIM_N_KINDS /* the first second-order value */
const char *config_monitor_name(dt_monitor m);
const char *config_optimizer_name(dt_optimizer o);

/* The configuration is one struct per command, gathered in dt_config (the
 * parse target of every command): each row of the table points into the
 * struct of the command it belongs to (offsetof(dt_config, train.lr)).  An
 * option several commands take has one field, in the struct of the first
 * command of its row (--data, --threads, --batch-size, --layers and --seed are
 * train's; eval, predict, bench and convert read them there), so that a
 * field has one name wherever it is read. */

/* train: every option of a training run, what the session reads (and cv's
 * trials, which are training runs). */
typedef struct {
    dt_str data, train_group, test_group, valid_group;
    dt_layers layers;
    dt_head output;
    dt_init init;
    dt_norm_kind normalize;
    dt_switch normalize_targets;
    dt_optimizer optimizer;
    double lr, momentum, dampening, beta1, beta2, eps, weight_decay;
    double rmsprop_alpha, lr_decay, initial_accumulator;
    int centered;
    int64_t lbfgs_history;
    /* schedules */
    dt_sched_kind schedule;
    double lr_min, gamma, plateau_factor;
    int64_t decay_steps, step_epochs, warmup_steps, plateau_patience;
    /* gradients and regularisation */
    double clip_norm, clip_value, l2, l1, dropout, valid_split;
    int64_t log_grad_norms; /* OPT_EVERY: 0 off, -1 per epoch, N every N steps */
    dt_monitor monitor;
    dt_choices metrics; /* dt_metric values: the epoch lines' figures */
    int64_t early_stopping;
    int64_t batch_size, epochs, seed, threads; /* seed: convert's too (its own row) */
    dt_switch shuffle;
    int drop_last;
    int reproducible;     /* --reproducible */
    int64_t micro_batch;  /* --micro-batch: rows per micro-batch of --reproducible */
    dt_str save, init_from;
    int profile;
    dt_str log;                      /* --log FILE: the metrics log */
    dt_placement data_placement;
    dt_reduce reduction;
    dt_precision precision;
    dt_denormals denormals; /* --denormals: the floating-point environment (matmul.h) */
    /* faults */
    dt_on_nan on_nan;
    int64_t max_skips, check_replicas;
    double step_timeout;
    /* checkpoints */
    dt_str checkpoint_dir;
    dt_optpath resume;
    int64_t checkpoint_every, keep, stop_at_step;
    int checkpoint_every_epoch;
    double checkpoint_every_seconds;
} dt_train_config;

/* train's display on the command line (the library has none): options of the
 * train rows that the run itself never reads. */
typedef struct {
    dt_progress_mode progress;
    double progress_every; /* seconds between --progress lines */
} dt_display_config;

/* eval and predict (besides train's data and threads). */
typedef struct {
    dt_str model, group;
    int json; /* eval --json */
} dt_eval_config;

/* inspect */
typedef struct {
    dt_str file;
    int print_config; /* inspect --config: the file's configuration as YAML */
} dt_inspect_config;

/* convert (besides train's seed, the row of its own) */
typedef struct {
    dt_str idx[2], idx_test[2], csv; /* idx: IMAGES then LABELS, adjacent (OPT_STR2) */
    dt_label_type label_type;
    dt_x_type x_dtype;
    dt_str label_column, delimiter;
    int no_labels;
    convert_missing missing;
    int header;
    double test_fraction;
} dt_convert_config;

/* cv (its trials' settings are train's) */
typedef struct {
    int64_t folds, ranks_per_trial;
    dt_str grid; /* OPT_LIST: one "KEY=V1|V2|..." per line */
    int metric;  /* dt_metric, -1 = the head's default */
    dt_str refit;
} dt_cv_config;

/* bench (besides train's layers, batch-size and threads) */
typedef struct {
    int64_t inputs, outputs, samples;
    double latency_us;
} dt_bench_config;

typedef struct {
    dt_train_config train;
    dt_display_config display;
    dt_eval_config eval;
    dt_inspect_config inspect;
    dt_convert_config convert;
    dt_cv_config cv;
    dt_bench_config bench;
    /* shared by several commands none of which is train alone */
    dt_str config_file; /* --config FILE.yaml (train, cv, eval, predict) */
    dt_str out;         /* --out: convert's .h5, predict's .h5/.csv, cv's table */
    unsigned char given[160]; /* given[i] != 0 if option i was on the command line */
} dt_config;

/* Facts about an option (bit mask, the `facts` column of the table). */
enum {
    OPTF_MAY_CHANGE = 1u << 0,   /* a resumed run may differ from its checkpoint here (told,
                                    not refused); every other train option must match */
    OPTF_RESUME_QUIET = 1u << 1, /* differs on every resume: a change is not even told */
    OPTF_CV_FIXED = 1u << 2,     /* the same for a whole cv search, so --grid may not vary
                                    it: the data are loaded and split once and the metric
                                    depends on the head */
    OPTF_CSV_ONLY = 1u << 3,     /* convert: means something for --csv input only */
    OPTF_ABOVE_MIN = 1u << 4,    /* the range excludes min: a value must be > min (a rate
                                    or factor that must be positive) */
    OPTF_PATH = 1u << 5,         /* a file or directory name: relative in a config file,
                                    it is read against the file's directory; saved with a
                                    model, it is made absolute */
    OPTF_OUTPUT = 1u << 6,       /* what the run writes (or, resume, the run it continues):
                                    inspect --config writes it commented out, so that
                                    running a printed configuration again cannot replace
                                    the original's files */
    OPTF_MODEL = 1u << 7         /* how the saved model computes its predictions: kept in
                                    /config when a loaded model is saved again */
};

typedef struct {
    const char *name;    /* long name without the leading "--" */
    dt_opt_type type;
    size_t offset;       /* offsetof(dt_config, cmd.field) */
    const char *def;     /* default, as it would be typed; NULL = empty */
    double min, max;     /* inclusive range for OPT_INT and OPT_REAL (min excluded with
                            OPTF_ABOVE_MIN) */
    const char *choices; /* OPT_OPTPATH: how "on, no path" is written as text */
    unsigned cmds;       /* CMD_* mask */
    const char *metavar; /* shown in --help */
    const char *help;
    unsigned facts;          /* OPTF_* mask; 0 in most rows */
    const char *cv_rejected; /* why cv refuses the option (what to do instead); NULL if
                                cv accepts it */
    const char *const *names[2]; /* OPT_CHOICE(S): the names, NULL-terminated lists owned
                                    by the module whose enum they spell; a second list
                                    continues the first (--optimizer) */
    const char *known_as; /* what users of other tools type for this option
                             ("learning-rate|eta"), '|'-separated: answered with
                             "did you mean --lr?", never accepted (one name per
                             option in command lines, config files and --grid) */
    const char *was_named; /* the option's former name: still read (config files,
                              checkpoints and models written with it, command
                              lines), never written nor shown by --help */
} dt_option;

/* The table (config_table.c); *n receives its length.  Pointer into static
 * storage. */
const dt_option *config_options(size_t *n);

/* The row of the option named `name` (any command: the first row of that
 * name), NULL if there is none.  Names are unique within a command; only
 * `config` has two rows (inspect's flag, the others' FILE.yaml), which
 * config_find(name, cmd) tells apart.  Pointer into static storage. */
const dt_option *config_option(const char *name);

/* "a|b|c": the names of an OPT_CHOICE(S) row, as --help shows them ("" for
 * any other row). */
void config_choice_list(const dt_option *o, char *buf, size_t len);

/* v, a value of option o as a file may hold it, in today's spelling: a
 * renamed value (--monitor val_loss, --shared-data off) becomes its new name
 * (valid_loss, rank); any other is v itself.  Pointer to static storage or v. */
const char *config_current_spelling(const dt_option *o, const char *v);

/* Fill every field with its default. */
void config_defaults(dt_config *cfg);

/* Parse argv[0..argc) (options only, no subcommand) for command cmd.  Unknown
 * options get a "did you mean" suggestion (a known_as name, a name with a
 * prefix or suffix such as --num-epochs, or a near spelling); values are
 * range-checked.  Sets
 * *want_help if --help/-h was seen.  Its messages name options as the
 * command line's flags ("--lr: ..."), whatever the thread's dt_opt choice;
 * a bad value's failure carries its option's key (err->option). */
dt_status config_parse(dt_config *cfg, unsigned cmd, int argc, char **argv,
                       int *want_help, dt_error *err);

/* Print the options of cmd with their defaults and help text. */
void config_print_help(FILE *out, unsigned cmd);

/* The option called `name` that command cmd takes, or NULL. */
const dt_option *config_find(const char *name, unsigned cmd);
/* Set option `name` of cmd from the text `value` as --name=value would (a
 * flag takes "1" or "0"; a repeatable option appends) and mark it given.
 * DT_EUSAGE naming the option for an unknown name (with a suggestion, as the
 * key: "unknown option 'lrr' (did you mean 'lr'?)") or a bad value (as
 * dt_opt renders it, the key in err->option). */
dt_status config_set(dt_config *cfg, unsigned cmd, const char *name, const char *value,
                     dt_error *err);

/* The value of option o in cfg as text (what --name would be given). */
void config_value_str(const dt_config *cfg, const dt_option *o, char *buf, size_t len);

/* 1 if the option stored in `field` of dt_config (train.lr, eval.model,
 * config_file) was given (on the command line, in a --config file, or by
 * config_set); a misspelt field does not compile. */
#define CONFIG_GIVEN(cfg, field) config_given_at((cfg), offsetof(dt_config, field))
int config_given_at(const dt_config *cfg, size_t offset);

/* One option's typed value outside a dt_config (a grid point of cv): the
 * member of its type (any option but OPT_STR2). */
typedef union {
    int64_t i;       /* OPT_INT, OPT_EVERY */
    double d;        /* OPT_REAL */
    int n;           /* OPT_CHOICE, OPT_FLAG */
    dt_choices list; /* OPT_CHOICES */
    dt_optpath path; /* OPT_OPTPATH */
    dt_layers layers; /* OPT_LAYERS */
    dt_str text;     /* OPT_STR, OPT_LIST */
} dt_value;
/* Read option o's value from c, and store one into c (marking it given). */
void config_get_value(const dt_config *c, const dt_option *o, dt_value *v);
void config_put_value(dt_config *c, const dt_option *o, const dt_value *v);
/* 1 if cfg a and b hold the same value of option o. */
int config_same(const dt_config *a, const dt_config *b, const dt_option *o);

#endif
