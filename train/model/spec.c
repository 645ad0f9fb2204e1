/* spec.c: model spec files and the built-in models.
 *
 * A spec is one Keras layer per line, written as in Python so that a
 * model from the book can be pasted in:
 *
 *     Input(shape=(28, 28, 1))
 *     Conv2D(32, (3, 3), activation="relu")   # comments run to the end
 *     layers.MaxPooling2D(pool_size=2)
 *
 * Positional arguments follow Keras's signatures; a `layers.` or
 * `keras.layers.` prefix is accepted, and so is Keras 1-style
 * `input_shape=` on the first layer instead of an Input line. Anything
 * convkit does not implement (another data_format, dilation, initialisers)
 * is refused with the line and the reason rather than ignored. The
 * built-in models are spec texts too, parsed by the same code.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

/* ---- built-ins ---------------------------------------------------------- */

#define CONV3(k) "Conv2D(" #k ", (3, 3), activation=\"relu\")\n"
#define POOL2    "MaxPooling2D((2, 2))\n"
#define CATSDOGS_1ST_BASE                                                                          \
    "Input(shape=(150, 150, 3))\n" CONV3(32) POOL2 CONV3(64) POOL2 CONV3(128) POOL2 CONV3(128)     \
        POOL2 "Flatten()\n"
#define CONV3F(k) "Conv2D(filters=" #k ", kernel_size=3, activation=\"relu\")\n"
#define POOLF     "MaxPooling2D(pool_size=2)\n"
#define CATSDOGS_2ND_BASE                                                                          \
    "Input(shape=(180, 180, 3))\n"                                                                 \
    "Rescaling(1./255)\n" CONV3F(32) POOLF CONV3F(64) POOLF CONV3F(128) POOLF CONV3F(256)          \
        POOLF CONV3F(256) "Flatten()\n"

/* Keras's VGG16 conv base (keras.applications.vgg16, include_top=False),
 * its layer names included, so Keras's weight files load by name. */
#define VCONV(k, name)                                                                             \
    "Conv2D(" #k ", (3, 3), activation=\"relu\", padding=\"same\", name=\"" name "\")\n"
#define VPOOL(name) "MaxPooling2D((2, 2), strides=(2, 2), name=\"" name "\")\n"
#define VGG16_BASE                                                                                 \
    "keras.applications.vgg16.preprocess_input()\n" VCONV(64, "block1_conv1")                      \
        VCONV(64, "block1_conv2") VPOOL("block1_pool") VCONV(128, "block2_conv1")                  \
            VCONV(128, "block2_conv2") VPOOL("block2_pool") VCONV(256, "block3_conv1")             \
                VCONV(256, "block3_conv2") VCONV(256, "block3_conv3") VPOOL("block3_pool")         \
                    VCONV(512, "block4_conv1") VCONV(512, "block4_conv2")                          \
                        VCONV(512, "block4_conv3") VPOOL("block4_pool") VCONV(512, "block5_conv1") \
                            VCONV(512, "block5_conv2") VCONV(512, "block5_conv3")                  \
                                VPOOL("block5_pool")

