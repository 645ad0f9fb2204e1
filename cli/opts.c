/* opts.c: the one option parser of every convkit command.
 *
 * A command describes its options in a table (cli_opt: name, kind,
 * destination, bounds, help) next to its usage text, and cli_parse reads
 * argv against it. The same table prints --help and words the errors, and
 * one function (rule_text) states each option's rule for both, so the
 * range --help shows is the range that is checked:
 *
 *     convkit train: --epochs: want an integer >= 1, got '0'
 *
 * Syntax is getopt_long's, less its abbreviations: --name VALUE,
 * --name=VALUE, -x VALUE, -xVALUE; options and positional arguments mix
 * freely and "--" ends the options. A long option must be spelled out
 * (an unknown one gets a "did you mean", ck_nearest), since an accepted
 * abbreviation turns a typo into another option. Values are checked
 * when they are read, before a command opens anything, so every usage
 * error exits 2 before any work starts. Repeating an option keeps the
 * last value (CLI_FN options may collect them instead).
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ck.h"
#include "cli.h"
#include "nn.h"

enum { HELP_COLUMN = 26, HELP_WIDTH = 79, MAX_OPTS = 64 };

/* "an integer >= 1", "a number in (0, 1]", "one of a, b, c". */
static void rule_text(const cli_opt *o, char *buf, size_t len)
{
    char lo[32], hi[32];
    switch (o->kind) {
    case CLI_INT:
        if (o->max == CLI_NOMAX) {
            snprintf(buf, len, "an integer >= %lld", (long long)o->min);
        } else {
            snprintf(buf, len, "an integer from %lld to %lld", (long long)o->min,
                     (long long)o->max);
        }
        return;
    case CLI_NUM:
        ck_fmt_double(lo, sizeof lo, o->lo);
        ck_fmt_double(hi, sizeof hi, o->hi);
        if (isinf(o->hi)) {
            snprintf(buf, len, "a number %s %s", o->open & CLI_OPEN_LO ? ">" : ">=", lo);
        } else {
            snprintf(buf, len, "a number in %c%s, %s%c", o->open & CLI_OPEN_LO ? '(' : '[', lo, hi,
                     o->open & CLI_OPEN_HI ? ')' : ']');
        }
        return;
    case CLI_CHOICE: {
        size_t used = (size_t)snprintf(buf, len, "one of");
        for (int i = 0; o->choices[i] && used < len; i++) {
            used += (size_t)snprintf(buf + used, len - used, "%s %s", i ? "," : "", o->choices[i]);
        }
        return;
    }
    case CLI_FN: snprintf(buf, len, "%s", o->rule ? o->rule : ""); return;
    default: buf[0] = 0; return;
    }
}

static int opt_error(const cli_spec *s, const cli_opt *o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "convkit CMD: --NAME: message" and the --help hint; CLI_USAGE. */
static int opt_error(const cli_spec *s, const cli_opt *o, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cli_usage(s->cmd, "%s%s: %s", strlen(o->name) == 1 ? "-" : "--", o->name, msg);
}

static int want(const cli_spec *s, const cli_opt *o, const char *value)
{
    char rule[512];
    rule_text(o, rule, sizeof rule);
    return opt_error(s, o, "want %s, got '%s'", rule, value);
}

int cli_parse_i64(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end) {
        return -1;
    }
    *out = x;
    return 0;
}

