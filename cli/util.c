/* util.c: messages, human formats and the progress bar
 * shared by the subcommands. The bar is drawn on stderr only when stderr is
 * a terminal, so logs and pipes get plain lines. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck.h"
#include "cli.h"
#include "nn.h"

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "convkit %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'convkit %s --help')\n", cmd);
    return CLI_USAGE;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "convkit: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_status(int code)
{
    if (code == 0) {
        return CLI_OK;
    }
    return code == CK_EINVAL ? CLI_USAGE : CLI_FAIL;
}

int cli_report(int code, const char *err)
{
    if (code == 0) {
        return CLI_OK;
    }
    fprintf(stderr, "convkit: %s\n", err);
    return cli_status(code);
}

void cli_fmt_count(char *buf, size_t len, int64_t n)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n));
    size_t nd = strlen(digits), o = 0;
    char tmp[48];
    if (n < 0) {
        tmp[o++] = '-';
    }
    for (size_t i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0) {
            tmp[o++] = ',';
        }
        tmp[o++] = digits[i];
    }
    tmp[o] = 0;
    snprintf(buf, len, "%s", tmp);
}

void cli_fmt_bytes(char *buf, size_t len, double bytes)
{
    static const char *unit[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 4) {
        bytes /= 1000.0;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

void cli_fmt_duration(char *buf, size_t len, double seconds)
{
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, len, "?");
        return;
    }
    long s = lround(seconds);
    if (s >= 3600) {
        snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    } else {
        snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
    }
}

void cli_progress_init(cli_progress *p)
{
    p->tty = isatty(STDERR_FILENO);
    p->last_draw = 0;
}

void cli_progress_draw(cli_progress *p, const char *label, double fraction, const char *text,
                       int force)
{
    if (!p->tty) {
        return;
    }
    double now = ck_now();
    if (!force && now - p->last_draw < 0.1) {
        return;
    }
    p->last_draw = now;
    enum { WIDTH = 30 };
    char bar[WIDTH + 3] = "";
    if (fraction >= 0) {
        int fill = (int)(fmin(fraction, 1.0) * WIDTH);
        bar[0] = '[';
        for (int i = 0; i < WIDTH; i++) {
            bar[1 + i] = i < fill ? '#' : '.';
        }
        bar[WIDTH + 1] = ']';
        bar[WIDTH + 2] = 0;
    }
    fprintf(stderr, "\r\033[K%s %s %s", label, bar, text);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty) {
        fputc('\n', stderr);
    }
}

const char *const cli_resize_names[] = {"stretch", "fit", "crop", NULL};
const char *const cli_decode_names[] = {"fast", "full", NULL};

int cli_spec_input(char **spec, const char *model, int h, int w, int c, char *err, size_t errlen)
{
    char *resized = NULL;
    int rc = nn_spec_set_input(*spec, model, h, w, c, &resized, err, errlen);
    if (rc == 0) {
        free(*spec);
        *spec = resized;
    }
    return rc;
}

int cli_model_spec(const char *model, int size, char **spec, char *err, size_t errlen)
{
    int rc = nn_spec_load(model, spec, err, errlen);
    if (rc == 0 && size > 0) {
        rc = cli_spec_input(spec, model, size, size, 0, err, errlen);
    }
    return rc;
}

/* The input directory (among in[], by device and inode) that holds out's
 * folder, or one above it, up to the root; -1 if none does. The walk goes
 * up by "..", so links and relative names are seen as the kernel sees
 * them. */
