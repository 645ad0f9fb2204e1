/* test_nn_model.c: built-in models (parameter counts, Keras's summary),
 * spec parsing and its errors, and a whole model's backward against
 * central differences through every kind of layer. */
#include <string.h>

#include "nn_internal.h"
#include "nn_test_util.h"

/* The table of layer kinds has a whole entry for every kind: its length
 * is checked at compile time, a kind left out in the middle only here. */
START_TEST(layer_kinds_table_complete)
{
    for (int k = 0; k < NN_KINDS; k++) {
        const nn_kind_info *ki = &nn_kinds[k];
        ck_assert_msg(ki->keras && ki->stem && ki->sigs[0].type && ki->build, "kind %d", k);
        ck_assert_msg(!ki->weights[0] || ki->shape, "kind %d: weights without shapes", k);
    }
}
END_TEST

START_TEST(builtin_param_counts)
{
    static const struct {
        const char *name;
        size_t params;
        int outputs;
    } want[] = {
        {"mnist", 118346, 10},
        {"mnist-3conv", 93322, 10},
        {"catsdogs-1st", 3453121, 1},
        {"catsdogs-1st-dropout", 3453121, 1},
        {"catsdogs-2nd", 991041, 1},
        {"catsdogs-2nd-dropout", 991041, 1},
        {"vgg16-base", 14714688, 4 * 4 * 512},
        {"vgg16", 138357544, 1000},
        {"vgg16-catsdogs", 17992001, 1},
        {"vgg16-head", 3277313, 1},
    };
    enum { N = sizeof want / sizeof want[0] };
    int n = 0;
    while (nn_builtin_name(n)) {
        n++;
    }
    ck_assert_int_eq(n, N);
    for (int i = 0; i < N; i++) {
        char err[256] = "";
        const char *spec = nn_builtin_spec(want[i].name);
        ck_assert_ptr_nonnull(spec);
        /* Counted from the parsed layers: vgg16's arenas would be 1.6 GB. */
        nn_layer_desc *layers;
        int nl;
        ck_assert_msg(nn_spec_parse(spec, want[i].name, &layers, &nl, err, sizeof err) == 0, "%s",
                      err);
        size_t params = 0;
        for (int j = 0; j < nl; j++) {
            params += layers[j].w_n + layers[j].b_n;
        }
        ck_assert_msg(params == want[i].params, "%s: %zu parameters", want[i].name, params);
        ck_assert_int_eq((int)layers[nl - 1].size, want[i].outputs);
        int raw = layers[1].kind == NN_RESCALING || layers[1].kind == NN_PREPROCESS;
        ck_assert_int_eq(raw, strncmp(want[i].name, "catsdogs-2nd", 12) == 0 ||
                                  (strncmp(want[i].name, "vgg16", 5) == 0 &&
                                   strcmp(want[i].name, "vgg16-head") != 0));
        free(layers);
    }
    ck_assert_ptr_null(nn_builtin_spec("resnet50"));
}
END_TEST

/* What tf.keras 2 prints for this model (Sequential, named "mnist"). */
static const char mnist_summary[] =
    "Model: \"mnist\"\n"
    "_________________________________________________________________\n"
    "Layer (type)                 Output Shape              Param #   \n"
    "=================================================================\n"
    "conv2d (Conv2D)              (None, 24, 24, 32)        832       \n"
    "_________________________________________________________________\n"
    "max_pooling2d (MaxPooling2D) (None, 12, 12, 32)        0         \n"
    "_________________________________________________________________\n"
    "conv2d_1 (Conv2D)            (None, 8, 8, 64)          51264     \n"
    "_________________________________________________________________\n"
    "max_pooling2d_1 (MaxPooling2 (None, 4, 4, 64)          0         \n"
    "_________________________________________________________________\n"
    "flatten (Flatten)            (None, 1024)              0         \n"
    "_________________________________________________________________\n"
    "dense (Dense)                (None, 64)                65600     \n"
    "_________________________________________________________________\n"
    "dense_1 (Dense)              (None, 10)                650       \n"
    "=================================================================\n"
    "Total params: 118,346\n"
    "Trainable params: 118,346\n"
    "Non-trainable params: 0\n"
    "_________________________________________________________________\n";

