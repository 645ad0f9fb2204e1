/* catalog_finish.c: everything the catalog derives from its rows — labels,
 * splits, duplicate groups, leakage and the dataset hash — computed in one
 * transaction after the last source.
 *
 * Determinism: every decision is a pure function of the stored rows and of
 * the split options; randomness comes only from ck_rng keyed (seed, 0,
 * label, CK_RNG_SPLIT). A run interrupted anywhere and resumed therefore
 * finishes exactly like an uninterrupted one.
 *
 * Labels: class names sorted byte-wise (Keras' order); label = position.
 *
 * Splits (only 'ok' samples; unlabelled ones always go to "unlabeled"):
 * - source: the source's own split, train when it has none;
 * - chollet / chollet-1st: by the last integer of the file name, per class
 *   train 0-999, validation 1000-1499, test 1500-2499 (1st: 1500-1999),
 *   anything else unused (split NULL);
 * - fractions: per class, the samples in id order are shuffled; the first
 *   round(n*train) are train, the next round(n*validation) validation, the
 *   rest test.
 * limit_per_class N keeps, per class and split, the first N in that same
 *   shuffled order (for every mode); the others become unused.
 *
 * Duplicates, among 'ok' samples: exact copies share a content hash
 * (dup_group = smallest id of the group); near copies have perceptual hashes
 * within near_distance bits (among images at least NEAR_MIN_SIDE pixels on
 * their shorter side), grouped transitively (near_group = smallest id
 * of the cluster, set when the cluster holds at least two different files).
 * Near pairs are found by pigeonhole: split the 64 bits into d+1 blocks; two
 * hashes within d bits agree on at least one block, so only hashes sharing
 * a block value are compared (grouped by block value), after folding identical
 * hashes together. That is near-linear for real hashes.
 *
 * Leakage: a validation or test sample with a copy in train. Policy:
 * - splits convkit made (chollet, fractions): an exact copy is removed from
 *   the later split (status 'leakage', leak_of = the smallest train id of
 *   its group) unless keep_leakage; a near copy is only reported;
 * - splits that come from the source itself (IDX train/t10k, fastai valid,
 *   split "source") are never altered, only reported, so a published split
 *   keeps its published size.
 * Reported copies have leak_of and leak_kind ('exact' or 'near') set.
 *
 * Dataset hash: XXH3-128 over the class names in label order (each with its
 * NUL), then, in id order, every sample in a split — id (int64 LE), label
 * (int32 LE, -1 unlabelled), split name with its NUL, content hash.
 *
 * Memory and files. Memory does not depend on the number of samples, and
 * nothing is written outside the catalog and its journal:
 * - every order a step needs comes from a B-tree, never from SQLite's
 *   sorter: a table's rowid, or a scratch table keyed in the order the
 *   step reads it (hash, then id for exact copies; block value for near
 *   pairs; cluster, then file for near groups; class, then ordinal for the
 *   shuffled splits; by hash, finish_near, the union-find over perceptual
 *   hashes). Scratch tables live in the catalog, created and dropped inside
 *   finish's transaction: never committed. The sorter would keep up to a
 *   cache's worth of rows (2 MB at least) in one growing buffer, then
 *   spill to temporary files; a B-tree only uses pages of the page cache,
 *   which finish holds to FINISH_CACHE_KB (the 16 MB that ingest filled are
 *   freed first and serve again). Hence also the index on splits, made
 *   with the table (catalog.c), not at the end.
 * - every write is a single-row statement: in a transaction SQLite gives a
 *   statement that may change several rows a statement journal, which goes
 *   to a temporary file once the cache spills, as it does here all along.
 * On Kaggle-like corpora (6,000 and 37,500 samples) the heap stays at the
 * size ingest left (32-33 MB) through finish, where the arrays of all rows
 * this replaced took 100 to 300 bytes a sample.
 * What C holds: the hashes sharing one block value (a few hundred among
 * 37,500 photos) and, in the shuffled modes only, one class's permutation
 * (5 bytes a sample of that class: a uniformly random permutation cannot
 * be stored in much less, and Fisher-Yates over the class in memory keeps
 * the splits of existing catalogs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ds_internal.h"

enum { MAX_NEAR_DISTANCE = 16, FINISH_CACHE_KB = 4096 };
/* The perceptual hash of a thumbnail-sized image (MNIST-style digits,
 * Fashion-MNIST) is a coarse 8x8 view of a 28x28 picture: whole classes share
 * it, so near-copy search there reports neighbours, not copies. Such images
 * are only compared exactly. */
#define NEAR_MIN_SIDE "64"

/* The rows duplicate search looks at. */
#define OK_ROW "status != 'rejected'"
#define NEAR_ROW                                                                                   \
    OK_ROW " AND min(coalesce(orig_width, 0), coalesce(orig_height, 0)) >= " NEAR_MIN_SIDE
