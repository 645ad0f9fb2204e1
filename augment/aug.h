/* aug.h: augment — per-sample random geometry and colour, done on real
 * images with Keras's semantics, fast and reproducible.
 *
 * Four parts:
 *
 *   aug_policy  a short text ("flip=horizontal,rotate=0.1,zoom=0.2") parsed
 *               once, immutable, shared by every thread.
 *   aug_sample  the parameters of one sample, drawn from ck_rng keyed by
 *               (seed, epoch, sample id, CK_RNG_AUGMENT): the same key gives
 *               the same parameters and the same bytes on any thread.
 *   aug_pipe    one per worker thread: decodes one image with libvips
 *               (shrink-on-load for JPEG), composes every geometric part and
 *               the resize into one affine map about the image centre, and
 *               resamples once, straight into the caller's buffer (float32
 *               HWC for training, 8-bit for pictures).
 *   tools       preview grids, thumbnails, augmented copies of files, the
 *               classic convolution filters (as files, or encoded in
 *               memory for a page), and a throughput bench.
 *
 * libvips must be started with im_init() before any of this is used (the
 * functions here call it too, which is a no-op once done).
 */
#ifndef AUG_H
#define AUG_H

#include <stddef.h>
#include <stdint.h>

#include "ck.h"

/* ---- policies ---------------------------------------------------------- */

typedef enum aug_fill {
    AUG_FILL_REFLECT = 0, /* (d c b a | a b c d | d c b a), Keras's default */
    AUG_FILL_NEAREST,     /* (a a a a | a b c d | d d d d) */
    AUG_FILL_WRAP,        /* (a b c d | a b c d | a b c d) */
    AUG_FILL_CONSTANT,    /* (k k k k | a b c d | k k k k), k = fill_value */
} aug_fill;

typedef enum aug_interp {
    AUG_INTERP_NEAREST = 0,
    AUG_INTERP_BILINEAR,
    AUG_INTERP_BICUBIC, /* Catmull-Rom, as libvips' "bicubic" */
} aug_interp;

typedef struct aug_policy aug_policy;

/* Parses a policy: comma-separated key=value items and presets, later items
 * overriding earlier ones. aug_policy_help() lists the keys. Returns 0 and a
 * new policy in *out (free with aug_policy_destroy), or CK_EINVAL with a
 * message naming the key, the value and the rule ("policy: zoom=1.5: want
 * F in [0, 1) or LO:HI with -1 < LO <= HI <= 10 (...)"; an unknown key or
 * preset with a "did you mean"), or
 * CK_ENOMEM. "" and "none" are the identity. Thread-safe. */
int aug_policy_parse(aug_policy **out, const char *text, char *err, size_t errlen);

void aug_policy_destroy(aug_policy *p); /* NULL is a no-op */

/* Writes the canonical text of p into buf (always terminated when len > 0)
 * and returns its length, as snprintf does. Parsing the canonical text gives
 * the same policy. Thread-safe. */
size_t aug_policy_print(const aug_policy *p, char *buf, size_t len);

/* 1 when p never changes an image (no random part), else 0. */
int aug_policy_is_identity(const aug_policy *p);

aug_fill aug_policy_fill(const aug_policy *p);
aug_interp aug_policy_interp(const aug_policy *p);

/* Appends the multi-line text for --help to b: every key, its meaning and
 * the rule aug_policy_parse applies to it, and the presets. */
void aug_policy_help(ck_buf *b);

/* Appends what p does to an image in words, one sentence per line, in the
 * order the parts are applied, then the fill and interpolation ("Flipped
 * left to right with probability 1/2.", "Rotated by an angle drawn
 * uniformly from -36 to 36 degrees (0.1 of a turn), counter-clockwise
 * positive.", ...); the identity says so in one line. UTF-8 (the degree
 * sign, the minus sign). For readers of a report, who know the book, not
 * convkit's keys. Thread-safe. */
