/* rn.h: the experiment record (runs/ module): runs.db and what is read
 * from it (curve export, the listing, the book's figures).
 *
 *   runs(name PRIMARY KEY, config JSON, dataset_hash, seed, model_summary,
 *        start, end, status)      status: running, done, interrupted, failed
 *   epochs(run, epoch, loss, accuracy, val_loss, val_accuracy, seconds,
 *          images_per_s, input_stall, comm_wait)
 *   evaluations(run, split, loss, accuracy, n, confusion JSON, time,
 *               dataset, dataset_hash)
 *
 * It knows nothing of tensors or models: the trainer reports each epoch
 * through its recorder callbacks (nn.h), and cli/ connects those to the
 * writer below. Only plain values cross.
 */
#ifndef RN_H
#define RN_H

#include <stddef.h>
#include <stdint.h>

/* ---- writing runs.db (runs.c) --------------------------------------------
 *
 * One open runs.db; one thread at a time. Each call is its own
 * transaction, so a run killed at any point leaves every row it wrote. */

typedef struct rn_db rn_db; /* opaque */

/* Opens path (creating it and its tables if needed). Returns 0, CK_EDB,
 * CK_ENOMEM. */
int rn_db_open(rn_db **out, const char *path, char *err, size_t errlen);
void rn_db_close(rn_db *db); /* NULL is a no-op */

/* A new run (refused if the name exists: CK_EINVAL "run NAME: already
 * recorded"), or with resume an existing one whose config must be the
 * recorded one but for its "epochs" member (a run extended, or given
 * another end: the recorded config becomes this one); any other member
 * that differs is CK_EINVAL naming each with both values ("optimizer.lr
 * 0.001 recorded, 0.01 now"). Its epochs after `epoch` (those done, as the
 * checkpoint resumed from says) are deleted and its status set back to
 * running. Returns 0, CK_EINVAL, CK_EDB. */
int rn_run_start(rn_db *db, const char *name, const char *config, const char *dataset_hash,
                 uint64_t seed, const char *summary, int resume, int epoch, char *err,
                 size_t errlen);

/* The metric values of one epoch row, in runs.db's column order. */
enum { RN_EPOCH_VALUES = 8 };

/* One epoch (1-based): loss, accuracy, val_loss, val_accuracy, seconds,
 * images_per_s, input_stall (seconds waiting for batches), comm_wait
 * (seconds waiting for the other processes of an mpirun job, 0 for one
 * process); NAN is stored as NULL. A run that is no longer recorded
 * (deleted meanwhile) is CK_EINVAL and nothing is written. Returns 0,
 * CK_EINVAL, CK_EDB. */
int rn_run_epoch(rn_db *db, const char *name, int epoch, const double v[RN_EPOCH_VALUES], char *err,
                 size_t errlen);
/* Ends a run with status (done, interrupted, failed). Returns 0, CK_EDB. */
int rn_run_finish(rn_db *db, const char *name, const char *status, char *err, size_t errlen);

/* Records an evaluation of run `run` on `split` of the catalog `dataset`
 * (its path as given, and its hash; either may be NULL) in runs.db at path
 * (table evaluations): mean loss and accuracy over n samples, and the
 * (classes, classes) confusion matrix (row = true, column = predicted),
 * stored as JSON. The listing tells an evaluation on the run's own
 * catalog from one on another by the hash. A runs.db that does not exist,
 * or a run it does not hold, is CK_EINVAL ("runs.db: run x: no such run;
 * nothing recorded"), and nothing is written. Returns 0, CK_EINVAL, CK_EDB,
 * CK_ENOMEM. */
int rn_record_eval(const char *runs_path, const char *run, const char *dataset,
                   const char *dataset_hash, const char *split, double loss, double accuracy,
                   int64_t n, int classes, const int64_t *confusion, char *err, size_t errlen);

/* What rn_runs_delete removed of one run: its row, epoch and evaluation
 * rows. */
typedef struct rn_deleted {
    int64_t runs, epochs, evaluations;
} rn_deleted;

/* Deletes the named runs (nruns >= 1) with their epochs and evaluations
 * from runs.db at path, in one transaction; out[i] (nruns of them) says
 * what went for runs[i]. A name that is not recorded, or given twice, is
 * CK_EINVAL (the recorded names in the message) and nothing is deleted.
 * Checkpoints are files and not runs/'s: the caller removes them. Returns
 * 0, CK_EINVAL, CK_EIO (no runs.db), CK_EFORMAT, CK_EDB, CK_ENOMEM. */
