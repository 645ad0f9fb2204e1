/* trainer.c: Keras's fit loop, evaluation and prediction.
 *
 * The trainer pulls batches from an nn_source, so it knows nothing of
 * datasets or threads: the loader (or a test) lends float NHWC batches
 * and labels. Everything random is keyed by (seed, epoch, batch), and the
 * source orders each epoch by its own key, so an epoch's result depends
 * only on the weights and optimizer state at its start. That is what makes
 * resuming exact: a checkpoint after epoch k holds those, and epoch k+1
 * runs the same whether the process was restarted or not.
 *
 * Per epoch: train (a NaN/inf loss stops before its update), evaluate the
 * validation source, hand the epoch to the recorder (cli/ writes it to
 * runs.db), then write the best and last checkpoints. In that order: a run
 * killed between the two has recorded one epoch more than its checkpoint
 * holds, and the recorder's start, told how many epochs the checkpoint
 * holds, drops that row before the resumed run redoes it.
 */
#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn_internal.h"
#include "shards.h"

nn_train_opts nn_train_defaults(void)
{
    nn_train_opts o = {.epochs = 1, .optim = nn_optim_defaults(NN_OPT_RMSPROP)};
    return o;
}

/* The loss for the model's output, or -1 when they do not fit. */
static int resolve_loss(const nn_model *m, nn_loss_kind loss)
{
    nn_act act = nn_model_output_act(m);
    if (loss == NN_LOSS_AUTO) {
        return act == NN_ACT_SIGMOID ? NN_LOSS_BINARY : act == NN_ACT_SOFTMAX ? NN_LOSS_SPARSE : -1;
    }
    if (loss == NN_LOSS_BINARY) {
        return act == NN_ACT_SIGMOID ? (int)loss : -1;
    }
    return act == NN_ACT_SOFTMAX ? (int)loss : -1;
}

/* Checks a lent batch; returns 0 or CK_EINVAL with the place in err. */
static int check_batch(const nn_model *m, const nn_batch *b, const char *where, int epoch,
                       int64_t batch, char *err, size_t errlen)
{
    if (b->n < 0 || b->n > m->batch || (b->n > 0 && (!b->x || !b->labels))) {
        return ck_err(err, errlen, CK_EINVAL, "%s: epoch %d batch %lld: %d samples (batch size %d)",
                      where, epoch + 1, (long long)batch + 1, b->n, m->batch);
    }
    int D = nn_model_outputs(m), classes = D == 1 ? 2 : D;
    for (int i = 0; i < b->n; i++) {
        if (b->labels[i] < 0 || b->labels[i] >= classes) {
            return ck_err(err, errlen, CK_EINVAL,
                          "%s: epoch %d batch %lld: label %d out of range [0, %d)", where,
                          epoch + 1, (long long)batch + 1, (int)b->labels[i], classes);
        }
    }
    return 0;
}

static void eval_init(nn_eval *e)
{
    memset(e, 0, sizeof *e);
}

void nn_eval_free(nn_eval *e)
{
    if (e) {
        free(e->confusion);
        free(e->outputs);
        e->confusion = NULL;
        e->outputs = NULL;
    }
}

/* nn_evaluate over the shards of sh: each process its part of every
 * batch; loss and counts per shard, exchanged once at the end and added
 * in batch and shard order, so every process gets the same figures. With
 * keep (one process, one shard: the last forward is then the whole
 * batch), every sample's outputs are kept too. */