/* Checks value against o's rule and stores it. */
static int apply(const cli_spec *s, const cli_opt *o, const char *v)
{
    switch (o->kind) {
    case CLI_FLAG: *(int *)o->dest = 1; return CLI_OK;
    case CLI_STR: *(const char **)o->dest = v; return CLI_OK;
    case CLI_INT: {
        int64_t x;
        if (cli_parse_i64(v, &x) || x < o->min || (o->max != CLI_NOMAX && x > o->max)) {
            return want(s, o, v);
        }
        *(int64_t *)o->dest = x;
        return CLI_OK;
    }
    case CLI_NUM: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x) || x < o->lo || x > o->hi ||
            ((o->open & CLI_OPEN_LO) && x == o->lo) || ((o->open & CLI_OPEN_HI) && x == o->hi)) {
            return want(s, o, v);
        }
        *(double *)o->dest = x;
        return CLI_OK;
    }
    case CLI_CHOICE: {
        ck_nearest n;
        ck_nearest_init(&n, v);
        for (int i = 0; o->choices[i]; i++) {
            if (strcasecmp(v, o->choices[i]) == 0) {
                *(int *)o->dest = i;
                return CLI_OK;
            }
            ck_nearest_add(&n, o->choices[i]);
        }
        char rule[512];
        rule_text(o, rule, sizeof rule);
        return n.best ? opt_error(s, o, "want %s, got '%s'; did you mean %s?", rule, v, n.best)
                      : want(s, o, v);
    }
    case CLI_POLICY: {
        char err[1024];
        aug_policy *p = NULL;
        if (aug_policy_parse(&p, v, err, sizeof err)) {
            return opt_error(s, o, "%s", err);
        }
        aug_policy_destroy(p);
        *(const char **)o->dest = v;
        return CLI_OK;
    }
    case CLI_MODEL: {
        char err[1024], *spec = NULL;
        int rc = nn_spec_load(v, &spec, err, sizeof err);
        free(spec);
        if (rc == CK_EINVAL) {
            return opt_error(s, o, "%s", err);
        }
        *(const char **)o->dest = v; /* other failures are the command's to report */
        return CLI_OK;
    }
    case CLI_FN: {
        char why[512] = "";
        if (o->fn(o->dest, v, why, sizeof why)) {
            return why[0] ? opt_error(s, o, "%s", why) : want(s, o, v);
        }
        return CLI_OK;
    }
    }
    return CLI_OK;
}

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len)
{
    for (const cli_opt *o = opts; o->name; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) {
            return o;
        }
    }
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char letter)
{
    for (const cli_opt *o = opts; o->name; o++) {
        if (o->letter && o->letter == letter) {
            return o;
        }
    }
    return NULL;
}

static int unknown_option(const cli_spec *s, const char *arg)
{
    char name[128];
    size_t len = strcspn(arg, "=");
    snprintf(name, sizeof name, "%.*s", (int)(len < 100 ? len : 100), arg);
    if (arg[1] != '-') {
        return cli_usage(s->cmd, "%s: unknown option", name);
    }
    ck_nearest n;
    ck_nearest_init(&n, name + 2);
    for (const cli_opt *o = s->opts; o->name; o++) {
        if (o->name[1]) { /* one-letter names are short options */
            ck_nearest_add(&n, o->name);
        }
    }
    ck_nearest_add(&n, "help");
    if (n.best) {
        return cli_usage(s->cmd, "%s: unknown option; did you mean --%s?", name, n.best);
    }
    return cli_usage(s->cmd, "%s: unknown option", name);
}

/* Moves argv[i..i+t) to argv[*o..), shifting the positional arguments in
 * argv[*o..i) after them: options first, positionals last, each in the
 * order given (getopt_long's permutation). */
static void take(char **argv, int *o, int i, int t)
{
    char *held[2] = {argv[i], t > 1 ? argv[i + 1] : NULL};
    memmove(argv + *o + t, argv + *o, (size_t)(i - *o) * sizeof *argv);
    for (int k = 0; k < t; k++) {
        argv[*o + k] = held[k];
    }
    *o += t;
}

/* The space-separated groups of `names`, each "a|b|c", checked against
 * the options given: each group needs one (required) or at most one
 * (exclusive) of its options. */
static int check_groups(const cli_spec *s, const unsigned char *given, const char *names,
                        int exclusive)
{
    for (const char *g = names; g && *g;) {
        size_t glen = strcspn(g, " ");
        const cli_opt *seen[8];
        int nseen = 0, nalt = 0;
        char alts[256] = "";
        size_t used = 0;
        for (const char *a = g; a < g + glen;) {
            size_t alen = strcspn(a, "| ");
            const cli_opt *o = find_long(s->opts, a, alen);
            if (o && given[o - s->opts] && nseen < 8) {
                seen[nseen++] = o;
            }
            used += (size_t)snprintf(alts + used, used < sizeof alts ? sizeof alts - used : 0,
                                     "%s--%.*s", nalt ? " or " : "", (int)alen, a);
            nalt++;
            a += alen + (a[alen] == '|');
        }
        if (exclusive && nseen > 1) {
            return cli_usage(s->cmd, "--%s and --%s exclude each other: give one of them",
                             seen[0]->name, seen[1]->name);
        }
        if (!exclusive && nseen == 0) {
            return cli_usage(s->cmd, "%s is required", alts);
        }
        g += glen;
        while (*g == ' ') {
            g++;
        }
    }
    return CLI_OK;
}

