#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The manual pages under man/, on the host: every page lints clean
# (mandoc -Tlint, and groff -ww as man(1) renders them), every .so alias and
# every cross-reference to a kaio page resolves, and the pages name
# everything there is to name:
#   - libkaio++: every public type, enumerator, member and free function of
#     namespace kaio in userlib/include/kaio/*.hpp (the version script
#     exports kaio::*; kaio::detail is not API);
#   - the libaio drop-in: every function of userlib/compat/libaio.map and
#     every KAIO_COMPAT_* variable the library reads, in kaio-libaio(7);
#   - the device, in kaio(4): every KAIO_* of uapi/linux/kaio.h (the
#     KAIO_IOC_* ioctls counted apart), every module parameter, tracepoint,
#     fdinfo/debugfs field, and every errno module/*.c returns.
# "Named" is checked on the rendered text, so a name hidden in a roff
# comment does not count. Prints one result line per check in the runner's
# format ("ok NAME" / "not ok NAME # why"), details in build/man-check.log.
# Exit status: 0 if all passed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
src="man"
mkdir -p build
log=build/man-check.log
: >"$log"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

result() { # "ok ..." or "not ok ... # why"
	echo "$1"
	case $1 in not*) failed=1 ;; esac
}

# not ok with the first few missing names; all of them in the log.
report() { # NAME MISSING-FILE COUNT
	local name=$1 missing=$2 count=$3
	if [ -s "$missing" ]; then
		{ echo "== $name: not named:"; cat "$missing"; } >>"$log"
		result "not ok man: $name # not named: $(head -8 "$missing" | paste -sd, - | sed 's/,/, /g')$([ "$(wc -l <"$missing")" -gt 8 ] && echo ", ...")"
	else
		result "ok man: $name ($count)"
	fi
}