static int evaluate(nn_model *m, nn_loss_kind loss, const nn_source *src, int epoch, nn_shards *sh,
                    int keep, nn_eval *out, char *err, size_t errlen)
{
    eval_init(out);
    assert(!keep || (sh->S == 1 && !sh->comm));
    ck_buf kept = {0}; /* with keep, every sample's outputs (floats) */
    int kind = resolve_loss(m, loss);
    if (kind < 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: evaluate: loss %s does not fit the output",
                      m->name, nn_loss_name(loss));
    }
    int D = nn_model_outputs(m), classes = D == 1 ? 2 : D, S = sh->S;
    size_t cells = (size_t)classes * classes;
    out->classes = classes;
    out->confusion = calloc(cells, sizeof *out->confusion);
    /* Per batch: S losses, S correct counts; then the confusion matrix. */
    size_t cap = 64, used = 0;
    double *v = calloc(cap * 2 * S + cells, sizeof *v), *conf = calloc(cells, sizeof *conf);
    if (!out->confusion || !v || !conf) {
        free(v);
        free(conf);
        nn_eval_free(out);
        return ck_err(err, errlen, CK_ENOMEM, "%s: evaluate: out of memory", m->name);
    }
    int rc = src->begin ? src->begin(src->ctx, epoch, err, errlen) : 0;
    for (int64_t bi = 0; rc == 0; bi++) {
        nn_batch b = {0};
        if ((rc = src->next(src->ctx, &b, err, errlen)) ||
            (rc = check_batch(m, &b, "evaluate", epoch, bi, err, errlen)) ||
            (b.n == 0 && b.total == 0)) {
            break;
        }
        if (used == cap) {
            double *w = realloc(v, (cap * 2 * 2 * S + cells) * sizeof *v);
            if (!w) {
                rc = ck_err(err, errlen, CK_ENOMEM, "%s: evaluate: out of memory", m->name);
                break;
            }
            v = w;
            memset(v + cap * 2 * S, 0, cap * 2 * S * sizeof *v);
            cap *= 2;
        }
        double *lossv = v + used * 2 * S;
        rc = nn_shards_eval(sh, m, kind, &b, lossv, lossv + S, conf, err, errlen);
        if (rc == 0 && keep && b.n > 0) {
            ck_buf_add(&kept, nn_model_output(m), (size_t)b.n * D * sizeof(float));
        }
        used++;
        out->n += b.total ? b.total : b.n;
    }
    int stop = 0;
    if (sh->comm) { /* every process's status, then its figures */
        rc = nn_shards_agree(sh, m->name, rc, &stop, err, errlen);
        memcpy(v + used * 2 * S, conf, cells * sizeof *v);
        if (rc == 0) {
            rc = sh->comm->sum(sh->comm->ctx, v, (int)(used * 2 * S + cells), err, errlen);
        }
        memcpy(conf, v + used * 2 * S, cells * sizeof *v);
    }
    double total = 0, correct = 0;
    for (size_t i = 0; rc == 0 && i < used; i++) {
        for (int s = 0; s < S; s++) {
            total += v[i * 2 * S + s];
            correct += v[i * 2 * S + S + s];
        }
    }
    for (size_t i = 0; i < cells; i++) {
        out->confusion[i] = (int64_t)conf[i];
    }
    free(v);
    free(conf);
    if (rc == 0 && keep && !(out->outputs = (float *)ck_buf_take(&kept))) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: evaluate: out of memory", m->name);
    }
    ck_buf_free(&kept);
    if (rc) {
        nn_eval_free(out);
        return rc;
    }
    out->loss = out->n ? total / (double)out->n : (double)NAN;
    out->accuracy = out->n ? correct / (double)out->n : (double)NAN;
    return 0;
}

/* nn_evaluate and nn_evaluate_outputs: one process, the whole batch. */
static int evaluate_alone(nn_model *m, nn_loss_kind loss, const nn_source *src, int epoch, int keep,
                          nn_eval *out, char *err, size_t errlen)
{
    nn_shards sh;
    int rc = nn_shards_open(&sh, m, 1, NULL, err, errlen);
    if (rc == 0) {
        rc = evaluate(m, loss, src, epoch, &sh, keep, out, err, errlen);
        nn_shards_close(&sh);
    } else {
        eval_init(out);
    }
    return rc;
}

int nn_evaluate(nn_model *m, nn_loss_kind loss, const nn_source *src, int epoch, nn_eval *out,
                char *err, size_t errlen)
{
    return evaluate_alone(m, loss, src, epoch, 0, out, err, errlen);
}

int nn_evaluate_outputs(nn_model *m, nn_loss_kind loss, const nn_source *src, int epoch,
                        nn_eval *out, char *err, size_t errlen)
{
    return evaluate_alone(m, loss, src, epoch, 1, out, err, errlen);
}

int nn_predict(nn_model *m, const float *x, int64_t n, float *probs)
{
    int D = nn_model_outputs(m);
    size_t in = m->layers[0].desc.size;
    for (int64_t i = 0; i < n; i += m->batch) {
        int k = n - i < m->batch ? (int)(n - i) : m->batch;
        int rc = nn_model_forward(m, x + (size_t)i * in, k, NULL);
        if (rc) {
            return rc;
        }
        memcpy(probs + (size_t)i * D, nn_model_output(m), (size_t)k * D * sizeof *probs);
    }
    return 0;
}

