/* test_nn_optim.c: each optimizer's steps against Keras's formulas written
 * out by hand in double, Keras's defaults, and Glorot-uniform's range and
 * determinism. */
#include <string.h>

#include "nn_internal.h"
#include "nn_test_util.h"

enum { N = 3 };
static const float w0[N] = {1.0f, -0.5f, 0.25f};
static const float g1[N] = {2.0f, -0.1f, 0.0f}, g2[N] = {-1.0f, 0.3f, 0.5f};

/* Runs two updates (gradients g1 then g2) and returns the weights. */
static void two_steps(const nn_optim_opts *o, float *w)
{
    float s1[N] = {0}, s2[N] = {0};
    memcpy(w, w0, sizeof w0);
    nn_optim_update(o, 0, N, w, g1, s1, s2);
    nn_optim_update(o, 1, N, w, g2, s1, s2);
}

START_TEST(defaults)
{
    nn_optim_opts o = nn_optim_defaults(NN_OPT_RMSPROP);
    ck_assert(o.lr == 1e-3 && o.rho == 0.9 && o.eps == 1e-7);
    o = nn_optim_defaults(NN_OPT_ADAM);
    ck_assert(o.lr == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-7);
    o = nn_optim_defaults(NN_OPT_SGD);
    ck_assert(o.lr == 0.01 && o.momentum == 0 && !o.nesterov);
    ck_assert_int_eq(nn_optim_parse("RMSprop"), NN_OPT_RMSPROP);
    ck_assert_int_eq(nn_optim_parse("adagrad"), -1);
    ck_assert_str_eq(nn_optim_name(NN_OPT_ADAM), "adam");
}
END_TEST

START_TEST(sgd)
{
    nn_optim_opts o = nn_optim_defaults(NN_OPT_SGD);
    o.lr = 0.1;
    float w[N];
    two_steps(&o, w);
    for (int i = 0; i < N; i++) {
        nt_assert_near(w[i], (double)w0[i] - 0.1 * ((double)g1[i] + (double)g2[i]), 1e-6);
    }
    o.momentum = 0.9;
    for (int nesterov = 0; nesterov <= 1; nesterov++) {
        o.nesterov = nesterov;
        two_steps(&o, w);
        for (int i = 0; i < N; i++) {
            double v = 0, x = w0[i];
            const float *g[2] = {g1, g2};
            for (int t = 0; t < 2; t++) {
                v = 0.9 * v - 0.1 * (double)g[t][i];
                x += nesterov ? 0.9 * v - 0.1 * (double)g[t][i] : v;
            }
            nt_assert_near(w[i], x, 1e-6);
        }
    }
}
END_TEST

START_TEST(rmsprop)
{
    nn_optim_opts o = nn_optim_defaults(NN_OPT_RMSPROP);
    o.lr = 0.1;
    float w[N];
    two_steps(&o, w);
    for (int i = 0; i < N; i++) {
        double a = 0, x = w0[i];
        const float *g[2] = {g1, g2};
        for (int t = 0; t < 2; t++) {
            double gi = g[t][i];
            a = 0.9 * a + 0.1 * gi * gi;
            x -= 0.1 * gi / sqrt(a + 1e-7);
        }
        nt_assert_near(w[i], x, 1e-6);
    }
    /* Epsilon inside the root: a tiny gradient moves by lr*g/sqrt(0.1g^2+eps),
     * far less than the lr*sqrt(10) it would with epsilon outside. */
    float wt = 0, gt = 1e-4f, st = 0;
    nn_optim_update(&o, 0, 1, &wt, &gt, &st, NULL);
    nt_assert_near(wt, -0.1 * 1e-4 / sqrt(0.1 * 1e-8 + 1e-7), 1e-7);
}
END_TEST

/* tf.keras's RMSprop with momentum: the scaled step accumulates in a
 * second slot, mom = 0.9*mom + lr*g/sqrt(ms + eps), and w -= mom. Three
 * steps, so the momentum of two earlier steps shows. */
START_TEST(rmsprop_momentum)
{
    nn_optim_opts o = nn_optim_defaults(NN_OPT_RMSPROP);
    o.lr = 0.1;
    o.momentum = 0.9;
    ck_assert_int_eq(nn_optim_slots(&o), 2);
    float w[N], s1[N] = {0}, s2[N] = {0};
    memcpy(w, w0, sizeof w0);
    const float *g[3] = {g1, g2, g1};
    for (int t = 0; t < 3; t++) {
        nn_optim_update(&o, t, N, w, g[t], s1, s2);
    }
    for (int i = 0; i < N; i++) {
        double ms = 0, mom = 0, x = w0[i];
        for (int t = 0; t < 3; t++) {
            double gi = g[t][i];
            ms = 0.9 * ms + 0.1 * gi * gi;
            mom = 0.9 * mom + 0.1 * gi / sqrt(ms + 1e-7);
            x -= mom;
        }
        nt_assert_near(w[i], x, 1e-6);
        nt_assert_near(s2[i], mom, 1e-6);
    }
    /* By hand for the first weight (g = 2, -1, 2):
     * ms 0.4, mom 0.1*2/sqrt(0.4)          = 0.316228, w 0.683772;
     * ms 0.46, mom 0.284605 - 0.147442     = 0.137163, w 0.546609;
     * ms 0.814, mom 0.123447 + 0.221676    = 0.345122, w 0.201487. */
    nt_assert_near(w[0], 0.201487, 2e-6);
    /* Without momentum, one slot and the plain update. */
    o.momentum = 0;
    ck_assert_int_eq(nn_optim_slots(&o), 1);
}
END_TEST

