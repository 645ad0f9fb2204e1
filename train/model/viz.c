/* viz.c: what a trained convnet looks at, as numbers: each layer's output
 * for one image, the input pattern a filter responds to most, and
 * Grad-CAM's class activation map (nn.h, "what the network looks at").
 *
 * No new machinery. A model rebuilt by nn_model_inspect keeps every
 * layer's output (no convolution fused with its pool) and carries its
 * gradient down to the input's own dy; the passes are the trainer's, run
 * over a span of layers (nn_model_forward_to, nn_model_backward_span) from
 * a seed written into one layer's dy. Training builds are untouched: the
 * choice is made when a model is built, not tested in the passes. The
 * only new arithmetic is Grad-CAM's weights and map and the ascent's
 * normalised step, summed in double.
 *
 * Grad-CAM differentiates the class's score before the final activation,
 * as Selvaraju et al. do: a softmax or sigmoid output saturates when the
 * model is sure, and its gradient, with the map, fades to nothing. A
 * binary (sigmoid) model's class 1 scores the logit z and class 0 scores
 * -z, whose sigmoids are the two probabilities.
 *
 * Filter patterns follow Chollet: from a grey image with a little noise,
 * a fixed number of gradient-ascent steps on the filter's mean response,
 * each step divided by the gradient's root mean square (the first
 * edition's normalisation), so that a step moves the image by a set
 * fraction of the pixel range whatever the image's size. The response is
 * taken before the layer's ReLU (as the second edition's Xception layers
 * are, their activations being layers of their own): after it, a filter
 * that no part of the grey start excites has no gradient at all, and in
 * a small model trained for a few epochs that was most of them. Each pattern's
 * noise is keyed by (seed, layer, filter), and the filters asked for run
 * as the samples of one batch, each seeded at its own channel; a
 * pattern therefore depends on its seed, filter and model only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

int nn_model_layers(const nn_model *m)
{
    return m->nlayers;
}

int nn_model_layer_info(const nn_model *m, int i, nn_layer_info *out)
{
    memset(out, 0, sizeof *out);
    if (i < 0 || i >= m->nlayers) {
        return CK_EINVAL;
    }
    const nn_layer *L = &m->layers[i];
    const nn_layer_desc *d = &L->desc;
    out->name = d->name;
    out->type = nn_kinds[d->kind].keras;
    out->h = d->h;
    out->w = d->w;
    out->c = d->c;
    if (d->kind == NN_CONV2D || d->kind == NN_MAXPOOL2D) {
        out->kh = d->g.R;
        out->kw = d->g.S;
        out->kc = d->kind == NN_CONV2D ? d->g.C : 0;
    }
    if (d->w_n) {
        out->kernel = m->params + L->w_off;
        out->bias = d->b_n ? m->params + L->b_off : NULL;
    }
    return 0;
}

int nn_model_layer_find(const nn_model *m, const char *name)
{
    for (int i = 0; i < m->nlayers; i++) {
        if (strcmp(m->layers[i].desc.name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int nn_model_inspect(nn_model *m, char *err, size_t errlen)
{
    if (m->inspect) {
        return 0;
    }
    nn_model *t;
    int rc = nn_model_build(&t, m->spec, m->name, m->batch, 1, err, errlen);
    if (rc) {
        return rc;
    }
    /* m takes t's activations, their layout and kernels; it keeps its
     * layer array, parameters, gradients and optimizer, so pointers into
     * them (layer names, kernels) stay valid. t leaves with m's old ones. */
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer L = m->layers[i];
        m->layers[i] = t->layers[i];
        m->layers[i].frozen = L.frozen;
        t->layers[i] = L;
    }
#define SWAP(T, a, b)                                                                              \
    do {                                                                                           \
        T s_ = (a);                                                                                \
        (a) = (b);                                                                                 \
        (b) = s_;                                                                                  \
    } while (0)
    SWAP(float *, m->acts, t->acts);
    SWAP(size_t, m->nacts, t->nacts);
    SWAP(float *, m->dacts, t->dacts);
    SWAP(float *, m->logits, t->logits);
    SWAP(float *, m->targets, t->targets);
    SWAP(nn_exec, m->ex, t->ex);
#undef SWAP
    m->inspect = 1;
    m->n = 0;
    nn_model_destroy(t);
    return 0;
}

