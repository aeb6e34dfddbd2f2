/* dtrain: the option table and everything derived from it. */
#include "dtrain/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F(field) offsetof(dt_config, field)
#define RUNS (CMD_TRAIN | CMD_EVAL | CMD_PREDICT)
#define INF HUGE_VAL

/* Why cv refuses an option (the cv_rejected column), shared by several rows. */
#define CV_NOT_CHECKPOINTED "trials are not checkpointed"
#define CV_FOLDS_VALIDATE "each fold is the validation set of its trials"
/* --seed's other names (known_as), of its train and its convert row. */
#define SEED_KNOWN_AS "random-state|random-seed|manual-seed|rng-seed"

/* Rows name the facts they have (.facts, .cv_rejected) and leave them out when
 * they have none, so the two last columns are zero in most rows: GCC's
 * -Wmissing-field-initializers would otherwise ask for them in every row. */
/* The names of the choices no module owns, in the order of their enums in
 * config.h. */
static const char *const monitor_names[] = {[MONITOR_VAL_LOSS] = "valid_loss",
                                            [MONITOR_VAL_ACCURACY] = "valid_accuracy",
                                            [MONITOR_VAL_RMSE] = "valid_rmse", NULL};

/* Values renamed after files were written with them: the old spelling is
 * still read (a checkpoint's or a model's /config, a config file, a command
 * line), the new one written.  --monitor's values are the names of the
 * figures they watch (history.h); --shared-data on|off became
 * --data-placement node|rank; --label-type int became class. */
static const struct {
    const char *option, *old, *now;
} renamed_values[] = {{"monitor", "val_loss", "valid_loss"},
                      {"monitor", "val_accuracy", "valid_accuracy"},
                      {"monitor", "val_rmse", "valid_rmse"},
                      {"data-placement", "on", "node"},
                      {"data-placement", "off", "rank"},
                      {"label-type", "int", "class"}};

static const char *current_spelling(const char *option, const char *v)
{
    for (size_t i = 0; i < sizeof renamed_values / sizeof *renamed_values; i++)
        if (!strcmp(renamed_values[i].option, option) && !strcmp(renamed_values[i].old, v))
            return renamed_values[i].now;
    return v;
}

const char *config_current_spelling(const dt_option *o, const char *v)
{
    return current_spelling(o->name, v);
}
static const char *const switch_names[] = {[SWITCH_ON] = "on", [SWITCH_OFF] = "off", NULL};
static const char *const reduce_names[] = {[REDUCE_NODE] = "node", [REDUCE_MPI] = "mpi", NULL};
static const char *const on_nan_names[] = {[ON_NAN_STOP] = "stop", [ON_NAN_SKIP] = "skip", NULL};
static const char *const label_type_names[] = {[LABEL_CLASS] = "class", [LABEL_FLOAT] = "float",
                                               [LABEL_AUTO] = "auto", NULL};
static const char *const progress_names[] = {[PROGRESS_AUTO] = "auto", [PROGRESS_BAR] = "bar",
                                             [PROGRESS_LINES] = "lines", [PROGRESS_OFF] = "off",
                                             NULL};
static const char *const x_type_names[] = {[XTYPE_FLOAT32] = "float32",
                                           [XTYPE_FLOAT64] = "float64",
                                           [XTYPE_UINT8] = "uint8", [XTYPE_INT32] = "int32", NULL};

const char *config_monitor_name(dt_monitor m) { return monitor_names[m]; }

