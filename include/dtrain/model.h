/* dtrain: multilayer perceptron over flat buffers.
 *
 * All parameters live in one float array (params), all gradients in another of
 * the same layout (grads); each layer holds views into them.  Layer l stores
 * W_l (n_out, n_in) -- the orientation of torch.nn.Linear.weight -- followed by
 * b_l (n_out).  Activations for up to max_batch samples live in one workspace
 * allocated at creation.  The products run as compute-engine plans
 * (matmul.h), one set per batch size: model_prepare makes a set at setup, so
 * forward and backward neither allocate nor generate code.
 *
 * Precision (model_set_precision): PREC_FP32 computes in fp32 throughout.
 * PREC_BF16 is mixed precision: parameters, gradients, activations, the loss
 * and the softmax stay fp32; the GEMM inputs (the layer inputs, the weights
 * and the output gradients) are rounded to bf16 copies and the products
 * accumulate in fp32. */
#ifndef DTRAIN_MODEL_H
#define DTRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "dtrain/activation.h"
#include "dtrain/loss.h"
#include "dtrain/matmul.h"
#include "dtrain/status.h"

#define DT_MAX_LAYERS 64
/* Batch sizes a model keeps plans for at once (more are made and replaced on
 * demand). */
#define DT_MODEL_SHAPES 8

/* One hidden layer as the user gives it: "256:relu". */
typedef struct {
    int width;
    dt_act act;
    float dropout; /* rate in [0, 1) after this layer while training; 0 = none */
} dt_layer_spec;

/* Parse a --layers string ("256:relu,128:leaky_relu=0.2:0.5"; "" or "none" = no
 * hidden layer); a
 * third field is that layer's dropout rate, otherwise default_dropout. */
dt_status model_parse_layers(const char *text, dt_layer_spec *out, int max, int *n,
                             dt_error *err);
/* The same with a dropout rate for layers that give none. */
dt_status model_parse_layers_dropout(const char *text, float default_dropout,
                                     dt_layer_spec *out, int max, int *n, dt_error *err);

/* A --layers list, parsed (the input and output layers are not in it). */
typedef struct {
    int n;
    dt_layer_spec spec[DT_MAX_LAYERS - 1];
} dt_layers;
/* The text model_parse_layers reads back to the same list ("none" for no
 * hidden layer); a negative dropout (no rate of its own) has no third field. */
void model_format_layers(const dt_layers *l, char *buf, size_t len);

typedef struct {
    int n_in, n_out;
    dt_act act;        /* identity for the output layer (the head applies the loss) */
    float *W, *b;      /* views into params: W (n_out, n_in), b (n_out) */
    float *dW, *db;    /* views into grads, same shapes */
    float *A;          /* workspace: this layer's outputs (max_batch, n_out) */
    float dropout;     /* rate applied to A while training (hidden layers only) */
    float *mask;       /* workspace if dropout: 0 or 1/(1-rate) per output, (max_batch, n_out) */
    float *D;          /* workspace if dropout: A * mask, the next layer's input */
    dt_bf16 *out16;    /* bf16 workspace: what the layer passes on (max_batch, n_out) */
    size_t offset;     /* index of W in params; b follows at offset + n_out*n_in */
} dt_layer;

typedef struct model_plans model_plans; /* the plans of one batch size (model.c) */

