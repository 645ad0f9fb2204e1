/* test_pl_ingest.c: pl_ingest_run end to end on sources generated here
 * (a class-per-folder tree of JPEG/PNG with corrupt files, IDX files) and
 * on the real alien-vs-predator photos.
 *
 * Catalogs are compared by an ordered dump: every table's rows in key
 * order, read with sqlite3, blobs by length and hash. Equal dumps mean the
 * same catalog, whatever the worker count or where a run was killed.
 *
 * The kill test forks before this process starts any thread (fork and
 * libvips' threads do not mix); the child is made to block once every row
 * is stored (its progress callback never returns at "finish"), so it never
 * ends on its own, and the parent kills it as soon as the database shows
 * committed rows. No sleep stands for a timing.
 */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <vips/vips.h>
#include <xxhash.h>
#include <zlib.h>

#include "ck_test.h"
#include "im.h"
#include "pl.h"

static void init(void)
{
    char err[256];
    ck_assert_msg(im_init("test_pl_ingest", err, sizeof err) == 0, "%s", err);
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "open %s", path);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

/* A smooth random picture (blurred noise), 3 bands, encoded as suffix. */
static void *picture(int w, int h, int seed, const char *suffix, size_t *len)
{
    VipsImage *noise, *big, *out;
    ck_assert_int_eq(
        vips_gaussnoise(&noise, 6, 5, "seed", seed, "mean", 128.0, "sigma", 60.0, NULL), 0);
    ck_assert_int_eq(vips_resize(noise, &big, w / 6.0, "vscale", h / 5.0, NULL), 0);
    VipsImage *bands[3] = {big, big, big};
    VipsImage *joined;
    ck_assert_int_eq(vips_bandjoin(bands, &joined, 3, NULL), 0);
    ck_assert_int_eq(vips_cast(joined, &out, VIPS_FORMAT_UCHAR, NULL), 0);
    void *buf = NULL;
    ck_assert_msg(vips_image_write_to_buffer(out, suffix, &buf, len, NULL) == 0, "save: %s",
                  vips_error_buffer());
    g_object_unref(noise);
    g_object_unref(big);
    g_object_unref(joined);
    g_object_unref(out);
    return buf;
}

enum { TREE_PER_CLASS = 15, TREE_BAD = 3 };

/* root/{cat,dog}/: TREE_PER_CLASS images each (JPEG in cat, PNG in dog),
 * plus a truncated JPEG, an HTML page named .jpg and an empty file. */
static void make_tree(const char *root, int seed0)
{
    char path[512];
    const char *classes[2] = {"cat", "dog"};
    ck_assert_int_eq(mkdir(root, 0755), 0);
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s", root, classes[c]);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        for (int i = 0; i < TREE_PER_CLASS; i++) {
            size_t len;
            void *buf = picture(48 + i, 40, seed0 + c * 1000 + i, c ? ".png" : ".jpg", &len);
            snprintf(path, sizeof path, "%s/%s/%s.%d.%s", root, classes[c], classes[c], i,
                     c ? "png" : "jpg");
            write_file(path, buf, len);
            if (c == 0 && i == 0) {
                snprintf(path, sizeof path, "%s/cat/truncated.jpg", root);
                write_file(path, buf, len * 2 / 5);
            }
            g_free(buf);
        }
    }
    static const char html[] = "<html><body>404 Not Found</body></html>\n";
    snprintf(path, sizeof path, "%s/dog/error.jpg", root);
    write_file(path, html, sizeof html - 1);
    snprintf(path, sizeof path, "%s/dog/empty.png", root);
    write_file(path, "", 0);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* dir/train-images-idx3-ubyte[.gz] and its labels: n random 28x28 digits
 * with labels i % 10. gz: gzip'd; cut: the images file is cut in half (its
 * data runs out mid-stream). */
