/* test_check.c: ds_check_entry on images made here with libvips and on the
 * real alien-vs-predator photos: valid files pass with the right
 * description, every kind of bad file is rejected with its reason, the
 * pixel limit is applied before decoding, the perceptual hash survives
 * re-encoding and resizing, and concurrent checks agree. */
#include <dirent.h>
#include <pthread.h>
#include <vips/vips.h>
#include <xxhash.h>
#include <zlib.h>

#include "ck_test.h"
#include "ds.h"
#include "im.h"
#include "image/im_test_util.h"

static void init(void)
{
    char err[256];
    ck_assert_msg(im_init("test_check", err, sizeof err) == 0, "%s", err);
}

static VipsImage *picture(int w, int h, int seed)
{
    return it_picture(w, h, 3, seed);
}

static uint8_t *picture_file(int w, int h, int seed, const char *suffix, size_t *len)
{
    VipsImage *im = picture(w, h, seed);
    uint8_t *buf = it_encode(im, suffix, len);
    g_object_unref(im);
    return buf;
}

static ds_entry entry(const void *data, size_t size, const char *name)
{
    ds_entry e = {0};
    e.name = (char *)name;
    e.kind = DS_ENTRY_ENCODED;
    e.data = (uint8_t *)data;
    e.size = size;
    return e;
}

static ds_check_opts opts(void)
{
    ds_check_opts o = {.max_pixels = ds_limits_default().max_pixels, .max_side = 0};
    return o;
}

static void check(const ds_entry *e, const ds_check_opts *o, ds_sample *s)
{
    char err[256] = "";
    int rc = ds_check_entry(e, o, s, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", e->name, err);
}

static void assert_rejected(const void *data, size_t size, const char *name, const char *reason)
{
    ds_entry e = entry(data, size, name);
    ds_check_opts o = opts();
    ds_sample s;
    check(&e, &o, &s);
    ck_assert_msg(!s.ok, "%s: accepted", name);
    ck_assert_msg(strstr(s.reason, reason) != NULL, "%s: reason '%s', expected '%s'", name,
                  s.reason, reason);
    ck_assert_msg(strchr(s.reason, '\n') == NULL, "%s: reason spans lines", name);
    ck_assert_ptr_null(s.data);
    ds_sample_clear(&s);
}

START_TEST(valid_jpeg_and_png)
{
    init();
    size_t jlen, plen;
    uint8_t *jpeg = picture_file(320, 200, 1, ".jpg[Q=90]", &jlen);
    VipsImage *im = picture(64, 48, 2), *alpha = NULL;
    ck_assert_int_eq(vips_bandjoin_const1(im, &alpha, 255, NULL), 0);
    uint8_t *png = it_encode(alpha, ".png", &plen);
    ds_check_opts o = opts();

    ds_entry e = entry(jpeg, jlen, "a.jpg");
    ds_sample s;
    check(&e, &o, &s);
    ck_assert_msg(s.ok, "jpeg rejected: %s", s.reason);
    ck_assert_str_eq(s.format, "jpeg");
    ck_assert_int_eq(s.width, 320);
    ck_assert_int_eq(s.height, 200);
    ck_assert_int_eq(s.orig_width, 320);
    ck_assert_int_eq(s.orig_height, 200);
    ck_assert_int_eq(s.bands, 3);
    ck_assert_uint_eq(s.size, jlen);
    ck_assert_mem_eq(s.data, jpeg, jlen);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(jpeg, jlen));
    ck_assert_mem_eq(s.content_hash, c.digest, 16);
    ds_sample_clear(&s);
    ck_assert_ptr_null(s.data);

    e = entry(png, plen, "b.png");
    check(&e, &o, &s);
    ck_assert_msg(s.ok, "png rejected: %s", s.reason);
    ck_assert_str_eq(s.format, "png");
    ck_assert_int_eq(s.width, 64);
    ck_assert_int_eq(s.height, 48);
    ck_assert_int_eq(s.bands, 4);
    ck_assert_mem_eq(s.data, png, plen);
    ds_sample_clear(&s);

    g_free(jpeg);
    g_free(png);
    g_object_unref(alpha);
    g_object_unref(im);
}
END_TEST

/* A PNG whose IHDR declares w x h, followed by a tiny IDAT: decoding it
 * would fail, so only a header check can give the pixel-limit reason. */
