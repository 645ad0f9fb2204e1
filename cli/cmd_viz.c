/* cmd_viz.c: `convkit activations`, `filters` and `heatmap`: what a
 * trained convnet looks at, as the book's figures. train/ computes
 * (nn_model_layer_output, nn_filter_patterns, nn_gradcam_run), augment/
 * draws (aug_figure); this file chooses what goes in each figure. An
 * image is prepared as predict prepares it, from what the checkpoint
 * recorded (input size, channels, scale, resize and decode modes).
 *
 * Sizes: a figure is at most about FIG_WIDTH pixels wide, so it fits a
 * slide. Activation grids have the book's 16 channels a row, each map
 * enlarged by a whole factor to about 64 pixels (its pixels stay squares)
 * or shrunk to the width. A heat map is shown on the image as the model saw
 * it, decoded again at SHOWN pixels on its longer side through the same
 * resize mode, at the original's proportions when the run stretched its
 * images (a stretched input's grid maps onto the whole original).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"
#include "cli.h"
#include "data.h"

enum { FIG_WIDTH = 1600, GRID_COLS = 16, SHOWN = 384 };

#define TIMES "\xc3\x97" /* U+00D7, between a shape's sides */

static const char figure_exts[] = ".png,.jpg,.jpeg,.webp";

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* The cell of a panel of `cols` tiles of side `side`: a small map
 * enlarged by a whole factor to at least `want` pixels, a larger one as it
 * is, either shrunk to what FIG_WIDTH allows. */
static int cell_for(int side, int want, int cols)
{
    int cell = side < want ? side * ((want + side - 1) / side) : side;
    int fit = (FIG_WIDTH - (cols - 1) * 4) / cols;
    if (cell > fit) {
        cell = side <= fit ? side * (fit / side) : fit;
    }
    return cell;
}

/* ---- one checkpoint and one image ---------------------------------------- */

typedef struct viz_in {
    const char *ckpt, *image; /* the image's name */
    nn_model *m;
    data_run run;
    int h, w, c; /* the model's input */
    aug_src src; /* the image */
    void *bytes; /* its file's bytes, when it was read from one */
    float *x;    /* the image as the model takes it */
} viz_in;

/* Loads the checkpoint for batches of `batch`, ready to be looked into. */
static int viz_open(viz_in *v, const char *ckpt, int batch, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->ckpt = ckpt;
    int rc = nn_model_load(&v->m, ckpt, batch, err, errlen);
    if (rc == 0) {
        rc = data_check_images(v->m, ckpt, err, errlen);
    }
    if (rc == 0) {
        rc = nn_model_inspect(v->m, err, errlen);
    }
    if (rc == 0) {
        data_run_read(v->m, &v->run);
        nn_model_input_shape(v->m, &v->h, &v->w, &v->c);
    }
    return rc;
}

/* Takes cv's image (in memory, or read from its file) into v->x as
 * predict prepares it. */
static int viz_image(viz_in *v, const cli_viz *cv, char *err, size_t errlen)
{
    int rc = 0;
    if (cv->src) {
        v->src = *cv->src;
    } else {
        rc = data_image_file(cv->image, &v->src, &v->bytes, err, errlen);
    }
    v->image = v->src.name;
    aug_params p = data_model_params(v->m, &v->run.input);
    aug_pipe *pipe = NULL;
    if (rc == 0) {
        rc = aug_pipe_create(&pipe, &p, err, errlen);
    }
    if (rc == 0 && !(v->x = malloc(aug_params_sample_bytes(&p)))) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: out of memory", v->image);
    }
    if (rc == 0) {
        rc = aug_pipe_run_sample(pipe, &v->src, NULL, v->x, err, errlen);
    }
    aug_pipe_destroy(pipe);
    return rc;
}

static void viz_close(viz_in *v)
{
    free(v->x);
    free(v->bytes);
    data_run_free(&v->run);
    nn_model_destroy(v->m);
}

/* The model's input units per pixel level: 1 for a model taking 0..255,
 * else 1/255. */
static float pixel_unit(const nn_model *m)
{
    return nn_model_rescales(m) ? 1.0f : 1.0f / 255.0f;
}

