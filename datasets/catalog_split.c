/* catalog_split.c: the splits finish assigns, and the labels and statuses
 * it resets on the way.
 *
 * Splits (only 'ok' samples; unlabelled ones always go to "unlabeled"):
 * - source: the source's own split, train when it has none;
 * - chollet / chollet-1st: by the last integer of the file name, per class
 *   train 0-999, validation 1000-1499, test 1500-2499 (1st: 1500-1999),
 *   anything else unused (split NULL);
 * - fractions: per class, the samples in id order are shuffled; the first
 *   round(n*train) are train, the next round(n*validation) validation, the
 *   rest test. A publisher's test split (the source's own 'test') stays
 *   test and out of the shuffle, unless pool_test: n counts the others.
 * limit_per_class N keeps, per class and split, the first N in that same
 *   shuffled order (for every mode); the others become unused.
 * The shuffle of a class comes from ck_rng keyed (seed, 0, label,
 * CK_RNG_SPLIT) alone, so a class's split does not depend on the others.
 *
 * The modes without a shuffle are one pass in id order, a chunk at a time.
 * The shuffled ones number each class's samples in id order in the scratch
 * table finish_ord, keyed (class, ordinal), then take one class at a time.
 * What C holds: that class's permutation (5 bytes a sample of the class: a
 * uniformly random permutation cannot be stored in much less, and
 * Fisher-Yates over the class in memory keeps the splits of existing
 * catalogs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

/* The split number of a split name (none for NULL or an unknown one). */
static unsigned char split_of(const char *s)
{
    for (int i = DS_SP_TRAIN; s && i < DS_SP_COUNT; i++) {
        if (strcmp(s, ds_cat_split_names[i]) == 0) {
            return (unsigned char)i;
        }
    }
    return DS_SP_NONE;
}

/* An unknown source split is an error (the catalog was not written by
 * this version); the first one in id order is named. */
