/* test_aug.c: augmentation geometry checked exactly on synthetic images,
 * Keras's fill modes pixel by pixel, determinism across threads, the
 * statistics of the drawn parameters, policy text, raw and real inputs, and
 * the fast gather against the libvips engine. */
#include <math.h>
#include <pthread.h>
#include <vips/vips.h>

#include "aug.h"
#include "aug_internal.h"
#include "ck_test.h"

#define PI 3.14159265358979323846

static char err[512];

static void init(void)
{
    ck_assert_msg(im_init("test_aug", err, sizeof err) == 0, "%s", err);
}

static aug_policy *policy(const char *text)
{
    aug_policy *p = NULL;
    ck_assert_msg(aug_policy_parse(&p, text, err, sizeof err) == 0, "%s: %s", text, err);
    return p;
}

/* A w x h x b image whose every byte differs from its neighbours. */
static uint8_t *pattern(int w, int h, int b)
{
    uint8_t *px = malloc((size_t)w * h * b);
    for (int i = 0; i < w * h * b; i++) {
        px[i] = (uint8_t)((i * 37 + (i / (w * b)) * 11) % 251);
    }
    return px;
}

typedef struct run_opts {
    int ow, oh, oc;
    aug_dtype dtype;
    aug_engine engine;
    aug_resize resize;
    const aug_policy *policy;
} run_opts;

/* Runs sample s on raw pixels; returns the pipe's status. */
static int run_raw(const uint8_t *px, int w, int h, int b, const run_opts *o, const aug_sample *s,
                   void *out)
{
    aug_params p = aug_params_default(o->ow, o->oh, o->oc);
    p.dtype = o->dtype;
    p.engine = o->engine;
    p.resize = o->resize;
    p.policy = o->policy;
    aug_pipe *pipe = NULL;
    ck_assert_msg(aug_pipe_create(&pipe, &p, err, sizeof err) == 0, "%s", err);
    aug_src src = {px, (size_t)w * h * b, w, h, b, "synthetic"};
    int rc = aug_pipe_run_sample(pipe, &src, s, out, err, sizeof err);
    aug_pipe_destroy(pipe);
    return rc;
}

/* ---- geometry ---- */

START_TEST(two_flips_are_identity)
{
    init();
    int w = 37, h = 23;
    uint8_t *in = pattern(w, h, 3), *a = malloc(w * h * 3), *b = malloc(w * h * 3);
    for (int e = 0; e < 2; e++) {
        run_opts o = {w, h, 3, AUG_U8, (aug_engine)e, AUG_RESIZE_STRETCH, NULL};
        aug_sample s = aug_sample_identity();
        s.flip_h = 1;
        ck_assert_int_eq(run_raw(in, w, h, 3, &o, &s, a), 0);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    ck_assert_uint_eq(a[(y * w + x) * 3 + c], in[(y * w + (w - 1 - x)) * 3 + c]);
                }
            }
        }
        ck_assert_int_eq(run_raw(a, w, h, 3, &o, &s, b), 0);
        ck_assert_int_eq(memcmp(b, in, w * h * 3), 0);
        s.flip_h = 0;
        s.flip_v = 1;
        ck_assert_int_eq(run_raw(in, w, h, 3, &o, &s, a), 0);
        ck_assert_int_eq(memcmp(a, in + (h - 1) * w * 3, w * 3), 0);
    }
    free(in);
    free(a);
    free(b);
}
END_TEST

/* A quarter turn counter-clockwise is libvips' 270-degree (clockwise)
 * rotation; clockwise is vips_rot 90. Nearest and bilinear are both exact
 * on pixel centres. */
START_TEST(quarter_turn_equals_vips_rot)
{
    init();
    int n = 32;
    uint8_t *in = pattern(n, n, 3), *out = malloc(n * n * 3);
    VipsImage *im = vips_image_new_from_memory(in, n * n * 3, n, n, 3, VIPS_FORMAT_UCHAR);
    for (int turn = 0; turn < 2; turn++) {
        VipsImage *rot = NULL;
        ck_assert_int_eq(vips_rot(im, &rot, turn == 0 ? VIPS_ANGLE_D270 : VIPS_ANGLE_D90, NULL), 0);
        size_t len;
        uint8_t *want = vips_image_write_to_memory(rot, &len);
        ck_assert_uint_eq(len, (size_t)n * n * 3);
        for (int interp = 0; interp < 2; interp++) {
            aug_policy *p = policy(interp ? "interp=bilinear" : "interp=nearest");
            for (int e = 0; e < 2; e++) {
                run_opts o = {n, n, 3, AUG_U8, (aug_engine)e, AUG_RESIZE_STRETCH, p};
                aug_sample s = aug_sample_identity();
                s.angle = turn == 0 ? PI / 2 : -PI / 2;
                ck_assert_int_eq(run_raw(in, n, n, 3, &o, &s, out), 0);
                ck_assert_msg(memcmp(out, want, len) == 0, "turn %d interp %d engine %d", turn,
                              interp, e);
            }
            aug_policy_destroy(p);
        }
        g_free(want);
        g_object_unref(rot);
    }
    /* Counter-clockwise on screen: the top-right corner goes to the top-left. */
    run_opts o = {n, n, 3, AUG_U8, AUG_ENGINE_GATHER, AUG_RESIZE_STRETCH, NULL};
    aug_sample s = aug_sample_identity();
    s.angle = PI / 2;
    ck_assert_int_eq(run_raw(in, n, n, 3, &o, &s, out), 0);
    ck_assert_int_eq(memcmp(out, in + (n - 1) * 3, 3), 0);
    g_object_unref(im);
    free(in);
    free(out);
}
END_TEST

START_TEST(zoom_keeps_centre)
{
    init();
    int n = 31, c = 15;
    uint8_t *in = pattern(n, n, 1), *out = malloc(n * n);
    aug_policy *p = policy("interp=nearest");
    for (int e = 0; e < 2; e++) {
        run_opts o = {n, n, 1, AUG_U8, (aug_engine)e, AUG_RESIZE_STRETCH, p};
        aug_sample s = aug_sample_identity();
        /* Zoom in by 2: output pixel c + 2j shows input pixel c + j. */
        s.zoom_x = s.zoom_y = 0.5;
        ck_assert_int_eq(run_raw(in, n, n, 1, &o, &s, out), 0);
        for (int j = -7; j <= 7; j++) {
            ck_assert_uint_eq(out[(c + 2 * j) * n + c], in[(c + j) * n + c]);
            ck_assert_uint_eq(out[c * n + c + 2 * j], in[c * n + c + j]);
        }
        /* Zoom out by 2: output c + j shows input c + 2j. */
        s.zoom_x = s.zoom_y = 2;
        ck_assert_int_eq(run_raw(in, n, n, 1, &o, &s, out), 0);
        for (int j = -7; j <= 7; j++) {
            ck_assert_uint_eq(out[c * n + c + j], in[c * n + c + 2 * j]);
        }
    }
    aug_policy_destroy(p);
    free(in);
    free(out);
}
END_TEST

