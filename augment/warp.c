/* warp.c: the resampler of the fast path: an inverse-mapped gather from the
 * decoded 8-bit pixels straight into the caller's output.
 *
 * Why not vips_affine: on the 694 photos, one thread, per CPU-second,
 * decode + vips_affine (bilinear, 8-bit) + region ran at 530-600 samples,
 * decode + this gather at 1,230-1,450 (float32, none / chollet-2nd /
 * chollet-1st), and the full libvips engine with Keras's fill modes
 * (warp_vips.c) at 180-630. The gather has no set-up at all, writes float32
 * (or 8-bit) directly, and does the fill modes exactly as Keras defines
 * them, at any distance from the image. It costs about 145 us for a 150x150
 * RGB float output (a plain resize) and 215 us with rotation and zoom-out,
 * where edge pixels take the mapped path.
 *
 * Fill modes are index maps applied to each interpolation tap: reflect is
 * the half-sample mirror (d c b a | a b c d), wrap the period, nearest the
 * clamp, constant reads the fill value. Taps inside the image take the
 * fast path with no mapping. Keras/TensorFlow's ImageProjectiveTransform
 * maps the continuous coordinate first and then interpolates; for these
 * four extensions that gives the same values.
 */
#include <math.h>
#include <string.h>

#include "aug_internal.h"

/* GCC at -O2 does not unroll even 3-trip loops; the channel loops must be,
 * or the values go through the stack. */
#if defined(__GNUC__)
#define HOT    static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 4")
#else
#define HOT static inline
#define UNROLL
#endif

static inline int ifloor(double x)
{
    int i = (int)x;
    return i - (x < (double)i);
}

/* Source index for tap i of an axis of n pixels, or -1 for the fill value. */
HOT int map_index(int i, int n, aug_fill fill)
{
    if ((unsigned)i < (unsigned)n) {
        return i;
    }
    switch (fill) {
    case AUG_FILL_NEAREST: return i < 0 ? 0 : n - 1;
    case AUG_FILL_WRAP:
        if (i >= -n && i < 2 * n) {
            return i < 0 ? i + n : i - n;
        }
        i %= n;
        return i < 0 ? i + n : i;
    case AUG_FILL_REFLECT: {
        if (i >= -n && i < 2 * n) {
            return i < 0 ? -i - 1 : 2 * n - 1 - i;
        }
        int p = 2 * n;
        i %= p;
        if (i < 0) {
            i += p;
        }
        return i < n ? i : p - 1 - i;
    }
    default: return -1;
    }
}

/* v[0..nc) = the pixel at mapped indices (ix, iy), or the fill value. */
HOT void tap(const aug_warp *w, int ix, int iy, int nc, float *v)
{
    if (ix < 0 || iy < 0) {
        UNROLL
        for (int k = 0; k < nc; k++) {
            v[k] = w->fill_value;
        }
        return;
    }
    const uint8_t *p = w->src.px + (size_t)iy * w->src.stride + (size_t)ix * w->src.bands;
    UNROLL
    for (int k = 0; k < nc; k++) {
        v[k] = p[k];
    }
}

HOT void sample_nearest(const aug_warp *w, double x, double y, int nc, float *v)
{
    int ix = map_index(ifloor(x + 0.5), w->src.w, w->fill);
    int iy = map_index(ifloor(y + 0.5), w->src.h, w->fill);
    tap(w, ix, iy, nc, v);
}

/* The fixed point of the bilinear weights: 11-bit fractions, so that
 * w00 + w01 + w10 + w11 = 2^22 and a weighted sum of 8-bit values stays
 * inside int32. Exact on pixel centres, elsewhere within 1/2048 of a level,
 * and 3 int->float conversions per pixel instead of 12. */
#define FB 11

/* Bilinear at the edges: taps mapped by the fill mode; those that fall
 * outside in constant mode weigh the fill value. Same arithmetic as the
 * interior (interior_bilinear), so that identical taps give identical
 * values. */
