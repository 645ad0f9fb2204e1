/* curves.c: reading learning curves back out of runs.db: CSV/JSON export
 * and the list of runs.
 *
 * runs.db is opened read-only so that looking at curves can never create
 * or change one, and every read happens in one transaction, so an export
 * taken while a run is training sees a consistent set of epochs. Output is
 * a pure function of the database content: rows in selection order, epochs
 * ascending, numbers in the shortest %.Ng that reads back to the same
 * double, no timestamps in curve exports. That is what lets the experiment
 * scripts compare two runs' exports byte for byte (on the deterministic
 * columns: the time columns are measurements).
 *
 * The configuration summary of `list` is read with SQLite's JSON functions
 * (built in since 3.38), so no JSON parser is linked for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curves_internal.h"
#include "nn_internal.h"

const char *const nn_curve_colnames[NN_CV_COUNT] = {
    "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "images_per_s", "input_stall",
};

/* ---- a growing text buffer ------------------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) CK_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char t[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    sb_put(b, t, n < 0 ? 0 : (size_t)n < sizeof t ? (size_t)n : sizeof t - 1);
}

/* A JSON string literal, or null for NULL. */
static void sb_json_str(sbuf *b, const char *s)
{
    if (!s) {
        sb_str(b, "null");
        return;
    }
    sb_str(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[3] = {'\\', (char)c, '\0'};
            sb_str(b, e);
        } else if (c == '\n') {
            sb_str(b, "\\n");
        } else if (c == '\t') {
            sb_str(b, "\\t");
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_str(b, "\"");
}

/* A number in JSON: null when NaN or infinite. */
static void sb_json_num(sbuf *b, double v)
{
    char t[32];
    if (!isfinite(v)) {
        sb_str(b, "null");
        return;
    }
    nn_curves_fmt_double(t, sizeof t, v);
    sb_str(b, t);
}

/* A CSV field, quoted (RFC 4180) only when it holds a separator, quote,
 * line break or surrounding space. */
static void sb_csv_str(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
        sb_put(b, s, n);
        return;
    }
    sb_str(b, "\"");
    for (; *s; s++) {
        sb_put(b, s, 1);
        if (*s == '"') {
            sb_put(b, s, 1);
        }
    }
    sb_str(b, "\"");
}

void nn_curves_fmt_double(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (!isfinite(v) || strtod(buf, NULL) == v) {
            return;
        }
    }
}

/* ---- reading runs.db ------------------------------------------------------ */

int nn_curves_db_open(const char *runs_path, sqlite3 **db, char *err, size_t errlen)
{
    struct stat st;
    char why[128];
    *db = NULL;
    if (stat(runs_path, &st) != 0) {
        return ck_err(err, errlen, CK_EIO, "%s: open: %s", runs_path,
                      nn_strerror(errno, why, sizeof why));
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

static char *dup_text(sqlite3_stmt *q, int col)
{
    const char *s = (const char *)sqlite3_column_text(q, col);
    return s ? strdup(s) : NULL;
}

/* A REAL column; NULL (how SQLite stores NaN) as NAN. */
static double column_double(sqlite3_stmt *q, int col)
{
    if (sqlite3_column_type(q, col) == SQLITE_NULL) {
        return (double)NAN;
    }
    return sqlite3_column_double(q, col);
}

static int db_err(sqlite3 *db, const char *path, const char *step, char *err, size_t errlen)
{
    return ck_err(err, errlen, CK_EDB, "%s: %s: %s", path, step, sqlite3_errmsg(db));
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
        return db_err(db, path, "runs", err, errlen);
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
        (*names)[*n] = dup_text(q, 0);
        if (!(*names)[*n]) {
            rc = CK_ENOMEM;
            break;
        }
        (*n)++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = db_err(db, path, "runs", err, errlen);
    } else if (rc == CK_ENOMEM) {
        ck_err(err, errlen, rc, "%s: runs: out of memory", path);
    }
    sqlite3_finalize(q);
    return rc;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n && names; i++) {
        free(names[i]);
    }
    free(names);
}