const float *nn_model_layer_output(const nn_model *m, int i)
{
    return i >= 0 && i < m->nlayers ? m->layers[i].y : NULL;
}

int nn_model_input_grad(nn_model *m, int layer, const float *seed, float *dx)
{
    if (!m->inspect || layer < 1 || layer >= m->nlayers || m->n < 1) {
        return CK_EINVAL;
    }
    const nn_layer *L = &m->layers[layer];
    memcpy(L->dy, seed, (size_t)m->n * L->desc.size * sizeof *seed);
    nn_model_backward_span(m, layer, 0, 0);
    memcpy(dx, m->layers[0].dy, (size_t)m->n * m->layers[0].desc.size * sizeof *dx);
    return 0;
}

/* ---- Grad-CAM ------------------------------------------------------------ */

static int last_conv(const nn_model *m)
{
    for (int i = m->nlayers - 1; i > 0; i--) {
        if (m->layers[i].desc.kind == NN_CONV2D) {
            return i;
        }
    }
    return -1;
}

void nn_gradcam_free(nn_gradcam *g)
{
    if (g) {
        free(g->alpha);
        free(g->map);
        g->alpha = g->map = NULL;
    }
}

int nn_gradcam_run(nn_model *m, const float *x, int cls, nn_gradcam *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const int last = m->nlayers - 1, lc = last_conv(m);
    const int D = (int)m->layers[last].desc.size;
    const int binary = nn_model_output_act(m) == NN_ACT_SIGMOID && D == 1;
    const int classes = binary ? 2 : D;
    if (lc < 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: Grad-CAM: the model has no Conv2D layer",
                      m->name);
    }
    if (cls < -1 || cls >= classes) {
        return ck_err(err, errlen, CK_EINVAL, "%s: Grad-CAM: no class %d (the model has %d)",
                      m->name, cls, classes);
    }
    int rc = nn_model_inspect(m, err, errlen);
    if (rc) {
        return rc;
    }
    const nn_layer *F = &m->layers[last];
    nn_model_forward(m, x, 1, NULL);
    const float *p = nn_model_output(m);
    int pred = 0;
    if (binary) {
        pred = p[0] >= 0.5f;
    } else {
        for (int k = 1; k < D; k++) {
            pred = p[k] > p[pred] ? k : pred;
        }
    }
    cls = cls < 0 ? pred : cls;
    /* the score: the logit, where the final layer has an activation */
    const float *z = nn_kinds[F->desc.kind].has_act ? m->logits : p;
    float *seed = F->dy;
    memset(seed, 0, (size_t)D * sizeof *seed);
    seed[binary ? 0 : cls] = binary && cls == 0 ? -1.0f : 1.0f;
    nn_model_backward_span(m, last, lc, 0);

    const nn_layer *C = &m->layers[lc];
    const int h = C->desc.h, w = C->desc.w, c = C->desc.c;
    const float *A = C->y, *dA = C->dy;
    out->alpha = malloc((size_t)c * sizeof *out->alpha);
    out->map = malloc((size_t)h * w * sizeof *out->map);
    if (!out->alpha || !out->map) {
        nn_gradcam_free(out);
        return ck_err(err, errlen, CK_ENOMEM, "%s: Grad-CAM: out of memory", m->name);
    }
    for (int k = 0; k < c; k++) {
        double s = 0;
        for (int i = 0; i < h * w; i++) {
            s += (double)dA[(size_t)i * c + k];
        }
        out->alpha[k] = (float)(s / (h * w));
    }
    for (int i = 0; i < h * w; i++) {
        double s = 0;
        for (int k = 0; k < c; k++) {
            s += (double)out->alpha[k] * (double)A[(size_t)i * c + k];
        }
        out->map[i] = s > 0 ? (float)s : 0.0f;
    }
    out->layer = lc;
    out->cls = cls;
    out->predicted = pred;
    out->prob = binary ? (cls ? p[0] : 1.0f - p[0]) : p[cls];
    out->pred_prob = binary ? (pred ? p[0] : 1.0f - p[0]) : p[pred];
    out->score = binary && cls == 0 ? -z[0] : z[binary ? 0 : cls];
    out->h = h;
    out->w = w;
    out->c = c;
    return 0;
}

