/* rn_internal.h: what the runs/ reading files share: curves.c (reading
 * runs.db, text buffers), curves_export.c, curves_list.c and
 * curves_plot.c (PLplot figures); runs.c, the writer, uses
 * rn_curves_has_column to migrate an older runs.db.
 *
 * A run's curve is loaded whole: a few hundred epochs of eight doubles, so
 * every consumer works on plain arrays and none keeps a statement open.
 * SQL NULL (SQLite stores NaN as NULL) becomes NAN here; writers turn it
 * back into an empty CSV field or a JSON null.
 */
#ifndef RN_INTERNAL_H
#define RN_INTERNAL_H

#include <stddef.h>

#include "ck.h"
#include "rn.h"

/* The metric columns of table epochs, in its order, after run and epoch. */
enum {
    RN_CV_LOSS = 0,
    RN_CV_ACCURACY,
    RN_CV_VAL_LOSS,
    RN_CV_VAL_ACCURACY,
    RN_CV_SECONDS,
    RN_CV_IMAGES_PER_S,
    RN_CV_INPUT_STALL,
    RN_CV_COMM_WAIT,
    RN_CV_COUNT
};

/* Column names as in runs.db and in exports, indexed by RN_CV_*. */
extern const char *const rn_curve_colnames[RN_CV_COUNT];

typedef struct rn_curve {
    char *run;
    char *status;
    int n;      /* epochs recorded */
    int *epoch; /* n, 1-based, ascending */
    double *v;  /* n x RN_CV_COUNT, row-major; NAN where NULL */
} rn_curve;

struct sqlite3;
struct sqlite3_stmt;

/* Column col of the current row: text strdup'd (NULL for NULL or out of
 * memory); a double, NAN for NULL (how SQLite stores NaN). */
char *rn_curves_col_text(struct sqlite3_stmt *q, int col);
double rn_curves_col_double(struct sqlite3_stmt *q, int col);
/* 1 when table `table` of db has column `col`. A runs.db written before
 * the column was added lacks it, and read-only readers never add it:
 * they read NULL in its place. */
int rn_curves_has_column(struct sqlite3 *db, const char *table, const char *col);
/* CK_EDB with "path: step: SQLite's message". */
int rn_curves_db_err(struct sqlite3 *db, const char *path, const char *step, char *err,
                     size_t errlen);

/* Opens runs_path read-only (never creates it) and checks it has a runs
 * table. Returns 0, CK_EIO (missing), CK_EFORMAT (not a runs.db), CK_EDB. */
int rn_curves_db_open(const char *runs_path, struct sqlite3 **db, char *err, size_t errlen);

/* Loads the named runs in the order given, or every run in the order they
 * were recorded when nruns == 0. A name that is not recorded, or given
 * twice, is CK_EINVAL (the message lists the recorded runs); with
 * need_epochs a named run without epochs is CK_EINVAL too. *out is
 * malloc'd (release with rn_curves_free). Returns 0, CK_EINVAL, CK_EDB,
 * CK_ENOMEM. */
int rn_curves_load(struct sqlite3 *db, const char *runs_path, const char *const *runs, int nruns,
                   int need_epochs, rn_curve **out, int *n, char *err, size_t errlen);
void rn_curves_free(rn_curve *c, int n); /* NULL is a no-op */
/* rn_curves_db_open and rn_curves_load in one read transaction, leaving
 * *db open in it (for further reads; sqlite3_close ends both). */
int rn_curves_open_load(const char *runs_path, const char *const *runs, int nruns, int need_epochs,
                        struct sqlite3 **db, rn_curve **c, int *n, char *err, size_t errlen);
/* rn_curves_open_load, then closes runs.db. */
int rn_curves_read(const char *runs_path, const char *const *runs, int nruns, int need_epochs,
                   rn_curve **c, int *n, char *err, size_t errlen);

/* The row of the best validation epoch by `which` (maximum val_accuracy or
 * minimum val_loss, the first on ties), -1 when there is none. */
int rn_curve_best(const rn_curve *c, rn_curves_best which);

/* ---- a figure's decisions (curves_scale.c) ---------------------------------- */

/* The level above which a loss is far outside the others: 100 times the
 * larger of 1 and the lowest tenth of the finite loss and val_loss values
 * of the n curves. */
double rn_loss_ceiling(const rn_curve *c, int n);
/* The first row whose loss or val_loss is above ceiling, -1 if none;
 * *peak (may be NULL) is then the highest such value. */
int rn_curve_diverged(const rn_curve *c, double ceiling, double *peak);

/* The smallest and largest finite values of columns tr and va over the n
 * curves that are at most ceiling (and, with positive, above 0); lo > hi
 * when there is none. */
void rn_curves_data_range(const rn_curve *c, int n, int tr, int va, double ceiling, int positive,
                          double *lo, double *hi);

enum { RN_AXIS_MAX_TICKS = 24 };

/* A panel's y axis: its range in data units, its scale, and the ticks with
 * the labels drawn at them. */
typedef struct rn_axis {
    double lo, hi;
    int log; /* 1: log10 scale */
    int n;
    double tick[RN_AXIS_MAX_TICKS];
    char label[RN_AXIS_MAX_TICKS][24];
    int label_chars; /* the longest label's length */
} rn_axis;

/* The axis over data [data_lo, data_hi] (lo > hi: none), padded by 5% of
 * the span (in log10 units on a log scale); lim (may be NULL) holds the
 * user's bottom and top, NAN for automatic. Returns 0, or -1 when the
 * bottom is not below the top or, on a log scale, not above 0. */
int rn_axis_make(rn_axis *a, double data_lo, double data_hi, const double lim[2], int log_scale);
/* v in the axis's plotting units: v, or log10(v) (NAN for v <= 0). */
double rn_axis_map(const rn_axis *a, double v);

/* 1 when s ends in suffix, ignoring case. */
int rn_curves_has_suffix(const char *s, const char *suffix);

#endif
