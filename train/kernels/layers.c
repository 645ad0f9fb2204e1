/* layers.c: forward and backward of every layer but pooling (pool.c) and
 * the direct convolution (conv_direct.c); see nn_kern.h for shapes and
 * conventions.
 *
 * The im2col convolution is the reference and the path on CPUs without
 * AVX-512: im2col per sample followed by one sgemm. With NHWC the columns
 * of a window row (S*C floats) are contiguous in x, so im2col is mostly
 * memcpy, and (P*Q, R*S*C) x (R*S*C, K) lands directly in NHWC order. Per
 * sample keeps the scratch small (catsdogs' second layer needs 6 MB
 * instead of 190 MB for a batch of 32).
 *
 * Dense layers run on the model's kernels when it has them (nn_kconv with
 * the samples as pixels; nn_kdw for the kernel gradient; the input
 * gradient as (w dy^T)^T so the weights are read in place), split over
 * the threads by output columns or weight rows so each thread streams its
 * own part of w; otherwise on OpenBLAS.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn_kern.h"

int nn_conv_shape_set(nn_conv_shape *g, int same)
{
    if (g->R <= 0 || g->S <= 0 || g->sh <= 0 || g->sw <= 0 || g->H <= 0 || g->W <= 0) {
        return CK_EINVAL;
    }
    if (same) {
        g->P = (g->H + g->sh - 1) / g->sh;
        g->Q = (g->W + g->sw - 1) / g->sw;
        int th = (g->P - 1) * g->sh + g->R - g->H;
        int tw = (g->Q - 1) * g->sw + g->S - g->W;
        g->pt = th > 0 ? th / 2 : 0;
        g->pl = tw > 0 ? tw / 2 : 0;
    } else {
        if (g->R > g->H || g->S > g->W) {
            return CK_EINVAL;
        }
        g->P = (g->H - g->R) / g->sh + 1;
        g->Q = (g->W - g->S) / g->sw + 1;
        g->pt = g->pl = 0;
    }
    return 0;
}

void nn_im2col(const nn_conv_shape *g, const float *x, float *col)
{
    const size_t sc = (size_t)g->S * g->C, row = (size_t)g->R * sc;
    for (int p = 0; p < g->P; p++) {
        for (int q = 0; q < g->Q; q++) {
            float *dst = col + ((size_t)p * g->Q + q) * row;
            int w0 = q * g->sw - g->pl;
            for (int r = 0; r < g->R; r++) {
                float *d = dst + r * sc;
                int h = p * g->sh - g->pt + r;
                if (h < 0 || h >= g->H) {
                    memset(d, 0, sc * sizeof *d);
                    continue;
                }
                const float *xr = x + (size_t)h * g->W * g->C;
                if (w0 >= 0 && w0 + g->S <= g->W) {
                    memcpy(d, xr + (size_t)w0 * g->C, sc * sizeof *d);
                    continue;
                }
                for (int s = 0; s < g->S; s++) {
                    int w = w0 + s;
                    if (w < 0 || w >= g->W) {
                        memset(d + (size_t)s * g->C, 0, (size_t)g->C * sizeof *d);
                    } else {
                        memcpy(d + (size_t)s * g->C, xr + (size_t)w * g->C,
                               (size_t)g->C * sizeof *d);
                    }
                }
            }
        }
    }
}

void nn_col2im_add(const nn_conv_shape *g, const float *col, float *dx)
{
    const size_t sc = (size_t)g->S * g->C, row = (size_t)g->R * sc;
    for (int p = 0; p < g->P; p++) {
        for (int q = 0; q < g->Q; q++) {
            const float *src = col + ((size_t)p * g->Q + q) * row;
            for (int r = 0; r < g->R; r++) {
                int h = p * g->sh - g->pt + r;
                if (h < 0 || h >= g->H) {
                    continue;
                }
                for (int s = 0; s < g->S; s++) {
                    int w = q * g->sw - g->pl + s;
                    if (w < 0 || w >= g->W) {
                        continue;
                    }
                    const float *c = src + (size_t)r * sc + (size_t)s * g->C;
                    float *d = dx + ((size_t)h * g->W + w) * g->C;
                    for (int k = 0; k < g->C; k++) {
                        d[k] += c[k];
                    }
                }
            }
        }
    }
}

/* Adds b (K) to every row of y (M,K). */
static void add_bias(size_t M, int K, const float *b, float *y)
{
    for (size_t i = 0; i < M; i++) {
        for (int k = 0; k < K; k++) {
            y[i * K + k] += b[k];
        }
    }
}