static const struct {
    const char *name, *spec;
} builtins[] = {
    {"mnist", "# Two 5x5 convolutions for 28x28 grey digits: 118,346 parameters.\n"
              "Input(shape=(28, 28, 1))\n"
              "Conv2D(32, (5, 5), activation=\"relu\")\n" POOL2
              "Conv2D(64, (5, 5), activation=\"relu\")\n" POOL2 "Flatten()\n"
              "Dense(64, activation=\"relu\")\n"
              "Dense(10, activation=\"softmax\")\n"},
    {"mnist-3conv", "# DLwP 1st ed. listing 5.1, three 3x3 convolutions: 93,322 parameters.\n"
                    "Input(shape=(28, 28, 1))\n" CONV3(32) POOL2 CONV3(64)
                        POOL2 CONV3(64) "Flatten()\n"
                                        "Dense(64, activation=\"relu\")\n"
                                        "Dense(10, activation=\"softmax\")\n"},
    {"catsdogs-1st", "# DLwP 1st ed. listing 5.5, cats vs dogs from scratch: 3,453,121.\n"
                     "# Inputs in [0, 1] (the book rescales in the generator).\n" CATSDOGS_1ST_BASE
                     "Dense(512, activation=\"relu\")\n"
                     "Dense(1, activation=\"sigmoid\")\n"},
    {"catsdogs-1st-dropout",
     "# DLwP 1st ed. listing 5.13: catsdogs-1st with Dropout.\n" CATSDOGS_1ST_BASE "Dropout(0.5)\n"
     "Dense(512, activation=\"relu\")\n"
     "Dense(1, activation=\"sigmoid\")\n"},
    {"catsdogs-2nd", "# DLwP 2nd ed. section 8.2.3, cats vs dogs from scratch: 991,041.\n"
                     "# Inputs are pixels in [0, 255]; the model rescales.\n" CATSDOGS_2ND_BASE
                     "Dense(1, activation=\"sigmoid\")\n"},
    {"catsdogs-2nd-dropout",
     "# DLwP 2nd ed. section 8.2.5: catsdogs-2nd with Dropout.\n" CATSDOGS_2ND_BASE "Dropout(0.5)\n"
     "Dense(1, activation=\"sigmoid\")\n"},
    {"vgg16-base", "# Keras's VGG16 conv base (include_top=False): 14,714,688 parameters.\n"
                   "# Inputs are RGB pixels in [0, 255]; preprocess_input is VGG16's caffe\n"
                   "# preprocessing (BGR, ImageNet means subtracted). Any size >= 32.\n"
                   "Input(shape=(150, 150, 3))\n" VGG16_BASE},
    {"vgg16", "# Keras's VGG16 with its ImageNet classifier: 138,357,544 parameters.\n"
              "Input(shape=(224, 224, 3))\n" VGG16_BASE "Flatten(name=\"flatten\")\n"
              "Dense(4096, activation=\"relu\", name=\"fc1\")\n"
              "Dense(4096, activation=\"relu\", name=\"fc2\")\n"
              "Dense(1000, activation=\"softmax\", name=\"predictions\")\n"},
    {"vgg16-catsdogs", "# DLwP 2nd ed. section 8.3.1: the VGG16 conv base with a dense classifier\n"
                       "# on top, for feature extraction with augmentation and fine-tuning.\n"
                       "Input(shape=(180, 180, 3))\n" VGG16_BASE "Flatten()\n"
                       "Dense(256, activation=\"relu\")\n"
                       "Dropout(0.5)\n"
                       "Dense(1, activation=\"sigmoid\")\n"},
    {"vgg16-head", "# DLwP 2nd ed. listing 8.20: the classifier trained on features that\n"
                   "# extract-features stored (the Input takes their shape).\n"
                   "Input(shape=(5, 5, 512))\n"
                   "Flatten()\n"
                   "Dense(256, activation=\"relu\")\n"
                   "Dropout(0.5)\n"
                   "Dense(1, activation=\"sigmoid\")\n"},
};
enum { NBUILTINS = sizeof builtins / sizeof builtins[0] };

const char *nn_builtin_spec(const char *name)
{
    for (int i = 0; name && i < NBUILTINS; i++) {
        if (strcmp(name, builtins[i].name) == 0) {
            return builtins[i].spec;
        }
    }
    return NULL;
}

const char *nn_builtin_name(int i)
{
    return i >= 0 && i < NBUILTINS ? builtins[i].name : NULL;
}

int nn_spec_load(const char *model, char **text, char *err, size_t errlen)
{
    *text = NULL;
    const char *b = nn_builtin_spec(model);
    if (b) {
        *text = strdup(b);
        return *text ? 0 : ck_err(err, errlen, CK_ENOMEM, "%s: load: out of memory", model);
    }
    FILE *f = fopen(model, "rb");
    if (!f) {
        char why[128];
        return ck_err(err, errlen, CK_EIO, "%s: open: %s (not a built-in model either)", model,
                      ck_errno_text(errno, why, sizeof why));
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1) {
            break;
        }
        if (cap >= (1u << 20)) { /* a spec is a few lines */
            free(buf);
            fclose(f);
            return ck_err(err, errlen, CK_ELIMIT, "%s: read: larger than 1 MB", model);
        }
        char *nb = realloc(buf, cap *= 2);
        if (!nb) {
            free(buf);
        }
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", model);
    }
    if (bad) {
        free(buf);
        return ck_err(err, errlen, CK_EIO, "%s: read: i/o error", model);
    }
    buf[len] = '\0';
    *text = buf;
    return 0;
}

/* ---- lexer -------------------------------------------------------------- */

enum { T_END, T_IDENT, T_NUM, T_STR, T_PUNCT };

typedef struct lexer {
    const char *p; /* current position in the line */
    int tok;
    char text[64]; /* identifier, string or punctuation */
    double num;
} lexer;

