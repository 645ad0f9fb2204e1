/* sec_runs.c: "Runs": each run on its own, as its record holds it: the
 * configuration (what a reader needs to redo it), the book's figure of
 * its curves (rn_curves_plot: training solid, validation dashed, each
 * panel's best epoch marked), where its time went (seconds per epoch,
 * images per second, time spent waiting for input), and Keras's summary
 * of its model.
 *
 * The configuration is read member by member from the recorded JSON, so a
 * run recorded by an older convkit shows what it has and leaves the rest
 * out. Nothing here needs the checkpoint: a run whose checkpoint is gone
 * is shown whole.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_internal.h"

/* A row of the configuration table: label, then the member as text (or
 * fallback when absent; no row when both are NULL). */
static void row(ck_buf *b, const char *label, json_t *config, const char *path,
                const char *fallback)
{
    char *v = rp_config_text(config, path);
    if (v || fallback) {
        ck_buf_str(b, "<tr><th>");
        ck_buf_str(b, label);
        ck_buf_str(b, "</th><td>");
        rp_html_text(b, v ? v : fallback);
        ck_buf_str(b, "</td></tr>\n");
    }
    free(v);
}

/* The members of object o but skip1 and skip2 (either may be NULL) as "key value, key
 * value" (numbers as rp_config_text writes them); returns how many. */
static int members(ck_buf *b, json_t *o, const char *skip1, const char *skip2)
{
    const char *key;
    json_t *v;
    int n = 0;
    json_object_foreach(o, key, v)
    {
        if ((skip1 && !strcmp(key, skip1)) || (skip2 && !strcmp(key, skip2))) {
            continue;
        }
        char *t = rp_config_text(o, key);
        ck_buf_str(b, n++ ? ", " : "");
        rp_html_text(b, key);
        ck_buf_str(b, " ");
        rp_html_text(b, t);
        free(t);
    }
    return n;
}

/* "rmsprop (rho 0.9, epsilon 1e-07)": the optimizer and its settings but
 * the learning rate, which has a row of its own. */
static void optimizer(ck_buf *b, json_t *config)
{
    json_t *o = json_object_get(config, "optimizer");
    if (!json_is_object(o)) {
        return;
    }
    ck_buf_str(b, "<tr><th>optimizer</th><td>");
    rp_html_text(b, json_string_value(json_object_get(o, "name")));
    ck_buf tail = {0};
    if (members(&tail, o, "name", "lr") > 0) {
        ck_buf_str(b, " (");
        ck_buf_str(b, tail.s);
        ck_buf_str(b, ")");
    }
    b->oom |= tail.oom;
    ck_buf_free(&tail);
    ck_buf_str(b, "</td></tr>\n");
}

/* Keras's ReduceLROnPlateau, when the run had it. */
static void plateau(ck_buf *b, json_t *config)
{
    json_t *o = json_object_get(config, "reduce_lr");
    if (json_is_object(o)) {
        ck_buf_str(b, "<tr><th>reduce lr on plateau</th><td>");
        members(b, o, NULL, NULL);
        ck_buf_str(b, "</td></tr>\n");
    }
}

static void configuration(ck_buf *b, const rp_run *r)
{
    json_t *c = r->config;
    char buf[128];
    ck_buf_str(b, "<table class=\"kv\"><caption class=\"axis\">configuration</caption><tbody>\n");
    row(b, "model", c, "model", r->r->model);
    optimizer(b, c);
    row(b, "learning rate", c, "optimizer.lr", NULL);
    plateau(b, c);
    row(b, "batch", c, "batch", NULL);
    snprintf(buf, sizeof buf, "%d done of %d", r->r->epochs_done, r->r->epochs);
    row(b, "epochs", NULL, "", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->r->seed);
    row(b, "seed", NULL, "", buf);
    row(b, "augmentation", c, "extra.augment", "none");
    row(b, "loss", c, "loss", NULL);
    row(b, "threads", c, "threads", NULL);
    row(b, "processes", c, "processes", c ? "1" : NULL);
    row(b, "shards", c, "shards", NULL);
    row(b, "kernel tier", c, "isa", NULL);
    char *patience = rp_config_text(c, "patience");
    if (patience && strcmp(patience, "0") != 0) {
        row(b, "early stopping", NULL, "", patience);
    }
    free(patience);
    row(b, "initial weights", c, "weights", NULL);
    row(b, "trainable from", c, "trainable_from", NULL);
    row(b, "catalog", c, "extra.dataset", NULL);
    row(b, "stored features", c, "extra.features", NULL);
    row(b, "dataset hash", NULL, "", r->r->dataset_hash);
    row(b, "resize", c, "extra.resize", NULL);
    row(b, "training split", c, "extra.train_split", NULL);
    row(b, "validation split", c, "extra.val_split", NULL);
    row(b, "started", NULL, "", r->r->start);
    row(b, "ended", NULL, "", r->r->end);
    ck_buf_str(b, "</tbody></table>\n");
}

/* Column col over the epochs: sum, smallest, largest, and the count of
 * numbers. */
static void stats(const rp_run *r, int col, double *sum, double *lo, double *hi, int *k)
{
    *sum = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    *k = 0;
    for (int i = 0; i < r->n; i++) {
        double v = rp_value(r, i, col);
        if (isfinite(v)) {
            *sum += v;
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
            (*k)++;
        }
    }
}

