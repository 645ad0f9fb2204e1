/* source_hoda.c: HODA Persian digit files (.cdb).
 *
 * Layout (little-endian), as the HODA distribution defines it:
 *   header, 1024 bytes: u16 year, u8 month, u8 day, u8 height, u8 width
 *     (both 0 when records carry their own size), u32 record count,
 *     u32 count per class [128], u8 image type (0: binary), 256 bytes of
 *     comment, 245 reserved;
 *   records: 0xFF, u8 label, [u8 width, u8 height when the header's are 0],
 *     u16 byte count, then that many bytes: for each row, run lengths
 *     alternating background and ink, starting with background, until the
 *     row's width is covered.
 * Samples keep their original size; ink is 255 on a background of 0, the
 * MNIST convention, so both datasets train with the same code.
 *
 * Framing errors (a record that runs past the end, a missing 0xFF, data
 * after the last record) are errors naming the file and record: what
 * follows cannot be trusted. A payload whose runs do not fit its size is
 * framed correctly, so only that entry is rejected. Grey-level files (type
 * 1) are refused: no such file is known to be in circulation to test with.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_internal.h"

enum { HODA_HEADER = 1024, HODA_BLOCK = 256 * 1024 };

struct src_hoda {
    char *path;
    char *base; /* escaped file name, for entry names */
    src_file f;
    uint32_t total, next;
    int width, height; /* fixed by the header, or 0 */
    uint64_t max_entry;
    uint8_t payload[65535];
};

int src_hoda_open_as(src_hoda **out, const char *file, const char *path, const char *entry_prefix,
                     const ds_limits *lim, XXH3_state_t *xx, char *err, size_t errlen)
{
    *out = NULL;
    src_hoda *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
    }
    h->f.fd = -1;
    h->max_entry = lim->max_entry_bytes;
    char msg[128];
    uint8_t hd[HODA_HEADER];
    int rc = src_file_open(&h->f, AT_FDCWD, file, 0, xx, HODA_BLOCK);
    if (rc) {
        rc = ck_err(err, errlen, CK_EIO, "%s: open: %s", path, ck_errno_text(-rc, msg, sizeof msg));
        goto fail;
    }
    ssize_t n = src_file_read(&h->f, hd, sizeof hd);
    if (n < 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: read: %s", path,
                    ck_errno_text((int)-n, msg, sizeof msg));
        goto fail;
    }
    if (n < HODA_HEADER) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: header: file too short (%zd bytes)", path, n);
        goto fail;
    }
    h->height = hd[4];
    h->width = hd[5];
    h->total =
        (uint32_t)hd[6] | (uint32_t)hd[7] << 8 | (uint32_t)hd[8] << 16 | (uint32_t)hd[9] << 24;
    if (hd[522] != 0) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: header: image type %u is not supported", path,
                    hd[522]);
        goto fail;
    }
    const char *base = src_basename(path);
    h->base = entry_prefix ? strdup(entry_prefix) : src_escape(base, strlen(base));
    if (!h->base) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    src_hoda_close(h);
    return rc;
}

int src_hoda_open(src_hoda **out, const char *path, const ds_limits *lim, XXH3_state_t *xx,
                  char *err, size_t errlen)
{
    return src_hoda_open_as(out, path, path, NULL, lim, xx, err, errlen);
}

/* Decodes count payload bytes into a w x h image (ink 255). NULL reason on
 * success, else why the runs do not fit. */
static const char *decode(const uint8_t *p, size_t count, int w, int h, uint8_t *img)
{
    size_t k = 0;
    for (int y = 0; y < h; y++) {
        uint8_t *row = img + (size_t)y * (size_t)w;
        int x = 0, ink = 0;
        while (x < w) {
            if (k == count) {
                return "run lengths end before the image does";
            }
            int r = p[k++];
            if (x + r > w) {
                return "a run goes past the end of its row";
            }
            if (ink) {
                memset(row + x, 255, (size_t)r);
            }
            x += r;
            ink = !ink;
        }
    }
    return k == count ? NULL : "run lengths go on after the image";
}

