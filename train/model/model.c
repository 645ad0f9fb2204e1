/* model.c: a Sequential model: its arenas, one forward, one backward, the
 * loss and the update.
 *
 * As in llm.c, every tensor lives in one of five arenas sized for the
 * largest batch: params and grads (the same layout, so the optimizer runs
 * over the whole model as one array), optimizer state, activations (each
 * layer's output y, dropout masks, pooling argmaxes, the logits and the
 * kernels' scratch) and activation gradients dy. The last holds a dy only
 * where a gradient can arrive, below a trainable layer, so it is sized
 * again when layers are frozen: a frozen VGG16 base under a small head
 * keeps none of its own (at 180x180 and batch 32, 0.6 GB less). Input and
 * Flatten own nothing: their y and dy are views of their neighbour's, NHWC
 * making Flatten a no-op. Each dy is written whole by the layer after it,
 * so only the parameter gradients are zeroed before a backward.
 *
 * A Conv2D applies its own ReLU (in its kernels' epilogue, and masking its
 * gradient in its backward) unless it is the final layer; the model
 * applies every other activation. A Conv2D with a ReLU followed by a 2x2
 * max pool may run as one with it (nn_conv_pool_fuses): the pair writes
 * only the pool's output and reads only its gradient, and the
 * convolution's own y and dy are not even allocated.
 *
 * The final layer's activation is fused with the loss: its pre-activation
 * is kept in `logits`, the loss writes d(loss)/d(logits) into that layer's
 * dy, and backward skips that one activation.
 *
 * A model built to be looked into (nn_model_inspect, viz.c) differs in two
 * choices made at build time, never in the passes themselves: no
 * convolution runs fused with its pool, so every layer's output is kept,
 * and a gradient reaches the input, which gets a dy of its own. Training
 * builds keep the fusion and stop the gradient at the lowest trainable
 * layer, as before.
 *
 * The model is built from the spec parser's layer descriptions: each layer
 * keeps its description and gains its place in the arenas and its
 * kernels, a Conv2D the implementation nn_conv_select picks for its
 * geometry on this machine. What the builder needs to know of a kind (is
 * its output a view, does it keep a mask or argmax, does it apply an
 * activation) it reads from the table of layer kinds. The kernels are
 * called from switches over the kinds (choose_kernels, forward,
 * backward) rather than through a function per kind in the table: their
 * signatures differ, the fused convolution and pooling spans two layers
 * and reads best in one place, and -Wswitch names every switch a new kind
 * is missing from. Speed does not decide it: one indirect call per layer
 * and pass would not show.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

/* 64-byte aligned, zeroed. */
static float *arena_alloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        return NULL;
    }
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

/* Does any layer before i hold parameters (trainable ones, or any with
 * `any`), so that a gradient must reach layer i-1? */
static int params_before(const nn_model *m, int i, int any)
{
    if (m->inspect) {
        return 1; /* the input's gradient is wanted */
    }
    for (int j = 1; j < i; j++) {
        if (m->layers[j].desc.w_n && (any || !m->layers[j].frozen)) {
            return 1;
        }
    }
    return 0;
}

static int pool_fused(const nn_model *m, int i);

/* Does a gradient ever reach layer i's output? The loss's always; any
 * other's when a trainable layer lies at or below it. */
static int needs_dy(const nn_model *m, int i)
{
    return i == m->nlayers - 1 || params_before(m, i + 1, 0);
}

/* Where gradients flow, after the trainable flags changed, and the dy
 * arena for it. Scratch was sized for every layer that holds parameters,
 * so this only ever switches work off. Returns 0, CK_ENOMEM. */