/* "(26×26×32)" */
static void shape_text(char *buf, size_t len, int h, int w, int c)
{
    snprintf(buf, len, "%d" TIMES "%d" TIMES "%d", h, w, c);
}

/* The Conv2D layers' names, "a, b, c", for messages. */
static void conv_names(const nn_model *m, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 1; i < nn_model_layers(m); i++) {
        nn_layer_info li;
        nn_model_layer_info(m, i, &li);
        if (!strcmp(li.type, "Conv2D")) {
            size_t n = strlen(buf);
            snprintf(buf + n, len - n, "%s%s", n ? ", " : "", li.name);
        }
    }
}

/* ---- activations ------------------------------------------------------------ */

static const char activations_usage[] =
    "usage: convkit activations CHECKPOINT IMAGE -o grid.png\n"
    "\n"
    "Every channel of every convolution and pooling layer's output for one\n"
    "image (the book's grids of intermediate activations): a panel per layer\n"
    "titled with its name and output shape, 16 channels a row, each channel\n"
    "scaled on its own (128 + 64 (v - mean) / sd, clipped, as the book does;\n"
    "a channel that is zero everywhere stays dark) and drawn in viridis. The\n"
    "first panel is the image as the model takes it. IMAGE is prepared as\n"
    "predict prepares it.\n";

/* The input x (h, w, c) in model units as 8-bit levels. */
static void input_levels(const viz_in *v, uint8_t *px)
{
    const float unit = pixel_unit(v->m);
    for (size_t i = 0; i < (size_t)v->h * v->w * v->c; i++) {
        px[i] = (uint8_t)fminf(255, fmaxf(0, v->x[i] / unit + 0.5f));
    }
}

int cli_viz_activations(cli_viz *cv, aug_figure **out, char *err, size_t errlen)
{
    char title[1024], shape[64];
    aug_figure *f = NULL;
    uint8_t *px = NULL;
    viz_in vi, *v = &vi;
    int layers = 0, channels = 0;
    int rc = viz_open(v, cv->ckpt, 1, err, errlen);
    if (rc == 0) {
        rc = viz_image(v, cv, err, errlen);
    }
    if (rc == 0) {
        nn_model_forward(v->m, v->x, 1, NULL);
        snprintf(title, sizeof title, "Activations of %s in %s", base_name(v->image),
                 base_name(v->ckpt));
        rc = aug_figure_create(&f, title, err, errlen);
    }
    if (rc == 0 && !(px = malloc((size_t)v->h * v->w * v->c))) {
        rc = ck_err(err, errlen, CK_ENOMEM, "activations: out of memory");
    }
    if (rc == 0) {
        shape_text(shape, sizeof shape, v->h, v->w, v->c);
        snprintf(title, sizeof title, "input: %s, as the model takes it", shape);
        int side = v->h > v->w ? v->h : v->w;
        rc = aug_figure_panel(f, title, 1, cell_for(side, 160, 1), AUG_CMAP_GREY, err, errlen);
    }
    if (rc == 0) {
        input_levels(v, px);
        rc = aug_figure_add_pixels(f, px, v->w, v->h, v->c, err, errlen);
    }
    for (int i = 1; rc == 0 && i < nn_model_layers(v->m); i++) {
        nn_layer_info li;
        nn_model_layer_info(v->m, i, &li);
        if (strcmp(li.type, "Conv2D") != 0 && strcmp(li.type, "MaxPooling2D") != 0) {
            continue;
        }
        const float *y = nn_model_layer_output(v->m, i);
        int shown = cv->channels > 0 && cv->channels < li.c ? cv->channels : li.c;
        int cols = shown < GRID_COLS ? shown : GRID_COLS;
        shape_text(shape, sizeof shape, li.h, li.w, li.c);
        snprintf(title, sizeof title, "%s (%s): %s", li.name, li.type, shape);
        if (shown < li.c) {
            size_t k = strlen(title);
            snprintf(title + k, sizeof title - k, ", its first %d channels", shown);
        }
        rc = aug_figure_panel(f, title, cols, cell_for(li.h > li.w ? li.h : li.w, 64, cols),
                              AUG_CMAP_VIRIDIS, err, errlen);
        for (int k = 0; rc == 0 && k < shown; k++) {
            aug_fmap map = {.v = y + k, .w = li.w, .h = li.h, .bands = 1, .stride = li.c};
            rc = aug_figure_add_map(f, &map, AUG_SCALE_STANDARD, err, errlen);
        }
        layers++;
        channels += shown;
    }
    if (rc == 0 && layers == 0) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: the model has no convolution or pooling layer: nothing to show", v->ckpt);
    }
    if (rc == 0) {
        char n[32];
        cli_fmt_count(n, sizeof n, channels);
        snprintf(cv->what, sizeof cv->what, "%s channels of %d layers for %s", n, layers, v->image);
        *out = f;
        f = NULL;
    }
    free(px);
    aug_figure_destroy(f);
    viz_close(v);
    return rc;
}