void aug_policy_describe(const aug_policy *p, ck_buf *b);

/* ---- per-sample parameters --------------------------------------------- */

/* One sample's transform. Coordinates are output pixels (x right, y down)
 * about the image centre; the image is flipped, rotated, zoomed, shifted and
 * sheared in that order, as a stack of Keras preprocessing layers. */
typedef struct aug_sample {
    int legacy;              /* 1: ImageDataGenerator's composition (see aug_policy_help) */
    int flip_h, flip_v;      /* mirror left-right, top-bottom */
    double angle;            /* radians, counter-clockwise on screen positive */
    double zoom_x, zoom_y;   /* > 1 zooms out (shows more), < 1 zooms in */
    double shift_x, shift_y; /* fractions of the output width/height; the
                                content moves right/down when positive
                                (legacy: along the axes before rotation) */
    double shear;            /* Keras: x_in = x + shear * y; legacy: the angle
                                in radians of ImageDataGenerator's shear */
    double contrast;         /* (x - mean) * contrast + mean per channel; 1: none */
    double brightness;       /* brightness * 255 added; 0: none */
} aug_sample;

/* The identity sample. */
aug_sample aug_sample_identity(void);

/* Draws the sample for key (seed, epoch, id) from stream CK_RNG_AUGMENT.
 * Every quantity has a fixed draw slot, so enabling one key does not change
 * the others' values. p NULL gives the identity. Pure and thread-safe. */
void aug_policy_draw(const aug_policy *p, uint64_t seed, uint64_t epoch, uint64_t id,
                     aug_sample *out);

/* ---- the per-worker pipe ----------------------------------------------- */

typedef enum aug_dtype {
    AUG_F32 = 0, /* float32 HWC, value = pixel (0..255) * scale */
    AUG_U8,      /* 8-bit HWC, for pictures */
} aug_dtype;

typedef enum aug_resize {
    AUG_RESIZE_STRETCH = 0, /* to width x height, aspect ratio not kept (Keras's
                               image_dataset_from_directory default) */
    AUG_RESIZE_FIT,         /* whole image inside, centred, padded with pad;
                               everything outside the image reads pad, whatever
                               the fill mode */
    AUG_RESIZE_CROP,        /* fill the output, centred, the excess cut off
                               (crop_to_aspect_ratio=True) */
} aug_resize;

/* "stretch", "fit", "crop" -> mode (the names runs.db records); -1 for
 * NULL or another name. */
int aug_resize_parse(const char *name);

typedef enum aug_engine {
    AUG_ENGINE_GATHER = 0, /* libvips decodes; our own resampler writes the output */
    AUG_ENGINE_VIPS,       /* the whole chain in libvips (vips_embed + vips_affine):
                              the reference the fast path is tested against */
} aug_engine;

typedef struct aug_params {
    int width, height;        /* output size */
    int channels;             /* 1 (grey) or 3 (RGB): grey->RGB replicates,
                                 RGB->grey is 0.299 R + 0.587 G + 0.114 B, alpha
                                 is dropped */
    aug_dtype dtype;          /* default AUG_F32 */
    float scale;              /* AUG_F32 only; default 1/255 */
    aug_resize resize;        /* default AUG_RESIZE_STRETCH */
    float pad;                /* AUG_RESIZE_FIT padding, pixel units; default 0 */
    const aug_policy *policy; /* NULL: no augmentation. Borrowed: must outlive
                                 the pipe */
    aug_engine engine;        /* default AUG_ENGINE_GATHER */
    int shrink_on_load;       /* 1 (default): decode at 1/2, 1/4 or 1/8 when the
                                 output needs no more pixels than that */
} aug_params;

/* The defaults above for an output of width x height x channels. */
aug_params aug_params_default(int width, int height, int channels);

/* Bytes of one output sample: width * height * channels * (4 or 1). */
size_t aug_params_sample_bytes(const aug_params *p);