static int set_need_dx(nn_model *m)
{
    size_t n = m->inspect ? (size_t)m->batch * m->layers[0].desc.size : 0;
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *L = &m->layers[i];
        L->need_dx = params_before(m, i, 0);
        if (i > 0 && !nn_kinds[L->desc.kind].view && !pool_fused(m, i) && needs_dy(m, i)) {
            n += (size_t)m->batch * L->desc.size;
        }
    }
    /* Not zeroed: every dy is written whole before it is read, and pages
     * never touched (a frozen model's) cost no memory. */
    void *v = NULL;
    if (posix_memalign(&v, 64, (n ? n : 1) * sizeof(float)) != 0) {
        return CK_ENOMEM;
    }
    float *d = v;
    free(m->dacts);
    m->dacts = d;
    m->layers[0].dy = NULL;
    if (m->inspect) {
        m->layers[0].dy = d;
        d += (size_t)m->batch * m->layers[0].desc.size;
    }
    for (int i = 1; i < m->nlayers; i++) {
        nn_layer *L = &m->layers[i];
        if (nn_kinds[L->desc.kind].view) {
            L->dy = m->layers[i - 1].dy;
        } else if (pool_fused(m, i) || !needs_dy(m, i)) {
            L->dy = NULL;
        } else {
            L->dy = d;
            d += (size_t)m->batch * L->desc.size;
        }
    }
    return 0;
}

static int has_act(const nn_layer *L)
{
    return nn_kinds[L->desc.kind].has_act;
}

/* Does layer i's convolution apply its activation itself? */
static int conv_fuses(const nn_model *m, int i)
{
    const nn_layer *L = &m->layers[i];
    return L->desc.kind == NN_CONV2D && i < m->nlayers - 1 &&
           (L->desc.act == NN_ACT_LINEAR || L->desc.act == NN_ACT_RELU);
}

/* Does layer i's convolution run together with the max pool after it
 * (its own output then never stored)? */
static int pool_fused(const nn_model *m, int i)
{
    if (m->inspect || i < 1 || i + 1 >= m->nlayers) {
        return 0;
    }
    const nn_layer *L = &m->layers[i], *P = &m->layers[i + 1];
    return L->desc.kind == NN_CONV2D && P->desc.kind == NN_MAXPOOL2D && conv_fuses(m, i) &&
           nn_conv_pool_fuses(L->conv, &L->desc.g, L->desc.act, &P->desc.g, &m->ex);
}

/* Chooses layer i's kernels where there is a choice, and returns the
 * floats of scratch they need for a full batch. */
static size_t choose_kernels(nn_model *m, int i)
{
    nn_layer *L = &m->layers[i];
    switch (L->desc.kind) {
    case NN_CONV2D:
        L->conv = nn_conv_select(&L->desc.g, &m->ex);
        return L->conv->scratch(&L->desc.g, m->batch, m->ex.max_threads, params_before(m, i, 1));
    case NN_DENSE: return nn_dense_scratch(m->batch, m->layers[i - 1].desc.c, L->desc.c);
    case NN_INPUT:
    case NN_RESCALING:
    case NN_MAXPOOL2D:
    case NN_FLATTEN:
    case NN_DROPOUT:
    case NN_ACTIVATION:
    case NN_PREPROCESS: break;
    }
    return 0;
}

int nn_model_create(nn_model **out, const char *spec, const char *name, int batch, char *err,
                    size_t errlen)
{
    return nn_model_build(out, spec, name, batch, 0, err, errlen);
}

