/* photo.c: the colour part of a sample, after the geometry.
 *
 * Keras's RandomContrast takes each channel's mean over the image it is
 * given and maps x to (x - mean) * factor + mean, clipped to 0..255;
 * RandomBrightness adds factor * 255 and clips. They run here on the
 * resampled output (in pixel units), in that order, which is what a model
 * with the geometric layers first and these two after would see.
 */
#include "aug_internal.h"

static float clip255(float x)
{
    return x < 0 ? 0 : x > 255 ? 255 : x;
}

void aug_photo_apply(float *px, size_t n, int c, double contrast, double brightness)
{
    if (contrast != 1 && n > 0) {
        for (int k = 0; k < c; k++) {
            double sum = 0;
            for (size_t i = 0; i < n; i++) {
                sum += (double)px[i * c + k];
            }
            float mean = (float)(sum / (double)n), f = (float)contrast;
            for (size_t i = 0; i < n; i++) {
                px[i * c + k] = clip255((px[i * c + k] - mean) * f + mean);
            }
        }
    }
    if (brightness != 0) {
        float delta = (float)(brightness * 255);
        for (size_t i = 0; i < n * c; i++) {
            px[i] = clip255(px[i] + delta);
        }
    }
}

void aug_store(const float *px, size_t n, aug_dtype dtype, float scale, void *dst)
{
    if (dtype == AUG_F32) {
        float *o = dst;
        for (size_t i = 0; i < n; i++) {
            o[i] = px[i] * scale;
        }
        return;
    }
    uint8_t *o = dst;
    for (size_t i = 0; i < n; i++) {
        o[i] = (uint8_t)(clip255(px[i]) + 0.5f);
    }
}
