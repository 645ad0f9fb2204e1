#!/usr/bin/env bash
# End-to-end: convkit report on a small real experiment, checked in a real
# browser. HODA digits (a slice of ../shared/data/hoda) trained without
# augmentation on two seeds and with augmentation on one, and
# alien-vs-predator photos on a run whose name needs escaping, all in one
# runs.db; one run's checkpoints removed. The report must be refused when
# it would overwrite an input, and otherwise written alone; it must hold
# no script and fetch nothing. Headless Chromium (Debian's chromium) then
# loads it: no request leaves the file (the Content-Security-Policy held:
# no violation in the console, as there is for a control image on
# https://), no console error, every <img> decodes (naturalWidth > 0,
# counted by a script allowed in a copy of the page only), the run names
# and figure titles are text in the DOM, and a screenshot is not blank.
# Without chromium the browser part is skipped, saying so, unless
# CONVKIT_REQUIRE_BROWSER=1 (scripts/test.sh sets it; setup.sh installs
# chromium).
#   test_report.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"
need_shared hoda/RemainingSamples.cdb || { finish; exit; }
need_shared alien-vs-predator/train || { finish; exit; }
mkdir exp && cd exp # the experiment's folder, listed to see what is written

"$convkit" prepare-dataset "$shared/hoda/RemainingSamples.cdb" \
  --split train=0.6,validation=0.2,test=0.2 --seed 1 --limit-per-class 30 -o hoda.db -q \
  > /dev/null || fail "prepare HODA"
"$convkit" prepare-dataset "$shared/alien-vs-predator/train" \
  --split train=0.6,validation=0.2,test=0.2 --seed 1 --limit-per-class 15 -o avp.db -q \
  > /dev/null || fail "prepare alien-vs-predator"
