/* nn_internal.h: the model's internals (train/model/, train/io/), what the
 * trainer, the file formats and the tests reach into: the layer and model
 * structs, spec parsing, checkpoints. Kernels are in kernels/nn_kern.h.
 */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ck.h"
#include "nn.h"
#include "nn_kern.h"

/* ---- models ----------------------------------------------------------- */

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

/* One layer: its spec, its output shape and where its tensors live.
 * A flat output (Flatten, Dense) has h = w = 1 and flat = 1. */
typedef struct nn_layer {
    nn_kind kind;
    char name[64];
    int line; /* in the spec text */
    int h, w, c, flat;
    size_t size;     /* floats per sample of the output: h*w*c */
    nn_conv_shape g; /* Conv2D, MaxPooling2D */
    const nn_conv_impl *conv;
    nn_act act; /* Conv2D, Dense, Activation */
    int use_bias;
    float scale, offset;           /* Rescaling */
    float rate;                    /* Dropout */
    int fan_in, fan_out;           /* Glorot */
    size_t w_off, w_n, b_off, b_n; /* in the params and grads arenas */
    /* Activations arena, (batch, size) each; y of Input and Flatten are
     * views (the model's input, the previous layer's y), dy may be NULL
     * where no gradient reaches. */
    float *y, *dy, *mask;
    uint32_t *arg; /* MaxPooling2D: the argmax of each output, (batch, size) */
    int need_dx;   /* does a gradient have to flow into the previous layer? */
    int frozen;    /* trainable=False: its weights are not updated */
} nn_layer;

/* Parses spec text into layers with shapes and parameter counts (nothing
 * allocated for tensors). *out is malloc'd, *n set. `source` names the text
 * in errors: "source:LINE: spec: reason". */
int nn_spec_parse(const char *text, const char *source, nn_layer **out, int *n, char *err,
                  size_t errlen);

/* Keras's class name of a layer kind ("Conv2D"). */
const char *nn_kind_name(nn_kind kind);

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
    int trained;    /* the last forward was in training mode */
};

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
