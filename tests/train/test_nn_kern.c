/* test_nn_kern.c: the fast kernels against naive twins in double, on odd
 * shapes that reach every tail: panels narrower than 16 lanes, pixel rows
 * shorter than a tile, tiles that cross rows, weight panels large enough
 * to be swept in chunks, 1 to 3 threads; and the thread team itself.
 * The portable kernels are tested always, and those of the tier under test
 * (CONVKIT_ISA, set by CTest: the suite runs once per tier). */
#include <string.h>

#include "nn_internal.h"
#include "nn_test_util.h"

/* |a - ref| within tol times the sum of the absolute terms (float
 * rounding grows with it), plus a floor. */
static void assert_sums(size_t n, const float *a, const double *ref, const double *mag,
                        const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]), lim = 1e-5 * mag[i] + 1e-6;
        ck_assert_msg(e <= lim, "%s[%zu]: %.8g vs %.8g (err %.3g > %.3g)", what, i, (double)a[i],
                      ref[i], e, lim);
    }
}

static int nsets(void)
{
    return nt_tier() != &nn_kernels_ref ? 2 : 1;
}

static const nn_kernels *kset(int i)
{
    return i == 0 ? &nn_kernels_ref : nt_tier();
}

/* ---- nn_kconv ---------------------------------------------------------------- */

typedef struct kconv_shape {
    int P, Q, Wv, taps, depth, ncols, bias, relu, acc;
} kconv_shape;

static void kconv_check(const nn_kernels *kern, kconv_shape s, uint64_t id)
{
    /* a: P rows of Wv pixels of `depth` floats, plus taps-1 more rows. */
    const int D = s.depth;
    const ptrdiff_t a_cs = D, a_rs = (ptrdiff_t)s.Wv * D, tap = a_rs;
    size_t na = (size_t)(s.P + s.taps) * a_rs + D, nb = (size_t)s.taps * D * s.ncols;
    const ptrdiff_t y_cs = s.ncols + 3, y_rs = s.Q * y_cs + 5; /* gaps stay untouched */
    size_t ny = (size_t)s.P * y_rs;
    float *a = nt_rand(na, -1, 1, id), *b = nt_rand(nb, -1, 1, id + 1);
    float *bias = nt_rand((size_t)s.ncols, -1, 1, id + 2), *y = nt_rand(ny, -1, 1, id + 3);
    double *ref = calloc(ny, sizeof *ref), *mag = calloc(ny, sizeof *mag);
    for (size_t i = 0; i < ny; i++) {
        ref[i] = (double)y[i];
        mag[i] = fabs(ref[i]);
    }
    for (int p = 0; p < s.P; p++)
        for (int q = 0; q < s.Q; q++)
            for (int n = 0; n < s.ncols; n++) {
                size_t o = (size_t)p * y_rs + (size_t)q * y_cs + n;
                double v = s.acc ? (double)y[o] : 0, m = s.acc ? fabs(v) : 0;
                for (int t = 0; t < s.taps; t++)
                    for (int d = 0; d < D; d++) {
                        double pr = (double)a[p * a_rs + q * a_cs + t * tap + d] *
                                    (double)b[((size_t)t * D + d) * s.ncols + n];
                        v += pr;
                        m += fabs(pr);
                    }
                if (s.bias) {
                    v += (double)bias[n];
                    m += fabs((double)bias[n]);
                }
                ref[o] = s.relu && v < 0 ? 0 : v;
                mag[o] = m;
            }
    nn_kconv k = {.a = a,
                  .a_rs = a_rs,
                  .a_cs = a_cs,
                  .tap_rs = tap,
                  .taps = s.taps,
                  .depth = D,
                  .b = b,
                  .ldb = s.ncols,
                  .ncols = s.ncols,
                  .y = y,
                  .y_rs = y_rs,
                  .y_cs = y_cs,
                  .P = s.P,
                  .Q = s.Q,
                  .bias = s.bias ? bias : NULL,
                  .relu = s.relu,
                  .accumulate = s.acc};
    kern->conv(&k);
    char what[160];
    snprintf(what, sizeof what, "%s kconv P%d Q%d Wv%d taps%d depth%d ncols%d b%d r%d acc%d",
             kern->name, s.P, s.Q, s.Wv, s.taps, s.depth, s.ncols, s.bias, s.relu, s.acc);
    assert_sums(ny, y, ref, mag, what);
    free(a);
    free(b);
    free(bias);
    free(y);
    free(ref);
    free(mag);
}

START_TEST(kconv_shapes)
{
    static const kconv_shape shapes[] = {
        {1, 1, 1, 1, 1, 1, 0, 0, 0},      {3, 7, 9, 3, 5, 17, 1, 1, 0},
        {2, 15, 15, 1, 3, 16, 1, 0, 1},   {4, 5, 7, 2, 9, 33, 0, 1, 1},
        {5, 13, 14, 3, 4, 64, 1, 1, 0},   {2, 29, 31, 1, 7, 70, 1, 0, 0},
        {3, 6, 8, 3, 200, 48, 1, 1, 0}, /* chunked: 3*200 rows of 64 */
        {1, 9, 9, 1, 1300, 130, 1, 0, 1}, {6, 1, 3, 2, 11, 100, 0, 1, 0},
        {7, 7, 9, 3, 256, 256, 1, 1, 0},  {2, 40, 40, 1, 2, 2, 1, 1, 1},
    };
    for (int k = 0; k < nsets(); k++) {
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            kconv_check(kset(k), shapes[i], 100 + 10 * i);
        }
    }
}
END_TEST

/* ---- nn_kdw --------------------------------------------------------------------- */

typedef struct kdw_shape {
    int P, Q, taps, depth, ncols, mask, db;
} kdw_shape;