int nn_model_build(nn_model **out, const char *spec, const char *name, int batch, int inspect,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (batch < 1 || batch > 1 << 16) {
        return ck_err(err, errlen, CK_EINVAL, "%s: model: batch size %d out of range", name, batch);
    }
    const nn_kernels *kern;
    int krc = nn_kernels_select(&kern, err, errlen);
    if (krc) {
        return krc;
    }
    nn_model *m = calloc(1, sizeof *m);
    if (!m) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: model: out of memory", name);
    }
    m->inspect = inspect;
    nn_layer_desc *descs;
    int rc = nn_spec_parse(spec, name, &descs, &m->nlayers, err, errlen);
    if (rc) {
        free(m);
        return rc;
    }
    m->layers = calloc((size_t)m->nlayers, sizeof *m->layers);
    for (int i = 0; m->layers && i < m->nlayers; i++) {
        m->layers[i].desc = descs[i];
        m->layers[i].frozen = !descs[i].trainable;
    }
    free(descs);
    if (!m->layers) {
        free(m);
        return ck_err(err, errlen, CK_ENOMEM, "%s: model: out of memory", name);
    }
    m->name = strdup(name);
    m->spec = strdup(spec);
    m->batch = batch;
    m->opt = nn_optim_defaults(NN_OPT_RMSPROP);
    m->ex.kern = kern;
    m->ex.max_threads = nn_par_max();
    /* Parameter offsets, then activation sizes. */
    size_t acts = 0, col = 0;
    const nn_layer *last = &m->layers[m->nlayers - 1];
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *L = &m->layers[i];
        L->w_off = m->nparams;
        L->b_off = L->w_off + L->desc.w_n;
        m->nparams += L->desc.w_n + L->desc.b_n;
        size_t c = choose_kernels(m, i);
        col = c > col ? c : col;
        const nn_kind_info *k = &nn_kinds[L->desc.kind];
        if (!k->view && !pool_fused(m, i)) {
            acts += (size_t)batch * L->desc.size;
        }
        if (k->aux) {
            acts += (size_t)batch * L->desc.size; /* mask, or argmax (4 bytes each) */
        }
    }
    acts += 2 * (size_t)batch * last->desc.size + col;
    m->nacts = acts;
    m->params = arena_alloc(m->nparams);
    m->grads = arena_alloc(m->nparams);
    m->acts = arena_alloc(acts);
    if (!m->name || !m->spec || !m->params || !m->grads || !m->acts) {
        nn_model_destroy(m);
        return ck_err(err, errlen, CK_ENOMEM, "%s: model: out of memory (%zu activations)", name,
                      acts);
    }
    float *p = m->acts;
    for (int i = 1; i < m->nlayers; i++) {
        nn_layer *L = &m->layers[i];
        if (nn_kinds[L->desc.kind].view || pool_fused(m, i)) {
            continue; /* views, or never stored */
        }
        L->y = p;
        p += (size_t)batch * L->desc.size;
        if (nn_kinds[L->desc.kind].aux) {
            L->mask = p;
            L->arg = (uint32_t *)(void *)p;
            p += (size_t)batch * L->desc.size;
        }
    }
    m->logits = p;
    p += (size_t)batch * last->desc.size;
    m->targets = p;
    p += (size_t)batch * last->desc.size;
    m->ex.scratch = p;
    m->ex.nscratch = col;
    if (set_need_dx(m) || nn_model_set_optim(m, &m->opt)) {
        nn_model_destroy(m);
        return ck_err(err, errlen, CK_ENOMEM, "%s: model: out of memory", name);
    }
    *out = m;
    return 0;
}

void nn_model_destroy(nn_model *m)
{
    if (!m) {
        return;
    }
    free(m->name);
    free(m->spec);
    free(m->config);
    free(m->layers);
    free(m->params);
    free(m->grads);
    free(m->state);
    free(m->acts);
    free(m->dacts);
    nn_par_destroy(m->ex.par);
    free(m);
}

void nn_model_init(nn_model *m, uint64_t seed)
{
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *L = &m->layers[i];
        if (!L->desc.w_n) {
            continue;
        }
        ck_rng r;
        ck_rng_init(&r, seed, 0, (uint64_t)i, CK_RNG_INIT);
        nn_glorot_uniform(&r, L->desc.w_n, L->desc.fan_in, L->desc.fan_out, m->params + L->w_off);
        memset(m->params + L->b_off, 0, L->desc.b_n * sizeof(float));
    }
    int slots = nn_optim_slots(&m->opt);
    memset(m->state, 0, (size_t)slots * m->nparams * sizeof(float));
    m->steps = 0;
}

size_t nn_model_params(const nn_model *m)
{
    return m->nparams;
}

int nn_model_batch(const nn_model *m)
{
    return m->batch;
}

const char *nn_model_name(const nn_model *m)
{
    return m->name;
}

const char *nn_model_spec(const nn_model *m)
{
    return m->spec;
}