/* Reads the next token; returns 0 or -1 on a malformed one (message in
 * lx->text). A '#' ends the line. */
static int lex(lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r') {
        lx->p++;
    }
    const char *s = lx->p;
    lx->text[0] = '\0';
    if (*s == '\0' || *s == '\n' || *s == '#') {
        lx->tok = T_END;
        return 0;
    }
    if (isalpha((unsigned char)*s) || *s == '_') {
        size_t n = 0;
        while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.') {
            n++;
        }
        if (n >= sizeof lx->text) {
            snprintf(lx->text, sizeof lx->text, "name too long");
            return -1;
        }
        memcpy(lx->text, s, n);
        lx->text[n] = '\0';
        lx->p = s + n;
        lx->tok = T_IDENT;
        return 0;
    }
    if (isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))) {
        char *end;
        lx->num = strtod(s, &end);
        lx->p = end;
        lx->tok = T_NUM;
        return 0;
    }
    if (*s == '"' || *s == '\'') {
        const char *e = strchr(s + 1, *s);
        if (!e || memchr(s, '\n', (size_t)(e - s))) {
            snprintf(lx->text, sizeof lx->text, "unterminated string");
            return -1;
        }
        size_t n = (size_t)(e - s - 1);
        if (n >= sizeof lx->text) {
            snprintf(lx->text, sizeof lx->text, "string too long");
            return -1;
        }
        memcpy(lx->text, s + 1, n);
        lx->text[n] = '\0';
        lx->p = e + 1;
        lx->tok = T_STR;
        return 0;
    }
    if (strchr("(),=/*-", *s)) {
        lx->text[0] = *s;
        lx->text[1] = '\0';
        lx->p = s + 1;
        lx->tok = T_PUNCT;
        return 0;
    }
    snprintf(lx->text, sizeof lx->text, "unexpected character '%c'", *s);
    return -1;
}

static int is_punct(const lexer *lx, char c)
{
    return lx->tok == T_PUNCT && lx->text[0] == c;
}

/* ---- values and arguments ----------------------------------------------- */

enum { V_NUM, V_STR, V_TUPLE };

typedef struct value {
    int kind;
    int n;         /* numbers in a tuple (1 for V_NUM) */
    double num[4]; /* V_NUM, V_TUPLE */
    char str[64];  /* V_STR: a string or an identifier (True, None...) */
} value;

typedef struct arg {
    char name[64];
    value v;
    int used;
} arg;

enum { MAX_ARGS = 12 };

typedef struct call {
    char type[64];
    arg args[MAX_ARGS];
    int nargs;
} call;

/* Error context of the line being parsed. */
typedef struct pctx {
    const char *source;
    int line;
    char *err;
    size_t errlen;
} pctx;

#define FAIL(c, ...) spec_fail(c, __VA_ARGS__)

static int spec_fail(const pctx *c, const char *fmt, ...) CK_PRINTF(2, 3);

static int spec_fail(const pctx *c, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return ck_err(c->err, c->errlen, CK_EFORMAT, "%s:%d: spec: %s", c->source, c->line, why);
}

/* number {('/'|'*') number}, each with an optional '-'. */
static int parse_numexpr(lexer *lx, const pctx *c, double *out)
{
    double acc = 0;
    char op = 0;
    for (;;) {
        double sign = 1;
        if (is_punct(lx, '-')) {
            sign = -1;
            if (lex(lx)) {
                return FAIL(c, "%s", lx->text);
            }
        }
        if (lx->tok != T_NUM) {
            return FAIL(c, "expected a number, found '%s'", lx->text);
        }
        double v = sign * lx->num;
        if (op == '/') {
            if (v == 0) {
                return FAIL(c, "division by zero");
            }
            acc /= v;
        } else if (op == '*') {
            acc *= v;
        } else {
            acc = v;
        }
        if (lex(lx)) {
            return FAIL(c, "%s", lx->text);
        }
        if (!is_punct(lx, '/') && !is_punct(lx, '*')) {
            *out = acc;
            return 0;
        }
        op = lx->text[0];
        if (lex(lx)) {
            return FAIL(c, "%s", lx->text);
        }
    }
}

