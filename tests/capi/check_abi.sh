#!/usr/bin/env bash
# libnbcore.so against the committed ABI baseline (abidiff, Debian's abigail-tools). An
# incompatible change (a type's layout, a function's signature, a symbol removed) fails; a
# compatible one (a function or a field added at the end) passes with a reminder to refresh the
# baseline when the release is cut.
#   check_abi.sh LIBRARY BASELINE_ABI HEADERS_DIR SUPPRESSIONS
set -uo pipefail
lib=$1
baseline=$2
headers=$3
supp=$4
# Both sides as abidw writes them with the same filters, so like is compared with like.
current=$(mktemp)
trap 'rm -f "$current"' EXIT
if ! abidw --headers-dir "$headers" --drop-private-types --suppressions "$supp" --no-corpus-path --no-show-locs \
     "$lib" >"$current"; then
  echo "abidw could not read $lib (it needs the library's debug information: build with -g)" >&2
  exit 1
fi
out=$(abidiff "$baseline" "$current" 2>&1)
rc=$?
if (( rc & 3 )); then
  echo "abidiff could not compare (exit $rc):" >&2
  echo "$out" >&2
  exit 1
fi
# libabigail calls every change behind a pointer merely "harmful"; by nbcore's rules (handles are
# opaque, options structs grow only at their end) an existing member moving or changing type,
# or anything removed, breaks callers, while members added at the end do not.
breaking=$(grep -E "offset changed|type of '[^']*' changed|data member deletion|[1-9][0-9]* Removed|was removed|name of '[^']*' changed|return type changed|parameter [0-9]+ of type '[^']*' changed" <<<"$out")
if (( rc & 8 )) || [ -n "$breaking" ]; then
  echo "$out"
  echo "INCOMPATIBLE ABI change against $(basename "$baseline"): programs built against libnbcore.so.0 would break." >&2
  echo "Keep nbcore.h compatible (new fields only at the end of options structs, no removals), or raise NBCORE_ABI_MAJOR." >&2
  exit 1
fi
if (( rc & 4 )); then
  echo "$out"
  echo "Compatible ABI additions. To make them the new baseline:"
  echo "  abidw --headers-dir $headers --drop-private-types --suppressions $supp --no-corpus-path --no-show-locs $lib > $baseline"
  exit 0
fi
echo "the ABI of $(basename "$lib") equals $(basename "$baseline")"
