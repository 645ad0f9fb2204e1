/* catalog.c: dataset.db, the SQLite file that holds a prepared dataset.
 *
 * Schema (version 1, in meta.schema_version):
 *
 *   meta(key, value)       schema_version, options (the preparation's
 *                          canonical option text), finished (0/1), split
 *                          (ds_split_describe), dataset_hash (hex)
 *   sources(idx, path, layout, id_base, entries, hash, complete)
 *   classes(label, name)   names sorted byte-wise (Keras order), label =
 *                          position; filled by ds_catalog_finish
 *   samples(id, source_idx, name, class_name, label, src_split, number,
 *           split, status, reason, format, width, height, bands,
 *           orig_width, orig_height, bytes, content_hash, phash,
 *           dup_group, near_group, leak_of, leak_kind)
 *       one row per entry, rejected ones too (status 'rejected' + reason),
 *       so ids stay dense; status 'ok', or 'leakage' when finish removed it.
 *       number is the last integer of the base name (Kaggle file number).
 *       split: train / validation / test / unlabeled, NULL = unused.
 *   blobs(id, kind, width, height, bands, data)
 *       the stored bytes of ok samples, in their own table so that scans of
 *       samples never page through image data.
 *   index samples_split(split, status, id), for reading a split. It exists
 *       from the start, so that it grows row by row instead of being built
 *       by a sort of every sample at the end (see catalog_finish.c).
 *
 * Writing: one writer connection, WAL with synchronous=NORMAL while
 * preparing, rows grouped into transactions of a few thousand rows, 64 MB
 * or one second. A kill loses at most the open transaction, and a rerun
 * finds what is stored with ds_catalog_has. Everything derived from the
 * rows (labels, splits, duplicates, leakage, the dataset hash) is computed
 * once, by ds_catalog_finish (catalog_finish.c), from the stored rows in id
 * order, so it cannot depend on the order in which workers finished or on
 * where a run was interrupted. A finished catalog is switched back to a
 * rollback journal: one self-contained file that opens read-only anywhere.
 *
 * Errors name the file and the step: "out.db: insert sample 41: database
 * is locked".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

const char *const ds_cat_split_names[DS_SP_COUNT] = {NULL, "train", "validation", "test",
                                                     "unlabeled"};

enum {
    TX_ROWS = 4096,
    TX_BYTES = 64 << 20,
};
#define TX_SECONDS 1.0

static const char *const schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE sources(idx INTEGER PRIMARY KEY, path TEXT NOT NULL, layout TEXT NOT NULL,"
    " id_base INTEGER NOT NULL, entries INTEGER, hash TEXT, complete INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE classes(label INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE samples(id INTEGER PRIMARY KEY, source_idx INTEGER NOT NULL,"
    " name TEXT NOT NULL, class_name TEXT, label INTEGER, src_split TEXT, number INTEGER,"
    " split TEXT, status TEXT NOT NULL, reason TEXT, format TEXT, width INTEGER,"
    " height INTEGER, bands INTEGER, orig_width INTEGER, orig_height INTEGER, bytes INTEGER,"
    " content_hash BLOB, phash INTEGER, dup_group INTEGER, near_group INTEGER,"
    " leak_of INTEGER, leak_kind TEXT);"
    "CREATE TABLE blobs(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, width INTEGER,"
    " height INTEGER, bands INTEGER, data BLOB NOT NULL);"
    "CREATE INDEX samples_split ON samples(split, status, id);";

/* ---- helpers shared by the catalog files ------------------------------ */

static int code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOTADB: return CK_EFORMAT;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM: return CK_EIO;
    case SQLITE_NOMEM: return CK_ENOMEM;
    default: return CK_EDB;
    }
}

int ds_cat_err(ds_catalog *c, char *err, size_t errlen, const char *fmt, ...)
{
    char step[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step, sizeof step, fmt, ap);
    va_end(ap);
    int rc = c->db ? sqlite3_errcode(c->db) : SQLITE_CANTOPEN;
    const char *msg = c->db ? sqlite3_errmsg(c->db) : "cannot open";
    return ck_err(err, errlen, code_of(rc), "%s: %s: %s", c->path, step, msg);
}