static int parse_value(lexer *lx, const pctx *c, value *v)
{
    memset(v, 0, sizeof *v);
    if (lx->tok == T_STR || lx->tok == T_IDENT) {
        v->kind = V_STR;
        snprintf(v->str, sizeof v->str, "%s", lx->text);
        return lex(lx) ? FAIL(c, "%s", lx->text) : 0;
    }
    if (is_punct(lx, '(')) {
        v->kind = V_TUPLE;
        if (lex(lx)) {
            return FAIL(c, "%s", lx->text);
        }
        while (!is_punct(lx, ')')) {
            if (v->n == 4) {
                return FAIL(c, "tuple longer than 4");
            }
            int rc = parse_numexpr(lx, c, &v->num[v->n++]);
            if (rc) {
                return rc;
            }
            if (is_punct(lx, ',')) {
                if (lex(lx)) {
                    return FAIL(c, "%s", lx->text);
                }
            } else if (!is_punct(lx, ')')) {
                return FAIL(c, "expected ',' or ')' in a tuple, found '%s'", lx->text);
            }
        }
        return lex(lx) ? FAIL(c, "%s", lx->text) : 0;
    }
    v->kind = V_NUM;
    v->n = 1;
    return parse_numexpr(lx, c, &v->num[0]);
}

/* Keras's positional parameters of each layer type. */
static const struct {
    const char *type;
    nn_kind kind;
    const char *positional[4];
} signatures[] = {
    {"Input", NN_INPUT, {"shape"}},
    {"InputLayer", NN_INPUT, {"input_shape"}},
    {"Rescaling", NN_RESCALING, {"scale", "offset"}},
    {"Conv2D", NN_CONV2D, {"filters", "kernel_size", "strides", "padding"}},
    {"Convolution2D", NN_CONV2D, {"filters", "kernel_size", "strides", "padding"}},
    {"MaxPooling2D", NN_MAXPOOL2D, {"pool_size", "strides", "padding"}},
    {"MaxPool2D", NN_MAXPOOL2D, {"pool_size", "strides", "padding"}},
    {"Flatten", NN_FLATTEN, {NULL}},
    {"Dense", NN_DENSE, {"units", "activation", "use_bias"}},
    {"Dropout", NN_DROPOUT, {"rate"}},
    {"Activation", NN_ACTIVATION, {"activation"}},
    /* keras.applications.vgg16.preprocess_input: the x argument is the
     * previous layer, so no positional arguments. */
    {"preprocess_input", NN_PREPROCESS, {NULL}},
};
enum { NSIGS = sizeof signatures / sizeof signatures[0] };

const char *nn_kind_name(nn_kind kind)
{
    static const char *const names[NN_KINDS] = {"InputLayer",   "Rescaling",  "Conv2D",
                                                "MaxPooling2D", "Flatten",    "Dense",
                                                "Dropout",      "Activation", "TFOpLambda"};
    return names[kind];
}

/* Keras's automatic layer name stem. */
static const char *kind_stem(nn_kind kind)
{
    static const char *const stems[NN_KINDS] = {"input",         "rescaling",  "conv2d",
                                                "max_pooling2d", "flatten",    "dense",
                                                "dropout",       "activation", "preprocess_input"};
    return stems[kind];
}

/* Parses "Type(args)" on one line into c; returns 0, 1 for an empty line,
 * or an error. */
