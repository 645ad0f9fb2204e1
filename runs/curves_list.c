/* curves_list.c: the runs of runs.db with their configuration summary,
 * best validation epoch and test result, as rows, a text table or JSON.
 *
 * The configuration summary is read with SQLite's JSON functions (built in
 * since 3.38), so no JSON parser is linked for it; a configuration that is
 * not JSON leaves the summary fields empty instead of failing the list.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rn.h"
#include "rn_internal.h"

/* The latest evaluation of each split and catalog (by hash), oldest
 * first; the latest on split "test" of the run's own catalog is also its
 * test result. */
static int list_evals(sqlite3 *db, const char *path, rn_curves_run *r, char *err, size_t errlen)
{
    int with_dataset = rn_curves_has_column(db, "evaluations", "dataset") &&
                       rn_curves_has_column(db, "evaluations", "dataset_hash");
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT split, loss, accuracy, n, time, %s FROM evaluations WHERE rowid IN"
             " (SELECT max(rowid) FROM evaluations WHERE run = ?1 GROUP BY split%s)"
             " ORDER BY rowid",
             with_dataset ? "dataset, dataset_hash" : "NULL, NULL",
             with_dataset ? ", dataset_hash" : "");
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        return rn_curves_db_err(db, path, "evaluations", err, errlen);
    }
    sqlite3_bind_text(q, 1, r->name, -1, SQLITE_STATIC);
    int rc = 0, step, cap = 0;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (r->nevals == cap) {
            cap = cap ? 2 * cap : 4;
            rn_curves_eval *e = realloc(r->evals, (size_t)cap * sizeof *e);
            if (!e) {
                rc = ck_err(err, errlen, CK_ENOMEM, "%s: list: out of memory", path);
                break;
            }
            r->evals = e;
        }
        rn_curves_eval *e = &r->evals[r->nevals++];
        memset(e, 0, sizeof *e);
        e->split = rn_curves_col_text(q, 0);
        e->loss = rn_curves_col_double(q, 1);
        e->accuracy = rn_curves_col_double(q, 2);
        e->n = sqlite3_column_int64(q, 3);
        e->time = rn_curves_col_text(q, 4);
        e->dataset = rn_curves_col_text(q, 5);
        e->dataset_hash = rn_curves_col_text(q, 6);
        e->own = !e->dataset_hash || !r->dataset_hash || !strcmp(e->dataset_hash, r->dataset_hash);
        if (!e->split) {
            rc = ck_err(err, errlen, CK_ENOMEM, "%s: list: out of memory", path);
            break;
        }
        if (e->own && !strcmp(e->split, "test")) {
            r->test_accuracy = e->accuracy;
            r->test_loss = e->loss;
            r->test_n = e->n;
            r->test_eval = r->nevals - 1;
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = rn_curves_db_err(db, path, "evaluations", err, errlen);
    }
    sqlite3_finalize(q);
    return rc;
}

static int list_run(sqlite3 *db, const char *path, const rn_curve *c, rn_curves_run *r, char *err,
                    size_t errlen)
{
    static const char sql[] =
        "SELECT config, dataset_hash, seed, status, start, end, json_valid(config),"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.model') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.epochs') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.batch') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.optimizer.name') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.optimizer.lr') END,"
        " CASE WHEN json_valid(config) THEN json_extract(config, '$.extra.augment') END,"
        " CASE WHEN json_valid(config) THEN coalesce(json_extract(config, '$.extra.dataset'),"
        " json_extract(config, '$.extra.features')) END, model_summary"
        " FROM runs WHERE name = ?";
    sqlite3_stmt *q = NULL;
    memset(r, 0, sizeof *r);
    r->lr = r->best_val_accuracy = r->best_val_loss = (double)NAN;
    r->test_accuracy = r->test_loss = (double)NAN;
    r->test_eval = -1;
    r->name = strdup(c->run);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        return rn_curves_db_err(db, path, "list", err, errlen);
    }
    sqlite3_bind_text(q, 1, c->run, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        r->config = rn_curves_col_text(q, 0);
        r->dataset_hash = rn_curves_col_text(q, 1);
        r->seed = (uint64_t)sqlite3_column_int64(q, 2);
        r->status = rn_curves_col_text(q, 3);
        r->start = rn_curves_col_text(q, 4);
        r->end = rn_curves_col_text(q, 5);
        r->config_json = sqlite3_column_int(q, 6);
        r->model = rn_curves_col_text(q, 7);
        r->epochs = sqlite3_column_int(q, 8);
        r->batch = sqlite3_column_int(q, 9);
        r->optimizer = rn_curves_col_text(q, 10);
        r->lr = rn_curves_col_double(q, 11);
        r->augment = rn_curves_col_text(q, 12);
        r->dataset = rn_curves_col_text(q, 13);
        r->summary = rn_curves_col_text(q, 14);
    }
    sqlite3_finalize(q);
    r->epochs_done = c->n;
    int i = rn_curve_best(c, RN_CURVES_BEST_VAL_ACCURACY);
    if (i >= 0 && c->v) {
        r->best_val_accuracy = c->v[(size_t)i * RN_CV_COUNT + RN_CV_VAL_ACCURACY];
        r->best_val_accuracy_epoch = c->epoch[i];
    }
    i = rn_curve_best(c, RN_CURVES_BEST_VAL_LOSS);
    if (i >= 0 && c->v) {
        r->best_val_loss = c->v[(size_t)i * RN_CV_COUNT + RN_CV_VAL_LOSS];
        r->best_val_loss_epoch = c->epoch[i];
    }
    int rc = list_evals(db, path, r, err, errlen);
    if (rc) {
        return rc;
    }
    if (!r->name) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: list: out of memory", path);
    }
    return 0;
}

