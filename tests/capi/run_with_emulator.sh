#!/usr/bin/env bash
# Runs a program with NBCORE_TEST_BASE_URL pointing at a freshly started nbcore-emulator
# (answers take 300 ms, so a job can be cancelled while the server works).
#   run_with_emulator.sh EMULATOR PROGRAM [ARGS...]
# NBCORE_EMULATOR_ARGS, when set, adds options to the emulator's command line.
set -euo pipefail
emulator=$1; shift
key=capi-test-key-0001
out=$(mktemp)
# shellcheck disable=SC2086  # NBCORE_EMULATOR_ARGS is a list of options
"$emulator" --port 0 --key "$key" --latency-ms 300 ${NBCORE_EMULATOR_ARGS:-} >"$out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
  url=$(head -n 1 "$out")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "emulator did not start" >&2; exit 1; }
NBCORE_TEST_BASE_URL=$url NBCORE_TEST_KEY=$key "$@"
