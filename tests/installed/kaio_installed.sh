#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kaio as a Debian user gets it, in the guest booted by scripts/deb-check.sh
# with kaio.load=demand: kaio.ko as `dkms install` of the installed
# kaio-dkms package puts it (/lib/modules/KVER/updates/dkms, depmod run),
# the packages' files at their installed paths, and nothing that loads the
# module (no modprobe, no insmod: /init made /dev/kaio from modules.devname
# with kmod static-nodes and started systemd-udevd with the package's rule).
# Checks that the node is there before the module, that the first open loads
# it, and that programs run on it: fio, an unmodified libaio program, on
# the libkaio-libaio1 drop-in (LD_LIBRARY_PATH and LD_PRELOAD), kaio-demo
# (kaio-tools), the README's example, built on the host against the
# installed libkaio++-dev through pkg-config (/kaio/installed/), and a
# plain POSIX aio program (tests/installed/posix_aio.c) on the installed
# libkaio-posix1, by LD_PRELOAD and linked with -lkaio-posix
# (libkaio-posix-dev): its backend must be kaio. TAP output.
# kaio-timeout: 600

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n $1"; }
check() { # NAME COMMAND...: one case, ok when COMMAND succeeds
	case_name=$1
	shift
	if "$@"; then ok "$case_name"; else not_ok "$case_name"; fi
}
loaded() { grep -q '^kaio ' /proc/modules; }
logged() { # TAG COMMAND...: run it, its output as comments; its status
	tag=$1
	shift
	"$@" >/tmp/kaio-installed.log 2>&1
	rc=$?
	sed "s/^/# $tag: /" /tmp/kaio-installed.log | cut -c1-200
	return $rc
}

echo "1..14"
dir=${KAIO_EXT4_DIR:-/tmp}
kver=$(uname -r)
compat=$(ls -d /usr/lib/*/kaio/compat 2>/dev/null | head -n1)
posix=$(ls /usr/lib/*/libkaio-posix.so.1 2>/dev/null | head -n1)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' /usr/src/kaio-*/dkms.conf 2>/dev/null | head -n1)
echo "# kernel $kver, kaio-dkms $version, drop-in in ${compat:-?}, libkaio-posix ${posix:-?}"
grep '^kaio ' /lib/modules/"$kver"/modules.devname | sed 's/^/# modules.devname: /'
grep 'kaio.ko:' /lib/modules/"$kver"/modules.dep | sed 's/^/# modules.dep: /'
ls -l /dev/kaio 2>&1 | sed 's/^/# /'

check "kaio.ko is not loaded after boot" sh -c '! grep -q "^kaio " /proc/modules'
check "kaio.ko is in the module tree where dkms install puts it" \
	grep -q '^updates/dkms/kaio.ko:' /lib/modules/"$kver"/modules.dep
check "modules.devname has kaio's node (c10:246)" \
	grep -qx 'kaio kaio c10:246' /lib/modules/"$kver"/modules.devname
check "/dev/kaio is there before the module: char 10:246" \
	sh -c '[ -c /dev/kaio ] && [ "$(stat -c %t:%T /dev/kaio)" = a:f6 ]'
check "/dev/kaio has the udev rule's mode (0666) before the module" \
	sh -c '[ "$(stat -c %a /dev/kaio)" = 666 ]'

# The first open of /dev/kaio: fio's io_setup() through the drop-in, which
# must get a kaio context (KAIO_COMPAT_BACKEND=kaio: no native fallback).
fio_job() { # JOB ENV...: a small random-read job on ext4 through libaio
	job=$1
	shift
	logged fio env "$@" KAIO_COMPAT_BACKEND=kaio KAIO_COMPAT_DEBUG=1 /usr/bin/fio \
		--name="$job" --ioengine=libaio --filename="$dir/kaio-installed.fio" \
		--size=4m --bs=4k --rw=randread --iodepth=16 --direct=0 --minimal &&
		grep -q 'io_setup([0-9]*): kaio context' /tmp/kaio-installed.log
}
check "fio (libaio engine) with LD_LIBRARY_PATH=$compat runs on kaio" \
	fio_job ld-library-path LD_LIBRARY_PATH="$compat"
check "that open loaded kaio.ko (request_module char-major-10-246)" loaded
check "the loaded kaio.ko is kaio-dkms's version ($version)" \
	sh -c '[ -n "$1" ] && [ "$(cat /sys/module/kaio/version)" = "$1" ]' sh "$version"
echo "# /sys/module/kaio/version: $(cat /sys/module/kaio/version 2>&1)"
/usr/bin/udevadm settle -t 30 2>/dev/null
check "/dev/kaio keeps mode 0666 once the module registered it" \
	sh -c '[ -c /dev/kaio ] && [ "$(stat -c %a:%t:%T /dev/kaio)" = 666:a:f6 ]'
check "fio with LD_PRELOAD=$compat/libaio.so.1 runs on kaio" \
	fio_job ld-preload LD_PRELOAD="$compat/libaio.so.1"
check "kaio-demo (kaio-tools) runs" \
	logged kaio-demo /usr/bin/kaio-demo --dir "$dir" --size-mib 1 --ops 64
echo "kaio's README example reads this file" >"$dir/hello.txt"
check "the README example (built with pkg-config kaio++) runs on kaio" \
	logged kaio-hello /kaio/installed/kaio-hello "$dir/hello.txt"
# POSIX aio: the library says which backend serves the process
# (KAIO_POSIX_DEBUG=1: one "libkaio-posix: backend ..." line on stderr).
posix_job() { # PROGRAM ENV...: posix_aio.c's write, fsync, lio_listio reads
	prog=$1
	shift
	logged "${prog##*/}" env "$@" KAIO_POSIX_DEBUG=1 "$prog" "$dir/kaio-posix.dat" &&
		grep -qx 'libkaio-posix: backend kaio' /tmp/kaio-installed.log
}
check "a POSIX aio program with LD_PRELOAD=$posix runs on kaio (backend kaio)" \
	posix_job /kaio/installed/posix_aio LD_PRELOAD="$posix"
check "a POSIX aio program linked with -lkaio-posix (libkaio-posix-dev) runs on kaio" \
	posix_job /kaio/installed/posix_aio-linked
rm -f "$dir/kaio-installed.fio" "$dir/hello.txt" "$dir/kaio-posix.dat"
exit $failed
