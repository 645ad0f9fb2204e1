/* loader.c: the training loader (see pl.h) on the stage graph.
 *
 *   sampler (graph source)  numbers the epoch's batches
 *   workers                 one whole batch each: read every sample's BLOB
 *                           through the worker's own catalog connection,
 *                           decode + augment + resize with its own aug_pipe
 *                           straight into the sample's slot
 *   consumer (caller)       takes batches in order
 *
 * Items are whole batches, not samples. Per sample, an item costs a queue
 * push and pop, a hand-over and a take, each under a lock, and often a
 * wake-up. Measured on Fashion-MNIST (28x28 raw, 60,000 samples, 1 worker):
 * 0.90-0.95 s of CPU per epoch with batch items, 1.14-1.34 s with sample
 * items, and 20k against 400k context switches over six epochs. On 150x150
 * photos (about 1 ms of CPU each) the CPU difference is lost in noise, but
 * sample items still doubled the context switches. What batch items give up
 * is latency: the first batch of an epoch takes one worker B samples' time
 * instead of B / workers, a few tens of ms per epoch.
 *
 * The default worker count is a quarter of the cores (1..4): a worker makes
 * about 1,000 augmented 150x150 samples per second, and a training step
 * costs 1.4-2.5 GFLOP per such image (bench/README.md), so the trainer's
 * BLAS threads keep the other cores and still consume far fewer. The
 * graph refills each free slot at once (refill 1): a batch costs tens of
 * ms, so a worker must not idle while a buffer is free.
 *
 * Nothing allocates per batch: the item is the batch buffer itself. Batch k
 * lives in buffer k % nbuf with nbuf = window + 1; the graph lets the
 * sampler make batch k only while k < delivered + window, so the batch lent
 * to the consumer (number delivered - 1) is never rewritten while lent,
 * with no lock of our own.
 *
 * Determinism: the order is a function of (seed, epoch); a sample's bytes
 * of (seed, epoch, id) through aug_pipe_run; its slot of its position. So
 * batches are byte-identical whatever the number of workers, and inline
 * (0 workers) does the same work on the caller's thread into buffer 0.
 *
 * Stopping: begin and close set `stop`, which workers check between
 * samples, then close the graph (cancel + join). A worker thus leaves after
 * the sample it is on, also when every buffer is full.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "im.h"
#include "pl_internal.h"

enum { DEFAULT_PREFETCH = 2, MAX_WORKERS = 64, BUF_ALIGN = 64 };

/* One batch buffer; the graph's item. */
typedef struct batch_buf {
    float *x;
    int32_t *labels;
    int64_t *ids;
    int64_t index; /* the batch it holds; set by the sampler */
    int n;         /* samples held: [first, first + n) of the batch's total */
    int total, first;
} batch_buf;

/* What one worker owns (lane 0 is also the consumer's, inline). */
typedef struct lane {
    ds_catalog *db;
    aug_pipe *pipe;
} lane;

struct pl_loader {
    pl_loader_opts o; /* catalog and split point to the copies below */
    char *catalog, *split;
    int64_t *ids; /* the split, by id */
    int32_t *labels;
    int64_t n;      /* samples in the split */
    int64_t nepoch; /* samples per epoch */
    int64_t *order; /* the epoch's order: indices into ids */
    size_t sample_floats;
    int nbuf;
    batch_buf *bufs;
    int nlanes;
    lane *lanes;

    /* One epoch. Written by begin before the graph starts, then read-only
     * for the graph threads, except stop. */
    int epoch;
    int begun;
    atomic_int stop;
    pl_graph *g;
    pl_graph_stats gs; /* of the closed graph */

    /* Consumer thread only. */
    int ended;
    int status;
    char err[512];
    int64_t batches, samples;
    double t_begin, t_last, t_end;
    double stall, busy;
    pl_stage_stats inline_work;
};

void pl_loader_opts_default(pl_loader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 32;
    o->shuffle = 1;
    o->aug = aug_params_default(150, 150, 3);
    o->workers = PL_LOADER_AUTO;
    o->prefetch = PL_LOADER_AUTO;
    o->parts = 1;
    o->part_hi = 1;
}

int64_t pl_loader_size(const pl_loader *l)
{
    return l->nepoch;
}

/* ---- one sample -------------------------------------------------------- */

