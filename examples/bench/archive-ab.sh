#!/usr/bin/env bash
# archive-ab.sh ENV PAIRS EDDY...: `eddy replay` of W1 from a local file and from the blob stand-ins
# that examples/bench/blobserve serves (ENV is its output), by each eddy binary given, alternately,
# PAIRS times. One line per run: binary, input, wall s, eddy's CPU s (user+sys), the stand-in's CPU s
# over the run, events/s. Then per binary and input the medians, and the median of the per-round
# ratios archive/file of events/s (wall) and of eddy's CPU per event (file/archive: 1 = as cheap).
# INPUT (default /tmp/w1-2m.ndjson) must be the file blobserve served; STORES (default "s3 gcs
# azure") picks the stand-ins.
set -euo pipefail
envf=$1 pairs=$2
shift 2
. "$envf"
input=${INPUT:-/tmp/w1-2m.ndjson}
events=$(wc -l <"$input")
spec=$(cd "$(dirname "$0")" && pwd)/w1.yaml
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
out=$(mktemp)
run() { # label binary input standin-pid
	local t0 t1
	t0=$(ticks "$4")
	/usr/bin/time -f "%e %U %S" -o "$out.t" "$2" replay --spec "$spec" --input "$3" --output /dev/null --progress never 2>/dev/null
	t1=$(ticks "$4")
	read -r wall u s <"$out.t"
	echo "$1 $wall $(echo "$u + $s" | bc) $(echo "($t1 - $t0) / 100" | bc -l | xargs printf %.2f) $(echo "$events / $wall" | bc)" | tee -a "$out"
}
for ((i = 0; i < pairs; i++)); do
	for bin in "$@"; do
		b=$(basename "$bin")
		run "$b file" "$bin" "$input" "$BLOBSERVE_PID"
		for s in ${STORES:-s3 gcs azure}; do
			case $s in
			s3) run "$b s3" "$bin" "$S3" "$BLOBSERVE_PID" ;;
			gcs) run "$b gcs" "$bin" "$GCS" "$BLOBSERVE_PID" ;;
			azure) run "$b azure" "$bin" "$AZ" "$AZURITE_PID" ;;
			esac
		done
	done
done
echo "# medians: binary input wall-s eddy-cpu-s standin-cpu-s events/s; ratios archive/file per round"
awk '
	function med(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	{ k = $1 " " $2; wall[k] = wall[k] " " $3; cpu[k] = cpu[k] " " $4; sc[k] = sc[k] " " $5; rate[k] = rate[k] " " $6
	  if ($2 == "file") { fw[$1] = $3; fc[$1] = $4 } else { rw[k] = rw[k] " " fw[$1] / $3; rc[k] = rc[k] " " fc[$1] / $4 } }
	END { for (k in wall) printf "%s wall %.2f eddy-cpu %.2f standin-cpu %.2f events/s %d%s\n", k, med(wall[k]), med(cpu[k]), med(sc[k]), med(rate[k]),
		(k in rw) ? sprintf(" rate archive/file %.2f, eddy cpu file/archive %.2f", med(rw[k]), med(rc[k])) : "" }' "$out" | sort
rm -f "$out" "$out.t"
