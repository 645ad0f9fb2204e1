/* curves_plot.c: the chapter's figures from runs.db, drawn by PLplot.
 *
 * The look is the book's (matplotlib's defaults): per metric a panel with
 * training solid and validation dashed against epochs, one colour per run
 * from matplotlib's tab10, light grid, white background. Everything is
 * laid out in units of the text height, which is set from the figure size,
 * so a figure of any size keeps its proportions; the legend sits in its
 * own strip under the panels, so it can never cover a curve.
 *
 * PLplot is a process-wide library (a driver table and a list of streams),
 * so a figure is one stream made here and ended here. Its failures fall in
 * two kinds: those it reports by printing (bad arguments: avoided by
 * validating first) and those it ends the process for (a device it cannot
 * find makes it prompt on stdin, a file it cannot open makes it retry and
 * exit). So the device is looked up in PLplot's list before use, and
 * PLplot only ever writes a temporary file that we created ourselves;
 * the figure is renamed over the output when PLplot is done.
 */
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rn.h"
#include "rn_internal.h"

enum {
    MAX_RUNS = 10,
    /* cmap0 entries */
    COL_BG = 0,
    COL_FG = 1,
    COL_GRID = 2,
    COL_RUN0 = 3,
};

/* matplotlib's tab10. */
static const unsigned char palette[MAX_RUNS][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
};

/* PLplot's built-in line style 4: 2 mm dashes, 1 mm gaps (matplotlib's
 * "--" proportions). */
enum { STYLE_SOLID = 1, STYLE_DASHED = 4 };

static const char best_symbol[] = "●"; /* U+25CF, drawn through Pango */

rn_curves_plot_opts rn_curves_plot_defaults(void)
{
    return (rn_curves_plot_opts){
        .layout = RN_CURVES_OVERLAY,
        .best = RN_CURVES_BEST_EACH,
        .ylim_accuracy = {(double)NAN, (double)NAN},
        .ylim_loss = {(double)NAN, (double)NAN},
    };
}

int rn_curves_layout_parse(const char *name)
{
    if (name && strcasecmp(name, "overlay") == 0) {
        return RN_CURVES_OVERLAY;
    }
    if (name && strcasecmp(name, "side") == 0) {
        return RN_CURVES_SIDE;
    }
    if (name && strcasecmp(name, "gap") == 0) {
        return RN_CURVES_GAP;
    }
    return -1;
}

int rn_curves_best_parse(const char *name)
{
    if (name && strcasecmp(name, "each") == 0) {
        return RN_CURVES_BEST_EACH;
    }
    if (name && strcasecmp(name, "val_accuracy") == 0) {
        return RN_CURVES_BEST_VAL_ACCURACY;
    }
    if (name && strcasecmp(name, "val_loss") == 0) {
        return RN_CURVES_BEST_VAL_LOSS;
    }
    if (name && strcasecmp(name, "none") == 0) {
        return RN_CURVES_BEST_NONE;
    }
    return -1;
}

/* ---- the figure's geometry ------------------------------------------------- */

/* One figure: runs, labels and the page in pixels; f is the text height in
 * pixels, the unit of every margin. */
typedef struct figure {
    const rn_curve *c;
    int n;
    char **label; /* n, PLplot-escaped */
    /* per run: the rows marked on the accuracy and loss panels (-1: none),
     * and the first row of a diverged loss (-1: none) with its peak */
    int best_acc[MAX_RUNS], best_loss[MAX_RUNS], diverged[MAX_RUNS];
    double peak[MAX_RUNS];
    rn_axis acc, loss; /* the y axes, shared by the runs' panels */
    rn_axis gap;       /* GAP: accuracy - val_accuracy */
    rn_curves_best which;
    rn_curves_layout layout;
    const char *title;
    double W, H, f;
    double fl; /* the legend's text height: f, or less for entries that
                  would not fit the page's width otherwise */
    double px_per_mm;
    double top, legend_h; /* pixels above and below the panels */
} figure;

/* Around each panel's frame, in text heights: the title above, tick
 * labels and the x label below. On the left: the tick labels end
 * TICK_DISP from the frame, each character at most CHAR_W wide (DejaVu
 * Sans digits are 0.78 of PLplot's text height on the cairo device), then
 * a gap, then the rotated y label, whose ink PLplot puts between 0.8
 * below and 0.3 above its displacement (measured on the cairo and SVG
 * devices). */
