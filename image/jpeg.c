/* jpeg.c: JPEG pixels straight from libjpeg-turbo (the TurboJPEG API), for
 * datasets/' checks and augment/'s pipes alike.
 *
 * Profiles of ingest and of augmentation showed libvips' per-image
 * machinery (GObject construction, region buffers, its locks) costing more
 * CPU than libjpeg itself on small photos, and not scaling to two workers.
 * So grey and colour JPEGs come here first. A decoder keeps one TurboJPEG
 * handle and one pixel buffer, grown only when a bigger image comes, so a
 * caller that keeps its decoder allocates nothing in the steady state.
 *
 * The pixels are libvips' own: libvips' jpegload at shrink N also asks
 * libjpeg for scale_denom N with the default (islow DCT, fancy upsampling)
 * settings, so both paths run the same libjpeg code, and libvips crops a
 * scaled load to whole source blocks (w / N, rounded down, as vips_shrink
 * would), so we crop the same. The rule for what comes here is written
 * once, in im_jpeg_decode: grey, YCbCr and RGB JPEGs at a scale
 * libjpeg-turbo has. CMYK/YCCK, a missing scale, and any file that
 * libjpeg-turbo decodes with a warning or an error go back to libvips, so
 * what is accepted and what is refused stays libvips' decision with
 * fail_on=error: libvips refuses a truncated file but keeps one with
 * "Corrupt JPEG data", which libjpeg only warns about. TurboJPEG reports a
 * warning as a failure either way; TJFLAG_STOPONWARNING stops at the first
 * one, so a bad file costs no more than its good part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "im.h"

struct im_jpeg {
    tjhandle tj;
    uint8_t *buf;
    size_t cap;
};

/* TIFF numbers of either byte order. */
static unsigned tiff16(const uint8_t *p, int be)
{
    return be ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t tiff32(const uint8_t *p, int be)
{
    return be ? (uint32_t)tiff16(p, 1) << 16 | tiff16(p + 2, 1)
              : (uint32_t)tiff16(p + 2, 0) << 16 | tiff16(p, 0);
}

/* Tag 0x0112 of IFD0 of the n bytes of TIFF at t; 0 when absent. */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    if (n < 8 || !((t[0] == 'I' && t[1] == 'I') || (t[0] == 'M' && t[1] == 'M'))) {
        return 0;
    }
    int be = t[0] == 'M';
    uint32_t ifd = tiff32(t + 4, be);
    if (tiff16(t + 2, be) != 42 || ifd > n - 2) {
        return 0;
    }
    unsigned count = tiff16(t + ifd, be);
    for (unsigned k = 0; k < count && ifd + 2 + 12 * (size_t)(k + 1) <= n; k++) {
        const uint8_t *e = t + ifd + 2 + 12 * (size_t)k;
        if (tiff16(e, be) == 0x0112 && tiff16(e + 2, be) == 3) {
            unsigned v = tiff16(e + 8, be);
            return v >= 1 && v <= 8 ? (int)v : 0;
        }
    }
    return 0;
}

int im_jpeg_orientation(const void *data, size_t n)
{
    const uint8_t *d = data;
    size_t i = 2;
    if (!im_is_jpeg(data, n)) {
        return 0;
    }
    while (i + 4 <= n && d[i] == 0xFF) {
        unsigned marker = d[i + 1];
        if (marker == 0xFF) {
            i++; /* fill byte */
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) {
            break; /* EXIF comes before the image data */
        }
        size_t len = (size_t)d[i + 2] << 8 | d[i + 3];
        if (len < 2 || i + 2 + len > n) {
            break;
        }
        if (marker == 0xE1 && len >= 8 && memcmp(d + i + 4, "Exif\0\0", 6) == 0) {
            return tiff_orientation(d + i + 10, len - 8);
        }
        i += 2 + len;
    }
    return 0;
}

int64_t im_jpeg_scans(const void *data, size_t n)
{
    /* In entropy-coded data an 0xFF is followed by 0x00 (stuffing) or a
     * restart marker, so FF DA is always a real start of scan. */
    const uint8_t *d = data;
    int64_t scans = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        scans += d[i] == 0xFF && d[i + 1] == 0xDA;
    }
    return scans;
}

