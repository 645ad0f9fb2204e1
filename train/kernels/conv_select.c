/* conv_select.c: the one place that chooses how a convolution runs.
 *
 * Three implementations of the same contract (nn_conv_impl, nn_kern.h):
 * im2col + OpenBLAS sgemm (any geometry, any CPU: the reference), the
 * direct implicit-GEMM convolution on convkit's own micro-kernels
 * (conv_direct.c, stride 1), and Winograd F(2x2,3x3) and F(2x2,5x5)
 * (conv_winograd.c: its forward; its gradients are the direct
 * backward's, which takes Winograd's pieces on large maps). Their tables and the rules that pick
 * among them live here, so that conv_direct.c and conv_winograd.c do not
 * reach into each other: the direct backward uses Winograd's pieces, and
 * nothing in conv_winograd.c knows the direct convolution.
 *
 * The kernels themselves come in tiers (ck_isa.c decides which one the
 * process runs): avx512 and avx2 each have their micro-kernels, 2x2 pool
 * pair and Winograd transforms, so both take every path here; generic
 * has none, and every product goes to OpenBLAS (im2col).
 */
#include "nn_kern.h"

const nn_conv_impl nn_conv_im2col = {.name = "im2col+sgemm",
                                     .scratch = nn_im2col_scratch,
                                     .forward = nn_im2col_forward,
                                     .backward = nn_im2col_backward};

const nn_conv_impl nn_conv_direct = {.name = "direct",
                                     .scratch = nn_direct_scratch,
                                     .forward = nn_direct_forward,
                                     .backward = nn_direct_backward,
                                     .forward_pool = nn_direct_forward_pool,
                                     .backward_pool = nn_direct_backward_pool};

static size_t winograd_scratch(const nn_conv_shape *g, int N, int threads, int need_dx)
{
    size_t own = nn_wino_scratch(g, threads);
    /* sized with dx, it also fits a backward run without (layers frozen
     * below; test_nn_kern's winograd_without_dx) */
    size_t back = nn_conv_backward_wino_scratch(g, N, threads, need_dx);
    return own > back ? own : back;
}

const nn_conv_impl nn_conv_winograd = {.name = "winograd",
                                       .scratch = winograd_scratch,
                                       .forward = nn_wino_forward,
                                       .backward = nn_conv_backward_wino,
                                       .forward_pool = nn_wino_forward_pool,
                                       .backward_pool = nn_conv_backward_pool_wino};

int nn_conv_winograd_fits(const nn_conv_shape *g, const nn_exec *ex)
{
    return ex->kern && ex->kern->wino && (g->R == 3 || g->R == 5) &&
           ex->kern->wino[g->R == 5].input_transform && g->S == g->R && g->sh == 1 &&
           g->sw == 1 && g->C % NN_WINO_UNIT == 0 && g->K % NN_WINO_UNIT == 0;
}

/* The pair goes through the convolution's output a group of rows at a
 * time, in a buffer that stays in L1/L2: forward, conv rows then the pool
 * over them; backward, the pool's gradient spread back over the rows
 * (masked by the ReLU, whose output at the argmax is the pool's) then the
 * kernel and input gradients of those rows. The largest tensors of the
 * book's models, the first convolutions' outputs and their gradients,
 * never reach memory: before, they were written, read by the pool, its
 * gradient written by the pool's backward and read with y again (catsdogs-2nd's
 * first layer: 4 MB per image, 17 MB of traffic per image and step). */
int nn_conv_pool_fuses(const nn_conv_impl *impl, const nn_conv_shape *g, nn_act act,
                       const nn_conv_shape *pg, const nn_exec *ex)
{
    return (impl == &nn_conv_direct || impl == &nn_conv_winograd) && ex->kern &&
           ex->kern->pool2_forward && act == NN_ACT_RELU && nn_pool2_fast(pg) && pg->H == g->P &&
           pg->W == g->Q && pg->C == g->K;
}

const nn_conv_impl *nn_conv_select(const nn_conv_shape *g, const nn_exec *ex)
{
    if (nn_conv_winograd_fits(g, ex)) {
        return &nn_conv_winograd;
    }
    if (ex->kern && g->sh == 1 && g->sw == 1) {
        return &nn_conv_direct;
    }
    return &nn_conv_im2col;
}

const nn_kernels *nn_kernels_of(ck_isa isa)
{
    const nn_kernels *k = isa == CK_ISA_AVX512 ? &nn_kernels_avx512
                          : isa == CK_ISA_AVX2 ? &nn_kernels_avx2
                                               : NULL;
    return k && k->conv && ck_isa_cpu_has(isa) ? k : NULL;
}

int nn_kernels_select(const nn_kernels **out, char *err, size_t errlen)
{
    ck_isa isa;
    int rc = ck_isa_get(&isa, err, errlen);
    *out = rc == 0 ? nn_kernels_of(isa) : NULL;
    return rc;
}
