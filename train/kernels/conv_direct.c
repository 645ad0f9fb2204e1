/* conv_direct.c: Conv2D (stride 1) as implicit GEMMs on the model's
 * kernels (kern_avx512.c), the batch shared out to the model's threads.
 *
 * Forward: one nn_kconv per image straight from x (no im2col), bias and
 * ReLU in the kernel's epilogue; 'same' padding copies the image into a
 * zero-bordered buffer first (the book's models are all 'valid').
 *
 * Backward, per image:
 *  1. the output gradient, masked by the ReLU (y > 0), is copied once
 *     (this pass replaces the model's separate activation pass);
 *  2. dw += x^T dy (nn_kdw; db from the same pass), into the partial sums
 *     of the image's group (see nparts);
 *  3. dx = dy times the kernel transposed per tap, each product row added
 *     into dx at its window ("col2im" in the kernel's epilogue, no column
 *     buffer), written, not added, so the model need not zero activation
 *     gradients; with 'same' padding instead a correlation of the
 *     zero-padded dy with the flipped kernel (choose_dx has the figures).
 * A layer without an input gradient (the first, or one above frozen
 * layers) skips 1 and 3 and masks inside nn_kdw instead. With the 2x2 pool after it fused in
 * (further down), 1 rebuilds the gradient from the pool's, a few rows at a time.
 *
 * Why this and not im2col + GEMM: with NHWC the im2col matrix is R*S
 * copies of the input (catsdogs' second layer: 190 MB per batch of 32)
 * written and read again for the forward, and the column gradient as much
 * again for col2im; here nothing is materialised but one masked copy of
 * dy per image. One core, catsdogs layers, GFLOP/s in CPU time, forward /
 * kernel gradient / input gradient: 100-146 / 118-139 / 85-135 here,
 * 24-29 / 27-31 / 25-29 for im2col on the OpenBLAS this machine loads
 * (its SSE3 "Prescott" kernels), 74-105 / 85-136 / 75-98 on its AVX-512
 * ones (kern_avx512.c has the table).
 *
 * 3x3 and 5x5 layers whose channels and filters are multiples of 16 run their
 * forward by Winograd instead (conv_winograd.c, chosen in nn_conv_select)
 * and their backward here, on large maps with the kernel gradient
 * summed in Winograd's domain and dx as Winograd's convolution of the
 * whole masked dy of an image (backward_wino).
 */
#include <string.h>

#include "nn_kern.h"

/* Rows and columns of the input the windows cover, padding included. */
static int padded_h(const nn_conv_shape *g)
{
    return (g->P - 1) * g->sh + g->R;
}

static int padded_w(const nn_conv_shape *g)
{
    return (g->Q - 1) * g->sw + g->S;
}

/* Does the layer read outside x (so x goes through a padded copy)? */
static int needs_pad(const nn_conv_shape *g)
{
    return g->pt > 0 || g->pl > 0 || padded_h(g) - g->pt > g->H || padded_w(g) - g->pl > g->W;
}

static size_t dyp_size(const nn_conv_shape *g)
{
    return (size_t)(g->P + 2 * (g->R - 1)) * (g->Q + 2 * (g->S - 1)) * g->K;
}

static size_t xpad_size(const nn_conv_shape *g)
{
    return needs_pad(g) ? (size_t)padded_h(g) * padded_w(g) * g->C : 0;
}

static size_t kernel_size(const nn_conv_shape *g)
{
    return (size_t)g->R * g->S * g->C * g->K;
}

/* The kernel gradient of a batch is summed in fixed groups of images,
 * each into its own partial sums (group 0 straight into dw), added up in
 * group order at the end: the threads take groups as they come
 * (nn_units), and the result is the same bits whatever the number of
 * threads and whoever took what. More groups balance the threads better
 * (a thread that loses its core mid-group holds the layer back by the
 * rest of its group); each costs a pass over dw to zero its partial sums
 * and one to add them. Where the kernel is small against an image's
 * output (the large early layers) eight groups cost nothing; where it is
 * larger (the deep layers) one group per thread the scratch was sized
 * for (catsdogs-2nd's last layer, 16 images, one core: eight groups 75
 * GFLOP/s, one 121). */
enum { NPART_LIGHT = 8 };

