/* tools.c: what a person looks at — preview grids, thumbnails and
 * augmented copies of files — built on the same pipe the training loader
 * uses, so a picture shows exactly what the model is fed. Grids and
 * thumbnails come as files or as encoded bytes in memory, for a page that
 * embeds them (convkit report); the two are the same bytes.
 *
 * A preview grid has no empty cell, as the book's grid of augmented cats:
 * the original and n variants fill an exact grid when n + 1 has one no
 * more than twice as wide as high (9 cells are 3x3, 12 are 4x3), and
 * otherwise the squarest grid that holds them is filled with further
 * variants (n = 9 gives 4x3: the original and 11). The original is the
 * top-left cell, framed.
 *
 * `apply` writes into a staging directory inside the output directory and
 * moves the files out only when every input has succeeded; on error it
 * removes what it made, so the output directory is left as it was.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#include "aug_internal.h"

#define GAP             4 /* pixels between grid cells */
#define FRAME           3 /* the original's frame, drawn in the gap around it */
#define MAX_INPUT_BYTES ((size_t)256 << 20)

int aug_src_size(const aug_src *src, int *w, int *h, int *bands, char *err, size_t errlen)
{
    if (src->width || src->height || src->bands) {
        *w = src->width;
        *h = src->height;
        *bands = src->bands;
        return 0;
    }
    if (!src->data || src->size == 0) {
        return ck_err(err, errlen, CK_EDECODE, "%s: decode: empty input", aug_src_name(src));
    }
    VipsImage *im = vips_image_new_from_buffer(src->data, src->size, "", NULL);
    if (!im) {
        return im_err_vips(err, errlen, CK_EDECODE, "%s: decode", aug_src_name(src));
    }
    *w = im->Xsize;
    *h = im->Ysize;
    *bands = im->Bands;
    g_object_unref(im);
    return 0;
}

int aug_preview_shape(int n, int *cols, int *rows)
{
    int cells = n + 1, r = 1;
    while ((r + 1) * (r + 1) <= cells) {
        r++;
    }
    for (; r >= 1; r--) { /* the squarest exact grid */
        if (cells % r == 0) {
            break;
        }
    }
    if (cells / r <= 2 * r) {
        *cols = cells / r;
        *rows = r;
        return n;
    }
    int c = 1;
    while (c * c < cells) {
        c++;
    }
    *cols = c;
    *rows = (cells + c - 1) / c;
    return *cols * *rows - 1;
}

/* A FRAME-pixel border in the gap around the cell at (x0, y0), w x h, in
 * matplotlib's first colour. */
static void frame_cell(uint8_t *canvas, int gw, int x0, int y0, int w, int h)
{
    static const uint8_t c[3] = {0x1f, 0x77, 0xb4};
    for (int y = y0 - FRAME; y < y0 + h + FRAME; y++) {
        for (int x = x0 - FRAME; x < x0 + w + FRAME; x++) {
            if (x < x0 || x >= x0 + w || y < y0 || y >= y0 + h) {
                memcpy(canvas + ((size_t)y * gw + x) * 3, c, 3);
            }
        }
    }
}

/* The grid's RGB pixels in *canvas (malloc'd, *gw x *gh); cells shaped as
 * the source, or as `shape` when it is not NULL. */
