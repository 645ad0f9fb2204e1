/* test_aug_figure.c: figures of tiles (figure.c): the display scalings
 * against their formulas, the colour maps' ends against matplotlib's, the
 * heat map overlay's resize and blend, and a figure's layout in pixels. */
#include <math.h>
#include <vips/vips.h>

#include "aug.h"
#include "ck_test.h"
#include "im.h"

static char err[512];

START_TEST(scalings)
{
    /* one channel (stride 2) of a 3x1 map: values 1, 2, 3 */
    const float v[6] = {1, -9, 2, -9, 3, -9};
    aug_fmap m = {.v = v, .w = 3, .h = 1, .bands = 1, .stride = 2};
    uint8_t o[3];
    /* the book's: 128 + 64 (v - 2) / sd, sd = sqrt(2/3) */
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_STANDARD, o), 0);
    double k = 64 / sqrt(2.0 / 3);
    ck_assert_int_eq(o[0], (int)(128 - k + 0.5));
    ck_assert_int_eq(o[1], 128);
    ck_assert_int_eq(o[2], (int)(128 + k + 0.5));
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_SIGNED, o), 0);
    ck_assert_int_eq(o[2], 255);
    ck_assert_int_eq(o[0], (int)(128 + 127.0 / 3 + 0.5));
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_MAX, o), 0);
    ck_assert_int_eq(o[0] * 1000000 + o[1] * 1000 + o[2], 85 * 1000000 + 170 * 1000 + 255);
    /* a dead channel stays at the bottom, another constant in the middle,
     * and the negative side of SIGNED and MAX */
    const float zero[3] = {0, 0, 0}, flat[3] = {5, 5, 5}, neg[3] = {-4, 0, 2};
    m = (aug_fmap){.v = zero, .w = 3, .h = 1, .bands = 1, .stride = 1};
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_STANDARD, o), 0);
    ck_assert_int_eq(o[0] + o[1] + o[2], 0);
    m.v = flat;
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_STANDARD, o), 0);
    ck_assert_int_eq(o[1], 128);
    m.v = neg;
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_SIGNED, o), 0);
    ck_assert_int_eq(o[0] * 1000000 + o[1] * 1000 + o[2], 1 * 1000000 + 128 * 1000 + 192);
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_MAX, o), 0);
    ck_assert_int_eq(o[0] * 1000000 + o[1] * 1000 + o[2], 0 + 0 + 255);
    m.bands = 2;
    ck_assert_int_eq(aug_fmap_to_u8(&m, AUG_SCALE_MAX, o), CK_EINVAL);
}
END_TEST

START_TEST(colour_maps)
{
    /* matplotlib's ends and middle: viridis #440154, #21918c, #fde725;
     * turbo (0.18995, 0.07176, 0.23217) and (0.4796, 0.01583, 0.01055);
     * Blues #f7fbff, #6baed6 (its fifth of 9 stops), #08306b */
    static const struct {
        aug_cmap c;
        uint8_t v, rgb[3];
    } want[] = {
        {AUG_CMAP_VIRIDIS, 0, {0x44, 0x01, 0x54}},   {AUG_CMAP_VIRIDIS, 128, {0x21, 0x91, 0x8c}},
        {AUG_CMAP_VIRIDIS, 255, {0xfd, 0xe7, 0x25}}, {AUG_CMAP_TURBO, 0, {48, 18, 59}},
        {AUG_CMAP_TURBO, 255, {122, 4, 3}},          {AUG_CMAP_GREY, 77, {77, 77, 77}},
        {AUG_CMAP_BLUES, 0, {0xf7, 0xfb, 0xff}},     {AUG_CMAP_BLUES, 128, {0x6b, 0xae, 0xd6}},
        {AUG_CMAP_BLUES, 255, {0x08, 0x30, 0x6b}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint8_t rgb[3];
        aug_cmap_rgb(want[i].c, want[i].v, rgb);
        for (int b = 0; b < 3; b++) {
            ck_assert_msg(abs(rgb[b] - want[i].rgb[b]) <= 1, "map %d level %d band %d: %d, want %d",
                          want[i].c, want[i].v, b, rgb[b], want[i].rgb[b]);
        }
    }
}
END_TEST

START_TEST(heat_overlay)
{
    /* a 2x1 map (0, 1) over a grey 4x2 image: the left column is the
     * map's 0, the right its 1, the middle two bilinear between. */
    uint8_t img[4 * 2 * 3], out[4 * 2 * 3];
    memset(img, 100, sizeof img);
    const float map[2] = {0, 2};
    ck_assert_int_eq(aug_heat_overlay(img, 4, 2, map, 2, 1, AUG_CMAP_GREY, 0.5, out), 0);
    /* x centres 0.5..3.5 over 2 cells: 0.25 cell apart from -0.25: 0, 0.25, 0.75, 1 */
    const int grey[4] = {0, 64, 191, 255};
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++) {
            int want = (int)(0.5 * 100 + 0.5 * grey[x] + 0.5);
            ck_assert_msg(abs(out[(y * 4 + x) * 3] - want) <= 1, "(%d, %d): %d, want %d", x, y,
                          out[(y * 4 + x) * 3], want);
        }
    /* alpha 0 is the image; in place is allowed */
    ck_assert_int_eq(aug_heat_overlay(img, 4, 2, map, 2, 1, AUG_CMAP_TURBO, 0, img), 0);
    for (size_t i = 0; i < sizeof img; i++) {
        ck_assert_int_eq(img[i], 100);
    }
    ck_assert_int_eq(aug_heat_overlay(img, 4, 2, map, 2, 1, AUG_CMAP_TURBO, 1.5, out), CK_EINVAL);
}
END_TEST

