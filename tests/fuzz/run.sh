#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, seeded with the shipped
# examples of its format (the payload decoders), the command corpus (the
# $CONTROL requests), blocks the engine's encoder writes (point and
# aggregate blocks) or tests/fuzz/seeds/, with tests/fuzz/<target>.dict when
# there is one, and fails on the first crash, leak or sanitizer report.
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
# The validator's input: a schema, a NUL byte, an instance. Only from the
# tested schemas, the directories with an examples.json (README: "Shipped
# schemas and their examples"): the rest of schemas/ is a user's own. Besides
# them, seeds and a dictionary that steer it at patterns.
d="$work/seeds-jsonschema"
rm -rf "$d" && mkdir -p "$d"
for s in schemas/*/; do
  [ -f "$s/examples.json" ] || continue
  n=$(basename "$s")
  for ex in "$s"y_*.json "$s"n_*.json; do
    [ -e "$ex" ] || continue
    { cat "$s/schema.json"; printf '\0'; cat "$ex"; } > "$d/$n-$(basename "$ex")"
  done
done
cp tests/fuzz/seeds/jsonschema/* "$d"/

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

# Point blocks and aggregate blocks: real blocks of the current format, which
# the targets write with the engine's encoder, and descriptions of points.
for t in codec aggblock; do
  d="$work/seeds-$t"
  rm -rf "$d" && mkdir -p "$d"
  TSDB_FUZZ_WRITE_SEEDS="$d" "$bin/fuzz_$t"
done
# Topic templates, stored series descriptors, patterns: tests/fuzz/seeds/.
for t in topic catalog pattern; do
  d="$work/seeds-$t"
  rm -rf "$d" && mkdir -p "$d"
  cp tests/fuzz/seeds/"$t"/* "$d"/
done
# $CONTROL requests: every request of the command corpus.
d="$work/seeds-control"
rm -rf "$d" && mkdir -p "$d"
python3 - "$d" tests/control-corpus/*.json <<'PY'
import binascii, json, os, sys
for path in sys.argv[2:]:
    f = json.load(open(path, encoding="utf-8"))
    if "request" in f:
        data = json.dumps(f["request"], separators=(",", ":")).encode()
    elif "request_text" in f:
        data = f["request_text"].encode()
    else:
        data = binascii.unhexlify(f["request_hex"])
    name = os.path.basename(path)[:-len(".json")]
    open(os.path.join(sys.argv[1], name), "wb").write(data)
PY
# The control target's database, removed whatever happens to the target.
tmp="$work/tmp-control"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# PromQL: the queries of the unit tests, one a file (test_promql.c's tables).
d="$work/seeds-promql"
rm -rf "$d" && mkdir -p "$d"
grep -oE '^ *\{"([^"\\]|\\.)*"' tests/unit/test_promql.c | sed -E 's/^ *\{"//; s/"$//; s/\\"/"/g' |
  awk -v d="$d" '{ f = sprintf("%s/q%04d", d, NR); printf "%s", $0 > f; close(f) }'

status=0
for t in json msgpack senml ttn_v3 sensor_community jsonschema json_oracle pattern \
         codec aggblock topic catalog control promql; do
  corpus="$work/corpus-$t"
  mkdir -p "$corpus"
  echo "-- fuzz_$t: ${secs}s"
  asan=detect_leaks=1:abort_on_error=1
  limits=(-rss_limit_mb=2048)
  if [ "$t" = jsonschema ] || [ "$t" = pattern ]; then
    # Compiling a schema has a bounded cost (jsonschema.c: pattern limits,
    # 32 MiB of patterns per schema): a schema that makes any allocation
    # of 64 MiB, or the process reach 512 MiB, is a failure. ASan's
    # quarantine is cut to 32 MiB so that the limit measures the schema
    # (the fuzzer runs at about 170 MiB so).
    asan=$asan:quarantine_size_mb=32
    limits=(-rss_limit_mb=512 -malloc_limit_mb=64)
  fi
  if [ -f "tests/fuzz/$t.dict" ]; then limits+=(-dict="tests/fuzz/$t.dict"); fi
  # New inputs go to the first directory; the seeds are only read.
  if ! TMPDIR="$tmp" ASAN_OPTIONS=$asan UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$bin/fuzz_$t" -max_total_time="$secs" -timeout=10 "${limits[@]}" -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$work/crash-$t-" \
      "$corpus" "$work/seeds-$t" > "$work/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED; log: $work/fuzz_$t.log"
    tail -n 60 "$work/fuzz_$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov: " "$work/fuzz_$t.log" | tail -n 3 | sed 's/^/   /'
  fi
done
exit $status
