/* cmd_bench.c: `convkit bench augment|loader|train`: throughput figures for
 * docs/BENCHMARKS.md, as a table or one JSON object per configuration
 * (--json), so scripts/bench-*.sh can set them next to their peers. The
 * JSON carries every figure the library measures: the scripts build their
 * tables from it, and there is no second driver to keep in step. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "aug.h"
#include "cli.h"
#include "nn.h"
#include "pl.h"

/* ---- --json: one object per line, written by common's JSON writers ---- */

static ck_buf json_begin(const char *bench)
{
    ck_buf j = {0};
    ck_buf_str(&j, "{\"bench\":");
    ck_buf_json_str(&j, bench);
    return j;
}

/* Prints the object and a newline; frees j. */
static void json_end(ck_buf *j)
{
    ck_buf_str(j, "}");
    char *s = ck_buf_take(j);
    if (s) {
        puts(s);
        free(s);
    }
}

/* "0,1,2" -> {0, 1, 2}, each in [lo, 256]; returns the count or -1. */
static int parse_counts(const char *s, int *out, int max, int lo)
{
    int n = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (n == max || cli_parse_i64(tok, &v) || v < lo || v > 256) {
            return -1;
        }
        out[n++] = (int)v;
    }
    return n;
}

/* The image files named, directories expanded to their image files, in
 * sorted order. */
static int collect_files(char **args, int nargs, cli_files *l)
{
    char err[1024];
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            return cli_fail("%s: no such file or directory", args[i]);
        }
    }
    if (cli_files_expand(l, args, nargs, err, sizeof err)) {
        return cli_fail("%s", err);
    }
    qsort(l->v, (size_t)l->n, sizeof *l->v, cli_by_name);
    return l->n ? CLI_OK : cli_fail("bench: no image files given");
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int bench_augment(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"policy", required_argument, 0, 'p'},
        {"size", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"passes", required_argument, 0, 'n'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *cmd = "bench augment", *policy_text = "chollet-2nd";
    int64_t size = 150, passes = 2;
    int threads[8] = {1, 2}, nthreads = 2, as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'p': policy_text = optarg; break;
        case 's': bad = cli_parse_i64(optarg, &size) || size < 8 || size > 4096; break;
        case 't': bad = (nthreads = parse_counts(optarg, threads, 8, 1)) < 1; break;
        case 'n': bad = cli_parse_i64(optarg, &passes) || passes < 1; break;
        case 'j': as_json = 1; break;
        case 'h':
            printf("usage: convkit bench augment [--policy P] [--size 150] [--threads 1,2]\n"
                   "                             [--passes 2] [--json] FILE|DIR...\n"
                   "\n"
                   "Augmented samples/s (decode with shrink-on-load, one resample to\n"
                   "SIZE x SIZE x 3 float32) over the image files, with the policy and\n"
                   "without it, at each thread count. Files are read into memory first.\n");
            return CLI_OK;
        default: return cli_usage(cmd, "bad option");
        }
        if (bad) {
            return cli_usage(cmd, "bad value '%s'", optarg);
        }
    }
    char err[1024];
    if (optind >= argc) {
        return cli_usage(cmd, "want image files or a directory");
    }
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_usage(cmd, "%s", err);
    }
    cli_files files = {0};
    if (collect_files(argv + optind, argc - optind, &files)) {
        cli_files_free(&files);
        aug_policy_destroy(policy);
        return CLI_FAIL;
    }
    char canon[256];
    aug_policy_print(policy, canon, sizeof canon);
    int rc = 0;
    if (!as_json) {
        printf("%d files, %lldx%lld output\n%-40s %8s %12s %14s\n", files.n, (long long)size,
               (long long)size, "policy", "threads", "samples/s", "samples/cpu-s");
    }
    for (int aug = 0; aug < 2 && rc == 0; aug++) {
        for (int t = 0; t < nthreads && rc == 0; t++) {
            aug_params p = aug_params_default((int)size, (int)size, 3);
            p.policy = aug ? policy : NULL;
            aug_bench_result r;
            rc = aug_bench_run((const char *const *)files.v, files.n, &p, threads[t], (int)passes,
                               &r, err, sizeof err);
            if (rc) {
                break;
            }
            const char *name = aug ? canon : "none";
            if (as_json) {
                ck_buf j = json_begin("augment");
                ck_buf_json_field_str(&j, "policy", name);
                ck_buf_json_field_num(&j, "size", (double)size);
                ck_buf_json_field_num(&j, "threads", r.threads);
                ck_buf_json_field_num(&j, "samples", (double)r.samples);
                ck_buf_json_field_num(&j, "seconds", r.seconds);
                ck_buf_json_field_num(&j, "samples_per_s", r.samples_per_s);
                ck_buf_json_field_num(&j, "samples_per_cpu_s", r.samples_per_cpu_s);
                ck_buf_json_field_num(&j, "decode_errors", (double)r.decode_errors);
                json_end(&j);
            } else {
                printf("%-40.40s %8d %12.1f %14.1f\n", name, r.threads, r.samples_per_s,
                       r.samples_per_cpu_s);
            }
            fflush(stdout);
        }
    }
    aug_policy_destroy(policy);
    cli_files_free(&files);
    return cli_report(rc, err);
}

