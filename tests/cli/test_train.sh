#!/usr/bin/env bash
# End-to-end: the training benchmark's JSON; three epochs on real HODA
# digits reach the accuracy their seeds do; train, evaluate, predict and curves on real photos with
# a small model; same seed same curve; a killed run resumed equals an
# uninterrupted one; clear errors.
#   test_train.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

# bench train --json: one object per thread count with every figure the
# benchmark measures, read back with SQLite's JSON functions. Each query
# row is a check that failed (a missing key fails too: its test is NULL).
expect_status 0 "bench train --json" "$convkit" bench train mnist --steps 2 --json
expect_eq "$(wc -l < "$work/out")" "2" "bench train: one line per thread count"
rows=$(sed "s/'/''/g; s/.*/('&')/" "$work/out" | paste -sd,)
bad=$(sqlite3 :memory: 2>&1 "
  WITH r(t, j) AS (SELECT row_number() OVER (), column1 FROM (VALUES $rows)),
  c(t, what, ok) AS (
    SELECT t, 'model, batch, steps, threads', j ->> 'model' = 'mnist' AND j ->> 'batch' = 64
           AND j ->> 'steps' = 2 AND j ->> 'threads' = t FROM r
    UNION ALL SELECT t, 'images/s', j ->> 'train_images_per_s' > 0
           AND j ->> 'infer_images_per_s' > j ->> 'train_images_per_s' FROM r
    UNION ALL SELECT t, 'step and CPU seconds', j ->> 'step_seconds' > 0
           AND j ->> 'step_cpu_seconds' > 0 FROM r
    UNION ALL SELECT t, 'step GFLOP (hand count 1.4017)', abs(j ->> 'step_gflop' - 1.401668) < 1e-5 FROM r
    UNION ALL SELECT t, 'layer GFLOP add up', abs((SELECT sum(value ->> 'gflop')
           FROM json_each(j, '\$.layers')) - (j ->> 'step_gflop')) < 1e-5 FROM r
    UNION ALL SELECT t, 'GFLOP/s', abs(j ->> 'gflops' - (j ->> 'step_gflop') / (j ->> 'step_seconds'))
           <= 0.01 * (j ->> 'gflops') FROM r
    UNION ALL SELECT t, 'sgemm peak and fraction', j ->> 'sgemm_gflops' > 0
           AND abs(j ->> 'peak_fraction' - (j ->> 'gflops') / (j ->> 'sgemm_gflops'))
               <= 1e-3 + 0.01 * (j ->> 'peak_fraction') FROM r
    UNION ALL SELECT t, 'blas_core', length(j ->> 'blas_core') > 0 FROM r
    UNION ALL SELECT t, 'peak RSS', j ->> 'peak_rss_mib' BETWEEN 10 AND 4096 FROM r
    UNION ALL SELECT t, 'zero, loss, update seconds', j ->> 'zero_s' >= 0 AND j ->> 'loss_s' >= 0
           AND j ->> 'update_s' >= 0 FROM r
    UNION ALL SELECT t, '7 layer rows, conv2d to dense_1', json_array_length(j, '\$.layers') = 7
           AND j ->> '\$.layers[0].name' = 'conv2d' AND j ->> '\$.layers[0].type' = 'Conv2D'
           AND j ->> '\$.layers[6].name' = 'dense_1' FROM r
    UNION ALL SELECT t, 'layer times', (SELECT min(min(value ->> 'forward_s', value ->> 'backward_s'))
           FROM json_each(j, '\$.layers')) >= 0 FROM r)
  SELECT 'object ' || t || ': ' || what FROM c WHERE NOT coalesce(ok, 0);")
expect_eq "$bad" "" "bench train --json: every figure, sane"
expect_status 2 "bench train: unknown model (usage)" "$convkit" bench train nosuchmodel --steps 1
expect_output "nosuchmodel" "unknown model named"

# Guard of the training's quality: three epochs of mnist-3conv on real
# HODA digits, 300 per class for training and on a test split it never
# saw (2,237 digits), letterboxed to 28x28, as scripts/ch8-persian-digits.sh
# does. Over seeds 1-20 the test accuracy was 0.8945-0.9589, mean 0.9428,
# sd 0.0140 (2026-12-06); the bound is the mean less 4.5 sd, so a seed
# fails by chance about once in 300,000, and a training that learns
# markedly worse (a wrong gradient, a broken optimizer) fails.
if need_shared hoda/RemainingSamples.cdb; then
  "$convkit" prepare-dataset "$shared/hoda/RemainingSamples.cdb" --split train=0.8,validation=0.1,test=0.1 \
    --seed 1 --limit-per-class 300 -o hoda.db -q > /dev/null || fail "prepare HODA"
  expect_status 0 "HODA: three epochs of mnist-3conv" "$convkit" train --data hoda.db --model mnist-3conv \
    --resize fit --name hoda --epochs 3 --batch 32 --seed 7 --threads 1 --workers 1 \
    --optimizer rmsprop-tf2 --runs hoda-runs.db -q
  expect_status 0 "HODA: evaluate on the test split" "$convkit" evaluate hoda.best.ckpt --data hoda.db \
    --split test
  acc=$(sed -n 's/.*(test, 2,237 samples): loss [0-9.]*, accuracy \([0-9.]*\)$/\1/p' "$work/out")
  [ "$(sqlite3 :memory: "SELECT coalesce(${acc:-NULL} > 0.88, 0)")" = 1 ] &&
    ok "HODA: test accuracy $acc after three epochs" ||
    fail "HODA: test accuracy '$acc' after three epochs, want > 0.88" "$(cat "$work/out")"
fi

need_shared alien-vs-predator/train || { finish; exit; }
avp=$shared/alien-vs-predator/train

"$convkit" prepare-dataset "$avp" --split train=0.6,validation=0.2,test=0.2 --seed 3 \
  --limit-per-class 60 -o avp.db -q > /dev/null || fail "prepare"
cat > small.spec <<'SPEC'
Input(shape=(32, 32, 3))
Conv2D(8, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Conv2D(16, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Flatten()
Dropout(0.3)
Dense(1, activation="sigmoid")
SPEC
train() { # NAME EPOCHS [more options]; with BG=1 (in the background) the
  # subshell becomes convkit, so that $! is convkit itself and a kill stops it
  local name=$1 epochs=$2; shift 2
  ${BG:+exec} "$convkit" train --data avp.db --model small.spec --name "$name" --epochs "$epochs" \
    --batch 16 --seed 5 --threads 1 --workers 1 --runs runs.db -q "$@"
}
curve() { # NAME: the deterministic columns of a run, without its name
  "$convkit" curves export --runs runs.db --run "$1" --columns loss,accuracy,val_loss,val_accuracy | cut -d, -f2-
}

expect_status 0 "train" train plain 4
expect_output "best epoch" "train reports its best epoch"
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'plain'")" "4" "4 epochs recorded"
[ -f plain.last.ckpt ] && [ -f plain.best.ckpt ] && ok "checkpoints beside runs.db" || fail "checkpoints missing"
expect_status 0 "train again, same seed" train again 4
expect_eq "$(curve again)" "$(curve plain)" "same seed, same curve"
expect_status 0 "train with augmentation" train augmented 4 --augment chollet-2nd
[ "$(curve augmented)" != "$(curve plain)" ] && ok "augmentation changes the curve" || fail "augmentation changed nothing"
expect_status 2 "a recorded name is not reused" train plain 4

# --decode full: JPEGs decoded whole before the resize (these photos are
# several times the 32x32 input), so other inputs and another curve; it is
# recorded, and evaluate prepares its inputs the same way: the best
# checkpoint's validation loss is the one recorded for its epoch.
expect_status 0 "train --decode full" train full 4 --decode full
[ "$(curve full)" != "$(curve plain)" ] && ok "--decode full changes the inputs" ||
  fail "--decode full changed nothing"
expect_eq "$(sqlite3 runs.db "SELECT group_concat(name || ' ' || coalesce(config ->> '\$.extra.decode', '-'), ', ')
  FROM runs WHERE name IN ('plain', 'full') ORDER BY name")" "full full, plain -" "decode recorded when full"
expect_status 0 "evaluate a --decode full checkpoint" "$convkit" evaluate full.best.ckpt --data avp.db --split validation
expect_output "loss $(sqlite3 runs.db "SELECT printf('%.4f', min(val_loss)) FROM epochs WHERE run = 'full'")," \
  "evaluate decodes as the run did (its validation loss is the best epoch's)"

# --reduce-lr-on-plateau: with min_delta 10 no epoch after the first
# improves, so with patience 1 the rate is cut after epochs 2 and 3; it
# is said, recorded, and the curve is not the plain one.
expect_status 0 "train --reduce-lr-on-plateau" "$convkit" train --data avp.db --model small.spec \
  --name plateau --epochs 4 --batch 16 --seed 5 --threads 1 --workers 1 --runs runs.db \
  --reduce-lr-on-plateau patience=1,min_delta=10,factor=0.5
expect_output "epoch 2: reducing the learning rate to 0.0005" "says when it reduces the rate"
expect_eq "$(sqlite3 runs.db "SELECT config ->> '\$.reduce_lr.patience' || ' ' || (config ->> '\$.reduce_lr.factor')
  FROM runs WHERE name = 'plateau'")" "1 0.5" "the plateau is recorded"
[ "$(curve plateau)" != "$(curve plain)" ] && ok "the reduced rate changes the curve" ||
  fail "--reduce-lr-on-plateau changed nothing"
expect_status 2 "a plateau factor of 1 is refused" train plateau2 4 --reduce-lr-on-plateau factor=1
expect_output "factor must be in \(0, 1\)" "says what a factor must be"
expect_status 2 "a misspelt plateau key is refused" train plateau2 4 --reduce-lr-on-plateau patiense=3
expect_output "did you mean patience" "names the key meant"

# A run killed after its second epoch, resumed, ends as the uninterrupted
# one. It is given 12 epochs, so that on a fast, idle machine the kill
# still comes before its end; its first 4 are plain's.
BG=1 train killed 12 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 2000); do
  n=$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'killed'" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.02
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
n=$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'killed'")
[ "$n" -lt 12 ] && ok "killed after $n epochs" || fail "run finished before the kill: test proves nothing"
expect_status 0 "resume" train killed 12 --resume
expect_eq "$(curve killed | head -5)" "$(curve plain)" "resumed curve equals the uninterrupted one"

# SIGINT stops a run after its batch: exit 130, recorded as interrupted,
# told how to continue; resumed, its curve is the uninterrupted one.
BG=1 train sigint 12 > /dev/null 2> sigint.err &
pid=$!
for _ in $(seq 1 2000); do
  n=$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'sigint'" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 1 ] && break
  sleep 0.02
done
kill -INT $pid 2>/dev/null; wait $pid
expect_eq "$?" "130" "SIGINT: exit 130"
expect_eq "$(sqlite3 runs.db "SELECT status FROM runs WHERE name = 'sigint'")" "interrupted" \
  "SIGINT: recorded as interrupted"
grep -q "stopped by SIGINT after .* To continue: convkit train .* --resume" sigint.err &&
  ok "SIGINT: says how to continue" || fail "SIGINT: says how to continue" "$(cat sigint.err)"
expect_status 0 "SIGINT: resumed" train sigint 12 --resume
expect_eq "$(curve sigint | head -5)" "$(curve plain)" "SIGINT: resumed curve as uninterrupted"

nevals=$(sqlite3 runs.db "SELECT count(*) FROM evaluations")
expect_status 2 "evaluate for a run not recorded" "$convkit" evaluate plain.best.ckpt --data avp.db --runs runs.db --name nosuch
expect_output "run nosuch: no such run \\(recorded: .*plain" "names the run and the recorded ones"
expect_status 1 "evaluate into a runs.db not there" "$convkit" evaluate plain.best.ckpt --data avp.db --runs typo.db --name plain
expect_eq "$(ls typo.db 2>/dev/null)" "" "no runs.db made by a typo"
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM evaluations")" "$nevals" "nothing recorded"
expect_status 0 "evaluate on test" "$convkit" evaluate plain.best.ckpt --data avp.db --runs runs.db --name plain
expect_output "accuracy 0\.[0-9]+" "evaluate prints accuracy"
expect_output "alien +[0-9]+ +[0-9]+" "evaluate prints the confusion matrix"
expect_status 0 "curves list" "$convkit" curves list --runs runs.db
expect_output "plain .* 4/4 " "list shows the run"
expect_status 0 "predict" "$convkit" predict plain.best.ckpt "$avp/alien/0.jpg" "$avp/predator/0.jpg"
expect_eq "$(cut -f2 "$work/out" | sort -u | grep -cvE '^(alien|predator)$')" "0" "predict names classes"
expect_status 0 "curves plot" "$convkit" curves plot --runs runs.db --run plain --label "without augmentation" \
  --run augmented --label "with augmentation" --size 900x400 -o curves.png
expect_eq "$(od -An -tu1 -j16 -N8 curves.png | awk '{ printf "%dx%d", $3*256+$4, $7*256+$8 }')" "900x400" "plot is a 900x400 PNG"
expect_status 0 "curves export csv" "$convkit" curves export --runs runs.db -o curves.csv
expect_eq "$(($(wc -l < curves.csv) - 1))" "$(sqlite3 runs.db 'SELECT count(*) FROM epochs')" "CSV holds every epoch"

expect_status 0 "bench loader --json" "$convkit" bench loader avp.db --workers 0,1 --size 32 --json
ntrain=$(sqlite3 avp.db "SELECT count(*) FROM samples WHERE split = 'train'")
expect_eq "$(grep -c "\"images\":$ntrain," "$work/out")" "4" "bench loader: 2 worker counts, with and without the policy"

expect_status 2 "curves: unknown run" "$convkit" curves plot --runs runs.db --run nope -o x.png
expect_output "nope" "unknown run named"
expect_status 1 "curves: missing runs.db" "$convkit" curves list --runs "$work/none.db"
expect_status 1 "train: missing catalog" "$convkit" train --data none.db --model small.spec --name x
expect_status 2 "train: model does not fit the classes" "$convkit" train --data avp.db --model mnist --name y
expect_output "classes" "mismatch explained"
finish
