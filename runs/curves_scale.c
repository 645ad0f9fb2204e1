/* curves_scale.c: the decisions behind a figure's panels, kept apart from
 * the drawing so they can be tested as data: each panel's y range, scale
 * and tick labels, and which runs diverged.
 *
 * The tick labels are ours, not PLplot's: PLplot's automatic labels pick
 * their own precision and move a common factor ("x10^21") into a
 * multiplier drawn above the panel, where it falls off the page; ours are
 * plain numbers whose longest label is known, so the panel's left margin
 * is made wide enough for it and the axis label never touches them.
 *
 * A loss that diverged (1e21 where the other runs sit near 1) would set
 * the loss panel's range and flatten every other curve to a line at 0.
 * Cross-entropy above 100 means the network is confidently wrong on
 * almost every sample: so a value is "far outside" when it exceeds 100
 * times the larger of 1 and the lowest tenth of the panel's values (the
 * lowest tenth, so that even a run that diverged early and holds most of
 * the values cannot move the bar). The automatic range ignores such
 * values, their curves leave the panel through its top, and the legend
 * says which runs diverged and from which epoch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rn.h"
#include "rn_internal.h"

int rn_curves_scale_parse(const char *name)
{
    if (name && strcasecmp(name, "linear") == 0) {
        return RN_CURVES_LINEAR;
    }
    if (name && strcasecmp(name, "log") == 0) {
        return RN_CURVES_LOG;
    }
    return -1;
}

int rn_curves_ylim_parse(const char *text, double lim[2])
{
    const char *comma = text ? strchr(text, ',') : NULL;
    if (!comma || strchr(comma + 1, ',')) {
        return -1;
    }
    const char *part[2] = {text, comma + 1};
    size_t len[2] = {(size_t)(comma - text), strlen(comma + 1)};
    for (int k = 0; k < 2; k++) {
        lim[k] = (double)NAN;
        if (len[k] == 0) {
            continue;
        }
        char buf[64], *end;
        if (len[k] >= sizeof buf) {
            return -1;
        }
        memcpy(buf, part[k], len[k]);
        buf[len[k]] = '\0';
        lim[k] = strtod(buf, &end);
        if (end == buf || *end || !isfinite(lim[k])) {
            return -1;
        }
    }
    return isnan(lim[0]) || isnan(lim[1]) || lim[0] < lim[1] ? 0 : -1;
}

/* ---- divergence ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double rn_loss_ceiling(const rn_curve *c, int n)
{
    size_t count = 0, k = 0;
    for (int r = 0; r < n; r++) {
        count += 2 * (size_t)c[r].n;
    }
    double *v = malloc((count ? count : 1) * sizeof *v);
    if (!v) {
        return (double)INFINITY; /* out of memory: nothing is called diverged */
    }
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < c[r].n; i++) {
            const double *row = c[r].v + (size_t)i * RN_CV_COUNT;
            if (isfinite(row[RN_CV_LOSS])) {
                v[k++] = row[RN_CV_LOSS];
            }
            if (isfinite(row[RN_CV_VAL_LOSS])) {
                v[k++] = row[RN_CV_VAL_LOSS];
            }
        }
    }
    double low = 0;
    if (k > 0) {
        qsort(v, k, sizeof *v, cmp_double);
        low = v[(k - 1) / 10];
    }
    free(v);
    return 100.0 * fmax(1.0, low);
}

int rn_curve_diverged(const rn_curve *c, double ceiling, double *peak)
{
    int first = -1;
    double top = -INFINITY;
    for (int i = 0; i < c->n; i++) {
        for (int k = 0; k < 2; k++) {
            double v = c->v[(size_t)i * RN_CV_COUNT + (k ? RN_CV_VAL_LOSS : RN_CV_LOSS)];
            if (v > ceiling) { /* +inf too; NaN (stored as NULL) never */
                first = first < 0 ? i : first;
                top = fmax(top, v);
            }
        }
    }
    if (peak) {
        *peak = first < 0 ? (double)NAN : top;
    }
    return first;
}

/* ---- axes ------------------------------------------------------------------ */

/* Writes tick value t (a multiple of step) with `decimals` decimals, or in
 * %g form for the very large and very small. */
static void tick_label(char *buf, size_t len, double t, double step, int decimals)
{
    if (fabs(t) < step * 1e-6) {
        t = 0; /* no "-0.00" */
    }
    if (decimals > 6 || fabs(t) >= 1e6) {
        snprintf(buf, len, "%.3g", t);
    } else {
        snprintf(buf, len, "%.*f", decimals, t);
    }
}

