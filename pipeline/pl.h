/* pl.h: pipeline — the multithreaded stages, and the pipelines built on them.
 *
 * The stage graph is the one threading pattern convkit needs:
 *
 *   source (1 thread) -> workers (N threads) -> consumer (the caller), in order
 *
 * The source makes items one at a time and numbers them 0, 1, 2...; workers
 * process them concurrently and finish in any order; the consumer receives
 * them in sequence order. Items are opaque pointers: the graph never looks
 * inside. At most `window` items exist at once (made and not yet taken by
 * the consumer), so memory is bounded whatever the speeds of the stages.
 * The first error of any stage stops every stage and reaches the consumer
 * with its message; closing the graph at any moment ends every thread.
 *
 * Ingest (`convkit prepare-dataset`) runs on it: one reader thread over the
 * datasets/ sources -> workers running ds_check_entry -> the caller's thread
 * writing dataset.db in source order.
 *
 * The training loader runs on it too: a sampler thread -> workers decoding
 * and augmenting whole batches from dataset.db -> the trainer's thread
 * taking ready float batches in order.
 */
#ifndef PL_H
#define PL_H

#include <stddef.h>
#include <stdint.h>

#include "aug.h"
#include "ck.h"
#include "ds.h"

/* ---- the stage graph --------------------------------------------------- */

/* What one stage did. For the workers, seconds are summed over threads. */
typedef struct pl_stage_stats {
    int64_t items; /* items the stage finished */
    double busy;   /* seconds inside the stage's function (for the consumer:
                      from receiving an item to asking for the next) */
    double wait;   /* seconds blocked: the source on a full window, workers
                      on an empty queue, the consumer on the next item in
                      order (its input stall) */
    int threads;
} pl_stage_stats;

typedef struct pl_graph_stats {
    pl_stage_stats source, workers, consumer;
} pl_graph_stats;

/* Makes item number seq (0, 1, 2... in call order). Returns 1 with *item
 * set, 0 at the end of input, or a negative CK_E* code with a message in err
 * (errlen bytes), which stops the graph. Called on the source thread only. */
typedef int (*pl_produce_fn)(void *user, int64_t seq, void **item, char *err, size_t errlen);

/* Processes item seq in place on worker thread `worker` (0 .. workers-1;
 * per-worker state can be indexed by it). Returns 0, or a negative CK_E*
 * code with a message in err, which stops the graph (the item is then
 * dropped). Called concurrently from every worker, never twice for an item. */
typedef int (*pl_work_fn)(void *user, int worker, int64_t seq, void *item, char *err,
                          size_t errlen);

/* Frees an item that will never reach the consumer (the graph was closed or
 * stopped by an error). Called from any graph thread or from close. */
typedef void (*pl_drop_fn)(void *user, void *item);

typedef struct pl_graph_opts {
    pl_produce_fn produce; /* required */
    pl_work_fn work;       /* required */
    pl_drop_fn drop;       /* NULL: undelivered items are forgotten */
    void *user;            /* passed to the three functions */
    int workers;           /* worker threads, >= 1 */
    int window;            /* items alive at once, >= 1; 0: 2 * workers */
    int refill;            /* free window slots that wake a blocked source:
                              0: half the window (bursts, fewer wake-ups for
                              cheap items); 1: every slot (costly items in a
                              small window, where a worker must not idle
                              beside a free slot) */
} pl_graph_opts;

typedef struct pl_graph pl_graph;

/* Starts the source and worker threads. Returns 0 and gives *out to the
 * caller (end it with pl_graph_close), or CK_EINVAL, CK_ENOMEM, CK_ETHREAD
 * with a message. */
int pl_graph_start(pl_graph **out, const pl_graph_opts *o, char *err, size_t errlen);

/* The next item in sequence order, waiting for it. Returns 1 with *item
 * (owned by the caller from now on) and *seq set; 0 when every item was
 * delivered; or the first error of any stage (CK_ECANCELED after
 * pl_graph_cancel) with its message in err, again on every later call. An
 * error is reported as soon as it happens, ahead of finished items that
 * were still waiting for an earlier one (they are dropped at close).
 * Consumer thread only: one thread calls next and close. */
int pl_graph_next(pl_graph *g, void **item, int64_t *seq, char *err, size_t errlen);

/* Stops the graph: blocked threads wake, no function is called again once
 * the calls in progress return, and the consumer's next returns
 * CK_ECANCELED ("canceled"). Thread-safe, any thread, idempotent. */
void pl_graph_cancel(pl_graph *g);

/* A snapshot of the statistics so far. Thread-safe. */
void pl_graph_get_stats(pl_graph *g, pl_graph_stats *st);

/* Stops the graph if it still runs, waits for its threads (each returns as
 * soon as the produce or work call it is in returns), drops the items not
 * delivered, fills *st (may be NULL) with the final statistics and frees g.
 * Works at any moment: mid-stream, with a full or an empty window, after an
 * error. Consumer thread only. NULL is a no-op. */
void pl_graph_close(pl_graph *g, pl_graph_stats *st);

/* ---- ingest: sources -> checked samples -> dataset.db ------------------ */

