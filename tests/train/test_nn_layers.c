/* test_nn_layers.c: every layer kernel forward against a naive reference
 * in double, backward against central differences, on tiny shapes; the
 * convolution through each implementation (im2col on OpenBLAS, direct on
 * the portable kernels and, where the CPU has them, the AVX-512 ones).
 * Inputs that would sit on a kink (relu at 0, ties in a pooling window)
 * are kept away from it by construction. The fast kernels against naive
 * twins on many odd shapes are in test_nn_kern.c. */
#include <string.h>

#include "nn_internal.h"
#include "nn_test_util.h"

/* ---- Conv2D ------------------------------------------------------------- */

/* The definition: y[n,p,q,k] = b[k] + sum x[n,p*sh-pt+r,q*sw-pl+s,c] w[r,s,c,k]. */
static double *conv_naive(const nn_conv_shape *g, int N, const float *x, const float *w,
                          const float *b)
{
    double *y = calloc((size_t)N * g->P * g->Q * g->K, sizeof *y);
    for (int n = 0; n < N; n++)
        for (int p = 0; p < g->P; p++)
            for (int q = 0; q < g->Q; q++)
                for (int k = 0; k < g->K; k++) {
                    double s = b ? (double)b[k] : 0;
                    for (int r = 0; r < g->R; r++)
                        for (int t = 0; t < g->S; t++)
                            for (int c = 0; c < g->C; c++) {
                                int h = p * g->sh - g->pt + r, wi = q * g->sw - g->pl + t;
                                if (h < 0 || h >= g->H || wi < 0 || wi >= g->W) {
                                    continue;
                                }
                                s += (double)x[((n * g->H + h) * g->W + wi) * g->C + c] *
                                     (double)w[((r * g->S + t) * g->C + c) * g->K + k];
                            }
                    y[((n * g->P + p) * g->Q + q) * g->K + k] = s;
                }
    return y;
}

typedef struct conv_case {
    nn_conv_shape g;
    int N;
    float *x, *w, *b, *y, *c;
    const nn_conv_impl *impl;
    nn_exec ex;
} conv_case;

static double conv_f(void *p)
{
    conv_case *t = p;
    t->impl->forward(&t->g, t->N, t->x, t->w, t->b, NN_ACT_LINEAR, t->y, &t->ex);
    return nt_dot((size_t)t->N * t->g.P * t->g.Q * t->g.K, t->c, t->y);
}

static void conv_check_impl(int N, int H, int W, int C, int K, int R, int S, int sh, int sw,
                            int same, const nn_conv_impl *impl, const nn_kernels *kern)
{
    conv_case t = {.N = N, .impl = impl, .ex = {.kern = kern, .max_threads = 1}};
    t.g = (nn_conv_shape){.H = H, .W = W, .C = C, .K = K, .R = R, .S = S, .sh = sh, .sw = sw};
    ck_assert_int_eq(nn_conv_shape_set(&t.g, same), 0);
    t.ex.nscratch = impl->scratch(&t.g, N, 1, 1);
    t.ex.scratch = nt_zeros(t.ex.nscratch);
    size_t nx = (size_t)N * H * W * C, nw = (size_t)R * S * C * K;
    size_t ny = (size_t)N * t.g.P * t.g.Q * K;
    t.x = nt_rand(nx, -1, 1, 1);
    t.w = nt_rand(nw, -1, 1, 2);
    t.b = nt_rand((size_t)K, -1, 1, 3);
    t.c = nt_rand(ny, -1, 1, 4);
    t.y = nt_zeros(ny);
    double *ref = conv_naive(&t.g, N, t.x, t.w, t.b);
    conv_f(&t);
    nt_assert_close(ny, t.y, ref, 1e-5, "conv y");

    float *dx = nt_zeros(nx), *dw = nt_zeros(nw), *db = nt_zeros((size_t)K);
    impl->backward(&t.g, N, t.x, t.w, t.y, NN_ACT_LINEAR, t.c, dx, dw, db, &t.ex);
    nt_gradcheck(conv_f, &t, t.x, nx, dx, 1e-2, 2e-3, "conv dx");
    nt_gradcheck(conv_f, &t, t.w, nw, dw, 1e-2, 2e-3, "conv dw");
    nt_gradcheck(conv_f, &t, t.b, (size_t)K, db, 1e-2, 2e-3, "conv db");

    /* Backward adds into dw (a second call doubles it) and writes dx. */
    float *dw2 = malloc(nw * sizeof *dw2), *dx2 = malloc(nx * sizeof *dx2);
    memcpy(dw2, dw, nw * sizeof *dw2);
    memcpy(dx2, dx, nx * sizeof *dx2);
    impl->backward(&t.g, N, t.x, t.w, t.y, NN_ACT_LINEAR, t.c, dx, dw, NULL, &t.ex);
    for (size_t i = 0; i < nw; i++) {
        nt_assert_near(dw[i], 2 * dw2[i], 1e-4f * (1 + fabsf(dw2[i])));
    }
    for (size_t i = 0; i < nx; i++) {
        nt_assert_near(dx[i], dx2[i], 1e-6f * (1 + fabsf(dx2[i])));
    }
    free(dw2);
    free(dx2);
    free(ref);
    free(dx);
    free(dw);
    free(db);
    free(t.x);
    free(t.w);
    free(t.b);
    free(t.c);
    free(t.y);
    free(t.ex.scratch);
}

