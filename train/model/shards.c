/* shards.c: one training step as the sum of its shards, on one process or
 * several, with the same bits whatever the number of processes.
 *
 * A batch of T samples is cut into S shards (ck_cut: shard s holds
 * samples [T*s/S, T*(s+1)/S)), and process r of P takes shards
 * [S*r/P, S*(r+1)/P). Each shard runs its own forward and backward with
 * the loss gradient scaled by the whole batch (nn_model_loss_shard) and
 * dropout drawn where the whole batch's would be (nn_step_key.offset), so
 * a shard's gradient is the same bits on any process. The batch's
 * gradient is their sum folded left in shard order, ((g0 + g1) + g2) + ...,
 * which no process can reorder:
 *
 *   rank 0 folds its shards as they finish and sends the partial sum, per
 *   layer, to rank 1; rank r adds its own shards, in order, to the partial
 *   sum it receives and sends it on; the last rank's sum is the batch's,
 *   broadcast to every process, which all take the same optimizer step.
 *
 * The chain is one message per layer per link, pipelined over layers;
 * rank 0 keeps its shards folded as they come (two gradient buffers), a
 * later rank keeps its shards apart until the partial sum arrives. Losses
 * and correct counts go per shard through one sum of doubles in which
 * each element comes from one process (exact), then fold in shard order
 * too; the same sum carries every process's status, so that a failure or
 * a stop on any process ends the step on all of them. With S = P = 1 this
 * is the plain step: one forward and backward of the whole batch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "shards.h"

enum { TAG_CHAIN = 100 };

/* The gradient goes in buckets: the layers whose gradient is computed,
 * last first (the order the backward finishes them in), each cut in
 * pieces of at most BUCKET floats, so that on a chain of many processes a
 * large layer (catsdogs-2nd's first Dense, 3.2M weights) is passed on in
 * a pipeline rather than whole from hop to hop. */
enum { BUCKET = 1 << 18 };

static int collect_buckets(nn_shards *s, const nn_model *m)
{
    size_t cap = 0;
    for (int i = 1; i < m->nlayers; i++) {
        cap += (m->layers[i].desc.w_n + m->layers[i].desc.b_n + BUCKET - 1) / BUCKET;
    }
    s->nbuckets = 0;
    s->bucket_off = malloc((cap + 1) * sizeof *s->bucket_off);
    s->bucket_n = malloc((cap + 1) * sizeof *s->bucket_n);
    s->bucket_layer = malloc((cap + 1) * sizeof *s->bucket_layer);
    if (!s->bucket_off || !s->bucket_n || !s->bucket_layer) {
        return CK_ENOMEM;
    }
    for (int i = m->nlayers - 1; i >= 1; i--) {
        const nn_layer *L = &m->layers[i];
        size_t n = L->desc.w_n + L->desc.b_n;
        for (size_t o = 0; !L->frozen && o < n; o += BUCKET) {
            s->bucket_layer[s->nbuckets] = i;
            s->bucket_off[s->nbuckets] = L->w_off + o;
            s->bucket_n[s->nbuckets] = n - o < BUCKET ? n - o : BUCKET;
            s->nbuckets++;
        }
    }
    return 0;
}

static float *grads_alloc(size_t n)
{
    float *p = NULL;
    return posix_memalign((void **)&p, 64, (n ? n : 1) * sizeof *p) ? NULL : p;
}

