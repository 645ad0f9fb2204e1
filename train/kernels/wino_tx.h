/* wino_tx.h: Winograd F(2x2,3x3)'s transforms (conv_winograd.c has the
 * algorithm), written once and compiled once per kernel tier: a tier's
 * file (wino_tx_avx512.c, wino_tx_avx2.c, wino_tx_ref.c) defines WT, the
 * target attribute of its functions, and WINO_TX, the name of the table
 * it exports, then includes this file. Only additions, halvings and
 * compares: GCC's vector extension gives one AVX-512 register per v16,
 * two AVX2 ones, or plain code, from the same source, with the same
 * results in every tier.
 */
#ifndef WT
#error "wino_tx.h is included by a tier's file, which defines WT and WINO_TX"
#endif

/* ---- transforms ------------------------------------------------------------ */

/* 16 channels (or filters) at a time. Channel and filter counts are
 * multiples of 16 (nn_conv_winograd_fits). */
typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t v16i __attribute__((vector_size(64), aligned(4))); /* lane masks: 0 or -1 */

#define WTI WT __attribute__((always_inline)) static inline

WTI v16 ld(const float *p)
{
    return *(const v16 *)p;
}

WTI void st(float *p, v16 v)
{
    *(v16 *)p = v;
}

/* a where m is set, else b. */
WTI v16 pick(v16i m, v16 a, v16 b)
{
    return (v16)(((v16i)a & m) | ((v16i)b & ~m));
}

/* U[t][c][k] = (G g G^T)[t] for the filter g = w[0..3][0..3][c][k], for
 * channels [c0, c1), with G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
WT static void weight_transform(const float *w, int C, int K, int c0, int c1, float *u)
{
    const size_t CK = (size_t)C * K;
    for (int c = c0; c < c1; c++) {
        const float *g = w + (size_t)c * K;
        float *o = u + (size_t)c * K;
        for (int k = 0; k < K; k += 16) {
            v16 t[4][3];
            for (int s = 0; s < 3; s++) {
                v16 g0 = ld(g + (0 * 3 + s) * CK + k), g1 = ld(g + (1 * 3 + s) * CK + k),
                    g2 = ld(g + (2 * 3 + s) * CK + k);
                t[0][s] = g0;
                t[1][s] = 0.5f * (g0 + g1 + g2);
                t[2][s] = 0.5f * (g0 - g1 + g2);
                t[3][s] = g2;
            }
            for (int i = 0; i < 4; i++) {
                st(o + (i * 4 + 0) * CK + k, t[i][0]);
                st(o + (i * 4 + 1) * CK + k, 0.5f * (t[i][0] + t[i][1] + t[i][2]));
                st(o + (i * 4 + 2) * CK + k, 0.5f * (t[i][0] - t[i][1] + t[i][2]));
                st(o + (i * 4 + 3) * CK + k, t[i][2]);
            }
        }
    }
}

/* v[t*vs + c] = (B^T d B)[t] for the patch d[i][j] = p[i*4 + j][c], with
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
WT static void input_transform(const float *const p[16], int C, float *v, size_t vs)
{
    for (int c = 0; c < C; c += 16) {
        v16 t[4][4];
        for (int j = 0; j < 4; j++) {
            v16 d0 = ld(p[j] + c), d1 = ld(p[4 + j] + c), d2 = ld(p[8 + j] + c),
                d3 = ld(p[12 + j] + c);
            t[0][j] = d0 - d2;
            t[1][j] = d1 + d2;
            t[2][j] = d2 - d1;
            t[3][j] = d1 - d3;
        }
        for (int i = 0; i < 4; i++) {
            st(v + (i * 4 + 0) * vs + c, t[i][0] - t[i][2]);
            st(v + (i * 4 + 1) * vs + c, t[i][1] + t[i][2]);
            st(v + (i * 4 + 2) * vs + c, t[i][2] - t[i][1]);
            st(v + (i * 4 + 3) * vs + c, t[i][1] - t[i][3]);
        }
    }
}

/* The tile's 2x2 outputs y[i*2 + j] = (A^T m A)[i][j] + bias, filters
 * [k, k+16), for m[t] = mp[t*ms + k] and A^T = [1 1 1 0; 0 1 -1 -1];
 * then the ReLU (a NaN passes: max(0, y) keeps y when unordered). */
