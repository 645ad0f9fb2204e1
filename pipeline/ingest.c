/* ingest.c: `convkit prepare-dataset` as a stage graph (see pl.h).
 *
 *   reader (source thread)  ds_source_next over the sources in order
 *   workers                 ds_check_entry: decode, verify, hash
 *   writer (caller thread)  ds_catalog_put, in read order (with class
 *                           names given, a numbered class stored by its name)
 *
 * The reader numbers entries itself: source i's ids start at the number of
 * entries of the sources before it, so ids are the same in every run. It
 * sends three kinds of items down the graph: BEGIN (a source opened, with
 * its detected layout and id base), ENTRIES (a batch of entries, see
 * below), and END (the source's count and hash). Ordered delivery lets the writer register source
 * i+1 only after source i is marked done, as the catalog requires, without the reader ever touching
 * the write connection.
 *
 * Resume: the reader holds its own read-only connection and asks
 * ds_catalog_has for every id; entries stored by an earlier run are freed at
 * once and never reach the workers. The writer commits in id order, so what
 * survives a kill is a prefix of what an uninterrupted run writes, and the
 * rerun fills in the rest: the same catalog. Complete sources are read again
 * (cheap next to decoding) so that ds_catalog_source_done can verify that
 * they did not change.
 *
 * Memory: at most ITEMS_PER_WORKER batches per worker are alive (enough
 * slack that a worker held up on one batch does not leave the others idle),
 * each of at most BATCH_ENTRIES entries and about BATCH_BYTES, and a worker
 * frees an entry's bytes as soon as it is checked (the sample holds what is
 * stored).
 * Progress counters written by the reader and workers are atomics that the
 * writer reads for its display; everything else is owned by one thread.
 *
 * Allocator caches: tcmalloc (cli/ links it) keeps freed blocks in
 * per-thread caches that it lets grow, by design, up to 32 MB in total.
 * Decoding frees blocks of every size with each image (libvips, libjpeg,
 * the entries' bytes), so those caches filled slowly and the peak RSS of a
 * prepare grew with the number of images (73 MB at 6,000 Kaggle-like JPEGs,
 * 81 MB from about 45,000 on, with the application's own allocations flat
 * at 22 MB). For the run, they are held to ALLOC_CACHE_BYTES in total (a
 * lower limit set by the user is kept) and the previous limit comes back
 * after. The two functions are weak symbols, NULL when the program does
 * not link tcmalloc (the tests, sanitizer builds): nothing changes then.
 * The limit is process-wide; two runs at once in one process may leave
 * the lower one behind.
 */
#define _XOPEN_SOURCE 700 /* realpath (XSI) */

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "im.h"
#include "pl_internal.h"

/* Entries travel in batches: one hand-off (a queue push, a wake-up of a
 * worker, of the writer) per batch instead of per entry, and each thread
 * runs longer between switches. A batch closes at BATCH_ENTRIES entries or
 * BATCH_BYTES of entry data, whichever comes first, so a batch of large
 * photos is not larger than a few of them. */
enum {
    ITEMS_PER_WORKER = 4, /* batches in flight per worker */
    BATCH_ENTRIES = 16,
    BATCH_BYTES = 1 << 20,
    ALLOC_CACHE_BYTES = 4 << 20, /* tcmalloc's thread caches, all threads */
};
#define PROGRESS_PERIOD 0.1 /* seconds between progress calls */

typedef enum item_kind { ITEM_BEGIN, ITEM_ENTRIES, ITEM_END } item_kind;

typedef struct slot {
    int64_t id;       /* the sample id */
    ds_entry *entry;  /* its data is freed once checked */
    ds_sample sample; /* filled by a worker */
} slot;

typedef struct item {
    item_kind kind;
    int source;
    int64_t id;       /* BEGIN: the source's id base */
    ds_layout layout; /* BEGIN */
    int n;            /* ENTRIES: used slots */
    int64_t entries;  /* END */
    char hash[33];    /* END */
    slot e[BATCH_ENTRIES];
} item;