cat > digits.spec <<'SPEC'
Input(shape=(28, 28, 1))
Conv2D(8, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Conv2D(16, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Flatten()
Dense(32, activation="relu")
Dense(10, activation="softmax")
SPEC
cat > photos.spec <<'SPEC'
Input(shape=(48, 48, 3))
Conv2D(8, (3, 3), activation="relu")
MaxPooling2D((2, 2))
Flatten()
Dense(1, activation="sigmoid")
SPEC
train() { # NAME SEED [more]
  local name=$1 seed=$2; shift 2
  "$convkit" train --model digits.spec --data hoda.db --resize fit --name "$name" --seed "$seed" \
    --epochs 3 --threads 1 --workers 1 --runs runs.db -q "$@" > /dev/null
}
train plain-s1 1 || fail "train plain-s1"
train plain-s2 2 || fail "train plain-s2"
train augmented 1 --augment rotate=0.05,zoom=0.1 || fail "train augmented"
photo='photos <&> گربه'
"$convkit" train --model photos.spec --data avp.db --name "$photo" --seed 1 --epochs 2 \
  --threads 1 --workers 1 --augment chollet-2nd --runs runs.db -q > /dev/null || fail "train photos"
rm -f plain-s2.best.ckpt plain-s2.last.ckpt
# curves list pads its cells by columns, not bytes: the Persian name's row
# lines up with the others.
"$convkit" curves list --runs runs.db > ../list.txt || fail "curves list"
widths=$(sed -E 's/^([^ ]+( [^ ]+)*  +).*/\1/' ../list.txt |
  while IFS= read -r line; do printf '%s\n' "$line" | LC_ALL=C.UTF-8 wc -L; done | sort -u)
expect_eq "$(echo "$widths" | wc -l) $(wc -l < ../list.txt)" "1 5" \
  "curves list's name column is one width with a Persian name in it"

# Refusals: exit 2, nothing written.
ls > ../before
expect_status 2 "report -o runs.db" "$convkit" report --runs runs.db -o runs.db
expect_status 2 "report -o a catalog the runs recorded" "$convkit" report --runs runs.db -o hoda.db
ln -s hoda.db hoda-link.html
expect_status 2 "report -o a link to a catalog" "$convkit" report --runs runs.db -o hoda-link.html
expect_output "hoda-link.html is the same file as the catalog hoda.db" "the catalog is named"
rm hoda-link.html
expect_status 2 "report -o x.png" "$convkit" report --runs runs.db -o x.png
expect_status 2 "report --run nope" "$convkit" report --runs runs.db --run nope -o r.html
expect_output "nope.*plain-s1" "a run not recorded is named, with those that are"
expect_status 2 "report without -o" "$convkit" report --runs runs.db
expect_status 1 "report on a catalog as runs.db" "$convkit" report --runs hoda.db -o r.html
expect_status 1 "report --data missing.db" "$convkit" report --runs runs.db --data missing.db -o r.html
expect_output "missing.db" "the missing catalog is named"
ls | cmp -s - ../before && ok "nothing written on a refusal" || fail "a refusal wrote something"

expect_status 0 "report" "$convkit" report --runs runs.db -o report.html
expect_output "note: run plain-s2: .*plain-s2.best.ckpt: no such checkpoint" \
  "the missing checkpoint is said"
expect_eq "$(ls | grep -vxF -f ../before)" "report.html" "report.html alone written"
grep -q 'http-equiv="Content-Security-Policy" content="default-src '"'none'"'; img-src data:' report.html &&
  ok "the page carries its Content-Security-Policy" || fail "no Content-Security-Policy"
! grep -qiE '<script|<link|<iframe|<object|<embed|@import' report.html &&
  ok "no script, link, frame or import" || fail "the page can load or run something"
bad=$(grep -oE ' (src|href)="[^"]*' report.html | sed -E 's/^ (src|href)="//' |
  grep -vE '^(data:image/(png|jpeg);base64,|#)' | head -3)
[ -z "$bad" ] && ok "every src is a data: URI, every href a fragment" || fail "outside references" "$bad"
! grep -oE ' (src|href)="[^"]*' report.html | sed -E 's/^ (src|href)="//' |
  grep -qiE '^(//|https?:|ftp:|file:|blob:)|://' &&
  ok "no URL in any src or href" || fail "a URL in a src or href"
grep -q "photos &lt;&amp;&gt; گربه" report.html && ! grep -q "photos <&>" report.html &&
  ok "a run name is escaped" || fail "the run name is not escaped"
grep -q '<td class="num">2</td>' report.html && grep -q " ± " report.html &&
  ok "plain-s1 and plain-s2 are one arm of two seeds" || fail "no arm of two seeds"
# What the network looks at: Grad-CAM, activations and filters of one run
# of each of the three arms, plain's the run whose checkpoint is there.
expect_eq "$(grep -o '<figure class="view"><img src="data:image/jpeg;base64,' report.html | wc -l)" 9 \
  "three views of each of three arms"
grep -q '<h3>What <bdi>plain</bdi> learned</h3>' report.html &&
  grep -q 'The kept checkpoint of run <bdi>plain-s1</bdi>' report.html &&
  ok "plain's views are plain-s1's" || fail "plain's views are not plain-s1's"
# The photos' arm explains the class of the image shown, whatever it predicts.
cls=$(grep -A1 '<h3>What <bdi>photos ' report.html | grep -oE 'class <bdi>[a-z]+' |
  sed 's/class <bdi>//')
[ -n "$cls" ] && grep -qE "Grad-CAM of $cls \(probability [0-9.]+\) on conv2d" report.html &&
  ok "the photos' Grad-CAM explains the image's class ($cls)" ||
  fail "no Grad-CAM of the image's class" "${cls:-no class found}"

# The same inputs give the same page.
expect_status 0 "report again" "$convkit" report --runs runs.db -o again.html
cmp -s report.html again.html && ok "the same bytes twice" || fail "the page differs between two runs"
expect_status 0 "report: two runs, --data, --no-views" "$convkit" report --runs runs.db \
  --run plain-s1 --run augmented --data hoda.db --title "Digits" --no-views -o two.html
grep -q "<h1>Digits</h1>" two.html && ! grep -q "avp.db" two.html &&
  ok "--run and --data choose what is shown" || fail "--run or --data ignored"
! grep -q '<figure class="view">' two.html && grep -q "The lecture's kernels" two.html &&
  ok "--no-views leaves out the network's views, not the kernels" ||
  fail "--no-views: views shown, or the section lost"

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  if [ "${CONVKIT_REQUIRE_BROWSER:-0}" = 1 ]; then
    fail "chromium missing (scripts/setup.sh installs it)"
  else
    echo "note: chromium not found (scripts/setup.sh installs it): the browser checks skipped"
  fi
  finish
  exit
fi
browse() { # OUTFILE LOGFILE ARGS... (the page last)
  local out=$1 log=$2; shift 2
  timeout 120 "$chromium" --headless --disable-gpu --no-sandbox --no-first-run \
    --disable-dev-shm-usage --user-data-dir="$work/chrome" --enable-logging=stderr --v=0 \
    --virtual-time-budget=10000 "$@" > "$out" 2> "$log"
}
# The page as it is: the DOM once loaded, and what the console said.
browse ../dom.html ../console.log --dump-dom "file://$PWD/report.html" || fail "chromium --dump-dom"
! grep -qiE 'Content.Security.Policy|violates' ../console.log &&
  ok "no Content-Security-Policy violation" || fail "the page asked for something" \
  "$(grep -iE 'Content.Security.Policy|violates' ../console.log | head -3)"
! grep -qE 'CONSOLE|Uncaught|Failed to load resource|net::ERR' ../console.log &&
  ok "nothing on the console" ||
  fail "console messages" "$(grep -E 'CONSOLE|Uncaught|Failed to load|net::ERR' ../console.log | head -3)"
for text in plain-s1 plain-s2 augmented "photos &lt;&amp;&gt; گربه" \
  "Training and validation accuracy" "Training and validation loss" \
  "Training − validation accuracy" "The runs overlaid" "1 Dataset" "5 Evaluation" \
  "The most confident mistakes" "6 What the network looks at" "Where it looks (Grad-CAM)" \
  "What each layer makes of the image" "What its filters respond to"; do
  grep -qF -- "$text" ../dom.html && ok "in the DOM as text: $text" || fail "not in the DOM: $text"
done

# A copy allowed one inline script, which counts the images that decoded
# once the page has loaded and writes the count into the DOM; and one
# image on https://, which the policy must refuse (the control that shows
# a violation would be seen).
sed -e "s|style-src 'unsafe-inline'|style-src 'unsafe-inline'; script-src 'unsafe-inline'|" \
  -e 's|</body>|<img id="control" src="https://example.invalid/x.png" alt="">\n<script>window.addEventListener("load", function () { var all = document.querySelectorAll("img:not(#control)"), good = 0; for (var i = 0; i < all.length; i++) if (all[i].complete \&\& all[i].naturalWidth > 0) good++; document.body.setAttribute("data-images", good + "/" + all.length); });</script>\n</body>|' \
  report.html > probe.html
browse ../probe-dom.html ../probe.log --dump-dom "file://$PWD/probe.html" ||
  fail "chromium --dump-dom (probe)"
counts=$(grep -oE 'data-images="[0-9]+/[0-9]+"' ../probe-dom.html | grep -oE '[0-9]+/[0-9]+')
good=${counts%/*} all=${counts#*/}
[ -n "$counts" ] && [ "$all" -ge 20 ] && [ "$good" = "$all" ] &&
  ok "every image decodes ($counts)" || fail "images that do not decode" "${counts:-no count}"
[ "$all" = "$(grep -o '<img ' report.html | wc -l)" ] && ok "the count is of every <img>" ||
  fail "counted $all images, the page has $(grep -o '<img ' report.html | wc -l)"
grep -q "example.invalid" ../probe.log && grep -qiE 'violates|Content.Security.Policy' ../probe.log &&
  ok "the control image on https:// is refused by the policy" ||
  fail "the control image was not refused: the CSP check cannot see a violation"

browse /dev/null ../shot.log --screenshot="$work/shot.png" --window-size=1280,4000 \
  --hide-scrollbars "file://$PWD/report.html" || fail "chromium --screenshot"
if [ -s ../shot.png ]; then
  expect_eq "$(vipsheader -f width ../shot.png)x$(vipsheader -f height ../shot.png)" "1280x4000" \
    "the screenshot's size"
  mean=$(vips avg ../shot.png) dev=$(vips deviate ../shot.png)
  awk -v m="$mean" -v d="$dev" 'BEGIN { exit !(m < 250 && d > 20) }' &&
    ok "the screenshot is not blank (mean $mean, deviation $dev)" ||
    fail "a blank screenshot" "mean $mean, deviation $dev"
else
  fail "no screenshot"
fi
finish
