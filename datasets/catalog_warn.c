/* catalog_warn.c: what a finished catalog did not give that its options
 * asked for, said once after prepare so that nobody trains on it unaware.
 *
 * Each warning is a fact of the stored rows and the split options, never
 * of the run that made them, so a resumed or repeated prepare says the
 * same. Four are checked, in this order:
 * - no kept sample has a class (the layout gave none: --layout kaggle on
 *   class folders, or file names it does not know);
 * - the split options ask for a part that came out empty (chollet on files
 *   without Kaggle numbers, a fraction too small for the classes);
 * - the source split (the default) put everything in train: there is no
 *   held-out part at all;
 * - some class has no sample in a part that others have (a fraction or a
 *   per-class limit that starved it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

/* The ok rows' counts in one pass: n[0] all, n[1] labelled, n[2..4] in
 * train, validation, test. */
static int count_ok(ds_catalog *c, int64_t n[5], char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c,
                            "SELECT count(*), count(label), total(split = 'train'),"
                            " total(split = 'validation'), total(split = 'test')"
                            " FROM samples WHERE status = 'ok'",
                            &st, "warnings", err, errlen);
    if (rc == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < 5; i++) {
                n[i] = sqlite3_column_int64(st, i);
            }
        } else {
            rc = ds_cat_err(c, err, errlen, "warnings");
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Does the split mode ask for part i (train, validation, test)? */
static int asked(const ds_split_opts *o, int i)
{
    switch (o->mode) {
    case DS_SPLIT_CHOLLET:
    case DS_SPLIT_CHOLLET_1ST: return 1;
    case DS_SPLIT_FRACTIONS: return (i == 0 ? o->train : i == 1 ? o->validation : o->test) > 0;
    default: return 0;
    }
}

/* Classes with no ok sample in split (one line naming up to three). */
static void starved_classes(ds_catalog *c, const char *split, ck_buf *b, int *rc, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (*rc || (*rc = ds_cat_prepare(c,
                                     "SELECT name FROM classes WHERE label NOT IN (SELECT label"
                                     " FROM samples WHERE status = 'ok' AND split = ?1 AND label"
                                     " IS NOT NULL) ORDER BY label",
                                     &st, "warnings", err, errlen))) {
        return;
    }
    sqlite3_bind_text(st, 1, split, -1, SQLITE_STATIC);
    int n = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (n == 0) {
            ck_buf_printf(b, "split '%s' has no sample of class ", split);
        }
        if (n < 3) {
            ck_buf_printf(b, "%s'%s'", n ? ", " : "", name ? name : "");
        }
        n++;
    }
    if (n > 3) {
        ck_buf_printf(b, " and %d more", n - 3);
    }
    if (n > 0) {
        ck_buf_str(b, "\n");
    }
    if (step != SQLITE_DONE) {
        *rc = ds_cat_err(c, err, errlen, "warnings");
    }
    sqlite3_finalize(st);
}

int ds_catalog_warnings(ds_catalog *c, const ds_split_opts *o, char **text, char *err,
                        size_t errlen)
{
    *text = NULL;
    ck_buf b = {0};
    int64_t n[5] = {0};
    int rc = count_ok(c, n, err, errlen);
    const int64_t kept = n[0], labelled = n[1], *part = n + 2;
    char how[256];
    ds_split_describe(o, how, sizeof how);
    how[strcspn(how, " ")] = '\0'; /* "split=MODE" alone */
    how[5] = ' ';                  /* "split MODE", as --split is given */
    if (rc == 0 && kept > 0 && labelled == 0) {
        ck_buf_printf(&b,
                      "no kept sample has a class (%lld unlabeled): the layout found no class "
                      "in the names; see --layout\n",
                      (long long)kept);
    } else if (rc == 0 && labelled > 0) {
        int held_out = 0;
        for (int i = 0; i < 3; i++) {
            const char *name = ds_cat_split_names[DS_SP_TRAIN + i];
            if (asked(o, i) && part[i] == 0) {
                ck_buf_printf(&b, "--%s asked for a '%s' split, and it is empty%s\n", how, name,
                              o->mode == DS_SPLIT_FRACTIONS
                                  ? ""
                                  : " (no file names numbered as Kaggle's, e.g. cat.1000.jpg)");
            }
            held_out += i > 0 && part[i] > 0;
        }
        if (o->mode == DS_SPLIT_SOURCE && !held_out) {
            ck_buf_printf(&b,
                          "the source has no split of its own, so all %lld labelled samples are "
                          "in 'train': nothing is held out for validation or test; "
                          "--split train=0.8,validation=0.1,test=0.1 makes those parts\n",
                          (long long)part[0]);
        }
        for (int i = 0; i < 3; i++) {
            if (part[i] > 0) {
                starved_classes(c, ds_cat_split_names[DS_SP_TRAIN + i], &b, &rc, err, errlen);
            }
        }
    }
    if (rc == 0 && b.len > 0) {
        *text = b.s;
        return 0;
    }
    free(b.s);
    return rc ? rc : (b.oom ? ck_err(err, errlen, CK_ENOMEM, "warnings: out of memory") : 0);
}
