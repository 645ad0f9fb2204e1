#!/usr/bin/env bash
# End-to-end: convkit prepare-dataset and info on real and generated data,
# bad usage and bad input, nothing written outside the output, and a real
# run killed mid-way then rerun.
#   test_prepare.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

# -- usage
expect_status 2 "no command" "$convkit"
expect_status 2 "unknown command" "$convkit" frobnicate
expect_status 0 "prepare --help" "$convkit" prepare-dataset --help
expect_output "--split" "help lists --split"
expect_status 2 "missing -o" "$convkit" prepare-dataset x
expect_status 2 "bad split" "$convkit" prepare-dataset x -o a.db --split train=0.5
expect_output "split" "bad split names the option"
expect_status 2 "bad layout" "$convkit" prepare-dataset x -o a.db --layout nope
expect_status 1 "missing source" "$convkit" prepare-dataset "$work/none.zip" -o a.db
expect_output "none.zip" "missing source named"
expect_status 1 "info on a missing file" "$convkit" info "$work/none.db"

# -- real photos, class-per-folder
if need_shared alien-vs-predator/train; then
  avp=$shared/alien-vs-predator/train
  mkdir -p run1 && cd run1
  expect_status 0 "prepare alien-vs-predator" "$convkit" prepare-dataset "$avp" -o avp.db
  expect_eq "$(ls -A)" "avp.db" "only the catalog is written"
  expect_eq "$(sqlite3 avp.db "SELECT class_name || ':' || count(*) FROM samples WHERE status = 'ok' GROUP BY class_name" | tr '\n' ' ')" \
    "alien:347 predator:347 " "694 photos with their labels"
  expect_status 0 "info" "$convkit" info avp.db
  expect_output "train +694 +347 +347" "info shows the split table"
  expect_status 0 "info --json" "$convkit" info avp.db --json
  expect_output '"ok":694' "info --json counts"
  before=$(dump avp.db)
  expect_status 0 "rerun on a finished catalog" "$convkit" prepare-dataset "$avp" -o avp.db
  expect_output "already prepared" "rerun says so"
  expect_eq "$(dump avp.db)" "$before" "rerun changes nothing"
  expect_status 2 "other options refused" "$convkit" prepare-dataset "$avp" -o avp.db --split train=0.5,validation=0.5,test=0
  expect_output "new output" "refusal says what to do"
  expect_eq "$(dump avp.db)" "$before" "refusal changes nothing"
  expect_status 0 "fraction split" "$convkit" prepare-dataset "$avp" -o split.db \
    --split train=0.8,validation=0.2,test=0 --seed 7 -q
  expect_eq "$(sqlite3 split.db "SELECT split || ':' || count(*) FROM samples WHERE status = 'ok' GROUP BY split ORDER BY split" | tr '\n' ' ')" \
    "train:556 validation:138 " "stratified 80/20 split"
  cd "$work"

  # -- bad samples among good ones: kept and rejected with reasons
  mkdir -p mixed/cat mixed/dog
  for i in 0 1 2; do cp "$avp/alien/$i.jpg" mixed/cat/; cp "$avp/predator/$i.jpg" mixed/dog/; done
  head -c 3000 "$avp/alien/10.jpg" > mixed/cat/truncated.jpg
  printf '<html><body>404 Not Found</body></html>\n' > mixed/dog/page.jpg
  : > mixed/dog/empty.jpg
  printf 'not an image' > mixed/cat/Thumbs.db
  expect_status 0 "bad samples do not stop the run" "$convkit" prepare-dataset mixed -o mixed.db -q
  expect_eq "$(sqlite3 mixed.db "SELECT count(*) FROM samples WHERE status = 'ok'")" "6" "good samples kept"
  expect_eq "$(sqlite3 mixed.db "SELECT count(*) FROM samples WHERE status = 'rejected'")" "4" "bad samples recorded"
  expect_eq "$(sqlite3 mixed.db "SELECT count(*) FROM samples WHERE status = 'rejected' AND (reason IS NULL OR reason = '')")" "0" "every reject has a reason"
  expect_status 0 "info lists rejects" "$convkit" info mixed.db
  expect_output "truncated.jpg" "info names a rejected file"

  # -- archives: a tar.gz of the folder, then the same truncated
  tar -czf mixed.tar.gz mixed
  expect_status 0 "class-per-folder tar.gz" "$convkit" prepare-dataset mixed.tar.gz -o tar.db -q
  expect_eq "$(sqlite3 tar.db "SELECT count(*) FROM samples WHERE status = 'ok'")" "6" "tar.gz samples kept"
  size=$(stat -c %s mixed.tar.gz)
  head -c $((size / 2)) mixed.tar.gz > cut.tar.gz
  expect_status 1 "truncated archive" "$convkit" prepare-dataset cut.tar.gz -o cut.db -q
  expect_output "cut.tar.gz" "truncated archive named in the error"

  # -- hostile names: nothing may land outside the output
  mkdir -p hostile/in/cls && cp "$avp/alien/0.jpg" hostile/in/cls/a.jpg && cp "$avp/alien/1.jpg" hostile/in/cls/b.jpg &&
    cp "$avp/alien/2.jpg" hostile/in/cls/c.jpg && ln -s /etc/passwd hostile/in/cls/link.jpg
  (cd hostile && tar -cf ../hostile.tar in/cls/a.jpg in/cls/link.jpg &&
    tar -rf ../hostile.tar --transform='s,^in/cls/b,../../escape/b,' in/cls/b.jpg &&
    tar -rf ../hostile.tar -P --transform="s,^in/cls/c,$work/abs/c," in/cls/c.jpg) 2>/dev/null
  mkdir -p jail && cd jail
  expect_status 0 "archive with .., absolute and link entries" "$convkit" prepare-dataset ../hostile.tar -o h.db -q
  expect_eq "$(ls -A)" "h.db" "nothing written but the catalog"
  [ ! -e "$work/escape" ] && [ ! -e "$work/../escape" ] && [ ! -e "$work/abs" ] && ok "no escape outside the output" || fail "an entry escaped"
  expect_eq "$(sqlite3 h.db "SELECT status || ':' || count(*) FROM samples GROUP BY status ORDER BY status" | tr '\n' ' ')" \
    "ok:1 rejected:3 " "hostile entries rejected, the good one kept"
  expect_eq "$(sqlite3 h.db "SELECT count(*) FROM samples WHERE status = 'rejected' AND reason LIKE '%link%'")" "1" "link entry rejected as a link"
  cd "$work"