/* ---- configuration JSON ------------------------------------------------- */

static void jnum(ck_buf *b, const char *key, double v)
{
    ck_buf_printf(b, ",\"%s\":", key);
    ck_buf_json_num17(b, v); /* the bytes resuming compares, as ever */
}

/* How the work was shared out: threads and processes. Neither changes a
 * result, so a run may resume with others. */
typedef struct run_layout {
    int threads, processes;
} run_layout;

/* The run's full configuration, with `epochs` as its epochs and `lay` as
 * its layout. Resuming requires the same text but for the epochs (an
 * extended run) and the layout. */
static char *config_json(const nn_model *m, const nn_train_opts *o, int loss, int epochs,
                         run_layout lay)
{
    ck_buf b = {0};
    ck_buf_str(&b, "{\"model\":");
    ck_buf_json_str(&b, m->name);
    ck_buf_str(&b, ",\"spec\":");
    ck_buf_json_str(&b, m->spec);
    ck_buf_printf(&b, ",\"epochs\":%d,\"batch\":%d", epochs, m->batch);
    ck_buf_str(&b, ",\"optimizer\":{\"name\":");
    ck_buf_json_str(&b, nn_optim_name(o->optim.kind));
    jnum(&b, "lr", o->optim.lr);
    if (o->optim.kind == NN_OPT_SGD) {
        jnum(&b, "momentum", o->optim.momentum);
        ck_buf_str(&b, o->optim.nesterov ? ",\"nesterov\":true" : ",\"nesterov\":false");
    } else if (o->optim.kind == NN_OPT_RMSPROP || o->optim.kind == NN_OPT_RMSPROP_TF2) {
        jnum(&b, "rho", o->optim.rho);
        if (o->optim.momentum != 0.0) { /* absent when 0, as recorded before it existed */
            jnum(&b, "momentum", o->optim.momentum);
        }
        jnum(&b, "epsilon", o->optim.eps);
    } else {
        jnum(&b, "beta_1", o->optim.beta1);
        jnum(&b, "beta_2", o->optim.beta2);
        jnum(&b, "epsilon", o->optim.eps);
    }
    ck_buf_str(&b, "},\"loss\":");
    ck_buf_json_str(&b, nn_loss_name((nn_loss_kind)loss));
    /* The kernel tier rounds differently from another: part of the run. */
    ck_buf_printf(&b, ",\"seed\":%llu,\"threads\":%d", (unsigned long long)o->seed, lay.threads);
    /* Absent at their defaults, as recorded before they existed. */
    if (lay.processes > 1) {
        ck_buf_printf(&b, ",\"processes\":%d", lay.processes);
    }
    if (o->shards > 1) {
        ck_buf_printf(&b, ",\"shards\":%d", o->shards);
    }
    ck_buf_printf(&b, ",\"isa\":\"%s\",\"patience\":%d",
                  ck_isa_name(m->ex.kern ? m->ex.kern->isa : CK_ISA_GENERIC), o->patience);
    if (o->plateau.patience > 0) { /* absent when off, as recorded before it existed */
        const nn_plateau *pl = &o->plateau;
        ck_buf_printf(&b, ",\"reduce_lr\":{\"patience\":%d,\"cooldown\":%d", pl->patience,
                      pl->cooldown);
        jnum(&b, "factor", pl->factor);
        jnum(&b, "min_delta", pl->min_delta);
        jnum(&b, "min_lr", pl->min_lr);
        ck_buf_str(&b, "}");
    }
    ck_buf_str(&b, ",\"dataset_hash\":");
    ck_buf_json_str(&b, o->dataset_hash);
    if (o->weights) {
        ck_buf_str(&b, ",\"weights\":");
        ck_buf_json_str(&b, o->weights);
    }
    if (o->trainable_from) {
        ck_buf_str(&b, ",\"trainable_from\":");
        ck_buf_json_str(&b, o->trainable_from);
    }
    if (o->config_extra) {
        ck_buf_str(&b, ",\"extra\":");
        ck_buf_str(&b, o->config_extra);
    }
    ck_buf_str(&b, "}");
    return ck_buf_take(&b);
}