typedef struct {
    int n_layers; /* hidden layers + the output layer */
    dt_layer layers[DT_MAX_LAYERS];
    dt_head head;
    int n_in, n_out, max_batch;
    size_t n_params;
    float *params; /* owned, n_params */
    float *grads;  /* n_params: own_grads, or a buffer lent by model_use_grads */
    float *own_grads; /* owned, n_params */
    float *work;   /* owned: every layer's A, then two delta buffers */
    float *xin;    /* owned, (max_batch, n_in): scratch for callers that convert input
                      rows to float before model_forward (dataset_rows) */
    float *delta[2];
    /* Linear head trained on standardised targets (model_set_target_scaling):
     * owned, (2, n_out): the shift (the training split's mean), then the
     * scale (1/std); NULL when the targets are used as they are. */
    float *target_stats;
    dt_precision prec;  /* PREC_FP32 unless model_set_precision */
    dt_bf16 *params16;  /* PREC_BF16: bf16 copy of params, refreshed by each forward */
    dt_bf16 *x16;       /* PREC_BF16: the input rows, (max_batch, n_in) */
    const dt_bf16 *in16; /* PREC_BF16: the last forward's input rows (x16, or the
                            caller's: model_forward_bf16), which its backward reads */
    dt_bf16 *dz16;      /* PREC_BF16: an output gradient, (max_batch, widest layer) */
    matmul_cvt *cvt_params; /* PREC_BF16: params -> params16 */
    model_plans *plans[DT_MODEL_SHAPES];
    unsigned plan_clock; /* replacement order of plans */
    int grads_stale; /* set by model_zero_grad: the next backward overwrites grads */
    /* Dropout context, set by model_train_mode; evaluation never drops. */
    int training;
    uint64_t drop_seed;
    int64_t drop_step;
    const int64_t *drop_rows; /* global sample index of each row of the block */
    /* 1: model_loss_grad_parts runs its parts one by one, as where the
     * engine's rows are not those of the parts' own products (tests) */
    int parts_one_by_one;
    /* The first failure inside a forward or backward (a batch size whose plans
     * could not be made when first used, a oneDNN call that failed: defects,
     * or memory exhausted).  Those functions have no status to return, so
     * the failure is kept here, and from then on every forward's outputs and
     * every backward's gradients are NaN: the step's global NaN check (or the
     * loss) stops the run on every rank, and the drivers report this message
     * (model_fault).  fault.code == DT_OK while all is well. */
    dt_error fault;
} dt_model;

/* DT_OK, or the model's recorded failure (copied into err). */
dt_status model_fault(const dt_model *m, dt_error *err);

/* Compute in prec from now on (the plans of the other precision are
 * dropped; parameters are untouched).  DT_EUSAGE if this CPU cannot. */
dt_status model_set_precision(dt_model *m, dt_precision prec, dt_error *err);

/* Make the plans for batches of nb rows (1 <= nb <= max_batch): the forward
 * ones, and with backward != 0 those of model_backward too.  Setup calls this
 * for every batch size a run will use; a size not prepared is prepared at
 * its first use (an allocation and a code generation in that step). */
dt_status model_prepare(dt_model *m, int nb, int backward, dt_error *err);

/* Point grads and every layer's dW, db at buf (n_params floats, borrowed:
 * e.g. memory the reduction shares with other ranks), or back at the
 * model's own buffer when buf is NULL.  Gradient contents are not carried
 * over.  The lender calls model_use_grads(m, NULL) before freeing buf. */
void model_use_grads(dt_model *m, float *buf);

/* Until model_eval_mode, forward passes drop units with masks drawn from
 * (seed, step, rows[i], layer, unit): independent of ranks and blocks. */
void model_train_mode(dt_model *m, uint64_t seed, int64_t step, const int64_t *rows);
void model_eval_mode(dt_model *m);

typedef enum { INIT_UNIFORM, INIT_XAVIER, INIT_HE } dt_init;
/* The initialisations' names, indexed by dt_init, NULL-terminated. */
extern const char *const init_names[];
dt_status init_parse(const char *text, dt_init *out, dt_error *err);

/* Build the model; parameters are zero until model_init.  max_batch bounds the
 * rows any forward/backward call may pass.  Free with model_free. */
dt_status model_create(dt_model *m, int n_in, const dt_layer_spec *hidden, int n_hidden,
                       int n_out, dt_head head, int max_batch, dt_error *err);
void model_free(dt_model *m);

/* Draw the initial parameters from (seed, RNG_STREAM_INIT). */
void model_init(dt_model *m, dt_init kind, uint64_t seed);

/* Forward X (nb, n_in) -> logits (nb, n_out); returns a pointer into the
 * workspace, valid until the next call.  nb <= max_batch. */
const float *model_forward(dt_model *m, const float *X, int nb);