const char *config_optimizer_name(dt_optimizer o)
{
    return o < OPTIMIZER_SECOND_ORDER ? optim_names[o] : so_names[o - OPTIMIZER_SECOND_ORDER];
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static const dt_option options[] = {
    /* --- data --- */
    {"data", OPT_STR, F(train.data), NULL, 0, 0, NULL, RUNS, "FILE.h5",
     "data file (layout: datasets/README.md)",
     .facts = OPTF_PATH | OPTF_MAY_CHANGE | OPTF_CV_FIXED,
     .known_as = "dataset|input|train-data|train-file|data-file"},
    {"train-group", OPT_STR, F(train.train_group), "/train", 0, 0, NULL, CMD_TRAIN, "GROUP",
     "group holding the training X and y",
     .facts = OPTF_CV_FIXED},
    {"valid-group", OPT_STR, F(train.valid_group), "/valid", 0, 0, NULL, CMD_TRAIN, "GROUP",
     "validation group, used for the epoch lines if present",
     .cv_rejected = CV_FOLDS_VALIDATE},
    {"test-group", OPT_STR, F(train.test_group), "/test", 0, 0, NULL, CMD_TRAIN, "GROUP",
     "test group, used for the epoch lines when there is no validation group",
     .cv_rejected = CV_FOLDS_VALIDATE},
    {"normalize", OPT_CHOICE, F(train.normalize), "zscore", 0, 0, NULL, CMD_TRAIN,
     "KIND", "input scaling, statistics from the training split (saved with the model)",
     .names = {norm_names}},
    {"normalize-targets", OPT_CHOICE, F(train.normalize_targets), "on", 0, 0, NULL, CMD_TRAIN,
     "on|off",
     "--output linear: on: train on targets standardised with the training split's mean "
     "and std per output (saved with the model); predictions, metrics and losses are "
     "reported in the targets' units (the MSE of output k is its standardised squared "
     "error times std_k^2; an --l1/--l2 penalty, on the weights, is added unchanged); "
     "off: the targets as they are",
     .names = {switch_names}},
    /* --- model --- */
    {"layers", OPT_LAYERS, F(train.layers), "100:relu", 0, 0, NULL, CMD_TRAIN | CMD_BENCH, "W:ACT,...",
     "hidden layers, e.g. 256:relu,128:tanh; activations identity, step, sigmoid, tanh, "
     "relu, leaky_relu[=SLOPE] (default slope 0.01); none (or empty) = no hidden layer, the "
     "inputs feed the output layer directly (linear or logistic regression).  The default, "
     "one ReLU layer of 100 as scikit-learn's MLP, fits every bundled set within the "
     "default --epochs",
     .known_as = "hidden-layers|hidden|hidden-sizes|hidden-layer-sizes|hidden-units|units|"
                 "architecture"},
    {"output", OPT_CHOICE, F(train.output), NULL, 0, 0, NULL, CMD_TRAIN,
     "HEAD",
     "softmax + cross-entropy (classes), sigmoid + binary cross-entropy (labels 0/1), "
     "linear + mean squared error (regression); one that contradicts the training y is "
     "refused: a class head on values that are not whole numbers >= 0, linear on class "
     "labels (an integer y, or a file with /classes) [default: from the training y: "
     "softmax for class labels, linear for float targets]",
     .facts = OPTF_CV_FIXED,
     .names = {head_names},
     .known_as = "loss|head|output-activation|task"},
    {"init", OPT_CHOICE, F(train.init), "uniform", 0, 0, NULL, CMD_TRAIN, "KIND",
     "weights: uniform = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b; xavier = "
     "U(+-sqrt(6/(fan_in+fan_out))); he = N(0, 2/fan_in); biases 0 for xavier and he",
     .names = {init_names},
     .known_as = "initializer|kernel-initializer|weight-init|init-method"},
    {"init-from", OPT_STR, F(train.init_from), NULL, 0, 0, NULL, CMD_TRAIN, "FILE.h5",
     "start from the weights in a saved model (/model/layer{i}/weight|bias)",
     .facts = OPTF_PATH | OPTF_MAY_CHANGE},
    /* --- optimisation --- */
    {"optimizer", OPT_CHOICE, F(train.optimizer), "adam", 0, 0, NULL, CMD_TRAIN, "NAME",
     "first order (per mini-batch, update rules and defaults of PyTorch's torch.optim): sgd, "
     "momentum (sgd, momentum 0.9), nesterov, adagrad, rmsprop, adam, adamw; second order "
     "(full batch over all ranks, one iteration per epoch): lbfgs (strong-Wolfe line search), "
     "bfgs (dense inverse Hessian, at most 10000 parameters), newton (finite-difference "
     "Hessian, Levenberg damping, at most 2000 parameters)",
     .names = {optim_names, so_names},
     .known_as = "optim|solver|opt"},
    {"lr", OPT_REAL, F(train.lr), NULL, 0, 1e6, NULL, CMD_TRAIN, "ALPHA",
     "learning rate (first-order optimizers; the schedule's base rate) [default: auto: 0.001 "
     "for adam and adamw, 0.01 for the others]",
     .facts = OPTF_MAY_CHANGE | OPTF_ABOVE_MIN,
     .known_as = "learning-rate|eta|step-size|base-lr"},
    {"momentum", OPT_REAL, F(train.momentum), "0", 0, 1, NULL, CMD_TRAIN, "GAMMA",
     "sgd/rmsprop momentum [default: 0; 0.9 for momentum and nesterov]: V <- GAMMA V + G; "
     "W <- W - ALPHA V.  The notes' form V' <- gamma V' + alpha G; W <- W - V' is the same "
     "trajectory (V' = ALPHA V) while the rate is constant"},
    {"dampening", OPT_REAL, F(train.dampening), "0", 0, 1, NULL, CMD_TRAIN, "D",
     "sgd momentum dampening: V <- GAMMA V + (1 - D) G"},
    {"beta1", OPT_REAL, F(train.beta1), "0.9", 0, 0.999999, NULL, CMD_TRAIN, "B1",
     "adam/adamw first-moment decay (rho1 in the notes)"},
    {"beta2", OPT_REAL, F(train.beta2), "0.999", 0, 0.99999999, NULL, CMD_TRAIN, "B2",
     "adam/adamw second-moment decay (rho2 in the notes)"},
    {"eps", OPT_REAL, F(train.eps), "1e-8", 0, 1, NULL, CMD_TRAIN, "EPS",
     "term added to the denominator of adam, adamw, rmsprop [1e-8] and adagrad [1e-10]",
     .known_as = "epsilon"},
    {"weight-decay", OPT_REAL, F(train.weight_decay), "0", 0, 10, NULL, CMD_TRAIN, "LAMBDA",
     "torch.optim weight_decay: adds LAMBDA W to the gradient; adamw: decoupled "
     "W <- W (1 - lr LAMBDA) [default: 0; 0.01 for adamw]",
     .known_as = "wd"},
    {"rmsprop-alpha", OPT_REAL, F(train.rmsprop_alpha), "0.99", 0, 0.999999, NULL, CMD_TRAIN, "A",
     "rmsprop smoothing constant of the mean square"},
    {"centered", OPT_FLAG, F(train.centered), "0", 0, 0, NULL, CMD_TRAIN, NULL,
     "rmsprop: divide by the estimated standard deviation of the gradient"},
    {"lr-decay", OPT_REAL, F(train.lr_decay), "0", 0, 1e6, NULL, CMD_TRAIN, "D",
     "adagrad: rate lr / (1 + (t - 1) D)"},
    {"initial-accumulator", OPT_REAL, F(train.initial_accumulator), "0", 0, 1e6, NULL, CMD_TRAIN, "R0",
     "adagrad: starting value of the sum of squared gradients"},
    {"lbfgs-history", OPT_INT, F(train.lbfgs_history), "10", 1, 1000, NULL, CMD_TRAIN, "M",
     "lbfgs: number of correction pairs kept"},
    /* --- schedules --- */
    {"schedule", OPT_CHOICE, F(train.schedule), "constant", 0, 0, NULL, CMD_TRAIN, "KIND",
     "learning rate schedule: constant; linear (the notes' alpha_k = (1 - k/tau) alpha_0 + "
     "(k/tau) alpha_tau up to step tau = --decay-steps, then alpha_tau = --lr-min); step "
     "(times --gamma every --step-epochs epochs); exponential (times --gamma each epoch); "
     "cosine (to --lr-min over --decay-steps); plateau (times --plateau-factor when --monitor "
     "has not improved for --plateau-patience epochs)",
     .names = {sched_names},
     .known_as = "lr-schedule|scheduler|lr-scheduler|lr-policy"},
    {"lr-min", OPT_REAL, F(train.lr_min), "0", 0, 1e6, NULL, CMD_TRAIN, "ALPHA",
     "final rate of linear and cosine, floor of plateau"},
    {"decay-steps", OPT_INT, F(train.decay_steps), "0", 0, 1e15, NULL, CMD_TRAIN, "TAU",
     "steps over which linear and cosine decay (0 = the whole run)"},
    {"step-epochs", OPT_INT, F(train.step_epochs), "30", 1, 1e9, NULL, CMD_TRAIN, "N",
     "step schedule: epochs between two cuts"},
    {"gamma", OPT_REAL, F(train.gamma), "0.1", 0, 1, NULL, CMD_TRAIN, "G",
     "step and exponential schedules: factor per cut or per epoch", .facts = OPTF_ABOVE_MIN},
    {"warmup-steps", OPT_INT, F(train.warmup_steps), "0", 0, 1e15, NULL, CMD_TRAIN, "W",
     "rise linearly from 0 to the schedule's rate over the first W steps",
     .known_as = "warmup|warm-up"},
    {"plateau-factor", OPT_REAL, F(train.plateau_factor), "0.1", 0, 0.999999, NULL, CMD_TRAIN,
     "F", "plateau schedule: factor of each cut", .facts = OPTF_ABOVE_MIN},
    {"plateau-patience", OPT_INT, F(train.plateau_patience), "10", 0, 1e9, NULL, CMD_TRAIN, "N",
     "plateau schedule: epochs without improvement tolerated before a cut"},
    /* --- vanishing and exploding gradients --- */
    {"clip-norm", OPT_REAL, F(train.clip_norm), "0", 0, 1e30, NULL, CMD_TRAIN, "C",
     "scale the averaged gradient so its global L2 norm over all parameters is at most C "
     "(0 = off)",
     .known_as = "clipnorm|max-grad-norm|clip-grad-norm|grad-clip|gradient-clip-val"},
    {"clip-value", OPT_REAL, F(train.clip_value), "0", 0, 1e30, NULL, CMD_TRAIN, "V",
     "clamp each averaged gradient component to [-V, V] (0 = off)",
     .known_as = "clipvalue|clip-grad-value"},
    {"log-grad-norms", OPT_EVERY, F(train.log_grad_norms), NULL, 0, 0, "epoch", CMD_TRAIN, "[N]",
     "print the L2 norm of each layer's gradient (weights and biases), averaged over the "
     "epoch, or every N steps",
     .facts = OPTF_MAY_CHANGE},
    /* --- regularisation --- */
    {"l2", OPT_REAL, F(train.l2), "0", 0, 1e6, NULL, CMD_TRAIN, "LAMBDA",
     "adds LAMBDA/2 ||W||^2 of every weight matrix (not biases) to the loss and LAMBDA W to "
     "its gradient"},
    {"l1", OPT_REAL, F(train.l1), "0", 0, 1e6, NULL, CMD_TRAIN, "LAMBDA",
     "adds LAMBDA ||W||_1 of every weight matrix (not biases) to the loss and LAMBDA sign(W) "
     "(a subgradient, 0 at 0) to its gradient"},
    {"dropout", OPT_REAL, F(train.dropout), "0", 0, 0.999, NULL, CMD_TRAIN, "P",
     "inverted dropout with rate P after every hidden layer (override per layer as "
     "WIDTH:ACT:P in --layers); off at evaluation and prediction; masks depend on (seed, step, "
     "sample index) only, not on the rank count",
     .known_as = "dropout-rate|drop-rate"},
    {"early-stopping", OPT_INT, F(train.early_stopping), "0", 0, 1e9, NULL, CMD_TRAIN, "PATIENCE",
     "stop when --monitor has not improved for PATIENCE epochs and keep the best epoch's "
     "weights (0 = off)",
     .known_as = "patience|early-stop"},
    {"monitor", OPT_CHOICE, F(train.monitor), "valid_loss", 0, 0, NULL, CMD_TRAIN, "METRIC",
     "the validation set's figure watched by --early-stopping and the plateau schedule, "
     "named as on the epoch lines (val_loss, val_accuracy and val_rmse are read as these)",
     .names = {monitor_names}},
    {"metrics", OPT_CHOICES, F(train.metrics), NULL, 0, 0, NULL, CMD_TRAIN, "LIST",
     "metrics of the validation (or test) set shown on the epoch lines besides its loss, "
     "comma-separated from auc, accuracy, f1 (macro), log_loss, rmse, mae, r2; computed "
     "exactly over all ranks [default: accuracy, or rmse for --output linear]",
     .facts = OPTF_MAY_CHANGE, .names = {metric_names}},
    {"valid-split", OPT_REAL, F(train.valid_split), "0", 0, 0.9, NULL, CMD_TRAIN, "F",
     "when the file has no validation group, hold out this fraction of the training split "
     "(stratified for classification, drawn from --seed) as the validation set",
     .cv_rejected = CV_FOLDS_VALIDATE,
     .known_as = "validation-split|val-split|validation-fraction"},
    {"batch-size", OPT_INT, F(train.batch_size), "32", 1, 1e9, NULL, CMD_TRAIN | CMD_BENCH, "B",
     "global mini-batch size, split across ranks",
     .known_as = "batch|bs|mini-batch|minibatch|mini-batch-size|minibatch-size"},
    {"epochs", OPT_INT, F(train.epochs), "50", 1, 1e9, NULL, CMD_TRAIN, "N",
     "passes over the training set; a run that ends here while the figure --monitor "
     "watches (the training loss without a validation or test set) is still improving "
     "warns that it has not converged (README, Convergence)",
     .facts = OPTF_MAY_CHANGE,
     .known_as = "epoch|num-epochs|n-epochs|nb-epoch|max-epochs|iterations|max-iter|"
                 "n-iter"},
    {"shuffle", OPT_CHOICE, F(train.shuffle), "on", 0, 0, NULL, CMD_TRAIN, "on|off",
     "on: permutation of the training set drawn from (seed, epoch); off: file order",
     .names = {switch_names}},
    {"drop-last", OPT_FLAG, F(train.drop_last), "0", 0, 0, NULL, CMD_TRAIN, NULL,
     "skip the last batch of an epoch when it is smaller than --batch-size"},
    {"reproducible", OPT_FLAG, F(train.reproducible), "0", 0, 0, NULL, CMD_TRAIN, NULL,
     "the same bits at any rank count: every batch is cut into --micro-batch rows whatever "
     "the ranks, each rank computes whole micro-batches, their gradients are added in a "
     "fixed tree and every other sum in a fixed order, so the weights, the optimizer state "
     "and every printed figure are identical at 1 or many ranks, on any placement, "
     "--reduction or transport, and across a resume at another rank count (on the same CPU "
     "kind and libraries); one thread per rank, first-order optimizers",
     .known_as = "deterministic|bitwise"},
    {"micro-batch", OPT_INT, F(train.micro_batch), "32", 1, 1e9, NULL, CMD_TRAIN, "N",
     "--reproducible: rows per micro-batch (the last of a batch may be shorter; N over "
     "--batch-size makes the batch one micro-batch); ranks beyond "
     "the batch's micro-batch count wait; a different N gives different (equally valid) bits",
     .known_as = "microbatch|micro-batch-size"},
    {"threads", OPT_INT, F(train.threads), "1", 1, 1024, NULL, RUNS | CMD_BENCH, "N",
     "compute threads per rank, oneDNN's and LAPACK's (1 avoids ranks fighting for cores)",
     .facts = OPTF_MAY_CHANGE,
     .known_as = "num-threads|nthreads|n-jobs|jobs|workers"},
    {"save", OPT_STR, F(train.save), NULL, 0, 0, NULL, CMD_TRAIN, "FILE.h5",
     "write the trained model (weights, normalisation, configuration)",
     .facts = OPTF_PATH | OPTF_OUTPUT | OPTF_MAY_CHANGE,
     .cv_rejected = "use --refit FILE.h5 to save the best configuration",
     .known_as = "save-model|model-out|output-model|save-path"},
    {"data-placement", OPT_CHOICE, F(train.data_placement), "node", 0, 0, NULL, CMD_TRAIN,
     "node|rank|sharded",
     "where the training and evaluation data live: node: one copy per node, in memory "
     "shared by its ranks (MPI-3 shared window); rank: every rank its own copy (for a "
     "small /dev/shm); sharded: each rank reads only its own block of rows (parallel HDF5, "
     "MPI-IO) and fetches the rows of its batch slice from the ranks that hold them at each "
     "step, for data larger than one node's memory (about data / ranks per rank; the "
     "trained weights are the same bits as with node)",
     .facts = OPTF_MAY_CHANGE,
     .names = {placement_names},
     .was_named = "shared-data"},
    {"reduction", OPT_CHOICE, F(train.reduction), "node", 0, 0, NULL, CMD_TRAIN, "node|mpi",
     "how gradients are summed for the sharded update: node: the ranks of a node through "
     "node-shared memory, then across nodes with MPI (needs the same number of ranks, more "
     "than one, on every node, else mpi is used); mpi: MPI_Reduce_scatter and MPI_Allgatherv (for a "
     "small /dev/shm)",
     .facts = OPTF_MAY_CHANGE,
     .names = {reduce_names}},
    {"precision", OPT_CHOICE, F(train.precision), "fp32", 0, 0, NULL, CMD_TRAIN, "fp32|bf16",
     "arithmetic of the matrix products: fp32, or bf16 mixed precision (GEMM inputs rounded "
     "to bf16, fp32 accumulation; weights, optimizer, gradient reduction, loss and softmax "
     "stay fp32, and so do saved models and checkpoints).  bf16 needs AVX-512: native with "
     "AVX512_BF16, else emulated by oneDNN (slower, with a warning); may change on resume",
     .facts = OPTF_MAY_CHANGE,
     .names = {precision_names}},
    {"profile", OPT_FLAG, F(train.profile), "0", 0, 0, NULL, CMD_TRAIN, NULL,
     "print per epoch where rank 0's step time went (data, compute, comm: the gradient "
     "reduction and parameter gathering, update; the "
     "largest over ranks), and at the end the peak resident memory per rank and in all",
     .facts = OPTF_MAY_CHANGE},
    {"log", OPT_STR, F(train.log), NULL, 0, 0, NULL, CMD_TRAIN, "FILE",
     "metrics log: one record per epoch (epoch, step, samples, epoch_time, time, lr, "
     "train_loss, each set's loss and metrics, the --profile phases), JSON Lines, or CSV for "
     "a name ending in .csv; a resumed run rewrites it from the checkpoint's history and "
     "appends, so no epoch is written twice",
     .facts = OPTF_PATH | OPTF_OUTPUT | OPTF_MAY_CHANGE,
     .cv_rejected = "each trial would replace it; cv --out FILE.csv keeps the trials' figures"},
    {"progress", OPT_CHOICE, F(display.progress), "auto", 0, 0, NULL, CMD_TRAIN, "auto|bar|lines|off",
     "progress within an epoch, on rank 0: bar: one line updated in place (bar, samples/s, "
     "ETA, running loss) that the epoch's line replaces; lines: a plain line every "
     "--progress-every seconds; auto: bar on a terminal, lines otherwise",
     .facts = OPTF_MAY_CHANGE | OPTF_RESUME_QUIET, .names = {progress_names}},
    {"progress-every", OPT_REAL, F(display.progress_every), "10", 0, 1e6, NULL, CMD_TRAIN, "SECONDS",
     "seconds between progress lines of --progress lines (a bar redraws 10 times a second)",
     .facts = OPTF_MAY_CHANGE | OPTF_RESUME_QUIET},
    /* --- faults --- */
    {"on-nan", OPT_CHOICE, F(train.on_nan), "stop", 0, 0, NULL, CMD_TRAIN, "ACTION",
     "NaN or Inf in the averaged gradient: stop (naming the step and the last good "
     "checkpoint; nothing is written from the bad state) or skip that update",
     .facts = OPTF_MAY_CHANGE,
     .names = {on_nan_names}},
    {"max-skips", OPT_INT, F(train.max_skips), "10", 1, 1e9, NULL, CMD_TRAIN, "N",
     "with --on-nan skip: stop after N skipped updates",
     .facts = OPTF_MAY_CHANGE},
    {"check-replicas", OPT_INT, F(train.check_replicas), "0", 0, 1e15, NULL, CMD_TRAIN, "N",
     "every N steps and before every checkpoint, compare a checksum of the parameters "
     "across ranks and name any rank that differs (0 = only before checkpoints)",
     .facts = OPTF_MAY_CHANGE},
    {"step-timeout", OPT_REAL, F(train.step_timeout), "0", 0, 1e9, NULL, CMD_TRAIN, "SECONDS",
     "end the whole job (status 4) if one phase of a step (data, compute, reduction, "
     "update, checkpoint) or the work between steps (the epoch's evaluation and metrics) "
     "takes longer, or if set-up waits that long for a rank that has not joined or has "
     "not responded for that long (0 = off); the message names the rank(s) that did "
     "not arrive, their phase and step, and whether they still run (seen from the ranks "
     "of the same host)",
     .facts = OPTF_MAY_CHANGE},
    /* --- checkpoints --- */
    {"checkpoint-dir", OPT_STR, F(train.checkpoint_dir), NULL, 0, 0, NULL, CMD_TRAIN, "DIR",
     "write checkpoints DIR/step-NNNNNNNN.h5 (and DIR/latest.h5), always one at the end; "
     "SIGTERM/SIGINT/SIGUSR1/SIGUSR2 then write one and exit with status 75; one run per "
     "DIR (a second one exits 2: rank 0 locks DIR/dtrain.lock)",
     .facts = OPTF_PATH | OPTF_OUTPUT | OPTF_MAY_CHANGE, .cv_rejected = CV_NOT_CHECKPOINTED,
     .known_as = "checkpoint|checkpoints|ckpt-dir|save-dir"},
    {"checkpoint-every", OPT_INT, F(train.checkpoint_every), "0", 0, 1e15, NULL, CMD_TRAIN, "N",
     "also checkpoint every N global steps (0 = off)",
     .facts = OPTF_MAY_CHANGE, .cv_rejected = CV_NOT_CHECKPOINTED},
    {"checkpoint-every-epoch", OPT_FLAG, F(train.checkpoint_every_epoch), "0", 0, 0, NULL, CMD_TRAIN,
     NULL, "also checkpoint at the end of every epoch",
     .facts = OPTF_MAY_CHANGE, .cv_rejected = CV_NOT_CHECKPOINTED},
    {"checkpoint-every-seconds", OPT_REAL, F(train.checkpoint_every_seconds), "0", 0, 1e9, NULL,
     CMD_TRAIN, "S", "also checkpoint when S seconds have passed since the last one (0 = off)",
     .facts = OPTF_MAY_CHANGE, .cv_rejected = CV_NOT_CHECKPOINTED},
    {"keep", OPT_INT, F(train.keep), "0", 0, 1e9, NULL, CMD_TRAIN, "K",
     "keep only the newest K checkpoints, deleting older ones after a new one is complete "
     "(0 = keep all)",
     .facts = OPTF_MAY_CHANGE, .cv_rejected = CV_NOT_CHECKPOINTED},
    {"resume", OPT_OPTPATH, F(train.resume), NULL, 0, 0, "latest", CMD_TRAIN, "[FILE]",
     "continue from FILE, or without FILE from the newest good checkpoint in "
     "--checkpoint-dir (none yet: start fresh); --epochs is the total",
     .facts = OPTF_PATH | OPTF_OUTPUT | OPTF_MAY_CHANGE | OPTF_RESUME_QUIET, .cv_rejected = CV_NOT_CHECKPOINTED,
     .known_as = "resume-from|restore|continue"},
    {"stop-at-step", OPT_INT, F(train.stop_at_step), "0", 0, 1e15, NULL, CMD_TRAIN, "N",
     "act as if preempted when the global step count reaches N: checkpoint, exit 75 "
     "(0 = off; for time-boxed jobs and resume tests)",
     .facts = OPTF_MAY_CHANGE | OPTF_RESUME_QUIET, .cv_rejected = CV_NOT_CHECKPOINTED},
    /* --- eval, predict, inspect --- */
    {"model", OPT_STR, F(eval.model), NULL, 0, 0, NULL, CMD_EVAL | CMD_PREDICT, "FILE.h5",
     "a saved model or checkpoint",
     .facts = OPTF_PATH},
    {"group", OPT_STR, F(eval.group), "/test", 0, 0, NULL, CMD_EVAL | CMD_PREDICT, "GROUP",
     "group of --data to evaluate or predict (its y is optional for predict)"},
    {"json", OPT_FLAG, F(eval.json), "0", 0, 0, NULL, CMD_EVAL, NULL,
     "print one JSON object instead of a table"},
    {"file", OPT_STR, F(inspect.file), NULL, 0, 0, NULL, CMD_INSPECT, "FILE.h5",
     "checkpoint, model or data file to describe (may be given without --file)"},
    {"config", OPT_FLAG, F(inspect.print_config), "0", 0, 0, NULL, CMD_INSPECT, NULL,
     "print only the configuration of a model or checkpoint, as a YAML file that "
     "train --config reads"},
    {"config", OPT_STR, F(config_file), NULL, 0, 0, NULL,
     CMD_TRAIN | CMD_CV | CMD_EVAL | CMD_PREDICT, "FILE.yaml",
     "read options from a YAML file (keys are option names without '--'; flags true or "
     "false; a list for --grid); a relative file or directory name in it is read against "
     "the file's own directory, so it works from any directory; options on the command "
     "line override it",
     .facts = OPTF_MAY_CHANGE},
    /* --- shared --- */
    /* two rows, one field: what the seed draws differs by command */
    {"seed", OPT_INT, F(train.seed), "1", 0, 9.2e18, NULL, CMD_TRAIN, "S",
     "random seed (weights, data order, dropout masks, the --valid-split hold-out); same "
     "seed, same run at any rank count",
     .known_as = SEED_KNOWN_AS},
    {"seed", OPT_INT, F(train.seed), "1", 0, 9.2e18, NULL, CMD_CONVERT, "S",
     "random seed of the shuffle that splits the CSV's rows into /train and /test "
     "(--test-fraction); same seed, same split",
     .known_as = SEED_KNOWN_AS},
    /* --- convert --- */
    {"idx", OPT_STR2, F(convert.idx), NULL, 0, 0, NULL, CMD_CONVERT, "IMAGES LABELS",
     "IDX image and label files (plain or gzip) for /train"},
    {"idx-test", OPT_STR2, F(convert.idx_test), NULL, 0, 0, NULL, CMD_CONVERT, "IMAGES LABELS",
     "IDX files for /test"},
    {"csv", OPT_STR, F(convert.csv), NULL, 0, 0, NULL, CMD_CONVERT, "FILE",
     "CSV (comma, semicolon, tab or space separated, quoted fields allowed, plain or gzip) "
     "with one sample per row"},
    {"label-column", OPT_STR, F(convert.label_column), NULL, 0, 0, NULL, CMD_CONVERT, "NAME|INDEX",
     "CSV column holding the label or target: its name in the --header line, or its "
     "0-based index (default: the last column)",
     .facts = OPTF_CSV_ONLY},
    {"no-labels", OPT_FLAG, F(convert.no_labels), "0", 0, 0, NULL, CMD_CONVERT, NULL,
     "every CSV column is a feature (new samples to predict): all rows go to /test, the "
     "group predict reads",
     .facts = OPTF_CSV_ONLY},
    {"delimiter", OPT_STR, F(convert.delimiter), "auto", 0, 0, NULL, CMD_CONVERT, "D",
     "CSV field separator: ',' ';' 'tab' or 'space' (runs of blanks); auto: the most "
     "frequent of , ; and tab on the first line, else space",
     .facts = OPTF_CSV_ONLY},
    {"missing", OPT_CHOICE, F(convert.missing), "error", 0, 0, NULL, CMD_CONVERT, "HOW",
     "CSV features that are empty or NA, N/A, NaN, null, ?: error; mean (of the /train "
     "rows, stored in the file and in models trained on it, so predict fills new data "
     "alike); drop the row",
     .facts = OPTF_CSV_ONLY,
     .names = {convert_missing_names}},
    {"label-type", OPT_CHOICE, F(convert.label_type), "auto", 0, 0, NULL, CMD_CONVERT, "T",
     "class: class labels, stored int32 (softmax/sigmoid heads); float: regression targets, "
     "stored float32 (linear head); auto: texts are classes, non-integers float targets, "
     "integers float targets when they are many and each rare (over 100 distinct, or over "
     "10 with under 5 rows per value, unless 0..K-1 or 1..K with 20 or more rows each), "
     "else classes (with a warning when there are more than 2, not 0..K-1 or 1..K, with "
     "under 20 rows each); the decision is printed and stored as the file's label_type and "
     "label_rule attributes",
     .facts = OPTF_CSV_ONLY,
     .names = {label_type_names}},
    {"x-dtype", OPT_CHOICE, F(convert.x_dtype), "float32", 0, 0, NULL,
     CMD_CONVERT, "T", "element type of the CSV features in the output file",
     .facts = OPTF_CSV_ONLY,
     .names = {x_type_names}},
    {"header", OPT_FLAG, F(convert.header), "0", 0, 0, NULL, CMD_CONVERT, NULL,
     "the CSV's first line is a header, not data",
     .facts = OPTF_CSV_ONLY},
    {"test-fraction", OPT_REAL, F(convert.test_fraction), "0.2", 0, 0.99, NULL, CMD_CONVERT, "F",
     "fraction of CSV rows put in /test (random, from --seed)",
     .facts = OPTF_CSV_ONLY},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, CMD_CONVERT | CMD_PREDICT | CMD_CV, "FILE",
     "output file (convert: .h5; predict: .h5 or .csv, chosen by the extension; cv: the "
     "results table as .csv, which dtrain-plot --cv draws)",
     .facts = OPTF_PATH | OPTF_OUTPUT},
    /* --- cv --- */
    {"folds", OPT_INT, F(cv.folds), "5", 2, 1e6, NULL, CMD_CV, "K",
     "number of folds of the training split (stratified by class for classifiers, drawn "
     "from --seed); each sample is in exactly one validation fold"},
    {"grid", OPT_LIST, F(cv.grid), NULL, 0, 0, NULL, CMD_CV, "KEY=V1|V2|...",
     "repeatable: values of the train option KEY to try, separated by '|'; the search covers "
     "every combination (none = the command line's configuration only)"},
    {"metric", OPT_CHOICE, F(cv.metric), NULL, 0, 0, NULL, CMD_CV,
     "NAME",
     "validation metric that ranks the configurations; higher is better for auc, accuracy, "
     "f1 (macro), r2; lower for log_loss, rmse, mae [default: auc for sigmoid, accuracy for "
     "softmax, rmse for linear]",
     .names = {metric_names}},
    {"ranks-per-trial", OPT_INT, F(cv.ranks_per_trial), "1", 1, 1e6, NULL, CMD_CV, "R",
     "ranks that train one (configuration, fold) trial; the world is split into groups of R "
     "ranks that run trials side by side"},
    {"refit", OPT_STR, F(cv.refit), NULL, 0, 0, NULL, CMD_CV, "FILE.h5",
     "retrain the best configuration on the whole training split on all ranks and save it",
     .facts = OPTF_PATH | OPTF_OUTPUT},
    /* --- bench --- */
    {"inputs", OPT_INT, F(bench.inputs), "784", 1, 1e8, NULL, CMD_BENCH, "N",
     "features per sample (the first layer's n_in)"},
    {"outputs", OPT_INT, F(bench.outputs), "10", 1, 1e8, NULL, CMD_BENCH, "K",
     "outputs of the last layer (classes)"},
    {"samples", OPT_INT, F(bench.samples), "60000", 1, 1e15, NULL, CMD_BENCH, "N",
     "training samples per epoch (for the epoch floor and the projections)"},
    {"latency-us", OPT_REAL, F(bench.latency_us), "10", 0, 1e6, NULL, CMD_BENCH, "US",
     "network latency alpha (microseconds per message) assumed in the projections"},
};
#pragma GCC diagnostic pop

