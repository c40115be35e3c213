#!/usr/bin/env bash
# replay-ab.sh OLD NEW INPUT [PAIRS] [WORKLOADS] [WORKERS]: `eddy replay` of INPUT (JSON lines from
# `go run ./examples/bench/gen N`) by two eddy binaries, run alternately PAIRS times (default 5) for
# each workload (default "w1 w2 w3") and each --workers of NEW (default "1 2 4"; OLD runs with its
# defaults). One line per run: workload, binary, workers, wall s, user s, sys s, peak RSS kB; then
# the median wall and CPU (user+sys) of each, and the median of the per-pair ratios old/new.
# On a machine other work shares, wall times swing with it: pairs run back to back see about the
# same load, so their ratio says more than either time.
set -euo pipefail
old=$1 new=$2 input=$3 pairs=${4:-5} workloads=${5:-w1 w2 w3} workers=${6:-1 2 4}
dir=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
run() { # workload label binary args...
	local w=$1 label=$2 bin=$3
	shift 3
	/usr/bin/time -f "$w $label %e %U %S %M" -o "$out.t" "$bin" replay --spec "$dir/$w.yaml" --input "$input" \
		--output /dev/null --progress never "$@" 2>/dev/null
	cat "$out.t" | tee -a "$out"
}
for w in $workloads; do
	for ((i = 0; i < pairs; i++)); do
		for n in $workers; do
			run "$w" old "$old"
			run "$w" "new-w$n" "$new" --workers "$n"
		done
	done
done
echo "# medians: workload binary wall-s cpu-s; ratio = median over pairs of old/new"
awk '
	{ k = $1 " " $2; wall[k] = wall[k] " " $3; cpu[k] = cpu[k] " " ($4 + $5); rss[k] = rss[k] " " $6
	  if ($2 == "old") { last[$1] = $3; lastc[$1] = $4 + $5 } else { r[k] = r[k] " " last[$1] / $3; rc[k] = rc[k] " " lastc[$1] / ($4 + $5) } }
	function med(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	END { for (k in wall) printf "%s wall %.2f cpu %.2f rss %d kB%s\n", k, med(wall[k]), med(cpu[k]), med(rss[k]),
		(k in r) ? sprintf(" speed old/new %.2f (cpu old/new %.2f)", med(r[k]), med(rc[k])) : "" }' "$out" | sort
rm -f "$out" "$out.t"