#define MARGIN_R   1.4
#define MARGIN_T   2.4
#define MARGIN_B   4.4
#define TICK_DISP  0.6
#define CHAR_W     0.85
#define YLABEL_GAP 0.7

/* The y label's displacement and the left margin, in text heights, for
 * the tick labels of axis a. */
static double ylabel_disp(const rn_axis *a)
{
    return TICK_DISP + a->label_chars * CHAR_W + YLABEL_GAP + 0.8;
}

static double margin_left(const rn_axis *a)
{
    return ylabel_disp(a) + 0.3 + 0.6;
}

/* PLplot's normalised device coordinates from pixels (y down). */
static void vport_px(const figure *g, double x0, double y0, double x1, double y1)
{
    plvpor(x0 / g->W, x1 / g->W, 1.0 - y1 / g->H, 1.0 - y0 / g->H);
}

/* Text height in pixels (PLplot's unit is the millimetre). */
static void text_px(const figure *g, double px)
{
    plschr(px / g->px_per_mm, 1.0);
}

/* '#' starts PLplot's escape sequences: double it. */
static char *escape_label(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *out = malloc(2 * n + 1);
    if (!out) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        out[k++] = s[i];
        if (s[i] == '#') {
            out[k++] = '#';
        }
    }
    out[k] = '\0';
    return out;
}

/* A tick step of 1, 2 or 5 times a power of ten, at least 1, giving at most
 * about 8 ticks over span epochs. */
static double epoch_step(double span)
{
    double raw = span / 8.0, p = 1.0;
    while (p * 10.0 <= raw) {
        p *= 10.0;
    }
    double step = raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
    return step < 1.0 ? 1.0 : step;
}

/* Draws column col of curve c on axis a as runs of points (a NULL value,
 * such as a missing validation, or one a log scale cannot show, breaks
 * the line). Values far beyond the axis are pulled in to ten spans past
 * it, still outside the panel, which clips them: PLplot turns coordinates
 * into ints, which a loss of 1e21 would overflow. */
static void draw_series(const rn_curve *c, int col, const rn_axis *a)
{
    PLFLT *x = malloc((size_t)c->n * sizeof *x), *y = malloc((size_t)c->n * sizeof *y);
    int k = 0;
    if (!x || !y) {
        free(x);
        free(y);
        return;
    }
    double lo = rn_axis_map(a, a->lo), hi = rn_axis_map(a, a->hi), span = hi - lo;
    for (int i = 0; i <= c->n; i++) {
        double v = i < c->n ? rn_axis_map(a, c->v[(size_t)i * RN_CV_COUNT + col]) : (double)NAN;
        if (!isnan(v)) {
            x[k] = c->epoch[i];
            y[k] = fmin(fmax(v, lo - 10 * span), hi + 10 * span);
            k++;
            continue;
        }
        if (k == 1) {
            plstring(1, x, y, "•");
        } else if (k > 1) {
            plline(k, x, y);
        }
        k = 0;
    }
    free(x);
    free(y);
}

/* The y axis of the panel whose frame is w pixels wide, in the window set:
 * grid lines, inward ticks on the left, our labels, the axis label. */
static void draw_yaxis(const figure *g, const rn_axis *a, double xlo, double xhi, double w,
                       const char *ylabel)
{
    double lo = rn_axis_map(a, a->lo), hi = rn_axis_map(a, a->hi);
    double tick = (xhi - xlo) * 0.45 * g->f / w;
    plwidth(1.0);
    plcol0(COL_GRID);
    for (int i = 0; i < a->n; i++) {
        double y = rn_axis_map(a, a->tick[i]);
        pljoin(xlo, y, xhi, y);
    }
    plcol0(COL_FG);
    for (int i = 0; i < a->n; i++) {
        double y = rn_axis_map(a, a->tick[i]);
        pljoin(xlo, y, xlo + tick, y);
        plmtex("lv", TICK_DISP, (y - lo) / (hi - lo), 1.0, a->label[i]);
    }
    plmtex("l", ylabel_disp(a), 0.5, 0.5, ylabel);
}

/* One panel at pixel box (x0, y0)-(x1, y1) (the axes' frame) for runs
 * [r0, r1): metric columns tr (training) and va (validation) on axis a,
 * the rows best[r] marked, x range up to max_epoch. */
