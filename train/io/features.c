/* features.c: features.db, the output of a frozen conv base stored once,
 * and a training source over it (the book's fast feature extraction).
 *
 *   meta(key PRIMARY KEY, value)   format "convkit-features", version 1,
 *                                  shape "H,W,C", config (JSON: model,
 *                                  weights, dataset, classes...)
 *   features(split, idx, sample_id, label, x)   PRIMARY KEY (split, idx);
 *                                  x is H*W*C float32, little-endian
 *
 * The writer fills the output's .part file (ck_atomic_open_named) and renames it
 * over the output on commit, so a killed extraction leaves no half file and a
 * rerun gives the same bytes. The source reads a whole split into memory
 * (2,000 samples of 5x5x512 are 100 MB), then serves batches in a
 * per-epoch order drawn from (seed, epoch), as Keras's fit shuffles
 * arrays.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn_internal.h"

enum { FEATURES_VERSION = 1 };

struct nn_features {
    sqlite3 *db;
    sqlite3_stmt *ins;
    ck_atomic out; /* the file being written, renamed into place by commit */
    size_t size;   /* floats per sample */
};

static int db_err(sqlite3 *db, const char *path, const char *what, char *err, size_t errlen)
{
    return ck_err(err, errlen, CK_EDB, "%s: %s: %s", path, what,
                  db ? sqlite3_errmsg(db) : "out of memory");
}

void nn_features_abort(nn_features *f)
{
    if (!f) {
        return;
    }
    sqlite3_finalize(f->ins);
    sqlite3_close(f->db);
    ck_atomic_abort(&f->out);
    free(f);
}

int nn_features_create(nn_features **out, const char *path, int h, int w, int c, const char *config,
                       char *err, size_t errlen)
{
    *out = NULL;
    nn_features *f = calloc(1, sizeof *f);
    if (!f) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", path);
    }
    int rc = ck_atomic_open_named(&f->out, path, err, errlen);
    if (rc) {
        free(f);
        return rc;
    }
    f->size = (size_t)h * w * c;
    char shape[64], version[16];
    snprintf(shape, sizeof shape, "%d,%d,%d", h, w, c);
    snprintf(version, sizeof version, "%d", FEATURES_VERSION);
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(f->out.tmp, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ||
        sqlite3_exec(f->db,
                     "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;"
                     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "CREATE TABLE features(split TEXT NOT NULL, idx INTEGER NOT NULL,"
                     " sample_id INTEGER NOT NULL, label INTEGER NOT NULL, x BLOB NOT NULL,"
                     " PRIMARY KEY(split, idx));",
                     NULL, NULL, NULL) ||
        sqlite3_prepare_v2(f->db, "INSERT INTO meta VALUES (?, ?)", -1, &st, NULL)) {
        rc = db_err(f->db, f->out.tmp, "create", err, errlen);
    }
    const char *meta[4][2] = {{"format", "convkit-features"},
                              {"version", version},
                              {"shape", shape},
                              {"config", config ? config : "{}"}};
    for (int i = 0; i < 4 && rc == 0; i++) {
        sqlite3_bind_text(st, 1, meta[i][0], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, meta[i][1], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_err(f->db, f->out.tmp, "meta", err, errlen);
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_prepare_v2(f->db, "INSERT INTO features VALUES (?, ?, ?, ?, ?)", -1,
                                      &f->ins, NULL)) {
        rc = db_err(f->db, f->out.tmp, "create", err, errlen);
    }
    if (rc) {
        nn_features_abort(f);
        return rc;
    }
    *out = f;
    return 0;
}

int nn_features_add(nn_features *f, const char *split, int64_t idx, int64_t sample_id,
                    int32_t label, const float *x, char *err, size_t errlen)
{
    sqlite3_bind_text(f->ins, 1, split, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f->ins, 2, idx);
    sqlite3_bind_int64(f->ins, 3, sample_id);
    sqlite3_bind_int(f->ins, 4, label);
    sqlite3_bind_blob(f->ins, 5, x, (int)(f->size * sizeof *x), SQLITE_STATIC);
    int rc =
        sqlite3_step(f->ins) == SQLITE_DONE ? 0 : db_err(f->db, f->out.tmp, split, err, errlen);
    sqlite3_reset(f->ins);
    return rc;
}

