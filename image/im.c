/* im.c: libvips set-up and libvips' errors as our one-line messages.
 *
 * libvips is started once, through pthread_once, by whichever caller comes
 * first: the command, an ingest, a loader, an augmentation pipe or a test.
 * VIPS_INIT must run before any thread uses libvips, so every entry point
 * that starts threads calls im_init first; later calls cost one
 * pthread_once. The operation cache is turned off because convkit never
 * repeats an operation on the same image, and a cache only holds memory
 * across thousands of images. Untrusted loaders (ImageMagick, SVG, PDF...)
 * are blocked: archives come from the internet.
 *
 * libvips' error buffer is one per process, shared by all threads, and
 * holds every message since it was last cleared, one per line. A message
 * of ours takes its first line and clears it, so the next failure does not
 * report this one's reason.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#include "im.h"

int im_err_vips(char *err, size_t errlen, int code, const char *fmt, ...)
{
    char *vmsg = vips_error_buffer_copy(); /* copies and clears */
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        size_t used = strlen(err);
        const char *m = vmsg ? vmsg : "";
        size_t mlen = strcspn(m, "\n");
        while (mlen > 0 && (m[mlen - 1] == ' ' || m[mlen - 1] == '\r')) {
            mlen--;
        }
        if (mlen == 0) {
            m = "libvips failed";
            mlen = strlen(m);
        }
        if (used + 2 < errlen) {
            snprintf(err + used, errlen - used, ": %.*s", (int)mlen, m);
        }
    }
    g_free(vmsg);
    return code;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status;
static char init_argv0[256];

/* libvips reports recoverable decoder trouble ("error in tile", libjpeg's
 * "Corrupt JPEG data") as GLib warnings on stderr, from any thread. convkit
 * turns every failure that matters into a returned message naming the file,
 * so the warnings are dropped. */
static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user)
{
    (void)domain;
    (void)level;
    (void)message;
    (void)user;
}

static void init_vips(void)
{
    if (VIPS_INIT(init_argv0[0] ? init_argv0 : "convkit")) {
        init_status = CK_EIO;
        return;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_log, NULL);
    vips_cache_set_max(0);
    vips_block_untrusted_set(TRUE);
    init_status = 0;
}

int im_init(const char *argv0, char *err, size_t errlen)
{
    if (argv0) {
        snprintf(init_argv0, sizeof init_argv0, "%s", argv0);
    }
    if (pthread_once(&init_once, init_vips) != 0) {
        return ck_err(err, errlen, CK_ETHREAD, "init: pthread_once failed");
    }
    if (init_status) {
        return im_err_vips(err, errlen, init_status, "init: libvips");
    }
    return 0;
}
