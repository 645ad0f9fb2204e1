/* sec_compare.c: "Comparison": the runs side by side, which is where the
 * chapter's argument is made. The curves overlaid (with augmentation the
 * validation curves stay with the training ones, without they part), the
 * gap between training and validation accuracy per epoch (overfitting in
 * one number), and a table of the best and last figures of each arm, with
 * the mean and spread over its seeds where it was repeated.
 *
 * A figure holds ten runs at most (one colour each): with more, it shows
 * the first run of each arm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_internal.h"

enum { MAX_FIGURE_RUNS = 10 };

/* A column of the table: one value per run of a group. */
typedef double (*measure)(const rp_run *r);

static double best_val_acc(const rp_run *r)
{
    return r->r->best_val_accuracy;
}

static double best_val_loss(const rp_run *r)
{
    return r->r->best_val_loss;
}

static double last_acc(const rp_run *r)
{
    return rp_value(r, rp_last_row(r, RP_ACC), RP_ACC);
}

static double last_val_acc(const rp_run *r)
{
    return rp_value(r, rp_last_row(r, RP_VAL_ACC), RP_VAL_ACC);
}

static double last_gap(const rp_run *r)
{
    int i = rp_last_row(r, RP_VAL_ACC);
    return rp_value(r, i, RP_ACC) - rp_value(r, i, RP_VAL_ACC);
}

static double test_acc(const rp_run *r)
{
    return r->evaluated ? r->eval.accuracy : (double)NAN;
}

/* "epoch 12" or "epochs 11–15": where the bests of a group lie. */
static void epochs(ck_buf *b, const rp_doc *d, const rp_group *g, int loss)
{
    int lo = 0, hi = 0;
    for (int k = 0; k < g->n; k++) {
        const rn_curves_run *r = d->runs[g->runs[k]].r;
        int e = loss ? r->best_val_loss_epoch : r->best_val_accuracy_epoch;
        if (e > 0) {
            lo = lo && lo < e ? lo : e;
            hi = hi > e ? hi : e;
        }
    }
    if (lo == hi && lo) {
        ck_buf_printf(b, "<br><small>epoch %d</small>", lo);
    } else if (lo) {
        ck_buf_printf(b, "<br><small>epochs %d–%d</small>", lo, hi);
    }
}

/* The cell of measure m over group g; with best (1 val_accuracy, 2
 * val_loss) the epochs of the bests under it. */
static void cell(ck_buf *b, const rp_doc *d, const rp_group *g, measure m, int best)
{
    double v[256];
    int n = g->n < 256 ? g->n : 256;
    for (int k = 0; k < n; k++) {
        v[k] = m(&d->runs[g->runs[k]]);
    }
    ck_buf_str(b, "<td class=\"num\">");
    rp_html_mean_sd(b, v, n, 4);
    if (best) {
        epochs(b, d, g, best == 2);
    }
    ck_buf_str(b, "</td>");
}

static void table(rp_doc *d)
{
    ck_buf *b = &d->page;
    int evaluated = 0, repeated = 0;
    const char *split = NULL; /* the evaluations' split, "held-out" when they differ */
    for (int i = 0; i < d->nruns; i++) {
        const rp_run *r = &d->runs[i];
        if (r->evaluated) {
            split = !split || !strcmp(split, r->eval_split) ? r->eval_split : "held-out";
            evaluated = 1;
        }
    }
    for (int g = 0; g < d->ngroups; g++) {
        repeated |= d->groups[g].n > 1;
    }
    ck_buf_str(b, "<div class=\"wide\"><table><thead><tr><th>arm</th><th class=\"num\">seeds</th>"
                  "<th class=\"num\">best val_accuracy</th>"
                  "<th class=\"num\">lowest val_loss</th>"
                  "<th class=\"num\">last accuracy</th><th class=\"num\">last val_accuracy</th>"
                  "<th class=\"num\">gap at the end</th>");
    if (evaluated) {
        ck_buf_str(b, "<th class=\"num\">");
        rp_html_text(b, split);
        ck_buf_str(b, " accuracy</th>");
    }
    ck_buf_str(b, "</tr></thead>\n<tbody>\n");
    for (int gi = 0; gi < d->ngroups; gi++) {
        const rp_group *g = &d->groups[gi];
        ck_buf_str(b, "<tr><td><bdi>");
        rp_html_text(b, g->label);
        ck_buf_printf(b, "</bdi></td><td class=\"num\">%d</td>", g->n);
        cell(b, d, g, best_val_acc, 1);
        cell(b, d, g, best_val_loss, 2);
        cell(b, d, g, last_acc, 0);
        cell(b, d, g, last_val_acc, 0);
        cell(b, d, g, last_gap, 0);
        if (evaluated) {
            cell(b, d, g, test_acc, 0);
        }
        ck_buf_str(b, "</tr>\n");
    }
    ck_buf_str(
        b, "</tbody></table></div>\n<p class=\"lead\">One row per arm: runs that differ only by "
           "seed (or by threads and processes) are one arm");
    if (repeated) {
        ck_buf_str(b, ", and their figures are the mean ± the sample standard deviation over "
                      "the seeds (over n − 1, as results.md gives it)");
    }
    ck_buf_str(b, ". The gap at the end is accuracy − val_accuracy at the last epoch");
    if (evaluated) {
        ck_buf_str(b, "; the last column is the kept checkpoint's, from the evaluation below");
    }
    ck_buf_str(b, ".</p>\n");
}

int rp_sec_compare(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<section id=\"comparison\">\n<h2>4 Comparison</h2>\n");
    /* The runs drawn: all, or the first of each arm when they are too many. */
    const char *names[MAX_FIGURE_RUNS];
    int n = 0, rc = 0, all = d->nruns <= MAX_FIGURE_RUNS;
    for (int i = 0; i < d->nruns && n < MAX_FIGURE_RUNS; i++) {
        if (d->runs[i].n > 0 && (all || d->groups[d->runs[i].group].runs[0] == i)) {
            names[n++] = d->runs[i].r->name;
        }
    }
    if (!all) {
        rp_page_note(d, "%d runs: the figures show %d of them, the first of each arm", d->nruns, n);
    }
    if (n > 1) {
        rn_curves_plot_opts o = rn_curves_plot_defaults();
        o.title = "The runs overlaid";
        rc = rp_figure_curves(d, names, n, &o, "Learning curves of the runs overlaid",
                              "Every run in its colour, training solid and validation dashed. "
                              "A network that learns a small training set by heart shows it "
                              "here: training accuracy climbs towards 1 while validation "
                              "accuracy stalls and validation loss turns upward. Augmentation "
                              "is meant to keep the two together.");
    }
    if (rc == 0 && n > 0) {
        rn_curves_plot_opts o = rn_curves_plot_defaults();
        o.layout = RN_CURVES_GAP;
        rc = rp_figure_curves(
            d, names, n, &o, "Gap between training and validation accuracy per epoch",
            "accuracy − val_accuracy per epoch: how much better the network does on the images "
            "it trains on than on images it has not seen. It grows as a network overfits; 0 is "
            "where the two agree. The first epochs can lie below 0 because accuracy is averaged "
            "over an epoch while the weights improve, and val_accuracy is measured at its end, "
            "as Keras does.");
    }
    if (rc == 0) {
        table(d);
    }
    ck_buf_str(b, "</section>\n");
    return rc;
}
