/* cmd_summary.c: `convkit summary MODEL|SPEC...`: Keras's model.summary()
 * table for a built-in model or a spec file. */
#include <stdlib.h>

#include "ck.h"
#include "cli.h"
#include "nn.h"

static const char usage[] =
    "usage: convkit summary [--size N] [--trainable-from LAYER] MODEL|SPEC...\n"
    "\n"
    "Prints Keras's model.summary() table: layers, output shapes, parameters.\n";

static void models_help(FILE *f)
{
    fprintf(f, "\nMODEL is a built-in:");
    for (int i = 0; nn_builtin_name(i); i++) {
        fprintf(f, " %s", nn_builtin_name(i));
    }
    fprintf(f, "\nSPEC is a model file, one Keras layer per line (see the README), e.g.\n\n%s\n",
            nn_builtin_spec("mnist"));
}

int cmd_summary(int argc, char **argv)
{
    const char *from = NULL;
    int64_t size = 0;
    int first;
    const cli_opt opts[] = {
        CLI_INT_OPT("size", 0, &size, "N", "the model's input N x N", 1, 8192),
        CLI_STR_OPT("trainable-from", 0, &from, "LAYER",
                    "freeze the layers before LAYER, as convkit train does (non-trainable count)"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = "summary", .usage = usage, .opts = opts, .more_help = models_help};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (first >= argc) {
        return cli_usage("summary", "want a MODEL or SPEC file");
    }
    for (int i = first; i < argc; i++) {
        char err[1024], *spec = NULL, *table = NULL;
        nn_model *m = NULL;
        int rc = cli_model_spec(argv[i], (int)size, &spec, err, sizeof err);
        if (rc == 0) {
            rc = nn_model_create(&m, spec, argv[i], 1, err, sizeof err);
        }
        if (rc == 0 && from) {
            rc = nn_model_trainable_from(m, from, err, sizeof err);
        }
        if (rc == 0 && nn_model_summary(m, &table)) {
            rc = ck_err(err, sizeof err, CK_ENOMEM, "%s: summary: out of memory", argv[i]);
        }
        if (table) {
            printf("%s%s", i > first ? "\n" : "", table);
        }
        free(table);
        nn_model_destroy(m);
        free(spec);
        if (rc) {
            return cli_report(rc, err);
        }
    }
    return CLI_OK;
}
