/* data.c: the one place the loader meets the trainer. A pl_loader over one
 * split of a dataset.db is lent to nn_train / nn_evaluate as an nn_source,
 * with the model's input size, channels and scale. No other module knows
 * both sides (DESIGN.md: data flows one way).
 *
 * It is also where a model meets a catalog, so the checks of that meeting
 * live here, once, for every command: the catalog must be finished
 * (data_catalog_facts), its classes must be the model's (data_check_model:
 * their count, and their names when the model was trained on a catalog),
 * and a model that takes a conv base's features is never fed images
 * (data_check_images). */
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
    b->total = rc ? pb.total : 0;
    b->offset = rc ? pb.first : 0;
    return 0;
}

data_input data_input_recorded(const json_t *o)
{
    int resize = aug_resize_parse(json_string_value(json_object_get(o, "resize")));
    const char *decode = json_string_value(json_object_get(o, "decode"));
    return (data_input){.resize = resize < 0 ? AUG_RESIZE_STRETCH : (aug_resize)resize,
                        .full_decode = decode && !strcmp(decode, "full")};
}

aug_params data_model_params(const nn_model *m, const data_input *in)
{
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    aug_params p = aug_params_default(w, h, c);
    /* Models that begin with Rescaling take pixels as they are. */
    p.scale = nn_model_rescales(m) ? 1.0f : 1.0f / 255.0f;
    p.resize = in->resize;
    p.shrink_on_load = !in->full_decode;
    return p;
}

void data_run_read(const nn_model *m, data_run *r)
{
    memset(r, 0, sizeof *r);
    const char *text = nn_model_config(m);
    r->config = text ? json_loads(text, 0, NULL) : NULL;
    json_t *extra = json_object_get(r->config, "extra");
    r->classes = json_object_get(extra, "classes");
    r->input = data_input_recorded(extra);
}

void data_run_free(data_run *r)
{
    json_decref(r->config);
    r->config = r->classes = NULL;
}

const char *data_class_name(const data_run *r, int i, char *buf, size_t len)
{
    const char *s = json_string_value(json_array_get(r->classes, (size_t)i));
    if (s) {
        return s;
    }
    snprintf(buf, len, "%d", i);
    return buf;
}

int data_image_file(const char *path, aug_src *src, void **bytes, char *err, size_t errlen)
{
    size_t size = 0;
    int rc = aug_read_file(path, (size_t)256 << 20, bytes, &size, err, errlen);
    *src = (aug_src){.data = *bytes, .size = size, .name = path};
    return rc;
}

int data_image_read(aug_pipe *pipe, const char *path, void *x, char *err, size_t errlen)
{
    void *bytes = NULL;
    aug_src src;
    int rc = data_image_file(path, &src, &bytes, err, errlen);
    if (rc == 0) {
        rc = aug_pipe_run_sample(pipe, &src, NULL, x, err, errlen);
    }
    free(bytes);
    return rc;
}

int data_check_images(const nn_model *m, const char *model, char *err, size_t errlen)
{
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    json_t *cfg = nn_model_config(m) ? json_loads(nn_model_config(m), 0, NULL) : NULL;
    const char *features =
        json_string_value(json_object_get(json_object_get(cfg, "extra"), "features"));
    int rc = 0;
    if (features || (c != 1 && c != 3)) {
        char from[512] = "";
        if (features) {
            snprintf(from, sizeof from, " (it was trained on %s)", features);
        }
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: takes %dx%dx%d inputs, the features of a conv base%s, not images: "
                    "run it on convkit extract-features output (--features FEATURES.db), or use "
                    "a model that holds the conv base (e.g. vgg16-catsdogs with --weights)",
                    model, h, w, c, from);
    }
    json_decref(cfg);
    return rc;
}

