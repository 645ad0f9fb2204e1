/* test_pl_loader.c: the training loader on catalogs made here with
 * pl_ingest_run (generated PNG/JPEG pictures of several sizes in two class
 * folders), and on the real alien-vs-predator photos.
 *
 * Every check compares results, never durations: batches are compared byte
 * for byte across worker counts, orders as id lists, statistics by the
 * identities they must satisfy. Waiting for a full prefetch polls the
 * loader's statistics; Check's timeout is what catches a hang.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <time.h>
#include <vips/vips.h>

#include "ck_test.h"
#include "im.h"
#include "pl.h"

enum { NA = 13, NB = 12, NSAMPLES = NA + NB, W = 24, H = 20, BATCH = 4 };

static void init(void)
{
    char err[256];
    ck_assert_msg(im_init("test_pl_loader", err, sizeof err) == 0, "%s", err);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    ck_assert_int_eq(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* A picture of w x h x 3: per-image gradients plus noise, drawn from
 * ck_rng (made here rather than by libvips operations, which are slow under
 * ThreadSanitizer), saved to path in the format of its suffix. */
static void picture(const char *path, int w, int h, int seed)
{
    ck_rng r;
    ck_rng_init(&r, (uint64_t)seed, 0, 0, CK_RNG_TEST);
    uint8_t *px = malloc((size_t)w * h * 3);
    ck_assert_ptr_nonnull(px);
    int gx[3], gy[3], base[3];
    for (int c = 0; c < 3; c++) {
        gx[c] = (int)ck_rng_below(&r, 9) - 4;
        gy[c] = (int)ck_rng_below(&r, 9) - 4;
        base[c] = (int)ck_rng_below(&r, 256);
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++) {
                int v = base[c] + gx[c] * x + gy[c] * y + (int)ck_rng_below(&r, 32);
                px[((size_t)y * w + x) * 3 + c] = (uint8_t)(v & 0xff);
            }
        }
    }
    VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * 3, w, h, 3, VIPS_FORMAT_UCHAR);
    ck_assert_ptr_nonnull(im);
    ck_assert_msg(vips_image_write_to_file(im, path, NULL) == 0, "save %s: %s", path,
                  vips_error_buffer());
    g_object_unref(im);
    free(px);
}

