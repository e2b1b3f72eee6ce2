#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang into build-fuzz/ and runs
# each for a bounded time on its committed seed corpus.
#
#   scripts/fuzz.sh [seconds] [target...]   every target (or those named), N s each (default 60)
#   scripts/fuzz.sh --ci [seconds]          the CI stage: every target (default 15 s each)
#
# New inputs go to build-fuzz/corpus/<target>/ (the committed seeds are copied there
# first and never written); a crash, a sanitizer report, a leak, a timeout or a
# broken invariant leaves its input in build-fuzz/artifacts/<target>/ and fails the
# script once every target has run. Fix the bug, then commit the input to
# tests/fuzz/corpus/<target>/: the corpus replay test runs it in every build.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(http1 h2_server istio_yaml xds kube_json cni_json hbone_connect jwt telemetry_http cert_san hbone_server
  zds_request zds_ack)
# The CI stage runs every target (issue 14: each a bounded time in CI); their
# corpora are also replayed by the normal builds' fuzz_corpus_test.
CI_TARGETS=("${ALL_TARGETS[@]}")

ci=0
if [ "${1:-}" = "--ci" ]; then
  ci=1
  shift
fi
seconds=${1:-$([ $ci -eq 1 ] && echo 15 || echo 60)}
shift || true
if [ $# -gt 0 ]; then
  targets=("$@")
elif [ $ci -eq 1 ]; then
  targets=("${CI_TARGETS[@]}")
else
  targets=("${ALL_TARGETS[@]}")
fi
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz.sh: unknown target $t (known: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

bash scripts/install-deps.sh
dir=build-fuzz
if [ ! -f "$dir/CMakeCache.txt" ]; then
  # Ninja when installed, as scripts/build.sh: it keeps both cores busy across
  # the targets' libraries, where make walks them one target at a time.
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DWARREN_FUZZ=ON >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build "$dir" -j"$(nproc)" --target "${build_targets[@]}" 2>&1 |
  grep -Ev '^\[ *[0-9]+%\]|^\[[0-9]+/[0-9]+\] |^(Consolidate|Scanning|Built target)' || true
# The grep above only trims progress noise; the build's own status decides.
cmake --build "$dir" -j"$(nproc)" --target "${build_targets[@]}" >/dev/null

failed=()
for t in "${targets[@]}"; do
  work="$dir/corpus/$t"
  artifacts="$dir/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  echo "== fuzz_$t: ${seconds}s =="
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a runaway allocation.
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$dir/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$work" >"$dir/fuzz_$t.log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$dir/fuzz_$t.log" | tr '\n' ' '
    echo
  else
    tail -n 60 "$dir/fuzz_$t.log"
    echo "fuzz_$t FAILED: input in $artifacts/ (log: $dir/fuzz_$t.log)" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${failed[*]} found a bug; fix it and commit the input to tests/fuzz/corpus/<target>/" >&2
  exit 1
fi
echo "fuzz.sh: ${targets[*]}: no finding in ${seconds}s each"
