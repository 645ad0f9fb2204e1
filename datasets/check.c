/* check.c: decoding and verifying one entry, and its two hashes.
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
 * bounded by one strip whatever the declared size), and the grey thumbnail
 * for the perceptual hash is accumulated from those strips directly.
 *
 * libvips' per-image machinery (operation, image and region objects, its
 * locks) cost about as much CPU as decoding a photo at 1/8 scale, and did
 * not scale to two workers. So grey and colour JPEGs go to libjpeg-turbo
 * directly first, asking for the same pixels libvips' jpegload asks
 * libjpeg for (scale 1/shrink, islow DCT, fancy upsampling, cropped to
 * whole blocks); a file libjpeg-turbo decodes with any warning or error,
 * or a colour space it does not take (CMYK), goes to libvips, so what is
 * accepted and what is refused stays libvips' decision with fail_on=error
 * (image/'s im_jpeg: the same decoder and rule as augment/'s).
 *
 * The pixel limit is checked on the declared size, before any pixel is
 * decoded. Loaders that im_init blocked (untrusted: magick, svg...) are
 * recognised here and reported as unsupported, never opened.
 *
 * The perceptual hash is the classic DCT pHash: a 32x32 grey thumbnail by
 * area averaging, its 2-D DCT-II, the 8x8 lowest frequencies without DC;
 * bit i is set when coefficient i is above the median of the 63. Re-encoded
 * or resized copies of a picture land within a few bits of each other.
 *
 * libvips' error buffer is process-wide: when two workers fail at the same
 * instant one may read the other's message. Reasons are for people.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>
#include <xxhash.h>

#include "ds.h"
#include "im.h"

enum {
    THUMB = 32,            /* the grey thumbnail of the perceptual hash */
    LOW = 8,               /* low frequencies kept per axis */
    JPEG_MIN_SIDE = 16,    /* smallest side we accept after DCT scaling */
    STRIP_BYTES = 4 << 20, /* decoded bytes pulled per region request */
};

/* ---- the grey thumbnail ------------------------------------------------ */

/* Area average of the source into THUMB x THUMB bins. Source pixel x spans
 * bins [x*THUMB/w, ((x+1)*THUMB-1)/w]; a pixel straddling two bins counts in
 * both, which is close enough to a box filter and covers every bin even
 * when the source is smaller than the thumbnail. Both ends grow with x, so
 * each bin column takes a contiguous run of columns, [xs, xe], and a bin's
 * pixel count is its column's count times its row's. This runs on every
 * pixel of every image: rows are turned grey by a loop per pixel layout,
 * then summed run by run. */
typedef struct grey_acc {
    int width, height;
    double *line;             /* one row of grey values */
    int xs[THUMB], xe[THUMB]; /* the columns of each bin column (xe < xs: none) */
    double rowcount[THUMB];   /* source rows counted in each bin row */
    double sum[THUMB * THUMB];
} grey_acc;

static int grey_init(grey_acc *g, int width, int height)
{
    memset(g, 0, sizeof *g);
    g->width = width;
    g->height = height;
    g->line = malloc((size_t)width * sizeof *g->line);
    if (!g->line) {
        return CK_ENOMEM;
    }
    for (int b = 0; b < THUMB; b++) {
        g->xs[b] = 0;
        g->xe[b] = -1;
    }
    for (int x = width - 1; x >= 0; x--) {
        int lo = (int)((int64_t)x * THUMB / width);
        int hi = (int)(((int64_t)x * THUMB + THUMB - 1) / width);
        for (int b = lo; b <= hi; b++) {
            if (g->xe[b] < 0) {
                g->xe[b] = x;
            }
            g->xs[b] = x;
        }
    }
    return 0;
}

static void grey_free(grey_acc *g)
{
    free(g->line);
    g->line = NULL;
}

/* Pixel layout of the rows given to grey_row. */
typedef struct pix_fmt {
    int bands;
    int ushort; /* 16-bit samples (else 8-bit) */
    int cmyk;
} pix_fmt;

static double sample_at(const VipsPel *p, const pix_fmt *f, int k)
{
    if (f->ushort) {
        unsigned short v;
        memcpy(&v, p + 2 * k, sizeof v);
        return v / 257.0;
    }
    return p[k];
}

