#!/bin/bash
# Connection capacity: N WebSockets (default 10000) held open on one httpd
# with Debian's stock event MPM settings, plus static GET latency meanwhile.
#   bench/capacity.sh [N] [HOLD_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
cc -O2 -Wall -Wextra -o bench/ws_capacity bench/ws_capacity.c
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: bench/capacity.sh ${1:-10000} ${2:-15}"
exec /usr/bin/python3 bench/capacity.py "${1:-10000}" "${2:-15}"
