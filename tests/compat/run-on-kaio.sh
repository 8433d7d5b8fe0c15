#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run kaio_compat_libaio, built against the system's libaio.so.1, on kaio's
# libaio.so.1 with no rebuild: exactly how a user runs an existing program
# (Documentation/compat.md). Installed as tests/kaio_compat_libaio; the
# library is in ../lib/compat, the program in ../libexec/compat.
top=$(cd "$(dirname "$0")/.." && pwd)
export KAIO_COMPAT_LIBDIR="$top/lib/compat"
LD_LIBRARY_PATH="$KAIO_COMPAT_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	exec "$top/libexec/compat/kaio_compat_libaio" "$@"