int ds_cat_exec(ds_catalog *c, const char *sql, const char *step, char *err, size_t errlen)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return ds_cat_err(c, err, errlen, "%s", step);
    }
    return 0;
}

int ds_cat_prepare(ds_catalog *c, const char *sql, sqlite3_stmt **st, const char *step, char *err,
                   size_t errlen)
{
    *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK) {
        return ds_cat_err(c, err, errlen, "%s", step);
    }
    return 0;
}

/* A statement kept for the life of the connection: prepared on first use,
 * reset and unbound on the next. */
static int cached(ds_catalog *c, const char *sql, sqlite3_stmt **st, const char *step, char *err,
                  size_t errlen)
{
    if (*st) {
        sqlite3_reset(*st);
        sqlite3_clear_bindings(*st);
        return 0;
    }
    return ds_cat_prepare(c, sql, st, step, err, errlen);
}

int ds_cat_tx_begin(ds_catalog *c, char *err, size_t errlen)
{
    if (c->in_tx) {
        return 0;
    }
    int rc = ds_cat_exec(c, "BEGIN IMMEDIATE", "begin transaction", err, errlen);
    if (rc == 0) {
        c->in_tx = 1;
        c->tx_rows = 0;
        c->tx_bytes = 0;
        c->tx_start = ck_now();
    }
    return rc;
}

int ds_cat_tx_commit(ds_catalog *c, char *err, size_t errlen)
{
    if (!c->in_tx) {
        return 0;
    }
    int rc = ds_cat_exec(c, "COMMIT", "commit", err, errlen);
    if (rc == 0) {
        c->in_tx = 0;
    }
    return rc;
}

int ds_cat_meta_get(ds_catalog *c, const char *key, char **value, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    *value = NULL;
    int rc =
        ds_cat_prepare(c, "SELECT value FROM meta WHERE key = ?", &st, "read meta", err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        *value = strdup(v ? v : "");
        if (!*value) {
            rc = ck_err(err, errlen, CK_ENOMEM, "%s: read meta %s: out of memory", c->path, key);
        }
    } else if (step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "read meta %s", key);
    }
    sqlite3_finalize(st);
    return rc;
}

int ds_cat_meta_set(ds_catalog *c, const char *key, const char *value, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", &st,
                            "write meta", err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "write meta %s", key);
    }
    sqlite3_finalize(st);
    return rc;
}

void ds_cat_classes_reset(ds_catalog *c)
{
    for (int i = 0; i < c->nclasses; i++) {
        free(c->classes[i]);
    }
    free(c->classes);
    c->classes = NULL;
    c->nclasses = 0;
}

/* ---- opening ----------------------------------------------------------- */

static int load_state(ds_catalog *c, char *err, size_t errlen)
{
    char *v = NULL;
    int rc = ds_cat_meta_get(c, "finished", &v, err, errlen);
    if (rc) {
        return rc;
    }
    c->finished = v && strcmp(v, "1") == 0;
    free(v);
    rc = ds_cat_meta_get(c, "dataset_hash", &v, err, errlen);
    if (rc) {
        return rc;
    }
    snprintf(c->hash, sizeof c->hash, "%s", v ? v : "");
    free(v);
    return 0;
}

