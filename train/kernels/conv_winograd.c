/* conv_winograd.c: the forward of 3x3 and 5x5 stride-1 convolutions (all
 * but the first of VGG16's, the book's deeper ones, mnist's second) by
 * Winograd's minimal filtering F(2x2, r x r): each 2x2 block of outputs
 * comes from an (r+1) x (r+1) patch of the input, with 16 products per
 * input and output channel instead of 36 for r = 3 (2.25 times fewer)
 * and 36 instead of 100 for r = 5 (2.8 times). The backward is the
 * direct one (conv_direct.c), which needs only x, w and y, not how y was
 * computed; where its images have enough tiles it takes its products
 * from here too, a few images at a time on the calling thread: the input
 * gradient, itself an r x r convolution of dy with the flipped kernel
 * (nn_wino_images), and the kernel gradient (nn_wino_dw_images), the
 * forward's sums transposed: per tap, dU_t += V_t^T (A dy A^T)_t over
 * the tiles, then dw = G^T dU G.
 *
 * With the transforms of Lavin and Gray ("Fast Algorithms for
 * Convolutional Neural Networks", 2016), per output tile
 *   Y = A^T [ (G g G^T) . (B^T d B) ] A
 * over the input patch d and each filter g. The elementwise product
 * summed over channels is (r+1)^2 independent GEMMs, one per tap t:
 *   M_t (tiles, K) = V_t (tiles, C) U_t (C, K),
 * V = B^T d B of each tile, U = G g G^T of the kernel (formed once per
 * call, shared by the threads). The GEMMs run on the model's
 * micro-kernel (nn_kconv: one tap, the tiles as pixels), the transforms
 * (wino_tx.h, one copy per tier) at the tier's vector width.
 *
 * Work is shared out in chunks of tiles (of several images on small
 * maps): each chunk's V (taps x tiles x C) and M (taps x tiles x K) stay
 * in L2 while its GEMMs stream U_t once per chunk. A chunk's output
 * values do not depend on the chunking, so results are the same bits
 * whatever the number of threads. With a 2x2 max pool after it, a tile
 * is exactly one pooling window: the pool is taken in the output
 * transform, with the argmax nn_kernels.pool2_forward would give, and the
 * convolution's output is never stored.
 *
 * Accuracy: results differ from the direct sums by rounding alone, but
 * of larger terms: a tile's transforms mix all inputs of its patch (and
 * the kernel gradient's all four outputs of its dy tile), so where most
 * of a window is near zero and its neighbours are not the error,
 * relative to that window's own terms, can be several times the direct
 * sum's; more for 5x5, whose transforms scale by up to 5 (tests compare
 * both with sums in double on inputs spread over [-1, 1]). A NaN or an
 * infinity in a patch can make all four outputs of its tile NaN, where
 * the direct sum spoils only the windows it is in.
 */
#include <string.h>

#include "nn_kern.h"

/* Tiles per chunk, at most: 96 of 3x3's 16 taps, as many floats of 5x5's
 * 36 (42 tiles, a multiple of 6). */
enum { CHUNK_TILES = 96 };

/* The transforms of g's kernel size, and their number of taps. */
static const nn_wino_tx *tx_of(const nn_kernels *kern, const nn_conv_shape *g)
{
    return &kern->wino[g->R == 5];
}

static int taps(const nn_conv_shape *g)
{
    return (g->R + 1) * (g->R + 1);
}

static int chunk_max(const nn_conv_shape *g)
{
    return CHUNK_TILES * 16 / taps(g) / 6 * 6;
}

/* ---- tiles, chunks, threads ------------------------------------------------ */

/* The tile grid of one image: th x tw tiles of 2x2 outputs. With a fused
 * pool only the tiles that are pooling windows (the pool drops an odd
 * last row and column). */
static void tile_grid(const nn_conv_shape *g, const nn_conv_shape *pg, int *th, int *tw)
{
    *th = pg ? pg->P : (g->P + 1) / 2;
    *tw = pg ? pg->Q : (g->Q + 1) / 2;
}

