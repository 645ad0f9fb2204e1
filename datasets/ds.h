/* ds.h: datasets — reading the archives people download, checking every
 * image, and the dataset.db catalog.
 *
 * Three parts, used by pipeline/'s ingest as reader -> workers -> writer:
 *
 *   ds_source   one input path (zip/tar/dir/IDX/.cdb) read as a stream of
 *               entries in a fixed order. One thread at a time.
 *   ds_check    decode and verify one entry (image/'s im_verify), hash it. Pure
 *               function of the entry: any thread, concurrently.
 *   ds_catalog  the SQLite file. One connection per thread; one writer.
 *
 * Entry names are data, never paths: nothing here writes anywhere but the
 * catalog file and its journal.
 *
 * Sample ids are dense and deterministic: the catalog gives each source an
 * id base (the number of entries of the sources before it), and an entry's
 * id is base + its ordinal in the source's read order. A rerun after a kill
 * therefore gives every entry the same id.
 */
#ifndef DS_H
#define DS_H

#include <stddef.h>
#include <stdint.h>

#include "ck.h"

/* ---- sources ----------------------------------------------------------- */

typedef enum ds_layout {
    DS_LAYOUT_AUTO = 0,
    DS_LAYOUT_KAGGLE,    /* dogs-vs-cats.zip (nested train.zip, test1.zip) or train.zip */
    DS_LAYOUT_FASTAI,    /* dogscats.zip: dogscats/{train,valid}/{cats,dogs}, test1 */
    DS_LAYOUT_PETIMAGES, /* PetImages/{Cat,Dog} */
    DS_LAYOUT_FOLDERS,   /* class-per-folder tree, directory or archive */
    DS_LAYOUT_IDX,       /* IDX images file (its labels file found beside it) */
    DS_LAYOUT_HODA,      /* HODA .cdb */
} ds_layout;

/* "auto", "kaggle", ...; NULL for an unknown value. */
const char *ds_layout_name(ds_layout l);
/* Returns 0 and sets *out, or CK_EINVAL for an unknown name. */
int ds_layout_parse(const char *name, ds_layout *out);

typedef struct ds_limits {
    uint64_t max_pixels;      /* declared width*height above this: rejected (default 89,478,485) */
    uint64_t max_entry_bytes; /* uncompressed entry above this: rejected, its data never
                                 held in full (default 256 MiB). Nested archives are
                                 streamed, never held, so they are not bounded by it */
    int max_nesting;          /* archives inside archives (Kaggle's train.zip is 1),
                                 deeper: refused with CK_ELIMIT (default 2) */
    uint64_t max_total_bytes; /* the whole dataset's entry bytes (uncompressed), all
                                 sources together: more is refused with CK_ELIMIT
                                 (default 2 GiB; 0: no limit). An IDX file is
                                 refused at open when its header declares more */
    uint64_t max_entries;     /* the whole dataset's entries, likewise (default
                                 1,000,000) */
} ds_limits;

/* The defaults above. */
ds_limits ds_limits_default(void);

enum {
    DS_ENTRY_ENCODED = 0, /* data holds a file's bytes (JPEG, PNG, ... or junk) */
    DS_ENTRY_RAW = 1,     /* data holds width*height*bands 8-bit pixels, row-major HWC */
};

/* One entry of a source, owned by the caller after ds_source_next. */
typedef struct ds_entry {
    int64_t ordinal; /* 0, 1, 2... in read order; stable across runs */
    char *name;      /* as stored in the catalog, UTF-8 ("train.zip:train/cat.1.jpg");
                        bytes that are not UTF-8 are escaped as \xNN */
    char *label;     /* class name, or NULL when unlabelled */
    char *split;     /* the source's own split ("train", "validation", "test") or NULL */
    int kind;        /* DS_ENTRY_ENCODED or DS_ENTRY_RAW */
    uint8_t *data;   /* may be NULL when reject is set */
    size_t size;
    int width, height, bands; /* DS_ENTRY_RAW only */
    char *reject;             /* set when the reader already refuses the entry
                                 (over max_entry_bytes, a link, a device...): the reason */
    int stopped;              /* 1: an archive could not be read past here (a cut
                                 file, a header libarchive cannot take); reject
                                 says where and why, the entries before are kept,
                                 the rest of that archive is lost */
} ds_entry;

