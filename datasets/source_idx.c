/* source_idx.c: IDX image and label files (MNIST, Fashion-MNIST), raw or
 * gzip'd.
 *
 * The images file is the source; its labels file is found beside it by
 * name (images -> labels, idx3 -> idx1, with or without .gz). Both are
 * streamed in step, one image and one label at a time, so memory does not
 * depend on the count. A header that disagrees with the data (a raw file of
 * the wrong size, a gzip stream that ends early or goes on, counts that
 * differ) is an error naming the file: such a pair is damaged or mismatched,
 * and guessing which images are good would silently mislabel them.
 *
 * The source hash is XXH3-128 over the XXH3-128 digests (canonical, big-
 * endian) of the images file and of the labels file, each of its bytes as
 * stored (compressed when gzip'd).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "source_internal.h"

enum { IDX_BLOCK = 256 * 1024, IDX_OUT = 64 * 1024 };

typedef struct idx_stream {
    char *path;
    src_file f;
    XXH3_state_t *xx;
    int gz;
    z_stream z;
    int zinit;
    int zend;     /* the last gzip member ended and no input follows */
    uint8_t *out; /* gzip: inflated bytes not yet read (items are small: one
                     inflate call per label would cost more than the label) */
    size_t opos, olen;
} idx_stream;

