/* nn.h: convnets on the CPU with Keras's semantics (train/ module).
 *
 * A model is a stack of Keras layers built from a spec text (the built-in
 * models are spec texts too). It owns four arenas allocated once: params,
 * grads, optimizer state and activations (for a maximum batch size), so a
 * training step allocates nothing. Tensors are float32 NHWC, as Keras's
 * channels_last, so weights and Flatten's order match Keras's.
 *
 * Threads: a model is used by one thread at a time; BLAS runs only on that
 * thread. Functions without a model (spec and built-in lookups) are
 * thread-safe.
 */
#ifndef NN_H
#define NN_H

#include <stddef.h>
#include <stdint.h>

/* Activations of Conv2D, Dense and Activation layers. */
typedef enum nn_act {
    NN_ACT_LINEAR = 0,
    NN_ACT_RELU,
    NN_ACT_SIGMOID,
    NN_ACT_SOFTMAX,
} nn_act;

/* ---- optimizers --------------------------------------------------------- */

typedef enum nn_optim_kind {
    NN_OPT_SGD = 0,
    NN_OPT_RMSPROP,
    NN_OPT_ADAM,
    NN_OPT_RMSPROP_TF2,
} nn_optim_kind;

/* Hyperparameters, with Keras's formulas (tf.keras 2 / Keras 3):
 *   SGD:     v = momentum*v - lr*g; w += nesterov ? momentum*v - lr*g : v
 *            (w -= lr*g without momentum)
 *   RMSprop: a = rho*a + (1-rho)*g^2; w -= lr*g / sqrt(a + eps)
 *            with momentum: m = momentum*m + lr*g / sqrt(a + eps); w -= m
 *   RMSprop as tf.keras <= 2.10 ran it (the book's, "rmsprop-tf2"):
 *            w -= lr*g / (sqrt(a) + eps); with momentum as RMSprop's
 *            (its fused kernel had eps inside the root)
 *   Adam:    m += (g-m)*(1-beta1); v += (g^2-v)*(1-beta2);
 *            w -= lr*sqrt(1-beta2^t)/(1-beta1^t) * m / (sqrt(v) + eps)
 * State starts at zero. */
typedef struct nn_optim_opts {
    nn_optim_kind kind;
    double lr;
    double momentum; /* SGD, RMSprop */
    int nesterov;    /* SGD */
    double rho;      /* RMSprop */
    double beta1;    /* Adam */
    double beta2;    /* Adam */
    double eps;      /* RMSprop, Adam */
} nn_optim_opts;

/* Keras's defaults for kind: SGD lr 0.01, momentum 0; RMSprop lr 1e-3,
 * rho 0.9, eps 1e-7; Adam lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7. */
nn_optim_opts nn_optim_defaults(nn_optim_kind kind);

/* "sgd", "rmsprop", "adam", "rmsprop-tf2" (case-insensitive) -> kind; -1
 * if unknown. */
int nn_optim_parse(const char *name);
const char *nn_optim_name(nn_optim_kind kind);

/* ---- models ------------------------------------------------------------ */

typedef struct nn_model nn_model; /* opaque */

/* Which loss the final activation is fused with. AUTO: binary for sigmoid,
 * sparse categorical for softmax. */
typedef enum nn_loss_kind {
    NN_LOSS_AUTO = 0,
    NN_LOSS_BINARY,      /* binary_crossentropy, sigmoid output */
    NN_LOSS_CATEGORICAL, /* categorical_crossentropy, softmax (labels one-hot) */
    NN_LOSS_SPARSE,      /* sparse_categorical_crossentropy, softmax */
} nn_loss_kind;

/* "binary_crossentropy", "categorical_crossentropy",
 * "sparse_categorical_crossentropy" (or "binary", "categorical", "sparse",
 * "auto") -> kind; -1 if unknown. */
int nn_loss_parse(const char *name);
const char *nn_loss_name(nn_loss_kind kind);

/* The spec text of a built-in model (mnist, mnist-3conv, catsdogs-1st,
 * catsdogs-1st-dropout, catsdogs-2nd, catsdogs-2nd-dropout, vgg16-base,
 * vgg16, vgg16-catsdogs, vgg16-head), NULL if `name` is not one. Static
 * storage. */
const char *nn_builtin_spec(const char *name);
/* The i-th built-in's name, NULL past the last. */
const char *nn_builtin_name(int i);