START_TEST(summary_matches_keras)
{
    char err[256] = "", *s;
    nn_model *m;
    ck_assert_int_eq(nn_model_create(&m, nn_builtin_spec("mnist"), "mnist", 1, err, sizeof err), 0);
    ck_assert_int_eq(nn_model_summary(m, &s), 0);
    ck_assert_str_eq(s, mnist_summary);
    free(s);
    nn_model_destroy(m);
    /* The second edition's model: Rescaling's row and its 991,041. */
    ck_assert_int_eq(
        nn_model_create(&m, nn_builtin_spec("catsdogs-2nd"), "catsdogs-2nd", 1, err, sizeof err),
        0);
    ck_assert_int_eq(nn_model_summary(m, &s), 0);
    ck_assert_ptr_nonnull(
        strstr(s, "\nrescaling (Rescaling)        (None, 180, 180, 3)       0  "));
    ck_assert_ptr_nonnull(
        strstr(s, "\nconv2d_4 (Conv2D)            (None, 7, 7, 256)         590080"));
    ck_assert_ptr_nonnull(strstr(s, "\nTotal params: 991,041\n"));
    free(s);
    nn_model_destroy(m);
}
END_TEST

/* A spec as a user writes it: Keras 1 style input_shape, prefixes,
 * keywords, comments, blank lines, same padding and strides. */
START_TEST(spec_file)
{
    char dir[256], path[300], err[256] = "", *text;
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("# a small model\n\n"
          "layers.Conv2D(8, (3, 3), activation='relu', input_shape=(32, 32, 3))\n"
          "keras.layers.MaxPool2D(pool_size=(2, 2), strides=2, padding=\"same\")  # 15x15\n"
          "Conv2D(filters=16, kernel_size=3, strides=(2, 2), padding='same', use_bias=False)\n"
          "Activation('relu', name='act')\n"
          "Flatten()\n"
          "Dropout(rate=0.25)\n"
          "Dense(units=3, activation='softmax')\n",
          f);
    fclose(f);
    ck_assert_msg(nn_spec_load(path, &text, err, sizeof err) == 0, "%s", err);
    nn_model *m;
    ck_assert_msg(nn_model_create(&m, text, "small", 4, err, sizeof err) == 0, "%s", err);
    /* 3*3*3*8+8 + 3*3*8*16 + (8*8*16)*3+3: 32 -> 30 -> 15 -> 8 */
    ck_assert_uint_eq(nn_model_params(m), 224 + 1152 + 3075);
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    ck_assert(h == 32 && w == 32 && c == 3);
    char *s;
    ck_assert_int_eq(nn_model_summary(m, &s), 0);
    ck_assert_ptr_nonnull(strstr(s, "act (Activation)             (None, 8, 8, 16)"));
    ck_assert_ptr_nonnull(strstr(s, "max_pooling2d (MaxPooling2D) (None, 15, 15, 8) "));
    free(s);
    nn_model_destroy(m);
    free(text);
    remove(path);
    rmdir(dir);
    /* Neither a built-in nor a file: a usage error listing the built-ins,
     * with the nearest when the name is a near miss of one. */
    ck_assert_int_eq(nn_spec_load("/nonexistent/model.txt", &text, err, sizeof err), CK_EINVAL);
    ck_assert_msg(
        strstr(err, "/nonexistent/model.txt: not a built-in model (mnist, mnist-3conv, ") == err &&
            !strstr(err, "did you mean"),
        "%s", err);
    ck_assert_int_eq(nn_spec_load("mnist3conv", &text, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "; did you mean mnist-3conv?"), "%s", err);
    /* A file that exists but cannot be read is an i/o failure. */
    ck_assert_int_eq(nn_spec_load("/", &text, err, sizeof err), CK_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/: read:"));
}
END_TEST

START_TEST(spec_errors)
{
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"Input(shape=(28, 28, 1))\nConv2D(32, 3)\nDense(10)\n", "m:3: spec: Dense needs a flat"},
        {"Input(shape=(28, 28, 1))\n\nConv3D(32, 3)\n", "m:3: spec: unknown layer 'Conv3D'"},
        {"Input(shape=(28, 28, 1))\nConv2D(kernel_size=3)\n",
         "m:2: spec: Conv2D: missing argument 'filters'"},
        {"Input(shape=(28, 28, 1))\nConv2D(32, 3, padding='full')\n",
         "m:2: spec: Conv2D: padding must be"},
        {"Input(shape=(28, 28, 1))\nConv2D(32, 3, filter=2)\n",
         "m:2: spec: Conv2D: unknown or unsupported argument 'filter'"},
        {"Input(shape=(4, 4, 1))\nConv2D(2, 5)\n",
         "m:2: spec: Conv2D: a 5x5 window does not fit a 4x4"},
        {"Input(shape=(4, 4, 1))\nConv2D(2, 3, dilation_rate=2)\n",
         "m:2: spec: Conv2D: only dilation_rate=1"},
        {"Input(shape=(4, 4, 1))\nFlatten()\nDense(3, activation='tanh')\n",
         "m:3: spec: Dense: activation must be"},
        {"Input(shape=(4, 4, 1))\nFlatten()\nDropout(1.5)\n",
         "m:3: spec: Dropout: rate must be in [0, 1)"},
        {"Input(shape=(4, 4))\nFlatten()\n",
         "m:1: spec: Input: shape must be (height, width, channels)"},
        {"Flatten()\n", "m:1: spec: the first layer must be Input"},
        {"Input(shape=(4, 4, 1))\nFlatten(\n", "m:2: spec: missing ')'"},
        {"Input(shape=(4, 4, 1))\nDense(3, units=4)\n", "m:2: spec: argument 'units' given twice"},
        {"Input(shape=(4, 4, 1))\nFlatten()\nDense(units=3, 'relu')\n",
         "m:3: spec: positional argument after"},
        {"Input(shape=(4, 4, 1))\nFlatten(name='a')\nDense(2, name='a')\n",
         "m:3: spec: layer name 'a' is used twice"},
        {"Input(shape=(4, 4, 1))\n", "m: spec: no layers after Input"},
        {"Input(shape=(4, 4, 1))\nRescaling(1/0)\n", "m:2: spec: division by zero"},
        {"Input(shape=(4, 4, 1))\nRescaling(\"x)\n", "m:2: spec: unterminated string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        nn_model *m = (nn_model *)&err;
        ck_assert_int_eq(nn_model_create(&m, bad[i].spec, "m", 1, err, sizeof err), CK_EFORMAT);
        ck_assert_ptr_null(m);
        ck_assert_msg(strncmp(err, bad[i].msg, strlen(bad[i].msg)) == 0, "case %zu: '%s'", i, err);
    }
}
END_TEST