#define LATER_SPLIT "split IN ('validation', 'test')"
/* The content hash as finish compares it (zeros when absent). */
#define HASH_KEY "CASE WHEN length(content_hash) = 16 THEN content_hash ELSE zeroblob(16) END"

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

/* Steps through st to the end; step names it in errors. */
static int run_stmt(ds_catalog *c, sqlite3_stmt *st, const char *step, char *err, size_t errlen)
{
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    }
    int rc = s == SQLITE_DONE ? 0 : ds_cat_err(c, err, errlen, "finish: %s", step);
    sqlite3_reset(st);
    return rc;
}

/* Empties, then drops, a scratch table (emptying needs no statement
 * journal, and the table dropped is one page). */
static int scratch_drop(ds_catalog *c, const char *table, char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM %s; DROP TABLE %s", table, table);
    return ds_cat_exec(c, sql, "finish: drop scratch table", err, errlen);
}

/* Inserts every row of sel into a scratch table through ins (one
 * single-row statement a row, its parameters the columns of sel). */
static int copy_rows(ds_catalog *c, sqlite3_stmt *sel, sqlite3_stmt *ins, const char *step,
                     char *err, size_t errlen)
{
    int rc = 0, s = SQLITE_DONE;
    while (rc == 0 && (s = sqlite3_step(sel)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(sel); i++) {
            sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
        }
        rc = run_stmt(c, ins, step, err, errlen);
    }
    if (rc == 0 && s != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: %s", step);
    }
    sqlite3_reset(sel);
    return rc;
}

/* Prepares sel and ins and copies (copy_rows). */
static int copy_query(ds_catalog *c, const char *sel, const char *ins, const char *step, char *err,
                      size_t errlen)
{
    sqlite3_stmt *s = NULL, *i = NULL;
    int rc = ds_cat_prepare(c, sel, &s, step, err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c, ins, &i, step, err, errlen);
    }
    if (rc == 0) {
        rc = copy_rows(c, s, i, step, err, errlen);
    }
    sqlite3_finalize(s);
    sqlite3_finalize(i);
    return rc;
}

enum { CHUNK = 512, CHUNK_COLS = 2 };

/* Rows of sel (?1: the last id done, ?2: CHUNK; CHUNK_COLS integer
 * columns, the first the id; NULL reads -1) into rows. Returns the count,
 * or a negative code. */
