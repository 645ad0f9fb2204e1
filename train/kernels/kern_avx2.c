/* kern_avx2.c: the AVX2+FMA micro-kernels behind every convolution and
 * dense layer on CPUs without AVX-512 (most laptops: Intel since Haswell,
 * including Alder Lake and later, AMD Zen 1-3). The formulation is
 * kern_avx512.c's (implicit GEMM, weights read in place, inputs broadcast
 * from x) and kern_tile.c cuts the products into these tiles; only the
 * register tiles differ, sized for 16 ymm registers of 8 floats:
 *
 * - forward 6x16 (12 accumulators, 2 weight vectors, 1 broadcast: 8 loads
 *   per 12 FMAs, the shape of BLIS's Haswell kernel) and 12x8 for a last
 *   panel of 8 columns or fewer;
 * - kernel gradient 6x16 and 12x8 (dy vectors loaded once per pixel, MR
 *   inputs broadcast), masked by y > 0 as dy is loaded when a ReLU came
 *   before.
 *
 * AVX2 has no mask registers: a partial last vector is read and written
 * with vmaskmovps, and every tile is instantiated twice, with the last
 * vector full (plain loads) or partial, so full panels pay nothing for
 * the tail. The sums are the AVX-512 tier's in the same order (per output,
 * taps then depth); only the depth chunking of large panels differs, so
 * results agree with it up to rounding. The bias gradient, ReLU mask and
 * optimizer update are memory-bound and use the portable loops; the 2x2
 * pool pair is pool.c's AVX2 one.
 *
 * Compiled with target attributes only; ck_isa decides at run time.
 */
#include <immintrin.h>

#include "nn_kern.h"

#if CK_X86_KERNELS

#define KT  __attribute__((target("avx2,fma")))
#define KTI KT __attribute__((always_inline)) static inline

/* Lanes [0, n) of an 8-lane vector, for vmaskmovps. */
KTI __m256i lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Vector j of NV at p: whole unless it is the last and the tail is partial. */
KTI __m256 load(const float *p, int j, int NV, int FULL, __m256i tail)
{
    return FULL || j < NV - 1 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail);
}

KTI void store(float *p, __m256 v, int j, int NV, int FULL, __m256i tail)
{
    if (FULL || j < NV - 1) {
        _mm256_storeu_ps(p, v);
    } else {
        _mm256_maskstore_ps(p, tail, v);
    }
}

/* ---- forward tile --------------------------------------------------------- */

KTI void fwd_tile(const int MR, const int NV, const int FULL, const float *a, ptrdiff_t acs,
                  ptrdiff_t tap, int taps, int depth, const float *b, ptrdiff_t ldb,
                  float *const *yr, const float *bias, int relu, int add, int ntail)
{
    const __m256i tail = lanes(ntail);
    __m256 c[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 2
        for (int j = 0; j < NV; j++) {
            c[i][j] = _mm256_setzero_ps();
        }
    }
    for (int t = 0; t < taps; t++) {
        const float *at = a + t * tap, *bt = b + (ptrdiff_t)t * depth * ldb;
        for (int d = 0; d < depth; d++, at++, bt += ldb) {
            __m256 bv[2];
#pragma GCC unroll 2
            for (int j = 0; j < NV; j++) {
                bv[j] = load(bt + 8 * j, j, NV, FULL, tail);
            }
#pragma GCC unroll 12
            for (int i = 0; i < MR; i++) {
                __m256 av = _mm256_broadcast_ss(at + i * acs);
#pragma GCC unroll 2
                for (int j = 0; j < NV; j++) {
                    c[i][j] = _mm256_fmadd_ps(av, bv[j], c[i][j]);
                }
            }
        }
    }
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 2
        for (int j = 0; j < NV; j++) {
            float *yp = yr[i] + 8 * j;
            __m256 v = c[i][j];
            if (add) {
                v = _mm256_add_ps(v, load(yp, j, NV, FULL, tail));
            }
            if (bias) {
                v = _mm256_add_ps(v, load(bias + 8 * j, j, NV, FULL, tail));
            }
            if (relu) {
                v = _mm256_max_ps(zero, v); /* a NaN passes: max returns its second operand */
            }
            store(yp, v, j, NV, FULL, tail);
        }
    }
}