int cli_parse(const cli_spec *s, int argc, char **argv, int *first)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_help(s, stdout);
            return CLI_OK;
        }
    }
    unsigned char given[MAX_OPTS] = {0};
    int o = 1;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0) {
            i++; /* positional: stays where it is */
            continue;
        }
        if (!strcmp(a, "--")) {
            take(argv, &o, i, 1);
            break;
        }
        const cli_opt *opt;
        const char *value = NULL;
        if (a[1] == '-') {
            size_t len = strcspn(a + 2, "=");
            if (!(opt = find_long(s->opts, a + 2, len))) {
                return unknown_option(s, a);
            }
            if (a[2 + len] == '=') {
                value = a + 3 + len;
            }
        } else {
            if (!(opt = find_short(s->opts, a[1]))) {
                return unknown_option(s, a);
            }
            if (a[2]) {
                value = a + 2;
            }
        }
        int t = 1;
        if (opt->kind == CLI_FLAG && value) {
            return opt_error(s, opt, "takes no value, got '%s'", value);
        }
        if (opt->kind != CLI_FLAG && !value) {
            if (i + 1 >= argc) {
                char rule[512];
                rule_text(opt, rule, sizeof rule);
                return rule[0] ? opt_error(s, opt, "want a value: %s", rule)
                               : opt_error(s, opt, "want a value (%s)", opt->arg ? opt->arg : "");
            }
            value = argv[i + 1];
            t = 2;
        }
        int rc = apply(s, opt, value);
        if (rc) {
            return rc;
        }
        assert(opt - s->opts < MAX_OPTS);
        given[opt - s->opts] = 1;
        take(argv, &o, i, t);
        i += t;
    }
    *first = o;
    if (check_groups(s, given, s->exclusive, 1) || check_groups(s, given, s->required, 0)) {
        return CLI_USAGE;
    }
    return CLI_GO;
}

/* Writes text, whose first line starts at HELP_COLUMN, wrapped at
 * HELP_WIDTH with continuation lines indented to HELP_COLUMN. */
static void put_wrapped(FILE *f, const char *text)
{
    int col = HELP_COLUMN, fresh = 1;
    for (const char *p = text; *p;) {
        int word = (int)strcspn(p, " ");
        if (!fresh && col + 1 + word > HELP_WIDTH) {
            fprintf(f, "\n%*s", HELP_COLUMN, "");
            col = HELP_COLUMN;
            fresh = 1;
        }
        fprintf(f, "%s%.*s", fresh ? "" : " ", word, p);
        col += word + !fresh;
        fresh = 0;
        p += word;
        while (*p == ' ') {
            p++;
        }
    }
    fputc('\n', f);
}

void cli_help(const cli_spec *s, FILE *f)
{
    fputs(s->usage, f);
    fputs("\noptions:\n", f);
    for (const cli_opt *o = s->opts; o->name; o++) {
        char head[96], rule[512], line[1200];
        if (o->letter && strlen(o->name) == 1) {
            snprintf(head, sizeof head, "  -%c%s%s", o->letter, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        } else if (o->letter) {
            snprintf(head, sizeof head, "  -%c, --%s%s%s", o->letter, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        } else {
            snprintf(head, sizeof head, "  --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        }
        rule_text(o, rule, sizeof rule);
        snprintf(line, sizeof line, "%s%s%s", o->help, rule[0] ? "; " : "", rule);
        int col = fprintf(f, "%s", head);
        if (col >= HELP_COLUMN) {
            fprintf(f, "\n%*s", HELP_COLUMN, "");
        } else {
            fprintf(f, "%*s", HELP_COLUMN - col, "");
        }
        put_wrapped(f, line);
    }
    fputs("  -h, --help              this text\n", f);
    if (s->more_help) {
        s->more_help(f);
    }
}

int cli_verb(const char *cmd, const char *verb, const char *const *verbs)
{
    ck_nearest n;
    ck_nearest_init(&n, verb ? verb : "");
    char list[256] = "";
    size_t used = 0;
    int count = 0;
    for (int i = 0; verbs[i]; i++) {
        if (verb && !strcmp(verb, verbs[i])) {
            return i;
        }
        ck_nearest_add(&n, verbs[i]);
        count++;
    }
    for (int i = 0; verbs[i]; i++) {
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s'%s'",
                                 i == 0           ? ""
                                 : i == count - 1 ? " or "
                                                  : ", ",
                                 verbs[i]);
    }
    if (!verb) {
        cli_usage(cmd, "want %s", list);
    } else if (n.best) {
        cli_usage(cmd, "'%s': want %s; did you mean '%s'?", verb, list, n.best);
    } else {
        cli_usage(cmd, "'%s': want %s", verb, list);
    }
    return -1;
}
