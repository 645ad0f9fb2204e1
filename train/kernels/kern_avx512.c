/* kern_avx512.c: the AVX-512 micro-kernels behind every convolution and
 * dense layer (nn_kconv and nn_kdw in nn_kern.h), and the small
 * elementwise ones (bias gradient, ReLU mask, optimizer update).
 *
 * Formulation. With NHWC activations and (R,S,C,K) kernels, a convolution
 * is a GEMM whose left operand never has to be built: output pixel (p,q)'s
 * row of the im2col matrix is, for each kernel row r, S*C floats that are
 * already contiguous in x. So the forward kernel ("implicit GEMM") keeps an
 * MR x (16*NV) tile of the output (MR pixels, 16*NV filters) in zmm
 * registers and, for every depth index, loads NV vectors of one weight
 * row and broadcasts one input float per pixel straight from x. No im2col
 * buffer, no packing: weight rows are read in place, the input window of
 * a tile from L1. The same kernel computes the input gradient (dy times
 * the transposed kernel, with col2im done by accumulating rows into dx)
 * and dense layers (one tap, the samples as pixels). Bias, ReLU and
 * accumulation are applied in the epilogue on the registers, so an output
 * is written once (once per depth chunk, below).
 *
 * The kernel gradient is the other product, dw (R*S*C, K) += col^T dy:
 * its tile (MR depth rows of one tap x 16*NV filters) stays in registers
 * while the kernel sweeps a block of pixels, loading NV vectors of dy and
 * broadcasting MR consecutive input floats per pixel; blocks of ~256
 * pixels keep dy and x in L1/L2 while every tile passes over them. With a
 * ReLU the gradient can be masked by y > 0 as it is loaded.
 *
 * Tile shapes: 6x64 (24 accumulators, 4 loads and 6 broadcasts per 24
 * FMAs), 14x32 and 14x16; a last panel narrower than 16*NV uses masked
 * loads and stores, a short row of pixels a smaller MR (every MR is
 * instantiated), or tiles that run across row ends (plan()).
 *
 * Measured on one core of this Sapphire Rapids (CPU time, so other users
 * of the machine do not count; its FMA peak is ~173 GFLOP/s), GFLOP/s on
 * the catsdogs layers (74x74x32 -> 64, 36x36x64 -> 128, 17x17x128 -> 128,
 * 9x9x256 -> 256), forward / kernel gradient / input gradient:
 *   these kernels                       146/137/125  138/139/135
 *                                       127/126/128  101/118/85
 *   im2col + OpenBLAS as it loads here
 *     (its SSE3 "Prescott" kernels)     24/27/25  28/30/28  29/31/29  28/30/27
 *   im2col + OpenBLAS forced to its
 *     AVX-512 kernels (SkylakeX)        74/85/75  96/113/98  105/130/96  88/136/82
 * The whole training step runs at 115-130 GFLOP/s of CPU time (mnist,
 * catsdogs-1st, catsdogs-2nd), 70-75% of the FMA peak.
 *
 * kern_tile.c cuts every product into these tiles (the same driver serves
 * kern_avx2.c's). Only compiled with target attributes: the rest of the
 * binary stays baseline x86-64 and ck_isa decides at run time.
 */
#include <immintrin.h>
#include <math.h>

#include "nn_kern.h"

#if CK_X86_KERNELS

#define KT  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define KTI KT __attribute__((always_inline)) static inline

/* Lanes [0, n) of a 16-lane vector, n clamped to [0, 16]. */
static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* ---- forward tile --------------------------------------------------------- */

/* yr[i][0..16*NV) (op)= sum_t sum_d a[i*acs + t*tap + d] * b[(t*depth + d)*ldb + ...]
 * for i < MR; the last vector column is masked by `tail`. Epilogue: add
 * yr[i] (add), then bias, then relu. */
KTI void fwd_tile(const int MR, const int NV, const float *a, ptrdiff_t acs, ptrdiff_t tap,
                  int taps, int depth, const float *b, ptrdiff_t ldb, float *const *yr,
                  const float *bias, int relu, int add, int ntail)
{
    const __mmask16 tail = lanes(ntail);
    __m512 c[14][4];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
            c[i][j] = _mm512_setzero_ps();
        }
    }
    for (int t = 0; t < taps; t++) {
        const float *at = a + t * tap, *bt = b + (ptrdiff_t)t * depth * ldb;
        for (int d = 0; d < depth; d++, at++, bt += ldb) {
            __m512 bv[4];
#pragma GCC unroll 4
            for (int j = 0; j < NV - 1; j++) {
                bv[j] = _mm512_loadu_ps(bt + 16 * j);
            }
            bv[NV - 1] = _mm512_maskz_loadu_ps(tail, bt + 16 * (NV - 1));
#pragma GCC unroll 14
            for (int i = 0; i < MR; i++) {
                __m512 av = _mm512_set1_ps(at[i * acs]);
#pragma GCC unroll 4
                for (int j = 0; j < NV; j++) {
                    c[i][j] = _mm512_fmadd_ps(av, bv[j], c[i][j]);
                }
            }
        }
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
            __mmask16 m = j == NV - 1 ? tail : (__mmask16)0xFFFF;
            float *yp = yr[i] + 16 * j;
            __m512 v = c[i][j];
            if (add) {
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, yp));
            }
            if (bias) {
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + 16 * j));
            }
            if (relu) {
                v = _mm512_max_ps(zero, v); /* a NaN passes: max returns its second operand */
            }
            _mm512_mask_storeu_ps(yp, m, v);
        }
    }
}

