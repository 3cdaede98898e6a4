#!/bin/bash
# wss:// capacity through haproxy: N sockets (default 10000) through Debian's
# haproxy running conf/haproxy.cfg in front of httpd's plain listener (event
# MPM, conf/chat-proxy.conf), held HOLD seconds (default 40), with httpd's and
# haproxy's RSS and threads, httpd's busy workers and a static GET's latency
# through haproxy while they are open. The client is Python asyncio
# (tests/wsasync.py) in CLIENTS processes (default 4).
#
#   bench/proxy_capacity.sh [N] [HOLD_SECONDS] [CLIENTS]   (the recorded run: 10000 40 4)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
# As high as allowed: haproxy needs two descriptors per socket.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 bench/proxy_capacity.py "${1:-10000}" "${2:-40}" "${3:-4}"
