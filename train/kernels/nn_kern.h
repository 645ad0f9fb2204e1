/* nn_kern.h: the engine's kernels (train/kernels/), what the model and the
 * tests call.
 *
 * Kernels follow llm.c: plain functions on flat float arrays, one per layer
 * and direction, with the shapes in the comment. Layout is NHWC (Keras's
 * channels_last), so Flatten is free and matches Keras's order, and kernels
 * are stored as Keras stores them: Conv2D (R,S,C,K), Dense (I,O). Backward
 * functions ADD into the parameter gradients dw and db (nn_zero_grad
 * zeroes them) and WRITE the activation gradient dx: in a Sequential
 * model each dx has exactly one writer, and zeroing every activation
 * gradient of a batch (hundreds of MB for catsdogs) cost as much as the
 * pass that then overwrote it. The convolution is reached through a
 * function pointer in its layer (nn_conv_impl), chosen per layer when the
 * model is built (nn_conv_select). Kernels get the model's nn_exec: its
 * threads, its scratch and its kernel set.
 *
 * Letters: N batch, H W C input height/width/channels, K filters,
 * R S kernel height/width, P Q output height/width, Din Dout dense in/out
 * (I is taken by <complex.h>, which cblas.h includes).
 */
#ifndef NN_KERN_H
#define NN_KERN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ck.h"
#include "nn.h"

/* ---- kernels ----------------------------------------------------------- */

/* The geometry of a Conv2D or MaxPooling2D layer. Keras's 'same' padding:
 * P = ceil(H / sh), total = max((P-1)*sh + R - H, 0), top = total/2 (the
 * extra row, if any, goes to the bottom); 'valid': P = (H - R)/sh + 1. */
typedef struct nn_conv_shape {
    int H, W, C; /* input */
    int K;       /* filters (conv) or C (pool) */
    int R, S;    /* kernel or pool window */
    int sh, sw;  /* strides */
    int pt, pl;  /* top and left padding */
    int P, Q;    /* output */
} nn_conv_shape;

/* Fills g's padding and output size from H, W, R, S, strides and the
 * padding mode; returns 0, or CK_EINVAL when the window does not fit. */
int nn_conv_shape_set(nn_conv_shape *g, int same);

/* Columns for one sample: x (H,W,C) -> col (P*Q, R*S*C), zeros in padding. */
void nn_im2col(const nn_conv_shape *g, const float *x, float *col);
/* The adjoint of nn_im2col: adds col (P*Q, R*S*C) into dx (H,W,C). */
void nn_col2im_add(const nn_conv_shape *g, const float *col, float *dx);

/* ---- threads and kernels (kern_par.c, kern_avx512.c, kern_ref.c) --------- */

/* A team of threads that runs one function on all of them at once. */
typedef struct nn_par nn_par;
typedef void (*nn_par_fn)(void *ctx, int t, int nt); /* thread t of nt */
enum { NN_PAR_MAX = 16 };
/* threads >= 1 (1: no worker threads). Returns 0, CK_ENOMEM. */
int nn_par_create(nn_par **out, int threads);
void nn_par_destroy(nn_par *p);      /* NULL is a no-op */
int nn_par_threads(const nn_par *p); /* 1 for NULL */
/* fn(ctx, 0, nt) on the calling thread, and fn(ctx, t, nt) on each worker
 * t that wakes up before the caller's call has returned; returns when all
 * those are done. So fn must share its work out through nn_units, and may
 * use per-thread scratch slot t. p may be NULL (fn(ctx, 0, 1)). One
 * caller at a time. */
void nn_par_run(nn_par *p, nn_par_fn fn, void *ctx);
/* CPUs online, at most NN_PAR_MAX. */
int nn_par_max(void);

/* Work units handed out to a team as the threads come for them: on a
 * shared machine a thread may be descheduled for milliseconds, and a
 * static split would leave the other waiting at the end of every layer.
 * Results must not depend on who took which unit. */
typedef struct nn_units {
    atomic_int next;
    int n;
} nn_units;

static inline void nn_units_init(nn_units *u, int n)
{
    atomic_init(&u->next, 0);
    u->n = n;
}

/* The next unit, or -1 when none is left. */
static inline int nn_units_take(nn_units *u)
{
    int i = atomic_fetch_add_explicit(&u->next, 1, memory_order_relaxed);
    return i < u->n ? i : -1;
}

