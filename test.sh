#!/usr/bin/env bash
# mosquitto-tsdb: install what is missing, build with warnings as errors, and
# run every test: the formatting and clang-tidy checks, unit tests, engine
# tests, integration tests against a real broker (all under CTest), then the
# unit tests again under ASan/UBSan, the threaded engine tests under TSan, and
# a short libFuzzer run of every untrusted input: payload decoders, the
# validator and its patterns, stored blocks and descriptors, topic templates,
# $CONTROL requests
# (TSDB_FUZZ_SECONDS per target, default 10).
set -euo pipefail
cd "$(dirname "$0")"

scripts/deps.sh test
jobs=$(nproc)

echo "== style: clang-format (.clang-format)"
scripts/check-format.sh
echo "== build (warnings are errors)"
scripts/build.sh build-test -DTSDB_WERROR=ON
echo "== tests"
ctest --test-dir build-test --output-on-failure -j"$jobs" --timeout 600

echo "== clang-tidy (.clang-tidy)"
scripts/check-tidy.sh build-tidy
echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
scripts/build.sh build-asan -DTSDB_WERROR=ON -DTSDB_SANITIZE=ON -DTSDB_BUILD_PLUGIN=OFF -DTSDB_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit --timeout 900
echo "== engine tests under ThreadSanitizer (queues, writer, control threads)"
scripts/build.sh build-tsan -DTSDB_WERROR=ON -DTSDB_TSAN=ON -DTSDB_BUILD_PLUGIN=OFF -DTSDB_BUILD_BENCH=OFF
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build-tsan --output-on-failure -j"$jobs" -R '^test_(engine_|control_corpus\.)' \
  --timeout 900
echo "== libFuzzer: every untrusted input, a bounded run each"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSDB_FUZZ=ON \
  -DTSDB_BUILD_PLUGIN=OFF -DTSDB_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target tsdb_fuzzers
tests/fuzz/run.sh build-fuzz "${TSDB_FUZZ_SECONDS:-10}"
echo "== all tests passed"
