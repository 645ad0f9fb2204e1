/* source_layout.c: how the names of a directory or archive become labels
 * and splits, and how the layout of one is recognised.
 *
 * Everything here looks at names only, split at '/' (empty and "."
 * components dropped). Names are never touched on disk.
 *
 * Every layout:
 *   - hidden items (a component starting with '.', e.g. .DS_Store, .git/)
 *     and macOS resource forks (__MACOSX/) are skipped: they are never
 *     samples, and counting them would invent classes. Thumbs.db and other
 *     visible non-images are returned for ds_check to reject.
 *   - a ".." component or an absolute name makes the entry come back
 *     rejected ("unsafe name"): such names are only ever written by tools
 *     that mean to escape an extraction directory. So are a file name that
 *     ends in "/" or "/." (no file name at all: "train/." would otherwise
 *     be read as a file "train"), an empty name, and a name longer than
 *     SRC_MAX_NAME bytes (no file system could hold it).
 *   - only items that will be kept take part in the detection: rejected
 *     names, links, devices and unreadable headers have no say in the
 *     layout, so one hostile entry cannot relabel every other.
 *
 * KAGGLE (dogs-vs-cats.zip, or train.zip alone, or their extracted folders):
 *   *.zip entries are nested archives, read in place; *.csv files at the top
 *   of the source (sampleSubmission.csv) are skipped. Entries in a "test1"
 *   or "test" folder, or in an archive whose name starts with "test", are
 *   split "test", unlabelled. Others are split "train", labelled by the file
 *   name CLASS.N.EXT ("cat.41.jpg" -> "cat"), unlabelled if it has another
 *   form.
 * FASTAI (dogscats.zip): a wrapper folder (any name but the known ones) is
 *   dropped; train/CLASS/ and valid/CLASS/ give splits "train" and
 *   "validation"; test1/ (or test/) entries are split "test", unlabelled;
 *   sample/, models/ and files outside these folders are skipped.
 * PETIMAGES: an optional PetImages/ folder is dropped; the next folder is
 *   the class (Cat, Dog, kept as written); files at the top (the licence,
 *   the readme) are skipped; no split.
 * FOLDERS (Keras image_dataset_from_directory): leading folders shared by
 *   every file are dropped as long as some file stays inside a folder and
 *   the folder is not a split name; then, if every file lies in
 *   SPLIT/CLASS/... with SPLIT one of train, valid, validation, val, test
 *   (any case), the split is recorded ("valid", "val" -> "validation") and
 *   the class is the next folder; otherwise the first folder is the class.
 *   Files left at the top are unlabelled.
 *
 * Detection (AUTO), for directories and archives, from a survey of all the
 * names of the source (nested archives are not opened), first match wins:
 *   1. a file train.zip or test1.zip at the top          -> KAGGLE
 *   2. a top folder named dogscats                       -> FASTAI
 *   3. a top folder named PetImages                      -> PETIMAGES
 *   4. every file at the top or in a top folder train, test1 or test, and
 *      at least one named CLASS.N.EXT (train.zip alone)  -> KAGGLE
 *   5. otherwise                                         -> FOLDERS
 * Files (not trees) are told apart in source.c: IDX by magic number (raw or
 * gzip'd), HODA by the .cdb extension, then zip/tar/tar.gz by content.
 */
#include <stdlib.h>
#include <string.h>

#include "source_internal.h"

enum { MAXC = 64 }; /* components looked at; deeper ones only count */

static const char *split_name(const char *s, size_t n)
{
    if (src_word_eq(s, n, "train")) {
        return "train";
    }
    if (src_word_eq(s, n, "valid") || src_word_eq(s, n, "validation") || src_word_eq(s, n, "val")) {
        return "validation";
    }
    if (src_word_eq(s, n, "test")) {
        return "test";
    }
    return NULL;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    return n >= sl && src_word_eq(s + n - sl, sl, suffix);
}