#define N_OPTIONS (sizeof options / sizeof options[0])
_Static_assert(N_OPTIONS <= sizeof(((dt_config *)0)->given), "dt_config.given too small");

const dt_option *config_options(size_t *n)
{
    *n = N_OPTIONS;
    return options;
}

/* The name of value i of an OPT_CHOICE(S) row, NULL if out of range. */
static const char *config_choice_name(const dt_option *o, int i)
{
    for (int l = 0; l < 2 && o->names[l] && i >= 0; l++) {
        int n = 0;
        while (o->names[l][n]) n++;
        if (i < n)
            return o->names[l][i];
        i -= n;
    }
    return NULL;
}

/* The index of name `v` among o's choices, -1 if none. */
static int choice_index(const dt_option *o, const char *v)
{
    for (int i = 0;; i++) {
        const char *name = config_choice_name(o, i);
        if (!name)
            return -1;
        if (!strcmp(name, v))
            return i;
    }
}

void config_choice_list(const dt_option *o, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; config_choice_name(o, i) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "|" : "",
                                 config_choice_name(o, i));
}

static dt_status bad_choice(const dt_option *o, const char *v, dt_error *err)
{
    char list[256];
    config_choice_list(o, list, sizeof list);
    return dt_fail(err, DT_EUSAGE, "--%s: '%s' is not one of %s", o->name, v, list);
}