void nn_model_input_shape(const nn_model *m, int *h, int *w, int *c)
{
    *h = m->layers[0].desc.h;
    *w = m->layers[0].desc.w;
    *c = m->layers[0].desc.c;
}

void nn_model_output_shape(const nn_model *m, int *h, int *w, int *c)
{
    const nn_layer *L = &m->layers[m->nlayers - 1];
    *h = L->desc.h;
    *w = L->desc.w;
    *c = L->desc.c;
}

void nn_set_threads(int threads)
{
    if (threads > 0) {
        openblas_set_num_threads(threads);
    }
}

int nn_model_outputs(const nn_model *m)
{
    return (int)m->layers[m->nlayers - 1].desc.size;
}

nn_act nn_model_output_act(const nn_model *m)
{
    const nn_layer *L = &m->layers[m->nlayers - 1];
    return has_act(L) ? L->desc.act : NN_ACT_LINEAR;
}

int nn_model_rescales(const nn_model *m)
{
    return nn_kinds[m->layers[1].desc.kind].rescales;
}

size_t nn_model_trainable_params(const nn_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        n += m->layers[i].frozen ? 0 : m->layers[i].desc.w_n + m->layers[i].desc.b_n;
    }
    return n;
}

/* Freezes layers [0, at), unfreezes the rest. */
static int freeze_below(nn_model *m, int at, char *err, size_t errlen)
{
    for (int i = 0; i < m->nlayers; i++) {
        m->layers[i].frozen = i < at;
    }
    if (set_need_dx(m)) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: trainable flags: out of memory", m->name);
    }
    return 0;
}

int nn_model_trainable_from(nn_model *m, const char *from, char *err, size_t errlen)
{
    int at = 0;
    if (from) {
        at = -1;
        for (int i = 1; i < m->nlayers && at < 0; i++) {
            at = strcmp(m->layers[i].desc.name, from) == 0 ? i : -1;
        }
        if (at < 0) {
            return ck_err(err, errlen, CK_EINVAL, "%s: trainable from '%s': no such layer", m->name,
                          from);
        }
    }
    return freeze_below(m, at, err, errlen);
}

int nn_model_freeze(nn_model *m, char *err, size_t errlen)
{
    return freeze_below(m, m->nlayers, err, errlen);
}

int nn_model_forward(nn_model *m, const float *x, int n, const nn_step_key *key)
{
    return nn_model_forward_to(m, x, n, key, m->nlayers - 1);
}

int nn_model_forward_to(nn_model *m, const float *x, int n, const nn_step_key *key, int last)
{
    if (n < 1 || n > m->batch || last < 0 || last >= m->nlayers) {
        return CK_EINVAL;
    }
    m->n = n;
    m->trained = key != NULL;
    m->layers[0].y = (float *)x; /* read only: nothing writes through it */
    nn_exec_update(&m->ex);
    for (int i = 1; i <= last; i++) {
        nn_layer *L = &m->layers[i];
        const nn_layer *prev = &m->layers[i - 1];
        const float *in = prev->y, *w = m->params + L->w_off;
        const float *b = L->desc.b_n ? m->params + L->b_off : NULL;
        size_t len = (size_t)n * L->desc.size;
        double t0 = m->prof ? ck_now() : 0;
        switch (L->desc.kind) {
        case NN_INPUT: break;
        case NN_RESCALING: nn_rescale_forward(len, L->desc.scale, L->desc.offset, in, L->y); break;
        case NN_PREPROCESS: nn_caffe_forward(len / 3, in, L->y); break;
        case NN_CONV2D:
            if (pool_fused(m, i)) {
                nn_layer *P = &m->layers[i + 1];
                L->conv->forward_pool(&L->desc.g, n, in, w, b, &P->desc.g, P->y, P->arg, &m->ex);
                break;
            }
            L->conv->forward(&L->desc.g, n, in, w, b,
                             conv_fuses(m, i) ? L->desc.act : NN_ACT_LINEAR, L->y, &m->ex);
            break;
        case NN_MAXPOOL2D:
            if (!pool_fused(m, i - 1)) {
                nn_maxpool_forward(&L->desc.g, n, in, L->y, L->arg, &m->ex);
            }
            break;
        case NN_FLATTEN:
            L->y = prev->y;
            L->dy = prev->dy;
            break;
        case NN_DENSE: nn_dense_forward(n, prev->desc.c, L->desc.c, in, w, b, L->y, &m->ex); break;
        case NN_DROPOUT:
            if (key && L->desc.rate > 0) {
                ck_rng r;
                uint64_t id = (uint64_t)i << 40 | (uint64_t)key->batch;
                ck_rng_init(&r, key->seed, (uint64_t)key->epoch, id, CK_RNG_DROPOUT);
                ck_rng_skip(&r, (uint64_t)key->offset * L->desc.size);
                nn_dropout_forward(len, L->desc.rate, &r, in, L->y, L->mask);
            } else {
                memcpy(L->y, in, len * sizeof(float));
                for (size_t j = 0; j < len; j++) {
                    L->mask[j] = 1.0f;
                }
            }
            break;
        case NN_ACTIVATION: memcpy(L->y, in, len * sizeof(float)); break;
        }
        if (has_act(L) && !conv_fuses(m, i)) {
            if (i == m->nlayers - 1) {
                memcpy(m->logits, L->y, len * sizeof(float));
            }
            nn_act_forward(L->desc.act, (int)(len / (size_t)L->desc.c), L->desc.c, L->y);
        }
        if (m->prof) {
            m->prof[i] += ck_now() - t0;
        }
    }
    return 0;
}

