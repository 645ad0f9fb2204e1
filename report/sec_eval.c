/* sec_eval.c: "Evaluation": each run's kept checkpoint on data it was
 * not trained on (the test split, or the split asked for): the confusion
 * matrix as a heat map, precision, recall and F1 per class, and the
 * mistakes it makes with the most confidence, as pictures.
 *
 * The heat map is a table: its numbers are text, and each cell's colour
 * is its share of the row (matplotlib's Blues), so a class with few
 * samples reads as clearly as a large one; the diagonal is the recall.
 * The engine gives each sample's prediction in the split's order, which
 * is the catalog's order by id (ds_catalog_split), so a mistake is found
 * in the catalog and shown; the labels are checked to agree first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_internal.h"

enum { MISTAKES_SHOWN = 12 };

static const char *class_name(const rp_doc *d, const rp_run *r, int i, char *buf, size_t len)
{
    const rp_catalog *c = &d->cats[r->catalog];
    if (c->nclasses == r->eval.classes && i < c->nclasses) {
        return c->classes[i];
    }
    snprintf(buf, len, "%d", i);
    return buf;
}

static void heat_map(rp_doc *d, const rp_run *r)
{
    ck_buf *b = &d->page;
    const rp_eval *e = &r->eval;
    int C = e->classes;
    char buf[32];
    ck_buf_printf(b, "<table class=\"cm\"><caption class=\"axis\">confusion matrix: true class "
                     "↓, predicted →</caption>\n<thead><tr><th></th>");
    for (int j = 0; j < C; j++) {
        ck_buf_str(b, "<th><bdi>");
        rp_html_text(b, class_name(d, r, j, buf, sizeof buf));
        ck_buf_str(b, "</bdi></th>");
    }
    ck_buf_str(b, "</tr></thead>\n<tbody>\n");
    for (int i = 0; i < C; i++) {
        int64_t row = 0;
        for (int j = 0; j < C; j++) {
            row += e->confusion[(size_t)i * C + j];
        }
        ck_buf_str(b, "<tr><th class=\"rowh\"><bdi>");
        rp_html_text(b, class_name(d, r, i, buf, sizeof buf));
        ck_buf_str(b, "</bdi></th>");
        for (int j = 0; j < C; j++) {
            int64_t n = e->confusion[(size_t)i * C + j];
            double f = row ? (double)n / (double)row : 0;
            uint8_t rgb[3];
            aug_cmap_rgb(AUG_CMAP_BLUES, (uint8_t)lround(255 * fmin(fmax(f, 0), 1)), rgb);
            ck_buf_printf(b, "<td style=\"background:#%02x%02x%02x;color:%s\" title=\"", rgb[0],
                          rgb[1], rgb[2], f > 0.5 ? "#fff" : "#111");
            rp_html_num(b, 100 * f, 1);
            ck_buf_str(b, "% of the row\">");
            rp_html_count(b, n);
            ck_buf_str(b, "</td>");
        }
        ck_buf_str(b, "</tr>\n");
    }
    ck_buf_str(b, "</tbody></table>\n");
}

static void scores(rp_doc *d, const rp_run *r)
{
    ck_buf *b = &d->page;
    const rp_eval *e = &r->eval;
    int C = e->classes;
    char buf[32];
    double sp = 0, sr = 0, sf = 0;
    int undefined = 0;
    ck_buf_str(b,
               "<table><caption class=\"axis\">per class</caption><thead><tr><th>class</th>"
               "<th class=\"num\">precision</th><th class=\"num\">recall</th>"
               "<th class=\"num\">F1</th><th class=\"num\">samples</th></tr></thead>\n<tbody>\n");
    for (int k = 0; k < C; k++) {
        int64_t tp = e->confusion[(size_t)k * C + k], row = 0, col = 0;
        for (int j = 0; j < C; j++) {
            row += e->confusion[(size_t)k * C + j];
            col += e->confusion[(size_t)j * C + k];
        }
        double p = col ? (double)tp / (double)col : (double)NAN;
        double rc = row ? (double)tp / (double)row : (double)NAN;
        double f1 = p + rc > 0 ? 2 * p * rc / (p + rc) : (p == 0 && rc == 0 ? 0 : (double)NAN);
        undefined |= isnan(p) || isnan(rc) || isnan(f1);
        sp += isnan(p) ? 0 : p;
        sr += isnan(rc) ? 0 : rc;
        sf += isnan(f1) ? 0 : f1;
        ck_buf_str(b, "<tr><td><bdi>");
        rp_html_text(b, class_name(d, r, k, buf, sizeof buf));
        ck_buf_str(b, "</bdi></td>");
        rp_html_num_cell(b, p, 3);
        rp_html_num_cell(b, rc, 3);
        rp_html_num_cell(b, f1, 3);
        rp_html_count_cell(b, row, 0);
        ck_buf_str(b, "</tr>\n");
    }
    ck_buf_str(b, "<tr><th>mean over classes</th>");
    rp_html_num_cell(b, sp / C, 3);
    rp_html_num_cell(b, sr / C, 3);
    rp_html_num_cell(b, sf / C, 3);
    rp_html_count_cell(b, e->n, 0);
    ck_buf_str(b, "</tr>\n</tbody></table>\n");
    if (undefined) {
        ck_buf_str(b, "<p class=\"lead\">–: no sample predicted (or none true) in that class, "
                      "so the figure is undefined; it counts as 0 in the mean, as "
                      "scikit-learn's classification_report does.</p>\n");
    }
}

/* qsort order of mistakes: the most confident first, then by place. */
typedef struct mistake {
    int64_t i;
    float p;
} mistake;

