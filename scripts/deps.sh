#!/usr/bin/env bash
# Install the Debian 12 packages kaio needs to build, test and boot its QEMU
# guest; with --deb-src also make sure apt can fetch source packages (`make
# check` and `make check-libaio` build libaio's own test harness from
# `apt-get source libaio`). Only what is
# missing is installed or added, so a second run makes no network access at
# all and returns in well under a second (it is a dependency of `make
# check`/`make run`, which must stay cheap to re-run).
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
	# make bench: the plot of its report (build/bench/performance.png)
	gnuplot-nox
	# make check: scripts/man-check.sh lints the manual pages (man/)
	mandoc
	# kernel source: kselftest_harness.h comes from here at build time
	linux-source-6.1
	# userspace: libaio/liburing for comparison engines, GoogleTest
	libaio-dev liburing-dev libgtest-dev g++ make
	# `apt-get source libaio` (libaio's harness/, tests/libaio-harness)
	# unpacks with dpkg-source; make deb builds with dpkg-buildpackage
	dpkg-dev
	# make deb: Debian's packaging tools (debian/), lintian on the result;
	# make check installs the packages and builds kaio.ko with dkms for the
	# guest kernel (never loaded here); pkg-config for the programs built
	# against the installed libkaio++-dev
	debhelper dh-dkms dkms lintian pkg-config
	# the deb-check guest boots like Debian: kmod static-nodes, then
	# systemd-udevd with kaio-dkms's rule (scripts/guest/lib.sh)
	udev
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

SUDO=
need_root() { # WHAT: become able to change the system, or fail saying why
	[ "$(id -u)" -eq 0 ] && return 0
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "deps.sh: $1 and not root; do it yourself or run as root" >&2
		exit 1
	fi
}
export DEBIAN_FRONTEND=noninteractive
# Other engineers' builds may run apt at the same moment: wait for its lock.
APT=(apt-get -o DPkg::Lock::Timeout=300)
updated=0