int nn_shards_open(nn_shards *s, nn_model *m, int shards, const nn_comm *comm, char *err,
                   size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->S = shards > 1 ? shards : 1;
    s->comm = comm && comm->size > 1 ? comm : NULL;
    s->P = s->comm ? comm->size : 1;
    s->rank = s->comm ? comm->rank : 0;
    if (s->P > s->S) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: %d processes and %d shard%s per batch: each process needs a shard "
                      "(--shards %d or more)",
                      m->name, s->P, s->S, s->S == 1 ? "" : "s", s->P);
    }
    s->first = (int)ck_cut(s->S, s->rank, s->P);
    s->count = (int)ck_cut(s->S, s->rank + 1, s->P) - s->first;
    s->final = m->grads;
    int rc = collect_buckets(s, m);
    /* Rank 0 folds its shards as they come, into `acc` (the final
     * gradients when it is alone) with the next shard in bufs[0]; a later
     * rank keeps one buffer per shard until the partial sum arrives. */
    int nbufs = s->rank == 0 ? (s->count > 1) : s->count;
    s->bufs = calloc((size_t)(nbufs ? nbufs : 1), sizeof *s->bufs);
    s->vec = calloc((size_t)(2 * s->S + s->P + 1), sizeof *s->vec);
    rc = rc || !s->bufs || !s->vec ? CK_ENOMEM : 0;
    for (int i = 0; rc == 0 && i < nbufs; i++) {
        rc = (s->bufs[s->nbufs++] = grads_alloc(m->nparams)) ? 0 : CK_ENOMEM;
    }
    if (rc == 0 && s->P > 1 && s->rank < s->P - 1) {
        rc = (s->acc = grads_alloc(m->nparams)) ? 0 : CK_ENOMEM;
    }
    if (rc == 0 && s->P > 1) {
        s->reqs = calloc((size_t)2 * s->nbuckets + 1, sizeof *s->reqs);
        rc = s->reqs ? 0 : CK_ENOMEM;
    }
    if (rc) { /* who the processes are stays known: the failure is agreed on */
        nn_shards_close(s);
        s->comm = comm && comm->size > 1 ? comm : NULL;
        s->P = s->comm ? comm->size : 1;
        s->rank = s->comm ? comm->rank : 0;
        return ck_err(err, errlen, rc, "%s: out of memory for the shards' gradients", m->name);
    }
    if (!s->acc) {
        s->acc = s->final; /* the last rank's sum is the batch's */
    }
    return 0;
}

void nn_shards_close(nn_shards *s)
{
    for (int i = 0; i < s->nbufs; i++) {
        free(s->bufs[i]);
    }
    free(s->bufs);
    if (s->acc != s->final) {
        free(s->acc);
    }
    free(s->vec);
    free(s->reqs);
    free(s->bucket_off);
    free(s->bucket_n);
    free(s->bucket_layer);
    memset(s, 0, sizeof *s);
}

/* Where this process's j-th shard's gradient goes. */
static float *shard_grads(const nn_shards *s, int j)
{
    if (s->rank == 0) {
        return j == 0 ? s->acc : s->bufs[0];
    }
    return s->bufs[j];
}

/* dst[b] += src[b] over every bucket. */
static void fold_into(const nn_shards *s, float *dst, const float *src, int b)
{
    size_t o = s->bucket_off[b], n = s->bucket_n[b];
    for (size_t i = 0; i < n; i++) {
        dst[o + i] += src[o + i];
    }
}

/* Bucket b of the chain: add this process's shards to the partial sum of
 * the ones before (rank 0: its folded shards are the partial sum), pass it
 * on, and take part in the last rank's broadcast of the batch's sum. The
 * first error is kept in s->rc; later buckets still take part, so every
 * process makes the same calls. */
static void exchange_bucket(nn_shards *s, int b)
{
    const nn_comm *c = s->comm;
    const int r = s->rank, P = s->P;
    float *acc = s->acc + s->bucket_off[b];
    size_t n = s->bucket_n[b];
    char *err = s->err;
    size_t errlen = sizeof s->err;
    int rc = 0;
    if (r > 0) {
        void *req = NULL;
        double t0 = ck_now();
        rc = c->recv(c->ctx, acc, n, r - 1, TAG_CHAIN + b, &req, err, errlen);
        rc = rc ? rc : c->wait(c->ctx, req, err, errlen);
        s->comm_wait += ck_now() - t0;
        for (int j = 0; j < s->count; j++) {
            fold_into(s, s->acc, s->bufs[j], b);
        }
    }
    if (rc == 0 && r < P - 1) {
        rc = c->send(c->ctx, acc, n, r + 1, TAG_CHAIN + b, &s->reqs[s->nreqs++], err, errlen);
    }
    if (rc == 0) {
        rc = c->bcast(c->ctx, s->final + s->bucket_off[b], n, P - 1, &s->reqs[s->nreqs++], err,
                      errlen);
    }
    s->rc = s->rc ? s->rc : rc;
    s->next = b + 1;
}

/* The backward's hook on this process's last shard: layer `layer` is
 * done, so its bucket can go while the layers below run. */
