/* test_pl.c: the stage graph and its queue.
 *
 * Items are numbered; workers sleep a random number of microseconds drawn
 * from ck_rng keyed by the item, so they finish out of order, and the
 * consumer must still see 0, 1, 2... with the same values whatever the
 * number of workers. Every item made is either delivered or dropped: the
 * counters prove no item leaks on any way out (ASan checks the memory).
 * Conditions are awaited by polling the graph's statistics, never by
 * sleeping for a guessed time.
 */
#include <stdatomic.h>
#include <time.h>

#include "ck_test.h"
#include "pl_internal.h"

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

typedef struct titem {
    int64_t seq;
    uint64_t value;
} titem;

typedef struct tctx {
    int64_t n;           /* items the source makes */
    int max_delay_us;    /* work sleeps up to this, drawn per item */
    int source_delay_us; /* produce sleeps this long per item */
    int64_t fail_at;     /* work fails on this seq only; -1: never */
    int64_t fail_from;   /* work fails on every seq >= this; -1: never */
    int fail_step_us;    /* ... after sleeping (seq - fail_from) times this */
    int64_t source_fail; /* produce fails at this seq; -1: never */
    atomic_llong made, dropped;
} tctx;

static void tctx_init(tctx *c, int64_t n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->fail_at = -1;
    c->fail_from = -1;
    c->source_fail = -1;
    atomic_init(&c->made, 0);
    atomic_init(&c->dropped, 0);
}

static uint64_t expected_value(int64_t seq)
{
    return (uint64_t)seq * 0x9E3779B97F4A7C15ull ^ 0xabcdefull;
}

static int t_produce(void *user, int64_t seq, void **item, char *err, size_t errlen)
{
    tctx *c = user;
    if (c->source_delay_us) {
        sleep_us(c->source_delay_us);
    }
    if (seq == c->source_fail) {
        return ck_err(err, errlen, CK_EIO, "source.zip: read: item %lld unreadable",
                      (long long)seq);
    }
    if (seq >= c->n) {
        return 0;
    }
    titem *it = malloc(sizeof *it);
    ck_assert_ptr_nonnull(it);
    it->seq = seq;
    it->value = 0;
    atomic_fetch_add(&c->made, 1);
    *item = it;
    return 1;
}

static int t_work(void *user, int worker, int64_t seq, void *item, char *err, size_t errlen)
{
    tctx *c = user;
    titem *it = item;
    (void)worker;
    ck_assert_int_eq(it->seq, seq);
    if (c->max_delay_us > 0) {
        ck_rng r;
        ck_rng_init(&r, 7, 0, (uint64_t)seq, CK_RNG_TEST);
        sleep_us((long)ck_rng_below(&r, (uint32_t)c->max_delay_us + 1));
    }
    if (c->fail_from >= 0 && seq >= c->fail_from) {
        sleep_us((long)(seq - c->fail_from) * c->fail_step_us);
        return ck_err(err, errlen, CK_EDECODE, "item %lld: injected failure", (long long)seq);
    }
    if (seq == c->fail_at) {
        return ck_err(err, errlen, CK_EDECODE, "item %lld: injected failure", (long long)seq);
    }
    it->value = expected_value(seq);
    return 0;
}

static void t_drop(void *user, void *item)
{
    tctx *c = user;
    atomic_fetch_add(&c->dropped, 1);
    free(item);
}

static pl_graph *start_refill(tctx *c, int workers, int window, int refill)
{
    pl_graph_opts o = {.produce = t_produce,
                       .work = t_work,
                       .drop = t_drop,
                       .user = c,
                       .workers = workers,
                       .window = window,
                       .refill = refill};
    pl_graph *g;
    char err[256];
    int rc = pl_graph_start(&g, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "start: %s", err);
    return g;
}

static pl_graph *start(tctx *c, int workers, int window)
{
    return start_refill(c, workers, window, 0);
}

