/* data.c: the one place the loader meets the trainer. A pl_loader over one
 * split of a dataset.db is lent to nn_train / nn_evaluate as an nn_source,
 * with the model's input size, channels and scale. No other module knows
 * both sides (DESIGN.md: data flows one way). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"

static int source_begin(void *ctx, int epoch, char *err, size_t errlen)
{
    return pl_loader_begin(ctx, epoch, err, errlen);
}

static int source_next(void *ctx, nn_batch *b, char *err, size_t errlen)
{
    pl_batch pb;
    int rc = pl_loader_next(ctx, &pb, err, errlen);
    if (rc < 0) {
        return rc;
    }
    b->x = rc ? pb.x : NULL;
    b->labels = rc ? pb.labels : NULL;
    b->n = rc ? pb.n : 0;
    return 0;
}

aug_params data_model_params(const nn_model *m, aug_resize resize)
{
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    aug_params p = aug_params_default(w, h, c);
    /* Models that begin with Rescaling take pixels as they are. */
    p.scale = nn_model_rescales(m) ? 1.0f : 1.0f / 255.0f;
    p.resize = resize;
    return p;
}

int data_open(data_split *d, const char *catalog, const char *split, const nn_model *m,
              aug_resize resize, const aug_policy *policy, int shuffle, uint64_t seed, int workers,
              char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    pl_loader_opts o;
    pl_loader_opts_default(&o);
    o.catalog = catalog;
    o.split = split;
    o.batch = nn_model_batch(m);
    o.shuffle = shuffle;
    o.seed = seed;
    o.aug = data_model_params(m, resize);
    o.aug.policy = policy;
    o.workers = workers;
    int rc = pl_loader_open(&d->loader, &o, err, errlen);
    if (rc) {
        return rc;
    }
    d->source = (nn_source){
        .ctx = d->loader,
        .size = pl_loader_size(d->loader),
        .begin = source_begin,
        .next = source_next,
    };
    return 0;
}

int data_open_features(data_split *d, const char *path, const char *split, int batch, int shuffle,
                       uint64_t seed, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    int rc = nn_features_open(&d->features, path, split, batch, shuffle, seed, err, errlen);
    if (rc == 0) {
        d->source = *nn_features_source(d->features);
    }
    return rc;
}

void data_close(data_split *d)
{
    pl_loader_close(d->loader);
    nn_features_close(d->features);
    d->loader = NULL;
    d->features = NULL;
}

int data_catalog_facts(const char *catalog, data_facts *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    ds_catalog *c;
    int rc = ds_catalog_open(&c, catalog, DS_OPEN_READ, err, errlen);
    if (rc) {
        return rc;
    }
    const char *const *names;
    int n;
    rc = ds_catalog_classes(c, &names, &n, err, errlen);
    if (rc == 0) {
        snprintf(f->hash, sizeof f->hash, "%s", ds_catalog_hash(c));
        f->nclasses = n;
        f->classes = calloc((size_t)n + 1, sizeof *f->classes);
        for (int i = 0; f->classes && i < n; i++) {
            f->classes[i] = strdup(names[i]);
        }
    }
    static const char *const splits[] = {"train", "validation", "test"};
    for (int i = 0; rc == 0 && i < 3; i++) {
        int64_t *ids = NULL;
        int32_t *labels = NULL;
        size_t count = 0;
        rc = ds_catalog_split(c, splits[i], &ids, &labels, &count, err, errlen);
        f->split_size[i] = (int64_t)count;
        free(ids);
        free(labels);
    }
    ds_catalog_close(c);
    if (rc == 0 && f->nclasses > 0 && !f->classes) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", catalog);
    }
    return rc;
}

int data_features_facts(const nn_features_src *s, const char *path, data_facts *f, char *err,
                        size_t errlen)
{
    memset(f, 0, sizeof *f);
    json_t *cfg = json_loads(nn_features_config(s), 0, NULL);
    json_t *classes = json_object_get(cfg, "classes");
    const char *hash = json_string_value(json_object_get(cfg, "dataset_hash"));
    int rc = 0;
    if (!json_is_array(classes) || !hash) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: config without classes or dataset_hash", path);
    } else {
        snprintf(f->hash, sizeof f->hash, "%s", hash);
        f->nclasses = (int)json_array_size(classes);
        f->classes = calloc((size_t)f->nclasses + 1, sizeof *f->classes);
        for (int i = 0; f->classes && i < f->nclasses; i++) {
            const char *c = json_string_value(json_array_get(classes, (size_t)i));
            f->classes[i] = strdup(c ? c : "");
        }
        if (!f->classes) {
            rc = ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", path);
        }
    }
    json_decref(cfg);
    return rc;
}

void data_facts_free(data_facts *f)
{
    for (int i = 0; f->classes && i < f->nclasses; i++) {
        free(f->classes[i]);
    }
    free(f->classes);
    f->classes = NULL;
}

int data_check_model(const data_facts *f, const nn_model *m, const char *catalog, const char *model,
                     char *err, size_t errlen)
{
    int outputs = nn_model_outputs(m);
    int binary = nn_model_output_act(m) == NN_ACT_SIGMOID;
    if (binary ? f->nclasses != 2 : outputs != f->nclasses) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: %d classes, but model %s has %d %s output%s (want %d)", catalog,
                      f->nclasses, model, outputs, binary ? "sigmoid" : "softmax",
                      outputs == 1 ? "" : "s", binary ? 2 : outputs);
    }
    return 0;
}