/* Tiles per chunk: at most chunk_max, in a number of chunks that the
 * threads can share evenly (VGG16's block5 at 150x150, batch 32: 800
 * tiles, 9 chunks of 84 and one of 44 rather than 8 of 96 and one of 32
 * on two threads), a multiple of the 6 rows of the GEMM kernel's widest
 * tiles. */
static int chunk_tiles(const nn_conv_shape *g, long ntiles, int threads)
{
    const int most = chunk_max(g);
    long n = (ntiles + most - 1) / most;
    n = (n + threads - 1) / threads * threads;
    long per = (ntiles + n - 1) / n;
    per = (per + 5) / 6 * 6;
    return per < most ? (int)per : most;
}

static size_t per_thread(const nn_conv_shape *g)
{
    return (size_t)taps(g) * chunk_max(g) * (g->C + g->K) + g->C + g->K;
}

size_t nn_wino_scratch(const nn_conv_shape *g, int threads)
{
    return (size_t)taps(g) * g->C * g->K + (size_t)threads * per_thread(g);
}

typedef struct wino_job {
    const nn_conv_shape *g;
    int th, tw;
    long ntiles;
    int chunk;
    const float *x, *w, *b, *u; /* u: the transformed kernel, read */
    float *uw, *y;              /* uw: where weight_part writes it */
    int relu;
    const nn_conv_shape *pg; /* a fused pool, its output and argmax */
    float *py;
    uint32_t *parg;
    const nn_exec *ex;
    const nn_kernels *kern;
    nn_units units;
} wino_job;

static void weight_part(void *ctx, int t, int nt)
{
    wino_job *j = ctx;
    const nn_conv_shape *g = j->g;
    (void)t, (void)nt;
    for (int i; (i = nn_units_take(&j->units)) >= 0;) {
        tx_of(j->kern, g)
            ->weight_transform(j->w, g->C, g->K, NN_WINO_UNIT * i, NN_WINO_UNIT * (i + 1), j->uw);
    }
}

/* Tile number `tile` of the batch: its image n, tile row ty, column tx. */
static void tile_pos(const wino_job *j, long tile, int *n, int *ty, int *tx)
{
    const long per = (long)j->th * j->tw;
    *n = (int)(tile / per);
    *ty = (int)(tile % per / j->tw);
    *tx = (int)(tile % per % j->tw);
}

/* The tile's patch (rows of C floats; zero where it leaves x)
 * transformed into v. */
static void chunk_input(const wino_job *j, long tile, float *v, size_t vs, const float *zero)
{
    const nn_conv_shape *g = j->g;
    int n, ty, tx;
    tile_pos(j, tile, &n, &ty, &tx);
    const int side = g->R + 1;
    const float *p[36];
    for (int i = 0; i < side; i++) {
        int h = 2 * ty - g->pt + i;
        for (int jj = 0; jj < side; jj++) {
            int w = 2 * tx - g->pl + jj;
            p[i * side + jj] = h < 0 || h >= g->H || w < 0 || w >= g->W
                                   ? zero
                                   : j->x + (((size_t)n * g->H + h) * g->W + w) * g->C;
        }
    }
    tx_of(j->kern, g)->input_transform(p, g->C, v, vs);
}

/* The tile's outputs from m: into y (past the map's edge into dummy), or
 * pooled into py and parg. */
static void chunk_output(const wino_job *j, long tile, const float *m, size_t ms, float *dummy)
{
    const nn_conv_shape *g = j->g;
    int n, ty, tx;
    tile_pos(j, tile, &n, &ty, &tx);
    if (j->pg) {
        size_t o = (((size_t)n * j->pg->P + ty) * j->pg->Q + tx) * g->K;
        tx_of(j->kern, g)->output_pool(m, ms, g->K, j->b, j->py + o, j->parg + o);
        return;
    }
    float *out[4];
    for (int i = 0; i < 2; i++) {
        for (int jj = 0; jj < 2; jj++) {
            int p = 2 * ty + i, q = 2 * tx + jj;
            out[i * 2 + jj] =
                p < g->P && q < g->Q ? j->y + (((size_t)n * g->P + p) * g->Q + q) * g->K : dummy;
        }
    }
    tx_of(j->kern, g)->output_transform(m, ms, g->K, j->b, j->relu, out);
}

