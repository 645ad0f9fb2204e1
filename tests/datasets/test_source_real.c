/* test_source_real.c: the source readers on the real data sets.
 *
 * HODA (22,352 digits: per-class counts must match the file's own header,
 * parsed here independently), alien-vs-predator (694 photos, 347 per
 * class, read as a folder tree at two depths) and Fashion-MNIST from the
 * Debian package (60,000 + 10,000 with the labels of the label files, read
 * here with zlib). Shared data absent: skipped with a notice (a failure
 * when CONVKIT_REQUIRE_SHARED=1); Fashion-MNIST absent: skipped.
 */
#include <sys/stat.h>
#include <zlib.h>

#include "ck_test.h"
#include "ds.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

START_TEST(hoda_counts_match_header)
{
    char path[1024];
    if (!ck_test_data("hoda/RemainingSamples.cdb", path, sizeof path)) {
        return;
    }
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t h[1024];
    ck_assert_uint_eq(fread(h, 1, sizeof h, f), sizeof h);
    fclose(f);
    uint32_t total =
        (uint32_t)h[6] | (uint32_t)h[7] << 8 | (uint32_t)h[8] << 16 | (uint32_t)h[9] << 24;
    ck_assert_uint_eq(total, 22352);
    int64_t want[10], got[10] = {0};
    for (int d = 0; d < 10; d++) {
        const uint8_t *p = h + 10 + 4 * d;
        want[d] = (int64_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
    }
    char err[512];
    ds_source *s;
    ck_assert_msg(ds_source_open(&s, path, DS_LAYOUT_AUTO, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds_source_layout(s), DS_LAYOUT_HODA);
    ds_entry *e;
    int rc;
    int64_t n = 0;
    while ((rc = ds_source_next(s, &e, err, sizeof err)) == 1) {
        if (e->reject || e->kind != DS_ENTRY_RAW || e->bands != 1 || e->split ||
            e->size != (size_t)e->width * (size_t)e->height) {
            ck_abort_msg("%s: not a plain raw digit", e->name);
        }
        /* Plain loops: each Check assertion costs a write to a pipe. */
        size_t ink = 0, other = 0;
        for (size_t i = 0; i < e->size; i++) {
            ink += e->data[i] == 255;
            other += e->data[i] != 0 && e->data[i] != 255;
        }
        int d = atoi(e->label);
        if (ink == 0 || other != 0 || d < 0 || d > 9) {
            ck_abort_msg("%s: label %s, %zu ink, %zu other pixels", e->name, e->label, ink, other);
        }
        got[d]++;
        n++;
        ds_entry_free(e);
    }
    ck_assert_msg(rc == 0, "%s", err);
    ds_source_close(s);
    ck_assert_int_eq(n, total);
    for (int d = 0; d < 10; d++) {
        ck_assert_msg(got[d] == want[d], "digit %d: %lld read, header says %lld", d,
                      (long long)got[d], (long long)want[d]);
    }
}
END_TEST

/* Reads a folder tree; counts per label; every split must be want_split. */
static void count_avp(const char *path, const char *want_split, int64_t *alien, int64_t *predator)
{
    char err[512];
    ds_source *s;
    ck_assert_msg(ds_source_open(&s, path, DS_LAYOUT_AUTO, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds_source_layout(s), DS_LAYOUT_FOLDERS);
    ds_entry *e;
    int rc;
    *alien = *predator = 0;
    while ((rc = ds_source_next(s, &e, err, sizeof err)) == 1) {
        ck_assert_msg(e->reject == NULL, "%s: %s", e->name, e->reject);
        ck_assert_ptr_nonnull(e->label);
        ck_assert_msg((want_split == NULL && e->split == NULL) ||
                          (want_split && e->split && strcmp(e->split, want_split) == 0),
                      "%s: split %s", e->name, e->split ? e->split : "-");
        /* The bytes of the file as stored (one of them is a PNG named .jpg). */
        char file[1024];
        struct stat st;
        snprintf(file, sizeof file, "%s/%s", path, e->name);
        ck_assert_int_eq(stat(file, &st), 0);
        ck_assert_uint_eq(e->size, (size_t)st.st_size);
        /* The class folder is in the name, right where the label says. */
        char folder[64];
        snprintf(folder, sizeof folder, "%s/", e->label);
        ck_assert_msg(strstr(e->name, folder), "%s labelled %s", e->name, e->label);
        if (strcmp(e->label, "alien") == 0) {
            (*alien)++;
        } else {
            ck_assert_str_eq(e->label, "predator");
            (*predator)++;
        }
        ds_entry_free(e);
    }
    ck_assert_msg(rc == 0, "%s", err);
    ds_source_close(s);
}

START_TEST(alien_vs_predator_labels)
{
    char path[1024];
    if (!ck_test_data("alien-vs-predator/train", path, sizeof path)) {
        return;
    }
    int64_t a, p;
    count_avp(path, NULL, &a, &p);
    ck_assert_int_eq(a, 347);
    ck_assert_int_eq(p, 347);
    /* One level up, train/ is a split folder. */
    ck_test_data("alien-vs-predator", path, sizeof path);
    count_avp(path, "train", &a, &p);
    ck_assert_int_eq(a, 347);
    ck_assert_int_eq(p, 347);
}
END_TEST

/* Reads an IDX pair and compares every label with the labels file. */
static void check_fashion(const char *prefix, const char *split, int64_t count)
{
    char ipath[256], lpath[256], err[512];
    snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", FASHION_DIR, prefix);
    snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", FASHION_DIR, prefix);
    gzFile lf = gzopen(lpath, "rb");
    ck_assert_ptr_nonnull(lf);
    uint8_t hdr[8];
    ck_assert_int_eq(gzread(lf, hdr, 8), 8);
    uint8_t *labels = malloc((size_t)count);
    ck_assert_int_eq(gzread(lf, labels, (unsigned)count), count);
    gzclose(lf);

    ds_source *s;
    ck_assert_msg(ds_source_open(&s, ipath, DS_LAYOUT_AUTO, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds_source_layout(s), DS_LAYOUT_IDX);
    ds_entry *e;
    int rc;
    int64_t n = 0;
    while ((rc = ds_source_next(s, &e, err, sizeof err)) == 1) {
        if (n >= count || e->ordinal != n || e->kind != DS_ENTRY_RAW || e->width != 28 ||
            e->height != 28 || e->size != 784 || strcmp(e->split, split) != 0 ||
            atoi(e->label) != labels[n]) {
            ck_abort_msg("%s: label %s (file says %d), %dx%d, split %s", e->name, e->label,
                         n < count ? labels[n] : -1, e->width, e->height, e->split);
        }
        n++;
        ds_entry_free(e);
    }
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(n, count);
    ds_source_close(s);
    free(labels);
}

START_TEST(fashion_mnist_counts_and_labels)
{
    struct stat st;
    if (stat(FASHION_DIR, &st) != 0) {
        fprintf(stderr, "note: %s missing (package dataset-fashion-mnist), test skipped\n",
                FASHION_DIR);
        return;
    }
    check_fashion("train", "train", 60000);
    check_fashion("t10k", "test", 10000);
}
END_TEST

static Suite *real_suite(void)
{
    Suite *s = suite_create("ds_source_real");
    TCase *t = tcase_create("real");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, hoda_counts_match_header);
    tcase_add_test(t, alien_vs_predator_labels);
    tcase_add_test(t, fashion_mnist_counts_and_labels);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return ck_test_run(real_suite());
}
