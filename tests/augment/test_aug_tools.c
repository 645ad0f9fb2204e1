/* test_aug_tools.c: the classic filters on known images, preview grids,
 * augmented copies of files (and nothing written on error), and the bench
 * driver. */
#include <dirent.h>
#include <math.h>
#include <vips/vips.h>

#include "aug.h"
#include "ck_test.h"
#include "im.h"

static char err[512];

static void init(void)
{
    ck_assert_msg(im_init("test_aug_tools", err, sizeof err) == 0, "%s", err);
}

/* ---- filters ---- */

/* 8x6 grey: 0 left of column 4, 100 from it on (a vertical step edge). */
static void step_image(uint8_t *px, int w, int h, int vertical)
{
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            px[y * w + x] = (vertical ? x : y) >= 4 ? 100 : 0;
        }
    }
}

START_TEST(filters_on_a_step_edge)
{
    init();
    enum { W = 8, H = 6 };
    uint8_t px[W * H];
    float out[W * H];
    step_image(px, W, H, 1);
    /* Rising to the right between columns 3 and 4: the x kernels see it at
     * both columns, with their column sums as gain; y kernels see nothing. */
    static const struct {
        aug_filter f;
        float at3, at4;
    } xs[] = {
        {AUG_FILTER_PREWITT_X, 300, 300},    {AUG_FILTER_SOBEL_X, 400, 400},
        {AUG_FILTER_PREWITT, 300, 300},      {AUG_FILTER_SOBEL, 400, 400},
        {AUG_FILTER_LAPLACIAN_X, 100, -100}, {AUG_FILTER_LAPLACIAN, 100, -100},
    };
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        ck_assert_int_eq(aug_filter_raw(xs[i].f, px, W, H, 1, out, err, sizeof err), 0);
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                float want = x == 3 ? xs[i].at3 : x == 4 ? xs[i].at4 : 0;
                ck_assert_msg(fabsf(out[y * W + x] - want) < 1e-3f, "%s (%d,%d): %g want %g",
                              aug_filter_name(xs[i].f), x, y, (double)out[y * W + x], (double)want);
            }
        }
    }
    static const aug_filter zero[] = {AUG_FILTER_PREWITT_Y, AUG_FILTER_SOBEL_Y,
                                      AUG_FILTER_LAPLACIAN_Y};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(aug_filter_raw(zero[i], px, W, H, 1, out, err, sizeof err), 0);
        for (int j = 0; j < W * H; j++) {
            ck_assert_msg(out[j] == 0, "%s: %g", aug_filter_name(zero[i]), (double)out[j]);
        }
    }
    /* The same edge turned: rising downwards, seen by the y kernels. */
    step_image(px, W, H, 0);
    ck_assert_int_eq(aug_filter_raw(AUG_FILTER_SOBEL_Y, px, W, H, 1, out, err, sizeof err), 0);
    ck_assert(fabsf(out[3 * W + 2] - 400) < 1e-3f && fabsf(out[4 * W + 5] - 400) < 1e-3f);
    ck_assert(out[1 * W + 2] == 0 && out[5 * W + 5] == 0);
    /* Sharpen keeps a flat image and each colour band. */
    uint8_t rgb[W * H * 3];
    float out3[W * H * 3];
    for (int j = 0; j < W * H * 3; j++) {
        rgb[j] = (uint8_t)(j % 3 * 50 + 20);
    }
    ck_assert_int_eq(aug_filter_bands(AUG_FILTER_SHARPEN, 3), 3);
    ck_assert_int_eq(aug_filter_raw(AUG_FILTER_SHARPEN, rgb, W, H, 3, out3, err, sizeof err), 0);
    for (int j = 0; j < W * H * 3; j++) {
        ck_assert(fabsf(out3[j] - rgb[j]) < 1e-3f);
    }
    /* Edge filters on colour work on its grey: 0.299 R + 0.587 G + 0.114 B. */
    for (int j = 0; j < W * H; j++) {
        rgb[j * 3] = rgb[j * 3 + 1] = rgb[j * 3 + 2] = (uint8_t)((j % W) >= 4 ? 100 : 0);
    }
    ck_assert_int_eq(aug_filter_bands(AUG_FILTER_SOBEL_X, 3), 1);
    ck_assert_int_eq(aug_filter_raw(AUG_FILTER_SOBEL_X, rgb, W, H, 3, out, err, sizeof err), 0);
    ck_assert_msg(fabsf(out[3] - 400) < 0.01f, "%g", (double)out[3]);
}
END_TEST

