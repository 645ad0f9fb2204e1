/* catalog_info.c: the catalog described as one JSON object, what
 * `convkit info --json` prints and the human table is made from.
 *
 *   {"path", "schema_version", "finished", "dataset_hash", "options",
 *    "split",                                  ds_split_describe text
 *    "classes": [names in label order],
 *    "samples": {"total", "ok", "rejected", "leakage", "unused"},
 *    "splits": {"train": {"total", "classes": {name: count...}}, ...},
 *                                              train, validation, test,
 *                                              unlabeled; only those used
 *    "rejects": {"total", "reasons": [{"reason", "count", "examples": [names]}]},
 *    "duplicates": {"exact": {"groups", "samples", "examples": [{"group",
 *                   "size", "names": [...]}]}, "near": {same}},
 *    "leakage": {"exact", "near", "removed", "examples": [{"id", "name",
 *                "split", "kind", "removed", "leak_of", "leak_of_name"}]},
 *    "decoding": {"exif_rotated", "alpha"}   ok samples whose EXIF orientation
 *                                              is not 1 (ignored when decoded)
 *                                              and samples with an alpha channel
 *                                              (dropped when decoded)
 *    "same_names": {"names", "entries", "examples": [{"name", "count"}]},
 *                                              a name given to more than one
 *                                              entry of a source (zip and tar
 *                                              allow it; extraction keeps the
 *                                              last): every entry is kept
 *    "sources": [{"index", "path", "layout", "id_base", "entries", "hash",
 *                 "complete"}]}
 *
 * Counts are of 'ok' samples unless said otherwise; examples are capped
 * (20 names per reject reason, 10 groups of 5 names, 20 leaks) so the
 * object stays small for any dataset. Strings are escaped for JSON and
 * bytes that are not UTF-8 become U+FFFD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"
#include "im.h"

enum {
    REJECT_EXAMPLES = 20,
    GROUP_EXAMPLES = 10,
    GROUP_NAMES = 5,
    LEAK_EXAMPLES = 20,
};

static void put_key(ck_buf *b, const char *key)
{
    ck_buf_json_str(b, key);
    ck_buf_str(b, ":");
}

/* ---- queries ----------------------------------------------------------- */

typedef struct info {
    ds_catalog *c;
    ck_buf b;
    char *err;
    size_t errlen;
    int rc;
} info;

static sqlite3_stmt *query(info *in, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (in->rc == 0) {
        in->rc = ds_cat_prepare(in->c, sql, &st, "info", in->err, in->errlen);
    }
    return in->rc ? NULL : st;
}

