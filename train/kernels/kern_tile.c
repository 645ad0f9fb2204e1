/* kern_tile.c: how a GEMM of nn_kconv or nn_kdw is cut into register
 * tiles, the same for every vector tier (kern_avx512.c, kern_avx2.c,
 * which supply the tiles; kern_avx512.c explains the formulation).
 *
 * Columns (filters) go in panels of 1, 2 or 4 vectors (a tier lists the
 * widths it has), of which only the last vector may be partial: a panel
 * is the widest one whose full vectors all fit. Pixels go in tiles of MR
 * rows, row by row or "flat" across row ends (plan()). A forward panel
 * whose weights exceed PANEL_L1 is swept in depth chunks of CHUNK rows,
 * each over a block of BLOCK_PIXELS pixels before the next, so that every
 * tile reads its weights from L1 and the partial sums stay in L2; the
 * kernel gradient sweeps blocks of DW_BLOCK pixels while every tile of dw
 * passes over them. Nothing here depends on which thread runs a call:
 * results are the same bits for any team.
 */
#include "nn_kern.h"

/* A panel's weights (taps*depth rows) larger than this are swept in
 * chunks of CHUNK rows, each chunk over all the pixels of a block before
 * the next (partial sums round-trip through y, which stays in L1/L2):
 * every tile then reads its weights from L1 instead of streaming the
 * whole panel from L2, which is what limited the deep layers
 * (catsdogs-2nd's last convolution: 590 KB per panel, 52 -> 109 GFLOP/s
 * on AVX-512). */
enum { PANEL_L1 = 40 << 10, CHUNK = 128, BLOCK_PIXELS = 768, DW_BLOCK = 256 };

/* The panel for the first `rem` remaining columns: an index into ts's
 * widths; *tail gets the lanes of its last vector (1..lanes). */
static int panel(const nn_tile_set *ts, int rem, int *tail)
{
    int i = ts->npanels - 1;
    while (i > 0 && ts->nv[i] * ts->lanes - ts->lanes >= rem) {
        i--;
    }
    int last = rem - ts->lanes * (ts->nv[i] - 1);
    *tail = last > ts->lanes ? ts->lanes : last;
    return i;
}

/* Tiles of mr pixels over the rows of k: row by row, or "flat" when each
 * input row continues where the previous one's windows end (a_rs = Wv *
 * a_cs, stride 1): then pixel m of the flattened rows reads a + m*a_cs,
 * tiles run across row ends, and the Wv - Q columns past each row's end
 * are computed into a dummy row. Flat wins when Q is small against mr
 * (catsdogs-2nd's 7x7 output from 9x9: 14 -> 11 tiles per image and
 * panel, a few per cent), row by row when the dummy columns cost more. */
typedef struct tiling {
    int flat, Wv; /* Wv: virtual row length in pixels when flat */
    int ntiles;
} tiling;

static tiling plan(const nn_kconv *k, int mr)
{
    tiling t = {.ntiles = k->P * ((k->Q + mr - 1) / mr)};
    if (k->a_cs > 0 && k->a_rs % k->a_cs == 0 && k->P > 1) {
        int Wv = (int)(k->a_rs / k->a_cs);
        if (Wv >= k->Q) {
            int flat = ((k->P - 1) * Wv + k->Q + mr - 1) / mr;
            if (flat < t.ntiles) {
                t = (tiling){.flat = 1, .Wv = Wv, .ntiles = flat};
            }
        }
    }
    return t;
}

/* Tile i's first input pixel and its output rows (dummy past a row). */
static const float *tile_rows(const nn_kconv *k, const tiling *tl, int mr, int i, const float *a,
                              float *y, float *dummy, float **yr, int *m)
{
    if (!tl->flat) {
        int per = (k->Q + mr - 1) / mr, p = i / per, q = i % per * mr;
        *m = k->Q - q < mr ? k->Q - q : mr;
        for (int r = 0; r < *m; r++) {
            yr[r] = y + p * k->y_rs + (q + r) * k->y_cs;
        }
        return a + p * k->a_rs + q * k->a_cs;
    }
    int m0 = i * mr, end = (k->P - 1) * tl->Wv + k->Q;
    *m = end - m0 < mr ? end - m0 : mr;
    int p = m0 / tl->Wv, q = m0 % tl->Wv;
    for (int r = 0; r < *m; r++) {
        yr[r] = q < k->Q ? y + p * k->y_rs + q * k->y_cs : dummy;
        if (++q == tl->Wv) {
            q = 0;
            p++;
        }
    }
    return a + (ptrdiff_t)m0 * k->a_cs;
}