/* Adds the column sums of dy (M,K) into db (K). */
static void sum_rows(size_t M, int K, const float *dy, float *db)
{
    for (size_t i = 0; i < M; i++) {
        for (int k = 0; k < K; k++) {
            db[k] += dy[i * K + k];
        }
    }
}

size_t nn_im2col_scratch(const nn_conv_shape *g, int N, int threads, int need_dx)
{
    (void)N, (void)threads, (void)need_dx;
    return (size_t)g->P * g->Q * ((size_t)g->R * g->S * g->C + g->K);
}

void nn_im2col_forward(const nn_conv_shape *g, int N, const float *x, const float *w,
                       const float *b, nn_act act, float *y, const nn_exec *ex)
{
    const int M = g->P * g->Q, Kd = g->R * g->S * g->C;
    const size_t xs = (size_t)g->H * g->W * g->C, ys = (size_t)M * g->K;
    float *col = ex->scratch;
    for (int n = 0; n < N; n++) {
        nn_im2col(g, x + n * xs, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, g->K, Kd, 1.0f, col, Kd, w, g->K,
                    0.0f, y + n * ys, g->K);
    }
    if (b) {
        add_bias((size_t)N * M, g->K, b, y);
    }
    if (act == NN_ACT_RELU) {
        nn_act_forward(act, N * M, g->K, y);
    }
}

void nn_im2col_backward(const nn_conv_shape *g, int N, const float *x, const float *w,
                        const float *y, nn_act act, const float *dy, float *dx, float *dw,
                        float *db, const nn_exec *ex)
{
    const int M = g->P * g->Q, Kd = g->R * g->S * g->C;
    const size_t xs = (size_t)g->H * g->W * g->C, ys = (size_t)M * g->K;
    float *col = ex->scratch, *masked = col + (size_t)M * Kd;
    for (int n = 0; n < N; n++) {
        const float *dyn = dy + n * ys;
        if (act == NN_ACT_RELU) {
            memcpy(masked, dyn, ys * sizeof *masked);
            nn_act_backward(act, M, g->K, y + n * ys, masked);
            dyn = masked;
        }
        nn_im2col(g, x + n * xs, col);
        /* dw (Kd,K) += col^T (Kd,M) dy (M,K) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kd, g->K, M, 1.0f, col, Kd, dyn, g->K,
                    1.0f, dw, g->K);
        if (db) {
            sum_rows((size_t)M, g->K, dyn, db);
        }
        if (dx) {
            /* dcol (M,Kd) = dy (M,K) w^T (K,Kd), reusing col */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, Kd, g->K, 1.0f, dyn, g->K, w,
                        g->K, 0.0f, col, Kd);
            memset(dx + n * xs, 0, xs * sizeof *dx);
            nn_col2im_add(g, col, dx + n * xs);
        }
    }
}

/* ---- Dense ---------------------------------------------------------------- */

typedef struct dense_job {
    int N, Din, Dout;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db, *dyt, *dxt;
    const nn_exec *ex;
    nn_units units; /* column blocks (forward), row blocks of w (backward) */
} dense_job;

enum { DENSE_COLS = 64, DENSE_ROWS = 256 };

static int blocks(int n, int per)
{
    return (n + per - 1) / per;
}

