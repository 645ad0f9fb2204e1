/* bench.c: how fast a training step is, and where its time goes.
 *
 * Synthetic full batches isolate the trainer from the loader. The FLOP
 * count is the usual one for GEMM-shaped work (2 per multiply-add), as
 * the table of layer kinds gives it per sample: a convolution's forward
 * 2*P*Q*K*R*S*C, its backward the same again for the kernel gradient and
 * once more when a gradient flows into its input; Dense likewise with
 * Din*Dout. Pooling, activations and the update are counted as time but
 * not as FLOPs, which is what a GEMM-peak comparison wants. Per-layer
 * times come from the model's profile hook (two clock reads per layer and
 * pass).
 *
 * The peak to compare with is measured in the same run, on the same
 * threads, because the machine's speed is not a constant (shared cores,
 * turbo) and because OpenBLAS's kernel family depends on what it detects
 * at load time: on a virtual CPU it may fall back to a generic SSE3 kernel
 * ("Prescott"), five times slower than its AVX-512 one; blas_core says
 * which one ran.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "nn_internal.h"

/* GFLOP/s of the fastest of `reps` row-major sgemms C (M,N) = A (M,Kd) B (Kd,N).
 * Returns 0 when the buffers cannot be allocated. */
static double sgemm_rate(int M, int N, int Kd, int reps)
{
    float *a = malloc((size_t)M * Kd * sizeof *a), *b = malloc((size_t)Kd * N * sizeof *b);
    float *c = malloc((size_t)M * N * sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)M * Kd; i++) {
            a[i] = (float)(i % 7) * 0.125f;
        }
        for (size_t i = 0; i < (size_t)Kd * N; i++) {
            b[i] = (float)(i % 5) * 0.25f;
        }
        for (int r = 0; r < reps; r++) {
            double t = ck_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, Kd, 1.0f, a, Kd, b, N,
                        0.0f, c, N);
            t = ck_now() - t;
            double g = 2.0 * M * N * Kd * 1e-9 / t;
            best = g > best ? g : best;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* OpenBLAS's best on this machine: a square product and one shaped like a
 * 3x3 convolution's forward (batch*P*Q rows, 128 filters, 9*128 deep). */
static double sgemm_peak(void)
{
    double sq = sgemm_rate(1536, 1536, 1536, 3);
    double conv = sgemm_rate(4096, 128, 1152, 4);
    return sq > conv ? sq : conv;
}

/* User and system seconds of the whole process so far. */
static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0;
    }
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

void nn_bench_free(nn_bench *b)
{
    if (b) {
        free(b->layers);
        b->layers = NULL;
    }
}

int nn_bench_run(nn_model *m, int threads, int steps, nn_bench *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (steps < 1) {
        return ck_err(err, errlen, CK_EINVAL, "%s: bench: need steps >= 1", m->name);
    }
    /* A conv base (no final activation, so no loss) is timed for inference. */
    const int train = nn_model_output_act(m) != NN_ACT_LINEAR;
    if (threads > 0) {
        openblas_set_num_threads(threads);
    }
    const int n = m->batch, D = nn_model_outputs(m);
    size_t in = (size_t)n * m->layers[0].desc.size;
    float *x = malloc(in * sizeof *x);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    double *prof = calloc(2 * (size_t)m->nlayers, sizeof *prof);
    out->layers = calloc((size_t)m->nlayers, sizeof *out->layers);
    if (!x || !labels || !prof || !out->layers) {
        free(x);
        free(labels);
        free(prof);
        nn_bench_free(out);
        return ck_err(err, errlen, CK_ENOMEM, "%s: bench: out of memory", m->name);
    }
    ck_rng r;
    ck_rng_init(&r, 0, 0, 0, CK_RNG_TEST);
    double hi = nn_model_rescales(m) ? 255.0 : 1.0;
    for (size_t i = 0; i < in; i++) {
        x[i] = (float)ck_rng_range(&r, 0, hi);
    }
    for (int i = 0; i < n; i++) {
        labels[i] = i % (D == 1 ? 2 : D);
    }
    nn_model_init(m, 0);
    nn_step_key key = {0};
    double cpu0 = 0;
    double t_zero = 0, t_loss = 0, t_update = 0, t_total = 0;
    for (int s = -1; train && s < steps; s++) { /* step -1 warms up caches and BLAS threads */
        m->prof = s >= 0 ? prof : NULL;
        key.batch = s + 1;
        if (s == 0) {
            cpu0 = cpu_seconds();
        }
        double t0 = ck_now();
        nn_zero_grad(m);
        double t1 = ck_now();
        nn_model_forward(m, x, n, &key);
        double t2 = ck_now();
        nn_model_loss(m, NN_LOSS_AUTO, labels);
        double t3 = ck_now();
        nn_model_backward(m);
        double t4 = ck_now();
        nn_model_update(m);
        double t5 = ck_now();
        if (s >= 0) {
            t_zero += t1 - t0;
            t_loss += t3 - t2;
            t_update += t5 - t4;
            t_total += t5 - t0;
        }
    }
    m->prof = NULL;
    if (train) {
        out->step_cpu_s = (cpu_seconds() - cpu0) / steps;
    }
    double t_infer = 0;
    for (int s = -1; s < steps; s++) {
        m->prof = !train && s >= 0 ? prof : NULL;
        if (!train && s == 0) {
            cpu0 = cpu_seconds();
        }
        double t0 = ck_now();
        nn_model_forward(m, x, n, NULL);
        if (s >= 0) {
            t_infer += ck_now() - t0;
        }
    }
    m->prof = NULL;
    if (!train) {
        out->step_cpu_s = (cpu_seconds() - cpu0) / steps;
        t_total = t_infer;
    }
    out->batch = n;
    out->threads = threads > 0 ? threads : openblas_get_num_threads();
    out->steps = steps;
    out->step_s = t_total / steps;
    out->train_images_per_s = train ? n * steps / t_total : 0;
    out->infer_images_per_s = n * steps / t_infer;
    out->zero_s = t_zero / steps;
    out->loss_s = t_loss / steps;
    out->update_s = t_update / steps;
    for (int i = 1; i < m->nlayers; i++) {
        const nn_layer *L = &m->layers[i];
        nn_bench_layer *b = &out->layers[out->nlayers++];
        snprintf(b->name, sizeof b->name, "%s", L->desc.name);
        b->type = nn_kinds[L->desc.kind].keras;
        b->forward_s = prof[i] / steps;
        b->backward_s = prof[m->nlayers + i] / steps;
        const nn_kind_info *k = &nn_kinds[L->desc.kind];
        nn_flops fl = k->flops ? k->flops(&L->desc) : (nn_flops){0, 0, 0};
        double f = fl.forward * n * 1e-9, fw = fl.backward_w * n * 1e-9;
        double fx = fl.backward_x * n * 1e-9;
        b->gflop = train ? f + fw + (L->need_dx ? fx : 0) : f;
        out->step_gflop += b->gflop;
    }
    out->gflops = out->step_gflop / out->step_s;
    out->sgemm_gflops = sgemm_peak();
    out->peak_fraction = out->sgemm_gflops > 0 ? out->gflops / out->sgemm_gflops : 0;
    out->blas_core = openblas_get_corename();
    out->isa = ck_isa_name(m->ex.kern ? m->ex.kern->isa : CK_ISA_GENERIC);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->peak_rss_mib = (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB */
    }
    free(x);
    free(labels);
    free(prof);
    return 0;
}