void ds_entry_free(ds_entry *e); /* NULL is a no-op */

typedef struct ds_source ds_source;

/* Opens path (a file or a directory) for reading with the given layout
 * (DS_LAYOUT_AUTO detects it; the rules are in datasets/source_layout.c).
 * limits may be NULL (the defaults). Returns 0, or CK_EIO (cannot open),
 * CK_EFORMAT (not a layout we know, or not the one asked for), CK_ELIMIT.
 * AUTO and FOLDERS read every name first (for zips, a local header per
 * entry; for a tar.gz, one decompression). Nothing is ever written or
 * extracted. Not thread-safe against itself; distinct sources are
 * independent. */
int ds_source_open(ds_source **out, const char *path, ds_layout layout, const ds_limits *limits,
                   char *err, size_t errlen);
void ds_source_close(ds_source *s); /* NULL is a no-op */

/* The layout in use (the detected one with AUTO). */
ds_layout ds_source_layout(const ds_source *s);

/* Next entry: returns 1 and sets *out (owned by the caller), 0 at the end,
 * or a negative code when the source itself cannot be read further (a
 * truncated archive, an IDX header that disagrees with the file size, a
 * .cdb record that runs past the end) with err naming file and entry
 * ("dogs-vs-cats.zip:train.zip: read: <reason>"); after that, only close.
 * Damage inside an archive is not an error: an entry that cannot be read
 * comes back rejected with the reason, and an archive that cannot be read
 * further ends with one entry marked stopped (the source goes on with
 * what follows it); only an I/O error, an input that is not an archive at
 * all, or a limit ends the source with an error.
 * Entries that are part of a layout's structure and not samples (fastai
 * sample/ and models/, Kaggle's sampleSubmission.csv, directories, hidden
 * files and folders such as .DS_Store and __MACOSX/) are skipped silently;
 * anything else that is not an image is returned for ds_check to reject.
 * Names: relative to the source, ':' between archive levels, "#N" after
 * an IDX or .cdb file name ("train-images-idx3-ubyte.gz#12"). */
int ds_source_next(ds_source *s, ds_entry **out, char *err, size_t errlen);

/* After ds_source_next returned 0: a 128-bit hash (hex, 32 chars + NUL) of
 * the bytes read, the source's identity in the catalog; "" before. XXH3-128
 * of: an archive or .cdb file's bytes (as xxh128sum prints); for a
 * directory, each entry's name, NUL, size and bytes in read order; for IDX,
 * the digests of the images and of the labels file. */
void ds_source_hash(const ds_source *s, char hex[33]);

/* ---- checking one entry ------------------------------------------------ */

typedef struct ds_check_opts {
    uint64_t max_pixels; /* as ds_limits; 0 means the default */
    int max_side;        /* > 0: photos larger than this are shrunk (longest side) and
                            re-encoded as JPEG q 95 (PNG for images with alpha) */
} ds_check_opts;

/* What ds_check_entry found; owns data. */
typedef struct ds_sample {
    int ok;                   /* 1: a valid image; 0: rejected, see reason */
    char reason[256];         /* "decode: Premature end of JPEG file", "not an image", ... */
    char format[8];           /* "jpeg", "png", "gif", "webp", "tiff", "raw", ... */
    int width, height, bands; /* of the stored image */
    int orig_width, orig_height;
    uint8_t content_hash[16]; /* XXH3-128 of the entry's original bytes */
    uint64_t phash;           /* 64-bit perceptual hash (DCT of a 32x32 grey thumbnail) */
    uint8_t *data;            /* bytes to store: the original encoding, a re-encoding when
                                 shrunk, or the raw pixels for DS_ENTRY_RAW */
    size_t size;
} ds_sample;