static void make_idx(const char *dir, uint32_t n, int gz, int cut, char *images, size_t imageslen)
{
    enum { R = 28, C = 28 };
    size_t isize = 16 + (size_t)n * R * C, lsize = 8 + n;
    uint8_t *img = malloc(isize), *lab = malloc(lsize);
    ck_assert(img && lab);
    put_be32(img, 0x803);
    put_be32(img + 4, n);
    put_be32(img + 8, R);
    put_be32(img + 12, C);
    put_be32(lab, 0x801);
    put_be32(lab + 4, n);
    ck_rng r;
    ck_rng_init(&r, 11, 0, 0, CK_RNG_TEST);
    for (size_t i = 16; i < isize; i++) {
        img[i] = (uint8_t)ck_rng_u32(&r);
    }
    for (uint32_t i = 0; i < n; i++) {
        lab[8 + i] = (uint8_t)(i % 10);
    }
    const char *ext = gz ? ".gz" : "";
    char lpath[512];
    snprintf(images, imageslen, "%s/train-images-idx3-ubyte%s", dir, ext);
    snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte%s", dir, ext);
    if (!gz) {
        write_file(images, img, cut ? isize / 2 : isize);
        write_file(lpath, lab, lsize);
    } else {
        const char *paths[2] = {images, lpath};
        const uint8_t *data[2] = {img, lab};
        size_t sizes[2] = {isize, lsize};
        for (int k = 0; k < 2; k++) {
            gzFile f = gzopen(paths[k], "wb");
            ck_assert_ptr_nonnull(f);
            ck_assert_int_eq(gzwrite(f, data[k], (unsigned)sizes[k]), (int)sizes[k]);
            ck_assert_int_eq(gzclose(f), Z_OK);
        }
        if (cut) {
            struct stat st;
            ck_assert_int_eq(stat(images, &st), 0);
            ck_assert_int_eq(truncate(images, st.st_size / 2), 0);
        }
    }
    free(img);
    free(lab);
}

/* ---- comparing catalogs ------------------------------------------------ */

typedef struct dump {
    char *text;
    size_t len, cap;
} dump;

static void dump_add(dump *d, const void *p, size_t n)
{
    if (d->len + n + 1 > d->cap) {
        d->cap = (d->len + n + 1) * 2;
        d->text = realloc(d->text, d->cap);
        ck_assert_ptr_nonnull(d->text);
    }
    memcpy(d->text + d->len, p, n);
    d->len += n;
    d->text[d->len] = '\0';
}

static void dump_str(dump *d, const char *s)
{
    dump_add(d, s, strlen(s));
}

/* Every table's rows in the order of all their columns, one line each;
 * blobs as length and XXH3-64. The caller frees d.text. */
static dump dump_db(const char *path)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *tables;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                                        " AND name NOT LIKE 'sqlite_%' ORDER BY name",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    dump d = {0};
    dump_str(&d, "");
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        int ncol = sqlite3_column_count(st);
        sqlite3_finalize(st);
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY ", name);
        for (int i = 1; i <= ncol; i++) {
            char col[16];
            snprintf(col, sizeof col, "%s%d", i > 1 ? "," : "", i);
            strcat(sql, col);
        }
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        dump_str(&d, "table ");
        dump_str(&d, name);
        dump_str(&d, "\n");
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < ncol; i++) {
                char v[64];
                switch (sqlite3_column_type(st, i)) {
                case SQLITE_NULL: dump_str(&d, "NULL"); break;
                case SQLITE_BLOB: {
                    const void *b = sqlite3_column_blob(st, i);
                    size_t n = (size_t)sqlite3_column_bytes(st, i);
                    snprintf(v, sizeof v, "blob:%zu:%016llx", n,
                             (unsigned long long)XXH3_64bits(b, n));
                    dump_str(&d, v);
                    break;
                }
                default: dump_str(&d, (const char *)sqlite3_column_text(st, i)); break;
                }
                dump_str(&d, i + 1 < ncol ? "|" : "\n");
            }
        }
        sqlite3_finalize(st);
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    return d;
}

static void assert_same_catalog(const char *a, const char *b)
{
    dump da = dump_db(a), db = dump_db(b);
    ck_assert_msg(da.len > 100, "%s: empty dump", a);
    if (da.len != db.len || memcmp(da.text, db.text, da.len) != 0) {
        size_t i = 0;
        while (i < da.len && i < db.len && da.text[i] == db.text[i]) {
            i++;
        }
        size_t from = i > 80 ? i - 80 : 0;
        ck_abort_msg("%s and %s differ at byte %zu:\n%.160s\n---\n%.160s", a, b, i, da.text + from,
                     db.text + from);
    }
    free(da.text);
    free(db.text);
}