static int parse_call(const char *line, const pctx *pc, call *c, int *sig)
{
    lexer lx = {.p = line};
    memset(c, 0, sizeof *c);
    if (lex(&lx)) {
        return FAIL(pc, "%s", lx.text);
    }
    if (lx.tok == T_END) {
        return 1;
    }
    if (lx.tok != T_IDENT) {
        return FAIL(pc, "expected a layer name, found '%s'", lx.text);
    }
    const char *dot = strrchr(lx.text, '.');
    snprintf(c->type, sizeof c->type, "%s", dot ? dot + 1 : lx.text);
    *sig = -1;
    for (int i = 0; i < NSIGS; i++) {
        if (strcmp(c->type, signatures[i].type) == 0) {
            *sig = i;
        }
    }
    if (*sig < 0) {
        return FAIL(pc,
                    "unknown layer '%s' (known: Input, Rescaling, Conv2D, MaxPooling2D, "
                    "Flatten, Dense, Dropout, Activation, preprocess_input)",
                    c->type);
    }
    if (lex(&lx)) {
        return FAIL(pc, "%s", lx.text);
    }
    if (lx.tok == T_END) {
        return 0;
    }
    if (!is_punct(&lx, '(')) {
        return FAIL(pc, "expected '(' after %s, found '%s'", c->type, lx.text);
    }
    if (lex(&lx)) {
        return FAIL(pc, "%s", lx.text);
    }
    int npos = 0, keywords = 0;
    while (!is_punct(&lx, ')')) {
        if (lx.tok == T_END) {
            return FAIL(pc, "missing ')'");
        }
        if (c->nargs == MAX_ARGS) {
            return FAIL(pc, "too many arguments");
        }
        arg *a = &c->args[c->nargs];
        /* name=value or a positional value */
        if (lx.tok == T_IDENT) {
            lexer peek = lx;
            if (lex(&peek) == 0 && is_punct(&peek, '=')) {
                snprintf(a->name, sizeof a->name, "%s", lx.text);
                lx = peek;
                if (lex(&lx)) {
                    return FAIL(pc, "%s", lx.text);
                }
                keywords = 1;
            }
        }
        if (!a->name[0]) {
            if (keywords) {
                return FAIL(pc, "positional argument after a keyword argument");
            }
            const char *pname = npos < 4 ? signatures[*sig].positional[npos] : NULL;
            if (!pname) {
                return FAIL(pc, "%s takes at most %d positional arguments", c->type, npos);
            }
            snprintf(a->name, sizeof a->name, "%s", pname);
            npos++;
        }
        for (int i = 0; i < c->nargs; i++) {
            if (strcmp(c->args[i].name, a->name) == 0) {
                return FAIL(pc, "argument '%s' given twice", a->name);
            }
        }
        int rc = parse_value(&lx, pc, &a->v);
        if (rc) {
            return rc;
        }
        c->nargs++;
        if (is_punct(&lx, ',')) {
            if (lex(&lx)) {
                return FAIL(pc, "%s", lx.text);
            }
        } else if (!is_punct(&lx, ')')) {
            return FAIL(pc, "expected ',' or ')', found '%s'",
                        lx.text[0] ? lx.text : "end of line");
        }
    }
    if (lex(&lx)) {
        return FAIL(pc, "%s", lx.text);
    }
    if (lx.tok != T_END) {
        return FAIL(pc, "unexpected '%s' after ')'", lx.text);
    }
    return 0;
}

static arg *find_arg(call *c, const char *name)
{
    for (int i = 0; i < c->nargs; i++) {
        if (strcmp(c->args[i].name, name) == 0) {
            c->args[i].used = 1;
            return &c->args[i];
        }
    }
    return NULL;
}

/* A positive integer argument; def when absent (def < 0: required). */
static int get_int(call *c, const pctx *pc, const char *name, int def, int *out)
{
    arg *a = find_arg(c, name);
    if (!a) {
        if (def < 0) {
            return FAIL(pc, "%s: missing argument '%s'", c->type, name);
        }
        *out = def;
        return 0;
    }
    double v = a->v.num[0];
    if (a->v.kind != V_NUM || v != (double)(int)v || v < 1 || v > 1e6) {
        return FAIL(pc, "%s: '%s' must be a positive integer", c->type, name);
    }
    *out = (int)v;
    return 0;
}

/* An int or a pair of positive ints ((3, 3) or 3); def when absent
 * (def < 0: required). */
static int get_pair(call *c, const pctx *pc, const char *name, int def, int out[2])
{
    arg *a = find_arg(c, name);
    if (!a || (a->v.kind == V_STR && strcmp(a->v.str, "None") == 0)) {
        if (def < 0) {
            return FAIL(pc, "%s: missing argument '%s'", c->type, name);
        }
        out[0] = out[1] = def;
        return 0;
    }
    const value *v = &a->v;
    int n = v->kind == V_STR ? 0 : v->n;
    if ((v->kind == V_NUM && n == 1) || (v->kind == V_TUPLE && n == 2)) {
        for (int i = 0; i < 2; i++) {
            double x = v->num[n == 1 ? 0 : i];
            if (x != (double)(int)x || x < 1 || x > 1e6) {
                n = 0;
            }
            out[i] = (int)x;
        }
        if (n) {
            return 0;
        }
    }
    return FAIL(pc, "%s: '%s' must be a positive integer or a pair of them", c->type, name);
}

static int get_float(call *c, const pctx *pc, const char *name, int required, double def,
                     double *out)
{
    arg *a = find_arg(c, name);
    if (!a) {
        if (required) {
            return FAIL(pc, "%s: missing argument '%s'", c->type, name);
        }
        *out = def;
        return 0;
    }
    if (a->v.kind != V_NUM) {
        return FAIL(pc, "%s: '%s' must be a number", c->type, name);
    }
    *out = a->v.num[0];
    return 0;
}

