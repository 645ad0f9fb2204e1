/* h5.c: Keras HDF5 weight files, read and written with libhdf5.
 *
 * Keras's layout is a convention on top of HDF5, not a schema, and files
 * in the wild come from several Keras and h5py versions: h5py 2 wrote
 * attribute strings fixed-length (the keras.applications VGG16 files),
 * h5py 3 writes them variable-length, and Keras splits a list longer than
 * an object header holds (64 KB) into name0, name1... attributes. So the
 * reader takes any of those and trusts only what Keras's own loader
 * trusts: layer_names, each layer's weight_names in order (kernel, then
 * bias: the old VGG16 file calls them block1_conv1_W_1:0), and each
 * dataset's shape. The writer produces the most conservative form, the
 * one every version reads: fixed-length NUL-padded ASCII, as h5py 2 did.
 *
 * Loading validates every matched layer and reads it into scratch before
 * anything is copied into the model, so a bad file leaves the model as
 * it was. Saving goes through a temporary file renamed over the target.
 *
 * libhdf5 reports errors on a stack it would print to stderr; we switch
 * printing off for the duration of a call, take the innermost message
 * into our own one-line error, and clear the stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn_internal.h"

/* Keras's limit on one attribute (HDF5's object header is 64 KB). */
enum { HEADER_LIMIT = 64512 };
/* Bytes of a reason buffer. */
enum { WHY = 256 };

/* ---- libhdf5 plumbing --------------------------------------------------- */

/* The caller's automatic error printing, restored when the call ends. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static void quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const h5_quiet *q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc && e->desc[0]) {
        snprintf(data, WHY, "%s", e->desc);
    }
    return 0;
}

/* The most specific message on libhdf5's error stack, which is cleared. */
static const char *h5_reason(char buf[WHY])
{
    snprintf(buf, WHY, "libhdf5 failed");
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, buf);
    H5Eclear2(H5E_DEFAULT);
    return buf;
}

/* Closes any libhdf5 handle; negative ids are ignored. */
static void h5_close(hid_t id)
{
    if (id < 0) {
        return;
    }
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

/* ---- string lists -------------------------------------------------------- */

typedef struct strlist {
    int n;
    char **s; /* n malloc'd strings */
} strlist;

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->s[i]);
    }
    free(l->s);
    l->n = 0;
    l->s = NULL;
}

/* Appends n strings to l: from fixed-size records (size bytes each,
 * NUL-padded) when fixed, else from pointers (NULL read as ""). */
static int strlist_add(strlist *l, const void *buf, size_t n, size_t size, int fixed)
{
    char **s = realloc(l->s, ((size_t)l->n + n + 1) * sizeof *s);
    if (!s) {
        return CK_ENOMEM;
    }
    l->s = s;
    for (size_t i = 0; i < n; i++) {
        const char *v = fixed ? (const char *)buf + i * size : ((char *const *)buf)[i];
        /* A fixed record as long as its string has no NUL: never read past
         * it (strndup may look at byte size). */
        const char *end = fixed ? memchr(v, '\0', size) : NULL;
        size_t len = fixed ? (end ? (size_t)(end - v) : size) : strlen(v ? v : "");
        char *c = malloc(len + 1);
        if (!c) {
            return CK_ENOMEM;
        }
        memcpy(c, v ? v : "", len);
        c[len] = '\0';
        l->s[l->n++] = c;
    }
    return 0;
}

/* Context of one load: the file's path and where errors go. */
typedef struct h5_ctx {
    const char *path;
    char *err;
    size_t errlen;
} h5_ctx;

/* Appends attribute aname of obj (a string list of rank 0 or 1, fixed or
 * variable length, or any empty array) to l. where names obj in errors. */
