/* fma_peak.c: the core's FMA peak, measured: 12 independent chains of
 * 8-float (AVX2) or 16-float (AVX-512) fused multiply-adds, enough to keep
 * both FMA ports busy through their latency, on one thread. Prints
 * GFLOP/s (2 flops per lane per FMA), the figure the kernel tiers'
 * fractions in docs/BENCHMARKS.md are taken of.
 *
 *   gcc -O3 -mavx2 -mfma bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 *   gcc -O3 -mavx512f bench/fma_peak.c -o /tmp/fma_peak512 && /tmp/fma_peak512
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define SET1  _mm512_set1_ps
#define FMA   _mm512_fmadd_ps
#define ADD   _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1  _mm256_set1_ps
#define FMA   _mm256_fmadd_ps
#define ADD   _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif

enum { CHAINS = 12 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void)
{
    const long iters = 200000000L;
    vec a = SET1(0.999999f), b = SET1(1e-7f), c[CHAINS];
    for (int i = 0; i < CHAINS; i++) {
        c[i] = SET1((float)i);
    }
    double best = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        for (long k = 0; k < iters / 10; k++) {
            for (int i = 0; i < CHAINS; i++) {
                c[i] = FMA(c[i], a, b);
            }
        }
        double s = now() - t0, gflops = 2.0 * LANES * CHAINS * (double)(iters / 10) / s / 1e9;
        best = gflops > best ? gflops : best;
    }
    vec sum = c[0];
    for (int i = 1; i < CHAINS; i++) {
        sum = ADD(sum, c[i]);
    }
    float out[LANES];
    STORE(out, sum);
    printf("%d-float FMA peak, one thread: %.1f GFLOP/s (checksum %g)\n", LANES, best,
           (double)out[0]);
    return 0;
}
