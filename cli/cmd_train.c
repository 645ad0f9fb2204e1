/* cmd_train.c: `convkit train`: a model from the book (or a spec file)
 * trained on a dataset.db split through the prefetching loader, validated
 * every epoch, every epoch recorded in runs.db with checkpoints beside it.
 * Output: a Keras-style bar on a terminal, one line per epoch otherwise. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ck.h"
#include "cli.h"
#include "data.h"
#include "dist.h"
#include "record.h"
#include "rn.h"

typedef struct train_view {
    cli_progress bar;
    int quiet;
    int procs; /* processes of the job */
} train_view;

/* The signal (SIGINT, SIGTERM) that asked the run to stop, 0 if none: set
 * by the handler, read by the trainer's callbacks, which then stop the run
 * after the current batch. The run is recorded as interrupted, and its
 * last checkpoint (the last whole epoch) is what --resume continues from.
 * A second signal ends the process at once (SA_RESETHAND). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int on_batch(void *ctx, const nn_progress *p)
{
    train_view *v = ctx;
    if (stop_signal) {
        return 1;
    }
    if (v->quiet || !v->bar.tty) {
        return 0;
    }
    char label[32], text[160], eta[16];
    snprintf(label, sizeof label, "epoch %d/%d", p->epoch, p->epochs);
    double fraction = p->batches > 0 ? (double)p->batch / (double)p->batches : -1;
    cli_fmt_duration(eta, sizeof eta,
                     fraction > 0 ? p->seconds * (1 - fraction) / fraction : (double)NAN);
    if (p->validating) {
        snprintf(text, sizeof text, "%lld/%lld - loss %.4f - accuracy %.4f - validating...",
                 (long long)p->batch, (long long)p->batches, p->loss, p->accuracy);
    } else {
        snprintf(text, sizeof text, "%lld/%lld - ETA %s - loss %.4f - accuracy %.4f",
                 (long long)p->batch, (long long)p->batches, eta, p->loss, p->accuracy);
    }
    cli_progress_draw(&v->bar, label, fraction, text, p->batch == p->batches);
    return 0;
}

static int on_epoch(void *ctx, const nn_progress *p)
{
    train_view *v = ctx;
    if (v->quiet) {
        return stop_signal != 0;
    }
    if (v->bar.tty) {
        fputs("\r\033[K", stderr);
    }
    fprintf(stderr, "epoch %d/%d: %.1f s - loss %.4f - accuracy %.4f", p->epoch, p->epochs,
            p->seconds, p->loss, p->accuracy);
    if (!isnan(p->val_loss)) {
        fprintf(stderr, " - val_loss %.4f - val_accuracy %.4f", p->val_loss, p->val_accuracy);
    }
    fprintf(stderr, " - %.0f img/s - stall %.2f s", p->images_per_s, p->input_stall);
    if (v->procs > 1) {
        fprintf(stderr, " - waiting for the others %.2f s", p->comm_wait);
    }
    fprintf(stderr, "%s\n", p->best ? " (best)" : "");
    if (p->next_lr < p->lr) { /* as Keras's ReduceLROnPlateau says it */
        fprintf(stderr, "epoch %d: reducing the learning rate to %g\n", p->epoch, p->next_lr);
    }
    return stop_signal != 0;
}

/* {"augment": ..., "classes": [...], "dataset": ..., ...}: what the run
 * needs beyond nn_train's own configuration, recorded with it. */
static char *config_extra(const char *data, int features, const data_facts *f, const char *augment,
                          const data_input *in, const char *train_split, const char *val_split)
{
    json_t *classes = json_array();
    for (int i = 0; i < f->nclasses; i++) {
        json_array_append_new(classes, json_string(f->classes[i]));
    }
    /* "decode" only when full: configurations recorded before it existed
     * decoded fast, and still compare equal */
    json_t *o =
        json_pack("{s:s, s:o, s:s, s:s, s:s?, s:s, s:s?}", "augment", augment, "classes", classes,
                  features ? "features" : "dataset", data, "resize", cli_resize_names[in->resize],
                  "decode", in->full_decode && !features ? "full" : NULL, "train_split",
                  train_split, "val_split", val_split);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return text;
}