fi

# -- Fashion-MNIST from Debian, and a killed run resumed
fm=/usr/share/datasets/fashion-mnist
if [ -f $fm/train-images-idx3-ubyte.gz ]; then
  expect_status 0 "prepare Fashion-MNIST" "$convkit" prepare-dataset \
    $fm/train-images-idx3-ubyte.gz $fm/t10k-images-idx3-ubyte.gz -o fm.db -q
  expect_eq "$(sqlite3 fm.db "SELECT split || ':' || count(*) FROM samples WHERE status = 'ok' GROUP BY split ORDER BY split" | tr '\n' ' ')" \
    "test:10000 train:60000 " "60,000 + 10,000 samples"
  expect_eq "$(sqlite3 fm.db "SELECT count(*) FROM samples WHERE split = 'test' AND label = 9")" "1000" "1,000 test images of class 9"
  want=$(dump fm.db)

  "$convkit" prepare-dataset $fm/train-images-idx3-ubyte.gz $fm/t10k-images-idx3-ubyte.gz \
    -o killed.db -q --threads 2 > /dev/null 2>&1 &
  pid=$!
  n=0
  for _ in $(seq 1 600); do
    n=$(sqlite3 killed.db "SELECT count(*) FROM samples" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 5000 ] && break
    sleep 0.05
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  got=$(sqlite3 killed.db "SELECT value FROM meta WHERE key = 'finished'" 2>/dev/null)
  [ "$got" != 1 ] && ok "killed mid-way ($n rows stored)" || fail "run finished before the kill: test proves nothing"
  expect_status 0 "rerun after kill" "$convkit" prepare-dataset \
    $fm/train-images-idx3-ubyte.gz $fm/t10k-images-idx3-ubyte.gz -o killed.db -q --threads 1
  expect_eq "$(dump killed.db)" "$want" "resumed catalog equals an uninterrupted one"