int nn_features_commit(nn_features *f, char *err, size_t errlen)
{
    int rc = 0;
    sqlite3_finalize(f->ins);
    f->ins = NULL;
    if (sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL)) {
        rc = db_err(f->db, f->out.tmp, "commit", err, errlen);
    }
    if (sqlite3_close(f->db) != SQLITE_OK && rc == 0) {
        rc = ck_err(err, errlen, CK_EDB, "%s: close failed", f->out.tmp);
    }
    f->db = NULL;
    if (rc == 0) {
        rc = ck_atomic_commit(&f->out, err, errlen);
    }
    nn_features_abort(f); /* frees; the temporary file is gone either way */
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

struct nn_features_src {
    nn_source source;
    int h, w, c, batch, shuffle;
    uint64_t seed;
    char *config;
    int64_t n, next;
    float *x;        /* (n, size) */
    int32_t *labels; /* (n) */
    int64_t *order;  /* this epoch's */
    float *bx;       /* (batch, size) */
    int32_t *blabels;
};

static int src_begin(void *ctx, int epoch, char *err, size_t errlen)
{
    nn_features_src *s = ctx;
    (void)err;
    (void)errlen;
    for (int64_t i = 0; i < s->n; i++) {
        s->order[i] = i;
    }
    if (s->shuffle) {
        ck_rng r;
        ck_rng_init(&r, s->seed, (uint64_t)epoch, 0, CK_RNG_SHUFFLE);
        ck_rng_shuffle_i64(&r, s->order, (size_t)s->n);
    }
    s->next = 0;
    return 0;
}

static int src_next(void *ctx, nn_batch *b, char *err, size_t errlen)
{
    nn_features_src *s = ctx;
    (void)err;
    (void)errlen;
    size_t size = (size_t)s->h * s->w * s->c;
    int n = 0;
    for (; n < s->batch && s->next < s->n; n++, s->next++) {
        int64_t i = s->order[s->next];
        memcpy(s->bx + (size_t)n * size, s->x + (size_t)i * size, size * sizeof(float));
        s->blabels[n] = s->labels[i];
    }
    *b = (nn_batch){.x = s->bx, .labels = s->blabels, .n = n};
    return 0;
}

void nn_features_close(nn_features_src *s)
{
    if (!s) {
        return;
    }
    free(s->config);
    free(s->x);
    free(s->labels);
    free(s->order);
    free(s->bx);
    free(s->blabels);
    free(s);
}

/* meta's value for key, malloc'd, or NULL. */
static char *meta_get(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
            v = strdup((const char *)sqlite3_column_text(st, 0));
        }
    }
    sqlite3_finalize(st);
    return v;
}

static int read_meta(nn_features_src *s, sqlite3 *db, const char *path, char *err, size_t errlen)
{
    char *format = meta_get(db, "format"), *version = meta_get(db, "version");
    char *shape = meta_get(db, "shape");
    int rc = 0;
    if (!format || strcmp(format, "convkit-features") != 0) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: not a features.db (convkit extract-features)",
                    path);
    } else if (!version || atoi(version) != FEATURES_VERSION) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: features.db version %s (this convkit reads %d)",
                    path, version ? version : "?", FEATURES_VERSION);
    } else if (!shape || sscanf(shape, "%d,%d,%d", &s->h, &s->w, &s->c) != 3 || s->h < 1 ||
               s->w < 1 || s->c < 1) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: bad shape '%s'", path, shape ? shape : "");
    } else if (!(s->config = meta_get(db, "config"))) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: no config", path);
    }
    free(format);
    free(version);
    free(shape);
    return rc;
}

