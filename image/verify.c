/* verify.c: one encoded image decoded in full and verified, its rows lent
 * to the caller; and a stored copy shrunk and re-encoded.
 *
 * Every image is decoded in full, because only a full decode catches a
 * truncated or corrupt file; libvips' fail_on=error turns truncation and
 * decoder errors into failures (libjpeg's "corrupt data" warnings are not:
 * such files decode, as in Pillow or TensorFlow). JPEGs, most of the input,
 * are decoded at a reduced DCT scale (shrink-on-load): the entropy decoder
 * still reads every bit, but the inverse DCT and colour conversion run on
 * 1/64 of the pixels.
 *
 * At these image sizes per-image overhead dominates, so this file avoids it
 * where it can: JPEGs are recognised and measured from their SOF marker
 * (no libvips header pass, no loader search), the image is opened with
 * sequential access and pulled through a VipsRegion strip by strip in the
 * calling thread (no threadpool, no copy into a memory image; memory stays
 * bounded by one strip whatever the declared size), and the rows go to the
 * caller's sink straight from those strips.
 *
 * libvips' per-image machinery (operation, image and region objects, its
 * locks) cost about as much CPU as decoding a photo at 1/8 scale, and did
 * not scale to two workers. So grey and colour JPEGs go to im_jpeg first
 * (jpeg.c); a file libjpeg-turbo decodes with any warning or error, or a
 * colour space it does not take (CMYK), goes to libvips, so what is
 * accepted and what is refused stays libvips' decision with fail_on=error.
 * Each call makes its own decoder: the handle is 4.5 KB and 0.15 us to make
 * and free (libjpeg-turbo 2.1), against ~190 us to decode a 250x200 photo.
 *
 * The pixel limit is checked on the declared size, before any pixel is
 * decoded. Loaders that im_init blocked (untrusted: magick, svg...) are
 * recognised here and reported as unsupported, never opened.
 *
 * Reasons are "step: <first line of libvips' error>", without the libvips
 * domain ("VipsJpeg: ", "pngload_buffer: ") that means nothing to a user.
 * libvips' error buffer is process-wide: when two workers fail at the same
 * instant one may read the other's message. Reasons are for people.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "im.h"

enum {
    STRIP_BYTES = 4 << 20, /* decoded bytes pulled per region request */
};

static int reject(char *reason, size_t reasonlen, const char *fmt, ...) CK_PRINTF(3, 4);

static int reject(char *reason, size_t reasonlen, const char *fmt, ...)
{
    if (reason && reasonlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reasonlen, fmt, ap);
        va_end(ap);
    }
    return IM_REJECTED;
}

/* "step: <first line of the libvips error>" without its domain. Takes and
 * clears the error buffer. */
static int reject_vips(char *reason, size_t reasonlen, const char *step)
{
    im_err_vips(reason, reasonlen, 0, "%s", step);
    if (!reason || !reasonlen) {
        return IM_REJECTED;
    }
    size_t head = strlen(step) + 2;
    if (strlen(reason) > head) {
        char *rest = reason + head;
        size_t tok = strcspn(rest, " :");
        if (tok > 0 && rest[tok] == ':' && rest[tok + 1] == ' ') {
            memmove(rest, rest + tok + 2, strlen(rest + tok + 2) + 1);
        }
    }
    return IM_REJECTED;
}

/* The loader nickname for data, or NULL with reason set. */
static const char *find_loader(const void *data, size_t size, char *reason, size_t reasonlen)
{
    if (im_is_jpeg(data, size)) {
        return "jpegload_buffer";
    }
    const char *name = vips_foreign_find_load_buffer(data, size);
    if (!name) {
        vips_error_clear();
        reject(reason, reasonlen, "not an image");
        return NULL;
    }
    GType type = g_type_from_name(name);
    gpointer klass = g_type_class_ref(type);
    const char *nickname = VIPS_OBJECT_CLASS(klass)->nickname;
    int blocked = (VIPS_OPERATION_CLASS(klass)->flags & VIPS_OPERATION_BLOCKED) != 0;
    g_type_class_unref(klass); /* the class lives as long as the process */
    if (blocked) {
        size_t n = strcspn(nickname, "_");
        if (n > 4 && strncmp(nickname + n - 4, "load", 4) == 0) {
            n -= 4;
        }
        reject(reason, reasonlen, "unsupported format (%.*s: untrusted loader)", (int)n, nickname);
        return NULL;
    }
    return nickname;
}

