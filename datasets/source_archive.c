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
 *
 * Damage is reported as items, never skipped in silence:
 *   - names: libarchive converts them to the current locale, and a name it
 *     cannot convert comes back NULL (a zip's UTF-8 names in the C locale).
 *     Every call that may convert names runs with a UTF-8 LC_CTYPE of this
 *     thread (uselocale), so names arrive as the UTF-8 the catalog stores,
 *     whatever the user's locale; other bytes are kept as they are (tar) and
 *     escaped later. A name libarchive still cannot give (invalid UTF-8 in
 *     a zip that flags its names as UTF-8) becomes "(entry N: name not
 *     readable)": the sample is kept, unlabelled.
 *   - headers that fail their checksum (ARCHIVE_RETRY: libarchive skips a
 *     block and looks again) come back as one SRC_BAD item per damaged
 *     stretch, named after the byte where it starts.
 *   - a zip file level whose central directory lists fewer entries than its
 *     end record declares (garbage, or cut) is read again by its local
 *     headers with the streaming reader, from the first entry the central
 *     directory could not give; a SRC_BAD item says so.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source_internal.h"

enum {
    FILE_BLOCK = 256 * 1024,  /* preads of file levels */
    LITE_BLOCK = 2 * 1024,    /* survey reads: a local header and a little more */
    NEST_BLOCK = 64 * 1024,   /* chunks of a parent's entry data */
    MAX_FAILED = 1000,        /* consecutive bad headers before giving up */
    EOCD_SEARCH = 65535 + 22, /* a zip's end record lies in this many last bytes */
};

