#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install into a staging DESTDIR, on the host: every piece is where
# the docs say (multiarch libraries, DKMS tree, udev rule, kaio-demo), the
# version is VERSION's everywhere, depmod finds kaio's devname alias, the
# DKMS tree builds, a program builds against the staged libkaio++ through
# pkg-config, the manual pages are where man(1) finds them, KAIO_DEV_MODE
# reaches the rule, libkaio-posix (library, soname link, -lkaio-posix link,
# kaio-posix.h, kaio-posix(7)) is there and a <aio.h> program linked with
# -lkaio-posix against the staged tree binds aio_read to it, and make
# uninstall removes it all. Prints "ok/not ok
# install: ..." lines. Nothing is loaded.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
stage=$top/build/install-stage
log=$top/build/install-check.log
kver=$(scripts/kver.sh)
version=$(cat VERSION)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
lib=usr/lib/$ma
dkms=usr/src/kaio-$version
rm -rf "$stage" "$stage".*
mkdir -p build
if ! make --no-print-directory install DESTDIR="$stage" PREFIX=/usr >"$log" 2>&1; then
	echo "not ok install: make install failed, see $log"
	exit 1
fi
failed=0
bad() { echo "not ok install: $*"; failed=1; }

missing=0
for f in lib/modules/$kver/updates/kaio.ko $dkms/dkms.conf $dkms/VERSION \
	 $dkms/Kbuild $dkms/module/Kbuild $dkms/module/rw.c $dkms/uapi/linux/kaio.h \
	 lib/udev/rules.d/60-kaio.rules usr/bin/kaio-demo \
	 usr/include/linux/kaio.h usr/include/kaio/context.hpp \
	 $lib/libkaio++.a $lib/libkaio++.so $lib/libkaio++.so.0 $lib/libkaio++.so.$version \
	 $lib/pkgconfig/kaio.pc $lib/pkgconfig/kaio++.pc $lib/kaio/compat/libaio.so.1 \
	 $lib/libkaio-posix.so.1 $lib/libkaio-posix.so usr/include/kaio-posix.h; do
	[ -e "$stage/$f" ] || { bad "$f missing"; missing=1; }