static run_layout layout_of(const nn_train_opts *o)
{
    return (run_layout){o->threads, o->comm ? o->comm->size : 1};
}

char *nn_train_config(const nn_model *m, const nn_train_opts *o)
{
    int loss = resolve_loss(m, o->loss);
    return loss < 0 ? NULL : config_json(m, o, loss, o->epochs, layout_of(o));
}

/* The integer member `key` (`,"key":`) of a configuration config_json
 * wrote, or `absent`. It is the first such text: inside a JSON string a
 * quote is always escaped, so `,"key":` occurs only between members. */
static int config_int(const char *config, const char *key, int absent)
{
    char pat[32];
    snprintf(pat, sizeof pat, ",\"%s\":", key);
    const char *p = config ? strstr(config, pat) : NULL;
    return p ? atoi(p + strlen(pat)) : absent;
}

/* ---- the loop ----------------------------------------------------------- */

typedef struct run {
    nn_model *m;
    const nn_train_opts *o;
    char *config;
    int loss;
    nn_shards shards;
} run;

/* One training epoch; fills p (means, stall, speed). Returns 0, 1 when a
 * callback asked to stop, or an error. */
static int train_epoch(run *r, const nn_source *src, int epoch, nn_progress *p,
                       nn_train_result *res, char *err, size_t errlen)
{
    nn_model *m = r->m;
    const nn_train_opts *o = r->o;
    double t0 = ck_now(), total = 0;
    int64_t correct = 0;
    int stop = 0;
    r->shards.comm_wait = 0;
    int rc = src->begin ? src->begin(src->ctx, epoch, err, errlen) : 0;
    for (int64_t bi = 0;; bi++) {
        nn_batch b = {0};
        double tw = ck_now();
        if (rc == 0) {
            rc = src->next(src->ctx, &b, err, errlen);
        }
        p->input_stall += ck_now() - tw;
        if (rc == 0) {
            rc = check_batch(m, &b, m->name, epoch, bi, err, errlen);
        }
        /* Every process sees the same batches, so all end here together;
         * one that failed still takes part in the step, to stop the rest. */
        if (rc == 0 && b.n == 0 && b.total == 0) {
            break;
        }
        nn_step_key key = {.seed = o->seed, .epoch = epoch, .batch = bi};
        nn_step_out out;
        rc = nn_shards_step(&r->shards, m, r->loss, &b, &key, rc ? rc : stop, &out, err, errlen);
        if (rc) {
            break;
        }
        if (!isfinite(out.loss)) {
            res->bad_epoch = epoch + 1;
            res->bad_batch = bi + 1;
            return ck_err(err, errlen, CK_ENUMERIC,
                          "%s: epoch %d batch %lld: loss is %s; training stopped (the checkpoint "
                          "of epoch %d is kept)",
                          m->name, epoch + 1, (long long)bi + 1,
                          isnan(out.loss) ? "NaN" : "infinite", epoch);
        }
        if (out.stop) { /* a process that asked to stop computed nothing this step */
            return 1;
        }
        nn_model_update(m);
        total += out.loss;
        correct += out.correct;
        p->samples += out.samples;
        p->batch = bi + 1;
        p->loss = total / (double)p->samples;
        p->accuracy = (double)correct / (double)p->samples;
        p->seconds = ck_now() - t0;
        p->comm_wait = r->shards.comm_wait;
        if (o->on_batch && o->on_batch(o->cb_ctx, p)) {
            stop = 1;
            if (!r->shards.comm) {
                return 1;
            }
        }
    }
    if (rc == 0 && r->shards.comm) { /* a stop asked after the last batch */
        rc = nn_shards_agree(&r->shards, m->name, stop, &stop, err, errlen);
    }
    if (rc || stop) {
        return rc ? rc : 1;
    }
    if (p->samples == 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: epoch %d: the training source is empty", m->name,
                      epoch + 1);
    }
    double secs = ck_now() - t0;
    p->images_per_s = secs > 0 ? (double)p->samples / secs : 0;
    return 0;
}