/* A model argument as users give it: a built-in name, else a spec file.
 * *text is malloc'd (the caller frees it). Returns 0; CK_EINVAL when it is
 * neither a built-in nor an existing file (the message lists the built-ins
 * and suggests the nearest, "mnist3conv: ...; did you mean mnist-3conv?");
 * CK_EIO, CK_ELIMIT, CK_ENOMEM. */
int nn_spec_load(const char *model, char **text, char *err, size_t errlen);

/* The spec text with its Input shape replaced by (h, w, c), c <= 0
 * keeping the spec's channels: how one model serves several image sizes
 * (Keras's input_shape). *out is malloc'd. Returns 0, CK_EFORMAT (a bad
 * spec, or one that does not fit the new shape: the message says why),
 * CK_EINVAL, CK_ENOMEM. */
int nn_spec_set_input(const char *spec, const char *source, int h, int w, int c, char **out,
                      char *err, size_t errlen);

/* Builds a model from spec text (one Keras layer per line, see README):
 * parses, computes shapes and allocates every arena for up to `batch`
 * samples per forward. `name` names the model in errors ("name:LINE: spec:
 * reason") and in the summary. Weights are zero until nn_model_init.
 * Returns 0, CK_EFORMAT (bad spec), CK_EINVAL (batch < 1), CK_ENOMEM. */
int nn_model_create(nn_model **out, const char *spec, const char *name, int batch, char *err,
                    size_t errlen);
void nn_model_destroy(nn_model *m); /* NULL is a no-op */

/* Glorot-uniform kernels and zero biases, drawn from streams keyed by
 * (seed, layer index); resets optimizer state. */
void nn_model_init(nn_model *m, uint64_t seed);

size_t nn_model_params(const nn_model *m);
/* Parameters of the layers that are not frozen. */
size_t nn_model_trainable_params(const nn_model *m);
/* Keras's layer.trainable: freezes every layer before the one named `from`
 * and makes it and all after it trainable (from NULL: all trainable),
 * overriding the spec's trainable=False. A frozen layer's weights are not
 * updated, and no gradient is computed below the lowest trainable layer.
 * Activation gradients are kept only where a gradient arrives, so
 * freezing layers also gives back their memory. Returns 0, CK_EINVAL (no
 * such layer), CK_ENOMEM. */
int nn_model_trainable_from(nn_model *m, const char *from, char *err, size_t errlen);
/* Freezes every layer: a model only run forward (extract-features) keeps
 * no activation gradient but the loss's. Returns 0, CK_ENOMEM. */
int nn_model_freeze(nn_model *m, char *err, size_t errlen);
int nn_model_batch(const nn_model *m);
const char *nn_model_name(const nn_model *m);
const char *nn_model_spec(const nn_model *m);
/* The input shape (H, W, C) of one sample. */
void nn_model_input_shape(const nn_model *m, int *h, int *w, int *c);
/* The output shape (H, W, C) of one sample; a flat output is (1, 1, C). */
void nn_model_output_shape(const nn_model *m, int *h, int *w, int *c);
/* Runs OpenBLAS, and so every model's kernels, on `threads` threads from
 * now on (a process-wide setting, as OpenBLAS's is); 0 leaves it. */
void nn_set_threads(int threads);
/* Floats per sample of the output (classes, or 1 for a binary model). */
int nn_model_outputs(const nn_model *m);
/* The final activation (NN_ACT_SIGMOID or NN_ACT_SOFTMAX for a model that
 * can be trained). */
nn_act nn_model_output_act(const nn_model *m);
/* 1 when the model starts with a Rescaling layer (catsdogs-2nd) or VGG16's
 * preprocess_input: it takes pixels in [0, 255]; 0 when it expects inputs
 * already scaled, as the book's other models do ([0, 1]). */
int nn_model_rescales(const nn_model *m);

/* Keras's model.summary() table (tf.keras 2 layout for a Sequential model,
 * as the book prints it): layer (type), output shape, param #, then
 * total/trainable/non-trainable. *out is malloc'd. Returns 0, CK_ENOMEM. */
int nn_model_summary(const nn_model *m, char **out);

/* ---- one step, for custom loops and benchmarks --------------------------- */

/* The dropout key of a training forward: masks are drawn from the stream
 * (seed, epoch, layer << 40 | batch, CK_RNG_DROPOUT), so a resumed run
 * draws the same masks as an uninterrupted one. */
typedef struct nn_step_key {
    uint64_t seed;
    int epoch;     /* 0-based */
    int64_t batch; /* 0-based index of the batch in its epoch */
    int offset;    /* the first sample's place in its batch: a forward over
                      a shard draws the masks the whole batch's would */
} nn_step_key;

