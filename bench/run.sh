#!/usr/bin/env bash
# Builds the benchmarks and runs them one after the other, printing each one's table
# (about 8 minutes, most of it the quota burst, which waits out real minutes).
#   bench/run.sh [--quick]      --quick: fewer runs (noisier figures)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=7
[ "${1:-}" = "--quick" ] && runs=3
scripts/install-deps --no-venv
cmake -S . -B build -G Ninja -DNBCORE_BUILD_BENCH=ON >/dev/null
cmake --build build -j"$(nproc)" --target bench_extract bench_validate bench_receive bench_inflight bench_burst bench_compose bench_state nbcore-emulator >/dev/null
echo "== (a) extraction: reply -> image bytes, no pixel decode"
build/bench/bench_extract --runs "$runs"
echo
echo "== (b) validation: full check against a bare stbi_load_from_memory"
build/bench/bench_validate --runs "$runs"
echo
echo "== (c) peak memory to receive and extract one 4K answer over loopback"
build/bench/bench_receive --emulator build/emulator/nbcore-emulator --runs 3
echo
echo "== (d) 500 requests in flight at once against 2 s of server latency"
build/bench/bench_inflight --emulator build/emulator/nbcore-emulator --requests 500 --latency-ms 2000
echo
echo "== (f) compose operations (inpaint and cutout pixel work) on a 4K frame"
build/bench/bench_compose --runs "$runs"
echo
echo "== (g) state operations per request: memory, SQLite, Redis on loopback"
build/bench/bench_state
echo
echo "== (e) a burst of 3N requests against RPM = N (takes about 6 minutes: the quota is real time)"
build/bench/bench_burst --emulator build/emulator/nbcore-emulator --rpm 10