static void ingest(const char *src, const char *db)
{
    pl_ingest_opts o;
    pl_ingest_opts_default(&o);
    o.sources = &src;
    o.nsources = 1;
    o.output = db;
    o.threads = 2;
    pl_ingest_stats st;
    char err[1024];
    ck_assert_msg(pl_ingest_run(&o, &st, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(st.rejected, 0);
}

/* A scratch dir holding a/ (NA PNGs), b/ (NB JPEGs) of assorted sizes and
 * their catalog dir/x.db, all in split "train". */
typedef struct fixture {
    char dir[256];
    char db[300];
} fixture;

static void make_catalog(fixture *f)
{
    init();
    ck_test_tmpdir(f->dir, sizeof f->dir);
    char path[400];
    snprintf(path, sizeof path, "%s/src", f->dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/src/%c", f->dir, "ab"[c]);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        for (int i = 0; i < (c ? NB : NA); i++) {
            snprintf(path, sizeof path, "%s/src/%c/%02d.%s", f->dir, "ab"[c], i, c ? "jpg" : "png");
            picture(path, 30 + 7 * i, 26 + 5 * ((i * 3) % 7), 100 * c + i);
        }
    }
    snprintf(path, sizeof path, "%s/src", f->dir);
    snprintf(f->db, sizeof f->db, "%s/x.db", f->dir);
    ingest(path, f->db);
}

static pl_loader_opts opts_for(const char *db, const aug_policy *policy, int workers)
{
    pl_loader_opts o;
    pl_loader_opts_default(&o);
    o.catalog = db;
    o.split = "train";
    o.batch = BATCH;
    o.seed = 7;
    o.aug = aug_params_default(W, H, 3);
    o.aug.policy = policy;
    o.workers = workers;
    o.prefetch = 2;
    return o;
}

/* One epoch, as delivered: samples, their ids and labels in order, the
 * pixels concatenated, and the batch sizes. */
typedef struct epoch_run {
    int n, nbatches;
    int64_t ids[NSAMPLES];
    int32_t labels[NSAMPLES];
    int sizes[NSAMPLES];
    float x[NSAMPLES * W * H * 3];
} epoch_run;

static void run_epoch(pl_loader *l, int epoch, epoch_run *r)
{
    char err[1024];
    memset(r, 0, sizeof *r);
    ck_assert_msg(pl_loader_begin(l, epoch, err, sizeof err) == 0, "%s", err);
    pl_batch b;
    int rc;
    while ((rc = pl_loader_next(l, &b, err, sizeof err)) == 1) {
        ck_assert_int_eq(b.index, r->nbatches);
        ck_assert_int_le(r->n + b.n, NSAMPLES);
        ck_assert_int_eq((uintptr_t)b.x % 64, 0);
        memcpy(r->ids + r->n, b.ids, (size_t)b.n * sizeof *b.ids);
        memcpy(r->labels + r->n, b.labels, (size_t)b.n * sizeof *b.labels);
        memcpy(r->x + (size_t)r->n * W * H * 3, b.x, (size_t)b.n * W * H * 3 * sizeof(float));
        r->sizes[r->nbatches++] = b.n;
        r->n += b.n;
    }
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(pl_loader_next(l, &b, err, sizeof err), 0); /* stays ended */
}

static void assert_same(const epoch_run *a, const epoch_run *b)
{
    ck_assert_int_eq(a->n, b->n);
    ck_assert_int_eq(a->nbatches, b->nbatches);
    ck_assert(memcmp(a->ids, b->ids, sizeof a->ids) == 0);
    ck_assert(memcmp(a->labels, b->labels, sizeof a->labels) == 0);
    ck_assert(memcmp(a->sizes, b->sizes, sizeof a->sizes) == 0);
    ck_assert(memcmp(a->x, b->x, sizeof a->x) == 0);
}

/* 1 if every value is in [0, 1]; adds them to *sum (may be NULL). Check
 * records every assertion, so per-pixel ones would dominate the run time. */
static int in_unit_range(const float *x, size_t n, double *sum)
{
    int ok = 1;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        ok &= x[i] >= 0.0f && x[i] <= 1.0f;
        s += (double)x[i];
    }
    if (sum) {
        *sum += s;
    }
    return ok;
}

static aug_policy *policy(const char *text)
{
    aug_policy *p;
    char err[256];
    ck_assert_msg(aug_policy_parse(&p, text, err, sizeof err) == 0, "%s", err);
    return p;
}

static pl_loader *open_loader(const pl_loader_opts *o)
{
    pl_loader *l;
    char err[1024];
    ck_assert_msg(pl_loader_open(&l, o, err, sizeof err) == 0, "%s", err);
    return l;
}

START_TEST(same_bytes_with_0_1_2_4_workers)
{
    fixture f;
    make_catalog(&f);
    aug_policy *p = policy("chollet-2nd");
    static epoch_run ref[2], got;
    const int workers[] = {0, 1, 2, 4};
    for (int k = 0; k < 4; k++) {
        pl_loader_opts o = opts_for(f.db, p, workers[k]);
        o.prefetch = 1 + k % 3;
        pl_loader *l = open_loader(&o);
        ck_assert_int_eq(pl_loader_size(l), NSAMPLES);
        for (int e = 0; e < 2; e++) {
            run_epoch(l, e, k == 0 ? &ref[e] : &got);
            if (k > 0) {
                assert_same(&ref[e], &got);
            }
        }
        pl_loader_close(l);
    }
    /* Epochs draw other augmentations, not only another order. */
    ck_assert(memcmp(ref[0].x, ref[1].x, sizeof ref[0].x) != 0);
    aug_policy_destroy(p);
    rm_tree(f.dir);
}
END_TEST