static void draw_panel(const figure *g, double x0, double y0, double x1, double y1, int r0, int r1,
                       int tr, int va, const rn_axis *a, const int *best, int max_epoch,
                       const char *title, int title_col, const char *ylabel)
{
    double span = max_epoch > 1 ? max_epoch - 1 : 1;
    double pad = fmax(0.5, span * 0.03);
    double xlo = 1 - pad, xhi = max_epoch + pad;
    double lo = rn_axis_map(a, a->lo), hi = rn_axis_map(a, a->hi);
    vport_px(g, x0, y0, x1, y1);
    plwind(xlo, xhi, lo, hi);
    double step = epoch_step(span);

    text_px(g, g->f);
    plwidth(1.0);
    plcol0(COL_GRID);
    plbox("g", step, 0, "", 0, 0);
    draw_yaxis(g, a, xlo, xhi, x1 - x0, ylabel);
    if (va < 0 && lo < 0 && hi > 0) { /* a difference: where the curves agree */
        plcol0(COL_FG);
        pljoin(xlo, 0, xhi, 0);
    }

    for (int r = r0; r < r1; r++) {
        plcol0(COL_RUN0 + r);
        plwidth(2.0);
        pllsty(STYLE_SOLID);
        draw_series(&g->c[r], tr, a);
        if (va < 0) {
            continue;
        }
        pllsty(STYLE_DASHED);
        draw_series(&g->c[r], va, a);
        pllsty(STYLE_SOLID);
        if (best[r] >= 0) {
            int i = best[r];
            PLFLT bx = g->c[r].epoch[i];
            PLFLT by = rn_axis_map(a, g->c[r].v[(size_t)i * RN_CV_COUNT + va]);
            if (by >= lo && by <= hi) {
                text_px(g, g->f * 1.25);
                plstring(1, &bx, &by, best_symbol);
                text_px(g, g->f);
            }
        }
    }

    plwidth(1.0);
    plcol0(COL_FG);
    plbox("bc", 0, 0, "bc", 0, 0);
    plbox("bnti", step, 0, "", 0, 0);
    plmtex("b", 3.4, 0.5, 0.5, "epoch");
    text_px(g, g->f * 1.1);
    plcol0(title_col);
    plmtex("t", 0.9, 0.5, 0.5, title);
    plcol0(COL_FG);
    text_px(g, g->f);
}

/* ---- the legend ------------------------------------------------------------ */

/* The legend's entry for run r: its label, its marked epochs, and when
 * its loss diverged. */
static void run_entry(const figure *g, int r, char *buf, size_t len)
{
    const double *v = g->c[r].v;
    if (g->layout == RN_CURVES_GAP) { /* the gap where the run ended */
        for (int i = g->c[r].n - 1; i >= 0; i--) {
            if (!isnan(v[(size_t)i * RN_CV_COUNT + RN_CV_ACCURACY])) {
                snprintf(buf, len, "%s (gap %.4f at epoch %d)", g->label[r],
                         v[(size_t)i * RN_CV_COUNT + RN_CV_ACCURACY], g->c[r].epoch[i]);
                return;
            }
        }
        snprintf(buf, len, "%s (no validation)", g->label[r]);
        return;
    }
    int a = g->best_acc[r], l = g->best_loss[r];
    char acc[96] = "", loss[96] = "", div[96] = "";
    if (a >= 0 && g->which != RN_CURVES_BEST_VAL_LOSS) {
        snprintf(acc, sizeof acc, "best val_accuracy %.4f at epoch %d",
                 v[(size_t)a * RN_CV_COUNT + RN_CV_VAL_ACCURACY], g->c[r].epoch[a]);
    }
    if (l >= 0 && g->which != RN_CURVES_BEST_VAL_ACCURACY) {
        snprintf(loss, sizeof loss, "%slowest val_loss %.4f at epoch %d", acc[0] ? ", " : "",
                 v[(size_t)l * RN_CV_COUNT + RN_CV_VAL_LOSS], g->c[r].epoch[l]);
    }
    if (g->diverged[r] >= 0) {
        snprintf(div, sizeof div, "%sdiverged at epoch %d, loss up to %.2g",
                 acc[0] || loss[0] ? "; " : "", g->c[r].epoch[g->diverged[r]], g->peak[r]);
    }
    if (acc[0] || loss[0] || div[0]) {
        snprintf(buf, len, "%s (%s%s%s)", g->label[r], acc, loss, div);
    } else {
        snprintf(buf, len, "%s", g->label[r]);
    }
}

