/* kern_ref.c: the portable twins of the AVX-512 kernels (nn_kconv,
 * nn_kdw in nn_kern.h), in plain C.
 *
 * They are what the AVX-512 kernels are tested against besides the naive
 * convolution, and they let the direct convolution's bookkeeping (padding,
 * flipped kernels, the split over threads) be tested on any CPU. Loops are
 * ordered so the innermost runs over contiguous columns, which the
 * compiler vectorises at the baseline ISA; speed is not their purpose.
 */
#include "nn_kern.h"

void nn_kconv_ref(const nn_kconv *k)
{
    for (int p = 0; p < k->P; p++) {
        for (int q = 0; q < k->Q; q++) {
            const float *a = k->a + p * k->a_rs + q * k->a_cs;
            float *y = k->y + p * k->y_rs + q * k->y_cs;
            if (!k->accumulate) {
                for (int n = 0; n < k->ncols; n++) {
                    y[n] = 0;
                }
            }
            for (int t = 0; t < k->taps; t++) {
                for (int d = 0; d < k->depth; d++) {
                    float v = a[t * k->tap_rs + d];
                    const float *b = k->b + ((ptrdiff_t)t * k->depth + d) * k->ldb;
                    for (int n = 0; n < k->ncols; n++) {
                        y[n] += v * b[n];
                    }
                }
            }
            for (int n = 0; k->bias && n < k->ncols; n++) {
                y[n] += k->bias[n];
            }
            for (int n = 0; k->relu && n < k->ncols; n++) {
                y[n] = y[n] < 0 ? 0.0f : y[n]; /* NaN passes */
            }
        }
    }
}

void nn_kdw_ref(const nn_kdw *k)
{
    for (int p = 0; p < k->P; p++) {
        for (int q = 0; q < k->Q; q++) {
            const float *x = k->x + p * k->x_rs + q * k->x_cs;
            const float *g = k->dy + p * k->dy_rs + q * k->dy_cs;
            const float *ym = k->ym ? k->ym + p * k->dy_rs + q * k->dy_cs : NULL;
            for (int t = 0; t < k->taps; t++) {
                for (int d = 0; d < k->depth; d++) {
                    float v = x[t * k->tap_rs + d];
                    float *dw = k->dw + ((ptrdiff_t)t * k->depth + d) * k->ldw;
                    for (int n = 0; n < k->ncols; n++) {
                        dw[n] += ym && !(ym[n] > 0) ? 0.0f : v * g[n];
                    }
                }
            }
        }
    }
    if (k->db) {
        nn_kdb_add(k->dy, k->ym, k->dy_rs, k->dy_cs, k->P, k->Q, k->ncols, k->db);
    }
}

void nn_kdb_add(const float *dy, const float *ym, ptrdiff_t rs, ptrdiff_t cs, int rows, int Q,
                int ncols, float *db)
{
    for (int p = 0; p < rows; p++) {
        for (int q = 0; q < Q; q++) {
            const float *g = dy + p * rs + q * cs, *y = ym ? ym + p * rs + q * cs : NULL;
            for (int n = 0; n < ncols; n++) {
                db[n] += y && !(y[n] > 0) ? 0.0f : g[n];
            }
        }
    }
}

void nn_kmask_ref(size_t n, const float *dy, const float *y, float *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = y[i] > 0 ? dy[i] : 0.0f;
    }
}

const nn_kernels nn_kernels_ref = {
    .name = "portable",
    .isa = CK_ISA_GENERIC,
    .conv = nn_kconv_ref,
    .dw = nn_kdw_ref,
    .db = nn_kdb_add,
    .relu_mask = nn_kmask_ref,
    .update = nn_optim_update,
    .pool2_forward = nn_pool2_forward_ref,
    .pool2_backward = nn_pool2_backward_ref,
    .wino = nn_wino_tx_ref,
};