struct src_idx {
    idx_stream img, lab;
    uint32_t count, rows, cols;
    uint32_t next;
    const char *split;
    char *base; /* images file name, for entry names */
    uint64_t max_entry;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void stream_close(idx_stream *s)
{
    if (s->zinit) {
        inflateEnd(&s->z);
    }
    if (s->f.buf) {
        src_file_close(&s->f);
    }
    if (s->xx) {
        XXH3_freeState(s->xx);
    }
    free(s->out);
    free(s->path);
    memset(s, 0, sizeof *s);
}

/* Opens path for reading, named shown in messages (NULL: path); hashed
 * when hash is set. 0 or -errno. */
static int stream_open(idx_stream *s, const char *path, const char *shown, int hash)
{
    memset(s, 0, sizeof *s);
    if (!(s->path = strdup(shown ? shown : path))) {
        return -ENOMEM;
    }
    if (hash) {
        if (!(s->xx = XXH3_createState())) {
            return -ENOMEM;
        }
        XXH3_128bits_reset(s->xx);
    }
    int rc = src_file_open(&s->f, AT_FDCWD, path, 0, s->xx, IDX_BLOCK);
    if (rc) {
        return rc;
    }
    uint8_t magic[2];
    ssize_t n = src_file_read(&s->f, magic, 2);
    if (n < 0) {
        return (int)n;
    }
    s->gz = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    src_file_seek(&s->f, 0);
    if (s->gz) {
        if (!(s->out = malloc(IDX_OUT)) || inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
            return -ENOMEM;
        }
        s->zinit = 1;
    }
    return 0;
}

/* zlib's reason, in words a user can act on. */
static void gzip_why(const z_stream *z, char *why, size_t whylen)
{
    const char *m = z->msg ? z->msg : "bad data";
    if (strcmp(m, "incorrect data check") == 0) {
        snprintf(why, whylen, "gzip: bad CRC: the data is damaged");
    } else if (strcmp(m, "incorrect length check") == 0) {
        snprintf(why, whylen, "gzip: size mismatch: the trailer's length disagrees with the data");
    } else if (strstr(m, "header") || strcmp(m, "unknown compression method") == 0) {
        snprintf(why, whylen, "gzip: bad header: %s", m);
    } else {
        snprintf(why, whylen, "gzip: damaged data: %s", m);
    }
}

/* Inflates up to n bytes into dst: the count (short only at the end) or a
 * negative code with why. */
static ssize_t inflate_some(idx_stream *s, uint8_t *dst, size_t n, char *why, size_t whylen)
{
    s->z.next_out = dst;
    s->z.avail_out = (uInt)n;
    while (s->z.avail_out > 0 && !s->zend) {
        if (s->z.avail_in == 0) {
            const uint8_t *p;
            ssize_t r = src_file_block(&s->f, &p);
            if (r < 0) {
                ck_errno_text((int)-r, why, whylen);
                return CK_EIO;
            }
            if (r == 0) {
                if (s->z.avail_out < n) {
                    break; /* give what was inflated; the next call says why it stops */
                }
                snprintf(why, whylen, "gzip: truncated: the file ends inside the compressed data");
                return CK_EFORMAT;
            }
            s->z.next_in = (Bytef *)p;
            s->z.avail_in = (uInt)r;
        }
        int zr = inflate(&s->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            /* Another gzip member may follow (as gzip -c a b > c makes). */
            if (s->z.avail_in == 0) {
                const uint8_t *p;
                ssize_t r = src_file_block(&s->f, &p);
                if (r < 0) {
                    ck_errno_text((int)-r, why, whylen);
                    return CK_EIO;
                }
                s->z.next_in = (Bytef *)p;
                s->z.avail_in = (uInt)r;
            }
            if (s->z.avail_in == 0) {
                s->zend = 1;
            } else {
                inflateReset(&s->z);
            }
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            gzip_why(&s->z, why, whylen);
            return CK_EFORMAT;
        }
    }
    return (ssize_t)(n - s->z.avail_out);
}

/* Reads up to n bytes of the (decompressed) data: the count, short only at
 * the end, or a negative code with why. */
static ssize_t stream_read(idx_stream *s, void *dst, size_t n, char *why, size_t whylen)
{
    if (!s->gz) {
        ssize_t r = src_file_read(&s->f, dst, n);
        if (r < 0) {
            ck_errno_text((int)-r, why, whylen);
            return CK_EIO;
        }
        return r;
    }
    uint8_t *d = dst;
    size_t got = 0;
    while (got < n) {
        if (s->opos == s->olen) {
            ssize_t r = inflate_some(s, s->out, IDX_OUT, why, whylen);
            if (r < 0) {
                return r;
            }
            if (r == 0) {
                break;
            }
            s->opos = 0;
            s->olen = (size_t)r;
        }
        size_t take = s->olen - s->opos < n - got ? s->olen - s->opos : n - got;
        memcpy(d + got, s->out + s->opos, take);
        s->opos += take;
        got += take;
    }
    return (ssize_t)got;
}

/* Skips n bytes of data. */
static ssize_t stream_skip(idx_stream *s, uint64_t n, char *why, size_t whylen)
{
    uint8_t tmp[4096];
    uint64_t done = 0;
    while (done < n) {
        size_t want = n - done < sizeof tmp ? (size_t)(n - done) : sizeof tmp;
        ssize_t r = stream_read(s, tmp, want, why, whylen);
        if (r <= 0) {
            return r < 0 ? r : (ssize_t)done;
        }
        done += (uint64_t)r;
    }
    return (ssize_t)done;
}

int src_idx_probe(const char *path, char *why, size_t whylen)
{
    idx_stream s;
    uint8_t h[4] = {0};
    int rc = stream_open(&s, path, NULL, 0);
    int gz = s.gz;
    ssize_t n = rc ? rc : stream_read(&s, h, 4, why, whylen);
    stream_close(&s);
    if (n == CK_EFORMAT && gz) {
        return SRC_IDX_BAD_GZIP;
    }
    if (n == CK_EIO) {
        return -EIO;
    }
    if (n < 0) {
        return n == CK_EFORMAT ? 0 : (int)n;
    }
    if (n < 4 || h[0] != 0 || h[1] != 0 || h[2] != 0x08) {
        return 0;
    }
    return h[3] == 3 ? 3 : h[3] == 1 ? 1 : 0;
}

char *src_idx_labels_name(const char *path)
{
    const char *base = src_basename(path);
    const char *img = strstr(base, "images");
    size_t len = strlen(path);
    char *cand = img ? malloc(len + 4) : NULL;
    if (!cand) {
        return NULL;
    }
    memcpy(cand, path, len + 1);
    memcpy(cand + (img - path), "labels", 6);
    char *idx3 = strstr(cand + (base - path), "idx3");
    if (idx3) {
        idx3[3] = '1';
    }
    return cand;
}

/* The labels file beside path: images -> labels, idx3 -> idx1, then the
 * other compression. Writes the first candidate into tried. */
static char *find_labels(const char *path, char *tried, size_t triedlen)
{
    char *cand = src_idx_labels_name(path);
    if (!cand) {
        snprintf(tried, triedlen, "a name with \"images\" in it");
        return NULL;
    }
    snprintf(tried, triedlen, "%s", cand);
    struct stat st;
    if (stat(cand, &st) == 0) {
        return cand;
    }
    size_t cl = strlen(cand);
    char *other = realloc(cand, cl + 4);
    if (!other) {
        free(cand);
        return NULL;
    }
    cand = other;
    if (cl > 3 && strcmp(cand + cl - 3, ".gz") == 0) {
        cand[cl - 3] = '\0';
    } else {
        memcpy(cand + cl, ".gz", 4);
    }
    if (stat(cand, &st) == 0) {
        return cand;
    }
    free(cand);
    return NULL;
}

static int read_header(idx_stream *s, uint8_t *h, size_t n, char *err, size_t errlen)
{
    char why[160];
    ssize_t r = stream_read(s, h, n, why, sizeof why);
    if (r < 0) {
        return ck_err(err, errlen, (int)r, "%s: read: %s", s->path, why);
    }
    if ((size_t)r < n) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: header: file too short", s->path);
    }
    return 0;
}

