/* cmd_augment.c: `convkit augment preview|apply` and `convkit filter`:
 * pictures of what a policy or a classic kernel does. Library calls write
 * their outputs all-or-nothing; this file only parses and reports. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aug.h"
#include "cli.h"
#include "ds.h"

enum { MAX_FILE_BYTES = 256 << 20 };

static const char augment_usage[] =
    "usage: convkit augment preview (DATASET.db --sample ID | --file IMG) --policy P\n"
    "                       [-n 9] [--seed S] [--cell PX] -o grid.png\n"
    "       convkit augment apply --policy P [--seed S] [--copies K] IN... -o DIR\n"
    "\n"
    "preview: the original (framed, top left) and n augmented variants in a\n"
    "grid with no empty cell (the book's figure of augmented cats): n + 1\n"
    "cells when they make a grid at most twice as wide as high, else the\n"
    "squarest grid that holds them, filled with more variants.\n"
    "apply: K augmented copies of each image file written into DIR (which\n"
    "must exist) as STEM_augK.jpg/png; on any error nothing is written.\n";

static void policy_help(FILE *f)
{
    ck_buf b = {0};
    aug_policy_help(&b);
    char *text = ck_buf_take(&b);
    fprintf(f, "\n%s", text ? text : "");
    free(text);
}

/* The sample's stored bytes from a catalog, copied so they outlive it. */
static int load_sample(const char *db, int64_t id, void **data, aug_src *src, char *err,
                       size_t errlen)
{
    ds_catalog *cat;
    int rc = ds_catalog_open(&cat, db, DS_OPEN_READ, err, errlen);
    if (rc) {
        return rc;
    }
    ds_blob b;
    rc = ds_catalog_blob(cat, id, &b, err, errlen);
    if (rc == 0) {
        *data = malloc(b.size ? b.size : 1);
        if (!*data) {
            rc =
                ck_err(err, errlen, CK_ENOMEM, "%s: sample %lld: out of memory", db, (long long)id);
        } else {
            memcpy(*data, b.data, b.size);
            *src = (aug_src){.data = *data, .size = b.size, .name = db};
            if (b.kind == DS_ENTRY_RAW) {
                src->width = b.width;
                src->height = b.height;
                src->bands = b.bands;
            }
        }
    }
    ds_catalog_close(cat);
    return rc;
}

static int augment_preview(int argc, char **argv)
{
    const char *cmd = "augment preview", *file = NULL, *policy_text = NULL, *out = NULL;
    int64_t sample = -1, n = 9, seed = 0, cell = 150;
    int first;
    const cli_opt opts[] = {
        CLI_INT_OPT("sample", 0, &sample, "ID", "the sample of DATASET.db (convkit info shows ids)",
                    0, CLI_NOMAX),
        CLI_STR_OPT("file", 0, &file, "IMG", "an image file instead of a catalog's sample"),
        CLI_POLICY_OPT("policy", &policy_text, "P", "the augmentation policy (below)"),
        CLI_INT_OPT("seed", 0, &seed, "S", "the variants' seed (default 0)", 0, CLI_NOMAX),
        CLI_INT_OPT("cell", 0, &cell, "PX", "each grid cell's side in pixels (default 150)", 16,
                    2048),
        CLI_INT_OPT("n", 'n', &n, "N", "augmented variants (default 9)", 1, 100),
        CLI_STR_OPT("output", 'o', &out, "FILE", "the grid image (PNG, JPEG... by its extension)"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd,
                          .usage = augment_usage,
                          .opts = opts,
                          .required = "policy output",
                          .exclusive = "sample|file",
                          .more_help = policy_help};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    const char *db = first < argc ? argv[first] : NULL;
    if (file ? db != NULL : !db || sample < 0 || first + 1 != argc) {
        return cli_usage(cmd, "give either DATASET.db --sample ID or --file IMG");
    }
    const char *ins[] = {file, db}, *outs[] = {out};
    st = cli_outputs_apart(cmd, ins, 2, outs, 1);
    if (st) {
        return st;
    }
    char err[1024];
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_report(CK_EINVAL, err);
    }
    void *data = NULL;
    size_t size = 0;
    aug_src src = {0};
    int rc;
    if (file) {
        rc = aug_read_file(file, MAX_FILE_BYTES, &data, &size, err, sizeof err);
        src = (aug_src){.data = data, .size = size, .name = file};
    } else {
        rc = load_sample(db, sample, &data, &src, err, sizeof err);
    }
    if (rc == 0) {
        rc =
            aug_preview_grid(&src, policy, (uint64_t)seed, (int)n, (int)cell, out, err, sizeof err);
    }
    free(data);
    aug_policy_destroy(policy);
    if (rc) {
        return cli_report(rc, err);
    }
    int cols, rows, shown = aug_preview_shape((int)n, &cols, &rows);
    printf("%s: the original (framed, top left) and %d variants in %d x %d\n", out, shown, cols,
           rows);
    return CLI_OK;
}