/* One implicit GEMM (kern_avx512.c explains the formulation): for output
 * pixel (p,q) < (P,Q) and column n < ncols,
 *   y[p*y_rs + q*y_cs + n] (+)= sum over t < taps, d < depth of
 *       a[p*a_rs + q*a_cs + t*tap_rs + d] * b[(t*depth + d)*ldb + n]
 * then + bias[n] and ReLU (a NaN passes) when set; `accumulate` adds to y.
 * A convolution: a = x, a_cs = sw*C, tap_rs = W*C, taps = R, depth = S*C,
 * b = the (R,S,C,K) kernel; a dense layer: P = 1, Q = samples, taps = 1. */
typedef struct nn_kconv {
    const float *a;
    ptrdiff_t a_rs, a_cs, tap_rs;
    int taps, depth;
    const float *b;
    ptrdiff_t ldb;
    int ncols;
    float *y;
    ptrdiff_t y_rs, y_cs;
    int P, Q;
    const float *bias; /* or NULL */
    int relu, accumulate;
} nn_kconv;

/* The kernel-gradient product: for t < taps, d < depth, n < ncols,
 *   dw[(t*depth + d)*ldw + n] += sum over p < P, q < Q of
 *       x[p*x_rs + q*x_cs + t*tap_rs + d] * g(p,q,n),
 * g = dy[p*dy_rs + q*dy_cs + n], or 0 where ym (same strides, a ReLU's
 * output) is not > 0 when ym is set; db[n] += sum of g when db is set. */
typedef struct nn_kdw {
    const float *x;
    ptrdiff_t x_rs, x_cs, tap_rs;
    int taps, depth;
    const float *dy, *ym;
    ptrdiff_t dy_rs, dy_cs;
    int ncols, P, Q;
    float *dw;
    ptrdiff_t ldw;
    float *db;
} nn_kdw;

/* The register tiles of a vector tier, and the one driver that cuts an
 * nn_kconv or nn_kdw into them (kern_tile.c). A forward tile computes
 * MR output pixels x NV vectors of columns:
 *   yr[i][0..NV*lanes) (op)= sum_t<taps sum_d<depth a[i*acs + t*tap + d]
 *                                           * b[(t*depth + d)*ldb + ...],
 * then adds yr[i] (add), bias, ReLU; a dw tile adds into MR rows x NV
 * vectors of dw the products of MR consecutive inputs with a block of
 * dy (masked by ym > 0 when ym is set). tail: lanes of the last vector
 * (1..lanes). */
enum { NN_TILE_MAX_MR = 14, NN_TILE_MAX_COLS = 64 };
typedef void (*nn_fwd_tile_fn)(const float *a, ptrdiff_t acs, ptrdiff_t tap, int taps, int depth,
                               const float *b, ptrdiff_t ldb, float *const *yr, const float *bias,
                               int relu, int add, int tail);
typedef void (*nn_dw_tile_fn)(const float *x, ptrdiff_t xrs, ptrdiff_t xcs, const float *dy,
                              const float *ym, ptrdiff_t dyrs, ptrdiff_t dycs, int rows, int Q,
                              float *dw, ptrdiff_t ldw, int tail);
typedef struct nn_tile_set {
    int lanes;                     /* floats per vector */
    int npanels;                   /* panel widths nv[i] * lanes, i < npanels */
    int nv[3];                     /* vectors per panel, increasing */
    int fwd_mr[3], dw_mr[3];       /* tile rows per panel */
    const nn_fwd_tile_fn *fwd[3];  /* [panel][MR], MR 1..fwd_mr */
    const nn_dw_tile_fn *dw[2][3]; /* [masked][panel][MR], MR 1..dw_mr */
    void (*db)(const float *dy, const float *ym, ptrdiff_t rs, ptrdiff_t cs, int rows, int Q,
               int ncols, float *db); /* as nn_kernels.db */
} nn_tile_set;
void nn_tiles_conv(const nn_tile_set *ts, const nn_kconv *k);
void nn_tiles_dw(const nn_tile_set *ts, const nn_kdw *k);

/* The transforms of Winograd's F(2x2,r x r), r = 3 and 5, a pair of
 * tables per tier (wino_tx.h and conv_winograd.c say what each
 * computes). Channel and filter counts are multiples of NN_WINO_UNIT:
 * the transforms go through them a vector at a time, up to 16 floats
 * (the AVX-512 tier's WLANES), and the weight transform is shared among
 * threads in units of 16 channels; a smaller unit would break the widest
 * tier. Patches are (r+1) x (r+1), in as many taps. A tier built without
 * its kernels has a table of NULLs. */
