/* test_nn_train.c: the trainer on a synthetic separable task: it learns it,
 * the same seed gives the same curve, a run stopped and resumed ends
 * identical to an uninterrupted one, a NaN stops the run with its place,
 * early stopping, checkpoints for evaluate/predict, and what it hands its
 * recorder (kept in memory here, by the rules runs.db keeps: a name is one
 * run, and a resumed run drops the epochs recorded after its checkpoint;
 * runs.db itself is tested in tests/runs). */
#include <math.h>
#include <string.h>

#include "nn_internal.h"
#include "nn_test_util.h"

/* ---- a synthetic source --------------------------------------------------
 * 8x8 grey images of noise with one half brighter: the class says which. */

enum { SIDE = 8, PIX = SIDE * SIDE, BATCH = 16 };

typedef struct synth {
    int n;
    float *x;
    int32_t *y;
    uint64_t seed;
    uint32_t *order;
    int pos;
    float bx[BATCH * PIX];
    int32_t by[BATCH];
    int nan_epoch, nan_batch, epoch, batch; /* NaN injection, 1-based */
} synth;

static void synth_make(synth *s, int n, uint64_t id)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->seed = 77;
    s->x = nt_rand((size_t)n * PIX, 0, 1, id);
    s->y = malloc((size_t)n * sizeof *s->y);
    s->order = malloc((size_t)n * sizeof *s->order);
    for (int i = 0; i < n; i++) {
        s->y[i] = i % 2;
        for (int p = 0; p < PIX; p++) {
            int right = p % SIDE >= SIDE / 2;
            s->x[(size_t)i * PIX + p] += right == s->y[i] ? 1.0f : 0.0f;
        }
    }
}

static void synth_free(synth *s)
{
    free(s->x);
    free(s->y);
    free(s->order);
}

static int synth_begin(void *ctx, int epoch, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    synth *s = ctx;
    for (int i = 0; i < s->n; i++) {
        s->order[i] = (uint32_t)i;
    }
    ck_rng r;
    ck_rng_init(&r, s->seed, (uint64_t)epoch, 0, CK_RNG_SHUFFLE);
    ck_rng_shuffle_u32(&r, s->order, (size_t)s->n);
    s->pos = 0;
    s->epoch = epoch + 1;
    s->batch = 0;
    return 0;
}

static int synth_next(void *ctx, nn_batch *b, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    synth *s = ctx;
    int k = s->n - s->pos < BATCH ? s->n - s->pos : BATCH;
    for (int i = 0; i < k; i++) {
        uint32_t j = s->order[s->pos + i];
        memcpy(s->bx + (size_t)i * PIX, s->x + (size_t)j * PIX, PIX * sizeof(float));
        s->by[i] = s->y[j];
    }
    s->pos += k;
    s->batch++;
    if (k > 0 && s->epoch == s->nan_epoch && s->batch == s->nan_batch) {
        s->bx[5] = NAN;
    }
    *b = (nn_batch){.x = s->bx, .labels = s->by, .n = k};
    return 0;
}

static nn_source synth_source(synth *s)
{
    return (nn_source){.ctx = s, .size = s->n, .begin = synth_begin, .next = synth_next};
}

static const char softmax_spec[] = "Input(shape=(8, 8, 1))\n"
                                   "Conv2D(4, 3, activation='relu')\n"
                                   "MaxPooling2D(2)\n"
                                   "Flatten()\n"
                                   "Dropout(0.2)\n"
                                   "Dense(2, activation='softmax')\n";

static const char sigmoid_spec[] = "Input(shape=(8, 8, 1))\n"
                                   "Conv2D(4, 3, padding='same', activation='relu')\n"
                                   "MaxPooling2D(2)\n"
                                   "Flatten()\n"
                                   "Dropout(0.25)\n"
                                   "Dense(8, activation='relu')\n"
                                   "Dense(1, activation='sigmoid')\n";

/* ---- a recorder in memory ------------------------------------------------- */

enum { MAX_RUNS = 16, MAX_EPOCHS = 16 };

typedef struct rec_run {
    char name[32], status[16];
    int n;                   /* epochs recorded */
    double v[MAX_EPOCHS][4]; /* loss, accuracy, val_loss, val_accuracy */
} rec_run;

typedef struct rec_store {
    rec_run runs[MAX_RUNS];
    int nruns;
    const char *current; /* the run being trained */
    nn_recorder rec;
} rec_store;

