/* source_internal.h: what the source readers (source*.c) share.
 *
 * A ds_source is one of three kinds: a tree (a directory or an archive,
 * possibly holding nested archives: every layout except IDX and HODA), an
 * IDX pair, or a HODA .cdb file. source.c owns the public API and the
 * detection of the kind and layout; each kind lives in its own file and is
 * driven through the small functions below.
 *
 * Files are read through src_file: sequential preads into one buffer, with
 * the bytes hashed (XXH3-128) in file order as they pass, so the source hash
 * costs no second read. Reads that jump ahead (a zip's central directory
 * read first) are not hashed; src_file_finish hashes whatever the pass did
 * not reach, so the result is always the hash of the whole file.
 */
#ifndef DS_SOURCE_INTERNAL_H
#define DS_SOURCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xxhash.h>

#include "ds.h"

/* ---- files read in order, hashed as read ------------------------------ */

typedef struct src_file {
    int fd;
    uint64_t size;    /* at open */
    uint64_t pos;     /* offset of the next pread */
    uint64_t hashed;  /* bytes [0, hashed) went into xx */
    XXH3_state_t *xx; /* NULL: not hashed */
    uint8_t *buf;     /* cap bytes */
    size_t cap;
    size_t bpos, blen; /* unread part of buf for src_file_read */
} src_file;

/* Opens path (relative to dirfd, or AT_FDCWD) as a regular file; nofollow
 * refuses a symbolic link. Returns 0 or -errno (-EINVAL: not a regular
 * file). xx (may be NULL) receives the bytes in file order. */
int src_file_open(src_file *f, int dirfd, const char *path, int nofollow, XXH3_state_t *xx,
                  size_t cap);
void src_file_close(src_file *f); /* safe on a zeroed or closed struct */

/* One buffer-full at pos: returns the byte count (0 at the end, -errno on
 * failure) and points *p at the bytes, valid until the next call. */
ssize_t src_file_block(src_file *f, const uint8_t **p);
/* Copies up to n bytes in order; returns the count (short only at the end)
 * or -errno. Do not mix with src_file_block without src_file_seek. */
ssize_t src_file_read(src_file *f, void *dst, size_t n);
/* Moves the read position (absolute). */
void src_file_seek(src_file *f, uint64_t off);
/* Hashes the bytes from the hash frontier to the end. 0 or -errno. */
int src_file_finish(src_file *f);

/* ---- names ------------------------------------------------------------ */

/* A copy of n bytes of s, valid UTF-8 kept, other bytes and control
 * characters written as \xNN. NULL when out of memory. */
char *src_escape(const char *s, size_t n);

/* Splits the n bytes of path at '/', dropping empty and "." components.
 * Fills comp/clen with up to max components (pointers into path) and
 * returns the total count (may exceed max). */
int src_split(const char *path, size_t n, const char **comp, size_t *clen, int max);

/* 1 if the n bytes at s equal the NUL-terminated word, ASCII case-insensitive. */
int src_word_eq(const char *s, size_t n, const char *word);

/* The final component of a path (after the last '/'). */
const char *src_basename(const char *path);

/* A new entry named prefix (already escaped) + name (escaped here), with
 * label (escaped) and split copied; label and split may be NULL. NULL when
 * out of memory. */
ds_entry *src_entry_new(const char *prefix, const char *name, size_t name_len, const char *label,
                        size_t label_len, const char *split);

/* Sets e->reject to the formatted reason and drops e's data. 0 or CK_ENOMEM. */
int src_reject(ds_entry *e, const char *fmt, ...) CK_PRINTF(2, 3);

/* Writes the XXH3-128 digest of st as 32 lowercase hex digits. */
void src_hash_hex(XXH3_state_t *st, char hex[33]);

/* ---- items: what a directory or archive level lists --------------------- */

enum { SRC_FILE, SRC_DIR, SRC_LINK, SRC_HARDLINK, SRC_SPECIAL, SRC_BAD };