/* ---- a whole model against central differences --------------------------- */

static const char tiny_spec[] = "Input(shape=(6, 5, 2))\n"
                                "Rescaling(0.5, offset=0.1)\n"
                                "Conv2D(3, 3, padding='same', activation='sigmoid')\n"
                                "MaxPooling2D(2)\n"
                                "Conv2D(4, (2, 2), activation='sigmoid')\n"
                                "Flatten()\n"
                                "Dropout(0.3)\n"
                                "Dense(5, activation='sigmoid')\n"
                                "Activation('linear')\n"
                                "Dense(3, activation='softmax')\n";

typedef struct model_case {
    nn_model *m;
    float *x;
    int32_t labels[3];
    nn_step_key key;
    nn_loss_kind loss;
} model_case;

static double model_f(void *p)
{
    model_case *t = p;
    ck_assert_int_eq(nn_model_forward(t->m, t->x, 3, &t->key), 0);
    return nn_model_loss(t->m, t->loss, t->labels) / 3;
}

START_TEST(model_gradients)
{
    char err[256] = "";
    model_case t = {.labels = {2, 0, 1}, .key = {.seed = 7, .epoch = 1, .batch = 4}};
    ck_assert_int_eq(nn_model_create(&t.m, tiny_spec, "tiny", 3, err, sizeof err), 0);
    nn_model_init(t.m, 11);
    t.x = nt_rand(3 * 6 * 5 * 2, -2, 2, 50);
    for (t.loss = NN_LOSS_CATEGORICAL; t.loss <= NN_LOSS_SPARSE; t.loss++) {
        nn_zero_grad(t.m);
        double l = model_f(&t);
        ck_assert(isfinite(l) && l > 0);
        nn_model_backward(t.m);
        nt_gradcheck(model_f, &t, t.m->params, t.m->nparams, t.m->grads, 1e-3, 2e-3, "model");
    }
    /* A sigmoid loss on a softmax output is refused. */
    ck_assert(isnan(nn_model_loss(t.m, NN_LOSS_BINARY, t.labels)));
    free(t.x);
    nn_model_destroy(t.m);
}
END_TEST