static void kdw_check(const nn_kernels *kern, kdw_shape s, uint64_t id)
{
    const ptrdiff_t x_cs = s.depth + 1, x_rs = (ptrdiff_t)(s.Q + 2) * x_cs, tap = x_rs;
    const ptrdiff_t dy_cs = s.ncols + 2, dy_rs = (ptrdiff_t)s.Q * dy_cs + 1;
    size_t nx = (size_t)(s.P + s.taps) * x_rs, ndy = (size_t)s.P * dy_rs;
    size_t nw = (size_t)s.taps * s.depth * s.ncols;
    float *x = nt_rand(nx, -1, 1, id), *dy = nt_rand(ndy, -1, 1, id + 1);
    float *ym = nt_rand(ndy, -1, 1, id + 2), *dw = nt_rand(nw, -1, 1, id + 3);
    float *db = nt_rand((size_t)s.ncols, -1, 1, id + 4);
    double *ref = calloc(nw + s.ncols, sizeof *ref), *mag = calloc(nw + s.ncols, sizeof *mag);
    for (size_t i = 0; i < nw; i++) {
        ref[i] = (double)dw[i];
        mag[i] = fabs(ref[i]);
    }
    for (int n = 0; n < s.ncols; n++) {
        ref[nw + n] = (double)db[n];
        mag[nw + n] = fabs(ref[nw + n]);
    }
    for (int p = 0; p < s.P; p++)
        for (int q = 0; q < s.Q; q++)
            for (int n = 0; n < s.ncols; n++) {
                size_t o = (size_t)p * dy_rs + (size_t)q * dy_cs + n;
                double g = s.mask && !(ym[o] > 0) ? 0 : (double)dy[o];
                ref[nw + n] += g;
                mag[nw + n] += fabs(g);
                for (int t = 0; t < s.taps; t++)
                    for (int d = 0; d < s.depth; d++) {
                        size_t w = ((size_t)t * s.depth + d) * s.ncols + n;
                        double pr = (double)x[p * x_rs + q * x_cs + t * tap + d] * g;
                        ref[w] += pr;
                        mag[w] += fabs(pr);
                    }
            }
    nn_kdw k = {.x = x,
                .x_rs = x_rs,
                .x_cs = x_cs,
                .tap_rs = tap,
                .taps = s.taps,
                .depth = s.depth,
                .dy = dy,
                .ym = s.mask ? ym : NULL,
                .dy_rs = dy_rs,
                .dy_cs = dy_cs,
                .ncols = s.ncols,
                .P = s.P,
                .Q = s.Q,
                .dw = dw,
                .ldw = s.ncols,
                .db = s.db ? db : NULL};
    kern->dw(&k);
    char what[160];
    snprintf(what, sizeof what, "%s kdw P%d Q%d taps%d depth%d ncols%d mask%d", kern->name, s.P,
             s.Q, s.taps, s.depth, s.ncols, s.mask);
    assert_sums(nw, dw, ref, mag, what);
    if (s.db) {
        assert_sums((size_t)s.ncols, db, ref + nw, mag + nw, what);
    }
    free(x);
    free(dy);
    free(ym);
    free(dw);
    free(db);
    free(ref);
    free(mag);
}

START_TEST(kdw_shapes)
{
    static const kdw_shape shapes[] = {
        {1, 1, 1, 1, 1, 0, 1},    {3, 7, 3, 9, 32, 1, 1},  {2, 300, 1, 5, 17, 0, 1},
        {9, 30, 2, 13, 70, 1, 0}, {4, 5, 3, 25, 64, 0, 1}, {2, 3, 1, 40, 130, 1, 1},
        {1, 33, 3, 7, 3, 1, 1},   {5, 2, 2, 14, 48, 0, 0},
    };
    for (int k = 0; k < nsets(); k++) {
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            kdw_check(kset(k), shapes[i], 200 + 10 * i);
        }
    }
}
END_TEST

/* ---- the direct convolution ----------------------------------------------------------- */

typedef struct conv_ref {
    double *y, *ymag, *dx, *dxmag, *dw, *dwmag, *db, *dbmag;
} conv_ref;

/* The definitions, in double: y = act(conv(x, w) + b); g = dy masked by
 * y > 0 for relu; dx, dw, db the sums of g's products. */
static conv_ref conv_naive(const nn_conv_shape *g, int N, const float *x, const float *w,
                           const float *b, int relu, const float *dy)
{
    size_t ny = (size_t)N * g->P * g->Q * g->K, nx = (size_t)N * g->H * g->W * g->C;
    size_t nw = (size_t)g->R * g->S * g->C * g->K;
    conv_ref r = {calloc(ny, 8), calloc(ny, 8), calloc(nx, 8),   calloc(nx, 8),
                  calloc(nw, 8), calloc(nw, 8), calloc(g->K, 8), calloc(g->K, 8)};
    for (int n = 0; n < N; n++)
        for (int p = 0; p < g->P; p++)
            for (int q = 0; q < g->Q; q++)
                for (int k = 0; k < g->K; k++) {
                    size_t o = (((size_t)n * g->P + p) * g->Q + q) * g->K + k;
                    double v = (double)b[k], m = fabs(v);
                    for (int a = 0; a < g->R; a++)
                        for (int s = 0; s < g->S; s++)
                            for (int c = 0; c < g->C; c++) {
                                int h = p - g->pt + a, wi = q - g->pl + s;
                                if (h >= 0 && h < g->H && wi >= 0 && wi < g->W) {
                                    double pr =
                                        (double)x[(((size_t)n * g->H + h) * g->W + wi) * g->C + c] *
                                        (double)w[(((size_t)a * g->S + s) * g->C + c) * g->K + k];
                                    v += pr;
                                    m += fabs(pr);
                                }
                            }
                    r.y[o] = relu && v < 0 ? 0 : v;
                    r.ymag[o] = m;
                }
    for (int n = 0; n < N; n++)
        for (int p = 0; p < g->P; p++)
            for (int q = 0; q < g->Q; q++)
                for (int k = 0; k < g->K; k++) {
                    size_t o = (((size_t)n * g->P + p) * g->Q + q) * g->K + k;
                    double gd = relu && !(r.y[o] > 0) ? 0 : (double)dy[o];
                    r.db[k] += gd;
                    r.dbmag[k] += fabs(gd);
                    for (int a = 0; a < g->R; a++)
                        for (int s = 0; s < g->S; s++)
                            for (int c = 0; c < g->C; c++) {
                                int h = p - g->pt + a, wi = q - g->pl + s;
                                if (h < 0 || h >= g->H || wi < 0 || wi >= g->W) {
                                    continue;
                                }
                                size_t xi = (((size_t)n * g->H + h) * g->W + wi) * g->C + c;
                                size_t wj = (((size_t)a * g->S + s) * g->C + c) * g->K + k;
                                r.dx[xi] += (double)w[wj] * gd;
                                r.dxmag[xi] += fabs((double)w[wj] * gd);
                                r.dw[wj] += (double)x[xi] * gd;
                                r.dwmag[wj] += fabs((double)x[xi] * gd);
                            }
                }
    return r;
}