static dt_status check_length(const dt_option *o, const char *v, dt_error *err)
{
    if (strlen(v) > DT_VALUE_MAX)
        return dt_fail(err, DT_EUSAGE,
                       "--%s: value of %zu characters; at most %d are accepted (for a "
                       "path, a shorter one: a symbolic link to the directory, or cd to "
                       "it)",
                       o->name, strlen(v), DT_VALUE_MAX);
    return DT_OK;
}

/* OPT_LIST: v appended to the values before it, '\n' between them. */
static dt_status append_line(const dt_option *o, char *base, const char *v, dt_error *err)
{
    size_t used = strlen(base);
    if (strchr(v, '\n'))
        return dt_fail(err, DT_EUSAGE, "--%s: value contains a line break", o->name);
    if (used + (used > 0) + strlen(v) >= DT_PATH_MAX)
        return dt_fail(err, DT_EUSAGE, "--%s: values longer than %d characters in all",
                       o->name, DT_PATH_MAX - 1);
    if (used)
        base[used++] = '\n';
    memcpy(base + used, v, strlen(v) + 1);
    return DT_OK;
}

/* OPT_CHOICES: "a,b,c" (the empty text: none). */
static dt_status set_choices(const dt_option *o, dt_choices *out, const char *v, dt_error *err)
{
    dt_choices c = {0};
    for (const char *p = v; *p;) {
        const char *comma = strchr(p, ',');
        char name[64];
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
        if (c.n == DT_MAX_CHOICES)
            return dt_fail(err, DT_EUSAGE, "--%s: at most %d names", o->name, DT_MAX_CHOICES);
        if (!name[0])
            return dt_fail(err, DT_EUSAGE, "--%s: empty name in '%s'", o->name, v);
        if ((c.v[c.n++] = choice_index(o, name)) < 0)
            return bad_choice(o, name, err);
        p += len + (comma ? 1 : 0);
    }
    *out = c;
    return DT_OK;
}

