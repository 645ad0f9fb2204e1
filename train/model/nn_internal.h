/* nn_internal.h: the model's internals (train/model/, train/io/), what the
 * trainer, the file formats and the tests reach into: the table of layer
 * kinds, the parsed description of a layer, the built layer and model
 * structs, spec parsing, checkpoints. Kernels are in kernels/nn_kern.h;
 * the spec reader's own pieces in model/spec_internal.h.
 */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ck.h"
#include "nn.h"
#include "nn_kern.h"

/* ---- layer kinds and their descriptions -------------------------------- */

typedef enum nn_kind {
    NN_INPUT = 0,
    NN_RESCALING,
    NN_CONV2D,
    NN_MAXPOOL2D,
    NN_FLATTEN,
    NN_DENSE,
    NN_DROPOUT,
    NN_ACTIVATION,
    NN_PREPROCESS, /* keras.applications' preprocess_input, mode "caffe" */
} nn_kind;
#define NN_KINDS (NN_PREPROCESS + 1)

/* One spec line as the parser understands it: what the layer is, its
 * output shape and its parameter counts, and nothing of a running model
 * (tensors, kernels). A flat output (Flatten, Dense) has h = w = 1 and
 * flat = 1. */
typedef struct nn_layer_desc {
    nn_kind kind;
    char name[64];
    int line;      /* in the spec text */
    int trainable; /* the spec's trainable= (True unless given) */
    int h, w, c, flat;
    size_t size; /* floats per sample of the output: h*w*c */
    /* hyperparameters */
    nn_conv_shape g;     /* Conv2D, MaxPooling2D */
    nn_act act;          /* Conv2D, Dense, Activation */
    int use_bias;        /* Conv2D, Dense */
    float scale, offset; /* Rescaling */
    float rate;          /* Dropout */
    /* weights: a kernel of w_n floats, then a bias of b_n (0: none) */
    size_t w_n, b_n;
    int fan_in, fan_out; /* Glorot */
} nn_layer_desc;

/* Parses spec text into layer descriptions (nothing allocated for
 * tensors). *out is malloc'd, *n set. `source` names the text in errors:
 * "source:LINE: spec: reason". */
int nn_spec_parse(const char *text, const char *source, nn_layer_desc **out, int *n, char *err,
                  size_t errlen);

struct spec_call;
struct spec_ctx;

/* How a layer kind is written in a spec: its name and Keras's positional
 * parameters in order. */
typedef struct nn_kind_sig {
    const char *type;
    const char *positional[4];
} nn_kind_sig;

/* FLOPs of one sample through a layer, GEMM-shaped work only (2 per
 * multiply-add): the forward, the backward's weight gradient and its
 * input gradient. */
typedef struct nn_flops {
    double forward, backward_w, backward_x;
} nn_flops;

/* What a layer kind is, in one place (layer_kinds.c): the spec parser,
 * the model builder, the summary, the h5 reader and writer and the FLOP
 * count all read it. */
typedef struct nn_kind_info {
    const char *keras;   /* Keras's class name: "Conv2D" */
    const char *stem;    /* of Keras's automatic names: conv2d, conv2d_1... */
    nn_kind_sig sigs[2]; /* its spellings in a spec; the first is the usual one */
    /* Reads the kind's own arguments from c (spec_args.c's getters) into
     * d, whose kind, name, line, trainable and input shape (prev's output,
     * or nothing for Input) are set: hyperparameters, output shape and
     * weight counts. prev is NULL only for Input. Returns 0 or the
     * parser's error. */
    int (*build)(struct spec_call *c, const struct spec_ctx *pc, const nn_layer_desc *prev,
                 nn_layer_desc *d);
    /* Keras's names and shapes of its weights, in Keras's order (0 the
     * kernel, 1 the bias); weights[0] NULL: none. shape() returns the
     * rank of weight j of d. */
    const char *weights[2];
    int (*shape)(const nn_layer_desc *d, int j, size_t dims[4]);
    nn_flops (*flops)(const nn_layer_desc *d); /* NULL: none counted */
    int view;     /* owns no activations: its y and dy are another layer's */
    int aux;      /* keeps one more (batch, size) buffer: nn_layer's mask or arg */
    int has_act;  /* applies its desc's act */
    int rescales; /* right after Input, it takes pixels in [0, 255] */
} nn_kind_info;

/* Indexed by nn_kind. */
extern const nn_kind_info nn_kinds[];

/* Weights of d (kernel, bias) that are present: 0, 1 or 2. */
int nn_desc_weights(const nn_layer_desc *d);

