/* catalog_scratch.c: the statement helpers of the finish steps
 * (catalog_split.c, catalog_exact.c, catalog_near.c).
 *
 * The steps read every order they need from a scratch table keyed in that
 * order, and write one row per statement (catalog_finish.c says why: no
 * sorter, no statement journal). These helpers are the two halves of that:
 * filling a scratch table from a query one row at a time, and dropping it
 * again inside finish's transaction. They report errors as "finish: <step>".
 */
#include <stdio.h>

#include "ds_internal.h"

int ds_fin_stmt_run(ds_catalog *c, sqlite3_stmt *st, const char *step, char *err, size_t errlen)
{
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    }
    int rc = s == SQLITE_DONE ? 0 : ds_cat_err(c, err, errlen, "finish: %s", step);
    sqlite3_reset(st);
    return rc;
}

int ds_fin_scratch_drop(ds_catalog *c, const char *table, char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM %s; DROP TABLE %s", table, table);
    return ds_cat_exec(c, sql, "finish: drop scratch table", err, errlen);
}

int ds_fin_rows_copy(ds_catalog *c, sqlite3_stmt *sel, sqlite3_stmt *ins, const char *step,
                     char *err, size_t errlen)
{
    int rc = 0, s = SQLITE_DONE;
    while (rc == 0 && (s = sqlite3_step(sel)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(sel); i++) {
            sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
        }
        rc = ds_fin_stmt_run(c, ins, step, err, errlen);
    }
    if (rc == 0 && s != SQLITE_DONE) {
        rc = ds_cat_err(c, err, errlen, "finish: %s", step);
    }
    sqlite3_reset(sel);
    return rc;
}

int ds_fin_query_copy(ds_catalog *c, const char *sel, const char *ins, const char *step, char *err,
                      size_t errlen)
{
    sqlite3_stmt *s = NULL, *i = NULL;
    int rc = ds_cat_prepare(c, sel, &s, step, err, errlen);
    if (rc == 0) {
        rc = ds_cat_prepare(c, ins, &i, step, err, errlen);
    }
    if (rc == 0) {
        rc = ds_fin_rows_copy(c, s, i, step, err, errlen);
    }
    sqlite3_finalize(s);
    sqlite3_finalize(i);
    return rc;
}