int rn_runs_delete(const char *runs_path, const char *const *runs, int nruns, rn_deleted *out,
                   char *err, size_t errlen);

/* ---- run configurations (config.c) ----------------------------------- */

/* One member in which two run configurations differ: its path in the JSON
 * object ("epochs", "optimizer.lr", "extra.classes"; objects are walked
 * into, anything else compared whole by value), and its value in each as
 * text (a string bare, anything else compact JSON), NULL where absent. */
typedef struct rn_config_change {
    char *member, *recorded, *now;
} rn_config_change;

/* The members in which `now` differs from `recorded` (both JSON objects
 * as the trainer records them), in the recorded object's order, then the
 * members only `now` has; *out is malloc'd (rn_config_changes_free), *n
 * is 0 when they are the same. Thread-safe. Returns 0, CK_EFORMAT (not
 * JSON objects), CK_ENOMEM. */
int rn_config_diff(const char *recorded, const char *now, rn_config_change **out, int *n, char *err,
                   size_t errlen);
void rn_config_changes_free(rn_config_change *c, int n); /* NULL is a no-op */
/* Is `member` one that says how the work was shared out ("threads",
 * "processes")? They change no result: a run resumes with others. */
int rn_config_is_layout(const char *member);

/* ---- reading: export, list, plots (curves*.c) ------------------------------
 *
 * These functions only read runs.db (opened read-only, never created, safe
 * while a training run writes to it). Runs are named by their runs.db name;
 * `runs` (nruns names) selects and orders them, nruns == 0 means every run
 * in the order it was recorded. A name that is not recorded is CK_EINVAL
 * with the recorded names in the message; so is a name given twice.
 *
 * Errors: CK_EIO (runs.db missing; the output cannot be written),
 * CK_EFORMAT (not a runs.db), CK_EINVAL (a run, column or option that does
 * not exist; a named run without epochs for export and plot), CK_EDB,
 * CK_ENOMEM. Messages are one line: "runs.db: run x: no such run (recorded:
 * a, b)". Nothing is printed.
 *
 * A runs.db written before a column was added (epochs.comm_wait,
 * evaluations.dataset) is read as it is, since reading never migrates:
 * the missing column reads as NULL (NAN, an empty CSV field, JSON null).
 *
 * Threads: export and list are thread-safe (each call has its own
 * connection). Plot is not: PLplot keeps process-wide state (its driver
 * table and stream list), so call rn_curves_plot from one thread at a time
 * (the CLI calls it once per process); it makes and ends its own PLplot
 * stream, so it can be called again afterwards in the same process. */

/* Export formats. AUTO: by the output file's extension (".json" -> JSON,
 * anything else CSV), CSV for text output. */
typedef enum rn_curves_format {
    RN_CURVES_AUTO = 0,
    RN_CURVES_CSV,
    RN_CURVES_JSON,
} rn_curves_format;

/* The export's metric columns, in runs.db order; run and epoch always come
 * first. */
#define RN_CURVES_COLUMNS                                                                          \
    "loss,accuracy,val_loss,val_accuracy,seconds,images_per_s,input_stall,comm_wait"
/* The columns that a seeded run reproduces bit for bit (seconds,
 * images_per_s, input_stall and comm_wait are measured times). Compare
 * exports of repeated runs with these. */
#define RN_CURVES_DETERMINISTIC "loss,accuracy,val_loss,val_accuracy"

typedef struct rn_curves_export_opts {
    rn_curves_format format;
    /* Comma-separated metric columns, in the order to write them (e.g.
     * RN_CURVES_DETERMINISTIC); NULL or "": all of RN_CURVES_COLUMNS. */
    const char *columns;
} rn_curves_export_opts;

/* "csv", "json" (case-insensitive) -> format; -1 if unknown. */
int rn_curves_format_parse(const char *name);

/* The curves of the selected runs as text: one row per run and epoch, runs
 * in selection order, epochs ascending. Runs without epochs give no rows
 * when nruns == 0.
 *   CSV: a header "run,epoch,<columns>", then rows; numbers in the shortest
 *   "%.15g".."%.17g" form that reads back to the same double (C locale),
 *   a missing value (no validation) as an empty field, a run name quoted
 *   as RFC 4180 when it needs it. pandas.read_csv reads it as is.
 *   JSON: an array of row objects with the same keys in the same order,
 *   a missing or non-finite value as null, one row per line
 *   (pandas.read_json reads it as is).
 * The same runs.db content gives the same bytes. o may be NULL (CSV, all
 * columns). *text (NUL-terminated, *len bytes; len may be NULL) is
 * malloc'd: the caller frees it. */
