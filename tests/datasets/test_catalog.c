/* test_catalog.c: the SQLite catalog on hand-made samples (no decoding):
 * dense ids across sources, resume after a kill equals a one-shot run,
 * finished and mismatched catalogs, every split mode and the per-class
 * limit, duplicate groups, the leakage policy, the info JSON, errors. */
#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "ck_test.h"
#include "ds.h"

#define OPTIONS "sources=test split=test"

typedef struct fix {
    char dir[256];
    char path[300];
    ds_catalog *c;
    char err[512];
} fix;

static void fix_init(fix *f, const char *name)
{
    ck_test_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    f->c = NULL;
    f->err[0] = '\0';
}

/* Closes the catalog and removes the scratch directory with its files. */
static void fix_done(fix *f)
{
    ds_catalog_close(f->c);
    f->c = NULL;
    DIR *d = opendir(f->dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            char file[600];
            snprintf(file, sizeof file, "%s/%s", f->dir, de->d_name);
            ck_assert_int_eq(unlink(file), 0);
        }
    }
    closedir(d);
    ck_assert_int_eq(rmdir(f->dir), 0);
}

static void open_w(fix *f)
{
    int rc = ds_catalog_open(&f->c, f->path, DS_OPEN_WRITE, f->err, sizeof f->err);
    ck_assert_msg(rc == 0, "%s", f->err);
}

static int begin(fix *f)
{
    int finished = -1;
    int rc = ds_catalog_begin(f->c, OPTIONS, &finished, f->err, sizeof f->err);
    ck_assert_msg(rc == 0, "%s", f->err);
    return finished;
}

static int64_t source(fix *f, int index, int *complete)
{
    int64_t base = -1;
    int done = -1;
    char path[64];
    snprintf(path, sizeof path, "src%d.zip", index);
    int rc = ds_catalog_source(f->c, index, path, DS_LAYOUT_FOLDERS, &base, &done, f->err,
                               sizeof f->err);
    ck_assert_msg(rc == 0, "%s", f->err);
    if (complete) {
        *complete = done;
    }
    return base;
}

/* One sample. ok: a 2x2 raw image whose bytes and content hash derive from
 * content; phash given. Not ok: rejected with reason. */
typedef struct spec {
    const char *name, *label, *split;
    int ok;
    uint32_t content;
    uint64_t phash;
    const char *reason;
    int side; /* original size (square); 0: 64, photo-sized */
} spec;

static void put(fix *f, int64_t id, int src, const spec *s)
{
    uint8_t px[4] = {(uint8_t)s->content, (uint8_t)(s->content >> 8), (uint8_t)(s->content >> 16),
                     (uint8_t)(s->content >> 24)};
    ds_entry e = {0};
    e.ordinal = id;
    e.name = (char *)s->name;
    e.label = (char *)s->label;
    e.split = (char *)s->split;
    e.kind = DS_ENTRY_RAW;
    e.data = px;
    e.size = 4;
    e.width = e.height = 2;
    e.bands = 1;
    ds_sample smp = {0};
    smp.ok = s->ok;
    if (s->ok) {
        snprintf(smp.format, sizeof smp.format, "raw");
        /* Stored 2x2, described as shrunk from s->side (near-copy search
         * skips thumbnail-sized originals). */
        smp.width = smp.height = 2;
        smp.orig_width = smp.orig_height = s->side ? s->side : 64;
        smp.bands = 1;
        smp.data = px;
        smp.size = 4;
        smp.phash = s->phash;
    } else {
        snprintf(smp.reason, sizeof smp.reason, "%s", s->reason ? s->reason : "not an image");
    }
    for (int i = 0; i < 16; i++) {
        smp.content_hash[i] = px[i % 4] ^ (uint8_t)(i * 37);
    }
    int rc = ds_catalog_put(f->c, id, src, &e, &smp, f->err, sizeof f->err);
    ck_assert_msg(rc == 0, "%s", f->err);
}

static void source_done(fix *f, int index, int64_t entries, const char *hash)
{
    int rc = ds_catalog_source_done(f->c, index, entries, hash, f->err, sizeof f->err);
    ck_assert_msg(rc == 0, "%s", f->err);
}

static void finish(fix *f, const ds_split_opts *o)
{
    int rc = ds_catalog_finish(f->c, o, f->err, sizeof f->err);
    ck_assert_msg(rc == 0, "%s", f->err);
}

static void close_c(fix *f)
{
    ds_catalog_close(f->c);
    f->c = NULL;
}

/* Every row of every table, in order, as text: two catalogs with the same
 * dump hold the same content. */
static char *dump(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    static const char *const queries[] = {
        "SELECT key, value FROM meta ORDER BY key",
        "SELECT * FROM sources ORDER BY idx",
        "SELECT * FROM classes ORDER BY label",
        "SELECT id, source_idx, name, class_name, label, src_split, number, split, status,"
        " reason, format, width, height, bands, orig_width, orig_height, bytes,"
        " hex(content_hash), phash, dup_group, near_group, leak_of, leak_kind"
        " FROM samples ORDER BY id",
        "SELECT id, kind, width, height, bands, hex(data) FROM blobs ORDER BY id",
    };
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, queries[q], -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                size_t n = (v ? strlen(v) : 4) + 2;
                if (len + n + 1 > cap) {
                    cap = 2 * (len + n + 1);
                    out = realloc(out, cap);
                }
                len += (size_t)snprintf(out + len, cap - len, "%s%c", v ? v : "NULL",
                                        i + 1 < sqlite3_column_count(st) ? '|' : '\n');
            }
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

/* A sample set for two sources: source 0 has 12 labelled samples of cat
 * and dog (one rejected), source 1 has 5 (unlabelled ones too). */
static spec sample_spec(int64_t id, char *name, size_t len)
{
    spec s = {0};
    if (id < 12) {
        int dog = id % 2;
        snprintf(name, len, "train/%s.%d.jpg", dog ? "dog" : "cat", (int)id * 100);
        s.label = dog ? "dog" : "cat";
        s.ok = id != 7;
        s.reason = "decode: Premature end of input file";
    } else {
        snprintf(name, len, "test1/%d.jpg", (int)id);
        s.ok = 1;
    }
    s.name = name;
    s.content = (uint32_t)(id * 2654435761u);
    s.phash = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return s;
}