/* Through im2col, and for stride 1 through the direct convolution on the
 * portable kernels and on those of the tier under test. */
static void conv_check(int N, int H, int W, int C, int K, int R, int S, int sh, int sw, int same)
{
    conv_check_impl(N, H, W, C, K, R, S, sh, sw, same, &nn_conv_im2col, NULL);
    if (sh == 1 && sw == 1) {
        conv_check_impl(N, H, W, C, K, R, S, sh, sw, same, &nn_conv_direct, &nn_kernels_ref);
        if (nt_tier() != &nn_kernels_ref) {
            conv_check_impl(N, H, W, C, K, R, S, sh, sw, same, &nn_conv_direct, nt_tier());
        }
    }
}

START_TEST(conv_valid)
{
    conv_check(2, 5, 6, 3, 4, 3, 3, 1, 1, 0);
    conv_check(1, 7, 5, 2, 3, 3, 2, 2, 1, 0);
}
END_TEST

START_TEST(conv_same)
{
    conv_check(2, 5, 5, 2, 3, 3, 3, 1, 1, 1);
    conv_check(1, 6, 7, 2, 2, 3, 3, 2, 2, 1);
    conv_check(1, 5, 4, 1, 2, 4, 2, 3, 2, 1);
}
END_TEST

/* Keras's (TensorFlow's) 'same' arithmetic on cases where it is uneven. */
START_TEST(same_padding_arithmetic)
{
    nn_conv_shape g = {.H = 6, .W = 5, .C = 1, .K = 1, .R = 3, .S = 3, .sh = 2, .sw = 2};
    ck_assert_int_eq(nn_conv_shape_set(&g, 1), 0);
    /* H: P = 3, total = 2*2 + 3 - 6 = 1 -> top 0 (bottom 1);
     * W: Q = 3, total = 2*2 + 3 - 5 = 2 -> left 1. */
    ck_assert_int_eq(g.P, 3);
    ck_assert_int_eq(g.Q, 3);
    ck_assert_int_eq(g.pt, 0);
    ck_assert_int_eq(g.pl, 1);
    g = (nn_conv_shape){.H = 4, .W = 4, .C = 1, .K = 1, .R = 2, .S = 2, .sh = 2, .sw = 2};
    ck_assert_int_eq(nn_conv_shape_set(&g, 1), 0);
    ck_assert_int_eq(g.P, 2);
    ck_assert_int_eq(g.pt, 0);
    g = (nn_conv_shape){.H = 28, .W = 28, .C = 1, .K = 1, .R = 5, .S = 5, .sh = 1, .sw = 1};
    ck_assert_int_eq(nn_conv_shape_set(&g, 0), 0);
    ck_assert_int_eq(g.P, 24);
    g.H = 4;
    ck_assert_int_eq(nn_conv_shape_set(&g, 0), CK_EINVAL);
}
END_TEST

/* ---- MaxPooling2D ------------------------------------------------------- */

