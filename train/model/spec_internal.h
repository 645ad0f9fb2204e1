/* spec_internal.h: the spec reader's pieces, shared by its files and by
 * the layer kinds' builders (layer_kinds.c) that read their arguments:
 *
 *     spec_lex.c    tokens, values and the syntax of one "Type(args)" line
 *     spec_args.c   typed reading of a line's arguments, as Keras takes them
 *     spec_parse.c  lines into layer descriptions (nn_spec_parse)
 *
 * Each depends only on those above it; layer_kinds.c sits between the
 * last two. Errors are all "source:LINE: spec: reason", CK_EFORMAT.
 */
#ifndef SPEC_INTERNAL_H
#define SPEC_INTERNAL_H

#include <stddef.h>

#include "nn_internal.h"

/* Error context of the line being parsed. */
typedef struct spec_ctx {
    const char *source;
    int line;
    char *err;
    size_t errlen;
} spec_ctx;

/* Writes "source:LINE: spec: <fmt...>" into c's err; returns CK_EFORMAT. */
int spec_fail(const spec_ctx *c, const char *fmt, ...) CK_PRINTF(2, 3);

/* ---- tokens, values, calls (spec_lex.c) ---------------------------------- */

enum { SPEC_END, SPEC_IDENT, SPEC_NUM, SPEC_STR, SPEC_PUNCT };

typedef struct spec_lexer {
    const char *p; /* current position in the line */
    int tok;
    char text[64]; /* identifier, string or punctuation */
    double num;
} spec_lexer;

enum { SPEC_V_NUM, SPEC_V_STR, SPEC_V_TUPLE };

typedef struct spec_value {
    int kind;
    int n;         /* numbers in a tuple (1 for SPEC_V_NUM) */
    double num[4]; /* SPEC_V_NUM, SPEC_V_TUPLE */
    char str[64];  /* SPEC_V_STR: a string or an identifier (True, None...) */
} spec_value;

typedef struct spec_arg {
    char name[64]; /* a positional argument gets its parameter's name */
    spec_value v;
    int used;
} spec_arg;

enum { SPEC_MAX_ARGS = 12 };

/* One line, "Type(args)". */
typedef struct spec_call {
    char type[64];                 /* without a "layers." or "keras.layers." prefix */
    const char *const *positional; /* the type's parameters, up to 4 */
    spec_arg args[SPEC_MAX_ARGS];
    int nargs;
} spec_call;

/* Reads a line in two steps, so that the type's positional parameters can
 * be looked up between them. spec_call_type clears c, starts lx on line
 * and reads the type; returns 0, 1 for a line with no layer (empty or a
 * comment), or an error. spec_call_args then reads the rest of the line
 * into c, naming positional arguments after positional[0..3] (NULL-ended
 * when shorter); returns 0 or an error. */
int spec_call_type(const char *line, const spec_ctx *pc, spec_lexer *lx, spec_call *c);
int spec_call_args(spec_lexer *lx, const spec_ctx *pc, spec_call *c,
                   const char *const positional[4]);

/* ---- arguments (spec_args.c) --------------------------------------------- */

/* The argument called name, marked used; NULL if absent. */
spec_arg *spec_find(spec_call *c, const char *name);
/* A positive integer; def when absent (def < 0: required). */
int spec_get_int(spec_call *c, const spec_ctx *pc, const char *name, int def, int *out);
/* An int or a pair of positive ints ((3, 3) or 3); def when absent or
 * None (def < 0: required). */
int spec_get_pair(spec_call *c, const spec_ctx *pc, const char *name, int def, int out[2]);
/* A number; def when absent and not required. */
int spec_get_float(spec_call *c, const spec_ctx *pc, const char *name, int required, double def,
                   double *out);
/* True or False; def when absent. */
int spec_get_bool(spec_call *c, const spec_ctx *pc, const char *name, int def, int *out);
/* activation="relu"...; linear when absent or None. */
int spec_get_act(spec_call *c, const spec_ctx *pc, nn_act *out);
/* padding="valid"|"same" -> 0|1; valid when absent. */
int spec_get_padding(spec_call *c, const spec_ctx *pc, int *same);
/* (H, W, C), required. */
int spec_get_shape(spec_call *c, const spec_ctx *pc, const char *name, int shape[3]);
/* Refuses keyword arguments that convkit takes only with Keras's default
 * value (data_format, initialisers, dtype, dilation_rate) when another
 * value is given. */
int spec_check_defaults(spec_call *c, const spec_ctx *pc);

#endif