/* The line-style legend: training, validation, and what the dots mark;
 * returns the number of entries. */
static int style_entries(const figure *g, const char *text[3])
{
    if (g->layout == RN_CURVES_GAP) {
        return 0; /* one line per run: its label says it all */
    }
    text[0] = "training";
    text[1] = "validation";
    switch (g->which) {
    case RN_CURVES_BEST_EACH: text[2] = "best epoch of each panel"; return 3;
    case RN_CURVES_BEST_VAL_ACCURACY: text[2] = "highest val_accuracy"; return 3;
    case RN_CURVES_BEST_VAL_LOSS: text[2] = "lowest val_loss (checkpoint)"; return 3;
    case RN_CURVES_BEST_NONE: break;
    }
    return 2;
}

static void legend_grid(const figure *g, int n, size_t chars, int *rows, int *cols);

/* The style entries (as style_entries) and their legend grid. */
static int style_legend(const figure *g, const char *text[3], int *rows, int *cols)
{
    int ns = style_entries(g, text);
    size_t chars = 0;
    for (int k = 0; k < ns; k++) {
        chars = strlen(text[k]) > chars ? strlen(text[k]) : chars;
    }
    legend_grid(g, ns, chars, rows, cols);
    return ns;
}

/* A legend character's width in text heights (DejaVu Sans: about 0.78). */
#define LEGEND_CHAR_W 0.8

/* Legend rows and columns for n entries whose longest text is `chars`
 * characters, so that a row fits the page width. */
static void legend_grid(const figure *g, int n, size_t chars, int *rows, int *cols)
{
    double entry = ((double)chars * LEGEND_CHAR_W + 6.0) * g->fl;
    int c = (int)floor(g->W * 0.94 / entry);
    c = c > n ? n : c;
    c = c < 1 ? 1 : c;
    *cols = c;
    *rows = n ? (n + c - 1) / c : 0;
}

static int legend_rows(const figure *g);

/* The length of the longest run entry of the legend. */
static size_t longest_entry(const figure *g)
{
    char t[512];
    size_t chars = 0;
    for (int r = 0; r < g->n; r++) {
        run_entry(g, r, t, sizeof t);
        chars = strlen(t) > chars ? strlen(t) : chars;
    }
    return chars;
}

/* Sets the strips above and below the panels; 0 when the panels keep at
 * least 4x3 text heights of plotting area. */
static int layout_fits(figure *g)
{
    double f = g->f;
    int cols = g->layout == RN_CURVES_SIDE ? g->n : g->layout == RN_CURVES_GAP ? 1 : 2;
    int rows = g->layout == RN_CURVES_SIDE ? 2 : 1;
    g->top = g->title ? 2.8 * f : 0.6 * f;
    g->fl = fmin(f, g->W * 0.94 / ((double)longest_entry(g) * LEGEND_CHAR_W + 6.0));
    g->legend_h = legend_rows(g) * 1.9 * g->fl + 1.6 * f;
    double cell_w = g->W / cols, cell_h = (g->H - g->top - g->legend_h) / rows;
    double ml = g->layout == RN_CURVES_GAP ? margin_left(&g->gap)
                                           : fmax(margin_left(&g->acc), margin_left(&g->loss));
    return cell_w - (ml + MARGIN_R) * f >= 4 * f && cell_h - (MARGIN_T + MARGIN_B) * f >= 3 * f;
}

static int legend_rows(const figure *g)
{
    int rows, cols;
    legend_grid(g, g->n, longest_entry(g), &rows, &cols);
    const char *st[3];
    int srows, scols;
    style_legend(g, st, &srows, &scols);
    return rows + srows;
}

/* Draws the runs' legend over the style legend in the strip at the
 * bottom of the page. */
