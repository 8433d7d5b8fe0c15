#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install into a staging DESTDIR, on the host: every piece is where
# the docs say, and a program builds against the staged libkaio++ through
# pkg-config (kaio.pc) and links, and the manual pages are where man(1)
# finds them. Prints "ok/not ok install: ..." lines.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
stage=$top/build/install-stage
kver=$(scripts/kver.sh)
rm -rf "$stage"
if ! make --no-print-directory install DESTDIR="$stage" PREFIX=/usr >build/install-check.log 2>&1; then
	echo "not ok install: make install failed, see build/install-check.log"
	exit 1
fi
failed=0
for f in lib/modules/$kver/updates/kaio.ko usr/src/kaio-0.1.0/dkms.conf \
	 usr/src/kaio-0.1.0/Kbuild usr/src/kaio-0.1.0/module/Kbuild \
	 usr/src/kaio-0.1.0/module/rw.c usr/src/kaio-0.1.0/uapi/linux/kaio.h \
	 usr/include/linux/kaio.h usr/include/kaio/context.hpp \
	 usr/lib/libkaio++.a usr/lib/libkaio++.so usr/lib/pkgconfig/kaio.pc \
	 usr/lib/kaio/compat/libaio.so.1; do
	if [ ! -e "$stage/$f" ]; then
		echo "not ok install: $f missing"
		failed=1
	fi
done
[ $failed = 0 ] && echo "ok install: module, dkms source, libraries, headers, kaio.pc, compat library"
# The manual pages: each of man/manN/ in usr/share/man/manN, as it is, and
# man(1) finds a page and an alias (.so) in the staged tree.
man_missing=()
man_files=(man/man[1-9]/*.[1-9])
for f in "${man_files[@]}"; do
	cmp -s "$f" "$stage/usr/share/man/${f#man/}" || man_missing+=("${f#man/}")
done
if [ ${#man_missing[@]} -ne 0 ]; then
	echo "not ok install: manual pages not installed: ${man_missing[*]}"
	failed=1
elif command -v man >/dev/null &&
     ! { man -P cat -M "$stage/usr/share/man" 4 kaio 2>/dev/null | grep KAIO_IOC_SETUP >/dev/null &&
	 man -P cat -M "$stage/usr/share/man" 3 kaio_make_write 2>/dev/null | grep make_write >/dev/null; }; then
	echo "not ok install: man -M $stage/usr/share/man does not show kaio(4) or the alias kaio_make_write(3)"
	failed=1
else
	echo "ok install: manual pages in usr/share/man (${#man_files[@]} files)"
fi
# The dkms tree must build as dkms would build it.
if make -C "/lib/modules/$kver/build" M="$stage/usr/src/kaio-0.1.0" modules >>build/install-check.log 2>&1 &&
   [ -e "$stage/usr/src/kaio-0.1.0/module/kaio.ko" ]; then
	echo "ok install: the dkms source tree builds kaio.ko"
else
	echo "not ok install: the dkms source tree does not build, see build/install-check.log"
	failed=1
fi
prog=$(mktemp -d)
cat >"$prog/use.cpp" <<'CPP'
#include <kaio/kaio.hpp>
int main() { return sizeof(kaio::Context) > 0 ? 0 : 1; }
CPP
export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$stage/usr/lib/pkgconfig
if g++ -std=c++20 -o "$prog/use" "$prog/use.cpp" $(pkg-config --cflags --libs kaio) >>build/install-check.log 2>&1; then
	echo "ok install: a program builds and links with pkg-config kaio"
else
	echo "not ok install: pkg-config kaio build failed, see build/install-check.log"
	failed=1
fi
rm -rf "$prog"
exit $failed
