/* bench.c: samples per second of the augment path alone, as the loader
 * would drive it: files already in memory (as BLOBs from dataset.db), one
 * pipe and one output slot per thread, no allocation in the loop.
 *
 * `convkit bench augment` calls aug_bench_run for 1 and 2 threads, with the
 * policy and without (params.policy NULL), and prints samples_per_s.
 * Threads start together on a flag so their set-up is not timed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aug_internal.h"

#define MAX_BENCH_FILE ((size_t)64 << 20)

typedef struct bench_shared {
    aug_src *srcs;
    int n, threads, passes;
    const aug_params *p;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go, cancel;
} bench_shared;

typedef struct bench_worker {
    bench_shared *sh;
    int index;
    aug_pipe *pipe;
    void *out;
    long done, errors;
} bench_worker;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *bench_thread(void *arg)
{
    bench_worker *w = arg;
    bench_shared *sh = w->sh;
    pthread_mutex_lock(&sh->mu);
    while (!sh->go) {
        pthread_cond_wait(&sh->cv, &sh->mu);
    }
    int cancel = sh->cancel;
    pthread_mutex_unlock(&sh->mu);
    if (cancel) {
        return NULL;
    }
    for (int pass = 0; pass < sh->passes; pass++) {
        for (int i = w->index; i < sh->n; i += sh->threads) {
            int rc = aug_pipe_run(w->pipe, &sh->srcs[i], 0, (uint64_t)pass, (uint64_t)i, w->out,
                                  NULL, 0);
            w->done += rc == 0;
            w->errors += rc != 0;
        }
    }
    return NULL;
}

int aug_bench_run(const char *const *paths, int npaths, const aug_params *p, int threads,
                  int passes, aug_bench_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (npaths < 1 || threads < 1 || threads > 256 || passes < 1) {
        return ck_err(err, errlen, CK_EINVAL, "bench: need files, 1..256 threads and passes >= 1");
    }
    bench_shared sh = {.n = npaths, .threads = threads, .passes = passes, .p = p};
    bench_worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    sh.srcs = calloc((size_t)npaths, sizeof *sh.srcs);
    if (!ws || !tids || !sh.srcs) {
        free(ws);
        free(tids);
        free(sh.srcs);
        return ck_err(err, errlen, CK_ENOMEM, "bench: out of memory");
    }
    int rc = 0, nread = 0, nmade = 0, started = 0;
    for (; rc == 0 && nread < npaths; nread++) {
        void *data;
        size_t size;
        rc = aug_read_file(paths[nread], MAX_BENCH_FILE, &data, &size, err, errlen);
        if (rc == 0) {
            sh.srcs[nread] = (aug_src){.data = data, .size = size, .name = paths[nread]};
        }
    }
    for (; rc == 0 && nmade < threads; nmade++) {
        ws[nmade] = (bench_worker){.sh = &sh, .index = nmade};
        rc = aug_pipe_create(&ws[nmade].pipe, p, err, errlen);
        if (rc == 0 && !(ws[nmade].out = malloc(aug_params_sample_bytes(p)))) {
            rc = ck_err(err, errlen, CK_ENOMEM, "bench: out of memory");
        }
    }
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    for (; rc == 0 && started < threads; started++) {
        int e = pthread_create(&tids[started], NULL, bench_thread, &ws[started]);
        if (e) {
            rc = ck_err(err, errlen, CK_ETHREAD, "bench: pthread_create failed (%d)", e);
            break;
        }
    }
    pthread_mutex_lock(&sh.mu);
    sh.go = 1;
    sh.cancel = rc != 0;
    pthread_cond_broadcast(&sh.cv);
    pthread_mutex_unlock(&sh.mu);
    double t0 = ck_now(), c0 = cpu_now();
    for (int i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }
    if (rc == 0) {
        res->seconds = ck_now() - t0;
        res->cpu_seconds = cpu_now() - c0;
        res->threads = threads;
        for (int i = 0; i < threads; i++) {
            res->samples += ws[i].done;
            res->decode_errors += ws[i].errors;
        }
        res->samples_per_s = res->seconds > 0 ? (double)res->samples / res->seconds : 0;
        res->samples_per_cpu_s = res->cpu_seconds > 0 ? (double)res->samples / res->cpu_seconds : 0;
    }
    pthread_cond_destroy(&sh.cv);
    pthread_mutex_destroy(&sh.mu);
    for (int i = 0; i < nmade; i++) {
        aug_pipe_destroy(ws[i].pipe);
        free(ws[i].out);
    }
    for (int i = 0; i < nread; i++) {
        free((void *)sh.srcs[i].data);
    }
    free(sh.srcs);
    free(ws);
    free(tids);
    return rc;
}