static void grad_ready(void *ctx, int layer)
{
    nn_shards *s = ctx;
    for (int b; (b = s->next) < s->nbuckets && s->bucket_layer[b] == layer && s->rc == 0;) {
        if (s->rank == 0 && s->count > 1) {
            fold_into(s, s->acc, s->bufs[0], b); /* the last shard joins the others */
        }
        exchange_bucket(s, b);
    }
}

/* The rest of the exchange (all of it when no backward ran here), then
 * every request completed. */
static int exchange_finish(nn_shards *s, char *err, size_t errlen)
{
    while (s->next < s->nbuckets) {
        exchange_bucket(s, s->next);
    }
    double t0 = ck_now();
    for (int i = 0; i < s->nreqs; i++) {
        int rc = s->comm->wait(s->comm->ctx, s->reqs[i], s->err, sizeof s->err);
        s->rc = s->rc ? s->rc : rc;
    }
    s->comm_wait += ck_now() - t0;
    s->nreqs = 0;
    return s->rc ? ck_err(err, errlen, s->rc, "%s", s->err) : 0;
}

int nn_shards_step(nn_shards *s, nn_model *m, int loss, const nn_batch *b, const nn_step_key *key,
                   int status, nn_step_out *out, char *err, size_t errlen)
{
    const int S = s->S, P = s->P, T = b->total ? b->total : b->n;
    const int off = b->total ? b->offset : 0;
    const size_t in = m->layers[0].desc.size;
    const int lo = (int)ck_cut(T, s->first, S), hi = (int)ck_cut(T, s->first + s->count, S);
    double *lossv = s->vec, *corr = s->vec + S, *failed = s->vec + 2 * S;
    memset(s->vec, 0, (size_t)(2 * S + P + 1) * sizeof *s->vec);
    memset(out, 0, sizeof *out);
    s->next = 0;
    s->rc = 0;
    if (status == 0 && (lo < off || hi > off + b->n)) {
        status = ck_err(err, errlen, CK_EINVAL,
                        "%s: batch %lld: the source lent samples [%d, %d) of %d, and this "
                        "process needs [%d, %d)",
                        m->name, (long long)key->batch + 1, off, off + b->n, T, lo, hi);
    }
    float *keep = m->grads;
    for (int j = 0; status == 0 && j < s->count; j++) {
        const int sh = s->first + j, a = (int)ck_cut(T, sh, S), e = (int)ck_cut(T, sh + 1, S);
        const int last = j == s->count - 1;
        if (s->rank == 0 && j > 0 && a == e) {
            continue; /* an empty shard adds nothing */
        }
        m->grads = shard_grads(s, j);
        nn_zero_grad(m);
        if (a == e) {
            continue;
        }
        nn_step_key k = *key;
        k.offset = a;
        nn_model_forward(m, b->x + (size_t)(a - off) * in, e - a, &k);
        lossv[sh] = nn_model_loss_shard(m, (nn_loss_kind)loss, b->labels + (a - off), T);
        corr[sh] = (double)nn_model_correct(m, b->labels + (a - off));
        /* A bad loss still runs its backward: no update follows, but
         * every process makes the same exchange. */
        m->grad_ready = s->comm && last ? grad_ready : NULL;
        m->grad_ctx = s;
        nn_model_backward(m);
        m->grad_ready = NULL;
        if (s->rank == 0 && j > 0 && !(s->comm && last)) {
            for (int bk = 0; bk < s->nbuckets; bk++) {
                fold_into(s, s->acc, s->bufs[0], bk);
            }
        }
    }
    m->grads = keep;
    int rc = s->comm ? exchange_finish(s, err, errlen) : 0;
    if (status < 0) {
        failed[s->rank] = 1;
    }
    failed[P] = status == 1; /* a stop asked for (rank 0's callbacks) */
    if (rc == 0 && s->comm) {
        double t0 = ck_now();
        rc = s->comm->sum(s->comm->ctx, s->vec, 2 * S + P + 1, err, errlen);
        s->comm_wait += ck_now() - t0;
    }
    if (status < 0) {
        return status; /* this process's own error, with its message */
    }
    if (rc) {
        return rc;
    }
    for (int p = 0; p < P; p++) {
        if (failed[p] != 0) {
            return ck_err(err, errlen, CK_ECANCELED,
                          "%s: epoch %d batch %lld: process %d failed (its own message says why)",
                          m->name, key->epoch + 1, (long long)key->batch + 1, p);
        }
    }
    out->stop = failed[P] != 0;
    for (int sh = 0; sh < S; sh++) {
        out->loss += lossv[sh];
        out->correct += (int64_t)corr[sh];
    }
    out->samples = T;
    return 0;
}

