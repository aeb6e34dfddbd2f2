#!/usr/bin/env bash
# Second README command: install what is missing, build, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/env.sh
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 "$@"
