/* layer_kinds.c: the table of layer kinds, one entry per nn_kind.
 *
 * Everything convkit knows about a kind of layer that is not the
 * arithmetic of its kernels is here: how Keras names it (its class, the
 * stem of its automatic names), how a spec writes it (its spellings and
 * positional parameters), what its arguments mean (its builder, which
 * reads them, checks them against its input and fills the layer's
 * description: hyperparameters, output shape, weight counts), its
 * weights as a Keras file stores them (names and shapes), the FLOPs a
 * benchmark counts for it, and the facts the model builder needs about
 * its activations. The spec parser, the model builder, the summary, the
 * h5 reader and writer and the benchmark read the table; none of them
 * names a kind for any of these.
 *
 * What stays outside is what runs: the kernels (kernels/), the choice of
 * a convolution's implementation and its scratch, and the forward and
 * backward dispatch in model.c, a switch over the kinds that the
 * compiler checks for completeness (-Wswitch) and that keeps the fused
 * convolution and pooling pair readable in one place.
 */
#include <string.h>

#include "spec_internal.h"

/* ---- builders ------------------------------------------------------------ */

static int input_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                       nn_layer_desc *d)
{
    (void)prev;
    int shape[3] = {0};
    int rc = spec_get_shape(c, pc, c->positional[0], shape);
    d->h = shape[0];
    d->w = shape[1];
    d->c = shape[2];
    return rc;
}

static int rescaling_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                           nn_layer_desc *d)
{
    (void)prev;
    double x = 0;
    int rc = spec_get_float(c, pc, "scale", 1, 0, &x);
    d->scale = (float)x;
    if (!rc) {
        rc = spec_get_float(c, pc, "offset", 0, 0, &x);
        d->offset = (float)x;
    }
    return rc;
}

/* The geometry of a K-channel window k with strides s over prev's
 * output, and the output shape it gives d. */
static int set_window(const spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                      nn_layer_desc *d, int K, const int k[2], const int s[2], int same)
{
    d->g.K = K;
    d->g.H = prev->h;
    d->g.W = prev->w;
    d->g.C = prev->c;
    d->g.R = k[0];
    d->g.S = k[1];
    d->g.sh = s[0];
    d->g.sw = s[1];
    if (nn_conv_shape_set(&d->g, same)) {
        return spec_fail(pc, "%s: a %dx%d window does not fit a %dx%d input with padding=\"valid\"",
                         c->type, k[0], k[1], prev->h, prev->w);
    }
    d->h = d->g.P;
    d->w = d->g.Q;
    d->c = d->g.K;
    return 0;
}

static int conv2d_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                        nn_layer_desc *d)
{
    if (prev->flat) {
        return spec_fail(pc, "%s needs an (h, w, c) input, not a flat one", c->type);
    }
    int filters, k[2], s[2], same = 0, rc;
    if ((rc = spec_get_int(c, pc, "filters", -1, &filters)) ||
        (rc = spec_get_pair(c, pc, "kernel_size", -1, k)) ||
        (rc = spec_get_pair(c, pc, "strides", 1, s)) || (rc = spec_get_padding(c, pc, &same)) ||
        (rc = spec_get_act(c, pc, &d->act)) ||
        (rc = spec_get_bool(c, pc, "use_bias", 1, &d->use_bias)) ||
        (rc = set_window(c, pc, prev, d, filters, k, s, same))) {
        return rc;
    }
    d->w_n = (size_t)k[0] * k[1] * prev->c * filters;
    d->b_n = d->use_bias ? (size_t)filters : 0;
    d->fan_in = k[0] * k[1] * prev->c;
    d->fan_out = k[0] * k[1] * filters;
    return 0;
}

static int maxpool2d_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                           nn_layer_desc *d)
{
    if (prev->flat) {
        return spec_fail(pc, "%s needs an (h, w, c) input, not a flat one", c->type);
    }
    int k[2], s[2], same = 0, rc;
    if ((rc = spec_get_pair(c, pc, "pool_size", 2, k)) ||
        (rc = spec_get_pair(c, pc, "strides", 0, s)) || (rc = spec_get_padding(c, pc, &same))) {
        return rc;
    }
    if (s[0] == 0) { /* strides=None: the pool size */
        s[0] = k[0];
        s[1] = k[1];
    }
    return set_window(c, pc, prev, d, prev->c, k, s, same);
}

static int flatten_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                         nn_layer_desc *d)
{
    (void)c;
    (void)pc;
    d->c = prev->h * prev->w * prev->c;
    d->h = d->w = 1;
    d->flat = 1;
    return 0;
}

static int dense_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                       nn_layer_desc *d)
{
    int units, rc;
    if ((rc = spec_get_int(c, pc, "units", -1, &units)) || (rc = spec_get_act(c, pc, &d->act)) ||
        (rc = spec_get_bool(c, pc, "use_bias", 1, &d->use_bias))) {
        return rc;
    }
    if (!prev->flat) {
        return spec_fail(pc, "Dense needs a flat input: add Flatten() before it");
    }
    d->w_n = (size_t)prev->c * units;
    d->b_n = d->use_bias ? (size_t)units : 0;
    d->fan_in = prev->c;
    d->fan_out = units;
    d->c = units;
    return 0;
}

static int dropout_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                         nn_layer_desc *d)
{
    (void)prev;
    double x = 0;
    int rc = spec_get_float(c, pc, "rate", 1, 0, &x);
    if (!rc && !(x >= 0 && x < 1)) {
        return spec_fail(pc, "Dropout: rate must be in [0, 1)");
    }
    d->rate = (float)x;
    return rc;
}

