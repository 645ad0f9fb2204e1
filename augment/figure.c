/* figure.c: figures of many small pictures with titles, as the book draws
 * a convnet's activations, filters and class activation maps.
 *
 * A figure is a title over panels stacked one under the other; a panel is
 * a title over a grid of tiles, and may end in a colour bar. Tiles are
 * turned into 8-bit RGB at their display size when they are added (so a
 * figure of thousands of channels holds only what it will draw), and the
 * layout is computed when the figure is rendered: every panel centred in
 * the widest one's width, on white. Titles are set by libvips' text
 * operator (Pango and fontconfig), the one text renderer the module
 * already links, so any script the installed fonts cover is drawn.
 *
 * Display choices follow matplotlib's, as the book's figures were made
 * with it: a small map is enlarged by whole factors with nearest
 * neighbours (its pixels show as squares, as imshow draws them), a large
 * one shrunk by averaging; one-band maps go through a colour map (viridis,
 * matplotlib's default, for activations; turbo, a perceptually smoother
 * jet, for heat maps), sampled from matplotlib at 33 points and
 * interpolated linearly (within 3 levels of its 256-entry tables);
 * Blues, for counts such as a confusion matrix's, is matplotlib's own 9
 * stops, interpolated the same way.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "aug_internal.h"

enum {
    MARGIN = 16,     /* around the figure */
    PANEL_GAP = 18,  /* between panels */
    TITLE_GAP = 6,   /* between a title and what it names */
    BAR_H = 12,      /* a colour bar's height */
    TITLE_PT = 20,   /* the figure's title, pixels */
    PANEL_PT = 15,   /* a panel's title */
    MAX_SIDE = 32768 /* a figure's side, at most */
};

static const uint8_t cmap_viridis[33][3] = {
    {68, 1, 84},    {71, 13, 96},   {72, 24, 106},  {72, 35, 116},  {71, 45, 123},  {69, 55, 129},
    {66, 64, 134},  {62, 73, 137},  {59, 82, 139},  {55, 91, 141},  {51, 99, 141},  {47, 107, 142},
    {44, 114, 142}, {41, 122, 142}, {38, 130, 142}, {35, 137, 142}, {33, 145, 140}, {31, 152, 139},
    {31, 160, 136}, {34, 167, 133}, {40, 174, 128}, {50, 182, 122}, {63, 188, 115}, {78, 195, 107},
    {94, 201, 98},  {112, 207, 87}, {132, 212, 75}, {152, 216, 62}, {173, 220, 48}, {194, 223, 35},
    {216, 226, 25}, {236, 229, 27}, {253, 231, 37},
};

static const uint8_t cmap_turbo[33][3] = {
    {48, 18, 59},   {57, 42, 115},  {64, 64, 162},  {68, 86, 199},  {70, 107, 227}, {70, 128, 246},
    {66, 148, 255}, {55, 168, 250}, {40, 188, 235}, {28, 205, 216}, {24, 221, 194}, {31, 233, 175},
    {50, 242, 152}, {78, 249, 125}, {109, 254, 98}, {139, 255, 75}, {164, 252, 60}, {185, 246, 53},
    {205, 236, 52}, {223, 223, 55}, {238, 207, 58}, {248, 190, 57}, {253, 172, 52}, {254, 150, 43},
    {251, 126, 33}, {244, 102, 23}, {235, 80, 14},  {223, 63, 8},   {208, 47, 5},   {190, 33, 2},
    {169, 22, 1},   {146, 11, 1},   {122, 4, 3},
};

static const uint8_t cmap_blues[9][3] = {
    {0xf7, 0xfb, 0xff}, {0xde, 0xeb, 0xf7}, {0xc6, 0xdb, 0xef},
    {0x9e, 0xca, 0xe1}, {0x6b, 0xae, 0xd6}, {0x42, 0x92, 0xc6},
    {0x21, 0x71, 0xb5}, {0x08, 0x51, 0x9c}, {0x08, 0x30, 0x6b},
};

