/* wino_tx_avx2.c: Winograd's transforms (wino_tx.h) for the avx2 tier,
 * eight floats at a time (one ymm register). */
#include "nn_kern.h"

#if CK_X86_KERNELS
#define WT      __attribute__((target("avx2,fma")))
#define WINO_TX nn_wino_tx_avx2
#define WLANES  8
#include "wino_tx.h"
#else
const nn_wino_tx nn_wino_tx_avx2[2];
#endif