static void put_range(fix *f, int src, int64_t from, int64_t to)
{
    for (int64_t id = from; id < to; id++) {
        char name[64];
        spec s = sample_spec(id, name, sizeof name);
        if (ds_catalog_has(f->c, id) != 1) {
            put(f, id, src, &s);
        }
    }
}

static char *one_shot(const char *name, const ds_split_opts *o)
{
    fix f;
    fix_init(&f, name);
    open_w(&f);
    ck_assert_int_eq(begin(&f), 0);
    ck_assert_int_eq(source(&f, 0, NULL), 0);
    put_range(&f, 0, 0, 12);
    source_done(&f, 0, 12, "hash0");
    ck_assert_int_eq(source(&f, 1, NULL), 12);
    put_range(&f, 1, 12, 17);
    source_done(&f, 1, 5, "hash1");
    finish(&f, o);
    close_c(&f);
    char *d = dump(f.path);
    fix_done(&f);
    return d;
}

START_TEST(ids_and_resume)
{
    ds_split_opts o = ds_split_opts_default();
    ck_assert_int_eq(ds_split_parse("train=0.5,validation=0.25,test=0.25", &o, NULL, 0), 0);
    char *want = one_shot("one.db", &o);

    fix f;
    fix_init(&f, "resumed.db");
    /* Run 1 is killed while source 1 is being read: its open transaction
     * (ids 12..14) is lost. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (ds_catalog_open(&f.c, f.path, DS_OPEN_WRITE, NULL, 0) != 0) {
            _exit(1);
        }
        int fin, done;
        int64_t base;
        ds_catalog_begin(f.c, OPTIONS, &fin, NULL, 0);
        ds_catalog_source(f.c, 0, "src0.zip", DS_LAYOUT_FOLDERS, &base, &done, NULL, 0);
        put_range(&f, 0, 0, 12);
        ds_catalog_source_done(f.c, 0, 12, "hash0", NULL, 0);
        ds_catalog_source(f.c, 1, "src1.zip", DS_LAYOUT_FOLDERS, &base, &done, NULL, 0);
        put_range(&f, 1, 12, 15);
        _exit(0); /* no close: as if killed */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Run 2 resumes: source 0 is complete, source 1 starts over. */
    open_w(&f);
    ck_assert_int_eq(begin(&f), 0);
    int complete = -1;
    ck_assert_int_eq(source(&f, 0, &complete), 0);
    ck_assert_int_eq(complete, 1);
    ck_assert_int_eq(ds_catalog_has(f.c, 11), 1);
    ck_assert_int_eq(source(&f, 1, &complete), 12);
    ck_assert_int_eq(complete, 0);
    ck_assert_int_eq(ds_catalog_has(f.c, 12), 0);
    put_range(&f, 1, 12, 14);
    close_c(&f); /* an orderly stop: what was put is kept */

    /* Run 3 puts the rest and finishes. */
    open_w(&f);
    ck_assert_int_eq(begin(&f), 0);
    source(&f, 0, &complete);
    ck_assert_int_eq(source(&f, 1, &complete), 12);
    ck_assert_int_eq(ds_catalog_has(f.c, 13), 1);
    ck_assert_int_eq(ds_catalog_has(f.c, 14), 0);
    put_range(&f, 1, 12, 17);
    source_done(&f, 1, 5, "hash1");
    finish(&f, &o);
    close_c(&f);

    char *got = dump(f.path);
    ck_assert_str_eq(got, want);
    ck_assert_ptr_nonnull(strstr(got, "dataset_hash|"));
    free(got);
    free(want);
    fix_done(&f);
}
END_TEST

static char *file_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc(*len + 1);
    ck_assert_uint_eq(fread(buf, 1, *len, fp), *len);
    fclose(fp);
    return buf;
}

