/* cmd_report.c: `convkit report`, one self-contained HTML page per
 * experiment (report/ makes it), and the engine's part of it: the kept
 * checkpoint of a run evaluated on a split, sample by sample, as
 * `convkit evaluate` does (the same checks of a checkpoint meeting a
 * catalog, the same loader) with each sample's prediction kept, so the
 * page can show the most confident mistakes; and the checkpoint's views
 * as `convkit heatmap`, `activations` and `filters` draw them, lightened
 * for a page (at most REPORT_CHANNELS channels a layer, the patterns of
 * REPORT_LAYERS deeper layers).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ck.h"
#include "cli.h"
#include "data.h"
#include "record.h"
#include "rp.h"

enum { MAX_NAMES = 64, REPORT_CHANNELS = 32, REPORT_LAYERS = 3 };

static const char usage[] =
    "usage: convkit report --runs runs.db [--run NAME]... [--data DATASET.db]...\n"
    "                      [--split NAME] [--title TEXT] [--no-views] -o REPORT.html\n"
    "\n"
    "One HTML page that shows an experiment: the catalogs the runs trained on\n"
    "(samples per split and class, rejects, duplicates and leakage, pictures of\n"
    "each class, the dataset hash), the augmentation they saw (in words, and a\n"
    "grid of augmented variants), each run (configuration, model summary, curves,\n"
    "time per epoch), the runs compared (curves overlaid, the gap between\n"
    "training and validation accuracy, best and last figures with mean and\n"
    "spread over seeds), and the kept checkpoint of each run on the test split:\n"
    "confusion matrix, precision, recall and F1 per class, the most confident\n"
    "mistakes; the lecture's classic kernels (Sobel, Prewitt, Laplacian) on a\n"
    "training image, and for one run of each arm what the network looks at on\n"
    "an image: Grad-CAM, the first 32 channels of each layer's activations, the\n"
    "first layer's kernels and the patterns of 8 filters in each of 3 deeper\n"
    "layers (as convkit heatmap, activations and filters draw them; --no-views\n"
    "leaves them out, as they take a while on a large model).\n"
    "\n"
    "The page is one file: figures are inline SVG, pictures data: URIs, and it\n"
    "loads nothing from anywhere, so it opens offline and prints as it shows.\n"
    "A run's catalog is the one it recorded (as given to train, or beside\n"
    "runs.db); --data gives it instead (one for every run, or several matched\n"
    "to the runs by dataset hash). A catalog without a test split is evaluated\n"
    "on its validation split, and the page says so. What cannot be shown (a\n"
    "catalog not found, a checkpoint missing) is said on the page and here.\n";

typedef struct report_args {
    const char *runs[MAX_NAMES], *data[MAX_NAMES];
    int nruns, ndata;
} report_args;

static int parse_run(void *dest, const char *v, char *why, size_t len)
{
    report_args *a = dest;
    if (a->nruns == MAX_NAMES) {
        snprintf(why, len, "at most %d runs", MAX_NAMES);
        return -1;
    }
    a->runs[a->nruns++] = v;
    return 0;
}

static int parse_data(void *dest, const char *v, char *why, size_t len)
{
    report_args *a = dest;
    if (a->ndata == MAX_NAMES) {
        snprintf(why, len, "at most %d catalogs", MAX_NAMES);
        return -1;
    }
    a->data[a->ndata++] = v;
    return 0;
}

/* ---- the engine ---------------------------------------------------------- */

typedef struct engine {
    const char *runs_path;
    int batch;
} engine;

/* A source that lends another's batches and keeps their labels. */
typedef struct keep_labels {
    const nn_source *inner;
    ck_buf labels; /* int32_t each */
} keep_labels;

static int keep_begin(void *ctx, int epoch, char *err, size_t errlen)
{
    keep_labels *k = ctx;
    ck_buf_free(&k->labels);
    return k->inner->begin ? k->inner->begin(k->inner->ctx, epoch, err, errlen) : 0;
}

static int keep_next(void *ctx, nn_batch *b, char *err, size_t errlen)
{
    keep_labels *k = ctx;
    int rc = k->inner->next(k->inner->ctx, b, err, errlen);
    if (rc == 0 && b->n > 0) {
        ck_buf_add(&k->labels, b->labels, (size_t)b->n * sizeof *b->labels);
    }
    return rc;
}