static rec_run *rec_find(rec_store *st, const char *name)
{
    for (int i = 0; i < st->nruns; i++) {
        if (strcmp(st->runs[i].name, name) == 0) {
            return &st->runs[i];
        }
    }
    return NULL;
}

static int rec_start(void *ctx, const char *config, const char *summary, int resume, int done,
                     char *err, size_t errlen)
{
    rec_store *st = ctx;
    ck_assert(config && *config == '{' && summary && *summary);
    rec_run *r = rec_find(st, st->current);
    if (r && !resume) {
        return ck_err(err, errlen, CK_EINVAL, "runs: run %s: already recorded", st->current);
    }
    if (!r) {
        ck_assert_int_lt(st->nruns, MAX_RUNS);
        r = &st->runs[st->nruns++];
        snprintf(r->name, sizeof r->name, "%s", st->current);
    }
    r->n = done < r->n ? done : r->n;
    snprintf(r->status, sizeof r->status, "running");
    return 0;
}

static int rec_epoch(void *ctx, const nn_progress *p, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rec_store *st = ctx;
    rec_run *r = rec_find(st, st->current);
    ck_assert(r && p->epoch >= 1 && p->epoch <= MAX_EPOCHS);
    ck_assert_int_le(p->epoch, r->n + 1); /* in order, or redoing the last */
    r->n = p->epoch;
    double v[4] = {p->loss, p->accuracy, p->val_loss, p->val_accuracy};
    memcpy(r->v[p->epoch - 1], v, sizeof v);
    return 0;
}

static int rec_finish(void *ctx, const char *status, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rec_store *st = ctx;
    rec_run *r = rec_find(st, st->current);
    ck_assert_ptr_nonnull(r);
    snprintf(r->status, sizeof r->status, "%s", status);
    return 0;
}

typedef struct fixture {
    char dir[256], other[300], last[300], best[300];
    synth tr, va;
    nn_source train, val;
    rec_store runs;
} fixture;

static void fixture_init(fixture *f)
{
    ck_test_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->other, sizeof f->other, "%s/runs.db", f->dir);
    FILE *fp = fopen(f->other, "wb"); /* a file of another kind */
    ck_assert_ptr_nonnull(fp);
    fputs("SQLite format 3", fp);
    fputc(0, fp);
    fclose(fp);
    memset(&f->runs, 0, sizeof f->runs);
    f->runs.rec = (nn_recorder){
        .ctx = &f->runs, .start = rec_start, .epoch = rec_epoch, .finish = rec_finish};
    synth_make(&f->tr, 64, 100);
    synth_make(&f->va, 24, 200);
    f->train = synth_source(&f->tr);
    f->val = synth_source(&f->va);
}

static void fixture_paths(fixture *f, const char *run)
{
    snprintf(f->last, sizeof f->last, "%s/%s-last.ckpt", f->dir, run);
    snprintf(f->best, sizeof f->best, "%s/%s-best.ckpt", f->dir, run);
}

