/* im_test_util.h: test pictures made with libvips, for the suites of
 * image/ and of the modules above it (header only). Check forks each
 * test: call these inside a test, after im_init. */
#ifndef IM_TEST_UTIL_H
#define IM_TEST_UTIL_H

#include <stdint.h>
#include <vips/vips.h>

#include "ck_test.h"

/* A smooth random picture (blobs, like a blurred photo) of `bands` (1 to
 * 3) 8-bit bands, w x h; the caller unrefs it. */
static inline VipsImage *it_picture(int w, int h, int bands, int seed)
{
    VipsImage *noise[3], *big[3], *joined = NULL, *out = NULL;
    ck_assert(bands >= 1 && bands <= 3);
    for (int b = 0; b < bands; b++) {
        ck_assert_int_eq(vips_gaussnoise(&noise[b], 8, 6, "seed", seed * 3 + b, "mean", 128.0,
                                         "sigma", 60.0, NULL),
                         0);
        ck_assert_int_eq(vips_resize(noise[b], &big[b], w / 8.0, "vscale", h / 6.0, "kernel",
                                     VIPS_KERNEL_CUBIC, NULL),
                         0);
    }
    ck_assert_int_eq(vips_bandjoin(big, &joined, bands, NULL), 0);
    ck_assert_int_eq(vips_cast(joined, &out, VIPS_FORMAT_UCHAR, NULL), 0);
    for (int b = 0; b < bands; b++) {
        g_object_unref(noise[b]);
        g_object_unref(big[b]);
    }
    g_object_unref(joined);
    return out;
}

/* im saved as `format` (".jpg[Q=90]", ".png"...); g_free the result. */
static inline uint8_t *it_encode(VipsImage *im, const char *format, size_t *len)
{
    void *buf = NULL;
    ck_assert_msg(vips_image_write_to_buffer(im, format, &buf, len, NULL) == 0, "save %s: %s",
                  format, vips_error_buffer());
    return buf;
}

#endif