/* One input image: encoded bytes (JPEG, PNG, ... anything libvips loads
 * that im_init did not block), or raw 8-bit pixels, row-major HWC with
 * width, height and bands (1..4) all set. data is borrowed for the call. */
typedef struct aug_src {
    const void *data;
    size_t size;
    int width, height, bands; /* all 0 for encoded bytes */
    const char *name;         /* for messages; may be NULL */
} aug_src;

typedef struct aug_pipe aug_pipe;

/* Makes a pipe for params p (copied; p->policy is borrowed). Returns 0,
 * CK_EINVAL (a bad size, channel count...) or CK_ENOMEM. A pipe is used by
 * one thread at a time; make one per worker. */
int aug_pipe_create(aug_pipe **out, const aug_params *p, char *err, size_t errlen);

void aug_pipe_destroy(aug_pipe *p); /* NULL is a no-op */

/* Decodes src, draws the sample for (seed, epoch, id) from the pipe's
 * policy, and writes aug_params_sample_bytes() bytes into dst (for AUG_F32,
 * aligned for float). No allocation beyond libvips' own decode in steady
 * state. Returns 0, CK_EDECODE ("name: decode: reason"), CK_EINVAL (a raw
 * src with bad dimensions) or CK_ENOMEM; dst is unspecified on error. */
int aug_pipe_run(aug_pipe *p, const aug_src *src, uint64_t seed, uint64_t epoch, uint64_t id,
                 void *dst, char *err, size_t errlen);

/* As aug_pipe_run with given parameters (NULL: identity). The policy still
 * supplies fill mode and interpolation (reflect and bilinear without one). */
int aug_pipe_run_sample(aug_pipe *p, const aug_src *src, const aug_sample *s, void *dst, char *err,
                        size_t errlen);

/* ---- tools -------------------------------------------------------------- */

/* Reads a whole file into a new buffer (free() it). Returns 0, CK_EIO or
 * CK_ENOMEM; refuses files over max_bytes with CK_ELIMIT. */
int aug_read_file(const char *path, size_t max_bytes, void **data, size_t *size, char *err,
                  size_t errlen);

/* The size and bands of an encoded or raw source, from its header (no
 * pixel decoded). Returns 0 or CK_EDECODE naming the source. */
int aug_src_size(const aug_src *src, int *w, int *h, int *bands, char *err, size_t errlen);

/* The grid of the original and at least n variants, with no empty cell:
 * cols x rows = n + 1 when that grid is at most twice as wide as high,
 * else the squarest grid holding n + 1, filled with more variants.
 * Returns the number of variants it holds. */
int aug_preview_shape(int n, int *cols, int *rows);

/* Writes a PNG of the original (top left, framed in blue in the gap
 * around it) and aug_preview_shape(n) augmented variants (keys (seed, 0,
 * 0..)) in a grid of cells whose longer side is cell pixels, GAP (4)
 * pixels apart, like the book's figure of augmented cats. The file
 * appears complete or not at all (written beside it, then renamed).
 * Returns 0, CK_EINVAL, CK_EDECODE, CK_EIO or CK_ENOMEM. */
int aug_preview_grid(const aug_src *src, const aug_policy *policy, uint64_t seed, int n, int cell,
                     const char *out_png, char *err, size_t errlen);

/* As aug_preview_grid, the PNG in memory: *png (malloc'd, *len bytes)
 * instead of a file (the same bytes with shape NULL). With shape, the
 * cells take the training loader's geometry for a model of that input:
 * shape->width x shape->height scaled so the longer side is `cell`, the
 * source brought into it by shape->resize (and pad), so the grid shows
 * what the network is fed (a digit fitted into a square, a photo
 * stretched to one). Returns 0, CK_EINVAL, CK_EDECODE, CK_EIO or
 * CK_ENOMEM. */