/* The tile scratch of one thread (per_thread floats): V and M (or D)
 * for chunk_max tiles, then C + K floats: zeros for the patch outside
 * x (C) or dy's tile outside the map (K), the outputs past the map's
 * edge going to the K after the first C. Zeroes that row; returns it. */
static float *zero_row(const nn_conv_shape *g, float *slot)
{
    float *z = slot + (size_t)taps(g) * chunk_max(g) * (g->C + g->K);
    memset(z, 0, (size_t)(g->C + g->K) * sizeof *z);
    return z;
}

/* Chunk c of the job's tiles, through a slot whose zero row is set
 * (zero, as zero_row returned it). */
static void chunk(const wino_job *j, long c, float *slot, float *zero)
{
    const nn_conv_shape *g = j->g;
    const size_t vs = (size_t)j->chunk * g->C, ms = (size_t)j->chunk * g->K;
    float *v = slot, *m = slot + (size_t)taps(g) * chunk_max(g) * g->C;
    const long t0 = c * j->chunk;
    const int rows = j->ntiles - t0 < j->chunk ? (int)(j->ntiles - t0) : j->chunk;
    for (int r = 0; r < rows; r++) {
        chunk_input(j, t0 + r, v + (size_t)r * g->C, vs, zero);
    }
    for (int tap = 0; tap < taps(g); tap++) {
        nn_kconv k = {
            .a = v + tap * vs,
            .a_cs = g->C,
            .taps = 1,
            .depth = g->C,
            .b = j->u + (size_t)tap * g->C * g->K,
            .ldb = g->K,
            .ncols = g->K,
            .y = m + tap * ms,
            .y_cs = g->K,
            .P = 1,
            .Q = rows,
        };
        j->kern->conv(&k);
    }
    for (int r = 0; r < rows; r++) {
        chunk_output(j, t0 + r, m + (size_t)r * g->K, ms, zero + g->C);
    }
}

static void chunk_part(void *ctx, int t, int nt)
{
    wino_job *j = ctx;
    float *slot =
        j->ex->scratch + (size_t)taps(j->g) * j->g->C * j->g->K + (size_t)t * per_thread(j->g);
    float *zero = zero_row(j->g, slot);
    (void)nt;
    for (int c; (c = nn_units_take(&j->units)) >= 0;) {
        chunk(j, c, slot, zero);
    }
}

static void run(wino_job *j, int N)
{
    const nn_exec *ex = j->ex;
    tile_grid(j->g, j->pg, &j->th, &j->tw);
    j->ntiles = (long)N * j->th * j->tw;
    if (j->ntiles == 0) {
        return;
    }
    j->chunk = chunk_tiles(j->g, j->ntiles, nn_par_threads(ex->par));
    j->u = j->uw = ex->scratch;
    j->kern = ex->kern;
    nn_units_init(&j->units, j->g->C / NN_WINO_UNIT);
    nn_par_run(ex->par, weight_part, j);
    nn_units_init(&j->units, (int)((j->ntiles + j->chunk - 1) / j->chunk));
    nn_par_run(ex->par, chunk_part, j);
}

void nn_wino_forward(const nn_conv_shape *g, int N, const float *x, const float *w, const float *b,
                     nn_act act, float *y, const nn_exec *ex)
{
    wino_job j = {.g = g, .x = x, .w = w, .b = b, .y = y, .relu = act == NN_ACT_RELU, .ex = ex};
    run(&j, N);
}

void nn_wino_forward_pool(const nn_conv_shape *g, int N, const float *x, const float *w,
                          const float *b, const nn_conv_shape *pg, float *py, uint32_t *parg,
                          const nn_exec *ex)
{
    wino_job j = {
        .g = g, .x = x, .w = w, .b = b, .relu = 1, .pg = pg, .py = py, .parg = parg, .ex = ex};
    run(&j, N);
}