/* Decodes and verifies e (all of it: a truncated or corrupt file is caught;
 * a JPEG may be decoded at a reduced DCT scale) and fills *out (overwritten:
 * clear a reused sample first). A bad image is not an error: returns 0 with
 * out->ok = 0, a one-line reason and no data; the declared size is checked
 * against max_pixels before any pixel is decoded; an entry with e->reject
 * is rejected with that reason. content_hash is always set. Returns a
 * negative code only when checking itself failed (CK_ENOMEM). Thread-safe;
 * needs im_init. */
int ds_check_entry(const ds_entry *e, const ds_check_opts *o, ds_sample *out, char *err,
                   size_t errlen);
void ds_sample_clear(ds_sample *s); /* frees data; safe on a zeroed struct */

/* Hamming distance of two perceptual hashes. */
int ds_phash_distance(uint64_t a, uint64_t b);

/* ---- splits ------------------------------------------------------------ */

typedef enum ds_split_mode {
    DS_SPLIT_SOURCE = 0,  /* the source's own split; unsplit samples go to train */
    DS_SPLIT_CHOLLET,     /* Kaggle file numbers per class: train 0-999, validation
                             1000-1499, test 1500-2499; others unused */
    DS_SPLIT_CHOLLET_1ST, /* as above, test 1500-1999 */
    DS_SPLIT_FRACTIONS,   /* stratified train/validation/test fractions, seeded */
} ds_split_mode;

typedef struct ds_split_opts {
    ds_split_mode mode;
    double train, validation, test; /* DS_SPLIT_FRACTIONS; sum to 1 */
    uint64_t seed;
    int64_t limit_per_class; /* > 0: at most this many per class and split */
    int near_distance;       /* phash Hamming distance for near duplicates (default 4,
                                at most 16; < 0: no near-duplicate search) */
    int keep_leakage;        /* 1: report leakage but keep the samples */
    int pool_test;           /* fractions: 1 shares a publisher's test split out
                                with the rest; 0 (default) keeps it test */
    const char *class_names; /* "a,b,c" (--class-names): the names of classes
                                a source numbers (IDX, HODA): class k is
                                stored as the k-th name, and the classes
                                keep the list's order. NULL: the numbers */
} ds_split_opts;

ds_split_opts ds_split_opts_default(void);

/* Parses "chollet", "chollet-1st", "source" or
 * "train=0.8,validation=0.1,test=0.1" into o (other fields untouched).
 * Returns 0 or CK_EINVAL with a message naming the bad part. */
int ds_split_parse(const char *text, ds_split_opts *o, char *err, size_t errlen);

/* Splits a class_names list "a,b,c" into *names, *n of them, in one
 * malloc'd block (free(*names) frees it all). Each name must be non-empty,
 * UTF-8 without control characters, and unlike the others. Returns 0 or
 * CK_EINVAL naming the bad name (then *names is NULL). */
int ds_class_names_parse(const char *list, char ***names, int *n, char *err, size_t errlen);

/* The canonical one-line text of o, e.g. "split=chollet seed=0
 * limit-per-class=0 near-distance=4 keep-leakage=0" (fractions as
 * "split=train=0.8,validation=0.1,test=0.1", and " pool-test=1" after
 * the rest when pool_test is set): what ds_catalog_finish records
 * and info shows. Truncated to len. Thread-safe. */
void ds_split_describe(const ds_split_opts *o, char *buf, size_t len);

/* ---- the catalog ------------------------------------------------------- */

typedef struct ds_catalog ds_catalog;

enum {
    DS_OPEN_READ = 0,  /* read-only; any thread may open its own */
    DS_OPEN_WRITE = 1, /* create or resume; one writer */
};

/* Opens or creates the catalog at path. Returns 0, CK_EIO, CK_EDB, or
 * CK_EFORMAT (not a convkit catalog, or a newer schema). */
int ds_catalog_open(ds_catalog **out, const char *path, int mode, char *err, size_t errlen);
void ds_catalog_close(ds_catalog *c); /* NULL is a no-op; commits pending writes */

/* -- writing (ingest) -- */

/* Starts or resumes a preparation described by options (a canonical text of
 * every option that changes the result, stored in the catalog). Sets
 * *finished to 1 when the catalog already holds a finished preparation with
 * the same options (nothing to do). A catalog prepared with other options
 * is CK_EINVAL ("was prepared with ...; use a new output"), unless it holds
 * no image (a failed or empty preparation): it is then emptied and begun
 * anew, and ds_catalog_replaced says so. */
