#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install into a staging DESTDIR, on the host: every piece is where
# the docs say (multiarch libraries, DKMS tree, udev rule, kaio-demo), the
# version is VERSION's everywhere, depmod finds kaio's devname alias, the
# DKMS tree builds, a program builds against the staged libkaio++ through
# pkg-config, the manual pages are where man(1) finds them, KAIO_DEV_MODE
# reaches the rule, and make uninstall removes it all. Prints "ok/not ok
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
	 $lib/pkgconfig/kaio.pc $lib/pkgconfig/kaio++.pc $lib/kaio/compat/libaio.so.1; do
	[ -e "$stage/$f" ] || { bad "$f missing"; missing=1; }
done
[ $missing = 0 ] && echo "ok install: module, dkms tree, udev rule, libraries in /usr/lib/$ma, headers, kaio.pc, drop-in, kaio-demo"
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

# make uninstall leaves nothing behind (directories aside).
if make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/usr >>"$log" 2>&1; then
	left=$(cd "$stage" && find . ! -type d | LC_ALL=C sort)
	if [ -z "$left" ]; then
		echo "ok install: make uninstall removes every file"
	else
		bad "make uninstall left $(echo "$left" | wc -l) files: $(echo "$left" | head -n3 | tr '\n' ' ')"
	fi
else
	bad "make uninstall failed, see $log"
fi
exit $failed
