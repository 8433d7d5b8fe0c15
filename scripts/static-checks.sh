#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Static checks of the kernel side, on the host: sparse (make C=2 through
# kbuild) and checkpatch.pl from the installed linux-source-6.1 tarball,
# over module/ and uapi/, and scripts/module-layers.py (no import circle
# among module/'s files). Each check is one result line in the runner's
# format ("ok NAME" / "not ok NAME # why") on stdout, written also to
# build/static-checks.results for the summary; details go to
# build/static-checks.log. Exit status: 0 if all passed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build=$top/build
log=$build/static-checks.log
results=$build/static-checks.results
tarball=${LINUX_SRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
kver=$(scripts/kver.sh) || exit 1
kdir=/lib/modules/$kver/build
mkdir -p "$build"
: >"$log"
: >"$results"
failed=0

result() {
	echo "$1" | tee -a "$results"
	case $1 in not*) failed=1 ;; esac
}

# sparse: C=2 checks every file whether or not it is rebuilt.
if ! command -v sparse >/dev/null; then
	result "not ok static: sparse # sparse not installed (make deps)"
else
	out=$(make -C "$kdir" M="$top" C=2 modules 2>&1)
	echo "$out" >>"$log"
	# kbuild prints "CHECK file" per file; anything else with file:line: is
	# sparse (or the compiler) complaining.
	warnings=$(echo "$out" | grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error)' || true)
	if [ -n "$warnings" ]; then
		echo "$warnings" | head -20 >&2
		result "not ok static: sparse # $(echo "$warnings" | wc -l) warnings, see $log"
	else
		result "ok static: sparse"
	fi
fi

# checkpatch.pl and the data files it reads, from the kernel source package.
cp_dir=$build/checkpatch
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ] || [ "$tarball" -nt "$cp_dir/scripts/checkpatch.pl" ]; then
	rm -rf "$cp_dir" && mkdir -p "$cp_dir"
	tar -xJf "$tarball" -C "$cp_dir" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch >>"$log" 2>&1
fi
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ]; then
	result "not ok static: checkpatch # cannot extract checkpatch.pl from $tarball"
else
	files=$(git ls-files 'module/*.c' 'module/*.h' 'uapi/*.h')
	# shellcheck disable=SC2086
	out=$("$cp_dir/scripts/checkpatch.pl" --no-tree --terse --show-types -f $files 2>&1)
	echo "$out" >>"$log"
	bad=$(echo "$out" | grep -E '^[^ ]+:[0-9]+: (ERROR|WARNING|CHECK)' || true)
	if [ -n "$bad" ]; then
		echo "$bad" | head -20 >&2
		result "not ok static: checkpatch # $(echo "$bad" | wc -l) findings, see $log"
	else
		result "ok static: checkpatch"
	fi
fi
# Layers: no file of module/ uses a file that uses it back (design.md),
# read from the objects the sparse pass built.
out=$(python3 scripts/module-layers.py module 2>&1)
rc=$?
echo "$out" >>"$log"
case $rc in
0) result "ok static: module layers" ;;
1)
	echo "$out" | grep '^circle' >&2
	result "not ok static: module layers # $(echo "$out" | grep -c '^circle') circles, see $log"
	;;
*) result "not ok static: module layers # the check failed (exit $rc), see $log" ;;
esac
exit $failed
