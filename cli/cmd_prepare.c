/* cmd_prepare.c: `convkit prepare-dataset SOURCE... -o DATASET.db`.
 * Parses options into pl_ingest_opts, runs the ingest pipeline, draws its
 * progress and prints the final counts. Killed and rerun with the same
 * arguments, it resumes; on a finished catalog it says so.
 *
 * The counts printed at the end are read back from the catalog, the same
 * numbers `convkit info` shows (kept, rejected, removed as leakage), not
 * the run's own tallies. A catalog that keeps no image, or an archive that
 * could not be read to its end, ends with exit 1: nothing readable, or
 * data lost, is a failure even when what could be read was stored.
 *
 * Progress: the fraction done is the entry bytes read over the bytes of
 * the source files (directories summed by a walk), approximate for
 * compressed archives; on a terminal a bar, otherwise a line per stage and
 * per tenth of the total, each with its ETA. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ds.h"
#include "pl.h"

typedef struct progress_state {
    cli_progress bar;
    uint64_t total_bytes; /* of the source files, for the fraction done; 0: unknown */
    int quiet;
    const char *last_stage;
    int last_tenth; /* non-terminal output: the last tenth of the total reported */
} progress_state;

static void on_progress(const pl_ingest_progress *p, void *user)
{
    progress_state *s = user;
    if (s->quiet) {
        return;
    }
    char read[32], mb[32], eta[32], text[256];
    cli_fmt_count(read, sizeof read, p->read);
    cli_fmt_bytes(mb, sizeof mb, p->seconds > 0 ? (double)p->bytes_read / p->seconds : 0);
    double fraction = -1;
    if (s->total_bytes > 0) {
        /* Entry bytes against file bytes (compression makes it approximate),
         * scaled by the share of the entries read that are checked: the
         * reader runs ahead of the decoders. */
        fraction = (double)p->bytes_read / (double)s->total_bytes;
        if (p->read > 0) {
            fraction *= (double)(p->checked + p->skipped) / (double)p->read;
        }
        fraction = fraction < 0.99 ? fraction : 0.99;
    }
    snprintf(eta, sizeof eta, "?");
    if (fraction > 0.01 && p->seconds > 0) {
        cli_fmt_duration(eta, sizeof eta, p->seconds * (1 - fraction) / fraction);
    }
    char rejected[32];
    cli_fmt_count(rejected, sizeof rejected, p->rejected);
    snprintf(text, sizeof text, "%s entries, %s rejected, %s/s, ETA %s (source %d/%d, %s)", read,
             rejected, mb, eta, p->source_index + 1, p->nsources, p->stage ? p->stage : "");
    int tenth = fraction > 0 ? (int)(fraction * 10) : 0;
    if (s->bar.tty) {
        cli_progress_draw(&s->bar, "prepare", fraction, text, 0);
    } else if ((p->stage && (!s->last_stage || strcmp(p->stage, s->last_stage))) ||
               tenth > s->last_tenth) {
        /* A line per stage, and one per tenth of a known total. */
        fprintf(stderr, "prepare: %s\n", text);
        s->last_tenth = tenth;
    }
    s->last_stage = p->stage;
}

/* Says on stderr what the finished catalog lacks that the options asked
 * for (ds_catalog_warnings); the catalog is kept, so the status stays 0. */
static int warn(const char *path, const ds_split_opts *split)
{
    char err[1024], *text = NULL;
    ds_catalog *c = NULL;
    int rc = ds_catalog_open(&c, path, DS_OPEN_READ, err, sizeof err);
    if (rc == 0) {
        rc = ds_catalog_warnings(c, split, &text, err, sizeof err);
    }
    ds_catalog_close(c);
    for (char *line = text, *end; rc == 0 && line && *line; line = end + 1) {
        end = strchr(line, '\n');
        fprintf(stderr, "convkit prepare-dataset: warning: %s: %.*s\n", path, (int)(end - line),
                line);
    }
    free(text);
    return cli_report(rc, err);
}