typedef struct src_item {
    const char *path; /* raw bytes, relative to the level; valid until the next item */
    size_t len;
    int type;      /* SRC_* */
    int64_t size;  /* declared size, -1 when unknown */
    char why[160]; /* SRC_BAD: the reason (an unreadable header, a vanished file) */
} src_item;

/* A directory walked depth-first in byte-wise sorted order; symbolic links
 * are reported (lstat), never followed. */
typedef struct src_walk src_walk;
/* Returns 0 or -errno. */
int src_walk_open(src_walk **out, const char *path);
/* 1 and *it, 0 at the end, or -errno (a directory could not be listed;
 * src_walk_where names it). */
int src_walk_next(src_walk *w, src_item *it);
/* After a SRC_DIR item: walk into it next. 0, -errno, or -ELOOP when
 * deeper than the walker's limit. */
int src_walk_descend(src_walk *w);
/* The directory fd and name of the last item, for openat. */
int src_walk_dirfd(const src_walk *w);
const char *src_walk_name(const src_walk *w);
/* Relative path of the directory that failed in src_walk_next/descend. */
const char *src_walk_where(const src_walk *w);
void src_walk_close(src_walk *w); /* NULL is a no-op */

/* One archive level: a file (level 0, or a nested archive inside a
 * directory) or the data of the current entry of a parent level, streamed. */
typedef struct src_arc src_arc;
/* Opens a file as an archive (zip, tar, optionally gzip'd). xx receives
 * its bytes in order; lite: for a survey of names only (no hashing, skips
 * seek over data). Returns 0, or CK_EIO / CK_EFORMAT with the reason in why. */
int src_arc_open_file(src_arc **out, int dirfd, const char *path, int nofollow, XXH3_state_t *xx,
                      int lite, char *why, size_t whylen);
/* Opens the data of parent's current entry as an archive, streamed. */
int src_arc_open_nested(src_arc **out, src_arc *parent, char *why, size_t whylen);
/* 1 and *it, 0 at the end, or CK_EIO / CK_EFORMAT with why. */
int src_arc_next(src_arc *a, src_item *it, char *why, size_t whylen);
/* Reads the current entry's data: byte count, 0 at its end, or a negative
 * code with why: CK_EFORMAT for a bad entry (the level goes on),
 * CK_EIO / CK_ELIMIT... when the level cannot be read further (*fatal = 1). */
ssize_t src_arc_read(src_arc *a, void *dst, size_t n, int *fatal, char *why, size_t whylen);
/* For file levels: hashes the rest of the file. 0 or CK_EIO. */
int src_arc_finish(src_arc *a, char *why, size_t whylen);
void src_arc_close(src_arc *a); /* NULL is a no-op */

/* ---- layouts: names to labels (source_layout.c) ------------------------- */

/* What the names of a tree say, gathered in one pass over them (directory
 * items are not added). Memory: one path, whatever the tree. */
typedef struct src_survey {
    int64_t files;
    char *first; /* the first file's path: the common components point into it */
    int common;  /* leading directory components every file shares */
    int max_dirs;
    uint64_t split_seen, split_bad; /* bit k: files whose component k is (not) a split folder */
    int kaggle_zip, dogscats, petimages, kaggle_bad;
    int64_t kaggle_names;
} src_survey;

/* How a tree's names become entries. */
typedef struct src_rules {
    ds_layout layout;
    int strip;      /* FOLDERS: leading components dropped */
    int split_mode; /* FOLDERS: the first kept component is a split folder */
} src_rules;

enum { SRC_SKIP, SRC_DESCEND, SRC_NESTED, SRC_ENTRY };

typedef struct src_verdict {
    int act;           /* SRC_SKIP, ... */
    const char *label; /* points into the item's path; NULL: unlabelled */
    size_t label_len;
    const char *split;  /* static; NULL: none */
    const char *reject; /* static reason, or NULL */
} src_verdict;