/* y's columns [u*64, u*64 + 64) for each unit u taken. */
static void dense_forward_part(void *ctx, int t, int nt)
{
    dense_job *j = ctx;
    (void)t, (void)nt;
    for (int u; (u = nn_units_take(&j->units)) >= 0;) {
        int lo = u * DENSE_COLS, hi = lo + DENSE_COLS < j->Dout ? lo + DENSE_COLS : j->Dout;
        nn_kconv k = {.a = j->x,
                      .a_cs = j->Din,
                      .taps = 1,
                      .depth = j->Din,
                      .b = j->w + lo,
                      .ldb = j->Dout,
                      .ncols = hi - lo,
                      .y = j->y + lo,
                      .y_cs = j->Dout,
                      .P = 1,
                      .Q = j->N,
                      .bias = j->b ? j->b + lo : NULL};
        j->ex->kern->conv(&k);
    }
}

void nn_dense_forward(int N, int Din, int Dout, const float *x, const float *w, const float *b,
                      float *y, const nn_exec *ex)
{
    if (ex->kern) {
        dense_job j = {.N = N, .Din = Din, .Dout = Dout, .x = x, .w = w, .b = b, .y = y, .ex = ex};
        nn_units_init(&j.units, blocks(Dout, DENSE_COLS));
        nn_par_run(j.units.n > 1 ? ex->par : NULL, dense_forward_part, &j);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Dout, Din, 1.0f, x, Din, w, Dout,
                0.0f, y, Dout);
    if (b) {
        add_bias((size_t)N, Dout, b, y);
    }
}

/* For each block of rows [lo, hi) of w taken: dw for them, and dx's
 * columns for them through dxt (Din,N) = w (Din,Dout) dy^T (Dout,N);
 * db with block 0. */
static void dense_backward_part(void *ctx, int t, int nt)
{
    dense_job *j = ctx;
    (void)t, (void)nt;
    for (int u; (u = nn_units_take(&j->units)) >= 0;) {
        int lo = u * DENSE_ROWS, hi = lo + DENSE_ROWS < j->Din ? lo + DENSE_ROWS : j->Din;
        nn_kdw kw = {.x = j->x + lo,
                     .x_cs = j->Din,
                     .taps = 1,
                     .depth = hi - lo,
                     .dy = j->dy,
                     .dy_cs = j->Dout,
                     .ncols = j->Dout,
                     .P = 1,
                     .Q = j->N,
                     .dw = j->dw + (size_t)lo * j->Dout,
                     .ldw = j->Dout,
                     .db = u == 0 ? j->db : NULL};
        j->ex->kern->dw(&kw);
        if (!j->dx) {
            continue;
        }
        nn_kconv kx = {.a = j->w + (size_t)lo * j->Dout,
                       .a_cs = j->Dout,
                       .taps = 1,
                       .depth = j->Dout,
                       .b = j->dyt,
                       .ldb = j->N,
                       .ncols = j->N,
                       .y = j->dxt + (size_t)lo * j->N,
                       .y_cs = j->N,
                       .P = 1,
                       .Q = hi - lo};
        j->ex->kern->conv(&kx);
        for (int n = 0; n < j->N; n++) {
            for (int i = lo; i < hi; i++) {
                j->dx[(size_t)n * j->Din + i] = j->dxt[(size_t)i * j->N + n];
            }
        }
    }
}

size_t nn_dense_scratch(int N, int Din, int Dout)
{
    return (size_t)N * ((size_t)Din + Dout);
}

