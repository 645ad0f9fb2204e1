/* cmd_evaluate.c: `convkit evaluate` (a checkpoint on a split of a
 * dataset.db: loss, accuracy, confusion matrix, optionally recorded in
 * runs.db) and `convkit predict` (a checkpoint on image files: class and
 * probability per file). The checkpoint carries the model and the run's
 * configuration (class names, resize and decode modes), so the inputs are prepared as
 * they were in training. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"
#include "cli.h"
#include "data.h"
#include "rn.h"

/* An evaluation is recorded only for the run whose checkpoint it is: the
 * checkpoint's configuration must be the run's, but for its epochs (an
 * extended run's earlier checkpoints say fewer). */
static int check_run(const nn_model *m, const char *ckpt, const char *runs, const rn_curves_run *r,
                     char *err, size_t errlen)
{
    rn_config_change *c = NULL;
    int n = 0, rc = rn_config_diff(r->config, nn_model_config(m), &c, &n, err, errlen);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (strcmp(c[i].member, "epochs") != 0) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: not a checkpoint of run %s in %s (%s %s there, %s in the "
                        "checkpoint); nothing recorded",
                        ckpt, r->name, runs, c[i].member, c[i].recorded ? c[i].recorded : "(none)",
                        c[i].now ? c[i].now : "(none)");
        }
    }
    rn_config_changes_free(c, n);
    return rc == CK_EFORMAT ? ck_err(err, errlen, CK_EINVAL,
                                     "%s: not a checkpoint of run %s in %s; nothing recorded", ckpt,
                                     r->name, runs)
                            : rc;
}

static const char evaluate_usage[] =
    "usage: convkit evaluate CHECKPOINT --data DATASET.db [--split test]\n"
    "                        [--runs runs.db --name RUN] [--json]\n"
    "       convkit evaluate CHECKPOINT --features FEATURES.db [...]\n"
    "\n"
    "Loss, accuracy and confusion matrix of a checkpoint on a split (rows:\n"
    "true class, columns: predicted). The catalog's classes must be the\n"
    "checkpoint's. With --runs and --name the result is recorded for the run\n"
    "whose checkpoint it is, with the catalog and split it measured\n"
    "(convkit curves list shows it).\n";

