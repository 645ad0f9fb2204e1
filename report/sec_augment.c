/* sec_augment.c: "Augmentation": each policy the runs trained with, in
 * words and as the text convkit takes, and the book's figure of it: a
 * grid of augmented variants of a few training images, the original top
 * left in a blue frame (aug_preview_grid_png, the pictures `convkit
 * augment preview` draws, through the pipe the loader uses: what the
 * network was fed).
 *
 * The images are a training sample of each of the first classes (the
 * same on every report: rp_pick_sample), so the grid changes only when the
 * catalog or the policy does; the variants are drawn with the first such
 * run's seed.
 */
#include <stdlib.h>
#include <string.h>

#include "aug.h"
#include "rp_internal.h"

enum { GRID_IMAGES = 3, GRID_VARIANTS = 8 };

/* The grids of policy p for catalog k, cells shaped as run r's input. */
static int grids(rp_doc *d, int k, const aug_policy *p, const rp_run *r)
{
    uint64_t seed = r->r->seed;
    int h, w, ch;
    aug_params shape = aug_params_default(1, 1, 1);
    int shaped = rp_input_shape(r->config, &h, &w, &ch) == 0;
    if (shaped) {
        char *resize = rp_config_text(r->config, "extra.resize");
        int mode = aug_resize_parse(resize);
        shape = aug_params_default(w, h, ch == 1 ? 1 : 3);
        shape.resize = mode < 0 ? AUG_RESIZE_STRETCH : (aug_resize)mode;
        free(resize);
    }
    ck_buf *b = &d->page;
    rp_catalog *c = &d->cats[k];
    int64_t *ids = NULL;
    int32_t *labels = NULL;
    size_t n = 0;
    char e[512];
    if (ds_catalog_split(c->c, "train", &ids, &labels, &n, e, sizeof e) != 0) {
        rp_note(d, "%s", e);
        return 0;
    }
    int rc = 0;
    ck_buf_str(b, "<div class=\"grids\">\n");
    for (int cl = 0, shown = 0; cl < c->nclasses && shown < GRID_IMAGES && rc == 0; cl++) {
        int64_t id = rp_pick_sample(d, k, ids, labels, n, cl);
        ds_blob blob;
        if (id < 0) {
            continue;
        }
        if (ds_catalog_blob(c->c, id, &blob, e, sizeof e) != 0) {
            rp_note(d, "%s: %s", c->path, e);
            continue;
        }
        aug_src src = rp_blob_src(&blob);
        int raw = blob.kind == DS_ENTRY_RAW;
        /* Digits are small: cells three times their size show the warps;
         * photos get cells of a printed figure. */
        int cell = raw ? 84 : 150;
        void *png = NULL;
        size_t len = 0;
        int st = aug_preview_grid_png(&src, p, seed, GRID_VARIANTS, cell, shaped ? &shape : NULL,
                                      &png, &len, e, sizeof e);
        if (st == CK_ENOMEM) {
            rc = ck_err(d->err, d->errlen, st, "%s", e);
        } else if (st) {
            rp_note(d, "%s: %s", c->path, e);
        } else {
            char alt[600];
            snprintf(alt, sizeof alt, "%s and %d augmented variants", blob.name ? blob.name : "",
                     GRID_VARIANTS);
            ck_buf_str(b, "<figure>");
            rp_html_img(b, "image/png", png, len, alt, NULL);
            ck_buf_str(b, "<figcaption>class <bdi>");
            rp_html_text(b, c->classes[cl]);
            ck_buf_str(b, "</bdi>: <code>");
            rp_html_text(b, blob.name);
            ck_buf_str(b, "</code></figcaption></figure>\n");
            shown++;
        }
        free(png);
    }
    ck_buf_str(b, "</div>\n");
    free(ids);
    free(labels);
    return rc;
}

/* One policy: who used it, what it does, its grids. */
static int policy_part(rp_doc *d, const char *text, int first_run)
{
    ck_buf *b = &d->page;
    aug_policy *p = NULL;
    char e[512];
    if (aug_policy_parse(&p, text, e, sizeof e) != 0) {
        rp_page_note(d, "%s", e);
        return 0;
    }
    ck_buf_str(b, "<h3><code>");
    rp_html_text(b, text);
    ck_buf_str(b, "</code></h3>\n<p>Used by ");
    for (int i = first_run, any = 0; i < d->nruns; i++) {
        if (d->runs[i].policy && !strcmp(d->runs[i].policy, text)) {
            ck_buf_printf(b, "%s<a href=\"#run-%d\"><bdi>", any ? ", " : "", i + 1);
            rp_html_text(b, d->runs[i].r->name);
            ck_buf_str(b, "</bdi></a>");
            any = 1;
        }
    }
    ck_buf_str(b, ". What it does to each training image, drawn anew every epoch:</p>\n<ul>\n");
    ck_buf words = {0};
    aug_policy_describe(p, &words);
    for (char *line = words.s, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) {
            break;
        }
        *nl = '\0';
        ck_buf_str(b, "<li>");
        rp_html_text(b, line);
        ck_buf_str(b, "</li>\n");
    }
    b->oom |= words.oom;
    ck_buf_free(&words);
    ck_buf_str(b, "</ul>\n");
    const rp_run *r = &d->runs[first_run];
    int rc = 0;
    if (r->catalog >= 0) {
        rc = grids(d, r->catalog, p, r);
        ck_buf_printf(b,
                      "<p class=\"lead\">Top left, framed in blue: the original; the other "
                      "cells: the policy's draws for it (seed %llu), brought to the model's "
                      "input as the loader brings them.</p>\n",
                      (unsigned long long)r->r->seed);
    }
    aug_policy_destroy(p);
    return rc;
}

int rp_sec_augment(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<section id=\"augmentation\">\n<h2>2 Augmentation</h2>\n");
    int rc = 0, any = 0, plain = 0;
    for (int i = 0; i < d->nruns && rc == 0; i++) {
        const char *t = d->runs[i].policy;
        int seen = !t || !strcmp(t, "none");
        plain += seen;
        for (int j = 0; j < i && !seen; j++) {
            seen = d->runs[j].policy && !strcmp(d->runs[j].policy, t);
        }
        if (!seen) {
            rc = policy_part(d, t, i);
            any = 1;
        }
    }
    if (!any) {
        ck_buf_str(b, "<p>No run was trained with augmentation: each saw every training image "
                      "as it is, every epoch.</p>\n");
    } else if (plain) {
        ck_buf_str(b, "<p>The other runs saw every training image as it is.</p>\n");
    }
    ck_buf_str(b, "</section>\n");
    return rc;
}
