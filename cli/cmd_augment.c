/* cmd_augment.c: `convkit augment preview|apply` and `convkit filter`:
 * pictures of what a policy or a classic kernel does. Library calls write
 * their outputs all-or-nothing; this file only parses and reports. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aug.h"
#include "cli.h"
#include "ds.h"

enum { MAX_FILE_BYTES = 256 << 20 };

static void print_augment_help(void)
{
    printf("usage: convkit augment preview (DATASET.db --sample ID | --file IMG) --policy P\n"
           "                       [-n 9] [--seed S] [--cell PX] -o grid.png\n"
           "       convkit augment apply --policy P [--seed S] [--copies K] IN... -o DIR\n"
           "\n"
           "preview: the original (framed, top left) and n augmented variants in a\n"
           "grid with no empty cell (the book's figure of augmented cats): n + 1\n"
           "cells when they make a grid at most twice as wide as high, else the\n"
           "squarest grid that holds them, filled with more variants.\n"
           "apply: K augmented copies of each image file written into DIR (which\n"
           "must exist) as STEM_augK.jpg/png; on any error nothing is written.\n"
           "\n"
           "A policy is comma-separated key=value items and presets:\n\n%s",
           aug_policy_help());
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
    static const struct option longopts[] = {
        {"sample", required_argument, 0, 's'}, {"file", required_argument, 0, 'f'},
        {"policy", required_argument, 0, 'p'}, {"seed", required_argument, 0, 'S'},
        {"cell", required_argument, 0, 'c'},   {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    const char *cmd = "augment preview", *file = NULL, *policy_text = NULL, *out = NULL;
    int64_t sample = -1, n = 9, seed = 0, cell = 150;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:o:h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 's': bad = cli_parse_i64(optarg, &sample); break;
        case 'f': file = optarg; break;
        case 'p': policy_text = optarg; break;
        case 'S': bad = cli_parse_i64(optarg, &seed); break;
        case 'c': bad = cli_parse_i64(optarg, &cell) || cell < 16 || cell > 2048; break;
        case 'n': bad = cli_parse_i64(optarg, &n) || n < 1 || n > 100; break;
        case 'o': out = optarg; break;
        case 'h': print_augment_help(); return CLI_OK;
        default: return cli_usage(cmd, "bad option");
        }
        if (bad) {
            return cli_usage(cmd, "bad value '%s' for an option", optarg);
        }
    }
    const char *db = optind < argc ? argv[optind] : NULL;
    if (!out || !policy_text) {
        return cli_usage(cmd, "--policy and -o are required");
    }
    if ((db != NULL) == (file != NULL) || (db && sample < 0) || optind + (db ? 1 : 0) != argc) {
        return cli_usage(cmd, "give either DATASET.db --sample ID or --file IMG");
    }
    const char *ins[] = {file, db}, *outs[] = {out};
    int apart = cli_outputs_apart(cmd, ins, 2, outs, 1);
    if (apart) {
        return apart;
    }
    char err[1024];
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_usage(cmd, "%s", err);
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
    static const struct option longopts[] = {
        {"policy", required_argument, 0, 'p'}, {"seed", required_argument, 0, 'S'},
        {"copies", required_argument, 0, 'k'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    const char *cmd = "augment apply", *policy_text = NULL, *out = NULL;
    int64_t seed = 0, copies = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'p': policy_text = optarg; break;
        case 'S': bad = cli_parse_i64(optarg, &seed); break;
        case 'k': bad = cli_parse_i64(optarg, &copies) || copies < 1 || copies > 1000; break;
        case 'o': out = optarg; break;
        case 'h': print_augment_help(); return CLI_OK;
        default: return cli_usage(cmd, "bad option");
        }
        if (bad) {
            return cli_usage(cmd, "bad value '%s' for an option", optarg);
        }
    }
    if (!out || !policy_text || optind >= argc) {
        return cli_usage(cmd, "want --policy P, IN... and -o DIR");
    }
    struct stat st;
    if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return cli_fail("%s: not a directory (create it first)", out);
    }
    char err[1024];
    aug_policy *policy;
    if (aug_policy_parse(&policy, policy_text, err, sizeof err)) {
        return cli_usage(cmd, "%s", err);
    }
    int rc =
        aug_apply_files(policy, (uint64_t)seed, (int)copies, (const char *const *)(argv + optind),
                        argc - optind, out, err, sizeof err);
    aug_policy_destroy(policy);
    if (rc) {
        return cli_report(rc, err);
    }
    printf("%s: %lld augmented copies written\n", out, (long long)(argc - optind) * copies);
    return CLI_OK;
}

int cmd_augment(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "preview")) {
        return augment_preview(argc - 1, argv + 1);
    }
    if (argc >= 2 && !strcmp(argv[1], "apply")) {
        return augment_apply(argc - 1, argv + 1);
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        print_augment_help();
        return CLI_OK;
    }
    return cli_usage("augment", "want 'preview' or 'apply'");
}

int cmd_filter(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                             {"view", required_argument, 0, 'v'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *out = NULL, *view_text = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'v': view_text = optarg; break;
        case 'h':
            printf("usage: convkit filter NAME IN [--view signed|magnitude|abs] -o OUT\n"
                   "\n"
                   "Applies a classic convolution kernel to an image file and writes the\n"
                   "response as an 8-bit image (format from OUT's suffix).\n\n%s",
                   aug_filter_help());
            return CLI_OK;
        default: return cli_usage("filter", "bad option");
        }
    }
    if (!out || argc - optind != 2) {
        return cli_usage("filter", "want NAME IN -o OUT");
    }
    char err[1024];
    aug_filter f;
    aug_filter_view view = AUG_VIEW_DEFAULT;
    if (aug_filter_parse(argv[optind], &f, err, sizeof err)) {
        return cli_usage("filter", "%s", err);
    }
    if (view_text && aug_filter_view_parse(view_text, &view, err, sizeof err)) {
        return cli_usage("filter", "--view: want signed, magnitude or abs, got '%s'", view_text);
    }
    if (view == AUG_VIEW_SIGNED && aug_filter_default_view(f) == AUG_VIEW_MAGNITUDE) {
        return cli_usage("filter", "--view signed: %s is a gradient magnitude, never negative",
                         aug_filter_name(f));
    }
    if (view_text && f == AUG_FILTER_SHARPEN) {
        return cli_usage("filter", "--view: sharpen writes an image, which has no views");
    }
    const char *ins[] = {argv[optind + 1]}, *outs[] = {out};
    int apart = cli_outputs_apart("filter", ins, 1, outs, 1);
    if (apart) {
        return apart;
    }
    int rc = aug_filter_file(f, view, argv[optind + 1], out, err, sizeof err);
    if (rc) {
        return cli_report(rc, err);
    }
    aug_filter_view shown = view ? view : aug_filter_default_view(f);
    printf("%s: %s of %s%s%s\n", out, aug_filter_name(f), argv[optind + 1], shown ? ", view " : "",
           shown ? aug_filter_view_name(shown) : "");
    return CLI_OK;
}