void aug_cmap_rgb(aug_cmap cmap, uint8_t v, uint8_t rgb[3])
{
    const uint8_t(*t)[3] = cmap == AUG_CMAP_VIRIDIS ? cmap_viridis
                           : cmap == AUG_CMAP_TURBO ? cmap_turbo
                           : cmap == AUG_CMAP_BLUES ? cmap_blues
                                                    : NULL;
    if (!t) {
        rgb[0] = rgb[1] = rgb[2] = v;
        return;
    }
    /* level v at v/255 of the way through the table's intervals */
    const int n = cmap == AUG_CMAP_BLUES ? 8 : 32;
    int p = v * n, i = p / 255, f = p % 255;
    if (i == n) {
        i = n - 1, f = 255;
    }
    for (int b = 0; b < 3; b++) {
        rgb[b] = (uint8_t)((t[i][b] * (255 - f) + t[i + 1][b] * f + 127) / 255);
    }
}

/* ---- float maps to 8 bits ------------------------------------------------ */

static float fmap_at(const aug_fmap *m, int x, int y, int b)
{
    return m->v[((size_t)y * m->w + x) * (size_t)m->stride + b];
}

int aug_fmap_to_u8(const aug_fmap *m, aug_scale scale, uint8_t *out)
{
    if (!m->v || m->w < 1 || m->h < 1 || (m->bands != 1 && m->bands != 3) || m->stride < m->bands ||
        (unsigned)scale >= AUG_SCALE_COUNT) {
        return CK_EINVAL;
    }
    const size_t n = (size_t)m->w * m->h * m->bands;
    double sum = 0, sum2 = 0, amax = 0, vmax = 0;
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
            for (int b = 0; b < m->bands; b++) {
                double v = (double)fmap_at(m, x, y, b);
                sum += v;
                sum2 += v * v;
                amax = fmax(amax, fabs(v));
                vmax = fmax(vmax, v);
            }
    const double mean = sum / (double)n, sd = sqrt(fmax(0, sum2 / (double)n - mean * mean));
    size_t i = 0;
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
            for (int b = 0; b < m->bands; b++, i++) {
                double v = (double)fmap_at(m, x, y, b), o;
                switch (scale) {
                case AUG_SCALE_STANDARD:
                    /* sd tiny against the values: a constant map */
                    o = amax == 0                   ? 0
                        : sd <= 1e-6 * amax + 1e-30 ? 128
                                                    : 128 + 64 * (v - mean) / sd;
                    break;
                case AUG_SCALE_SIGNED: o = amax > 0 ? 128 + 127 * v / amax : 128; break;
                case AUG_SCALE_MAX: o = vmax > 0 ? 255 * v / vmax : 0; break;
                case AUG_SCALE_COUNT:
                default: o = 0; break;
                }
                o = o != o ? 0 : o; /* NaN */
                out[i] = (uint8_t)fmin(255, fmax(0, o + 0.5));
            }
    return 0;
}

/* ---- resampling to a tile -------------------------------------------------- */

/* The display size of a w x h picture in a panel of cell: enlarged by the
 * largest whole factor that fits, or shrunk to fit. */
static void tile_size(int w, int h, int cell, int *tw, int *th)
{
    int side = w > h ? w : h;
    if (side <= cell) {
        int k = cell / side;
        *tw = w * k;
        *th = h * k;
    } else {
        *tw = (int)fmax(1, round((double)w * cell / side));
        *th = (int)fmax(1, round((double)h * cell / side));
    }
}

/* src (w, h, bands 1 or 3) -> dst (tw, th, 3): nearest neighbours when
 * enlarging, the average of the covered source pixels when shrinking;
 * one band through cmap. */
static void resample(const uint8_t *src, int w, int h, int bands, aug_cmap cmap, uint8_t *dst,
                     int tw, int th)
{
    for (int y = 0; y < th; y++) {
        int y0 = (int)((int64_t)y * h / th), y1 = (int)(((int64_t)y + 1) * h / th);
        y1 = y1 > y0 ? y1 : y0 + 1;
        for (int x = 0; x < tw; x++) {
            int x0 = (int)((int64_t)x * w / tw), x1 = (int)(((int64_t)x + 1) * w / tw);
            x1 = x1 > x0 ? x1 : x0 + 1;
            unsigned acc[3] = {0, 0, 0}, cnt = (unsigned)((y1 - y0) * (x1 - x0));
            for (int sy = y0; sy < y1; sy++)
                for (int sx = x0; sx < x1; sx++)
                    for (int b = 0; b < bands; b++) {
                        acc[b] += src[((size_t)sy * w + sx) * bands + b];
                    }
            uint8_t *o = dst + ((size_t)y * tw + x) * 3;
            if (bands == 1) {
                aug_cmap_rgb(cmap, (uint8_t)((acc[0] + cnt / 2) / cnt), o);
            } else {
                for (int b = 0; b < 3; b++) {
                    o[b] = (uint8_t)((acc[b] + cnt / 2) / cnt);
                }
            }
        }
    }
}

