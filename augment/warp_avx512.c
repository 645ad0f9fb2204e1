/* warp_avx512.c: the bilinear interior of warp.c, 16 RGB outputs at a time.
 *
 * Profiles of augmentation put a third of its instructions in the scalar
 * interior loop (4 taps x 3 channels per output, then 3 conversions).
 * Here the 16 lanes carry 16 outputs: their 32.32 source coordinates
 * advance as warp.c's do, each tap is one 32-bit gather of a pixel's bytes,
 * and the channels are taken apart by shifts. The arithmetic is warp.c's
 * (11-bit weights, exact int32 sums, one rounding to float, one multiply),
 * so the outputs are the same bits. The taps at x+1 are gathered from one
 * byte before (and shifted), so no gather reads past the pixel it wants:
 * the last pixel of an image ends its buffer.
 *
 * Compiled with target attributes only; warp.c takes it when the
 * process's kernel tier (ck_isa_get) is avx512, warp_avx2.c's on avx2.
 */
#include "aug_internal.h"

#if CK_X86_KERNELS
#include <immintrin.h>

#define KT __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* The 16 int32 of (v >> shift) for two vectors of 8 int64 (low 32 bits). */
KT static inline __m512i narrow(__m512i a, __m512i b, int shift)
{
    __m256i lo = _mm512_cvtepi64_epi32(_mm512_srli_epi64(a, (unsigned)shift));
    __m256i hi = _mm512_cvtepi64_epi32(_mm512_srli_epi64(b, (unsigned)shift));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Channel c (byte c) of 16 gathered pixels, times weight w. */
KT static inline __m512i chan(__m512i g, int c, __m512i w)
{
    __m512i v = _mm512_and_si512(_mm512_srli_epi32(g, (unsigned)(8 * c)), _mm512_set1_epi32(0xFF));
    return _mm512_mullo_epi32(v, w);
}

KT int aug_warp_bilinear3_avx512(const uint8_t *px, size_t stride, int64_t x, int64_t y, int64_t dx,
                                 int64_t dy, int n, int fb, float k, float *o)
{
    /* out[3i + c] = ch_c[i]: where each of the 48 floats of a block comes
     * from, first among (r, g), then with b. */
    int32_t ia[3][16], ib[3][16];
    for (int v = 0; v < 3; v++) {
        for (int p = 0; p < 16; p++) {
            int i = (16 * v + p) / 3, c = (16 * v + p) % 3;
            ia[v][p] = c == 1 ? 16 + i : i;
            ib[v][p] = c == 2 ? 16 + i : p;
        }
    }
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i fmask = _mm512_set1_epi32((1 << fb) - 1), one = _mm512_set1_epi32(1 << 2 * fb);
    const __m512i sstride = _mm512_set1_epi32((int)stride), three = _mm512_set1_epi32(3);
    const __m512 kk = _mm512_set1_ps(k);
    int done = 0;
    for (; done + 16 <= n; done += 16, x += 16 * dx, y += 16 * dy, o += 48) {
        __m512i xa =
            _mm512_add_epi64(_mm512_set1_epi64(x), _mm512_mullo_epi64(lane, _mm512_set1_epi64(dx)));
        __m512i ya =
            _mm512_add_epi64(_mm512_set1_epi64(y), _mm512_mullo_epi64(lane, _mm512_set1_epi64(dy)));
        __m512i xb = _mm512_add_epi64(xa, _mm512_set1_epi64(8 * dx));
        __m512i yb = _mm512_add_epi64(ya, _mm512_set1_epi64(8 * dy));
        __m512i xi = narrow(xa, xb, 32), yi = narrow(ya, yb, 32);
        __m512i fx = _mm512_and_si512(narrow(xa, xb, 32 - fb), fmask);
        __m512i fy = _mm512_and_si512(narrow(ya, yb, 32 - fb), fmask);
        __m512i w11 = _mm512_mullo_epi32(fx, fy);
        __m512i w10 = _mm512_sub_epi32(_mm512_slli_epi32(fy, (unsigned)fb), w11);
        __m512i w01 = _mm512_sub_epi32(_mm512_slli_epi32(fx, (unsigned)fb), w11);
        __m512i w00 = _mm512_sub_epi32(_mm512_sub_epi32(_mm512_sub_epi32(one, w01), w10), w11);
        __m512i off =
            _mm512_add_epi32(_mm512_mullo_epi32(yi, sstride), _mm512_mullo_epi32(xi, three));
        __m512i offq = _mm512_add_epi32(off, sstride);
        __m512i g00 = _mm512_i32gather_epi32(off, px, 1);
        __m512i g01 = _mm512_srli_epi32(_mm512_i32gather_epi32(off, px + 2, 1), 8);
        __m512i g10 = _mm512_i32gather_epi32(offq, px, 1);
        __m512i g11 = _mm512_srli_epi32(_mm512_i32gather_epi32(offq, px + 2, 1), 8);
        __m512 ch[3];
        for (int c = 0; c < 3; c++) {
            __m512i s = _mm512_add_epi32(_mm512_add_epi32(chan(g00, c, w00), chan(g01, c, w01)),
                                         _mm512_add_epi32(chan(g10, c, w10), chan(g11, c, w11)));
            ch[c] = _mm512_mul_ps(_mm512_cvtepi32_ps(s), kk);
        }
        for (int v = 0; v < 3; v++) {
            __m512 t = _mm512_permutex2var_ps(ch[0], _mm512_loadu_si512(ia[v]), ch[1]);
            t = _mm512_permutex2var_ps(t, _mm512_loadu_si512(ib[v]), ch[2]);
            _mm512_storeu_ps(o + 16 * v, t);
        }
    }
    return done;
}

#endif
