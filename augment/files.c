/* files.c: reading inputs and writing outputs that appear whole or not at
 * all.
 *
 * An output is encoded in memory by libvips (the format from the path's
 * suffix) and written by ck_write_file_atomic: a reader never sees half a
 * file, and a failure leaves nothing behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include "aug_internal.h"

int aug_read_file(const char *path, size_t max_bytes, void **data, size_t *size, char *err,
                  size_t errlen)
{
    *data = NULL;
    *size = 0;
    char eb[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                      ck_errno_text(errno, eb, sizeof eb));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ck_err(err, errlen, CK_EIO, "%s: open: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return ck_err(err, errlen, CK_ELIMIT, "%s: open: %lld bytes is over the %zu byte limit",
                      path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    void *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", path);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f) || got != n;
    if (fclose(f) != 0 || bad) {
        free(buf);
        return ck_err(err, errlen, CK_EIO, "%s: read: short read", path);
    }
    *data = buf;
    *size = n;
    return 0;
}

/* The saver suffix for path (".png", ".jpg[Q=95]", ...). */
static const char *save_suffix(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) {
        return NULL;
    }
    if (g_ascii_strcasecmp(dot, ".jpg") == 0 || g_ascii_strcasecmp(dot, ".jpeg") == 0) {
        return ".jpg[Q=95]";
    }
    return dot;
}

int aug_save_atomic(void *image, const char *path, char *err, size_t errlen)
{
    const char *suffix = save_suffix(path);
    if (!suffix) {
        return ck_err(err, errlen, CK_EINVAL, "%s: save: no file suffix to choose a format", path);
    }
    void *buf = NULL;
    size_t len = 0;
    if (vips_image_write_to_buffer(image, suffix, &buf, &len, NULL)) {
        return im_err_vips(err, errlen, CK_EIO, "%s: encode", path);
    }
    int rc = ck_write_file_atomic(path, buf, len, err, errlen);
    g_free(buf);
    return rc;
}

int aug_encode(void *image, aug_encoding enc, void **out, size_t *len, const char *what, char *err,
               size_t errlen)
{
    *out = NULL;
    *len = 0;
    void *buf = NULL;
    size_t n = 0;
    if (vips_image_write_to_buffer(image, enc == AUG_JPEG ? ".jpg[Q=85,strip]" : ".png[strip]",
                                   &buf, &n, NULL)) {
        return im_err_vips(err, errlen, CK_EIO, "%s: encode", what);
    }
    /* The caller frees with free(), whatever allocator GLib uses. */
    *out = malloc(n ? n : 1);
    if (*out) {
        memcpy(*out, buf, n);
        *len = n;
    }
    g_free(buf);
    return *out ? 0 : ck_err(err, errlen, CK_ENOMEM, "%s: encode: out of memory", what);
}