enum { NN_WINO_UNIT = 16 };
typedef struct nn_wino_tx {
    int r;
    void (*weight_transform)(const float *w, int C, int K, int c0, int c1, float *u);
    void (*input_transform)(const float *const p[], int C, float *v, size_t vs);
    void (*output_transform)(const float *mp, size_t ms, int K, const float *bias, int relu,
                             float *const out[4]);
    void (*output_pool)(const float *mp, size_t ms, int K, const float *bias, float *py,
                        uint32_t *parg);
    void (*grad_transform)(const float *const e[4], int K, float *d, size_t ds);
    void (*weight_grad_transform)(const float *W, int C, int K, float *dw);
} nn_wino_tx;
extern const nn_wino_tx nn_wino_tx_ref[2], nn_wino_tx_avx2[2], nn_wino_tx_avx512[2];

/* A set of kernels: a vector tier's, or their portable twins (plain C,
 * the same sums in another order). */
typedef struct nn_kernels {
    const char *name;
    ck_isa isa;
    void (*conv)(const nn_kconv *k);
    void (*dw)(const nn_kdw *k);
    /* db[n] += sum over (p,q) < (rows,Q) of dy[p*rs + q*cs + n], masked
     * by ym > 0 when ym is set. */
    void (*db)(const float *dy, const float *ym, ptrdiff_t rs, ptrdiff_t cs, int rows, int Q,
               int ncols, float *db);
    /* out = y > 0 ? dy : 0 over n floats (a ReLU's backward). */
    void (*relu_mask)(size_t n, const float *dy, const float *y, float *out);
    /* nn_optim_update, the same bits. */
    void (*update)(const nn_optim_opts *o, int64_t t, size_t n, float *w, const float *g, float *s1,
                   float *s2);
    /* One image of a 2x2, stride 2, unpadded max pool over channels that
     * are a multiple of 16 (nn_pool2_fast says whether g is one): the
     * forward (as nn_maxpool_forward), and the backward writing dx whole
     * with the gradient masked by ym > 0 when ym (the pool's output, a
     * ReLU's output at the argmax) is set. pool.c. */
    void (*pool2_forward)(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg);
    void (*pool2_backward)(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                           const float *ym, float *dx);
    const nn_wino_tx *wino; /* Winograd's transforms for 3x3 and 5x5, for this tier */
} nn_kernels;
extern const nn_kernels nn_kernels_ref, nn_kernels_avx512, nn_kernels_avx2;
/* The kernels of tier isa: NULL for generic (OpenBLAS does the products),
 * and for a tier this build does not have. */
const nn_kernels *nn_kernels_of(ck_isa isa);
/* The kernels of the process's tier (ck_isa_get): CK_EINVAL when
 * CONVKIT_ISA is unknown or above the CPU. */
int nn_kernels_select(const nn_kernels **out, char *err, size_t errlen);
void nn_kconv_ref(const nn_kconv *k);
void nn_kdw_ref(const nn_kdw *k);
void nn_kdb_add(const float *dy, const float *ym, ptrdiff_t rs, ptrdiff_t cs, int rows, int Q,
                int ncols, float *db);
void nn_kmask_ref(size_t n, const float *dy, const float *y, float *out);

/* What a model's kernels share: its thread team, scratch, and the kernels
 * (NULL: OpenBLAS does the products, as on CPUs without AVX-512). */
typedef struct nn_exec {
    nn_par *par;
    int max_threads; /* scratch is sized for this many */
    const nn_kernels *kern;
    float *scratch;
    size_t nscratch; /* floats */
} nn_exec;
/* nn_optim_update of n parameters split over ex's team (elementwise: the
 * same bits as one call), on ex->kern's update when it has one. */
void nn_exec_update_params(const nn_exec *ex, const nn_optim_opts *o, int64_t t, size_t n, float *w,
                           const float *g, float *s1, float *s2);
/* Zeroes n floats, split over ex's team. */
void nn_exec_zero(const nn_exec *ex, float *p, size_t n);

/* Matches the team to OpenBLAS's thread count (what nn_train and
 * nn_bench_run set), at most max_threads; when threads cannot be started
 * the kernels run on the calling thread alone. */
void nn_exec_update(nn_exec *ex);

/* Is g a 2x2, stride 2, unpadded pool over channels that are a multiple
 * of 16 (what nn_kernels.pool2_* take)? The pairs of each tier (pool.c). */
