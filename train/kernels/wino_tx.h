/* wino_tx.h: the transforms of Winograd's F(2x2,3x3) and F(2x2,5x5)
 * (conv_winograd.c has the algorithm), written once and compiled once
 * per kernel tier: a tier's file (wino_tx_avx512.c, wino_tx_avx2.c,
 * wino_tx_ref.c) defines WT, the target attribute of its functions,
 * WINO_TX, the name of the pair of tables it exports, and WLANES, its
 * floats per vector register, then includes this file. GCC's vector
 * extension gives AVX-512, AVX2 or plain code from the same source.
 * F(2x2,3x3)'s transforms only add, halve and compare, so they give the
 * same results in every tier; F(2x2,5x5)'s also multiply by small
 * constants, which the FMA tiers may fuse with an addition.
 */
#ifndef WT
#error "wino_tx.h is included by a tier's file, which defines WT, WINO_TX and WLANES"
#endif

/* ---- common --------------------------------------------------------------- */

/* WLANES channels (or filters) at a time, the tier's register width:
 * wider vectors than the tier has are lowered by GCC into pieces, and
 * their compares into scalar code. Channel and filter counts are
 * multiples of 16 (nn_conv_winograd_fits). */
#ifndef WLANES
#error "a tier's file defines WLANES, its floats per vector register"
#endif
typedef float vf __attribute__((vector_size(WLANES * 4), aligned(4)));
typedef int32_t vi __attribute__((vector_size(WLANES * 4), aligned(4))); /* masks: 0 or -1 */

#define WTI WT __attribute__((always_inline)) static inline

WTI vf ld(const float *p)
{
    return *(const vf *)p;
}

WTI void st(float *p, vf v)
{
    *(vf *)p = v;
}

/* a where m is set, else b. */
WTI vf pick(vi m, vf a, vf b)
{
    return (vf)(((vi)a & m) | ((vi)b & ~m));
}

/* ---- F(2x2, 3x3) ------------------------------------------------------------ */

/* U[t][c][k] = (G g G^T)[t] for the filter g = w[0..2][0..2][c][k], for
 * channels [c0, c1), with G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
WT static void weight_transform3(const float *w, int C, int K, int c0, int c1, float *u)
{
    const size_t CK = (size_t)C * K;
    for (int c = c0; c < c1; c++) {
        const float *g = w + (size_t)c * K;
        float *o = u + (size_t)c * K;
        for (int k = 0; k < K; k += WLANES) {
            vf t[4][3];
            for (int s = 0; s < 3; s++) {
                vf g0 = ld(g + (0 * 3 + s) * CK + k), g1 = ld(g + (1 * 3 + s) * CK + k),
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
WT static void input_transform3(const float *const p[], int C, float *v, size_t vs)
{
    for (int c = 0; c < C; c += WLANES) {
        vf t[4][4];
        for (int j = 0; j < 4; j++) {
            vf d0 = ld(p[j] + c), d1 = ld(p[4 + j] + c), d2 = ld(p[8 + j] + c),
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

/* (a0, a1) = A^T (m[0], ..., m[r]) for F(2, r). */
WTI void at_row(int r, const vf *m, vf *a0, vf *a1)
{
    if (r == 3) { /* A^T = [1 1 1 0; 0 1 -1 -1] */
        *a0 = m[0] + m[1] + m[2];
        *a1 = m[1] - m[2] - m[3];
    } else { /* A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1] */
        *a0 = m[0] + m[1] + m[2] + m[3] + m[4];
        *a1 = (m[1] - m[2]) + 2.0f * (m[3] - m[4]) + m[5];
    }
}

/* The tile's 2x2 outputs y[i*2 + j] = (A^T m A)[i][j] + bias, filters
 * [k, k+WLANES), for m[t] = mp[t*ms + k], t < (r+1)^2; then the ReLU (a NaN
 * passes: max(0, y) keeps y when unordered). */
WTI void output_tile(int r, const float *mp, size_t ms, int k, const float *bias, int relu, vf y[4])
{
    const int n = r + 1;
    vf a0[6], a1[6], m[6];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            m[j] = ld(mp + (i * n + j) * ms + k);
        }
        at_row(r, m, &a0[i], &a1[i]);
    }
    vf b = bias ? ld(bias + k) : (vf){0};
    at_row(r, a0, &y[0], &y[2]);
    at_row(r, a1, &y[1], &y[3]);
    for (int i = 0; i < 4; i++) {
        y[i] += b;
        if (relu) {
            y[i] = (vf)((vi)y[i] & ~(y[i] < 0.0f));
        }
    }
}

/* Writes the tile's outputs to out[i*2 + j] (rows of K floats). */
WTI void output_transform(int r, const float *mp, size_t ms, int K, const float *bias, int relu,
                          float *const out[4])
{
    for (int k = 0; k < K; k += WLANES) {
        vf y[4];
        output_tile(r, mp, ms, k, bias, relu, y);
        for (int i = 0; i < 4; i++) {
            st(out[i] + k, y[i]);
        }
    }
}

