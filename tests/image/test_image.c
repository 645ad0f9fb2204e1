/* test_image.c: libvips set-up (idempotent, cache off, untrusted loaders
 * blocked), libvips errors as one line, and the libjpeg-turbo fast path
 * against libvips' own jpegload on JPEGs made here: the same pixels and
 * crop at every shrink, a declined CMYK file and scale, and truncated files
 * handed back to libvips as before; im_verify's rows, reasons and pixel
 * limit, and im_shrink_encode. Check forks each test, so every libvips
 * call happens inside a test. */
#include <vips/vips.h>

#include "ck_test.h"
#include "im.h"
#include "im_test_util.h"

static char err[512];

static void init(void)
{
    ck_assert_msg(im_init("test_image", err, sizeof err) == 0, "%s", err);
}

/* A smooth random picture of 1 or 3 bands, w x h, encoded as format
 * (".jpg[Q=90]"...); g_free the result. */
static uint8_t *picture_file(int w, int h, int bands, int seed, const char *format, size_t *len)
{
    VipsImage *im = it_picture(w, h, bands, seed);
    uint8_t *buf = it_encode(im, format, len);
    g_object_unref(im);
    return buf;
}

/* A 4-band JPEG that says CMYK (libvips writes it with Adobe's marker). */
static uint8_t *cmyk_file(size_t *len)
{
    VipsImage *noise, *joined, *u8, *cmyk;
    ck_assert_int_eq(vips_gaussnoise(&noise, 64, 48, "mean", 128.0, "sigma", 30.0, NULL), 0);
    VipsImage *bands[4] = {noise, noise, noise, noise};
    ck_assert_int_eq(vips_bandjoin(bands, &joined, 4, NULL), 0);
    ck_assert_int_eq(vips_cast(joined, &u8, VIPS_FORMAT_UCHAR, NULL), 0);
    ck_assert_int_eq(vips_copy(u8, &cmyk, "interpretation", VIPS_INTERPRETATION_CMYK, NULL), 0);
    void *buf = NULL;
    ck_assert_int_eq(vips_image_write_to_buffer(cmyk, ".jpg", &buf, len, NULL), 0);
    g_object_unref(noise);
    g_object_unref(joined);
    g_object_unref(u8);
    g_object_unref(cmyk);
    return buf;
}

/* libvips' jpegload at shrink with fail_on=error, pulled through a region
 * in this thread, as datasets/ and augment/ call it when the fast path does
 * not decode: packed rows into *out (g_free it), the image in *hdr.
 * Returns 0, or -1 when libvips refuses the file. (Through a threadpool,
 * vips_image_write_to_memory, libvips 8.14 now and then returned the pixels
 * of a half-truncated file: the decoders never use it.) */
static int vips_jpeg(const void *data, size_t size, int shrink, VipsImage **hdr, uint8_t **out)
{
    VipsImage *im = NULL;
    if (vips_jpegload_buffer((void *)data, size, &im, "shrink", shrink, "fail_on",
                             VIPS_FAIL_ON_ERROR, "access", VIPS_ACCESS_SEQUENTIAL, NULL)) {
        vips_error_clear();
        return -1;
    }
    VipsRegion *reg = vips_region_new(im);
    VipsRect all = {0, 0, im->Xsize, im->Ysize};
    if (vips_region_prepare(reg, &all)) {
        vips_error_clear();
        g_object_unref(reg);
        g_object_unref(im);
        return -1;
    }
    size_t row = VIPS_IMAGE_SIZEOF_LINE(im);
    *out = g_malloc(row * im->Ysize);
    for (int y = 0; y < im->Ysize; y++) {
        memcpy(*out + row * y, VIPS_REGION_ADDR(reg, 0, y), row);
    }
    g_object_unref(reg);
    *hdr = im;
    return 0;
}

/* ---- set-up and errors ------------------------------------------------- */

static void *untrusted_blocked(GType type, void *count)
{
    if (G_TYPE_IS_ABSTRACT(type)) {
        return NULL; /* a base class (csvload_base), never run itself */
    }
    gpointer klass = g_type_class_ref(type);
    VipsOperationFlags flags = VIPS_OPERATION_CLASS(klass)->flags;
    const char *name = VIPS_OBJECT_CLASS(klass)->nickname;
    g_type_class_unref(klass);
    if (flags & VIPS_OPERATION_UNTRUSTED) {
        ck_assert_msg(flags & VIPS_OPERATION_BLOCKED, "untrusted %s is not blocked", name);
        (*(int *)count)++;
    }
    return NULL;
}

