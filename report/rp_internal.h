/* rp_internal.h: what the report/ files share.
 *
 * A report is made in two steps. gather.c reads everything first into an
 * rp_doc (the runs and their curves from runs.db, the configurations, the
 * catalogs they used, the groups of runs that differ only by seed, the
 * evaluations through the engine), so that every section draws from the
 * same facts and the output is checked against the inputs before any
 * work. Then page.c writes the page: each section file (sec_*.c) appends
 * its part to one text buffer with the HTML writer (html.c), figures
 * inlined by svg.c; the buffer goes to the output in one atomic write.
 *
 * Every string that comes from data (run, class and file names, policies,
 * paths, messages) goes through rp_html_text; the page's own markup is
 * written as literals.
 */
#ifndef RP_INTERNAL_H
#define RP_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aug.h"
#include "ck.h"
#include "ds.h"
#include "rn.h"
#include "rp.h"

/* ---- the HTML writer (html.c) -------------------------------------------- */

/* s as HTML text, fit for element content and quoted attribute values: &
 * < > " ' as character references, bytes that are not UTF-8 and control
 * characters (but tab and newline) as U+FFFD. NULL appends nothing. */
void rp_html_text(ck_buf *b, const char *s);
/* The formatted text, escaped as rp_html_text. */
void rp_html_textf(ck_buf *b, const char *fmt, ...) CK_PRINTF(2, 3);
/* A data: URI (RFC 2397) of len bytes of type mime, base64. */
void rp_html_data_uri(ck_buf *b, const char *mime, const void *data, size_t len);
/* <img src="data:..." alt="ALT" title="ALT" class="CLS"> (cls may be
 * NULL): the alt text shows on hover too. */
void rp_html_img(ck_buf *b, const char *mime, const void *data, size_t len, const char *alt,
                 const char *cls);
/* v with `decimals` decimals and a minus sign (U+2212) below zero; an en
 * dash for NaN (no value). */
void rp_html_num(ck_buf *b, double v, int decimals);
/* A count with thousands separators (U+2009 thin spaces): "22 352". */
void rp_html_count(ck_buf *b, int64_t n);
/* A table's number cell, <td class="num">, around rp_html_num; a count's,
 * around rp_html_count, a <th> when head is 1. */
void rp_html_num_cell(ck_buf *b, double v, int decimals);
void rp_html_count_cell(ck_buf *b, int64_t n, int head);
/* "mean ± sd" (sd left out for one value) of n values, NaN ones skipped;
 * sd the sample standard deviation (over n - 1), as the experiment
 * scripts' results.md gives it. */
void rp_html_mean_sd(ck_buf *b, const double *v, int n, int decimals);
/* The mean and that sd of the finite values among v[0..n); *k of them. */
void rp_mean_sd(const double *v, int n, double *mean, double *sd, int *k);

/* ---- inline figures (svg.c) ------------------------------------------- */

/* Appends the SVG document svg (as PLplot's svg device writes it) as an
 * element inline in the page: the prolog dropped, width and height left
 * to the page's CSS (the viewBox keeps the proportions), every id and
 * reference to one prefixed with prefix (figures share the page's id
 * space), role="img" and aria-label label. Returns 0, or CK_EFORMAT when
 * svg holds no <svg> element. */
int rp_svg_inline(ck_buf *b, const char *svg, const char *prefix, const char *label);

/* ---- the facts (gather.c) ------------------------------------------------ */

/* A run's epochs: n rows of RN_EPOCH_VALUES values in runs.db's order
 * (loss, accuracy, val_loss, val_accuracy, seconds, images_per_s,
 * input_stall, comm_wait), NaN where missing. */
enum {
    RP_LOSS = 0,
    RP_ACC,
    RP_VAL_LOSS,
    RP_VAL_ACC,
    RP_SECONDS,
    RP_IMAGES_PER_S,
    RP_STALL,
    RP_COMM_WAIT,
};

typedef struct rp_run {
    const rn_curves_run *r; /* borrowed from the doc's list */
    json_t *config;         /* the configuration, NULL when it is not JSON */
    int n;                  /* epochs recorded */
    int *epoch;
    double *v;          /* n x RN_EPOCH_VALUES */
    int catalog;        /* index in doc->cats, -1: none */
    char *catalog_note; /* why none, or what is odd about it (malloc'd), or NULL */
    int group;          /* index in doc->groups */
    const char *policy; /* config extra.augment ("none" or a policy), NULL */
    int evaluated;      /* 1: eval holds the kept checkpoint's evaluation */
    rp_eval eval;
    const char *eval_split;
    char *eval_note; /* why there is no evaluation (malloc'd), or NULL */
} rp_run;

