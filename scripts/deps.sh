#!/usr/bin/env bash
# Install the Debian 12 packages kaio needs to build, test and boot its QEMU
# guest. Only packages that are missing are installed, so a second run makes no
# network access at all and returns in well under a second (it is a dependency
# of `make check`/`make run`, which must stay cheap to re-run).
set -euo pipefail

pkgs=(
	# the guest: emulator, Debian's kernel (booted in QEMU, never loaded here)
	qemu-system-x86 linux-image-amd64
	# building kaio.ko against the same kernel; sparse for `make module C=1`
	linux-headers-amd64 sparse
	# the initramfs: shell, archive tools, module dependency resolution, xz for
	# extracting the kselftest headers from the kernel source tarball
	busybox-static cpio kmod xz-utils
	# peers and filesystems used inside the guest
	fio xfsprogs e2fsprogs dmsetup
	# make bench: the plot in Documentation/performance.md
	gnuplot-nox
	# kernel source: kselftest_harness.h comes from here at build time
	linux-source-6.1
	# userspace: libaio/liburing for comparison engines, GoogleTest
	libaio-dev liburing-dev libgtest-dev g++ make
)

# One dpkg-query for all packages; names are compared literally (g++).
declare -A installed=()
while read -r name status; do
	[[ $status == ii* ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)
missing=()
for p in "${pkgs[@]}"; do
	[ -n "${installed[$p]:-}" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "deps.sh: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "deps.sh: missing packages (${missing[*]}) and not root; install them or run as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