START_TEST(shift_moves_marker)
{
    init();
    int w = 40, h = 30;
    uint8_t *in = calloc(w * h, 1), *out = malloc(w * h);
    in[12 * w + 10] = 200;
    aug_policy *p = policy("fill=constant,interp=bilinear");
    int shifts[][2] = {{3, 0}, {0, 5}, {-7, 4}, {13, -9}};
    for (int e = 0; e < 2; e++) {
        for (size_t k = 0; k < sizeof shifts / sizeof shifts[0]; k++) {
            run_opts o = {w, h, 1, AUG_U8, (aug_engine)e, AUG_RESIZE_STRETCH, p};
            aug_sample s = aug_sample_identity();
            s.shift_x = (double)shifts[k][0] / w;
            s.shift_y = (double)shifts[k][1] / h;
            ck_assert_int_eq(run_raw(in, w, h, 1, &o, &s, out), 0);
            int found = -1, count = 0;
            for (int i = 0; i < w * h; i++) {
                if (out[i]) {
                    found = i;
                    count++;
                }
            }
            ck_assert_int_eq(count, 1);
            ck_assert_int_eq(found, (12 + shifts[k][1]) * w + 10 + shifts[k][0]);
            ck_assert_uint_eq(out[found], 200);
        }
    }
    aug_policy_destroy(p);
    free(in);
    free(out);
}
END_TEST

/* Keras's definitions on a row a b c d: a shift of +3 reads columns -3..0,
 * a shift of -6 reads 6..9. */
START_TEST(fill_modes_match_keras)
{
    init();
    uint8_t row[4] = {10, 20, 30, 40}, in[8]; /* a b c d */
    memcpy(in, row, 4);
    memcpy(in + 4, row, 4);
    static const struct {
        const char *policy;
        int shift;
        uint8_t want[4];
    } cases[] = {
        {"fill=reflect", 3, {30, 20, 10, 10}},
        {"fill=nearest", 3, {10, 10, 10, 10}},
        {"fill=wrap", 3, {20, 30, 40, 10}},
        {"fill=constant,fill_value=99", 3, {99, 99, 99, 10}},
        {"fill=reflect", -6, {20, 10, 10, 20}},
        {"fill=nearest", -6, {40, 40, 40, 40}},
        {"fill=wrap", -6, {30, 40, 10, 20}},
        {"fill=constant,fill_value=99", -6, {99, 99, 99, 99}},
        {"fill=reflect", 9, {10, 10, 20, 30}},
        {"fill=wrap", 9, {40, 10, 20, 30}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int interp = 0; interp < 3; interp++) {
            char text[80];
            snprintf(text, sizeof text, "%s,interp=%s", cases[i].policy,
                     interp == 0   ? "nearest"
                     : interp == 1 ? "bilinear"
                                   : "bicubic");
            aug_policy *p = policy(text);
            for (int e = 0; e < 2; e++) {
                run_opts o = {4, 2, 1, AUG_U8, (aug_engine)e, AUG_RESIZE_STRETCH, p};
                aug_sample s = aug_sample_identity();
                s.shift_x = cases[i].shift / 4.0;
                uint8_t out[8];
                ck_assert_int_eq(run_raw(in, 4, 2, 1, &o, &s, out), 0);
                for (int x = 0; x < 4; x++) {
                    ck_assert_msg(out[x] == cases[i].want[x] && out[4 + x] == cases[i].want[x],
                                  "%s shift %d engine %d: x=%d got %d want %d", text,
                                  cases[i].shift, e, x, out[x], cases[i].want[x]);
                }
            }
            aug_policy_destroy(p);
        }
    }
}
END_TEST

/* The claim the libvips engine rests on: in libvips 8.14 vips_embed's
 * MIRROR repeats the edge pixel, as Keras's reflect. */
START_TEST(vips_embed_mirror_repeats_edge)
{
    init();
    uint8_t row[4] = {10, 20, 30, 40};
    VipsImage *im = vips_image_new_from_memory(row, 4, 4, 1, 1, VIPS_FORMAT_UCHAR), *out = NULL;
    ck_assert_int_eq(vips_embed(im, &out, 5, 0, 14, 1, "extend", VIPS_EXTEND_MIRROR, NULL), 0);
    size_t len;
    uint8_t *got = vips_image_write_to_memory(out, &len);
    /* columns -5..8: (d d c b a | a b c d | d c b a a) */
    uint8_t want[14] = {40, 40, 30, 20, 10, 10, 20, 30, 40, 40, 30, 20, 10, 10};
    ck_assert_int_eq(len, 14);
    ck_assert_int_eq(memcmp(got, want, 14), 0);
    g_free(got);
    g_object_unref(out);
    g_object_unref(im);
}
END_TEST

/* Resizing alone: a 2x downscale by bilinear at half-pixel centres is the
 * mean of each 2x2 block (Keras/TF resize without antialiasing). */
START_TEST(resize_half_pixel_centres)
{
    init();
    int w = 8, h = 6;
    uint8_t *in = pattern(w, h, 1);
    float out[4 * 3];
    aug_params p = aug_params_default(4, 3, 1);
    p.shrink_on_load = 0;
    aug_pipe *pipe;
    ck_assert_int_eq(aug_pipe_create(&pipe, &p, err, sizeof err), 0);
    aug_src src = {in, (size_t)w * h, w, h, 1, "x"};
    ck_assert_int_eq(aug_pipe_run_sample(pipe, &src, NULL, out, err, sizeof err), 0);
    aug_pipe_destroy(pipe);
    for (int y = 0; y < 3; y++) {
        for (int x = 0; x < 4; x++) {
            const uint8_t *q = in + 2 * y * w + 2 * x;
            double mean = (q[0] + q[1] + q[w] + q[w + 1]) / 4.0;
            ck_assert_double_eq_tol((double)out[y * 4 + x] * 255.0, mean, 1e-3);
        }
    }
    free(in);
}
END_TEST

/* Extreme draws on tiny images: every tap stays inside the source (ASan
 * runs this suite) and every value inside [0, 1]. */
START_TEST(extreme_samples_stay_in_bounds)
{
    init();
    static const int sizes[][2] = {{1, 1}, {2, 3}, {7, 5}, {64, 3}};
    static const int outs[][2] = {{1, 1}, {3, 2}, {40, 30}};
    static const char *fills[] = {"reflect", "nearest", "wrap", "constant,fill_value=255"};
    float out[40 * 30 * 3];
    for (int f = 0; f < 4; f++) {
        for (int interp = 0; interp < 3; interp++) {
            char text[200];
            snprintf(text, sizeof text,
                     "flip=both,rotate=1,zoom=-0.999:10,zoom_w=-0.9:3,shift=1,shear=1,fill=%s,"
                     "interp=%s",
                     fills[f],
                     interp == 0   ? "nearest"
                     : interp == 1 ? "bilinear"
                                   : "bicubic");
            aug_policy *p = policy(text);
            for (int s = 0; s < 4; s++) {
                uint8_t *in = pattern(sizes[s][0], sizes[s][1], 3);
                for (int o = 0; o < 3; o++) {
                    aug_params prm = aug_params_default(outs[o][0], outs[o][1], 3);
                    prm.policy = p;
                    aug_pipe *pipe;
                    ck_assert_int_eq(aug_pipe_create(&pipe, &prm, err, sizeof err), 0);
                    aug_src src = {in,          (size_t)sizes[s][0] * sizes[s][1] * 3,
                                   sizes[s][0], sizes[s][1],
                                   3,           "tiny"};
                    for (uint64_t id = 0; id < 25; id++) {
                        ck_assert_int_eq(aug_pipe_run(pipe, &src, 9, 0, id, out, err, sizeof err),
                                         0);
                        int bad = -1; /* one check per sample: Check logs each assert */
                        for (int i = 0; i < outs[o][0] * outs[o][1] * 3; i++) {
                            bad = out[i] >= 0 && out[i] <= 1 ? bad : i;
                        }
                        ck_assert_msg(bad < 0, "%s: %g", text, bad < 0 ? 0.0 : (double)out[bad]);
                    }
                    aug_pipe_destroy(pipe);
                }
                free(in);
            }
            aug_policy_destroy(p);
        }
    }
}
END_TEST