WTI void output_tile(const float *mp, size_t ms, int k, const float *bias, int relu, v16 y[4])
{
    v16 a0[4], a1[4];
    for (int i = 0; i < 4; i++) {
        v16 m0 = ld(mp + (i * 4 + 0) * ms + k), m1 = ld(mp + (i * 4 + 1) * ms + k),
            m2 = ld(mp + (i * 4 + 2) * ms + k), m3 = ld(mp + (i * 4 + 3) * ms + k);
        a0[i] = m0 + m1 + m2;
        a1[i] = m1 - m2 - m3;
    }
    v16 b = bias ? ld(bias + k) : (v16){0};
    y[0] = a0[0] + a0[1] + a0[2] + b;
    y[1] = a1[0] + a1[1] + a1[2] + b;
    y[2] = a0[1] - a0[2] - a0[3] + b;
    y[3] = a1[1] - a1[2] - a1[3] + b;
    for (int i = 0; relu && i < 4; i++) {
        y[i] = (v16)((v16i)y[i] & ~(y[i] < 0.0f));
    }
}

/* Writes the tile's outputs to out[i*2 + j] (rows of K floats). */
WT static void output_transform(const float *mp, size_t ms, int K, const float *bias, int relu,
                                float *const out[4])
{
    for (int k = 0; k < K; k += 16) {
        v16 y[4];
        output_tile(mp, ms, k, bias, relu, y);
        for (int i = 0; i < 4; i++) {
            st(out[i] + k, y[i]);
        }
    }
}

/* The tile as one 2x2 pooling window: its max to py, its position (0..3,
 * the first of equals; a NaN wins) to parg, as nn_kernels.pool2_forward. */
WT static void output_pool(const float *mp, size_t ms, int K, const float *bias, float *py,
                           uint32_t *parg)
{
    for (int k = 0; k < K; k += 16) {
        v16 y[4];
        output_tile(mp, ms, k, bias, 1, y);
        v16 m = y[0];
        v16i a = {0};
        for (int i = 1; i < 4; i++) {
            v16i take = (y[i] > m) | (y[i] != y[i]);
            m = pick(take, y[i], m);
            a = (a & ~take) | (take & i);
        }
        st(py + k, m);
        *(v16i *)(parg + k) = a;
    }
}

/* The kernel gradient's transforms (the forward's, transposed). A 2x2
 * tile of the output gradient, e[a*2 + b] (rows of K floats), to
 * d[t*ds + k] = (A e A^T)[t], filters [0, K). */
WT static void grad_transform(const float *const e[4], int K, float *d, size_t ds)
{
    for (int k = 0; k < K; k += 16) {
        v16 e00 = ld(e[0] + k), e01 = ld(e[1] + k), e10 = ld(e[2] + k), e11 = ld(e[3] + k);
        v16 r[4][2] = {{e00, e01}, {e00 + e10, e01 + e11}, {e00 - e10, e01 - e11}, {-e10, -e11}};
        for (int i = 0; i < 4; i++) {
            st(d + (i * 4 + 0) * ds + k, r[i][0]);
            st(d + (i * 4 + 1) * ds + k, r[i][0] + r[i][1]);
            st(d + (i * 4 + 2) * ds + k, r[i][0] - r[i][1]);
            st(d + (i * 4 + 3) * ds + k, -r[i][1]);
        }
    }
}

/* dw[r][s][c][k] += (G^T W G)[r][s] for W[t][c][k]. */
WT static void weight_grad_transform(const float *W, int C, int K, float *dw)
{
    const size_t CK = (size_t)C * K;
    for (int c = 0; c < C; c++) {
        const float *u = W + (size_t)c * K;
        float *o = dw + (size_t)c * K;
        for (int k = 0; k < K; k += 16) {
            v16 h[3][4];
            for (int j = 0; j < 4; j++) {
                v16 u0 = ld(u + (0 * 4 + j) * CK + k), u1 = ld(u + (1 * 4 + j) * CK + k),
                    u2 = ld(u + (2 * 4 + j) * CK + k), u3 = ld(u + (3 * 4 + j) * CK + k);
                h[0][j] = u0 + 0.5f * (u1 + u2);
                h[1][j] = 0.5f * (u1 - u2);
                h[2][j] = 0.5f * (u1 + u2) + u3;
            }
            for (int r = 0; r < 3; r++) {
                float *o0 = o + (r * 3 + 0) * CK + k, *o1 = o + (r * 3 + 1) * CK + k,
                      *o2 = o + (r * 3 + 2) * CK + k;
                st(o0, ld(o0) + (h[r][0] + 0.5f * (h[r][1] + h[r][2])));
                st(o1, ld(o1) + 0.5f * (h[r][1] - h[r][2]));
                st(o2, ld(o2) + (0.5f * (h[r][1] + h[r][2]) + h[r][3]));
            }
        }
    }
}

const nn_wino_tx WINO_TX = {weight_transform, input_transform, output_transform,
                            output_pool,      grad_transform,  weight_grad_transform};