int nn_pool2_fast(const nn_conv_shape *g);
void nn_pool2_forward_ref(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg);
void nn_pool2_backward_ref(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                           const float *ym, float *dx);
void nn_pool2_forward_avx2(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg);
void nn_pool2_backward_avx2(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                            const float *ym, float *dx);
void nn_pool2_forward_avx512(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg);
void nn_pool2_backward_avx512(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                              const float *ym, float *dx);

/* x (N,H,W,C), w (R,S,C,K), b (K) or NULL -> y (N,P,Q,K), then act
 * (NN_ACT_LINEAR or NN_ACT_RELU) applied to y. */
typedef void (*nn_conv_fwd_fn)(const nn_conv_shape *g, int N, const float *x, const float *w,
                               const float *b, nn_act act, float *y, const nn_exec *ex);
/* dy (N,P,Q,K), the gradient of the activation's output y (N,P,Q,K) ->
 * WRITES dx (N,H,W,C) if not NULL, ADDS into dw (R,S,C,K) (never NULL) and
 * into db (K) if not NULL. With act NN_ACT_RELU the gradient is masked by
 * y > 0 first. */
typedef void (*nn_conv_bwd_fn)(const nn_conv_shape *g, int N, const float *x, const float *w,
                               const float *y, nn_act act, const float *dy, float *dx, float *dw,
                               float *db, const nn_exec *ex);

/* A convolution with its ReLU, fused with the 2x2 max pool pg after it:
 * x -> the pool's output py (N,P/2,Q/2,K) and argmax parg; the
 * convolution's own output is never stored (nn_conv_pool_fuses says when
 * a pair can be). */
typedef void (*nn_conv_pool_fwd_fn)(const nn_conv_shape *g, int N, const float *x, const float *w,
                                    const float *b, const nn_conv_shape *pg, float *py,
                                    uint32_t *parg, const nn_exec *ex);
/* Its backward from the pool's output gradient pdy: WRITES dx if not
 * NULL, ADDS into dw (never NULL) and into db if not NULL. */
typedef void (*nn_conv_pool_bwd_fn)(const nn_conv_shape *g, int N, const float *x, const float *w,
                                    const nn_conv_shape *pg, const float *py, const uint32_t *parg,
                                    const float *pdy, float *dx, float *dw, float *db,
                                    const nn_exec *ex);

typedef struct nn_conv_impl {
    const char *name;
    /* Floats of ex->scratch it needs for N samples on up to `threads`,
     * with or without an input gradient. */
    size_t (*scratch)(const nn_conv_shape *g, int N, int threads, int need_dx);
    nn_conv_fwd_fn forward;
    nn_conv_bwd_fn backward;
    nn_conv_pool_fwd_fn forward_pool; /* NULL: no fused pooling */
    nn_conv_pool_bwd_fn backward_pool;
} nn_conv_impl;

/* ---- the implementations and the choice among them (conv_select.c) ---- */

/* im2col per sample + cblas_sgemm: the reference, and the path on CPUs
 * without AVX-512. */
extern const nn_conv_impl nn_conv_im2col;
/* Direct (implicit-GEMM) convolution on ex->kern, threads over the batch,
 * stride 1 (conv_direct.c). */
extern const nn_conv_impl nn_conv_direct;
/* Winograd F(2x2,3x3) and F(2x2,5x5) forward; the direct backward, with
 * its kernel and input gradients by Winograd on large maps; 3x3 or 5x5,
 * stride 1, channels and filters multiples of 16, on a tier's kernels
 * (conv_winograd.c). */
extern const nn_conv_impl nn_conv_winograd;
int nn_conv_winograd_fits(const nn_conv_shape *g, const nn_exec *ex);
/* Can a Conv2D of geometry g with activation act, run by impl, and the
 * MaxPooling2D pg after it go through impl->forward_pool? */
int nn_conv_pool_fuses(const nn_conv_impl *impl, const nn_conv_shape *g, nn_act act,
                       const nn_conv_shape *pg, const nn_exec *ex);
/* The implementation for a layer of geometry g run with ex. */
const nn_conv_impl *nn_conv_select(const nn_conv_shape *g, const nn_exec *ex);

/* ---- their functions, which only the tables above name ---------------- */

/* im2col (layers.c). */
size_t nn_im2col_scratch(const nn_conv_shape *g, int N, int threads, int need_dx);
void nn_im2col_forward(const nn_conv_shape *g, int N, const float *x, const float *w,
                       const float *b, nn_act act, float *y, const nn_exec *ex);
