#!/usr/bin/env bash
# Build build/initramfs.cpio, the whole root filesystem of the QEMU guest
# that runs kaio's kernel-side tests (see DESIGN.md, "The guest rig").
#
# Contents:
#   busybox-static with applet links, /init (scripts/guest/init), the runner
#   scripts (scripts/guest/*) at /kaio/rig/;
#   kernel modules null_blk ext4 xfs dm-mod dm-flakey loop (+ KAIO_GUEST_MODULES)
#   from /lib/modules/$KVER with their dependencies and softdeps, as resolved by
#   the host's `modprobe -S $KVER --show-depends` (reads files, loads nothing),
#   then `depmod -b` so modprobe works in the guest;
#   real binaries mke2fs (mkfs.ext4), mkfs.xfs, dmsetup, fio
#   (+ KAIO_GUEST_BINS) with the shared libraries and loader they need;
#   module/kaio.ko at /kaio/kaio.ko and build/guest/ at /kaio/ (tests/, bin/),
#   with the libraries of any dynamic executables found there.
#
# The image is rebuilt only when one of its inputs changed (a listing of
# names, sizes and mtimes is kept next to it), so re-running is ~free. It is
# an uncompressed cpio: the guest unpacks it under TCG, where gunzip of the
# ~40 MB (mostly fio's library closure) took ~4 s of boot; a plain copy is
# about half that, and the host skips the compression too. Concurrent runs
# (several engineers, one tree) are serialised with flock and the image is
# replaced atomically, so a QEMU already booting keeps its old copy.
# Usage: scripts/mkinitramfs.sh [-f]   (-f: rebuild unconditionally)
# Environment (make check-debug builds a second image for its own kernel;
# the defaults are the normal guest):
#   KVER                 kernel release (default: scripts/kver.sh)
#   KAIO_GUEST_MODROOT   root of that kernel's module tree
#                        (DIR/lib/modules/KVER; default: the host's /)
#   KAIO_GUEST_KO        kaio.ko to put in (default: module/kaio.ko)
#   KAIO_INITRAMFS       the image (default: build/initramfs.cpio); its
#                        stamp, staging tree and lock sit next to it
#   KAIO_GUEST_KO_DIR    also put kaio.ko into the guest's module tree, at
#                        /lib/modules/KVER/DIR/kaio.ko (updates/dkms is where
#                        dkms install puts it), before depmod: its aliases
#                        (modules.alias, modules.devname) are then there for
#                        a guest booted with kaio.load=demand
#   KAIO_GUEST_ROOT      a directory copied onto the guest's root, path for
#                        path (/lib, /bin and /sbin onto /usr), with the
#                        libraries of its programs: what packages installed
#                        on the host (scripts/deb-check.sh)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
KVER=$(scripts/kver.sh)
MODROOT=${KAIO_GUEST_MODROOT:-}
MODROOT=${MODROOT%/}
MODDIR=$MODROOT/lib/modules/$KVER
BUILD=$top/build
OUT=${KAIO_INITRAMFS:-$BUILD/initramfs.cpio}
OUTDIR=$(dirname "$OUT")
STAMP=${OUT%.cpio}.inputs
ROOT=${OUT%.cpio}.root
LOCK=$OUTDIR/.$(basename "$OUT" .cpio).lock

# loop: libaio's harness mounts its ext2 images (tests/libaio-harness); it
# loads the module itself.
MODULES="null_blk ext4 xfs dm-mod dm-flakey loop overlay ${KAIO_GUEST_MODULES:-}"
BINS="/sbin/mke2fs /sbin/mkfs.xfs /sbin/dmsetup /usr/bin/fio ${KAIO_GUEST_BINS:-}"
KO=${KAIO_GUEST_KO:-$top/module/kaio.ko}
KO_DIR=${KAIO_GUEST_KO_DIR:-}
EXTRA_ROOT=${KAIO_GUEST_ROOT:-}

force=0
[ "${1:-}" = "-f" ] && force=1