/* Takes every item, checks order and values; returns the count. */
static int64_t consume_all(pl_graph *g, uint64_t *values, int64_t cap)
{
    int64_t n = 0;
    void *item;
    int64_t seq;
    char err[256];
    int rc;
    while ((rc = pl_graph_next(g, &item, &seq, err, sizeof err)) == 1) {
        titem *it = item;
        ck_assert_int_eq(seq, n);
        ck_assert_int_eq(it->seq, n);
        ck_assert_uint_eq(it->value, expected_value(n));
        ck_assert_int_lt(n, cap);
        values[n++] = it->value;
        free(it);
    }
    ck_assert_msg(rc == 0, "next: %d %s", rc, err);
    return n;
}

START_TEST(ordered_delivery_any_worker_count)
{
    enum { N = 300 };
    static uint64_t out[3][N];
    const int workers[3] = {1, 2, 4};
    const int windows[3] = {0, 3, 8};
    for (int w = 0; w < 3; w++) {
        for (int win = 0; win < 3; win++) {
            tctx c;
            tctx_init(&c, N);
            c.max_delay_us = 200;
            pl_graph *g = start(&c, workers[w], windows[win]);
            ck_assert_int_eq(consume_all(g, out[w], N), N);
            pl_graph_close(g, NULL);
            ck_assert_int_eq(atomic_load(&c.made), N);
            ck_assert_int_eq(atomic_load(&c.dropped), 0);
        }
    }
    ck_assert(memcmp(out[0], out[1], sizeof out[0]) == 0);
    ck_assert(memcmp(out[0], out[2], sizeof out[0]) == 0);
}
END_TEST

START_TEST(empty_input_ends_at_once)
{
    tctx c;
    tctx_init(&c, 0);
    pl_graph *g = start(&c, 2, 0);
    uint64_t none[1];
    ck_assert_int_eq(consume_all(g, none, 1), 0);
    pl_graph_close(g, NULL);
}
END_TEST

START_TEST(worker_error_reaches_consumer)
{
    tctx c;
    tctx_init(&c, 1000);
    c.max_delay_us = 50;
    c.fail_at = 37; /* later items succeed, and may finish first */
    pl_graph *g = start(&c, 4, 0);
    void *item;
    int64_t seq, got = 0;
    char err[256];
    int rc;
    while ((rc = pl_graph_next(g, &item, &seq, err, sizeof err)) == 1) {
        ck_assert_int_eq(seq, got);
        got++;
        free(item);
    }
    ck_assert_int_eq(rc, CK_EDECODE);
    ck_assert_int_le(got, 37);
    ck_assert_str_eq(err, "item 37: injected failure");
    /* The error stays. */
    ck_assert_int_eq(pl_graph_next(g, &item, &seq, err, sizeof err), CK_EDECODE);
    ck_assert_str_eq(err, "item 37: injected failure");
    pl_graph_close(g, NULL);
    ck_assert_int_eq(atomic_load(&c.made), got + atomic_load(&c.dropped));
}
END_TEST

START_TEST(first_error_wins)
{
    tctx c;
    tctx_init(&c, 100000);
    c.fail_from = 20;      /* every item from 20 on fails, on every worker, */
    c.fail_step_us = 2000; /* one after the other while the consumer looks */
    pl_graph *g = start(&c, 4, 16);
    void *item;
    int64_t seq, got = 0;
    char err[256], again[256];
    int rc;
    while ((rc = pl_graph_next(g, &item, &seq, err, sizeof err)) == 1) {
        got++;
        free(item);
    }
    ck_assert_int_eq(rc, CK_EDECODE);
    long long bad = -1;
    ck_assert_int_eq(sscanf(err, "item %lld: injected failure", &bad), 1);
    ck_assert_int_ge(bad, 20);
    /* Later failures do not overwrite it. */
    for (int i = 0; i < 100; i++) {
        sleep_us(100);
        ck_assert_int_eq(pl_graph_next(g, &item, &seq, again, sizeof again), CK_EDECODE);
        ck_assert_str_eq(again, err);
    }
    pl_graph_close(g, NULL);
    ck_assert_int_eq(atomic_load(&c.made), got + atomic_load(&c.dropped));
}
END_TEST