static int read_attr_strings(const h5_ctx *c, hid_t obj, const char *where, const char *aname,
                             strlist *l)
{
    char why[WHY];
    int rc = 0;
    hid_t a = H5Aopen(obj, aname, H5P_DEFAULT), sp = -1, t = -1, mt = -1;
    void *buf = NULL;
    if (a < 0 || (sp = H5Aget_space(a)) < 0 || (t = H5Aget_type(a)) < 0) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: attribute %s: %s", c->path, where,
                    aname, h5_reason(why));
        goto done;
    }
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (n == 0) {
        goto done; /* Keras writes [] as an empty float64 array */
    }
    if (n < 0 || H5Sget_simple_extent_ndims(sp) > 1 || H5Tget_class(t) != H5T_STRING) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: attribute %s is not a list of strings",
                    c->path, where, aname);
        goto done;
    }
    int vlen = H5Tis_variable_str(t) > 0;
    size_t size = vlen ? sizeof(char *) : H5Tget_size(t);
    mt = H5Tcopy(H5T_C_S1);
    buf = calloc((size_t)n, size ? size : 1);
    if (mt < 0 || !buf) {
        rc = ck_err(c->err, c->errlen, CK_ENOMEM, "%s: %s: attribute %s: out of memory", c->path,
                    where, aname);
        goto done;
    }
    /* The file's character set (libhdf5 does not convert between them);
     * fixed strings come NUL-padded, whatever their padding on disk. */
    if (H5Tset_cset(mt, H5Tget_cset(t)) < 0 ||
        H5Tset_size(mt, vlen ? H5T_VARIABLE : (size ? size : 1)) < 0 ||
        (!vlen && H5Tset_strpad(mt, H5T_STR_NULLPAD) < 0) || H5Aread(a, mt, buf) < 0) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: attribute %s: %s", c->path, where,
                    aname, h5_reason(why));
        goto done;
    }
    if (strlist_add(l, buf, (size_t)n, size, !vlen)) {
        rc = ck_err(c->err, c->errlen, CK_ENOMEM, "%s: %s: attribute %s: out of memory", c->path,
                    where, aname);
    }
    if (vlen) {
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
    }
done:
    free(buf);
    h5_close(mt);
    h5_close(t);
    h5_close(sp);
    h5_close(a);
    return rc;
}

/* Keras's load_attributes_from_hdf5_group: attribute name, else name0,
 * name1... joined; absent altogether is 1 (l empty). */
static int read_names(const h5_ctx *c, hid_t obj, const char *where, const char *name, strlist *l)
{
    if (H5Aexists(obj, name) > 0) {
        return read_attr_strings(c, obj, where, name, l);
    }
    int k = 0;
    for (;; k++) {
        char chunk[80];
        snprintf(chunk, sizeof chunk, "%s%d", name, k);
        if (H5Aexists(obj, chunk) <= 0) {
            break;
        }
        int rc = read_attr_strings(c, obj, where, chunk, l);
        if (rc) {
            return rc;
        }
    }
    H5Eclear2(H5E_DEFAULT);
    return k ? 0 : 1;
}

/* ---- shapes ------------------------------------------------------------- */

/* The Keras shape of weight j (0 kernel, 1 bias) of a layer with weights,
 * from the table of layer kinds; returns its rank. */
static int weight_shape(const nn_layer *L, int j, hsize_t dims[4])
{
    size_t d[4];
    int rank = nn_kinds[L->desc.kind].shape(&L->desc, j, d);
    for (int i = 0; i < rank; i++) {
        dims[i] = (hsize_t)d[i];
    }
    return rank;
}

/* "(3,3,3,64)" */
static const char *fmt_shape(char *buf, size_t len, int rank, const hsize_t *dims)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < rank && at < len; i++) {
        at += (size_t)snprintf(buf + at, len - at, "%s%llu", i ? "," : "(",
                               (unsigned long long)dims[i]);
    }
    if (at < len) {
        snprintf(buf + at, len - at, "%s", rank ? ")" : "()");
    }
    return buf;
}

/* numpy's name of a dataset type. */
static const char *fmt_dtype(char *buf, size_t len, hid_t t)
{
    size_t bits = 8 * H5Tget_size(t);
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
        break;
    case H5T_FLOAT: snprintf(buf, len, "float%zu", bits); break;
    case H5T_STRING: snprintf(buf, len, "string"); break;
    default: snprintf(buf, len, "HDF5 class %d", (int)H5Tget_class(t)); break;
    }
    return buf;
}

