/* source_archive.c: archives as streams of items, through libarchive.
 *
 * A level is either a file (read with src_file: preads, hashed in order) or
 * the data of the current entry of a parent level. Nested archives are
 * streamed, never held in memory: Kaggle's train.zip is 543 MB, above any
 * sane per-entry limit, and peak memory must not grow with the input. A
 * streamed zip is read by libarchive's streaming reader (local headers, no
 * central directory), which is what a zip inside a zip allows.
 *
 * Formats are limited to zip and tar, optionally gzip'd: libarchive's other
 * readers and its external-program filters are not exposed to untrusted
 * downloads.
 *
 * File levels give libarchive a seek callback, so zips are read with the
 * central directory (which knows symbolic links). No skip callback: data
 * that libarchive skips is read through, so the hash frontier of src_file
 * moves with it and the file is read once. Survey levels ("lite") do skip,
 * by seeking, since they only want names.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_internal.h"

enum {
    FILE_BLOCK = 256 * 1024, /* preads of file levels */
    LITE_BLOCK = 2 * 1024,   /* survey reads: a local header and a little more */
    NEST_BLOCK = 64 * 1024,  /* chunks of a parent's entry data */
    MAX_FAILED = 1000,       /* consecutive bad headers before giving up */
};

struct src_arc {
    struct archive *ar;
    struct archive_entry *entry; /* current, owned by ar */
    src_file file;               /* file levels */
    src_arc *parent;             /* nested levels */
    uint8_t *buf;                /* nested levels: NEST_BLOCK */
    char perr[200];              /* nested: the parent's read failure, if any */
    int io_failed;               /* our callback failed (not the format) */
};

static void set_why(char *why, size_t whylen, struct archive *ar, const char *fallback)
{
    const char *m = ar ? archive_error_string(ar) : NULL;
    snprintf(why, whylen, "%s", m && *m ? m : fallback);
}

static la_ssize_t file_read_cb(struct archive *ar, void *ud, const void **buf)
{
    src_arc *a = ud;
    const uint8_t *p;
    ssize_t n = src_file_block(&a->file, &p);
    if (n < 0) {
        char msg[128];
        a->io_failed = 1;
        archive_set_error(ar, (int)-n, "%s", ck_errno_text((int)-n, msg, sizeof msg));
        return -1;
    }
    *buf = p;
    return n;
}

static la_int64_t file_seek_cb(struct archive *ar, void *ud, la_int64_t off, int whence)
{
    (void)ar;
    src_arc *a = ud;
    int64_t base = whence == SEEK_SET   ? 0
                   : whence == SEEK_CUR ? (int64_t)a->file.pos
                                        : (int64_t)a->file.size;
    int64_t to = base + off;
    if (to < 0) {
        return ARCHIVE_FATAL;
    }
    src_file_seek(&a->file, (uint64_t)to);
    return to;
}

static la_int64_t file_skip_cb(struct archive *ar, void *ud, la_int64_t req)
{
    (void)ar;
    src_arc *a = ud;
    uint64_t left = a->file.size > a->file.pos ? a->file.size - a->file.pos : 0;
    uint64_t n = (uint64_t)req < left ? (uint64_t)req : left;
    src_file_seek(&a->file, a->file.pos + n);
    return (la_int64_t)n;
}

static la_ssize_t nested_read_cb(struct archive *ar, void *ud, const void **buf)
{
    src_arc *a = ud;
    la_ssize_t n = archive_read_data(a->parent->ar, a->buf, NEST_BLOCK);
    if (n < 0) {
        set_why(a->perr, sizeof a->perr, a->parent->ar, "read failed");
        a->io_failed = 1;
        archive_set_error(ar, EIO, "%s", a->perr);
        return -1;
    }
    *buf = a->buf;
    return n;
}

static struct archive *new_reader(void)
{
    struct archive *ar = archive_read_new();
    if (!ar) {
        return NULL;
    }
    /* tar first: formats bid in this order, and the seekable zip bidder,
     * when no better bid came before it, seeks to the end of the stream,
     * which for a tar.gz means decompressing all of it. */
    if (archive_read_support_format_tar(ar) != ARCHIVE_OK ||
        archive_read_support_format_zip(ar) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(ar) != ARCHIVE_OK) {
        archive_read_free(ar);
        return NULL;
    }
    return ar;
}

/* Opens ar after its callbacks are set; on failure fills why and returns
 * the code. */
static int open_reader(src_arc *a, char *why, size_t whylen)
{
    archive_read_set_callback_data(a->ar, a);
    if (archive_read_open1(a->ar) != ARCHIVE_OK) {
        if (a->perr[0]) {
            snprintf(why, whylen, "%s", a->perr);
        } else {
            set_why(why, whylen, a->ar, "not an archive");
        }
        return a->io_failed ? CK_EIO : CK_EFORMAT;
    }
    return 0;
}