#define FWD(MR, NV)                                                                                \
    KT static void fwd_##MR##_##NV(const float *a, ptrdiff_t acs, ptrdiff_t tap, int taps,         \
                                   int depth, const float *b, ptrdiff_t ldb, float *const *yr,     \
                                   const float *bias, int relu, int add, int tail)                 \
    {                                                                                              \
        fwd_tile(MR, NV, a, acs, tap, taps, depth, b, ldb, yr, bias, relu, add, tail);             \
    }
/* The instantiations, kept as written (clang-format reflows these lists
 * differently on every pass). */
/* clang-format off */
#define FWD14(NV) \
    FWD(1, NV) FWD(2, NV) FWD(3, NV) FWD(4, NV) FWD(5, NV) FWD(6, NV) FWD(7, NV) \
    FWD(8, NV) FWD(9, NV) FWD(10, NV) FWD(11, NV) FWD(12, NV) FWD(13, NV) FWD(14, NV)
FWD14(1)
FWD14(2)
FWD(1, 4) FWD(2, 4) FWD(3, 4) FWD(4, 4) FWD(5, 4) FWD(6, 4)
/* clang-format on */

#define ROW14(NV)                                                                                  \
    {                                                                                              \
        NULL, fwd_1_##NV, fwd_2_##NV, fwd_3_##NV, fwd_4_##NV, fwd_5_##NV, fwd_6_##NV, fwd_7_##NV,  \
            fwd_8_##NV, fwd_9_##NV, fwd_10_##NV, fwd_11_##NV, fwd_12_##NV, fwd_13_##NV,            \
            fwd_14_##NV                                                                            \
    }
    /* [NV index: 1, 2, 4][MR] */
    static const nn_fwd_tile_fn fwd_table[3][15] = {
        ROW14(1),
        ROW14(2),
        {NULL, fwd_1_4, fwd_2_4, fwd_3_4, fwd_4_4, fwd_5_4, fwd_6_4},
};
/* ---- kernel-gradient tile ------------------------------------------------- */

/* dw[i][0..16*NV) += sum over pixels (r < rows, q < Q) of
 * x[r*xrs + q*xcs + i] * g, g = dy[r*dyrs + q*dycs + ...], masked by
 * ym[...] > 0 when MASK. */
KTI void dw_tile(const int MR, const int NV, const int MASK, const float *x, ptrdiff_t xrs,
                 ptrdiff_t xcs, const float *dy, const float *ym, ptrdiff_t dyrs, ptrdiff_t dycs,
                 int rows, int Q, float *dw, ptrdiff_t ldw, int ntail)
{
    const __mmask16 tail = lanes(ntail);
    __m512 c[14][4];
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
            __mmask16 m = j == NV - 1 ? tail : (__mmask16)0xFFFF;
            c[i][j] = _mm512_maskz_loadu_ps(m, dw + i * ldw + 16 * j);
        }
    }
    for (int r = 0; r < rows; r++) {
        const float *xq = x + r * xrs, *gq = dy + r * dyrs, *yq = MASK ? ym + r * dyrs : NULL;
        for (int q = 0; q < Q; q++, xq += xcs, gq += dycs) {
            __m512 g[4];
#pragma GCC unroll 4
            for (int j = 0; j < NV; j++) {
                __mmask16 m = j == NV - 1 ? tail : (__mmask16)0xFFFF;
                if (MASK) {
                    m = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, yq + 16 * j), zero,
                                                _CMP_GT_OQ);
                }
                g[j] = _mm512_maskz_loadu_ps(m, gq + 16 * j);
            }
            if (MASK) {
                yq += dycs;
            }
#pragma GCC unroll 14
            for (int i = 0; i < MR; i++) {
                __m512 av = _mm512_set1_ps(xq[i]);
#pragma GCC unroll 4
                for (int j = 0; j < NV; j++) {
                    c[i][j] = _mm512_fmadd_ps(av, g[j], c[i][j]);
                }
            }
        }
    }
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
            __mmask16 m = j == NV - 1 ? tail : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(dw + i * ldw + 16 * j, m, c[i][j]);
        }
    }
}