START_TEST(init_sets_up_libvips_once)
{
    init();
    init(); /* a second call is a no-op */
    ck_assert_int_eq(im_init(NULL, NULL, 0), 0);
    ck_assert_int_eq(vips_cache_get_max(), 0);
    int untrusted = 0;
    vips_type_map_all(g_type_from_name("VipsForeignLoad"), untrusted_blocked, &untrusted);
    ck_assert_msg(untrusted > 0, "no untrusted loader to check");
}
END_TEST

START_TEST(err_vips_takes_and_clears_buffer)
{
    init();
    VipsImage *im = vips_image_new_from_file("/nonexistent/x.png", NULL);
    ck_assert_ptr_null(im);
    ck_assert_int_eq(im_err_vips(err, sizeof err, CK_EIO, "x.png: load"), CK_EIO);
    ck_assert_msg(strncmp(err, "x.png: load: ", 13) == 0, "got '%s'", err);
    ck_assert_msg(strchr(err, '\n') == NULL, "one line: '%s'", err);
    ck_assert_str_eq(vips_error_buffer(), "");
    /* Only the first line, trailing blanks cut; an empty buffer says so. */
    vips_error("domain", "first  ");
    vips_error("domain", "second");
    ck_assert_int_eq(im_err_vips(err, sizeof err, CK_EDECODE, "%s: %s", "a.jpg", "decode"),
                     CK_EDECODE);
    ck_assert_str_eq(err, "a.jpg: decode: domain: first");
    ck_assert_int_eq(im_err_vips(err, sizeof err, CK_EIO, "b"), CK_EIO);
    ck_assert_str_eq(err, "b: libvips failed");
    /* Without a buffer to write, the libvips buffer is still cleared. */
    vips_error("domain", "gone");
    ck_assert_int_eq(im_err_vips(NULL, 0, CK_EIO, "c"), CK_EIO);
    ck_assert_str_eq(vips_error_buffer(), "");
    /* Truncated, still terminated. */
    char small[12];
    vips_error("domain", "long reason");
    im_err_vips(small, sizeof small, CK_EIO, "%s", "abcdef");
    ck_assert_str_eq(small, "abcdef: dom");
}
END_TEST

/* ---- the libjpeg-turbo fast path --------------------------------------- */

START_TEST(jpeg_scales)
{
    for (int s = 1; s <= 8; s *= 2) {
        ck_assert_msg(im_jpeg_has_scale(s), "1/%d", s);
    }
    ck_assert(!im_jpeg_has_scale(0));
    ck_assert(!im_jpeg_has_scale(3));
    ck_assert(!im_jpeg_has_scale(16));
    ck_assert(!im_jpeg_has_scale(-2));
}
END_TEST

/* The decoder's pixels and size are jpegload's at every shrink, for
 * colour JPEGs with chroma at half resolution (4:2:0: the upsampling
 * shows) and at full resolution, and grey ones, whose sides are not
 * multiples of 8, so the crop to w/shrink x h/shrink shows; the buffer is
 * reused when it is big enough. */