/* "runs.db: run x: no such run (recorded: a, b, c)". */
static int no_such_run(const char *path, const char *run, char **names, int n, char *err,
                       size_t errlen)
{
    sbuf b = {0};
    for (int i = 0; i < n; i++) {
        sb_str(&b, i ? ", " : "");
        sb_str(&b, names[i]);
    }
    int rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: no such run (%s%s)", path, run,
                    n ? "recorded: " : "runs.db holds no runs", n && b.s ? b.s : "");
    free(b.s);
    return rc;
}

static int load_epochs(sqlite3 *db, const char *path, nn_curve *c, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT epoch, loss, accuracy, val_loss, val_accuracy, seconds,"
                           " images_per_s, input_stall FROM epochs WHERE run = ? ORDER BY epoch",
                           -1, &q, NULL) != SQLITE_OK) {
        return db_err(db, path, "epochs", err, errlen);
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
            double *nv = ne ? realloc(c->v, (size_t)cap * NN_CV_COUNT * sizeof *nv) : NULL;
            if (!nv) {
                rc = ck_err(err, errlen, CK_ENOMEM, "%s: run %s: epochs: out of memory", path,
                            c->run);
                break;
            }
            c->v = nv;
        }
        c->epoch[c->n] = sqlite3_column_int(q, 0);
        for (int k = 0; k < NN_CV_COUNT; k++) {
            c->v[(size_t)c->n * NN_CV_COUNT + k] = column_double(q, k + 1);
        }
        c->n++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = db_err(db, path, "epochs", err, errlen);
    }
    sqlite3_finalize(q);
    return rc;
}

static int load_status(sqlite3 *db, const char *path, nn_curve *c, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE name = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        return db_err(db, path, "runs", err, errlen);
    }
    sqlite3_bind_text(q, 1, c->run, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        c->status = dup_text(q, 0);
    }
    sqlite3_finalize(q);
    return 0;
}

int nn_curves_load(sqlite3 *db, const char *runs_path, const char *const *runs, int nruns,
                   int need_epochs, nn_curve **out, int *n, char *err, size_t errlen)
{
    char **names;
    int nnames;
    *out = NULL;
    *n = 0;
    if (nruns < 0 || (nruns > 0 && !runs)) {
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
            found = runs[i] && strcmp(runs[i], names[j]) == 0;
        }
        if (!found) {
            rc = no_such_run(runs_path, runs[i] ? runs[i] : "(null)", names, nnames, err, errlen);
        }
        for (int j = 0; j < i && rc == 0; j++) {
            if (strcmp(runs[i], runs[j]) == 0) {
                rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: given twice", runs_path, runs[i]);
            }
        }
    }
    nn_curve *c = rc ? NULL : calloc(count ? (size_t)count : 1, sizeof *c);
    if (rc == 0 && !c) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: runs: out of memory", runs_path);
    }
    for (int i = 0; i < count && rc == 0; i++) {
        c[i].run = strdup(nruns ? runs[i] : names[i]);
        if (!c[i].run) {
            rc = ck_err(err, errlen, CK_ENOMEM, "%s: runs: out of memory", runs_path);
            break;
        }
        rc = load_status(db, runs_path, &c[i], err, errlen);
        if (rc == 0) {
            rc = load_epochs(db, runs_path, &c[i], err, errlen);
        }
        if (rc == 0 && need_epochs && nruns && c[i].n == 0) {
            rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: no epochs recorded (status %s)",
                        runs_path, c[i].run, c[i].status ? c[i].status : "unknown");
        }
    }
    free_names(names, nnames);
    if (rc) {
        nn_curves_free(c, count);
        return rc;
    }
    *out = c;
    *n = count;
    return 0;
}

void nn_curves_free(nn_curve *c, int n)
{
    for (int i = 0; i < n && c; i++) {
        free(c[i].run);
        free(c[i].status);
        free(c[i].epoch);
        free(c[i].v);
    }
    free(c);
}