static int draw_legend(const figure *g)
{
    enum { STYLES = 3 };
    PLINT opt[MAX_RUNS], colors[MAX_RUNS], styles[MAX_RUNS];
    PLFLT widths[MAX_RUNS], scales[MAX_RUNS];
    PLINT numbers[MAX_RUNS];
    const char *symbols[MAX_RUNS];
    char *text[MAX_RUNS];
    size_t chars = 0;
    int rows, cols;
    for (int r = 0; r < g->n; r++) {
        text[r] = malloc(512);
        if (!text[r]) {
            for (int k = 0; k < r; k++) {
                free(text[k]);
            }
            return CK_ENOMEM;
        }
        run_entry(g, r, text[r], 512);
        chars = strlen(text[r]) > chars ? strlen(text[r]) : chars;
        opt[r] = PL_LEGEND_LINE;
        colors[r] = COL_RUN0 + r;
        styles[r] = STYLE_SOLID;
        widths[r] = 2.0;
        scales[r] = 1.0;
        numbers[r] = 1;
        symbols[r] = best_symbol;
    }
    legend_grid(g, g->n, chars, &rows, &cols);
    text_px(g, g->fl);
    double sample = 3.0 * g->fl / g->W, margin = 0.5 * g->f / g->H;
    PLINT pos = PL_POSITION_BOTTOM | PL_POSITION_INSIDE | PL_POSITION_SUBPAGE;
    PLFLT lw, lh;

    const char *stext[STYLES];
    int srows, scols, ns = style_legend(g, stext, &srows, &scols);
    PLINT sopt[STYLES] = {PL_LEGEND_LINE, PL_LEGEND_LINE, PL_LEGEND_SYMBOL};
    PLINT scol[STYLES] = {COL_FG, COL_FG, COL_FG}, ssty[STYLES] = {STYLE_SOLID, STYLE_DASHED, 1};
    PLINT snum[STYLES] = {1, 1, 1};
    PLFLT swid[STYLES] = {2.0, 2.0, 1.0}, sscale[STYLES] = {1.0, 1.0, 1.25};
    const char *ssym[STYLES] = {best_symbol, best_symbol, best_symbol};
    lh = 0;
    if (ns > 0) {
        pllegend(&lw, &lh, PL_LEGEND_ROW_MAJOR, pos, 0.0, margin, sample, COL_BG, COL_FG, 1, srows,
                 scols, ns, sopt, 1.0, 1.0, 2.0, 0.0, scol, stext, NULL, NULL, NULL, NULL, scol,
                 ssty, swid, scol, sscale, snum, ssym);
    }

    pllegend(&lw, &lh, PL_LEGEND_ROW_MAJOR, pos, 0.0, margin + lh, sample, COL_BG, COL_FG, 1, rows,
             cols, g->n, opt, 1.0, 1.0, 2.0, 0.0, colors, (const char *const *)text, NULL, NULL,
             NULL, NULL, colors, styles, widths, colors, scales, numbers, symbols);
    for (int r = 0; r < g->n; r++) {
        free(text[r]);
    }
    return 0;
}

/* ---- the figure ------------------------------------------------------------ */

static int max_epoch(const figure *g, int r0, int r1)
{
    int m = 1;
    for (int r = r0; r < r1; r++) {
        for (int i = 0; i < g->c[r].n; i++) {
            m = g->c[r].epoch[i] > m ? g->c[r].epoch[i] : m;
        }
    }
    return m;
}

/* Panels: OVERLAY one row (accuracy, loss) of all runs; SIDE a column per
 * run, accuracy over loss, ranges shared along a row. */
