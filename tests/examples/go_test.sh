#!/usr/bin/env bash
# examples/go against an installed tree: cmake --install into a temporary prefix, go vet and
# go build with cgo finding nbcore through nbcore.pc (PKG_CONFIG_PATH) and an rpath to the
# prefix, then the checks in checks.sh. Fails, never skips, when there is no Go toolchain
# (scripts/install-deps installs golang-go).
#   go_test.sh BUILD_DIR SOURCE_DIR EMULATOR PYTHON GO_STATE_DIR
# GO_STATE_DIR keeps Go's build cache between runs; nothing is written to $HOME, nothing is
# downloaded (GOPROXY=off, GOTOOLCHAIN=local: the module has no dependencies).
set -euo pipefail
build=$1 src=$2 emulator=$3 python=$4 state=$5
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
# shellcheck source=checks.sh
. "$here/checks.sh"
trap 'stop_emulator; rm -rf "$tmp"' EXIT

go=$(command -v go || true)
if [ -z "$go" ]; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [ -x "$candidate" ]; then go=$candidate; break; fi
  done
fi
[ -n "$go" ] || { echo "FAILED: no Go toolchain (go on PATH, /usr/local/go/bin, /usr/lib/go/bin); run scripts/install-deps" >&2; exit 1; }
gofmt=$(dirname "$(readlink -f "$go")")/gofmt

mkdir -p "$state/home"
state=$(cd "$state" && pwd)  # Go wants absolute GOCACHE and GOPATH
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS= GOENV=off CGO_ENABLED=1 \
       GOCACHE=$state/cache GOPATH=$state/gopath HOME=$state/home XDG_CONFIG_HOME=$state/home/.config

# Staged, then moved: a build with the GIMP plug-in also installs into the GIMP plug-ins folder
# (an absolute path), which must not reach a real home.
DESTDIR="$tmp/stage" cmake --install "$build" --prefix /prefix >/dev/null && mv "$tmp/stage/prefix" "$tmp/prefix"
pc=$(find "$tmp/prefix" -name nbcore.pc | head -n 1)
lib=$(find "$tmp/prefix" -name libnbcore.so.0 | head -n 1)
[ -n "$pc" ] && [ -n "$lib" ] || { echo "cmake --install laid out no nbcore.pc ($pc) or libnbcore.so.0 ($lib)" >&2; exit 1; }
libdir=$(dirname "$lib")
export PKG_CONFIG_PATH=$(dirname "$pc") CGO_LDFLAGS="-Wl,-rpath,$libdir"

echo "$("$go" version), nbcore.pc from $PKG_CONFIG_PATH"
unformatted=$(cd "$src/examples/go" && "$gofmt" -l .)
[ -z "$unformatted" ] || { echo "FAILED: not gofmt-formatted: $unformatted" >&2; exit 1; }
(cd "$src/examples/go" && "$go" vet ./... && "$go" build -buildvcs=false -o "$tmp/nbcore-go" .)
deps=$(ldd "$tmp/nbcore-go")  # not piped into grep -q: under pipefail, ldd's SIGPIPE would fail it
grep -qF "libnbcore.so.0 => $libdir/libnbcore.so.0 " <<<"$deps" || { echo "FAILED: nbcore-go does not load $libdir/libnbcore.so.0:" >&2; echo "$deps" >&2; exit 1; }

example_generate() { "$tmp/nbcore-go" generate "$@"; }
example_diagnose() { "$tmp/nbcore-go" diagnose "$@"; }
run_checks
echo "go (installed tree): gofmt, vet, build and all checks passed"