void nn_im2col_backward(const nn_conv_shape *g, int N, const float *x, const float *w,
                        const float *y, nn_act act, const float *dy, float *dx, float *dw,
                        float *db, const nn_exec *ex);
/* Direct (conv_direct.c). */
size_t nn_direct_scratch(const nn_conv_shape *g, int N, int threads, int need_dx);
void nn_direct_forward(const nn_conv_shape *g, int N, const float *x, const float *w,
                       const float *b, nn_act act, float *y, const nn_exec *ex);
void nn_direct_backward(const nn_conv_shape *g, int N, const float *x, const float *w,
                        const float *y, nn_act act, const float *dy, float *dx, float *dw,
                        float *db, const nn_exec *ex);
void nn_direct_forward_pool(const nn_conv_shape *g, int N, const float *x, const float *w,
                            const float *b, const nn_conv_shape *pg, float *py, uint32_t *parg,
                            const nn_exec *ex);
void nn_direct_backward_pool(const nn_conv_shape *g, int N, const float *x, const float *w,
                             const nn_conv_shape *pg, const float *py, const uint32_t *parg,
                             const float *pdy, float *dx, float *dw, float *db, const nn_exec *ex);
/* Winograd's forward (conv_winograd.c) and its scratch on `threads`. */
size_t nn_wino_scratch(const nn_conv_shape *g, int threads);
void nn_wino_forward(const nn_conv_shape *g, int N, const float *x, const float *w, const float *b,
                     nn_act act, float *y, const nn_exec *ex);
void nn_wino_forward_pool(const nn_conv_shape *g, int N, const float *x, const float *w,
                          const float *b, const nn_conv_shape *pg, float *py, uint32_t *parg,
                          const nn_exec *ex);

/* The direct backward with, on large maps, its kernel and input
 * gradients by Winograd (the backward of nn_conv_winograd, conv_direct.c),
 * and its scratch. */
size_t nn_conv_backward_wino_scratch(const nn_conv_shape *g, int N, int threads, int need_dx);
void nn_conv_backward_wino(const nn_conv_shape *g, int N, const float *x, const float *w,
                           const float *y, nn_act act, const float *dy, float *dx, float *dw,
                           float *db, const nn_exec *ex);
void nn_conv_backward_pool_wino(const nn_conv_shape *g, int N, const float *x, const float *w,
                                const nn_conv_shape *pg, const float *py, const uint32_t *parg,
                                const float *pdy, float *dx, float *dw, float *db,
                                const nn_exec *ex);
/* Winograd's pieces for it (conv_winograd.c): dx as the convolution gx
 * of dy with the flipped, transposed kernel; that kernel w (3,3,K,C)
 * transformed into u (16*K*C floats) by ex's threads; the convolution
 * of N images x (N,gx->H,W,C) -> y (N,gx->P,Q,K) on the calling thread,
 * with nn_wino_image_scratch floats of scratch. */
nn_conv_shape nn_wino_dx_shape(const nn_conv_shape *g);
void nn_wino_weights(const nn_conv_shape *gx, const float *w, float *u, const nn_exec *ex);
size_t nn_wino_image_scratch(const nn_conv_shape *gx);
void nn_wino_images(const nn_conv_shape *gx, int N, const float *x, const float *u, float *y,
                    float *scratch, const nn_kernels *kern);
/* The kernel gradient of N images of layer g: W (16*C*K, Winograd's
 * domain) += its sums over x (N,H,W,C) and dy (N,P,Q,K), with
 * nn_wino_image_scratch(g) floats of scratch; then dw (3,3,C,K) += W
 * taken back. */
void nn_wino_dw_images(const nn_conv_shape *g, int N, const float *x, const float *dy, float *W,
                       float *scratch, const nn_kernels *kern);
void nn_wino_dw_finish(const nn_conv_shape *g, const float *W, float *dw, const nn_kernels *kern);

/* x (N,H,W,C) -> y (N,P,Q,C), max over the window's in-bounds inputs (a
 * NaN wins), and arg (N,P,Q,C) the window cell r*S + s of the first
 * maximum (pool.c). */
void nn_maxpool_forward(const nn_conv_shape *g, int N, const float *x, float *y, uint32_t *arg,
                        const nn_exec *ex);
