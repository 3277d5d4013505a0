#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and end-to-end);
# then the same suite under AddressSanitizer + UBSan and the fuzz targets
# (scripts/sanitize.sh; SANITIZE=0 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
(cd build && ctest -j2 --output-on-failure --timeout 300 "$@")
if [ "${SANITIZE:-1}" != 0 ]; then
  scripts/sanitize.sh "$@"
fi
