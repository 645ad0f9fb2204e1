#!/usr/bin/env bash
# End-to-end: hostile and damaged archives lose no valid sample in silence.
# Every input is made here (python3's zipfile and tarfile, then patched
# bytes); each case writes down what must be kept and what recorded.
#   test_archives.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

need_shared alien-vs-predator/train || { finish; exit; }
export AVP=$shared/alien-vs-predator/train

python3 - <<'EOF' || fail "fixtures could not be made"
import gzip, io, os, struct, tarfile, warnings, zipfile, zlib
A = os.environ["AVP"]
j = [open(f"{A}/alien/{i}.jpg", "rb").read() for i in range(8)]

def tar(name, entries, fmt=tarfile.GNU_FORMAT, **kw):
    with tarfile.open(name, "w", format=fmt, **kw) as t:
        for n, d, pax in entries:
            ti = tarfile.TarInfo(n); ti.size = len(d)
            if pax: ti.pax_headers = pax
            t.addfile(ti, io.BytesIO(d))

# Class folders in four scripts, in an ordinary zip (UTF-8 names).
with zipfile.ZipFile("names.zip", "w") as z:
    for i, c in enumerate(["猫", "گربه", "قطة", "café"]):
        z.writestr(f"{c}/{i}.jpg", j[i]); z.writestr(f"{c}/{i}b.jpg", j[i + 4])
# Invalid UTF-8 and a control character in tar names.
tar("badnames.tar", [("a/x\udcff.jpg", j[0], None), ("a/c\x01.jpg", j[1], None), ("b/ok.jpg", j[2], None)],
    encoding="utf-8", errors="surrogateescape")
# A zip whose central directory is garbage (its local headers are sound).
with zipfile.ZipFile("cd.zip", "w") as z:
    z.writestr("cat/1.jpg", j[0]); z.writestr("dog/1.jpg", j[1])
b = bytearray(open("cd.zip", "rb").read())
for i in range(b.find(b"PK\x01\x02"), b.rfind(b"PK\x05\x06")): b[i] = 0x5A
open("cd.zip", "wb").write(b)
# A tar whose second header fails its checksum.
tar("cksum.tar", [("cat/1.jpg", j[0], None), ("cat/2.jpg", j[1], None), ("dog/1.jpg", j[2], None)])
b = bytearray(open("cksum.tar", "rb").read())
off = 512 + (len(j[0]) + 511) // 512 * 512
b[off + 148] = ord("7") if b[off + 148] != ord("7") else ord("6")
open("cksum.tar", "wb").write(b)
# A Kaggle train.zip with refused entries beside it.
with zipfile.ZipFile("kaggle.zip", "w") as z:
    for i in range(3):
        z.writestr(f"train/cat.{1000 + i}.jpg", j[i]); z.writestr(f"train/dog.{1000 + i}.jpg", j[i + 3])
    z.writestr("../evil/x.jpg", j[0]); z.writestr("/abs/y.jpg", j[1])
    z.writestr("d/" * 2100 + "long.jpg", j[2])
# The same path twice.
with zipfile.ZipFile("dup.zip", "w") as z:
    warnings.simplefilter("ignore")
    z.writestr("cat/1.jpg", j[0]); z.writestr("cat/1.jpg", j[1]); z.writestr("dog/1.jpg", j[2])
# An entry named train/. beside real ones.
tar("dot.tar", [("train/.", j[0], None), ("cat/1.jpg", j[1], None), ("dog/1.jpg", j[2], None)])
# A 2 MB pax header after two sound entries.
tar("pax.tar", [("cat/1.jpg", j[0], None), ("dog/1.jpg", j[1], None),
                ("cat/2.jpg", j[2], {"comment": "x" * (2 << 20)}), ("dog/2.jpg", j[3], None)],
    fmt=tarfile.PAX_FORMAT)