/* Reads the split's rows in idx order into s. */
static int read_rows(nn_features_src *s, sqlite3 *db, const char *path, const char *split,
                     char *err, size_t errlen)
{
    size_t size = (size_t)s->h * s->w * s->c;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM features WHERE split = ?", -1, &st, NULL)) {
        return db_err(db, path, "read", err, errlen);
    }
    sqlite3_bind_text(st, 1, split, -1, SQLITE_STATIC);
    s->n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (s->n == 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: no features for split '%s'", path, split);
    }
    s->x = malloc((size_t)s->n * size * sizeof *s->x);
    s->labels = malloc((size_t)s->n * sizeof *s->labels);
    s->order = malloc((size_t)s->n * sizeof *s->order);
    s->bx = malloc((size_t)s->batch * size * sizeof *s->bx);
    s->blabels = malloc((size_t)s->batch * sizeof *s->blabels);
    if (!s->x || !s->labels || !s->order || !s->bx || !s->blabels) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: %s: out of memory (%lld samples)", path, split,
                      (long long)s->n);
    }
    if (sqlite3_prepare_v2(db, "SELECT label, x FROM features WHERE split = ? ORDER BY idx", -1,
                           &st, NULL)) {
        return db_err(db, path, "read", err, errlen);
    }
    sqlite3_bind_text(st, 1, split, -1, SQLITE_STATIC);
    int64_t i = 0;
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW && i < s->n) {
        if ((size_t)sqlite3_column_bytes(st, 1) != size * sizeof(float)) {
            rc = ck_err(err, errlen, CK_EFORMAT, "%s: %s row %lld: %d bytes, the shape needs %zu",
                        path, split, (long long)i, sqlite3_column_bytes(st, 1),
                        size * sizeof(float));
            break;
        }
        s->labels[i] = sqlite3_column_int(st, 0);
        memcpy(s->x + (size_t)i * size, sqlite3_column_blob(st, 1), size * sizeof(float));
        i++;
    }
    if (rc == 0 && i != s->n) {
        rc = db_err(db, path, "read", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

int nn_features_open(nn_features_src **out, const char *path, const char *split, int batch,
                     int shuffle, uint64_t seed, char *err, size_t errlen)
{
    *out = NULL;
    if (batch < 1) {
        return ck_err(err, errlen, CK_EINVAL, "%s: batch %d < 1", path, batch);
    }
    if (access(path, R_OK) != 0) {
        char buf[128];
        return ck_err(err, errlen, CK_EIO, "%s: %s", path, ck_errno_text(errno, buf, sizeof buf));
    }
    nn_features_src *s = calloc(1, sizeof *s);
    if (!s) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", path);
    }
    s->batch = batch;
    s->shuffle = shuffle;
    s->seed = seed;
    sqlite3 *db = NULL;
    int rc = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = db_err(db, path, "open", err, errlen);
    } else {
        sqlite3_busy_timeout(db, 10000);
        /* A file that is not SQLite, or not ours, fails its first query. */
        char *probe = NULL;
        if (sqlite3_exec(db, "SELECT 1 FROM meta LIMIT 1", NULL, NULL, &probe) != SQLITE_OK) {
            rc = ck_err(err, errlen, CK_EFORMAT,
                        "%s: not a features.db (convkit extract-features): %s", path,
                        probe ? probe : "?");
        }
        sqlite3_free(probe);
    }
    if (rc == 0) {
        rc = read_meta(s, db, path, err, errlen);
    }
    if (rc == 0) {
        rc = read_rows(s, db, path, split, err, errlen);
    }
    sqlite3_close(db);
    if (rc) {
        nn_features_close(s);
        return rc;
    }
    s->source = (nn_source){.ctx = s, .size = s->n, .begin = src_begin, .next = src_next};
    *out = s;
    return 0;
}

const nn_source *nn_features_source(nn_features_src *s)
{
    return &s->source;
}

void nn_features_shape(const nn_features_src *s, int *h, int *w, int *c)
{
    *h = s->h;
    *w = s->w;
    *c = s->c;
}

const char *nn_features_config(const nn_features_src *s)
{
    return s->config;
}