/* A run without validation trains (as Keras's fit does) but says so
 * first, since it has no val_loss, no best checkpoint and no early
 * stopping; --early-stopping without validation is refused. data is the
 * catalog that has no validation split, NULL after --val-split none. */
static int no_validation(const char *data, const data_facts *f, int patience, int plateau, int say,
                         char *err, size_t errlen)
{
    char why[1200], tr[32], te[32];
    cli_fmt_count(tr, sizeof tr, f->split_size[0]);
    cli_fmt_count(te, sizeof te, f->split_size[2]);
    if (data) {
        snprintf(why, sizeof why,
                 "%s has no validation split (train %s, test %s); prepare one with "
                 "convkit prepare-dataset --split train=0.9,validation=0.1, or name a split "
                 "with --val-split",
                 data, tr, te);
    } else {
        snprintf(why, sizeof why, "--val-split none");
    }
    if (patience > 0) {
        return ck_err(err, errlen, CK_EINVAL, "--early-stopping watches val_loss: %s", why);
    }
    if (plateau) {
        return ck_err(err, errlen, CK_EINVAL, "--reduce-lr-on-plateau watches val_loss: %s", why);
    }
    if (say) {
        fprintf(stderr,
                "convkit train: note: no validation, so no val_loss, no best checkpoint: %s\n",
                why);
    }
    return 0;
}

/* The option that sets a member of the run configuration (nn_train_config,
 * config_extra above). */
