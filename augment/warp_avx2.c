/* warp_avx2.c: the bilinear interior of warp.c, 8 RGB outputs at a time,
 * for the avx2 tier: warp_avx512.c's method (32.32 coordinates, one
 * 32-bit gather per tap, channels taken apart by shifts, warp.c's integer
 * arithmetic, so the same bits) in 8 lanes. AVX2 has no 64-bit multiply or
 * two-source permute: the lanes' coordinates start from a scalar table,
 * and the three channels are interleaved by one-source permutes and
 * blends. */
#include "aug_internal.h"

#if CK_X86_KERNELS
#include <immintrin.h>

#define KT __attribute__((target("avx2,fma")))

/* The 8 int32 of (v >> shift) for two vectors of 4 int64 (low 32 bits). */
KT static inline __m256i narrow(__m256i a, __m256i b, int shift)
{
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    __m256i lo = _mm256_permutevar8x32_epi32(_mm256_srli_epi64(a, shift), even);
    __m256i hi = _mm256_permutevar8x32_epi32(_mm256_srli_epi64(b, shift), even);
    return _mm256_permute2x128_si256(lo, hi, 0x20);
}

/* Channel c (byte c) of 8 gathered pixels, times weight w. */
KT static inline __m256i chan(__m256i g, int c, __m256i w)
{
    __m256i v = _mm256_and_si256(_mm256_srli_epi32(g, 8 * c), _mm256_set1_epi32(0xFF));
    return _mm256_mullo_epi32(v, w);
}

KT int aug_warp_bilinear3_avx2(const uint8_t *px, size_t stride, int64_t x, int64_t y, int64_t dx,
                               int64_t dy, int n, int fb, float k, float *o)
{
    /* out[8v + j] = ch_c[i] with i = (8v + j) / 3, c = (8v + j) % 3: the
     * lane each channel's permute brings, and which channel a lane takes. */
    int32_t idx[3][8], take1[3][8], take2[3][8];
    for (int v = 0; v < 3; v++) {
        for (int j = 0; j < 8; j++) {
            idx[v][j] = (8 * v + j) / 3;
            take1[v][j] = (8 * v + j) % 3 == 1 ? -1 : 0;
            take2[v][j] = (8 * v + j) % 3 == 2 ? -1 : 0;
        }
    }
    const __m256i fmask = _mm256_set1_epi32((1 << fb) - 1), one = _mm256_set1_epi32(1 << 2 * fb);
    const __m256i sstride = _mm256_set1_epi32((int)stride), three = _mm256_set1_epi32(3);
    const __m256i lx = _mm256_setr_epi64x(0, dx, 2 * dx, 3 * dx);
    const __m256i ly = _mm256_setr_epi64x(0, dy, 2 * dy, 3 * dy);
    const __m256 kk = _mm256_set1_ps(k);
    int done = 0;
    for (; done + 8 <= n; done += 8, x += 8 * dx, y += 8 * dy, o += 24) {
        __m256i xa = _mm256_add_epi64(_mm256_set1_epi64x(x), lx);
        __m256i ya = _mm256_add_epi64(_mm256_set1_epi64x(y), ly);
        __m256i xb = _mm256_add_epi64(xa, _mm256_set1_epi64x(4 * dx));
        __m256i yb = _mm256_add_epi64(ya, _mm256_set1_epi64x(4 * dy));
        __m256i xi = narrow(xa, xb, 32), yi = narrow(ya, yb, 32);
        __m256i fx = _mm256_and_si256(narrow(xa, xb, 32 - fb), fmask);
        __m256i fy = _mm256_and_si256(narrow(ya, yb, 32 - fb), fmask);
        __m256i w11 = _mm256_mullo_epi32(fx, fy);
        __m256i w10 = _mm256_sub_epi32(_mm256_slli_epi32(fy, fb), w11);
        __m256i w01 = _mm256_sub_epi32(_mm256_slli_epi32(fx, fb), w11);
        __m256i w00 = _mm256_sub_epi32(_mm256_sub_epi32(_mm256_sub_epi32(one, w01), w10), w11);
        __m256i off =
            _mm256_add_epi32(_mm256_mullo_epi32(yi, sstride), _mm256_mullo_epi32(xi, three));
        __m256i offq = _mm256_add_epi32(off, sstride);
        const int *p0 = (const int *)px, *p2 = (const int *)(px + 2);
        __m256i g00 = _mm256_i32gather_epi32(p0, off, 1);
        __m256i g01 = _mm256_srli_epi32(_mm256_i32gather_epi32(p2, off, 1), 8);
        __m256i g10 = _mm256_i32gather_epi32(p0, offq, 1);
        __m256i g11 = _mm256_srli_epi32(_mm256_i32gather_epi32(p2, offq, 1), 8);
        __m256 ch[3];
        for (int c = 0; c < 3; c++) {
            __m256i s = _mm256_add_epi32(_mm256_add_epi32(chan(g00, c, w00), chan(g01, c, w01)),
                                         _mm256_add_epi32(chan(g10, c, w10), chan(g11, c, w11)));
            ch[c] = _mm256_mul_ps(_mm256_cvtepi32_ps(s), kk);
        }
        for (int v = 0; v < 3; v++) {
            __m256i iv = _mm256_loadu_si256((const __m256i *)idx[v]);
            __m256 t = _mm256_permutevar8x32_ps(ch[0], iv);
            t = _mm256_blendv_ps(t, _mm256_permutevar8x32_ps(ch[1], iv),
                                 _mm256_loadu_ps((const float *)take1[v]));
            t = _mm256_blendv_ps(t, _mm256_permutevar8x32_ps(ch[2], iv),
                                 _mm256_loadu_ps((const float *)take2[v]));
            _mm256_storeu_ps(o + 8 * v, t);
        }
    }
    return done;
}

#endif
