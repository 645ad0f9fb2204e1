/* summary.c: Keras's model.summary() for a Sequential model.
 *
 * The layout is tf.keras 2's print_summary, the one the book prints: lines
 * of 65 characters, columns ending at 29, 55 and 65, each field cut to its
 * column with the last character replaced by a space (so a long name like
 * "max_pooling2d_1 (MaxPooling2D)" loses its tail exactly as in Keras), a
 * rule of '_' between layers and '=' around the table, and the counts with
 * thousands separators. The Input layer has no row, as in a Sequential
 * model.
 */
#include <stdio.h>
#include <string.h>

#include "nn_internal.h"

enum { LINE = 65 };
static const int positions[3] = {29, 55, 65};

static void rule(ck_buf *b, char c)
{
    char line[LINE + 2];
    memset(line, c, LINE);
    line[LINE] = '\n';
    line[LINE + 1] = '\0';
    ck_buf_str(b, line);
}

/* Keras's print_row. */
static void row(ck_buf *b, const char *const fields[3])
{
    char line[LINE + 2] = "";
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            line[len - 1] = ' ';
        }
        size_t room = (size_t)positions[i] - len, n = strlen(fields[i]);
        memcpy(line + len, fields[i], n < room ? n : room);
        len += n < room ? n : room;
        while (len < (size_t)positions[i]) {
            line[len++] = ' ';
        }
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    ck_buf_str(b, line);
}

/* 3453121 -> "3,453,121" */
static void thousands(size_t v, char *out, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[o++] = ',';
        }
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

int nn_model_summary(const nn_model *m, char **out)
{
    ck_buf b = {0};
    ck_buf_printf(&b, "Model: \"%s\"\n", m->name);
    rule(&b, '_');
    row(&b, (const char *const[]){"Layer (type)", "Output Shape", "Param #"});
    rule(&b, '=');
    for (int i = 1; i < m->nlayers; i++) {
        const nn_layer *L = &m->layers[i];
        char name[160], shape[96], params[32];
        snprintf(name, sizeof name, "%s (%s)", L->desc.name, nn_kinds[L->desc.kind].keras);
        if (L->desc.flat) {
            snprintf(shape, sizeof shape, "(None, %d)", L->desc.c);
        } else {
            snprintf(shape, sizeof shape, "(None, %d, %d, %d)", L->desc.h, L->desc.w, L->desc.c);
        }
        snprintf(params, sizeof params, "%zu", L->desc.w_n + L->desc.b_n);
        row(&b, (const char *const[]){name, shape, params});
        rule(&b, i == m->nlayers - 1 ? '=' : '_');
    }
    size_t trainable = nn_model_trainable_params(m);
    char n[32], t[32], f[32];
    thousands(m->nparams, n, sizeof n);
    thousands(trainable, t, sizeof t);
    thousands(m->nparams - trainable, f, sizeof f);
    ck_buf_printf(&b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", n, t,
                  f);
    rule(&b, '_');
    *out = ck_buf_take(&b);
    return *out ? 0 : CK_ENOMEM;
}
