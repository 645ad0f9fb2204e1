/* main.c: the convkit command. Dispatches to one function per subcommand;
 * starts libvips once, before any thread.
 *
 * LC_CTYPE follows the environment, so that libraries that convert text
 * to the user's character set (file names in messages) can; the archive
 * readers convert entry names to UTF-8 on their own whatever it is. Only
 * LC_CTYPE: LC_NUMERIC would change the decimal point of every number
 * printed or written to JSON and CSV. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "ck.h"
#include "cli.h"
#include "dist.h"
#include "im.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"prepare-dataset", cmd_prepare, "read archives, folders, IDX or HODA into a dataset.db"},
    {"info", cmd_info, "describe a dataset.db: splits, classes, rejects, duplicates"},
    {"augment", cmd_augment, "preview a policy on an image, or write augmented copies"},
    {"filter", cmd_filter, "apply a classic kernel (Sobel, Prewitt, Laplacian...) to an image"},
    {"summary", cmd_summary, "print a model's layers, output shapes and parameters"},
    {"train", cmd_train, "train a model on a dataset.db, recording every epoch in runs.db"},
    {"evaluate", cmd_evaluate, "loss, accuracy and confusion matrix of a checkpoint on a split"},
    {"predict", cmd_predict, "class and probability of image files from a checkpoint"},
    {"extract-features", cmd_extract_features,
     "run a pretrained conv base (VGG16) once over a dataset.db's splits"},
    {"export-weights", cmd_export_weights, "write a checkpoint's weights as a Keras .h5 file"},
    {"curves", cmd_curves, "export, plot or list learning curves from a runs.db"},
    {"activations", cmd_activations, "every conv and pool layer's output for one image, as grids"},
    {"filters", cmd_filters, "the first layer's kernels and the patterns deeper filters prefer"},
    {"heatmap", cmd_heatmap, "Grad-CAM: where in an image the model finds a class"},
    {"report", cmd_report, "one self-contained HTML page of an experiment, from its runs.db"},
    {"bench", cmd_bench, "measure augmentation and training throughput"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: convkit <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\n'convkit <command> --help' describes a command.\n");
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(name, commands[i].name)) {
            return &commands[i];
        }
    }
    return NULL;
}

/* "convkit: unknown command 'trian'; did you mean 'train'?" */
static int unknown(const char *name)
{
    ck_nearest n;
    ck_nearest_init(&n, name);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        ck_nearest_add(&n, commands[i].name);
    }
    if (n.best) {
        fprintf(stderr, "convkit: unknown command '%s'; did you mean '%s'?\n", name, n.best);
    } else {
        fprintf(stderr, "convkit: unknown command '%s'\n", name);
    }
    usage(stderr);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    (void)setlocale(LC_CTYPE, ""); /* NOLINT(concurrency-mt-unsafe): before any thread */
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("convkit %s\n", CONVKIT_VERSION);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "help")) { /* convkit help CMD [VERB]: CMD [VERB] --help */
        const command *c = find(argv[2]);
        if (!c) {
            return unknown(argv[2]);
        }
        char help[] = "--help";
        char *args[4] = {argv[2], argc > 3 ? argv[3] : help, argc > 3 ? help : NULL, NULL};
        return c->run(argc > 3 ? 3 : 2, args);
    }
    const command *c = find(argv[1]);
    if (!c) {
        return unknown(argv[1]);
    }
    char err[512];
    ck_isa isa;
    if (ck_isa_get(&isa, err, sizeof err)) { /* a bad CONVKIT_ISA: before any work */
        fprintf(stderr, "convkit: %s\n", err);
        return CLI_USAGE;
    }
    /* Under mpirun: MPI starts here, and only train shares its work out. */
    if (dist_start(&argc, &argv, err, sizeof err)) {
        return cli_fail("%s", err);
    }
    if (dist_size() > 1 && c->run != cmd_train) {
        if (dist_rank() == 0) {
            fprintf(stderr,
                    "convkit %s: runs on one process; of the commands, only train shares its "
                    "work out under mpirun\n",
                    argv[1]);
        }
        dist_stop();
        return CLI_USAGE;
    }
    int rc = im_init(argv[0], err, sizeof err) ? cli_fail("%s", err) : c->run(argc - 1, argv + 1);
    if (rc != CLI_OK && dist_size() > 1 && !cli_comm_together()) {
        dist_abort(rc); /* the others may be waiting for this one: end them all */
    }
    dist_stop();
    return rc;
}