/* Forward over n <= batch samples x (n, H, W, C) NHWC. key != NULL: training
 * (dropout on); NULL: inference. x is borrowed until nn_model_backward.
 * Returns 0 or CK_EINVAL (n out of range). */
int nn_model_forward(nn_model *m, const float *x, int n, const nn_step_key *key);
/* The last forward's output probabilities (n, outputs), valid until the
 * next forward. */
const float *nn_model_output(const nn_model *m);
/* After a forward: the SUM over its n samples of the loss, and the gradient
 * of the batch mean placed where backward starts. labels (n) are class
 * indices (0/1 for binary). Returns NAN for a loss that does not fit the
 * final activation. */
double nn_model_loss(nn_model *m, nn_loss_kind loss, const int32_t *labels);
/* The same for a forward over a shard of a batch of `batch` samples: the
 * gradient placed is the shard's part of the whole batch mean's. */
double nn_model_loss_shard(nn_model *m, nn_loss_kind loss, const int32_t *labels, int batch);
/* Correct predictions of the last forward against labels (Keras accuracy). */
int64_t nn_model_correct(const nn_model *m, const int32_t *labels);
/* Zeroes the gradient arena (each layer writes its input's gradient whole). */
void nn_zero_grad(nn_model *m);
/* Backpropagates the last training forward, ADDING into the gradients. */
void nn_model_backward(nn_model *m);
/* Chooses the optimizer; allocates and zeroes its state. Returns 0,
 * CK_ENOMEM. */
int nn_model_set_optim(nn_model *m, const nn_optim_opts *o);
/* One optimizer update from the gradients. */
void nn_model_update(nn_model *m);

/* ---- checkpoints, evaluation, prediction --------------------------------- */

/* Loads a checkpoint written by nn_train: rebuilds the model from the spec
 * it holds, with its weights, for up to `batch` samples per forward.
 * Returns 0, CK_EIO, CK_EFORMAT (not a checkpoint, wrong version, damaged:
 * the message says which), CK_ENOMEM. */
int nn_model_load(nn_model **out, const char *path, int batch, char *err, size_t errlen);
/* The configuration JSON of the run that wrote the checkpoint the model was
 * loaded from (with the caller's "extra" object, e.g. class names); NULL
 * for a model that was not loaded. Valid while the model lives. */
const char *nn_model_config(const nn_model *m);

/* One batch lent by a source: x (n, H, W, C) float32 NHWC in the range the
 * model expects (see nn_model_rescales), labels (n) class indices (0/1 for
 * a binary model). Both borrowed until the next call. A source that
 * serves one process of several may lend only that process's part of
 * each batch: samples [offset, offset + n) of a batch of `total`, n
 * possibly 0 (total 0: the whole batch, offset 0). n == 0 with total 0
 * ends the epoch. */
typedef struct nn_batch {
    const float *x;
    const int32_t *labels;
    int n;
    int total, offset;
} nn_batch;

/* Where batches come from (the training loader, a validation split, or
 * synthetic data in tests). Called only from the thread running nn_train /
 * nn_evaluate. Callbacks return 0 or a negative CK_E* code with a message
 * in err. */
typedef struct nn_source {
    void *ctx;
    int64_t size; /* samples per epoch, for progress and ETA; 0 if unknown */
    /* Starts epoch `epoch` (0-based): the source orders its samples for it
     * (shuffles keyed by the epoch). May be NULL. */
    int (*begin)(void *ctx, int epoch, char *err, size_t errlen);
    /* Lends the next batch, at most nn_model_batch() samples. */
    int (*next)(void *ctx, nn_batch *b, char *err, size_t errlen);
} nn_source;

/* Loss, accuracy and confusion matrix of a model on a source. */
typedef struct nn_eval {
    double loss, accuracy; /* means over samples */
    int64_t n;             /* samples seen */
    int classes;           /* outputs, or 2 for a binary model */
    int64_t *confusion;    /* (classes, classes): row = true, column = predicted */
    float *outputs;        /* nn_evaluate_outputs only, else NULL: (n, outputs)
                              probabilities, each sample's in the source's order
                              (P(class 1) for a binary model) */
} nn_eval;

/* Runs src's epoch `epoch` through the model in inference mode. out's
 * confusion is malloc'd: release with nn_eval_free. Returns 0, the
 * source's error, CK_EINVAL (a bad label or batch size, or a loss that does
 * not fit the output), CK_ENOMEM. */
int nn_evaluate(nn_model *m, nn_loss_kind loss, const nn_source *src, int epoch, nn_eval *out,
                char *err, size_t errlen);