static int check_source_splits(ds_catalog *c, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c,
                            "SELECT id, src_split FROM samples WHERE src_split IS NOT NULL"
                            " AND src_split NOT IN ('train', 'validation', 'test')"
                            " ORDER BY id LIMIT 1",
                            &st, "finish: read samples", err, errlen);
    if (rc) {
        return rc;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: finish: sample %lld: unknown split '%s'", c->path,
                    (long long)sqlite3_column_int64(st, 0),
                    (const char *)sqlite3_column_text(st, 1));
    } else if (step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: read samples");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Labels, statuses and the splits that need no shuffle, in id order, a
 * chunk at a time; the derived columns start empty. Fractions leave
 * labelled splits NULL for shuffle_splits. */
static int assign_splits(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen)
{
    const char *by_mode = "NULL";
    if (o->mode == DS_SPLIT_FRACTIONS && !o->pool_test) {
        by_mode = "CASE WHEN src_split = 'test' THEN 'test' END";
    } else if (o->mode == DS_SPLIT_SOURCE) {
        by_mode = "coalesce(src_split, 'train')";
    } else if (o->mode == DS_SPLIT_CHOLLET) {
        by_mode = "CASE WHEN number >= 0 AND number < 1000 THEN 'train'"
                  " WHEN number >= 1000 AND number < 1500 THEN 'validation'"
                  " WHEN number >= 1500 AND number < 2500 THEN 'test' END";
    } else if (o->mode == DS_SPLIT_CHOLLET_1ST) {
        by_mode = "CASE WHEN number >= 0 AND number < 1000 THEN 'train'"
                  " WHEN number >= 1000 AND number < 1500 THEN 'validation'"
                  " WHEN number >= 1500 AND number < 2000 THEN 'test' END";
    }
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT id, (SELECT c.label FROM classes c WHERE c.name = samples.class_name),"
             " CASE WHEN status = 'rejected' THEN NULL WHEN class_name IS NULL THEN 'unlabeled'"
             " ELSE %s END, " DS_FIN_OK_ROW
             " FROM samples NOT INDEXED WHERE id > ?1 ORDER BY id LIMIT ?2",
             by_mode);
    sqlite3_stmt *sel = NULL, *set = NULL;
    int rc = ds_cat_prepare(c, sql, &sel, "finish: splits", err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "UPDATE samples SET label = ?, split = ?, status = ?, dup_group = NULL,"
                            " near_group = NULL, leak_of = NULL, leak_kind = NULL WHERE id = ?",
                            &set, "finish: splits", err, errlen);
    }
    struct {
        int64_t id, label;
        unsigned char split, ok;
    } rows[DS_FIN_CHUNK];
    int64_t after = -1;
    for (int n = DS_FIN_CHUNK; rc == 0 && n == DS_FIN_CHUNK;) {
        int step = SQLITE_DONE;
        n = 0;
        sqlite3_bind_int64(sel, 1, after);
        sqlite3_bind_int(sel, 2, DS_FIN_CHUNK);
        while (n < DS_FIN_CHUNK && (step = sqlite3_step(sel)) == SQLITE_ROW) {
            rows[n].id = sqlite3_column_int64(sel, 0);
            rows[n].label =
                sqlite3_column_type(sel, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(sel, 1);
            rows[n].split = split_of((const char *)sqlite3_column_text(sel, 2));
            rows[n].ok = (unsigned char)sqlite3_column_int(sel, 3);
            n++;
        }
        if (n < DS_FIN_CHUNK && step != SQLITE_DONE) {
            rc = ds_cat_err(c, err, errlen, "finish: splits");
        }
        sqlite3_reset(sel);
        for (int i = 0; rc == 0 && i < n; i++) {
            if (rows[i].label >= 0) {
                sqlite3_bind_int64(set, 1, rows[i].label);
            } else {
                sqlite3_bind_null(set, 1);
            }
            if (rows[i].split != DS_SP_NONE) {
                sqlite3_bind_text(set, 2, ds_cat_split_names[rows[i].split], -1, SQLITE_STATIC);
            } else {
                sqlite3_bind_null(set, 2);
            }
            sqlite3_bind_text(set, 3, rows[i].ok ? "ok" : "rejected", -1, SQLITE_STATIC);
            sqlite3_bind_int64(set, 4, rows[i].id);
            rc = ds_fin_stmt_run(c, set, "splits", err, errlen);
        }
        after = n > 0 ? rows[n - 1].id : after;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(set);
    return rc;
}

static int64_t round_count(int64_t n, double f)
{
    return (int64_t)floor((double)n * f + 0.5);
}

/* The splits of one class: n samples in id order (ordinal k), shuffled;
 * split[k] holds the split before the shuffle and receives the final one.
 * Fractions share out the samples that have none yet (a publisher's test
 * split keeps its own). */
static void shuffle_class(const ds_split_opts *o, int label, uint32_t *perm, unsigned char *split,
                          size_t n)
{
    for (size_t k = 0; k < n; k++) {
        perm[k] = (uint32_t)k;
    }
    ck_rng rng;
    ck_rng_init(&rng, o->seed, 0, (uint64_t)label, CK_RNG_SPLIT);
    ck_rng_shuffle_u32(&rng, perm, n);
    if (o->mode == DS_SPLIT_FRACTIONS) {
        int64_t pool = 0;
        for (size_t k = 0; k < n; k++) {
            pool += split[k] == DS_SP_NONE;
        }
        int64_t ntrain = round_count(pool, o->train);
        int64_t nval = round_count(pool, o->validation);
        ntrain = ntrain > pool ? pool : ntrain;
        nval = ntrain + nval > pool ? pool - ntrain : nval;
        int64_t q = 0;
        for (size_t p = 0; p < n; p++) {
            unsigned char *s = &split[perm[p]];
            if (*s == DS_SP_NONE) {
                *s = q < ntrain ? DS_SP_TRAIN : q < ntrain + nval ? DS_SP_VALIDATION : DS_SP_TEST;
                q++;
            }
        }
    }
    if (o->limit_per_class > 0) {
        int64_t kept[DS_SP_COUNT] = {0};
        for (size_t p = 0; p < n; p++) {
            unsigned char *s = &split[perm[p]];
            if (*s != DS_SP_NONE && kept[*s]++ >= o->limit_per_class) {
                *s = DS_SP_NONE;
            }
        }
    }
}

typedef struct class_stmts {
    sqlite3_stmt *read, *set;
} class_stmts;

/* One class of n samples through shuffle_class; finish_ord gives its
 * samples in id order. */
static int split_class(ds_catalog *c, const ds_split_opts *o, class_stmts *q, int label, size_t n,
                       char *err, size_t errlen)
{
    uint32_t *perm = malloc((n ? n : 1) * sizeof *perm);
    unsigned char *split = calloc(n ? n : 1, 2); /* n before, then n after */
    if (!perm || !split) {
        free(perm);
        free(split);
        return ck_err(err, errlen, CK_ENOMEM, "%s: finish: out of memory", c->path);
    }
    int rc = 0, step = SQLITE_DONE;
    size_t k = 0;
    sqlite3_bind_int(q->read, 1, label);
    for (; (step = sqlite3_step(q->read)) == SQLITE_ROW && k < n; k++) {
        split[k] = split_of((const char *)sqlite3_column_text(q->read, 1));
        split[n + k] = split[k];
    }
    if (step != SQLITE_DONE || k != n) {
        rc = ds_cat_err(c, err, errlen, "finish: read class %d", label);
    }
    sqlite3_reset(q->read);
    if (rc == 0) {
        shuffle_class(o, label, perm, split + n, n);
        sqlite3_bind_int(q->read, 1, label);
        for (k = 0; rc == 0 && (step = sqlite3_step(q->read)) == SQLITE_ROW && k < n; k++) {
            unsigned char s = split[n + k];
            if (s == split[k]) {
                continue;
            }
            if (s != DS_SP_NONE) {
                sqlite3_bind_text(q->set, 1, ds_cat_split_names[s], -1, SQLITE_STATIC);
            } else {
                sqlite3_bind_null(q->set, 1);
            }
            sqlite3_bind_int64(q->set, 2, sqlite3_column_int64(q->read, 0));
            rc = ds_fin_stmt_run(c, q->set, "write splits", err, errlen);
        }
        if (rc == 0 && (step != SQLITE_DONE || k != n)) {
            rc = ds_cat_err(c, err, errlen, "finish: read class %d", label);
        }
        sqlite3_reset(q->read);
    }
    free(perm);
    free(split);
    return rc;
}

/* Numbers each class's ok samples in id order into finish_ord(label, k,
 * id) and counts them (count[label]). */
static int order_classes(ds_catalog *c, int nclasses, int64_t *count, char *err, size_t errlen)
{
    sqlite3_stmt *rd = NULL, *wr = NULL;
    int rc = ds_cat_exec(c,
                         "CREATE TABLE finish_ord(label INTEGER, k INTEGER, id INTEGER,"
                         " PRIMARY KEY(label, k)) WITHOUT ROWID",
                         "finish: order classes", err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "SELECT id, label FROM samples NOT INDEXED WHERE " DS_FIN_OK_ROW
                            " AND label IS NOT NULL ORDER BY id",
                            &rd, "finish: order classes", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "INSERT INTO finish_ord VALUES (?, ?, ?)", &wr,
                            "finish: order classes", err, errlen);
    }
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(rd)) == SQLITE_ROW) {
        int label = sqlite3_column_int(rd, 1);
        if (label < 0 || label >= nclasses) {
            rc = ck_err(err, errlen, CK_EFORMAT, "%s: finish: sample %lld: bad label %d", c->path,
                        (long long)sqlite3_column_int64(rd, 0), label);
            break;
        }
        sqlite3_bind_int(wr, 1, label);
        sqlite3_bind_int64(wr, 2, count[label]++);
        sqlite3_bind_int64(wr, 3, sqlite3_column_int64(rd, 0));
        rc = ds_fin_stmt_run(c, wr, "order classes", err, errlen);
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: order classes");
    }
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    return rc;
}