/* Opens data with loader nickname, sequential access and fail_on=error;
 * shrink > 1 for JPEG shrink-on-load. data must outlive the image. The
 * operation is built here rather than through vips_call, which makes a
 * second operation per call to read the argument list and goes through the
 * (disabled) operation cache: at ~0.6 ms per image, that was 4% of it. */
static VipsImage *open_image(const char *nickname, const void *data, size_t size, int shrink)
{
    VipsOperation *op = vips_operation_new(nickname);
    if (!op) {
        return NULL;
    }
    VipsBlob *blob = vips_blob_new(NULL, data, size);
    g_object_set(op, "buffer", blob, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                 VIPS_FAIL_ON_ERROR, NULL);
    vips_area_unref(VIPS_AREA(blob));
    if (shrink > 1) {
        g_object_set(op, "shrink", shrink, NULL);
    }
    VipsImage *im = NULL;
    if (vips_object_build(VIPS_OBJECT(op)) == 0) {
        g_object_get(op, "out", &im, NULL);
    }
    vips_object_unref_outputs(VIPS_OBJECT(op));
    g_object_unref(op);
    return im;
}

/* Pulls every pixel of im through a region in this thread, strip by strip,
 * into sink (8- or 16-bit samples; other formats cast to 8 bits). Returns
 * 0, IM_REJECTED when decoding failed (reason set), or the sink's code. */
static int decode_all(VipsImage *im, const im_sink *sink, char *reason, size_t reasonlen)
{
    VipsImage *cast = NULL;
    VipsImage *src = im;
    if (im->BandFmt != VIPS_FORMAT_UCHAR && im->BandFmt != VIPS_FORMAT_USHORT) {
        if (vips_cast(im, &cast, VIPS_FORMAT_UCHAR, NULL)) {
            return reject_vips(reason, reasonlen, "decode");
        }
        src = cast;
    }
    im_format f = {.w = src->Xsize,
                   .h = src->Ysize,
                   .bands = src->Bands,
                   .ushort = src->BandFmt == VIPS_FORMAT_USHORT,
                   .cmyk = src->Type == VIPS_INTERPRETATION_CMYK};
    int status = sink->begin(sink->user, &f);
    if (status) {
        VIPS_UNREF(cast);
        return status;
    }
    VipsRegion *region = vips_region_new(src);
    size_t line = VIPS_IMAGE_SIZEOF_LINE(src);
    size_t rows = STRIP_BYTES / (line ? line : 1);
    int strip = rows < 1 ? 1 : rows > (size_t)src->Ysize ? src->Ysize : (int)rows;
    for (int top = 0; top < src->Ysize && status == 0; top += strip) {
        VipsRect r = {0, top, src->Xsize, VIPS_MIN(strip, src->Ysize - top)};
        if (vips_region_prepare(region, &r)) {
            status = reject_vips(reason, reasonlen, "decode");
            break;
        }
        for (int y = r.top; y < r.top + r.height && status == 0; y++) {
            status = sink->row(sink->user, y, VIPS_REGION_ADDR(region, 0, y));
        }
    }
    VIPS_UNREF(region);
    VIPS_UNREF(cast);
    return status;
}

/* A clean grey or colour JPEG decoded by the libjpeg-turbo fast path at
 * 1/shrink into sink. Returns 0 (*bands set), 1 when libvips must decide
 * instead, CK_ENOMEM, or the sink's code. */
static int decode_jpeg_direct(const void *data, size_t size, int shrink, const im_sink *sink,
                              int *bands)
{
    im_jpeg *j = NULL;
    if (im_jpeg_create(&j, NULL, 0)) {
        return 1; /* no decoder: libvips decides */
    }
    im_pixels px;
    int rc = im_jpeg_decode(j, data, size, shrink, &px, NULL, 0);
    if (rc == IM_JPEG_DECODED) {
        im_format f = {.w = px.w, .h = px.h, .bands = px.bands};
        rc = sink->begin(sink->user, &f);
        for (int y = 0; y < px.h && rc == 0; y++) {
            rc = sink->row(sink->user, y, px.px + (size_t)y * px.stride);
        }
        if (rc == 0) {
            *bands = px.bands;
        }
    } else if (rc > 0) {
        rc = 1; /* declined, or any warning or error: libvips decides */
    }
    im_jpeg_destroy(j);
    return rc;
}

