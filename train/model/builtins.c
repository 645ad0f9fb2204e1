/* builtins.c: the built-in models, and where a model argument's spec
 * text comes from.
 *
 * The built-in models are spec texts, parsed by the same code as a user's
 * spec file, so that a built-in model is nothing a user could not write:
 * the book's models, each with its listing and its parameter count in a
 * comment, and Keras's VGG16 (its conv base under its own layer names, so
 * that Keras's weight files load by name). A model argument is a built-in
 * name, else the path of a spec file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"
#include "nn.h"

#define CONV3(k) "Conv2D(" #k ", (3, 3), activation=\"relu\")\n"
#define POOL2    "MaxPooling2D((2, 2))\n"
#define CATSDOGS_1ST_BASE                                                                          \
    "Input(shape=(150, 150, 3))\n" CONV3(32) POOL2 CONV3(64) POOL2 CONV3(128) POOL2 CONV3(128)     \
        POOL2 "Flatten()\n"
#define CONV3F(k) "Conv2D(filters=" #k ", kernel_size=3, activation=\"relu\")\n"
#define POOLF     "MaxPooling2D(pool_size=2)\n"
#define CATSDOGS_2ND_BASE                                                                          \
    "Input(shape=(180, 180, 3))\n"                                                                 \
    "Rescaling(1./255)\n" CONV3F(32) POOLF CONV3F(64) POOLF CONV3F(128) POOLF CONV3F(256)          \
        POOLF CONV3F(256) "Flatten()\n"

/* Keras's VGG16 conv base (keras.applications.vgg16, include_top=False),
 * its layer names included, so Keras's weight files load by name. */
#define VCONV(k, name)                                                                             \
    "Conv2D(" #k ", (3, 3), activation=\"relu\", padding=\"same\", name=\"" name "\")\n"
#define VPOOL(name) "MaxPooling2D((2, 2), strides=(2, 2), name=\"" name "\")\n"
#define VGG16_BASE                                                                                 \
    "keras.applications.vgg16.preprocess_input()\n" VCONV(64, "block1_conv1")                      \
        VCONV(64, "block1_conv2") VPOOL("block1_pool") VCONV(128, "block2_conv1")                  \
            VCONV(128, "block2_conv2") VPOOL("block2_pool") VCONV(256, "block3_conv1")             \
                VCONV(256, "block3_conv2") VCONV(256, "block3_conv3") VPOOL("block3_pool")         \
                    VCONV(512, "block4_conv1") VCONV(512, "block4_conv2")                          \
                        VCONV(512, "block4_conv3") VPOOL("block4_pool") VCONV(512, "block5_conv1") \
                            VCONV(512, "block5_conv2") VCONV(512, "block5_conv3")                  \
                                VPOOL("block5_pool")

