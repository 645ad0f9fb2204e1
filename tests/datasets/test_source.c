/* test_source.c: the source readers on fixtures made at test time.
 *
 * Every fixture is written here, under a fresh tmpdir: tiny JPEG and PNG
 * files by libvips, zip/tar/tar.gz by libarchive's writer (nested zips
 * written to memory first), IDX files raw and gzip'd, HODA .cdb files
 * record by record. Each layout is read back and checked entry by entry:
 * names, labels, splits, bytes, rejects, order, hashes, and the messages of
 * corrupt inputs. Real data is in test_source_real.c.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <vips/vips.h>
#include <xxhash.h>
#include <zlib.h>

#include "ck_test.h"
#include "ds.h"
#include "im.h"

/* ---- fixtures ---------------------------------------------------------- */

typedef struct blob {
    void *data;
    size_t size;
} blob;

/* A w x h JPEG (or PNG) of one grey level. */
static blob make_image(int w, int h, int grey, int png)
{
    char err[256];
    ck_assert_msg(im_init("test_source", err, sizeof err) == 0, "%s", err);
    VipsImage *black, *im;
    ck_assert(vips_black(&black, w, h, "bands", 3, NULL) == 0);
    ck_assert(vips_linear1(black, &im, 1.0, (double)grey, "uchar", TRUE, NULL) == 0);
    blob b = {0};
    int rc = png ? vips_pngsave_buffer(im, &b.data, &b.size, NULL)
                 : vips_jpegsave_buffer(im, &b.data, &b.size, NULL);
    ck_assert(rc == 0);
    g_object_unref(black);
    g_object_unref(im);
    return b;
}

static void blob_free(blob *b)
{
    g_free(b->data);
    b->data = NULL;
}

enum { F_FILE, F_DIR, F_LINK };

typedef struct fent {
    const char *name;
    const void *data;
    size_t size;
    int type;
} fent;

enum { FMT_ZIP, FMT_TAR, FMT_TGZ };

static struct archive *writer(int fmt)
{
    struct archive *a = archive_write_new();
    if (fmt == FMT_ZIP) {
        ck_assert(archive_write_set_format_zip(a) == ARCHIVE_OK);
    } else {
        ck_assert(archive_write_set_format_gnutar(a) == ARCHIVE_OK);
        if (fmt == FMT_TGZ) {
            ck_assert(archive_write_add_filter_gzip(a) == ARCHIVE_OK);
        }
    }
    return a;
}

static void write_entries(struct archive *a, const fent *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_mtime(ae, 1380110400, 0);
        if (e[i].type == F_DIR) {
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
        } else if (e[i].type == F_LINK) {
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, (const char *)e[i].data);
        } else {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_size(ae, (la_int64_t)e[i].size);
        }
        ck_assert_msg(archive_write_header(a, ae) == ARCHIVE_OK, "%s", archive_error_string(a));
        if (e[i].type == F_FILE && e[i].size) {
            ck_assert(archive_write_data(a, e[i].data, e[i].size) == (la_ssize_t)e[i].size);
        }
        archive_entry_free(ae);
    }
}