START_TEST(finished_and_mismatched)
{
    ds_split_opts o = ds_split_opts_default();
    fix f;
    fix_init(&f, "done.db");
    open_w(&f);
    begin(&f);
    source(&f, 0, NULL);
    put_range(&f, 0, 0, 12);
    source_done(&f, 0, 12, "hash0");
    finish(&f, &o);
    char hash[40];
    snprintf(hash, sizeof hash, "%s", ds_catalog_hash(f.c));
    ck_assert_uint_eq(strlen(hash), 32);
    close_c(&f);

    size_t len0, len1;
    char *before = file_bytes(f.path, &len0);
    open_w(&f);
    ck_assert_int_eq(begin(&f), 1);
    ck_assert_str_eq(ds_catalog_hash(f.c), hash);
    close_c(&f);
    char *after = file_bytes(f.path, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert_mem_eq(before, after, len0);
    free(before);
    free(after);

    open_w(&f);
    int finished = -1;
    int rc = ds_catalog_begin(f.c, "sources=other", &finished, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(f.err, f.path) && strstr(f.err, "was prepared with " OPTIONS) &&
                      strstr(f.err, "use a new output file"),
                  "%s", f.err);
    fix_done(&f);
}
END_TEST

/* A preparation that kept no image (it failed, or its source held none)
 * never blocks a new one: begin with other options empties it and says
 * what it replaced. One with an image still refuses. */
START_TEST(imageless_catalog_is_replaced)
{
    fix f;
    ds_split_opts o = ds_split_opts_default();
    fix_init(&f, "empty.db");
    open_w(&f);
    ck_assert_int_eq(begin(&f), 0);
    ck_assert_ptr_null(ds_catalog_replaced(f.c));
    ck_assert_int_eq(source(&f, 0, NULL), 0);
    spec bad = {.name = "notes.txt", .ok = 0, .reason = "not an image"};
    put(&f, 0, 0, &bad);
    source_done(&f, 0, 1, "hash0");
    finish(&f, &o);
    close_c(&f);

    open_w(&f);
    int finished = -1;
    int rc = ds_catalog_begin(f.c, "sources=other", &finished, f.err, sizeof f.err);
    ck_assert_msg(rc == 0, "%s", f.err);
    ck_assert_int_eq(finished, 0);
    ck_assert_str_eq(ds_catalog_replaced(f.c), OPTIONS);
    ck_assert_int_eq(ds_catalog_has(f.c, 0), 0);
    ck_assert_str_eq(ds_catalog_hash(f.c), "");
    ck_assert_int_eq(source(&f, 0, NULL), 0);
    spec good = {.name = "a/1.png", .label = "a", .ok = 1, .content = 7};
    put(&f, 0, 0, &good);
    source_done(&f, 0, 1, "hash1");
    finish(&f, &o);
    close_c(&f);

    open_w(&f);
    rc = ds_catalog_begin(f.c, OPTIONS, &finished, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(f.err, "was prepared with sources=other"), "%s", f.err);
    fix_done(&f);
}
END_TEST

START_TEST(errors_name_the_catalog)
{
    fix f;
    fix_init(&f, "bad.db");
    FILE *fp = fopen(f.path, "wb");
    fputs("this is not a database, just some text that is long enough to matter\n", fp);
    fclose(fp);
    int rc = ds_catalog_open(&f.c, f.path, DS_OPEN_WRITE, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EFORMAT);
    ck_assert_ptr_null(f.c);
    ck_assert_msg(strstr(f.err, f.path) && strstr(f.err, "not a convkit catalog"), "%s", f.err);

    snprintf(f.path, sizeof f.path, "%s/missing.db", f.dir);
    rc = ds_catalog_open(&f.c, f.path, DS_OPEN_READ, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EIO);
    ck_assert_msg(strstr(f.err, f.path) != NULL, "%s", f.err);

    snprintf(f.path, sizeof f.path, "%s/new.db", f.dir);
    open_w(&f);
    spec s = {.name = "a.jpg", .label = "a", .ok = 1};
    ds_entry e = {.name = "a.jpg"};
    ds_sample smp = {.ok = 1};
    rc = ds_catalog_put(f.c, 0, 0, &e, &smp, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(f.err, "insert sample 0") && strstr(f.err, "not begun"), "%s", f.err);
    begin(&f);
    int64_t base;
    int complete;
    rc = ds_catalog_source(f.c, 1, "x", DS_LAYOUT_IDX, &base, &complete, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(f.err, "source 1") != NULL, "%s", f.err);
    source(&f, 0, NULL);
    put(&f, 0, 0, &s);
    rc = ds_catalog_source_done(f.c, 0, 2, "h", f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(f.err, "1 samples stored") != NULL, "%s", f.err);
    source_done(&f, 0, 1, "h");
    rc = ds_catalog_source_done(f.c, 0, 1, "other", f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(f.err, "changed") != NULL, "%s", f.err);
    ds_blob b;
    rc = ds_catalog_blob(f.c, 5, &b, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    ck_assert_msg(strstr(f.err, f.path) && strstr(f.err, "sample 5"), "%s", f.err);
    ds_split_opts o = ds_split_opts_default();
    o.near_distance = 40;
    rc = ds_catalog_finish(f.c, &o, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    close_c(&f);

    /* Read-only: no writing. */
    ck_assert_int_eq(ds_catalog_open(&f.c, f.path, DS_OPEN_READ, f.err, sizeof f.err), 0);
    int finished;
    rc = ds_catalog_begin(f.c, OPTIONS, &finished, f.err, sizeof f.err);
    ck_assert_int_eq(rc, CK_EINVAL);
    fix_done(&f);
}
END_TEST

/* Builds a finished catalog from n specs in one source. */
static void build(fix *f, const char *name, const spec *specs, int n, const ds_split_opts *o)
{
    fix_init(f, name);
    open_w(f);
    begin(f);
    source(f, 0, NULL);
    for (int i = 0; i < n; i++) {
        put(f, i, 0, &specs[i]);
    }
    source_done(f, 0, n, "h");
    finish(f, o);
}

static size_t split_count(fix *f, const char *split, int label)
{
    int64_t *ids;
    int32_t *labels;
    size_t n;
    int rc = ds_catalog_split(f->c, split, &ids, &labels, &n, f->err, sizeof f->err);
    ck_assert_msg(rc == 0, "%s", f->err);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            ck_assert_int_lt(ids[i - 1], ids[i]);
        }
        k += label < -1 || labels[i] == label;
    }
    free(ids);
    free(labels);
    return k;
}

/* Kaggle-like: cat.N and dog.N for N in 0..2599, plus unlabelled test1. */
static spec *kaggle(int *n, char names[][32])
{
    spec *s = calloc(5300, sizeof *s);
    int k = 0;
    for (int num = 0; num < 2600; num++) {
        for (int dog = 0; dog < 2; dog++) {
            snprintf(names[k], 32, "train/%s.%d.jpg", dog ? "dog" : "cat", num);
            s[k] = (spec){.name = names[k],
                          .label = dog ? "dog" : "cat",
                          .ok = 1,
                          .content = (uint32_t)k + 1,
                          .phash = (uint64_t)(k + 1) * 0x9E3779B97F4A7C15ull};
            k++;
        }
    }
    for (int i = 0; i < 50; i++) {
        snprintf(names[k], 32, "test1/%d.jpg", i);
        s[k] = (spec){.name = names[k],
                      .ok = 1,
                      .content = (uint32_t)k + 1,
                      .phash = (uint64_t)(k + 1) * 0x9E3779B97F4A7C15ull};
        k++;
    }
    *n = k;
    return s;
}

START_TEST(split_modes)
{
    static char names[5300][32];
    int n;
    spec *s = kaggle(&n, names);
    const char *const modes[] = {"chollet", "chollet-1st", "train=0.8,validation=0.1,test=0.1",
                                 "source"};
    const size_t want[][3] = {{1000, 500, 1000}, {1000, 500, 500}, {2080, 260, 260}, {2600, 0, 0}};
    for (int m = 0; m < 4; m++) {
        ds_split_opts o = ds_split_opts_default();
        ck_assert_int_eq(ds_split_parse(modes[m], &o, NULL, 0), 0);
        fix f;
        build(&f, "split.db", s, n, &o);
        const char *const *classes;
        int nclasses;
        ck_assert_int_eq(ds_catalog_classes(f.c, &classes, &nclasses, NULL, 0), 0);
        ck_assert_int_eq(nclasses, 2);
        ck_assert_str_eq(classes[0], "cat");
        ck_assert_str_eq(classes[1], "dog");
        for (int label = 0; label < 2; label++) {
            ck_assert_uint_eq(split_count(&f, "train", label), want[m][0]);
            ck_assert_uint_eq(split_count(&f, "validation", label), want[m][1]);
            ck_assert_uint_eq(split_count(&f, "test", label), want[m][2]);
        }
        ck_assert_uint_eq(split_count(&f, "unlabeled", -1), 50);
        fix_done(&f);
    }

    /* Chollet's files are the numbered ones. */
    ds_split_opts o = ds_split_opts_default();
    o.mode = DS_SPLIT_CHOLLET;
    fix f;
    build(&f, "chollet.db", s, n, &o);
    int64_t *ids;
    int32_t *labels;
    size_t count;
    ck_assert_int_eq(ds_catalog_split(f.c, "validation", &ids, &labels, &count, NULL, 0), 0);
    ck_assert_uint_eq(count, 1000);
    ds_blob b;
    ck_assert_int_eq(ds_catalog_blob(f.c, ids[0], &b, f.err, sizeof f.err), 0);
    ck_assert_str_eq(b.name, "train/cat.1000.jpg");
    ck_assert_int_eq(b.kind, DS_ENTRY_RAW);
    ck_assert_uint_eq(b.size, 4);
    ck_assert_int_eq(b.width, 2);
    ck_assert_int_eq(labels[0], 0);
    ck_assert_int_eq(labels[1], 1);
    free(ids);
    free(labels);
    fix_done(&f);
    free(s);
}
END_TEST

START_TEST(fractions_are_seeded_and_limited)
{
    static char names[5300][32];
    int n;
    spec *s = kaggle(&n, names);
    char *dumps[3];
    for (int k = 0; k < 3; k++) {
        ds_split_opts o = ds_split_opts_default();
        ck_assert_int_eq(ds_split_parse("train=0.5,test=0.5", &o, NULL, 0), 0);
        o.seed = k == 2 ? 8 : 7;
        fix f;
        build(&f, "seeded.db", s, n, &o);
        close_c(&f);
        dumps[k] = dump(f.path);
        fix_done(&f);
    }
    ck_assert_str_eq(dumps[0], dumps[1]);
    ck_assert_str_ne(dumps[0], dumps[2]);
    for (int k = 0; k < 3; k++) {
        free(dumps[k]);
    }

    const char *const modes[] = {"chollet", "train=0.8,validation=0.1,test=0.1", "source"};
    for (int m = 0; m < 3; m++) {
        ds_split_opts o = ds_split_opts_default();
        ck_assert_int_eq(ds_split_parse(modes[m], &o, NULL, 0), 0);
        o.limit_per_class = 100;
        fix f;
        build(&f, "limited.db", s, n, &o);
        for (int label = 0; label < 2; label++) {
            ck_assert_uint_eq(split_count(&f, "train", label), 100);
            ck_assert_uint_eq(split_count(&f, "validation", label), m == 2 ? 0 : 100);
            ck_assert_uint_eq(split_count(&f, "test", label), m == 2 ? 0 : 100);
        }
        fix_done(&f);
    }
    free(s);
}
END_TEST

START_TEST(split_parse)
{
    ds_split_opts o = ds_split_opts_default();
    char err[256];
    ck_assert_int_eq(o.mode, DS_SPLIT_SOURCE);
    ck_assert_int_eq(o.near_distance, 4);
    ck_assert_int_eq(ds_split_parse("chollet-1st", &o, err, sizeof err), 0);
    ck_assert_int_eq(o.mode, DS_SPLIT_CHOLLET_1ST);
    ck_assert_int_eq(ds_split_parse("train=0.7,validation=0.2,test=0.1", &o, err, sizeof err), 0);
    ck_assert_int_eq(o.mode, DS_SPLIT_FRACTIONS);
    ck_assert_double_eq_tol(o.validation, 0.2, 1e-12);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"train=0.8,validation=0.1,test=0.2", "sum to 1.1"},
        {"train=0.8,valid=0.2", "'valid=0.2': unknown part"},
        {"train=abc,test=1", "'train=abc': not a number"},
        {"train=-0.5,test=1.5", "'train=-0.5'"},
        {"train=0.5,train=0.5", "given twice"},
        {"random", "'random'"},
        {"", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(ds_split_parse(bad[i].text, &o, err, sizeof err), CK_EINVAL);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "'%s': %s", bad[i].text, err);
    }
    char text[256];
    ds_split_describe(&o, text, sizeof text);
    ck_assert_str_eq(text, "split=train=0.7,validation=0.2,test=0.1 seed=0 limit-per-class=0 "
                           "near-distance=4 keep-leakage=0");
}
END_TEST

