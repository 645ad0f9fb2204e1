/* catalog_finish.c: everything the catalog derives from its rows — labels,
 * splits, duplicate groups, leakage and the dataset hash — computed in one
 * transaction after the last source. This file checks the options, sets
 * the transaction up and runs the steps in this order, each in its own file
 * (which states its policy in full):
 * - labels (here): class names sorted byte-wise, as Keras and torchvision
 *   sort a folder tree's; when every source is IDX or HODA, whose class
 *   names are the publisher's label numbers, by number (10 after 9, the
 *   labels keras.datasets gives); with class names given for those
 *   numbers (the ingest stored them), in the order given, which is the
 *   numbers'; label = position. Classes are few, so this one order may
 *   come from the sorter;
 * - splits (catalog_split.c): the source's own, chollet's file numbers, or
 *   seeded stratified fractions, then limit_per_class;
 * - exact copies and exact leakage (catalog_exact.c): a validation or test
 *   sample with a copy in train is removed from splits convkit made (unless
 *   keep_leakage), and only reported in a split that came with the source;
 * - near copies and near leakage (catalog_near.c): only reported, never
 *   removed, and not for a sample that already is exact leakage;
 * - the dataset hash (catalog_hash.c), over the final splits.
 * The steps call the statement helpers of catalog_scratch.c and never this
 * file.
 *
 * Determinism: every decision is a pure function of the stored rows and of
 * the split options; randomness comes only from ck_rng keyed (seed, 0,
 * label, CK_RNG_SPLIT). A run interrupted anywhere and resumed therefore
 * finishes exactly like an uninterrupted one.
 *
 * Memory and files. Memory does not depend on the number of samples, and
 * nothing is written outside the catalog and its journal:
 * - every order a step needs comes from a B-tree, never from SQLite's
 *   sorter: a table's rowid, or a scratch table keyed in the order the
 *   step reads it (each step names its own). Scratch tables live in the
 *   catalog, created and dropped inside finish's transaction: never
 *   committed. The sorter would keep up to a cache's worth of rows (2 MB at
 *   least) in one growing buffer, then spill to temporary files; a B-tree
 *   only uses pages of the page cache, which finish holds to
 *   FINISH_CACHE_KB (the 16 MB that ingest filled are freed first and serve
 *   again). Hence also the index on splits, made with the table
 *   (catalog.c), not at the end.
 * - every write is a single-row statement: in a transaction SQLite gives a
 *   statement that may change several rows a statement journal, which goes
 *   to a temporary file once the cache spills, as it does here all along.
 * On Kaggle-like corpora (6,000 and 37,500 samples) the heap stays at the
 * size ingest left (32-33 MB) through finish, where the arrays of all rows
 * this replaced took 100 to 300 bytes a sample. What C holds is bounded by
 * one class (the shuffled splits) or one block value (near search).
 */
#include <math.h>
#include <stdio.h>

#include "ds_internal.h"

enum { MAX_NEAR_DISTANCE = 16, FINISH_CACHE_KB = 4096 };

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
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_exec(c, "DELETE FROM classes", "finish: classes", err, errlen);
    if (rc == 0) { /* a name's place in "a,b,c" is where ",name," starts */
        rc = ds_cat_prepare(
            c,
            "INSERT INTO classes(label, name)"
            " SELECT row_number() OVER (ORDER BY CASE"
            "  WHEN ?1 IS NOT NULL THEN instr(',' || ?1 || ',', ',' || class_name || ',')"
            "  WHEN NOT EXISTS (SELECT 1 FROM sources WHERE layout NOT IN ('idx', 'hoda'))"
            "  THEN CAST(class_name AS INTEGER) END, class_name) - 1, class_name"
            " FROM (SELECT DISTINCT class_name FROM samples"
            " WHERE class_name IS NOT NULL)",
            &st, "finish: classes", err, errlen);
    }
    if (rc == 0) {
        sqlite3_bind_text(st, 1, o->class_names, -1, SQLITE_STATIC);
        rc = ds_fin_stmt_run(c, st, "classes", err, errlen);
    }
    sqlite3_finalize(st);
    ds_cat_classes_reset(c);
    const char *const *names;
    int nclasses = 0;
    if (rc == 0) {
        rc = ds_catalog_classes(c, &names, &nclasses, err, errlen);
    }
    if (rc == 0) {
        rc = ds_fin_splits(c, o, nclasses, err, errlen);
    }
    if (rc == 0) {
        rc = ds_fin_exact_dups(c, o, err, errlen);
    }
    if (rc == 0) {
        rc = ds_fin_near_dups(c, o, err, errlen);
    }
    if (rc == 0) {
        rc = ds_fin_dataset_hash(c, hex, err, errlen);
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
