# The checks every example caller passes, sourced by python_ctypes_test.sh and go_test.sh. The
# caller defines example_generate ARGS... and example_diagnose ARGS... (the example's own command
# lines, see examples/*/README.md) and sets: here (this directory), emulator, python, tmp.
#
#   1. diagnose: real 429 bodies give their class (a file, and stdin with a Retry-After header);
#   2. generate against the emulator scripted to answer 429 (RetryInfo 0.2 s) and then an image:
#      two attempts printed, a valid 1024x1024 PNG written, the cost printed;
#   3. generate with a key the emulator rejects: AUTH and the advice printed, exit 18 (10 + AUTH);
#   4. generate from Nano Banana Pro, which answers JPEG: out.png becomes out.jpg.

emu_pid=""
stop_emulator() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null || true; fi
  emu_pid=""
}

fail_with() {  # fail_with WHAT OUTPUT
  echo "FAILED: $1" >&2
  echo "--- output:" >&2
  echo "$2" >&2
  exit 1
}

expect() {  # expect WHAT OUTPUT PATTERN... (grep -E, each must match a line)
  local what=$1 out=$2
  shift 2
  for pattern in "$@"; do
    grep -Eq -- "$pattern" <<<"$out" || fail_with "$what: no line matches /$pattern/" "$out"
  done
}

run_checks() {
  local out rc key=examples-test-key

  # 1. diagnose
  out=$(example_diagnose 429 "$here/data/429-free-tier-rpm.json" 2>&1) || fail_with "diagnose RPM 429" "$out"
  expect "diagnose RPM 429" "$out" '^class: +RATE_LIMITED$' '^reason: +GenerateRequestsPerMinutePerProjectPerModel-FreeTier$' \
    '^retry in: +47\.0 s$' '^retryable: +yes$' '^advice: +.*requests-per-minute'
  out=$(example_diagnose 429 "$here/data/429-free-tier-tpm-rpm-rpd.json" 2>&1) || fail_with "diagnose RPD 429" "$out"
  expect "diagnose RPD 429" "$out" '^class: +QUOTA_EXHAUSTED$' '^reason: +GenerateRequestsPerDayPerProjectPerModel-FreeTier$' \
    '^retryable: +no$' '^advice: +.*midnight Pacific'
  out=$(example_diagnose --header "Retry-After: 7" 429 - <"$here/data/429-legacy.json" 2>&1) || fail_with "diagnose legacy 429" "$out"
  expect "diagnose legacy 429 from stdin" "$out" '^class: +RATE_LIMITED$' '^retry in: +7\.0 s$'
  echo "diagnose: RATE_LIMITED, QUOTA_EXHAUSTED, RATE_LIMITED (stdin, Retry-After) as expected"

  # 2.-4. generate against a fresh emulator
  printf '%s\n' '{"replies": [{"fault": "rpm_429", "retry_delay": 0.2}, "pass"]}' >"$tmp/script.json"
  "$emulator" --port 0 --key "$key" --script "$tmp/script.json" >"$tmp/emu.out" 2>"$tmp/emu.log" &
  emu_pid=$!
  local url=""
  for _ in $(seq 100); do
    url=$(head -n 1 "$tmp/emu.out")
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || fail_with "the emulator did not start" "$(cat "$tmp/emu.log")"
  export GOOGLE_GEMINI_BASE_URL=$url
  unset GOOGLE_API_KEY

  rc=0
  out=$(GEMINI_API_KEY=$key example_generate --model gemini-2.5-flash-image "a lighthouse at dawn" "$tmp/out.png" 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail_with "generate exited $rc" "$out"
  expect "generate" "$out" '^attempt 1: RATE_LIMITED \(HTTP 429, GenerateRequestsPerMinutePerProjectPerModel-FreeTier\).*server asked to wait 0\.2 s' \
    '^attempt 2: OK \(HTTP 200' '^wrote .*/out\.png: 1024x1024 image/png, [0-9]+ bytes, \$0\.[0-9]{3} after 2 attempt\(s\)$'
  "$python" "$here/check_png.py" "$tmp/out.png" 1024 1024 || fail_with "generate wrote a bad PNG" "$out"
  echo "generate: 429 then an image; $(grep '^wrote' <<<"$out")"

  rc=0
  out=$(GEMINI_API_KEY=not-the-key example_generate "a lighthouse" "$tmp/denied.png" 2>&1) || rc=$?
  [ "$rc" = 18 ] || fail_with "generate with a bad key exited $rc, not 18 (10 + AUTH)" "$out"
  expect "generate with a bad key" "$out" '^attempt 1: AUTH \(HTTP 400, API_KEY_INVALID\)' \
    ': AUTH: API key not valid' '^advice: .*aistudio\.google\.com/apikey'
  [ ! -e "$tmp/denied.png" ] || fail_with "generate with a bad key wrote a file" "$out"
  echo "generate with a bad key: exit 18, $(grep '^advice' <<<"$out" | cut -c1-80)..."

  rc=0
  out=$(GEMINI_API_KEY=$key example_generate --model gemini-3-pro-image-preview "a harbour" "$tmp/pro.png" 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail_with "generate (Pro) exited $rc" "$out"
  expect "generate (Pro)" "$out" '^wrote .*/pro\.jpg: 1024x1024 image/jpeg'
  [ "$(head -c 3 "$tmp/pro.jpg" | od -An -tx1 | tr -d ' ')" = ffd8ff ] || fail_with "pro.jpg is not a JPEG" "$out"
  [ ! -e "$tmp/pro.png" ] || fail_with "a JPEG was written as pro.png" "$out"
  echo "generate (Pro): JPEG written as pro.jpg"
  stop_emulator
}
