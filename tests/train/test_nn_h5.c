/* test_nn_h5.c: Keras HDF5 weight files.
 *
 * Fixtures are written here with raw libhdf5 calls in Keras's layouts,
 * independently of h5.c: Keras 2 with h5py 2 (fixed-length strings,
 * block1_conv1/block1_conv1/kernel:0), the keras.applications VGG16 file
 * (input_1 listed, block1_conv1/block1_conv1_W_1:0), h5py 3's
 * variable-length strings, a whole-model file (/model_weights), and
 * layer_names split into chunks. A small VGG-shaped model loads them and
 * its forward is checked against a naive one written here; then round
 * trips, loading by name into a model with a new head, strict mode, and
 * every error: its code, its message, nothing printed, weights unchanged.
 */
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>

#include "nn_internal.h"
#include "nn_test_util.h"

/* ---- the test network and its naive forward ----------------------------- */

enum { T_CONV, T_POOL, T_FLAT, T_DENSE };
enum { A_LINEAR, A_RELU, A_SOFTMAX };

typedef struct tlayer {
    const char *name;
    int kind, units, act; /* units: filters or outputs */
    int rank;             /* of the kernel; 0: no weights */
    hsize_t wd[4];
    size_t wn, bn;
    float *w, *b;
} tlayer;

/* Keras's VGG16 layer names and layout, with few filters; 32x32x3 input. */
#define VGG_BASE                                                                                   \
    "Conv2D(8, (3, 3), activation='relu', padding='same', name='block1_conv1')\n"                  \
    "Conv2D(8, (3, 3), activation='relu', padding='same', name='block1_conv2')\n"                  \
    "MaxPooling2D((2, 2), strides=(2, 2), name='block1_pool')\n"                                   \
    "Conv2D(16, (3, 3), activation='relu', padding='same', name='block2_conv1')\n"                 \
    "Conv2D(16, (3, 3), activation='relu', padding='same', name='block2_conv2')\n"                 \
    "MaxPooling2D((2, 2), strides=(2, 2), name='block2_pool')\n"
#define VGG_TOP                                                                                    \
    "Flatten(name='flatten')\n"                                                                    \
    "Dense(12, activation='relu', name='fc1')\n"                                                   \
    "Dense(5, activation='softmax', name='predictions')\n"

static const char vgg_base_spec[] = "Input(shape=(32, 32, 3))\n" VGG_BASE;
static const char vgg_full_spec[] = "Input(shape=(32, 32, 3))\n" VGG_BASE VGG_TOP;

enum { NBASE = 6, NFULL = 9, SIDE = 32, CH = 3 };

#define TL(n, k, u, a)                                                                             \
    {                                                                                              \
        .name = n, .kind = k, .units = u, .act = a                                                 \
    }
static const tlayer vgg_defs[NFULL] = {
    TL("block1_conv1", T_CONV, 8, A_RELU),
    TL("block1_conv2", T_CONV, 8, A_RELU),
    TL("block1_pool", T_POOL, 0, 0),
    TL("block2_conv1", T_CONV, 16, A_RELU),
    TL("block2_conv2", T_CONV, 16, A_RELU),
    TL("block2_pool", T_POOL, 0, 0),
    TL("flatten", T_FLAT, 0, 0),
    TL("fc1", T_DENSE, 12, A_RELU),
    TL("predictions", T_DENSE, 5, A_SOFTMAX),
};

/* Copies n definitions into ls with shapes from an (h, w, c) input and
 * small random weights (uniform, Glorot's range) from stream `id`. */
static void tnet_make(tlayer *ls, int n, int h, int w, int c, uint64_t id)
{
    ck_rng r;
    ck_rng_init(&r, 99, 0, id, CK_RNG_TEST);
    for (int i = 0; i < n; i++) {
        tlayer *L = &ls[i];
        *L = vgg_defs[i];
        if (L->kind == T_CONV) {
            L->rank = 4;
            L->wd[0] = L->wd[1] = 3;
            L->wd[2] = (hsize_t)c;
            L->wd[3] = (hsize_t)L->units;
            c = L->units;
        } else if (L->kind == T_POOL) {
            h /= 2;
            w /= 2;
        } else if (L->kind == T_FLAT) {
            c *= h * w;
            h = w = 1;
        } else {
            L->rank = 2;
            L->wd[0] = (hsize_t)c;
            L->wd[1] = (hsize_t)L->units;
            c = L->units;
        }
        if (!L->rank) {
            continue;
        }
        L->wn = L->rank == 4 ? 9 * L->wd[2] * L->wd[3] : L->wd[0] * L->wd[1];
        L->bn = (size_t)L->units;
        L->w = malloc(L->wn * sizeof *L->w);
        L->b = malloc(L->bn * sizeof *L->b);
        double lim = sqrt(6.0 / (double)(L->wn / L->bn + L->bn));
        for (size_t k = 0; k < L->wn; k++) {
            L->w[k] = (float)ck_rng_range(&r, -lim, lim);
        }
        for (size_t k = 0; k < L->bn; k++) {
            L->b[k] = (float)ck_rng_range(&r, -0.1, 0.1);
        }
    }
}