# A page is a file with content; an alias is one ".so manN/page.N" line.
pages=()
aliases=()
for f in "$src"/man[1-9]/*.[1-9]; do
	[ -f "$f" ] || continue
	if grep -q '^\.so ' "$f"; then
		aliases+=("$f")
	else
		pages+=("$f")
	fi
done
if [ ${#pages[@]} -eq 0 ]; then
	result "not ok man: pages # none under $src/man[1-9]/"
	exit 1
fi

# ---- lint ----------------------------------------------------------------
# lint NAME COMMAND...: COMMAND PAGE must succeed and print nothing, for
# every page.
lint() {
	local name=$1 f out
	local bad=()
	shift
	for f in "${pages[@]}"; do
		if ! out=$("$@" "$f" 2>&1) || [ -n "$out" ]; then
			bad+=("${f#"$src"/}")
			echo "$out" >>"$log"
		fi
	done
	if [ ${#bad[@]} -eq 0 ]; then
		result "ok man: $name (${#pages[@]} pages)"
	else
		result "not ok man: $name # ${bad[*]}, see $log"
	fi
}
if command -v mandoc >/dev/null; then
	lint "mandoc -Tlint" mandoc -Tlint
else
	result "not ok man: mandoc -Tlint # mandoc not installed (make deps)"
fi
command -v groff >/dev/null && lint "groff -ww" groff -ww -z -t -man

# ---- rendered text, for the name checks ------------------------------------
render() { # PAGE: plain text on stdout
	if command -v mandoc >/dev/null; then
		mandoc -Tascii -O width=100 "$1" 2>/dev/null | sed 's/.\x08//g'
	else
		groff -t -man -Tascii -P-cbou -rLL=100n "$1" 2>/dev/null
	fi
}
mkdir -p "$tmp/text"
for f in "${pages[@]}"; do
	render "$f" >"$tmp/text/$(basename "$f").txt"
done
cat "$tmp"/text/*.txt >"$tmp/all.txt"

# Is NAME a word of the text in FILE? (fixed string, not part of a longer
# identifier on either side; a NAME ending in _ is a prefix, as
# "submitted_" of the fdinfo's submitted_<OP> lines)
named_in() { # FILE NAME
	local re after='([^A-Za-z0-9_]|$)'
	re=$(printf '%s' "$2" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
	case $2 in *_) after= ;; esac
	grep -qE "(^|[^A-Za-z0-9_])$re$after" "$1"
}

# ---- aliases and cross-references ------------------------------------------
missing=$tmp/missing
: >"$missing"
for f in "${aliases[@]}"; do
	target=$(sed -n 's/^\.so \(man[1-9]\/[^ ]*\)$/\1/p' "$f")
	if [ "$(wc -l <"$f")" -ne 1 ] || [ -z "$target" ] || [ ! -f "$src/$target" ] ||
	   grep -q '^\.so ' "$src/$target"; then
		echo "${f#"$src"/} -> ${target:-?}" >>"$missing"
	fi
done
if [ -s "$missing" ]; then
	cat "$missing" >>"$log"
	result "not ok man: .so aliases # broken: $(paste -sd' ' "$missing")"
else
	result "ok man: .so aliases resolve (${#aliases[@]})"
fi
: >"$missing"
grep -ohE '(^|[^A-Za-z0-9_:-])(kaio[A-Za-z0-9_+-]*|libkaio\+\+)\([1-9]\)' "$tmp/all.txt" |
	sed -E 's/^[^a-z]*//' | sort -u | while read -r ref; do
	name=${ref%(*}
	sec=${ref##*(}
	sec=${sec%)}
	[ -f "$src/man$sec/$name.$sec" ] || echo "$ref" >>"$missing"
done
report "cross-references to kaio pages resolve" "$missing" "$(grep -ohE '(kaio[A-Za-z0-9_+-]*|libkaio\+\+)\([1-9]\)' "$tmp/all.txt" | sort -u | wc -l)"

# ---- libkaio++ -------------------------------------------------------------
# The public API of namespace kaio, one line each:
#   type T | member T NAME | value T NAME | func NAME
# The headers' layout is what this relies on (checked by the counts below
# being non-zero): namespace scope at column 0, class members one tab in,
# access labels at column 0; kaio::detail skipped.
awk '
function ident_before_paren(s,    t) {
	t = substr(s, 1, index(s, "(") - 1)
	sub(/[ \t]+$/, "", t)
	n = split(t, w, /[ \t*&]+/)
	return w[n]
}
FNR == 1 { cls = ""; kind = ""; access = ""; detail = 0 }
/^namespace detail \{/ { detail = 1; next }
/^\} \/\/ namespace detail/ { detail = 0; next }
detail { next }
{ line = $0; sub(/[ \t]*\/\/.*/, "", line) }
line ~ /^(class|struct|enum class) / && line !~ /;$/ {
	t = line
	sub(/^(class|struct|enum class) +/, "", t)
	sub(/^\[\[nodiscard\]\] +/, "", t)
	sub(/^KAIO_API +/, "", t)
	sub(/[ :{].*$/, "", t)
	cls = t
	kind = line ~ /^enum/ ? "enum" : line ~ /^struct/ ? "struct" : "class"
	access = kind == "class" ? "private" : "public"
	print "type " cls
	next
}
cls != "" && /^\};/ { cls = ""; next }
cls != "" && /^(public|private|protected):/ { access = $0; sub(/:.*/, "", access); next }
cls != "" && kind == "enum" && line ~ /^\t[A-Za-z_]/ {
	v = line; sub(/^\t/, "", v); sub(/[ ,=].*$/, "", v)
	print "value " cls " " v
	next
}
cls != "" && access == "public" && line ~ /^\t[^\t]/ {
	m = line; sub(/^\t/, "", m)
	if (m ~ /^(\/\/|\}|\{|friend |static_assert|template <[^(]*$)/)
		next
	if (m ~ /^using [A-Za-z_]+ =/) {
		sub(/^using /, "", m); sub(/ =.*$/, "", m)
		print "member " cls " " m
		next
	}
	if (m ~ /operator *=[^=]/ || m ~ /operator=\(/)
		next
	if (match(m, /operator *(\[\]|\(\)|co_await|bool|[^ (]+)/)) {
		op = substr(m, RSTART, RLENGTH)
		sub(/operator */, "operator", op)
		if (op ~ /^operator[a-z]/)
			sub(/^operator/, "operator ", op)
		print "member " cls " " op
		next
	}
	if (index(m, "(")) {
		name = ident_before_paren(m)
		sub(/^~/, "", name)
		if (name != cls && name != "" && name ~ /^[A-Za-z_][A-Za-z0-9_]*$/)
			print "member " cls " " name
		next
	}
	if (m ~ /;$/) {	# a public data member
		d = m; sub(/( = [^;]*)?;$/, "", d)
		n = split(d, w, /[ \t*&]+/)
		print "member " cls " " w[n]
	}
	next
}
cls == "" && line ~ /^[A-Za-z]/ && index(line, "(") &&
    line !~ /^(#|static_assert|template <|namespace|class|struct|enum|return)/ {
	name = ident_before_paren(line)
	if (name !~ /::/ && name ~ /^[A-Za-z_][A-Za-z0-9_]*$/)
		print "func " name
}
' userlib/include/kaio/*.hpp | sort -u >"$tmp/api"
echo "== libkaio++ API found in the headers:" >>"$log"
cat "$tmp/api" >>"$log"

# The pages that name a type: a member or enumerator must be named in one
# of them.
declare -A naming=()
pages_naming() { # TYPE: into naming[TYPE], once
	local t
	[ -n "${naming[$1]+set}" ] && return
	naming[$1]=
	for t in "$tmp"/text/*.txt; do
		named_in "$t" "kaio::$1" && naming[$1]+="$t "
	done
}
: >"$missing"
ntypes=0
nnames=0
while read -r what a b; do
	case $what in
	type)
		ntypes=$((ntypes + 1))
		named_in "$tmp/all.txt" "kaio::$a" || echo "kaio::$a" >>"$missing"
		;;
	func)
		nnames=$((nnames + 1))
		named_in "$tmp/all.txt" "kaio::$a" || echo "kaio::$a" >>"$missing"
		;;
	member | value)
		nnames=$((nnames + 1))
		found=0
		pages_naming "$a"
		for t in ${naming[$a]}; do
			if named_in "$t" "$b"; then
				found=1
				break
			fi
		done
		[ $found = 1 ] || echo "kaio::$a::$b" >>"$missing"
		;;
	esac
done <"$tmp/api"
if [ "$ntypes" -lt 5 ] || [ "$nnames" -lt 20 ]; then
	result "not ok man: libkaio++ API named # found only $ntypes types and $nnames names in userlib/include/kaio/*.hpp: has the headers' layout changed? (scripts/man-check.sh)"
else
	report "libkaio++ API named: every public type, member and function" "$missing" "$ntypes types, $nnames members and functions"
fi

# ---- the libaio drop-in ----------------------------------------------------
page7=$tmp/text/kaio-libaio.7.txt
[ -f "$page7" ] || : >"$page7"
sed -n 's/^[[:space:]]*\(io_[a-z_]*\);.*/\1/p' userlib/compat/libaio.map | sort -u >"$tmp/libaio"
grep -ohE 'KAIO_COMPAT_[A-Z_]+' userlib/compat/*.cpp | sort -u >"$tmp/compat-env"
: >"$missing"
while read -r n; do
	named_in "$page7" "$n" || echo "$n" >>"$missing"
done < <(cat "$tmp/libaio" "$tmp/compat-env")
if [ ! -s "$tmp/libaio" ]; then
	result "not ok man: libaio drop-in named # no function found in userlib/compat/libaio.map"
else
	report "libaio drop-in: every libaio.map function and KAIO_COMPAT_ variable in kaio-libaio(7)" "$missing" \
		"$(wc -l <"$tmp/libaio") functions, $(wc -l <"$tmp/compat-env") variables"
fi

# ---- the device --------------------------------------------------------------
page4=$tmp/text/kaio.4.txt
[ -f "$page4" ] || : >"$page4"
check4() { # NAME LIST-FILE
	: >"$missing"
	while read -r n; do
		named_in "$page4" "$n" || echo "$n" >>"$missing"
	done <"$2"
	if [ ! -s "$2" ]; then
		result "not ok man: $1 # none found in the sources: has their layout changed? (scripts/man-check.sh)"
	else
		report "$1" "$missing" "$(wc -l <"$2")"
	fi
}
sed -n 's/^#define \(KAIO_IOC_[A-Z_]*\)[[:space:]]*_IO.*/\1/p' uapi/linux/kaio.h | sort -u >"$tmp/ioctls"
check4 "ioctls of uapi/linux/kaio.h in kaio(4)" "$tmp/ioctls"
sed -n 's/^#define \(KAIO_[A-Z0-9_]*\).*/\1/p' uapi/linux/kaio.h | grep -v '^KAIO_IOC_[A-Z]*$' | sort -u >"$tmp/consts"
grep -q '^KAIO_IOC_MAGIC$' "$tmp/consts" || echo KAIO_IOC_MAGIC >>"$tmp/consts"
check4 "constants of uapi/linux/kaio.h in kaio(4)" "$tmp/consts"
grep -ohE 'module_param(_named|_cb)?\([[:space:]]*[a-z_0-9]+' module/*.c |
	sed -E 's/.*\([[:space:]]*//' | sort -u >"$tmp/params"
check4 "module parameters in kaio(4)" "$tmp/params"
{
	grep -ohE '^TRACE_EVENT\([a-z_0-9]+' module/trace.h | sed 's/.*(//'
	grep -ohE '^DEFINE_EVENT\([a-z_0-9]+,[[:space:]]*[a-z_0-9]+' module/trace.h | sed 's/.*,[[:space:]]*//'
} | sort -u >"$tmp/tracepoints"
check4 "tracepoints in kaio(4)" "$tmp/tracepoints"
{
	sed -n 's/.*\][[:space:]]*= "\([a-z_]*\)",.*/\1/p' module/stats.c
	grep -ohE 'seq_printf\(m, "[a-z_]+' module/*.c | sed 's/.*"//'
} | sort -u >"$tmp/fields"
check4 "fdinfo and debugfs fields in kaio(4)" "$tmp/fields"
# Kernel-internal codes never reach user space (restarts, EIOCBQUEUED).
grep -ohE -- '-E[A-Z0-9]+' module/*.c | sed 's/^-//' |
	grep -vE '^(ERESTART.*|EIOCBQUEUED)$' | sort -u >"$tmp/errnos"
check4 "errnos module/*.c returns, in kaio(4)" "$tmp/errnos"

exit $failed
