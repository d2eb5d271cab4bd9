#!/usr/bin/env bash
# Every test suite: install what is missing, build, run ctest (normal and ASan+UBSan builds),
# install the Python package into .venv and run pytest on it. Ends with the runners' summaries.
#   NBCORE_TEST_SKIP_ASAN=1 scripts/test.sh    skip the sanitizer build (faster local runs)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)
failed=()

scripts/install-deps || exit 1

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DNBCORE_WERROR=ON >/dev/null && cmake --build build -j"$jobs" || exit 1

if [ "${NBCORE_TEST_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (ASan+UBSan)"
  # -O1: sanitizers need no optimisation off, and the pixel scans run several times faster.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
        -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DNBCORE_SANITIZE=address,undefined -DNBCORE_BUILD_BENCH=OFF >/dev/null && cmake --build build-asan -j"$jobs" || exit 1
fi

echo "== Python package into .venv"
scripts/build-python || exit 1

if [ "${NBCORE_TEST_SKIP_ASAN:-0}" != 1 ]; then
  echo "== ctest (ASan+UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" || failed+=("ctest (ASan+UBSan)")
fi

echo "== ctest"
ctest --test-dir build --output-on-failure -j"$jobs" || failed+=("ctest")

echo "== pytest"
.venv/bin/python -m pytest -q tests/python || failed+=("pytest")

if [ ${#failed[@]} -gt 0 ]; then exit 1; fi
exit 0