/* Where an ingest is, for a progress display. */
typedef struct pl_ingest_progress {
    int64_t read;     /* entries read from the sources */
    int64_t checked;  /* entries decoded and verified by the workers */
    int64_t written;  /* rows stored by this run */
    int64_t rejected; /* of them, rejected samples */
    int64_t skipped;  /* entries found stored by an earlier run */
    uint64_t bytes_read;
    int source_index; /* the source being written (0-based) */
    int nsources;
    const char *stage; /* "ingest", then "finish" (splits, duplicates), then "done" */
    double seconds;    /* since the start */
} pl_ingest_progress;

/* Called on the calling (writer) thread, at most about 10 times a second,
 * and once at the end with stage "done". p is valid during the call. */
typedef void (*pl_ingest_progress_fn)(const pl_ingest_progress *p, void *user);

typedef struct pl_ingest_opts {
    const char *const *sources; /* paths, in this order (ids follow it) */
    int nsources;
    ds_layout layout;   /* DS_LAYOUT_AUTO: detected per source */
    const char *output; /* the catalog, created or resumed */
    ds_limits limits;
    ds_check_opts check; /* check.max_pixels 0: limits.max_pixels */
    ds_split_opts split;
    int threads;                    /* workers; 0 = number of cores. Does not change the result. */
    pl_ingest_progress_fn progress; /* may be NULL */
    void *user;
} pl_ingest_opts;

/* Defaults: auto layout, ds_limits_default, ds_split_opts_default, no
 * max_side, threads 0; sources and output NULL. */
void pl_ingest_opts_default(pl_ingest_opts *o);

typedef struct pl_ingest_stats {
    int64_t entries;      /* entries in the sources (ok + rejected + resumed) */
    int64_t ok;           /* valid images stored by this run */
    int64_t rejected;     /* rejected samples stored by this run */
    int64_t resumed;      /* entries already stored by an earlier, interrupted run */
    int already_finished; /* the catalog was complete with these options: nothing done */
    char replaced[1024];  /* options of an image-less catalog this run replaced, or "" */
    int removed;          /* the run failed and removed the catalog it created (empty,
                             or unusable with these options) */
    double seconds;
    pl_stage_stats reader, workers, writer; /* writer.wait is its input stall */
} pl_ingest_stats;

/* Reads every source, checks every entry on o->threads workers and stores
 * them, in source order, in the catalog o->output, then computes splits,
 * duplicates and leakage (ds_catalog_finish).
 *
 * The catalog records a canonical text of every option that changes the
 * result (absolute source paths, layout, limits, max_side, the split
 * options): rerun with the same options after an interruption (even
 * SIGKILL), it resumes and ends with the same catalog as an uninterrupted
 * run; on a finished catalog it sets st->already_finished and changes
 * nothing; with other options it is refused (CK_EINVAL).
 *
 * Rejected samples are recorded, not errors. Returns 0, or the first error
 * with its message: a source that cannot be read (CK_EIO, CK_EFORMAT,
 * CK_ELIMIT, naming the file), a database error (CK_EDB, CK_EIO), CK_EINVAL,
 * CK_ENOMEM, CK_ETHREAD. Memory stays bounded: a fixed number of entries
 * (8 per worker) is in flight. *st is filled in either case.
 *
 * Calls im_init. Runs its own threads; call it from one thread at a time
 * per output file. */
int pl_ingest_run(const pl_ingest_opts *o, pl_ingest_stats *st, char *err, size_t errlen);

/* ---- the training loader: one split of dataset.db -> float batches ----- */

enum { PL_LOADER_AUTO = -1 }; /* workers, prefetch: chosen for the machine */

typedef struct pl_loader_opts {
    const char *catalog; /* dataset.db path; copied */
    const char *split;   /* "train", "validation", "test"...; copied */
    int batch;           /* samples per batch, >= 1 */
    int shuffle;         /* 1: a new order every epoch, keyed by (seed, epoch,
                            CK_RNG_SHUFFLE); 0: id order (validation, test) */
    int drop_last;       /* 1: an epoch ends before a last, partial batch */
    uint64_t seed;       /* keys the shuffle and each sample's augmentation */
    aug_params aug;      /* output width, height, channels, scale (1/255 for
                            models expecting [0, 1], 1 for models that start
                            with Rescaling), resize mode, policy (NULL: no
                            augmentation; borrowed, must outlive the loader).
                            dtype must be AUG_F32 */
    int workers;         /* decode threads; 0: decode on the caller's thread
                            inside pl_loader_next; PL_LOADER_AUTO: a quarter
                            of the cores (at least 1, at most 4), the rest
                            left to the trainer's BLAS */
    int prefetch;        /* batches made ahead besides the ones the workers
                            are on, >= 1; PL_LOADER_AUTO: 2 */
    /* One process's share of every batch: each batch of n samples is cut
     * in `parts` (ck_cut), and the loader makes parts [part_lo, part_hi)
     * only. Default 1, 0, 1: whole batches. */
    int parts, part_lo, part_hi;
} pl_loader_opts;

