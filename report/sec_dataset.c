/* sec_dataset.c: "Dataset": for every catalog the runs used, what
 * `convkit info` says of it (samples per split and class, what was
 * rejected and why, duplicates and the leakage removed, the sources and
 * the dataset hash), and a strip of training images per class.
 *
 * The facts come from ds_catalog_info_json, the one description of a
 * catalog, so the page and `convkit info` never disagree. Pictures are
 * the stored samples decoded as the loader decodes them (aug_thumbnail):
 * digits stored as raw pixels stay at their size, as PNG, and the browser
 * enlarges them without smoothing; photos are shrunk and sent as JPEG.
 * The samples shown are the first of each class by id: the same picture
 * on every report of the same catalog.
 */
#include <stdlib.h>
#include <string.h>

#include "aug.h"
#include "rp_internal.h"

enum {
    THUMBS_PER_CLASS = 8,
    MAX_CLASSES_SHOWN = 30,
    EXAMPLES_SHOWN = 5,
};

int64_t rp_pick_sample(rp_doc *d, int k, const int64_t *ids, const int32_t *labels, size_t n,
                       int label)
{
    enum { CANDIDATES = 8 };
    int64_t best = -1;
    size_t best_size = 0;
    int seen = 0;
    for (size_t i = 0; i < n && seen < CANDIDATES; i++) {
        if (label >= 0 && labels[i] != label) {
            continue;
        }
        ds_blob blob;
        char e[256];
        seen++;
        if (ds_catalog_blob(d->cats[k].c, ids[i], &blob, e, sizeof e) != 0) {
            continue;
        }
        if (best < 0 || blob.size > best_size) {
            best = ids[i];
            best_size = blob.size;
        }
        if (blob.kind == DS_ENTRY_RAW) {
            break;
        }
    }
    return best;
}

aug_src rp_blob_src(const ds_blob *blob)
{
    aug_src src = {.data = blob->data, .size = blob->size, .name = blob->name};
    if (blob->kind == DS_ENTRY_RAW) {
        src.width = blob->width;
        src.height = blob->height;
        src.bands = blob->bands;
    }
    return src;
}

int rp_thumb(rp_doc *d, int k, int64_t id, int max_side, const char *cls)
{
    char e[512], name[64];
    ds_blob blob = {0};
    ck_buf *b = &d->page;
    snprintf(name, sizeof name, "sample %lld", (long long)id);
    int rc = ds_catalog_blob(d->cats[k].c, id, &blob, e, sizeof e);
    void *img = NULL;
    size_t len = 0;
    int raw = rc == 0 && blob.kind == DS_ENTRY_RAW;
    if (rc == 0) {
        aug_src src = rp_blob_src(&blob);
        rc = aug_thumbnail(&src, max_side, raw ? AUG_PNG : AUG_JPEG, &img, &len, e, sizeof e);
    }
    if (rc == CK_ENOMEM) {
        return ck_err(d->err, d->errlen, rc, "%s", e);
    }
    if (rc) {
        rp_note(d, "%s: %s", d->cats[k].path, e);
        ck_buf_str(b, "<span class=\"note\">");
        rp_html_text(b, blob.name ? blob.name : name);
        ck_buf_str(b, "</span>");
        return 0;
    }
    char classes[96];
    snprintf(classes, sizeof classes, "%s%s", cls, raw ? " pix" : "");
    rp_html_img(b, raw ? "image/png" : "image/jpeg", img, len, blob.name ? blob.name : name,
                classes);
    free(img);
    return 0;
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* Rows: classes; columns: the catalog's splits and the total. */
static void counts_table(ck_buf *b, json_t *info)
{
    json_t *classes = json_object_get(info, "classes"), *splits = json_object_get(info, "splits");
    const char *key;
    json_t *split;
    ck_buf_str(b, "<table><thead><tr><th>class</th>");
    json_object_foreach(splits, key, split)
    {
        ck_buf_str(b, "<th class=\"num\">");
        rp_html_text(b, key);
        ck_buf_str(b, "</th>");
    }
    ck_buf_str(b, "<th class=\"num\">all</th></tr></thead>\n<tbody>\n");
    size_t nclasses = json_array_size(classes);
    for (size_t i = 0; i < nclasses; i++) {
        const char *name = json_string_value(json_array_get(classes, i));
        long long all = 0;
        ck_buf_str(b, "<tr><td><bdi>");
        rp_html_text(b, name);
        ck_buf_str(b, "</bdi></td>");
        json_object_foreach(splits, key, split)
        {
            long long n = num(json_object_get(split, "classes"), name ? name : "");
            all += n;
            rp_html_count_cell(b, n, 0);
        }
        rp_html_count_cell(b, all, 0);
        ck_buf_str(b, "</tr>\n");
    }
    long long total = 0;
    ck_buf_str(b, "<tr><th>all</th>");
    json_object_foreach(splits, key, split)
    {
        total += num(split, "total");
        rp_html_count_cell(b, num(split, "total"), 1);
    }
    rp_html_count_cell(b, total, 1);
    ck_buf_str(b, "</tr>\n</tbody></table>\n");
}

/* The first EXAMPLES_SHOWN names of a JSON array, escaped, comma-separated. */
static void names(ck_buf *b, json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i == EXAMPLES_SHOWN) {
            ck_buf_str(b, ", …");
            break;
        }
        ck_buf_str(b, i ? ", <code>" : "<code>");
        rp_html_text(b, json_string_value(v));
        ck_buf_str(b, "</code>");
    }
}