int aug_preview_grid_png(const aug_src *src, const aug_policy *policy, uint64_t seed, int n,
                         int cell, const aug_params *shape, void **png, size_t *len, char *err,
                         size_t errlen);

/* How a picture made in memory is encoded. */
typedef enum aug_encoding {
    AUG_PNG = 0, /* lossless: digits, filter responses, grids */
    AUG_JPEG,    /* quality 85: photos */
} aug_encoding;

/* A small copy of an image for a page: src decoded as the loader decodes
 * it (pixel limit, shrink-on-load), grey for one- and two-band sources,
 * else RGB (alpha dropped), scaled so that its longer side is at most
 * max_side (never enlarged), encoded as enc into *out (malloc'd, *len
 * bytes). Returns 0, CK_EINVAL (max_side < 1), CK_EDECODE ("name:
 * decode: reason"), CK_EIO (encoding) or CK_ENOMEM. Thread-safe. */
int aug_thumbnail(const aug_src *src, int max_side, aug_encoding enc, void **out, size_t *len,
                  char *err, size_t errlen);

/* Writes `copies` augmented copies of each input file into outdir (which
 * must exist), as STEM_augK.png when the input's name ends in .png, else
 * STEM_augK.jpg (quality 95), at the input's size and colour (grey stays
 * grey, alpha is dropped); input i copy k uses key (seed, 0, i * copies + k).
 * Every output is made in a staging directory inside outdir first: on any
 * error nothing of ours is left in outdir (files of the same name already
 * there are replaced on success). Two inputs with one stem are refused
 * (CK_EINVAL). Returns 0, CK_EIO (a file missing or unwritable), CK_EDECODE,
 * CK_EINVAL or CK_ENOMEM; the message names the file. Not thread-safe
 * against another call writing the same outdir. */
int aug_apply_files(const aug_policy *policy, uint64_t seed, int copies, const char *const *paths,
                    int npaths, const char *outdir, char *err, size_t errlen);

typedef enum aug_filter {
    AUG_FILTER_PREWITT_X = 0,
    AUG_FILTER_PREWITT_Y,
    AUG_FILTER_PREWITT, /* magnitude sqrt(x^2 + y^2) */
    AUG_FILTER_SOBEL_X,
    AUG_FILTER_SOBEL_Y,
    AUG_FILTER_SOBEL,
    AUG_FILTER_LAPLACIAN_X, /* [1 -2 1] along x */
    AUG_FILTER_LAPLACIAN_Y,
    AUG_FILTER_LAPLACIAN, /* the two summed: the 5-point Laplacian */
    AUG_FILTER_SHARPEN,
    AUG_FILTER_COUNT,
} aug_filter;

/* "prewitt-x", "sobel", ...; NULL when out of range. */
const char *aug_filter_name(aug_filter f);

/* Returns 0 and sets *out, or CK_EINVAL naming the unknown filter. */
int aug_filter_parse(const char *name, aug_filter *out, char *err, size_t errlen);

/* Multi-line text: every filter and its kernel(s), for --help. */
const char *aug_filter_help(void);

/* Filters raw 8-bit pixels (bands 1..4) as libvips convolutions, edges
 * extended by copying. Edge filters work on the grey image and write one
 * band; sharpen works per colour band (alpha dropped). dst holds w * h *
 * aug_filter_bands(f, bands) floats: the signed responses (magnitudes for
 * prewitt/sobel). Correlation: x kernels respond positively to intensity
 * rising to the right, y kernels to intensity rising downwards. Returns 0,
 * CK_EINVAL or CK_EDECODE. Thread-safe. */
int aug_filter_raw(aug_filter f, const uint8_t *src, int w, int h, int bands, float *dst, char *err,
                   size_t errlen);
int aug_filter_bands(aug_filter f, int bands);

/* How a response becomes an 8-bit image, m being the image's largest
 * |response|. */
