/* source_tree.c: directories and archives as one stream of entries.
 *
 * A tree source is a directory walk (source_walk.c) or an archive file,
 * with a stack of archive levels (source_archive.c) on top when the layout
 * opens nested archives (Kaggle's train.zip inside dogs-vs-cats.zip, or
 * inside a folder). The next item always comes from the top of the stack;
 * source_layout.c decides what each item is.
 *
 * The layouts that need every name before the first label (FOLDERS, and
 * AUTO to detect) survey the source first: names only, a second libarchive
 * handle that seeks over entry data (a zip costs one small read per entry;
 * a tar.gz costs one decompression) or an lstat walk of the directory.
 *
 * IDX and HODA files inside a directory or an archive (Fashion-MNIST's
 * folder of four .gz files, or a zip of it) are read as they are when
 * given alone: a file whose name holds "idx" or "ubyte" and whose magic
 * number says IDX images is opened with its labels file beside it and
 * gives its entries, labelled and split by the IDX rules; an IDX labels
 * file is consumed by its images file and skipped; a *.cdb file is read as
 * HODA. The directory hash takes the file's name, NUL, then the IDX
 * digests or the .cdb bytes. In an archive the entry is held in memory (a
 * memfd, within the entry size limit) and its labels entry is found by a
 * second pass over the archive file, so this needs a level backed by a
 * file: inside a nested archive such an entry is rejected with the reason.
 *
 * Damage: an archive level that cannot be read further (libarchive's
 * fatal errors: a cut file, a 2 MB pax header) is closed and replaced by
 * one entry marked stopped that says after how many entries and why; what
 * was read before is kept and the source goes on with the parent level. A
 * nested archive that cannot be opened is one rejected entry. Only I/O
 * errors of the source file itself, memory and the limits end the source.
 *
 * Hashes: an archive file's bytes, in file order, as they are read. A
 * directory: for each entry in walk order its name, NUL, and either its
 * size (8 bytes, little-endian) and bytes, or the reject reason after a
 * 0x01 byte; a nested archive inside a directory contributes its name,
 * NUL, size and whole file.
 */
#define _GNU_SOURCE /* memfd_create */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_internal.h"

typedef struct level {
    src_arc *arc;
    char *prefix;  /* escaped name prefix of its entries: "" or "train.zip:" */
    char *what;    /* for messages: the source path, or "<path>:train.zip" */
    int depth;     /* 0: the source file itself */
    int in_test;   /* Kaggle: inside an archive named test* */
    int file;      /* backed by a file (its hash is finished when it ends) */
    int64_t items; /* items read from it */
} level;

struct src_tree {
    char *path;
    int is_dir;
    src_rules rules;
    ds_limits lim;
    XXH3_state_t *xx;
    src_walk *walk;
    level *lv;
    int nlv, cap_lv;
    int drop_top;      /* the top level stopped: pop it before the next item */
    src_idx *idx;      /* an IDX file of the directory being read, or NULL */
    src_hoda *hoda;    /* a .cdb file of the directory being read, or NULL */
    int digits_hashed; /* t->idx reads files of the directory: its digests go into xx */
};