/* Parses a command's options, CHECKPOINT [IMAGE] and -o; CLI_GO when the
 * figure is to be made. */
static int viz_args(const cli_spec *cli, int argc, char **argv, int images, cli_viz *v,
                    const char **out)
{
    int first, st = cli_parse(cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (argc - first != 1 + images) {
        return cli_usage(cli->cmd,
                         images ? "want CHECKPOINT IMAGE -o FILE" : "want CHECKPOINT -o FILE");
    }
    v->ckpt = argv[first];
    v->image = images ? argv[first + 1] : NULL;
    const char *ins[] = {v->ckpt, v->image}, *outs[] = {*out};
    if ((st = cli_output_ext(cli->cmd, *out, "figure", figure_exts)) ||
        (st = cli_outputs_apart(cli->cmd, ins, 1 + images, outs, 1))) {
        return st;
    }
    return CLI_GO;
}

/* Makes the figure with build, writes it to out and says what it shows. */
static int viz_write(int (*build)(cli_viz *, aug_figure **, char *, size_t), cli_viz *v,
                     const char *out)
{
    char err[1024];
    aug_figure *f = NULL;
    int rc = build(v, &f, err, sizeof err);
    if (rc == 0) {
        rc = aug_figure_save(f, out, err, sizeof err);
    }
    aug_figure_destroy(f);
    if (rc == 0) {
        printf("%s: %s\n", out, v->what);
    }
    return cli_report(rc, err);
}

cli_viz cli_viz_defaults(const char *ckpt, const char *image)
{
    return (cli_viz){.ckpt = ckpt, .image = image, .count = 8, .ascent = nn_ascent_defaults()};
}

int cmd_activations(int argc, char **argv)
{
    const char *out = NULL;
    const cli_opt opts[] = {
        CLI_STR_OPT("output", 'o', &out, "FILE", "the figure (PNG, JPEG or WebP by its extension)"),
        CLI_END_OPT,
    };
    const cli_spec cli = {
        .cmd = "activations", .usage = activations_usage, .opts = opts, .required = "output"};
    cli_viz v = cli_viz_defaults(NULL, NULL);
    v.say = stdout;
    int st = viz_args(&cli, argc, argv, 1, &v, &out);
    return st != CLI_GO ? st : viz_write(cli_viz_activations, &v, out);
}

/* ---- filters ------------------------------------------------------------- */

static const char filters_usage[] =
    "usage: convkit filters CHECKPOINT [--layer NAME] [-n 8] [--steps 30] [--seed S]\n"
    "                       -o grid.png\n"
    "\n"
    "What the convolution filters respond to. The first Conv2D layer's\n"
    "kernels are drawn as they are, as images (zero mid-grey, each kernel\n"
    "scaled by its largest weight; colour for a colour model). For every\n"
    "deeper Conv2D layer (or only --layer), the input pattern each of its\n"
    "first N filters responds to most, found as the book does: gradient\n"
    "ascent in input space on the filter's mean response, from a grey image\n"
    "with a little noise (drawn from --seed), each step moving the image by\n"
    "2% of the pixel range in root mean square, shown with the book's\n"
    "scaling. The response is taken before the layer's ReLU, so that a\n"
    "filter the grey start leaves silent still has a gradient; a panel's\n"
    "title counts the filters that the ascent never excited.\n";

/* Draws layer li's kernels (kh, kw, kc in {1, 3}) as tiles. BGR kernels
 * (a model that starts with VGG16's preprocess_input) are shown as RGB. */
static int add_kernels(aug_figure *f, const nn_layer_info *li, int bgr, char *err, size_t errlen)
{
    char title[512];
    int cols = li->c < GRID_COLS ? li->c : GRID_COLS;
    snprintf(title, sizeof title, "%s (%s): its %d kernels, %d" TIMES "%d" TIMES "%d (grey: 0)",
             li->name, li->type, li->c, li->kh, li->kw, li->kc);
    int rc = aug_figure_panel(f, title, cols, cell_for(li->kh > li->kw ? li->kh : li->kw, 48, cols),
                              AUG_CMAP_GREY, err, errlen);
    size_t n = (size_t)li->kh * li->kw * li->kc;
    float *k = malloc(n * sizeof *k);
    if (rc == 0 && !k) {
        rc = ck_err(err, errlen, CK_ENOMEM, "filters: out of memory");
    }
    for (int o = 0; rc == 0 && o < li->c; o++) {
        /* kernel (kh, kw, kc, c) -> filter o's (kh, kw, kc) */
        for (size_t i = 0; i < n; i++) {
            size_t px = i / li->kc, b = i % li->kc, from = bgr ? li->kc - 1 - b : b;
            k[i] = li->kernel[(px * li->kc + from) * li->c + o];
        }
        aug_fmap map = {.v = k, .w = li->kw, .h = li->kh, .bands = li->kc, .stride = li->kc};
        rc = aug_figure_add_map(f, &map, AUG_SCALE_SIGNED, err, errlen);
    }
    free(k);
    return rc;
}

/* Finds and draws the patterns of layer i's first `count` filters. */
static int add_patterns(aug_figure *f, viz_in *v, int i, const nn_layer_info *li, int count,
                        const nn_ascent *o, FILE *say, char *err, size_t errlen)
{
    int n = count < li->c ? count : li->c;
    size_t in = (size_t)v->h * v->w * v->c;
    int *filters = malloc((size_t)n * sizeof *filters);
    float *x = malloc((size_t)n * in * sizeof *x), *start = malloc((size_t)n * sizeof *start),
          *end = malloc((size_t)n * sizeof *end);
    int rc = 0, dead = 0;
    if (!filters || !x || !start || !end) {
        rc = ck_err(err, errlen, CK_ENOMEM, "filters: out of memory");
    }
    for (int j = 0; rc == 0 && j < n; j++) {
        filters[j] = j;
    }
    if (rc == 0) {
        rc = nn_filter_patterns(v->m, i, filters, n, o, x, start, end, err, errlen);
    }
    double gain0 = 0, gain1 = 0;
    for (int j = 0; rc == 0 && j < n; j++) {
        dead += end[j] <= 0;
        gain0 += (double)start[j] / n;
        gain1 += (double)end[j] / n;
    }
    if (rc == 0) {
        char title[512], why[96] = "";
        if (dead) {
            snprintf(why, sizeof why, "; %d never excited", dead);
        }
        char which[32] = "filter 0 responds";
        if (n > 1) {
            snprintf(which, sizeof which, "filters 0\xe2\x80\x93%d respond", n - 1); /* 0–7 */
        }
        snprintf(title, sizeof title, "%s (%s, %d filters): what %s to most (%d steps%s)", li->name,
                 li->type, li->c, which, o->steps, why);
        int cols = n < 8 ? n : 8, side = v->h > v->w ? v->h : v->w;
        rc =
            aug_figure_panel(f, title, cols, cell_for(side, 160, cols), AUG_CMAP_GREY, err, errlen);
    }
    for (int j = 0; rc == 0 && j < n; j++) {
        aug_fmap map = {.v = x + j * in, .w = v->w, .h = v->h, .bands = v->c, .stride = v->c};
        rc = aug_figure_add_map(f, &map, AUG_SCALE_STANDARD, err, errlen);
    }
    if (rc == 0 && say) {
        fprintf(say, "%s: %d pattern%s, mean output %.4g -> %.4g", li->name, n, n == 1 ? "" : "s",
                gain0, gain1);
        if (dead) {
            fprintf(say, " (%d filter%s never excited)", dead, dead == 1 ? "" : "s");
        }
        fprintf(say, "\n");
    }
    free(filters);
    free(x);
    free(start);
    free(end);
    return rc;
}

/* The index of layer `name` for --layer: a Conv2D, else CK_EINVAL naming
 * the checkpoint's Conv2D layers (and the nearest name). */
static int find_conv(const nn_model *m, const char *ckpt, const char *name, int *at, char *err,
                     size_t errlen)
{
    char names[1024];
    conv_names(m, names, sizeof names);
    *at = nn_model_layer_find(m, name);
    nn_layer_info li;
    if (*at < 0) {
        ck_nearest near;
        ck_nearest_init(&near, name);
        for (int i = 0; i < nn_model_layers(m); i++) {
            nn_model_layer_info(m, i, &li);
            ck_nearest_add(&near, li.name);
        }
        char hint[128];
        return ck_err(err, errlen, CK_EINVAL, "%s: --layer %s: no such layer (Conv2D layers: %s)%s",
                      ckpt, name, names, ck_nearest_hint(&near, hint, sizeof hint));
    }
    nn_model_layer_info(m, *at, &li);
    if (strcmp(li.type, "Conv2D") != 0) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s: --layer %s: a %s layer has no filters (Conv2D layers: %s)", ckpt, name,
                      li.type, names);
    }
    return 0;
}

