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
} nn_optim_kind;

/* Hyperparameters, with Keras's formulas (tf.keras 2 / Keras 3):
 *   SGD:     v = momentum*v - lr*g; w += nesterov ? momentum*v - lr*g : v
 *            (w -= lr*g without momentum)
 *   RMSprop: a = rho*a + (1-rho)*g^2; w -= lr*g / sqrt(a + eps)
 *   Adam:    m += (g-m)*(1-beta1); v += (g^2-v)*(1-beta2);
 *            w -= lr*sqrt(1-beta2^t)/(1-beta1^t) * m / (sqrt(v) + eps)
 * State starts at zero. */
typedef struct nn_optim_opts {
    nn_optim_kind kind;
    double lr;
    double momentum; /* SGD */
    int nesterov;    /* SGD */
    double rho;      /* RMSprop */
    double beta1;    /* Adam */
    double beta2;    /* Adam */
    double eps;      /* RMSprop, Adam */
} nn_optim_opts;

/* Keras's defaults for kind: SGD lr 0.01, momentum 0; RMSprop lr 1e-3,
 * rho 0.9, eps 1e-7; Adam lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7. */
nn_optim_opts nn_optim_defaults(nn_optim_kind kind);

/* "sgd", "rmsprop", "adam" (case-insensitive) -> kind; -1 if unknown. */
int nn_optim_parse(const char *name);
const char *nn_optim_name(nn_optim_kind kind);

#endif