static void write_archive(const char *path, int fmt, const fent *e, size_t n)
{
    struct archive *a = writer(fmt);
    ck_assert(archive_write_open_filename(a, path) == ARCHIVE_OK);
    write_entries(a, e, n);
    ck_assert(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
}

/* A zip in memory (for nesting); free the data with free(). */
static blob zip_bytes(const fent *e, size_t n)
{
    size_t cap = 1 << 20, used = 0;
    void *buf = malloc(cap);
    struct archive *a = writer(FMT_ZIP);
    ck_assert(archive_write_open_memory(a, buf, cap, &used) == ARCHIVE_OK);
    write_entries(a, e, n);
    ck_assert(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
    return (blob){buf, used};
}

static void le(uint8_t *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A one-entry zip whose sizes come only after the data (general purpose
 * flag bit 3, as zips written to a pipe have): a streaming reader cannot
 * know the size before reading it all. Free with free(). */
static blob zip_sizes_at_end(const char *name, const uint8_t *data, size_t n)
{
    size_t nl = strlen(name), cap = 200 + 2 * nl + n + n / 100;
    uint8_t *z = calloc(1, cap), *p = z;
    uint32_t crc = (uint32_t)crc32(0, data, (uInt)n);
    le(p, 0x04034b50, 4), le(p + 4, 20, 2), le(p + 6, 8, 2), le(p + 8, 8, 2);
    le(p + 26, (uint32_t)nl, 2);
    memcpy(p + 30, name, nl);
    p += 30 + nl;
    z_stream zs = {0};
    ck_assert(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)n;
    zs.next_out = p;
    zs.avail_out = (uInt)(cap - (size_t)(p - z) - 100 - nl);
    ck_assert(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    uint32_t csize = (uint32_t)zs.total_out;
    deflateEnd(&zs);
    p += csize;
    le(p, 0x08074b50, 4), le(p + 4, crc, 4), le(p + 8, csize, 4), le(p + 12, (uint32_t)n, 4);
    p += 16;
    uint8_t *cd = p;
    le(p, 0x02014b50, 4), le(p + 4, 20, 2), le(p + 6, 20, 2), le(p + 8, 8, 2), le(p + 10, 8, 2);
    le(p + 16, crc, 4), le(p + 20, csize, 4), le(p + 24, (uint32_t)n, 4);
    le(p + 28, (uint32_t)nl, 2);
    memcpy(p + 46, name, nl);
    p += 46 + nl;
    le(p, 0x06054b50, 4), le(p + 8, 1, 2), le(p + 10, 1, 2);
    le(p + 12, (uint32_t)(p - cd), 4), le(p + 16, (uint32_t)(cd - z), 4);
    p += 22;
    return (blob){z, (size_t)(p - z)};
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "fopen %s", path);
    ck_assert(fwrite(data, 1, size, f) == size);
    ck_assert(fclose(f) == 0);
}

static blob read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "fopen %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    blob b = {malloc((size_t)n + 1), (size_t)n};
    ck_assert(fread(b.data, 1, b.size, f) == b.size);
    fclose(f);
    return b;
}

static void truncate_file(const char *path, size_t keep)
{
    blob b = read_file(path);
    ck_assert(keep < b.size);
    write_file(path, b.data, keep);
    free(b.data);
}

static char *join(const char *dir, const char *name)
{
    static char buf[8][1024];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* ---- reading back ------------------------------------------------------ */

enum { MAXE = 64 };

typedef struct got {
    int n;
    ds_entry *e[MAXE];
    int rc; /* of the last ds_source_next */
    char err[512];
    char hash[33];
    ds_layout layout;
} got;

/* Reads every entry of path; open failures land in g->rc too. */
static void read_all(got *g, const char *path, ds_layout layout, const ds_limits *lim)
{
    memset(g, 0, sizeof *g);
    ds_source *s;
    g->rc = ds_source_open(&s, path, layout, lim, g->err, sizeof g->err);
    if (g->rc) {
        return;
    }
    g->layout = ds_source_layout(s);
    ds_entry *e;
    while ((g->rc = ds_source_next(s, &e, g->err, sizeof g->err)) == 1) {
        ck_assert_int_lt(g->n, MAXE);
        ck_assert_int_eq(e->ordinal, g->n);
        g->e[g->n++] = e;
    }
    if (g->rc == 0) {
        ds_source_hash(s, g->hash);
        ck_assert_uint_eq(strlen(g->hash), 32);
    }
    ds_source_close(s);
}

/* The last entry records where the archive named what stopped. */
static void expect_stopped(const got *g, const char *what)
{
    ck_assert_int_gt(g->n, 0);
    const ds_entry *e = g->e[g->n - 1];
    ck_assert_msg(e->stopped && e->reject && strstr(e->reject, "read stopped: ") &&
                      strstr(e->reject, what),
                  "%s: %s", e->name, e->reject ? e->reject : "(kept)");
    for (int i = 0; i + 1 < g->n; i++) {
        ck_assert(!g->e[i]->stopped);
    }
}

static void got_free(got *g)
{
    for (int i = 0; i < g->n; i++) {
        ds_entry_free(g->e[i]);
    }
    g->n = 0;
}

static int streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Entry i has this name, label and split, no reject. */
static void expect(const got *g, int i, const char *name, const char *label, const char *split)
{
    ck_assert_msg(i < g->n, "entry %d missing (have %d)", i, g->n);
    const ds_entry *e = g->e[i];
    ck_assert_msg(streq(e->name, name), "entry %d: name %s, want %s", i, e->name, name);
    ck_assert_msg(streq(e->label, label), "%s: label %s, want %s", name, e->label ? e->label : "-",
                  label ? label : "-");
    ck_assert_msg(streq(e->split, split), "%s: split %s, want %s", name, e->split ? e->split : "-",
                  split ? split : "-");
}

static void expect_ok(const got *g, int i, const char *name, const char *label, const char *split,
                      const blob *data)
{
    expect(g, i, name, label, split);
    const ds_entry *e = g->e[i];
    ck_assert_msg(e->reject == NULL, "%s: rejected: %s", name, e->reject);
    ck_assert_int_eq(e->kind, DS_ENTRY_ENCODED);
    ck_assert_uint_eq(e->size, data->size);
    ck_assert(memcmp(e->data, data->data, data->size) == 0);
}

static void expect_reject(const got *g, int i, const char *name, const char *why)
{
    ck_assert_msg(i < g->n, "entry %d missing", i);
    const ds_entry *e = g->e[i];
    ck_assert_msg(streq(e->name, name), "entry %d: name %s, want %s", i, e->name, name);
    ck_assert_msg(e->reject && strstr(e->reject, why), "%s: reject %s, want %s", name,
                  e->reject ? e->reject : "(none)", why);
    ck_assert(e->data == NULL);
}

/* ---- layouts ----------------------------------------------------------- */

START_TEST(layout_names_and_limits)
{
    for (int l = DS_LAYOUT_AUTO; l <= DS_LAYOUT_HODA; l++) {
        const char *name = ds_layout_name((ds_layout)l);
        ck_assert_ptr_nonnull(name);
        ds_layout back;
        ck_assert_int_eq(ds_layout_parse(name, &back), 0);
        ck_assert_int_eq(back, l);
    }
    ds_layout x;
    ck_assert_int_eq(ds_layout_parse("zip", &x), CK_EINVAL);
    ck_assert_ptr_null(ds_layout_name((ds_layout)99));
    ck_assert_str_eq(ds_layout_name(DS_LAYOUT_KAGGLE), "kaggle");
    ds_limits lim = ds_limits_default();
    ck_assert_uint_eq(lim.max_pixels, 89478485);
    ck_assert_uint_eq(lim.max_entry_bytes, 256u << 20);
    ck_assert_int_eq(lim.max_nesting, 2);
    ds_entry_free(NULL);
    ds_source_close(NULL);
}
END_TEST

/* dogs-vs-cats.zip as Kaggle ships it: the CSV, then test1.zip, train.zip. */
static void make_kaggle(const char *path, blob *cat0, blob *dog7, blob *t1)
{
    const char csv[] = "id,label\n1,0\n";
    fent train[] = {
        {"train/", NULL, 0, F_DIR},
        {"train/cat.0.jpg", cat0->data, cat0->size, F_FILE},
        {"train/dog.7.jpg", dog7->data, dog7->size, F_FILE},
        {"train/Thumbs.db", "junk", 4, F_FILE},
    };
    fent test1[] = {{"test1/", NULL, 0, F_DIR},
                    {"test1/1.jpg", t1->data, t1->size, F_FILE},
                    {"cat.2.jpg", t1->data, t1->size, F_FILE}};
    blob tr = zip_bytes(train, 4), te = zip_bytes(test1, 3);
    fent outer[] = {
        {"sampleSubmission.csv", csv, sizeof csv - 1, F_FILE},
        {"test1.zip", te.data, te.size, F_FILE},
        {"train.zip", tr.data, tr.size, F_FILE},
    };
    write_archive(path, FMT_ZIP, outer, 3);
    free(tr.data);
    free(te.data);
}

START_TEST(kaggle_nested_zip)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob cat0 = make_image(16, 12, 10, 0), dog7 = make_image(8, 8, 200, 0),
         t1 = make_image(9, 9, 90, 0);
    const char *path = join(dir, "dogs-vs-cats.zip");
    make_kaggle(path, &cat0, &dog7, &t1);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_KAGGLE);
    ck_assert_int_eq(g.n, 5);
    expect_ok(&g, 0, "test1.zip:test1/1.jpg", NULL, "test", &t1);
    /* In test1.zip, whatever its name says. */
    expect_ok(&g, 1, "test1.zip:cat.2.jpg", NULL, "test", &t1);
    expect_ok(&g, 2, "train.zip:train/cat.0.jpg", "cat", "train", &cat0);
    expect_ok(&g, 3, "train.zip:train/dog.7.jpg", "dog", "train", &dog7);
    expect(&g, 4, "train.zip:train/Thumbs.db", NULL, "train");
    ck_assert_ptr_null(g.e[4]->reject); /* ds_check's to reject */
    ck_assert_uint_eq(g.e[4]->size, 4);

    /* The hash is XXH3-128 of the file's bytes; the same on a second read. */
    blob whole = read_file(path);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(whole.data, whole.size));
    char hex[33];
    for (int i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", c.digest[i]);
    }
    ck_assert_str_eq(g.hash, hex);
    got g2;
    read_all(&g2, path, DS_LAYOUT_KAGGLE, NULL);
    ck_assert_int_eq(g2.n, g.n);
    ck_assert_str_eq(g2.hash, g.hash);
    for (int i = 0; i < g.n; i++) {
        ck_assert_str_eq(g2.e[i]->name, g.e[i]->name);
    }
    got_free(&g2);
    free(whole.data);

    /* Nesting: train.zip is one level deep; a limit of 0 refuses it. */
    ds_limits lim = ds_limits_default();
    lim.max_nesting = 0;
    got g3;
    read_all(&g3, path, DS_LAYOUT_AUTO, &lim);
    ck_assert_int_eq(g3.rc, CK_ELIMIT);
    ck_assert_msg(strstr(g3.err, "dogs-vs-cats.zip:test1.zip: open: ") &&
                      strstr(g3.err, "nested deeper than the limit (0)"),
                  "%s", g3.err);
    got_free(&g3);
    got_free(&g);
    blob_free(&cat0);
    blob_free(&dog7);
    blob_free(&t1);
}
END_TEST