static void conv_ref_free(conv_ref *r)
{
    free(r->y);
    free(r->ymag);
    free(r->dx);
    free(r->dxmag);
    free(r->dw);
    free(r->dwmag);
    free(r->db);
    free(r->dbmag);
}

typedef struct conv_shape_case {
    int N, H, W, C, K, R, S, same;
} conv_shape_case;

static void impl_check(const nn_conv_impl *impl, const nn_kernels *kern, int threads,
                       conv_shape_case c, int relu, int need_dx, uint64_t id)
{
    nn_conv_shape g = {
        .H = c.H, .W = c.W, .C = c.C, .K = c.K, .R = c.R, .S = c.S, .sh = 1, .sw = 1};
    ck_assert_int_eq(nn_conv_shape_set(&g, c.same), 0);
    size_t nx = (size_t)c.N * c.H * c.W * c.C, ny = (size_t)c.N * g.P * g.Q * c.K;
    size_t nw = (size_t)c.R * c.S * c.C * c.K;
    nn_exec ex = {.kern = kern, .max_threads = threads};
    ck_assert_int_eq(nn_par_create(&ex.par, threads), 0);
    ex.nscratch = impl->scratch(&g, c.N, threads, need_dx);
    ex.scratch = nt_rand(ex.nscratch, 5, 6, id); /* garbage: the kernels must not read it */
    float *x = nt_rand(nx, -1, 1, id + 1), *w = nt_rand(nw, -1, 1, id + 2);
    float *b = nt_rand((size_t)c.K, -1, 1, id + 3), *dy = nt_rand(ny, -1, 1, id + 4);
    float *y = nt_zeros(ny), *dx = nt_rand(nx, 7, 8, id + 5), *dw = nt_rand(nw, -1, 1, id + 6);
    float *db = nt_rand((size_t)c.K, -1, 1, id + 7);
    conv_ref r = conv_naive(&g, c.N, x, w, b, relu, dy);
    for (size_t i = 0; i < nw; i++) { /* the backward adds into dw and db */
        r.dw[i] += (double)dw[i];
        r.dwmag[i] += fabs(dw[i]);
    }
    for (int k = 0; k < c.K; k++) {
        r.db[k] += (double)db[k];
        r.dbmag[k] += fabs(db[k]);
    }
    impl->forward(&g, c.N, x, w, b, relu ? NN_ACT_RELU : NN_ACT_LINEAR, y, &ex);
    char what[200];
    snprintf(what, sizeof what, "%s/%s t%d N%d %dx%dx%d K%d %dx%d %s relu%d dx%d", impl->name,
             kern->name, threads, c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.same ? "same" : "valid",
             relu, need_dx);
    assert_sums(ny, y, r.y, r.ymag, what);
    impl->backward(&g, c.N, x, w, y, relu ? NN_ACT_RELU : NN_ACT_LINEAR, dy, need_dx ? dx : NULL,
                   dw, db, &ex);
    if (need_dx) {
        assert_sums(nx, dx, r.dx, r.dxmag, what);
    }
    assert_sums(nw, dw, r.dw, r.dwmag, what);
    assert_sums((size_t)c.K, db, r.db, r.dbmag, what);
    conv_ref_free(&r);
    nn_par_destroy(ex.par);
    free(ex.scratch);
    free(x);
    free(w);
    free(b);
    free(dy);
    free(y);
    free(dx);
    free(dw);
    free(db);
}

static const conv_shape_case conv_cases[] = {
    {3, 9, 8, 3, 32, 3, 3, 0},   /* a first layer: C = 3 */
    {2, 11, 13, 1, 17, 5, 5, 0}, /* mnist-like, K not a multiple of 16 */
    {3, 7, 7, 20, 40, 3, 3, 0},  {2, 6, 9, 16, 70, 2, 3, 0},
    {1, 5, 5, 33, 16, 3, 3, 1},  {2, 8, 6, 5, 24, 3, 2, 1},
    {4, 4, 4, 64, 64, 3, 3, 0},  {1, 12, 12, 24, 48, 5, 5, 0},
    {3, 3, 3, 7, 5, 3, 3, 0},    {2, 10, 3, 9, 130, 1, 1, 0},
    {1, 4, 40, 8, 32, 3, 3, 1}, /* a wide map: the forward reads x in place, not unrolled */
};

START_TEST(direct_vs_naive)
{
    for (int k = 0; k < nsets(); k++) {
        for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
            for (int relu = 0; relu < 2; relu++) {
                impl_check(&nn_conv_direct, kset(k), 1, conv_cases[i], relu, 1, 300 + 10 * i);
                impl_check(&nn_conv_direct, kset(k), 1, conv_cases[i], relu, 0, 300 + 10 * i);
            }
        }
    }
}
END_TEST

