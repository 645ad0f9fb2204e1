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
 */
#ifndef PL_H
#define PL_H

#include <stddef.h>
#include <stdint.h>

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
 * Calls ck_init. Runs its own threads; call it from one thread at a time
 * per output file. */
int pl_ingest_run(const pl_ingest_opts *o, pl_ingest_stats *st, char *err, size_t errlen);

#endif
