/* cmd_curves.c: `convkit curves export|plot|list|delete`: learning curves
 * out of runs.db, as CSV/JSON for pandas, as the book's figures, or as a
 * table of runs with their best validation and test accuracy; and runs
 * deleted, rows and checkpoints, so that a name can be used again. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ck.h"
#include "cli.h"
#include "record.h"
#include "rn.h"

enum { MAX_RUNS = 64 };

static const char help[] =
    "usage: convkit curves export --runs runs.db [--run NAME]... [--format csv|json]\n"
    "                             [--columns LIST] [-o FILE]\n"
    "       convkit curves plot --runs runs.db [--run NAME [--label TEXT]]...\n"
    "                           [--layout overlay|side] [--best each|val_accuracy|val_loss|none]\n"
    "                           [--yscale-loss linear|log] [--ylim-loss BOTTOM,TOP]\n"
    "                           [--ylim-accuracy BOTTOM,TOP]\n"
    "                           [--title TEXT] [--size WxH] -o FILE.png|FILE.svg\n"
    "       convkit curves list --runs runs.db [--run NAME]... [--json]\n"
    "       convkit curves delete --runs runs.db NAME...\n"
    "\n"
    "export: one row per run and epoch (loss, accuracy, val_loss, val_accuracy,\n"
    "  seconds, images_per_s, input_stall), CSV or JSON, to FILE or stdout;\n"
    "  --columns loss,accuracy,val_loss,val_accuracy keeps the columns that a\n"
    "  seeded run reproduces exactly (the others are measured times).\n"
    "plot: training (solid) and validation (dashed) accuracy and loss per epoch,\n"
    "  the best validation epochs marked (each: the highest val_accuracy on the\n"
    "  accuracy panel, the lowest val_loss, the kept checkpoint, on the loss\n"
    "  panel); several runs overlaid with a legend or side by side. --label\n"
    "  names the preceding --run in the legend. A run whose loss diverged is\n"
    "  left out of the automatic loss range and named in the legend;\n"
    "  --ylim-* set a panel's y range (either side may be empty: '0,' or ',2'),\n"
    "  --yscale-loss log draws the loss on a log scale.\n"
    "list: runs with their model, optimizer, augmentation, dataset, seed, status,\n"
    "  best validation accuracy, test accuracy, and every other evaluation\n"
    "  (another split, or another catalog, named).\n"
    "delete: removes the runs, their epochs and evaluations, and their\n"
    "  checkpoints beside runs.db (NAME.last.ckpt, NAME.best.ckpt), and says what\n"
    "  it removed; a name not recorded deletes nothing.\n"
    "Without --run, every run in runs.db, in the order they were recorded.\n";

typedef struct curves_args {
    const char *runs_path, *out, *columns, *title;
    const char *names[MAX_RUNS], *labels[MAX_RUNS];
    int nruns, has_labels, json;
    rn_curves_format format;
    rn_curves_plot_opts plot;
} curves_args;

static int parse_args(const char *cmd, int positional, int argc, char **argv, curves_args *a)
{
    static const struct option longopts[] = {
        {"runs", required_argument, 0, 'r'},
        {"run", required_argument, 0, 'n'},
        {"label", required_argument, 0, 'l'},
        {"format", required_argument, 0, 'f'},
        {"columns", required_argument, 0, 'c'},
        {"layout", required_argument, 0, 'L'},
        {"best", required_argument, 0, 'b'},
        {"title", required_argument, 0, 't'},
        {"size", required_argument, 0, 's'},
        {"yscale-loss", required_argument, 0, 'Y'},
        {"ylim-loss", required_argument, 0, 'M'},
        {"ylim-accuracy", required_argument, 0, 'A'},
        {"json", no_argument, 0, 'j'},
        {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    a->plot = rn_curves_plot_defaults();
    int c, v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': a->runs_path = optarg; break;
        case 'n':
            if (a->nruns == MAX_RUNS) {
                return cli_usage(cmd, "at most %d runs", MAX_RUNS);
            }
            a->names[a->nruns++] = optarg;
            break;
        case 'l':
            if (a->nruns == 0) {
                return cli_usage(cmd, "--label names the --run before it");
            }
            a->labels[a->nruns - 1] = optarg;
            a->has_labels = 1;
            break;
        case 'f':
            if ((v = rn_curves_format_parse(optarg)) < 0) {
                return cli_usage(cmd, "--format: want csv or json, got '%s'", optarg);
            }
            a->format = (rn_curves_format)v;
            break;
        case 'c': a->columns = optarg; break;
        case 'L':
            if ((v = rn_curves_layout_parse(optarg)) < 0) {
                return cli_usage(cmd, "--layout: want overlay or side, got '%s'", optarg);
            }
            a->plot.layout = (rn_curves_layout)v;
            break;
        case 'b':
            if ((v = rn_curves_best_parse(optarg)) < 0) {
                return cli_usage(cmd, "--best: want each, val_accuracy, val_loss or none, got '%s'",
                                 optarg);
            }
            a->plot.best = (rn_curves_best)v;
            break;
        case 'Y':
            if ((v = rn_curves_scale_parse(optarg)) < 0) {
                return cli_usage(cmd, "--yscale-loss: want linear or log, got '%s'", optarg);
            }
            a->plot.loss_scale = (rn_curves_scale)v;
            break;
        case 'M':
        case 'A':
            if (rn_curves_ylim_parse(optarg,
                                     c == 'M' ? a->plot.ylim_loss : a->plot.ylim_accuracy)) {
                return cli_usage(cmd,
                                 "--ylim-%s: want BOTTOM,TOP (numbers, bottom below top, either "
                                 "may be empty), got '%s'",
                                 c == 'M' ? "loss" : "accuracy", optarg);
            }
            break;
        case 't': a->plot.title = optarg; break;
        case 's':
            if (sscanf(optarg, "%dx%d", &a->plot.width, &a->plot.height) != 2) {
                return cli_usage(cmd, "--size: want WIDTHxHEIGHT, got '%s'", optarg);
            }
            break;
        case 'j': a->json = 1; break;
        case 'o': a->out = optarg; break;
        case 'h': fputs(help, stdout); return -1;
        default: return cli_usage(cmd, "bad option");
        }
    }
    for (; positional && optind < argc; optind++) {
        if (a->nruns == MAX_RUNS) {
            return cli_usage(cmd, "at most %d runs", MAX_RUNS);
        }
        a->names[a->nruns++] = argv[optind];
    }
    if (optind != argc) {
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (!a->runs_path) {
        return cli_usage(cmd, "--runs runs.db is required");
    }
    const char *in[] = {a->runs_path}, *out[] = {a->out};
    int st = cli_outputs_apart(cmd, in, 1, out, 1);
    if (st) {
        return st;
    }
    if (a->plot.loss_scale == RN_CURVES_LOG && a->plot.ylim_loss[0] <= 0) {
        return cli_usage(cmd, "--ylim-loss: the bottom must be above 0 with --yscale-loss log");
    }
    if (a->has_labels) {
        a->plot.labels = a->labels;
    }
    return 0;
}

static int curves_export(curves_args *a, char *err, size_t errlen)
{
    rn_curves_export_opts o = {.format = a->format, .columns = a->columns};
    if (a->out) {
        return rn_curves_export_file(a->runs_path, a->names, a->nruns, &o, a->out, err, errlen);
    }
    char *text;
    size_t len;
    int rc = rn_curves_export(a->runs_path, a->names, a->nruns, &o, &text, &len, err, errlen);
    if (rc == 0) {
        fwrite(text, 1, len, stdout);
        free(text);
    }
    return rc;
}

static int curves_list(curves_args *a, char *err, size_t errlen)
{
    rn_curves_list l = {0};
    int rc = rn_curves_list_runs(a->runs_path, a->names, a->nruns, &l, err, errlen);
    char *text = NULL;
    if (rc == 0 && (a->json ? rn_curves_list_json(&l, &text) : rn_curves_list_table(&l, &text))) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: list: out of memory", a->runs_path);
    }
    if (rc == 0) {
        fputs(text, stdout);
    }
    free(text);
    rn_curves_list_free(&l);
    return rc;
}

/* The rows first (all or nothing), then each run's checkpoints. */
static int curves_delete(curves_args *a, char *err, size_t errlen)
{
    rn_deleted del[MAX_RUNS];
    int rc = rn_runs_delete(a->runs_path, a->names, a->nruns, del, err, errlen);
    for (int i = 0; rc == 0 && i < a->nruns; i++) {
        char last[4096], best[4096], part[4200], removed[8300] = "";
        const char *ckpt[2] = {last, best};
        cli_run_checkpoints(a->runs_path, a->names[i], last, best, sizeof last);
        for (int k = 0; k < 2; k++) {
            snprintf(part, sizeof part, "%s.part", ckpt[k]);
            unlink(part); /* a killed write's leftover, if any */
            if (unlink(ckpt[k]) == 0) {
                size_t len = strlen(removed);
                snprintf(removed + len, sizeof removed - len, ", %s", ckpt[k]);
            } else if (errno != ENOENT) {
                char why[128];
                rc = ck_err(err, errlen, CK_EIO, "%s: remove: %s", ckpt[k],
                            ck_errno_text(errno, why, sizeof why));
            }
        }
        printf("deleted run %s: %lld epoch%s, %lld evaluation%s%s\n", a->names[i],
               (long long)del[i].epochs, del[i].epochs == 1 ? "" : "s",
               (long long)del[i].evaluations, del[i].evaluations == 1 ? "" : "s", removed);
    }
    return rc;
}

