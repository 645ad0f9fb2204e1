/* filter.c: the lecture's classic kernels as libvips convolutions.
 *
 * vips_conv correlates (it does not flip the kernel) and keeps the image
 * size, extending edges by copying: a [-1 0 1] kernel therefore responds
 * positively to intensity rising to the right, and a flat border gives 0.
 * Edge detectors work on the grey image (0.299 R + 0.587 G + 0.114 B), as
 * in the lecture; sharpen keeps the colour bands. Responses are computed
 * in float so that signs and magnitudes are exact.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "aug_internal.h"

typedef struct kernel {
    int w, h;
    double k[9];
} kernel;

static const kernel K_PREWITT_X = {3, 3, {-1, 0, 1, -1, 0, 1, -1, 0, 1}};
static const kernel K_PREWITT_Y = {3, 3, {-1, -1, -1, 0, 0, 0, 1, 1, 1}};
static const kernel K_SOBEL_X = {3, 3, {-1, 0, 1, -2, 0, 2, -1, 0, 1}};
static const kernel K_SOBEL_Y = {3, 3, {-1, -2, -1, 0, 0, 0, 1, 2, 1}};
static const kernel K_LAP_X = {3, 1, {1, -2, 1}};
static const kernel K_LAP_Y = {1, 3, {1, -2, 1}};
static const kernel K_LAP = {3, 3, {0, 1, 0, 1, -4, 1, 0, 1, 0}};
static const kernel K_SHARPEN = {3, 3, {0, -1, 0, -1, 5, -1, 0, -1, 0}};

static const char *names[AUG_FILTER_COUNT] = {
    "prewitt-x", "prewitt-y",   "prewitt",     "sobel-x",   "sobel-y",
    "sobel",     "laplacian-x", "laplacian-y", "laplacian", "sharpen",
};

static const char help_text[] =
    "Filters (correlation, edges extended by copying; edge filters on the grey image):\n"
    "  prewitt-x    [-1 0 1; -1 0 1; -1 0 1]\n"
    "  prewitt-y    [-1 -1 -1; 0 0 0; 1 1 1]\n"
    "  prewitt      sqrt(prewitt-x^2 + prewitt-y^2)\n"
    "  sobel-x      [-1 0 1; -2 0 2; -1 0 1]\n"
    "  sobel-y      [-1 -2 -1; 0 0 0; 1 2 1]\n"
    "  sobel        sqrt(sobel-x^2 + sobel-y^2)\n"
    "  laplacian-x  [1 -2 1]\n"
    "  laplacian-y  [1; -2; 1]\n"
    "  laplacian    laplacian-x + laplacian-y = [0 1 0; 1 -4 1; 0 1 0]\n"
    "  sharpen      [0 -1 0; -1 5 -1; 0 -1 0], per colour band\n"
    "Views (--view) of a response in an 8-bit image, m the largest |response|:\n"
    "  signed     128 + 127 * response / m: zero mid-grey (default for the x/y\n"
    "             kernels and the Laplacians)\n"
    "  magnitude  255 * |response| / m (default for prewitt and sobel)\n"
    "  abs        |response| clipped to 0..255, unscaled\n"
    "sharpen writes the sharpened image, clipped to 0..255.\n";

static const char *view_names[AUG_VIEW_COUNT] = {"default", "signed", "magnitude", "abs"};

int aug_filter_view_parse(const char *name, aug_filter_view *out, char *err, size_t errlen)
{
    for (int i = 1; i < AUG_VIEW_COUNT; i++) {
        if (strcmp(name, view_names[i]) == 0) {
            *out = (aug_filter_view)i;
            return 0;
        }
    }
    return ck_err(err, errlen, CK_EINVAL, "filter: view %s: unknown (signed, magnitude, abs)",
                  name);
}

const char *aug_filter_view_name(aug_filter_view v)
{
    return (unsigned)v < AUG_VIEW_COUNT ? view_names[v] : NULL;
}

aug_filter_view aug_filter_default_view(aug_filter f)
{
    switch (f) {
    case AUG_FILTER_PREWITT:
    case AUG_FILTER_SOBEL: return AUG_VIEW_MAGNITUDE;
    case AUG_FILTER_SHARPEN: return AUG_VIEW_DEFAULT;
    default: return AUG_VIEW_SIGNED;
    }
}

const char *aug_filter_help(void)
{
    return help_text;
}

const char *aug_filter_name(aug_filter f)
{
    return (unsigned)f < AUG_FILTER_COUNT ? names[f] : NULL;
}

int aug_filter_parse(const char *name, aug_filter *out, char *err, size_t errlen)
{
    for (int i = 0; i < AUG_FILTER_COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (aug_filter)i;
            return 0;
        }
    }
    return ck_err(err, errlen, CK_EINVAL,
                  "filter: %s: unknown filter (prewitt-x, prewitt-y, prewitt, sobel-x, sobel-y, "
                  "sobel, laplacian-x, laplacian-y, laplacian, sharpen)",
                  name);
}

int aug_filter_bands(aug_filter f, int bands)
{
    if (f != AUG_FILTER_SHARPEN) {
        return 1;
    }
    return bands == 2 ? 1 : bands == 4 ? 3 : bands;
}

/* The one or two kernels of f (b NULL when one). */
static void kernels_of(aug_filter f, const kernel **a, const kernel **b)
{
    static const kernel *pairs[AUG_FILTER_COUNT][2] = {
        {&K_PREWITT_X, NULL}, {&K_PREWITT_Y, NULL}, {&K_PREWITT_X, &K_PREWITT_Y},
        {&K_SOBEL_X, NULL},   {&K_SOBEL_Y, NULL},   {&K_SOBEL_X, &K_SOBEL_Y},
        {&K_LAP_X, NULL},     {&K_LAP_Y, NULL},     {&K_LAP, NULL},
        {&K_SHARPEN, NULL},
    };
    *a = pairs[f][0];
    *b = pairs[f][1];
}

