/* record.h: a training run's record in runs.db (record.c), inside cli/:
 * the one place where the trainer (nn.h) and the experiment record (rn.h)
 * meet. */
#ifndef CLI_RECORD_H
#define CLI_RECORD_H

#include <stdint.h>

#include "nn.h"

/* rec, given to nn_train as its recorder, opens runs_path when the run
 * starts and writes the run `name` there. The strings are borrowed for
 * the recorder's lifetime. */
typedef struct cli_record {
    const char *runs_path, *name, *dataset_hash;
    uint64_t seed;
    struct rn_db *db;
    nn_recorder rec;
} cli_record;
void cli_record_init(cli_record *r, const char *runs_path, const char *name,
                     const char *dataset_hash, uint64_t seed);
void cli_record_close(cli_record *r);

/* The checkpoints of run `name`, beside runs_path: DIR/NAME.last.ckpt and
 * DIR/NAME.best.ckpt, each into a buffer of len bytes (train writes them,
 * curves delete removes them). */
void cli_run_checkpoints(const char *runs_path, const char *name, char *last, char *best,
                         size_t len);

#endif
