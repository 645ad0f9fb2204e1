#!/usr/bin/env bash
# The module layout of DESIGN.md, checked: data flows one way, so each
# module includes only the headers of the modules below it, and each
# module's test binaries link only the libraries its modules may use.
#   test_layout.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# Project headers each module's sources may include (besides its own).
declare -A allowed=(
  [common]="ck.h"
  [image]="ck.h"
  [datasets]="ck.h im.h"
  [augment]="ck.h im.h"
  [pipeline]="ck.h im.h ds.h aug.h"
  [train]="ck.h"
  [runs]="ck.h"
)
# Third-party headers a module must not use.
declare -A banned=(
  [common]="vips/ turbojpeg.h sqlite3.h archive cblas.h hdf5.h plplot"
  [image]="sqlite3.h archive cblas.h hdf5.h plplot"
  [datasets]="vips/ turbojpeg.h cblas.h hdf5.h plplot"
  [augment]="turbojpeg.h sqlite3.h archive cblas.h hdf5.h plplot"
  [pipeline]="vips/ turbojpeg.h sqlite3.h archive cblas.h hdf5.h plplot"
  [train]="vips/ turbojpeg.h archive plplot jansson.h"
  [runs]="vips/ turbojpeg.h archive cblas.h hdf5.h"
)
public="ck.h im.h ds.h aug.h pl.h nn.h rn.h"
for mod in "${!allowed[@]}"; do
  [ -d "$src/$mod" ] || { fail "$mod/: no such module folder"; continue; }
  own=$(find "$src/$mod" -name '*.h' -printf '%f\n')
  while IFS= read -r line; do
    file=${line%%:*} inc=${line#*\"}; inc=${inc%\"*}
    if echo " $own " | tr '\n' ' ' | grep -q " $inc "; then continue; fi
    if echo " $public " | grep -q " $inc " && ! echo " ${allowed[$mod]} " | grep -q " $inc "; then
      fail "${file#$src/} includes $inc: $mod/ may not reach that module"
    fi
  done < <(grep -rHo '#include "[^"]*"' "$src/$mod" --include='*.c' --include='*.h')
  for b in ${banned[$mod]:-}; do
    hits=$(cd "$src" && grep -rlE "#include <$b" "$mod" --include='*.c' --include='*.h')
    [ -z "$hits" ] || fail "$mod/ includes <$b...>: $(echo $hits)"
  done
  ok
done

# Shared libraries a module's test binaries must not need.
check_needed() { # DIR PATTERN WHY
  local dir=$1 pat=$2 why=$3 n=0
  for bin in "$build"/tests/"$dir"/test_*; do
    [ -x "$bin" ] || continue
    n=$((n + 1))
    if readelf -d "$bin" | grep NEEDED | grep -qE "$pat"; then
      fail "$(basename "$bin") links $(readelf -d "$bin" | grep NEEDED | grep -oE "$pat" | head -1): $why"
    else
      ok
    fi
  done
  [ "$n" -gt 0 ] || fail "no test binaries in tests/$dir"
}
check_needed common 'libvips|libturbojpeg|libsqlite3|libopenblas|libhdf5|libplplot' "common/ is plain C"
check_needed train 'libvips|libturbojpeg|libplplot|libarchive' "train/ knows only common/"
check_needed runs 'libopenblas|libhdf5|libvips' "runs/ knows no tensor"

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
