/* data.h: dataset.db splits as trainer sources, for cli/ (see data.c). */
#ifndef CLI_DATA_H
#define CLI_DATA_H

#include <jansson.h>

#include "aug.h"
#include "ds.h"
#include "nn.h"
#include "pl.h"

/* One split as a source: images through the loader, or stored features. */
typedef struct data_split {
    pl_loader *loader;
    nn_features_src *features;
    nn_source source; /* borrows loader or features */
} data_split;

/* What the trainer needs to know of a catalog. */
typedef struct data_facts {
    char hash[64];
    char **classes; /* nclasses names in label order, malloc'd */
    int nclasses;
    int64_t split_size[3]; /* train, validation, test */
} data_facts;

/* How images become a model's input: the resize, and whether a JPEG is
 * decoded whole before it (full, as Keras's loaders do) or at 1/2, 1/4 or
 * 1/8 when the model needs no more pixels (fast, the default). */
typedef struct data_input {
    aug_resize resize;
    int full_decode;
} data_input;

/* The input a run or a features.db recorded in its configuration
 * ("resize", "decode"; absent: stretch, fast), from the JSON object that
 * holds them. */
data_input data_input_recorded(const json_t *o);

/* What a checkpoint's run recorded of its data ("extra" in its
 * configuration): class names and input (resize, decode), so that images
 * are prepared as they were in training. */
typedef struct data_run {
    json_t *config;
    json_t *classes; /* borrowed from config; may be NULL */
    data_input input;
} data_run;
void data_run_read(const nn_model *m, data_run *r);
void data_run_free(data_run *r);
/* Class i's recorded name, else its number written into buf. */
const char *data_class_name(const data_run *r, int i, char *buf, size_t len);
/* An image file's bytes as a source named path, *bytes malloc'd (the
 * source's data): CK_EIO, CK_ELIMIT (over 256 MB) name the file. */
int data_image_file(const char *path, aug_src *src, void **bytes, char *err, size_t errlen);
/* An image file through pipe (made by data_model_params) into x, as
 * predict prepares it: data_image_file's errors, CK_EDECODE naming the
 * file. */
int data_image_read(aug_pipe *pipe, const char *path, void *x, char *err, size_t errlen);

/* The loader's output for model m: its input size and channels, scale 1/255
 * unless the model starts with Rescaling, resized and decoded as in says. */
aug_params data_model_params(const nn_model *m, const data_input *in);

/* Opens a loader over `split` of catalog, batches of the model's batch size,
 * and the nn_source over it. policy may be NULL (borrowed). */
/* One process's parts of every batch (pl_loader_opts' parts); NULL: whole
 * batches. */
typedef struct data_part {
    int parts, lo, hi;
} data_part;

int data_open(data_split *d, const char *catalog, const char *split, const nn_model *m,
              const data_input *in, const aug_policy *policy, int shuffle, uint64_t seed,
              int workers, const data_part *part, char *err, size_t errlen);
/* One split of a features.db (convkit extract-features) in batches of the
 * model's batch size, shuffled per epoch with shuffle. */
int data_open_features(data_split *d, const char *path, const char *split, int batch, int shuffle,
                       uint64_t seed, char *err, size_t errlen);
void data_close(data_split *d);

/* The classes, split sizes and hash of a finished catalog; an unfinished
 * one (its prepare-dataset killed or failed) is CK_EINVAL saying how to
 * finish it. */
int data_catalog_facts(const char *catalog, data_facts *f, char *err, size_t errlen);
/* The facts recorded in a features.db's config (classes, dataset hash);
 * split sizes stay 0. */
int data_features_facts(const nn_features_src *s, const char *path, data_facts *f, char *err,
                        size_t errlen);
void data_facts_free(data_facts *f);

/* The one check of a model meeting a catalog (or features.db), for every
 * command: CK_EINVAL unless the model's output fits the catalog's classes,
 * and, when config (the run configuration JSON a checkpoint or runs.db
 * holds; NULL for a new model) records class names, unless they are the
 * catalog's, in the same order. The message names the catalog, the model
 * and both lists. */
int data_check_model(const data_facts *f, const nn_model *m, const char *config,
                     const char *catalog, const char *model, char *err, size_t errlen);
/* CK_EINVAL, saying what it needs, for a model that takes a conv base's
 * features (trained with --features, or an input of neither 1 nor 3
 * channels) rather than images; data_open checks it. */
int data_check_images(const nn_model *m, const char *model, char *err, size_t errlen);

#endif
