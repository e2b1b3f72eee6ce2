#!/usr/bin/env bash
# Quick-start command 2: checks the format (scripts/lint.sh --check), builds Warren
# and runs the whole test suite as root:
# unit, BPF (BPF_PROG_TEST_RUN) and namespaced end-to-end tests, first in an
# ASan+UBSan build, then the CI fuzz targets (scripts/fuzz.sh --ci), then the unit
# tests that start threads under ThreadSanitizer (build-tsan/, WARREN_TSAN), then clang-tidy over the decision libraries
# (scripts/lint.sh --tidy) and the release suite (all but the unit tests), whose build runs behind the
# ASan suite, the fuzz and the TSan stages at the lowest CPU priority. Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: run as root: the BPF and namespace tests need it and must not be skipped" >&2
  exit 1
fi
bash scripts/install-deps.sh
bash scripts/mount-bpffs.sh

# Formatting first: seconds, and a failure here needs no build to explain.
echo "== format: scripts/lint.sh --check =="
bash scripts/lint.sh --check

echo "== ASan+UBSan build: whole suite =="
# -O0 -g1: with UBSan's instrumentation, -O1 took 2.5 times as long to compile on
# this 2-core machine (15 of CI's 28 minutes) for a suite only 10% faster; stack
# traces keep their file:line. No benchmarks there: they are not tests, and the
# release tree builds them.
bash scripts/build.sh build-asan -DWARREN_SANITIZE=ON -DWARREN_BENCH=OFF \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG"

# The release tree builds meanwhile, at the lowest CPU priority: the ASan suite
# leaves CPU idle while its nodes wait on the network and on timers, and the fuzz
# runs below use one core; the build takes only what they leave. A process group
# of its own (set -m), so that it is stopped with this script however that ends.
release_log=$(mktemp)
set -m
# Without the unit tests: the ASan+UBSan suite above runs every one of them (the
# release suite is e2e, attacks, BPF, deploy, interop and the fuzz corpora).
nice -n 19 bash scripts/build.sh build -DWARREN_UNIT_TESTS=OFF >"$release_log" 2>&1 &
release_build=$!
set +m
trap 'kill -- -"$release_build" 2>/dev/null || true; rm -f "$release_log"' EXIT

ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j2

# libFuzzer (clang) on the cheap targets, a bounded time each; a crash or a broken
# invariant fails CI. Before the release suite, so ctest's summary stays last.
echo "== fuzz: scripts/fuzz.sh --ci =="
bash scripts/fuzz.sh --ci 15

# The unit tests that start threads, under ThreadSanitizer: the tunnel, the
# waypoint and the agent run several threads each (event loops, xDS and CA
# clients, watchers, admin servers, the audit writer). Only the executables
# declared STARTS_THREADS (target warren_tsan_tests): TSan reports races between
# threads, so the single-threaded ones have nothing to show it, and the thread
# census fails any executable that starts a thread undeclared, in the ASan tree
# above (tests/support/thread_census.cc). The e2e suites run whole nodes as
# processes, which the ASan and release trees cover. -O1: TSan's recommendation,
# and compiles barely slower than -O0 while the tests run about twice as fast.
# A race fails CI; tests/tsan.supp holds suppressions for third-party internals
# only. Cost, measured from a cold cache on the shared 2-core VM: about 490 CPU s
# to build (7-9 min beside another build), 75 s to run.
echo "== ThreadSanitizer build: unit tests that start threads =="
WARREN_BUILD_TARGET=warren_tsan_tests bash scripts/build.sh build-tsan -DWARREN_TSAN=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
# The suppressions are read by every instrumented process, including warrenctl run
# as uid 65534 (tests/unit/warrenctl/root): from a checkout under a 0700 home that
# uid cannot reach tests/tsan.supp, so it reads a world-readable copy.
tsan_supp=$(mktemp /tmp/warren-tsan-supp.XXXXXX)
trap 'kill -- -"$release_build" 2>/dev/null || true; rm -f "$release_log" "$tsan_supp"' EXIT
cp tests/tsan.supp "$tsan_supp"
chmod 0644 "$tsan_supp"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$tsan_supp" \
  ctest --test-dir build-tsan --output-on-failure -j2
rm -f "$tsan_supp"

echo "== release build: whole suite =="
# What is left of the release build now has the machine to itself.
renice -n 0 -g "$release_build" >/dev/null 2>&1 || true
if ! wait "$release_build"; then
  cat "$release_log"
  echo "scripts/test.sh: the release build failed" >&2
  exit 1
fi
cat "$release_log"
rm -f "$release_log"
trap - EXIT
# clang-tidy (.clang-tidy) over the pure-decision libraries only, with the release
# tree's compile_commands.json: about 100 s of CPU for their 15 files, where every
# TU would cost too much of CI's 45 minutes.
bash scripts/lint.sh --tidy build
exec ctest --test-dir build --output-on-failure -j2
