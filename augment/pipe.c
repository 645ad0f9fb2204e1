/* pipe.c: one sample, bytes to the caller's buffer, on the calling thread.
 *
 * Order of work: draw the parameters, read the source's size, compose the
 * map, pick the JPEG shrink (the largest power of two that keeps at least
 * one source pixel per output pixel in every direction, for the resize and
 * for the drawn map, so that a zoom-in draw decodes more pixels), decode
 * once (libjpeg-turbo for JPEG, libvips otherwise), resample once. A pipe
 * keeps its scratch buffers and its JPEG decoder between samples so that
 * the steady state allocates nothing of its own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "aug_internal.h"

struct aug_pipe {
    aug_params p;
    float *tmp;    /* width * height * channels: output before the colour ops */
    uint8_t *grey; /* the source made grey, for RGB sources into 1 channel */
    size_t grey_cap;
    im_jpeg *jpeg; /* JPEG decoder and its pixel buffer */
};

int aug_resize_parse(const char *name)
{
    static const char *const names[] = {"stretch", "fit", "crop"};
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

aug_params aug_params_default(int width, int height, int channels)
{
    return (aug_params){
        .width = width,
        .height = height,
        .channels = channels,
        .dtype = AUG_F32,
        .scale = 1.0f / 255,
        .resize = AUG_RESIZE_STRETCH,
        .pad = 0,
        .policy = NULL,
        .engine = AUG_ENGINE_GATHER,
        .shrink_on_load = 1,
    };
}

size_t aug_params_sample_bytes(const aug_params *p)
{
    return (size_t)p->width * p->height * p->channels * (p->dtype == AUG_F32 ? 4 : 1);
}

int aug_pipe_create(aug_pipe **out, const aug_params *p, char *err, size_t errlen)
{
    *out = NULL;
    if (p->width < 1 || p->height < 1 || p->width > AUG_MAX_SIDE || p->height > AUG_MAX_SIDE) {
        return ck_err(err, errlen, CK_EINVAL, "augment: output size %dx%d: sides must be 1..%d",
                      p->width, p->height, AUG_MAX_SIDE);
    }
    if (p->channels != 1 && p->channels != 3) {
        return ck_err(err, errlen, CK_EINVAL, "augment: channels=%d: must be 1 or 3", p->channels);
    }
    if ((p->dtype != AUG_F32 && p->dtype != AUG_U8) || !isfinite(p->scale) ||
        (unsigned)p->resize > AUG_RESIZE_CROP || (unsigned)p->engine > AUG_ENGINE_VIPS ||
        !(p->pad >= 0 && p->pad <= 255)) {
        return ck_err(err, errlen, CK_EINVAL,
                      "augment: bad parameters (dtype, scale, resize, engine or pad)");
    }
    int rc = im_init(NULL, err, errlen);
    if (rc) {
        return rc;
    }
    aug_pipe *a = calloc(1, sizeof *a);
    if (!a || !(a->tmp = malloc((size_t)p->width * p->height * p->channels * sizeof(float)))) {
        free(a);
        return ck_err(err, errlen, CK_ENOMEM, "augment: out of memory");
    }
    char msg[200];
    rc = im_jpeg_create(&a->jpeg, msg, sizeof msg);
    if (rc) {
        free(a->tmp);
        free(a);
        return ck_err(err, errlen, rc, "augment: %s", msg);
    }
    a->p = *p;
    *out = a;
    return 0;
}

void aug_pipe_destroy(aug_pipe *a)
{
    if (a) {
        free(a->tmp);
        free(a->grey);
        im_jpeg_destroy(a->jpeg);
        free(a);
    }
}

/* Makes the view 1-band grey in the pipe's scratch buffer. */
static int to_grey(aug_pipe *a, aug_view *v, const char *name, char *err, size_t errlen)
{
    size_t need = (size_t)v->w * v->h;
    if (need > a->grey_cap) {
        uint8_t *g = realloc(a->grey, need);
        if (!g) {
            return ck_err(err, errlen, CK_ENOMEM, "%s: grey: out of memory", name);
        }
        a->grey = g;
        a->grey_cap = need;
    }
    for (int y = 0; y < v->h; y++) {
        const uint8_t *p = v->px + (size_t)y * v->stride;
        uint8_t *g = a->grey + (size_t)y * v->w;
        for (int x = 0; x < v->w; x++, p += v->bands) {
            g[x] = aug_grey(p);
        }
    }
    *v = (aug_view){a->grey, v->w, v->h, (size_t)v->w, 1};
    return 0;
}

int aug_pipe_run_sample(aug_pipe *a, const aug_src *src, const aug_sample *s, void *dst, char *err,
                        size_t errlen)
{
    const aug_params *p = &a->p;
    aug_sample id = aug_sample_identity();
    if (!s) {
        s = &id;
    }
    int use_vips = p->engine == AUG_ENGINE_VIPS;
    aug_decoded d;
    int rc = aug_decode_open(&d, src, use_vips, err, errlen);
    if (rc) {
        return rc;
    }
    aug_warp w = {
        .fill = aug_policy_fill(p->policy),
        .fill_value = p->policy ? (float)p->policy->fill_value : 0,
        .interp = aug_policy_interp(p->policy),
        .ow = p->width,
        .oh = p->height,
        .oc = p->channels,
        .dtype = p->dtype,
        .scale = p->dtype == AUG_F32 ? p->scale : 1,
    };
    if (p->resize == AUG_RESIZE_FIT) {
        w.fill = AUG_FILL_CONSTANT;
        w.fill_value = p->pad;
    }
    /* Shrink for the resize, less when the draw zooms in (never more when
     * it zooms out: the picture would then depend on the shrink). */
    double plain[6];
    aug_sample none = aug_sample_identity();
    aug_geom_map(&none, p->width, p->height, d.full_w, d.full_h, p->resize, plain);
    aug_geom_map(s, p->width, p->height, d.full_w, d.full_h, p->resize, w.m);
    double need = fmin(aug_geom_min_scale(plain), aug_geom_min_scale(w.m));
    int shrink = p->shrink_on_load ? aug_geom_shrink(need) : 1;
    rc = aug_decode_pixels(&d, src, shrink, use_vips, use_vips, use_vips ? NULL : a->jpeg, err,
                           errlen);
    if (rc) {
        aug_decoded_clear(&d);
        return rc;
    }
    const char *name = aug_src_name(src);
    int dw = use_vips ? vips_image_get_width(d.im) : d.view.w;
    int dh = use_vips ? vips_image_get_height(d.im) : d.view.h;
    if (dw != d.full_w || dh != d.full_h) {
        aug_geom_rescale(w.m, d.full_w, d.full_h, dw, dh);
    }
    int colour = s->contrast != 1 || s->brightness != 0;
    void *out = dst;
    if (colour) {
        w.dtype = AUG_F32;
        w.scale = 1;
        out = a->tmp;
    }
    if (use_vips) {
        rc = aug_warp_vips(&w, d.im, p->channels, out, name, err, errlen);
    } else {
        w.src = d.view;
        if (p->channels == 1 && w.src.bands >= 3) {
            rc = to_grey(a, &w.src, name, err, errlen);
        }
        w.nc = p->channels == 3 && w.src.bands >= 3 ? 3 : 1;
        if (rc == 0) {
            aug_warp_run(&w, out);
        }
    }
    aug_decoded_clear(&d);
    if (rc == 0 && colour) {
        size_t n = (size_t)p->width * p->height;
        aug_photo_apply(a->tmp, n, p->channels, s->contrast, s->brightness);
        aug_store(a->tmp, n * p->channels, p->dtype, p->dtype == AUG_F32 ? p->scale : 1, dst);
    }
    return rc;
}

int aug_pipe_run(aug_pipe *a, const aug_src *src, uint64_t seed, uint64_t epoch, uint64_t id,
                 void *dst, char *err, size_t errlen)
{
    aug_sample s;
    aug_policy_draw(a->p.policy, seed, epoch, id, &s);
    return aug_pipe_run_sample(a, src, &s, dst, err, errlen);
}
