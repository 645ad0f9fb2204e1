/* pool.c: MaxPooling2D forward and backward, with the argmax kept.
 *
 * The forward records, per output, which cell of its window won (r*S + s,
 * the first maximum; a NaN wins so a diverged run shows in the loss). The
 * backward then needs neither x nor y: it reads the index and dy and
 * writes the whole of dx, the gradient at the winning cell and zero
 * elsewhere. Writing (not adding) is what lets the model skip zeroing the
 * convolution's output gradient, which is the largest activation of all;
 * before, the backward read x (4 floats per output), y and dy and added
 * into a dx that had been zeroed: three passes over the big tensor instead
 * of one.
 *
 * The book's pools are 2x2 with stride 2 over channels that are multiples
 * of 16: that case has vector kernels in each tier's set (nn_kernels:
 * four loads, three compare-selects per 16 or 8 channels; the backward
 * four masked moves). Everything else (other
 * windows, overlapping or partial ones with 'same') takes the generic
 * loops, which are also the reference the fast path is tested against.
 * Images are shared out to the model's threads. catsdogs-1st's first pool
 * (148x148x32, batch 32, one core, CPU time): forward 27.8 -> 11.5 ms,
 * zeroing dx and backward 43.6 -> 12.0 ms. Where a ReLU convolution comes
 * before it the pair runs fused instead (conv_direct.c) and only the
 * one-image functions nn_pool2_* are used, a few rows at a time.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "nn_kern.h"

/* ---- generic ------------------------------------------------------------ */

static void forward_generic(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg)
{
    const int C = g->C;
    for (int p = 0; p < g->P; p++) {
        for (int q = 0; q < g->Q; q++) {
            float *yv = y + ((size_t)p * g->Q + q) * C;
            uint32_t *av = arg + ((size_t)p * g->Q + q) * C;
            int first = 1;
            for (int r = 0; r < g->R; r++) {
                int h = p * g->sh - g->pt + r;
                for (int s = 0; s < g->S && h >= 0 && h < g->H; s++) {
                    int w = q * g->sw - g->pl + s;
                    if (w < 0 || w >= g->W) {
                        continue;
                    }
                    const float *xv = x + ((size_t)h * g->W + w) * C;
                    uint32_t cell = (uint32_t)(r * g->S + s);
                    for (int c = 0; c < C; c++) {
                        if (first || xv[c] > yv[c] || isnan(xv[c])) {
                            yv[c] = xv[c];
                            av[c] = cell;
                        }
                    }
                    first = 0;
                }
            }
        }
    }
}

static void backward_generic(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                             float *dx)
{
    const int C = g->C;
    memset(dx, 0, (size_t)g->H * g->W * C * sizeof *dx);
    for (int p = 0; p < g->P; p++) {
        for (int q = 0; q < g->Q; q++) {
            size_t o = ((size_t)p * g->Q + q) * C;
            for (int c = 0; c < C; c++) {
                int r = (int)arg[o + c] / g->S, s = (int)arg[o + c] % g->S;
                int h = p * g->sh - g->pt + r, w = q * g->sw - g->pl + s;
                dx[((size_t)h * g->W + w) * C + c] += dy[o + c];
            }
        }
    }
}

/* ---- 2x2, stride 2, C % 16 == 0, no padding --------------------------------- */

int nn_pool2_fast(const nn_conv_shape *g)
{
    return g->R == 2 && g->S == 2 && g->sh == 2 && g->sw == 2 && g->pt == 0 && g->pl == 0 &&
           2 * g->P <= g->H && 2 * g->Q <= g->W && g->C % 16 == 0;
}

/* The portable pair (nn_kernels_ref's): the generic loops, then the mask. */
void nn_pool2_forward_ref(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg)
{
    forward_generic(g, x, y, arg);
}

void nn_pool2_backward_ref(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                           const float *ym, float *dx)
{
    backward_generic(g, arg, dy, dx);
    for (int p = 0; ym && p < g->P; p++) {
        for (int q = 0; q < g->Q; q++) {
            for (int c = 0; c < g->C; c++) {
                size_t o = ((size_t)p * g->Q + q) * g->C + c;
                int r = (int)arg[o] / 2, s = (int)arg[o] % 2;
                float *d = dx + ((size_t)(2 * p + r) * g->W + 2 * q + s) * g->C + c;
                *d = ym[o] > 0 ? *d : 0.0f;
            }
        }
    }
}

#if CK_X86_KERNELS
#define KT  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define KT2 __attribute__((target("avx2,fma")))

/* The parts of dx in no window: an odd last column beside window row p,
 * and (p == P) an odd last row. */