int nn_curve_best(const nn_curve *c, nn_curves_best which)
{
    int col = which == NN_CURVES_BEST_VAL_LOSS ? NN_CV_VAL_LOSS : NN_CV_VAL_ACCURACY;
    int best = -1;
    if (which == NN_CURVES_BEST_NONE) {
        return -1;
    }
    for (int i = 0; i < c->n; i++) {
        double v = c->v[(size_t)i * NN_CV_COUNT + col];
        if (isnan(v)) {
            continue;
        }
        double b = best < 0 ? 0 : c->v[(size_t)best * NN_CV_COUNT + col];
        if (best < 0 || (col == NN_CV_VAL_LOSS ? v < b : v > b)) {
            best = i;
        }
    }
    return best;
}

/* Opens runs.db, loads the selection inside one read transaction. */
static int open_and_load(const char *runs_path, const char *const *runs, int nruns, int need_epochs,
                         sqlite3 **db, nn_curve **c, int *n, char *err, size_t errlen)
{
    int rc = nn_curves_db_open(runs_path, db, err, errlen);
    if (rc) {
        return rc;
    }
    if (sqlite3_exec(*db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(*db, runs_path, "begin", err, errlen);
    } else {
        rc = nn_curves_load(*db, runs_path, runs, nruns, need_epochs, c, n, err, errlen);
    }
    if (rc) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

int nn_curves_read(const char *runs_path, const char *const *runs, int nruns, int need_epochs,
                   nn_curve **c, int *n, char *err, size_t errlen)
{
    sqlite3 *db;
    int rc = open_and_load(runs_path, runs, nruns, need_epochs, &db, c, n, err, errlen);
    if (rc == 0) {
        sqlite3_close(db);
    }
    return rc;
}

/* ---- export --------------------------------------------------------------- */

int nn_curves_format_parse(const char *name)
{
    if (name && strcasecmp(name, "csv") == 0) {
        return NN_CURVES_CSV;
    }
    if (name && strcasecmp(name, "json") == 0) {
        return NN_CURVES_JSON;
    }
    return -1;
}

/* Column list "a,b" -> indices into cols; returns how many, or CK_EINVAL. */
static int parse_columns(const char *runs_path, const char *spec, int cols[NN_CV_COUNT], char *err,
                         size_t errlen)
{
    int n = 0;
    if (!spec || !*spec) {
        for (int k = 0; k < NN_CV_COUNT; k++) {
            cols[k] = k;
        }
        return NN_CV_COUNT;
    }
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ') {
            len--;
        }
        int found = -1;
        for (int k = 0; k < NN_CV_COUNT && found < 0; k++) {
            if (strlen(nn_curve_colnames[k]) == len && strncmp(p, nn_curve_colnames[k], len) == 0) {
                found = k;
            }
        }
        if (found < 0) {
            return ck_err(err, errlen, CK_EINVAL,
                          "%s: export: unknown column '%.*s' (columns: " NN_CURVES_COLUMNS ")",
                          runs_path, (int)len, p);
        }
        for (int j = 0; j < n; j++) {
            if (cols[j] == found) {
                return ck_err(err, errlen, CK_EINVAL, "%s: export: column %s given twice",
                              runs_path, nn_curve_colnames[found]);
            }
        }
        cols[n++] = found;
        p = end ? end + 1 : p + len;
        if (end && !end[1]) {
            return ck_err(err, errlen, CK_EINVAL, "%s: export: empty column name", runs_path);
        }
    }
    return n;
}

