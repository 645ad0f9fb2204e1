/* kern_par.c: the model's own team of threads for its kernels.
 *
 * Why not OpenBLAS's threads: the convolutions and the dense layers run on
 * kernels of our own (kern_avx512.c), and OpenBLAS only parallelises inside
 * one sgemm call, whose small products (one image's worth) scale poorly to
 * a second thread. Splitting the batch instead gives each thread whole
 * images: no synchronisation inside a layer, and the memory-bound passes
 * (padding, masking, reductions) run in parallel too. The team follows
 * OpenBLAS's thread setting (what nn_train's --threads and nn_bench_run
 * set), capped at the CPUs online when the model was created, so there is
 * one knob.
 *
 * A dispatch is a generation counter under a mutex: workers sleep on a
 * condition variable, not spin, because the machine's cores are shared
 * (with the loader's workers, and with other processes) and a spinning
 * worker steals the core that the thread it waits for needs. The caller
 * starts on the work at once, and the work is shared out in units
 * (nn_units) to whoever comes for them; a worker that wakes only after
 * the caller has finished is not waited for at all: on a busy machine a
 * wake-up can take a scheduler tick (milliseconds), and a step has some
 * thirty dispatches.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn_kern.h"

struct nn_par {
    int nt; /* threads, the caller included */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen; /* dispatches so far */
    int open;     /* the current dispatch still takes workers */
    int active;   /* workers running it */
    int quit;
    nn_par_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    nn_par *p;
    int id;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *a = arg;
    nn_par *p = a->p;
    int id = a->id;
    free(a);
    uint64_t seen = 0; /* the generation at creation: a dispatch may come before we run */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) {
            pthread_cond_wait(&p->go, &p->mu);
        }
        if (p->quit) {
            break;
        }
        seen = p->gen;
        if (!p->open) {
            continue; /* the caller finished without us */
        }
        p->active++;
        nn_par_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, id, p->nt);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) {
            pthread_cond_signal(&p->done);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int nn_par_create(nn_par **out, int threads)
{
    *out = NULL;
    nn_par *p = calloc(1, sizeof *p);
    if (!p) {
        return CK_ENOMEM;
    }
    p->nt = threads < 1 ? 1 : threads;
    p->tid = calloc((size_t)p->nt, sizeof *p->tid);
    if (!p->tid || pthread_mutex_init(&p->mu, NULL)) {
        free(p->tid);
        free(p);
        return CK_ENOMEM;
    }
    if (pthread_cond_init(&p->go, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p->tid);
        free(p);
        return CK_ENOMEM;
    }
    if (pthread_cond_init(&p->done, NULL)) {
        pthread_cond_destroy(&p->go);
        pthread_mutex_destroy(&p->mu);
        free(p->tid);
        free(p);
        return CK_ENOMEM;
    }
    for (int i = 1; i < p->nt; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->p = p;
            a->id = i;
        }
        if (!a || pthread_create(&p->tid[i], NULL, worker, a)) {
            free(a);
            p->nt = i; /* the workers started so far are joined */
            nn_par_destroy(p);
            return CK_ENOMEM;
        }
    }
    *out = p;
    return 0;
}

void nn_par_destroy(nn_par *p)
{
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nt; i++) {
        pthread_join(p->tid[i], NULL);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->mu);
    free(p->tid);
    free(p);
}

int nn_par_threads(const nn_par *p)
{
    return p ? p->nt : 1;
}

void nn_par_run(nn_par *p, nn_par_fn fn, void *ctx)
{
    if (!p || p->nt == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->open = 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->nt);
    pthread_mutex_lock(&p->mu);
    p->open = 0;
    while (p->active > 0) {
        pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

int nn_par_max(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > NN_PAR_MAX ? NN_PAR_MAX : (int)n;
}

void nn_exec_update(nn_exec *ex)
{
    int want = openblas_get_num_threads();
    want = want < 1 ? 1 : want > ex->max_threads ? ex->max_threads : want;
    if (nn_par_threads(ex->par) == want) {
        return;
    }
    nn_par_destroy(ex->par);
    ex->par = NULL;
    if (want > 1 && nn_par_create(&ex->par, want) != 0) {
        ex->par = NULL; /* run on the calling thread */
    }
}

/* ---- whole-arena passes ------------------------------------------------------ */

/* Floats per unit of the elementwise passes: big enough that a unit costs
 * more than taking it, small enough to share 3.5 M parameters. */
enum { ARENA_UNIT = 1 << 16 };

typedef struct arena_job {
    const nn_exec *ex;
    const nn_optim_opts *o;
    int64_t t;
    size_t n;
    float *w, *s1, *s2;
    const float *g;
    nn_units units;
} arena_job;

static void update_part(void *ctx, int t, int nt)
{
    arena_job *j = ctx;
    (void)t, (void)nt;
    for (int u; (u = nn_units_take(&j->units)) >= 0;) {
        size_t lo = (size_t)u * ARENA_UNIT, n = j->n - lo < ARENA_UNIT ? j->n - lo : ARENA_UNIT;
        void (*update)(const nn_optim_opts *, int64_t, size_t, float *, const float *, float *,
                       float *) = j->ex->kern ? j->ex->kern->update : nn_optim_update;
        update(j->o, j->t, n, j->w + lo, j->g + lo, j->s1 ? j->s1 + lo : NULL,
               j->s2 ? j->s2 + lo : NULL);
    }
}

void nn_exec_update_params(const nn_exec *ex, const nn_optim_opts *o, int64_t t, size_t n, float *w,
                           const float *g, float *s1, float *s2)
{
    arena_job j = {.ex = ex, .o = o, .t = t, .n = n, .w = w, .g = g, .s1 = s1, .s2 = s2};
    nn_units_init(&j.units, (int)((n + ARENA_UNIT - 1) / ARENA_UNIT));
    nn_par_run(j.units.n > 1 ? ex->par : NULL, update_part, &j);
}

static void zero_part(void *ctx, int t, int nt)
{
    arena_job *j = ctx;
    (void)t, (void)nt;
    for (int u; (u = nn_units_take(&j->units)) >= 0;) {
        size_t lo = (size_t)u * ARENA_UNIT, n = j->n - lo < ARENA_UNIT ? j->n - lo : ARENA_UNIT;
        memset(j->w + lo, 0, n * sizeof(float));
    }
}

void nn_exec_zero(const nn_exec *ex, float *p, size_t n)
{
    arena_job j = {.ex = ex, .n = n, .w = p};
    nn_units_init(&j.units, (int)((n + ARENA_UNIT - 1) / ARENA_UNIT));
    nn_par_run(j.units.n > 1 ? ex->par : NULL, zero_part, &j);
}