START_TEST(figure_layout)
{
    ck_assert_msg(im_init("test_aug_figure", err, sizeof err) == 0, "%s", err);
    char dir[256], path[320];
    ck_test_tmpdir(dir, sizeof dir);
    aug_figure *f;
    ck_assert_int_eq(aug_figure_create(&f, "Activations ۵ 激活", err, sizeof err), 0);
    ck_assert_int_eq(aug_figure_add_pixels(f, (uint8_t[1]){0}, 1, 1, 1, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "before any panel"), "%s", err);
    /* 20 maps of 5x3 in rows of 16, enlarged 13 times to 65x39 */
    ck_assert_int_eq(
        aug_figure_panel(f, "conv (Conv2D): 3×5×20", 16, 65, AUG_CMAP_VIRIDIS, err, sizeof err), 0);
    float v[15];
    for (int i = 0; i < 15; i++) {
        v[i] = (float)i;
    }
    aug_fmap m = {.v = v, .w = 5, .h = 3, .bands = 1, .stride = 1};
    for (int k = 0; k < 20; k++) {
        ck_assert_int_eq(aug_figure_add_map(f, &m, AUG_SCALE_STANDARD, err, sizeof err), 0);
    }
    ck_assert_int_eq(aug_figure_colorbar(f, "low", "high", err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/figure.png", dir);
    ck_assert_msg(aug_figure_save(f, path, err, sizeof err) == 0, "%s", err);
    void *png;
    size_t len;
    void *jpeg;
    size_t jlen;
    ck_assert_int_eq(aug_figure_encode(f, AUG_PNG, &png, &len, err, sizeof err), 0);
    ck_assert_int_eq(aug_figure_encode(f, AUG_JPEG, &jpeg, &jlen, err, sizeof err), 0);
    aug_figure_destroy(f);
    VipsImage *im = vips_image_new_from_file(path, NULL),
              *mem = vips_image_new_from_buffer(png, len, "", NULL),
              *jim = vips_image_new_from_buffer(jpeg, jlen, "", NULL);
    ck_assert_ptr_nonnull(im);
    ck_assert_ptr_nonnull(mem);
    ck_assert_ptr_nonnull(jim);
    ck_assert_str_eq(vips_foreign_find_load_buffer(jpeg, jlen), "VipsForeignLoadJpegBuffer");
    ck_assert_int_eq(jim->Xsize, mem->Xsize);
    ck_assert_int_eq(jim->Ysize, mem->Ysize);
    /* 16 cells of 65 and 15 gaps of 3, 16 pixels of margin each side */
    ck_assert_int_eq(im->Xsize, 16 * 65 + 15 * 3 + 32);
    ck_assert_int_eq(mem->Xsize, im->Xsize);
    ck_assert_int_eq(mem->Ysize, im->Ysize);
    ck_assert_int_eq(im->Bands, 3);
    /* the first tile's top-left pixel is the map's lowest level in viridis;
     * two rows of tiles and a title above them */
    double top = 0;
    int x0 = 16, y0 = -1;
    for (int y = 0; y < im->Ysize && y0 < 0; y++) {
        double *p;
        int n;
        ck_assert_int_eq(vips_getpoint(im, &p, &n, x0 + 2, y, NULL), 0);
        if (p[0] < 200 && p[2] > 60 && p[1] < 40) { /* viridis' dark purple */
            y0 = y;
            top = p[0];
        }
        g_free(p);
    }
    ck_assert_msg(y0 > 30, "first tile row at %d", y0);
    ck_assert_msg(fabs(top - 68) <= 12, "first pixel's red %g", top);
    ck_assert_int_ge(im->Ysize, y0 + 2 * 39 + 3 + 12);
    g_object_unref(im);
    g_object_unref(mem);
    g_object_unref(jim);
    free(jpeg);
    free(png);
}
END_TEST

/* A title with no space to wrap at (a long file name) is broken within
 * the figure's width: the figure does not grow, nothing is drawn outside
 * it (ASan watches the canvas). */
START_TEST(long_title)
{
    ck_assert_msg(im_init("test_aug_figure", err, sizeof err) == 0, "%s", err);
    char title[400], dir[256], path[320];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = 0;
    aug_figure *f;
    ck_assert_int_eq(aug_figure_create(&f, title, err, sizeof err), 0);
    ck_assert_int_eq(aug_figure_panel(f, title, 1, 8, AUG_CMAP_GREY, err, sizeof err), 0);
    ck_assert_int_eq(
        aug_figure_add_pixels(f, (uint8_t[4]){0, 85, 170, 255}, 2, 2, 1, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/long.png", ck_test_tmpdir(dir, sizeof dir));
    ck_assert_msg(aug_figure_save(f, path, err, sizeof err) == 0, "%s", err);
    aug_figure_destroy(f);
    VipsImage *im = vips_image_new_from_file(path, NULL);
    ck_assert_ptr_nonnull(im);
    ck_assert_int_eq(im->Xsize, 640 + 32);
    g_object_unref(im);
}
END_TEST

static Suite *figure_suite(void)
{
    Suite *s = suite_create("aug_figure");
    TCase *tc = tcase_create("figure");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scalings);
    tcase_add_test(tc, colour_maps);
    tcase_add_test(tc, heat_overlay);
    tcase_add_test(tc, figure_layout);
    tcase_add_test(tc, long_title);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(figure_suite());
}
