/* source_walk.c: a directory tree as a stream of items, in a fixed order.
 *
 * readdir order depends on the file system, so each directory is listed
 * and sorted byte-wise (strcmp) before it is walked: the same tree gives the
 * same entries in the same order, so sample ids are stable across runs and
 * machines. Memory is one sorted listing per directory on the current path.
 *
 * Nothing is followed: items are typed with fstatat(AT_SYMLINK_NOFOLLOW),
 * directories are opened with O_NOFOLLOW relative to their parent's fd, so
 * a link or a rename during the walk cannot lead outside the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_internal.h"

enum { WALK_MAX_DEPTH = 64 };

typedef struct walk_frame {
    int fd;
    char **names; /* sorted */
    size_t count, next;
    size_t rel_len; /* length of this directory's relative path in rel, with its '/' */
} walk_frame;

struct src_walk {
    walk_frame frames[WALK_MAX_DEPTH];
    int depth;
    char *rel; /* relative path of the last item */
    size_t rel_cap;
    int last_dir; /* the last item was a directory */
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists directory fd (not consumed) into a sorted array. 0 or -errno. */
static int list_dir(int fd, char ***names, size_t *count)
{
    int dfd = dup(fd);
    if (dfd < 0) {
        return -errno;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return -e;
    }
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d); /* NOLINT(concurrency-mt-unsafe): own DIR */
        if (!de) {
            rc = errno ? -errno : 0;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[n] = strdup(de->d_name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            free(v[i]);
        }
        free(v);
        return rc;
    }
    if (n > 1) {
        qsort(v, n, sizeof *v, cmp_names);
    }
    *names = v;
    *count = n;
    return 0;
}

static int set_rel(src_walk *w, size_t keep, const char *name, int slash)
{
    size_t nl = strlen(name);
    size_t need = keep + nl + 2;
    if (need > w->rel_cap) {
        size_t cap = w->rel_cap ? w->rel_cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        char *r = realloc(w->rel, cap);
        if (!r) {
            return -ENOMEM;
        }
        w->rel = r;
        w->rel_cap = cap;
    }
    memcpy(w->rel + keep, name, nl);
    if (slash) {
        w->rel[keep + nl++] = '/';
    }
    w->rel[keep + nl] = '\0';
    return 0;
}

static int push(src_walk *w, int fd, size_t rel_len)
{
    if (w->depth == WALK_MAX_DEPTH) {
        close(fd);
        return -ELOOP;
    }
    walk_frame *f = &w->frames[w->depth];
    memset(f, 0, sizeof *f);
    int rc = list_dir(fd, &f->names, &f->count);
    if (rc) {
        close(fd);
        return rc;
    }
    f->fd = fd;
    f->rel_len = rel_len;
    w->depth++;
    return 0;
}

static void pop(src_walk *w)
{
    walk_frame *f = &w->frames[--w->depth];
    for (size_t i = 0; i < f->count; i++) {
        free(f->names[i]);
    }
    free(f->names);
    close(f->fd);
}

int src_walk_open(src_walk **out, const char *path)
{
    *out = NULL;
    src_walk *w = calloc(1, sizeof *w);
    if (!w) {
        return -ENOMEM;
    }
    int rc = set_rel(w, 0, "", 0);
    int fd = rc ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!rc && fd < 0) {
        rc = -errno;
    }
    if (!rc) {
        rc = push(w, fd, 0);
    }
    if (rc) {
        src_walk_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

int src_walk_next(src_walk *w, src_item *it)
{
    memset(it, 0, sizeof *it);
    w->last_dir = 0;
    while (w->depth > 0) {
        walk_frame *f = &w->frames[w->depth - 1];
        if (f->next == f->count) {
            pop(w);
            continue;
        }
        const char *name = f->names[f->next++];
        int rc = set_rel(w, f->rel_len, name, 0);
        if (rc) {
            return rc;
        }
        it->path = w->rel;
        it->len = strlen(w->rel);
        it->size = -1;
        struct stat st;
        if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            it->type = SRC_BAD;
            ck_errno_text(errno, it->why, sizeof it->why);
            return 1;
        }
        if (S_ISREG(st.st_mode)) {
            it->type = SRC_FILE;
            it->size = (int64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
            it->type = SRC_DIR;
            w->last_dir = 1;
        } else if (S_ISLNK(st.st_mode)) {
            it->type = SRC_LINK;
        } else {
            it->type = SRC_SPECIAL;
        }
        return 1;
    }
    return 0;
}

int src_walk_descend(src_walk *w)
{
    if (!w->last_dir || w->depth == 0) {
        return -EINVAL;
    }
    walk_frame *f = &w->frames[w->depth - 1];
    const char *name = f->names[f->next - 1];
    int fd = openat(f->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    size_t rel_len = strlen(w->rel) + 1;
    int rc = set_rel(w, f->rel_len, name, 1);
    if (rc) {
        close(fd);
        return rc;
    }
    w->last_dir = 0;
    return push(w, fd, rel_len);
}

int src_walk_dirfd(const src_walk *w)
{
    return w->depth > 0 ? w->frames[w->depth - 1].fd : -1;
}

const char *src_walk_name(const src_walk *w)
{
    const walk_frame *f = &w->frames[w->depth - 1];
    return f->names[f->next - 1];
}

const char *src_walk_where(const src_walk *w)
{
    return w->rel ? w->rel : "";
}

void src_walk_close(src_walk *w)
{
    if (!w) {
        return;
    }
    while (w->depth > 0) {
        pop(w);
    }
    free(w->rel);
    free(w);
}