int im_verify(const void *data, size_t size, uint64_t max_pixels, int min_side, const im_sink *sink,
              im_info *info, char *reason, size_t reasonlen)
{
    memset(info, 0, sizeof *info);
    if (!data || size == 0) {
        return reject(reason, reasonlen, "empty file");
    }
    const char *nickname = find_loader(data, size, reason, reasonlen);
    if (!nickname) {
        return IM_REJECTED;
    }
    const char *load = strstr(nickname, "load");
    snprintf(info->format, sizeof info->format, "%.*s",
             (int)(load ? (size_t)(load - nickname) : strlen(nickname)), nickname);

    VipsImage *im = NULL;
    int w = 0, h = 0;
    int is_jpeg = strcmp(nickname, "jpegload_buffer") == 0;
    int64_t scans = is_jpeg ? im_jpeg_scans(data, size) : 0;
    if (scans > IM_MAX_JPEG_SCANS) {
        return reject(reason, reasonlen,
                      "JPEG with %lld scans (more than %d: refused as too costly to decode)",
                      (long long)scans, IM_MAX_JPEG_SCANS);
    }
    if (is_jpeg && im_jpeg_size(data, size, &w, &h)) {
        if ((uint64_t)w * (uint64_t)h > max_pixels) {
            return reject(reason, reasonlen, "declared size %dx%d exceeds the pixel limit", w, h);
        }
        int shrink = 8;
        while (shrink > 1 && VIPS_MIN(w, h) / shrink < min_side) {
            shrink /= 2;
        }
        int bands = 0;
        int direct = decode_jpeg_direct(data, size, shrink, sink, &bands);
        if (direct < 0) {
            return direct;
        }
        if (direct == 0) {
            info->width = w;
            info->height = h;
            info->bands = bands;
            return 0;
        }
        im = open_image(nickname, data, size, shrink);
    } else {
        im = open_image(nickname, data, size, 1);
        if (im) {
            w = im->Xsize;
            h = im->Ysize;
            if ((uint64_t)w * (uint64_t)h > max_pixels) {
                g_object_unref(im);
                return reject(reason, reasonlen, "declared size %dx%d exceeds the pixel limit", w,
                              h);
            }
        }
    }
    if (!im) {
        return reject_vips(reason, reasonlen, "header");
    }
    info->width = w;
    info->height = h;
    info->bands = im->Bands;
    int status = decode_all(im, sink, reason, reasonlen);
    g_object_unref(im);
    return status;
}

int im_shrink_encode(const void *data, size_t size, int max_side, uint8_t **out, size_t *outlen,
                     im_info *info, char *reason, size_t reasonlen)
{
    VipsImage *t = NULL;
    void *buf = NULL;
    size_t len = 0;
    int status = 0;
    *out = NULL;
    *outlen = 0;
    if (vips_thumbnail_buffer((void *)data, size, &t, max_side, "height", max_side, "size",
                              VIPS_SIZE_DOWN, "no_rotate", TRUE, NULL)) {
        return reject_vips(reason, reasonlen, "shrink");
    }
    int alpha = vips_image_hasalpha(t);
    int rc = alpha ? vips_pngsave_buffer(t, &buf, &len, NULL)
                   : vips_jpegsave_buffer(t, &buf, &len, "Q", 95, NULL);
    if (rc) {
        status = reject_vips(reason, reasonlen, "re-encode");
    } else if (!(*out = malloc(len ? len : 1))) {
        status = CK_ENOMEM;
    } else {
        memcpy(*out, buf, len);
        *outlen = len;
        memset(info, 0, sizeof *info);
        snprintf(info->format, sizeof info->format, "%s", alpha ? "png" : "jpeg");
        info->width = t->Xsize;
        info->height = t->Ysize;
        info->bands = t->Bands;
    }
    g_free(buf);
    g_object_unref(t);
    return status;
}