static void tnet_free(tlayer *ls, int n)
{
    for (int i = 0; i < n; i++) {
        free(ls[i].w);
        free(ls[i].b);
    }
}

/* One sample x (H,W,C) through ls with plain loops in double: Conv2D
 * 'same' 3x3 stride 1, MaxPooling2D 2x2, Flatten in NHWC order, Dense.
 * Writes the output into out and returns its length. */
static size_t tnet_forward(const tlayer *ls, int n, const float *x, double *out)
{
    int H = SIDE, W = SIDE, C = CH;
    double *a = malloc((size_t)H * W * 16 * sizeof *a), *b = malloc((size_t)H * W * 16 * sizeof *b);
    for (int i = 0; i < H * W * C; i++) {
        a[i] = x[i];
    }
    for (int l = 0; l < n; l++) {
        const tlayer *L = &ls[l];
        int K = L->units;
        if (L->kind == T_CONV) {
            for (int p = 0; p < H; p++) {
                for (int q = 0; q < W; q++) {
                    for (int k = 0; k < K; k++) {
                        double s = L->b[k];
                        for (int r = 0; r < 3; r++) {
                            for (int t = 0; t < 3; t++) {
                                int y = p + r - 1, z = q + t - 1;
                                if (y < 0 || y >= H || z < 0 || z >= W) {
                                    continue;
                                }
                                for (int c = 0; c < C; c++) {
                                    s += a[(y * W + z) * C + c] *
                                         (double)L->w[((r * 3 + t) * C + c) * K + k];
                                }
                            }
                        }
                        b[(p * W + q) * K + k] = s > 0 ? s : 0;
                    }
                }
            }
            C = K;
        } else if (L->kind == T_POOL) {
            for (int p = 0; p < H / 2; p++) {
                for (int q = 0; q < W / 2; q++) {
                    for (int c = 0; c < C; c++) {
                        double m = -INFINITY;
                        for (int r = 0; r < 4; r++) {
                            m = fmax(m, a[((2 * p + r / 2) * W + 2 * q + r % 2) * C + c]);
                        }
                        b[(p * (W / 2) + q) * C + c] = m;
                    }
                }
            }
            H /= 2;
            W /= 2;
        } else if (L->kind == T_FLAT) {
            C *= H * W;
            H = W = 1;
            continue;
        } else {
            double sum = 0, mx = -INFINITY;
            for (int o = 0; o < K; o++) {
                double s = L->b[o];
                for (int i = 0; i < C; i++) {
                    s += a[i] * (double)L->w[i * K + o];
                }
                b[o] = L->act == A_RELU && s < 0 ? 0 : s;
                mx = fmax(mx, b[o]);
            }
            for (int o = 0; L->act == A_SOFTMAX && o < K; o++) {
                sum += b[o] = exp(b[o] - mx);
            }
            for (int o = 0; L->act == A_SOFTMAX && o < K; o++) {
                b[o] /= sum;
            }
            C = K;
        }
        double *t = a;
        a = b;
        b = t;
    }
    size_t len = (size_t)H * W * C;
    memcpy(out, a, len * sizeof *out);
    free(a);
    free(b);
    return len;
}

/* ---- a fixture writer in Keras's layouts (raw libhdf5) ------------------- */

typedef struct fx_opts {
    int vlen;             /* h5py 3: variable-length strings */
    int old;              /* keras.applications' VGG16: input_1, <layer>_W_1:0 flat in the group */
    int whole;            /* model.save: under /model_weights */
    int chunked;          /* layer_names0, layer_names1 */
    int f64;              /* float64 datasets */
    int nolayers;         /* no layer_names at all */
    const char *int_bias; /* this layer's bias as an int32 dataset */
    const char *no_bias;  /* this layer's bias listed but not written */
    const char *kernel_only; /* this layer lists and holds its kernel only */
} fx_opts;

static void fx_ok(herr_t rc)
{
    ck_assert_msg(rc >= 0, "libhdf5 call failed in the fixture writer");
}

/* A list of strings as attribute name of obj: h5py 2's numpy 'S' array
 * (fixed length, NUL-padded, as wide as the longest), or h5py 3's
 * variable-length strings; an empty list as np.asarray([]), float64 (0,). */