/* Each sample's predicted class and its probability, from the outputs
 * (the rule nn_evaluate's confusion matrix uses). */
static int predictions(const nn_eval *e, int outputs, rp_eval *out)
{
    size_t n = (size_t)e->n;
    out->pred = malloc((n ? n : 1) * sizeof *out->pred);
    out->prob = malloc((n ? n : 1) * sizeof *out->prob);
    if (!out->pred || !out->prob) {
        return CK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const float *row = e->outputs + i * (size_t)outputs;
        int best = 0;
        float p;
        if (outputs == 1) {
            best = row[0] > 0.5f;
            p = best ? row[0] : 1.0f - row[0];
        } else {
            for (int j = 1; j < outputs; j++) {
                best = row[j] > row[best] ? j : best;
            }
            p = row[best];
        }
        out->pred[i] = best;
        out->prob[i] = p;
    }
    return 0;
}

/* The kept checkpoint of run: NAME.best.ckpt beside runs.db, else
 * NAME.last.ckpt, into ckpt (len bytes); CK_EIO when neither is there. */
static int kept(const engine *g, const char *run, char *ckpt, size_t len, char *err, size_t errlen)
{
    char last[4096];
    cli_run_checkpoints(g->runs_path, run, last, ckpt, len < sizeof last ? len : sizeof last);
    if (access(ckpt, F_OK) != 0 && access(last, F_OK) == 0) {
        snprintf(ckpt, len, "%s", last);
    }
    return access(ckpt, F_OK) == 0
               ? 0
               : ck_err(err, errlen, CK_EIO, "%s: no such checkpoint (nor %s)", ckpt, last);
}

static int evaluate(void *ctx, const char *run, const char *catalog, const char *split,
                    rp_eval *out, char *err, size_t errlen)
{
    engine *g = ctx;
    char ckpt[4096];
    memset(out, 0, sizeof *out);
    int rc = kept(g, run, ckpt, sizeof ckpt, err, errlen);
    if (rc) {
        return rc;
    }
    nn_model *m = NULL;
    data_facts facts = {0};
    data_split d = {0};
    nn_eval e = {0};
    keep_labels k = {0};
    rc = nn_model_load(&m, ckpt, g->batch, err, errlen);
    if (rc == 0) {
        rc = data_catalog_facts(catalog, &facts, err, errlen);
    }
    if (rc == 0) {
        rc = data_check_model(&facts, m, nn_model_config(m), catalog, ckpt, err, errlen);
    }
    if (rc == 0) { /* the inputs prepared as the run's were (resize, decode) */
        const char *text = nn_model_config(m);
        json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
        data_input in = data_input_recorded(json_object_get(cfg, "extra"));
        json_decref(cfg);
        rc = data_open(&d, catalog, split, m, &in, NULL, 0, 0, -1, NULL, err, errlen);
    }
    if (rc == 0) {
        k.inner = &d.source;
        nn_source src = {.ctx = &k, .size = d.source.size, .begin = keep_begin, .next = keep_next};
        rc = nn_evaluate_outputs(m, NN_LOSS_AUTO, &src, 0, &e, err, errlen);
    }
    int64_t nlabels = (int64_t)(k.labels.len / sizeof(int32_t));
    if (rc == 0 && !k.labels.oom && nlabels != e.n) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: %s: %lld labels for %lld samples", catalog, split,
                    (long long)nlabels, (long long)e.n);
    }
    if (rc == 0) {
        out->checkpoint = strdup(ckpt);
        out->loss = e.loss;
        out->accuracy = e.accuracy;
        out->n = e.n;
        out->classes = e.classes;
        out->confusion = e.confusion;
        e.confusion = NULL;
        out->label = (int32_t *)ck_buf_take(&k.labels);
        if (!out->checkpoint || !out->label || predictions(&e, nn_model_outputs(m), out)) {
            rc = ck_err(err, errlen, CK_ENOMEM, "report: out of memory");
        }
    }
    if (rc) {
        rp_eval_free(out);
    }
    ck_buf_free(&k.labels);
    nn_eval_free(&e);
    data_close(&d);
    data_facts_free(&facts);
    nn_model_destroy(m);
    return rc;
}