/* One JSON object per thread count: every figure nn_bench_run measures,
 * the per-layer rows included (scripts/bench-train.sh reads these keys). */
static void print_train_json(const char *model, const nn_bench *b)
{
    ck_buf j = json_begin("train");
    ck_buf_json_field_str(&j, "model", model);
    ck_buf_json_field_num(&j, "batch", b->batch);
    ck_buf_json_field_num(&j, "threads", b->threads);
    ck_buf_json_field_num(&j, "steps", b->steps);
    ck_buf_json_field_num(&j, "train_images_per_s", b->train_images_per_s);
    ck_buf_json_field_num(&j, "infer_images_per_s", b->infer_images_per_s);
    ck_buf_json_field_num(&j, "step_seconds", b->step_s);
    ck_buf_json_field_num(&j, "step_cpu_seconds", b->step_cpu_s);
    ck_buf_json_field_num(&j, "step_gflop", b->step_gflop);
    ck_buf_json_field_num(&j, "gflops", b->gflops);
    ck_buf_json_field_num(&j, "sgemm_gflops", b->sgemm_gflops);
    ck_buf_json_field_num(&j, "peak_fraction", b->peak_fraction);
    ck_buf_json_field_str(&j, "blas_core", b->blas_core ? b->blas_core : "");
    ck_buf_json_field_str(&j, "isa", b->isa ? b->isa : "");
    ck_buf_json_field_num(&j, "peak_rss_mib", b->peak_rss_mib);
    ck_buf_json_field_num(&j, "zero_s", b->zero_s);
    ck_buf_json_field_num(&j, "loss_s", b->loss_s);
    ck_buf_json_field_num(&j, "update_s", b->update_s);
    ck_buf_str(&j, ",\"layers\":[");
    for (int i = 0; i < b->nlayers; i++) {
        const nn_bench_layer *l = &b->layers[i];
        ck_buf_str(&j, i ? ",{\"name\":" : "{\"name\":");
        ck_buf_json_str(&j, l->name);
        ck_buf_json_field_str(&j, "type", l->type);
        ck_buf_json_field_num(&j, "forward_s", l->forward_s);
        ck_buf_json_field_num(&j, "backward_s", l->backward_s);
        ck_buf_json_field_num(&j, "gflop", l->gflop);
        ck_buf_str(&j, "}");
    }
    ck_buf_str(&j, "]");
    json_end(&j);
}

/* A summary line, then where a step's time goes, layer by layer. */
static void print_train_text(const char *model, const nn_bench *b)
{
    /* A conv base has no loss: its "step" is an inference forward. */
    int train = b->train_images_per_s > 0;
    printf("%s, batch %d, %d thread%s: ", model, b->batch, b->threads, b->threads > 1 ? "s" : "");
    if (train) {
        printf("training %.1f images/s (%.1f GFLOP/s, %.0f%% of sgemm %.1f on %s; kernels %s), "
               "inference %.1f images/s; step",
               b->train_images_per_s, b->gflops, 100 * b->peak_fraction, b->sgemm_gflops,
               b->blas_core ? b->blas_core : "?", b->isa ? b->isa : "?", b->infer_images_per_s);
    } else {
        printf("inference only (no loss), %.1f images/s (%.1f GFLOP/s, %.0f%% of sgemm %.1f on "
               "%s; kernels %s); forward",
               b->infer_images_per_s, b->gflops, 100 * b->peak_fraction, b->sgemm_gflops,
               b->blas_core ? b->blas_core : "?", b->isa ? b->isa : "?");
    }
    printf(" %.1f ms (CPU %.1f ms), peak RSS %.0f MiB\n", 1e3 * b->step_s, 1e3 * b->step_cpu_s,
           b->peak_rss_mib);
    printf("  %-22s %-14s %9s %9s %7s %8s\n", "layer", "type", "fwd ms", "bwd ms", "share",
           "GFLOP/s");
    for (int i = 0; i < b->nlayers; i++) {
        const nn_bench_layer *l = &b->layers[i];
        double t = l->forward_s + l->backward_s;
        printf("  %-22s %-14s %9.2f %9.2f %6.1f%% %8.1f\n", l->name, l->type, 1e3 * l->forward_s,
               1e3 * l->backward_s, 100 * t / b->step_s, t > 0 ? l->gflop / t : 0);
    }
    const char *names[3] = {"(zero_grad)", "(loss)", "(update)"};
    const double secs[3] = {b->zero_s, b->loss_s, b->update_s};
    for (int i = 0; i < 3; i++) {
        printf("  %-22s %-14s %9.2f %9s %6.1f%%\n", names[i], "", 1e3 * secs[i], "",
               100 * secs[i] / b->step_s);
    }
}