int data_open(data_split *d, const char *catalog, const char *split, const nn_model *m,
              const data_input *in, const aug_policy *policy, int shuffle, uint64_t seed,
              int workers, const data_part *part, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    int rc = data_check_images(m, nn_model_name(m), err, errlen);
    if (rc) {
        return rc;
    }
    pl_loader_opts o;
    pl_loader_opts_default(&o);
    o.catalog = catalog;
    o.split = split;
    o.batch = nn_model_batch(m);
    o.shuffle = shuffle;
    o.seed = seed;
    o.aug = data_model_params(m, in);
    o.aug.policy = policy;
    o.workers = workers;
    if (part) {
        o.parts = part->parts;
        o.part_lo = part->lo;
        o.part_hi = part->hi;
    }
    rc = pl_loader_open(&d->loader, &o, err, errlen);
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

/* CK_EINVAL for a catalog whose preparation did not finish (killed, or
 * failed): it has no splits or hash yet. The message names its sources,
 * since running prepare-dataset on them again with the same options
 * resumes and finishes it. */
static int check_finished(ds_catalog *c, const char *catalog, char *err, size_t errlen)
{
    if (ds_catalog_hash(c)[0]) {
        return 0;
    }
    char *info = NULL, scratch[256];
    ck_buf b = {0};
    if (ds_catalog_info_json(c, &info, scratch, sizeof scratch) == 0) {
        json_t *o = json_loads(info, 0, NULL);
        json_t *src;
        size_t i;
        json_array_foreach(json_object_get(o, "sources"), i, src)
        {
            ck_buf_str(&b, " ");
            const char *path = json_string_value(json_object_get(src, "path"));
            ck_buf_str(&b, path ? path : "?");
        }
        json_decref(o);
    }
    free(info);
    int rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: unfinished catalog (its prepare-dataset stopped before the end); to "
                    "finish it, run the same command again: convkit prepare-dataset%s -o %s, with "
                    "the options it was started with",
                    catalog, b.s ? b.s : " SOURCE...", catalog);
    ck_buf_free(&b);
    return rc;
}

int data_catalog_facts(const char *catalog, data_facts *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    ds_catalog *c;
    int rc = ds_catalog_open(&c, catalog, DS_OPEN_READ, err, errlen);
    if (rc) {
        return rc;
    }
    if ((rc = check_finished(c, catalog, err, errlen))) {
        ds_catalog_close(c);
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

int data_check_model(const data_facts *f, const nn_model *m, const char *config,
                     const char *catalog, const char *model, char *err, size_t errlen)
{
    int outputs = nn_model_outputs(m);
    int binary = nn_model_output_act(m) == NN_ACT_SIGMOID;
    json_t *cfg = config ? json_loads(config, 0, NULL) : NULL;
    json_t *extra = json_object_get(cfg, "extra");
    json_t *classes = json_object_get(extra, "classes");
    const char *from = json_string_value(json_object_get(extra, "dataset"));
    if (!from) {
        from = json_string_value(json_object_get(extra, "features"));
    }
    int rc = 0, same = json_is_array(classes) && (int)json_array_size(classes) == f->nclasses;
    for (int i = 0; same && i < f->nclasses; i++) {
        const char *name = json_string_value(json_array_get(classes, (size_t)i));
        same = name && !strcmp(name, f->classes[i]);
    }
    if (json_is_array(classes) && !same) {
        /* Same count, other names (or order): every label would be read as
         * another class, silently. */
        ck_buf have = {0}, want = {0};
        for (int i = 0; i < f->nclasses; i++) {
            ck_buf_str(&have, i ? ", " : "");
            ck_buf_str(&have, f->classes[i]);
        }
        size_t i;
        json_t *v;
        json_array_foreach(classes, i, v)
        {
            ck_buf_str(&want, i ? ", " : "");
            ck_buf_str(&want, json_string_value(v) ? json_string_value(v) : "?");
        }
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: classes %s; %s was trained on classes %s%s%s%s: use it on a catalog of "
                    "the same classes in the same order",
                    catalog, have.s ? have.s : "(none)", model, want.s ? want.s : "(none)",
                    from ? " (" : "", from ? from : "", from ? ")" : "");
        ck_buf_free(&have);
        ck_buf_free(&want);
    } else if (binary ? f->nclasses != 2 : outputs != f->nclasses) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: %d classes, but model %s has %d %s output%s (want %d)", catalog,
                    f->nclasses, model, outputs, binary ? "sigmoid" : "softmax",
                    outputs == 1 ? "" : "s", binary ? 2 : outputs);
    }
    json_decref(cfg);
    return rc;
}