static double pixel_grey(const VipsPel *p, const pix_fmt *f)
{
    if (f->bands < 3) {
        return sample_at(p, f, 0); /* grey, or grey + alpha */
    }
    double r = sample_at(p, f, 0), g = sample_at(p, f, 1), b = sample_at(p, f, 2);
    double y = 0.299 * r + 0.587 * g + 0.114 * b;
    if (f->cmyk && f->bands >= 4) {
        return (255.0 - y) * (255.0 - sample_at(p, f, 3)) / 255.0;
    }
    return y;
}

/* v[x] = pixel_grey of pixel x of row, with the same arithmetic: 8-bit
 * RGB(A) and grey rows get their own loops. */
static void grey_values(const VipsPel *row, const pix_fmt *f, int width, double *v)
{
    size_t step = (size_t)f->bands * (f->ushort ? 2 : 1);
    if (!f->ushort && f->bands < 3) {
        for (int x = 0; x < width; x++) {
            v[x] = row[(size_t)x * step];
        }
    } else if (!f->ushort && !f->cmyk) {
        for (int x = 0; x < width; x++) {
            const VipsPel *p = row + (size_t)x * step;
            v[x] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
    } else {
        for (int x = 0; x < width; x++) {
            v[x] = pixel_grey(row + (size_t)x * step, f);
        }
    }
}

static void grey_row(grey_acc *g, int y, const VipsPel *row, const pix_fmt *f)
{
    double rsum[THUMB];
    const double *v = g->line;
    grey_values(row, f, g->width, g->line);
    for (int b = 0; b < THUMB; b++) {
        double s = 0;
        for (int x = g->xs[b]; x <= g->xe[b]; x++) {
            s += v[x];
        }
        rsum[b] = s;
    }
    int ylo = (int)((int64_t)y * THUMB / g->height);
    int yhi = (int)(((int64_t)y * THUMB + THUMB - 1) / g->height);
    for (int by = ylo; by <= yhi; by++) {
        g->rowcount[by] += 1;
        for (int bx = 0; bx < THUMB; bx++) {
            g->sum[by * THUMB + bx] += rsum[bx];
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t grey_phash(const grey_acc *g)
{
    static const double pi = 3.14159265358979323846;
    double f[THUMB * THUMB], c[LOW][THUMB], rows[THUMB][LOW], d[LOW * LOW];
    for (int by = 0; by < THUMB; by++) {
        for (int bx = 0; bx < THUMB; bx++) {
            double count = g->rowcount[by] * (g->xe[bx] - g->xs[bx] + 1);
            int i = by * THUMB + bx;
            f[i] = count > 0 ? g->sum[i] / count : 0.0;
        }
    }
    /* c[u][x] = cos(u * a), a = (2x+1) pi / 64, by Chebyshev's recurrence:
     * 32 cosines per image instead of 256. */
    for (int x = 0; x < THUMB; x++) {
        double ca = cos((2 * x + 1) * pi / (2 * THUMB));
        c[0][x] = 1.0;
        c[1][x] = ca;
        for (int u = 2; u < LOW; u++) {
            c[u][x] = 2.0 * ca * c[u - 1][x] - c[u - 2][x];
        }
    }
    for (int y = 0; y < THUMB; y++) {
        for (int u = 0; u < LOW; u++) {
            double s = 0;
            for (int x = 0; x < THUMB; x++) {
                s += f[y * THUMB + x] * c[u][x];
            }
            rows[y][u] = s;
        }
    }
    for (int v = 0; v < LOW; v++) {
        for (int u = 0; u < LOW; u++) {
            double s = 0;
            for (int y = 0; y < THUMB; y++) {
                s += c[v][y] * rows[y][u];
            }
            d[v * LOW + u] = s;
        }
    }
    double ac[LOW * LOW - 1];
    memcpy(ac, d + 1, sizeof ac);
    qsort(ac, LOW * LOW - 1, sizeof ac[0], cmp_double);
    double median = ac[(LOW * LOW - 1) / 2];
    /* Rounding noise must not set bits: a flat image has no AC energy. */
    double eps = 1e-9 * (fabs(d[0]) + 1.0);
    uint64_t h = 0;
    for (int i = 1; i < LOW * LOW; i++) {
        if (d[i] - median > eps) {
            h |= (uint64_t)1 << i;
        }
    }
    return h;
}

int ds_phash_distance(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ b; /* population count, branch-free (SWAR) */
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

/* ---- results ----------------------------------------------------------- */

static void reject(ds_sample *out, const char *fmt, ...) CK_PRINTF(2, 3);

static void reject(ds_sample *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    out->ok = 0;
}

/* "step: <first line of the libvips error>", without the libvips domain
 * ("VipsJpeg: ", "pngload_buffer: ") that means nothing to a user. Takes and
 * clears the error buffer. */
static void reject_vips(ds_sample *out, const char *step)
{
    char msg[sizeof out->reason];
    im_err_vips(msg, sizeof msg, 0, "%s", step);
    size_t head = strlen(step) + 2;
    if (strlen(msg) > head) {
        char *rest = msg + head;
        size_t tok = strcspn(rest, " :");
        if (tok > 0 && rest[tok] == ':' && rest[tok + 1] == ' ') {
            memmove(rest, rest + tok + 2, strlen(rest + tok + 2) + 1);
        }
    }
    reject(out, "%s", msg);
}

static int keep_bytes(ds_sample *out, const void *data, size_t size)
{
    out->data = malloc(size ? size : 1);
    if (!out->data) {
        return CK_ENOMEM;
    }
    memcpy(out->data, data, size);
    out->size = size;
    return 0;
}

static void hash_bytes(const void *data, size_t size, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, size));
    memcpy(out, c.digest, 16);
}

static uint64_t effective_max_pixels(const ds_check_opts *o)
{
    return o && o->max_pixels ? o->max_pixels : ds_limits_default().max_pixels;
}

/* ---- raw pixels -------------------------------------------------------- */

static int check_raw(const ds_entry *e, const ds_check_opts *o, ds_sample *out)
{
    snprintf(out->format, sizeof out->format, "raw");
    if (e->width <= 0 || e->height <= 0 || e->bands < 1 || e->bands > 4) {
        reject(out, "raw: bad shape %dx%dx%d", e->width, e->height, e->bands);
        return 0;
    }
    uint64_t pixels = (uint64_t)e->width * (uint64_t)e->height;
    if (pixels > effective_max_pixels(o)) {
        reject(out, "declared size %dx%d exceeds the pixel limit", e->width, e->height);
        return 0;
    }
    if (pixels * (uint64_t)e->bands != e->size || !e->data) {
        reject(out, "raw: %dx%dx%d pixels need %llu bytes, entry has %zu", e->width, e->height,
               e->bands, (unsigned long long)(pixels * (uint64_t)e->bands), e->size);
        return 0;
    }
    grey_acc g;
    if (grey_init(&g, e->width, e->height)) {
        return CK_ENOMEM;
    }
    pix_fmt f = {.bands = e->bands};
    size_t line = (size_t)e->width * (size_t)e->bands;
    for (int y = 0; y < e->height; y++) {
        grey_row(&g, y, e->data + (size_t)y * line, &f);
    }
    out->phash = grey_phash(&g);
    grey_free(&g);
    if (keep_bytes(out, e->data, e->size)) {
        return CK_ENOMEM;
    }
    out->width = out->orig_width = e->width;
    out->height = out->orig_height = e->height;
    out->bands = e->bands;
    out->ok = 1;
    return 0;
}

/* ---- encoded files ----------------------------------------------------- */

/* Opens data with loader nickname, sequential access and fail_on=error;
 * shrink > 1 for JPEG shrink-on-load. The operation is built here rather
 * than through vips_call, which makes a second operation per call to read
 * the argument list and goes through the (disabled) operation cache: at
 * ~0.6 ms per image, that was 4% of it. */
static VipsImage *open_image(const char *nickname, const ds_entry *e, int shrink)
{
    VipsOperation *op = vips_operation_new(nickname);
    if (!op) {
        return NULL;
    }
    VipsBlob *blob = vips_blob_new(NULL, e->data, e->size);
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
 * into the grey thumbnail. Returns 0, 1 when decoding failed (out rejected),
 * or CK_ENOMEM. */
static int decode_all(VipsImage *im, ds_sample *out)
{
    VipsImage *cast = NULL;
    VipsImage *src = im;
    if (im->BandFmt != VIPS_FORMAT_UCHAR && im->BandFmt != VIPS_FORMAT_USHORT) {
        if (vips_cast(im, &cast, VIPS_FORMAT_UCHAR, NULL)) {
            reject_vips(out, "decode");
            return 1;
        }
        src = cast;
    }
    pix_fmt f = {.bands = src->Bands,
                 .ushort = src->BandFmt == VIPS_FORMAT_USHORT,
                 .cmyk = src->Type == VIPS_INTERPRETATION_CMYK};
    grey_acc g;
    if (grey_init(&g, src->Xsize, src->Ysize)) {
        VIPS_UNREF(cast);
        return CK_ENOMEM;
    }
    VipsRegion *region = vips_region_new(src);
    size_t line = VIPS_IMAGE_SIZEOF_LINE(src);
    size_t rows = STRIP_BYTES / (line ? line : 1);
    int strip = rows < 1 ? 1 : rows > (size_t)src->Ysize ? src->Ysize : (int)rows;
    int status = 0;
    for (int top = 0; top < src->Ysize && status == 0; top += strip) {
        VipsRect r = {0, top, src->Xsize, VIPS_MIN(strip, src->Ysize - top)};
        if (vips_region_prepare(region, &r)) {
            reject_vips(out, "decode");
            status = 1;
            break;
        }
        for (int y = r.top; y < r.top + r.height; y++) {
            grey_row(&g, y, VIPS_REGION_ADDR(region, 0, y), &f);
        }
    }
    if (status == 0) {
        out->phash = grey_phash(&g);
    }
    grey_free(&g);
    VIPS_UNREF(region);
    VIPS_UNREF(cast);
    return status;
}

static int keep_checked(const ds_entry *e, const ds_check_opts *o, int w, int h, ds_sample *out);

/* A clean grey or colour JPEG decoded by image/'s libjpeg-turbo fast path
 * at 1/shrink into the grey thumbnail (see the top). Returns 0 (out's phash
 * and bands set), 1 when libvips must decide instead, or CK_ENOMEM.
 *
 * ds_check_entry keeps nothing between entries, so each JPEG makes its own
 * decoder and pixel buffer, as it always has: the handle is 4.5 KB and
 * 0.15 us to make and free (libjpeg-turbo 2.1), against ~190 us to decode
 * a 250x200 photo; a decoder kept per worker would save only that. */
static int decode_jpeg_direct(const ds_entry *e, int shrink, ds_sample *out)
{
    im_jpeg *j = NULL;
    if (im_jpeg_create(&j, NULL, 0)) {
        return 1; /* no decoder: libvips decides */
    }
    im_pixels px;
    int rc = im_jpeg_decode(j, e->data, e->size, shrink, &px, NULL, 0);
    if (rc == IM_JPEG_DECODED) {
        grey_acc g;
        if (grey_init(&g, px.w, px.h)) {
            rc = CK_ENOMEM;
        } else {
            pix_fmt f = {.bands = px.bands};
            for (int y = 0; y < px.h; y++) {
                grey_row(&g, y, px.px + (size_t)y * px.stride, &f);
            }
            out->phash = grey_phash(&g);
            out->bands = px.bands;
            grey_free(&g);
        }
    } else if (rc > 0) {
        rc = 1; /* declined, or any warning or error: libvips decides */
    }
    im_jpeg_destroy(j);
    return rc;
}

/* Replaces out->data by the image shrunk to max_side (longest side) and
 * re-encoded: JPEG q95, or PNG when it has alpha. */
static int shrink_stored(const ds_entry *e, int max_side, ds_sample *out)
{
    VipsImage *t = NULL;
    void *buf = NULL;
    size_t len = 0;
    int status = 0;
    if (vips_thumbnail_buffer(e->data, e->size, &t, max_side, "height", max_side, "size",
                              VIPS_SIZE_DOWN, "no_rotate", TRUE, NULL)) {
        reject_vips(out, "shrink");
        return 1;
    }
    int alpha = vips_image_hasalpha(t);
    int rc = alpha ? vips_pngsave_buffer(t, &buf, &len, NULL)
                   : vips_jpegsave_buffer(t, &buf, &len, "Q", 95, NULL);
    if (rc) {
        reject_vips(out, "re-encode");
        status = 1;
    } else {
        free(out->data);
        out->data = NULL;
        if (keep_bytes(out, buf, len)) {
            status = CK_ENOMEM;
        } else {
            snprintf(out->format, sizeof out->format, "%s", alpha ? "png" : "jpeg");
            out->width = t->Xsize;
            out->height = t->Ysize;
            out->bands = t->Bands;
        }
    }
    g_free(buf);
    g_object_unref(t);
    return status;
}

/* The loader for data, or NULL with out rejected. */
static const char *find_loader(const ds_entry *e, ds_sample *out)
{
    if (im_is_jpeg(e->data, e->size)) {
        return "jpegload_buffer";
    }
    const char *name = vips_foreign_find_load_buffer(e->data, e->size);
    if (!name) {
        vips_error_clear();
        reject(out, "not an image");
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
        reject(out, "unsupported format (%.*s: untrusted loader)", (int)n, nickname);
        return NULL;
    }
    return nickname;
}

static int check_encoded(const ds_entry *e, const ds_check_opts *o, ds_sample *out)
{
    if (!e->data || e->size == 0) {
        reject(out, "empty file");
        return 0;
    }
    const char *nickname = find_loader(e, out);
    if (!nickname) {
        return 0;
    }
    const char *load = strstr(nickname, "load");
    snprintf(out->format, sizeof out->format, "%.*s",
             (int)(load ? (size_t)(load - nickname) : strlen(nickname)), nickname);

    uint64_t max_pixels = effective_max_pixels(o);
    VipsImage *im = NULL;
    int w = 0, h = 0;
    if (strcmp(nickname, "jpegload_buffer") == 0 && im_jpeg_size(e->data, e->size, &w, &h)) {
        if ((uint64_t)w * (uint64_t)h > max_pixels) {
            reject(out, "declared size %dx%d exceeds the pixel limit", w, h);
            return 0;
        }
        int shrink = 8;
        while (shrink > 1 && VIPS_MIN(w, h) / shrink < JPEG_MIN_SIDE) {
            shrink /= 2;
        }
        int direct = decode_jpeg_direct(e, shrink, out);
        if (direct < 0) {
            return direct;
        }
        if (direct == 0) {
            out->orig_width = out->width = w;
            out->orig_height = out->height = h;
            return keep_checked(e, o, w, h, out);
        }
        im = open_image(nickname, e, shrink);
    } else {
        im = open_image(nickname, e, 1);
        if (im) {
            w = im->Xsize;
            h = im->Ysize;
            if ((uint64_t)w * (uint64_t)h > max_pixels) {
                g_object_unref(im);
                reject(out, "declared size %dx%d exceeds the pixel limit", w, h);
                return 0;
            }
        }
    }
    if (!im) {
        reject_vips(out, "header");
        return 0;
    }
    out->orig_width = out->width = w;
    out->orig_height = out->height = h;
    out->bands = im->Bands;
    int status = decode_all(im, out);
    g_object_unref(im);
    if (status) {
        return status < 0 ? status : 0;
    }
    return keep_checked(e, o, w, h, out);
}

/* A checked image: its bytes kept (shrunk past max_side), out ok. */
static int keep_checked(const ds_entry *e, const ds_check_opts *o, int w, int h, ds_sample *out)
{
    int status;
    if (keep_bytes(out, e->data, e->size)) {
        return CK_ENOMEM;
    }
    if (o && o->max_side > 0 && VIPS_MAX(w, h) > o->max_side) {
        status = shrink_stored(e, o->max_side, out);
        if (status) {
            return status < 0 ? status : 0;
        }
    }
    out->ok = 1;
    return 0;
}

int ds_check_entry(const ds_entry *e, const ds_check_opts *o, ds_sample *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (e->data && e->size) {
        hash_bytes(e->data, e->size, out->content_hash);
    } else {
        hash_bytes("", 0, out->content_hash);
    }
    if (e->reject) {
        reject(out, "%s", e->reject);
        return 0;
    }
    int rc = e->kind == DS_ENTRY_RAW ? check_raw(e, o, out) : check_encoded(e, o, out);
    if (rc < 0) {
        ds_sample_clear(out);
        return ck_err(err, errlen, rc, "%s: check: out of memory", e->name ? e->name : "?");
    }
    if (!out->ok) {
        free(out->data);
        out->data = NULL;
        out->size = 0;
    }
    return 0;
}

void ds_sample_clear(ds_sample *s)
{
    if (s) {
        free(s->data);
        s->data = NULL;
        s->size = 0;
    }
}