typedef struct rp_catalog {
    char *path;    /* as opened */
    ds_catalog *c; /* open read-only while the report is made */
    json_t *info;  /* ds_catalog_info_json */
    const char *hash;
    int nclasses;
    const char *const *classes; /* borrowed from c */
} rp_catalog;

/* Runs that differ only by seed (and threads, processes): one arm of the
 * experiment, repeated. */
typedef struct rp_group {
    int *runs; /* indices in doc->runs, in order */
    int n;
    char *label; /* the runs' common name ("plain" for plain-s1, plain-s2) */
} rp_group;

typedef struct rp_doc {
    const rp_opts *o;
    rn_curves_list list;
    rp_run *runs;
    int nruns;
    rp_catalog *cats;
    int ncats;
    rp_group *groups;
    int ngroups;
    ck_buf page;  /* the HTML */
    ck_buf notes; /* for the caller, one line each */
    int figures;  /* figures inlined so far: their id prefixes */
    char *err;
    size_t errlen;
} rp_doc;

/* Reads runs.db, the catalogs and the evaluations into d (see the top of
 * this file). Returns 0 or the first fatal error; problems that only
 * leave something out are noted. */
int rp_gather(rp_doc *d, const rp_opts *o, char *err, size_t errlen);
void rp_doc_free(rp_doc *d);
/* Notes a problem for the caller, one line. */
void rp_note(rp_doc *d, const char *fmt, ...) CK_PRINTF(2, 3);
/* The same text as a note on the page too. */
void rp_page_note(rp_doc *d, const char *fmt, ...) CK_PRINTF(2, 3);

/* A configuration member as text ("optimizer.lr"): strings bare, numbers
 * and the rest as compact JSON; NULL when absent (the result is malloc'd
 * otherwise). */
char *rp_config_text(json_t *config, const char *path);
/* The model's input (H, W, C) as the run's recorded spec declares it
 * (Input(shape=(H, W, C)), or a first layer's input_shape=): 0, or -1
 * when the spec says none. */
int rp_input_shape(json_t *config, int *h, int *w, int *c);
/* Row i, column col of run r, NaN when absent. */
double rp_value(const rp_run *r, int i, int col);
/* The last row whose column col is a number, -1 if none. */
int rp_last_row(const rp_run *r, int col);

/* ---- pictures from a catalog (sec_dataset.c) ------------------------------ */

/* A catalog's sample as a source for augment/ (raw pixels with their
 * size), borrowing the blob's bytes. */
aug_src rp_blob_src(const ds_blob *blob);

/* An <img> of sample id of catalog k, its longer side at most max_side
 * (never enlarged; raw digits as PNG, shown pixelated; photos as JPEG),
 * alt text the sample's name. A sample that cannot be read is noted and
 * shown as its name. Returns 0 or CK_ENOMEM. */
int rp_thumb(rp_doc *d, int k, int64_t id, int max_side, const char *cls);
/* The sample of class `label` (-1: any) to show for a split of catalog k
 * (ids and labels as ds_catalog_split gives them), -1 if none: among the
 * first few of the class, the one whose stored file is largest (a photo
 * with the most detail, rather than a dark or empty one); raw pixels, all
 * of one size, give the first. The same sample on every report of the
 * catalog. */
int64_t rp_pick_sample(rp_doc *d, int k, const int64_t *ids, const int32_t *labels, size_t n,
                       int label);

/* ---- the sections (sec_*.c), in page order -------------------------------
 * Each appends its <section> to d->page and returns 0 or a fatal error
 * (CK_ENOMEM, or a figure that cannot be drawn for a reason that is not
 * the data's) with the message in d->err. */
int rp_sec_dataset(rp_doc *d);
int rp_sec_augment(rp_doc *d);
int rp_sec_runs(rp_doc *d);
int rp_sec_compare(rp_doc *d);
int rp_sec_eval(rp_doc *d);
int rp_sec_network(rp_doc *d);

/* A figure of runs.db's curves (rn_curves_plot_svg) inlined with a
 * caption of HTML already made (caption_html is trusted markup). */
int rp_figure_curves(rp_doc *d, const char *const *runs, int nruns, const rn_curves_plot_opts *o,
                     const char *label, const char *caption_html);

#endif
