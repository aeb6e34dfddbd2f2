#!/usr/bin/env bash
# Second README command: install what is missing, build, run the whole test suite,
# then the sanitizer build (scripts/sanitize.sh) and a short fuzzing run
# (scripts/fuzz.sh, FUZZ_SECONDS per harness, default 20).  DTRAIN_SKIP_SANITIZE=1
# or DTRAIN_SKIP_FUZZ=1 skips those for a quick local run; CI runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/env.sh
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} scripts/build.sh
# two tests at a time (the timing-sensitive ones alone: tests/CMakeLists.txt);
# DTRAIN_TEST_JOBS=1 runs them one by one
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 900 -j "${DTRAIN_TEST_JOBS:-2}" "$@")
# the Release build scripts/demo.sh makes: GCC warns at -O3 where it does not at
# -O2, and warnings are errors
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DDTRAIN_TESTS=OFF >/dev/null
cmake --build build-release -j "$(nproc)" --target dtrain
if [[ ${DTRAIN_SKIP_SANITIZE:-0} != 1 ]]; then
  scripts/sanitize.sh
else
  echo "test: sanitizer run skipped (DTRAIN_SKIP_SANITIZE=1)"
fi
if [[ ${DTRAIN_SKIP_FUZZ:-0} != 1 ]]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
else
  echo "test: fuzzing skipped (DTRAIN_SKIP_FUZZ=1)"
fi
