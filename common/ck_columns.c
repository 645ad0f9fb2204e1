/* ck_columns.c: the width of text in a terminal's columns, for the tables
 * convkit prints (curves list, evaluate's confusion matrix, info's
 * counts), whose cells hold names from the data in any script.
 *
 * Bytes are not columns: "猫" is three bytes and two columns, "گربه" eight
 * bytes and four columns, a combining mark two bytes and no column. A
 * table padded by bytes leans; one cut by bytes can split a character and
 * print bytes that are not UTF-8. The width of a character is glibc's
 * wcwidth under the C.UTF-8 locale (Unicode's East Asian Width and
 * general categories, kept up to date with glibc), taken through a locale
 * object of this thread alone, so the process's locale, often plain "C",
 * does not matter. A byte that is not UTF-8, or a character wcwidth calls
 * unprintable, is one column (it prints as one replacement mark).
 */
#define _GNU_SOURCE
#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wchar.h>

#include "ck.h"

static locale_t utf8;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_open(void)
{
    utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* The character at s: its bytes in *n (1 for a byte that is not UTF-8)
 * and its columns (under the UTF-8 locale, made current by the caller). */
static int char_columns(const unsigned char *s, size_t *n)
{
    *n = ck_utf8_len(s);
    if (*n <= 1) {
        *n = 1;
        return 1;
    }
    unsigned cp = s[0] & (0x7F >> *n);
    for (size_t i = 1; i < *n; i++) {
        cp = cp << 6 | (s[i] & 0x3F);
    }
    int w = utf8 ? wcwidth((wchar_t)cp) : 1;
    return w < 0 ? 1 : w;
}

int ck_text_columns(const char *s)
{
    pthread_once(&utf8_once, utf8_open);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    int cols = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n;
        cols += char_columns(p, &n);
        p += n;
    }
    if (utf8) {
        uselocale(old);
    }
    return cols;
}

const char *ck_text_cell(char *buf, size_t len, const char *s, int cols, int right)
{
    pthread_once(&utf8_once, utf8_open);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    size_t bytes = 0;
    int used = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n;
        int w = char_columns(p, &n);
        if (used + w > cols || bytes + n >= len) {
            break;
        }
        used += w;
        bytes += n;
        p += n;
    }
    if (utf8) {
        uselocale(old);
    }
    if (len == 0) {
        return buf;
    }
    size_t pad = (size_t)(cols > used ? cols - used : 0);
    if (bytes + pad >= len) { /* a buffer shorter than the cell: what fits */
        pad = len - 1 - bytes;
    }
    if (right) {
        memset(buf, ' ', pad);
        memcpy(buf + pad, s, bytes);
    } else {
        memcpy(buf, s, bytes);
        memset(buf + bytes, ' ', pad);
    }
    buf[bytes + pad] = '\0';
    return buf;
}