typedef struct ingest {
    const pl_ingest_opts *o;
    char **paths; /* absolute source paths, as recorded */
    ds_check_opts check;
    char **names; /* o->split.class_names split, nnames of them, or NULL */
    int nnames;
    int unnamed; /* the run stopped at a class the names do not cover */

    /* Reader thread only. */
    ds_catalog *lookup;                  /* read-only connection for ds_catalog_has */
    int cur;                             /* source being read */
    ds_source *src;                      /* open source, NULL between sources */
    int src_ended;                       /* src has no more entries: END is next */
    int64_t batched[2];                  /* batches made, entries in them */
    int64_t base;                        /* id base of cur */
    int64_t count;                       /* entries of cur so far */
    uint64_t total_entries, total_bytes; /* of every source so far, for ds_limits */

    /* Written by the reader and workers, read by the writer. */
    atomic_llong read, checked, skipped;
    atomic_llong checked_batches[2]; /* batches checked in full, entries in them */
    atomic_ullong bytes_read;

    /* Writer (calling thread) only. */
    int64_t ok, rejected;
    int64_t written_batches[2]; /* batches stored in full, entries in them */
    int wsource;
    double t0, last_progress;
} ingest;

static void item_free(void *user, void *p)
{
    (void)user;
    item *it = p;
    if (!it) {
        return;
    }
    for (int i = 0; i < it->n; i++) {
        ds_entry_free(it->e[i].entry);
        ds_sample_clear(&it->e[i].sample);
    }
    free(it);
}

static int item_new(item **out, item_kind kind, int source, char *err, size_t errlen)
{
    *out = calloc(1, sizeof **out);
    if (!*out) {
        return ck_err(err, errlen, CK_ENOMEM, "ingest: out of memory");
    }
    (*out)->kind = kind;
    (*out)->source = source;
    return 0;
}

/* ---- reader ------------------------------------------------------------ */

/* Reads entries of the open source into one batch, skipping those an
 * earlier run stored. Returns 1 with *out (a batch), 0 when the source has
 * no more entries (in->src_ended set), or an error. */
static int read_batch(ingest *in, item **out, char *err, size_t errlen)
{
    item *it = NULL;
    size_t bytes = 0;
    *out = NULL;
    for (;;) {
        ds_entry *e;
        int rc = ds_source_next(in->src, &e, err, errlen);
        if (rc < 0) {
            item_free(NULL, it);
            return rc;
        }
        if (rc == 0) {
            in->src_ended = 1;
            break;
        }
        int64_t id = in->base + in->count++;
        const ds_limits *lim = &in->o->limits;
        in->total_entries++;
        in->total_bytes += e->size;
        if ((lim->max_entries && in->total_entries > lim->max_entries) ||
            (lim->max_total_bytes && in->total_bytes > lim->max_total_bytes)) {
            ds_entry_free(e);
            item_free(NULL, it);
            return ck_err(err, errlen, CK_ELIMIT,
                          "%s: the sources hold more than the dataset limit (%llu entries, %llu "
                          "bytes; raise it with --max-entries, --max-total-mb)",
                          in->o->sources[in->cur], (unsigned long long)lim->max_entries,
                          (unsigned long long)lim->max_total_bytes);
        }
        atomic_fetch_add_explicit(&in->read, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&in->bytes_read, e->size, memory_order_relaxed);
        int stored = ds_catalog_has(in->lookup, id);
        if (stored) {
            ds_entry_free(e);
            if (stored < 0) {
                item_free(NULL, it);
                return ck_err(err, errlen, stored, "%s: look up sample %lld: database error",
                              in->o->output, (long long)id);
            }
            atomic_fetch_add_explicit(&in->skipped, 1, memory_order_relaxed);
            continue;
        }
        if (!it && (rc = item_new(&it, ITEM_ENTRIES, in->cur, err, errlen))) {
            ds_entry_free(e);
            return rc;
        }
        it->e[it->n++] = (slot){.id = id, .entry = e};
        bytes += e->size;
        if (it->n == BATCH_ENTRIES || bytes >= BATCH_BYTES) {
            break;
        }
    }
    if (it) {
        in->batched[0]++;
        in->batched[1] += it->n;
    }
    *out = it;
    return it != NULL;
}

