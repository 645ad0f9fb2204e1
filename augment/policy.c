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
 * [0.8, 1.2]). Each range key has one rule (range_rule) that the parser
 * applies, its message states and the help prints. Rotation and shear
 * change unit with the mode, which may come after them in the text, so a
 * first pass finds the mode the policy ends in and every item is checked
 * against that.
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

/* The bounds of a range key: a single value v (the range [-v, v]) must
 * lie in [0, single] (or [0, single) with single_open); LO:HI in
 * [lo, hi] (ends open per lo_open, hi_open) with LO <= HI. One table
 * states the rule to the parser, its error and the help, so the three
 * agree. */
typedef struct range_rule {
    double single, lo, hi;
    int single_open, lo_open, hi_open;
} range_rule;

#define HALF_PI (PI / 2)
static const range_rule rotate_turns = {1, -1, 1, 0, 0, 0};
static const range_rule rotate_degrees = {180, -180, 180, 0, 0, 0};
static const range_rule zoom_rule = {1, -1, 10, 1, 1, 0}; /* factors 1+u stay positive */
static const range_rule shift_rule = {1, -1, 1, 0, 0, 0};
static const range_rule shear_factor = {1, -1, 1, 0, 0, 0};
static const range_rule shear_radians = {HALF_PI, -HALF_PI, HALF_PI, 1, 1, 1};
static const range_rule contrast_rule = {1, -1, 10, 0, 0, 0}; /* Keras: lower <= 1 */
static const range_rule brightness_rule = {1, -1, 1, 0, 0, 0};

static const char *const keys[] = {"mode",       "flip",    "rotate",     "zoom",   "zoom_w",
                                   "shift",      "shift_x", "shift_y",    "shear",  "contrast",
                                   "brightness", "fill",    "fill_value", "interp", NULL};
static const char *const presets[] = {"chollet-1st", "chollet-2nd", "none", NULL};

static void fmt_double(char *buf, size_t len, double v);

static void bound_text(char *buf, size_t len, double v)
{
    if (fabs(v) == HALF_PI) {
        snprintf(buf, len, "%spi/2", v < 0 ? "-" : "");
    } else {
        fmt_double(buf, len, v);
    }
}

/* "F in [0, 1) or LO:HI with -1 < LO <= HI <= 10" */
static void rule_text(char *buf, size_t len, const range_rule *r)
{
    char s[40], lo[40], hi[40];
    bound_text(s, sizeof s, r->single);
    bound_text(lo, sizeof lo, r->lo);
    bound_text(hi, sizeof hi, r->hi);
    snprintf(buf, len, "F in [0, %s%c or LO:HI with %s %s LO <= HI %s %s", s,
             r->single_open ? ')' : ']', lo, r->lo_open ? "<" : "<=", r->hi_open ? "<" : "<=", hi);
}

static void help_key(ck_buf *b, const char *key, const char *what, const range_rule *r,
                     const char *mode)
{
    char rule[160];
    rule_text(rule, sizeof rule, r);
    if (what) {
        ck_buf_printf(b, "  %-18s %s\n", key, what);
    }
    ck_buf_printf(b, "%21s%s%s\n", "", mode ? mode : "", rule);
}