die() { echo "mkinitramfs.sh: $*" >&2; exit 1; }

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (scripts/deps.sh installs busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamic; need busybox-static"
for b in $BINS; do [ -x "$b" ] || die "$b missing (run scripts/deps.sh)"; done
[ -f "$MODDIR/modules.dep" ] || die "$MODDIR/modules.dep missing"

# ---- has anything changed? ------------------------------------------------
inputs() {
	echo "kver $KVER modroot=$MODROOT modules=$MODULES bins=$BINS ko_dir=$KO_DIR root=$EXTRA_ROOT"
	stat -L -c '%n %s %Y' scripts/mkinitramfs.sh scripts/kver.sh scripts/guest/* "$busybox" $BINS \
		"$MODDIR/modules.dep" /etc/mke2fs.conf 2>&1 || true
	if [ -f "$KO" ]; then stat -c '%n %s %Y' "$KO"; else echo "no kaio.ko"; fi
	if [ -d "$BUILD/guest" ]; then
		find "$BUILD/guest" -printf '%P %s %T@ %m %l\n' | LC_ALL=C sort
	fi
	if [ -n "$EXTRA_ROOT" ]; then
		find "$EXTRA_ROOT" -printf 'root %P %s %T@ %m %l\n' | LC_ALL=C sort
	fi
}
up_to_date() {
	[ $force = 0 ] && [ -f "$OUT" ] && [ -f "$STAMP" ] && [ "$new_inputs" = "$(cat "$STAMP")" ]
}
new_inputs=$(inputs)
up_to_date && exit 0
mkdir -p "$OUTDIR"
exec 9>"$LOCK"
flock 9
up_to_date && exit 0 # built by someone else while we waited

echo "mkinitramfs.sh: building $OUT for $KVER"
rm -rf "$ROOT" "$STAMP"
mkdir -p "$ROOT"

# Guest layout is merged-/usr whatever the host uses: /bin /sbin /lib /lib64
# are links into /usr. Host paths are normalised onto it.
mkdir -p "$ROOT"/usr/{bin,sbin,lib,lib64} "$ROOT"/{dev,proc,sys,tmp,run,mnt/ext4,mnt/xfs,mnt/slow-ext4,mnt/slow-xfs,root,etc,kaio/tests,kaio/bin,kaio/rig}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOT/$d"; done
norm() {
	case "$1" in
	/bin/* | /sbin/* | /lib/* | /lib64/*) echo "/usr$1" ;;
	*) echo "$1" ;;
	esac
}

# Copy a host file (following links) to the same (normalised) guest path,
# or to the path given second.
put() {
	local dst
	dst=$ROOT$(norm "${2:-$1}")
	[ -e "$dst" ] && return 0
	mkdir -p "$(dirname "$dst")"
	cp -L --preserve=mode "$1" "$dst"
}

# Copy the shared libraries and loader a dynamic executable needs.
put_libs() {
	local f=$1 out lib
	out=$(ldd "$f" 2>/dev/null) || return 0 # static or not ELF
	for lib in $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' <<<"$out"); do
		put "$lib"
	done
}

# ---- real binaries ------------------------------------------------------------
for b in $BINS; do
	put "$b"
	put_libs "$b"
done
ln -sf mke2fs "$ROOT/usr/sbin/mkfs.ext4"
[ -f /etc/mke2fs.conf ] && put /etc/mke2fs.conf

# ---- busybox and its applets (never over a real binary) ----------------------
cp "$busybox" "$ROOT/usr/bin/busybox"
for a in $("$busybox" --list-full); do
	dst=$ROOT$(norm "/$a")
	[ -e "$dst" ] || [ -L "$dst" ] || ln -s /usr/bin/busybox "$dst"
done

# ---- kernel modules -----------------------------------------------------------
mods=()
for m in $MODULES; do
	while read -r kind path _; do
		[ "$kind" = insmod ] && mods+=("$path")
	done < <(modprobe -S "$KVER" ${MODROOT:+-d "$MODROOT"} --show-depends "$m" ||
		die "cannot resolve module $m")
done
# A module tree outside / lands at /lib/modules/KVER in the guest.
for f in $(printf '%s\n' "${mods[@]}" | sort -u); do put "$f" "${f#"$MODROOT"}"; done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -f "$MODDIR/$f" ] && put "$MODDIR/$f" "/lib/modules/$KVER/$f"
done
if [ -n "$KO_DIR" ]; then
	[ -f "$KO" ] || die "$KO missing (KAIO_GUEST_KO_DIR=$KO_DIR)"
	mkdir -p "$ROOT/usr/lib/modules/$KVER/$KO_DIR"
	strip --strip-debug -o "$ROOT/usr/lib/modules/$KVER/$KO_DIR/kaio.ko" "$KO" 2>/dev/null ||
		cp "$KO" "$ROOT/usr/lib/modules/$KVER/$KO_DIR/kaio.ko"
fi
depmod -b "$ROOT" "$KVER"

# ---- kaio ------------------------------------------------------------------------
# Debug info is dropped from the guest's copies (it is kept in build/ and
# module/ for decoding traces on the host): less for TCG to unpack and load.
is_elf() { [ "$(head -c4 "$1" 2>/dev/null)" = $'\x7fELF' ]; }
if [ -f "$KO" ]; then
	strip --strip-debug -o "$ROOT/kaio/kaio.ko" "$KO" 2>/dev/null || cp "$KO" "$ROOT/kaio/kaio.ko"
else
	echo "mkinitramfs.sh: warning: $KO not built; the guest will report it" >&2
fi
if [ -d "$BUILD/guest" ]; then
	cp -a "$BUILD/guest/." "$ROOT/kaio/"
	while IFS= read -r f; do
		is_elf "$f" || continue
		strip --strip-debug "$f" 2>/dev/null || true
		put_libs "$f"
	done < <(find "$ROOT/kaio" -type f -perm -u+x)
fi
# Files as installed on the host (by packages): same paths, links followed,
# and the libraries of the programs among them.
if [ -n "$EXTRA_ROOT" ]; then
	[ -d "$EXTRA_ROOT" ] || die "KAIO_GUEST_ROOT=$EXTRA_ROOT is not a directory"
	while IFS= read -r f; do
		put "$EXTRA_ROOT/$f" "/$f"
		is_elf "$EXTRA_ROOT/$f" && put_libs "$EXTRA_ROOT/$f"
	done < <(cd "$EXTRA_ROOT" && find . \( -type f -o -type l \) -printf '%P\n' | LC_ALL=C sort)
fi
cp scripts/guest/init "$ROOT/init"
for f in scripts/guest/*; do
	[ "$(basename "$f")" = init ] || cp "$f" "$ROOT/kaio/rig/"
done
chmod 755 "$ROOT/init" "$ROOT"/kaio/rig/*

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
# A console node lets the kernel give /init stdin/stdout before devtmpfs is up
# (init re-opens /dev/console after mounting devtmpfs in any case).
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true

# ---- archive ----------------------------------------------------------------------
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
printf '%s\n' "$new_inputs" >"$STAMP"
echo "mkinitramfs.sh: $(du -h "$OUT" | cut -f1) ($(find "$ROOT" -type f | wc -l) files)"