/* ---- the figure ------------------------------------------------------------ */

typedef struct tile {
    int w, h;
    uint8_t *rgb;
} tile;

typedef struct panel {
    char *title;
    int cols, cell;
    aug_cmap cmap;
    tile *tiles;
    int ntiles, cap;
    char *bar_lo, *bar_hi; /* a colour bar when set */
} panel;

struct aug_figure {
    char *title;
    panel *panels;
    int npanels, cap;
};

int aug_figure_create(aug_figure **out, const char *title, char *err, size_t errlen)
{
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->title = strdup(title ? title : ""))) {
        free(*out);
        *out = NULL;
        return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
    }
    return 0;
}

void aug_figure_destroy(aug_figure *f)
{
    if (!f) {
        return;
    }
    for (int i = 0; i < f->npanels; i++) {
        panel *p = &f->panels[i];
        for (int j = 0; j < p->ntiles; j++) {
            free(p->tiles[j].rgb);
        }
        free(p->tiles);
        free(p->title);
        free(p->bar_lo);
        free(p->bar_hi);
    }
    free(f->panels);
    free(f->title);
    free(f);
}

int aug_figure_panel(aug_figure *f, const char *title, int cols, int cell, aug_cmap cmap, char *err,
                     size_t errlen)
{
    if (cols < 1 || cols > 1024 || cell < 1 || cell > 4096 || (unsigned)cmap >= AUG_CMAP_COUNT) {
        return ck_err(err, errlen, CK_EINVAL, "figure: panel of %d columns of %d pixels", cols,
                      cell);
    }
    if (f->npanels == f->cap) {
        int cap = f->cap ? 2 * f->cap : 8;
        panel *p = realloc(f->panels, (size_t)cap * sizeof *p);
        if (!p) {
            return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
        }
        f->panels = p;
        f->cap = cap;
    }
    panel *p = &f->panels[f->npanels];
    memset(p, 0, sizeof *p);
    if (!(p->title = strdup(title ? title : ""))) {
        return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
    }
    p->cols = cols;
    p->cell = cell;
    p->cmap = cmap;
    f->npanels++;
    return 0;
}

int aug_figure_add_pixels(aug_figure *f, const uint8_t *px, int w, int h, int bands, char *err,
                          size_t errlen)
{
    if (!f->npanels) {
        return ck_err(err, errlen, CK_EINVAL, "figure: a tile before any panel");
    }
    if (!px || w < 1 || h < 1 || w > AUG_MAX_SIDE || h > AUG_MAX_SIDE ||
        (bands != 1 && bands != 3)) {
        return ck_err(err, errlen, CK_EINVAL, "figure: a tile of %dx%dx%d", w, h, bands);
    }
    panel *p = &f->panels[f->npanels - 1];
    if (p->ntiles == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        tile *t = realloc(p->tiles, (size_t)cap * sizeof *t);
        if (!t) {
            return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
        }
        p->tiles = t;
        p->cap = cap;
    }
    tile *t = &p->tiles[p->ntiles];
    tile_size(w, h, p->cell, &t->w, &t->h);
    if (!(t->rgb = malloc((size_t)t->w * t->h * 3))) {
        return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
    }
    resample(px, w, h, bands, p->cmap, t->rgb, t->w, t->h);
    p->ntiles++;
    return 0;
}

int aug_figure_add_map(aug_figure *f, const aug_fmap *m, aug_scale scale, char *err, size_t errlen)
{
    if (!m->v || m->w < 1 || m->h < 1 || m->w > AUG_MAX_SIDE || m->h > AUG_MAX_SIDE) {
        return ck_err(err, errlen, CK_EINVAL, "figure: a map of %dx%d", m->w, m->h);
    }
    uint8_t *px = malloc((size_t)m->w * m->h * (m->bands > 0 ? m->bands : 1));
    if (!px) {
        return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
    }
    int rc = aug_fmap_to_u8(m, scale, px)
                 ? ck_err(err, errlen, CK_EINVAL, "figure: a map of %dx%dx%d, stride %td", m->w,
                          m->h, m->bands, m->stride)
                 : aug_figure_add_pixels(f, px, m->w, m->h, m->bands, err, errlen);
    free(px);
    return rc;
}

