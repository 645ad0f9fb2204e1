/* test_report.c: the report module. The HTML writer on its own (escaping
 * of every kind of text, data: URIs against RFC 4648's vectors, numbers as
 * a page prints them), a PLplot figure made an element of the page, and
 * whole reports on a catalog and runs.db made here, with an engine stub:
 * self-contained (every src a data: URI that decodes, nothing fetched),
 * names from the data escaped, what is missing said, repeated runs
 * grouped, the same bytes twice, and nothing written but the output, which
 * may not be an input. */
#include <dirent.h>
#include <math.h>
#include <vips/vips.h>

#include "ck_test.h"
#include "ds.h"
#include "im.h"
#include "rn.h"
#include "rp.h"
#include "rp_internal.h"

static char err[1024];

static char *text_of(void (*fn)(ck_buf *, const char *), const char *s)
{
    ck_buf b = {0};
    fn(&b, s);
    char *t = ck_buf_take(&b);
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(html_text_is_escaped)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"<a href='x'>&\"</a>", "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"},
        {"گربه 猫 café", "گربه 猫 café"},                       /* UTF-8 as it is */
        {"bad\xff\xfe.jpg", "bad\xEF\xBF\xBD\xEF\xBF\xBD.jpg"}, /* not UTF-8 */
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},               /* an overlong '/' */
        {"a\x01"
         "b\x7f"
         "c",
         "a\xEF\xBF\xBD"
         "b\xEF\xBF\xBD"
         "c"},
        {"tab\tand\nline", "tab\tand\nline"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = text_of(rp_html_text, cases[i].in);
        ck_assert_msg(!strcmp(t, cases[i].out), "case %zu: '%s'", i, t);
        free(t);
    }
    ck_buf b = {0};
    rp_html_text(&b, NULL);
    rp_html_textf(&b, "%s=%d", "<x>", 3);
    char *t = ck_buf_take(&b);
    ck_assert_str_eq(t, "&lt;x&gt;=3");
    free(t);
    /* A long formatted text is not cut. */
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    b = (ck_buf){0};
    rp_html_textf(&b, "%s<", big);
    t = ck_buf_take(&b);
    ck_assert_uint_eq(strlen(t), sizeof big - 1 + 4);
    free(t);
}
END_TEST

START_TEST(data_uris_are_base64)
{
    static const char *const want[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t n = 0; n <= 6; n++) {
        ck_buf b = {0};
        rp_html_data_uri(&b, "image/png", "foobar", n);
        char *t = ck_buf_take(&b), expect[64];
        snprintf(expect, sizeof expect, "data:image/png;base64,%s", want[n]);
        ck_assert_str_eq(t, expect);
        free(t);
    }
    /* Every byte value survives. */
    unsigned char all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (unsigned char)i;
    }
    ck_buf b = {0};
    rp_html_img(&b, "image/jpeg", all, sizeof all, "a \"b\"", "thumb pix");
    char *t = ck_buf_take(&b);
    ck_assert_msg(!strncmp(t, "<img src=\"data:image/jpeg;base64,AAECAwQF", 40), "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "+/w==\" alt=\"a &quot;b&quot;\" title=\"a &quot;b&quot;\" "
                                    "class=\"thumb pix\">"));
    free(t);
}
END_TEST

START_TEST(numbers_as_printed)
{
    ck_buf b = {0};
    rp_html_num(&b, -0.5, 4);
    ck_buf_str(&b, "|");
    rp_html_num(&b, -0.00001, 4); /* rounds to 0: no sign */
    ck_buf_str(&b, "|");
    rp_html_num(&b, NAN, 2);
    ck_buf_str(&b, "|");
    rp_html_count(&b, 22352);
    ck_buf_str(&b, "|");
    rp_html_count(&b, 1000);
    ck_buf_str(&b, "|");
    rp_html_count(&b, 1234567);
    ck_buf_str(&b, "|");
    const double v[4] = {1, 2, 3, NAN};
    rp_html_mean_sd(&b, v, 4, 3);
    ck_buf_str(&b, "|");
    rp_html_mean_sd(&b, v + 1, 1, 2);
    char *t = ck_buf_take(&b);
    ck_assert_str_eq(t, "−0.5000|0.0000|–|22\xE2\x80\x89"
                        "352|1000|1\xE2\x80\x89"
                        "234\xE2\x80\x89"
                        "567|"
                        "2.000 ± 1.000|2.00");
    free(t);
    double mean, sd;
    int k;
    rp_mean_sd(v, 4, &mean, &sd, &k);
    ck_assert(k == 3 && mean == 2 && sd == 1 /* over n - 1 */);
}
END_TEST

