/* wino_tx_ref.c: Winograd's transforms (wino_tx.h) in plain code, for the
 * portable kernel set (what tests and other architectures run), four
 * floats at a time: SSE2 here, NEON on aarch64. */
#include "nn_kern.h"

#define WT
#define WINO_TX nn_wino_tx_ref
#define WLANES  4
#include "wino_tx.h"
