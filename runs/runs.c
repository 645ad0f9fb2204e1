/* runs.c: writing runs.db, the record of experiments.
 *
 *   runs(name PRIMARY KEY, config JSON, dataset_hash, seed, model_summary,
 *        start, end, status)      status: running, done, interrupted, failed
 *   epochs(run, epoch, loss, accuracy, val_loss, val_accuracy, seconds,
 *          images_per_s, input_stall, comm_wait)  epoch is 1-based, as
 *          Keras prints it; input_stall is seconds spent waiting for
 *          batches, comm_wait seconds spent waiting for the other
 *          processes of an mpirun job (0 for one process)
 *   evaluations(run, split, loss, accuracy, n, confusion JSON, time,
 *               dataset, dataset_hash)  the catalog (path as given, hash)
 *               whose split was measured
 *
 * Columns added after a table was first released are listed in `added`
 * and appended to an older runs.db when it is opened for writing, so a
 * file written by an earlier convkit keeps every row and stays readable;
 * readers (curves*.c) open runs.db read-only, never migrate it, and treat
 * a column that is not there as NULL (rn_curves_has_column).
 *
 * Each epoch row is its own transaction, written before that epoch's
 * checkpoint: a run killed between the two has one row more than its
 * checkpoint, and resuming deletes rows past the checkpoint before it
 * redoes them. Times are UTC ISO 8601 text, which sorts and reads well.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ck.h"
#include "rn.h"
#include "rn_internal.h"

struct rn_db {
    sqlite3 *db;
    char *path; /* as the caller gave it: errors name it */
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS runs(name TEXT PRIMARY KEY, config TEXT NOT NULL,"
    " dataset_hash TEXT, seed INTEGER, model_summary TEXT, start TEXT, end TEXT, status TEXT);"
    "CREATE TABLE IF NOT EXISTS epochs(run TEXT NOT NULL REFERENCES runs(name),"
    " epoch INTEGER NOT NULL, loss REAL, accuracy REAL, val_loss REAL, val_accuracy REAL,"
    " seconds REAL, images_per_s REAL, input_stall REAL, comm_wait REAL,"
    " PRIMARY KEY(run, epoch));"
    "CREATE TABLE IF NOT EXISTS evaluations(run TEXT NOT NULL, split TEXT NOT NULL, loss REAL,"
    " accuracy REAL, n INTEGER, confusion TEXT, time TEXT, dataset TEXT, dataset_hash TEXT);";

/* Columns added to a released table: (table, column, declaration). */
static const char *const added[][3] = {
    {"evaluations", "dataset", "TEXT"},
    {"evaluations", "dataset_hash", "TEXT"},
    {"epochs", "comm_wait", "REAL"},
};

/* Appends the columns of `added` that db's tables lack, in one write
 * transaction, so that two processes opening an old runs.db at once add
 * each column once. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        return ck_err(err, errlen, CK_EDB, "%s: schema: %s", path, sqlite3_errmsg(db));
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof added / sizeof added[0]; i++) {
        int have = rn_curves_has_column(db, added[i][0], added[i][1]);
        char sql[160];
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", added[i][0], added[i][1],
                 added[i][2]);
        if (!have && sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            rc = ck_err(err, errlen, CK_EDB, "%s: schema: add %s.%s: %s", path, added[i][0],
                        added[i][1], sqlite3_errmsg(db));
        }
    }
    if (sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK && rc == 0) {
        rc = ck_err(err, errlen, CK_EDB, "%s: schema: %s", path, sqlite3_errmsg(db));
    }
    return rc;
}

int rn_db_open(rn_db **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    rn_db *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return ck_err(err, errlen, CK_ENOMEM, "%s: open: out of memory", path);
    }
    sqlite3 **db = &r->db;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        int rc = ck_err(err, errlen, CK_EDB, "%s: open: %s", path,
                        *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        free(r->path);
        free(r);
        return rc;
    }
    sqlite3_busy_timeout(*db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(*db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = ck_err(err, errlen, CK_EDB, "%s: schema: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(*db);
        free(r->path);
        free(r);
        return rc;
    }
    int rc = migrate(*db, path, err, errlen);
    if (rc) {
        sqlite3_close(*db);
        free(r->path);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void rn_db_close(rn_db *r)
{
    if (r) {
        sqlite3_close(r->db);
        free(r->path);
        free(r);
    }
}

/* Now as "2026-01-31T12:00:00Z". */
static void utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Prepares sql, binds text/int/double arguments described by `types`
 * ('t' text, 'i' int64, 'd' double, 'n' null), runs it to completion. */
static int exec_bound(const rn_db *r, const char *what, char *err, size_t errlen, const char *sql,
                      const char *types, ...)
{
    sqlite3 *db = r->db;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return ck_err(err, errlen, CK_EDB, "%s: %s: %s", r->path, what, sqlite3_errmsg(db));
    }
    va_list ap;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        switch (types[i]) {
        case 't': {
            const char *s = va_arg(ap, const char *);
            if (s) {
                sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
            } else {
                sqlite3_bind_null(st, i + 1);
            }
            break;
        }
        case 'i': sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)); break;
        case 'd': sqlite3_bind_double(st, i + 1, va_arg(ap, double)); break;
        default: sqlite3_bind_null(st, i + 1); break;
        }
    }
    va_end(ap);
    int rc = sqlite3_step(st);
    while (rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
    }
    int out = 0;
    if (rc != SQLITE_DONE) {
        out = ck_err(err, errlen, CK_EDB, "%s: %s: %s", r->path, what, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return out;
}

/* A resumed run's configuration against the recorded one: the same but
 * for "epochs" (an extended run, Keras's initial_epoch) and the layout
 * (rn_config_is_layout), or CK_EINVAL naming every member that differs
 * with both values. */
static int resume_check(const char *path, const char *name, const char *recorded,
                        const char *config, char *err, size_t errlen)
{
    rn_config_change *c;
    int n, rc = rn_config_diff(recorded, config, &c, &n, err, errlen);
    if (rc) {
        return rc == CK_ENOMEM ? rc
                               : ck_err(err, errlen, CK_EINVAL,
                                        "%s: run %s: resume: the configuration differs from "
                                        "the recorded one (not comparable)",
                                        path, name);
    }
    ck_buf b = {0};
    for (int i = 0; i < n; i++) {
        if (strcmp(c[i].member, "epochs") != 0 && !rn_config_is_layout(c[i].member)) {
            ck_buf_printf(&b, "%s%s %s recorded, %s now", b.len ? "; " : "", c[i].member,
                          c[i].recorded ? c[i].recorded : "(none)", c[i].now ? c[i].now : "(none)");
        }
    }
    if (b.len) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: run %s: resume: the configuration differs from the recorded one: %s", path,
                    name, b.s ? b.s : "out of memory");
    }
    ck_buf_free(&b);
    rn_config_changes_free(c, n);
    return rc;
}

