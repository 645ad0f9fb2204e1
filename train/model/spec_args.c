/* spec_args.c: reading a spec line's arguments as Keras takes them.
 *
 * A layer kind's builder (layer_kinds.c) asks for each of its arguments
 * by name and type; each getter marks what it read, so that the parser
 * can refuse whatever no one asked for instead of ignoring it. Values
 * are checked the way Keras checks them (a kernel_size is an int or a
 * pair of ints, an activation one of the names convkit implements) and
 * the message names the layer type and the argument.
 */
#include <string.h>

#include "spec_internal.h"

spec_arg *spec_find(spec_call *c, const char *name)
{
    for (int i = 0; i < c->nargs; i++) {
        if (strcmp(c->args[i].name, name) == 0) {
            c->args[i].used = 1;
            return &c->args[i];
        }
    }
    return NULL;
}

int spec_get_int(spec_call *c, const spec_ctx *pc, const char *name, int def, int *out)
{
    spec_arg *a = spec_find(c, name);
    if (!a) {
        if (def < 0) {
            return spec_fail(pc, "%s: missing argument '%s'", c->type, name);
        }
        *out = def;
        return 0;
    }
    double v = a->v.num[0];
    if (a->v.kind != SPEC_V_NUM || v != (double)(int)v || v < 1 || v > 1e6) {
        return spec_fail(pc, "%s: '%s' must be a positive integer", c->type, name);
    }
    *out = (int)v;
    return 0;
}

int spec_get_pair(spec_call *c, const spec_ctx *pc, const char *name, int def, int out[2])
{
    spec_arg *a = spec_find(c, name);
    if (!a || (a->v.kind == SPEC_V_STR && strcmp(a->v.str, "None") == 0)) {
        if (def < 0) {
            return spec_fail(pc, "%s: missing argument '%s'", c->type, name);
        }
        out[0] = out[1] = def;
        return 0;
    }
    const spec_value *v = &a->v;
    int n = v->kind == SPEC_V_STR ? 0 : v->n;
    if ((v->kind == SPEC_V_NUM && n == 1) || (v->kind == SPEC_V_TUPLE && n == 2)) {
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
    return spec_fail(pc, "%s: '%s' must be a positive integer or a pair of them", c->type, name);
}

int spec_get_float(spec_call *c, const spec_ctx *pc, const char *name, int required, double def,
                   double *out)
{
    spec_arg *a = spec_find(c, name);
    if (!a) {
        if (required) {
            return spec_fail(pc, "%s: missing argument '%s'", c->type, name);
        }
        *out = def;
        return 0;
    }
    if (a->v.kind != SPEC_V_NUM) {
        return spec_fail(pc, "%s: '%s' must be a number", c->type, name);
    }
    *out = a->v.num[0];
    return 0;
}

int spec_get_bool(spec_call *c, const spec_ctx *pc, const char *name, int def, int *out)
{
    spec_arg *a = spec_find(c, name);
    *out = def;
    if (!a) {
        return 0;
    }
    if (a->v.kind == SPEC_V_STR && strcmp(a->v.str, "True") == 0) {
        *out = 1;
    } else if (a->v.kind == SPEC_V_STR && strcmp(a->v.str, "False") == 0) {
        *out = 0;
    } else {
        return spec_fail(pc, "%s: '%s' must be True or False", c->type, name);
    }
    return 0;
}

int spec_get_act(spec_call *c, const spec_ctx *pc, nn_act *out)
{
    spec_arg *a = spec_find(c, "activation");
    *out = NN_ACT_LINEAR;
    if (!a) {
        return 0;
    }
    static const char *const names[] = {"linear", "relu", "sigmoid", "softmax"};
    if (a->v.kind == SPEC_V_STR) {
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
    return spec_fail(pc, "%s: activation must be \"relu\", \"sigmoid\", \"softmax\" or \"linear\"",
                     c->type);
}

int spec_get_padding(spec_call *c, const spec_ctx *pc, int *same)
{
    spec_arg *a = spec_find(c, "padding");
    *same = 0;
    if (!a) {
        return 0;
    }
    if (a->v.kind == SPEC_V_STR && strcmp(a->v.str, "valid") == 0) {
        return 0;
    }
    if (a->v.kind == SPEC_V_STR && strcmp(a->v.str, "same") == 0) {
        *same = 1;
        return 0;
    }
    return spec_fail(pc, "%s: padding must be \"valid\" or \"same\"", c->type);
}

int spec_get_shape(spec_call *c, const spec_ctx *pc, const char *name, int shape[3])
{
    spec_arg *a = spec_find(c, name);
    if (!a) {
        return spec_fail(pc, "%s: missing argument '%s'", c->type, name);
    }
    if (a->v.kind != SPEC_V_TUPLE || a->v.n != 3) {
        return spec_fail(pc, "%s: %s must be (height, width, channels)", c->type, name);
    }
    for (int i = 0; i < 3; i++) {
        double x = a->v.num[i];
        if (x != (double)(int)x || x < 1 || x > 65536) {
            return spec_fail(pc, "%s: %s must hold positive integers", c->type, name);
        }
        shape[i] = (int)x;
    }
    if ((double)shape[0] * shape[1] * shape[2] > 1e8) {
        return spec_fail(pc, "%s: %s is too large", c->type, name);
    }
    return 0;
}

int spec_check_defaults(spec_call *c, const spec_ctx *pc)
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
        spec_arg *a = spec_find(c, only[i].name);
        if (a && !(a->v.kind == SPEC_V_STR && strcmp(a->v.str, only[i].value) == 0)) {
            return spec_fail(pc, "%s: only %s=\"%s\" is supported", c->type, only[i].name,
                             only[i].value);
        }
    }
    spec_arg *a = spec_find(c, "dilation_rate");
    if (a && !(a->v.num[0] == 1 && (a->v.kind == SPEC_V_NUM || a->v.num[1] == 1))) {
        return spec_fail(pc, "%s: only dilation_rate=1 is supported", c->type);
    }
    return 0;
}