static VipsImage *conv(VipsImage *in, const kernel *k)
{
    VipsImage *m = vips_image_new_matrix_from_array(k->w, k->h, k->k, k->w * k->h), *out = NULL;
    if (!m) {
        return NULL;
    }
    if (vips_conv(in, &out, m, "precision", VIPS_PRECISION_FLOAT, NULL)) {
        out = NULL;
    }
    g_object_unref(m);
    return out;
}

/* The float input of f: grey for edge filters, colour bands for sharpen. */
static int filter_input(aug_filter f, VipsImage *in, VipsImage **out)
{
    VipsImage *t[3] = {NULL, NULL, NULL};
    int rc = 0, b = in->Bands;
    int keep = aug_filter_bands(f, b);
    if (keep == 1 && b >= 3) {
        double w[3] = {0.299, 0.587, 0.114};
        t[0] = vips_image_new_matrix_from_array(3, 1, w, 3);
        rc = !t[0] || vips_extract_band(in, &t[1], 0, "n", 3, NULL) ||
             vips_recomb(t[1], &t[2], t[0], NULL) || vips_cast(t[2], out, VIPS_FORMAT_FLOAT, NULL);
    } else {
        rc = vips_extract_band(in, &t[0], 0, "n", keep, NULL) ||
             vips_cast(t[0], out, VIPS_FORMAT_FLOAT, NULL);
    }
    for (int i = 0; i < 3; i++) {
        if (t[i]) {
            g_object_unref(t[i]);
        }
    }
    return rc;
}

/* Filters in into a float image of aug_filter_bands() bands: the response,
 * or the gradient magnitude. */
