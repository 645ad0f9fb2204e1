/* graph.c: the stage graph (see pl.h).
 *
 * Three parts, one lock each where they meet:
 *
 *   source thread --pl_queue "todo"--> N worker threads --window--> consumer
 *
 * The window is a ring of `window` slots; item seq lives in slot
 * seq % window from the moment a worker finishes it until the consumer takes
 * it. The source may only make item seq when seq < delivered + window, so
 * every item alive (queued, being worked on, or finished and waiting for an
 * earlier one) has a distinct slot: workers never wait to hand an item over,
 * out-of-order results cannot pile up, and the todo queue (same capacity)
 * never fills. This one rule gives both ordered delivery and bounded memory.
 * The consumer wakes a blocked source only once `refill` slots are free
 * (by default half the window), so with cheap items the source refills in
 * bursts instead of one wake-up (a context switch) per item.
 *
 * Stopping is one flag under the graph mutex plus a cancel of the todo
 * queue; both wake every waiter (broadcast). An error is recorded once —
 * the first message wins — and turns into a stop, so the consumer sees it
 * on its next call while the other threads leave. Close joins the threads
 * and drops what is left, in the queue and in the window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_internal.h"

typedef struct slot {
    void *item;
    int done; /* a worker finished this item; the consumer may take it */
} slot;

typedef struct worker {
    pl_graph *g;
    int index;
    pthread_t thread;
} worker;

struct pl_graph {
    pl_graph_opts o;
    pl_queue *todo; /* source -> workers */

    pthread_mutex_t mu;   /* guards every field below */
    pthread_cond_t room;  /* the source waits for a free window slot */
    pthread_cond_t ready; /* the consumer waits for the next item, the end or an error */
    slot *ring;
    int64_t produced;  /* items made; the next sequence number */
    int64_t delivered; /* items the consumer took */
    int source_ended;  /* produced is final */
    int stopped;       /* canceled, failed or closing: every thread leaves */
    int status;        /* the first error, 0 if none */
    char err[512];     /* its message */
    pl_graph_stats st;
    double consumer_since; /* when the consumer received its last item, 0 if none */

    int source_started;
    pthread_t source;
    int nworkers_started;
    worker *workers;
};

/* Sets the stop flag and wakes everyone. Canceling the queue under the
 * graph mutex (lock order: graph, then queue; the queue never takes the
 * graph's) means no worker takes an item once stopped is visible. */
static void stop_locked(pl_graph *g)
{
    g->stopped = 1;
    pl_queue_cancel(g->todo);
    pl_broadcast(&g->room);
    pl_broadcast(&g->ready);
}

/* Records the first error, stops everything. Any thread. */
static void graph_fail(pl_graph *g, int code, const char *msg)
{
    pl_lock(&g->mu);
    if (!g->status) {
        g->status = code;
        snprintf(g->err, sizeof g->err, "%s", msg);
    }
    stop_locked(g);
    pl_unlock(&g->mu);
}

static void *source_main(void *arg)
{
    pl_graph *g = arg;
    char err[512];
    for (;;) {
        double t0 = ck_now();
        pl_lock(&g->mu);
        while (!g->stopped && g->produced - g->delivered >= g->o.window) {
            pl_wait(&g->room, &g->mu);
        }
        int64_t seq = g->produced;
        int stop = g->stopped;
        double t1 = ck_now();
        g->st.source.wait += t1 - t0;
        pl_unlock(&g->mu);
        if (stop) {
            break;
        }

        void *item = NULL;
        err[0] = '\0';
        int rc = g->o.produce(g->o.user, seq, &item, err, sizeof err);
        pl_lock(&g->mu);
        g->st.source.busy += ck_now() - t1;
        if (rc > 0) {
            g->produced++;
            g->st.source.items++;
        }
        pl_unlock(&g->mu);
        if (rc < 0) {
            graph_fail(g, rc, err[0] ? err : ck_strerror(rc));
            break;
        }
        if (rc == 0) {
            break;
        }
        if (pl_queue_push(g->todo, (pl_item){item, seq}, NULL) != 0) {
            if (g->o.drop) {
                g->o.drop(g->o.user, item); /* stopped meanwhile */
            }
            break;
        }
    }
    pl_lock(&g->mu);
    g->source_ended = 1;
    pl_signal(&g->ready);
    pl_unlock(&g->mu);
    pl_queue_close(g->todo);
    return NULL;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pl_graph *g = w->g;
    char err[512];
    for (;;) {
        pl_item it;
        double waited = 0;
        int rc = pl_queue_pop(g->todo, &it, &waited);
        if (rc <= 0) {
            pl_lock(&g->mu);
            g->st.workers.wait += waited;
            pl_unlock(&g->mu);
            break;
        }
        double t0 = ck_now();
        err[0] = '\0';
        rc = g->o.work(g->o.user, w->index, it.seq, it.ptr, err, sizeof err);
        double t1 = ck_now();
        pl_lock(&g->mu);
        g->st.workers.wait += waited;
        g->st.workers.busy += t1 - t0;
        if (rc == 0) {
            slot *s = &g->ring[it.seq % g->o.window];
            assert(!s->done); /* the window rule keeps slots distinct */
            s->item = it.ptr;
            s->done = 1;
            g->st.workers.items++;
            if (it.seq == g->delivered) {
                pl_signal(&g->ready);
            }
        }
        pl_unlock(&g->mu);
        if (rc != 0) {
            if (g->o.drop) {
                g->o.drop(g->o.user, it.ptr);
            }
            graph_fail(g, rc < 0 ? rc : CK_EINVAL, err[0] ? err : ck_strerror(rc));
            break;
        }
    }
    return NULL;
}