/* Whether deeper layer j of n is among `most` of them spread over the
 * depth, the last among them (most 0: every one is). */
static int spread_pick(int j, int n, int most)
{
    for (int k = 0; most > 0 && n > most && k < most; k++) {
        if ((k + 1) * n / most - 1 == j) {
            return 1;
        }
    }
    return most <= 0 || n <= most;
}

/* The number of Conv2D layers of m after layer `after`. */
static int convs_after(const nn_model *m, int after)
{
    int n = 0;
    for (int i = after + 1; i < nn_model_layers(m); i++) {
        nn_layer_info li;
        nn_model_layer_info(m, i, &li);
        n += !strcmp(li.type, "Conv2D");
    }
    return n;
}

int cli_viz_filters(cli_viz *cv, aug_figure **out, char *err, size_t errlen)
{
    char title[1024];
    viz_in vi, *v = &vi;
    aug_figure *f = NULL;
    if (cv->count < 1 || cv->count > 256) {
        return ck_err(err, errlen, CK_EINVAL, "filters: %d filters a layer: want 1..256",
                      cv->count);
    }
    int rc = viz_open(v, cv->ckpt, cv->count, err, errlen), at = -1, first_conv = -1;
    for (int i = 1; rc == 0 && i < nn_model_layers(v->m) && first_conv < 0; i++) {
        nn_layer_info li;
        nn_model_layer_info(v->m, i, &li);
        first_conv = strcmp(li.type, "Conv2D") ? -1 : i;
    }
    if (rc == 0 && first_conv < 0) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: the model has no Conv2D layer: no filters",
                    cv->ckpt);
    }
    if (rc == 0 && cv->layer) {
        rc = find_conv(v->m, cv->ckpt, cv->layer, &at, err, errlen);
    }
    if (rc == 0) {
        snprintf(title, sizeof title, "What the filters of %s respond to", base_name(cv->ckpt));
        rc = aug_figure_create(&f, title, err, errlen);
    }
    nn_layer_info pre;
    int bgr = rc == 0 && nn_model_layer_info(v->m, 1, &pre) == 0 && !strcmp(pre.type, "TFOpLambda");
    int deeper = rc == 0 ? convs_after(v->m, first_conv) : 0, j = -1;
    char patterns[400] = ""; /* the layers whose patterns are drawn */
    int most = 0;            /* their largest filter count */
    cv->what[0] = '\0';      /* filled layer by layer */
    for (int i = first_conv; rc == 0 && i < nn_model_layers(v->m); i++) {
        nn_layer_info li;
        nn_model_layer_info(v->m, i, &li);
        if (strcmp(li.type, "Conv2D") != 0) {
            continue;
        }
        j += i > first_conv; /* i's rank among the deeper layers */
        if (at >= 0 ? i != at : i > first_conv && !spread_pick(j, deeper, cv->layers)) {
            continue;
        }
        if (i == first_conv && (li.kc == 1 || li.kc == 3)) {
            rc = add_kernels(f, &li, bgr && li.kc == 3, err, errlen);
            if (rc == 0 && cv->say) {
                fprintf(cv->say, "%s: %d kernels\n", li.name, li.c);
            }
            snprintf(cv->what, sizeof cv->what, "%s's %d kernels", li.name, li.c);
        } else {
            rc = add_patterns(f, v, i, &li, cv->count, &cv->ascent, cv->say, err, errlen);
            size_t k = strlen(patterns);
            snprintf(patterns + k, sizeof patterns - k, "%s%s", k ? ", " : "", li.name);
            most = li.c > most ? li.c : most;
        }
    }
    if (rc == 0 && patterns[0]) {
        size_t k = strlen(cv->what);
        int n = cv->count < most ? cv->count : most;
        if (n == 1) {
            snprintf(cv->what + k, sizeof cv->what - k, "%swhat filter 0 of %s responds to most",
                     k ? "; " : "", patterns);
        } else { /* filters 0–7 */
            snprintf(cv->what + k, sizeof cv->what - k,
                     "%swhat filters 0\xe2\x80\x93%d of %s respond to most", k ? "; " : "", n - 1,
                     patterns);
        }
    }
    if (rc == 0) {
        *out = f;
        f = NULL;
    }
    aug_figure_destroy(f);
    viz_close(v);
    return rc;
}