START_TEST(source_error_reaches_consumer)
{
    tctx c;
    tctx_init(&c, 1000);
    c.source_fail = 50;
    pl_graph *g = start(&c, 2, 0);
    void *item;
    int64_t seq, got = 0;
    char err[256];
    int rc;
    while ((rc = pl_graph_next(g, &item, &seq, err, sizeof err)) == 1) {
        got++;
        free(item);
    }
    ck_assert_int_eq(rc, CK_EIO);
    ck_assert_str_eq(err, "source.zip: read: item 50 unreadable");
    ck_assert_int_le(got, 50);
    pl_graph_close(g, NULL);
    ck_assert_int_eq(atomic_load(&c.made), got + atomic_load(&c.dropped));
}
END_TEST

START_TEST(close_while_full)
{
    enum { WINDOW = 6 };
    tctx c;
    tctx_init(&c, 1000000);
    /* Refilled slot by slot: with the default (half the window) a source
     * that blocked at produced - delivered = WINDOW while the consumer was
     * still taking its three stays blocked one item short of the full
     * window, and the wait below would never end. */
    pl_graph *g = start_refill(&c, 2, WINDOW, 1);
    void *item;
    int64_t seq;
    char err[256];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pl_graph_next(g, &item, &seq, err, sizeof err), 1);
        free(item);
    }
    /* Wait until the window is full: WINDOW items made, worked and waiting
     * for the consumer, and the source blocked. */
    pl_graph_stats st;
    for (;;) {
        pl_graph_get_stats(g, &st);
        if (st.workers.items == 3 + WINDOW) {
            break;
        }
        sleep_us(100);
    }
    ck_assert_int_eq(st.source.items, 3 + WINDOW);
    pl_graph_close(g, &st);
    ck_assert_int_eq(st.source.items, 3 + WINDOW); /* it never overran the window */
    ck_assert_int_eq(atomic_load(&c.made), 3 + WINDOW);
    ck_assert_int_eq(atomic_load(&c.dropped), WINDOW);
}
END_TEST

START_TEST(close_while_empty)
{
    /* The source is slow: workers wait on an empty queue, nothing is ready. */
    tctx c;
    tctx_init(&c, 1000000);
    c.source_delay_us = 20000;
    pl_graph *g = start(&c, 4, 0);
    pl_graph_close(g, NULL);
    ck_assert_int_eq(atomic_load(&c.made), atomic_load(&c.dropped));

    /* Closed right after the first item arrived. */
    tctx_init(&c, 1000000);
    c.source_delay_us = 2000;
    g = start(&c, 4, 0);
    void *item;
    int64_t seq;
    char err[256];
    ck_assert_int_eq(pl_graph_next(g, &item, &seq, err, sizeof err), 1);
    free(item);
    pl_graph_close(g, NULL);
    ck_assert_int_eq(atomic_load(&c.made), 1 + atomic_load(&c.dropped));
}
END_TEST

typedef struct canceler {
    pl_graph *g;
    long delay_us;
} canceler;

static void *cancel_main(void *arg)
{
    canceler *k = arg;
    sleep_us(k->delay_us);
    pl_graph_cancel(k->g);
    return NULL;
}

START_TEST(cancel_from_another_thread)
{
    /* Whether the consumer is waiting or not when the cancel lands, it gets
     * CK_ECANCELED and every thread ends. */
    tctx c;
    tctx_init(&c, 1000000);
    c.source_delay_us = 500;
    c.max_delay_us = 200;
    pl_graph *g = start(&c, 2, 0);
    canceler k = {g, 5000};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_main, &k), 0);
    void *item;
    int64_t seq, got = 0;
    char err[256];
    int rc;
    while ((rc = pl_graph_next(g, &item, &seq, err, sizeof err)) == 1) {
        got++;
        free(item);
    }
    ck_assert_int_eq(rc, CK_ECANCELED);
    ck_assert_str_eq(err, "canceled");
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    pl_graph_close(g, NULL);
    ck_assert_int_eq(atomic_load(&c.made), got + atomic_load(&c.dropped));
}
END_TEST