int aug_figure_colorbar(aug_figure *f, const char *lo, const char *hi, char *err, size_t errlen)
{
    if (!f->npanels) {
        return ck_err(err, errlen, CK_EINVAL, "figure: a colour bar before any panel");
    }
    panel *p = &f->panels[f->npanels - 1];
    free(p->bar_lo);
    free(p->bar_hi);
    p->bar_lo = strdup(lo ? lo : "");
    p->bar_hi = strdup(hi ? hi : "");
    if (!p->bar_lo || !p->bar_hi) {
        return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
    }
    return 0;
}

/* ---- rendering ------------------------------------------------------------- */

/* A text set by Pango: its alpha mask in *mask (w x h bytes, malloc'd),
 * wrapped at width pixels. An empty text is 0 x 0. Returns 0 or
 * CK_EDECODE. */
static int text_mask(const char *text, int px, int bold, int width, uint8_t **mask, int *w, int *h,
                     char *err, size_t errlen)
{
    *mask = NULL;
    *w = *h = 0;
    if (!text[0]) {
        return 0;
    }
    char *esc = g_markup_escape_text(text, -1), font[64];
    snprintf(font, sizeof font, "DejaVu Sans%s %d", bold ? " Bold" : "", px);
    VipsImage *im = NULL;
    int rc = vips_text(&im, esc, "font", font, "width", width, "dpi", 72, "align",
                       VIPS_ALIGN_CENTRE, NULL);
    g_free(esc);
    size_t len = 0;
    void *mem = rc ? NULL : vips_image_write_to_memory(im, &len);
    if (!mem || im->Bands != 1 || im->BandFmt != VIPS_FORMAT_UCHAR) {
        g_free(mem);
        if (im) {
            g_object_unref(im);
        }
        return im_err_vips(err, errlen, CK_EDECODE, "figure: text '%s'", text);
    }
    *w = im->Xsize;
    *h = im->Ysize;
    g_object_unref(im);
    *mask = malloc(len ? len : 1);
    if (*mask) {
        memcpy(*mask, mem, len);
    }
    g_free(mem);
    return *mask ? 0 : ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
}

typedef struct canvas {
    uint8_t *px;
    int w, h;
} canvas;

/* Draws mask (w x h) at (x0, y0) in dark grey, clipped to the canvas. */
static void draw_mask(canvas *c, const uint8_t *mask, int w, int h, int x0, int y0)
{
    static const uint8_t ink[3] = {0x22, 0x22, 0x22};
    for (int y = 0; y < h && y0 + y < c->h; y++)
        for (int x = x0 < 0 ? -x0 : 0; x < w && x0 + x < c->w; x++) {
            unsigned a = mask[(size_t)y * w + x];
            uint8_t *o = c->px + ((size_t)(y0 + y) * c->w + x0 + x) * 3;
            for (int b = 0; b < 3; b++) {
                o[b] = (uint8_t)((o[b] * (255 - a) + ink[b] * a + 127) / 255);
            }
        }
}

static void draw_rgb(canvas *c, const uint8_t *rgb, int w, int h, int x0, int y0)
{
    for (int y = 0; y < h; y++) {
        memcpy(c->px + ((size_t)(y0 + y) * c->w + x0) * 3, rgb + (size_t)y * w * 3, (size_t)w * 3);
    }
}

/* A panel's grid: its cell (the largest tile), columns, rows, gap. */
typedef struct grid {
    int cw, ch, cols, rows, gap, w, h;
} grid;

static grid panel_grid(const panel *p)
{
    grid g = {0};
    for (int i = 0; i < p->ntiles; i++) {
        g.cw = p->tiles[i].w > g.cw ? p->tiles[i].w : g.cw;
        g.ch = p->tiles[i].h > g.ch ? p->tiles[i].h : g.ch;
    }
    g.cols = p->ntiles < p->cols ? p->ntiles : p->cols;
    g.rows = g.cols ? (p->ntiles + g.cols - 1) / g.cols : 0;
    g.gap = g.cw < 60 ? 6 : g.cw < 96 ? 3 : 4; /* small tiles (kernels) set well apart */
    g.w = g.cols ? g.cols * g.cw + (g.cols - 1) * g.gap : 0;
    g.h = g.rows ? g.rows * g.ch + (g.rows - 1) * g.gap : 0;
    return g;
}

