/* tjdecode.c: the peer of the ingest benchmark — how fast plain
 * libjpeg-turbo (TurboJPEG API) decodes the same JPEG files, with no
 * convkit code involved.
 *
 *   ck-tjdecode [-t THREADS] [-s SCALE_DENOM] FILE...
 *   ck-tjdecode [-t THREADS] [-s SCALE_DENOM] - < LIST   (one path a line)
 *
 * Files are read into memory first, so the figure is decode only; each
 * thread decodes every THREADS-th file into its own reused buffer at full
 * size (-s 1, the default) or at 1/SCALE_DENOM DCT scale. Prints one JSON
 * line: {"files":N,"threads":T,"scale":S,"seconds":X,"images_per_s":Y}. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

typedef struct file_buf {
    unsigned char *data;
    unsigned long size;
} file_buf;

typedef struct job {
    const file_buf *files;
    int nfiles, thread, nthreads, denom;
    int failed;
} job;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *decode_all(void *arg)
{
    job *j = arg;
    tjhandle tj = tjInitDecompress();
    unsigned char *out = NULL;
    size_t cap = 0;
    for (int i = j->thread; i < j->nfiles; i += j->nthreads) {
        int w, h, sub, cs;
        const file_buf *f = &j->files[i];
        if (tjDecompressHeader3(tj, f->data, f->size, &w, &h, &sub, &cs)) {
            j->failed++;
            continue;
        }
        w = (w + j->denom - 1) / j->denom;
        h = (h + j->denom - 1) / j->denom;
        size_t need = (size_t)w * (size_t)h * 3;
        if (need > cap) {
            free(out);
            cap = need;
            out = malloc(cap);
        }
        if (!out || tjDecompress2(tj, f->data, f->size, out, w, 0, h, TJPF_RGB, 0)) {
            j->failed++;
        }
    }
    free(out);
    tjDestroy(tj);
    return NULL;
}

static int read_file(const char *path, file_buf *f)
{
    FILE *fp = fopen(path, "rb");
    int ok = fp && !fseek(fp, 0, SEEK_END) && (f->size = (unsigned long)ftell(fp)) > 0 &&
             !fseek(fp, 0, SEEK_SET) && (f->data = malloc(f->size)) &&
             fread(f->data, 1, f->size, fp) == f->size;
    if (fp) {
        fclose(fp);
    }
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    int nthreads = 1, denom = 1, first = 1;
    while (first + 1 < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "-t")) {
            nthreads = atoi(argv[first + 1]);
        } else if (!strcmp(argv[first], "-s")) {
            denom = atoi(argv[first + 1]);
        } else {
            break;
        }
        first += 2;
    }
    if (first >= argc || nthreads < 1 || nthreads > 64 ||
        (denom != 1 && denom != 2 && denom != 4 && denom != 8)) {
        fprintf(stderr, "usage: ck-tjdecode [-t THREADS] [-s 1|2|4|8] FILE...|-\n");
        return 2;
    }
    int nfiles = 0, cap = 0;
    file_buf *files = NULL;
    char line[4096];
    int from_stdin = !strcmp(argv[first], "-");
    for (int i = first;; i++) {
        const char *path;
        if (from_stdin) {
            if (!fgets(line, sizeof line, stdin)) {
                break;
            }
            line[strcspn(line, "\n")] = 0;
            path = line;
        } else if (i < argc) {
            path = argv[i];
        } else {
            break;
        }
        if (nfiles == cap) {
            cap = cap ? 2 * cap : 1024;
            files = realloc(files, (size_t)cap * sizeof *files);
        }
        if (!files || read_file(path, &files[nfiles])) {
            fprintf(stderr, "ck-tjdecode: %s: cannot read\n", path);
            return 1;
        }
        nfiles++;
    }
    job jobs[64];
    pthread_t tids[64];
    double t0 = now();
    for (int t = 0; t < nthreads; t++) {
        jobs[t] = (job){files, nfiles, t, nthreads, denom, 0};
        pthread_create(&tids[t], NULL, decode_all, &jobs[t]);
    }
    int failed = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tids[t], NULL);
        failed += jobs[t].failed;
    }
    double secs = now() - t0;
    printf("{\"files\":%d,\"failed\":%d,\"threads\":%d,\"scale\":\"1/%d\",\"seconds\":%.3f,"
           "\"images_per_s\":%.1f}\n",
           nfiles, failed, nthreads, denom, secs, nfiles / secs);
    for (int i = 0; i < nfiles; i++) {
        free(files[i].data);
    }
    free(files);
    return failed ? 1 : 0;
}
