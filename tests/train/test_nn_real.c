/* test_nn_real.c: the book's mnist model on real images: one epoch on
 * 3,000 Fashion-MNIST training images (Debian's dataset-fashion-mnist)
 * takes accuracy on 1,000 test images far above chance (10%; 69% here). The IDX
 * files are read here with zlib; the dataset module is not needed. */
#include <zlib.h>

#include "nn_internal.h"
#include "nn_test_util.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

enum { TRAIN_N = 3000, TEST_N = 1000, PIX = 28 * 28, BATCH = 64 };

/* The first n records of an IDX file: images scaled to [0, 1] (x != NULL)
 * or labels. Returns 0, or -1 if the file is missing. */
static int idx_read(const char *path, int n, float *x, int32_t *labels)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        return -1;
    }
    unsigned char head[16];
    int hlen = x ? 16 : 8, rec = x ? PIX : 1;
    ck_assert_int_eq(gzread(f, head, (unsigned)hlen), hlen);
    ck_assert_int_eq(head[2], 0x08); /* unsigned bytes */
    unsigned char *buf = malloc((size_t)n * rec);
    ck_assert_int_eq(gzread(f, buf, (unsigned)(n * rec)), n * rec);
    gzclose(f);
    for (int i = 0; i < n * rec; i++) {
        if (x) {
            x[i] = buf[i] / 255.0f;
        } else {
            labels[i] = buf[i];
        }
    }
    free(buf);
    return 0;
}

typedef struct arrays {
    int n, pos;
    const float *x;
    const int32_t *y;
} arrays;

static int arrays_begin(void *ctx, int epoch, char *err, size_t errlen)
{
    (void)epoch;
    (void)err;
    (void)errlen;
    ((arrays *)ctx)->pos = 0;
    return 0;
}

static int arrays_next(void *ctx, nn_batch *b, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    arrays *a = ctx;
    int k = a->n - a->pos < BATCH ? a->n - a->pos : BATCH;
    *b = (nn_batch){.x = a->x + (size_t)a->pos * PIX, .labels = a->y + a->pos, .n = k};
    a->pos += k;
    return 0;
}

START_TEST(mnist_learns_fashion_in_one_epoch)
{
    float *xtr = malloc((size_t)TRAIN_N * PIX * sizeof *xtr);
    float *xte = malloc((size_t)TEST_N * PIX * sizeof *xte);
    int32_t *ytr = malloc(TRAIN_N * sizeof *ytr), *yte = malloc(TEST_N * sizeof *yte);
    if (idx_read(FMNIST "train-images-idx3-ubyte.gz", TRAIN_N, xtr, NULL) != 0) {
        fprintf(stderr, "note: " FMNIST " missing, test skipped\n");
    } else {
        ck_assert_int_eq(idx_read(FMNIST "train-labels-idx1-ubyte.gz", TRAIN_N, NULL, ytr), 0);
        ck_assert_int_eq(idx_read(FMNIST "t10k-images-idx3-ubyte.gz", TEST_N, xte, NULL), 0);
        ck_assert_int_eq(idx_read(FMNIST "t10k-labels-idx1-ubyte.gz", TEST_N, NULL, yte), 0);
        arrays tr = {.n = TRAIN_N, .x = xtr, .y = ytr}, te = {.n = TEST_N, .x = xte, .y = yte};
        nn_source train = {&tr, TRAIN_N, arrays_begin, arrays_next};
        nn_source test = {&te, TEST_N, arrays_begin, arrays_next};
        char err[256] = "";
        nn_model *m;
        ck_assert_int_eq(
            nn_model_create(&m, nn_builtin_spec("mnist"), "mnist", BATCH, err, sizeof err), 0);
        nn_train_opts o = nn_train_defaults(); /* RMSprop, Keras's defaults */
        o.seed = 1;
        o.threads = 1;
        nn_train_result res;
        ck_assert_msg(nn_train(m, &o, &train, &test, &res, err, sizeof err) == 0, "%s", err);
        nn_eval ev;
        ck_assert_int_eq(nn_evaluate(m, NN_LOSS_AUTO, &test, 0, &ev, err, sizeof err), 0);
        ck_assert_int_eq(ev.n, TEST_N);
        ck_assert_msg(ev.accuracy > 0.5, "test accuracy %.3f after one epoch", ev.accuracy);
        nn_eval_free(&ev);
        nn_model_destroy(m);
    }
    free(xtr);
    free(xte);
    free(ytr);
    free(yte);
}
END_TEST

static Suite *real_suite(void)
{
    Suite *s = suite_create("nn_real");
    TCase *tc = tcase_create("real");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, mnist_learns_fashion_in_one_epoch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(real_suite());
}