/* The same archives, unpacked one level: a folder holding train.zip. */
START_TEST(kaggle_directory)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob a = make_image(8, 8, 1, 0);
    fent train[] = {{"train/cat.0.jpg", a.data, a.size, F_FILE}};
    fent test1[] = {{"test1/1.jpg", a.data, a.size, F_FILE}};
    write_archive(join(dir, "train.zip"), FMT_ZIP, train, 1);
    write_archive(join(dir, "test1.zip"), FMT_ZIP, test1, 1);
    write_file(join(dir, "sampleSubmission.csv"), "id,label\n", 9);
    got g, g2;
    read_all(&g, dir, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_KAGGLE);
    ck_assert_int_eq(g.n, 2);
    expect_ok(&g, 0, "test1.zip:test1/1.jpg", NULL, "test", &a);
    expect_ok(&g, 1, "train.zip:train/cat.0.jpg", "cat", "train", &a);
    read_all(&g2, dir, DS_LAYOUT_AUTO, NULL);
    ck_assert_str_eq(g2.hash, g.hash);
    got_free(&g2);
    /* The zip files' bytes are part of the hash. */
    blob b = make_image(8, 8, 2, 0);
    fent train2[] = {{"train/cat.0.jpg", b.data, b.size, F_FILE}};
    write_archive(join(dir, "train.zip"), FMT_ZIP, train2, 1);
    blob_free(&b);
    read_all(&g2, dir, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g2.rc == 0, "%s", g2.err);
    ck_assert_str_ne(g2.hash, g.hash);
    got_free(&g2);
    got_free(&g);
    blob_free(&a);
}
END_TEST

START_TEST(kaggle_nesting_limit)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob img = make_image(8, 8, 50, 0);
    /* deep.zip inside x.zip inside train.zip inside the outer zip: 3 levels. */
    fent l3[] = {{"cat.3.jpg", img.data, img.size, F_FILE}};
    blob z3 = zip_bytes(l3, 1);
    fent l2[] = {{"cat.2.jpg", img.data, img.size, F_FILE}, {"deep.zip", z3.data, z3.size, F_FILE}};
    blob z2 = zip_bytes(l2, 2);
    fent l1[] = {{"train/cat.1.jpg", img.data, img.size, F_FILE},
                 {"train/x.zip", z2.data, z2.size, F_FILE}};
    blob z1 = zip_bytes(l1, 2);
    fent l0[] = {{"train.zip", z1.data, z1.size, F_FILE}};
    const char *path = join(dir, "deep.zip");
    write_archive(path, FMT_ZIP, l0, 1);
    got g;
    read_all(&g, path, DS_LAYOUT_KAGGLE, NULL); /* default limit 2 */
    ck_assert_int_eq(g.rc, CK_ELIMIT);
    ck_assert_msg(strstr(g.err, "deep.zip:train.zip:train/x.zip:deep.zip: open: archives nested "
                                "deeper than the limit (2)"),
                  "%s", g.err);
    ck_assert_int_eq(g.n, 2); /* what came before the refusal */
    expect(&g, 0, "train.zip:train/cat.1.jpg", "cat", "train");
    expect(&g, 1, "train.zip:train/x.zip:cat.2.jpg", "cat", "train");
    got_free(&g);
    ds_limits lim = ds_limits_default();
    lim.max_nesting = 3;
    read_all(&g, path, DS_LAYOUT_KAGGLE, &lim);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 3);
    expect(&g, 2, "train.zip:train/x.zip:deep.zip:cat.3.jpg", "cat", "train");
    got_free(&g);
    free(z1.data);
    free(z2.data);
    free(z3.data);
    blob_free(&img);
}
END_TEST

START_TEST(kaggle_train_zip_alone)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob a = make_image(8, 8, 1, 0), b = make_image(8, 8, 2, 0);
    fent e[] = {{"train/", NULL, 0, F_DIR},
                {"train/cat.12.jpg", a.data, a.size, F_FILE},
                {"train/dog.3.jpg", b.data, b.size, F_FILE},
                {"train/notes.txt", "x", 1, F_FILE}};
    const char *path = join(dir, "train.zip");
    write_archive(path, FMT_ZIP, e, 4);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_KAGGLE);
    ck_assert_int_eq(g.n, 3);
    expect_ok(&g, 0, "train/cat.12.jpg", "cat", "train", &a);
    expect_ok(&g, 1, "train/dog.3.jpg", "dog", "train", &b);
    expect(&g, 2, "train/notes.txt", NULL, "train");
    got_free(&g);
    blob_free(&a);
    blob_free(&b);
}
END_TEST

START_TEST(fastai_layout)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob c = make_image(8, 8, 1, 0), d = make_image(8, 8, 2, 0), v = make_image(8, 8, 3, 1),
         t = make_image(8, 8, 4, 0);
    fent e[] = {
        {"dogscats/", NULL, 0, F_DIR},
        {"dogscats/models/", NULL, 0, F_DIR},
        {"dogscats/models/weights.h5", "w", 1, F_FILE},
        {"dogscats/sample/train/cats/cat.1.jpg", c.data, c.size, F_FILE},
        {"dogscats/train/cats/cat.1.jpg", c.data, c.size, F_FILE},
        {"dogscats/train/dogs/dog.2.jpg", d.data, d.size, F_FILE},
        {"dogscats/valid/cats/cat.9.png", v.data, v.size, F_FILE},
        {"dogscats/test1/5.jpg", t.data, t.size, F_FILE},
        {"dogscats/README", "r", 1, F_FILE},
    };
    const char *path = join(dir, "dogscats.zip");
    write_archive(path, FMT_ZIP, e, 9);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_FASTAI);
    ck_assert_int_eq(g.n, 4);
    expect_ok(&g, 0, "dogscats/train/cats/cat.1.jpg", "cats", "train", &c);
    expect_ok(&g, 1, "dogscats/train/dogs/dog.2.jpg", "dogs", "train", &d);
    expect_ok(&g, 2, "dogscats/valid/cats/cat.9.png", "cats", "validation", &v);
    expect_ok(&g, 3, "dogscats/test1/5.jpg", NULL, "test", &t);
    got_free(&g);
    blob_free(&c);
    blob_free(&d);
    blob_free(&v);
    blob_free(&t);
}
END_TEST