static int reader_produce(void *user, int64_t seq, void **out, char *err, size_t errlen)
{
    ingest *in = user;
    const pl_ingest_opts *o = in->o;
    (void)seq;
    while (in->cur < o->nsources) {
        item *it;
        int rc;
        if (!in->src) {
            /* What is left of the dataset limits, so that an IDX header
             * declaring more is refused before anything is inflated. */
            ds_limits lim = o->limits;
            if (lim.max_entries) {
                lim.max_entries =
                    lim.max_entries > in->total_entries ? lim.max_entries - in->total_entries : 1;
            }
            if (lim.max_total_bytes) {
                lim.max_total_bytes = lim.max_total_bytes > in->total_bytes
                                          ? lim.max_total_bytes - in->total_bytes
                                          : 1;
            }
            rc = ds_source_open(&in->src, o->sources[in->cur], o->layout, &lim, err, errlen);
            if (rc == 0) {
                rc = item_new(&it, ITEM_BEGIN, in->cur, err, errlen);
            }
            if (rc) {
                return rc;
            }
            in->count = 0;
            in->src_ended = 0;
            it->id = in->base;
            it->layout = ds_source_layout(in->src);
            *out = it;
            return 1;
        }
        if (!in->src_ended) {
            rc = read_batch(in, &it, err, errlen);
            if (rc != 0) {
                *out = it;
                return rc;
            }
            continue; /* the source ended: END next */
        }
        if ((rc = item_new(&it, ITEM_END, in->cur, err, errlen))) {
            return rc;
        }
        it->entries = in->count;
        ds_source_hash(in->src, it->hash);
        ds_source_close(in->src);
        in->src = NULL;
        in->base += in->count;
        in->cur++;
        *out = it;
        return 1;
    }
    return 0;
}

/* ---- workers ----------------------------------------------------------- */

static int worker_check(void *user, int worker, int64_t seq, void *p, char *err, size_t errlen)
{
    ingest *in = user;
    item *it = p;
    (void)worker;
    (void)seq;
    for (int i = 0; i < it->n; i++) {
        slot *sl = &it->e[i];
        int rc = ds_check_entry(sl->entry, &in->check, &sl->sample, err, errlen);
        if (rc) {
            return rc;
        }
        /* The sample holds what will be stored: drop the input bytes now. */
        free(sl->entry->data);
        sl->entry->data = NULL;
        sl->entry->size = 0;
        atomic_fetch_add_explicit(&in->checked, 1, memory_order_relaxed);
    }
    if (it->kind == ITEM_ENTRIES) {
        atomic_fetch_add_explicit(&in->checked_batches[0], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&in->checked_batches[1], it->n, memory_order_relaxed);
    }
    return 0;
}

/* ---- writer ------------------------------------------------------------ */

static void report(ingest *in, const char *stage)
{
    if (!in->o->progress) {
        return;
    }
    double now = ck_now();
    in->last_progress = now;
    pl_ingest_progress p = {
        .read = atomic_load_explicit(&in->read, memory_order_relaxed),
        .checked = atomic_load_explicit(&in->checked, memory_order_relaxed),
        .written = in->ok + in->rejected,
        .rejected = in->rejected,
        .skipped = atomic_load_explicit(&in->skipped, memory_order_relaxed),
        .bytes_read = atomic_load_explicit(&in->bytes_read, memory_order_relaxed),
        .source_index = in->wsource,
        .nsources = in->o->nsources,
        .stage = stage,
        .seconds = now - in->t0,
    };
    in->o->progress(&p, in->o->user);
}

/* --class-names: *named is e with its class, a number k, stored as the
 * k-th name. A class that is not one of those numbers stops the run: the
 * names were meant for another dataset. */
