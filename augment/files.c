/* files.c: reading inputs and writing outputs that appear whole or not at
 * all.
 *
 * An output is encoded in memory by libvips (the format from the path's
 * suffix), written to a mkstemp file beside its final name, and renamed:
 * a reader never sees half a file, and a failure leaves nothing behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include "aug_internal.h"

const char *aug_strerror(int errnum, char *buf, size_t len)
{
    if (strerror_r(errnum, buf, len) != 0) {
        snprintf(buf, len, "error %d", errnum);
    }
    return buf;
}

int aug_read_file(const char *path, size_t max_bytes, void **data, size_t *size, char *err,
                  size_t errlen)
{
    *data = NULL;
    *size = 0;
    char eb[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                      aug_strerror(errno, eb, sizeof eb));
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
    char eb[128];
    if (!suffix) {
        return ck_err(err, errlen, CK_EINVAL, "%s: save: no file suffix to choose a format", path);
    }
    void *buf = NULL;
    size_t len = 0;
    if (vips_image_write_to_buffer(image, suffix, &buf, &len, NULL)) {
        return im_err_vips(err, errlen, CK_EIO, "%s: encode", path);
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp) {
        g_free(buf);
        return ck_err(err, errlen, CK_ENOMEM, "%s: save: out of memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        g_free(buf);
        free(tmp);
        return ck_err(err, errlen, CK_EIO, "%s: create: %s", path, aug_strerror(e, eb, sizeof eb));
    }
    int rc = 0;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, (const char *)buf + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            rc = ck_err(err, errlen, CK_EIO, "%s: write: %s", path,
                        aug_strerror(errno, eb, sizeof eb));
            break;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: write: %s", path, aug_strerror(errno, eb, sizeof eb));
    }
    /* mkstemp makes the file 0600; give it the usual mode. */
    if (rc == 0 && chmod(tmp, 0644) != 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: chmod: %s", path, aug_strerror(errno, eb, sizeof eb));
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc =
            ck_err(err, errlen, CK_EIO, "%s: rename: %s", path, aug_strerror(errno, eb, sizeof eb));
    }
    if (rc) {
        unlink(tmp);
    }
    g_free(buf);
    free(tmp);
    return rc;
}
