/* bench_train.c: a standalone driver for nn_bench_run, until `convkit bench
 * train` exists (scripts/bench-train.sh runs it beside the PyTorch peer).
 *
 *   bench_train --model M [--batch B] [--threads 1,2] [--steps S]
 *               [--layers] [--json]
 *
 * One model per process, so the peak RSS it prints is that model's. Text
 * output is a summary line per thread count (and the per-layer table with
 * --layers); --json prints one object per thread count instead. Not a test:
 * it is built beside the suites but not registered with CTest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

static int usage(void)
{
    fprintf(stderr, "usage: bench_train --model M [--batch B] [--threads 1,2] [--steps S] "
                    "[--layers] [--json]\n");
    return 2;
}

static void print_text(const char *model, const nn_bench *b, int layers)
{
    printf("%-14s batch %3d threads %d: train %8.1f img/s (%6.1f GFLOP/s, %4.0f%% of sgemm "
           "%.1f on %s), infer %8.1f img/s, step %.1f ms (cpu %.1f ms), rss %.0f MiB\n",
           model, b->batch, b->threads, b->train_images_per_s, b->gflops, 100 * b->peak_fraction,
           b->sgemm_gflops, b->blas_core, b->infer_images_per_s, 1e3 * b->step_s,
           1e3 * b->step_cpu_s, b->peak_rss_mib);
    if (!layers) {
        return;
    }
    printf("  %-16s %-13s %9s %9s %7s %8s\n", "layer", "type", "fwd ms", "bwd ms", "share",
           "GFLOP/s");
    for (int i = 0; i < b->nlayers; i++) {
        const nn_bench_layer *l = &b->layers[i];
        double t = l->forward_s + l->backward_s;
        printf("  %-16s %-13s %9.2f %9.2f %6.1f%% %8.1f\n", l->name, l->type, 1e3 * l->forward_s,
               1e3 * l->backward_s, 100 * t / b->step_s, t > 0 ? l->gflop / t : 0);
    }
    printf("  %-16s %-13s %9.2f %9s %6.1f%%\n", "(zero_grad)", "", 1e3 * b->zero_s, "",
           100 * b->zero_s / b->step_s);
    printf("  %-16s %-13s %9.2f %9s %6.1f%%\n", "(loss)", "", 1e3 * b->loss_s, "",
           100 * b->loss_s / b->step_s);
    printf("  %-16s %-13s %9.2f %9s %6.1f%%\n", "(update)", "", 1e3 * b->update_s, "",
           100 * b->update_s / b->step_s);
}

static void print_json(const char *model, const nn_bench *b)
{
    printf("{\"bench\": \"convkit-train\", \"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
           "\"steps\": %d, \"train_images_per_s\": %.3f, \"infer_images_per_s\": %.3f, "
           "\"step_seconds\": %.6f, \"step_cpu_seconds\": %.6f, \"step_gflop\": %.6f, "
           "\"gflops\": %.3f, "
           "\"sgemm_gflops\": %.3f, \"peak_fraction\": %.4f, \"blas_core\": \"%s\", "
           "\"peak_rss_mib\": %.1f, \"layers\": [",
           model, b->batch, b->threads, b->steps, b->train_images_per_s, b->infer_images_per_s,
           b->step_s, b->step_cpu_s, b->step_gflop, b->gflops, b->sgemm_gflops, b->peak_fraction,
           b->blas_core, b->peak_rss_mib);
    for (int i = 0; i < b->nlayers; i++) {
        const nn_bench_layer *l = &b->layers[i];
        printf("%s{\"name\": \"%s\", \"type\": \"%s\", \"forward_s\": %.6f, \"backward_s\": %.6f, "
               "\"gflop\": %.6f}",
               i ? ", " : "", l->name, l->type, l->forward_s, l->backward_s, l->gflop);
    }
    printf("], \"zero_s\": %.6f, \"loss_s\": %.6f, \"update_s\": %.6f}\n", b->zero_s, b->loss_s,
           b->update_s);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *threads = "1,2";
    int batch = 0, steps = 0, layers = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--layers") == 0) {
            layers = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (v && strcmp(a, "--model") == 0) {
            model = v, i++;
        } else if (v && strcmp(a, "--batch") == 0) {
            batch = atoi(v), i++;
        } else if (v && strcmp(a, "--threads") == 0) {
            threads = v, i++;
        } else if (v && strcmp(a, "--steps") == 0) {
            steps = atoi(v), i++;
        } else {
            return usage();
        }
    }
    const char *spec = model ? nn_builtin_spec(model) : NULL;
    if (!spec) {
        return usage();
    }
    if (batch <= 0) {
        batch = strncmp(model, "mnist", 5) == 0 ? 64 : 32;
    }
    if (steps <= 0) {
        steps = strncmp(model, "mnist", 5) == 0 ? 100 : 10;
    }
    char err[512] = "";
    nn_model *m;
    if (nn_model_create(&m, spec, model, batch, err, sizeof err)) {
        fprintf(stderr, "bench_train: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (const char *t = threads; *t;) {
        char *end;
        long n = strtol(t, &end, 10);
        if (end == t || n < 1 || n > 256) {
            rc = usage();
            break;
        }
        nn_bench b;
        if (nn_bench_run(m, (int)n, steps, &b, err, sizeof err)) {
            fprintf(stderr, "bench_train: %s\n", err);
            rc = 1;
            break;
        }
        if (json) {
            print_json(model, &b);
        } else {
            print_text(model, &b, layers);
        }
        fflush(stdout);
        nn_bench_free(&b);
        t = *end == ',' ? end + 1 : end;
    }
    nn_model_destroy(m);
    return rc;
}
