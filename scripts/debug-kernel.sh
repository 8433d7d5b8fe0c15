#!/usr/bin/env bash
# Build the debug kernel that `make check-debug` boots, once per machine:
# Debian's own 6.1 source (the linux-source-6.1 tarball, the same version as
# the guest's linux-image) configured from x86_64_defconfig plus
# scripts/debug-kernel.config: a small guest kernel with lockdep
# (PROVE_LOCKING), DEBUG_ATOMIC_SLEEP, KASAN, kmemleak and debugobjects,
# none of which Debian's kernel has.
#
# Everything is under build/debug/ (the normal build's outputs are never
# touched):
#   linux-source-6.1/   the extracted tarball, left pristine
#   kernel/             the O= object tree: arch/x86/boot/bzImage (booted),
#                       vmlinux, and what `make M=...` needs to build kaio.ko
#   modroot/lib/modules/<release>/   the kernel's modules (null_blk, ext4,
#                       xfs, dm-mod, dm-flakey, ...) with depmod's files
#   kernel-build.log    the output of the last build
# The build is skipped when kernel/.kaio-inputs matches the inputs (this
# script, the config fragment, the tarball, the compiler), so a second run
# costs well under a second; a change of any of them rebuilds (incrementally,
# except after a new tarball). Concurrent runs are serialised with flock.
# Prints the kernel release ("6.1.N-kaio-debug") as the last line.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
TAR=${LINUX_SRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
FRAG=$top/scripts/debug-kernel.config
D=$top/build/debug
SRC=$D/linux-source-6.1
OBJ=$D/kernel
MODROOT=$D/modroot
LOG=$D/kernel-build.log
STAMP=$OBJ/.kaio-inputs

die() { echo "debug-kernel.sh: $*" >&2; exit 1; }
release() { cat "$OBJ/include/config/kernel.release"; }

[ -r "$TAR" ] || die "$TAR missing (scripts/deps.sh installs linux-source-6.1)"

inputs() {
	sha256sum "${BASH_SOURCE[0]}" "$FRAG"
	stat -c '%n %s %Y' "$TAR"
	gcc --version | head -n1
}
built() {
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$new_inputs" ] &&
		[ -s "$OBJ/arch/x86/boot/bzImage" ] && [ -f "$OBJ/include/config/kernel.release" ] &&
		[ -f "$MODROOT/lib/modules/$(release)/modules.dep" ]
}
new_inputs=$(inputs)
if built; then release; exit 0; fi
mkdir -p "$D"
exec 9>"$D/.kernel.lock"
flock 9
if built; then release; exit 0; fi # built by someone else while we waited

# ---- build dependencies -----------------------------------------------------
# As scripts/deps.sh: only what is missing, so a machine that has them makes
# no network access. pahole is not needed (no BTF: no debug info).
pkgs=(gcc make libc6-dev flex bison bc libelf-dev libssl-dev kmod cpio xz-utils lz4)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "debug-kernel.sh: installing ${missing[*]}"
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "missing packages (${missing[*]}) and not root"
		SUDO=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ---- source -----------------------------------------------------------------
# A new tarball (a Debian point release) starts from scratch: objects of
# another version in kernel/ would only confuse kbuild.
tar_id=$(stat -c '%s %Y' "$TAR")
if [ ! -f "$SRC/.kaio-extracted" ] || [ "$(cat "$SRC/.kaio-extracted")" != "$tar_id" ]; then
	echo "debug-kernel.sh: extracting $TAR"
	rm -rf "$SRC" "$SRC.tmp" "$OBJ" "$MODROOT"
	mkdir -p "$SRC.tmp"
	tar -xJf "$TAR" -C "$SRC.tmp" --strip-components=1
	printf '%s\n' "$tar_id" >"$SRC.tmp/.kaio-extracted"
	mv "$SRC.tmp" "$SRC"
fi

# ---- config -----------------------------------------------------------------
mkdir -p "$OBJ"
kmake() { nice -n 19 make -C "$SRC" O="$OBJ" "$@"; }
rm -f "$STAMP"
: >"$LOG"
echo "debug-kernel.sh: configuring $OBJ (log: $LOG)"
{
	kmake x86_64_defconfig
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" "$FRAG"
	kmake olddefconfig
} >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "configuration failed"; }

# Kconfig drops what it cannot satisfy without a word: check every line of
# the fragment against the result.
bad=()
while IFS= read -r line; do
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
		grep -qxF "$line" "$OBJ/.config" ||
			bad+=("want $line, have: $(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$OBJ/.config" || echo unset)")
	elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
		! grep -qE "^${BASH_REMATCH[1]}=" "$OBJ/.config" ||
			bad+=("want ${BASH_REMATCH[1]} off, have: $(grep -E "^${BASH_REMATCH[1]}=" "$OBJ/.config")")
	fi
done <"$FRAG"
if [ ${#bad[@]} -gt 0 ]; then
	printf '  %s\n' "${bad[@]}" >&2
	die "the config fragment $FRAG did not apply"
fi

# ---- build ------------------------------------------------------------------
jobs=$(nproc 2>/dev/null || echo 1)
echo "debug-kernel.sh: building with -j$jobs at nice 19 (the first build takes long; log: $LOG)"
t0=$(date +%s)
{
	kmake -j"$jobs" bzImage modules
	# A fresh module tree: modules of an older config must not linger.
	rm -rf "$MODROOT"
	kmake INSTALL_MOD_PATH="$MODROOT" INSTALL_MOD_STRIP=1 modules_install
} >>"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; die "build failed (full log: $LOG)"; }
t1=$(date +%s)
printf '%s\n' "$new_inputs" >"$STAMP"
echo "debug-kernel.sh: built in $(((t1 - t0) / 60)) min $(((t1 - t0) % 60)) s"
release