static int input_dir_holding(const char *out, const char *const *in, int nin)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(out, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        snprintf(dir, sizeof dir, "%.*s", slash == out ? 1 : (int)(slash - out), out);
    }
    struct stat sd, prev = {0};
    for (int depth = 0; stat(dir, &sd) == 0 && depth < 256; depth++) {
        if (depth > 0 && sd.st_dev == prev.st_dev && sd.st_ino == prev.st_ino) {
            break; /* ".." of the root is the root */
        }
        for (int i = 0; i < nin; i++) {
            struct stat si;
            if (in[i] && stat(in[i], &si) == 0 && S_ISDIR(si.st_mode) && si.st_dev == sd.st_dev &&
                si.st_ino == sd.st_ino) {
                return i;
            }
        }
        prev = sd;
        size_t n = strlen(dir);
        if (n + 4 >= sizeof dir) {
            break;
        }
        memcpy(dir + n, "/..", 4);
    }
    return -1; /* or a folder that does not exist, which holds no input */
}

int cli_outputs_apart(const char *cmd, const char *const *in, int nin, const char *const *out,
                      int nout)
{
    for (int o = 0; o < nout; o++) {
        if (!out[o]) {
            continue;
        }
        int d = input_dir_holding(out[o], in, nin);
        if (d >= 0) {
            return cli_usage(cmd,
                             "%s is inside the input folder %s, where it would be read as "
                             "input; write it elsewhere; nothing was written",
                             out[o], in[d]);
        }
        struct stat so;
        if (stat(out[o], &so) != 0) {
            continue;
        }
        for (int i = 0; i < nin; i++) {
            struct stat si;
            if (in[i] && stat(in[i], &si) == 0 && si.st_dev == so.st_dev &&
                si.st_ino == so.st_ino) {
                return cli_usage(cmd, "%s is the same file as the input %s; nothing was written",
                                 out[o], in[i]);
            }
        }
    }
    return CLI_OK;
}

int cli_output_ext(const char *cmd, const char *path, const char *what, const char *exts)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path)) {
        return CLI_OK; /* no extension */
    }
    size_t n = strlen(dot);
    for (const char *e = exts; *e;) {
        size_t k = strcspn(e, ",");
        if (k == n && strncasecmp(e, dot, n) == 0) {
            return CLI_OK;
        }
        e += k + (e[k] == ',');
    }
    return cli_usage(cmd, "%s: a %s file ends in %s, not %s", path, what, exts, dot);
}

int cli_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cli_files_free(cli_files *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int files_add(cli_files *l, const char *dir, const char *name)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->v, (size_t)cap * sizeof *grown);
        if (!grown) {
            return CK_ENOMEM;
        }
        l->v = grown;
        l->cap = cap;
    }
    size_t need = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    if (!(l->v[l->n] = malloc(need))) {
        return CK_ENOMEM;
    }
    snprintf(l->v[l->n++], need, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    return 0;
}

static int is_image_name(const char *name)
{
    static const char *const exts[] = {".jpg",  ".jpeg", ".png",  ".gif",
                                       ".webp", ".tif",  ".tiff", ".bmp"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && name[0] != '.' && i < sizeof exts / sizeof exts[0]; i++) {
        if (!strcasecmp(dot, exts[i])) {
            return 1;
        }
    }
    return 0;
}

int cli_files_expand(cli_files *l, char *const *args, int nargs, char *err, size_t errlen)
{
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            if (files_add(l, NULL, args[i])) {
                return ck_err(err, errlen, CK_ENOMEM, "out of memory");
            }
            continue;
        }
        DIR *d = opendir(args[i]);
        if (!d) {
            char why[128];
            return ck_err(err, errlen, CK_EIO, "%s: %s", args[i],
                          ck_errno_text(errno, why, sizeof why));
        }
        int first = l->n, rc = 0;
        for (struct dirent *de; rc == 0 && (de = readdir(d));) {
            if (is_image_name(de->d_name)) {
                rc = files_add(l, args[i], de->d_name);
            }
        }
        closedir(d);
        if (rc) {
            return ck_err(err, errlen, CK_ENOMEM, "out of memory");
        }
        if (l->n > first) {
            qsort(l->v + first, (size_t)(l->n - first), sizeof *l->v, cli_by_name);
        }
    }
    return 0;
}