int cmd_filters(int argc, char **argv)
{
    const char *out = NULL, *layer = NULL;
    int64_t count = 8, steps = 30, seed = 0;
    const cli_opt opts[] = {
        CLI_STR_OPT("output", 'o', &out, "FILE", "the figure (PNG, JPEG or WebP by its extension)"),
        CLI_STR_OPT("layer", 0, &layer, "NAME",
                    "only this Conv2D layer (convkit summary names them)"),
        CLI_INT_OPT("n", 'n', &count, "N", "filters drawn per deeper layer (default 8)", 1, 256),
        CLI_INT_OPT("steps", 0, &steps, "N", "gradient-ascent steps (default 30)", 0, 1000),
        CLI_INT_OPT("seed", 0, &seed, "S", "the starting noise's seed (default 0)", 0, CLI_NOMAX),
        CLI_END_OPT,
    };
    const cli_spec cli = {
        .cmd = "filters", .usage = filters_usage, .opts = opts, .required = "output"};
    cli_viz v = cli_viz_defaults(NULL, NULL);
    int st = viz_args(&cli, argc, argv, 0, &v, &out);
    if (st != CLI_GO) {
        return st;
    }
    v.layer = layer;
    v.count = (int)count;
    v.ascent.steps = (int)steps;
    v.ascent.seed = (uint64_t)seed;
    v.say = stdout;
    return viz_write(cli_viz_filters, &v, out);
}

