#!/usr/bin/env bash
# Debian's libaio source package, for its test harness (tests/libaio-harness):
# `apt-get source libaio` once, unpacked into DIR (default build/libaio-src/):
#   DIR/libaio-<upstream version>/   the source with Debian's patches applied
#   DIR/libaio                       a link to it
#   DIR/stamp                        the Debian version fetched
# The version is the source of the installed libaio-dev: the harness is built
# against that library's headers and linked with its -laio, so its cases are
# the ones written for it. An upgraded libaio-dev fetches again; otherwise
# nothing is downloaded and the stamp is left alone (make rebuilds the
# harness only when it changes). The source comes from Debian, never from
# git: `scripts/deps.sh --deb-src` adds the deb-src entries apt needs for it.
# Usage: scripts/libaio-src.sh [DIR]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$top/build/libaio-src}

die() { echo "libaio-src.sh: $*" >&2; exit 1; }

ver=$(dpkg-query -W -f='${source:Version}' libaio-dev 2>/dev/null || true)
[ -n "$ver" ] || die "libaio-dev is not installed: run make deps"

fetched() { [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$ver" ] && [ -d "$dir/libaio/harness" ]; }
fetched && exit 0

# Other engineers build in this tree too: one fetch at a time.
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
fetched && exit 0

tmp=$(mktemp -d "$dir/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt downloads as its unprivileged _apt user when that user can write
# here (as root it otherwise warns and downloads as root).
chmod 755 "$tmp"
echo "libaio-src.sh: apt-get source libaio=$ver into $dir"
if ! (cd "$tmp" && apt-get -q source "libaio=$ver"); then
	die "apt-get source libaio=$ver failed: without deb-src entries (make deps adds them) or a network, the harness cannot be built"
fi
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'libaio-*' | head -n1)
[ -n "$src" ] && [ -d "$src/harness" ] || die "apt-get source gave no libaio-*/harness/"
name=$(basename "$src")
rm -rf "${dir:?}/$name"
mv "$src" "$dir/$name"
ln -sfn "$name" "$dir/libaio"
echo "$ver" >"$dir/stamp"