static int get_bool(call *c, const pctx *pc, const char *name, int def, int *out)
{
    arg *a = find_arg(c, name);
    *out = def;
    if (!a) {
        return 0;
    }
    if (a->v.kind == V_STR && strcmp(a->v.str, "True") == 0) {
        *out = 1;
    } else if (a->v.kind == V_STR && strcmp(a->v.str, "False") == 0) {
        *out = 0;
    } else {
        return FAIL(pc, "%s: '%s' must be True or False", c->type, name);
    }
    return 0;
}

static int get_act(call *c, const pctx *pc, nn_act *out)
{
    arg *a = find_arg(c, "activation");
    *out = NN_ACT_LINEAR;
    if (!a) {
        return 0;
    }
    static const char *const names[] = {"linear", "relu", "sigmoid", "softmax"};
    if (a->v.kind == V_STR) {
        if (strcmp(a->v.str, "None") == 0) {
            return 0;
        }
        for (int i = 0; i < 4; i++) {
            if (strcmp(a->v.str, names[i]) == 0) {
                *out = (nn_act)i;
                return 0;
            }
        }
    }
    return FAIL(pc, "%s: activation must be \"relu\", \"sigmoid\", \"softmax\" or \"linear\"",
                c->type);
}

/* padding="valid"|"same" -> 0|1 */
static int get_padding(call *c, const pctx *pc, int *same)
{
    arg *a = find_arg(c, "padding");
    *same = 0;
    if (!a) {
        return 0;
    }
    if (a->v.kind == V_STR && strcmp(a->v.str, "valid") == 0) {
        return 0;
    }
    if (a->v.kind == V_STR && strcmp(a->v.str, "same") == 0) {
        *same = 1;
        return 0;
    }
    return FAIL(pc, "%s: padding must be \"valid\" or \"same\"", c->type);
}

/* (H, W, C) */
static int get_shape(call *c, const pctx *pc, const char *name, int shape[3])
{
    arg *a = find_arg(c, name);
    if (!a) {
        return FAIL(pc, "%s: missing argument '%s'", c->type, name);
    }
    if (a->v.kind != V_TUPLE || a->v.n != 3) {
        return FAIL(pc, "%s: %s must be (height, width, channels)", c->type, name);
    }
    for (int i = 0; i < 3; i++) {
        double x = a->v.num[i];
        if (x != (double)(int)x || x < 1 || x > 65536) {
            return FAIL(pc, "%s: %s must hold positive integers", c->type, name);
        }
        shape[i] = (int)x;
    }
    if ((double)shape[0] * shape[1] * shape[2] > 1e8) {
        return FAIL(pc, "%s: %s is too large", c->type, name);
    }
    return 0;
}

/* Keyword arguments that are accepted only with Keras's default value. */
static int check_defaults(call *c, const pctx *pc)
{
    static const struct {
        const char *name, *value;
    } only[] = {
        {"data_format", "channels_last"},
        {"kernel_initializer", "glorot_uniform"},
        {"bias_initializer", "zeros"},
        {"dtype", "float32"},
    };
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
        arg *a = find_arg(c, only[i].name);
        if (a && !(a->v.kind == V_STR && strcmp(a->v.str, only[i].value) == 0)) {
            return FAIL(pc, "%s: only %s=\"%s\" is supported", c->type, only[i].name,
                        only[i].value);
        }
    }
    arg *a = find_arg(c, "dilation_rate");
    if (a && !(a->v.num[0] == 1 && (a->v.kind == V_NUM || a->v.num[1] == 1))) {
        return FAIL(pc, "%s: only dilation_rate=1 is supported", c->type);
    }
    return 0;
}

/* Fills L from c, given the previous layer's output (prev NULL for the
 * first line). */
