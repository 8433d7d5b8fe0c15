#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Start a tests/compat program, built against the system's libaio.so.1, in
# the guest. Installed in tests/ under the names of the runs; each runs the
# program in ../libexec/compat named after itself:
#   tests/NAME                  on kaio's libaio.so.1 from ../lib/compat, put
#                               first in LD_LIBRARY_PATH with no rebuild:
#                               exactly how a user runs an existing program
#                               (Documentation/compat.md);
#   tests/NAME_native           on the system's libaio and native AIO, with
#                               KAIO_COMPAT_NATIVE=1: the reference, in the
#                               same guest;
#   tests/NAME_fallback         on kaio's libaio.so.1 with kaio.ko unloaded
#                               for the run (rmmod; loaded again after it, as
#                               /init loads it), so there is no /dev/kaio and
#                               the library falls back to native AIO: the
#                               reference's expectations, KAIO_COMPAT_NATIVE=1;
#   tests/NAME_fallback_forced  the same, native AIO asked for with
#                               KAIO_COMPAT_BACKEND=native.
top=$(cd "$(dirname "$0")/.." && pwd)
name=$(basename "$0")
# Only what each run sets below reaches the library and the program.
unset KAIO_COMPAT_NATIVE KAIO_COMPAT_LIBDIR KAIO_COMPAT_BACKEND KAIO_COMPAT_DEVICE \
	KAIO_COMPAT_ASYNC_WRITES KAIO_COMPAT_DEBUG
case $name in
*_native)
	export KAIO_COMPAT_NATIVE=1
	exec "$top/libexec/compat/${name%_native}" "$@"
	;;
*_fallback)
	name=${name%_fallback}
	export KAIO_COMPAT_NATIVE=1 KAIO_COMPAT_LIBDIR="$top/lib/compat"
	# The same program as tests/NAME, on a guest without kaio.ko.
	if ! rmmod kaio; then
		echo "Bail out! cannot unload kaio.ko for the fallback run"
		exit 1
	fi
	[ ! -e /dev/kaio ] || { echo "# /dev/kaio still there after rmmod kaio"; }
	LD_LIBRARY_PATH="$KAIO_COMPAT_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
		"$top/libexec/compat/$name" "$@"
	rc=$?
	# Back as /init loaded it, for the programs after this one.
	if ! insmod /kaio/kaio.ko; then
		echo "# cannot load kaio.ko again after the fallback run"
		exit 1
	fi
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -c /dev/kaio ] && break
		sleep 0.2
	done
	[ -c /dev/kaio ] || { echo "# kaio.ko loaded again but no /dev/kaio"; exit 1; }
	exit $rc
	;;
*_fallback_forced)
	name=${name%_fallback_forced}
	export KAIO_COMPAT_NATIVE=1 KAIO_COMPAT_BACKEND=native
	;;
esac
export KAIO_COMPAT_LIBDIR="$top/lib/compat"
LD_LIBRARY_PATH="$KAIO_COMPAT_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	exec "$top/libexec/compat/$name" "$@"