/* PREC_BF16 models where the CPU rounds natively (bf16.h): model_forward on
 * rows already rounded, X16 (nb, n_in) (borrowed until the backward that
 * follows), instead of rounding fp32 rows itself: the same results as
 * model_forward(X) for the X whose bf16_round X16 is. */
const float *model_forward_bf16(dt_model *m, const dt_bf16 *X16, int nb);

/* The next model_backward writes grads instead of adding to them (the weight
 * gradient GEMMs run with beta = 0, so grads is not cleared in a pass of its
 * own); if no backward with rows follows, the next one with none clears it. */
void model_zero_grad(dt_model *m);

/* Backward for the last model_forward(X, nb): given dZ = d(loss)/d(logits)
 * (nb, n_out), ADD d(loss)/d(params) to grads (or write them, after
 * model_zero_grad).  dZ may point into the
 * workspace returned by model_dlogits. */
void model_backward(dt_model *m, const float *X, const float *dZ, int nb);

/* Workspace of (max_batch, n_out) floats the caller may use for dZ. */
float *model_dlogits(dt_model *m);

/* A linear head's outputs are standardised targets y' = (y - shift) * scale
 * from now on (shift, scale: n_out each, copied; loss.h): the loss is
 * minimised in those units, predictions and reported losses are in the
 * targets' units.  NULL shift removes the scaling. */
dt_status model_set_target_scaling(dt_model *m, const float *shift, const float *scale,
                                   dt_error *err);
/* The model's target scaling for loss.h (borrowed), NULL if none. */
const dt_target_scaling *model_target_scaling(const dt_model *m, dt_target_scaling *buf);

/* What the head predicts for rows X (n, n_in): out (n, n_out) receives class
 * probabilities (softmax; sigmoid: P(class 1)) or values (linear, in the
 * targets' units).  Works in blocks of max_batch rows; any n. */
void model_predict(dt_model *m, const float *X, int64_t n, float *out);

/* Forward, loss, backward for one block: adds the block's gradient sum to
 * grads and returns the block's loss sum (the loss minimised: of
 * standardised targets when the model has a target scaling).  targets are
 * in the targets' units. */
double model_loss_grad(dt_model *m, const float *X, const int32_t *labels,
                       const float *targets, int nb);
/* The same, also accumulating the block into sums (losses in the targets'
 * units: what a run reports). */
double model_loss_grad_sums(dt_model *m, const float *X, const int32_t *labels,
                            const float *targets, int nb, dt_loss_sums *sums);
/* The same on rows already rounded to bf16 (model_forward_bf16). */
double model_loss_grad_sums_bf16(dt_model *m, const dt_bf16 *X16, const int32_t *labels,
                                 const float *targets, int nb, dt_loss_sums *sums);

/* Whether model_loss_grad_parts of nb rows in parts of `part` runs the
 * parts' products at once (the engine gives each row the bits of its part's
 * own product; checked once on probe operands and kept with nb's plans):
 * called at setup, so that the check's buffers and plans are not made in a
 * training step. */
int model_parts_exact(dt_model *m, int nb, int part);

/* Forward, loss and backward of nb rows (nb <= max_batch) as consecutive
 * parts of `part` rows (the last may be shorter), each part's gradient sum
 * written to grads + j * n_params and its loss sum (in the targets' units,
 * as sums.loss) to losses[j] for part j: the bits of
 * model_loss_grad_sums(_bf16) on each part alone after model_zero_grad, at
 * any nb.  X (nb, n_in) fp32, or X16 rounded to bf16 (then X is NULL).
 * Where the engine computes every row of a product alone (checked once per
 * shape on probe operands), the forward and the input gradients run over
 * all nb rows at once and only the weight gradients part by part; else the
 * parts run one by one.  grads is borrowed for the call; m->grads is left
 * as it was.  A failure is recorded (model_fault) and the gradients and
 * losses are NaN. */
void model_loss_grad_parts(dt_model *m, const float *X, const dt_bf16 *X16,
                           const int32_t *labels, const float *targets, int nb, int part,
                           float *grads, double *losses);

#endif