/* ---- heatmap --------------------------------------------------------------- */

static const char heatmap_usage[] =
    "usage: convkit heatmap CHECKPOINT IMAGE [--class NAME] -o heat.png\n"
    "\n"
    "Grad-CAM (Selvaraju et al.) on the last Conv2D layer: each of its\n"
    "channels weighted by the mean over the map of the class score's gradient\n"
    "(the score before the final softmax or sigmoid), summed, negatives\n"
    "dropped, divided by its maximum, and drawn in the turbo colour map\n"
    "(blue: none, red: the most) beside the image as the model saw it: as\n"
    "the grid it is, then enlarged bilinearly and laid over the image at\n"
    "45%. The class is the predicted one unless --class names another.\n"
    "Prints the predicted class and its probability.\n";

/* The class named `name` among the model's, or CK_EINVAL listing them. */
static int find_class(const viz_in *v, const char *name, int *cls, char *err, size_t errlen)
{
    int D = nn_model_outputs(v->m);
    int n = nn_model_output_act(v->m) == NN_ACT_SIGMOID && D == 1 ? 2 : D;
    char buf[32], all[1024] = "", hint[160] = "";
    ck_nearest near;
    ck_nearest_init(&near, name);
    for (int i = 0; i < n; i++) {
        const char *s = data_class_name(&v->run, i, buf, sizeof buf);
        if (!strcmp(s, name)) {
            *cls = i;
            return 0;
        }
        size_t k = strlen(all);
        snprintf(all + k, sizeof all - k, "%s%s", k ? ", " : "", s);
        if (s != buf) { /* a recorded name, which outlives the loop */
            ck_nearest_add(&near, s);
        }
    }
    return ck_err(err, errlen, CK_EINVAL, "%s: --class %s: not one of its classes (%s)%s", v->ckpt,
                  name, all, ck_nearest_hint(&near, hint, sizeof hint));
}