static int create_schema(ds_catalog *c, char *err, size_t errlen)
{
    char version[16];
    snprintf(version, sizeof version, "%d", DS_SCHEMA_VERSION);
    int rc =
        ds_cat_exec(c, "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL", "create", err, errlen);
    if (rc == 0) {
        rc = ds_cat_tx_begin(c, err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_exec(c, schema_sql, "create schema", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_meta_set(c, "schema_version", version, err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_meta_set(c, "finished", "0", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_tx_commit(c, err, errlen);
    }
    return rc;
}

/* Tells a convkit catalog from anything else; creates the schema in an
 * empty file opened for writing. */
static int check_schema(ds_catalog *c, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc =
        ds_cat_prepare(c, "SELECT count(*) FROM sqlite_master", &st, "read schema", err, errlen);
    if (rc) {
        return rc == CK_EFORMAT
                   ? ck_err(err, errlen, CK_EFORMAT,
                            "%s: not a convkit catalog (not an SQLite database)", c->path)
                   : rc;
    }
    int64_t tables = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        tables = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (tables < 0) {
        return ds_cat_err(c, err, errlen, "read schema");
    }
    if (tables == 0) {
        if (c->mode != DS_OPEN_WRITE) {
            return ck_err(err, errlen, CK_EFORMAT, "%s: not a convkit catalog (empty)", c->path);
        }
        return create_schema(c, err, errlen);
    }
    char *v = NULL;
    rc = ds_cat_meta_get(c, "schema_version", &v, err, errlen);
    if (rc || !v) {
        free(v);
        return ck_err(err, errlen, CK_EFORMAT, "%s: not a convkit catalog (no schema version)",
                      c->path);
    }
    int version = atoi(v);
    free(v);
    if (version < 1) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: not a convkit catalog (bad schema version)",
                      c->path);
    }
    if (version > DS_SCHEMA_VERSION) {
        return ck_err(err, errlen, CK_EFORMAT,
                      "%s: schema version %d is newer than this convkit's (%d)", c->path, version,
                      DS_SCHEMA_VERSION);
    }
    return 0;
}

int ds_catalog_open(ds_catalog **out, const char *path, int mode, char *err, size_t errlen)
{
    *out = NULL;
    ds_catalog *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
    }
    c->mode = mode;
    int flags = SQLITE_OPEN_NOMUTEX;
    flags |=
        mode == DS_OPEN_WRITE ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    int rc = 0;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        rc = ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                    c->db ? sqlite3_errmsg(c->db) : "out of memory");
    }
    if (rc == 0) {
        sqlite3_busy_timeout(c->db, 10000);
        rc = check_schema(c, err, errlen);
    }
    if (rc == 0) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d", DS_CACHE_KB);
        rc = ds_cat_exec(c, pragma, "open", err, errlen);
    }
    if (rc == 0) {
        rc = load_state(c, err, errlen);
    }
    if (rc) {
        ds_catalog_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void ds_catalog_close(ds_catalog *c)
{
    if (!c) {
        return;
    }
    if (c->in_tx) {
        ds_cat_tx_commit(c, NULL, 0);
    }
    sqlite3_finalize(c->st_has);
    sqlite3_finalize(c->st_put);
    sqlite3_finalize(c->st_del);
    sqlite3_finalize(c->st_blob_put);
    sqlite3_finalize(c->st_blob_del);
    sqlite3_finalize(c->st_blob_get);
    sqlite3_close(c->db);
    ds_cat_classes_reset(c);
    free(c->sources);
    free(c->path);
    free(c->replaced);
    free(c);
}

/* ---- writing ----------------------------------------------------------- */

static int load_sources(ds_catalog *c, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c, "SELECT idx, id_base, entries, complete FROM sources ORDER BY idx",
                            &st, "read sources", err, errlen);
    if (rc) {
        return rc;
    }
    free(c->sources);
    c->sources = NULL;
    c->nsources = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        ds_cat_source *grown = realloc(c->sources, (size_t)(c->nsources + 1) * sizeof *grown);
        if (!grown) {
            sqlite3_finalize(st);
            return ck_err(err, errlen, CK_ENOMEM, "%s: read sources: out of memory", c->path);
        }
        c->sources = grown;
        ds_cat_source *s = &c->sources[c->nsources++];
        s->index = sqlite3_column_int(st, 0);
        s->id_base = sqlite3_column_int64(st, 1);
        s->entries = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
        s->complete = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : ds_cat_err(c, err, errlen, "read sources");
}

static ds_cat_source *find_source(ds_catalog *c, int index)
{
    for (int i = 0; i < c->nsources; i++) {
        if (c->sources[i].index == index) {
            return &c->sources[i];
        }
    }
    return NULL;
}

static int count_ok(ds_catalog *c, int64_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = ds_cat_prepare(c, "SELECT count(*) FROM samples WHERE status = 'ok'", &st,
                            "count samples", err, errlen);
    if (rc == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *n = sqlite3_column_int64(st, 0);
        } else {
            rc = ds_cat_err(c, err, errlen, "count samples");
        }
        sqlite3_finalize(st);
    }
    return rc;
}

