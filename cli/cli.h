/* cli.h: what the convkit subcommands share inside cli/.
 *
 * Each subcommand is `int cmd_NAME(int argc, char **argv)` with argv[0] the
 * subcommand's name, and returns the process exit status: 0 success,
 * 1 failure, 2 bad usage. Only cli/ prints; the library returns messages.
 */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>
#include <stdio.h>

#include "aug.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_prepare(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_augment(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_curves(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_extract_features(int argc, char **argv);
int cmd_export_weights(int argc, char **argv);

/* "convkit CMD: message" on stderr; returns CLI_USAGE, with a hint to --help. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "convkit: message" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit status for a library status code (CK_EINVAL is usage). */
int cli_status(int code);
/* 0 -> CLI_OK; else prints "convkit: err" and returns cli_status(code). */
int cli_report(int code, const char *err);

/* Refuses an output that is the same file as an input, by device and
 * inode (so another name, a relative path or a link to the input count
 * too): prints "convkit CMD: OUT is the same file as the input IN;
 * nothing was written" and returns CLI_USAGE; CLI_OK when every output is
 * new or another file. NULL entries, and paths that do not exist yet, are
 * skipped. */
int cli_outputs_apart(const char *cmd, const char *const *in, int nin, const char *const *out,
                      int nout);
/* Refuses (CLI_USAGE, naming the path and what it would hold) an output
 * whose file extension is not one of exts, a comma-separated list such as
 * ".csv,.json", ignoring case; a name without an extension is taken. */
int cli_output_ext(const char *cmd, const char *path, const char *what, const char *exts);

/* Parses a non-negative integer option value, whole string; returns 0 or -1. */
int cli_parse_i64(const char *s, int64_t *out);
/* Parses a number; returns 0 or -1. */
int cli_parse_double(const char *s, double *out);
/* "stretch", "fit", "crop" -> *out; -1 if unknown. */
int cli_parse_resize(const char *s, aug_resize *out);
/* A model argument's spec text (nn_spec_load), its input made size x size
 * when size > 0 (nn_spec_set_input). *spec is malloc'd, NULL on error. */
int cli_model_spec(const char *model, int size, char **spec, char *err, size_t errlen);
/* *spec (malloc'd) with its Input shape made (h, w, c), c <= 0 keeping its
 * channels (nn_spec_set_input); unchanged on error. */
int cli_spec_input(char **spec, const char *model, int h, int w, int c, char *err, size_t errlen);

/* A list of file paths, each malloc'd. Start it as `cli_files l = {0};`. */
typedef struct cli_files {
    char **v;
    int n, cap;
} cli_files;
void cli_files_free(cli_files *l);
/* Appends each of args to l, a directory as its image files (.jpg, .jpeg,
 * .png, .gif, .webp, .tif, .tiff, .bmp, any case; not hidden ones) in
 * byte-wise order of name, without entering subdirectories; a directory
 * that cannot be read is CK_EIO naming it. Returns 0, CK_EIO, CK_ENOMEM. */
int cli_files_expand(cli_files *l, char *const *args, int nargs, char *err, size_t errlen);
/* qsort order of char * by strcmp. */
int cli_by_name(const void *a, const void *b);

/* Progress: a bar redrawn in place when stderr is a terminal, otherwise
 * nothing until cli_progress_line. */
typedef struct cli_progress {
    int tty;
    double last_draw;
} cli_progress;
void cli_progress_init(cli_progress *p);
/* Redraws "label [####....] text" (fraction < 0: no bar). Rate-limited
 * unless force. */
void cli_progress_draw(cli_progress *p, const char *label, double fraction, const char *text,
                       int force);
/* Ends the bar (newline) on a terminal. */
void cli_progress_end(cli_progress *p);

/* Human formats: "1,234,567", "12.3 MB", "1:02:03". */
void cli_fmt_count(char *buf, size_t len, int64_t n);
void cli_fmt_bytes(char *buf, size_t len, double bytes);
void cli_fmt_duration(char *buf, size_t len, double seconds);

#endif
