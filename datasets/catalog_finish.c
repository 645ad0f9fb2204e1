/* catalog_finish.c: everything the catalog derives from its rows — labels,
 * splits, duplicate groups, leakage and the dataset hash — computed in one
 * transaction after the last source.
 *
 * Determinism: the rows are read in id order and every decision is a pure
 * function of them and of the split options; randomness comes only from
 * ck_rng keyed (seed, 0, label, CK_RNG_SPLIT). A run interrupted anywhere
 * and resumed therefore finishes exactly like an uninterrupted one.
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
 * a block value are compared (sort per block), after folding identical
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
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ds_internal.h"

enum { LEAK_NONE = 0, LEAK_EXACT, LEAK_NEAR };
enum { MAX_NEAR_DISTANCE = 16 };
/* The perceptual hash of a thumbnail-sized image (MNIST-style digits,
 * Fashion-MNIST) is a coarse 8x8 view of a 28x28 picture: whole classes share
 * it, so near-copy search there reports neighbours, not copies. Such images
 * are only compared exactly. */
enum { NEAR_MIN_SIDE = 64 };

typedef struct row {
    int64_t id;
    int64_t number;                         /* -1: none */
    int64_t dup_group, near_group, leak_of; /* -1: none */
    uint64_t phash;
    int32_t label; /* -1: unlabelled */
    uint8_t hash[16];
    unsigned char ok, src, split, removed, leak_kind;
    unsigned char small; /* shorter side under NEAR_MIN_SIDE: no near search */
} row;

typedef struct rows {
    row *v;
    size_t n;
} rows;

static int split_code(const char *s, unsigned char *out)
{
    *out = DS_SP_NONE;
    if (!s) {
        return 0;
    }
    for (int i = DS_SP_TRAIN; i <= DS_SP_TEST; i++) {
        if (strcmp(s, ds_cat_split_names[i]) == 0) {
            *out = (unsigned char)i;
            return 0;
        }
    }
    return -1;
}

static int load_rows(ds_catalog *c, rows *r, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c,
                            "SELECT s.id, c.label, s.src_split, s.number, s.status,"
                            " s.content_hash, s.phash,"
                            " min(coalesce(s.orig_width, 0), coalesce(s.orig_height, 0))"
                            " FROM samples s"
                            " LEFT JOIN classes c ON c.name = s.class_name ORDER BY s.id",
                            &st, "finish: read samples", err, errlen);
    if (rc) {
        return rc;
    }
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->n == cap) {
            cap = cap ? 2 * cap : 4096;
            row *grown = realloc(r->v, cap * sizeof *grown);
            if (!grown) {
                sqlite3_finalize(st);
                return ck_err(err, errlen, CK_ENOMEM, "%s: finish: out of memory", c->path);
            }
            r->v = grown;
        }
        row *w = &r->v[r->n++];
        memset(w, 0, sizeof *w);
        w->id = sqlite3_column_int64(st, 0);
        w->label = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1);
        const char *src = (const char *)sqlite3_column_text(st, 2);
        if (split_code(src, &w->src)) {
            rc = ck_err(err, errlen, CK_EFORMAT, "%s: finish: sample %lld: unknown split '%s'",
                        c->path, (long long)w->id, src);
            break;
        }
        w->number = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
        const char *status = (const char *)sqlite3_column_text(st, 4);
        w->ok = status && strcmp(status, "rejected") != 0;
        if (sqlite3_column_bytes(st, 5) == 16) {
            memcpy(w->hash, sqlite3_column_blob(st, 5), 16);
        }
        w->phash = (uint64_t)sqlite3_column_int64(st, 6);
        w->small = sqlite3_column_int(st, 7) < NEAR_MIN_SIDE;
        w->dup_group = w->near_group = w->leak_of = -1;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: read samples");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- splits ------------------------------------------------------------ */

static unsigned char chollet_split(const row *w, int first_edition)
{
    int64_t k = w->number;
    if (k >= 0 && k < 1000) {
        return DS_SP_TRAIN;
    }
    if (k >= 1000 && k < 1500) {
        return DS_SP_VALIDATION;
    }
    if (k >= 1500 && k < (first_edition ? 2000 : 2500)) {
        return DS_SP_TEST;
    }
    return DS_SP_NONE;
}