int cmd_evaluate(int argc, char **argv)
{
    const char *cmd = "evaluate", *data = NULL, *features = NULL, *split = "test", *runs = NULL,
               *name = NULL;
    int64_t batch = 64;
    int as_json = 0, first;
    const cli_opt opts[] = {
        CLI_STR_OPT("data", 0, &data, "FILE", "the catalog to evaluate on"),
        CLI_STR_OPT("features", 0, &features, "FILE",
                    "or stored features, for a head trained on them"),
        CLI_STR_OPT("split", 0, &split, "NAME", "the split (default test)"),
        CLI_STR_OPT("runs", 0, &runs, "FILE", "the runs database to record the result in"),
        CLI_STR_OPT("name", 0, &name, "RUN", "the recorded run the checkpoint comes from"),
        CLI_INT_OPT("batch", 0, &batch, "N", "samples per forward pass (default 64)", 1, 65536),
        CLI_FLAG_OPT("json", 0, &as_json, "the result as one JSON object"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd,
                          .usage = evaluate_usage,
                          .opts = opts,
                          .required = "data|features",
                          .exclusive = "data|features"};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (first != argc - 1) {
        return cli_usage(cmd, "want one CHECKPOINT");
    }
    if ((runs != NULL) != (name != NULL)) {
        return cli_usage(cmd, "--runs and --name go together");
    }
    const char *ins[] = {argv[first], data, features}, *outs[] = {runs};
    st = cli_outputs_apart(cmd, ins, 3, outs, 1);
    if (st) {
        return st;
    }
    char err[1024];
    nn_model *m = NULL;
    data_facts facts = {0};
    data_split d = {0};
    data_run rf = {0};
    nn_eval e = {0};
    int rc = 0;
    rn_curves_list known = {0};
    if (runs) { /* the run must be recorded: checked before the evaluation runs */
        rc = rn_curves_list_runs(runs, &name, 1, &known, err, sizeof err);
    }
    if (rc == 0) {
        rc = nn_model_load(&m, argv[first], (int)batch, err, sizeof err);
    }
    if (rc == 0 && runs) {
        rc = check_run(m, argv[first], runs, &known.runs[0], err, sizeof err);
    }
    if (rc == 0) {
        data_run_read(m, &rf);
        rc = features ? data_open_features(&d, features, split, (int)batch, 0, 0, err, sizeof err)
                      : data_catalog_facts(data, &facts, err, sizeof err);
    }
    if (rc == 0 && features) {
        rc = data_features_facts(d.features, features, &facts, err, sizeof err);
    }
    if (rc == 0) {
        rc = data_check_model(&facts, m, nn_model_config(m), features ? features : data,
                              argv[first], err, sizeof err);
    }
    if (rc == 0 && !features) {
        rc = data_check_images(m, argv[first], err, sizeof err);
    }
    if (rc == 0 && !features) {
        rc = data_open(&d, data, split, m, &rf.input, NULL, 0, 0, -1, NULL, err, sizeof err);
    }
    if (rc == 0) {
        rc = nn_evaluate(m, NN_LOSS_AUTO, &d.source, 0, &e, err, sizeof err);
    }
    if (rc == 0 && runs) {
        rc = rn_record_eval(runs, name, features ? features : data, facts.hash, split, e.loss,
                            e.accuracy, e.n, e.classes, e.confusion, err, sizeof err);
    }
    if (rc == 0) {
        char buf[32];
        if (as_json) {
            json_t *conf = json_array();
            for (int i = 0; i < e.classes; i++) {
                json_t *row = json_array();
                for (int j = 0; j < e.classes; j++) {
                    json_array_append_new(row, json_integer(e.confusion[i * e.classes + j]));
                }
                json_array_append_new(conf, row);
            }
            json_t *o = json_pack("{s:s, s:s, s:I, s:f, s:f, s:o}", "checkpoint", argv[first],
                                  "split", split, "samples", (json_int_t)e.n, "loss", e.loss,
                                  "accuracy", e.accuracy, "confusion", conf);
            char *text = json_dumps(o, JSON_COMPACT);
            printf("%s\n", text ? text : "{}");
            free(text);
            json_decref(o);
        } else {
            char n[32];
            cli_fmt_count(n, sizeof n, e.n);
            printf("%s on %s (%s, %s samples): loss %.4f, accuracy %.4f\n", argv[first],
                   features ? features : data, split, n, e.loss, e.accuracy);
            char cell[64]; /* class names cut and padded by columns, in any script */
            printf("\nconfusion (rows: true, columns: predicted)\n%12s", "");
            for (int j = 0; j < e.classes; j++) {
                const char *cls = data_class_name(&rf, j, buf, sizeof buf);
                printf(" %s", ck_text_cell(cell, sizeof cell, cls, 8, 1));
            }
            printf("\n");
            for (int i = 0; i < e.classes; i++) {
                const char *cls = data_class_name(&rf, i, buf, sizeof buf);
                printf("%s", ck_text_cell(cell, sizeof cell, cls, 12, 1));
                for (int j = 0; j < e.classes; j++) {
                    printf(" %8lld", (long long)e.confusion[i * e.classes + j]);
                }
                printf("\n");
            }
        }
    }
    nn_eval_free(&e);
    rn_curves_list_free(&known);
    data_close(&d);
    data_facts_free(&facts);
    data_run_free(&rf);
    nn_model_destroy(m);
    return cli_report(rc, err);
}

/* One file's prediction: its class and probability, and every class's
 * probability into probs (the model's outputs). */
static int predict_file(nn_model *m, aug_pipe *pipe, float *x, float *probs, const char *path,
                        int *best, float *p, char *err, size_t errlen)
{
    int rc = data_image_read(pipe, path, x, err, errlen);
    if (rc == 0 && nn_predict(m, x, 1, probs) != 0) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: predict: bad input", path);
    }
    if (rc) {
        return rc;
    }
    *best = 0;
    *p = probs[0];
    if (nn_model_output_act(m) == NN_ACT_SIGMOID) {
        *best = probs[0] >= 0.5f;
        *p = *best ? probs[0] : 1.0f - probs[0];
    } else {
        for (int k = 1; k < nn_model_outputs(m); k++) {
            if (probs[k] > *p) {
                *best = k;
                *p = probs[k];
            }
        }
    }
    return 0;
}

/* {"file", "class", "probability", "probabilities": {class: p}} or
 * {"file", "error"}: one element of predict --json's array. */
