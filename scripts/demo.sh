#!/usr/bin/env bash
# The main job, end to end: install what is missing, build, then generate an image through the
# Python package and write out/demo.png, printing every attempt, its classified outcome and wait.
#
#   scripts/demo.sh                          against the bundled emulator, which first answers
#                                            503 (overloaded), then 429 with RetryInfo 2 s
#   scripts/demo.sh "a red fox in snow" --aspect 16:9 --size 2K
#                                            your prompt and options (see `nbcore generate -h`)
#   GEMINI_API_KEY=... scripts/demo.sh --real "a red fox in snow"
#                                            the real Gemini API instead of the emulator
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

real=0
args=()
for a in "$@"; do
  case "$a" in
    --real) real=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) args+=("$a") ;;
  esac
done
prompt="a lighthouse on a cliff at dawn, oil painting"
if [ ${#args[@]} -gt 0 ] && [[ "${args[0]}" != -* ]]; then
  prompt="${args[0]}"
  args=("${args[@]:1}")
fi

echo "== installing dependencies (skipped when present)"
scripts/install-deps
echo "== building the nbcore Python package into .venv"
scripts/build-python
mkdir -p out
nbcore=("$root/.venv/bin/nbcore")

if [ "$real" = 1 ]; then
  if [ -z "${GOOGLE_API_KEY:-}${GEMINI_API_KEY:-}" ]; then
    echo "demo: --real needs GOOGLE_API_KEY or GEMINI_API_KEY (keys: https://aistudio.google.com/apikey)" >&2
    exit 2
  fi
  echo "== generating with the real Gemini API"
  exec "${nbcore[@]}" generate "$prompt" -o out/demo.png "${args[@]}"
fi

tmp=$(mktemp -d)
emu_pid=""
cleanup() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== starting the bundled emulator (script: 503 overloaded, then 429 asking for 2 s, then success)"
"${nbcore[@]}" emulator --port 0 --key demo-key --latency-ms 400 \
  --script scripts/demo-faults.json >"$tmp/emulator.out" 2>"$tmp/emulator.log" &
emu_pid=$!
url=""
for _ in $(seq 200); do   # it prints its URL on the first line as soon as it listens
  url=$(head -n 1 "$tmp/emulator.out" 2>/dev/null || true)
  [ -n "$url" ] && break
  kill -0 "$emu_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "demo: the emulator did not start; its log:" >&2
  cat "$tmp/emulator.log" >&2
  exit 1
fi
echo "   emulator listening at $url"

echo "== generating: \"$prompt\""
# The emulator's spend is not real: keep it out of your own state file (nbcore usage).
export NBCORE_STATE_FILE="$tmp/state.db"
status=0
env -u GOOGLE_API_KEY GEMINI_API_KEY=demo-key GOOGLE_GEMINI_BASE_URL="$url" \
  "${nbcore[@]}" generate "$prompt" -o out/demo.png --budget-daily 5 "${args[@]}" || status=$?
if [ "$status" = 0 ]; then
  echo "== quota and spend after the run (nbcore usage)"
  "${nbcore[@]}" usage || true
fi
exit $status