/* As nn_evaluate, keeping every sample's probabilities in out->outputs
 * (malloc'd, released by nn_eval_free): what a report needs to show the
 * most confident mistakes. The figures are nn_evaluate's, bit for bit. */
int nn_evaluate_outputs(nn_model *m, nn_loss_kind loss, const nn_source *src, int epoch,
                        nn_eval *out, char *err, size_t errlen);
void nn_eval_free(nn_eval *e); /* NULL is a no-op */

/* Class probabilities of n samples x (n, H, W, C), any n, in chunks of the
 * model's batch: probs (n, outputs). For a binary model the output is
 * P(class 1). Returns 0 or CK_EINVAL. */
int nn_predict(nn_model *m, const float *x, int64_t n, float *probs);

/* ---- what the network looks at (viz.c) -----------------------------------
 *
 * The book's three pictures of a trained convnet, as numbers: each layer's
 * output for one image, the input pattern a filter responds to most, and
 * Grad-CAM's class activation map. cli/ draws them (augment/'s figures). */

/* One layer as the pictures name it. */
typedef struct nn_layer_info {
    const char *name; /* Keras's layer name; valid while the model lives */
    const char *type; /* Keras's class: "Conv2D", "MaxPooling2D"... (static) */
    int h, w, c;      /* its output for one sample; a flat one is (1, 1, c) */
    int kh, kw, kc;   /* Conv2D: kernel height, width and input channels;
                         MaxPooling2D: the window (kc 0); else 0 */
    /* Conv2D and Dense: the kernel (Conv2D (kh, kw, kc, c), Dense (in, c),
     * Keras's layout) and the bias (c) or NULL; NULL for layers without
     * weights. Valid while the model lives. */
    const float *kernel, *bias;
} nn_layer_info;

/* Layers, Input included as layer 0. */
int nn_model_layers(const nn_model *m);
/* Layer i's description. Returns 0, or CK_EINVAL when i is out of range. */
int nn_model_layer_info(const nn_model *m, int i, nn_layer_info *out);
/* The index of the layer called name, -1 if none is. */
int nn_model_layer_find(const nn_model *m, const char *name);

/* Rebuilds m, weights, optimizer and configuration kept, as a model that
 * can be looked into: every layer's output is kept (no convolution runs
 * fused with the pool after it) and gradients reach the input. It can
 * still be trained, a little slower. A no-op on a model already
 * inspecting. Returns 0, CK_ENOMEM (m unchanged). */
int nn_model_inspect(nn_model *m, char *err, size_t errlen);
/* Layer i's output (n, h, w, c) from the last forward of n samples, valid
 * until the next forward; layer 0 is the input. NULL for i out of range,
 * and for a convolution's output that a model not inspecting never stores
 * (fused with its pool). */
const float *nn_model_layer_output(const nn_model *m, int i);
/* After an inference forward of n samples on an inspecting model: the
 * gradient with respect to the input of sum(seed * layer's output),
 * WRITTEN to dx (n, H, W, C). seed is (n, h, w, c) of layer `layer`; for
 * the final layer it is the gradient of its logits (its input to the final
 * activation: class scores), not of its probabilities. Parameter
 * gradients are added to, as by nn_model_backward. Returns 0, or
 * CK_EINVAL (a model not inspecting, layer out of range or 0). */
int nn_model_input_grad(nn_model *m, int layer, const float *seed, float *dx);

/* Grad-CAM (Selvaraju et al. 2017) of one image for one class. */
typedef struct nn_gradcam {
    int layer;       /* the convolution explained: the last Conv2D */
    int cls;         /* the class explained */
    int predicted;   /* the model's class for the image */
    float prob;      /* the model's probability of cls */
    float pred_prob; /* ... and of the predicted class */
    float score;     /* cls's score: its logit (a binary model's class 0: -logit) */
    int h, w, c;     /* the layer's output A (h, w, c) */
    /* (c) weights alpha_k = mean over (h, w) of d score / d A_k, and the
     * map (h, w) = ReLU(sum_k alpha_k A_k), not normalised; malloc'd */
    float *alpha, *map;
} nn_gradcam;

/* Grad-CAM of image x (H, W, C, the model's input) on the last Conv2D,
 * for class cls (-1: the predicted one; 0 or 1 for a binary model), with
 * the class's score taken before the final activation, as the paper does.
 * Makes m inspecting (nn_model_inspect) first. Release out with
 * nn_gradcam_free. Returns 0, CK_EINVAL (no Conv2D layer, cls out of
 * range: the message says which), CK_ENOMEM. */
