/* nn_test_util.h: helpers for the train/ suites (header only): seeded
 * random arrays and a central-difference gradient check in double.
 *
 * The check perturbs one float at a time and divides by the step that was
 * actually taken after rounding to float, so linear layers agree with their
 * backward to float rounding and smooth ones to O(h^2). */
#ifndef NN_TEST_UTIL_H
#define NN_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "ck.h"
#include "ck_test.h"
#include "nn_kern.h"

/* n floats uniform in [lo, hi) from the test stream `id`. */
static inline float *nt_rand(size_t n, double lo, double hi, uint64_t id)
{
    ck_rng r;
    ck_rng_init(&r, 1234, 0, id, CK_RNG_TEST);
    float *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (float)ck_rng_range(&r, lo, hi);
    }
    return v;
}

static inline float *nt_zeros(size_t n)
{
    float *v = calloc(n ? n : 1, sizeof *v);
    ck_assert_ptr_nonnull(v);
    return v;
}

/* sum c[i]*y[i] in double: the scalar whose gradient a backward gets when
 * it is handed dy = c. */
static inline double nt_dot(size_t n, const float *c, const float *y)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)c[i] * (double)y[i];
    }
    return s;
}

/* Compares grad[i] with (f(v+h) - f(v-h)) / 2h for every i; tol is
 * relative to max(1, |numeric|, |analytic|). Returns the worst error. */
static inline double nt_gradcheck(double (*f)(void *), void *ctx, float *v, size_t n,
                                  const float *grad, double h, double tol, const char *what)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float save = v[i];
        v[i] = (float)((double)save + h);
        double hp = (double)v[i] - (double)save, fp = f(ctx);
        v[i] = (float)((double)save - h);
        double hm = (double)v[i] - (double)save, fm = f(ctx);
        v[i] = save;
        double num = (fp - fm) / (hp - hm);
        double scale = fmax(1.0, fmax(fabs(num), fabs((double)grad[i])));
        double e = fabs(num - (double)grad[i]) / scale;
        worst = fmax(worst, e);
        ck_assert_msg(e <= tol, "%s[%zu]: numeric %.8g analytic %.8g (err %.3g > %.3g)", what, i,
                      num, (double)grad[i], e, tol);
    }
    return worst;
}

static inline void nt_assert_close(size_t n, const float *a, const double *ref, double tol,
                                   const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
        ck_assert_msg(e <= tol, "%s[%zu]: %.8g vs reference %.8g", what, i, (double)a[i], ref[i]);
    }
}

/* |a - b| <= tol, without Check's float macros (they promote). */
#define nt_assert_near(a, b, tol)                                                                  \
    ck_assert_msg(fabs((double)(a) - (double)(b)) <= (double)(tol), "%s = %.9g, expected %.9g",    \
                  #a, (double)(a), (double)(b))

/* The kernels of the tier under test: the one CONVKIT_ISA names (CTest
 * runs the kernel suites once per tier), else the best this CPU runs; the
 * portable set for generic, whose Winograd and pool pair are plain code.
 * A tier this CPU lacks is skipped with a note, and the portable set
 * tested in its place. */
static inline const nn_kernels *nt_tier(void)
{
    static int noted;
    const nn_kernels *k = NULL;
    char err[256];
    if (nn_kernels_select(&k, err, sizeof err) && !noted) {
        fprintf(stderr, "note: tier skipped, the portable kernels tested instead: %s\n", err);
        noted = 1;
    }
    return k ? k : &nn_kernels_ref;
}

#endif