static void fx_strings(hid_t obj, const char *name, const char *const *s, int n, int vlen)
{
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL), t;
    if (n == 0) {
        hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        fx_ok(a);
        H5Aclose(a);
        H5Sclose(sp);
        return;
    }
    size_t width = 1;
    for (int i = 0; i < n; i++) {
        width = strlen(s[i]) > width ? strlen(s[i]) : width;
    }
    char *buf = calloc((size_t)n, width);
    t = H5Tcopy(H5T_C_S1);
    if (vlen) {
        fx_ok(H5Tset_size(t, H5T_VARIABLE));
    } else {
        fx_ok(H5Tset_size(t, width));
        fx_ok(H5Tset_strpad(t, H5T_STR_NULLPAD));
        for (int i = 0; i < n; i++) {
            memcpy(buf + (size_t)i * width, s[i], strlen(s[i]));
        }
    }
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    fx_ok(a);
    fx_ok(H5Awrite(a, t, vlen ? (const void *)s : buf));
    free(buf);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
}

/* A scalar string attribute, as h5py writes b"tensorflow". */
static void fx_string(hid_t obj, const char *name, const char *v, int vlen)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    fx_ok(H5Tset_size(t, vlen ? H5T_VARIABLE : strlen(v)));
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    fx_ok(a);
    fx_ok(H5Awrite(a, t, vlen ? (const void *)&v : v));
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void fx_dataset(hid_t g, const char *path, int rank, const hsize_t *dims, const float *v,
                       hid_t ftype)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    fx_ok(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(g, path, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    fx_ok(d);
    fx_ok(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
}

static int is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/* Writes ls (n layers) as Keras saves them. */
static void fx_write(const char *path, const tlayer *ls, int n, const fx_opts *o)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), top = f;
    fx_ok(f);
    if (o->whole) {
        fx_string(f, "keras_version", "2.13.1", o->vlen);
        fx_string(f, "backend", "tensorflow", o->vlen);
        fx_string(f, "model_config", "{\"class_name\": \"Sequential\"}", o->vlen);
        hid_t opt = H5Gcreate2(f, "optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(opt);
        top = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        fx_ok(top);
    }
    const char *names[NFULL + 1];
    int nn = 0;
    if (o->old) {
        names[nn++] = "input_1";
    }
    for (int i = 0; i < n; i++) {
        names[nn++] = ls[i].name;
    }
    if (o->chunked) {
        fx_strings(top, "layer_names0", names, nn / 2, o->vlen);
        fx_strings(top, "layer_names1", names + nn / 2, nn - nn / 2, o->vlen);
    } else if (!o->nolayers) {
        fx_strings(top, "layer_names", names, nn, o->vlen);
    }
    fx_string(top, "backend", "tensorflow", o->vlen);
    fx_string(top, "keras_version", o->old ? "2.0.8" : "2.13.1", o->vlen);
    if (o->old) {
        hid_t g = H5Gcreate2(top, "input_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        fx_strings(g, "weight_names", NULL, 0, 0);
        H5Gclose(g);
    }
    hid_t ftype = o->f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
    for (int i = 0; i < n; i++) {
        const tlayer *L = &ls[i];
        hid_t g = H5Gcreate2(top, L->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        fx_ok(g);
        char wn[2][96];
        const char *wp[2] = {wn[0], wn[1]};
        snprintf(wn[0], sizeof wn[0], o->old ? "%s_W_1:0" : "%s/kernel:0", L->name);
        snprintf(wn[1], sizeof wn[1], o->old ? "%s_b_1:0" : "%s/bias:0", L->name);
        int nw = L->rank ? (is(o->kernel_only, L->name) ? 1 : 2) : 0;
        fx_strings(g, "weight_names", wp, nw, o->vlen);
        if (nw >= 1) {
            fx_dataset(g, wn[0], L->rank, L->wd, L->w, ftype);
        }
        hsize_t bd = L->bn;
        if (nw == 2 && is(o->int_bias, L->name)) {
            fx_dataset(g, wn[1], 1, &bd, L->b, H5T_STD_I32LE);
        } else if (nw == 2 && !is(o->no_bias, L->name)) {
            fx_dataset(g, wn[1], 1, &bd, L->b, ftype);
        }
        H5Gclose(g);
    }
    if (top != f) {
        H5Gclose(top);
    }
    fx_ok(H5Fclose(f));
}

/* ---- helpers ------------------------------------------------------------- */

static nn_model *model_new(const char *spec, uint64_t seed)
{
    char err[256] = "";
    nn_model *m;
    ck_assert_msg(nn_model_create(&m, spec, "t", 2, err, sizeof err) == 0, "%s", err);
    nn_model_init(m, seed);
    return m;
}

static const nn_layer *layer_named(const nn_model *m, const char *name)
{
    for (int i = 0; i < m->nlayers; i++) {
        if (strcmp(m->layers[i].desc.name, name) == 0) {
            return &m->layers[i];
        }
    }
    ck_abort_msg("no layer %s", name);
    return NULL;
}

/* The model's weights of each layer of ls with weights are ls's, bit for
 * bit. */
static void assert_weights(const nn_model *m, const tlayer *ls, int n)
{
    for (int i = 0; i < n; i++) {
        if (!ls[i].rank) {
            continue;
        }
        const nn_layer *L = layer_named(m, ls[i].name);
        ck_assert_uint_eq(L->desc.w_n, ls[i].wn);
        ck_assert_uint_eq(L->desc.b_n, ls[i].bn);
        ck_assert_msg(memcmp(m->params + L->w_off, ls[i].w, L->desc.w_n * sizeof(float)) == 0,
                      "%s: kernel differs", ls[i].name);
        ck_assert_msg(memcmp(m->params + L->b_off, ls[i].b, L->desc.b_n * sizeof(float)) == 0,
                      "%s: bias differs", ls[i].name);
    }
}

/* Runs two samples through m and through the naive forward of ls: 1e-4
 * relative, with outputs below 0.05 (the features are O(0.1..1)) held to
 * 5e-6 absolute, float32 sums against double ones. */
static void assert_forward(nn_model *m, const tlayer *ls, int n)
{
    float *x = nt_rand(2 * SIDE * SIDE * CH, 0, 1, 7);
    double ref[SIDE * SIDE * 16];
    ck_assert_int_eq(nn_model_forward(m, x, 2, NULL), 0);
    for (int s = 0; s < 2; s++) {
        size_t len = tnet_forward(ls, n, x + s * SIDE * SIDE * CH, ref);
        ck_assert_uint_eq(len, (size_t)nn_model_outputs(m));
        const float *y = nn_model_output(m) + s * len;
        for (size_t i = 0; i < len; i++) {
            double e = fabs((double)y[i] - ref[i]) / fmax(5e-2, fabs(ref[i]));
            ck_assert_msg(e <= 1e-4, "sample %d output %zu: %.8g vs reference %.8g", s, i,
                          (double)y[i], ref[i]);
        }
    }
    free(x);
}

/* A scratch directory; rm_dir empties and removes it. */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            remove(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    }
    if (d) {
        closedir(d);
    }
    return n;
}

/* stderr into a file while a call that must print nothing runs. */
static int stderr_to(const char *path)
{
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static void stderr_back(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

/* ---- loading ------------------------------------------------------------- */

START_TEST(load_keras_layouts)
{
    static const struct {
        const char *what;
        fx_opts o;
    } styles[] = {
        {"keras 2, h5py 2", {0}},
        {"keras.applications vgg16", {.old = 1}},
        {"h5py 3 vlen strings", {.vlen = 1}},
        {"model.save", {.whole = 1}},
        {"model.save, vlen", {.whole = 1, .vlen = 1}},
        {"chunked names, float64", {.chunked = 1, .f64 = 1}},
    };
    char dir[256], path[300], err[256] = "";
    ck_test_tmpdir(dir, sizeof dir);
    tlayer ls[NFULL];
    tnet_make(ls, NFULL, SIDE, SIDE, CH, 1);
    for (size_t k = 0; k < sizeof styles / sizeof styles[0]; k++) {
        snprintf(path, sizeof path, "%s/w%zu.h5", dir, k);
        fx_write(path, ls, NFULL, &styles[k].o);
        nn_model *m = model_new(vgg_full_spec, 5);
        int loaded = -1;
        ck_assert_msg(nn_model_load_h5(m, path, NN_H5_STRICT, &loaded, err, sizeof err) == 0,
                      "%s: %s", styles[k].what, err);
        ck_assert_int_eq(loaded, 6);
        assert_weights(m, ls, NFULL);
        assert_forward(m, ls, NFULL);
        nn_model_destroy(m);
    }
    /* The conv base alone: its features (8, 8, 16) from the full file. */
    nn_model *m = model_new(vgg_base_spec, 5);
    int loaded = -1;
    ck_assert_msg(nn_model_load_h5(m, path, 0, &loaded, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(loaded, 4);
    assert_forward(m, ls, NBASE);
    nn_model_destroy(m);
    tnet_free(ls, NFULL);
    rm_dir(dir);
}
END_TEST

/* A pretrained base under a new head: only the base is replaced. */
START_TEST(load_base_under_new_head)
{
    char dir[256], path[300], err[256] = "";
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/notop.h5", dir);
    tlayer ls[NBASE];
    tnet_make(ls, NBASE, SIDE, SIDE, CH, 2);
    fx_write(path, ls, NBASE, &(fx_opts){.old = 1});
    nn_model *m = model_new("Input(shape=(32, 32, 3))\n" VGG_BASE "Flatten()\n"
                            "Dense(7, activation='relu')\n"
                            "Dense(1, activation='sigmoid')\n",
                            9);
    const nn_layer *d0 = layer_named(m, "dense"), *d1 = layer_named(m, "dense_1");
    size_t head = d0->desc.w_n + d0->desc.b_n + d1->desc.w_n + d1->desc.b_n;
    ck_assert_uint_eq(d1->b_off + d1->desc.b_n - d0->w_off, head);
    float *before = malloc(head * sizeof *before);
    memcpy(before, m->params + d0->w_off, head * sizeof *before);
    int loaded = -1;
    ck_assert_msg(nn_model_load_h5(m, path, 0, &loaded, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(loaded, 4);
    assert_weights(m, ls, NBASE);
    ck_assert_int_eq(memcmp(before, m->params + d0->w_off, head * sizeof *before), 0);
    free(before);
    nn_model_destroy(m);
    tnet_free(ls, NBASE);
    rm_dir(dir);
}
END_TEST

START_TEST(strict)
{
    char dir[256], base[300], full[300], err[256] = "";
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(base, sizeof base, "%s/base.h5", dir);
    snprintf(full, sizeof full, "%s/full.h5", dir);
    tlayer ls[NFULL];
    tnet_make(ls, NFULL, SIDE, SIDE, CH, 3);
    fx_write(base, ls, NBASE, &(fx_opts){0});
    fx_write(full, ls, NFULL, &(fx_opts){0});
    nn_model *m = model_new(vgg_full_spec, 4);
    float *w0 = malloc(m->nparams * sizeof *w0);
    memcpy(w0, m->params, m->nparams * sizeof *w0);
    /* The model's head is not in the file. */
    int loaded = -1;
    ck_assert_int_eq(nn_model_load_h5(m, base, NN_H5_STRICT, &loaded, err, sizeof err), CK_EFORMAT);
    ck_assert_msg(strstr(err, "base.h5: strict: model layer fc1 (Dense) is not in the file"), "%s",
                  err);
    ck_assert_int_eq(loaded, 0);
    ck_assert_int_eq(memcmp(w0, m->params, m->nparams * sizeof *w0), 0);
    ck_assert_int_eq(nn_model_load_h5(m, base, NN_H5_COMPLETE, NULL, err, sizeof err), CK_EFORMAT);
    ck_assert_msg(strstr(err, "base.h5: complete: model layer fc1 (Dense) is not in the file"),
                  "%s", err);
    ck_assert_int_eq(memcmp(w0, m->params, m->nparams * sizeof *w0), 0);
    nn_model_destroy(m);
    /* The file's head is not in the model: COMPLETE takes the base. */
    m = model_new(vgg_base_spec, 4);
    ck_assert_int_eq(nn_model_load_h5(m, full, NN_H5_COMPLETE, &loaded, err, sizeof err), 0);
    ck_assert_int_eq(loaded, 4);
    assert_weights(m, ls, NBASE);
    nn_model_destroy(m);
    m = model_new(vgg_base_spec, 4);
    ck_assert_int_eq(nn_model_load_h5(m, full, NN_H5_STRICT, NULL, err, sizeof err), CK_EFORMAT);
    ck_assert_msg(
        strstr(err, "full.h5: fc1: 2 weight(s) in the file, no layer of that name in the model"),
        "%s", err);
    ck_assert_int_eq(memcmp(w0, m->params, m->nparams * sizeof *w0), 0);
    /* Without the flag both load what they share. */
    ck_assert_int_eq(nn_model_load_h5(m, full, 0, &loaded, err, sizeof err), 0);
    ck_assert_int_eq(loaded, 4);
    assert_weights(m, ls, NBASE);
    nn_model_destroy(m);
    free(w0);
    tnet_free(ls, NFULL);
    rm_dir(dir);
}
END_TEST

/* Each broken file: its code, a message naming the file and the place,
 * nothing printed, the model's weights unchanged, HDF5's error printing
 * as it was. */
START_TEST(load_errors)
{
    char dir[256], path[300], quiet[300], err[256];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(quiet, sizeof quiet, "%s/stderr.txt", dir);
    tlayer ls[NFULL];
    tnet_make(ls, NFULL, SIDE, SIDE, CH, 4);
    static const struct {
        const char *spec; /* NULL: the full VGG */
        fx_opts o;
        const char *file; /* NULL: written with o */
        int rc;
        const char *msg;
    } cases[] = {
        {"Input(shape=(32, 32, 1))\n" VGG_BASE VGG_TOP,
         {0},
         NULL,
         CK_EFORMAT,
         "block1_conv1/block1_conv1/kernel:0: shape (3,3,3,8) in the file, (3,3,1,8) in the model"},
        {"Input(shape=(32, 32, 3))\n"
         "Conv2D(8, 3, activation='relu', padding='same', name='block1_conv1')\n"
         "Conv2D(8, 3, activation='relu', padding='same', name='block1_conv2')\n"
         "MaxPooling2D(2, name='block1_pool')\n"
         "Conv2D(12, 3, activation='relu', padding='same', name='block2_conv1')\n",
         {.whole = 1},
         NULL,
         CK_EFORMAT,
         "model_weights/block2_conv1/block2_conv1/kernel:0: shape (3,3,8,16) in the file, "
         "(3,3,8,12) in the model"},
        {NULL,
         {.int_bias = "block1_conv2"},
         NULL,
         CK_EFORMAT,
         "block1_conv2/block1_conv2/bias:0: dtype int32, expected float32 or float64"},
        {NULL, {.no_bias = "fc1"}, NULL, CK_EFORMAT, "fc1/fc1/bias:0: missing dataset"},
        {NULL,
         {.kernel_only = "block2_conv2"},
         NULL,
         CK_EFORMAT,
         "block2_conv2: 1 weight(s) in the file, 2 in the model (Conv2D)"},
        {"Input(shape=(32, 32, 3))\nMaxPooling2D(2, name='block1_conv1')\n"
         "Conv2D(8, 3, name='block1_conv2')\n",
         {0},
         NULL,
         CK_EFORMAT,
         "block1_conv1: 2 weight(s) in the file, 0 in the model (MaxPooling2D)"},
        {NULL,
         {.nolayers = 1},
         NULL,
         CK_EFORMAT,
         ": not a Keras weights file (no attribute layer_names"},
        {"Input(shape=(32, 32, 3))\nConv2D(8, 3, name='other')\n",
         {0},
         NULL,
         CK_EINVAL,
         ": load: no layer with weights of model t is in the file (file layers: block1_conv1, "},
        {NULL, {0}, "text", CK_EIO, ": open: not an HDF5 file"},
        {NULL, {0}, "truncated", CK_EIO, ": open: damaged HDF5 file (truncated file"},
        {NULL, {0}, "missing", CK_EIO, ": open: No such file or directory"},
        {NULL, {0}, "dir", CK_EIO, ": open: is a directory"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(path, sizeof path, "%s/bad%zu.h5", dir, k);
        if (is(cases[k].file, "text")) {
            FILE *f = fopen(path, "w");
            fputs("layer_names block1_conv1\n", f);
            fclose(f);
        } else if (is(cases[k].file, "truncated")) {
            char whole[320];
            snprintf(whole, sizeof whole, "%s.whole", path);
            fx_write(whole, ls, NFULL, &cases[k].o);
            FILE *in = fopen(whole, "rb"), *out = fopen(path, "wb");
            fseek(in, 0, SEEK_END);
            long n = ftell(in);
            rewind(in);
            char *buf = malloc((size_t)n);
            ck_assert_uint_eq(fread(buf, 1, (size_t)n, in), (size_t)n);
            fwrite(buf, 1, (size_t)n / 2, out);
            free(buf);
            fclose(in);
            fclose(out);
        } else if (is(cases[k].file, "dir")) {
            mkdir(path, 0700);
        } else if (!cases[k].file) {
            fx_write(path, ls, NFULL, &cases[k].o);
        }
        nn_model *m = model_new(cases[k].spec ? cases[k].spec : vgg_full_spec, 6);
        float *w0 = malloc(m->nparams * sizeof *w0);
        memcpy(w0, m->params, m->nparams * sizeof *w0);
        H5E_auto2_t f0, f1;
        void *d0, *d1;
        H5Eget_auto2(H5E_DEFAULT, &f0, &d0);
        int loaded = -1, saved = stderr_to(quiet);
        err[0] = '\0';
        int rc = nn_model_load_h5(m, path, 0, &loaded, err, sizeof err);
        stderr_back(saved);
        H5Eget_auto2(H5E_DEFAULT, &f1, &d1);
        ck_assert_msg(rc == cases[k].rc, "case %zu: %d: %s", k, rc, err);
        ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strstr(err, cases[k].msg),
                      "case %zu: '%s'", k, err);
        ck_assert_int_eq(loaded, 0);
        ck_assert_int_eq(memcmp(w0, m->params, m->nparams * sizeof *w0), 0);
        struct stat st;
        ck_assert_int_eq(stat(quiet, &st), 0);
        ck_assert_msg(st.st_size == 0, "case %zu printed to stderr", k);
        ck_assert(f0 == f1 && d0 == d1);
        free(w0);
        nn_model_destroy(m);
        if (is(cases[k].file, "dir")) {
            rmdir(path);
        }
    }
    tnet_free(ls, NFULL);
    rm_dir(dir);
}
END_TEST

/* ---- saving -------------------------------------------------------------- */

/* Attribute name of obj as a list of strings; checks it is h5py 2's
 * fixed-length NUL-padded ASCII. Returns the count; names (n * 96). */
static int attr_fixed_strings(hid_t obj, const char *name, char names[][96], int cap)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "attribute %s", name);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    ck_assert(n <= cap);
    if (n == 0) {
        ck_assert_int_eq(H5Tget_class(t), H5T_FLOAT); /* np.asarray([]) */
    } else {
        ck_assert_int_eq(H5Tget_class(t), H5T_STRING);
        ck_assert_int_eq(H5Tis_variable_str(t), 0);
        ck_assert_int_eq(H5Tget_strpad(t), H5T_STR_NULLPAD);
        ck_assert_int_eq(H5Tget_cset(t), H5T_CSET_ASCII);
        ck_assert_int_le(H5Sget_simple_extent_ndims(sp), 1);
        size_t w = H5Tget_size(t);
        char *buf = calloc((size_t)n, w);
        fx_ok(H5Aread(a, t, buf));
        size_t longest = 0;
        for (hssize_t i = 0; i < n; i++) {
            snprintf(names[i], 96, "%.*s", (int)w, buf + (size_t)i * w);
            longest = strlen(names[i]) > longest ? strlen(names[i]) : longest;
        }
        ck_assert_uint_eq(w, longest);
        free(buf);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return (int)n;
}

static void assert_scalar_string(hid_t obj, const char *name, const char *want)
{
    char v[1][96];
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), sp = H5Aget_space(a);
    ck_assert_int_eq(H5Sget_simple_extent_type(sp), H5S_SCALAR);
    H5Sclose(sp);
    H5Aclose(a);
    ck_assert_int_eq(attr_fixed_strings(obj, name, v, 1), 1);
    ck_assert_str_eq(v[0], want);
}

START_TEST(save_layout_and_round_trip)
{
    char dir[256], path[300], err[256] = "", names[16][96];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/weights.h5", dir);
    static const char spec[] = "Input(shape=(32, 32, 3))\n" VGG_BASE "Flatten()\n"
                               "Dropout(0.5)\n"
                               "Dense(6, activation='relu', use_bias=False)\n"
                               "Dense(3, activation='softmax')\n";
    nn_model *a = model_new(spec, 11);
    for (size_t i = 0; i < a->nparams; i++) { /* biases too, not only zeros */
        a->params[i] += 0.001f * (float)(i % 17);
    }
    ck_assert_msg(nn_model_save_h5(a, path, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(dir_entries(dir), 1); /* no temporary file left */

    /* Keras's layout, read back with raw libhdf5. */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    fx_ok(f);
    int n = attr_fixed_strings(f, "layer_names", names, 16);
    ck_assert_int_eq(n, a->nlayers - 1);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(names[i], a->layers[i + 1].desc.name);
    }
    ck_assert_str_eq(names[0], "block1_conv1");
    ck_assert_str_eq(names[7], "dropout");
    assert_scalar_string(f, "backend", "tensorflow");
    assert_scalar_string(f, "keras_version", "2.13.1");
    hid_t g = H5Gopen2(f, "block1_conv1", H5P_DEFAULT);
    ck_assert_int_eq(attr_fixed_strings(g, "weight_names", names, 16), 2);
    ck_assert_str_eq(names[0], "block1_conv1/kernel:0");
    ck_assert_str_eq(names[1], "block1_conv1/bias:0");
    hid_t d = H5Dopen2(g, "block1_conv1/kernel:0", H5P_DEFAULT);
    fx_ok(d);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    ck_assert(H5Tequal(t, H5T_IEEE_F32LE) > 0);
    hsize_t dims[4];
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 4);
    ck_assert(dims[0] == 3 && dims[1] == 3 && dims[2] == 3 && dims[3] == 8);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    H5Gclose(g);
    g = H5Gopen2(f, "block1_pool", H5P_DEFAULT);
    ck_assert_int_eq(attr_fixed_strings(g, "weight_names", names, 16), 0);
    H5Gclose(g);
    g = H5Gopen2(f, "dense", H5P_DEFAULT);
    ck_assert_int_eq(attr_fixed_strings(g, "weight_names", names, 16), 1);
    ck_assert_str_eq(names[0], "dense/kernel:0");
    d = H5Dopen2(g, "dense/kernel:0", H5P_DEFAULT);
    sp = H5Dget_space(d);
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 2);
    ck_assert(dims[0] == 8 * 8 * 16 && dims[1] == 6);
    H5Sclose(sp);
    H5Dclose(d);
    H5Gclose(g);
    g = H5Gopen2(f, "top_level_model_weights", H5P_DEFAULT);
    ck_assert_int_eq(attr_fixed_strings(g, "weight_names", names, 16), 0);
    H5Gclose(g);
    H5Fclose(f);

    /* Read back: the same bits, strictly. */
    nn_model *b = model_new(spec, 12);
    ck_assert(memcmp(a->params, b->params, a->nparams * sizeof(float)) != 0);
    int loaded = -1;
    ck_assert_msg(nn_model_load_h5(b, path, NN_H5_STRICT, &loaded, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_int_eq(loaded, 6);
    ck_assert_int_eq(memcmp(a->params, b->params, a->nparams * sizeof(float)), 0);
    /* Saving again replaces the file whole. */
    nn_model_init(b, 13);
    ck_assert_int_eq(nn_model_save_h5(b, path, err, sizeof err), 0);
    ck_assert_int_eq(dir_entries(dir), 1);
    ck_assert_int_eq(nn_model_load_h5(a, path, NN_H5_STRICT, NULL, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(a->params, b->params, a->nparams * sizeof(float)), 0);
    nn_model_destroy(a);
    nn_model_destroy(b);
    rm_dir(dir);
}
END_TEST

/* More layer names than one attribute holds: Keras's chunks, read back. */
START_TEST(save_chunked_names)
{
    enum { NACT = 1100 };
    char dir[256], path[300], err[256] = "";
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/long.h5", dir);
    ck_buf s = {0};
    ck_buf_str(&s, "Input(shape=(1, 1, 2))\n");
    for (int i = 0; i < NACT; i++) { /* 63 characters each */
        ck_buf_printf(&s,
                      "Activation('linear', name='activation_with_a_long_name_%04d_"
                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')\n",
                      i);
    }
    ck_buf_str(&s, "Flatten()\nDense(2, activation='softmax')\n");
    char *spec = ck_buf_take(&s);
    nn_model *a = model_new(spec, 1), *b = model_new(spec, 2);
    ck_assert_msg(nn_model_save_h5(a, path, err, sizeof err) == 0, "%s", err);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_eq(H5Aexists(f, "layer_names"), 0);
    char(*names)[96] = malloc(NACT * sizeof *names);
    /* numpy's array_split of 1102 names in two: 551 and 551. */
    ck_assert_int_eq(attr_fixed_strings(f, "layer_names0", names, NACT), 551);
    ck_assert_str_eq(names[0], a->layers[1].desc.name);
    ck_assert_int_eq(attr_fixed_strings(f, "layer_names1", names, NACT), 551);
    ck_assert_str_eq(names[550], "dense");
    ck_assert_int_eq(H5Aexists(f, "layer_names2"), 0);
    H5Fclose(f);
    int loaded = -1;
    ck_assert_msg(nn_model_load_h5(b, path, NN_H5_STRICT, &loaded, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_int_eq(loaded, 1);
    ck_assert_int_eq(memcmp(a->params, b->params, a->nparams * sizeof(float)), 0);
    free(names);
    free(spec);
    nn_model_destroy(a);
    nn_model_destroy(b);
    rm_dir(dir);
}
END_TEST

START_TEST(save_errors)
{
    char dir[256], path[300], err[256] = "";
    ck_test_tmpdir(dir, sizeof dir);
    nn_model *m = model_new(vgg_base_spec, 1);
    ck_assert_int_eq(nn_model_save_h5(m, "/nonexistent/dir/w.h5", err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, "/nonexistent/dir/w.h5: create: No such file or directory"), "%s",
                  err);
    /* Renaming over a directory fails; the temporary file goes. */
    snprintf(path, sizeof path, "%s/taken", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(nn_model_save_h5(m, path, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, "taken: rename: "), "%s", err);
    ck_assert_int_eq(dir_entries(dir), 1);
    rmdir(path);
    nn_model_destroy(m);
    /* A name HDF5 cannot hold: libhdf5's reason, nothing left behind. */
    m = model_new("Input(shape=(4, 4, 1))\nFlatten(name='.')\nDense(2, activation='softmax')\n", 1);
    snprintf(path, sizeof path, "%s/w.h5", dir);
    ck_assert_int_eq(nn_model_save_h5(m, path, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, "w.h5: write: ") && !strstr(err, "libhdf5 failed"), "%s", err);
    ck_assert_int_eq(dir_entries(dir), 0);
    nn_model_destroy(m);
    rm_dir(dir);
}
END_TEST

static Suite *h5_suite(void)
{
    Suite *s = suite_create("nn_h5");
    TCase *tc = tcase_create("h5");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, load_keras_layouts);
    tcase_add_test(tc, load_base_under_new_head);
    tcase_add_test(tc, strict);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, save_layout_and_round_trip);
    tcase_add_test(tc, save_chunked_names);
    tcase_add_test(tc, save_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(h5_suite());
}