static void zero_uncovered(const nn_conv_shape *g, float *dx, int p)
{
    const ptrdiff_t C = g->C, row = (ptrdiff_t)g->W * C;
    if (p < g->P && 2 * g->Q < g->W) {
        memset(dx + (ptrdiff_t)2 * p * row + 2 * (ptrdiff_t)g->Q * C, 0, (size_t)C * sizeof *dx);
        memset(dx + (ptrdiff_t)(2 * p + 1) * row + 2 * (ptrdiff_t)g->Q * C, 0,
               (size_t)C * sizeof *dx);
    }
    if (p == g->P && 2 * g->P < g->H) {
        memset(dx + (ptrdiff_t)2 * g->P * row, 0, (size_t)row * sizeof *dx);
    }
}

/* Takes v where it beats m (or is a NaN): the generic loop's rule. */
KT static inline __mmask16 beats(__m512 v, __m512 m)
{
    return _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

KT void nn_pool2_forward_avx512(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg)
{
    const ptrdiff_t C = g->C, row = (ptrdiff_t)g->W * C;
    for (int p = 0; p < g->P; p++) {
        for (int q = 0; q < g->Q; q++) {
            const float *x0 = x + (ptrdiff_t)2 * p * row + (ptrdiff_t)2 * q * C, *x1 = x0 + row;
            float *yv = y + ((size_t)p * g->Q + q) * C;
            uint32_t *av = arg + ((size_t)p * g->Q + q) * C;
            for (ptrdiff_t c = 0; c < C; c += 16) {
                __m512 m = _mm512_loadu_ps(x0 + c);
                __m512i a = _mm512_setzero_si512();
                __m512 v = _mm512_loadu_ps(x0 + C + c);
                __mmask16 k = beats(v, m);
                m = _mm512_mask_mov_ps(m, k, v);
                a = _mm512_mask_mov_epi32(a, k, _mm512_set1_epi32(1));
                v = _mm512_loadu_ps(x1 + c);
                k = beats(v, m);
                m = _mm512_mask_mov_ps(m, k, v);
                a = _mm512_mask_mov_epi32(a, k, _mm512_set1_epi32(2));
                v = _mm512_loadu_ps(x1 + C + c);
                k = beats(v, m);
                m = _mm512_mask_mov_ps(m, k, v);
                a = _mm512_mask_mov_epi32(a, k, _mm512_set1_epi32(3));
                _mm512_storeu_ps(yv + c, m);
                _mm512_storeu_si512(av + c, a);
            }
        }
    }
}

KT void nn_pool2_backward_avx512(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                                 const float *ym, float *dx)
{
    const ptrdiff_t C = g->C, row = (ptrdiff_t)g->W * C;
    for (int p = 0; p < g->P; p++) {
        float *d0 = dx + (ptrdiff_t)2 * p * row, *d1 = d0 + row;
        for (int q = 0; q < g->Q; q++, d0 += 2 * C, d1 += 2 * C) {
            const float *gv = dy + ((size_t)p * g->Q + q) * C;
            const float *yv = ym ? ym + ((size_t)p * g->Q + q) * C : NULL;
            const uint32_t *av = arg + ((size_t)p * g->Q + q) * C;
            for (ptrdiff_t c = 0; c < C; c += 16) {
                __m512 v = _mm512_loadu_ps(gv + c);
                if (yv) { /* the ReLU before the pool: its y at the argmax is ours */
                    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(yv + c),
                                                               _mm512_setzero_ps(), _CMP_GT_OQ),
                                            v);
                }
                __m512i a = _mm512_loadu_si512(av + c);
                _mm512_storeu_ps(d0 + c, _mm512_maskz_mov_ps(
                                             _mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(0)), v));
                _mm512_storeu_ps(
                    d0 + C + c,
                    _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(1)), v));
                _mm512_storeu_ps(d1 + c, _mm512_maskz_mov_ps(
                                             _mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(2)), v));
                _mm512_storeu_ps(
                    d1 + C + c,
                    _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(3)), v));
            }
        }
        zero_uncovered(g, dx, p);
    }
    zero_uncovered(g, dx, g->P);
}

/* The same on AVX2, 8 channels at a time: blends for the masked moves, and
 * an AND with an all-ones compare for the zeroing ones. */
KT2 static inline __m256 beats2(__m256 v, __m256 m)
{
    return _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

KT2 void nn_pool2_forward_avx2(const nn_conv_shape *g, const float *x, float *y, uint32_t *arg)
{
    const ptrdiff_t C = g->C, row = (ptrdiff_t)g->W * C;
    for (int p = 0; p < g->P; p++) {
        for (int q = 0; q < g->Q; q++) {
            const float *x0 = x + (ptrdiff_t)2 * p * row + (ptrdiff_t)2 * q * C, *x1 = x0 + row;
            const float *cell[3] = {x0 + C, x1, x1 + C};
            float *yv = y + ((size_t)p * g->Q + q) * C;
            uint32_t *av = arg + ((size_t)p * g->Q + q) * C;
            for (ptrdiff_t c = 0; c < C; c += 8) {
                __m256 m = _mm256_loadu_ps(x0 + c), a = _mm256_setzero_ps();
                for (int i = 0; i < 3; i++) {
                    __m256 v = _mm256_loadu_ps(cell[i] + c), k = beats2(v, m);
                    m = _mm256_blendv_ps(m, v, k);
                    a = _mm256_blendv_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(i + 1)), k);
                }
                _mm256_storeu_ps(yv + c, m);
                _mm256_storeu_si256((__m256i *)(av + c), _mm256_castps_si256(a));
            }
        }
    }
}