static int64_t round_count(int64_t n, double f)
{
    return (int64_t)floor((double)n * f + 0.5);
}

/* Assigns w->split for every row. by_class holds the indices of the ok
 * labelled rows grouped by label (id order within a class), starts[l] ..
 * starts[l+1] being class l's. */
static void assign_splits(rows *r, const ds_split_opts *o, int64_t *by_class, const size_t *starts,
                          int nclasses)
{
    for (size_t i = 0; i < r->n; i++) {
        row *w = &r->v[i];
        if (!w->ok) {
            w->split = DS_SP_NONE;
        } else if (w->label < 0) {
            w->split = DS_SP_UNLABELED;
        } else if (o->mode == DS_SPLIT_SOURCE) {
            w->split = w->src ? w->src : DS_SP_TRAIN;
        } else if (o->mode == DS_SPLIT_CHOLLET || o->mode == DS_SPLIT_CHOLLET_1ST) {
            w->split = chollet_split(w, o->mode == DS_SPLIT_CHOLLET_1ST);
        }
    }
    for (int l = 0; l < nclasses; l++) {
        int64_t *cls = by_class + starts[l];
        size_t n = starts[l + 1] - starts[l];
        ck_rng rng;
        ck_rng_init(&rng, o->seed, 0, (uint64_t)l, CK_RNG_SPLIT);
        ck_rng_shuffle_i64(&rng, cls, n);
        if (o->mode == DS_SPLIT_FRACTIONS) {
            int64_t ntrain = round_count((int64_t)n, o->train);
            int64_t nval = round_count((int64_t)n, o->validation);
            ntrain = ntrain > (int64_t)n ? (int64_t)n : ntrain;
            nval = ntrain + nval > (int64_t)n ? (int64_t)n - ntrain : nval;
            for (size_t p = 0; p < n; p++) {
                r->v[cls[p]].split = (int64_t)p < ntrain          ? DS_SP_TRAIN
                                     : (int64_t)p < ntrain + nval ? DS_SP_VALIDATION
                                                                  : DS_SP_TEST;
            }
        }
        if (o->limit_per_class > 0) {
            int64_t kept[DS_SP_COUNT] = {0};
            for (size_t p = 0; p < n; p++) {
                row *w = &r->v[cls[p]];
                if (w->split != DS_SP_NONE && kept[w->split]++ >= o->limit_per_class) {
                    w->split = DS_SP_NONE;
                }
            }
        }
    }
}

/* ---- duplicates and leakage -------------------------------------------- */

typedef struct hkey {
    uint8_t hash[16];
    int64_t id;
    size_t row;
} hkey;

static int cmp_hkey(const void *a, const void *b)
{
    const hkey *x = a, *y = b;
    int d = memcmp(x->hash, y->hash, 16);
    return d ? d : (x->id > y->id) - (x->id < y->id);
}

typedef struct pkey {
    uint64_t phash;
    int64_t id;
    size_t row;
} pkey;

static int cmp_pkey(const void *a, const void *b)
{
    const pkey *x = a, *y = b;
    if (x->phash != y->phash) {
        return x->phash < y->phash ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int is_later_split(unsigned char s)
{
    return s == DS_SP_VALIDATION || s == DS_SP_TEST;
}

static int64_t min_id(int64_t a, int64_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* Exact copies: groups of equal content hash; a later-split member of a
 * group with a train member is exact leakage. */
static int exact_duplicates(rows *r, const ds_split_opts *o, char *err, size_t errlen,
                            const char *path)
{
    size_t n = 0;
    hkey *k = malloc((r->n ? r->n : 1) * sizeof *k);
    if (!k) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: finish: out of memory", path);
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].ok) {
            memcpy(k[n].hash, r->v[i].hash, 16);
            k[n].id = r->v[i].id;
            k[n].row = i;
            n++;
        }
    }
    qsort(k, n, sizeof *k, cmp_hkey);
    int remove = o->mode != DS_SPLIT_SOURCE && !o->keep_leakage;
    for (size_t a = 0, b; a < n; a = b) {
        int64_t train = -1;
        for (b = a; b < n && memcmp(k[b].hash, k[a].hash, 16) == 0; b++) {
            if (r->v[k[b].row].split == DS_SP_TRAIN) {
                train = min_id(train, k[b].id);
            }
        }
        if (b - a < 2) {
            continue;
        }
        for (size_t j = a; j < b; j++) {
            row *w = &r->v[k[j].row];
            w->dup_group = k[a].id;
            if (train >= 0 && is_later_split(w->split)) {
                w->leak_kind = LEAK_EXACT;
                w->leak_of = train;
                w->removed = (unsigned char)remove;
            }
        }
    }
    free(k);
    return 0;
}

