/* test_nn_viz.c: what the network looks at (viz.c) against naive twins:
 * every layer's output against a forward in double, the input gradient
 * from a seed at any layer against central differences, Grad-CAM on a
 * model whose map is known in closed form, and the filters' gradient
 * ascent (it raises the filter's mean output; the same seed gives the
 * same pattern, whatever else was asked for). CTest runs it once per
 * kernel tier. */
#include <string.h>

#include "nn_internal.h"
#include "nn_test_util.h"

/* Conv 16 then a 2x2 pool: fused on the vector tiers in a training build. */
static const char tiny_spec[] = "Input(shape=(8, 7, 2))\n"
                                "Rescaling(0.5, offset=0.1)\n"
                                "Conv2D(16, 3, padding='same', activation='relu')\n"
                                "MaxPooling2D(2)\n"
                                "Conv2D(4, (2, 2), activation='relu')\n"
                                "Flatten()\n"
                                "Dropout(0.3)\n"
                                "Dense(5, activation='sigmoid')\n"
                                "Dense(3, activation='softmax')\n";

/* Every parameter uniform in [-0.5, 0.5), biases included. */
static nn_model *tiny_model(const char *spec, int batch, uint64_t id)
{
    char err[256] = "";
    nn_model *m;
    ck_assert_msg(nn_model_create(&m, spec, "tiny", batch, err, sizeof err) == 0, "%s", err);
    float *p = nt_rand(m->nparams, -0.5, 0.5, id);
    memcpy(m->params, p, m->nparams * sizeof *p);
    free(p);
    return m;
}

/* ---- the naive twin: one sample through every layer, in double ---------- */

static void act_apply(nn_act act, double *y, size_t n, int D)
{
    if (act == NN_ACT_RELU || act == NN_ACT_SIGMOID) {
        for (size_t i = 0; i < n; i++) {
            y[i] = act == NN_ACT_RELU ? fmax(0, y[i]) : 1 / (1 + exp(-y[i]));
        }
    } else if (act == NN_ACT_SOFTMAX) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < D; i++) {
            mx = fmax(mx, y[i]);
        }
        for (int i = 0; i < D; i++) {
            s += exp(y[i] - mx);
        }
        for (int i = 0; i < D; i++) {
            y[i] = exp(y[i] - mx) / s;
        }
    }
}

/* y[i] (desc.size doubles each) for i in [0, nlayers), and the final
 * layer's pre-activation in logits; the caller frees each y[i] and y. */
static double **naive_forward(const nn_model *m, const float *x, double *logits)
{
    double **y = calloc((size_t)m->nlayers, sizeof *y);
    ck_assert_ptr_nonnull(y);
    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer_desc *d = &m->layers[i].desc;
        const double *in = i ? y[i - 1] : NULL;
        const float *w = m->params + m->layers[i].w_off, *b = m->params + m->layers[i].b_off;
        y[i] = calloc(d->size, sizeof **y);
        ck_assert_ptr_nonnull(y[i]);
        const nn_conv_shape *g = &d->g;
        switch (d->kind) {
        case NN_INPUT:
            for (size_t j = 0; j < d->size; j++) {
                y[i][j] = x[j];
            }
            break;
        case NN_RESCALING:
            for (size_t j = 0; j < d->size; j++) {
                y[i][j] = in[j] * (double)d->scale + (double)d->offset;
            }
            break;
        case NN_CONV2D:
            for (int p = 0; p < g->P; p++)
                for (int q = 0; q < g->Q; q++)
                    for (int k = 0; k < g->K; k++) {
                        double s = d->b_n ? (double)b[k] : 0;
                        for (int r = 0; r < g->R; r++)
                            for (int t = 0; t < g->S; t++) {
                                int hh = p * g->sh + r - g->pt, ww = q * g->sw + t - g->pl;
                                if (hh < 0 || hh >= g->H || ww < 0 || ww >= g->W) {
                                    continue;
                                }
                                for (int c = 0; c < g->C; c++) {
                                    s += in[((size_t)hh * g->W + ww) * g->C + c] *
                                         (double)w[(((size_t)r * g->S + t) * g->C + c) * g->K + k];
                                }
                            }
                        y[i][((size_t)p * g->Q + q) * g->K + k] = s;
                    }
            break;
        case NN_MAXPOOL2D:
            for (int p = 0; p < g->P; p++)
                for (int q = 0; q < g->Q; q++)
                    for (int c = 0; c < g->C; c++) {
                        double mx = -INFINITY;
                        for (int r = 0; r < g->R; r++)
                            for (int t = 0; t < g->S; t++) {
                                int hh = p * g->sh + r - g->pt, ww = q * g->sw + t - g->pl;
                                if (hh >= 0 && hh < g->H && ww >= 0 && ww < g->W) {
                                    mx = fmax(mx, in[((size_t)hh * g->W + ww) * g->C + c]);
                                }
                            }
                        y[i][((size_t)p * g->Q + q) * g->C + c] = mx;
                    }
            break;
        case NN_DENSE: {
            size_t din = m->layers[i - 1].desc.size;
            for (int o = 0; o < d->c; o++) {
                double s = d->b_n ? (double)b[o] : 0;
                for (size_t j = 0; j < din; j++) {
                    s += in[j] * (double)w[j * (size_t)d->c + (size_t)o];
                }
                y[i][o] = s;
            }
            break;
        }
        case NN_FLATTEN:
        case NN_DROPOUT:
        case NN_ACTIVATION:
        case NN_PREPROCESS: memcpy(y[i], in, d->size * sizeof **y); break;
        }
        if (nn_kinds[d->kind].has_act) {
            if (i == m->nlayers - 1) {
                memcpy(logits, y[i], d->size * sizeof *logits);
            }
            act_apply(d->act, y[i], d->size, d->c);
        }
    }
    return y;
}

