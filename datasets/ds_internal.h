/* ds_internal.h: what the catalog's files (catalog.c, catalog_finish.c,
 * catalog_info.c) share: the connection struct and small SQLite helpers.
 * Not part of the public API. */
#ifndef DS_INTERNAL_H
#define DS_INTERNAL_H

#include <sqlite3.h>

#include "ds.h"

enum {
    DS_SCHEMA_VERSION = 1,
    DS_CACHE_KB = 16384, /* page cache of each connection (ds_catalog_finish lowers it) */
};

/* A source as registered in this catalog (cached from the sources table). */
typedef struct ds_cat_source {
    int index;
    int64_t id_base;
    int64_t entries; /* -1 until complete */
    int complete;
} ds_cat_source;

struct ds_catalog {
    sqlite3 *db;
    char *path;
    int mode;     /* DS_OPEN_READ or DS_OPEN_WRITE */
    int begun;    /* ds_catalog_begin accepted writes */
    int finished; /* meta.finished */
    /* The open write transaction, committed by size or age. */
    int in_tx;
    int64_t tx_rows;
    size_t tx_bytes;
    double tx_start;
    sqlite3_stmt *st_has, *st_del, *st_put, *st_blob_put, *st_blob_del, *st_blob_get;
    ds_cat_source *sources;
    int nsources;
    char hash[33];
    char **classes; /* cached by ds_catalog_classes */
    int nclasses;
};

/* Formats "<path>: <step>: <sqlite message>" into err and returns the
 * CK_E* code matching the connection's last error. */
int ds_cat_err(ds_catalog *c, char *err, size_t errlen, const char *fmt, ...) CK_PRINTF(4, 5);

/* Runs sql (no results wanted); step names it in errors. */
int ds_cat_exec(ds_catalog *c, const char *sql, const char *step, char *err, size_t errlen);

/* Prepares sql into *st (a new statement, the caller finalizes it); step
 * names it in errors. */
int ds_cat_prepare(ds_catalog *c, const char *sql, sqlite3_stmt **st, const char *step, char *err,
                   size_t errlen);

/* Opens the write transaction if none is open / commits the open one. */
int ds_cat_tx_begin(ds_catalog *c, char *err, size_t errlen);
int ds_cat_tx_commit(ds_catalog *c, char *err, size_t errlen);

/* meta.value for key, malloc'd, or NULL (absent: returns 0). */
int ds_cat_meta_get(ds_catalog *c, const char *key, char **value, char *err, size_t errlen);
int ds_cat_meta_set(ds_catalog *c, const char *key, const char *value, char *err, size_t errlen);

/* Drops the cached class names (after ds_catalog_finish changed them). */
void ds_cat_classes_reset(ds_catalog *c);

/* Split names in the catalog, indexed by the finish code's split numbers. */
enum { DS_SP_NONE = 0, DS_SP_TRAIN, DS_SP_VALIDATION, DS_SP_TEST, DS_SP_UNLABELED, DS_SP_COUNT };
extern const char *const ds_cat_split_names[DS_SP_COUNT];

#endif
