/* policy.c: augmentation policies as text, and per-sample parameters.
 *
 * The text is the user interface of augmentation (the CLI takes it, runs.db
 * stores its canonical form), so parsing is strict: every error names the
 * key, the value and the rule it breaks, and printing gives a canonical
 * string that parses back to the same policy.
 *
 * Ranges: a single value v means [-v, v] (Keras's single-float factors) and
 * must not be negative; LO:HI gives the bounds of the same quantity. Zoom and
 * contrast ranges are deviations from 1 (zoom=0.2 draws factors in
 * [0.8, 1.2]).
 *
 * Every sample draws all ten quantities in fixed slots of its ck_rng stream,
 * whatever the policy enables, so adding brightness to a policy does not
 * change the angle drawn for sample 7.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aug_internal.h"

#define PI 3.14159265358979323846

static const char help_text[] =
    "A policy is a comma-separated list of key=value items and presets; later\n"
    "items override earlier ones. A single number v means the range [-v, v]\n"
    "(v >= 0); LO:HI gives the bounds.\n"
    "\n"
    "  mode=keras|legacy  keras (default): Keras preprocessing layers applied in\n"
    "                     the order flip, rotate, zoom, shift, shear.\n"
    "                     legacy: ImageDataGenerator (the book's first edition):\n"
    "                     rotate in degrees, x and y zoom drawn independently,\n"
    "                     shear an angle in radians (Keras 2.0/2.1), composed as\n"
    "                     rotation * shift * shear * zoom, flip last, fill=nearest\n"
    "  flip=none|horizontal|vertical|both   each flip with probability 1/2\n"
    "  rotate=F           keras: fraction of a full turn in [-1, 1], counter-clockwise\n"
    "                     positive (0.1 is +-36 degrees); legacy: degrees <= 180\n"
    "  zoom=F             zoom factor 1+u, u in [-F, F]; > 1 zooms out; F in [0, 1),\n"
    "                     LO > -1; keras keeps the aspect ratio unless zoom_w is set\n"
    "  zoom_w=F           width zoom drawn on its own (RandomZoom's width_factor)\n"
    "  shift=F            shift_x=F and shift_y=F: fractions of width/height in [-1, 1]\n"
    "  shift_x=F, shift_y=F\n"
    "  shear=F            keras: x_in = x + k y, k in [-F, F], |k| <= 1;\n"
    "                     legacy: shear angle in radians, < pi/2\n"
    "  contrast=F         per channel (x - mean) * (1+u) + mean, F in [0, 1]\n"
    "  brightness=F       adds u * 255, F in [0, 1]; results clipped to 0..255\n"
    "  fill=reflect|nearest|wrap|constant   outside the image (keras default reflect,\n"
    "                     legacy default nearest):\n"
    "                     reflect (d c b a | a b c d | d c b a)\n"
    "                     nearest (a a a a | a b c d | d d d d)\n"
    "                     wrap    (a b c d | a b c d | a b c d)\n"
    "                     constant (k k k k | a b c d | k k k k)\n"
    "  fill_value=K       k for fill=constant, pixel units 0..255 (default 0)\n"
    "  interp=nearest|bilinear|bicubic      default bilinear\n"
    "\n"
    "Presets:\n"
    "  chollet-1st  mode=legacy,flip=horizontal,rotate=40,zoom=0.2,shift=0.2,\n"
    "               shear=0.2,fill=nearest   (ImageDataGenerator, 1st edition)\n"
    "  chollet-2nd  flip=horizontal,rotate=0.1,zoom=0.2  (Keras layers, 2nd edition)\n"
    "  none         no augmentation\n";

const char *aug_policy_help(void)
{
    return help_text;
}

static void policy_reset(aug_policy *p)
{
    memset(p, 0, sizeof *p);
    p->fill = AUG_FILL_REFLECT;
    p->interp = AUG_INTERP_BILINEAR;
}

/* ---- parsing ---- */

typedef struct parse_ctx {
    char *err;
    size_t errlen;
    const char *key;
    const char *val;
} parse_ctx;

