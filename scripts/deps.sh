#!/usr/bin/env bash
# Installs the Debian 12 packages mosquitto-tsdb needs, only those missing.
# Idempotent: with everything present it changes nothing and needs no network.
#
#   scripts/deps.sh run     build + run the broker with the plugin
#   scripts/deps.sh test    also what the tests need
#   scripts/deps.sh bench   also what the benchmarks need
set -euo pipefail

RUN_PKGS=(
  build-essential cmake pkg-config
  mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients
  libpaho-mqtt-dev librocksdb-dev libmsgpack-dev libcjson-dev libdouble-conversion-dev
  libssl-dev libpcre2-dev
)
TEST_PKGS=(python3 python3-paho-mqtt python3-pytest clang libclang-rt-14-dev libjansson-dev
           clang-format clang-tidy libpcre2-dev)
BENCH_PKGS=(influxdb victoria-metrics gnuplot-nox)

want=("${RUN_PKGS[@]}")
case "${1:-run}" in
  run) ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "deps: missing packages and no root: run 'apt-get install ${missing[*]}' as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Install first from the lists we have; refresh them only if that fails.
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  "${SUDO[@]}" apt-get update -q >/dev/null
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
