/* ck.c: errors, the text buffer, clocks and cores, and the counter-based
 * generator. Only libc and pthreads: libvips' set-up and its errors live
 * in image/.
 *
 * The buffer's JSON strings replace bytes that are not UTF-8 with U+FFFD:
 * names come from archives and file systems in any encoding, and a JSON
 * reader must get valid UTF-8 whatever they hold.
 *
 * Philox4x32-10 is the generator of Random123, cuRAND and PyTorch: a keyed
 * bijection of a 128-bit counter, so any draw is reachable in O(1) and
 * streams keyed by (seed, epoch) and counted by (id, purpose, n) are
 * independent for practical purposes. Known-answer tests live in
 * tests/common/test_common.c.
 */
#include "ck.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void vformat(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen) {
        vsnprintf(err, errlen, fmt, ap);
    }
}

int ck_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

const char *ck_strerror(int code)
{
    switch (code) {
    case CK_OK: return "success";
    case CK_EIO: return "i/o error";
    case CK_EFORMAT: return "bad format";
    case CK_ENOMEM: return "out of memory";
    case CK_EINVAL: return "invalid argument";
    case CK_ELIMIT: return "limit exceeded";
    case CK_ECANCELED: return "canceled";
    case CK_EDB: return "database error";
    case CK_EDECODE: return "decode error";
    case CK_ETHREAD: return "thread error";
    case CK_ENUMERIC: return "numeric error";
    default: return "unknown error";
    }
}

/* ---- a growing text buffer ----------------------------------------------- */

/* Room for n more bytes and the terminator; 0 (and oom set) when there is
 * none. The capacity doubles, so appending is amortized O(1). */
static int buf_reserve(ck_buf *b, size_t n)
{
    if (b->oom) {
        return 0;
    }
    if (n >= SIZE_MAX - b->len) {
        b->oom = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        }
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return 0;
        }
        b->s = s;
        b->cap = cap;
    }
    return 1;
}

void ck_buf_add(ck_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n)) {
        if (n) {
            memcpy(b->s + b->len, p, n);
        }
        b->len += n;
        b->s[b->len] = '\0';
    }
}

void ck_buf_str(ck_buf *b, const char *s)
{
    ck_buf_add(b, s, strlen(s));
}

void ck_buf_printf(ck_buf *b, const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1; /* an encoding error: the text would be wrong */
    } else if (buf_reserve(b, (size_t)n)) {
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, aq);
        b->len += (size_t)n;
    }
    va_end(aq);
}

size_t ck_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    unsigned cp = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

void ck_fmt_double(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (!isfinite(v) || strtod(buf, NULL) == v) {
            return;
        }
    }
}

/* JSON has no NaN or infinity: null stands for them. */
static void json_num(ck_buf *b, double v, int shortest)
{
    char t[32];
    if (!isfinite(v)) {
        ck_buf_str(b, "null");
        return;
    }
    if (shortest) {
        ck_fmt_double(t, sizeof t, v);
    } else {
        snprintf(t, sizeof t, "%.17g", v);
    }
    ck_buf_str(b, t);
}

void ck_buf_json_num(ck_buf *b, double v)
{
    json_num(b, v, 1);
}

void ck_buf_json_num17(ck_buf *b, double v)
{
    json_num(b, v, 0);
}

void ck_buf_json_field_num(ck_buf *b, const char *key, double v)
{
    ck_buf_printf(b, ",\"%s\":", key);
    json_num(b, v, 1);
}

void ck_buf_json_field_str(ck_buf *b, const char *key, const char *s)
{
    ck_buf_printf(b, ",\"%s\":", key);
    ck_buf_json_str(b, s);
}

void ck_buf_json_str(ck_buf *b, const char *s)
{
    if (!s) {
        ck_buf_str(b, "null");
        return;
    }
    ck_buf_str(b, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = ck_utf8_len(p);
        if (n == 0) {
            ck_buf_str(b, "\xEF\xBF\xBD");
            n = 1;
        } else if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            ck_buf_add(b, esc, 2);
        } else if (*p < 0x20) {
            switch (*p) {
            case '\n': ck_buf_str(b, "\\n"); break;
            case '\r': ck_buf_str(b, "\\r"); break;
            case '\t': ck_buf_str(b, "\\t"); break;
            case '\b': ck_buf_str(b, "\\b"); break;
            case '\f': ck_buf_str(b, "\\f"); break;
            default: ck_buf_printf(b, "\\u%04x", *p); break;
            }
        } else {
            ck_buf_add(b, p, n);
        }
        p += n;
    }
    ck_buf_str(b, "\"");
}

char *ck_buf_take(ck_buf *b)
{
    ck_buf_add(b, "", 0); /* "" rather than NULL for an empty text */
    char *s = b->oom ? NULL : b->s;
    if (!s) {
        free(b->s);
    }
    *b = (ck_buf){0};
    return s;
}

void ck_buf_free(ck_buf *b)
{
    free(b->s);
    *b = (ck_buf){0};
}

double ck_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int ck_ncores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- Philox4x32-10 ---------------------------------------------------- */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ck_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void ck_rng_init(ck_rng *r, uint64_t seed, uint64_t epoch, uint64_t id, uint32_t purpose)
{
    /* The key mixes seed and epoch; the counter holds the purpose and the id
     * (ctr[1..3]) and the block number (ctr[0]). */
    uint64_t k = splitmix64(seed ^ splitmix64(epoch));
    r->key[0] = (uint32_t)k;
    r->key[1] = (uint32_t)(k >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = purpose;
    r->ctr[2] = (uint32_t)id;
    r->ctr[3] = (uint32_t)(id >> 32);
    r->avail = 0;
}

uint32_t ck_rng_u32(ck_rng *r)
{
    if (r->avail == 0) {
        ck_philox4x32(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->avail = 4;
    }
    return r->buf[4 - r->avail--];
}

int64_t ck_cut(int64_t n, int part, int parts)
{
    return n * part / parts;
}

void ck_rng_skip(ck_rng *r, uint64_t words)
{
    /* Words already drawn from the current block come first. */
    uint64_t used = r->avail ? 4 - (uint64_t)r->avail : 0, pos = words + used;
    uint32_t block = r->ctr[0] - (r->avail ? 1 : 0);
    r->ctr[0] = block + (uint32_t)(pos / 4);
    r->avail = 0;
    for (uint64_t i = 0; i < pos % 4; i++) {
        (void)ck_rng_u32(r);
    }
}

uint64_t ck_rng_u64(ck_rng *r)
{
    uint64_t hi = ck_rng_u32(r);
    return (hi << 32) | ck_rng_u32(r);
}

double ck_rng_uniform(ck_rng *r)
{
    return (double)(ck_rng_u64(r) >> 11) * 0x1.0p-53;
}

double ck_rng_range(ck_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ck_rng_uniform(r);
}

uint32_t ck_rng_below(ck_rng *r, uint32_t n)
{
    uint64_t m = (uint64_t)ck_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)ck_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double ck_rng_normal(ck_rng *r)
{
    double u1 = 1.0 - ck_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = ck_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void ck_rng_shuffle_u32(ck_rng *r, uint32_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = ck_rng_below(r, (uint32_t)i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

void ck_rng_shuffle_i64(ck_rng *r, int64_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = ck_rng_below(r, (uint32_t)i);
        int64_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
