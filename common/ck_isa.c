/* ck_isa.c: which tier of hand-written kernels this process runs.
 *
 * convkit's kernels come in tiers, from the portable C that every
 * architecture builds to the x86-64 ones written for a vector extension:
 * generic < avx2 (AVX2 + FMA, Haswell and later, AMD since Zen) < avx512
 * (F, VL, BW, DQ: Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4). The tier
 * is decided once per process, here and nowhere else: the best one the CPU
 * and the build have, unless CONVKIT_ISA names a lower one (for tests,
 * benchmarks and bug reports). An unknown value, or a tier the CPU lacks,
 * is an error rather than a silent fallback, so a benchmark never reports
 * a tier that did not run. Every module that has tiered kernels (train's
 * convolutions, augment's warp) asks ck_isa_get.
 *
 * A build configured with -DCK_ISA=generic (CK_ISA_GENERIC_ONLY) has no
 * x86 kernels at all: what a port to another architecture starts from.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ck.h"

static const char *const names[CK_ISA_COUNT] = {"generic", "avx2", "avx512"};

const char *ck_isa_name(ck_isa isa)
{
    return isa >= 0 && isa < CK_ISA_COUNT ? names[isa] : "?";
}

int ck_isa_cpu_has(ck_isa isa)
{
#if CK_X86_KERNELS
    __builtin_cpu_init();
    switch (isa) {
    case CK_ISA_GENERIC: return 1;
    case CK_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CK_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("fma");
    default: return 0;
    }
#else
    return isa == CK_ISA_GENERIC;
#endif
}

int ck_isa_parse(const char *text, ck_isa *out, char *err, size_t errlen)
{
    for (int i = 0; i < CK_ISA_COUNT; i++) {
        if (strcmp(text, names[i]) == 0) {
            if (!ck_isa_cpu_has((ck_isa)i)) {
                return ck_err(err, errlen, CK_EINVAL,
                              "CONVKIT_ISA=%s: this CPU (or this build) has no %s kernels; it "
                              "runs %s",
                              text, names[i], names[ck_isa_best()]);
            }
            *out = (ck_isa)i;
            return 0;
        }
    }
    return ck_err(err, errlen, CK_EINVAL,
                  "CONVKIT_ISA=%s: unknown tier (want avx512, avx2 or generic)", text);
}

ck_isa ck_isa_best(void)
{
    for (int i = CK_ISA_COUNT - 1; i > 0; i--) {
        if (ck_isa_cpu_has((ck_isa)i)) {
            return (ck_isa)i;
        }
    }
    return CK_ISA_GENERIC;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static ck_isa chosen;
static int chosen_rc;
static char chosen_err[160];

static void decide(void)
{
    const char *env = getenv("CONVKIT_ISA");
    chosen = ck_isa_best();
    if (env && *env) {
        chosen_rc = ck_isa_parse(env, &chosen, chosen_err, sizeof chosen_err);
    }
}

int ck_isa_get(ck_isa *out, char *err, size_t errlen)
{
    pthread_once(&once, decide);
    if (chosen_rc) {
        return ck_err(err, errlen, chosen_rc, "%s", chosen_err);
    }
    *out = chosen;
    return 0;
}