enum { SRC_MAX_NAME = 4096 }; /* longer names are refused */

/* Adds one non-directory item; only items that would be kept (regular
 * files with an acceptable name, not hidden) count. 0 or CK_ENOMEM. */
int src_survey_add(src_survey *sv, const src_item *it);
/* 1 if a directory item should be walked into by a survey (not hidden). */
int src_survey_descend(const char *path, size_t len);
/* Fills r from the survey; r->layout AUTO is replaced by the detected one. */
void src_survey_rules(const src_survey *sv, src_rules *r);
void src_survey_free(src_survey *sv);

/* The verdict for one item. top: the item lies at the source's own level
 * (not inside a nested archive); in_test: inside a Kaggle test archive. */
void src_rule(const src_rules *r, int top, int in_test, const src_item *it, src_verdict *v);

/* ---- the three kinds -------------------------------------------------- */

typedef struct src_tree src_tree;
typedef struct src_idx src_idx;
typedef struct src_hoda src_hoda;

/* Trees: a directory or a zip/tar/tar.gz file. *layout may be AUTO: it is
 * then detected from a survey of the names (see source_tree.c) and set. */
int src_tree_open(src_tree **out, const char *path, int is_dir, ds_layout *layout,
                  const ds_limits *lim, XXH3_state_t *xx, char *err, size_t errlen);
/* 1 and *out, 0 at the end (the hash state is then complete), or a
 * negative code with err. */
int src_tree_next(src_tree *t, ds_entry **out, char *err, size_t errlen);
void src_tree_close(src_tree *t); /* NULL is a no-op */
/* 1 if libarchive recognizes the file as an archive we read (zip, tar,
 * optionally gzip'd); else 0 and why. */
int src_is_archive(const char *path, char *why, size_t whylen);

int src_idx_open(src_idx **out, const char *path, const ds_limits *lim, char *err, size_t errlen);
/* An IDX pair whose files are opened by one path and named by another (an
 * entry of an archive, read into memory): images is opened; images_name
 * (NULL: images) names it in messages and gives the split; labels (NULL:
 * found beside images) and labels_name likewise; entry_prefix (NULL: the
 * escaped base name of images_name) starts every entry's name. */
typedef struct src_idx_files {
    const char *images, *images_name, *labels, *labels_name, *entry_prefix;
} src_idx_files;
int src_idx_open_files(src_idx **out, const src_idx_files *fs, const ds_limits *lim, char *err,
                       size_t errlen);
/* The name of the labels file of an IDX images file name (images ->
 * labels, idx3 -> idx1), malloc'd; NULL when it has no "images". */
char *src_idx_labels_name(const char *images);
int src_idx_next(src_idx *x, ds_entry **out, char *err, size_t errlen);
void src_idx_digest(src_idx *x, XXH3_state_t *into); /* after the end */
void src_idx_close(src_idx *x);                      /* NULL is a no-op */
enum { SRC_IDX_BAD_GZIP = 2 };
/* The IDX type of a file: 3 (images, magic 0x00000803), 1 (labels,
 * 0x00000801), 0 (not IDX), raw or gzip'd; SRC_IDX_BAD_GZIP for a gzip
 * file whose first bytes cannot be inflated (why says how); -errno. */
int src_idx_probe(const char *path, char *why, size_t whylen);

int src_hoda_open(src_hoda **out, const char *path, const ds_limits *lim, XXH3_state_t *xx,
                  char *err, size_t errlen);
/* The same for a file opened as file but named path in messages, entries
 * named entry_prefix + "#N" (NULL: the escaped base name of path). */
int src_hoda_open_as(src_hoda **out, const char *file, const char *path, const char *entry_prefix,
                     const ds_limits *lim, XXH3_state_t *xx, char *err, size_t errlen);
int src_hoda_next(src_hoda *h, ds_entry **out, char *err, size_t errlen);
void src_hoda_close(src_hoda *h); /* NULL is a no-op */

#endif