static int graph_alloc(pl_graph **out, const pl_graph_opts *o, char *err, size_t errlen)
{
    pl_graph *g = calloc(1, sizeof *g);
    if (!g) {
        return ck_err(err, errlen, CK_ENOMEM, "graph: out of memory");
    }
    g->o = *o;
    if (g->o.window <= 0) {
        g->o.window = 2 * o->workers;
    }
    if (g->o.refill <= 0 || g->o.refill > g->o.window) {
        g->o.refill = g->o.window - g->o.window / 2;
    }
    g->ring = calloc((size_t)g->o.window, sizeof *g->ring);
    g->workers = calloc((size_t)o->workers, sizeof *g->workers);
    if (!g->ring || !g->workers) {
        free(g->ring);
        free(g->workers);
        free(g);
        return ck_err(err, errlen, CK_ENOMEM, "graph: out of memory");
    }
    int rc = pl_queue_create(&g->todo, g->o.window, err, errlen);
    if (rc) {
        free(g->ring);
        free(g->workers);
        free(g);
        return rc;
    }
    int prc = pthread_mutex_init(&g->mu, NULL);
    if (!prc) {
        prc = pthread_cond_init(&g->room, NULL);
        if (!prc) {
            prc = pthread_cond_init(&g->ready, NULL);
            if (prc) {
                pthread_cond_destroy(&g->room);
            }
        }
        if (prc) {
            pthread_mutex_destroy(&g->mu);
        }
    }
    if (prc) {
        pl_queue_destroy(g->todo, NULL, NULL);
        free(g->ring);
        free(g->workers);
        free(g);
        char why[128];
        return ck_err(err, errlen, CK_ETHREAD, "graph: init: %s",
                      ck_errno_text(prc, why, sizeof why));
    }
    g->st.source.threads = 1;
    g->st.workers.threads = o->workers;
    g->st.consumer.threads = 1;
    *out = g;
    return 0;
}

int pl_graph_start(pl_graph **out, const pl_graph_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    if (!o->produce || !o->work || o->workers < 1 || o->window < 0) {
        return ck_err(err, errlen, CK_EINVAL, "graph: need produce, work, workers >= 1");
    }
    pl_graph *g = NULL;
    int rc = graph_alloc(&g, o, err, errlen);
    if (rc) {
        return rc;
    }
    int prc = pthread_create(&g->source, NULL, source_main, g);
    g->source_started = prc == 0;
    for (int i = 0; i < o->workers && prc == 0; i++) {
        g->workers[i] = (worker){.g = g, .index = i};
        prc = pthread_create(&g->workers[i].thread, NULL, worker_main, &g->workers[i]);
        g->nworkers_started += prc == 0;
    }
    if (prc) {
        pl_graph_close(g, NULL);
        char why[128];
        return ck_err(err, errlen, CK_ETHREAD, "graph: create thread: %s",
                      ck_errno_text(prc, why, sizeof why));
    }
    *out = g;
    return 0;
}

int pl_graph_next(pl_graph *g, void **item, int64_t *seq, char *err, size_t errlen)
{
    double t0 = ck_now();
    pl_lock(&g->mu);
    if (g->consumer_since > 0) {
        g->st.consumer.busy += t0 - g->consumer_since;
    }
    int rc;
    for (;;) {
        slot *s = &g->ring[g->delivered % g->o.window];
        if (g->status) {
            rc = ck_err(err, errlen, g->status, "%s", g->err);
            break;
        }
        if (s->done) {
            *item = s->item;
            *seq = g->delivered;
            s->item = NULL;
            s->done = 0;
            g->delivered++;
            g->st.consumer.items++;
            if (g->o.window - (g->produced - g->delivered) >= g->o.refill) {
                pl_signal(&g->room);
            }
            rc = 1;
            break;
        }
        if (g->source_ended && g->delivered == g->produced) {
            rc = 0;
            break;
        }
        pl_wait(&g->ready, &g->mu);
    }
    double t1 = ck_now();
    g->st.consumer.wait += t1 - t0;
    g->consumer_since = rc == 1 ? t1 : 0;
    pl_unlock(&g->mu);
    return rc;
}

void pl_graph_cancel(pl_graph *g)
{
    graph_fail(g, CK_ECANCELED, "canceled");
}

void pl_graph_get_stats(pl_graph *g, pl_graph_stats *st)
{
    pl_lock(&g->mu);
    *st = g->st;
    pl_unlock(&g->mu);
}

void pl_graph_close(pl_graph *g, pl_graph_stats *st)
{
    if (!g) {
        return;
    }
    pl_lock(&g->mu);
    stop_locked(g);
    if (g->consumer_since > 0) {
        g->st.consumer.busy += ck_now() - g->consumer_since;
        g->consumer_since = 0;
    }
    pl_unlock(&g->mu);

    if (g->source_started) {
        int rc = pthread_join(g->source, NULL);
        assert(rc == 0);
        (void)rc;
    }
    for (int i = 0; i < g->nworkers_started; i++) {
        int rc = pthread_join(g->workers[i].thread, NULL);
        assert(rc == 0);
        (void)rc;
    }
    /* Every thread has left: no lock needed from here. */
    for (int i = 0; i < g->o.window; i++) {
        if (g->ring[i].done && g->o.drop) {
            g->o.drop(g->o.user, g->ring[i].item);
        }
    }
    if (st) {
        *st = g->st;
    }
    pl_queue_destroy(g->todo, g->o.drop, g->o.user);
    pthread_cond_destroy(&g->ready);
    pthread_cond_destroy(&g->room);
    pthread_mutex_destroy(&g->mu);
    free(g->ring);
    free(g->workers);
    free(g);
}
