#!/usr/bin/env bash
# End-to-end: the figures a user shows. A preview grid has no empty cell;
# filter writes the textbook views (a signed Laplacian around mid-grey, a
# Sobel magnitude that reaches white with almost nothing saturated); the
# curves plot's y-axis options name themselves when wrong.
#   test_figures.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

png_size() { # FILE -> "W H" from the IHDR chunk
  od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%d %d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'
}

expect_status 2 "curves plot: bad --ylim-loss" "$convkit" curves plot --runs none.db --ylim-loss 2,1 -o c.png
expect_output "--ylim-loss" "the bad limits name the option"
expect_status 2 "curves plot: bad --yscale-loss" "$convkit" curves plot --runs none.db --yscale-loss ln -o c.png
expect_output "--yscale-loss" "the bad scale names the option"
expect_status 2 "curves plot: log scale from 0" "$convkit" curves plot --runs none.db --yscale-loss log --ylim-loss 0,2 -o c.png
expect_output "--ylim-loss" "a log scale's bottom at 0 names the option"

if need_shared alien-vs-predator/train; then
  img=$shared/alien-vs-predator/train/alien/3.jpg
  # 10 images make no grid at most twice as wide as high: 4x3, all filled.
  expect_status 0 "preview -n 9" "$convkit" augment preview --file "$img" --policy chollet-2nd -n 9 --cell 100 -o grid.png
  expect_output "11 variants in 4 x 3" "the preview says what it shows"
  iw=$(vipsheader -f width "$img") ih=$(vipsheader -f height "$img")
  if [ "$iw" -ge "$ih" ]; then cw=100 ch=$(( (100 * ih + iw / 2) / iw )); else ch=100 cw=$(( (100 * iw + ih / 2) / ih )); fi
  expect_eq "$(png_size grid.png)" "$((4 * cw + 20)) $((3 * ch + 16))" "a 4x3 grid of ${cw}x${ch} cells"
  vips crop grid.png last.v $((4 + 3 * (cw + 4))) $((4 + 2 * (ch + 4))) "$cw" "$ch"
  [ "$(vips min last.v | cut -d. -f1)" -lt 200 ] && ok "the last cell holds a variant" ||
    fail "the last cell is empty"
  expect_eq "$(vips getpoint grid.png 2 2 | tr -s ' ' | sed 's/ *$//')" "31 119 180" "the original is framed"

  expect_status 0 "filter laplacian" "$convkit" filter laplacian "$img" -o lap.png
  expect_output "view signed" "the Laplacian's default view is signed"
  mean=$(vips avg lap.png)
  awk -v m="$mean" 'BEGIN { exit !(m > 118 && m < 138) }' && ok "signed Laplacian around mid-grey (mean $mean)" ||
    fail "signed Laplacian around mid-grey" "mean $mean"
  expect_status 0 "filter sobel" "$convkit" filter sobel "$img" -o sob.png
  expect_eq "$(vips max sob.png | cut -d. -f1)" "255" "the Sobel magnitude reaches white"
  vips relational_const sob.png sat.v moreeq 255
  sat=$(vips avg sat.v)
  awk -v s="$sat" 'BEGIN { exit !(s / 255 < 0.001) }' && ok "almost no Sobel pixel saturates ($sat/255)" ||
    fail "almost no Sobel pixel saturates" "fraction $(awk -v s="$sat" 'BEGIN { print s / 255 }')"
  expect_status 0 "filter sobel --view abs" "$convkit" filter sobel "$img" --view abs -o abs.png
  expect_status 2 "filter sobel --view signed" "$convkit" filter sobel "$img" --view signed -o x.png
  expect_output "--view" "a view that does not fit names the option"
  expect_status 2 "filter --view bogus" "$convkit" filter sobel-x "$img" --view bogus -o x.png
  expect_output "--view" "an unknown view names the option"
  [ ! -e x.png ] && ok "nothing written on a bad view" || fail "x.png written"
fi
finish
