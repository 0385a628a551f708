#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) on every C file of the libraries, the plugin
# and the tools, with the compile commands of BUILD_DIR (configured here with
# CMAKE_EXPORT_COMPILE_COMMANDS). Fails on any finding.
#   scripts/check-tidy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-tidy}
cmake -S . -B "$dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DTSDB_BUILD_BENCH=OFF \
  -DTSDB_BUILD_TESTS=OFF >/dev/null
# Generated headers, if any, must exist before clang-tidy reads the sources.
cmake --build "$dir" -j"$(nproc)" >/dev/null
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! git ls-files --cached --others --exclude-standard 'engine/*.c' 'serve/*.c' 'ingest/*.c' 'plugin/*.c' 'tools/*.c' |
    xargs -P"$(nproc)" -n4 clang-tidy -p "$dir" --quiet >"$log" 2>/dev/null; then
  grep -E "(warning|error):" "$log" | sort -u
  echo "check-tidy: findings above (.clang-tidy says what is checked)"
  exit 1
fi
echo "check-tidy: clean"
