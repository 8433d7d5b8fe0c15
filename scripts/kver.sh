#!/usr/bin/env bash
# Print the kernel version kaio builds for and boots in the guest: the newest
# installed Debian 6.1 kernel that has both headers (a build link) and a
# bootable image. Nothing is hard-coded because Debian bumps the ABI number
# (6.1.0-NN) with every point release. Override with KVER=... in the environment.
set -euo pipefail
if [ -n "${KVER:-}" ]; then
	echo "$KVER"
	exit 0
fi
best=
for d in $(ls -d /lib/modules/6.1.* 2>/dev/null | sort -V); do
	v=${d##*/}
	[ -e "$d/build/Makefile" ] && [ -f "/boot/vmlinuz-$v" ] && best=$v
done
if [ -z "$best" ]; then
	echo "kver.sh: no 6.1 kernel with headers and /boot/vmlinuz found; run scripts/deps.sh" >&2
	exit 1
fi
echo "$best"