/* Reads sample order[pos] and writes it into slot `slot` of b. */
static int load_sample(pl_loader *l, lane *ln, int64_t pos, batch_buf *b, int slot, char *err,
                       size_t errlen)
{
    int64_t idx = l->order[pos];
    int64_t id = l->ids[idx];
    ds_blob blob;
    int rc = ds_catalog_blob(ln->db, id, &blob, err, errlen);
    if (rc) {
        return rc;
    }
    aug_src src = {.data = blob.data, .size = blob.size, .name = blob.name};
    if (blob.kind == DS_ENTRY_RAW) {
        src.width = blob.width;
        src.height = blob.height;
        src.bands = blob.bands;
    }
    char why[512];
    rc = aug_pipe_run(ln->pipe, &src, l->o.seed, (uint64_t)l->epoch, (uint64_t)id,
                      b->x + (size_t)slot * l->sample_floats, why, sizeof why);
    if (rc) {
        /* aug's messages start with the entry name when it is known. */
        const char *name = blob.name ? blob.name : "";
        if (*name && strncmp(why, name, strlen(name)) == 0) {
            return ck_err(err, errlen, rc, "%s: sample %lld: %s", l->catalog, (long long)id, why);
        }
        return ck_err(err, errlen, rc, "%s: sample %lld (%s): %s", l->catalog, (long long)id, name,
                      why);
    }
    b->labels[slot] = l->labels[idx];
    b->ids[slot] = id;
    return 0;
}

/* ---- the graph's functions --------------------------------------------- */

/* Samples in batch k of the epoch. */
static int batch_size(const pl_loader *l, int64_t k)
{
    int64_t left = l->nepoch - k * l->o.batch;
    return left < l->o.batch ? (int)left : l->o.batch;
}

/* Batch k's samples this loader makes: its parts of them. */
static void batch_plan(const pl_loader *l, int64_t k, batch_buf *b)
{
    b->index = k;
    b->total = batch_size(l, k);
    b->first = (int)ck_cut(b->total, l->o.part_lo, l->o.parts);
    b->n = (int)ck_cut(b->total, l->o.part_hi, l->o.parts) - b->first;
}

static int sampler_produce(void *user, int64_t seq, void **out, char *err, size_t errlen)
{
    pl_loader *l = user;
    (void)err;
    (void)errlen;
    if (seq * l->o.batch >= l->nepoch) {
        return 0;
    }
    batch_buf *b = &l->bufs[seq % l->nbuf];
    batch_plan(l, seq, b);
    *out = b;
    return 1;
}