typedef struct pool_case {
    nn_conv_shape g;
    int N;
    float *x, *y, *c;
    uint32_t *arg;
    nn_exec ex;
} pool_case;

static double pool_f(void *p)
{
    pool_case *t = p;
    nn_maxpool_forward(&t->g, t->N, t->x, t->y, t->arg, &t->ex);
    return nt_dot((size_t)t->N * t->g.P * t->g.Q * t->g.C, t->c, t->y);
}

static void pool_check(int N, int H, int W, int C, int R, int sh, int same)
{
    pool_case t = {.N = N, .ex = {.kern = nt_tier()}};
    t.g = (nn_conv_shape){.H = H, .W = W, .C = C, .K = C, .R = R, .S = R, .sh = sh, .sw = sh};
    ck_assert_int_eq(nn_conv_shape_set(&t.g, same), 0);
    size_t nx = (size_t)N * H * W * C, ny = (size_t)N * t.g.P * t.g.Q * C;
    /* Distinct values 0.1 apart (a shuffled ramp): no ties, no kinks. */
    t.x = nt_zeros(nx);
    uint32_t *perm = malloc(nx * sizeof *perm);
    for (size_t i = 0; i < nx; i++) {
        perm[i] = (uint32_t)i;
    }
    ck_rng r;
    ck_rng_init(&r, 5, 0, 0, CK_RNG_TEST);
    ck_rng_shuffle_u32(&r, perm, nx);
    for (size_t i = 0; i < nx; i++) {
        t.x[i] = 0.1f * (float)perm[i] - 3.0f;
    }
    free(perm);
    t.y = nt_zeros(ny);
    t.arg = calloc(ny, sizeof *t.arg);
    t.c = nt_rand(ny, -1, 1, 6);
    pool_f(&t);
    for (int n = 0; n < N; n++)
        for (int p = 0; p < t.g.P; p++)
            for (int q = 0; q < t.g.Q; q++)
                for (int c = 0; c < C; c++) {
                    double m = -INFINITY;
                    for (int a = 0; a < R; a++)
                        for (int b = 0; b < R; b++) {
                            int h = p * sh - t.g.pt + a, w = q * sh - t.g.pl + b;
                            if (h >= 0 && h < H && w >= 0 && w < W) {
                                m = fmax(m, (double)t.x[((n * H + h) * W + w) * C + c]);
                            }
                        }
                    size_t o = ((size_t)(n * t.g.P + p) * t.g.Q + q) * C + c;
                    ck_assert_double_eq((double)t.y[o], m);
                }
    /* Backward writes every element of dx. */
    float *dx = nt_rand(nx, 100, 101, 7);
    nn_maxpool_backward(&t.g, N, t.arg, t.c, dx, &t.ex);
    nt_gradcheck(pool_f, &t, t.x, nx, dx, 1e-2, 1e-4, "pool dx");
    free(dx);
    free(t.arg);
    free(t.x);
    free(t.y);
    free(t.c);
}

START_TEST(maxpool)
{
    pool_check(2, 4, 4, 3, 2, 2, 0);
    pool_check(1, 5, 5, 2, 2, 2, 0); /* floor: the last row and column are dropped */
    pool_check(1, 5, 5, 2, 2, 2, 1); /* same: a partial window at the edge */
    pool_check(1, 5, 6, 2, 3, 2, 1);
    pool_check(1, 6, 6, 1, 3, 1, 0);  /* overlapping windows */
    pool_check(2, 5, 7, 16, 2, 2, 0); /* the AVX-512 path, odd sizes */
    pool_check(1, 4, 4, 32, 2, 2, 1);
}
END_TEST

/* ---- Dense -------------------------------------------------------------- */

typedef struct dense_case {
    int N, I, O;
    float *x, *w, *b, *y, *c;
    nn_exec ex;
} dense_case;

static double dense_f(void *p)
{
    dense_case *t = p;
    nn_dense_forward(t->N, t->I, t->O, t->x, t->w, t->b, t->y, &t->ex);
    return nt_dot((size_t)t->N * t->O, t->c, t->y);
}

