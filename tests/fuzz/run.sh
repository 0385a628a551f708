#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, seeded with the shipped
# examples of its format, and fails on the first crash, leak or sanitizer
# report.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]}
secs=${2:-10}
bin="$build/tests/fuzz"
work="$build/fuzz-corpus"
mkdir -p "$work"

seed_dir() { # target schema-directory
  local d="$work/seeds-$1"
  rm -rf "$d" && mkdir -p "$d"
  cp schemas/"$2"/y_* schemas/"$2"/n_* "$d"/
}
seed_dir json air-quality
seed_dir msgpack traffic-counter
seed_dir senml senml
seed_dir ttn_v3 ttn-air-quality
seed_dir sensor_community sensor-community
# The validator's input: a schema, a NUL byte, an instance.
d="$work/seeds-jsonschema"
rm -rf "$d" && mkdir -p "$d"
for s in schemas/*/; do
  n=$(basename "$s")
  for ex in "$s"y_*.json "$s"n_*.json; do
    [ -e "$ex" ] || continue
    { cat "$s/schema.json"; printf '\0'; cat "$ex"; } > "$d/$n-$(basename "$ex")"
  done
done

# The JSON decoder against jansson: every shipped JSON example.
d="$work/seeds-json_oracle"
rm -rf "$d" && mkdir -p "$d"
for s in schemas/*/; do
  n=$(basename "$s")
  for ex in "$s"y_*.json "$s"n_*.json; do
    [ -e "$ex" ] || continue
    cp "$ex" "$d/$n-$(basename "$ex")"
  done
done

status=0
for t in json msgpack senml ttn_v3 sensor_community jsonschema json_oracle; do
  corpus="$work/corpus-$t"
  mkdir -p "$corpus"
  echo "-- fuzz_$t: ${secs}s"
  # New inputs go to the first directory; the seeds are only read.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$work/crash-$t-" \
      "$corpus" "$work/seeds-$t" > "$work/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED; log: $work/fuzz_$t.log"
    tail -n 60 "$work/fuzz_$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov: " "$work/fuzz_$t.log" | tail -n 2 | sed 's/^/   /'
  fi
done
exit $status