int ds_catalog_begin(ds_catalog *c, const char *options, int *finished, char *err, size_t errlen);

/* After ds_catalog_begin: the options of the image-less preparation it
 * replaced, or NULL. Borrowed until the next begin or close. */
const char *ds_catalog_replaced(const ds_catalog *c);

/* Registers source number index (0, 1, ... in command-line order) or finds
 * it again on resume. Sets *id_base (ids of its entries start there) and
 * *complete (1 when all its entries were already stored in an earlier
 * run). The id base of source i+1 is only known once source i ended. */
int ds_catalog_source(ds_catalog *c, int index, const char *path, ds_layout layout,
                      int64_t *id_base, int *complete, char *err, size_t errlen);

/* 1 if the sample with this id is already stored (a resumed run skips it),
 * 0 if not, CK_EDB on failure. A read connection sees committed rows only. */
int ds_catalog_has(ds_catalog *c, int64_t id);

/* Stores one checked entry (ok or rejected) under id (again: replaced).
 * Writes are grouped in large transactions; a crash loses at most the open
 * transaction. Source source_index must be registered and not complete. */
int ds_catalog_put(ds_catalog *c, int64_t id, int source_index, const ds_entry *e,
                   const ds_sample *s, char *err, size_t errlen);

/* Marks source index complete with its entry count and hash; commits.
 * CK_EINVAL when the stored samples are not exactly ids id_base ..
 * id_base+entries-1, or when an already complete source now has another
 * count or hash (the file changed between runs). */
int ds_catalog_source_done(ds_catalog *c, int index, int64_t entries, const char *hash, char *err,
                           size_t errlen);

/* After every source: groups exact and near duplicates, assigns splits,
 * detects and (unless keep_leakage) removes leakage, records the dataset
 * hash, marks the preparation finished. Deterministic: a function of the
 * stored rows and o only (catalog_finish.c outlines the steps, each file
 * states its policy: catalog_split.c, catalog_exact.c, catalog_near.c). A no-op on
 * a finished catalog. CK_EINVAL for bad options or an incomplete source. */
int ds_catalog_finish(ds_catalog *c, const ds_split_opts *o, char *err, size_t errlen);

/* -- reading -- */

/* The whole description as one JSON object (what `convkit info --json`
 * prints): splits x classes, rejects with reasons, duplicate groups, leakage,
 * sources and options. *json is malloc'd, the caller frees it. */
int ds_catalog_info_json(ds_catalog *c, char **json, char *err, size_t errlen);

/* What a finished catalog lacks that its split options o asked for (no
 * class found, an asked split empty, nothing held out, a class missing
 * from a split), one warning per line; *text is NULL when there is none,
 * else malloc'd. catalog_warn.c lists the checks. */
int ds_catalog_warnings(ds_catalog *c, const ds_split_opts *o, char **text, char *err,
                        size_t errlen);

/* Class names in label order (label i = names[i]); *names borrowed until close. */
int ds_catalog_classes(ds_catalog *c, const char *const **names, int *count, char *err,
                       size_t errlen);

/* The samples of a split ("train", "validation", "test"), ordered by id:
 * ids and labels (-1 for unlabelled), malloc'd, the caller frees them. */
int ds_catalog_split(ds_catalog *c, const char *split, int64_t **ids, int32_t **labels,
                     size_t *count, char *err, size_t errlen);

/* One sample's stored bytes and description. *data is borrowed until the
 * next call on c. kind is DS_ENTRY_ENCODED or DS_ENTRY_RAW. */
typedef struct ds_blob {
    const uint8_t *data;
    size_t size;
    int kind;
    int width, height, bands;
    const char *name; /* entry name, for error messages */
} ds_blob;
int ds_catalog_blob(ds_catalog *c, int64_t id, ds_blob *out, char *err, size_t errlen);

/* The dataset hash recorded by ds_catalog_finish (hex), or "" before. */
const char *ds_catalog_hash(ds_catalog *c);

#endif
