/* warp_vips.c: the same resample done entirely by libvips, kept as the
 * reference the fast gather is tested against and as the bench's baseline.
 *
 * vips_affine extends its input only by the interpolation window; further
 * out it writes the background. So the fill is made first with vips_embed
 * over the whole area the output can read: its COPY, REPEAT and MIRROR
 * extensions are Keras's nearest, wrap and reflect (libvips 8.14's MIRROR
 * repeats the edge pixel, (d c b a | a b c d), as Keras's reflect does; the
 * test suite checks it), and BACKGROUND with the fill value is constant.
 * The affine then gets the inverse of our output->source map, shifted by
 * the margin; libvips uses the same pixel-centre convention as ours.
 * Float outputs are resampled in float so that the two engines agree to
 * rounding.
 *
 * It is slow: 180-260 samples per CPU-second with reflect (vips_embed's
 * MIRROR assembles flipped copies of the image per call), 470-630 with
 * nearest, against 1,230-1,450 for the gather.
 */
#include <math.h>
#include <string.h>
#include <vips/vips.h>

#include "aug_internal.h"

static int chain(VipsImage **im, int rc, VipsImage **out)
{
    if (rc) {
        return -1;
    }
    g_object_unref(*im);
    *im = *out;
    *out = NULL;
    return 0;
}

/* Channels as the gather reads them: 3 colour bands, or 1 (grey, or the
 * first band replicated later). */
static int convert_channels(VipsImage **im, int out_channels)
{
    VipsImage *t = NULL;
    int b = (*im)->Bands;
    if (out_channels == 3 && b >= 3) {
        return b == 3 ? 0 : chain(im, vips_extract_band(*im, &t, 0, "n", 3, NULL), &t);
    }
    if (out_channels == 1 && b >= 3) {
        double w[3] = {19595 / 65536.0, 38470 / 65536.0, 7471 / 65536.0};
        VipsImage *m = vips_image_new_matrix_from_array(3, 1, w, 3), *rgb = NULL;
        int rc =
            !m || vips_extract_band(*im, &rgb, 0, "n", 3, NULL) || vips_recomb(rgb, &t, m, NULL);
        if (rgb) {
            g_object_unref(rgb);
        }
        if (m) {
            g_object_unref(m);
        }
        if (chain(im, rc, &t) ||
            chain(im, vips_round(*im, &t, VIPS_OPERATION_ROUND_RINT, NULL), &t)) {
            return -1;
        }
        return chain(im, vips_cast(*im, &t, VIPS_FORMAT_UCHAR, NULL), &t);
    }
    return b == 1 ? 0 : chain(im, vips_extract_band(*im, &t, 0, NULL), &t);
}

static const char *interp_name(aug_interp i)
{
    return i == AUG_INTERP_NEAREST ? "nearest" : i == AUG_INTERP_BICUBIC ? "bicubic" : "bilinear";
}

static VipsExtend extend_of(aug_fill f)
{
    switch (f) {
    case AUG_FILL_NEAREST: return VIPS_EXTEND_COPY;
    case AUG_FILL_WRAP: return VIPS_EXTEND_REPEAT;
    case AUG_FILL_REFLECT: return VIPS_EXTEND_MIRROR;
    default: return VIPS_EXTEND_BACKGROUND;
    }
}

int aug_warp_vips(const aug_warp *w, void *image, int out_channels, void *dst, const char *name,
                  char *err, size_t errlen)
{
    VipsImage *im = image, *t = NULL;
    g_object_ref(im);
    const double *m = w->m;
    int rc = convert_channels(&im, out_channels);
    if (rc == 0 && w->dtype == AUG_F32) {
        rc = chain(&im, vips_cast(im, &t, VIPS_FORMAT_FLOAT, NULL), &t);
    }
    /* The source area the output reads, plus the widest window (4 taps). */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int c = 0; c < 4; c++) {
        double ox = c & 1 ? w->ow - 1 : 0, oy = c & 2 ? w->oh - 1 : 0;
        double x = m[0] * ox + m[1] * oy + m[2], y = m[3] * ox + m[4] * oy + m[5];
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
    }
    int left = (int)fmax(0, ceil(-x0) + 3), top = (int)fmax(0, ceil(-y0) + 3);
    int right = rc ? 0 : (int)fmax(0, ceil(x1 - (im->Xsize - 1)) + 3);
    int bottom = rc ? 0 : (int)fmax(0, ceil(y1 - (im->Ysize - 1)) + 3);
    if (rc == 0) {
        double bg[4] = {w->fill_value, w->fill_value, w->fill_value, w->fill_value};
        VipsArrayDouble *background = vips_array_double_new(bg, im->Bands);
        rc = chain(&im,
                   vips_embed(im, &t, left, top, im->Xsize + left + right, im->Ysize + top + bottom,
                              "extend", extend_of(w->fill), "background", background, NULL),
                   &t);
        vips_area_unref(VIPS_AREA(background));
    }
    if (rc == 0) {
        /* libvips' nearest takes floor(x); Keras rounds: shift by half. */
        double half = w->interp == AUG_INTERP_NEAREST ? 0.5 : 0;
        double det = m[0] * m[4] - m[1] * m[3];
        VipsInterpolate *interp = vips_interpolate_new(interp_name(w->interp));
        VipsArrayInt *oarea = vips_array_int_newv(4, 0, 0, w->ow, w->oh);
        rc = chain(&im,
                   vips_affine(im, &t, m[4] / det, -m[1] / det, -m[3] / det, m[0] / det, "idx",
                               -(m[2] + left + half), "idy", -(m[5] + top + half), "oarea", oarea,
                               "interpolate", interp, "extend", extend_of(w->fill), NULL),
                   &t);
        vips_area_unref(VIPS_AREA(oarea));
        g_object_unref(interp);
    }
    VipsRegion *reg = NULL;
    VipsRect all = {0, 0, w->ow, w->oh};
    if (rc == 0 && (!(reg = vips_region_new(im)) || vips_region_prepare(reg, &all))) {
        rc = -1;
    }
    if (rc) {
        if (reg) {
            g_object_unref(reg);
        }
        g_object_unref(im);
        return im_err_vips(err, errlen, CK_EDECODE, "%s: resample", name);
    }
    int nb = im->Bands;
    for (int y = 0; y < w->oh; y++) {
        const VipsPel *row = VIPS_REGION_ADDR(reg, 0, y);
        for (int x = 0; x < w->ow; x++) {
            size_t o = ((size_t)y * w->ow + x) * w->oc;
            for (int k = 0; k < w->oc; k++) {
                int band = nb == 1 ? 0 : k;
                if (w->dtype == AUG_F32) {
                    float v = ((const float *)row)[x * nb + band];
                    v = v < 0 ? 0 : v > 255 ? 255 : v;
                    ((float *)dst)[o + k] = v * w->scale;
                } else {
                    ((uint8_t *)dst)[o + k] = row[x * nb + band];
                }
            }
        }
    }
    g_object_unref(reg);
    g_object_unref(im);
    return 0;
}