/* Empties the catalog back to a new one (schema kept). */
static int reset(ds_catalog *c, char *err, size_t errlen)
{
    int rc = ds_cat_tx_begin(c, err, errlen);
    if (rc == 0) {
        rc = ds_cat_exec(c,
                         "DELETE FROM samples; DELETE FROM blobs; DELETE FROM sources;"
                         " DELETE FROM classes; DELETE FROM meta WHERE key <> 'schema_version'",
                         "reset", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_meta_set(c, "finished", "0", err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_tx_commit(c, err, errlen);
    }
    if (rc == 0) {
        c->finished = 0;
        c->hash[0] = '\0';
    }
    return rc;
}

const char *ds_catalog_replaced(const ds_catalog *c)
{
    return c->replaced;
}

int ds_catalog_begin(ds_catalog *c, const char *options, int *finished, char *err, size_t errlen)
{
    *finished = 0;
    if (c->mode != DS_OPEN_WRITE) {
        return ck_err(err, errlen, CK_EINVAL, "%s: begin: opened read-only", c->path);
    }
    char *old = NULL;
    int rc = ds_cat_meta_get(c, "options", &old, err, errlen);
    if (rc) {
        return rc;
    }
    free(c->replaced);
    c->replaced = NULL;
    if (old && strcmp(old, options) != 0) {
        /* A preparation that kept no image (it failed, or its source held
         * none) is nothing to lose: it never blocks a new one. */
        int64_t kept = 0;
        rc = count_ok(c, &kept, err, errlen);
        if (rc == 0 && kept == 0) {
            rc = reset(c, err, errlen);
            if (rc == 0) {
                c->replaced = old;
                old = NULL;
            }
        } else if (rc == 0) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: was prepared with %s; use a new output file (or delete it to start "
                        "over)",
                        c->path, old);
        }
        if (rc) {
            free(old);
            return rc;
        }
    }
    int fresh = old == NULL;
    free(old);
    if (!fresh && c->finished) {
        *finished = 1; /* nothing to do, and nothing is written */
        return 0;
    }
    rc = ds_cat_exec(c,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     "PRAGMA wal_autocheckpoint = 4096",
                     "begin", err, errlen);
    if (rc == 0 && fresh) {
        rc = ds_cat_tx_begin(c, err, errlen);
        if (rc == 0) {
            rc = ds_cat_meta_set(c, "options", options, err, errlen);
        }
        if (rc == 0) {
            rc = ds_cat_tx_commit(c, err, errlen);
        }
    }
    if (rc == 0) {
        rc = load_sources(c, err, errlen);
    }
    c->begun = rc == 0;
    return rc;
}

int ds_catalog_source(ds_catalog *c, int index, const char *path, ds_layout layout,
                      int64_t *id_base, int *complete, char *err, size_t errlen)
{
    const char *lname = ds_layout_name(layout);
    if (!c->begun) {
        return ck_err(err, errlen, CK_EINVAL, "%s: source %d: preparation not begun", c->path,
                      index);
    }
    if (!lname || index < 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: source %d: bad index or layout", c->path, index);
    }
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c, "SELECT path, layout, id_base, complete FROM sources WHERE idx = ?",
                            &st, "read sources", err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_bind_int(st, 1, index);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *opath = (const char *)sqlite3_column_text(st, 0);
        const char *olayout = (const char *)sqlite3_column_text(st, 1);
        if (strcmp(opath ? opath : "", path) != 0 || strcmp(olayout ? olayout : "", lname) != 0) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: source %d was %s (%s) when preparation began, not %s (%s)", c->path,
                        index, opath ? opath : "", olayout ? olayout : "", path, lname);
        }
        *id_base = sqlite3_column_int64(st, 2);
        *complete = sqlite3_column_int(st, 3);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        return ds_cat_err(c, err, errlen, "read source %d", index);
    }
    int64_t base = 0;
    if (index > 0) {
        const ds_cat_source *prev = find_source(c, index - 1);
        if (!prev || !prev->complete) {
            return ck_err(err, errlen, CK_EINVAL,
                          "%s: source %d: registered before source %d ended", c->path, index,
                          index - 1);
        }
        base = prev->id_base + prev->entries;
    }
    rc = ds_cat_tx_begin(c, err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "INSERT INTO sources(idx, path, layout, id_base, complete)"
                            " VALUES (?, ?, ?, ?, 0)",
                            &st, "register source", err, errlen);
    }
    if (rc == 0) {
        sqlite3_bind_int(st, 1, index);
        sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, lname, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, base);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = ds_cat_err(c, err, errlen, "register source %d", index);
        }
        sqlite3_finalize(st);
    }
    if (rc == 0) {
        rc = ds_cat_tx_commit(c, err, errlen);
    }
    if (rc == 0) {
        rc = load_sources(c, err, errlen);
    }
    *id_base = base;
    *complete = 0;
    return rc;
}

