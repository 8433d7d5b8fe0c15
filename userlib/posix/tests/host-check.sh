#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# host-check.sh BUILD: libkaio-posix on this machine (no /dev/kaio: the
# glibc fallback), printing "ok/not ok posix-lib: ..." lines:
#   - the export check against the system's libc.so.6;
#   - programs built against glibc's <aio.h> (plain, -D_FILE_OFFSET_BITS=64,
#     and one bound to GLIBC_2.2.5 as pre-2.34 binaries are) bind every
#     <aio.h> reference to libkaio-posix under LD_PRELOAD (LD_DEBUG=bindings),
#     and a plain one linked with -lkaio-posix binds to it without it;
#   - the library's own tests through the fallback, and with
#     KAIO_POSIX_DISABLE=1.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../../build}
lib=$build/userlib/libkaio-posix.so.1
out=$build/userlib/posix-tests
failed=0
ok() { echo "ok posix-lib: $*"; }
bad() { echo "not ok posix-lib: $*"; failed=1; }

if [ ! -f "$lib" ]; then
	bad "$lib not built"
	exit 1
fi
mkdir -p "$out"
if "$here/../check-exports.sh" "$lib" >"$out/exports.log" 2>&1; then
	ok "exports match libc.so.6's <aio.h> names and versions"
else
	bad "exports differ from libc.so.6 (see $out/exports.log)"
fi

cc=${CC:-cc}
build_prog() { # NAME FLAGS...
	local name=$1
	shift
	"$cc" -O2 -Wall -Wextra -Werror -o "$out/$name" "$here/bind_test.c" "$@" \
		>"$out/$name.log" 2>&1 || { bad "$name does not build (see $out/$name.log)"; return 1; }
}

# Every <aio.h> reference of PROG (bindings log) resolves in libkaio-posix,
# at the version VER (the first), and the program reads through the
# expected backend.
check_bind() { # NAME VER SYM... (env from the caller)
	local name=$1 ver=$2 sym line miss=""
	shift 2
	for sym in "$@"; do
		line=$(grep -F "normal symbol \`$sym' [$ver]" "$out/$name.bind" | grep -F "to $lib" || true)
		[ -n "$line" ] || miss+=" $sym@$ver"
	done
	if [ -n "$miss" ]; then
		bad "$name: not bound to libkaio-posix:$miss (see $out/$name.bind)"
	elif ! grep -qx "backend glibc" "$out/$name.out"; then
		bad "$name: ran with backend '$(cat "$out/$name.out")', expected glibc"
	else
		ok "$name binds$(printf ' %s' "$@") @$ver to libkaio-posix"
	fi
}

run_bind() { # NAME [env...]: run with LD_DEBUG=bindings
	local name=$1
	shift
	env "$@" LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$out/$name.bind.raw" \
		"$out/$name" >"$out/$name.out" 2>&1 || bad "$name exits $?"
	cat "$out/$name.bind.raw".* >"$out/$name.bind" 2>/dev/null
	rm -f "$out/$name.bind.raw".*
}

syms="aio_read aio_error aio_return aio_suspend aio_cancel lio_listio"
if build_prog bind-plain; then
	run_bind bind-plain LD_PRELOAD="$lib"
	check_bind bind-plain GLIBC_2.34 $syms
fi
if build_prog bind-lfs64 -D_FILE_OFFSET_BITS=64; then
	run_bind bind-lfs64 LD_PRELOAD="$lib"
	check_bind bind-lfs64 GLIBC_2.34 aio_read64 aio_error64 aio_return64 \
		aio_suspend64 aio_cancel64 lio_listio64
fi
if build_prog bind-old -DOLD_BINARY; then
	if readelf --dyn-syms -W "$out/bind-old" | grep -q 'aio_read@GLIBC_2.2.5'; then
		run_bind bind-old LD_PRELOAD="$lib"
		check_bind bind-old GLIBC_2.2.5 $syms
	else
		bad "bind-old: its aio_read reference is not @GLIBC_2.2.5"
	fi
fi
if build_prog bind-linked -L"$build/userlib" -lkaio-posix; then
	run_bind bind-linked LD_LIBRARY_PATH="$build/userlib"
	check_bind bind-linked GLIBC_2.34 $syms
fi

"$cc" -O2 -Wall -Wextra -Werror -pthread -o "$out/posix_lib_test" \
	"$here/posix_lib_test.c" >"$out/posix_lib_test.log" 2>&1 ||
	bad "posix_lib_test does not build (see $out/posix_lib_test.log)"
for mode in fallback disabled; do
	[ -x "$out/posix_lib_test" ] || break
	envs=(LD_PRELOAD="$lib" KAIO_POSIX_EXPECT=glibc)
	[ $mode = disabled ] && envs+=(KAIO_POSIX_DISABLE=1)
	if timeout 120 env "${envs[@]}" "$out/posix_lib_test" >"$out/test-$mode.log" 2>&1 &&
	   ! grep -q '^not ok' "$out/test-$mode.log"; then
		ok "posix_lib_test, glibc $mode: $(grep -c '^ok' "$out/test-$mode.log") cases"
	else
		bad "posix_lib_test, glibc $mode: $(grep '^not ok' "$out/test-$mode.log" | tr '\n' ';') (see $out/test-$mode.log)"
	fi
done
exit $failed