START_TEST(svg_made_an_element)
{
    static const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG "
        "1.1//EN\"\n \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg\n"
        "  xmlns=\"http://www.w3.org/2000/svg\"\n  version=\"1.1\"\n  width=\"1100pt\"\n"
        "  height=\"520pt\"\n  viewBox=\"0 0 1100 520\"\n  >\n<clipPath id=\"text-clipping0\">"
        "<rect/></clipPath><g clip-path=\"url(#text-clipping0)\"><use xlink:href=\"#a\"/>"
        "<text>&#x41;</text></g>\n</svg>\n";
    ck_buf b = {0};
    ck_assert_int_eq(rp_svg_inline(&b, doc, "f7", "Curves of <x>"), 0);
    char *t = ck_buf_take(&b);
    ck_assert_msg(!strncmp(t, "<svg\n", 5), "%s", t);
    ck_assert_ptr_null(strstr(t, "width="));
    ck_assert_ptr_null(strstr(t, "height="));
    ck_assert_ptr_null(strstr(t, "DOCTYPE"));
    ck_assert_ptr_nonnull(strstr(t, "viewBox=\"0 0 1100 520\""));
    ck_assert_ptr_nonnull(
        strstr(t, " class=\"fig\" role=\"img\" aria-label=\"Curves of &lt;x&gt;\">"));
    ck_assert_ptr_nonnull(strstr(t, "<clipPath id=\"f7-text-clipping0\">"));
    ck_assert_ptr_nonnull(strstr(t, "clip-path=\"url(#f7-text-clipping0)\""));
    ck_assert_ptr_nonnull(strstr(t, "xlink:href=\"#f7-a\""));
    size_t n = strlen(t);
    ck_assert_msg(n > 6 && !strcmp(t + n - 6, "</svg>"), "%s", t);
    free(t);
    b = (ck_buf){0};
    ck_assert_int_eq(rp_svg_inline(&b, "<html></html>", "f1", ""), CK_EFORMAT);
    ck_assert_int_eq(rp_svg_inline(&b, "<svg>no end", "f1", ""), CK_EFORMAT);
    ck_buf_free(&b);
}
END_TEST

/* ---- whole reports ----------------------------------------------------- */

enum { PER_CLASS = 6, SIDE = 8 };

static const char *const class_names[] = {"گربه", "猫", "<b>&"};

typedef struct fixture {
    char dir[256], runs[300], data[300], hash[64];
} fixture;

/* A finished catalog of 8x8 grey images, three classes (Persian, Chinese,
 * and one that needs escaping), PER_CLASS per class in each of train,
 * validation and test (the source's own splits), and one rejected file. */
static void make_catalog(fixture *f)
{
    ds_catalog *c;
    ck_assert_msg(ds_catalog_open(&c, f->data, DS_OPEN_WRITE, err, sizeof err) == 0, "%s", err);
    int done;
    ck_assert(ds_catalog_begin(c, "test", &done, err, sizeof err) == 0);
    int64_t base, id = 0;
    ck_assert(
        ds_catalog_source(c, 0, "src.zip", DS_LAYOUT_FOLDERS, &base, &done, err, sizeof err) == 0);
    static const char *const splits[] = {"train", "validation", "test"};
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < PER_CLASS; i++, id++) {
                uint8_t px[SIDE * SIDE];
                for (int p = 0; p < SIDE * SIDE; p++) { /* a bar per class, moving */
                    px[p] = (uint8_t)((p % SIDE == (k * 3 + i + s) % SIDE) ? 250 : 10 + p);
                }
                char name[64];
                snprintf(name, sizeof name, "%s/%s/%d.png", splits[s], class_names[k], i);
                ds_entry e = {.ordinal = id,
                              .name = name,
                              .label = (char *)class_names[k],
                              .split = (char *)splits[s],
                              .kind = DS_ENTRY_RAW,
                              .data = px,
                              .size = sizeof px,
                              .width = SIDE,
                              .height = SIDE,
                              .bands = 1};
                ds_sample smp = {.ok = 1,
                                 .width = SIDE,
                                 .height = SIDE,
                                 .orig_width = SIDE,
                                 .orig_height = SIDE,
                                 .bands = 1,
                                 .data = px,
                                 .size = sizeof px,
                                 .phash = (uint64_t)id * 0x9E3779B97F4A7C15ull};
                snprintf(smp.format, sizeof smp.format, "raw");
                for (int h = 0; h < 16; h++) {
                    smp.content_hash[h] = (uint8_t)(id * 31 + h);
                }
                ck_assert_msg(ds_catalog_put(c, id, 0, &e, &smp, err, sizeof err) == 0, "%s", err);
            }
        }
    }
    ds_entry bad = {.ordinal = id, .name = "bad<x>.jpg", .kind = DS_ENTRY_ENCODED};
    ds_sample no = {.ok = 0};
    snprintf(no.reason, sizeof no.reason, "decode: not a JPEG");
    ck_assert(ds_catalog_put(c, id, 0, &bad, &no, err, sizeof err) == 0);
    id++;
    ck_assert_msg(ds_catalog_source_done(c, 0, id, "h", err, sizeof err) == 0, "%s", err);
    ds_split_opts o = ds_split_opts_default();
    ck_assert_msg(ds_catalog_finish(c, &o, err, sizeof err) == 0, "%s", err);
    snprintf(f->hash, sizeof f->hash, "%s", ds_catalog_hash(c));
    ds_catalog_close(c);
}