int src_idx_open_files(src_idx **out, const src_idx_files *fs, const ds_limits *lim, char *err,
                       size_t errlen)
{
    *out = NULL;
    const char *path = fs->images_name ? fs->images_name : fs->images;
    src_idx *x = calloc(1, sizeof *x);
    if (!x) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
    }
    x->max_entry = lim->max_entry_bytes;
    char msg[160], tried[512];
    int rc = stream_open(&x->img, fs->images, path, 1);
    uint8_t h[16];
    if (rc) {
        rc = ck_err(err, errlen, CK_EIO, "%s: open: %s", path, ck_errno_text(-rc, msg, sizeof msg));
        goto fail;
    }
    if ((rc = read_header(&x->img, h, 16, err, errlen))) {
        goto fail;
    }
    if (be32(h) != 0x803) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: header: not an IDX images file (magic %08x)",
                    path, (unsigned)be32(h));
        goto fail;
    }
    x->count = be32(h + 4);
    x->rows = be32(h + 8);
    x->cols = be32(h + 12);
    uint64_t pixels = (uint64_t)x->rows * x->cols;
    if ((pixels == 0 && x->count > 0) || x->rows > INT32_MAX || x->cols > INT32_MAX ||
        (pixels && x->count > (UINT64_MAX - 16) / pixels)) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: header: %u images of %ux%u pixels", path,
                    (unsigned)x->count, (unsigned)x->rows, (unsigned)x->cols);
        goto fail;
    }
    if ((lim->max_entries && (uint64_t)x->count > lim->max_entries) ||
        (lim->max_total_bytes && pixels * x->count > lim->max_total_bytes)) {
        rc = ck_err(err, errlen, CK_ELIMIT,
                    "%s: header: %u images of %ux%u (%llu bytes) exceed the dataset limit (%llu "
                    "entries, %llu bytes; see --max-entries, --max-total-mb)",
                    path, (unsigned)x->count, (unsigned)x->rows, (unsigned)x->cols,
                    (unsigned long long)pixels * x->count, (unsigned long long)lim->max_entries,
                    (unsigned long long)lim->max_total_bytes);
        goto fail;
    }
    uint64_t want = 16 + pixels * x->count;
    if (!x->img.gz && x->img.f.size != want) {
        rc = ck_err(err, errlen, CK_EFORMAT,
                    "%s: header: %u images of %ux%u need %llu bytes, the file has %llu", path,
                    (unsigned)x->count, (unsigned)x->rows, (unsigned)x->cols,
                    (unsigned long long)want, (unsigned long long)x->img.f.size);
        goto fail;
    }
    char *lpath = fs->labels ? NULL : find_labels(path, tried, sizeof tried);
    if (!lpath && !fs->labels) {
        rc = ck_err(err, errlen, CK_EIO, "%s: labels: no labels file beside it (tried %s)", path,
                    tried);
        goto fail;
    }
    if (fs->labels) {
        snprintf(tried, sizeof tried, "%s", fs->labels_name ? fs->labels_name : fs->labels);
    }
    rc = fs->labels ? stream_open(&x->lab, fs->labels, fs->labels_name, 1)
                    : stream_open(&x->lab, lpath, NULL, 1);
    free(lpath);
    if (rc) {
        rc = ck_err(err, errlen, CK_EIO, "%s: open: %s", x->lab.path ? x->lab.path : tried,
                    ck_errno_text(-rc, msg, sizeof msg));
        goto fail;
    }
    if ((rc = read_header(&x->lab, h, 8, err, errlen))) {
        goto fail;
    }
    if (be32(h) != 0x801) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: header: not an IDX labels file (magic %08x)",
                    x->lab.path, (unsigned)be32(h));
        goto fail;
    }
    if (be32(h + 4) != x->count) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: header: %u labels for %u images in %s",
                    x->lab.path, (unsigned)be32(h + 4), (unsigned)x->count, path);
        goto fail;
    }
    if (!x->lab.gz && x->lab.f.size != 8 + (uint64_t)x->count) {
        rc = ck_err(err, errlen, CK_EFORMAT,
                    "%s: header: %u labels need %llu bytes, the file has %llu", x->lab.path,
                    (unsigned)x->count, 8 + (unsigned long long)x->count,
                    (unsigned long long)x->lab.f.size);
        goto fail;
    }
    const char *base = src_basename(path);
    x->split = strncmp(base, "train", 5) == 0                                   ? "train"
               : strncmp(base, "t10k", 4) == 0 || strncmp(base, "test", 4) == 0 ? "test"
                                                                                : NULL;
    x->base = fs->entry_prefix ? strdup(fs->entry_prefix) : src_escape(base, strlen(base));
    if (!x->base) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
        goto fail;
    }
    *out = x;
    return 0;
