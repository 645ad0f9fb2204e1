#!/usr/bin/env bash
# End-to-end: runs and evaluations as a careless user meets them. A
# checkpoint on a catalog of other classes, an unfinished catalog, a features
# head given images, --resume with a changed option, a finished run extended
# (bit-identical to one trained that long), a run stopped early, runs
# deleted and names reused, an evaluation on another catalog or split shown
# as such, predict over bad files and a directory, --json.
#   test_runs.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"
need_shared alien-vs-predator/train || { finish; exit; }
avp=$shared/alien-vs-predator/train

"$convkit" prepare-dataset "$avp" --split train=0.6,validation=0.2,test=0.2 --seed 3 \
  --limit-per-class 30 -o avp.db -q > /dev/null || fail "prepare avp.db"
# Another catalog of the same classes (other images), and one of other
# classes made of the same kind of photos.
"$convkit" prepare-dataset "$avp" --split train=0.6,validation=0.2,test=0.2 --seed 4 \
  --limit-per-class 20 -o other.db -q > /dev/null || fail "prepare other.db"
mkdir -p cd/cat cd/dog
cp "$avp"/alien/1[0-9].jpg cd/cat/ && cp "$avp"/predator/1[0-9].jpg cd/dog/
"$convkit" prepare-dataset cd --split train=0.6,validation=0.2,test=0.2 --seed 3 -o catsdogs.db -q \
  > /dev/null || fail "prepare catsdogs.db"
cat > small.spec <<'SPEC'
Input(shape=(32, 32, 3))
Conv2D(8, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Flatten()
Dense(1, activation="sigmoid")
SPEC
train() { # NAME EPOCHS [more options]
  local name=$1 epochs=$2; shift 2
  "$convkit" train --data avp.db --model small.spec --name "$name" --epochs "$epochs" \
    --batch 16 --seed 5 --threads 1 --workers 1 --runs runs.db -q "$@"
}
curve() { # NAME: the deterministic columns of a run, without its name
  "$convkit" curves export --runs runs.db --run "$1" --columns loss,accuracy,val_loss,val_accuracy | cut -d, -f2-
}
expect_status 0 "train plain" train plain 2
# -- one process waits for no other: comm_wait is recorded, 0, after input_stall
expect_eq "$(sqlite3 runs.db "SELECT count(*) || ' ' || sum(comm_wait = 0) FROM epochs WHERE run = 'plain'" 2>&1)" \
  "2 2" "one process records comm_wait 0 for every epoch"
expect_eq "$("$convkit" curves export --runs runs.db --run plain | head -1)" \
  "run,epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_s,input_stall,comm_wait" \
  "export's columns end in input_stall,comm_wait"

# -- a checkpoint meets a catalog of other classes: refused, both named
expect_status 2 "evaluate on a catalog of other classes" "$convkit" evaluate plain.best.ckpt \
  --data catsdogs.db --split validation
expect_output "catsdogs.db: classes cat, dog; plain.best.ckpt was trained on classes alien, predator" \
  "names both class lists"
expect_status 2 "resume on a catalog of other classes" "$convkit" train --data catsdogs.db \
  --model small.spec --name plain --epochs 2 --batch 16 --seed 5 --threads 1 --workers 1 --runs runs.db -q --resume
expect_output "catsdogs.db: classes cat, dog; run plain was trained on classes alien, predator \(avp.db\)" \
  "resume: names both lists"

# -- an unfinished catalog (prepare-dataset killed) is named as such
fm=/usr/share/datasets/fashion-mnist
if [ -f $fm/t10k-images-idx3-ubyte.gz ]; then
  "$convkit" prepare-dataset $fm/t10k-images-idx3-ubyte.gz -o unfinished.db -q --threads 1 > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 2000); do
    n=$(sqlite3 unfinished.db "SELECT count(*) FROM samples" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 500 ] && break
    sleep 0.02
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  [ "$(sqlite3 unfinished.db "SELECT value FROM meta WHERE key = 'finished'")" != 1 ] &&
    ok "prepare killed mid-way" || fail "prepare finished before the kill: test proves nothing"
  expect_status 2 "train on an unfinished catalog" "$convkit" train --data unfinished.db --model mnist \
    --name u --runs u.db --epochs 1 -q
  expect_output "unfinished.db: unfinished catalog .* run the same command again: convkit prepare-dataset $fm/t10k-images-idx3-ubyte.gz -o unfinished.db" \
    "train: says it is unfinished and how to finish it"
  expect_status 2 "evaluate on an unfinished catalog" "$convkit" evaluate plain.best.ckpt --data unfinished.db
  expect_output "unfinished catalog" "evaluate: says it is unfinished"