static int64_t count_rows(const char *path, const char *sql)
{
    /* Read-write: after a kill, opening may have to recover the WAL index. */
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* ---- running ----------------------------------------------------------- */

typedef struct progress_log {
    int calls;
    const char *last_stage;
    pl_ingest_progress last;
} progress_log;

static void log_progress(const pl_ingest_progress *p, void *user)
{
    progress_log *l = user;
    l->calls++;
    l->last = *p;
    l->last_stage = p->stage;
}

static int run(const char *const *sources, int n, const char *out, int threads, pl_ingest_stats *st,
               char *err, size_t errlen, progress_log *log)
{
    pl_ingest_opts o;
    pl_ingest_opts_default(&o);
    o.sources = sources;
    o.nsources = n;
    o.output = out;
    o.threads = threads;
    if (log) {
        o.progress = log_progress;
        o.user = log;
    }
    return pl_ingest_run(&o, st, err, errlen);
}

START_TEST(tree_counts_same_at_1_and_2_workers)
{
    init();
    char dir[256], tree[300], db1[300], db2[300], err[1024];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(tree, sizeof tree, "%s/tree", dir);
    snprintf(db1, sizeof db1, "%s/one.db", dir);
    snprintf(db2, sizeof db2, "%s/two.db", dir);
    make_tree(tree, 100);
    const char *src[1] = {tree};
    const int64_t good = 2 * TREE_PER_CLASS, total = good + TREE_BAD;

    pl_ingest_stats st;
    progress_log log = {0};
    int rc = run(src, 1, db1, 1, &st, err, sizeof err, &log);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(st.entries, total);
    ck_assert_int_eq(st.ok, good);
    ck_assert_int_eq(st.rejected, TREE_BAD);
    ck_assert_int_eq(st.resumed, 0);
    ck_assert_int_eq(st.already_finished, 0);
    ck_assert_int_eq(st.workers.threads, 1);
    ck_assert_int_eq(st.workers.items, total + 2); /* and the source's begin and end */
    ck_assert_int_eq(st.writer.items, total + 2);
    ck_assert_int_ge(log.calls, 2);
    ck_assert_str_eq(log.last_stage, "done");
    ck_assert_int_eq(log.last.read, total);
    ck_assert_int_eq(log.last.checked, total);
    ck_assert_int_eq(log.last.written, total);
    ck_assert_int_eq(log.last.rejected, TREE_BAD);
    ck_assert_int_eq(log.last.nsources, 1);

    rc = run(src, 1, db2, 2, &st, err, sizeof err, NULL);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(st.ok, good);
    ck_assert_int_eq(st.rejected, TREE_BAD);
    ck_assert_int_eq(st.workers.threads, 2);
    assert_same_catalog(db1, db2);

    /* Labels through the catalog's reader. */
    ds_catalog *c;
    ck_assert_int_eq(ds_catalog_open(&c, db2, DS_OPEN_READ, err, sizeof err), 0);
    const char *const *names;
    int nclasses;
    ck_assert_int_eq(ds_catalog_classes(c, &names, &nclasses, err, sizeof err), 0);
    ck_assert_int_eq(nclasses, 2);
    ck_assert_str_eq(names[0], "cat");
    ck_assert_str_eq(names[1], "dog");
    int64_t *ids;
    int32_t *labels;
    size_t count;
    ck_assert_int_eq(ds_catalog_split(c, "train", &ids, &labels, &count, err, sizeof err), 0);
    ck_assert_uint_eq(count, good);
    int per[2] = {0, 0};
    for (size_t i = 0; i < count; i++) {
        ck_assert(labels[i] == 0 || labels[i] == 1);
        per[labels[i]]++;
    }
    ck_assert_int_eq(per[0], TREE_PER_CLASS);
    ck_assert_int_eq(per[1], TREE_PER_CLASS);
    free(ids);
    free(labels);
    ds_catalog_close(c);
}
END_TEST

START_TEST(rerun_on_finished_catalog_changes_nothing)
{
    init();
    char dir[256], tree[300], db[300], err[1024];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(tree, sizeof tree, "%s/tree", dir);
    snprintf(db, sizeof db, "%s/out.db", dir);
    make_tree(tree, 200);
    const char *src[1] = {tree};
    pl_ingest_stats st;
    ck_assert_msg(run(src, 1, db, 2, &st, err, sizeof err, NULL) == 0, "%s", err);
    dump before = dump_db(db);
    struct stat s0, s1;
    ck_assert_int_eq(stat(db, &s0), 0);

    progress_log log = {0};
    ck_assert_msg(run(src, 1, db, 1, &st, err, sizeof err, &log) == 0, "%s", err);
    ck_assert_int_eq(st.already_finished, 1);
    ck_assert_int_eq(st.ok + st.rejected, 0);
    ck_assert_str_eq(log.last_stage, "done");
    ck_assert_int_eq(stat(db, &s1), 0);
    ck_assert_int_eq(s0.st_size, s1.st_size);
    ck_assert(s0.st_mtim.tv_sec == s1.st_mtim.tv_sec && s0.st_mtim.tv_nsec == s1.st_mtim.tv_nsec);
    dump after = dump_db(db);
    ck_assert(before.len == after.len && memcmp(before.text, after.text, before.len) == 0);
    free(before.text);
    free(after.text);

    /* Other options: refused, nothing written. */
    pl_ingest_opts o;
    pl_ingest_opts_default(&o);
    o.sources = src;
    o.nsources = 1;
    o.output = db;
    o.check.max_side = 32;
    int rc = pl_ingest_run(&o, &st, err, sizeof err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(err, "max-side=0") != NULL, "%s", err);
    ck_assert_int_eq(stat(db, &s1), 0);
    ck_assert_int_eq(s0.st_size, s1.st_size);
}
END_TEST

/* The child's progress: never returns once every row is stored. */
static void block_at_finish(const pl_ingest_progress *p, void *user)
{
    (void)user;
    if (strcmp(p->stage, "finish") == 0) {
        for (;;) {
            pause();
        }
    }
}

START_TEST(resume_after_kill_gives_same_catalog)
{
    enum { N = 12000 };
    char dir[256], idxdir[300], images[400], killed[300], clean[300], err[1024];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(idxdir, sizeof idxdir, "%s/idx", dir);
    ck_assert_int_eq(mkdir(idxdir, 0755), 0);
    snprintf(killed, sizeof killed, "%s/killed.db", dir);
    snprintf(clean, sizeof clean, "%s/clean.db", dir);
    make_idx(idxdir, N, 0, 0, images, sizeof images);
    const char *src[1] = {images};

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pl_ingest_opts o;
        pl_ingest_opts_default(&o);
        o.sources = src;
        o.nsources = 1;
        o.output = killed;
        o.threads = 2;
        o.progress = block_at_finish;
        pl_ingest_stats st;
        if (im_init("child", err, sizeof err) == 0) {
            pl_ingest_run(&o, &st, err, sizeof err);
        }
        _exit(3); /* only reached on an error */
    }
    /* Poll the database until some rows are committed, then kill. */
    int64_t stored = 0;
    for (;;) {
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the child ended by itself");
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(killed, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT count(*) FROM samples", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            stored = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        if (stored > 0) {
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    stored = count_rows(killed, "SELECT count(*) FROM samples");
    if (stored == N) {
        fprintf(stderr, "note: killed after every row was stored\n");
    }

    init();
    pl_ingest_stats st;
    ck_assert_msg(run(src, 1, killed, 2, &st, err, sizeof err, NULL) == 0, "%s", err);
    ck_assert_int_eq(st.resumed, stored);
    ck_assert_int_eq(st.ok + st.rejected, N - stored);
    ck_assert_int_eq(st.entries, N);
    ck_assert_msg(run(src, 1, clean, 1, &st, err, sizeof err, NULL) == 0, "%s", err);
    ck_assert_int_eq(st.ok, N);
    assert_same_catalog(killed, clean);
}
END_TEST

START_TEST(unreadable_source_names_the_file)
{
    init();
    char dir[256], tree[300], idxdir[300], images[400], bad[300], db[300], err[1024];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(tree, sizeof tree, "%s/tree", dir);
    snprintf(idxdir, sizeof idxdir, "%s/idx", dir);
    snprintf(bad, sizeof bad, "%s/broken.zip", dir);
    snprintf(db, sizeof db, "%s/out.db", dir);
    make_tree(tree, 300);
    ck_assert_int_eq(mkdir(idxdir, 0755), 0);
    make_idx(idxdir, 3000, 1, 1, images, sizeof images);
    write_file(bad, "PK\3\4 this is not a zip archive at all", 38);
    pl_ingest_stats st;

    /* Missing. */
    const char *missing[2] = {tree, "/nonexistent/data.zip"};
    int rc = run(missing, 2, db, 2, &st, err, sizeof err, NULL);
    ck_assert_int_eq(rc, CK_EIO);
    ck_assert_msg(strstr(err, "/nonexistent/data.zip") != NULL, "%s", err);

    /* Not an archive. */
    const char *garbage[2] = {tree, bad};
    snprintf(db, sizeof db, "%s/out2.db", dir);
    rc = run(garbage, 2, db, 2, &st, err, sizeof err, NULL);
    ck_assert_msg(rc < 0 && strstr(err, "broken.zip") != NULL, "%d %s", rc, err);

    /* Cut in the middle: reading stops mid-source, with the file's name. */
    const char *cut[2] = {tree, images};
    snprintf(db, sizeof db, "%s/out3.db", dir);
    rc = run(cut, 2, db, 2, &st, err, sizeof err, NULL);
    ck_assert_msg(rc < 0 && strstr(err, "train-images-idx3-ubyte.gz") != NULL, "%d %s", rc, err);
}
END_TEST

START_TEST(alien_vs_predator_labels)
{
    init();
    char data[512], dir[256], db[300], err[1024];
    if (!ck_test_data("alien-vs-predator/train", data, sizeof data)) {
        return;
    }
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(db, sizeof db, "%s/avp.db", dir);
    const char *src[1] = {data};
    pl_ingest_stats st;
    ck_assert_msg(run(src, 1, db, 2, &st, err, sizeof err, NULL) == 0, "%s", err);
    ck_assert_int_eq(st.entries, 694);
    ck_assert_int_eq(st.ok, 694);
    ck_assert_int_eq(st.rejected, 0);

    ds_catalog *c;
    ck_assert_int_eq(ds_catalog_open(&c, db, DS_OPEN_READ, err, sizeof err), 0);
    const char *const *names;
    int nclasses;
    ck_assert_int_eq(ds_catalog_classes(c, &names, &nclasses, err, sizeof err), 0);
    ck_assert_int_eq(nclasses, 2);
    ck_assert_str_eq(names[0], "alien");
    ck_assert_str_eq(names[1], "predator");
    int64_t *ids;
    int32_t *labels;
    size_t count;
    ck_assert_int_eq(ds_catalog_split(c, "train", &ids, &labels, &count, err, sizeof err), 0);
    int per[2] = {0, 0};
    for (size_t i = 0; i < count; i++) {
        ck_assert(labels[i] == 0 || labels[i] == 1);
        per[labels[i]]++;
    }
    ck_assert_int_eq(per[0], 347);
    ck_assert_int_eq(per[1], 347);
    free(ids);
    free(labels);
    ds_catalog_close(c);
}
END_TEST

static Suite *ingest_suite(void)
{
    Suite *s = suite_create("pl_ingest");
    TCase *tc = tcase_create("ingest");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tree_counts_same_at_1_and_2_workers);
    tcase_add_test(tc, rerun_on_finished_catalog_changes_nothing);
    tcase_add_test(tc, resume_after_kill_gives_same_catalog);
    tcase_add_test(tc, unreadable_source_names_the_file);
    tcase_add_test(tc, alien_vs_predator_labels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(ingest_suite());
}
