/* curves.c: reading learning curves back out of runs.db, for the export
 * (curves_export.c), the list (curves_list.c) and the plots
 * (curves_plot.c).
 *
 * runs.db is opened read-only so that looking at curves can never create
 * or change one, and every read happens in one transaction, so a reader
 * running while a run trains sees a consistent set of epochs. A run that
 * is asked for and not recorded is named in the error together with the
 * runs that are, since a typo in a run name is the common mistake. A
 * column added to runs.db after a file was written (epochs.comm_wait) is
 * not added by a reader: the file is read as it is, the column as NULL.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rn.h"
#include "rn_internal.h"

const char *const rn_curve_colnames[RN_CV_COUNT] = {
    "loss",    "accuracy",     "val_loss",    "val_accuracy",
    "seconds", "images_per_s", "input_stall", "comm_wait",
};

/* ---- reading runs.db ------------------------------------------------------ */

int rn_curves_db_open(const char *runs_path, sqlite3 **db, char *err, size_t errlen)
{
    struct stat st;
    char why[128];
    *db = NULL;
    if (stat(runs_path, &st) != 0) {
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", runs_path,
                      ck_errno_text(errno, why, sizeof why));
    }
    if (!S_ISREG(st.st_mode)) {
        return ck_err(err, errlen, CK_EIO, "%s: open: not a regular file", runs_path);
    }
    if (sqlite3_open_v2(runs_path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        int rc = ck_err(err, errlen, CK_EDB, "%s: open: %s", runs_path,
                        *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(*db, 10000);
    sqlite3_stmt *q = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(*db,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name IN ('runs', 'epochs', 'evaluations')",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        int code = sqlite3_errcode(*db);
        rc = ck_err(err, errlen,
                    code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? CK_EFORMAT : CK_EDB,
                    "%s: open: %s", runs_path, sqlite3_errmsg(*db));
    } else if (sqlite3_column_int(q, 0) != 3) {
        rc = ck_err(err, errlen, CK_EFORMAT,
                    "%s: open: not a runs.db (no runs, epochs and evaluations tables)", runs_path);
    }
    sqlite3_finalize(q);
    if (rc) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

char *rn_curves_col_text(sqlite3_stmt *q, int col)
{
    const char *s = (const char *)sqlite3_column_text(q, col);
    return s ? strdup(s) : NULL;
}

/* A REAL column; NULL (how SQLite stores NaN) as NAN. */
double rn_curves_col_double(sqlite3_stmt *q, int col)
{
    if (sqlite3_column_type(q, col) == SQLITE_NULL) {
        return (double)NAN;
    }
    return sqlite3_column_double(q, col);
}

int rn_curves_has_column(sqlite3 *db, const char *table, const char *col)
{
    sqlite3_stmt *q = NULL;
    int have = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, col, -1, SQLITE_STATIC);
        have = sqlite3_step(q) == SQLITE_ROW;
    }
    sqlite3_finalize(q);
    return have;
}

int rn_curves_db_err(sqlite3 *db, const char *path, const char *step, char *err, size_t errlen)
{
    return ck_err(err, errlen, CK_EDB, "%s: %s: %s", path, step, sqlite3_errmsg(db));
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n && names; i++) {
        free(names[i]);
    }
    free(names);
}

/* The recorded runs' names in the order they were recorded; *names is
 * malloc'd, each name too. */
static int recorded_runs(sqlite3 *db, const char *path, char ***names, int *n, char *err,
                         size_t errlen)
{
    sqlite3_stmt *q = NULL;
    *names = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM runs ORDER BY rowid", -1, &q, NULL) != SQLITE_OK) {
        return rn_curves_db_err(db, path, "runs", err, errlen);
    }
    int cap = 0, rc = 0, step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(*names, (size_t)cap * sizeof *nn);
            if (!nn) {
                rc = CK_ENOMEM;
                break;
            }
            *names = nn;
        }
        (*names)[*n] = rn_curves_col_text(q, 0);
        if (!(*names)[*n]) {
            rc = CK_ENOMEM;
            break;
        }
        (*n)++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = rn_curves_db_err(db, path, "runs", err, errlen);
    } else if (rc == CK_ENOMEM) {
        ck_err(err, errlen, rc, "%s: runs: out of memory", path);
    }
    sqlite3_finalize(q);
    if (rc) {
        free_names(*names, *n);
        *names = NULL;
        *n = 0;
    }
    return rc;
}

