/* ds_internal.h: what the catalog's files share: the connection struct and
 * small SQLite helpers (catalog.c), and the steps of ds_catalog_finish
 * (catalog_finish.c runs catalog_split.c, catalog_exact.c, catalog_near.c
 * and catalog_hash.c, which share catalog_scratch.c). Not part of the
 * public API. */
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
    char *replaced; /* the options of a catalog ds_catalog_begin emptied */
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

/* ---- the steps of ds_catalog_finish --------------------------------------
 * Each runs inside finish's open transaction and writes the samples' derived
 * columns. Each returns 0, or a CK_E* code with err filled ("<path>: finish:
 * <step>: <reason>"), and leaves the transaction to the caller (rolled back
 * on a failure). Not thread-safe: the catalog's one writer connection. */

/* The rows the steps look at, as SQL over samples. */
#define DS_FIN_OK_ROW      "status != 'rejected'"
#define DS_FIN_LATER_SPLIT "split IN ('validation', 'test')"

enum { DS_FIN_CHUNK = 512 }; /* rows read, then written, a chunk at a time */

/* Steps through st to the end, then resets it; step names it in errors. */
int ds_fin_stmt_run(ds_catalog *c, sqlite3_stmt *st, const char *step, char *err, size_t errlen);

/* Empties, then drops, a scratch table (emptying needs no statement
 * journal, and the table dropped is one page). */
int ds_fin_scratch_drop(ds_catalog *c, const char *table, char *err, size_t errlen);

/* Inserts every row of sel into a scratch table through ins (one single-row
 * statement a row, its parameters the columns of sel); resets sel. */
int ds_fin_rows_copy(ds_catalog *c, sqlite3_stmt *sel, sqlite3_stmt *ins, const char *step,
                     char *err, size_t errlen);

/* Prepares the queries sel and ins and copies (ds_fin_rows_copy). */
int ds_fin_query_copy(ds_catalog *c, const char *sel, const char *ins, const char *step, char *err,
                      size_t errlen);

/* Labels, statuses and splits of every sample, the duplicate and leakage
 * columns emptied (catalog_split.c); the classes table is already
 * rebuilt and holds nclasses labels. CK_EFORMAT for an unknown source
 * split or a bad label. */
int ds_fin_splits(ds_catalog *c, const ds_split_opts *o, int nclasses, char *err, size_t errlen);

/* dup_group, and exact leakage marked or removed (catalog_exact.c); after
 * ds_fin_splits. */
int ds_fin_exact_dups(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen);

/* near_group and near leakage (catalog_near.c); after ds_fin_exact_dups,
 * whose leakage it leaves alone. A no-op when o->near_distance < 0. */
int ds_fin_near_dups(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen);

/* The dataset hash of the final rows as 32 hex digits and a NUL
 * (catalog_hash.c). */
int ds_fin_dataset_hash(ds_catalog *c, char hex[33], char *err, size_t errlen);

#endif
