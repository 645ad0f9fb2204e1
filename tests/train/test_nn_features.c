/* test_nn_features.c: features.db written and read back: shapes, labels,
 * order, per-epoch shuffles keyed by (seed, epoch), atomic writes, and the
 * errors of files that are not features.db. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nn_internal.h"
#include "nn_test_util.h"

enum { H = 2, W = 3, C = 4, SIZE = H * W * C, NTRAIN = 7 };

/* Sample i's features: i in every float, so order shows in the values. */
static void fill(float *x, int i)
{
    for (int k = 0; k < SIZE; k++) {
        x[k] = (float)i + (float)k / 100.0f;
    }
}

static void write_db(const char *path)
{
    char err[256] = "";
    nn_features *f;
    ck_assert_msg(
        nn_features_create(&f, path, H, W, C, "{\"classes\":[\"a\",\"b\"]}", err, sizeof err) == 0,
        "%s", err);
    float x[SIZE];
    for (int i = 0; i < NTRAIN; i++) {
        fill(x, i);
        ck_assert_int_eq(nn_features_add(f, "train", i, 100 + i, i % 2, x, err, sizeof err), 0);
    }
    fill(x, 50);
    ck_assert_int_eq(nn_features_add(f, "validation", 0, 200, 1, x, err, sizeof err), 0);
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing in place before commit */
    ck_assert_msg(nn_features_commit(f, err, sizeof err) == 0, "%s", err);
}

/* The epoch's samples, as the first float of each (the sample index). */
static void epoch_order(nn_features_src *s, int epoch, int *order)
{
    char err[256];
    const nn_source *src = nn_features_source(s);
    ck_assert_int_eq(src->begin(src->ctx, epoch, err, sizeof err), 0);
    int n = 0;
    nn_batch b;
    while (src->next(src->ctx, &b, err, sizeof err) == 0 && b.n > 0) {
        ck_assert_int_le(b.n, 3);
        for (int i = 0; i < b.n; i++, n++) {
            order[n] = (int)b.x[i * SIZE];
            ck_assert_int_eq(b.labels[i], order[n] % 2);
            nt_assert_near(b.x[i * SIZE + SIZE - 1], order[n] + (SIZE - 1) / 100.0, 1e-6);
        }
    }
    ck_assert_int_eq(n, NTRAIN);
}

START_TEST(round_trip_and_shuffles)
{
    char dir[256], path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/f.db", ck_test_tmpdir(dir, sizeof dir));
    write_db(path);
    nn_features_src *s;
    ck_assert_msg(nn_features_open(&s, path, "train", 3, 0, 0, err, sizeof err) == 0, "%s", err);
    int h, w, c;
    nn_features_shape(s, &h, &w, &c);
    ck_assert(h == H && w == W && c == C);
    ck_assert_ptr_nonnull(strstr(nn_features_config(s), "\"classes\""));
    ck_assert_int_eq((int)nn_features_source(s)->size, NTRAIN);
    int order[NTRAIN];
    epoch_order(s, 0, order);
    for (int i = 0; i < NTRAIN; i++) {
        ck_assert_int_eq(order[i], i); /* in index order without shuffle */
    }
    nn_features_close(s);

    ck_assert_int_eq(nn_features_open(&s, path, "train", 3, 1, 9, err, sizeof err), 0);
    int a[NTRAIN], b[NTRAIN], again[NTRAIN];
    epoch_order(s, 0, a);
    epoch_order(s, 1, b);
    epoch_order(s, 0, again);
    ck_assert_int_eq(memcmp(a, again, sizeof a), 0); /* (seed, epoch) decides */
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    int seen = 0;
    for (int i = 0; i < NTRAIN; i++) {
        seen |= 1 << a[i];
    }
    ck_assert_int_eq(seen, (1 << NTRAIN) - 1); /* each sample once */
    nn_features_close(s);

    ck_assert_int_eq(nn_features_open(&s, path, "validation", 3, 0, 0, err, sizeof err), 0);
    ck_assert_int_eq((int)nn_features_source(s)->size, 1);
    nn_features_close(s);
    ck_assert_int_eq(nn_features_open(&s, path, "test", 3, 0, 0, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "no features for split 'test'"), "%s", err);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(rewrite_and_abort)
{
    char dir[256], path[512], part[600], err[256] = "";
    snprintf(path, sizeof path, "%s/f.db", ck_test_tmpdir(dir, sizeof dir));
    snprintf(part, sizeof part, "%s.part", path);
    write_db(path);
    /* A killed writer's leftover is replaced; an aborted one leaves the
     * previous file as it was. */
    FILE *fp = fopen(part, "w");
    fputs("junk", fp);
    fclose(fp);
    nn_features *f;
    ck_assert_int_eq(nn_features_create(&f, path, 1, 1, 1, NULL, err, sizeof err), 0);
    nn_features_abort(f);
    ck_assert_int_eq(access(part, F_OK), -1);
    nn_features_src *s;
    ck_assert_int_eq(nn_features_open(&s, path, "train", 4, 0, 0, err, sizeof err), 0);
    int h, w, c;
    nn_features_shape(s, &h, &w, &c);
    ck_assert_int_eq(h * w * c, SIZE);
    nn_features_close(s);
}
END_TEST

START_TEST(bad_files)
{
    char dir[256], path[512], err[256] = "";
    ck_test_tmpdir(dir, sizeof dir);
    nn_features_src *s;
    snprintf(path, sizeof path, "%s/missing.db", dir);
    ck_assert_int_eq(nn_features_open(&s, path, "train", 4, 0, 0, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, "missing.db: No such file"), "%s", err);
    snprintf(path, sizeof path, "%s/text.db", dir);
    FILE *fp = fopen(path, "w");
    fputs("not a database at all, but long enough to look like a header........", fp);
    fclose(fp);
    ck_assert_int_eq(nn_features_open(&s, path, "train", 4, 0, 0, err, sizeof err), CK_EFORMAT);
    ck_assert_msg(strstr(err, "text.db: not a features.db"), "%s", err);
    /* An SQLite file of another kind (a runs.db). */
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/runs.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "CREATE TABLE runs(name TEXT PRIMARY KEY, config TEXT)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_eq(nn_features_open(&s, path, "train", 4, 0, 0, err, sizeof err), CK_EFORMAT);
    ck_assert_msg(strstr(err, "runs.db: not a features.db"), "%s", err);
    ck_assert_ptr_null(s);
}
END_TEST

static Suite *features_suite(void)
{
    Suite *s = suite_create("nn_features");
    TCase *tc = tcase_create("features");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_and_shuffles);
    tcase_add_test(tc, rewrite_and_abort);
    tcase_add_test(tc, bad_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(features_suite());
}
