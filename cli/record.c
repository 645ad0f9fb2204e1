/* record.c: the trainer's record connected to runs.db.
 *
 * train/ knows nothing of runs.db and runs/ nothing of tensors: the
 * trainer hands each epoch to an nn_recorder, and this one writes it with
 * rn_run_*. runs.db is opened when the run starts (after the model and
 * any checkpoint have loaded), so a run refused before that leaves no
 * runs.db behind.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"
#include "nn.h"
#include "record.h"
#include "rn.h"

static int rec_start(void *ctx, const char *config, const char *summary, int resume, int done,
                     char *err, size_t errlen)
{
    cli_record *r = ctx;
    int rc = rn_db_open(&r->db, r->runs_path, err, errlen);
    return rc ? rc
              : rn_run_start(r->db, r->name, config, r->dataset_hash, r->seed, summary, resume,
                             done, err, errlen);
}

static int rec_epoch(void *ctx, const nn_progress *p, char *err, size_t errlen)
{
    cli_record *r = ctx;
    double v[RN_EPOCH_VALUES] = {p->loss,    p->accuracy,     p->val_loss,    p->val_accuracy,
                                 p->seconds, p->images_per_s, p->input_stall, p->comm_wait};
    return rn_run_epoch(r->db, r->name, p->epoch, v, err, errlen);
}

static int rec_finish(void *ctx, const char *status, char *err, size_t errlen)
{
    cli_record *r = ctx;
    return rn_run_finish(r->db, r->name, status, err, errlen);
}

void cli_record_init(cli_record *r, const char *runs_path, const char *name,
                     const char *dataset_hash, uint64_t seed)
{
    *r = (cli_record){
        .runs_path = runs_path, .name = name, .dataset_hash = dataset_hash, .seed = seed};
    r->rec = (nn_recorder){.ctx = r, .start = rec_start, .epoch = rec_epoch, .finish = rec_finish};
}

void cli_record_close(cli_record *r)
{
    rn_db_close(r->db);
    r->db = NULL;
}

void cli_run_checkpoints(const char *runs_path, const char *name, char *last, char *best,
                         size_t len)
{
    char *copy = strdup(runs_path);
    const char *dir = copy ? dirname(copy) : ".";
    snprintf(last, len, "%s/%s.last.ckpt", dir, name);
    snprintf(best, len, "%s/%s.best.ckpt", dir, name);
    free(copy);
}
