/* test_nn_loss.c: the fused losses against the textbook formulas on the
 * probabilities (in double), their gradients against central differences,
 * stability at extreme logits, and accuracy's thresholds. */
#include <string.h>

#include "nn_internal.h"
#include "nn_test_util.h"

enum { BINARY, CATEGORICAL, SPARSE };

typedef struct loss_case {
    int kind, N, D;
    float *z, *t, *dz;
    int32_t *labels;
} loss_case;

static double loss_f(void *p)
{
    loss_case *c = p;
    switch (c->kind) {
    case BINARY: return nn_loss_binary(c->N, c->D, c->z, c->t, c->dz, c->N) / c->N;
    case CATEGORICAL: return nn_loss_categorical(c->N, c->D, c->z, c->t, c->dz, c->N) / c->N;
    default: return nn_loss_sparse(c->N, c->D, c->z, c->labels, c->dz, c->N) / c->N;
    }
}

/* The mean loss from probabilities, the way it is written on paper. */
static double loss_textbook(const loss_case *c)
{
    double total = 0;
    for (int n = 0; n < c->N; n++) {
        const float *z = c->z + n * c->D;
        double m = -INFINITY, s = 0;
        for (int j = 0; j < c->D; j++) {
            m = fmax(m, (double)z[j]);
        }
        for (int j = 0; j < c->D; j++) {
            s += exp((double)z[j] - m);
        }
        for (int j = 0; j < c->D; j++) {
            double t = c->kind == SPARSE ? (j == c->labels[n]) : (double)c->t[n * c->D + j];
            if (c->kind == BINARY) {
                double p = 1 / (1 + exp(-(double)z[j]));
                total += -(t * log(p) + (1 - t) * log(1 - p)) / c->D;
            } else {
                total += -t * log(exp((double)z[j] - m) / s);
            }
        }
    }
    return total / c->N;
}

static void loss_check(int kind, int N, int D)
{
    loss_case c = {.kind = kind, .N = N, .D = D};
    size_t n = (size_t)N * D;
    c.z = nt_rand(n, -4, 4, 40);
    c.t = nt_rand(n, 0, 1, 41);
    c.dz = nt_zeros(n);
    c.labels = malloc((size_t)N * sizeof *c.labels);
    for (int i = 0; i < N; i++) {
        c.labels[i] = (i * 7 + 3) % D;
    }
    if (kind == CATEGORICAL) { /* rows of t sum to 1 */
        for (int i = 0; i < N; i++) {
            double s = 0;
            for (int j = 0; j < D; j++) {
                s += (double)c.t[i * D + j];
            }
            for (int j = 0; j < D; j++) {
                c.t[i * D + j] = (float)((double)c.t[i * D + j] / s);
            }
        }
    }
    double l = loss_f(&c);
    ck_assert_msg(fabs(l - loss_textbook(&c)) < 1e-6, "kind %d: %g vs %g", kind, l,
                  loss_textbook(&c));
    float *dz = malloc(n * sizeof *dz);
    memcpy(dz, c.dz, n * sizeof *dz);
    nt_gradcheck(loss_f, &c, c.z, n, dz, 1e-3, 1e-4, "loss dz");
    free(dz);
    free(c.z);
    free(c.t);
    free(c.dz);
    free(c.labels);
}

START_TEST(binary)
{
    loss_check(BINARY, 5, 1);
    loss_check(BINARY, 3, 4); /* multi-label: mean over the outputs */
}
END_TEST

START_TEST(categorical)
{
    loss_check(CATEGORICAL, 4, 5);
}
END_TEST

START_TEST(sparse)
{
    loss_check(SPARSE, 6, 10);
    /* Sparse equals categorical with one-hot targets. */
    float z[6] = {0.3f, -1.2f, 2.0f, 0.1f, 0.0f, -0.5f}, t[6] = {0, 0, 1, 1, 0, 0};
    float d1[6], d2[6];
    int32_t lab[2] = {2, 0};
    double a = nn_loss_sparse(2, 3, z, lab, d1, 2), b = nn_loss_categorical(2, 3, z, t, d2, 2);
    ck_assert(fabs(a - b) < 1e-12);
    ck_assert_int_eq(memcmp(d1, d2, sizeof d1), 0);
}
END_TEST

START_TEST(extreme_logits)
{
    float z[2] = {1000.0f, -1000.0f}, t[2] = {0.0f, 1.0f}, dz[2];
    double l = nn_loss_binary(2, 1, z, t, dz, 2);
    ck_assert(isfinite(l));
    ck_assert(fabs(l - 2000.0) < 1e-6);
    nt_assert_near(dz[0], 0.5f, 1e-7);
    nt_assert_near(dz[1], -0.5f, 1e-7);
    float s[3] = {1000.0f, -1000.0f, 0.0f}, ds[3];
    int32_t lab = 1;
    l = nn_loss_sparse(1, 3, s, &lab, ds, 1);
    ck_assert(fabs(l - 2000.0) < 1e-6);
    nt_assert_near(ds[0], 1.0f, 1e-7);
    nt_assert_near(ds[1], -1.0f, 1e-7);
    /* A confident right answer costs nothing and gives no gradient. */
    lab = 0;
    l = nn_loss_sparse(1, 3, s, &lab, ds, 1);
    ck_assert(l >= 0 && l < 1e-12);
}
END_TEST

START_TEST(accuracy)
{
    float pb[4] = {0.5f, 0.51f, 0.2f, 0.9f};
    int32_t lb[4] = {0, 1, 1, 1};
    /* Keras's binary_accuracy: p > 0.5, so 0.5 is class 0. */
    ck_assert_int_eq(nn_correct(4, 1, pb, lb), 3);
    float pc[6] = {0.2f, 0.5f, 0.3f, 0.4f, 0.4f, 0.2f};
    int32_t lc[2] = {1, 1};
    /* Ties go to the first maximum, as argmax. */
    ck_assert_int_eq(nn_correct(2, 3, pc, lc), 1);
}
END_TEST

START_TEST(names)
{
    ck_assert_int_eq(nn_loss_parse("binary_crossentropy"), NN_LOSS_BINARY);
    ck_assert_int_eq(nn_loss_parse("binary"), NN_LOSS_BINARY);
    ck_assert_int_eq(nn_loss_parse("categorical"), NN_LOSS_CATEGORICAL);
    ck_assert_int_eq(nn_loss_parse("sparse_categorical_crossentropy"), NN_LOSS_SPARSE);
    ck_assert_int_eq(nn_loss_parse("auto"), NN_LOSS_AUTO);
    ck_assert_int_eq(nn_loss_parse("mse"), -1);
    ck_assert_int_eq(nn_loss_parse("bin"), -1);
    ck_assert_str_eq(nn_loss_name(NN_LOSS_SPARSE), "sparse_categorical_crossentropy");
}
END_TEST

static Suite *loss_suite(void)
{
    Suite *s = suite_create("nn_loss");
    TCase *tc = tcase_create("loss");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, binary);
    tcase_add_test(tc, categorical);
    tcase_add_test(tc, sparse);
    tcase_add_test(tc, extreme_logits);
    tcase_add_test(tc, accuracy);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(loss_suite());
}