START_TEST(jpeg_pixels_equal_jpegload)
{
    init();
    im_jpeg *j = NULL;
    ck_assert_int_eq(im_jpeg_create(&j, err, sizeof err), 0);
    static const struct {
        int w, h, bands;
        const char *format;
    } kinds[] = {
        {203, 141, 3, ".jpg[Q=85,subsample-mode=on]"},
        {203, 141, 3, ".jpg[Q=90,subsample-mode=off]"},
        {203, 141, 1, ".jpg[Q=90]"},
        {64, 48, 3, ".jpg[Q=75]"},
        {37, 29, 3, ".jpg[Q=85,subsample-mode=on]"},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t len;
        uint8_t *file =
            picture_file(kinds[k].w, kinds[k].h, kinds[k].bands, (int)k + 1, kinds[k].format, &len);
        const uint8_t *first = NULL;
        for (int shrink = 1; shrink <= 8; shrink *= 2) {
            im_pixels px = {0};
            char msg[200] = "";
            int rc = im_jpeg_decode(j, file, len, shrink, &px, msg, sizeof msg);
            ck_assert_msg(rc == IM_JPEG_DECODED, "%s shrink %d: %d %s", kinds[k].format, shrink, rc,
                          msg);
            if (shrink == 1) {
                first = px.px;
            } else {
                ck_assert_ptr_eq(px.px, first); /* smaller: no new buffer */
            }
            VipsImage *ref;
            uint8_t *rpx;
            ck_assert_int_eq(vips_jpeg(file, len, shrink, &ref, &rpx), 0);
            ck_assert_int_eq(px.w, ref->Xsize);
            ck_assert_int_eq(px.h, ref->Ysize);
            ck_assert_int_eq(px.w, kinds[k].w / shrink);
            ck_assert_int_eq(px.h, kinds[k].h / shrink);
            ck_assert_int_eq(px.bands, ref->Bands);
            ck_assert_int_eq(px.bands, kinds[k].bands);
            size_t row = (size_t)px.w * px.bands;
            ck_assert_uint_ge(px.stride, row);
            for (int y = 0; y < px.h; y++) {
                ck_assert_msg(memcmp(px.px + px.stride * y, rpx + row * y, row) == 0,
                              "%dx%dx%d %s shrink %d: row %d differs", kinds[k].w, kinds[k].h,
                              kinds[k].bands, kinds[k].format, shrink, y);
            }
            g_free(rpx);
            g_object_unref(ref);
        }
        g_free(file);
    }
    im_jpeg_destroy(j);
    im_jpeg_destroy(NULL);
}
END_TEST

/* What is not for the fast path is declined, leaving *px and msg alone,
 * and the decoder still works afterwards. */
START_TEST(jpeg_declines_what_libvips_decides)
{
    init();
    im_jpeg *j = NULL;
    ck_assert_int_eq(im_jpeg_create(&j, err, sizeof err), 0);
    im_pixels px = {.w = -7};
    char msg[200] = "untouched";
    size_t clen;
    uint8_t *cmyk = cmyk_file(&clen);
    for (int shrink = 1; shrink <= 8; shrink *= 2) {
        ck_assert_int_eq(im_jpeg_decode(j, cmyk, clen, shrink, &px, msg, sizeof msg),
                         IM_JPEG_DECLINED);
    }
    VipsImage *ref;
    uint8_t *rpx;
    ck_assert_int_eq(vips_jpeg(cmyk, clen, 1, &ref, &rpx), 0); /* libvips takes it */
    ck_assert_int_eq(ref->Bands, 4);
    g_free(rpx);
    g_object_unref(ref);

    size_t len;
    uint8_t *file = picture_file(64, 48, 3, 5, ".jpg", &len);
    int scales[] = {0, 3, 5, 16, -1};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        ck_assert_msg(im_jpeg_decode(j, file, len, scales[i], &px, msg, sizeof msg) ==
                          IM_JPEG_DECLINED,
                      "shrink %d", scales[i]);
    }
    /* Not a JPEG, or not enough of one for a header. */
    size_t plen;
    uint8_t *png = picture_file(64, 48, 3, 5, ".png", &plen);
    ck_assert_int_eq(im_jpeg_decode(j, png, plen, 1, &px, msg, sizeof msg), IM_JPEG_DECLINED);
    ck_assert_int_eq(im_jpeg_decode(j, file, 20, 1, &px, msg, sizeof msg), IM_JPEG_DECLINED);
    ck_assert_int_eq(im_jpeg_decode(j, file, 0, 1, &px, msg, sizeof msg), IM_JPEG_DECLINED);
    /* A side below the shrink: libvips decides (it refuses a 0-pixel side). */
    size_t tlen;
    uint8_t *tiny = picture_file(8, 6, 3, 5, ".jpg", &tlen);
    ck_assert_int_eq(im_jpeg_decode(j, tiny, tlen, 8, &px, msg, sizeof msg), IM_JPEG_DECLINED);
    ck_assert_int_eq(px.w, -7);
    ck_assert_str_eq(msg, "untouched");
    ck_assert_int_eq(im_jpeg_decode(j, tiny, tlen, 4, &px, msg, sizeof msg), IM_JPEG_DECODED);
    ck_assert_int_eq(px.w, 2);
    ck_assert_int_eq(px.h, 1);
    ck_assert_int_eq(im_jpeg_decode(j, file, len, 2, &px, msg, sizeof msg), IM_JPEG_DECODED);
    ck_assert_int_eq(px.w, 32);
    g_free(tiny);
    g_free(png);
    g_free(file);
    g_free(cmyk);
    im_jpeg_destroy(j);
}
END_TEST