static void hash_u64(XXH3_state_t *xx, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    XXH3_128bits_update(xx, b, sizeof b);
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

static void pop_level(src_tree *t)
{
    level *l = &t->lv[--t->nlv];
    src_arc_close(l->arc);
    free(l->prefix);
    free(l->what);
}

static int push_level(src_tree *t, level *l)
{
    if (t->nlv == t->cap_lv) {
        int cap = t->cap_lv ? 2 * t->cap_lv : 4;
        level *v = realloc(t->lv, (size_t)cap * sizeof *v);
        if (!v) {
            return CK_ENOMEM;
        }
        t->lv = v;
        t->cap_lv = cap;
    }
    t->lv[t->nlv++] = *l;
    return 0;
}

/* ---- survey ------------------------------------------------------------ */

static int survey_dir(src_tree *t, src_survey *sv, char *err, size_t errlen)
{
    src_walk *w;
    char msg[128];
    int rc = src_walk_open(&w, t->path);
    if (rc) {
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", t->path,
                      ck_errno_text(-rc, msg, sizeof msg));
    }
    src_item it;
    while ((rc = src_walk_next(w, &it)) == 1) {
        if (it.type == SRC_DIR) {
            if (src_survey_descend(it.path, it.len) && (rc = src_walk_descend(w)) != 0) {
                break;
            }
        } else if (src_survey_add(sv, &it)) {
            src_walk_close(w);
            return ck_err(err, errlen, CK_ENOMEM, "%s: survey: out of memory", t->path);
        }
    }
    if (rc < 0) {
        int code = rc == -ELOOP ? CK_ELIMIT : CK_EIO;
        ck_err(err, errlen, code, "%s/%s: list: %s", t->path, src_walk_where(w),
               rc == -ELOOP ? "directories nested too deep" : ck_errno_text(-rc, msg, sizeof msg));
        src_walk_close(w);
        return code;
    }
    src_walk_close(w);
    return 0;
}

static int survey_archive(src_tree *t, src_survey *sv, char *err, size_t errlen)
{
    src_arc *a;
    char why[200];
    int rc = src_arc_open_file(&a, AT_FDCWD, t->path, 0, NULL, 1, why, sizeof why);
    if (rc) {
        return ck_err(err, errlen, rc, "%s: open: %s", t->path, why);
    }
    src_item it;
    while ((rc = src_arc_next(a, &it, why, sizeof why)) == 1) {
        if (it.type != SRC_DIR && src_survey_add(sv, &it)) {
            src_arc_close(a);
            return ck_err(err, errlen, CK_ENOMEM, "%s: survey: out of memory", t->path);
        }
    }
    src_arc_close(a);
    /* Damage that stops the archive is the reading pass's to record: the
     * names before it decide the layout. */
    return rc < 0 && rc != CK_EFORMAT ? ck_err(err, errlen, rc, "%s: read: %s", t->path, why) : 0;
}

/* ---- open -------------------------------------------------------------- */

int src_tree_open(src_tree **out, const char *path, int is_dir, ds_layout *layout,
                  const ds_limits *lim, XXH3_state_t *xx, char *err, size_t errlen)
{
    *out = NULL;
    src_tree *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
    }
    t->is_dir = is_dir;
    t->lim = *lim;
    t->xx = xx;
    t->rules.layout = *layout;
    int rc = 0;
    if (*layout == DS_LAYOUT_AUTO || *layout == DS_LAYOUT_FOLDERS) {
        src_survey sv = {0};
        rc = is_dir ? survey_dir(t, &sv, err, errlen) : survey_archive(t, &sv, err, errlen);
        if (!rc) {
            src_survey_rules(&sv, &t->rules);
        }
        src_survey_free(&sv);
    }
    char msg[200];
    if (!rc && is_dir) {
        int e = src_walk_open(&t->walk, path);
        if (e) {
            rc = ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                        ck_errno_text(-e, msg, sizeof msg));
        }
    } else if (!rc) {
        level l = {.depth = 0, .file = 1};
        rc = src_arc_open_file(&l.arc, AT_FDCWD, path, 0, xx, 0, msg, sizeof msg);
        if (rc) {
            ck_err(err, errlen, rc, "%s: open: %s", path, msg);
        } else if (!(l.prefix = strdup("")) || !(l.what = strdup(path)) || push_level(t, &l)) {
            src_arc_close(l.arc);
            free(l.prefix);
            free(l.what);
            rc = ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
        }
    }
    if (rc) {
        src_tree_close(t);
        return rc;
    }
    *layout = t->rules.layout;
    *out = t;
    return 0;
}

void src_tree_close(src_tree *t)
{
    if (!t) {
        return;
    }
    while (t->nlv > 0) {
        pop_level(t);
    }
    free(t->lv);
    src_idx_close(t->idx);
    src_hoda_close(t->hoda);
    src_walk_close(t->walk);
    free(t->path);
    free(t);
}

/* ---- entries ----------------------------------------------------------- */

/* A nested archive that could not be opened, as a rejected entry; err
 * holds open_nested's message. */