static int read_chunk(ds_catalog *c, sqlite3_stmt *sel, int64_t after,
                      int64_t rows[CHUNK][CHUNK_COLS], const char *step, char *err, size_t errlen)
{
    int n = 0, s = SQLITE_DONE;
    sqlite3_bind_int64(sel, 1, after);
    sqlite3_bind_int(sel, 2, CHUNK);
    while (n < CHUNK && (s = sqlite3_step(sel)) == SQLITE_ROW) {
        for (int i = 0; i < CHUNK_COLS; i++) {
            rows[n][i] =
                sqlite3_column_type(sel, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(sel, i);
        }
        n++;
    }
    int rc = n == CHUNK || s == SQLITE_DONE ? n : ds_cat_err(c, err, errlen, "finish: %s", step);
    sqlite3_reset(sel);
    return rc;
}

/* ---- splits ------------------------------------------------------------ */

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
    if (o->mode == DS_SPLIT_SOURCE) {
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
             " ELSE %s END, " OK_ROW " FROM samples NOT INDEXED WHERE id > ?1 ORDER BY id LIMIT ?2",
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
    } rows[CHUNK];
    int64_t after = -1;
    for (int n = CHUNK; rc == 0 && n == CHUNK;) {
        int step = SQLITE_DONE;
        n = 0;
        sqlite3_bind_int64(sel, 1, after);
        sqlite3_bind_int(sel, 2, CHUNK);
        while (n < CHUNK && (step = sqlite3_step(sel)) == SQLITE_ROW) {
            rows[n].id = sqlite3_column_int64(sel, 0);
            rows[n].label =
                sqlite3_column_type(sel, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(sel, 1);
            rows[n].split = split_of((const char *)sqlite3_column_text(sel, 2));
            rows[n].ok = (unsigned char)sqlite3_column_int(sel, 3);
            n++;
        }
        if (n < CHUNK && step != SQLITE_DONE) {
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
            rc = run_stmt(c, set, "splits", err, errlen);
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
 * split[k] holds the split before the shuffle (unused with fractions) and
 * receives the final one. */
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
        int64_t ntrain = round_count((int64_t)n, o->train);
        int64_t nval = round_count((int64_t)n, o->validation);
        ntrain = ntrain > (int64_t)n ? (int64_t)n : ntrain;
        nval = ntrain + nval > (int64_t)n ? (int64_t)n - ntrain : nval;
        for (size_t p = 0; p < n; p++) {
            split[perm[p]] = (int64_t)p < ntrain          ? DS_SP_TRAIN
                             : (int64_t)p < ntrain + nval ? DS_SP_VALIDATION
                                                          : DS_SP_TEST;
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
    if (o->mode != DS_SPLIT_FRACTIONS) {
        sqlite3_bind_int(q->read, 1, label);
        for (; (step = sqlite3_step(q->read)) == SQLITE_ROW && k < n; k++) {
            split[k] = split_of((const char *)sqlite3_column_text(q->read, 1));
            split[n + k] = split[k];
        }
        if (step != SQLITE_DONE || k != n) {
            rc = ds_cat_err(c, err, errlen, "finish: read class %d", label);
        }
        sqlite3_reset(q->read);
    }
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
            rc = run_stmt(c, q->set, "write splits", err, errlen);
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
                            "SELECT id, label FROM samples NOT INDEXED WHERE " OK_ROW
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
        rc = run_stmt(c, wr, "order classes", err, errlen);
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
    return rc ? rc : scratch_drop(c, "finish_ord", err, errlen);
}

/* ---- duplicates and leakage -------------------------------------------- */

/* One group of exact copies: every member gets dup_group = first; with a
 * train member (smallest id train), the later-split members are leakage. */
static int exact_group(ds_catalog *c, sqlite3_stmt *members, sqlite3_stmt *set, const void *hash,
                       int64_t first, int64_t train, int remove, char *err, size_t errlen)
{
    int rc = 0, step;
    sqlite3_bind_blob(members, 1, hash, 16, SQLITE_TRANSIENT);
    while (rc == 0 && (step = sqlite3_step(members)) == SQLITE_ROW) {
        int leak = train >= 0 && sqlite3_column_int(members, 1);
        sqlite3_bind_int64(set, 1, first);
        if (leak) {
            sqlite3_bind_int64(set, 2, train);
            sqlite3_bind_text(set, 3, "exact", -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(set, 2);
            sqlite3_bind_null(set, 3);
        }
        sqlite3_bind_int(set, 4, leak && remove);
        sqlite3_bind_int64(set, 5, sqlite3_column_int64(members, 0));
        rc = run_stmt(c, set, "exact duplicates", err, errlen);
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: exact duplicates");
    }
    sqlite3_reset(members);
    return rc;
}

/* Exact copies: groups of equal content hash; a later-split member of a
 * group with a train member is exact leakage. finish_exact holds the ok
 * samples keyed (hash, id): a scan in key order meets each group whole. */
static int exact_duplicates(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen)
{
    int remove = o->mode != DS_SPLIT_SOURCE && !o->keep_leakage;
    sqlite3_stmt *scan = NULL, *members = NULL, *set = NULL;
    int rc = ds_cat_exec(c,
                         "CREATE TABLE finish_exact(hash BLOB, id INTEGER, train INTEGER,"
                         " later INTEGER, PRIMARY KEY(hash, id)) WITHOUT ROWID",
                         "finish: exact duplicates", err, errlen);
    if (rc == 0) {
        rc = copy_query(c,
                        "SELECT " HASH_KEY ", id, split = 'train', " LATER_SPLIT
                        " FROM samples NOT INDEXED WHERE " OK_ROW,
                        "INSERT INTO finish_exact VALUES (?, ?, ?, ?)", "exact duplicates", err,
                        errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "SELECT hash, id, train FROM finish_exact ORDER BY hash, id", &scan,
                            "finish: exact duplicates", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "SELECT id, later FROM finish_exact WHERE hash = ?", &members,
                            "finish: exact duplicates", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "UPDATE samples SET dup_group = ?1, leak_of = ?2, leak_kind = ?3,"
                            " status = CASE WHEN ?4 THEN 'leakage' ELSE status END WHERE id = ?5",
                            &set, "finish: exact duplicates", err, errlen);
    }
    uint8_t hash[16] = {0};
    int64_t first = -1, train = -1, size = 0;
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(scan)) == SQLITE_ROW) {
        const void *h = sqlite3_column_blob(scan, 0);
        if (size > 0 && memcmp(h, hash, 16) != 0) {
            if (size >= 2) {
                rc = exact_group(c, members, set, hash, first, train, remove, err, errlen);
            }
            size = 0;
        }
        if (size++ == 0) {
            memcpy(hash, h, 16);
            first = sqlite3_column_int64(scan, 1);
            train = -1;
        }
        if (train < 0 && sqlite3_column_int(scan, 2)) {
            train = sqlite3_column_int64(scan, 1); /* ids ascend within a group */
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: exact duplicates");
    }
    if (rc == 0 && size >= 2) {
        rc = exact_group(c, members, set, hash, first, train, remove, err, errlen);
    }
    sqlite3_finalize(scan);
    sqlite3_finalize(members);
    sqlite3_finalize(set);
    return rc ? rc : scratch_drop(c, "finish_exact", err, errlen);
}

/* Near copies. finish_near holds each distinct perceptual hash (the rowid)
 * of the rows searched, with own = the smallest train id carrying exactly
 * it, the union-find parent (NULL: a root) and near = the smallest own
 * among its neighbours. */
typedef struct near_hash {
    uint64_t phash;
    int64_t own; /* -1: none */
} near_hash;

typedef struct near_ctx {
    ds_catalog *c;
    int d;
    sqlite3_stmt *get_parent, *set_parent, *set_near;
    near_hash *run; /* the hashes sharing the current block value */
    size_t nrun, caprun;
    char *err;
    size_t errlen;
} near_ctx;

/* x's parent, or x itself for a root. */
static int uf_parent(near_ctx *n, uint64_t x, uint64_t *parent)
{
    sqlite3_stmt *st = n->get_parent;
    sqlite3_bind_int64(st, 1, (int64_t)x);
    int step = sqlite3_step(st);
    *parent = x;
    if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *parent = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return step == SQLITE_ROW ? 0 : ds_cat_err(n->c, n->err, n->errlen, "finish: near groups");
}

static int uf_set_parent(near_ctx *n, uint64_t x, uint64_t parent)
{
    sqlite3_bind_int64(n->set_parent, 1, (int64_t)x);
    sqlite3_bind_int64(n->set_parent, 2, (int64_t)parent);
    return run_stmt(n->c, n->set_parent, "near groups", n->err, n->errlen);
}

/* The root of x, halving the path on the way. */
static int uf_find(near_ctx *n, uint64_t x, uint64_t *root)
{
    for (;;) {
        uint64_t p, g = 0;
        int rc = uf_parent(n, x, &p);
        if (rc == 0 && p != x) {
            rc = uf_parent(n, p, &g);
        }
        if (rc) {
            return rc;
        }
        if (p == x || g == p) {
            *root = p;
            return 0;
        }
        if ((rc = uf_set_parent(n, x, g))) {
            return rc;
        }
        x = g;
    }
}

/* near of x = min(near of x, own). */
static int near_lower(near_ctx *n, uint64_t x, int64_t own)
{
    if (own < 0) {
        return 0;
    }
    sqlite3_bind_int64(n->set_near, 1, (int64_t)x);
    sqlite3_bind_int64(n->set_near, 2, own);
    return run_stmt(n->c, n->set_near, "near copies", n->err, n->errlen);
}

static int near_edge(near_ctx *n, const near_hash *a, const near_hash *b)
{
    uint64_t ra, rb;
    int rc = uf_find(n, a->phash, &ra);
    if (rc == 0) {
        rc = uf_find(n, b->phash, &rb);
    }
    if (rc == 0 && ra != rb) {
        rc = uf_set_parent(n, ra < rb ? rb : ra, ra < rb ? ra : rb);
    }
    if (rc == 0) {
        rc = near_lower(n, a->phash, b->own);
    }
    if (rc == 0) {
        rc = near_lower(n, b->phash, a->own);
    }
    return rc;
}

static uint64_t block_key(uint64_t h, int b, int blocks)
{
    int lo = b * 64 / blocks, hi = (b + 1) * 64 / blocks;
    return (h >> lo) & (((uint64_t)1 << (hi - lo)) - 1);
}

/* The pairs within d bits among hashes that share block b; a pair that
 * also shares an earlier block was handled there. */
static int near_run(near_ctx *n, int b, int blocks)
{
    for (size_t i = 0; i < n->nrun; i++) {
        for (size_t j = i + 1; j < n->nrun; j++) {
            uint64_t x = n->run[i].phash, y = n->run[j].phash;
            if (ds_phash_distance(x, y) > n->d) {
                continue;
            }
            int seen = 0;
            for (int e = 0; e < b && !seen; e++) {
                seen = block_key(x, e, blocks) == block_key(y, e, blocks);
            }
            int rc = seen ? 0 : near_edge(n, &n->run[i], &n->run[j]);
            if (rc) {
                return rc;
            }
        }
    }
    return 0;
}

static int near_push(near_ctx *n, near_hash h)
{
    if (n->nrun == n->caprun) {
        size_t cap = n->caprun ? 2 * n->caprun : 256;
        near_hash *grown = realloc(n->run, cap * sizeof *grown);
        if (!grown) {
            return ck_err(n->err, n->errlen, CK_ENOMEM, "%s: finish: out of memory", n->c->path);
        }
        n->run = grown;
        n->caprun = cap;
    }
    n->run[n->nrun++] = h;
    return 0;
}

/* finish_block: every hash once per block, keyed (block, block value,
 * hash). */
static int near_blocks(near_ctx *n, int blocks)
{
    sqlite3_stmt *sel = NULL, *ins = NULL;
    int rc = ds_cat_exec(n->c,
                         "CREATE TABLE finish_block(block INTEGER, value INTEGER,"
                         " phash INTEGER, own INTEGER, PRIMARY KEY(block, value, phash))"
                         " WITHOUT ROWID",
                         "finish: near copies", n->err, n->errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(n->c, "SELECT ?1, (phash >> ?2) & ?3, phash, own FROM finish_near",
                            &sel, "finish: near copies", n->err, n->errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(n->c, "INSERT INTO finish_block VALUES (?, ?, ?, ?)", &ins,
                            "finish: near copies", n->err, n->errlen);
    }
    for (int b = 0; rc == 0 && b < blocks; b++) {
        int lo = b * 64 / blocks, hi = (b + 1) * 64 / blocks;
        sqlite3_bind_int(sel, 1, b);
        sqlite3_bind_int(sel, 2, lo);
        sqlite3_bind_int64(sel, 3, (int64_t)(((uint64_t)1 << (hi - lo)) - 1));
        rc = copy_rows(n->c, sel, ins, "near copies", n->err, n->errlen);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    return rc;
}

/* All pairs of distinct hashes within d bits, by pigeonhole on d+1 blocks:
 * a scan of finish_block in key order meets each run of equal block values
 * whole. */
static int near_pairs(near_ctx *n)
{
    if (n->d <= 0) {
        return 0;
    }
    int blocks = n->d + 1;
    sqlite3_stmt *scan = NULL;
    int rc = near_blocks(n, blocks);
    if (rc == 0) {
        rc = ds_cat_prepare(
            n->c, "SELECT block, phash, own FROM finish_block ORDER BY block, value, phash", &scan,
            "finish: near copies", n->err, n->errlen);
    }
    int step = SQLITE_DONE, b = 0;
    n->nrun = 0;
    while (rc == 0 && (step = sqlite3_step(scan)) == SQLITE_ROW) {
        int hb = sqlite3_column_int(scan, 0);
        near_hash h = {(uint64_t)sqlite3_column_int64(scan, 1),
                       sqlite3_column_type(scan, 2) == SQLITE_NULL ? -1
                                                                   : sqlite3_column_int64(scan, 2)};
        if (n->nrun > 0 &&
            (hb != b || block_key(h.phash, b, blocks) != block_key(n->run[0].phash, b, blocks))) {
            rc = near_run(n, b, blocks);
            n->nrun = 0;
        }
        b = hb;
        if (rc == 0) {
            rc = near_push(n, h);
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(n->c, n->err, n->errlen, "finish: near copies");
    }
    if (rc == 0) {
        rc = near_run(n, b, blocks);
    }
    sqlite3_finalize(scan);
    return rc ? rc : scratch_drop(n->c, "finish_block", n->err, n->errlen);
}

/* Points every hash of finish_near at its root, a chunk of hashes at a
 * time (the chunk is read, then written). */
static int near_roots(near_ctx *n)
{
    uint64_t chunk[CHUNK];
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(n->c,
                            "SELECT phash FROM finish_near WHERE phash >= ? AND parent IS NOT NULL"
                            " ORDER BY phash LIMIT ?",
                            &st, "finish: near groups", n->err, n->errlen);
    int64_t from = INT64_MIN;
    size_t got = CHUNK;
    while (rc == 0 && got == CHUNK) {
        int step = SQLITE_DONE;
        got = 0;
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int(st, 2, CHUNK);
        while (got < CHUNK && (step = sqlite3_step(st)) == SQLITE_ROW) {
            chunk[got++] = (uint64_t)sqlite3_column_int64(st, 0);
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = ds_cat_err(n->c, n->err, n->errlen, "finish: near groups");
        }
        sqlite3_reset(st);
        for (size_t i = 0; rc == 0 && i < got; i++) {
            uint64_t root, p;
            rc = uf_find(n, chunk[i], &root);
            if (rc == 0) {
                rc = uf_parent(n, chunk[i], &p);
            }
            if (rc == 0 && p != root) {
                rc = uf_set_parent(n, chunk[i], root);
            }
        }
        if (got == CHUNK && (int64_t)chunk[CHUNK - 1] == INT64_MAX) {
            break;
        }
        if (got == CHUNK) {
            from = (int64_t)chunk[CHUNK - 1] + 1;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* One near cluster with at least two different files: near_group = first
 * for all its members. */
static int near_group(ds_catalog *c, sqlite3_stmt *members, sqlite3_stmt *set, int64_t cluster,
                      int64_t first, char *err, size_t errlen)
{
    int rc = 0, step;
    sqlite3_bind_int64(members, 1, cluster);
    while (rc == 0 && (step = sqlite3_step(members)) == SQLITE_ROW) {
        sqlite3_bind_int64(set, 1, first);
        sqlite3_bind_int64(set, 2, sqlite3_column_int64(members, 0));
        rc = run_stmt(c, set, "near groups", err, errlen);
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: near groups");
    }
    sqlite3_reset(members);
    return rc;
}

/* near_group for clusters holding at least two different files (a file:
 * an exact group, or a sample on its own). finish_member holds the
 * searched samples keyed (cluster, file, id): a scan in key order meets
 * each cluster whole, its files in order. */
static int near_groups(ds_catalog *c, char *err, size_t errlen)
{
    sqlite3_stmt *scan = NULL, *members = NULL, *set = NULL;
    int rc = ds_cat_exec(c,
                         "CREATE TABLE finish_member(cluster INTEGER, rep INTEGER,"
                         " id INTEGER, PRIMARY KEY(cluster, rep, id)) WITHOUT ROWID",
                         "finish: near groups", err, errlen);
    if (rc == 0) {
        rc = copy_query(c,
                        "SELECT coalesce((SELECT parent FROM finish_near n"
                        " WHERE n.phash = coalesce(s.phash, 0)), coalesce(s.phash, 0)),"
                        " coalesce(s.dup_group, s.id), s.id FROM samples s NOT INDEXED"
                        " WHERE s." NEAR_ROW,
                        "INSERT INTO finish_member VALUES (?, ?, ?)", "near groups", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "SELECT cluster, rep, id FROM finish_member ORDER BY cluster, rep, id",
                            &scan, "finish: near groups", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "SELECT id FROM finish_member WHERE cluster = ?", &members,
                            "finish: near groups", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "UPDATE samples SET near_group = ? WHERE id = ?", &set,
                            "finish: near groups", err, errlen);
    }
    int64_t cluster = 0, rep = 0, first = 0, files = 0;
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(scan)) == SQLITE_ROW) {
        int64_t cl = sqlite3_column_int64(scan, 0), r = sqlite3_column_int64(scan, 1);
        int64_t id = sqlite3_column_int64(scan, 2);
        if (files > 0 && cl != cluster) {
            if (files >= 2) {
                rc = near_group(c, members, set, cluster, first, err, errlen);
            }
            files = 0;
        }
        if (files == 0) {
            cluster = cl;
            first = id;
            files = 1;
        } else {
            files += r != rep;
            first = id < first ? id : first;
        }
        rep = r;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: near groups");
    }
    if (rc == 0 && files >= 2) {
        rc = near_group(c, members, set, cluster, first, err, errlen);
    }
    sqlite3_finalize(scan);
    sqlite3_finalize(members);
    sqlite3_finalize(set);
    return rc ? rc : scratch_drop(c, "finish_member", err, errlen);
}

/* Near leakage: a later-split sample, not already exact leakage, whose
 * hash or a neighbour's is carried by a train sample; in id order, a chunk
 * at a time. */
static int near_leakage(ds_catalog *c, char *err, size_t errlen)
{
    sqlite3_stmt *sel = NULL, *set = NULL;
    int rc = ds_cat_prepare(
        c,
        "SELECT s.id, CASE WHEN n.near IS NULL THEN n.own WHEN n.own IS NULL THEN n.near"
        " ELSE min(n.own, n.near) END AS of FROM samples s NOT INDEXED"
        " JOIN finish_near n ON n.phash = coalesce(s.phash, 0)"
        " WHERE s.id > ?1 AND s.leak_kind IS NULL AND s." LATER_SPLIT " AND s." NEAR_ROW
        " AND of IS NOT NULL ORDER BY s.id LIMIT ?2",
        &sel, "finish: near copies", err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c, "UPDATE samples SET leak_kind = 'near', leak_of = ? WHERE id = ?",
                            &set, "finish: near copies", err, errlen);
    }
    int64_t after = -1;
    for (int n = CHUNK; rc == 0 && n == CHUNK;) {
        int64_t rows[CHUNK][CHUNK_COLS] = {{0}};
        n = read_chunk(c, sel, after, rows, "near copies", err, errlen);
        rc = n < 0 ? n : 0;
        for (int i = 0; rc == 0 && i < n; i++) {
            sqlite3_bind_int64(set, 1, rows[i][1]);
            sqlite3_bind_int64(set, 2, rows[i][0]);
            rc = run_stmt(c, set, "near copies", err, errlen);
        }
        after = n > 0 ? rows[n - 1][0] : after;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(set);
    return rc;
}

static int near_duplicates(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen)
{
    if (o->near_distance < 0) {
        return 0;
    }
    near_ctx n = {.c = c, .d = o->near_distance, .err = err, .errlen = errlen};
    int rc = ds_cat_exec(c,
                         "CREATE TABLE finish_near(phash INTEGER PRIMARY KEY, own INTEGER,"
                         " parent INTEGER, near INTEGER)",
                         "finish: near copies", err, errlen);
    /* Train samples first, in id order: the first of each hash, the one
     * kept, is its smallest train id. */
    if (rc == 0) {
        rc = copy_query(c,
                        "SELECT coalesce(phash, 0), id FROM samples NOT INDEXED"
                        " WHERE " NEAR_ROW " AND split = 'train' ORDER BY id",
                        "INSERT OR IGNORE INTO finish_near(phash, own) VALUES (?, ?)",
                        "near copies", err, errlen);
    }
    if (rc == 0) {
        rc = copy_query(c, "SELECT coalesce(phash, 0) FROM samples NOT INDEXED WHERE " NEAR_ROW,
                        "INSERT OR IGNORE INTO finish_near(phash) VALUES (?)", "near copies", err,
                        errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "SELECT parent FROM finish_near WHERE phash = ?", &n.get_parent,
                            "finish: near groups", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c, "UPDATE finish_near SET parent = ?2 WHERE phash = ?1", &n.set_parent,
                            "finish: near groups", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "UPDATE finish_near SET near = ?2 WHERE phash = ?1"
                            " AND (near IS NULL OR near > ?2)",
                            &n.set_near, "finish: near copies", err, errlen);
    }
    if (rc == 0) {
        rc = near_pairs(&n);
    }
    if (rc == 0) {
        rc = near_roots(&n);
    }
    if (rc == 0) {
        rc = near_groups(c, err, errlen);
    }
    if (rc == 0) {
        rc = near_leakage(c, err, errlen);
    }
    sqlite3_finalize(n.get_parent);
    sqlite3_finalize(n.set_parent);
    sqlite3_finalize(n.set_near);
    free(n.run);
    return rc ? rc : scratch_drop(c, "finish_near", err, errlen);
}

/* ---- the hash ----------------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static int hash_rows(ds_catalog *c, XXH3_state_t *xx, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c,
                            "SELECT id, label, split, content_hash FROM samples NOT INDEXED"
                            " WHERE status = 'ok' AND split IS NOT NULL ORDER BY id",
                            &st, "finish: hash", err, errlen);
    if (rc) {
        return rc;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        uint8_t buf[12], hash[16] = {0};
        int32_t label = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1);
        put_le(buf, (uint64_t)sqlite3_column_int64(st, 0), 8);
        put_le(buf + 8, (uint32_t)label, 4);
        const char *split = (const char *)sqlite3_column_text(st, 2);
        if (sqlite3_column_bytes(st, 3) == 16) {
            memcpy(hash, sqlite3_column_blob(st, 3), 16);
        }
        XXH3_128bits_update(xx, buf, sizeof buf);
        XXH3_128bits_update(xx, split, strlen(split) + 1);
        XXH3_128bits_update(xx, hash, 16);
    }
    if (step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: hash");
    }
    sqlite3_finalize(st);
    return rc;
}

static int dataset_hash(ds_catalog *c, char hex[33], char *err, size_t errlen)
{
    const char *const *names;
    int nclasses;
    int rc = ds_catalog_classes(c, &names, &nclasses, err, errlen);
    if (rc) {
        return rc;
    }
    XXH3_state_t *st = XXH3_createState();
    if (!st) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: finish: out of memory", c->path);
    }
    XXH3_128bits_reset(st);
    for (int i = 0; i < nclasses; i++) {
        XXH3_128bits_update(st, names[i], strlen(names[i]) + 1);
    }
    rc = hash_rows(c, st, err, errlen);
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    for (int i = 0; i < 16; i++) {
        static const char digits[] = "0123456789abcdef";
        hex[2 * i] = digits[canon.digest[i] >> 4];
        hex[2 * i + 1] = digits[canon.digest[i] & 15];
    }
    hex[32] = '\0';
    return rc;
}

/* ---- the whole step ----------------------------------------------------- */

/* The value of an integer pragma. */
static int pragma_int(ds_catalog *c, const char *name, int *value, char *err, size_t errlen)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c, sql, &st, "finish: read pragma", err, errlen);
    if (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        *value = sqlite3_column_int(st, 0);
    } else if (rc == 0) {
        rc = ds_cat_err(c, err, errlen, "finish: read pragma %s", name);
    }
    sqlite3_finalize(st);
    return rc;
}

static int check_opts(const ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen)
{
    if (o->mode < DS_SPLIT_SOURCE || o->mode > DS_SPLIT_FRACTIONS) {
        return ck_err(err, errlen, CK_EINVAL, "%s: finish: unknown split mode %d", c->path,
                      (int)o->mode);
    }
    if (o->mode == DS_SPLIT_FRACTIONS && (o->train < 0 || o->validation < 0 || o->test < 0 ||
                                          fabs(o->train + o->validation + o->test - 1.0) > 1e-6)) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: finish: split fractions must be >= 0 and sum to 1", c->path);
    }
    if (o->near_distance > MAX_NEAR_DISTANCE) {
        return ck_err(err, errlen, CK_EINVAL, "%s: finish: near distance %d: at most %d", c->path,
                      o->near_distance, MAX_NEAR_DISTANCE);
    }
    for (int i = 0; i < c->nsources; i++) {
        if (!c->sources[i].complete) {
            return ck_err(err, errlen, CK_EINVAL, "%s: finish: source %d was not read to the end",
                          c->path, c->sources[i].index);
        }
    }
    return 0;
}

/* The derived columns, the meta rows and the split index, in the open
 * transaction; *hex receives the dataset hash. */
static int derive(ds_catalog *c, const ds_split_opts *o, char hex[33], char *err, size_t errlen)
{
    int rc = ds_cat_exec(c,
                         "DELETE FROM classes;"
                         "INSERT INTO classes(label, name)"
                         " SELECT row_number() OVER (ORDER BY class_name) - 1, class_name"
                         " FROM (SELECT DISTINCT class_name FROM samples"
                         " WHERE class_name IS NOT NULL)",
                         "finish: classes", err, errlen);
    ds_cat_classes_reset(c);
    const char *const *names;
    int nclasses = 0;
    if (rc == 0) {
        rc = ds_catalog_classes(c, &names, &nclasses, err, errlen);
    }
    if (rc == 0) {
        rc = check_source_splits(c, err, errlen);
    }
    if (rc == 0) {
        rc = assign_splits(c, o, err, errlen);
    }
    if (rc == 0) {
        rc = shuffle_splits(c, o, nclasses, err, errlen);
    }
    if (rc == 0) {
        rc = exact_duplicates(c, o, err, errlen);
    }
    if (rc == 0) {
        rc = near_duplicates(c, o, err, errlen);
    }
    if (rc == 0) {
        rc = dataset_hash(c, hex, err, errlen);
    }
    char split[256];
    ds_split_describe(o, split, sizeof split);
    if (rc == 0) {
        rc = ds_cat_meta_set(c, "split", split, err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_meta_set(c, "dataset_hash", hex, err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_meta_set(c, "finished", "1", err, errlen);
    }
    if (rc == 0) {
        rc =
            ds_cat_exec(c, "CREATE INDEX IF NOT EXISTS samples_split ON samples(split, status, id)",
                        "finish: index", err, errlen);
    }
    return rc;
}

int ds_catalog_finish(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen)
{
    if (c->finished) {
        return 0;
    }
    if (!c->begun) {
        return ck_err(err, errlen, CK_EINVAL, "%s: finish: preparation not begun", c->path);
    }
    int rc = check_opts(c, o, err, errlen);
    if (rc == 0) {
        rc = ds_cat_tx_commit(c, err, errlen); /* the last puts stay, whatever happens next */
    }
    /* Small caches (see the note at the top). Freed pages of the scratch
     * tables are not overwritten with zeros (Debian's SQLite does so by
     * default): that would write them all to the WAL and, for each DROP,
     * to a statement journal in a temporary file. */
    int secure = 1;
    char pragma[96];
    if (rc == 0) {
        rc = pragma_int(c, "secure_delete", &secure, err, errlen);
    }
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d; PRAGMA secure_delete = FAST",
             FINISH_CACHE_KB);
    if (rc == 0) {
        rc = ds_cat_exec(c, pragma, "finish: cache", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_tx_begin(c, err, errlen);
    }
    char hex[33] = "";
    if (rc == 0) {
        rc = derive(c, o, hex, err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_tx_commit(c, err, errlen);
    }
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d; PRAGMA secure_delete = %d",
             DS_CACHE_KB, secure);
    sqlite3_exec(c->db, pragma, NULL, NULL, NULL);
    if (rc) {
        if (c->in_tx) {
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            c->in_tx = 0;
        }
        ds_cat_classes_reset(c);
        return rc;
    }
    c->finished = 1;
    snprintf(c->hash, sizeof c->hash, "%s", hex);
    /* Back to one self-contained file. Failing here (another reader holds
     * the WAL) leaves a correct catalog in WAL mode, so it is not an error. */
    sqlite3_exec(c->db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE", NULL, NULL,
                 NULL);
    return 0;
}