/* Threads split the batch: any count gives the naive sums. */
START_TEST(direct_threads)
{
    const nn_kernels *kern = kset(nsets() - 1);
    for (int threads = 2; threads <= 3; threads++) {
        for (size_t i = 0; i < 4; i++) {
            impl_check(&nn_conv_direct, kern, threads, conv_cases[i], 1, 1, 400 + 10 * i);
        }
        impl_check(&nn_conv_direct, kern, threads, (conv_shape_case){1, 6, 6, 4, 16, 3, 3, 0}, 1, 1,
                   450);
    }
}
END_TEST

/* Winograd on 3x3 and 5x5 layers: odd and even maps (partial tiles),
 * both paddings, chunks of tiles across images, channels past the
 * kernel's depth chunk; the backward's gradients by Winograd on the
 * larger maps. */
static const conv_shape_case winograd_cases[] = {
    {3, 7, 7, 16, 32, 3, 3, 0},
    {1, 5, 5, 32, 16, 3, 3, 1},
    {4, 4, 4, 64, 64, 3, 3, 0},
    {2, 9, 8, 16, 48, 3, 3, 1},
    {1, 4, 40, 16, 32, 3, 3, 1},
    {37, 3, 3, 16, 16, 3, 3, 1},
    {2, 6, 7, 256, 80, 3, 3, 1},
    {1, 14, 13, 48, 16, 3, 3, 0},
    /* maps large enough for Winograd's gradients (48 tiles and up) */
    {2, 16, 15, 16, 32, 3, 3, 1},
    {1, 12, 20, 32, 16, 3, 3, 0},
    {2, 22, 23, 16, 32, 3, 3, 1}, /* 132 tiles: two chunks an image */
    {2, 15, 17, 16, 48, 3, 3, 0}, /* odd P and Q: patches past x's edges */
    /* 5x5 by F(2x2, 5x5): 6x6 patches, 36 taps */
    {3, 7, 7, 16, 32, 5, 5, 0},
    {2, 9, 8, 32, 16, 5, 5, 1},
    {1, 5, 5, 16, 16, 5, 5, 1},
    {4, 12, 12, 32, 64, 5, 5, 0}, /* the book's mnist, its second layer */
    {2, 17, 16, 16, 32, 5, 5, 1}, /* Winograd's gradients, odd rows */
    {1, 22, 23, 16, 16, 5, 5, 0},
};

START_TEST(winograd_vs_naive)
{
    nn_exec ex = {.kern = nt_tier()};
    for (size_t i = 0; i < sizeof winograd_cases / sizeof winograd_cases[0]; i++) {
        conv_shape_case c = winograd_cases[i];
        nn_conv_shape g = {
            .H = c.H, .W = c.W, .C = c.C, .K = c.K, .R = c.R, .S = c.S, .sh = 1, .sw = 1};
        ck_assert_int_eq(nn_conv_shape_set(&g, c.same), 0);
        ck_assert(nn_conv_winograd_fits(&g, &ex));
        ck_assert(nn_conv_select(&g, &ex) == &nn_conv_winograd);
        for (int relu = 0; relu < 2; relu++) {
            impl_check(&nn_conv_winograd, nt_tier(), 1 + relu, c, relu, 1, 900 + 10 * i);
            impl_check(&nn_conv_winograd, nt_tier(), 2 - relu, c, relu, 0, 905 + 10 * i);
        }
    }
    nn_conv_shape g = {.H = 5, .W = 5, .C = 3, .K = 16, .R = 3, .S = 3, .sh = 1, .sw = 1};
    ck_assert(!nn_conv_winograd_fits(&g, &ex)); /* C = 3: direct */
    g.C = 16;
    g.sh = 2;
    ck_assert(!nn_conv_winograd_fits(&g, &ex));
    g.sh = 1;
    g.R = g.S = 7;
    ck_assert(!nn_conv_winograd_fits(&g, &ex)); /* 7x7: direct */
    g.R = g.S = 5;
    ck_assert(nn_conv_winograd_fits(&g, &ex));
    g.S = 3;
    ck_assert(!nn_conv_winograd_fits(&g, &ex));
}
END_TEST

/* A model sizes each layer's scratch for an input gradient, then runs
 * the backward without one below its lowest trainable layer: both must
 * fit (the canary past the scratch stays). */
static void no_dx_fits(const nn_conv_impl *impl, int N, int H, int W, int C, int K, int same)
{
    nn_conv_shape g = {.H = H, .W = W, .C = C, .K = K, .R = 3, .S = 3, .sh = 1, .sw = 1};
    ck_assert_int_eq(nn_conv_shape_set(&g, same), 0);
    nn_exec ex = {.kern = nt_tier(), .max_threads = 2};
    ck_assert_int_eq(nn_par_create(&ex.par, 1), 0);
    ex.nscratch = impl->scratch(&g, N, 2, 1);
    ex.scratch = nt_rand(ex.nscratch + 64, 5, 6, 990);
    float canary[64];
    memcpy(canary, ex.scratch + ex.nscratch, sizeof canary);
    size_t nx = (size_t)N * H * W * C, ny = (size_t)N * g.P * g.Q * K, nw = (size_t)9 * C * K;
    float *x = nt_rand(nx, -1, 1, 991), *w = nt_rand(nw, -1, 1, 992), *dy = nt_rand(ny, -1, 1, 993);
    float *y = nt_zeros(ny), *dw = nt_zeros(nw);
    impl->forward(&g, N, x, w, NULL, NN_ACT_RELU, y, &ex);
    impl->backward(&g, N, x, w, y, NN_ACT_RELU, dy, NULL, dw, NULL, &ex);
    ck_assert_msg(memcmp(canary, ex.scratch + ex.nscratch, sizeof canary) == 0,
                  "%s: %dx%dx%d K%d: backward without dx wrote past the scratch", impl->name, H, W,
                  C, K);
    nn_par_destroy(ex.par);
    free(ex.scratch);
    free(x);
    free(w);
    free(dy);
    free(y);
    free(dw);
}

