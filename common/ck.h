/* ck.h: what every convkit module shares, and nothing else.
 *
 * - Status codes and the one-line error convention: a fallible function
 *   returns 0 or a negative CK_E* code and writes "file[:member]: step: reason"
 *   into a caller-provided buffer. Only cli/ prints.
 * - The counter-based random generator (Philox4x32-10, Salmon et al., SC'11).
 *   Every random choice in convkit is a pure function of
 *   (seed, epoch, id, purpose, draw index), so results do not depend on how
 *   many threads run or in which order they finish.
 * - A growing text buffer for the JSON, CSV and tables modules write: a
 *   failed allocation only sets a flag, so builders append without checking
 *   and look once at the end; JSON strings and numbers are written by it
 *   alone.
 * - errno text, and files that appear whole or not at all (ck_file.c): the
 *   one protocol by which every output is written.
 * - The tier of hand-written kernels the process runs (ck_isa.c).
 * - The nearest name to a misspelled word (ck_words.c), for every "did you
 *   mean" convkit prints.
 * - The width of text in a terminal's columns (ck_columns.c), for tables
 *   of names in any script.
 */
#ifndef CK_H
#define CK_H

#include <stddef.h>
#include <stdint.h>

enum {
    CK_OK = 0,
    CK_EIO = -1,       /* cannot open, read or write a file */
    CK_EFORMAT = -2,   /* the input is not what it claims to be */
    CK_ENOMEM = -3,    /* allocation failed */
    CK_EINVAL = -4,    /* bad argument or option (usage) */
    CK_ELIMIT = -5,    /* a safety limit was exceeded (bomb, nesting, size) */
    CK_ECANCELED = -6, /* stopped on request or by another stage's error */
    CK_EDB = -7,       /* SQLite failed */
    CK_EDECODE = -8,   /* an image failed to decode */
    CK_ETHREAD = -9,   /* a pthread call failed */
    CK_ENUMERIC = -10, /* NaN or infinity in training */
};

#if defined(__GNUC__)
#define CK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CK_PRINTF(a, b)
#endif

/* Writes the formatted message into err (truncated to errlen, always
 * terminated; err may be NULL) and returns code, so callers can write
 * `return ck_err(err, errlen, CK_EIO, "%s: open: %s", path, why);`. */
int ck_err(char *err, size_t errlen, int code, const char *fmt, ...) CK_PRINTF(4, 5);

/* A short English name for a CK_E* code ("i/o error", ...). */
const char *ck_strerror(int code);

/* Monotonic seconds, for statistics only (never for results). */
double ck_now(void);

/* Online processors, at least 1. */
int ck_ncores(void);

/* Where part `part` of `parts` equal cuts of n things starts: n*part/parts,
 * so part p holds [ck_cut(n, p, P), ck_cut(n, p + 1, P)). The training
 * batch's shards and each process's share of them are cut this way. */
int64_t ck_cut(int64_t n, int part, int parts);

/* ---- kernel tiers (ck_isa.c) ------------------------------------------- */

/* 1 where the x86-64 kernel tiers are compiled (GCC or Clang on x86-64,
 * unless configured with -DCK_ISA=generic), else 0. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(CK_ISA_GENERIC_ONLY)
#define CK_X86_KERNELS 1
#else
#define CK_X86_KERNELS 0
#endif

/* The tiers of hand-written kernels, lowest first. */
typedef enum ck_isa { CK_ISA_GENERIC = 0, CK_ISA_AVX2, CK_ISA_AVX512, CK_ISA_COUNT } ck_isa;

/* "generic", "avx2", "avx512". */
const char *ck_isa_name(ck_isa isa);
/* Does this CPU (and this build) run tier isa? generic always does. */
int ck_isa_cpu_has(ck_isa isa);
/* The best tier this CPU and build run. */
ck_isa ck_isa_best(void);
/* A tier's name -> *out; CK_EINVAL naming the value for an unknown name or
 * a tier this CPU lacks. */
int ck_isa_parse(const char *text, ck_isa *out, char *err, size_t errlen);
/* The process's tier, decided on the first call: ck_isa_best(), or the one
 * CONVKIT_ISA names; CK_EINVAL (the same message on every call) when
 * CONVKIT_ISA is unknown or above the CPU. Thread-safe. */
int ck_isa_get(ck_isa *out, char *err, size_t errlen);

/* ---- a growing text buffer --------------------------------------------- */