#define FWD(MR, NV)                                                                                \
    KT static void fwd_##MR##_##NV(const float *a, ptrdiff_t acs, ptrdiff_t tap, int taps,         \
                                   int depth, const float *b, ptrdiff_t ldb, float *const *yr,     \
                                   const float *bias, int relu, int add, int tail)                 \
    {                                                                                              \
        if (tail == 8) {                                                                           \
            fwd_tile(MR, NV, 1, a, acs, tap, taps, depth, b, ldb, yr, bias, relu, add, tail);      \
        } else {                                                                                   \
            fwd_tile(MR, NV, 0, a, acs, tap, taps, depth, b, ldb, yr, bias, relu, add, tail);      \
        }                                                                                          \
    }
/* clang-format off */
FWD(1, 1) FWD(2, 1) FWD(3, 1) FWD(4, 1) FWD(5, 1) FWD(6, 1) FWD(7, 1) FWD(8, 1) FWD(9, 1)
FWD(10, 1) FWD(11, 1) FWD(12, 1)
FWD(1, 2) FWD(2, 2) FWD(3, 2) FWD(4, 2) FWD(5, 2) FWD(6, 2)
    /* clang-format on */

    /* [NV index: 1, 2][MR] */
    static const nn_fwd_tile_fn fwd_table[2][13] = {
        {NULL, fwd_1_1, fwd_2_1, fwd_3_1, fwd_4_1, fwd_5_1, fwd_6_1, fwd_7_1, fwd_8_1, fwd_9_1,
         fwd_10_1, fwd_11_1, fwd_12_1},
        {NULL, fwd_1_2, fwd_2_2, fwd_3_2, fwd_4_2, fwd_5_2, fwd_6_2},
};

/* ---- kernel-gradient tile ------------------------------------------------- */

KTI void dw_tile(const int MR, const int NV, const int MASK, const int FULL, const float *x,
                 ptrdiff_t xrs, ptrdiff_t xcs, const float *dy, const float *ym, ptrdiff_t dyrs,
                 ptrdiff_t dycs, int rows, int Q, float *dw, ptrdiff_t ldw, int ntail)
{
    const __m256i tail = lanes(ntail);
    const __m256 zero = _mm256_setzero_ps();
    __m256 c[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 2
        for (int j = 0; j < NV; j++) {
            c[i][j] = load(dw + i * ldw + 8 * j, j, NV, FULL, tail);
        }
    }
    for (int r = 0; r < rows; r++) {
        const float *xq = x + r * xrs, *gq = dy + r * dyrs, *yq = MASK ? ym + r * dyrs : NULL;
        for (int q = 0; q < Q; q++, xq += xcs, gq += dycs) {
            __m256 g[2];
#pragma GCC unroll 2
            for (int j = 0; j < NV; j++) {
                g[j] = load(gq + 8 * j, j, NV, FULL, tail);
                if (MASK) { /* dy where y > 0, else 0 (a NaN y gives 0) */
                    __m256 y = load(yq + 8 * j, j, NV, FULL, tail);
                    g[j] = _mm256_and_ps(g[j], _mm256_cmp_ps(y, zero, _CMP_GT_OQ));
                }
            }
            if (MASK) {
                yq += dycs;
            }
#pragma GCC unroll 12
            for (int i = 0; i < MR; i++) {
                __m256 av = _mm256_broadcast_ss(xq + i);
#pragma GCC unroll 2
                for (int j = 0; j < NV; j++) {
                    c[i][j] = _mm256_fmadd_ps(av, g[j], c[i][j]);
                }
            }
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 2
        for (int j = 0; j < NV; j++) {
            store(dw + i * ldw + 8 * j, c[i][j], j, NV, FULL, tail);
        }
    }
}

#define DW(MR, NV, MASK)                                                                           \
    KT static void dw_##MR##_##NV##_##MASK(                                                        \
        const float *x, ptrdiff_t xrs, ptrdiff_t xcs, const float *dy, const float *ym,            \
        ptrdiff_t dyrs, ptrdiff_t dycs, int rows, int Q, float *dw, ptrdiff_t ldw, int tail)       \
    {                                                                                              \
        if (tail == 8) {                                                                           \
            dw_tile(MR, NV, MASK, 1, x, xrs, xcs, dy, ym, dyrs, dycs, rows, Q, dw, ldw, tail);     \
        } else {                                                                                   \
            dw_tile(MR, NV, MASK, 0, x, xrs, xcs, dy, ym, dyrs, dycs, rows, Q, dw, ldw, tail);     \
        }                                                                                          \
    }
