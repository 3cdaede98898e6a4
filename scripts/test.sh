#!/bin/bash
# The README's second command: installs what is missing, builds with
# -Werror, then runs every test: Check units, the pytest suite against real
# httpd + redis under the event MPM and again under prefork, and the
# conformance suite under valgrind. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
PY=/usr/bin/python3   # Debian's python3 has the test packages
LOGS=$(mktemp -d)
start=$(date +%s)
declare -a results=()
failed_stages=0
passed=0
failed=0

count() {  # add the test counts a stage printed
  local log="$1" p=0 f=0 line
  line=$(grep -E '(passed|failed|error).* in [0-9.]+s' "$log" | tail -1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
    f=$(echo "$line" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
  fi
  line=$(grep -E 'Checks: [0-9]+' "$log" | tail -1)
  if [ -n "$line" ]; then
    local c fl er
    c=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
    fl=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
    er=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
    p=$(( c - fl - er )); f=$(( fl + er ))
  fi
  passed=$(( passed + ${p:-0} ))
  failed=$(( failed + ${f:-0} ))
}

stage() {
  local name="$1"; shift
  local log="$LOGS/$(echo "$name" | tr -c 'a-z0-9' _).log"
  echo
  echo "=================== $name"
  local t0=$(date +%s)
  if "$@" 2>&1 | tee "$log"; then
    results+=("ok      $name ($(( $(date +%s) - t0 )) s)")
  else
    results+=("FAILED  $name ($(( $(date +%s) - t0 )) s)")
    failed_stages=$(( failed_stages + 1 ))
  fi
  count "$log"
}

stage "install dependencies" bash scripts/install-deps.sh
if ! bash scripts/build.sh; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
ulimit -n 65536 2>/dev/null || true
# playwright-core (pinned in tests/browser/package.json) drives /usr/bin/chromium
stage "browser test dependencies (npm)" npm install --prefix tests/browser --no-audit --no-fund --no-save

unit() { make -s check; local rc=$?; cat tests/unit/check_units.log; return $rc; }
stage "unit tests (Check)" unit
stage "pytest, event MPM" env CHAT_MPM=event $PY -m pytest tests -q -p no:cacheprovider
stage "pytest, prefork MPM" env CHAT_MPM=prefork $PY -m pytest tests -q -p no:cacheprovider
if [ "$(id -u)" = 0 ] && [ "${CHAT_SYSTEM_TESTS:-1}" = 1 ]; then
  # issue 18's acceptance: the .deb and make install on the machine's real
  # Apache, then everything undone (tests/system_install.py says how). The
  # README's command runs as root on a fresh machine, as CI does; elsewhere the
  # test refuses to start and fails saying why: CHAT_SYSTEM_TESTS=0 leaves it out
  stage "system install: package and make install on the system's apache2" \
    env CHAT_SYSTEM_TESTS=1 $PY -m pytest -q -p no:cacheprovider tests/system_install.py
else
  results+=("NOT RUN system install (needs root; CHAT_SYSTEM_TESTS=0 was set or not root)")
fi
if [ "${CHAT_SKIP_SANITIZE:-0}" != 1 ]; then
  # the multi-process suites (hand-over, restarts, bridge) under ASan + UBSan
  stage "hand-over, lifecycle and bridge under ASan/UBSan (event MPM)" bash scripts/sanitize.sh
fi
if [ "${CHAT_SKIP_VALGRIND:-0}" != 1 ]; then
  # one process (httpd -X): the suites that need several processes, signals
  # or timing (rate limits) stay out
  stage "conformance, rooms, AI and abuse under valgrind (event MPM, httpd -X)" \
    env CHAT_MPM=event CHAT_VALGRIND=1 $PY -m pytest -q -p no:cacheprovider \
      tests/test_ws_conformance.py tests/test_ws_handshake.py tests/test_rooms.py \
      tests/test_ai.py tests/test_ws_abuse.py -k "not rate and not browser"
fi

echo
echo "=================== summary ($(( $(date +%s) - start )) s)"
printf '%s\n' "${results[@]}"
rm -rf "$LOGS"
if [ "$failed_stages" -gt 0 ] && [ "$failed" -eq 0 ]; then
  failed=$failed_stages   # a stage failed without a test count (crash, build)
fi
echo "$passed passed, $failed failed"
[ "$failed_stages" -eq 0 ]
