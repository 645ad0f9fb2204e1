/* wino_tx_avx512.c: Winograd's transforms (wino_tx.h) for the avx512 tier,
 * sixteen floats at a time (one zmm register). */
#include "nn_kern.h"

#if CK_X86_KERNELS
#define WT      __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define WINO_TX nn_wino_tx_avx512
#define WLANES  16
#include "wino_tx.h"
#else
const nn_wino_tx nn_wino_tx_avx512[2];
#endif