/* Grad-CAM's map itself, w x h RGB: each cell a block (nearest), its
 * value over the map's maximum in turbo, as the book's matshow of it. */
static void map_blocks(const nn_gradcam *g, int w, int h, uint8_t *rgb)
{
    float top = 0;
    for (int i = 0; i < g->h * g->w; i++) {
        top = g->map[i] > top ? g->map[i] : top;
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float v = g->map[(size_t)y * g->h / h * g->w + (size_t)x * g->w / w];
            aug_cmap_rgb(AUG_CMAP_TURBO, (uint8_t)(top > 0 ? 255 * v / top + 0.5f : 0),
                         rgb + ((size_t)y * w + x) * 3);
        }
    }
}

/* The image as the model saw it at SHOWN pixels on the longer side: RGB
 * (w, h, 3), malloc'd. */
static int shown_image(const viz_in *v, uint8_t **rgb, int *w, int *h, char *err, size_t errlen)
{
    *rgb = NULL;
    int rc = 0, aw = v->w, ah = v->h, bands = 0;
    if (v->run.input.resize == AUG_RESIZE_STRETCH) {
        rc = aug_src_size(&v->src, &aw, &ah, &bands, err, errlen);
    }
    *w = aw >= ah ? SHOWN : (int)fmax(1, round((double)SHOWN * aw / ah));
    *h = ah >= aw ? SHOWN : (int)fmax(1, round((double)SHOWN * ah / aw));
    aug_params p = aug_params_default(*w, *h, v->c);
    p.dtype = AUG_U8;
    p.resize = v->run.input.resize;
    p.shrink_on_load = !v->run.input.full_decode;
    aug_pipe *pipe = NULL;
    uint8_t *px = malloc((size_t)*w * *h * 3);
    if (rc == 0 && !px) {
        rc = ck_err(err, errlen, CK_ENOMEM, "heatmap: out of memory");
    }
    if (rc == 0) {
        rc = aug_pipe_create(&pipe, &p, err, errlen);
    }
    if (rc == 0) {
        rc = aug_pipe_run_sample(pipe, &v->src, NULL, px, err, errlen);
    }
    if (rc == 0 && v->c == 1) { /* grey to RGB, in place from the end */
        for (size_t i = (size_t)*w * *h; i-- > 0;) {
            px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = px[i];
        }
    }
    aug_pipe_destroy(pipe);
    if (rc) {
        free(px);
        return rc;
    }
    *rgb = px;
    return 0;
}