int nn_gradcam_run(nn_model *m, const float *x, int cls, nn_gradcam *out, char *err, size_t errlen);
void nn_gradcam_free(nn_gradcam *g); /* NULL is a no-op */

/* How a filter's pattern is found: the book's gradient ascent in input
 * space. From a grey image with uniform noise (0.5 +- noise of the pixel
 * range, drawn from seed and the layer and filter indices), `steps` steps
 * of x += step * g / rms(g), g the gradient of the mean over the map of
 * the filter's response before the layer's activation (so that a filter
 * silent on the grey start has a gradient too): each step moves the image
 * by `step` of the pixel range in root mean square, whatever its size. */
typedef struct nn_ascent {
    int steps;    /* default 30 */
    double step;  /* fraction of the pixel range; default 0.02 */
    double noise; /* default 0.1 */
    uint64_t seed;
} nn_ascent;
nn_ascent nn_ascent_defaults(void);

/* The input patterns that filters[0..n) of layer `layer` (channels of its
 * output) respond to most: x (n, H, W, C) in the model's input units (0..1
 * or 0..255, nn_model_rescales), the same for a given seed, filter and
 * model whatever the others asked for. start and end (n each, may be
 * NULL) get each filter's mean output (after the activation) before the
 * first step and after the last. Makes m inspecting first; runs nn_model_batch(m) filters at
 * a time. Returns 0, CK_EINVAL (layer or a filter out of range, bad
 * options), CK_ENOMEM. */
int nn_filter_patterns(nn_model *m, int layer, const int *filters, int n, const nn_ascent *o,
                       float *x, float *start, float *end, char *err, size_t errlen);

/* ---- stored features (features.c) ---------------------------------------
 *
 * features.db holds what a frozen conv base made of each sample of a
 * dataset's splits (convkit extract-features), so that a small classifier
 * trains on them in seconds per epoch. Not thread-safe per object. */

typedef struct nn_features nn_features;         /* a features.db being written */
typedef struct nn_features_src nn_features_src; /* one split of one, read */

/* Starts path (written to path.part, renamed over path by commit) for
 * samples of shape (h, w, c); config is a JSON object recorded with them
 * (model, weights, dataset, classes...). Returns 0, CK_EDB, CK_ENOMEM. */
int nn_features_create(nn_features **out, const char *path, int h, int w, int c, const char *config,
                       char *err, size_t errlen);
/* Stores sample idx (0, 1, 2... within its split) of split: its catalog
 * id, label (-1: none) and h*w*c floats. Returns 0, CK_EDB. */
int nn_features_add(nn_features *f, const char *split, int64_t idx, int64_t sample_id,
                    int32_t label, const float *x, char *err, size_t errlen);
/* Writes everything and puts the file in place; f is freed either way.
 * Returns 0, CK_EDB, CK_EIO. */
int nn_features_commit(nn_features *f, char *err, size_t errlen);
/* Frees f and removes the temporary file. NULL is a no-op. */
void nn_features_abort(nn_features *f);

/* Reads one split of a features.db into memory and serves it as a source
 * of batches of `batch`, in index order, or shuffled per epoch from (seed,
 * epoch) with shuffle. Returns 0, CK_EIO (missing), CK_EFORMAT (not a
 * features.db, another version, a bad row), CK_EINVAL (no such split),
 * CK_EDB, CK_ENOMEM. */
int nn_features_open(nn_features_src **out, const char *path, const char *split, int batch,
                     int shuffle, uint64_t seed, char *err, size_t errlen);
void nn_features_close(nn_features_src *s); /* NULL is a no-op */
/* The source over it (valid while s lives), its sample shape and the
 * config JSON it was written with. */
const nn_source *nn_features_source(nn_features_src *s);
void nn_features_shape(const nn_features_src *s, int *h, int *w, int *c);
const char *nn_features_config(const nn_features_src *s);

/* ---- training ----------------------------------------------------------- */

/* What the trainer reports after each batch and each epoch. */
typedef struct nn_progress {
    int epoch, epochs;      /* 1-based */
    int64_t batch, batches; /* done in this epoch; expected (0 if unknown) */
    int64_t samples;        /* seen in this epoch */
    double loss, accuracy;  /* running means over this epoch */
    double seconds;         /* since the epoch began */
    int validating;         /* on_batch once more after the last batch, as the
                               validation split starts */
    /* Set at the end of an epoch: */
    double val_loss, val_accuracy; /* NAN without a validation source */
    double images_per_s;           /* training samples per second */
    double input_stall;            /* seconds spent waiting for batches */
    double comm_wait;              /* seconds spent waiting for the other
                                      processes (0 for one process) */
    int best;                      /* val_loss improved (never without validation) */
    double lr;                     /* the learning rate the epoch trained with */
    double next_lr;                /* the next epoch's (lower after a plateau) */
} nn_progress;