static void timing(ck_buf *b, const rp_run *r)
{
    double sum, lo, hi, ssum, slo, shi, isum, ilo, ihi, wsum, wlo, whi;
    int k, sk, ik, wk;
    stats(r, RP_SECONDS, &sum, &lo, &hi, &k);
    stats(r, RP_STALL, &ssum, &slo, &shi, &sk);
    stats(r, RP_IMAGES_PER_S, &isum, &ilo, &ihi, &ik);
    stats(r, RP_COMM_WAIT, &wsum, &wlo, &whi, &wk);
    ck_buf_str(b, "<table class=\"kv\"><caption class=\"axis\">time</caption><tbody>\n");
    if (k) {
        ck_buf_str(b, "<tr><th>per epoch</th><td>");
        rp_html_num(b, sum / k, sum / k < 10 ? 2 : 1);
        ck_buf_str(b, " s (");
        rp_html_num(b, lo, lo < 10 ? 2 : 1);
        ck_buf_str(b, " to ");
        rp_html_num(b, hi, hi < 10 ? 2 : 1);
        ck_buf_str(b, ")</td></tr>\n<tr><th>in all</th><td>");
        rp_html_num(b, sum, sum < 10 ? 2 : 1);
        ck_buf_str(b, " s</td></tr>\n");
    }
    if (ik) {
        ck_buf_str(b, "<tr><th>training images/s</th><td>");
        rp_html_count(b, (int64_t)llround(isum / ik));
        ck_buf_str(b, " on average (");
        rp_html_count(b, (int64_t)llround(ilo));
        ck_buf_str(b, " to ");
        rp_html_count(b, (int64_t)llround(ihi));
        ck_buf_str(b, ")</td></tr>\n");
    }
    if (sk) {
        ck_buf_str(b, "<tr><th>input stall</th><td>");
        rp_html_num(b, ssum, 2);
        ck_buf_str(b, " s waiting for batches");
        if (k && sum > 0) {
            ck_buf_str(b, " (");
            rp_html_num(b, 100 * ssum / sum, 1);
            ck_buf_str(b, "% of the time)");
        }
        ck_buf_str(b, "</td></tr>\n");
    }
    if (wk && wsum > 0) {
        ck_buf_str(b, "<tr><th>waiting for processes</th><td>");
        rp_html_num(b, wsum, 2);
        ck_buf_str(b, " s</td></tr>\n");
    }
    ck_buf_str(b, "</tbody></table>\n");
}

/* The kept checkpoint's file name: the one evaluated, or the name train
 * gives it. */
static const char *kept_name(const rp_run *r, char *buf, size_t len)
{
    if (r->evaluated && r->eval.checkpoint) {
        const char *s = strrchr(r->eval.checkpoint, '/');
        return s ? s + 1 : r->eval.checkpoint;
    }
    snprintf(buf, len, "%s.%s.ckpt", r->r->name, r->r->best_val_loss_epoch ? "best" : "last");
    return buf;
}

static int curves(rp_doc *d, int i)
{
    const rp_run *r = &d->runs[i];
    ck_buf cap = {0};
    char name[600];
    if (r->r->best_val_loss_epoch) {
        ck_buf_str(&cap, "Training solid, validation dashed. ● marks each panel's best epoch: the "
                         "highest val_accuracy (");
        rp_html_num(&cap, r->r->best_val_accuracy, 4);
        ck_buf_printf(&cap, ", epoch %d) and the lowest val_loss (", r->r->best_val_accuracy_epoch);
        rp_html_num(&cap, r->r->best_val_loss, 4);
        ck_buf_printf(&cap, ", epoch %d). The kept checkpoint, <code>", r->r->best_val_loss_epoch);
        rp_html_text(&cap, kept_name(r, name, sizeof name));
        ck_buf_printf(&cap, "</code>, holds epoch %d, the lowest val_loss.",
                      r->r->best_val_loss_epoch);
    } else {
        ck_buf_str(&cap, "Training loss and accuracy. The run had no validation split: no epoch "
                         "is called best, and the kept checkpoint is the last, <code>");
        rp_html_text(&cap, kept_name(r, name, sizeof name));
        ck_buf_str(&cap, "</code>.");
    }
    if (cap.oom) {
        ck_buf_free(&cap);
        return ck_err(d->err, d->errlen, CK_ENOMEM, "report: out of memory");
    }
    char label[600];
    snprintf(label, sizeof label, "Learning curves of run %s", r->r->name);
    rn_curves_plot_opts o = rn_curves_plot_defaults();
    o.height = 470;
    const char *runs[1] = {r->r->name};
    int rc = rp_figure_curves(d, runs, 1, &o, label, cap.s);
    ck_buf_free(&cap);
    return rc;
}

int rp_sec_runs(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<section id=\"runs\">\n<h2>3 Runs</h2>\n");
    int rc = 0;
    for (int i = 0; i < d->nruns && rc == 0; i++) {
        const rp_run *r = &d->runs[i];
        const char *st = r->r->status ? r->r->status : "unknown";
        ck_buf_printf(b, "<article id=\"run-%d\">\n<h3><bdi>", i + 1);
        rp_html_text(b, r->r->name);
        ck_buf_printf(b, "</bdi> <span class=\"status%s\">", strcmp(st, "done") ? " bad" : "");
        rp_html_text(b, st);
        ck_buf_str(b, "</span></h3>\n<div class=\"cols\">\n");
        configuration(b, r);
        timing(b, r);
        ck_buf_str(b, "</div>\n");
        if (r->n > 0) {
            rc = curves(d, i);
        } else {
            rp_page_note(d, "run %s: no epoch recorded (status %s): no curves to draw", r->r->name,
                         st);
        }
        if (r->r->summary) {
            ck_buf_str(b, "<details open><summary>Model summary</summary><pre>");
            rp_html_text(b, r->r->summary);
            ck_buf_str(b, "</pre></details>\n");
        }
        ck_buf_str(b, "</article>\n");
    }
    ck_buf_str(b, "</section>\n");
    return rc;
}