/* Ticks at multiples of 1, 2 or 5 times a power of ten: the smallest
 * such step giving at most 7 ticks over [lo, hi]. */
static void linear_ticks(rn_axis *a)
{
    static const double mant[] = {1, 2, 5, 10};
    double span = a->hi - a->lo, p = pow(10.0, floor(log10(span / 7.0)));
    double step = 10 * p;
    for (int k = 0; k < 4; k++) {
        if (span / (mant[k] * p) <= 7.0) {
            step = mant[k] * p;
            break;
        }
    }
    int decimals = (int)fmax(0.0, -floor(log10(step) + 1e-9));
    a->n = 0;
    for (double k = ceil(a->lo / step - 1e-9); k * step <= a->hi + step * 1e-9; k++) {
        if (a->n == RN_AXIS_MAX_TICKS) {
            break;
        }
        a->tick[a->n] = k * step;
        tick_label(a->label[a->n], sizeof a->label[0], k * step, step, decimals);
        a->n++;
    }
}

/* Ticks at powers of ten (every k-th one when more than seven show); when
 * that gives fewer than three ticks, at 1, 2 and 5 times them, then at
 * every integer multiple; on a range narrower than that, linear ticks. */
static void log_ticks(rn_axis *a)
{
    static const double subs[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int nsubs[] = {1, 3, 9};
    double d0 = ceil(log10(a->lo) - 1e-9), d1 = floor(log10(a->hi) + 1e-9);
    int every = 1;
    while ((d1 - d0 + 1) / every > 7) {
        every++;
    }
    for (int pass = 0; pass < 3; pass++) {
        a->n = 0;
        for (double d = floor(log10(a->lo)); d <= d1 + 1; d++) {
            for (int s = 0; s < nsubs[pass] && a->n < RN_AXIS_MAX_TICKS; s++) {
                double t = subs[pass][s] * pow(10.0, d);
                if (t < a->lo * (1 - 1e-9) || t > a->hi * (1 + 1e-9) ||
                    (pass == 0 && fmod(d - d0, every) != 0)) {
                    continue;
                }
                a->tick[a->n] = t;
                snprintf(a->label[a->n], sizeof a->label[0], "%g", t);
                a->n++;
            }
        }
        if (a->n >= 3) {
            break;
        }
    }
    if (a->n < 2) {
        linear_ticks(a);
    }
}

int rn_axis_make(rn_axis *a, double data_lo, double data_hi, const double lim[2], int log_scale)
{
    memset(a, 0, sizeof *a);
    a->log = log_scale;
    double lo = data_lo, hi = data_hi;
    if (!(lo <= hi)) { /* no value to show */
        lo = log_scale ? 0.1 : 0;
        hi = 1;
    }
    /* 5% of the span beyond the data, as matplotlib's margins. */
    if (log_scale) {
        double l0 = log10(lo), l1 = log10(hi), pad = fmax((l1 - l0) * 0.05, 0.02);
        lo = pow(10.0, l0 - pad);
        hi = pow(10.0, l1 + pad);
    } else {
        double pad = (hi - lo) * 0.05;
        if (pad < 1e-9) {
            pad = fmax(fabs(lo) * 0.05, 0.05);
        }
        lo -= pad;
        hi += pad;
    }
    if (lim && isfinite(lim[0])) {
        lo = lim[0];
    }
    if (lim && isfinite(lim[1])) {
        hi = lim[1];
    }
    if (!(lo < hi) || (log_scale && !(lo > 0))) {
        return -1;
    }
    a->lo = lo;
    a->hi = hi;
    if (log_scale) {
        log_ticks(a);
    } else {
        linear_ticks(a);
    }
    for (int i = 0; i < a->n; i++) {
        int len = (int)strlen(a->label[i]);
        a->label_chars = len > a->label_chars ? len : a->label_chars;
    }
    return 0;
}

double rn_axis_map(const rn_axis *a, double v)
{
    if (!a->log) {
        return v;
    }
    return v > 0 ? log10(v) : (double)NAN;
}

/* ---- data ranges ----------------------------------------------------------- */

void rn_curves_data_range(const rn_curve *c, int n, int tr, int va, double ceiling, int positive,
                          double *lo, double *hi)
{
    double a = INFINITY, b = -INFINITY;
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < c[r].n; i++) {
            for (int k = 0; k < 2; k++) {
                double v = c[r].v[(size_t)i * RN_CV_COUNT + (k ? va : tr)];
                if (isfinite(v) && v <= ceiling && (!positive || v > 0)) {
                    a = fmin(a, v);
                    b = fmax(b, v);
                }
            }
        }
    }
    *lo = a;
    *hi = b;
}
