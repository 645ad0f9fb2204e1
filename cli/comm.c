/* comm.c: the trainer's nn_comm on dist/'s processes, and the check that
 * every process reads the same catalog.
 *
 * dist/ knows nothing of the trainer and the trainer nothing of MPI; this
 * file joins the two. Alone (no mpirun, or one process) there is no comm
 * at all, and nn_train runs as it always has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist.h"

static int c_send(void *ctx, const float *buf, size_t n, int to, int tag, void **req, char *err,
                  size_t errlen)
{
    (void)ctx;
    return dist_send(buf, n, to, tag, req, err, errlen);
}

static int c_recv(void *ctx, float *buf, size_t n, int from, int tag, void **req, char *err,
                  size_t errlen)
{
    (void)ctx;
    return dist_recv(buf, n, from, tag, req, err, errlen);
}

static int c_bcast(void *ctx, float *buf, size_t n, int root, void **req, char *err, size_t errlen)
{
    (void)ctx;
    return dist_bcast(buf, n, root, req, err, errlen);
}

static int c_wait(void *ctx, void *req, char *err, size_t errlen)
{
    (void)ctx;
    return dist_wait(req, err, errlen);
}

static int c_sum(void *ctx, double *v, int n, char *err, size_t errlen)
{
    (void)ctx;
    return dist_sum(v, n, err, errlen);
}

static int c_share(void *ctx, void *buf, size_t n, char *err, size_t errlen)
{
    (void)ctx;
    return dist_share(buf, n, err, errlen);
}

const nn_comm *cli_comm(void)
{
    static nn_comm c;
    if (dist_size() < 2) {
        return NULL;
    }
    c = (nn_comm){.rank = dist_rank(),
                  .size = dist_size(),
                  .send = c_send,
                  .recv = c_recv,
                  .bcast = c_bcast,
                  .wait = c_wait,
                  .sum = c_sum,
                  .share = c_share};
    return &c;
}

static int together;

void cli_comm_set_together(void)
{
    together = 1;
}

int cli_comm_together(void)
{
    return together && !dist_failed();
}

enum { LINE = 512 };

int cli_comm_agree(int rc, const char *path, const char *hash, char *err, size_t errlen)
{
    const int P = dist_size();
    if (P < 2) {
        return rc;
    }
    char mine[LINE], *all = malloc((size_t)P * LINE);
    if (!all) {
        return ck_err(err, errlen, CK_ENOMEM, "train: out of memory");
    }
    /* The kernel tier too: tiers round differently, so processes on CPUs
     * of different tiers could not keep the same weights. */
    ck_isa isa = CK_ISA_GENERIC;
    char e2[128];
    (void)ck_isa_get(&isa, e2, sizeof e2);
    snprintf(mine, sizeof mine, "%c %s %s %s", rc ? '!' : '=', hash && hash[0] ? hash : "-",
             ck_isa_name(isa), dist_host());
    int rc2 = dist_gather(mine, LINE, all, err, errlen);
    if (rc2) { /* nothing gathered to read */
        free(all);
        return rc ? rc : rc2;
    }
    char h0[128] = "", isa0[32] = "", host0[256] = "";
    sscanf(all + 2, "%127s %31s %255s", h0, isa0, host0);
    for (int p = 0; rc == 0 && p < P; p++) {
        const char *line = all + (size_t)p * LINE;
        char h[128] = "", t[32] = "", host[256] = "";
        sscanf(line + 2, "%127s %31s %255s", h, t, host);
        if (line[0] == '!') {
            rc = ck_err(err, errlen, CK_ECANCELED,
                        "train: process %d on %s failed to start (its own message says why)", p,
                        host);
        } else if (strcmp(h, h0) != 0) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: process %d on %s reads a catalog with dataset hash %s, process 0 on "
                        "%s one with %s: every process must read the same catalog (copy it, or "
                        "put it on a shared file system)",
                        path, p, host, h, host0, h0);
        } else if (strcmp(t, isa0) != 0) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "train: process %d on %s runs the %s kernel tier, process 0 on %s the %s "
                        "one, and tiers round differently: set CONVKIT_ISA to the lower one for "
                        "every process (mpirun -x CONVKIT_ISA=...)",
                        p, host, t, host0, isa0);
        }
    }
    free(all);
    return rc;
}
