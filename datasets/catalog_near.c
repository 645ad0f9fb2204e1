/* catalog_near.c: near copies and near leakage.
 *
 * Near copies, among 'ok' samples at least NEAR_MIN_SIDE pixels on their
 * shorter side, have perceptual hashes within near_distance bits, grouped
 * transitively (near_group = smallest id of the cluster, set when the
 * cluster holds at least two different files: an exact group, or a sample
 * on its own). Near pairs are found by pigeonhole: split the 64 bits into
 * d+1 blocks; two hashes within d bits agree on at least one block, so only
 * hashes sharing a block value are compared (grouped by block value), after
 * folding identical hashes together. That is near-linear for real hashes.
 *
 * Near leakage: a validation or test sample, not already exact leakage
 * (catalog_exact.c runs first), whose hash or a neighbour's is carried by a
 * train sample. It is only reported (leak_kind 'near', leak_of the smallest
 * such train id), whatever the split mode (policy: catalog_exact.c).
 *
 * Orders come from scratch tables: finish_near, by hash, holds the
 * union-find over perceptual hashes; finish_block is keyed (block, block
 * value, hash) for the pairs; finish_member (cluster, file, id) for the
 * groups. What C holds: the hashes sharing one block value (a few hundred
 * among 37,500 photos).
 */
#include <stdint.h>
#include <stdlib.h>

#include "ds_internal.h"

/* The perceptual hash of a thumbnail-sized image (MNIST-style digits,
 * Fashion-MNIST) is a coarse 8x8 view of a 28x28 picture: whole classes share
 * it, so near-copy search there reports neighbours, not copies. Such images
 * are only compared exactly. */
#define NEAR_MIN_SIDE "64"

/* The rows near search looks at. */
#define NEAR_ROW                                                                                   \
    DS_FIN_OK_ROW " AND min(coalesce(orig_width, 0), coalesce(orig_height, 0)) >= " NEAR_MIN_SIDE

enum { CHUNK_COLS = 2 };

/* Rows of sel (?1: the last id done, ?2: DS_FIN_CHUNK; CHUNK_COLS integer
 * columns, the first the id; NULL reads -1) into rows. Returns the count,
 * or a negative code. */
static int read_chunk(ds_catalog *c, sqlite3_stmt *sel, int64_t after,
                      int64_t rows[DS_FIN_CHUNK][CHUNK_COLS], const char *step, char *err,
                      size_t errlen)
{
    int n = 0, s = SQLITE_DONE;
    sqlite3_bind_int64(sel, 1, after);
    sqlite3_bind_int(sel, 2, DS_FIN_CHUNK);
    while (n < DS_FIN_CHUNK && (s = sqlite3_step(sel)) == SQLITE_ROW) {
        for (int i = 0; i < CHUNK_COLS; i++) {
            rows[n][i] =
                sqlite3_column_type(sel, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(sel, i);
        }
        n++;
    }
    int rc =
        n == DS_FIN_CHUNK || s == SQLITE_DONE ? n : ds_cat_err(c, err, errlen, "finish: %s", step);
    sqlite3_reset(sel);
    return rc;
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
    return ds_fin_stmt_run(n->c, n->set_parent, "near groups", n->err, n->errlen);
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
    return ds_fin_stmt_run(n->c, n->set_near, "near copies", n->err, n->errlen);
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
        rc = ds_fin_rows_copy(n->c, sel, ins, "near copies", n->err, n->errlen);
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
    return rc ? rc : ds_fin_scratch_drop(n->c, "finish_block", n->err, n->errlen);
}

/* Points every hash of finish_near at its root, a chunk of hashes at a
 * time (the chunk is read, then written). */
static int near_roots(near_ctx *n)
{
    uint64_t chunk[DS_FIN_CHUNK];
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(n->c,
                            "SELECT phash FROM finish_near WHERE phash >= ? AND parent IS NOT NULL"
                            " ORDER BY phash LIMIT ?",
                            &st, "finish: near groups", n->err, n->errlen);
    int64_t from = INT64_MIN;
    size_t got = DS_FIN_CHUNK;
    while (rc == 0 && got == DS_FIN_CHUNK) {
        int step = SQLITE_DONE;
        got = 0;
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int(st, 2, DS_FIN_CHUNK);
        while (got < DS_FIN_CHUNK && (step = sqlite3_step(st)) == SQLITE_ROW) {
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
        if (got == DS_FIN_CHUNK && (int64_t)chunk[DS_FIN_CHUNK - 1] == INT64_MAX) {
            break;
        }
        if (got == DS_FIN_CHUNK) {
            from = (int64_t)chunk[DS_FIN_CHUNK - 1] + 1;
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
        rc = ds_fin_stmt_run(c, set, "near groups", err, errlen);
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
        rc = ds_fin_query_copy(c,
                               "SELECT coalesce((SELECT parent FROM finish_near n"
                               " WHERE n.phash = coalesce(s.phash, 0)), coalesce(s.phash, 0)),"
                               " coalesce(s.dup_group, s.id), s.id FROM samples s NOT INDEXED"
                               " WHERE s." NEAR_ROW,
                               "INSERT INTO finish_member VALUES (?, ?, ?)", "near groups", err,
                               errlen);
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
    return rc ? rc : ds_fin_scratch_drop(c, "finish_member", err, errlen);
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
        " WHERE s.id > ?1 AND s.leak_kind IS NULL AND s." DS_FIN_LATER_SPLIT " AND s." NEAR_ROW
        " AND of IS NOT NULL ORDER BY s.id LIMIT ?2",
        &sel, "finish: near copies", err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c, "UPDATE samples SET leak_kind = 'near', leak_of = ? WHERE id = ?",
                            &set, "finish: near copies", err, errlen);
    }
    int64_t after = -1;
    for (int n = DS_FIN_CHUNK; rc == 0 && n == DS_FIN_CHUNK;) {
        int64_t rows[DS_FIN_CHUNK][CHUNK_COLS] = {{0}};
        n = read_chunk(c, sel, after, rows, "near copies", err, errlen);
        rc = n < 0 ? n : 0;
        for (int i = 0; rc == 0 && i < n; i++) {
            sqlite3_bind_int64(set, 1, rows[i][1]);
            sqlite3_bind_int64(set, 2, rows[i][0]);
            rc = ds_fin_stmt_run(c, set, "near copies", err, errlen);
        }
        after = n > 0 ? rows[n - 1][0] : after;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(set);
    return rc;
}

int ds_fin_near_dups(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen)
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
        rc = ds_fin_query_copy(c,
                               "SELECT coalesce(phash, 0), id FROM samples NOT INDEXED"
                               " WHERE " NEAR_ROW " AND split = 'train' ORDER BY id",
                               "INSERT OR IGNORE INTO finish_near(phash, own) VALUES (?, ?)",
                               "near copies", err, errlen);
    }
    if (rc == 0) {
        rc = ds_fin_query_copy(
            c, "SELECT coalesce(phash, 0) FROM samples NOT INDEXED WHERE " NEAR_ROW,
            "INSERT OR IGNORE INTO finish_near(phash) VALUES (?)", "near copies", err, errlen);
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
    return rc ? rc : ds_fin_scratch_drop(c, "finish_near", err, errlen);
}