START_TEST(class_names_parse)
{
    char err[256], **names;
    int n;
    ck_assert_int_eq(
        ds_class_names_parse("T-shirt/top,Ankle boot,صفر,零", &names, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(names[0], "T-shirt/top");
    ck_assert_str_eq(names[1], "Ankle boot");
    ck_assert_str_eq(names[2], "صفر");
    ck_assert_str_eq(names[3], "零");
    free(names);
    ck_assert_int_eq(ds_class_names_parse("one", &names, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 1);
    free(names);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "class name 0 '' is empty"},
        {"a,,b", "class name 1 '' is empty"},
        {"a,b,", "class name 2 '' is empty"},
        {"a,b,a", "class name 2 'a' is given twice"},
        {"a,b\tc", "class name 1 is not printable UTF-8 text"},
        {"a,\xff", "class name 1 is not printable UTF-8 text"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(ds_class_names_parse(bad[i].text, &names, &n, err, sizeof err), CK_EINVAL);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "'%s': %s", bad[i].text, err);
        ck_assert_ptr_null(names);
    }
}
END_TEST

/* Leakage: cat.5 (train) and cat.1200 (validation) are the same file;
 * cat.6 (train) and cat.1300 (validation) are near copies. */
static int leak_specs(spec *s, char names[][32])
{
    int k = 0;
    for (int num = 0; num < 2000; num += 1) {
        if (num > 10 && num < 1000 && num % 50) {
            continue;
        }
        if (num > 1000 && num < 1500 && num != 1200 && num != 1300 && num % 100) {
            continue;
        }
        if (num > 1500 && num % 100) {
            continue;
        }
        snprintf(names[k], 32, "train/cat.%d.jpg", num);
        s[k] = (spec){.name = names[k],
                      .label = "cat",
                      .ok = 1,
                      .content = (uint32_t)num + 1,
                      .phash = (uint64_t)(num + 1) * 0x9E3779B97F4A7C15ull};
        if (num == 1200) {
            s[k].content = 5 + 1;
            s[k].phash = 6 * 0x9E3779B97F4A7C15ull;
        }
        if (num == 1300) {
            s[k].phash = (7 * 0x9E3779B97F4A7C15ull) ^ 0x10204;
        }
        k++;
    }
    return k;
}

static void sample_row(const char *path, const char *name, char *out, size_t len)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT split, status, leak_kind,"
                                        " (SELECT name FROM samples t WHERE t.id = s.leak_of)"
                                        " FROM samples s WHERE name = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, len, "%s %s %s %s", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
             sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "-",
             sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "-");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

