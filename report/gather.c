/* gather.c: everything the report shows, read before a line of it is
 * written.
 *
 * From runs.db: the runs (rn_curves_list_runs: configuration, summary,
 * bests) and their epochs (the JSON export, the one reader of curves).
 * From each run's configuration: its catalog, found the way the user
 * would look for it. One --data catalog stands for every run; several are
 * matched to the runs by dataset hash (a --data that cannot be opened is
 * an error: the user named it); a run none fits (or without
 * --data) uses the path it recorded, as given to train (relative to where
 * the report is made), or else beside runs.db. A catalog is opened once
 * however many runs share it (the same file by device and inode), and the
 * output may be none of them nor runs.db: that is checked here, before any
 * picture is drawn.
 *
 * Runs that differ only by seed (and the layout of the work: threads,
 * processes, the kernel tier) are one arm of the experiment repeated; the
 * comparison gives their mean and spread.
 *
 * The engine evaluates each run's kept checkpoint here too, so a missing
 * checkpoint or a refused catalog is known, and noted, before the page is
 * laid out. Only running out of memory stops the report; everything else
 * leaves a part out and says why.
 */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rp_internal.h"

void rp_note(rp_doc *d, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ck_buf_str(&d->notes, line);
    ck_buf_str(&d->notes, "\n");
}

void rp_page_note(rp_doc *d, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ck_buf_str(&d->page, "<p class=\"note\">");
    rp_html_text(&d->page, line);
    ck_buf_str(&d->page, "</p>\n");
    rp_note(d, "%s", line);
}