static int past_end(src_hoda *h, uint32_t i, char *err, size_t errlen)
{
    return ck_err(err, errlen, CK_EFORMAT,
                  "%s: record %u: runs past the end of the file (the header says %u records)",
                  h->path, (unsigned)i, (unsigned)h->total);
}

int src_hoda_next(src_hoda *h, ds_entry **out, char *err, size_t errlen)
{
    *out = NULL;
    uint32_t i = h->next;
    char msg[128];
    uint8_t b[6];
    if (i == h->total) {
        ssize_t n = src_file_read(&h->f, b, 1);
        if (n > 0) {
            return ck_err(err, errlen, CK_EFORMAT,
                          "%s: record %u: data goes on after the %u records of the header", h->path,
                          (unsigned)i, (unsigned)h->total);
        }
        int rc = n < 0 ? (int)n : src_file_finish(&h->f);
        if (rc) {
            return ck_err(err, errlen, CK_EIO, "%s: read: %s", h->path,
                          ck_errno_text(-rc, msg, sizeof msg));
        }
        return 0;
    }
    int fixed = h->width > 0 && h->height > 0;
    size_t head = fixed ? 4 : 6;
    ssize_t n = src_file_read(&h->f, b, head);
    if (n < 0) {
        return ck_err(err, errlen, CK_EIO, "%s: record %u: read: %s", h->path, (unsigned)i,
                      ck_errno_text((int)-n, msg, sizeof msg));
    }
    if ((size_t)n < head) {
        return past_end(h, i, err, errlen);
    }
    if (b[0] != 0xFF) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: record %u: starts with 0x%02X, not 0xFF",
                      h->path, (unsigned)i, b[0]);
    }
    int w = fixed ? h->width : b[2];
    int ht = fixed ? h->height : b[3];
    size_t count = (size_t)b[head - 2] | (size_t)b[head - 1] << 8;
    n = src_file_read(&h->f, h->payload, count);
    if (n < 0) {
        return ck_err(err, errlen, CK_EIO, "%s: record %u: read: %s", h->path, (unsigned)i,
                      ck_errno_text((int)-n, msg, sizeof msg));
    }
    if ((size_t)n < count) {
        return past_end(h, i, err, errlen);
    }
    char name[16], label[4];
    int nl = snprintf(name, sizeof name, "#%u", (unsigned)i);
    int ll = snprintf(label, sizeof label, "%u", b[1]);
    ds_entry *e = src_entry_new(h->base, name, (size_t)nl, label, (size_t)ll, NULL);
    if (!e) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: record %u: out of memory", h->path, (unsigned)i);
    }
    e->kind = DS_ENTRY_RAW;
    e->width = w;
    e->height = ht;
    e->bands = 1;
    size_t pixels = (size_t)w * (size_t)ht;
    int rc = 0;
    if (pixels == 0) {
        rc = src_reject(e, "empty image (%dx%d)", w, ht);
    } else if (pixels > h->max_entry) {
        rc = src_reject(e, "larger than the entry size limit (%zu > %llu bytes)", pixels,
                        (unsigned long long)h->max_entry);
    } else if (!(e->data = calloc(pixels, 1))) {
        rc = CK_ENOMEM;
    } else {
        e->size = pixels;
        const char *why = decode(h->payload, count, w, ht, e->data);
        if (why) {
            rc = src_reject(e, "%s", why);
        }
    }
    if (rc) {
        ds_entry_free(e);
        return ck_err(err, errlen, rc, "%s: record %u: out of memory", h->path, (unsigned)i);
    }
    h->next++;
    *out = e;
    return 1;
}

void src_hoda_close(src_hoda *h)
{
    if (!h) {
        return;
    }
    if (h->f.buf) {
        src_file_close(&h->f);
    }
    free(h->base);
    free(h->path);
    free(h);
}