static const char *member_option(const char *member)
{
    static const char *const map[][2] = {
        {"epochs", "--epochs"},
        {"batch", "--batch"},
        {"model", "--model"},
        {"spec", "--model/--size (the model's layers)"},
        {"optimizer.name", "--optimizer"},
        {"optimizer.lr", "--lr"},
        {"optimizer.momentum", "--momentum"},
        {"optimizer.nesterov", "--nesterov"},
        {"loss", "--model (its output)"},
        {"seed", "--seed"},
        {"threads", "--threads"},
        {"shards", "--shards"},
        {"isa", "CONVKIT_ISA (the kernel tier)"},
        {"patience", "--early-stopping"},
        {"reduce_lr", "--reduce-lr-on-plateau"},
        {"dataset_hash", "--data/--features (the catalog's content)"},
        {"weights", "--weights"},
        {"trainable_from", "--trainable-from"},
        {"extra.augment", "--augment"},
        {"extra.classes", "--data (its classes)"},
        {"extra.dataset", "--data"},
        {"extra.features", "--features"},
        {"extra.resize", "--resize"},
        {"extra.train_split", "--train-split"},
        {"extra.val_split", "--val-split"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (!strcmp(member, map[i][0])) {
            return map[i][1];
        }
    }
    if (!strncmp(member, "optimizer.", 10)) {
        return "--optimizer";
    }
    return member;
}

/* A name is a run: a new run refuses a recorded name (or checkpoints of
 * that name beside runs.db that no run owns), and --resume needs the run,
 * read into *prev. Returns CLI_OK or the exit status. */
static int check_name(const char *cmd, const char *runs, const char *name, int resume,
                      const char *last_path, const char *best_path, rn_curves_list *prev)
{
    char err[1024];
    memset(prev, 0, sizeof *prev);
    if (resume) {
        int rc = rn_curves_list_runs(runs, &name, 1, prev, err, sizeof err);
        return rc ? cli_report(rc, err) : CLI_OK;
    }
    if (access(runs, F_OK) == 0) {
        rn_curves_list known;
        int rc = rn_curves_list_runs(runs, &name, 1, &known, err, sizeof err);
        rn_curves_list_free(&known);
        if (rc == 0) {
            return cli_usage(cmd,
                             "--name %s: run %s is already recorded in %s; to continue or "
                             "extend it, give the same command with --resume (and a larger "
                             "--epochs); to start over, first: convkit curves delete --runs %s %s",
                             name, name, runs, runs, name);
        }
        if (rc != CK_EINVAL) { /* not "no such run": runs.db cannot be read */
            return cli_report(rc, err);
        }
    }
    const char *ckpts[] = {last_path, best_path};
    for (int i = 0; i < 2; i++) {
        if (access(ckpts[i], F_OK) == 0) {
            return cli_usage(cmd,
                             "--name %s: %s holds no run %s, but %s exists; move it away (or "
                             "choose another name) to start a run of that name",
                             name, runs, name, ckpts[i]);
        }
    }
    return CLI_OK;
}

/* --resume with these options: the same as the run's (prev), but for
 * --epochs, which extends a finished run or moves an unfinished one's end
 * (never before the epochs done), and the threads and processes, which
 * change no result. Every other option that differs is named with both
 * values. A run that early stopping ended stays ended: a run of
 * more epochs would have stopped there too. */
static int check_resume(const rn_curves_run *prev, const char *config, int epochs, const char *runs,
                        char *err, size_t errlen)
{
    rn_config_change *c;
    int n, rc = rn_config_diff(prev->config, config, &c, &n, err, errlen);
    if (rc) {
        return rc;
    }
    ck_buf b = {0};
    int epochs_changed = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(c[i].member, "epochs")) {
            epochs_changed = 1;
        } else if (rn_config_is_layout(c[i].member)) {
            continue;
        } else if (!strcmp(c[i].member, "spec")) {
            ck_buf_printf(&b, "%s%s differ", b.len ? "; " : "", member_option(c[i].member));
        } else {
            ck_buf_printf(&b, "%s%s: %s recorded, %s now", b.len ? "; " : "",
                          member_option(c[i].member), c[i].recorded ? c[i].recorded : "(none)",
                          c[i].now ? c[i].now : "(none)");
        }
    }
    rn_config_changes_free(c, n);
    if (b.len) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "--resume: run %s was recorded with other options: %s; resume it with the "
                    "recorded ones, or start over (convkit curves delete --runs %s %s)",
                    prev->name, b.s ? b.s : "?", runs, prev->name);
    } else if (epochs < prev->epochs_done) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "--epochs %d: run %s has %d epochs done; give at least %d to resume it", epochs,
                    prev->name, prev->epochs_done, prev->epochs_done);
    } else if (epochs_changed && prev->status && !strcmp(prev->status, "done") &&
               prev->epochs_done < prev->epochs) {
        rc = ck_err(err, errlen, CK_EINVAL,
                    "--epochs %d: run %s stopped early at epoch %d of %d (--early-stopping), "
                    "as a run of %d epochs would too: there is nothing to extend; to train "
                    "longer, start a new run with more patience",
                    epochs, prev->name, prev->epochs_done, prev->epochs, epochs);
    }
    ck_buf_free(&b);
    return rc;
}

static const char usage[] =
    "usage: convkit train --data DATASET.db --model MODEL|SPEC --name NAME [options]\n"
    "       convkit train --features FEATURES.db --model MODEL|SPEC --name NAME [options]\n"
    "\n"
    "Trains on the 'train' split, evaluates the 'validation' split after every\n"
    "epoch, and records each epoch in runs.db with the configuration, the\n"
    "dataset's hash and the seed. Checkpoints NAME.last.ckpt and NAME.best.ckpt\n"
    "(lowest val_loss) are written beside runs.db; --resume continues a killed\n"
    "run from its last checkpoint to the same curve.\n";

/* --early-stopping patience=N (or N). */
static int parse_patience(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    return cli_parse_i64(strncmp(v, "patience=", 9) ? v : v + 9, dest) || *(int64_t *)dest < 0;
}

/* --reduce-lr-on-plateau KEY=VALUE,...: Keras's ReduceLROnPlateau, its
 * defaults for the keys not given. */
static int parse_plateau(void *dest, const char *v, char *why, size_t len)
{
    nn_plateau *pl = dest;
    *pl = nn_plateau_defaults();
    char buf[256];
    if (!v[0] || strlen(v) >= sizeof buf) {
        return 1;
    }
    strcpy(buf, v);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *end = NULL;
        double x = eq ? strtod(eq + 1, &end) : (double)NAN;
        if (!eq || end == eq + 1 || *end || !isfinite(x)) {
            snprintf(why, len, "want KEY=NUMBER items, got '%s'", item);
            return 1;
        }
        *eq = 0;
        if (nn_plateau_set(pl, item, x, why, len) != 0) {
            return 1;
        }
    }
    return 0;
}

