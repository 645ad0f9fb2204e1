/* cmd_features.c: `convkit extract-features` (a frozen conv base run once
 * over each split of a dataset.db, its outputs stored in a features.db,
 * the book's fast feature extraction) and `convkit export-weights` (a
 * checkpoint's or a fresh model's weights as a Keras .h5).
 *
 * Samples go through the loader in catalog order without augmentation,
 * resized to the base's input, as pixels in [0, 255] when the base starts
 * with preprocess_input (vgg16-base does). The features of a split are
 * the base's last output, (h, w, c) per sample.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"
#include "cli.h"
#include "data.h"

/* The features' config: where they come from, and what training needs. */
static char *features_config(const nn_model *m, const char *weights, const char *data,
                             const data_facts *f, const data_input *in)
{
    json_t *classes = json_array();
    for (int i = 0; i < f->nclasses; i++) {
        json_array_append_new(classes, json_string(f->classes[i]));
    }
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:[i,i,i], s:s, s:s?}", "model", nn_model_name(m),
                  "spec", nn_model_spec(m), "weights", weights, "dataset", data, "dataset_hash",
                  f->hash, "classes", classes, "input", h, w, c, "resize",
                  cli_resize_names[in->resize], "decode", in->full_decode ? "full" : NULL);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return text;
}

/* Runs the base over one split into f. */
static int extract_split(nn_model *m, nn_features *f, const char *data, const char *split,
                         const data_input *in, int workers, int quiet, char *err, size_t errlen)
{
    data_split d;
    int rc = data_open(&d, data, split, m, in, NULL, 0, 0, workers, NULL, err, errlen);
    if (rc) {
        return rc;
    }
    int64_t total = pl_loader_size(d.loader), done = 0;
    size_t size = (size_t)nn_model_outputs(m);
    cli_progress bar;
    cli_progress_init(&bar);
    double t0 = ck_now();
    rc = pl_loader_begin(d.loader, 0, err, errlen);
    pl_batch b;
    while (rc == 0 && (rc = pl_loader_next(d.loader, &b, err, errlen)) == 1) {
        rc = nn_model_forward(m, b.x, b.n, NULL);
        const float *y = nn_model_output(m);
        for (int i = 0; rc == 0 && i < b.n; i++, done++) {
            rc = nn_features_add(f, split, done, b.ids[i], b.labels[i], y + (size_t)i * size, err,
                                 errlen);
        }
        if (rc == 0 && !quiet && bar.tty) {
            char text[96];
            snprintf(text, sizeof text, "%lld/%lld images - %.1f img/s", (long long)done,
                     (long long)total, (double)done / (ck_now() - t0));
            cli_progress_draw(&bar, split, total ? (double)done / (double)total : -1, text,
                              done == total);
        }
    }
    data_close(&d);
    if (rc == 0 && !quiet) {
        cli_progress_end(&bar);
        char n[32];
        cli_fmt_count(n, sizeof n, done);
        fprintf(stderr, "%s: %s samples, %.1f s, %.1f img/s\n", split, n, ck_now() - t0,
                (double)done / (ck_now() - t0));
    }
    return rc;
}

static const char features_usage[] =
    "usage: convkit extract-features --weights FILE.h5 --data DATASET.db -o FEATURES.db\n"
    "                                [options]\n"
    "\n"
    "Runs a conv base (default vgg16-base, with Keras's VGG16 weights, e.g.\n"
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5) once over each split and\n"
    "stores what comes out (4x4x512 per sample at 150x150) for convkit train\n"
    "--features. Every layer of the base with weights must be in the file.\n";