/* OPT_EVERY: "" off (0), `choices` ("epoch") -1, else a step count >= 1. */
static dt_status set_every(const dt_option *o, int64_t *out, const char *v, dt_error *err)
{
    if (!v[0] || !strcmp(v, o->choices)) {
        *out = v[0] ? -1 : 0;
        return DT_OK;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 1)
        return dt_fail(err, DT_EUSAGE, "--%s: '%s' should be a step count >= 1 "
                       "(or no value: once per epoch)", o->name, v);
    *out = n;
    return DT_OK;
}

/* x in the fewest digits that read back as x ("0.99999999", not "1"). */
static void shortest(double x, char *buf, size_t len)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* "--lr: -0.1 is out of range: it must be > 0 and <= 1e+06", the bounds as
 * the table has them (integers in full). */
static dt_status out_of_range(const dt_option *o, const char *v, dt_error *err)
{
    char lo[32], hi[32];
    if (o->type == OPT_INT) {
        snprintf(lo, sizeof lo, "%.0f", o->min);
        snprintf(hi, sizeof hi, "%.0f", o->max);
    } else {
        shortest(o->min, lo, sizeof lo);
        shortest(o->max, hi, sizeof hi);
    }
    return dt_fail(err, DT_EUSAGE, "--%s: %s is out of range: it must be %s %s and <= %s",
                   o->name, v, (o->facts & OPTF_ABOVE_MIN) ? ">" : ">=", lo, hi);
}

