/* page.c: the page around the sections, and rp_report_write.
 *
 * The head carries everything the page needs and forbids the rest: UTF-8,
 * a Content-Security-Policy that lets the browser load nothing (no
 * default source; images from data: URIs only; the one inline style
 * sheet), and that style sheet, which uses the system's fonts (nothing to
 * fetch) and has a print part: no contents box, each section on a new
 * page (the first under the title), figures and tables kept whole, colours kept (the confusion
 * matrix's cells are its data). The page has no script; it reads the same
 * without JavaScript because there is none.
 *
 * The whole page is built in memory and written once, through
 * ck_write_file_atomic: a report that fails halfway leaves nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_internal.h"

#define CSP                                                                                        \
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "              \
    "form-action 'none'"

static const char css[] =
    ":root{--blue:#1f77b4;--line:#e1e4e8;--soft:#f6f8fa}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#fff;color:#1a1a1a;font:15px/1.5 system-ui,-apple-system,"
    "\"Segoe UI\",Roboto,\"Noto Sans\",\"DejaVu Sans\",sans-serif}\n"
    "main{max-width:1140px;margin:0 auto;padding:28px 36px 64px}\n"
    "h1{font-size:30px;margin:0 0 6px}\n"
    "h2{font-size:23px;margin:56px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--blue)}\n"
    "h3{font-size:19px;margin:40px 0 8px}\n"
    "h4{font-size:15px;margin:22px 0 6px}\n"
    "p{margin:6px 0 10px;max-width:82ch}\n"
    "code,pre{font-family:ui-monospace,\"DejaVu Sans Mono\",Menlo,Consolas,monospace;"
    "font-size:13px}\n"
    "code{background:var(--soft);padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}\n"
    "h3 code{font-size:inherit;background:none;padding:0}\n"
    "pre{background:var(--soft);border:1px solid var(--line);padding:10px 12px;overflow-x:auto;"
    "line-height:1.35;width:fit-content;max-width:100%}\n"
    ".wide{overflow-x:auto;max-width:100%}\n"
    ".lead{color:#444}\n"
    "nav.toc{background:var(--soft);border:1px solid var(--line);padding:10px 18px;margin:18px "
    "0}\n"
    "nav.toc ol{margin:0;padding-left:22px}\n"
    "nav.toc ol ol{columns:3;padding-left:18px}\n"
    "table{border-collapse:collapse;margin:8px 0 18px;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top}\n"
    "thead th{border-bottom:2px solid #999;vertical-align:bottom}\n"
    "thead th.num{white-space:normal}\n"
    ".num{text-align:right;white-space:nowrap}\n"
    ".wide td:first-child{white-space:nowrap}\n"
    "table.kv th{font-weight:600;white-space:nowrap;color:#333}\n"
    "figure{margin:14px 0 22px}\n"
    "svg.fig{display:block;width:100%;height:auto;max-width:1100px}\n"
    "figcaption{color:#555;font-size:13.5px;margin-top:4px;max-width:100ch}\n"
    ".note{background:#fff8e5;border-left:4px solid #e0a800;padding:6px 12px;max-width:none}\n"
    ".status{font-size:13px;font-weight:600;padding:1px 8px;border-radius:10px;"
    "background:#e8f1fa;color:#1f4e79;vertical-align:middle}\n"
    ".status.bad{background:#fdecea;color:#8a1c1c}\n"
    ".thumbrow{display:flex;align-items:center;gap:6px;margin:4px 0;flex-wrap:wrap}\n"
    ".thumbrow .cls{min-width:7em;font-weight:600;overflow-wrap:anywhere}\n"
    "img.thumb{height:64px;width:auto;border:1px solid #ddd;background:#fff}\n"
    "img.pix{image-rendering:pixelated}\n"
    ".grids{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}\n"
    ".grids figure{margin:0}\n"
    ".grids img{display:block;max-width:100%;height:auto}\n"
    ".grids img.pix{height:auto}\n"
    ".cols{display:flex;flex-wrap:wrap;gap:8px 40px;align-items:flex-start}\n"
    "table.cm td{text-align:center;min-width:3.2em;border:1px solid #fff;padding:4px 6px}\n"
    "table.cm th{text-align:center}\n"
    "table.cm th.rowh{text-align:right}\n"
    ".axis{color:#555;font-size:13px;font-weight:400}\n"
    ".mistakes{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:12px;"
    "margin:8px 0 18px}\n"
    ".mistakes figure{margin:0;text-align:center}\n"
    ".mistakes img{height:96px;width:auto;max-width:100%;border:1px solid #ddd}\n"
    ".mistakes figcaption{font-size:12.5px;margin:2px 0 0}\n"
    ".kernels{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}\n"
    ".kernels figure{margin:0}\n"
    ".kernels img{display:block;width:100%;height:auto;border:1px solid #ddd;background:#fff}\n"
    ".kernels img.pix{image-rendering:pixelated;height:260px;object-fit:contain}\n"
    "figure.view img{display:block;max-width:100%;height:auto}\n"
    "footer{margin-top:56px;color:#777;font-size:13px;border-top:1px solid var(--line);"
    "padding-top:8px}\n"
    "@media print{\n"
    "  body{font-size:11pt}\n"
    "  main{max-width:none;padding:0}\n"
    "  nav.toc{display:none}\n"
    "  h2{break-before:page}\n"
    "  #dataset h2{break-before:auto}\n"
    "  h3,h4{break-after:avoid}\n"
    "  figure,table,pre,.thumbrow,.mistakes figure{break-inside:avoid}\n"
    "  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "  a{color:inherit;text-decoration:none}\n"
    "}\n";

int rp_figure_curves(rp_doc *d, const char *const *runs, int nruns, const rn_curves_plot_opts *o,
                     const char *label, const char *caption_html)
{
    char *svg = NULL;
    int rc = rn_curves_plot_svg(d->o->runs_path, runs, nruns, o, &svg, NULL, d->err, d->errlen);
    if (rc) {
        return rc;
    }
    char prefix[32];
    snprintf(prefix, sizeof prefix, "f%d", ++d->figures);
    ck_buf_str(&d->page, "<figure>\n");
    if (rp_svg_inline(&d->page, svg, prefix, label) != 0) {
        rc = ck_err(d->err, d->errlen, CK_EFORMAT, "%s: report: the figure is not SVG",
                    d->o->runs_path);
    }
    free(svg);
    ck_buf_str(&d->page, "\n<figcaption>");
    ck_buf_str(&d->page, caption_html);
    ck_buf_str(&d->page, "</figcaption>\n</figure>\n");
    return rc;
}

/* The contents: the sections, and under "Runs" every run. */
static void contents(rp_doc *d)
{
    ck_buf *b = &d->page;
    ck_buf_str(b, "<nav class=\"toc\" aria-label=\"Contents\"><ol>\n"
                  "<li><a href=\"#dataset\">Dataset</a></li>\n"
                  "<li><a href=\"#augmentation\">Augmentation</a></li>\n"
                  "<li><a href=\"#runs\">Runs</a><ol>\n");
    for (int i = 0; i < d->nruns; i++) {
        ck_buf_printf(b, "<li><a href=\"#run-%d\">", i + 1);
        rp_html_text(b, d->runs[i].r->name);
        ck_buf_str(b, "</a></li>\n");
    }
    ck_buf_str(b, "</ol></li>\n"
                  "<li><a href=\"#comparison\">Comparison</a></li>\n"
                  "<li><a href=\"#evaluation\">Evaluation</a></li>\n"
                  "<li><a href=\"#network\">What the network looks at</a></li>\n"
                  "</ol></nav>\n");
}

