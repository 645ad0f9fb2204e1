#!/usr/bin/env bash
# End-to-end: every command's bad options are usage errors (exit 2) whose
# message names the option and the rule, in the words --help uses for
# that rule; misspelled commands, options, choices, models and policy
# keys get a "did you mean". No data is needed: options are checked
# before a command opens anything.
#   test_options.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

# refused NAME LINE COMMAND...: exit 2 and LINE is a whole line of the output.
refused() {
  local name=$1 line=$2; shift 2
  expect_status 2 "$name: exit 2" "$@"
  if grep -qFx -- "$line" "$work/out"; then ok "$name: says '$line'"; else fail "$name" "no line '$line' in: $(head -c 400 "$work/out")"; fi
}

# in_help CMD... -- TEXT: the command's --help shows the rule TEXT.
in_help() {
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  "$convkit" "${args[@]}" --help > "$work/help" 2>&1
  if tr -s ' \n' ' ' < "$work/help" | grep -qF -- "$2"; then ok "${args[*]} --help says '$2'"; else fail "${args[*]} --help lacks '$2'"; fi
}

t="train --data d.db --model mnist --name r"

# ---- train: the rules of the issue's examples, and --help agrees
refused "train --epochs 0" "convkit train: --epochs: want an integer >= 1, got '0'" "$convkit" $t --epochs 0
in_help train -- "--epochs N epochs to train (default 10); an integer >= 1"
refused "train --batch 0" "convkit train: --batch: want an integer from 1 to 65536, got '0'" "$convkit" $t --batch 0
in_help train -- "an integer from 1 to 65536"
refused "train --seed -1" "convkit train: --seed: want an integer >= 0, got '-1'" "$convkit" $t --seed -1
refused "train --threads 0" "convkit train: --threads: want an integer >= 1, got '0'" "$convkit" $t --threads 0
refused "train --lr abc" "convkit train: --lr: want a number > 0, got 'abc'" "$convkit" $t --lr abc
in_help train -- "learning rate (default: Keras's, 0.001; 0.01 for sgd); a number > 0"
refused "train --lr=0" "convkit train: --lr: want a number > 0, got '0'" "$convkit" $t --lr=0
refused "train --momentum 1.5" "convkit train: --momentum: want a number in [0, 1], got '1.5'" "$convkit" $t --momentum 1.5
refused "train --workers 65" "convkit train: --workers: want an integer from 0 to 64, got '65'" "$convkit" $t --workers 65
refused "train --size 0" "convkit train: --size: want an integer from 1 to 8192, got '0'" "$convkit" $t --size 0
refused "train --epochs without a value" "convkit train: --epochs: want a value: an integer >= 1" "$convkit" $t --epochs
refused "train --resume=1" "convkit train: --resume: takes no value, got '1'" "$convkit" $t --resume=1
refused "train --optimizer rmsprp" "convkit train: --optimizer: want one of sgd, rmsprop, adam, rmsprop-tf2, got 'rmsprp'; did you mean rmsprop?" "$convkit" $t --optimizer rmsprp
refused "train --resize squash" "convkit train: --resize: want one of stretch, fit, crop, got 'squash'" "$convkit" $t --resize squash
refused "train --decode exact" "convkit train: --decode: want one of fast, full, got 'exact'" "$convkit" $t --decode exact
refused "train --name a/b" "convkit train: --name: want a name usable in a file name (not empty, no '/', no leading '.'), got 'a/b'" "$convkit" train --data d.db --model mnist --name a/b
refused "train --early-stopping patience=x" "convkit train: --early-stopping: want patience=N with an integer N >= 0, got 'patience=x'" "$convkit" $t --early-stopping patience=x
in_help train -- "patience=N with an integer N >= 0"
refused "train --epoch (misspelt)" "convkit train: --epoch: unknown option; did you mean --epochs?" "$convkit" $t --epoch 3
refused "train -x" "convkit train: -x: unknown option" "$convkit" $t -x
refused "train --data --features" "convkit train: --data and --features exclude each other: give one of them" "$convkit" train --data d.db --features f.db --model mnist --name r
refused "train --features --augment" "convkit train: --features and --augment exclude each other: give one of them" "$convkit" train --features f.db --augment chollet-2nd --model mnist --name r
refused "train without --name" "convkit train: --name is required" "$convkit" train --data d.db --model mnist
refused "train without --data" "convkit train: --data or --features is required" "$convkit" train --model mnist --name r
refused "train --nesterov with adam" "convkit train: --nesterov: Nesterov's momentum is sgd's only, not adam's" "$convkit" $t --optimizer adam --nesterov
refused "train --nesterov with rmsprop" "convkit train: --nesterov: Nesterov's momentum is sgd's only, not rmsprop's" "$convkit" $t --nesterov
refused "train --momentum with adam" "convkit train: --momentum: want --optimizer sgd or rmsprop (adam has none: its moving average is beta_1)" "$convkit" $t --optimizer adam --momentum 0.9

