#!/bin/sh
# make check wrapper of kaio-fuzz (installed as /kaio/tests/kaio_fuzz).
# Short by default (a fixed seed, a few thousand iterations); kernel command
# line knobs, as the guest's /init reads its own:
#	kaio.fuzz=long			the long run (make fuzz): several seeds
#	kaio.fuzz_seeds=N[,N...]	seeds (default: 1 short; 1..4 long)
#	kaio.fuzz_iterations=N		iterations per seed (3000 short, 30000 long)
#	kaio.fuzz_threads=N kaio.fuzz_procs=N	(4 and 2)
# Each seed prints "ok N fuzz seed=S iterations=I ..." and a leak check
# (contexts, reservations, pins and kaio_req objects back to zero).
BIN=${KAIO_FUZZ_BIN:-/kaio/bin/kaio-fuzz}
mode=short seeds= iters= threads=4 procs=2
for w in $(cat /proc/cmdline 2>/dev/null); do
	case "$w" in
	kaio.fuzz=*) mode=${w#*=} ;;
	kaio.fuzz_seeds=*) seeds=$(echo "${w#*=}" | tr , ' ') ;;
	kaio.fuzz_iterations=*) iters=${w#*=} ;;
	kaio.fuzz_threads=*) threads=${w#*=} ;;
	kaio.fuzz_procs=*) procs=${w#*=} ;;
	esac
done
if [ "$mode" = long ]; then
	: "${seeds:=1 2 3 4}" "${iters:=30000}"
	timeout=3000
else
	: "${seeds:=1}" "${iters:=3000}"
	timeout=300
fi
[ -x "$BIN" ] || { echo "1..0 # SKIP $BIN not built"; exit 4; }
rc=0
for s in $seeds; do
	"$BIN" --seed "$s" --iterations "$iters" --threads "$threads" --procs "$procs" \
		--timeout "$timeout" --check-leaks || rc=1
done
exit $rc