static int worker_run(void *user, int worker, int64_t seq, void *p, char *err, size_t errlen)
{
    pl_loader *l = user;
    batch_buf *b = p;
    (void)seq;
    for (int i = 0; i < b->n; i++) {
        if (atomic_load_explicit(&l->stop, memory_order_relaxed)) {
            return ck_err(err, errlen, CK_ECANCELED, "canceled");
        }
        int rc = load_sample(l, &l->lanes[worker], b->index * l->o.batch + b->first + i, b, i, err,
                             errlen);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* ---- open and close ---------------------------------------------------- */

static int resolve_opts(pl_loader_opts *o, char *err, size_t errlen)
{
    if (o->workers == PL_LOADER_AUTO) {
        int w = ck_ncores() / 4;
        o->workers = w < 1 ? 1 : w > 4 ? 4 : w;
    }
    if (o->prefetch == PL_LOADER_AUTO) {
        o->prefetch = DEFAULT_PREFETCH;
    }
    if (!o->catalog || !o->split) {
        return ck_err(err, errlen, CK_EINVAL, "loader: need a catalog and a split");
    }
    if (o->batch < 1 || o->workers < 0 || o->workers > MAX_WORKERS || o->prefetch < 1) {
        return ck_err(err, errlen, CK_EINVAL,
                      "loader: batch %d, workers %d, prefetch %d: need batch >= 1, workers "
                      "0..%d, prefetch >= 1",
                      o->batch, o->workers, o->prefetch, MAX_WORKERS);
    }
    if (o->parts < 1 || o->part_lo < 0 || o->part_lo >= o->part_hi || o->part_hi > o->parts) {
        return ck_err(err, errlen, CK_EINVAL, "loader: parts [%d, %d) of %d: not a range of them",
                      o->part_lo, o->part_hi, o->parts);
    }
    if (o->aug.dtype != AUG_F32) {
        return ck_err(err, errlen, CK_EINVAL, "loader: the output must be float32 (AUG_F32)");
    }
    return 0;
}

/* The batch ring: the prefetched batches, one per worker, the lent one. */
static int alloc_buffers(pl_loader *l, char *err, size_t errlen)
{
    int B = l->o.batch;
    l->nbuf = l->o.workers == 0 ? 1 : l->o.prefetch + l->o.workers + 1;
    l->bufs = calloc((size_t)l->nbuf, sizeof *l->bufs);
    l->order = malloc((size_t)l->n * sizeof *l->order);
    if (!l->bufs || !l->order) {
        return ck_err(err, errlen, CK_ENOMEM, "loader: out of memory");
    }
    size_t xbytes = (size_t)B * l->sample_floats * sizeof(float);
    for (int i = 0; i < l->nbuf; i++) {
        void *x = NULL;
        if (posix_memalign(&x, BUF_ALIGN, xbytes) != 0) {
            return ck_err(err, errlen, CK_ENOMEM, "loader: out of memory (%d batches of %zu bytes)",
                          l->nbuf, xbytes);
        }
        l->bufs[i].x = x;
        l->bufs[i].labels = malloc((size_t)B * sizeof *l->bufs[i].labels);
        l->bufs[i].ids = malloc((size_t)B * sizeof *l->bufs[i].ids);
        if (!l->bufs[i].labels || !l->bufs[i].ids) {
            return ck_err(err, errlen, CK_ENOMEM, "loader: out of memory");
        }
    }
    return 0;
}

/* Lists the split on lane 0's connection, opens the other lanes. */
static int open_lanes(pl_loader *l, char *err, size_t errlen)
{
    l->nlanes = l->o.workers > 0 ? l->o.workers : 1;
    l->lanes = calloc((size_t)l->nlanes, sizeof *l->lanes);
    if (!l->lanes) {
        return ck_err(err, errlen, CK_ENOMEM, "loader: out of memory");
    }
    int rc = ds_catalog_open(&l->lanes[0].db, l->catalog, DS_OPEN_READ, err, errlen);
    if (rc) {
        return rc;
    }
    size_t n = 0;
    rc = ds_catalog_split(l->lanes[0].db, l->split, &l->ids, &l->labels, &n, err, errlen);
    if (rc) {
        return rc;
    }
    l->n = (int64_t)n;
    l->nepoch = l->o.drop_last ? l->n / l->o.batch * l->o.batch : l->n;
    if (l->n == 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: split '%s' has no samples", l->catalog,
                      l->split);
    }
    if (l->nepoch == 0) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: split '%s': %lld samples, fewer than one batch of %d with drop_last",
                      l->catalog, l->split, (long long)l->n, l->o.batch);
    }
    for (int i = 0; i < l->nlanes && rc == 0; i++) {
        if (i > 0) {
            rc = ds_catalog_open(&l->lanes[i].db, l->catalog, DS_OPEN_READ, err, errlen);
        }
        if (rc == 0) {
            rc = aug_pipe_create(&l->lanes[i].pipe, &l->o.aug, err, errlen);
        }
    }
    return rc;
}