void aug_policy_help(ck_buf *b)
{
    ck_buf_str(b, "A policy is a comma-separated list of key=value items and presets; later\n"
                  "items override earlier ones. A single number F means the range [-F, F];\n"
                  "LO:HI gives the bounds. Each key's rule follows its meaning; with mode=legacy\n"
                  "rotate and shear take theirs.\n"
                  "\n"
                  "  mode=keras|legacy  keras (default): Keras preprocessing layers applied in\n"
                  "                     the order flip, rotate, zoom, shift, shear.\n"
                  "                     legacy: ImageDataGenerator (the book's first edition):\n"
                  "                     rotate in degrees, x and y zoom drawn independently,\n"
                  "                     shear an angle in radians (Keras 2.0/2.1), composed as\n"
                  "                     rotation * shift * shear * zoom, flip last, fill=nearest\n"
                  "  flip=none|horizontal|vertical|both   each flip with probability 1/2\n");
    help_key(b, "rotate=F",
             "keras: a fraction of a full turn, counter-clockwise\n"
             "                     positive (0.1 is +-36 degrees); legacy: degrees",
             &rotate_turns, "keras: ");
    help_key(b, NULL, NULL, &rotate_degrees, "legacy: ");
    help_key(b, "zoom=F",
             "zoom factor 1+u, u in the range; > 1 zooms out; keras\n"
             "                     keeps the aspect ratio unless zoom_w is set",
             &zoom_rule, NULL);
    help_key(b, "zoom_w=F", "width zoom drawn on its own (RandomZoom's width_factor)", &zoom_rule,
             NULL);
    help_key(b, "shift=F",
             "shift_x=F and shift_y=F: fractions of the width and\n"
             "                     height",
             &shift_rule, NULL);
    ck_buf_str(b, "  shift_x=F, shift_y=F\n");
    help_key(b, "shear=F",
             "keras: x_in = x + k y, k in the range; legacy: an angle\n"
             "                     in radians",
             &shear_factor, "keras: ");
    help_key(b, NULL, NULL, &shear_radians, "legacy: ");
    help_key(b, "contrast=F", "per channel (x - mean) * (1+u) + mean", &contrast_rule, NULL);
    help_key(b, "brightness=F", "adds u * 255; results clipped to 0..255", &brightness_rule, NULL);
    ck_buf_str(b,
               "  fill=reflect|nearest|wrap|constant   outside the image (keras default reflect,\n"
               "                     legacy default nearest):\n"
               "                     reflect (d c b a | a b c d | d c b a)\n"
               "                     nearest (a a a a | a b c d | d d d d)\n"
               "                     wrap    (a b c d | a b c d | a b c d)\n"
               "                     constant (k k k k | a b c d | k k k k)\n"
               "  fill_value=K       k for fill=constant, pixel units in [0, 255] (default 0)\n"
               "  interp=nearest|bilinear|bicubic      default bilinear\n"
               "\n"
               "Presets:\n"
               "  chollet-1st  mode=legacy,flip=horizontal,rotate=40,zoom=0.2,shift=0.2,\n"
               "               shear=0.2,fill=nearest   (ImageDataGenerator, 1st edition)\n"
               "  chollet-2nd  flip=horizontal,rotate=0.1,zoom=0.2  (Keras layers, 2nd edition)\n"
               "  none         no augmentation\n");
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
    int legacy; /* the policy's final mode, which rotate's and shear's rules follow */
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

static int below(double x, double bound, int open)
{
    return open ? x < bound : x <= bound;
}

/* "F" -> [-F, F], "LO:HI" -> [LO, HI], each within rule r; the error
 * states r whatever broke it (syntax, sign, order or bounds). */
static int parse_range(const parse_ctx *c, const range_rule *r, const char *note, aug_range *out)
{
    char buf[128];
    double lo, hi;
    int ok = strlen(c->val) < sizeof buf;
    if (ok) {
        strcpy(buf, c->val);
        char *colon = strchr(buf, ':');
        if (colon) {
            *colon = '\0';
            ok = parse_number(buf, &lo) == 0 && parse_number(colon + 1, &hi) == 0 && lo <= hi &&
                 below(r->lo, lo, r->lo_open) && below(hi, r->hi, r->hi_open);
        } else {
            ok = parse_number(buf, &hi) == 0 && hi >= 0 && below(hi, r->single, r->single_open);
            lo = -hi;
        }
    }
    if (!ok) {
        char rule[160], why[256];
        rule_text(rule, sizeof rule, r);
        snprintf(why, sizeof why, "want %s%s", rule, note ? note : "");
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

/* " (keys: ...); did you mean X?" for an unknown word among names. */
static void unknown_word(char *buf, size_t len, const char *word, const char *const *names,
                         const char *what)
{
    ck_nearest n;
    ck_nearest_init(&n, word);
    size_t used = (size_t)snprintf(buf, len, "%s", what);
    for (int i = 0; names[i]; i++) {
        ck_nearest_add(&n, names[i]);
        if (used < len) {
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
        }
    }
    char hint[128];
    if (used < len) {
        snprintf(buf + used, len - used, ")%s", ck_nearest_hint(&n, hint, sizeof hint));
    }
}

static int parse_item(aug_policy *p, int *fill_set, const parse_ctx *c)
{
    const char *k = c->key, *v = c->val;
    if (strcmp(k, "mode") == 0) {
        if (strcmp(v, "keras") == 0 || strcmp(v, "legacy") == 0) {
            p->legacy = strcmp(v, "legacy") == 0;
            return 0;
        }
        return bad(c, "want keras or legacy");
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
        return bad(c, "want none, horizontal, vertical or both");
    }
    if (strcmp(k, "rotate") == 0) {
        return c->legacy ? parse_range(c, &rotate_degrees, " (degrees, mode=legacy)", &p->rotate)
                         : parse_range(c, &rotate_turns,
                                       " (a fraction of a full turn; degrees need mode=legacy)",
                                       &p->rotate);
    }
    if (strcmp(k, "zoom") == 0 || strcmp(k, "zoom_w") == 0) {
        aug_range r = {0, 0};
        int rc = parse_range(c, &zoom_rule, " (the zoom factor 1+u must stay positive)", &r);
        if (rc == 0 && k[4] == '_') {
            p->zoom_w = r;
            p->zoom_w_set = 1;
        } else if (rc == 0) {
            p->zoom = r;
        }
        return rc;
    }
    if (strcmp(k, "shift") == 0 || strcmp(k, "shift_x") == 0 || strcmp(k, "shift_y") == 0) {
        aug_range r = {0, 0};
        int rc = parse_range(c, &shift_rule, " (a fraction of the size)", &r);
        if (rc == 0 && strcmp(k, "shift_y") != 0) {
            p->shift_x = r;
        }
        if (rc == 0 && strcmp(k, "shift_x") != 0) {
            p->shift_y = r;
        }
        return rc;
    }
    if (strcmp(k, "shear") == 0) {
        return c->legacy ? parse_range(c, &shear_radians, " (radians, mode=legacy)", &p->shear)
                         : parse_range(c, &shear_factor, " (a shear factor)", &p->shear);
    }
    if (strcmp(k, "contrast") == 0) {
        return parse_range(c, &contrast_rule, " (the contrast factor 1+u stays >= 0)",
                           &p->contrast);
    }
    if (strcmp(k, "brightness") == 0) {
        return parse_range(c, &brightness_rule, " (a fraction of full scale)", &p->brightness);
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
        return bad(c, "want reflect, nearest, wrap or constant");
    }
    if (strcmp(k, "fill_value") == 0) {
        double x;
        if (parse_number(v, &x) || x < 0 || x > 255) {
            return bad(c, "want a pixel value in [0, 255]");
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
        return bad(c, "want nearest, bilinear or bicubic");
    }
    char why[400];
    unknown_word(why, sizeof why, k, keys, "unknown key (keys: ");
    return bad(c, why);
}

/* Splits text into trimmed items, each "key=value" (val set) or a word
 * (val NULL), and calls fn on each until it returns nonzero. */
typedef int (*item_fn)(void *ctx, char *key, char *val);

static int each_item(char *copy, item_fn fn, void *ctx)
{
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
        char *eq = strchr(item, '='), *val = NULL;
        if (eq) {
            *eq = '\0';
            val = eq + 1;
            for (char *e = eq; e > item && isspace((unsigned char)e[-1]);) {
                *--e = '\0';
            }
            while (isspace((unsigned char)*val)) {
                val++;
            }
        }
        int rc = fn(ctx, item, val);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* The first pass: the mode the policy ends in (presets set it too). */
static int find_mode(void *ctx, char *key, char *val)
{
    int *legacy = ctx;
    if (!val) {
        *legacy = strcmp(key, "chollet-1st") == 0;
    } else if (strcmp(key, "mode") == 0 && (!strcmp(val, "legacy") || !strcmp(val, "keras"))) {
        *legacy = strcmp(val, "legacy") == 0;
    }
    return 0;
}

typedef struct parse_state {
    aug_policy *p;
    int fill_set, legacy;
    char *err;
    size_t errlen;
} parse_state;

static int parse_one(void *ctx, char *key, char *val)
{
    parse_state *s = ctx;
    if (!val) {
        if (apply_preset(s->p, key) == 0) {
            s->fill_set = 0;
            return 0;
        }
        char why[300];
        unknown_word(why, sizeof why, key, presets, "want key=value or a preset (");
        return ck_err(s->err, s->errlen, CK_EINVAL, "policy: %s: %s", key, why);
    }
    parse_ctx c = {s->err, s->errlen, key, val, s->legacy};
    return parse_item(s->p, &s->fill_set, &c);
}

int aug_policy_parse(aug_policy **out, const char *text, char *err, size_t errlen)
{
    *out = NULL;
    if (text == NULL) {
        text = "";
    }
    aug_policy *p = malloc(sizeof *p);
    size_t len = strlen(text) + 1;
    char *copy = malloc(len), *copy2 = malloc(len);
    if (!p || !copy || !copy2) {
        free(p);
        free(copy);
        free(copy2);
        return ck_err(err, errlen, CK_ENOMEM, "policy: out of memory");
    }
    policy_reset(p);
    memcpy(copy, text, len);
    memcpy(copy2, text, len);
    parse_state s = {p, 0, 0, err, errlen};
    each_item(copy, find_mode, &s.legacy);
    int rc = each_item(copy2, parse_one, &s);
    free(copy);
    free(copy2);
    if (rc == 0 && !s.fill_set && p->legacy) {
        p->fill = AUG_FILL_NEAREST;
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

/* ---- in words ---- */

/* v rounded to 4 significant digits (0.1 of a turn is 36 degrees, not
 * 36.000000000000007), the minus sign as a printed page writes it. */
static void words_num(char *buf, size_t len, double v)
{
    char t[48];
    snprintf(t, sizeof t, "%.4g", fabs(v));
    double r = strtod(t, NULL);
    fmt_double(t, sizeof t, r);
    snprintf(buf, len, "%s%s", v < 0 && r != 0 ? "−" : "", t);
}

/* "lo to hi" with unit after each, the range scaled. */
static void words_range(ck_buf *b, aug_range r, double scale, const char *unit)
{
    char lo[64], hi[64];
    words_num(lo, sizeof lo, r.lo * scale);
    words_num(hi, sizeof hi, r.hi * scale);
    ck_buf_printf(b, "%s%s to %s%s", lo, unit, hi, unit);
}

void aug_policy_describe(const aug_policy *p, ck_buf *b)
{
    static const char *const fills[] = {
        "reflected at the edge, the edge pixel repeated (d c b a | a b c d | d c b a)",
        "the nearest edge pixel (a a a a | a b c d | d d d d)",
        "the image wrapped around (a b c d | a b c d | a b c d)",
        "a constant",
    };
    static const char *const interps[] = {"nearest-neighbour", "bilinear", "bicubic"};
    if (!p || aug_policy_is_identity(p)) {
        ck_buf_str(b, "No augmentation: every image is used as it is.\n");
        return;
    }
    if (p->legacy) {
        ck_buf_str(b, "As the first edition's ImageDataGenerator (mode=legacy).\n");
    }
    if (p->flip_h && p->flip_v) {
        ck_buf_str(b, "Flipped left to right, and independently upside down, each with "
                      "probability 1/2.\n");
    } else if (p->flip_h) {
        ck_buf_str(b, "Flipped left to right with probability 1/2.\n");
    } else if (p->flip_v) {
        ck_buf_str(b, "Flipped upside down with probability 1/2.\n");
    }
    if (!range_empty(p->rotate)) {
        ck_buf_str(b, "Rotated by an angle drawn uniformly from ");
        words_range(b, p->rotate, p->legacy ? 1 : 360, "°");
        if (!p->legacy) {
            ck_buf_str(b, " (");
            words_range(b, p->rotate, 1, "");
            ck_buf_str(b, " of a turn)");
        }
        ck_buf_str(b, ", counter-clockwise positive.\n");
    }
    if (!range_empty(p->zoom) || (p->zoom_w_set && !range_empty(p->zoom_w))) {
        aug_range f = {1 + p->zoom.lo, 1 + p->zoom.hi};
        ck_buf_str(b, "Zoomed by a factor drawn from ");
        words_range(b, f, 1, "");
        if (p->zoom_w_set) {
            aug_range fw = {1 + p->zoom_w.lo, 1 + p->zoom_w.hi};
            ck_buf_str(b, " for the height and from ");
            words_range(b, fw, 1, "");
            ck_buf_str(b, " for the width, drawn apart");
        } else if (p->legacy) {
            ck_buf_str(b, ", for the width and the height apart");
        } else {
            ck_buf_str(b, ", the same for the width and the height");
        }
        ck_buf_str(b, " (above 1 zooms out: the content shrinks).\n");
    }
    int same = p->shift_x.lo == p->shift_y.lo && p->shift_x.hi == p->shift_y.hi;
    if (same && !range_empty(p->shift_x)) {
        ck_buf_str(b, "Shifted by a fraction of the width and of the height, each drawn from ");
        words_range(b, p->shift_x, 100, "%");
        ck_buf_str(b, ".\n");
    } else {
        if (!range_empty(p->shift_x)) {
            ck_buf_str(b, "Shifted sideways by ");
            words_range(b, p->shift_x, 100, "%");
            ck_buf_str(b, " of the width.\n");
        }
        if (!range_empty(p->shift_y)) {
            ck_buf_str(b, "Shifted up or down by ");
            words_range(b, p->shift_y, 100, "%");
            ck_buf_str(b, " of the height.\n");
        }
    }
    if (!range_empty(p->shear)) {
        if (p->legacy) {
            ck_buf_str(b, "Sheared by an angle drawn from ");
            words_range(b, p->shear, 180 / PI, "°");
            ck_buf_str(b, " (");
            words_range(b, p->shear, 1, "");
            ck_buf_str(b, " radians).\n");
        } else {
            ck_buf_str(b, "Sheared: each row moves sideways by k times its height from the "
                          "centre, k drawn from ");
            words_range(b, p->shear, 1, "");
            ck_buf_str(b, ".\n");
        }
    }
    if (!range_empty(p->contrast)) {
        aug_range f = {1 + p->contrast.lo, 1 + p->contrast.hi};
        ck_buf_str(b, "Contrast scaled about each channel's mean by a factor drawn from ");
        words_range(b, f, 1, "");
        ck_buf_str(b, ".\n");
    }
    if (!range_empty(p->brightness)) {
        ck_buf_str(b, "Brightness shifted by ");
        words_range(b, p->brightness, 100, "%");
        ck_buf_str(b, " of full scale.\n");
    }
    ck_buf_printf(b, "Where the image does not reach: %s", fills[p->fill]);
    if (p->fill == AUG_FILL_CONSTANT) {
        char v[48];
        fmt_double(v, sizeof v, p->fill_value);
        ck_buf_printf(b, " %s", v);
    }
    ck_buf_printf(b, ". Resampled once, %s.\n", interps[p->interp]);
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