int cmd_curves(int argc, char **argv)
{
    const char *verb = argc >= 2 ? argv[1] : "";
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        fputs(help, stdout);
        return CLI_OK;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "curves %s", verb);
    if (strcmp(verb, "export") && strcmp(verb, "plot") && strcmp(verb, "list") &&
        strcmp(verb, "delete")) {
        return cli_usage("curves", "want 'export', 'plot', 'list' or 'delete'");
    }
    int del = !strcmp(verb, "delete");
    curves_args a = {0};
    int rc = parse_args(cmd, del, argc - 1, argv + 1, &a);
    if (rc) {
        return rc < 0 ? CLI_OK : rc;
    }
    if (del && (a.nruns == 0 || a.out)) {
        return cli_usage(cmd, "want --runs runs.db NAME... (the runs to delete)");
    }
    char err[1024];
    if (!strcmp(verb, "export")) {
        if (a.out && (rc = cli_output_ext(cmd, a.out,
                                          a.format == RN_CURVES_JSON  ? "JSON"
                                          : a.format == RN_CURVES_CSV ? "CSV"
                                                                      : "curves",
                                          a.format == RN_CURVES_JSON  ? ".json"
                                          : a.format == RN_CURVES_CSV ? ".csv,.txt"
                                                                      : ".csv,.json,.txt"))) {
            return rc;
        }
        rc = curves_export(&a, err, sizeof err);
    } else if (!strcmp(verb, "list")) {
        rc = curves_list(&a, err, sizeof err);
    } else if (del) {
        rc = curves_delete(&a, err, sizeof err);
    } else if (!a.out) {
        return cli_usage(cmd, "-o FILE.png or FILE.svg is required");
    } else {
        rc = rn_curves_plot(a.runs_path, a.names, a.nruns, &a.plot, a.out, err, sizeof err);
    }
    if (rc) {
        return cli_report(rc, err);
    }
    if (a.out) {
        fprintf(stderr, "wrote %s\n", a.out);
    }
    return CLI_OK;
}