static int view(void *ctx, const char *run, rp_view which, const aug_src *image,
                const char *class_name, void **jpeg, size_t *len, char *what, size_t whatlen,
                char *err, size_t errlen)
{
    static int (*const build[RP_VIEW_COUNT])(cli_viz *, aug_figure **, char *, size_t) = {
        [RP_VIEW_HEATMAP] = cli_viz_heatmap,
        [RP_VIEW_ACTIVATIONS] = cli_viz_activations,
        [RP_VIEW_FILTERS] = cli_viz_filters,
    };
    char ckpt[4096];
    aug_figure *f = NULL;
    int rc = kept(ctx, run, ckpt, sizeof ckpt, err, errlen);
    cli_viz v = cli_viz_defaults(ckpt, NULL);
    v.src = image;
    v.class_name = class_name;
    v.channels = REPORT_CHANNELS;
    v.layers = REPORT_LAYERS;
    if (rc == 0) {
        rc = build[which](&v, &f, err, errlen);
    }
    if (rc == 0) {
        rc = aug_figure_encode(f, AUG_JPEG, jpeg, len, err, errlen);
    }
    if (rc == 0) {
        snprintf(what, whatlen, "%s", v.what);
    }
    aug_figure_destroy(f);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    const char *cmd = "report", *runs_path = NULL, *out = NULL, *split = NULL, *title = NULL;
    int64_t batch = 64;
    int first, no_views = 0;
    report_args a = {0};
    const cli_opt opts[] = {
        CLI_STR_OPT("runs", 0, &runs_path, "FILE", "the runs database"),
        CLI_FN_OPT("run", &a, "NAME", "a run to show (repeatable; default all, in recorded order)",
                   parse_run, NULL),
        CLI_FN_OPT("data", &a, "FILE",
                   "the catalog to show the runs with (repeatable; default the one each run "
                   "recorded)",
                   parse_data, NULL),
        CLI_STR_OPT("split", 0, &split, "NAME",
                    "the split the kept checkpoints are evaluated on (default test, or "
                    "validation when there is no test split)"),
        CLI_STR_OPT("title", 0, &title, "TEXT", "the page's heading (default Experiment report)"),
        CLI_INT_OPT("batch", 0, &batch, "N", "samples per forward pass (default 64)", 1, 65536),
        CLI_FLAG_OPT("no-views", 0, &no_views,
                     "leave out the network's views (Grad-CAM, activations, filters)"),
        CLI_STR_OPT("output", 'o', &out, "FILE", "the HTML file to write"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd, .usage = usage, .opts = opts, .required = "runs output"};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (first != argc) {
        return cli_usage(cmd, "unexpected argument '%s'", argv[first]);
    }
    if ((st = cli_output_ext(cmd, out, "report", ".html,.htm"))) {
        return st;
    }
    const char *ins[1 + MAX_NAMES] = {runs_path}, *outs[] = {out};
    for (int i = 0; i < a.ndata; i++) {
        ins[1 + i] = a.data[i];
    }
    if ((st = cli_outputs_apart(cmd, ins, 1 + a.ndata, outs, 1))) {
        return st;
    }
    engine g = {.runs_path = runs_path, .batch = (int)batch};
    rp_engine eng = {.ctx = &g, .evaluate = evaluate, .view = no_views ? NULL : view};
    rp_opts o = {.runs_path = runs_path,
                 .runs = a.runs,
                 .nruns = a.nruns,
                 .data = a.data,
                 .ndata = a.ndata,
                 .split = split,
                 .title = title,
                 .engine = &eng,
                 .out_path = out};
    char err[1024], *notes = NULL;
    int rc = rp_report_write(&o, &notes, err, sizeof err);
    for (char *line = notes, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        fprintf(stderr, "convkit report: note: %s\n", line);
        if (!nl) {
            break;
        }
    }
    free(notes);
    if (rc == 0) {
        fprintf(stderr, "wrote %s\n", out);
    }
    return cli_report(rc, err);
}
