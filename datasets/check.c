/* check.c: checking one entry, and its two hashes.
 *
 * An encoded entry is decoded in full and verified by image/'s im_verify
 * (the loader, the pixel limit on the declared size, shrink-on-load, the
 * rule for what is refused); it lends the decoded rows, and this file turns
 * them into the grey thumbnail of the perceptual hash as they come, so no
 * decoded image is ever held. A raw entry (IDX, HODA) is checked against
 * its declared shape and its pixels go to the same thumbnail. A photo
 * larger than max_side is stored as a smaller re-encoded copy
 * (im_shrink_encode); its hashes stay those of the original.
 *
 * The perceptual hash is the classic DCT pHash: a 32x32 grey thumbnail by
 * area averaging, its 2-D DCT-II, the 8x8 lowest frequencies without DC;
 * bit i is set when coefficient i is above the median of the 63. Re-encoded
 * or resized copies of a picture land within a few bits of each other.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ds.h"
#include "im.h"

enum {
    THUMB = 32,         /* the grey thumbnail of the perceptual hash */
    LOW = 8,            /* low frequencies kept per axis */
    JPEG_MIN_SIDE = 16, /* smallest side we accept after DCT scaling */
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
    im_format fmt; /* of the rows im_verify lends */
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

static double sample_at(const uint8_t *p, const im_format *f, int k)
{
    if (f->ushort) {
        unsigned short v;
        memcpy(&v, p + 2 * k, sizeof v);
        return v / 257.0;
    }
    return p[k];
}

static double pixel_grey(const uint8_t *p, const im_format *f)
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
static void grey_values(const uint8_t *row, const im_format *f, int width, double *v)
{
    size_t step = (size_t)f->bands * (f->ushort ? 2 : 1);
    if (!f->ushort && f->bands < 3) {
        for (int x = 0; x < width; x++) {
            v[x] = row[(size_t)x * step];
        }
    } else if (!f->ushort && !f->cmyk) {
        for (int x = 0; x < width; x++) {
            const uint8_t *p = row + (size_t)x * step;
            v[x] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
    } else {
        for (int x = 0; x < width; x++) {
            v[x] = pixel_grey(row + (size_t)x * step, f);
        }
    }
}

static void grey_row(grey_acc *g, int y, const uint8_t *row, const im_format *f)
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

/* im_verify's sink: the rows of a decoded image into the thumbnail. */
static int grey_begin(void *user, const im_format *f)
{
    grey_acc *g = user;
    if (grey_init(g, f->w, f->h)) {
        return CK_ENOMEM;
    }
    g->fmt = *f;
    return 0;
}

static int grey_put_row(void *user, int y, const uint8_t *row)
{
    grey_acc *g = user;
    grey_row(g, y, row, &g->fmt);
    return 0;
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
    im_format f = {.bands = e->bands};
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

/* Replaces out->data by the image shrunk to max_side (longest side) and
 * re-encoded. Returns 0, 1 when that failed (out rejected), or CK_ENOMEM. */
static int shrink_stored(const ds_entry *e, int max_side, ds_sample *out)
{
    uint8_t *data = NULL;
    size_t size = 0;
    im_info info;
    int rc = im_shrink_encode(e->data, e->size, max_side, &data, &size, &info, out->reason,
                              sizeof out->reason);
    if (rc) {
        out->ok = 0;
        return rc;
    }
    free(out->data);
    out->data = data;
    out->size = size;
    snprintf(out->format, sizeof out->format, "%.*s", (int)sizeof out->format - 1, info.format);
    out->width = info.width;
    out->height = info.height;
    out->bands = info.bands;
    return 0;
}

/* A checked image: its bytes kept (shrunk past max_side), out ok. */
static int keep_checked(const ds_entry *e, const ds_check_opts *o, int w, int h, ds_sample *out)
{
    int status;
    if (keep_bytes(out, e->data, e->size)) {
        return CK_ENOMEM;
    }
    if (o && o->max_side > 0 && (w > h ? w : h) > o->max_side) {
        status = shrink_stored(e, o->max_side, out);
        if (status) {
            return status < 0 ? status : 0;
        }
    }
    out->ok = 1;
    return 0;
}

static int check_encoded(const ds_entry *e, const ds_check_opts *o, ds_sample *out)
{
    grey_acc g;
    g.line = NULL; /* grey_init sets the rest */
    im_sink sink = {grey_begin, grey_put_row, &g};
    im_info info;
    int rc = im_verify(e->data, e->size, effective_max_pixels(o), JPEG_MIN_SIDE, &sink, &info,
                       out->reason, sizeof out->reason);
    snprintf(out->format, sizeof out->format, "%.*s", (int)sizeof out->format - 1, info.format);
    out->orig_width = out->width = info.width;
    out->orig_height = out->height = info.height;
    out->bands = info.bands;
    if (rc == 0) {
        out->phash = grey_phash(&g);
    }
    grey_free(&g);
    if (rc) {
        out->ok = 0;
        return rc < 0 ? rc : 0;
    }
    return keep_checked(e, o, info.width, info.height, out);
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
