/* ckpt.c: checkpoints, a small versioned binary format.
 *
 *   "CKNN\r\n\x1a\n"  magic (8 bytes; catches text-mode and truncation damage)
 *   u32 version (2; 1 is read too, without the plateau fields)
 *   str name, str spec, str config        (u32 length + bytes)
 *   u32 optimizer kind, f64 lr, f64 momentum, u32 nesterov,
 *       f64 rho, f64 beta1, f64 beta2, f64 eps, i64 steps
 *   u32 epoch, u64 seed, f64 best, u32 best_epoch, u32 wait,
 *       f64 plateau_best, u32 plateau_wait, u32 plateau_cooldown (version 2)
 *   u64 nparams, f32 params[nparams]
 *   u32 slots, f32 state[slots * nparams]
 *   u64 FNV-1a of everything before it
 *
 * All little-endian, written byte by byte so the file is the same on any
 * host. The spec travels with the weights, so evaluate and predict need
 * nothing but the checkpoint. A checkpoint is written through
 * ck_write_file_atomic (PATH.part, flushed to disk, renamed), so a kill
 * leaves either the old or the new one, never half of one.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn_internal.h"

static const unsigned char magic[8] = {'C', 'K', 'N', 'N', '\r', '\n', 0x1a, '\n'};
enum { VERSION = 2, MAX_STR = 1 << 24 };

static void w_u64(ck_buf *b, uint64_t v, int bytes)
{
    unsigned char c[8];
    for (int i = 0; i < bytes; i++) {
        c[i] = (unsigned char)(v >> (8 * i));
    }
    ck_buf_add(b, c, (size_t)bytes);
}

static void w_f64(ck_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    w_u64(b, u, 8);
}

static void w_str(ck_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    w_u64(b, n, 4);
    ck_buf_add(b, s ? s : "", n);
}

static void w_floats(ck_buf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        w_u64(b, u, 4);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

int nn_ckpt_write(const nn_model *m, const nn_ckpt_state *st, const char *config, const char *path,
                  char *err, size_t errlen)
{
    ck_buf b = {0};
    ck_buf_add(&b, magic, sizeof magic);
    w_u64(&b, VERSION, 4);
    w_str(&b, m->name);
    w_str(&b, m->spec);
    w_str(&b, config);
    w_u64(&b, (uint64_t)m->opt.kind, 4);
    w_f64(&b, m->opt.lr);
    w_f64(&b, m->opt.momentum);
    w_u64(&b, (uint64_t)m->opt.nesterov, 4);
    w_f64(&b, m->opt.rho);
    w_f64(&b, m->opt.beta1);
    w_f64(&b, m->opt.beta2);
    w_f64(&b, m->opt.eps);
    w_u64(&b, (uint64_t)m->steps, 8);
    w_u64(&b, (uint64_t)st->epoch, 4);
    w_u64(&b, st->seed, 8);
    w_f64(&b, st->best);
    w_u64(&b, (uint64_t)st->best_epoch, 4);
    w_u64(&b, (uint64_t)st->wait, 4);
    w_f64(&b, st->plateau_best);
    w_u64(&b, (uint64_t)st->plateau_wait, 4);
    w_u64(&b, (uint64_t)st->plateau_cooldown, 4);
    w_u64(&b, m->nparams, 8);
    w_floats(&b, m->params, m->nparams);
    int slots = nn_optim_slots(&m->opt);
    w_u64(&b, (uint64_t)slots, 4);
    w_floats(&b, m->state, (size_t)slots * m->nparams);
    if (!b.oom) {
        w_u64(&b, fnv1a((const unsigned char *)b.s, b.len), 8);
    }
    if (b.oom) {
        ck_buf_free(&b);
        return ck_err(err, errlen, CK_ENOMEM, "%s: checkpoint: out of memory", path);
    }
    int rc = ck_write_file_atomic(path, b.s, b.len, err, errlen);
    ck_buf_free(&b);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    int bad;
    int version;
} rbuf;

static uint64_t r_u64(rbuf *b, int bytes)
{
    if (b->bad || b->len - b->pos < (size_t)bytes) {
        b->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint64_t)b->p[b->pos + i] << (8 * i);
    }
    b->pos += (size_t)bytes;
    return v;
}

static double r_f64(rbuf *b)
{
    uint64_t u = r_u64(b, 8);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* A malloc'd string, or NULL when malformed (b->bad set). */
static char *r_str(rbuf *b)
{
    uint64_t n = r_u64(b, 4);
    if (b->bad || n > MAX_STR || b->len - b->pos < n) {
        b->bad = 1;
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        b->bad = 1;
        return NULL;
    }
    memcpy(s, b->p + b->pos, n);
    s[n] = '\0';
    b->pos += n;
    return s;
}

static void r_floats(rbuf *b, float *v, size_t n)
{
    if (b->bad || (b->len - b->pos) / 4 < n) {
        b->bad = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)r_u64(b, 4);
        memcpy(&v[i], &u, 4);
    }
}

/* Reads the whole file and checks magic, version and checksum; the cursor
 * is left after the version. */