int ds_catalog_has(ds_catalog *c, int64_t id)
{
    if (cached(c, "SELECT 1 FROM samples WHERE id = ?", &c->st_has, "has", NULL, 0)) {
        return CK_EDB;
    }
    sqlite3_bind_int64(c->st_has, 1, id);
    int step = sqlite3_step(c->st_has);
    sqlite3_reset(c->st_has);
    return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : CK_EDB;
}

/* The last run of digits in the base name ("train/cat.1234.jpg" -> 1234);
 * returns 0 when there is none (or it does not fit). */
static int name_number(const char *name, int64_t *out)
{
    const char *base = name;
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == ':') {
            base = p + 1;
        }
    }
    const char *end = NULL;
    for (const char *p = base; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            end = p;
        }
    }
    if (!end) {
        return 0;
    }
    const char *start = end;
    while (start > base && start[-1] >= '0' && start[-1] <= '9') {
        start--;
    }
    if (end - start >= 18) {
        return 0;
    }
    int64_t v = 0;
    for (const char *p = start; p <= end; p++) {
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 1;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s) {
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int v, int known)
{
    if (known) {
        sqlite3_bind_int(st, i, v);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static int put_blob(ds_catalog *c, int64_t id, const ds_entry *e, const ds_sample *s, char *err,
                    size_t errlen)
{
    int rc;
    if (!s->ok) {
        rc = cached(c, "DELETE FROM blobs WHERE id = ?", &c->st_blob_del, "delete image", err,
                    errlen);
        if (rc == 0) {
            sqlite3_bind_int64(c->st_blob_del, 1, id);
            if (sqlite3_step(c->st_blob_del) != SQLITE_DONE) {
                rc = ds_cat_err(c, err, errlen, "delete image %lld", (long long)id);
            }
            sqlite3_reset(c->st_blob_del);
        }
        return rc;
    }
    rc = cached(c,
                "INSERT OR REPLACE INTO blobs(id, kind, width, height, bands, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                &c->st_blob_put, "insert image", err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_stmt *st = c->st_blob_put;
    int raw = e->kind == DS_ENTRY_RAW && strcmp(s->format, "raw") == 0;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, raw ? DS_ENTRY_RAW : DS_ENTRY_ENCODED);
    sqlite3_bind_int(st, 3, s->width);
    sqlite3_bind_int(st, 4, s->height);
    sqlite3_bind_int(st, 5, s->bands);
    sqlite3_bind_blob64(st, 6, s->data ? (const void *)s->data : "", s->size, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "insert image %lld", (long long)id);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int ds_catalog_put(ds_catalog *c, int64_t id, int source_index, const ds_entry *e,
                   const ds_sample *s, char *err, size_t errlen)
{
    const ds_cat_source *src = c->begun ? find_source(c, source_index) : NULL;
    if (!src || src->complete || id < src->id_base) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: insert sample %lld: source %d is not being read (%s)", c->path,
                      (long long)id, source_index,
                      !c->begun       ? "preparation not begun"
                      : !src          ? "not registered"
                      : src->complete ? "already complete"
                                      : "id below its base");
    }
    int rc = ds_cat_tx_begin(c, err, errlen);
    /* Replacing is deleting, then inserting: INSERT OR REPLACE into a table
     * with an index needs a statement journal, which SQLite moves to a
     * temporary file once the cache spills (see catalog_finish.c). */
    if (rc == 0) {
        rc = cached(c, "DELETE FROM samples WHERE id = ?", &c->st_del, "replace sample", err,
                    errlen);
    }
    if (rc == 0) {
        sqlite3_bind_int64(c->st_del, 1, id);
        if (sqlite3_step(c->st_del) != SQLITE_DONE) {
            rc = ds_cat_err(c, err, errlen, "replace sample %lld", (long long)id);
        }
        sqlite3_reset(c->st_del);
    }
    if (rc == 0) {
        rc = cached(c,
                    "INSERT INTO samples(id, source_idx, name, class_name,"
                    " src_split, number, status, reason, format, width, height, bands,"
                    " orig_width, orig_height, bytes, content_hash, phash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    &c->st_put, "insert sample", err, errlen);
    }
    if (rc) {
        return rc;
    }
    sqlite3_stmt *st = c->st_put;
    int64_t number = 0;
    int known = s->ok || s->width > 0;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, source_index);
    sqlite3_bind_text(st, 3, e->name ? e->name : "", -1, SQLITE_STATIC);
    bind_text_or_null(st, 4, e->label);
    bind_text_or_null(st, 5, e->split);
    if (e->name && name_number(e->name, &number)) {
        sqlite3_bind_int64(st, 6, number);
    }
    sqlite3_bind_text(st, 7, s->ok ? "ok" : "rejected", -1, SQLITE_STATIC);
    if (!s->ok) {
        sqlite3_bind_text(st, 8, s->reason[0] ? s->reason : "rejected", -1, SQLITE_STATIC);
    }
    bind_text_or_null(st, 9, s->format);
    bind_int_or_null(st, 10, s->width, known);
    bind_int_or_null(st, 11, s->height, known);
    bind_int_or_null(st, 12, s->bands, known);
    bind_int_or_null(st, 13, s->orig_width, known);
    bind_int_or_null(st, 14, s->orig_height, known);
    sqlite3_bind_int64(st, 15, s->ok ? (int64_t)s->size : 0);
    sqlite3_bind_blob(st, 16, s->content_hash, 16, SQLITE_STATIC);
    if (s->ok) {
        sqlite3_bind_int64(st, 17, (int64_t)s->phash);
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "insert sample %lld", (long long)id);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == 0) {
        rc = put_blob(c, id, e, s, err, errlen);
    }
    if (rc) {
        return rc;
    }
    c->tx_rows++;
    c->tx_bytes += s->ok ? s->size : 0;
    if (c->tx_rows >= TX_ROWS || c->tx_bytes >= TX_BYTES || ck_now() - c->tx_start >= TX_SECONDS) {
        rc = ds_cat_tx_commit(c, err, errlen);
    }
    return rc;
}

