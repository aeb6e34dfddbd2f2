/* dtrain: the option table, one row per option; config.c reads it (parsing,
 * help, values) and everything else derives from those readings. */
#include "dtrain/config.h"

#include <math.h>
#include <stddef.h>

#define F(field) offsetof(dt_config, field)
#define RUNS (CMD_TRAIN | CMD_EVAL | CMD_PREDICT)
#define INF HUGE_VAL

/* Why cv refuses an option (the cv_rejected column), shared by several rows. */
#define CV_NOT_CHECKPOINTED "trials are not checkpointed"
#define CV_FOLDS_VALIDATE "each fold is the validation set of its trials"
/* --seed's other names (known_as), of its train and its convert row. */
#define SEED_KNOWN_AS "random-state|random-seed|manual-seed|rng-seed"

/* The names of the choices no module owns, in the order of their enums in
 * config.h. */
static const char *const monitor_names[] = {[MONITOR_VAL_LOSS] = "valid_loss",
                                            [MONITOR_VAL_ACCURACY] = "valid_accuracy",
                                            [MONITOR_VAL_RMSE] = "valid_rmse", NULL};

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

/* Rows name the facts they have (.facts, .cv_rejected) and leave them out when
 * they have none, so the two last columns are zero in most rows: GCC's
 * -Wmissing-field-initializers would otherwise ask for them in every row. */
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
     "Hessian, Levenberg damping, at most 2000 parameters); update rules: "
     "docs/training.md#optimizers",
     .names = {optim_names, so_names},
     .known_as = "optim|solver|opt"},
    {"lr", OPT_REAL, F(train.lr), NULL, 0, 1e6, NULL, CMD_TRAIN, "ALPHA",
     "learning rate (first-order optimizers; the schedule's base rate) [default: auto: 0.001 "
     "for adam and adamw, 0.01 for the others]",
     .facts = OPTF_MAY_CHANGE | OPTF_ABOVE_MIN,
     .known_as = "learning-rate|eta|step-size|base-lr"},
    {"momentum", OPT_REAL, F(train.momentum), "0", 0, 1, NULL, CMD_TRAIN, "GAMMA",
     "sgd/rmsprop momentum [default: 0; 0.9 for momentum and nesterov]"},
    {"dampening", OPT_REAL, F(train.dampening), "0", 0, 1, NULL, CMD_TRAIN, "D",
     "sgd momentum dampening"},
    {"beta1", OPT_REAL, F(train.beta1), "0.9", 0, 0.999999, NULL, CMD_TRAIN, "B1",
     "adam/adamw first-moment decay (rho1 in the notes)"},
    {"beta2", OPT_REAL, F(train.beta2), "0.999", 0, 0.99999999, NULL, CMD_TRAIN, "B2",
     "adam/adamw second-moment decay (rho2 in the notes)"},
    {"eps", OPT_REAL, F(train.eps), "1e-8", 0, 1, NULL, CMD_TRAIN, "EPS",
     "term added to the denominator of adam, adamw, rmsprop [1e-8] and adagrad [1e-10]",
     .known_as = "epsilon"},
    {"weight-decay", OPT_REAL, F(train.weight_decay), "0", 0, 10, NULL, CMD_TRAIN, "LAMBDA",
     "torch.optim weight_decay: added to the gradient; decoupled for adamw "
     "[default: 0; 0.01 for adamw]",
     .known_as = "wd"},
    {"rmsprop-alpha", OPT_REAL, F(train.rmsprop_alpha), "0.99", 0, 0.999999, NULL, CMD_TRAIN, "A",
     "rmsprop smoothing constant of the mean square"},
    {"centered", OPT_FLAG, F(train.centered), "0", 0, 0, NULL, CMD_TRAIN, NULL,
     "rmsprop: divide by the estimated standard deviation of the gradient"},
    {"lr-decay", OPT_REAL, F(train.lr_decay), "0", 0, 1e6, NULL, CMD_TRAIN, "D",
     "adagrad: decay of the rate per step"},
    {"initial-accumulator", OPT_REAL, F(train.initial_accumulator), "0", 0, 1e6, NULL, CMD_TRAIN, "R0",
     "adagrad: starting value of the sum of squared gradients"},
    {"lbfgs-history", OPT_INT, F(train.lbfgs_history), "10", 1, 1000, NULL, CMD_TRAIN, "M",
     "lbfgs: number of correction pairs kept"},
    /* --- schedules --- */
    {"schedule", OPT_CHOICE, F(train.schedule), "constant", 0, 0, NULL, CMD_TRAIN, "KIND",
     "learning rate schedule: constant; linear (to --lr-min over --decay-steps, then "
     "constant); step "
     "(times --gamma every --step-epochs epochs); exponential (times --gamma each epoch); "
     "cosine (to --lr-min over --decay-steps); plateau (times --plateau-factor when --monitor "
     "has not improved for --plateau-patience epochs); formulas: "
     "docs/training.md#learning-rate-schedules",
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
     "warns that it has not converged (docs/training.md#convergence)",
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
    {"denormals", OPT_CHOICE, F(train.denormals), "flush", 0, 0, NULL, CMD_TRAIN | CMD_BENCH,
     "flush|keep",
     "subnormal floats on every thread that computes: flush: results below 1.2e-38 become "
     "0 and such inputs are read as 0 (MXCSR FTZ and DAZ; CPUs that slow down on "
     "subnormals stay fast); keep: IEEE subnormals.  Set by dtrain, not inherited from the "
     "calling program, whose own setting is put back when each call returns; saved with "
     "the model, whose predictions and evaluations use it; must match on resume "
     "(docs/performance.md#denormals)",
     .facts = OPTF_CV_FIXED | OPTF_MODEL,
     .names = {denormals_names}},
    {"profile", OPT_FLAG, F(train.profile), "0", 0, 0, NULL, CMD_TRAIN, NULL,
     "print per epoch where rank 0's step time went (data, compute, comm: the gradient "
     "reduction and parameter gathering, update, with the GB/s its passes read and write; "
     "the largest over ranks), and at the end the peak resident memory per rank and in all",
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