# An IDX pair whose header declares 5,478,275 images of 28x28 (4 GB): the
# file itself holds ten.
os.makedirs("bomb", exist_ok=True)
img = struct.pack(">IIII", 0x803, 5478275, 28, 28) + bytes(784 * 10)
open("bomb/train-images-idx3-ubyte.gz", "wb").write(gzip.compress(img))
open("bomb/train-labels-idx1-ubyte.gz", "wb").write(gzip.compress(struct.pack(">II", 0x801, 5478275) + bytes(10)))
# IDX gzip damage: a bad CRC, a cut file, a wrong length in the trailer.
img = struct.pack(">IIII", 0x803, 50, 28, 28) + bytes(range(256)) * 153 + bytes(32)
lab = gzip.compress(struct.pack(">II", 0x801, 50) + bytes(50))
g = gzip.compress(img)
for d, data in [("crc", g[:-8] + bytes([g[-8] ^ 0xFF]) + g[-7:]), ("cut", g[: len(g) // 2]),
                ("len", g[:-4] + bytes([g[-4] ^ 1]) + g[-3:])]:
    os.makedirs(d, exist_ok=True)
    open(f"{d}/t10k-images-idx3-ubyte.gz", "wb").write(data)
    open(f"{d}/t10k-labels-idx1-ubyte.gz", "wb").write(lab)
# A sound IDX pair of 50 images inside a zip, labels after the images.
with zipfile.ZipFile("digits.zip", "w") as z:
    z.writestr("mnist/t10k-images-idx3-ubyte.gz", g)
    z.writestr("mnist/t10k-labels-idx1-ubyte.gz", lab)
# A "JPEG" of 600 scans.
os.makedirs("scans/cls", exist_ok=True)
open("scans/cls/scans.jpg", "wb").write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
                                        + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x00" * 600 + b"\xff\xd9")
open("scans/cls/ok.jpg", "wb").write(j[0])
# A JPEG turned by EXIF (orientation 6) and a PNG with an alpha channel.
os.makedirs("decode/a", exist_ok=True); os.makedirs("decode/b", exist_ok=True)
tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">HHHIHH", 1, 0x0112, 3, 1, 6, 0) + bytes(4)
app1 = b"Exif\x00\x00" + tiff
open("decode/a/turned.jpg", "wb").write(j[0][:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + j[0][2:])
open("decode/a/upright.jpg", "wb").write(j[1])
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
rows = b"".join(b"\x00" + bytes([200, 10, 10, 128]) * 80 for _ in range(80))
open("decode/b/alpha.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 80, 80, 8, 6, 0, 0, 0))
                                       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
EOF

# ok_samples DB: "class:count ..." of the kept samples.
ok_samples() { sqlite3 "$1" "SELECT class_name || ':' || count(*) FROM samples WHERE status = 'ok' GROUP BY class_name ORDER BY class_name" | tr '\n' ' '; }
reasons() { sqlite3 "$1" "SELECT name || ' = ' || reason FROM samples WHERE status = 'rejected' ORDER BY id"; }

# -- names are bytes to keep, never a reason to drop a sample
expect_status 0 "non-ASCII class folders" "$convkit" prepare-dataset names.zip -o names.db -q
expect_eq "$(ok_samples names.db)" "café:2 قطة:2 گربه:2 猫:2 " "every class kept under its own name"
LC_ALL=C expect_status 0 "the same in the C locale" "$convkit" prepare-dataset names.zip -o names-c.db -q
expect_eq "$(ok_samples names-c.db)" "café:2 قطة:2 گربه:2 猫:2 " "the locale changes no name"
expect_status 0 "invalid UTF-8 and control characters" "$convkit" prepare-dataset badnames.tar -o bad.db -q
expect_eq "$(sqlite3 bad.db "SELECT name FROM samples WHERE status = 'ok' ORDER BY id" | tr '\n' ' ')" \
  'a/x\xFF.jpg a/c\x01.jpg b/ok.jpg ' "names kept, escaped"

# -- damage: what can be read is read, what cannot is recorded
expect_status 0 "garbage central directory" "$convkit" prepare-dataset cd.zip -o cd.db -q
expect_eq "$(ok_samples cd.db)" "cat:1 dog:1 " "both entries read from their local headers"
expect_eq "$(reasons cd.db | grep -c 'central directory: 0 of 2 entries listed')" 1 "the damage recorded"
expect_status 0 "bad tar checksum" "$convkit" prepare-dataset cksum.tar -o cksum.db -q
expect_eq "$(ok_samples cksum.db)" "cat:1 dog:1 " "the entries around it kept"
expect_eq "$(reasons cksum.db)" "(damaged header at byte 6656) = Damaged tar archive: 33 blocks skipped" \
  "the damaged header recorded where it is"
expect_status 1 "2 MB pax header" "$convkit" prepare-dataset pax.tar -o pax.db -q
expect_output "completed with errors" "says it completed with errors"
expect_output "Special header too large" "and why"
expect_eq "$(ok_samples pax.db)" "cat:1 dog:1 " "the entries before it kept"
expect_eq "$(reasons pax.db | grep -c '^(read stopped after entry 2) = read stopped: ')" 1 "where it stopped recorded"
expect_status 1 "rerun on the finished catalog" "$convkit" prepare-dataset pax.tar -o pax.db -q
expect_output "completed with errors" "still says it completed with errors"
expect_status 0 "info on the stopped archive" "$convkit" info pax.db
expect_output "read stopped" "info shows where it stopped"

# -- refused entries do not vote for the layout
expect_status 0 "Kaggle zip with refused entries" "$convkit" prepare-dataset kaggle.zip -o kaggle.db -q
expect_eq "$(ok_samples kaggle.db)" "cat:3 dog:3 " "labels from the Kaggle names, not 'train'"
expect_eq "$(sqlite3 kaggle.db "SELECT layout FROM sources")" "kaggle" "the Kaggle layout detected"
expect_eq "$(sqlite3 kaggle.db "SELECT count(*) FROM samples WHERE status = 'rejected' AND reason LIKE 'unsafe name%'")" \
  3 "'..', absolute and over-long names refused"

# -- same name twice, and a name without a file name
expect_status 0 "same path twice" "$convkit" prepare-dataset dup.zip -o dup.db -q
expect_eq "$(ok_samples dup.db)" "cat:2 dog:1 " "both entries kept"
expect_status 0 "info" "$convkit" info dup.db
expect_output "same name twice: 1 names given to 2 entries" "info records the clash"
expect_output "cat/1.jpg \(2 entries\)" "and names it"
expect_status 0 "an entry named train/." "$convkit" prepare-dataset dot.tar -o dot.db -q
expect_eq "$(ok_samples dot.db)" "cat:1 dog:1 " "train/. is no sample"
expect_eq "$(reasons dot.db)" "train/. = unsafe name (no file name: ends in '/' or '/.')" "it is refused as a name"

# -- limits on the whole dataset, and IDX gzip damage said as it is
expect_status 1 "IDX declaring 4 GB" "$convkit" prepare-dataset bomb/train-images-idx3-ubyte.gz -o bomb.db -q
expect_output "exceed the dataset limit .*--max-total-mb" "refused at its header, naming the option"
[ ! -e bomb.db ] && ok "no catalog left behind" || fail "bomb.db left behind"
expect_status 1 "the entry-count limit" "$convkit" prepare-dataset cd.zip -o few.db -q --max-entries 1
expect_output "more than the dataset limit \(1 entries" "names the limit"
expect_output "max-entries" "and the option"
expect_status 2 "a bad --max-total-mb" "$convkit" prepare-dataset cd.zip -o x.db --max-total-mb abc
for d in crc:"bad CRC" cut:"truncated" len:"size mismatch"; do
  expect_status 1 "IDX gzip ${d%%:*}" "$convkit" prepare-dataset "${d%%:*}/t10k-images-idx3-ubyte.gz" -o "${d%%:*}.db" -q
  expect_output "gzip: ${d#*:}" "IDX gzip ${d%%:*} said as it is"
done

# -- a JPEG whose scans would take seconds is refused before decoding
expect_status 0 "JPEG of 600 scans" "$convkit" prepare-dataset scans -o scans.db -q
expect_eq "$(reasons scans.db)" "cls/scans.jpg = JPEG with 600 scans (more than 500: refused as too costly to decode)" \
  "refused for its scans"

# -- IDX and HODA files inside a folder are read as when given alone
fm=/usr/share/datasets/fashion-mnist
if [ -f $fm/train-images-idx3-ubyte.gz ]; then
  expect_status 0 "the Fashion-MNIST folder" "$convkit" prepare-dataset $fm -o fmdir.db -q
  expect_eq "$(sqlite3 fmdir.db "SELECT split || ':' || count(*) FROM samples WHERE status = 'ok' GROUP BY split ORDER BY split" | tr '\n' ' ')" \
    "test:10000 train:60000 " "60,000 + 10,000 labelled digits, no reject"
  expect_eq "$(sqlite3 fmdir.db "SELECT count(*) FROM samples WHERE status <> 'ok'")" 0 "the labels files are not samples"
else
  echo "note: dataset-fashion-mnist not installed, skipped"
fi
expect_status 0 "an IDX pair inside a zip" "$convkit" prepare-dataset digits.zip -o digits.db -q
expect_eq "$(sqlite3 digits.db "SELECT split || ':' || count(*) FROM samples WHERE status = 'ok' AND label = 0 GROUP BY split")" \
  "test:50" "its 50 labelled test digits"
if need_shared hoda/RemainingSamples.cdb; then
  mkdir -p hodadir && cp "$shared/hoda/RemainingSamples.cdb" hodadir/
  expect_status 0 "a folder holding a .cdb file" "$convkit" prepare-dataset hodadir -o hodadir.db -q
  expect_eq "$(sqlite3 hodadir.db "SELECT count(*) FROM samples WHERE status = 'ok' AND label IS NOT NULL")" \
    22352 "its 22,352 labelled digits"
  # -- the summary states the catalog's numbers, as info does
  expect_status 0 "HODA with a fraction split" "$convkit" prepare-dataset "$shared/hoda/RemainingSamples.cdb" \
    -o hoda.db -q --split train=0.8,validation=0.1,test=0.1
  kept=$(sed -n 's/.* entries, \([0-9,]*\) images kept, .*/\1/p' "$work/out")
  "$convkit" info hoda.db > info.txt
  leak=$(sed -n 's/.* rejected, \([0-9,]*\) removed as leakage.*/\1/p' info.txt)
  grep -q "entries [0-9,]*: $kept images, " info.txt && grep -q "removed as leakage" "$work/out" &&
    grep -q " $leak removed as leakage" "$work/out" &&
    ok "the summary states info's numbers ($kept kept, $leak removed)" ||
    fail "summary and info disagree" "$(head -1 "$work/out") / $(sed -n 2p info.txt)"
fi

# -- what decoding ignores is said by info
expect_status 0 "EXIF-turned JPEG and alpha PNG" "$convkit" prepare-dataset decode -o decode.db -q
expect_status 0 "info" "$convkit" info decode.db
expect_output "^1 JPEGs carry an EXIF orientation other than upright: it is ignored" "info tells of the EXIF orientation"
expect_output "^1 images have an alpha channel: it is dropped" "info tells of the alpha channel"
expect_status 0 "info --json" "$convkit" info decode.db --json
expect_output '"decoding":\{"exif_rotated":1,"alpha":1\}' "the same in JSON"

# -- progress off a terminal gives an ETA once the total is known
"$convkit" prepare-dataset "$AVP" -o progress.db > "$work/out" 2>&1
expect_output "^prepare: [0-9,]+ entries, .* ETA [0-9]+:[0-9]+ \(source 1/1, ingest\)" "a real ETA while ingesting"

# -- an input with nothing readable fails; a failed prepare blocks nothing
mkdir -p empty
expect_status 1 "an empty folder" "$convkit" prepare-dataset empty -o empty.db -q
expect_output "no image kept" "says no image was kept"
printf 'not an image\n' > notimage.jpg
printf 'notes\n' > notes.txt
expect_status 1 "a source that is no dataset" "$convkit" prepare-dataset notimage.jpg -o x.db -q
[ ! -e x.db ] && ok "the failed run leaves no catalog" || fail "x.db left behind"
expect_status 1 "another bad source" "$convkit" prepare-dataset notes.txt -o x.db -q
expect_output "notes.txt: open: " "is refused for itself"
expect_status 0 "a new source on an image-less catalog" "$convkit" prepare-dataset cd.zip -o empty.db -q
expect_output "held no image .*replaced" "says the empty catalog was replaced"
expect_eq "$(ok_samples empty.db)" "cat:1 dog:1 " "and prepares the new source"

finish
