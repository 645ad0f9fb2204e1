# lib.sh: helpers for the end-to-end tests (sourced). Each test script
# calls `check NAME COMMAND...` blocks and ends with `finish`, which prints
# the plain "N passed, N failed" line and sets the exit status.
set -u
convkit=$1
shared=${CONVKIT_SHARED_DATA:-$2}
passed=0
failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/convkit-e2e-XXXXXX")
trap 'rm -rf "$work"' EXIT

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1${2:+: $2}"; }

# expect_status WANT NAME COMMAND...: runs COMMAND, output in $work/out.
expect_status() {
  local want=$1 name=$2; shift 2
  "$@" > "$work/out" 2>&1
  local got=$?
  if [ "$got" -eq "$want" ]; then ok "$name"; else fail "$name" "exit $got, want $want: $(head -c 400 "$work/out")"; fi
}

# expect_output PATTERN NAME: the last command's output matches PATTERN (grep -E).
expect_output() {
  if grep -qE -- "$1" "$work/out"; then ok "$2"; else fail "$2" "no /$1/ in: $(head -c 400 "$work/out")"; fi
}

expect_eq() { # GOT WANT NAME
  if [ "$1" = "$2" ]; then ok "$3"; else fail "$3" "got '$1', want '$2'"; fi
}

# need_shared REL: the shared data path, or skips (fails when required).
need_shared() {
  if [ -e "$shared/$1" ]; then return 0; fi
  if [ "${CONVKIT_REQUIRE_SHARED:-0}" = 1 ]; then fail "shared data $shared/$1 missing"; else echo "note: $shared/$1 missing, skipped"; fi
  return 1
}

# dump DB: every stored fact of a catalog, in a stable order, hashed.
dump() {
  { sqlite3 "$1" "SELECT * FROM samples ORDER BY id;" &&
    sqlite3 "$1" "SELECT id, kind, width, height, bands, hex(data) FROM blobs ORDER BY id;" &&
    sqlite3 "$1" "SELECT * FROM classes ORDER BY label; SELECT * FROM sources ORDER BY idx;" &&
    sqlite3 "$1" "SELECT key, value FROM meta ORDER BY key;"; } | sha256sum | cut -c1-16
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