static int by_confidence(const void *a, const void *b)
{
    const mistake *x = a, *y = b;
    if (x->p != y->p) {
        return x->p > y->p ? -1 : 1;
    }
    return x->i < y->i ? -1 : x->i > y->i;
}

static int mistakes(rp_doc *d, const rp_run *r)
{
    ck_buf *b = &d->page;
    const rp_eval *e = &r->eval;
    const rp_catalog *c = &d->cats[r->catalog];
    int64_t *ids = NULL;
    int32_t *labels = NULL;
    size_t n = 0;
    char why[512], buf[32], buf2[32];
    if (ds_catalog_split(c->c, r->eval_split, &ids, &labels, &n, why, sizeof why) != 0) {
        rp_page_note(d, "%s", why);
        return 0;
    }
    int same = (int64_t)n == e->n;
    for (size_t i = 0; same && i < n; i++) {
        same = labels[i] == e->label[i];
    }
    mistake *m = same ? malloc((n ? n : 1) * sizeof *m) : NULL;
    size_t nm = 0;
    for (size_t i = 0; m && i < n; i++) {
        if (e->pred[i] != e->label[i]) {
            m[nm++] = (mistake){(int64_t)i, e->prob[i]};
        }
    }
    int rc = 0;
    if (!same) {
        rp_page_note(d,
                     "run %s: the evaluated samples are not the %s split of %s as it is now; "
                     "no mistakes shown",
                     r->r->name, r->eval_split, c->path);
    } else if (!m) {
        rc = ck_err(d->err, d->errlen, CK_ENOMEM, "report: out of memory");
    } else if (nm == 0) {
        ck_buf_str(b, "<p>No mistake on this split.</p>\n");
    } else {
        qsort(m, nm, sizeof *m, by_confidence);
        ck_buf_str(b, "<h4>The most confident mistakes</h4>\n<div class=\"mistakes\">\n");
        for (size_t k = 0; k < nm && k < MISTAKES_SHOWN && rc == 0; k++) {
            int64_t i = m[k].i;
            ck_buf_str(b, "<figure>");
            rc = rp_thumb(d, r->catalog, ids[i], 128, "");
            ck_buf_str(b, "<figcaption><bdi>");
            rp_html_text(b, class_name(d, r, e->label[i], buf, sizeof buf));
            ck_buf_str(b, "</bdi> taken for <b><bdi>");
            rp_html_text(b, class_name(d, r, e->pred[i], buf2, sizeof buf2));
            ck_buf_str(b, "</bdi></b> (");
            rp_html_num(b, e->prob[i], 2);
            ck_buf_str(b, ")</figcaption></figure>\n");
        }
        ck_buf_str(b, "</div>\n<p class=\"lead\">");
        rp_html_count(b, (int64_t)nm);
        ck_buf_str(b, " mistakes in all; each picture: the true class, taken for the predicted "
                      "one (the network's probability for it). Hover a picture for its "
                      "file.</p>\n");
    }
    free(m);
    free(ids);
    free(labels);
    return rc;
}

int rp_sec_eval(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<section id=\"evaluation\">\n<h2>5 Evaluation</h2>\n");
    if (!d->o->engine) {
        ck_buf_str(b, "<p>Not asked for.</p>\n");
    }
    int rc = 0;
    for (int i = 0; d->o->engine && i < d->nruns && rc == 0; i++) {
        const rp_run *r = &d->runs[i];
        ck_buf_str(b, "<h3><bdi>");
        rp_html_text(b, r->r->name);
        ck_buf_str(b, "</bdi></h3>\n");
        if (!r->evaluated) {
            ck_buf_str(b, "<p class=\"note\">");
            rp_html_text(b, r->eval_note ? r->eval_note : "not evaluated");
            ck_buf_str(b, "</p>\n");
            continue;
        }
        const rp_eval *e = &r->eval;
        ck_buf_str(b, "<p>The kept checkpoint <code>");
        rp_html_text(b, e->checkpoint);
        ck_buf_str(b, "</code> on the <b>");
        rp_html_text(b, r->eval_split);
        ck_buf_str(b, "</b> split of <code>");
        rp_html_text(b, d->cats[r->catalog].path);
        ck_buf_str(b, "</code>: ");
        rp_html_count(b, e->n);
        ck_buf_str(b, " images, accuracy <b>");
        rp_html_num(b, e->accuracy, 4);
        ck_buf_str(b, "</b>, loss ");
        rp_html_num(b, e->loss, 4);
        ck_buf_str(b, ".</p>\n");
        if (!d->o->split && strcmp(r->eval_split, "test") != 0) {
            ck_buf_str(b, "<p class=\"note\">The catalog has no test split: the validation split "
                          "stands in, the split that chose the kept epoch, so this accuracy is "
                          "a little optimistic.</p>\n");
        }
        ck_buf_str(b, "<div class=\"cols\">\n");
        heat_map(d, r);
        scores(d, r);
        ck_buf_str(b, "</div>\n");
        rc = mistakes(d, r);
    }
    ck_buf_str(b, "</section>\n");
    return rc;
}
