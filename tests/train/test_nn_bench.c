/* test_nn_bench.c: the measurement adds up (layer times within the step
 * time, FLOPs as counted by hand, the peak fraction against the sgemm
 * measured in the same run) and leaves no trace in the model. */
#include "nn_internal.h"
#include "nn_test_util.h"

START_TEST(bench_mnist_small_batch)
{
    char err[256] = "";
    nn_model *m;
    ck_assert_int_eq(nn_model_create(&m, nn_builtin_spec("mnist"), "mnist", 4, err, sizeof err), 0);
    nn_bench b;
    ck_assert_msg(nn_bench_run(m, 1, 2, &b, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(b.nlayers, 7);
    ck_assert_str_eq(b.layers[0].type, "Conv2D");
    /* conv2d: 2*24*24*32*25 per sample forward, backward without dx. */
    double f0 = 2.0 * 24 * 24 * 32 * 25 * 4 * 1e-9;
    ck_assert(fabs(b.layers[0].gflop - 2 * f0) < 1e-12);
    /* conv2d_1 passes its gradient on: three times its forward. */
    double f2 = 2.0 * 8 * 8 * 64 * 25 * 32 * 4 * 1e-9;
    ck_assert(fabs(b.layers[2].gflop - 3 * f2) < 1e-12);
    double sum = b.zero_s + b.loss_s + b.update_s;
    for (int i = 0; i < b.nlayers; i++) {
        ck_assert(b.layers[i].forward_s >= 0 && b.layers[i].backward_s >= 0);
        sum += b.layers[i].forward_s + b.layers[i].backward_s;
    }
    ck_assert(sum <= b.step_s * 1.01);
    ck_assert(b.train_images_per_s > 0 && b.infer_images_per_s > b.train_images_per_s);
    /* The sgemm reference is measured, and the fraction is against it. */
    ck_assert(b.sgemm_gflops > 0);
    ck_assert(fabs(b.peak_fraction - b.gflops / b.sgemm_gflops) < 1e-12);
    ck_assert_ptr_nonnull(b.blas_core);
    ck_assert(b.peak_rss_mib > 1);
    ck_assert_ptr_null(m->prof);
    nn_bench_free(&b);
    nn_model_destroy(m);
}
END_TEST

static Suite *bench_suite(void)
{
    Suite *s = suite_create("nn_bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bench_mnist_small_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(bench_suite());
}
