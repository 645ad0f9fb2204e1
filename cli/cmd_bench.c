/* cmd_bench.c: `convkit bench augment|loader|train`: throughput figures for
 * docs/BENCHMARKS.md, as a table or one JSON object per configuration
 * (--json), so scripts/bench-*.sh can set them next to their peers. The
 * JSON carries every figure the library measures: the scripts build their
 * tables from it, and there is no second driver to keep in step. */
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

/* A list of thread or worker counts, "0,1,2": at most 8, each in [lo, 256]. */
typedef struct counts {
    int v[8], n, lo;
} counts;

static int parse_counts(void *dest, const char *s, char *why, size_t len)
{
    (void)why;
    (void)len;
    counts *c = dest;
    char buf[64];
    if (strlen(s) >= sizeof buf) {
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", s);
    c->n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (c->n == 8 || cli_parse_i64(tok, &v) || v < c->lo || v > 256) {
            return -1;
        }
        c->v[c->n++] = (int)v;
    }
    return c->n ? 0 : -1;
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

static const char augment_usage[] =
    "usage: convkit bench augment [--policy P] [--size 150] [--threads 1,2]\n"
    "                             [--passes 2] [--json] FILE|DIR...\n"
    "\n"
    "Augmented samples/s (decode with shrink-on-load, one resample to\n"
    "SIZE x SIZE x 3 float32) over the image files, with the policy and\n"
    "without it, at each thread count. Files are read into memory first.\n";

static int bench_augment(int argc, char **argv)
{
    const char *cmd = "bench augment", *policy_text = "chollet-2nd";
    int64_t size = 150, passes = 2;
    counts threads = {{1, 2}, 2, 1};
    int as_json = 0, first;
    const cli_opt opts[] = {
        CLI_POLICY_OPT("policy", &policy_text, "P", "the policy (default chollet-2nd)"),
        CLI_INT_OPT("size", 0, &size, "N", "output side (default 150)", 8, 4096),
        CLI_FN_OPT("threads", &threads, "LIST", "thread counts (default 1,2)", parse_counts,
                   "up to 8 comma-separated integers from 1 to 256"),
        CLI_INT_OPT("passes", 0, &passes, "N", "passes over the files (default 2)", 1, CLI_NOMAX),
        CLI_FLAG_OPT("json", 0, &as_json, "one JSON object per configuration"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd, .usage = augment_usage, .opts = opts};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    char err[1024];
    if (first >= argc) {
        return cli_usage(cmd, "want image files or a directory");
    }
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_report(CK_EINVAL, err);
    }
    cli_files files = {0};
    if (collect_files(argv + first, argc - first, &files)) {
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
        for (int t = 0; t < threads.n && rc == 0; t++) {
            aug_params p = aug_params_default((int)size, (int)size, 3);
            p.policy = aug ? policy : NULL;
            aug_bench_result r;
            rc = aug_bench_run((const char *const *)files.v, files.n, &p, threads.v[t], (int)passes,
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

static const char train_usage[] =
    "usage: convkit bench train MODEL|SPEC [--batch B] [--threads 1,2]\n"
    "                           [--steps S] [--size N] [--json]\n"
    "\n"
    "Training images/s (forward, loss, backward, update) and inference\n"
    "images/s of a model on synthetic full batches, at each thread count,\n"
    "after one warm-up step: achieved GFLOP/s and its fraction of a bare\n"
    "OpenBLAS sgemm measured in the same run (and which OpenBLAS kernels\n"
    "ran), CPU seconds per step, peak RSS, and the time of each layer.\n"
    "A model without a final activation (a conv base: vgg16-base) is timed\n"
    "for inference only.\n";

static int bench_train(int argc, char **argv)
{
    const char *cmd = "bench train", *model = NULL;
    int64_t batch = 0, steps = 0, size = 0;
    counts threads = {{1, 2}, 2, 1};
    int as_json = 0, first;
    const cli_opt opts[] = {
        CLI_MODEL_OPT("model", &model, "M", "the model, instead of MODEL|SPEC"),
        CLI_INT_OPT("batch", 0, &batch, "B",
                    "batch size (default 64 for the mnist models, 32 "
                    "otherwise)",
                    1, 4096),
        CLI_FN_OPT("threads", &threads, "LIST", "thread counts (default 1,2)", parse_counts,
                   "up to 8 comma-separated integers from 1 to 256"),
        CLI_INT_OPT("steps", 0, &steps, "S",
                    "timed steps (default 100 for the mnist models, 10 "
                    "otherwise)",
                    1, CLI_NOMAX),
        CLI_INT_OPT("size", 0, &size, "N", "the model's input N x N", 1, 8192),
        CLI_FLAG_OPT("json", 0, &as_json, "one JSON object per thread count"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd, .usage = train_usage, .opts = opts};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (!model && first < argc) {
        model = argv[first++];
    }
    if (!model || first != argc) {
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
    for (int t = 0; t < threads.n && rc == 0; t++) {
        nn_bench b;
        rc = nn_bench_run(m, threads.v[t], (int)steps, &b, err, sizeof err);
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

static const char loader_usage[] =
    "usage: convkit bench loader DATASET.db [--policy P] [--size 150] [--decode fast]\n"
    "                            [--workers 0,1,2] [--batch 32] [--epochs 1]\n"
    "                            [--split train] [--json]\n"
    "\n"
    "Batches/s and images/s of the training loader over a split, SIZE x SIZE\n"
    "x 3 float32 batches, for each worker count (0: decoded inline by the\n"
    "consumer), with the policy and without it. The consumer only takes\n"
    "the batches.\n";

static int bench_loader(int argc, char **argv)
{
    const char *cmd = "bench loader", *policy_text = "chollet-2nd", *split = "train";
    int64_t size = 150, batch = 32, epochs = 1;
    counts workers = {{0, 1, 2}, 3, 0};
    int as_json = 0, decode = 0, first;
    const cli_opt opts[] = {
        CLI_POLICY_OPT("policy", &policy_text, "P", "the policy (default chollet-2nd)"),
        CLI_INT_OPT("size", 0, &size, "N", "output side (default 150)", 8, 4096),
        CLI_CHOICE_OPT("decode", &decode, "MODE", "fast (default) or full, as convkit train's",
                       cli_decode_names),
        CLI_FN_OPT("workers", &workers, "LIST", "worker counts (default 0,1,2)", parse_counts,
                   "up to 8 comma-separated integers from 0 to 256"),
        CLI_INT_OPT("batch", 0, &batch, "N", "batch size (default 32)", 1, 4096),
        CLI_INT_OPT("epochs", 0, &epochs, "N", "epochs per configuration (default 1)", 1,
                    CLI_NOMAX),
        CLI_STR_OPT("split", 0, &split, "NAME", "the split (default train)"),
        CLI_FLAG_OPT("json", 0, &as_json, "one JSON object per configuration"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd, .usage = loader_usage, .opts = opts};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (first != argc - 1) {
        return cli_usage(cmd, "want one DATASET.db");
    }
    char err[1024], canon[256];
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_report(CK_EINVAL, err);
    }
    aug_policy_print(policy, canon, sizeof canon);
    int rc = 0;
    if (!as_json) {
        printf("%s (%s), batch %lld, %lldx%lld, %s decode\n%-40s %8s %10s %12s %14s %10s\n",
               argv[first], split, (long long)batch, (long long)size, (long long)size,
               cli_decode_names[decode], "policy", "workers", "batches/s", "images/s",
               "images/cpu-s", "stall s");
    }
    for (int aug = 0; aug < 2 && rc == 0; aug++) {
        for (int w = 0; w < workers.n && rc == 0; w++) {
            pl_loader_opts o;
            pl_loader_opts_default(&o);
            o.catalog = argv[first];
            o.split = split;
            o.batch = (int)batch;
            o.workers = workers.v[w];
            o.aug = aug_params_default((int)size, (int)size, 3);
            o.aug.policy = aug ? policy : NULL;
            o.aug.shrink_on_load = !decode;
            pl_loader_bench_result r;
            rc = pl_loader_bench_run(&o, (int)epochs, &r, err, sizeof err);
            if (rc) {
                break;
            }
            const char *name = aug ? canon : "none";
            if (as_json) {
                ck_buf j = json_begin("loader");
                ck_buf_json_field_str(&j, "policy", name);
                ck_buf_json_field_str(&j, "decode", cli_decode_names[decode]);
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
    static const char *const verbs[] = {"augment", "loader", "train", NULL};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: convkit bench augment|loader|train [options] (see --help of each)\n");
        return CLI_OK;
    }
    switch (cli_verb("bench", argc >= 2 ? argv[1] : NULL, verbs)) {
    case 0: return bench_augment(argc - 1, argv + 1);
    case 1: return bench_loader(argc - 1, argv + 1);
    case 2: return bench_train(argc - 1, argv + 1);
    default: return CLI_USAGE;
    }
}