static void rejects(ck_buf *b, json_t *info)
{
    json_t *rej = json_object_get(info, "rejects");
    ck_buf_str(b, "<h4>Rejected files</h4>\n");
    if (num(rej, "total") == 0) {
        ck_buf_str(b, "<p>None: every entry was a readable image.</p>\n");
        return;
    }
    ck_buf_str(b, "<table><thead><tr><th>reason</th><th class=\"num\">files</th>"
                  "<th>examples</th></tr></thead><tbody>\n");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rej, "reasons"), i, r)
    {
        ck_buf_str(b, "<tr><td>");
        rp_html_text(b, json_string_value(json_object_get(r, "reason")));
        ck_buf_str(b, "</td>");
        rp_html_count_cell(b, num(r, "count"), 0);
        ck_buf_str(b, "<td>");
        names(b, json_object_get(r, "examples"));
        ck_buf_str(b, "</td></tr>\n");
    }
    ck_buf_str(b, "</tbody></table>\n");
}

static void duplicates(ck_buf *b, json_t *info)
{
    json_t *dup = json_object_get(info, "duplicates"), *leak = json_object_get(info, "leakage");
    static const char *const kinds[] = {"exact", "near"};
    ck_buf_str(b, "<h4>Duplicates and leakage</h4>\n<p>");
    for (int k = 0; k < 2; k++) {
        json_t *g = json_object_get(dup, kinds[k]);
        ck_buf_str(b, k ? "; " : "");
        rp_html_count(b, num(g, "groups"));
        ck_buf_printf(b, " group%s of %s copies (", num(g, "groups") == 1 ? "" : "s",
                      k ? "near" : "exact");
        rp_html_count(b, num(g, "samples"));
        ck_buf_str(b, " samples)");
    }
    ck_buf_str(b, ". Copies of a training sample in a later split (leakage): ");
    rp_html_count(b, num(leak, "exact"));
    ck_buf_str(b, " exact, ");
    rp_html_count(b, num(leak, "near"));
    ck_buf_str(b, " near; ");
    rp_html_count(b, num(leak, "removed"));
    ck_buf_str(b, " removed.</p>\n");
    int rows = 0;
    for (int k = 0; k < 2; k++) {
        json_t *groups = json_object_get(json_object_get(dup, kinds[k]), "examples");
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
        {
            if (i == EXAMPLES_SHOWN) {
                break;
            }
            if (rows++ == 0) {
                ck_buf_str(b, "<table><thead><tr><th>copies</th><th class=\"num\">files</th>"
                              "<th>names</th></tr></thead><tbody>\n");
            }
            ck_buf_printf(b, "<tr><td>%s</td><td class=\"num\">", kinds[k]);
            rp_html_count(b, num(g, "size"));
            ck_buf_str(b, "</td><td>");
            names(b, json_object_get(g, "names"));
            ck_buf_str(b, "</td></tr>\n");
        }
    }
    if (rows) {
        ck_buf_str(b, "</tbody></table>\n");
    }
    json_t *leaks = json_object_get(leak, "examples");
    if (json_array_size(leaks) > 0) {
        ck_buf_str(b, "<table><thead><tr><th>sample</th><th>split</th><th>copy of</th>"
                      "<th>kind</th><th>removed</th></tr></thead><tbody>\n");
        size_t i;
        json_t *l;
        json_array_foreach(leaks, i, l)
        {
            if (i == 2 * EXAMPLES_SHOWN) {
                break;
            }
            ck_buf_str(b, "<tr><td><code>");
            rp_html_text(b, json_string_value(json_object_get(l, "name")));
            ck_buf_str(b, "</code></td><td>");
            rp_html_text(b, json_string_value(json_object_get(l, "split")));
            ck_buf_str(b, "</td><td><code>");
            rp_html_text(b, json_string_value(json_object_get(l, "leak_of_name")));
            ck_buf_str(b, "</code></td><td>");
            rp_html_text(b, json_string_value(json_object_get(l, "kind")));
            ck_buf_str(b, "</td><td>");
            ck_buf_str(b, json_is_true(json_object_get(l, "removed")) ? "yes" : "no");
            ck_buf_str(b, "</td></tr>\n");
        }
        ck_buf_str(b, "</tbody></table>\n");
    }
}