int rn_curves_export(const char *runs_path, const char *const *runs, int nruns,
                     const rn_curves_export_opts *o, char **text, size_t *len, char *err,
                     size_t errlen);
/* As rn_curves_export, written to out_path through a temporary file in the
 * same directory renamed over it (a failed export leaves no file and an
 * existing one intact). */
int rn_curves_export_file(const char *runs_path, const char *const *runs, int nruns,
                          const rn_curves_export_opts *o, const char *out_path, char *err,
                          size_t errlen);

/* One run of runs.db with its configuration summary and results. Strings
 * are NULL when absent. */
typedef struct rn_curves_run {
    char *name;
    char *model;     /* config "model" */
    char *optimizer; /* config "optimizer.name" */
    char *augment;   /* config "extra.augment" (a policy name, or its JSON) */
    char *dataset;   /* config "extra.dataset" (or "extra.features"): the
                        catalog as the run was given it */
    char *dataset_hash;
    char *status; /* running, done, interrupted, failed */
    char *start, *end;
    char *config;    /* the full configuration text, JSON as recorded */
    char *summary;   /* the model summary recorded at the start (Keras's
                        model.summary() table) */
    int config_json; /* 1 when config parses as JSON */
    int epochs;      /* configured (config "epochs"), 0 if absent */
    int batch;       /* config "batch", 0 if absent */
    double lr;       /* config "optimizer.lr", NAN if absent */
    uint64_t seed;
    int epochs_done; /* epoch rows recorded */
    double best_val_accuracy;
    int best_val_accuracy_epoch; /* 1-based; 0 (and NAN) without validation */
    double best_val_loss;
    int best_val_loss_epoch;
    double test_accuracy, test_loss; /* the latest evaluation on split "test"
                                        of the run's own catalog; NAN if none */
    int64_t test_n;                  /* its samples, 0 if none */
    int nevals;
    struct rn_curves_eval *evals; /* the latest evaluation of each split and
                                     catalog, oldest first; malloc'd */
    int test_eval;                /* the index in evals of the test result, -1 */
} rn_curves_run;

/* One evaluation of a run, as rn_record_eval recorded it. An evaluation
 * recorded before runs.db kept its catalog has dataset and dataset_hash
 * NULL and counts as the run's own. */
typedef struct rn_curves_eval {
    char *split, *dataset, *dataset_hash, *time;
    int own; /* 1: on the run's own catalog (same hash, or unknown) */
    double loss, accuracy;
    int64_t n;
} rn_curves_eval;

typedef struct rn_curves_list {
    int n;
    rn_curves_run *runs; /* n rows, in selection order; malloc'd */
} rn_curves_list;

/* The selected runs (nruns == 0: all, including runs without epochs).
 * Release out with rn_curves_list_free. */
int rn_curves_list_runs(const char *runs_path, const char *const *runs, int nruns,
                        rn_curves_list *out, char *err, size_t errlen);
void rn_curves_list_free(rn_curves_list *l); /* NULL is a no-op */
/* The list as an aligned text table with a header line (run, model,
 * epochs done/configured, batch, optimizer, lr, augment, dataset hash's
 * first 12 characters, seed, status, best val_acc (epoch), test acc on the
 * run's own catalog, then every other evaluation: "validation 0.8125",
 * "test 0.9100 (other.db)" for another catalog), or as a JSON array of
 * objects (every field, the evaluations as an array, config embedded as
 * JSON, the model summary as "model_summary"). *text is malloc'd.
 * Returns 0, CK_ENOMEM. */
int rn_curves_list_table(const rn_curves_list *l, char **text);
int rn_curves_list_json(const rn_curves_list *l, char **text);

/* Plot layouts. OVERLAY: two panels, accuracy then loss, every run drawn in
 * both in its own colour. SIDE: one column per run, accuracy above loss,
 * the y ranges shared along each row. GAP: one panel, the gap between
 * training and validation accuracy (accuracy - val_accuracy) per epoch,
 * every run a solid line in its colour, a line at 0 (where training and
 * validation agree), each legend entry with the run's gap at its last
 * epoch; nothing is marked, and the y limits options do not apply. */
typedef enum rn_curves_layout {
    RN_CURVES_OVERLAY = 0,
    RN_CURVES_SIDE,
    RN_CURVES_GAP,
} rn_curves_layout;