int src_arc_open_file(src_arc **out, int dirfd, const char *path, int nofollow, XXH3_state_t *xx,
                      int lite, char *why, size_t whylen)
{
    *out = NULL;
    src_arc *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(why, whylen, "out of memory");
        return CK_ENOMEM;
    }
    a->file.fd = -1;
    int rc = src_file_open(&a->file, dirfd, path, nofollow, lite ? NULL : xx,
                           lite ? LITE_BLOCK : FILE_BLOCK);
    if (rc) {
        ck_errno_text(-rc, why, whylen);
        free(a);
        return CK_EIO;
    }
    if (!(a->ar = new_reader())) {
        snprintf(why, whylen, "cannot set up libarchive");
        src_arc_close(a);
        return CK_ENOMEM;
    }
    archive_read_set_read_callback(a->ar, file_read_cb);
    archive_read_set_seek_callback(a->ar, file_seek_cb);
    if (lite) {
        archive_read_set_skip_callback(a->ar, file_skip_cb);
    }
    if ((rc = open_reader(a, why, whylen))) {
        src_arc_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

int src_arc_open_nested(src_arc **out, src_arc *parent, char *why, size_t whylen)
{
    *out = NULL;
    src_arc *a = calloc(1, sizeof *a);
    if (!a || !(a->buf = malloc(NEST_BLOCK))) {
        free(a);
        snprintf(why, whylen, "out of memory");
        return CK_ENOMEM;
    }
    a->file.fd = -1;
    a->parent = parent;
    if (!(a->ar = new_reader())) {
        snprintf(why, whylen, "cannot set up libarchive");
        src_arc_close(a);
        return CK_ENOMEM;
    }
    archive_read_set_read_callback(a->ar, nested_read_cb);
    int rc = open_reader(a, why, whylen);
    if (rc) {
        src_arc_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

static int fail(src_arc *a, char *why, size_t whylen)
{
    if (a->perr[0]) {
        snprintf(why, whylen, "%s", a->perr);
    } else {
        set_why(why, whylen, a->ar, "read failed");
    }
    return a->io_failed ? CK_EIO : CK_EFORMAT;
}

int src_arc_next(src_arc *a, src_item *it, char *why, size_t whylen)
{
    memset(it, 0, sizeof *it);
    for (int failed = 0;;) {
        int r = archive_read_next_header(a->ar, &a->entry);
        if (r == ARCHIVE_EOF) {
            return 0;
        }
        if (r == ARCHIVE_RETRY) {
            continue;
        }
        if (r == ARCHIVE_FATAL) {
            return fail(a, why, whylen);
        }
        const char *path = archive_entry_pathname(a->entry);
        if (r == ARCHIVE_FAILED) {
            if (!path || ++failed > MAX_FAILED) {
                return fail(a, why, whylen);
            }
            it->type = SRC_BAD;
            set_why(it->why, sizeof it->why, a->ar, "bad header");
        } else if (!path) {
            it->type = SRC_BAD; /* ARCHIVE_WARN without a name */
            set_why(it->why, sizeof it->why, a->ar, "entry without a name");
            path = "";
        } else {
            mode_t t = archive_entry_filetype(a->entry);
            it->type = archive_entry_hardlink(a->entry) ? SRC_HARDLINK
                       : t == AE_IFREG                  ? SRC_FILE
                       : t == AE_IFDIR                  ? SRC_DIR
                       : t == AE_IFLNK                  ? SRC_LINK
                                                        : SRC_SPECIAL;
            if (it->type == SRC_FILE && archive_entry_is_encrypted(a->entry)) {
                it->type = SRC_BAD;
                snprintf(it->why, sizeof it->why, "encrypted");
            }
        }
        it->path = path;
        it->len = strlen(path);
        it->size = archive_entry_size_is_set(a->entry) ? archive_entry_size(a->entry) : -1;
        return 1;
    }
}

ssize_t src_arc_read(src_arc *a, void *dst, size_t n, int *fatal, char *why, size_t whylen)
{
    la_ssize_t r = archive_read_data(a->ar, dst, n);
    *fatal = 0;
    if (r >= 0) {
        return r;
    }
    if (r == ARCHIVE_FATAL) {
        *fatal = 1;
        return fail(a, why, whylen);
    }
    set_why(why, whylen, a->ar, "read failed");
    return CK_EFORMAT;
}

int src_arc_finish(src_arc *a, char *why, size_t whylen)
{
    if (a->file.fd < 0) {
        return 0;
    }
    int rc = src_file_finish(&a->file);
    if (rc) {
        ck_errno_text(-rc, why, whylen);
        return CK_EIO;
    }
    return 0;
}

void src_arc_close(src_arc *a)
{
    if (!a) {
        return;
    }
    if (a->ar) {
        archive_read_free(a->ar);
    }
    if (a->file.fd >= 0 || a->file.buf) {
        src_file_close(&a->file);
    }
    free(a->buf);
    free(a);
}

int src_is_archive(const char *path, char *why, size_t whylen)
{
    src_arc *a;
    if (src_arc_open_file(&a, AT_FDCWD, path, 0, NULL, 1, why, whylen)) {
        return 0;
    }
    src_arc_close(a);
    return 1;
}
