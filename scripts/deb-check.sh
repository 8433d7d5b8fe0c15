#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check's package check: what a Debian 12 user does with kaio's
# packages, on this machine and in the QEMU guest. Prints "ok/not ok/skip
# deb: ..." lines (make check appends them to the summary); details go to
# build/deb/check.log. Steps:
#   1. make deb (scripts/mkdeb.sh): build the packages, lintian clean;
#   2. dpkg -i them here. kaio-dkms's postinst runs DKMS's autoinstall,
#      which builds (and installs, with depmod) kaio.ko for the kernels that
#      have headers: it never loads a module (refused here if DKMS is
#      configured with modprobe_on_install), and kaio.ko is never loaded
#      into this machine's kernel;
#   3. dkms build -k KVER (scripts/kver.sh, the guest's kernel) from the
#      installed /usr/src/kaio-VERSION, unless the postinst already did;
#   4. build programs against the installed packages: the README's C++
#      example with pkg-config kaio++ (no PKG_CONFIG_PATH: the multiarch
#      directory), one with pkg-config kaio, and a plain POSIX aio program
#      (tests/installed/posix_aio.c) as it is and with -lkaio-posix
#      (libkaio-posix-dev: it must need the packaged libkaio-posix.so.1);
#      libkaio-posix1 has its manual page and posix-aio.md;
#   5. boot the guest with THAT kaio.ko in /lib/modules/KVER/updates/dkms
#      (where dkms install puts it), the packages' files at their installed
#      paths and kaio.load=demand: nothing loads kaio.ko, and
#      tests/installed/kaio_installed.sh checks that /dev/kaio is there, that
#      its first open loads the module, and that fio (libaio), kaio-demo,
#      the README example and the POSIX aio program (LD_PRELOAD of the
#      packaged libkaio-posix.so.1, and the -lkaio-posix build) run on it,
#      the latter on libkaio-posix's kaio backend. Console:
#      build/deb/guest-check.log;
#   6. purge the packages again (those that were not installed before).
# Without root (or password-less sudo) steps 2-6 are skipped.
set -uo pipefail
# Run from make check, this inherits the parent make's jobserver flags
# without its file descriptors (every sub-make then warns and runs -j1);
# the builds below choose their own parallelism.
unset MAKEFLAGS MFLAGS MAKELEVEL
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out=$top/build/deb
log=$out/check.log
mkdir -p "$out"
: >"$log"
version=$(cat VERSION)
kver=$(scripts/kver.sh) || exit 1
pkgs=(kaio-dkms libkaio++0 libkaio++-dev libkaio-libaio1 libkaio-posix1 libkaio-posix-dev kaio-tools)
failed=0
result() { # ok|"not ok"|skip TEXT
	echo "$1 deb: $2"
	echo "RESULT: $1 deb: $2" >>"$log"
	[ "$1" = "not ok" ] && failed=1
	return 0
}
step() { echo "==== $* ====" >>"$log"; }

# ---- 1. build, lintian ------------------------------------------------------
step "make deb"
t0=$(date +%s)
scripts/mkdeb.sh >>"$log" 2>&1
rc=$?
t1=$(date +%s)
case $rc in
0 | 2)
	result ok "make deb builds ${pkgs[*]} ($((t1 - t0)) s)"
	if [ ! -f "$out/lintian.txt" ]; then
		result "not ok" "lintian did not run (not installed? make deps installs it)"
	elif [ $rc = 0 ]; then
		result ok "lintian: no error or warning ($(grep -c '^O: ' "$out/lintian.txt") overrides with reasons)"
	else
		result "not ok" "lintian: $(grep -cE '^[EW]: ' "$out/lintian.txt") errors/warnings: $(grep -m1 -E '^[EW]: ' "$out/lintian.txt")"
	fi
	;;
*)
	result "not ok" "make deb failed, see $out/build.log"
	exit 1
	;;
esac
debs=()
for p in "${pkgs[@]}"; do
	f=$(ls "$out/${p}_${version}_"*.deb 2>/dev/null | head -n1)
	[ -n "$f" ] || { result "not ok" "$p not built"; exit 1; }
	debs+=("$f")
done

# ---- 2. install here ----------------------------------------------------------
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if sudo -n true 2>/dev/null; then
		SUDO=sudo
	else
		result skip "install, dkms build and guest run need root (or sudo without a password)"
		exit $failed
	fi