START_TEST(leakage_policy)
{
    static spec s[200];
    static char names[200][32];
    int n = leak_specs(s, names);
    char row[256];
    for (int keep = 0; keep < 2; keep++) {
        ds_split_opts o = ds_split_opts_default();
        o.mode = DS_SPLIT_CHOLLET;
        o.keep_leakage = keep;
        fix f;
        build(&f, "leak.db", s, n, &o);
        size_t val = split_count(&f, "validation", 0);
        close_c(&f);
        sample_row(f.path, "train/cat.1200.jpg", row, sizeof row);
        ck_assert_str_eq(row, keep ? "validation ok exact train/cat.5.jpg"
                                   : "validation leakage exact train/cat.5.jpg");
        sample_row(f.path, "train/cat.1300.jpg", row, sizeof row);
        ck_assert_str_eq(row, "validation ok near train/cat.6.jpg");
        sample_row(f.path, "train/cat.5.jpg", row, sizeof row);
        ck_assert_str_eq(row, "train ok - -");
        ck_assert_uint_eq(val, keep ? 5 : 4);
        fix_done(&f);
    }

    /* The source's own split is never altered. */
    for (int i = 0; i < n; i++) {
        s[i].split = strstr(s[i].name, ".1200.") ? "test" : "train";
    }
    ds_split_opts o = ds_split_opts_default();
    fix f;
    build(&f, "source.db", s, n, &o);
    ck_assert_uint_eq(split_count(&f, "test", 0), 1);
    ck_assert_uint_eq(split_count(&f, "train", 0), (size_t)n - 1);
    close_c(&f);
    sample_row(f.path, "train/cat.1200.jpg", row, sizeof row);
    ck_assert_str_eq(row, "test ok exact train/cat.5.jpg");
    fix_done(&f);
}
END_TEST

static int64_t column_of(const char *path, const char *column, const char *name)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM samples WHERE name = ?", column);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

START_TEST(duplicate_groups)
{
    const uint64_t p = 0x0123456789ABCDEFull;
    spec s[] = {
        {.name = "a", .label = "x", .ok = 1, .content = 1, .phash = 1},
        {.name = "b", .label = "x", .ok = 1, .content = 2, .phash = p},
        {.name = "c", .label = "y", .ok = 1, .content = 1, .phash = 1},       /* = a */
        {.name = "d", .label = "x", .ok = 1, .content = 3, .phash = p ^ 0x7}, /* b + 3 bits */
        {.name = "e", .label = "x", .ok = 1, .content = 4, .phash = p ^ 0x7 ^ 0x70}, /* d + 3 */
        {.name = "f", .label = "x", .ok = 1, .content = 5, .phash = ~p},
        {.name = "g", .label = "x", .ok = 1, .content = 1, .phash = 1}, /* = a */
        {.name = "h", .label = "x", .ok = 0, .content = 1},             /* rejected */
        /* Thumbnail-sized: same phash as b, yet never a near copy. */
        {.name = "i", .label = "x", .ok = 1, .content = 6, .phash = p, .side = 28},
        {.name = "j", .label = "x", .ok = 1, .content = 7, .phash = p, .side = 28},
    };
    int n = (int)(sizeof s / sizeof s[0]);
    ds_split_opts o = ds_split_opts_default();
    fix f;
    build(&f, "dups.db", s, n, &o);
    close_c(&f);
    ck_assert_int_eq(column_of(f.path, "dup_group", "a"), 0);
    ck_assert_int_eq(column_of(f.path, "dup_group", "c"), 0);
    ck_assert_int_eq(column_of(f.path, "dup_group", "g"), 0);
    ck_assert_int_eq(column_of(f.path, "dup_group", "b"), -1);
    ck_assert_int_eq(column_of(f.path, "dup_group", "h"), -1);
    /* b - d - e chain: one near cluster; a/c/g are one file, not near. */
    ck_assert_int_eq(column_of(f.path, "near_group", "b"), 1);
    ck_assert_int_eq(column_of(f.path, "near_group", "d"), 1);
    ck_assert_int_eq(column_of(f.path, "near_group", "e"), 1);
    ck_assert_int_eq(column_of(f.path, "near_group", "a"), -1);
    ck_assert_int_eq(column_of(f.path, "near_group", "f"), -1);
    ck_assert_int_eq(column_of(f.path, "near_group", "i"), -1);
    ck_assert_int_eq(column_of(f.path, "near_group", "j"), -1);
    fix_done(&f);

    o.near_distance = 2; /* now no pair is near */
    build(&f, "dups2.db", s, n, &o);
    close_c(&f);
    ck_assert_int_eq(column_of(f.path, "near_group", "b"), -1);
    ck_assert_int_eq(column_of(f.path, "dup_group", "g"), 0);
    fix_done(&f);
}
END_TEST

/* A small JSON checker: returns the end of the value at p, or NULL. */
static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
        p++;
    }
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"') {
        return NULL;
    }
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20) {
            return NULL;
        }
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i]) {
                        return NULL;
                    }
                }
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *json_value(const char *p)
{
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = json_ws(p + 1);
        if (*p == close) {
            return p + 1;
        }
        for (;;) {
            if (close == '}') {
                p = json_string(json_ws(p));
                if (!p || *(p = json_ws(p)) != ':') {
                    return NULL;
                }
                p++;
            }
            p = json_value(p);
            if (!p) {
                return NULL;
            }
            p = json_ws(p);
            if (*p == close) {
                return p + 1;
            }
            if (*p++ != ',') {
                return NULL;
            }
        }
    }
    if (*p == '"') {
        return json_string(p);
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        if (strncmp(p, words[i], strlen(words[i])) == 0) {
            return p + strlen(words[i]);
        }
    }
    char *end;
    strtod(p, &end);
    return end > p ? end : NULL;
}

