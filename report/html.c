/* html.c: the report's HTML writer: text escaped once, here, and pictures
 * as data: URIs.
 *
 * Everything that comes from data is written through rp_html_text, which
 * escapes the five characters that can end a text or an attribute value
 * and replaces what is not text (bytes that are not UTF-8, control
 * characters) by U+FFFD, as ck_buf_json_str does for JSON: a file name
 * read from a damaged zip cannot break the page, and a name in Persian or
 * Chinese is written as it is (the page is UTF-8). Numbers are written the
 * way a printed table writes them: a real minus sign, thin spaces between
 * thousands, an en dash where there is no value.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_internal.h"

void rp_html_text(ck_buf *b, const char *s)
{
    if (!s) {
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = ck_utf8_len(p);
        switch (n == 1 ? *p : 0x80) {
        case '&': ck_buf_str(b, "&amp;"); break;
        case '<': ck_buf_str(b, "&lt;"); break;
        case '>': ck_buf_str(b, "&gt;"); break;
        case '"': ck_buf_str(b, "&quot;"); break;
        case '\'': ck_buf_str(b, "&#39;"); break;
        default:
            if (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
                ck_buf_str(b, "\xEF\xBF\xBD"); /* U+FFFD */
                n = n ? n : 1;
            } else {
                ck_buf_add(b, p, n);
            }
        }
        p += n ? n : 1;
    }
}

void rp_html_textf(ck_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof small) {
        rp_html_text(b, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rp_html_text(b, big);
    free(big);
}

void rp_html_data_uri(ck_buf *b, const char *mime, const void *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    ck_buf_printf(b, "data:%s;base64,", mime);
    char quad[4];
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        v |= i + 1 < len ? (unsigned)p[i + 1] << 8 : 0;
        v |= i + 2 < len ? (unsigned)p[i + 2] : 0;
        quad[0] = abc[v >> 18 & 63];
        quad[1] = abc[v >> 12 & 63];
        quad[2] = i + 1 < len ? abc[v >> 6 & 63] : '=';
        quad[3] = i + 2 < len ? abc[v & 63] : '=';
        ck_buf_add(b, quad, 4);
    }
}

void rp_html_img(ck_buf *b, const char *mime, const void *data, size_t len, const char *alt,
                 const char *cls)
{
    ck_buf_str(b, "<img src=\"");
    rp_html_data_uri(b, mime, data, len);
    ck_buf_str(b, "\" alt=\"");
    rp_html_text(b, alt);
    ck_buf_str(b, "\" title=\"");
    rp_html_text(b, alt);
    ck_buf_str(b, "\"");
    if (cls) {
        ck_buf_str(b, " class=\"");
        rp_html_text(b, cls);
        ck_buf_str(b, "\"");
    }
    ck_buf_str(b, ">");
}

void rp_html_num(ck_buf *b, double v, int decimals)
{
    if (isnan(v)) {
        ck_buf_str(b, "–"); /* U+2013 */
        return;
    }
    char t[64];
    snprintf(t, sizeof t, "%.*f", decimals, fabs(v));
    /* -0.0000 is 0: no sign on a figure that rounds to zero. */
    int zero = strspn(t, "0.") == strlen(t);
    ck_buf_str(b, v < 0 && !zero ? "−" : ""); /* U+2212 */
    ck_buf_str(b, t);
}

void rp_html_count(ck_buf *b, int64_t n)
{
    char t[32];
    int len = snprintf(t, sizeof t, "%lld", (long long)(n < 0 ? -n : n));
    ck_buf_str(b, n < 0 ? "−" : "");
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0 && len > 4) {
            ck_buf_str(b, "\xE2\x80\x89"); /* U+2009: 22 352, but 1000 */
        }
        ck_buf_add(b, t + i, 1);
    }
}

void rp_html_num_cell(ck_buf *b, double v, int decimals)
{
    ck_buf_str(b, "<td class=\"num\">");
    rp_html_num(b, v, decimals);
    ck_buf_str(b, "</td>");
}

void rp_html_count_cell(ck_buf *b, int64_t n, int head)
{
    ck_buf_str(b, head ? "<th class=\"num\">" : "<td class=\"num\">");
    rp_html_count(b, n);
    ck_buf_str(b, head ? "</th>" : "</td>");
}

void rp_mean_sd(const double *v, int n, double *mean, double *sd, int *k)
{
    double s = 0, q = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            s += v[i];
            m++;
        }
    }
    *mean = m ? s / m : (double)NAN;
    for (int i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            q += (v[i] - *mean) * (v[i] - *mean);
        }
    }
    *sd = m > 1 ? sqrt(q / (m - 1)) : m ? 0 : (double)NAN;
    *k = m;
}

void rp_html_mean_sd(ck_buf *b, const double *v, int n, int decimals)
{
    double mean, sd;
    int k;
    rp_mean_sd(v, n, &mean, &sd, &k);
    rp_html_num(b, mean, decimals);
    if (k > 1) {
        ck_buf_str(b, " ± ");
        rp_html_num(b, sd, decimals);
    }
}
