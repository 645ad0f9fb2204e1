/* split.c: the --split and --class-names options, parsed and described.
 *
 * Only the text lives here; the catalog applies a split to its rows in
 * ds_catalog_finish. Fractions are checked strictly (each >= 0, sum 1 within
 * 1e-6) because a typo would otherwise silently give a different dataset.
 * ds_split_describe gives the one canonical text of a split that the
 * catalog records, so two runs that mean the same split say it the same way.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"
#include "ds.h"

ds_split_opts ds_split_opts_default(void)
{
    ds_split_opts o = {
        .mode = DS_SPLIT_SOURCE,
        .train = 0.8,
        .validation = 0.1,
        .test = 0.1,
        .seed = 0,
        .limit_per_class = 0,
        .near_distance = 4,
        .keep_leakage = 0,
    };
    return o;
}

/* "train=0.8,validation=0.1,test=0.1"; names not given are 0. */
static int parse_fractions(const char *text, ds_split_opts *o, char *err, size_t errlen)
{
    static const char *const names[3] = {"train", "validation", "test"};
    double value[3] = {0, 0, 0};
    int seen[3] = {0, 0, 0};
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            return ck_err(err, errlen, CK_EINVAL,
                          "split: '%.*s': expected NAME=FRACTION "
                          "(train, validation, test) or source, chollet, chollet-1st",
                          (int)n, p);
        }
        int k = -1;
        for (int i = 0; i < 3; i++) {
            if ((size_t)(eq - p) == strlen(names[i]) && strncmp(p, names[i], eq - p) == 0) {
                k = i;
            }
        }
        if (k < 0) {
            return ck_err(err, errlen, CK_EINVAL,
                          "split: '%.*s': unknown part (expected train, validation or test)",
                          (int)n, p);
        }
        if (seen[k]) {
            return ck_err(err, errlen, CK_EINVAL, "split: '%.*s': %s given twice", (int)n, p,
                          names[k]);
        }
        char num[64];
        size_t nlen = n - (size_t)(eq + 1 - p);
        char *end = NULL;
        if (nlen == 0 || nlen >= sizeof num) {
            return ck_err(err, errlen, CK_EINVAL, "split: '%.*s': not a number", (int)n, p);
        }
        memcpy(num, eq + 1, nlen);
        num[nlen] = '\0';
        double v = strtod(num, &end);
        if (*end != '\0' || !isfinite(v)) {
            return ck_err(err, errlen, CK_EINVAL, "split: '%.*s': not a number", (int)n, p);
        }
        if (v < 0 || v > 1) {
            return ck_err(err, errlen, CK_EINVAL, "split: '%.*s': a fraction is between 0 and 1",
                          (int)n, p);
        }
        value[k] = v;
        seen[k] = 1;
        if (p[n] == '\0') {
            break;
        }
        p += n + 1;
    }
    double sum = value[0] + value[1] + value[2];
    if (fabs(sum - 1.0) > 1e-6) {
        return ck_err(err, errlen, CK_EINVAL, "split: '%s': fractions sum to %g, not 1", text, sum);
    }
    o->mode = DS_SPLIT_FRACTIONS;
    o->train = value[0];
    o->validation = value[1];
    o->test = value[2];
    return 0;
}

int ds_split_parse(const char *text, ds_split_opts *o, char *err, size_t errlen)
{
    if (!text || !*text) {
        return ck_err(err, errlen, CK_EINVAL, "split: empty");
    }
    if (strcmp(text, "source") == 0) {
        o->mode = DS_SPLIT_SOURCE;
    } else if (strcmp(text, "chollet") == 0) {
        o->mode = DS_SPLIT_CHOLLET;
    } else if (strcmp(text, "chollet-1st") == 0) {
        o->mode = DS_SPLIT_CHOLLET_1ST;
    } else {
        return parse_fractions(text, o, err, errlen);
    }
    return 0;
}

void ds_split_describe(const ds_split_opts *o, char *buf, size_t len)
{
    char mode[128];
    switch (o->mode) {
    case DS_SPLIT_CHOLLET: snprintf(mode, sizeof mode, "chollet"); break;
    case DS_SPLIT_CHOLLET_1ST: snprintf(mode, sizeof mode, "chollet-1st"); break;
    case DS_SPLIT_FRACTIONS:
        snprintf(mode, sizeof mode, "train=%.10g,validation=%.10g,test=%.10g", o->train,
                 o->validation, o->test);
        break;
    default: snprintf(mode, sizeof mode, "source"); break;
    }
    snprintf(buf, len, "split=%s seed=%llu limit-per-class=%lld near-distance=%d keep-leakage=%d%s",
             mode, (unsigned long long)o->seed, (long long)o->limit_per_class, o->near_distance,
             o->keep_leakage ? 1 : 0,
             o->pool_test && o->mode == DS_SPLIT_FRACTIONS ? " pool-test=1" : "");
}

int ds_class_names_parse(const char *list, char ***names, int *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    int count = 1;
    for (const char *p = list; *p; p++) {
        count += *p == ',';
    }
    size_t len = strlen(list) + 1;
    char **v = malloc((size_t)count * sizeof *v + len);
    if (!v) {
        return ck_err(err, errlen, CK_ENOMEM, "class names: out of memory");
    }
    char *text = memcpy(v + count, list, len);
    for (int i = 0; i < count; i++) {
        v[i] = text;
        text += strcspn(text, ",");
        *text++ = '\0';
    }
    for (int i = 0; i < count; i++) {
        const unsigned char *p = (const unsigned char *)v[i];
        size_t k;
        while (*p >= 0x20 && *p != 0x7f && (k = ck_utf8_len(p)) > 0) {
            p += k;
        }
        const char *why = !*v[i] ? "is empty" : *p ? "is not printable UTF-8 text" : NULL;
        for (int j = 0; !why && j < i; j++) {
            why = strcmp(v[i], v[j]) == 0 ? "is given twice" : NULL;
        }
        if (why) { /* the name is shown only when it is text */
            int rc = ck_err(err, errlen, CK_EINVAL, "class name %d%s%s%s %s", i, *p ? "" : " '",
                            *p ? "" : v[i], *p ? "" : "'", why);
            free(v);
            return rc;
        }
    }
    *names = v;
    *n = count;
    return 0;
}