/* All the cores, shared among the processes mpirun started on this
 * machine. */
static int default_threads(void)
{
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int n = local ? atoi(local) : 1, t = ck_ncores() / (n > 0 ? n : 1);
    return t > 0 ? t : 1;
}

/* A run's name becomes its checkpoints' file names. */
static int parse_run_name(void *dest, const char *v, char *why, size_t len)
{
    (void)why;
    (void)len;
    *(const char **)dest = v;
    return !v[0] || strchr(v, '/') || v[0] == '.';
}

int cmd_train(int argc, char **argv)
{
    const char *cmd = "train", *data = NULL, *model = NULL, *name = NULL;
    const char *runs = "runs.db", *augment = NULL;
    const char *train_split = "train", *val_split = "validation";
    const char *features = NULL, *weights = NULL, *trainable_from = NULL;
    int64_t epochs = 10, batch = 32, seed = 0, patience = -1, threads = 0, workers = -1, size = 0;
    int64_t shards = 0;
    nn_plateau plateau = {0};
    double lr = NAN, momentum = NAN;
    int nesterov = 0, resume = 0, val_none = 0, kind = NN_OPT_RMSPROP, resize = AUG_RESIZE_STRETCH;
    int decode = 0;
    int first;
    static const char *const optimizers[] = {"sgd", "rmsprop", "adam", "rmsprop-tf2", NULL};
    train_view view = {0};
    const cli_opt opts[] = {
        CLI_STR_OPT("data", 0, &data, "FILE", "the catalog (convkit prepare-dataset)"),
        CLI_STR_OPT(
            "features", 0, &features, "FILE",
            "or the features a conv base made of it (convkit extract-features); the model's "
            "input takes their shape"),
        CLI_MODEL_OPT("model", &model, "M", "a built-in (convkit summary --help) or a spec file"),
        CLI_INT_OPT("size", 0, &size, "N", "the model's input N x N (Keras's input_shape)", 1,
                    8192),
        CLI_STR_OPT("weights", 0, &weights, "FILE.h5",
                    "Keras weights loaded by layer name after initialisation (e.g. "
                    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)"),
        CLI_STR_OPT(
            "trainable-from", 0, &trainable_from, "LAYER",
            "freeze the layers before LAYER (fine-tuning; the first layer of the head freezes a "
            "whole conv base)"),
        CLI_FN_OPT("name", &name, "NAME", "the run's name in runs.db", parse_run_name,
                   "a name usable in a file name (not empty, no '/', no leading '.')"),
        CLI_STR_OPT("runs", 0, &runs, "FILE", "the runs database (default runs.db)"),
        CLI_INT_OPT("epochs", 0, &epochs, "N", "epochs to train (default 10)", 1, CLI_NOMAX),
        CLI_INT_OPT("batch", 0, &batch, "N", "samples per step (default 32)", 1, 65536),
        CLI_CHOICE_OPT("optimizer", &kind, "NAME",
                       "(default rmsprop, as Keras 3; rmsprop-tf2 is RMSprop as tf.keras <= "
                       "2.10 ran it, epsilon outside the square root: the book's)",
                       optimizers),
        CLI_NUM_OPT("lr", &lr, "X", "learning rate (default: Keras's, 0.001; 0.01 for sgd)", 0,
                    INFINITY, CLI_OPEN_LO),
        CLI_NUM_OPT("momentum", &momentum, "X",
                    "momentum of sgd or rmsprop(-tf2), as Keras's (default 0)", 0, 1, 0),
        CLI_FLAG_OPT("nesterov", 0, &nesterov, "Nesterov's momentum (sgd only)"),
        CLI_POLICY_OPT("augment", &augment, "POLICY",
                       "augmentation of training samples (convkit augment --help)"),
        CLI_CHOICE_OPT(
            "resize", &resize, "MODE",
            "how images take the model's input size: stretch (default, as Keras), fit (keep the "
            "aspect ratio, centre, pad with 0) or crop",
            cli_resize_names),
        CLI_CHOICE_OPT(
            "decode", &decode, "MODE",
            "fast (default): a JPEG at least twice the input's size is decoded at 1/2, 1/4 or 1/8 "
            "of it first (libjpeg's DCT scaling); full: decoded whole, then resized, as Keras's "
            "loaders do (the book's inputs, exactly)",
            cli_decode_names),
        CLI_INT_OPT("seed", 0, &seed, "N", "weights, shuffles, augmentation, dropout (default 0)",
                    0, CLI_NOMAX),
        CLI_FN_OPT(
            "early-stopping", &patience, "patience=N",
            "stop when val_loss has not improved for N epochs (Keras's EarlyStopping: 0 stops at "
            "the first epoch without improvement, as 1 does)",
            parse_patience, "patience=N with an integer N >= 0"),
        CLI_FN_OPT("reduce-lr-on-plateau", &plateau, "K=V,...",
                   "multiply the learning rate by factor when val_loss has not improved by "
                   "min_delta for patience epochs, then wait cooldown epochs (Keras's "
                   "ReduceLROnPlateau; defaults factor=0.1,patience=10,min_delta=1e-4,"
                   "cooldown=0,min_lr=0)",
                   parse_plateau,
                   "comma-separated factor=, patience=, cooldown=, min_lr=, "
                   "min_delta= items"),
        CLI_STR_OPT("train-split", 0, &train_split, "NAME",
                    "the split to train on (default train)"),
        CLI_STR_OPT("val-split", 0, &val_split, "NAME",
                    "the split to validate on (default validation; none for no validation)"),
        CLI_INT_OPT("threads", 0, &threads, "N",
                    "threads of each process (default: all cores; under mpirun, the cores "
                    "divided among the processes of the machine)",
                    1, CLI_NOMAX),
        CLI_INT_OPT("shards", 0, &shards, "N",
                    "sum each batch's gradient over N fixed shards of it, in order: the same "
                    "curve on any number of processes up to N (default: 1, or the number of "
                    "processes under mpirun)",
                    1, 65536),
        CLI_INT_OPT(
            "workers", 0, &workers, "N",
            "loader threads, 0 decoding on the trainer's thread (default: chosen for the machine)",
            0, 64),
        CLI_FLAG_OPT("resume", 0, &resume,
                     "continue the run NAME from its last checkpoint, with the same options; a "
                     "larger --epochs extends it"),
        CLI_FLAG_OPT("quiet", 'q', &view.quiet, "no progress output"),
        CLI_END_OPT,
    };
    const cli_spec cli = {.cmd = cmd,
                          .usage = usage,
                          .opts = opts,
                          .required = "data|features model name",
                          .exclusive = "data|features features|augment features|size"};
    int st = cli_parse(&cli, argc, argv, &first);
    if (st != CLI_GO) {
        return st;
    }
    if (first != argc) {
        return cli_usage(cmd, "unexpected argument '%s'", argv[first]);
    }
    if (nesterov && kind != NN_OPT_SGD) {
        return cli_usage(cmd, "--nesterov: Nesterov's momentum is sgd's only, not %s's",
                         optimizers[kind]);
    }
    if (!isnan(momentum) && kind == NN_OPT_ADAM) {
        return cli_usage(cmd, "--momentum: want --optimizer sgd or rmsprop (adam has none: its "
                              "moving average is beta_1)");
    }
    if (!strcmp(val_split, "none")) {
        val_split = NULL;
        val_none = 1;
    }
    /* Under mpirun: this process's shards of every batch; only rank 0
     * prints, records and writes checkpoints. */
    const nn_comm *comm = cli_comm();
    const int procs = comm ? comm->size : 1, rank = comm ? comm->rank : 0;
    if (shards == 0) {
        shards = procs;
    }
    if (shards > batch) {
        return cli_usage(cmd, "--shards %lld: at most the batch (%lld samples)", (long long)shards,
                         (long long)batch);
    }
    if (shards < procs) {
        return cli_usage(cmd, "--shards %lld: each of the %d processes needs a shard at least",
                         (long long)shards, procs);
    }
    const data_part part = {(int)shards, (int)ck_cut(shards, rank, procs),
                            (int)ck_cut(shards, rank + 1, procs)};
    view.procs = procs;
    if (rank > 0) {
        view.quiet = 1;
    }
    /* Keras stops at the first epoch without improvement for patience 0
     * as for 1 (its wait counts that epoch before comparing); the
     * trainer's 0 is "off". */
    int stop_after = patience < 0 ? 0 : patience == 0 ? 1 : (int)patience;
    const data_input input = {.resize = (aug_resize)resize, .full_decode = decode};

    char err[1024], *spec = NULL, *extra = NULL;
    char last_path[4096], best_path[4096], canon[512] = "none";
    cli_run_checkpoints(runs, name, last_path, best_path, sizeof last_path);
    const char *ins[] = {data, features, weights}, *outs[] = {runs, last_path, best_path};
    int apart = cli_outputs_apart(cmd, ins, 3, outs, 3);
    if (apart) {
        return apart;
    }
    rn_curves_list prev = {0};
    if (rank == 0 && (apart = check_name(cmd, runs, name, resume, last_path, best_path, &prev))) {
        return apart;
    }
    const char *prev_config = prev.n ? prev.runs[0].config : NULL;

    aug_policy *policy = NULL;
    if (augment && aug_policy_parse(&policy, augment, err, sizeof err)) {
        rn_curves_list_free(&prev);
        return cli_usage(cmd, "--augment: %s", err);
    }
    if (policy) {
        aug_policy_print(policy, canon, sizeof canon);
    }
    nn_model *m = NULL;
    data_facts facts = {0};
    data_split tr = {0}, va = {0};
    int rc = cli_model_spec(model, (int)size, &spec, err, sizeof err);
    if (rc == 0 && features) {
        /* The features come first: they give the model its input shape. */
        rc = data_open_features(&tr, features, train_split, (int)batch, 1, (uint64_t)seed, err,
                                sizeof err);
        int h = 0, w = 0, ch = 0;
        if (rc == 0) {
            nn_features_shape(tr.features, &h, &w, &ch);
            rc = cli_spec_input(&spec, model, h, w, ch, err, sizeof err);
        }
        if (rc == 0) {
            rc = data_features_facts(tr.features, features, &facts, err, sizeof err);
        }
        if (rc == 0 && val_split) {
            rc = data_open_features(&va, features, val_split, (int)batch, 0, 0, err, sizeof err);
            if (rc == CK_EINVAL && !strcmp(val_split, "validation")) {
                val_split = NULL; /* no validation features */
                rc = 0;
            }
        }
    }
    if (rc == 0) {
        rc = nn_model_create(&m, spec, model, (int)batch, err, sizeof err);
    }
    if (rc == 0 && !features) {
        rc = data_catalog_facts(data, &facts, err, sizeof err);
    }
    if (rc == 0) {
        char who[300];
        snprintf(who, sizeof who, "run %s", name);
        rc = data_check_model(&facts, m, prev_config, features ? features : data,
                              prev_config ? who : model, err, sizeof err);
    }
    if (rc == 0 && !features && val_split && !strcmp(val_split, "validation") &&
        facts.split_size[1] == 0) {
        val_split = NULL; /* the catalog has no validation split */
    }
    if (rc == 0 && !features) {
        rc = data_open(&tr, data, train_split, m, &input, policy, 1, (uint64_t)seed, (int)workers,
                       &part, err, sizeof err);
    }
    if (rc == 0 && !features && val_split) {
        rc = data_open(&va, data, val_split, m, &input, NULL, 0, (uint64_t)seed, (int)workers,
                       &part, err, sizeof err);
    }
    if (rc == 0 && !(extra = config_extra(features ? features : data, !!features, &facts, canon,
                                          &input, train_split, val_split))) {
        rc = ck_err(err, sizeof err, CK_ENOMEM, "train: out of memory");
    }
    if (rc == 0 && !val_split) {
        rc = no_validation(val_none   ? NULL
                           : features ? features
                                      : data,
                           &facts, stop_after, plateau.patience > 0, !view.quiet, err, sizeof err);
    }
    nn_train_result res = {0};
    cli_record record;
    cli_record_init(&record, runs, name, facts.hash, (uint64_t)seed);
    nn_train_opts o = nn_train_defaults();
    if (rc == 0) {
        o.epochs = (int)epochs;
        o.optim = nn_optim_defaults(kind);
        if (!isnan(lr)) {
            o.optim.lr = lr;
        }
        if (!isnan(momentum)) {
            o.optim.momentum = momentum;
        }
        o.optim.nesterov = nesterov;
        o.seed = (uint64_t)seed;
        o.threads = threads ? (int)threads : default_threads();
        o.shards = (int)shards;
        o.comm = comm;
        o.patience = stop_after;
        o.plateau = plateau;
        o.record = rank == 0 ? &record.rec : NULL;
        o.dataset_hash = facts.hash;
        o.config_extra = extra;
        o.weights = weights;
        o.trainable_from = trainable_from;
        o.last_path = rank == 0 ? last_path : NULL;
        o.best_path = rank == 0 ? best_path : NULL;
        o.resume = rank == 0 && resume;
        o.on_batch = on_batch;
        o.on_epoch = on_epoch;
        o.cb_ctx = &view;
        char *config = resume && prev.n ? nn_train_config(m, &o) : NULL;
        if (resume && prev.n) {
            rc = config ? check_resume(&prev.runs[0], config, (int)epochs, runs, err, sizeof err)
                        : ck_err(err, sizeof err, CK_ENOMEM, "train: out of memory");
        }
        free(config);
    }
    /* Every process ready, and reading the same catalog, before any waits
     * for another. */
    rc = cli_comm_agree(rc, features ? features : data, facts.hash, err, sizeof err);
    if (rc == 0) {
        cli_comm_set_together();
        cli_progress_init(&view.bar);
        catch_stop_signals();
        rc = nn_train(m, &o, &tr.source, val_split ? &va.source : NULL, &res, err, sizeof err);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
    }
    cli_record_close(&record);
    rn_curves_list_free(&prev);
    data_close(&va);
    data_close(&tr);
    data_facts_free(&facts);
    nn_model_destroy(m);
    aug_policy_destroy(policy);
    free(extra);
    free(spec);
    if (rc == CK_ECANCELED && stop_signal && rank > 0) {
        return 128 + stop_signal; /* process 0 says how to continue */
    }
    if (rc == CK_ECANCELED && stop_signal) {
        fprintf(stderr,
                "convkit train: %s: stopped by %s after %d of %lld epochs; recorded as "
                "interrupted in %s, checkpoint %s. To continue: convkit",
                name, stop_signal == SIGINT ? "SIGINT" : "SIGTERM", res.epochs_done,
                (long long)epochs, runs, last_path);
        for (int i = 0; i < argc; i++) {
            fprintf(stderr, " %s", argv[i]);
        }
        fprintf(stderr, "%s\n", resume ? "" : " --resume");
        return 128 + stop_signal;
    }
    if (rc && procs > 1) { /* each process says it is the one speaking */
        char who[1300];
        snprintf(who, sizeof who, "process %d on %s: %s", rank, dist_host(), err);
        return cli_report(rc, who);
    }
    if (rc) {
        return cli_report(rc, err);
    }
    if (rank > 0) {
        return CLI_OK; /* rank 0 speaks for the job */
    }
    printf("%s: %d epoch%s%s; ", name, res.epochs_done, res.epochs_done == 1 ? "" : "s",
           res.stopped_early ? " (stopped early)" : "");
    if (val_split) {
        printf("best epoch %d (val_loss %.4f); runs in %s, checkpoints %s, %s\n", res.best_epoch,
               res.best_loss, runs, last_path, best_path);
    } else {
        printf("no validation, so no best epoch; runs in %s, checkpoint %s\n", runs, last_path);
    }
    return CLI_OK;
}