static int filter_image(aug_filter f, VipsImage *in, VipsImage **out)
{
    const kernel *ka, *kb;
    kernels_of(f, &ka, &kb);
    VipsImage *x = NULL, *gx = NULL, *gy = NULL;
    if (filter_input(f, in, &x)) {
        return -1;
    }
    int rc = !(gx = conv(x, ka));
    if (rc == 0 && kb) {
        /* sqrt(gx^2 + gy^2) */
        VipsImage *t[3] = {NULL, NULL, NULL};
        rc = !(gy = conv(x, kb)) || vips_multiply(gx, gx, &t[0], NULL) ||
             vips_multiply(gy, gy, &t[1], NULL) || vips_add(t[0], t[1], &t[2], NULL) ||
             vips_pow_const1(t[2], out, 0.5, NULL);
        for (int i = 0; i < 3; i++) {
            if (t[i]) {
                g_object_unref(t[i]);
            }
        }
    } else if (rc == 0) {
        *out = gx;
        gx = NULL;
    }
    g_object_unref(x);
    if (gx) {
        g_object_unref(gx);
    }
    if (gy) {
        g_object_unref(gy);
    }
    return rc;
}

int aug_filter_raw(aug_filter f, const uint8_t *src, int w, int h, int bands, float *dst, char *err,
                   size_t errlen)
{
    if ((unsigned)f >= AUG_FILTER_COUNT || w < 1 || h < 1 || bands < 1 || bands > 4 || !src) {
        return ck_err(err, errlen, CK_EINVAL, "filter: bad arguments (%dx%dx%d)", w, h, bands);
    }
    int rc = im_init(NULL, err, errlen);
    if (rc) {
        return rc;
    }
    VipsImage *in = vips_image_new_from_memory(src, (size_t)w * h * bands, w, h, bands,
                                               VIPS_FORMAT_UCHAR),
              *out = NULL;
    if (!in || filter_image(f, in, &out)) {
        if (in) {
            g_object_unref(in);
        }
        return im_err_vips(err, errlen, CK_EDECODE, "filter: %s", names[f]);
    }
    size_t bytes = (size_t)w * h * aug_filter_bands(f, bands) * sizeof(float);
    VipsRegion *reg = vips_region_new(out);
    VipsRect all = {0, 0, w, h};
    if (!reg || vips_region_prepare(reg, &all)) {
        rc = im_err_vips(err, errlen, CK_EDECODE, "filter: %s", names[f]);
    } else {
        size_t row = bytes / h;
        for (int y = 0; y < h; y++) {
            memcpy((char *)dst + (size_t)y * row, VIPS_REGION_ADDR(reg, 0, y), row);
        }
    }
    if (reg) {
        g_object_unref(reg);
    }
    g_object_unref(out);
    g_object_unref(in);
    return rc;
}

/* The 8-bit view v of the float response r (see the top of the file). */
static int view_image(aug_filter f, aug_filter_view v, VipsImage *r, VipsImage **out)
{
    VipsImage *t[3] = {NULL, NULL, NULL};
    double m = 0;
    int rc = 0;
    if (f == AUG_FILTER_SHARPEN) {
        rc = vips_cast(r, out, VIPS_FORMAT_UCHAR, NULL);
    } else if (v == AUG_VIEW_ABS) {
        rc = vips_abs(r, &t[0], NULL) || vips_cast(t[0], out, VIPS_FORMAT_UCHAR, NULL);
    } else if (vips_abs(r, &t[0], NULL) || vips_max(t[0], &m, NULL)) {
        rc = -1;
    } else {
        /* +0.5: the cast truncates. A flat image (m = 0) gives 128 or 0. */
        double k = m > 0 ? (v == AUG_VIEW_SIGNED ? 127.0 : 255.0) / m : 0;
        rc = v == AUG_VIEW_SIGNED ? vips_linear1(r, &t[1], k, 128.5, NULL)
                                  : vips_linear1(t[0], &t[1], k, 0.5, NULL);
        rc = rc || vips_cast(t[1], out, VIPS_FORMAT_UCHAR, NULL);
    }
    for (int i = 0; i < 3; i++) {
        if (t[i]) {
            g_object_unref(t[i]);
        }
    }
    return rc;
}