int cli_viz_heatmap(cli_viz *cv, aug_figure **out, char *err, size_t errlen)
{
    char title[1024], buf[2][32], shape[64];
    viz_in vi, *v = &vi;
    nn_gradcam g = {0};
    aug_figure *f = NULL;
    uint8_t *shown = NULL, *over = NULL;
    int sw = 0, sh = 0, cls = -1;
    int rc = viz_open(v, cv->ckpt, 1, err, errlen);
    if (rc == 0 && cv->class_name) {
        rc = find_class(v, cv->class_name, &cls, err, errlen);
    }
    if (rc == 0) {
        rc = viz_image(v, cv, err, errlen);
    }
    if (rc == 0 && (rc = nn_gradcam_run(v->m, v->x, cls, &g, err, errlen)) != 0) {
        char why[1024];
        snprintf(why, sizeof why, "%s", err);
        ck_err(err, errlen, rc, "%s: %s", cv->ckpt, why);
    }
    if (rc == 0) {
        rc = shown_image(v, &shown, &sw, &sh, err, errlen);
    }
    if (rc == 0 && !(over = malloc((size_t)sw * sh * 3 * 2))) { /* the overlay, the map */
        rc = ck_err(err, errlen, CK_ENOMEM, "heatmap: out of memory");
    }
    nn_layer_info li = {0};
    const char *pred = NULL, *want = NULL;
    int empty = 1; /* a map 0 everywhere: nothing in the image speaks for the class */
    if (rc == 0) {
        aug_heat_overlay(shown, sw, sh, g.map, g.w, g.h, AUG_CMAP_TURBO, 0.45, over);
        map_blocks(&g, sw, sh, over + (size_t)sw * sh * 3);
        nn_model_layer_info(v->m, g.layer, &li);
        pred = data_class_name(&v->run, g.predicted, buf[0], sizeof buf[0]);
        want = data_class_name(&v->run, g.cls, buf[1], sizeof buf[1]);
        for (int i = 0; i < g.h * g.w; i++) {
            empty &= g.map[i] <= 0;
        }
        if (cv->say) {
            fprintf(cv->say, "%s: predicted %s (probability %.4f)\n", v->image, pred,
                    (double)g.pred_prob);
        }
        snprintf(title, sizeof title, "Grad-CAM of %s on %s", base_name(cv->ckpt),
                 base_name(v->image));
        rc = aug_figure_create(&f, title, err, errlen);
    }
    if (rc == 0) {
        shape_text(shape, sizeof shape, g.h, g.w, g.c);
        if (g.cls == g.predicted) {
            snprintf(title, sizeof title,
                     "predicted %s (p = %.3f); Grad-CAM of %s on %s (%s): the image, the map, both",
                     pred, (double)g.pred_prob, want, li.name, shape);
        } else {
            snprintf(title, sizeof title,
                     "predicted %s (p = %.3f); Grad-CAM of %s (p = %.3f) on %s (%s): the image, "
                     "the map, both",
                     pred, (double)g.pred_prob, want, (double)g.prob, li.name, shape);
        }
        if (empty) {
            size_t k = strlen(title);
            snprintf(title + k, sizeof title - k,
                     "; the map is 0 everywhere: nothing speaks for %s", want);
        }
        rc = aug_figure_panel(f, title, 3, SHOWN, AUG_CMAP_TURBO, err, errlen);
    }
    if (rc == 0) {
        rc = aug_figure_add_pixels(f, shown, sw, sh, 3, err, errlen);
    }
    if (rc == 0) {
        rc = aug_figure_add_pixels(f, over + (size_t)sw * sh * 3, sw, sh, 3, err, errlen);
    }
    if (rc == 0) {
        rc = aug_figure_add_pixels(f, over, sw, sh, 3, err, errlen);
    }
    if (rc == 0) {
        rc = aug_figure_colorbar(f, "none", "most", err, errlen);
    }
    if (rc == 0) {
        snprintf(cv->what, sizeof cv->what, "Grad-CAM of %s (probability %.4f) on %s (%dx%dx%d)%s",
                 want, (double)g.prob, li.name, g.h, g.w, g.c,
                 empty ? "; the map is 0 everywhere: nothing in the image speaks for it" : "");
        *out = f;
        f = NULL;
    }
    aug_figure_destroy(f);
    free(shown);
    free(over);
    nn_gradcam_free(&g);
    viz_close(v);
    return rc;
}

int cmd_heatmap(int argc, char **argv)
{
    const char *out = NULL, *class_name = NULL;
    const cli_opt opts[] = {
        CLI_STR_OPT("output", 'o', &out, "FILE", "the figure (PNG, JPEG or WebP by its extension)"),
        CLI_STR_OPT("class", 0, &class_name, "NAME",
                    "the class to explain (default: the predicted one)"),
        CLI_END_OPT,
    };
    const cli_spec cli = {
        .cmd = "heatmap", .usage = heatmap_usage, .opts = opts, .required = "output"};
    cli_viz v = cli_viz_defaults(NULL, NULL);
    int st = viz_args(&cli, argc, argv, 1, &v, &out);
    if (st != CLI_GO) {
        return st;
    }
    v.class_name = class_name;
    v.say = stdout;
    return viz_write(cli_viz_heatmap, &v, out);
}