/* clang-format off */
#define DW12(MASK) \
    DW(1, 1, MASK) DW(2, 1, MASK) DW(3, 1, MASK) DW(4, 1, MASK) DW(5, 1, MASK) DW(6, 1, MASK) \
    DW(7, 1, MASK) DW(8, 1, MASK) DW(9, 1, MASK) DW(10, 1, MASK) DW(11, 1, MASK) DW(12, 1, MASK)
#define DW6(MASK) \
    DW(1, 2, MASK) DW(2, 2, MASK) DW(3, 2, MASK) DW(4, 2, MASK) DW(5, 2, MASK) DW(6, 2, MASK)
DW12(0)
DW12(1)
DW6(0)
DW6(1)
/* clang-format on */

#define DWROW12(MASK)                                                                              \
    {                                                                                              \
        NULL, dw_1_1_##MASK, dw_2_1_##MASK, dw_3_1_##MASK, dw_4_1_##MASK, dw_5_1_##MASK,           \
            dw_6_1_##MASK, dw_7_1_##MASK, dw_8_1_##MASK, dw_9_1_##MASK, dw_10_1_##MASK,            \
            dw_11_1_##MASK, dw_12_1_##MASK                                                         \
    }
#define DWROW6(MASK)                                                                               \
    {                                                                                              \
        NULL, dw_1_2_##MASK, dw_2_2_##MASK, dw_3_2_##MASK, dw_4_2_##MASK, dw_5_2_##MASK,           \
            dw_6_2_##MASK                                                                          \
    }
/* [mask][NV index: 1, 2][MR] */
static const nn_dw_tile_fn dw_table[2][2][13] = {
    {DWROW12(0), DWROW6(0)},
    {DWROW12(1), DWROW6(1)},
};

static const nn_tile_set tiles = {
    .lanes = 8,
    .npanels = 2,
    .nv = {1, 2},
    .fwd_mr = {12, 6},
    .dw_mr = {12, 6},
    .fwd = {fwd_table[0], fwd_table[1]},
    .dw = {{dw_table[0][0], dw_table[0][1]}, {dw_table[1][0], dw_table[1][1]}},
    .db = nn_kdb_add,
};

static void kconv(const nn_kconv *k)
{
    nn_tiles_conv(&tiles, k);
}

static void kdw(const nn_kdw *k)
{
    nn_tiles_dw(&tiles, k);
}

const nn_kernels nn_kernels_avx2 = {
    .name = "avx2",
    .isa = CK_ISA_AVX2,
    .conv = kconv,
    .dw = kdw,
    .db = nn_kdb_add,
    .relu_mask = nn_kmask_ref,
    .update = nn_optim_update,
    .pool2_forward = nn_pool2_forward_avx2,
    .pool2_backward = nn_pool2_backward_avx2,
    .wino = nn_wino_tx_avx2,
};

#else

const nn_kernels nn_kernels_avx2 = {.name = "avx2 (not built)", .isa = CK_ISA_AVX2};

#endif