START_TEST(winograd_without_dx)
{
    no_dx_fits(&nn_conv_winograd, 8, 29, 33, 64, 16, 0); /* 240 tiles: Winograd's gradients */
    no_dx_fits(&nn_conv_winograd, 8, 9, 11, 64, 16, 0);  /* 20 tiles: the direct ones */
    no_dx_fits(&nn_conv_direct, 8, 29, 33, 64, 16, 0);
}
END_TEST

/* The same bits whatever the number of threads in the team: groups of
 * images (as many as the scratch was sized for) are summed in a fixed
 * order, whoever computes them. */
static void same_bits(const nn_conv_impl *impl, int H, int W)
{
    nn_conv_shape g = {.H = H, .W = W, .C = 16, .K = 32, .R = 3, .S = 3, .sh = 1, .sw = 1};
    ck_assert_int_eq(nn_conv_shape_set(&g, 0), 0);
    const int N = 13;
    size_t nx = (size_t)N * H * W * 16, ny = (size_t)N * g.P * g.Q * 32, nw = 9 * 16 * 32;
    float *x = nt_rand(nx, -1, 1, 460), *w = nt_rand(nw, -1, 1, 461), *dy = nt_rand(ny, -1, 1, 462);
    float *out[3][3];
    for (int t = 0; t < 3; t++) {
        nn_exec ex = {.kern = kset(nsets() - 1), .max_threads = 3};
        ck_assert_int_eq(nn_par_create(&ex.par, t + 1), 0);
        ex.nscratch = impl->scratch(&g, N, 3, 1);
        ex.scratch = nt_zeros(ex.nscratch);
        float *y = nt_zeros(ny), *dx = nt_zeros(nx), *dw = nt_zeros(nw);
        impl->forward(&g, N, x, w, NULL, NN_ACT_RELU, y, &ex);
        impl->backward(&g, N, x, w, y, NN_ACT_RELU, dy, dx, dw, NULL, &ex);
        out[t][0] = y;
        out[t][1] = dx;
        out[t][2] = dw;
        nn_par_destroy(ex.par);
        free(ex.scratch);
    }
    for (int t = 1; t < 3; t++) {
        ck_assert_int_eq(memcmp(out[0][0], out[t][0], ny * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(out[0][1], out[t][1], nx * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(out[0][2], out[t][2], nw * sizeof(float)), 0);
    }
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 3; i++) {
            free(out[t][i]);
        }
    }
    free(x);
    free(w);
    free(dy);
}

START_TEST(direct_same_bits)
{
    same_bits(&nn_conv_direct, 9, 7);
    {
        same_bits(&nn_conv_winograd, 9, 7);
        same_bits(&nn_conv_winograd, 16, 13); /* its gradients too (48 tiles and up) */
    }
}
END_TEST

/* A convolution fused with the 2x2 pool after it gives what the two give
 * one after the other (ReLU conv, then pool; pool backward, then the
 * conv's backward masked by its y): the same bits but for dx and db,
 * whose terms are added in another order. */
static void conv_pool_check(const nn_conv_impl *impl, int threads, int N, int H, int W, int C,
                            int K, int R, int need_dx, int same)
{
    nn_conv_shape g = {.H = H, .W = W, .C = C, .K = K, .R = R, .S = R, .sh = 1, .sw = 1};
    ck_assert_int_eq(nn_conv_shape_set(&g, same), 0);
    nn_conv_shape pg = {.H = g.P, .W = g.Q, .C = K, .K = K, .R = 2, .S = 2, .sh = 2, .sw = 2};
    ck_assert_int_eq(nn_conv_shape_set(&pg, 0), 0);
    nn_exec ex = {.kern = nt_tier(), .max_threads = threads};
    ck_assert(nn_conv_pool_fuses(impl, &g, NN_ACT_RELU, &pg, &ex));
    ck_assert(!nn_conv_pool_fuses(impl, &g, NN_ACT_LINEAR, &pg, &ex));
    ck_assert_int_eq(nn_par_create(&ex.par, threads), 0);
    ex.nscratch = impl->scratch(&g, N, threads, need_dx);
    ex.scratch = nt_rand(ex.nscratch, 5, 6, 479); /* garbage: never read before written */
    size_t nx = (size_t)N * H * W * C, ny = (size_t)N * g.P * g.Q * K;
    size_t np = (size_t)N * pg.P * pg.Q * K, nw = (size_t)R * R * C * K;
    float *x = nt_rand(nx, -1, 1, 470), *w = nt_rand(nw, -1, 1, 471), *b = nt_rand(K, -1, 1, 472);
    float *pdy = nt_rand(np, -1, 1, 473), *y = nt_zeros(ny), *dy = nt_zeros(ny);
    float *py1 = nt_zeros(np), *py2 = nt_zeros(np), *dx1 = nt_zeros(nx), *dx2 = nt_zeros(nx);
    float *dw1 = nt_zeros(nw), *dw2 = nt_zeros(nw), *db1 = nt_zeros(K), *db2 = nt_zeros(K);
    uint32_t *a1 = calloc(np, 4), *a2 = calloc(np, 4);
    /* apart */
    impl->forward(&g, N, x, w, b, NN_ACT_RELU, y, &ex);
    nn_maxpool_forward(&pg, N, y, py1, a1, &ex);
    nn_maxpool_backward(&pg, N, a1, pdy, dy, &ex);
    impl->backward(&g, N, x, w, y, NN_ACT_RELU, dy, need_dx ? dx1 : NULL, dw1, db1, &ex);
    /* fused */
    impl->forward_pool(&g, N, x, w, b, &pg, py2, a2, &ex);
    impl->backward_pool(&g, N, x, w, &pg, py2, a2, pdy, need_dx ? dx2 : NULL, dw2, db2, &ex);
    ck_assert_int_eq(memcmp(py1, py2, np * 4), 0);
    ck_assert_int_eq(memcmp(a1, a2, np * 4), 0);
    for (size_t i = 0; i < nx; i++) { /* dx adds the taps in another order */
        nt_assert_near(dx1[i], dx2[i], 1e-5f * (1 + fabsf(dx1[i])));
    }
    ck_assert_int_eq(memcmp(dw1, dw2, nw * 4), 0);
    for (int k = 0; k < K; k++) { /* summed in other blocks of pixels */
        nt_assert_near(db1[k], db2[k], 1e-5f * (1 + fabsf(db1[k])));
    }
    nn_par_destroy(ex.par);
    float *fl[] = {ex.scratch, x, w, b, pdy, y, dy, py1, py2, dx1, dx2, dw1, dw2, db1, db2};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        free(fl[i]);
    }
    free(a1);
    free(a2);
}

