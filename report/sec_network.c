/* sec_network.c: "What the network looks at".
 *
 * The lecture asks how a computer sees a picture and answers with
 * hand-made kernels: Sobel and Prewitt find edges, the Laplacian finds
 * where intensity bends. They are shown here on a training image (a photo
 * when a catalog has photos), each in its textbook view (aug_filter_png,
 * what `convkit filter` writes), since a convnet's first layer learns
 * kernels much like them.
 *
 * Then the network's own views, through the engine (rp_engine.view), for
 * one run of each arm (the first of its seeds whose checkpoint was
 * evaluated, seeds looking alike), on a training image of the run's
 * catalog (the same image as the kernels' when the catalog is the same,
 * so the arms can be compared on it): Grad-CAM on the last convolution
 * layer, the activations of every convolution and pooling layer, the
 * first layer's kernels and the patterns deeper filters respond to most.
 */
#include <stdlib.h>
#include <string.h>

#include "aug.h"
#include "rp_internal.h"

enum { KERNEL_SIDE = 400 };

static const struct {
    aug_filter f;
    const char *what;
} kernels[] = {
    {AUG_FILTER_SOBEL_X, "Sobel x, [−1 0 1; −2 0 2; −1 0 1]: intensity rising to the right is "
                         "light, falling is dark, flat is mid-grey"},
    {AUG_FILTER_SOBEL_Y, "Sobel y, [−1 −2 −1; 0 0 0; 1 2 1]: the same downwards"},
    {AUG_FILTER_SOBEL, "Sobel magnitude, √(x² + y²): every edge, whatever its direction"},
    {AUG_FILTER_PREWITT, "Prewitt magnitude, from [−1 0 1] on three rows: much as Sobel"},
    {AUG_FILTER_LAPLACIAN, "Laplacian, [0 1 0; 1 −4 1; 0 1 0]: where intensity bends, both "
                           "sides of every edge"},
};

/* The image of catalog k that the section shows: a training image,
 * rp_pick_sample's, its bytes copied (a blob is the catalog's only until
 * its next call). */
typedef struct shown {
    aug_src src;
    void *bytes;
    int label;
} shown;

/* 0 with *s filled (shown_free releases it), 1 when the catalog gives
 * none (noted on the page), or CK_ENOMEM. */
static int shown_take(rp_doc *d, int k, shown *s)
{
    rp_catalog *c = &d->cats[k];
    int64_t *ids = NULL, id = -1;
    int32_t *labels = NULL;
    size_t n = 0;
    char e[512];
    ds_blob blob;
    memset(s, 0, sizeof *s);
    s->label = -1;
    int rc = ds_catalog_split(c->c, "train", &ids, &labels, &n, e, sizeof e);
    if (rc == 0 && (id = rp_pick_sample(d, k, ids, labels, n, -1)) < 0) {
        snprintf(e, sizeof e, "%s: no training image", c->path);
    }
    for (size_t i = 0; i < n; i++) {
        s->label = ids[i] == id ? labels[i] : s->label;
    }
    free(ids);
    free(labels);
    if (id < 0 || ds_catalog_blob(c->c, id, &blob, e, sizeof e) != 0) {
        rp_page_note(d, "%s", e);
        return 1;
    }
    s->src = rp_blob_src(&blob);
    const char *entry = blob.name ? blob.name : "?"; /* NULL only when SQLite runs out of memory */
    size_t name = strlen(entry) + 1;
    if (!(s->bytes = malloc(blob.size + name))) {
        return ck_err(d->err, d->errlen, CK_ENOMEM, "report: out of memory");
    }
    if (blob.size) {
        memcpy(s->bytes, blob.data, blob.size);
    }
    memcpy((char *)s->bytes + blob.size, entry, name);
    s->src.data = s->bytes;
    s->src.name = (char *)s->bytes + blob.size;
    return 0;
}

static void shown_free(shown *s)
{
    free(s->bytes);
    memset(s, 0, sizeof *s);
}