# ---- models: exit 2, the built-ins listed, the near one suggested
builtins="mnist, mnist-3conv, catsdogs-1st, catsdogs-1st-dropout, catsdogs-2nd, catsdogs-2nd-dropout, vgg16-base, vgg16, vgg16-catsdogs, vgg16-head"
refused "train --model resnet50" "convkit train: --model: resnet50: not a built-in model ($builtins) nor a spec file (no such file)" "$convkit" train --data d.db --model resnet50 --name r
refused "train --model mnist3conv" "convkit train: --model: mnist3conv: not a built-in model ($builtins) nor a spec file (no such file); did you mean mnist-3conv?" "$convkit" train --data d.db --model mnist3conv --name r
refused "summary mnist3conv" "convkit: mnist3conv: not a built-in model ($builtins) nor a spec file (no such file); did you mean mnist-3conv?" "$convkit" summary mnist3conv
refused "bench train --model vgg" "convkit bench train: --model: vgg: not a built-in model ($builtins) nor a spec file (no such file); did you mean vgg16?" "$convkit" bench train --model vgg
refused "extract-features --model" "convkit extract-features: --model: nope: not a built-in model ($builtins) nor a spec file (no such file)" "$convkit" extract-features --weights w.h5 --data d.db -o f.db --model nope
refused "export-weights --model" "convkit export-weights: --model: nope: not a built-in model ($builtins) nor a spec file (no such file)" "$convkit" export-weights --model nope -o w.h5

# ---- policies: exit 2 wherever one is given, the rule that is applied
zoom="want F in [0, 1) or LO:HI with -1 < LO <= HI <= 10 (the zoom factor 1+u must stay positive)"
refused "train --augment zoom=1.5" "convkit train: --augment: policy: zoom=1.5: $zoom" "$convkit" $t --augment zoom=1.5
in_help augment -- "F in [0, 1) or LO:HI with -1 < LO <= HI <= 10"
refused "augment preview --policy zoom=1.5" "convkit augment preview: --policy: policy: zoom=1.5: $zoom" "$convkit" augment preview --file x.png --policy zoom=1.5 -o g.png
refused "augment apply --policy" "convkit augment apply: --policy: policy: zoom=1.5: $zoom" "$convkit" augment apply --policy zoom=1.5 a.jpg -o .
refused "bench augment --policy" "convkit bench augment: --policy: policy: zoom=1.5: $zoom" "$convkit" bench augment --policy zoom=1.5 .
refused "bench loader --policy" "convkit bench loader: --policy: policy: zoom=1.5: $zoom" "$convkit" bench loader --policy zoom=1.5 d.db
refused "train --augment zom=0.1" "convkit train: --augment: policy: zom=0.1: unknown key (keys: mode, flip, rotate, zoom, zoom_w, shift, shift_x, shift_y, shear, contrast, brightness, fill, fill_value, interp); did you mean zoom?" "$convkit" $t --augment zom=0.1
refused "train --augment rotate=40" "convkit train: --augment: policy: rotate=40: want F in [0, 1] or LO:HI with -1 <= LO <= HI <= 1 (a fraction of a full turn; degrees need mode=legacy)" "$convkit" $t --augment rotate=40