static int nparts(const nn_conv_shape *g, int N, int max_threads)
{
    int light = kernel_size(g) <= (size_t)g->P * g->Q * g->K;
    int np = light && NPART_LIGHT > max_threads ? NPART_LIGHT : max_threads;
    return N < np ? N : np < 1 ? 1 : np;
}

/* With a pool fused after it (see below), the convolution's output goes
 * through a buffer of a few rows, 2 * pool_rows of them. */
enum { POOL_GROUP_PX = 128 };

static int pool_rows(const nn_conv_shape *g)
{
    int r = POOL_GROUP_PX / (2 * g->Q);
    return r < 1 ? 1 : r;
}

/* On small maps the forward reads an input copy whose rows hold, for
 * each output column q, its S*C window floats side by side (im2col along
 * S only): tiles then run across row ends without the S-1 columns of
 * windows that leave the row (VGG16's block5, 9x9 from 11x11 padded: 79%
 * of the kernel's products useful, 96% with the copy). */
enum { UNROLL_Q = 32, UNROLL_FLOATS = 1 << 18 };

static int unrolls(const nn_conv_shape *g)
{
    return g->S > 1 && g->Q < UNROLL_Q && (size_t)padded_h(g) * g->Q * g->S * g->C <= UNROLL_FLOATS;
}

static size_t xs_size(const nn_conv_shape *g)
{
    return unrolls(g) ? (size_t)padded_h(g) * g->Q * g->S * g->C : 0;
}

static size_t rows_size(const nn_conv_shape *g)
{
    return (size_t)2 * pool_rows(g) * g->Q * g->K;
}

/* Scratch layout: [wk, if dx] [per thread: dyp (if dx) or the rows
 * buffer, xpad, xs (the forward's unrolled input)] [per group from 1: dw partial, db partial]. */
static size_t per_thread(const nn_conv_shape *g, int need_dx)
{
    size_t d = need_dx ? dyp_size(g) : 0, r = rows_size(g) + (need_dx ? xpad_size(g) : 0);
    return (d > r ? d : r) + xpad_size(g) + xs_size(g);
}

/* The dyp buffer, or the rows buffer and (padded, with dx) the padded dx
 * of a fused pool's backward; then xpad. */
static float *xpad_of(const nn_conv_shape *g, int need_dx, float *slot)
{
    size_t d = need_dx ? dyp_size(g) : 0, r = rows_size(g) + (need_dx ? xpad_size(g) : 0);
    return slot + (d > r ? d : r);
}

static size_t per_part(const nn_conv_shape *g)
{
    return kernel_size(g) + (size_t)g->K;
}

size_t nn_direct_scratch(const nn_conv_shape *g, int N, int threads, int need_dx)
{
    return (need_dx ? kernel_size(g) : 0) + (size_t)threads * per_thread(g, need_dx) +
           (size_t)(nparts(g, N, threads) - 1) * per_part(g);
}

/* x (H,W,C) -> xp (Hp,Wp,C) with zeros where the windows leave x. */
static void pad_copy(const nn_conv_shape *g, const float *x, float *xp)
{
    const int Hp = padded_h(g), Wp = padded_w(g), C = g->C;
    for (int i = 0; i < Hp; i++) {
        float *row = xp + (size_t)i * Wp * C;
        int h = i - g->pt;
        if (h < 0 || h >= g->H) {
            memset(row, 0, (size_t)Wp * C * sizeof *row);
            continue;
        }
        int w0 = g->pl, w1 = g->pl + g->W < Wp ? g->pl + g->W : Wp; /* [w0, w1) from x */
        memset(row, 0, (size_t)w0 * C * sizeof *row);
        memcpy(row + (size_t)w0 * C, x + (size_t)h * g->W * C, (size_t)(w1 - w0) * C * sizeof *row);
        memset(row + (size_t)w1 * C, 0, (size_t)(Wp - w1) * C * sizeof *row);
    }
}

/* The input as the kernels read it: x itself, or its padded copy. */
static const float *input_view(const nn_conv_shape *g, const float *x, float *xpad, int *Wp)
{
    if (!needs_pad(g)) {
        *Wp = g->W;
        return x;
    }
    pad_copy(g, x, xpad);
    *Wp = padded_w(g);
    return xpad;
}

/* The forward's operand a of image x in k: x, its padded copy, or its
 * unrolled copy xs (see unrolls). */