static void fixture_free(fixture *f)
{
    synth_free(&f->tr);
    synth_free(&f->va);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static nn_model *make_model(const char *spec)
{
    char err[256] = "";
    nn_model *m;
    ck_assert_msg(nn_model_create(&m, spec, "synth", BATCH, err, sizeof err) == 0, "%s", err);
    return m;
}

static nn_train_opts opts_for(fixture *f, const char *run, int epochs)
{
    fixture_paths(f, run);
    nn_train_opts o = nn_train_defaults();
    o.epochs = epochs;
    o.optim = nn_optim_defaults(NN_OPT_ADAM);
    o.optim.lr = 0.01;
    o.seed = 5;
    o.threads = 1;
    f->runs.current = run;
    o.record = &f->runs.rec;
    o.dataset_hash = "synthetic";
    o.config_extra = "{\"classes\":[\"left\",\"right\"]}";
    o.last_path = f->last;
    o.best_path = f->best;
    return o;
}

/* The curve of a run as recorded: n rows of (loss, acc, val_loss, val_acc). */
static int read_curve(rec_store *st, const char *run, double *v, int max)
{
    rec_run *r = rec_find(st, run);
    ck_assert_ptr_nonnull(r);
    int n = r->n < max ? r->n : max;
    memcpy(v, r->v, (size_t)n * sizeof r->v[0]);
    return n;
}

static void read_status(rec_store *st, const char *run, char *out, size_t len)
{
    rec_run *r = rec_find(st, run);
    ck_assert_ptr_nonnull(r);
    snprintf(out, len, "%s", r->status);
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    ck_assert(fa && fb);
    int ca, cb, same = 1;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        same = same && ca == cb;
    } while (ca != EOF && cb != EOF);
    fclose(fa);
    fclose(fb);
    return same;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(learns_separable_task)
{
    fixture f;
    fixture_init(&f);
    for (int s = 0; s < 2; s++) {
        nn_model *m = make_model(s ? sigmoid_spec : softmax_spec);
        nn_train_opts o = opts_for(&f, s ? "sigmoid" : "softmax", 12);
        char err[256] = "";
        nn_train_result res;
        ck_assert_msg(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(res.epochs_done, 12);
        nn_eval ev;
        ck_assert_int_eq(nn_evaluate(m, NN_LOSS_AUTO, &f.train, 0, &ev, err, sizeof err), 0);
        ck_assert_msg(ev.accuracy == 1.0, "%s: training accuracy %g", s ? "sigmoid" : "softmax",
                      ev.accuracy);
        ck_assert_int_eq(ev.n, 64);
        ck_assert_int_eq(ev.classes, 2);
        ck_assert(ev.confusion[0] == 32 && ev.confusion[3] == 32);
        nn_eval_free(&ev);
        double curve[12 * 4];
        ck_assert_int_eq(read_curve(&f.runs, f.runs.current, curve, 12), 12);
        ck_assert(curve[11 * 4 + 0] < curve[0]); /* loss fell */
        ck_assert(curve[11 * 4 + 3] >= 0.95);    /* validation learned too */
        char status[32];
        read_status(&f.runs, f.runs.current, status, sizeof status);
        ck_assert_str_eq(status, "done");
        nn_model_destroy(m);
    }
    fixture_free(&f);
}
END_TEST

START_TEST(same_seed_same_curve)
{
    fixture f;
    fixture_init(&f);
    double c[3][8 * 4];
    const char *names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        nn_model *m = make_model(sigmoid_spec);
        nn_train_opts o = opts_for(&f, names[i], 8);
        o.seed = i == 2 ? 6 : 5;
        char err[256] = "";
        ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(read_curve(&f.runs, names[i], c[i], 8), 8);
        nn_model_destroy(m);
    }
    ck_assert_int_eq(memcmp(c[0], c[1], sizeof c[0]), 0);
    ck_assert_int_ne(memcmp(c[0], c[2], sizeof c[0]), 0);
    /* A name is a run: recording it twice is refused. */
    nn_model *m = make_model(sigmoid_spec);
    nn_train_opts o = opts_for(&f, "a", 8);
    char err[256] = "";
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "run a: already recorded")); /* the recorder's error */
    nn_model_destroy(m);
    fixture_free(&f);
}
END_TEST

/* A shard's forward in training draws the dropout masks the whole batch
 * draws for its rows (key.offset), and its loss gradient is scaled by the
 * whole batch. On convkit's own kernels its outputs are the batch's rows
 * bit for bit; on OpenBLAS's (the generic tier) a product's rounding may
 * depend on its row count, which is why a shard is always computed alone,
 * wherever it runs. */
START_TEST(shard_forward_is_batch_rows)
{
    synth d;
    synth_make(&d, BATCH, 300);
    for (int sig = 0; sig < 2; sig++) {
        nn_model *m = make_model(sig ? sigmoid_spec : softmax_spec);
        nn_model_init(m, 3);
        const int D = nn_model_outputs(m), a = 5, e = 12, last = m->nlayers - 1;
        const size_t L = m->layers[last].desc.size;
        int drop = 0;
        while (m->layers[drop].desc.kind != NN_DROPOUT) {
            drop++;
        }
        const size_t dn = m->layers[drop].desc.size;
        float whole[BATCH * 2], dz[BATCH * 2], mask[BATCH * 64], logits[BATCH * 2];
        ck_assert_uint_le(dn, 64);
        nn_step_key key = {.seed = 9, .epoch = 2, .batch = 7};
        nn_model_forward(m, d.x, BATCH, &key);
        memcpy(mask, m->layers[drop].mask, (size_t)BATCH * dn * sizeof *mask);
        memcpy(logits, m->logits, (size_t)BATCH * L * sizeof *logits);
        nn_model_loss(m, NN_LOSS_AUTO, d.y);
        memcpy(whole, nn_model_output(m), (size_t)BATCH * D * sizeof *whole);
        memcpy(dz, m->layers[last].dy, (size_t)BATCH * L * sizeof *dz);
        key.offset = a;
        nn_model_forward(m, d.x + (size_t)a * PIX, e - a, &key);
        ck_assert_int_eq(memcmp(m->layers[drop].mask, mask + (size_t)a * dn,
                                (size_t)(e - a) * dn * sizeof *mask),
                         0);
        if (m->ex.kern) {
            ck_assert_int_eq(memcmp(nn_model_output(m), whole + (size_t)a * D,
                                    (size_t)(e - a) * D * sizeof *whole),
                             0);
        } else { /* the same logits, to test the loss's scale below */
            memcpy(m->logits, logits + (size_t)a * L, (size_t)(e - a) * L * sizeof *logits);
        }
        nn_model_loss_shard(m, NN_LOSS_AUTO, d.y + a, BATCH);
        ck_assert_int_eq(
            memcmp(m->layers[last].dy, dz + (size_t)a * L, (size_t)(e - a) * L * sizeof *dz), 0);
        nn_model_destroy(m);
    }
    synth_free(&d);
}
END_TEST

