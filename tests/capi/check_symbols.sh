#!/usr/bin/env bash
# The exported symbols of libnbcore.so must be exactly tests/capi/symbols.txt: a symbol that
# appears is new ABI (add it on purpose, at the end of a section of nbcore.h), one that goes is a
# break of every program linked against the library.
#   check_symbols.sh LIBRARY SYMBOLS_TXT
set -euo pipefail
lib=$1
expected=$2
actual=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep -v '^NBCORE_0$' | sort -u)
if ! diff -u "$expected" <(printf '%s\n' "$actual"); then
  echo "The exported symbols differ from $expected (- expected, + exported)." >&2
  echo "If the change is intended, update the file: nm -D --defined-only $lib | awk '{print \$3}' | sed 's/@.*//' | grep -v '^NBCORE_0\$' | sort -u > $expected" >&2
  exit 1
fi
echo "$(printf '%s\n' "$actual" | wc -l) exported symbols, as listed in $(basename "$expected")"