static void forward_input(const nn_conv_shape *g, const float *x, float *xpad, float *xs,
                          nn_kconv *k)
{
    int Wp;
    const float *a = input_view(g, x, xpad, &Wp);
    const size_t C = (size_t)g->C, SC = (size_t)g->S * C;
    k->taps = g->R;
    k->depth = (int)SC;
    if (!unrolls(g)) {
        k->a = a;
        k->a_rs = (ptrdiff_t)g->sh * Wp * g->C;
        k->a_cs = (ptrdiff_t)g->sw * g->C;
        k->tap_rs = (ptrdiff_t)Wp * g->C;
        return;
    }
    const int rows = padded_h(g);
    for (int i = 0; i < rows; i++) {
        for (int q = 0; q < g->Q; q++) {
            memcpy(xs + ((size_t)i * g->Q + q) * SC, a + ((size_t)i * Wp + q) * C, SC * sizeof *xs);
        }
    }
    k->a = xs;
    k->a_rs = (ptrdiff_t)(g->Q * SC);
    k->a_cs = (ptrdiff_t)SC;
    k->tap_rs = (ptrdiff_t)(g->Q * SC);
}

typedef struct conv_job {
    const nn_conv_shape *g;
    int N, relu;
    const float *x, *w, *b, *y, *dy, *wk;
    float *out, *dx, *dw, *db;
    const nn_exec *ex;
    float *scratch; /* the per-thread slots of ex->scratch */
    float *parts;   /* the partial sums of groups 1.. */
    int need_dx;
    int mode;    /* dx_mode */
    size_t slot; /* floats of scratch per thread */
    /* dx by Winograd: dx as a convolution of dy, its transformed kernel */
    int wino;
    nn_conv_shape gx;
    const float *u;
    nn_units units;
    /* a fused pool: its geometry, output, argmax and output gradient */
    const nn_conv_shape *pg;
    float *py;
    uint32_t *parg;
    const float *py_in, *pdy;
    const uint32_t *parg_in;
} conv_job;

static float *thread_scratch(const conv_job *j, int t)
{
    return j->scratch + (size_t)t * j->slot;
}

static void forward_part(void *ctx, int t, int nt)
{
    conv_job *j = ctx;
    const nn_conv_shape *g = j->g;
    const size_t xs = (size_t)g->H * g->W * g->C, ys = (size_t)g->P * g->Q * g->K;
    float *xpad = xpad_of(g, 0, thread_scratch(j, t)), *xun = xpad + xpad_size(g);
    (void)nt;
    for (int n; (n = nn_units_take(&j->units)) >= 0;) {
        nn_kconv k = {
            .b = j->w,
            .ldb = g->K,
            .ncols = g->K,
            .y = j->out + n * ys,
            .y_rs = (ptrdiff_t)g->Q * g->K,
            .y_cs = g->K,
            .P = g->P,
            .Q = g->Q,
            .bias = j->b,
            .relu = j->relu,
        };
        forward_input(g, j->x + n * xs, xpad, xun, &k);
        j->ex->kern->conv(&k);
    }
}

void nn_direct_forward(const nn_conv_shape *g, int N, const float *x, const float *w,
                       const float *b, nn_act act, float *y, const nn_exec *ex)
{
    conv_job j = {.g = g,
                  .N = N,
                  .relu = act == NN_ACT_RELU,
                  .x = x,
                  .w = w,
                  .b = b,
                  .out = y,
                  .ex = ex,
                  .slot = per_thread(g, 0)};
    /* Each thread's slot starts with an xpad, laid out as a backward
     * without dx would: never larger than the size reserved. */
    j.scratch = ex->scratch;
    nn_units_init(&j.units, N);
    nn_par_run(ex->par, forward_part, &j);
}

/* How the input gradient is formed. */
typedef enum dx_mode {
    DX_CORR,   /* padded dy correlated with the flipped, transposed kernel */
    DX_COL2IM, /* dy times the transposed kernel, scattered into dx */
} dx_mode;

/* The correlation computes all H*W input pixels from a dy padded to
 * (P+2R-2, Q+2S-2): on small maps many of its products are with padding
 * zeros (mnist's second layer, 12x12 from 8x8: 2.25 times the forward's
 * work). The scatter does exactly the forward's products and adds each
 * into dx R*(S*C/64) times, in L1/L2. Measured per layer (one core, CPU
 * time, GFLOP/s of the forward's count), correlation -> scatter:
 * catsdogs 74x74x32 113 -> 122, 36x36x64 129 -> 142, 17x17x128 107 -> 128,
 * 20x20x128 99 -> 127, 9x9x256 54 -> 92; mnist 12x12x32 62 -> 138. So the
 * scatter everywhere it can go: not with padding, whose scatter would
 * reach outside dx. */