HOT void sample_bilinear(const aug_warp *w, double x, double y, int nc, float *v)
{
    int x0 = ifloor(x), y0 = ifloor(y);
    int fx = (int)((x - x0) * (1 << FB)), fy = (int)((y - y0) * (1 << FB));
    int xs[2] = {map_index(x0, w->src.w, w->fill), map_index(x0 + 1, w->src.w, w->fill)};
    int ys[2] = {map_index(y0, w->src.h, w->fill), map_index(y0 + 1, w->src.h, w->fill)};
    int w11 = fx * fy, w10 = (fy << FB) - w11, w01 = (fx << FB) - w11;
    int wt[4] = {(1 << 2 * FB) - w01 - w10 - w11, w01, w10, w11};
    int sum[3] = {0, 0, 0}, outside = 0;
    for (int t = 0; t < 4; t++) {
        int ix = xs[t & 1], iy = ys[t >> 1];
        if (ix < 0 || iy < 0) {
            outside += wt[t];
            continue;
        }
        const uint8_t *p = w->src.px + (size_t)iy * w->src.stride + (size_t)ix * w->src.bands;
        UNROLL
        for (int k = 0; k < nc; k++) {
            sum[k] += p[k] * wt[t];
        }
    }
    const float unit = 1.0f / (float)(1 << 2 * FB);
    UNROLL
    for (int k = 0; k < nc; k++) {
        v[k] = ((float)sum[k] + (float)outside * w->fill_value) * unit;
    }
}

/* Catmull-Rom (a = -1/2), as libvips' bicubic interpolator. */
HOT void cubic_weights(float t, float c[4])
{
    float t2 = t * t, t3 = t2 * t;
    c[0] = -0.5f * t3 + t2 - 0.5f * t;
    c[1] = 1.5f * t3 - 2.5f * t2 + 1;
    c[2] = -1.5f * t3 + 2 * t2 + 0.5f * t;
    c[3] = 0.5f * t3 - 0.5f * t2;
}

HOT void sample_bicubic(const aug_warp *w, double x, double y, int nc, float *v)
{
    int x0 = ifloor(x), y0 = ifloor(y);
    float cx[4], cy[4];
    cubic_weights((float)(x - x0), cx);
    cubic_weights((float)(y - y0), cy);
    int xs[4], ys[4];
    for (int i = 0; i < 4; i++) {
        xs[i] = map_index(x0 - 1 + i, w->src.w, w->fill);
        ys[i] = map_index(y0 - 1 + i, w->src.h, w->fill);
    }
    float acc[3] = {0, 0, 0};
    for (int j = 0; j < 4; j++) {
        float row[3] = {0, 0, 0};
        for (int i = 0; i < 4; i++) {
            float t[3];
            tap(w, xs[i], ys[j], nc, t);
            UNROLL
            for (int k = 0; k < nc; k++) {
                row[k] += cx[i] * t[k];
            }
        }
        UNROLL
        for (int k = 0; k < nc; k++) {
            acc[k] += cy[j] * row[k];
        }
    }
    UNROLL
    for (int k = 0; k < nc; k++) {
        v[k] = acc[k] < 0 ? 0 : acc[k] > 255 ? 255 : acc[k];
    }
}

HOT void store(const aug_warp *w, const float *v, int nc, int oc, void *dst, size_t i)
{
    if (w->dtype == AUG_F32) {
        float *o = (float *)dst + i * oc;
        UNROLL
        for (int k = 0; k < oc; k++) {
            o[k] = v[nc == 1 ? 0 : k] * w->scale;
        }
    } else {
        uint8_t *o = (uint8_t *)dst + i * oc;
        UNROLL
        for (int k = 0; k < oc; k++) {
            float x = v[nc == 1 ? 0 : k] + 0.5f;
            o[k] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
        }
    }
}

HOT void sample(const aug_warp *w, double x, double y, aug_interp interp, int nc, float *v)
{
    if (interp == AUG_INTERP_BILINEAR) {
        sample_bilinear(w, x, y, nc, v);
    } else if (interp == AUG_INTERP_NEAREST) {
        sample_nearest(w, x, y, nc, v);
    } else {
        sample_bicubic(w, x, y, nc, v);
    }
}