START_TEST(stats_add_up)
{
    enum { N = 200, DELAY = 100, CONSUMER_DELAY = 50 };
    tctx c;
    tctx_init(&c, N);
    c.max_delay_us = DELAY;
    double t0 = ck_now();
    pl_graph *g = start(&c, 2, 0);
    void *item;
    int64_t seq;
    char err[256];
    while (pl_graph_next(g, &item, &seq, err, sizeof err) == 1) {
        sleep_us(CONSUMER_DELAY);
        free(item);
    }
    pl_graph_stats st;
    pl_graph_close(g, &st);
    double elapsed = ck_now() - t0;

    ck_assert_int_eq(st.source.items, N);
    ck_assert_int_eq(st.workers.items, N);
    ck_assert_int_eq(st.consumer.items, N);
    ck_assert_int_eq(st.source.threads, 1);
    ck_assert_int_eq(st.workers.threads, 2);
    /* Sleeps last at least what they ask for. */
    double min_work = 0;
    for (int64_t i = 0; i < N; i++) {
        ck_rng r;
        ck_rng_init(&r, 7, 0, (uint64_t)i, CK_RNG_TEST);
        min_work += ck_rng_below(&r, DELAY + 1) * 1e-6;
    }
    ck_assert_double_ge(st.workers.busy, min_work);
    ck_assert_double_ge(st.consumer.busy, N * CONSUMER_DELAY * 1e-6);
    /* No stage accounts for more time than its threads lived. */
    ck_assert_double_le(st.source.busy + st.source.wait, elapsed);
    ck_assert_double_le(st.workers.busy + st.workers.wait, 2 * elapsed);
    ck_assert_double_le(st.consumer.busy + st.consumer.wait, elapsed);
    ck_assert_double_ge(st.consumer.wait, 0);
}
END_TEST

/* ---- the queue ---- */

START_TEST(queue_fifo_close_drains)
{
    pl_queue *q;
    char err[128];
    ck_assert_int_eq(pl_queue_create(&q, 4, err, sizeof err), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pl_queue_push(q, (pl_item){NULL, i}, NULL), 0);
    }
    ck_assert_int_eq(pl_queue_count(q), 4);
    pl_item it;
    ck_assert_int_eq(pl_queue_pop(q, &it, NULL), 1);
    ck_assert_int_eq(it.seq, 0);
    ck_assert_int_eq(pl_queue_push(q, (pl_item){NULL, 4}, NULL), 0);
    pl_queue_close(q);
    ck_assert_int_eq(pl_queue_push(q, (pl_item){NULL, 5}, NULL), CK_ECANCELED);
    for (int i = 1; i <= 4; i++) {
        ck_assert_int_eq(pl_queue_pop(q, &it, NULL), 1);
        ck_assert_int_eq(it.seq, i);
    }
    ck_assert_int_eq(pl_queue_pop(q, &it, NULL), 0);
    pl_queue_destroy(q, NULL, NULL);
    ck_assert_int_eq(pl_queue_create(&q, 0, err, sizeof err), CK_EINVAL);
}
END_TEST

typedef struct qthread {
    pl_queue *q;
    int push; /* 1: push 'count' items, 0: pop until the end */
    int64_t count, sum;
    int rc;
} qthread;

