/* cmd_info.c: `convkit info DATASET.db [--json]`. The catalog describes
 * itself as one JSON object (ds_catalog_info_json); --json prints it as is,
 * otherwise it is laid out as tables for a person. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ds.h"

static const char usage[] =
    "usage: convkit info DATASET.db [--json]\n"
    "\n"
    "Describes a catalog made by prepare-dataset: samples per split and class,\n"
    "rejected samples with their reasons, duplicate groups, leakage, the\n"
    "sources with their hashes and the options it was prepared with.\n";

enum { EXAMPLES_SHOWN = 3 };

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void count(char *buf, size_t len, long long n)
{
    cli_fmt_count(buf, len, n);
}

static void print_splits(json_t *root)
{
    json_t *classes = json_object_get(root, "classes");
    json_t *splits = json_object_get(root, "splits");
    size_t nclasses = json_array_size(classes);
    char n[32];
    int w = 10; /* every class column as wide as the longest name, up to 20 */
    for (size_t i = 0; i < nclasses; i++) {
        const char *name = json_string_value(json_array_get(classes, i));
        int cols = ck_text_columns(name ? name : "");
        w = cols > w ? (cols < 20 ? cols : 20) : w;
    }
    printf("\n%-12s %10s", "split", "total");
    for (size_t i = 0; i < nclasses; i++) { /* by columns: names in any script */
        char cell[128];
        const char *name = json_string_value(json_array_get(classes, i));
        printf(" %s", ck_text_cell(cell, sizeof cell, name ? name : "", w, 1));
    }
    printf("\n");
    const char *key;
    json_t *split;
    json_object_foreach(splits, key, split)
    {
        count(n, sizeof n, num(split, "total"));
        printf("%-12s %10s", key, n);
        json_t *per_class = json_object_get(split, "classes");
        for (size_t i = 0; per_class && i < nclasses; i++) {
            const char *name = json_string_value(json_array_get(classes, i));
            count(n, sizeof n, (long long)json_integer_value(json_object_get(per_class, name)));
            printf(" %*s", w, n);
        }
        printf("\n");
    }
}

static void print_examples(json_t *names, const char *indent)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (i == EXAMPLES_SHOWN) {
            printf("%s...\n", indent);
            break;
        }
        printf("%s%s\n", indent, json_string_value(v));
    }
}

static void print_human(json_t *root)
{
    char a[32], b[32], c[32], d[32];
    json_t *samples = json_object_get(root, "samples");
    printf("%s: %s, dataset hash %s\n", str(root, "path"),
           json_is_true(json_object_get(root, "finished")) ? "prepared" : "NOT FINISHED",
           str(root, "dataset_hash"));
    count(a, sizeof a, num(samples, "total"));
    count(b, sizeof b, num(samples, "ok"));
    count(c, sizeof c, num(samples, "rejected"));
    count(d, sizeof d, num(samples, "unused"));
    char l[32];
    count(l, sizeof l, num(samples, "leakage"));
    printf("entries %s: %s images, %s rejected, %s removed as leakage, %s unused by the split\n", a,
           b, c, l, d);
    printf("split: %s\n", str(root, "split"));
    print_splits(root);

    json_t *rejects = json_object_get(root, "rejects");
    if (num(rejects, "total") > 0) {
        printf("\nrejected:\n");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(rejects, "reasons"), i, r)
        {
            count(a, sizeof a, num(r, "count"));
            printf("  %8s  %s\n", a, str(r, "reason"));
            print_examples(json_object_get(r, "examples"), "              ");
        }
    }

    json_t *dups = json_object_get(root, "duplicates");
    const char *kind;
    json_t *g;
    json_object_foreach(dups, kind, g)
    {
        if (num(g, "groups") == 0) {
            continue;
        }
        count(a, sizeof a, num(g, "groups"));
        count(b, sizeof b, num(g, "samples"));
        printf("\n%s duplicates: %s groups, %s samples\n", kind, a, b);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(g, "examples"), i, e)
        {
            if (i == EXAMPLES_SHOWN) {
                break;
            }
            printf("  group %lld (%lld):\n", num(e, "group"), num(e, "size"));
            print_examples(json_object_get(e, "names"), "    ");
        }
    }

    json_t *leak = json_object_get(root, "leakage");
    if (num(leak, "exact") + num(leak, "near") > 0) {
        char ex[32], ne[32], rm[32];
        count(ex, sizeof ex, num(leak, "exact"));
        count(ne, sizeof ne, num(leak, "near"));
        count(rm, sizeof rm, num(leak, "removed"));
        printf("\nleakage: %s exact and %s near copies of training samples in later splits,"
               " %s removed\n",
               ex, ne, rm);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(leak, "examples"), i, e)
        {
            if (i == EXAMPLES_SHOWN) {
                break;
            }
            printf("  %s (%s, %s%s) = %s\n", str(e, "name"), str(e, "split"), str(e, "kind"),
                   json_is_true(json_object_get(e, "removed")) ? ", removed" : "",
                   str(e, "leak_of_name"));
        }
    }

    json_t *dec = json_object_get(root, "decoding");
    if (num(dec, "exif_rotated") > 0) {
        printf("\n%lld JPEGs carry an EXIF orientation other than upright: it is ignored when"
               " they are decoded (as Keras's loaders do)\n",
               num(dec, "exif_rotated"));
    }
    if (num(dec, "alpha") > 0) {
        printf("%s%lld images have an alpha channel: it is dropped when they are decoded\n",
               num(dec, "exif_rotated") > 0 ? "" : "\n", num(dec, "alpha"));
    }

    json_t *same = json_object_get(root, "same_names");
    if (num(same, "names") > 0) {
        printf("\nsame name twice: %lld names given to %lld entries of one source; every entry"
               " is kept (extracting the archive would keep only the last)\n",
               num(same, "names"), num(same, "entries"));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(same, "examples"), i, e)
        {
            if (i == EXAMPLES_SHOWN) {
                printf("  ...\n");
                break;
            }
            printf("  %s (%lld entries)\n", str(e, "name"), num(e, "count"));
        }
    }

    printf("\nsources:\n");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(root, "sources"), i, s)
    {
        count(a, sizeof a, num(s, "entries"));
        printf("  %s  (%s, %s entries, hash %s)\n", str(s, "path"), str(s, "layout"), a,
               str(s, "hash"));
    }
    printf("options: %s\n", str(root, "options"));
}

int cmd_info(int argc, char **argv)
{
    int as_json = 0, first;
    const cli_opt opts[] = {
        CLI_FLAG_OPT("json", 0, &as_json, "the same as one JSON object"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = "info", .usage = usage, .opts = opts};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (first != argc - 1) {
        return cli_usage("info", "want exactly one DATASET.db");
    }
    char err[1024];
    ds_catalog *cat;
    int rc = ds_catalog_open(&cat, argv[first], DS_OPEN_READ, err, sizeof err);
    char *text = NULL;
    if (rc == 0) {
        rc = ds_catalog_info_json(cat, &text, err, sizeof err);
        ds_catalog_close(cat);
    }
    if (rc) {
        return cli_fail("%s", err);
    }
    if (as_json) {
        printf("%s\n", text);
        free(text);
        return CLI_OK;
    }
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    free(text);
    if (!root) {
        return cli_fail("%s: info: bad JSON from the catalog: %s", argv[first], jerr.text);
    }
    print_human(root);
    json_decref(root);
    return CLI_OK;
}