static int save_checkpoints(run *r, const nn_ckpt_state *st, int improved, char *err, size_t errlen)
{
    int rc = 0;
    if (improved && r->o->best_path) {
        rc = nn_ckpt_write(r->m, st, r->config, r->o->best_path, err, errlen);
    }
    if (rc == 0 && r->o->last_path) {
        rc = nn_ckpt_write(r->m, st, r->config, r->o->last_path, err, errlen);
    }
    return rc;
}

nn_plateau nn_plateau_defaults(void)
{
    return (nn_plateau){.patience = 10, .factor = 0.1, .min_delta = 1e-4};
}

int nn_plateau_set(nn_plateau *pl, const char *key, double v, char *err, size_t errlen)
{
    static const struct {
        const char *key, *rule;
        double lo, hi; /* v in (lo, hi) when open, else in [lo, hi] */
        int open, whole;
        size_t at; /* the member: an int when whole, else a double */
    } rules[] = {
        {"factor", "in (0, 1)", 0, 1, 1, 0, offsetof(nn_plateau, factor)},
        {"patience", "a whole number >= 1", 1, 1e6, 0, 1, offsetof(nn_plateau, patience)},
        {"cooldown", "a whole number >= 0", 0, 1e6, 0, 1, offsetof(nn_plateau, cooldown)},
        {"min_lr", ">= 0", 0, INFINITY, 0, 0, offsetof(nn_plateau, min_lr)},
        {"min_delta", ">= 0", 0, INFINITY, 0, 0, offsetof(nn_plateau, min_delta)},
    };
    enum { NRULES = sizeof rules / sizeof rules[0] };
    int k = 0;
    while (k < NRULES && strcmp(key, rules[k].key) != 0) {
        k++;
    }
    if (k == NRULES) {
        ck_nearest near;
        ck_nearest_init(&near, key);
        char keys[128] = "";
        for (int i = 0; i < NRULES; i++) {
            ck_nearest_add(&near, rules[i].key);
            size_t n = strlen(keys);
            snprintf(keys + n, sizeof keys - n, "%s%s", i ? ", " : "", rules[i].key);
        }
        char hint[64];
        return ck_err(err, errlen, CK_EINVAL, "no plateau setting '%s' (%s)%s", key, keys,
                      ck_nearest_hint(&near, hint, sizeof hint));
    }
    const int in =
        rules[k].open ? v > rules[k].lo && v < rules[k].hi : v >= rules[k].lo && v <= rules[k].hi;
    if (!isfinite(v) || !in || (rules[k].whole && v != floor(v))) {
        return ck_err(err, errlen, CK_EINVAL, "the plateau's %s must be %s, not %g", key,
                      rules[k].rule, v);
    }
    char *member = (char *)pl + rules[k].at;
    if (rules[k].whole) {
        *(int *)member = (int)v;
    } else {
        *(double *)member = v;
    }
    return 0;
}

/* Keras's ReduceLROnPlateau.on_epoch_end, monitoring val_loss: the
 * learning rate is a float32 variable in Keras, cut in double and
 * stored back as float32; so it is here. */
static void plateau_step(const nn_plateau *pl, double val_loss, nn_ckpt_state *st, nn_model *m)
{
    if (st->plateau_cooldown > 0) {
        st->plateau_cooldown--;
        st->plateau_wait = 0;
    }
    if (val_loss < st->plateau_best - pl->min_delta) {
        st->plateau_best = val_loss;
        st->plateau_wait = 0;
    } else if (st->plateau_cooldown == 0 && ++st->plateau_wait >= pl->patience) {
        float lr = (float)m->opt.lr;
        if (lr > (float)pl->min_lr) {
            double cut = (double)lr * pl->factor;
            m->opt.lr = (float)(cut > pl->min_lr ? cut : pl->min_lr);
            st->plateau_cooldown = pl->cooldown;
            st->plateau_wait = 0;
        }
    }
}

