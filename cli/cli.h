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
#include "nn.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_prepare(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_augment(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_curves(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_extract_features(int argc, char **argv);
int cmd_export_weights(int argc, char **argv);
int cmd_activations(int argc, char **argv);
int cmd_filters(int argc, char **argv);
int cmd_heatmap(int argc, char **argv);

/* cmd_viz.c: the figures of activations, filters and heatmap, made but
 * not written (aug_figure_save or aug_figure_encode draws them), for those
 * commands and any other that shows them. Each returns 0 and the figure
 * in *out, or an error naming the checkpoint or image and the reason;
 * CK_EINVAL for what the user chose wrong (an unknown layer or class, a
 * model with no convolution). */
typedef struct cli_viz {
    const char *ckpt;
    const char *image;      /* activations, heatmap: read as predict reads it */
    const aug_src *src;     /* or the image in memory (a catalog's sample),
                               named by src->name; set, image is not read */
    const char *layer;      /* filters: only this Conv2D layer; NULL: each one */
    int count;              /* filters: patterns per deeper layer, 1..256 */
    int layers;             /* filters: patterns of at most this many deeper
                               layers, spread over the depth, the last among
                               them; 0: every one */
    int channels;           /* activations: at most the first this many
                               channels of a layer; 0: all */
    nn_ascent ascent;       /* filters: how patterns are found */
    const char *class_name; /* heatmap: the class explained; NULL: the predicted */
    FILE *say;              /* facts printed as they are found (the predicted
                               class, each layer's filters); NULL: none */
    char what[512];         /* set: what the figure shows, one line */
} cli_viz;
/* count 8, nn_ascent_defaults(), nothing else set. */
cli_viz cli_viz_defaults(const char *ckpt, const char *image);
int cli_viz_activations(cli_viz *v, aug_figure **out, char *err, size_t errlen);
int cli_viz_filters(cli_viz *v, aug_figure **out, char *err, size_t errlen);
int cli_viz_heatmap(cli_viz *v, aug_figure **out, char *err, size_t errlen);

/* comm.c: the processes of an mpirun job as the trainer's nn_comm (NULL
 * when alone), and the start-up check that every process is ready and
 * reads a catalog with the same hash: returns rc if this process failed,
 * else an error naming the process (and machine) that failed or differs,
 * else 0. Alone it returns rc. */
const nn_comm *cli_comm(void);
int cli_comm_agree(int rc, const char *path, const char *hash, char *err, size_t errlen);
/* From the start of training on, every process ends with the others: a
 * failure or a stop on one is agreed on by all, so a process that fails
 * may leave the job in order (MPI_Finalize) rather than end it, and
 * process 0 records how the run ended. cli_comm_together says so, unless
 * a call between the processes failed. */
void cli_comm_set_together(void);
int cli_comm_together(void);

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
 * skipped. An output inside an input folder (at any depth) is refused
 * too, since the folder's reader would take it as input. */
int cli_outputs_apart(const char *cmd, const char *const *in, int nin, const char *const *out,
                      int nout);
/* Refuses (CLI_USAGE, naming the path and what it would hold) an output
 * whose file extension is not one of exts, a comma-separated list such as
 * ".csv,.json", ignoring case; a name without an extension is taken. */
int cli_output_ext(const char *cmd, const char *path, const char *what, const char *exts);

/* ---- options (opts.c) ---------------------------------------------------
 *
 * Every command's options are a table of cli_opt ending in {0}, kept
 * beside its usage text in a cli_spec; cli_parse reads argv with it and
 * cli_help prints it, so the rule an error states is the one --help shows.
 * Destinations by kind: CLI_FLAG int (set to 1), CLI_INT int64_t in
 * [min, max], CLI_NUM double in [lo, hi] (ends open per `open`), CLI_STR,
 * CLI_POLICY (checked by aug_policy_parse) and CLI_MODEL (a built-in or a
 * spec file, nn_spec_load) const char * borrowed from argv, CLI_CHOICE int
 * (the index in `choices`, matched ignoring case), CLI_FN whatever fn
 * stores: fn returns nonzero for a bad value, with a reason in why or
 * none (then the error says "want RULE, got 'VALUE'"). */
typedef enum cli_kind {
    CLI_FLAG,
    CLI_INT,
    CLI_NUM,
    CLI_STR,
    CLI_CHOICE,
    CLI_POLICY,
    CLI_MODEL,
    CLI_FN
} cli_kind;

#define CLI_NOMAX INT64_MAX
enum { CLI_OPEN_LO = 1, CLI_OPEN_HI = 2 };

