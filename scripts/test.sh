#!/usr/bin/env bash
# Every test suite: install what is missing, build, run ctest (normal and ASan+UBSan builds),
# install the Python package into .venv and run pytest on it. Ends with the runners' summaries.
#   NBCORE_TEST_SKIP_ASAN=1 scripts/test.sh    skip the sanitizer build (faster local runs)
#   NBCORE_TEST_SKIP_TSAN=1 scripts/test.sh    skip the ThreadSanitizer stage (tests labelled tsan)
#   NBCORE_TEST_SKIP_FUZZ=1 scripts/test.sh    skip the libFuzzer stage (scripts/fuzz.sh)
#   NBCORE_FUZZ_SECONDS=N scripts/test.sh      seconds per fuzz target (default 20, at most 60)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)
failed=()

scripts/install-deps || exit 1

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DNBCORE_WERROR=ON -DNBCORE_BUILD_GIMP=ON -DNBCORE_WITH_REDIS=ON >/dev/null && cmake --build build -j"$jobs" || exit 1

if [ "${NBCORE_TEST_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (ASan+UBSan)"
  # -O1: sanitizers need no optimisation off, and the pixel scans run several times faster.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
        -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DNBCORE_SANITIZE=address,undefined -DNBCORE_WITH_REDIS=ON -DNBCORE_BUILD_BENCH=OFF >/dev/null && cmake --build build-asan -j"$jobs" || exit 1
fi

if [ "${NBCORE_TEST_SKIP_TSAN:-0}" != 1 ]; then
  echo "== build (TSan: libnbcore and the tests labelled tsan only)"
  # Only what `ctest -L tsan` runs; the emulator is the normal build's (not instrumented).
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
        -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DNBCORE_SANITIZE=thread -DNBCORE_BUILD_EMULATOR=OFF \
        -DNBCORE_BUILD_BENCH=OFF -DNBCORE_TEST_EMULATOR="$root/build/emulator/nbcore-emulator" >/dev/null &&
    cmake --build build-tsan -j"$jobs" --target nbcore_capi_threads || exit 1
fi

echo "== Python package into .venv"
scripts/build-python || exit 1

if [ "${NBCORE_TEST_SKIP_ASAN:-0}" != 1 ]; then
  echo "== ctest (ASan+UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" || failed+=("ctest (ASan+UBSan)")
fi

if [ "${NBCORE_TEST_SKIP_TSAN:-0}" != 1 ]; then
  echo "== ctest (TSan)"
  # Kernels with more mmap randomisation than this TSan runtime knows stop it at start-up with
  # "unexpected memory mapping"; then the tests run with address randomisation off.
  tsan_prefix=()
  case $(build-tsan/tests/capi/nbcore_capi_threads 2>&1) in
    *"unexpected memory mapping"*) tsan_prefix=(setarch "$(uname -m)" -R) ;;
  esac
  "${tsan_prefix[@]}" ctest --test-dir build-tsan --output-on-failure -L tsan || failed+=("ctest (TSan)")
fi

if [ "${NBCORE_TEST_SKIP_FUZZ:-0}" != 1 ]; then
  # Each target at most a minute here; longer runs are for scripts/fuzz.sh by hand.
  fuzz_seconds=${NBCORE_FUZZ_SECONDS:-20}
  [[ $fuzz_seconds =~ ^[0-9]+$ ]] && [ "$fuzz_seconds" -ge 1 ] || fuzz_seconds=20
  [ "$fuzz_seconds" -gt 60 ] && fuzz_seconds=60
  echo "== fuzz (clang libFuzzer + ASan/UBSan: build, then ${fuzz_seconds} s per target)"
  fuzz_start=$SECONDS
  NBCORE_FUZZ_SECONDS=$fuzz_seconds scripts/fuzz.sh || failed+=("fuzz")
  echo "fuzz stage: $((SECONDS - fuzz_start)) s"
fi

echo "== ctest"
ctest --test-dir build --output-on-failure -j"$jobs" || failed+=("ctest")

echo "== pytest"
.venv/bin/python -m pytest -q tests/python || failed+=("pytest")

if [ ${#failed[@]} -gt 0 ]; then exit 1; fi
exit 0
