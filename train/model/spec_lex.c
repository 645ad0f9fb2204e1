/* spec_lex.c: the syntax of a spec line.
 *
 * A spec is one Keras layer per line, written as in Python so that a
 * model from the book can be pasted in:
 *
 *     Input(shape=(28, 28, 1))
 *     Conv2D(32, (3, 3), activation="relu")   # comments run to the end
 *     layers.MaxPooling2D(pool_size=2)
 *
 * This file knows only the shape of such a line: a dotted name, then
 * optionally arguments in parentheses, positional before keyword, each a
 * string or bare identifier (True, None), a number written as a product
 * or quotient of numbers (1./255), or a tuple of up to four of those. It
 * turns a line into a spec_call of named values and knows nothing of
 * what the names mean: a positional argument is named from the list the
 * caller gives, which comes from the table of layer kinds.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"

int spec_fail(const spec_ctx *c, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return ck_err(c->err, c->errlen, CK_EFORMAT, "%s:%d: spec: %s", c->source, c->line, why);
}

/* ---- tokens ------------------------------------------------------------- */

/* Reads the next token; returns 0 or -1 on a malformed one (message in
 * lx->text). A '#' ends the line. */
static int lex(spec_lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r') {
        lx->p++;
    }
    const char *s = lx->p;
    lx->text[0] = '\0';
    if (*s == '\0' || *s == '\n' || *s == '#') {
        lx->tok = SPEC_END;
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
        lx->tok = SPEC_IDENT;
        return 0;
    }
    if (isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))) {
        char *end;
        lx->num = strtod(s, &end);
        lx->p = end;
        lx->tok = SPEC_NUM;
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
        lx->tok = SPEC_STR;
        return 0;
    }
    if (strchr("(),=/*-", *s)) {
        lx->text[0] = *s;
        lx->text[1] = '\0';
        lx->p = s + 1;
        lx->tok = SPEC_PUNCT;
        return 0;
    }
    snprintf(lx->text, sizeof lx->text, "unexpected character '%c'", *s);
    return -1;
}

static int is_punct(const spec_lexer *lx, char c)
{
    return lx->tok == SPEC_PUNCT && lx->text[0] == c;
}

/* ---- values ------------------------------------------------------------- */

/* number {('/'|'*') number}, each with an optional '-'. */
static int parse_numexpr(spec_lexer *lx, const spec_ctx *c, double *out)
{
    double acc = 0;
    char op = 0;
    for (;;) {
        double sign = 1;
        if (is_punct(lx, '-')) {
            sign = -1;
            if (lex(lx)) {
                return spec_fail(c, "%s", lx->text);
            }
        }
        if (lx->tok != SPEC_NUM) {
            return spec_fail(c, "expected a number, found '%s'", lx->text);
        }
        double v = sign * lx->num;
        if (op == '/') {
            if (v == 0) {
                return spec_fail(c, "division by zero");
            }
            acc /= v;
        } else if (op == '*') {
            acc *= v;
        } else {
            acc = v;
        }
        if (lex(lx)) {
            return spec_fail(c, "%s", lx->text);
        }
        if (!is_punct(lx, '/') && !is_punct(lx, '*')) {
            *out = acc;
            return 0;
        }
        op = lx->text[0];
        if (lex(lx)) {
            return spec_fail(c, "%s", lx->text);
        }
    }
}

static int parse_value(spec_lexer *lx, const spec_ctx *c, spec_value *v)
{
    memset(v, 0, sizeof *v);
    if (lx->tok == SPEC_STR || lx->tok == SPEC_IDENT) {
        v->kind = SPEC_V_STR;
        snprintf(v->str, sizeof v->str, "%s", lx->text);
        return lex(lx) ? spec_fail(c, "%s", lx->text) : 0;
    }
    if (is_punct(lx, '(')) {
        v->kind = SPEC_V_TUPLE;
        if (lex(lx)) {
            return spec_fail(c, "%s", lx->text);
        }
        while (!is_punct(lx, ')')) {
            if (v->n == 4) {
                return spec_fail(c, "tuple longer than 4");
            }
            int rc = parse_numexpr(lx, c, &v->num[v->n++]);
            if (rc) {
                return rc;
            }
            if (is_punct(lx, ',')) {
                if (lex(lx)) {
                    return spec_fail(c, "%s", lx->text);
                }
            } else if (!is_punct(lx, ')')) {
                return spec_fail(c, "expected ',' or ')' in a tuple, found '%s'", lx->text);
            }
        }
        return lex(lx) ? spec_fail(c, "%s", lx->text) : 0;
    }
    v->kind = SPEC_V_NUM;
    v->n = 1;
    return parse_numexpr(lx, c, &v->num[0]);
}

