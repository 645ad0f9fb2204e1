/* spec_parse.c: spec text into layer descriptions.
 *
 * Each line names a layer kind by one of its spellings in the table of
 * layer kinds (a `layers.` or `keras.layers.` prefix is accepted), its
 * positional arguments follow Keras's signature for it, and the kind's
 * builder reads its own arguments; this file handles what every layer
 * has: its name (Keras's automatic one when not given: conv2d, conv2d_1,
 * ...), trainable=, the arguments convkit takes only at Keras's default,
 * Input first and only first, and Keras 1-style `input_shape=` on the
 * first layer standing for an Input line. Anything convkit does not
 * implement (another data_format, dilation, initialisers, an argument no
 * builder reads) is refused with the line and the reason rather than
 * ignored.
 *
 * The result is a description per layer, with shapes and parameter
 * counts but no tensors and no kernels: the model builder (model.c)
 * chooses those.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"

/* The kind and spelling named c->type; an error naming the usual
 * spellings when there is none. */
static int find_sig(const spec_call *c, const spec_ctx *pc, nn_kind *kind, const nn_kind_sig **sig)
{
    for (int k = 0; k < NN_KINDS; k++) {
        for (int j = 0; j < 2; j++) {
            const nn_kind_sig *s = &nn_kinds[k].sigs[j];
            if (s->type && strcmp(c->type, s->type) == 0) {
                *kind = (nn_kind)k;
                *sig = s;
                return 0;
            }
        }
    }
    char known[256] = "";
    size_t at = 0;
    for (int k = 0; k < NN_KINDS && at < sizeof known; k++) {
        at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", k ? ", " : "",
                               nn_kinds[k].sigs[0].type);
    }
    return spec_fail(pc, "unknown layer '%s' (known: %s)", c->type, known);
}

/* Fills d from c, a layer of kind `kind`, given the previous layer's
 * output (prev NULL for the first line). */
static int build_desc(spec_call *c, nn_kind kind, const spec_ctx *pc, const nn_layer_desc *prev,
                      nn_layer_desc *d)
{
    int rc = spec_check_defaults(c, pc);
    if (rc) {
        return rc;
    }
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->line = pc->line;
    spec_arg *name = spec_find(c, "name");
    if (name) {
        if (name->v.kind != SPEC_V_STR || !name->v.str[0]) {
            return spec_fail(pc, "%s: name must be a string", c->type);
        }
        snprintf(d->name, sizeof d->name, "%s", name->v.str);
    }
    if ((rc = spec_get_bool(c, pc, "trainable", 1, &d->trainable))) {
        return rc;
    }
    if (kind != NN_INPUT && !prev) {
        return spec_fail(pc, "the first layer must be Input(shape=(h, w, c))");
    }
    if (kind == NN_INPUT && prev) {
        return spec_fail(pc, "Input must be the first layer");
    }
    if (prev) {
        d->h = prev->h;
        d->w = prev->w;
        d->c = prev->c;
        d->flat = prev->flat;
    }
    if ((rc = nn_kinds[kind].build(c, pc, prev, d))) {
        return rc;
    }
    for (int i = 0; i < c->nargs; i++) {
        if (!c->args[i].used) {
            return spec_fail(pc, "%s: unknown or unsupported argument '%s'", c->type,
                             c->args[i].name);
        }
    }
    d->size = (size_t)d->h * d->w * d->c;
    return 0;
}

/* Reads one line into c; returns 0, 1 for a line without a layer, or an
 * error. */
static int read_line(const char *line, const spec_ctx *pc, spec_call *c, nn_kind *kind)
{
    spec_lexer lx;
    const nn_kind_sig *sig = NULL;
    int rc = spec_call_type(line, pc, &lx, c);
    if (rc == 0 && (rc = find_sig(c, pc, kind, &sig)) == 0) {
        rc = spec_call_args(&lx, pc, c, sig->positional);
    }
    return rc;
}

int nn_spec_parse(const char *text, const char *source, nn_layer_desc **out, int *n, char *err,
                  size_t errlen)
{
    *out = NULL;
    *n = 0;
    int cap = 16, count = 0, rc = 0;
    nn_layer_desc *layers = malloc((size_t)cap * sizeof *layers);
    if (!layers) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: spec: out of memory", source);
    }
    spec_ctx pc = {.source = source, .err = err, .errlen = errlen};
    const char *line = text;
    int counts[NN_KINDS] = {0};
    while (line && *line && rc == 0) {
        pc.line++;
        spec_call c;
        nn_kind kind = NN_INPUT;
        rc = read_line(line, &pc, &c, &kind);
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
            nn_layer_desc *nl = realloc(layers, (size_t)(cap *= 2) * sizeof *layers);
            if (!nl) {
                rc = ck_err(err, errlen, CK_ENOMEM, "%s: spec: out of memory", source);
                break;
            }
            layers = nl;
        }
        /* Keras 1 style: input_shape on the first layer stands for Input. */
        spec_arg *is = count == 0 && kind != NN_INPUT ? spec_find(&c, "input_shape") : NULL;
        if (is) {
            spec_call in = {
                .type = "Input", .positional = nn_kinds[NN_INPUT].sigs[0].positional, .nargs = 1};
            in.args[0] = *is;
            snprintf(in.args[0].name, sizeof in.args[0].name, "shape");
            in.args[0].used = 0;
            if ((rc = build_desc(&in, NN_INPUT, &pc, NULL, &layers[count]))) {
                break;
            }
            count++;
        }
        nn_layer_desc *d = &layers[count];
        if ((rc = build_desc(&c, kind, &pc, count ? &layers[count - 1] : NULL, d))) {
            break;
        }
        if (!d->name[0]) {
            int k = counts[d->kind]++;
            if (k == 0) {
                snprintf(d->name, sizeof d->name, "%s", nn_kinds[d->kind].stem);
            } else {
                snprintf(d->name, sizeof d->name, "%s_%d", nn_kinds[d->kind].stem, k);
            }
        }
        for (int i = 0; i < count; i++) {
            if (strcmp(layers[i].name, d->name) == 0) {
                rc = spec_fail(&pc, "layer name '%s' is used twice", d->name);
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
    nn_layer_desc *layers;
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