START_TEST(petimages_layout)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob c = make_image(8, 8, 1, 0), d = make_image(8, 8, 2, 0);
    fent e[] = {
        {"CDLA-Permissive-2.0.pdf", "%PDF", 4, F_FILE},
        {"PetImages/Cat/0.jpg", c.data, c.size, F_FILE},
        {"PetImages/Cat/666.jpg", c.data, c.size / 2, F_FILE}, /* broken */
        {"PetImages/Cat/Thumbs.db", "thumbs", 6, F_FILE},
        {"PetImages/Dog/0.jpg", d.data, d.size, F_FILE},
        {"readme[1].txt", "hello", 5, F_FILE},
    };
    const char *path = join(dir, "kagglecatsanddogs_5340.zip");
    write_archive(path, FMT_ZIP, e, 6);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_PETIMAGES);
    ck_assert_int_eq(g.n, 4);
    expect_ok(&g, 0, "PetImages/Cat/0.jpg", "Cat", NULL, &c);
    blob half = {c.data, c.size / 2};
    expect_ok(&g, 1, "PetImages/Cat/666.jpg", "Cat", NULL, &half);
    expect(&g, 2, "PetImages/Cat/Thumbs.db", "Cat", NULL);
    expect_ok(&g, 3, "PetImages/Dog/0.jpg", "Dog", NULL, &d);
    got_free(&g);
    blob_free(&c);
    blob_free(&d);
}
END_TEST

/* The same class-per-folder tree as zip, tar and tar.gz. */
START_TEST(folders_archives)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob a = make_image(8, 8, 1, 0), p = make_image(8, 8, 2, 1);
    fent e[] = {
        {"avp/", NULL, 0, F_DIR},
        {"avp/.DS_Store", "ds", 2, F_FILE},
        {"avp/alien/0.jpg", a.data, a.size, F_FILE},
        {"avp/alien/link.jpg", "0.jpg", 0, F_LINK},
        {"avp/predator/1.png", p.data, p.size, F_FILE},
        {"avp/predator/../../escape.jpg", a.data, a.size, F_FILE},
        {"__MACOSX/avp/alien/._0.jpg", "apple", 5, F_FILE},
    };
    static const char *const names[] = {"avp.zip", "avp.tar", "avp.tar.gz"};
    for (int fmt = FMT_ZIP; fmt <= FMT_TGZ; fmt++) {
        const char *path = join(dir, names[fmt]);
        write_archive(path, fmt, e, 7);
        got g;
        read_all(&g, path, DS_LAYOUT_AUTO, NULL);
        ck_assert_msg(g.rc == 0, "%s: %s", names[fmt], g.err);
        ck_assert_int_eq(g.layout, DS_LAYOUT_FOLDERS);
        ck_assert_int_eq(g.n, 4);
        expect_ok(&g, 0, "avp/alien/0.jpg", "alien", NULL, &a);
        expect_reject(&g, 1, "avp/alien/link.jpg", "symbolic link");
        ck_assert_str_eq(g.e[1]->label, "alien");
        expect_ok(&g, 2, "avp/predator/1.png", "predator", NULL, &p);
        expect_reject(&g, 3, "avp/predator/../../escape.jpg", "unsafe name");
        got_free(&g);
    }
    blob_free(&a);
    blob_free(&p);
}
END_TEST

START_TEST(folders_splits_and_names)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob a = make_image(8, 8, 1, 0);
    fent e[] = {
        {"data/train/alien/1.jpg", a.data, a.size, F_FILE},
        {"data/Valid/predator/2.jpg", a.data, a.size, F_FILE},
        {"data/test/alien/caf\xc3\xa9.jpg", a.data, a.size, F_FILE},
        {"data/test/alien/bad\xff\x01.jpg", a.data, a.size, F_FILE},
    };
    const char *path = join(dir, "splits.tar");
    write_archive(path, FMT_TAR, e, 4);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_FOLDERS);
    ck_assert_int_eq(g.n, 4);
    expect(&g, 0, "data/train/alien/1.jpg", "alien", "train");
    expect(&g, 1, "data/Valid/predator/2.jpg", "predator", "validation");
    expect(&g, 2, "data/test/alien/caf\xc3\xa9.jpg", "alien", "test");
    expect(&g, 3, "data/test/alien/bad\\xFF\\x01.jpg", "alien", "test");
    got_free(&g);

    /* One class only: its folder is the class, not a common prefix. */
    fent one[] = {{"alien/1.jpg", a.data, a.size, F_FILE}, {"alien/2.jpg", a.data, a.size, F_FILE}};
    path = join(dir, "one.zip");
    write_archive(path, FMT_ZIP, one, 2);
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 2);
    expect(&g, 1, "alien/2.jpg", "alien", NULL);
    got_free(&g);
    blob_free(&a);
}
END_TEST

START_TEST(folders_directory)
{
    char dir[512], sub[600];
    ck_test_tmpdir(dir, sizeof dir);
    blob a = make_image(8, 8, 1, 0), p = make_image(8, 8, 2, 0);
    snprintf(sub, sizeof sub, "%s/root", dir);
    ck_assert(mkdir(sub, 0755) == 0);
    ck_assert(mkdir(join(sub, "predator"), 0755) == 0);
    ck_assert(mkdir(join(sub, "alien"), 0755) == 0);
    ck_assert(mkdir(join(sub, ".git"), 0755) == 0);
    write_file(join(sub, ".git/config"), "x", 1);
    write_file(join(sub, "predator/b.jpg"), p.data, p.size);
    write_file(join(sub, "predator/a.jpg"), p.data, p.size);
    write_file(join(sub, "alien/Thumbs.db"), "t", 1);
    write_file(join(sub, "alien/Z.jpg"), a.data, a.size);
    write_file(join(sub, "alien/.hidden.jpg"), a.data, a.size);
    ck_assert(symlink("/etc/passwd", join(sub, "alien/passwd.jpg")) == 0);
    ck_assert(symlink("..", join(sub, "predator/up")) == 0);
    ck_assert(mkfifo(join(sub, "alien/fifo.jpg"), 0644) == 0);
    got g;
    read_all(&g, dir, DS_LAYOUT_AUTO, NULL); /* root/ is the common leading folder */
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_FOLDERS);
    ck_assert_int_eq(g.n, 7);
    /* Byte-wise sorted: upper case before lower case. */
    expect(&g, 0, "root/alien/Thumbs.db", "alien", NULL);
    expect_ok(&g, 1, "root/alien/Z.jpg", "alien", NULL, &a);
    expect_reject(&g, 2, "root/alien/fifo.jpg", "device or special file");
    expect_reject(&g, 3, "root/alien/passwd.jpg", "symbolic link");
    expect_ok(&g, 4, "root/predator/a.jpg", "predator", NULL, &p);
    expect_ok(&g, 5, "root/predator/b.jpg", "predator", NULL, &p);
    expect_reject(&g, 6, "root/predator/up", "symbolic link");

    /* Deterministic: same entries and hash; the hash follows the bytes. */
    got g2;
    read_all(&g2, dir, DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g2.n, g.n);
    for (int i = 0; i < g.n; i++) {
        ck_assert_str_eq(g2.e[i]->name, g.e[i]->name);
    }
    ck_assert_str_eq(g2.hash, g.hash);
    got_free(&g2);
    write_file(join(sub, "alien/Thumbs.db"), "u", 1);
    read_all(&g2, dir, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g2.rc == 0, "%s", g2.err);
    ck_assert_str_ne(g2.hash, g.hash);
    got_free(&g2);

    /* Oversize files are rejected without being read. */
    ds_limits lim = ds_limits_default();
    lim.max_entry_bytes = 2;
    read_all(&g2, sub, DS_LAYOUT_FOLDERS, &lim);
    ck_assert_msg(g2.rc == 0, "%s", g2.err);
    expect(&g2, 0, "alien/Thumbs.db", "alien", NULL);
    ck_assert_ptr_null(g2.e[0]->reject);
    expect_reject(&g2, 1, "alien/Z.jpg", "larger than the entry size limit");
    got_free(&g2);
    got_free(&g);
    blob_free(&a);
    blob_free(&p);
}
END_TEST

