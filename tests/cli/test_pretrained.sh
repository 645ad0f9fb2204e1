#!/usr/bin/env bash
# End-to-end: the pretrained conv base. Keras .h5 weights written and read
# (export-weights, --weights), extract-features and training on features,
# a frozen base that stays frozen, fine-tuning that moves only what it
# unfreezes, scripts/ch8-pretrained.sh twice to the same curves, errors.
# VGG16 at 32x32 with random weights keeps it quick.
#   test_pretrained.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$work"
need_shared alien-vs-predator/train || { finish; exit; }
avp=$shared/alien-vs-predator/train

# features.db's stored features, hashed (config left out: it names files).
fhash() { sqlite3 "$1" "SELECT split, idx, sample_id, label, hex(x) FROM features ORDER BY split, idx" | sha256sum | cut -c1-16; }

expect_status 0 "prepare" "$convkit" prepare-dataset "$avp" --split train=0.7,validation=0.15,test=0.15 \
  --limit-per-class 4 --seed 1 -o d.db -q
expect_status 0 "export-weights of a new vgg16-base" "$convkit" export-weights --model vgg16-base --seed 3 -o base.h5
expect_output "14714688 weights of vgg16-base" "all of the base's weights"
expect_status 0 "extract-features" "$convkit" extract-features --weights base.h5 --data d.db --size 32 -o f.db -q
expect_output "1x1x512 features per sample" "VGG16 at 32x32 gives 1x1x512"
expect_eq "$(sqlite3 f.db "SELECT value FROM meta WHERE key = 'shape'")" "1,1,512" "shape recorded"
expect_eq "$(sqlite3 f.db "SELECT group_concat(split || '=' || n) FROM (SELECT split, count(*) n FROM features GROUP BY split ORDER BY split)")" \
  "$(sqlite3 d.db "SELECT group_concat(split || '=' || n) FROM (SELECT split, count(*) n FROM samples WHERE split IS NOT NULL AND status = 'ok' GROUP BY split ORDER BY split)")" \
  "one feature row per sample of each split"
expect_eq "$(sqlite3 f.db "SELECT DISTINCT length(x) FROM features")" "2048" "512 floats per row"
expect_eq "$(ls f.db.part 2>/dev/null)" "" "no temporary file left"
"$convkit" extract-features --weights base.h5 --data d.db --size 32 -o f2.db -q
expect_eq "$(fhash f2.db)" "$(fhash f.db)" "extraction is deterministic"
expect_status 0 "train on features" "$convkit" train --features f.db --model vgg16-head --name head \
  --epochs 2 --batch 8 --seed 1 -q
expect_status 0 "evaluate on features" "$convkit" evaluate head.best.ckpt --features f.db --split test
expect_output "test, [0-9]+ samples" "evaluated on the test features"

# The frozen base stays as loaded: the weights of the trained model, as
# .h5, make the same features as the original ones.
expect_status 0 "train with a frozen base" "$convkit" train --data d.db --model vgg16-catsdogs --size 32 \
  --weights base.h5 --trainable-from flatten --augment chollet-2nd --name frozen --epochs 1 --batch 8 -q
expect_status 0 "export the trained model" "$convkit" export-weights frozen.last.ckpt -o frozen.h5
"$convkit" extract-features --weights frozen.h5 --data d.db --size 32 -o f3.db -q
expect_eq "$(fhash f3.db)" "$(fhash f.db)" "frozen base: weights unchanged by training"
expect_status 0 "fine-tune block5" "$convkit" train --data d.db --model vgg16-catsdogs --size 32 \
  --weights frozen.h5 --trainable-from block5_conv1 --lr 1e-3 --name fine --epochs 1 --batch 8 -q
"$convkit" export-weights fine.last.ckpt -o fine.h5
"$convkit" extract-features --weights fine.h5 --data d.db --size 32 -o f4.db -q
if [ "$(fhash f4.db)" != "$(fhash f.db)" ]; then ok "fine-tuning moves block5"; else fail "fine-tuning moves block5"; fi
# Only block5 moved: block4's output is the same with either weights.
sed '/block5_conv1/,$d' <(sqlite3 f.db "SELECT json_extract(value, '$.spec') FROM meta WHERE key = 'config'") > upto4.spec
expect_status 0 "features up to block4 (spec file)" "$convkit" extract-features --model upto4.spec \
  --weights base.h5 --data d.db --size 32 -o g1.db -q
"$convkit" extract-features --model upto4.spec --weights fine.h5 --data d.db --size 32 -o g2.db -q
expect_eq "$(fhash g2.db)" "$(fhash g1.db)" "fine-tuning leaves block1-4 as they were"
expect_status 0 "summary of the fine-tuned run's model" "$convkit" summary vgg16-catsdogs
expect_output "Total params: 17,992,001" "vgg16-catsdogs parameters"
expect_status 0 "summary of the fine-tuned model" "$convkit" summary --trainable-from block5_conv1 vgg16-catsdogs
expect_output "Trainable params: 10,356,737" "block5 and the head train (Keras: 10,356,737)"
expect_output "Non-trainable params: 7,635,264" "blocks 1-4 frozen"
expect_status 0 "summary at 224x224" "$convkit" summary --size 224 vgg16-base
expect_output "block5_pool \(MaxPooling2D\) +\(None, 7, 7, 512\)" "7x7x512 at 224x224"

# Errors name the file and the reason.
expect_status 1 "missing weights file" "$convkit" extract-features --weights nope.h5 --data d.db -o x.db
expect_output "nope.h5" "names the missing file"
"$convkit" export-weights --model mnist -o mnist.h5 >/dev/null
expect_status 1 "weights of another model" "$convkit" extract-features --weights mnist.h5 --data d.db --size 32 -o x.db
expect_output "mnist.h5" "names the weights file"
echo "not hdf5" > junk.h5
expect_status 1 "not an HDF5 file" "$convkit" train --data d.db --model vgg16-catsdogs --size 32 --weights junk.h5 --name j -q
expect_output "junk.h5" "names the bad file"
expect_status 2 "unknown layer to train from" "$convkit" train --data d.db --model vgg16-catsdogs --size 32 \
  --trainable-from block9_conv1 --name t -q
expect_output "block9_conv1.*no such layer" "names the layer"
expect_status 2 "features with augmentation" "$convkit" train --features f.db --model vgg16-head --augment chollet-2nd --name a
expect_status 1 "not a features.db" "$convkit" train --features d.db --model vgg16-head --name b -q
expect_output "d.db: not a features.db" "names the file"
expect_eq "$(ls x.db 2>/dev/null)" "" "failed extractions leave no output"

# The experiment script, twice: the same curves.
for i in 1 2; do
  CONVKIT=$convkit bash "$repo/scripts/ch8-pretrained.sh" --size 32 --limit-per-class 4 \
    --epochs-features 2 --epochs-augmented 1 --epochs-fine 1 --out "run$i" base.h5 "$avp" > "script$i.log" 2>&1
  expect_eq "$?" "0" "ch8-pretrained.sh run $i"
done
expect_eq "$(cat run1/curves.csv | sha256sum)" "$(cat run2/curves.csv | sha256sum)" "ch8-pretrained.sh: identical curves"
expect_eq "$(wc -l < run1/curves.csv)" "5" "three runs' epochs (2 + 1 + 1) and a header"
expect_eq "$(wc -l < run1/test.txt)" "3" "test accuracy of the three runs"
finish