void nn_tiles_conv(const nn_tile_set *ts, const nn_kconv *k)
{
    float dummy[NN_TILE_MAX_COLS] = {0}; /* the outputs of pixels past a row's end */
    for (int c0 = 0; c0 < k->ncols;) {
        int tail, pi = panel(ts, k->ncols - c0, &tail), mr = ts->fwd_mr[pi];
        int width = ts->nv[pi] * ts->lanes;
        size_t bytes = (size_t)k->taps * k->depth * (size_t)width * sizeof(float);
        int chunk = bytes > PANEL_L1 ? CHUNK : k->depth;
        int taps = bytes > PANEL_L1 ? 1 : k->taps; /* per call */
        const float *bias = k->bias ? k->bias + c0 : NULL;
        tiling tl = plan(k, mr);
        /* Chunked panels sweep the pixels in blocks whose outputs stay in
         * L2 between chunks (a 150x150 image's are 5.8 MB per panel). */
        int block = bytes > PANEL_L1 ? BLOCK_PIXELS / mr : tl.ntiles;
        for (int i0 = 0; i0 < tl.ntiles; i0 += block) {
            int i1 = tl.ntiles - i0 < block ? tl.ntiles : i0 + block;
            for (int t = 0; t < k->taps; t += taps) {
                for (int d0 = 0; d0 < k->depth; d0 += chunk) {
                    int dn = k->depth - d0 < chunk ? k->depth - d0 : chunk;
                    int first = t == 0 && d0 == 0;
                    int last = t + taps == k->taps && d0 + dn == k->depth;
                    const float *a = k->a + t * k->tap_rs + d0;
                    const float *b = k->b + ((ptrdiff_t)t * k->depth + d0) * k->ldb + c0;
                    for (int i = i0; i < i1; i++) {
                        float *yr[NN_TILE_MAX_MR];
                        int m;
                        const float *at = tile_rows(k, &tl, mr, i, a, k->y + c0, dummy, yr, &m);
                        ts->fwd[pi][m](at, k->a_cs, k->tap_rs, taps, dn, b, k->ldb, yr,
                                       last ? bias : NULL, last && k->relu, k->accumulate || !first,
                                       tail);
                    }
                }
            }
        }
        c0 += width;
    }
}

void nn_tiles_dw(const nn_tile_set *ts, const nn_kdw *k)
{
    int rows = k->Q >= DW_BLOCK ? 1 : DW_BLOCK / k->Q;
    int mask = k->ym != NULL;
    for (int p0 = 0; p0 < k->P; p0 += rows) {
        int pn = k->P - p0 < rows ? k->P - p0 : rows;
        const float *x = k->x + p0 * k->x_rs;
        const float *dy = k->dy + p0 * k->dy_rs, *ym = mask ? k->ym + p0 * k->dy_rs : NULL;
        for (int c0 = 0; c0 < k->ncols;) {
            int tail, pi = panel(ts, k->ncols - c0, &tail), mr = ts->dw_mr[pi];
            for (int t = 0; t < k->taps; t++) {
                for (int d0 = 0; d0 < k->depth; d0 += mr) {
                    int m = k->depth - d0 < mr ? k->depth - d0 : mr;
                    ts->dw[mask][pi][m](x + t * k->tap_rs + d0, k->x_rs, k->x_cs, dy + c0,
                                        mask ? ym + c0 : NULL, k->dy_rs, k->dy_cs, pn, k->Q,
                                        k->dw + ((ptrdiff_t)t * k->depth + d0) * k->ldw + c0,
                                        k->ldw, tail);
                }
            }
            c0 += ts->nv[pi] * ts->lanes;
        }
        if (k->db) {
            ts->db(dy, ym, k->dy_rs, k->dy_cs, pn, k->Q, k->ncols, k->db);
        }
    }
}