if [ ${#missing[@]} -ne 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	need_root "missing packages (${missing[*]})"
	$SUDO "${APT[@]}" update
	updated=1
	$SUDO "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
fi

# The rest only for `scripts/deps.sh --deb-src` (make check, make
# check-libaio): make run and the other targets leave apt's sources alone.
[ "${1:-}" = --deb-src ] || exit 0

# ---- deb-src for Debian's own suites ----------------------------------------
# A fresh Debian 12 has binary entries only: deb822 stanzas "Types: deb" in
# /etc/apt/sources.list.d/debian.sources (cloud and container images), or
# one-line "deb URI SUITE COMPONENTS" entries in /etc/apt/sources.list (the
# installer, which often leaves its deb-src lines commented out). If no
# deb-src entry is active anywhere, each binary entry for this release's
# suites (CODENAME, CODENAME-updates, -security, ...) gets a deb-src twin with
# the same URI, components and options (Signed-By included), in files of our
# own beside them; the originals are left alone. Third-party entries (other
# suites) get none: their repositories need not carry sources.
APT_ETC=/etc/apt
SRC_SOURCES=$APT_ETC/sources.list.d/kaio-deb-src.sources
SRC_LIST=$APT_ETC/sources.list.d/kaio-deb-src.list

has_deb_src() { # is any deb-src entry active (ours included)?
	local f
	for f in "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list; do
		[ -f "$f" ] && grep -qE '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
	done
	for f in "$APT_ETC"/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# Types: containing deb-src, in a stanza not marked Enabled: no
		awk 'BEGIN { RS = ""; FS = "\n"; hit = 0 }
		{
			t = 0; off = 0
			for (i = 1; i <= NF; i++) {
				if (tolower($i) ~ /^types:.*[[:space:]]deb-src([[:space:]]|$)/) t = 1
				if (tolower($i) ~ /^enabled:[[:space:]]*no/) off = 1
			}
			if (t && !off) hit = 1
		}
		END { exit !hit }' "$f" && return 0
	done
	return 1
}

# deb822: every "Types: deb" stanza again as "Types: deb-src", with Suites
# cut down to this release's; stanzas with none of them are dropped.
# Continuation lines (an inline Signed-By key) are kept with their field.
deb822_src() { # CODENAME FILE...
	local cn=$1
	shift
	awk -v cn="$cn" '
	function ours(w) { return w == cn || index(w, cn "-") == 1 }
	function flush(   i, out, w, n, k) {
		if (nl && isdeb && !off) {
			n = split(suites, w, /[[:space:]]+/); k = ""
			for (i = 1; i <= n; i++) if (ours(w[i])) k = k (k == "" ? "" : " ") w[i]
			if (k != "") {
				out = ""
				for (i = 1; i <= nl; i++) {
					if (fld[i] == "types") out = out "Types: deb-src\n"
					else if (fld[i] == "suites") out = out "Suites: " k "\n"
					else out = out line[i] "\n"
				}
				printf "%s\n", out
			}
		}
		nl = 0; isdeb = 0; off = 0; suites = ""; cur = ""
	}
	/^#/ { next }
	/^[[:space:]]*$/ { flush(); next }
	/^[[:space:]]/ { line[++nl] = $0; fld[nl] = ""; next }
	{
		cur = tolower(substr($0, 1, index($0, ":") - 1))
		val = substr($0, index($0, ":") + 1)
		line[++nl] = $0; fld[nl] = cur
		if (cur == "types" && (" " val " ") ~ /[[:space:]]deb[[:space:]]/) isdeb = 1
		if (cur == "enabled" && tolower(val) ~ /^[[:space:]]*no/) off = 1
		if (cur == "suites") suites = val
	}
	END { flush() }' "$@"
}

# One-line entries: "deb [OPTIONS] URI SUITE COMPONENT..." for this release's
# suites, as deb-src.
oneline_src() { # CODENAME FILE...
	local cn=$1
	shift
	awk -v cn="$cn" '
	$1 == "deb" {
		i = 2; opts = ""
		if ($2 ~ /^\[/) {
			for (; i <= NF; i++) { opts = opts (opts == "" ? "" : " ") $i; if ($i ~ /\]$/) break }
			i++
		}
		suite = $(i + 1)
		if (suite != cn && index(suite, cn "-") != 1) next
		out = "deb-src" (opts == "" ? "" : " " opts)
		for (; i <= NF; i++) out = out " " $i
		print out
	}' "$@"
}

if ! has_deb_src; then
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || { echo "deps.sh: no VERSION_CODENAME in /etc/os-release" >&2; exit 1; }
	sources=()
	for f in "$APT_ETC"/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$SRC_SOURCES" ] && sources+=("$f")
	done
	lists=()
	for f in "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list; do
		[ -f "$f" ] && [ "$f" != "$SRC_LIST" ] && lists+=("$f")
	done
	new822=
	[ ${#sources[@]} -eq 0 ] || new822=$(deb822_src "$codename" "${sources[@]}")
	newline=
	[ ${#lists[@]} -eq 0 ] || newline=$(oneline_src "$codename" "${lists[@]}")
	if [ -z "$new822$newline" ]; then
		echo "deps.sh: no apt entry for $codename to add deb-src to; add one (make check runs apt-get source libaio)" >&2
		exit 1
	fi
	echo "deps.sh: adding deb-src entries for $codename (apt-get source libaio)"
	need_root "no deb-src entry in apt's sources"
	hdr="# Added by kaio's scripts/deps.sh: deb-src twins of the $codename entries, for apt-get source libaio."
	[ -z "$new822" ] || printf '%s\n%s\n' "$hdr" "$new822" | $SUDO tee "$SRC_SOURCES" >/dev/null
	[ -z "$newline" ] || printf '%s\n%s\n' "$hdr" "$newline" | $SUDO tee "$SRC_LIST" >/dev/null
	updated=0
fi

# Configured but never fetched (added just now, or by hand without an
# update): apt-get source would find no package. apt keeps each fetched
# index as a file named after its URI (..._main_source_Sources.lz4); a glob
# is instant where `apt-get indextargets` takes over a second.
if [ $updated -eq 0 ] && ! compgen -G '/var/lib/apt/lists/*_source_Sources*' >/dev/null; then
	need_root "apt has no source package lists (apt-get update needed)"
	$SUDO "${APT[@]}" update
fi