/* The tile as one 2x2 pooling window: its max to py, its position (0..3,
 * the first of equals; a NaN wins) to parg, as nn_kernels.pool2_forward. */
WTI void output_pool(int r, const float *mp, size_t ms, int K, const float *bias, float *py,
                     uint32_t *parg)
{
    for (int k = 0; k < K; k += WLANES) {
        vf y[4];
        output_tile(r, mp, ms, k, bias, 1, y);
        vf m = y[0];
        vi a = {0};
        for (int i = 1; i < 4; i++) {
            vi take = (y[i] > m) | (y[i] != y[i]);
            m = pick(take, y[i], m);
            a = (a & ~take) | (take & i);
        }
        st(py + k, m);
        *(vi *)(parg + k) = a;
    }
}

WT static void output_transform3(const float *mp, size_t ms, int K, const float *bias, int relu,
                                 float *const out[4])
{
    output_transform(3, mp, ms, K, bias, relu, out);
}

WT static void output_pool3(const float *mp, size_t ms, int K, const float *bias, float *py,
                            uint32_t *parg)
{
    output_pool(3, mp, ms, K, bias, py, parg);
}

/* The kernel gradient's transforms (the forward's, transposed). A 2x2
 * tile of the output gradient, e[a*2 + b] (rows of K floats), to
 * d[t*ds + k] = (A e A^T)[t], filters [0, K). */
WT static void grad_transform3(const float *const e[4], int K, float *d, size_t ds)
{
    for (int k = 0; k < K; k += WLANES) {
        vf e00 = ld(e[0] + k), e01 = ld(e[1] + k), e10 = ld(e[2] + k), e11 = ld(e[3] + k);
        vf r[4][2] = {{e00, e01}, {e00 + e10, e01 + e11}, {e00 - e10, e01 - e11}, {-e10, -e11}};
        for (int i = 0; i < 4; i++) {
            st(d + (i * 4 + 0) * ds + k, r[i][0]);
            st(d + (i * 4 + 1) * ds + k, r[i][0] + r[i][1]);
            st(d + (i * 4 + 2) * ds + k, r[i][0] - r[i][1]);
            st(d + (i * 4 + 3) * ds + k, -r[i][1]);
        }
    }
}