START_TEST(oversize_archive_entry)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    static uint8_t big[5000];
    memset(big, 7, sizeof big);
    fent inner[] = {{"train/cat.1.jpg", big, sizeof big, F_FILE}};
    blob z = zip_bytes(inner, 1);
    blob zs = zip_sizes_at_end("train/dog.2.jpg", big, sizeof big);
    blob zsmall = zip_sizes_at_end("train/dog.3.jpg", big, 100);
    fent e[] = {{"c/big.jpg", big, sizeof big, F_FILE},
                {"c/small.jpg", big, 10, F_FILE},
                {"train.zip", z.data, z.size, F_FILE},
                {"more.zip", zs.data, zs.size, F_FILE},
                {"small.zip", zsmall.data, zsmall.size, F_FILE}};
    const char *path = join(dir, "big.zip");
    write_archive(path, FMT_ZIP, e, 5);
    ds_limits lim = ds_limits_default();
    lim.max_entry_bytes = 100;
    got g;
    read_all(&g, path, DS_LAYOUT_KAGGLE, &lim);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 5);
    expect_reject(&g, 0, "c/big.jpg", "larger than the entry size limit (5000 > 100 bytes)");
    ck_assert_uint_eq(g.e[1]->size, 10);
    expect_reject(&g, 2, "train.zip:train/cat.1.jpg", "larger than the entry size limit");
    /* Streamed from inside a zip, the size may be unknown until read: at
     * most the limit is held, then the entry is refused. */
    expect_reject(&g, 3, "more.zip:train/dog.2.jpg", "limit (more than 100 bytes)");
    expect(&g, 4, "small.zip:train/dog.3.jpg", "dog", "train");
    ck_assert_uint_eq(g.e[4]->size, 100);
    ck_assert(memcmp(g.e[4]->data, big, 100) == 0);
    got_free(&g);
    free(z.data);
    free(zs.data);
    free(zsmall.data);
}
END_TEST

START_TEST(corrupt_archives)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    static uint8_t noise[20000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (uint8_t)(x >> 24);
    }
    fent e[] = {{"a/1.jpg", noise, sizeof noise, F_FILE}, {"b/2.jpg", noise, sizeof noise, F_FILE}};
    const char *path = join(dir, "cut.zip");
    write_archive(path, FMT_ZIP, e, 2);
    truncate_file(path, 15000);
    got g;
    read_all(&g, path, DS_LAYOUT_FOLDERS, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    expect_stopped(&g, "cut.zip");
    got_free(&g);

    /* A tar.gz cut short: at open when the first 64 KiB cannot be
     * inflated, else at the entry where the data stops, which is recorded
     * and ends the archive (what came before is kept). */
    path = join(dir, "cut.tar.gz");
    write_archive(path, FMT_TGZ, e, 2);
    truncate_file(path, 15000);
    read_all(&g, path, DS_LAYOUT_FOLDERS, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "cut.tar.gz: open: not a zip or tar archive: truncated gzip"), "%s",
                  g.err);
    static uint8_t more[200000];
    for (size_t i = 0; i < sizeof more; i++) {
        x = x * 1103515245u + 12345u;
        more[i] = (uint8_t)(x >> 24);
    }
    fent big[] = {{"a/1.jpg", more, sizeof more, F_FILE}, {"b/2.jpg", noise, sizeof noise, F_FILE}};
    write_archive(path, FMT_TGZ, big, 2);
    truncate_file(path, 150000);
    read_all(&g, path, DS_LAYOUT_FOLDERS, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 1);
    expect_stopped(&g, "cut.tar.gz");
    ck_assert_msg(strstr(g.e[0]->reject, "runcated"), "%s", g.e[0]->reject);
    ck_assert_str_eq(g.e[0]->name, "a/1.jpg");
    got_free(&g);

    /* A truncated train.zip inside a sound outer zip: the outer one goes on. */
    blob img = make_image(8, 8, 1, 0);
    fent inner[] = {{"train/cat.1.jpg", noise, sizeof noise, F_FILE},
                    {"train/cat.2.jpg", noise, sizeof noise, F_FILE}};
    blob z = zip_bytes(inner, 2);
    fent outer[] = {{"train.zip", z.data, 25000, F_FILE},
                    {"train/dog.1.jpg", img.data, img.size, F_FILE}};
    path = join(dir, "dogs-vs-cats.zip");
    write_archive(path, FMT_ZIP, outer, 2);
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 3);
    expect(&g, 0, "train.zip:train/cat.1.jpg", "cat", "train");
    ck_assert_msg(g.e[1]->stopped && strncmp(g.e[1]->name, "train.zip:", 10) == 0, "%s",
                  g.e[1]->name);
    ck_assert_msg(strstr(g.e[1]->reject, "dogs-vs-cats.zip:train.zip was not read"), "%s",
                  g.e[1]->reject);
    expect(&g, 2, "train/dog.1.jpg", "dog", "train");
    got_free(&g);
    free(z.data);
    blob_free(&img);

    /* Not a dataset at all. */
    path = join(dir, "notes.txt");
    write_file(path, "hello", 5);
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "notes.txt: open: "), "%s", g.err);
    read_all(&g, join(dir, "missing.zip"), DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EIO);
    ck_assert_msg(strstr(g.err, "missing.zip: open: "), "%s", g.err);
}
END_TEST