static int draw_figure(figure *g)
{
    double f = g->f, top = g->top;
    int gap = g->layout == RN_CURVES_GAP;
    int cols = g->layout == RN_CURVES_SIDE ? g->n : gap ? 1 : 2;
    int rows = g->layout == RN_CURVES_SIDE ? 2 : 1;
    double cell_w = g->W / cols, cell_h = (g->H - top - g->legend_h) / rows;
    double mr = MARGIN_R * f, mt = MARGIN_T * f, mb = MARGIN_B * f;

    if (g->title) {
        vport_px(g, 0, 0, g->W, top);
        plwind(0, 1, 0, 1);
        text_px(g, f * 1.35);
        plcol0(COL_FG);
        plmtex("t", -1.6, 0.5, 0.5, g->title);
    }
    int me = max_epoch(g, 0, g->n);
    for (int col = 0; col < cols; col++) {
        for (int row = 0; row < rows; row++) {
            int loss = g->layout == RN_CURVES_SIDE ? row == 1 : col == 1;
            int r0 = g->layout == RN_CURVES_SIDE ? col : 0;
            int r1 = g->layout == RN_CURVES_SIDE ? col + 1 : g->n;
            const rn_axis *a = gap ? &g->gap : loss ? &g->loss : &g->acc;
            char title[320];
            if (gap) {
                double x0 = margin_left(a) * f, y0 = top + mt;
                draw_panel(g, x0, y0, cell_w - mr, top + cell_h - mb, 0, g->n, RN_CV_ACCURACY, -1,
                           a, NULL, me, "Training − validation accuracy", COL_FG,
                           "accuracy − val_accuracy");
                continue;
            }
            if (g->layout == RN_CURVES_SIDE) {
                snprintf(title, sizeof title, "%s: %s", g->label[col], loss ? "loss" : "accuracy");
            } else {
                snprintf(title, sizeof title, "Training and validation %s",
                         loss ? "loss" : "accuracy");
            }
            double x0 = col * cell_w + margin_left(a) * f, y0 = top + row * cell_h + mt;
            draw_panel(
                g, x0, y0, (col + 1) * cell_w - mr, top + (row + 1) * cell_h - mb, r0, r1,
                loss ? RN_CV_LOSS : RN_CV_ACCURACY, loss ? RN_CV_VAL_LOSS : RN_CV_VAL_ACCURACY, a,
                loss ? g->best_loss : g->best_acc, me, title,
                g->layout == RN_CURVES_SIDE ? COL_RUN0 + col : COL_FG, loss ? "loss" : "accuracy");
        }
    }
    return draw_legend(g);
}

/* "BOTTOM,TOP" of a panel's limits, "auto" for an automatic side. */
static void ylim_text(const double lim[2], char *buf, size_t len)
{
    char side[2][32];
    for (int k = 0; k < 2; k++) {
        if (isnan(lim[k])) {
            snprintf(side[k], sizeof side[k], "auto");
        } else {
            snprintf(side[k], sizeof side[k], "%g", lim[k]);
        }
    }
    snprintf(buf, len, "%s,%s", side[0], side[1]);
}

/* The two y axes and the diverged runs. */
static int plot_axes(figure *g, const rn_curves_plot_opts *o, const char *out_path, char *err,
                     size_t errlen)
{
    double ceiling = rn_loss_ceiling(g->c, g->n), lo, hi;
    for (int r = 0; r < g->n; r++) {
        g->diverged[r] = rn_curve_diverged(&g->c[r], ceiling, &g->peak[r]);
    }
    if (g->layout == RN_CURVES_GAP) { /* the accuracy column holds the gap; 0 in view */
        rn_curves_data_range(g->c, g->n, RN_CV_ACCURACY, RN_CV_ACCURACY, INFINITY, 0, &lo, &hi);
        rn_axis_make(&g->gap, lo <= hi ? fmin(lo, 0) : 0, lo <= hi ? fmax(hi, 0) : 0, NULL, 0);
        return 0;
    }
    int log = o->loss_scale == RN_CURVES_LOG;
    char lim[80];
    rn_curves_data_range(g->c, g->n, RN_CV_ACCURACY, RN_CV_VAL_ACCURACY, INFINITY, 0, &lo, &hi);
    if (rn_axis_make(&g->acc, lo, hi, o->ylim_accuracy, 0)) {
        ylim_text(o->ylim_accuracy, lim, sizeof lim);
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: plot: accuracy y limits %s: the bottom must be below the top (the "
                      "values span %g..%g)",
                      out_path, lim, lo, hi);
    }
    rn_curves_data_range(g->c, g->n, RN_CV_LOSS, RN_CV_VAL_LOSS, ceiling, log, &lo, &hi);
    if (rn_axis_make(&g->loss, lo, hi, o->ylim_loss, log)) {
        ylim_text(o->ylim_loss, lim, sizeof lim);
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: plot: loss y limits %s: the bottom must be below the top%s (the "
                      "values span %g..%g)",
                      out_path, lim, log ? " and above 0 on a log scale" : "", lo, hi);
    }
    return 0;
}