static int nested_reject(src_tree *t, level *top, const src_item *it, ds_entry **out, char *err,
                         size_t errlen)
{
    ds_entry *e = src_entry_new(top ? top->prefix : "", it->path, it->len, NULL, 0, NULL);
    const char *why = strstr(err, ": open: ");
    if (!e || src_reject(e, "open: %s", why ? why + 8 : err)) {
        ds_entry_free(e);
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", t->path);
    }
    *out = e;
    return 1;
}

/* Opens the nested archive named by the current item. */
static int open_nested(src_tree *t, const src_item *it, char *err, size_t errlen)
{
    level *top = t->nlv ? &t->lv[t->nlv - 1] : NULL;
    level l = {.depth = top ? top->depth + 1 : 1, .file = top == NULL};
    char *name = src_escape(it->path, it->len);
    if (!name) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", t->path);
    }
    l.prefix = join3(top ? top->prefix : "", name, ":");
    l.what = join3(t->path, top ? ":" : "/", l.prefix ? l.prefix : "");
    const char *base = src_basename(name);
    l.in_test = (top && top->in_test) || (strlen(base) >= 4 && src_word_eq(base, 4, "test"));
    if (!top && l.prefix) {
        /* A zip file inside a directory: hashed as an entry whose bytes are
         * the whole file (src_file hashes them as they are read). */
        XXH3_128bits_update(t->xx, name, strlen(name) + 1);
        hash_u64(t->xx, (uint64_t)(it->size > 0 ? it->size : 0));
    }
    free(name);
    if (!l.prefix || !l.what) {
        free(l.prefix);
        free(l.what);
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", t->path);
    }
    l.what[strlen(l.what) - 1] = '\0'; /* the prefix's ':' */
    int rc = 0;
    char why[200];
    if (l.depth > t->lim.max_nesting) {
        rc = ck_err(err, errlen, CK_ELIMIT, "%s: open: archives nested deeper than the limit (%d)",
                    l.what, t->lim.max_nesting);
    } else if (top) {
        rc = src_arc_open_nested(&l.arc, top->arc, why, sizeof why);
    } else {
        rc = src_arc_open_file(&l.arc, src_walk_dirfd(t->walk), src_walk_name(t->walk), 1, t->xx, 0,
                               why, sizeof why);
    }
    if (rc && rc != CK_ELIMIT) {
        ck_err(err, errlen, rc, "%s: open: %s", l.what, why);
    }
    if (!rc && push_level(t, &l)) {
        src_arc_close(l.arc);
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", l.what);
    }
    if (rc) {
        free(l.prefix);
        free(l.what);
    }
    return rc;
}

/* size 0: not known, only that it is over the limit. */
static int too_big(const src_tree *t, ds_entry *e, uint64_t size)
{
    unsigned long long max = (unsigned long long)t->lim.max_entry_bytes;
    if (size == 0) {
        return src_reject(e, "larger than the entry size limit (more than %llu bytes)", max);
    }
    return src_reject(e, "larger than the entry size limit (%llu > %llu bytes)",
                      (unsigned long long)size, max);
}

/* Reads the current archive entry into e; 0, or a negative code (memory).
 * When the level cannot be read further, e is rejected and marked stopped
 * and the level is dropped before the next item. */
static int read_arc_data(src_tree *t, level *l, int64_t declared, ds_entry *e, char *err,
                         size_t errlen)
{
    uint64_t max = t->lim.max_entry_bytes;
    size_t cap = declared >= 0 ? (size_t)declared : (size_t)64 * 1024;
    if (declared < 0 && cap > max) {
        cap = (size_t)max + 1;
    }
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) {
        return ck_err(err, errlen, CK_ENOMEM, "%s%s: read: out of memory", l->what, e->name);
    }
    size_t got = 0;
    char why[200];
    for (;;) {
        if (got == cap) {
            if (declared >= 0) {
                break;
            }
            if (cap > max) {
                free(buf);
                return too_big(t, e, 0);
            }
            size_t ncap = cap * 2 > max + 1 ? (size_t)max + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", e->name);
            }
            buf = nb;
            cap = ncap;
        }
        int fatal;
        ssize_t n = src_arc_read(l->arc, buf + got, cap - got, &fatal, why, sizeof why);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            free(buf);
            if (fatal && n != CK_EFORMAT) {
                return ck_err(err, errlen, (int)n, "%s: read: %s", l->what, why);
            }
            if (fatal) {
                e->stopped = 1;
                t->drop_top = 1;
                return src_reject(e, "read stopped: %s; the rest of %s was not read", why, l->what);
            }
            return src_reject(e, "read: %s", why);
        }
        got += (size_t)n;
    }
    e->data = buf;
    e->size = got;
    return 0;
}