/* Where the record of a run goes (cli/ connects it to runs.db). Called
 * on the training thread: start once before the first epoch, with the
 * run's configuration JSON, the model summary, and `done` epochs already
 * completed (a resumed run: rows after it are to be dropped, since they
 * were recorded after the checkpoint resumed from); epoch after each epoch
 * and BEFORE that epoch's checkpoints are written; finish once, with
 * "done", "interrupted" or "failed", when start succeeded. Each returns 0
 * or a negative CK_E* code with a message in err, which stops the run. */
typedef struct nn_recorder {
    void *ctx;
    int (*start)(void *ctx, const char *config, const char *summary, int resume, int done,
                 char *err, size_t errlen);
    int (*epoch)(void *ctx, const nn_progress *p, char *err, size_t errlen);
    int (*finish)(void *ctx, const char *status, char *err, size_t errlen);
} nn_recorder;

/* The processes that train one model together, each on its part of every
 * batch (cli/ builds it on MPI, dist/); rank 0 is the one that records.
 * Every process makes the same calls in the same order. Each returns 0 or
 * a negative CK_E* code with a message in err. The nonblocking calls
 * return a request in *req, which wait() completes and frees. */
typedef struct nn_comm {
    void *ctx;
    int rank, size;
    int (*send)(void *ctx, const float *buf, size_t n, int to, int tag, void **req, char *err,
                size_t errlen);
    int (*recv)(void *ctx, float *buf, size_t n, int from, int tag, void **req, char *err,
                size_t errlen);
    int (*bcast)(void *ctx, float *buf, size_t n, int root, void **req, char *err, size_t errlen);
    int (*wait)(void *ctx, void *req, char *err, size_t errlen);
    /* Blocking: v[0..n) summed over the processes, in place. The trainer
     * uses it only where each element is nonzero on one process at most,
     * so the sums are exact and the same on every process. */
    int (*sum)(void *ctx, double *v, int n, char *err, size_t errlen);
    /* Blocking: rank 0's n bytes copied to every process. */
    int (*share)(void *ctx, void *buf, size_t n, char *err, size_t errlen);
} nn_comm;

/* Keras's ReduceLROnPlateau(monitor="val_loss"): once val_loss has not
 * fallen below its best less min_delta for `patience` epochs, the
 * learning rate is multiplied by factor (not below min_lr), and `cooldown`
 * epochs pass before epochs count again. patience 0: off. */
typedef struct nn_plateau {
    int patience;
    double factor;    /* in (0, 1) */
    double min_delta; /* Keras's default 1e-4 */
    int cooldown;
    double min_lr;
} nn_plateau;

/* Keras's defaults: patience 10, factor 0.1, min_delta 1e-4, cooldown 0,
 * min_lr 0. */
nn_plateau nn_plateau_defaults(void);
/* Sets member `key` (factor, patience, cooldown, min_lr, min_delta) to v.
 * Returns 0, or CK_EINVAL with the rule it breaks (factor in (0, 1),
 * patience >= 1, cooldown >= 0, both whole, min_lr and min_delta >= 0),
 * or for an unknown key the keys and the nearest. */
int nn_plateau_set(nn_plateau *pl, const char *key, double v, char *err, size_t errlen);

typedef struct nn_train_opts {
    int epochs;
    nn_optim_opts optim;
    nn_loss_kind loss;
    uint64_t seed; /* initial weights, dropout masks */
    int threads;   /* OpenBLAS threads; 0 leaves them as they are */
    /* The batch's gradient is the sum of the gradients of `shards` equal
     * cuts of it, taken in shard order, each computed the same way
     * wherever it runs: the same bits on any number of processes up to
     * `shards`. 0 or 1: the whole batch at once (one process only). */
    int shards;
    const nn_comm *comm;        /* NULL: this process alone */
    int patience;               /* early stopping on val_loss, Keras's rule; 0: off.
                                   Needs a validation source (CK_EINVAL) */
    nn_plateau plateau;         /* learning rate cut on a val_loss plateau; also
                                   needs validation */
    const nn_recorder *record;  /* where epochs are recorded; NULL: nowhere */
    const char *dataset_hash;   /* in the configuration; may be NULL */
    const char *config_extra;   /* a JSON object recorded as "extra"; may be NULL */
    const char *weights;        /* Keras .h5 weights loaded by layer name after the
                                   initialisation (nn_model_load_h5); NULL: none */
    const char *trainable_from; /* nn_model_trainable_from's layer; NULL: the
                                   spec's trainable flags */
    const char *last_path;      /* checkpoint after every epoch; NULL: none */
    const char *best_path;      /* checkpoint of the lowest-val_loss epoch; never
                                   written without validation; NULL: none */
    int resume;                 /* continue from last_path (from the start if
                                   it was never written); the configuration
                                   must be the recorded one but for epochs,
                                   which may grow (an extended run) or
                                   shrink to the epochs done */
    /* Called on the training thread; a nonzero return stops the run
     * (status "interrupted"); may be NULL. */
    int (*on_batch)(void *ctx, const nn_progress *p);
    int (*on_epoch)(void *ctx, const nn_progress *p);
    void *cb_ctx;
} nn_train_opts;