/* The view to use: the filter's own for DEFAULT; CK_EINVAL for one that
 * does not fit the filter. */
static int resolve_view(aug_filter f, aug_filter_view *view, char *err, size_t errlen)
{
    if ((unsigned)f >= AUG_FILTER_COUNT || (unsigned)*view >= AUG_VIEW_COUNT) {
        return ck_err(err, errlen, CK_EINVAL, "filter: unknown filter %d or view %d", (int)f,
                      (int)*view);
    }
    if (*view == AUG_VIEW_DEFAULT) {
        *view = aug_filter_default_view(f);
    } else if (f == AUG_FILTER_SHARPEN) {
        return ck_err(err, errlen, CK_EINVAL,
                      "filter sharpen: view %s: sharpen writes an image, which has no views",
                      view_names[*view]);
    } else if (*view == AUG_VIEW_SIGNED && aug_filter_default_view(f) == AUG_VIEW_MAGNITUDE) {
        return ck_err(err, errlen, CK_EINVAL,
                      "filter %s: view signed: a gradient magnitude is never negative (views: "
                      "magnitude, abs)",
                      names[f]);
    }
    return 0;
}

int aug_filter_file(aug_filter f, aug_filter_view view, const char *in_path, const char *out_path,
                    char *err, size_t errlen)
{
    int rc = resolve_view(f, &view, err, errlen);
    if (rc || (rc = im_init(NULL, err, errlen))) {
        return rc;
    }
    void *data = NULL;
    size_t size = 0;
    if ((rc = aug_read_file(in_path, (size_t)256 << 20, &data, &size, err, errlen))) {
        return rc;
    }
    VipsImage *t[5] = {NULL, NULL, NULL, NULL, NULL};
    t[0] = vips_image_new_from_buffer(data, size, "", "fail_on", VIPS_FAIL_ON_ERROR, NULL);
    if (!t[0]) {
        rc = im_err_vips(err, errlen, CK_EDECODE, "%s: decode", in_path);
    } else if (vips_colourspace(
                   t[0], &t[1],
                   t[0]->Bands <= 2 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB, NULL) ||
               vips_cast(t[1], &t[2], VIPS_FORMAT_UCHAR, NULL) || filter_image(f, t[2], &t[3]) ||
               view_image(f, view, t[3], &t[4])) {
        rc = im_err_vips(err, errlen, CK_EDECODE, "%s: filter %s", in_path, names[f]);
    } else {
        rc = aug_save_atomic(t[4], out_path, err, errlen);
    }
    for (int i = 0; i < 5; i++) {
        if (t[i]) {
            g_object_unref(t[i]);
        }
    }
    free(data);
    return rc;
}

int aug_filter_png(aug_filter f, aug_filter_view view, const aug_src *src, int max_side, void **png,
                   size_t *len, char *err, size_t errlen)
{
    *png = NULL;
    *len = 0;
    int rc = resolve_view(f, &view, err, errlen);
    if (rc) {
        return rc;
    }
    uint8_t *px = NULL;
    int w = 0, h = 0, c = 0;
    if ((rc = aug_src_pixels(src, max_side, &px, &w, &h, &c, err, errlen))) {
        return rc;
    }
    VipsImage *t[3] = {NULL, NULL, NULL};
    t[0] = vips_image_new_from_memory(px, (size_t)w * h * c, w, h, c, VIPS_FORMAT_UCHAR);
    if (!t[0] || filter_image(f, t[0], &t[1]) || view_image(f, view, t[1], &t[2])) {
        rc = im_err_vips(err, errlen, CK_EDECODE, "%s: filter %s", aug_src_name(src), names[f]);
    } else {
        rc = aug_encode(t[2], AUG_PNG, png, len, aug_src_name(src), err, errlen);
    }
    for (int i = 0; i < 3; i++) {
        if (t[i]) {
            g_object_unref(t[i]);
        }
    }
    free(px);
    return rc;
}
