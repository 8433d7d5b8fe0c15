#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make deb: kaio's Debian packages, built with Debian's own tools
# (dpkg-buildpackage, debhelper, dh-dkms; debian/) from a copy of the
# tracked files (and untracked ones git does not ignore) in
# build/deb/kaio-VERSION/, so the work tree gets no debian/ build litter.
# The packages land in build/deb/: kaio-dkms, libkaio++0, libkaio++-dev,
# libkaio-libaio1, libkaio-posix1, libkaio-posix-dev, kaio-tools (and the
# -dbgsym packages). Then lintian on them, its report in
# build/deb/lintian.txt.
# Exit status: 0 built and lintian clean (no error or warning tag; or no
# lintian installed: then there is no build/deb/lintian.txt), 1 the
# build failed (log: build/deb/build.log), 2 lintian found something.
set -uo pipefail
# Run from make check, this inherits the parent make's jobserver flags
# without its file descriptors (every sub-make then warns and runs -j1);
# the builds below choose their own parallelism.
unset MAKEFLAGS MFLAGS MAKELEVEL
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
version=$(cat VERSION) || exit 1
out=$top/build/deb
src=$out/kaio-$version
log=$out/build.log
mkdir -p "$out"
rm -rf "$out"/kaio-* "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"

# The sources as they are in the work tree.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$f" ] || [ -L "$f" ] || continue # deleted, not yet committed
			printf '%s\0' "$f"
		done | cpio -0 -pdm --quiet "$src" || exit 1
else
	tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf - || exit 1
fi

echo "mkdeb.sh: dpkg-buildpackage -b in $src (log: $log)"
jobs=$(nproc 2>/dev/null || echo 1)
[ "$jobs" -gt 2 ] && jobs=2
if ! (cd "$src" && dpkg-buildpackage -b -us -uc -j"$jobs") >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "mkdeb.sh: dpkg-buildpackage failed, see $log" >&2
	exit 1
fi
changes=$(ls "$out"/kaio_"$version"_*.changes)
for f in "$out"/*.deb; do
	echo "mkdeb.sh: $(basename "$f")"
done

rm -f "$out/lintian.txt"
if ! command -v lintian >/dev/null; then
	echo "mkdeb.sh: lintian not installed: the packages are not checked (apt install lintian)"
	exit 0
fi
# Errors and warnings fail; info tags (I:) and overridden ones (O:, from
# debian/*.lintian-overrides, each with its reason as N: lines) are listed
# too. (--fail-on and --show-overrides together make lintian 2.116 fail on
# overridden tags, so the tags are judged from the listing.)
lintian -I --show-overrides "$changes" 2>&1 |
	grep -v '^running with root privileges' >"$out/lintian.txt"
rc=${PIPESTATUS[0]}
sed 's/^/lintian: /' "$out/lintian.txt"
if [ "$rc" -ne 0 ] || grep -q '^[EW]: ' "$out/lintian.txt"; then
	echo "mkdeb.sh: lintian found errors or warnings (build/deb/lintian.txt)" >&2
	exit 2
fi
echo "mkdeb.sh: lintian: no error or warning ($(grep -c '^O: ' "$out/lintian.txt") overridden, $(grep -c '^I: ' "$out/lintian.txt") info)"