/* A value type: start it as `ck_buf b = {0};`. s is malloc'd and always
 * terminated once anything was added; len excludes the terminator. A failed
 * allocation sets oom and every later append does nothing, so check oom (or
 * the result of ck_buf_take) once at the end. Not thread-safe; one owner. */
typedef struct ck_buf {
    char *s;
    size_t len, cap;
    int oom;
} ck_buf;

/* Appends n bytes (which may include NUL bytes). */
void ck_buf_add(ck_buf *b, const void *p, size_t n);
/* Appends the string s. */
void ck_buf_str(ck_buf *b, const char *s);
/* Appends the formatted text, however long. */
void ck_buf_printf(ck_buf *b, const char *fmt, ...) CK_PRINTF(2, 3);
/* Appends v as a JSON number in the shortest of "%.15g".."%.17g" that
 * reads back to the same double (C locale), or null for NaN and
 * infinities, which JSON cannot hold. */
void ck_buf_json_num(ck_buf *b, double v);
/* Append `,"key":` and then the value as ck_buf_json_num or
 * ck_buf_json_str would: a member of an object whose first member is
 * written already. key is written as is (a plain identifier). */
void ck_buf_json_field_num(ck_buf *b, const char *key, double v);
void ck_buf_json_field_str(ck_buf *b, const char *key, const char *s);
/* Appends v as a JSON number with 17 significant digits ("%.17g"), null
 * for NaN and infinities: for texts that are compared byte for byte
 * across versions (a run's configuration, which resuming compares). */
void ck_buf_json_num17(ck_buf *b, double v);
/* Writes v into buf in that same shortest round-trip form ("nan", "inf"
 * for the non-finite); buf holds at least 32 bytes. */
void ck_fmt_double(char *buf, size_t len, double v);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included):
 * how every writer of text for others (JSON, HTML) tells bytes it must
 * replace. */
size_t ck_utf8_len(const unsigned char *s);
/* Appends s as a JSON string literal, or null for NULL: '"' and '\\'
 * escaped, control characters as \n \r \t \b \f or \u00XX, and bytes
 * that are not UTF-8 replaced by U+FFFD, so the result is always valid. */
void ck_buf_json_str(ck_buf *b, const char *s);
/* Returns the text (the caller frees it; "" when nothing was added) and
 * empties b; on oom frees it and returns NULL. */
char *ck_buf_take(ck_buf *b);
/* Frees the text and empties b. */
void ck_buf_free(ck_buf *b);

/* ---- random numbers ---------------------------------------------------- */

/* What a stream is for; part of the counter, so streams never overlap. */
enum {
    CK_RNG_SPLIT = 1,   /* dataset splits */
    CK_RNG_SHUFFLE = 2, /* per-epoch sample order */
    CK_RNG_AUGMENT = 3, /* per-sample augmentation parameters */
    CK_RNG_DROPOUT = 4, /* dropout masks */
    CK_RNG_INIT = 5,    /* initial weights */
    CK_RNG_VIZ = 6,     /* the noise a filter's pattern starts from */
    CK_RNG_TEST = 99,   /* tests */
};

/* One stream. A value type: copy it to fork, no allocation, not shared
 * between threads (each thread makes its own from the same key). */
typedef struct ck_rng {
    uint32_t key[2];
    uint32_t ctr[4]; /* ctr[0] counts blocks; the rest is the stream id */
    uint32_t buf[4];
    int avail; /* unused words left in buf */
} ck_rng;

/* One Philox4x32-10 block: out = philox(ctr, key). */
void ck_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The stream for (seed, epoch, id, purpose); id is a sample id, a layer
 * index, ... Same arguments, same numbers, on every machine. */
void ck_rng_init(ck_rng *r, uint64_t seed, uint64_t epoch, uint64_t id, uint32_t purpose);

uint32_t ck_rng_u32(ck_rng *r);
/* Moves the stream on by `words` u32 draws without drawing them: a part
 * of a stream starts where it would in the whole. */
