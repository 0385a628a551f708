#!/usr/bin/env bash
# Field benchmarks: mosquitto-tsdb against bare mosquitto, the DIY pipelines
# (mosquitto -> C or Python subscriber -> InfluxDB or VictoriaMetrics),
# and InfluxDB and VictoriaMetrics themselves (storage, queries).
#
#   bench/run.sh --quick            about 8 minutes
#   bench/run.sh --full             about an hour
#   bench/run.sh --quick --sections city    the city shape (issue 13): about
#                                   25 minutes; with --full also 100 000
#                                   stations and longer steps (not timed yet)
#   options: --plugin PATH          measure another build of mosquitto_tsdb.so
#            --sections a,b,...     ceiling,overhead,pipeline,storage,queries
#                                   (the default), city (only when named)
#            --keep-tmp             keep the temporary data directory
#            --set NAME=JSON        override one of bench.py's settings (trials)
#
# Installs what it needs (scripts/deps.sh bench), builds into build-bench/,
# writes bench/results/<UTC timestamp>/{results.json,results.md,*.png} and
# prints the table. Every process it starts is stopped when it ends, also
# on an error or Ctrl-C.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
mode=quick
extra=()
plugin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --plugin) plugin="$2"; shift ;;
    --sections|--keep-tmp|--set)
      if [ "$1" = --keep-tmp ]; then extra+=("$1"); else extra+=("$1" "$2"); shift; fi ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "usage: $0 --quick|--full [--plugin PATH] [--sections LIST] [--keep-tmp] [--set NAME=JSON]" >&2; exit 2 ;;
  esac
  shift
done

"$repo/scripts/deps.sh" bench

build="$repo/build-bench"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSDB_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target mosquitto_tsdb loadgen sub_c fieldbench paho_ceiling \
  engine_bench dataset_gen >/dev/null
[ -n "$plugin" ] || plugin="$build/plugin/mosquitto_tsdb.so"

# Debian's packages start influxdb and victoria-metrics services where systemd
# runs: idle, they still take CPU from the measurements.
for svc in influxd victoria-metrics; do
  if pgrep -x "$svc" >/dev/null 2>&1; then
    echo "bench: warning: a '$svc' is already running; stop it for quieter figures" \
      "(systemctl stop ${svc/influxd/influxdb})" >&2
  fi
done

out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "bench: $mode run, results in $out" >&2

pid=""
# Must not fail itself: an EXIT trap's status would replace the run's.
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
/usr/bin/python3 "$here/bench.py" --mode "$mode" --bin "$build/bench" --plugin "$plugin" \
  --out "$out" "${extra[@]}" 2> >(tee "$out/bench.log" >&2) &
pid=$!
rc=0
wait "$pid" || rc=$?
pid=""
exit $rc