START_TEST(conv_pool_fused)
{
    conv_pool_check(&nn_conv_direct, 1, 3, 11, 9, 3, 32, 3, 0,
                    0); /* odd conv output: row and column dropped */
    conv_pool_check(&nn_conv_direct, 2, 5, 12, 12, 16, 16, 5, 1, 0);
    conv_pool_check(&nn_conv_direct, 3, 4, 10, 30, 8, 48, 3, 1,
                    0); /* rows in groups, partial groups */
    conv_pool_check(&nn_conv_direct, 2, 2, 70, 6, 4, 64, 3, 1, 0);
    /* padding="same", as VGG16's: dx through the padded input's gradient */
    conv_pool_check(&nn_conv_direct, 2, 3, 12, 10, 16, 32, 3, 1, 1);
    conv_pool_check(&nn_conv_direct, 1, 2, 9, 11, 3, 16, 3, 1,
                    1); /* odd sizes: the last row and column dropped */
    conv_pool_check(&nn_conv_direct, 3, 2, 40, 6, 8, 64, 5, 1, 1);
    conv_pool_check(&nn_conv_direct, 2, 2, 8, 8, 64, 16, 3, 0, 1);
    /* Winograd: a tile is a pooling window; odd maps leave tiles out */
    conv_pool_check(&nn_conv_winograd, 2, 3, 12, 10, 16, 32, 3, 1, 1);
    conv_pool_check(&nn_conv_winograd, 1, 2, 9, 11, 16, 16, 3, 1, 1);
    conv_pool_check(&nn_conv_winograd, 2, 3, 11, 9, 32, 16, 3, 0, 0);
    conv_pool_check(&nn_conv_winograd, 3, 9, 7, 7, 64, 32, 3, 1, 1);
    /* and large enough for Winograd's dx: odd rows, odd columns */
    conv_pool_check(&nn_conv_winograd, 2, 2, 17, 14, 16, 32, 3, 1, 1);
    conv_pool_check(&nn_conv_winograd, 1, 3, 16, 19, 32, 16, 3, 1, 0);
    /* 5x5: the book's mnist (12x12x32 -> 8x8x64 -> 4x4), odd maps */
    conv_pool_check(&nn_conv_winograd, 2, 5, 12, 12, 32, 64, 5, 1, 0);
    conv_pool_check(&nn_conv_winograd, 1, 3, 13, 11, 16, 16, 5, 1, 1);
    conv_pool_check(&nn_conv_winograd, 2, 2, 19, 18, 16, 32, 5, 0, 0);
}
END_TEST

/* A NaN in the input reaches the output through the fused ReLU. */
START_TEST(direct_nan)
{
    for (int k = 0; k < nsets(); k++) {
        nn_conv_shape g = {.H = 4, .W = 4, .C = 2, .K = 16, .R = 3, .S = 3, .sh = 1, .sw = 1};
        ck_assert_int_eq(nn_conv_shape_set(&g, 0), 0);
        nn_exec ex = {.kern = kset(k), .max_threads = 1};
        ex.nscratch = nn_conv_direct.scratch(&g, 1, 1, 1);
        ex.scratch = nt_zeros(ex.nscratch);
        float *x = nt_rand(32, -1, 1, 500), *w = nt_rand(288, -1, 1, 501), y[64];
        x[0] = NAN;
        nn_conv_direct.forward(&g, 1, x, w, NULL, NN_ACT_RELU, y, &ex);
        ck_assert(isnan(y[0]) && isnan(y[15]));
        free(x);
        free(w);
        free(ex.scratch);
    }
    {
        nn_conv_shape g = {.H = 4, .W = 4, .C = 16, .K = 16, .R = 3, .S = 3, .sh = 1, .sw = 1};
        ck_assert_int_eq(nn_conv_shape_set(&g, 1), 0);
        nn_exec ex = {.kern = nt_tier(), .max_threads = 1};
        ex.nscratch = nn_conv_winograd.scratch(&g, 1, 1, 1);
        ex.scratch = nt_zeros(ex.nscratch);
        float *x = nt_rand(256, -1, 1, 502), *w = nt_rand(2304, -1, 1, 503), y[256];
        x[0] = NAN;
        nn_conv_winograd.forward(&g, 1, x, w, NULL, NN_ACT_RELU, y, &ex);
        ck_assert(isnan(y[0]) && isnan(y[15]));
        /* and through the fused pool: the NaN wins its window */
        nn_conv_shape pg = {.H = 4, .W = 4, .C = 16, .K = 16, .R = 2, .S = 2, .sh = 2, .sw = 2};
        ck_assert_int_eq(nn_conv_shape_set(&pg, 0), 0);
        float py[64];
        uint32_t arg[64];
        nn_conv_winograd.forward_pool(&g, 1, x, w, NULL, &pg, py, arg, &ex);
        ck_assert(isnan(py[0]) && isnan(py[15]) && !isnan(py[63]));
        free(x);
        free(w);
        free(ex.scratch);
    }
}
END_TEST