/* ---- IDX --------------------------------------------------------------- */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* n images of 3x2 (pixel value 10*i + k) and labels i % 10. */
static void write_idx(const char *dir, const char *prefix, int n, int gz, int extra_labels)
{
    char ip[700], lp[700];
    const char *ext = gz ? ".gz" : "";
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte%s", dir, prefix, ext);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte%s", dir, prefix, ext);
    size_t isz = 16 + (size_t)n * 6, lsz = 8 + (size_t)n;
    uint8_t *im = malloc(isz), *lb = malloc(lsz);
    be32(im, 0x803);
    be32(im + 4, (uint32_t)n);
    be32(im + 8, 2);
    be32(im + 12, 3);
    be32(lb, 0x801);
    be32(lb + 4, (uint32_t)(n + extra_labels));
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 6; k++) {
            im[16 + 6 * i + k] = (uint8_t)(10 * i + k);
        }
        lb[8 + i] = (uint8_t)(i % 10);
    }
    if (gz) {
        gzFile f = gzopen(ip, "wb");
        ck_assert(gzwrite(f, im, (unsigned)isz) == (int)isz);
        gzclose(f);
        f = gzopen(lp, "wb");
        ck_assert(gzwrite(f, lb, (unsigned)lsz) == (int)lsz);
        gzclose(f);
    } else {
        write_file(ip, im, isz);
        write_file(lp, lb, lsz);
    }
    free(im);
    free(lb);
}

START_TEST(idx_raw_and_gz)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    write_idx(dir, "train", 12, 0, 0);
    write_idx(dir, "t10k", 5, 1, 0);
    got g;
    read_all(&g, join(dir, "train-images-idx3-ubyte"), DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_IDX);
    ck_assert_int_eq(g.n, 12);
    for (int i = 0; i < 12; i++) {
        char name[64], label[8];
        snprintf(name, sizeof name, "train-images-idx3-ubyte#%d", i);
        snprintf(label, sizeof label, "%d", i % 10);
        expect(&g, i, name, label, "train");
        const ds_entry *e = g.e[i];
        ck_assert_int_eq(e->kind, DS_ENTRY_RAW);
        ck_assert_int_eq(e->width, 3);
        ck_assert_int_eq(e->height, 2);
        ck_assert_int_eq(e->bands, 1);
        ck_assert_uint_eq(e->size, 6);
        ck_assert_int_eq(e->data[5], (uint8_t)(10 * i + 5));
    }
    char first[33];
    memcpy(first, g.hash, sizeof first);
    got_free(&g);
    read_all(&g, join(dir, "t10k-images-idx3-ubyte.gz"), DS_LAYOUT_IDX, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 5);
    expect(&g, 4, "t10k-images-idx3-ubyte.gz#4", "4", "test");
    ck_assert_int_eq(g.e[4]->data[0], 40);
    ck_assert_str_ne(g.hash, first);
    got_free(&g);

    /* The labels file is not a source. */
    read_all(&g, join(dir, "t10k-labels-idx1-ubyte.gz"), DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "labels file"), "%s", g.err);
}
END_TEST

START_TEST(idx_corrupt)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    got g;
    /* Raw: the header disagrees with the file size. */
    write_idx(dir, "train", 4, 0, 0);
    const char *ip = join(dir, "train-images-idx3-ubyte");
    truncate_file(ip, 16 + 4 * 6 - 1);
    read_all(&g, ip, DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "train-images-idx3-ubyte: header: 4 images of 2x3 need 40 bytes, "
                                "the file has 39"),
                  "%s", g.err);
    /* Gzip'd: found when the data ends (one byte short). */
    write_idx(dir, "gz", 4, 1, 0);
    ip = join(dir, "gz-images-idx3-ubyte.gz");
    uint8_t raw[16 + 23];
    be32(raw, 0x803);
    be32(raw + 4, 4);
    be32(raw + 8, 2);
    be32(raw + 12, 3);
    memset(raw + 16, 1, 23);
    gzFile f = gzopen(ip, "wb");
    ck_assert(gzwrite(f, raw, sizeof raw) == (int)sizeof raw);
    gzclose(f);
    read_all(&g, ip, DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "gz-images-idx3-ubyte.gz: header: 4 images, the data ends in "
                                "image 3"),
                  "%s", g.err);
    ck_assert_int_eq(g.n, 3);
    got_free(&g);
    /* A header whose sizes overflow is refused at open. */
    be32(raw + 4, 16);
    be32(raw + 8, 0x7FFFFFFF);
    be32(raw + 12, 0x7FFFFFFF);
    f = gzopen(ip, "wb");
    ck_assert(gzwrite(f, raw, sizeof raw) == (int)sizeof raw);
    gzclose(f);
    read_all(&g, ip, DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "gz-images-idx3-ubyte.gz: header: 16 images of "
                                "2147483647x2147483647 pixels"),
                  "%s", g.err);
    /* Label count differs from image count. */
    write_idx(dir, "more", 4, 0, 1);
    read_all(&g, join(dir, "more-images-idx3-ubyte"), DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "more-labels-idx1-ubyte: header: 5 labels for 4 images"), "%s",
                  g.err);
    /* No labels beside it. */
    write_idx(dir, "lone", 2, 0, 0);
    ck_assert(unlink(join(dir, "lone-labels-idx1-ubyte")) == 0);
    read_all(&g, join(dir, "lone-images-idx3-ubyte"), DS_LAYOUT_AUTO, NULL);
    ck_assert_int_eq(g.rc, CK_EIO);
    ck_assert_msg(strstr(g.err, "lone-images-idx3-ubyte: labels: no labels file"), "%s", g.err);
}
END_TEST

/* ---- hostile and damaged archives --------------------------------------- */

static size_t find_bytes(const uint8_t *p, size_t n, const char *what, size_t wn, int last)
{
    size_t at = n;
    for (size_t i = 0; i + wn <= n; i++) {
        if (memcmp(p + i, what, wn) == 0) {
            at = i;
            if (!last) {
                break;
            }
        }
    }
    ck_assert_uint_lt(at, n);
    return at;
}

START_TEST(names_are_bytes)
{
    /* The test process never calls setlocale: the C locale, in which
     * libarchive could not convert a zip's UTF-8 names. */
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob img = make_image(8, 8, 50, 0);
    const char *path = join(dir, "names.zip");
    struct archive *a = writer(FMT_ZIP);
    ck_assert(archive_write_set_options(a, "hdrcharset=UTF-8") == ARCHIVE_OK);
    ck_assert(archive_write_open_filename(a, path) == ARCHIVE_OK);
    const char *names[] = {"\xE7\x8C\xAB/1.jpg", "caf\xC3\xA9/2.jpg"};
    for (int i = 0; i < 2; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_update_pathname_utf8(ae, names[i]);
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, 0644);
        archive_entry_set_size(ae, (la_int64_t)img.size);
        ck_assert_msg(archive_write_header(a, ae) == ARCHIVE_OK, "%s", archive_error_string(a));
        ck_assert(archive_write_data(a, img.data, img.size) == (la_ssize_t)img.size);
        archive_entry_free(ae);
    }
    ck_assert(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 2);
    expect(&g, 0, names[0], "\xE7\x8C\xAB", NULL);
    expect(&g, 1, names[1], "caf\xC3\xA9", NULL);
    got_free(&g);

    /* Bytes that are not UTF-8 and control characters: kept, escaped. */
    path = join(dir, "bytes.tar");
    fent e[] = {{"a/x\xFF.jpg", img.data, img.size, F_FILE},
                {"a/c\x01.jpg", img.data, img.size, F_FILE},
                {"train/.", img.data, img.size, F_FILE},
                {"b/ok.jpg", img.data, img.size, F_FILE}};
    write_archive(path, FMT_TAR, e, 4);
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 4);
    expect(&g, 0, "a/x\\xFF.jpg", "a", NULL);
    expect(&g, 1, "a/c\\x01.jpg", "a", NULL);
    expect_reject(&g, 2, "train/.", "unsafe name (no file name: ends in '/' or '/.')");
    expect(&g, 3, "b/ok.jpg", "b", NULL);
    got_free(&g);
    blob_free(&img);
}
END_TEST

