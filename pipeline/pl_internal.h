/* pl_internal.h: what pipeline/'s files share and nothing outside uses —
 * pthread helpers and the bounded MPMC queue under the stage graph (and the
 * training loader's prefetch queue).
 *
 * Lock, unlock, wait and signal fail only on a programming error (an
 * uninitialised mutex, one not owned by the caller), so their return code is
 * an assertion; the calls that can fail at run time (init, create) return
 * their code to the caller, who reports CK_ETHREAD.
 */
#ifndef PL_INTERNAL_H
#define PL_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pl.h"

static inline void pl_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    assert(rc == 0);
    (void)rc;
}

static inline void pl_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    assert(rc == 0);
    (void)rc;
}

static inline void pl_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int rc = pthread_cond_wait(c, m);
    assert(rc == 0);
    (void)rc;
}

static inline void pl_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    assert(rc == 0);
    (void)rc;
}

static inline void pl_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    assert(rc == 0);
    (void)rc;
}

/* ---- bounded MPMC queue ------------------------------------------------ */

/* What travels through a queue: an opaque pointer and its sequence number. */
typedef struct pl_item {
    void *ptr;
    int64_t seq;
} pl_item;

/* A FIFO of at most capacity items, any number of producers and consumers.
 * All functions but create and destroy are thread-safe. */
typedef struct pl_queue pl_queue;

/* Returns 0, CK_EINVAL (capacity < 1), CK_ENOMEM or CK_ETHREAD. */
int pl_queue_create(pl_queue **out, int capacity, char *err, size_t errlen);

/* Frees q after every thread left it; items still inside are given to drop
 * (when not NULL). NULL is a no-op. */
void pl_queue_destroy(pl_queue *q, pl_drop_fn drop, void *user);

/* Appends it, waiting while the queue is full. Returns 0, or CK_ECANCELED
 * when the queue is closed or canceled (the item was not taken: the caller
 * still owns it). Adds the seconds spent waiting to *waited (may be NULL). */
int pl_queue_push(pl_queue *q, pl_item it, double *waited);

/* Takes the oldest item, waiting while the queue is empty. Returns 1 and
 * sets *it; 0 when the queue is closed and empty (the end); CK_ECANCELED
 * when it is canceled, even with items left. Adds waiting seconds to
 * *waited (may be NULL). */
int pl_queue_pop(pl_queue *q, pl_item *it, double *waited);

/* End of input: later pushes fail, pops drain what is left and then return
 * 0. Wakes every waiter. Idempotent. */
void pl_queue_close(pl_queue *q);

/* Stop now: pushes and pops fail at once with CK_ECANCELED; items stay in
 * the queue for pl_queue_destroy. Wakes every waiter. Idempotent. */
void pl_queue_cancel(pl_queue *q);

/* Items in the queue now (a snapshot). */
int pl_queue_count(pl_queue *q);

#endif