struct src_arc {
    struct archive *ar;
    struct archive_entry *entry; /* current, owned by ar */
    src_file file;               /* file levels */
    src_arc *parent;             /* nested levels */
    uint8_t *buf;                /* nested levels: NEST_BLOCK */
    char perr[200];              /* nested: the parent's read failure, if any */
    int io_failed;               /* our callback failed (not the format) */
    int lite;
    locale_t utf8;    /* LC_CTYPE for libarchive's name conversions; 0: none */
    int64_t listed;   /* entries given so far (SRC_BAD notes not counted) */
    int64_t skip;     /* streaming re-read: entries the central directory gave */
    int streamed;     /* a file level re-read by its local headers */
    int64_t retries;  /* damaged header blocks skipped since the last item */
    int64_t retry_at; /* where the first of them was */
    char retry_why[160];
    int held, held_r; /* a header result waiting behind a damage report */
    char name[96];    /* a name made up for an item (damage, no name) */
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

/* streaming: a zip read by its local headers only (a re-read, see above). */
static struct archive *new_reader(int streaming)
{
    struct archive *ar = archive_read_new();
    if (!ar) {
        return NULL;
    }
    if (streaming) {
        if (archive_read_support_format_zip_streamable(ar) != ARCHIVE_OK) {
            archive_read_free(ar);
            return NULL;
        }
        return ar;
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
    locale_t old = a->utf8 ? uselocale(a->utf8) : (locale_t)0;
    int r = archive_read_open1(a->ar);
    if (a->utf8) {
        uselocale(old);
    }
    if (r != ARCHIVE_OK) {
        if (a->perr[0]) {
            snprintf(why, whylen, "%s", a->perr);
        } else {
            set_why(why, whylen, a->ar, "not an archive");
        }
        return a->io_failed ? CK_EIO : CK_EFORMAT;
    }
    return 0;
}

/* A UTF-8 LC_CTYPE for a's libarchive calls; none (names then follow the
 * process locale) if the C library has no C.UTF-8. */
static void use_utf8(src_arc *a)
{
    a->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Sets up a file level's reader, streaming or not; 0 or a code with why. */
static int file_reader(src_arc *a, int streaming, char *why, size_t whylen)
{
    if (!(a->ar = new_reader(streaming))) {
        snprintf(why, whylen, "cannot set up libarchive");
        return CK_ENOMEM;
    }
    archive_read_set_read_callback(a->ar, file_read_cb);
    archive_read_set_seek_callback(a->ar, file_seek_cb);
    if (a->lite) {
        archive_read_set_skip_callback(a->ar, file_skip_cb);
    }
    return open_reader(a, why, whylen);
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
    a->lite = lite;
    use_utf8(a);
    if ((rc = file_reader(a, 0, why, whylen))) {
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
    use_utf8(a);
    if (!(a->ar = new_reader(0))) {
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

/* The number of entries a file level's zip end record declares, or -1
 * (not a zip, a zip64 count, no end record). */
static int64_t zip_declared(src_arc *a)
{
    if ((archive_format(a->ar) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_ZIP ||
        a->file.fd < 0 || a->file.size < 22) {
        return -1;
    }
    size_t n = a->file.size < EOCD_SEARCH ? (size_t)a->file.size : EOCD_SEARCH;
    uint8_t *tail = malloc(n);
    int64_t count = -1;
    if (tail && pread(a->file.fd, tail, n, (off_t)(a->file.size - n)) == (ssize_t)n) {
        for (size_t i = n - 22 + 1; i-- > 0;) {
            if (tail[i] == 'P' && tail[i + 1] == 'K' && tail[i + 2] == 5 && tail[i + 3] == 6) {
                unsigned total = (unsigned)tail[i + 10] | (unsigned)tail[i + 11] << 8;
                count = total == 0xFFFF ? -1 : (int64_t)total;
                break;
            }
        }
    }
    free(tail);
    return count;
}

/* After a file level's seekable zip reader ended (EOF or fatal) short of
 * what its end record declares: starts reading it again by local headers.
 * Returns 1 (switched; *note filled), 0 (nothing to do). */
static int restream_zip(src_arc *a, int fatal, char *note, size_t notelen)
{
    if (a->streamed || a->file.fd < 0) {
        return 0;
    }
    int64_t declared = zip_declared(a);
    if (declared < 0 || a->listed >= declared) {
        return 0;
    }
    char why[100];
    set_why(why, sizeof why, a->ar, "unreadable");
    archive_read_free(a->ar);
    a->ar = NULL;
    src_file_seek(&a->file, 0);
    a->streamed = 1;
    a->skip = a->listed;
    if (file_reader(a, 1, note, notelen) != 0) {
        return 0; /* a->ar may be NULL: the caller reports the failure */
    }
    snprintf(note, notelen,
             "central directory: %lld of %lld entries listed (%s); the rest read from their "
             "local headers",
             (long long)a->listed, (long long)declared, fatal ? why : "the rest unreadable");
    return 1;
}

static int next_header(src_arc *a)
{
    if (a->held) {
        a->held = 0;
        return a->held_r;
    }
    locale_t old = a->utf8 ? uselocale(a->utf8) : (locale_t)0;
    int r = archive_read_next_header(a->ar, &a->entry);
    if (a->utf8) {
        uselocale(old);
    }
    return r;
}

static int bad_item(src_item *it, const char *name, const char *why)
{
    it->type = SRC_BAD;
    it->path = name;
    it->len = strlen(name);
    it->size = -1;
    snprintf(it->why, sizeof it->why, "%.159s", why);
    return 1;
}

int src_arc_next(src_arc *a, src_item *it, char *why, size_t whylen)
{
    memset(it, 0, sizeof *it);
    for (int failed = 0;;) {
        if (!a->ar) {
            snprintf(why, whylen, "cannot set up libarchive");
            return CK_ENOMEM;
        }
        int r = next_header(a);
        if (r == ARCHIVE_RETRY) {
            if (a->retries++ == 0) {
                a->retry_at = archive_read_header_position(a->ar);
                set_why(a->retry_why, sizeof a->retry_why, a->ar, "damaged header");
            }
            continue;
        }
        if (a->retries > 0) {
            /* Report the damaged stretch first; r waits for the next call. */
            a->held = 1;
            a->held_r = r;
            snprintf(a->name, sizeof a->name, "(damaged header at byte %lld)",
                     (long long)a->retry_at);
            char note[200];
            snprintf(note, sizeof note, "%s: %lld blocks skipped", a->retry_why,
                     (long long)a->retries);
            a->retries = 0;
            return bad_item(it, a->name, note);
        }
        if (r == ARCHIVE_EOF || (r == ARCHIVE_FATAL && !a->streamed)) {
            char note[200];
            if (restream_zip(a, r == ARCHIVE_FATAL, note, sizeof note)) {
                snprintf(a->name, sizeof a->name, "(central directory)");
                return bad_item(it, a->name, note);
            }
        }
        if (r == ARCHIVE_EOF) {
            return 0;
        }
        if (r == ARCHIVE_FATAL) {
            return fail(a, why, whylen);
        }
        if (a->skip > 0) {
            a->skip--; /* given already by the central directory */
            continue;
        }
        const char *path = archive_entry_pathname(a->entry);
        if (r == ARCHIVE_FAILED) {
            if (++failed > MAX_FAILED) {
                return fail(a, why, whylen);
            }
            it->type = SRC_BAD;
            set_why(it->why, sizeof it->why, a->ar, "bad header");
            if (!path) {
                snprintf(a->name, sizeof a->name, "(entry %lld: bad header)", (long long)a->listed);
                path = a->name;
            }
        } else {
            if (!path) {
                /* ARCHIVE_WARN: a name libarchive could not convert. */
                snprintf(a->name, sizeof a->name, "(entry %lld: name not readable)",
                         (long long)a->listed);
                path = a->name;
            }
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
        a->listed++;
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
    if (a->utf8) {
        freelocale(a->utf8);
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
