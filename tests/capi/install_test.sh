#!/usr/bin/env bash
# cmake --install lays out what a C user needs, and examples/c builds against the installed tree
# both ways (find_package(nbcore) and pkg-config), then runs: diagnose on a saved 429 body, and
# generate against a fresh emulator.
#   install_test.sh BUILD_DIR SOURCE_DIR EMULATOR
set -euo pipefail
build=$1
src=$2
emulator=$3
tmp=$(mktemp -d)
emu_pid=""
trap '[ -n "$emu_pid" ] && kill $emu_pid 2>/dev/null; rm -rf "$tmp"' EXIT
# Staged under DESTDIR: with the GIMP plug-in built, cmake --install also writes into the user's
# GIMP plug-ins folder, an absolute path that must land in the stage, not in a real home.
stage=$tmp/stage
prefix=$stage/prefix

DESTDIR=$stage cmake --install "$build" --prefix /prefix >/dev/null
plugin_dir=$(sed -n 's/^NBCORE_GIMP_PLUGIN_DIR:PATH=//p' "$build/CMakeCache.txt")
if grep -q '^NBCORE_BUILD_GIMP:BOOL=ON' "$build/CMakeCache.txt"; then
  plugin=$stage$plugin_dir/nbcore-gimp/nbcore-gimp
  [ -x "$plugin" ] || { echo "the GIMP plug-in is not installed at $plugin" >&2; exit 1; }
  # It finds libnbcore where the library is installed (the configured prefix), not in the build.
  runpath=$(objdump -p "$plugin" | awk '/RUNPATH|RPATH/ {print $2}')
  want=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
  case "$runpath" in
    "$want"/lib*) ;;
    *) echo "the plug-in's run path is '$runpath', not under $want" >&2; exit 1 ;;
  esac
  LD_LIBRARY_PATH=$(dirname "$(find "$prefix" -name 'libnbcore.so.0' | head -n 1)") ldd "$plugin" |
    grep -q "libnbcore.so.0 => $prefix" || { echo "the installed plug-in does not link libnbcore.so.0" >&2; exit 1; }
fi
for f in include/nbcore/nbcore.h; do [ -f "$prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }; done
lib=$(find "$prefix" -name 'libnbcore.so.0' | head -n 1)
pc=$(find "$prefix" -name nbcore.pc | head -n 1)
config=$(find "$prefix" -name nbcoreConfig.cmake | head -n 1)
[ -n "$lib" ] && [ -n "$pc" ] && [ -n "$config" ] || { echo "missing: library ($lib), nbcore.pc ($pc) or nbcoreConfig.cmake ($config)" >&2; exit 1; }
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = libnbcore.so.0 ] || { echo "SONAME is '$soname', not libnbcore.so.0" >&2; exit 1; }

# 1. CMake: find_package(nbcore) -> nbcore::nbcore
cmake -S "$src/examples/c" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null

# 2. pkg-config
libdir=$(dirname "$lib")
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
# shellcheck disable=SC2046  # pkg-config prints several flags
cc -std=c99 -Wall -Wextra -pedantic -Werror "$src/examples/c/diagnose.c" $(pkg-config --cflags --libs nbcore) \
   -Wl,-rpath,"$libdir" -o "$tmp/diagnose-pc"

cat >"$tmp/429.json" <<'JSON'
{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}
JSON
for d in "$tmp/cmake-build/diagnose" "$tmp/diagnose-pc"; do
  out=$("$d" 429 "$tmp/429.json")
  grep -q "class:     RATE_LIMITED" <<<"$out" || { echo "$d printed:" >&2; echo "$out" >&2; exit 1; }
done

"$emulator" --port 0 --key install-test-key >"$tmp/emu.out" 2>/dev/null &
emu_pid=$!
url=""
for _ in $(seq 100); do
  url=$(head -n 1 "$tmp/emu.out")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "emulator did not start" >&2; exit 1; }
out=$(env -u GOOGLE_API_KEY GEMINI_API_KEY=install-test-key GOOGLE_GEMINI_BASE_URL="$url" \
      "$tmp/cmake-build/generate" "a lighthouse" "$tmp/out.jpg" 1K)
grep -q "^wrote .*1024x1024" <<<"$out" || { echo "generate printed: $out" >&2; exit 1; }
echo "installed tree OK: CMake and pkg-config builds of examples/c; $out"