int cmd_extract_features(int argc, char **argv)
{
    const char *cmd = "extract-features", *weights = NULL, *data = NULL, *out = NULL;
    const char *model = "vgg16-base", *splits = NULL;
    int64_t size = 0, batch = 32, threads = 0, workers = -1;
    int quiet = 0, resize = AUG_RESIZE_STRETCH, decode = 0, first;
    const cli_opt opts[] = {
        CLI_STR_OPT("weights", 0, &weights, "FILE.h5", "the base's Keras weights"),
        CLI_STR_OPT("data", 0, &data, "FILE", "the catalog (convkit prepare-dataset)"),
        CLI_STR_OPT("output", 'o', &out, "FILE", "the features.db to write"),
        CLI_MODEL_OPT("model", &model, "M",
                      "the base: a built-in or a spec file (default "
                      "vgg16-base)"),
        CLI_INT_OPT("size", 0, &size, "N", "input N x N (default: the model's, 150 for vgg16-base)",
                    1, 8192),
        CLI_STR_OPT("splits", 0, &splits, "LIST",
                    "comma-separated (default train,validation,test: those that have samples)"),
        CLI_CHOICE_OPT("resize", &resize, "MODE", "as convkit train's (default stretch)",
                       cli_resize_names),
        CLI_CHOICE_OPT("decode", &decode, "MODE", "as convkit train's (default fast)",
                       cli_decode_names),
        CLI_INT_OPT("batch", 0, &batch, "N", "samples per forward pass (default 32)", 1, 4096),
        CLI_INT_OPT("threads", 0, &threads, "N", "BLAS threads (default: all cores)", 1, CLI_NOMAX),
        CLI_INT_OPT(
            "workers", 0, &workers, "N",
            "loader threads, 0 decoding on the main thread (default: chosen for the machine)", 0,
            64),
        CLI_FLAG_OPT("quiet", 'q', &quiet, "no progress output"),
        CLI_END_OPT,
    };
    const cli_spec cli = {
        .cmd = cmd, .usage = features_usage, .opts = opts, .required = "weights data output"};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (first != argc) {
        return cli_usage(cmd, "unexpected argument '%s'", argv[first]);
    }
    const data_input input = {.resize = (aug_resize)resize, .full_decode = decode};
    const char *ins[] = {weights, data}, *outs[] = {out};
    st = cli_outputs_apart(cmd, ins, 2, outs, 1);
    if (st) {
        return st;
    }
    char err[1024], *spec = NULL, *config = NULL;
    nn_model *m = NULL;
    nn_features *f = NULL;
    data_facts facts = {0};
    int rc = cli_model_spec(model, (int)size, &spec, err, sizeof err);
    if (rc == 0) {
        rc = nn_model_create(&m, spec, model, (int)batch, err, sizeof err);
    }
    if (rc == 0) {
        rc = nn_model_freeze(m, err, sizeof err);
    }
    if (rc == 0) {
        rc = nn_model_load_h5(m, weights, NN_H5_COMPLETE, NULL, err, sizeof err);
    }
    if (rc == 0) {
        rc = data_catalog_facts(data, &facts, err, sizeof err);
    }
    if (rc == 0 && !(config = features_config(m, weights, data, &facts, &input))) {
        rc = ck_err(err, sizeof err, CK_ENOMEM, "extract-features: out of memory");
    }
    int h = 0, w = 0, ch = 0;
    if (rc == 0) {
        nn_model_output_shape(m, &h, &w, &ch);
        rc = nn_features_create(&f, out, h, w, ch, config, err, sizeof err);
    }
    if (rc == 0) {
        nn_set_threads(threads ? (int)threads : ck_ncores());
    }
    static const char *const all[] = {"train", "validation", "test"};
    char list[256];
    snprintf(list, sizeof list, "%s", splits ? splits : "train,validation,test");
    char *save = NULL;
    for (char *s = strtok_r(list, ",", &save); rc == 0 && s; s = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < 3 && strcmp(s, all[i]) != 0) {
            i++;
        }
        if (!splits && facts.split_size[i] == 0) {
            continue; /* the default list takes the splits there are */
        }
        rc = extract_split(m, f, data, s, &input, (int)workers, quiet, err, sizeof err);
    }
    if (rc == 0) {
        rc = nn_features_commit(f, err, sizeof err);
        f = NULL;
    }
    nn_features_abort(f);
    data_facts_free(&facts);
    nn_model_destroy(m);
    free(config);
    free(spec);
    if (rc) {
        return cli_report(rc, err);
    }
    printf("%s: %dx%dx%d features per sample from %s\n", out, h, w, ch, model);
    return CLI_OK;
}

static const char export_usage[] =
    "usage: convkit export-weights CHECKPOINT -o FILE.h5\n"
    "       convkit export-weights --model M [--size N] [--seed S] -o FILE.h5\n"
    "\n"
    "Writes a checkpoint's weights (or a new model's, initialised from the seed\n"
    "as convkit train does) in Keras's HDF5 layout, which Keras's\n"
    "model.load_weights and convkit train --weights read.\n";

int cmd_export_weights(int argc, char **argv)
{
    const char *cmd = "export-weights", *model = NULL, *out = NULL;
    int64_t size = 0, seed = 0;
    int first;
    const cli_opt opts[] = {
        CLI_MODEL_OPT("model", &model, "M", "a new model instead of a checkpoint"),
        CLI_INT_OPT("size", 0, &size, "N", "the new model's input N x N", 1, 8192),
        CLI_INT_OPT("seed", 0, &seed, "N", "the new model's initial weights (default 0)", 0,
                    CLI_NOMAX),
        CLI_STR_OPT("output", 'o', &out, "FILE.h5", "the Keras weights file to write"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd, .usage = export_usage, .opts = opts, .required = "output"};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (model ? first != argc : first != argc - 1) {
        return cli_usage(cmd, "want CHECKPOINT -o FILE.h5, or --model M -o FILE.h5");
    }
    const char *ins[] = {model ? NULL : argv[first]}, *outs[] = {out};
    st = cli_outputs_apart(cmd, ins, 1, outs, 1);
    if (st || (st = cli_output_ext(cmd, out, "Keras weights", ".h5,.hdf5"))) {
        return st;
    }
    char err[1024], *spec = NULL;
    nn_model *m = NULL;
    int rc;
    if (model) {
        rc = cli_model_spec(model, (int)size, &spec, err, sizeof err);
        if (rc == 0) {
            rc = nn_model_create(&m, spec, model, 1, err, sizeof err);
        }
        if (rc == 0) {
            nn_model_init(m, (uint64_t)seed);
        }
    } else {
        rc = nn_model_load(&m, argv[first], 1, err, sizeof err);
    }
    if (rc == 0) {
        rc = nn_model_save_h5(m, out, err, sizeof err);
    }
    if (rc == 0) {
        printf("%s: %zu weights of %s\n", out, nn_model_params(m), nn_model_name(m));
    }
    nn_model_destroy(m);
    free(spec);
    return rc ? cli_report(rc, err) : CLI_OK;
}