/* Defaults: 1 epoch, RMSprop with Keras's defaults, loss AUTO, seed 0. */
nn_train_opts nn_train_defaults(void);

/* The configuration JSON nn_train(m, o, ...) records and checkpoints
 * (model, spec, epochs, batch, optimizer, loss, seed, threads, patience,
 * dataset_hash, weights, trainable_from, extra), malloc'd; NULL when the
 * loss does not fit the model or memory runs out. */
char *nn_train_config(const nn_model *m, const nn_train_opts *o);

typedef struct nn_train_result {
    int epochs_done;   /* completed epochs, including resumed ones */
    int best_epoch;    /* 1-based; 0 if none (always 0 without validation) */
    double best_loss;  /* val_loss at best_epoch */
    int stopped_early; /* by patience */
    int bad_epoch;     /* 1-based epoch of a NaN/inf loss, else 0 */
    int64_t bad_batch; /* 1-based batch within bad_epoch */
} nn_train_result;

/* Trains m on `train` (and evaluates `val`, which may be NULL, after each
 * epoch), Keras's fit loop: batches in the source's order, one update per
 * batch, epoch means weighted by samples. Every epoch is recorded
 * (opts.record), then checkpointed (best, then last), so a run killed at any
 * point resumes (opts.resume) from its last checkpoint to the same curve,
 * bit for bit, as an uninterrupted run with the same thread count; resumed
 * with more epochs, a finished run goes on to the curve of a run trained
 * to that many from the start (one stopped early stays stopped). A
 * NaN/inf loss stops the run before its update, with the epoch and batch in
 * err; the checkpoints of earlier epochs stay. BLAS runs on the calling
 * thread only (opts.threads of them).
 * Returns 0; CK_ECANCELED (a callback asked to stop), CK_ENUMERIC,
 * CK_EINVAL (options, labels, a model that cannot be trained), CK_EDB,
 * CK_EIO, CK_EFORMAT (a bad checkpoint), or the source's error. res may be
 * NULL. */
int nn_train(nn_model *m, const nn_train_opts *opts, const nn_source *train, const nn_source *val,
             nn_train_result *res, char *err, size_t errlen);

/* ---- Keras HDF5 weights (h5.c) ------------------------------------------
 *
 * The layout of Keras's model.save_weights (and of model.save under the
 * group /model_weights): root attribute layer_names, one group per layer
 * with attribute weight_names (kernel, then bias), and each weight a
 * dataset at <layer>/<weight name>, e.g. block1_conv1/block1_conv1/kernel:0.
 * Kernels are stored as Keras stores them: Conv2D (R,S,C,K), Dense
 * (in,out); biases (K).
 *
 * Threads: not thread-safe. Debian's libhdf5 is the serial build, whose
 * state is process-wide: make one call at a time in a process, and no
 * other HDF5 calls meanwhile. Each call turns libhdf5's automatic error
 * printing off while it runs (nothing is printed) and restores it. */

/* Flags of nn_model_load_h5. COMPLETE: every model layer with weights
 * must be in the file (a conv base from a file that also holds a
 * classifier); STRICT: that, and every file layer with weights must be in
 * the model. */
enum { NN_H5_STRICT = 1, NN_H5_COMPLETE = 2 };