static int activation_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                            nn_layer_desc *d)
{
    (void)prev;
    if (!spec_find(c, "activation")) {
        return spec_fail(pc, "Activation: missing argument 'activation'");
    }
    return spec_get_act(c, pc, &d->act);
}

static int preprocess_build(spec_call *c, const spec_ctx *pc, const nn_layer_desc *prev,
                            nn_layer_desc *d)
{
    (void)d;
    spec_arg *mode = spec_find(c, "mode");
    if (mode && (mode->v.kind != SPEC_V_STR || strcmp(mode->v.str, "caffe") != 0)) {
        return spec_fail(pc, "preprocess_input: only mode=\"caffe\" (VGG16's) is supported");
    }
    if (prev->flat || prev->c != 3) {
        return spec_fail(pc, "preprocess_input needs an (h, w, 3) RGB input");
    }
    return 0;
}

/* ---- weights and FLOPs ----------------------------------------------------- */

/* Keras stores a Conv2D kernel (R,S,C,K), a Dense one (Din,Dout), a bias
 * (K) or (Dout). */
static int conv2d_shape(const nn_layer_desc *d, int j, size_t dims[4])
{
    if (j == 1) {
        dims[0] = d->b_n;
        return 1;
    }
    dims[0] = (size_t)d->g.R;
    dims[1] = (size_t)d->g.S;
    dims[2] = (size_t)d->g.C;
    dims[3] = (size_t)d->g.K;
    return 4;
}

static int dense_shape(const nn_layer_desc *d, int j, size_t dims[4])
{
    if (j == 1) {
        dims[0] = d->b_n;
        return 1;
    }
    dims[0] = (size_t)d->fan_in;
    dims[1] = (size_t)d->c;
    return 2;
}

/* A convolution's forward is 2*P*Q*K*R*S*C per sample; its kernel
 * gradient and its input gradient are each the same product again. */
static nn_flops conv2d_flops(const nn_layer_desc *d)
{
    double f = 2.0 * d->g.P * d->g.Q * d->g.K * d->g.R * d->g.S * d->g.C;
    return (nn_flops){f, f, f};
}

/* Dense: 2*Din*Dout, three times likewise. */
static nn_flops dense_flops(const nn_layer_desc *d)
{
    double f = 2.0 * (double)d->w_n;
    return (nn_flops){f, f, f};
}

int nn_desc_weights(const nn_layer_desc *d)
{
    return (d->w_n > 0) + (d->b_n > 0);
}

/* ---- the table ------------------------------------------------------------- */

#define CONV2D_POS                                                                                 \
    {                                                                                              \
        "filters", "kernel_size", "strides", "padding"                                             \
    }
#define MAXPOOL2D_POS                                                                              \
    {                                                                                              \
        "pool_size", "strides", "padding"                                                          \
    }

const nn_kind_info nn_kinds[] = {
    [NN_INPUT] = {.keras = "InputLayer",
                  .stem = "input",
                  .sigs = {{"Input", {"shape"}}, {"InputLayer", {"input_shape"}}},
                  .build = input_build,
                  .view = 1},
    [NN_RESCALING] = {.keras = "Rescaling",
                      .stem = "rescaling",
                      .sigs = {{"Rescaling", {"scale", "offset"}}},
                      .build = rescaling_build,
                      .rescales = 1},
    [NN_CONV2D] = {.keras = "Conv2D",
                   .stem = "conv2d",
                   .sigs = {{"Conv2D", CONV2D_POS}, {"Convolution2D", CONV2D_POS}},
                   .build = conv2d_build,
                   .weights = {"kernel", "bias"},
                   .shape = conv2d_shape,
                   .flops = conv2d_flops,
                   .has_act = 1},
    [NN_MAXPOOL2D] = {.keras = "MaxPooling2D",
                      .stem = "max_pooling2d",
                      .sigs = {{"MaxPooling2D", MAXPOOL2D_POS}, {"MaxPool2D", MAXPOOL2D_POS}},
                      .build = maxpool2d_build,
                      .aux = 1},
    [NN_FLATTEN] = {.keras = "Flatten",
                    .stem = "flatten",
                    .sigs = {{"Flatten", {NULL}}},
                    .build = flatten_build,
                    .view = 1},
    [NN_DENSE] = {.keras = "Dense",
                  .stem = "dense",
                  .sigs = {{"Dense", {"units", "activation", "use_bias"}}},
                  .build = dense_build,
                  .weights = {"kernel", "bias"},
                  .shape = dense_shape,
                  .flops = dense_flops,
                  .has_act = 1},
    [NN_DROPOUT] = {.keras = "Dropout",
                    .stem = "dropout",
                    .sigs = {{"Dropout", {"rate"}}},
                    .build = dropout_build,
                    .aux = 1},
    [NN_ACTIVATION] = {.keras = "Activation",
                       .stem = "activation",
                       .sigs = {{"Activation", {"activation"}}},
                       .build = activation_build,
                       .has_act = 1},
    /* keras.applications.vgg16.preprocess_input, which Keras records as a
     * TFOpLambda layer: its x argument is the previous layer, so no
     * positional arguments. */
    [NN_PREPROCESS] = {.keras = "TFOpLambda",
                       .stem = "preprocess_input",
                       .sigs = {{"preprocess_input", {NULL}}},
                       .build = preprocess_build,
                       .rescales = 1},
};
_Static_assert(sizeof nn_kinds / sizeof nn_kinds[0] == NN_KINDS,
               "nn_kinds needs one entry per nn_kind");