int ds_catalog_source_done(ds_catalog *c, int index, int64_t entries, const char *hash, char *err,
                           size_t errlen)
{
    ds_cat_source *src = c->begun ? find_source(c, index) : NULL;
    if (!src) {
        return ck_err(err, errlen, CK_EINVAL, "%s: source %d: not registered", c->path, index);
    }
    if (src->complete) {
        char *old = NULL;
        sqlite3_stmt *st = NULL;
        int rc = ds_cat_prepare(c, "SELECT hash FROM sources WHERE idx = ?", &st, "read source",
                                err, errlen);
        if (rc) {
            return rc;
        }
        sqlite3_bind_int(st, 1, index);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
            old = strdup((const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        if (!old || strcmp(old, hash) != 0 || src->entries != entries) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: source %d changed since it was read (%lld entries, hash %s; now "
                        "%lld, %s)",
                        c->path, index, (long long)src->entries, old ? old : "?",
                        (long long)entries, hash);
        }
        free(old);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    int rc =
        ds_cat_prepare(c, "SELECT count(*), min(id), max(id) FROM samples WHERE source_idx = ?",
                       &st, "count samples", err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_bind_int(st, 1, index);
    int64_t n = -1, lo = 0, hi = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        lo = sqlite3_column_int64(st, 1);
        hi = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (n < 0) {
        return ds_cat_err(c, err, errlen, "count samples of source %d", index);
    }
    if (n != entries || (n > 0 && (lo != src->id_base || hi != src->id_base + entries - 1))) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: source %d: %lld samples stored (ids %lld..%lld), %lld entries read",
                      c->path, index, (long long)n, (long long)lo, (long long)hi,
                      (long long)entries);
    }
    rc = ds_cat_tx_begin(c, err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c,
                            "UPDATE sources SET entries = ?, hash = ?, complete = 1 WHERE idx = ?",
                            &st, "complete source", err, errlen);
    }
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, entries);
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, index);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = ds_cat_err(c, err, errlen, "complete source %d", index);
        }
        sqlite3_finalize(st);
    }
    if (rc == 0) {
        rc = ds_cat_tx_commit(c, err, errlen);
    }
    if (rc == 0) {
        src->entries = entries;
        src->complete = 1;
    }
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