int im_is_jpeg(const void *data, size_t n)
{
    const uint8_t *d = data;
    return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
}

int im_jpeg_size(const void *data, size_t n, int *w, int *h)
{
    const uint8_t *d = data;
    if (!im_is_jpeg(d, n)) {
        return 0;
    }
    size_t i = 2;
    while (i + 4 <= n) {
        if (d[i] != 0xFF) {
            return 0;
        }
        unsigned m = d[i + 1];
        if (m == 0xFF) {
            i++; /* fill byte */
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
            i += 2; /* markers without a length */
            continue;
        }
        if (m == 0xD9 || m == 0xDA) {
            return 0; /* EOI or scan data before any SOF */
        }
        size_t len = (size_t)d[i + 2] << 8 | d[i + 3];
        if (len < 2) {
            return 0;
        }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (len < 7 || i + 9 > n) {
                return 0;
            }
            *h = d[i + 5] << 8 | d[i + 6];
            *w = d[i + 7] << 8 | d[i + 8];
            return *w > 0 && *h > 0;
        }
        i += 2 + len;
    }
    return 0;
}

int im_jpeg_has_scale(int shrink)
{
    int n = 0;
    tjscalingfactor *sf = tjGetScalingFactors(&n);
    for (int i = 0; sf && i < n; i++) {
        if (sf[i].num == 1 && sf[i].denom == shrink) {
            return 1;
        }
    }
    return 0;
}

int im_jpeg_create(im_jpeg **out, char *err, size_t errlen)
{
    *out = NULL;
    im_jpeg *j = calloc(1, sizeof *j);
    if (!j) {
        return ck_err(err, errlen, CK_ENOMEM, "jpeg decoder: out of memory");
    }
    j->tj = tjInitDecompress();
    if (!j->tj) {
        free(j);
        return ck_err(err, errlen, CK_ENOMEM, "jpeg decoder: %s", tjGetErrorStr2(NULL));
    }
    *out = j;
    return 0;
}

void im_jpeg_destroy(im_jpeg *j)
{
    if (j) {
        if (j->tj) {
            tjDestroy(j->tj);
        }
        free(j->buf);
        free(j);
    }
}

int im_jpeg_decode(im_jpeg *j, const void *data, size_t size, int shrink, im_pixels *px, char *msg,
                   size_t msglen)
{
    /* TurboJPEG 2 reports success without setting these for a stream that
     * ends before its frame header (tables only): it reads as 0 x 0. */
    int w = 0, h = 0, subsamp = -1, cs = -1;
    unsigned char *src = (unsigned char *)data; /* TurboJPEG 2's API; it only reads */
    unsigned long len = (unsigned long)size;
    if (!j->tj || !im_jpeg_has_scale(shrink)) {
        return IM_JPEG_DECLINED;
    }
    if (tjDecompressHeader3(j->tj, src, len, &w, &h, &subsamp, &cs) != 0) {
        /* A failed header read leaves TurboJPEG 2's decompressor inside the
         * header, and the next image's header read then succeeds without a
         * size: the next image gets a fresh handle (without one, every
         * image goes to libvips). */
        tjDestroy(j->tj);
        j->tj = tjInitDecompress();
        return IM_JPEG_DECLINED;
    }
    if ((cs != TJCS_GRAY && cs != TJCS_YCbCr && cs != TJCS_RGB) || w / shrink < 1 ||
        h / shrink < 1) {
        return IM_JPEG_DECLINED;
    }
    tjscalingfactor sf = {1, shrink};
    int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
    int bands = cs == TJCS_GRAY ? 1 : 3;
    size_t need = (size_t)sw * sh * bands;
    if (need > j->cap) {
        uint8_t *b = realloc(j->buf, need);
        if (!b) {
            return CK_ENOMEM;
        }
        j->buf = b;
        j->cap = need;
    }
    if (tjDecompress2(j->tj, src, len, j->buf, sw, sw * bands, sh,
                      bands == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
        if (msg && msglen) {
            snprintf(msg, msglen, "%s", tjGetErrorStr2(j->tj));
        }
        return IM_JPEG_FAILED;
    }
    *px = (im_pixels){j->buf, w / shrink, h / shrink, (size_t)sw * bands, bands};
    return IM_JPEG_DECODED;
}
