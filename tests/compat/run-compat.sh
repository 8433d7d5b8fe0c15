#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Start a tests/compat program, built against the system's libaio.so.1, in
# the guest. Installed in tests/ under the names of the runs; each runs the
# program in ../libexec/compat named after itself:
#   tests/NAME         on kaio's libaio.so.1 from ../lib/compat, put first in
#                      LD_LIBRARY_PATH with no rebuild: exactly how a user
#                      runs an existing program (Documentation/compat.md);
#   tests/NAME_native  on the system's libaio and native AIO, with
#                      KAIO_COMPAT_NATIVE=1: the reference, in the same guest.
top=$(cd "$(dirname "$0")/.." && pwd)
name=$(basename "$0")
case $name in
*_native)
	export KAIO_COMPAT_NATIVE=1
	unset KAIO_COMPAT_LIBDIR
	exec "$top/libexec/compat/${name%_native}" "$@"
	;;
esac
unset KAIO_COMPAT_NATIVE
export KAIO_COMPAT_LIBDIR="$top/lib/compat"
LD_LIBRARY_PATH="$KAIO_COMPAT_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	exec "$top/libexec/compat/$name" "$@"