static dx_mode choose_dx(const nn_conv_shape *g)
{
    return needs_pad(g) ? DX_CORR : DX_COL2IM;
}

/* dy (P,Q,K) masked by y > 0 when y is set -> dst (P,Q,K) with row stride
 * rs floats. */
static void masked_rows(const nn_conv_shape *g, const nn_kernels *kern, const float *dy,
                        const float *y, float *dst, size_t rs)
{
    const size_t row = (size_t)g->Q * g->K;
    for (int p = 0; p < g->P; p++) {
        if (y) {
            kern->relu_mask(row, dy + p * row, y + p * row, dst + p * rs);
        } else {
            memcpy(dst + p * rs, dy + p * row, row * sizeof *dst);
        }
    }
}

/* Rows [p0, p0+np) of the output gradient, gd (np*Q, K) -> added into dx
 * (rows of Wd pixels, C): for each tap r, gd times wt_r (K, S*C), product
 * row (p,q) added at dx row p+r, column q. A window row is S*C contiguous
 * floats of dx, so col2im happens in the kernel's epilogue (rows of one
 * tile overlap in dx and are added in order). dx is the input's gradient
 * (Wd = W) of an unpadded layer, or that of its padded copy (Wd = Wp). */
static void dx_col2im(const nn_conv_shape *g, const nn_kernels *kern, const float *gd, int p0,
                      int np, const float *wt, float *dx, int Wd)
{
    const int C = g->C, K = g->K, SC = g->S * C;
    for (int r = 0; r < g->R; r++) {
        nn_kconv k = {
            .a = gd,
            .a_rs = (ptrdiff_t)g->Q * K,
            .a_cs = K,
            .taps = 1,
            .depth = K,
            .b = wt + (size_t)r * K * SC,
            .ldb = SC,
            .ncols = SC,
            .y = dx + (size_t)(p0 + r) * Wd * C,
            .y_rs = (ptrdiff_t)Wd * C,
            .y_cs = C,
            .P = np,
            .Q = g->Q,
            .accumulate = 1,
        };
        kern->conv(&k);
    }
}

/* ---- fused with the max pool after it -------------------------------------- */

/* The pool's geometry over pool rows [p0, p0+np). */
static nn_conv_shape pool_slice(const nn_conv_shape *pg, int np)
{
    nn_conv_shape s = *pg;
    s.H = 2 * np;
    s.P = np;
    return s;
}

static void forward_pool_part(void *ctx, int t, int nt)
{
    conv_job *j = ctx;
    const nn_conv_shape *g = j->g, *pg = j->pg;
    const size_t xs = (size_t)g->H * g->W * g->C, ps = (size_t)pg->P * pg->Q * pg->C;
    float *rows = thread_scratch(j, t), *xpad = xpad_of(g, 0, rows), *xun = xpad + xpad_size(g);
    const int gr = pool_rows(g);
    (void)nt;
    for (int n; (n = nn_units_take(&j->units)) >= 0;) {
        nn_kconv in;
        forward_input(g, j->x + n * xs, xpad, xun, &in);
        for (int p0 = 0; p0 < pg->P; p0 += gr) {
            int np = pg->P - p0 < gr ? pg->P - p0 : gr;
            nn_kconv k = {
                .a = in.a + (ptrdiff_t)2 * p0 * in.a_rs,
                .a_rs = in.a_rs,
                .a_cs = in.a_cs,
                .tap_rs = in.tap_rs,
                .taps = in.taps,
                .depth = in.depth,
                .b = j->w,
                .ldb = g->K,
                .ncols = g->K,
                .y = rows,
                .y_rs = (ptrdiff_t)g->Q * g->K,
                .y_cs = g->K,
                .P = 2 * np,
                .Q = g->Q,
                .bias = j->b,
                .relu = 1,
            };
            j->ex->kern->conv(&k);
            nn_conv_shape sg = pool_slice(pg, np);
            size_t o = n * ps + (size_t)p0 * pg->Q * pg->C;
            j->ex->kern->pool2_forward(&sg, rows, j->py + o, j->parg + o);
        }
    }
}