char *rp_config_text(json_t *config, const char *path)
{
    json_t *v = config;
    char key[128];
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (json_is_string(v)) {
        return strdup(json_string_value(v));
    }
    if (json_is_real(v)) {
        char t[64];
        snprintf(t, sizeof t, "%.6g", json_real_value(v));
        return strdup(t);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

int rp_input_shape(json_t *config, int *h, int *w, int *c)
{
    const char *spec = json_string_value(json_object_get(config, "spec"));
    const char *s = spec ? strstr(spec, "shape=(") : NULL;
    return s && sscanf(s, "shape=(%d ,%d ,%d", h, w, c) == 3 && *h > 0 && *w > 0 ? 0 : -1;
}

double rp_value(const rp_run *r, int i, int col)
{
    return i >= 0 && i < r->n ? r->v[(size_t)i * RN_EPOCH_VALUES + col] : (double)NAN;
}

int rp_last_row(const rp_run *r, int col)
{
    for (int i = r->n - 1; i >= 0; i--) {
        if (isfinite(rp_value(r, i, col))) {
            return i;
        }
    }
    return -1;
}

/* ---- epochs -------------------------------------------------------------- */

/* Every run's epochs, from the JSON export of the listed runs. */
static int read_epochs(rp_doc *d)
{
    static const char *const cols[RN_EPOCH_VALUES] = {"loss",         "accuracy", "val_loss",
                                                      "val_accuracy", "seconds",  "images_per_s",
                                                      "input_stall",  "comm_wait"};
    const char **names = malloc((size_t)(d->nruns > 0 ? d->nruns : 1) * sizeof *names);
    if (!names) {
        return ck_err(d->err, d->errlen, CK_ENOMEM, "report: out of memory");
    }
    for (int i = 0; i < d->nruns; i++) {
        names[i] = d->runs[i].r->name;
    }
    rn_curves_export_opts eo = {.format = RN_CURVES_JSON};
    char *text = NULL;
    int rc = d->nruns ? rn_curves_export(d->o->runs_path, names, d->nruns, &eo, &text, NULL, d->err,
                                         d->errlen)
                      : 0;
    free(names);
    json_t *rows = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (rc) {
        return rc;
    }
    if (d->nruns && !json_is_array(rows)) {
        json_decref(rows);
        return ck_err(d->err, d->errlen, CK_ENOMEM, "%s: report: out of memory", d->o->runs_path);
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *run = json_string_value(json_object_get(row, "run"));
        for (int k = 0; run && k < d->nruns; k++) {
            rp_run *r = &d->runs[k];
            if (strcmp(r->r->name, run) != 0) {
                continue;
            }
            int *e = realloc(r->epoch, (size_t)(r->n + 1) * sizeof *e);
            double *v = e ? realloc(r->v, (size_t)(r->n + 1) * RN_EPOCH_VALUES * sizeof *v) : NULL;
            if (e) {
                r->epoch = e;
            }
            if (!v) {
                json_decref(rows);
                return ck_err(d->err, d->errlen, CK_ENOMEM, "report: out of memory");
            }
            r->v = v;
            r->epoch[r->n] = (int)json_integer_value(json_object_get(row, "epoch"));
            for (int c = 0; c < RN_EPOCH_VALUES; c++) {
                json_t *x = json_object_get(row, cols[c]);
                v[(size_t)r->n * RN_EPOCH_VALUES + c] =
                    json_is_number(x) ? json_number_value(x) : (double)NAN;
            }
            r->n++;
            break;
        }
    }
    json_decref(rows);
    return 0;
}

/* ---- catalogs ------------------------------------------------------------ */

/* 1 when paths a and b are the same existing file. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Opens the catalog at path as doc catalog *k (an existing one when it is
 * the same file). Returns 0, 1 when it cannot be used (why in `why`), or
 * CK_ENOMEM. */
static int open_catalog(rp_doc *d, const char *path, int *k, char *why, size_t whylen)
{
    for (int i = 0; i < d->ncats; i++) {
        if (same_file(d->cats[i].path, path)) {
            *k = i;
            return 0;
        }
    }
    char e[512];
    ds_catalog *c = NULL;
    if (ds_catalog_open(&c, path, DS_OPEN_READ, e, sizeof e) != 0) {
        snprintf(why, whylen, "%s", e);
        return 1;
    }
    if (!ds_catalog_hash(c)[0]) {
        snprintf(why, whylen, "%s: unfinished catalog (its prepare-dataset stopped before the end)",
                 path);
        ds_catalog_close(c);
        return 1;
    }
    char *info = NULL;
    const char *const *names = NULL;
    int nclasses = 0;
    if (ds_catalog_info_json(c, &info, e, sizeof e) != 0 ||
        ds_catalog_classes(c, &names, &nclasses, e, sizeof e) != 0) {
        snprintf(why, whylen, "%s", e);
        ds_catalog_close(c);
        free(info);
        return 1;
    }
    rp_catalog *cats = realloc(d->cats, (size_t)(d->ncats + 1) * sizeof *cats);
    json_t *j = json_loads(info, 0, NULL);
    free(info);
    char *copy = strdup(path);
    if (!cats || !j || !copy) {
        if (cats) {
            d->cats = cats;
        }
        json_decref(j);
        free(copy);
        ds_catalog_close(c);
        return CK_ENOMEM;
    }
    d->cats = cats;
    d->cats[d->ncats] = (rp_catalog){.path = copy,
                                     .c = c,
                                     .info = j,
                                     .hash = ds_catalog_hash(c),
                                     .nclasses = nclasses,
                                     .classes = names};
    *k = d->ncats++;
    return 0;
}

/* Notes what is wrong with run r's catalog, for the caller and the page. */
static int catalog_note(rp_doc *d, rp_run *r, const char *fmt, ...) CK_PRINTF(3, 4);
static int catalog_note(rp_doc *d, rp_run *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    rp_note(d, "run %s: %s", r->r->name, line);
    free(r->catalog_note);
    r->catalog_note = strdup(line);
    return r->catalog_note ? 0 : CK_ENOMEM;
}

/* The catalog run r was trained on (see the top of the file). */
static int find_catalog(rp_doc *d, rp_run *r)
{
    const rp_opts *o = d->o;
    const char *hash = r->r->dataset_hash;
    char why[1024] = "";
    int k = -1, rc;
    r->catalog = -1;
    for (int i = 0; i < o->ndata && r->catalog < 0; i++) { /* opened already: rp_gather */
        if ((rc = open_catalog(d, o->data[i], &k, why, sizeof why)) != 0) {
            return rc < 0 ? rc : ck_err(d->err, d->errlen, CK_EIO, "%s", why);
        }
        if (o->ndata == 1 || (hash && !strcmp(d->cats[k].hash, hash))) {
            r->catalog = k;
        }
    }
    const char *recorded =
        r->config
            ? json_string_value(json_object_get(json_object_get(r->config, "extra"), "dataset"))
            : NULL;
    const char *features =
        r->config
            ? json_string_value(json_object_get(json_object_get(r->config, "extra"), "features"))
            : NULL;
    if (r->catalog < 0 && !recorded) {
        return catalog_note(d, r, "%s",
                            features ? "trained on stored features: no catalog of images to show"
                                     : "no catalog recorded; give it with --data");
    }
    if (r->catalog < 0) {
        char *dir = strdup(o->runs_path), beside[4200];
        if (!dir) {
            return CK_ENOMEM;
        }
        const char *base = strrchr(recorded, '/');
        snprintf(beside, sizeof beside, "%s/%s", dirname(dir), base ? base + 1 : recorded);
        free(dir);
        struct stat st;
        const char *path = stat(recorded, &st) == 0 ? recorded : beside;
        if ((rc = open_catalog(d, path, &k, why, sizeof why)) < 0) {
            return rc;
        }
        if (rc == 1) {
            return catalog_note(d, r,
                                "catalog %s not found or not readable (%s); give it with --data",
                                recorded, why);
        }
        r->catalog = k;
    }
    if (hash && strcmp(d->cats[r->catalog].hash, hash) != 0) {
        return catalog_note(d, r, "%s has dataset hash %s; the run was trained on %s",
                            d->cats[r->catalog].path, d->cats[r->catalog].hash, hash);
    }
    return 0;
}

/* ---- groups of repeated runs ---------------------------------------------- */

/* 1 when runs a and b differ at most by seed and the layout of the work. */
static int repeats(const rp_run *a, const rp_run *b)
{
    if (!a->r->config_json || !b->r->config_json) {
        return 0;
    }
    rn_config_change *c = NULL;
    int n = 0, same = 1;
    if (rn_config_diff(a->r->config, b->r->config, &c, &n, NULL, 0) != 0) {
        return 0;
    }
    for (int i = 0; i < n && same; i++) {
        same = !strcmp(c[i].member, "seed") || !strcmp(c[i].member, "isa") ||
               rn_config_is_layout(c[i].member);
    }
    rn_config_changes_free(c, n);
    return same;
}

/* name without a trailing seed: "plain-s1" -> "plain", "run_seed2" -> "run". */
static void strip_seed(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s", name);
    size_t n = strlen(out), k = n;
    while (k > 0 && out[k - 1] >= '0' && out[k - 1] <= '9') {
        k--;
    }
    if (k == n) {
        return;
    }
    if (k >= 4 && !strncmp(out + k - 4, "seed", 4)) {
        k -= 4;
    } else if (k >= 1 && out[k - 1] == 's') {
        k -= 1;
    }
    while (k > 0 && strchr("-_. ", out[k - 1])) {
        k--;
    }
    if (k > 0) {
        out[k] = '\0';
    }
}

static int make_groups(rp_doc *d)
{
    d->groups = calloc((size_t)(d->nruns > 0 ? d->nruns : 1), sizeof *d->groups);
    if (!d->groups) {
        return CK_ENOMEM;
    }
    for (int i = 0; i < d->nruns; i++) {
        int g = -1;
        for (int k = 0; k < d->ngroups && g < 0; k++) {
            g = repeats(&d->runs[d->groups[k].runs[0]], &d->runs[i]) ? k : -1;
        }
        if (g < 0) {
            g = d->ngroups++;
            d->groups[g].runs = calloc((size_t)d->nruns, sizeof(int));
            if (!d->groups[g].runs) {
                return CK_ENOMEM;
            }
        }
        d->groups[g].runs[d->groups[g].n++] = i;
        d->runs[i].group = g;
    }
    for (int g = 0; g < d->ngroups; g++) {
        rp_group *gr = &d->groups[g];
        char first[512], other[512];
        strip_seed(d->runs[gr->runs[0]].r->name, first, sizeof first);
        int same = gr->n > 1;
        for (int k = 1; k < gr->n && same; k++) {
            strip_seed(d->runs[gr->runs[k]].r->name, other, sizeof other);
            same = !strcmp(first, other);
        }
        ck_buf b = {0};
        if (same || gr->n == 1) {
            ck_buf_str(&b, gr->n == 1 ? d->runs[gr->runs[0]].r->name : first);
        } else {
            for (int k = 0; k < gr->n; k++) {
                ck_buf_str(&b, k ? ", " : "");
                ck_buf_str(&b, d->runs[gr->runs[k]].r->name);
            }
        }
        if (!(gr->label = ck_buf_take(&b))) {
            return CK_ENOMEM;
        }
    }
    return 0;
}

/* ---- evaluations --------------------------------------------------------- */

/* Samples of split in catalog k (from its description). */
static int64_t split_size(const rp_doc *d, int k, const char *split)
{
    json_t *s = json_object_get(json_object_get(d->cats[k].info, "splits"), split);
    return (int64_t)json_integer_value(json_object_get(s, "total"));
}

static int evaluate(rp_doc *d, rp_run *r)
{
    char why[1024];
    if (!d->o->engine || !d->o->engine->evaluate) {
        return 0;
    }
    if (r->catalog < 0) {
        snprintf(why, sizeof why, "not evaluated: no catalog (see the dataset section)");
        r->eval_note = strdup(why);
        return r->eval_note ? 0 : CK_ENOMEM;
    }
    const char *split = d->o->split ? d->o->split : "test";
    const char *cat = d->cats[r->catalog].path;
    if (split_size(d, r->catalog, split) == 0 && !d->o->split &&
        split_size(d, r->catalog, "validation") > 0) {
        split = "validation";
    }
    r->eval_split = split;
    if (split_size(d, r->catalog, split) == 0) {
        snprintf(why, sizeof why, "not evaluated: %s has no %s split", cat, split);
        r->eval_note = strdup(why);
        rp_note(d, "run %s: %s", r->r->name, why);
        return r->eval_note ? 0 : CK_ENOMEM;
    }
    int rc = d->o->engine->evaluate(d->o->engine->ctx, r->r->name, cat, split, &r->eval, why,
                                    sizeof why);
    if (rc == CK_ENOMEM) {
        return ck_err(d->err, d->errlen, rc, "%s", why);
    }
    if (rc) {
        rp_eval_free(&r->eval);
        rp_note(d, "run %s: %s", r->r->name, why);
        r->eval_note = strdup(why);
        return r->eval_note ? 0 : CK_ENOMEM;
    }
    r->evaluated = 1;
    return 0;
}

void rp_eval_free(rp_eval *e)
{
    if (e) {
        free(e->checkpoint);
        free(e->confusion);
        free(e->label);
        free(e->pred);
        free(e->prob);
        memset(e, 0, sizeof *e);
    }
}

/* ---- the whole --------------------------------------------------------- */

int rp_gather(rp_doc *d, const rp_opts *o, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->o = o;
    d->err = err;
    d->errlen = errlen;
    if (errlen) {
        err[0] = '\0';
    }
    if (same_file(o->out_path, o->runs_path)) {
        return ck_err(err, errlen, CK_EINVAL,
                      "%s is the same file as the runs database %s; nothing was written",
                      o->out_path, o->runs_path);
    }
    int rc = rn_curves_list_runs(o->runs_path, o->runs, o->nruns, &d->list, err, errlen);
    if (rc) {
        return rc;
    }
    if (d->list.n == 0) {
        return ck_err(err, errlen, CK_EINVAL, "%s: no run recorded", o->runs_path);
    }
    d->nruns = d->list.n;
    d->runs = calloc((size_t)d->nruns, sizeof *d->runs);
    if (!d->runs) {
        return ck_err(err, errlen, CK_ENOMEM, "report: out of memory");
    }
    for (int i = 0; i < d->nruns; i++) {
        rp_run *r = &d->runs[i];
        r->r = &d->list.runs[i];
        r->config = r->r->config_json ? json_loads(r->r->config, 0, NULL) : NULL;
        r->policy =
            r->config
                ? json_string_value(json_object_get(json_object_get(r->config, "extra"), "augment"))
                : NULL;
        r->catalog = -1;
    }
    if ((rc = read_epochs(d))) {
        return rc;
    }
    /* The catalogs asked for must be there: a typo is an error, not a note. */
    for (int i = 0; i < o->ndata; i++) {
        char why[1024];
        int k;
        if ((rc = open_catalog(d, o->data[i], &k, why, sizeof why)) != 0) {
            return rc < 0 ? ck_err(err, errlen, rc, "report: out of memory")
                          : ck_err(err, errlen, CK_EIO, "%s", why);
        }
    }
    for (int i = 0; i < d->nruns && rc == 0; i++) {
        rc = find_catalog(d, &d->runs[i]);
    }
    for (int i = 0; i < d->ncats && rc == 0; i++) {
        if (same_file(o->out_path, d->cats[i].path)) {
            return ck_err(err, errlen, CK_EINVAL,
                          "%s is the same file as the catalog %s; nothing was written", o->out_path,
                          d->cats[i].path);
        }
    }
    if (rc == 0) {
        rc = make_groups(d);
    }
    for (int i = 0; i < d->nruns && rc == 0; i++) {
        rc = evaluate(d, &d->runs[i]);
    }
    if (rc == CK_ENOMEM && !err[0]) {
        ck_err(err, errlen, rc, "report: out of memory");
    }
    return rc;
}

void rp_doc_free(rp_doc *d)
{
    for (int i = 0; d->runs && i < d->nruns; i++) {
        rp_run *r = &d->runs[i];
        json_decref(r->config);
        free(r->epoch);
        free(r->v);
        rp_eval_free(&r->eval);
        free(r->eval_note);
        free(r->catalog_note);
    }
    free(d->runs);
    for (int i = 0; i < d->ncats; i++) {
        free(d->cats[i].path);
        json_decref(d->cats[i].info);
        ds_catalog_close(d->cats[i].c);
    }
    free(d->cats);
    for (int g = 0; d->groups && g < d->ngroups; g++) {
        free(d->groups[g].runs);
        free(d->groups[g].label);
    }
    free(d->groups);
    rn_curves_list_free(&d->list);
    ck_buf_free(&d->page);
    ck_buf_free(&d->notes);
    memset(d, 0, sizeof *d);
}