static void write_csv(sbuf *b, const nn_curve *c, int nc, const int *cols, int ncols)
{
    sb_str(b, "run,epoch");
    for (int k = 0; k < ncols; k++) {
        sb_str(b, ",");
        sb_str(b, nn_curve_colnames[cols[k]]);
    }
    sb_str(b, "\n");
    for (int r = 0; r < nc; r++) {
        for (int i = 0; i < c[r].n; i++) {
            sb_csv_str(b, c[r].run);
            sb_printf(b, ",%d", c[r].epoch[i]);
            for (int k = 0; k < ncols; k++) {
                double v = c[r].v[(size_t)i * NN_CV_COUNT + cols[k]];
                char t[32] = "";
                if (!isnan(v)) {
                    nn_curves_fmt_double(t, sizeof t, v);
                }
                sb_str(b, ",");
                sb_str(b, t);
            }
            sb_str(b, "\n");
        }
    }
}

static void write_json(sbuf *b, const nn_curve *c, int nc, const int *cols, int ncols)
{
    int first = 1;
    sb_str(b, "[");
    for (int r = 0; r < nc; r++) {
        for (int i = 0; i < c[r].n; i++) {
            sb_str(b, first ? "\n{\"run\":" : ",\n{\"run\":");
            first = 0;
            sb_json_str(b, c[r].run);
            sb_printf(b, ",\"epoch\":%d", c[r].epoch[i]);
            for (int k = 0; k < ncols; k++) {
                sb_printf(b, ",\"%s\":", nn_curve_colnames[cols[k]]);
                sb_json_num(b, c[r].v[(size_t)i * NN_CV_COUNT + cols[k]]);
            }
            sb_str(b, "}");
        }
    }
    sb_str(b, first ? "]\n" : "\n]\n");
}

static int export_text(const char *runs_path, const char *const *runs, int nruns,
                       const nn_curves_export_opts *o, nn_curves_format fmt, char **text,
                       size_t *len, char *err, size_t errlen)
{
    int cols[NN_CV_COUNT];
    *text = NULL;
    int ncols = parse_columns(runs_path, o ? o->columns : NULL, cols, err, errlen);
    if (ncols < 0) {
        return ncols;
    }
    nn_curve *c;
    int nc;
    int rc = nn_curves_read(runs_path, runs, nruns, 1, &c, &nc, err, errlen);
    if (rc) {
        return rc;
    }
    sbuf b = {0};
    if (fmt == NN_CURVES_JSON) {
        write_json(&b, c, nc, cols, ncols);
    } else {
        write_csv(&b, c, nc, cols, ncols);
    }
    nn_curves_free(c, nc);
    if (b.oom) {
        free(b.s);
        return ck_err(err, errlen, CK_ENOMEM, "%s: export: out of memory", runs_path);
    }
    *text = b.s;
    if (len) {
        *len = b.len;
    }
    return 0;
}

int nn_curves_export(const char *runs_path, const char *const *runs, int nruns,
                     const nn_curves_export_opts *o, char **text, size_t *len, char *err,
                     size_t errlen)
{
    nn_curves_format fmt = o && o->format == NN_CURVES_JSON ? NN_CURVES_JSON : NN_CURVES_CSV;
    return export_text(runs_path, runs, nruns, o, fmt, text, len, err, errlen);
}

int nn_curves_tmp_open(const char *out_path, char **tmp, int *fd, char *err, size_t errlen)
{
    size_t cap = strlen(out_path) + 48;
    char why[128];
    *tmp = malloc(cap);
    if (!*tmp) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: create: out of memory", out_path);
    }
    for (int k = 0;; k++) {
        snprintf(*tmp, cap, "%s.tmp-%ld-%d", out_path, (long)getpid(), k);
        *fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (*fd >= 0) {
            return 0;
        }
        if (errno != EEXIST || k == 99) {
            int e = errno;
            free(*tmp);
            *tmp = NULL;
            return ck_err(err, errlen, CK_EIO, "%s: create: %s", out_path,
                          nn_strerror(e, why, sizeof why));
        }
    }
}