/* ---- calls -------------------------------------------------------------- */

int spec_call_type(const char *line, const spec_ctx *pc, spec_lexer *lx, spec_call *c)
{
    memset(lx, 0, sizeof *lx);
    lx->p = line;
    memset(c, 0, sizeof *c);
    if (lex(lx)) {
        return spec_fail(pc, "%s", lx->text);
    }
    if (lx->tok == SPEC_END) {
        return 1;
    }
    if (lx->tok != SPEC_IDENT) {
        return spec_fail(pc, "expected a layer name, found '%s'", lx->text);
    }
    const char *dot = strrchr(lx->text, '.');
    snprintf(c->type, sizeof c->type, "%s", dot ? dot + 1 : lx->text);
    return 0;
}

int spec_call_args(spec_lexer *lx, const spec_ctx *pc, spec_call *c,
                   const char *const positional[4])
{
    c->positional = positional;
    if (lex(lx)) {
        return spec_fail(pc, "%s", lx->text);
    }
    if (lx->tok == SPEC_END) {
        return 0;
    }
    if (!is_punct(lx, '(')) {
        return spec_fail(pc, "expected '(' after %s, found '%s'", c->type, lx->text);
    }
    if (lex(lx)) {
        return spec_fail(pc, "%s", lx->text);
    }
    int npos = 0, keywords = 0;
    while (!is_punct(lx, ')')) {
        if (lx->tok == SPEC_END) {
            return spec_fail(pc, "missing ')'");
        }
        if (c->nargs == SPEC_MAX_ARGS) {
            return spec_fail(pc, "too many arguments");
        }
        spec_arg *a = &c->args[c->nargs];
        /* name=value or a positional value */
        if (lx->tok == SPEC_IDENT) {
            spec_lexer peek = *lx;
            if (lex(&peek) == 0 && is_punct(&peek, '=')) {
                snprintf(a->name, sizeof a->name, "%s", lx->text);
                *lx = peek;
                if (lex(lx)) {
                    return spec_fail(pc, "%s", lx->text);
                }
                keywords = 1;
            }
        }
        if (!a->name[0]) {
            if (keywords) {
                return spec_fail(pc, "positional argument after a keyword argument");
            }
            const char *pname = npos < 4 ? positional[npos] : NULL;
            if (!pname) {
                return spec_fail(pc, "%s takes at most %d positional arguments", c->type, npos);
            }
            snprintf(a->name, sizeof a->name, "%s", pname);
            npos++;
        }
        for (int i = 0; i < c->nargs; i++) {
            if (strcmp(c->args[i].name, a->name) == 0) {
                return spec_fail(pc, "argument '%s' given twice", a->name);
            }
        }
        int rc = parse_value(lx, pc, &a->v);
        if (rc) {
            return rc;
        }
        c->nargs++;
        if (is_punct(lx, ',')) {
            if (lex(lx)) {
                return spec_fail(pc, "%s", lx->text);
            }
        } else if (!is_punct(lx, ')')) {
            return spec_fail(pc, "expected ',' or ')', found '%s'",
                             lx->text[0] ? lx->text : "end of line");
        }
    }
    if (lex(lx)) {
        return spec_fail(pc, "%s", lx->text);
    }
    if (lx->tok != SPEC_END) {
        return spec_fail(pc, "unexpected '%s' after ')'", lx->text);
    }
    return 0;
}