static int bad(const parse_ctx *c, const char *why)
{
    return ck_err(c->err, c->errlen, CK_EINVAL, "policy: %s=%s: %s", c->key, c->val, why);
}

static int parse_number(const char *s, double *out)
{
    if (*s == '\0' || isspace((unsigned char)*s)) {
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* "v" -> [-v, v] with v >= 0; "lo:hi" -> [lo, hi] with lo <= hi. Then every
 * bound must lie in [min, max]. */
static int parse_range(const parse_ctx *c, double min, double max, const char *unit, aug_range *out)
{
    char buf[128];
    if (strlen(c->val) >= sizeof buf) {
        return bad(c, "value too long");
    }
    strcpy(buf, c->val);
    char *colon = strchr(buf, ':');
    double lo, hi;
    if (colon) {
        *colon = '\0';
        if (parse_number(buf, &lo) || parse_number(colon + 1, &hi)) {
            return bad(c, "expected a number or LO:HI");
        }
        if (lo > hi) {
            return bad(c, "LO is above HI");
        }
    } else {
        if (parse_number(buf, &hi)) {
            return bad(c, "expected a number or LO:HI");
        }
        if (hi < 0) {
            return bad(c, "a single value is a magnitude and must not be negative "
                          "(use LO:HI for a one-sided range)");
        }
        lo = -hi;
    }
    if (lo < min || hi > max) {
        char why[160];
        snprintf(why, sizeof why, "out of range: %s must lie in [%g, %g]", unit, min, max);
        return bad(c, why);
    }
    *out = (aug_range){lo, hi};
    return 0;
}

static int apply_preset(aug_policy *p, const char *name)
{
    policy_reset(p);
    if (strcmp(name, "none") == 0) {
        return 0;
    }
    if (strcmp(name, "chollet-1st") == 0) {
        p->legacy = 1;
        p->flip_h = 1;
        p->rotate = (aug_range){-40, 40};
        p->zoom = (aug_range){-0.2, 0.2};
        p->shift_x = p->shift_y = (aug_range){-0.2, 0.2};
        p->shear = (aug_range){-0.2, 0.2};
        p->fill = AUG_FILL_NEAREST;
        return 0;
    }
    if (strcmp(name, "chollet-2nd") == 0) {
        p->flip_h = 1;
        p->rotate = (aug_range){-0.1, 0.1};
        p->zoom = (aug_range){-0.2, 0.2};
        return 0;
    }
    return -1;
}

static int parse_item(aug_policy *p, int *fill_set, const parse_ctx *c)
{
    const char *k = c->key, *v = c->val;
    if (strcmp(k, "mode") == 0) {
        if (strcmp(v, "keras") == 0 || strcmp(v, "legacy") == 0) {
            p->legacy = strcmp(v, "legacy") == 0;
            return 0;
        }
        return bad(c, "expected keras or legacy");
    }
    if (strcmp(k, "flip") == 0) {
        static const char *names[] = {"none", "horizontal", "vertical", "both",
                                      "horizontal_and_vertical"};
        for (int i = 0; i < 5; i++) {
            if (strcmp(v, names[i]) == 0) {
                p->flip_h = i == 1 || i >= 3;
                p->flip_v = i >= 2;
                return 0;
            }
        }
        return bad(c, "expected none, horizontal, vertical or both");
    }
    if (strcmp(k, "rotate") == 0) {
        /* The legacy unit depends on mode, which may come later: check both
         * here with the wider bound, and again once the mode is known. */
        return parse_range(c, -180, 180, "a rotation (turns in [-1, 1]; degrees with mode=legacy)",
                           &p->rotate);
    }
    if (strcmp(k, "zoom") == 0 || strcmp(k, "zoom_w") == 0) {
        aug_range r = {0, 0};
        int rc = parse_range(c, -1, 10, "the zoom deviation", &r);
        if (rc) {
            return rc;
        }
        if (strchr(v, ':') == NULL && r.hi >= 1) {
            return bad(c, "a single zoom value must be below 1 (zoom factors in (0, 2))");
        }
        if (r.lo <= -1) {
            return bad(c, "LO must be above -1 (the zoom factor 1+LO must stay positive)");
        }
        if (k[4] == '_') {
            p->zoom_w = r;
            p->zoom_w_set = 1;
        } else {
            p->zoom = r;
        }
        return 0;
    }
    if (strcmp(k, "shift") == 0 || strcmp(k, "shift_x") == 0 || strcmp(k, "shift_y") == 0) {
        aug_range r = {0, 0};
        int rc = parse_range(c, -1, 1, "a fraction of the size", &r);
        if (rc) {
            return rc;
        }
        if (strcmp(k, "shift_y") != 0) {
            p->shift_x = r;
        }
        if (strcmp(k, "shift_x") != 0) {
            p->shift_y = r;
        }
        return 0;
    }
    if (strcmp(k, "shear") == 0) {
        return parse_range(c, -1.5707, 1.5707, "the shear (factor or radians)", &p->shear);
    }
    if (strcmp(k, "contrast") == 0) {
        return parse_range(c, -1, 10, "the contrast deviation", &p->contrast);
    }
    if (strcmp(k, "brightness") == 0) {
        return parse_range(c, -1, 1, "a fraction of full scale", &p->brightness);
    }
    if (strcmp(k, "fill") == 0) {
        static const char *names[] = {"reflect", "nearest", "wrap", "constant"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(v, names[i]) == 0) {
                p->fill = (aug_fill)i;
                *fill_set = 1;
                return 0;
            }
        }
        return bad(c, "expected reflect, nearest, wrap or constant");
    }
    if (strcmp(k, "fill_value") == 0) {
        double x;
        if (parse_number(v, &x) || x < 0 || x > 255) {
            return bad(c, "expected a pixel value in [0, 255]");
        }
        p->fill_value = x;
        return 0;
    }
    if (strcmp(k, "interp") == 0) {
        static const char *names[] = {"nearest", "bilinear", "bicubic"};
        for (int i = 0; i < 3; i++) {
            if (strcmp(v, names[i]) == 0) {
                p->interp = (aug_interp)i;
                return 0;
            }
        }
        return bad(c, "expected nearest, bilinear or bicubic");
    }
    return bad(c, "unknown key (keys: mode, flip, rotate, zoom, zoom_w, shift, shift_x, "
                  "shift_y, shear, contrast, brightness, fill, fill_value, interp)");
}

static void range_text(char *buf, size_t len, aug_range r);

/* Rules that depend on the mode, checked once the whole text is read. */
static int check_mode(const aug_policy *p, char *err, size_t errlen)
{
    char v[90];
    if (!p->legacy && (p->rotate.lo < -1 || p->rotate.hi > 1)) {
        range_text(v, sizeof v, p->rotate);
        return ck_err(err, errlen, CK_EINVAL,
                      "policy: rotate=%s: out of range: a rotation factor is a fraction of a "
                      "full turn in [-1, 1] (degrees need mode=legacy)",
                      v);
    }
    if (!p->legacy && (p->shear.lo < -1 || p->shear.hi > 1)) {
        range_text(v, sizeof v, p->shear);
        return ck_err(err, errlen, CK_EINVAL,
                      "policy: shear=%s: out of range: a shear factor lies in [-1, 1]", v);
    }
    return 0;
}

int aug_policy_parse(aug_policy **out, const char *text, char *err, size_t errlen)
{
    *out = NULL;
    if (text == NULL) {
        text = "";
    }
    aug_policy *p = malloc(sizeof *p);
    char *copy = malloc(strlen(text) + 1);
    if (!p || !copy) {
        free(p);
        free(copy);
        return ck_err(err, errlen, CK_ENOMEM, "policy: out of memory");
    }
    policy_reset(p);
    strcpy(copy, text);
    int fill_set = 0, rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item)) {
            item++;
        }
        char *end = item + strlen(item);
        while (end > item && isspace((unsigned char)end[-1])) {
            *--end = '\0';
        }
        if (*item == '\0') {
            continue;
        }
        char *eq = strchr(item, '=');
        if (!eq) {
            if (apply_preset(p, item) == 0) {
                fill_set = 0;
                continue;
            }
            rc = ck_err(err, errlen, CK_EINVAL,
                        "policy: %s: expected key=value or a preset (chollet-1st, "
                        "chollet-2nd, none)",
                        item);
            break;
        }
        *eq = '\0';
        char *key = item, *val = eq + 1;
        for (char *e = eq; e > key && isspace((unsigned char)e[-1]);) {
            *--e = '\0';
        }
        while (isspace((unsigned char)*val)) {
            val++;
        }
        parse_ctx c = {err, errlen, key, val};
        if ((rc = parse_item(p, &fill_set, &c)) != 0) {
            break;
        }
    }
    free(copy);
    if (rc == 0 && !fill_set && p->legacy) {
        p->fill = AUG_FILL_NEAREST;
    }
    if (rc == 0) {
        rc = check_mode(p, err, errlen);
    }
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void aug_policy_destroy(aug_policy *p)
{
    free(p);
}