/* ---- determinism ---- */

#define DET_N    48
#define DET_SIZE (64 * 48 * 3 * 4)

typedef struct det_job {
    const aug_src *srcs;
    const aug_policy *pol;
    int index, threads;
    uint8_t *out; /* DET_N * DET_SIZE */
    int rc;
} det_job;

static void *det_thread(void *arg)
{
    det_job *j = arg;
    aug_params p = aug_params_default(64, 48, 3);
    p.policy = j->pol;
    aug_pipe *pipe;
    char e[256];
    j->rc = aug_pipe_create(&pipe, &p, e, sizeof e);
    /* Backwards, so the order differs from the single-thread run too. */
    for (int i = DET_N - 1 - j->index; j->rc == 0 && i >= 0; i -= j->threads) {
        j->rc = aug_pipe_run(pipe, &j->srcs[i], 7, 3, (uint64_t)i, j->out + (size_t)i * DET_SIZE, e,
                             sizeof e);
    }
    aug_pipe_destroy(pipe);
    return NULL;
}

static void run_threads(const aug_src *srcs, const aug_policy *pol, int threads, uint8_t *out)
{
    pthread_t t[8];
    det_job jobs[8];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (det_job){srcs, pol, i, threads, out, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, det_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(jobs[i].rc, 0);
    }
}

START_TEST(same_key_same_bytes_any_threads)
{
    init();
    /* Encoded JPEG and PNG inputs, made here. */
    aug_src srcs[DET_N];
    void *bufs[DET_N];
    for (int i = 0; i < DET_N; i++) {
        uint8_t *px = pattern(90 + i, 70, 3);
        VipsImage *im = vips_image_new_from_memory(px, (size_t)(90 + i) * 70 * 3, 90 + i, 70, 3,
                                                   VIPS_FORMAT_UCHAR);
        size_t len;
        ck_assert_int_eq(
            vips_image_write_to_buffer(im, i % 2 ? ".png" : ".jpg", &bufs[i], &len, NULL), 0);
        srcs[i] = (aug_src){.data = bufs[i], .size = len, .name = "det"};
        g_object_unref(im);
        free(px);
    }
    aug_policy *pol = policy("flip=both,rotate=0.2,zoom=0.3,shift=0.1,shear=0.2,contrast=0.3,"
                             "brightness=0.1,fill=reflect");
    uint8_t *one = malloc((size_t)DET_N * DET_SIZE), *four = malloc((size_t)DET_N * DET_SIZE);
    run_threads(srcs, pol, 1, one);
    run_threads(srcs, pol, 4, four);
    ck_assert_int_eq(memcmp(one, four, (size_t)DET_N * DET_SIZE), 0);
    /* Another seed gives other bytes. */
    aug_params p = aug_params_default(64, 48, 3);
    p.policy = pol;
    aug_pipe *pipe;
    ck_assert_int_eq(aug_pipe_create(&pipe, &p, err, sizeof err), 0);
    ck_assert_int_eq(aug_pipe_run(pipe, &srcs[0], 8, 3, 0, four, err, sizeof err), 0);
    ck_assert_int_ne(memcmp(one, four, DET_SIZE), 0);
    aug_pipe_destroy(pipe);
    aug_policy_destroy(pol);
    for (int i = 0; i < DET_N; i++) {
        g_free(bufs[i]);
    }
    free(one);
    free(four);
}
END_TEST

/* ---- statistics of the draws ---- */

/* |mean - want| within 6 standard errors of a uniform on [lo, hi]. */
static void check_uniform(const char *what, double sum, double sum2, int n, double lo, double hi)
{
    double mean = sum / n, var = sum2 / n - mean * mean;
    double sd = (hi - lo) / sqrt(12.0);
    ck_assert_msg(fabs(mean - (lo + hi) / 2) < 6 * sd / sqrt(n), "%s: mean %g", what, mean);
    ck_assert_msg(fabs(var - sd * sd) < 6 * sd * sd * sqrt(0.8 / n), "%s: var %g", what, var);
}

START_TEST(draws_have_configured_ranges)
{
    enum { N = 100000 };
    aug_policy *keras = policy("flip=both,rotate=0.1,zoom=0.2,shift=0.1:0.3,contrast=0.5");
    aug_policy *legacy = policy("chollet-1st");
    double s[2][6] = {{0}};
    int flips[2] = {0, 0}, legacy_flips[2] = {0, 0};
    for (int i = 0; i < N; i++) {
        aug_sample a, b;
        aug_policy_draw(keras, 42, 1, (uint64_t)i, &a);
        aug_policy_draw(legacy, 42, 1, (uint64_t)i, &b);
        ck_assert(fabs(a.angle) <= 0.2 * PI);
        ck_assert(a.zoom_x >= 0.8 && a.zoom_x <= 1.2 && a.zoom_x == a.zoom_y);
        ck_assert(a.shift_x >= 0.1 && a.shift_x <= 0.3);
        ck_assert(a.contrast >= 0.5 && a.contrast <= 1.5 && a.brightness == 0 && a.shear == 0);
        ck_assert(fabs(b.angle) <= 40 * PI / 180 && fabs(b.shear) <= 0.2);
        ck_assert(b.zoom_x >= 0.8 && b.zoom_x <= 1.2 && b.zoom_y >= 0.8 && b.zoom_y <= 1.2);
        ck_assert(fabs(b.shift_x) <= 0.2 && fabs(b.shift_y) <= 0.2 && !b.flip_v && b.legacy);
        flips[0] += a.flip_h;
        flips[1] += a.flip_v;
        legacy_flips[0] += b.flip_h;
        legacy_flips[1] += b.zoom_x == b.zoom_y;
        double v[6] = {a.angle, a.zoom_x, a.shift_x, b.angle, b.zoom_x, b.zoom_y};
        for (int k = 0; k < 6; k++) {
            s[0][k] += v[k];
            s[1][k] += v[k] * v[k];
        }
    }
    check_uniform("keras angle", s[0][0], s[1][0], N, -0.2 * PI, 0.2 * PI);
    check_uniform("keras zoom", s[0][1], s[1][1], N, 0.8, 1.2);
    check_uniform("keras shift", s[0][2], s[1][2], N, 0.1, 0.3);
    check_uniform("legacy angle", s[0][3], s[1][3], N, -40 * PI / 180, 40 * PI / 180);
    check_uniform("legacy zoom x", s[0][4], s[1][4], N, 0.8, 1.2);
    check_uniform("legacy zoom y", s[0][5], s[1][5], N, 0.8, 1.2);
    double sd = sqrt(0.25 * N);
    ck_assert_msg(fabs(flips[0] - N / 2.0) < 6 * sd, "flip_h %d", flips[0]);
    ck_assert_msg(fabs(flips[1] - N / 2.0) < 6 * sd, "flip_v %d", flips[1]);
    ck_assert_msg(fabs(legacy_flips[0] - N / 2.0) < 6 * sd, "legacy flip %d", legacy_flips[0]);
    ck_assert_int_eq(legacy_flips[1], 0); /* x and y zoom drawn independently */
    /* Fixed slots: adding brightness leaves the other draws alone. */
    aug_policy *more = policy("flip=both,rotate=0.1,zoom=0.2,shift=0.1:0.3,contrast=0.5,"
                              "brightness=0.2");
    aug_sample a, b;
    aug_policy_draw(keras, 5, 0, 9, &a);
    aug_policy_draw(more, 5, 0, 9, &b);
    ck_assert(a.angle == b.angle && a.zoom_x == b.zoom_x && a.flip_h == b.flip_h &&
              b.brightness != 0);
    aug_policy_destroy(more);
    aug_policy_destroy(keras);
    aug_policy_destroy(legacy);
}
END_TEST