KT2 void nn_pool2_backward_avx2(const nn_conv_shape *g, const uint32_t *arg, const float *dy,
                                const float *ym, float *dx)
{
    const ptrdiff_t C = g->C, row = (ptrdiff_t)g->W * C;
    for (int p = 0; p < g->P; p++) {
        float *d0 = dx + (ptrdiff_t)2 * p * row, *d1 = d0 + row;
        for (int q = 0; q < g->Q; q++, d0 += 2 * C, d1 += 2 * C) {
            const float *gv = dy + ((size_t)p * g->Q + q) * C;
            const float *yv = ym ? ym + ((size_t)p * g->Q + q) * C : NULL;
            const uint32_t *av = arg + ((size_t)p * g->Q + q) * C;
            float *cell[4] = {d0, d0 + C, d1, d1 + C};
            for (ptrdiff_t c = 0; c < C; c += 8) {
                __m256 v = _mm256_loadu_ps(gv + c);
                if (yv) { /* the ReLU before the pool: its y at the argmax is ours */
                    v = _mm256_and_ps(
                        v, _mm256_cmp_ps(_mm256_loadu_ps(yv + c), _mm256_setzero_ps(), _CMP_GT_OQ));
                }
                __m256i a = _mm256_loadu_si256((const __m256i *)(av + c));
                for (int i = 0; i < 4; i++) {
                    __m256 k = _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, _mm256_set1_epi32(i)));
                    _mm256_storeu_ps(cell[i] + c, _mm256_and_ps(v, k));
                }
            }
        }
        zero_uncovered(g, dx, p);
    }
    zero_uncovered(g, dx, g->P);
}
#endif

/* ---- batch, threads --------------------------------------------------------- */

typedef struct pool_job {
    const nn_conv_shape *g;
    int N;
    const nn_kernels *kern; /* the fast pair's; NULL: the generic loops */
    const float *x, *dy;
    float *y, *dx;
    uint32_t *arg;          /* forward */
    const uint32_t *arg_in; /* backward */
    nn_units units;         /* images */
} pool_job;

static void forward_part(void *ctx, int t, int nt)
{
    pool_job *j = ctx;
    const nn_conv_shape *g = j->g;
    const size_t xs = (size_t)g->H * g->W * g->C, ys = (size_t)g->P * g->Q * g->C;
    (void)t, (void)nt;
    for (int n; (n = nn_units_take(&j->units)) >= 0;) {
        if (j->kern) {
            j->kern->pool2_forward(g, j->x + n * xs, j->y + n * ys, j->arg + n * ys);
            continue;
        }
        forward_generic(g, j->x + n * xs, j->y + n * ys, j->arg + n * ys);
    }
}

static void backward_part(void *ctx, int t, int nt)
{
    pool_job *j = ctx;
    const nn_conv_shape *g = j->g;
    const size_t xs = (size_t)g->H * g->W * g->C, ys = (size_t)g->P * g->Q * g->C;
    (void)t, (void)nt;
    for (int n; (n = nn_units_take(&j->units)) >= 0;) {
        if (j->kern) {
            j->kern->pool2_backward(g, j->arg_in + n * ys, j->dy + n * ys, NULL, j->dx + n * xs);
            continue;
        }
        backward_generic(g, j->arg_in + n * ys, j->dy + n * ys, j->dx + n * xs);
    }
}

void nn_maxpool_forward(const nn_conv_shape *g, int N, const float *x, float *y, uint32_t *arg,
                        const nn_exec *ex)
{
    pool_job j = {.g = g,
                  .N = N,
                  .kern = ex->kern && ex->kern->pool2_forward && nn_pool2_fast(g) ? ex->kern : NULL,
                  .x = x,
                  .y = y,
                  .arg = arg};
    nn_units_init(&j.units, N);
    nn_par_run(ex->par, forward_part, &j);
}

void nn_maxpool_backward(const nn_conv_shape *g, int N, const uint32_t *arg, const float *dy,
                         float *dx, const nn_exec *ex)
{
    pool_job j = {.g = g,
                  .N = N,
                  .kern = ex->kern && ex->kern->pool2_forward && nn_pool2_fast(g) ? ex->kern : NULL,
                  .dy = dy,
                  .dx = dx,
                  .arg_in = arg};
    nn_units_init(&j.units, N);
    nn_par_run(ex->par, backward_part, &j);
}
