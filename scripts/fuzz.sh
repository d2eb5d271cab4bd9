#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz: clang, ASan+UBSan, coverage) and runs each one from
# its seed corpus for a fixed time. Any crash, leak, UB report, timeout or out-of-memory fails.
#   scripts/fuzz.sh                          every target, NBCORE_FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh sse classify             only those targets
#   NBCORE_FUZZ_SECONDS=600 scripts/fuzz.sh image    a longer local run
# New inputs found go to build-fuzz/corpus/<target> (kept between runs, never committed); a failing
# input is saved as build-fuzz/artifacts/<target>/crash-* (or leak-*, timeout-*, oom-*).
# See tests/fuzz/README.md.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=build-fuzz
seconds=${NBCORE_FUZZ_SECONDS:-20}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2
all_targets=(reply_decoder sse classify base64 image)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

# The dictionary helps the targets that read the Gemini wire format.
dict_for() {
  case $1 in
    reply_decoder|sse|classify) echo "-dict=tests/fuzz/gemini.dict" ;;
  esac
}

# Inputs that once failed (tests/fuzz/regressions/<target>) run first, with the seeds.
regressions_of() {
  [ -d "tests/fuzz/regressions/$1" ] && echo "tests/fuzz/regressions/$1"
}

build_fuzzers() {
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
    -DNBCORE_BUILD_FUZZ=ON -DNBCORE_SANITIZE=address,undefined -DNBCORE_BUILD_TESTS=OFF \
    -DNBCORE_BUILD_EMULATOR=OFF -DNBCORE_BUILD_BENCH=OFF -DNBCORE_BUILD_PYTHON=OFF \
    -DNBCORE_BUILD_GIMP=OFF >/dev/null &&
    cmake --build "$build" -j"$jobs" --target nbcore_fuzzers
}

# One target for $seconds; prints one line, and the end of the log when it fails.
run_target() {
  local name=$1 work="$build/corpus/$1" artifacts="$build/artifacts/$1" log="$build/logs/$1.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  # Leak detection is libFuzzer's default under ASan; spelled out so that nobody turns it off.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    $(dict_for "$name") "$work" "tests/fuzz/corpus/$name" $(regressions_of "$name") >"$log" 2>&1
  local rc=$?
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  if [ $rc -eq 0 ]; then
    echo "fuzz_$name: ok, ${runs:-?} inputs in ${seconds} s"
  else
    echo "fuzz_$name: FAILED (exit $rc); log $log, input in $artifacts/"
    grep -E 'ERROR: |SUMMARY: |property violated|^(first|second|nbcore)' "$log" | head -20
  fi
  return $rc
}

build_fuzzers || exit 1

# Two targets at a time (two cores), each in the background; the statuses are collected at the end.
status_dir=$(mktemp -d)
trap 'rm -rf "$status_dir"' EXIT
for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  ( run_target "$name"; echo $? >"$status_dir/$name" ) &
done
wait

failed=0
for name in "${targets[@]}"; do
  [ "$(cat "$status_dir/$name" 2>/dev/null)" = 0 ] || failed=1
done
exit $failed
