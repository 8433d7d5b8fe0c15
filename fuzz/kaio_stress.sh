#!/bin/sh
# make check wrapper of kaio-stress (installed as /kaio/tests/kaio_stress).
# Kernel command line knobs:
#	kaio.fuzz=long			the long run (make fuzz)
#	kaio.fuzz_seeds=N[,N...]	seeds (default: 1 short; 1..3 long)
#	kaio.stress_ops=N		operations per thread (400 short, 4000 long)
BIN=${KAIO_STRESS_BIN:-/kaio/bin/kaio-stress}
mode=short seeds= ops=
for w in $(cat /proc/cmdline 2>/dev/null); do
	case "$w" in
	kaio.fuzz=*) mode=${w#*=} ;;
	kaio.fuzz_seeds=*) seeds=$(echo "${w#*=}" | tr , ' ') ;;
	kaio.stress_ops=*) ops=${w#*=} ;;
	esac
done
if [ "$mode" = long ]; then
	: "${seeds:=1 2 3}" "${ops:=4000}"
else
	: "${seeds:=1}" "${ops:=400}"
fi
[ -x "$BIN" ] || { echo "1..0 # SKIP $BIN not built"; exit 4; }
rc=0
for s in $seeds; do
	"$BIN" --seed "$s" --ops "$ops" --threads 4 --contexts 2 --check-leaks || rc=1
done
exit $rc
