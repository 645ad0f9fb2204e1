/* ck_test.h: helpers shared by the Check suites (header only).
 *
 * Real data lives in ../shared/data beside the repository, read-only.
 * When it is absent a suite skips those tests with a notice, unless
 * CONVKIT_REQUIRE_SHARED=1 (CI sets it), where absence is a failure.
 * Scratch files go under a fresh directory in $TMPDIR (or /tmp): a suite
 * run by ck_test_run makes one directory for all its tests, removed with
 * everything in it when every test passed (kept to look at otherwise). */
#ifndef CK_TEST_H
#define CK_TEST_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CK_SHARED_DATA
#define CK_SHARED_DATA "../shared/data"
#endif

/* The shared data directory joined with rel, into buf; NULL when it does not
 * exist (and it is not required). */
static inline const char *ck_test_data(const char *rel, char *buf, size_t len)
{
    const char *root = getenv("CONVKIT_SHARED_DATA");
    struct stat st;
    snprintf(buf, len, "%s/%s", root && *root ? root : CK_SHARED_DATA, rel);
    if (stat(buf, &st) == 0) {
        return buf;
    }
    const char *req = getenv("CONVKIT_REQUIRE_SHARED");
    if (req && strcmp(req, "1") == 0) {
        ck_abort_msg("shared data missing: %s", buf);
    }
    fprintf(stderr, "note: %s missing, test skipped\n", buf);
    return NULL;
}

/* Returns have: when 0, notes on stderr that `what` was skipped on this
 * CPU (as the real-data tests note missing data), so a suite that passes
 * on a CPU without the instruction set says what it did not test. */
static inline int ck_test_cpu_has(int have, const char *isa, const char *what)
{
    if (!have) {
        fprintf(stderr, "note: %s skipped: this CPU has no %s\n", what, isa);
    }
    return have;
}

/* A fresh scratch directory, path written into buf. */
static inline const char *ck_test_tmpdir(char *buf, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, len, "%s/convkit-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp %s", buf);
    return buf;
}

/* Removes path and, for a directory, everything in it (symbolic links
 * are removed, not followed). */
static inline void ck_test_remove_tree(const char *path)
{
    struct stat st;
    DIR *d = lstat(path, &st) == 0 && S_ISDIR(st.st_mode) ? opendir(path) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char sub[4096];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub) {
                ck_test_remove_tree(sub);
            }
        }
    }
    if (d) {
        closedir(d);
    }
    remove(path);
}

/* Runs suite s, its scratch directories in one of its own; returns
 * EXIT_SUCCESS when every test passed. */
static inline int ck_test_run(Suite *s)
{
    const char *tmp = getenv("TMPDIR");
    char root[4096];
    snprintf(root, sizeof root, "%s/convkit-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror(root);
        return EXIT_FAILURE;
    }
    setenv("TMPDIR", root, 1); /* the forked tests inherit it */
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed == 0) {
        ck_test_remove_tree(root);
    } else {
        fprintf(stderr, "note: the failed tests' files are in %s\n", root);
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