static void dense_check(const nn_kernels *kern)
{
    dense_case t = {.N = 3, .I = 5, .O = 4, .ex = {.kern = kern}};
    float scratch[3 * (5 + 4)];
    t.ex.scratch = scratch;
    t.ex.nscratch = nn_dense_scratch(3, 5, 4);
    t.x = nt_rand(15, -1, 1, 10);
    t.w = nt_rand(20, -1, 1, 11);
    t.b = nt_rand(4, -1, 1, 12);
    t.c = nt_rand(12, -1, 1, 13);
    t.y = nt_zeros(12);
    dense_f(&t);
    double ref[12];
    for (int n = 0; n < 3; n++)
        for (int o = 0; o < 4; o++) {
            double s = (double)t.b[o];
            for (int i = 0; i < 5; i++) {
                s += (double)t.x[n * 5 + i] * (double)t.w[i * 4 + o];
            }
            ref[n * 4 + o] = s;
        }
    nt_assert_close(12, t.y, ref, 1e-6, "dense y");
    float *dx = nt_rand(15, 100, 101, 14), *dw = nt_zeros(20), *db = nt_zeros(4);
    nn_dense_backward(3, 5, 4, t.x, t.w, t.c, dx, dw, db, &t.ex);
    nt_gradcheck(dense_f, &t, t.x, 15, dx, 1e-2, 1e-3, "dense dx");
    nt_gradcheck(dense_f, &t, t.w, 20, dw, 1e-2, 1e-3, "dense dw");
    nt_gradcheck(dense_f, &t, t.b, 4, db, 1e-2, 1e-3, "dense db");
    free(dx);
    free(dw);
    free(db);
    free(t.x);
    free(t.w);
    free(t.b);
    free(t.c);
    free(t.y);
}

START_TEST(dense)
{
    dense_check(NULL);
    dense_check(&nn_kernels_ref);
    if (nt_tier() != &nn_kernels_ref) {
        dense_check(nt_tier());
    }
}
END_TEST

/* ---- activations -------------------------------------------------------- */

typedef struct act_case {
    nn_act act;
    int N, D;
    float *z, *y, *c;
} act_case;

static double act_f(void *p)
{
    act_case *t = p;
    memcpy(t->y, t->z, (size_t)t->N * t->D * sizeof *t->y);
    nn_act_forward(t->act, t->N, t->D, t->y);
    return nt_dot((size_t)t->N * t->D, t->c, t->y);
}

static void act_check(nn_act act, double tol)
{
    act_case t = {.act = act, .N = 3, .D = 5};
    size_t n = 15;
    t.z = nt_rand(n, -3, 3, 20);
    for (size_t i = 0; i < n; i++) {
        if (fabsf(t.z[i]) < 0.1f) { /* away from relu's kink */
            t.z[i] += 0.5f;
        }
    }
    t.y = nt_zeros(n);
    t.c = nt_rand(n, -1, 1, 21);
    act_f(&t);
    double ref[15];
    for (int r = 0; r < 3; r++) {
        double m = -INFINITY, sum = 0;
        for (int j = 0; j < 5; j++) {
            m = fmax(m, (double)t.z[r * 5 + j]);
        }
        for (int j = 0; j < 5; j++) {
            sum += exp((double)t.z[r * 5 + j] - m);
        }
        for (int j = 0; j < 5; j++) {
            double z = (double)t.z[r * 5 + j];
            ref[r * 5 + j] = act == NN_ACT_RELU      ? fmax(z, 0)
                             : act == NN_ACT_SIGMOID ? 1 / (1 + exp(-z))
                             : act == NN_ACT_SOFTMAX ? exp(z - m) / sum
                                                     : z;
        }
    }
    nt_assert_close(n, t.y, ref, 1e-6, "act y");
    float *dz = malloc(n * sizeof *dz);
    memcpy(dz, t.c, n * sizeof *dz);
    nn_act_backward(act, 3, 5, t.y, dz);
    nt_gradcheck(act_f, &t, t.z, n, dz, 1e-3, tol, "act dz");
    free(dz);
    free(t.z);
    free(t.y);
    free(t.c);
}

START_TEST(activations)
{
    act_check(NN_ACT_LINEAR, 1e-4);
    act_check(NN_ACT_RELU, 1e-4);
    act_check(NN_ACT_SIGMOID, 1e-3);
    act_check(NN_ACT_SOFTMAX, 1e-3);
}
END_TEST

