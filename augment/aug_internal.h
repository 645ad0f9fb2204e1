/* aug_internal.h: what the augment/ files share and nobody else sees.
 *
 * The geometry is one affine map from output pixel indices to source pixel
 * indices (pixel centres at integers), m[6]:
 *     x_src = m[0] * x + m[1] * y + m[2]
 *     y_src = m[3] * x + m[4] * y + m[5]
 * Both resamplers (our gather and libvips' affine) consume this one map, so
 * they cannot disagree about what a sample is.
 */
#ifndef AUG_INTERNAL_H
#define AUG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aug.h"
#include "im.h"

/* Output sides above this are refused. */
#define AUG_MAX_SIDE 16384

typedef struct aug_range {
    double lo, hi;
} aug_range;

struct aug_policy {
    int legacy;
    int flip_h, flip_v;
    aug_range rotate; /* turns (Keras) or degrees (legacy) */
    aug_range zoom;   /* zoom factor = 1 + u: height, and width without zoom_w */
    int zoom_w_set;   /* width drawn on its own from zoom_w */
    aug_range zoom_w;
    aug_range shift_x;    /* fractions of the width */
    aug_range shift_y;    /* fractions of the height */
    aug_range shear;      /* Keras: factor; legacy: radians */
    aug_range contrast;   /* factor = 1 + u */
    aug_range brightness; /* delta = u * 255 */
    aug_fill fill;
    double fill_value; /* pixel units, AUG_FILL_CONSTANT */
    aug_interp interp;
};

/* ---- geometry (geom.c) ---- */

/* The map from output (ow x oh) to a source of sw x sh for sample s and
 * resize mode. */
void aug_geom_map(const aug_sample *s, int ow, int oh, int sw, int sh, aug_resize resize,
                  double m[6]);

/* Re-expresses m, made for a source of sw x sh, for the same picture
 * decoded at dw x dh (shrink-on-load). */
void aug_geom_rescale(double m[6], int sw, int sh, int dw, int dh);

/* The smallest number of source pixels per output pixel along any
 * direction (smallest singular value of the linear part). */
double aug_geom_min_scale(const double m[6]);

/* The largest of 1, 2, 4, 8 not above min_scale. */
int aug_geom_shrink(double min_scale);

/* ---- decode (decode.c) ---- */

/* 8-bit pixels lent by a decoder: rows of stride bytes, bands interleaved. */
typedef struct aug_view {
    const uint8_t *px;
    int w, h;
    size_t stride;
    int bands;
} aug_view;

/* One decoded source. im is the libvips image (NULL for raw pixels read in
 * place); view is valid after aug_decode_pixels until aug_decoded_clear. */
typedef struct aug_decoded {
    void *im;  /* VipsImage * */
    void *reg; /* VipsRegion * */
    aug_view view;
    int full_w, full_h; /* the source's own size, before any shrink */
} aug_decoded;

/* Finds the source's size without decoding pixels (for JPEG from its SOF
 * marker; other formats through a libvips header read kept in d->im).
 * Returns 0, CK_EINVAL (bad raw dimensions), CK_ELIMIT or CK_EDECODE. */
int aug_decode_open(aug_decoded *d, const aug_src *src, int random_access, char *err,
                    size_t errlen);

/* Decodes at 1/shrink (1, 2, 4 or 8) into 8-bit sRGB or grey with up to
 * 4 bands. With want_image, leaves the result as a libvips image in d->im
 * (for the libvips engine); else computes its pixels in the calling thread
 * and sets d->view. With jpeg (a pipe's own decoder; not NULL, and without
 * want_image), JPEGs go to image/'s libjpeg-turbo fast path first and the
 * view then borrows jpeg's buffer (until jpeg's next decode). Returns 0 or
 * CK_EDECODE / CK_ENOMEM. */
int aug_decode_pixels(aug_decoded *d, const aug_src *src, int shrink, int random_access,
                      int want_image, im_jpeg *jpeg, char *err, size_t errlen);

void aug_decoded_clear(aug_decoded *d);

