/* test_common.c: the generator's known answers and statistics, the error
 * helpers, the text buffer with its JSON numbers, and whole-or-nothing
 * files. The Philox vectors are Random123's kat_vectors. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck.h"
#include "ck_test.h"

/* The distance against hand counts, and the suggestion rule: a typo of a
 * name is suggested, a different word is not. */
START_TEST(text_in_columns)
{
    /* columns, not bytes: wide CJK 2, Persian 1 a letter, a combining mark
     * 0, a byte that is not UTF-8 1 */
    ck_assert_int_eq(ck_text_columns(""), 0);
    ck_assert_int_eq(ck_text_columns("plain-s1"), 8);
    ck_assert_int_eq(ck_text_columns("猫狗"), 4);
    ck_assert_int_eq(ck_text_columns("گربه"), 4);
    ck_assert_int_eq(ck_text_columns("e\xCC\x81"), 1); /* e + U+0301 */
    ck_assert_int_eq(ck_text_columns("a\377b"), 3);    /* 0xFF */
    char c[32];
    ck_assert_str_eq(ck_text_cell(c, sizeof c, "猫", 4, 0), "猫  ");
    ck_assert_str_eq(ck_text_cell(c, sizeof c, "猫", 4, 1), "  猫");
    ck_assert_str_eq(ck_text_cell(c, sizeof c, "abcdef", 4, 0), "abcd");
    /* cut at a whole character: 猫狗鱼 in 5 columns is 猫狗 and a space */
    ck_assert_str_eq(ck_text_cell(c, sizeof c, "猫狗鱼", 5, 1), " 猫狗");
    ck_assert_str_eq(ck_text_cell(c, sizeof c, "گربه سیاه", 6, 0), "گربه س");
    /* a buffer too small for the cell holds what fits, terminated */
    char small[4];
    ck_assert_str_eq(ck_text_cell(small, sizeof small, "猫", 8, 0), "猫");
    ck_assert_str_eq(ck_text_cell(small, sizeof small, "ab", 8, 0), "ab ");
}
END_TEST

START_TEST(nearest_names)
{
    ck_assert_int_eq(ck_edit_distance("", ""), 0);
    ck_assert_int_eq(ck_edit_distance("abc", ""), 3);
    ck_assert_int_eq(ck_edit_distance("kitten", "sitting"), 3);
    ck_assert_int_eq(ck_edit_distance("trian", "train"), 1); /* one swap */
    ck_assert_int_eq(ck_edit_distance("ca", "abc"), 3);      /* OSA, not Damerau: 3 */
    ck_assert_int_eq(ck_edit_distance("epoch", "epochs"), 1);
    static const char *const commands[] = {"prepare-dataset", "info",    "train",
                                           "evaluate",        "predict", "summary"};
    static const struct {
        const char *word, *want;
    } cases[] = {
        {"trian", "train"},
        {"evalute", "evaluate"},
        {"prepare", "prepare-dataset"},
        {"inf", "info"},
        {"summery", "summary"},
        {"frobnicate", NULL},
        {"resnet50", NULL},
        {"x", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_nearest n;
        ck_nearest_init(&n, cases[i].word);
        for (size_t j = 0; j < sizeof commands / sizeof commands[0]; j++) {
            ck_nearest_add(&n, commands[j]);
        }
        const char *want = cases[i].want, *got = n.best;
        ck_assert_msg(want ? got && strcmp(got, want) == 0 : got == NULL, "%s: got %s, want %s",
                      cases[i].word, got ? got : "none", want ? want : "none");
    }
    ck_nearest n;
    ck_nearest_init(&n, "zom");
    ck_nearest_add(&n, "zoom");
    ck_nearest_add(&n, "zoom_w");
    ck_assert_str_eq(n.best, "zoom");
    ck_nearest_init(&n, "vgg"); /* both begin with it: the nearer wins */
    ck_nearest_add(&n, "vgg16-base");
    ck_nearest_add(&n, "vgg16");
    ck_assert_str_eq(n.best, "vgg16");
    ck_nearest_init(&n, "mnist3conv");
    ck_nearest_add(&n, "mnist");
    ck_nearest_add(&n, "mnist-3conv");
    ck_assert_str_eq(n.best, "mnist-3conv");
    char hint[32];
    ck_assert_str_eq(ck_nearest_hint(&n, hint, sizeof hint), "; did you mean mnist-3conv?");
    ck_nearest_init(&n, "resnet50");
    ck_nearest_add(&n, "mnist");
    ck_assert_str_eq(ck_nearest_hint(&n, hint, sizeof hint), "");
}
END_TEST

START_TEST(philox_known_answers)
{
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        ck_philox4x32(kat[i].ctr, kat[i].key, out);
        for (int j = 0; j < 4; j++) {
            ck_assert_msg(out[j] == kat[i].out[j], "vector %zu word %d: %08x != %08x", i, j, out[j],
                          kat[i].out[j]);
        }
    }
}
END_TEST