int nn_curves_tmp_commit(const char *out_path, char *tmp, char *err, size_t errlen)
{
    char why[128];
    int rc = 0;
    if (rename(tmp, out_path) != 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: rename: %s", out_path,
                    nn_strerror(errno, why, sizeof why));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

int nn_curves_export_file(const char *runs_path, const char *const *runs, int nruns,
                          const nn_curves_export_opts *o, const char *out_path, char *err,
                          size_t errlen)
{
    nn_curves_format fmt = o ? o->format : NN_CURVES_AUTO;
    if (fmt == NN_CURVES_AUTO) {
        fmt = has_suffix(out_path, ".json") ? NN_CURVES_JSON : NN_CURVES_CSV;
    }
    char *text, *tmp, why[128];
    size_t len;
    int fd;
    int rc = export_text(runs_path, runs, nruns, o, fmt, &text, &len, err, errlen);
    if (rc) {
        return rc;
    }
    rc = nn_curves_tmp_open(out_path, &tmp, &fd, err, errlen);
    if (rc) {
        free(text);
        return rc;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            rc = ck_err(err, errlen, CK_EIO, "%s: write: %s", out_path,
                        nn_strerror(w < 0 ? errno : ENOSPC, why, sizeof why));
            break;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = ck_err(err, errlen, CK_EIO, "%s: write: %s", out_path,
                    nn_strerror(errno, why, sizeof why));
    }
    free(text);
    if (rc) {
        unlink(tmp);
        free(tmp);
        return rc;
    }
    return nn_curves_tmp_commit(out_path, tmp, err, errlen);
}

/* ---- list ----------------------------------------------------------------- */

static int list_run(sqlite3 *db, const char *path, const nn_curve *c, nn_curves_run *r, char *err,
                    size_t errlen)
{
    static const char sql[] =
        "SELECT config, dataset_hash, seed, status, start, end, json_valid(config),"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.model') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.epochs') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.batch') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.optimizer.name') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.optimizer.lr') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.extra.augment') END"
        " FROM runs WHERE name = ?";
    sqlite3_stmt *q = NULL;
    memset(r, 0, sizeof *r);
    r->lr = r->best_val_accuracy = r->best_val_loss = (double)NAN;
    r->test_accuracy = r->test_loss = (double)NAN;
    r->name = strdup(c->run);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        return db_err(db, path, "list", err, errlen);
    }
    sqlite3_bind_text(q, 1, c->run, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        r->config = dup_text(q, 0);
        r->dataset_hash = dup_text(q, 1);
        r->seed = (uint64_t)sqlite3_column_int64(q, 2);
        r->status = dup_text(q, 3);
        r->start = dup_text(q, 4);
        r->end = dup_text(q, 5);
        r->config_json = sqlite3_column_int(q, 6);
        r->model = dup_text(q, 7);
        r->epochs = sqlite3_column_int(q, 8);
        r->batch = sqlite3_column_int(q, 9);
        r->optimizer = dup_text(q, 10);
        r->lr = column_double(q, 11);
        r->augment = dup_text(q, 12);
    }
    sqlite3_finalize(q);
    r->epochs_done = c->n;
    int i = nn_curve_best(c, NN_CURVES_BEST_VAL_ACCURACY);
    if (i >= 0) {
        r->best_val_accuracy = c->v[(size_t)i * NN_CV_COUNT + NN_CV_VAL_ACCURACY];
        r->best_val_accuracy_epoch = c->epoch[i];
    }
    i = nn_curve_best(c, NN_CURVES_BEST_VAL_LOSS);
    if (i >= 0) {
        r->best_val_loss = c->v[(size_t)i * NN_CV_COUNT + NN_CV_VAL_LOSS];
        r->best_val_loss_epoch = c->epoch[i];
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT accuracy, loss, n FROM evaluations WHERE run = ?"
                           " AND split = 'test' ORDER BY rowid DESC LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK) {
        return db_err(db, path, "evaluations", err, errlen);
    }
    sqlite3_bind_text(q, 1, c->run, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        r->test_accuracy = column_double(q, 0);
        r->test_loss = column_double(q, 1);
        r->test_n = sqlite3_column_int64(q, 2);
    }
    sqlite3_finalize(q);
    if (!r->name) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: list: out of memory", path);
    }
    return 0;
}