int pl_loader_open(pl_loader **out, const pl_loader_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    pl_loader_opts ro = *o;
    int rc = resolve_opts(&ro, err, errlen);
    if (rc == 0) {
        rc = im_init(NULL, err, errlen);
    }
    if (rc) {
        return rc;
    }
    pl_loader *l = calloc(1, sizeof *l);
    if (!l) {
        return ck_err(err, errlen, CK_ENOMEM, "loader: out of memory");
    }
    atomic_init(&l->stop, 0);
    l->o = ro;
    l->catalog = strdup(ro.catalog);
    l->split = strdup(ro.split);
    if (!l->catalog || !l->split) {
        rc = ck_err(err, errlen, CK_ENOMEM, "loader: out of memory");
    }
    l->o.catalog = l->catalog;
    l->o.split = l->split;
    l->sample_floats = aug_params_sample_bytes(&ro.aug) / sizeof(float);
    if (rc == 0) {
        rc = open_lanes(l, err, errlen);
    }
    if (rc == 0) {
        rc = alloc_buffers(l, err, errlen);
    }
    if (rc) {
        pl_loader_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* Stops and joins the epoch's threads, keeping their statistics. */
static void stop_graph(pl_loader *l)
{
    if (l->g) {
        atomic_store_explicit(&l->stop, 1, memory_order_relaxed);
        pl_graph_close(l->g, &l->gs);
        l->g = NULL;
    }
}

void pl_loader_close(pl_loader *l)
{
    if (!l) {
        return;
    }
    stop_graph(l);
    for (int i = 0; l->lanes && i < l->nlanes; i++) {
        aug_pipe_destroy(l->lanes[i].pipe);
        ds_catalog_close(l->lanes[i].db);
    }
    for (int i = 0; l->bufs && i < l->nbuf; i++) {
        free(l->bufs[i].x);
        free(l->bufs[i].labels);
        free(l->bufs[i].ids);
    }
    free(l->lanes);
    free(l->bufs);
    free(l->order);
    free(l->ids);
    free(l->labels);
    free(l->catalog);
    free(l->split);
    free(l);
}

/* ---- epochs ------------------------------------------------------------ */

int pl_loader_begin(pl_loader *l, int epoch, char *err, size_t errlen)
{
    stop_graph(l);
    l->begun = 0;
    if (epoch < 0) {
        return ck_err(err, errlen, CK_EINVAL, "loader: epoch %d < 0", epoch);
    }
    for (int64_t i = 0; i < l->n; i++) {
        l->order[i] = i;
    }
    if (l->o.shuffle) {
        ck_rng r;
        ck_rng_init(&r, l->o.seed, (uint64_t)epoch, 0, CK_RNG_SHUFFLE);
        ck_rng_shuffle_i64(&r, l->order, (size_t)l->n);
    }
    l->epoch = epoch;
    l->ended = 0;
    l->status = 0;
    l->batches = l->samples = 0;
    l->stall = l->busy = 0;
    memset(&l->gs, 0, sizeof l->gs);
    memset(&l->inline_work, 0, sizeof l->inline_work);
    atomic_store_explicit(&l->stop, 0, memory_order_relaxed);
    if (l->o.workers > 0) {
        pl_graph_opts go = {
            .produce = sampler_produce,
            .work = worker_run,
            .user = l,
            .workers = l->o.workers,
            .window = l->nbuf - 1,
            .refill = 1, /* a batch costs ms: wake the sampler for each free slot */
        };
        int rc = pl_graph_start(&l->g, &go, err, errlen);
        if (rc) {
            return rc;
        }
    }
    l->begun = 1;
    l->t_begin = l->t_last = ck_now();
    return 0;
}

/* Batch k on the caller's thread, into buffer 0. */
static int next_inline(pl_loader *l, int64_t k)
{
    double t0 = ck_now();
    batch_buf *b = &l->bufs[0];
    batch_plan(l, k, b);
    int rc = 0;
    for (int i = 0; i < b->n && rc == 0; i++) {
        rc = load_sample(l, &l->lanes[0], k * l->o.batch + b->first + i, b, i, l->err,
                         sizeof l->err);
    }
    l->inline_work.busy += ck_now() - t0;
    l->inline_work.items += rc == 0;
    return rc ? rc : 1;
}

int pl_loader_next(pl_loader *l, pl_batch *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (!l->begun) {
        return ck_err(err, errlen, CK_EINVAL, "loader: pl_loader_begin first");
    }
    if (l->status) {
        return ck_err(err, errlen, l->status, "%s", l->err);
    }
    if (l->ended) {
        return 0;
    }
    double t0 = ck_now();
    l->busy += t0 - l->t_last;
    int64_t k = l->batches;
    void *p = NULL;
    int rc;
    if (k * l->o.batch >= l->nepoch) {
        rc = 0;
    } else if (l->o.workers == 0) {
        rc = next_inline(l, k);
        p = &l->bufs[0];
    } else {
        int64_t seq;
        rc = pl_graph_next(l->g, &p, &seq, l->err, sizeof l->err);
    }
    if (rc == 1) {
        const batch_buf *buf = p;
        assert(buf->index == k);
        *b = (pl_batch){.x = buf->x,
                        .labels = buf->labels,
                        .ids = buf->ids,
                        .n = buf->n,
                        .total = buf->total,
                        .first = buf->first,
                        .index = k};
        l->batches++;
        l->samples += buf->n;
    } else {
        stop_graph(l); /* ended or failed: the threads leave now */
        l->ended = 1;
        l->status = rc < 0 ? rc : 0;
    }
    double t1 = ck_now();
    l->stall += t1 - t0;
    l->t_last = t1;
    if (rc <= 0) {
        l->t_end = t1;
    }
    if (rc < 0) {
        return ck_err(err, errlen, rc, "%s", l->err);
    }
    return rc;
}

void pl_loader_get_stats(pl_loader *l, pl_loader_stats *st)
{
    memset(st, 0, sizeof *st);
    st->epoch = l->epoch;
    if (!l->begun) {
        return;
    }
    double now = l->ended ? l->t_end : ck_now();
    pl_graph_stats gs = l->gs;
    if (l->g) {
        pl_graph_get_stats(l->g, &gs);
    }
    st->batches = l->batches;
    st->samples = l->samples;
    st->stall = l->stall;
    st->consumer = (pl_stage_stats){
        .items = l->batches,
        .busy = l->busy + (now - l->t_last),
        .wait = l->stall,
        .threads = 1,
    };
    st->seconds = st->stall + st->consumer.busy;
    if (l->o.workers > 0) {
        st->sampler = gs.source;
        st->workers = gs.workers;
    } else {
        st->workers = l->inline_work;
    }
}
