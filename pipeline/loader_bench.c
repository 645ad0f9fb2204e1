/* loader_bench.c: `convkit bench loader`, one configuration per call.
 *
 * What a trainer would see if its step took no time: images/s of whole
 * epochs as the consumer receives them, from the begin of an epoch to its
 * last batch. A few batches of epoch 0 run first, untimed, so that the
 * catalog's pages are cached and every pipe has decoded once; the timed
 * epochs start with nothing prefetched (as torchvision's peer does with its
 * warm-up epoch). CPU time is the whole process's, so images per CPU-second
 * tells the cost of an image even when other work shares the cores.
 */
#include <string.h>
#include <time.h>

#include "pl_internal.h"

enum { WARMUP_BATCHES = 4 };

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int pl_loader_bench_run(const pl_loader_opts *o, int epochs, pl_loader_bench_result *res, char *err,
                        size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (epochs < 1) {
        return ck_err(err, errlen, CK_EINVAL, "bench loader: epochs %d < 1", epochs);
    }
    pl_loader *l;
    int rc = pl_loader_open(&l, o, err, errlen);
    if (rc) {
        return rc;
    }
    pl_batch b;
    rc = pl_loader_begin(l, 0, err, errlen);
    for (int i = 0; rc == 0 && i < WARMUP_BATCHES; i++) {
        rc = pl_loader_next(l, &b, err, errlen);
        rc = rc > 0 ? 0 : rc < 0 ? rc : 1;
    }
    rc = rc > 0 ? 0 : rc;
    double t0 = ck_now(), c0 = cpu_now();
    for (int e = 1; rc == 0 && e <= epochs; e++) {
        rc = pl_loader_begin(l, e, err, errlen);
        while (rc == 0 && (rc = pl_loader_next(l, &b, err, errlen)) == 1) {
            res->batches++;
            res->images += b.n;
            rc = 0;
        }
        if (rc == 0) {
            pl_loader_get_stats(l, &res->last);
            res->stall += res->last.stall;
        }
    }
    if (rc == 0) {
        res->seconds = ck_now() - t0;
        res->cpu_seconds = cpu_now() - c0;
        res->workers = res->last.workers.threads; /* PL_LOADER_AUTO resolved */
        res->epochs = epochs;
        if (res->seconds > 0) {
            res->images_per_s = (double)res->images / res->seconds;
            res->batches_per_s = (double)res->batches / res->seconds;
        }
        if (res->cpu_seconds > 0) {
            res->images_per_cpu_s = (double)res->images / res->cpu_seconds;
        }
    }
    pl_loader_close(l);
    return rc;
}