START_TEST(info_json)
{
    spec s[] = {
        {.name = "cat/1.jpg", .label = "cat", .ok = 1, .content = 1, .phash = 1},
        {.name = "cat/\"odd\"\n\xff.jpg", .label = "cat", .ok = 0, .reason = "not an image"},
        {.name = "cat/Thumbs.db", .label = "cat", .ok = 0, .reason = "not an image"},
        {.name = "dog/1.jpg", .label = "dog", .ok = 1, .content = 1, .phash = 1},
        {.name = "dog/2.jpg", .label = "dog", .ok = 0, .reason = "not an image"},
        {.name = "dog/3.jpg", .label = "dog", .ok = 0, .reason = "decode: Premature end"},
        {.name = "test1/1.jpg", .ok = 1, .content = 9, .phash = 9},
    };
    ds_split_opts o = ds_split_opts_default();
    fix f;
    build(&f, "info.db", s, 7, &o);
    close_c(&f);
    ck_assert_int_eq(ds_catalog_open(&f.c, f.path, DS_OPEN_READ, f.err, sizeof f.err), 0);
    char *json = NULL;
    int rc = ds_catalog_info_json(f.c, &json, f.err, sizeof f.err);
    ck_assert_msg(rc == 0, "%s", f.err);
    const char *end = json_value(json);
    ck_assert_msg(end && *json_ws(end) == '\0', "not JSON: %s", json);
    static const char *const want[] = {
        "\"finished\":true",
        "\"classes\":[\"cat\",\"dog\"]",
        "\"samples\":{\"total\":7,\"ok\":3,\"rejected\":4,\"leakage\":0,\"unused\":0}",
        "\"train\":{\"total\":2,\"classes\":{\"cat\":1,\"dog\":1}}",
        "\"unlabeled\":{\"total\":1}",
        "{\"reason\":\"not an "
        "image\",\"count\":3,\"examples\":[\"cat/\\\"odd\\\"\\n\xEF\xBF\xBD.jpg\","
        "\"cat/Thumbs.db\",\"dog/2.jpg\"]}",
        "\"reason\":\"decode: Premature end\",\"count\":1",
        "\"exact\":{\"groups\":1,\"samples\":2",
        "\"layout\":\"folders\"",
        "\"options\":\"" OPTIONS "\"",
        "\"split\":\"split=source seed=0",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_msg(strstr(json, want[i]) != NULL, "missing %s in %s", want[i], json);
    }
    ck_assert_msg(strstr(json, ds_catalog_hash(f.c)) != NULL, "%s", json);
    free(json);
    fix_done(&f);
}
END_TEST

/* ---- finish against a naive twin ---------------------------------------- */

enum { TWIN_N = 1500, TWIN_BASES = 250 };

/* What finish should write for one sample (the policy of catalog_split.c,
 * catalog_exact.c and catalog_near.c,
 * computed the obvious way). */
typedef struct twin_row {
    int ok, label, split, removed, leak; /* split: 0 none, else twin_split_names;
                                            leak: 1 exact, 2 near */
    int64_t dup, near, leak_of;          /* -1: none */
} twin_row;

static const char *const twin_split_names[] = {NULL, "train", "validation", "test", "unlabeled"};

/* Four classes, unlabelled and rejected samples, exact copies, clusters
 * and chains of near hashes (more hashes with a neighbour than one chunk
 * of finish's union-find pass), thumbnails, Kaggle numbers, source
 * splits. */
static void twin_specs(spec *s, char names[][40])
{
    static const char *const classes[] = {"b", "a", "d", "c"};
    ck_rng r;
    ck_rng_init(&r, 42, 0, 0, CK_RNG_TEST);
    uint64_t base[TWIN_BASES];
    for (int b = 0; b < TWIN_BASES; b++) {
        base[b] = ck_rng_u64(&r);
    }
    for (int i = 0; i < TWIN_N; i++) {
        int unlabelled = ck_rng_below(&r, 100) < 8;
        uint32_t num = ck_rng_below(&r, 2600);
        s[i] = (spec){.name = names[i], .ok = ck_rng_below(&r, 40) != 0};
        if (unlabelled) {
            snprintf(names[i], 40, "test1/%u.jpg", num);
        } else {
            s[i].label = classes[ck_rng_below(&r, 4)];
            snprintf(names[i], 40, "train/%s.%u.jpg", s[i].label, num);
        }
        uint32_t u = ck_rng_below(&r, 10);
        s[i].split = u == 0 ? "validation" : u == 1 ? "test" : NULL;
        s[i].side = ck_rng_below(&r, 15) == 0 ? 28 : 0;
        if (i > 0 && ck_rng_below(&r, 12) == 0) {
            const spec *o = &s[ck_rng_below(&r, (uint32_t)i)];
            s[i].content = o->content;
            s[i].phash = o->phash;
        } else if (ck_rng_below(&r, 3) == 0) {
            s[i].content = (uint32_t)i + 1;
            s[i].phash = ck_rng_u64(&r);
        } else {
            s[i].content = (uint32_t)i + 1;
            s[i].phash = base[ck_rng_below(&r, TWIN_BASES)];
            for (uint32_t k = ck_rng_below(&r, 7); k > 0; k--) {
                s[i].phash ^= (uint64_t)1 << ck_rng_below(&r, 64);
            }
        }
    }
}

static int twin_split_of(const spec *s, int label, const ds_split_opts *o)
{
    if (!s->ok) {
        return 0;
    }
    if (label < 0) {
        return 4;
    }
    if (o->mode == DS_SPLIT_SOURCE) {
        return !s->split ? 1 : strcmp(s->split, "validation") == 0 ? 2 : 3;
    }
    if (o->mode == DS_SPLIT_FRACTIONS) { /* a publisher's test stays, unless pooled */
        return !o->pool_test && s->split && strcmp(s->split, "test") == 0 ? 3 : 0;
    }
    long num = strtol(strrchr(s->name, '/') + 3, NULL, 10); /* "train/x.N.jpg" */
    int last = o->mode == DS_SPLIT_CHOLLET_1ST ? 2000 : 2500;
    return num < 1000 ? 1 : num < 1500 ? 2 : num < last ? 3 : 0;
}