static void naive_free(const nn_model *m, double **y)
{
    for (int i = 0; i < m->nlayers; i++) {
        free(y[i]);
    }
    free(y);
}

/* ---- layers and their outputs ------------------------------------------- */

START_TEST(layer_info)
{
    nn_model *m = tiny_model(tiny_spec, 1, 1);
    nn_layer_info li;
    ck_assert_int_eq(nn_model_layers(m), 9);
    ck_assert_int_eq(nn_model_layer_info(m, 2, &li), 0);
    ck_assert_str_eq(li.type, "Conv2D");
    ck_assert_str_eq(li.name, "conv2d");
    ck_assert_int_eq(li.h * 100 + li.w * 10 + li.kh, 8 * 100 + 7 * 10 + 3);
    ck_assert_int_eq(li.c, 16);
    ck_assert_int_eq(li.kc, 2);
    ck_assert_ptr_eq(li.kernel, m->params + m->layers[2].w_off);
    ck_assert_ptr_eq(li.bias, m->params + m->layers[2].b_off);
    ck_assert_int_eq(nn_model_layer_info(m, 3, &li), 0);
    ck_assert_str_eq(li.type, "MaxPooling2D");
    ck_assert_int_eq(li.h * 10 + li.w, 4 * 10 + 3);
    ck_assert_ptr_null(li.kernel);
    ck_assert_int_eq(nn_model_layer_info(m, 9, &li), CK_EINVAL);
    ck_assert_int_eq(nn_model_layer_find(m, "conv2d_1"), 4);
    ck_assert_int_eq(nn_model_layer_find(m, "dense_1"), 8);
    ck_assert_int_eq(nn_model_layer_find(m, "conv2d_9"), -1);
    nn_model_destroy(m);
}
END_TEST

/* Every layer's output of an inspected model is the naive forward's, and
 * inspecting keeps the weights and the predictions. */
START_TEST(outputs_match_naive)
{
    char err[256] = "";
    nn_model *m = tiny_model(tiny_spec, 3, 2);
    const size_t in = 8 * 7 * 2;
    float *x = nt_rand(3 * in, -2, 2, 3), before[9];
    ck_assert_int_eq(nn_model_forward(m, x, 3, NULL), 0);
    memcpy(before, nn_model_output(m), sizeof before);
    /* A training build on a vector tier runs the first convolution fused
     * with its pool, and never stores its output. */
    if (m->ex.kern) {
        ck_assert_ptr_null(nn_model_layer_output(m, 2));
    }
    nn_layer_info li, li2;
    nn_model_layer_info(m, 2, &li);
    ck_assert_int_eq(nn_model_inspect(m, err, sizeof err), 0);
    ck_assert_int_eq(nn_model_inspect(m, err, sizeof err), 0); /* a no-op */
    /* what callers hold stays valid */
    nn_model_layer_info(m, 2, &li2);
    ck_assert(li.name == li2.name && li.kernel == li2.kernel && li.bias == li2.bias);
    ck_assert_str_eq(nn_model_name(m), "tiny");
    ck_assert_int_eq(nn_model_forward(m, x, 3, NULL), 0);
    nt_assert_near(nn_model_output(m)[4], before[4], 1e-6);
    for (int s = 0; s < 3; s++) {
        double logits[3];
        double **y = naive_forward(m, x + s * in, logits);
        for (int i = 0; i < m->nlayers; i++) {
            const float *got = nn_model_layer_output(m, i);
            size_t n = m->layers[i].desc.size;
            ck_assert_msg(got != NULL, "layer %d not kept", i);
            char what[96];
            snprintf(what, sizeof what, "sample %d layer %s", s, m->layers[i].desc.name);
            nt_assert_close(n, got + s * n, y[i], 1e-5, what);
        }
        nt_assert_close(3, m->logits + s * 3, logits, 1e-5, "logits");
        naive_free(m, y);
    }
    free(x);
    nn_model_destroy(m);
}
END_TEST