int rn_run_start(rn_db *r, const char *name, const char *config, const char *dataset_hash,
                 uint64_t seed, const char *summary, int resume, int epoch, char *err,
                 size_t errlen)
{
    sqlite3 *db = r->db;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT config, status FROM runs WHERE name = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        return ck_err(err, errlen, CK_EDB, "%s: run %s: %s", r->path, name, sqlite3_errmsg(db));
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(st) == SQLITE_ROW, rc = 0;
    if (found && !resume) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: run %s: already recorded (resume it or choose another name)", r->path,
                    name);
    } else if (!found && resume) {
        rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: resume: no such run", r->path, name);
    } else if (found) {
        rc = resume_check(r->path, name, (const char *)sqlite3_column_text(st, 0), config, err,
                          errlen);
    }
    sqlite3_finalize(st);
    if (rc) {
        return rc;
    }
    char now[32];
    utc_now(now);
    if (resume) {
        if ((rc = exec_bound(r, "resume", err, errlen, "UPDATE runs SET config = ? WHERE name = ?",
                             "tt", config, name))) {
            return rc;
        }
        if ((rc = exec_bound(r, "resume", err, errlen,
                             "DELETE FROM epochs WHERE run = ? AND epoch > ?", "ti", name,
                             (int64_t)epoch))) {
            return rc;
        }
        return exec_bound(r, "resume", err, errlen,
                          "UPDATE runs SET status = 'running', end = NULL WHERE name = ?", "t",
                          name);
    }
    return exec_bound(r, "start", err, errlen,
                      "INSERT INTO runs(name, config, dataset_hash, seed, model_summary, start, "
                      "status) VALUES(?, ?, ?, ?, ?, ?, 'running')",
                      "tttitt", name, config, dataset_hash, (int64_t)seed, summary, now);
}

int rn_run_epoch(rn_db *r, const char *name, int epoch, const double v[RN_EPOCH_VALUES], char *err,
                 size_t errlen)
{
    /* Only for a recorded run: one deleted while it trains (convkit curves
     * delete) must not leave epochs behind for a later run of its name. */
    int rc = exec_bound(r, "epoch", err, errlen,
                        "INSERT OR REPLACE INTO epochs(run, epoch, loss, accuracy, val_loss, "
                        "val_accuracy, seconds, images_per_s, input_stall, comm_wait) "
                        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 "
                        "WHERE EXISTS (SELECT 1 FROM runs WHERE name = ?1)",
                        "tidddddddd", name, (int64_t)epoch, v[0], v[1], v[2], v[3], v[4], v[5],
                        v[6], v[7]);
    if (rc == 0 && sqlite3_changes(r->db) == 0) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "%s: run %s: epoch %d: the run is no longer recorded (deleted?)", r->path, name,
                    epoch);
    }
    return rc;
}