/* ---- printing ---- */

/* The shortest %g form that reads back as the same double, without an
 * exponent for ordinary magnitudes ("40", not "4e+01"). */
static void fmt_double(char *buf, size_t len, double v)
{
    int plain = fabs(v) >= 1e-4 && fabs(v) < 1e15;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v && !(plain && strchr(buf, 'e'))) {
            return;
        }
    }
}

typedef struct outbuf {
    char *buf;
    size_t len, used;
} outbuf;

static void put(outbuf *o, const char *s)
{
    size_t n = strlen(s);
    if (o->len > 0 && o->used < o->len - 1) {
        size_t room = o->len - 1 - o->used;
        memcpy(o->buf + o->used, s, n < room ? n : room);
        o->buf[o->used + (n < room ? n : room)] = '\0';
    }
    o->used += n;
}

static void put_item(outbuf *o, const char *key, const char *val)
{
    if (o->used > 0) {
        put(o, ",");
    }
    put(o, key);
    put(o, "=");
    put(o, val);
}

static int range_empty(aug_range r)
{
    return r.lo == 0 && r.hi == 0;
}

/* "v" for [-v, v], else "lo:hi". */
static void range_text(char *buf, size_t len, aug_range r)
{
    char a[40], b[40];
    fmt_double(b, sizeof b, r.hi);
    if (r.lo == -r.hi && r.hi >= 0) {
        snprintf(buf, len, "%s", b);
        return;
    }
    fmt_double(a, sizeof a, r.lo);
    snprintf(buf, len, "%s:%s", a, b);
}