int nn_curves_list_runs(const char *runs_path, const char *const *runs, int nruns,
                        nn_curves_list *out, char *err, size_t errlen)
{
    sqlite3 *db;
    nn_curve *c;
    int nc;
    memset(out, 0, sizeof *out);
    int rc = open_and_load(runs_path, runs, nruns, 0, &db, &c, &nc, err, errlen);
    if (rc) {
        return rc;
    }
    out->runs = calloc(nc ? (size_t)nc : 1, sizeof *out->runs);
    if (!out->runs) {
        rc = ck_err(err, errlen, CK_ENOMEM, "%s: list: out of memory", runs_path);
    }
    for (int i = 0; i < nc && rc == 0; i++) {
        rc = list_run(db, runs_path, &c[i], &out->runs[i], err, errlen);
        out->n = i + 1;
    }
    nn_curves_free(c, nc);
    sqlite3_close(db);
    if (rc) {
        nn_curves_list_free(out);
    }
    return rc;
}

void nn_curves_list_free(nn_curves_list *l)
{
    if (!l) {
        return;
    }
    for (int i = 0; i < l->n && l->runs; i++) {
        nn_curves_run *r = &l->runs[i];
        free(r->name);
        free(r->model);
        free(r->optimizer);
        free(r->augment);
        free(r->dataset_hash);
        free(r->status);
        free(r->start);
        free(r->end);
        free(r->config);
    }
    free(l->runs);
    l->runs = NULL;
    l->n = 0;
}

enum { TABLE_COLS = 12, CELL = 48 };

/* One row of the table as cells; missing values as "-". */
static void table_cells(const nn_curves_run *r, char cell[TABLE_COLS][CELL])
{
    const char *dash = "-";
    snprintf(cell[0], CELL, "%s", r->name);
    snprintf(cell[1], CELL, "%s", r->model ? r->model : dash);
    if (r->epochs > 0) {
        snprintf(cell[2], CELL, "%d/%d", r->epochs_done, r->epochs);
    } else {
        snprintf(cell[2], CELL, "%d", r->epochs_done);
    }
    if (r->batch > 0) {
        snprintf(cell[3], CELL, "%d", r->batch);
    } else {
        snprintf(cell[3], CELL, "%s", dash);
    }
    snprintf(cell[4], CELL, "%s", r->optimizer ? r->optimizer : dash);
    if (isnan(r->lr)) {
        snprintf(cell[5], CELL, "%s", dash);
    } else {
        snprintf(cell[5], CELL, "%g", r->lr);
    }
    snprintf(cell[6], CELL, "%s", r->augment ? r->augment : dash);
    snprintf(cell[7], CELL, "%.12s", r->dataset_hash ? r->dataset_hash : dash);
    snprintf(cell[8], CELL, "%llu", (unsigned long long)r->seed);
    snprintf(cell[9], CELL, "%s", r->status ? r->status : dash);
    if (r->best_val_accuracy_epoch > 0) {
        snprintf(cell[10], CELL, "%.4f (%d)", r->best_val_accuracy, r->best_val_accuracy_epoch);
    } else {
        snprintf(cell[10], CELL, "%s", dash);
    }
    if (isnan(r->test_accuracy)) {
        snprintf(cell[11], CELL, "%s", dash);
    } else {
        snprintf(cell[11], CELL, "%.4f", r->test_accuracy);
    }
    for (int k = 0; k < TABLE_COLS; k++) {
        if (strlen(cell[k]) == CELL - 1) {
            memcpy(cell[k] + CELL - 4, "...", 3); /* truncated */
        }
    }
}