/* "PATH: run x: no such run (recorded: a, b, c)". */
static int no_such_run(const char *path, const char *run, char **names, int n, char *err,
                       size_t errlen)
{
    ck_buf b = {0};
    for (int i = 0; i < n; i++) {
        ck_buf_str(&b, i ? ", " : "");
        ck_buf_str(&b, names[i]);
    }
    int rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: no such run (%s%s)", path, run,
                    n ? "recorded: " : "no runs recorded", n && b.s ? b.s : "");
    ck_buf_free(&b);
    return rc;
}

/* The query of a run's epochs: epoch, then the rn_curve_colnames columns
 * in order, NULL for one that this runs.db's epochs table lacks (added
 * after it was written). *sql is malloc'd. */
static int epochs_query(sqlite3 *db, const char *path, char **sql, char *err, size_t errlen)
{
    ck_buf b = {0};
    ck_buf_str(&b, "SELECT epoch");
    for (int k = 0; k < RN_CV_COUNT; k++) {
        const char *col = rn_curve_colnames[k];
        ck_buf_printf(&b, ", %s", rn_curves_has_column(db, "epochs", col) ? col : "NULL");
    }
    ck_buf_str(&b, " FROM epochs WHERE run = ? ORDER BY epoch");
    if (!(*sql = ck_buf_take(&b))) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: epochs: out of memory", path);
    }
    return 0;
}

/* c's epochs by sql (epochs_query). */
static int load_epochs(sqlite3 *db, const char *path, const char *sql, rn_curve *c, char *err,
                       size_t errlen)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        return rn_curves_db_err(db, path, "epochs", err, errlen);
    }
    sqlite3_bind_text(q, 1, c->run, -1, SQLITE_STATIC);
    int cap = 0, rc = 0, step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (c->n == cap) {
            cap = cap ? cap * 2 : 64;
            int *ne = realloc(c->epoch, (size_t)cap * sizeof *ne);
            if (ne) {
                c->epoch = ne;
            }
            double *nv = ne ? realloc(c->v, (size_t)cap * RN_CV_COUNT * sizeof *nv) : NULL;
            if (!nv) {
                rc = ck_err(err, errlen, CK_ENOMEM, "%s: run %s: epochs: out of memory", path,
                            c->run);
                break;
            }
            c->v = nv;
        }
        c->epoch[c->n] = sqlite3_column_int(q, 0);
        for (int k = 0; k < RN_CV_COUNT; k++) {
            c->v[(size_t)c->n * RN_CV_COUNT + k] = rn_curves_col_double(q, k + 1);
        }
        c->n++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = rn_curves_db_err(db, path, "epochs", err, errlen);
    }
    sqlite3_finalize(q);
    return rc;
}

static int load_status(sqlite3 *db, const char *path, rn_curve *c, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE name = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        return rn_curves_db_err(db, path, "runs", err, errlen);
    }
    sqlite3_bind_text(q, 1, c->run, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        c->status = rn_curves_col_text(q, 0);
    }
    sqlite3_finalize(q);
    return 0;
}