static int bench_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},   {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"steps", required_argument, 0, 'n'},
        {"size", required_argument, 0, 's'},    {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    const char *cmd = "bench train", *model = NULL;
    int64_t batch = 0, steps = 0, size = 0;
    int threads[8] = {1, 2}, nthreads = 2, as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': model = optarg; break;
        case 'b': bad = cli_parse_i64(optarg, &batch) || batch < 1 || batch > 4096; break;
        case 't': bad = (nthreads = parse_counts(optarg, threads, 8, 1)) < 1; break;
        case 'n': bad = cli_parse_i64(optarg, &steps) || steps < 1; break;
        case 's': bad = cli_parse_i64(optarg, &size) || size < 1 || size > 8192; break;
        case 'j': as_json = 1; break;
        case 'h':
            printf("usage: convkit bench train MODEL|SPEC [--batch B] [--threads 1,2]\n"
                   "                           [--steps S] [--size N] [--json]\n"
                   "\n"
                   "Training images/s (forward, loss, backward, update) and inference\n"
                   "images/s of a model on synthetic full batches, at each thread count,\n"
                   "after one warm-up step: achieved GFLOP/s and its fraction of a bare\n"
                   "OpenBLAS sgemm measured in the same run (and which OpenBLAS kernels\n"
                   "ran), CPU seconds per step, peak RSS, and the time of each layer.\n"
                   "The model may also be given as --model M. Defaults: batch 64 and\n"
                   "100 steps for the mnist models, batch 32 and 10 steps otherwise.\n"
                   "--size N gives the model an N x N input. A model without a final\n"
                   "activation (a conv base: vgg16-base) is timed for inference only.\n"
                   "--json prints one object per thread count.\n");
            return CLI_OK;
        default: return cli_usage(cmd, "bad option");
        }
        if (bad) {
            return cli_usage(cmd, "bad value '%s'", optarg);
        }
    }
    if (!model && optind < argc) {
        model = argv[optind++];
    }
    if (!model || optind != argc) {
        return cli_usage(cmd, "want one MODEL or SPEC");
    }
    int small = strncmp(model, "mnist", 5) == 0;
    batch = batch ? batch : small ? 64 : 32;
    steps = steps ? steps : small ? 100 : 10;
    char err[1024], *spec = NULL;
    nn_model *m = NULL;
    int rc = cli_model_spec(model, (int)size, &spec, err, sizeof err);
    if (rc == 0) {
        rc = nn_model_create(&m, spec, model, (int)batch, err, sizeof err);
    }
    free(spec);
    for (int t = 0; t < nthreads && rc == 0; t++) {
        nn_bench b;
        rc = nn_bench_run(m, threads[t], (int)steps, &b, err, sizeof err);
        if (rc) {
            break;
        }
        if (as_json) {
            print_train_json(model, &b);
        } else {
            print_train_text(model, &b);
        }
        nn_bench_free(&b);
        fflush(stdout);
    }
    nn_model_destroy(m);
    return cli_report(rc, err);
}

