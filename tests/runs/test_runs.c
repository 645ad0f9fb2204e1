/* test_runs.c: the experiment record. runs.db as the trainer's recorder
 * writes it (rn_run_*: runs refused or resumed, epochs, evaluations) and
 * the curves read from it. Exports must hold exactly the
 * recorded epochs and values and be byte-identical for identical content;
 * plots must be valid PNG/SVG files of the requested size that hold one
 * curve per run, metric and split (checked in the SVG's geometry and the
 * PNG's pixels); bad input must give messages that name it. */
#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ck.h"
#include "ck_test.h"
#include "rn.h"
#include "rn_internal.h"

/* ---- runs recorded as the trainer records them -------------------------- */

enum { BATCH = 16, EPOCHS = 3 };

/* The configuration JSON in the trainer's layout (train/model/trainer.c),
 * which the listing reads. */
static const char config_fmt[] =
    "{\"model\":\"synth\",\"spec\":\"Input(shape=(8, 8, 1))\\n%s\","
    "\"epochs\":3,\"batch\":16,\"optimizer\":{\"name\":\"rmsprop\",\"lr\":0.001,"
    "\"rho\":0.9,\"epsilon\":1e-07},\"loss\":\"sparse_categorical_crossentropy\","
    "\"seed\":3,\"threads\":1,\"patience\":0,\"dataset_hash\":\"0123456789abcdef0123\","
    "\"extra\":{\"augment\":\"%s\"}}";

/* Records `run` with EPOCHS epochs into runs_path through the writer the
 * trainer's recorder uses (a curve of a learning model: losses falling,
 * accuracies rising, validation parting from training, each run its
 * own); with `test`, an evaluation on split "test" too. */
static void train_run(const char *runs_path, const char *run, const char *layers,
                      const char *augment, int test)
{
    char err[256] = "", config[1024];
    snprintf(config, sizeof config, config_fmt, layers, augment);
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, runs_path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rn_run_start(db, run, config, "0123456789abcdef0123", 3, "summary", 0, 0, err,
                               sizeof err) == 0,
                  "%s", err);
    double k = (double)strlen(run) / 10.0;
    for (int e = 0; e < EPOCHS; e++) {
        double q = e * e; /* curves, not straight lines, as training gives */
        double v[RN_EPOCH_VALUES] = {0.69 - 0.2 * e * k + 0.03 * q,
                                     0.5 + 0.16 * e - 0.02 * q * k,
                                     0.70 - 0.12 * e * k + 0.05 * q,
                                     0.5 + 0.11 * e * k - 0.03 * q,
                                     0.0123 * (e + 1) + k,
                                     5203.25 / (e + 1),
                                     0.001 * (e + 1) * k,
                                     0.0005 * (e + 2) * k};
        ck_assert_msg(rn_run_epoch(db, run, e + 1, v, err, sizeof err) == 0, "%s", err);
    }
    ck_assert_msg(rn_run_finish(db, run, "done", err, sizeof err) == 0, "%s", err);
    rn_db_close(db);
    if (test) {
        const int64_t confusion[4] = {14, 2, 3, 13};
        ck_assert_msg(rn_record_eval(runs_path, run, "d.db", "0123456789abcdef0123", "test", 0.4,
                                     27.0 / 32.0, 32, 2, confusion, err, sizeof err) == 0,
                      "%s", err);
    }
}

static const char spec_plain[] = "Conv2D(4, 3, activation='relu')";
static const char spec_dropout[] = "Dropout(0.5)";

/* A run that started and recorded no epoch (a failed start). */
static void empty_run(const char *runs_path, const char *run)
{
    char err[256];
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, runs_path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rn_run_start(db, run, "{}", NULL, 1, "", 0, 0, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rn_run_finish(db, run, "failed", err, sizeof err) == 0, "%s", err);
    rn_db_close(db);
}

typedef struct fixture {
    char dir[256], runs[300];
} fixture;

/* runs.db with "plain" (no augmentation) and "dropout" (a test accuracy
 * recorded), as the trainer's recorder writes them. */
static void fixture_init(fixture *f)
{
    ck_test_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->runs, sizeof f->runs, "%s/runs.db", f->dir);
    train_run(f->runs, "plain", spec_plain, "none", 0);
    train_run(f->runs, "dropout", spec_dropout, "chollet-2nd", 1);
}

static void fixture_free(fixture *f)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "open %s", path);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    ck_assert_int_ge(n, 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    if (len) {
        *len = (size_t)n;
    }
    return buf;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- writing ------------------------------------------------------------------ */

static int count_rows(const char *runs_path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_open_v2(runs_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    int n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* A name is a run: a second start is refused; a resume needs the recorded
 * configuration and drops the epochs recorded after its checkpoint. */
START_TEST(start_refuses_and_resumes)
{
    fixture f;
    fixture_init(&f);
    char err[256];
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, f.runs, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(rn_run_start(db, "plain", "{}", NULL, 1, "", 0, 0, err, sizeof err),
                     CK_EINVAL);
    /* Each message names the file as it was given, whatever its name. */
    char want[600];
    snprintf(want, sizeof want, "%s: run plain: already recorded", f.runs);
    ck_assert_msg(strstr(err, want) == err, "%s", err);
    ck_assert_int_eq(rn_run_start(db, "nobody", "{}", NULL, 1, "", 1, 0, err, sizeof err),
                     CK_EINVAL);
    snprintf(want, sizeof want, "%s: run nobody: resume: no such run", f.runs);
    ck_assert_msg(strstr(err, want) == err, "%s", err);
    ck_assert_int_eq(rn_run_start(db, "plain", "{}", NULL, 1, "", 1, 1, err, sizeof err),
                     CK_EINVAL);
    snprintf(want, sizeof want, "%s: run plain: resume: the configuration differs", f.runs);
    ck_assert_msg(strstr(err, want) == err, "%s", err);
    /* Resumed from the checkpoint of epoch 1: epochs 2 and 3 go. */
    char config[1024];
    snprintf(config, sizeof config, config_fmt, spec_plain, "none");
    ck_assert_msg(rn_run_start(db, "plain", config, NULL, 3, "", 1, 1, err, sizeof err) == 0, "%s",
                  err);
    rn_db_close(db);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM epochs WHERE run = 'plain'"), 1);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM runs WHERE name = 'plain' AND "
                                        "status = 'running' AND end IS NULL"),
                     1);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM epochs WHERE run = 'dropout'"),
                     EPOCHS);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM evaluations WHERE run = 'dropout' "
                                        "AND confusion = '[[14,2],[3,13]]' AND n = 32"),
                     1);
    /* An evaluation of a run that is not recorded, or into a runs.db that
     * does not exist, is refused and writes nothing. */
    const int64_t conf[4] = {1, 0, 0, 1};
    ck_assert_int_eq(
        rn_record_eval(f.runs, "nosuch", NULL, NULL, "test", 0.1, 1.0, 2, 2, conf, err, sizeof err),
        CK_EINVAL);
    ck_assert_msg(strstr(err, "run nosuch: no such run; nothing recorded"), "%s", err);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM evaluations WHERE run = 'nosuch'"),
                     0);
    char missing[400];
    snprintf(missing, sizeof missing, "%s/typo.db", f.dir);
    ck_assert_int_eq(
        rn_record_eval(missing, "plain", NULL, NULL, "test", 0.1, 1.0, 2, 2, conf, err, sizeof err),
        CK_EINVAL);
    ck_assert_msg(strstr(err, "typo.db: No such file or directory; nothing recorded"), "%s", err);
    ck_assert_int_eq(access(missing, F_OK), -1);
    /* NaN (no validation) is stored as NULL. */
    ck_assert_msg(rn_db_open(&db, f.runs, err, sizeof err) == 0, "%s", err);
    double v[RN_EPOCH_VALUES] = {0.5, 0.5, NAN, NAN, 1, 1, 0};
    ck_assert(rn_run_epoch(db, "plain", 2, v, err, sizeof err) == 0);
    ck_assert(rn_run_finish(db, "plain", "done", err, sizeof err) == 0);
    rn_db_close(db);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM epochs WHERE run = 'plain' AND "
                                        "epoch = 2 AND val_loss IS NULL"),
                     1);
    fixture_free(&f);
}
END_TEST

/* ---- export ----------------------------------------------------------------- */

/* Splits one CSV record (RFC 4180 quotes) at *p into fields; returns the
 * count and advances *p past the line. */
static int csv_record(const char **p, char fields[][128], int max)
{
    int n = 0;
    const char *s = *p;
    for (;;) {
        char *out = fields[n];
        size_t k = 0;
        if (*s == '"') {
            for (s++; !(*s == '"' && s[1] != '"'); s++) {
                ck_assert_msg(*s != '\0', "unterminated quote");
                if (*s == '"') {
                    s++;
                }
                out[k++] = *s;
            }
            s++;
        } else {
            while (*s && *s != ',' && *s != '\n') {
                out[k++] = *s++;
            }
        }
        out[k] = '\0';
        n++;
        ck_assert_int_le(n, max);
        if (*s == ',') {
            s++;
            continue;
        }
        ck_assert_msg(*s == '\n', "record ends in 0x%02x", (unsigned char)*s);
        *p = s + 1;
        return n;
    }
}

/* Every epoch row of runs.db, in (run rowid, epoch) order, against the CSV
 * rows; returns the number of rows compared. */