/* ---- dense, pooling -------------------------------------------------------------- */

static void dense_check(const nn_kernels *kern, int threads, int N, int Din, int Dout, uint64_t id)
{
    nn_exec ex = {.kern = kern, .max_threads = threads};
    ck_assert_int_eq(nn_par_create(&ex.par, threads), 0);
    ex.nscratch = nn_dense_scratch(N, Din, Dout);
    ex.scratch = nt_rand(ex.nscratch, 5, 6, id);
    size_t nx = (size_t)N * Din, nw = (size_t)Din * Dout, ny = (size_t)N * Dout;
    float *x = nt_rand(nx, -1, 1, id + 1), *w = nt_rand(nw, -1, 1, id + 2);
    float *b = nt_rand((size_t)Dout, -1, 1, id + 3), *dy = nt_rand(ny, -1, 1, id + 4);
    float *y = nt_zeros(ny), *dx = nt_rand(nx, 7, 8, id + 5), *dw = nt_rand(nw, -1, 1, id + 6);
    float *db = nt_rand((size_t)Dout, -1, 1, id + 7);
    double *ry = calloc(ny, 8), *my = calloc(ny, 8), *rx = calloc(nx, 8), *mx = calloc(nx, 8);
    double *rw = calloc(nw, 8), *mw = calloc(nw, 8), *rb = calloc(Dout, 8), *mb = calloc(Dout, 8);
    for (size_t i = 0; i < nw; i++) {
        rw[i] = (double)dw[i];
        mw[i] = fabs(rw[i]);
    }
    for (int o = 0; o < Dout; o++) {
        rb[o] = (double)db[o];
        mb[o] = fabs(rb[o]);
    }
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Dout; o++) {
            double v = (double)b[o], m = fabs(v), gd = (double)dy[(size_t)n * Dout + o];
            rb[o] += gd;
            mb[o] += fabs(gd);
            for (int i = 0; i < Din; i++) {
                double xv = (double)x[(size_t)n * Din + i], wv = (double)w[(size_t)i * Dout + o];
                v += xv * wv;
                m += fabs(xv * wv);
                rx[(size_t)n * Din + i] += wv * gd;
                mx[(size_t)n * Din + i] += fabs(wv * gd);
                rw[(size_t)i * Dout + o] += xv * gd;
                mw[(size_t)i * Dout + o] += fabs(xv * gd);
            }
            ry[(size_t)n * Dout + o] = v;
            my[(size_t)n * Dout + o] = m;
        }
    nn_dense_forward(N, Din, Dout, x, w, b, y, &ex);
    nn_dense_backward(N, Din, Dout, x, w, dy, dx, dw, db, &ex);
    char what[96];
    snprintf(what, sizeof what, "%s t%d dense N%d %d->%d", kern->name, threads, N, Din, Dout);
    assert_sums(ny, y, ry, my, what);
    assert_sums(nx, dx, rx, mx, what);
    assert_sums(nw, dw, rw, mw, what);
    assert_sums((size_t)Dout, db, rb, mb, what);
    nn_par_destroy(ex.par);
    free(ex.scratch);
    float *fl[] = {x, w, b, dy, y, dx, dw, db};
    double *dl[] = {ry, my, rx, mx, rw, mw, rb, mb};
    for (int i = 0; i < 8; i++) {
        free(fl[i]);
        free(dl[i]);
    }
}

START_TEST(dense_vs_naive)
{
    for (int k = 0; k < nsets(); k++) {
        dense_check(kset(k), 1, 5, 7, 3, 600);
        dense_check(kset(k), 2, 32, 1500, 70, 610); /* chunked depth */
        dense_check(kset(k), 2, 3, 300, 1, 620);
        dense_check(kset(k), 3, 17, 260, 130, 630);
    }
}
END_TEST

/* The tier's 2x2 pool against the generic loops: same maxima, same
 * argmax (the first maximum on ties, a NaN wins), same gradient. */
START_TEST(pool_fast_vs_generic)
{
    nn_conv_shape g = {.H = 7, .W = 9, .C = 48, .K = 48, .R = 2, .S = 2, .sh = 2, .sw = 2};
    ck_assert_int_eq(nn_conv_shape_set(&g, 0), 0);
    const int N = 3;
    size_t nx = (size_t)N * 7 * 9 * 48, ny = (size_t)N * g.P * g.Q * 48;
    float *x = nt_rand(nx, -1, 1, 700), *dy = nt_rand(ny, -1, 1, 701);
    for (size_t i = 0; i < nx; i += 7) {
        x[i] = 0.5f; /* ties */
    }
    x[3] = NAN;
    nn_exec fast = {.kern = nt_tier()}, slow = {.kern = NULL};
    float *y1 = nt_zeros(ny), *y2 = nt_zeros(ny), *dx1 = nt_rand(nx, 3, 4, 702);
    float *dx2 = nt_rand(nx, 3, 4, 703);
    uint32_t *a1 = calloc(ny, 4), *a2 = calloc(ny, 4);
    ck_assert_int_eq(nn_par_create(&fast.par, 2), 0);
    nn_maxpool_forward(&g, N, x, y1, a1, &fast);
    nn_maxpool_forward(&g, N, x, y2, a2, &slow);
    ck_assert_int_eq(memcmp(a1, a2, ny * 4), 0);
    ck_assert(isnan(y1[3]) && isnan(y2[3]));
    for (size_t i = 0; i < ny; i++) {
        ck_assert(y1[i] == y2[i] || (isnan(y1[i]) && isnan(y2[i])));
    }
    nn_maxpool_backward(&g, N, a1, dy, dx1, &fast);
    nn_maxpool_backward(&g, N, a2, dy, dx2, &slow);
    ck_assert_int_eq(memcmp(dx1, dx2, nx * 4), 0);
    nn_par_destroy(fast.par);
    float *fl[] = {x, dy, y1, y2, dx1, dx2};
    for (int i = 0; i < 6; i++) {
        free(fl[i]);
    }
    free(a1);
    free(a2);
}
END_TEST