static void facts(rp_doc *d, int k)
{
    ck_buf *b = &d->page;
    json_t *info = d->cats[k].info, *s = json_object_get(info, "samples");
    ck_buf_str(b, "<table class=\"kv\"><tbody>\n<tr><th>dataset hash</th><td><code>");
    rp_html_text(b, d->cats[k].hash);
    ck_buf_str(b, "</code></td></tr>\n<tr><th>entries</th><td>");
    rp_html_count(b, num(s, "total"));
    ck_buf_str(b, ": ");
    rp_html_count(b, num(s, "ok"));
    ck_buf_str(b, " images kept, ");
    rp_html_count(b, num(s, "rejected"));
    ck_buf_str(b, " rejected, ");
    rp_html_count(b, num(s, "leakage"));
    ck_buf_str(b, " removed as leakage, ");
    rp_html_count(b, num(s, "unused"));
    ck_buf_str(b, " unused by the split</td></tr>\n<tr><th>split</th><td><code>");
    rp_html_text(b, json_string_value(json_object_get(info, "split")));
    ck_buf_str(b, "</code></td></tr>\n");
    size_t i;
    json_t *src;
    json_array_foreach(json_object_get(info, "sources"), i, src)
    {
        ck_buf_str(b, "<tr><th>source</th><td><code>");
        rp_html_text(b, json_string_value(json_object_get(src, "path")));
        ck_buf_str(b, "</code> (");
        rp_html_text(b, json_string_value(json_object_get(src, "layout")));
        ck_buf_str(b, ", ");
        rp_html_count(b, num(src, "entries"));
        ck_buf_str(b, " entries, hash <code>");
        rp_html_text(b, json_string_value(json_object_get(src, "hash")));
        ck_buf_str(b, "</code>)</td></tr>\n");
    }
    json_t *dec = json_object_get(info, "decoding");
    if (num(dec, "exif_rotated") || num(dec, "alpha")) {
        ck_buf_str(b, "<tr><th>decoding</th><td>");
        rp_html_count(b, num(dec, "exif_rotated"));
        ck_buf_str(b, " images with an EXIF orientation (not applied, as Keras), ");
        rp_html_count(b, num(dec, "alpha"));
        ck_buf_str(b, " with an alpha channel (dropped)</td></tr>\n");
    }
    ck_buf_str(b, "</tbody></table>\n");
}