static const struct {
    const char *name, *spec;
} builtins[] = {
    {"mnist", "# Two 5x5 convolutions for 28x28 grey digits: 118,346 parameters.\n"
              "Input(shape=(28, 28, 1))\n"
              "Conv2D(32, (5, 5), activation=\"relu\")\n" POOL2
              "Conv2D(64, (5, 5), activation=\"relu\")\n" POOL2 "Flatten()\n"
              "Dense(64, activation=\"relu\")\n"
              "Dense(10, activation=\"softmax\")\n"},
    {"mnist-3conv", "# DLwP 1st ed. listing 5.1, three 3x3 convolutions: 93,322 parameters.\n"
                    "Input(shape=(28, 28, 1))\n" CONV3(32) POOL2 CONV3(64)
                        POOL2 CONV3(64) "Flatten()\n"
                                        "Dense(64, activation=\"relu\")\n"
                                        "Dense(10, activation=\"softmax\")\n"},
    {"catsdogs-1st", "# DLwP 1st ed. listing 5.5, cats vs dogs from scratch: 3,453,121.\n"
                     "# Inputs in [0, 1] (the book rescales in the generator).\n" CATSDOGS_1ST_BASE
                     "Dense(512, activation=\"relu\")\n"
                     "Dense(1, activation=\"sigmoid\")\n"},
    {"catsdogs-1st-dropout",
     "# DLwP 1st ed. listing 5.13: catsdogs-1st with Dropout.\n" CATSDOGS_1ST_BASE "Dropout(0.5)\n"
     "Dense(512, activation=\"relu\")\n"
     "Dense(1, activation=\"sigmoid\")\n"},
    {"catsdogs-2nd", "# DLwP 2nd ed. section 8.2.3, cats vs dogs from scratch: 991,041.\n"
                     "# Inputs are pixels in [0, 255]; the model rescales.\n" CATSDOGS_2ND_BASE
                     "Dense(1, activation=\"sigmoid\")\n"},
    {"catsdogs-2nd-dropout",
     "# DLwP 2nd ed. section 8.2.5: catsdogs-2nd with Dropout.\n" CATSDOGS_2ND_BASE "Dropout(0.5)\n"
     "Dense(1, activation=\"sigmoid\")\n"},
    {"vgg16-base", "# Keras's VGG16 conv base (include_top=False): 14,714,688 parameters.\n"
                   "# Inputs are RGB pixels in [0, 255]; preprocess_input is VGG16's caffe\n"
                   "# preprocessing (BGR, ImageNet means subtracted). Any size >= 32.\n"
                   "Input(shape=(150, 150, 3))\n" VGG16_BASE},
    {"vgg16", "# Keras's VGG16 with its ImageNet classifier: 138,357,544 parameters.\n"
              "Input(shape=(224, 224, 3))\n" VGG16_BASE "Flatten(name=\"flatten\")\n"
              "Dense(4096, activation=\"relu\", name=\"fc1\")\n"
              "Dense(4096, activation=\"relu\", name=\"fc2\")\n"
              "Dense(1000, activation=\"softmax\", name=\"predictions\")\n"},
    {"vgg16-catsdogs", "# DLwP 2nd ed. section 8.3.1: the VGG16 conv base with a dense classifier\n"
                       "# on top, for feature extraction with augmentation and fine-tuning.\n"
                       "Input(shape=(180, 180, 3))\n" VGG16_BASE "Flatten()\n"
                       "Dense(256, activation=\"relu\")\n"
                       "Dropout(0.5)\n"
                       "Dense(1, activation=\"sigmoid\")\n"},
    {"vgg16-head", "# DLwP 2nd ed. listing 8.20: the classifier trained on features that\n"
                   "# extract-features stored (the Input takes their shape).\n"
                   "Input(shape=(5, 5, 512))\n"
                   "Flatten()\n"
                   "Dense(256, activation=\"relu\")\n"
                   "Dropout(0.5)\n"
                   "Dense(1, activation=\"sigmoid\")\n"},
};
enum { NBUILTINS = sizeof builtins / sizeof builtins[0] };

const char *nn_builtin_spec(const char *name)
{
    for (int i = 0; name && i < NBUILTINS; i++) {
        if (strcmp(name, builtins[i].name) == 0) {
            return builtins[i].spec;
        }
    }
    return NULL;
}

const char *nn_builtin_name(int i)
{
    return i >= 0 && i < NBUILTINS ? builtins[i].name : NULL;
}

/* Neither a built-in nor a file: a usage error, with the built-ins and
 * the nearest of them when the name looks like a misspelling of one. */
static int unknown_model(const char *model, char *err, size_t errlen)
{
    ck_buf names = {0};
    ck_nearest n;
    ck_nearest_init(&n, model);
    for (int i = 0; nn_builtin_name(i); i++) {
        ck_buf_str(&names, i ? ", " : "");
        ck_buf_str(&names, nn_builtin_name(i));
        ck_nearest_add(&n, nn_builtin_name(i));
    }
    char hint[128];
    int rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: not a built-in model (%s) nor a spec file (no such file)%s", model,
                    names.oom ? "?" : names.s, ck_nearest_hint(&n, hint, sizeof hint));
    ck_buf_free(&names);
    return rc;
}

int nn_spec_load(const char *model, char **text, char *err, size_t errlen)
{
    *text = NULL;
    const char *b = nn_builtin_spec(model);
    if (b) {
        *text = strdup(b);
        return *text ? 0 : ck_err(err, errlen, CK_ENOMEM, "%s: load: out of memory", model);
    }
    FILE *f = fopen(model, "rb");
    if (!f && errno == ENOENT) {
        return unknown_model(model, err, errlen);
    }
    if (!f) {
        char why[128];
        return ck_err(err, errlen, CK_EIO, "%s: open: %s (not a built-in model either)", model,
                      ck_errno_text(errno, why, sizeof why));
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1) {
            break;
        }
        if (cap >= (1u << 20)) { /* a spec is a few lines */
            free(buf);
            fclose(f);
            return ck_err(err, errlen, CK_ELIMIT, "%s: read: larger than 1 MB", model);
        }
        char *nb = realloc(buf, cap *= 2);
        if (!nb) {
            free(buf);
        }
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: read: out of memory", model);
    }
    if (bad) {
        free(buf);
        return ck_err(err, errlen, CK_EIO, "%s: read: i/o error", model);
    }
    buf[len] = '\0';
    *text = buf;
    return 0;
}