static int grid_pixels(const aug_src *src, const aug_policy *policy, uint64_t seed, int n, int cell,
                       const aug_params *shape, uint8_t **canvas_out, int *gw_out, int *gh_out,
                       char *err, size_t errlen)
{
    *canvas_out = NULL;
    if (n < 0 || n > 1000 || cell < 8 || cell > 4096) {
        return ck_err(err, errlen, CK_EINVAL,
                      "preview: n=%d cell=%d: n must be 0..1000 and cell 8..4096", n, cell);
    }
    int sw = 0, sh = 0, sb = 0;
    int rc = im_init(NULL, err, errlen);
    if (rc || (rc = aug_src_size(src, &sw, &sh, &sb, err, errlen))) {
        return rc;
    }
    if (shape && (shape->width < 1 || shape->height < 1)) {
        return ck_err(err, errlen, CK_EINVAL, "preview: a %dx%d cell shape", shape->width,
                      shape->height);
    }
    if (shape) { /* the loader's output, scaled: its geometry at any size */
        sw = shape->width;
        sh = shape->height;
    }
    /* Cells keep the source's (or the shape's) aspect ratio, the longer
     * side `cell`. */
    int cw = sw >= sh ? cell : (int)fmax(1, round((double)cell * sw / sh));
    int ch = sh >= sw ? cell : (int)fmax(1, round((double)cell * sh / sw));
    int cols, rows;
    n = aug_preview_shape(n, &cols, &rows);
    int gw = cols * cw + (cols + 1) * GAP, gh = rows * ch + (rows + 1) * GAP;
    aug_params p = aug_params_default(cw, ch, 3);
    p.dtype = AUG_U8;
    p.policy = policy;
    if (shape) {
        p.resize = shape->resize;
        p.pad = shape->pad;
    }
    uint8_t *canvas = malloc((size_t)gw * gh * 3), *cellbuf = malloc((size_t)cw * ch * 3);
    aug_pipe *pipe = NULL;
    if (!canvas || !cellbuf) {
        free(canvas);
        free(cellbuf);
        return ck_err(err, errlen, CK_ENOMEM, "preview: out of memory");
    }
    memset(canvas, 255, (size_t)gw * gh * 3);
    frame_cell(canvas, gw, GAP, GAP, cw, ch);
    rc = aug_pipe_create(&pipe, &p, err, errlen);
    for (int i = 0; rc == 0 && i <= n; i++) {
        aug_sample s;
        if (i == 0) {
            s = aug_sample_identity();
        } else {
            aug_policy_draw(policy, seed, 0, (uint64_t)(i - 1), &s);
        }
        rc = aug_pipe_run_sample(pipe, src, &s, cellbuf, err, errlen);
        int x0 = GAP + (i % cols) * (cw + GAP), y0 = GAP + (i / cols) * (ch + GAP);
        for (int y = 0; rc == 0 && y < ch; y++) {
            memcpy(canvas + ((size_t)(y0 + y) * gw + x0) * 3, cellbuf + (size_t)y * cw * 3,
                   (size_t)cw * 3);
        }
    }
    aug_pipe_destroy(pipe);
    free(cellbuf);
    if (rc) {
        free(canvas);
        return rc;
    }
    *canvas_out = canvas;
    *gw_out = gw;
    *gh_out = gh;
    return 0;
}

/* The grid written to out_png, or encoded into *png when out_png is NULL. */
static int grid(const aug_src *src, const aug_policy *policy, uint64_t seed, int n, int cell,
                const aug_params *shape, const char *out_png, void **png, size_t *len, char *err,
                size_t errlen)
{
    uint8_t *canvas = NULL;
    int gw = 0, gh = 0;
    int rc = grid_pixels(src, policy, seed, n, cell, shape, &canvas, &gw, &gh, err, errlen);
    if (rc) {
        return rc;
    }
    const char *name = out_png ? out_png : "preview";
    VipsImage *im =
        vips_image_new_from_memory(canvas, (size_t)gw * gh * 3, gw, gh, 3, VIPS_FORMAT_UCHAR);
    if (!im) {
        rc = im_err_vips(err, errlen, CK_ENOMEM, "%s: grid", name);
    } else {
        rc = out_png ? aug_save_atomic(im, out_png, err, errlen)
                     : aug_encode(im, AUG_PNG, png, len, name, err, errlen);
        g_object_unref(im);
    }
    free(canvas);
    return rc;
}

int aug_preview_grid(const aug_src *src, const aug_policy *policy, uint64_t seed, int n, int cell,
                     const char *out_png, char *err, size_t errlen)
{
    return grid(src, policy, seed, n, cell, NULL, out_png, NULL, NULL, err, errlen);
}

int aug_preview_grid_png(const aug_src *src, const aug_policy *policy, uint64_t seed, int n,
                         int cell, const aug_params *shape, void **png, size_t *len, char *err,
                         size_t errlen)
{
    *png = NULL;
    *len = 0;
    return grid(src, policy, seed, n, cell, shape, NULL, png, len, err, errlen);
}

