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
 * Ingest (`convkit prepare-dataset`) runs on it: datasets/ sources ->
 * ds_check_entry -> the dataset.db writer.
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
 * pl_graph_cancel) with its message in err, again on every later call.
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

#endif