/* Loads Keras weights into m by layer name, as Keras's
 * load_weights(by_name=True). path is a weights file (model.save_weights,
 * or keras.applications' vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5)
 * or a whole-model file (model.save). Attribute strings may be fixed-length
 * or variable-length; lists Keras split into layer_names0, layer_names1...
 * are joined. Weights are matched by position in weight_names (kernel,
 * then bias), whatever their names, as Keras does.
 * Every model layer with weights whose name is in the file gets its kernel
 * and bias, converted to float32 from float32 or float64 datasets. A name
 * match with another weight count or shape (another kind of layer) is
 * CK_EFORMAT naming the layer and both shapes ("vgg.h5:
 * block1_conv1/block1_conv1/kernel:0: shape (3,3,3,64) in the file,
 * (3,3,1,64) in the model"). Without NN_H5_STRICT, file layers the model
 * lacks are skipped and model layers the file lacks keep their weights;
 * with it, a layer with weights on one side only is CK_EFORMAT. No layer
 * loaded at all is CK_EINVAL. *loaded (may be NULL) = model layers loaded.
 * Optimizer state is untouched.
 * Returns 0, CK_EIO (cannot open: missing, not HDF5, truncated),
 * CK_EFORMAT (not Keras's layout, a wrong dtype, count or shape: the
 * message names the path inside the file), CK_EINVAL, CK_ENOMEM. On error
 * m's weights are unchanged (everything is read into scratch first). */
int nn_model_load_h5(nn_model *m, const char *path, int flags, int *loaded, char *err,
                     size_t errlen);

/* Writes m's weights in Keras 2's save_weights layout, which Keras's
 * model.load_weights and nn_model_load_h5 read: root attributes
 * layer_names (every layer in model order, Input excluded as in a
 * Sequential model), backend "tensorflow", keras_version "2.13.1"; per
 * layer a group with attribute weight_names ("conv2d/kernel:0",
 * "conv2d/bias:0"; an empty list for layers without weights) and the
 * float32 datasets; an empty group top_level_model_weights. Strings are
 * fixed-length NUL-padded ASCII, as h5py 2 wrote them (the
 * keras.applications files). Written to a temporary file in the same
 * directory, flushed to disk and renamed over path, so path is whole or
 * untouched. Returns 0, CK_EIO, CK_ENOMEM. */
int nn_model_save_h5(const nn_model *m, const char *path, char *err, size_t errlen);

/* ---- measurement --------------------------------------------------------- */

/* Where one layer's time goes, per training step. */
typedef struct nn_bench_layer {
    char name[64];    /* Keras's layer name */
    const char *type; /* "Conv2D", ... (static) */
    double forward_s; /* seconds per step */
    double backward_s;
    double gflop; /* GFLOP per step, forward + backward */
} nn_bench_layer;

typedef struct nn_bench {
    int batch, threads, steps;
    double train_images_per_s; /* forward, loss, backward, update */
    double infer_images_per_s; /* forward only */
    double step_s;             /* seconds per training step */
    /* CPU seconds per training step, all of the process's threads: on a
     * shared machine step_cpu_s / (threads * step_s) is the share of its
     * threads' cores the run got. */
    double step_cpu_s;
    double step_gflop;               /* GFLOP per training step (convolutions, dense) */
    double gflops;                   /* achieved: step_gflop / step_s */
    double zero_s, loss_s, update_s; /* per step, outside the layers */
    /* The reference: a bare OpenBLAS sgemm on the same threads, measured in
     * the same run (the best GFLOP/s over a square and a convolution-shaped
     * product), and the step's share of it. */
    double sgemm_gflops;
    double peak_fraction;  /* gflops / sgemm_gflops */
    const char *blas_core; /* OpenBLAS's kernel family ("SkylakeX"; static) */
    const char *isa;       /* convkit's kernel tier ("avx512", "avx2", "generic") */
    double peak_rss_mib;   /* the process's peak resident set so far */
    int nlayers;
    nn_bench_layer *layers; /* nlayers rows, Input excluded; malloc'd */
} nn_bench;

/* Times `steps` training steps (after one warm-up) and as many inference
 * forwards of m on synthetic full batches (uniform pixels in the model's
 * range, labels cycling), with OpenBLAS on `threads` threads (0: as set),
 * then the sgemm reference (about a second). A model without a final
 * activation (a conv base such as vgg16-base) has no loss to train: only
 * its inference is timed, and step_s, step_cpu_s, gflops, the layers'
 * forward_s and gflop describe one inference forward (train_images_per_s
 * is 0). Weights are re-initialised
 * from seed 0. Returns 0, CK_EINVAL, CK_ENOMEM; release out with
 * nn_bench_free. */
int nn_bench_run(nn_model *m, int threads, int steps, nn_bench *out, char *err, size_t errlen);
void nn_bench_free(nn_bench *b); /* NULL is a no-op */

#endif
