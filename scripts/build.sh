#!/bin/bash
# Configures (once) and builds mod_chat in the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f Makefile ] || [ configure.ac -nt Makefile ] || [ Makefile.am -nt Makefile ]; then
  autoreconf -fi
  ./configure --enable-werror ${CHAT_CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)"
