#!/usr/bin/env bash
# nbcore (C++ and Python) side by side with Google's official SDKs (google-genai for Python,
# @google/genai for JavaScript, retries switched on) against one nbcore-emulator on loopback;
# prints one table with ratios to nbcore C++ (bench/README.md, "Against the official SDKs").
# Installs what it needs first: system packages and .venv (scripts/install-deps), nbcore's
# Python module (scripts/build-python), bench/requirements.txt into .venv, and bench/package.json
# into bench/node_modules with npm ci. Needs PyPI and the npm registry on the first run.
#   bench/compare.sh [--quick] [--workloads a,b,c,d,e] [--clients cxx,nbcore-py,genai-py,genai-js]
# About 20 minutes after the installs (the quota workloads wait out real minutes); --quick under 10.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is needed for the @google/genai client" >&2; exit 1; }
done
scripts/install-deps
echo "compare.sh: building nbcore's Python module into .venv (scripts/build-python)"
scripts/build-python
stamp=.venv/.nbcore-bench-requirements
if ! cmp -s bench/requirements.txt "$stamp" 2>/dev/null; then
  echo "compare.sh: installing bench/requirements.txt into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$stamp"
fi
lock_stamp=bench/node_modules/.nbcore-package-lock.json
if ! cmp -s bench/package-lock.json "$lock_stamp" 2>/dev/null; then
  echo "compare.sh: installing bench/package.json into bench/node_modules (npm ci)"
  (cd bench && npm ci --no-audit --no-fund --loglevel=error)
  cp bench/package-lock.json "$lock_stamp"
fi
echo "compare.sh: building nbcore-emulator and bench_compare_nbcore"
cmake -S . -B build -G Ninja -DNBCORE_BUILD_BENCH=ON >/dev/null
cmake --build build -j"$(nproc)" --target nbcore-emulator bench_compare_nbcore >/dev/null
exec .venv/bin/python bench/compare.py --emulator build/emulator/nbcore-emulator \
  --cxx build/bench/bench_compare_nbcore "$@"
