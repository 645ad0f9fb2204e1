/* dist.h: dist — the processes of one job started by mpirun, or this
 * process alone.
 *
 * convkit run by hand is one process, and nothing here starts MPI for it
 * (no start-up cost, no output). Under mpirun (Open MPI sets
 * OMPI_COMM_WORLD_SIZE) dist_start initialises MPI, and the calls below
 * are MPI's on MPI_COMM_WORLD, made from the main thread only. A build
 * without Open MPI is always alone and says so when started by mpirun.
 *
 * The calls are what the trainer's nn_comm needs (cli/ connects the two):
 * nonblocking sends, receives and broadcasts of floats completed by
 * dist_wait, a sum of doubles, a broadcast of bytes from rank 0, and each
 * process's line of text gathered on every process (to check that all
 * read the same catalog). Each returns 0 or a negative CK_E* code with a
 * message; a process that dies ends the job (MPI's default), it does not
 * hang it.
 */
#ifndef DIST_H
#define DIST_H

#include <stddef.h>

/* Starts MPI when this process was started by mpirun. Returns 0, or
 * CK_EINVAL with a message (started by mpirun, built without Open MPI;
 * MPI failed to start). */
int dist_start(int *argc, char ***argv, char *err, size_t errlen);
/* Ends MPI if dist_start started it. */
void dist_stop(void);
/* Ends every process of the job with `code` (MPI_Abort), or exits. */
void dist_abort(int code);

/* Has a call of this process failed? Its peers may then be waiting for
 * it, so it must end the job (dist_abort), not leave it (dist_stop). */
int dist_failed(void);

int dist_rank(void); /* 0 when alone */
int dist_size(void); /* 1 when alone */
/* This machine's name, as MPI gives it (the host name when alone). */
const char *dist_host(void);

int dist_send(const float *buf, size_t n, int to, int tag, void **req, char *err, size_t errlen);
int dist_recv(float *buf, size_t n, int from, int tag, void **req, char *err, size_t errlen);
int dist_bcast(float *buf, size_t n, int root, void **req, char *err, size_t errlen);
/* Completes and frees a request of the three above. */
int dist_wait(void *req, char *err, size_t errlen);
/* v[0..n) summed elementwise over every process, in place. */
int dist_sum(double *v, int n, char *err, size_t errlen);
/* Rank 0's n bytes copied to every process. */
int dist_share(void *buf, size_t n, char *err, size_t errlen);
/* Every process's `line` (at most `width` bytes with its NUL), in rank
 * order, width bytes each, into all (dist_size() * width bytes). */
int dist_gather(const char *line, size_t width, char *all, char *err, size_t errlen);

#endif
