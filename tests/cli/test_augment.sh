#!/usr/bin/env bash
# End-to-end: convkit augment preview/apply and convkit filter on real photos.
#   test_augment.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

png_size() { # FILE -> "WxH" from the IHDR chunk
  od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'
}

expect_status 0 "augment --help" "$convkit" augment --help
expect_output "chollet-2nd" "help lists the presets"
expect_status 2 "augment without a verb" "$convkit" augment
expect_status 0 "filter --help" "$convkit" filter --help
expect_output "sobel" "filter help lists the kernels"

if need_shared alien-vs-predator/train; then
  img=$shared/alien-vs-predator/train/alien/3.jpg
  for p in chollet-1st chollet-2nd "flip=horizontal,rotate=0.1,zoom=0.2,fill=reflect"; do
    expect_status 0 "preview $p" "$convkit" augment preview --file "$img" --policy "$p" -n 8 -o "grid.png"
    [ "$(head -c 8 grid.png | od -An -c | tr -d ' ')" = "211PNG\r\n032\n" ] && ok "preview $p is a PNG" || fail "preview $p is a PNG"
  done
  a=$(sha256sum < grid.png)
  "$convkit" augment preview --file "$img" --policy "flip=horizontal,rotate=0.1,zoom=0.2,fill=reflect" -n 8 -o grid2.png > /dev/null
  expect_eq "$(sha256sum < grid2.png)" "$a" "same seed, same grid"
  "$convkit" augment preview --file "$img" --policy "flip=horizontal,rotate=0.1,zoom=0.2,fill=reflect" -n 8 --seed 5 -o grid3.png > /dev/null
  [ "$(sha256sum < grid3.png)" != "$a" ] && ok "another seed, another grid" || fail "another seed, another grid"

  expect_status 2 "bad policy" "$convkit" augment preview --file "$img" --policy "rotate=7" -o bad.png
  expect_output "rotate" "bad policy names the key"
  [ ! -e bad.png ] && ok "nothing written on a bad policy" || fail "bad.png written"
  expect_status 1 "missing image" "$convkit" augment preview --file "$work/none.jpg" --policy chollet-2nd -o none.png
  expect_output "none.jpg" "missing image named"

  mkdir copies
  expect_status 0 "apply" "$convkit" augment apply --policy chollet-1st --copies 3 "$img" \
    "$shared/alien-vs-predator/train/predator/4.jpg" -o copies
  expect_eq "$(ls copies | wc -l)" "6" "3 copies of 2 images"
  mkdir copies2
  expect_status 1 "apply with a missing input" "$convkit" augment apply --policy chollet-1st "$img" "$work/none.jpg" -o copies2
  expect_eq "$(ls -A copies2 | wc -l)" "0" "nothing written when one input is missing"

  for f in sobel prewitt laplacian sharpen; do
    expect_status 0 "filter $f" "$convkit" filter "$f" "$img" -o "$f.png"
  done
  expect_eq "$(png_size sobel.png)" "$(vipsheader -f width "$img" 2>/dev/null || echo x)x$(vipsheader -f height "$img" 2>/dev/null || echo x)" "filter keeps the size"
  expect_status 2 "unknown filter" "$convkit" filter blur "$img" -o blur.png
fi
finish
