#!/usr/bin/env bash
# End-to-end: what a trained convnet looks at. A model trained for one
# epoch on real HODA digits (grey) and one on alien-vs-predator photos
# (colour, a Rescaling model taking 0..255) each go through activations,
# filters and heatmap: the figures exist, have the sizes their layout
# gives, are not blank, and say what they show; bad input is refused with
# the file and the reason, and nothing but -o is written.
#   test_viz.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

# png_ok NAME FILE W MIN_H: a PNG W pixels wide (the widest grid, 16 pixels
# of margin each side) and at least MIN_H high, not one flat colour.
png_ok() {
  local w h sd
  w=$(vipsheader -f width "$2" 2>/dev/null) h=$(vipsheader -f height "$2" 2>/dev/null)
  sd=$(vips deviate "$2" 2>/dev/null)
  if [ "$w" = "$3" ] && [ "$h" -ge "$4" ] && awk -v s="$sd" 'BEGIN { exit !(s > 20) }'; then
    ok "$1 (${w}x${h}, sd $sd)"
  else
    fail "$1" "size '${w}x${h}', sd '$sd', want $3 wide, at least $4 high and sd > 20"
  fi
}
# band_means FILE: "R G B" means of a colour image
band_means() { vips stats "$1" st.v && for b in 1 2 3; do vips getpoint st.v 4 "$b"; done | tr '\n' ' '; }

for c in activations filters heatmap; do
  expect_status 0 "$c --help" "$convkit" "$c" --help
  expect_output "usage: convkit $c" "$c --help shows its usage"
done
expect_status 2 "activations without -o" "$convkit" activations a.ckpt b.png
expect_status 2 "heatmap -o with a bad extension" "$convkit" heatmap a.ckpt b.png -o heat.txt
expect_output "heat.txt" "the bad extension names the file"