typedef struct cli_opt {
    const char *name; /* the long name, without "--"; NULL ends a table */
    char letter;      /* the short name (-o), 0 if none */
    cli_kind kind;
    void *dest;
    const char *arg;            /* the value in the help: "N", "FILE"; NULL for flags */
    const char *help;           /* what it sets, with its default; the rule is appended */
    int64_t min, max;           /* CLI_INT; max CLI_NOMAX for no upper bound */
    double lo, hi;              /* CLI_NUM; hi INFINITY for no upper bound */
    int open;                   /* CLI_NUM: CLI_OPEN_LO and/or CLI_OPEN_HI */
    const char *const *choices; /* CLI_CHOICE: NULL-terminated */
    int (*fn)(void *dest, const char *value, char *why, size_t whylen); /* CLI_FN */
    const char *rule; /* CLI_FN: the rule in words, for --help and errors */
} cli_opt;

/* Table entries, with each destination's type checked. */
#define CLI_FLAG_OPT(name_, letter_, dest_, help_)                                                     \
    {                                                                                                  \
        .name = name_, .letter = letter_, .kind = CLI_FLAG,                                          \
     .dest = _Generic((dest_), int *: (dest_)), .help = help_ \
    }
#define CLI_INT_OPT(name_, letter_, dest_, arg_, help_, min_, max_)                                \
    {                                                                                              \
        .name = name_, .letter = letter_, .kind = CLI_INT,                                         \
        .dest = _Generic((dest_), int64_t *                                                        \
                         : (dest_)),                                                               \
        .arg = arg_, .help = help_, .min = min_, .max = max_                                       \
    }
#define CLI_NUM_OPT(name_, dest_, arg_, help_, lo_, hi_, open_)                                        \
    {                                                                                                  \
        .name = name_, .kind = CLI_NUM, .dest = _Generic((dest_), double *: (dest_)), .arg = arg_,   \
     .help = help_, .lo = lo_, .hi = hi_, .open = open_ \
    }
#define CLI_STR_OPT(name_, letter_, dest_, arg_, help_)                                                \
    {                                                                                                  \
        .name = name_, .letter = letter_, .kind = CLI_STR,                                           \
     .dest = _Generic((dest_), const char **: (dest_)), .arg = arg_, .help = help_ \
    }
#define CLI_CHOICE_OPT(name_, dest_, arg_, help_, choices_)                                            \
    {                                                                                                  \
        .name = name_, .kind = CLI_CHOICE, .dest = _Generic((dest_), int *: (dest_)), .arg = arg_,   \
     .help = help_, .choices = choices_ \
    }
#define CLI_POLICY_OPT(name_, dest_, arg_, help_)                                                      \
    {                                                                                                  \
        .name = name_, .kind = CLI_POLICY, .dest = _Generic((dest_), const char **: (dest_)),        \
     .arg = arg_, .help = help_ \
    }
#define CLI_MODEL_OPT(name_, dest_, arg_, help_)                                                       \
    {                                                                                                  \
        .name = name_, .kind = CLI_MODEL, .dest = _Generic((dest_), const char **: (dest_)),         \
     .arg = arg_, .help = help_ \
    }
#define CLI_FN_OPT(name_, dest_, arg_, help_, fn_, rule_)                                          \
    {                                                                                              \
        .name = name_, .kind = CLI_FN, .dest = (dest_), .arg = arg_, .help = help_, .fn = fn_,     \
        .rule = rule_                                                                              \
    }
#define CLI_END_OPT                                                                                \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* A command: its name in messages ("augment preview"), the usage text
 * printed before the options, the options, and the options that must be
 * given and those that exclude each other, as space-separated groups of
 * names joined by '|': required "data|features model" (one of --data and
 * --features, and --model), exclusive "data|features" (not both).
 * more_help, if set, prints what follows the options (policy keys). */
typedef struct cli_spec {
    const char *cmd;
    const char *usage;
    const cli_opt *opts;
    const char *required, *exclusive;
    void (*more_help)(FILE *f);
} cli_spec;

/* cli_parse's "go on": a command returns anything else as its status. */
enum { CLI_GO = -1 };
/* Reads argv[1..argc) with s. Returns CLI_GO with the positional
 * arguments in argv[*first..argc), in their order (options are moved
 * before them); CLI_OK after printing the help for -h or --help; or
 * CLI_USAGE after printing "convkit CMD: --NAME: want RULE, got 'VALUE'"
 * (or an unknown option with a "did you mean", a missing value, a
 * required or exclusive group). Not thread-safe (prints). */
int cli_parse(const cli_spec *s, int argc, char **argv, int *first);
/* The usage text, then one line per option: its names, help and rule. */
void cli_help(const cli_spec *s, FILE *f);
/* The index of verb in the NULL-terminated verbs; else prints "convkit
 * CMD: 'VERB': want 'a' or 'b'; did you mean 'a'?" and returns -1. */
int cli_verb(const char *cmd, const char *verb, const char *const *verbs);

/* A whole string as a signed decimal integer; returns 0 or -1. */
int cli_parse_i64(const char *s, int64_t *out);
/* The --resize choices, in aug_resize's order (CLI_CHOICE). */
extern const char *const cli_resize_names[];
/* The --decode choices: fast (0), full (1). */
extern const char *const cli_decode_names[];
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