int rn_curves_list_runs(const char *runs_path, const char *const *runs, int nruns,
                        rn_curves_list *out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    rn_curve *c = NULL;
    int nc = 0;
    memset(out, 0, sizeof *out);
    int rc = rn_curves_open_load(runs_path, runs, nruns, 0, &db, &c, &nc, err, errlen);
    if (rc) {
        return rc;
    }
    out->runs = calloc(nc ? (size_t)nc : 1, sizeof *out->runs);
    if (!out->runs) {
        rc = CK_ENOMEM;
        ck_err(err, errlen, rc, "%s: list: out of memory", runs_path);
    }
    for (int i = 0; i < nc && out->runs && rc == 0; i++) {
        rc = list_run(db, runs_path, &c[i], &out->runs[i], err, errlen);
        out->n = i + 1;
    }
    rn_curves_free(c, nc);
    sqlite3_close(db);
    if (rc) {
        rn_curves_list_free(out);
    }
    return rc;
}

void rn_curves_list_free(rn_curves_list *l)
{
    if (!l) {
        return;
    }
    for (int i = 0; i < l->n && l->runs; i++) {
        rn_curves_run *r = &l->runs[i];
        free(r->name);
        free(r->model);
        free(r->optimizer);
        free(r->augment);
        free(r->dataset);
        free(r->dataset_hash);
        free(r->status);
        free(r->start);
        free(r->end);
        free(r->config);
        free(r->summary);
        for (int k = 0; k < r->nevals; k++) {
            free(r->evals[k].split);
            free(r->evals[k].dataset);
            free(r->evals[k].dataset_hash);
            free(r->evals[k].time);
        }
        free(r->evals);
    }
    free(l->runs);
    l->runs = NULL;
    l->n = 0;
}

/* Cells are cut to NARROW characters ("..." at the end), but the last
 * column, the evaluations, which is as long as there are of them. */
enum { TABLE_COLS = 13, NARROW = 48, CELL = 512 };

/* One row of the table as cells; missing values as "-". */
static void table_cells(const rn_curves_run *r, char cell[TABLE_COLS][CELL])
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
    /* Every evaluation but the test result above: "validation 0.8125",
     * "test 0.9100 (other.db)" on another catalog than the run's. */
    size_t len = 0;
    cell[12][0] = '\0';
    for (int k = 0; k < r->nevals && len < CELL; k++) {
        const rn_curves_eval *e = &r->evals[k];
        if (k == r->test_eval) {
            continue;
        }
        len += (size_t)snprintf(cell[12] + len, CELL - len, "%s%s %.4f", len ? ", " : "", e->split,
                                e->accuracy);
        if (!e->own && len < CELL) { /* by path, and hash if the path is the run's */
            int same_path = e->dataset && r->dataset && !strcmp(e->dataset, r->dataset);
            len += (size_t)snprintf(cell[12] + len, CELL - len, " (%s%s%.12s)",
                                    e->dataset ? e->dataset : "another catalog",
                                    same_path ? ", now hash " : "",
                                    same_path && e->dataset_hash ? e->dataset_hash : "");
        }
    }
    if (!len) {
        snprintf(cell[12], CELL, "%s", dash);
    }
    for (int k = 0; k + 1 < TABLE_COLS; k++) { /* cut by columns, at a character's end */
        if (ck_text_columns(cell[k]) > NARROW - 1) {
            char cut[4 * NARROW]; /* NARROW - 4 columns, at most 4 bytes each */
            ck_text_cell(cut, sizeof cut, cell[k], NARROW - 4, 0);
            snprintf(cell[k], CELL, "%s...", cut);
        }
    }
}

