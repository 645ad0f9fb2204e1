/* dist.c: the job's processes on Open MPI (dist.h has the contract).
 *
 * Requests are MPI_Requests on the heap, so the trainer keeps opaque
 * pointers. Messages larger than MPI's int count are not needed: a bucket
 * is one layer's gradient, and dist_share cuts its bytes in pieces of
 * 1 GiB. Errors return (MPI_ERRORS_RETURN) where MPI can report them; a
 * peer that dies is noticed by mpirun, which ends the job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ck.h"
#include "dist.h"

#ifdef CK_HAVE_MPI
#include <mpi.h>
#endif

static int started, rank, size = 1, failed;
static char host[256];

static int launched_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

#ifdef CK_HAVE_MPI

static int mpi_err(int code, const char *what, char *err, size_t errlen)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    failed = 1;
    MPI_Error_string(code, msg, &len);
    return ck_err(err, errlen, CK_EIO, "process %d on %s: MPI %s: %s", rank, host, what, msg);
}

int dist_start(int *argc, char ***argv, char *err, size_t errlen)
{
    if (started || !launched_by_mpirun()) {
        gethostname(host, sizeof host - 1);
        return 0;
    }
    int provided = 0, len = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        return ck_err(err, errlen, CK_EINVAL, "MPI did not start");
    }
    started = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    return 0;
}

void dist_stop(void)
{
    if (started) {
        MPI_Finalize();
        started = 0;
    }
}

void dist_abort(int code)
{
    if (started) {
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    exit(code);
}

static MPI_Request *req_new(void **req, char *err, size_t errlen, int *rc)
{
    MPI_Request *r = malloc(sizeof *r);
    *req = r;
    *rc = r ? 0 : ck_err(err, errlen, CK_ENOMEM, "out of memory");
    return r;
}

/* A request that was never posted: nothing to wait for. */
static int posted_failed(void **req, int code, const char *what, char *err, size_t errlen)
{
    free(*req);
    *req = NULL;
    return mpi_err(code, what, err, errlen);
}

int dist_send(const float *buf, size_t n, int to, int tag, void **req, char *err, size_t errlen)
{
    int rc;
    MPI_Request *r = req_new(req, err, errlen, &rc);
    if (r && (rc = MPI_Isend(buf, (int)n, MPI_FLOAT, to, tag, MPI_COMM_WORLD, r))) {
        return posted_failed(req, rc, "send", err, errlen);
    }
    return rc;
}

int dist_recv(float *buf, size_t n, int from, int tag, void **req, char *err, size_t errlen)
{
    int rc;
    MPI_Request *r = req_new(req, err, errlen, &rc);
    if (r && (rc = MPI_Irecv(buf, (int)n, MPI_FLOAT, from, tag, MPI_COMM_WORLD, r))) {
        return posted_failed(req, rc, "receive", err, errlen);
    }
    return rc;
}

int dist_bcast(float *buf, size_t n, int root, void **req, char *err, size_t errlen)
{
    int rc;
    MPI_Request *r = req_new(req, err, errlen, &rc);
    if (r && (rc = MPI_Ibcast(buf, (int)n, MPI_FLOAT, root, MPI_COMM_WORLD, r))) {
        return posted_failed(req, rc, "broadcast", err, errlen);
    }
    return rc;
}

int dist_wait(void *req, char *err, size_t errlen)
{
    MPI_Request *r = req;
    int rc = r ? MPI_Wait(r, MPI_STATUS_IGNORE) : MPI_SUCCESS;
    free(r);
    return rc ? mpi_err(rc, "wait", err, errlen) : 0;
}

int dist_sum(double *v, int n, char *err, size_t errlen)
{
    int rc = started ? MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) : 0;
    return rc ? mpi_err(rc, "sum", err, errlen) : 0;
}

int dist_share(void *buf, size_t n, char *err, size_t errlen)
{
    const size_t piece = (size_t)1 << 30;
    for (size_t o = 0; started && o < n; o += piece) {
        size_t k = n - o < piece ? n - o : piece;
        int rc = MPI_Bcast((char *)buf + o, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc) {
            return mpi_err(rc, "share", err, errlen);
        }
    }
    return 0;
}

int dist_gather(const char *line, size_t width, char *all, char *err, size_t errlen)
{
    char *mine = calloc(1, width);
    if (!mine) {
        return ck_err(err, errlen, CK_ENOMEM, "out of memory");
    }
    snprintf(mine, width, "%s", line);
    int rc = started ? MPI_Allgather(mine, (int)width, MPI_CHAR, all, (int)width, MPI_CHAR,
                                     MPI_COMM_WORLD)
                     : (memcpy(all, mine, width), 0);
    free(mine);
    return rc ? mpi_err(rc, "gather", err, errlen) : 0;
}

#else /* built without Open MPI: always alone */

int dist_start(int *argc, char ***argv, char *err, size_t errlen)
{
    (void)argc, (void)argv;
    gethostname(host, sizeof host - 1);
    if (launched_by_mpirun()) {
        return ck_err(err, errlen, CK_EINVAL,
                      "started by mpirun, but this convkit was built without Open MPI "
                      "(libopenmpi-dev; scripts/setup.sh installs it)");
    }
    return 0;
}

void dist_stop(void)
{
}

void dist_abort(int code)
{
    exit(code);
}

static int alone(char *err, size_t errlen)
{
    return ck_err(err, errlen, CK_EINVAL, "no other process (built without Open MPI)");
}

int dist_send(const float *buf, size_t n, int to, int tag, void **req, char *err, size_t errlen)
{
    (void)buf, (void)n, (void)to, (void)tag, (void)req;
    return alone(err, errlen);
}

int dist_recv(float *buf, size_t n, int from, int tag, void **req, char *err, size_t errlen)
{
    (void)buf, (void)n, (void)from, (void)tag, (void)req;
    return alone(err, errlen);
}

int dist_bcast(float *buf, size_t n, int root, void **req, char *err, size_t errlen)
{
    (void)buf, (void)n, (void)root, (void)req;
    return alone(err, errlen);
}

int dist_wait(void *req, char *err, size_t errlen)
{
    (void)req, (void)err, (void)errlen;
    return 0;
}

int dist_sum(double *v, int n, char *err, size_t errlen)
{
    (void)v, (void)n, (void)err, (void)errlen;
    return 0;
}

int dist_share(void *buf, size_t n, char *err, size_t errlen)
{
    (void)buf, (void)n, (void)err, (void)errlen;
    return 0;
}

int dist_gather(const char *line, size_t width, char *all, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    snprintf(all, width, "%s", line);
    return 0;
}

#endif

int dist_failed(void)
{
    return failed;
}

int dist_rank(void)
{
    return rank;
}

int dist_size(void)
{
    return size;
}

const char *dist_host(void)
{
    return host;
}