START_TEST(filter_names_help_and_files)
{
    init();
    for (int f = 0; f < AUG_FILTER_COUNT; f++) {
        aug_filter g;
        ck_assert_int_eq(aug_filter_parse(aug_filter_name((aug_filter)f), &g, err, sizeof err), 0);
        ck_assert_int_eq(g, f);
        ck_assert_ptr_nonnull(strstr(aug_filter_help(), aug_filter_name((aug_filter)f)));
    }
    aug_filter g;
    ck_assert_int_eq(aug_filter_parse("canny", &g, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strncmp(err, "filter: canny: unknown filter", 29) == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(aug_filter_help(), "[1 -2 1]"));

    char dir[256], in[300], out[300];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/step.png", dir);
    snprintf(out, sizeof out, "%s/edges.png", dir);
    uint8_t px[8 * 6];
    step_image(px, 8, 6, 1);
    VipsImage *im = vips_image_new_from_memory(px, sizeof px, 8, 6, 1, VIPS_FORMAT_UCHAR);
    ck_assert_int_eq(vips_image_write_to_file(im, in, NULL), 0);
    g_object_unref(im);
    /* Responses +100 at column 3, -100 at 4, 0 elsewhere, in each view. */
    static const struct {
        aug_filter_view view;
        uint8_t at0, at3, at4;
    } views[] = {{AUG_VIEW_ABS, 0, 100, 100},
                 {AUG_VIEW_SIGNED, 128, 255, 1},
                 {AUG_VIEW_DEFAULT, 128, 255, 1},
                 {AUG_VIEW_MAGNITUDE, 0, 255, 255}};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        ck_assert_msg(
            aug_filter_file(AUG_FILTER_LAPLACIAN_X, views[i].view, in, out, err, sizeof err) == 0,
            "%s", err);
        VipsImage *res = vips_image_new_from_file(out, NULL);
        ck_assert_ptr_nonnull(res);
        size_t len;
        uint8_t *got = vips_image_write_to_memory(res, &len);
        ck_assert_uint_eq(len, 8 * 6);
        ck_assert_msg(got[3] == views[i].at3 && got[4] == views[i].at4 && got[0] == views[i].at0 &&
                          got[7] == views[i].at0,
                      "view %s: %d %d %d", aug_filter_view_name(views[i].view), got[0], got[3],
                      got[4]);
        g_free(got);
        g_object_unref(res);
    }
    /* Views that do not fit the filter are refused, naming both. */
    ck_assert_int_eq(aug_filter_file(AUG_FILTER_SOBEL, AUG_VIEW_SIGNED, in, out, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "sobel") && strstr(err, "signed"), "%s", err);
    ck_assert_int_eq(
        aug_filter_file(AUG_FILTER_SHARPEN, AUG_VIEW_MAGNITUDE, in, out, err, sizeof err),
        CK_EINVAL);
    aug_filter_view v;
    ck_assert_int_eq(aug_filter_view_parse("magnitude", &v, err, sizeof err), 0);
    ck_assert_int_eq(v, AUG_VIEW_MAGNITUDE);
    ck_assert_int_eq(aug_filter_view_parse("default", &v, err, sizeof err), CK_EINVAL);
    /* A missing input: an error naming it, and no output. */
    snprintf(in, sizeof in, "%s/missing.png", dir);
    snprintf(out, sizeof out, "%s/none.png", dir);
    ck_assert_int_eq(aug_filter_file(AUG_FILTER_SOBEL, AUG_VIEW_DEFAULT, in, out, err, sizeof err),
                     CK_EIO);
    ck_assert_ptr_nonnull(strstr(err, "missing.png"));
    ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

/* The histogram of an 8-bit one-band image file. */
static void histogram(const char *path, long hist[256], long *n)
{
    VipsImage *im = vips_image_new_from_file(path, NULL);
    ck_assert_ptr_nonnull(im);
    ck_assert_int_eq(im->Bands, 1);
    size_t len;
    uint8_t *px = vips_image_write_to_memory(im, &len);
    ck_assert_ptr_nonnull(px);
    memset(hist, 0, 256 * sizeof hist[0]);
    for (size_t i = 0; i < len; i++) {
        hist[px[i]]++;
    }
    *n = (long)len;
    g_free(px);
    g_object_unref(im);
}

static int median(const long hist[256], long n)
{
    long seen = 0;
    for (int v = 0; v < 256; v++) {
        if ((seen += hist[v]) * 2 >= n) {
            return v;
        }
    }
    return 255;
}

/* On a real photo: the Laplacian's signed view is centred on mid-grey
 * (unscaled, |response| is nearly black); the Sobel magnitude reaches
 * white with almost nothing saturated (clipped, many pixels are). */
START_TEST(filter_views_on_a_photo)
{
    init();
    char path[512], dir[256], out[300];
    snprintf(path, sizeof path, "%s/alien-vs-predator/train/alien/3.jpg", CK_SHARED_DATA);
    if (access(path, R_OK) != 0) {
        printf("note: %s missing, skipped\n", path);
        return;
    }
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/f.png", dir);
    long hist[256], n;
    ck_assert_msg(
        aug_filter_file(AUG_FILTER_LAPLACIAN, AUG_VIEW_DEFAULT, path, out, err, sizeof err) == 0,
        "%s", err);
    histogram(out, hist, &n);
    ck_assert_msg(abs(median(hist, n) - 128) <= 2, "signed Laplacian: median %d", median(hist, n));
    ck_assert_msg(hist[0] + hist[255] < n / 1000, "signed Laplacian: %ld at the ends",
                  hist[0] + hist[255]);
    ck_assert_int_eq(
        aug_filter_file(AUG_FILTER_LAPLACIAN, AUG_VIEW_ABS, path, out, err, sizeof err), 0);
    histogram(out, hist, &n);
    ck_assert_msg(median(hist, n) < 16, "|Laplacian| median %d", median(hist, n));

    ck_assert_msg(aug_filter_file(AUG_FILTER_SOBEL, AUG_VIEW_DEFAULT, path, out, err, sizeof err) ==
                      0,
                  "%s", err);
    histogram(out, hist, &n);
    ck_assert_msg(hist[255] > 0 && hist[255] < n / 1000, "Sobel magnitude: %ld of %ld at 255",
                  hist[255], n);
    ck_assert_int_eq(aug_filter_file(AUG_FILTER_SOBEL, AUG_VIEW_ABS, path, out, err, sizeof err),
                     0);
    histogram(out, hist, &n);
    printf("sobel abs: %.1f%% of pixels at 255\n", 100.0 * hist[255] / n);
    ck_assert_msg(hist[255] > n / 100, "clipped Sobel: %ld of %ld at 255", hist[255], n);
}
END_TEST

/* ---- preview and apply ---- */

static void *make_png(int w, int h, size_t *len)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) {
        px[i] = (uint8_t)(i * 7 % 256);
    }
    VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * 3, w, h, 3, VIPS_FORMAT_UCHAR);
    void *buf = NULL;
    ck_assert_int_eq(vips_image_write_to_buffer(im, ".png", &buf, len, NULL), 0);
    g_object_unref(im);
    free(px);
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Entries of dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

