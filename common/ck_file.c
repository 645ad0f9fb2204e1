/* ck_file.c: errno text, and files that appear whole or not at all.
 *
 * Every output convkit writes (checkpoints, Keras .h5 files, features.db,
 * exported curves, plots, augmented images) goes through one protocol, so
 * a killed run or a full disk never leaves half a file under the final
 * name and a reader never sees one being written:
 *
 *   1. the bytes go to "<path>.part" beside the output (same directory, so
 *      the rename cannot cross file systems), a file created anew: a
 *      leftover of a killed run is removed first, and a symbolic link
 *      planted at that name is removed, never followed;
 *   2. the .part file is flushed to disk (fsync) before it takes the
 *      output's name, so a crash after the rename cannot leave an empty or
 *      partial file under it (the directory itself is not synced: after a
 *      crash the output may still be the previous version, never a broken
 *      one);
 *   3. rename(2) puts it in place; on any failure the .part file is
 *      removed and an existing output is left as it was.
 *
 * One writer per output path: two processes writing the same output at
 * once share its .part file, as they would share the output itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck.h"

const char *ck_errno_text(int errnum, char *buf, size_t len)
{
    if (strerror_r(errnum, buf, len) != 0) {
        snprintf(buf, len, "error %d", errnum);
    }
    return buf;
}

static int file_err(char *err, size_t errlen, const char *path, const char *step, int errnum)
{
    char why[128];
    return ck_err(err, errlen, CK_EIO, "%s: %s: %s", path, step,
                  ck_errno_text(errnum, why, sizeof why));
}

int ck_atomic_open(ck_atomic *a, const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path);
    *a = (ck_atomic){.fd = -1};
    if (!(a->path = strdup(path)) || !(a->tmp = malloc(n + sizeof CK_PART_SUFFIX))) {
        ck_atomic_abort(a);
        return ck_err(err, errlen, CK_ENOMEM, "%s: create: out of memory", path);
    }
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, CK_PART_SUFFIX, sizeof CK_PART_SUFFIX);
    /* A killed run's leftover goes first; then a file of our own, never one
     * reached through a link planted at that name. */
    unlink(a->tmp);
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (a->fd < 0) {
        int e = errno;
        free(a->tmp); /* nothing was created: nothing to remove */
        a->tmp = NULL;
        ck_atomic_abort(a);
        return file_err(err, errlen, path, "create", e);
    }
    return 0;
}

int ck_atomic_open_named(ck_atomic *a, const char *path, char *err, size_t errlen)
{
    int rc = ck_atomic_open(a, path, err, errlen);
    if (rc == 0) {
        close(a->fd);
        a->fd = -1;
    }
    return rc;
}

int ck_atomic_write(ck_atomic *a, const void *data, size_t len, char *err, size_t errlen)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(a->fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return file_err(err, errlen, a->path, "write", w < 0 ? errno : ENOSPC);
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int ck_atomic_commit(ck_atomic *a, char *err, size_t errlen)
{
    int rc = 0;
    /* Writers that let a library write the file by name (libhdf5, SQLite,
     * PLplot) closed their own descriptor: reopen to flush it. */
    int fd = a->fd >= 0 ? a->fd : open(a->tmp, O_RDONLY | O_CLOEXEC);
    a->fd = -1;
    if (fd < 0 || fsync(fd) != 0) {
        rc = file_err(err, errlen, a->path, "write", errno);
    }
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        rc = file_err(err, errlen, a->path, "write", errno);
    }
    if (rc == 0 && rename(a->tmp, a->path) != 0) {
        rc = file_err(err, errlen, a->path, "rename", errno);
    }
    if (rc == 0) {
        free(a->tmp); /* in place: nothing left to remove */
        a->tmp = NULL;
    }
    ck_atomic_abort(a);
    return rc;
}

void ck_atomic_abort(ck_atomic *a)
{
    if (a->fd >= 0) {
        close(a->fd);
    }
    if (a->tmp) {
        unlink(a->tmp);
    }
    free(a->tmp);
    free(a->path);
    *a = (ck_atomic){.fd = -1};
}

int ck_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    ck_atomic a;
    int rc = ck_atomic_open(&a, path, err, errlen);
    if (rc == 0 && (rc = ck_atomic_write(&a, data, len, err, errlen)) != 0) {
        ck_atomic_abort(&a);
        return rc;
    }
    return rc ? rc : ck_atomic_commit(&a, err, errlen);
}
