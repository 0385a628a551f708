#!/usr/bin/env bash
# mosquitto-tsdb: install what is missing, build, and start Mosquitto with the
# plugin on 127.0.0.1:1883 (TSDB_PORT and TSDB_BIND change that), data in ./data,
# schemas from ./schemas. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

scripts/deps.sh run
scripts/build.sh build

port=${TSDB_PORT:-1883}
bind=${TSDB_BIND:-127.0.0.1}
conf=config/mosquitto-tsdb.conf
mkdir -p data
run_conf=build/run.conf
sed -e "s/^listener 1883 127.0.0.1$/listener ${port} ${bind}/" "$conf" > "$run_conf"
if [ "$(id -u)" -eq 0 ]; then
  # Debian's broker drops to the 'mosquitto' user before it loads plugins:
  # the data directory must be writable by it, and the plugin and schemas
  # readable. Where the checkout is not reachable for that user, keep root.
  chown -R mosquitto: data 2>/dev/null || true
  if ! runuser -u mosquitto -- test -r build/plugin/mosquitto_tsdb.so -a -r schemas -a -w data 2>/dev/null; then
    echo "run.sh: the 'mosquitto' user cannot reach $root; running the broker as root" >&2
    echo "user root" >> "$run_conf"
  fi
fi
if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
  echo "run.sh: 127.0.0.1:${port} is already in use (is Debian's mosquitto service running?" >&2
  echo "        'systemctl stop mosquitto'), or choose another port: TSDB_PORT=1884 ./run.sh" >&2
  exit 1
fi

cat <<MSG
mosquitto-tsdb: starting on ${bind}:${port} (config: $run_conf, data: $root/data)

Try it from another terminal:
  # watch the 1-minute aggregates (published after each minute closes)
  mosquitto_sub -p ${port} -v -t '\$tsdb/agg/#'
  # publish a valid reading
  mosquitto_pub -p ${port} -t city/mitte/s17/air -m "{\"ts\":\"\$(date -u +%FT%TZ)\",\"pm10\":17.2,\"pm25\":9.1,\"temperature\":4.5}"
  # publish an invalid one: refused with reason 0x87 (MQTT v5, QoS 1)
  mosquitto_pub -p ${port} -V 5 -q 1 -t city/mitte/s17/air -m '{"ts":"2026-11-26T09:15:00Z","pm10":-3}'
  # query what was stored (answers arrive on \$tsdb/reply/<client id>/<topic>)
  mosquitto_rr -p ${port} -i me -t '\$CONTROL/tsdb/v1' -e '\$tsdb/reply/me/city/mitte/s17/air' \\
    -m '{"commands":[{"command":"query","topic":"city/mitte/s17/air","field":"pm10","from":"-1h"}]}'

MSG
# glibc raises its mmap threshold after large blocks are freed (RocksDB's write
# batches and memtables); later large blocks then land inside the heap, where
# their freed pages stay resident. A fixed threshold keeps the broker's memory
# close to what it uses (README: Memory).
export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.mmap_threshold=131072"
exec mosquitto -c "$run_conf"