/* Reads a regular file of the directory walk into e (rejects it when it
 * cannot be read). */
static int read_dir_file(src_tree *t, ds_entry *e)
{
    char msg[128];
    int fd = openat(src_walk_dirfd(t->walk), src_walk_name(t->walk),
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return src_reject(e, "open: %s", ck_errno_text(errno, msg, sizeof msg));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = src_reject(e, "stat: %s", ck_errno_text(errno, msg, sizeof msg));
    } else if (!S_ISREG(st.st_mode)) {
        rc = src_reject(e, "not a regular file");
    } else if ((uint64_t)st.st_size > t->lim.max_entry_bytes) {
        rc = too_big(t, e, (uint64_t)st.st_size);
    } else {
        size_t size = (size_t)st.st_size, got = 0;
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf) {
            close(fd);
            return CK_ENOMEM;
        }
        while (got < size) {
            ssize_t n = read(fd, buf + got, size - got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                free(buf);
                close(fd);
                return src_reject(e, "read: %s", ck_errno_text(errno, msg, sizeof msg));
            }
            if (n == 0) {
                break;
            }
            got += (size_t)n;
        }
        e->data = buf;
        e->size = got;
    }
    close(fd);
    return rc;
}

static const char *type_reject(int type)
{
    switch (type) {
    case SRC_LINK: return "symbolic link";
    case SRC_HARDLINK: return "hard link";
    case SRC_SPECIAL: return "device or special file";
    default: return NULL;
    }
}

/* Builds the entry for the current item. */
static int make_entry(src_tree *t, level *top, const src_item *it, const src_verdict *v,
                      ds_entry **out, char *err, size_t errlen)
{
    ds_entry *e =
        src_entry_new(top ? top->prefix : "", it->path, it->len, v->label, v->label_len, v->split);
    if (!e) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", t->path);
    }
    e->kind = DS_ENTRY_ENCODED;
    int rc = 0;
    const char *why = v->reject ? v->reject : type_reject(it->type);
    if (it->type == SRC_BAD) {
        rc = src_reject(e, "%s", it->why);
    } else if (why) {
        rc = src_reject(e, "%s", why);
    } else if (it->size >= 0 && (uint64_t)it->size > t->lim.max_entry_bytes) {
        rc = too_big(t, e, (uint64_t)it->size);
    } else if (top) {
        rc = read_arc_data(t, top, it->size, e, err, errlen);
    } else {
        rc = read_dir_file(t, e);
    }
    if (rc == CK_ENOMEM) {
        ck_err(err, errlen, rc, "%s: read: out of memory", e->name);
    }
    if (rc) {
        ds_entry_free(e);
        return rc;
    }
    if (!top) {
        XXH3_128bits_update(t->xx, e->name, strlen(e->name) + 1);
        if (e->reject) {
            XXH3_128bits_update(t->xx, "\x01", 1);
            XXH3_128bits_update(t->xx, e->reject, strlen(e->reject));
        } else {
            hash_u64(t->xx, e->size);
            XXH3_128bits_update(t->xx, e->data, e->size);
        }
    }
    *out = e;
    return 1;
}

/* Ends the top level: a file level's hash is completed first. */
static int end_level(src_tree *t, char *err, size_t errlen)
{
    level *top = &t->lv[t->nlv - 1];
    char why[200];
    int rc = top->file ? src_arc_finish(top->arc, why, sizeof why) : 0;
    if (rc) {
        return ck_err(err, errlen, rc, "%s: read: %s", top->what, why);
    }
    pop_level(t);
    return 0;
}

