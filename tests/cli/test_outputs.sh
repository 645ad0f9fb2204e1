#!/usr/bin/env bash
# End-to-end: no output ever replaces an input. Every command that writes
# refuses (exit 2, naming both paths) an output that is the same file as one
# of its inputs, by another name or a link too, or that lies inside an
# input folder, and leaves the input as it was; an output whose extension
# contradicts its format is refused.
#   test_outputs.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

fhash() { sha256sum "$1" | cut -c1-16; }
# refused NAME FILE COMMAND...: exit 2, both paths named, FILE unchanged.
refused() {
  local name=$1 file=$2; shift 2
  local before; before=$(fhash "$file")
  expect_status 2 "$name: refused" "$@"
  expect_output "is the same file as the input" "$name: says why"
  expect_eq "$(fhash "$file")" "$before" "$name: input unchanged"
}

# A tiny catalog of real photos, a model trained on it, its runs.db and
# checkpoints.
mkdir -p src/a src/b
if need_shared alien-vs-predator/train; then
  avp=$shared/alien-vs-predator/train
  cp "$avp"/alien/1[0-5].jpg src/a/ 2>/dev/null
  cp "$avp"/predator/1[0-5].jpg src/b/ 2>/dev/null
  "$convkit" prepare-dataset src -o d.db --split train=0.5,validation=0.5 -q > /dev/null
  mkdir -p r
  "$convkit" train --data d.db --model catsdogs-1st --size 64 --name r --epochs 1 --batch 4 \
    --runs r/runs.db -q > /dev/null 2>&1
  [ -f r/runs.db ] && ok "fixture: a run" || fail "fixture: a run"

  refused "prepare-dataset onto its source" src/a/10.jpg "$convkit" prepare-dataset src/a/10.jpg -o src/a/10.jpg
  refused "curves export onto runs.db" r/runs.db "$convkit" curves export --runs r/runs.db -o r/runs.db
  ln -s runs.db r/link.db
  refused "curves export onto a link to runs.db" r/runs.db "$convkit" curves export --runs r/runs.db -o r/link.db
  refused "curves plot onto runs.db" r/runs.db "$convkit" curves plot --runs r/runs.db -o r/runs.db
  refused "export-weights onto its checkpoint" r/r.last.ckpt "$convkit" export-weights r/r.last.ckpt -o r/r.last.ckpt
  cp src/a/10.jpg pred.jpg
  refused "filter onto its input" pred.jpg "$convkit" filter sobel pred.jpg -o pred.jpg
  refused "filter onto its input by another name" pred.jpg "$convkit" filter sobel ./pred.jpg -o "$work/pred.jpg"
  refused "augment preview onto its file" pred.jpg "$convkit" augment preview --file pred.jpg --policy chollet-2nd -o pred.jpg
  refused "augment preview onto its catalog" d.db "$convkit" augment preview d.db --sample 1 --policy chollet-2nd -o d.db
  refused "train writing runs.db over its catalog" d.db "$convkit" train --data d.db --model catsdogs-1st --size 64 --name s --epochs 1 --runs d.db
  refused "evaluate recording into its catalog" d.db "$convkit" evaluate r/r.best.ckpt --data d.db --split validation --runs d.db --name r

  # A catalog inside the folder it reads would be read as input on a rerun.
  expect_status 2 "prepare-dataset into its source folder" "$convkit" prepare-dataset src -o src/b/in.db -q
  expect_output "src/b/in.db is inside the input folder src" "names the output and the folder"
  expect_eq "$(ls src/b | grep -c db)" "0" "nothing written in the source folder"
  expect_status 2 "the same by another name" "$convkit" prepare-dataset "$PWD/src" -o src/../src/x.db -q
  expect_status 0 "beside the source folder" "$convkit" prepare-dataset src -o beside.db -q

  # Extensions that contradict the format.
  expect_status 2 "curves export -o x.png" "$convkit" curves export --runs r/runs.db -o x.png
  expect_output "x.png: a CSV file ends in|x.png: a curves file ends in" "names the path and the format"
  expect_eq "$(ls x.png 2>/dev/null)" "" "nothing written to x.png"
  expect_status 2 "curves export --format json -o x.csv" "$convkit" curves export --runs r/runs.db --format json -o x.csv
  expect_status 0 "curves export -o curves.json" "$convkit" curves export --runs r/runs.db -o curves.json
  expect_status 0 "curves export -o curves.csv" "$convkit" curves export --runs r/runs.db -o curves.csv
  expect_status 2 "export-weights -o w.ckpt" "$convkit" export-weights r/r.last.ckpt -o w.ckpt
  expect_output "w.ckpt: a Keras weights file ends in .h5,.hdf5" "names the path and the format"
  expect_status 0 "export-weights -o w.h5" "$convkit" export-weights r/r.last.ckpt -o w.h5
fi
finish