START_TEST(dropout_keys)
{
    char err[256] = "";
    nn_model *m;
    ck_assert_int_eq(nn_model_create(&m, tiny_spec, "tiny", 3, err, sizeof err), 0);
    nn_model_init(m, 1);
    float *x = nt_rand(3 * 6 * 5 * 2, -2, 2, 51), a[9], b[9];
    nn_step_key k = {.seed = 3, .epoch = 2, .batch = 5};
    nn_model_forward(m, x, 3, &k);
    memcpy(a, nn_model_output(m), sizeof a);
    nn_model_forward(m, x, 3, NULL); /* inference: no dropout */
    nn_model_forward(m, x, 3, &k);
    ck_assert_int_eq(memcmp(a, nn_model_output(m), sizeof a), 0);
    k.batch = 6;
    nn_model_forward(m, x, 3, &k);
    memcpy(b, nn_model_output(m), sizeof b);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    /* Initial weights are a function of the seed. */
    float w0 = m->params[5];
    nn_model_init(m, 1);
    nt_assert_near(m->params[5], w0, 0);
    nn_model_init(m, 2);
    ck_assert(m->params[5] != w0);
    ck_assert_int_eq(nn_model_forward(m, x, 4, NULL), CK_EINVAL);
    free(x);
    nn_model_destroy(m);
}
END_TEST

/* ---- VGG16's preprocessing, frozen layers, input shapes ------------------ */

START_TEST(caffe_preprocessing)
{
    /* Keras: x[..., ::-1] - [103.939, 116.779, 123.68] */
    const float x[6] = {10, 20, 30, 255, 0, 128};
    float y[6], dx[6];
    nn_caffe_forward(2, x, y);
    const float want[6] = {30 - 103.939f,  20 - 116.779f, 10 - 123.68f,
                           128 - 103.939f, 0 - 116.779f,  255 - 123.68f};
    for (int i = 0; i < 6; i++) {
        nt_assert_near(y[i], want[i], 1e-6);
    }
    nn_caffe_backward(2, x, dx);
    const float back[6] = {30, 20, 10, 128, 0, 255};
    ck_assert_int_eq(memcmp(dx, back, sizeof dx), 0);
    char err[256] = "";
    nn_model *m = NULL;
    ck_assert_int_eq(nn_model_create(&m, "Input(shape=(4, 4, 1))\npreprocess_input()\n", "m", 1,
                                     err, sizeof err),
                     CK_EFORMAT);
    ck_assert_msg(strstr(err, "m:2: spec: preprocess_input needs an (h, w, 3)"), "%s", err);
    ck_assert_int_eq(nn_model_create(&m, "Input(shape=(4, 4, 3))\npreprocess_input(mode='tf')\n",
                                     "m", 1, err, sizeof err),
                     CK_EFORMAT);
    ck_assert_msg(strstr(err, "only mode=\"caffe\""), "%s", err);
}
END_TEST

/* A frozen layer in the middle: the trainable ones still get exact
 * gradients, through it and through the preprocessing. */
static const char frozen_spec[] = "Input(shape=(5, 4, 3))\n"
                                  "keras.applications.vgg16.preprocess_input()\n"
                                  "Conv2D(3, 3, padding='same', activation='sigmoid', name='c1')\n"
                                  "Conv2D(2, 2, activation='sigmoid', name='c2', trainable=False)\n"
                                  "Flatten()\n"
                                  "Dense(3, activation='softmax', name='out')\n";