START_TEST(preview_grid_png)
{
    init();
    char dir[256], out[300];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/grid.png", dir);
    size_t len;
    void *png = make_png(120, 80, &len);
    aug_src src = {.data = png, .size = len, .name = "cat.png"};
    aug_policy *pol;
    ck_assert_int_eq(aug_policy_parse(&pol, "chollet-2nd", err, sizeof err), 0);
    ck_assert_msg(aug_preview_grid(&src, pol, 1, 8, 90, out, err, sizeof err) == 0, "%s", err);
    VipsImage *im = vips_image_new_from_file(out, NULL);
    ck_assert_ptr_nonnull(im);
    /* 9 cells of 90x60 in 3x3 with 4-pixel gaps. */
    ck_assert_int_eq(im->Xsize, 3 * 90 + 4 * 4);
    ck_assert_int_eq(im->Ysize, 3 * 60 + 4 * 4);
    g_object_unref(im);
    ck_assert_int_eq(count_entries(dir), 1);
    /* 10 images make no grid at most twice as wide as high: 4x3, filled
     * with 11 variants; 12 and 6 images fill 4x3 and 3x2 exactly. No cell
     * is left white, and the original (top left) is framed in blue. */
    static const struct {
        int n, shown, cols, rows;
    } shapes[] = {{9, 11, 4, 3}, {11, 11, 4, 3}, {5, 5, 3, 2}, {2, 3, 2, 2}, {1, 1, 2, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int cols, rows;
        ck_assert_int_eq(aug_preview_shape(shapes[k].n, &cols, &rows), shapes[k].shown);
        ck_assert(cols == shapes[k].cols && rows == shapes[k].rows);
    }
    ck_assert_msg(aug_preview_grid(&src, pol, 1, 9, 90, out, err, sizeof err) == 0, "%s", err);
    im = vips_image_new_from_file(out, NULL);
    ck_assert_ptr_nonnull(im);
    ck_assert_int_eq(im->Xsize, 4 * 90 + 5 * 4);
    ck_assert_int_eq(im->Ysize, 3 * 60 + 4 * 4);
    size_t len2;
    uint8_t *px = vips_image_write_to_memory(im, &len2);
    ck_assert_ptr_nonnull(px);
    for (int cell = 0; cell < 12; cell++) {
        int x0 = 4 + cell % 4 * 94, y0 = 4 + cell / 4 * 64, white = 0;
        for (int y = y0; y < y0 + 60; y++) {
            for (int x = x0; x < x0 + 90; x++) {
                const uint8_t *p = px + ((size_t)y * im->Xsize + x) * 3;
                white += p[0] == 255 && p[1] == 255 && p[2] == 255;
            }
        }
        ck_assert_msg(white < 90 * 60 / 2, "cell %d is empty", cell);
    }
    const uint8_t *edge = px + ((size_t)2 * im->Xsize + 2) * 3; /* in the frame */
    ck_assert_msg(edge[0] == 0x1f && edge[1] == 0x77 && edge[2] == 0xb4, "frame %d %d %d", edge[0],
                  edge[1], edge[2]);
    edge = px + ((size_t)2 * im->Xsize + 4 + 94 + 2) * 3; /* above the second cell */
    ck_assert(edge[0] == 255 && edge[1] == 255 && edge[2] == 255);
    g_free(px);
    g_object_unref(im);
    /* Bad arguments and bad input leave nothing. */
    snprintf(out, sizeof out, "%s/bad.png", dir);
    ck_assert_int_eq(aug_preview_grid(&src, pol, 1, -1, 90, out, err, sizeof err), CK_EINVAL);
    aug_src junk = {.data = "junk", .size = 4, .name = "junk.jpg"};
    ck_assert_int_eq(aug_preview_grid(&junk, pol, 1, 4, 90, out, err, sizeof err), CK_EDECODE);
    ck_assert_ptr_nonnull(strstr(err, "junk.jpg"));
    ck_assert_int_eq(count_entries(dir), 1);
    aug_policy_destroy(pol);
    g_free(png);
}
END_TEST

/* The bytes of a file, malloc'd. */
static void *slurp(const char *path, size_t *len)
{
    void *data = NULL;
    ck_assert_msg(aug_read_file(path, 1 << 26, &data, len, err, sizeof err) == 0, "%s", err);
    return data;
}

/* The in-memory pictures a page embeds are the files the commands write,
 * byte for byte; thumbnails keep the aspect ratio, never enlarge, and say
 * which image failed. */
START_TEST(pictures_in_memory)
{
    init();
    char dir[256], out[300];
    ck_test_tmpdir(dir, sizeof dir);
    size_t len, flen, mlen;
    void *png = make_png(120, 80, &len);
    aug_src src = {.data = png, .size = len, .name = "cat.png"};
    aug_policy *pol;
    ck_assert_int_eq(aug_policy_parse(&pol, "chollet-2nd", err, sizeof err), 0);

    snprintf(out, sizeof out, "%s/grid.png", dir);
    ck_assert_msg(aug_preview_grid(&src, pol, 1, 8, 90, out, err, sizeof err) == 0, "%s", err);
    void *file = slurp(out, &flen), *mem = NULL;
    ck_assert_msg(aug_preview_grid_png(&src, pol, 1, 8, 90, NULL, &mem, &mlen, err, sizeof err) ==
                      0,
                  "%s", err);
    ck_assert(mlen == flen && memcmp(file, mem, flen) == 0);
    free(file);
    free(mem);
    ck_assert_int_eq(aug_preview_grid_png(&src, pol, 1, -1, 90, NULL, &mem, &mlen, err, sizeof err),
                     CK_EINVAL);
    ck_assert_ptr_null(mem);
    /* The loader's geometry: a 120x80 image fitted into a square model
     * input gives square cells, padded above and below (black, the pad). */
    aug_params square = aug_params_default(28, 28, 1);
    square.resize = AUG_RESIZE_FIT;
    ck_assert_msg(
        aug_preview_grid_png(&src, NULL, 1, 3, 84, &square, &mem, &mlen, err, sizeof err) == 0,
        "%s", err);
    VipsImage *g = vips_image_new_from_buffer(mem, mlen, "", NULL);
    ck_assert(g && g->Xsize == 2 * 84 + 3 * 4 && g->Ysize == 2 * 84 + 3 * 4);
    /* 120x80 fitted into 84x84 is 84x56: 14 rows of pad above it. */
    double *v = NULL;
    int nv = 0;
    ck_assert(vips_getpoint(g, &v, &nv, 4 + 42, 4 + 6, NULL) == 0);
    ck_assert(nv == 3 && v[0] == 0 && v[1] == 0 && v[2] == 0);
    g_free(v);
    ck_assert(vips_getpoint(g, &v, &nv, 4 + 42, 4 + 42, NULL) == 0);
    ck_assert(v[0] + v[1] + v[2] > 0);
    g_free(v);
    g_object_unref(g);
    free(mem);

    snprintf(out, sizeof out, "%s/in.png", dir);
    write_file(out, png, len);
    char edges[300];
    snprintf(edges, sizeof edges, "%s/sobel.png", dir);
    ck_assert_msg(
        aug_filter_file(AUG_FILTER_SOBEL, AUG_VIEW_DEFAULT, out, edges, err, sizeof err) == 0, "%s",
        err);
    file = slurp(edges, &flen);
    ck_assert_msg(aug_filter_png(AUG_FILTER_SOBEL, AUG_VIEW_DEFAULT, &src, 0, &mem, &mlen, err,
                                 sizeof err) == 0,
                  "%s", err);
    ck_assert(mlen == flen && memcmp(file, mem, flen) == 0);
    free(file);
    free(mem);
    ck_assert_int_eq(
        aug_filter_png(AUG_FILTER_SOBEL, AUG_VIEW_SIGNED, &src, 0, &mem, &mlen, err, sizeof err),
        CK_EINVAL);
    ck_assert_msg(aug_filter_png(AUG_FILTER_LAPLACIAN, AUG_VIEW_DEFAULT, &src, 60, &mem, &mlen, err,
                                 sizeof err) == 0,
                  "%s", err);
    VipsImage *im = vips_image_new_from_buffer(mem, mlen, "", NULL);
    ck_assert_ptr_nonnull(im);
    ck_assert(im->Xsize == 60 && im->Ysize == 40 && im->Bands == 1);
    g_object_unref(im);
    free(mem);

    /* A 28x28 grey digit stays 28x28 and grey; a photo is shrunk to its
     * longer side, as JPEG. */
    uint8_t digit[28 * 28];
    for (int i = 0; i < 28 * 28; i++) {
        digit[i] = (uint8_t)(i % 28 * 9);
    }
    aug_src raw = {.data = digit, .size = sizeof digit, .width = 28, .height = 28, .bands = 1};
    ck_assert_msg(aug_thumbnail(&raw, 64, AUG_PNG, &mem, &mlen, err, sizeof err) == 0, "%s", err);
    ck_assert(mlen > 8 && memcmp(mem, "\x89PNG", 4) == 0);
    im = vips_image_new_from_buffer(mem, mlen, "", NULL);
    ck_assert(im && im->Xsize == 28 && im->Ysize == 28 && im->Bands == 1);
    uint8_t *px = vips_image_write_to_memory(im, &flen);
    ck_assert(flen == sizeof digit && memcmp(px, digit, flen) == 0);
    g_free(px);
    g_object_unref(im);
    free(mem);
    ck_assert_msg(aug_thumbnail(&src, 48, AUG_JPEG, &mem, &mlen, err, sizeof err) == 0, "%s", err);
    ck_assert(mlen > 3 && memcmp(mem, "\xff\xd8\xff", 3) == 0);
    im = vips_image_new_from_buffer(mem, mlen, "", NULL);
    ck_assert(im && im->Xsize == 48 && im->Ysize == 32 && im->Bands == 3);
    g_object_unref(im);
    free(mem);
    ck_assert_int_eq(aug_thumbnail(&src, 0, AUG_PNG, &mem, &mlen, err, sizeof err), CK_EINVAL);
    ck_assert(aug_resize_parse("fit") == AUG_RESIZE_FIT &&
              aug_resize_parse("crop") == AUG_RESIZE_CROP &&
              aug_resize_parse("stretch") == AUG_RESIZE_STRETCH);
    ck_assert(aug_resize_parse("Fit") == -1 && aug_resize_parse(NULL) == -1);
    aug_src junk = {.data = "junk", .size = 4, .name = "junk.jpg"};
    ck_assert_int_eq(aug_thumbnail(&junk, 48, AUG_JPEG, &mem, &mlen, err, sizeof err), CK_EDECODE);
    ck_assert_ptr_nonnull(strstr(err, "junk.jpg"));
    ck_assert_ptr_null(mem);
    ck_assert_int_eq(count_entries(dir), 3);
    aug_policy_destroy(pol);
    g_free(png);
}
END_TEST

START_TEST(apply_writes_all_or_nothing)
{
    init();
    char in[256], out[256], a[300], b[300], c[300];
    ck_test_tmpdir(in, sizeof in);
    ck_test_tmpdir(out, sizeof out);
    size_t len;
    void *png = make_png(64, 48, &len);
    snprintf(a, sizeof a, "%s/a.png", in);
    snprintf(b, sizeof b, "%s/b.jpg", in);
    write_file(a, png, len);
    write_file(b, png, len); /* a PNG named .jpg: output is JPEG, by name */
    aug_policy *pol;
    ck_assert_int_eq(aug_policy_parse(&pol, "flip=horizontal,rotate=0.05", err, sizeof err), 0);
    const char *paths[] = {a, b};
    ck_assert_msg(aug_apply_files(pol, 4, 2, paths, 2, out, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count_entries(out), 4);
    static const char *names[] = {"a_aug0.png", "a_aug1.png", "b_aug0.jpg", "b_aug1.jpg"};
    for (int i = 0; i < 4; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", out, names[i]);
        VipsImage *im = vips_image_new_from_file(p, NULL);
        ck_assert_msg(im != NULL, "%s", p);
        ck_assert(im->Xsize == 64 && im->Ysize == 48 && im->Bands == 3);
        g_object_unref(im);
    }
    /* The same seed again gives the same bytes. */
    char again[256];
    ck_test_tmpdir(again, sizeof again);
    ck_assert_int_eq(aug_apply_files(pol, 4, 2, paths, 2, again, err, sizeof err), 0);
    for (int i = 0; i < 2; i++) {
        char p[400], q[400];
        snprintf(p, sizeof p, "%s/%s", out, names[i]);
        snprintf(q, sizeof q, "%s/%s", again, names[i]);
        void *x, *y;
        size_t nx, ny;
        ck_assert_int_eq(aug_read_file(p, 1 << 20, &x, &nx, err, sizeof err), 0);
        ck_assert_int_eq(aug_read_file(q, 1 << 20, &y, &ny, err, sizeof err), 0);
        ck_assert(nx == ny && memcmp(x, y, nx) == 0);
        free(x);
        free(y);
    }
    /* A missing file after good ones: an error naming it, nothing written. */
    char empty[256];
    ck_test_tmpdir(empty, sizeof empty);
    snprintf(c, sizeof c, "%s/gone.jpg", in);
    const char *bad[] = {a, b, c};
    ck_assert_int_eq(aug_apply_files(pol, 4, 1, bad, 3, empty, err, sizeof err), CK_EIO);
    ck_assert_ptr_nonnull(strstr(err, "gone.jpg"));
    ck_assert_int_eq(count_entries(empty), 0);
    /* A corrupt file too. */
    write_file(c, "\xff\xd8\xff\xe0 broken", 11);
    ck_assert_int_eq(aug_apply_files(pol, 4, 1, bad, 3, empty, err, sizeof err), CK_EDECODE);
    ck_assert_ptr_nonnull(strstr(err, "gone.jpg"));
    ck_assert_int_eq(count_entries(empty), 0);
    /* Two inputs with one stem would collide. */
    const char *twice[] = {a, a};
    ck_assert_int_eq(aug_apply_files(pol, 4, 1, twice, 2, empty, err, sizeof err), CK_EINVAL);
    ck_assert_int_eq(count_entries(empty), 0);
    aug_policy_destroy(pol);
    g_free(png);
}
END_TEST

/* ---- bench ---- */

START_TEST(bench_runs_every_sample)
{
    init();
    char dir[256], a[300], b[300];
    ck_test_tmpdir(dir, sizeof dir);
    size_t len;
    void *png = make_png(100, 90, &len);
    snprintf(a, sizeof a, "%s/a.png", dir);
    snprintf(b, sizeof b, "%s/b.png", dir);
    write_file(a, png, len);
    write_file(b, "junk", 4);
    aug_policy *pol;
    ck_assert_int_eq(aug_policy_parse(&pol, "chollet-2nd", err, sizeof err), 0);
    aug_params p = aug_params_default(50, 50, 3);
    p.policy = pol;
    const char *paths[] = {a, b, a};
    aug_bench_result r;
    ck_assert_msg(aug_bench_run(paths, 3, &p, 2, 3, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.threads, 2);
    ck_assert_int_eq(r.samples, 6);
    ck_assert_int_eq(r.decode_errors, 3);
    ck_assert(r.seconds > 0 && r.samples_per_s > 0 && r.cpu_seconds > 0 && r.samples_per_cpu_s > 0);
    const char *missing[] = {a, "/nonexistent/x.jpg"};
    ck_assert_int_eq(aug_bench_run(missing, 2, &p, 1, 1, &r, err, sizeof err), CK_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.jpg"));
    ck_assert_int_eq(aug_bench_run(paths, 3, &p, 0, 1, &r, err, sizeof err), CK_EINVAL);
    aug_policy_destroy(pol);
    g_free(png);
}
END_TEST

static Suite *tools_suite(void)
{
    Suite *s = suite_create("aug_tools");
    TCase *tc = tcase_create("tools");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, filters_on_a_step_edge);
    tcase_add_test(tc, filter_names_help_and_files);
    tcase_add_test(tc, filter_views_on_a_photo);
    tcase_add_test(tc, preview_grid_png);
    tcase_add_test(tc, pictures_in_memory);
    tcase_add_test(tc, apply_writes_all_or_nothing);
    tcase_add_test(tc, bench_runs_every_sample);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(tools_suite());
}