/* ---- the input gradient from a seed at any layer ------------------------- */

typedef struct seed_case {
    nn_model *m;
    float *x, *seed;
    int layer, n;
} seed_case;

/* sum(seed * the layer's output), the final layer's logits for it. */
static double seed_f(void *p)
{
    seed_case *t = p;
    ck_assert_int_eq(nn_model_forward(t->m, t->x, t->n, NULL), 0);
    const float *y =
        t->layer == t->m->nlayers - 1 ? t->m->logits : nn_model_layer_output(t->m, t->layer);
    return nt_dot((size_t)t->n * t->m->layers[t->layer].desc.size, t->seed, y);
}

/* nt_gradcheck's comparison away from kinks. Rectifiers and max pools are
 * piecewise linear, and in a few thousand of their values of random
 * data two maxima of a window, or a value and zero, lie within a step of
 * each other (a window's two largest 9e-6 apart, in this suite's data
 * once). There the one-sided slopes differ and the analytic gradient is
 * one of them: an element whose slopes differ by more than 2 tol is
 * skipped; elsewhere the central difference must agree within tol.
 * Returns the elements skipped. */
static int gradcheck_kinks(double (*f)(void *), void *ctx, float *v, size_t n, const float *grad,
                           double h, double tol, const char *what)
{
    int skipped = 0;
    double f0 = f(ctx);
    for (size_t i = 0; i < n; i++) {
        float save = v[i];
        v[i] = (float)((double)save + h);
        double hp = (double)v[i] - (double)save, fp = f(ctx);
        v[i] = (float)((double)save - h);
        double hm = (double)v[i] - (double)save, fm = f(ctx);
        v[i] = save;
        double right = (fp - f0) / hp, left = (fm - f0) / hm, num = (fp - fm) / (hp - hm);
        double scale = fmax(1.0, fmax(fabs(num), fabs((double)grad[i])));
        if (fabs(right - left) > 2 * tol * scale) {
            skipped++;
            continue;
        }
        double e = fabs(num - (double)grad[i]) / scale;
        ck_assert_msg(e <= tol, "%s[%zu]: numeric %.8g analytic %.8g (err %.3g > %.3g)", what, i,
                      num, (double)grad[i], e, tol);
    }
    return skipped;
}

START_TEST(input_grad_matches_differences)
{
    char err[256] = "";
    seed_case t = {.m = tiny_model(tiny_spec, 3, 4), .n = 3};
    const size_t in = 8 * 7 * 2;
    t.x = nt_rand(3 * in, -2, 2, 5);
    float *dx = nt_zeros(3 * in);
    ck_assert_int_eq(nn_model_forward(t.m, t.x, 3, NULL), 0);
    /* A training build keeps no input gradient. */
    ck_assert_int_eq(nn_model_input_grad(t.m, 2, t.x, dx), CK_EINVAL);
    ck_assert_int_eq(nn_model_inspect(t.m, err, sizeof err), 0);
    for (t.layer = 1; t.layer < t.m->nlayers; t.layer++) {
        t.seed = nt_rand(3 * t.m->layers[t.layer].desc.size, -1, 1, 100 + (uint64_t)t.layer);
        seed_f(&t);
        ck_assert_int_eq(nn_model_input_grad(t.m, t.layer, t.seed, dx), 0);
        char what[96];
        snprintf(what, sizeof what, "dx from %s", t.m->layers[t.layer].desc.name);
        int skipped = gradcheck_kinks(seed_f, &t, t.x, 3 * in, dx, 1e-3, 3e-3, what);
        ck_assert_msg(skipped <= (int)(3 * in / 10), "%s: %d of %zu at kinks", what, skipped,
                      3 * in);
        free(t.seed);
    }
    ck_assert_int_eq(nn_model_input_grad(t.m, 0, t.x, dx), CK_EINVAL);
    ck_assert_int_eq(nn_model_input_grad(t.m, t.m->nlayers, t.x, dx), CK_EINVAL);
    free(dx);
    free(t.x);
    nn_model_destroy(t.m);
}
END_TEST