static int train_loop(run *r, const nn_source *train, const nn_source *val, nn_ckpt_state *st,
                      nn_train_result *res, char *err, size_t errlen)
{
    const nn_train_opts *o = r->o;
    nn_model *m = r->m;
    int64_t batches = train->size > 0 ? (train->size + m->batch - 1) / m->batch : 0;
    if (o->patience > 0 && st->wait >= o->patience) {
        res->stopped_early = 1; /* resumed after early stopping: as it was */
        return 0;
    }
    for (int e = st->epoch; e < o->epochs; e++) {
        nn_progress p = {.epoch = e + 1, .epochs = o->epochs, .batches = batches};
        p.val_loss = p.val_accuracy = (double)NAN;
        double t0 = ck_now();
        int rc = train_epoch(r, train, e, &p, res, err, errlen), stop = 0;
        if (rc) {
            return rc;
        }
        if (val && o->on_batch) { /* say that validation runs, once */
            p.validating = 1;
            stop = o->on_batch(o->cb_ctx, &p);
            p.validating = 0;
            if (stop && !r->shards.comm) {
                return 1;
            }
        }
        if (val) { /* every process takes part, a stop is agreed on below */
            nn_eval ev;
            if ((rc =
                     evaluate(m, (nn_loss_kind)r->loss, val, e, &r->shards, 0, &ev, err, errlen))) {
                return rc;
            }
            p.val_loss = ev.loss;
            p.val_accuracy = ev.accuracy;
            nn_eval_free(&ev);
        }
        p.seconds = ck_now() - t0;
        /* Keras's EarlyStopping(monitor="val_loss", min_delta=0) and
         * ModelCheckpoint(save_best_only): without validation there is
         * no best epoch (the training loss is no measure of it). */
        p.best = val && p.val_loss < st->best;
        if (p.best) {
            st->best = p.val_loss;
            st->best_epoch = e + 1;
            st->wait = 0;
        } else if (val) {
            st->wait++;
        }
        p.lr = m->opt.lr;
        if (val && o->plateau.patience > 0) {
            plateau_step(&o->plateau, p.val_loss, st, m);
        }
        p.next_lr = m->opt.lr;
        st->epoch = e + 1;
        res->epochs_done = st->epoch;
        res->best_epoch = st->best_epoch;
        res->best_loss = st->best;
        if (o->record) {
            rc = o->record->epoch(o->record->ctx, &p, err, errlen);
        }
        if (rc == 0) {
            rc = save_checkpoints(r, st, p.best, err, errlen);
        }
        if (rc == 0 && o->on_epoch && o->on_epoch(o->cb_ctx, &p)) {
            stop = 1;
        }
        if (r->shards.comm) { /* only rank 0 records: every process hears how it went */
            rc = nn_shards_agree(&r->shards, m->name, rc ? rc : stop, &stop, err, errlen);
            if (rc == 0) {
                rc = nn_shards_same_weights(&r->shards, m, e + 1, err, errlen);
            }
        }
        if (rc || stop) {
            return rc ? rc : 1;
        }
        if (o->patience > 0 && st->wait >= o->patience) {
            res->stopped_early = 1;
            break;
        }
    }
    return 0;
}

/* Rank 0's weights, optimizer state and trainer state to every process. */
static int share_state(nn_model *m, const nn_comm *c, nn_ckpt_state *st, char *err, size_t errlen)
{
    size_t state = (size_t)nn_optim_slots(&m->opt) * m->nparams;
    int rc = c->share(c->ctx, m->params, m->nparams * sizeof *m->params, err, errlen);
    if (rc == 0 && state) {
        rc = c->share(c->ctx, m->state, state * sizeof *m->state, err, errlen);
    }
    if (rc == 0) {
        rc = c->share(c->ctx, &m->steps, sizeof m->steps, err, errlen);
    }
    if (rc == 0) { /* a plateau may have lowered it */
        rc = c->share(c->ctx, &m->opt.lr, sizeof m->opt.lr, err, errlen);
    }
    return rc ? rc : c->share(c->ctx, st, sizeof *st, err, errlen);
}

