/* optim.c: Keras's optimizers and initialiser.
 *
 * The updates follow tf.keras 2 / Keras 3 literally, in float32 like
 * Keras's variables, including where epsilon goes: inside the square root
 * for RMSprop (tf.keras >= 2.11, Keras 3), outside it for Adam (the
 * "epsilon hat" of Kingma & Ba, with the bias corrections folded into the
 * step size) and for rmsprop-tf2, RMSprop as tf.keras <= 2.10 ran it
 * without momentum (the book's runs). On the first step of the book's
 * mnist the two RMSprops differ by about 2x for half the parameters. RMSprop's momentum is
 * tf.keras's: plain (not Nesterov's) momentum on the scaled step,
 * mom = momentum*mom + lr*g/sqrt(ms + eps), w -= mom, in a second slot. All parameters of a
 * model sit in one arena, so one update is one pass over three or four
 * arrays. Glorot-uniform draws the kernel in Keras's storage order from a
 * stream keyed by the seed and the layer, so a model's initial weights do
 * not depend on anything but (seed, spec).
 */
#include <math.h>
#include <strings.h>

#include "nn_kern.h"

nn_optim_opts nn_optim_defaults(nn_optim_kind kind)
{
    nn_optim_opts o = {
        .kind = kind, .lr = 1e-3, .rho = 0.9, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7};
    if (kind == NN_OPT_SGD) {
        o.lr = 0.01;
    }
    return o;
}

static const char *const optim_names[] = {"sgd", "rmsprop", "adam", "rmsprop-tf2"};

int nn_optim_parse(const char *name)
{
    for (int k = 0; k < 4; k++) {
        if (name && strcasecmp(name, optim_names[k]) == 0) {
            return k;
        }
    }
    return -1;
}

const char *nn_optim_name(nn_optim_kind kind)
{
    return kind <= NN_OPT_RMSPROP_TF2 ? optim_names[kind] : "?";
}

int nn_optim_eps_outside(const nn_optim_opts *o)
{
    return o->kind == NN_OPT_RMSPROP_TF2 && o->momentum == 0.0;
}

int nn_optim_slots(const nn_optim_opts *o)
{
    switch (o->kind) {
    case NN_OPT_SGD: return o->momentum != 0.0 ? 1 : 0;
    case NN_OPT_RMSPROP:
    case NN_OPT_RMSPROP_TF2: return o->momentum != 0.0 ? 2 : 1;
    case NN_OPT_ADAM: return 2;
    }
    return 0;
}

void nn_optim_update(const nn_optim_opts *o, int64_t t, size_t n, float *w, const float *g,
                     float *s1, float *s2)
{
    const float lr = (float)o->lr;
    switch (o->kind) {
    case NN_OPT_SGD:
        if (o->momentum == 0.0) {
            for (size_t i = 0; i < n; i++) {
                w[i] -= g[i] * lr;
            }
        } else {
            const float mu = (float)o->momentum;
            for (size_t i = 0; i < n; i++) {
                s1[i] = -g[i] * lr + s1[i] * mu;
                w[i] += o->nesterov ? -g[i] * lr + s1[i] * mu : s1[i];
            }
        }
        break;
    case NN_OPT_RMSPROP:
    case NN_OPT_RMSPROP_TF2: {
        const float rho = (float)o->rho, eps = (float)o->eps, mu = (float)o->momentum;
        const int outside = nn_optim_eps_outside(o);
        for (size_t i = 0; i < n; i++) {
            s1[i] = rho * s1[i] + (1.0f - rho) * g[i] * g[i];
            const float step = lr * g[i] / (outside ? sqrtf(s1[i]) + eps : sqrtf(s1[i] + eps));
            if (o->momentum == 0.0) {
                w[i] -= step;
            } else {
                s2[i] = mu * s2[i] + step;
                w[i] -= s2[i];
            }
        }
        break;
    }
    case NN_OPT_ADAM: {
        const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
        const float step = (float)(t + 1);
        const float alpha = lr * sqrtf(1.0f - powf(b2, step)) / (1.0f - powf(b1, step));
        for (size_t i = 0; i < n; i++) {
            s1[i] += (g[i] - s1[i]) * (1.0f - b1);
            s2[i] += (g[i] * g[i] - s2[i]) * (1.0f - b2);
            w[i] -= (s1[i] * alpha) / (sqrtf(s2[i]) + eps);
        }
        break;
    }
    }
}

void nn_glorot_uniform(ck_rng *r, size_t n, int fan_in, int fan_out, float *w)
{
    double limit = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < n; i++) {
        w[i] = (float)ck_rng_range(r, -limit, limit);
    }
}
