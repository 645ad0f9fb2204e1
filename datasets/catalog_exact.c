/* catalog_exact.c: exact copies and the leakage they cause.
 *
 * Exact copies, among 'ok' samples, share a content hash (zeros when
 * absent); dup_group = the smallest id of the group. The scratch table
 * finish_exact holds the samples keyed (hash, id), so one scan in key order
 * meets each group whole, its smallest train id first.
 *
 * Leakage: a validation or test sample with a copy in train. Policy:
 * - splits convkit made (chollet, fractions): an exact copy is removed from
 *   the later split (status 'leakage', leak_of = the smallest train id of
 *   its group) unless keep_leakage; a near copy is only reported
 *   (catalog_near.c);
 * - splits that come from the source itself (IDX train/t10k, fastai valid,
 *   split "source") are never altered, only reported, so a published split
 *   keeps its published size.
 * Reported copies have leak_of and leak_kind ('exact' or 'near') set.
 */
#include <string.h>

#include "ds_internal.h"

/* The content hash as finish compares it (zeros when absent). */
#define HASH_KEY "CASE WHEN length(content_hash) = 16 THEN content_hash ELSE zeroblob(16) END"

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
        rc = ds_fin_stmt_run(c, set, "exact duplicates", err, errlen);
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
int ds_fin_exact_dups(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen)
{
    int remove = o->mode != DS_SPLIT_SOURCE && !o->keep_leakage;
    sqlite3_stmt *scan = NULL, *members = NULL, *set = NULL;
    int rc = ds_cat_exec(c,
                         "CREATE TABLE finish_exact(hash BLOB, id INTEGER, train INTEGER,"
                         " later INTEGER, PRIMARY KEY(hash, id)) WITHOUT ROWID",
                         "finish: exact duplicates", err, errlen);
    if (rc == 0) {
        rc = ds_fin_query_copy(c,
                               "SELECT " HASH_KEY ", id, split = 'train', " DS_FIN_LATER_SPLIT
                               " FROM samples NOT INDEXED WHERE " DS_FIN_OK_ROW,
                               "INSERT INTO finish_exact VALUES (?, ?, ?, ?)", "exact duplicates",
                               err, errlen);
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
    return rc ? rc : ds_fin_scratch_drop(c, "finish_exact", err, errlen);
}