static void put_range(outbuf *o, const char *key, aug_range r)
{
    char s[90];
    range_text(s, sizeof s, r);
    put_item(o, key, s);
}

size_t aug_policy_print(const aug_policy *p, char *buf, size_t len)
{
    static const char *fills[] = {"reflect", "nearest", "wrap", "constant"};
    static const char *interps[] = {"nearest", "bilinear", "bicubic"};
    outbuf o = {buf, len, 0};
    if (len > 0) {
        buf[0] = '\0';
    }
    if (p->legacy) {
        put_item(&o, "mode", "legacy");
    }
    if (p->flip_h || p->flip_v) {
        put_item(&o, "flip",
                 p->flip_h && p->flip_v ? "both"
                 : p->flip_h            ? "horizontal"
                                        : "vertical");
    }
    if (!range_empty(p->rotate)) {
        put_range(&o, "rotate", p->rotate);
    }
    if (!range_empty(p->zoom)) {
        put_range(&o, "zoom", p->zoom);
    }
    if (p->zoom_w_set) {
        put_range(&o, "zoom_w", p->zoom_w);
    }
    if (p->shift_x.lo == p->shift_y.lo && p->shift_x.hi == p->shift_y.hi) {
        if (!range_empty(p->shift_x)) {
            put_range(&o, "shift", p->shift_x);
        }
    } else {
        if (!range_empty(p->shift_x)) {
            put_range(&o, "shift_x", p->shift_x);
        }
        if (!range_empty(p->shift_y)) {
            put_range(&o, "shift_y", p->shift_y);
        }
    }
    if (!range_empty(p->shear)) {
        put_range(&o, "shear", p->shear);
    }
    if (!range_empty(p->contrast)) {
        put_range(&o, "contrast", p->contrast);
    }
    if (!range_empty(p->brightness)) {
        put_range(&o, "brightness", p->brightness);
    }
    put_item(&o, "fill", fills[p->fill]);
    if (p->fill == AUG_FILL_CONSTANT) {
        char v[40];
        fmt_double(v, sizeof v, p->fill_value);
        put_item(&o, "fill_value", v);
    }
    put_item(&o, "interp", interps[p->interp]);
    return o.used;
}

