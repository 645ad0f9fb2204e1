# common.sh: what the experiment scripts share (sourced). Sets `root` (the
# repository) and `convkit`: $CONVKIT if set (e.g. a test's build), else
# build/cli/convkit, made by scripts/setup.sh when missing. The scripts do
# not change directory, so relative paths are the caller's.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${CONVKIT:-}" ]; then
  convkit=$CONVKIT
  [ -x "$convkit" ] || { echo "$(basename "$0"): CONVKIT=$convkit is not executable" >&2; exit 2; }
else
  convkit=$root/build/cli/convkit
  [ -x "$convkit" ] || "$root/scripts/setup.sh"
fi