fi
if grep -sqE '^[[:space:]]*modprobe_on_install=' /etc/dkms/framework.conf /etc/dkms/framework.conf.d/*.conf; then
	result "not ok" "DKMS is configured with modprobe_on_install: it would load modules on this machine; not installing"
	exit 1
fi
declare -A had=()
for p in "${pkgs[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] && had[$p]=1
done
purge() {
	local gone=() p
	for p in "${pkgs[@]}"; do [ -n "${had[$p]:-}" ] || gone+=("$p"); done
	[ ${#gone[@]} -eq 0 ] && return 0
	step "dpkg --purge ${gone[*]}"
	if $SUDO dpkg --purge "${gone[@]}" >>"$log" 2>&1; then
		result ok "dpkg --purge ${gone[*]} (installed by this check)"
	else
		result "not ok" "dpkg --purge ${gone[*]} failed, see $log"
	fi
}
host_loaded() { [ -d /sys/module/kaio ]; } # a loaded module has its directory there
was_loaded=0
host_loaded && was_loaded=1
step "dpkg -i ${debs[*]}"
t0=$(date +%s)
if $SUDO env DEBIAN_FRONTEND=noninteractive dpkg -i "${debs[@]}" >>"$log" 2>&1; then
	t1=$(date +%s)
	built=$(sed -n 's/^Building for //p' "$log" | tail -n1)
	result ok "dpkg -i of the ${#pkgs[@]} packages (DKMS autoinstall built for: ${built:-nothing}; $((t1 - t0)) s)"
else
	result "not ok" "dpkg -i failed, see $log"
	purge
	exit 1
fi
if [ $was_loaded = 0 ] && host_loaded; then
	result "not ok" "kaio.ko was loaded into this machine's kernel by the installation"
else
	result ok "this machine's kernel did not load kaio.ko (no /sys/module/kaio)"
fi

# ---- 3. kaio.ko for the guest kernel, from the installed package ---------------
step "dkms build -m kaio -v $version -k $kver"
status=$(dkms status -m kaio -v "$version" -k "$kver" 2>>"$log")
echo "dkms status: $status" >>"$log"
how="built by the postinst"
if ! grep -qE ': (built|installed)' <<<"$status"; then
	how="dkms build"
	$SUDO dkms build -m kaio -v "$version" -k "$kver" >>"$log" 2>&1
fi
ko=$(find "/var/lib/dkms/kaio/$version/$kver" -name 'kaio.ko*' 2>/dev/null | head -n1)
if [ -z "$ko" ]; then
	result "not ok" "dkms build -k $kver from /usr/src/kaio-$version: no kaio.ko, see $log"
	purge
	exit 1
fi
cp "$ko" "$out/kaio.ko"
modinfo "$out/kaio.ko" >>"$log" 2>&1
mv=$(modinfo -F version "$out/kaio.ko" 2>/dev/null)
aliases=$(modinfo -F alias "$out/kaio.ko" 2>/dev/null | sort | tr '\n' ' ')
if [ "$mv" = "$version" ] && [ "$aliases" = "char-major-10-246 devname:kaio " ]; then
	result ok "kaio.ko for $kver from the installed kaio-dkms ($how): version $mv, aliases ${aliases% }"
else
	result "not ok" "DKMS's kaio.ko: version '$mv' (want $version), aliases '$aliases'"
fi

# ---- 4. programs against the installed -dev package ----------------------------
root=$out/guest-root
rm -rf "$root"
mkdir -p "$root/kaio/installed" "$root/kaio/installed-tests"
# The README's example, exactly as printed there (between its marker and the
# end of the code block).
awk '/<!-- kaio-hello.cpp:/ { on = 1; next } on && /^```cpp/ { code = 1; next }
	code && /^```/ { exit } code { print }' README.md >"$root/kaio/installed/kaio-hello.cpp"
step "build against the installed libkaio++-dev"
env | grep '^PKG_CONFIG' >>"$log"
if [ -s "$root/kaio/installed/kaio-hello.cpp" ] &&
	g++ -O2 -Wall -Wextra -Werror -o "$root/kaio/installed/kaio-hello" "$root/kaio/installed/kaio-hello.cpp" \
		$(env -u PKG_CONFIG_PATH -u PKG_CONFIG_LIBDIR -u PKG_CONFIG_SYSROOT_DIR pkg-config --cflags --libs kaio++) >>"$log" 2>&1; then
	result ok "the README example builds with \$(pkg-config --cflags --libs kaio++) from the installed package ($(pkg-config --modversion kaio++))"
else
	result "not ok" "the README example does not build against the installed package, see $log"
fi
prog=$(mktemp -d)
printf '%s\n' '#include <kaio/kaio.hpp>' \
	'int main() { kaio::Context context; return context.is_open() ? 1 : 0; }' >"$prog/use.cpp"
if g++ -o "$prog/use" "$prog/use.cpp" $(env -u PKG_CONFIG_PATH pkg-config --cflags --libs kaio) >>"$log" 2>&1 &&
	"$prog/use" && ldd "$prog/use" | tee -a "$log" | grep "lib/$(gcc -print-multiarch)/libkaio++.so.0" >/dev/null; then
	result ok "a program builds with pkg-config kaio and runs with the packaged libkaio++.so.0"
else
	result "not ok" "pkg-config kaio: build, run or link check failed, see $log"
fi
rm -rf "$prog"
# POSIX aio: the program as it is (the guest preloads the library), and
# linked with -lkaio-posix from the installed libkaio-posix-dev (no -L: the
# multiarch directory), which must bind its <aio.h> references to the
# packaged libkaio-posix.so.1: readelf -V shows GLIBC_2.34 needed from it.
ma=$(gcc -print-multiarch)
step "POSIX aio program against the installed libkaio-posix-dev"
if gcc -O2 -Wall -Wextra -Werror -o "$root/kaio/installed/posix_aio" tests/installed/posix_aio.c >>"$log" 2>&1 &&
	gcc -O2 -Wall -Wextra -Werror -o "$root/kaio/installed/posix_aio-linked" tests/installed/posix_aio.c \
		-lkaio-posix >>"$log" 2>&1 &&
	ldd "$root/kaio/installed/posix_aio-linked" | tee -a "$log" |
		grep -E "=> (/usr)?/lib/$ma/libkaio-posix\.so\.1 " >/dev/null && # /lib: usrmerge's ld.so.cache
	readelf -V -W "$root/kaio/installed/posix_aio-linked" | tee -a "$log" |
		awk '{ for (i = 1; i < NF; i++) {
			if ($i == "File:") f = $(i + 1)
			else if ($i == "Name:" && $(i + 1) == "GLIBC_2.34" && f == "libkaio-posix.so.1") found = 1 } }
			END { exit !found }' &&
	"$root/kaio/installed/posix_aio-linked" "$root/posix_aio.dat" >>"$log" 2>&1; then
	result ok "a POSIX aio program builds with -lkaio-posix from the installed package and binds <aio.h> (GLIBC_2.34) to /usr/lib/$ma/libkaio-posix.so.1"
else
	result "not ok" "-lkaio-posix: build, link or run of tests/installed/posix_aio.c failed, see $log"
fi
rm -f "$root/posix_aio.dat"
posix_files=$(dpkg -L libkaio-posix1 libkaio-posix-dev 2>>"$log")
missing=
for f in /usr/lib/$ma/libkaio-posix.so.1 /usr/share/man/man7/kaio-posix.7.gz \
	 /usr/share/doc/libkaio-posix1/posix-aio.md.gz /usr/lib/$ma/libkaio-posix.so /usr/include/kaio-posix.h; do
	grep -qxF "$f" <<<"$posix_files" && [ -e "$f" ] || missing+=" $f"
done
if [ -z "$missing" ]; then
	result ok "libkaio-posix1 ships the library, kaio-posix(7) and posix-aio.md; libkaio-posix-dev the .so link and kaio-posix.h"
else
	result "not ok" "libkaio-posix packages lack:$missing"
fi

# ---- 5. the guest, from the installed packages ---------------------------------
step "guest root from dpkg -L"
for p in kaio-dkms libkaio++0 libkaio-libaio1 libkaio-posix1 kaio-tools; do
	dpkg -L "$p" | while IFS= read -r f; do
		[ -d "$f" ] && continue # directories, and links to them (/lib)
		[ -f "$f" ] || [ -L "$f" ] || continue
		case "$f" in /usr/share/doc/*) continue ;; esac
		# (not cp --parents: /lib is a link to usr/lib here)
		mkdir -p "$root${f%/*}" && cp -d "$f" "$root$f"
	done
done
install -m 0755 tests/installed/kaio_installed.sh "$root/kaio/installed-tests/kaio_installed"
(cd "$root" && find . ! -type d | LC_ALL=C sort) >>"$log"
step "guest"
t0=$(date +%s)
KAIO_INITRAMFS=$out/initramfs.cpio KAIO_GUEST_KO=$out/kaio.ko KAIO_GUEST_KO_DIR=updates/dkms \
	KAIO_GUEST_ROOT=$root KAIO_GUEST_BINS="/usr/bin/kmod /lib/systemd/systemd-udevd /usr/bin/udevadm" \
	KAIO_GUEST_LOGDIR=$out KAIO_GUEST_TIMEOUT=${KAIO_DEB_GUEST_TIMEOUT:-900} \
	scripts/run-guest.sh check kaio.load=demand kaio.testdir=installed-tests >"$out/guest-run.txt" 2>&1
t1=$(date +%s)
cat "$out/guest-run.txt" >>"$log"
# Every guest result, and run-guest.sh's own verdicts (crash, timeout).
grep -ao 'KAIO-RESULT: .*' "$out/guest-check.log" 2>/dev/null | tr -d '\r' | sed 's/^KAIO-RESULT: //' |
	while IFS= read -r r; do
		case "$r" in
		"not ok "*) result "not ok" "guest: ${r#not ok }" ;;
		"ok "*) result ok "guest: ${r#ok }" ;;
		"skip "*) result skip "guest: ${r#skip }" ;;
		esac
	done
grep -q '^not ok ' < <(grep -ao 'KAIO-RESULT: .*' "$out/guest-check.log" 2>/dev/null | sed 's/^KAIO-RESULT: //') && failed=1
while IFS= read -r r; do
	result "not ok" "${r#not ok }"
done < <(grep '^not ok guest: ' "$out/guest-run.txt")
echo "deb-check.sh: guest run $((t1 - t0)) s: $(tail -n1 "$out/guest-run.txt")" >>"$log"

# ---- 6. leave the machine as it was --------------------------------------------
purge
exit $failed