/* PLplot prompts on stdin for a device it does not know: look it up. */
static int have_device(const char *dev)
{
    enum { MAXDEV = 128 };
    const char *menu[MAXDEV], *names[MAXDEV];
    const char **pm = menu, **pn = names;
    int n = MAXDEV;
    plgDevs(&pm, &pn, &n);
    for (int i = 0; i < n; i++) {
        if (pn[i] && strcmp(pn[i], dev) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Renders g with device dev into the file tmp, or into the stream f when
 * tmp is NULL. PLplot closes f when it ends the stream (plCloseFile closes
 * every output but stdout), so the caller must not. */
static int render(figure *g, const char *dev, const char *tmp, FILE *f)
{
    PLINT strm;
    plmkstrm(&strm);
    plsdev(dev);
    if (tmp) {
        plsfnam(tmp);
    } else {
        plsfile(f);
    }
    plspage(0, 0, (PLINT)g->W, (PLINT)g->H, 0, 0);
    plscolbg(255, 255, 255);
    plscmap0n(COL_RUN0 + MAX_RUNS);
    plscol0(COL_FG, 0, 0, 0);
    plscol0(COL_GRID, 0xdd, 0xdd, 0xdd);
    for (int r = 0; r < MAX_RUNS; r++) {
        plscol0(COL_RUN0 + r, palette[r][0], palette[r][1], palette[r][2]);
    }
    plinit();
    pladv(0); /* the one page; the subpage size is known from here on */
    PLFLT xmin, xmax, ymin, ymax;
    plgspa(&xmin, &xmax, &ymin, &ymax); /* the page in mm */
    g->px_per_mm = g->W / (xmax - xmin);
    plsmaj(0.45 * g->f / g->px_per_mm, 1.0);
    plsmin(0.25 * g->f / g->px_per_mm, 1.0);
    int rc = draw_figure(g);
    plend1();
    return rc;
}

/* The accuracy column of c made the gap accuracy - val_accuracy (NAN
 * where either is missing), for the GAP layout. */
static void to_gap(rn_curve *c)
{
    for (int i = 0; i < c->n; i++) {
        double *v = c->v + (size_t)i * RN_CV_COUNT;
        v[RN_CV_ACCURACY] = v[RN_CV_ACCURACY] - v[RN_CV_VAL_ACCURACY]; /* NAN propagates */
    }
}

/* rn_curves_plot into out_path, or (out_path NULL) rn_curves_plot_svg into
 * *svg; name is the output's name in messages. */
static int plot(const char *runs_path, const char *const *runs, int nruns,
                const rn_curves_plot_opts *o, const char *out_path, char **svg, size_t *svg_len,
                char *err, size_t errlen)
{
    rn_curves_plot_opts opts = o ? *o : rn_curves_plot_defaults();
    const char *name = out_path ? out_path : "plot";
    /* PLplot's own SVG device writes text as <text>; svgcairo would write
     * every glyph as a path. */
    const char *dev = !out_path                                ? "svg"
                      : rn_curves_has_suffix(out_path, ".png") ? "pngcairo"
                      : rn_curves_has_suffix(out_path, ".svg") ? "svg"
                                                               : NULL;
    if (!dev) {
        return ck_err(err, errlen, CK_EINVAL, "%s: plot: the file name must end in .png or .svg",
                      name);
    }
    if ((unsigned)opts.layout > RN_CURVES_GAP || (unsigned)opts.best > RN_CURVES_BEST_NONE ||
        (unsigned)opts.loss_scale > RN_CURVES_LOG) {
        return ck_err(err, errlen, CK_EINVAL, "%s: plot: bad layout, best-epoch or scale option",
                      name);
    }
    if (opts.labels && nruns == 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: plot: labels need named runs", name);
    }
    rn_curve *all = NULL;
    int nall = 0;
    int rc = rn_curves_read(runs_path, runs, nruns, 1, &all, &nall, err, errlen);
    if (rc) {
        return rc;
    }
    /* All runs: those without epochs have nothing to draw. */
    figure g = {.which = opts.best, .layout = opts.layout, .title = opts.title};
    rn_curve *c = all;
    int n = 0;
    for (int i = 0; i < nall; i++) {
        if (all[i].n > 0) {
            rn_curve t = all[n];
            all[n++] = all[i];
            all[i] = t;
        }
    }
    if (n == 0) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: plot: no epochs recorded in any run", runs_path);
    } else if (n > MAX_RUNS) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: plot: %d runs, at most %d fit one figure",
                    runs_path, n, MAX_RUNS);
    }
    int side = opts.layout == RN_CURVES_SIDE, gap = opts.layout == RN_CURVES_GAP;
    g.W = opts.width ? opts.width : side ? 440.0 * n + 80 : 1100;
    g.H = opts.height ? opts.height : side ? 760 : gap ? 440 : 520;
    if (rc == 0 && (g.W < 200 || g.W > 8000 || g.H < 200 || g.H > 8000)) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: plot: size %.0fx%.0f out of 200..8000", name, g.W,
                    g.H);
    }
    if (rc == 0 && !have_device(dev)) {
        rc = ck_err(err, errlen, CK_EIO, "%s: plot: PLplot has no %s driver (Debian package %s)",
                    name, dev, strcmp(dev, "svg") ? "plplot-driver-cairo" : "libplplot17");
    }
    char *label[MAX_RUNS] = {0};
    for (int r = 0; r < n && rc == 0; r++) {
        const char *l = opts.labels && opts.labels[r] ? opts.labels[r] : c[r].run;
        label[r] = escape_label(l);
        if (!label[r]) {
            rc = ck_err(err, errlen, CK_ENOMEM, "%s: plot: out of memory", name);
        }
        int each = opts.best == RN_CURVES_BEST_EACH;
        g.best_acc[r] = rn_curve_best(&c[r], each ? RN_CURVES_BEST_VAL_ACCURACY : opts.best);
        g.best_loss[r] = rn_curve_best(&c[r], each ? RN_CURVES_BEST_VAL_LOSS : opts.best);
        if (gap) {
            to_gap(&c[r]);
        }
    }
    g.c = c;
    g.n = n;
    g.label = label;
    if (rc == 0) {
        rc = plot_axes(&g, &opts, name, err, errlen);
    }
    /* Text height (of a capital, as PLplot measures it) from the panels'
     * size: 11 pixels for two panels of 550x520, within 9..24. */
    double pw = g.W / (side ? n : gap ? 1 : 2), ph = g.H / (side ? 2 : 1);
    g.f = fmin(24.0, fmax(9.0, fmin(pw / 50.0, ph / 40.0)));
    if (gap) { /* one wide panel: the text of two panels of its height */
        g.f = fmin(24.0, fmax(9.0, fmin(pw / 80.0, ph / 40.0)));
    }
    if (rc == 0 && !layout_fits(&g)) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: plot: %.0fx%.0f is too small for %d runs", name,
                    g.W, g.H, n);
    }
    if (rc == 0 && out_path) {
        ck_atomic out;
        rc = ck_atomic_open_named(&out, out_path, err, errlen);
        if (rc == 0) {
            rc = render(&g, dev, out.tmp, NULL); /* PLplot's cairo driver writes by name */
            if (rc) {
                ck_atomic_abort(&out);
            } else {
                rc = ck_atomic_commit(&out, err, errlen);
            }
        }
    } else if (rc == 0) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            rc = CK_ENOMEM;
        } else {
            rc = render(&g, dev, NULL, f); /* PLplot closes f */
            if (rc == 0 && (!buf || len == 0)) {
                rc = CK_ENOMEM;
            }
        }
        if (rc == 0) {
            *svg = buf;
            *svg_len = len;
        } else {
            free(buf);
        }
    }
    if (rc == CK_ENOMEM) {
        ck_err(err, errlen, rc, "%s: plot: out of memory", name);
    }
    for (int r = 0; r < MAX_RUNS; r++) {
        free(label[r]);
    }
    rn_curves_free(all, nall);
    return rc;
}

int rn_curves_plot(const char *runs_path, const char *const *runs, int nruns,
                   const rn_curves_plot_opts *o, const char *out_path, char *err, size_t errlen)
{
    if (!out_path) {
        return ck_err(err, errlen, CK_EINVAL, "plot: no output file");
    }
    return plot(runs_path, runs, nruns, o, out_path, NULL, NULL, err, errlen);
}

int rn_curves_plot_svg(const char *runs_path, const char *const *runs, int nruns,
                       const rn_curves_plot_opts *o, char **svg, size_t *len, char *err,
                       size_t errlen)
{
    *svg = NULL;
    if (len) {
        *len = 0;
    }
    size_t n = 0;
    int rc = plot(runs_path, runs, nruns, o, NULL, svg, &n, err, errlen);
    if (rc == 0 && len) {
        *len = n;
    }
    return rc;
}