/* The source's display name for messages. */
const char *aug_src_name(const aug_src *src);

/* ---- resampling (warp.c, warp_vips.c) ---- */

typedef struct aug_warp {
    aug_view src;
    int nc;      /* channels read from the source, 1 or 3 (bands 0..nc-1) */
    double m[6]; /* output -> source */
    aug_fill fill;
    float fill_value; /* pixel units */
    aug_interp interp;
    int ow, oh, oc; /* output; oc is nc, or 3 with nc 1 (grey replicated) */
    aug_dtype dtype;
    float scale; /* AUG_F32: stored value = pixel * scale */
} aug_warp;

/* Writes ow * oh * oc values into dst. */
void aug_warp_run(const aug_warp *w, void *dst);

/* The vector bilinear interior of a row as warp.c computes it (32.32
 * source coordinates x, y stepping by dx, dy; fb-bit weights; value * k),
 * n RGB outputs into o (3 floats each), 16 (avx512) or 8 (avx2) at a
 * time: returns how many it did (the caller does the rest). Only when
 * every offset fits in int32. warp_avx512.c, warp_avx2.c. */
typedef int (*aug_bilinear3_fn)(const uint8_t *px, size_t stride, int64_t x, int64_t y, int64_t dx,
                                int64_t dy, int n, int fb, float k, float *o);
int aug_warp_bilinear3_avx512(const uint8_t *px, size_t stride, int64_t x, int64_t y, int64_t dx,
                              int64_t dy, int n, int fb, float k, float *o);
int aug_warp_bilinear3_avx2(const uint8_t *px, size_t stride, int64_t x, int64_t y, int64_t dx,
                            int64_t dy, int n, int fb, float k, float *o);
/* Tier isa's function, NULL for generic or a tier not built (warp.c). */
aug_bilinear3_fn aug_warp_bilinear3_of(ck_isa isa);

/* The same with libvips (embed for the fill, then vips_affine), from the
 * decoded libvips image *im (8-bit, up to 4 bands, channels not yet
 * converted); w->src is ignored. Returns 0 or CK_EDECODE. */
int aug_warp_vips(const aug_warp *w, void *im, int out_channels, void *dst, const char *name,
                  char *err, size_t errlen);

/* RGB(A) -> grey as PIL's convert("L"): (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
static inline uint8_t aug_grey(const uint8_t *p)
{
    return (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16);
}

/* ---- photometric (photo.c) ---- */

/* Applies contrast then brightness to n pixels of c channels in pixel units
 * (clipped to 0..255 after each, as Keras), in place. */
void aug_photo_apply(float *px, size_t n, int c, double contrast, double brightness);

/* Stores n floats in pixel units as dtype: F32 times scale, U8 rounded and
 * clipped. */
void aug_store(const float *px, size_t n, aug_dtype dtype, float scale, void *dst);

/* ---- files (files.c) ---- */

/* Writes a libvips image to path atomically (ck_write_file_atomic);
 * the saver comes from path's suffix. Returns 0 or CK_EIO. */
int aug_save_atomic(void *im, const char *path, char *err, size_t errlen);
/* Encodes a libvips image in memory as enc (JPEG at quality 85) into *out
 * (malloc'd, *len bytes); what names it in messages. Returns 0, CK_EIO,
 * CK_ENOMEM. */
int aug_encode(void *im, aug_encoding enc, void **out, size_t *len, const char *what, char *err,
               size_t errlen);

/* ---- pictures (tools.c) ---- */

/* src decoded as 8-bit pixels, grey for one- and two-band sources, else
 * RGB (alpha dropped), its longer side at most max_side (0: as is; never
 * enlarged), through the pipe the loader uses: *px (malloc'd) holds *w x
 * *h x *c bytes, row-major. Returns 0, CK_EINVAL, CK_EDECODE, CK_ENOMEM. */
int aug_src_pixels(const aug_src *src, int max_side, uint8_t **px, int *w, int *h, int *c,
                   char *err, size_t errlen);

#endif