if need_shared hoda/RemainingSamples.cdb; then
  "$convkit" prepare-dataset "$shared/hoda/RemainingSamples.cdb" --split train=0.9,validation=0.05,test=0.05 \
    --seed 1 --limit-per-class 100 -o hoda.db -q > /dev/null || fail "prepare HODA"
  expect_status 0 "HODA: one epoch of mnist-3conv" "$convkit" train --data hoda.db --model mnist-3conv \
    --resize fit --name hoda --epochs 1 --batch 32 --seed 1 --threads 1 --workers 1 --runs runs.db -q
  # a test digit 5 as a PNG file
  read -r id w h < <(sqlite3 -separator ' ' hoda.db "SELECT b.id, b.width, b.height FROM blobs b
    JOIN samples s ON s.id = b.id WHERE s.split = 'test' AND s.label = 5 AND b.width > 16 LIMIT 1")
  sqlite3 hoda.db "SELECT writefile('digit.raw', data) FROM blobs WHERE id = $id" > /dev/null
  vips rawload digit.raw digit.v "$w" "$h" 1 && vips copy digit.v digit.png || fail "digit.png"
  before=$(ls | sort)

  expect_status 0 "activations of a digit" "$convkit" activations hoda.best.ckpt digit.png -o act.png
  # 32 + 32 + 64 + 64 + 64 channels of conv2d ... conv2d_2
  expect_output "act.png: 256 channels of 5 layers" "activations says what it drew"
  # 16 maps of 26x26 enlarged 3 times, 3 pixels apart
  png_ok "activations: a tall grid" act.png 1325 1200
  expect_status 0 "heatmap of a digit" "$convkit" heatmap hoda.best.ckpt digit.png -o heat.png
  expect_output "digit.png: predicted [0-9] \(probability 0\.[0-9]{4}\)" "heatmap prints the class and probability"
  expect_output "Grad-CAM of [0-9] .* on conv2d_2 \(3x3x64\)" "heatmap names the layer it explains"
  # the image, the map and both, 384x384 (letterboxed as in training), 4 apart
  png_ok "heatmap: image, map and overlay side by side" heat.png 1192 450
  expect_status 0 "heatmap --class 3" "$convkit" heatmap hoda.best.ckpt digit.png --class 3 -o heat3.png
  expect_output "Grad-CAM of 3 " "the named class is explained"
  expect_status 0 "filters of a digit model" "$convkit" filters hoda.best.ckpt -n 4 --seed 7 -o filters.png
  expect_output "conv2d: 32 kernels" "the first layer's kernels"
  expect_output "conv2d_2: 4 patterns, mean output" "deeper layers' patterns"
  # 16 kernels 3x3 enlarged 16 times, 6 apart
  png_ok "filters: kernels and patterns" filters.png 890 400
  expect_status 0 "filters again, the same seed" "$convkit" filters hoda.best.ckpt -n 4 --seed 7 -o again.png
  cmp -s filters.png again.png && ok "the same seed draws the same figure" || fail "filters differ for one seed"
  expect_status 0 "filters, another seed" "$convkit" filters hoda.best.ckpt -n 4 --seed 8 -o other.png
  [ -s other.png ] && ! cmp -s filters.png other.png && ok "another seed, other patterns" ||
    fail "another seed drew the same patterns"
  expect_status 0 "filters --layer conv2d_1" "$convkit" filters hoda.best.ckpt --layer conv2d_1 -n 2 -o one.png
  grep -q "^conv2d_1: 2 patterns" "$work/out" && ! grep -qE "^conv2d(_2)?:" "$work/out" &&
    ok "--layer draws that layer only" || fail "--layer drew other layers"
  expect_status 0 "a Persian output name" "$convkit" heatmap hoda.best.ckpt digit.png -o "نقشه-گرما.png"
  png_ok "the Persian-named figure" "نقشه-گرما.png" 1192 450
  expect_status 0 "a Chinese output name" "$convkit" activations hoda.best.ckpt digit.png -o "激活图.png"
  [ -s "激活图.png" ] && ok "the Chinese-named figure exists" || fail "激活图.png missing"

  # Errors: the file and the reason, a non-zero status, nothing written.
  sum=$(sha256sum digit.png)
  expect_status 2 "-o is the input image" "$convkit" heatmap hoda.best.ckpt digit.png -o digit.png
  expect_output "same file as the input" "the clash is named"
  expect_eq "$(sha256sum digit.png)" "$sum" "the input image is untouched"
  expect_status 1 "a missing checkpoint" "$convkit" activations none.ckpt digit.png -o x.png
  expect_output "none.ckpt: open: No such file" "the missing checkpoint is named"
  echo "not an image" > bad.jpg
  expect_status 1 "an unreadable image" "$convkit" heatmap hoda.best.ckpt bad.jpg -o x.png
  expect_output "bad.jpg: decode" "the unreadable image is named"
  expect_status 1 "a missing image" "$convkit" activations hoda.best.ckpt none.png -o x.png
  expect_output "none.png: open" "the missing image is named"
  expect_status 2 "an unknown layer" "$convkit" filters hoda.best.ckpt --layer conv2d_9 -o x.png
  expect_output "--layer conv2d_9: no such layer \(Conv2D layers: conv2d, conv2d_1, conv2d_2\)" \
    "the unknown layer is named, with the model's"
  expect_status 2 "a pooling layer" "$convkit" filters hoda.best.ckpt --layer max_pooling2d -o x.png
  expect_output "MaxPooling2D layer has no filters" "a layer without filters says so"
  expect_status 2 "an unknown class" "$convkit" heatmap hoda.best.ckpt digit.png --class ten -o x.png
  expect_output "--class ten: not one of its classes \(0, 1, 2" "the unknown class is named, with the model's"
  printf 'Input(shape=(28, 28, 1))\nFlatten()\nDense(10, activation="softmax")\n' > dense.spec
  "$convkit" train --data hoda.db --model dense.spec --resize fit --name dense --epochs 1 --threads 1 \
    --workers 1 --runs runs.db -q > /dev/null || fail "train dense"
  for c in activations heatmap; do
    expect_status 2 "$c: a model without convolutions" "$convkit" "$c" dense.best.ckpt digit.png -o x.png
    expect_output "dense.best.ckpt: .*no (convolution|Conv2D)" "$c says the model has no convolution"
  done
  expect_status 2 "filters: a model without convolutions" "$convkit" filters dense.best.ckpt -o x.png
  expect_output "dense.best.ckpt: the model has no Conv2D layer" "filters says the model has none"
  [ ! -e x.png ] && ok "nothing written on errors" || fail "x.png written"
  expect_eq "$(ls | sort | grep -v -e '\.png$' -e '^dense' -e '^bad.jpg$' | tr '\n' ' ')" \
    "$(echo "$before" | grep -v '\.png$' | tr '\n' ' ')" "only the figures were added"
fi

need_shared alien-vs-predator/train || { finish; exit; }
avp=$shared/alien-vs-predator/train
"$convkit" prepare-dataset "$avp" --split train=0.8,validation=0.2 --seed 3 --limit-per-class 30 \
  -o avp.db -q > /dev/null || fail "prepare alien-vs-predator"
expect_status 0 "alien-vs-predator: one epoch of catsdogs-2nd" "$convkit" train --data avp.db \
  --model catsdogs-2nd --name avp --epochs 1 --batch 16 --seed 1 --threads 2 --workers 1 --runs runs.db -q
img=$avp/predator/4.jpg
expect_status 0 "activations of a photo" "$convkit" activations avp.best.ckpt "$img" -o act-avp.png
# 32 + 32 + 64 + 64 + 128 + 128 + 256 + 256 + 256
expect_output "1,216 channels of 9 layers" "every channel of the nine layers"
# 16 maps of 178x178 shrunk to 96
png_ok "activations of a photo" act-avp.png 1628 5000
expect_status 0 "heatmap of a photo" "$convkit" heatmap avp.best.ckpt "$img" -o heat-avp.png
expect_output "predicted (alien|predator) \(probability" "a class of the photos"
expect_output "on conv2d_4 \(7x7x256\)" "the last convolution explained"
png_ok "heatmap of a photo" heat-avp.png 1192 250
read -r r g b < <(band_means heat-avp.png)
awk -v r="$r" -v g="$g" -v b="$b" 'BEGIN { d = r - g; e = g - b; exit !(d * d + e * e > 4) }' &&
  ok "the heat map is in colour (means $r $g $b)" || fail "the heat map looks grey" "means $r $g $b"
expect_status 0 "heatmap --class alien" "$convkit" heatmap avp.best.ckpt "$img" --class alien -o heat-alien.png
[ -s heat-alien.png ] && ! cmp -s heat-avp.png heat-alien.png && ok "another class, another map" ||
  fail "the two classes drew the same map"
expect_status 0 "filters of a colour model" "$convkit" filters avp.best.ckpt -n 2 --steps 5 -o filters-avp.png
expect_output "conv2d: 32 kernels" "its kernels"
expect_output "conv2d_4: 2 patterns" "its deepest layer's patterns"
png_ok "filters of a colour model" filters-avp.png 890 600
finish
