/* source_util.c: the pieces every source reader uses: files read in order
 * and hashed as they pass, entry names made safe to store and print, path
 * components, entries.
 *
 * Names are data: they are escaped so that the catalog holds valid UTF-8
 * and an error line stays one line (control characters are escaped too),
 * and they are only ever split into components for labelling, never used
 * to open anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_internal.h"

/* ---- files ------------------------------------------------------------- */

int src_file_open(src_file *f, int dirfd, const char *path, int nofollow, XXH3_state_t *xx,
                  size_t cap)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    /* O_NONBLOCK: opening a FIFO that replaced a checked file must not hang;
     * it is refused below and has no effect on regular files. */
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0);
    int fd = openat(dirfd, path, flags);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    /* Sources are read front to back: ask for a larger read-ahead. */
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    f->buf = malloc(cap);
    if (!f->buf) {
        close(fd);
        return -ENOMEM;
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    f->xx = xx;
    f->cap = cap;
    return 0;
}

void src_file_close(src_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
    }
    free(f->buf);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

static ssize_t pread_full(int fd, uint8_t *dst, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, dst + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t src_file_block(src_file *f, const uint8_t **p)
{
    ssize_t n = pread_full(f->fd, f->buf, f->cap, f->pos);
    if (n < 0) {
        return n;
    }
    uint64_t end = f->pos + (uint64_t)n;
    if (f->xx && f->pos <= f->hashed && f->hashed < end) {
        XXH3_128bits_update(f->xx, f->buf + (f->hashed - f->pos), (size_t)(end - f->hashed));
        f->hashed = end;
    }
    f->pos = end;
    f->bpos = 0;
    f->blen = (size_t)n;
    *p = f->buf;
    return n;
}

ssize_t src_file_read(src_file *f, void *dst, size_t n)
{
    uint8_t *d = dst;
    size_t got = 0;
    while (got < n) {
        if (f->bpos == f->blen) {
            const uint8_t *p;
            ssize_t r = src_file_block(f, &p);
            if (r < 0) {
                return r;
            }
            if (r == 0) {
                break;
            }
        }
        size_t take = f->blen - f->bpos;
        if (take > n - got) {
            take = n - got;
        }
        memcpy(d + got, f->buf + f->bpos, take);
        f->bpos += take;
        got += take;
    }
    return (ssize_t)got;
}

void src_file_seek(src_file *f, uint64_t off)
{
    f->pos = off;
    f->bpos = f->blen = 0;
}

int src_file_finish(src_file *f)
{
    if (!f->xx) {
        return 0;
    }
    for (;;) {
        ssize_t n = pread_full(f->fd, f->buf, f->cap, f->hashed);
        if (n < 0) {
            return (int)n;
        }
        if (n == 0) {
            return 0;
        }
        XXH3_128bits_update(f->xx, f->buf, (size_t)n);
        f->hashed += (uint64_t)n;
        f->bpos = f->blen = 0; /* the buffer no longer holds read-ahead */
    }
}

/* ---- names ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

char *src_escape(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out = malloc(4 * n + 1); /* worst case: every byte escaped */
    if (!out) {
        return NULL;
    }
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(u + i, n - i);
        if (len == 0 || u[i] < 0x20 || u[i] == 0x7F) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[u[i] >> 4];
            out[o++] = hex[u[i] & 15];
            i++;
        } else {
            memcpy(out + o, u + i, len);
            o += len;
            i += len;
        }
    }
    out[o] = '\0';
    return out;
}

int src_split(const char *path, size_t n, const char **comp, size_t *clen, int max)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && path[j] != '/') {
            j++;
        }
        size_t len = j - i;
        if (len > 0 && !(len == 1 && path[i] == '.')) {
            if (count < max) {
                comp[count] = path + i;
                clen[count] = len;
            }
            count++;
        }
        i = j + 1;
    }
    return count;
}

int src_word_eq(const char *s, size_t n, const char *word)
{
    size_t wl = strlen(word);
    if (wl != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char a = s[i], b = word[i];
        if (a >= 'A' && a <= 'Z') {
            a = (char)(a - 'A' + 'a');
        }
        if (b >= 'A' && b <= 'Z') {
            b = (char)(b - 'A' + 'a');
        }
        if (a != b) {
            return 0;
        }
    }
    return 1;
}

const char *src_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void ds_entry_free(ds_entry *e)
{
    if (!e) {
        return;
    }
    free(e->name);
    free(e->label);
    free(e->split);
    free(e->data);
    free(e->reject);
    free(e);
}

ds_entry *src_entry_new(const char *prefix, const char *name, size_t name_len, const char *label,
                        size_t label_len, const char *split)
{
    ds_entry *e = calloc(1, sizeof *e);
    if (!e) {
        return NULL;
    }
    char *tail = src_escape(name, name_len);
    if (tail) {
        size_t pl = strlen(prefix), tl = strlen(tail);
        e->name = malloc(pl + tl + 1);
        if (e->name) {
            memcpy(e->name, prefix, pl);
            memcpy(e->name + pl, tail, tl + 1);
        }
        free(tail);
    }
    if (label) {
        e->label = src_escape(label, label_len);
    }
    if (split) {
        e->split = strdup(split);
    }
    if (!e->name || (label && !e->label) || (split && !e->split)) {
        ds_entry_free(e);
        return NULL;
    }
    return e;
}

int src_reject(ds_entry *e, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(e->data);
    e->data = NULL;
    e->size = 0;
    free(e->reject);
    e->reject = strdup(buf);
    return e->reject ? 0 : CK_ENOMEM;
}

void src_hash_hex(XXH3_state_t *st, char hex[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[c.digest[i] >> 4];
        hex[2 * i + 1] = digits[c.digest[i] & 15];
    }
    hex[32] = '\0';
}