int nn_train(nn_model *m, const nn_train_opts *o, const nn_source *train, const nn_source *val,
             nn_train_result *res, char *err, size_t errlen)
{
    nn_train_result local;
    res = res ? res : &local;
    memset(res, 0, sizeof *res);
    int loss = resolve_loss(m, o->loss);
    if (loss < 0) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: train: the last layer must end in sigmoid or softmax matching the "
                      "loss (%s)",
                      m->name, nn_loss_name(o->loss));
    }
    if (o->epochs < 1 || o->patience < 0 || !train || !train->next ||
        (o->resume && !o->last_path)) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: train: bad options (epochs >= 1, a last checkpoint to resume)", m->name);
    }
    if ((o->patience > 0 || o->plateau.patience > 0) && !val) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: train: %s watches val_loss, and there is no validation", m->name,
                      o->patience > 0 ? "early stopping" : "the learning-rate plateau");
    }
    if (o->plateau.patience < 0 ||
        (o->plateau.patience > 0 && !(o->plateau.factor > 0 && o->plateau.factor < 1))) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: train: a plateau's factor is in (0, 1) and its patience >= 1", m->name);
    }
    if (o->threads > 0) {
        openblas_set_num_threads(o->threads);
    }
    if (o->trainable_from) {
        int rc = nn_model_trainable_from(m, o->trainable_from, err, errlen);
        if (rc) {
            return rc;
        }
    }
    run r = {.m = m, .o = o, .loss = loss};
    nn_ckpt_state st = {.seed = o->seed, .best = INFINITY, .plateau_best = INFINITY};
    char *summary = NULL;
    const nn_comm *comm = o->comm && o->comm->size > 1 ? o->comm : NULL;
    const int lead = !comm || comm->rank == 0; /* reads, records, writes */
    r.config = config_json(m, o, loss, o->epochs, layout_of(o));
    int rc = r.config && nn_model_summary(m, &summary) == 0
                 ? 0
                 : ck_err(err, errlen, CK_ENOMEM, "%s: train: out of memory", m->name);
    if (rc == 0) {
        rc = nn_shards_open(&r.shards, m, o->shards, comm, err, errlen);
    }
    /* A run killed before its first checkpoint resumes from the start. */
    int from_ckpt = lead && o->resume && access(o->last_path, F_OK) == 0;
    if (rc == 0 && from_ckpt) {
        char *cfg = NULL;
        rc = nn_ckpt_read(m, o->last_path, &st, &cfg, err, errlen);
        /* Only the epochs and the layout may change: the run goes on to
         * the new end (Keras's initial_epoch), or stops at a nearer one. */
        run_layout was = {config_int(cfg, "threads", 0), config_int(cfg, "processes", 1)};
        char *same = rc == 0 ? config_json(m, o, loss, config_int(cfg, "epochs", -1), was) : NULL;
        if (rc == 0 && (!same || strcmp(cfg ? cfg : "", same) != 0)) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: resume: the run's configuration differs from this one", o->last_path);
        } else if (rc == 0 && st.epoch > o->epochs) {
            rc = ck_err(err, errlen, CK_EINVAL,
                        "%s: resume: the checkpoint is of epoch %d, after the last one (%d)",
                        o->last_path, st.epoch, o->epochs);
        }
        free(same);
        free(cfg);
    } else if (rc == 0) {
        rc = nn_model_set_optim(m, &o->optim);
        if (rc == 0) {
            nn_model_init(m, o->seed);
        }
        if (rc == 0 && o->weights && lead) {
            rc = nn_model_load_h5(m, o->weights, 0, NULL, err, errlen);
        }
    }
    if (rc == 0 && o->record) {
        rc = o->record->start(o->record->ctx, r.config, summary, o->resume, st.epoch, err, errlen);
    }
    int started = rc == 0;
    if (comm) { /* every process starts from rank 0's weights and state */
        int stop = 0;
        rc = nn_shards_agree(&r.shards, m->name, rc, &stop, err, errlen);
        if (rc == 0) {
            rc = share_state(m, comm, &st, err, errlen);
        }
    }
    res->epochs_done = st.epoch;
    res->best_epoch = st.best_epoch;
    res->best_loss = st.best;
    if (rc == 0) {
        rc = train_loop(&r, train, val, &st, res, err, errlen);
        if (rc == 1) {
            rc = ck_err(err, errlen, CK_ECANCELED, "%s: train: stopped after epoch %d", m->name,
                        st.epoch);
        }
    }
    if (o->record && started) {
        const char *status = rc == 0 ? "done" : rc == CK_ECANCELED ? "interrupted" : "failed";
        char e2[256];
        int rc2 = o->record->finish(o->record->ctx, status, e2, sizeof e2);
        if (rc == 0 && rc2) {
            rc = ck_err(err, errlen, rc2, "%s", e2);
        }
    }
    nn_shards_close(&r.shards);
    free(summary);
    free(r.config);
    return rc;
}