/* ---- Grad-CAM ------------------------------------------------------------ */

/* A 1x1 convolution A_k = relu(u_k x + b_k) feeding every class c through
 * the same weight w[c][k] at every position: d score_c / d A_k = w[c][k]
 * everywhere, so alpha_k = w[c][k] and the map is relu(sum_k w[c][k] A_k),
 * in closed form. */
static const float cf_u[2] = {1.5f, -0.8f}, cf_b[2] = {0.1f, 0.2f};
static const float cf_w[3][2] = {{1, -2}, {0.5f, 0.5f}, {-1, 3}}, cf_bias[3] = {0, 0.1f, -0.1f};

static nn_model *closed_form_model(int classes)
{
    char spec[256], err[256] = "";
    snprintf(spec, sizeof spec,
             "Input(shape=(4, 3, 1))\nConv2D(2, 1, activation='relu')\nFlatten()\n"
             "Dense(%d, activation='%s')\n",
             classes, classes == 1 ? "sigmoid" : "softmax");
    nn_model *m;
    ck_assert_msg(nn_model_create(&m, spec, "closed", 1, err, sizeof err) == 0, "%s", err);
    nn_layer *C = &m->layers[1], *D = &m->layers[3];
    memcpy(m->params + C->w_off, cf_u, sizeof cf_u);
    memcpy(m->params + C->b_off, cf_b, sizeof cf_b);
    for (int pq = 0; pq < 12; pq++)
        for (int k = 0; k < 2; k++)
            for (int c = 0; c < classes; c++) {
                /* the binary model's one output is class 2's weights */
                m->params[D->w_off + (size_t)(pq * 2 + k) * classes + c] =
                    cf_w[classes == 1 ? 2 : c][k];
            }
    for (int c = 0; c < classes; c++) {
        m->params[D->b_off + c] = cf_bias[classes == 1 ? 2 : c];
    }
    return m;
}

START_TEST(gradcam_closed_form)
{
    char err[256] = "";
    float *x = nt_rand(12, -1, 1, 6);
    double A[12][2], z[3] = {(double)cf_bias[0], (double)cf_bias[1], (double)cf_bias[2]};
    for (int pq = 0; pq < 12; pq++)
        for (int k = 0; k < 2; k++) {
            A[pq][k] = fmax(0, (double)cf_u[k] * (double)x[pq] + (double)cf_b[k]);
            for (int c = 0; c < 3; c++) {
                z[c] += (double)cf_w[c][k] * A[pq][k];
            }
        }
    double e[3], sum = 0;
    int pred = 0;
    for (int c = 0; c < 3; c++) {
        e[c] = exp(z[c]);
        sum += e[c];
        pred = z[c] > z[pred] ? c : pred;
    }
    /* softmax: every class, and -1 for the predicted one */
    nn_model *m = closed_form_model(3);
    for (int cls = -1; cls < 3; cls++) {
        nn_gradcam g;
        ck_assert_msg(nn_gradcam_run(m, x, cls, &g, err, sizeof err) == 0, "%s", err);
        int c = cls < 0 ? pred : cls;
        ck_assert_int_eq(g.cls, c);
        ck_assert_int_eq(g.predicted, pred);
        ck_assert_int_eq(g.layer, 1);
        ck_assert_int_eq(g.h * 100 + g.w * 10 + g.c, 432);
        nt_assert_near(g.prob, e[c] / sum, 1e-6);
        nt_assert_near(g.pred_prob, e[pred] / sum, 1e-6);
        nt_assert_near(g.score, z[c], 1e-5);
        for (int k = 0; k < 2; k++) {
            nt_assert_near(g.alpha[k], cf_w[c][k], 1e-6);
        }
        for (int pq = 0; pq < 12; pq++) {
            double want = fmax(0, (double)cf_w[c][0] * A[pq][0] + (double)cf_w[c][1] * A[pq][1]);
            nt_assert_near(g.map[pq], want, 1e-5);
        }
        nn_gradcam_free(&g);
    }
    nn_model_destroy(m);
    /* sigmoid: class 1 scores z, class 0 scores -z */
    m = closed_form_model(1);
    double p1 = 1 / (1 + exp(-z[2]));
    for (int cls = 0; cls < 2; cls++) {
        nn_gradcam g;
        ck_assert_msg(nn_gradcam_run(m, x, cls, &g, err, sizeof err) == 0, "%s", err);
        double sign = cls ? 1 : -1;
        ck_assert_int_eq(g.predicted, p1 >= 0.5);
        nt_assert_near(g.prob, cls ? p1 : 1 - p1, 1e-6);
        nt_assert_near(g.pred_prob, p1 >= 0.5 ? p1 : 1 - p1, 1e-6);
        nt_assert_near(g.score, sign * z[2], 1e-5);
        for (int pq = 0; pq < 12; pq++) {
            double want =
                fmax(0, sign * ((double)cf_w[2][0] * A[pq][0] + (double)cf_w[2][1] * A[pq][1]));
            nt_assert_near(g.map[pq], want, 1e-5);
        }
        nn_gradcam_free(&g);
    }
    ck_assert_int_eq(nn_gradcam_run(m, x, 2, &(nn_gradcam){0}, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "closed: Grad-CAM: no class 2 (the model has 2)"), "%s", err);
    nn_model_destroy(m);
    free(x);
}
END_TEST