static void record(fixture *f, const char *run, uint64_t seed, const char *augment,
                   const char *dataset, int epochs)
{
    char config[2048];
    snprintf(config, sizeof config,
             "{\"model\":\"synth\",\"spec\":\"Input(shape=(8, 8, 1))\\nFlatten()\\nDense(3, "
             "activation='softmax')\\n\",\"epochs\":%d,\"batch\":4,\"optimizer\":{\"name\":"
             "\"rmsprop\",\"lr\":0.001,\"rho\":0.9,\"epsilon\":1e-07},\"loss\":"
             "\"sparse_categorical_crossentropy\",\"seed\":%llu,\"threads\":1,\"isa\":"
             "\"generic\",\"patience\":0,\"dataset_hash\":\"%s\",\"extra\":{\"augment\":\"%s\","
             "\"classes\":[],\"dataset\":\"%s\",\"resize\":\"fit\"}}",
             epochs, (unsigned long long)seed, f->hash, augment, dataset);
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, f->runs, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rn_run_start(db, run, config, f->hash, seed, "Model: \"synth\"\n<table>", 0, 0,
                               err, sizeof err) == 0,
                  "%s", err);
    for (int e = 0; e < epochs; e++) {
        double v[RN_EPOCH_VALUES] = {1.0 / (e + 1),
                                     0.5 + 0.1 * e + 0.01 * seed,
                                     1.1 / (e + 1) + 0.05 * e,
                                     0.45 + 0.05 * e,
                                     0.5,
                                     1000 + e,
                                     0.01,
                                     0};
        ck_assert_msg(rn_run_epoch(db, run, e + 1, v, err, sizeof err) == 0, "%s", err);
    }
    ck_assert(rn_run_finish(db, run, "done", err, sizeof err) == 0);
    rn_db_close(db);
}

static void fixture_init(fixture *f)
{
    ck_assert_msg(im_init("test_report", err, sizeof err) == 0, "%s", err);
    ck_test_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->runs, sizeof f->runs, "%s/runs.db", f->dir);
    snprintf(f->data, sizeof f->data, "%s/data.db", f->dir);
    make_catalog(f);
    record(f, "plain-s1", 1, "none", f->data, 4);
    record(f, "plain-s2", 2, "none", f->data, 4);
    record(f, "aug<b>&", 1, "flip=horizontal,rotate=0.1,fill=reflect,interp=bilinear", f->data, 4);
    record(f, "lost", 1, "none", "/nonexistent/elsewhere.db", 2);
}

static void fixture_free(fixture *f)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "open %s", path);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    if (len) {
        *len = (size_t)n;
    }
    return buf;
}

/* The stub engine: every test sample taken for class 0 with probability
 * 0.9, but for plain-s2, whose checkpoint is missing; the views, a small
 * JPEG each, but for aug<b>&, whose Grad-CAM fails for a reason of its own
 * and whose other views fail for one reason twice; each view asked for in
 * `views`, one line "run view class image". */
typedef struct stub {
    const char *data;
    int calls;
    ck_buf views;
} stub;