typedef struct near_state {
    size_t nvals;
    uint64_t *val;     /* distinct perceptual hashes, sorted */
    int64_t *own;      /* smallest train id with exactly this hash */
    int64_t *near;     /* smallest train id within the distance */
    uint32_t *parent;  /* union-find over values */
    uint32_t *row_val; /* value index of each row (ok rows only) */
} near_state;

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void near_edge(near_state *s, uint32_t a, uint32_t b)
{
    uint32_t ra = uf_find(s->parent, a), rb = uf_find(s->parent, b);
    if (ra != rb) {
        s->parent[ra < rb ? rb : ra] = ra < rb ? ra : rb;
    }
    s->near[a] = min_id(s->near[a], s->own[b]);
    s->near[b] = min_id(s->near[b], s->own[a]);
}

/* All pairs of distinct values within d bits, by pigeonhole on d+1 blocks. */
static int near_pairs(near_state *s, int d)
{
    if (d <= 0 || s->nvals < 2) {
        return 0;
    }
    uint64_t *keys = malloc(s->nvals * sizeof *keys);
    if (!keys) {
        return CK_ENOMEM;
    }
    int blocks = d + 1;
    for (int b = 0; b < blocks; b++) {
        int lo = b * 64 / blocks, hi = (b + 1) * 64 / blocks;
        uint64_t mask = ((uint64_t)1 << (hi - lo)) - 1;
        for (size_t v = 0; v < s->nvals; v++) {
            keys[v] = ((s->val[v] >> lo) & mask) << 32 | (uint64_t)v;
        }
        qsort(keys, s->nvals, sizeof *keys, cmp_u64);
        for (size_t a = 0, e; a < s->nvals; a = e) {
            for (e = a + 1; e < s->nvals && keys[e] >> 32 == keys[a] >> 32; e++) {
            }
            for (size_t i = a; i < e; i++) {
                uint32_t vi = (uint32_t)keys[i];
                for (size_t j = i + 1; j < e; j++) {
                    uint32_t vj = (uint32_t)keys[j];
                    if (ds_phash_distance(s->val[vi], s->val[vj]) <= d) {
                        near_edge(s, vi, vj);
                    }
                }
            }
        }
    }
    free(keys);
    return 0;
}

static void near_free(near_state *s)
{
    free(s->val);
    free(s->own);
    free(s->near);
    free(s->parent);
    free(s->row_val);
}

typedef struct ckey {
    uint32_t comp;
    int64_t rep; /* the exact group (or the sample itself) */
    size_t row;
} ckey;

static int cmp_ckey(const void *a, const void *b)
{
    const ckey *x = a, *y = b;
    if (x->comp != y->comp) {
        return x->comp < y->comp ? -1 : 1;
    }
    return (x->rep > y->rep) - (x->rep < y->rep);
}

