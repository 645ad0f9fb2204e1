/* ck_words.c: "did you mean": the nearest of a set of names to a word
 * that is none of them, for misspelled commands, options, models and
 * policy keys alike, so every suggestion follows one rule.
 *
 * The distance is the optimal string alignment distance (Levenshtein with
 * adjacent transpositions, as git's and Python's argparse suggestions
 * count typos): insertions, deletions, substitutions and swaps of two
 * neighbours cost 1 each, so "trian" is 1 from "train" and "epoch" 1 from
 * "epochs". A name is suggested only when the distance is small against
 * the word's length (1 up to 4 characters, 2 up to 9, 3 beyond), so a word
 * that is merely different ("resnet50" among the book's models) gets no
 * suggestion rather than a misleading one. A name that a word of three or
 * more characters begins ("prepare" for "prepare-dataset") is near too.
 * The nearest by distance wins; ties go to the first name seen.
 */
#include <stdio.h>
#include <string.h>

#include "ck.h"

enum { MAX_WORD = 64 };

int ck_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > MAX_WORD || m > MAX_WORD) {
        return n == m && memcmp(a, b, n) == 0 ? 0 : (int)(n > m ? n : m);
    }
    /* Three rows of the dynamic programme: i-2, i-1 and i. */
    int rows[3][MAX_WORD + 1];
    for (size_t j = 0; j <= m; j++) {
        rows[0][j] = (int)j;
    }
    for (size_t i = 1; i <= n; i++) {
        int *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) {
                d = cur[j - 1] + 1;
            }
            if (prev[j - 1] + cost < d) {
                d = prev[j - 1] + cost;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < d) {
                d = prev2[j - 2] + 1;
            }
            cur[j] = d;
        }
    }
    return rows[n % 3][m];
}

void ck_nearest_init(ck_nearest *n, const char *word)
{
    size_t len = strlen(word);
    *n = (ck_nearest){.word = word,
                      .best = NULL,
                      .dist = 0,
                      .limit = len <= 4   ? 1
                               : len <= 9 ? 2
                                          : 3};
}

void ck_nearest_add(ck_nearest *n, const char *name)
{
    if (!name || !*n->word) {
        return;
    }
    size_t len = strlen(n->word);
    int d = ck_edit_distance(n->word, name);
    int near = d <= n->limit || (len >= 3 && strncmp(name, n->word, len) == 0);
    if (d > 0 && near && (!n->best || d < n->dist)) {
        n->best = name;
        n->dist = d;
    }
}

const char *ck_nearest_hint(const ck_nearest *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", n->best ? "; did you mean " : "", n->best ? n->best : "",
             n->best ? "?" : "");
    return buf;
}