static int twin_cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void twin_splits(const spec *s, int n, const ds_split_opts *o, twin_row *t)
{
    const char *names[8];
    int nclasses = 0;
    for (int i = 0; i < n; i++) {
        int seen = !s[i].label;
        for (int c = 0; c < nclasses && !seen; c++) {
            seen = strcmp(names[c], s[i].label) == 0;
        }
        if (!seen) {
            names[nclasses++] = s[i].label;
        }
    }
    qsort(names, (size_t)nclasses, sizeof *names, twin_cmp_name);
    for (int i = 0; i < n; i++) {
        t[i] = (twin_row){.ok = s[i].ok, .label = -1, .dup = -1, .near = -1, .leak_of = -1};
        for (int c = 0; s[i].label && c < nclasses; c++) {
            t[i].label = strcmp(names[c], s[i].label) == 0 ? c : t[i].label;
        }
        t[i].split = twin_split_of(&s[i], t[i].label, o);
    }
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    for (int l = 0; l < nclasses; l++) {
        size_t m = 0;
        for (int i = 0; i < n; i++) {
            if (s[i].ok && t[i].label == l) {
                ids[m++] = i;
            }
        }
        ck_rng r;
        ck_rng_init(&r, o->seed, 0, (uint64_t)l, CK_RNG_SPLIT);
        ck_rng_shuffle_i64(&r, ids, m);
        int64_t pool = 0, q = 0;
        for (size_t p = 0; p < m; p++) {
            pool += t[ids[p]].split == 0;
        }
        int64_t ntrain = (int64_t)floor((double)pool * o->train + 0.5);
        int64_t nval = (int64_t)floor((double)pool * o->validation + 0.5);
        int64_t kept[5] = {0};
        for (size_t p = 0; p < m; p++) {
            twin_row *w = &t[ids[p]];
            if (o->mode == DS_SPLIT_FRACTIONS && w->split == 0) {
                w->split = q < ntrain ? 1 : q < ntrain + nval ? 2 : 3;
                q++;
            }
            if (o->limit_per_class > 0 && w->split && kept[w->split]++ >= o->limit_per_class) {
                w->split = 0;
            }
        }
    }
    free(ids);
}

static int twin_root(int *parent, int x)
{
    while (parent[x] != x) {
        x = parent[x];
    }
    return x;
}