static int stub_view(void *ctx, const char *run, rp_view which, const aug_src *image,
                     const char *class_name, void **jpeg, size_t *len, char *what, size_t whatlen,
                     char *e, size_t elen)
{
    stub *s = ctx;
    ck_buf_printf(&s->views, "%s %d %s %s\n", run, (int)which, class_name ? class_name : "-",
                  image->name);
    if (!strcmp(run, "aug<b>&")) {
        return ck_err(e, elen, which == RP_VIEW_HEATMAP ? CK_EINVAL : CK_EIO,
                      which == RP_VIEW_HEATMAP ? "aug.best.ckpt: --class: <boom>"
                                               : "aug.best.ckpt: twice the same");
    }
    VipsImage *im;
    void *buf;
    ck_assert_int_eq(vips_black(&im, 8, 6, "bands", 3, NULL), 0);
    ck_assert_int_eq(vips_jpegsave_buffer(im, &buf, len, NULL), 0);
    g_object_unref(im);
    *jpeg = malloc(*len); /* the report frees with free() */
    memcpy(*jpeg, buf, *len);
    g_free(buf);
    snprintf(what, whatlen, "view %d <of> %s", (int)which, run);
    return 0;
}

static int stub_evaluate(void *ctx, const char *run, const char *catalog, const char *split,
                         rp_eval *out, char *e, size_t elen)
{
    stub *s = ctx;
    s->calls++;
    memset(out, 0, sizeof *out);
    if (!strcmp(run, "plain-s2")) {
        return ck_err(e, elen, CK_EIO, "plain-s2.best.ckpt: no such checkpoint");
    }
    ds_catalog *c;
    ck_assert(ds_catalog_open(&c, catalog, DS_OPEN_READ, e, elen) == 0);
    int64_t *ids;
    int32_t *labels;
    size_t n;
    ck_assert(ds_catalog_split(c, split, &ids, &labels, &n, e, elen) == 0);
    ds_catalog_close(c);
    out->checkpoint = strdup("/somewhere/run.best.ckpt");
    out->n = (int64_t)n;
    out->classes = 3;
    out->confusion = calloc(9, sizeof *out->confusion);
    out->label = labels;
    out->pred = calloc(n, sizeof *out->pred);
    out->prob = calloc(n, sizeof *out->prob);
    for (size_t i = 0; i < n; i++) {
        out->prob[i] = 0.9f - 0.01f * (float)i;
        out->confusion[labels[i] * 3 + 0]++;
    }
    out->accuracy = 1.0 / 3;
    out->loss = 1.1;
    free(ids);
    return 0;
}

/* Every src and href value: a data: URI that decodes as an image, or a
 * fragment of the page. Returns the number of images. */
static int check_sources(const char *html)
{
    int images = 0;
    static const char *const attrs[] = {" src=\"", " href=\""};
    for (int a = 0; a < 2; a++) {
        for (const char *p = html; (p = strstr(p, attrs[a])) != NULL;) {
            p += strlen(attrs[a]);
            const char *end = strchr(p, '"');
            ck_assert_ptr_nonnull(end);
            if (a == 1) {
                ck_assert_msg(*p == '#', "href %.40s", p);
                continue;
            }
            const char *comma = strchr(p, ',');
            ck_assert_msg(!strncmp(p, "data:image/png;base64,", 22) ||
                              !strncmp(p, "data:image/jpeg;base64,", 23),
                          "src %.40s", p);
            size_t n = (size_t)(end - comma - 1), k = 0;
            unsigned char *bytes = malloc(n);
            unsigned acc = 0;
            int bits = 0;
            for (const char *q = comma + 1; q < end && *q != '='; q++) {
                const char *abc =
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                const char *at = strchr(abc, *q);
                ck_assert_ptr_nonnull(at);
                acc = acc << 6 | (unsigned)(at - abc);
                bits += 6;
                if (bits >= 8) {
                    bits -= 8;
                    bytes[k++] = (unsigned char)(acc >> bits);
                }
            }
            VipsImage *im = vips_image_new_from_buffer(bytes, k, "", NULL);
            ck_assert_msg(im != NULL, "an image that does not decode");
            ck_assert(im->Xsize > 0 && im->Ysize > 0);
            g_object_unref(im);
            free(bytes);
            images++;
        }
    }
    return images;
}