START_TEST(rng_streams_are_keyed)
{
    ck_rng a, b, c;
    ck_rng_init(&a, 42, 3, 1000, CK_RNG_AUGMENT);
    ck_rng_init(&b, 42, 3, 1000, CK_RNG_AUGMENT);
    ck_rng_init(&c, 42, 3, 1001, CK_RNG_AUGMENT);
    int same_c = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = ck_rng_u32(&a);
        ck_assert_uint_eq(x, ck_rng_u32(&b));
        same_c += x == ck_rng_u32(&c);
    }
    ck_assert_int_lt(same_c, 3);
    /* Other epoch, purpose or seed: another stream. */
    ck_rng d, e, f;
    ck_rng_init(&a, 42, 3, 1000, CK_RNG_AUGMENT);
    ck_rng_init(&d, 42, 4, 1000, CK_RNG_AUGMENT);
    ck_rng_init(&e, 42, 3, 1000, CK_RNG_DROPOUT);
    ck_rng_init(&f, 43, 3, 1000, CK_RNG_AUGMENT);
    uint32_t x = ck_rng_u32(&a);
    ck_assert(x != ck_rng_u32(&d) || x != ck_rng_u32(&e) || x != ck_rng_u32(&f));
}
END_TEST

/* A stream skipped by k words goes on as the whole stream does after k
 * draws, from any position (mid-block included); the cuts cover n. */
START_TEST(rng_skip_and_cuts)
{
    ck_rng whole, part;
    uint32_t ref[64];
    ck_rng_init(&whole, 9, 2, 77, CK_RNG_DROPOUT);
    for (int i = 0; i < 64; i++) {
        ref[i] = ck_rng_u32(&whole);
    }
    for (int first = 0; first < 6; first++) {
        for (int k = 0; k < 40; k++) {
            ck_rng_init(&part, 9, 2, 77, CK_RNG_DROPOUT);
            for (int i = 0; i < first; i++) {
                (void)ck_rng_u32(&part);
            }
            ck_rng_skip(&part, (uint64_t)k);
            for (int i = first + k; i < 64; i++) {
                ck_assert_uint_eq(ck_rng_u32(&part), ref[i]);
            }
        }
    }
    for (int parts = 1; parts <= 9; parts++) {
        for (int64_t n = 0; n < 40; n++) {
            ck_assert_int_eq(ck_cut(n, 0, parts), 0);
            ck_assert_int_eq(ck_cut(n, parts, parts), n);
            for (int p = 0; p < parts; p++) {
                ck_assert_int_le(ck_cut(n, p, parts), ck_cut(n, p + 1, parts));
            }
        }
    }
}
END_TEST

