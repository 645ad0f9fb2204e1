#!/usr/bin/env bash
# End-to-end: validation is never silently absent. prepare-dataset warns
# when a split it was asked for came out empty, when nothing is held out,
# and when no class was found; fractions keep a publisher's test split
# (unless --pool-test); train without validation says so, picks no best
# checkpoint on the training loss, and refuses early stopping.
#   test_splits.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"
fm=/usr/share/datasets/fashion-mnist
avp=alien-vs-predator/train

count() { # DB SPLIT: its ok samples
  sqlite3 "$1" "SELECT count(*) FROM samples WHERE status = 'ok' AND split = '$2'"
}

if need_shared "$avp"; then
  expect_status 0 "source split on class folders" "$convkit" prepare-dataset -q "$shared/$avp" -o a1.db
  expect_output "warning: a1.db: the source has no split of its own, so all 694 labelled samples are in 'train'" \
    "source split: says nothing is held out"
  expect_status 0 "chollet on class folders" "$convkit" prepare-dataset -q "$shared/$avp" -o a2.db --split chollet
  expect_output "warning: a2.db: --split chollet asked for a 'validation' split, and it is empty" \
    "chollet without Kaggle numbers: validation empty"
  expect_output "asked for a 'test' split, and it is empty" "chollet without Kaggle numbers: test empty"
  expect_status 0 "kaggle layout on class folders" "$convkit" prepare-dataset -q "$shared/$avp" -o a3.db --layout kaggle
  expect_output "warning: a3.db: no kept sample has a class \(694 unlabeled\)" "kaggle on folders: no class"
  expect_status 0 "fractions on class folders" "$convkit" prepare-dataset -q "$shared/$avp" -o a4.db \
    --split train=0.8,validation=0.2
  if grep -q warning "$work/out"; then fail "fractions: no warning" "$(cat "$work/out")"; else ok "fractions: no warning"; fi
  expect_status 0 "rerun of a finished catalog" "$convkit" prepare-dataset -q "$shared/$avp" -o a2.db --split chollet
  expect_output "asked for a 'validation' split, and it is empty" "the warning again on a rerun"
fi

if [ -e "$fm/t10k-images-idx3-ubyte.gz" ]; then
  expect_status 0 "fractions over a publisher's train and test" "$convkit" prepare-dataset -q \
    "$fm/train-images-idx3-ubyte.gz" "$fm/t10k-images-idx3-ubyte.gz" -o f.db --split train=0.9,validation=0.1
  expect_eq "$(count f.db train) $(count f.db validation) $(count f.db test)" "54000 6000 10000" \
    "the publisher's test split stays whole and apart"
  expect_eq "$(sqlite3 f.db "SELECT count(*) FROM samples s JOIN sources o ON o.idx = s.source_idx
                             WHERE s.split = 'test' AND o.path NOT LIKE '%t10k%'")" "0" \
    "the test split holds only t10k"
  expect_status 0 "--pool-test" "$convkit" prepare-dataset -q \
    "$fm/train-images-idx3-ubyte.gz" "$fm/t10k-images-idx3-ubyte.gz" -o p.db --split train=0.9,validation=0.1 --pool-test
  expect_eq "$(count p.db train) $(count p.db validation) $(count p.db test)" "63000 7000 0" \
    "--pool-test shares everything out"

  # Training without validation: a note, no best checkpoint, no early stopping.
  expect_status 0 "prepare train only" "$convkit" prepare-dataset -q "$fm/train-images-idx3-ubyte.gz" \
    -o t.db --limit-per-class 10
  expect_status 0 "train without validation" "$convkit" train --data t.db --model mnist --name nv --epochs 2
  expect_output "note: no validation, so no val_loss, no best checkpoint: t.db has no validation split \(train 100, test 0\)" \
    "says so at the start"
  expect_output "nv: 2 epochs; no validation, so no best epoch" "says so in the summary"
  if grep -q "(best)" "$work/out"; then fail "no epoch called best" "$(cat "$work/out")"; else ok "no epoch called best"; fi
  expect_eq "$(ls nv.* | tr '\n' ' ')" "nv.last.ckpt " "only the last checkpoint"
  expect_status 0 "evaluate on the publisher's test split" "$convkit" evaluate nv.last.ckpt --data f.db --split test
  expect_output "\(test, 10,000 samples\)" "counts with thousands separators, as everywhere"
  expect_status 2 "early stopping without validation" "$convkit" train --data t.db --model mnist --name es \
    --epochs 2 --early-stopping patience=1
  expect_output "early-stopping watches val_loss: t.db has no validation split" "names the option and why"
  expect_status 0 "--val-split none on a catalog with validation" "$convkit" train --data f.db --model mnist \
    --name vn --epochs 1 --val-split none --train-split validation
  expect_output "note: no validation, so no val_loss, no best checkpoint: --val-split none" "names --val-split none"
else
  echo "note: $fm missing (dataset-fashion-mnist), skipped"
fi
finish