static int build_layer(call *c, int sig, const pctx *pc, const nn_layer *prev, nn_layer *L)
{
    int rc = check_defaults(c, pc);
    if (rc) {
        return rc;
    }
    memset(L, 0, sizeof *L);
    L->kind = signatures[sig].kind;
    L->line = pc->line;
    L->use_bias = 1;
    arg *name = find_arg(c, "name");
    if (name) {
        if (name->v.kind != V_STR || !name->v.str[0]) {
            return FAIL(pc, "%s: name must be a string", c->type);
        }
        snprintf(L->name, sizeof L->name, "%s", name->v.str);
    }
    if ((rc = get_bool(c, pc, "trainable", 1, &L->frozen))) {
        return rc;
    }
    L->frozen = !L->frozen;
    if (L->kind != NN_INPUT && !prev) {
        return FAIL(pc, "the first layer must be Input(shape=(h, w, c))");
    }
    if (L->kind == NN_INPUT && prev) {
        return FAIL(pc, "Input must be the first layer");
    }
    if (prev) {
        L->h = prev->h;
        L->w = prev->w;
        L->c = prev->c;
        L->flat = prev->flat;
    }
    int k[2], s[2], same = 0;
    double x = 0;
    switch (L->kind) {
    case NN_INPUT: {
        int shape[3] = {0};
        rc = get_shape(c, pc, signatures[sig].positional[0], shape);
        L->h = shape[0];
        L->w = shape[1];
        L->c = shape[2];
        break;
    }
    case NN_RESCALING:
        rc = get_float(c, pc, "scale", 1, 0, &x);
        L->scale = (float)x;
        if (!rc) {
            rc = get_float(c, pc, "offset", 0, 0, &x);
            L->offset = (float)x;
        }
        break;
    case NN_CONV2D:
    case NN_MAXPOOL2D:
        if (prev->flat) {
            return FAIL(pc, "%s needs an (h, w, c) input, not a flat one", c->type);
        }
        if (L->kind == NN_CONV2D) {
            int filters;
            if ((rc = get_int(c, pc, "filters", -1, &filters)) ||
                (rc = get_pair(c, pc, "kernel_size", -1, k)) ||
                (rc = get_pair(c, pc, "strides", 1, s)) || (rc = get_padding(c, pc, &same)) ||
                (rc = get_act(c, pc, &L->act)) ||
                (rc = get_bool(c, pc, "use_bias", 1, &L->use_bias))) {
                return rc;
            }
            L->g.K = filters;
        } else {
            if ((rc = get_pair(c, pc, "pool_size", 2, k)) ||
                (rc = get_pair(c, pc, "strides", 0, s)) || (rc = get_padding(c, pc, &same))) {
                return rc;
            }
            if (s[0] == 0) { /* strides=None: the pool size */
                s[0] = k[0];
                s[1] = k[1];
            }
            L->g.K = prev->c;
            L->use_bias = 0;
        }
        L->g.H = prev->h;
        L->g.W = prev->w;
        L->g.C = prev->c;
        L->g.R = k[0];
        L->g.S = k[1];
        L->g.sh = s[0];
        L->g.sw = s[1];
        if (nn_conv_shape_set(&L->g, same)) {
            return FAIL(pc, "%s: a %dx%d window does not fit a %dx%d input with padding=\"valid\"",
                        c->type, k[0], k[1], prev->h, prev->w);
        }
        L->h = L->g.P;
        L->w = L->g.Q;
        L->c = L->g.K;
        if (L->kind == NN_CONV2D) {
            L->conv = &nn_conv_im2col;
            L->w_n = (size_t)k[0] * k[1] * prev->c * L->g.K;
            L->b_n = L->use_bias ? (size_t)L->g.K : 0;
            L->fan_in = k[0] * k[1] * prev->c;
            L->fan_out = k[0] * k[1] * L->g.K;
        }
        break;
    case NN_FLATTEN:
        L->c = prev->h * prev->w * prev->c;
        L->h = L->w = 1;
        L->flat = 1;
        break;
    case NN_DENSE: {
        int units;
        if ((rc = get_int(c, pc, "units", -1, &units)) || (rc = get_act(c, pc, &L->act)) ||
            (rc = get_bool(c, pc, "use_bias", 1, &L->use_bias))) {
            return rc;
        }
        if (!prev->flat) {
            return FAIL(pc, "Dense needs a flat input: add Flatten() before it");
        }
        L->w_n = (size_t)prev->c * units;
        L->b_n = L->use_bias ? (size_t)units : 0;
        L->fan_in = prev->c;
        L->fan_out = units;
        L->c = units;
        break;
    }
    case NN_DROPOUT:
        rc = get_float(c, pc, "rate", 1, 0, &x);
        if (!rc && !(x >= 0 && x < 1)) {
            return FAIL(pc, "Dropout: rate must be in [0, 1)");
        }
        L->rate = (float)x;
        break;
    case NN_PREPROCESS: {
        arg *mode = find_arg(c, "mode");
        if (mode) {
            if (mode->v.kind != V_STR || strcmp(mode->v.str, "caffe") != 0) {
                return FAIL(pc, "preprocess_input: only mode=\"caffe\" (VGG16's) is supported");
            }
        }
        if (prev->flat || prev->c != 3) {
            return FAIL(pc, "preprocess_input needs an (h, w, 3) RGB input");
        }
        break;
    }
    case NN_ACTIVATION:
        if (!find_arg(c, "activation")) {
            return FAIL(pc, "Activation: missing argument 'activation'");
        }
        rc = get_act(c, pc, &L->act);
        break;
    }
    if (rc) {
        return rc;
    }
    for (int i = 0; i < c->nargs; i++) {
        if (!c->args[i].used) {
            return FAIL(pc, "%s: unknown or unsupported argument '%s'", c->type, c->args[i].name);
        }
    }
    L->size = (size_t)L->h * L->w * L->c;
    return 0;
}