/* Which validation epoch is marked. EACH (default): each panel its own
 * best, the highest val_accuracy on the accuracy panel and the lowest
 * val_loss (the epoch nn_train keeps as its best checkpoint) on the loss
 * panel. VAL_ACCURACY, VAL_LOSS: that one epoch on both panels. The first
 * epoch wins ties. */
typedef enum rn_curves_best {
    RN_CURVES_BEST_EACH = 0,
    RN_CURVES_BEST_VAL_ACCURACY,
    RN_CURVES_BEST_VAL_LOSS,
    RN_CURVES_BEST_NONE,
} rn_curves_best;

/* The loss panel's y scale (the accuracy panel's is linear). On a log
 * scale values <= 0 are left out, as matplotlib's yscale("log") does. */
typedef enum rn_curves_scale {
    RN_CURVES_LINEAR = 0,
    RN_CURVES_LOG,
} rn_curves_scale;

typedef struct rn_curves_plot_opts {
    int width, height; /* pixels (PNG) or SVG units (pt); 0: the default,
                          1100x520 overlay, 440 per run x 760 side by side,
                          1100x440 gap; each 200..8000 */
    rn_curves_layout layout;
    rn_curves_best best;
    rn_curves_scale loss_scale;
    /* Bottom and top of the accuracy and loss panels' y axes (matplotlib's
     * set_ylim), NAN for automatic (as rn_curves_plot_defaults sets them):
     * the values' range plus 5%, where the loss range leaves out the
     * values of runs that diverged (see rn_curves_plot). */
    double ylim_accuracy[2], ylim_loss[2];
    const char *title; /* above the panels; NULL: none */
    /* nruns legend labels ("without augmentation"), or NULL; a NULL entry
     * stands for the run's name. Only with named runs. */
    const char *const *labels;
} rn_curves_plot_opts;

/* OVERLAY, best EACH, linear loss scale, automatic y limits, default
 * size, no title, no labels. */
rn_curves_plot_opts rn_curves_plot_defaults(void);

/* "overlay", "side", "gap" -> layout; "each", "val_accuracy", "val_loss",
 * "none" -> best; "linear", "log" -> scale; -1 if unknown. */
int rn_curves_layout_parse(const char *name);
int rn_curves_best_parse(const char *name);
int rn_curves_scale_parse(const char *name);
/* "BOTTOM,TOP" with either side empty for automatic ("0,2", ",1.5") ->
 * lim (NAN where empty); -1 unless both sides are numbers or empty and
 * bottom < top. */
int rn_curves_ylim_parse(const char *text, double lim[2]);

/* The book's figures for the selected runs (at most 10: one colour each,
 * matplotlib's tab10 in order: #1f77b4, #ff7f0e, #2ca02c, #d62728, ...),
 * drawn by PLplot into out_path, PNG (cairo) or SVG (PLplot's own SVG
 * device, whose labels are <text> elements, not glyph outlines) by its
 * extension (".png", ".svg"): per run and panel, training solid and
 * validation dashed against epochs; the best validation epochs (o->best)
 * marked with a filled circle on the validation curves; a legend under
 * the panels (one entry per run with its best epochs, then the line
 * styles). A run whose loss or val_loss rises above 100 times the larger
 * of 1 and the lowest tenth of all the loss values has diverged: the
 * automatic loss range leaves those values out, its curves leave the panel
 * through the top, and its legend entry says from which epoch and how
 * high. Written through a temporary file renamed over out_path. o may be
 * NULL (defaults). Returns 0, CK_EINVAL (extension, size, y limits, more
 * than 10 runs, a run without epochs), CK_EIO (the output directory is
 * not writable, or PLplot's driver is missing: Debian package
 * plplot-driver-cairo for PNG), CK_EFORMAT, CK_EDB, CK_ENOMEM. PLplot
 * itself exits the process on failures it cannot return (out of memory
 * inside it). */
int rn_curves_plot(const char *runs_path, const char *const *runs, int nruns,
                   const rn_curves_plot_opts *o, const char *out_path, char *err, size_t errlen);

/* As rn_curves_plot with the SVG device, the document in memory rather
 * than a file: *svg (malloc'd, NUL-terminated, *len bytes; len may be
 * NULL) holds what rn_curves_plot would write to a ".svg" file, for a page
 * that embeds the figure. Nothing is written anywhere. The same errors,
 * named "plot" where they would name the file. */
int rn_curves_plot_svg(const char *runs_path, const char *const *runs, int nruns,
                       const rn_curves_plot_opts *o, char **svg, size_t *len, char *err,
                       size_t errlen);

#endif