/* The figure as an 8-bit RGB libvips image in *out. */
static int render(const aug_figure *f, VipsImage **out, char *err, size_t errlen)
{
    int rc = im_init(NULL, err, errlen);
    if (rc) {
        return rc;
    }
    /* the width: the widest grid, at least 640 pixels for the titles */
    int inner = 0;
    for (int i = 0; i < f->npanels; i++) {
        grid g = panel_grid(&f->panels[i]);
        inner = g.w > inner ? g.w : inner;
    }
    inner = inner < 640 ? 640 : inner;
    /* titles set at that width, then the height */
    int n = f->npanels + 1;
    uint8_t **mask = calloc((size_t)n * 3, sizeof *mask);
    int *mw = calloc((size_t)n * 3, sizeof *mw), *mh = calloc((size_t)n * 3, sizeof *mh);
    if (!mask || !mw || !mh) {
        free(mask);
        free(mw);
        free(mh);
        return ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
    }
    rc = text_mask(f->title, TITLE_PT, 1, inner, &mask[0], &mw[0], &mh[0], err, errlen);
    int64_t height = MARGIN + mh[0] + MARGIN;
    for (int i = 0; rc == 0 && i < f->npanels; i++) {
        const panel *p = &f->panels[i];
        int k = 3 * (i + 1);
        rc = text_mask(p->title, PANEL_PT, 0, inner, &mask[k], &mw[k], &mh[k], err, errlen);
        if (rc == 0 && p->bar_lo) {
            rc = text_mask(p->bar_lo, PANEL_PT - 3, 0, inner / 2, &mask[k + 1], &mw[k + 1],
                           &mh[k + 1], err, errlen);
        }
        if (rc == 0 && p->bar_hi) {
            rc = text_mask(p->bar_hi, PANEL_PT - 3, 0, inner / 2, &mask[k + 2], &mw[k + 2],
                           &mh[k + 2], err, errlen);
        }
        grid g = panel_grid(p);
        int bar =
            p->bar_lo ? TITLE_GAP + BAR_H + 2 + (mh[k + 1] > mh[k + 2] ? mh[k + 1] : mh[k + 2]) : 0;
        height += (i ? PANEL_GAP : 0) + mh[k] + TITLE_GAP + g.h + bar;
    }
    height += MARGIN;
    int width = inner + 2 * MARGIN;
    canvas c = {0};
    if (rc == 0 && (height > MAX_SIDE || width > MAX_SIDE)) {
        rc = ck_err(err, errlen, CK_ELIMIT, "figure: %dx%lld pixels is too large", width,
                    (long long)height);
    }
    if (rc == 0 && !(c.px = malloc((size_t)width * (size_t)height * 3))) {
        rc = ck_err(err, errlen, CK_ENOMEM, "figure: out of memory");
    }
    if (rc == 0) {
        c.w = width;
        c.h = (int)height;
        memset(c.px, 255, (size_t)c.w * c.h * 3);
        int y = MARGIN;
        draw_mask(&c, mask[0], mw[0], mh[0], (c.w - mw[0]) / 2, y);
        y += mh[0] + MARGIN;
        for (int i = 0; i < f->npanels; i++) {
            const panel *p = &f->panels[i];
            int k = 3 * (i + 1);
            grid g = panel_grid(p);
            y += i ? PANEL_GAP : 0;
            draw_mask(&c, mask[k], mw[k], mh[k], (c.w - mw[k]) / 2, y);
            y += mh[k] + TITLE_GAP;
            int x0 = (c.w - g.w) / 2;
            for (int j = 0; j < p->ntiles; j++) {
                const tile *t = &p->tiles[j];
                int cx = x0 + (j % g.cols) * (g.cw + g.gap) + (g.cw - t->w) / 2;
                int cy = y + (j / g.cols) * (g.ch + g.gap) + (g.ch - t->h) / 2;
                draw_rgb(&c, t->rgb, t->w, t->h, cx, cy);
            }
            y += g.h;
            if (p->bar_lo) {
                /* the colour map, as wide as the grid up to 256 pixels */
                int bw = g.w < 256 ? (g.w > 64 ? g.w : 64) : 256, bx = (c.w - bw) / 2;
                y += TITLE_GAP;
                for (int x = 0; x < bw; x++) {
                    uint8_t rgb[3];
                    aug_cmap_rgb(p->cmap, (uint8_t)(x * 255 / (bw > 1 ? bw - 1 : 1)), rgb);
                    for (int r = 0; r < BAR_H; r++) {
                        memcpy(c.px + ((size_t)(y + r) * c.w + bx + x) * 3, rgb, 3);
                    }
                }
                y += BAR_H + 2;
                draw_mask(&c, mask[k + 1], mw[k + 1], mh[k + 1],
                          bx - mw[k + 1] / 2 > 0 ? bx - mw[k + 1] / 2 : 0, y);
                draw_mask(&c, mask[k + 2], mw[k + 2], mh[k + 2], bx + bw - mw[k + 2] / 2, y);
                y += mh[k + 1] > mh[k + 2] ? mh[k + 1] : mh[k + 2];
            }
        }
        VipsImage *im = vips_image_new_from_memory_copy(c.px, (size_t)c.w * c.h * 3, c.w, c.h, 3,
                                                        VIPS_FORMAT_UCHAR);
        if (!im) {
            rc = im_err_vips(err, errlen, CK_ENOMEM, "figure: render");
        } else {
            im->Type = VIPS_INTERPRETATION_sRGB;
            *out = im;
        }
    }
    for (int i = 0; i < n * 3; i++) {
        free(mask[i]);
    }
    free(mask);
    free(mw);
    free(mh);
    free(c.px);
    return rc;
}