/* tf.keras <= 2.10's RMSprop (the book's): epsilon outside the root, so a
 * tiny gradient moves by about lr*sqrt(10) on the first step; with
 * momentum it is RMSprop's, as tf.keras's fused kernel was. */
START_TEST(rmsprop_tf2)
{
    ck_assert_int_eq(nn_optim_parse("rmsprop-TF2"), NN_OPT_RMSPROP_TF2);
    ck_assert_str_eq(nn_optim_name(NN_OPT_RMSPROP_TF2), "rmsprop-tf2");
    nn_optim_opts o = nn_optim_defaults(NN_OPT_RMSPROP_TF2);
    ck_assert(o.lr == 1e-3 && o.rho == 0.9 && o.eps == 1e-7);
    ck_assert_int_eq(nn_optim_slots(&o), 1);
    o.lr = 0.1;
    float w[N];
    two_steps(&o, w);
    for (int i = 0; i < N; i++) {
        double a = 0, x = w0[i];
        const float *g[2] = {g1, g2};
        for (int t = 0; t < 2; t++) {
            double gi = g[t][i];
            a = 0.9 * a + 0.1 * gi * gi;
            x -= 0.1 * gi / (sqrt(a) + 1e-7);
        }
        nt_assert_near(w[i], x, 1e-6);
    }
    float wt = 0, gt = 1e-4f, st = 0;
    nn_optim_update(&o, 0, 1, &wt, &gt, &st, NULL);
    nt_assert_near(wt, -0.1 * 1e-4 / (sqrt(0.1 * 1e-8) + 1e-7), 1e-6);
    ck_assert(wt < -0.3f); /* inside the root it would be -0.0095 */
    /* with momentum: the same bits as rmsprop's */
    nn_optim_opts r = nn_optim_defaults(NN_OPT_RMSPROP);
    o.momentum = r.momentum = 0.9;
    r.lr = 0.1;
    float s1[N] = {0}, s2[N] = {0}, q1[N] = {0}, q2[N] = {0}, wr[N];
    memcpy(w, w0, sizeof w0);
    memcpy(wr, w0, sizeof w0);
    for (int t = 0; t < 3; t++) {
        nn_optim_update(&o, t, N, w, t % 2 ? g2 : g1, s1, s2);
        nn_optim_update(&r, t, N, wr, t % 2 ? g2 : g1, q1, q2);
    }
    ck_assert_int_eq(memcmp(w, wr, sizeof w), 0);
}
END_TEST

START_TEST(adam)
{
    nn_optim_opts o = nn_optim_defaults(NN_OPT_ADAM);
    o.lr = 0.1;
    float w[N];
    two_steps(&o, w);
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0, x = w0[i];
        const float *g[2] = {g1, g2};
        for (int t = 1; t <= 2; t++) {
            double gi = g[t - 1][i];
            m = 0.9 * m + 0.1 * gi;
            v = 0.999 * v + 0.001 * gi * gi;
            double alpha = 0.1 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
            x -= alpha * m / (sqrt(v) + 1e-7);
        }
        nt_assert_near(w[i], x, 2e-6);
    }
}
END_TEST

START_TEST(glorot)
{
    enum { M = 5 * 5 * 32 * 64 };
    float *a = nt_zeros(M), *b = nt_zeros(M);
    ck_rng r;
    ck_rng_init(&r, 42, 0, 3, CK_RNG_INIT);
    nn_glorot_uniform(&r, M, 5 * 5 * 32, 5 * 5 * 64, a);
    ck_rng_init(&r, 42, 0, 3, CK_RNG_INIT);
    nn_glorot_uniform(&r, M, 5 * 5 * 32, 5 * 5 * 64, b);
    ck_assert_int_eq(memcmp(a, b, M * sizeof *a), 0);
    double limit = sqrt(6.0 / (800 + 1600)), s = 0, s2 = 0, mx = 0;
    for (int i = 0; i < M; i++) {
        double x = a[i];
        mx = fmax(mx, fabs(x));
        s += x;
        s2 += x * x;
    }
    ck_assert(mx < limit && mx > 0.99 * limit);
    ck_assert(fabs(s / M) < 0.01 * limit);
    /* Variance of U(-l, l) is l^2/3 = 2/(fan_in + fan_out). */
    ck_assert_double_eq_tol(s2 / M, 2.0 / 2400, 0.03 * 2.0 / 2400);
    free(a);
    free(b);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("nn_optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, sgd);
    tcase_add_test(tc, rmsprop);
    tcase_add_test(tc, rmsprop_momentum);
    tcase_add_test(tc, rmsprop_tf2);
    tcase_add_test(tc, adam);
    tcase_add_test(tc, glorot);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(optim_suite());
}