/* The entry that records where the top level stopped, and why. */
static int stop_entry(src_tree *t, level *top, const char *why, ds_entry **out, char *err,
                      size_t errlen)
{
    char name[64];
    snprintf(name, sizeof name, "(read stopped after entry %lld)", (long long)top->items);
    ds_entry *e = src_entry_new(top->prefix, name, strlen(name), NULL, 0, NULL);
    if (!e || src_reject(e, "read stopped: %s; the rest of %s was not read", why, top->what)) {
        ds_entry_free(e);
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", t->path);
    }
    e->stopped = 1;
    t->drop_top = 1;
    *out = e;
    return 1;
}

/* For a regular file of the directory walk: 1 when it is an IDX or HODA
 * file, now open in t->idx or t->hoda (or an IDX labels file, skipped: its
 * images file reads it); 0 when it is neither; or an error. */
/* What a file's name says it may be: 1 an IDX file, 2 a HODA .cdb, 0 neither. */
static int digits_name(const char *path)
{
    const char *base = src_basename(path);
    size_t bl = strlen(base);
    if (bl >= 4 && src_word_eq(base + bl - 4, 4, ".cdb")) {
        return 2;
    }
    for (size_t i = 0; i + 3 <= bl; i++) {
        if (src_word_eq(base + i, 3, "idx") || (i + 5 <= bl && src_word_eq(base + i, 5, "ubyte"))) {
            return 1;
        }
    }
    return 0;
}

static int open_digits(src_tree *t, const src_item *it, char *err, size_t errlen)
{
    int kind_by_name = digits_name(it->path);
    int cdb = kind_by_name == 2, idx_name = kind_by_name == 1;
    if (!cdb && !idx_name) {
        return 0;
    }
    char *full = join3(t->path, "/", it->path);
    if (!full) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", t->path);
    }
    int rc = 0;
    if (idx_name) {
        char why[160];
        int kind = src_idx_probe(full, why, sizeof why);
        if (kind == 1) {
            rc = 1;
        } else if (kind == 3) {
            XXH3_128bits_update(t->xx, it->path, it->len + 1);
            rc = src_idx_open(&t->idx, full, &t->lim, err, errlen);
            rc = rc ? rc : 1;
            t->digits_hashed = 1;
        }
    }
    if (rc == 0 && cdb) {
        XXH3_128bits_update(t->xx, it->path, it->len + 1);
        rc = src_hoda_open(&t->hoda, full, &t->lim, t->xx, err, errlen);
        rc = rc ? rc : 1;
    }
    free(full);
    return rc;
}

enum { DIGITS_HODA = 100 }; /* beside src_idx_probe's kinds */

