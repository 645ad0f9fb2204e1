/* decode.c: image bytes to 8-bit pixels with as little libvips machinery as
 * possible per image.
 *
 * At 150x150 the cost of a sample is mostly per-image set-up, not pixels.
 * Measured on the 694 alien-vs-predator photos (about 250x200 JPEG), one
 * thread, CPU time per image (the machine is shared, so wall time is not
 * steady): a sequential-access jpegload whose region is prepared in the
 * calling thread (vips_region_prepare, no thread pool at all) took 490-560
 * us; the same load written out with vips_image_write_to_memory at
 * vips_concurrency 1, 600-620 us; random access + write_to_memory (the
 * loader's own "real" image and the write each run a sink), 685 us; at
 * shrink 2, 370-385 us. libjpeg-turbo alone decodes the same files in about
 * 190 us (5,300/s): the rest is GObject construction inside libvips.
 *
 * JPEG size comes from the SOF marker (a few bytes) so that one loader call,
 * with the right shrink, does the whole decode; other formats read their
 * header through libvips and shrink with vips_shrink (a box filter) in the
 * same chain. Pixels that are not 8-bit sRGB or grey (CMYK, 16-bit) are
 * converted by libvips on this rare path only. For the gather engine, grey
 * and colour JPEGs skip libvips altogether (image/'s im_jpeg). EXIF
 * orientation is ignored, as Keras's load_img (PIL) ignores it.
 */
#include <string.h>
#include <vips/vips.h>

#include "aug_internal.h"

const char *aug_src_name(const aug_src *src)
{
    return src->name && *src->name ? src->name : "image";
}

static int is_raw(const aug_src *src)
{
    return src->width || src->height || src->bands;
}

static VipsAccess access_mode(int random_access)
{
    return random_access ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL;
}

int aug_decode_open(aug_decoded *d, const aug_src *src, int random_access, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    const char *name = aug_src_name(src);
    if (is_raw(src)) {
        if (src->width <= 0 || src->height <= 0 || src->bands < 1 || src->bands > 4 ||
            (uint64_t)src->width * src->height > IM_MAX_PIXELS ||
            src->size < (size_t)src->width * src->height * src->bands || !src->data) {
            return ck_err(err, errlen, CK_EINVAL, "%s: raw pixels: bad size %dx%dx%d for %zu bytes",
                          name, src->width, src->height, src->bands, src->size);
        }
        d->full_w = src->width;
        d->full_h = src->height;
    } else if (!src->data || src->size == 0) {
        return ck_err(err, errlen, CK_EDECODE, "%s: decode: empty input", name);
    } else if (!im_jpeg_size(src->data, src->size, &d->full_w, &d->full_h)) {
        VipsImage *im = vips_image_new_from_buffer(src->data, src->size, "", "access",
                                                   access_mode(random_access), "fail_on",
                                                   VIPS_FAIL_ON_ERROR, NULL);
        if (!im) {
            return im_err_vips(err, errlen, CK_EDECODE, "%s: decode", name);
        }
        d->im = im;
        d->full_w = im->Xsize;
        d->full_h = im->Ysize;
    }
    if ((uint64_t)d->full_w * d->full_h > IM_MAX_PIXELS) {
        aug_decoded_clear(d);
        return ck_err(err, errlen, CK_ELIMIT, "%s: decode: %dx%d is over the %llu pixel limit",
                      name, d->full_w, d->full_h, IM_MAX_PIXELS);
    }
    return 0;
}

/* Replaces *im by out (taking ownership) or returns -1 with *im untouched. */
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

/* 8-bit sRGB/grey, at most 4 bands. */
static int normalise(VipsImage **im)
{
    VipsImage *t = NULL;
    VipsInterpretation type = vips_image_guess_interpretation(*im);
    int odd_space = type != VIPS_INTERPRETATION_sRGB && type != VIPS_INTERPRETATION_B_W &&
                    type != VIPS_INTERPRETATION_MULTIBAND && type != VIPS_INTERPRETATION_RGB16 &&
                    type != VIPS_INTERPRETATION_GREY16;
    if ((*im)->BandFmt != VIPS_FORMAT_UCHAR || odd_space) {
        VipsInterpretation to = (*im)->Bands <= 2 && type != VIPS_INTERPRETATION_CMYK
                                    ? VIPS_INTERPRETATION_B_W
                                    : VIPS_INTERPRETATION_sRGB;
        if (chain(im, vips_colourspace(*im, &t, to, NULL), &t)) {
            return -1;
        }
        if ((*im)->BandFmt != VIPS_FORMAT_UCHAR &&
            chain(im, vips_cast(*im, &t, VIPS_FORMAT_UCHAR, NULL), &t)) {
            return -1;
        }
    }
    if ((*im)->Bands > 4 && chain(im, vips_extract_band(*im, &t, 0, "n", 4, NULL), &t)) {
        return -1;
    }
    return 0;
}