#define DW(MR, NV, MASK)                                                                           \
    KT static void dw_##MR##_##NV##_##MASK(                                                        \
        const float *x, ptrdiff_t xrs, ptrdiff_t xcs, const float *dy, const float *ym,            \
        ptrdiff_t dyrs, ptrdiff_t dycs, int rows, int Q, float *dw, ptrdiff_t ldw, int tail)       \
    {                                                                                              \
        dw_tile(MR, NV, MASK, x, xrs, xcs, dy, ym, dyrs, dycs, rows, Q, dw, ldw, tail);            \
    }
/* clang-format off */
#define DW12(NV, MASK) \
    DW(1, NV, MASK) DW(2, NV, MASK) DW(3, NV, MASK) DW(4, NV, MASK) DW(5, NV, MASK) \
    DW(6, NV, MASK) DW(7, NV, MASK) DW(8, NV, MASK) DW(9, NV, MASK) DW(10, NV, MASK) \
    DW(11, NV, MASK) DW(12, NV, MASK)
#define DW6(NV, MASK) \
    DW(1, NV, MASK) DW(2, NV, MASK) DW(3, NV, MASK) DW(4, NV, MASK) DW(5, NV, MASK) \
    DW(6, NV, MASK)
DW12(1, 0)
DW12(1, 1)
DW12(2, 0)
DW12(2, 1)
DW6(4, 0)
DW6(4, 1)
/* clang-format on */

#define DWROW12(NV, MASK)                                                                          \
    {                                                                                              \
        NULL, dw_1_##NV##_##MASK, dw_2_##NV##_##MASK, dw_3_##NV##_##MASK, dw_4_##NV##_##MASK,      \
            dw_5_##NV##_##MASK, dw_6_##NV##_##MASK, dw_7_##NV##_##MASK, dw_8_##NV##_##MASK,        \
            dw_9_##NV##_##MASK, dw_10_##NV##_##MASK, dw_11_##NV##_##MASK, dw_12_##NV##_##MASK      \
    }
#define DWROW6(NV, MASK)                                                                           \
    {                                                                                              \
        NULL, dw_1_##NV##_##MASK, dw_2_##NV##_##MASK, dw_3_##NV##_##MASK, dw_4_##NV##_##MASK,      \
            dw_5_##NV##_##MASK, dw_6_##NV##_##MASK                                                 \
    }
/* [mask][NV index: 1, 2, 4][MR] */
static const nn_dw_tile_fn dw_table[2][3][13] = {
    {DWROW12(1, 0), DWROW12(2, 0), DWROW6(4, 0)},
    {DWROW12(1, 1), DWROW12(2, 1), DWROW6(4, 1)},
};
/* ---- bias gradient, ReLU mask ----------------------------------------------- */

KT static void kdb(const float *dy, const float *ym, ptrdiff_t rs, ptrdiff_t cs, int rows, int Q,
                   int ncols, float *db)
{
    const __m512 zero = _mm512_setzero_ps();
    for (int c0 = 0; c0 < ncols; c0 += 64) {
        __m512 acc[4] = {zero, zero, zero, zero};
        __mmask16 m[4];
        for (int j = 0; j < 4; j++) {
            m[j] = lanes(ncols - c0 - 16 * j);
        }
        for (int p = 0; p < rows; p++) {
            for (int q = 0; q < Q; q++) {
                const float *g = dy + p * rs + q * cs + c0;
                const float *y = ym ? ym + p * rs + q * cs + c0 : NULL;
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    __mmask16 mj = m[j];
                    if (y) {
                        mj = _mm512_mask_cmp_ps_mask(mj, _mm512_maskz_loadu_ps(mj, y + 16 * j),
                                                     zero, _CMP_GT_OQ);
                    }
                    acc[j] = _mm512_add_ps(acc[j], _mm512_maskz_loadu_ps(mj, g + 16 * j));
                }
            }
        }
        for (int j = 0; j < 4; j++) {
            float *b = db + c0 + 16 * j;
            _mm512_mask_storeu_ps(b, m[j], _mm512_add_ps(acc[j], _mm512_maskz_loadu_ps(m[j], b)));
        }
    }
}

KT static void kmask(size_t n, const float *dy, const float *y, float *out)
{
    const __m512 zero = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(n - i < 16 ? (int)(n - i) : 16);
        m = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + i), zero, _CMP_GT_OQ);
        _mm512_mask_storeu_ps(out + i, lanes(n - i < 16 ? (int)(n - i) : 16),
                              _mm512_maskz_loadu_ps(m, dy + i));
    }
}

/* ---- optimizer update -------------------------------------------------------- */