static void *queue_main(void *arg)
{
    qthread *t = arg;
    if (t->push) {
        for (int64_t i = 0; i < t->count; i++) {
            t->rc = pl_queue_push(t->q, (pl_item){NULL, i}, NULL);
            if (t->rc) {
                return NULL;
            }
            t->sum += i;
        }
        return NULL;
    }
    pl_item it;
    while ((t->rc = pl_queue_pop(t->q, &it, NULL)) == 1) {
        t->count++;
        t->sum += it.seq;
    }
    return NULL;
}

START_TEST(queue_many_producers_consumers)
{
    enum { P = 4, C = 3, PER = 5000 };
    pl_queue *q;
    char err[128];
    ck_assert_int_eq(pl_queue_create(&q, 8, err, sizeof err), 0);
    qthread t[P + C];
    pthread_t th[P + C];
    for (int i = 0; i < P + C; i++) {
        t[i] = (qthread){.q = q, .push = i < P, .count = i < P ? PER : 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, queue_main, &t[i]), 0);
    }
    for (int i = 0; i < P; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(t[i].rc, 0);
    }
    pl_queue_close(q);
    int64_t count = 0, sum = 0;
    for (int i = P; i < P + C; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(t[i].rc, 0);
        count += t[i].count;
        sum += t[i].sum;
    }
    ck_assert_int_eq(count, (int64_t)P * PER);
    ck_assert_int_eq(sum, (int64_t)P * PER * (PER - 1) / 2);
    pl_queue_destroy(q, NULL, NULL);
}
END_TEST

START_TEST(queue_cancel_wakes_blocked)
{
    char err[128];
    /* A consumer blocked on an empty queue, a producer on a full one. */
    pl_queue *empty, *full;
    ck_assert_int_eq(pl_queue_create(&empty, 2, err, sizeof err), 0);
    ck_assert_int_eq(pl_queue_create(&full, 1, err, sizeof err), 0);
    ck_assert_int_eq(pl_queue_push(full, (pl_item){NULL, 0}, NULL), 0);
    qthread pop = {.q = empty, .push = 0}, push = {.q = full, .push = 1, .count = 2};
    pthread_t a, b;
    ck_assert_int_eq(pthread_create(&a, NULL, queue_main, &pop), 0);
    ck_assert_int_eq(pthread_create(&b, NULL, queue_main, &push), 0);
    pl_queue_cancel(empty);
    pl_queue_cancel(full);
    ck_assert_int_eq(pthread_join(a, NULL), 0);
    ck_assert_int_eq(pthread_join(b, NULL), 0);
    ck_assert_int_eq(pop.rc, CK_ECANCELED);
    ck_assert_int_eq(push.rc, CK_ECANCELED);
    /* Canceled: pops fail even with an item left; destroy sees it. */
    pl_item it;
    ck_assert_int_eq(pl_queue_pop(full, &it, NULL), CK_ECANCELED);
    ck_assert_int_eq(pl_queue_count(full), 1);
    pl_queue_destroy(empty, NULL, NULL);
    pl_queue_destroy(full, NULL, NULL);
}
END_TEST

static Suite *pl_suite(void)
{
    Suite *s = suite_create("pl");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ordered_delivery_any_worker_count);
    tcase_add_test(tc, empty_input_ends_at_once);
    tcase_add_test(tc, worker_error_reaches_consumer);
    tcase_add_test(tc, first_error_wins);
    tcase_add_test(tc, source_error_reaches_consumer);
    tcase_add_test(tc, close_while_full);
    tcase_add_test(tc, close_while_empty);
    tcase_add_test(tc, cancel_from_another_thread);
    tcase_add_test(tc, stats_add_up);
    suite_add_tcase(s, tc);
    TCase *tq = tcase_create("queue");
    tcase_set_timeout(tq, 120);
    tcase_add_test(tq, queue_fifo_close_drains);
    tcase_add_test(tq, queue_many_producers_consumers);
    tcase_add_test(tq, queue_cancel_wakes_blocked);
    suite_add_tcase(s, tq);
    return s;
}

int main(void)
{
    return ck_test_run(pl_suite());
}
