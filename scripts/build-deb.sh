#!/bin/bash
# Builds libapache2-mod-chat_*.deb from this checkout with
# `dpkg-buildpackage -us -uc -b`, in a copy of the tracked files (the
# checkout's own build, configured for development, is left alone), then runs
# lintian on it. The .deb, .changes and lintian's output land in OUT.
#   scripts/build-deb.sh [OUT]    (default OUT: ./dist)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT=$(realpath -m "${1:-$REPO/dist}")
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/mod-chat-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC="$WORK/mod-chat-$(dpkg-parsechangelog -l debian/changelog -S Version)"
mkdir -p "$SRC"
# the files git knows (committed or not), without build products
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$SRC"
cd "$SRC"
dpkg-buildpackage -us -uc -b >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log" >&2; exit 1; }
cp "$WORK"/*.deb "$WORK"/*.changes "$WORK"/*.buildinfo "$OUT"/
# lintian: errors fail the build; the rest is kept for docs/PACKAGING.md
lintian --info --display-info "$WORK"/*.changes >"$OUT/lintian.txt" 2>&1 || true
cat "$OUT/lintian.txt"
if grep -q '^E: ' "$OUT/lintian.txt"; then
  echo "build-deb: lintian reports errors" >&2
  exit 1
fi
ls "$OUT"/*.deb
