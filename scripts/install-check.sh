#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install into a staging DESTDIR, on the host: every piece is where
# the docs say, and a program builds against the staged libkaio++ through
# pkg-config (kaio.pc) and links. Prints "ok/not ok install: ..." lines.
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