/* A truncated JPEG stops libjpeg-turbo with its message (FAILED): libvips
 * then decides, and with fail_on=error refuses it. A stray marker inside
 * the scan also stops libjpeg-turbo (a "Corrupt JPEG data" warning) but
 * libvips accepts that file, which is why FAILED is not a refusal. A file
 * cut before its scan is declined, and so is one cut before its frame
 * header, for which TurboJPEG 2 reports success without a size. */
START_TEST(jpeg_truncated_goes_to_libvips)
{
    init();
    im_jpeg *j = NULL;
    ck_assert_int_eq(im_jpeg_create(&j, err, sizeof err), 0);
    size_t len;
    uint8_t *file = picture_file(160, 120, 3, 9, ".jpg[Q=90]", &len);
    im_pixels px = {.w = -7};
    char msg[200] = "";
    for (int shrink = 1; shrink <= 8; shrink *= 2) {
        msg[0] = '\0';
        ck_assert_int_eq(im_jpeg_decode(j, file, len / 2, shrink, &px, msg, sizeof msg),
                         IM_JPEG_FAILED);
        ck_assert_msg(strstr(msg, "Premature end") != NULL, "shrink %d: '%s'", shrink, msg);
        ck_assert_int_eq(px.w, -7);
        VipsImage *ref;
        uint8_t *rpx;
        ck_assert_int_eq(vips_jpeg(file, len / 2, shrink, &ref, &rpx), -1);
    }
    ck_assert_int_eq(im_jpeg_decode(j, file, len - 2, 1, &px, NULL, 0), IM_JPEG_FAILED);
    uint8_t *bad = malloc(len);
    memcpy(bad, file, len);
    bad[len / 2] = 0xFF;
    bad[len / 2 + 1] = 0xD3; /* RST3 where none belongs */
    ck_assert_int_eq(im_jpeg_decode(j, bad, len, 2, &px, msg, sizeof msg), IM_JPEG_FAILED);
    ck_assert_msg(strstr(msg, "Corrupt JPEG data") != NULL, "'%s'", msg);
    VipsImage *ref;
    uint8_t *rpx;
    ck_assert_int_eq(vips_jpeg(bad, len, 2, &ref, &rpx), 0);
    g_free(rpx);
    g_object_unref(ref);
    free(bad);
    size_t sof = 0, sos = 0;
    for (size_t i = 2; i + 1 < len && !sos; i++) {
        if (file[i] == 0xFF && file[i + 1] == 0xC0) {
            sof = i;
        } else if (file[i] == 0xFF && file[i + 1] == 0xDA) {
            sos = i;
        }
    }
    ck_assert_msg(sof > 0 && sos > sof, "SOF at %zu, SOS at %zu", sof, sos);
    for (int shrink = 1; shrink <= 8; shrink *= 2) {
        /* Each right after a good decode, whose size must not carry over. */
        im_pixels good;
        ck_assert_int_eq(im_jpeg_decode(j, file, len, shrink, &good, msg, sizeof msg),
                         IM_JPEG_DECODED);
        ck_assert_int_eq(im_jpeg_decode(j, file, sof, shrink, &px, msg, sizeof msg),
                         IM_JPEG_DECLINED);
        ck_assert_int_eq(im_jpeg_decode(j, file, len, shrink, &good, msg, sizeof msg),
                         IM_JPEG_DECODED);
        ck_assert_int_eq(im_jpeg_decode(j, file, sos, shrink, &px, msg, sizeof msg),
                         IM_JPEG_DECLINED);
    }
    ck_assert_int_eq(px.w, -7);
    /* The decoder is still good. */
    ck_assert_int_eq(im_jpeg_decode(j, file, len, 1, &px, msg, sizeof msg), IM_JPEG_DECODED);
    ck_assert_int_eq(px.w, 160);
    g_free(file);
    im_jpeg_destroy(j);
}
END_TEST