static int name_class(ingest *in, int source, const ds_entry *e, ds_entry *named, char *err,
                      size_t errlen)
{
    *named = *e;
    if (!in->names || !e->label) {
        return 0;
    }
    const char *l = e->label;
    size_t len = strspn(l, "0123456789");
    long k = len > 0 && len < 10 && !l[len] && (l[0] != '0' || len == 1) ? atol(l) : -1;
    if (k < 0 || k >= in->nnames) {
        in->unnamed = 1;
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: %s: class '%s' has no name: --class-names names the numbered "
                      "classes 0 to %d (of IDX and HODA files)",
                      in->paths[source], e->name, l, in->nnames - 1);
    }
    named->label = in->names[k];
    return 0;
}

static int write_item(ingest *in, ds_catalog *c, item *it, char *err, size_t errlen)
{
    int rc = 0;
    switch (it->kind) {
    case ITEM_BEGIN: {
        int64_t base;
        int complete;
        rc = ds_catalog_source(c, it->source, in->paths[it->source], it->layout, &base, &complete,
                               err, errlen);
        if (rc == 0 && base != it->id) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: source %d: ids start at %lld in the catalog, %lld in this run",
                        in->o->output, it->source, (long long)base, (long long)it->id);
        }
        in->wsource = it->source;
        break;
    }
    case ITEM_ENTRIES:
        for (int i = 0; i < it->n && rc == 0; i++) {
            const slot *sl = &it->e[i];
            ds_entry named;
            rc = name_class(in, it->source, sl->entry, &named, err, errlen);
            if (rc == 0) {
                rc = ds_catalog_put(c, sl->id, it->source, &named, &sl->sample, err, errlen);
            }
            if (rc == 0) {
                in->ok += sl->sample.ok != 0;
                in->rejected += sl->sample.ok == 0;
            }
        }
        if (rc == 0) {
            in->written_batches[0]++;
            in->written_batches[1] += it->n;
        }
        break;
    case ITEM_END:
        rc = ds_catalog_source_done(c, it->source, it->entries, it->hash, err, errlen);
        break;
    }
    return rc;
}

/* The graph's consumer: stores items in order until the end or an error. */
static int run_graph(ingest *in, ds_catalog *c, pl_ingest_stats *st, char *err, size_t errlen)
{
    int workers = in->o->threads > 0 ? in->o->threads : ck_ncores();
    pl_graph_opts go = {
        .produce = reader_produce,
        .work = worker_check,
        .drop = item_free,
        .user = in,
        .workers = workers,
        .window = ITEMS_PER_WORKER * workers,
    };
    pl_graph *g;
    int rc = pl_graph_start(&g, &go, err, errlen);
    if (rc) {
        return rc;
    }
    void *p;
    int64_t seq;
    while ((rc = pl_graph_next(g, &p, &seq, err, errlen)) == 1) {
        rc = write_item(in, c, p, err, errlen);
        item_free(NULL, p);
        if (rc) {
            break;
        }
        if (ck_now() - in->last_progress >= PROGRESS_PERIOD) {
            report(in, "ingest");
        }
    }
    pl_graph_stats gs;
    pl_graph_close(g, &gs);
    /* Stage statistics count entries (and the BEGIN and END items), not
     * batches. The threads have left: their counters are final. */
    st->reader = gs.source;
    st->workers = gs.workers;
    st->writer = gs.consumer;
    st->reader.items += in->batched[1] - in->batched[0];
    st->workers.items +=
        atomic_load(&in->checked_batches[1]) - atomic_load(&in->checked_batches[0]);
    st->writer.items += in->written_batches[1] - in->written_batches[0];
    return rc;
}

/* ---- options ----------------------------------------------------------- */