int nn_spec_parse(const char *text, const char *source, nn_layer **out, int *n, char *err,
                  size_t errlen)
{
    *out = NULL;
    *n = 0;
    int cap = 16, count = 0, rc = 0;
    nn_layer *layers = malloc((size_t)cap * sizeof *layers);
    if (!layers) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: spec: out of memory", source);
    }
    pctx pc = {.source = source, .err = err, .errlen = errlen};
    const char *line = text;
    int counts[NN_KINDS] = {0};
    while (line && *line && rc == 0) {
        pc.line++;
        call c;
        int sig = 0;
        rc = parse_call(line, &pc, &c, &sig);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
        if (rc == 1) {
            rc = 0;
            continue;
        }
        if (rc) {
            break;
        }
        if (count + 2 > cap) {
            nn_layer *nl = realloc(layers, (size_t)(cap *= 2) * sizeof *layers);
            if (!nl) {
                rc = ck_err(err, errlen, CK_ENOMEM, "%s: spec: out of memory", source);
                break;
            }
            layers = nl;
        }
        /* Keras 1 style: input_shape on the first layer stands for Input. */
        arg *is =
            count == 0 && signatures[sig].kind != NN_INPUT ? find_arg(&c, "input_shape") : NULL;
        if (is) {
            call in = {.type = "Input", .nargs = 1};
            in.args[0] = *is;
            snprintf(in.args[0].name, sizeof in.args[0].name, "shape");
            in.args[0].used = 0;
            if ((rc = build_layer(&in, 0, &pc, NULL, &layers[count]))) {
                break;
            }
            count++;
        }
        nn_layer *L = &layers[count];
        if ((rc = build_layer(&c, sig, &pc, count ? &layers[count - 1] : NULL, L))) {
            break;
        }
        if (!L->name[0]) {
            int k = counts[L->kind]++;
            if (k == 0) {
                snprintf(L->name, sizeof L->name, "%s", kind_stem(L->kind));
            } else {
                snprintf(L->name, sizeof L->name, "%s_%d", kind_stem(L->kind), k);
            }
        }
        for (int i = 0; i < count; i++) {
            if (strcmp(layers[i].name, L->name) == 0) {
                rc = FAIL(&pc, "layer name '%s' is used twice", L->name);
            }
        }
        count++;
    }
    if (rc == 0 && count < 2) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: spec: no layers after Input", source);
    }
    if (rc) {
        free(layers);
        return rc;
    }
    *out = layers;
    *n = count;
    return 0;
}

int nn_spec_set_input(const char *spec, const char *source, int h, int w, int c, char **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    if (h < 1 || w < 1 || h > 1 << 15 || w > 1 << 15 || c > 1 << 15) {
        return ck_err(err, errlen, CK_EINVAL, "%s: input shape %dx%d out of range", source, h, w);
    }
    nn_layer *layers;
    int n, rc = nn_spec_parse(spec, source, &layers, &n, err, errlen);
    if (rc) {
        return rc;
    }
    int line = layers[0].line, same = layers[1].line == line;
    c = c > 0 ? c : layers[0].c;
    free(layers);
    if (same) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s:%d: spec: input_shape on the first layer; write an Input line to "
                      "change it",
                      source, line);
    }
    const char *p = spec;
    for (int i = 1; i < line; i++) {
        p = strchr(p, '\n') + 1; /* the line exists: the parser read it */
    }
    const char *rest = strchr(p, '\n');
    rest = rest ? rest : p + strlen(p);
    ck_buf b = {0};
    ck_buf_printf(&b, "%.*sInput(shape=(%d, %d, %d))%s", (int)(p - spec), spec, h, w, c, rest);
    char *text = ck_buf_take(&b);
    if (!text) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: spec: out of memory", source);
    }
    if ((rc = nn_spec_parse(text, source, &layers, &n, err, errlen))) {
        free(text);
        return rc;
    }
    free(layers);
    *out = text;
    return 0;
}