void nn_direct_forward_pool(const nn_conv_shape *g, int N, const float *x, const float *w,
                            const float *b, const nn_conv_shape *pg, float *py, uint32_t *parg,
                            const nn_exec *ex)
{
    conv_job j = {.g = g,
                  .N = N,
                  .x = x,
                  .w = w,
                  .b = b,
                  .ex = ex,
                  .scratch = ex->scratch,
                  .pg = pg,
                  .py = py,
                  .parg = parg,
                  .slot = per_thread(g, 0)};
    nn_units_init(&j.units, N);
    nn_par_run(ex->par, forward_pool_part, &j);
}

/* Image n of a fused pair: rows of the output gradient rebuilt from the
 * pool's, then their share of dw, db and dx. Conv rows below the last
 * pool window get no gradient. A padded layer's dx is scattered into the
 * gradient of its padded input (after the rows buffer), then cropped. */
static void backward_pooled(const conv_job *j, int n, const float *a, nn_kdw *kw, float *rows)
{
    const nn_conv_shape *g = j->g, *pg = j->pg;
    const size_t xs = (size_t)g->H * g->W * g->C, ps = (size_t)pg->P * pg->Q * pg->C;
    const int gr = pool_rows(g), pad = needs_pad(g), Wd = pad ? padded_w(g) : g->W;
    float *dx = j->dx ? j->dx + n * xs : NULL, *dxp = dx && pad ? rows + rows_size(g) : dx;
    if (dx) {
        memset(dxp, 0, (pad ? xpad_size(g) : xs) * sizeof *dx);
    }
    for (int p0 = 0; p0 < pg->P; p0 += gr) {
        int np = pg->P - p0 < gr ? pg->P - p0 : gr;
        nn_conv_shape sg = pool_slice(pg, np);
        size_t o = n * ps + (size_t)p0 * pg->Q * pg->C;
        j->ex->kern->pool2_backward(&sg, j->parg_in + o, j->pdy + o, j->py_in + o, rows);
        kw->x = a + (ptrdiff_t)2 * p0 * kw->x_rs;
        kw->dy = rows;
        kw->ym = NULL;
        kw->P = 2 * np;
        j->ex->kern->dw(kw);
        if (dx) {
            dx_col2im(g, j->ex->kern, rows, 2 * p0, 2 * np, j->wk, dxp, Wd);
        }
    }
    for (int h = 0; dx && pad && h < g->H; h++) {
        memcpy(dx + (size_t)h * g->W * g->C, dxp + ((size_t)(h + g->pt) * Wd + g->pl) * g->C,
               (size_t)g->W * g->C * sizeof *dx);
    }
}

/* ---- the gradients by Winograd --------------------------------------------- */

/* A Winograd layer's backward takes the whole output gradient of a few
 * images (masked, or rebuilt from a fused pool's) into the thread's slot,
 * sums the kernel gradient in Winograd's domain (W, (R+1)^2 taps, per group
 * of images, taken back into the group's dw at its end) and computes dx
 * as Winograd's convolution of dy. The images go a batch at a time, as
 * many as make WINO_BATCH_TILES tiles (one image on large maps): a chunk
 * of a few tiles would stream the whole transformed kernel (or its
 * gradient) for little use. Where even a group's images have fewer than
 * WINO_MIN_TILES, the direct products are faster. The slot: dy of a
 * batch, W, then the tiles; the scratch starts with the rearranged
 * kernel and its transform when dx is wanted. */
enum { WINO_MIN_TILES = 48, WINO_BATCH_TILES = 96 };

static long wino_tiles(const nn_conv_shape *g)
{
    return (long)((g->H + 1) / 2) * ((g->W + 1) / 2);
}

static int wino_batch(const nn_conv_shape *g)
{
    return (int)((WINO_BATCH_TILES + wino_tiles(g) - 1) / wino_tiles(g));
}

/* Do the backward's gradients for N images on a team sized for
 * `threads` go by Winograd? */
static int wino_pays(const nn_conv_shape *g, int N, int threads)
{
    int smallest = N / nparts(g, N, threads), m = wino_batch(g);
    return (smallest < m ? smallest : m) * wino_tiles(g) >= WINO_MIN_TILES;
}

static size_t wino_u_size(const nn_conv_shape *g)
{
    return (size_t)(g->R + 1) * (g->S + 1) * g->C * g->K;
}