fail:
    src_idx_close(x);
    return rc;
}

int src_idx_open(src_idx **out, const char *path, const ds_limits *lim, char *err, size_t errlen)
{
    src_idx_files fs = {.images = path};
    return src_idx_open_files(out, &fs, lim, err, errlen);
}

/* At the end: both streams must be exhausted. */
static int check_end(idx_stream *s, uint32_t count, char *err, size_t errlen)
{
    uint8_t b;
    char why[160];
    ssize_t r = stream_read(s, &b, 1, why, sizeof why);
    if (r < 0) {
        return ck_err(err, errlen, (int)r, "%s: read: %s", s->path, why);
    }
    if (r > 0) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: header: data goes on after %u items", s->path,
                      (unsigned)count);
    }
    if (src_file_finish(&s->f)) {
        return ck_err(err, errlen, CK_EIO, "%s: read: cannot read to the end", s->path);
    }
    return 0;
}

int src_idx_next(src_idx *x, ds_entry **out, char *err, size_t errlen)
{
    *out = NULL;
    if (x->next == x->count) {
        int rc = check_end(&x->img, x->count, err, errlen);
        return rc ? rc : check_end(&x->lab, x->count, err, errlen);
    }
    uint32_t i = x->next;
    char why[160];
    uint8_t label;
    ssize_t r = stream_read(&x->lab, &label, 1, why, sizeof why);
    if (r != 1) {
        return r < 0 ? ck_err(err, errlen, (int)r, "%s#%u: read: %s", x->lab.path, (unsigned)i, why)
                     : ck_err(err, errlen, CK_EFORMAT,
                              "%s: header: %u labels, the data ends after %u", x->lab.path,
                              (unsigned)x->count, (unsigned)i);
    }
    char name[32], text[4];
    int nl = snprintf(name, sizeof name, "#%u", (unsigned)i);
    int tl = snprintf(text, sizeof text, "%u", (unsigned)label);
    ds_entry *e = src_entry_new(x->base, name, (size_t)nl, text, (size_t)tl, x->split);
    if (!e) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", x->img.path);
    }
    e->kind = DS_ENTRY_RAW;
    e->width = (int)x->cols;
    e->height = (int)x->rows;
    e->bands = 1;
    uint64_t pixels = (uint64_t)x->rows * x->cols;
    int rc = 0;
    if (pixels > x->max_entry || pixels > INT32_MAX) {
        r = stream_skip(&x->img, pixels, why, sizeof why);
        rc = r < 0 ? 0
                   : src_reject(e, "larger than the entry size limit (%llu > %llu bytes)",
                                (unsigned long long)pixels, (unsigned long long)x->max_entry);
    } else if (!(e->data = malloc(pixels))) {
        rc = CK_ENOMEM;
    } else {
        e->size = (size_t)pixels;
        r = stream_read(&x->img, e->data, e->size, why, sizeof why);
    }
    if (rc == CK_ENOMEM) {
        ds_entry_free(e);
        return ck_err(err, errlen, rc, "%s#%u: read: out of memory", x->img.path, (unsigned)i);
    }
    if (r < 0) {
        ds_entry_free(e);
        return ck_err(err, errlen, (int)r, "%s#%u: read: %s", x->img.path, (unsigned)i, why);
    }
    if ((uint64_t)r < pixels) {
        ds_entry_free(e);
        return ck_err(err, errlen, CK_EFORMAT, "%s: header: %u images, the data ends in image %u",
                      x->img.path, (unsigned)x->count, (unsigned)i);
    }
    x->next++;
    *out = e;
    return 1;
}

void src_idx_digest(src_idx *x, XXH3_state_t *into)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(x->img.xx));
    XXH3_128bits_update(into, c.digest, sizeof c.digest);
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(x->lab.xx));
    XXH3_128bits_update(into, c.digest, sizeof c.digest);
}

void src_idx_close(src_idx *x)
{
    if (!x) {
        return;
    }
    stream_close(&x->img);
    stream_close(&x->lab);
    free(x->base);
    free(x);
}
