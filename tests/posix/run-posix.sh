#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kaio-timeout: 1200
# Start the POSIX <aio.h> suite (tests/posix, ../libexec/posix/posix_aio[64])
# in the guest; installed in tests/ under the names of the runs:
#   kaio_posix_glibc[64]  glibc's own aio: the reference, in the same guest;
#   kaio_posix_kaio[64]   libkaio-posix (../lib/posix) by LD_PRELOAD on kaio,
#                         POSIX_AIO_BACKEND=kaio: the suite requires
#                         /dev/kaio open in the process, and this script that
#                         the library says "backend kaio" (KAIO_POSIX_DEBUG)
#                         and that kaio's module-wide 'submitted' counter
#                         (debugfs) grew: a silent fallback cannot pass;
#   kaio_posix_disabled   the library preloaded with KAIO_POSIX_DISABLE=1: it
#                         forwards to glibc, the suite's glibc expectations;
#   kaio_posix_fallback   the library preloaded with kaio.ko unloaded (no
#                         /dev/kaio; loaded again after the run): the same.
# Extra TAP cases of this script come after the suite's own.
top=$(cd "$(dirname "$0")/.." && pwd)
name=$(basename "$0")
LIB=$top/lib/posix/libkaio-posix.so.1
STATS=/sys/kernel/debug/kaio/stats
unset KAIO_POSIX_DISABLE KAIO_POSIX_DEBUG LD_PRELOAD
# kaio.posix_tests=GLOB,... on the guest's command line: only those cases.
if [ $# -eq 0 ] && [ -n "${POSIX_AIO_TESTS:-}" ]; then
	set -f
	set -- $POSIX_AIO_TESTS
	set +f
fi
export POSIX_AIO_DIR=${KAIO_EXT4_DIR:-/tmp} POSIX_AIO_TIME_SCALE=${POSIX_AIO_TIME_SCALE:-5}

prog=$top/libexec/posix/posix_aio
case $name in *64) prog=${prog}64 ;; esac

submitted() {
	awk '$1 == "submitted:" { print $2; f = 1 } END { if (!f) print -1 }' "$STATS" 2>/dev/null || echo -1
}

need_lib() {
	if [ ! -f "$LIB" ]; then
		echo "1..0 # SKIP $LIB not built (userlib/posix)"
		exit 4
	fi
}

case $name in
kaio_posix_glibc | kaio_posix_glibc64)
	export POSIX_AIO_BACKEND=glibc
	exec "$prog" "$@"
	;;
kaio_posix_kaio | kaio_posix_kaio64)
	need_lib
	[ -c /dev/kaio ] || { echo "Bail out! no /dev/kaio"; exit 1; }
	export POSIX_AIO_BACKEND=kaio
	probe=$(KAIO_POSIX_DEBUG=1 LD_PRELOAD=$LIB "$prog" backend_is_the_expected_one 2>&1)
	echo "$probe" | sed 's/^/# probe: /'
	before=$(submitted)
	LD_PRELOAD=$LIB "$prog" "$@"
	rc=$?
	after=$(submitted)
	if echo "$probe" | grep -q "libkaio-posix: backend kaio"; then
		echo "ok 1001 library_says_backend_kaio"
	else
		echo "not ok 1001 library_says_backend_kaio"
		rc=1
	fi
	echo "# kaio submitted: $before -> $after"
	if [ "$before" -ge 0 ] && [ "$after" -gt "$before" ]; then
		echo "ok 1002 kaio_counter_grew"
	else
		echo "not ok 1002 kaio_counter_grew"
		rc=1
	fi
	exit $rc
	;;
kaio_posix_disabled)
	need_lib
	export POSIX_AIO_BACKEND=glibc KAIO_POSIX_DISABLE=1
	before=$(submitted)
	probe=$(KAIO_POSIX_DEBUG=1 LD_PRELOAD=$LIB "$prog" backend_is_the_expected_one 2>&1)
	echo "$probe" | sed 's/^/# probe: /'
	LD_PRELOAD=$LIB "$prog" "$@"
	rc=$?
	after=$(submitted)
	if echo "$probe" | grep -q "libkaio-posix: backend glibc"; then
		echo "ok 1001 library_says_backend_glibc"
	else
		echo "not ok 1001 library_says_backend_glibc"
		rc=1
	fi
	echo "# kaio submitted: $before -> $after"
	if [ "$after" = "$before" ]; then
		echo "ok 1002 kaio_counter_unchanged"
	else
		echo "not ok 1002 kaio_counter_unchanged"
		rc=1
	fi
	exit $rc
	;;
kaio_posix_fallback)
	need_lib
	export POSIX_AIO_BACKEND=glibc
	if ! rmmod kaio; then
		echo "Bail out! cannot unload kaio.ko for the fallback run"
		exit 1
	fi
	[ ! -e /dev/kaio ] || echo "# /dev/kaio still there after rmmod kaio"
	probe=$(KAIO_POSIX_DEBUG=1 LD_PRELOAD=$LIB "$prog" backend_is_the_expected_one 2>&1)
	echo "$probe" | sed 's/^/# probe: /'
	LD_PRELOAD=$LIB "$prog" "$@"
	rc=$?
	if echo "$probe" | grep -q "libkaio-posix: backend glibc"; then
		echo "ok 1001 library_says_backend_glibc"
	else
		echo "not ok 1001 library_says_backend_glibc"
		rc=1
	fi
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
*)
	echo "Bail out! unknown run $name"
	exit 1
	;;
esac