done
[ $missing = 0 ] && echo "ok install: module, dkms tree, udev rule, libraries in /usr/lib/$ma, headers, kaio.pc, drop-in, libkaio-posix, kaio-demo"
[ -e "$stage/usr/src/kaio-$version/module/kaio.mod.c" ] && bad "the dkms tree has kbuild's kaio.mod.c"
# The manual pages: each of man/manN/ in usr/share/man/manN, as it is, and
# man(1) finds a page and an alias (.so) in the staged tree.
man_missing=()
man_files=(man/man[1-9]/*.[1-9])
for f in "${man_files[@]}"; do
	cmp -s "$f" "$stage/usr/share/man/${f#man/}" || man_missing+=("${f#man/}")
done
if [ ${#man_missing[@]} -ne 0 ]; then
	bad "manual pages not installed: ${man_missing[*]}"
elif command -v man >/dev/null &&
     ! { man -P cat -M "$stage/usr/share/man" 4 kaio 2>/dev/null | grep KAIO_IOC_SETUP >/dev/null &&
	 man -P cat -M "$stage/usr/share/man" 3 kaio_make_write 2>/dev/null | grep make_write >/dev/null; }; then
	bad "man -M $stage/usr/share/man does not show kaio(4) or the alias kaio_make_write(3)"
else
	echo "ok install: manual pages in usr/share/man (${#man_files[@]} files)"
fi

# One version: VERSION, and everything that says one.
versions="VERSION=$version"
vfail=0
v() {
	versions="$versions $1=$2"
	[ "$2" = "$version" ] || { bad "$1 says '$2', VERSION $version"; vfail=1; }
}
v dkms.conf "$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$stage/$dkms/dkms.conf" 2>/dev/null)"
v kaio++.pc "$(sed -n 's/^Version: //p' "$stage/$lib/pkgconfig/kaio++.pc" 2>/dev/null)"
v kaio.ko "$(modinfo -F version "$stage/lib/modules/$kver/updates/kaio.ko" 2>/dev/null)"
v debian/changelog "$(dpkg-parsechangelog -S Version 2>/dev/null)"
echo "# install: $versions" >>"$log"
[ $vfail = 0 ] && echo "ok install: one version ($version): dkms.conf, kaio++.pc, kaio.ko, debian/changelog"

# On-demand loading: depmod turns the aliases into modules.devname.
depmod -b "$stage" "$kver" >>"$log" 2>&1
if grep -qx 'kaio kaio c10:246' "$stage/lib/modules/$kver/modules.devname" 2>/dev/null &&
	grep -q '^alias char-major-10-246 kaio$' "$stage/lib/modules/$kver/modules.alias"; then
	echo "ok install: depmod gives kaio.ko's node (modules.devname: kaio kaio c10:246) and char-major-10-246"
else
	bad "depmod: no devname or char-major alias for kaio (see $log)"
fi
rm -f "$stage/lib/modules/$kver"/modules.*
if grep -qx 'KERNEL=="kaio", SUBSYSTEM=="misc", MODE="0666", OPTIONS+="static_node=kaio"' \
	"$stage/lib/udev/rules.d/60-kaio.rules"; then
	echo "ok install: udev rule: /dev/kaio 0666, static node included"
else
	bad "60-kaio.rules does not give /dev/kaio (and its static node) mode 0666"
fi
# PREFIX=/usr/local (the default): /usr/local/lib/<multiarch>, the rule in
# /etc/udev/rules.d; KAIO_DEV_MODE reaches it.
if make --no-print-directory install-udev install-lib DESTDIR="$stage.local" KAIO_DEV_MODE=0660 >>"$log" 2>&1 &&
	grep -q 'MODE="0660"' "$stage.local/etc/udev/rules.d/60-kaio.rules" &&
	[ -e "$stage.local/usr/local/lib/$ma/libkaio++.so.0" ] &&
	[ -e "$stage.local/usr/local/lib/$ma/libkaio-posix.so.1" ] &&
	[ -e "$stage.local/usr/local/lib/$ma/pkgconfig/kaio++.pc" ]; then
	echo "ok install: PREFIX=/usr/local: /usr/local/lib/$ma, /etc/udev/rules.d, KAIO_DEV_MODE=0660"
else
	bad "PREFIX=/usr/local or KAIO_DEV_MODE=0660 install wrong, see $log"
fi
rm -rf "$stage.local"

# The dkms tree must build as dkms would build it.
if make -C "/lib/modules/$kver/build" M="$stage/$dkms" modules >>"$log" 2>&1 &&
   [ -e "$stage/$dkms/module/kaio.ko" ] &&
   [ "$(modinfo -F version "$stage/$dkms/module/kaio.ko")" = "$version" ]; then
	echo "ok install: the dkms source tree builds kaio.ko $version"
else
	bad "the dkms source tree does not build, see $log"
fi
prog=$(mktemp -d)
cat >"$prog/use.cpp" <<'CPP'
#include <kaio/kaio.hpp>
int main() { return sizeof(kaio::Context) > 0 ? 0 : 1; }
CPP
if g++ -o "$prog/use" "$prog/use.cpp" $(PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$stage/$lib/pkgconfig \
	pkg-config --cflags --libs kaio) >>"$log" 2>&1; then
	echo "ok install: a program builds and links with pkg-config kaio"
else
	bad "pkg-config kaio build failed, see $log"
fi
rm -rf "$prog"

# libkaio-posix: the library under its soname in the multiarch directory
# (not private like the libaio drop-in: its soname is its own, so only a
# program linked with -lkaio-posix or run with LD_PRELOAD gets it), the
# development link to it, and kaio-posix(7).
pl=$stage/$lib/libkaio-posix.so.1
psoname=$(readelf -d "$pl" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ -f "$pl" ] && [ ! -L "$pl" ] && [ "$psoname" = libkaio-posix.so.1 ] &&
	[ "$(readlink "$stage/$lib/libkaio-posix.so")" = libkaio-posix.so.1 ] &&
	cmp -s man/man7/kaio-posix.7 "$stage/usr/share/man/man7/kaio-posix.7"; then
	echo "ok install: libkaio-posix.so.1 (soname $psoname) in /usr/lib/$ma, libkaio-posix.so -> libkaio-posix.so.1, kaio-posix(7)"
else
	bad "libkaio-posix: library '$psoname', link '$(readlink "$stage/$lib/libkaio-posix.so")' or kaio-posix(7) wrong in the stage"
fi
# A program of glibc's <aio.h> linked with -lkaio-posix against the staged
# tree (nothing from build/): it needs libkaio-posix.so.1, its aio_read
# reference is versioned for that library (readelf -V), and the loader
# binds it there (LD_DEBUG=bindings; on this machine the library falls
# back to glibc, which is fine: only the binding is checked).
prog=$(mktemp -d)
cat >"$prog/aio.c" <<'C'
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <kaio-posix.h>
int main(void)
{
	struct aiocb cb;
	const struct aiocb *l[1] = { &cb };
	char buf[4];
	int fd = open("/proc/self/exe", O_RDONLY);

	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = sizeof(buf);
	if (fd < 0 || aio_read(&cb))
		return 1;
	while (aio_error(&cb) == EINPROGRESS)
		aio_suspend(l, 1, NULL);
	if (aio_return(&cb) != 4 || memcmp(buf, "\177ELF", 4))
		return 1;
	printf("backend %s\n", kaio_posix_backend());
	return 0;
}
C
if cc -O2 -Wall -Werror -I"$stage/usr/include" -o "$prog/aio" "$prog/aio.c" \
	-L"$stage/$lib" -lkaio-posix >>"$log" 2>&1; then
	needed=$(readelf -d "$prog/aio" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	# readelf -V: the version needs of the program, per file.
	vneed=$(readelf -V -W "$prog/aio" | awk '{ for (i = 1; i < NF; i++) {
		if ($i == "File:") f = $(i + 1); else if ($i == "Name:") print f ":" $(i + 1) } }' | tr '\n' ' ')
	LD_LIBRARY_PATH="$stage/$lib" LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$prog/bind" \
		"$prog/aio" >"$prog/out" 2>&1
	rc=$?
	binding=$(cat "$prog"/bind.* 2>/dev/null | grep -F "normal symbol \`aio_read' [GLIBC_2.34]" | head -n1)
	{ echo "# -lkaio-posix: NEEDED $needed; version needs $vneed; ran: rc=$rc $(cat "$prog/out")"
	  echo "# binding: $binding"; } >>"$log"
	if [ $rc = 0 ] && [[ " $needed" == *" libkaio-posix.so.1 "* ]] &&
		[[ " $vneed" == *" libkaio-posix.so.1:GLIBC_2.34 "* ]] &&
		[[ "$binding" == *"to $stage/$lib/libkaio-posix.so.1 "* ]]; then
		echo "ok install: a <aio.h> program linked with -lkaio-posix against the stage binds aio_read@GLIBC_2.34 to its libkaio-posix.so.1 ($(cat "$prog/out"))"
	else
		bad "-lkaio-posix link test: rc=$rc, NEEDED '$needed', version needs '$vneed', binding '${binding:-none}' (see $log)"
	fi
else
	bad "a <aio.h> program does not build with -lkaio-posix against the stage, see $log"
fi
rm -rf "$prog"

# make uninstall leaves nothing behind (directories aside).
if make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/usr >>"$log" 2>&1; then
	left=$(cd "$stage" && find . ! -type d | LC_ALL=C sort)
	posix_left=
	for f in $lib/libkaio-posix.so.1 $lib/libkaio-posix.so usr/include/kaio-posix.h \
		 usr/share/man/man7/kaio-posix.7; do
		[ -e "$stage/$f" ] || [ -L "$stage/$f" ] && posix_left+=" $f"
	done
	if [ -n "$posix_left" ]; then
		bad "make uninstall left libkaio-posix's$posix_left"
	elif [ -z "$left" ]; then
		echo "ok install: make uninstall removes every file (libkaio-posix.so.1, libkaio-posix.so, kaio-posix.h and kaio-posix(7) among them)"
	else
		bad "make uninstall left $(echo "$left" | wc -l) files: $(echo "$left" | head -n3 | tr '\n' ' ')"
	fi
else
	bad "make uninstall failed, see $log"
fi
exit $failed