START_TEST(rng_distributions)
{
    ck_rng r;
    ck_rng_init(&r, 7, 0, 0, CK_RNG_TEST);
    enum { N = 200000 };
    double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
    int hist[10] = {0};
    for (int i = 0; i < N; i++) {
        double u = ck_rng_uniform(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
        sum2 += u * u;
        hist[ck_rng_below(&r, 10)]++;
        double z = ck_rng_normal(&r);
        nsum += z;
        nsum2 += z * z;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    /* Bounds are about 6 standard errors. */
    ck_assert_double_eq_tol(mean, 0.5, 0.004);
    ck_assert_double_eq_tol(var, 1.0 / 12, 0.002);
    ck_assert_double_eq_tol(nsum / N, 0.0, 0.014);
    ck_assert_double_eq_tol(nsum2 / N, 1.0, 0.02);
    for (int k = 0; k < 10; k++) {
        ck_assert_int_lt(abs(hist[k] - N / 10), 800);
    }
}
END_TEST

START_TEST(rng_shuffle_is_permutation)
{
    enum { N = 1000 };
    uint32_t v[N];
    for (uint32_t i = 0; i < N; i++) {
        v[i] = i;
    }
    ck_rng r;
    ck_rng_init(&r, 1, 2, 3, CK_RNG_SHUFFLE);
    ck_rng_shuffle_u32(&r, v, N);
    int seen[N] = {0}, fixed = 0;
    for (uint32_t i = 0; i < N; i++) {
        ck_assert_uint_lt(v[i], N);
        seen[v[i]]++;
        fixed += v[i] == i;
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(seen[i], 1);
    }
    ck_assert_int_lt(fixed, 10);
}
END_TEST

START_TEST(err_messages)
{
    char err[64];
    ck_assert_int_eq(ck_err(err, sizeof err, CK_EIO, "%s: open: %s", "a.zip", "gone"), CK_EIO);
    ck_assert_str_eq(err, "a.zip: open: gone");
    /* Truncated, still terminated. */
    char small[8];
    ck_err(small, sizeof small, CK_EIO, "%s", "0123456789");
    ck_assert_str_eq(small, "0123456");
    ck_assert_int_eq(ck_err(NULL, 0, CK_EFORMAT, "x"), CK_EFORMAT);
    ck_assert_str_eq(ck_strerror(CK_EDB), "database error");
}
END_TEST

START_TEST(buf_builds_text)
{
    ck_buf b = {0};
    ck_buf_str(&b, "ab");
    ck_buf_add(&b, "cdef", 2);
    ck_buf_printf(&b, "-%d-%s", 42, "x");
    ck_assert_str_eq(b.s, "abcd-42-x");
    ck_assert_uint_eq(b.len, 9);
    /* Longer than any first capacity, and a printf longer than a line. */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_buf_printf(&b, "%s!", big);
    ck_assert_uint_eq(b.len, 9 + 999 + 1);
    ck_assert_uint_eq(strlen(b.s), b.len);
    ck_assert_int_eq(b.s[b.len - 1], '!');
    char *s = ck_buf_take(&b);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
    free(s);
    /* Nothing added: "", not NULL. */
    s = ck_buf_take(&b);
    ck_assert_str_eq(s, "");
    free(s);
    ck_buf_str(&b, "x");
    ck_buf_free(&b);
    ck_assert_ptr_null(b.s);
}
END_TEST

START_TEST(buf_json_strings)
{
    ck_buf b = {0};
    ck_buf_json_str(&b, NULL);
    ck_buf_str(&b, " ");
    ck_buf_json_str(&b, "");
    ck_buf_str(&b, " ");
    ck_buf_json_str(&b, "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f");
    ck_assert_str_eq(b.s, "null \"\" \"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
    ck_buf_free(&b);
    /* UTF-8 passes through; bad bytes, overlong forms and surrogates become
     * U+FFFD, one per byte. */
    ck_buf_json_str(&b, "\xC3\xA9\xF0\x9F\x98\x80|\xFF|\xC0\xAF|\xED\xA0\x80|\xE2\x82");
    ck_assert_str_eq(b.s, "\"\xC3\xA9\xF0\x9F\x98\x80|\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
                          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\"");
    ck_buf_free(&b);
}
END_TEST

START_TEST(buf_oom_is_sticky)
{
    ck_buf b = {0};
    ck_buf_str(&b, "abc");
    b.oom = 1;
    ck_buf_str(&b, "def");
    ck_buf_printf(&b, "%d", 1);
    ck_buf_json_str(&b, "g");
    ck_assert_str_eq(b.s, "abc");
    ck_assert_ptr_null(ck_buf_take(&b));
    ck_assert_ptr_null(b.s);
    ck_assert_int_eq(b.oom, 0);
}
END_TEST

START_TEST(json_numbers_round_trip)
{
    ck_buf b = {0};
    ck_buf_json_num(&b, 0.1);
    ck_buf_str(&b, ",");
    ck_buf_json_num(&b, 1.0 / 3.0);
    ck_buf_str(&b, ",");
    ck_buf_json_num(&b, NAN);
    ck_buf_str(&b, ",");
    ck_buf_json_num(&b, -INFINITY);
    ck_buf_str(&b, ",");
    ck_buf_json_num(&b, 1e-3);
    /* The shortest form that reads back: 0.1 not 0.10000000000000001. */
    ck_assert_str_eq(b.s, "0.1,0.3333333333333333,null,null,0.001");
    ck_buf_free(&b);
    /* Run configurations keep 17 digits, with the same null rule. */
    ck_buf_json_num17(&b, 0.9);
    ck_buf_json_field_num(&b, "nan", NAN);
    ck_buf_json_field_str(&b, "s", "a\"b");
    ck_assert_str_eq(b.s, "0.90000000000000002,\"nan\":null,\"s\":\"a\\\"b\"");
    ck_buf_free(&b);
    char t[32];
    for (double v = 1e-7; v < 1e7; v *= 3.7) {
        ck_fmt_double(t, sizeof t, v);
        ck_assert_msg(strtod(t, NULL) == v, "%s != %.17g", t, v);
    }
}
END_TEST

static char *read_text(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

START_TEST(atomic_files_whole_or_nothing)
{
    char dir[256], path[512], part[600], err[256] = "";
    snprintf(path, sizeof path, "%s/out.csv", ck_test_tmpdir(dir, sizeof dir));
    snprintf(part, sizeof part, "%s" CK_PART_SUFFIX, path);
    /* A killed run's leftover is replaced, and gone after the commit. */
    FILE *f = fopen(part, "w");
    fputs("junk from a killed run", f);
    fclose(f);
    ck_assert_int_eq(ck_write_file_atomic(path, "a,b\n", 4, err, sizeof err), 0);
    ck_assert_str_eq(read_text(path), "a,b\n");
    ck_assert_int_eq(access(part, F_OK), -1);
    /* A link planted at the .part name is removed, never written through. */
    char outside[512];
    snprintf(outside, sizeof outside, "%.300s/outside.txt", dir);
    f = fopen(outside, "w");
    fputs("keep", f);
    fclose(f);
    ck_assert_int_eq(symlink(outside, part), 0);
    ck_assert_int_eq(ck_write_file_atomic(path, "a,b\n", 4, err, sizeof err), 0);
    ck_assert_str_eq(read_text(outside), "keep");
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    /* An aborted write leaves the previous output as it was, and no .part. */
    ck_atomic a;
    ck_assert_int_eq(ck_atomic_open(&a, path, err, sizeof err), 0);
    ck_assert_int_eq(ck_atomic_write(&a, "new", 3, err, sizeof err), 0);
    ck_assert_str_eq(read_text(path), "a,b\n");
    ck_atomic_abort(&a);
    ck_assert_str_eq(read_text(path), "a,b\n");
    ck_assert_int_eq(access(part, F_OK), -1);
    ck_atomic_abort(&a); /* empty: a no-op */
    /* A writer that writes by name (as libhdf5 and SQLite do). */
    ck_assert_int_eq(ck_atomic_open(&a, path, err, sizeof err), 0);
    close(a.fd);
    a.fd = -1;
    f = fopen(a.tmp, "w");
    fputs("by name", f);
    fclose(f);
    ck_assert_int_eq(ck_atomic_commit(&a, err, sizeof err), 0);
    ck_assert_str_eq(read_text(path), "by name");
    /* Errors name the output and the step. */
    ck_assert_int_eq(ck_write_file_atomic("/nonexistent/dir/x.csv", "x", 1, err, sizeof err),
                     CK_EIO);
    ck_assert_msg(strstr(err, "/nonexistent/dir/x.csv: create: No such file or directory"), "%s",
                  err);
    char sub[400];
    snprintf(sub, sizeof sub, "%.300s/taken", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_eq(ck_write_file_atomic(sub, "x", 1, err, sizeof err), CK_EIO);
    ck_assert_msg(strstr(err, "taken: rename: "), "%s", err);
    snprintf(part, sizeof part, "%s" CK_PART_SUFFIX, sub);
    ck_assert_int_eq(access(part, F_OK), -1);
    ck_assert_str_eq(ck_errno_text(ENOENT, err, sizeof err), "No such file or directory");
}
END_TEST

/* Tier names parse both ways; an unknown one, or one above the CPU, is
 * refused naming the value; the process's tier is the best unless
 * CONVKIT_ISA lowers it, and never above what the CPU runs. */
START_TEST(isa_tiers)
{
    char err[256];
    ck_isa isa = CK_ISA_COUNT;
    ck_assert(ck_isa_cpu_has(CK_ISA_GENERIC));
    for (int i = 0; i < CK_ISA_COUNT; i++) {
        int rc = ck_isa_parse(ck_isa_name((ck_isa)i), &isa, err, sizeof err);
        if (ck_isa_cpu_has((ck_isa)i)) {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(isa, i);
        } else {
            ck_assert_int_eq(rc, CK_EINVAL);
            ck_assert_ptr_nonnull(strstr(err, "this CPU (or this build) has no"));
        }
    }
    ck_assert_int_eq(ck_isa_parse("sse9", &isa, err, sizeof err), CK_EINVAL);
    ck_assert_str_eq(err, "CONVKIT_ISA=sse9: unknown tier (want avx512, avx2 or generic)");
    ck_assert(ck_isa_cpu_has(ck_isa_best()));
    const char *env = getenv("CONVKIT_ISA");
    ck_assert_int_eq(ck_isa_get(&isa, err, sizeof err), 0);
    ck_assert(ck_isa_cpu_has(isa));
    if (!env || !*env) {
        ck_assert_int_eq(isa, ck_isa_best());
    }
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, rng_streams_are_keyed);
    tcase_add_test(tc, rng_skip_and_cuts);
    tcase_add_test(tc, rng_distributions);
    tcase_add_test(tc, rng_shuffle_is_permutation);
    tcase_add_test(tc, err_messages);
    tcase_add_test(tc, buf_builds_text);
    tcase_add_test(tc, buf_json_strings);
    tcase_add_test(tc, buf_oom_is_sticky);
    tcase_add_test(tc, json_numbers_round_trip);
    tcase_add_test(tc, atomic_files_whole_or_nothing);
    tcase_add_test(tc, isa_tiers);
    tcase_add_test(tc, nearest_names);
    tcase_add_test(tc, text_in_columns);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ck_test_run(common_suite());
}