/* The usual case, a pool between the last convolution and the classifier
 * (fused in a training build): the naive twin routes each class weight
 * back to its window's maximum. */
START_TEST(gradcam_through_pool)
{
    char err[256] = "";
    nn_model *m = tiny_model("Input(shape=(6, 6, 1))\nConv2D(16, 3, activation='relu')\n"
                             "MaxPooling2D(2)\nFlatten()\nDense(3, activation='softmax')\n",
                             1, 7);
    float *x = nt_rand(36, 0, 1, 8);
    double logits[3];
    double **y = naive_forward(m, x, logits);
    const float *W = m->params + m->layers[4].w_off;
    for (int c = 0; c < 3; c++) {
        nn_gradcam g;
        ck_assert_msg(nn_gradcam_run(m, x, c, &g, err, sizeof err) == 0, "%s", err);
        double dA[4 * 4 * 16] = {0}, alpha[16] = {0}, map[16];
        for (int p = 0; p < 2; p++)
            for (int q = 0; q < 2; q++)
                for (int k = 0; k < 16; k++) {
                    int best = -1;
                    for (int r = 0; r < 2; r++)
                        for (int s = 0; s < 2; s++) {
                            int at = ((2 * p + r) * 4 + 2 * q + s) * 16 + k;
                            best = best < 0 || y[1][at] > y[1][best] ? at : best;
                        }
                    dA[best] += (double)W[(size_t)((p * 2 + q) * 16 + k) * 3 + c];
                }
        for (int i = 0; i < 16; i++)
            for (int k = 0; k < 16; k++) {
                alpha[k] += dA[i * 16 + k] / 16;
            }
        for (int i = 0; i < 16; i++) {
            map[i] = 0;
            for (int k = 0; k < 16; k++) {
                map[i] += alpha[k] * y[1][i * 16 + k];
            }
            map[i] = fmax(0, map[i]);
        }
        nt_assert_close(16, g.alpha, alpha, 1e-5, "alpha");
        nt_assert_close(16, g.map, map, 1e-5, "map");
        nt_assert_near(g.score, logits[c], 1e-5);
        nn_gradcam_free(&g);
    }
    naive_free(m, y);
    nn_model_destroy(m);
    free(x);
    /* Without a convolution there is nothing to explain. */
    m = tiny_model("Input(shape=(2, 2, 1))\nFlatten()\nDense(2, activation='softmax')\n", 1, 9);
    nn_gradcam g;
    ck_assert_int_eq(nn_gradcam_run(m, (float[4]){0}, -1, &g, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "tiny: Grad-CAM: the model has no Conv2D layer"), "%s", err);
    ck_assert_ptr_null(g.map);
    nn_gradcam_free(&g);
    nn_model_destroy(m);
}
END_TEST

/* ---- filter patterns ----------------------------------------------------- */

static const char ascent_spec[] = "Input(shape=(10, 10, 1))\n"
                                  "Conv2D(4, 3, activation='relu')\n"
                                  "Conv2D(6, 3, activation='relu')\n"
                                  "Flatten()\n"
                                  "Dense(2, activation='softmax')\n";

