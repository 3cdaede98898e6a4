#!/bin/bash
# Fan-out: N clients over R rooms sending at RATE msg/s each (or "sweep").
#   bench/fanout.sh [N] [ROOMS] [RATE|sweep] [SECONDS] [ai CALLS [ROUNDS] | wait]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
cc -O2 -Wall -Wextra -o bench/ws_fanout bench/ws_fanout.c
ulimit -n 20000 2>/dev/null || true
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: bench/fanout.sh ${1:-1000} ${2:-10} ${3:-1} ${4:-20} ${5:-} ${6:-} ${7:-}"
exec /usr/bin/python3 bench/fanout.py "${1:-1000}" "${2:-10}" "${3:-1}" "${4:-20}" ${5:-} ${6:-} ${7:-}