/* --shards: the same curve on any number of threads, close to (not the
 * bits of) whole batches'; more shards than a batch's samples are empty
 * ones, which add nothing. */
START_TEST(shards_same_curve)
{
    fixture f;
    fixture_init(&f);
    const int shards[4] = {1, 4, 4, 24}, threads[4] = {1, 1, 2, 1};
    const char *names[4] = {"whole", "s4t1", "s4t2", "s24"};
    double c[4][6 * 4];
    for (int i = 0; i < 4; i++) {
        nn_model *m = make_model(sigmoid_spec);
        nn_train_opts o = opts_for(&f, names[i], 6);
        o.shards = shards[i];
        o.threads = threads[i];
        char err[256] = "";
        ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(read_curve(&f.runs, names[i], c[i], 6), 6);
        nn_model_destroy(m);
    }
    ck_assert_int_eq(memcmp(c[1], c[2], sizeof c[1]), 0);
    ck_assert_int_ne(memcmp(c[0], c[1], sizeof c[0]), 0);
    for (int k = 0; k < 6 * 4; k++) {
        ck_assert_msg(fabs(c[0][k] - c[1][k]) < 1e-3 && fabs(c[0][k] - c[3][k]) < 1e-3,
                      "value %d: whole %.9g, 4 shards %.9g, 24 shards %.9g", k, c[0][k], c[1][k],
                      c[3][k]);
    }
    fixture_free(&f);
}
END_TEST

static int stop_after_3(void *ctx, const nn_progress *p)
{
    (void)ctx;
    return p->epoch == 3;
}

static int stop_at_once(void *ctx, const nn_progress *p)
{
    (void)ctx;
    (void)p;
    return 1;
}

/* RMSprop's momentum is state too: a run stopped after epoch 3 and
 * resumed ends with the uninterrupted run's checkpoint, byte for byte. */
START_TEST(resume_rmsprop_momentum)
{
    fixture f;
    fixture_init(&f);
    char err[256] = "";
    nn_model *m = make_model(sigmoid_spec);
    nn_train_opts o = opts_for(&f, "full", 5);
    o.optim = nn_optim_defaults(NN_OPT_RMSPROP);
    o.optim.momentum = 0.9;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    char full_last[300];
    snprintf(full_last, sizeof full_last, "%s", f.last);
    nn_optim_opts optim = o.optim;

    m = make_model(sigmoid_spec);
    o = opts_for(&f, "part", 5);
    o.optim = optim;
    o.on_epoch = stop_after_3;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err), CK_ECANCELED);
    nn_model_destroy(m);
    m = make_model(sigmoid_spec);
    o.on_epoch = NULL;
    o.resume = 1;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    ck_assert(files_equal(full_last, f.last));
    double a[5 * 4], b[5 * 4];
    ck_assert_int_eq(read_curve(&f.runs, "full", a, 5), 5);
    ck_assert_int_eq(read_curve(&f.runs, "part", b, 5), 5);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    /* And the momentum is used: without it the curve is another. */
    m = make_model(sigmoid_spec);
    o = opts_for(&f, "plain", 5);
    o.optim = nn_optim_defaults(NN_OPT_RMSPROP);
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    ck_assert_int_eq(read_curve(&f.runs, "plain", b, 5), 5);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    fixture_free(&f);
}
END_TEST