/* Steps st; on failure records the error. Returns 1 on a row. */
static int next(info *in, sqlite3_stmt *st)
{
    if (!st || in->rc) {
        return 0;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        return 1;
    }
    if (step != SQLITE_DONE) {
        in->rc = ds_cat_err(in->c, in->err, in->errlen, "info");
    }
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int64_t scalar(info *in, const char *sql)
{
    sqlite3_stmt *st = query(in, sql);
    int64_t v = next(in, st) ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return v;
}

static void meta_field(info *in, const char *key, const char *json_key)
{
    char *v = NULL;
    if (in->rc == 0) {
        in->rc = ds_cat_meta_get(in->c, key, &v, in->err, in->errlen);
    }
    put_key(&in->b, json_key);
    ck_buf_json_str(&in->b, v);
    ck_buf_str(&in->b, ",");
    free(v);
}

static void classes(info *in, const char *const **names, int *count)
{
    *names = NULL;
    *count = 0;
    if (in->rc == 0) {
        in->rc = ds_catalog_classes(in->c, names, count, in->err, in->errlen);
    }
    ck_buf_str(&in->b, "\"classes\":[");
    for (int i = 0; i < *count; i++) {
        ck_buf_str(&in->b, i ? "," : "");
        ck_buf_json_str(&in->b, (*names)[i]);
    }
    ck_buf_str(&in->b, "],");
}

static void samples(info *in)
{
    ck_buf_printf(&in->b, "\"samples\":{\"total\":%lld,",
                  (long long)scalar(in, "SELECT count(*) FROM samples"));
    ck_buf_printf(&in->b, "\"ok\":%lld,",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE status = 'ok'"));
    ck_buf_printf(&in->b, "\"rejected\":%lld,",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE status = 'rejected'"));
    ck_buf_printf(&in->b, "\"leakage\":%lld,",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE status = 'leakage'"));
    ck_buf_printf(&in->b, "\"unused\":%lld},",
                  (long long)scalar(in, "SELECT count(*) FROM samples"
                                        " WHERE status = 'ok' AND split IS NULL"));
}

static void splits(info *in, const char *const *names, int nclasses)
{
    int64_t *counts = calloc((size_t)nclasses + 1, sizeof *counts);
    if (!counts) {
        in->b.oom = 1;
        return;
    }
    ck_buf_str(&in->b, "\"splits\":{");
    int first = 1;
    for (int sp = DS_SP_TRAIN; sp < DS_SP_COUNT; sp++) {
        memset(counts, 0, ((size_t)nclasses + 1) * sizeof *counts);
        int64_t total = 0;
        sqlite3_stmt *st = query(in, "SELECT label, count(*) FROM samples"
                                     " WHERE status = 'ok' AND split = ? GROUP BY label");
        if (st) {
            sqlite3_bind_text(st, 1, ds_cat_split_names[sp], -1, SQLITE_STATIC);
        }
        while (next(in, st)) {
            int label = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 0);
            int64_t n = sqlite3_column_int64(st, 1);
            total += n;
            if (label >= 0 && label < nclasses) {
                counts[label] += n;
            }
        }
        sqlite3_finalize(st);
        if (total == 0) {
            continue;
        }
        ck_buf_str(&in->b, first ? "" : ",");
        first = 0;
        put_key(&in->b, ds_cat_split_names[sp]);
        ck_buf_printf(&in->b, "{\"total\":%lld", (long long)total);
        if (sp != DS_SP_UNLABELED) {
            ck_buf_str(&in->b, ",\"classes\":{");
            for (int l = 0; l < nclasses; l++) {
                ck_buf_str(&in->b, l ? "," : "");
                put_key(&in->b, names[l]);
                ck_buf_printf(&in->b, "%lld", (long long)counts[l]);
            }
            ck_buf_str(&in->b, "}");
        }
        ck_buf_str(&in->b, "}");
    }
    ck_buf_str(&in->b, "},");
    free(counts);
}

static void rejects(info *in)
{
    ck_buf_printf(&in->b, "\"rejects\":{\"total\":%lld,\"reasons\":[",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE status = 'rejected'"));
    sqlite3_stmt *st = query(in, "SELECT reason, count(*) AS n FROM samples"
                                 " WHERE status = 'rejected' GROUP BY reason"
                                 " ORDER BY n DESC, reason");
    sqlite3_stmt *ex = query(in, "SELECT name FROM samples WHERE status = 'rejected'"
                                 " AND reason IS ? ORDER BY id LIMIT ?");
    for (int i = 0; next(in, st); i++) {
        const char *reason = col_text(st, 0);
        ck_buf_str(&in->b, i ? ",{" : "{");
        put_key(&in->b, "reason");
        ck_buf_json_str(&in->b, reason);
        ck_buf_printf(&in->b, ",\"count\":%lld,\"examples\":[",
                      (long long)sqlite3_column_int64(st, 1));
        sqlite3_reset(ex);
        sqlite3_bind_text(ex, 1, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int(ex, 2, REJECT_EXAMPLES);
        for (int j = 0; next(in, ex); j++) {
            ck_buf_str(&in->b, j ? "," : "");
            ck_buf_json_str(&in->b, col_text(ex, 0));
        }
        ck_buf_str(&in->b, "]}");
    }
    sqlite3_finalize(ex);
    sqlite3_finalize(st);
    ck_buf_str(&in->b, "]},");
}

/* column is dup_group or near_group (fixed strings, never user input). */
static void groups(info *in, const char *key, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT %s), count(*) FROM samples WHERE %s IS NOT NULL", column,
             column);
    sqlite3_stmt *st = query(in, sql);
    int64_t ngroups = 0, nsamples = 0;
    if (next(in, st)) {
        ngroups = sqlite3_column_int64(st, 0);
        nsamples = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    put_key(&in->b, key);
    ck_buf_printf(&in->b, "{\"groups\":%lld,\"samples\":%lld,\"examples\":[", (long long)ngroups,
                  (long long)nsamples);
    snprintf(sql, sizeof sql,
             "SELECT %s, count(*) AS n FROM samples WHERE %s IS NOT NULL GROUP BY %s"
             " ORDER BY n DESC, %s LIMIT %d",
             column, column, column, column, GROUP_EXAMPLES);
    st = query(in, sql);
    snprintf(sql, sizeof sql, "SELECT name FROM samples WHERE %s = ? ORDER BY id LIMIT %d", column,
             GROUP_NAMES);
    sqlite3_stmt *ex = query(in, sql);
    for (int i = 0; next(in, st); i++) {
        int64_t group = sqlite3_column_int64(st, 0);
        ck_buf_printf(&in->b, "%s{\"group\":%lld,\"size\":%lld,\"names\":[", i ? "," : "",
                      (long long)group, (long long)sqlite3_column_int64(st, 1));
        sqlite3_reset(ex);
        sqlite3_bind_int64(ex, 1, group);
        for (int j = 0; next(in, ex); j++) {
            ck_buf_str(&in->b, j ? "," : "");
            ck_buf_json_str(&in->b, col_text(ex, 0));
        }
        ck_buf_str(&in->b, "]}");
    }
    sqlite3_finalize(ex);
    sqlite3_finalize(st);
    ck_buf_str(&in->b, "]}");
}

static void leakage(info *in)
{
    ck_buf_printf(&in->b, "\"leakage\":{\"exact\":%lld,",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE leak_kind = 'exact'"));
    ck_buf_printf(&in->b, "\"near\":%lld,",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE leak_kind = 'near'"));
    ck_buf_printf(&in->b, "\"removed\":%lld,\"examples\":[",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE status = 'leakage'"));
    sqlite3_stmt *st =
        query(in, "SELECT s.id, s.name, s.split, s.leak_kind, s.status = 'leakage', s.leak_of,"
                  " t.name FROM samples s LEFT JOIN samples t ON t.id = s.leak_of"
                  " WHERE s.leak_of IS NOT NULL ORDER BY s.leak_kind, s.id LIMIT ?");
    if (st) {
        sqlite3_bind_int(st, 1, LEAK_EXAMPLES);
    }
    for (int i = 0; next(in, st); i++) {
        ck_buf_printf(&in->b, "%s{\"id\":%lld,\"name\":", i ? "," : "",
                      (long long)sqlite3_column_int64(st, 0));
        ck_buf_json_str(&in->b, col_text(st, 1));
        ck_buf_str(&in->b, ",\"split\":");
        ck_buf_json_str(&in->b, col_text(st, 2));
        ck_buf_str(&in->b, ",\"kind\":");
        ck_buf_json_str(&in->b, col_text(st, 3));
        ck_buf_printf(&in->b, ",\"removed\":%s,\"leak_of\":%lld,\"leak_of_name\":",
                      sqlite3_column_int(st, 4) ? "true" : "false",
                      (long long)sqlite3_column_int64(st, 5));
        ck_buf_json_str(&in->b, col_text(st, 6));
        ck_buf_str(&in->b, "}");
    }
    sqlite3_finalize(st);
    ck_buf_str(&in->b, "]},");
}

enum { EXIF_HEAD = 64 * 1024 }; /* EXIF lies in a JPEG's first 64 KiB */

/* Reads the head of every ok JPEG's stored bytes for its EXIF orientation:
 * incremental blob reads touch only the first pages of each. */
static int64_t exif_rotated(info *in)
{
    sqlite3_stmt *st = query(in, "SELECT id FROM samples WHERE status = 'ok'"
                                 " AND format = 'jpeg' ORDER BY id");
    uint8_t *head = malloc(EXIF_HEAD);
    int64_t rotated = 0;
    while (head && next(in, st)) {
        sqlite3_blob *b;
        if (sqlite3_blob_open(in->c->db, "main", "blobs", "data", sqlite3_column_int64(st, 0), 0,
                              &b) != SQLITE_OK) {
            continue; /* kept as a file, or no blob: nothing to tell */
        }
        int n = sqlite3_blob_bytes(b);
        n = n < EXIF_HEAD ? n : EXIF_HEAD;
        if (sqlite3_blob_read(b, head, n, 0) == SQLITE_OK) {
            int o = im_jpeg_orientation(head, (size_t)n);
            rotated += o > 1;
        }
        sqlite3_blob_close(b);
    }
    if (!head) {
        in->b.oom = 1;
    }
    free(head);
    sqlite3_finalize(st);
    return rotated;
}

static void decoding(info *in)
{
    ck_buf_printf(&in->b, "\"decoding\":{\"exif_rotated\":%lld,", (long long)exif_rotated(in));
    ck_buf_printf(&in->b, "\"alpha\":%lld},",
                  (long long)scalar(in, "SELECT count(*) FROM samples WHERE status = 'ok'"
                                        " AND bands IN (2, 4) AND format <> 'jpeg'"));
}

static void same_names(info *in)
{
    sqlite3_stmt *st = query(in, "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n"
                                 " FROM samples GROUP BY source_idx, name HAVING n > 1)");
    int64_t names = 0, entries = 0;
    if (next(in, st)) {
        names = sqlite3_column_int64(st, 0);
        entries = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    ck_buf_printf(&in->b, "\"same_names\":{\"names\":%lld,\"entries\":%lld,\"examples\":[",
                  (long long)names, (long long)entries);
    st = query(in, "SELECT name, count(*) AS n FROM samples GROUP BY source_idx, name"
                   " HAVING n > 1 ORDER BY min(id) LIMIT ?");
    if (st) {
        sqlite3_bind_int(st, 1, REJECT_EXAMPLES);
    }
    for (int i = 0; next(in, st); i++) {
        ck_buf_str(&in->b, i ? ",{\"name\":" : "{\"name\":");
        ck_buf_json_str(&in->b, col_text(st, 0));
        ck_buf_printf(&in->b, ",\"count\":%lld}", (long long)sqlite3_column_int64(st, 1));
    }
    sqlite3_finalize(st);
    ck_buf_str(&in->b, "]},");
}

static void sources(info *in)
{
    ck_buf_str(&in->b, "\"sources\":[");
    sqlite3_stmt *st = query(in, "SELECT idx, path, layout, id_base, entries, hash, complete"
                                 " FROM sources ORDER BY idx");
    for (int i = 0; next(in, st); i++) {
        ck_buf_printf(&in->b, "%s{\"index\":%d,\"path\":", i ? "," : "", sqlite3_column_int(st, 0));
        ck_buf_json_str(&in->b, col_text(st, 1));
        ck_buf_str(&in->b, ",\"layout\":");
        ck_buf_json_str(&in->b, col_text(st, 2));
        ck_buf_printf(&in->b,
                      ",\"id_base\":%lld,\"entries\":", (long long)sqlite3_column_int64(st, 3));
        if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
            ck_buf_str(&in->b, "null");
        } else {
            ck_buf_printf(&in->b, "%lld", (long long)sqlite3_column_int64(st, 4));
        }
        ck_buf_str(&in->b, ",\"hash\":");
        ck_buf_json_str(&in->b, col_text(st, 5));
        ck_buf_printf(&in->b, ",\"complete\":%s}", sqlite3_column_int(st, 6) ? "true" : "false");
    }
    sqlite3_finalize(st);
    ck_buf_str(&in->b, "]");
}

int ds_catalog_info_json(ds_catalog *c, char **json, char *err, size_t errlen)
{
    *json = NULL;
    info in = {.c = c, .err = err, .errlen = errlen};
    const char *const *names;
    int nclasses;
    /* One read transaction, so the numbers agree with each other even while
     * a writer is at work. */
    in.rc = ds_cat_exec(c, c->in_tx ? "SAVEPOINT info" : "BEGIN", "info", err, errlen);
    int began = in.rc == 0;
    ck_buf_str(&in.b, "{\"path\":");
    ck_buf_json_str(&in.b, c->path);
    ck_buf_printf(&in.b,
                  ",\"schema_version\":%d,\"finished\":%s,\"dataset_hash\":", DS_SCHEMA_VERSION,
                  c->finished ? "true" : "false");
    ck_buf_json_str(&in.b, c->hash[0] ? c->hash : NULL);
    ck_buf_str(&in.b, ",");
    meta_field(&in, "options", "options");
    meta_field(&in, "split", "split");
    classes(&in, &names, &nclasses);
    samples(&in);
    splits(&in, names, nclasses);
    rejects(&in);
    ck_buf_str(&in.b, "\"duplicates\":{");
    groups(&in, "exact", "dup_group");
    ck_buf_str(&in.b, ",");
    groups(&in, "near", "near_group");
    ck_buf_str(&in.b, "},");
    leakage(&in);
    decoding(&in);
    same_names(&in);
    sources(&in);
    ck_buf_str(&in.b, "}");
    if (began) {
        sqlite3_exec(c->db, c->in_tx ? "RELEASE info" : "COMMIT", NULL, NULL, NULL);
    }
    if (in.rc == 0 && in.b.oom) {
        in.rc = ck_err(err, errlen, CK_ENOMEM, "%s: info: out of memory", c->path);
    }
    if (in.rc) {
        ck_buf_free(&in.b);
        return in.rc;
    }
    *json = ck_buf_take(&in.b);
    return 0;
}