static size_t png_bomb(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    memcpy(buf, sig, 8);
    n = 8;
    uint8_t ihdr[17] = {'I',
                        'H',
                        'D',
                        'R',
                        (uint8_t)(w >> 24),
                        (uint8_t)(w >> 16),
                        (uint8_t)(w >> 8),
                        (uint8_t)w,
                        (uint8_t)(h >> 24),
                        (uint8_t)(h >> 16),
                        (uint8_t)(h >> 8),
                        (uint8_t)h,
                        8,
                        2,
                        0,
                        0,
                        0};
    const uint8_t len13[4] = {0, 0, 0, 13};
    memcpy(buf + n, len13, 4);
    memcpy(buf + n + 4, ihdr, 17);
    uint32_t crc = (uint32_t)crc32(0, ihdr, 17);
    uint8_t crcb[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
                       (uint8_t)crc};
    memcpy(buf + n + 21, crcb, 4);
    n += 25;
    static const uint8_t idat[] = {0, 0, 0, 2, 'I', 'D', 'A', 'T', 0x78, 0x9c, 0, 0, 0, 0};
    memcpy(buf + n, idat, sizeof idat);
    n += sizeof idat;
    static const uint8_t iend[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    memcpy(buf + n, iend, sizeof iend);
    return n + sizeof iend;
}

START_TEST(bad_files_rejected)
{
    init();
    size_t jlen;
    uint8_t *jpeg = picture_file(320, 240, 3, ".jpg", &jlen);
    assert_rejected(jpeg, jlen / 2, "truncated.jpg", "decode: Premature end");

    uint8_t junk[4096];
    ck_rng r;
    ck_rng_init(&r, 1, 0, 0, CK_RNG_TEST);
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (uint8_t)ck_rng_u32(&r);
    }
    junk[0] = 'x'; /* not by chance a magic number */
    assert_rejected(junk, sizeof junk, "junk.bin", "not an image");

    static const char html[] = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                               "<body><h1>Not Found</h1></body></html>\n";
    assert_rejected(html, sizeof html - 1, "cat.1.jpg", "not an image");
    assert_rejected("", 0, "empty.jpg", "empty file");
    assert_rejected(NULL, 0, "null.jpg", "empty file");

    uint8_t bomb[128];
    size_t blen = png_bomb(bomb, 20000, 20000);
    assert_rejected(bomb, blen, "bomb.png", "declared size 20000x20000 exceeds the pixel limit");

    /* A JPEG whose SOF claims 60000 x 60000: refused from the marker alone. */
    uint8_t *big = malloc(jlen);
    memcpy(big, jpeg, jlen);
    int patched = 0;
    for (size_t i = 2; i + 9 < jlen && !patched; i++) {
        if (big[i] == 0xFF && (big[i + 1] == 0xC0 || big[i + 1] == 0xC2)) {
            big[i + 5] = big[i + 7] = 0xEA;
            big[i + 6] = big[i + 8] = 0x60;
            patched = 1;
        }
    }
    ck_assert(patched);
    assert_rejected(big, jlen, "big.jpg", "declared size 60000x60000 exceeds the pixel limit");
    free(big);

    /* A limit of our own applies to valid files too. */
    ds_entry e = entry(jpeg, jlen, "ok.jpg");
    ds_check_opts o = {.max_pixels = 1000};
    ds_sample s;
    check(&e, &o, &s);
    ck_assert(!s.ok);
    ck_assert_str_eq(s.reason, "declared size 320x240 exceeds the pixel limit");

    /* The reader's own reason passes through. */
    e.reject = "link: not a regular file";
    check(&e, &o, &s);
    ck_assert(!s.ok);
    ck_assert_str_eq(s.reason, "link: not a regular file");
    g_free(jpeg);
}
END_TEST

static uint64_t phash_of(const void *data, size_t len)
{
    ds_entry e = entry(data, len, "p");
    ds_check_opts o = opts();
    ds_sample s;
    check(&e, &o, &s);
    ck_assert_msg(s.ok, "%s", s.reason);
    uint64_t h = s.phash;
    ds_sample_clear(&s);
    return h;
}