int rn_run_finish(rn_db *r, const char *name, const char *status, char *err, size_t errlen)
{
    char now[32];
    utc_now(now);
    return exec_bound(r, "finish", err, errlen,
                      "UPDATE runs SET status = ?, end = ? WHERE name = ?", "ttt", status, now,
                      name);
}

int rn_record_eval(const char *runs_path, const char *run, const char *dataset,
                   const char *dataset_hash, const char *split, double loss, double accuracy,
                   int64_t n, int classes, const int64_t *confusion, char *err, size_t errlen)
{
    /* An evaluation belongs to a recorded run: a runs.db that is not there
     * or a name that is not in it is a mistake, not a new record. */
    if (access(runs_path, F_OK) != 0) {
        char why[128];
        return ck_err(err, errlen, CK_EINVAL, "%s: %s; nothing recorded", runs_path,
                      ck_errno_text(errno, why, sizeof why));
    }
    rn_db *db;
    int rc = rn_db_open(&db, runs_path, err, errlen);
    if (rc) {
        return rc;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM runs WHERE name = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = ck_err(err, errlen, CK_EDB, "%s: evaluation: %s", runs_path, sqlite3_errmsg(db->db));
    } else {
        sqlite3_bind_text(st, 1, run, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: no such run; nothing recorded",
                        runs_path, run);
        }
    }
    sqlite3_finalize(st);
    if (rc) {
        rn_db_close(db);
        return rc;
    }
    size_t cap = (size_t)classes * classes * 22 + 16, len = 0;
    char *json = malloc(cap);
    if (!json) {
        rn_db_close(db);
        return ck_err(err, errlen, CK_ENOMEM, "%s: evaluation: out of memory", runs_path);
    }
    json[len++] = '[';
    for (int i = 0; i < classes; i++) {
        json[len++] = '[';
        for (int j = 0; j < classes; j++) {
            len += (size_t)snprintf(json + len, cap - len, "%s%lld", j ? "," : "",
                                    (long long)confusion[i * classes + j]);
        }
        len += (size_t)snprintf(json + len, cap - len, "]%s", i + 1 < classes ? "," : "");
    }
    snprintf(json + len, cap - len, "]");
    char now[32];
    utc_now(now);
    rc = exec_bound(db, "evaluation", err, errlen,
                    "INSERT INTO evaluations(run, split, loss, accuracy, n, confusion, time, "
                    "dataset, dataset_hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    "ttdditttt", run, split, loss, accuracy, n, json, now, dataset, dataset_hash);
    free(json);
    rn_db_close(db);
    return rc;
}

int rn_runs_delete(const char *runs_path, const char *const *runs, int nruns, rn_deleted *out,
                   char *err, size_t errlen)
{
    /* The names are checked first, so that a typo is told with the
     * recorded names; the rows then go in one transaction, rolled back
     * if a run is missing by then: every run goes, or none. */
    if (nruns < 1) {
        return ck_err(err, errlen, CK_EINVAL, "%s: delete: no run named", runs_path);
    }
    memset(out, 0, (size_t)nruns * sizeof *out);
    rn_curves_list l;
    int rc = rn_curves_list_runs(runs_path, runs, nruns, &l, err, errlen);
    if (rc) {
        return rc;
    }
    rn_curves_list_free(&l);
    rn_db *db;
    if ((rc = rn_db_open(&db, runs_path, err, errlen))) {
        return rc;
    }
    rc = exec_bound(db, "delete", err, errlen, "BEGIN IMMEDIATE", "");
    for (int i = 0; i < nruns && rc == 0; i++) {
        rc =
            exec_bound(db, "delete", err, errlen, "DELETE FROM epochs WHERE run = ?", "t", runs[i]);
        out[i].epochs = sqlite3_changes(db->db);
        if (rc == 0) {
            rc = exec_bound(db, "delete", err, errlen, "DELETE FROM evaluations WHERE run = ?", "t",
                            runs[i]);
            out[i].evaluations = sqlite3_changes(db->db);
        }
        if (rc == 0) {
            rc = exec_bound(db, "delete", err, errlen, "DELETE FROM runs WHERE name = ?", "t",
                            runs[i]);
            out[i].runs = sqlite3_changes(db->db);
        }
        if (rc == 0 && out[i].runs != 1) {
            rc = ck_err(err, errlen, CK_EINVAL, "%s: run %s: no such run", runs_path, runs[i]);
        }
    }
    if (rc == 0) {
        rc = exec_bound(db, "delete", err, errlen, "COMMIT", "");
    }
    if (rc) {
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        memset(out, 0, (size_t)nruns * sizeof *out);
    }
    rn_db_close(db);
    return rc;
}