static int bench_loader(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"policy", required_argument, 0, 'p'},
        {"size", required_argument, 0, 's'},
        {"workers", required_argument, 0, 'w'},
        {"batch", required_argument, 0, 'b'},
        {"epochs", required_argument, 0, 'e'},
        {"split", required_argument, 0, 'S'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *cmd = "bench loader", *policy_text = "chollet-2nd", *split = "train";
    int64_t size = 150, batch = 32, epochs = 1;
    int workers[8] = {0, 1, 2}, nworkers = 3, as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'p': policy_text = optarg; break;
        case 's': bad = cli_parse_i64(optarg, &size) || size < 8 || size > 4096; break;
        case 'w': bad = (nworkers = parse_counts(optarg, workers, 8, 0)) < 1; break;
        case 'b': bad = cli_parse_i64(optarg, &batch) || batch < 1 || batch > 4096; break;
        case 'e': bad = cli_parse_i64(optarg, &epochs) || epochs < 1; break;
        case 'S': split = optarg; break;
        case 'j': as_json = 1; break;
        case 'h':
            printf("usage: convkit bench loader DATASET.db [--policy P] [--size 150]\n"
                   "                            [--workers 0,1,2] [--batch 32] [--epochs 1]\n"
                   "                            [--split train] [--json]\n"
                   "\n"
                   "Batches/s and images/s of the training loader over a split, SIZE x SIZE\n"
                   "x 3 float32 batches, for each worker count (0: decoded inline by the\n"
                   "consumer), with the policy and without it. The consumer only takes\n"
                   "the batches.\n");
            return CLI_OK;
        default: return cli_usage(cmd, "bad option");
        }
        if (bad) {
            return cli_usage(cmd, "bad value '%s'", optarg);
        }
    }
    if (optind != argc - 1) {
        return cli_usage(cmd, "want one DATASET.db");
    }
    char err[1024], canon[256];
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_usage(cmd, "%s", err);
    }
    aug_policy_print(policy, canon, sizeof canon);
    int rc = 0;
    if (!as_json) {
        printf("%s (%s), batch %lld, %lldx%lld\n%-40s %8s %10s %12s %14s %10s\n", argv[optind],
               split, (long long)batch, (long long)size, (long long)size, "policy", "workers",
               "batches/s", "images/s", "images/cpu-s", "stall s");
    }
    for (int aug = 0; aug < 2 && rc == 0; aug++) {
        for (int w = 0; w < nworkers && rc == 0; w++) {
            pl_loader_opts o;
            pl_loader_opts_default(&o);
            o.catalog = argv[optind];
            o.split = split;
            o.batch = (int)batch;
            o.workers = workers[w];
            o.aug = aug_params_default((int)size, (int)size, 3);
            o.aug.policy = aug ? policy : NULL;
            pl_loader_bench_result r;
            rc = pl_loader_bench_run(&o, (int)epochs, &r, err, sizeof err);
            if (rc) {
                break;
            }
            const char *name = aug ? canon : "none";
            if (as_json) {
                ck_buf j = json_begin("loader");
                ck_buf_json_field_str(&j, "policy", name);
                ck_buf_json_field_num(&j, "size", (double)size);
                ck_buf_json_field_num(&j, "batch", (double)batch);
                ck_buf_json_field_num(&j, "workers", r.workers);
                ck_buf_json_field_num(&j, "images", (double)r.images);
                ck_buf_json_field_num(&j, "seconds", r.seconds);
                ck_buf_json_field_num(&j, "batches_per_s", r.batches_per_s);
                ck_buf_json_field_num(&j, "images_per_s", r.images_per_s);
                ck_buf_json_field_num(&j, "images_per_cpu_s", r.images_per_cpu_s);
                ck_buf_json_field_num(&j, "stall", r.stall);
                ck_buf_json_field_num(&j, "peak_rss_mb", peak_rss_mb());
                json_end(&j);
            } else {
                printf("%-40.40s %8d %10.2f %12.1f %14.1f %10.3f\n", name, r.workers,
                       r.batches_per_s, r.images_per_s, r.images_per_cpu_s, r.stall);
            }
            fflush(stdout);
        }
    }
    aug_policy_destroy(policy);
    return cli_report(rc, err);
}

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "augment")) {
        return bench_augment(argc - 1, argv + 1);
    }
    if (argc >= 2 && !strcmp(argv[1], "train")) {
        return bench_train(argc - 1, argv + 1);
    }
    if (argc >= 2 && !strcmp(argv[1], "loader")) {
        return bench_loader(argc - 1, argv + 1);
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: convkit bench augment|loader|train [options] (see --help of each)\n");
        return CLI_OK;
    }
    return cli_usage("bench", "want 'augment', 'loader' or 'train'");
}