/* n bytes in an anonymous memory file; its fd (the caller closes it), or -1. */
static int mem_file(const void *data, size_t n)
{
    int fd = memfd_create("convkit-entry", MFD_CLOEXEC);
    const uint8_t *p = data;
    size_t done = 0;
    while (fd >= 0 && done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    return fd;
}

/* The data of the entry named want (or want without / with ".gz") of the
 * archive file behind level top, read by a second pass; NULL with why. */
static ds_entry *find_entry(src_tree *t, const level *top, const char *want, char *why,
                            size_t whylen)
{
    src_arc *a;
    int rc = t->walk ? src_arc_open_file(&a, src_walk_dirfd(t->walk), src_walk_name(t->walk), 1,
                                         NULL, 0, why, whylen)
                     : src_arc_open_file(&a, AT_FDCWD, t->path, 0, NULL, 0, why, whylen);
    if (rc) {
        return NULL;
    }
    size_t wl = strlen(want);
    size_t base = wl > 3 && strcmp(want + wl - 3, ".gz") == 0 ? wl - 3 : wl;
    src_item it;
    ds_entry *e = NULL;
    snprintf(why, whylen, "no entry %s in the archive", want);
    while (!e && src_arc_next(a, &it, why, whylen) == 1) {
        if (it.type != SRC_FILE || it.len < base || memcmp(it.path, want, base) != 0 ||
            !(it.len == base || (it.len == base + 3 && memcmp(it.path + base, ".gz", 3) == 0))) {
            continue;
        }
        level l = *top;
        l.arc = a;
        src_verdict v = {.act = SRC_ENTRY};
        int drop = t->drop_top; /* this pass's damage is not the main pass's */
        rc = make_entry(t, &l, &it, &v, &e, why, whylen);
        t->drop_top = drop;
        if (rc != 1) {
            e = NULL;
            break;
        }
        if (e->reject) {
            snprintf(why, whylen, "%s: %s", want, e->reject);
            ds_entry_free(e);
            e = NULL;
            break;
        }
    }
    src_arc_close(a);
    return e;
}

/* An archive entry whose name says IDX or HODA (see the top of the file):
 * 1 with *out (an entry for the caller: rejected, or not such a file after
 * all), 2 when its samples come next (t->idx or t->hoda) or it was an IDX
 * labels file (skipped), or an error. */
static int arc_digits(src_tree *t, level *top, const src_item *it, const src_verdict *v,
                      ds_entry **out, char *err, size_t errlen)
{
    ds_entry *e = NULL;
    int rc = make_entry(t, top, it, v, &e, err, errlen);
    if (rc != 1 || e->reject) {
        *out = rc == 1 ? e : NULL;
        return rc;
    }
    char img[32], lab[32], why[300] = "";
    int ifd = mem_file(e->data, e->size), lfd = -1;
    int kind = 0;
    snprintf(img, sizeof img, "/proc/self/fd/%d", ifd);
    if (ifd >= 0 && digits_name(it->path) == 1) {
        kind = src_idx_probe(img, why, sizeof why);
    } else if (ifd >= 0) {
        kind = DIGITS_HODA;
    }
    char *shown = join3(top->what, ":", e->name + strlen(top->prefix));
    rc = shown ? 0 : ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", t->path);
    if (rc == 0 && kind == 1) {
        rc = 2; /* a labels file: read with its images file */
    } else if (rc == 0 && kind == 3 && !top->file) {
        src_reject(e, "an IDX file inside a nested archive: give the archive that holds it");
    } else if (rc == 0 && kind == 3) {
        char *lname = src_idx_labels_name(it->path);
        ds_entry *le = lname ? find_entry(t, top, lname, why, sizeof why) : NULL;
        lfd = le ? mem_file(le->data, le->size) : -1;
        snprintf(lab, sizeof lab, "/proc/self/fd/%d", lfd);
        char *lshown = le ? join3(top->what, ":", le->name + strlen(top->prefix)) : NULL;
        if (lfd < 0 || !lshown) {
            src_reject(e, "IDX images without their labels file: %s",
                       lname ? why : "a name with \"images\" in it");
        } else {
            src_idx_files fs = {.images = img,
                                .images_name = shown,
                                .labels = lab,
                                .labels_name = lshown,
                                .entry_prefix = e->name};
            rc = src_idx_open_files(&t->idx, &fs, &t->lim, err, errlen);
            rc = rc ? rc : 2;
            t->digits_hashed = 0;
        }
        free(lshown);
        free(lname);
        ds_entry_free(le);
    } else if (rc == 0 && kind == DIGITS_HODA) {
        rc = src_hoda_open_as(&t->hoda, img, shown, e->name, &t->lim, NULL, err, errlen);
        rc = rc ? rc : 2;
    } else if (rc == 0 && kind == SRC_IDX_BAD_GZIP) {
        src_reject(e, "%s", why);
    }
    free(shown);
    if (ifd >= 0) {
        close(ifd);
    }
    if (lfd >= 0) {
        close(lfd);
    }
    if (rc == 0 && ifd < 0) {
        src_reject(e, "read: cannot hold the entry in memory");
    }
    if (rc == 0) {
        *out = e;
        return 1;
    }
    ds_entry_free(e);
    return rc;
}

/* The next entry of an open IDX or HODA file: 1, 0 when it ended (closed),
 * or an error. */
static int next_digit(src_tree *t, ds_entry **out, char *err, size_t errlen)
{
    int rc;
    if (t->idx) {
        if ((rc = src_idx_next(t->idx, out, err, errlen)) == 0) {
            if (t->digits_hashed) {
                src_idx_digest(t->idx, t->xx);
            }
            src_idx_close(t->idx);
            t->idx = NULL;
        }
        return rc;
    }
    if ((rc = src_hoda_next(t->hoda, out, err, errlen)) == 0) {
        src_hoda_close(t->hoda);
        t->hoda = NULL;
    }
    return rc;
}

int src_tree_next(src_tree *t, ds_entry **out, char *err, size_t errlen)
{
    *out = NULL;
    for (;;) {
        int rc;
        if (t->idx || t->hoda) {
            if ((rc = next_digit(t, out, err, errlen)) != 0) {
                return rc;
            }
            continue;
        }
        if (t->drop_top) {
            t->drop_top = 0;
            if ((rc = end_level(t, err, errlen)) != 0) {
                return rc;
            }
        }
        level *top = t->nlv ? &t->lv[t->nlv - 1] : NULL;
        src_item it;
        char why[200];
        if (top) {
            rc = src_arc_next(top->arc, &it, why, sizeof why);
            if (rc == CK_EFORMAT && (top->items > 0 || top->depth > 0)) {
                /* A source file that gives no entry at all is no archive:
                 * that stays an error. */
                return stop_entry(t, top, why, out, err, errlen);
            }
            if (rc < 0) {
                return ck_err(err, errlen, rc, "%s: read: %s", top->what, why);
            }
            if (rc == 0) {
                if ((rc = end_level(t, err, errlen)) != 0) {
                    return rc;
                }
                continue;
            }
            top->items++;
        } else if (t->walk) {
            rc = src_walk_next(t->walk, &it);
            if (rc < 0) {
                return ck_err(err, errlen, CK_EIO, "%s/%s: list: %s", t->path,
                              src_walk_where(t->walk), ck_errno_text(-rc, why, sizeof why));
            }
            if (rc == 0) {
                return 0;
            }
        } else {
            return 0;
        }
        src_verdict v;
        src_rule(&t->rules, top == NULL || top->depth == 0, top && top->in_test, &it, &v);
        if (it.type == SRC_BAD && v.act != SRC_ENTRY) {
            /* Damage is recorded whatever the layout makes of the name. */
            memset(&v, 0, sizeof v);
            v.act = SRC_ENTRY;
        }
        if (it.type == SRC_DIR && v.act != SRC_DESCEND) {
            continue;
        }
        switch (v.act) {
        case SRC_SKIP: continue;
        case SRC_DESCEND:
            if (!top && (rc = src_walk_descend(t->walk)) != 0) {
                int code = rc == -ELOOP ? CK_ELIMIT : CK_EIO;
                return ck_err(err, errlen, code, "%s/%s: list: %s", t->path,
                              src_walk_where(t->walk),
                              rc == -ELOOP ? "directories nested too deep"
                                           : ck_errno_text(-rc, why, sizeof why));
            }
            continue;
        case SRC_NESTED:
            rc = open_nested(t, &it, err, errlen);
            if (rc == CK_EFORMAT || (rc == CK_EIO && top)) {
                /* Not an archive after all, or its parent's data broke
                 * off: this entry is lost, the parent goes on. */
                return nested_reject(t, top, &it, out, err, errlen);
            }
            if (rc != 0) {
                return rc;
            }
            continue;
        default:
            if (top && it.type == SRC_FILE && !v.reject && digits_name(it.path)) {
                rc = arc_digits(t, top, &it, &v, out, err, errlen);
                if (rc == 2) {
                    continue;
                }
                return rc;
            }
            if (!top && it.type == SRC_FILE && !v.reject) {
                if ((rc = open_digits(t, &it, err, errlen)) < 0) {
                    return rc;
                }
                if (rc == 1) {
                    continue; /* its entries come next (none for a labels file) */
                }
            }
            return make_entry(t, top, &it, &v, out, err, errlen);
        }
    }
}