typedef enum aug_filter_view {
    AUG_VIEW_DEFAULT = 0, /* the filter's own (aug_filter_default_view) */
    AUG_VIEW_SIGNED,      /* 128 + 127 r / m: zero mid-grey */
    AUG_VIEW_MAGNITUDE,   /* 255 |r| / m */
    AUG_VIEW_ABS,         /* |r| clipped to 0..255, unscaled */
    AUG_VIEW_COUNT,
} aug_filter_view;

/* "signed", "magnitude", "abs" -> view; CK_EINVAL naming it otherwise. */
int aug_filter_view_parse(const char *name, aug_filter_view *out, char *err, size_t errlen);
const char *aug_filter_view_name(aug_filter_view v); /* NULL when out of range */
/* SIGNED for the x/y kernels and the Laplacians, MAGNITUDE for prewitt
 * and sobel, DEFAULT for sharpen (an image, clipped: it has no views). */
aug_filter_view aug_filter_default_view(aug_filter f);

/* Filters an image file into an 8-bit image file (format from out's
 * suffix) in the given view (sharpen: the image clipped to 0..255). A view
 * that does not fit the filter (signed of a magnitude, any of sharpen) is
 * CK_EINVAL naming both. The output appears complete or not at all.
 * Returns 0, CK_EIO, CK_EDECODE or CK_EINVAL. */
int aug_filter_file(aug_filter f, aug_filter_view view, const char *in, const char *out, char *err,
                    size_t errlen);

/* As aug_filter_file, on an image in memory, its longer side first
 * brought to at most max_side (0: as is; never enlarged) as aug_thumbnail
 * does, the view written as a PNG into *png (malloc'd, *len bytes). An
 * RGB source is filtered as grey for the edge filters, as by
 * aug_filter_file. Returns 0, CK_EINVAL, CK_EDECODE, CK_EIO or CK_ENOMEM.
 * Thread-safe. */
int aug_filter_png(aug_filter f, aug_filter_view view, const aug_src *src, int max_side, void **png,
                   size_t *len, char *err, size_t errlen);

/* ---- figures (figure.c) --------------------------------------------------
 *
 * A figure of many small pictures: a title over panels stacked one under
 * the other, each a title over a grid of tiles and an optional colour bar,
 * on white, written as PNG (or any format aug_save_atomic takes). Titles
 * are plain UTF-8 text set by libvips (Pango): any script the installed
 * fonts cover. Not thread-safe per figure. */

typedef enum aug_cmap {
    AUG_CMAP_GREY = 0,
    AUG_CMAP_VIRIDIS, /* matplotlib's default, as the book's activation grids */
    AUG_CMAP_TURBO,   /* Google's turbo: jet's order of hues, without its bands */
    AUG_CMAP_BLUES,   /* matplotlib's Blues: white to dark blue, for counts */
    AUG_CMAP_COUNT,
} aug_cmap;

/* The colour of level v (0..255) in cmap. */
void aug_cmap_rgb(aug_cmap cmap, uint8_t v, uint8_t rgb[3]);

/* How the floats of a map become levels 0..255, over the whole map (all
 * its bands together). */
typedef enum aug_scale {
    AUG_SCALE_STANDARD = 0, /* the book's: 128 + 64 (v - mean) / sd, clipped; an
                               all-zero map (a dead channel) is 0, another
                               constant one 128 */
    AUG_SCALE_SIGNED,       /* 128 + 127 v / max|v|: zero mid-grey */
    AUG_SCALE_MAX,          /* 255 v / max v, negatives 0 */
    AUG_SCALE_COUNT,
} aug_scale;

/* A picture of floats: band b of pixel (x, y) at v[(y * w + x) * stride + b],
 * bands 1 or 3; one channel of an (h, w, c) tensor is v = t + k, stride c. */
typedef struct aug_fmap {
    const float *v;
    int w, h, bands;
    ptrdiff_t stride;
} aug_fmap;