START_TEST(resume_equals_uninterrupted)
{
    fixture f;
    fixture_init(&f);
    char err[256] = "", status[32];
    nn_model *m = make_model(sigmoid_spec);
    nn_train_opts o = opts_for(&f, "full", 7);
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    char full_last[300];
    snprintf(full_last, sizeof full_last, "%s", f.last);

    /* "Killed" after epoch 3, then resumed by a fresh process's worth of state. */
    m = make_model(sigmoid_spec);
    o = opts_for(&f, "part", 7);
    o.on_epoch = stop_after_3;
    nn_train_result res;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err), CK_ECANCELED);
    ck_assert_int_eq(res.epochs_done, 3);
    read_status(&f.runs, "part", status, sizeof status);
    ck_assert_str_eq(status, "interrupted");
    nn_model_destroy(m);

    /* A kill between epoch 4's row and its checkpoint leaves a row that
     * the resumed run must redo. */
    rec_run *part = rec_find(&f.runs, "part");
    ck_assert_int_eq(part->n, 3);
    part->v[3][0] = 9.0;
    part->v[3][1] = 0.1;
    part->n = 4;

    m = make_model(sigmoid_spec);
    o.on_epoch = NULL;
    o.resume = 1;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(res.epochs_done, 7);
    nn_model_destroy(m);
    read_status(&f.runs, "part", status, sizeof status);
    ck_assert_str_eq(status, "done");

    double a[7 * 4], b[7 * 4];
    ck_assert_int_eq(read_curve(&f.runs, "full", a, 7), 7);
    ck_assert_int_eq(read_curve(&f.runs, "part", b, 7), 7);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    /* Same weights and optimizer state, byte for byte. */
    ck_assert(files_equal(full_last, f.last));

    /* A run killed before its first checkpoint resumes from the start. */
    m = make_model(sigmoid_spec);
    o = opts_for(&f, "early", 7);
    o.on_batch = stop_at_once;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err), CK_ECANCELED);
    ck_assert_int_eq(access(f.last, F_OK), -1);
    o.on_batch = NULL;
    o.resume = 1;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(read_curve(&f.runs, "early", b, 7), 7);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    nn_model_destroy(m);

    /* Resuming with another configuration is refused. */
    m = make_model(sigmoid_spec);
    o.optim.lr = 0.02;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "configuration differs"));
    nn_model_destroy(m);
    fixture_free(&f);
}
END_TEST

/* A finished run resumed with more epochs (Keras's initial_epoch) goes
 * on to the curve, weights and optimizer state of a run trained that long
 * from the start; fewer epochs than its checkpoint holds are refused. */
START_TEST(extend_equals_longer_run)
{
    fixture f;
    fixture_init(&f);
    char err[256] = "";
    nn_model *m = make_model(sigmoid_spec);
    nn_train_opts o = opts_for(&f, "long", 6);
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    char long_last[300];
    snprintf(long_last, sizeof long_last, "%s", f.last);

    m = make_model(sigmoid_spec);
    o = opts_for(&f, "short", 3);
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    m = make_model(sigmoid_spec);
    o.epochs = 6;
    o.resume = 1;
    nn_train_result res;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(res.epochs_done, 6);
    nn_model_destroy(m);
    double a[6 * 4], b[6 * 4];
    ck_assert_int_eq(read_curve(&f.runs, "long", a, 6), 6);
    ck_assert_int_eq(read_curve(&f.runs, "short", b, 6), 6);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert(files_equal(long_last, f.last));
    char *cfg = NULL;
    nn_ckpt_state st;
    m = make_model(sigmoid_spec);
    ck_assert_int_eq(nn_ckpt_read(m, f.last, &st, &cfg, err, sizeof err), 0);
    ck_assert_msg(strstr(cfg, ",\"epochs\":6,"), "%s", cfg);
    free(cfg);

    o.epochs = 4;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "the checkpoint is of epoch 6, after the last one (4)"), "%s", err);
    nn_model_destroy(m);
    fixture_free(&f);
}
END_TEST

