/* config.c: two run configurations compared member by member.
 *
 * A run's configuration is the JSON object the trainer records (model,
 * epochs, optimizer {name, lr, ...}, seed, ..., extra {augment, classes,
 * dataset, ...}). Resuming a run, and attaching an evaluation to it, need
 * to know which members differ, not only that the texts do: objects are
 * walked into, so a change reads "optimizer.lr", and anything else (a
 * number, a string, an array such as the class names) is compared whole,
 * by value. Members are reported in the recorded configuration's order,
 * then those only the new one has.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"
#include "rn.h"

typedef struct changes {
    rn_config_change *c;
    int n, cap, nomem;
} changes;

/* A value as a person reads it: strings bare, the rest compact JSON. */
static char *value_text(const json_t *v)
{
    if (!v) {
        return NULL;
    }
    if (json_is_string(v)) {
        return strdup(json_string_value(v));
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void add(changes *ch, const char *prefix, const char *key, const json_t *a, const json_t *b)
{
    if (ch->n == ch->cap) {
        int cap = ch->cap ? ch->cap * 2 : 8;
        rn_config_change *c = realloc(ch->c, (size_t)cap * sizeof *c);
        if (!c) {
            ch->nomem = 1;
            return;
        }
        ch->c = c;
        ch->cap = cap;
    }
    rn_config_change *c = &ch->c[ch->n++];
    size_t len = strlen(prefix) + strlen(key) + 2;
    c->member = malloc(len);
    if (c->member) {
        snprintf(c->member, len, "%s%s%s", prefix, *prefix ? "." : "", key);
    }
    c->recorded = value_text(a);
    c->now = value_text(b);
    ch->nomem |= !c->member || (a && !c->recorded) || (b && !c->now);
}

static void diff(changes *ch, const char *prefix, json_t *a, json_t *b)
{
    const char *key;
    json_t *va;
    json_object_foreach(a, key, va)
    {
        json_t *vb = json_object_get(b, key);
        if (json_is_object(va) && json_is_object(vb)) {
            size_t len = strlen(prefix) + strlen(key) + 2;
            char *path = malloc(len);
            if (!path) {
                ch->nomem = 1;
                return;
            }
            snprintf(path, len, "%s%s%s", prefix, *prefix ? "." : "", key);
            diff(ch, path, va, vb);
            free(path);
        } else if (!vb || !json_equal(va, vb)) {
            add(ch, prefix, key, va, vb);
        }
    }
    json_t *vb;
    json_object_foreach(b, key, vb)
    {
        if (!json_object_get(a, key)) {
            add(ch, prefix, key, NULL, vb);
        }
    }
}

int rn_config_diff(const char *recorded, const char *now, rn_config_change **out, int *n, char *err,
                   size_t errlen)
{
    *out = NULL;
    *n = 0;
    json_t *a = json_loads(recorded ? recorded : "", 0, NULL);
    json_t *b = json_loads(now ? now : "", 0, NULL);
    int rc = 0;
    if (!json_is_object(a) || !json_is_object(b)) {
        rc = ck_err(err, errlen, CK_EFORMAT, "run configuration: %s is not a JSON object",
                    json_is_object(a) ? "the new one" : "the recorded one");
    } else {
        changes ch = {0};
        diff(&ch, "", a, b);
        if (ch.nomem) {
            rn_config_changes_free(ch.c, ch.n);
            rc = ck_err(err, errlen, CK_ENOMEM, "run configuration: out of memory");
        } else {
            *out = ch.c;
            *n = ch.n;
        }
    }
    json_decref(a);
    json_decref(b);
    return rc;
}

void rn_config_changes_free(rn_config_change *c, int n)
{
    for (int i = 0; i < n && c; i++) {
        free(c[i].member);
        free(c[i].recorded);
        free(c[i].now);
    }
    free(c);
}

int rn_config_is_layout(const char *member)
{
    return !strcmp(member, "threads") || !strcmp(member, "processes");
}