/* The class of catalog k's image s, NULL when it has none. */
static const char *shown_class(const rp_doc *d, int k, const shown *s)
{
    const rp_catalog *c = &d->cats[k];
    return s->label >= 0 && s->label < c->nclasses ? c->classes[s->label] : NULL;
}

/* "the image <code>NAME</code>, class <bdi>C</bdi>, from <code>PATH</code>" */
static void shown_words(rp_doc *d, int k, const shown *s)
{
    ck_buf *b = &d->page;
    const rp_catalog *c = &d->cats[k];
    ck_buf_str(b, "the image <code>");
    rp_html_text(b, s->src.name);
    ck_buf_str(b, "</code>, class <bdi>");
    const char *cls = shown_class(d, k, s);
    rp_html_text(b, cls ? cls : "?");
    ck_buf_str(b, "</bdi>, from <code>");
    rp_html_text(b, c->path);
    ck_buf_str(b, "</code>");
}

/* The classic kernels on the image of catalog k. */
static int classic(rp_doc *d, int k)
{
    ck_buf *b = &d->page;
    shown s;
    char e[512];
    int rc = shown_take(d, k, &s);
    if (rc) {
        return rc < 0 ? rc : 0;
    }
    const char *cls = s.src.width > 0 ? "pix" : NULL; /* raw pixels: digits */
    ck_buf_str(b, "<h3>The lecture's kernels</h3>\n<p>Each kernel is slid over the image (a "
                  "correlation, edges extended) and its response shown, scaled by the largest "
                  "one. It is ");
    shown_words(d, k, &s);
    ck_buf_str(b, ".</p>\n<div class=\"kernels\">\n");
    void *img = NULL;
    size_t len = 0;
    rc = aug_thumbnail(&s.src, KERNEL_SIDE, AUG_PNG, &img, &len, e, sizeof e);
    if (rc == 0) {
        ck_buf_str(b, "<figure>");
        rp_html_img(b, "image/png", img, len, "the image", cls);
        ck_buf_str(b, "<figcaption>the image</figcaption></figure>\n");
    }
    free(img);
    for (size_t i = 0; rc == 0 && i < sizeof kernels / sizeof kernels[0]; i++) {
        img = NULL;
        rc = aug_filter_png(kernels[i].f, AUG_VIEW_DEFAULT, &s.src, KERNEL_SIDE, &img, &len, e,
                            sizeof e);
        if (rc == 0) {
            ck_buf_str(b, "<figure>");
            rp_html_img(b, "image/png", img, len, aug_filter_name(kernels[i].f), cls);
            ck_buf_str(b, "<figcaption>");
            rp_html_text(b, kernels[i].what);
            ck_buf_str(b, "</figcaption></figure>\n");
        }
        free(img);
    }
    ck_buf_str(b, "</div>\n");
    shown_free(&s);
    if (rc == CK_ENOMEM) {
        return ck_err(d->err, d->errlen, rc, "%s", e);
    }
    if (rc) {
        rp_page_note(d, "%s", e);
    }
    return 0;
}

static const char *const view_heads[RP_VIEW_COUNT] = {
    [RP_VIEW_HEATMAP] = "Where it looks (Grad-CAM)",
    [RP_VIEW_ACTIVATIONS] = "What each layer makes of the image",
    [RP_VIEW_FILTERS] = "What its filters respond to",
};

/* The run of group g to look into: the first evaluated one, else the
 * first with a catalog of images; -1 if none. */
static int group_run(const rp_doc *d, const rp_group *g)
{
    int first = -1;
    for (int k = 0; k < g->n; k++) {
        const rp_run *r = &d->runs[g->runs[k]];
        char *features = rp_config_text(r->config, "extra.features");
        int images = !features && r->catalog >= 0;
        free(features);
        if (images && r->evaluated) {
            return g->runs[k];
        }
        first = images && first < 0 ? g->runs[k] : first;
    }
    return first;
}