int ds_catalog_classes(ds_catalog *c, const char *const **names, int *count, char *err,
                       size_t errlen)
{
    if (!c->classes) {
        sqlite3_stmt *st = NULL;
        int rc = ds_cat_prepare(c, "SELECT name FROM classes ORDER BY label", &st, "read classes",
                                err, errlen);
        if (rc) {
            return rc;
        }
        int step, n = 0;
        char **v = NULL;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            char **grown = realloc(v, (size_t)(n + 1) * sizeof *v);
            char *name = strdup((const char *)sqlite3_column_text(st, 0));
            if (!grown || !name) {
                free(name);
                c->classes = grown ? grown : v;
                c->nclasses = n;
                ds_cat_classes_reset(c);
                sqlite3_finalize(st);
                return ck_err(err, errlen, CK_ENOMEM, "%s: read classes: out of memory", c->path);
            }
            v = grown;
            v[n++] = name;
        }
        sqlite3_finalize(st);
        if (step != SQLITE_DONE) {
            c->classes = v;
            c->nclasses = n;
            ds_cat_classes_reset(c);
            return ds_cat_err(c, err, errlen, "read classes");
        }
        /* An empty list is still a loaded one. */
        c->classes = v ? v : calloc(1, sizeof *v);
        c->nclasses = n;
        if (!c->classes) {
            return ck_err(err, errlen, CK_ENOMEM, "%s: read classes: out of memory", c->path);
        }
    }
    *names = (const char *const *)c->classes;
    *count = c->nclasses;
    return 0;
}

int ds_catalog_split(ds_catalog *c, const char *split, int64_t **ids, int32_t **labels,
                     size_t *count, char *err, size_t errlen)
{
    *ids = NULL;
    *labels = NULL;
    *count = 0;
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c,
                            "SELECT id, label FROM samples WHERE split = ? AND status = 'ok'"
                            " ORDER BY id",
                            &st, "read split", err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_bind_text(st, 1, split, -1, SQLITE_STATIC);
    size_t n = 0, cap = 0;
    int64_t *vi = NULL;
    int32_t *vl = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *gi = realloc(vi, cap * sizeof *gi);
            if (gi) {
                vi = gi;
            }
            int32_t *gl = realloc(vl, cap * sizeof *gl);
            if (gl) {
                vl = gl;
            }
            if (!gi || !gl) {
                rc = ck_err(err, errlen, CK_ENOMEM, "%s: read split %s: out of memory", c->path,
                            split);
                break;
            }
        }
        vi[n] = sqlite3_column_int64(st, 0);
        vl[n] = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1);
        n++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "read split %s", split);
    }
    sqlite3_finalize(st);
    if (rc) {
        free(vi);
        free(vl);
        return rc;
    }
    *ids = vi;
    *labels = vl;
    *count = n;
    return 0;
}

int ds_catalog_blob(ds_catalog *c, int64_t id, ds_blob *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = cached(c,
                    "SELECT b.kind, b.width, b.height, b.bands, b.data, s.name"
                    " FROM blobs b JOIN samples s ON s.id = b.id WHERE b.id = ?",
                    &c->st_blob_get, "read image", err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_stmt *st = c->st_blob_get;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        sqlite3_reset(st);
        return ck_err(err, errlen, CK_EINVAL, "%s: sample %lld: no stored image", c->path,
                      (long long)id);
    }
    if (step != SQLITE_ROW) {
        rc = ds_cat_err(c, err, errlen, "read image %lld", (long long)id);
        sqlite3_reset(st);
        return rc;
    }
    /* The row stays current, and its pointers valid, until the next call
     * resets the statement. */
    out->kind = sqlite3_column_int(st, 0);
    out->width = sqlite3_column_int(st, 1);
    out->height = sqlite3_column_int(st, 2);
    out->bands = sqlite3_column_int(st, 3);
    out->data = sqlite3_column_blob(st, 4);
    out->size = (size_t)sqlite3_column_bytes(st, 4);
    out->name = (const char *)sqlite3_column_text(st, 5);
    return 0;
}

const char *ds_catalog_hash(ds_catalog *c)
{
    return c->hash;
}
