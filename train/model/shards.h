/* shards.h: a training step as the fixed-order sum of its shards, on one
 * process or several (shards.c has the design). Internal to train/. */
#ifndef NN_SHARDS_H
#define NN_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "nn.h"

typedef struct nn_shards {
    int S, P, rank;      /* shards per batch, processes, this one */
    int first, count;    /* this process's shards */
    const nn_comm *comm; /* NULL: alone */
    float *final;        /* the model's gradient arena: the batch's sum */
    float *acc;          /* the partial sum this process folds into */
    float **bufs;        /* shard gradients kept apart */
    int nbufs;
    size_t *bucket_off, *bucket_n; /* layers with a gradient, last first */
    int *bucket_layer;
    int nbuckets;
    int next; /* the step's next bucket to exchange */
    void **reqs;
    int nreqs;
    int rc;           /* the step's first communication error */
    char err[256];    /* and its message */
    double *vec;      /* per step: losses, correct counts, statuses */
    double comm_wait; /* seconds, summed until the caller resets it */
} nn_shards;

/* What a step gave: the whole batch's loss sum, correct count, samples,
 * and whether a process asked to stop after it. */
typedef struct nn_step_out {
    double loss;
    int64_t correct;
    int samples;
    int stop;
} nn_step_out;

/* Plans m's steps in `shards` shards over comm (NULL: alone). Returns 0,
 * CK_EINVAL (more processes than shards), CK_ENOMEM. */
int nn_shards_open(nn_shards *s, nn_model *m, int shards, const nn_comm *comm, char *err,
                   size_t errlen);
void nn_shards_close(nn_shards *s);

/* One step's forward, loss and backward over this process's shards of b,
 * the exchange of losses and statuses, and (for a finite loss) the batch's
 * gradient summed into m's gradients on every process. status: 0, 1 (this
 * process asks every process to stop after this step), or a negative code
 * of an error this process met (its message in err), which it still takes
 * part in the step with so that the others stop too. Returns 0, this
 * process's error, CK_ECANCELED naming another process that failed, or a
 * communication error. */
int nn_shards_step(nn_shards *s, nn_model *m, int loss, const nn_batch *b, const nn_step_key *key,
                   int status, nn_step_out *out, char *err, size_t errlen);

/* Evaluates this process's shards of b: per shard (indexed by shard)
 * lossv and correct, and adds to confusion (classes x classes). */
int nn_shards_eval(nn_shards *s, nn_model *m, int loss, const nn_batch *b, double *lossv,
                   double *correct, double *confusion, char *err, size_t errlen);

/* Every process's status at a point all reach (the end of an epoch):
 * returns this process's status if it failed, CK_ECANCELED naming another
 * that failed, else 0; *stop is set when any asked to stop (status 1). */
int nn_shards_agree(nn_shards *s, const char *name, int status, int *stop, char *err,
                    size_t errlen);

/* Checks that every process holds the same weights (after `epoch`):
 * returns 0, or CK_ENUMERIC naming the first process that differs. */
int nn_shards_same_weights(nn_shards *s, const nn_model *m, int epoch, char *err, size_t errlen);

#endif
