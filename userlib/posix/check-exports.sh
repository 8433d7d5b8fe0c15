#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-exports.sh OURS [LIBC]: the <aio.h> symbols OURS defines, with their
# versions (name@@VERSION for the default, name@VERSION for a compat entry),
# must be exactly those LIBC (the system's libc.so.6, glibc 2.36 on Debian
# 12) defines; beside them OURS may only export kaio_posix_* in its own
# version node. Prints the difference.
set -eu
ours=$1
ref=${2:-$(${CC:-cc} -print-file-name=libc.so.6)}

aio() { # defined <aio.h> dynamic symbols as name@[@]VERSION
	readelf --dyn-syms -W "$1" |
		awk '$7 != "UND" && $8 ~ /^(aio|lio)_[a-z0-9_]*@/ { print $8 }' |
		LC_ALL=C sort -u
}

if [ ! -f "$ref" ]; then
	echo "check-exports.sh: no reference $ref; not compared" >&2
	exit 0
fi
rc=0
if ! diff -u --label "$ref" --label "$ours" <(aio "$ref") <(aio "$ours"); then
	echo "check-exports.sh: $ours does not export <aio.h> as $ref does" >&2
	rc=1
fi
# Anything else exported: only the library's own API, in KAIO_POSIX_1.
extra=$(readelf --dyn-syms -W "$ours" |
	awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $7 != "ABS" && $5 != "LOCAL" && $8 !~ /^(aio|lio)_/ { print $8 }' |
	grep -v '^kaio_posix_[a-z_]*@@KAIO_POSIX_1$' || true)
if [ -n "$extra" ]; then
	echo "check-exports.sh: $ours exports more than <aio.h>:" >&2
	echo "$extra" >&2
	rc=1
fi
exit $rc