START_TEST(refused_names_do_not_vote)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob img = make_image(8, 8, 50, 0);
    static char longname[5000];
    for (size_t i = 0; i + 2 < sizeof longname; i += 2) {
        memcpy(longname + i, "d/", 2);
    }
    memcpy(longname + sizeof longname - 8, "x.jpg", 6);
    fent e[] = {{"train/cat.1001.jpg", img.data, img.size, F_FILE},
                {"train/dog.1001.jpg", img.data, img.size, F_FILE},
                {"../evil/x.jpg", img.data, img.size, F_FILE},
                {"/abs/y.jpg", img.data, img.size, F_FILE},
                {longname, img.data, img.size, F_FILE}};
    const char *path = join(dir, "train.tar");
    write_archive(path, FMT_TAR, e, 5);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_KAGGLE);
    expect(&g, 0, "train/cat.1001.jpg", "cat", "train");
    expect(&g, 1, "train/dog.1001.jpg", "dog", "train");
    expect_reject(&g, 2, "../evil/x.jpg", "unsafe name ('..' component)");
    expect_reject(&g, 3, "/abs/y.jpg", "unsafe name (absolute path)");
    ck_assert_str_eq(g.e[4]->reject, "unsafe name (longer than 4096 bytes)");
    got_free(&g);
    blob_free(&img);
}
END_TEST

START_TEST(damage_is_recorded)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    blob img = make_image(8, 8, 50, 0);
    fent e[] = {{"cat/1.jpg", img.data, img.size, F_FILE},
                {"cat/2.jpg", img.data, img.size, F_FILE},
                {"dog/1.jpg", img.data, img.size, F_FILE}};
    /* A tar whose second header fails its checksum. */
    const char *path = join(dir, "sum.tar");
    write_archive(path, FMT_TAR, e, 3);
    blob f = read_file(path);
    uint8_t *p = f.data;
    size_t n = f.size;
    size_t second = 512 + (img.size + 511) / 512 * 512;
    p[second + 148] ^= 1;
    write_file(path, p, n);
    free(p);
    got g;
    read_all(&g, path, DS_LAYOUT_FOLDERS, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 3);
    expect(&g, 0, "cat/1.jpg", "cat", NULL);
    char name[64];
    snprintf(name, sizeof name, "(damaged header at byte %zu)", second);
    ck_assert_str_eq(g.e[1]->name, name);
    ck_assert_msg(g.e[1]->reject && strstr(g.e[1]->reject, "Damaged tar archive"), "%s",
                  g.e[1]->reject);
    expect(&g, 2, "dog/1.jpg", "dog", NULL);
    got_free(&g);

    /* A zip whose central directory is garbage: read by its local headers. */
    path = join(dir, "cd.zip");
    write_archive(path, FMT_ZIP, e, 3);
    f = read_file(path);
    p = f.data;
    n = f.size;
    size_t from = find_bytes(p, n, "PK\x01\x02", 4, 0), to = find_bytes(p, n, "PK\x05\x06", 4, 1);
    memset(p + from, 'Z', to - from);
    write_file(path, p, n);
    free(p);
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 4);
    expect_reject(&g, 0, "(central directory)", "central directory: 0 of 3 entries listed");
    expect(&g, 1, "cat/1.jpg", "cat", NULL);
    expect(&g, 2, "cat/2.jpg", "cat", NULL);
    expect(&g, 3, "dog/1.jpg", "dog", NULL);
    got_free(&g);
    blob_free(&img);
}
END_TEST

START_TEST(idx_limits_and_gzip_damage)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    got g;
    /* A header declaring more than the dataset limit: refused at open. */
    write_idx(dir, "bomb", 4, 1, 0);
    ds_limits lim = ds_limits_default();
    lim.max_total_bytes = 20;
    read_all(&g, join(dir, "bomb-images-idx3-ubyte.gz"), DS_LAYOUT_AUTO, &lim);
    ck_assert_int_eq(g.rc, CK_ELIMIT);
    ck_assert_msg(strstr(g.err, "bomb-images-idx3-ubyte.gz: header: 4 images of 2x3 (24 bytes) "
                                "exceed the dataset limit"),
                  "%s", g.err);
    lim = ds_limits_default();
    lim.max_entries = 3;
    read_all(&g, join(dir, "bomb-images-idx3-ubyte.gz"), DS_LAYOUT_AUTO, &lim);
    ck_assert_int_eq(g.rc, CK_ELIMIT);
    lim.max_entries = 4;
    read_all(&g, join(dir, "bomb-images-idx3-ubyte.gz"), DS_LAYOUT_AUTO, &lim);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    got_free(&g);

    /* Gzip damage is named: a bad CRC, a size mismatch, a cut file. */
    write_idx(dir, "dmg", 40, 1, 0);
    const char *ip = join(dir, "dmg-images-idx3-ubyte.gz");
    blob gf = read_file(ip);
    uint8_t *good = gf.data;
    size_t n = gf.size;
    const struct {
        size_t at, keep;
        const char *why;
    } cases[] = {{n - 8, n, "gzip: bad CRC"},
                 {n - 4, n, "gzip: size mismatch"},
                 {0, n - 20, "gzip: truncated"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *p = malloc(n);
        memcpy(p, good, n);
        if (cases[i].keep == n) {
            p[cases[i].at] ^= 1;
        }
        write_file(ip, p, cases[i].keep);
        free(p);
        read_all(&g, ip, DS_LAYOUT_AUTO, NULL);
        ck_assert_int_eq(g.rc, CK_EFORMAT);
        ck_assert_msg(strstr(g.err, cases[i].why) && strstr(g.err, "dmg-images-idx3-ubyte.gz"),
                      "%s", g.err);
        got_free(&g);
    }
    free(good);
}
END_TEST