/* ---- policy text ---- */

START_TEST(policy_canonical_round_trip)
{
    static const char *texts[][2] = {
        {"flip=horizontal,rotate=0.1,zoom=0.2,shift=0.2,shear=0.2,fill=reflect,interp=bilinear",
         "flip=horizontal,rotate=0.1,zoom=0.2,shift=0.2,shear=0.2,fill=reflect,interp=bilinear"},
        {"chollet-2nd", "flip=horizontal,rotate=0.1,zoom=0.2,fill=reflect,interp=bilinear"},
        {"chollet-1st", "mode=legacy,flip=horizontal,rotate=40,zoom=0.2,shift=0.2,shear=0.2,"
                        "fill=nearest,interp=bilinear"},
        {"", "fill=reflect,interp=bilinear"},
        {"none", "fill=reflect,interp=bilinear"},
        {" rotate = -0.05:0.1 , interp=bicubic,zoom_w=0.1, shift_y=0.3 ,flip=both",
         "flip=both,rotate=-0.05:0.1,zoom_w=0.1,shift_y=0.3,fill=reflect,interp=bicubic"},
        {"chollet-2nd,fill=constant,fill_value=127.5,contrast=0.2,brightness=-0.1:0.3",
         "flip=horizontal,rotate=0.1,zoom=0.2,contrast=0.2,brightness=-0.1:0.3,fill=constant,"
         "fill_value=127.5,interp=bilinear"},
        {"rotate=30,mode=legacy", "mode=legacy,rotate=30,fill=nearest,interp=bilinear"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        aug_policy *p = policy(texts[i][0]);
        char buf[512], again[512];
        size_t n = aug_policy_print(p, buf, sizeof buf);
        ck_assert_uint_eq(n, strlen(buf));
        ck_assert_str_eq(buf, texts[i][1]);
        aug_policy *q = policy(buf);
        aug_policy_print(q, again, sizeof again);
        ck_assert_str_eq(again, buf);
        /* Same parameters from both. */
        aug_sample a, b;
        aug_policy_draw(p, 1, 2, 3, &a);
        aug_policy_draw(q, 1, 2, 3, &b);
        ck_assert(a.legacy == b.legacy && a.flip_h == b.flip_h && a.flip_v == b.flip_v &&
                  a.angle == b.angle && a.zoom_x == b.zoom_x && a.zoom_y == b.zoom_y &&
                  a.shift_x == b.shift_x && a.shift_y == b.shift_y && a.shear == b.shear &&
                  a.contrast == b.contrast && a.brightness == b.brightness);
        aug_policy_destroy(p);
        aug_policy_destroy(q);
    }
    aug_policy *p = policy("none");
    ck_assert(aug_policy_is_identity(p));
    char tiny[8];
    ck_assert_uint_eq(aug_policy_print(p, tiny, sizeof tiny),
                      strlen("fill=reflect,interp=bilinear"));
    ck_assert_str_eq(tiny, "fill=re");
    aug_policy_destroy(p);
    p = policy("chollet-2nd");
    ck_assert(!aug_policy_is_identity(p));
    ck_assert_int_eq(aug_policy_fill(p), AUG_FILL_REFLECT);
    aug_policy_destroy(p);
    ck_buf help = {0};
    aug_policy_help(&help);
    ck_assert_ptr_nonnull(strstr(help.s, "chollet-1st"));
    ck_buf_free(&help);
}
END_TEST

/* Every refusal names the key and the value and states the rule that is
 * applied, the same words --help prints; a value on the rule's edge is
 * taken, one just past it is not. */
/* A policy in words, for a report's reader: the book's two presets and
 * the identity. */
START_TEST(policy_in_words)
{
    static const struct {
        const char *policy;
        const char *const want[6];
    } cases[] = {
        {"chollet-2nd",
         {"Flipped left to right with probability 1/2.\n",
          "Rotated by an angle drawn uniformly from −36° to 36° (−0.1 to 0.1 of a turn), "
          "counter-clockwise positive.\n",
          "Zoomed by a factor drawn from 0.8 to 1.2, the same for the width and the height",
          "reflected at the edge", "bilinear", NULL}},
        {"chollet-1st",
         {"first edition's ImageDataGenerator", "from −40° to 40°, counter",
          "for the width and the height apart", "each drawn from −20% to 20%.\n",
          "Sheared by an angle drawn from −11.46° to 11.46° "
          "(−0.2 to 0.2 radians).\n",
          "the nearest edge pixel"}},
        {"zoom=-0.1:0.3,shift_x=0.1,contrast=0.5,fill=constant,fill_value=7",
         {"from 0.9 to 1.3", "Shifted sideways by −10% to 10% of the width.\n",
          "factor drawn from 0.5 to 1.5.\n", "a constant 7.", NULL}},
        {"none", {"No augmentation: every image is used as it is.\n", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aug_policy *p;
        ck_assert_int_eq(aug_policy_parse(&p, cases[i].policy, err, sizeof err), 0);
        ck_buf b = {0};
        aug_policy_describe(p, &b);
        ck_assert(!b.oom && b.s);
        for (int k = 0; k < 6 && cases[i].want[k]; k++) {
            ck_assert_msg(strstr(b.s, cases[i].want[k]), "%s: no '%s' in:\n%s", cases[i].policy,
                          cases[i].want[k], b.s);
        }
        ck_assert_msg(!strchr(b.s, 'e') || !strstr(b.s, "e-"), "%s: %s", cases[i].policy, b.s);
        ck_buf_free(&b);
        aug_policy_destroy(p);
    }
}
END_TEST

START_TEST(policy_errors_name_key_value_and_rule)
{
    static const char *const zoom_rule = "F in [0, 1) or LO:HI with -1 < LO <= HI <= 10";
    static const char *const turns = "F in [0, 1] or LO:HI with -1 <= LO <= HI <= 1";
    static const char *const degrees = "F in [0, 180] or LO:HI with -180 <= LO <= HI <= 180";
    static const char *const cases[][3] = {
        {"zoom=1.5", "policy: zoom=1.5: want ", zoom_rule},
        {"zoom=1", "policy: zoom=1: want ", zoom_rule},
        {"zoom=-0.2", "policy: zoom=-0.2: want ", zoom_rule},
        {"zoom=-1:0.5", "policy: zoom=-1:0.5: want ", zoom_rule},
        {"zoom_w=0.5:11", "policy: zoom_w=0.5:11: want ", zoom_rule},
        {"rotate=1.5", "policy: rotate=1.5: want ", turns},
        {"rotate=abc", "policy: rotate=abc: want ", turns},
        {"rotate=", "policy: rotate=: want ", turns},
        {"rotate=nan", "policy: rotate=nan: want ", turns},
        {"mode=legacy,rotate=200", "policy: rotate=200: want ", degrees},
        {"rotate=200,mode=legacy", "policy: rotate=200: want ", degrees},
        {"shift=0.2:0.1", "policy: shift=0.2:0.1: want ", "F in [0, 1] or LO:HI with -1 <= LO"},
        {"shift=1.5", "policy: shift=1.5: want ", "F in [0, 1] or LO:HI"},
        {"shear=2", "policy: shear=2: want ", "F in [0, 1] or LO:HI with -1 <= LO <= HI <= 1"},
        {"mode=legacy,shear=1.6", "policy: shear=1.6: want ",
         "F in [0, pi/2) or LO:HI with -pi/2 < LO <= HI < pi/2"},
        {"contrast=1.5", "policy: contrast=1.5: want ", "F in [0, 1] or LO:HI with -1 <= LO"},
        {"brightness=1.2", "policy: brightness=1.2: want ", "F in [0, 1] or LO:HI"},
        {"colour=1", "policy: colour=1: unknown key (keys: mode, flip, rotate", ""},
        {"zom=0.1", "policy: zom=0.1: unknown key (keys: ", "; did you mean zoom?"},
        {"fill=mirror", "policy: fill=mirror: want reflect, nearest, wrap or constant", ""},
        {"interp=lanczos", "policy: interp=lanczos: want nearest, bilinear or bicubic", ""},
        {"flip=diagonal", "policy: flip=diagonal: want none, horizontal, vertical or both", ""},
        {"chollet-3rd", "policy: chollet-3rd: want key=value or a preset (chollet-1st, ",
         "did you mean chollet-2nd?"},
        {"mode=tf", "policy: mode=tf: want keras or legacy", ""},
        {"fill_value=300", "policy: fill_value=300: want a pixel value in [0, 255]", ""},
    };
    ck_buf help = {0};
    aug_policy_help(&help);
    ck_assert(!help.oom);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aug_policy *p = (aug_policy *)1;
        int rc = aug_policy_parse(&p, cases[i][0], err, sizeof err);
        ck_assert_msg(rc == CK_EINVAL, "%s: rc %d", cases[i][0], rc);
        ck_assert_ptr_null(p);
        ck_assert_msg(strncmp(err, cases[i][1], strlen(cases[i][1])) == 0 &&
                          strstr(err + strlen(cases[i][1]), cases[i][2]),
                      "%s: got '%s'", cases[i][0], err);
        /* The rule in the message is the rule in the help. */
        if (strncmp(cases[i][2], "F in", 4) == 0) {
            ck_assert_msg(strstr(help.s, cases[i][2]), "%s: help lacks '%s'", cases[i][0],
                          cases[i][2]);
        }
    }
    ck_buf_free(&help);
    static const char *const edges[] = {
        "zoom=0.99",
        "zoom=-0.99:10",
        "zoom_w=-0.5:0",
        "rotate=1",
        "rotate=-1:1",
        "mode=legacy,rotate=180",
        "rotate=180,mode=legacy",
        "shear=1",
        "mode=legacy,shear=1.57",
        "contrast=1",
        "contrast=-1:10",
        "brightness=-1:1",
        "shift=1",
        "fill_value=255",
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        aug_policy *p = NULL;
        ck_assert_msg(aug_policy_parse(&p, edges[i], err, sizeof err) == 0, "%s: %s", edges[i],
                      err);
        aug_policy_destroy(p);
    }
}
END_TEST

/* ---- inputs, channels, resize modes ---- */

START_TEST(raw_grey_identity_is_exact)
{
    init();
    uint8_t *in = pattern(28, 28, 1);
    float out[28 * 28];
    run_opts o = {28, 28, 1, AUG_F32, AUG_ENGINE_GATHER, AUG_RESIZE_STRETCH, NULL};
    for (int e = 0; e < 2; e++) {
        o.engine = (aug_engine)e;
        ck_assert_int_eq(run_raw(in, 28, 28, 1, &o, NULL, out), 0);
        for (int i = 0; i < 28 * 28; i++) {
            ck_assert_msg(out[i] == in[i] * (1.0f / 255), "engine %d px %d", e, i);
        }
    }
    /* Bad raw dimensions are refused with the name. */
    aug_params p = aug_params_default(28, 28, 1);
    aug_pipe *pipe;
    ck_assert_int_eq(aug_pipe_create(&pipe, &p, err, sizeof err), 0);
    aug_src bad = {in, 10, 28, 28, 1, "digit 7"};
    ck_assert_int_eq(aug_pipe_run_sample(pipe, &bad, NULL, out, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "digit 7"));
    aug_pipe_destroy(pipe);
    free(in);
}
END_TEST

START_TEST(channel_conversions)
{
    init();
    int w = 5, h = 4;
    uint8_t *rgba = pattern(w, h, 4), *grey = pattern(w, h, 1);
    uint8_t out[5 * 4 * 3];
    run_opts o = {w, h, 3, AUG_U8, AUG_ENGINE_GATHER, AUG_RESIZE_STRETCH, NULL};
    for (int e = 0; e < 2; e++) {
        o.engine = (aug_engine)e;
        o.oc = 3;
        ck_assert_int_eq(run_raw(rgba, w, h, 4, &o, NULL, out), 0); /* alpha dropped */
        for (int i = 0; i < w * h; i++) {
            ck_assert_int_eq(memcmp(out + i * 3, rgba + i * 4, 3), 0);
        }
        ck_assert_int_eq(run_raw(grey, w, h, 1, &o, NULL, out), 0); /* grey replicated */
        for (int i = 0; i < w * h * 3; i++) {
            ck_assert_uint_eq(out[i], grey[i / 3]);
        }
        o.oc = 1;
        ck_assert_int_eq(run_raw(rgba, w, h, 4, &o, NULL, out), 0); /* PIL's "L" */
        for (int i = 0; i < w * h; i++) {
            const uint8_t *q = rgba + i * 4;
            double y = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
            ck_assert_msg(fabs(out[i] - y) <= 0.51, "engine %d px %d: %d vs %g", e, i, out[i], y);
        }
    }
    free(rgba);
    free(grey);
}
END_TEST

/* A HODA-like 20x40 digit fitted into 28x28: scaled by 0.7, centred, the
 * sides padded with 0 whatever the fill mode. */
START_TEST(fit_pads_and_centres)
{
    init();
    int w = 20, h = 40;
    uint8_t *in = malloc(w * h);
    memset(in, 255, w * h);
    float out[28 * 28];
    aug_policy *p = policy("fill=reflect");
    for (int e = 0; e < 2; e++) {
        run_opts o = {28, 28, 1, AUG_F32, (aug_engine)e, AUG_RESIZE_FIT, p};
        ck_assert_int_eq(run_raw(in, w, h, 1, &o, NULL, out), 0);
        /* 20 / (40/28) = 14 columns of ink, centred: 7..20 */
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                float v = out[y * 28 + x];
                if (x <= 6 || x >= 21) {
                    ck_assert_msg(v == 0, "engine %d (%d,%d) = %g", e, x, y, (double)v);
                } else {
                    ck_assert_msg(fabsf(v - 1) < 1e-6f, "engine %d (%d,%d) = %g", e, x, y,
                                  (double)v);
                }
            }
        }
    }
    /* crop fills the output: no padding anywhere. */
    run_opts o = {28, 28, 1, AUG_F32, AUG_ENGINE_GATHER, AUG_RESIZE_CROP, p};
    ck_assert_int_eq(run_raw(in, w, h, 1, &o, NULL, out), 0);
    for (int i = 0; i < 28 * 28; i++) {
        ck_assert_msg(fabsf(out[i] - 1) < 1e-6f, "px %d", i);
    }
    aug_policy_destroy(p);
    free(in);
}
END_TEST