/* ---- the input gradient, for the direct backward --------------------------- */

nn_conv_shape nn_wino_dx_shape(const nn_conv_shape *g)
{
    return (nn_conv_shape){.H = g->P,
                           .W = g->Q,
                           .C = g->K,
                           .K = g->C,
                           .R = g->R,
                           .S = g->S,
                           .sh = 1,
                           .sw = 1,
                           .pt = g->R - 1 - g->pt,
                           .pl = g->S - 1 - g->pl,
                           .P = g->H,
                           .Q = g->W};
}

size_t nn_wino_image_scratch(const nn_conv_shape *gx)
{
    return per_thread(gx);
}

void nn_wino_weights(const nn_conv_shape *gx, const float *w, float *u, const nn_exec *ex)
{
    wino_job j = {.g = gx, .w = w, .uw = u, .kern = ex->kern};
    nn_units_init(&j.units, gx->C / NN_WINO_UNIT);
    nn_par_run(ex->par, weight_part, &j);
}

/* A job over all the tiles of N images of g, in whole chunks, on the
 * calling thread (the backward's). */
static wino_job images_job(const nn_conv_shape *g, int N, const float *x, const nn_kernels *kern)
{
    wino_job j = {.g = g, .x = x, .kern = kern, .chunk = chunk_max(g)};
    tile_grid(g, NULL, &j.th, &j.tw);
    j.ntiles = (long)N * j.th * j.tw;
    return j;
}

void nn_wino_images(const nn_conv_shape *gx, int N, const float *x, const float *u, float *y,
                    float *scratch, const nn_kernels *kern)
{
    wino_job j = images_job(gx, N, x, kern);
    j.u = u;
    j.y = y;
    float *zero = zero_row(gx, scratch);
    for (long c = 0; c * j.chunk < j.ntiles; c++) {
        chunk(&j, c, scratch, zero);
    }
}

/* ---- the kernel gradient, for the direct backward -------------------------- */

void nn_wino_dw_images(const nn_conv_shape *g, int N, const float *x, const float *dy, float *W,
                       float *scratch, const nn_kernels *kern)
{
    const wino_job j = images_job(g, N, x, kern);
    const size_t vs = (size_t)j.chunk * g->C, ds = (size_t)j.chunk * g->K;
    float *v = scratch, *d = v + taps(g) * vs, *zero = zero_row(g, scratch);
    for (long t0 = 0; t0 < j.ntiles; t0 += j.chunk) {
        int rows = j.ntiles - t0 < j.chunk ? (int)(j.ntiles - t0) : j.chunk;
        for (int r = 0; r < rows; r++) {
            int n, ty, tx;
            tile_pos(&j, t0 + r, &n, &ty, &tx);
            chunk_input(&j, t0 + r, v + (size_t)r * g->C, vs, zero);
            const float *e[4];
            for (int a = 0; a < 2; a++) {
                for (int b = 0; b < 2; b++) {
                    int p = 2 * ty + a, q = 2 * tx + b;
                    e[a * 2 + b] = p < g->P && q < g->Q
                                       ? dy + (((size_t)n * g->P + p) * g->Q + q) * g->K
                                       : zero;
                }
            }
            tx_of(kern, g)->grad_transform(e, g->K, d + (size_t)r * g->K, ds);
        }
        for (int tap = 0; tap < taps(g); tap++) {
            nn_kdw k = {
                .x = v + tap * vs,
                .x_cs = g->C,
                .taps = 1,
                .depth = g->C,
                .dy = d + tap * ds,
                .dy_cs = g->K,
                .ncols = g->K,
                .P = 1,
                .Q = rows,
                .dw = W + (size_t)tap * g->C * g->K,
                .ldw = g->K,
            };
            kern->dw(&k);
        }
    }
}

void nn_wino_dw_finish(const nn_conv_shape *g, const float *W, float *dw, const nn_kernels *kern)
{
    tx_of(kern, g)->weight_grad_transform(W, g->C, g->K, dw);
}