static int augment_apply(int argc, char **argv)
{
    const char *cmd = "augment apply", *policy_text = NULL, *out = NULL;
    int64_t seed = 0, copies = 1;
    int first;
    const cli_opt opts[] = {
        CLI_POLICY_OPT("policy", &policy_text, "P", "the augmentation policy (below)"),
        CLI_INT_OPT("seed", 0, &seed, "S", "the copies' seed (default 0)", 0, CLI_NOMAX),
        CLI_INT_OPT("copies", 0, &copies, "K", "augmented copies of each image (default 1)", 1,
                    1000),
        CLI_STR_OPT("output", 'o', &out, "DIR", "the directory to write into (it must exist)"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd,
                          .usage = augment_usage,
                          .opts = opts,
                          .required = "policy output",
                          .more_help = policy_help};
    int rc = cli_parse(&cli, argc, argv, &first);
    if (rc != CLI_GO) {
        return rc;
    }
    if (first >= argc) {
        return cli_usage(cmd, "want IN... image files");
    }
    struct stat st;
    if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return cli_fail("%s: not a directory (create it first)", out);
    }
    char err[1024];
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_report(CK_EINVAL, err);
    }
    rc = aug_apply_files(policy, (uint64_t)seed, (int)copies, (const char *const *)(argv + first),
                         argc - first, out, err, sizeof err);
    aug_policy_destroy(policy);
    if (rc) {
        return cli_report(rc, err);
    }
    char n[32];
    cli_fmt_count(n, sizeof n, (int64_t)(argc - first) * copies);
    printf("%s: %s augmented copies written\n", out, n);
    return CLI_OK;
}

int cmd_augment(int argc, char **argv)
{
    static const char *const verbs[] = {"preview", "apply", NULL};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        const cli_opt none[] = {{0}};
        const cli_spec cli = {
            .cmd = "augment", .usage = augment_usage, .opts = none, .more_help = policy_help};
        cli_help(&cli, stdout);
        return CLI_OK;
    }
    switch (cli_verb("augment", argc >= 2 ? argv[1] : NULL, verbs)) {
    case 0: return augment_preview(argc - 1, argv + 1);
    case 1: return augment_apply(argc - 1, argv + 1);
    default: return CLI_USAGE;
    }
}

static const char filter_usage[] =
    "usage: convkit filter NAME IN [--view signed|magnitude|abs] -o OUT\n"
    "\n"
    "Applies a classic convolution kernel to an image file and writes the\n"
    "response as an 8-bit image (format from OUT's suffix).\n";

/* --view's choices, in aug_filter_view's order after AUG_VIEW_DEFAULT. */
static const char *const filter_views[] = {"signed", "magnitude", "abs", NULL};

static void filter_help(FILE *f)
{
    fprintf(f, "\n%s", aug_filter_help());
}

int cmd_filter(int argc, char **argv)
{
    const char *out = NULL;
    int first, view_choice = -1;
    const cli_opt opts[] = {
        CLI_STR_OPT("output", 'o', &out, "OUT", "the image to write"),
        CLI_CHOICE_OPT("view", &view_choice, "VIEW",
                       "how the response becomes grey levels (default: the filter's own)",
                       filter_views),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = "filter",
                          .usage = filter_usage,
                          .opts = opts,
                          .required = "output",
                          .more_help = filter_help};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (argc - first != 2) {
        return cli_usage("filter", "want NAME IN -o OUT");
    }
    char err[1024];
    aug_filter f;
    aug_filter_view view = AUG_VIEW_DEFAULT;
    if (aug_filter_parse(argv[first], &f, err, sizeof err)) {
        return cli_usage("filter", "%s", err);
    }
    if (view_choice >= 0) {
        view = (aug_filter_view)(AUG_VIEW_SIGNED + view_choice);
    }
    if (view == AUG_VIEW_SIGNED && aug_filter_default_view(f) == AUG_VIEW_MAGNITUDE) {
        return cli_usage("filter", "--view signed: %s is a gradient magnitude, never negative",
                         aug_filter_name(f));
    }
    if (view_choice >= 0 && f == AUG_FILTER_SHARPEN) {
        return cli_usage("filter", "--view: sharpen writes an image, which has no views");
    }
    const char *ins[] = {argv[first + 1]}, *outs[] = {out};
    st = cli_outputs_apart("filter", ins, 1, outs, 1);
    if (st) {
        return st;
    }
    int rc = aug_filter_file(f, view, argv[first + 1], out, err, sizeof err);
    if (rc) {
        return cli_report(rc, err);
    }
    aug_filter_view shown = view ? view : aug_filter_default_view(f);
    printf("%s: %s of %s%s%s\n", out, aug_filter_name(f), argv[first + 1], shown ? ", view " : "",
           shown ? aug_filter_view_name(shown) : "");
    return CLI_OK;
}