/* A row of thumbnails per class, from the first split that has samples. */
static int strips(rp_doc *d, int k)
{
    static const char *const splits[] = {"train", "validation", "test"};
    ck_buf *b = &d->page;
    rp_catalog *c = &d->cats[k];
    int64_t *ids = NULL;
    int32_t *labels = NULL;
    size_t n = 0;
    const char *used = NULL;
    char e[512];
    for (int s = 0; s < 3 && n == 0; s++) {
        free(ids);
        free(labels);
        ids = NULL;
        labels = NULL;
        if (ds_catalog_split(c->c, splits[s], &ids, &labels, &n, e, sizeof e) != 0) {
            rp_note(d, "%s", e);
            n = 0;
        }
        used = splits[s];
    }
    int rc = 0;
    if (n > 0) {
        ck_buf_printf(b, "<h4>The first %d %s images of each class</h4>\n", THUMBS_PER_CLASS, used);
    }
    for (int cl = 0; n > 0 && rc == 0 && cl < c->nclasses && cl < MAX_CLASSES_SHOWN; cl++) {
        ck_buf_str(b, "<div class=\"thumbrow\"><span class=\"cls\"><bdi>");
        rp_html_text(b, c->classes[cl]);
        ck_buf_str(b, "</bdi></span>");
        int shown = 0;
        for (size_t i = 0; i < n && shown < THUMBS_PER_CLASS && rc == 0; i++) {
            if (labels[i] == cl) {
                rc = rp_thumb(d, k, ids[i], 128, "thumb");
                shown++;
            }
        }
        ck_buf_str(b, shown ? "</div>\n" : "(none)</div>\n");
    }
    if (n > 0 && c->nclasses > MAX_CLASSES_SHOWN) {
        ck_buf_printf(b, "<p>… and %d more classes.</p>\n", c->nclasses - MAX_CLASSES_SHOWN);
    }
    free(ids);
    free(labels);
    return rc;
}

int rp_sec_dataset(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<section id=\"dataset\">\n<h2>1 Dataset</h2>\n");
    if (d->ncats == 0) {
        ck_buf_str(b, "<p>No catalog of the runs could be opened.</p>\n");
    }
    int rc = 0;
    for (int k = 0; k < d->ncats && rc == 0; k++) {
        ck_buf_str(b, "<h3><code>");
        rp_html_text(b, d->cats[k].path);
        ck_buf_str(b, "</code></h3>\n<p>Used by ");
        int first = 1;
        for (int i = 0; i < d->nruns; i++) {
            if (d->runs[i].catalog == k) {
                ck_buf_printf(b, "%s<a href=\"#run-%d\"><bdi>", first ? "" : ", ", i + 1);
                rp_html_text(b, d->runs[i].r->name);
                ck_buf_str(b, "</bdi></a>");
                first = 0;
            }
        }
        ck_buf_str(b, first ? "no run shown here (given with --data).</p>\n" : ".</p>\n");
        facts(d, k);
        ck_buf_str(b, "<h4>Samples per split and class</h4>\n");
        counts_table(b, d->cats[k].info);
        rejects(b, d->cats[k].info);
        duplicates(b, d->cats[k].info);
        rc = strips(d, k);
    }
    for (int i = 0; i < d->nruns; i++) {
        if (d->runs[i].catalog_note) {
            ck_buf_str(b, "<p class=\"note\">Run <bdi>");
            rp_html_text(b, d->runs[i].r->name);
            ck_buf_str(b, "</bdi>: ");
            rp_html_text(b, d->runs[i].catalog_note);
            ck_buf_str(b, "</p>\n");
        }
    }
    ck_buf_str(b, "</section>\n");
    return rc;
}
