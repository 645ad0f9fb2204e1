/* jpeg.c: JPEG pixels straight from libjpeg-turbo (the TurboJPEG API).
 *
 * Profiles of the loader and of augmentation showed libvips' per-image
 * machinery (GObject construction, region buffers, its locks) costing more
 * CPU than libjpeg itself on small photos. A pipe therefore keeps one
 * TurboJPEG handle and one pixel buffer, grown only when a bigger image
 * comes, so that decoding allocates nothing in the steady state.
 *
 * The pixels are libvips' own: libvips' jpegload at shrink N also asks
 * libjpeg for scale_denom N with the default (islow DCT, fancy upsampling)
 * settings, so both paths run the same libjpeg code. Only grey and colour
 * JPEGs come here; CMYK/YCCK, a scale libjpeg-turbo lacks, and any file that
 * libjpeg-turbo decodes with a warning or an error go back to libvips, so
 * what is accepted and what is refused stays libvips' decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "aug_internal.h"

int aug_jpeg_init(aug_jpeg *j, char *err, size_t errlen)
{
    memset(j, 0, sizeof *j);
    j->tj = tjInitDecompress();
    if (!j->tj) {
        return ck_err(err, errlen, CK_ENOMEM, "augment: jpeg decoder: %s", tjGetErrorStr2(NULL));
    }
    return 0;
}

void aug_jpeg_free(aug_jpeg *j)
{
    if (j->tj) {
        tjDestroy(j->tj);
    }
    free(j->buf);
    memset(j, 0, sizeof *j);
}

int aug_jpeg_decode(aug_jpeg *j, const aug_src *src, int shrink, aug_view *v, char *msg,
                    size_t msglen)
{
    int w, h, subsamp, cs;
    unsigned char *data = (unsigned char *)src->data;
    unsigned long size = (unsigned long)src->size;
    if (!j->tj || (shrink != 1 && !ck_jpeg_has_scale(shrink)) ||
        tjDecompressHeader3(j->tj, data, size, &w, &h, &subsamp, &cs) != 0 ||
        (cs != TJCS_GRAY && cs != TJCS_YCbCr && cs != TJCS_RGB) || w < shrink || h < shrink) {
        return 1;
    }
    tjscalingfactor sf = {1, shrink};
    int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
    int bands = cs == TJCS_GRAY ? 1 : 3;
    size_t need = (size_t)sw * sh * bands;
    if (need > j->cap) {
        uint8_t *b = realloc(j->buf, need);
        if (!b) {
            return 1;
        }
        j->buf = b;
        j->cap = need;
    }
    if (tjDecompress2(j->tj, data, size, j->buf, sw, sw * bands, sh,
                      bands == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
        snprintf(msg, msglen, "%s", tjGetErrorStr2(j->tj));
        return -1;
    }
    /* libvips crops a scaled load to whole source blocks (w / shrink,
     * rounded down, as vips_shrink would): so do we. */
    *v = (aug_view){j->buf, w / shrink, h / shrink, (size_t)sw * bands, bands};
    return 0;
}
