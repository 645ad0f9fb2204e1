/* queue.c: the bounded MPMC queue (see pl_internal.h).
 *
 * A ring of capacity slots under one mutex, with one condition per reason
 * to wait: not_full for producers, not_empty for consumers. Waits sit in
 * while loops (spurious wake-ups, and another consumer may take the item
 * first). Closing and canceling broadcast both conditions, so no thread
 * stays asleep on a queue that will never change again. The bound is what
 * keeps memory bounded: a fast producer waits instead of piling up items.
 */
#include <stdlib.h>
#include <string.h>

#include "pl_internal.h"

struct pl_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    pl_item *ring;
    int capacity;
    int head;  /* index of the oldest item */
    int count; /* items in the ring */
    int closed;
    int canceled;
};

int pl_queue_create(pl_queue **out, int capacity, char *err, size_t errlen)
{
    *out = NULL;
    if (capacity < 1) {
        return ck_err(err, errlen, CK_EINVAL, "queue: capacity %d < 1", capacity);
    }
    pl_queue *q = calloc(1, sizeof *q);
    pl_item *ring = calloc((size_t)capacity, sizeof *ring);
    if (!q || !ring) {
        free(q);
        free(ring);
        return ck_err(err, errlen, CK_ENOMEM, "queue: out of memory");
    }
    int rc = pthread_mutex_init(&q->mu, NULL);
    if (rc) {
        goto fail;
    }
    rc = pthread_cond_init(&q->not_full, NULL);
    if (rc) {
        pthread_mutex_destroy(&q->mu);
        goto fail;
    }
    rc = pthread_cond_init(&q->not_empty, NULL);
    if (rc) {
        pthread_cond_destroy(&q->not_full);
        pthread_mutex_destroy(&q->mu);
        goto fail;
    }
    q->ring = ring;
    q->capacity = capacity;
    *out = q;
    return 0;
fail:
    free(ring);
    free(q);
    char why[128];
    return ck_err(err, errlen, CK_ETHREAD, "queue: init: %s", ck_errno_text(rc, why, sizeof why));
}

void pl_queue_destroy(pl_queue *q, pl_drop_fn drop, void *user)
{
    if (!q) {
        return;
    }
    for (int i = 0; i < q->count; i++) {
        if (drop) {
            drop(user, q->ring[(q->head + i) % q->capacity].ptr);
        }
    }
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    free(q);
}

int pl_queue_push(pl_queue *q, pl_item it, double *waited)
{
    double t0 = 0;
    pl_lock(&q->mu);
    while (!q->closed && !q->canceled && q->count == q->capacity) {
        if (t0 == 0) {
            t0 = ck_now();
        }
        pl_wait(&q->not_full, &q->mu);
    }
    int rc = CK_ECANCELED;
    if (!q->closed && !q->canceled) {
        q->ring[(q->head + q->count) % q->capacity] = it;
        q->count++;
        pl_signal(&q->not_empty);
        rc = 0;
    }
    pl_unlock(&q->mu);
    if (t0 != 0 && waited) {
        *waited += ck_now() - t0;
    }
    return rc;
}

int pl_queue_pop(pl_queue *q, pl_item *it, double *waited)
{
    double t0 = 0;
    pl_lock(&q->mu);
    while (!q->closed && !q->canceled && q->count == 0) {
        if (t0 == 0) {
            t0 = ck_now();
        }
        pl_wait(&q->not_empty, &q->mu);
    }
    int rc;
    if (q->canceled) {
        rc = CK_ECANCELED;
    } else if (q->count == 0) {
        rc = 0; /* closed and drained */
    } else {
        *it = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
        pl_signal(&q->not_full);
        rc = 1;
    }
    pl_unlock(&q->mu);
    if (t0 != 0 && waited) {
        *waited += ck_now() - t0;
    }
    return rc;
}

void pl_queue_close(pl_queue *q)
{
    pl_lock(&q->mu);
    q->closed = 1;
    pl_broadcast(&q->not_full);
    pl_broadcast(&q->not_empty);
    pl_unlock(&q->mu);
}

void pl_queue_cancel(pl_queue *q)
{
    pl_lock(&q->mu);
    q->canceled = 1;
    pl_broadcast(&q->not_full);
    pl_broadcast(&q->not_empty);
    pl_unlock(&q->mu);
}

int pl_queue_count(pl_queue *q)
{
    pl_lock(&q->mu);
    int n = q->count;
    pl_unlock(&q->mu);
    return n;
}