/* Extreme logits must not overflow. */
START_TEST(activations_extreme)
{
    float y[4] = {1000.0f, -1000.0f, 88.0f, -104.0f};
    nn_act_forward(NN_ACT_SIGMOID, 1, 4, y);
    nt_assert_near(y[0], 1.0f, 0);
    nt_assert_near(y[1], 0.0f, 0);
    ck_assert(isfinite(y[2]) && isfinite(y[3]));
    /* NaN passes relu (as in TensorFlow), so divergence reaches the loss. */
    float r[2] = {NAN, -1.0f};
    nn_act_forward(NN_ACT_RELU, 1, 2, r);
    ck_assert(isnan(r[0]) && r[1] == 0.0f);
    float s[3] = {1000.0f, 999.0f, -1000.0f};
    nn_act_forward(NN_ACT_SOFTMAX, 1, 3, s);
    nt_assert_near(s[0], 0.7310586f, 1e-6f);
    nt_assert_near(s[1], 0.2689414f, 1e-6f);
    nt_assert_near(s[2], 0.0f, 0);
}
END_TEST

/* ---- Rescaling, Dropout ------------------------------------------------- */

START_TEST(rescaling)
{
    float x[3] = {0, 127.5f, 255}, y[3], dx[3] = {1, 1, 1}, dy[3] = {1, 2, 3};
    nn_rescale_forward(3, 1.0f / 255, 0.0f, x, y);
    nt_assert_near(y[1], 0.5f, 1e-7f);
    nt_assert_near(y[2], 1.0f, 1e-7f);
    nn_rescale_forward(3, 1.0f / 127.5f, -1.0f, x, y);
    nt_assert_near(y[0], -1.0f, 1e-7f);
    nt_assert_near(y[1], 0.0f, 1e-7f);
    nn_rescale_backward(3, 0.5f, dy, dx); /* writes */
    nt_assert_near(dx[2], 1.5f, 0);
}
END_TEST

START_TEST(dropout)
{
    enum { N = 100000 };
    float *x = nt_rand(N, 0.5, 1.5, 30), *y = nt_zeros(N), *mask = nt_zeros(N);
    ck_rng r;
    ck_rng_init(&r, 9, 2, 7, CK_RNG_DROPOUT);
    nn_dropout_forward(N, 0.25f, &r, x, y, mask);
    int dropped = 0;
    double sx = 0, sy = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(mask[i] == 0.0f || mask[i] == 1.0f / 0.75f);
        nt_assert_near(y[i], x[i] * mask[i], 0);
        dropped += mask[i] == 0.0f;
        sx += (double)x[i];
        sy += (double)y[i];
    }
    /* About a quarter dropped (6 standard errors), expectation kept. */
    ck_assert_int_lt(abs(dropped - N / 4), 850);
    ck_assert_double_eq_tol(sy / sx, 1.0, 0.02);
    /* The same key gives the same mask. */
    float *mask2 = nt_zeros(N);
    ck_rng_init(&r, 9, 2, 7, CK_RNG_DROPOUT);
    nn_dropout_forward(N, 0.25f, &r, x, y, mask2);
    ck_assert_int_eq(memcmp(mask, mask2, N * sizeof *mask), 0);
    /* Backward routes through the same mask, writing dx. */
    float *dx = nt_zeros(N);
    nn_dropout_backward(N, mask, x, dx);
    nn_dropout_backward(N, mask, x, dx);
    for (int i = 0; i < N; i++) {
        nt_assert_near(dx[i], x[i] * mask[i], 0);
    }
    free(x);
    free(y);
    free(mask);
    free(mask2);
    free(dx);
}
END_TEST

static Suite *layers_suite(void)
{
    Suite *s = suite_create("nn_layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, conv_valid);
    tcase_add_test(tc, conv_same);
    tcase_add_test(tc, same_padding_arithmetic);
    tcase_add_test(tc, maxpool);
    tcase_add_test(tc, dense);
    tcase_add_test(tc, activations);
    tcase_add_test(tc, activations_extreme);
    tcase_add_test(tc, rescaling);
    tcase_add_test(tc, dropout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(layers_suite());
}
