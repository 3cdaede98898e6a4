#!/bin/bash
# Configures (again when configure.ac/Makefile.am changed or the tree was
# configured without --enable-werror) and builds mod_chat in the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f Makefile ] || [ configure.ac -nt Makefile ] || [ Makefile.am -nt Makefile ] \
   || ! grep -q -- '--enable-werror' config.status 2>/dev/null; then
  autoreconf -fi
  ./configure --enable-werror ${CHAT_CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)"