int nn_shards_eval(nn_shards *s, nn_model *m, int loss, const nn_batch *b, double *lossv,
                   double *correct, double *confusion, char *err, size_t errlen)
{
    const int S = s->S, T = b->total ? b->total : b->n, off = b->total ? b->offset : 0;
    const int D = nn_model_outputs(m), classes = D == 1 ? 2 : D;
    const size_t in = m->layers[0].desc.size;
    const int lo = (int)ck_cut(T, s->first, S), hi = (int)ck_cut(T, s->first + s->count, S);
    if (lo < off || hi > off + b->n) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: evaluate: the source lent samples [%d, %d) of %d, and this process "
                      "needs [%d, %d)",
                      m->name, off, off + b->n, T, lo, hi);
    }
    for (int sh = s->first; sh < s->first + s->count; sh++) {
        const int a = (int)ck_cut(T, sh, S), e = (int)ck_cut(T, sh + 1, S);
        if (a == e) {
            continue;
        }
        const int32_t *labels = b->labels + (a - off);
        nn_model_forward(m, b->x + (size_t)(a - off) * in, e - a, NULL);
        lossv[sh] = nn_model_loss(m, (nn_loss_kind)loss, labels);
        correct[sh] = (double)nn_model_correct(m, labels);
        const float *p = nn_model_output(m);
        for (int i = 0; i < e - a; i++) {
            const float *row = p + (size_t)i * D;
            int pred = 0;
            if (D == 1) {
                pred = row[0] > 0.5f;
            } else {
                for (int j = 1; j < D; j++) {
                    pred = row[j] > row[pred] ? j : pred;
                }
            }
            confusion[(size_t)labels[i] * classes + pred] += 1;
        }
    }
    return 0;
}

int nn_shards_agree(nn_shards *s, const char *name, int status, int *stop, char *err, size_t errlen)
{
    /* Its own buffer: this also runs after a plan that failed to open. */
    const int P = s->P;
    double *failed = calloc((size_t)P + 1, sizeof *failed);
    if (!failed) {
        return status < 0 ? status : ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", name);
    }
    failed[s->rank] = status < 0;
    failed[P] = status == 1;
    char e2[256];
    int rc = s->comm ? s->comm->sum(s->comm->ctx, failed, P + 1, e2, sizeof e2) : 0;
    *stop = failed[P] != 0;
    int other = -1;
    for (int p = 0; p < P && other < 0; p++) {
        other = failed[p] != 0 ? p : -1;
    }
    free(failed);
    if (status < 0) {
        return status;
    }
    if (rc) {
        return ck_err(err, errlen, rc, "%s", e2);
    }
    if (other >= 0) {
        return ck_err(err, errlen, CK_ECANCELED, "%s: process %d failed (its own message says why)",
                      name, other);
    }
    return 0;
}

/* FNV-1a over the weights' bytes, in two 32-bit halves (exact as doubles). */
static void weights_hash(const nn_model *m, double out[2])
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p = (const unsigned char *)m->params;
    for (size_t i = 0; i < m->nparams * sizeof *m->params; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }
    out[0] = (double)(h >> 32);
    out[1] = (double)(h & 0xffffffffu);
}

int nn_shards_same_weights(nn_shards *s, const nn_model *m, int epoch, char *err, size_t errlen)
{
    if (!s->comm) {
        return 0;
    }
    double *v = s->vec;
    memset(v, 0, (size_t)2 * s->P * sizeof *v);
    weights_hash(m, v + 2 * s->rank);
    int rc = s->comm->sum(s->comm->ctx, v, 2 * s->P, err, errlen);
    for (int p = 1; rc == 0 && p < s->P; p++) {
        if (v[2 * p] != v[0] || v[2 * p + 1] != v[1]) {
            rc = ck_err(err, errlen, CK_ENUMERIC,
                        "%s: after epoch %d the weights of process %d differ from process 0's "
                        "(they must be the same bits): a fault of that machine, or a bug",
                        m->name, epoch, p);
        }
    }
    return rc;
}