/* nn_optim_update's loops (optim.c) 16 floats at a time, with the same
 * operations in the same order and no contraction into FMAs: IEEE
 * multiply, add, divide and square root round the same in both, so the
 * results are the same bits (the tests compare them). */
KT static void kupdate(const nn_optim_opts *o, int64_t t, size_t n, float *w, const float *g,
                       float *s1, float *s2)
{
    const __m512 lr = _mm512_set1_ps((float)o->lr);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(n - i < 16 ? (int)(n - i) : 16);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i), wv = _mm512_maskz_loadu_ps(m, w + i);
        switch (o->kind) {
        case NN_OPT_SGD:
            if (o->momentum == 0.0) {
                wv = _mm512_sub_ps(wv, _mm512_mul_ps(gv, lr));
            } else {
                const __m512 mu = _mm512_set1_ps((float)o->momentum);
                __m512 step = _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), gv), lr);
                __m512 v = _mm512_add_ps(step, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s1 + i), mu));
                _mm512_mask_storeu_ps(s1 + i, m, v);
                wv = _mm512_add_ps(wv, o->nesterov ? _mm512_add_ps(step, _mm512_mul_ps(v, mu)) : v);
            }
            break;
        case NN_OPT_RMSPROP:
        case NN_OPT_RMSPROP_TF2: {
            const float rho = (float)o->rho;
            const __m512 r = _mm512_set1_ps(rho), r1 = _mm512_set1_ps(1.0f - rho);
            __m512 a = _mm512_add_ps(_mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, s1 + i)),
                                     _mm512_mul_ps(_mm512_mul_ps(r1, gv), gv));
            _mm512_mask_storeu_ps(s1 + i, m, a);
            const __m512 eps = _mm512_set1_ps((float)o->eps);
            __m512 d = nn_optim_eps_outside(o) ? _mm512_add_ps(_mm512_sqrt_ps(a), eps)
                                               : _mm512_sqrt_ps(_mm512_add_ps(a, eps));
            __m512 step = _mm512_div_ps(_mm512_mul_ps(lr, gv), d);
            if (o->momentum != 0.0) {
                step = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps((float)o->momentum),
                                                   _mm512_maskz_loadu_ps(m, s2 + i)),
                                     step);
                _mm512_mask_storeu_ps(s2 + i, m, step);
            }
            wv = _mm512_sub_ps(wv, step);
            break;
        }
        case NN_OPT_ADAM: {
            const float b1 = (float)o->beta1, b2 = (float)o->beta2, step = (float)(t + 1);
            const float alpha =
                (float)o->lr * sqrtf(1.0f - powf(b2, step)) / (1.0f - powf(b1, step));
            __m512 m1 = _mm512_maskz_loadu_ps(m, s1 + i), m2 = _mm512_maskz_loadu_ps(m, s2 + i);
            m1 = _mm512_add_ps(m1, _mm512_mul_ps(_mm512_sub_ps(gv, m1), _mm512_set1_ps(1.0f - b1)));
            m2 = _mm512_add_ps(m2, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(gv, gv), m2),
                                                 _mm512_set1_ps(1.0f - b2)));
            _mm512_mask_storeu_ps(s1 + i, m, m1);
            _mm512_mask_storeu_ps(s2 + i, m, m2);
            __m512 d = _mm512_add_ps(_mm512_sqrt_ps(m2), _mm512_set1_ps((float)o->eps));
            wv = _mm512_sub_ps(wv, _mm512_div_ps(_mm512_mul_ps(m1, _mm512_set1_ps(alpha)), d));
            break;
        }
        }
        _mm512_mask_storeu_ps(w + i, m, wv);
    }
}

static const nn_tile_set tiles = {
    .lanes = 16,
    .npanels = 3,
    .nv = {1, 2, 4},
    .fwd_mr = {14, 14, 6},
    .dw_mr = {12, 12, 6},
    .fwd = {fwd_table[0], fwd_table[1], fwd_table[2]},
    .dw = {{dw_table[0][0], dw_table[0][1], dw_table[0][2]},
           {dw_table[1][0], dw_table[1][1], dw_table[1][2]}},
    .db = kdb,
};

static void kconv(const nn_kconv *k)
{
    nn_tiles_conv(&tiles, k);
}

static void kdw(const nn_kdw *k)
{
    nn_tiles_dw(&tiles, k);
}

const nn_kernels nn_kernels_avx512 = {
    .name = "avx512",
    .isa = CK_ISA_AVX512,
    .conv = kconv,
    .dw = kdw,
    .db = kdb,
    .relu_mask = kmask,
    .update = kupdate,
    .pool2_forward = nn_pool2_forward_avx512,
    .pool2_backward = nn_pool2_backward_avx512,
    .wino = nn_wino_tx_avx512,
};

#else

const nn_kernels nn_kernels_avx512 = {.name = "avx512 (not built)", .isa = CK_ISA_AVX512};

#endif
