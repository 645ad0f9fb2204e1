/* im.h: image — decoding and verifying one image, below datasets/ and
 * augment/, which both decode the same files and must agree on them.
 *
 * Three parts:
 *
 *   set-up    libvips is started once per process, before any thread, with
 *             its operation cache off, untrusted loaders blocked and its
 *             recoverable-trouble warnings dropped; libvips failures become
 *             one-line messages with our context in front.
 *   im_verify one encoded image decoded in full and verified: the loader
 *             chosen (untrusted ones refused), the pixel limit checked on
 *             the declared size, JPEGs shrunk on load, every row handed to
 *             the caller; a bad image comes back as a one-line reason. And
 *             im_shrink_encode, a smaller re-encoded copy to store.
 *   im_jpeg   the libjpeg-turbo fast path: a grey or colour JPEG decoded at
 *             1/shrink into a buffer the decoder keeps, with the same pixels
 *             libvips' jpegload gives. The one rule for what it takes is
 *             here; anything else, and any file libjpeg-turbo decodes with a
 *             warning or an error, is left to libvips, so what is accepted
 *             and what is refused stays libvips' decision.
 *
 * No libvips or libjpeg-turbo type appears here: callers that hold libvips
 * images include <vips/vips.h> themselves.
 */
#ifndef IM_H
#define IM_H

#include <stddef.h>
#include <stdint.h>

#include "ck.h"

/* The default limit on an image's declared width * height, PIL's
 * decompression-bomb limit (89,478,485 pixels): what the catalog refuses
 * by default and augment/ refuses always. */
#define IM_MAX_PIXELS 89478485ull

/* JPEGs with more scans than this are refused before decoding: each
 * progressive scan is a pass over the whole image, so 10,000 tiny scans
 * cost seconds (libjpeg-turbo 3's TJPARAM_SCANLIMIT; the turbojpeg 2 API
 * in use here has none, so the scans are counted). Real progressive JPEGs
 * have about 10. */
#define IM_MAX_JPEG_SCANS 500

/* The number of start-of-scan markers in a JPEG's n bytes. */
int64_t im_jpeg_scans(const void *data, size_t n);

/* The EXIF orientation (1..8) in the first n bytes of a JPEG, 0 when it
 * has none (or they are not a JPEG). Decoding ignores it, as Keras's
 * loaders do; this only tells. */
int im_jpeg_orientation(const void *data, size_t n);

/* ---- set-up ------------------------------------------------------------ */

/* Starts libvips (once per process, before any thread; thread-safe against
 * itself), turns its operation cache off, blocks untrusted loaders and
 * drops libvips' warnings about recoverable decoder trouble (every failure
 * that matters comes back as a message naming the file). argv0 (may be
 * NULL) names the program to libvips when this call is the one that starts
 * it; only the main thread passes one. Returns 0, CK_EIO (libvips failed to
 * start, with its reason) or CK_ETHREAD. */
int im_init(const char *argv0, char *err, size_t errlen);

/* As ck_err, then appends ": " and the first line of libvips' error buffer
 * ("libvips failed" when it is empty), and clears that buffer. Call it
 * right after the failing libvips call, on the same thread; the buffer is
 * process-wide, so when two threads fail at once a message may be the
 * other's. Returns code. */
int im_err_vips(char *err, size_t errlen, int code, const char *fmt, ...) CK_PRINTF(4, 5);

/* ---- the libjpeg-turbo fast path --------------------------------------- */

/* 1 if libjpeg-turbo decodes at scale 1/shrink (1, 2, 4 and 8 with every
 * libjpeg-turbo so far), else 0. Thread-safe. */
int im_jpeg_has_scale(int shrink);

/* 1 if data starts like a JPEG (SOI, then a marker). Thread-safe. */
int im_is_jpeg(const void *data, size_t n);
/* 1 with the width and height of a JPEG's first SOF marker, read from its
 * first bytes without decoding (datasets/ refuses absurd declared sizes
 * before any decoder allocates; augment/ picks the shrink-on-load scale);
 * 0 when data is not a JPEG, or EOI, scan data or the end comes before a
 * SOF with a positive size. Thread-safe. */
int im_jpeg_size(const void *data, size_t n, int *w, int *h);

/* 8-bit pixels lent by a decoder: h rows of w pixels, stride bytes apart,
 * bands (1 grey, 3 RGB) interleaved. */
typedef struct im_pixels {
    const uint8_t *px;
    int w, h;
    size_t stride;
    int bands;
} im_pixels;

/* What im_jpeg_decode did. */
enum {
    IM_JPEG_DECODED = 0,  /* *px holds the image */
    IM_JPEG_DECLINED = 1, /* not for the fast path: libvips decides */
    IM_JPEG_FAILED = 2,   /* libjpeg-turbo stopped on a warning or an error, with
                           * its message; libvips decides whether that refuses it */
};

/* A TurboJPEG handle and the pixel buffer it decodes into, grown only when
 * a bigger image comes. Opaque; one per thread (not shareable). */
typedef struct im_jpeg im_jpeg;