else
  echo "note: dataset-fashion-mnist not installed, unfinished catalog skipped"
fi

# -- a head trained on stored features, given images
cat > base.spec <<'SPEC'
Input(shape=(32, 32, 3))
Conv2D(16, (3, 3), activation="relu", name="c1")
MaxPooling2D((2, 2))
SPEC
cat > head.spec <<'SPEC'
Input(shape=(15, 15, 16))
Flatten()
Dense(1, activation="sigmoid")
SPEC
"$convkit" export-weights --model base.spec --seed 1 -o base.h5 > /dev/null &&
  "$convkit" extract-features --model base.spec --weights base.h5 --data avp.db -o features.db -q > /dev/null &&
  "$convkit" train --features features.db --model head.spec --name head --epochs 1 --batch 16 \
    --threads 1 --runs runs.db -q > /dev/null || fail "train a head on features"
expect_status 2 "evaluate a features head on images" "$convkit" evaluate head.best.ckpt --data avp.db
expect_output "head.best.ckpt: takes 15x15x16 inputs, the features of a conv base \(it was trained on features.db\), not images: run it on convkit extract-features output" \
  "evaluate: says what the head needs"
expect_status 2 "predict with a features head" "$convkit" predict head.best.ckpt "$avp/alien/0.jpg"
expect_output "features of a conv base" "predict: says what the head needs"

# -- --resume with another option names it, with both values
expect_status 2 "resume with another --lr" train plain 2 --resume --lr 0.01
expect_output "--lr: 0.001 recorded, 0.01 now" "names the option and both values"
expect_status 2 "resume with another --augment and --seed" train plain 2 --resume --augment flip=horizontal --seed 6
expect_output "--augment: none recorded, flip=horizontal.* now" "names --augment with both values"
expect_output "--seed: 5 recorded, 6 now" "and --seed"

# -- a larger --epochs extends a finished run to the curve of a longer one
expect_status 0 "extend plain from 2 to 4 epochs" train plain 4 --resume
expect_eq "$(sqlite3 runs.db "SELECT status || ' ' || json_extract(config, '$.epochs') FROM runs WHERE name = 'plain'")" \
  "done 4" "the extended run is done, configured for 4 epochs"
expect_status 0 "train to 4 from the start" train long 4
expect_eq "$(curve plain)" "$(curve long)" "extended run: the same curve as one trained to 4, bit for bit"
expect_status 2 "resume with fewer epochs than done" train plain 3 --resume
expect_output "--epochs 3: run plain has 4 epochs done" "fewer epochs than done: refused"
expect_status 0 "early stopping with patience 1" train early 20 --early-stopping patience=1
done_epochs=$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'early'")
[ "$done_epochs" -lt 20 ] && ok "stopped early at epoch $done_epochs" || fail "did not stop early: test proves nothing"
expect_status 2 "extend a run stopped early" train early 30 --early-stopping patience=1 --resume
expect_output "run early stopped early at epoch $done_epochs of 20" "says it stopped early and why it is not extended"
expect_status 0 "resume a run stopped early, same epochs" train early 20 --early-stopping patience=1 --resume
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM epochs WHERE run = 'early'")" "$done_epochs" \
  "a run stopped early stays stopped"

# -- a name is reused only on purpose; runs are deleted with their checkpoints
expect_status 2 "train with a recorded name" train plain 2
expect_output "run plain is already recorded in runs.db; to continue or extend it, .*--resume.*convkit curves delete --runs runs.db plain" \
  "names --resume and curves delete"
expect_status 2 "delete a name not recorded" "$convkit" curves delete --runs runs.db long nosuch
expect_output "run nosuch: no such run" "names the unknown run"
expect_eq "$(sqlite3 runs.db "SELECT count(*) FROM runs WHERE name = 'long'")" "1" "nothing deleted"
"$convkit" evaluate long.best.ckpt --data avp.db --runs runs.db --name long > /dev/null
expect_status 0 "delete a run" "$convkit" curves delete --runs runs.db long
expect_output "deleted run long: 4 epochs, 1 evaluation, ./long.last.ckpt, ./long.best.ckpt" "says what it removed"
expect_eq "$(sqlite3 runs.db "SELECT (SELECT count(*) FROM runs WHERE name = 'long') + (SELECT count(*) FROM epochs WHERE run = 'long') + (SELECT count(*) FROM evaluations WHERE run = 'long')")" \
  "0" "its rows are gone"