else
  echo "note: dataset-fashion-mnist not installed, skipped"
fi

# -- IDX labels are numbers: the classes keep their order (label 10 after
# 9, as keras.datasets gives them); a folder tree's are sorted as text.
byte() { printf "\\$(printf %03o "$1")"; }
be32() { byte $(($1 >> 24 & 255)); byte $(($1 >> 16 & 255)); byte $(($1 >> 8 & 255)); byte $(($1 & 255)); }
{ be32 0x803; be32 12; be32 2; be32 2
  for i in $(seq 0 11); do byte $((i * 20)); byte $((255 - i * 20)); byte $((i * 7)); byte $((i % 3 * 90)); done
} > twelve-images-idx3-ubyte
{ be32 0x801; be32 12; for i in $(seq 0 11); do byte "$i"; done; } > twelve-labels-idx1-ubyte
expect_status 0 "prepare IDX with 12 classes" "$convkit" prepare-dataset twelve-images-idx3-ubyte -o twelve.db -q
expect_eq "$(sqlite3 twelve.db "SELECT group_concat(name, ' ') FROM (SELECT name FROM classes ORDER BY label)")" \
  "0 1 2 3 4 5 6 7 8 9 10 11" "IDX classes in the labels' order"
expect_eq "$(sqlite3 twelve.db "SELECT count(*) FROM samples s JOIN classes c ON c.label = s.label
                                WHERE s.class_name != c.name")" "0" "each sample's label is its class's"
# --class-names: the numbered classes stored by name, in the list's order
names=صفر,یک,دو,سه,چهار,پنج,شش,هفت,هشت,نه,ده,یازده
expect_status 0 "prepare IDX, classes named in Persian" "$convkit" prepare-dataset \
  twelve-images-idx3-ubyte -o named.db -q --class-names "$names"
expect_eq "$(sqlite3 named.db "SELECT group_concat(name, ',') FROM (SELECT name FROM classes ORDER BY label)")" \
  "$names" "the classes are the names, in the list's order"
expect_eq "$(sqlite3 named.db "SELECT class_name || ':' || label FROM samples WHERE id = 11")" "یازده:11" \
  "class 11's sample is named یازده, label 11"
expect_status 2 "eleven names for twelve classes" "$convkit" prepare-dataset \
  twelve-images-idx3-ubyte -o short.db -q --class-names "${names%,*}"
expect_output "twelve-images-idx3-ubyte#11: class '11' has no name" "the error names the entry and class"
[ ! -e short.db ] && ok "nothing kept of the refused run" || fail "short.db left behind"
expect_status 2 "a name given twice" "$convkit" prepare-dataset twelve-images-idx3-ubyte -o twice.db \
  --class-names "a,b,a"
expect_output "class name 2 'a' is given twice" "the usage error says which name"

# -- HODA digits
if need_shared hoda/RemainingSamples.cdb; then
  expect_status 0 "prepare HODA" "$convkit" prepare-dataset "$shared/hoda/RemainingSamples.cdb" -o hoda.db -q
  expect_eq "$(sqlite3 hoda.db "SELECT count(*) FROM samples WHERE status = 'ok'")" "22352" "22,352 HODA digits"
fi

finish