START_TEST(contrast_and_brightness)
{
    init();
    uint8_t in[4] = {50, 100, 150, 200}; /* mean 125 */
    float out[4];
    run_opts o = {4, 1, 1, AUG_F32, AUG_ENGINE_GATHER, AUG_RESIZE_STRETCH, NULL};
    aug_sample s = aug_sample_identity();
    s.contrast = 2;
    ck_assert_int_eq(run_raw(in, 4, 1, 1, &o, &s, out), 0);
    float want[4] = {0, 75, 175, 255}; /* (x-125)*2+125, clipped */
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(fabsf(out[i] * 255 - want[i]) < 1e-3f, "px %d", i);
    }
    s.contrast = 1;
    s.brightness = 0.2; /* +51 */
    ck_assert_int_eq(run_raw(in, 4, 1, 1, &o, &s, out), 0);
    float want2[4] = {101, 151, 201, 251};
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(fabsf(out[i] * 255 - want2[i]) < 1e-3f, "px %d", i);
    }
}
END_TEST

/* ---- encoded inputs ---- */

/* A smooth synthetic photo-like JPEG of w x h. */
static void *make_jpeg(int w, int h, size_t *len)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(128 + 100 * sin(x * 0.02));
            p[1] = (uint8_t)(128 + 100 * cos(y * 0.03));
            p[2] = (uint8_t)((x + y) * 255 / (w + h));
        }
    }
    VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * 3, w, h, 3, VIPS_FORMAT_UCHAR);
    void *buf = NULL;
    ck_assert_int_eq(vips_image_write_to_buffer(im, ".jpg[Q=95]", &buf, len, NULL), 0);
    g_object_unref(im);
    free(px);
    return buf;
}