START_TEST(phash_is_perceptual)
{
    init();
    VipsImage *im = picture(400, 300, 5), *small = NULL;
    size_t len;
    uint8_t *orig = it_encode(im, ".jpg[Q=95]", &len);
    uint64_t h = phash_of(orig, len);
    g_free(orig);

    uint8_t *low = it_encode(im, ".jpg[Q=60]", &len);
    int d_low = ds_phash_distance(h, phash_of(low, len));
    g_free(low);
    uint8_t *png = it_encode(im, ".png", &len);
    int d_png = ds_phash_distance(h, phash_of(png, len));
    g_free(png);
    ck_assert_int_eq(vips_resize(im, &small, 0.7, NULL), 0);
    uint8_t *resized = it_encode(small, ".jpg[Q=85]", &len);
    int d_resized = ds_phash_distance(h, phash_of(resized, len));
    g_free(resized);
    uint8_t *other = picture_file(400, 300, 6, ".jpg", &len);
    int d_other = ds_phash_distance(h, phash_of(other, len));
    g_free(other);

    ck_assert_msg(d_low <= 4, "re-encoded at q60: distance %d", d_low);
    ck_assert_msg(d_png <= 4, "as PNG: distance %d", d_png);
    ck_assert_msg(d_resized <= 4, "resized: distance %d", d_resized);
    ck_assert_msg(d_other >= 16, "unrelated picture: distance %d", d_other);
    ck_assert_int_eq(ds_phash_distance(0, ~(uint64_t)0), 64);
    ck_assert_int_eq(ds_phash_distance(h, h), 0);
    g_object_unref(small);
    g_object_unref(im);
}
END_TEST

START_TEST(max_side_shrinks)
{
    init();
    size_t len;
    uint8_t *jpeg = picture_file(400, 300, 7, ".jpg", &len);
    ds_entry e = entry(jpeg, len, "big.jpg");
    ds_check_opts o = opts();
    o.max_side = 100;
    ds_sample s;
    check(&e, &o, &s);
    ck_assert_msg(s.ok, "%s", s.reason);
    ck_assert_str_eq(s.format, "jpeg");
    ck_assert_int_eq(s.width, 100);
    ck_assert_int_eq(s.height, 75);
    ck_assert_int_eq(s.orig_width, 400);
    ck_assert_int_eq(s.orig_height, 300);
    ck_assert_uint_lt(s.size, len);
    VipsImage *stored = vips_image_new_from_buffer(s.data, s.size, "", NULL);
    ck_assert_ptr_nonnull(stored);
    ck_assert_int_eq(vips_image_get_width(stored), 100);
    ck_assert_int_eq(vips_image_get_height(stored), 75);
    g_object_unref(stored);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(jpeg, len));
    ck_assert_mem_eq(s.content_hash, c.digest, 16); /* of the original bytes */
    ds_sample_clear(&s);

    /* Small enough: kept as it is. */
    o.max_side = 400;
    check(&e, &o, &s);
    ck_assert_uint_eq(s.size, len);
    ck_assert_mem_eq(s.data, jpeg, len);
    ds_sample_clear(&s);
    g_free(jpeg);

    /* With alpha: PNG. */
    VipsImage *im = picture(300, 200, 8), *alpha = NULL;
    ck_assert_int_eq(vips_bandjoin_const1(im, &alpha, 200, NULL), 0);
    uint8_t *png = it_encode(alpha, ".png", &len);
    e = entry(png, len, "alpha.png");
    o.max_side = 150;
    check(&e, &o, &s);
    ck_assert_msg(s.ok, "%s", s.reason);
    ck_assert_str_eq(s.format, "png");
    ck_assert_int_eq(s.width, 150);
    ck_assert_int_eq(s.height, 100);
    ck_assert_int_eq(s.bands, 4);
    ds_sample_clear(&s);
    g_free(png);
    g_object_unref(alpha);
    g_object_unref(im);
}
END_TEST

