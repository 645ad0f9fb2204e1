#!/usr/bin/env bash
# End-to-end: the experiment scripts are reproducible. Two runs of
# scripts/ch8-small-data.sh (2 epochs on its default Fashion-MNIST data, 20
# images per class to stay quick under ASan, seed 1, the test's convkit
# through CONVKIT) give byte-identical curves.csv (the columns a seeded run
# reproduces) and results tables, write the experiment's report.html, and
# write nothing beside their --out directories; a folder of the user's
# given as --out is refused, whole.
#   test_scripts.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
scripts=$(cd "$(dirname "$0")/../../scripts" && pwd)
cd "$work"
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "note: /usr/share/datasets/fashion-mnist missing (scripts/setup.sh installs it), skipped"
  finish
  exit
fi

small_data() { # OUT
  CONVKIT=$convkit "$scripts/ch8-small-data.sh" --epochs 2 --per-class 20 --out "$1"
}
expect_status 0 "ch8-small-data: first run" small_data run1
expect_output "outputs in run1/" "ch8-small-data says where its outputs are"
expect_status 0 "ch8-small-data: second run" small_data run2
for f in report.html curves.png curves-side.svg augmented-samples.png runs.db; do
  [ -s "run1/$f" ] && ok "run1/$f written" || fail "run1/$f missing"
done
grep -q "<h1>Small training set, without and with augmentation</h1>" run1/report.html &&
  [ "$(grep -o "on the <b>test</b> split" run1/report.html | wc -l)" = 2 ] &&
  ok "report.html: the experiment, each arm's kept checkpoint on the test split" ||
  fail "report.html is not the experiment's"
expect_eq "$(head -1 run1/curves.csv)" "run,epoch,loss,accuracy,val_loss,val_accuracy" \
  "curves.csv holds the deterministic columns"
expect_eq "$(($(wc -l < run1/curves.csv) - 1))" "4" "curves.csv: 2 arms x 2 epochs"
cmp -s run1/curves.csv run2/curves.csv && ok "two runs, byte-identical curves.csv" ||
  fail "curves.csv differs between runs" "$(diff run1/curves.csv run2/curves.csv | head -5)"
cmp -s run1/results.md run2/results.md && ok "two runs, identical results table" ||
  fail "results.md differs between runs"
expect_eq "$(awk -F' [|] ' '/^[|] (plain|augmented) /{ print $4 }' run1/results.md | sort -u)" "—" \
  "one seed: no sd in the results table"
expect_eq "$(ls | tr '\n' ' ')" "out run1 run2 " "nothing written beside --out"

# A careless --out: a folder of the user's is refused and left whole; one a
# script wrote before is taken again, unless it holds an input.
mkdir mine && echo keep > mine/data.db
expect_status 2 "ch8-small-data: --out a folder of the user's" small_data mine
expect_output "mine: holds files no convkit script wrote" "the refusal says why"
expect_eq "$(ls -A mine | tr '\n' ' ')$(cat mine/data.db)" "data.db keep" "the user's folder is left whole"
echo weights > run1/vgg16.h5
expect_status 2 "ch8-pretrained: the weights inside --out" \
  env CONVKIT="$convkit" "$scripts/ch8-pretrained.sh" --out run1 run1/vgg16.h5 mine
expect_output "run1/vgg16.h5: inside the output folder run1" "the refusal names the input"
[ -s run1/runs.db ] && [ "$(cat run1/vgg16.h5)" = weights ] &&
  ok "ch8-pretrained: refused before it replaced anything" || fail "run1 lost files"
finish