/* m's levels into out (w * h * bands bytes). Returns 0, or CK_EINVAL for
 * a bad map. Thread-safe. */
int aug_fmap_to_u8(const aug_fmap *m, aug_scale scale, uint8_t *out);

typedef struct aug_figure aug_figure;

/* A figure titled title (may be ""). Returns 0 or CK_ENOMEM. */
int aug_figure_create(aug_figure **out, const char *title, char *err, size_t errlen);
void aug_figure_destroy(aug_figure *f); /* NULL is a no-op */

/* Starts a panel: its title, cols tiles per row, each tile `cell` pixels
 * on its longer side at most: enlarged by the largest whole factor that
 * fits with nearest neighbours (a map's pixels show as squares), or
 * shrunk by averaging. Tiles of one band are drawn through cmap. Returns
 * 0, CK_EINVAL (cols 1..1024, cell 1..4096), CK_ENOMEM. */
int aug_figure_panel(aug_figure *f, const char *title, int cols, int cell, aug_cmap cmap, char *err,
                     size_t errlen);
/* Adds a tile of 8-bit pixels (w, h, bands 1 or 3; copied) to the last
 * panel. Returns 0, CK_EINVAL, CK_ENOMEM. */
int aug_figure_add_pixels(aug_figure *f, const uint8_t *px, int w, int h, int bands, char *err,
                          size_t errlen);
/* Adds a map's levels (aug_fmap_to_u8) as a tile. */
int aug_figure_add_map(aug_figure *f, const aug_fmap *m, aug_scale scale, char *err, size_t errlen);
/* Ends the last panel with a bar of its colour map, lo and hi written
 * under its ends. Returns 0, CK_EINVAL, CK_ENOMEM. */
int aug_figure_colorbar(aug_figure *f, const char *lo, const char *hi, char *err, size_t errlen);

/* Draws f and writes it to path (format from the suffix), whole or not at
 * all. Returns 0, CK_EIO, CK_ELIMIT (over 32768 pixels a side),
 * CK_EDECODE (text), CK_ENOMEM. */
int aug_figure_save(const aug_figure *f, const char *path, char *err, size_t errlen);
/* Draws f encoded as enc, *out malloc'd (for an HTML data URI). */
int aug_figure_encode(const aug_figure *f, aug_encoding enc, void **out, size_t *len, char *err,
                      size_t errlen);

/* Grad-CAM's picture: map (mh, mw), values >= 0, divided by its maximum,
 * resized bilinearly to w x h (pixel centres aligned), coloured by cmap and
 * mixed into rgb (w, h, 3): out = (1 - alpha) rgb + alpha colour. out may
 * be rgb. Returns 0 or CK_EINVAL. Thread-safe. */
int aug_heat_overlay(const uint8_t *rgb, int w, int h, const float *map, int mw, int mh,
                     aug_cmap cmap, double alpha, uint8_t *out);

/* ---- bench --------------------------------------------------------------- */

typedef struct aug_bench_result {
    int threads;
    long samples;
    double seconds;           /* wall time of the timed passes */
    double samples_per_s;     /* samples / seconds */
    double cpu_seconds;       /* process CPU time over the same span */
    double samples_per_cpu_s; /* samples / cpu_seconds: steadier than wall
                                 time on a shared machine */
    long decode_errors;       /* samples that failed to decode (skipped) */
} aug_bench_result;

/* Reads the files into memory, makes one pipe and one output slot per
 * thread, then times `passes` passes over all files (pass k is epoch k;
 * sample i goes to thread i % threads). Only the passes are timed. Returns 0,
 * CK_EIO (a file unreadable), CK_EINVAL, CK_ETHREAD or CK_ENOMEM. */
int aug_bench_run(const char *const *paths, int npaths, const aug_params *p, int threads,
                  int passes, aug_bench_result *res, char *err, size_t errlen);

#endif