START_TEST(raw_entries)
{
    init();
    uint8_t px[28 * 28];
    for (int i = 0; i < 28 * 28; i++) {
        px[i] = (uint8_t)((i % 28) * 9);
    }
    ds_entry e = {.name = "idx:7",
                  .kind = DS_ENTRY_RAW,
                  .data = px,
                  .size = sizeof px,
                  .width = 28,
                  .height = 28,
                  .bands = 1};
    ds_check_opts o = opts();
    ds_sample s;
    check(&e, &o, &s);
    ck_assert_msg(s.ok, "%s", s.reason);
    ck_assert_str_eq(s.format, "raw");
    ck_assert_int_eq(s.width, 28);
    ck_assert_int_eq(s.height, 28);
    ck_assert_int_eq(s.bands, 1);
    ck_assert_uint_eq(s.size, sizeof px);
    ck_assert_mem_eq(s.data, px, sizeof px);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(px, sizeof px));
    ck_assert_mem_eq(s.content_hash, c.digest, 16);
    uint64_t h = s.phash;
    ds_sample_clear(&s);

    /* The same pixels as a PNG: the same perceptual hash, near enough. */
    VipsImage *im = vips_image_new_from_memory(px, sizeof px, 28, 28, 1, VIPS_FORMAT_UCHAR);
    size_t len;
    uint8_t *png = it_encode(im, ".png", &len);
    ck_assert_int_le(ds_phash_distance(h, phash_of(png, len)), 2);
    g_free(png);
    g_object_unref(im);

    e.width = 27;
    check(&e, &o, &s);
    ck_assert(!s.ok);
    ck_assert_msg(strstr(s.reason, "raw: 27x28x1") != NULL, "%s", s.reason);
}
END_TEST

typedef struct job {
    const ds_entry *e;
    ds_sample s;
    int rc;
} job;

static void *check_job(void *arg)
{
    job *j = arg;
    ds_check_opts o = opts();
    for (int i = 0; i < 20; i++) {
        ds_sample_clear(&j->s);
        j->rc = ds_check_entry(j->e, &o, &j->s, NULL, 0);
    }
    return NULL;
}

START_TEST(concurrent_checks_agree)
{
    init();
    size_t len;
    uint8_t *jpeg = picture_file(500, 375, 9, ".jpg", &len);
    ds_entry entries[2] = {entry(jpeg, len, "a.jpg"), entry(jpeg, len * 2 / 3, "cut.jpg")};
    for (int k = 0; k < 2; k++) {
        job jobs[4] = {{0}};
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            jobs[i].e = &entries[k];
            ck_assert_int_eq(pthread_create(&t[i], NULL, check_job, &jobs[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(pthread_join(t[i], NULL), 0);
            ck_assert_int_eq(jobs[i].rc, 0);
        }
        ck_assert_int_eq(jobs[0].s.ok, k == 0);
        for (int i = 1; i < 4; i++) {
            const ds_sample *a = &jobs[0].s, *b = &jobs[i].s;
            ck_assert_int_eq(a->ok, b->ok);
            ck_assert_str_eq(a->format, b->format);
            ck_assert_int_eq(a->width, b->width);
            ck_assert_int_eq(a->height, b->height);
            ck_assert_int_eq(a->bands, b->bands);
            ck_assert_mem_eq(a->content_hash, b->content_hash, 16);
            ck_assert_uint_eq(a->phash, b->phash);
            ck_assert_uint_eq(a->size, b->size);
            if (a->size) {
                ck_assert_mem_eq(a->data, b->data, a->size);
            }
        }
        for (int i = 0; i < 4; i++) {
            ds_sample_clear(&jobs[i].s);
        }
    }
    g_free(jpeg);
}
END_TEST

START_TEST(real_photos_pass)
{
    init();
    char buf[4096];
    const char *root = ck_test_data("alien-vs-predator/train", buf, sizeof buf);
    if (!root) {
        return;
    }
    static const char *const classes[2] = {"alien", "predator"};
    int n = 0;
    ds_check_opts o = opts();
    for (int k = 0; k < 2; k++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", root, classes[k]);
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }
            char path[4500];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            gchar *data = NULL;
            gsize len = 0;
            ck_assert(g_file_get_contents(path, &data, &len, NULL));
            ds_entry e = entry(data, len, path);
            ds_sample s;
            check(&e, &o, &s);
            ck_assert_msg(s.ok, "%s: %s", path, s.reason);
            ck_assert_int_gt(s.width, 0);
            ck_assert_int_gt(s.height, 0);
            ck_assert_uint_eq(s.size, len);
            ds_sample_clear(&s);
            g_free(data);
            n++;
        }
        closedir(d);
    }
    ck_assert_int_eq(n, 694);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ds_check");
    TCase *tc = tcase_create("check");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, valid_jpeg_and_png);
    tcase_add_test(tc, bad_files_rejected);
    tcase_add_test(tc, phash_is_perceptual);
    tcase_add_test(tc, max_side_shrinks);
    tcase_add_test(tc, raw_entries);
    tcase_add_test(tc, concurrent_checks_agree);
    tcase_add_test(tc, real_photos_pass);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(suite());
}