/* ---- filter patterns ------------------------------------------------------ */

nn_ascent nn_ascent_defaults(void)
{
    return (nn_ascent){.steps = 30, .step = 0.02, .noise = 0.1, .seed = 0};
}

/* Mean of channel f over each of the k samples' maps of y (k, hw, C). */
static void channel_means(const float *y, int k, size_t hw, int C, const int *f, float *out)
{
    for (int s = 0; s < k; s++) {
        double sum = 0;
        for (size_t i = 0; i < hw; i++) {
            sum += (double)y[((size_t)s * hw + i) * C + f[s]];
        }
        out[s] = (float)(sum / (double)hw);
    }
}

int nn_filter_patterns(nn_model *m, int layer, const int *filters, int n, const nn_ascent *o,
                       float *x, float *start, float *end, char *err, size_t errlen)
{
    if (layer < 1 || layer >= m->nlayers) {
        return ck_err(err, errlen, CK_EINVAL, "%s: filter patterns: no layer %d", m->name, layer);
    }
    const nn_layer_desc *d = &m->layers[layer].desc;
    if (layer == m->nlayers - 1 && nn_kinds[d->kind].has_act) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: filter patterns: %s is the output layer, whose units are classes",
                      m->name, d->name);
    }
    for (int j = 0; j < n; j++) {
        if (filters[j] < 0 || filters[j] >= d->c) {
            return ck_err(err, errlen, CK_EINVAL, "%s: filter patterns: %s has %d filters, no %d",
                          m->name, d->name, d->c, filters[j]);
        }
    }
    if (n < 0 || o->steps < 0 || o->steps > 100000 || !(o->step > 0 && o->step <= 1) ||
        !(o->noise >= 0 && o->noise <= 0.5)) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: filter patterns: bad options (%d filters, %d steps of %g, noise %g)",
                      m->name, n, o->steps, o->step, o->noise);
    }
    int rc = nn_model_inspect(m, err, errlen);
    if (rc) {
        return rc;
    }
    const size_t in = m->layers[0].desc.size, hw = (size_t)d->h * d->w;
    const int C = d->c;
    const double unit = nn_model_rescales(m) ? 255.0 : 1.0;
    for (int j = 0; j < n; j++) {
        ck_rng r;
        ck_rng_init(&r, o->seed, (uint64_t)layer, (uint64_t)filters[j], CK_RNG_VIZ);
        for (size_t i = 0; i < in; i++) {
            x[(size_t)j * in + i] = (float)(unit * (0.5 + ck_rng_range(&r, -o->noise, o->noise)));
        }
    }
    const nn_layer *L = &m->layers[layer];
    for (int j0 = 0; j0 < n; j0 += m->batch) {
        const int k = n - j0 < m->batch ? n - j0 : m->batch;
        float *xs = x + (size_t)j0 * in;
        const int *f = filters + j0;
        for (int it = 0;; it++) {
            nn_model_forward_to(m, xs, k, NULL, layer);
            if (it == 0 && start) {
                channel_means(L->y, k, hw, C, f, start + j0);
            }
            if (it == o->steps) {
                if (end) {
                    channel_means(L->y, k, hw, C, f, end + j0);
                }
                break;
            }
            /* d(mean of channel f[s] of sample s)/d(output) */
            memset(L->dy, 0, (size_t)k * d->size * sizeof *L->dy);
            for (int s = 0; s < k; s++) {
                for (size_t i = 0; i < hw; i++) {
                    L->dy[((size_t)s * hw + i) * C + f[s]] = (float)(1.0 / (double)hw);
                }
            }
            nn_model_backward_span(m, layer, 0, 1);
            const float *g = m->layers[0].dy;
            for (int s = 0; s < k; s++) {
                const float *gs = g + (size_t)s * in;
                double ss = 0;
                for (size_t i = 0; i < in; i++) {
                    ss += (double)gs[i] * (double)gs[i];
                }
                double rms = sqrt(ss / (double)in);
                if (rms > 0) {
                    double a = o->step * unit / rms;
                    for (size_t i = 0; i < in; i++) {
                        xs[(size_t)s * in + i] += (float)(a * (double)gs[i]);
                    }
                }
            }
        }
    }
    return 0;
}