/* The declared size from the first SOF marker, without decoding: as
 * libvips reads it, and none where the marker is missing or cut. */
START_TEST(jpeg_size_from_sof)
{
    init();
    size_t len;
    uint8_t *jpg = picture_file(37, 23, 3, 9, ".jpg[Q=90]", &len);
    int w = 0, h = 0;
    ck_assert(im_is_jpeg(jpg, len));
    ck_assert(im_jpeg_size(jpg, len, &w, &h));
    ck_assert_int_eq(w, 37);
    ck_assert_int_eq(h, 23);
    /* Cut before the SOF's size, or in the header: none. */
    size_t sof = 2;
    while (!(jpg[sof] == 0xFF && jpg[sof + 1] == 0xC0)) {
        sof++;
    }
    ck_assert(!im_jpeg_size(jpg, sof + 6, &w, &h));
    ck_assert(im_jpeg_size(jpg, sof + 9, &w, &h));
    ck_assert(!im_jpeg_size(jpg, 3, &w, &h));
    /* Scan data (SOS) before any SOF: none. */
    uint8_t sos[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 1, 2, 3, 4, 5,    6, 0xFF,
                     0xC0, 0x00, 0x0B, 8,    0,    9,    0, 9, 1, 1, 0x11, 0};
    ck_assert(!im_jpeg_size(sos, sizeof sos, &w, &h));
    /* Not a JPEG. */
    size_t plen;
    uint8_t *png = picture_file(8, 8, 1, 3, ".png", &plen);
    ck_assert(!im_is_jpeg(png, plen) && !im_jpeg_size(png, plen, &w, &h));
    g_free(jpg);
    g_free(png);
}
END_TEST

/* ---- im_verify and im_shrink_encode ------------------------------------ */

/* A sink that copies the rows it is lent and checks they come in order;
 * fail_at >= 0 makes row fail_at return CK_ENOMEM, -2 makes begin fail. */
typedef struct rows_sink {
    im_format f;
    int begun, rows, fail_at;
    uint8_t *px;
} rows_sink;

static int rows_begin(void *user, const im_format *f)
{
    rows_sink *r = user;
    ck_assert_int_eq(r->begun++, 0);
    r->f = *f;
    if (r->fail_at == -2) {
        return CK_ENOMEM;
    }
    r->px = malloc((size_t)f->w * f->h * f->bands * (f->ushort ? 2 : 1));
    ck_assert_ptr_nonnull(r->px);
    return 0;
}

static int rows_row(void *user, int y, const uint8_t *row)
{
    rows_sink *r = user;
    ck_assert_int_eq(y, r->rows);
    if (y == r->fail_at) {
        return CK_ENOMEM;
    }
    size_t line = (size_t)r->f.w * r->f.bands * (r->f.ushort ? 2 : 1);
    memcpy(r->px + line * y, row, line);
    r->rows++;
    return 0;
}

static int verify(const void *data, size_t size, uint64_t max_pixels, rows_sink *r, im_info *info,
                  char *reason, size_t reasonlen)
{
    *r = (rows_sink){.fail_at = r->fail_at};
    im_sink sink = {rows_begin, rows_row, r};
    reason[0] = '\0';
    return im_verify(data, size, max_pixels, 16, &sink, info, reason, reasonlen);
}

/* A JPEG comes at the DCT scale that keeps its shorter side >= min_side,
 * with jpegload's pixels; other formats at full size with their own bands
 * and depth; bad files come back as one-line reasons without libvips'
 * domain, with the header's size once it was read. */
