/* source.c: ds_source, the public face of the readers.
 *
 * Opening decides the kind (tree, IDX, HODA) from what is on disk, not
 * from trust in the name alone: a directory is a tree; a file is IDX when
 * its magic number (raw or inside gzip) says so, HODA when it ends in .cdb,
 * else an archive when libarchive recognizes zip or tar (gzip'd or not).
 * Trees then detect their layout from their names (source_layout.c).
 *
 * The source counts ordinals and owns the hash state; the readers feed it
 * as they read, so the hash is ready when the last entry has been read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "im.h"
#include "source_internal.h"

enum { KIND_TREE = 1, KIND_IDX, KIND_HODA };

struct ds_source {
    int kind;
    ds_layout layout;
    int64_t ordinal;
    int done; /* the end was reached; hex holds the hash */
    XXH3_state_t *xx;
    char hex[33];
    src_tree *tree;
    src_idx *idx;
    src_hoda *hoda;
};

static const char *const layout_names[] = {
    [DS_LAYOUT_AUTO] = "auto",       [DS_LAYOUT_KAGGLE] = "kaggle",
    [DS_LAYOUT_FASTAI] = "fastai",   [DS_LAYOUT_PETIMAGES] = "petimages",
    [DS_LAYOUT_FOLDERS] = "folders", [DS_LAYOUT_IDX] = "idx",
    [DS_LAYOUT_HODA] = "hoda",
};

const char *ds_layout_name(ds_layout l)
{
    if ((int)l < 0 || (size_t)l >= sizeof layout_names / sizeof layout_names[0]) {
        return NULL;
    }
    return layout_names[l];
}

int ds_layout_parse(const char *name, ds_layout *out)
{
    for (size_t i = 0; name && i < sizeof layout_names / sizeof layout_names[0]; i++) {
        if (strcmp(name, layout_names[i]) == 0) {
            *out = (ds_layout)i;
            return 0;
        }
    }
    return CK_EINVAL;
}

ds_limits ds_limits_default(void)
{
    ds_limits l = {
        .max_pixels = IM_MAX_PIXELS,
        .max_entry_bytes = UINT64_C(256) << 20,
        .max_nesting = 2,
        .max_total_bytes = UINT64_C(2) << 30,
        .max_entries = 1000000,
    };
    return l;
}

static int ends_with_cdb(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && src_word_eq(path + n - 4, 4, ".cdb");
}

/* Picks the kind for a regular file. */
static int file_kind(const char *path, ds_layout *layout, char *err, size_t errlen)
{
    ds_layout want = *layout;
    int tree_layout = want != DS_LAYOUT_AUTO && want != DS_LAYOUT_IDX && want != DS_LAYOUT_HODA;
    if (want == DS_LAYOUT_HODA) {
        return KIND_HODA;
    }
    if (want == DS_LAYOUT_AUTO || want == DS_LAYOUT_IDX) {
        char gzwhy[160];
        int idx = src_idx_probe(path, gzwhy, sizeof gzwhy);
        if (idx == SRC_IDX_BAD_GZIP) {
            return ck_err(err, errlen, CK_EFORMAT, "%s: open: %s", path, gzwhy);
        }
        if (idx < 0) {
            char msg[128];
            return ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                          ck_errno_text(-idx, msg, sizeof msg));
        }
        if (idx == 3) {
            *layout = DS_LAYOUT_IDX;
            return KIND_IDX;
        }
        if (idx == 1) {
            return ck_err(err, errlen, CK_EFORMAT,
                          "%s: open: an IDX labels file; give the images file", path);
        }
        if (want == DS_LAYOUT_IDX) {
            return ck_err(err, errlen, CK_EFORMAT, "%s: open: not an IDX images file", path);
        }
        if (ends_with_cdb(path)) {
            *layout = DS_LAYOUT_HODA;
            return KIND_HODA;
        }
    }
    char why[200];
    if (src_is_archive(path, why, sizeof why)) {
        return KIND_TREE;
    }
    if (tree_layout) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: open: not a zip or tar archive: %s", path, why);
    }
    return ck_err(err, errlen, CK_EFORMAT,
                  "%s: open: not a dataset we know (a directory, zip, tar, tar.gz, IDX or "
                  "HODA .cdb): %s",
                  path, why);
}

int ds_source_open(ds_source **out, const char *path, ds_layout layout, const ds_limits *limits,
                   char *err, size_t errlen)
{
    *out = NULL;
    ds_limits lim = limits ? *limits : ds_limits_default();
    if (!ds_layout_name(layout) || lim.max_nesting < 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: open: bad layout or limits", path);
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        char msg[128];
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                      ck_errno_text(errno, msg, sizeof msg));
    }
    int kind;
    if (S_ISDIR(st.st_mode)) {
        if (layout == DS_LAYOUT_IDX || layout == DS_LAYOUT_HODA) {
            return ck_err(err, errlen, CK_EFORMAT, "%s: open: a directory, not an %s file", path,
                          layout == DS_LAYOUT_IDX ? "IDX" : "HODA");
        }
        kind = KIND_TREE;
    } else if (S_ISREG(st.st_mode)) {
        if ((kind = file_kind(path, &layout, err, errlen)) < 0) {
            return kind;
        }
    } else {
        return ck_err(err, errlen, CK_EFORMAT, "%s: open: not a file or a directory", path);
    }
    ds_source *s = calloc(1, sizeof *s);
    if (!s || !(s->xx = XXH3_createState())) {
        free(s);
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
    }
    XXH3_128bits_reset(s->xx);
    s->kind = kind;
    int rc;
    switch (kind) {
    case KIND_IDX: rc = src_idx_open(&s->idx, path, &lim, err, errlen); break;
    case KIND_HODA:
        layout = DS_LAYOUT_HODA;
        rc = src_hoda_open(&s->hoda, path, &lim, s->xx, err, errlen);
        break;
    default:
        rc = src_tree_open(&s->tree, path, S_ISDIR(st.st_mode), &layout, &lim, s->xx, err, errlen);
        break;
    }
    if (rc) {
        ds_source_close(s);
        return rc;
    }
    s->layout = layout;
    *out = s;
    return 0;
}

void ds_source_close(ds_source *s)
{
    if (!s) {
        return;
    }
    src_tree_close(s->tree);
    src_idx_close(s->idx);
    src_hoda_close(s->hoda);
    XXH3_freeState(s->xx);
    free(s);
}

ds_layout ds_source_layout(const ds_source *s)
{
    return s->layout;
}

int ds_source_next(ds_source *s, ds_entry **out, char *err, size_t errlen)
{
    *out = NULL;
    if (s->done) {
        return 0;
    }
    int rc;
    switch (s->kind) {
    case KIND_IDX: rc = src_idx_next(s->idx, out, err, errlen); break;
    case KIND_HODA: rc = src_hoda_next(s->hoda, out, err, errlen); break;
    default: rc = src_tree_next(s->tree, out, err, errlen); break;
    }
    if (rc == 1) {
        (*out)->ordinal = s->ordinal++;
    } else if (rc == 0) {
        if (s->kind == KIND_IDX) {
            src_idx_digest(s->idx, s->xx);
        }
        src_hash_hex(s->xx, s->hex);
        s->done = 1;
    }
    return rc;
}

void ds_source_hash(const ds_source *s, char hex[33])
{
    memcpy(hex, s->hex, sizeof s->hex);
}