static int compare_csv_with_db(const char *runs_path, const char *csv)
{
    char f[16][128];
    const char *p = csv;
    ck_assert_int_eq(csv_record(&p, f, 16), 10);
    const char *head[10] = {"run",          "epoch",   "loss",         "accuracy",    "val_loss",
                            "val_accuracy", "seconds", "images_per_s", "input_stall", "comm_wait"};
    for (int k = 0; k < 10; k++) {
        ck_assert_str_eq(f[k], head[k]);
    }
    sqlite3 *db;
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_open_v2(runs_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT e.run, e.epoch, e.loss, e.accuracy, e.val_loss,"
                                        " e.val_accuracy, e.seconds, e.images_per_s,"
                                        " e.input_stall, e.comm_wait FROM epochs e JOIN runs r"
                                        " ON r.name = e.run ORDER BY r.rowid, e.epoch",
                                        -1, &q, NULL),
                     SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        ck_assert_msg(*p != '\0', "CSV ends before runs.db row %d", rows + 1);
        ck_assert_int_eq(csv_record(&p, f, 16), 10);
        ck_assert_str_eq(f[0], (const char *)sqlite3_column_text(q, 0));
        ck_assert_int_eq(atoi(f[1]), sqlite3_column_int(q, 1));
        for (int k = 2; k < 10; k++) {
            if (sqlite3_column_type(q, k) == SQLITE_NULL) {
                ck_assert_msg(f[k][0] == '\0', "row %d col %d: '%s' for NULL", rows + 1, k, f[k]);
            } else {
                char *end;
                double v = strtod(f[k], &end);
                ck_assert_msg(*end == '\0' && f[k][0] != '\0', "row %d: '%s'", rows + 1, f[k]);
                ck_assert_msg(v == sqlite3_column_double(q, k), "row %d col %d: %s != %.17g",
                              rows + 1, k, f[k], sqlite3_column_double(q, k));
            }
        }
        rows++;
    }
    ck_assert_msg(*p == '\0', "CSV has rows beyond runs.db: %.40s", p);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rows;
}