static double mean_abs_diff(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += fabs((double)a[i] - (double)b[i]);
    }
    return s / (double)n;
}

/* The shrink is the largest power of two (up to 8) that keeps at least one
 * source pixel per output pixel in every direction. */
START_TEST(shrink_factor_rule)
{
    aug_sample s = aug_sample_identity();
    double m[6];
    static const int cases[][5] = {
        /* sw, sh, ow, oh, shrink */
        {1200, 900, 150, 150, 4},  {400, 360, 150, 150, 2}, {225, 225, 150, 150, 1},
        {4000, 3000, 150, 150, 8}, {600, 200, 150, 150, 1}, {299, 301, 150, 150, 1},
        {300, 300, 150, 150, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aug_geom_map(&s, cases[i][2], cases[i][3], cases[i][0], cases[i][1], AUG_RESIZE_STRETCH, m);
        ck_assert_int_eq(aug_geom_shrink(aug_geom_min_scale(m)), cases[i][4]);
    }
    /* A rotation does not change the scale; a zoom-in by 2 halves it. */
    s.angle = 0.7;
    aug_geom_map(&s, 150, 150, 1200, 1200, AUG_RESIZE_STRETCH, m);
    ck_assert_double_eq_tol(aug_geom_min_scale(m), 8, 1e-9);
    s.zoom_x = s.zoom_y = 0.5;
    aug_geom_map(&s, 150, 150, 1200, 1200, AUG_RESIZE_STRETCH, m);
    ck_assert_int_eq(aug_geom_shrink(aug_geom_min_scale(m)), 4);
}
END_TEST

START_TEST(shrink_on_load_matches_full_decode)
{
    init();
    size_t len;
    void *jpg = make_jpeg(1200, 900, &len);
    aug_src src = {.data = jpg, .size = len, .name = "big.jpg"};
    size_t n = 150 * 150 * 3;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    aug_params p = aug_params_default(150, 150, 3);
    aug_pipe *pa, *pb;
    ck_assert_int_eq(aug_pipe_create(&pa, &p, err, sizeof err), 0);
    p.shrink_on_load = 0;
    ck_assert_int_eq(aug_pipe_create(&pb, &p, err, sizeof err), 0);
    ck_assert_int_eq(aug_pipe_run_sample(pa, &src, NULL, a, err, sizeof err), 0);
    ck_assert_int_eq(aug_pipe_run_sample(pb, &src, NULL, b, err, sizeof err), 0);
    double d = mean_abs_diff(a, b, n);
    ck_assert_msg(d < 2.0 / 255, "mean difference %g", d);
    aug_pipe_destroy(pa);
    aug_pipe_destroy(pb);
    free(a);
    free(b);
    g_free(jpg);
}
END_TEST

START_TEST(corrupt_input_names_the_file)
{
    init();
    size_t len;
    uint8_t *jpg = make_jpeg(64, 64, &len);
    aug_params p = aug_params_default(32, 32, 3);
    aug_pipe *pipe;
    ck_assert_int_eq(aug_pipe_create(&pipe, &p, err, sizeof err), 0);
    float out[32 * 32 * 3];
    aug_src cut = {.data = jpg, .size = len / 2, .name = "train.zip:cat.41.jpg"};
    ck_assert_int_eq(aug_pipe_run_sample(pipe, &cut, NULL, out, err, sizeof err), CK_EDECODE);
    ck_assert_msg(strncmp(err, "train.zip:cat.41.jpg: decode: ", 30) == 0, "got '%s'", err);
    ck_assert_ptr_null(strchr(err, '\n'));
    aug_src junk = {.data = "not an image at all", .size = 19, .name = "junk.bin"};
    ck_assert_int_eq(aug_pipe_run_sample(pipe, &junk, NULL, out, err, sizeof err), CK_EDECODE);
    ck_assert_msg(strncmp(err, "junk.bin: decode: ", 18) == 0, "got '%s'", err);
    /* The pipe still works after errors. */
    aug_src ok = {.data = jpg, .size = len, .name = "ok.jpg"};
    ck_assert_int_eq(aug_pipe_run_sample(pipe, &ok, NULL, out, err, sizeof err), 0);
    aug_pipe_destroy(pipe);
    ck_assert_int_eq(aug_pipe_create(&pipe, &(aug_params){.width = 0}, err, sizeof err), CK_EINVAL);
    p.channels = 2;
    ck_assert_int_eq(aug_pipe_create(&pipe, &p, err, sizeof err), CK_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "channels=2"));
    g_free(jpg);
}
END_TEST

/* Decodes src at 1/shrink through libjpeg-turbo (jpeg not NULL) or libvips
 * and returns a copy of the pixels (w x h x bands, packed). */
