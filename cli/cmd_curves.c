/* cmd_curves.c: `convkit curves export|plot|list|delete`: learning curves
 * out of runs.db, as CSV/JSON for pandas, as the book's figures, or as a
 * table of runs with their best validation and test accuracy; and runs
 * deleted, rows and checkpoints, so that a name can be used again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ck.h"
#include "cli.h"
#include "record.h"
#include "rn.h"

enum { MAX_RUNS = 64 };

static const char usage[] =
    "usage: convkit curves export --runs runs.db [--run NAME]... [--format csv|json]\n"
    "                             [--columns LIST] [-o FILE]\n"
    "       convkit curves plot --runs runs.db [--run NAME [--label TEXT]]...\n"
    "                           [--layout overlay|side|gap]\n"
    "                           [--best each|val_accuracy|val_loss|none]\n"
    "                           [--yscale-loss linear|log] [--ylim-loss BOTTOM,TOP]\n"
    "                           [--ylim-accuracy BOTTOM,TOP]\n"
    "                           [--title TEXT] [--size WxH] -o FILE.png|FILE.svg\n"
    "       convkit curves list --runs runs.db [--run NAME]... [--json]\n"
    "       convkit curves delete --runs runs.db NAME...\n"
    "\n"
    "export: one row per run and epoch (loss, accuracy, val_loss, val_accuracy,\n"
    "  seconds, images_per_s, input_stall, comm_wait), CSV or JSON, to FILE or\n"
    "  stdout; --columns loss,accuracy,val_loss,val_accuracy keeps the columns\n"
    "  that a seeded run reproduces exactly (the others are measured times).\n"
    "plot: training (solid) and validation (dashed) accuracy and loss per epoch,\n"
    "  the best validation epochs marked (each: the highest val_accuracy on the\n"
    "  accuracy panel, the lowest val_loss, the kept checkpoint, on the loss\n"
    "  panel); several runs overlaid with a legend or side by side; --layout\n"
    "  gap draws accuracy - val_accuracy per epoch, one line per run. --label\n"
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

static int parse_run(void *dest, const char *v, char *why, size_t len)
{
    curves_args *a = dest;
    if (a->nruns == MAX_RUNS) {
        snprintf(why, len, "at most %d runs", MAX_RUNS);
        return -1;
    }
    a->names[a->nruns++] = v;
    return 0;
}

static int parse_label(void *dest, const char *v, char *why, size_t len)
{
    curves_args *a = dest;
    if (a->nruns == 0) {
        snprintf(why, len, "names the --run before it, and none came before");
        return -1;
    }
    a->labels[a->nruns - 1] = v;
    a->has_labels = 1;
    return 0;
}

static int parse_format(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    int f = rn_curves_format_parse(v);
    *(rn_curves_format *)dest = f < 0 ? RN_CURVES_CSV : (rn_curves_format)f;
    return f < 0;
}

static int parse_layout(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    int l = rn_curves_layout_parse(v);
    if (l >= 0) {
        *(rn_curves_layout *)dest = (rn_curves_layout)l;
    }
    return l < 0;
}

static int parse_best(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    int b = rn_curves_best_parse(v);
    if (b >= 0) {
        *(rn_curves_best *)dest = (rn_curves_best)b;
    }
    return b < 0;
}

static int parse_scale(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    int sc = rn_curves_scale_parse(v);
    if (sc >= 0) {
        *(rn_curves_scale *)dest = (rn_curves_scale)sc;
    }
    return sc < 0;
}

/* dest: a double[2], the panel's bottom and top (NAN: automatic). */
static int parse_ylim(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    return rn_curves_ylim_parse(v, dest) != 0;
}

static int parse_size(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    rn_curves_plot_opts *p = dest;
    char tail;
    return sscanf(v, "%dx%d%c", &p->width, &p->height, &tail) != 2 || p->width < 1 || p->height < 1;
}

/* positional: the run names follow the options (delete). */
static int parse_args(const char *cmd, int positional, int argc, char **argv, curves_args *a)
{
    a->plot = rn_curves_plot_defaults();
    int first;
    const cli_opt opts[] = {
        CLI_STR_OPT("runs", 0, &a->runs_path, "FILE", "the runs database"),
        CLI_FN_OPT("run", a, "NAME", "a run to show (repeatable; default all)", parse_run, NULL),
        CLI_FN_OPT("label", a, "TEXT", "the legend's name for the --run before it", parse_label,
                   NULL),
        CLI_FN_OPT("format", &a->format, "F", "export: the format (default csv)", parse_format,
                   "csv or json"),
        CLI_STR_OPT("columns", 0, &a->columns, "LIST", "export: the columns to keep"),
        CLI_FN_OPT("layout", &a->plot.layout, "L",
                   "plot: runs overlaid (default), side by side, or the accuracy gap", parse_layout,
                   "overlay, side or gap"),
        CLI_FN_OPT("best", &a->plot.best, "B", "plot: the epochs marked (default each)", parse_best,
                   "each, val_accuracy, val_loss or none"),
        CLI_FN_OPT("yscale-loss", &a->plot.loss_scale, "S",
                   "plot: the loss panel's y scale (default linear)", parse_scale, "linear or log"),
        CLI_FN_OPT("ylim-loss", a->plot.ylim_loss, "BOTTOM,TOP",
                   "plot: the loss panel's y range (default automatic)", parse_ylim,
                   "BOTTOM,TOP (numbers, bottom below top, either may be empty)"),
        CLI_FN_OPT("ylim-accuracy", a->plot.ylim_accuracy, "BOTTOM,TOP",
                   "plot: the accuracy panel's y range (default automatic)", parse_ylim,
                   "BOTTOM,TOP (numbers, bottom below top, either may be empty)"),
        CLI_STR_OPT("title", 0, &a->plot.title, "TEXT", "plot: the figure's title"),
        CLI_FN_OPT("size", &a->plot, "WxH", "plot: the image size in pixels", parse_size,
                   "WIDTHxHEIGHT, both positive integers"),
        CLI_FLAG_OPT("json", 0, &a->json, "list: as JSON"),
        CLI_STR_OPT("output", 'o', &a->out, "FILE", "the file to write (export: default stdout)"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd, .usage = usage, .opts = opts, .required = "runs"};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st == CLI_OK ? -1 : st;
    }
    for (; positional && first < argc; first++) {
        if (a->nruns == MAX_RUNS) {
            return cli_usage(cmd, "at most %d runs", MAX_RUNS);
        }
        a->names[a->nruns++] = argv[first];
    }
    if (first != argc) {
        return cli_usage(cmd, "unexpected argument '%s'", argv[first]);
    }
    const char *in[] = {a->runs_path}, *out[] = {a->out};
    st = cli_outputs_apart(cmd, in, 1, out, 1);
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
    static const char *const verbs[] = {"export", "plot", "list", "delete", NULL};
    const char *verb = argc >= 2 ? argv[1] : NULL;
    if (verb && (!strcmp(verb, "--help") || !strcmp(verb, "-h"))) {
        curves_args a = {0};
        return parse_args("curves", 0, argc, argv, &a) < 0 ? CLI_OK : CLI_USAGE;
    }
    if (cli_verb("curves", verb, verbs) < 0 || !verb) { /* cli_verb refuses no verb */
        return CLI_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "curves %s", verb);
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