/* dw[r][s][c][k] += (G^T W G)[r][s] for W[t][c][k]. */
WT static void weight_grad_transform3(const float *W, int C, int K, float *dw)
{
    const size_t CK = (size_t)C * K;
    for (int c = 0; c < C; c++) {
        const float *u = W + (size_t)c * K;
        float *o = dw + (size_t)c * K;
        for (int k = 0; k < K; k += WLANES) {
            vf h[3][4];
            for (int j = 0; j < 4; j++) {
                vf u0 = ld(u + (0 * 4 + j) * CK + k), u1 = ld(u + (1 * 4 + j) * CK + k),
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

/* ---- F(2x2, 5x5) ------------------------------------------------------------ */

/* The interpolation points 0, 1, -1, 2, -2 and infinity, as F(4x4,3x3)'s
 * (Lavin and Gray): 6x6 patches, 36 products per input and output
 * channel for 2x2 outputs instead of 100. */

/* u = G g, G = [1/4 0 0 0 0; -1/6 -1/6 -1/6 -1/6 -1/6;
 * -1/6 1/6 -1/6 1/6 -1/6; 1/24 1/12 1/6 1/3 2/3; 1/24 -1/12 1/6 -1/3 2/3;
 * 0 0 0 0 1]. */
WTI void g_col5(const vf g[5], vf u[6])
{
    vf even = g[0] + g[2] + g[4], odd = g[1] + g[3];
    vf e2 = (1.0f / 24) * g[0] + (1.0f / 6) * g[2] + (2.0f / 3) * g[4];
    vf o2 = (1.0f / 12) * g[1] + (1.0f / 3) * g[3];
    u[0] = 0.25f * g[0];
    u[1] = (-1.0f / 6) * (even + odd);
    u[2] = (-1.0f / 6) * (even - odd);
    u[3] = e2 + o2;
    u[4] = e2 - o2;
    u[5] = g[4];
}

/* r = B^T d, B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
 * 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]. */
WTI void bt_col5(const vf d[6], vf r[6])
{
    vf s = d[4] - d[2], t = 2.0f * (d[3] - d[1]);
    r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    r[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
    r[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
    r[3] = s + t;
    r[4] = s - t;
    r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* r = A e for e = (e0, e1): A's rows (1,0) (1,1) (1,-1) (1,2) (1,-2) (0,1). */
WTI void a_col5(vf e0, vf e1, vf r[6])
{
    vf e2 = 2.0f * e1;
    r[0] = e0;
    r[1] = e0 + e1;
    r[2] = e0 - e1;
    r[3] = e0 + e2;
    r[4] = e0 - e2;
    r[5] = e1;
}

/* o = G^T w. */
WTI void gt_col5(const vf w[6], vf o[5])
{
    vf s12 = w[1] + w[2], d12 = w[1] - w[2], s34 = w[3] + w[4], d34 = w[3] - w[4];
    o[0] = 0.25f * w[0] - (1.0f / 6) * s12 + (1.0f / 24) * s34;
    o[1] = (1.0f / 12) * d34 - (1.0f / 6) * d12;
    o[2] = (1.0f / 6) * (s34 - s12);
    o[3] = (1.0f / 3) * d34 - (1.0f / 6) * d12;
    o[4] = (2.0f / 3) * s34 - (1.0f / 6) * s12 + w[5];
}

/* U[t][c][k] = (G g G^T)[t] for the filter g = w[0..4][0..4][c][k], for
 * channels [c0, c1). */
WT static void weight_transform5(const float *w, int C, int K, int c0, int c1, float *u)
{
    const size_t CK = (size_t)C * K;
    for (int c = c0; c < c1; c++) {
        const float *g = w + (size_t)c * K;
        float *o = u + (size_t)c * K;
        for (int k = 0; k < K; k += WLANES) {
            vf t[6][5], col[6], row[5];
            for (int s = 0; s < 5; s++) {
                for (int r = 0; r < 5; r++) {
                    row[r] = ld(g + (r * 5 + s) * CK + k);
                }
                g_col5(row, col);
                for (int i = 0; i < 6; i++) {
                    t[i][s] = col[i];
                }
            }
            for (int i = 0; i < 6; i++) {
                g_col5(t[i], col);
                for (int j = 0; j < 6; j++) {
                    st(o + (i * 6 + j) * CK + k, col[j]);
                }
            }
        }
    }
}

/* v[t*vs + c] = (B^T d B)[t] for the patch d[i][j] = p[i*6 + j][c]. */
WT static void input_transform5(const float *const p[36], int C, float *v, size_t vs)
{
    for (int c = 0; c < C; c += WLANES) {
        vf t[6][6], col[6], d[6];
        for (int j = 0; j < 6; j++) {
            for (int i = 0; i < 6; i++) {
                d[i] = ld(p[i * 6 + j] + c);
            }
            bt_col5(d, col);
            for (int i = 0; i < 6; i++) {
                t[i][j] = col[i];
            }
        }
        for (int i = 0; i < 6; i++) {
            bt_col5(t[i], col);
            for (int j = 0; j < 6; j++) {
                st(v + (i * 6 + j) * vs + c, col[j]);
            }
        }
    }
}

WT static void output_transform5(const float *mp, size_t ms, int K, const float *bias, int relu,
                                 float *const out[4])
{
    output_transform(5, mp, ms, K, bias, relu, out);
}

WT static void output_pool5(const float *mp, size_t ms, int K, const float *bias, float *py,
                            uint32_t *parg)
{
    output_pool(5, mp, ms, K, bias, py, parg);
}

/* d[t*ds + k] = (A e A^T)[t] for the 2x2 tile e[a*2 + b] (rows of K
 * floats). */
WT static void grad_transform5(const float *const e[4], int K, float *d, size_t ds)
{
    for (int k = 0; k < K; k += WLANES) {
        vf c0[6], c1[6], row[6];
        a_col5(ld(e[0] + k), ld(e[2] + k), c0);
        a_col5(ld(e[1] + k), ld(e[3] + k), c1);
        for (int i = 0; i < 6; i++) {
            a_col5(c0[i], c1[i], row);
            for (int j = 0; j < 6; j++) {
                st(d + (i * 6 + j) * ds + k, row[j]);
            }
        }
    }
}

/* dw[r][s][c][k] += (G^T W G)[r][s] for W[t][c][k]. */
WT static void weight_grad_transform5(const float *W, int C, int K, float *dw)
{
    const size_t CK = (size_t)C * K;
    for (int c = 0; c < C; c++) {
        const float *u = W + (size_t)c * K;
        float *o = dw + (size_t)c * K;
        for (int k = 0; k < K; k += WLANES) {
            vf h[5][6], col[6], out[5];
            for (int j = 0; j < 6; j++) {
                for (int i = 0; i < 6; i++) {
                    col[i] = ld(u + (i * 6 + j) * CK + k);
                }
                gt_col5(col, out);
                for (int r = 0; r < 5; r++) {
                    h[r][j] = out[r];
                }
            }
            for (int r = 0; r < 5; r++) {
                gt_col5(h[r], out);
                for (int s = 0; s < 5; s++) {
                    float *os = o + (r * 5 + s) * CK + k;
                    st(os, ld(os) + out[s]);
                }
            }
        }
    }
}

/* ---- the tables --------------------------------------------------------------- */

const nn_wino_tx WINO_TX[2] = {
    {3, weight_transform3, input_transform3, output_transform3, output_pool3, grad_transform3,
     weight_grad_transform3},
    {5, weight_transform5, input_transform5, output_transform5, output_pool5, grad_transform5,
     weight_grad_transform5},
};