int aug_policy_is_identity(const aug_policy *p)
{
    return !p->flip_h && !p->flip_v && range_empty(p->rotate) && range_empty(p->zoom) &&
           (!p->zoom_w_set || range_empty(p->zoom_w)) && range_empty(p->shift_x) &&
           range_empty(p->shift_y) && range_empty(p->shear) && range_empty(p->contrast) &&
           range_empty(p->brightness);
}

aug_fill aug_policy_fill(const aug_policy *p)
{
    return p ? p->fill : AUG_FILL_REFLECT;
}

aug_interp aug_policy_interp(const aug_policy *p)
{
    return p ? p->interp : AUG_INTERP_BILINEAR;
}

/* ---- drawing ---- */

aug_sample aug_sample_identity(void)
{
    return (aug_sample){.zoom_x = 1, .zoom_y = 1, .contrast = 1};
}

enum {
    SLOT_FLIP_H,
    SLOT_FLIP_V,
    SLOT_ROTATE,
    SLOT_ZOOM_Y,
    SLOT_ZOOM_X,
    SLOT_SHIFT_X,
    SLOT_SHIFT_Y,
    SLOT_SHEAR,
    SLOT_CONTRAST,
    SLOT_BRIGHTNESS,
    NSLOTS
};

static double in_range(aug_range r, double u)
{
    return r.lo + (r.hi - r.lo) * u;
}

void aug_policy_draw(const aug_policy *p, uint64_t seed, uint64_t epoch, uint64_t id,
                     aug_sample *out)
{
    *out = aug_sample_identity();
    if (!p) {
        return;
    }
    ck_rng r;
    ck_rng_init(&r, seed, epoch, id, CK_RNG_AUGMENT);
    double u[NSLOTS];
    for (int i = 0; i < NSLOTS; i++) {
        u[i] = ck_rng_uniform(&r);
    }
    out->legacy = p->legacy;
    out->flip_h = p->flip_h && u[SLOT_FLIP_H] < 0.5;
    out->flip_v = p->flip_v && u[SLOT_FLIP_V] < 0.5;
    double rot = in_range(p->rotate, u[SLOT_ROTATE]);
    out->angle = p->legacy ? rot * (PI / 180) : rot * (2 * PI);
    out->zoom_y = 1 + in_range(p->zoom, u[SLOT_ZOOM_Y]);
    if (p->zoom_w_set) {
        out->zoom_x = 1 + in_range(p->zoom_w, u[SLOT_ZOOM_X]);
    } else if (p->legacy) {
        out->zoom_x = 1 + in_range(p->zoom, u[SLOT_ZOOM_X]);
    } else {
        out->zoom_x = out->zoom_y;
    }
    out->shift_x = in_range(p->shift_x, u[SLOT_SHIFT_X]);
    out->shift_y = in_range(p->shift_y, u[SLOT_SHIFT_Y]);
    out->shear = in_range(p->shear, u[SLOT_SHEAR]);
    out->contrast = 1 + in_range(p->contrast, u[SLOT_CONTRAST]);
    out->brightness = in_range(p->brightness, u[SLOT_BRIGHTNESS]);
}