/* ---- thumbnails ---- */

int aug_src_pixels(const aug_src *src, int max_side, uint8_t **px, int *w, int *h, int *c,
                   char *err, size_t errlen)
{
    *px = NULL;
    int sw = 0, sh = 0, sb = 0;
    int rc = im_init(NULL, err, errlen);
    if (rc || (rc = aug_src_size(src, &sw, &sh, &sb, err, errlen))) {
        return rc;
    }
    if (sw < 1 || sh < 1) {
        return ck_err(err, errlen, CK_EINVAL, "%s: %dx%d: not an image size", aug_src_name(src), sw,
                      sh);
    }
    int ow = sw, oh = sh;
    if (max_side > 0 && (sw > max_side || sh > max_side)) {
        ow = sw >= sh ? max_side : (int)fmax(1, round((double)max_side * sw / sh));
        oh = sh >= sw ? max_side : (int)fmax(1, round((double)max_side * sh / sw));
    }
    aug_params p = aug_params_default(ow, oh, sb <= 2 ? 1 : 3);
    p.dtype = AUG_U8;
    aug_pipe *pipe = NULL;
    uint8_t *buf = malloc(aug_params_sample_bytes(&p));
    if (!buf) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", aug_src_name(src));
    }
    aug_sample id = aug_sample_identity();
    if ((rc = aug_pipe_create(&pipe, &p, err, errlen)) == 0) {
        rc = aug_pipe_run_sample(pipe, src, &id, buf, err, errlen);
    }
    aug_pipe_destroy(pipe);
    if (rc) {
        free(buf);
        return rc;
    }
    *px = buf;
    *w = ow;
    *h = oh;
    *c = p.channels;
    return 0;
}

int aug_thumbnail(const aug_src *src, int max_side, aug_encoding enc, void **out, size_t *len,
                  char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (max_side < 1 || max_side > AUG_MAX_SIDE) {
        return ck_err(err, errlen, CK_EINVAL, "thumbnail: max_side=%d: must be 1..%d", max_side,
                      AUG_MAX_SIDE);
    }
    uint8_t *px = NULL;
    int w = 0, h = 0, c = 0;
    int rc = aug_src_pixels(src, max_side, &px, &w, &h, &c, err, errlen);
    if (rc) {
        return rc;
    }
    VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * c, w, h, c, VIPS_FORMAT_UCHAR);
    if (!im) {
        rc = im_err_vips(err, errlen, CK_ENOMEM, "%s: thumbnail", aug_src_name(src));
    } else {
        rc = aug_encode(im, enc, out, len, aug_src_name(src), err, errlen);
        g_object_unref(im);
    }
    free(px);
    return rc;
}

/* ---- apply ---- */

/* The output name of copy k of path: STEM_augK.png for a .png name, else
 * STEM_augK.jpg. */
static void out_name(const char *path, int k, char *buf, size_t len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    int png = dot && g_ascii_strcasecmp(dot, ".png") == 0;
    snprintf(buf, len, "%.*s_aug%d.%s", (int)n, b, k, png ? "png" : "jpg");
}