/* Length of CLASS in CLASS.N.EXT (letters, digits, letters/digits), else 0. */
static size_t kaggle_class(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
        i++;
    }
    size_t cls = i;
    if (cls == 0 || i == n || s[i++] != '.') {
        return 0;
    }
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    if (i == d || i == n || s[i++] != '.') {
        return 0;
    }
    size_t e = i;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9'))) {
        i++;
    }
    return i == n && i > e ? cls : 0;
}

enum { NAME_HIDDEN = 1, NAME_DOTDOT = 2 };

static int name_flags(const char *const *comp, const size_t *clen, int n)
{
    int f = 0;
    for (int i = 0; i < n && i < MAXC; i++) {
        if (clen[i] == 2 && comp[i][0] == '.' && comp[i][1] == '.') {
            f |= NAME_DOTDOT;
        } else if (comp[i][0] == '.' || (clen[i] == 8 && memcmp(comp[i], "__MACOSX", 8) == 0)) {
            f |= NAME_HIDDEN;
        }
    }
    return f;
}

/* The last component of path (n bytes), without trailing slashes. */
static const char *last_comp(const char *path, size_t n, size_t *len)
{
    while (n > 0 && path[n - 1] == '/') {
        n--;
    }
    size_t i = n;
    while (i > 0 && path[i - 1] != '/') {
        i--;
    }
    *len = n - i;
    return path + i;
}

/* Why a file item's name is refused, or NULL (see the top of the file). */
static const char *name_reject(const src_item *it, const char *const *comp, const size_t *clen,
                               int n, int flags)
{
    (void)comp;
    (void)clen;
    if (n == 0) {
        return "empty name";
    }
    if (it->path[0] == '/') {
        return "unsafe name (absolute path)";
    }
    if (flags & NAME_DOTDOT) {
        return "unsafe name ('..' component)";
    }
    if (it->len > SRC_MAX_NAME) {
        return "unsafe name (longer than 4096 bytes)";
    }
    size_t bl;
    const char *base = last_comp(it->path, it->len, &bl);
    if (it->path[it->len - 1] == '/' || (bl == 1 && base[0] == '.')) {
        return "unsafe name (no file name: ends in '/' or '/.')";
    }
    return NULL;
}

/* ---- survey ------------------------------------------------------------ */

int src_survey_descend(const char *path, size_t len)
{
    const char *comp[MAXC];
    size_t clen[MAXC];
    int n = src_split(path, len, comp, clen, MAXC);
    return !(name_flags(comp, clen, n) & NAME_HIDDEN);
}

int src_survey_add(src_survey *sv, const src_item *it)
{
    const char *path = it->path;
    size_t len = it->len;
    const char *comp[MAXC];
    size_t clen[MAXC];
    int n = src_split(path, len, comp, clen, MAXC);
    int flags = name_flags(comp, clen, n);
    if (it->type != SRC_FILE || (flags & NAME_HIDDEN) || name_reject(it, comp, clen, n, flags)) {
        return 0;
    }
    int ndirs = n - 1;
    int stored = ndirs < MAXC ? ndirs : MAXC;
    if (!sv->first) {
        if (!(sv->first = malloc(len + 1))) {
            return CK_ENOMEM;
        }
        memcpy(sv->first, path, len);
        sv->first[len] = '\0';
        sv->common = stored;
    } else {
        const char *fc[MAXC];
        size_t fl[MAXC];
        src_split(sv->first, strlen(sv->first), fc, fl, MAXC);
        int c = 0;
        while (c < sv->common && c < stored && fl[c] == clen[c] &&
               memcmp(fc[c], comp[c], clen[c]) == 0) {
            c++;
        }
        sv->common = c;
    }
    sv->files++;
    if (ndirs > sv->max_dirs) {
        sv->max_dirs = ndirs;
    }
    for (int k = 0; k < stored; k++) {
        if (split_name(comp[k], clen[k]) && ndirs >= k + 2) {
            sv->split_seen |= UINT64_C(1) << k;
        } else {
            sv->split_bad |= UINT64_C(1) << k;
        }
    }
    size_t bl;
    const char *base = last_comp(path, len, &bl);
    if (ndirs == 0 && (src_word_eq(base, bl, "train.zip") || src_word_eq(base, bl, "test1.zip"))) {
        sv->kaggle_zip = 1;
    }
    if (ndirs > 1 ||
        (ndirs == 1 && !src_word_eq(comp[0], clen[0], "train") &&
         !src_word_eq(comp[0], clen[0], "test1") && !src_word_eq(comp[0], clen[0], "test"))) {
        sv->kaggle_bad = 1;
    }
    if (kaggle_class(base, bl)) {
        sv->kaggle_names++;
    }
    if (ndirs >= 1 && src_word_eq(comp[0], clen[0], "dogscats")) {
        sv->dogscats = 1;
    }
    if (ndirs >= 1 && src_word_eq(comp[0], clen[0], "PetImages")) {
        sv->petimages = 1;
    }
    return 0;
}