START_TEST(verify_rows_and_reasons)
{
    init();
    size_t len, plen;
    uint8_t *jpg = picture_file(160, 120, 3, 4, ".jpg[Q=90]", &len);
    rows_sink r = {.fail_at = -1};
    im_info info;
    char reason[256];
    ck_assert_int_eq(verify(jpg, len, 1000000, &r, &info, reason, sizeof reason), 0);
    ck_assert_str_eq(info.format, "jpeg");
    ck_assert_int_eq(info.width, 160);
    ck_assert_int_eq(info.height, 120);
    ck_assert_int_eq(info.bands, 3);
    ck_assert_int_eq(r.f.w, 40); /* 120 / 8 < 16: shrink 4 */
    ck_assert_int_eq(r.f.h, 30);
    ck_assert_int_eq(r.f.bands, 3);
    ck_assert(!r.f.ushort && !r.f.cmyk);
    ck_assert_int_eq(r.rows, 30);
    ck_assert_str_eq(reason, "");
    VipsImage *ref;
    uint8_t *rpx;
    ck_assert_int_eq(vips_jpeg(jpg, len, 4, &ref, &rpx), 0);
    ck_assert_mem_eq(r.px, rpx, 40 * 30 * 3);
    g_free(rpx);
    g_object_unref(ref);
    free(r.px);

    /* 16-bit grey (made as such: libvips 8.14's bitdepth=16 on 8-bit input
     * reads past its rows). */
    VipsImage *blk = NULL, *u16 = NULL, *g16 = NULL;
    ck_assert_int_eq(vips_black(&blk, 50, 20, NULL), 0);
    ck_assert_int_eq(vips_cast(blk, &u16, VIPS_FORMAT_USHORT, NULL), 0);
    ck_assert_int_eq(vips_copy(u16, &g16, "interpretation", VIPS_INTERPRETATION_GREY16, NULL), 0);
    void *png = NULL;
    ck_assert_int_eq(vips_pngsave_buffer(g16, &png, &plen, NULL), 0);
    g_object_unref(blk);
    g_object_unref(u16);
    g_object_unref(g16);
    ck_assert_int_eq(verify(png, plen, 1000000, &r, &info, reason, sizeof reason), 0);
    ck_assert_str_eq(info.format, "png");
    ck_assert_int_eq(r.f.w, 50);
    ck_assert_int_eq(r.f.h, 20);
    ck_assert_int_eq(r.f.bands, 1);
    ck_assert(r.f.ushort);
    ck_assert_int_eq(r.rows, 20);
    free(r.px);
    g_free(png);

    /* Cut in half: the header was read, the decode fails. */
    ck_assert_int_eq(verify(jpg, len / 2, 1000000, &r, &info, reason, sizeof reason), IM_REJECTED);
    ck_assert_msg(strncmp(reason, "decode: Premature end", 21) == 0, "'%s'", reason);
    ck_assert_int_eq(info.width, 160);
    ck_assert_int_eq(info.bands, 3);
    free(r.px);
    /* Over the pixel limit: refused from the SOF, nothing decoded. */
    ck_assert_int_eq(verify(jpg, len, 19199, &r, &info, reason, sizeof reason), IM_REJECTED);
    ck_assert_str_eq(reason, "declared size 160x120 exceeds the pixel limit");
    ck_assert_str_eq(info.format, "jpeg");
    ck_assert_int_eq(info.width, 0);
    ck_assert_int_eq(r.begun, 0);
    /* A JPEG without a frame: libvips' header reason. */
    ck_assert_int_eq(verify(jpg, 200, 1000000, &r, &info, reason, sizeof reason), IM_REJECTED);
    ck_assert_msg(strncmp(reason, "header: ", 8) == 0 && !strstr(reason, "VipsJpeg"), "'%s'",
                  reason);
    ck_assert_int_eq(info.width, 0);

    static const char text[] = "hello, not an image\n";
    ck_assert_int_eq(verify(text, sizeof text - 1, 1000000, &r, &info, reason, sizeof reason),
                     IM_REJECTED);
    ck_assert_str_eq(reason, "not an image");
    ck_assert_str_eq(info.format, "");
    static const char svg[] =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"/>";
    ck_assert_int_eq(verify(svg, sizeof svg - 1, 1000000, &r, &info, reason, sizeof reason),
                     IM_REJECTED);
    ck_assert_str_eq(reason, "unsupported format (svg: untrusted loader)");
    ck_assert_int_eq(verify("", 0, 1000000, &r, &info, reason, sizeof reason), IM_REJECTED);
    ck_assert_str_eq(reason, "empty file");
    ck_assert_int_eq(verify(NULL, 0, 1000000, &r, &info, reason, 8), IM_REJECTED);
    ck_assert_str_eq(reason, "empty f"); /* truncated to reasonlen */

    /* The sink's error stops decoding and comes back, on both paths. */
    uint8_t *gif = picture_file(40, 30, 3, 6, ".gif", &plen);
    const void *files[2] = {jpg, gif};
    size_t lens[2] = {len, plen};
    for (int k = 0; k < 2; k++) {
        r.fail_at = 3;
        ck_assert_int_eq(verify(files[k], lens[k], 1000000, &r, &info, reason, sizeof reason),
                         CK_ENOMEM);
        ck_assert_int_eq(r.rows, 3);
        free(r.px);
        r.fail_at = -2;
        ck_assert_int_eq(verify(files[k], lens[k], 1000000, &r, &info, reason, sizeof reason),
                         CK_ENOMEM);
        ck_assert_int_eq(r.rows, 0);
    }
    r.fail_at = -1;
    ck_assert_int_eq(verify(gif, plen, 1000000, &r, &info, reason, sizeof reason), 0);
    ck_assert_str_eq(info.format, "gif");
    ck_assert_int_eq(r.f.w, 40);
    ck_assert_int_eq(r.rows, 30);
    free(r.px);
    g_free(gif);
    g_free(jpg);
}
END_TEST