/* Run i's views on the image of its catalog. */
static int run_views(rp_doc *d, int i)
{
    const rp_engine *eng = d->o->engine;
    const rp_run *r = &d->runs[i];
    ck_buf *b = &d->page;
    shown s;
    int rc = shown_take(d, r->catalog, &s);
    if (rc) {
        return rc < 0 ? rc : 0;
    }
    ck_buf_str(b, "<h3>What <bdi>");
    rp_html_text(b, d->groups[r->group].label);
    ck_buf_str(b, "</bdi> learned</h3>\n<p>The kept checkpoint of run <bdi>");
    rp_html_text(b, r->r->name);
    ck_buf_str(b, "</bdi> on ");
    shown_words(d, r->catalog, &s);
    ck_buf_str(b, ".</p>\n");
    char said[1024] = ""; /* the last view's error, said once when the next repeats it */
    for (int v = 0; rc != CK_ENOMEM && v < RP_VIEW_COUNT; v++) {
        char what[512] = "", e[1024];
        void *jpeg = NULL;
        size_t len = 0;
        rc = eng->view(eng->ctx, r->r->name, (rp_view)v, &s.src, shown_class(d, r->catalog, &s),
                       &jpeg, &len, what, sizeof what, e, sizeof e);
        if (rc == 0) {
            ck_buf_str(b, "<figure class=\"view\">");
            rp_html_img(b, "image/jpeg", jpeg, len, view_heads[v], NULL);
            ck_buf_str(b, "<figcaption><b>");
            rp_html_text(b, view_heads[v]);
            ck_buf_str(b, ":</b> ");
            rp_html_text(b, what);
            ck_buf_str(b, "</figcaption></figure>\n");
        } else if (rc == CK_ENOMEM) {
            ck_err(d->err, d->errlen, rc, "%s", e);
        } else if (strcmp(e, said) != 0) {
            rp_page_note(d, "%s", e);
            snprintf(said, sizeof said, "%s", e);
        }
        free(jpeg);
    }
    shown_free(&s);
    return rc == CK_ENOMEM ? rc : 0;
}

/* The network's own views, one run of each arm. */
static int network_views(rp_doc *d)
{
    const rp_engine *eng = d->o->engine;
    int rc = 0, shown_any = 0;
    if (!eng || !eng->view) {
        return 0;
    }
    for (int g = 0; rc == 0 && g < d->ngroups; g++) {
        int i = group_run(d, &d->groups[g]);
        if (i >= 0) {
            shown_any = 1;
            rc = run_views(d, i);
        }
    }
    if (!shown_any) {
        ck_buf_str(&d->page, "<p>No run to look into: none has a catalog of images and a "
                             "checkpoint.</p>\n");
    }
    return rc;
}

int rp_sec_network(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<section id=\"network\">\n<h2>6 What the network looks at</h2>\n<p>A "
                  "convolution layer slides small kernels over its input, as the classic edge "
                  "detectors below do; a trained network's first layer learns kernels much "
                  "like them. After them, each arm's network on an image: where it looks, "
                  "what each layer makes of the image, and what its filters respond to.</p>\n");
    int rc = 0, k = -1;
    for (int i = 0; i < d->ncats && k < 0; i++) { /* a photo shows edges best */
        int64_t *ids = NULL;
        int32_t *labels = NULL;
        size_t n = 0;
        ds_blob blob;
        char e[256];
        if (ds_catalog_split(d->cats[i].c, "train", &ids, &labels, &n, e, sizeof e) == 0 && n > 0 &&
            ds_catalog_blob(d->cats[i].c, ids[0], &blob, e, sizeof e) == 0 &&
            blob.kind != DS_ENTRY_RAW) {
            k = i;
        }
        free(ids);
        free(labels);
    }
    if (d->ncats > 0) {
        rc = classic(d, k < 0 ? 0 : k);
    } else {
        ck_buf_str(b, "<p>No catalog to take an image from.</p>\n");
    }
    if (rc == 0) {
        rc = network_views(d);
    }
    ck_buf_str(b, "</section>\n");
    return rc;
}