/* Every sample of a batch is what aug_pipe_run makes of its BLOB with the
 * key (seed, epoch, id), and carries its own label. */
START_TEST(samples_match_their_blob_and_label)
{
    fixture f;
    make_catalog(&f);
    aug_policy *p = policy("chollet-2nd");
    pl_loader_opts o = opts_for(f.db, p, 2);
    pl_loader *l = open_loader(&o);
    static epoch_run r;
    run_epoch(l, 3, &r);
    pl_loader_close(l);

    char err[1024];
    ds_catalog *c;
    ck_assert_msg(ds_catalog_open(&c, f.db, DS_OPEN_READ, err, sizeof err) == 0, "%s", err);
    int64_t *ids;
    int32_t *labels;
    size_t n;
    ck_assert_int_eq(ds_catalog_split(c, "train", &ids, &labels, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, NSAMPLES);
    aug_pipe *pipe;
    ck_assert_int_eq(aug_pipe_create(&pipe, &o.aug, err, sizeof err), 0);
    static float want[W * H * 3];
    for (int i = 0; i < r.n; i++) {
        ds_blob b;
        ck_assert_int_eq(ds_catalog_blob(c, r.ids[i], &b, err, sizeof err), 0);
        aug_src src = {.data = b.data, .size = b.size, .name = b.name};
        ck_assert_int_eq(
            aug_pipe_run(pipe, &src, o.seed, 3, (uint64_t)r.ids[i], want, err, sizeof err), 0);
        ck_assert(memcmp(want, r.x + (size_t)i * W * H * 3, sizeof want) == 0);
        for (size_t j = 0; j < n; j++) {
            if (ids[j] == r.ids[i]) {
                ck_assert_int_eq(r.labels[i], labels[j]);
            }
        }
        /* a/ is label 0, b/ label 1: the PNGs come first in id order. */
        ck_assert_int_eq(r.labels[i], strstr(b.name, "png") ? 0 : 1);
    }
    ck_assert(in_unit_range(r.x, (size_t)r.n * W * H * 3, NULL));
    aug_pipe_destroy(pipe);
    free(ids);
    free(labels);
    ds_catalog_close(c);
    aug_policy_destroy(p);
    rm_tree(f.dir);
}
END_TEST

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

START_TEST(each_sample_once_order_per_epoch)
{
    fixture f;
    make_catalog(&f);
    pl_loader_opts o = opts_for(f.db, NULL, 2);
    pl_loader *l = open_loader(&o);
    static epoch_run e0, e1, again, seq;
    run_epoch(l, 0, &e0);
    run_epoch(l, 1, &e1);
    pl_loader_close(l);
    l = open_loader(&o);
    run_epoch(l, 1, &again);
    pl_loader_close(l);
    o.shuffle = 0;
    l = open_loader(&o);
    run_epoch(l, 5, &seq);
    pl_loader_close(l);

    ck_assert_int_eq(e0.n, NSAMPLES);
    ck_assert_int_eq(e0.nbatches, (NSAMPLES + BATCH - 1) / BATCH);
    ck_assert_int_eq(e0.sizes[e0.nbatches - 1], NSAMPLES % BATCH);
    ck_assert(memcmp(e0.ids, e1.ids, sizeof e0.ids) != 0); /* another order */
    assert_same(&e1, &again);                              /* the same on a rerun */
    /* Sequential: id order; the shuffled epochs hold the same ids once. */
    for (int i = 1; i < seq.n; i++) {
        ck_assert_int_lt(seq.ids[i - 1], seq.ids[i]);
    }
    int64_t sorted[NSAMPLES];
    const epoch_run *shuffled[2] = {&e0, &e1};
    for (int k = 0; k < 2; k++) {
        memcpy(sorted, shuffled[k]->ids, sizeof sorted);
        qsort(sorted, NSAMPLES, sizeof *sorted, cmp_i64);
        ck_assert(memcmp(sorted, seq.ids, sizeof sorted) == 0);
    }
    rm_tree(f.dir);
}
END_TEST

START_TEST(drop_last)
{
    fixture f;
    make_catalog(&f);
    pl_loader_opts o = opts_for(f.db, NULL, 1);
    o.drop_last = 1;
    pl_loader *l = open_loader(&o);
    int full = NSAMPLES / BATCH * BATCH;
    ck_assert_int_eq(pl_loader_size(l), full);
    static epoch_run r[2];
    for (int e = 0; e < 2; e++) {
        run_epoch(l, e, &r[e]);
        ck_assert_int_eq(r[e].n, full);
        ck_assert_int_eq(r[e].nbatches, NSAMPLES / BATCH);
        for (int i = 0; i < r[e].nbatches; i++) {
            ck_assert_int_eq(r[e].sizes[i], BATCH);
        }
        int64_t sorted[NSAMPLES];
        memcpy(sorted, r[e].ids, sizeof sorted);
        qsort(sorted, (size_t)full, sizeof *sorted, cmp_i64);
        for (int i = 1; i < full; i++) {
            ck_assert_int_lt(sorted[i - 1], sorted[i]);
        }
    }
    pl_loader_close(l);

    /* Not even one full batch: refused when opening. */
    o.batch = NSAMPLES + 1;
    char err[1024];
    ck_assert_int_eq(pl_loader_open(&l, &o, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_null(l);
    o.drop_last = 0;
    l = open_loader(&o);
    run_epoch(l, 0, &r[0]);
    ck_assert_int_eq(r[0].nbatches, 1);
    ck_assert_int_eq(r[0].n, NSAMPLES);
    pl_loader_close(l);
    rm_tree(f.dir);
}
END_TEST

START_TEST(bad_options_and_calls)
{
    fixture f;
    make_catalog(&f);
    char err[1024];
    pl_loader *l;
    pl_loader_opts o = opts_for(f.db, NULL, 1);
    o.split = "validation";
    ck_assert_int_eq(pl_loader_open(&l, &o, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "validation") != NULL, "%s", err);
    o = opts_for(f.db, NULL, -2);
    ck_assert_int_eq(pl_loader_open(&l, &o, err, sizeof err), CK_EINVAL);
    o = opts_for(f.db, NULL, 1);
    o.aug.dtype = AUG_U8;
    ck_assert_int_eq(pl_loader_open(&l, &o, err, sizeof err), CK_EINVAL);
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.db", f.dir);
    o = opts_for(missing, NULL, 1);
    ck_assert_int_lt(pl_loader_open(&l, &o, err, sizeof err), 0);

    o = opts_for(f.db, NULL, PL_LOADER_AUTO);
    o.prefetch = PL_LOADER_AUTO;
    l = open_loader(&o);
    pl_batch b;
    ck_assert_int_eq(pl_loader_next(l, &b, err, sizeof err), CK_EINVAL);
    ck_assert_int_eq(pl_loader_begin(l, -1, err, sizeof err), CK_EINVAL);
    static epoch_run r;
    run_epoch(l, 0, &r);
    ck_assert_int_eq(r.n, NSAMPLES);
    pl_loader_close(l);
    pl_loader_close(NULL);
    rm_tree(f.dir);
}
END_TEST

/* Replaces sample id's bytes with something that is not an image. */
static void tamper(const char *db, int64_t id, char *name, size_t len)
{
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open(db, &s), SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE blobs SET data = X'FFD8FFE000104A46' WHERE id = %lld",
             (long long)id);
    ck_assert_int_eq(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_changes(s), 1);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "SELECT name FROM samples WHERE id = ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(name, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_close(s), SQLITE_OK);
}

START_TEST(decode_error_names_the_sample)
{
    fixture f;
    make_catalog(&f);
    static epoch_run seq;
    pl_loader_opts o = opts_for(f.db, NULL, 1);
    o.shuffle = 0;
    pl_loader *l = open_loader(&o);
    run_epoch(l, 0, &seq);
    pl_loader_close(l);
    int64_t bad = seq.ids[NSAMPLES / 2];
    char name[256], want[300];
    tamper(f.db, bad, name, sizeof name);
    snprintf(want, sizeof want, "sample %lld", (long long)bad);

    aug_policy *p = policy("chollet-2nd");
    const int workers[] = {0, 1, 2, 4};
    for (int k = 0; k < 4; k++) {
        o = opts_for(f.db, p, workers[k]);
        o.prefetch = 1;
        l = open_loader(&o);
        for (int e = 0; e < 2; e++) { /* an epoch after the error runs again */
            char err[1024] = "";
            pl_batch b;
            ck_assert_int_eq(pl_loader_begin(l, e, err, sizeof err), 0);
            int rc, nb = 0;
            while ((rc = pl_loader_next(l, &b, err, sizeof err)) == 1) {
                for (int i = 0; i < b.n; i++) {
                    ck_assert_int_ne(b.ids[i], bad);
                }
                nb++;
            }
            ck_assert_int_eq(rc, CK_EDECODE);
            ck_assert_msg(strstr(err, want) && strstr(err, name) && strstr(err, "x.db"),
                          "message '%s' lacks '%s' or '%s'", err, want, name);
            ck_assert_int_lt(nb, (NSAMPLES + BATCH - 1) / BATCH);
            char again[1024];
            ck_assert_int_eq(pl_loader_next(l, &b, again, sizeof again), CK_EDECODE);
            ck_assert_str_eq(again, err);
        }
        pl_loader_close(l);
    }
    aug_policy_destroy(p);
    rm_tree(f.dir);
}
END_TEST

/* Waits until the workers finished `n` batches of the epoch (no more can
 * come before the consumer takes one, if n is the prefetch capacity). */
static void wait_made(pl_loader *l, int64_t n)
{
    pl_loader_stats st;
    for (;;) {
        pl_loader_get_stats(l, &st);
        if (st.workers.items >= n) {
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    ck_assert_int_eq(st.workers.items, n);
}

START_TEST(close_when_full_empty_or_midway)
{
    fixture f;
    make_catalog(&f);
    aug_policy *p = policy("chollet-2nd");
    char err[1024];
    pl_batch b;
    for (int workers = 1; workers <= 3; workers++) {
        pl_loader_opts o = opts_for(f.db, p, workers);
        o.prefetch = 1;
        o.batch = 2;
        /* Full: every buffer but the lent one holds a finished batch. */
        pl_loader *l = open_loader(&o);
        ck_assert_int_eq(pl_loader_begin(l, 0, err, sizeof err), 0);
        wait_made(l, o.prefetch + workers);
        pl_loader_close(l);

        /* Full again, with one batch lent. */
        l = open_loader(&o);
        ck_assert_int_eq(pl_loader_begin(l, 0, err, sizeof err), 0);
        ck_assert_int_eq(pl_loader_next(l, &b, err, sizeof err), 1);
        wait_made(l, 1 + o.prefetch + workers);
        pl_loader_close(l);

        /* Empty: right after begin, workers on their first samples. */
        l = open_loader(&o);
        ck_assert_int_eq(pl_loader_begin(l, 0, err, sizeof err), 0);
        pl_loader_close(l);

        /* Begun twice mid-epoch: the second epoch is whole and right. */
        static epoch_run fresh, after;
        l = open_loader(&o);
        run_epoch(l, 1, &fresh);
        ck_assert_int_eq(pl_loader_begin(l, 0, err, sizeof err), 0);
        ck_assert_int_eq(pl_loader_next(l, &b, err, sizeof err), 1);
        run_epoch(l, 1, &after);
        assert_same(&fresh, &after);
        pl_loader_close(l);

        /* Never begun. */
        l = open_loader(&o);
        pl_loader_close(l);
    }
    aug_policy_destroy(p);
    rm_tree(f.dir);
}
END_TEST

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

START_TEST(stall_statistics_add_up)
{
    fixture f;
    make_catalog(&f);
    for (int workers = 0; workers <= 2; workers++) {
        pl_loader_opts o = opts_for(f.db, NULL, workers);
        pl_loader *l = open_loader(&o);
        char err[1024];
        ck_assert_int_eq(pl_loader_begin(l, 0, err, sizeof err), 0);
        double inside = 0, slept = 0;
        pl_batch b;
        int rc, nb = 0;
        for (;;) {
            double t0 = now();
            rc = pl_loader_next(l, &b, err, sizeof err);
            inside += now() - t0;
            if (rc != 1) {
                break;
            }
            nb++;
            double t1 = now();
            nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL); /* the "training step" */
            slept += now() - t1;
        }
        ck_assert_msg(rc == 0, "%s", err);
        pl_loader_stats st;
        pl_loader_get_stats(l, &st);
        ck_assert_int_eq(st.epoch, 0);
        ck_assert_int_eq(st.batches, nb);
        ck_assert_int_eq(st.samples, NSAMPLES);
        ck_assert_int_eq(st.consumer.items, nb);
        ck_assert(st.stall > 0);
        ck_assert(st.stall <= inside);
        ck_assert(st.consumer.wait == st.stall);
        ck_assert(st.consumer.busy >= slept);
        ck_assert(fabs(st.seconds - (st.stall + st.consumer.busy)) <= 1e-9 * st.seconds);
        ck_assert_int_eq(st.workers.items, nb);
        ck_assert_int_eq(st.workers.threads, workers);
        ck_assert(st.workers.busy > 0);
        if (workers == 0) {
            ck_assert(st.workers.busy <= st.stall); /* inline: decoding is stalling */
            ck_assert_int_eq(st.sampler.items, 0);
        } else {
            ck_assert_int_eq(st.sampler.items, nb);
            ck_assert_int_eq(st.sampler.threads, 1);
        }
        /* After the end, the figures stay. */
        pl_loader_stats again;
        pl_loader_get_stats(l, &again);
        ck_assert(again.seconds == st.seconds && again.stall == st.stall);
        ck_assert(again.consumer.busy == st.consumer.busy && again.workers.busy == st.workers.busy);
        pl_loader_close(l);
    }
    rm_tree(f.dir);
}
END_TEST

START_TEST(bench_counts_every_epoch)
{
    fixture f;
    make_catalog(&f);
    pl_loader_opts o = opts_for(f.db, NULL, 2);
    pl_loader_bench_result r;
    char err[1024];
    ck_assert_msg(pl_loader_bench_run(&o, 2, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.images, 2 * NSAMPLES);
    ck_assert_int_eq(r.batches, 2 * ((NSAMPLES + BATCH - 1) / BATCH));
    ck_assert_int_eq(r.workers, 2);
    ck_assert(r.seconds > 0 && r.cpu_seconds > 0 && r.images_per_s > 0);
    ck_assert(r.images_per_cpu_s > 0 && r.stall <= r.seconds);
    ck_assert_int_eq(r.last.epoch, 2);
    ck_assert_int_eq(pl_loader_bench_run(&o, 0, &r, err, sizeof err), CK_EINVAL);
    o.workers = PL_LOADER_AUTO;
    ck_assert_msg(pl_loader_bench_run(&o, 1, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_int_ge(r.workers, 1);
    o.workers = 0;
    ck_assert_msg(pl_loader_bench_run(&o, 1, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.workers, 0);
    ck_assert_int_eq(r.images, NSAMPLES);
    rm_tree(f.dir);
}
END_TEST

/* The real photos: two classes of 347, every sample once, [0, 1] pixels,
 * the same bytes with 1 and 2 workers (the two loaders run side by side and
 * their batches are compared as they come). */
START_TEST(alien_vs_predator_epoch)
{
    init();
    char data[512], dir[256], db[300], err[1024];
    if (!ck_test_data("alien-vs-predator/train", data, sizeof data)) {
        return;
    }
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(db, sizeof db, "%s/avp.db", dir);
    ingest(data, db);
    aug_policy *p = policy("chollet-2nd");
    enum { N = 694, S = 64 }; /* a small output keeps the ThreadSanitizer run short */
    pl_loader *l[2];
    for (int k = 0; k < 2; k++) {
        pl_loader_opts o;
        pl_loader_opts_default(&o);
        o.catalog = db;
        o.split = "train";
        o.aug = aug_params_default(S, S, 3);
        o.aug.policy = p;
        o.workers = k + 1;
        l[k] = open_loader(&o);
        ck_assert_int_eq(pl_loader_size(l[k]), N);
        ck_assert_int_eq(pl_loader_begin(l[k], 0, err, sizeof err), 0);
    }
    static int64_t ids[N];
    int per[2] = {0, 0}, n = 0, rc;
    double sum = 0;
    pl_batch b[2];
    while ((rc = pl_loader_next(l[0], &b[0], err, sizeof err)) == 1) {
        ck_assert_msg(pl_loader_next(l[1], &b[1], err, sizeof err) == 1, "%s", err);
        ck_assert_int_eq(b[0].n, b[1].n);
        ck_assert_int_le(b[0].n, 32);
        size_t floats = (size_t)b[0].n * S * S * 3;
        ck_assert(memcmp(b[0].x, b[1].x, floats * sizeof(float)) == 0);
        ck_assert(memcmp(b[0].ids, b[1].ids, (size_t)b[0].n * sizeof(int64_t)) == 0);
        ck_assert(memcmp(b[0].labels, b[1].labels, (size_t)b[0].n * sizeof(int32_t)) == 0);
        for (int i = 0; i < b[0].n; i++) {
            ck_assert(b[0].labels[i] == 0 || b[0].labels[i] == 1);
            per[b[0].labels[i]]++;
            ids[n++] = b[0].ids[i];
        }
        ck_assert(in_unit_range(b[0].x, floats, &sum));
    }
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(pl_loader_next(l[1], &b[1], err, sizeof err), 0);
    ck_assert_int_eq(n, N);
    ck_assert_int_eq(per[0], 347);
    ck_assert_int_eq(per[1], 347);
    qsort(ids, N, sizeof ids[0], cmp_i64);
    for (int i = 1; i < N; i++) {
        ck_assert_int_lt(ids[i - 1], ids[i]);
    }
    double mean = sum / ((double)N * S * S * 3);
    ck_assert_msg(mean > 0.1 && mean < 0.9, "mean pixel %g", mean);
    pl_loader_close(l[0]);
    pl_loader_close(l[1]);
    aug_policy_destroy(p);
    rm_tree(dir);
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("pl_loader");
    TCase *tc = tcase_create("loader");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, same_bytes_with_0_1_2_4_workers);
    tcase_add_test(tc, samples_match_their_blob_and_label);
    tcase_add_test(tc, each_sample_once_order_per_epoch);
    tcase_add_test(tc, drop_last);
    tcase_add_test(tc, bad_options_and_calls);
    tcase_add_test(tc, decode_error_names_the_sample);
    tcase_add_test(tc, close_when_full_empty_or_midway);
    tcase_add_test(tc, stall_statistics_add_up);
    tcase_add_test(tc, bench_counts_every_epoch);
    tcase_add_test(tc, alien_vs_predator_epoch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(loader_suite());
}