/* The bytes of the regular files under directory name (relative to dirfd),
 * links not followed, for the progress fraction: a walk of names and
 * sizes costs little next to decoding the files. */
static uint64_t tree_bytes(int dirfd, const char *name, int depth)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 || depth > 64 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) { /* NOLINT(concurrency-mt-unsafe): own DIR */
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        total += S_ISREG(st.st_mode)   ? (uint64_t)st.st_size
                 : S_ISDIR(st.st_mode) ? tree_bytes(fd, de->d_name, depth + 1)
                                       : 0;
    }
    closedir(d);
    return total;
}

/* The samples counts of the catalog, as info gives them. */
typedef struct counts {
    long long total, ok, rejected, leakage, unused;
    long long stopped; /* rejects that record where an archive stopped */
    char stop[512];    /* the first of their reasons */
} counts;

static int read_counts(const char *path, counts *n)
{
    char err[1024];
    ds_catalog *cat;
    char *text = NULL;
    int rc = ds_catalog_open(&cat, path, DS_OPEN_READ, err, sizeof err);
    if (rc == 0) {
        rc = ds_catalog_info_json(cat, &text, err, sizeof err);
        ds_catalog_close(cat);
    }
    if (rc) {
        return cli_report(rc, err);
    }
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    json_t *s = json_object_get(root, "samples");
    if (!s) {
        json_decref(root);
        return cli_fail("%s: info: bad JSON from the catalog", path);
    }
    n->total = (long long)json_integer_value(json_object_get(s, "total"));
    n->ok = (long long)json_integer_value(json_object_get(s, "ok"));
    n->rejected = (long long)json_integer_value(json_object_get(s, "rejected"));
    n->leakage = (long long)json_integer_value(json_object_get(s, "leakage"));
    n->unused = (long long)json_integer_value(json_object_get(s, "unused"));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(root, "rejects"), "reasons"), i, r)
    {
        const char *why = json_string_value(json_object_get(r, "reason"));
        if (why && strncmp(why, "read stopped: ", 14) == 0) {
            if (n->stopped == 0) {
                snprintf(n->stop, sizeof n->stop, "%s", why);
            }
            n->stopped += (long long)json_integer_value(json_object_get(r, "count"));
        }
    }
    json_decref(root);
    return CLI_OK;
}

/* The final lines and the exit status of a run that did not fail. */
static int summary(const pl_ingest_opts *o, const pl_ingest_stats *st)
{
    counts n = {0};
    int rc = read_counts(o->output, &n);
    if (rc) {
        return rc;
    }
    char n1[32], n2[32], n3[32], n4[32], n5[32];
    cli_fmt_count(n1, sizeof n1, n.total);
    cli_fmt_count(n2, sizeof n2, n.ok);
    cli_fmt_count(n3, sizeof n3, n.rejected);
    cli_fmt_count(n4, sizeof n4, n.leakage);
    cli_fmt_count(n5, sizeof n5, n.unused);
    if (st->already_finished) {
        printf("%s: already prepared with these options; nothing to do\n", o->output);
    }
    printf("%s: %s entries, %s images kept, %s rejected, %s removed as leakage", o->output, n1, n2,
           n3, n4);
    if (n.unused > 0) {
        printf(", %s unused by the split", n5);
    }
    if (st->resumed > 0) {
        char resumed[32];
        cli_fmt_count(resumed, sizeof resumed, st->resumed);
        printf(" (%s found from an earlier run)", resumed);
    }
    if (!st->already_finished) {
        printf(", %.1f s", st->seconds);
    }
    printf("\nsee 'convkit info %s'\n", o->output);
    if ((rc = warn(o->output, &o->split)) != 0) {
        return rc;
    }
    if (n.stopped > 0) {
        /* From the catalog, so a rerun on a finished catalog says it too. */
        fprintf(stderr,
                "convkit: completed with errors: %lld archive(s) could not be read to the end; "
                "the entries before the damage are kept (see 'convkit info'). First: %s\n",
                n.stopped, n.stop);
        return CLI_FAIL;
    }
    if (n.ok == 0) {
        return cli_fail("%s: no image kept (%s entries, %s rejected): the sources hold nothing "
                        "readable; see 'convkit info %s'",
                        o->output, n1, n3, o->output);
    }
    return CLI_OK;
}