int aug_figure_save(const aug_figure *f, const char *path, char *err, size_t errlen)
{
    VipsImage *im = NULL;
    int rc = render(f, &im, err, errlen);
    if (rc == 0) {
        rc = aug_save_atomic(im, path, err, errlen);
        g_object_unref(im);
    }
    return rc;
}

int aug_figure_encode(const aug_figure *f, aug_encoding enc, void **out, size_t *len, char *err,
                      size_t errlen)
{
    *out = NULL;
    *len = 0;
    VipsImage *im = NULL;
    int rc = render(f, &im, err, errlen);
    if (rc == 0) {
        rc = aug_encode(im, enc, out, len, "figure", err, errlen);
        g_object_unref(im);
    }
    return rc;
}

/* ---- heat maps ------------------------------------------------------------- */

int aug_heat_overlay(const uint8_t *rgb, int w, int h, const float *map, int mw, int mh,
                     aug_cmap cmap, double alpha, uint8_t *out)
{
    if (!rgb || !map || !out || w < 1 || h < 1 || mw < 1 || mh < 1 || !(alpha >= 0 && alpha <= 1)) {
        return CK_EINVAL;
    }
    float top = 0;
    for (int i = 0; i < mw * mh; i++) {
        top = map[i] > top ? map[i] : top;
    }
    for (int y = 0; y < h; y++) {
        /* pixel centres aligned, as a resize does: map cell i spans
         * [i, i+1) * h/mh, its value at its centre; clamped at the edges */
        double fy = ((double)y + 0.5) * mh / h - 0.5;
        fy = fmin(fmax(fy, 0), mh - 1);
        int y0 = (int)fy, y1 = y0 + 1 < mh ? y0 + 1 : y0;
        double ty = fy - y0;
        for (int x = 0; x < w; x++) {
            double fx = ((double)x + 0.5) * mw / w - 0.5;
            fx = fmin(fmax(fx, 0), mw - 1);
            int x0 = (int)fx, x1 = x0 + 1 < mw ? x0 + 1 : x0;
            double tx = fx - x0;
            double v =
                (1 - ty) * ((1 - tx) * (double)map[y0 * mw + x0] + tx * (double)map[y0 * mw + x1]) +
                ty * ((1 - tx) * (double)map[y1 * mw + x0] + tx * (double)map[y1 * mw + x1]);
            v = top > 0 ? fmax(0, v) / (double)top : 0;
            uint8_t c[3];
            aug_cmap_rgb(cmap, (uint8_t)fmin(255, v * 255 + 0.5), c);
            const uint8_t *s = rgb + ((size_t)y * w + x) * 3;
            uint8_t *o = out + ((size_t)y * w + x) * 3;
            for (int b = 0; b < 3; b++) {
                o[b] = (uint8_t)fmin(255, (1 - alpha) * s[b] + alpha * c[b] + 0.5);
            }
        }
    }
    return 0;
}