/* near_group for clusters holding at least two different files. */
static int near_groups(rows *r, near_state *s)
{
    size_t n = 0;
    ckey *k = malloc((r->n ? r->n : 1) * sizeof *k);
    if (!k) {
        return CK_ENOMEM;
    }
    for (size_t i = 0; i < r->n; i++) {
        const row *w = &r->v[i];
        if (w->ok && !w->small) {
            k[n].comp = uf_find(s->parent, s->row_val[i]);
            k[n].rep = w->dup_group >= 0 ? w->dup_group : w->id;
            k[n].row = i;
            n++;
        }
    }
    qsort(k, n, sizeof *k, cmp_ckey);
    for (size_t a = 0, b; a < n; a = b) {
        int distinct = 1;
        int64_t first = r->v[k[a].row].id;
        for (b = a + 1; b < n && k[b].comp == k[a].comp; b++) {
            distinct += k[b].rep != k[b - 1].rep;
            first = min_id(first, r->v[k[b].row].id);
        }
        if (distinct >= 2) {
            for (size_t j = a; j < b; j++) {
                r->v[k[j].row].near_group = first;
            }
        }
    }
    free(k);
    return 0;
}

static int near_duplicates(rows *r, const ds_split_opts *o, char *err, size_t errlen,
                           const char *path)
{
    if (o->near_distance < 0) {
        return 0;
    }
    near_state s = {0};
    size_t n = 0;
    pkey *k = malloc((r->n ? r->n : 1) * sizeof *k);
    s.val = malloc((r->n ? r->n : 1) * sizeof *s.val);
    s.own = malloc((r->n ? r->n : 1) * sizeof *s.own);
    s.near = malloc((r->n ? r->n : 1) * sizeof *s.near);
    s.parent = malloc((r->n ? r->n : 1) * sizeof *s.parent);
    s.row_val = calloc(r->n ? r->n : 1, sizeof *s.row_val);
    int rc = 0;
    if (!k || !s.val || !s.own || !s.near || !s.parent || !s.row_val) {
        rc = CK_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].ok && !r->v[i].small) {
            k[n].phash = r->v[i].phash;
            k[n].id = r->v[i].id;
            k[n].row = i;
            n++;
        }
    }
    qsort(k, n, sizeof *k, cmp_pkey);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || k[i].phash != k[i - 1].phash) {
            s.val[s.nvals] = k[i].phash;
            s.own[s.nvals] = -1;
            s.parent[s.nvals] = (uint32_t)s.nvals;
            s.nvals++;
        }
        uint32_t v = (uint32_t)(s.nvals - 1);
        s.row_val[k[i].row] = v;
        if (r->v[k[i].row].split == DS_SP_TRAIN) {
            s.own[v] = min_id(s.own[v], k[i].id);
        }
    }
    memcpy(s.near, s.own, s.nvals * sizeof *s.near);
    rc = near_pairs(&s, o->near_distance);
    if (rc == 0) {
        rc = near_groups(r, &s);
    }
    if (rc == 0) {
        for (size_t i = 0; i < r->n; i++) {
            row *w = &r->v[i];
            if (w->ok && !w->small && w->leak_kind == LEAK_NONE && is_later_split(w->split) &&
                s.near[s.row_val[i]] >= 0) {
                w->leak_kind = LEAK_NEAR;
                w->leak_of = s.near[s.row_val[i]];
            }
        }
    }
done:
    free(k);
    near_free(&s);
    return rc ? ck_err(err, errlen, rc, "%s: finish: out of memory", path) : 0;
}

/* ---- the hash and writing back ------------------------------------------ */

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static int dataset_hash(ds_catalog *c, const rows *r, char hex[33], char *err, size_t errlen)
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
    for (size_t i = 0; i < r->n; i++) {
        const row *w = &r->v[i];
        if (!w->ok || w->removed || w->split == DS_SP_NONE) {
            continue;
        }
        uint8_t buf[12];
        put_le(buf, (uint64_t)w->id, 8);
        put_le(buf + 8, (uint32_t)w->label, 4);
        const char *split = ds_cat_split_names[w->split];
        XXH3_128bits_update(st, buf, sizeof buf);
        XXH3_128bits_update(st, split, strlen(split) + 1);
        XXH3_128bits_update(st, w->hash, 16);
    }
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    for (int i = 0; i < 16; i++) {
        static const char digits[] = "0123456789abcdef";
        hex[2 * i] = digits[canon.digest[i] >> 4];
        hex[2 * i + 1] = digits[canon.digest[i] & 15];
    }
    hex[32] = '\0';
    return 0;
}

