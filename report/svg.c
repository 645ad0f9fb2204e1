/* svg.c: a standalone SVG document (a figure as PLplot's svg device
 * writes it) made an element of the page.
 *
 * Inline rather than an <img> of a data: URI, so that the figure's labels
 * are the page's text (found, selected, read aloud, checked by the tests)
 * and print sharp. Three things change on the way in: the XML prolog and
 * DOCTYPE go (they belong to a file, and the DOCTYPE names a URL); the
 * width and height go, so the page's CSS sizes the figure and the viewBox
 * keeps its proportions; and every id, with every reference to one, gets
 * the figure's prefix, since all figures of a page share one id space
 * (PLplot names its clip paths text-clipping0, 1, ... in every figure, and
 * a reference resolves to the first element of that id in the page).
 * PLplot writes every character of a label as a character reference, so
 * nothing of the data can end the element.
 */
#include <string.h>

#include "rp_internal.h"

/* The attribute `name="..."` of the tag [tag, end): its start and the end
 * of its closing quote, or 0. */
static int find_attr(const char *tag, const char *end, const char *name, const char **a0,
                     const char **a1)
{
    size_t n = strlen(name);
    for (const char *p = tag; p + n + 2 < end; p++) {
        if ((p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\t') && !strncmp(p, name, n) &&
            p[n] == '=' && p[n + 1] == '"') {
            const char *q = memchr(p + n + 2, '"', (size_t)(end - (p + n + 2)));
            if (q) {
                *a0 = p;
                *a1 = q + 1;
                return 1;
            }
        }
    }
    return 0;
}

/* The first needle in [p, stop), or NULL. */
static const char *find_before(const char *p, const char *stop, const char *needle)
{
    const char *q = strstr(p, needle);
    return q && q < stop ? q : NULL;
}

int rp_svg_inline(ck_buf *b, const char *svg, const char *prefix, const char *label)
{
    const char *tag = strstr(svg, "<svg");
    const char *end = tag ? strchr(tag, '>') : NULL;
    const char *stop = NULL;
    for (const char *q = end; q && (q = strstr(q, "</svg>")) != NULL; q++) {
        stop = q + 6; /* the last one: whatever follows is not the figure's */
    }
    if (!end || !stop) {
        return CK_EFORMAT;
    }
    /* The opening tag without width and height (in either order). */
    const char *cut[2][2] = {{NULL, NULL}, {NULL, NULL}};
    find_attr(tag + 1, end, "width", &cut[0][0], &cut[0][1]);
    find_attr(tag + 1, end, "height", &cut[1][0], &cut[1][1]);
    if (cut[0][0] && cut[1][0] && cut[1][0] < cut[0][0]) {
        const char *t0 = cut[0][0], *t1 = cut[0][1];
        cut[0][0] = cut[1][0];
        cut[0][1] = cut[1][1];
        cut[1][0] = t0;
        cut[1][1] = t1;
    }
    const char *p = tag;
    for (int k = 0; k < 2; k++) {
        if (cut[k][0]) {
            ck_buf_add(b, p, (size_t)(cut[k][0] - p));
            p = cut[k][1];
        }
    }
    ck_buf_add(b, p, (size_t)(end - p));
    ck_buf_str(b, " class=\"fig\" role=\"img\" aria-label=\"");
    rp_html_text(b, label);
    ck_buf_str(b, "\"");
    /* The rest, ids and references prefixed. */
    static const char *const refs[] = {"id=\"", "url(#", "href=\"#"};
    p = end;
    for (;;) {
        const char *next = NULL;
        size_t len = 0;
        for (int k = 0; k < 3; k++) {
            const char *q = find_before(p, stop, refs[k]);
            if (q && (!next || q < next)) {
                next = q;
                len = strlen(refs[k]);
            }
        }
        if (!next) {
            ck_buf_add(b, p, (size_t)(stop - p));
            return 0;
        }
        ck_buf_add(b, p, (size_t)(next - p) + len);
        ck_buf_str(b, prefix);
        ck_buf_str(b, "-");
        p = next + len;
    }
}