void src_survey_rules(const src_survey *sv, src_rules *r)
{
    if (r->layout == DS_LAYOUT_AUTO) {
        r->layout = sv->kaggle_zip                            ? DS_LAYOUT_KAGGLE
                    : sv->dogscats                            ? DS_LAYOUT_FASTAI
                    : sv->petimages                           ? DS_LAYOUT_PETIMAGES
                    : !sv->kaggle_bad && sv->kaggle_names > 0 ? DS_LAYOUT_KAGGLE
                                                              : DS_LAYOUT_FOLDERS;
    }
    r->strip = 0;
    r->split_mode = 0;
    if (!sv->first) {
        return;
    }
    const char *fc[MAXC];
    size_t fl[MAXC];
    src_split(sv->first, strlen(sv->first), fc, fl, MAXC);
    while (r->strip < sv->common && r->strip < MAXC - 2 && r->strip + 1 < sv->max_dirs &&
           !split_name(fc[r->strip], fl[r->strip])) {
        r->strip++;
    }
    uint64_t bit = UINT64_C(1) << r->strip;
    r->split_mode = (sv->split_seen & bit) && !(sv->split_bad & bit);
}

void src_survey_free(src_survey *sv)
{
    free(sv->first);
    memset(sv, 0, sizeof *sv);
}

/* ---- rules ------------------------------------------------------------- */

static void entry(src_verdict *v, const char *label, size_t llen, const char *split)
{
    v->act = SRC_ENTRY;
    v->label = label;
    v->label_len = label ? llen : 0;
    v->split = split;
}

static int fastai_known(const char *s, size_t n)
{
    static const char *const known[] = {"train", "valid",  "validation", "test",
                                        "test1", "sample", "models"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (src_word_eq(s, n, known[i])) {
            return 1;
        }
    }
    return 0;
}

static void rule_kaggle(int top, int in_test, const src_item *it, const char *const *comp,
                        const size_t *clen, int n, src_verdict *v)
{
    int ndirs = n - 1;
    size_t bl;
    const char *base = last_comp(it->path, it->len, &bl);
    if (it->type == SRC_FILE && ends_with(base, bl, ".zip")) {
        v->act = SRC_NESTED;
        return;
    }
    if (top && ndirs == 0 && ends_with(base, bl, ".csv")) {
        v->act = SRC_SKIP;
        return;
    }
    int test = in_test;
    for (int i = 0; i < ndirs && i < MAXC; i++) {
        test |= src_word_eq(comp[i], clen[i], "test1") || src_word_eq(comp[i], clen[i], "test");
    }
    if (test) {
        entry(v, NULL, 0, "test");
    } else {
        size_t cl = kaggle_class(base, bl);
        entry(v, cl ? base : NULL, cl, "train");
    }
}