static size_t wino_slot(const nn_conv_shape *g)
{
    nn_conv_shape gx = nn_wino_dx_shape(g);
    return (size_t)wino_batch(g) * g->P * g->Q * g->K + wino_u_size(g) + nn_wino_image_scratch(&gx);
}

/* A smaller last batch of a run may take the direct products where the
 * full one took Winograd's: the scratch fits both. */
size_t nn_conv_backward_wino_scratch(const nn_conv_shape *g, int N, int threads, int need_dx)
{
    size_t direct = nn_direct_scratch(g, N, threads, need_dx);
    if (!wino_pays(g, N, threads)) {
        return direct;
    }
    size_t wino = (need_dx ? kernel_size(g) + wino_u_size(g) : 0) + (size_t)threads * wino_slot(g) +
                  (size_t)(nparts(g, N, threads) - 1) * per_part(g);
    return wino > direct ? wino : direct;
}

/* Image n's output gradient -> dy (P,Q,K). */
static void output_grad(const conv_job *j, int n, float *dy)
{
    const nn_conv_shape *g = j->g, *pg = j->pg;
    const size_t row = (size_t)g->Q * g->K;
    if (!pg) {
        const size_t ys = (size_t)g->P * row;
        masked_rows(g, j->ex->kern, j->dy + n * ys, j->relu ? j->y + n * ys : NULL, dy, row);
        return;
    }
    /* whole: also zeroes an odd last row and column, in no pooling window */
    const size_t o = n * (size_t)pg->P * pg->Q * pg->C;
    j->ex->kern->pool2_backward(pg, j->parg_in + o, j->pdy + o, j->py_in + o, dy);
}

/* Images [n0, n1) into the group's dw and db. */
static void backward_wino(const conv_job *j, int n0, int n1, float *dw, float *db, float *slot)
{
    const nn_conv_shape *g = j->g;
    const nn_kernels *kern = j->ex->kern;
    const size_t xs = (size_t)g->H * g->W * g->C, ys = (size_t)g->P * g->Q * g->K;
    const int m = wino_batch(g);
    float *dy = slot, *W = dy + m * ys, *tiles = W + wino_u_size(g);
    memset(W, 0, wino_u_size(g) * sizeof *W);
    for (int b0 = n0; b0 < n1; b0 += m) {
        int nb = n1 - b0 < m ? n1 - b0 : m;
        for (int n = b0; n < b0 + nb; n++) {
            output_grad(j, n, dy + (n - b0) * ys);
        }
        if (db) {
            kern->db(dy, NULL, (ptrdiff_t)g->Q * g->K, g->K, nb * g->P, g->Q, g->K, db);
        }
        nn_wino_dw_images(g, nb, j->x + b0 * xs, dy, W, tiles, kern);
        if (j->dx) {
            nn_wino_images(&j->gx, nb, dy, j->u, j->dx + b0 * xs, tiles, kern);
        }
    }
    nn_wino_dw_finish(g, W, dw, j->ex->kern);
}