/* Augments one file into `copies` outputs in dir. */
static int apply_one(const aug_policy *policy, uint64_t seed, int copies, const char *path,
                     uint64_t first_id, const char *dir, char *err, size_t errlen)
{
    void *data = NULL;
    size_t size = 0;
    int rc = aug_read_file(path, MAX_INPUT_BYTES, &data, &size, err, errlen);
    if (rc) {
        return rc;
    }
    aug_src src = {.data = data, .size = size, .name = path};
    int w = 0, h = 0, bands = 0;
    aug_pipe *pipe = NULL;
    uint8_t *pix = NULL;
    aug_params p;
    if ((rc = aug_src_size(&src, &w, &h, &bands, err, errlen)) == 0) {
        p = aug_params_default(w, h, bands <= 2 ? 1 : 3);
        p.dtype = AUG_U8;
        p.policy = policy;
        rc = aug_pipe_create(&pipe, &p, err, errlen);
    }
    if (rc == 0 && !(pix = malloc(aug_params_sample_bytes(&p)))) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", path);
    }
    for (int k = 0; rc == 0 && k < copies; k++) {
        rc = aug_pipe_run(pipe, &src, seed, 0, first_id + (uint64_t)k, pix, err, errlen);
        VipsImage *im = NULL;
        if (rc == 0 && !(im = vips_image_new_from_memory(pix, aug_params_sample_bytes(&p), w, h,
                                                         p.channels, VIPS_FORMAT_UCHAR))) {
            rc = im_err_vips(err, errlen, CK_ENOMEM, "%s: augment", path);
        }
        if (rc == 0) {
            char name[300], out[4400];
            out_name(path, k, name, sizeof name);
            snprintf(out, sizeof out, "%s/%s", dir, name);
            rc = aug_save_atomic(im, out, err, errlen);
        }
        if (im) {
            g_object_unref(im);
        }
    }
    aug_pipe_destroy(pipe);
    free(pix);
    free(data);
    return rc;
}

/* Removes the outputs of inputs [0, n) from dir (errors ignored: cleanup). */
static void remove_outputs(const char *const *paths, int n, int copies, const char *dir)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < copies; k++) {
            char name[300], full[4400];
            out_name(paths[i], k, name, sizeof name);
            snprintf(full, sizeof full, "%s/%s", dir, name);
            unlink(full);
        }
    }
}

int aug_apply_files(const aug_policy *policy, uint64_t seed, int copies, const char *const *paths,
                    int npaths, const char *outdir, char *err, size_t errlen)
{
    if (copies < 1 || copies > 10000 || npaths < 0) {
        return ck_err(err, errlen, CK_EINVAL, "apply: copies=%d: must be 1..10000", copies);
    }
    char eb[128];
    int rc = im_init(NULL, err, errlen);
    if (rc) {
        return rc;
    }
    /* Two inputs with one output name would overwrite each other. */
    for (int i = 0; i < npaths; i++) {
        char a[300], b[300];
        out_name(paths[i], 0, a, sizeof a);
        for (int j = 0; j < i; j++) {
            out_name(paths[j], 0, b, sizeof b);
            if (strcmp(a, b) == 0) {
                return ck_err(err, errlen, CK_EINVAL, "%s: apply: same output names as %s (%s)",
                              paths[i], paths[j], a);
            }
        }
    }
    size_t dlen = strlen(outdir);
    char *stage = malloc(dlen + 32);
    if (!stage) {
        return ck_err(err, errlen, CK_ENOMEM, "apply: out of memory");
    }
    snprintf(stage, dlen + 32, "%s/.aug-staging-XXXXXX", outdir);
    if (!mkdtemp(stage)) {
        rc = ck_err(err, errlen, CK_EIO, "%s: apply: cannot create a staging directory: %s", outdir,
                    ck_errno_text(errno, eb, sizeof eb));
        free(stage);
        return rc;
    }
    int made = 0;
    while (rc == 0 && made < npaths) {
        rc = apply_one(policy, seed, copies, paths[made], (uint64_t)made * copies, stage, err,
                       errlen);
        made++;
    }
    /* Move everything out; on failure take back what was moved. */
    int moved = 0;
    while (rc == 0 && moved < npaths) {
        for (int k = 0; rc == 0 && k < copies; k++) {
            char name[300], from[4400], to[4400];
            out_name(paths[moved], k, name, sizeof name);
            snprintf(from, sizeof from, "%s/%s", stage, name);
            snprintf(to, sizeof to, "%s/%s", outdir, name);
            if (rename(from, to) != 0) {
                rc = ck_err(err, errlen, CK_EIO, "%s: rename: %s", to,
                            ck_errno_text(errno, eb, sizeof eb));
            }
        }
        moved++;
    }
    if (rc) {
        remove_outputs(paths, moved, copies, outdir);
    }
    remove_outputs(paths, made, copies, stage);
    if (rmdir(stage) != 0 && rc == 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: rmdir: %s", stage,
                    ck_errno_text(errno, eb, sizeof eb));
    }
    free(stage);
    return rc;
}
