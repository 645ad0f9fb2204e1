/* curves_export.c: learning curves as CSV or JSON.
 *
 * Output is a pure function of the database content: rows in selection
 * order, epochs ascending, numbers in the shortest %.Ng that reads back to
 * the same double, no timestamps. That is what lets the experiment scripts
 * compare two runs' exports byte for byte (on the deterministic columns:
 * seconds, images/s and input stall are measurements). Files are written
 * whole through a temporary file, so a failed export leaves nothing
 * half-written behind.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rn.h"
#include "rn_internal.h"

/* A CSV field, quoted (RFC 4180) only when it holds a separator, quote,
 * line break or surrounding space. */
static void csv_str(ck_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
        ck_buf_add(b, s, n);
        return;
    }
    ck_buf_str(b, "\"");
    for (; *s; s++) {
        ck_buf_add(b, s, 1);
        if (*s == '"') {
            ck_buf_add(b, s, 1);
        }
    }
    ck_buf_str(b, "\"");
}

int rn_curves_format_parse(const char *name)
{
    if (name && strcasecmp(name, "csv") == 0) {
        return RN_CURVES_CSV;
    }
    if (name && strcasecmp(name, "json") == 0) {
        return RN_CURVES_JSON;
    }
    return -1;
}

/* Column list "a,b" -> indices into cols; returns how many, or CK_EINVAL. */
static int parse_columns(const char *runs_path, const char *spec, int cols[RN_CV_COUNT], char *err,
                         size_t errlen)
{
    int n = 0;
    if (!spec || !*spec) {
        for (int k = 0; k < RN_CV_COUNT; k++) {
            cols[k] = k;
        }
        return RN_CV_COUNT;
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
        for (int k = 0; k < RN_CV_COUNT && found < 0; k++) {
            if (strlen(rn_curve_colnames[k]) == len && strncmp(p, rn_curve_colnames[k], len) == 0) {
                found = k;
            }
        }
        if (found < 0) {
            return ck_err(err, errlen, CK_EINVAL,
                          "%s: export: unknown column '%.*s' (columns: " RN_CURVES_COLUMNS ")",
                          runs_path, (int)len, p);
        }
        for (int j = 0; j < n; j++) {
            if (cols[j] == found) {
                return ck_err(err, errlen, CK_EINVAL, "%s: export: column %s given twice",
                              runs_path, rn_curve_colnames[found]);
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

static void write_csv(ck_buf *b, const rn_curve *c, int nc, const int *cols, int ncols)
{
    ck_buf_str(b, "run,epoch");
    for (int k = 0; k < ncols; k++) {
        ck_buf_str(b, ",");
        ck_buf_str(b, rn_curve_colnames[cols[k]]);
    }
    ck_buf_str(b, "\n");
    for (int r = 0; r < nc; r++) {
        for (int i = 0; i < c[r].n; i++) {
            csv_str(b, c[r].run);
            ck_buf_printf(b, ",%d", c[r].epoch[i]);
            for (int k = 0; k < ncols; k++) {
                double v = c[r].v[(size_t)i * RN_CV_COUNT + cols[k]];
                char t[32] = "";
                if (!isnan(v)) {
                    ck_fmt_double(t, sizeof t, v);
                }
                ck_buf_str(b, ",");
                ck_buf_str(b, t);
            }
            ck_buf_str(b, "\n");
        }
    }
}

static void write_json(ck_buf *b, const rn_curve *c, int nc, const int *cols, int ncols)
{
    int first = 1;
    ck_buf_str(b, "[");
    for (int r = 0; r < nc; r++) {
        for (int i = 0; i < c[r].n; i++) {
            ck_buf_str(b, first ? "\n{\"run\":" : ",\n{\"run\":");
            first = 0;
            ck_buf_json_str(b, c[r].run);
            ck_buf_printf(b, ",\"epoch\":%d", c[r].epoch[i]);
            for (int k = 0; k < ncols; k++) {
                ck_buf_printf(b, ",\"%s\":", rn_curve_colnames[cols[k]]);
                ck_buf_json_num(b, c[r].v[(size_t)i * RN_CV_COUNT + cols[k]]);
            }
            ck_buf_str(b, "}");
        }
    }
    ck_buf_str(b, first ? "]\n" : "\n]\n");
}

static int export_text(const char *runs_path, const char *const *runs, int nruns,
                       const rn_curves_export_opts *o, rn_curves_format fmt, char **text,
                       size_t *len, char *err, size_t errlen)
{
    int cols[RN_CV_COUNT];
    *text = NULL;
    int ncols = parse_columns(runs_path, o ? o->columns : NULL, cols, err, errlen);
    if (ncols < 0) {
        return ncols;
    }
    rn_curve *c = NULL;
    int nc = 0;
    int rc = rn_curves_read(runs_path, runs, nruns, 1, &c, &nc, err, errlen);
    if (rc) {
        return rc;
    }
    ck_buf b = {0};
    if (fmt == RN_CURVES_JSON) {
        write_json(&b, c, nc, cols, ncols);
    } else {
        write_csv(&b, c, nc, cols, ncols);
    }
    rn_curves_free(c, nc);
    size_t n = b.len;
    *text = ck_buf_take(&b);
    if (!*text) {
        return ck_err(err, errlen, CK_ENOMEM, "%s: export: out of memory", runs_path);
    }
    if (len) {
        *len = n;
    }
    return 0;
}

int rn_curves_export(const char *runs_path, const char *const *runs, int nruns,
                     const rn_curves_export_opts *o, char **text, size_t *len, char *err,
                     size_t errlen)
{
    rn_curves_format fmt = o && o->format == RN_CURVES_JSON ? RN_CURVES_JSON : RN_CURVES_CSV;
    return export_text(runs_path, runs, nruns, o, fmt, text, len, err, errlen);
}

int rn_curves_export_file(const char *runs_path, const char *const *runs, int nruns,
                          const rn_curves_export_opts *o, const char *out_path, char *err,
                          size_t errlen)
{
    rn_curves_format fmt = o ? o->format : RN_CURVES_AUTO;
    if (fmt == RN_CURVES_AUTO) {
        fmt = rn_curves_has_suffix(out_path, ".json") ? RN_CURVES_JSON : RN_CURVES_CSV;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = export_text(runs_path, runs, nruns, o, fmt, &text, &len, err, errlen);
    if (rc) {
        return rc;
    }
    rc = ck_write_file_atomic(out_path, text, len, err, errlen);
    free(text);
    return rc;
}