static json_t *predict_json(const data_run *rf, const nn_model *m, const char *path,
                            const char *error, int best, float p, const float *probs)
{
    if (error) {
        return json_pack("{s:s, s:s}", "file", path, "error", error);
    }
    char buf[32];
    json_t *all = json_object();
    int binary = nn_model_output_act(m) == NN_ACT_SIGMOID;
    for (int k = 0; k < (binary ? 2 : nn_model_outputs(m)); k++) {
        double v = binary ? (k ? probs[0] : 1.0f - probs[0]) : probs[k];
        json_object_set_new(all, data_class_name(rf, k, buf, sizeof buf), json_real(v));
    }
    return json_pack("{s:s, s:s, s:f, s:o}", "file", path, "class",
                     data_class_name(rf, best, buf, sizeof buf), "probability", (double)p,
                     "probabilities", all);
}

static const char predict_usage[] =
    "usage: convkit predict CHECKPOINT IMAGE|DIR... [--json]\n"
    "\n"
    "The class and its probability for each image file, prepared as the\n"
    "run's training inputs were (size, channels, scale, resize and decode\n"
    "modes). A\n"
    "directory stands for its image files (.jpg, .jpeg, .png, .gif, .webp,\n"
    ".tif, .tiff, .bmp), sorted by name; its subdirectories are not entered.\n"
    "Every file is predicted: one that cannot be is reported with the reason,\n"
    "and the exit status is then 1.\n";

int cmd_predict(int argc, char **argv)
{
    int first, as_json = 0;
    const cli_opt opts[] = {
        CLI_FLAG_OPT("json", 0, &as_json,
                     "one JSON array: per file {\"file\", \"class\", \"probability\", "
                     "\"probabilities\": {class: p}}, or {\"file\", \"error\"}"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = "predict", .usage = predict_usage, .opts = opts};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (argc - first < 2) {
        return cli_usage("predict", "want CHECKPOINT IMAGE|DIR...");
    }
    char err[1024];
    nn_model *m = NULL;
    aug_pipe *pipe = NULL;
    data_run rf = {0};
    cli_files files = {0};
    float *x = NULL, *probs = NULL;
    int rc = nn_model_load(&m, argv[first], 1, err, sizeof err);
    if (rc == 0) {
        rc = data_check_images(m, argv[first], err, sizeof err);
    }
    if (rc == 0) {
        data_run_read(m, &rf);
        aug_params p = data_model_params(m, &rf.input);
        rc = aug_pipe_create(&pipe, &p, err, sizeof err);
        x = malloc(aug_params_sample_bytes(&p));
        probs = malloc((size_t)nn_model_outputs(m) * sizeof *probs);
        if (rc == 0 && (!x || !probs)) {
            rc = ck_err(err, sizeof err, CK_ENOMEM, "predict: out of memory");
        }
    }
    int failed = 0, empty = 0;
    for (int i = first + 1; rc == 0 && i < argc; i++) {
        int before = files.n;
        rc = cli_files_expand(&files, argv + i, 1, err, sizeof err);
        if (rc == 0 && files.n == before) { /* a directory without images */
            fprintf(stderr, "convkit predict: %s: no image files in it\n", argv[i]);
            empty++;
        }
    }
    if (rc == 0 && as_json) {
        printf("[");
    }
    for (int i = 0; rc == 0 && i < files.n; i++) {
        int best = 0;
        float p = 0;
        char why[1024];
        int bad = predict_file(m, pipe, x, probs, files.v[i], &best, &p, why, sizeof why);
        if (bad == CK_ENOMEM) {
            rc = ck_err(err, sizeof err, CK_ENOMEM, "%s", why);
            break;
        }
        failed += bad != 0;
        if (bad) {
            fprintf(stderr, "convkit predict: %s\n", why);
        }
        if (as_json) {
            json_t *o = predict_json(&rf, m, files.v[i], bad ? why : NULL, best, p, probs);
            char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
            printf("%s\n%s", i ? "," : "", text ? text : "null");
            free(text);
            json_decref(o);
        } else if (!bad) {
            char buf[32];
            printf("%s\t%s\t%.4f\n", files.v[i], data_class_name(&rf, best, buf, sizeof buf),
                   (double)p);
        }
    }
    if (rc == 0 && as_json) {
        printf("%s]\n", files.n ? "\n" : "");
    }
    int total = files.n + empty;
    failed += empty;
    cli_files_free(&files);
    free(x);
    free(probs);
    aug_pipe_destroy(pipe);
    data_run_free(&rf);
    nn_model_destroy(m);
    if (rc) {
        return cli_report(rc, err);
    }
    if (failed) {
        fprintf(stderr, "convkit predict: %d of %d file%s could not be predicted\n", failed, total,
                total == 1 ? "" : "s");
        return CLI_FAIL;
    }
    return CLI_OK;
}