START_TEST(report_is_self_contained_and_escaped)
{
    fixture f;
    fixture_init(&f);
    char out[400], again[400];
    snprintf(out, sizeof out, "%s/report.html", f.dir);
    snprintf(again, sizeof again, "%s/again.html", f.dir);
    stub s = {.data = f.data};
    rp_engine eng = {.ctx = &s, .evaluate = stub_evaluate, .view = stub_view};
    rp_opts o = {.runs_path = f.runs, .engine = &eng, .out_path = out};
    char *notes = NULL;
    int files = count_files(f.dir);
    ck_assert_msg(rp_report_write(&o, &notes, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count_files(f.dir), files + 1);
    ck_assert_int_eq(s.calls, 3); /* "lost" has no catalog to evaluate on */
    ck_assert_ptr_nonnull(notes);
    ck_assert_msg(strstr(notes, "run plain-s2: plain-s2.best.ckpt: no such checkpoint\n") &&
                      strstr(notes, "run lost: catalog /nonexistent/elsewhere.db not found"),
                  "%s", notes);
    free(notes);

    size_t len;
    char *html = slurp(out, &len);
    ck_assert(!strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 31));
    ck_assert_ptr_nonnull(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" "
                                       "content=\"default-src 'none'; img-src data:; style-src "
                                       "'unsafe-inline';"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<link"));
    ck_assert_ptr_null(strstr(html, "@import"));
    ck_assert_ptr_null(strstr(html, "url(http"));
    /* Thumbnails (3 classes x 6), the policy's grids (3), the kernels (6),
     * 12 mistakes for two runs, plain's 3 views: every one decodes. */
    int images = check_sources(html);
    ck_assert_msg(images == 18 + 3 + 6 + 2 * 12 + 3, "%d images", images);
    /* The views: one run of each arm with a catalog, the evaluated one
     * (plain-s1, not plain-s2), on the kernels' image and its class; a
     * view that fails leaves the others be, and a reason repeated is said
     * once. */
    char *views = ck_buf_take(&s.views);
    ck_assert_str_eq(views, "plain-s1 0 گربه train/گربه/0.png\n"
                            "plain-s1 1 گربه train/گربه/0.png\n"
                            "plain-s1 2 گربه train/گربه/0.png\n"
                            "aug<b>& 0 گربه train/گربه/0.png\n"
                            "aug<b>& 1 گربه train/گربه/0.png\n"
                            "aug<b>& 2 گربه train/گربه/0.png\n");
    free(views);
    const char *twice = strstr(html, "aug.best.ckpt: twice the same");
    ck_assert_ptr_nonnull(twice);
    ck_assert_ptr_null(strstr(twice + 1, "aug.best.ckpt: twice the same"));
    /* Names from the data, escaped wherever they appear; none raw. */
    ck_assert_ptr_null(strstr(html, "aug<b>&"));
    ck_assert_ptr_null(strstr(html, "<b>&"));
    ck_assert_ptr_null(strstr(html, "bad<x>"));
    ck_assert_ptr_nonnull(strstr(html, "<h3><bdi>aug&lt;b&gt;&amp;</bdi>"));
    ck_assert_ptr_nonnull(strstr(html, "<bdi>گربه</bdi>"));
    ck_assert_ptr_nonnull(strstr(html, "<bdi>猫</bdi>"));
    ck_assert_ptr_nonnull(strstr(html, "bad&lt;x&gt;.jpg"));
    ck_assert_ptr_nonnull(strstr(html, "decode: not a JPEG"));
    ck_assert_ptr_nonnull(strstr(html, "Model: &quot;synth&quot;\n&lt;table&gt;"));
    ck_assert_ptr_nonnull(strstr(html, f.hash));
    /* The sections, the figures (ids their own), the notes. */
    static const char *const want[] = {
        "<section id=\"dataset\">",
        "<section id=\"augmentation\">",
        "<section id=\"runs\">",
        "<section id=\"comparison\">",
        "<section id=\"evaluation\">",
        "<section id=\"network\">",
        "id=\"f1-text-clipping0\"",
        "id=\"f6-text-clipping0\"", /* 4 runs, overlay, gap */
        "Rotated by an angle drawn uniformly from −36° to 36°",
        "plain-s2.best.ckpt: no such checkpoint",
        "catalog /nonexistent/elsewhere.db not found",
        "<td class=\"num\">2</td>", /* plain-s1 and plain-s2: one arm of two seeds */
        "0.6000 ± 0.0000",          /* ... whose best val_accuracy does not vary */
        "0.8150 ± 0.0071",          /* ... and whose last accuracy does */
        "<bdi>plain</bdi>",         /* ... named without the seed */
        "<th class=\"num\">test accuracy</th>",
        "confusion matrix",
        "taken for",
        "It is the image <code>train/گربه/0.png</code>, class <bdi>گربه</bdi>",
        "<h3>What <bdi>plain</bdi> learned</h3>\n<p>The kept checkpoint of run <bdi>plain-s1</bdi> "
        "on the image <code>train/گربه/0.png</code>",
        "<figcaption><b>Where it looks (Grad-CAM):</b> view 0 &lt;of&gt; plain-s1</figcaption>",
        "<figcaption><b>What its filters respond to:</b> view 2 &lt;of&gt; plain-s1</figcaption>",
        "<h3>What <bdi>aug&lt;b&gt;&amp;</bdi> learned</h3>",
        "aug.best.ckpt: --class: &lt;boom&gt;"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_msg(strstr(html, want[i]) != NULL, "no '%s'", want[i]);
    }
    ck_assert_ptr_null(strstr(html, "id=\"text-clipping"));
    ck_assert_ptr_null(strstr(html, "<?xml"));

    /* The same inputs, the same bytes. */
    o.out_path = again;
    ck_assert_msg(rp_report_write(&o, NULL, err, sizeof err) == 0, "%s", err);
    size_t len2;
    char *html2 = slurp(again, &len2);
    ck_assert(len == len2 && memcmp(html, html2, len) == 0);
    free(html2);
    free(html);
    ck_buf_free(&s.views); /* the second report's */
    fixture_free(&f);
}
END_TEST

START_TEST(report_refuses_and_leaves_nothing)
{
    fixture f;
    fixture_init(&f);
    char out[400], link[400];
    snprintf(out, sizeof out, "%s/r.html", f.dir);
    snprintf(link, sizeof link, "%s/data-link.html", f.dir);
    ck_assert_int_eq(symlink(f.data, link), 0);
    int files = count_files(f.dir);
    /* The output may be neither runs.db nor a catalog, by any name. */
    rp_opts o = {.runs_path = f.runs, .out_path = f.runs};
    ck_assert_int_eq(rp_report_write(&o, NULL, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "same file as the runs database"), "%s", err);
    o.out_path = link;
    ck_assert_int_eq(rp_report_write(&o, NULL, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "same file as the catalog"), "%s", err);
    /* A run not recorded is named, with the recorded ones. */
    const char *runs[] = {"plain-s1", "nope"};
    o = (rp_opts){.runs_path = f.runs, .runs = runs, .nruns = 2, .out_path = out};
    ck_assert_int_eq(rp_report_write(&o, NULL, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "nope") && strstr(err, "plain-s1"), "%s", err);
    /* A catalog asked for that is not there is an error naming it. */
    const char *missing[] = {"/nonexistent/given.db"};
    o = (rp_opts){.runs_path = f.runs, .data = missing, .ndata = 1, .out_path = out};
    ck_assert_int_eq(rp_report_write(&o, NULL, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, "/nonexistent/given.db"), "%s", err);
    /* Not a runs.db. */
    o = (rp_opts){.runs_path = f.data, .out_path = out};
    ck_assert_int_eq(rp_report_write(&o, NULL, err, sizeof err), CK_EFORMAT);
    ck_assert_msg(strstr(err, f.data), "%s", err);
    ck_assert_int_eq(count_files(f.dir), files);
    ck_assert_int_eq(unlink(link), 0);

    /* Without an engine, --data and the runs chosen: one run, no
     * evaluation, and the catalog given stands for every run. */
    const char *one[] = {"lost"};
    const char *data[] = {f.data};
    o = (rp_opts){.runs_path = f.runs,
                  .runs = one,
                  .nruns = 1,
                  .data = data,
                  .ndata = 1,
                  .title = "Lost & found",
                  .out_path = out};
    char *notes = NULL;
    ck_assert_msg(rp_report_write(&o, &notes, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_null(notes); /* the catalog was found: nothing to say */
    char *html = slurp(out, NULL);
    ck_assert_ptr_nonnull(strstr(html, "<h1>Lost &amp; found</h1>"));
    ck_assert_ptr_null(strstr(html, "plain-s1"));
    ck_assert_ptr_nonnull(strstr(html, "<p>Not asked for.</p>"));
    ck_assert_ptr_nonnull(strstr(html, "No run was trained with augmentation"));
    free(html);
    fixture_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, html_text_is_escaped);
    tcase_add_test(tc, data_uris_are_base64);
    tcase_add_test(tc, numbers_as_printed);
    tcase_add_test(tc, svg_made_an_element);
    tcase_add_test(tc, report_is_self_contained_and_escaped);
    tcase_add_test(tc, report_refuses_and_leaves_nothing);
    suite_add_tcase(s, tc);
    return ck_test_run(s);
}