/* Group i's images, summed into its own dw and db. */
static void backward_group(conv_job *j, int i, float *dyp, float *xpad)
{
    const nn_conv_shape *g = j->g;
    const size_t xs = (size_t)g->H * g->W * g->C, ys = (size_t)g->P * g->Q * g->K;
    const int K = g->K, C = g->C, Qp = g->Q + 2 * (g->S - 1),
              np = nparts(g, j->N, j->ex->max_threads);
    const nn_kernels *kern = j->ex->kern;
    float *dw = j->dw, *db = j->db;
    if (i > 0) {
        dw = j->parts + (size_t)(i - 1) * per_part(g);
        db = dw + kernel_size(g);
        memset(dw, 0, per_part(g) * sizeof *dw);
    }
    if (j->wino) {
        backward_wino(j, j->N * i / np, j->N * (i + 1) / np, dw, j->db ? db : NULL, dyp);
        return;
    }
    for (int n = j->N * i / np; n < j->N * (i + 1) / np; n++) {
        int Wp;
        const float *a = input_view(g, j->x + n * xs, xpad, &Wp);
        const float *y = j->relu ? j->y + n * ys : NULL;
        nn_kdw kw = {
            .x = a,
            .x_rs = (ptrdiff_t)Wp * C,
            .x_cs = C,
            .tap_rs = (ptrdiff_t)Wp * C,
            .taps = g->R,
            .depth = g->S * C,
            .dy = j->dy + n * ys,
            .ym = y,
            .dy_rs = (ptrdiff_t)g->Q * K,
            .dy_cs = K,
            .ncols = K,
            .P = g->P,
            .Q = g->Q,
            .dw = dw,
            .ldw = K,
            .db = j->db ? db : NULL,
        };
        if (j->pg) {
            backward_pooled(j, n, a, &kw, dyp);
            continue;
        }
        if (!j->need_dx) {
            kern->dw(&kw);
            continue;
        }
        if (j->mode == DX_COL2IM) {
            masked_rows(g, kern, j->dy + n * ys, y, dyp, (size_t)g->Q * K);
            kw.dy = dyp;
            kw.ym = NULL;
            kern->dw(&kw);
            memset(j->dx + n * xs, 0, xs * sizeof(float));
            dx_col2im(g, kern, dyp, 0, g->P, j->wk, j->dx + n * xs, g->W);
            continue;
        }
        float *inner = dyp + ((size_t)(g->R - 1) * Qp + (g->S - 1)) * K;
        masked_rows(g, kern, j->dy + n * ys, y, inner, (size_t)Qp * K);
        kw.dy = inner;
        kw.ym = NULL;
        kw.dy_rs = (ptrdiff_t)Qp * K;
        kern->dw(&kw);
        nn_kconv kx = {
            .a = dyp + ((size_t)g->pt * Qp + g->pl) * K,
            .a_rs = (ptrdiff_t)Qp * K,
            .a_cs = K,
            .tap_rs = (ptrdiff_t)Qp * K,
            .taps = g->R,
            .depth = g->S * K,
            .b = j->wk,
            .ldb = C,
            .ncols = C,
            .y = j->dx + n * xs,
            .y_rs = (ptrdiff_t)g->W * C,
            .y_cs = C,
            .P = g->H,
            .Q = g->W,
        };
        kern->conv(&kx);
    }
}

static void backward_part(void *ctx, int t, int nt)
{
    conv_job *j = ctx;
    float *dyp = thread_scratch(j, t);
    float *xpad = xpad_of(j->g, j->need_dx, dyp);
    (void)nt;
    if (j->need_dx && !j->wino && j->mode == DX_CORR) {
        memset(dyp, 0, dyp_size(j->g) * sizeof *dyp); /* the borders stay zero */
    }
    for (int i; (i = nn_units_take(&j->units)) >= 0;) {
        backward_group(j, i, dyp, xpad);
    }
}

enum { REDUCE_SLICES = 16 };

/* dw and db += the groups' partial sums, in group order, one slice of
 * them per unit. */
static void reduce_part(void *ctx, int t, int nt)
{
    conv_job *j = ctx;
    const size_t nw = kernel_size(j->g), n = per_part(j->g);
    (void)t, (void)nt;
    for (int s; (s = nn_units_take(&j->units)) >= 0;) {
        size_t lo = n * (size_t)s / REDUCE_SLICES, hi = n * (size_t)(s + 1) / REDUCE_SLICES;
        for (int i = 1; i < nparts(j->g, j->N, j->ex->max_threads); i++) {
            const float *p = j->parts + (size_t)(i - 1) * n;
            for (size_t k = lo; k < hi && k < nw; k++) {
                j->dw[k] += p[k];
            }
            for (size_t k = lo > nw ? lo : nw; j->db && k < hi; k++) {
                j->db[k - nw] += p[k];
            }
        }
    }
}

/* The kernel rearranged for the input gradient: DX_CORR wants
 * wk[r][s][k][c] = w[R-1-r][S-1-s][c][k] (flipped, C and K swapped);
 * DX_COL2IM wants wk[r][k][s*C + c] = w[r][s][c][k] (per tap, transposed). */
static void arrange_kernel(const nn_conv_shape *g, dx_mode mode, const float *w, float *wk)
{
    const int C = g->C, K = g->K, S = g->S;
    for (int r = 0; r < g->R; r++) {
        for (int s = 0; s < S; s++) {
            for (int c = 0; c < C; c++) {
                const float *src = w + (((size_t)r * S + s) * C + c) * K;
                if (mode == DX_CORR) {
                    float *dst = wk + ((size_t)(g->R - 1 - r) * S + (S - 1 - s)) * K * C + c;
                    for (int k = 0; k < K; k++) {
                        dst[(size_t)k * C] = src[k];
                    }
                } else {
                    float *dst = wk + (size_t)r * K * S * C + (size_t)s * C + c;
                    for (int k = 0; k < K; k++) {
                        dst[(size_t)k * S * C] = src[k];
                    }
                }
            }
        }
    }
}