static uint8_t *decode_copy(const aug_src *src, int shrink, im_jpeg *jpeg, aug_view *v)
{
    aug_decoded d;
    ck_assert_msg(aug_decode_open(&d, src, 0, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(aug_decode_pixels(&d, src, shrink, 0, 0, jpeg, err, sizeof err) == 0, "%s", err);
    *v = d.view;
    ck_assert(jpeg ? d.im == NULL && d.reg == NULL : d.reg != NULL);
    size_t row = (size_t)v->w * v->bands;
    uint8_t *px = malloc(row * v->h);
    for (int y = 0; y < v->h; y++) {
        memcpy(px + row * y, v->px + v->stride * y, row);
    }
    aug_decoded_clear(&d);
    return px;
}

/* libjpeg-turbo's pixels are libvips' jpegload pixels, at every shrink, on
 * real photos and on grey JPEGs, into one buffer reused between images. */
START_TEST(turbojpeg_pixels_equal_libvips)
{
    init();
    char dir[4096];
    im_jpeg *jpeg;
    ck_assert_int_eq(im_jpeg_create(&jpeg, err, sizeof err), 0);
    int photos = ck_test_data("alien-vs-predator/train/predator", dir, sizeof dir) ? 6 : 0;
    for (int i = 0; i <= photos; i++) {
        void *data;
        size_t size;
        char path[4200] = "grey.jpg";
        if (i < photos) {
            snprintf(path, sizeof path, "%s/%d.jpg", dir, i * 53);
            ck_assert_msg(aug_read_file(path, 1 << 24, &data, &size, err, sizeof err) == 0, "%s",
                          err);
        } else {
            VipsImage *grey;
            ck_assert_int_eq(vips_black(&grey, 203, 141, NULL), 0);
            VipsImage *noise;
            ck_assert_int_eq(vips_gaussnoise(&noise, 203, 141, "mean", 128.0, "sigma", 40.0, NULL),
                             0);
            void *buf;
            ck_assert_int_eq(vips_image_write_to_buffer(noise, ".jpg[Q=90]", &buf, &size, NULL), 0);
            data = malloc(size);
            memcpy(data, buf, size);
            g_free(buf);
            g_object_unref(grey);
            g_object_unref(noise);
        }
        aug_src src = {.data = data, .size = size, .name = path};
        for (int shrink = 1; shrink <= 8; shrink *= 2) {
            aug_view vt, vv;
            uint8_t *t = decode_copy(&src, shrink, jpeg, &vt);
            const uint8_t *buf = vt.px;
            uint8_t *again = decode_copy(&src, shrink, jpeg, &vt);
            ck_assert_ptr_eq(vt.px, buf);
            uint8_t *v = decode_copy(&src, shrink, NULL, &vv);
            ck_assert_int_eq(vt.w, vv.w);
            ck_assert_int_eq(vt.h, vv.h);
            ck_assert_int_eq(vt.bands, vv.bands);
            ck_assert_int_eq(vt.bands, i < photos ? 3 : 1);
            size_t n = (size_t)vt.w * vt.h * vt.bands;
            ck_assert_msg(memcmp(t, v, n) == 0 && memcmp(t, again, n) == 0, "%s shrink %d differs",
                          path, shrink);
            free(t);
            free(again);
            free(v);
        }
        free(data);
    }
    im_jpeg_destroy(jpeg);
}
END_TEST

/* Truncated JPEGs are refused or accepted by the libjpeg-turbo path exactly
 * as by libvips, refusals name the source; CMYK goes to libvips. */
START_TEST(turbojpeg_errors_and_fallback)
{
    init();
    size_t len;
    uint8_t *jpg = make_jpeg(120, 90, &len);
    im_jpeg *jpeg;
    ck_assert_int_eq(im_jpeg_create(&jpeg, err, sizeof err), 0);
    size_t cuts[] = {len - 1, len - 2, len - 40, len * 3 / 4, len / 2, 700};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        aug_src src = {.data = jpg, .size = cuts[i], .name = "cut.jpg"};
        int rc[2];
        for (int k = 0; k < 2; k++) {
            aug_decoded d;
            ck_assert_int_eq(aug_decode_open(&d, &src, 0, err, sizeof err), 0);
            rc[k] = aug_decode_pixels(&d, &src, 2, 0, 0, k ? jpeg : NULL, err, sizeof err);
            if (rc[k]) {
                ck_assert_msg(strncmp(err, "cut.jpg: decode: ", 17) == 0, "got '%s'", err);
            }
            aug_decoded_clear(&d);
        }
        ck_assert_msg(rc[0] == rc[1], "cut at %zu of %zu: libvips %d, turbojpeg %d", cuts[i], len,
                      rc[0], rc[1]);
        if (cuts[i] <= len / 2) {
            ck_assert_int_eq(rc[1], CK_EDECODE);
        }
    }
    /* CMYK is libvips' to convert. */
    VipsImage *four, *cmyk;
    ck_assert_int_eq(vips_gaussnoise(&four, 64, 48, "mean", 128.0, "sigma", 30.0, NULL), 0);
    VipsImage *bands[4] = {four, four, four, four}, *joined, *u8;
    ck_assert_int_eq(vips_bandjoin(bands, &joined, 4, NULL), 0);
    ck_assert_int_eq(vips_cast(joined, &u8, VIPS_FORMAT_UCHAR, NULL), 0);
    ck_assert_int_eq(vips_copy(u8, &cmyk, "interpretation", VIPS_INTERPRETATION_CMYK, NULL), 0);
    void *buf;
    size_t size;
    ck_assert_int_eq(vips_image_write_to_buffer(cmyk, ".jpg", &buf, &size, NULL), 0);
    aug_src src = {.data = buf, .size = size, .name = "cmyk.jpg"};
    im_pixels v;
    char msg[200];
    ck_assert_int_eq(im_jpeg_decode(jpeg, src.data, src.size, 1, &v, msg, sizeof msg),
                     IM_JPEG_DECLINED);
    float out[16 * 16 * 3];
    aug_params p = aug_params_default(16, 16, 3);
    aug_pipe *pipe;
    ck_assert_int_eq(aug_pipe_create(&pipe, &p, err, sizeof err), 0);
    ck_assert_msg(aug_pipe_run_sample(pipe, &src, NULL, out, err, sizeof err) == 0, "%s", err);
    aug_pipe_destroy(pipe);
    g_free(buf);
    g_object_unref(four);
    g_object_unref(joined);
    g_object_unref(u8);
    g_object_unref(cmyk);
    im_jpeg_destroy(jpeg);
    g_free(jpg);
}
END_TEST

/* The fast gather against the libvips engine on random samples, every fill
 * mode and interpolation: the same picture to within rounding. */
START_TEST(gather_matches_vips_engine)
{
    init();
    size_t len;
    void *jpg = make_jpeg(300, 220, &len);
    aug_src src = {.data = jpg, .size = len, .name = "x.jpg"};
    static const char *fills[] = {"reflect", "nearest", "wrap", "constant,fill_value=60"};
    size_t n = 96 * 80 * 3;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    for (int f = 0; f < 4; f++) {
        for (int interp = 0; interp < 3; interp++) {
            char text[200];
            snprintf(text, sizeof text,
                     "flip=both,rotate=0.15,zoom=0.4,shift=0.3,shear=0.3,fill=%s,interp=%s",
                     fills[f],
                     interp == 0   ? "nearest"
                     : interp == 1 ? "bilinear"
                                   : "bicubic");
            aug_policy *pol = policy(text);
            aug_params p = aug_params_default(96, 80, 3);
            p.policy = pol;
            aug_pipe *pg, *pv;
            ck_assert_int_eq(aug_pipe_create(&pg, &p, err, sizeof err), 0);
            p.engine = AUG_ENGINE_VIPS;
            ck_assert_int_eq(aug_pipe_create(&pv, &p, err, sizeof err), 0);
            for (uint64_t id = 0; id < 4; id++) {
                ck_assert_int_eq(aug_pipe_run(pg, &src, 1, 0, id, a, err, sizeof err), 0);
                ck_assert_msg(aug_pipe_run(pv, &src, 1, 0, id, b, err, sizeof err) == 0, "%s", err);
                double d = mean_abs_diff(a, b, n);
                /* Nearest can pick the other neighbour where a coordinate
                 * is within rounding of a half. */
                double tol = interp == 0 ? 1.0 / 255 : 0.1 / 255;
                ck_assert_msg(d < tol, "%s id %d: mean |diff| %g", text, (int)id, d * 255);
            }
            aug_pipe_destroy(pg);
            aug_pipe_destroy(pv);
            aug_policy_destroy(pol);
        }
    }
    free(a);
    free(b);
    g_free(jpg);
}
END_TEST

/* Every preset over real photos: values in [0, 1], pictures not flat, and
 * the augmented samples differ from the plain resize. */
START_TEST(presets_on_real_photos)
{
    init();
    char dir[4096];
    if (!ck_test_data("alien-vs-predator/train/alien", dir, sizeof dir)) {
        return;
    }
    static const char *presets[] = {"none", "chollet-1st", "chollet-2nd"};
    size_t n = 150 * 150 * 3;
    float *plain = malloc(n * 4), *out = malloc(n * 4);
    for (int i = 0; i < 12; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%d.jpg", dir, i * 29);
        void *data;
        size_t size;
        ck_assert_msg(aug_read_file(path, 1 << 24, &data, &size, err, sizeof err) == 0, "%s", err);
        aug_src src = {.data = data, .size = size, .name = path};
        for (int k = 0; k < 3; k++) {
            aug_policy *pol = policy(presets[k]);
            aug_params p = aug_params_default(150, 150, 3);
            p.policy = pol;
            aug_pipe *pipe;
            ck_assert_int_eq(aug_pipe_create(&pipe, &p, err, sizeof err), 0);
            ck_assert_msg(
                aug_pipe_run(pipe, &src, 3, 0, (uint64_t)i, k ? out : plain, err, sizeof err) == 0,
                "%s", err);
            float *x = k ? out : plain;
            float lo = 1, hi = 0;
            for (size_t j = 0; j < n; j++) {
                lo = fminf(lo, x[j]);
                hi = fmaxf(hi, x[j]);
            }
            ck_assert_msg(lo >= 0 && hi <= 1 && hi - lo > 0.2f, "%s %s: [%g, %g]", path, presets[k],
                          (double)lo, (double)hi);
            if (k > 0) {
                ck_assert_msg(mean_abs_diff(plain, out, n) > 0.01, "%s %s: unchanged", path,
                              presets[k]);
            }
            aug_pipe_destroy(pipe);
            aug_policy_destroy(pol);
        }
        free(data);
    }
    free(plain);
    free(out);
}
END_TEST

/* Each tier's vector bilinear interior (16 wide on avx512, 8 on avx2)
 * gives warp.c's scalar arithmetic bit for bit: 11-bit weights, exact
 * int32 sums, one conversion, one multiply. */
static void bilinear_check(aug_bilinear3_fn bilinear3);

START_TEST(bilinear_simd_equals_scalar)
{
    for (ck_isa isa = CK_ISA_AVX2; isa <= CK_ISA_AVX512; isa++) {
        if (ck_test_cpu_has(ck_isa_cpu_has(isa), ck_isa_name(isa), "bilinear_simd_equals_scalar")) {
            ck_assert(aug_warp_bilinear3_of(isa) != NULL);
            bilinear_check(aug_warp_bilinear3_of(isa));
        }
    }
}
END_TEST

static void bilinear_check(aug_bilinear3_fn bilinear3)
{
    enum { W = 37, H = 29, N = 53, FBITS = 11 };
    uint8_t px[W * H * 3]; /* the last pixel ends the buffer: no read past it */
    ck_rng r;
    ck_rng_init(&r, 5, 0, 0, CK_RNG_TEST);
    for (size_t i = 0; i < sizeof px; i++) {
        px[i] = (uint8_t)(ck_rng_u32(&r) & 0xFF);
    }
    const double one = 4294967296.0;
    for (int trial = 0; trial < 50; trial++) {
        /* A row of N outputs from (x0, y0) stepping (sx, sy), inside
         * [0, W-1) x [0, H-1) so every tap is in the image. */
        double x0 = ck_rng_range(&r, 0, W - 1.01), y0 = ck_rng_range(&r, 0, H - 1.01);
        double x1 = ck_rng_range(&r, 0, W - 1.01), y1 = ck_rng_range(&r, 0, H - 1.01);
        if (trial == 0) { /* the bottom-right corner's neighbours */
            x1 = W - 1.001;
            y1 = H - 1.001;
        }
        int64_t x = llround(x0 * one), y = llround(y0 * one);
        int64_t dx = llround((x1 - x0) / (N - 1) * one), dy = llround((y1 - y0) / (N - 1) * one);
        float k = 0.3f / (float)(1 << 2 * FBITS), got[N * 3], want[N * 3];
        int done = bilinear3(px, W * 3, x, y, dx, dy, N, FBITS, k, got);
        ck_assert_int_eq(done, 48);
        for (int j = 0; j < done; j++) {
            int64_t xj = x + j * dx, yj = y + j * dy;
            int fx = (int)(xj >> (32 - FBITS)) & ((1 << FBITS) - 1);
            int fy = (int)(yj >> (32 - FBITS)) & ((1 << FBITS) - 1);
            int w11 = fx * fy, w10 = (fy << FBITS) - w11, w01 = (fx << FBITS) - w11;
            int w00 = (1 << 2 * FBITS) - w01 - w10 - w11;
            const uint8_t *p = px + (size_t)(yj >> 32) * W * 3 + (size_t)(xj >> 32) * 3;
            const uint8_t *q = p + W * 3;
            for (int c = 0; c < 3; c++) {
                int v = p[c] * w00 + p[3 + c] * w01 + q[c] * w10 + q[3 + c] * w11;
                want[j * 3 + c] = (float)v * k;
            }
        }
        ck_assert_msg(memcmp(got, want, (size_t)done * 3 * sizeof(float)) == 0, "trial %d", trial);
    }
}

static Suite *aug_suite(void)
{
    Suite *s = suite_create("aug");
    TCase *geo = tcase_create("geometry");
    tcase_set_timeout(geo, 120);
    tcase_add_test(geo, two_flips_are_identity);
    tcase_add_test(geo, quarter_turn_equals_vips_rot);
    tcase_add_test(geo, zoom_keeps_centre);
    tcase_add_test(geo, shift_moves_marker);
    tcase_add_test(geo, fill_modes_match_keras);
    tcase_add_test(geo, vips_embed_mirror_repeats_edge);
    tcase_add_test(geo, resize_half_pixel_centres);
    tcase_add_test(geo, extreme_samples_stay_in_bounds);
    suite_add_tcase(s, geo);
    TCase *pol = tcase_create("policy");
    tcase_set_timeout(pol, 120);
    tcase_add_test(pol, draws_have_configured_ranges);
    tcase_add_test(pol, policy_canonical_round_trip);
    tcase_add_test(pol, policy_in_words);
    tcase_add_test(pol, policy_errors_name_key_value_and_rule);
    suite_add_tcase(s, pol);
    TCase *io = tcase_create("inputs");
    tcase_set_timeout(io, 300);
    tcase_add_test(io, same_key_same_bytes_any_threads);
    tcase_add_test(io, raw_grey_identity_is_exact);
    tcase_add_test(io, channel_conversions);
    tcase_add_test(io, fit_pads_and_centres);
    tcase_add_test(io, contrast_and_brightness);
    tcase_add_test(io, shrink_factor_rule);
    tcase_add_test(io, shrink_on_load_matches_full_decode);
    tcase_add_test(io, corrupt_input_names_the_file);
    tcase_add_test(io, turbojpeg_pixels_equal_libvips);
    tcase_add_test(io, turbojpeg_errors_and_fallback);
    tcase_add_test(io, gather_matches_vips_engine);
    tcase_add_test(io, bilinear_simd_equals_scalar);
    tcase_add_test(io, presets_on_real_photos);
    suite_add_tcase(s, io);
    return s;
}

int main(void)
{
    return ck_test_run(aug_suite());
}