/* ---- models ------------------------------------------------------------ */

/* A layer of a built model: its description and where its tensors live. */
typedef struct nn_layer {
    nn_layer_desc desc;
    const nn_conv_impl *conv; /* Conv2D: chosen by the model (nn_conv_select) */
    size_t w_off, b_off;      /* in the params and grads arenas */
    /* Activations arena, (batch, size) each; y of Input and Flatten are
     * views (the model's input, the previous layer's y), dy may be NULL
     * where no gradient reaches. */
    float *y, *dy;
    /* The kind's extra (batch, size) buffer (nn_kind_info.aux), as Dropout
     * reads it (its mask) and as MaxPooling2D does (the argmax of each
     * output). */
    float *mask;
    uint32_t *arg;
    int need_dx; /* does a gradient have to flow into the previous layer? */
    int frozen;  /* trainable=False: its weights are not updated */
} nn_layer;

struct nn_model {
    char *name, *spec, *config;
    nn_layer *layers;
    int nlayers;
    int batch; /* maximum samples per forward */
    size_t nparams;
    float *params, *grads; /* arenas of nparams floats */
    nn_optim_opts opt;
    int64_t steps; /* updates done */
    float *state;  /* optimizer arena: slots * nparams floats */
    float *acts;   /* activations arena */
    size_t nacts;
    float *dacts;   /* activation gradients, where a gradient arrives */
    float *logits;  /* (batch, D) the final layer's input to its activation */
    float *targets; /* (batch, D) one-hot scratch for categorical targets */
    nn_exec ex;     /* threads, scratch (in the activations arena), kernels */
    double *prof;   /* NULL, or seconds per layer: forward [0, nlayers),
                       backward [nlayers, 2*nlayers), added by each pass */
    int n;          /* samples in the last forward */
    /* NULL, or told by the backward as each layer's gradient is complete
     * (last layer first), so it can be sent on while the rest runs. */
    void (*grad_ready)(void *ctx, int layer);
    void *grad_ctx;
    int trained; /* the last forward was in training mode */
    int inspect; /* built to be looked into (nn_model_inspect): no pool
                    fusion, a gradient down to the input's own dy */
};

/* nn_model_create, or with inspect set a model that keeps every layer's
 * output and takes gradients down to the input (layers[0].dy): what
 * nn_model_inspect builds. */
int nn_model_build(nn_model **out, const char *spec, const char *name, int batch, int inspect,
                   char *err, size_t errlen);
/* nn_model_forward through layers [1, last] only. */
int nn_model_forward_to(nn_model *m, const float *x, int n, const nn_step_key *key, int last);
/* The backward of layers top, top-1, ..., bottom+1 of the last forward,
 * from the gradient in layers[top].dy: of top's output, or with pre (and
 * always for the final layer, whose is its logits') of its input to its
 * activation. Leaves layers[bottom].dy holding the gradient of bottom's
 * output where one is kept (bottom 0: the input, in an inspecting model).
 * Parameter gradients are added to as by nn_model_backward, which is
 * nn_model_backward_span(m, last, 0, 0). */
void nn_model_backward_span(nn_model *m, int top, int bottom, int pre);

/* ---- checkpoints ------------------------------------------------------- */

/* The trainer's state saved with the weights. The random streams are
 * counter-based and keyed by (seed, epoch, ...), so the epoch to run next
 * IS the generator's position. */
typedef struct nn_ckpt_state {
    int epoch; /* epochs completed */
    uint64_t seed;
    double best;    /* best monitored loss so far (INFINITY: none) */
    int best_epoch; /* 1-based, 0: none */
    int wait;       /* epochs without improvement */
    /* ReduceLROnPlateau's own: its best (less min_delta to count), wait
     * and cooldown; the learning rate itself is the optimizer's */
    double plateau_best;
    int plateau_wait, plateau_cooldown;
} nn_ckpt_state;

/* Writes m (spec, weights, optimizer and its state), st and config to
 * path atomically (a temporary file renamed over it). Returns 0, CK_EIO. */
int nn_ckpt_write(const nn_model *m, const nn_ckpt_state *st, const char *config, const char *path,
                  char *err, size_t errlen);
/* Reads path into m, whose spec must be the checkpoint's: weights,
 * optimizer, its state and step count; st and *config (malloc'd, may be
 * NULL) when not NULL. Returns 0, CK_EIO, CK_EFORMAT, CK_ENOMEM. */
int nn_ckpt_read(nn_model *m, const char *path, nn_ckpt_state *st, char **config, char *err,
                 size_t errlen);

#endif