/* Interior of one axis for an interpolation: coordinates c with
 * lo <= c < hi read only taps inside [0, n), with 1/1024 pixel to spare
 * for the rounding of fixed-point coordinates. */
static void interior_bounds(aug_interp interp, int n, double *lo, double *hi)
{
    const double spare = 1.0 / 1024;
    switch (interp) {
    case AUG_INTERP_NEAREST: *lo = -0.5 + spare, *hi = n - 0.5 - spare; break;
    case AUG_INTERP_BILINEAR: *lo = spare, *hi = n - 1 - spare; break;
    default: *lo = 1 + spare, *hi = n - 2 - spare; break;
    }
}

/* Narrows [*t0, *t1) to the integers t with lo <= c0 + dc * t < hi, with
 * a margin of one so that rounding at the ends cannot matter. */
static void clip_span(double c0, double dc, double lo, double hi, int *t0, int *t1)
{
    double a, b;
    if (dc == 0) {
        if (!(c0 >= lo && c0 < hi)) {
            *t1 = *t0;
        }
        return;
    }
    a = (lo - c0) / dc;
    b = (hi - c0) / dc;
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    a = ceil(a) + 1;
    b = floor(b);
    if (a > *t0) {
        *t0 = a > *t1 ? *t1 : (int)a;
    }
    if (b < *t1) {
        *t1 = b < *t0 ? *t0 : (int)b;
    }
}

aug_bilinear3_fn aug_warp_bilinear3_of(ck_isa isa)
{
#if CK_X86_KERNELS
    if (ck_isa_cpu_has(isa)) {
        return isa == CK_ISA_AVX512 ? aug_warp_bilinear3_avx512
               : isa == CK_ISA_AVX2 ? aug_warp_bilinear3_avx2
                                    : NULL;
    }
#endif
    (void)isa;
    return NULL;
}

/* The process's tier's (a bad CONVKIT_ISA, refused by the command before
 * any work, leaves the scalar loop). */
static aug_bilinear3_fn tier_bilinear3(void)
{
    ck_isa isa;
    return ck_isa_get(&isa, NULL, 0) == 0 ? aug_warp_bilinear3_of(isa) : NULL;
}

/* Bilinear in the interior of a row, in fixed point (FB above).
 * Coordinates are 32.32: the drift over the widest row stays below 1e-5
 * pixel, far inside the interior's margins. */
HOT void interior_bilinear(const aug_warp *w, double xr, double yr, int t0, int t1, int nc, int oc,
                           aug_dtype dtype, void *dst, size_t i)
{
    const uint8_t *px = w->src.px;
    const size_t stride = w->src.stride;
    const int b = w->src.bands;
    const float k = (dtype == AUG_F32 ? w->scale : 1.0f) / (float)(1 << 2 * FB);
    const double one = 4294967296.0; /* 2^32 */
    int64_t x = llround((xr + w->m[0] * t0) * one), y = llround((yr + w->m[3] * t0) * one);
    const int64_t dx = llround(w->m[0] * one), dy = llround(w->m[3] * one);
    aug_bilinear3_fn simd;
    if (dtype == AUG_F32 && nc == 3 && oc == 3 && b == 3 &&
        (double)stride * w->src.h < 2147483647.0 && (simd = tier_bilinear3()) != NULL) {
        int done = simd(px, stride, x, y, dx, dy, t1 - t0, FB, k, (float *)dst + i * 3);
        t0 += done;
        i += (size_t)done;
        x += done * dx;
        y += done * dy;
    }
    for (int ox = t0; ox < t1; ox++, i++, x += dx, y += dy) {
        int fx = (int)(x >> (32 - FB)) & ((1 << FB) - 1);
        int fy = (int)(y >> (32 - FB)) & ((1 << FB) - 1);
        int w11 = fx * fy, w10 = (fy << FB) - w11, w01 = (fx << FB) - w11;
        int w00 = (1 << 2 * FB) - w01 - w10 - w11;
        const uint8_t *p = px + (size_t)(y >> 32) * stride + (size_t)(x >> 32) * b;
        const uint8_t *q = p + stride;
        int v[3];
        UNROLL
        for (int c = 0; c < nc; c++) {
            v[c] = p[c] * w00 + p[b + c] * w01 + q[c] * w10 + q[b + c] * w11;
        }
        if (dtype == AUG_F32) {
            float *o = (float *)dst + i * oc;
            UNROLL
            for (int c = 0; c < oc; c++) {
                o[c] = (float)v[nc == 1 ? 0 : c] * k;
            }
        } else {
            uint8_t *o = (uint8_t *)dst + i * oc;
            UNROLL
            for (int c = 0; c < oc; c++) {
                o[c] = (uint8_t)((v[nc == 1 ? 0 : c] + (1 << (2 * FB - 1))) >> (2 * FB));
            }
        }
    }
}