void nn_dense_backward(int N, int Din, int Dout, const float *x, const float *w, const float *dy,
                       float *dx, float *dw, float *db, const nn_exec *ex)
{
    if (ex->kern) {
        dense_job j = {.N = N,
                       .Din = Din,
                       .Dout = Dout,
                       .x = x,
                       .w = w,
                       .dy = dy,
                       .dx = dx,
                       .dw = dw,
                       .db = db,
                       .ex = ex,
                       .dyt = ex->scratch,
                       .dxt = ex->scratch + (size_t)N * Dout};
        for (int n = 0; dx && n < N; n++) {
            for (int k = 0; k < Dout; k++) {
                j.dyt[(size_t)k * N + n] = dy[(size_t)n * Dout + k];
            }
        }
        nn_units_init(&j.units, blocks(Din, DENSE_ROWS));
        nn_par_run(j.units.n > 1 ? ex->par : NULL, dense_backward_part, &j);
        return;
    }
    /* dw (Din,Dout) += x^T (Din,N) dy (N,Dout) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Din, Dout, N, 1.0f, x, Din, dy, Dout, 1.0f,
                dw, Dout);
    if (db) {
        sum_rows((size_t)N, Dout, dy, db);
    }
    if (dx) {
        /* dx (N,Din) = dy (N,Dout) w^T (Dout,Din) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Din, Dout, 1.0f, dy, Dout, w, Dout,
                    0.0f, dx, Din);
    }
}

void nn_rescale_forward(size_t n, float scale, float offset, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i] * scale + offset;
    }
}

void nn_rescale_backward(size_t n, float scale, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++) {
        dx[i] = dy[i] * scale;
    }
}

void nn_caffe_forward(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++, x += 3, y += 3) {
        float r = x[0], g = x[1], b = x[2];
        y[0] = b - 103.939f;
        y[1] = g - 116.779f;
        y[2] = r - 123.68f;
    }
}

void nn_caffe_backward(size_t n, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++, dy += 3, dx += 3) {
        float b = dy[0], g = dy[1], r = dy[2];
        dx[0] = r;
        dx[1] = g;
        dx[2] = b;
    }
}

void nn_dropout_forward(size_t n, float rate, ck_rng *r, const float *x, float *y, float *mask)
{
    const float keep = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++) {
        /* 32 random bits are enough resolution for a rate. */
        double u = ck_rng_u32(r) * 0x1.0p-32;
        mask[i] = u >= (double)rate ? keep : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

void nn_dropout_backward(size_t n, const float *mask, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++) {
        dx[i] = dy[i] * mask[i];
    }
}

static float sigmoidf(float z)
{
    if (z >= 0) {
        return 1.0f / (1.0f + expf(-z));
    }
    float e = expf(z);
    return e / (1.0f + e);
}

void nn_act_forward(nn_act act, int N, int D, float *y)
{
    size_t n = (size_t)N * D;
    switch (act) {
    case NN_ACT_LINEAR: break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            y[i] = y[i] < 0 ? 0.0f : y[i]; /* NaN passes, as in TensorFlow */
        }
        break;
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            y[i] = sigmoidf(y[i]);
        }
        break;
    case NN_ACT_SOFTMAX:
        for (int r = 0; r < N; r++) {
            float *v = y + (size_t)r * D, m = v[0], sum = 0;
            for (int j = 1; j < D; j++) {
                m = v[j] > m ? v[j] : m;
            }
            for (int j = 0; j < D; j++) {
                v[j] = expf(v[j] - m);
                sum += v[j];
            }
            for (int j = 0; j < D; j++) {
                v[j] /= sum;
            }
        }
        break;
    }
}

void nn_act_backward(nn_act act, int N, int D, const float *y, float *dy)
{
    size_t n = (size_t)N * D;
    switch (act) {
    case NN_ACT_LINEAR: break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            dy[i] = y[i] > 0 ? dy[i] : 0.0f;
        }
        break;
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            dy[i] *= y[i] * (1.0f - y[i]);
        }
        break;
    case NN_ACT_SOFTMAX:
        for (int r = 0; r < N; r++) {
            const float *v = y + (size_t)r * D;
            float *d = dy + (size_t)r * D, dot = 0;
            for (int j = 0; j < D; j++) {
                dot += d[j] * v[j];
            }
            for (int j = 0; j < D; j++) {
                d[j] = v[j] * (d[j] - dot);
            }
        }
        break;
    }
}
