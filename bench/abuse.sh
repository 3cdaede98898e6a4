#!/bin/bash
# Abusive clients (issue 12): a ping flood, and clients that stop reading and
# then close, against a private httpd (event MPM, Debian's stock settings) and
# redis-server on free loopback ports. About 55 s with the defaults, 2 min
# with one --build (each build runs the whole sequence).
#
#   bench/abuse.sh [options]                       this worktree's build
#   bench/abuse.sh --build /work/main [options]    + another build, alternating,
#                                                  with the ratios at the end
# Options (defaults in brackets):
#   --build DIR          another built tree (repeatable); only its
#                        modules/*/.libs/*.so are read, nothing is built there
#   --rounds R           runs per build, alternating between builds [1]
#   --scenario S         both | flood | close [both]
#   --flooders N         ping flooders [50]
#   --flood-seconds T    length of the flood [20]
#   --ping-payload B     payload bytes per ping, 0..125 [0]
#   --quiet-seconds Q    members alone before the flood, for comparison [3]
#   --drain-seconds D    how long each client reads its socket afterwards [5]
#   --rss-cap-mib C      end the flood early if httpd's RSS passes C [4096]
#   --closers M          clients that stop reading, then close [200]
#   --after-close V      idle | shutdown | both: after its close frame a closer
#                        does nothing, or also half-closes (SHUT_WR) [both]
#   --watch-seconds W    how long the closers' server sockets are watched [10]
#   --text-len L         characters per chat message that fills the buffers [4000]
#
# Builds the modules (scripts/build.sh) and bench/ws_abuse (the C client), then
# runs bench/abuse.py, which prints the machine, this command and, per build
# and round, one block of figures (what each means: bench/README.md).
# Everything runs on 127.0.0.1; every phase has a time bound; httpd and Redis
# are stopped at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
cc -O2 -Wall -Wextra -pthread -o bench/ws_abuse bench/ws_abuse.c
ulimit -n 20000 2>/dev/null || true
exec /usr/bin/python3 bench/abuse.py --command "bench/abuse.sh${*:+ $*}" "$@"