/* Gives a decoder to *out. Returns 0 or CK_ENOMEM with a message
 * ("jpeg decoder: ..."). */
int im_jpeg_create(im_jpeg **out, char *err, size_t errlen);

/* NULL is a no-op. */
void im_jpeg_destroy(im_jpeg *j);

/* Decodes the JPEG data[0..size) at scale 1/shrink into j's buffer, lent
 * as *px until the next call on j or its destruction. The pixels are
 * those of libvips' jpegload with the same shrink (islow DCT, fancy
 * upsampling), cropped as libvips crops a scaled load: w/shrink x h/shrink,
 * rounded down.
 *
 * The fast path takes grey, YCbCr and RGB JPEGs at a scale libjpeg-turbo
 * has (im_jpeg_has_scale) whose header libjpeg-turbo reads and whose sides
 * are at least shrink. Returns
 *   IM_JPEG_DECODED   *px set (1 or 3 bands);
 *   IM_JPEG_DECLINED  anything else (CMYK/YCCK, no such scale, a header
 *                     that is unreadable or ends before the frame, a side
 *                     below shrink): *px and msg untouched;
 *   IM_JPEG_FAILED    libjpeg-turbo stopped on the first warning or error
 *                     (a truncated or corrupt file): its message in msg
 *                     (may be NULL), *px untouched;
 *   CK_ENOMEM         the pixel buffer could not grow (*px untouched; the
 *                     decoder stays usable).
 * Thread-safe for distinct decoders. */
int im_jpeg_decode(im_jpeg *j, const void *data, size_t size, int shrink, im_pixels *px, char *msg,
                   size_t msglen);

/* ---- verifying one encoded image --------------------------------------- */

/* The layout of the rows im_verify lends: h rows of w pixels, bands
 * samples each, interleaved; 8-bit samples, or 16-bit in native byte order
 * when ushort; cmyk when libvips says the bands are CMYK. */
typedef struct im_format {
    int w, h;
    int bands;
    int ushort;
    int cmyk;
} im_format;

/* Where im_verify puts the decoded image: begin once with its layout, then
 * row for y = 0 .. h-1 in order, the row lent for that call only. A nonzero
 * return (a negative code) from either stops decoding, and im_verify
 * returns it. Called on im_verify's thread. */
typedef struct im_sink {
    int (*begin)(void *user, const im_format *f);
    int (*row)(void *user, int y, const uint8_t *row);
    void *user;
} im_sink;

/* What im_verify found (or im_shrink_encode made). */
typedef struct im_info {
    char format[16];   /* the loader: "jpeg", "png", "gif", "webp"...; "" when no
                          loader took the data */
    int width, height; /* the declared size (before shrink-on-load); 0 until the
                          header is read and within the pixel limit */
    int bands;         /* of the decoded image; set with width */
} im_info;

/* A bad image: the reason is in reason. */
enum { IM_REJECTED = 1 };

/* Decodes the encoded image data[0..size) in full (a truncated or corrupt
 * file is caught) and gives its rows to sink. The loader is libvips'
 * choice, with its fail_on=error rule: a file libjpeg only warns about
 * ("Corrupt JPEG data") decodes; a grey or colour JPEG goes through the
 * fast path (im_jpeg_decode) first, and to libvips when that does not
 * decode it. A JPEG is decoded at the smallest DCT scale (1/8, 1/4, 1/2,
 * 1) whose shorter side stays at least min_side, so sink sees about
 * width/shrink x height/shrink; other formats at full size. The declared
 * size is checked against max_pixels before any pixel is decoded.
 * info is overwritten; data is only read. Returns
 *   0             every row given to sink; info set;
 *   IM_REJECTED   a bad image, a one-line reason in reason (truncated to
 *                 reasonlen): "empty file", "not an image", "unsupported
 *                 format (svg: untrusted loader)", "declared size WxH
 *                 exceeds the pixel limit", "header: <libvips' reason>",
 *                 "decode: <libvips' reason>"; info as far as it got;
 *   negative      CK_ENOMEM, or the code sink returned.
 * reason is written only on IM_REJECTED. Thread-safe; needs im_init. */
int im_verify(const void *data, size_t size, uint64_t max_pixels, int min_side, const im_sink *sink,
              im_info *info, char *reason, size_t reasonlen);

/* data[0..size) shrunk so its longest side is at most max_side (never
 * enlarged; EXIF orientation left as stored) and re-encoded: JPEG q 95, or
 * PNG when it has alpha. Returns 0 with the new file in *out (malloc'd; the
 * caller frees it), its length in *outlen and its format ("jpeg", "png"),
 * size and bands in *info; IM_REJECTED with "shrink: <libvips' reason>" or
 * "re-encode: <libvips' reason>" in reason (*out NULL, info untouched); or
 * CK_ENOMEM. Thread-safe; needs im_init. */
int im_shrink_encode(const void *data, size_t size, int max_side, uint8_t **out, size_t *outlen,
                     im_info *info, char *reason, size_t reasonlen);

#endif