static void bind_id_or_null(sqlite3_stmt *st, int i, int64_t v)
{
    if (v >= 0) {
        sqlite3_bind_int64(st, i, v);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static int write_rows(ds_catalog *c, const rows *r, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ds_cat_prepare(c,
                            "UPDATE samples SET label = ?, split = ?, status = ?, dup_group = ?,"
                            " near_group = ?, leak_of = ?, leak_kind = ? WHERE id = ?",
                            &st, "finish: update samples", err, errlen);
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const row *w = &r->v[i];
        if (w->label >= 0) {
            sqlite3_bind_int(st, 1, w->label);
        } else {
            sqlite3_bind_null(st, 1);
        }
        if (w->split != DS_SP_NONE) {
            sqlite3_bind_text(st, 2, ds_cat_split_names[w->split], -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(st, 2);
        }
        sqlite3_bind_text(st, 3,
                          !w->ok       ? "rejected"
                          : w->removed ? "leakage"
                                       : "ok",
                          -1, SQLITE_STATIC);
        bind_id_or_null(st, 4, w->dup_group);
        bind_id_or_null(st, 5, w->near_group);
        bind_id_or_null(st, 6, w->leak_of);
        if (w->leak_kind != LEAK_NONE) {
            sqlite3_bind_text(st, 7, w->leak_kind == LEAK_EXACT ? "exact" : "near", -1,
                              SQLITE_STATIC);
        } else {
            sqlite3_bind_null(st, 7);
        }
        sqlite3_bind_int64(st, 8, w->id);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = ds_cat_err(c, err, errlen, "finish: update sample %lld", (long long)w->id);
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- the whole step ----------------------------------------------------- */

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

/* Groups the ok labelled rows by label for assign_splits. */
static int group_by_class(const rows *r, int nclasses, int64_t **by_class, size_t **starts)
{
    *starts = calloc((size_t)nclasses + 2, sizeof **starts);
    *by_class = malloc((r->n ? r->n : 1) * sizeof **by_class);
    if (!*starts || !*by_class) {
        return CK_ENOMEM;
    }
    size_t *s = *starts;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].ok && r->v[i].label >= 0) {
            s[r->v[i].label + 2]++;
        }
    }
    for (int l = 0; l < nclasses; l++) {
        s[l + 2] += s[l + 1];
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].ok && r->v[i].label >= 0) {
            (*by_class)[s[r->v[i].label + 1]++] = (int64_t)i;
        }
    }
    return 0; /* s[l] .. s[l+1] is now class l */
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
    if (rc == 0) {
        rc = ds_cat_tx_begin(c, err, errlen);
    }
    if (rc == 0) {
        rc = ds_cat_exec(c,
                         "DELETE FROM classes;"
                         "INSERT INTO classes(label, name)"
                         " SELECT row_number() OVER (ORDER BY class_name) - 1, class_name"
                         " FROM (SELECT DISTINCT class_name FROM samples"
                         " WHERE class_name IS NOT NULL)",
                         "finish: classes", err, errlen);
    }
    ds_cat_classes_reset(c);
    rows r = {0};
    int64_t *by_class = NULL;
    size_t *starts = NULL;
    const char *const *names;
    int nclasses = 0;
    char hex[33] = "";
    if (rc == 0) {
        rc = ds_catalog_classes(c, &names, &nclasses, err, errlen);
    }
    if (rc == 0) {
        rc = load_rows(c, &r, err, errlen);
    }
    if (rc == 0 && group_by_class(&r, nclasses, &by_class, &starts)) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: finish: out of memory", c->path);
    }
    if (rc == 0) {
        assign_splits(&r, o, by_class, starts, nclasses);
        rc = exact_duplicates(&r, o, err, errlen, c->path);
    }
    if (rc == 0) {
        rc = near_duplicates(&r, o, err, errlen, c->path);
    }
    if (rc == 0) {
        rc = dataset_hash(c, &r, hex, err, errlen);
    }
    if (rc == 0) {
        rc = write_rows(c, &r, err, errlen);
    }
    free(r.v);
    free(by_class);
    free(starts);
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
    if (rc == 0) {
        rc = ds_cat_tx_commit(c, err, errlen);
    }
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
