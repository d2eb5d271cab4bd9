#!/usr/bin/env bash
# examples/python-ctypes (generate.py, diagnose.py) against the emulator, with the library from
# the build tree or from an installed tree (checks.sh lists what is checked).
#   python_ctypes_test.sh build     PYTHON SOURCE_DIR EMULATOR LIBNBCORE_SO_0
#   python_ctypes_test.sh installed PYTHON SOURCE_DIR EMULATOR BUILD_DIR
# build: diagnose gets the library with --lib, generate with $NBCORE_LIBRARY. installed: after
# cmake --install into a temporary prefix, neither is given; the module finds libnbcore.so.0 on
# LD_LIBRARY_PATH (ctypes.util.find_library), as it would in /usr/local/lib.
set -euo pipefail
mode=$1 python=$2 src=$3 emulator=$4 where=$5
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
# shellcheck source=checks.sh
. "$here/checks.sh"
trap 'stop_emulator; rm -rf "$tmp"' EXIT
examples=$src/examples/python-ctypes
unset NBCORE_LIBRARY
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree

case "$mode" in
  build)
    lib=$where
    example_generate() { NBCORE_LIBRARY=$lib "$python" "$examples/generate.py" "$@"; }
    example_diagnose() { "$python" "$examples/diagnose.py" --lib "$lib" "$@"; }
    ;;
  installed)
    # Staged, then moved: a build with the GIMP plug-in also installs into the GIMP plug-ins folder
    # (an absolute path), which must not reach a real home.
    DESTDIR="$tmp/stage" cmake --install "$where" --prefix /prefix >/dev/null && mv "$tmp/stage/prefix" "$tmp/prefix"
    lib=$(find "$tmp/prefix" -name libnbcore.so.0 | head -n 1)
    [ -n "$lib" ] || { echo "cmake --install laid out no libnbcore.so.0" >&2; exit 1; }
    export LD_LIBRARY_PATH=$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    example_generate() { "$python" "$examples/generate.py" "$@"; }
    example_diagnose() { "$python" "$examples/diagnose.py" "$@"; }
    ;;
  *) echo "usage: $0 build|installed PYTHON SOURCE_DIR EMULATOR LIB|BUILD_DIR" >&2; exit 2 ;;
esac

# The library the module opens is the one meant, not another libnbcore the loader knows.
loaded=$(cd "$examples" && "$python" - "$mode" "$lib" <<'PY'
import sys
import nbcore_ctypes
lib = nbcore_ctypes.load(sys.argv[2] if sys.argv[1] == "build" else None)
maps = open("/proc/self/maps").read().split("\n")
print(sorted({l.split()[-1] for l in maps if "libnbcore.so" in l}), lib.nbc_version_string().decode())
PY
)
want=$(readlink -f "$lib")
grep -qF "'$want'" <<<"$loaded" || { echo "loaded $loaded, expected $want" >&2; exit 1; }
echo "$mode: loads $loaded"

run_checks
echo "python-ctypes ($mode tree): all checks passed"