/* The shuffled splits (fractions, or any mode with a per-class limit),
 * one class at a time. */
static int shuffle_splits(ds_catalog *c, const ds_split_opts *o, int nclasses, char *err,
                          size_t errlen)
{
    if (o->mode != DS_SPLIT_FRACTIONS && o->limit_per_class <= 0) {
        return 0;
    }
    int64_t *count = calloc((size_t)nclasses + 1, sizeof *count);
    if (!count) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: finish: out of memory", c->path);
    }
    int rc = order_classes(c, nclasses, count, err, errlen);
    class_stmts q = {0};
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "SELECT o.id, s.split FROM finish_ord o JOIN samples s ON s.id = o.id"
                            " WHERE o.label = ? ORDER BY o.k",
                            &q.read, "finish: read class", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "UPDATE samples SET split = ? WHERE id = ?", &q.set,
                            "finish: write splits", err, errlen);
    }
    for (int l = 0; rc == 0 && l < nclasses; l++) {
        rc = split_class(c, o, &q, l, (size_t)count[l], err, errlen);
    }
    sqlite3_finalize(q.read);
    sqlite3_finalize(q.set);
    free(count);
    return rc ? rc : ds_fin_scratch_drop(c, "finish_ord", err, errlen);
}

int ds_fin_splits(ds_catalog *c, const ds_split_opts *o, int nclasses, char *err, size_t errlen)
{
    int rc = check_source_splits(c, err, errlen);
    if (rc == 0) {
        rc = assign_splits(c, o, err, errlen);
    }
    if (rc == 0) {
        rc = shuffle_splits(c, o, nclasses, err, errlen);
    }
    return rc;
}