/* ---- loading ------------------------------------------------------------ */

/* Reads weight j of layer L, dataset wname of its layer group g, into dst
 * after checking dtype and shape; `where` is the dataset's path in the
 * file. */
static int read_weight(const h5_ctx *c, hid_t g, const char *wname, const char *where,
                       const nn_layer *L, int j, float *dst)
{
    char why[WHY], a[96], b[96];
    hsize_t want[4], dims[H5S_MAX_RANK];
    int rank = weight_shape(L, j, want), rc = 0;
    hid_t d = H5Dopen2(g, wname, H5P_DEFAULT), t = -1, sp = -1;
    if (d < 0) {
        return ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: missing dataset (%s)", c->path, where,
                      h5_reason(why));
    }
    if ((t = H5Dget_type(d)) < 0 || (sp = H5Dget_space(d)) < 0) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: %s", c->path, where, h5_reason(why));
        goto done;
    }
    if (H5Tget_class(t) != H5T_FLOAT || (H5Tget_size(t) != 4 && H5Tget_size(t) != 8)) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: dtype %s, expected float32 or float64",
                    c->path, where, fmt_dtype(a, sizeof a, t));
        goto done;
    }
    int r = H5Sget_simple_extent_ndims(sp);
    int same = r == rank && H5Sget_simple_extent_dims(sp, dims, NULL) == r;
    for (int i = 0; same && i < rank; i++) {
        same = dims[i] == want[i];
    }
    if (!same) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: shape %s in the file, %s in the model",
                    c->path, where, r >= 0 ? fmt_shape(a, sizeof a, r, dims) : "(unreadable)",
                    fmt_shape(b, sizeof b, rank, want));
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        rc = ck_err(c->err, c->errlen, CK_EIO, "%s: %s: read: %s", c->path, where, h5_reason(why));
    }
done:
    h5_close(sp);
    h5_close(t);
    h5_close(d);
    return rc;
}

/* Checks file layer `name` (a group of grp, whose path in the file starts
 * with base) against model layer L and reads its weights into dst (the
 * kernel, then the bias). L == NULL: the model has no such layer, which is
 * an error only if the file's layer has weights. *got = 1 when weights
 * were read. */
static int load_layer(const h5_ctx *c, hid_t grp, const char *base, const char *name,
                      const nn_layer *L, float *dst, int *got)
{
    char where[256], why[WHY];
    strlist wn = {0};
    *got = 0;
    snprintf(where, sizeof where, "%s%s", base, name);
    hid_t g = H5Gopen2(grp, name, H5P_DEFAULT);
    if (g < 0) {
        return ck_err(c->err, c->errlen, CK_EFORMAT, "%s: %s: missing layer group (%s)", c->path,
                      where, h5_reason(why));
    }
    int rc = read_names(c, g, where, "weight_names", &wn);
    if (rc == 1) {
        rc = 0; /* as in Keras: no attribute, no weights */
    }
    int want = L ? nn_desc_weights(&L->desc) : 0;
    if (rc == 0 && !L && wn.n) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT,
                    "%s: %s: %d weight(s) in the file, no layer of that name in the model", c->path,
                    where, wn.n);
    } else if (rc == 0 && wn.n != want) {
        rc = ck_err(c->err, c->errlen, CK_EFORMAT,
                    "%s: %s: %d weight(s) in the file, %d in the model (%s)", c->path, where, wn.n,
                    want, nn_kinds[L->desc.kind].keras);
    }
    for (int j = 0; rc == 0 && j < wn.n; j++) {
        snprintf(where, sizeof where, "%s%s/%s", base, name, wn.s[j]);
        rc = read_weight(c, g, wn.s[j], where, L, j, dst + (j ? L->desc.w_n : 0));
    }
    *got = rc == 0 && wn.n > 0;
    strlist_free(&wn);
    h5_close(g);
    return rc;
}