static void rule_fastai(const src_item *it, const char *const *comp, const size_t *clen, int n,
                        src_verdict *v)
{
    int s = n >= 2 && !fastai_known(comp[0], clen[0]) ? 1 : 0;
    if (it->type == SRC_DIR) {
        int skip =
            src_word_eq(comp[s], clen[s], "sample") || src_word_eq(comp[s], clen[s], "models");
        v->act = skip ? SRC_SKIP : SRC_DESCEND;
        return;
    }
    int ndirs = n - 1;
    v->act = SRC_SKIP;
    if (ndirs <= s) {
        return;
    }
    const char *c = comp[s];
    size_t cl = clen[s];
    const char *label = ndirs >= s + 2 ? comp[s + 1] : NULL;
    size_t llen = label ? clen[s + 1] : 0;
    if (src_word_eq(c, cl, "test1") || src_word_eq(c, cl, "test")) {
        entry(v, NULL, 0, "test");
    } else if (src_word_eq(c, cl, "train")) {
        entry(v, label, llen, "train");
    } else if (src_word_eq(c, cl, "valid") || src_word_eq(c, cl, "validation")) {
        entry(v, label, llen, "validation");
    }
}

static void rule_petimages(const src_item *it, const char *const *comp, const size_t *clen, int n,
                           src_verdict *v)
{
    if (it->type == SRC_DIR) {
        v->act = SRC_DESCEND;
        return;
    }
    int s = n >= 2 && src_word_eq(comp[0], clen[0], "PetImages") ? 1 : 0;
    int ndirs = n - 1;
    if (ndirs <= s) {
        v->act = SRC_SKIP;
        return;
    }
    entry(v, comp[s], clen[s], NULL);
}

static void rule_folders(const src_rules *r, const src_item *it, const char *const *comp,
                         const size_t *clen, int n, src_verdict *v)
{
    if (it->type == SRC_DIR) {
        v->act = SRC_DESCEND;
        return;
    }
    int ndirs = n - 1;
    int s = r->strip < ndirs ? r->strip : ndirs;
    int rd = ndirs - s;
    if (r->split_mode && rd >= 1) {
        const char *split = split_name(comp[s], clen[s]);
        if (rd >= 2) {
            entry(v, comp[s + 1], clen[s + 1], split);
        } else {
            entry(v, NULL, 0, split);
        }
    } else if (rd >= 1) {
        entry(v, comp[s], clen[s], NULL);
    } else {
        entry(v, NULL, 0, NULL);
    }
}

void src_rule(const src_rules *r, int top, int in_test, const src_item *it, src_verdict *v)
{
    memset(v, 0, sizeof *v);
    const char *comp[MAXC];
    size_t clen[MAXC];
    int n = src_split(it->path, it->len, comp, clen, MAXC);
    int flags = name_flags(comp, clen, n);
    if (flags & NAME_HIDDEN) {
        v->act = SRC_SKIP;
        return;
    }
    if (it->type == SRC_DIR) {
        if (n == 0 || (flags & NAME_DOTDOT)) {
            v->act = SRC_SKIP;
            return;
        }
    } else if ((v->reject = name_reject(it, comp, clen, n, flags)) != NULL) {
        entry(v, NULL, 0, NULL);
        return;
    }
    /* The stored components stop at MAXC; labels come from the first few. */
    switch (r->layout) {
    case DS_LAYOUT_KAGGLE:
        if (it->type == SRC_DIR) {
            v->act = SRC_DESCEND;
        } else {
            rule_kaggle(top, in_test, it, comp, clen, n, v);
        }
        break;
    case DS_LAYOUT_FASTAI: rule_fastai(it, comp, clen, n < MAXC ? n : MAXC, v); break;
    case DS_LAYOUT_PETIMAGES: rule_petimages(it, comp, clen, n, v); break;
    default: rule_folders(r, it, comp, clen, n, v); break;
    }
}