int nn_curves_list_table(const nn_curves_list *l, char **text)
{
    static const char *const head[TABLE_COLS] = {
        "run",     "model",   "epochs", "batch",  "optimizer",    "lr",
        "augment", "dataset", "seed",   "status", "best val_acc", "test acc",
    };
    char(*cells)[TABLE_COLS][CELL] = malloc((size_t)(l->n + 1) * sizeof *cells);
    sbuf b = {0};
    int width[TABLE_COLS];
    *text = NULL;
    if (!cells) {
        return CK_ENOMEM;
    }
    for (int k = 0; k < TABLE_COLS; k++) {
        snprintf(cells[0][k], CELL, "%s", head[k]);
    }
    for (int i = 0; i < l->n; i++) {
        table_cells(&l->runs[i], cells[i + 1]);
    }
    for (int k = 0; k < TABLE_COLS; k++) {
        width[k] = 0;
        for (int i = 0; i <= l->n; i++) {
            int w = (int)strlen(cells[i][k]);
            width[k] = w > width[k] ? w : width[k];
        }
    }
    for (int i = 0; i <= l->n; i++) {
        for (int k = 0; k < TABLE_COLS; k++) {
            if (k + 1 < TABLE_COLS) {
                sb_printf(&b, "%-*s  ", width[k], cells[i][k]);
            } else {
                sb_printf(&b, "%s\n", cells[i][k]);
            }
        }
    }
    free(cells);
    if (b.oom) {
        free(b.s);
        return CK_ENOMEM;
    }
    *text = b.s;
    return 0;
}

static void json_int_or_null(sbuf *b, const char *key, long long v, int present)
{
    if (present) {
        sb_printf(b, ",\"%s\":%lld", key, v);
    } else {
        sb_printf(b, ",\"%s\":null", key);
    }
}

static void json_key_num(sbuf *b, const char *key, double v)
{
    sb_printf(b, ",\"%s\":", key);
    sb_json_num(b, v);
}

static void json_key_str(sbuf *b, const char *key, const char *v)
{
    sb_printf(b, ",\"%s\":", key);
    sb_json_str(b, v);
}

int nn_curves_list_json(const nn_curves_list *l, char **text)
{
    sbuf b = {0};
    *text = NULL;
    sb_str(&b, "[");
    for (int i = 0; i < l->n; i++) {
        const nn_curves_run *r = &l->runs[i];
        sb_str(&b, i ? ",\n{\"name\":" : "\n{\"name\":");
        sb_json_str(&b, r->name);
        json_key_str(&b, "model", r->model);
        json_int_or_null(&b, "epochs", r->epochs, r->epochs > 0);
        json_int_or_null(&b, "epochs_done", r->epochs_done, 1);
        json_int_or_null(&b, "batch", r->batch, r->batch > 0);
        json_key_str(&b, "optimizer", r->optimizer);
        json_key_num(&b, "lr", r->lr);
        json_key_str(&b, "augment", r->augment);
        json_key_str(&b, "dataset_hash", r->dataset_hash);
        sb_printf(&b, ",\"seed\":%llu", (unsigned long long)r->seed);
        json_key_str(&b, "status", r->status);
        json_key_str(&b, "start", r->start);
        json_key_str(&b, "end", r->end);
        json_key_num(&b, "best_val_accuracy", r->best_val_accuracy);
        json_int_or_null(&b, "best_val_accuracy_epoch", r->best_val_accuracy_epoch,
                         r->best_val_accuracy_epoch > 0);
        json_key_num(&b, "best_val_loss", r->best_val_loss);
        json_int_or_null(&b, "best_val_loss_epoch", r->best_val_loss_epoch,
                         r->best_val_loss_epoch > 0);
        json_key_num(&b, "test_accuracy", r->test_accuracy);
        json_key_num(&b, "test_loss", r->test_loss);
        json_int_or_null(&b, "test_n", (long long)r->test_n, r->test_n > 0);
        if (r->config && r->config_json) {
            sb_str(&b, ",\"config\":");
            sb_str(&b, r->config);
        } else {
            json_key_str(&b, "config", r->config);
        }
        sb_str(&b, "}");
    }
    sb_str(&b, l->n ? "\n]\n" : "]\n");
    if (b.oom) {
        free(b.s);
        return CK_ENOMEM;
    }
    *text = b.s;
    return 0;
}