static dt_status set_number(const dt_option *o, char *base, const char *v, dt_error *err)
{
    char *end;
    errno = 0;
    if (o->type == OPT_INT) {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            return dt_fail(err, DT_EUSAGE, "--%s: expected an integer, got '%s'", o->name, v);
        if ((double)x < o->min || (double)x > o->max ||
            ((o->facts & OPTF_ABOVE_MIN) && (double)x <= o->min))
            return out_of_range(o, v, err);
        *(int64_t *)base = x;
        return DT_OK;
    }
    if (!o->def && !strcmp(v, "auto")) { /* the default that depends on another option
                                            (--lr: the optimizer's), as it is written back */
        *(double *)base = NAN;
        return DT_OK;
    }
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return dt_fail(err, DT_EUSAGE, "--%s: expected a number, got '%s'", o->name, v);
    if (x < o->min || x > o->max || ((o->facts & OPTF_ABOVE_MIN) && x <= o->min))
        return out_of_range(o, v, err);
    *(double *)base = x;
    return DT_OK;
}

/* The one place where the text of an option becomes its typed value. */
static dt_status set_value(dt_config *cfg, const dt_option *o, const char *v,
                           dt_error *err)
{
    char *base = (char *)cfg + o->offset;
    dt_status st;
    switch (o->type) {
    case OPT_LIST: return append_line(o, base, v, err);
    case OPT_STR:
    case OPT_STR2:
        if ((st = check_length(o, v, err)))
            return st;
        snprintf(base, DT_PATH_MAX, "%s", v);
        return DT_OK;
    case OPT_OPTPATH: {
        dt_optpath *op = (dt_optpath *)base;
        if ((st = check_length(o, v, err)))
            return st;
        op->on = v[0] != '\0';
        snprintf(op->path, DT_PATH_MAX, "%s", strcmp(v, o->choices) ? v : "");
        return DT_OK;
    }
    case OPT_CHOICE: {
        if (!v[0] && !o->def) { /* a choice with no default (output: from the data) is
                                   printed empty while unset, and reads back so */
            *(int *)base = -1;
            return DT_OK;
        }
        int i = choice_index(o, current_spelling(o->name, v));
        if (i < 0)
            return bad_choice(o, v, err);
        *(int *)base = i;
        return DT_OK;
    }
    case OPT_CHOICES: return set_choices(o, (dt_choices *)base, v, err);
    case OPT_EVERY: return set_every(o, (int64_t *)base, v, err);
    case OPT_LAYERS: {
        dt_layers *l = (dt_layers *)base;
        return model_parse_layers_dropout(v, -1.0f, l->spec, DT_MAX_LAYERS - 1, &l->n, err);
    }
    case OPT_INT:
    case OPT_REAL: return set_number(o, base, v, err);
    case OPT_FLAG:
        if (strcmp(v, "1") && strcmp(v, "0"))
            return dt_fail(err, DT_EUSAGE, "--%s is a flag: its values are 0 and 1, not '%s'",
                           o->name, v);
        *(int *)base = v[0] == '1';
        return DT_OK;
    }
    return DT_EINTERNAL;
}