/* Appends to a malloc'd string; on failure frees it and leaves NULL. */
static void append(char **s, const char *fmt, ...) CK_PRINTF(2, 3);
static void append(char **s, const char *fmt, ...)
{
    if (!*s) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t used = strlen(*s);
    char *grown = n < 0 ? NULL : realloc(*s, used + (size_t)n + 1);
    if (!grown) {
        free(*s);
        *s = NULL;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(grown + used, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *s = grown;
}

/* The canonical text of every option that changes the catalog, one line:
 * "source=/abs/a source=/abs/b layout=auto max-pixels=... split=...".
 * The thread count is not in it: it does not change the result. */
static int options_text(const ingest *in, char **out, char *err, size_t errlen)
{
    const pl_ingest_opts *o = in->o;
    char split[512];
    ds_split_describe(&o->split, split, sizeof split);
    char *s = calloc(1, 1);
    for (int i = 0; i < o->nsources; i++) {
        append(&s, "source=%s ", in->paths[i]);
    }
    append(&s, "layout=%s max-pixels=%llu", ds_layout_name(o->layout),
           (unsigned long long)o->limits.max_pixels);
    if (in->check.max_pixels != o->limits.max_pixels) {
        append(&s, " check-max-pixels=%llu", (unsigned long long)in->check.max_pixels);
    }
    append(&s, " max-entry-bytes=%llu max-nesting=%d max-side=%d %s",
           (unsigned long long)o->limits.max_entry_bytes, o->limits.max_nesting,
           o->check.max_side > 0 ? o->check.max_side : 0, split);
    if (o->split.class_names) {
        append(&s, " class-names=%s", o->split.class_names);
    }
    *out = s;
    return s ? 0 : ck_err(err, errlen, CK_ENOMEM, "ingest: out of memory");
}

static int resolve_paths(ingest *in, char *err, size_t errlen)
{
    const pl_ingest_opts *o = in->o;
    in->paths = calloc((size_t)o->nsources, sizeof *in->paths);
    if (!in->paths) {
        return ck_err(err, errlen, CK_ENOMEM, "ingest: out of memory");
    }
    for (int i = 0; i < o->nsources; i++) {
        in->paths[i] = realpath(o->sources[i], NULL);
        if (!in->paths[i]) {
            int e = errno;
            char why[128];
            return ck_err(err, errlen, e == ENOMEM ? CK_ENOMEM : CK_EIO, "%s: open: %s",
                          o->sources[i], ck_errno_text(e, why, sizeof why));
        }
    }
    return 0;
}

/* ---- the run ----------------------------------------------------------- */

static int holds_nothing(const char *path)
{
    ds_catalog *c;
    char err[256], *json = NULL;
    if (ds_catalog_open(&c, path, DS_OPEN_READ, err, sizeof err) != 0) {
        return 0;
    }
    int empty = ds_catalog_info_json(c, &json, err, sizeof err) == 0 && json &&
                strstr(json, "\"samples\":{\"total\":0,") != NULL;
    free(json);
    ds_catalog_close(c);
    return empty;
}

/* A catalog this run created is removed when the run fails and it holds
 * nothing, or always (a class the class names do not cover: the same
 * command could never resume it): a failure leaves no file that a new run
 * would have to explain. */
static void remove_new_catalog(const char *path, int always, int *removed)
{
    if (!always && !holds_nothing(path)) {
        return;
    }
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char p[4096];
        if (snprintf(p, sizeof p, "%s%s", path, suffixes[i]) < (int)sizeof p) {
            (void)unlink(p);
        }
    }
    *removed = 1;
}

/* tcmalloc's C interface (gperftools/malloc_extension_c.h), when linked. */
int MallocExtension_GetNumericProperty(const char *property, size_t *value) __attribute__((weak));
int MallocExtension_SetNumericProperty(const char *property, size_t value) __attribute__((weak));

#define THREAD_CACHE_LIMIT "tcmalloc.max_total_thread_cache_bytes"

/* Lowers tcmalloc's thread-cache limit to ALLOC_CACHE_BYTES; *old gets the
 * limit to restore (0: nothing to restore). */
static void alloc_cache_bound(size_t *old)
{
    *old = 0;
    if (!MallocExtension_GetNumericProperty || !MallocExtension_SetNumericProperty ||
        !MallocExtension_GetNumericProperty(THREAD_CACHE_LIMIT, old)) {
        *old = 0;
        return;
    }
    if (*old <= ALLOC_CACHE_BYTES ||
        !MallocExtension_SetNumericProperty(THREAD_CACHE_LIMIT, ALLOC_CACHE_BYTES)) {
        *old = 0;
    }
}

static void alloc_cache_restore(size_t old)
{
    if (old > 0) {
        (void)MallocExtension_SetNumericProperty(THREAD_CACHE_LIMIT, old);
    }
}

void pl_ingest_opts_default(pl_ingest_opts *o)
{
    memset(o, 0, sizeof *o);
    o->layout = DS_LAYOUT_AUTO;
    o->limits = ds_limits_default();
    o->check.max_pixels = o->limits.max_pixels;
    o->check.max_side = 0;
    o->split = ds_split_opts_default();
    o->threads = 0;
}

int pl_ingest_run(const pl_ingest_opts *o, pl_ingest_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (!o->sources || o->nsources < 1 || !o->output || o->threads < 0) {
        return ck_err(err, errlen, CK_EINVAL, "ingest: need sources, an output and threads >= 0");
    }
    ingest in = {.o = o, .check = o->check, .t0 = ck_now()};
    if (in.check.max_pixels == 0) {
        in.check.max_pixels = o->limits.max_pixels;
    }
    atomic_init(&in.read, 0);
    atomic_init(&in.checked, 0);
    atomic_init(&in.checked_batches[0], 0);
    atomic_init(&in.checked_batches[1], 0);
    atomic_init(&in.skipped, 0);
    atomic_init(&in.bytes_read, 0);

    ds_catalog *c = NULL;
    char *options = NULL;
    int finished = 0;
    struct stat ost;
    int existed = stat(o->output, &ost) == 0;
    size_t cache_limit;
    alloc_cache_bound(&cache_limit);
    int rc = im_init(NULL, err, errlen);
    if (rc == 0 && o->split.class_names) {
        rc = ds_class_names_parse(o->split.class_names, &in.names, &in.nnames, err, errlen);
    }
    if (rc == 0) {
        rc = resolve_paths(&in, err, errlen);
    }
    if (rc == 0) {
        rc = options_text(&in, &options, err, errlen);
    }
    if (rc == 0) {
        rc = ds_catalog_open(&c, o->output, DS_OPEN_WRITE, err, errlen);
    }
    if (rc == 0) {
        rc = ds_catalog_begin(c, options, &finished, err, errlen);
    }
    if (rc == 0 && ds_catalog_replaced(c)) {
        snprintf(st->replaced, sizeof st->replaced, "%s", ds_catalog_replaced(c));
    }
    if (rc == 0 && !finished) {
        rc = ds_catalog_open(&in.lookup, o->output, DS_OPEN_READ, err, errlen);
        if (rc == 0) {
            report(&in, "ingest");
            rc = run_graph(&in, c, st, err, errlen);
        }
        /* The reader has stopped: its source and connection are ours now. */
        ds_source_close(in.src);
        ds_catalog_close(in.lookup);
    }
    if (rc == 0 && !finished) {
        report(&in, "finish");
        rc = ds_catalog_finish(c, &o->split, err, errlen);
    }
    ds_catalog_close(c);
    if (rc && !existed) {
        remove_new_catalog(o->output, in.unnamed, &st->removed);
    }

    st->already_finished = finished;
    st->ok = in.ok;
    st->rejected = in.rejected;
    st->resumed = atomic_load(&in.skipped);
    st->entries = st->ok + st->rejected + st->resumed;
    st->seconds = ck_now() - in.t0;
    if (rc == 0) {
        report(&in, "done");
    }
    for (int i = 0; in.paths && i < o->nsources; i++) {
        free(in.paths[i]);
    }
    free(in.paths);
    free(in.names);
    free(options);
    alloc_cache_restore(cache_limit);
    return rc;
}
