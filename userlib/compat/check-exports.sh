#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-exports.sh OURS REFERENCE: the dynamic symbols OURS defines, with
# their versions (name@@VERSION for a default, name@VERSION for a compat
# entry), and its version definitions must be exactly REFERENCE's -- the
# system's libaio.so.1, the library kaio's replaces. Prints the difference.
set -eu
ours=$1 ref=$2

exports() { # defined dynamic symbols, then the version tree
	readelf --dyn-syms -W "$1" | awk '$7 != "UND" && $8 ~ /@/ { print $5, $4, $8 }' | LC_ALL=C sort
	readelf -V -W "$1" | sed -n '/Version definition/,/Version needs/p' |
		sed -n 's/.*Name: \(.*\)/def \1/p; s/.*Parent 1: \(.*\)/parent \1/p'
}

if [ ! -f "$ref" ]; then
	echo "check-exports.sh: no reference $ref (package libaio1); not compared" >&2
	exit 0
fi
if ! diff -u --label "$ref" --label "$ours" <(exports "$ref") <(exports "$ours") 2>/dev/null; then
	echo "check-exports.sh: $ours does not export what $ref does" >&2
	exit 1
fi