/* The model layer named `name`, -1 if none. */
static int find_layer(const nn_model *m, const char *name)
{
    for (int i = 0; i < m->nlayers; i++) {
        if (strcmp(m->layers[i].desc.name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Validates the file's matched layers into scratch, then copies them into
 * m. grp is the group holding layer_names (the root, or model_weights). */
static int load_groups(const h5_ctx *c, nn_model *m, hid_t grp, const char *base,
                       const strlist *names, int flags, int *loaded)
{
    int rc = 0, count = 0, *match = malloc(((size_t)names->n + 1) * sizeof *match);
    size_t *off = malloc((size_t)m->nlayers * sizeof *off), total = 0;
    char *got = calloc((size_t)m->nlayers, 1);
    float *scratch = NULL;
    if (!match || !off || !got) {
        rc = ck_err(c->err, c->errlen, CK_ENOMEM, "%s: load: out of memory", c->path);
        goto done;
    }
    for (int i = 0; i < m->nlayers; i++) {
        off[i] = SIZE_MAX;
    }
    for (int i = 0; i < names->n; i++) {
        int li = match[i] = find_layer(m, names->s[i]);
        if (li >= 0 && off[li] == SIZE_MAX) {
            off[li] = total;
            total += m->layers[li].desc.w_n + m->layers[li].desc.b_n;
        }
    }
    scratch = malloc((total ? total : 1) * sizeof *scratch);
    if (!scratch) {
        rc = ck_err(c->err, c->errlen, CK_ENOMEM, "%s: load: out of memory (%zu weights)", c->path,
                    total);
        goto done;
    }
    for (int i = 0; rc == 0 && i < names->n; i++) {
        int li = match[i], ok = 0;
        if (li < 0 && !(flags & NN_H5_STRICT)) {
            continue;
        }
        const nn_layer *L = li >= 0 ? &m->layers[li] : NULL;
        rc = load_layer(c, grp, base, names->s[i], L, L ? scratch + off[li] : NULL, &ok);
        if (ok) {
            got[li] = 1;
        }
    }
    for (int i = 0; rc == 0 && i < m->nlayers; i++) {
        const nn_layer *L = &m->layers[i];
        if (L->desc.w_n && !got[i] && (flags & (NN_H5_STRICT | NN_H5_COMPLETE))) {
            rc = ck_err(c->err, c->errlen, CK_EFORMAT,
                        "%s: %s: model layer %s (%s) is not in the file", c->path,
                        flags & NN_H5_STRICT ? "strict" : "complete", L->desc.name,
                        nn_kinds[L->desc.kind].keras);
        }
        count += got[i];
    }
    if (rc == 0 && count == 0) {
        ck_buf b = {0};
        for (int i = 0; i < names->n && i < 8; i++) {
            ck_buf_printf(&b, "%s%s", i ? ", " : "", names->s[i]);
        }
        ck_buf_str(&b, names->n > 8 ? ", ..." : names->n ? "" : "none");
        rc = ck_err(c->err, c->errlen, CK_EINVAL,
                    "%s: load: no layer with weights of model %s is in the file (file layers: %s)",
                    c->path, m->name, b.s ? b.s : "?");
        ck_buf_free(&b);
    }
    for (int i = 0; rc == 0 && i < m->nlayers; i++) {
        const nn_layer *L = &m->layers[i];
        if (got[i]) {
            memcpy(m->params + L->w_off, scratch + off[i], L->desc.w_n * sizeof(float));
            memcpy(m->params + L->b_off, scratch + off[i] + L->desc.w_n,
                   L->desc.b_n * sizeof(float));
        }
    }
    if (rc == 0 && loaded) {
        *loaded = count;
    }
done:
    free(scratch);
    free(got);
    free(off);
    free(match);
    return rc;
}

int nn_model_load_h5(nn_model *m, const char *path, int flags, int *loaded, char *err,
                     size_t errlen)
{
    h5_ctx c = {.path = path, .err = err, .errlen = errlen};
    char why[WHY];
    struct stat st;
    if (loaded) {
        *loaded = 0;
    }
    if (stat(path, &st) != 0) {
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                      ck_errno_text(errno, why, sizeof why));
    }
    if (S_ISDIR(st.st_mode)) {
        return ck_err(err, errlen, CK_EIO, "%s: open: is a directory", path);
    }
    h5_quiet q;
    quiet_begin(&q);
    hid_t f = -1, root = -1, mw = -1;
    strlist names = {0};
    int rc = 0;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: open: %s", path,
                    is == 0 ? "not an HDF5 file" : h5_reason(why));
        goto done;
    }
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0 ||
        (root = H5Gopen2(f, "/", H5P_DEFAULT)) < 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: open: damaged HDF5 file (%s)", path, h5_reason(why));
        goto done;
    }
    /* A weights file, or a whole-model file with them under model_weights. */
    hid_t grp = root;
    const char *base = "";
    rc = read_names(&c, root, "/", "layer_names", &names);
    if (rc == 1 && H5Lexists(root, "model_weights", H5P_DEFAULT) > 0) {
        if ((mw = H5Gopen2(root, "model_weights", H5P_DEFAULT)) < 0) {
            rc = ck_err(err, errlen, CK_EFORMAT, "%s: model_weights: %s", path, h5_reason(why));
            goto done;
        }
        grp = mw;
        base = "model_weights/";
        rc = read_names(&c, mw, "model_weights", "layer_names", &names);
    }
    if (rc == 1) {
        rc = ck_err(err, errlen, CK_EFORMAT,
                    "%s: not a Keras weights file (no attribute layer_names, no group "
                    "model_weights)",
                    path);
    }
    if (rc == 0) {
        rc = load_groups(&c, m, grp, base, &names, flags, loaded);
    }
done:
    strlist_free(&names);
    h5_close(mw);
    h5_close(root);
    h5_close(f);
    quiet_end(&q);
    return rc;
}

