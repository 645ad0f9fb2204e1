/* catalog_hash.c: the dataset hash finish records, which names what a run
 * trained on.
 *
 * XXH3-128 over the class names in label order (each with its NUL), then,
 * in id order, every sample in a split — id (int64 LE), label (int32 LE,
 * -1 unlabelled), split name with its NUL, content hash (zeros when
 * absent). Only 'ok' samples count: not rejected ones, not removed
 * leakage, not unused ones (split NULL). The rows come in rowid order, with
 * no sort, and nothing is held but the hash state.
 */
#include <string.h>
#include <xxhash.h>

#include "ds_internal.h"

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

int ds_fin_dataset_hash(ds_catalog *c, char hex[33], char *err, size_t errlen)
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