void config_defaults(dt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const dt_option *o = &options[i];
        if (o->type == OPT_CHOICE && !o->def)
            *(int *)((char *)cfg + o->offset) = -1; /* no default: decided later */
        if (o->type == OPT_REAL && !o->def)
            *(double *)((char *)cfg + o->offset) = NAN; /* the method's own default */
        if (o->def && set_value(cfg, o, o->def, NULL) != DT_OK)
            abort(); /* a bad default in the table is a programming error */
    }
}


/* The options a command accepts: cv takes every train option as well (they
 * configure its trials). */
static unsigned cmd_mask(unsigned cmd) { return cmd & CMD_CV ? cmd | CMD_TRAIN : cmd; }

static const dt_option *find(const char *name, size_t len, unsigned cmd)
{
    cmd = cmd_mask(cmd);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((options[i].cmds & cmd) && strlen(options[i].name) == len &&
            strncmp(options[i].name, name, len) == 0)
            return &options[i];
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((options[i].cmds & cmd) && options[i].was_named &&
            strlen(options[i].was_named) == len && strncmp(options[i].was_named, name, len) == 0)
            return &options[i];
    return NULL;
}

/* 1 if word is one of the '|'-separated names in list. */
static int in_list(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, word, len))
            return 1;
        p = bar ? bar + 1 : p + n;
    }
    return 0;
}

/* 1 if word is option name with words before or after it: num-epochs,
 * hidden-layers, batch-size-per-rank. */
static int wraps(const char *word, const char *name)
{
    size_t lw = strlen(word), ln = strlen(name);
    if (lw <= ln + 1 || ln < 3)
        return 0;
    return (!strncmp(word, name, ln) && word[ln] == '-') ||
           (!strcmp(word + lw - ln, name) && word[lw - ln - 1] == '-');
}

/* The option of cmd an unknown name most likely meant, or NULL: another
 * tool's name for it (known_as), then the name inside a longer one, then a
 * near spelling.  '_' reads as '-' (--learning_rate, --batch_size). */
static const char *nearest(const char *name, unsigned cmd)
{
    cmd = cmd_mask(cmd);
    char w[128];
    snprintf(w, sizeof w, "%s", name);
    for (char *p = w; *p; p++)
        if (*p == '_')
            *p = '-';
    dt_nearest near = {0};
    const char *wrapped = NULL;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (!(options[i].cmds & cmd))
            continue;
        if (in_list(options[i].known_as, w) || !strcmp(options[i].name, w))
            return options[i].name;
        if (!wrapped && wraps(w, options[i].name))
            wrapped = options[i].name;
        dt_nearest_add(&near, w, options[i].name);
    }
    return wrapped ? wrapped : dt_nearest_get(&near);
}

const dt_option *config_find(const char *name, unsigned cmd)
{
    return find(name, strlen(name), cmd);
}

dt_status config_set(dt_config *cfg, unsigned cmd, const char *name, const char *value,
                     dt_error *err)
{
    const dt_option *o = config_find(name, cmd);
    if (!o) {
        const char *near = nearest(name, cmd);
        if (near)
            return dt_fail(err, DT_EUSAGE, "unknown option '%s' (did you mean '%s'?)", name,
                           near);
        return dt_fail(err, DT_EUSAGE, "unknown option '%s' (see --help)", name);
    }
    if (o->type == OPT_STR2)
        return dt_fail(err, DT_EUSAGE, "--%s takes two values: give it on the command line",
                       o->name);
    dt_status st = set_value(cfg, o, value, err);
    if (!st)
        cfg->given[o - options] = 1;
    return st;
}