START_TEST(digits_in_directory)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    write_idx(dir, "train", 3, 1, 0);
    write_idx(dir, "t10k", 2, 0, 0);
    got g;
    read_all(&g, dir, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 5);
    expect(&g, 0, "t10k-images-idx3-ubyte#0", "0", "test");
    expect(&g, 1, "t10k-images-idx3-ubyte#1", "1", "test");
    expect(&g, 2, "train-images-idx3-ubyte.gz#0", "0", "train");
    expect(&g, 4, "train-images-idx3-ubyte.gz#2", "2", "train");
    ck_assert_int_eq(g.e[4]->kind, DS_ENTRY_RAW);
    char h1[33];
    memcpy(h1, g.hash, sizeof h1);
    got_free(&g);
    read_all(&g, dir, DS_LAYOUT_AUTO, NULL);
    ck_assert_str_eq(g.hash, h1);
    got_free(&g);

    /* The same pair in a zip (labels first), and an images file alone. */
    blob im = read_file(join(dir, "train-images-idx3-ubyte.gz"));
    blob lb = read_file(join(dir, "train-labels-idx1-ubyte.gz"));
    blob lone = read_file(join(dir, "t10k-images-idx3-ubyte"));
    fent e[] = {{"d/train-labels-idx1-ubyte.gz", lb.data, lb.size, F_FILE},
                {"d/train-images-idx3-ubyte.gz", im.data, im.size, F_FILE},
                {"t10k-images-idx3-ubyte", lone.data, lone.size, F_FILE}};
    const char *zp = join(dir, "digits.zip");
    write_archive(zp, FMT_ZIP, e, 3);
    read_all(&g, zp, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.n, 4);
    expect(&g, 0, "d/train-images-idx3-ubyte.gz#0", "0", "train");
    expect(&g, 2, "d/train-images-idx3-ubyte.gz#2", "2", "train");
    expect_reject(&g, 3, "t10k-images-idx3-ubyte",
                  "IDX images without their labels file: no entry t10k-labels-idx1-ubyte");
    got_free(&g);
    free(im.data);
    free(lb.data);
    free(lone.data);
}
END_TEST

/* ---- HODA -------------------------------------------------------------- */

typedef struct cdb {
    uint8_t *p;
    size_t n, cap;
} cdb;

static void put(cdb *c, const void *d, size_t n)
{
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->p = realloc(c->p, c->cap);
    }
    memcpy(c->p + c->n, d, n);
    c->n += n;
}

/* A .cdb with a header for `total` records and per-class counts. */
static void cdb_header(cdb *c, uint32_t total, const uint32_t counts[10])
{
    uint8_t h[1024] = {0};
    h[0] = 0xd5, h[1] = 0x07, h[2] = 9, h[3] = 6;
    for (int k = 0; k < 4; k++) {
        h[6 + k] = (uint8_t)(total >> (8 * k));
    }
    for (int d = 0; d < 10; d++) {
        for (int k = 0; k < 4; k++) {
            h[10 + 4 * d + k] = (uint8_t)(counts[d] >> (8 * k));
        }
    }
    put(c, h, sizeof h);
}

static void cdb_record(cdb *c, int label, int w, int h, const uint8_t *runs, size_t n)
{
    uint8_t r[6] = {0xFF, (uint8_t)label, (uint8_t)w, (uint8_t)h, (uint8_t)n, (uint8_t)(n >> 8)};
    put(c, r, 6);
    put(c, runs, n);
}

START_TEST(hoda_records)
{
    char dir[512];
    ck_test_tmpdir(dir, sizeof dir);
    cdb c = {0};
    uint32_t counts[10] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 1};
    cdb_header(&c, 3, counts);
    /* 4x2: row 0 = bg 1, ink 2, bg 1; row 1 = bg 0, ink 4. */
    const uint8_t r0[] = {1, 2, 1, 0, 4};
    cdb_record(&c, 7, 4, 2, r0, sizeof r0);
    /* 3x1 with runs that overshoot the row: rejected, framing intact. */
    const uint8_t r1[] = {2, 2};
    cdb_record(&c, 3, 3, 1, r1, sizeof r1);
    const uint8_t r2[] = {1, 1};
    cdb_record(&c, 9, 2, 1, r2, sizeof r2);
    const char *path = join(dir, "Digits.cdb");
    write_file(path, c.p, c.n);
    got g;
    read_all(&g, path, DS_LAYOUT_AUTO, NULL);
    ck_assert_msg(g.rc == 0, "%s", g.err);
    ck_assert_int_eq(g.layout, DS_LAYOUT_HODA);
    ck_assert_int_eq(g.n, 3);
    expect(&g, 0, "Digits.cdb#0", "7", NULL);
    const ds_entry *e = g.e[0];
    ck_assert_int_eq(e->kind, DS_ENTRY_RAW);
    ck_assert_int_eq(e->width, 4);
    ck_assert_int_eq(e->height, 2);
    ck_assert_int_eq(e->bands, 1);
    const uint8_t want[8] = {0, 255, 255, 0, 255, 255, 255, 255};
    ck_assert_uint_eq(e->size, 8);
    ck_assert(memcmp(e->data, want, 8) == 0);
    expect_reject(&g, 1, "Digits.cdb#1", "past the end of its row");
    expect(&g, 2, "Digits.cdb#2", "9", NULL);
    ck_assert_int_eq(g.e[2]->data[1], 255);
    got_free(&g);

    /* A record that runs past the end of the file. */
    write_file(path, c.p, c.n - 1);
    read_all(&g, path, DS_LAYOUT_HODA, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "Digits.cdb: record 2: runs past the end of the file"), "%s",
                  g.err);
    ck_assert_int_eq(g.n, 2);
    got_free(&g);
    /* A header promising more records than there are. */
    uint8_t save = c.p[6];
    c.p[6] = 4;
    write_file(path, c.p, c.n);
    read_all(&g, path, DS_LAYOUT_HODA, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "Digits.cdb: record 3: runs past the end"), "%s", g.err);
    got_free(&g);
    c.p[6] = save;
    /* A broken record start. */
    c.p[1024 + 6 + sizeof r0] = 0x12;
    write_file(path, c.p, c.n);
    read_all(&g, path, DS_LAYOUT_HODA, NULL);
    ck_assert_int_eq(g.rc, CK_EFORMAT);
    ck_assert_msg(strstr(g.err, "Digits.cdb: record 1: starts with 0x12"), "%s", g.err);
    got_free(&g);
    free(c.p);
}
END_TEST

static Suite *source_suite(void)
{
    Suite *s = suite_create("ds_source");
    TCase *t = tcase_create("layouts");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, layout_names_and_limits);
    tcase_add_test(t, kaggle_nested_zip);
    tcase_add_test(t, kaggle_directory);
    tcase_add_test(t, kaggle_nesting_limit);
    tcase_add_test(t, kaggle_train_zip_alone);
    tcase_add_test(t, fastai_layout);
    tcase_add_test(t, petimages_layout);
    tcase_add_test(t, folders_archives);
    tcase_add_test(t, folders_splits_and_names);
    tcase_add_test(t, folders_directory);
    tcase_add_test(t, oversize_archive_entry);
    tcase_add_test(t, corrupt_archives);
    tcase_add_test(t, idx_raw_and_gz);
    tcase_add_test(t, idx_corrupt);
    tcase_add_test(t, hoda_records);
    tcase_add_test(t, names_are_bytes);
    tcase_add_test(t, refused_names_do_not_vote);
    tcase_add_test(t, damage_is_recorded);
    tcase_add_test(t, idx_limits_and_gzip_damage);
    tcase_add_test(t, digits_in_directory);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return ck_test_run(source_suite());
}
