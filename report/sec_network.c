/* sec_network.c: "What the network looks at".
 *
 * The lecture asks how a computer sees a picture and answers with
 * hand-made kernels: Sobel and Prewitt find edges, the Laplacian finds
 * where intensity bends. They are shown here on a training image (a photo
 * when a catalog has photos), each in its textbook view (aug_filter_png,
 * what `convkit filter` writes), since a convnet's first layer learns
 * kernels much like them.
 *
 * The network's own views come next to them, per evaluated run, once the
 * engine offers them through rp_engine (see rp.h): the activations of
 * every convolution and pooling layer for this same image, the first
 * layer's kernels and the patterns deeper filters respond to most, and
 * Grad-CAM on the last convolution layer. Their place in the page is
 * marked below (network_views).
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

/* The place of the network's own views: empty until the engine gives
 * them (activations, learned filters, Grad-CAM for each evaluated run,
 * on the image of the classic kernels). */
static int network_views(rp_doc *d)
{
    ck_buf_str(&d->page, "<!-- the network's views (activations, learned filters, Grad-CAM) "
                         "come here -->\n");
    return 0;
}

/* The classic kernels on a training image of catalog k. */
static int classic(rp_doc *d, int k)
{
    ck_buf *b = &d->page;
    rp_catalog *c = &d->cats[k];
    int64_t *ids = NULL, id = -1;
    int32_t *labels = NULL, label = -1;
    size_t n = 0;
    char e[512];
    ds_blob blob;
    int rc = ds_catalog_split(c->c, "train", &ids, &labels, &n, e, sizeof e);
    if (rc == 0 && (id = rp_pick_sample(d, k, ids, labels, n, -1)) < 0) {
        snprintf(e, sizeof e, "%s: no training image", c->path);
    }
    for (size_t i = 0; i < n; i++) {
        label = ids[i] == id ? labels[i] : label;
    }
    if (id < 0 || ds_catalog_blob(c->c, id, &blob, e, sizeof e) != 0) {
        free(ids);
        free(labels);
        rp_page_note(d, "%s", e);
        return 0;
    }
    aug_src src = {.data = blob.data, .size = blob.size, .name = blob.name};
    int raw = blob.kind == DS_ENTRY_RAW;
    if (raw) {
        src.width = blob.width;
        src.height = blob.height;
        src.bands = blob.bands;
    }
    const char *cls = raw ? "pix" : NULL;
    ck_buf_str(b, "<h3>The lecture's kernels</h3>\n<p>Each kernel is slid over the image (a "
                  "correlation, edges extended) and its response shown, scaled by the largest "
                  "one. The image is <code>");
    rp_html_text(b, blob.name);
    ck_buf_str(b, "</code>, class <bdi>");
    rp_html_text(b, label >= 0 && label < c->nclasses ? c->classes[label] : "?");
    ck_buf_str(b, "</bdi>, from <code>");
    rp_html_text(b, c->path);
    ck_buf_str(b, "</code>.</p>\n<div class=\"kernels\">\n");
    void *img = NULL;
    size_t len = 0;
    rc = aug_thumbnail(&src, KERNEL_SIDE, AUG_PNG, &img, &len, e, sizeof e);
    if (rc == 0) {
        ck_buf_str(b, "<figure>");
        rp_html_img(b, "image/png", img, len, "the image", cls);
        ck_buf_str(b, "<figcaption>the image</figcaption></figure>\n");
    }
    free(img);
    for (size_t i = 0; rc == 0 && i < sizeof kernels / sizeof kernels[0]; i++) {
        img = NULL;
        rc = aug_filter_png(kernels[i].f, AUG_VIEW_DEFAULT, &src, KERNEL_SIDE, &img, &len, e,
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
    free(ids);
    free(labels);
    if (rc == CK_ENOMEM) {
        return ck_err(d->err, d->errlen, rc, "%s", e);
    }
    if (rc) {
        rp_page_note(d, "%s", e);
    }
    return 0;
}

int rp_sec_network(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<section id=\"network\">\n<h2>6 What the network looks at</h2>\n<p>A "
                  "convolution layer slides small kernels over its input, as the classic edge "
                  "detectors below do; a trained network's first layer learns kernels much "
                  "like them.</p>\n");
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