/* Runs the backward of job j (its fields set but the scratch's), its
 * gradients by Winograd if j->wino and the map is large enough. */
static void run_backward(conv_job *j, const float *w)
{
    const nn_conv_shape *g = j->g;
    const nn_exec *ex = j->ex;
    j->need_dx = j->dx != NULL;
    j->wino = j->wino && wino_pays(g, j->N, ex->max_threads);
    /* Winograd correlates with the flipped kernel; a fused pool scatters its rows */
    j->mode = j->wino ? DX_CORR : j->pg ? DX_COL2IM : choose_dx(g);
    j->scratch =
        ex->scratch + (j->dx ? kernel_size(g) : 0) + (j->wino && j->dx ? wino_u_size(g) : 0);
    j->slot = j->wino ? wino_slot(g) : per_thread(g, j->need_dx);
    j->parts = j->scratch + (size_t)ex->max_threads * j->slot;
    if (j->dx) {
        j->wk = ex->scratch;
        arrange_kernel(g, (dx_mode)j->mode, w, ex->scratch);
    }
    if (j->wino && j->dx) {
        float *u = ex->scratch + kernel_size(g);
        j->gx = nn_wino_dx_shape(g);
        nn_wino_weights(&j->gx, j->wk, u, ex);
        j->u = u;
    }
    nn_units_init(&j->units, nparts(g, j->N, ex->max_threads));
    nn_par_run(ex->par, backward_part, j);
    if (nparts(g, j->N, ex->max_threads) > 1) {
        nn_units_init(&j->units, REDUCE_SLICES);
        nn_par_run(ex->par, reduce_part, j);
    }
}

static void backward(const nn_conv_shape *g, int N, const float *x, const float *w, const float *y,
                     nn_act act, const float *dy, float *dx, float *dw, float *db,
                     const nn_exec *ex, int wino)
{
    conv_job j = {.g = g,
                  .N = N,
                  .relu = act == NN_ACT_RELU,
                  .x = x,
                  .y = y,
                  .dy = dy,
                  .dx = dx,
                  .dw = dw,
                  .db = db,
                  .ex = ex,
                  .wino = wino};
    run_backward(&j, w);
}

static void backward_pool(const nn_conv_shape *g, int N, const float *x, const float *w,
                          const nn_conv_shape *pg, const float *py, const uint32_t *parg,
                          const float *pdy, float *dx, float *dw, float *db, const nn_exec *ex,
                          int wino)
{
    conv_job j = {.g = g,
                  .N = N,
                  .x = x,
                  .dx = dx,
                  .dw = dw,
                  .db = db,
                  .ex = ex,
                  .pg = pg,
                  .py_in = py,
                  .parg_in = parg,
                  .pdy = pdy,
                  .wino = wino};
    run_backward(&j, w);
}

void nn_direct_backward(const nn_conv_shape *g, int N, const float *x, const float *w,
                        const float *y, nn_act act, const float *dy, float *dx, float *dw,
                        float *db, const nn_exec *ex)
{
    backward(g, N, x, w, y, act, dy, dx, dw, db, ex, 0);
}

void nn_direct_backward_pool(const nn_conv_shape *g, int N, const float *x, const float *w,
                             const nn_conv_shape *pg, const float *py, const uint32_t *parg,
                             const float *pdy, float *dx, float *dw, float *db, const nn_exec *ex)
{
    backward_pool(g, N, x, w, pg, py, parg, pdy, dx, dw, db, ex, 0);
}

void nn_conv_backward_wino(const nn_conv_shape *g, int N, const float *x, const float *w,
                           const float *y, nn_act act, const float *dy, float *dx, float *dw,
                           float *db, const nn_exec *ex)
{
    backward(g, N, x, w, y, act, dy, dx, dw, db, ex, 1);
}

void nn_conv_backward_pool_wino(const nn_conv_shape *g, int N, const float *x, const float *w,
                                const nn_conv_shape *pg, const float *py, const uint32_t *parg,
                                const float *pdy, float *dx, float *dw, float *db,
                                const nn_exec *ex)
{
    backward_pool(g, N, x, w, pg, py, parg, pdy, dx, dw, db, ex, 1);
}