dt_status config_parse(dt_config *cfg, unsigned cmd, int argc, char **argv,
                       int *want_help, dt_error *err)
{
    *want_help = 0;
    unsigned char seen[N_OPTIONS] = {0}; /* in this argv: a repeat is a mistake */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *want_help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return dt_fail(err, DT_EUSAGE, "unexpected argument '%s' (options start with --)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const dt_option *o = find(name, len, cmd);
        if (!o) {
            char n[128];
            snprintf(n, sizeof n, "%.*s", (int)(len < 100 ? len : 100), name);
            const char *near = nearest(n, cmd);
            if (near)
                return dt_fail(err, DT_EUSAGE, "unknown option --%s (did you mean --%s?)", n,
                               near);
            return dt_fail(err, DT_EUSAGE, "unknown option --%s (see --help)", n);
        }
        if (seen[o - options]++ && o->type != OPT_LIST)
            return dt_fail(err, DT_EUSAGE,
                           "--%s given twice; give it once (--help marks the options that may be repeated)",
                           o->name);
        dt_status st;
        if (o->type == OPT_FLAG) {
            if (eq)
                return dt_fail(err, DT_EUSAGE, "--%s takes no value", o->name);
            st = set_value(cfg, o, "1", err);
        } else if (o->type == OPT_OPTPATH || o->type == OPT_EVERY) {
            const char *v = o->choices;
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                v = argv[++i];
            st = set_value(cfg, o, v, err);
        } else if (o->type == OPT_STR2) {
            if (eq || i + 2 >= argc)
                return dt_fail(err, DT_EUSAGE, "--%s needs two values: %s", o->name,
                               o->metavar);
            dt_option second = *o;
            second.offset += sizeof(dt_str);
            st = set_value(cfg, o, argv[i + 1], err);
            if (!st)
                st = set_value(cfg, &second, argv[i + 2], err);
            i += 2;
        } else {
            const char *v;
            if (eq) {
                v = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return dt_fail(err, DT_EUSAGE, "--%s needs a value (%s)", o->name,
                                   o->metavar ? o->metavar : "");
                v = argv[++i];
            }
            st = set_value(cfg, o, v, err);
        }
        if (st)
            return st;
        cfg->given[o - options] = 1;
    }
    return DT_OK;
}

void config_value_str(const dt_config *cfg, const dt_option *o, char *buf, size_t len)
{
    const char *base = (const char *)cfg + o->offset;
    switch (o->type) {
    case OPT_STR:
    case OPT_LIST: snprintf(buf, len, "%s", base); break;
    case OPT_STR2: snprintf(buf, len, "%s %s", base, base + sizeof(dt_str)); break;
    case OPT_OPTPATH: {
        const dt_optpath *op = (const dt_optpath *)base;
        snprintf(buf, len, "%s", !op->on ? "" : op->path[0] ? op->path : o->choices);
        break;
    }
    case OPT_CHOICE: {
        const char *name = config_choice_name(o, *(const int *)base);
        snprintf(buf, len, "%s", name ? name : "");
        break;
    }
    case OPT_CHOICES: {
        const dt_choices *c = (const dt_choices *)base;
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < c->n && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                     config_choice_name(o, c->v[i]));
        break;
    }
    case OPT_EVERY: {
        int64_t e = *(const int64_t *)base;
        if (e <= 0)
            snprintf(buf, len, "%s", e ? o->choices : "");
        else
            snprintf(buf, len, "%lld", (long long)e);
        break;
    }
    case OPT_LAYERS: model_format_layers((const dt_layers *)base, buf, len); break;
    case OPT_INT: snprintf(buf, len, "%lld", (long long)*(const int64_t *)base); break;
    case OPT_REAL: {
        /* the shortest text that reads back as the same double; NaN (not
         * given, the method's own default) is "auto" */
        double v = *(const double *)base;
        snprintf(buf, len, "%s", isnan(v) ? "auto" : "");
        for (int prec = 6; prec <= 17 && !isnan(v); prec++) {
            snprintf(buf, len, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        break;
    }
    case OPT_FLAG: snprintf(buf, len, "%d", *(const int *)base); break;
    }
}

/* The bytes option o occupies in dt_config. */
static size_t field_size(const dt_option *o)
{
    switch (o->type) {
    case OPT_STR:
    case OPT_LIST: return sizeof(dt_str);
    case OPT_STR2: return 2 * sizeof(dt_str);
    case OPT_OPTPATH: return sizeof(dt_optpath);
    case OPT_CHOICE:
    case OPT_FLAG: return sizeof(int);
    case OPT_CHOICES: return sizeof(dt_choices);
    case OPT_LAYERS: return sizeof(dt_layers);
    case OPT_EVERY:
    case OPT_INT: return sizeof(int64_t);
    case OPT_REAL: return sizeof(double);
    }
    return 0;
}

void config_get_value(const dt_config *c, const dt_option *o, dt_value *v)
{
    if (field_size(o) > sizeof *v)
        abort(); /* OPT_STR2: not a dt_value (a programming error) */
    memcpy(v, (const char *)c + o->offset, field_size(o));
}

void config_put_value(dt_config *c, const dt_option *o, const dt_value *v)
{
    if (field_size(o) > sizeof *v)
        abort();
    memcpy((char *)c + o->offset, v, field_size(o));
    c->given[o - options] = 1;
}

int config_same(const dt_config *a, const dt_config *b, const dt_option *o)
{
    /* through the text: strings compare up to their end, a real by value */
    char va[2 * DT_PATH_MAX + 2], vb[2 * DT_PATH_MAX + 2];
    config_value_str(a, o, va, sizeof va);
    config_value_str(b, o, vb, sizeof vb);
    return strcmp(va, vb) == 0;
}

const dt_option *config_option(const char *name) { return config_find(name, ~0u); }

int config_given_at(const dt_config *cfg, size_t offset)
{
    /* a field may have a row per command (--seed): given by any of them */
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].offset == offset && cfg->given[i])
            return 1;
    return 0;
}

/* Print text wrapped at width 78, continuation lines indented by `indent`. */
static void wrap(FILE *out, const char *text, int indent, int col)
{
    const char *p = text;
    int first = 1;
    while (*p) {
        while (*p == ' ') p++;
        const char *sp = p;
        while (*sp && *sp != ' ') sp++;
        int wl = (int)(sp - p);
        if (!wl)
            break;
        if (!first && col + 1 + wl > 78) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", wl, p);
        col += wl;
        first = 0;
        p = sp;
    }
    fputc('\n', out);
}

void config_print_help(FILE *out, unsigned cmd)
{
    cmd = cmd_mask(cmd);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const dt_option *o = &options[i];
        if (!(o->cmds & cmd))
            continue;
        char head[160];
        if (o->type == OPT_CHOICE) {
            char list[128];
            config_choice_list(o, list, sizeof list);
            snprintf(head, sizeof head, "  --%s %s", o->name, list);
        }
        else
            snprintf(head, sizeof head, "  --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        fprintf(out, "%s\n", head);
        char text[1024];
        /* a help text that states its defaults itself ("[default: 0; 0.9 for
         * momentum]") is not given the table's once more */
        if (o->def && o->def[0] && o->type != OPT_FLAG && !strstr(o->help, "[default:"))
            snprintf(text, sizeof text, "%s [default: %s]", o->help, o->def);
        else
            snprintf(text, sizeof text, "%s", o->help);
        fprintf(out, "      ");
        wrap(out, text, 6, 6);
    }
}
