#!/bin/bash
# ASan + UBSan over the suites valgrind cannot take (several processes,
# signals, sockets passed between children): builds a sanitized copy of the
# working tree in a temporary directory, runs the given test files (default:
# hand-over, lifecycle, bridge) against it under the event MPM with libasan
# preloaded into httpd, and fails on any sanitizer report.
#
#   scripts/sanitize.sh [tests/test_x.py ...]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(tests/test_handover.py tests/test_ws_lifecycle.py tests/test_ws_bridge.py)
DIR=$(mktemp -d /tmp/chat-sanitize-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
# httpd's children (www-data) walk this tree too: the admin API's Alias maps
# into it, and mktemp's 0700 made every such request a 403
chmod 755 "$DIR"
# the working tree as it is (tracked files, changes included)
git ls-files -z | tar --null -cf - -T - | tar -xf - -C "$DIR"
cd "$DIR"
SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
if ! { autoreconf -fi >/dev/null 2>&1 && ./configure --enable-werror CFLAGS="$SAN" \
        LDFLAGS="-fsanitize=address,undefined" >/dev/null && make -j"$(nproc)" >build.log 2>&1; }; then
  tail -20 build.log
  echo "sanitized build failed"
  exit 1
fi
ASAN_LIB=$(gcc -print-file-name=libasan.so)
mkdir -p reports
# httpd is not instrumented: the runtime is preloaded. Both modules carry
# libchatcore (odr), and the runtime's own alternate signal stacks trip on
# httpd's thread exits (use_sigaltstack=0).
export LD_PRELOAD="$ASAN_LIB"
export ASAN_OPTIONS="detect_leaks=0:detect_odr_violation=0:use_sigaltstack=0:verify_asan_link_order=0:log_path=$DIR/reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$DIR/reports/ubsan"
CHAT_MPM=event $PY -m pytest -q -p no:cacheprovider "${TESTS[@]}"
rc=$?
unset LD_PRELOAD
if compgen -G "reports/*" >/dev/null; then
  for f in reports/*; do echo "== $f"; head -60 "$f"; done
  echo "sanitizer reports: $(ls reports | wc -l)"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "no sanitizer reports"
exit $rc