/* WRITES dx (N,H,W,C): dy (N,P,Q,C) at each window's arg, zero elsewhere
 * (summed where windows overlap). */
void nn_maxpool_backward(const nn_conv_shape *g, int N, const uint32_t *arg, const float *dy,
                         float *dx, const nn_exec *ex);

/* x (N,Din), w (Din,Dout), b (Dout) or NULL -> y (N,Dout). */
void nn_dense_forward(int N, int Din, int Dout, const float *x, const float *w, const float *b,
                      float *y, const nn_exec *ex);
/* dy (N,Dout) -> adds into dw (Din,Dout) (never NULL) and into db (Dout)
 * if not NULL; WRITES dx (N,Din) if not NULL. */
void nn_dense_backward(int N, int Din, int Dout, const float *x, const float *w, const float *dy,
                       float *dx, float *dw, float *db, const nn_exec *ex);
/* Floats of ex->scratch the dense kernels need for N samples. */
size_t nn_dense_scratch(int N, int Din, int Dout);

/* The "caffe" preprocessing of Keras's VGG16 over n pixels of 3 channels:
 * RGB -> BGR, minus ImageNet's BGR means (103.939, 116.779, 123.68), no
 * scaling; backward writes dx, the same permutation of dy. */
void nn_caffe_forward(size_t n, const float *x, float *y);
void nn_caffe_backward(size_t n, const float *dy, float *dx);

/* y = x*scale + offset over n floats; backward writes dx = dy*scale. */
void nn_rescale_forward(size_t n, float scale, float offset, const float *x, float *y);
void nn_rescale_backward(size_t n, float scale, const float *dy, float *dx);

/* Inverted dropout over n floats: mask[i] = 0 with probability rate, else
 * 1/(1-rate), drawn from r in order; y = x*mask. */
void nn_dropout_forward(size_t n, float rate, ck_rng *r, const float *x, float *y, float *mask);
/* Writes dx = dy*mask. */
void nn_dropout_backward(size_t n, const float *mask, const float *dy, float *dx);

/* Activations in place on y (N,D): relu, sigmoid, softmax over D. */
void nn_act_forward(nn_act act, int N, int D, float *y);
/* Turns dy (N,D), the gradient of the activation's output y, into the
 * gradient of its input, in place. */
void nn_act_backward(nn_act act, int N, int D, const float *y, float *dy);

/* ---- losses (fused with the final activation) --------------------------- */

/* Each takes logits z (N,D), returns the SUM over the N samples of the
 * per-sample loss (double) and writes dz = d(sum / B)/dz (N,D): with B =
 * N the gradient of the batch mean, as Keras's default reduction; with B
 * the whole batch's samples, these N being a shard of it, the shard's
 * part of that gradient. */
/* Sigmoid + binary cross-entropy; D outputs, t (N,D) targets in [0,1]. */
double nn_loss_binary(int N, int D, const float *z, const float *t, float *dz, int B);
/* Softmax + categorical cross-entropy; t (N,D) is a distribution per row. */
double nn_loss_categorical(int N, int D, const float *z, const float *t, float *dz, int B);
/* Softmax + sparse categorical cross-entropy; labels (N) in [0,D). */
double nn_loss_sparse(int N, int D, const float *z, const int32_t *labels, float *dz, int B);

/* Correct predictions among N, from the probabilities p (N,D) as Keras's
 * metrics: binary (D=1): (p > 0.5) == label; otherwise argmax == label
 * (first maximum on ties). */
int64_t nn_correct(int N, int D, const float *p, const int32_t *labels);

/* ---- optimizers --------------------------------------------------------- */

/* Floats of state per parameter: SGD 0 (1 with momentum), RMSprop 1 (2
 * with momentum), Adam 2. */
int nn_optim_slots(const nn_optim_opts *o);
/* Does RMSprop's epsilon go outside the square root (rmsprop-tf2 without
 * momentum)? */
int nn_optim_eps_outside(const nn_optim_opts *o);

/* One update of n parameters w with gradients g, t = updates done before
 * this one; s1, s2 are the state slots (NULL when unused). */
void nn_optim_update(const nn_optim_opts *o, int64_t t, size_t n, float *w, const float *g,
                     float *s1, float *s2);

/* Glorot-uniform: n floats uniform in [-l, l), l = sqrt(6/(fan_in+fan_out)),
 * drawn from r in storage order. */
void nn_glorot_uniform(ck_rng *r, size_t n, int fan_in, int fan_out, float *w);

#endif