expect_eq "$(ls long.*.ckpt 2>/dev/null)" "" "its checkpoints are gone"
expect_status 0 "the name is free again" train long 1
cp plain.last.ckpt stray.last.ckpt
expect_status 2 "a checkpoint no run owns is not overwritten" train stray 1
expect_output "runs.db holds no run stray, but ./stray.last.ckpt exists" "names the checkpoint"

# -- evaluations are recorded with their catalog and split, and listed so
expect_status 0 "evaluate on the run's test split" "$convkit" evaluate plain.best.ckpt --data avp.db \
  --split test --runs runs.db --name plain
own=$(sed -n 's/.*accuracy \([0-9.]*\)$/\1/p' "$work/out" | head -1)
expect_status 0 "evaluate on another catalog's test split" "$convkit" evaluate plain.best.ckpt \
  --data other.db --split test --runs runs.db --name plain
other=$(sed -n 's/.*accuracy \([0-9.]*\)$/\1/p' "$work/out" | head -1)
expect_status 0 "evaluate on the validation split" "$convkit" evaluate plain.best.ckpt --data avp.db \
  --split validation --runs runs.db --name plain
val=$(sed -n 's/.*accuracy \([0-9.]*\)$/\1/p' "$work/out" | head -1)
expect_eq "$(sqlite3 runs.db "SELECT group_concat(split || ' ' || dataset || ' ' || (dataset_hash = (SELECT dataset_hash FROM runs WHERE name = 'plain')), ', ') FROM evaluations WHERE run = 'plain'")" \
  "test avp.db 1, test other.db 0, validation avp.db 1" "each evaluation records its catalog and split"
expect_status 0 "curves list" "$convkit" curves list --runs runs.db --run plain
expect_output "^plain .* $own +test $other \(other.db\), validation $val$" \
  "list: the run's own test accuracy, the validation one, the other catalog's named"
expect_status 0 "curves list --json" "$convkit" curves list --runs runs.db --run plain --json
expect_eq "$(python3 -c 'import json,sys; r = json.load(sys.stdin)[0]; print(round(r["test_accuracy"], 4) == float(sys.argv[1]), [(e["split"], e["dataset"], e["own_dataset"]) for e in r["evaluations"]])' "$own" < "$work/out")" \
  "True [('test', 'avp.db', True), ('test', 'other.db', False), ('validation', 'avp.db', True)]" \
  "list --json: every evaluation with its catalog"
expect_status 2 "a checkpoint of another run is not recorded for this one" "$convkit" evaluate \
  early.best.ckpt --data avp.db --runs runs.db --name plain
expect_output "early.best.ckpt: not a checkpoint of run plain in runs.db \(patience 0 there, 1 in the checkpoint\)" \
  "names the difference"

# -- predict: every file, each bad one reported, a directory, --json
mkdir -p pics/sub
cp "$avp/alien/0.jpg" pics/a.jpg && cp "$avp/predator/0.jpg" pics/c.JPG && cp "$avp/alien/1.jpg" pics/sub/x.jpg
echo "not an image" > pics/b.jpg
echo "notes" > pics/notes.txt
expect_status 1 "predict: a bad file among good ones" "$convkit" predict plain.best.ckpt missing.jpg pics "$avp/predator/1.jpg"
expect_eq "$(grep -cE "^[^ ]+	(alien|predator)	0\.[0-9]{4}$" "$work/out")" "3" "every good file predicted"
expect_output "^pics/a\.jpg	" "a directory's images"
expect_output "^$avp/predator/1\.jpg	" "the files after the bad ones too"
expect_output "missing\.jpg: open: No such file" "the missing file reported with the reason"
expect_output "pics/b\.jpg: decode" "the bad image reported with the reason"
expect_output "2 of 5 files could not be predicted" "the failures counted"
expect_eq "$(grep -c "notes.txt\|sub/x.jpg" "$work/out")" "0" "a directory: images only, not recursive"
mkdir -p empty
expect_status 1 "predict: a directory without images" "$convkit" predict plain.best.ckpt empty pics/a.jpg
expect_output "empty: no image files in it" "the empty directory reported"
expect_output "^pics/a\.jpg	" "and the file after it predicted"
"$convkit" predict plain.best.ckpt --json pics > pred.json 2> pred.err
expect_eq "$?" "1" "predict --json: exit 1 with a bad file"
expect_eq "$(python3 -c 'import json,sys; d = json.load(sys.stdin); print([(e["file"], "error" in e, round(sum(e.get("probabilities", {"x": 1}).values()), 4)) for e in d])' < pred.json)" \
  "[('pics/a.jpg', False, 1.0), ('pics/b.jpg', True, 1), ('pics/c.JPG', False, 1.0)]" \
  "predict --json: one JSON array, per file its classes' probabilities or its error"
finish