const float *nn_model_output(const nn_model *m)
{
    return m->layers[m->nlayers - 1].y;
}

double nn_model_loss(nn_model *m, nn_loss_kind loss, const int32_t *labels)
{
    return nn_model_loss_shard(m, loss, labels, m->n);
}

double nn_model_loss_shard(nn_model *m, nn_loss_kind loss, const int32_t *labels, int batch)
{
    const nn_layer *L = &m->layers[m->nlayers - 1];
    nn_act act = nn_model_output_act(m);
    int D = (int)L->desc.size, n = m->n;
    if (loss == NN_LOSS_AUTO) {
        loss = act == NN_ACT_SIGMOID ? NN_LOSS_BINARY : NN_LOSS_SPARSE;
    }
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= (D == 1 ? 2 : D)) {
            return (double)NAN;
        }
    }
    switch (loss) {
    case NN_LOSS_BINARY:
        if (act != NN_ACT_SIGMOID) {
            return (double)NAN;
        }
        for (int i = 0; i < n * D; i++) {
            /* one sigmoid output: the label; several: one-hot (multi-label) */
            m->targets[i] = D == 1 ? (float)labels[i] : (float)(i % D == labels[i / D]);
        }
        return nn_loss_binary(n, D, m->logits, m->targets, L->dy, batch);
    case NN_LOSS_CATEGORICAL:
        if (act != NN_ACT_SOFTMAX) {
            return (double)NAN;
        }
        for (int i = 0; i < n * D; i++) {
            m->targets[i] = (float)(i % D == labels[i / D]);
        }
        return nn_loss_categorical(n, D, m->logits, m->targets, L->dy, batch);
    case NN_LOSS_SPARSE:
        if (act != NN_ACT_SOFTMAX) {
            return (double)NAN;
        }
        return nn_loss_sparse(n, D, m->logits, labels, L->dy, batch);
    case NN_LOSS_AUTO: break;
    }
    return (double)NAN;
}

int64_t nn_model_correct(const nn_model *m, const int32_t *labels)
{
    return nn_correct(m->n, nn_model_outputs(m), nn_model_output(m), labels);
}

void nn_zero_grad(nn_model *m)
{
    nn_exec_update(&m->ex);
    nn_exec_zero(&m->ex, m->grads, m->nparams);
}

void nn_model_backward(nn_model *m)
{
    nn_model_backward_span(m, m->nlayers - 1, 0, 0);
}

