/* loss.c: cross-entropies fused with the final sigmoid or softmax, and
 * accuracy.
 *
 * Working from the logits instead of the probabilities is what Keras does
 * too when a loss follows a sigmoid or softmax layer (it reaches back for
 * the logits), and it keeps log(0) out: binary cross-entropy is
 * max(z,0) - z*t + log1p(exp(-|z|)) and the softmax ones use log-sum-exp.
 * The gradient of the fused pair is simply (probability - target), scaled
 * for the batch mean. Per-sample sums are kept in double so an epoch's
 * mean does not depend on how its batches were split.
 */
#include <math.h>
#include <string.h>

#include "nn_kern.h"

double nn_loss_binary(int N, int D, const float *z, const float *t, float *dz, int B)
{
    double total = 0, scale = 1.0 / ((double)B * D);
    for (size_t i = 0; i < (size_t)N * D; i++) {
        double zi = (double)z[i], ti = (double)t[i];
        total += fmax(zi, 0.0) - zi * ti + log1p(exp(-fabs(zi)));
        double p = zi >= 0 ? 1 / (1 + exp(-zi)) : exp(zi) / (1 + exp(zi));
        dz[i] = (float)((p - ti) * scale);
    }
    /* Keras averages over the outputs of a sample, then sums samples. */
    return total / D;
}

/* log(sum(exp(z))) of one row, stably. */
static double logsumexp(int D, const float *z)
{
    double m = (double)z[0], s = 0;
    for (int j = 1; j < D; j++) {
        m = fmax(m, (double)z[j]);
    }
    for (int j = 0; j < D; j++) {
        s += exp((double)z[j] - m);
    }
    return m + log(s);
}

double nn_loss_categorical(int N, int D, const float *z, const float *t, float *dz, int B)
{
    double total = 0;
    for (int n = 0; n < N; n++) {
        const float *zr = z + (size_t)n * D, *tr = t + (size_t)n * D;
        double lse = logsumexp(D, zr), tsum = 0;
        for (int j = 0; j < D; j++) {
            total += (double)tr[j] * (lse - (double)zr[j]);
            tsum += (double)tr[j];
        }
        for (int j = 0; j < D; j++) {
            double p = exp((double)zr[j] - lse);
            dz[(size_t)n * D + j] = (float)((p * tsum - (double)tr[j]) / B);
        }
    }
    return total;
}

double nn_loss_sparse(int N, int D, const float *z, const int32_t *labels, float *dz, int B)
{
    double total = 0;
    for (int n = 0; n < N; n++) {
        const float *zr = z + (size_t)n * D;
        double lse = logsumexp(D, zr);
        total += lse - (double)zr[labels[n]];
        for (int j = 0; j < D; j++) {
            double p = exp((double)zr[j] - lse);
            dz[(size_t)n * D + j] = (float)((p - (j == labels[n])) / B);
        }
    }
    return total;
}

int64_t nn_correct(int N, int D, const float *p, const int32_t *labels)
{
    int64_t correct = 0;
    for (int n = 0; n < N; n++) {
        const float *r = p + (size_t)n * D;
        int pred = 0;
        if (D == 1) {
            pred = r[0] > 0.5f;
        } else {
            for (int j = 1; j < D; j++) {
                pred = r[j] > r[pred] ? j : pred;
            }
        }
        correct += pred == labels[n];
    }
    return correct;
}

static const char *const loss_names[] = {"auto", "binary_crossentropy", "categorical_crossentropy",
                                         "sparse_categorical_crossentropy"};

int nn_loss_parse(const char *name)
{
    for (int k = 0; name && k < 4; k++) {
        size_t n = strlen(name);
        /* "binary" stands for "binary_crossentropy", and so on */
        if (strcmp(name, loss_names[k]) == 0 ||
            (k > 0 && strncmp(name, loss_names[k], n) == 0 && loss_names[k][n] == '_')) {
            return k;
        }
    }
    return -1;
}

const char *nn_loss_name(nn_loss_kind kind)
{
    return kind <= NN_LOSS_SPARSE ? loss_names[kind] : "?";
}
