/* cmd_summary.c: `convkit summary MODEL|SPEC...`: Keras's model.summary()
 * table for a built-in model or a spec file. */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "nn.h"

static void print_help(void)
{
    printf("usage: convkit summary [--size N] [--trainable-from LAYER] MODEL|SPEC...\n"
           "\n"
           "Prints Keras's model.summary() table: layers, output shapes, parameters.\n"
           "--size N gives the model an N x N input; --trainable-from LAYER freezes\n"
           "the layers before LAYER, as convkit train does (non-trainable count).\n"
           "MODEL is a built-in:");
    for (int i = 0; nn_builtin_name(i); i++) {
        printf(" %s", nn_builtin_name(i));
    }
    printf("\nSPEC is a model file, one Keras layer per line (see the README), e.g.\n\n%s\n",
           nn_builtin_spec("mnist"));
}

int cmd_summary(int argc, char **argv)
{
    static const struct option longopts[] = {{"size", required_argument, 0, 's'},
                                             {"trainable-from", required_argument, 0, 't'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *from = NULL;
    int64_t size = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cli_parse_i64(optarg, &size) || size < 1 || size > 8192) {
                return cli_usage("summary", "--size: bad value '%s'", optarg);
            }
            break;
        case 't': from = optarg; break;
        case 'h': print_help(); return CLI_OK;
        default: return cli_usage("summary", "bad option");
        }
    }
    if (optind >= argc) {
        return cli_usage("summary", "want a MODEL or SPEC file");
    }
    for (int i = optind; i < argc; i++) {
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
            rc = cli_fail("%s: summary: out of memory", argv[i]);
        } else if (rc) {
            cli_fail("%s", err);
        }
        if (table) {
            printf("%s%s", i > optind ? "\n" : "", table);
        }
        free(table);
        nn_model_destroy(m);
        free(spec);
        if (rc) {
            return CLI_FAIL;
        }
    }
    return CLI_OK;
}
