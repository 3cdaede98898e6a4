#!/bin/bash
# Connection capacity: N WebSockets (default 10000) held open on one httpd with
# Debian's stock event MPM settings, with the server's RSS, processes, threads
# and busy workers, and a static GET's latency, while they are open.
#
#   bench/capacity.sh [N] [HOLD_SECONDS] [ws_capacity options...]   (defaults 10000 40)
#   e.g. bench/capacity.sh 10000 40     (the recorded run; the server pings every 30 s)
#        bench/capacity.sh 30000 10 --sources 2     (needs a 30,016+ fd hard limit)
#
# Builds the modules (scripts/build.sh) and bench/ws_capacity, raises the
# open-file limit (inherited by httpd), and runs bench/capacity.py, which
# starts a private redis-server and httpd on free loopback ports, stops them
# on exit or on SIGINT/SIGTERM/SIGHUP, and prints one summary block.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
HOLD=${2:-40}
shift $(($# < 2 ? $# : 2))
bash scripts/build.sh >/dev/null
cc -O2 -Wall -Wextra -o bench/ws_capacity bench/ws_capacity.c
# As high as allowed: 200000, else the hard limit (a container may cap it).
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 bench/capacity.py "$N" "$HOLD" "$@"