/* ---- optimizer updates ---------------------------------------------------------- */

/* Every kernel set's update, split over a team, gives nn_optim_update's
 * bits, for every optimizer, over a few steps (Adam's bias correction). */
START_TEST(update_same_bits)
{
    enum { N = 70001 }; /* more than one unit, a partial vector */
    enum { NOPT = 8 };
    nn_optim_opts opts[NOPT] = {
        nn_optim_defaults(NN_OPT_SGD),         nn_optim_defaults(NN_OPT_SGD),
        nn_optim_defaults(NN_OPT_SGD),         nn_optim_defaults(NN_OPT_RMSPROP),
        nn_optim_defaults(NN_OPT_ADAM),        nn_optim_defaults(NN_OPT_RMSPROP),
        nn_optim_defaults(NN_OPT_RMSPROP_TF2), nn_optim_defaults(NN_OPT_RMSPROP_TF2)};
    opts[1].momentum = 0.9;
    opts[2].momentum = 0.8;
    opts[2].nesterov = 1;
    opts[5].momentum = 0.9;
    opts[7].momentum = 0.9;
    for (int k = 0; k < nsets(); k++) {
        nn_exec ex = {.kern = kset(k)};
        ck_assert_int_eq(nn_par_create(&ex.par, 2), 0);
        for (int o = 0; o < NOPT; o++) {
            float *w1 = nt_rand(N, -1, 1, 800), *w2 = nt_rand(N, -1, 1, 800);
            float *a1 = nt_zeros(N), *a2 = nt_zeros(N), *b1 = nt_zeros(N), *b2 = nt_zeros(N);
            for (int t = 0; t < 3; t++) {
                float *g = nt_rand(N, -1, 1, 801 + t);
                nn_optim_update(&opts[o], t, N, w1, g, a1, b1);
                nn_exec_update_params(&ex, &opts[o], t, N, w2, g, a2, b2);
                free(g);
            }
            ck_assert_msg(memcmp(w1, w2, N * 4) == 0, "%s optimizer %d", kset(k)->name, o);
            ck_assert_int_eq(memcmp(a1, a2, N * 4), 0);
            ck_assert_int_eq(memcmp(b1, b2, N * 4), 0);
            float *fl[] = {w1, w2, a1, a2, b1, b2};
            for (int i = 0; i < 6; i++) {
                free(fl[i]);
            }
        }
        float *z = nt_rand(N, 1, 2, 809);
        nn_exec_zero(&ex, z, N);
        for (int i = 0; i < N; i++) {
            ck_assert(z[i] == 0.0f);
        }
        free(z);
        nn_par_destroy(ex.par);
    }
}
END_TEST

/* ---- the thread team ------------------------------------------------------------ */

typedef struct count_ctx {
    nn_units units;
    atomic_int done[64];
    atomic_int calls[8];
    int nt;
} count_ctx;

static void count_part(void *ctx, int t, int nt)
{
    count_ctx *c = ctx;
    atomic_fetch_add(&c->calls[t], 1);
    if (t == 0) {
        c->nt = nt;
    }
    for (int u; (u = nn_units_take(&c->units)) >= 0;) {
        atomic_fetch_add(&c->done[u], 1);
    }
}

/* Every unit is done once per dispatch, the caller always takes part, no
 * worker more than once. */
START_TEST(par_team)
{
    for (int threads = 1; threads <= 4; threads++) {
        nn_par *p;
        ck_assert_int_eq(nn_par_create(&p, threads), 0);
        ck_assert_int_eq(nn_par_threads(p), threads);
        for (int i = 0; i < 300; i++) {
            count_ctx c = {.nt = 0};
            nn_units_init(&c.units, 64);
            for (int k = 0; k < 64; k++) {
                atomic_init(&c.done[k], 0);
            }
            for (int k = 0; k < 8; k++) {
                atomic_init(&c.calls[k], 0);
            }
            nn_par_run(p, count_part, &c);
            ck_assert_int_eq(c.nt, threads);
            for (int k = 0; k < 64; k++) {
                ck_assert_int_eq(atomic_load(&c.done[k]), 1);
            }
            ck_assert_int_eq(atomic_load(&c.calls[0]), 1);
            for (int t = 1; t < 8; t++) {
                ck_assert_int_le(atomic_load(&c.calls[t]), t < threads ? 1 : 0);
            }
        }
        nn_par_destroy(p);
    }
    count_ctx c = {.nt = 0};
    nn_units_init(&c.units, 3);
    for (int k = 0; k < 3; k++) {
        atomic_init(&c.done[k], 0);
    }
    atomic_init(&c.calls[0], 0);
    nn_par_run(NULL, count_part, &c);
    ck_assert_int_eq(atomic_load(&c.done[2]), 1);
    nn_par_destroy(NULL);
}
END_TEST

static Suite *kern_suite(void)
{
    Suite *s = suite_create("nn_kern");
    TCase *tc = tcase_create("kern");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kconv_shapes);
    tcase_add_test(tc, kdw_shapes);
    tcase_add_test(tc, direct_vs_naive);
    tcase_add_test(tc, direct_threads);
    tcase_add_test(tc, winograd_vs_naive);
    tcase_add_test(tc, winograd_without_dx);
    tcase_add_test(tc, direct_same_bits);
    tcase_add_test(tc, direct_nan);
    tcase_add_test(tc, conv_pool_fused);
    tcase_add_test(tc, dense_vs_naive);
    tcase_add_test(tc, pool_fast_vs_generic);
    tcase_add_test(tc, update_same_bits);
    tcase_add_test(tc, par_team);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(kern_suite());
}
