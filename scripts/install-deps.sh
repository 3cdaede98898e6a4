#!/bin/bash
# Installs what building, running and testing mod_chat needs on Debian 12.
# Idempotent: apt-get runs only when a package is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential autoconf automake libtool pkg-config
  apache2 apache2-dev libhiredis-dev libjson-c-dev libcurl4-openssl-dev libgd-dev libssl-dev
  check
  # run
  redis-server openssl ssl-cert fonts-noto-cjk curl
  # Redis Sentinel failover (docs/HA.md, tests/test_sentinel.py)
  redis-sentinel
  # TLS in front of httpd for wss:// at scale (conf/haproxy.cfg, tests/test_tls_proxy.py)
  haproxy
  # test (Debian's python3, not a pyenv one)
  python3 python3-pytest python3-websockets python3-redis python3-requests python3-pil
  valgrind
  # browser tests: Debian's Chromium driven by playwright-core (npm)
  chromium
  # the Debian package (debian/, dpkg-buildpackage; dh_apache2 comes with apache2-dev)
  # and the Basic-auth recipe's htpasswd
  debhelper devscripts lintian dpkg-dev fakeroot apache2-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# node and npm: the machine image has them; install Debian's only if missing
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends nodejs npm
fi
exit 0