static const char usage[] =
    "usage: convkit prepare-dataset SOURCE... -o DATASET.db [options]\n"
    "\n"
    "Reads image archives and folders in place (nothing is extracted), checks\n"
    "every image with libvips and indexes it with its bytes in one SQLite file.\n"
    "Bad images are recorded as rejected with their reason; the rest are kept.\n"
    "A run that was killed resumes when started again with the same arguments.\n"
    "\n"
    "SOURCE: Kaggle dogs-vs-cats.zip (or train.zip), fastai dogscats.zip,\n"
    "Microsoft PetImages zip, a class-per-folder directory or zip/tar/tar.gz,\n"
    "an IDX images file (*-images-idx3-ubyte[.gz], labels found beside it),\n"
    "or a HODA .cdb file. The layout is detected; --layout overrides it.\n";

static int parse_layout(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    return ds_layout_parse(v, dest);
}

static int parse_split(void *dest, const char *v, char *why, size_t len)
{
    return ds_split_parse(v, dest, why, len);
}

static int parse_class_names(void *dest, const char *v, char *why, size_t len)
{
    char **names;
    int n;
    int rc = ds_class_names_parse(v, &names, &n, why, len);
    free(names);
    *(const char **)dest = v;
    return rc;
}

int cmd_prepare(int argc, char **argv)
{
    const char *cmd = "prepare-dataset";
    pl_ingest_opts o;
    pl_ingest_opts_default(&o);
    progress_state ps = {0};
    char err[1024];
    int64_t seed = 0, limit = 0, max_side = 0, max_pixels = 0, threads = 0;
    int64_t near = o.split.near_distance;
    double max_entry_mb = 0; /* 0 in these: not given */
    double max_total_mb = -1;
    int64_t max_entries = -1; /* -1 in these: not given (0 is no limit) */
    int first;
    const cli_opt opts[] = {
        CLI_STR_OPT("output", 'o', &o.output, "FILE", "the catalog to write"),
        CLI_FN_OPT("layout", &o.layout, "NAME", "the source's layout (default auto: detected)",
                   parse_layout, "one of auto, kaggle, fastai, petimages, folders, idx, hoda"),
        CLI_FN_OPT("split", &o.split, "MODE",
                   "source (default): the source's own split, else train; chollet: Kaggle "
                   "numbers 0-999 train, 1000-1499 validation, 1500-2499 test (chollet-1st: "
                   "1500-1999); train=0.8,validation=0.1,test=0.1: stratified, seeded; a "
                   "publisher's test split (IDX t10k, fastai test) stays test, and the "
                   "fractions share out the rest",
                   parse_split, "source, chollet, chollet-1st or NAME=FRACTION,..."),
        CLI_FN_OPT("class-names", &o.split.class_names, "LIST",
                   "names of the numbered classes of IDX and HODA files, comma-separated: "
                   "class 0 is stored as the first, and the classes keep this order",
                   parse_class_names, "NAME,NAME,..."),
        CLI_FLAG_OPT("pool-test", 0, &o.split.pool_test,
                     "share a publisher's test split out with the rest"),
        CLI_INT_OPT("seed", 0, &seed, "N", "seed of the fraction split (default 0)", 0, CLI_NOMAX),
        CLI_INT_OPT("limit-per-class", 0, &limit, "N", "at most N samples per class and split", 1,
                    CLI_NOMAX),
        CLI_INT_OPT("max-side", 0, &max_side, "N", "shrink photos whose longest side exceeds N", 8,
                    65535),
        CLI_INT_OPT("max-pixels", 0, &max_pixels, "N",
                    "refuse images declaring more pixels (default 89478485)", 1, CLI_NOMAX),
        CLI_NUM_OPT("max-entry-mb", &max_entry_mb, "N",
                    "refuse entries larger than N MB (default 256)", 0, 1e6, CLI_OPEN_LO),
        CLI_NUM_OPT("max-total-mb", &max_total_mb, "N",
                    "refuse a dataset whose entries hold more than N MB in all (default 2 GiB; "
                    "0: no limit)",
                    0, 1e12, 0),
        CLI_INT_OPT("max-entries", 0, &max_entries, "N",
                    "refuse a dataset of more than N entries (default 1000000; 0: no limit)", 0,
                    CLI_NOMAX),
        CLI_INT_OPT("near-distance", 0, &near, "N",
                    "perceptual-hash distance of near duplicates (default 4)", 0, 32),
        CLI_FLAG_OPT("keep-leakage", 0, &o.split.keep_leakage,
                     "report copies of training samples in later splits but keep them "
                     "(default: removed from splits convkit makes)"),
        CLI_INT_OPT("threads", 0, &threads, "N", "decode workers (default: number of cores)", 1,
                    256),
        CLI_FLAG_OPT("quiet", 'q', &ps.quiet, "no progress output"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd, .usage = usage, .opts = opts, .required = "output"};
    int go = cli_parse(&cli, argc, argv, &first);
    if (go != CLI_GO) {
        return go;
    }
    if (first >= argc) {
        return cli_usage(cmd, "no SOURCE given");
    }
    o.split.seed = (uint64_t)seed;
    o.split.limit_per_class = limit;
    if (max_side) {
        o.check.max_side = (int)max_side;
    }
    if (max_pixels) {
        o.limits.max_pixels = o.check.max_pixels = (uint64_t)max_pixels;
    }
    if (max_entry_mb > 0) {
        o.limits.max_entry_bytes = (uint64_t)(max_entry_mb * 1e6);
    }
    if (max_total_mb >= 0) {
        o.limits.max_total_bytes = (uint64_t)(max_total_mb * 1e6);
    }
    if (max_entries >= 0) {
        o.limits.max_entries = (uint64_t)max_entries;
    }
    o.split.near_distance = (int)near;
    if (threads) {
        o.threads = (int)threads;
    }
    o.sources = (const char *const *)(argv + first);
    o.nsources = argc - first;
    const char *outs[] = {o.output};
    int apart = cli_outputs_apart(cmd, o.sources, o.nsources, outs, 1);
    if (apart) {
        return apart;
    }
    for (int i = 0; i < o.nsources; i++) {
        struct stat st;
        if (stat(o.sources[i], &st) != 0) {
            return cli_fail("%s: cannot open: no such file or directory", o.sources[i]);
        }
        ps.total_bytes +=
            S_ISDIR(st.st_mode) ? tree_bytes(AT_FDCWD, o.sources[i], 0) : (uint64_t)st.st_size;
    }

    cli_progress_init(&ps.bar);
    o.progress = on_progress;
    o.user = &ps;
    pl_ingest_stats st;
    int rc = pl_ingest_run(&o, &st, err, sizeof err);
    if (!ps.quiet) {
        cli_progress_end(&ps.bar);
    }
    if (st.replaced[0]) {
        fprintf(stderr, "prepare-dataset: %s held no image (prepared with %s): replaced\n",
                o.output, st.replaced);
    }
    if (rc) {
        cli_report(rc, err);
        struct stat ost;
        if (st.removed) {
            fprintf(stderr, "prepare-dataset: %s was removed: nothing in it could be kept\n",
                    o.output);
        } else if (stat(o.output, &ost) == 0) {
            fprintf(stderr,
                    "prepare-dataset: %s keeps what was stored: run the same command again to "
                    "resume, or delete it to start over\n",
                    o.output);
        }
        return cli_status(rc);
    }
    return summary(&o, &st);
}