void ck_rng_skip(ck_rng *r, uint64_t words);
uint64_t ck_rng_u64(ck_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double ck_rng_uniform(ck_rng *r);
/* Uniform in [lo, hi). */
double ck_rng_range(ck_rng *r, double lo, double hi);
/* Uniform integer in [0, n), unbiased (Lemire); n > 0. */
uint32_t ck_rng_below(ck_rng *r, uint32_t n);
/* Standard normal (Box-Muller). */
double ck_rng_normal(ck_rng *r);
/* Fisher-Yates shuffle of v[0..n). */
void ck_rng_shuffle_u32(ck_rng *r, uint32_t *v, size_t n);
void ck_rng_shuffle_i64(ck_rng *r, int64_t *v, size_t n);

/* ---- "did you mean" (ck_words.c) --------------------------------------- */

/* The edit distance of a and b: insertions, deletions, substitutions and
 * swaps of adjacent characters cost 1 (optimal string alignment). Words
 * over 64 bytes count as wholly different unless equal. */
int ck_edit_distance(const char *a, const char *b);

/* The name nearest to a word among names offered one by one, when it is
 * near enough to be the word misspelled (see ck_words.c for the rule):
 *
 *     ck_nearest n;
 *     ck_nearest_init(&n, word);
 *     for (...) ck_nearest_add(&n, name);
 *     ... "unknown word%s", ck_nearest_hint(&n, hint, sizeof hint)
 *
 * A value type; best borrows the name given to ck_nearest_add. */
typedef struct ck_nearest {
    const char *word;
    const char *best; /* NULL while no name is near enough */
    int dist;         /* best's edit distance */
    int limit;        /* the farthest a misspelling may be */
} ck_nearest;
void ck_nearest_init(ck_nearest *n, const char *word);
void ck_nearest_add(ck_nearest *n, const char *name);
/* "; did you mean BEST?" when n found a name, else "": the tail of every
 * message about an unknown word. Into buf (len bytes); returns buf. */
const char *ck_nearest_hint(const ck_nearest *n, char *buf, size_t len);

/* ---- text in a terminal's columns (ck_columns.c) ------------------------ */

/* The columns UTF-8 text s takes in a terminal: 2 for a wide (East Asian)
 * character, 0 for a combining mark, else 1; a byte that is not UTF-8
 * counts 1 (so does every character on a system without the C.UTF-8
 * locale, which glibc has built in since 2.35). Thread-safe. */
int ck_text_columns(const char *s);
/* s as a table's cell of exactly `cols` columns into buf (len bytes): cut
 * at the end of the last whole character that fits, padded with spaces
 * after it, or before it when right is 1. Returns buf. Thread-safe. */
const char *ck_text_cell(char *buf, size_t len, const char *s, int cols, int right);

/* ---- errno text and whole-or-nothing files (ck_file.c) ----------------- */

/* The text of errno value errnum in buf (strerror is not thread-safe);
 * returns buf. */
const char *ck_errno_text(int errnum, char *buf, size_t len);

/* An output being written: bytes go to path + CK_PART_SUFFIX, which
 * ck_atomic_commit flushes to disk and renames over path. A value type
 * owned by one thread; the fields are read-only for the writer (tmp is the
 * name to give a library that writes the file itself, after closing fd or
 * not using it). */
#define CK_PART_SUFFIX ".part"
typedef struct ck_atomic {
    char *path, *tmp;
    int fd; /* open for writing until commit or abort */
} ck_atomic;

/* Creates path.part anew (removing a killed run's leftover, never
 * following a link). Errors name path:
 * "path: create: reason". Returns 0, CK_EIO, CK_ENOMEM; on error a is
 * empty and nothing is left behind. */
int ck_atomic_open(ck_atomic *a, const char *path, char *err, size_t errlen);
/* As ck_atomic_open, for a library that writes the file by name (libhdf5,
 * SQLite, PLplot): the empty .part file is made and its descriptor closed;
 * give the library a->tmp, then commit or abort. */
int ck_atomic_open_named(ck_atomic *a, const char *path, char *err, size_t errlen);
/* Appends len bytes to the .part file. Returns 0 or CK_EIO ("path: write:
 * reason"); the caller then aborts. */
int ck_atomic_write(ck_atomic *a, const void *data, size_t len, char *err, size_t errlen);
/* Flushes the .part file to disk and renames it over path; on failure
 * removes it and leaves path as it was. a is released either way. Returns
 * 0 or CK_EIO ("path: write|rename: reason"). */
int ck_atomic_commit(ck_atomic *a, char *err, size_t errlen);
/* Removes the .part file and releases a; an empty a is a no-op. */
void ck_atomic_abort(ck_atomic *a);
/* The whole protocol for bytes already in memory. */
int ck_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