START_TEST(nan_stops_with_place)
{
    fixture f;
    fixture_init(&f);
    f.tr.nan_epoch = 2;
    f.tr.nan_batch = 3;
    nn_model *m = make_model(softmax_spec);
    nn_train_opts o = opts_for(&f, "nan", 5);
    char err[256] = "";
    nn_train_result res;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err), CK_ENUMERIC);
    ck_assert_msg(strstr(err, "epoch 2 batch 3: loss is NaN") != NULL, "%s", err);
    ck_assert_int_eq(res.bad_epoch, 2);
    ck_assert_int_eq(res.bad_batch, 3);
    ck_assert_int_eq(res.epochs_done, 1);
    char status[32];
    read_status(&f.runs, "nan", status, sizeof status);
    ck_assert_str_eq(status, "failed");
    /* The last good checkpoint is epoch 1's, with finite weights. */
    nn_ckpt_state st;
    ck_assert_int_eq(nn_ckpt_read(m, f.last, &st, NULL, err, sizeof err), 0);
    ck_assert_int_eq(st.epoch, 1);
    for (size_t i = 0; i < m->nparams; i++) {
        ck_assert(isfinite(m->params[i]));
    }
    nn_model_destroy(m);
    fixture_free(&f);
}
END_TEST

START_TEST(early_stopping)
{
    fixture f;
    fixture_init(&f);
    nn_model *m = make_model(softmax_spec);
    nn_train_opts o = opts_for(&f, "flat", 10);
    o.optim = nn_optim_defaults(NN_OPT_SGD);
    o.optim.lr = 0; /* val_loss never improves after epoch 1 */
    o.patience = 2;
    char err[256] = "";
    nn_train_result res;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(res.epochs_done, 3);
    ck_assert_int_eq(res.best_epoch, 1);
    ck_assert(res.stopped_early);
    nn_model_destroy(m);
    /* Resumed, with its epochs or more, it stays stopped: a run trained
     * that long from the start would have stopped there too. */
    for (int epochs = 10; epochs <= 20; epochs += 10) {
        m = make_model(softmax_spec);
        o.resume = 1;
        o.epochs = epochs;
        ck_assert_msg(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(res.epochs_done, 3);
        ck_assert(res.stopped_early);
        ck_assert_int_eq(rec_find(&f.runs, "flat")->n, 3);
        nn_model_destroy(m);
    }
    fixture_free(&f);
}
END_TEST

/* The learning rate each epoch trained with and the next one's. */
typedef struct lr_log {
    int n;
    double lr[16], next[16];
    int stop_at; /* 0: never */
} lr_log;

static int log_lr(void *ctx, const nn_progress *p)
{
    lr_log *l = ctx;
    l->lr[l->n] = p->lr;
    l->next[l->n] = p->next_lr;
    l->n++;
    return l->stop_at && p->epoch == l->stop_at;
}

/* ReduceLROnPlateau as Keras's: with min_delta 10 only the first epoch
 * improves, so with patience 2 and cooldown 2 the rate is halved after
 * epochs 3, 6 and 9 (Keras counts again from the epoch its cooldown
 * ends), the last time to min_lr. The rate, its wait and cooldown come
 * back on resume: a run stopped after epoch 3, in its cooldown, and
 * resumed ends as the uninterrupted one, bit for bit. */
START_TEST(plateau_cuts_learning_rate)
{
    enum { E = 11 };
    const nn_plateau pl = {
        .patience = 2, .factor = 0.5, .min_delta = 10, .cooldown = 2, .min_lr = 2e-4};
    fixture f;
    fixture_init(&f);
    char err[256] = "";
    nn_model *m = make_model(softmax_spec);
    nn_train_opts o = opts_for(&f, "whole", E);
    o.optim = nn_optim_defaults(NN_OPT_RMSPROP_TF2);
    o.plateau = pl;
    lr_log l = {0};
    o.on_epoch = log_lr;
    o.cb_ctx = &l;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    const double f3 = 1e-3, h = (float)((double)(float)f3 * 0.5), q = (float)(h * 0.5),
                 lo = (float)2e-4, want_lr[E] = {f3, f3, f3, h, h, h, q, q, q, lo, lo};
    ck_assert_int_eq(l.n, E);
    for (int e = 0; e < E; e++) {
        ck_assert_msg(l.lr[e] == want_lr[e], "epoch %d: lr %g, want %g", e + 1, l.lr[e],
                      want_lr[e]);
    }
    ck_assert(l.next[E - 1] == lo); /* at min_lr: no further cut */
    char whole_last[300];
    snprintf(whole_last, sizeof whole_last, "%s", f.last);

    m = make_model(softmax_spec);
    o = opts_for(&f, "parts", E);
    o.optim = nn_optim_defaults(NN_OPT_RMSPROP_TF2);
    o.plateau = pl;
    lr_log l2 = {.stop_at = 3};
    o.on_epoch = log_lr;
    o.cb_ctx = &l2;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err), CK_ECANCELED);
    nn_model_destroy(m);
    m = make_model(softmax_spec);
    l2.stop_at = 0;
    o.resume = 1;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err) == 0, "%s", err);
    nn_model_destroy(m);
    ck_assert_int_eq(l2.n, E);
    ck_assert_int_eq(memcmp(l.lr, l2.lr, sizeof l.lr), 0);
    ck_assert(files_equal(whole_last, f.last));
    double a[E * 4], b[E * 4];
    ck_assert_int_eq(read_curve(&f.runs, "whole", a, E), E);
    ck_assert_int_eq(read_curve(&f.runs, "parts", b, E), E);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);

    /* refused without validation, and with a factor outside (0, 1) */
    m = make_model(softmax_spec);
    o = opts_for(&f, "noval", 2);
    o.plateau = (nn_plateau){.patience = 1, .factor = 0.5};
    ck_assert_int_eq(nn_train(m, &o, &f.train, NULL, NULL, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "plateau"));
    o.plateau.factor = 1;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, NULL, err, sizeof err), CK_EINVAL);
    nn_model_destroy(m);
    fixture_free(&f);

    /* Keras's defaults, and each setting checked by its rule */
    nn_plateau d = nn_plateau_defaults();
    ck_assert(d.patience == 10 && d.factor == 0.1 && d.min_delta == 1e-4 && d.cooldown == 0 &&
              d.min_lr == 0);
    ck_assert_int_eq(nn_plateau_set(&d, "factor", 0.5, err, sizeof err), 0);
    ck_assert_int_eq(nn_plateau_set(&d, "cooldown", 2, err, sizeof err), 0);
    ck_assert_int_eq(nn_plateau_set(&d, "min_lr", 1e-5, err, sizeof err), 0);
    ck_assert(d.factor == 0.5 && d.cooldown == 2 && d.min_lr == 1e-5 && d.patience == 10);
    static const struct {
        const char *key;
        double v;
        const char *says;
    } bad[] = {{"factor", 1, "in (0, 1)"},
               {"factor", 0, "in (0, 1)"},
               {"patience", 0, ">= 1"},
               {"patience", 2.5, "whole"},
               {"cooldown", -1, ">= 0"},
               {"min_delta", -1e-9, ">= 0"},
               {"patiense", 3, "did you mean patience?"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(nn_plateau_set(&d, bad[i].key, bad[i].v, err, sizeof err), CK_EINVAL);
        ck_assert_msg(strstr(err, bad[i].says), "%s=%g: %s", bad[i].key, bad[i].v, err);
    }
    ck_assert(d.factor == 0.5 && d.patience == 10 && d.cooldown == 2 && d.min_delta == 1e-4);
}
END_TEST