/* Defaults: batch 32, shuffle 1, drop_last 0, seed 0, aug 150x150x3 scaled
 * 1/255 stretched without policy, workers and prefetch PL_LOADER_AUTO,
 * whole batches; catalog and split NULL. */
void pl_loader_opts_default(pl_loader_opts *o);

/* One batch, lent by the loader until the next pl_loader_next,
 * pl_loader_begin or pl_loader_close. */
typedef struct pl_batch {
    const float *x;        /* (n, H, W, C) float32 NHWC, 64-byte aligned */
    const int32_t *labels; /* (n) class index (label order of the catalog:
                              0/1 for two classes); -1 for unlabelled samples */
    const int64_t *ids;    /* (n) sample ids */
    int n;                 /* samples, 1..batch (0..batch with parts) */
    int total, first;      /* the whole batch's samples; the first one's
                              place in it (0 for whole batches) */
    int64_t index;         /* 0, 1, 2... within the epoch */
} pl_batch;

/* One epoch so far (or the last one, once ended). Stage items are batches.
 * sampler: the thread ordering batches; workers: read + decode + augment +
 * resize, seconds summed over threads (0 threads: done inline by the
 * consumer); consumer: busy is the caller's time between pl_loader_next
 * calls, wait its input stall. */
typedef struct pl_loader_stats {
    int epoch;
    int64_t batches, samples; /* delivered */
    double seconds;           /* from the end of pl_loader_begin to the end
                                 of the epoch (or now): stall + consumer.busy */
    double stall;             /* seconds spent inside pl_loader_next: waiting
                                 for the workers, or decoding when inline */
    pl_stage_stats sampler, workers, consumer;
} pl_loader_stats;

typedef struct pl_loader pl_loader;

/* Opens o->catalog read-only, lists the split, makes one catalog connection
 * and one aug_pipe per worker and the batch buffers (prefetch + workers + 1
 * batches): after this nothing is allocated per batch or per sample. No
 * thread runs until pl_loader_begin. Returns 0 and gives *out to the caller
 * (free with pl_loader_close), or CK_EINVAL (bad options, an unknown or
 * empty split, an empty epoch with drop_last), CK_EIO / CK_EDB / CK_EFORMAT
 * (the catalog), CK_ENOMEM, with a message. Calls im_init. */
int pl_loader_open(pl_loader **out, const pl_loader_opts *o, char *err, size_t errlen);

/* Samples per epoch (the split's size, less the last partial batch with
 * drop_last). */
int64_t pl_loader_size(const pl_loader *l);

/* Starts epoch `epoch` (>= 0): stops the epoch in progress if any, orders
 * the samples and starts the workers, which begin filling batches at once.
 * The order is a function of (seed, epoch) only, and each batch's bytes of
 * (seed, epoch, its samples), whatever the number of workers. Returns 0, or
 * CK_EINVAL, CK_ENOMEM, CK_ETHREAD with a message. */
int pl_loader_begin(pl_loader *l, int epoch, char *err, size_t errlen);

/* The next batch of the epoch, in order, waiting for it. Returns 1 with *b
 * set (lent as described at pl_batch), 0 at the end of the epoch (and on
 * every later call), or a negative code with a message, again on every
 * later call until the next begin: CK_EDECODE / CK_EINVAL naming the catalog,
 * the sample id and the entry name ("x.db: sample 17:
 * train.zip:train/cat.3.jpg: decode: ..."), CK_EDB, CK_ENOMEM, CK_EINVAL
 * before any pl_loader_begin. The first error stops every worker. */
int pl_loader_next(pl_loader *l, pl_batch *b, char *err, size_t errlen);

/* The current (or last) epoch's statistics. Consumer thread. */
void pl_loader_get_stats(pl_loader *l, pl_loader_stats *st);

/* Stops the epoch in progress (workers leave after the sample they are on,
 * also when every buffer is full), joins every thread and frees l. NULL is
 * a no-op. */
void pl_loader_close(pl_loader *l);

/* pl_loader_open, pl_loader_size, pl_loader_begin, pl_loader_next and
 * pl_loader_close are for one thread at a time (the consumer's). */

/* One timed configuration of `convkit bench loader`. */
typedef struct pl_loader_bench_result {
    int workers;
    int epochs;
    int64_t batches, images;
    double seconds;     /* wall time of the timed epochs */
    double cpu_seconds; /* process CPU time over the same span */
    double images_per_s, batches_per_s;
    double images_per_cpu_s; /* steadier than images_per_s on a shared machine */
    double stall;            /* the consumer's input stall, summed */
    pl_loader_stats last;    /* the last timed epoch */
} pl_loader_bench_result;

/* Opens a loader with o, runs an untimed warm-up (the first batches of
 * epoch 0), then times epochs 1..epochs with a consumer that takes each
 * batch and does nothing else. Returns 0, or pl_loader_open's and
 * pl_loader_next's errors. Runs the loader's threads; one call at a time. */
int pl_loader_bench_run(const pl_loader_opts *o, int epochs, pl_loader_bench_result *res, char *err,
                        size_t errlen);

#endif