static void head(rp_doc *d)
{
    ck_buf *b = &d->page;
    const char *title = d->o->title ? d->o->title : "Experiment report";
    ck_buf_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"" CSP "\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"convkit report\">\n<title>");
    rp_html_text(b, title);
    ck_buf_str(b, " \xE2\x80\x94 ");
    rp_html_text(b, d->o->runs_path);
    ck_buf_str(b, "</title>\n<style>\n");
    ck_buf_str(b, css);
    ck_buf_str(b, "</style>\n</head>\n<body>\n<main>\n<header>\n<h1>");
    rp_html_text(b, title);
    ck_buf_str(b, "</h1>\n<p class=\"lead\">");
    rp_html_count(b, d->nruns);
    ck_buf_printf(b, " run%s from <code>", d->nruns == 1 ? "" : "s");
    rp_html_text(b, d->o->runs_path);
    ck_buf_str(b, "</code>: ");
    for (int i = 0; i < d->nruns; i++) {
        ck_buf_str(b, i ? ", " : "");
        ck_buf_str(b, "<bdi>");
        rp_html_text(b, d->runs[i].r->name);
        ck_buf_str(b, "</bdi>");
    }
    ck_buf_str(b, ". Every figure and picture is inside this file: it needs no network, no "
                  "script and no other file.</p>\n");
    contents(d);
    ck_buf_str(b, "</header>\n");
}

int rp_report_write(const rp_opts *o, char **notes, char *err, size_t errlen)
{
    if (notes) {
        *notes = NULL;
    }
    if (!o || !o->runs_path || !o->out_path) {
        return ck_err(err, errlen, CK_EINVAL, "report: runs.db and an output are needed");
    }
    rp_doc d;
    int rc = rp_gather(&d, o, err, errlen);
    if (rc == 0) {
        head(&d);
    }
    int (*const sections[])(rp_doc *) = {rp_sec_dataset, rp_sec_augment, rp_sec_runs,
                                         rp_sec_compare, rp_sec_eval,    rp_sec_network};
    for (size_t i = 0; rc == 0 && i < sizeof sections / sizeof sections[0]; i++) {
        rc = sections[i](&d);
    }
    if (rc == 0) {
        ck_buf_str(&d.page, "<footer>Made by <code>convkit report</code> from <code>");
        rp_html_text(&d.page, o->runs_path);
        ck_buf_str(&d.page, "</code>.</footer>\n</main>\n</body>\n</html>\n");
    }
    if (rc == 0 && (d.page.oom || d.notes.oom)) {
        rc = ck_err(err, errlen, CK_ENOMEM, "report: out of memory");
    }
    if (rc == 0) {
        rc = ck_write_file_atomic(o->out_path, d.page.s, d.page.len, err, errlen);
    }
    if (rc == 0 && notes && d.notes.len) {
        *notes = ck_buf_take(&d.notes);
        if (!*notes) {
            rc = ck_err(err, errlen, CK_ENOMEM, "report: out of memory");
        }
    }
    rp_doc_free(&d);
    return rc;
}
