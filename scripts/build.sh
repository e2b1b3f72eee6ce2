#!/usr/bin/env bash
# Configures and builds Warren into build/ (or the dir in $1, with extra cmake args).
# Used by the two Quick-start commands; safe to run repeatedly. WARREN_BUILD_TARGET
# builds one target instead of all (the TSan tree: warren_tsan_tests).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
bash scripts/install-deps.sh
if [ ! -f "$dir/CMakeCache.txt" ]; then
  # Ninja (Debian's ninja-build, installed above) when present: it schedules both
  # cores across all targets at once, where make walks them target by target.
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
target=(--target "${WARREN_BUILD_TARGET:-all}")
cmake --build "$dir" -j"$(nproc)" "${target[@]}" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^\[[0-9]+/[0-9]+\] |^(Consolidate|Scanning|Built target)' || true
# The grep above only trims progress noise; the build's own status decides.
cmake --build "$dir" -j"$(nproc)" "${target[@]}" >/dev/null