/* Counts on_batch calls that announce validation; each must follow the
 * epoch's last batch. */
static int count_validating(void *ctx, const nn_progress *p)
{
    if (p->validating) {
        ck_assert_int_eq(p->batch, p->batches);
        (*(int *)ctx)++;
    }
    return 0;
}

/* Without validation there is no best epoch: the training loss chooses
 * no checkpoint, and early stopping (which watches val_loss) is refused.
 * With it, every epoch says once that validation runs. */
START_TEST(no_validation_no_best)
{
    fixture f;
    fixture_init(&f);
    nn_model *m = make_model(softmax_spec);
    nn_train_opts o = opts_for(&f, "noval", 3);
    char err[256] = "";
    nn_train_result res;
    int validating = 0;
    o.on_batch = count_validating;
    o.cb_ctx = &validating;
    ck_assert_msg(nn_train(m, &o, &f.train, NULL, &res, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(validating, 0);
    ck_assert_int_eq(res.epochs_done, 3);
    ck_assert_int_eq(res.best_epoch, 0);
    ck_assert_int_eq(access(f.best, F_OK), -1);
    ck_assert_int_eq(access(f.last, F_OK), 0);
    o.patience = 1;
    ck_assert_int_eq(nn_train(m, &o, &f.train, NULL, &res, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "early stopping watches val_loss"));
    nn_model_destroy(m);
    m = make_model(softmax_spec);
    o = opts_for(&f, "val", 3);
    o.on_batch = count_validating;
    o.cb_ctx = &validating;
    ck_assert_msg(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(validating, 3);
    nn_model_destroy(m);
    fixture_free(&f);
}
END_TEST

START_TEST(checkpoint_evaluate_predict)
{
    fixture f;
    fixture_init(&f);
    nn_model *m = make_model(softmax_spec);
    nn_train_opts o = opts_for(&f, "ck", 4);
    char err[256] = "";
    nn_train_result res;
    ck_assert_int_eq(nn_train(m, &o, &f.train, &f.val, &res, err, sizeof err), 0);
    nn_eval a, b;
    ck_assert_int_eq(nn_evaluate(m, NN_LOSS_AUTO, &f.val, 0, &a, err, sizeof err), 0);

    nn_model *l;
    ck_assert_msg(nn_model_load(&l, f.last, 5, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(
        strstr(nn_model_config(l), "\"extra\":{\"classes\":[\"left\",\"right\"]}"));
    ck_assert_int_eq(nn_model_params(l), nn_model_params(m));
    /* A batch of 5 against a source of 16s is refused, with the place. */
    ck_assert_int_eq(nn_evaluate(l, NN_LOSS_AUTO, &f.val, 0, &b, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "epoch 1 batch 1: 16 samples (batch size 5)"));
    /* Same weights: predict (in chunks of 5) gives the evaluated outputs. */
    float *p = nt_zeros(24 * 2);
    ck_assert_int_eq(nn_predict(l, f.va.x, 24, p), 0);
    int correct = 0;
    for (int i = 0; i < 24; i++) {
        nt_assert_near(p[2 * i] + p[2 * i + 1], 1.0, 1e-6);
        correct += (p[2 * i + 1] > p[2 * i]) == f.va.y[i];
    }
    ck_assert(fabs(correct / 24.0 - a.accuracy) < 1e-12);
    /* Kept outputs: the same figures as nn_evaluate, bit for bit, and per
     * sample, in the source's order (the synthetic source shuffles every
     * epoch), what predict gives. */
    ck_assert_ptr_null(a.outputs);
    ck_assert_int_eq(nn_evaluate_outputs(m, NN_LOSS_AUTO, &f.val, 0, &b, err, sizeof err), 0);
    ck_assert(b.loss == a.loss && b.accuracy == a.accuracy && b.n == 24 && b.outputs);
    ck_assert_int_eq(memcmp(a.confusion, b.confusion, 4 * sizeof *a.confusion), 0);
    for (int i = 0; i < 24 * 2; i++) {
        nt_assert_near(b.outputs[i], p[f.va.order[i / 2] * 2 + i % 2], 1e-6);
    }
    nn_eval_free(&b);
    ck_assert_ptr_null(b.outputs);
    free(p);
    nn_eval_free(&a);
    nn_model_destroy(l);

    /* A damaged checkpoint is named and refused. */
    FILE *fp = fopen(f.last, "r+b");
    fseek(fp, 200, SEEK_SET);
    fputc(0x55, fp);
    fclose(fp);
    ck_assert_int_eq(nn_model_load(&l, f.last, 5, err, sizeof err), CK_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err, "-last.ckpt: checkpoint: checksum mismatch"));
    ck_assert_int_eq(nn_model_load(&l, f.other, 5, err, sizeof err), CK_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err, "not a convkit checkpoint"));
    /* The best checkpoint fits only its own model. */
    nn_model *other = make_model(sigmoid_spec);
    ck_assert_int_eq(nn_ckpt_read(other, f.best, NULL, NULL, err, sizeof err), CK_EINVAL);
    nn_model_destroy(other);
    nn_model_destroy(m);
    fixture_free(&f);
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("nn_train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, learns_separable_task);
    tcase_add_test(tc, same_seed_same_curve);
    tcase_add_test(tc, shard_forward_is_batch_rows);
    tcase_add_test(tc, shards_same_curve);
    tcase_add_test(tc, resume_equals_uninterrupted);
    tcase_add_test(tc, extend_equals_longer_run);
    tcase_add_test(tc, resume_rmsprop_momentum);
    tcase_add_test(tc, nan_stops_with_place);
    tcase_add_test(tc, plateau_cuts_learning_rate);
    tcase_add_test(tc, early_stopping);
    tcase_add_test(tc, no_validation_no_best);
    tcase_add_test(tc, checkpoint_evaluate_predict);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(train_suite());
}