static int vips_pixels(aug_decoded *d, const aug_src *src, int shrink, int random_access,
                       int want_image, char *err, size_t errlen)
{
    const char *name = aug_src_name(src);
    VipsImage *im = d->im, *t = NULL;
    d->im = NULL;
    if (is_raw(src)) {
        if (shrink == 1 && !want_image) {
            d->view = (aug_view){src->data, src->width, src->height,
                                 (size_t)src->width * src->bands, src->bands};
            return 0;
        }
        im = vips_image_new_from_memory(src->data, src->size, src->width, src->height, src->bands,
                                        VIPS_FORMAT_UCHAR);
    } else if (!im) {
        /* A JPEG whose size we read ourselves: one load at the right scale. */
        if (vips_jpegload_buffer((void *)src->data, src->size, &im, "shrink", shrink, "access",
                                 access_mode(random_access), "fail_on", VIPS_FAIL_ON_ERROR, NULL)) {
            im = NULL;
        }
        shrink = 1;
    }
    if (!im) {
        return im_err_vips(err, errlen, CK_EDECODE, "%s: decode", name);
    }
    if (shrink > 1 && chain(&im, vips_shrink(im, &t, shrink, shrink, NULL), &t)) {
        g_object_unref(im);
        return im_err_vips(err, errlen, CK_EDECODE, "%s: decode: shrink", name);
    }
    if (normalise(&im)) {
        g_object_unref(im);
        return im_err_vips(err, errlen, CK_EDECODE, "%s: decode: colour conversion", name);
    }
    d->im = im;
    if (want_image) {
        return 0;
    }
    VipsRegion *reg = vips_region_new(im);
    VipsRect all = {0, 0, im->Xsize, im->Ysize};
    if (!reg || vips_region_prepare(reg, &all)) {
        if (reg) {
            g_object_unref(reg);
        }
        return im_err_vips(err, errlen, CK_EDECODE, "%s: decode", name);
    }
    d->reg = reg;
    d->view = (aug_view){(const uint8_t *)VIPS_REGION_ADDR(reg, 0, 0), im->Xsize, im->Ysize,
                         (size_t)VIPS_REGION_LSKIP(reg), im->Bands};
    return 0;
}

int aug_decode_pixels(aug_decoded *d, const aug_src *src, int shrink, int random_access,
                      int want_image, im_jpeg *jpeg, char *err, size_t errlen)
{
    if (!jpeg || want_image || d->im || is_raw(src)) {
        return vips_pixels(d, src, shrink, random_access, want_image, err, errlen);
    }
    /* A JPEG whose size we read ourselves (d->im is still NULL). Whatever
     * libjpeg-turbo does not decode cleanly goes to libvips, which decides
     * (so does a pixel buffer that cannot grow); when libvips refuses it
     * too, libjpeg-turbo's words. */
    char msg[200];
    im_pixels px;
    int tj = im_jpeg_decode(jpeg, src->data, src->size, shrink, &px, msg, sizeof msg);
    if (tj == IM_JPEG_DECODED) {
        d->view = (aug_view){px.px, px.w, px.h, px.stride, px.bands};
        return 0;
    }
    int rc = vips_pixels(d, src, shrink, random_access, want_image, err, errlen);
    if (rc == CK_EDECODE && tj == IM_JPEG_FAILED) {
        rc = ck_err(err, errlen, CK_EDECODE, "%s: decode: %s", aug_src_name(src), msg);
    }
    return rc;
}

void aug_decoded_clear(aug_decoded *d)
{
    if (d->reg) {
        g_object_unref(d->reg);
    }
    if (d->im) {
        g_object_unref(d->im);
    }
    memset(d, 0, sizeof *d);
}
