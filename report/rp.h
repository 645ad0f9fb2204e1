/* rp.h: report — one self-contained HTML page that shows an experiment:
 * the catalogs the runs trained on, the augmentation they saw, each run's
 * configuration and curves, the runs compared, and how the kept
 * checkpoints do on held-out data.
 *
 * The page needs nothing but itself: figures are inline SVG whose labels
 * are text, pictures are data: URIs (PNG or JPEG made by libvips), there
 * is no script, and a Content-Security-Policy of default-src 'none'
 * forbids the browser to fetch anything, so it opens from a USB stick on
 * a machine without a network and prints as it shows.
 *
 * The report reads runs.db (runs/), the catalogs (datasets/) and draws
 * pictures with augment/; it knows no tensor. What needs the engine (an
 * evaluation of a checkpoint, and later the network's own views) comes
 * through rp_engine, which cli/ provides, as the trainer's recorder
 * reaches runs.db (DESIGN.md: data flows one way).
 */
#ifndef RP_H
#define RP_H

#include <stddef.h>
#include <stdint.h>

#include "aug.h"

/* A checkpoint evaluated on one split of a catalog, sample by sample. */
typedef struct rp_eval {
    char *checkpoint; /* the file evaluated */
    double loss, accuracy;
    int64_t n;          /* samples, in the split's order (by sample id) */
    int classes;        /* 2 for a binary model */
    int64_t *confusion; /* (classes, classes): row = true, column = predicted */
    int32_t *label;     /* n true classes */
    int32_t *pred;      /* n predicted classes */
    float *prob;        /* n: the predicted class's probability */
} rp_eval;

/* Frees every field and zeroes e; NULL is a no-op. */
void rp_eval_free(rp_eval *e);

/* What the engine does for the report. Called on the thread that writes
 * the report, one call at a time.
 *
 * evaluate: the kept checkpoint of run `run` (NAME.best.ckpt beside
 * runs.db, or NAME.last.ckpt when the run kept no best) on split `split`
 * of catalog `catalog`, into *out (malloc'd fields, rp_eval_free releases
 * them). Returns 0, or a negative CK_E* code with a one-line message
 * naming the file and the reason: the report puts the message where the
 * evaluation would be and goes on (a run whose checkpoint is missing
 * keeps its curves), except on CK_ENOMEM, which stops it.
 *
 * view: picture `which` of the kept checkpoint of run `run` (found as
 * evaluate finds it) on `image`, a sample of the run's catalog of class
 * `class_name` (NULL: unknown), which Grad-CAM explains (unknown: the
 * predicted class); RP_VIEW_FILTERS uses neither. The picture comes as
 * JPEG bytes in *jpeg (malloc'd, *len of them; NULL on an error) and
 * what it shows, one line, in `what`. Returns 0, or an error as evaluate
 * does, put on the page where the picture would be (once, when the next
 * view fails for the same reason). */
typedef enum rp_view {
    RP_VIEW_HEATMAP = 0, /* Grad-CAM of the image's class (see view) */
    RP_VIEW_ACTIVATIONS, /* the convolution and pooling layers' outputs for it */
    RP_VIEW_FILTERS,     /* the first layer's kernels, what deeper filters respond to */
    RP_VIEW_COUNT,
} rp_view;

typedef struct rp_engine {
    void *ctx;
    int (*evaluate)(void *ctx, const char *run, const char *catalog, const char *split,
                    rp_eval *out, char *err, size_t errlen);
    int (*view)(void *ctx, const char *run, rp_view which, const aug_src *image,
                const char *class_name, void **jpeg, size_t *len, char *what, size_t whatlen,
                char *err, size_t errlen);
} rp_engine;

typedef struct rp_opts {
    const char *runs_path; /* runs.db */
    /* nruns run names, in the order to show them; 0: every run in the
     * order it was recorded. */
    const char *const *runs;
    int nruns;
    /* Catalogs given by the user (ndata of them). With one, every run is
     * shown with it; with several, each run with the one that has its
     * dataset hash. Without (or for a run none fits), the catalog the run
     * recorded, as given to train, or else beside runs.db. */
    const char *const *data;
    int ndata;
    /* The split the kept checkpoints are evaluated on; NULL: "test", or
     * "validation" (said on the page) for a catalog that has no test
     * split. */
    const char *split;
    const char *title;       /* the page's heading; NULL: "Experiment report" */
    const rp_engine *engine; /* NULL: no evaluation */
    const char *out_path;    /* the .html file */
} rp_opts;

/* Writes the report on the runs of o->runs_path to o->out_path, through a
 * temporary file in the same directory renamed over it: a failed report
 * leaves no file and an existing one intact, and nothing else is ever
 * written. An output that is the same file as runs.db or as one of the
 * catalogs is refused (CK_EINVAL) before any work. What the page could
 * not show, and why (a catalog not found, a checkpoint missing, an
 * evaluation refused), is said on the page and in *notes (one line each,
 * malloc'd; NULL when there is nothing to say; notes may be NULL).
 * Returns 0, CK_EINVAL (a run not recorded, a bad option, an output that
 * is an input), CK_EIO (runs.db or a catalog of o->data that cannot be
 * opened; the output cannot be written), CK_EFORMAT (not a runs.db),
 * CK_EDB, CK_ENOMEM.
 * Not thread-safe: PLplot draws the figures (see rn.h). Needs im_init. */
int rp_report_write(const rp_opts *o, char **notes, char *err, size_t errlen);

#endif