/* The interior of a row: every tap inside the image, no fill, no clamp. */
HOT void interior_run(const aug_warp *w, double xr, double yr, int t0, int t1, aug_interp interp,
                      int nc, int oc, void *dst, size_t i)
{
    if (interp == AUG_INTERP_BILINEAR) {
        if (w->dtype == AUG_F32) {
            interior_bilinear(w, xr, yr, t0, t1, nc, oc, AUG_F32, dst, i);
        } else {
            interior_bilinear(w, xr, yr, t0, t1, nc, oc, AUG_U8, dst, i);
        }
        return;
    }
    const double dx = w->m[0], dy = w->m[3];
    for (int ox = t0; ox < t1; ox++, i++) {
        double x = xr + dx * ox, y = yr + dy * ox;
        float v[3];
        if (interp == AUG_INTERP_NEAREST) {
            const uint8_t *p = w->src.px + (size_t)(int)(y + 0.5) * w->src.stride +
                               (size_t)(int)(x + 0.5) * w->src.bands;
            UNROLL
            for (int c = 0; c < nc; c++) {
                v[c] = p[c];
            }
        } else {
            sample_bicubic(w, x, y, nc, v);
        }
        store(w, v, nc, oc, dst, i);
    }
}

/* One body per (interpolation, channels read, channels written) so that
 * the compiler unrolls the channel loops. */
HOT void run_rows(const aug_warp *w, void *dst, aug_interp interp, int nc, int oc)
{
    const double *m = w->m;
    double xlo, xhi, ylo, yhi;
    interior_bounds(interp, w->src.w, &xlo, &xhi);
    interior_bounds(interp, w->src.h, &ylo, &yhi);
    for (int oy = 0; oy < w->oh; oy++) {
        double xr = m[1] * oy + m[2], yr = m[4] * oy + m[5];
        int t0 = 0, t1 = w->ow;
        clip_span(xr, m[0], xlo, xhi, &t0, &t1);
        clip_span(yr, m[3], ylo, yhi, &t0, &t1);
        size_t row = (size_t)oy * w->ow;
        for (int ox = 0; ox < w->ow; ox++) {
            if (ox == t0 && t1 > t0) {
                interior_run(w, xr, yr, t0, t1, interp, nc, oc, dst, row + (size_t)t0);
                ox = t1 - 1;
                continue;
            }
            float v[3];
            sample(w, xr + m[0] * ox, yr + m[3] * ox, interp, nc, v);
            store(w, v, nc, oc, dst, row + (size_t)ox);
        }
    }
}

/* (channels read, channels written): (1, 1), (3, 3) or (1, 3). */
HOT void run_interp(const aug_warp *w, void *dst, aug_interp interp)
{
    if (w->nc == 3) {
        run_rows(w, dst, interp, 3, 3);
    } else if (w->oc == 3) {
        run_rows(w, dst, interp, 1, 3);
    } else {
        run_rows(w, dst, interp, 1, 1);
    }
}

void aug_warp_run(const aug_warp *w, void *dst)
{
    switch (w->interp) {
    case AUG_INTERP_NEAREST: run_interp(w, dst, AUG_INTERP_NEAREST); break;
    case AUG_INTERP_BILINEAR: run_interp(w, dst, AUG_INTERP_BILINEAR); break;
    default: run_interp(w, dst, AUG_INTERP_BICUBIC); break;
    }
}