void nn_model_backward_span(nn_model *m, int top, int bottom, int pre)
{
    const int n = m->n;
    nn_exec_update(&m->ex);
    for (int i = top; i > bottom; i--) {
        nn_layer *L = &m->layers[i];
        nn_layer *prev = &m->layers[i - 1];
        const float *in = prev->y, *w = m->params + L->w_off;
        float *dx = L->need_dx ? prev->dy : NULL;
        float *dw = m->grads + L->w_off, *db = L->desc.b_n ? m->grads + L->b_off : NULL;
        size_t len = (size_t)n * L->desc.size;
        if (!L->need_dx && (!L->desc.w_n || L->frozen)) {
            continue; /* no gradient wanted from here down */
        }
        double t0 = m->prof ? ck_now() : 0;
        /* the final layer's dy is its logits' (the loss's), so is the top's with pre */
        const int pre_act = i == m->nlayers - 1 || (pre && i == top);
        if (has_act(L) && !pre_act && !conv_fuses(m, i)) {
            nn_act_backward(L->desc.act, (int)(len / (size_t)L->desc.c), L->desc.c, L->y, L->dy);
        }
        switch (L->desc.kind) {
        case NN_INPUT:
        case NN_FLATTEN: break;
        case NN_RESCALING:
            if (dx) {
                nn_rescale_backward(len, L->desc.scale, L->dy, dx);
            }
            break;
        case NN_PREPROCESS:
            if (dx) {
                nn_caffe_backward(len / 3, L->dy, dx);
            }
            break;
        case NN_CONV2D:
            if (pool_fused(m, i)) {
                const nn_layer *P = &m->layers[i + 1];
                L->conv->backward_pool(&L->desc.g, n, in, w, &P->desc.g, P->y, P->arg, P->dy, dx,
                                       dw, db, &m->ex);
                break;
            }
            L->conv->backward(&L->desc.g, n, in, w, L->y,
                              conv_fuses(m, i) && !pre_act ? L->desc.act : NN_ACT_LINEAR, L->dy, dx,
                              dw, db, &m->ex);
            break;
        case NN_MAXPOOL2D:
            if (dx && !pool_fused(m, i - 1)) {
                nn_maxpool_backward(&L->desc.g, n, L->arg, L->dy, dx, &m->ex);
            }
            break;
        case NN_DENSE:
            nn_dense_backward(n, prev->desc.c, L->desc.c, in, w, L->dy, dx, dw, db, &m->ex);
            break;
        case NN_DROPOUT:
            if (dx) {
                nn_dropout_backward(len, L->mask, L->dy, dx);
            }
            break;
        case NN_ACTIVATION:
            if (dx) {
                memcpy(dx, L->dy, len * sizeof(float));
            }
            break;
        }
        if (m->prof) {
            m->prof[m->nlayers + i] += ck_now() - t0;
        }
        if (m->grad_ready && L->desc.w_n && !L->frozen) {
            m->grad_ready(m->grad_ctx, i);
        }
    }
}

int nn_model_set_optim(nn_model *m, const nn_optim_opts *o)
{
    size_t n = (size_t)nn_optim_slots(o) * m->nparams;
    float *s = arena_alloc(n);
    if (!s) {
        return CK_ENOMEM;
    }
    free(m->state);
    m->state = s;
    m->opt = *o;
    m->steps = 0;
    return 0;
}

void nn_model_update(nn_model *m)
{
    int slots = nn_optim_slots(&m->opt);
    float *s1 = slots > 0 ? m->state : NULL, *s2 = slots > 1 ? m->state + m->nparams : NULL;
    nn_exec_update(&m->ex);
    /* Layer by layer, frozen ones left out: elementwise, so the same bits
     * as one pass over the arena. */
    for (int i = 1; i < m->nlayers; i++) {
        const nn_layer *L = &m->layers[i];
        size_t o = L->w_off, n = L->desc.w_n + L->desc.b_n;
        if (n && !L->frozen) {
            nn_exec_update_params(&m->ex, &m->opt, m->steps, n, m->params + o, m->grads + o,
                                  s1 ? s1 + o : NULL, s2 ? s2 + o : NULL);
        }
    }
    m->steps++;
}