START_TEST(ascent_raises_and_repeats)
{
    char err[256] = "";
    nn_model *m = tiny_model(ascent_spec, 4, 10);
    const size_t in = 100;
    const int all[6] = {0, 1, 2, 3, 4, 5};
    float *x = nt_zeros(6 * in), *x2 = nt_zeros(6 * in), start[6], end[6];
    nn_ascent o = nn_ascent_defaults();
    o.seed = 5;
    ck_assert_msg(nn_filter_patterns(m, 2, all, 6, &o, x, start, end, err, sizeof err) == 0, "%s",
                  err);
    /* No filter's mean output falls; those the grey start excites rise,
     * and one it leaves silent is woken (its response before the ReLU has
     * a gradient, and rises, if not always above zero). */
    int woken = 0;
    for (int j = 0; j < 6; j++) {
        ck_assert_msg(end[j] >= start[j], "filter %d: mean %g -> %g", j, (double)start[j],
                      (double)end[j]);
        if (start[j] > 0) {
            ck_assert_msg(end[j] > 1.5f * start[j] + 0.1f, "filter %d: mean %g -> %g", j,
                          (double)start[j], (double)end[j]);
        }
        woken += start[j] == 0 && end[j] > 0.1f;
    }
    ck_assert_int_ge(woken, 1);
    /* The same seed, the same patterns; each filter's whatever the others
     * (filter 5 alone; 4 and 5 in the second batch of 4 before). */
    ck_assert_int_eq(nn_filter_patterns(m, 2, all, 6, &o, x2, NULL, NULL, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(x, x2, 6 * in * sizeof *x), 0);
    ck_assert_int_eq(nn_filter_patterns(m, 2, all + 5, 1, &o, x2, NULL, NULL, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(x + 5 * in, x2, in * sizeof *x), 0);
    o.seed = 6;
    ck_assert_int_eq(nn_filter_patterns(m, 2, all + 5, 1, &o, x2, NULL, NULL, err, sizeof err), 0);
    ck_assert_int_ne(memcmp(x + 5 * in, x2, in * sizeof *x), 0);
    /* No step: the grey start with its noise, in the model's units. */
    o.steps = 0;
    ck_assert_int_eq(nn_filter_patterns(m, 1, all, 4, &o, x, start, end, err, sizeof err), 0);
    for (size_t i = 0; i < 4 * in; i++) {
        ck_assert(x[i] >= 0.4f && x[i] <= 0.6f);
    }
    ck_assert_int_ne(memcmp(x, x + in, in * sizeof *x), 0);
    for (int j = 0; j < 4; j++) {
        nt_assert_near(end[j], start[j], 0);
    }
    /* Errors name the model, the layer and the filter. */
    const int bad = 6;
    ck_assert_int_eq(nn_filter_patterns(m, 2, &bad, 1, &o, x, NULL, NULL, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "tiny: filter patterns: conv2d_1 has 6 filters, no 6"), "%s", err);
    ck_assert_int_eq(nn_filter_patterns(m, 4, all, 1, &o, x, NULL, NULL, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "dense is the output layer"), "%s", err);
    ck_assert_int_eq(nn_filter_patterns(m, 0, all, 1, &o, x, NULL, NULL, err, sizeof err),
                     CK_EINVAL);
    free(x);
    free(x2);
    nn_model_destroy(m);
}
END_TEST

static Suite *viz_suite(void)
{
    Suite *s = suite_create("nn_viz");
    TCase *tc = tcase_create("viz");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, layer_info);
    tcase_add_test(tc, outputs_match_naive);
    tcase_add_test(tc, input_grad_matches_differences);
    tcase_add_test(tc, gradcam_closed_form);
    tcase_add_test(tc, gradcam_through_pool);
    tcase_add_test(tc, ascent_raises_and_repeats);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* A tier this CPU or build lacks (the generic build's avx512 run) is
     * skipped with a note, as nt_tier does, and the best one tested. */
    const char *isa = getenv("CONVKIT_ISA");
    ck_isa want;
    char why[256];
    if (isa && *isa && ck_isa_parse(isa, &want, why, sizeof why)) {
        fprintf(stderr, "note: tier skipped, the best one tested instead: %s\n", why);
        unsetenv("CONVKIT_ISA"); /* NOLINT(concurrency-mt-unsafe): no thread yet */
    }
    return ck_test_run(viz_suite());
}