/* Shrunk to max_side on the longest side: JPEG, or PNG with alpha. */
START_TEST(shrink_encode_stores_smaller)
{
    init();
    size_t len;
    uint8_t *jpg = picture_file(400, 300, 3, 7, ".jpg", &len);
    uint8_t *out = NULL;
    size_t outlen = 0;
    im_info info;
    char reason[256] = "";
    ck_assert_int_eq(im_shrink_encode(jpg, len, 100, &out, &outlen, &info, reason, sizeof reason),
                     0);
    ck_assert_str_eq(info.format, "jpeg");
    ck_assert_int_eq(info.width, 100);
    ck_assert_int_eq(info.height, 75);
    ck_assert_int_eq(info.bands, 3);
    ck_assert(im_is_jpeg(out, outlen));
    int w = 0, h = 0;
    ck_assert(im_jpeg_size(out, outlen, &w, &h) && w == 100 && h == 75);
    free(out);
    g_free(jpg);

    VipsImage *src = NULL, *alpha = NULL;
    ck_assert_int_eq(vips_black(&src, 60, 90, "bands", 3, NULL), 0);
    ck_assert_int_eq(vips_bandjoin_const1(src, &alpha, 128, NULL), 0);
    void *png = NULL;
    ck_assert_int_eq(vips_pngsave_buffer(alpha, &png, &len, NULL), 0);
    ck_assert_int_eq(im_shrink_encode(png, len, 30, &out, &outlen, &info, reason, sizeof reason),
                     0);
    ck_assert_str_eq(info.format, "png");
    ck_assert_int_eq(info.width, 20);
    ck_assert_int_eq(info.height, 30);
    ck_assert_int_eq(info.bands, 4);
    free(out);
    g_free(png);
    g_object_unref(alpha);
    g_object_unref(src);

    static const char text[] = "not an image at all";
    out = (uint8_t *)text;
    ck_assert_int_eq(
        im_shrink_encode(text, sizeof text - 1, 30, &out, &outlen, &info, reason, sizeof reason),
        IM_REJECTED);
    ck_assert_ptr_null(out);
    ck_assert_msg(strncmp(reason, "shrink: ", 8) == 0 && !strchr(reason, '\n'), "'%s'", reason);
}
END_TEST

static Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, init_sets_up_libvips_once);
    tcase_add_test(tc, err_vips_takes_and_clears_buffer);
    tcase_add_test(tc, jpeg_scales);
    tcase_add_test(tc, jpeg_pixels_equal_jpegload);
    tcase_add_test(tc, jpeg_declines_what_libvips_decides);
    tcase_add_test(tc, jpeg_truncated_goes_to_libvips);
    tcase_add_test(tc, jpeg_size_from_sof);
    tcase_add_test(tc, verify_rows_and_reasons);
    tcase_add_test(tc, shrink_encode_stores_smaller);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(image_suite());
}