int rn_curves_list_table(const rn_curves_list *l, char **text)
{
    static const char *const head[TABLE_COLS] = {
        "run",
        "model",
        "epochs",
        "batch",
        "optimizer",
        "lr",
        "augment",
        "dataset",
        "seed",
        "status",
        "best val_acc",
        "test acc",
        "other evaluations",
    };
    char(*cells)[TABLE_COLS][CELL] = malloc((size_t)(l->n + 1) * sizeof *cells);
    ck_buf b = {0};
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
            int w = ck_text_columns(cells[i][k]);
            width[k] = w > width[k] ? w : width[k];
        }
    }
    for (int i = 0; i <= l->n; i++) {
        for (int k = 0; k < TABLE_COLS; k++) {
            if (k + 1 < TABLE_COLS) { /* padded by columns: names in any script line up */
                char cell[2 * CELL];
                ck_buf_printf(&b, "%s  ",
                              ck_text_cell(cell, sizeof cell, cells[i][k], width[k], 0));
            } else {
                ck_buf_printf(&b, "%s\n", cells[i][k]);
            }
        }
    }
    free(cells);
    *text = ck_buf_take(&b);
    return *text ? 0 : CK_ENOMEM;
}

static void json_int_or_null(ck_buf *b, const char *key, long long v, int present)
{
    if (present) {
        ck_buf_printf(b, ",\"%s\":%lld", key, v);
    } else {
        ck_buf_printf(b, ",\"%s\":null", key);
    }
}

int rn_curves_list_json(const rn_curves_list *l, char **text)
{
    ck_buf b = {0};
    *text = NULL;
    ck_buf_str(&b, "[");
    for (int i = 0; i < l->n; i++) {
        const rn_curves_run *r = &l->runs[i];
        ck_buf_str(&b, i ? ",\n{\"name\":" : "\n{\"name\":");
        ck_buf_json_str(&b, r->name);
        ck_buf_json_field_str(&b, "model", r->model);
        json_int_or_null(&b, "epochs", r->epochs, r->epochs > 0);
        json_int_or_null(&b, "epochs_done", r->epochs_done, 1);
        json_int_or_null(&b, "batch", r->batch, r->batch > 0);
        ck_buf_json_field_str(&b, "optimizer", r->optimizer);
        ck_buf_json_field_num(&b, "lr", r->lr);
        ck_buf_json_field_str(&b, "augment", r->augment);
        ck_buf_json_field_str(&b, "dataset", r->dataset);
        ck_buf_json_field_str(&b, "dataset_hash", r->dataset_hash);
        ck_buf_printf(&b, ",\"seed\":%llu", (unsigned long long)r->seed);
        ck_buf_json_field_str(&b, "status", r->status);
        ck_buf_json_field_str(&b, "start", r->start);
        ck_buf_json_field_str(&b, "end", r->end);
        ck_buf_json_field_num(&b, "best_val_accuracy", r->best_val_accuracy);
        json_int_or_null(&b, "best_val_accuracy_epoch", r->best_val_accuracy_epoch,
                         r->best_val_accuracy_epoch > 0);
        ck_buf_json_field_num(&b, "best_val_loss", r->best_val_loss);
        json_int_or_null(&b, "best_val_loss_epoch", r->best_val_loss_epoch,
                         r->best_val_loss_epoch > 0);
        ck_buf_json_field_num(&b, "test_accuracy", r->test_accuracy);
        ck_buf_json_field_num(&b, "test_loss", r->test_loss);
        json_int_or_null(&b, "test_n", (long long)r->test_n, r->test_n > 0);
        ck_buf_str(&b, ",\"evaluations\":[");
        for (int k = 0; k < r->nevals; k++) {
            const rn_curves_eval *e = &r->evals[k];
            ck_buf_str(&b, k ? ",{\"split\":" : "{\"split\":");
            ck_buf_json_str(&b, e->split);
            ck_buf_json_field_str(&b, "dataset", e->dataset);
            ck_buf_json_field_str(&b, "dataset_hash", e->dataset_hash);
            ck_buf_str(&b, e->own ? ",\"own_dataset\":true" : ",\"own_dataset\":false");
            ck_buf_json_field_num(&b, "loss", e->loss);
            ck_buf_json_field_num(&b, "accuracy", e->accuracy);
            json_int_or_null(&b, "n", (long long)e->n, 1);
            ck_buf_json_field_str(&b, "time", e->time);
            ck_buf_str(&b, "}");
        }
        ck_buf_str(&b, "]");
        if (r->config && r->config_json) {
            ck_buf_str(&b, ",\"config\":");
            ck_buf_str(&b, r->config);
        } else {
            ck_buf_json_field_str(&b, "config", r->config);
        }
        ck_buf_json_field_str(&b, "model_summary", r->summary);
        ck_buf_str(&b, "}");
    }
    ck_buf_str(&b, l->n ? "\n]\n" : "]\n");
    *text = ck_buf_take(&b);
    return *text ? 0 : CK_ENOMEM;
}