START_TEST(export_csv_round_trips)
{
    fixture f;
    fixture_init(&f);
    /* A name that needs CSV quoting, and a NULL (no validation) value. */
    char err[256];
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, f.runs, err, sizeof err) == 0, "%s", err);
    const char *odd = "odd, \"quoted\" name";
    ck_assert(rn_run_start(db, odd, "{}", NULL, 1, "", 0, 0, err, sizeof err) == 0);
    double v[RN_EPOCH_VALUES] = {0.1, 1.0 / 3.0, NAN, NAN, 1e-300, 123456.789, 0, 0.5};
    ck_assert(rn_run_epoch(db, odd, 1, v, err, sizeof err) == 0);
    rn_db_close(db);

    char *csv;
    size_t len;
    ck_assert_msg(rn_curves_export(f.runs, NULL, 0, NULL, &csv, &len, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_uint_eq(strlen(csv), len);
    ck_assert_int_eq(compare_csv_with_db(f.runs, csv), 2 * EPOCHS + 1);
    ck_assert_ptr_nonnull(strstr(csv, "\n\"odd, \"\"quoted\"\" name\",1,0.1,"));
    free(csv);

    /* A selection in the order given, with chosen columns. */
    const char *sel[] = {"dropout", "plain"};
    rn_curves_export_opts o = {.format = RN_CURVES_CSV, .columns = RN_CURVES_DETERMINISTIC};
    ck_assert_msg(rn_curves_export(f.runs, sel, 2, &o, &csv, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(starts_with(csv, "run,epoch,loss,accuracy,val_loss,val_accuracy\ndropout,1,"),
                  "%.80s", csv);
    int lines = 0;
    for (const char *p = csv; *p; p++) {
        lines += *p == '\n';
    }
    ck_assert_int_eq(lines, 1 + 2 * EPOCHS);
    ck_assert_ptr_nonnull(strstr(csv, "\nplain,3,"));
    free(csv);
    fixture_free(&f);
}
END_TEST

START_TEST(export_json_holds_the_epochs)
{
    fixture f;
    fixture_init(&f);
    char err[256], *json, *csv;
    rn_curves_export_opts o = {.format = RN_CURVES_JSON};
    ck_assert_msg(rn_curves_export(f.runs, NULL, 0, &o, &json, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(rn_curves_export(f.runs, NULL, 0, NULL, &csv, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(starts_with(json, "[\n{\"run\":\"plain\",\"epoch\":1,\"loss\":"), "%.60s", json);
    /* Row i of the JSON has the values of CSV row i. */
    const char *jp = json, *cp = strchr(csv, '\n') + 1;
    int rows = 0;
    while ((jp = strstr(jp, "{\"run\":")) != NULL) {
        char fld[16][128];
        ck_assert_int_eq(csv_record(&cp, fld, 16), 10);
        const char *keys[8] = {"loss",    "accuracy",     "val_loss",    "val_accuracy",
                               "seconds", "images_per_s", "input_stall", "comm_wait"};
        for (int k = 0; k < 8; k++) {
            char key[32];
            snprintf(key, sizeof key, "\"%s\":", keys[k]);
            const char *at = strstr(jp, key);
            ck_assert_ptr_nonnull(at);
            ck_assert_msg(strtod(at + strlen(key), NULL) == strtod(fld[k + 2], NULL), "%s", key);
        }
        rows++;
        jp++;
    }
    ck_assert_int_eq(rows, 2 * EPOCHS);
    ck_assert_msg(strcmp(json + strlen(json) - 4, "}\n]\n") == 0, "ends %s",
                  json + strlen(json) - 4);
    free(json);
    free(csv);
    fixture_free(&f);
}
END_TEST

START_TEST(export_is_byte_identical)
{
    fixture f;
    fixture_init(&f);
    char err[256], out1[400], out2[400], copy[400], cmd[1000];
    snprintf(out1, sizeof out1, "%s/a.csv", f.dir);
    snprintf(out2, sizeof out2, "%s/b.csv", f.dir);
    snprintf(copy, sizeof copy, "%s/copy.db", f.dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", f.runs, copy);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(rn_curves_export_file(f.runs, NULL, 0, NULL, out1, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(rn_curves_export_file(copy, NULL, 0, NULL, out2, err, sizeof err) == 0, "%s",
                  err);
    size_t n1, n2;
    char *a = read_file(out1, &n1), *b = read_file(out2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(a, b, n1) == 0);
    free(a);
    free(b);

    /* The same seeded training recorded twice: the deterministic columns
     * are identical, byte for byte. */
    char runs2[400];
    snprintf(runs2, sizeof runs2, "%s/again.db", f.dir);
    train_run(runs2, "plain", spec_plain, "none", 0);
    train_run(runs2, "dropout", spec_dropout, "chollet-2nd", 1);
    rn_curves_export_opts o = {.columns = RN_CURVES_DETERMINISTIC};
    ck_assert_msg(rn_curves_export(f.runs, NULL, 0, &o, &a, &n1, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rn_curves_export(runs2, NULL, 0, &o, &b, &n2, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(a, b, n1) == 0, "%s\nvs\n%s", a, b);
    free(a);
    free(b);

    /* The format follows the extension. */
    snprintf(out1, sizeof out1, "%s/c.json", f.dir);
    ck_assert_msg(rn_curves_export_file(f.runs, NULL, 0, NULL, out1, err, sizeof err) == 0, "%s",
                  err);
    a = read_file(out1, NULL);
    ck_assert_int_eq(a[0], '[');
    free(a);
    fixture_free(&f);
}
END_TEST

START_TEST(export_errors_are_clear)
{
    fixture f;
    fixture_init(&f);
    empty_run(f.runs, "empty");
    char err[512], path[400], *text = (char *)1;

    snprintf(path, sizeof path, "%s/missing.db", f.dir);
    ck_assert_int_eq(rn_curves_export(path, NULL, 0, NULL, &text, NULL, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, path) && strstr(err, "No such file"), "%s", err);
    ck_assert_ptr_null(text);
    ck_assert_msg(!file_exists(path), "a missing runs.db must not be created");

    const char *bad[] = {"plain", "nosuch"};
    ck_assert_int_eq(rn_curves_export(f.runs, bad, 2, NULL, &text, NULL, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "run nosuch: no such run (recorded: plain, dropout, empty)"), "%s",
                  err);

    const char *twice[] = {"plain", "plain"};
    ck_assert_int_eq(rn_curves_export(f.runs, twice, 2, NULL, &text, NULL, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "run plain: given twice"), "%s", err);

    const char *empty[] = {"empty"};
    ck_assert_int_eq(rn_curves_export(f.runs, empty, 1, NULL, &text, NULL, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "run empty: no epochs recorded (status failed)"), "%s", err);

    rn_curves_export_opts o = {.columns = "loss,val_los"};
    ck_assert_int_eq(rn_curves_export(f.runs, NULL, 0, &o, &text, NULL, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "unknown column 'val_los'"), "%s", err);

    snprintf(path, sizeof path, "%s/notadb.db", f.dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("this is not a database, just enough text to fill a header page.........\n", fp);
    fclose(fp);
    ck_assert_int_eq(rn_curves_export(path, NULL, 0, NULL, &text, NULL, err, sizeof err),
                     CK_EFORMAT);
    ck_assert_msg(strstr(err, path), "%s", err);

    /* Unwritable output: an error naming it, and an existing file intact. */
    snprintf(path, sizeof path, "%s/no/such/dir/out.csv", f.dir);
    ck_assert_int_eq(rn_curves_export_file(f.runs, NULL, 0, NULL, path, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, path) && strstr(err, "create"), "%s", err);
    fixture_free(&f);
}
END_TEST

/* ---- list ------------------------------------------------------------------- */

START_TEST(list_summarises_runs)
{
    fixture f;
    fixture_init(&f);
    empty_run(f.runs, "empty");
    char err[256], *text;
    rn_curves_list l;
    ck_assert_msg(rn_curves_list_runs(f.runs, NULL, 0, &l, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.runs[0].name, "plain");
    ck_assert_str_eq(l.runs[1].name, "dropout");
    ck_assert_str_eq(l.runs[2].name, "empty");
    const rn_curves_run *r = &l.runs[1];
    ck_assert_str_eq(r->model, "synth");
    ck_assert_str_eq(r->optimizer, "rmsprop");
    ck_assert_str_eq(r->augment, "chollet-2nd");
    ck_assert_str_eq(r->dataset_hash, "0123456789abcdef0123");
    ck_assert_str_eq(r->status, "done");
    ck_assert_int_eq(r->epochs, EPOCHS);
    ck_assert_int_eq(r->epochs_done, EPOCHS);
    ck_assert_int_eq(r->batch, BATCH);
    ck_assert_uint_eq(r->seed, 3);
    ck_assert(r->config_json);
    ck_assert(fabs(r->lr - 1e-3) < 1e-15);
    ck_assert(!isnan(r->test_accuracy) && r->test_n == 32);
    ck_assert(isnan(l.runs[0].test_accuracy));

    /* The best epoch is the recorded maximum of val_accuracy. */
    sqlite3 *db;
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_open_v2(f.runs, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT epoch, val_accuracy FROM epochs WHERE run ="
                                        " 'dropout' ORDER BY val_accuracy DESC, epoch LIMIT 1",
                                        -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(r->best_val_accuracy_epoch, sqlite3_column_int(q, 0));
    ck_assert(r->best_val_accuracy == sqlite3_column_double(q, 1));
    sqlite3_finalize(q);
    sqlite3_close(db);
    ck_assert_int_eq(l.runs[2].epochs_done, 0);
    ck_assert_int_eq(l.runs[2].best_val_accuracy_epoch, 0);

    ck_assert_int_eq(rn_curves_list_table(&l, &text), 0);
    ck_assert_msg(starts_with(text, "run      model  epochs"), "%s", text);
    ck_assert_msg(strstr(text, "\ndropout  synth  3/3 ") && strstr(text, "chollet-2nd") &&
                      strstr(text, "0123456789ab ") && strstr(text, "\nempty "),
                  "%s", text);
    free(text);
    ck_assert_int_eq(rn_curves_list_json(&l, &text), 0);
    ck_assert_msg(strstr(text, "{\"name\":\"dropout\",\"model\":\"synth\",\"epochs\":3,") &&
                      strstr(text, "\"config\":{\"model\":\"synth\"") &&
                      strstr(text, ",\"model_summary\":\"summary\"}"),
                  "%s", text);
    free(text);
    ck_assert_str_eq(l.runs[0].summary, "summary"); /* as recorded at the start */
    rn_curves_list_free(&l);

    /* Ties go to the first epoch; val_loss has its own best. */
    rn_db *w;
    ck_assert_msg(rn_db_open(&w, f.runs, err, sizeof err) == 0, "%s", err);
    ck_assert(rn_run_start(w, "hand", "{}", NULL, 1, "", 0, 0, err, sizeof err) == 0);
    const double acc[4] = {0.5, 0.8, 0.8, 0.7}, loss[4] = {0.9, 0.4, 0.3, 0.6};
    for (int e = 0; e < 4; e++) {
        double v[RN_EPOCH_VALUES] = {1, 0.5, loss[e], acc[e], 1, 1, 0, 0};
        ck_assert(rn_run_epoch(w, "hand", e + 1, v, err, sizeof err) == 0);
    }
    rn_db_close(w);
    const char *hand[] = {"hand", "plain"};
    ck_assert_msg(rn_curves_list_runs(f.runs, hand, 2, &l, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(l.n, 2);
    ck_assert_str_eq(l.runs[1].name, "plain");
    r = &l.runs[0];
    ck_assert(r->best_val_accuracy == 0.8 && r->best_val_accuracy_epoch == 2);
    ck_assert(r->best_val_loss == 0.3 && r->best_val_loss_epoch == 3);
    ck_assert(r->model == NULL && r->epochs == 0 && isnan(r->lr));
    rn_curves_list_free(&l);
    rn_curves_list_free(NULL);

    const char *bad[] = {"nope"};
    ck_assert_int_eq(rn_curves_list_runs(f.runs, bad, 1, &l, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "run nope: no such run"), "%s", err);
    fixture_free(&f);
}
END_TEST

/* ---- plots ------------------------------------------------------------------ */

/* matplotlib's tab10, the documented run colours. */
static const unsigned char run_rgb[2][3] = {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes an 8-bit RGB or RGBA PNG (signature and IHDR checked) into
 * *rgb (w*h*3). */
static void png_decode(const char *path, uint32_t *w, uint32_t *h, unsigned char **rgb)
{
    size_t n;
    unsigned char *d = (unsigned char *)read_file(path, &n);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    ck_assert_msg(n > 33 && memcmp(d, sig, 8) == 0, "%s: not a PNG", path);
    ck_assert_msg(memcmp(d + 12, "IHDR", 4) == 0, "%s: no IHDR first", path);
    *w = be32(d + 16);
    *h = be32(d + 20);
    int depth = d[24], type = d[25];
    ck_assert_msg(depth == 8 && (type == 2 || type == 6), "depth %d type %d", depth, type);
    int bpp = type == 6 ? 4 : 3;
    size_t stride = (size_t)*w * bpp, rawlen = (stride + 1) * *h, zlen = 0;
    unsigned char *z = malloc(n), *raw = malloc(rawlen);
    ck_assert(z && raw);
    for (size_t pos = 8; pos + 12 <= n;) {
        uint32_t len = be32(d + pos);
        if (memcmp(d + pos + 4, "IDAT", 4) == 0) {
            memcpy(z + zlen, d + pos + 8, len);
            zlen += len;
        }
        pos += 12 + (size_t)len;
    }
    uLongf out = rawlen;
    ck_assert_int_eq(uncompress(raw, &out, z, zlen), Z_OK);
    ck_assert_uint_eq(out, rawlen);
    *rgb = malloc((size_t)*w * *h * 3);
    ck_assert_ptr_nonnull(*rgb);
    for (uint32_t y = 0; y < *h; y++) {
        unsigned char *line = raw + y * (stride + 1) + 1, *prev = y ? line - stride - 1 : NULL;
        int filter = line[-1];
        for (size_t x = 0; x < stride; x++) {
            int a = x >= (size_t)bpp ? line[x - bpp] : 0, b = prev ? prev[x] : 0;
            int c = prev && x >= (size_t)bpp ? prev[x - bpp] : 0;
            int pred = 0;
            if (filter == 1) {
                pred = a;
            } else if (filter == 2) {
                pred = b;
            } else if (filter == 3) {
                pred = (a + b) / 2;
            } else if (filter == 4) {
                int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
                pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            }
            line[x] = (unsigned char)(line[x] + pred);
        }
        for (uint32_t x = 0; x < *w; x++) {
            memcpy(*rgb + ((size_t)y * *w + x) * 3, line + (size_t)x * bpp, 3);
        }
    }
    free(z);
    free(raw);
    free(d);
}

/* Pixels within a small distance of colour c in columns [x0, x1) and rows
 * [0, y1). */
static long count_colour(const unsigned char *rgb, uint32_t w, uint32_t x0, uint32_t x1,
                         uint32_t y1, const unsigned char c[3])
{
    long n = 0;
    for (uint32_t y = 0; y < y1; y++) {
        for (uint32_t x = x0; x < x1; x++) {
            const unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            n += abs(p[0] - c[0]) + abs(p[1] - c[1]) + abs(p[2] - c[2]) <= 24;
        }
    }
    return n;
}

START_TEST(plot_png_has_size_and_curves)
{
    fixture f;
    fixture_init(&f);
    char err[256], out[400];
    snprintf(out, sizeof out, "%s/curves.png", f.dir);
    const char *runs[] = {"plain", "dropout"};
    const char *labels[] = {"without augmentation", "with augmentation"};
    rn_curves_plot_opts o = rn_curves_plot_defaults();
    o.width = 900;
    o.height = 420;
    o.labels = labels;
    o.title = "synthetic halves, 3 epochs";
    ck_assert_msg(rn_curves_plot(f.runs, runs, 2, &o, out, err, sizeof err) == 0, "%s", err);
    uint32_t w, h;
    unsigned char *rgb;
    png_decode(out, &w, &h, &rgb);
    ck_assert_uint_eq(w, 900);
    ck_assert_uint_eq(h, 420);
    /* Each run's colour in both panels (above the legend strip). */
    for (int r = 0; r < 2; r++) {
        ck_assert_msg(count_colour(rgb, w, 0, w / 2, h * 3 / 4, run_rgb[r]) > 100,
                      "run %d missing in the accuracy panel", r);
        ck_assert_msg(count_colour(rgb, w, w / 2, w, h * 3 / 4, run_rgb[r]) > 100,
                      "run %d missing in the loss panel", r);
    }
    free(rgb);

    /* Again in the same process (PLplot's state is reset), side by side. */
    o.layout = RN_CURVES_SIDE;
    o.width = 700;
    o.height = 600;
    ck_assert_msg(rn_curves_plot(f.runs, runs, 2, &o, out, err, sizeof err) == 0, "%s", err);
    png_decode(out, &w, &h, &rgb);
    ck_assert_uint_eq(w, 700);
    ck_assert_uint_eq(h, 600);
    /* Side by side: run 0 only in the left column, run 1 only in the right. */
    ck_assert(count_colour(rgb, w, 0, w / 2, h * 3 / 4, run_rgb[0]) > 100);
    ck_assert(count_colour(rgb, w, w / 2, w, h * 3 / 4, run_rgb[0]) == 0);
    ck_assert(count_colour(rgb, w, w / 2, w, h * 3 / 4, run_rgb[1]) > 100);
    ck_assert(count_colour(rgb, w, 0, w / 2, h * 3 / 4, run_rgb[1]) == 0);
    free(rgb);
    fixture_free(&f);
}
END_TEST

/* What an SVG from PLplot's svg device holds, per run colour: polylines
 * (points="x,y x,y ..."). A solid curve over E epochs is one polyline of
 * E points; a dashed curve is a chain of 2-point dashes, each starting
 * within a gap's length of where the previous one ended. */
typedef struct svg_stats {
    double width, height;
    int solid[2];  /* polylines of exactly `epochs` points */
    int dashed[2]; /* chains of at least 3 dashes */
} svg_stats;

/* Points of a points="..." attribute (d just after the quote). */
static int parse_points(const char *d, double *x0, double *y0, double *x1, double *y1)
{
    int n = 0;
    for (const char *p = d; *p && *p != '"';) {
        double x, y;
        int used = 0;
        if (sscanf(p, " %lf,%lf%n", &x, &y, &used) != 2) {
            break;
        }
        if (n == 0) {
            *x0 = x;
            *y0 = y;
        }
        *x1 = x;
        *y1 = y;
        n++;
        p += used;
    }
    return n;
}

static void svg_analyse(const char *path, int epochs, svg_stats *st)
{
    char *svg = read_file(path, NULL);
    memset(st, 0, sizeof *st);
    const char *svgtag = strstr(svg, "<svg");
    ck_assert_ptr_nonnull(svgtag);
    const char *wa = strstr(svgtag, " width=\""), *ha = strstr(svgtag, " height=\"");
    ck_assert(wa && ha);
    st->width = strtod(wa + 8, NULL);
    st->height = strtod(ha + 9, NULL);
    int chain[2] = {0, 0};
    double lastx[2] = {-1e9, -1e9}, lasty[2] = {-1e9, -1e9};
    for (const char *p = svg; (p = strstr(p, "<polyline")) != NULL;) {
        const char *end = strstr(p, "/>");
        const char *stroke = strstr(p, "stroke=\"#"), *d = strstr(p, "points=\"");
        p += 9;
        if (!end || !stroke || !d || stroke > end || d > end) {
            continue;
        }
        unsigned c[3];
        ck_assert_int_eq(sscanf(stroke + 9, "%2x%2x%2x", &c[0], &c[1], &c[2]), 3);
        int run = -1;
        for (int r = 0; r < 2; r++) {
            if (c[0] == run_rgb[r][0] && c[1] == run_rgb[r][1] && c[2] == run_rgb[r][2]) {
                run = r;
            }
        }
        if (run < 0) {
            continue;
        }
        double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        int n = parse_points(d + 8, &x0, &y0, &x1, &y1);
        if (n == epochs) {
            st->solid[run]++;
        } else if (n == 2) {
            double gap = hypot(x0 - lastx[run], y0 - lasty[run]);
            if (gap > 8.0) { /* a new chain */
                st->dashed[run] += chain[run] >= 3;
                chain[run] = 0;
            }
            chain[run]++;
            lastx[run] = x1;
            lasty[run] = y1;
        }
    }
    for (int r = 0; r < 2; r++) {
        st->dashed[r] += chain[r] >= 3;
    }
    free(svg);
}

/* The <text> elements of an SVG: each one's characters (its tspans'
 * text, numeric character references decoded to UTF-8) and x position. */
typedef struct svg_text {
    char s[256];
    double x;
} svg_text;

static int svg_texts(const char *path, svg_text *out, int max)
{
    char *svg = read_file(path, NULL);
    int n = 0;
    for (const char *p = svg; n < max && (p = strstr(p, "<text")) != NULL;) {
        const char *end = strstr(p, "</text>");
        ck_assert_ptr_nonnull(end);
        const char *m = strstr(p, "matrix(");
        double a, b, c, d, e = 0;
        if (m && m < end) {
            ck_assert_int_eq(sscanf(m, "matrix(%lf %lf %lf %lf %lf", &a, &b, &c, &d, &e), 5);
        }
        out[n].x = e;
        size_t k = 0;
        int in_tag = 1; /* the <text ...> tag itself first */
        for (const char *q = p; q < end && k + 5 < sizeof out[n].s; q++) {
            if (*q == '<' || *q == '>') {
                in_tag = *q == '<';
                continue;
            }
            if (in_tag) {
                continue;
            }
            unsigned cp;
            int used = 0;
            if (sscanf(q, "&#x%x;%n", &cp, &used) == 1 && used > 0) {
                q += used - 1;
            } else {
                cp = (unsigned char)*q;
            }
            if (cp < 0x80) {
                out[n].s[k++] = (char)cp;
            } else if (cp < 0x800) {
                out[n].s[k++] = (char)(0xc0 | cp >> 6);
                out[n].s[k++] = (char)(0x80 | (cp & 0x3f));
            } else {
                out[n].s[k++] = (char)(0xe0 | cp >> 12);
                out[n].s[k++] = (char)(0x80 | (cp >> 6 & 0x3f));
                out[n].s[k++] = (char)(0x80 | (cp & 0x3f));
            }
        }
        out[n].s[k] = '\0';
        n++;
        p = end;
    }
    free(svg);
    return n;
}

/* The first text that contains needle, or NULL. */
static const svg_text *find_text(const svg_text *t, int n, const char *needle)
{
    for (int i = 0; i < n; i++) {
        if (strstr(t[i].s, needle)) {
            return &t[i];
        }
    }
    return NULL;
}

START_TEST(plot_svg_has_one_path_per_curve)
{
    fixture f;
    fixture_init(&f);
    char err[256], out[400];
    snprintf(out, sizeof out, "%s/curves.svg", f.dir);
    const char *runs[] = {"plain", "dropout"};
    for (int layout = 0; layout < 2; layout++) {
        rn_curves_plot_opts o = rn_curves_plot_defaults();
        o.layout = (rn_curves_layout)layout;
        o.width = 800 + 100 * layout;
        o.height = 500;
        ck_assert_msg(rn_curves_plot(f.runs, runs, 2, &o, out, err, sizeof err) == 0, "%s", err);
        svg_stats st;
        svg_analyse(out, EPOCHS, &st);
        ck_assert(st.width == o.width && st.height == o.height);
        for (int r = 0; r < 2; r++) {
            /* training: solid, one path per metric; validation: dashed */
            ck_assert_msg(st.solid[r] == 2, "layout %d run %d: %d solid curves", layout, r,
                          st.solid[r]);
            ck_assert_msg(st.dashed[r] == 2, "layout %d run %d: %d dashed curves", layout, r,
                          st.dashed[r]);
        }
    }
    /* One run: the other colour is absent. */
    rn_curves_plot_opts o = rn_curves_plot_defaults();
    o.best = RN_CURVES_BEST_VAL_LOSS;
    ck_assert_msg(rn_curves_plot(f.runs, runs + 1, 1, &o, out, err, sizeof err) == 0, "%s", err);
    svg_stats st;
    svg_analyse(out, EPOCHS, &st);
    ck_assert(st.width == 1100 && st.height == 520);
    ck_assert(st.solid[0] == 2 && st.dashed[0] == 2 && st.solid[1] == 0 && st.dashed[1] == 0);
    fixture_free(&f);
}
END_TEST

/* ---- a figure's decisions ---------------------------------------------------- */

/* Records run `run` with n epochs of the given values (accuracy and loss
 * are training; val_* validation). */
static void record_run(const char *runs_path, const char *run, int n, const double *loss,
                       const double *acc, const double *val_loss, const double *val_acc)
{
    char err[256];
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, runs_path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rn_run_start(db, run, "{}", NULL, 1, "", 0, 0, err, sizeof err) == 0, "%s", err);
    for (int e = 0; e < n; e++) {
        double v[RN_EPOCH_VALUES] = {loss[e], acc[e], val_loss[e], val_acc[e], 1, 1, 0};
        ck_assert_msg(rn_run_epoch(db, run, e + 1, v, err, sizeof err) == 0, "%s", err);
    }
    ck_assert_msg(rn_run_finish(db, run, "done", err, sizeof err) == 0, "%s", err);
    rn_db_close(db);
}

/* The files in dir. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* A figure in memory is the .svg file's bytes and writes nothing; the gap
 * figure draws one solid line per run (nothing dashed, nothing marked)
 * and names each run's last gap. */
START_TEST(plot_svg_in_memory_and_gap)
{
    fixture f;
    fixture_init(&f);
    char err[256], out[400];
    snprintf(out, sizeof out, "%s/curves.svg", f.dir);
    const double acc[3] = {0.5, 0.9, 1.0}, val_acc[3] = {0.5, 0.7, 0.8};
    const double loss[3] = {1, 0.5, 0.1}, val_loss[3] = {1, 0.6, 0.7};
    record_run(f.runs, "g", 3, loss, acc, val_loss, val_acc);
    const char *runs[] = {"plain", "g"};
    int files = count_files(f.dir);
    for (int layout = 0; layout < 3; layout++) {
        rn_curves_plot_opts o = rn_curves_plot_defaults();
        o.layout = (rn_curves_layout)layout;
        o.title = "A title";
        ck_assert_msg(rn_curves_plot(f.runs, runs, 2, &o, out, err, sizeof err) == 0, "%s", err);
        size_t flen, mlen;
        char *file = read_file(out, &flen), *mem = NULL;
        ck_assert_msg(rn_curves_plot_svg(f.runs, runs, 2, &o, &mem, &mlen, err, sizeof err) == 0,
                      "%s", err);
        ck_assert_msg(mlen == flen && memcmp(file, mem, flen) == 0 && mem[mlen] == '\0',
                      "layout %d: %zu bytes in memory, %zu in the file", layout, mlen, flen);
        free(file);
        free(mem);
    }
    ck_assert_int_eq(count_files(f.dir), files + 1); /* the .svg file alone */
    svg_stats st;
    svg_analyse(out, EPOCHS, &st);
    ck_assert(st.width == 1100 && st.height == 440);
    ck_assert_msg(st.solid[0] == 1 && st.solid[1] == 1 && st.dashed[0] == 0 && st.dashed[1] == 0,
                  "solid %d %d dashed %d %d", st.solid[0], st.solid[1], st.dashed[0], st.dashed[1]);
    svg_text t[200];
    int n = svg_texts(out, t, 200);
    ck_assert_ptr_nonnull(find_text(t, n, "Training − validation accuracy"));
    ck_assert_ptr_nonnull(find_text(t, n, "accuracy − val_accuracy"));
    ck_assert_ptr_nonnull(find_text(t, n, "g (gap 0.2000 at epoch 3)"));
    ck_assert_ptr_null(find_text(t, n, "validation accuracy ("));
    ck_assert_ptr_null(find_text(t, n, "best epoch"));
    ck_assert_int_eq(rn_curves_layout_parse("GAP"), RN_CURVES_GAP);

    char *mem = (char *)"x";
    ck_assert_int_eq(
        rn_curves_plot_svg(f.runs, (const char *[]){"nope"}, 1, NULL, &mem, NULL, err, sizeof err),
        CK_EINVAL);
    ck_assert_ptr_null(mem);
    ck_assert_msg(strstr(err, "nope") != NULL, "%s", err);
    fixture_free(&f);
}
END_TEST

/* Tick labels are plain numbers with one number of decimals, 1-2-5 steps
 * inside the range; limits and log scales; which runs diverged. */
START_TEST(plot_axes_and_divergence_as_data)
{
    rn_axis a;
    ck_assert_int_eq(rn_axis_make(&a, 0.80, 0.83, NULL, 0), 0);
    ck_assert(a.lo < 0.80 && a.hi > 0.83 && a.n >= 3 && a.n <= 7);
    size_t longest = 0;
    for (int i = 0; i < a.n; i++) {
        char *end;
        ck_assert_msg(fabs(strtod(a.label[i], &end) - a.tick[i]) < 1e-9 && *end == '\0',
                      "label %s at %g", a.label[i], a.tick[i]);
        ck_assert(a.tick[i] >= a.lo && a.tick[i] <= a.hi);
        ck_assert_uint_eq(strlen(a.label[i]), strlen(a.label[0])); /* same decimals */
        longest = strlen(a.label[i]) > longest ? strlen(a.label[i]) : longest;
        if (i > 0) {
            double step = a.tick[i] - a.tick[i - 1], m = step / pow(10, floor(log10(step)));
            ck_assert_msg(fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6, "step %g",
                          step);
        }
    }
    ck_assert_int_eq(a.label_chars, (int)longest);
    /* Limits: either side, checked. */
    double lim[2] = {0, (double)NAN};
    ck_assert_int_eq(rn_axis_make(&a, 0.3, 1.9, lim, 0), 0);
    ck_assert(a.lo == 0 && a.hi > 1.9 && a.tick[0] == 0 && strcmp(a.label[0], "0.0") == 0);
    lim[0] = (double)NAN;
    lim[1] = 0.2;
    ck_assert_int_eq(rn_axis_make(&a, 0.3, 1.9, lim, 0), -1);
    /* Log scale: 0.5, 1, 2 within a decade; nothing at or below 0. */
    ck_assert_int_eq(rn_axis_make(&a, 0.3, 1.9, NULL, 1), 0);
    ck_assert_int_eq(a.n, 3);
    ck_assert(!strcmp(a.label[0], "0.5") && !strcmp(a.label[1], "1") && !strcmp(a.label[2], "2"));
    ck_assert(rn_axis_map(&a, 10) == 1 && isnan(rn_axis_map(&a, 0)));
    ck_assert_int_eq(rn_axis_make(&a, 1e-4, 3, NULL, 1), 0);
    ck_assert(a.n >= 3 && a.n <= 7 && !strcmp(a.label[a.n - 1], "1"));
    lim[0] = 0;
    lim[1] = (double)NAN;
    ck_assert_int_eq(rn_axis_make(&a, 0.3, 1.9, lim, 1), -1);
    ck_assert_int_eq(rn_curves_scale_parse("log"), RN_CURVES_LOG);
    ck_assert_int_eq(rn_curves_scale_parse("ln"), -1);
    ck_assert_int_eq(rn_curves_ylim_parse("0,2", lim), 0);
    ck_assert(lim[0] == 0 && lim[1] == 2);
    ck_assert_int_eq(rn_curves_ylim_parse(",1.5", lim), 0);
    ck_assert(isnan(lim[0]) && lim[1] == 1.5);
    ck_assert_int_eq(rn_curves_ylim_parse("2,1", lim), -1);
    ck_assert_int_eq(rn_curves_ylim_parse("0", lim), -1);
    ck_assert_int_eq(rn_curves_ylim_parse("a,1", lim), -1);
    ck_assert_int_eq(rn_curves_ylim_parse("0,1,2", lim), -1);

    /* Divergence: one run's loss leaves for 1e21 from its third epoch; a
     * run that never learns (2.3 throughout) has not diverged. */
    enum { E = 6 };
    int epoch[E] = {1, 2, 3, 4, 5, 6};
    double v[3][E * RN_CV_COUNT];
    const double loss[3][E] = {{0.7, 0.5, 0.4, 0.35, 0.3, 0.28},
                               {0.7, 0.6, 3e5, 2e21, 1e21, 1e21},
                               {2.3, 2.31, 2.29, 2.3, 2.32, 2.3}};
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < E; i++) {
            double *row = v[r] + i * RN_CV_COUNT;
            for (int k = 0; k < RN_CV_COUNT; k++) {
                row[k] = 0.5;
            }
            row[RN_CV_LOSS] = loss[r][i];
            row[RN_CV_VAL_LOSS] = loss[r][i] * 1.1;
        }
    }
    rn_curve c[3] = {{.n = E, .epoch = epoch, .v = v[0]},
                     {.n = E, .epoch = epoch, .v = v[1]},
                     {.n = E, .epoch = epoch, .v = v[2]}};
    double ceiling = rn_loss_ceiling(c, 3), peak, lo, hi;
    ck_assert_msg(ceiling == 100, "%g", ceiling);
    ck_assert_int_eq(rn_curve_diverged(&c[0], ceiling, &peak), -1);
    ck_assert(isnan(peak));
    ck_assert_int_eq(rn_curve_diverged(&c[1], ceiling, &peak), 2);
    ck_assert(peak == 2e21 * 1.1);
    ck_assert_int_eq(rn_curve_diverged(&c[2], ceiling, NULL), -1);
    rn_curves_data_range(c, 3, RN_CV_LOSS, RN_CV_VAL_LOSS, ceiling, 0, &lo, &hi);
    ck_assert(lo == 0.28 && fabs(hi - 2.32 * 1.1) < 1e-12);
    /* Alone, the diverged run is still found: most of its values cannot
     * move the bar (its lowest tenth is sane). */
    ck_assert(rn_loss_ceiling(&c[1], 1) == 100);
    ck_assert_int_eq(rn_curve_diverged(&c[1], rn_loss_ceiling(&c[1], 1), NULL), 2);
}
END_TEST

/* The SVG's labels are text; each panel marks its own best epoch (the
 * loss panel the lowest val_loss, the checkpoint kept) and says so; a
 * diverged run keeps the loss axis at the others' scale, with plain tick
 * labels, and is named in the legend. */
START_TEST(plot_svg_text_marks_and_divergence)
{
    fixture f;
    ck_test_tmpdir(f.dir, sizeof f.dir);
    snprintf(f.runs, sizeof f.runs, "%s/runs.db", f.dir);
    const double loss[5] = {0.7, 0.5, 0.4, 0.3, 0.25}, acc[5] = {0.55, 0.65, 0.7, 0.8, 0.85};
    const double vloss[5] = {0.6, 0.3, 0.5, 0.4, 0.45}, vacc[5] = {0.6, 0.7, 0.75, 0.9, 0.8};
    record_run(f.runs, "plain", 5, loss, acc, vloss, vacc);
    const double bloss[5] = {0.7, 0.6, 5e8, 2e21, 1e21}, bacc[5] = {0.5, 0.6, 0.5, 0.5, 0.5};
    const double bvloss[5] = {0.65, 0.62, 7e8, 1e21, 1e21}, bvacc[5] = {0.5, 0.55, 0.5, 0.5, 0.5};
    record_run(f.runs, "boom", 5, bloss, bacc, bvloss, bvacc);
    char err[256], out[400];
    snprintf(out, sizeof out, "%s/curves.svg", f.dir);
    const char *runs[] = {"plain", "boom"};
    rn_curves_plot_opts o = rn_curves_plot_defaults();
    ck_assert_msg(rn_curves_plot(f.runs, runs, 2, &o, out, err, sizeof err) == 0, "%s", err);
    enum { MAXT = 400 };
    svg_text *t = malloc(MAXT * sizeof *t);
    ck_assert_ptr_nonnull(t);
    int n = svg_texts(out, t, MAXT);
    static const char *const words[] = {
        "accuracy", "loss", "epoch", "Training and validation accuracy", "training", "validation"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        ck_assert_msg(find_text(t, n, words[i]), "no <text> holds '%s' (%d texts)", words[i], n);
    }
    ck_assert_ptr_nonnull(
        find_text(t, n,
                  "plain (best val_accuracy 0.9000 at epoch 4, lowest val_loss 0.3000 at "
                  "epoch 2)"));
    ck_assert_ptr_nonnull(find_text(t, n,
                                    "boom (best val_accuracy 0.5500 at epoch 2, lowest "
                                    "val_loss 0.6200 at epoch 2; diverged at epoch 3, "
                                    "loss up to 2e+21)"));
    /* Tick labels are plain numbers at the sane runs' scale: no 1e21 and
     * no multiplier. */
    for (int i = 0; i < n; i++) {
        char *end;
        double x = strtod(t[i].s, &end);
        ck_assert_msg(end == t[i].s || *end || x < 10, "tick label %s", t[i].s);
        ck_assert_msg(!strstr(t[i].s, "x10"), "%s", t[i].s);
    }
    /* The dots: plain's at epoch 4 on the accuracy panel (left), at epoch
     * 2 on the loss panel (right), none at the loss panel's epoch 4. */
    double xacc4 = 1e9, xloss2 = -1, xloss4 = -1;
    for (int i = 0; i < n; i++) {
        if (!strcmp(t[i].s, "4")) {
            xacc4 = fmin(xacc4, t[i].x);
            xloss4 = fmax(xloss4, t[i].x);
        } else if (!strcmp(t[i].s, "2")) {
            xloss2 = fmax(xloss2, t[i].x);
        }
    }
    ck_assert(xacc4 < 550 && xloss2 > 550 && xloss4 > 550);
    int at_acc4 = 0, at_loss2 = 0, at_loss4 = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(t[i].s, "\xe2\x97\x8f")) {
            at_acc4 += fabs(t[i].x - xacc4) < 1;
            at_loss2 += fabs(t[i].x - xloss2) < 1;
            at_loss4 += fabs(t[i].x - xloss4) < 1;
        }
    }
    ck_assert_int_eq(at_acc4, 1);
    ck_assert_int_eq(at_loss2, 2); /* plain's and boom's */
    ck_assert_int_eq(at_loss4, 0);
    free(t);
    fixture_free(&f);
}
END_TEST

/* Columns [0, x) of rows [y0, y1] holding dark (text or frame) pixels,
 * as runs: start and end of each. */
static int ink_runs(const unsigned char *rgb, uint32_t w, uint32_t x, uint32_t y0, uint32_t y1,
                    int runs[][2], int max)
{
    int n = 0, open = 0;
    for (uint32_t c = 0; c < x; c++) {
        int ink = 0;
        for (uint32_t y = y0; y <= y1 && !ink; y++) {
            const unsigned char *p = rgb + ((size_t)y * w + c) * 3;
            ink = p[0] < 110 && p[1] < 110 && p[2] < 110;
        }
        if (ink && !open && n < max) {
            runs[n][0] = (int)c;
            open = 1;
            n++;
        }
        if (ink) {
            runs[n - 1][1] = (int)c;
        }
        open = ink;
    }
    return n;
}

/* The frame's left edge at or below row y_from: the first column holding
 * a vertical dark run of at least min_len rows; its rows in *y0, *y1. */
static uint32_t frame_left(const unsigned char *rgb, uint32_t w, uint32_t h, uint32_t y_from,
                           uint32_t min_len, uint32_t *y0, uint32_t *y1)
{
    for (uint32_t x = 0; x < w; x++) {
        uint32_t len = 0;
        for (uint32_t y = y_from; y < h; y++) {
            const unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            len = p[0] < 60 && p[1] < 60 && p[2] < 60 ? len + 1 : 0;
            if (len >= min_len) {
                while (y + 1 < h && rgb[((size_t)(y + 1) * w + x) * 3] < 60) {
                    y++;
                }
                *y1 = y;
                *y0 = y + 1 - len;
                while (*y0 > y_from && rgb[((size_t)(*y0 - 1) * w + x) * 3] < 60) {
                    (*y0)--;
                }
                return x;
            }
        }
    }
    ck_abort_msg("no panel frame found");
    return 0;
}

/* Left of a panel's frame lie the rotated y label, then a gap, then the
 * tick labels: the label's ink is one run, and the gap after it is at
 * least half its width, at every size and in both layouts. */
static void check_left_margin(const char *png, int panels)
{
    uint32_t w, h, y0 = 0, y1 = 0;
    unsigned char *rgb;
    png_decode(png, &w, &h, &rgb);
    for (int p = 0; p < panels; p++) {
        uint32_t x = frame_left(rgb, w, h, p ? y1 + 1 : 0, h / 4, &y0, &y1);
        int runs[64][2];
        int n = ink_runs(rgb, w, x - 1, y0 + 2, y1 - 2, runs, 64);
        ck_assert_msg(n >= 2, "%s panel %d: %d ink runs left of the frame at %u", png, p, n, x);
        int label = runs[0][1] - runs[0][0] + 1, gap = runs[1][0] - runs[0][1] - 1;
        ck_assert_msg(gap * 2 >= label,
                      "%s panel %d: y label at columns %d..%d, tick labels from %d: they touch",
                      png, p, runs[0][0], runs[0][1], runs[1][0]);
    }
    free(rgb);
}

START_TEST(plot_labels_never_touch)
{
    fixture f;
    ck_test_tmpdir(f.dir, sizeof f.dir);
    snprintf(f.runs, sizeof f.runs, "%s/runs.db", f.dir);
    /* Accuracies between 0.70 and 0.86: two-decimal tick labels. */
    enum { E = 12 };
    double loss[E], acc[E], vloss[E], vacc[E];
    for (int r = 0; r < 2; r++) {
        for (int e = 0; e < E; e++) {
            acc[e] = 0.70 + 0.16 * e / (E - 1) - 0.01 * r;
            vacc[e] = 0.72 + 0.08 * sin(e * 0.7 + r);
            loss[e] = 0.02 * exp(-0.2 * e) + 0.001 * r;
            vloss[e] = 0.012 + 0.004 * cos(e * 0.5 + r);
        }
        record_run(f.runs, r ? "b" : "a", E, loss, acc, vloss, vacc);
    }
    static const struct {
        int w, h, side;
    } sizes[] = {{600, 300, 0}, {800, 400, 0}, {1100, 520, 0}, {2400, 1000, 0}, {700, 600, 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char err[256], out[400];
        snprintf(out, sizeof out, "%s/c%zu.png", f.dir, i);
        rn_curves_plot_opts o = rn_curves_plot_defaults();
        o.width = sizes[i].w;
        o.height = sizes[i].h;
        o.layout = sizes[i].side ? RN_CURVES_SIDE : RN_CURVES_OVERLAY;
        ck_assert_msg(rn_curves_plot(f.runs, NULL, 0, &o, out, err, sizeof err) == 0, "%s", err);
        check_left_margin(out, sizes[i].side ? 2 : 1);
    }
    fixture_free(&f);
}
END_TEST

START_TEST(plot_errors_are_clear)
{
    fixture f;
    fixture_init(&f);
    empty_run(f.runs, "empty");
    char err[512], out[400], missing[400];
    const char *runs[] = {"plain", "nosuch"};
    snprintf(out, sizeof out, "%s/p.png", f.dir);
    snprintf(missing, sizeof missing, "%s/none.db", f.dir);

    ck_assert_int_eq(rn_curves_plot(missing, NULL, 0, NULL, out, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, missing), "%s", err);
    ck_assert_int_eq(rn_curves_plot(f.runs, runs, 2, NULL, out, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "run nosuch: no such run (recorded: plain, dropout, empty)"), "%s",
                  err);
    const char *empty[] = {"empty"};
    ck_assert_int_eq(rn_curves_plot(f.runs, empty, 1, NULL, out, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "run empty: no epochs recorded"), "%s", err);
    ck_assert_msg(!file_exists(out), "no file after a failure");

    snprintf(out, sizeof out, "%s/p.jpg", f.dir);
    ck_assert_int_eq(rn_curves_plot(f.runs, NULL, 0, NULL, out, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, ".png or .svg"), "%s", err);

    snprintf(out, sizeof out, "%s/missing-dir/p.svg", f.dir);
    ck_assert_int_eq(rn_curves_plot(f.runs, NULL, 0, NULL, out, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, out) && strstr(err, "No such file"), "%s", err);

    rn_curves_plot_opts o = rn_curves_plot_defaults();
    o.width = 150;
    snprintf(out, sizeof out, "%s/p.png", f.dir);
    ck_assert_int_eq(rn_curves_plot(f.runs, NULL, 0, &o, out, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "size 150x520"), "%s", err);
    o = rn_curves_plot_defaults();
    o.ylim_loss[0] = 5; /* above every loss, the top automatic */
    ck_assert_int_eq(rn_curves_plot(f.runs, NULL, 0, &o, out, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "loss y limits 5,auto: the bottom must be below the top"), "%s", err);
    o.ylim_loss[0] = 0;
    o.loss_scale = RN_CURVES_LOG;
    ck_assert_int_eq(rn_curves_plot(f.runs, NULL, 0, &o, out, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "above 0 on a log scale"), "%s", err);

    /* All runs: the empty one is left out, the others drawn. */
    ck_assert_msg(rn_curves_plot(f.runs, NULL, 0, NULL, out, err, sizeof err) == 0, "%s", err);
    ck_assert(file_exists(out));

    ck_assert_int_eq(rn_curves_layout_parse("side"), RN_CURVES_SIDE);
    ck_assert_int_eq(rn_curves_layout_parse("grid"), -1);
    ck_assert_int_eq(rn_curves_best_parse("val_loss"), RN_CURVES_BEST_VAL_LOSS);
    ck_assert_int_eq(rn_curves_format_parse("JSON"), RN_CURVES_JSON);
    fixture_free(&f);
}
END_TEST

/* ---- evaluations, resumed configurations, deleted runs --------------------- */

static void exec_sql(const char *runs_path, const char *sql)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(runs_path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* A runs.db written before evaluations kept their catalog is read as it
 * was (its evaluation is the run's test result) and, opened for writing,
 * gains the columns and keeps every row. */
START_TEST(old_runs_db_is_upgraded)
{
    char dir[256], path[300], err[256];
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    exec_sql(path,
             "CREATE TABLE runs(name TEXT PRIMARY KEY, config TEXT NOT NULL, dataset_hash TEXT,"
             " seed INTEGER, model_summary TEXT, start TEXT, end TEXT, status TEXT);"
             "CREATE TABLE epochs(run TEXT NOT NULL REFERENCES runs(name), epoch INTEGER NOT NULL,"
             " loss REAL, accuracy REAL, val_loss REAL, val_accuracy REAL, seconds REAL,"
             " images_per_s REAL, input_stall REAL, PRIMARY KEY(run, epoch));"
             "CREATE TABLE evaluations(run TEXT NOT NULL, split TEXT NOT NULL, loss REAL,"
             " accuracy REAL, n INTEGER, confusion TEXT, time TEXT);"
             "INSERT INTO runs VALUES('old', '{}', 'h1', 1, '', 't0', 't1', 'done');"
             "INSERT INTO epochs VALUES('old', 1, 0.5, 0.5, 0.6, 0.4, 1, 1, 0);"
             "INSERT INTO evaluations VALUES('old', 'test', 0.3, 0.75, 8, '[[3,1],[1,3]]', 't2');");
    rn_curves_list l;
    ck_assert_msg(rn_curves_list_runs(path, NULL, 0, &l, err, sizeof err) == 0, "%s", err);
    ck_assert(l.runs[0].test_accuracy == 0.75 && l.runs[0].nevals == 1 && l.runs[0].evals[0].own);
    rn_curves_list_free(&l);
    const int64_t conf[4] = {1, 0, 0, 1};
    ck_assert_msg(rn_record_eval(path, "old", "b.db", "h2", "test", 0.1, 1.0, 2, 2, conf, err,
                                 sizeof err) == 0,
                  "%s", err);
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM evaluations WHERE dataset IS NULL AND "
                                      "accuracy = 0.75"),
                     1);
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM evaluations WHERE dataset = 'b.db' AND "
                                      "dataset_hash = 'h2'"),
                     1);
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM epochs"), 1);
    ck_assert_msg(rn_curves_list_runs(path, NULL, 0, &l, err, sizeof err) == 0, "%s", err);
    ck_assert(l.runs[0].test_accuracy == 0.75 && l.runs[0].nevals == 2 && !l.runs[0].evals[1].own);
    rn_curves_list_free(&l);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* comm_wait (seconds waiting for the other processes of an mpirun job) is
 * stored beside input_stall, exported after it and read back. */
START_TEST(comm_wait_is_recorded_and_exported)
{
    char dir[256], path[300], err[256], *text;
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, path, err, sizeof err) == 0, "%s", err);
    ck_assert(rn_run_start(db, "mpi", "{}", NULL, 1, "", 0, 0, err, sizeof err) == 0);
    double v[RN_EPOCH_VALUES] = {0.5, 0.75, 0.625, 0.5, 2, 1000, 0.25, 1.5};
    ck_assert_msg(rn_run_epoch(db, "mpi", 1, v, err, sizeof err) == 0, "%s", err);
    rn_db_close(db);
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM epochs WHERE input_stall = 0.25 AND "
                                      "comm_wait = 1.5"),
                     1);
    ck_assert_msg(rn_curves_export(path, NULL, 0, NULL, &text, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_str_eq(text, "run,epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_s,"
                           "input_stall,comm_wait\nmpi,1,0.5,0.75,0.625,0.5,2,1000,0.25,1.5\n");
    free(text);
    rn_curves_export_opts o = {.format = RN_CURVES_JSON};
    ck_assert_msg(rn_curves_export(path, NULL, 0, &o, &text, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(strstr(text, "\"input_stall\":0.25,\"comm_wait\":1.5}"), "%s", text);
    free(text);
    o = (rn_curves_export_opts){.columns = "comm_wait"};
    ck_assert_msg(rn_curves_export(path, NULL, 0, &o, &text, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_str_eq(text, "run,epoch,comm_wait\nmpi,1,1.5\n");
    free(text);
    rn_curve *c;
    int n;
    ck_assert_msg(rn_curves_read(path, NULL, 0, 1, &c, &n, err, sizeof err) == 0, "%s", err);
    ck_assert(n == 1 && c[0].n == 1 && c[0].v[RN_CV_COMM_WAIT] == 1.5);
    rn_curves_free(c, n);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A runs.db written before epochs kept comm_wait is read as it is (read
 * only, nothing added: comm_wait NAN, an empty field) and, opened for
 * writing, gains the column and keeps its rows. */
START_TEST(old_epochs_read_without_comm_wait)
{
    char dir[256], path[300], svg[300], err[256], *text;
    ck_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    snprintf(svg, sizeof svg, "%s/old.svg", dir);
    exec_sql(path,
             "CREATE TABLE runs(name TEXT PRIMARY KEY, config TEXT NOT NULL, dataset_hash TEXT,"
             " seed INTEGER, model_summary TEXT, start TEXT, end TEXT, status TEXT);"
             "CREATE TABLE epochs(run TEXT NOT NULL REFERENCES runs(name), epoch INTEGER NOT NULL,"
             " loss REAL, accuracy REAL, val_loss REAL, val_accuracy REAL, seconds REAL,"
             " images_per_s REAL, input_stall REAL, PRIMARY KEY(run, epoch));"
             "CREATE TABLE evaluations(run TEXT NOT NULL, split TEXT NOT NULL, loss REAL,"
             " accuracy REAL, n INTEGER, confusion TEXT, time TEXT, dataset TEXT,"
             " dataset_hash TEXT);"
             "INSERT INTO runs VALUES('old', '{}', 'h1', 1, '', 't0', 't1', 'done');"
             "INSERT INTO epochs VALUES('old', 1, 0.5, 0.5, 0.6, 0.4, 1, 1, 0.25);");
    static const char has_comm_wait[] =
        "SELECT count(*) FROM pragma_table_info('epochs') WHERE name = 'comm_wait'";
    rn_curve *c;
    int n;
    ck_assert_msg(rn_curves_read(path, NULL, 0, 1, &c, &n, err, sizeof err) == 0, "%s", err);
    ck_assert(n == 1 && c[0].n == 1 && isnan(c[0].v[RN_CV_COMM_WAIT]));
    ck_assert(c[0].v[RN_CV_INPUT_STALL] == 0.25 && c[0].v[RN_CV_VAL_ACCURACY] == 0.4);
    rn_curves_free(c, n);
    ck_assert_msg(rn_curves_export(path, NULL, 0, NULL, &text, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_str_eq(text, "run,epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_s,"
                           "input_stall,comm_wait\nold,1,0.5,0.5,0.6,0.4,1,1,0.25,\n");
    free(text);
    rn_curves_list l;
    ck_assert_msg(rn_curves_list_runs(path, NULL, 0, &l, err, sizeof err) == 0, "%s", err);
    ck_assert(l.n == 1 && l.runs[0].epochs_done == 1 && l.runs[0].best_val_accuracy == 0.4);
    rn_curves_list_free(&l);
    ck_assert_msg(rn_curves_plot(path, NULL, 0, NULL, svg, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count_rows(path, has_comm_wait), 0);
    /* Opened for writing: the column is appended, the old row kept. */
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, path, err, sizeof err) == 0, "%s", err);
    double v[RN_EPOCH_VALUES] = {0.4, 0.6, 0.5, 0.5, 1, 1, 0.125, 0.75};
    ck_assert_msg(rn_run_epoch(db, "old", 2, v, err, sizeof err) == 0, "%s", err);
    rn_db_close(db);
    ck_assert_int_eq(count_rows(path, has_comm_wait), 1);
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM epochs WHERE (epoch = 1 AND comm_wait"
                                      " IS NULL AND input_stall = 0.25) OR (epoch = 2 AND"
                                      " comm_wait = 0.75)"),
                     2);
    ck_assert_msg(rn_curves_export(path, NULL, 0, NULL, &text, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(strstr(text, "\nold,1,0.5,0.5,0.6,0.4,1,1,0.25,\nold,2,0.4,0.6,0.5,0.5,1,1,"
                               "0.125,0.75\n"),
                  "%s", text);
    free(text);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The run's test accuracy is the latest test evaluation on its own
 * catalog; one on another catalog, and one on validation, are listed
 * apart, the other catalog named. */
START_TEST(list_tells_evaluations_apart)
{
    fixture f;
    fixture_init(&f);
    char err[256], *text;
    const int64_t conf[4] = {1, 0, 0, 1};
    const char *hash = "0123456789abcdef0123";
    ck_assert(rn_record_eval(f.runs, "plain", "d.db", hash, "test", 0.2, 0.5, 2, 2, conf, err,
                             sizeof err) == 0);
    ck_assert(rn_record_eval(f.runs, "plain", "other.db", "ffff", "test", 0.1, 0.91, 2, 2, conf,
                             err, sizeof err) == 0);
    ck_assert(rn_record_eval(f.runs, "plain", "d.db", hash, "validation", 0.3, 0.8125, 2, 2, conf,
                             err, sizeof err) == 0);
    const char *plain[] = {"plain"};
    rn_curves_list l;
    ck_assert_msg(rn_curves_list_runs(f.runs, plain, 1, &l, err, sizeof err) == 0, "%s", err);
    const rn_curves_run *r = &l.runs[0];
    ck_assert(r->test_accuracy == 0.5 && r->test_n == 2 && r->nevals == 3 && r->test_eval == 0);
    ck_assert(!r->evals[1].own && !strcmp(r->evals[1].dataset, "other.db"));
    ck_assert(r->evals[2].own && !strcmp(r->evals[2].split, "validation"));
    ck_assert_int_eq(rn_curves_list_table(&l, &text), 0);
    ck_assert_msg(strstr(text, "other evaluations\n") &&
                      strstr(text, " 0.5000    test 0.9100 (other.db), validation 0.8125\n"),
                  "%s", text);
    free(text);
    ck_assert_int_eq(rn_curves_list_json(&l, &text), 0);
    ck_assert_msg(strstr(text, "\"evaluations\":[{\"split\":\"test\",\"dataset\":\"d.db\"") &&
                      strstr(text, "{\"split\":\"test\",\"dataset\":\"other.db\",\"dataset_hash\":"
                                   "\"ffff\",\"own_dataset\":false,\"loss\":0.1,\"accuracy\":0.91"),
                  "%s", text);
    free(text);
    rn_curves_list_free(&l);
    /* A later test evaluation on the own catalog replaces the earlier one. */
    ck_assert(rn_record_eval(f.runs, "plain", "d.db", hash, "test", 0.2, 0.75, 2, 2, conf, err,
                             sizeof err) == 0);
    ck_assert_msg(rn_curves_list_runs(f.runs, plain, 1, &l, err, sizeof err) == 0, "%s", err);
    ck_assert(l.runs[0].test_accuracy == 0.75 && l.runs[0].nevals == 3);
    rn_curves_list_free(&l);
    /* A catalog made anew at the run's own path is another catalog: its
     * hash says so. */
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, f.runs, err, sizeof err) == 0, "%s", err);
    ck_assert(rn_run_start(db, "moved", "{\"extra\":{\"dataset\":\"d.db\"}}", "aaaa", 1, "", 0, 0,
                           err, sizeof err) == 0);
    rn_db_close(db);
    ck_assert(rn_record_eval(f.runs, "moved", "d.db", "bbbbbbbbbbbbbbbb", "test", 0.2, 0.625, 2, 2,
                             conf, err, sizeof err) == 0);
    const char *moved[] = {"moved"};
    ck_assert_msg(rn_curves_list_runs(f.runs, moved, 1, &l, err, sizeof err) == 0, "%s", err);
    ck_assert(isnan(l.runs[0].test_accuracy) && !strcmp(l.runs[0].dataset, "d.db"));
    ck_assert_int_eq(rn_curves_list_table(&l, &text), 0);
    ck_assert_msg(strstr(text, " test 0.6250 (d.db, now hash bbbbbbbbbbbb)\n"), "%s", text);
    free(text);
    rn_curves_list_free(&l);
    /* A name wider than a cell is cut by columns at a character's end: 30
     * wide characters (60 columns) keep 22 (44 columns) and "...". */
    char wide[128] = "", kept[128] = "";
    for (int i = 0; i < 30; i++) {
        strcat(wide, "猫");
        if (i < 22) {
            strcat(kept, "猫");
        }
    }
    strcat(kept, "...  ");
    ck_assert_msg(rn_db_open(&db, f.runs, err, sizeof err) == 0, "%s", err);
    ck_assert(rn_run_start(db, wide, "{}", "aaaa", 1, "", 0, 0, err, sizeof err) == 0);
    rn_db_close(db);
    const char *wides[] = {wide};
    ck_assert_msg(rn_curves_list_runs(f.runs, wides, 1, &l, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(rn_curves_list_table(&l, &text), 0);
    ck_assert_msg(strstr(text, kept) && !strstr(text, wide), "%s", text);
    for (const unsigned char *p = (const unsigned char *)text; *p; p += ck_utf8_len(p)) {
        ck_assert_msg(ck_utf8_len(p) > 0, "not UTF-8 at byte %td", p - (unsigned char *)text);
    }
    free(text);
    rn_curves_list_free(&l);
    fixture_free(&f);
}
END_TEST

/* Configurations compared member by member; a resume may change the
 * epochs only, and the recorded configuration follows it. */
START_TEST(resume_names_what_differs)
{
    char err[512];
    rn_config_change *c;
    int n;
    ck_assert_int_eq(
        rn_config_diff("{\"a\":1,\"o\":{\"lr\":0.001,\"x\":\"s\"},\"l\":[1,2]}",
                       "{\"a\":1,\"o\":{\"lr\":0.01,\"x\":\"s\"},\"l\":[2,1],\"b\":true}", &c, &n,
                       err, sizeof err),
        0);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(c[0].member, "o.lr");
    ck_assert_str_eq(c[0].recorded, "0.001");
    ck_assert_str_eq(c[0].now, "0.01");
    ck_assert_str_eq(c[1].member, "l");
    ck_assert_str_eq(c[1].now, "[2,1]");
    ck_assert(!strcmp(c[2].member, "b") && !c[2].recorded && !strcmp(c[2].now, "true"));
    rn_config_changes_free(c, n);
    ck_assert_int_eq(rn_config_diff("{}", "not json", &c, &n, err, sizeof err), CK_EFORMAT);

    fixture f;
    fixture_init(&f);
    char config[1024], more[1024], other[1024];
    snprintf(config, sizeof config, config_fmt, spec_plain, "none");
    snprintf(more, sizeof more, "%s", config);
    memcpy(strstr(more, "\"epochs\":3"), "\"epochs\":7", 10);
    snprintf(other, sizeof other, config_fmt, spec_plain, "chollet-2nd");
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, f.runs, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(rn_run_start(db, "plain", other, NULL, 3, "", 1, 3, err, sizeof err),
                     CK_EINVAL);
    ck_assert_msg(strstr(err, "extra.augment none recorded, chollet-2nd now"), "%s", err);
    ck_assert_msg(rn_run_start(db, "plain", more, NULL, 3, "", 1, 3, err, sizeof err) == 0, "%s",
                  err);
    rn_db_close(db);
    ck_assert_int_eq(count_rows(f.runs, "SELECT json_extract(config, '$.epochs') FROM runs WHERE "
                                        "name = 'plain'"),
                     7);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM epochs WHERE run = 'plain'"), EPOCHS);
    fixture_free(&f);
}
END_TEST

/* Deleting runs takes their rows, all or nothing; a deleted run being
 * trained cannot write epochs for a later run of its name. */
START_TEST(delete_runs)
{
    fixture f;
    fixture_init(&f);
    char err[256];
    rn_deleted del[2];
    const char *bad[] = {"plain", "nosuch"}, *both[] = {"dropout", "plain"};
    ck_assert_int_eq(rn_runs_delete(f.runs, bad, 2, del, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "run nosuch: no such run (recorded: plain, dropout)"), "%s", err);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM epochs"), 2 * EPOCHS);
    rn_db *db;
    ck_assert_msg(rn_db_open(&db, f.runs, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rn_runs_delete(f.runs, both, 2, del, err, sizeof err) == 0, "%s", err);
    ck_assert(del[0].runs == 1 && del[0].epochs == EPOCHS && del[0].evaluations == 1);
    ck_assert(del[1].runs == 1 && del[1].epochs == EPOCHS && del[1].evaluations == 0);
    ck_assert_int_eq(count_rows(f.runs, "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) "
                                        "FROM epochs) + (SELECT count(*) FROM evaluations)"),
                     0);
    double v[RN_EPOCH_VALUES] = {0.5, 0.5, 0.5, 0.5, 1, 1, 0};
    ck_assert_int_eq(rn_run_epoch(db, "plain", 4, v, err, sizeof err), CK_EINVAL);
    ck_assert_msg(strstr(err, "run plain: epoch 4: the run is no longer recorded"), "%s", err);
    rn_db_close(db);
    ck_assert_int_eq(count_rows(f.runs, "SELECT count(*) FROM epochs"), 0);
    fixture_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runs");
    TCase *tc = tcase_create("curves");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, start_refuses_and_resumes);
    tcase_add_test(tc, export_csv_round_trips);
    tcase_add_test(tc, export_json_holds_the_epochs);
    tcase_add_test(tc, export_is_byte_identical);
    tcase_add_test(tc, export_errors_are_clear);
    tcase_add_test(tc, list_summarises_runs);
    tcase_add_test(tc, plot_png_has_size_and_curves);
    tcase_add_test(tc, plot_svg_has_one_path_per_curve);
    tcase_add_test(tc, plot_svg_in_memory_and_gap);
    tcase_add_test(tc, plot_errors_are_clear);
    tcase_add_test(tc, plot_axes_and_divergence_as_data);
    tcase_add_test(tc, plot_svg_text_marks_and_divergence);
    tcase_add_test(tc, plot_labels_never_touch);
    tcase_add_test(tc, old_runs_db_is_upgraded);
    tcase_add_test(tc, comm_wait_is_recorded_and_exported);
    tcase_add_test(tc, old_epochs_read_without_comm_wait);
    tcase_add_test(tc, list_tells_evaluations_apart);
    tcase_add_test(tc, resume_names_what_differs);
    tcase_add_test(tc, delete_runs);
    suite_add_tcase(s, tc);
    return ck_test_run(s);
}