static void twin(const spec *s, int n, const ds_split_opts *o, twin_row *t)
{
    twin_splits(s, n, o, t);
    int remove = o->mode != DS_SPLIT_SOURCE && !o->keep_leakage;
    for (int i = 0; i < n; i++) {
        int64_t first = -1, train = -1, size = 0;
        for (int j = 0; j < n && s[i].ok; j++) {
            if (s[j].ok && s[j].content == s[i].content) {
                first = first < 0 ? j : first;
                train = train < 0 && t[j].split == 1 ? j : train;
                size++;
            }
        }
        if (size >= 2) {
            t[i].dup = first;
            if (train >= 0 && (t[i].split == 2 || t[i].split == 3)) {
                t[i].leak = 1;
                t[i].leak_of = train;
                t[i].removed = remove;
            }
        }
    }
    if (o->near_distance < 0) {
        return;
    }
    int *parent = malloc((size_t)n * sizeof *parent);
    for (int i = 0; i < n; i++) {
        parent[i] = i;
    }
    int64_t *near_of = malloc((size_t)n * sizeof *near_of);
    for (int i = 0; i < n; i++) {
        near_of[i] = -1;
        for (int j = 0; j < n && s[i].ok && s[i].side == 0; j++) {
            if (!s[j].ok || s[j].side != 0) {
                continue;
            }
            int dist = ds_phash_distance(s[i].phash, s[j].phash);
            if (dist == 0 || (o->near_distance > 0 && dist <= o->near_distance)) {
                parent[twin_root(parent, j)] = twin_root(parent, i);
                near_of[i] = near_of[i] < 0 && t[j].split == 1 ? j : near_of[i];
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (!s[i].ok || s[i].side != 0) {
            continue;
        }
        int64_t first = -1, files = 0;
        for (int j = 0; j < n; j++) {
            if (!s[j].ok || s[j].side != 0 || twin_root(parent, j) != twin_root(parent, i)) {
                continue;
            }
            first = first < 0 ? j : first;
            int64_t rep = t[j].dup >= 0 ? t[j].dup : j;
            int counted = 0; /* a file counts once: at its first member in the cluster */
            for (int k = 0; k < j && !counted; k++) {
                counted = s[k].ok && s[k].side == 0 &&
                          twin_root(parent, k) == twin_root(parent, i) &&
                          (t[k].dup >= 0 ? t[k].dup : k) == rep;
            }
            files += !counted;
        }
        t[i].near = files >= 2 ? first : -1;
        if (t[i].leak == 0 && (t[i].split == 2 || t[i].split == 3) && near_of[i] >= 0) {
            t[i].leak = 2;
            t[i].leak_of = near_of[i];
        }
    }
    free(parent);
    free(near_of);
}

static void twin_check(const char *path, const twin_row *t, int n, const char *what)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_prepare_v2(db,
                           "SELECT id, coalesce(label, -1), split, status,"
                           " coalesce(dup_group, -1), coalesce(near_group, -1),"
                           " coalesce(leak_of, -1), leak_kind FROM samples ORDER BY id",
                           -1, &st, NULL),
        SQLITE_OK);
    int i = 0;
    for (; sqlite3_step(st) == SQLITE_ROW; i++) {
        const twin_row *w = &t[i];
        const char *split = (const char *)sqlite3_column_text(st, 2);
        const char *status = (const char *)sqlite3_column_text(st, 3);
        const char *kind = (const char *)sqlite3_column_text(st, 7);
        ck_assert_int_eq(sqlite3_column_int64(st, 0), i);
        ck_assert_msg(sqlite3_column_int(st, 1) == w->label, "%s: %d: label", what, i);
        ck_assert_msg(split ? w->split && strcmp(split, twin_split_names[w->split]) == 0
                            : w->split == 0,
                      "%s: %d: split %s, want %s", what, i, split ? split : "NULL",
                      w->split ? twin_split_names[w->split] : "NULL");
        const char *want = !w->ok ? "rejected" : w->removed ? "leakage" : "ok";
        ck_assert_msg(strcmp(status, want) == 0, "%s: %d: status %s, want %s", what, i, status,
                      want);
        ck_assert_msg(sqlite3_column_int64(st, 4) == w->dup, "%s: %d: dup_group %lld, want %lld",
                      what, i, (long long)sqlite3_column_int64(st, 4), (long long)w->dup);
        ck_assert_msg(sqlite3_column_int64(st, 5) == w->near, "%s: %d: near_group %lld, want %lld",
                      what, i, (long long)sqlite3_column_int64(st, 5), (long long)w->near);
        ck_assert_msg(sqlite3_column_int64(st, 6) == w->leak_of, "%s: %d: leak_of %lld, want %lld",
                      what, i, (long long)sqlite3_column_int64(st, 6), (long long)w->leak_of);
        ck_assert_msg(kind ? strcmp(kind, w->leak == 1 ? "exact" : "near") == 0 && w->leak
                           : w->leak == 0,
                      "%s: %d: leak_kind %s", what, i, kind ? kind : "NULL");
    }
    ck_assert_int_eq(i, n);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

START_TEST(finish_matches_naive_twin)
{
    static spec s[TWIN_N];
    static char names[TWIN_N][40];
    static twin_row t[TWIN_N];
    twin_specs(s, names);
    ds_split_opts o[7];
    for (int k = 0; k < 7; k++) {
        o[k] = ds_split_opts_default();
    }
    o[1].mode = DS_SPLIT_CHOLLET;
    o[1].near_distance = 6;
    o[2].mode = DS_SPLIT_FRACTIONS;
    o[2].train = 0.6, o[2].validation = 0.25, o[2].test = 0.15;
    o[2].seed = 9;
    o[2].limit_per_class = 120;
    o[2].near_distance = 3;
    o[3].mode = DS_SPLIT_CHOLLET_1ST;
    o[3].keep_leakage = 1;
    o[3].near_distance = 0;
    o[4].mode = DS_SPLIT_FRACTIONS;
    o[4].train = 0.5, o[4].validation = 0.5, o[4].test = 0;
    o[4].seed = 2;
    o[4].near_distance = -1;
    o[5].limit_per_class = 50;
    o[5].near_distance = 16;
    o[6] = o[2];
    o[6].pool_test = 1;
    for (int k = 0; k < 7; k++) {
        char what[64];
        snprintf(what, sizeof what, "options %d", k);
        twin(s, TWIN_N, &o[k], t);
        fix f;
        build(&f, "twin.db", s, TWIN_N, &o[k]);
        close_c(&f);
        twin_check(f.path, t, TWIN_N, what);
        fix_done(&f);
    }
}
END_TEST

/* ---- finish memory ------------------------------------------------------ */

/* VmHWM (reset = 0) or VmRSS of this process, kB. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) == 0) {
            v = atol(line + n);
        }
    }
    fclose(f);
    ck_assert_int_ge(v, 0);
    return v;
}

/* The RSS peak that ds_catalog_finish adds over the RSS before it, kB, on a
 * reopened catalog of n photo-sized samples: labelled, in near clusters of
 * four hashes one bit apart, every 50th an exact copy. */
static long finish_peak_kb(int n)
{
    fix f;
    fix_init(&f, "mem.db");
    open_w(&f);
    begin(&f);
    source(&f, 0, NULL);
    for (int i = 0; i < n; i++) {
        char name[40];
        snprintf(name, sizeof name, "train/%s.%d.jpg", i % 2 ? "dog" : "cat", i / 2);
        spec s = {.name = name,
                  .label = i % 2 ? "dog" : "cat",
                  .ok = 1,
                  .content = (uint32_t)(i % 50 ? i + 1 : 1),
                  .phash = ((uint64_t)(i / 4) * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)1 << (i % 4))};
        put(&f, i, 0, &s);
    }
    source_done(&f, 0, n, "h");
    close_c(&f);
    open_w(&f);
    begin(&f);
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    ck_assert_ptr_nonnull(clear);
    ck_assert_int_eq(fputs("5", clear) >= 0, 1); /* VmHWM := VmRSS */
    ck_assert_int_eq(fclose(clear), 0);
    long before = status_kb("VmRSS:");
    ds_split_opts o = ds_split_opts_default();
    o.mode = DS_SPLIT_FRACTIONS;
    o.train = 0.8, o.validation = 0.1, o.test = 0.1;
    finish(&f, &o);
    long peak = status_kb("VmHWM:");
    fix_done(&f);
    return peak - before;
}

/* finish_peak_kb(n) in a child process, so that each size starts from the
 * same heap. */
static long finish_peak_kb_fresh(int n)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        long kb = finish_peak_kb(n);
        _exit(write(fd[1], &kb, sizeof kb) == (ssize_t)sizeof kb ? 0 : 1);
    }
    close(fd[1]);
    long kb = -1;
    ck_assert_int_eq(read(fd[0], &kb, sizeof kb), (ssize_t)sizeof kb);
    close(fd[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
    return kb;
}

START_TEST(finish_memory_does_not_grow)
{
    long small = finish_peak_kb_fresh(10000), large = finish_peak_kb_fresh(40000);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* The sanitizers' allocators keep freed memory in quarantine. */
    fprintf(stderr, "finish added %ld kB at 10,000 samples, %ld kB at 40,000 (not checked)\n",
            small, large);
#else
    ck_assert_msg(large - small < 2048, "finish added %ld kB at 10,000 samples, %ld kB at 40,000",
                  small, large);
#endif
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ds_catalog");
    TCase *tc = tcase_create("catalog");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ids_and_resume);
    tcase_add_test(tc, finished_and_mismatched);
    tcase_add_test(tc, imageless_catalog_is_replaced);
    tcase_add_test(tc, errors_name_the_catalog);
    tcase_add_test(tc, split_modes);
    tcase_add_test(tc, fractions_are_seeded_and_limited);
    tcase_add_test(tc, split_parse);
    tcase_add_test(tc, class_names_parse);
    tcase_add_test(tc, leakage_policy);
    tcase_add_test(tc, duplicate_groups);
    tcase_add_test(tc, info_json);
    tcase_add_test(tc, finish_matches_naive_twin);
    tcase_add_test(tc, finish_memory_does_not_grow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(suite());
}
