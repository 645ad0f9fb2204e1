/* geom.c: one sample's geometry as one affine map.
 *
 * Keras applies its layers to the image already resized to the model's
 * input, each layer sampling its input at a map of its output coordinates
 * about the image centre ((w-1)/2, (h-1)/2, pixel centres at integers). A
 * stack of layers L1..Ln therefore reads the image at g1(g2(...gn(p))), and
 * the resize before them is one more scale about the centre. Composing all
 * of it here gives the single map both resamplers use: one interpolation per
 * output pixel, whatever the number of transforms.
 *
 * Exact cases (flips, quarter turns) produce matrix entries like 6e-17 from
 * cos(pi/2); entries within 1e-9 of a multiple of 1/2 are snapped to it so
 * that those cases sample exactly on pixel centres.
 */
#include <math.h>

#include "aug_internal.h"

/* x' = a x + b y + c, y' = d x + e y + f */
typedef struct aff {
    double a, b, c, d, e, f;
} aff;

/* s then t: p -> s(t(p)) */
static aff compose(aff s, aff t)
{
    return (aff){
        s.a * t.a + s.b * t.d, s.a * t.b + s.b * t.e, s.a * t.c + s.b * t.f + s.c,
        s.d * t.a + s.e * t.d, s.d * t.b + s.e * t.e, s.d * t.c + s.e * t.f + s.f,
    };
}

static aff linear(double a, double b, double d, double e)
{
    return (aff){a, b, 0, d, e, 0};
}

static aff translate(double x, double y)
{
    return (aff){1, 0, x, 0, 1, y};
}

static double snap(double v)
{
    double h = round(v * 2) / 2;
    return fabs(v - h) < 1e-9 ? h : v;
}

void aug_geom_map(const aug_sample *s, int ow, int oh, int sw, int sh, aug_resize resize,
                  double m[6])
{
    double c = cos(s->angle), n = sin(s->angle);
    aff flip = linear(s->flip_h ? -1 : 1, 0, 0, s->flip_v ? -1 : 1);
    aff rot = linear(c, -n, n, c);
    aff zoom = linear(s->zoom_x, 0, 0, s->zoom_y);
    aff shift = translate(-s->shift_x * ow, -s->shift_y * oh);
    aff g;
    if (s->legacy) {
        /* ImageDataGenerator: rotation @ shift @ shear @ zoom, then the flip
         * of the transformed image. */
        aff shear = linear(1, -sin(s->shear), 0, cos(s->shear));
        g = compose(rot, compose(shift, compose(shear, compose(zoom, flip))));
    } else {
        /* Layers flip, rotate, zoom, shift, shear: flip's map outermost. */
        aff shear = linear(1, s->shear, 0, 1);
        g = compose(flip, compose(rot, compose(zoom, compose(shift, shear))));
    }
    double dx = (double)sw / ow, dy = (double)sh / oh;
    if (resize == AUG_RESIZE_FIT) {
        dx = dy = fmax(dx, dy);
    } else if (resize == AUG_RESIZE_CROP) {
        dx = dy = fmin(dx, dy);
    }
    aff to_centre = translate(-(ow - 1) / 2.0, -(oh - 1) / 2.0);
    aff to_src = compose(translate((sw - 1) / 2.0, (sh - 1) / 2.0), linear(dx, 0, 0, dy));
    aff all = compose(to_src, compose(g, to_centre));
    m[0] = snap(all.a);
    m[1] = snap(all.b);
    m[2] = snap(all.c);
    m[3] = snap(all.d);
    m[4] = snap(all.e);
    m[5] = snap(all.f);
}

void aug_geom_rescale(double m[6], int sw, int sh, int dw, int dh)
{
    /* Pixel edges stay put: x_d = (x_s + 1/2) * dw / sw - 1/2. */
    double rx = (double)dw / sw, ry = (double)dh / sh;
    for (int i = 0; i < 3; i++) {
        m[i] *= rx;
        m[3 + i] *= ry;
    }
    m[2] += 0.5 * rx - 0.5;
    m[5] += 0.5 * ry - 0.5;
}

double aug_geom_min_scale(const double m[6])
{
    /* Singular values of [[a b][d e]]: sqrt of the eigenvalues of M^T M. */
    double a = m[0], b = m[1], d = m[3], e = m[4];
    double p = a * a + d * d, q = b * b + e * e, r = a * b + d * e;
    double mean = (p + q) / 2, diff = sqrt((p - q) * (p - q) / 4 + r * r);
    double lo = mean - diff;
    return lo > 0 ? sqrt(lo) : 0;
}

int aug_geom_shrink(double min_scale)
{
    int s = 1;
    while (s < 8 && 2.0 * s <= min_scale) {
        s *= 2;
    }
    return s;
}