START_TEST(frozen_gradients)
{
    char err[256] = "";
    model_case t = {.labels = {2, 0, 1}, .key = {.seed = 7, .epoch = 0, .batch = 0}};
    t.loss = NN_LOSS_SPARSE;
    ck_assert_msg(nn_model_create(&t.m, frozen_spec, "frozen", 3, err, sizeof err) == 0, "%s", err);
    nn_model_init(t.m, 5);
    for (size_t i = 0; i < t.m->nparams; i++) {
        t.m->params[i] *= 0.02f; /* pixels around 100: keep the sigmoids alive */
    }
    t.x = nt_rand(3 * 5 * 4 * 3, 0, 255, 52);
    const nn_layer *c1 = &t.m->layers[2], *c2 = &t.m->layers[3], *out = &t.m->layers[5];
    ck_assert(c2->frozen && !c1->frozen && !out->frozen);
    ck_assert_uint_eq(nn_model_trainable_params(t.m), t.m->nparams - c2->desc.w_n - c2->desc.b_n);
    nn_zero_grad(t.m);
    model_f(&t);
    nn_model_backward(t.m);
    size_t n1 = c1->desc.w_n + c1->desc.b_n, no = out->desc.w_n + out->desc.b_n;
    nt_gradcheck(model_f, &t, t.m->params + c1->w_off, n1, t.m->grads + c1->w_off, 1e-3, 2e-3,
                 "c1 under a frozen layer");
    nt_gradcheck(model_f, &t, t.m->params + out->w_off, no, t.m->grads + out->w_off, 1e-3, 2e-3,
                 "out");
    /* Updates leave the frozen layer's bits alone and move the others. */
    float *before = malloc(t.m->nparams * sizeof *before);
    memcpy(before, t.m->params, t.m->nparams * sizeof *before);
    nn_model_update(t.m);
    ck_assert_int_eq(memcmp(before + c2->w_off, t.m->params + c2->w_off,
                            (c2->desc.w_n + c2->desc.b_n) * sizeof(float)),
                     0);
    ck_assert_int_ne(memcmp(before + c1->w_off, t.m->params + c1->w_off, n1 * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(before + out->w_off, t.m->params + out->w_off, no * sizeof(float)), 0);
    /* Trainable from the top layer: nothing below it gets a gradient. */
    ck_assert_int_eq(nn_model_trainable_from(t.m, "out", err, sizeof err), 0);
    ck_assert_uint_eq(nn_model_trainable_params(t.m), no);
    ck_assert(!out->need_dx && c1->frozen && c2->frozen);
    nn_zero_grad(t.m);
    model_f(&t);
    nn_model_backward(t.m);
    for (size_t i = 0; i < n1; i++) {
        ck_assert(t.m->grads[c1->w_off + i] == 0.0f);
    }
    nt_gradcheck(model_f, &t, t.m->params + out->w_off, no, t.m->grads + out->w_off, 1e-3, 2e-3,
                 "out alone");
    char *sum = NULL;
    ck_assert_int_eq(nn_model_summary(t.m, &sum), 0);
    ck_assert_msg(strstr(sum, "Trainable params: 75\nNon-trainable params: 110\n"), "%s", sum);
    free(sum);
    ck_assert_int_eq(nn_model_trainable_from(t.m, "c3", err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "frozen: trainable from 'c3': no such layer"), "%s", err);
    ck_assert_int_eq(nn_model_trainable_from(t.m, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(nn_model_trainable_params(t.m), t.m->nparams);
    free(before);
    free(t.x);
    nn_model_destroy(t.m);
}
END_TEST

START_TEST(spec_input_shape)
{
    char err[256] = "", *spec = NULL;
    ck_assert_int_eq(nn_spec_set_input(nn_builtin_spec("vgg16-base"), "vgg16-base", 180, 180, 0,
                                       &spec, err, sizeof err),
                     0);
    nn_layer_desc *layers;
    int n;
    ck_assert_int_eq(nn_spec_parse(spec, "s", &layers, &n, err, sizeof err), 0);
    ck_assert_int_eq(layers[0].h, 180);
    ck_assert_int_eq(layers[0].c, 3);
    ck_assert_int_eq((int)layers[n - 1].size, 5 * 5 * 512);
    ck_assert_str_eq(layers[n - 1].name, "block5_pool");
    free(layers);
    free(spec);
    /* Too small for five 2x2 pools. */
    ck_assert_int_eq(nn_spec_set_input(nn_builtin_spec("vgg16-base"), "vgg16-base", 16, 16, 0,
                                       &spec, err, sizeof err),
                     CK_EFORMAT);
    ck_assert_msg(strstr(err, "does not fit"), "%s", err);
    ck_assert_ptr_null(spec);
    ck_assert_int_eq(nn_spec_set_input("Flatten(input_shape=(4, 4, 1))\nDense(2)\n", "k", 8, 8, 0,
                                       &spec, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "k:1: spec: input_shape on the first layer"), "%s", err);
    ck_assert_int_eq(
        nn_spec_set_input(nn_builtin_spec("vgg16-head"), "h", 4, 4, 512, &spec, err, sizeof err),
        0);
    ck_assert_ptr_nonnull(strstr(spec, "Input(shape=(4, 4, 512))\nFlatten()"));
    free(spec);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("nn_model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, layer_kinds_table_complete);
    tcase_add_test(tc, builtin_param_counts);
    tcase_add_test(tc, summary_matches_keras);
    tcase_add_test(tc, spec_file);
    tcase_add_test(tc, spec_errors);
    tcase_add_test(tc, model_gradients);
    tcase_add_test(tc, dropout_keys);
    tcase_add_test(tc, caffe_preprocessing);
    tcase_add_test(tc, frozen_gradients);
    tcase_add_test(tc, spec_input_shape);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(model_suite());
}
