#!/bin/bash
# Side by side: mod_chat vs Socket.IO 4 + @socket.io/redis-adapter vs a bare epoll server.
#   bench/compare.sh [--quick] [compare.py options: --connect N --rates 2,4,... --seconds S
#                     --server-cores 1 --client-cores 0 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
cc -O2 -Wall -Wextra -o bench/cmp_load bench/cmp_load.c
cc -O2 -Wall -Wextra -o bench/bare_server bench/bare_server.c
# the Socket.IO side: exact versions from bench/package-lock.json
(cd bench && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "versions: $(apache2 -v | head -1 | cut -d: -f2 | sed 's/^ //'), redis $(redis-server --version | grep -o 'v=[0-9.]*'), node $(node --version), socket.io $(node -p "require('./bench/node_modules/socket.io/package.json').version"), redis-adapter $(node -p "require('./bench/node_modules/@socket.io/redis-adapter/package.json').version")"
echo "command: bench/compare.sh $*"
echo "other load at start: $(cut -d' ' -f1-3 /proc/loadavg) (load average)"
exec /usr/bin/python3 bench/compare.py "$@"