int rn_curves_load(sqlite3 *db, const char *runs_path, const char *const *runs, int nruns,
                   int need_epochs, rn_curve **out, int *n, char *err, size_t errlen)
{
    char **names = NULL;
    int nnames = 0;
    *out = NULL;
    *n = 0;
    for (int i = 0; i < nruns; i++) {
        if (!runs || !runs[i] || !*runs[i]) {
            return ck_err(err, errlen, CK_EINVAL, "%s: runs: run %d has no name", runs_path, i + 1);
        }
    }
    if (nruns < 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: runs: bad selection", runs_path);
    }
    int rc = recorded_runs(db, runs_path, &names, &nnames, err, errlen);
    if (rc) {
        return rc;
    }
    int count = nruns ? nruns : nnames;
    for (int i = 0; i < nruns && rc == 0; i++) {
        int found = 0;
        for (int j = 0; j < nnames && !found; j++) {
            found = strcmp(runs[i], names[j]) == 0;
        }
        if (!found) {
            rc = no_such_run(runs_path, runs[i], names, nnames, err, errlen);
        }
        for (int j = 0; j < i && rc == 0; j++) {
            if (strcmp(runs[i], runs[j]) == 0) {
                rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: given twice", runs_path, runs[i]);
            }
        }
    }
    char *sql = NULL;
    if (rc == 0) {
        rc = epochs_query(db, runs_path, &sql, err, errlen);
    }
    rn_curve *c = rc ? NULL : calloc(count ? (size_t)count : 1, sizeof *c);
    if (rc == 0 && !c) {
        rc = CK_ENOMEM;
        ck_err(err, errlen, rc, "%s: runs: out of memory", runs_path);
    }
    for (int i = 0; i < count && c && rc == 0; i++) {
        c[i].run = strdup(nruns ? runs[i] : names[i]);
        if (!c[i].run) {
            rc = ck_err(err, errlen, CK_ENOMEM, "%s: runs: out of memory", runs_path);
            break;
        }
        rc = load_status(db, runs_path, &c[i], err, errlen);
        if (rc == 0) {
            rc = load_epochs(db, runs_path, sql, &c[i], err, errlen);
        }
        if (rc == 0 && need_epochs && nruns && c[i].n == 0) {
            rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: no epochs recorded (status %s)",
                        runs_path, c[i].run, c[i].status ? c[i].status : "unknown");
        }
    }
    free(sql);
    free_names(names, nnames);
    if (rc) {
        rn_curves_free(c, count);
        return rc;
    }
    *out = c;
    *n = count;
    return 0;
}

void rn_curves_free(rn_curve *c, int n)
{
    for (int i = 0; i < n && c; i++) {
        free(c[i].run);
        free(c[i].status);
        free(c[i].epoch);
        free(c[i].v);
    }
    free(c);
}

int rn_curve_best(const rn_curve *c, rn_curves_best which)
{
    int col = which == RN_CURVES_BEST_VAL_LOSS ? RN_CV_VAL_LOSS : RN_CV_VAL_ACCURACY;
    int best = -1;
    if (which == RN_CURVES_BEST_NONE) {
        return -1;
    }
    for (int i = 0; i < c->n; i++) {
        double v = c->v[(size_t)i * RN_CV_COUNT + col];
        if (isnan(v)) {
            continue;
        }
        double b = best < 0 ? 0 : c->v[(size_t)best * RN_CV_COUNT + col];
        if (best < 0 || (col == RN_CV_VAL_LOSS ? v < b : v > b)) {
            best = i;
        }
    }
    return best;
}

/* Opens runs.db, loads the selection inside one read transaction. */
int rn_curves_open_load(const char *runs_path, const char *const *runs, int nruns, int need_epochs,
                        sqlite3 **db, rn_curve **c, int *n, char *err, size_t errlen)
{
    *c = NULL;
    *n = 0;
    int rc = rn_curves_db_open(runs_path, db, err, errlen);
    if (rc) {
        return rc;
    }
    if (sqlite3_exec(*db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = rn_curves_db_err(*db, runs_path, "begin", err, errlen);
    } else {
        rc = rn_curves_load(*db, runs_path, runs, nruns, need_epochs, c, n, err, errlen);
    }
    if (rc) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

int rn_curves_read(const char *runs_path, const char *const *runs, int nruns, int need_epochs,
                   rn_curve **c, int *n, char *err, size_t errlen)
{
    sqlite3 *db;
    int rc = rn_curves_open_load(runs_path, runs, nruns, need_epochs, &db, c, n, err, errlen);
    if (rc == 0) {
        sqlite3_close(db);
    }
    return rc;
}

int rn_curves_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}