/* ---- saving ------------------------------------------------------------- */

/* A writer's failure: the reason from libhdf5's error stack, taken at
 * once (the next libhdf5 call, even a close, clears the stack) unless an
 * inner writer took it already. why[0] == '\0' until then. */
static int write_fail(char why[WHY])
{
    if (!why[0]) {
        h5_reason(why);
    }
    return CK_EIO;
}

/* Writes n strings as attribute `name` of obj the way Keras (with h5py 2)
 * does: one array of fixed-length NUL-padded ASCII strings as wide as the
 * longest, split evenly into name0, name1... when it would exceed the
 * object header (numpy's array_split: the first chunks one longer); an
 * empty list is an empty float64 array. Returns 0, CK_EIO, CK_ENOMEM. */
static int write_names(hid_t obj, const char *name, const char *const *s, int n, char why[WHY])
{
    hsize_t cnt = 0;
    hid_t t = -1, sp = -1, a = -1;
    int rc = 0;
    if (n == 0) {
        if ((sp = H5Screate_simple(1, &cnt, NULL)) < 0 ||
            (a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
            rc = write_fail(why);
        }
        h5_close(a);
        h5_close(sp);
        return rc;
    }
    size_t width = 1;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(s[i]);
        width = len > width ? len : width;
    }
    int chunks = 1;
    while ((size_t)((n + chunks - 1) / chunks) * width > HEADER_LIMIT) {
        chunks++;
    }
    char *buf = calloc((size_t)n, width);
    if (!buf) {
        snprintf(why, WHY, "out of memory");
        return CK_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        memcpy(buf + (size_t)i * width, s[i], strlen(s[i]));
    }
    if ((t = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(t, width) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
        rc = write_fail(why);
    }
    for (int k = 0, at = 0; rc == 0 && k < chunks; k++) {
        char aname[80];
        snprintf(aname, sizeof aname, chunks > 1 ? "%s%d" : "%s", name, k);
        cnt = (hsize_t)(n / chunks + (k < n % chunks));
        if ((sp = H5Screate_simple(1, &cnt, NULL)) < 0 ||
            (a = H5Acreate2(obj, aname, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            H5Awrite(a, t, buf + (size_t)at * width) < 0) {
            rc = write_fail(why);
        }
        at += (int)cnt;
        h5_close(a);
        h5_close(sp);
        a = sp = -1;
    }
    h5_close(t);
    free(buf);
    return rc;
}

/* A scalar fixed-length string attribute (h5py 2's numpy bytes). */
static int write_string(hid_t obj, const char *name, const char *v, char why[WHY])
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    int rc = 0;
    if (t < 0 || sp < 0 || H5Tset_size(t, strlen(v)) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
        (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 || H5Awrite(a, t, v) < 0) {
        rc = write_fail(why);
    }
    h5_close(a);
    h5_close(sp);
    h5_close(t);
    return rc;
}

/* One layer's group: weight_names and its float32 datasets. lcpl creates
 * the intermediate group of "conv2d/kernel:0", as h5py does. */
static int write_layer(hid_t f, hid_t lcpl, const nn_model *m, const nn_layer *L, char why[WHY])
{
    char wn[2][96];
    const char *wp[2] = {wn[0], wn[1]};
    int nw = nn_desc_weights(&L->desc), rc = 0;
    for (int j = 0; j < nw; j++) {
        snprintf(wn[j], sizeof wn[j], "%s/%s:0", L->desc.name, nn_kinds[L->desc.kind].weights[j]);
    }
    hid_t g = H5Gcreate2(f, L->desc.name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    rc = g < 0 ? write_fail(why) : write_names(g, "weight_names", wp, nw, why);
    for (int j = 0; rc == 0 && j < nw; j++) {
        hsize_t dims[4];
        int rank = weight_shape(L, j, dims);
        hid_t sp = H5Screate_simple(rank, dims, NULL), d = -1;
        if (sp < 0 ||
            (d = H5Dcreate2(g, wn[j], H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     m->params + (j ? L->b_off : L->w_off)) < 0) {
            rc = write_fail(why);
        }
        h5_close(d);
        h5_close(sp);
    }
    h5_close(g);
    if (rc) {
        char inner[WHY];
        memcpy(inner, why, sizeof inner);
        snprintf(why, WHY, "layer %.63s: %.160s", L->desc.name, inner);
    }
    return rc;
}

/* The whole file at tmp. Returns 0, CK_EIO, CK_ENOMEM, with the reason in
 * why. */
static int write_file(const nn_model *m, const char *tmp, char why[WHY])
{
    int n = m->nlayers - 1, rc = 0;
    why[0] = '\0';
    const char **names = malloc((size_t)(n > 0 ? n : 1) * sizeof *names);
    if (!names) {
        snprintf(why, WHY, "out of memory");
        return CK_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        names[i] = m->layers[i + 1].desc.name;
    }
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), lcpl = -1, g = -1;
    if (f < 0 || (lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
        H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        rc = write_fail(why);
    }
    rc = rc ? rc : write_names(f, "layer_names", names, n, why);
    rc = rc ? rc : write_string(f, "backend", "tensorflow", why);
    rc = rc ? rc : write_string(f, "keras_version", "2.13.1", why);
    for (int i = 1; rc == 0 && i < m->nlayers; i++) {
        rc = write_layer(f, lcpl, m, &m->layers[i], why);
    }
    /* Keras 2.13 writes the model's own (non-layer) weights here: none. */
    if (rc == 0) {
        g = H5Gcreate2(f, "top_level_model_weights", lcpl, H5P_DEFAULT, H5P_DEFAULT);
        rc = g < 0 ? write_fail(why) : write_names(g, "weight_names", NULL, 0, why);
    }
    h5_close(g);
    h5_close(lcpl);
    if (f >= 0 && H5Fclose(f) < 0 && rc == 0) {
        rc = write_fail(why);
    }
    free(names);
    return rc;
}

int nn_model_save_h5(const nn_model *m, const char *path, char *err, size_t errlen)
{
    ck_atomic out;
    int rc = ck_atomic_open_named(&out, path, err, errlen);
    if (rc) {
        return rc;
    }
    char why[WHY];
    h5_quiet q;
    quiet_begin(&q);
    rc = write_file(m, out.tmp, why);
    quiet_end(&q);
    if (rc) {
        ck_atomic_abort(&out);
        return ck_err(err, errlen, rc, "%s: write: %s", path, why);
    }
    return ck_atomic_commit(&out, err, errlen);
}