# ---- augment preview
refused "augment preview -n 0" "convkit augment preview: -n: want an integer from 1 to 100, got '0'" "$convkit" augment preview --file x.png --policy none -n 0 -o g.png
in_help augment preview -- "-n N augmented variants (default 9); an integer from 1 to 100"
refused "augment preview --cell 5" "convkit augment preview: --cell: want an integer from 16 to 2048, got '5'" "$convkit" augment preview --file x.png --policy none --cell 5 -o g.png
refused "augment preview --sample alien/10.jpg" "convkit augment preview: --sample: want an integer >= 0, got 'alien/10.jpg'" "$convkit" augment preview d.db --sample alien/10.jpg --policy none -o g.png
refused "augment preview --file and --sample" "convkit augment preview: --sample and --file exclude each other: give one of them" "$convkit" augment preview --file x.png --sample 3 --policy none -o g.png
refused "augment previw" "convkit augment: 'previw': want 'preview' or 'apply'; did you mean 'preview'?" "$convkit" augment previw
refused "augment apply --copies 0" "convkit augment apply: --copies: want an integer from 1 to 1000, got '0'" "$convkit" augment apply --policy none --copies 0 a.jpg -o .

# ---- the other commands
refused "prepare --threads 0" "convkit prepare-dataset: --threads: want an integer from 1 to 256, got '0'" "$convkit" prepare-dataset x -o a.db --threads 0
refused "prepare --max-entry-mb 0" "convkit prepare-dataset: --max-entry-mb: want a number in (0, 1000000], got '0'" "$convkit" prepare-dataset x -o a.db --max-entry-mb 0
refused "prepare --near-distance 33" "convkit prepare-dataset: --near-distance: want an integer from 0 to 32, got '33'" "$convkit" prepare-dataset x -o a.db --near-distance 33
refused "prepare --layout kagle" "convkit prepare-dataset: --layout: want one of auto, kaggle, fastai, petimages, folders, idx, hoda, got 'kagle'" "$convkit" prepare-dataset x -o a.db --layout kagle
refused "prepare --max-total-mb x" "convkit prepare-dataset: --max-total-mb: want a number in [0, 1000000000000], got 'x'" "$convkit" prepare-dataset x -o a.db --max-total-mb x
refused "prepare --max-entries -1" "convkit prepare-dataset: --max-entries: want an integer >= 0, got '-1'" "$convkit" prepare-dataset x -o a.db --max-entries -1
in_help prepare-dataset -- "--max-entries N refuse a dataset of more than N entries (default 1000000; 0: no limit); an integer >= 0"
refused "prepare --pool-test=1" "convkit prepare-dataset: --pool-test: takes no value, got '1'" "$convkit" prepare-dataset x -o a.db --pool-test=1
refused "prepare without -o" "convkit prepare-dataset: --output is required" "$convkit" prepare-dataset x
refused "info --jsn" "convkit info: --jsn: unknown option; did you mean --json?" "$convkit" info d.db --jsn
refused "summary --size 0" "convkit summary: --size: want an integer from 1 to 8192, got '0'" "$convkit" summary --size 0 mnist
refused "evaluate --batch 0" "convkit evaluate: --batch: want an integer from 1 to 65536, got '0'" "$convkit" evaluate c.ckpt --data d.db --batch 0
refused "evaluate --data --features" "convkit evaluate: --data and --features exclude each other: give one of them" "$convkit" evaluate c.ckpt --data d.db --features f.db
refused "predict --jsn" "convkit predict: --jsn: unknown option; did you mean --json?" "$convkit" predict c.ckpt x.jpg --jsn
refused "predict --json=1" "convkit predict: --json: takes no value, got '1'" "$convkit" predict c.ckpt x.jpg --json=1
refused "extract-features --batch 0" "convkit extract-features: --batch: want an integer from 1 to 4096, got '0'" "$convkit" extract-features --weights w.h5 --data d.db -o f.db --batch 0
refused "export-weights --seed x" "convkit export-weights: --seed: want an integer >= 0, got 'x'" "$convkit" export-weights --model mnist --seed x -o w.h5
refused "curves plot --size 10" "convkit curves plot: --size: want WIDTHxHEIGHT, both positive integers, got '10'" "$convkit" curves plot --runs r.db --size 10 -o c.png
refused "curves export --format xml" "convkit curves export: --format: want csv or json, got 'xml'" "$convkit" curves export --runs r.db --format xml
refused "curves list --label first" "convkit curves list: --label: names the --run before it, and none came before" "$convkit" curves list --runs r.db --label x
refused "curves plot --ylim-loss x" "convkit curves plot: --ylim-loss: want BOTTOM,TOP (numbers, bottom below top, either may be empty), got 'x'" "$convkit" curves plot --runs r.db --ylim-loss x -o c.png
refused "curves plot --ylim-accuracy 1,0" "convkit curves plot: --ylim-accuracy: want BOTTOM,TOP (numbers, bottom below top, either may be empty), got '1,0'" "$convkit" curves plot --runs r.db --ylim-accuracy 1,0 -o c.png
in_help curves -- "--ylim-loss BOTTOM,TOP plot: the loss panel's y range (default automatic); BOTTOM,TOP (numbers, bottom below top, either may be empty)"
refused "curves plot --yscale-loss ln" "convkit curves plot: --yscale-loss: want linear or log, got 'ln'" "$convkit" curves plot --runs r.db --yscale-loss ln -o c.png
in_help curves -- "linear or log"
refused "curves plot --yscale-loss log --ylim-loss 0,2" "convkit curves plot: --ylim-loss: the bottom must be above 0 with --yscale-loss log" "$convkit" curves plot --runs r.db --yscale-loss log --ylim-loss 0,2 -o c.png
refused "curves plot --best every" "convkit curves plot: --best: want each, val_accuracy, val_loss or none, got 'every'" "$convkit" curves plot --runs r.db --best every -o c.png
in_help curves -- "each, val_accuracy, val_loss or none"
refused "curves delete without a name" "convkit curves delete: want --runs runs.db NAME... (the runs to delete)" "$convkit" curves delete --runs r.db
refused "curves delete without --runs" "convkit curves delete: --runs is required" "$convkit" curves delete r
refused "curves exprt" "convkit curves: 'exprt': want 'export', 'plot', 'list' or 'delete'; did you mean 'export'?" "$convkit" curves exprt
refused "curves without --runs" "convkit curves list: --runs is required" "$convkit" curves list
refused "bench augment --threads 0" "convkit bench augment: --threads: want up to 8 comma-separated integers from 1 to 256, got '0'" "$convkit" bench augment --threads 0 .
refused "bench loader --workers x" "convkit bench loader: --workers: want up to 8 comma-separated integers from 0 to 256, got 'x'" "$convkit" bench loader --workers x d.db
refused "bench trian" "convkit bench: 'trian': want 'augment', 'loader' or 'train'; did you mean 'train'?" "$convkit" bench trian
refused "filter --view foo" "convkit filter: --view: want one of signed, magnitude, abs, got 'foo'" "$convkit" filter sobel x.png --view foo -o y.png
in_help filter -- "--view VIEW how the response becomes grey levels (default: the filter's own); one of signed, magnitude, abs"
refused "filter --view without a value" "convkit filter: --view: want a value: one of signed, magnitude, abs" "$convkit" filter sobel x.png -o y.png --view
refused "filter -o without a value" "convkit filter: --output: want a value (OUT)" "$convkit" filter sobel x.png -o

# ---- commands and help
refused "convkit trian" "convkit: unknown command 'trian'; did you mean 'train'?" "$convkit" trian
refused "convkit help trian" "convkit: unknown command 'trian'; did you mean 'train'?" "$convkit" help trian
expect_status 0 "convkit help train" "$convkit" help train
expect_output "^usage: convkit train --data" "help train prints train's help"
expect_status 0 "convkit help augment preview" "$convkit" help augment preview
expect_output "^usage: convkit augment preview" "help augment preview prints its help"
expect_status 0 "convkit help" "$convkit" help
expect_output "^commands:" "help alone prints the general help"
expect_status 0 "options after positionals" "$convkit" summary mnist --size 32
expect_output "Total params" "summary MODEL --size N runs"

finish