static int slurp(const char *path, rbuf *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    FILE *f = fopen(path, "rb");
    if (!f) {
        char why[128];
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                      ck_errno_text(errno, why, sizeof why));
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) {
        size = ftell(f);
    }
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return ck_err(err, errlen, CK_EIO, "%s: read: cannot size the file", path);
    }
    unsigned char *p = malloc((size_t)size + 1);
    if (!p) {
        fclose(f);
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", path);
    }
    size_t got = fread(p, 1, (size_t)size, f);
    fclose(f);
    b->p = p;
    b->len = got;
    if (got < sizeof magic + 12 || memcmp(p, magic, sizeof magic) != 0) {
        free(p);
        return ck_err(err, errlen, CK_EFORMAT, "%s: checkpoint: not a convkit checkpoint", path);
    }
    b->pos = sizeof magic;
    uint64_t version = r_u64(b, 4);
    b->version = (int)version;
    if (version < 1 || version > VERSION) {
        free(p);
        return ck_err(err, errlen, CK_EFORMAT,
                      "%s: checkpoint: version %llu, expected 1 to %d (a newer convkit's?)", path,
                      (unsigned long long)version, VERSION);
    }
    rbuf tail = {.p = p, .len = got, .pos = got - 8};
    if (r_u64(&tail, 8) != fnv1a(p, got - 8)) {
        free(p);
        return ck_err(err, errlen, CK_EFORMAT, "%s: checkpoint: checksum mismatch (damaged)", path);
    }
    b->len = got - 8;
    return 0;
}

/* Reads the rest after the three strings into m. */
static int read_body(rbuf *b, nn_model *m, nn_ckpt_state *st, const char *path, char *err,
                     size_t errlen)
{
    nn_optim_opts o = {0};
    uint64_t kind = r_u64(b, 4);
    o.kind = kind <= NN_OPT_RMSPROP_TF2 ? (nn_optim_kind)kind : NN_OPT_SGD;
    o.lr = r_f64(b);
    o.momentum = r_f64(b);
    o.nesterov = (int)r_u64(b, 4);
    o.rho = r_f64(b);
    o.beta1 = r_f64(b);
    o.beta2 = r_f64(b);
    o.eps = r_f64(b);
    int64_t steps = (int64_t)r_u64(b, 8);
    nn_ckpt_state s = {0};
    s.epoch = (int)r_u64(b, 4);
    s.seed = r_u64(b, 8);
    s.best = r_f64(b);
    s.best_epoch = (int)r_u64(b, 4);
    s.wait = (int)r_u64(b, 4);
    s.plateau_best = INFINITY; /* version 1: no plateau yet */
    if (b->version >= 2) {
        s.plateau_best = r_f64(b);
        s.plateau_wait = (int)r_u64(b, 4);
        s.plateau_cooldown = (int)r_u64(b, 4);
    }
    uint64_t np = r_u64(b, 8);
    if (b->bad || kind > NN_OPT_RMSPROP_TF2 || np != m->nparams) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: checkpoint: header does not fit the model",
                      path);
    }
    if (nn_model_set_optim(m, &o)) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: checkpoint: out of memory", path);
    }
    r_floats(b, m->params, m->nparams);
    uint64_t slots = r_u64(b, 4);
    if (b->bad || slots != (uint64_t)nn_optim_slots(&o)) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: checkpoint: optimizer state does not fit",
                      path);
    }
    r_floats(b, m->state, (size_t)slots * m->nparams);
    if (b->bad || b->pos != b->len) {
        return ck_err(err, errlen, CK_EFORMAT, "%s: checkpoint: truncated or trailing data", path);
    }
    m->steps = steps;
    if (st) {
        *st = s;
    }
    return 0;
}

int nn_ckpt_read(nn_model *m, const char *path, nn_ckpt_state *st, char **config, char *err,
                 size_t errlen)
{
    rbuf b;
    int rc = slurp(path, &b, err, errlen);
    if (rc) {
        return rc;
    }
    char *name = r_str(&b), *spec = r_str(&b), *cfg = r_str(&b);
    if (b.bad) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: checkpoint: malformed header", path);
    } else if (strcmp(spec, m->spec) != 0) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: checkpoint: written for another model ('%s'), not '%s'", path, name,
                    m->name);
    } else {
        rc = read_body(&b, m, st, path, err, errlen);
    }
    free(name);
    free(spec);
    if (rc == 0 && config) {
        *config = cfg;
    } else {
        free(cfg);
    }
    free((void *)b.p);
    return rc;
}

int nn_model_load(nn_model **out, const char *path, int batch, char *err, size_t errlen)
{
    *out = NULL;
    rbuf b;
    int rc = slurp(path, &b, err, errlen);
    if (rc) {
        return rc;
    }
    char *name = r_str(&b), *spec = r_str(&b), *cfg = r_str(&b);
    nn_model *m = NULL;
    if (b.bad) {
        rc = ck_err(err, errlen, CK_EFORMAT, "%s: checkpoint: malformed header", path);
    } else if ((rc = nn_model_create(&m, spec, name, batch, err, errlen)) == 0) {
        rc = read_body(&b, m, NULL, path, err, errlen);
    }
    free(name);
    free(spec);
    free((void *)b.p);
    if (rc) {
        free(cfg);
        nn_model_destroy(m);
        return rc;
    }
    if (cfg && !cfg[0]) {
        free(cfg);
        cfg = NULL;
    }
    m->config = cfg;
    *out = m;
    return 0;
}

const char *nn_model_config(const nn_model *m)
{
    return m->config;
}
